//go:build failpoint

package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Enabled reports whether this is a failpoint build.
const Enabled = true

// armed is the failpoint named by FERRY_FAILPOINT, read on the first Hit. This
// package-level state exists only in failpoint builds.
var armed = sync.OnceValue(func() *point {
	p, err := parse(os.Getenv("FERRY_FAILPOINT"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "failpoint: %v\n", err)
		os.Exit(2)
	}
	return p
})

// point is a failpoint that kills the process at its at-th hit.
type point struct {
	name string
	at   int64
	hits atomic.Int64
}

// parse reads "name:n" (n ≥ 1; "name" alone is "name:1"); "" arms nothing.
func parse(s string) (*point, error) {
	if s == "" {
		return nil, nil
	}
	name, count, ok := strings.Cut(s, ":")
	at := int64(1)
	if ok {
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("FERRY_FAILPOINT=%q: the count after %q must be a positive integer", s, name)
		}
		at = n
	}
	if name == "" {
		return nil, fmt.Errorf("FERRY_FAILPOINT=%q: no failpoint name", s)
	}
	return &point{name: name, at: at}, nil
}

// Hit kills the process with SIGKILL when name is the armed failpoint and this
// is its n-th hit. It does not return then.
func Hit(name string) {
	p := armed()
	if p == nil || p.name != name || p.hits.Add(1) != p.at {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint: %s hit %d times: killing the process\n", name, p.at)
	self, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = self.Kill()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "failpoint: kill: %v\n", err)
		os.Exit(3)
	}
	select {} // SIGKILL is on its way; nothing after the failpoint may run
}
