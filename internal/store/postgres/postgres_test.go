package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/postgres"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
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

func TestAlertStore(t *testing.T) {
	url := testURL(t)
	storetest.RunAlerts(t, func(t *testing.T) alert.Store {
		db, err := postgres.Open(context.Background(), freshDatabase(t, url))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestMonitorStore runs the monitor suite; its replicas are separate
// connections pools on one database, as separate servers.
func TestMonitorStore(t *testing.T) {
	url := testURL(t)
	storetest.RunMonitor(t, func(t *testing.T) (monitor.Store, func() monitor.Store) {
		dbURL := freshDatabase(t, url)
		open := func() monitor.Store {
			db, err := postgres.Open(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return open(), open
	})
}

// TestLeaderLease: of two servers on one database, one holds the lease;
// when it releases it (or its connection dies), the other takes it over.
func TestLeaderLease(t *testing.T) {
	ctx := context.Background()
	url := freshDatabase(t, testURL(t))
	open := func() *sqlstore.DB {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open().Leader("deploy"), open().Leader("deploy")
	lead := func(l *sqlstore.Lease) bool {
		t.Helper()
		held, err := l.Lead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	if !lead(a) || !lead(a) {
		t.Fatal("the first server does not lead")
	}
	if lead(b) {
		t.Fatal("two servers lead at once")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !lead(b) {
		t.Fatal("the second server does not take over after a release")
	}
	if lead(a) {
		t.Fatal("the first server leads again while the second holds the lease")
	}

	// The holder's session dies: it is no longer leader, and the other one takes over.
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	if held, err := b.Lead(ctx); held || err == nil {
		t.Fatalf("after its connection died the holder leads: %v, %v", held, err)
	}
	// The server frees a dead session's locks as the backend exits, just after.
	for n, deadline := 1, time.Now().Add(10*time.Second); n > 0; {
		if err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead session's advisory lock is still held after 10s")
		}
	}
	if !lead(a) {
		t.Fatal("the first server does not take over after the holder's connection died")
	}
}
