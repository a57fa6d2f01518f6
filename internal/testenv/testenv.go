// Package testenv answers tests' questions about their environment — where the
// shared data folder is, whether git is installed — in one way: a test whose
// need is not met is skipped with a message outside CI and fails under CI (the
// CI environment variable set, as .ci/run sets it), where every need must be
// met.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Unavailable ends t because something it needs is missing: it fails t when
// the CI environment variable is set and skips it otherwise, with the message
// formatted from format and args in both cases.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (required under CI)", msg)
	}
	t.Skip(msg)
}

// SharedData returns the path of name in the shared data folder: the folder
// FERRY_SHARED_DATA names, or else ../shared/data beside the module's root
// (the directory holding go.mod, found upwards from the working directory).
// When the file is absent the test is skipped, or fails under CI.
func SharedData(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("FERRY_SHARED_DATA")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			Unavailable(t, "shared data folder: %v", err)
		}
		dir = filepath.Join(filepath.Dir(root), "shared", "data")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		Unavailable(t, "%s is absent (%v): the shared data folder is not beside the repository (or set FERRY_SHARED_DATA)", path, err)
	}
	return path
}

// NeedGit returns the path of the git command. When git is not installed the
// test is skipped, or fails under CI.
func NeedGit(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		Unavailable(t, "git is not installed: %v", err)
	}
	return p
}

// moduleRoot is the nearest directory upwards of the working directory that
// holds a go.mod file.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
