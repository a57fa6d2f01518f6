package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// LogArtifacts uploads the file or directory at local to the run's
// artifacts under dir ("" for the root): a file keeps its base name, a
// directory its tree. It reports bytes done of the total, and returns the
// artifact paths written, in upload order.
func (c *Client) LogArtifacts(ctx context.Context, runID, local, dir string, progress Progress) ([]string, error) {
	st, err := os.Stat(local)
	if err != nil {
		return nil, err
	}
	type file struct {
		abs, rel string
		size     int64
	}
	var files []file
	var total int64
	if !st.IsDir() {
		files = append(files, file{local, filepath.Base(local), st.Size()})
		total = st.Size()
	} else {
		err = filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(local, p)
			if err != nil {
				return err
			}
			files = append(files, file{p, filepath.ToSlash(rel), info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var done int64
	var written []string
	for _, f := range files {
		dst := path.Join(dir, f.rel)
		r, err := os.Open(f.abs)
		if err != nil {
			return written, err
		}
		err = c.UploadArtifact(ctx, runID, dst, r)
		r.Close()
		if err != nil {
			return written, fmt.Errorf("client: upload %s: %w", f.rel, err)
		}
		written = append(written, dst)
		done += f.size
		if progress != nil {
			progress(done, total)
		}
	}
	return written, nil
}

// DownloadArtifacts writes the run's artifact at artifactPath — a file, or a
// directory with everything under it; "" for all — into the local directory
// dst, keeping the tree below artifactPath. Names that would leave dst are
// refused. It returns the local paths written.
func (c *Client) DownloadArtifacts(ctx context.Context, runID, artifactPath, dst string, progress Progress) ([]string, error) {
	artifactPath = strings.Trim(artifactPath, "/")
	var files []FileInfo
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := c.ListArtifacts(ctx, runID, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir {
				if err := walk(e.Path); err != nil {
					return err
				}
				continue
			}
			files = append(files, e)
		}
		return nil
	}
	if err := walk(artifactPath); err != nil {
		return nil, err
	}
	base := artifactPath
	if len(files) == 0 && artifactPath != "" { // a single file
		files = []FileInfo{{Path: artifactPath}}
		base = path.Dir(artifactPath)
	}
	if len(files) == 0 {
		return nil, &Error{Status: 404, Code: "ENOTFOUND", Message: fmt.Sprintf("run %s has no artifacts under %q", runID, artifactPath)}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var total, done int64
	for _, f := range files {
		total += f.FileSize
	}
	var written []string
	for _, f := range files {
		rel := strings.TrimPrefix(strings.TrimPrefix(f.Path, base), "/")
		if base == "." || base == "" {
			rel = f.Path
		}
		n, err := c.downloadTo(ctx, root, runID, f.Path, rel)
		if err != nil {
			return written, fmt.Errorf("client: download %s: %w", f.Path, err)
		}
		written = append(written, filepath.Join(dst, filepath.FromSlash(rel)))
		done += n
		if progress != nil {
			progress(done, total)
		}
	}
	return written, nil
}

// downloadTo writes one artifact to rel inside root, through a temporary
// file, so that an interrupted download leaves no partial file.
func (c *Client) downloadTo(ctx context.Context, root *os.Root, runID, artifact, rel string) (int64, error) {
	rc, err := c.DownloadArtifact(ctx, runID, artifact)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	tmp := rel + ".part"
	f, err := root.Create(tmp)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return n, err
	}
	return n, nil
}
