// Package sqlstore implements every stage's Store on database/sql, once, for
// the SQL dialects Ferry supports. internal/store/sqlite and
// internal/store/postgres open their databases, run their migrations and hand
// the connections to New; everything else lives here.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/failpoint"
)

// Dialect describes how a SQL backend differs from the common SQL written here.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// DollarParams is set when the backend numbers placeholders ($1, $2, …)
	// instead of using "?".
	DollarParams bool
	// IsUniqueViolation reports whether err is a unique-constraint violation.
	IsUniqueViolation func(err error) bool
}

// DB is a store over a SQL database. It is safe for concurrent use.
type DB struct {
	w, r *sql.DB
	d    Dialect
}

// New returns a DB that writes through w and reads through r (which may be the
// same pool). The caller owns both pools; Close closes them.
func New(w, r *sql.DB, d Dialect) *DB { return &DB{w: w, r: r, d: d} }

// Close closes the underlying pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// q rewrites "?" placeholders for the dialect.
func (db *DB) q(query string) string {
	if !db.d.DollarParams {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.txAt(ctx, "", "", fn)
}

// txAt is tx with the crash tests' failpoints (package failpoint) named
// before, hit once fn has written its rows and before COMMIT, and after, hit
// once COMMIT returned. They do nothing in a normal build.
func (db *DB) txAt(ctx context.Context, before, after string, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	failpoint.Hit(before)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	failpoint.Hit(after)
	return nil
}

// Migrate applies, in name order, the *.sql files of migrations that db has not
// applied yet, each in its own transaction, recording them in
// schema_migrations. It is safe to run on every start.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, migrations fs.FS) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	s := &DB{w: db, r: db, d: d}
	for _, name := range names {
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`), name).Scan(&n); err != nil || n > 0 {
				return err
			}
			for _, stmt := range strings.Split(string(body), ";\n") {
				if strings.TrimSpace(stripComments(stmt)) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (name) VALUES (?)`), name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func notFound(format string, args ...any) error {
	return ferry.Errorf(ferry.ENOTFOUND, format, args...)
}

func invalid(format string, args ...any) error {
	return ferry.Errorf(ferry.EINVALID, format, args...)
}

// parseID parses a numeric ID such as an experiment ID; ok is false when s is
// not one, which callers report as "not found".
func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}
