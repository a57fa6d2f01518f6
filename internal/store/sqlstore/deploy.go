package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
)

var _ deploy.Store = (*DB)(nil)

func endpointNotFound(name string) error { return notFound("endpoint %s not found", name) }

func deploymentNotFound(endpoint, name string) error {
	return notFound("deployment %s/%s not found", endpoint, name)
}

// GetEndpoint implements deploy.Store.
func (db *DB) GetEndpoint(ctx context.Context, name string) (deploy.Endpoint, error) {
	var e deploy.Endpoint
	var spec string
	var serial int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT spec, serial FROM deploy_endpoints WHERE name = ?`), name).Scan(&spec, &serial)
	if errors.Is(err, sql.ErrNoRows) {
		return e, endpointNotFound(name)
	}
	if err != nil {
		return e, wrap("get endpoint", err)
	}
	if err := json.Unmarshal([]byte(spec), &e); err != nil {
		return e, wrap("get endpoint", err)
	}
	e.Serial = serial
	return e, nil
}

// ListEndpoints implements deploy.Store.
func (db *DB) ListEndpoints(ctx context.Context) ([]deploy.Endpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT spec, serial FROM deploy_endpoints ORDER BY name`)
	if err != nil {
		return nil, wrap("list endpoints", err)
	}
	defer rows.Close()
	out := []deploy.Endpoint{}
	for rows.Next() {
		var e deploy.Endpoint
		var spec string
		var serial int64
		if err := rows.Scan(&spec, &serial); err != nil {
			return nil, wrap("list endpoints", err)
		}
		if err := json.Unmarshal([]byte(spec), &e); err != nil {
			return nil, wrap("list endpoints", err)
		}
		e.Serial = serial
		out = append(out, e)
	}
	return out, wrap("list endpoints", rows.Err())
}

// PutEndpoint implements deploy.Store.
func (db *DB) PutEndpoint(ctx context.Context, e deploy.Endpoint, ifSerial int64, ev deploy.AuditEvent) (int64, error) {
	e.Serial = 0
	spec, err := json.Marshal(e)
	if err != nil {
		return 0, wrap("put endpoint", err)
	}
	var serial int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var n int64
		if ifSerial != 0 {
			q, args := `UPDATE deploy_endpoints SET spec = ?, serial = serial + 1 WHERE name = ?`, []any{string(spec), e.Name}
			if ifSerial > 0 {
				q, args = q+` AND serial = ?`, append(args, ifSerial)
			}
			if n, err = affected(tx.ExecContext(ctx, db.q(q), args...)); err != nil {
				return err
			} else if n == 0 && ifSerial > 0 {
				return db.serialMoved(ctx, tx, e.Name, ifSerial)
			}
		}
		if n == 0 {
			// Create; an endpoint of that name (created concurrently, or
			// present when ifSerial is 0) is a conflict.
			if n, err = affected(tx.ExecContext(ctx, db.q(`INSERT INTO deploy_endpoints (name, spec, serial) VALUES (?, ?, 1) ON CONFLICT (name) DO NOTHING`), e.Name, string(spec))); err != nil {
				return err
			} else if n == 0 {
				return db.serialMoved(ctx, tx, e.Name, 0)
			}
		}
		if err := db.readSerial(ctx, tx, e.Name, &serial); err != nil {
			return err
		}
		return db.insertDeployAudit(ctx, tx, ev)
	})
	return serial, wrap("put endpoint", err)
}

// DeleteEndpoint implements deploy.Store.
func (db *DB) DeleteEndpoint(ctx context.Context, name string, ifSerial int64, ev deploy.AuditEvent) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM deploy_deployments WHERE endpoint_name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ferry.Errorf(ferry.ECONFLICT, "endpoint %s has %d deployments; delete them first", name, n)
		}
		q, args := `DELETE FROM deploy_endpoints WHERE name = ?`, []any{name}
		if ifSerial != deploy.AnySerial {
			q, args = q+` AND serial = ?`, append(args, ifSerial)
		}
		if deleted, err := affected(tx.ExecContext(ctx, db.q(q), args...)); err != nil {
			return err
		} else if deleted == 0 {
			return db.serialMoved(ctx, tx, name, ifSerial)
		}
		return db.insertDeployAudit(ctx, tx, ev)
	})
	return wrap("delete endpoint", err)
}

// GetDeployment implements deploy.Store.
func (db *DB) GetDeployment(ctx context.Context, endpoint, name string) (deploy.Deployment, error) {
	var d deploy.Deployment
	var spec string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT spec FROM deploy_deployments WHERE endpoint_name = ? AND name = ?`), endpoint, name).Scan(&spec)
	if errors.Is(err, sql.ErrNoRows) {
		return d, deploymentNotFound(endpoint, name)
	}
	if err != nil {
		return d, wrap("get deployment", err)
	}
	return d, wrap("get deployment", json.Unmarshal([]byte(spec), &d))
}

// ListDeployments implements deploy.Store.
func (db *DB) ListDeployments(ctx context.Context, endpoint string) ([]deploy.Deployment, error) {
	q, args := `SELECT spec FROM deploy_deployments ORDER BY endpoint_name, name`, []any{}
	if endpoint != "" {
		q, args = db.q(`SELECT spec FROM deploy_deployments WHERE endpoint_name = ? ORDER BY name`), []any{endpoint}
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list deployments", err)
	}
	defer rows.Close()
	out := []deploy.Deployment{}
	for rows.Next() {
		var d deploy.Deployment
		var spec string
		if err := rows.Scan(&spec); err != nil {
			return nil, wrap("list deployments", err)
		}
		if err := json.Unmarshal([]byte(spec), &d); err != nil {
			return nil, wrap("list deployments", err)
		}
		out = append(out, d)
	}
	return out, wrap("list deployments", rows.Err())
}

// PutDeployment implements deploy.Store.
func (db *DB) PutDeployment(ctx context.Context, d deploy.Deployment, ifSerial int64, ev deploy.AuditEvent) (int64, error) {
	spec, err := json.Marshal(d)
	if err != nil {
		return 0, wrap("put deployment", err)
	}
	var serial int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.bumpSerial(ctx, tx, d.EndpointName, ifSerial, &serial); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE deploy_deployments SET spec = ? WHERE endpoint_name = ? AND name = ?`), string(spec), d.EndpointName, d.Name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO deploy_deployments (endpoint_name, name, spec) VALUES (?, ?, ?)`), d.EndpointName, d.Name, string(spec)); err != nil {
				return err
			}
		}
		return db.insertDeployAudit(ctx, tx, ev)
	})
	return serial, wrap("put deployment", err)
}

// DeleteDeployment implements deploy.Store.
func (db *DB) DeleteDeployment(ctx context.Context, endpoint, name string, ifSerial int64, ev deploy.AuditEvent) (int64, error) {
	var serial int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.bumpSerial(ctx, tx, endpoint, ifSerial, &serial); err != nil {
			return err
		}
		if n, err := affected(tx.ExecContext(ctx, db.q(`DELETE FROM deploy_deployments WHERE endpoint_name = ? AND name = ?`), endpoint, name)); err != nil {
			return err
		} else if n == 0 {
			return deploymentNotFound(endpoint, name)
		}
		return db.insertDeployAudit(ctx, tx, ev)
	})
	return serial, wrap("delete deployment", err)
}

// bumpSerial increments an endpoint's serial when it is ifSerial (or
// always, for deploy.AnySerial) and stores the new one in serial;
// ENOTFOUND when the endpoint does not exist.
func (db *DB) bumpSerial(ctx context.Context, tx *sql.Tx, endpoint string, ifSerial int64, serial *int64) error {
	q, args := `UPDATE deploy_endpoints SET serial = serial + 1 WHERE name = ?`, []any{endpoint}
	if ifSerial != deploy.AnySerial {
		q, args = q+` AND serial = ?`, append(args, ifSerial)
	}
	if n, err := affected(tx.ExecContext(ctx, db.q(q), args...)); err != nil {
		return err
	} else if n == 0 {
		return db.serialMoved(ctx, tx, endpoint, ifSerial)
	}
	return db.readSerial(ctx, tx, endpoint, serial)
}

func (db *DB) readSerial(ctx context.Context, tx *sql.Tx, endpoint string, serial *int64) error {
	return tx.QueryRowContext(ctx, db.q(`SELECT serial FROM deploy_endpoints WHERE name = ?`), endpoint).Scan(serial)
}

// serialMoved is the error of a conditional write that matched no row:
// ENOTFOUND when the endpoint does not exist and ifSerial did not expect
// it to, otherwise deploy.SerialConflict.
func (db *DB) serialMoved(ctx context.Context, tx *sql.Tx, endpoint string, ifSerial int64) error {
	var now int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT serial FROM deploy_endpoints WHERE name = ?`), endpoint).Scan(&now)
	switch {
	case errors.Is(err, sql.ErrNoRows) && ifSerial <= 0:
		return endpointNotFound(endpoint)
	case errors.Is(err, sql.ErrNoRows):
		now = 0
	case err != nil:
		return err
	}
	return deploy.SerialConflict(endpoint, ifSerial, now)
}

// affected is the number of rows an Exec changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (db *DB) insertDeployAudit(ctx context.Context, tx *sql.Tx, ev deploy.AuditEvent) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO deploy_audit (time, principal, action, endpoint, deployment, detail, via) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		ev.Time, ev.Principal, ev.Action, ev.Endpoint, ev.Deployment, ev.Detail, ev.Via)
	return err
}

// ListDeployAudit implements deploy.Store.
func (db *DB) ListDeployAudit(ctx context.Context, endpoint string) ([]deploy.AuditEvent, error) {
	q, args := `SELECT time, principal, action, endpoint, deployment, detail, via FROM deploy_audit ORDER BY id`, []any{}
	if endpoint != "" {
		q, args = db.q(`SELECT time, principal, action, endpoint, deployment, detail, via FROM deploy_audit WHERE endpoint = ? ORDER BY id`), []any{endpoint}
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list deploy audit", err)
	}
	defer rows.Close()
	out := []deploy.AuditEvent{}
	for rows.Next() {
		var ev deploy.AuditEvent
		if err := rows.Scan(&ev.Time, &ev.Principal, &ev.Action, &ev.Endpoint, &ev.Deployment, &ev.Detail, &ev.Via); err != nil {
			return nil, wrap("list deploy audit", err)
		}
		out = append(out, ev)
	}
	return out, wrap("list deploy audit", rows.Err())
}
