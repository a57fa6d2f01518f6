package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
)

func rolloutNotFound(id int64) error { return notFound("rollout %d not found", id) }

func activeInt(state string) int {
	if deploy.ActiveState(state) {
		return 1
	}
	return 0
}

// CreateRollout implements deploy.Store.
func (db *DB) CreateRollout(ctx context.Context, r deploy.RolloutStatus, ev deploy.AuditEvent) (int64, error) {
	r.ID, r.Version = 0, 1
	spec, err := json.Marshal(r)
	if err != nil {
		return 0, wrap("create rollout", err)
	}
	var id int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO deploy_rollouts (endpoint, state, active, version, spec) VALUES (?, ?, ?, 1, ?) RETURNING id`),
			r.Endpoint, r.State, activeInt(r.State), string(spec)).Scan(&id)
		if err != nil {
			if db.d.IsUniqueViolation(err) {
				return ferry.Errorf(ferry.ECONFLICT, "endpoint %s already has a rollout in progress", r.Endpoint)
			}
			return err
		}
		return db.insertDeployAudit(ctx, tx, ev)
	})
	return id, wrap("create rollout", err)
}

// UpdateRollout implements deploy.Store.
func (db *DB) UpdateRollout(ctx context.Context, r deploy.RolloutStatus, ev deploy.AuditEvent) (int64, error) {
	prev := r.Version
	r.Version = prev + 1
	spec, err := json.Marshal(r)
	if err != nil {
		return 0, wrap("update rollout", err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE deploy_rollouts SET state = ?, active = ?, version = ?, spec = ? WHERE id = ? AND version = ?`),
			r.State, activeInt(r.State), r.Version, string(spec), r.ID, prev)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var v int64
			err := tx.QueryRowContext(ctx, db.q(`SELECT version FROM deploy_rollouts WHERE id = ?`), r.ID).Scan(&v)
			if errors.Is(err, sql.ErrNoRows) {
				return rolloutNotFound(r.ID)
			}
			if err != nil {
				return err
			}
			return ferry.Errorf(ferry.ECONFLICT, "rollout %d of %s changed meanwhile (version %d, not %d); try again", r.ID, r.Endpoint, v, prev)
		}
		if ev.Action == "" {
			return nil
		}
		return db.insertDeployAudit(ctx, tx, ev)
	})
	if err != nil {
		return 0, wrap("update rollout", err)
	}
	return r.Version, nil
}

// GetRollout implements deploy.Store.
func (db *DB) GetRollout(ctx context.Context, id int64) (deploy.RolloutStatus, error) {
	var spec string
	var version int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT spec, version FROM deploy_rollouts WHERE id = ?`), id).Scan(&spec, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return deploy.RolloutStatus{}, rolloutNotFound(id)
	}
	if err != nil {
		return deploy.RolloutStatus{}, wrap("get rollout", err)
	}
	r, err := decodeRollout(spec, id, version)
	return r, wrap("get rollout", err)
}

// ListRollouts implements deploy.Store.
func (db *DB) ListRollouts(ctx context.Context, endpoint string, active bool) ([]deploy.RolloutStatus, error) {
	q, args := `SELECT id, version, spec FROM deploy_rollouts WHERE 1 = 1`, []any{}
	if endpoint != "" {
		q += ` AND endpoint = ?`
		args = append(args, endpoint)
	}
	if active {
		q += ` AND active = 1`
	}
	rows, err := db.r.QueryContext(ctx, db.q(q+` ORDER BY id DESC`), args...)
	if err != nil {
		return nil, wrap("list rollouts", err)
	}
	defer rows.Close()
	out := []deploy.RolloutStatus{}
	for rows.Next() {
		var id, version int64
		var spec string
		if err := rows.Scan(&id, &version, &spec); err != nil {
			return nil, wrap("list rollouts", err)
		}
		r, err := decodeRollout(spec, id, version)
		if err != nil {
			return nil, wrap("list rollouts", err)
		}
		out = append(out, r)
	}
	return out, wrap("list rollouts", rows.Err())
}

func decodeRollout(spec string, id, version int64) (deploy.RolloutStatus, error) {
	var r deploy.RolloutStatus
	if err := json.Unmarshal([]byte(spec), &r); err != nil {
		return r, fmt.Errorf("rollout %d: %w", id, err)
	}
	r.ID, r.Version = id, version
	return r, nil
}
