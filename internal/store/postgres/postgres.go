// Package postgres opens Ferry's store for teams on PostgreSQL through pgx,
// applying embedded migrations.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/ferry-ml/ferry/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database at url (postgres://user:pass@host:port/db),
// applies pending migrations and returns the store.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	d := Dialect()
	sub, _ := fs.Sub(migrations, "migrations")
	if err := migrate(ctx, db, d, sub); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return sqlstore.New(db, db, d), nil
}

// Dialect returns PostgreSQL's sqlstore dialect.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{Name: "postgres", DollarParams: true, IsUniqueViolation: isUniqueViolation}
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// migrationLock is the advisory lock that serialises migrations of servers
// starting at the same time.
const migrationLock = 4242

func migrate(ctx context.Context, db *sql.DB, d sqlstore.Dialect, sub fs.FS) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	return sqlstore.Migrate(ctx, db, d, sub)
}
