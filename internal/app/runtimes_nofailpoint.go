//go:build !failpoint

package app

import "github.com/ferry-ml/ferry/internal/runtime"

// addTestRuntimes adds nothing in a normal build: the fault-injecting
// runtime of failpoint builds (runtimes_failpoint.go) is not reachable here.
func addTestRuntimes(runtime.Registry) {}
