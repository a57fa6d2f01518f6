// Package blob defines the artifact byte store: a flat namespace of objects under
// slash-separated keys, with directory-like listing. Implementations live in the
// sub-packages file (a local directory) and s3 (an S3-compatible bucket); blobtest
// holds the conformance suite that every implementation passes.
//
// Keys are always relative to the store's root and are validated by CleanKey, so a
// key taken from a request can never name anything outside the store.
package blob

import (
	"context"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// MaxKeyLen is the longest key, in bytes, that CleanKey accepts. It matches the
// object-name limit of S3.
const MaxKeyLen = 1024

// Store holds artifact bytes under slash-separated keys.
//
// Every method validates its key with CleanKey and returns an EINVALID *ferry.Error
// for a rejected key before doing any I/O. The root key "" names the whole store: it
// is accepted by List and Delete, and rejected by Put, Get and Stat.
//
// Implementations are safe for concurrent use by multiple goroutines.
type Store interface {
	// Put stores the bytes read from r under key until r returns io.EOF, and
	// returns how many bytes were stored. It streams: memory use does not grow
	// with the object's size. The object is replaced atomically: readers see
	// either the previous object or the complete new one, never a partial
	// object. If r or the store fails, or ctx ends, Put returns an error and
	// any previous object under key is left unchanged (and no new object
	// appears); when r fails, the error wraps r's error.
	//
	// Object stores let "a" and "a/b" coexist; stores that keep keys as files
	// (the file store, S3 gateways on a file system) cannot, and return an
	// ECONFLICT *ferry.Error for a key that names a directory or lies below
	// an object.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)

	// Get opens the object under key. The caller must close the returned
	// reader. Get returns an ENOTFOUND *ferry.Error when no object exists
	// under key (including when key names only a "directory").
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)

	// Stat describes the object under key, with the same errors as Get.
	Stat(ctx context.Context, key string) (Info, error)

	// List returns the direct children of the "directory" prefix: objects,
	// with their size, and sub-directories (IsDir), sorted by Path. A prefix
	// that does not exist, or that names an object rather than a directory,
	// gives an empty list and no error.
	List(ctx context.Context, prefix string) ([]Entry, error)

	// Delete removes the object under key and every object under key as a
	// directory prefix ("a" removes "a" and "a/...", never "ab"). Deleting
	// the root "" empties the store. Deleting something absent is not an
	// error.
	Delete(ctx context.Context, key string) error

	// URL identifies the store (file:///dir, s3://bucket/prefix). It never
	// contains credentials.
	URL() string
}

// Info describes a stored object.
type Info struct {
	Size    int64
	ModTime time.Time
}

// Entry is one child returned by Store.List.
type Entry struct {
	Path  string // full key relative to the store root, without a trailing slash
	IsDir bool   // true for a sub-directory (a prefix of other keys)
	Size  int64  // the object's size; 0 for a directory
}

// CleanKey validates key and returns it in canonical form. It is the only gate
// between user-supplied names and storage paths, and every Store calls it.
//
// The canonical form has no empty segments and no "." segments ("a//b/./c/"
// becomes "a/b/c"). CleanKey rejects, with an EINVALID *ferry.Error naming the
// key and the rule:
//
//   - keys longer than MaxKeyLen bytes;
//   - keys that are not valid UTF-8;
//   - absolute keys (a leading "/");
//   - ".." segments (path traversal); ".." inside a name, as in "v1..v2", is fine;
//   - backslashes, which are separators on some systems;
//   - NUL and other control characters (C0, DEL and C1).
//
// Keys that clean to nothing, such as "" and "./", return "": the store root,
// which List and Delete accept and CleanObjectKey rejects.
func CleanKey(key string) (string, error) {
	if len(key) > MaxKeyLen {
		return "", ferry.Errorf(ferry.EINVALID, "invalid key %.64q...: longer than %d bytes", key, MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: not valid UTF-8", key)
	}
	if strings.HasPrefix(key, "/") {
		return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: must be relative, not start with \"/\"", key)
	}
	for _, c := range key {
		switch {
		case c == '\\':
			return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: must not contain a backslash", key)
		case c < 0x20 || (c >= 0x7f && c <= 0x9f):
			return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: must not contain control characters", key)
		}
	}

	var b strings.Builder
	b.Grow(len(key))
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: must not contain \"..\" segments", key)
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seg)
	}
	return b.String(), nil
}

// CleanObjectKey is CleanKey for methods that address a single object (Put, Get,
// Stat): it also rejects the root, so the result is never "".
func CleanObjectKey(key string) (string, error) {
	k, err := CleanKey(key)
	if err != nil {
		return "", err
	}
	if k == "" {
		return "", ferry.Errorf(ferry.EINVALID, "invalid key %q: an object key must name a file, not the store root", key)
	}
	return k, nil
}

// Join joins a directory prefix and a name with "/" where both are non-empty. It
// does no cleaning: both parts must already be canonical keys.
func Join(dir, name string) string {
	switch {
	case dir == "":
		return name
	case name == "":
		return dir
	}
	return dir + "/" + name
}

// ContextReader returns a reader that fails with ctx's error once ctx is done,
// so that a long copy from r stops promptly when its caller gives up.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
