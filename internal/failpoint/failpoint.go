//go:build !failpoint

// Package failpoint lets the crash tests kill the process at named points of
// Ferry's commit paths. Code calls Hit(name) where a crash matters. In a normal
// build — this file — Hit does nothing, holds no state and reads no
// environment; the compiler inlines it away. Built with `-tags failpoint`
// (only the crash tests do), Hit kills the process with SIGKILL at the n-th hit
// of the point named by FERRY_FAILPOINT=name:n (see failpoint_on.go). The
// points are the constants in points.go.
package failpoint

// Enabled reports whether this is a failpoint build.
const Enabled = false

// Hit marks the failpoint name. It does nothing in a normal build.
func Hit(name string) {}
