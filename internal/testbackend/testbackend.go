// Package testbackend builds Ferry through its composition root
// (internal/app) over the embedded backend — a real SQLite file and a real
// artifact directory under the test's temporary directory — for tests and
// benchmarks of the layers above.
package testbackend

import (
	"context"
	"testing"

	"github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/config"
)

// Backend is Ferry opened over a temporary data directory.
type Backend struct {
	*app.App
	Dir string // the data directory
}

// Open opens Ferry over a new temporary data directory, with SQLite's
// synchronous setting ("" means full) and no promotion rules, and closes it
// when tb ends.
func Open(tb testing.TB, synchronous string) *Backend {
	tb.Helper()
	dir := tb.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.SQLite.Synchronous = synchronous
	cfg = cfg.Resolved()
	a, err := app.Open(context.Background(), cfg, app.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return &Backend{App: a, Dir: dir}
}
