// Package sqlite opens Ferry's embedded default store: one SQLite file in WAL
// mode, with foreign keys, a busy timeout and embedded migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ferry-ml/ferry/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Synchronous settings: Full makes every acknowledged commit survive power
// loss; Normal survives a crash of the process but may lose the last commits
// on power loss, and is faster.
const (
	SynchronousFull   = "full"
	SynchronousNormal = "normal"
)

// Open opens (creating when absent) the SQLite database at path, applies
// pending migrations and returns the store. synchronous is SynchronousFull or
// SynchronousNormal ("" means full). Writes go through one connection, so
// writers queue instead of failing with SQLITE_BUSY; reads use a pool.
func Open(ctx context.Context, path, synchronous string) (*sqlstore.DB, error) {
	switch strings.ToLower(synchronous) {
	case "":
		synchronous = SynchronousFull
	case SynchronousFull, SynchronousNormal:
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: want %q or %q", synchronous, SynchronousFull, SynchronousNormal)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	dsn := func(txlock string) string {
		v := url.Values{}
		v.Add("_pragma", "busy_timeout(10000)")
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "foreign_keys(1)")
		v.Add("_pragma", "synchronous("+synchronous+")")
		v.Add("_pragma", "case_sensitive_like(1)")
		v.Add("_txlock", txlock)
		return "file:" + path + "?" + v.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	r.SetMaxIdleConns(max(4, runtime.NumCPU()))
	d := Dialect()
	sub, _ := fs.Sub(migrations, "migrations")
	if err := sqlstore.Migrate(ctx, w, d, sub); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return sqlstore.New(w, r, d), nil
}

// Dialect returns SQLite's sqlstore dialect.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{Name: "sqlite", IsUniqueViolation: isUniqueViolation}
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
