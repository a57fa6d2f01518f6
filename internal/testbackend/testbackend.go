// Package testbackend opens the embedded backend — a real SQLite file and a
// real artifact directory under the test's temporary directory — with the
// services over it, for tests and benchmarks of the layers above.
package testbackend

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/blob/file"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// Backend is an opened store and artifact directory with the tracking service.
type Backend struct {
	Dir       string // the data directory
	Store     *sqlstore.DB
	Artifacts *file.Store
	Tracking  *tracking.Service
	Registry  *registry.Service // without promotion rules
}

// Open opens a backend in a new temporary directory, with SQLite's
// synchronous setting ("" means full), and closes it when tb ends.
func Open(tb testing.TB, synchronous string) *Backend {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "ferry.db"), synchronous)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	blobs, err := file.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { blobs.Close() })
	svc := tracking.NewService(db, tracking.Options{})
	if err := svc.EnsureDefaultExperiment(ctx); err != nil {
		tb.Fatal(err)
	}
	reg := registry.NewService(db, svc, blobs, registry.Options{})
	return &Backend{Dir: dir, Store: db, Artifacts: blobs, Tracking: svc, Registry: reg}
}
