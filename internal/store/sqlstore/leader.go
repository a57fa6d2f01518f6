package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// Lease is a leader lease named by a string: on PostgreSQL a session
// advisory lock (pg_try_advisory_lock) held on a dedicated connection, so
// that of several servers on one database one at a time leads; on SQLite
// (one server) it is always held. It is safe for concurrent use.
type Lease struct {
	db  *DB
	key int64

	mu   sync.Mutex
	conn *sql.Conn // the connection holding the lock; nil when not held
}

var _ deploy.Leader = (*Lease)(nil)

// Leader returns the lease called name (such as "deploy-controller"). The
// advisory lock's key is a 64-bit FNV-1a hash of name.
func (db *DB) Leader(name string) *Lease {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &Lease{db: db, key: int64(h.Sum64())}
}

// Lead implements deploy.Leader: it tries to take the lease, or checks
// that the connection holding it is still alive (one round trip). A lost
// connection is reported as not held (its session, and with it the lock,
// is gone), with the error.
func (l *Lease) Lead(ctx context.Context) (bool, error) {
	if l.db.d.Name != "postgres" {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		var one int
		if err := l.conn.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
			l.drop()
			return false, fmt.Errorf("leader lease: lost: %w", err)
		}
		return true, nil
	}
	conn, err := l.db.w.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("leader lease: %w", err)
	}
	var held bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&held); err != nil {
		conn.Close()
		return false, fmt.Errorf("leader lease: %w", err)
	}
	if !held {
		conn.Close()
		return false, nil
	}
	l.conn = conn
	return true, nil
}

// Release gives the lease up, if held, so that another server takes it at
// its next Lead.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	l.drop()
	if err != nil {
		return fmt.Errorf("leader lease: release: %w", err)
	}
	return nil
}

// drop forgets the held connection. Its session may still hold the lock
// (when unlocking failed), so the connection is closed for good rather
// than returned to the pool.
func (l *Lease) drop() {
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn }) // closes it, out of the pool
	_ = l.conn.Close()
	l.conn = nil
}
