package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
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
