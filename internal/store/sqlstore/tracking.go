package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/failpoint"
	"github.com/ferry-ml/ferry/internal/tracking"
)

var _ tracking.Store = (*DB)(nil)

// CreateExperiment implements tracking.Store.
func (db *DB) CreateExperiment(ctx context.Context, exp tracking.Experiment, artifactRoot string) (string, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM experiments WHERE name = ?`), exp.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ferry.Errorf(ferry.ECONFLICT, "Experiment '%s' already exists.", exp.Name)
		}
		if exp.ID != "" {
			var ok bool
			if id, ok = parseID(exp.ID); !ok {
				return invalid("Experiment ID '%s' is not a number.", exp.ID)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, '', ?, ?, ?)`),
				id, exp.Name, exp.LifecycleStage, exp.CreationTime, exp.LastUpdateTime); err != nil {
				if db.d.IsUniqueViolation(err) {
					return ferry.Errorf(ferry.ECONFLICT, "Experiment with ID '%s' already exists.", exp.ID)
				}
				return err
			}
		} else if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', ?, ?, ?) RETURNING experiment_id`),
			exp.Name, exp.LifecycleStage, exp.CreationTime, exp.LastUpdateTime).Scan(&id); err != nil {
			return err
		}
		loc := exp.ArtifactLocation
		if loc == "" {
			loc = strings.TrimSuffix(artifactRoot, "/") + "/" + strconv.FormatInt(id, 10)
			if strings.HasSuffix(artifactRoot, ":") {
				loc = artifactRoot + "/" + strconv.FormatInt(id, 10)
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?`), loc, id); err != nil {
			return err
		}
		for _, t := range exp.Tags {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`), id, t.Key, t.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if db.d.IsUniqueViolation(err) {
			return "", ferry.Errorf(ferry.ECONFLICT, "Experiment '%s' already exists.", exp.Name)
		}
		return "", wrap("create experiment", err)
	}
	return strconv.FormatInt(id, 10), nil
}

// wrap adds the operation to unexpected errors and passes *ferry.Error through.
func wrap(op string, err error) error {
	var fe *ferry.Error
	if err == nil || errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

const experimentColumns = `e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time`

func scanExperiment(s interface{ Scan(...any) error }) (tracking.Experiment, error) {
	var e tracking.Experiment
	var id int64
	err := s.Scan(&id, &e.Name, &e.ArtifactLocation, &e.LifecycleStage, &e.CreationTime, &e.LastUpdateTime)
	e.ID = strconv.FormatInt(id, 10)
	return e, err
}

// GetExperiment implements tracking.Store.
func (db *DB) GetExperiment(ctx context.Context, id string) (tracking.Experiment, error) {
	n, ok := parseID(id)
	if !ok {
		return tracking.Experiment{}, notFound("No Experiment with id=%s exists", id)
	}
	return db.getExperiment(ctx, `e.experiment_id = ?`, n, fmt.Sprintf("No Experiment with id=%s exists", id))
}

// GetExperimentByName implements tracking.Store.
func (db *DB) GetExperimentByName(ctx context.Context, name string) (tracking.Experiment, error) {
	return db.getExperiment(ctx, `e.name = ?`, name, fmt.Sprintf("Could not find experiment with name '%s'", name))
}

func (db *DB) getExperiment(ctx context.Context, where string, arg any, missing string) (tracking.Experiment, error) {
	e, err := scanExperiment(db.r.QueryRowContext(ctx, db.q(`SELECT `+experimentColumns+` FROM experiments e WHERE `+where), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("%s", missing)
	} else if err != nil {
		return e, wrap("get experiment", err)
	}
	exps := []tracking.Experiment{e}
	if err := db.loadExperimentTags(ctx, exps); err != nil {
		return e, err
	}
	return exps[0], nil
}

func (db *DB) loadExperimentTags(ctx context.Context, exps []tracking.Experiment) error {
	if len(exps) == 0 {
		return nil
	}
	idx := make(map[string]int, len(exps))
	args := make([]any, len(exps))
	for i, e := range exps {
		idx[e.ID] = i
		args[i], _ = parseID(e.ID)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (`+placeholders(len(args))+`) ORDER BY key`), args...)
	if err != nil {
		return wrap("load experiment tags", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var t tracking.Tag
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return wrap("load experiment tags", err)
		}
		i := idx[strconv.FormatInt(id, 10)]
		exps[i].Tags = append(exps[i].Tags, t)
	}
	return wrap("load experiment tags", rows.Err())
}

// RenameExperiment implements tracking.Store.
func (db *DB) RenameExperiment(ctx context.Context, id, name string, now int64) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		n, err := db.activeExperiment(ctx, tx, id)
		if err != nil {
			return err
		}
		var taken int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM experiments WHERE name = ? AND experiment_id <> ?`), name, n).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return ferry.Errorf(ferry.ECONFLICT, "Experiment '%s' already exists.", name)
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?`), name, now, n)
		return err
	})
	return wrap("rename experiment", err)
}

// activeExperiment returns the numeric ID of an existing, active experiment.
func (db *DB) activeExperiment(ctx context.Context, tx *sql.Tx, id string) (int64, error) {
	n, ok := parseID(id)
	if !ok {
		return 0, notFound("No Experiment with id=%s exists", id)
	}
	var stage string
	err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?`), n).Scan(&stage)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("No Experiment with id=%s exists", id)
	} else if err != nil {
		return 0, err
	}
	if stage != tracking.StageActive {
		return 0, invalid("The experiment %s must be in the 'active' state. Current state is %s.", id, stage)
	}
	return n, nil
}

// SetExperimentStage implements tracking.Store.
func (db *DB) SetExperimentStage(ctx context.Context, id, stage string, now int64) error {
	n, ok := parseID(id)
	if !ok {
		return notFound("No Experiment with id=%s exists", id)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?`), n).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("No Experiment with id=%s exists", id)
		} else if err != nil {
			return err
		}
		if cur == stage {
			return invalid("Cannot change the experiment %s to '%s': it is already in that state.", id, stage)
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?`), stage, now, n); err != nil {
			return err
		}
		deleted := sql.NullInt64{Int64: now, Valid: stage == tracking.StageDeleted}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = ?`), stage, deleted, n, cur)
		return err
	})
	return wrap("set experiment stage", err)
}

// SetExperimentTag implements tracking.Store.
func (db *DB) SetExperimentTag(ctx context.Context, id string, tag tracking.Tag) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		n, err := db.activeExperiment(ctx, tx, id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`), n, tag.Key, tag.Value)
		return err
	})
	return wrap("set experiment tag", err)
}

// CreateRun implements tracking.Store.
func (db *DB) CreateRun(ctx context.Context, run tracking.Run) error {
	in := run.Info
	err := db.tx(ctx, func(tx *sql.Tx) error {
		exp, err := db.activeExperiment(ctx, tx, in.ExperimentID)
		if err != nil {
			return err
		}
		end := sql.NullInt64{Int64: in.EndTime, Valid: in.EndTime != 0}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			in.RunID, in.RunName, exp, in.UserID, in.Status, in.StartTime, end, in.ArtifactURI, in.LifecycleStage); err != nil {
			return err
		}
		return db.upsertTags(ctx, tx, in.RunID, run.Data.Tags)
	})
	return wrap("create run", err)
}

func (db *DB) upsertTags(ctx context.Context, tx *sql.Tx, runID string, tags []tracking.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, db.q(`INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, t := range tags {
		if _, err := stmt.ExecContext(ctx, runID, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

const runColumns = `r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage`

func scanRunInfo(s interface{ Scan(...any) error }) (tracking.RunInfo, error) {
	var in tracking.RunInfo
	var exp int64
	var end sql.NullInt64
	err := s.Scan(&in.RunID, &in.RunName, &exp, &in.UserID, &in.Status, &in.StartTime, &end, &in.ArtifactURI, &in.LifecycleStage)
	in.ExperimentID = strconv.FormatInt(exp, 10)
	in.EndTime = end.Int64
	return in, err
}

// GetRun implements tracking.Store.
func (db *DB) GetRun(ctx context.Context, id string) (tracking.Run, error) {
	in, err := scanRunInfo(db.r.QueryRowContext(ctx, db.q(`SELECT `+runColumns+` FROM runs r WHERE r.run_uuid = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return tracking.Run{}, notFound("Run with id=%s not found", id)
	} else if err != nil {
		return tracking.Run{}, wrap("get run", err)
	}
	runs := []tracking.Run{{Info: in}}
	if err := db.loadRunData(ctx, runs); err != nil {
		return tracking.Run{}, err
	}
	if err := db.loadOutputs(ctx, &runs[0]); err != nil {
		return tracking.Run{}, err
	}
	return runs[0], nil
}

// RunIDsWithPrefix implements tracking.Store. The prefix is matched with
// LIKE, its wildcards escaped.
func (db *DB) RunIDsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error) {
	pattern := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
	var ids []string
	err := db.each(ctx, `SELECT run_uuid FROM runs WHERE run_uuid LIKE ? ESCAPE '\' ORDER BY run_uuid LIMIT ?`, []any{pattern, limit}, func(s scanner) error {
		var id string
		if err := s.Scan(&id); err != nil {
			return err
		}
		// LIKE ignores case in SQLite; run IDs compare exactly.
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("find runs by prefix", err)
	}
	return ids, nil
}

// loadRunData fills params, tags, latest metrics and inputs of runs.
func (db *DB) loadRunData(ctx context.Context, runs []tracking.Run) error {
	const chunk = 500
	idx := make(map[string]int, len(runs))
	for i, r := range runs {
		idx[r.Info.RunID] = i
	}
	for start := 0; start < len(runs); start += chunk {
		end := min(start+chunk, len(runs))
		args := make([]any, 0, end-start)
		for _, r := range runs[start:end] {
			args = append(args, r.Info.RunID)
		}
		in := `(` + placeholders(len(args)) + `)`
		err := db.each(ctx, `SELECT run_uuid, key, value FROM params WHERE run_uuid IN `+in+` ORDER BY run_uuid, key`, args, func(s scanner) error {
			var id string
			var p tracking.Param
			if err := s.Scan(&id, &p.Key, &p.Value); err != nil {
				return err
			}
			r := &runs[idx[id]]
			r.Data.Params = append(r.Data.Params, p)
			return nil
		})
		if err != nil {
			return wrap("load params", err)
		}
		err = db.each(ctx, `SELECT run_uuid, key, value FROM tags WHERE run_uuid IN `+in+` ORDER BY run_uuid, key`, args, func(s scanner) error {
			var id string
			var t tracking.Tag
			if err := s.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			r := &runs[idx[id]]
			r.Data.Tags = append(r.Data.Tags, t)
			return nil
		})
		if err != nil {
			return wrap("load tags", err)
		}
		err = db.each(ctx, `SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid IN `+in+` ORDER BY run_uuid, key`, args, func(s scanner) error {
			var id string
			m, err := scanMetric(s, &id)
			if err != nil {
				return err
			}
			r := &runs[idx[id]]
			r.Data.Metrics = append(r.Data.Metrics, m)
			return nil
		})
		if err != nil {
			return wrap("load metrics", err)
		}
		err = db.each(ctx, `SELECT run_uuid, name, digest, source_type, source, schema, profile, tags FROM run_inputs WHERE run_uuid IN `+in+` ORDER BY run_uuid, name, digest`, args, func(s scanner) error {
			var id, tags string
			var d tracking.Dataset
			if err := s.Scan(&id, &d.Name, &d.Digest, &d.SourceType, &d.Source, &d.Schema, &d.Profile, &tags); err != nil {
				return err
			}
			in := tracking.DatasetInput{Dataset: d}
			if err := json.Unmarshal([]byte(tags), &in.Tags); err != nil {
				return err
			}
			r := &runs[idx[id]]
			r.Inputs = append(r.Inputs, in)
			return nil
		})
		if err != nil {
			return wrap("load inputs", err)
		}
	}
	return nil
}

type scanner interface{ Scan(...any) error }

// each runs a read query and calls fn for every row.
func (db *DB) each(ctx context.Context, query string, args []any, fn func(scanner) error) error {
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanMetric scans (prefix..., key, value, is_nan, timestamp, step).
func scanMetric(s scanner, prefix ...any) (tracking.Metric, error) {
	var m tracking.Metric
	var isNaN int64
	err := s.Scan(append(prefix, &m.Key, &m.Value, &isNaN, &m.Timestamp, &m.Step)...)
	if isNaN != 0 {
		m.Value = math.NaN()
	}
	return m, err
}

// UpdateRun implements tracking.Store.
func (db *DB) UpdateRun(ctx context.Context, id string, u tracking.RunUpdate) (tracking.RunInfo, error) {
	var info tracking.RunInfo
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.activeRun(ctx, tx, id); err != nil {
			return err
		}
		if u.Status != "" {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET status = ? WHERE run_uuid = ?`), u.Status, id); err != nil {
				return err
			}
		}
		if u.EndTime != 0 {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET end_time = ? WHERE run_uuid = ?`), u.EndTime, id); err != nil {
				return err
			}
		}
		if u.RunName != "" {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET name = ? WHERE run_uuid = ?`), u.RunName, id); err != nil {
				return err
			}
			if err := db.upsertTags(ctx, tx, id, []tracking.Tag{{Key: tracking.TagRunName, Value: u.RunName}}); err != nil {
				return err
			}
		}
		var err error
		info, err = scanRunInfo(tx.QueryRowContext(ctx, db.q(`SELECT `+runColumns+` FROM runs r WHERE r.run_uuid = ?`), id))
		return err
	})
	return info, wrap("update run", err)
}

// activeRun checks that a run exists and is active.
func (db *DB) activeRun(ctx context.Context, tx *sql.Tx, id string) error {
	var stage string
	err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage FROM runs WHERE run_uuid = ?`), id).Scan(&stage)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("Run with id=%s not found", id)
	} else if err != nil {
		return err
	}
	if stage != tracking.StageActive {
		return invalid("The run %s must be in the 'active' state. Current state is %s.", id, stage)
	}
	return nil
}

// SetRunStage implements tracking.Store.
func (db *DB) SetRunStage(ctx context.Context, id, stage string, now int64) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage FROM runs WHERE run_uuid = ?`), id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("Run with id=%s not found", id)
		} else if err != nil {
			return err
		}
		if stage == tracking.StageActive && cur == tracking.StageActive {
			return nil
		}
		deleted := sql.NullInt64{Int64: now, Valid: stage == tracking.StageDeleted}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?`), stage, deleted, id)
		return err
	})
	return wrap("set run stage", err)
}

// LogBatch implements tracking.Store.
func (db *DB) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	err := db.txAt(ctx, failpoint.LogBatchBeforeCommit, failpoint.LogBatchAfterCommit, func(tx *sql.Tx) error {
		if err := db.activeRun(ctx, tx, runID); err != nil {
			return err
		}
		if err := db.insertParams(ctx, tx, runID, params); err != nil {
			return err
		}
		if err := db.upsertTags(ctx, tx, runID, tags); err != nil {
			return err
		}
		if err := db.insertMetrics(ctx, tx, runID, metrics); err != nil {
			return err
		}
		return db.updateLatest(ctx, tx, runID, metrics)
	})
	return wrap("log batch", err)
}

func (db *DB) insertParams(ctx context.Context, tx *sql.Tx, runID string, params []tracking.Param) error {
	for _, p := range params {
		var old string
		err := tx.QueryRowContext(ctx, db.q(`SELECT value FROM params WHERE run_uuid = ? AND key = ?`), runID, p.Key).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)`), runID, p.Key, p.Value); err != nil {
				return err
			}
		case err != nil:
			return err
		case old != p.Value:
			return invalid("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.", p.Key, old, runID, p.Value)
		}
	}
	return nil
}

// insertMetrics appends one chunk row per metric key, in first-seen key order.
func (db *DB) insertMetrics(ctx context.Context, tx *sql.Tx, runID string, metrics []tracking.Metric) error {
	if len(metrics) == 0 {
		return nil
	}
	var keys []string
	chunks := map[string][]byte{}
	for _, m := range metrics {
		if _, ok := chunks[m.Key]; !ok {
			keys = append(keys, m.Key)
		}
		chunks[m.Key] = appendPoint(chunks[m.Key], m)
	}
	stmt, err := tx.PrepareContext(ctx, db.q(`INSERT INTO metric_chunks (run_uuid, key, points) VALUES (?, ?, ?)`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, k := range keys {
		if _, err := stmt.ExecContext(ctx, runID, k, chunks[k]); err != nil {
			return err
		}
	}
	return nil
}

// pointSize is the packed size of a metric point: step, timestamp, value.
const pointSize = 24

func appendPoint(b []byte, m tracking.Metric) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Step))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Timestamp))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Value))
}

// decodePoints appends the points packed in b to out.
func decodePoints(out []tracking.Metric, key string, b []byte) ([]tracking.Metric, error) {
	if len(b)%pointSize != 0 {
		return out, fmt.Errorf("sqlstore: metric chunk of %d bytes is not a whole number of points", len(b))
	}
	for i := 0; i < len(b); i += pointSize {
		out = append(out, tracking.Metric{
			Key:       key,
			Step:      int64(binary.LittleEndian.Uint64(b[i:])),
			Timestamp: int64(binary.LittleEndian.Uint64(b[i+8:])),
			Value:     math.Float64frombits(binary.LittleEndian.Uint64(b[i+16:])),
		})
	}
	return out, nil
}

// pointLess orders points by step, timestamp, then value (NaN last, equal
// values by their bits), the order MetricHistory returns.
func pointLess(a, b tracking.Metric) int {
	switch {
	case a.Step != b.Step:
		return cmpInt(a.Step, b.Step)
	case a.Timestamp != b.Timestamp:
		return cmpInt(a.Timestamp, b.Timestamp)
	}
	an, bn := math.IsNaN(a.Value), math.IsNaN(b.Value)
	switch {
	case an != bn:
		if an {
			return 1
		}
		return -1
	case !an && a.Value != b.Value:
		if a.Value < b.Value {
			return -1
		}
		return 1
	}
	ab, bb := math.Float64bits(a.Value), math.Float64bits(b.Value)
	switch {
	case ab == bb:
		return 0
	case ab < bb:
		return -1
	}
	return 1
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

// storedValue maps NaN to (0, 1) and any other value v to (v, 0).
func storedValue(v float64) (float64, int) {
	if math.IsNaN(v) {
		return 0, 1
	}
	return v, 0
}

// later reports whether a is a later point of a metric than b: a higher step,
// then a later timestamp, then a greater value (NaN counting as 0).
func later(a, b tracking.Metric) bool {
	if a.Step != b.Step {
		return a.Step > b.Step
	}
	if a.Timestamp != b.Timestamp {
		return a.Timestamp > b.Timestamp
	}
	av, _ := storedValue(a.Value)
	bv, _ := storedValue(b.Value)
	return av > bv
}

func (db *DB) updateLatest(ctx context.Context, tx *sql.Tx, runID string, metrics []tracking.Metric) error {
	if len(metrics) == 0 {
		return nil
	}
	latest := make(map[string]tracking.Metric)
	for _, m := range metrics {
		if cur, ok := latest[m.Key]; !ok || later(m, cur) {
			latest[m.Key] = m
		}
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	stmt, err := tx.PrepareContext(ctx, db.q(`INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan
WHERE excluded.step > latest_metrics.step
   OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp)
   OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, k := range keys {
		m := latest[k]
		v, nan := storedValue(m.Value)
		if _, err := stmt.ExecContext(ctx, runID, m.Key, m.Step, m.Timestamp, v, nan); err != nil {
			return err
		}
	}
	return nil
}

// DeleteTag implements tracking.Store.
func (db *DB) DeleteTag(ctx context.Context, runID, key string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.activeRun(ctx, tx, runID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM tags WHERE run_uuid = ? AND key = ?`), runID, key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound("No tag with name: %s in run with id %s", key, runID)
		}
		return nil
	})
	return wrap("delete tag", err)
}

// LogInputs implements tracking.Store.
func (db *DB) LogInputs(ctx context.Context, runID string, inputs []tracking.DatasetInput) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.activeRun(ctx, tx, runID); err != nil {
			return err
		}
		for _, in := range inputs {
			d := in.Dataset
			var context string
			for _, t := range in.Tags {
				if t.Key == "mlflow.data.context" {
					context = t.Value
				}
			}
			tags := in.Tags
			if tags == nil {
				tags = []tracking.Tag{}
			}
			tagJSON, err := json.Marshal(tags)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO run_inputs (run_uuid, name, digest, source_type, source, schema, profile, context, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_uuid, name, digest) DO UPDATE SET source_type = excluded.source_type, source = excluded.source, schema = excluded.schema, profile = excluded.profile, context = excluded.context, tags = excluded.tags`),
				runID, d.Name, d.Digest, d.SourceType, d.Source, d.Schema, d.Profile, context, string(tagJSON)); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("log inputs", err)
}

// MetricHistory implements tracking.Store.
func (db *DB) MetricHistory(ctx context.Context, runID, key string) ([]tracking.Metric, error) {
	var out []tracking.Metric
	err := db.each(ctx, `SELECT points FROM metric_chunks WHERE run_uuid = ? AND key = ? ORDER BY id`, []any{runID, key}, func(s scanner) error {
		var b []byte
		if err := s.Scan(&b); err != nil {
			return err
		}
		var err error
		out, err = decodePoints(out, key, b)
		return err
	})
	if err != nil {
		return nil, wrap("metric history", err)
	}
	if len(out) == 0 {
		var n int
		if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM runs WHERE run_uuid = ?`), runID).Scan(&n); err != nil {
			return nil, wrap("metric history", err)
		}
		if n == 0 {
			return nil, notFound("Run with id=%s not found", runID)
		}
		return out, nil
	}
	if !slices.IsSortedFunc(out, pointLess) {
		slices.SortStableFunc(out, pointLess)
	}
	// Drop points identical to their predecessor: retried writes.
	return slices.CompactFunc(out, func(a, b tracking.Metric) bool { return pointLess(a, b) == 0 }), nil
}
