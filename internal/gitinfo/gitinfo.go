// Package gitinfo finds the git commit of the code a run comes from, so that
// every run can be traced to its source.
package gitinfo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Info is the state of a git work tree.
type Info struct {
	Commit string // full hash of HEAD
	Dirty  bool   // tracked or untracked changes not committed
	Branch string // "" when HEAD is detached
	Remote string // URL of the "origin" remote, credentials removed; "" if none
}

// Detect reads the git state of the work tree containing dir. ok is false when
// dir is not in a git work tree, git is not installed, or ctx ends; Detect never
// fails otherwise.
func Detect(ctx context.Context, dir string) (info Info, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	run := func(args ...string) (string, bool) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		if cmd.Run() != nil {
			return "", false
		}
		return strings.TrimSpace(out.String()), true
	}
	commit, ok := run("rev-parse", "HEAD")
	if !ok || len(commit) < 40 {
		return Info{}, false
	}
	info.Commit = commit
	status, _ := run("status", "--porcelain")
	info.Dirty = status != ""
	info.Branch, _ = run("symbolic-ref", "--short", "-q", "HEAD")
	remote, _ := run("remote", "get-url", "origin")
	info.Remote = stripCredentials(remote)
	return info, true
}

// stripCredentials removes user:password@ from a URL-shaped remote.
func stripCredentials(remote string) string {
	scheme, rest, ok := strings.Cut(remote, "://")
	if !ok {
		return remote
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && at < strings.IndexAny(rest+"/", "/") {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}

// SourceTags returns the tags MLflow's clients set to say where a run comes
// from: mlflow.user, mlflow.source.name, mlflow.source.type and, when dir (or
// the working directory) is in a git work tree, mlflow.source.git.commit,
// mlflow.source.git.branch, mlflow.source.git.repoURL and
// ferry.source.git.dirty.
func SourceTags(ctx context.Context, dir string, noGit bool) map[string]string {
	tags := map[string]string{"mlflow.source.type": "LOCAL"}
	if u, err := user.Current(); err == nil {
		tags["mlflow.user"] = u.Username
	}
	if exe, err := os.Executable(); err == nil {
		tags["mlflow.source.name"] = filepath.Base(exe)
	}
	if noGit {
		return tags
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	if info, ok := Detect(ctx, dir); ok {
		tags["mlflow.source.git.commit"] = info.Commit
		tags["ferry.source.git.dirty"] = strconv.FormatBool(info.Dirty)
		if info.Branch != "" {
			tags["mlflow.source.git.branch"] = info.Branch
		}
		if info.Remote != "" {
			tags["mlflow.source.git.repoURL"] = info.Remote
		}
	}
	return tags
}
