// Package gitinfo finds the git commit of the code a run comes from, so that
// every run can be traced to its source.
package gitinfo

import (
	"bytes"
	"context"
	"os/exec"
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
