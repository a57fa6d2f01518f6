package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how the helper ended it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a recorder in its own goroutine, as the testing package
// runs a test, and returns the recorder once fn returned or ended the test.
func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestNeeds(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "here.csv"), []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		ci, path    string // CI and PATH; path "" keeps the test's PATH
		fn          func(tb testing.TB)
		skip, fatal string // substrings of the skip or failure message; both "" means it went on
	}{
		{name: "unavailable outside CI skips", fn: func(tb testing.TB) { Unavailable(tb, "no %s", "tool") }, skip: "no tool"},
		{name: "unavailable under CI fails", ci: "1", fn: func(tb testing.TB) { Unavailable(tb, "no %s", "tool") }, fatal: "no tool (required under CI)"},
		{name: "shared data present", ci: "1", fn: func(tb testing.TB) {
			if got := SharedData(tb, "here.csv"); got != filepath.Join(data, "here.csv") {
				t.Errorf("SharedData = %q", got)
			}
		}},
		{name: "shared data absent outside CI skips", fn: func(tb testing.TB) { SharedData(tb, "gone.csv") }, skip: "gone.csv is absent"},
		{name: "shared data absent under CI fails", ci: "1", fn: func(tb testing.TB) { SharedData(tb, "gone.csv") }, fatal: "gone.csv is absent"},
		{name: "no git outside CI skips", path: data, fn: func(tb testing.TB) { NeedGit(tb) }, skip: "git is not installed"},
		{name: "no git under CI fails", ci: "1", path: data, fn: func(tb testing.TB) { NeedGit(tb) }, fatal: "git is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv("FERRY_SHARED_DATA", data)
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
			}
			r := run(t, tt.fn)
			if !strings.Contains(r.skipped, tt.skip) || (tt.skip == "") != (r.skipped == "") {
				t.Errorf("skipped with %q, want %q", r.skipped, tt.skip)
			}
			if !strings.Contains(r.failed, tt.fatal) || (tt.fatal == "") != (r.failed == "") {
				t.Errorf("failed with %q, want %q", r.failed, tt.fatal)
			}
		})
	}
}

func TestSharedDataBesideTheModule(t *testing.T) {
	t.Setenv("FERRY_SHARED_DATA", "")
	t.Setenv("CI", "")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s has no go.mod: %v", root, err)
	}
	want := filepath.Join(filepath.Dir(root), "shared", "data", "iris.csv")
	r := run(t, func(tb testing.TB) {
		if got := SharedData(tb, "iris.csv"); got != want {
			t.Errorf("SharedData = %q, want %q", got, want)
		}
	})
	if r.skipped != "" && !strings.Contains(r.skipped, want) {
		t.Errorf("skip message %q does not name %s", r.skipped, want)
	}
}
