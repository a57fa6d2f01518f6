package packaging

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// copyChunk is the size of the buffer files are copied through, and so the
// granularity of progress reports and cancellation.
const copyChunk = 1 << 20

// File and directory modes in every archive this package writes.
const (
	fileMode = 0o644
	dirMode  = 0o755
	execMode = 0o755
)

// archiveWriter writes a deterministic tar stream, gzip-compressed or not, to
// an io.Writer. Entries are written in the order given; callers sort them.
type archiveWriter struct {
	tw       *tar.Writer
	gz       *gzip.Writer // nil for CompressionNone
	bw       *bufio.Writer
	raw      hash.Hash // sha256 of the uncompressed tar stream, if wanted
	mtime    time.Time
	buf      []byte
	progress *progressCounter
}

// newArchiveWriter starts an archive on out. With diffID set it also hashes
// the uncompressed tar stream (an OCI layer's DiffID). The modification time of
// every entry is mtime truncated to the second.
func newArchiveWriter(out io.Writer, opts Options, mtime time.Time, diffID bool, progress *progressCounter) (*archiveWriter, error) {
	a := &archiveWriter{
		bw:       bufio.NewWriterSize(out, 256<<10),
		mtime:    mtime.Truncate(time.Second),
		buf:      make([]byte, copyChunk),
		progress: progress,
	}
	var tarOut io.Writer = a.bw
	if opts.Compression == CompressionGzip {
		gz, err := gzip.NewWriterLevel(a.bw, opts.Level)
		if err != nil {
			return nil, fmt.Errorf("packaging: gzip: %w", err)
		}
		// No name, MTIME 0 ("no time stamp" in RFC 1952; the library writes
		// the zero time.Time as a nonzero value), OS 255 "unknown": the header
		// is the same on every machine.
		gz.Header = gzip.Header{ModTime: time.Unix(0, 0), OS: 255}
		a.gz = gz
		tarOut = gz
	}
	if diffID {
		a.raw = sha256.New()
		tarOut = io.MultiWriter(tarOut, a.raw)
	}
	a.tw = tar.NewWriter(tarOut)
	return a, nil
}

func (a *archiveWriter) header(name string, flag byte, size, mode int64) *tar.Header {
	return &tar.Header{
		Typeflag: flag,
		Name:     name,
		Size:     size,
		Mode:     mode,
		ModTime:  a.mtime,
		Format:   tar.FormatPAX,
	}
}

// dir writes a directory entry; name has no trailing slash.
func (a *archiveWriter) dir(name string) error {
	if err := a.tw.WriteHeader(a.header(name+"/", tar.TypeDir, 0, dirMode)); err != nil {
		return fmt.Errorf("packaging: write %s/: %w", name, err)
	}
	return nil
}

// bytes writes a regular file held in memory.
func (a *archiveWriter) bytes(name string, data []byte, mode int64) error {
	if err := a.tw.WriteHeader(a.header(name, tar.TypeReg, int64(len(data)), mode)); err != nil {
		return fmt.Errorf("packaging: write %s: %w", name, err)
	}
	if _, err := a.tw.Write(data); err != nil {
		return fmt.Errorf("packaging: write %s: %w", name, err)
	}
	return nil
}

// file streams exactly size bytes of r into the archive as name and returns
// their digest, "sha256:<hex>". It fails if r holds fewer or more bytes (the
// file changed since it was measured). display names the source in errors.
func (a *archiveWriter) file(ctx context.Context, name, display string, r io.Reader, size, mode int64) (string, error) {
	if err := a.tw.WriteHeader(a.header(name, tar.TypeReg, size, mode)); err != nil {
		return "", fmt.Errorf("packaging: write %s: %w", name, err)
	}
	h := sha256.New()
	var n int64
	for n < size {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		chunk := a.buf[:min(int64(len(a.buf)), size-n)]
		m, err := io.ReadFull(r, chunk)
		if m > 0 {
			h.Write(chunk[:m])
			if _, werr := a.tw.Write(chunk[:m]); werr != nil {
				return "", fmt.Errorf("packaging: write %s: %w", name, werr)
			}
			n += int64(m)
			a.progress.add(int64(m))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return "", invalidf("%s shrank while it was being packaged (%d of %d bytes)", display, n, size)
		} else if err != nil {
			return "", fmt.Errorf("packaging: read %s: %w", display, err)
		}
	}
	if m, _ := r.Read(a.buf[:1]); m > 0 {
		return "", invalidf("%s grew while it was being packaged", display)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// close ends the tar stream and the gzip stream and flushes.
func (a *archiveWriter) close() error {
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("packaging: finish archive: %w", err)
	}
	if a.gz != nil {
		if err := a.gz.Close(); err != nil {
			return fmt.Errorf("packaging: finish gzip stream: %w", err)
		}
	}
	if err := a.bw.Flush(); err != nil {
		return fmt.Errorf("packaging: write archive: %w", err)
	}
	return nil
}

// diffID returns the digest of the uncompressed tar stream; only valid after
// close and when requested from newArchiveWriter.
func (a *archiveWriter) diffID() string { return "sha256:" + hex.EncodeToString(a.raw.Sum(nil)) }

// pkgFile is one file of a model package.
type pkgFile struct {
	rel    string // slash-separated path in the package
	size   int64
	digest string // from ferry.json (pkg.Digest() for ferry.json itself)
}

// openPackage opens pkg's directory and lists its files — those ferry.json
// lists, and ferry.json — with their sizes, sorted by path. Files must be
// regular files.
func openPackage(pkg *model.Package) (*os.Root, []pkgFile, error) {
	root, err := os.OpenRoot(pkg.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, errorf(ferry.ENOTFOUND, "no model package directory %q", clip(pkg.Dir))
	} else if err != nil {
		return nil, nil, fmt.Errorf("packaging: open package: %w", err)
	}
	files := make([]pkgFile, 0, len(pkg.Info.Files)+1)
	for rel, d := range pkg.Info.Files {
		files = append(files, pkgFile{rel: rel, digest: d})
	}
	files = append(files, pkgFile{rel: model.InfoFile, digest: pkg.Digest()})
	for i := range files {
		fi, err := root.Lstat(filepath.FromSlash(files[i].rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			root.Close()
			return nil, nil, invalidf("model file %q is missing from %q (the package changed after it was loaded)", clip(files[i].rel), clip(pkg.Dir))
		case err != nil:
			root.Close()
			return nil, nil, fmt.Errorf("packaging: stat %s: %w", files[i].rel, err)
		case !fi.Mode().IsRegular():
			root.Close()
			return nil, nil, invalidf("model file %q is not a regular file", clip(files[i].rel))
		}
		files[i].size = fi.Size()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return root, files, nil
}

// totalSize sums the sizes of files.
func totalSize(files []pkgFile) int64 {
	var n int64
	for _, f := range files {
		n += f.size
	}
	return n
}

// writeModelTree writes the package's files under prefix (e.g. "model"), with
// a directory entry for prefix and every directory that holds a file, all in
// byte order of their names. Every file is checked against its digest as it is
// copied.
func writeModelTree(ctx context.Context, a *archiveWriter, root *os.Root, files []pkgFile, prefix string) error {
	type entry struct {
		name string // as sorted: directories end in "/"
		file *pkgFile
	}
	dirs := map[string]bool{prefix + "/": true}
	entries := []entry{{name: prefix + "/"}}
	for i := range files {
		f := &files[i]
		entries = append(entries, entry{name: prefix + "/" + f.rel, file: f})
		for d := path.Dir(f.rel); d != "."; d = path.Dir(d) {
			name := prefix + "/" + d + "/"
			if !dirs[name] {
				dirs[name] = true
				entries = append(entries, entry{name: name})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	for _, e := range entries {
		if e.file == nil {
			if err := a.dir(strings.TrimSuffix(e.name, "/")); err != nil {
				return err
			}
			continue
		}
		if err := copyPackageFile(ctx, a, root, e.name, *e.file); err != nil {
			return err
		}
	}
	return nil
}

func copyPackageFile(ctx context.Context, a *archiveWriter, root *os.Root, name string, f pkgFile) error {
	r, err := root.Open(filepath.FromSlash(f.rel))
	if err != nil {
		return fmt.Errorf("packaging: open model file %s: %w", f.rel, err)
	}
	defer r.Close()
	got, err := a.file(ctx, name, fmt.Sprintf("model file %q", f.rel), r, f.size, fileMode)
	if err != nil {
		return err
	}
	if got != f.digest {
		return invalidf("model file %q does not match its digest in %s (the package changed after it was loaded)", clip(f.rel), model.InfoFile)
	}
	return nil
}
