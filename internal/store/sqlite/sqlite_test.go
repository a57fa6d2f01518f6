package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
	"github.com/ferry-ml/ferry/internal/store/storetest"
	"github.com/ferry-ml/ferry/internal/tracking"
)

func TestTrackingStore(t *testing.T) {
	storetest.RunTracking(t, func(t *testing.T) tracking.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	db, err := sqlite.Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	s := tracking.NewService(db, tracking.Options{})
	if err := s.EnsureDefaultExperiment(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := s.CreateExperiment(ctx, "kept", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path, "")
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if e, err := db.GetExperiment(ctx, id); err != nil || e.Name != "kept" {
		t.Fatalf("after reopen: %+v, %v", e, err)
	}
}

func TestOpenRejectsBadSynchronous(t *testing.T) {
	if _, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), "off"); err == nil {
		t.Fatal("synchronous=off accepted")
	}
}

func TestAssetStore(t *testing.T) {
	storetest.RunAssets(t, func(t *testing.T) dataset.AssetStore {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestRegistryStore(t *testing.T) {
	storetest.RunRegistry(t, func(t *testing.T) registry.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestDeployStore(t *testing.T) {
	storetest.RunDeploy(t, func(t *testing.T) deploy.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestAlertStore(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) alert.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestMonitorStore(t *testing.T) {
	storetest.RunMonitor(t, func(t *testing.T) (monitor.Store, func() monitor.Store) {
		path := filepath.Join(t.TempDir(), "ferry.db")
		open := func() monitor.Store {
			db, err := sqlite.Open(context.Background(), path, sqlite.SynchronousNormal)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open
	})
}

// TestLeaderLeaseAfterKill checks the leader lease on SQLite, where one
// server owns the file: it is always held, so a server started on the data
// directory of one that died holding it (never released, as after SIGKILL)
// leads at once; Release is a no-op. cmd/ferry's TestKillMidCanary shows
// the same with real processes.
func TestLeaderLeaseAfterKill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	open := func() *sqlstore.DB {
		db, err := sqlite.Open(ctx, path, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dead := open().Leader("deploy-controller")
	if held, err := dead.Lead(ctx); !held || err != nil {
		t.Fatalf("first server: held %v, %v; want held", held, err)
	}
	next := open().Leader("deploy-controller") // the dead one never released
	for i := range 2 {
		if held, err := next.Lead(ctx); !held || err != nil {
			t.Fatalf("restarted server, Lead %d: held %v, %v; want held", i+1, held, err)
		}
	}
	if err := next.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
}
