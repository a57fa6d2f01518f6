//go:build failpoint

package app

import (
	"github.com/ferry-ml/ferry/internal/failpoint/fault"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// addTestRuntimes adds the runtimes only failpoint builds have: the
// ferry_fault flavor, whose models fail or stall on purpose (package fault).
func addTestRuntimes(r runtime.Registry) { r[fault.Flavor] = fault.Loader(r) }
