// Package file implements blob.Store on a local directory.
//
// Objects are plain files: the key "a/b/c" is the file dir/a/b/c. All access goes
// through an os.Root, so neither a key nor a symbolic link inside the directory can
// reach a file outside it.
package file

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
)

// tmpPrefix starts the name of every temporary file that Put writes beside its
// target. Names with this prefix are reserved: they are hidden from List and
// rejected as keys.
const tmpPrefix = ".ferry-tmp-"

const (
	filePerm = 0o644
	dirPerm  = 0o755
)

// Store is a blob.Store on a local directory. It is safe for concurrent use,
// including by several processes sharing the directory. Close releases the
// directory handle; the Store must not be used afterwards.
type Store struct {
	dir  string   // absolute path of the directory
	root *os.Root // every file access goes through root

	// escapes is the error os.Root reports for a name that resolves outside
	// the root; the os package does not export it, so New captures it.
	escapes error
}

var _ blob.Store = (*Store)(nil)

// New opens a store on dir, creating the directory if it does not exist. It
// returns an EINVALID *ferry.Error for an empty dir.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, ferry.Errorf(ferry.EINVALID, "blob directory must not be empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: resolve %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("file: create %q: %w", abs, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("file: open %q: %w", abs, err)
	}
	_, probe := root.Stat("..")
	escapes := errors.Unwrap(probe)
	if escapes == nil {
		root.Close()
		return nil, fmt.Errorf("file: open %q: os.Root did not refuse a path outside the root (%v)", abs, probe)
	}
	return &Store{dir: abs, root: root, escapes: escapes}, nil
}

// Close releases the directory handle.
func (s *Store) Close() error {
	if err := s.root.Close(); err != nil {
		return fmt.Errorf("file: close %q: %w", s.dir, err)
	}
	return nil
}

// URL returns file:///abs/dir.
func (s *Store) URL() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(s.dir)}).String()
}

// Put writes r to a temporary file in the target's directory, fsyncs it, renames
// it over the target and fsyncs the directory, so the replacement is atomic and
// durable. It returns an ECONFLICT *ferry.Error when key, or one of its parents,
// is in the way (a directory where the object should go, or a file where a
// directory should go).
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	k, err := s.clean(key, true)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("file: put %q: %w", k, err)
	}
	if fi, err := s.root.Lstat(k); err == nil && fi.IsDir() {
		return 0, ferry.Errorf(ferry.ECONFLICT, "cannot store %q: a directory of that name exists", k)
	}
	dir := path.Dir(k)
	n, err := s.put(ctx, dir, k, r)
	if err != nil {
		s.prune(dir)
		return 0, s.mapErr("put", k, err)
	}
	return n, nil
}

func (s *Store) put(ctx context.Context, dir, k string, r io.Reader) (_ int64, err error) {
	f, tmp, err := s.createTemp(dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			s.root.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, blob.ContextReader(ctx, r))
	if err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := s.root.Rename(tmp, k); err != nil {
		return 0, err
	}
	return n, s.syncDir(dir)
}

// createTemp creates the directory dir and an exclusive temporary file in it. A
// concurrent Delete may prune dir between the two steps, so it retries a few
// times.
func (s *Store) createTemp(dir string) (*os.File, string, error) {
	var err error
	for range 5 {
		if err = s.root.MkdirAll(dir, dirPerm); err != nil {
			return nil, "", err
		}
		tmp := path.Join(dir, tmpPrefix+rand.Text())
		var f *os.File
		f, err = s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		if err == nil {
			return f, tmp, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			return nil, "", err
		}
	}
	return nil, "", err
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get opens the file under key. The returned reader is an *os.File; ctx is only
// consulted while opening it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	k, err := s.clean(key, true)
	if err != nil {
		return nil, blob.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, blob.Info{}, fmt.Errorf("file: get %q: %w", k, err)
	}
	// Stat before opening so that a FIFO or device is never opened.
	if _, err := s.stat(k); err != nil {
		return nil, blob.Info{}, s.mapErr("get", k, err)
	}
	f, err := s.root.Open(k)
	if err != nil {
		return nil, blob.Info{}, s.mapErr("get", k, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, blob.Info{}, s.mapErr("get", k, err)
	}
	return f, blob.Info{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Stat describes the file under key.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	k, err := s.clean(key, true)
	if err != nil {
		return blob.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fmt.Errorf("file: stat %q: %w", k, err)
	}
	fi, err := s.stat(k)
	if err != nil {
		return blob.Info{}, s.mapErr("stat", k, err)
	}
	return blob.Info{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// stat follows symbolic links (within the root) and reports anything but a
// regular file as not existing.
func (s *Store) stat(k string) (fs.FileInfo, error) {
	fi, err := s.root.Stat(k)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return fi, nil
}

// List reads the directory prefix. Temporary files of in-flight Puts, entries
// that are neither regular files nor directories, symbolic links that lead
// outside the store, and names that are not valid keys are left out.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Entry, error) {
	p, err := s.clean(prefix, false)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: list %q: %w", p, err)
	}
	d, err := s.root.Open(dirName(p))
	if isAbsent(err) {
		return []blob.Entry{}, nil
	} else if err != nil {
		return nil, s.mapErr("list", p, err)
	}
	defer d.Close()
	des, err := d.ReadDir(-1)
	if errors.Is(err, syscall.ENOTDIR) {
		return []blob.Entry{}, nil // p is a file: it has no children
	} else if err != nil {
		return nil, s.mapErr("list", p, err)
	}

	entries := make([]blob.Entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		full := blob.Join(p, name)
		if strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		if k, err := blob.CleanKey(full); err != nil || k != full {
			continue
		}
		fi, err := de.Info()
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			fi, err = s.root.Stat(full)
		}
		if err != nil {
			continue // removed meanwhile, or a link that escapes or dangles
		}
		switch {
		case fi.IsDir():
			entries = append(entries, blob.Entry{Path: full, IsDir: true})
		case fi.Mode().IsRegular():
			entries = append(entries, blob.Entry{Path: full, Size: fi.Size()})
		}
	}
	slices.SortFunc(entries, func(a, b blob.Entry) int { return strings.Compare(a.Path, b.Path) })
	return entries, nil
}

// Delete removes the file or directory tree under key (a symbolic link is
// removed, not followed), then removes parent directories left empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := s.clean(key, false)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: delete %q: %w", k, err)
	}
	if k == "" {
		return s.deleteAll()
	}
	if _, err := s.root.Lstat(k); isAbsent(err) {
		return nil
	} else if err != nil {
		return s.mapErr("delete", k, err)
	}
	if err := s.root.RemoveAll(k); err != nil {
		return s.mapErr("delete", k, err)
	}
	s.prune(path.Dir(k))
	return nil
}

// deleteAll removes every entry of the root directory but not the directory.
func (s *Store) deleteAll() error {
	d, err := s.root.Open(".")
	if err != nil {
		return s.mapErr("delete", "", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return s.mapErr("delete", "", err)
	}
	for _, name := range names {
		if err := s.root.RemoveAll(name); err != nil {
			return s.mapErr("delete", "", err)
		}
	}
	return nil
}

// prune removes dir and its ancestors while they are empty directories, so that
// the tree mirrors the set of stored keys as it does on an object store. It is
// best-effort: a directory that is not empty (or a concurrent Put) stops it.
func (s *Store) prune(dir string) {
	for dir != "." && dir != "/" && dir != "" {
		fi, err := s.root.Lstat(dir)
		if err != nil || !fi.IsDir() {
			return
		}
		if err := s.root.Remove(dir); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// clean validates key with blob.CleanKey (blob.CleanObjectKey when object is
// true) and rejects names reserved for temporary files.
func (s *Store) clean(key string, object bool) (string, error) {
	clean := blob.CleanKey
	if object {
		clean = blob.CleanObjectKey
	}
	k, err := clean(key)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(k, tmpPrefix) || strings.Contains(k, "/"+tmpPrefix) {
		return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: names starting with %q are reserved", key, tmpPrefix)
	}
	return k, nil
}

// mapErr turns a filesystem error about key k into the store's error vocabulary.
func (s *Store) mapErr(op, k string, err error) error {
	switch {
	case errors.Is(err, s.escapes):
		return ferry.Errorf(ferry.EINVALID, "invalid key %q: resolves outside the store through a symbolic link", k)
	case op != "put" && isAbsent(err):
		return ferry.Errorf(ferry.ENOTFOUND, "blob %q not found", k)
	case op == "put" && (errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)):
		return ferry.Errorf(ferry.ECONFLICT, "cannot store %q: it clashes with an existing object or directory (a parent is an object, or the key is a directory)", k)
	}
	return fmt.Errorf("file: %s %q: %w", op, k, err)
}

// isAbsent reports whether err means that a name does not exist, including when
// one of its parents is a file.
func isAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// dirName maps the root key "" to ".", the name os.Root uses for itself.
func dirName(k string) string {
	if k == "" {
		return "."
	}
	return k
}
