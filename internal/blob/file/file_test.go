package file_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/blob/blobtest"
	"github.com/ferry-ml/ferry/internal/blob/file"
)

func open(t *testing.T) *file.Store {
	t.Helper()
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t) })
}

func TestNew(t *testing.T) {
	t.Run("empty dir", func(t *testing.T) {
		if _, err := file.New(""); ferry.ErrorCode(err) != ferry.EINVALID {
			t.Errorf("New(\"\") error %v, want EINVALID", err)
		}
	})
	t.Run("creates dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		s, err := file.New(dir)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer s.Close()
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("directory not created: %v", err)
		}
		if got, want := s.URL(), "file://"+filepath.ToSlash(dir); got != want {
			t.Errorf("URL() = %q, want %q", got, want)
		}
	})
	t.Run("relative dir", func(t *testing.T) {
		t.Chdir(t.TempDir())
		s, err := file.New("rel")
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer s.Close()
		if u := s.URL(); !strings.HasPrefix(u, "file:///") || !strings.HasSuffix(u, "/rel") {
			t.Errorf("URL() = %q, want an absolute file URL", u)
		}
	})
}

// TestSymlinkEscape checks that a symbolic link inside the store cannot be used
// to read or write outside it.
func TestSymlinkEscape(t *testing.T) {
	ctx := t.Context()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rel, err := filepath.Rel(dir, outside)
	if err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": outside, "rel": rel} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			_, err := s.Put(ctx, name+"/planted", strings.NewReader("x"))
			wantCode(t, "Put", err, ferry.EINVALID)
			if _, err := os.Stat(filepath.Join(outside, "planted")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Put wrote outside the store: %v", err)
			}
			rc, _, err := s.Get(ctx, name+"/secret")
			if err == nil {
				rc.Close()
			}
			wantCode(t, "Get", err, ferry.EINVALID)
			_, err = s.Stat(ctx, name+"/secret")
			wantCode(t, "Stat", err, ferry.EINVALID)
			_, err = s.List(ctx, name)
			wantCode(t, "List", err, ferry.EINVALID)
			err = s.Delete(ctx, name+"/secret")
			wantCode(t, "Delete", err, ferry.EINVALID)
			if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
				t.Errorf("Delete reached outside the store: %v", err)
			}
		})
	}
	// Links that escape are not listed.
	entries, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("List = %+v, want escaping links hidden", entries)
	}
}

// TestSymlinkInside checks that links within the store are followed.
func TestSymlinkInside(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(ctx, "real/f", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "alias/f")
	if err != nil {
		t.Fatalf("Get through an inner link: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "data" {
		t.Errorf("Get = %q, want %q", b, "data")
	}
	entries, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []blob.Entry{{Path: "alias", IsDir: true}, {Path: "real", IsDir: true}}
	if len(entries) != 2 || entries[0] != want[0] || entries[1] != want[1] {
		t.Errorf("List = %+v, want %+v", entries, want)
	}
	if err := s.Delete(ctx, "alias"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "real", "f")); err != nil {
		t.Errorf("deleting a link removed its target: %v", err)
	}
}

func TestConflicts(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Put(ctx, "a", strings.NewReader("x"))
	wantCode(t, "Put over a directory", err, ferry.ECONFLICT)
	_, err = s.Put(ctx, "a/b/c", strings.NewReader("x"))
	wantCode(t, "Put below an object", err, ferry.ECONFLICT)
	_, err = s.Put(ctx, "a/b/c/d", strings.NewReader("x"))
	wantCode(t, "Put two levels below an object", err, ferry.ECONFLICT)
}

// TestNoTempLitter checks the directory itself, not just List, after failed Puts.
func TestNoTempLitter(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(ctx, "keep", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, key := range []string{"keep", "x/y/z"} {
		r := io.MultiReader(strings.NewReader("partial"), errReader{boom})
		if _, err := s.Put(ctx, key, r); !errors.Is(err, boom) {
			t.Fatalf("Put: %v, want %v", err, boom)
		}
	}
	var names []string
	err = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if p != dir {
			names = append(names, filepath.Base(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "keep" {
		t.Errorf("directory holds %q, want only \"keep\"", names)
	}
}

func TestReservedNames(t *testing.T) {
	s := open(t)
	for _, key := range []string{".ferry-tmp-x", "a/.ferry-tmp-x", "a/.ferry-tmp-x/b"} {
		_, err := s.Put(t.Context(), key, strings.NewReader("x"))
		wantCode(t, "Put "+key, err, ferry.EINVALID)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func wantCode(t *testing.T, op string, err error, code string) {
	t.Helper()
	if got := ferry.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want %q", op, err, got, code)
	}
}
