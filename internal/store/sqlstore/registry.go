package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/failpoint"
	"github.com/ferry-ml/ferry/internal/registry"
)

var _ registry.Store = (*DB)(nil)

func modelNotFound(name string) error {
	return notFound("Registered Model with name=%s not found", name)
}

func versionNotFound(name string, version int) error {
	return notFound("Model Version (name=%s, version=%d) not found", name, version)
}

// audit appends ev in tx.
func (db *DB) audit(ctx context.Context, tx *sql.Tx, ev registry.AuditEvent) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO registry_audit (time, principal, action, name, version, from_ref, to_ref, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		ev.Time, ev.Principal, ev.Action, ev.Model, ev.Version, ev.From, ev.To, ev.Reason)
	return err
}

// lockModel takes the write lock of a model's row for the rest of tx, so that
// concurrent moves of its aliases and stages are serialised (PostgreSQL runs
// at read committed; SQLite has one writer anyway). An unknown model is
// ENOTFOUND.
func (db *DB) lockModel(ctx context.Context, tx *sql.Tx, name string) error {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET last_updated_time = last_updated_time WHERE name = ?`), name)
	return db.mustAffect(res, err, modelNotFound(name))
}

// modelExists reports ENOTFOUND for an unknown model, inside tx.
func (db *DB) modelExists(ctx context.Context, tx *sql.Tx, name string) error {
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM registered_models WHERE name = ?`), name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return modelNotFound(name)
	}
	return nil
}

func (db *DB) versionExists(ctx context.Context, tx *sql.Tx, name string, version int) error {
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM model_versions WHERE name = ? AND version = ?`), name, version).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if err := db.modelExists(ctx, tx, name); err != nil {
			return err
		}
		return versionNotFound(name, version)
	}
	return nil
}

// CreateModel implements registry.Store.
func (db *DB) CreateModel(ctx context.Context, m registry.Model, ev registry.AuditEvent) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM registered_models WHERE name = ?`), m.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ferry.Errorf(ferry.ECONFLICT, "Registered Model (name=%s) already exists.", m.Name)
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO registered_models (name, description, creation_time, last_updated_time) VALUES (?, ?, ?, ?)`),
			m.Name, m.Description, m.CreationTime, m.LastUpdatedTime); err != nil {
			return err
		}
		for _, t := range m.Tags {
			if err := db.setModelTag(ctx, tx, m.Name, t); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, ev)
	})
	if err != nil && db.d.IsUniqueViolation(err) {
		return ferry.Errorf(ferry.ECONFLICT, "Registered Model (name=%s) already exists.", m.Name)
	}
	return wrap("create model", err)
}

func (db *DB) setModelTag(ctx context.Context, tx *sql.Tx, name string, t registry.Tag) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value`), name, t.Key, t.Value)
	return err
}

// GetModel implements registry.Store.
func (db *DB) GetModel(ctx context.Context, name string) (registry.Model, error) {
	m := registry.Model{Name: name}
	err := db.r.QueryRowContext(ctx, db.q(`SELECT description, creation_time, last_updated_time FROM registered_models WHERE name = ?`), name).
		Scan(&m.Description, &m.CreationTime, &m.LastUpdatedTime)
	if errors.Is(err, sql.ErrNoRows) {
		return m, modelNotFound(name)
	} else if err != nil {
		return m, wrap("get model", err)
	}
	models := []registry.Model{m}
	if err := db.loadModelExtras(ctx, models); err != nil {
		return m, err
	}
	return models[0], nil
}

// loadModelExtras fills tags and aliases of models.
func (db *DB) loadModelExtras(ctx context.Context, models []registry.Model) error {
	if len(models) == 0 {
		return nil
	}
	idx := map[string]int{}
	args := make([]any, len(models))
	for i, m := range models {
		idx[m.Name] = i
		args[i] = m.Name
		models[i].Aliases = map[string]int{}
	}
	in := "(" + placeholders(len(args)) + ")"
	err := db.each(ctx, `SELECT name, key, value FROM registered_model_tags WHERE name IN `+in+` ORDER BY name, key`, args, func(s scanner) error {
		var name string
		var t registry.Tag
		if err := s.Scan(&name, &t.Key, &t.Value); err != nil {
			return err
		}
		models[idx[name]].Tags = append(models[idx[name]].Tags, t)
		return nil
	})
	if err != nil {
		return wrap("load model tags", err)
	}
	err = db.each(ctx, `SELECT name, alias, version FROM model_aliases WHERE name IN `+in, args, func(s scanner) error {
		var name, alias string
		var v int
		if err := s.Scan(&name, &alias, &v); err != nil {
			return err
		}
		models[idx[name]].Aliases[alias] = v
		return nil
	})
	return wrap("load aliases", err)
}

// UpdateModel implements registry.Store.
func (db *DB) UpdateModel(ctx context.Context, name, description string, now int64) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?`), description, now, name)
		return db.mustAffect(res, err, modelNotFound(name))
	})
	return wrap("update model", err)
}

// mustAffect returns missing when an update touched no row.
func (db *DB) mustAffect(res sql.Result, err error, missing error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return missing
	}
	return nil
}

// RenameModel implements registry.Store.
func (db *DB) RenameModel(ctx context.Context, name, newName string, ev registry.AuditEvent) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.modelExists(ctx, tx, name); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM registered_models WHERE name = ?`), newName).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ferry.Errorf(ferry.ECONFLICT, "Registered Model (name=%s) already exists.", newName)
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?`), newName, ev.Time, name); err != nil {
			return err
		}
		for _, table := range []string{"promotion_requests", "model_version_checks"} {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE `+table+` SET name = ? WHERE name = ?`), newName, name); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, ev)
	})
	return wrap("rename model", err)
}

// DeleteModel implements registry.Store.
func (db *DB) DeleteModel(ctx context.Context, name string, ev registry.AuditEvent) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.modelExists(ctx, tx, name); err != nil {
			return err
		}
		for _, table := range []string{"model_version_datasets", "model_version_tags", "model_aliases", "model_versions", "registered_model_tags", "promotion_requests", "model_version_checks", "registered_models"} {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM `+table+` WHERE name = ?`), name); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, ev)
	})
	return wrap("delete model", err)
}

// SetModelTag implements registry.Store.
func (db *DB) SetModelTag(ctx context.Context, name string, t registry.Tag) error {
	return wrap("set model tag", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.modelExists(ctx, tx, name); err != nil {
			return err
		}
		return db.setModelTag(ctx, tx, name, t)
	}))
}

// DeleteModelTag implements registry.Store.
func (db *DB) DeleteModelTag(ctx context.Context, name, key string) error {
	return wrap("delete model tag", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.modelExists(ctx, tx, name); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM registered_model_tags WHERE name = ? AND key = ?`), name, key)
		return db.mustAffect(res, err, notFound("Registered model '%s' has no tag '%s'.", name, key))
	}))
}

const versionColumns = `name, version, creation_time, last_updated_time, description, user_id, stage, source, run_id, status, status_message, storage_uri, model_digest, git_commit, git_dirty, dataset_digests`

// qualifiedVersionColumns are versionColumns of model_versions v.
const qualifiedVersionColumns = `v.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, v.stage, v.source, v.run_id, v.status, v.status_message, v.storage_uri, v.model_digest, v.git_commit, v.git_dirty, v.dataset_digests`

func scanVersion(s scanner) (registry.Version, error) {
	var v registry.Version
	var dirty int
	var datasets string
	err := s.Scan(&v.Name, &v.Version, &v.CreationTime, &v.LastUpdatedTime, &v.Description, &v.UserID, &v.Stage, &v.Source, &v.RunID, &v.Status, &v.StatusMessage, &v.StorageURI, &v.ModelDigest, &v.GitCommit, &dirty, &datasets)
	v.GitDirty = dirty != 0
	if err == nil && datasets != "" {
		err = json.Unmarshal([]byte(datasets), &v.DatasetDigests)
	}
	return v, err
}

// CreateVersion implements registry.Store. Versions of a model may share a
// package digest (the same package registered twice).
func (db *DB) CreateVersion(ctx context.Context, v registry.Version, ev registry.AuditEvent) (registry.Version, error) {
	out, err := db.createVersion(ctx, v, ev)
	if err != nil {
		return out, wrap("create version", err)
	}
	return db.GetVersion(ctx, out.Name, out.Version)
}

func (db *DB) createVersion(ctx context.Context, v registry.Version, ev registry.AuditEvent) (registry.Version, error) {
	err := db.txAt(ctx, failpoint.RegisterBeforeCommit, failpoint.RegisterAfterCommit, func(tx *sql.Tx) error {
		if err := db.modelExists(ctx, tx, v.Name); err != nil {
			return err
		}
		// Bumping the counter also locks the model's row, so concurrent
		// creators queue rather than collide.
		if err := tx.QueryRowContext(ctx, db.q(`UPDATE registered_models SET last_version = last_version + 1 WHERE name = ? RETURNING last_version`), v.Name).Scan(&v.Version); err != nil {
			return err
		}
		datasets, err := json.Marshal(v.DatasetDigests)
		if err != nil {
			return err
		}
		dirty := 0
		if v.GitDirty {
			dirty = 1
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_versions (`+versionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			v.Name, v.Version, v.CreationTime, v.LastUpdatedTime, v.Description, v.UserID, v.Stage, v.Source, v.RunID, v.Status, v.StatusMessage, v.StorageURI, v.ModelDigest, v.GitCommit, dirty, string(datasets)); err != nil {
			return err
		}
		for _, d := range v.DatasetDigests {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_version_datasets (name, version, digest) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`), v.Name, v.Version, d); err != nil {
				return err
			}
		}
		for _, t := range v.Tags {
			if err := db.setVersionTag(ctx, tx, v.Name, v.Version, t); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET last_updated_time = ? WHERE name = ?`), v.CreationTime, v.Name); err != nil {
			return err
		}
		ev.Version = v.Version
		return db.audit(ctx, tx, ev)
	})
	return v, err
}

func (db *DB) setVersionTag(ctx context.Context, tx *sql.Tx, name string, version int, t registry.Tag) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value`), name, version, t.Key, t.Value)
	return err
}

// GetVersion implements registry.Store.
func (db *DB) GetVersion(ctx context.Context, name string, version int) (registry.Version, error) {
	v, err := scanVersion(db.r.QueryRowContext(ctx, db.q(`SELECT `+versionColumns+` FROM model_versions WHERE name = ? AND version = ?`), name, version))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.GetModel(ctx, name); err != nil {
			return v, err
		}
		return v, versionNotFound(name, version)
	} else if err != nil {
		return v, wrap("get version", err)
	}
	vs := []registry.Version{v}
	if err := db.loadVersionExtras(ctx, vs); err != nil {
		return v, err
	}
	return vs[0], nil
}

// loadVersionExtras fills the tags and aliases of versions.
func (db *DB) loadVersionExtras(ctx context.Context, vs []registry.Version) error {
	type key struct {
		name    string
		version int
	}
	idx := map[key]int{}
	names := map[string]bool{}
	for i, v := range vs {
		idx[key{v.Name, v.Version}] = i
		names[v.Name] = true
	}
	args := make([]any, 0, len(names))
	for n := range names {
		args = append(args, n)
	}
	if len(args) == 0 {
		return nil
	}
	in := "(" + placeholders(len(args)) + ")"
	err := db.each(ctx, `SELECT name, version, key, value FROM model_version_tags WHERE name IN `+in+` ORDER BY key`, args, func(s scanner) error {
		var k key
		var t registry.Tag
		if err := s.Scan(&k.name, &k.version, &t.Key, &t.Value); err != nil {
			return err
		}
		if i, ok := idx[k]; ok {
			vs[i].Tags = append(vs[i].Tags, t)
		}
		return nil
	})
	if err != nil {
		return wrap("load version tags", err)
	}
	err = db.each(ctx, `SELECT name, version, alias FROM model_aliases WHERE name IN `+in+` ORDER BY alias`, args, func(s scanner) error {
		var k key
		var alias string
		if err := s.Scan(&k.name, &k.version, &alias); err != nil {
			return err
		}
		if i, ok := idx[k]; ok {
			vs[i].Aliases = append(vs[i].Aliases, alias)
		}
		return nil
	})
	return wrap("load version aliases", err)
}

// UpdateVersion implements registry.Store.
func (db *DB) UpdateVersion(ctx context.Context, name string, version int, description string, now int64) error {
	return wrap("update version", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?`), description, now, name, version)
		return err
	}))
}

// DeleteVersion implements registry.Store.
func (db *DB) DeleteVersion(ctx context.Context, name string, version int, ev registry.AuditEvent) error {
	return wrap("delete version", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		for _, table := range []string{"model_version_datasets", "model_version_tags", "model_aliases", "promotion_requests", "model_version_checks", "model_versions"} {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM `+table+` WHERE name = ? AND version = ?`), name, version); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, ev)
	}))
}

// SetVersionTag implements registry.Store.
func (db *DB) SetVersionTag(ctx context.Context, name string, version int, t registry.Tag) error {
	return wrap("set version tag", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		return db.setVersionTag(ctx, tx, name, version, t)
	}))
}

// DeleteVersionTag implements registry.Store.
func (db *DB) DeleteVersionTag(ctx context.Context, name string, version int, key string) error {
	return wrap("delete version tag", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?`), name, version, key)
		return db.mustAffect(res, err, notFound("Model version %s %d has no tag '%s'.", name, version, key))
	}))
}

// TransitionStage implements registry.Store.
func (db *DB) TransitionStage(ctx context.Context, name string, version int, stage string, archiveExisting bool, ev registry.AuditEvent) (registry.Version, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockModel(ctx, tx, name); err != nil {
			return err
		}
		if err := db.versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		var from string
		if err := tx.QueryRowContext(ctx, db.q(`SELECT stage FROM model_versions WHERE name = ? AND version = ?`), name, version).Scan(&from); err != nil {
			return err
		}
		if archiveExisting && stage != registry.StageNone && stage != registry.StageArchived {
			var others []int
			err := func() error {
				rows, err := tx.QueryContext(ctx, db.q(`SELECT version FROM model_versions WHERE name = ? AND stage = ? AND version <> ? ORDER BY version`), name, stage, version)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var v int
					if err := rows.Scan(&v); err != nil {
						return err
					}
					others = append(others, v)
				}
				return rows.Err()
			}()
			if err != nil {
				return err
			}
			for _, o := range others {
				if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET stage = ?, last_updated_time = ? WHERE name = ? AND version = ?`), registry.StageArchived, ev.Time, name, o); err != nil {
					return err
				}
				arch := ev
				arch.Version, arch.From, arch.To, arch.Reason = o, stage, registry.StageArchived, "archive_existing_versions: version "+strconv.Itoa(version)+" moved to "+stage
				if err := db.audit(ctx, tx, arch); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET stage = ?, last_updated_time = ? WHERE name = ? AND version = ?`), stage, ev.Time, name, version); err != nil {
			return err
		}
		ev.From, ev.To = from, stage
		return db.audit(ctx, tx, ev)
	})
	if err != nil {
		return registry.Version{}, wrap("transition stage", err)
	}
	return db.GetVersion(ctx, name, version)
}

// SetAlias implements registry.Store.
func (db *DB) SetAlias(ctx context.Context, name, alias string, version int, ev registry.AuditEvent) (int, error) {
	var prev int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockModel(ctx, tx, name); err != nil {
			return err
		}
		if err := db.versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, db.q(`SELECT version FROM model_aliases WHERE name = ? AND alias = ?`), name, alias).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version`), name, alias, version); err != nil {
			return err
		}
		ev.Version, ev.To = version, "@"+alias
		if prev != 0 {
			ev.From = "@" + alias + " on version " + strconv.Itoa(prev)
		}
		return db.audit(ctx, tx, ev)
	})
	return prev, wrap("set alias", err)
}

// DeleteAlias implements registry.Store.
func (db *DB) DeleteAlias(ctx context.Context, name, alias string, ev registry.AuditEvent) error {
	return wrap("delete alias", db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockModel(ctx, tx, name); err != nil {
			return err
		}
		var v int
		err := tx.QueryRowContext(ctx, db.q(`SELECT version FROM model_aliases WHERE name = ? AND alias = ?`), name, alias).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("Registered model alias %s not found.", alias)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM model_aliases WHERE name = ? AND alias = ?`), name, alias); err != nil {
			return err
		}
		ev.Version, ev.From = v, "@"+alias
		return db.audit(ctx, tx, ev)
	}))
}

// GetAlias implements registry.Store.
func (db *DB) GetAlias(ctx context.Context, name, alias string) (int, error) {
	var v int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT version FROM model_aliases WHERE name = ? AND alias = ?`), name, alias).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.GetModel(ctx, name); err != nil {
			return 0, err
		}
		return 0, notFound("Registered model alias %s not found.", alias)
	}
	return v, wrap("get alias", err)
}

const requestColumns = `id, name, version, target, requested_by, requested_at, reason, status, decided_by, decided_at, comment`

func scanRequest(s scanner) (registry.Request, error) {
	var r registry.Request
	err := s.Scan(&r.ID, &r.Model, &r.Version, &r.Target, &r.RequestedBy, &r.RequestedAt, &r.Reason, &r.Status, &r.DecidedBy, &r.DecidedAt, &r.Comment)
	return r, err
}

// CreateRequest implements registry.Store.
func (db *DB) CreateRequest(ctx context.Context, r registry.Request, ev registry.AuditEvent) (registry.Request, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.lockModel(ctx, tx, r.Model); err != nil {
			return err
		}
		if err := db.versionExists(ctx, tx, r.Model, r.Version); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO promotion_requests (name, version, target, requested_by, requested_at, reason, status, decided_by, decided_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, '', 0, '') RETURNING id`),
			r.Model, r.Version, r.Target, r.RequestedBy, r.RequestedAt, r.Reason, r.Status).Scan(&r.ID); err != nil {
			return err
		}
		return db.audit(ctx, tx, ev)
	})
	return r, wrap("create request", err)
}

// FindRequests implements registry.Store.
func (db *DB) FindRequests(ctx context.Context, name string, version int, target string) ([]registry.Request, error) {
	var out []registry.Request
	err := db.each(ctx, `SELECT `+requestColumns+` FROM promotion_requests WHERE name = ? AND version = ? AND target = ? ORDER BY id`, []any{name, version, target}, func(s scanner) error {
		r, err := scanRequest(s)
		out = append(out, r)
		return err
	})
	return out, wrap("find requests", err)
}

// DecideRequest implements registry.Store.
func (db *DB) DecideRequest(ctx context.Context, id int64, status, by, comment string, now int64, ev registry.AuditEvent) (registry.Request, error) {
	var r registry.Request
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanRequest(tx.QueryRowContext(ctx, db.q(`SELECT `+requestColumns+` FROM promotion_requests WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("No promotion request %d.", id)
		} else if err != nil {
			return err
		}
		if r.Status != registry.RequestPending {
			return ferry.Errorf(ferry.ECONFLICT, "Promotion request %d was already %s by %s.", id, r.Status, r.DecidedBy)
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE promotion_requests SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ? AND status = ?`), status, by, now, comment, id, registry.RequestPending)
		if err := db.mustAffect(res, err, ferry.Errorf(ferry.ECONFLICT, "Promotion request %d was decided concurrently.", id)); err != nil {
			return err
		}
		r.Status, r.DecidedBy, r.DecidedAt, r.Comment = status, by, now, comment
		return db.audit(ctx, tx, ev)
	})
	return r, wrap("decide request", err)
}

// AddCheck implements registry.Store.
func (db *DB) AddCheck(ctx context.Context, c registry.Check, ev registry.AuditEvent) (registry.Check, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.versionExists(ctx, tx, c.Model, c.Version); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO model_version_checks (name, version, kind, verdict, details, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			c.Model, c.Version, c.Kind, c.Verdict, c.Details, c.CreatedBy, c.CreatedAt).Scan(&c.ID); err != nil {
			return err
		}
		return db.audit(ctx, tx, ev)
	})
	return c, wrap("add check", err)
}

// ListChecks implements registry.Store.
func (db *DB) ListChecks(ctx context.Context, name string, version int) ([]registry.Check, error) {
	var out []registry.Check
	err := db.each(ctx, `SELECT id, name, version, kind, verdict, details, created_by, created_at FROM model_version_checks WHERE name = ? AND version = ? ORDER BY id`, []any{name, version}, func(s scanner) error {
		var c registry.Check
		err := s.Scan(&c.ID, &c.Model, &c.Version, &c.Kind, &c.Verdict, &c.Details, &c.CreatedBy, &c.CreatedAt)
		out = append(out, c)
		return err
	})
	return out, wrap("list checks", err)
}

// AppendAudit implements registry.Store.
func (db *DB) AppendAudit(ctx context.Context, ev registry.AuditEvent) error {
	return wrap("append audit", db.tx(ctx, func(tx *sql.Tx) error { return db.audit(ctx, tx, ev) }))
}

// ListAudit implements registry.Store.
func (db *DB) ListAudit(ctx context.Context, name string) ([]registry.AuditEvent, error) {
	query, args := `SELECT id, time, principal, action, name, version, from_ref, to_ref, reason FROM registry_audit`, []any{}
	if name != "" {
		query, args = query+` WHERE name = ?`, append(args, name)
	}
	var out []registry.AuditEvent
	err := db.each(ctx, query+` ORDER BY id`, args, func(s scanner) error {
		var e registry.AuditEvent
		err := s.Scan(&e.ID, &e.Time, &e.Principal, &e.Action, &e.Model, &e.Version, &e.From, &e.To, &e.Reason)
		out = append(out, e)
		return err
	})
	return out, wrap("list audit", err)
}
