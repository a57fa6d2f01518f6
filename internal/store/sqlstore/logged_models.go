package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

const loggedModelColumns = `m.model_id, m.experiment_id, m.name, m.artifact_location, m.creation_timestamp_ms, m.last_updated_timestamp_ms, m.status, m.status_message, m.model_type, m.source_run_id, m.lifecycle_stage`

// loggedModelAttributeColumns maps filterable and sortable attributes to columns.
var loggedModelAttributeColumns = map[string]string{
	"name":                   "m.name",
	"model_id":               "m.model_id",
	"model_type":             "m.model_type",
	"status":                 "m.status",
	"source_run_id":          "m.source_run_id",
	"creation_timestamp":     "m.creation_timestamp_ms",
	"last_updated_timestamp": "m.last_updated_timestamp_ms",
}

func scanLoggedModel(s scanner) (tracking.LoggedModel, error) {
	var m tracking.LoggedModel
	var exp int64
	err := s.Scan(&m.ID, &exp, &m.Name, &m.ArtifactLocation, &m.CreationTime, &m.LastUpdatedTime, &m.Status, &m.StatusMessage, &m.ModelType, &m.SourceRunID, &m.LifecycleStage)
	m.ExperimentID = strconv.FormatInt(exp, 10)
	return m, err
}

func loggedModelNotFound(id string) error {
	return notFound("Logged model with ID '%s' not found.", id)
}

// CreateLoggedModel implements tracking.Store.
func (db *DB) CreateLoggedModel(ctx context.Context, m tracking.LoggedModel) error {
	exp, ok := parseID(m.ExperimentID)
	if !ok {
		return notFound("No Experiment with id=%s exists", m.ExperimentID)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, status_message, model_type, source_run_id, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			m.ID, exp, m.Name, m.ArtifactLocation, m.CreationTime, m.LastUpdatedTime, m.Status, m.StatusMessage, m.ModelType, m.SourceRunID, m.LifecycleStage)
		if err != nil {
			if db.d.IsUniqueViolation(err) {
				return ferry.Errorf(ferry.ECONFLICT, "Logged model with ID '%s' already exists.", m.ID)
			}
			return err
		}
		if err := db.insertModelParams(ctx, tx, m.ID, m.Params); err != nil {
			return err
		}
		return db.upsertModelTags(ctx, tx, m.ID, m.Tags)
	})
	return wrap("create logged model", err)
}

func (db *DB) insertModelParams(ctx context.Context, tx *sql.Tx, id string, params []tracking.Param) error {
	for _, p := range params {
		var old string
		err := tx.QueryRowContext(ctx, db.q(`SELECT value FROM logged_model_params WHERE model_id = ? AND key = ?`), id, p.Key).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?)`), id, p.Key, p.Value); err != nil {
				return err
			}
		case err != nil:
			return err
		case old != p.Value:
			return invalid("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for logged model ID='%s'. Attempted logging new value '%s'.", p.Key, old, id, p.Value)
		}
	}
	return nil
}

func (db *DB) upsertModelTags(ctx context.Context, tx *sql.Tx, id string, tags []tracking.Tag) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`), id, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// GetLoggedModel implements tracking.Store.
func (db *DB) GetLoggedModel(ctx context.Context, id string) (tracking.LoggedModel, error) {
	m, err := scanLoggedModel(db.r.QueryRowContext(ctx, db.q(`SELECT `+loggedModelColumns+` FROM logged_models m WHERE m.model_id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return tracking.LoggedModel{}, loggedModelNotFound(id)
	} else if err != nil {
		return tracking.LoggedModel{}, wrap("get logged model", err)
	}
	ms := []tracking.LoggedModel{m}
	if err := db.loadLoggedModelData(ctx, ms); err != nil {
		return tracking.LoggedModel{}, err
	}
	return ms[0], nil
}

// loadLoggedModelData fills params and tags of models.
func (db *DB) loadLoggedModelData(ctx context.Context, ms []tracking.LoggedModel) error {
	if len(ms) == 0 {
		return nil
	}
	idx := make(map[string]int, len(ms))
	args := make([]any, len(ms))
	for i, m := range ms {
		idx[m.ID] = i
		args[i] = m.ID
	}
	in := `(` + placeholders(len(args)) + `)`
	err := db.each(ctx, `SELECT model_id, key, value FROM logged_model_params WHERE model_id IN `+in+` ORDER BY model_id, key`, args, func(s scanner) error {
		var id string
		var p tracking.Param
		if err := s.Scan(&id, &p.Key, &p.Value); err != nil {
			return err
		}
		ms[idx[id]].Params = append(ms[idx[id]].Params, p)
		return nil
	})
	if err != nil {
		return wrap("load logged model params", err)
	}
	err = db.each(ctx, `SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN `+in+` ORDER BY model_id, key`, args, func(s scanner) error {
		var id string
		var t tracking.Tag
		if err := s.Scan(&id, &t.Key, &t.Value); err != nil {
			return err
		}
		ms[idx[id]].Tags = append(ms[idx[id]].Tags, t)
		return nil
	})
	return wrap("load logged model tags", err)
}

// updateLoggedModel runs fn on an active logged model in a transaction and
// then bumps its last update time to now.
func (db *DB) updateLoggedModel(ctx context.Context, op, id string, now int64, fn func(tx *sql.Tx) error) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var stage string
		err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage FROM logged_models WHERE model_id = ?`), id).Scan(&stage)
		if errors.Is(err, sql.ErrNoRows) || stage != tracking.StageActive {
			return loggedModelNotFound(id)
		} else if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE logged_models SET last_updated_timestamp_ms = ? WHERE model_id = ?`), now, id)
		return err
	})
	return wrap(op, err)
}

// UpdateLoggedModelStatus implements tracking.Store.
func (db *DB) UpdateLoggedModelStatus(ctx context.Context, id, status string, now int64) error {
	return db.updateLoggedModel(ctx, "finalize logged model", id, now, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE logged_models SET status = ? WHERE model_id = ?`), status, id)
		return err
	})
}

// DeleteLoggedModel implements tracking.Store.
func (db *DB) DeleteLoggedModel(ctx context.Context, id string, now int64) error {
	return db.updateLoggedModel(ctx, "delete logged model", id, now, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE logged_models SET lifecycle_stage = ? WHERE model_id = ?`), tracking.StageDeleted, id)
		return err
	})
}

// SetLoggedModelTags implements tracking.Store.
func (db *DB) SetLoggedModelTags(ctx context.Context, id string, tags []tracking.Tag, now int64) error {
	return db.updateLoggedModel(ctx, "set logged model tags", id, now, func(tx *sql.Tx) error {
		return db.upsertModelTags(ctx, tx, id, tags)
	})
}

// DeleteLoggedModelTag implements tracking.Store.
func (db *DB) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?`), id, key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = notFound("No tag with key '%s' found for logged model with ID '%s'.", key, id)
			}
			return err
		}
		return nil
	})
	return wrap("delete logged model tag", err)
}

// LogLoggedModelParams implements tracking.Store.
func (db *DB) LogLoggedModelParams(ctx context.Context, id string, params []tracking.Param) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM logged_models WHERE model_id = ? AND lifecycle_stage = ?`), id, tracking.StageActive).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return loggedModelNotFound(id)
		}
		return db.insertModelParams(ctx, tx, id, params)
	})
	return wrap("log logged model params", err)
}

// SearchLoggedModels implements tracking.Store.
func (db *DB) SearchLoggedModels(ctx context.Context, lq tracking.LoggedModelQuery) ([]tracking.LoggedModel, string, error) {
	offset, err := tracking.DecodePageToken(lq.PageToken)
	if err != nil {
		return nil, "", err
	}
	var q query
	exps := make([]any, 0, len(lq.ExperimentIDs))
	for _, id := range lq.ExperimentIDs {
		if n, ok := parseID(id); ok {
			exps = append(exps, n)
		}
	}
	if len(exps) == 0 {
		return nil, "", nil
	}
	q.cond("m.experiment_id IN ("+placeholders(len(exps))+")", exps...)
	q.cond("m.lifecycle_stage = ?", tracking.StageActive)
	for _, c := range lq.Filter {
		if err := loggedModelCondition(&q, c); err != nil {
			return nil, "", err
		}
	}
	for _, o := range lq.OrderBy {
		col, ok := loggedModelAttributeColumns[o.Key]
		if o.Entity != tracking.EntityAttribute || !ok {
			return nil, "", invalid("Cannot order logged models by '%s'.", o.Key)
		}
		dir := " DESC"
		if o.Ascending {
			dir = " ASC"
		}
		q.order = append(q.order, col+dir)
	}
	q.order = append(q.order, "m.creation_timestamp_ms DESC", "m.model_id ASC")
	var ms []tracking.LoggedModel
	err = db.each(ctx, q.sql(`SELECT `+loggedModelColumns+` FROM logged_models m`), q.args(lq.MaxResults+1, offset), func(s scanner) error {
		m, err := scanLoggedModel(s)
		ms = append(ms, m)
		return err
	})
	if err != nil {
		return nil, "", wrap("search logged models", err)
	}
	next := ""
	if len(ms) > lq.MaxResults {
		ms = ms[:lq.MaxResults]
		next = tracking.EncodePageToken(offset + lq.MaxResults)
	}
	if err := db.loadLoggedModelData(ctx, ms); err != nil {
		return nil, "", err
	}
	return ms, next, nil
}

func loggedModelCondition(q *query, c tracking.Comparison) error {
	var table string
	switch c.Entity {
	case tracking.EntityParam:
		table = "logged_model_params"
	case tracking.EntityTag:
		table = "logged_model_tags"
	case tracking.EntityAttribute:
		col, ok := loggedModelAttributeColumns[c.Key]
		if !ok {
			return invalid("Invalid attribute key '%s'.", c.Key)
		}
		expr, args, err := compare(col, c)
		if err != nil {
			return err
		}
		q.cond(expr, args...)
		return nil
	default:
		return invalid("Invalid entity type '%s' for logged models.", c.Entity)
	}
	expr, args, err := compare("x.value", c)
	if err != nil {
		return err
	}
	q.cond("EXISTS (SELECT 1 FROM "+table+" x WHERE x.model_id = m.model_id AND x.key = ? AND "+expr+")", append([]any{c.Key}, args...)...)
	return nil
}

// LogOutputs implements tracking.Store.
func (db *DB) LogOutputs(ctx context.Context, runID string, outputs []tracking.ModelOutput) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.activeRun(ctx, tx, runID); err != nil {
			return err
		}
		for _, o := range outputs {
			var n int
			if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM logged_models WHERE model_id = ?`), o.ModelID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return loggedModelNotFound(o.ModelID)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO run_model_outputs (run_uuid, model_id, step) VALUES (?, ?, ?) ON CONFLICT (run_uuid, model_id) DO NOTHING`), runID, o.ModelID, o.Step); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("log outputs", err)
}

// loadOutputs fills the model outputs of run.
func (db *DB) loadOutputs(ctx context.Context, run *tracking.Run) error {
	err := db.each(ctx, `SELECT model_id, step FROM run_model_outputs WHERE run_uuid = ? ORDER BY step, model_id`, []any{run.Info.RunID}, func(s scanner) error {
		var o tracking.ModelOutput
		if err := s.Scan(&o.ModelID, &o.Step); err != nil {
			return err
		}
		run.Outputs = append(run.Outputs, o)
		return nil
	})
	return wrap("load outputs", err)
}
