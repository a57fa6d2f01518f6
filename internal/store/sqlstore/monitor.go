package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/monitor"
)

var _ monitor.Store = (*DB)(nil)

// labelChunk bounds the rows of one statement (6 parameters a row), well
// under SQLite's and PostgreSQL's limits on parameters.
const labelChunk = 500

// PutLabels implements monitor.Store: it reads the stored labels of the
// batch's requests, then upserts those that are new or differ, in one
// transaction.
func (db *DB) PutLabels(ctx context.Context, labels []monitor.Label) (monitor.LabelCounts, error) {
	var counts monitor.LabelCounts
	err := db.tx(ctx, func(tx *sql.Tx) error {
		counts = monitor.LabelCounts{}
		for start := 0; start < len(labels); start += labelChunk {
			chunk := labels[start:min(start+labelChunk, len(labels))]
			stored, err := db.storedLabels(ctx, tx, chunk)
			if err != nil {
				return err
			}
			var write []monitor.Label
			for _, l := range chunk {
				old, ok := stored[[2]string{l.Endpoint, l.RequestID}]
				switch {
				case !ok:
					counts.Created++
				case old.Value == l.Value && old.Time.Equal(l.Time):
					counts.Unchanged++
					continue
				default:
					counts.Replaced++
				}
				write = append(write, l)
			}
			if err := db.upsertLabels(ctx, tx, write); err != nil {
				return err
			}
		}
		return nil
	})
	return counts, wrap("put labels", err)
}

// storedLabels returns the stored labels of the requests of ls, by
// (endpoint, request id).
func (db *DB) storedLabels(ctx context.Context, tx *sql.Tx, ls []monitor.Label) (map[[2]string]monitor.Label, error) {
	byEndpoint := map[string][]any{}
	for _, l := range ls {
		byEndpoint[l.Endpoint] = append(byEndpoint[l.Endpoint], l.RequestID)
	}
	out := make(map[[2]string]monitor.Label, len(ls))
	for endpoint, ids := range byEndpoint {
		found, err := db.queryLabels(ctx, tx, `SELECT `+labelColumns+` FROM monitor_labels WHERE endpoint = ? AND request_id IN (`+placeholders(len(ids))+`)`, append([]any{endpoint}, ids...)...)
		if err != nil {
			return nil, err
		}
		for _, l := range found {
			out[[2]string{l.Endpoint, l.RequestID}] = l
		}
	}
	return out, nil
}

func (db *DB) upsertLabels(ctx context.Context, tx *sql.Tx, ls []monitor.Label) error {
	if len(ls) == 0 {
		return nil
	}
	args := make([]any, 0, 6*len(ls))
	for _, l := range ls {
		args = append(args, l.Endpoint, l.RequestID, l.Value, nullMillis(l.Time), l.ReceivedAt.UnixMilli(), l.Principal)
	}
	rows := strings.Repeat("(?, ?, ?, ?, ?, ?), ", len(ls))
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO monitor_labels (endpoint, request_id, label, time, received_at, principal) VALUES `+rows[:len(rows)-2]+
		` ON CONFLICT (endpoint, request_id) DO UPDATE SET label = excluded.label, time = excluded.time, received_at = excluded.received_at, principal = excluded.principal`), args...)
	return err
}

const labelColumns = `endpoint, request_id, label, time, received_at, principal`

// queryer is a pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryLabels runs a query (with "?" placeholders) selecting labelColumns.
func (db *DB) queryLabels(ctx context.Context, q queryer, query string, args ...any) ([]monitor.Label, error) {
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []monitor.Label{}
	for rows.Next() {
		var l monitor.Label
		var at sql.NullInt64
		var received int64
		if err := rows.Scan(&l.Endpoint, &l.RequestID, &l.Value, &at, &received, &l.Principal); err != nil {
			return nil, err
		}
		if at.Valid {
			l.Time = time.UnixMilli(at.Int64).UTC()
		}
		l.ReceivedAt = time.UnixMilli(received).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// GetLabels implements monitor.Store.
func (db *DB) GetLabels(ctx context.Context, endpoint string, requestIDs []string) ([]monitor.Label, error) {
	out := []monitor.Label{}
	for start := 0; start < len(requestIDs); start += labelChunk {
		chunk := requestIDs[start:min(start+labelChunk, len(requestIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, endpoint)
		for _, id := range chunk {
			args = append(args, id)
		}
		found, err := db.queryLabels(ctx, db.r, `SELECT `+labelColumns+` FROM monitor_labels WHERE endpoint = ? AND request_id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, wrap("get labels", err)
		}
		out = append(out, found...)
	}
	return out, nil
}

// ListLabels implements monitor.Store.
func (db *DB) ListLabels(ctx context.Context, endpoint string, from, to time.Time) ([]monitor.Label, error) {
	q, args := `SELECT `+labelColumns+` FROM monitor_labels WHERE endpoint = ?`, []any{endpoint}
	q, args = timeRange(q, args, "received_at", from, to)
	out, err := db.queryLabels(ctx, db.r, q+` ORDER BY received_at, request_id`, args...)
	return out, wrap("list labels", err)
}

// CountLabels implements monitor.Store.
func (db *DB) CountLabels(ctx context.Context, endpoint string) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM monitor_labels WHERE endpoint = ?`), endpoint).Scan(&n)
	return n, wrap("count labels", err)
}

// PutProfile implements monitor.Store.
func (db *DB) PutProfile(ctx context.Context, source string, w monitor.WindowProfile) error {
	if source == "" {
		return invalid("a window profile needs its source")
	}
	profile, err := json.Marshal(w.Profile)
	if err != nil {
		return wrap("put profile", err)
	}
	_, err = db.w.ExecContext(ctx, db.q(`INSERT INTO monitor_profiles (endpoint, deployment, window_start, window_seconds, source, row_count, profile, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (endpoint, deployment, window_start, window_seconds, source)
		DO UPDATE SET row_count = excluded.row_count, profile = excluded.profile, updated_at = excluded.updated_at`),
		w.Endpoint, w.Deployment, w.Start.UnixMilli(), w.Seconds, source, w.Rows, string(profile), w.UpdatedAt.UnixMilli())
	return wrap("put profile", err)
}

// ListProfiles implements monitor.Store: it reads every source's row of
// the windows in range and merges them with monitor.MergeWindows.
func (db *DB) ListProfiles(ctx context.Context, endpoint, deployment string, from, to time.Time) ([]monitor.WindowProfile, error) {
	q, args := `SELECT endpoint, deployment, window_start, window_seconds, source, row_count, profile, updated_at FROM monitor_profiles WHERE endpoint = ?`, []any{endpoint}
	if deployment != "" {
		q, args = q+` AND deployment = ?`, append(args, deployment)
	}
	q, args = timeRange(q, args, "window_start", from, to)
	rows, err := db.r.QueryContext(ctx, db.q(q+` ORDER BY window_start, deployment, window_seconds, source`), args...)
	if err != nil {
		return nil, wrap("list profiles", err)
	}
	defer rows.Close()
	var parts []monitor.WindowProfile
	for rows.Next() {
		var w monitor.WindowProfile
		var start, updated int64
		var source, profile string
		if err := rows.Scan(&w.Endpoint, &w.Deployment, &start, &w.Seconds, &source, &w.Rows, &profile, &updated); err != nil {
			return nil, wrap("list profiles", err)
		}
		if err := json.Unmarshal([]byte(profile), &w.Profile); err != nil {
			return nil, wrap("list profiles", err)
		}
		w.Start, w.UpdatedAt, w.Sources = time.UnixMilli(start).UTC(), time.UnixMilli(updated).UTC(), []string{source}
		parts = append(parts, w)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list profiles", err)
	}
	out, err := monitor.MergeWindows(parts)
	if out == nil && err == nil {
		out = []monitor.WindowProfile{}
	}
	return out, err
}

// timeRange adds column >= from and column < to (each when not zero), in
// Unix milliseconds, to a query that has a WHERE clause.
func timeRange(q string, args []any, column string, from, to time.Time) (string, []any) {
	if !from.IsZero() {
		q, args = q+` AND `+column+` >= ?`, append(args, from.UnixMilli())
	}
	if !to.IsZero() {
		q, args = q+` AND `+column+` < ?`, append(args, to.UnixMilli())
	}
	return q, args
}

// nullMillis is t in Unix milliseconds, or NULL when t is zero.
func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}
