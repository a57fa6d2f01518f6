package model

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// tmpPrefix starts the names of files a Builder is still writing.
const tmpPrefix = ".ferry-tmp-"

// Builder writes a model package into a directory: files first, streamed and
// hashed as they are written, then MLmodel and ferry.json on Finish. Every file
// is written to a temporary name and renamed into place, so a reader never sees
// a half-written file. The same files, manifest and info give byte-identical
// MLmodel and ferry.json files.
//
// A Builder is not safe for concurrent use. End it with Finish or Abort; both
// release the directory handle it holds.
type Builder struct {
	dir     string
	root    *os.Root
	created bool
	files   map[string]string // slash path → digest
	example *InputExampleInfo
	done    bool
}

// NewBuilder starts a package in dir, which must not exist or be empty; it is
// created with its parents. Errors wrap ECONFLICT when dir holds files or is
// not a directory.
func NewBuilder(ctx context.Context, dir string) (*Builder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, invalidf("no package directory given")
	}
	created := false
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("model: create package directory: %w", err)
		}
		created = true
	case err != nil:
		return nil, fmt.Errorf("model: stat package directory: %w", err)
	case !fi.IsDir():
		return nil, errorf(ferry.ECONFLICT, "%q is not a directory", clip(dir))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("model: open package directory: %w", err)
	}
	if !created {
		d, err := root.Open(".")
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("model: open package directory: %w", err)
		}
		names, err := d.Readdirnames(1)
		d.Close()
		if err != nil && err != io.EOF {
			root.Close()
			return nil, fmt.Errorf("model: list package directory: %w", err)
		}
		if len(names) > 0 {
			root.Close()
			return nil, errorf(ferry.ECONFLICT, "package directory %q is not empty", clip(dir))
		}
	}
	return &Builder{dir: dir, root: root, created: created, files: map[string]string{}}, nil
}

// AddFile streams r into the package as name, a slash-separated path relative
// to the package (subdirectories are created). Errors wrap EINVALID for an
// unsafe or reserved name (MLmodel, ferry.json) and ECONFLICT for a name added
// before; a read error of r or ctx's error is returned wrapped, and nothing is
// left behind.
func (b *Builder) AddFile(ctx context.Context, name string, r io.Reader) error {
	return b.WriteFile(ctx, name, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// WriteFile is AddFile for producers that write rather than read: write is
// called once with a writer into the new file, and its error aborts the file.
func (b *Builder) WriteFile(ctx context.Context, name string, write func(w io.Writer) error) error {
	if b.done {
		return errorf(ferry.ECONFLICT, "the package is already finished")
	}
	rel, err := b.checkName(name)
	if err != nil {
		return err
	}
	digest, err := b.writeAtomic(ctx, rel, write)
	if err != nil {
		return err
	}
	b.files[rel] = digest
	return nil
}

// SetInputExample adds the model's input example, read from r, and records it
// in the manifest's saved_input_example_info on Finish. Empty fields of info
// default to MLflow's: artifact_path input_example.json, type dataframe,
// pandas_orient split (for dataframes). A serving_input_path file, if named,
// must be added with AddFile. It may be called once.
func (b *Builder) SetInputExample(ctx context.Context, r io.Reader, info InputExampleInfo) error {
	if b.example != nil {
		return errorf(ferry.ECONFLICT, "the package already has an input example")
	}
	if info.ArtifactPath == "" {
		info.ArtifactPath = "input_example.json"
	}
	if info.Type == "" {
		info.Type = "dataframe"
	}
	if info.Type == "dataframe" && info.PandasOrient == "" {
		info.PandasOrient = "split"
	}
	if err := b.AddFile(ctx, info.ArtifactPath, r); err != nil {
		return err
	}
	info.ArtifactPath = path.Clean(info.ArtifactPath)
	b.example = &info
	return nil
}

// Finish completes the package: it writes MLmodel from m and ferry.json from
// info, and returns the package as Load would. It does not change m or info.
//
// On the way it sets info's FormatVersion and Files (the digests of every file
// written, MLmodel included), the ferry flavor's format_version and the
// metadata's ferry_format_version, the input example, and — when m.ModelUUID is
// empty — a model_uuid derived from the files' digests, so that the same files
// give the same id. m.UTCTimeCreated must be set: time is the caller's to fix.
//
// Errors wrap EINVALID for an invalid manifest or info (see Manifest.Validate),
// for a flavor whose data file was not added, and ECONFLICT for files put in
// the directory behind the Builder's back. After an error nothing of MLmodel
// or ferry.json is left, and the Builder may Finish again or Abort.
func (b *Builder) Finish(ctx context.Context, m *Manifest, info FerryInfo) (*Package, error) {
	if b.done {
		return nil, errorf(ferry.ECONFLICT, "the package is already finished")
	}
	if m == nil {
		return nil, invalidf("a package needs a manifest")
	}
	mm, err := b.prepare(m)
	if err != nil {
		return nil, err
	}
	if err := info.validate(); err != nil {
		return nil, err
	}

	ml, err := mm.Marshal()
	if err != nil {
		return nil, err
	}
	mlDigest, err := b.writeAtomic(ctx, ManifestFile, bytesWriter(ml))
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Package, error) {
		_ = b.root.Remove(ManifestFile)
		return nil, err
	}
	if err := b.checkStray(ctx); err != nil {
		return fail(err)
	}
	info.FormatVersion = FormatVersion
	info.Files = make(map[string]string, len(b.files)+1)
	for p, d := range b.files {
		info.Files[p] = d
	}
	info.Files[ManifestFile] = mlDigest
	if len(info.Profile) == 0 {
		info.Profile = nil
	} else {
		info.Profile = compactJSON(info.Profile) // as Load returns it
	}
	infoBytes, err := info.marshal()
	if err != nil {
		return fail(err)
	}
	if _, err := b.writeAtomic(ctx, InfoFile, bytesWriter(infoBytes)); err != nil {
		return fail(err)
	}
	b.syncDir(".")
	b.done = true
	if err := b.root.Close(); err != nil {
		return nil, fmt.Errorf("model: close package directory: %w", err)
	}
	return &Package{Dir: b.dir, Manifest: mm, Info: &info, digest: digestBytes(infoBytes)}, nil
}

// prepare returns the manifest Finish writes: a copy of m completed and checked.
func (b *Builder) prepare(m *Manifest) (*Manifest, error) {
	mm := m.clone()
	mm.UTCTimeCreated = mm.UTCTimeCreated.UTC().Truncate(time.Microsecond) // as written
	if b.example != nil {
		e := *b.example
		mm.SavedInputExample = &e
	}
	if f, ok := mm.Flavors[FlavorFerry]; ok {
		r := fieldReader{name: FlavorFerry, f: f}
		switch v := r.integer("format_version"); {
		case r.err != nil:
			return nil, r.err
		case v == 0:
			f["format_version"] = int64(FormatVersion)
		case v != FormatVersion:
			return nil, invalidf("%s: flavors.ferry.format_version is %d; this Ferry writes %d", ManifestFile, v, FormatVersion)
		}
	}
	if mm.Metadata == nil {
		mm.Metadata = map[string]any{}
	}
	mm.Metadata[MetadataFormatVersionKey] = int64(FormatVersion)
	if err := mm.Validate(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(mm.Flavors))
	for name := range mm.Flavors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rel, err := flavorDataPath(name, mm.Flavors[name])
		if isNoData(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		if !b.has(rel) {
			return nil, invalidf("flavor %q names %q, which was not added to the package", clip(name), clip(rel))
		}
	}
	if e := mm.SavedInputExample; e != nil {
		for _, p := range []string{e.ArtifactPath, e.ServingInputPath} {
			if p != "" && !b.has(path.Clean(p)) {
				return nil, invalidf("saved_input_example_info names %q, which was not added to the package", clip(p))
			}
		}
	}
	if mm.ModelUUID == "" {
		mm.ModelUUID = b.contentID()
	}
	return mm, nil
}

// has reports whether rel is an added file or a directory holding one.
func (b *Builder) has(rel string) bool {
	if _, ok := b.files[rel]; ok {
		return true
	}
	for p := range b.files {
		if strings.HasPrefix(p, rel+"/") {
			return true
		}
	}
	return false
}

// contentID derives a model_uuid (32 hex digits, like MLflow's uuid4().hex)
// from the digests of the files added so far.
func (b *Builder) contentID() string {
	paths := make([]string, 0, len(b.files))
	for p := range b.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%s\n", p, b.files[p])
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// checkStray refuses files in the directory the Builder did not write.
func (b *Builder) checkStray(ctx context.Context) error {
	return fs.WalkDir(b.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("model: walk package: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || p == ManifestFile {
			return nil
		}
		if _, ok := b.files[p]; !ok {
			return errorf(ferry.ECONFLICT, "file %q appeared in the package directory while it was being written", clip(p))
		}
		return nil
	})
}

func (b *Builder) checkName(name string) (string, error) {
	rel, err := cleanRelPath(name)
	if err != nil {
		return "", invalidf("file name %q: %s", clip(name), err)
	}
	if rel == ManifestFile || rel == InfoFile {
		return "", invalidf("file name %q is reserved: the Builder writes it on Finish", rel)
	}
	if strings.HasPrefix(path.Base(rel), tmpPrefix) {
		return "", invalidf("file name %q is reserved for temporary files", clip(rel))
	}
	if _, dup := b.files[rel]; dup {
		return "", errorf(ferry.ECONFLICT, "file %q was already added", clip(rel))
	}
	for p := range b.files {
		if strings.HasPrefix(p, rel+"/") || strings.HasPrefix(rel, p+"/") {
			return "", errorf(ferry.ECONFLICT, "file %q clashes with %q (a file cannot also be a directory)", clip(rel), clip(p))
		}
	}
	return rel, nil
}

// writeAtomic writes a file through a temporary name beside it, syncs it and
// renames it into place, returning its digest. On error the temporary file is
// removed.
func (b *Builder) writeAtomic(ctx context.Context, rel string, write func(io.Writer) error) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	local := filepath.FromSlash(rel)
	dir := filepath.Dir(local)
	if dir != "." {
		if err := b.root.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("model: create directory for %s: %w", rel, err)
		}
	}
	tmp := filepath.Join(dir, tmpPrefix+rand.Text())
	f, err := b.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("model: create %s: %w", rel, err)
	}
	h := sha256.New()
	werr := write(ctxWriter{ctx: ctx, w: io.MultiWriter(f, h)})
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = b.root.Rename(tmp, local)
	}
	if werr != nil {
		_ = b.root.Remove(tmp)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("model: write %s: %w", rel, werr)
	}
	if dir != "." {
		b.syncDir(dir)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir makes renames in a directory durable, where the system allows it.
func (b *Builder) syncDir(dir string) {
	d, err := b.root.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync() // best effort: not every file system syncs directories
	_ = d.Close()
}

// Abort removes what the Builder wrote (and the directory, if it created it)
// and releases the directory. Calling it after Finish does nothing.
func (b *Builder) Abort() error {
	if b.done {
		return nil
	}
	b.done = true
	b.root.Close()
	if b.created {
		if err := os.RemoveAll(b.dir); err != nil {
			return fmt.Errorf("model: remove package directory: %w", err)
		}
		return nil
	}
	entries, err := os.ReadDir(b.dir) // empty when the Builder started
	if err != nil {
		return fmt.Errorf("model: list package directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(b.dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model: clean package directory: %w", err)
	}
	return nil
}

// Save writes a package in one call: the files (added in name order), then
// MLmodel and ferry.json, as Builder does. On error it removes what it wrote.
func Save(ctx context.Context, dir string, m *Manifest, info FerryInfo, files map[string]io.Reader) (*Package, error) {
	b, err := NewBuilder(ctx, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := b.AddFile(ctx, n, files[n]); err != nil {
			_ = b.Abort()
			return nil, err
		}
	}
	p, err := b.Finish(ctx, m, info)
	if err != nil {
		_ = b.Abort()
		return nil, err
	}
	return p, nil
}

func bytesWriter(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}
