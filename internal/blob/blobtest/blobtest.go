// Package blobtest is the conformance suite for blob.Store implementations.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
)

// Run runs the conformance suite. open is called once per subtest and must return
// an empty store that no other call shares (a fresh directory, a unique prefix),
// registering its own cleanup with t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutGet", testPutGet},
		{"PutGetEmpty", testPutGetEmpty},
		{"PutGetLargeStreamed", testPutGetLarge},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"GetMissing", testGetMissing},
		{"List", testList},
		{"ListAbsent", testListAbsent},
		{"DeleteFile", testDeleteFile},
		{"DeleteDir", testDeleteDir},
		{"DeleteRoot", testDeleteRoot},
		{"Normalised", testNormalised},
		{"InvalidKeys", testInvalidKeys},
		{"UnusualKeys", testUnusualKeys},
		{"LongKey", testLongKey},
		{"FileDirClash", testFileDirClash},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentOverwrite", testConcurrentOverwrite},
		{"FailedPut", testFailedPut},
		{"CanceledPut", testCanceledPut},
		{"URL", testURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func testPutGet(t *testing.T, s blob.Store) {
	ctx := t.Context()
	data := "hello, artifact"
	n, err := s.Put(ctx, "runs/1/model.bin", strings.NewReader(data))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != int64(len(data)) {
		t.Errorf("Put returned %d bytes, want %d", n, len(data))
	}
	got, info := mustGet(t, s, "runs/1/model.bin")
	if string(got) != data {
		t.Errorf("Get = %q, want %q", got, data)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Get info.Size = %d, want %d", info.Size, len(data))
	}
}

func testPutGetEmpty(t *testing.T, s blob.Store) {
	n, err := s.Put(t.Context(), "empty/file", strings.NewReader(""))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != 0 {
		t.Errorf("Put returned %d bytes, want 0", n)
	}
	got, info := mustGet(t, s, "empty/file")
	if len(got) != 0 || info.Size != 0 {
		t.Errorf("Get = %d bytes, info.Size %d; want 0, 0", len(got), info.Size)
	}
	checkList(t, s, "empty", []blob.Entry{{Path: "empty/file", Size: 0}})
}

// testPutGetLarge streams an object bigger than common multipart part sizes from
// a generating reader that is neither seekable nor sized.
func testPutGetLarge(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const size = 20 << 20
	h := sha256.New()
	src := struct{ io.Reader }{io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), size), h)}
	n, err := s.Put(ctx, "large/blob", src)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != size {
		t.Errorf("Put returned %d bytes, want %d", n, size)
	}
	want := h.Sum(nil)

	rc, info, err := s.Get(ctx, "large/blob")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h.Reset()
	m, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if m != size || info.Size != size {
		t.Errorf("read %d bytes, info.Size %d; want %d", m, info.Size, size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		t.Errorf("sha256 = %x, want %x", got, want)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	mustPut(t, s, "o/key", "first version, longer")
	mustPut(t, s, "o/key", "second")
	if got, info := mustGet(t, s, "o/key"); string(got) != "second" || info.Size != 6 {
		t.Errorf("Get = %q (size %d), want %q (size 6)", got, info.Size, "second")
	}
	checkList(t, s, "o", []blob.Entry{{Path: "o/key", Size: 6}})
}

func testStat(t *testing.T, s blob.Store) {
	ctx := t.Context()
	before := time.Now()
	mustPut(t, s, "st/a", "12345")
	info, err := s.Stat(ctx, "st/a")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != 5 {
		t.Errorf("Stat size = %d, want 5", info.Size)
	}
	// Servers have their own clocks; only insist on a plausible time.
	if info.ModTime.IsZero() || info.ModTime.Before(before.Add(-time.Hour)) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Errorf("Stat ModTime = %v, want about %v", info.ModTime, before)
	}
	_, ginfo := mustGet(t, s, "st/a")
	if ginfo.Size != info.Size || !ginfo.ModTime.Equal(info.ModTime) {
		t.Errorf("Get info = %+v, Stat info = %+v; want equal", ginfo, info)
	}
}

func testGetMissing(t *testing.T, s blob.Store) {
	ctx := t.Context()
	mustPut(t, s, "dir/file", "x")
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/file/below", "nodir/x"} {
		t.Run(key, func(t *testing.T) {
			rc, _, err := s.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			wantCode(t, "Get", err, ferry.ENOTFOUND)
			_, err = s.Stat(ctx, key)
			wantCode(t, "Stat", err, ferry.ENOTFOUND)
		})
	}
}

func testList(t *testing.T, s blob.Store) {
	files := map[string]string{
		"d/b.txt":        "bbb",
		"d/a.txt":        "a",
		"d/Upper":        "UU",
		"d/sub/x":        "xx",
		"d/sub/deeper/y": "yyyy",
		"d/sub.txt":      "sub",
		"d/sub2/q":       "q",
		"d/z":            "zzzzz",
		"top":            "t",
	}
	for k, v := range files {
		mustPut(t, s, k, v)
	}
	d := []blob.Entry{
		{Path: "d/Upper", Size: 2},
		{Path: "d/a.txt", Size: 1},
		{Path: "d/b.txt", Size: 3},
		{Path: "d/sub", IsDir: true},
		{Path: "d/sub.txt", Size: 3},
		{Path: "d/sub2", IsDir: true},
		{Path: "d/z", Size: 5},
	}
	checkList(t, s, "d", d)
	checkList(t, s, "d/", d)
	checkList(t, s, "./d//", d)
	checkList(t, s, "", []blob.Entry{{Path: "d", IsDir: true}, {Path: "top", Size: 1}})
	checkList(t, s, "d/sub", []blob.Entry{{Path: "d/sub/deeper", IsDir: true}, {Path: "d/sub/x", Size: 2}})
	checkList(t, s, "d/sub/deeper", []blob.Entry{{Path: "d/sub/deeper/y", Size: 4}})
}

func testListAbsent(t *testing.T, s blob.Store) {
	checkList(t, s, "", nil)
	checkList(t, s, "absent", nil)
	checkList(t, s, "absent/deeper", nil)
	mustPut(t, s, "f/file", "x")
	checkList(t, s, "f/fil", nil)    // a name prefix is not a directory
	checkList(t, s, "f/file", nil)   // an object has no children
	checkList(t, s, "f/file/x", nil) // nor does anything below it
}

func testDeleteFile(t *testing.T, s blob.Store) {
	ctx := t.Context()
	mustPut(t, s, "f/a", "a")
	mustPut(t, s, "f/b", "b")
	if err := s.Delete(ctx, "f/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(ctx, "f/a")
	wantCode(t, "Stat after Delete", err, ferry.ENOTFOUND)
	checkList(t, s, "f", []blob.Entry{{Path: "f/b", Size: 1}})

	if err := s.Delete(ctx, "f/a"); err != nil {
		t.Errorf("Delete of a deleted key: %v, want nil", err)
	}
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of an absent key: %v, want nil", err)
	}
	if err := s.Delete(ctx, "f/b/below"); err != nil {
		t.Errorf("Delete below an object: %v, want nil", err)
	}
	if err := s.Delete(ctx, "f/b"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	// A directory whose last object is gone disappears, as on an object store.
	checkList(t, s, "", nil)
}

func testDeleteDir(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, k := range []string{"p/a", "p/q/b", "p/q/r/c", "pp/c", "p.txt", "keep/p/x"} {
		mustPut(t, s, k, k)
	}
	if err := s.Delete(ctx, "p/"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, k := range []string{"p/a", "p/q/b", "p/q/r/c"} {
		_, err := s.Stat(ctx, k)
		wantCode(t, "Stat "+k, err, ferry.ENOTFOUND)
	}
	for _, k := range []string{"pp/c", "p.txt", "keep/p/x"} {
		if got, _ := mustGet(t, s, k); string(got) != k {
			t.Errorf("Get %q = %q after deleting p, want %q", k, got, k)
		}
	}
	checkList(t, s, "", []blob.Entry{
		{Path: "keep", IsDir: true},
		{Path: "p.txt", Size: 5},
		{Path: "pp", IsDir: true},
	})
	checkList(t, s, "p", nil)
	if err := s.Delete(ctx, "p"); err != nil {
		t.Errorf("Delete of a deleted prefix: %v, want nil", err)
	}
}

func testDeleteRoot(t *testing.T, s blob.Store) {
	ctx := t.Context()
	mustPut(t, s, "a", "a")
	mustPut(t, s, "b/c", "c")
	if err := s.Delete(ctx, ""); err != nil {
		t.Fatalf("Delete(\"\"): %v", err)
	}
	checkList(t, s, "", nil)
	// The store itself still works.
	mustPut(t, s, "again", "x")
	checkList(t, s, "", []blob.Entry{{Path: "again", Size: 1}})
}

func testNormalised(t *testing.T, s blob.Store) {
	mustPut(t, s, "norm//a/./b/", "x")
	if got, _ := mustGet(t, s, "norm/a/b"); string(got) != "x" {
		t.Errorf("Get = %q, want %q", got, "x")
	}
	if got, _ := mustGet(t, s, "./norm/a//b"); string(got) != "x" {
		t.Errorf("Get = %q, want %q", got, "x")
	}
	checkList(t, s, "norm/a", []blob.Entry{{Path: "norm/a/b", Size: 1}})
}

// testInvalidKeys checks that every method refuses traversal and malformed keys
// before touching storage.
func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	bad := []string{
		"../x",
		"..",
		"a/../../b",
		"a/..",
		"/etc/passwd",
		"/",
		`a\b`,
		`..\x`,
		"a\x00b",
		"a\nb",
		"a\x7fb",
		"bad\xffutf8",
		strings.Repeat("k", blob.MaxKeyLen+1),
	}
	for _, key := range bad {
		t.Run(fmt.Sprintf("%.40q", key), func(t *testing.T) {
			_, err := s.Put(ctx, key, strings.NewReader("x"))
			wantCode(t, "Put", err, ferry.EINVALID)
			rc, _, err := s.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			wantCode(t, "Get", err, ferry.EINVALID)
			_, err = s.Stat(ctx, key)
			wantCode(t, "Stat", err, ferry.EINVALID)
			_, err = s.List(ctx, key)
			wantCode(t, "List", err, ferry.EINVALID)
			err = s.Delete(ctx, key)
			wantCode(t, "Delete", err, ferry.EINVALID)
		})
	}
	// The root is a valid prefix but not an object.
	for _, key := range []string{"", ".", "./", "//"} {
		t.Run(fmt.Sprintf("root %q", key), func(t *testing.T) {
			_, err := s.Put(ctx, key, strings.NewReader("x"))
			wantCode(t, "Put", err, ferry.EINVALID)
			rc, _, err := s.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			wantCode(t, "Get", err, ferry.EINVALID)
			_, err = s.Stat(ctx, key)
			wantCode(t, "Stat", err, ferry.EINVALID)
		})
	}
	checkList(t, s, "", nil)
}

func testUnusualKeys(t *testing.T, s blob.Store) {
	keys := []string{
		"with space/file name.txt",
		"unicode/héllo wörld.bin",
		"unicode/日本語/データ.csv",
		"unicode/🚀.json",
		"chars/a+b=c&d;e,f@g$h!i'j(k)l~m",
		"chars/100%25 and 100%.txt",
		"chars/q?x#y",
		"chars/a..b",
		"chars/.hidden",
		"chars/...",
	}
	for _, k := range keys {
		mustPut(t, s, k, "v:"+k)
	}
	for _, k := range keys {
		if got, _ := mustGet(t, s, k); string(got) != "v:"+k {
			t.Errorf("Get %q = %q, want %q", k, got, "v:"+k)
		}
	}
	checkList(t, s, "with space", []blob.Entry{{Path: "with space/file name.txt", Size: int64(len("v:with space/file name.txt"))}})
	checkList(t, s, "unicode", []blob.Entry{
		{Path: "unicode/héllo wörld.bin", Size: int64(len("v:unicode/héllo wörld.bin"))},
		{Path: "unicode/日本語", IsDir: true},
		{Path: "unicode/🚀.json", Size: int64(len("v:unicode/🚀.json"))},
	})
	var want []blob.Entry
	for _, k := range keys {
		if strings.HasPrefix(k, "chars/") {
			want = append(want, blob.Entry{Path: k, Size: int64(len("v:" + k))})
		}
	}
	slices.SortFunc(want, func(a, b blob.Entry) int { return strings.Compare(a.Path, b.Path) })
	checkList(t, s, "chars", want)
}

// testLongKey stores a key of 803 bytes in segments of 200, the most a file
// system allows per name being 255. It stays below blob.MaxKeyLen because an
// S3 store's prefix counts towards S3's limit too.
func testLongKey(t *testing.T, s blob.Store) {
	seg := strings.Repeat("s", 200)
	key := strings.Join([]string{seg, seg, seg, seg}, "/")
	mustPut(t, s, key, "long")
	if got, _ := mustGet(t, s, key); string(got) != "long" {
		t.Errorf("Get = %q, want %q", got, "long")
	}
}

// testFileDirClash puts an object where a directory is and below an object.
// Object stores accept both; stores that keep keys as files must refuse with
// ECONFLICT and leave what was there intact.
func testFileDirClash(t *testing.T, s blob.Store) {
	ctx := t.Context()
	mustPut(t, s, "c/dir/obj", "x")
	mustPut(t, s, "c/obj", "y")
	for _, key := range []string{"c/dir", "c/obj/below", "c/obj/below/deeper"} {
		_, err := s.Put(ctx, key, strings.NewReader("z"))
		if err != nil && ferry.ErrorCode(err) != ferry.ECONFLICT {
			t.Errorf("Put %q: error %v, want nil or ECONFLICT", key, err)
		}
	}
	if got, _ := mustGet(t, s, "c/dir/obj"); string(got) != "x" {
		t.Errorf("Get c/dir/obj = %q, want %q", got, "x")
	}
	if got, _ := mustGet(t, s, "c/obj"); string(got) != "y" {
		t.Errorf("Get c/obj = %q, want %q", got, "y")
	}
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const n = 16
	content := func(i int) string { return strings.Repeat(fmt.Sprintf("%02d", i), 32<<10) }
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Put(ctx, fmt.Sprintf("conc/%02d", i), strings.NewReader(content(i)))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Put: %v", err)
	}
	var want []blob.Entry
	for i := range n {
		k := fmt.Sprintf("conc/%02d", i)
		if got, _ := mustGet(t, s, k); string(got) != content(i) {
			t.Errorf("Get %q: wrong content (%d bytes)", k, len(got))
		}
		want = append(want, blob.Entry{Path: k, Size: int64(len(content(i)))})
	}
	checkList(t, s, "conc", want)
}

// testConcurrentOverwrite races writers of one key against readers: every read
// must see one complete version, never a mix or a prefix.
func testConcurrentOverwrite(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const (
		writers = 6
		size    = 256 << 10
	)
	version := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	mustPut(t, s, "race/key", string(version(0)))

	done := make(chan struct{})
	var readers sync.WaitGroup
	readErrs := make([]error, 3)
	for r := range readErrs {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, _, err := s.Get(ctx, "race/key")
				if err != nil {
					readErrs[r] = fmt.Errorf("Get: %w", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					readErrs[r] = fmt.Errorf("read: %w", err)
					return
				}
				if len(got) != size || bytes.Count(got, got[:1]) != size {
					readErrs[r] = fmt.Errorf("read a partial or mixed object: %d bytes starting %q", len(got), got[:min(len(got), 8)])
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() { _, errs[i] = s.Put(ctx, "race/key", bytes.NewReader(version(i))) })
	}
	wg.Wait()
	close(done)
	readers.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Put: %v", err)
	}
	if err := errors.Join(readErrs...); err != nil {
		t.Fatal(err)
	}
	got, _ := mustGet(t, s, "race/key")
	if len(got) != size || bytes.Count(got, got[:1]) != size {
		t.Errorf("final object is partial or mixed: %d bytes", len(got))
	}
}

var errSource = errors.New("blobtest: source failed")

// failingReader yields n generated bytes, then fails with errSource.
type failingReader struct {
	r io.Reader
	n int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errSource
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func testFailedPut(t *testing.T, s blob.Store) {
	ctx := t.Context()
	mustPut(t, s, "keep/obj", "original")
	for _, n := range []int64{0, 1 << 10, 2 << 20, 17 << 20} {
		t.Run(fmt.Sprintf("after %d bytes", n), func(t *testing.T) {
			for _, key := range []string{"keep/obj", "new/obj"} {
				src := &failingReader{r: rand.NewChaCha8([32]byte{2}), n: n}
				_, err := s.Put(ctx, key, src)
				if !errors.Is(err, errSource) {
					t.Fatalf("Put %q from a failing reader: error %v, want one wrapping %v", key, err, errSource)
				}
			}
			if got, _ := mustGet(t, s, "keep/obj"); string(got) != "original" {
				t.Errorf("failed overwrite changed the object: %d bytes", len(got))
			}
			_, err := s.Stat(ctx, "new/obj")
			wantCode(t, "Stat after failed Put", err, ferry.ENOTFOUND)
			checkList(t, s, "", []blob.Entry{{Path: "keep", IsDir: true}})
			checkList(t, s, "keep", []blob.Entry{{Path: "keep/obj", Size: 8}})
		})
	}
}

// cancelingReader cancels its context after n bytes and goes on yielding bytes.
type cancelingReader struct {
	cancel context.CancelFunc
	n      int64
	total  int64
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.total <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), c.total, 4096)]
	clear(p)
	c.total -= int64(len(p))
	if c.n -= int64(len(p)); c.n <= 0 {
		c.cancel()
	}
	return len(p), nil
}

func testCanceledPut(t *testing.T, s blob.Store) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.Put(ctx, "cancel/before", strings.NewReader("x"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a canceled context: %v, want context.Canceled", err)
		}
		_, err = s.Stat(t.Context(), "cancel/before")
		wantCode(t, "Stat", err, ferry.ENOTFOUND)
	})
	t.Run("midway", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, err := s.Put(ctx, "cancel/midway", &cancelingReader{cancel: cancel, n: 8 << 10, total: 64 << 10})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put canceled midway: %v, want context.Canceled", err)
		}
		_, err = s.Stat(t.Context(), "cancel/midway")
		wantCode(t, "Stat", err, ferry.ENOTFOUND)
	})
	checkList(t, s, "", nil)
}

func testURL(t *testing.T, s blob.Store) {
	if u := s.URL(); u == "" || !strings.Contains(u, "://") {
		t.Errorf("URL() = %q, want a URL", u)
	}
}

func mustPut(t *testing.T, s blob.Store, key, data string) {
	t.Helper()
	n, err := s.Put(t.Context(), key, strings.NewReader(data))
	if err != nil {
		t.Fatalf("Put %q: %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put %q returned %d bytes, want %d", key, n, len(data))
	}
}

func mustGet(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b, info
}

func checkList(t *testing.T, s blob.Store, prefix string, want []blob.Entry) {
	t.Helper()
	got, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("List %q:\n got  %+v\n want %+v", prefix, got, want)
	}
}

func wantCode(t *testing.T, op string, err error, code string) {
	t.Helper()
	if got := ferry.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", op, err, got, code)
	}
}
