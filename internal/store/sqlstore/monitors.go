package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/ferry-ml/ferry/internal/monitor"
)

func monitorNotFound(name string) error { return notFound("monitor %s not found", name) }

// PutMonitor implements monitor.Store.
func (db *DB) PutMonitor(ctx context.Context, m monitor.Monitor, updatedAt time.Time, ev monitor.MonitorEvent) (monitor.StoredMonitor, error) {
	spec, err := json.Marshal(m)
	if err != nil {
		return monitor.StoredMonitor{}, wrap("put monitor", err)
	}
	out := monitor.StoredMonitor{Monitor: m, UpdatedAt: updatedAt.UTC()}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO monitors (name, spec, serial, updated_at) VALUES (?, ?, 1, ?)
ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, serial = monitors.serial + 1, updated_at = excluded.updated_at`),
			m.Name, string(spec), updatedAt.UnixMilli())
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`SELECT serial FROM monitors WHERE name = ?`), m.Name).Scan(&out.Serial); err != nil {
			return err
		}
		return db.insertMonitorAudit(ctx, tx, ev)
	})
	return out, wrap("put monitor", err)
}

// GetMonitor implements monitor.Store.
func (db *DB) GetMonitor(ctx context.Context, name string) (monitor.StoredMonitor, error) {
	ms, err := db.queryMonitors(ctx, db.q(`SELECT spec, serial, updated_at FROM monitors WHERE name = ?`), name)
	switch {
	case err != nil:
		return monitor.StoredMonitor{}, wrap("get monitor", err)
	case len(ms) == 0:
		return monitor.StoredMonitor{}, monitorNotFound(name)
	}
	return ms[0], nil
}

// ListMonitors implements monitor.Store.
func (db *DB) ListMonitors(ctx context.Context) ([]monitor.StoredMonitor, error) {
	ms, err := db.queryMonitors(ctx, `SELECT spec, serial, updated_at FROM monitors ORDER BY name`)
	return ms, wrap("list monitors", err)
}

func (db *DB) queryMonitors(ctx context.Context, query string, args ...any) ([]monitor.StoredMonitor, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []monitor.StoredMonitor{}
	for rows.Next() {
		var m monitor.StoredMonitor
		var spec string
		var updated int64
		if err := rows.Scan(&spec, &m.Serial, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(spec), &m.Monitor); err != nil {
			return nil, err
		}
		m.UpdatedAt = time.UnixMilli(updated).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteMonitor implements monitor.Store.
func (db *DB) DeleteMonitor(ctx context.Context, name string, ev monitor.MonitorEvent) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if n, err := affected(tx.ExecContext(ctx, db.q(`DELETE FROM monitors WHERE name = ?`), name)); err != nil {
			return err
		} else if n == 0 {
			return monitorNotFound(name)
		}
		return db.insertMonitorAudit(ctx, tx, ev)
	})
	return wrap("delete monitor", err)
}

func (db *DB) insertMonitorAudit(ctx context.Context, tx *sql.Tx, ev monitor.MonitorEvent) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO monitor_audit (time, principal, action, monitor, detail) VALUES (?, ?, ?, ?, ?)`),
		ev.Time, ev.Principal, ev.Action, ev.Monitor, ev.Detail)
	return err
}

// ListMonitorAudit implements monitor.Store.
func (db *DB) ListMonitorAudit(ctx context.Context, name string) ([]monitor.MonitorEvent, error) {
	q, args := `SELECT time, principal, action, monitor, detail FROM monitor_audit ORDER BY id`, []any{}
	if name != "" {
		q, args = db.q(`SELECT time, principal, action, monitor, detail FROM monitor_audit WHERE monitor = ? ORDER BY id`), []any{name}
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list monitor audit", err)
	}
	defer rows.Close()
	out := []monitor.MonitorEvent{}
	for rows.Next() {
		var ev monitor.MonitorEvent
		if err := rows.Scan(&ev.Time, &ev.Principal, &ev.Action, &ev.Monitor, &ev.Detail); err != nil {
			return nil, wrap("list monitor audit", err)
		}
		out = append(out, ev)
	}
	return out, wrap("list monitor audit", rows.Err())
}
