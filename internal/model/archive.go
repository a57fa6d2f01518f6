package model

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ferry-ml/ferry"
)

// Limits of ExtractArchive, so that a hostile archive cannot fill a disk.
const (
	MaxArchiveFiles = 10000
	MaxArchiveBytes = 8 << 30
)

// WriteArchive writes every regular file under dir to w as an uncompressed
// tar archive of slash-separated relative paths: the form in which a package
// crosses the network (a version's download, a local package's upload). The
// receiver checks the files against ferry.json with Load.
func WriteArchive(ctx context.Context, w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := EachFile(dir, func(rel string, r io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, ok := r.(*os.File)
		if !ok {
			return fmt.Errorf("model: archive %s: not a file", rel)
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err = io.Copy(tw, ctxReader{ctx, f})
		return err
	})
	if err != nil {
		return fmt.Errorf("model: archive %s: %w", dir, err)
	}
	return tw.Close()
}

// ExtractArchive writes the files of the tar archive r (as WriteArchive
// makes them) into dir, which must not exist, and loads the package there,
// verifying it. Entries other than regular files and directories, paths that
// leave dir, and archives over MaxArchiveFiles files or MaxArchiveBytes are
// EINVALID; on any error dir is removed.
func ExtractArchive(ctx context.Context, r io.Reader, dir string) (pkg *Package, err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("model: extract into %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var files int
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "model package archive: %v", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." && hdr.Typeflag == tar.TypeDir {
			continue
		}
		if !insidePath(name) {
			return nil, ferry.Errorf(ferry.EINVALID, "model package archive: entry %q leaves the package directory", clip(hdr.Name))
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return nil, err
			}
			continue
		case tar.TypeReg:
		default:
			return nil, ferry.Errorf(ferry.EINVALID, "model package archive: entry %q is not a regular file or directory", clip(hdr.Name))
		}
		files++
		total += hdr.Size
		if files > MaxArchiveFiles || total > MaxArchiveBytes || hdr.Size < 0 {
			return nil, ferry.Errorf(ferry.ETOOLARGE, "model package archive: over %d files or %d bytes", MaxArchiveFiles, int64(MaxArchiveBytes))
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "model package archive: entry %q: %v", clip(hdr.Name), err)
		}
		_, err = io.Copy(f, ctxReader{ctx, io.LimitReader(tr, hdr.Size)})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("model: extract %s: %w", name, err)
		}
	}
	return Load(ctx, dir)
}

// insidePath reports whether name is a relative slash path inside its root.
func insidePath(name string) bool {
	return name != "" && name != "." && !path.IsAbs(name) && name != ".." && !strings.HasPrefix(name, "../") && !strings.Contains(name, "\\")
}
