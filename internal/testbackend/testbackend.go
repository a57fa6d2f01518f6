// Package testbackend builds Ferry through its composition root
// (internal/app) over the embedded backend — a real SQLite file and a real
// artifact directory under the test's temporary directory — for tests and
// benchmarks of the layers above.
package testbackend

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/registry"
)

// Backend is Ferry opened over a temporary data directory.
type Backend struct {
	*app.App
	Dir string // the data directory
}

// Options vary the backend a test opens.
type Options struct {
	// Synchronous is SQLite's synchronous setting; "" means full.
	Synchronous string
	// Policy is the registry's promotion policy; nil means no rules.
	Policy *registry.Policy
	// Now is the services' clock; nil means time.Now.
	Now func() time.Time
	// MaxRequestBytes bounds the API's JSON bodies; 0 keeps the default.
	MaxRequestBytes int64
}

// Open opens Ferry over a new temporary data directory, with SQLite's
// synchronous setting ("" means full) and no promotion rules, and closes it
// when tb ends.
func Open(tb testing.TB, synchronous string) *Backend {
	tb.Helper()
	return OpenWith(tb, Options{Synchronous: synchronous})
}

// OpenWith is Open with options.
func OpenWith(tb testing.TB, opts Options) *Backend {
	tb.Helper()
	dir := tb.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.SQLite.Synchronous = opts.Synchronous
	if opts.MaxRequestBytes > 0 {
		cfg.Server.MaxRequestBytes = opts.MaxRequestBytes
	}
	cfg = cfg.Resolved()
	a, err := app.Open(context.Background(), cfg, app.Options{Policy: opts.Policy, Now: opts.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return &Backend{App: a, Dir: dir}
}
