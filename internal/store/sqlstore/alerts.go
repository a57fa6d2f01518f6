package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
)

// alertMillis and alertTime store times as Unix milliseconds, the zero time as 0.
func alertMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func alertTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func alertBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

const alertColumns = `monitor, signal, feature, state, endpoint, deployment, metric, score, threshold, breached, detail, since, evaluated, version`

func scanAlert(s interface{ Scan(...any) error }) (alert.Alert, error) {
	var a alert.Alert
	var breached int
	var since, evaluated int64
	err := s.Scan(&a.Monitor, &a.Signal, &a.Feature, &a.State, &a.Endpoint, &a.Deployment, &a.Metric,
		&a.Score, &a.Threshold, &breached, &a.Detail, &since, &evaluated, &a.Version)
	a.Breached, a.Since, a.Evaluated = breached != 0, alertTime(since), alertTime(evaluated)
	return a, err
}

// GetAlert implements alert.Store.
func (db *DB) GetAlert(ctx context.Context, key alert.Key) (alert.Alert, error) {
	a, err := scanAlert(db.r.QueryRowContext(ctx, db.q(`SELECT `+alertColumns+` FROM alert_states WHERE monitor = ? AND deployment = ? AND signal = ? AND feature = ?`),
		key.Monitor, key.Deployment, key.Signal, key.Feature))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Alert{}, notFound("no alert for monitor %s signal %s feature %q", key.Monitor, key.Signal, key.Feature)
	}
	return a, wrap("get alert", err)
}

// ListAlerts implements alert.Store.
func (db *DB) ListAlerts(ctx context.Context, monitor string) ([]alert.Alert, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+alertColumns+` FROM alert_states WHERE ? = '' OR monitor = ? ORDER BY monitor, deployment, signal, feature`), monitor, monitor)
	if err != nil {
		return nil, wrap("list alerts", err)
	}
	defer rows.Close()
	var out []alert.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, wrap("list alerts", err)
		}
		out = append(out, a)
	}
	return out, wrap("list alerts", rows.Err())
}

// SaveAlert implements alert.Store.
func (db *DB) SaveAlert(ctx context.Context, a alert.Alert, ev *alert.Event) (int64, int64, error) {
	var eventID int64
	prev := a.Version
	err := db.tx(ctx, func(tx *sql.Tx) error {
		args := []any{string(a.State), a.Endpoint, a.Deployment, a.Metric, a.Score, a.Threshold, alertBool(a.Breached), a.Detail,
			alertMillis(a.Since), alertMillis(a.Evaluated), prev + 1, a.Monitor, a.Signal, a.Feature}
		var res sql.Result
		var err error
		if prev == 0 {
			res, err = tx.ExecContext(ctx, db.q(`INSERT INTO alert_states (state, endpoint, deployment, metric, score, threshold, breached, detail, since, evaluated, version, monitor, signal, feature)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (monitor, deployment, signal, feature) DO NOTHING`), args...)
		} else {
			res, err = tx.ExecContext(ctx, db.q(`UPDATE alert_states SET state = ?, endpoint = ?, deployment = ?, metric = ?, score = ?, threshold = ?, breached = ?, detail = ?,
				since = ?, evaluated = ?, version = ? WHERE monitor = ? AND signal = ? AND feature = ? AND deployment = ? AND version = ?`), append(args, a.Deployment, prev)...)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ferry.Errorf(ferry.ECONFLICT, "alert %s/%s/%s changed meanwhile (not at version %d); read it again", a.Monitor, a.Signal, a.Feature, prev)
		}
		if ev == nil {
			return nil
		}
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO alert_events (time, monitor, signal, feature, endpoint, deployment, metric, state, previous, score, threshold, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			alertMillis(ev.Time), ev.Monitor, ev.Signal, ev.Feature, ev.Endpoint, ev.Deployment, ev.Metric, string(ev.State), string(ev.Previous),
			ev.Score, ev.Threshold, ev.Detail).Scan(&eventID)
	})
	if err != nil {
		return 0, 0, wrap("save alert", err)
	}
	return prev + 1, eventID, nil
}

// ListAlertEvents implements alert.Store.
func (db *DB) ListAlertEvents(ctx context.Context, since int64, limit int) ([]alert.Event, error) {
	if limit <= 0 {
		return nil, invalid("list alert events: limit must be positive")
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, time, monitor, signal, feature, endpoint, deployment, metric, state, previous, score, threshold, detail
		FROM alert_events WHERE id > ? ORDER BY id LIMIT ?`), since, limit)
	if err != nil {
		return nil, wrap("list alert events", err)
	}
	defer rows.Close()
	var out []alert.Event
	for rows.Next() {
		var e alert.Event
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Monitor, &e.Signal, &e.Feature, &e.Endpoint, &e.Deployment, &e.Metric, &e.State, &e.Previous,
			&e.Score, &e.Threshold, &e.Detail); err != nil {
			return nil, wrap("list alert events", err)
		}
		e.Time, e.Type = alertTime(t), alert.EventType(e.State)
		out = append(out, e)
	}
	return out, wrap("list alert events", rows.Err())
}

// AddAlertDelivery implements alert.Store.
func (db *DB) AddAlertDelivery(ctx context.Context, d alert.Delivery) (int64, error) {
	var id int64
	err := db.w.QueryRowContext(ctx, db.q(`INSERT INTO alert_deliveries (delivery_id, event_id, webhook, attempt, time, status, error, duration)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		d.DeliveryID, d.EventID, d.Webhook, d.Attempt, alertMillis(d.Time), d.Status, d.Error, int64(d.Duration)).Scan(&id)
	return id, wrap("add alert delivery", err)
}

// ListAlertDeliveries implements alert.Store.
func (db *DB) ListAlertDeliveries(ctx context.Context, eventID int64) ([]alert.Delivery, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, delivery_id, event_id, webhook, attempt, time, status, error, duration
		FROM alert_deliveries WHERE event_id = ? ORDER BY id`), eventID)
	if err != nil {
		return nil, wrap("list alert deliveries", err)
	}
	defer rows.Close()
	var out []alert.Delivery
	for rows.Next() {
		var d alert.Delivery
		var t, dur int64
		if err := rows.Scan(&d.ID, &d.DeliveryID, &d.EventID, &d.Webhook, &d.Attempt, &t, &d.Status, &d.Error, &dur); err != nil {
			return nil, wrap("list alert deliveries", err)
		}
		d.Time, d.Duration = alertTime(t), time.Duration(dur)
		out = append(out, d)
	}
	return out, wrap("list alert deliveries", rows.Err())
}
