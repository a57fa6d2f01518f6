package gitinfo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/testenv"
)

func TestDetect(t *testing.T) {
	testenv.NeedGit(t)
	dir := t.TempDir()
	ctx := context.Background()
	if _, ok := Detect(ctx, dir); ok {
		t.Fatal("detected a commit outside a repository")
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "train.py"), []byte("print(1)\n"), 0o644)
	git("add", ".")
	git("commit", "-qm", "first")
	git("remote", "add", "origin", "https://user:secret@example.com/team/repo.git")
	info, ok := Detect(ctx, dir)
	if !ok || len(info.Commit) != 40 || info.Dirty || info.Branch != "main" || info.Remote != "https://example.com/team/repo.git" {
		t.Fatalf("clean tree: %+v ok=%v", info, ok)
	}
	os.WriteFile(filepath.Join(dir, "train.py"), []byte("print(2)\n"), 0o644)
	if info, _ := Detect(ctx, dir); !info.Dirty {
		t.Fatal("modified tree not reported dirty")
	}
}
