package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/postgres"
	"github.com/ferry-ml/ferry/internal/store/storetest"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// testURL returns the server named by FERRY_TEST_POSTGRES_URL. Without it the
// test is skipped locally and fails under CI, where .ci/run starts a server.
func testURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("FERRY_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FERRY_TEST_POSTGRES_URL is not set under CI; .ci/run must start PostgreSQL")
		}
		t.Skip("PostgreSQL tests skipped: set FERRY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:55432/postgres (or run .ci/run)")
	}
	return url
}

var dbSeq atomic.Int64

// freshDatabase creates an empty database for one test and drops it after.
func freshDatabase(t *testing.T, url string) string {
	t.Helper()
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("ferry_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", url)
		if err == nil {
			admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			admin.Close()
		}
	})
	i := strings.LastIndex(url, "/")
	rest := ""
	if q := strings.Index(url[i:], "?"); q >= 0 {
		rest = url[i+q:]
	}
	return url[:i+1] + name + rest
}

func TestTrackingStore(t *testing.T) {
	url := testURL(t)
	storetest.RunTracking(t, func(t *testing.T) tracking.Store {
		db, err := postgres.Open(context.Background(), freshDatabase(t, url))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestMigrateTwice(t *testing.T) {
	url := freshDatabase(t, testURL(t))
	for range 2 {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

func TestAssetStore(t *testing.T) {
	url := testURL(t)
	storetest.RunAssets(t, func(t *testing.T) dataset.AssetStore {
		db, err := postgres.Open(context.Background(), freshDatabase(t, url))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestRegistryStore(t *testing.T) {
	url := testURL(t)
	storetest.RunRegistry(t, func(t *testing.T) registry.Store {
		db, err := postgres.Open(context.Background(), freshDatabase(t, url))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestDeployStore(t *testing.T) {
	url := testURL(t)
	storetest.RunDeploy(t, func(t *testing.T) deploy.Store {
		db, err := postgres.Open(context.Background(), freshDatabase(t, url))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
