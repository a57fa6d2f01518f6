package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// BundleManifest is bundle.json, the first entry of every bundle.
type BundleManifest struct {
	// FormatVersion is the bundle format, FormatVersion when written.
	FormatVersion int  `json:"format_version"`
	Meta          Meta `json:"meta"`
	// Files lists every file under model/, sorted by path, model/ferry.json
	// and model/MLmodel included.
	Files []BundleFile `json:"files"`
}

// BundleFile is one file of a bundle.
type BundleFile struct {
	// Path is the entry's name in the archive, e.g. "model/model.json".
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is "sha256:<hex>" of the file's bytes, as in ferry.json.
	SHA256 string `json:"sha256"`
}

// WriteBundle writes pkg as a bundle to w: a tar archive, gzip-compressed
// unless opts.Compression is CompressionNone, holding bundle.json (the
// BundleManifest) followed by model/ and every file of the package in byte
// order of their names. It returns the digest of the bytes written,
// "sha256:<hex>". The same package, meta and options give byte-identical
// output (see the package documentation for how).
//
// meta is completed and checked as described on Meta; pkg must be verified
// (have a ferry.json). Every file is streamed and checked against its digest
// while it is copied, so a package changed since it was loaded is refused.
//
// Errors wrap EINVALID for bad meta or options, an unverified or changed
// package; ctx's error when it ends; write errors of w as they are. On error w
// holds a partial archive that the caller must discard; WriteBundleFile does
// that for files.
func WriteBundle(ctx context.Context, w io.Writer, pkg *model.Package, meta Meta, opts Options) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	meta, err := normalize(pkg, meta)
	if err != nil {
		return "", err
	}
	if opts, err = opts.resolve(); err != nil {
		return "", err
	}
	root, files, err := openPackage(pkg)
	if err != nil {
		return "", err
	}
	defer root.Close()

	man := BundleManifest{FormatVersion: FormatVersion, Meta: meta, Files: make([]BundleFile, 0, len(files))}
	for _, f := range files {
		man.Files = append(man.Files, BundleFile{Path: ModelDir + "/" + f.rel, Size: f.size, SHA256: f.digest})
	}
	data, err := marshalJSON(man)
	if err != nil {
		return "", err
	}

	progress := &progressCounter{fn: opts.Progress, total: totalSize(files)}
	progress.add(0)
	h := sha256.New()
	aw, err := newArchiveWriter(io.MultiWriter(w, h), opts, meta.Created, false, progress)
	if err != nil {
		return "", err
	}
	if err := aw.bytes(ManifestName, data, fileMode); err != nil {
		return "", err
	}
	if err := writeModelTree(ctx, aw, root, files, ModelDir); err != nil {
		return "", err
	}
	if err := aw.close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// WriteBundleFile is WriteBundle into the file at path, which must not exist.
// The bundle is written to a temporary file beside path, synced and renamed
// into place, so that path never holds a partial bundle. Errors wrap
// ECONFLICT when path exists.
func WriteBundleFile(ctx context.Context, path string, pkg *model.Package, meta Meta, opts Options) (string, error) {
	if path == "" {
		return "", invalidf("no bundle path given")
	}
	if _, err := os.Lstat(path); err == nil {
		return "", errorf(ferry.ECONFLICT, "%q already exists", clip(path))
	}
	var digest string
	err := writeAtomic(path, func(w io.Writer) error {
		var err error
		digest, err = WriteBundle(ctx, w, pkg, meta, opts)
		return err
	})
	return digest, err
}

// writeAtomic writes a file through a temporary file beside path.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".ferry-tmp-*")
	if err != nil {
		return fmt.Errorf("packaging: create %s: %w", path, err)
	}
	err = write(f)
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// marshalJSON encodes v deterministically: two-space indentation, fields in
// declaration order, map keys sorted, no HTML escaping, a final newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("packaging: encode %s: %w", ManifestName, err)
	}
	return buf.Bytes(), nil
}

// ReadBundle reads only bundle.json, the first entry of the bundle in r, and
// returns it after checking that it is well formed. It does not verify the
// files: use VerifyBundle before trusting anything the manifest says about
// them. Errors wrap EINVALID for anything that is not a bundle.
func ReadBundle(ctx context.Context, r io.Reader) (*BundleManifest, error) {
	return readBundle(ctx, r, nil, true)
}

// VerifyBundle streams the bundle in r and checks it whole: bundle.json is
// well formed and first; every entry has a safe, canonical name under model/
// and is a regular file or directory; no entry appears twice; every file
// bundle.json lists is there with its size and sha256, and nothing else is;
// the package's ferry.json lists the same files with the same digests and is
// the file meta.model_digest names; the archive is complete, its gzip checksum
// is right and nothing follows it. It returns the manifest.
//
// Integrity failures are *IntegrityError values naming the entry
// (`packaging: bundle file "model/model.json" does not match its digest`);
// other errors wrap EINVALID (malformed manifest), ETOOLARGE (oversized
// metadata) or are ctx's or r's errors.
func VerifyBundle(ctx context.Context, r io.Reader) (*BundleManifest, error) {
	return readBundle(ctx, r, nil, false)
}

// ExtractBundle verifies the bundle in r as VerifyBundle does and writes its
// model package into dir, which must not exist or be empty (ECONFLICT
// otherwise). Files are written to a temporary directory beside dir and moved
// into place only once the whole bundle is verified, so dir never holds an
// unverified package; on error nothing is left behind. model.Load(dir)
// succeeds afterwards.
func ExtractBundle(ctx context.Context, r io.Reader, dir string) (*BundleManifest, error) {
	if dir == "" {
		return nil, invalidf("no directory to extract into given")
	}
	dir = filepath.Clean(dir) // "model/" names the directory model
	existed, err := checkEmptyDest(dir)
	if err != nil {
		return nil, err
	}
	undoParent, err := makeParent(dir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".ferry-extract-*")
	if err != nil {
		undoParent()
		return nil, fmt.Errorf("packaging: create temporary directory: %w", err)
	}
	fail := func(err error) (*BundleManifest, error) {
		_ = os.RemoveAll(tmp)
		undoParent()
		return nil, err
	}
	if err := os.Chmod(tmp, dirMode); err != nil {
		return fail(fmt.Errorf("packaging: chmod %s: %w", tmp, err))
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fail(fmt.Errorf("packaging: open %s: %w", tmp, err))
	}
	man, err := readBundle(ctx, r, rootSink{root}, false)
	root.Close()
	if err != nil {
		return fail(err)
	}
	if existed {
		if err := os.Remove(dir); err != nil {
			return fail(errorf(ferry.ECONFLICT, "%q is no longer empty", clip(dir)))
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(fmt.Errorf("packaging: move package into %s: %w", dir, err))
	}
	return man, nil
}

// checkEmptyDest reports whether dir exists; it fails with ECONFLICT when dir
// is a non-empty directory or not a directory.
func checkEmptyDest(dir string) (bool, error) {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("packaging: stat %s: %w", dir, err)
	case !fi.IsDir():
		return false, errorf(ferry.ECONFLICT, "%q exists and is not a directory", clip(dir))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("packaging: list %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return false, errorf(ferry.ECONFLICT, "directory %q is not empty", clip(dir))
	}
	return true, nil
}

// makeParent creates the directory that is to hold path (and its missing
// ancestors). The function it returns removes the directories it created,
// deepest first, as long as they are empty: call it when the write fails, so
// that a failure leaves no empty directories behind.
func makeParent(path string) (undo func(), err error) {
	parent := filepath.Dir(path)
	var created []string
	for d := parent; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	undo = func() {
		for _, d := range created {
			_ = os.Remove(d) // fails, as it should, on a directory that is not empty
		}
	}
	if err := os.MkdirAll(parent, dirMode); err != nil {
		undo()
		return nil, fmt.Errorf("packaging: create %s: %w", parent, err)
	}
	return undo, nil
}

// sink receives a bundle's model package as it is read. Paths are
// slash-separated and relative to model/.
type sink interface {
	mkdir(rel string) error
	create(rel string) (io.WriteCloser, error)
}

// rootSink writes into a directory through an os.Root, which refuses paths
// leaving it even if the checks before were wrong.
type rootSink struct{ root *os.Root }

func (s rootSink) mkdir(rel string) error {
	if rel == "" {
		return nil
	}
	return s.root.MkdirAll(filepath.FromSlash(rel), dirMode)
}

func (s rootSink) create(rel string) (io.WriteCloser, error) {
	if d := path.Dir(rel); d != "." {
		if err := s.mkdir(d); err != nil {
			return nil, err
		}
	}
	f, err := s.root.OpenFile(filepath.FromSlash(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	return syncCloser{f}, nil
}

type syncCloser struct{ f *os.File }

func (s syncCloser) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s syncCloser) Close() error {
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// gzipMagic starts every gzip stream.
const gzipMagic = "\x1f\x8b"

// readBundle reads the bundle in r: bundle.json, then (unless manifestOnly)
// every entry, verified, with files passed to s when it is not nil.
func readBundle(ctx context.Context, r io.Reader, s sink, manifestOnly bool) (*BundleManifest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var src io.Reader = br
	var gz *gzip.Reader
	if magic, _ := br.Peek(2); string(magic) == gzipMagic {
		var err error
		if gz, err = gzip.NewReader(br); err != nil {
			return nil, &IntegrityError{Problem: Truncated, Detail: err.Error()}
		}
		src = gz
	}
	tr := tar.NewReader(src)
	hdr, err := tr.Next()
	switch {
	case err == io.EOF:
		return nil, invalidf("not a Ferry bundle: the archive is empty")
	case err != nil && !errors.Is(err, tar.ErrInsecurePath):
		return nil, invalidf("not a Ferry bundle: %v", err)
	case hdr.Name != ManifestName:
		return nil, invalidf("not a Ferry bundle: the first entry is %q, not %s", clip(hdr.Name), ManifestName)
	case hdr.Typeflag != tar.TypeReg:
		return nil, &IntegrityError{File: ManifestName, Problem: NotRegular}
	case hdr.Size > MaxManifestSize:
		return nil, errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", ManifestName, MaxManifestSize)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, &IntegrityError{File: ManifestName, Problem: Truncated, Detail: err.Error()}
	}
	man, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	if manifestOnly {
		return man, nil
	}

	listed := make(map[string]BundleFile, len(man.Files))
	for _, f := range man.Files {
		listed[f.Path] = f
	}
	seen := map[string]bool{ManifestName: true}
	var info []byte
	buf := make([]byte, copyChunk)
	last := ManifestName
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if hdr != nil && errors.Is(err, tar.ErrInsecurePath) {
				return nil, &IntegrityError{File: hdr.Name, Problem: UnsafePath}
			}
			return nil, &IntegrityError{File: last, Problem: Truncated, Detail: err.Error()}
		}
		name, isDir, ierr := checkEntry(hdr)
		if ierr != nil {
			return nil, ierr
		}
		if seen[name] {
			return nil, &IntegrityError{File: name, Problem: Duplicate}
		}
		seen[name] = true
		last = name
		rel := strings.TrimPrefix(strings.TrimPrefix(name, ModelDir), "/")
		if isDir {
			if s != nil {
				if err := s.mkdir(rel); err != nil {
					return nil, fmt.Errorf("packaging: extract %s: %w", name, err)
				}
			}
			continue
		}
		want, ok := listed[name]
		if !ok {
			return nil, &IntegrityError{File: name, Problem: Unexpected}
		}
		if hdr.Size != want.Size {
			return nil, &IntegrityError{File: name, Problem: WrongSize}
		}
		got, content, err := readEntry(ctx, tr, s, rel, name == ModelDir+"/"+model.InfoFile, buf)
		if err != nil {
			return nil, err
		}
		if got != want.SHA256 {
			return nil, &IntegrityError{File: name, Problem: Tampered}
		}
		if content != nil {
			info = content
		}
	}
	// Read to the end: gzip checks its CRC and length there, and refuses data
	// after the stream; a plain tar may only be followed by zero padding.
	if gz != nil {
		if _, err := io.Copy(io.Discard, gz); err != nil {
			return nil, &IntegrityError{File: last, Problem: Truncated, Detail: err.Error()}
		}
	} else if err := onlyZeros(br); err != nil {
		return nil, err
	}
	var missing []string
	for _, f := range man.Files {
		if !seen[f.Path] {
			missing = append(missing, f.Path)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &IntegrityError{File: missing[0], Problem: Missing}
	}
	if err := crossCheck(man, listed, info); err != nil {
		return nil, err
	}
	return man, nil
}

// readEntry streams the current entry through sha256 (and into s when set),
// keeping its bytes when keep is set (ferry.json, which is at most
// model.MaxInfoSize: parseManifest checked).
func readEntry(ctx context.Context, tr *tar.Reader, s sink, rel string, keep bool, buf []byte) (string, []byte, error) {
	h := sha256.New()
	var dst io.Writer = h
	var w io.WriteCloser
	if s != nil {
		var err error
		if w, err = s.create(rel); err != nil {
			return "", nil, fmt.Errorf("packaging: extract %s/%s: %w", ModelDir, rel, err)
		}
		defer func() {
			if w != nil {
				w.Close()
			}
		}()
		dst = io.MultiWriter(h, w)
	}
	var kept *bytes.Buffer
	if keep {
		kept = &bytes.Buffer{}
		dst = io.MultiWriter(dst, kept)
	}
	for {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		n, err := tr.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return "", nil, fmt.Errorf("packaging: extract %s/%s: %w", ModelDir, rel, werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, &IntegrityError{File: ModelDir + "/" + rel, Problem: Truncated, Detail: err.Error()}
		}
	}
	if w != nil {
		err := w.Close()
		w = nil
		if err != nil {
			return "", nil, fmt.Errorf("packaging: extract %s/%s: %w", ModelDir, rel, err)
		}
	}
	var content []byte
	if kept != nil {
		content = kept.Bytes()
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), content, nil
}

// onlyZeros reads r to its end and fails unless every byte is zero (tar
// writers pad archives with zero blocks).
func onlyZeros(r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return invalidf("the bundle has data after the end of its archive")
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("packaging: read bundle: %w", err)
		}
	}
}

// checkEntry validates an archive entry's name and type and returns its
// canonical name (without a directory's trailing slash).
func checkEntry(hdr *tar.Header) (string, bool, error) {
	isDir := hdr.Typeflag == tar.TypeDir
	name := hdr.Name
	if isDir {
		name = strings.TrimSuffix(name, "/")
	}
	if !safeName(name) {
		return "", false, &IntegrityError{File: hdr.Name, Problem: UnsafePath}
	}
	if !isDir && hdr.Typeflag != tar.TypeReg {
		return "", false, &IntegrityError{File: name, Problem: NotRegular}
	}
	if name == ModelDir && isDir || strings.HasPrefix(name, ModelDir+"/") {
		return name, isDir, nil
	}
	return "", false, &IntegrityError{File: name, Problem: Unexpected}
}

// safeName reports whether name is a canonical relative slash path: not
// empty or absolute, no empty, "." or ".." elements, no backslashes or NULs.
func safeName(name string) bool {
	if name == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
		return false
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// parseManifest decodes and checks bundle.json.
func parseManifest(data []byte) (*BundleManifest, error) {
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, invalidf("%s is not valid JSON: %v", ManifestName, err)
	}
	switch {
	case probe.FormatVersion < 1:
		return nil, invalidf("%s has no format_version", ManifestName)
	case probe.FormatVersion > FormatVersion:
		return nil, invalidf("%s has format version %d; this Ferry reads up to %d: upgrade Ferry", ManifestName, probe.FormatVersion, FormatVersion)
	}
	var man BundleManifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, invalidf("%s is malformed: %v", ManifestName, err)
	}
	files := make(map[string]BundleFile, len(man.Files))
	for _, f := range man.Files {
		switch {
		case !safeName(f.Path) || !strings.HasPrefix(f.Path, ModelDir+"/"):
			return nil, invalidf("%s lists %q, which is not a safe path under %s/", ManifestName, clip(f.Path), ModelDir)
		case f.Size < 0:
			return nil, invalidf("%s lists %q with a negative size", ManifestName, clip(f.Path))
		case !isDigest(f.SHA256):
			return nil, invalidf("%s lists %q with digest %q, not sha256:<64 hex digits>", ManifestName, clip(f.Path), clip(f.SHA256))
		}
		if _, dup := files[f.Path]; dup {
			return nil, invalidf("%s lists %q twice", ManifestName, clip(f.Path))
		}
		files[f.Path] = f
	}
	for p := range files {
		for d := path.Dir(p); d != "." && d != ModelDir; d = path.Dir(d) {
			if _, clash := files[d]; clash {
				return nil, invalidf("%s lists %q both as a file and as a directory", ManifestName, clip(d))
			}
		}
	}
	infoName := ModelDir + "/" + model.InfoFile
	info, ok := files[infoName]
	if !ok {
		return nil, invalidf("%s does not list %s: not a Ferry model bundle", ManifestName, infoName)
	}
	if _, ok := files[ModelDir+"/"+model.ManifestFile]; !ok {
		return nil, invalidf("%s does not list %s/%s: not a model bundle", ManifestName, ModelDir, model.ManifestFile)
	}
	if info.Size > model.MaxInfoSize {
		return nil, errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", infoName, model.MaxInfoSize)
	}
	if man.Meta.ModelDigest != info.SHA256 {
		return nil, invalidf("%s names model digest %q but lists %s with %q", ManifestName, clip(man.Meta.ModelDigest), infoName, info.SHA256)
	}
	if man.Meta.Name == "" || man.Meta.Version < 1 {
		return nil, invalidf("%s has no model name or version", ManifestName)
	}
	return &man, nil
}

func isDigest(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// crossCheck compares the package's ferry.json (already verified against
// bundle.json and meta.model_digest) with bundle.json: the same files, the
// same digests.
func crossCheck(man *BundleManifest, listed map[string]BundleFile, info []byte) error {
	var fi model.FerryInfo
	if err := json.Unmarshal(info, &fi); err != nil {
		return invalidf("%s/%s is not valid JSON: %v", ModelDir, model.InfoFile, err)
	}
	paths := make([]string, 0, len(fi.Files))
	for p := range fi.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		name := ModelDir + "/" + p
		f, ok := listed[name]
		if !ok || f.SHA256 != fi.Files[p] {
			return &IntegrityError{File: name, Problem: Inconsistent}
		}
	}
	for _, f := range man.Files {
		rel := strings.TrimPrefix(f.Path, ModelDir+"/")
		if _, ok := fi.Files[rel]; !ok && rel != model.InfoFile {
			return &IntegrityError{File: f.Path, Problem: Inconsistent}
		}
	}
	return nil
}
