package sqlstore

import (
	"context"
	"strings"

	"github.com/ferry-ml/ferry/internal/registry"
)

// orderTerms turns canonical order_by clauses ("key ASC") into SQL terms
// over cols, the columns each key may name. Anything else is EINVALID.
func orderTerms(in []string, cols map[string]string, what string) ([]string, error) {
	var out []string
	for _, o := range in {
		field, dir, _ := strings.Cut(strings.TrimSpace(o), " ")
		col := cols[strings.TrimPrefix(field, "attributes.")]
		if col == "" {
			return nil, invalid("Invalid order_by field %q for %s.", field, what)
		}
		switch strings.ToUpper(strings.TrimSpace(dir)) {
		case "", "ASC":
			out = append(out, col+" ASC")
		case "DESC":
			out = append(out, col+" DESC")
		default:
			return nil, invalid("Invalid order_by direction %q; use ASC or DESC.", dir)
		}
	}
	return out, nil
}

// whereConds adds registry search conditions to q: fields over cols, tags
// as an EXISTS over tagQuery (which ends where the value comparison goes and
// takes the key as its one argument). LIKE is case-sensitive in both
// dialects (SQLite runs with case_sensitive_like); ILIKE compares
// lower-cased. A field or operator outside these is EINVALID.
func whereConds(q *query, conds []registry.Cond, cols map[string]string, tagQuery string) error {
	compare := func(col, op string) (string, error) {
		switch op {
		case "=", "!=", "LIKE":
			return col + " " + op + " ?", nil
		case "ILIKE":
			return "LOWER(" + col + ") LIKE LOWER(?)", nil
		}
		return "", invalid("Invalid search operator %q; use =, !=, LIKE or ILIKE.", op)
	}
	for _, c := range conds {
		if c.Field == "tag" {
			cmp, err := compare("t.value", c.Op)
			if err != nil {
				return err
			}
			q.cond("EXISTS ("+tagQuery+cmp+")", c.Key, c.Value)
			continue
		}
		col, ok := cols[c.Field]
		if !ok {
			return invalid("Invalid search field %q.", c.Field)
		}
		cmp, err := compare(col, c.Op)
		if err != nil {
			return err
		}
		q.cond(cmp, c.Value)
	}
	return nil
}

// SearchModels implements registry.Store. Pages are offsets into the order,
// which the (creation_time) and (last_updated_time) indexes serve.
func (db *DB) SearchModels(ctx context.Context, mq registry.ModelQuery) ([]registry.Model, string, error) {
	offset, err := registry.DecodePageToken(mq.PageToken)
	if err != nil {
		return nil, "", err
	}
	var q query
	if mq.Name != "" {
		q.cond("name = ?", mq.Name)
	}
	if err := whereConds(&q, mq.Where, map[string]string{"name": "registered_models.name"},
		"SELECT 1 FROM registered_model_tags t WHERE t.name = registered_models.name AND t.key = ? AND "); err != nil {
		return nil, "", err
	}
	q.order, err = orderTerms(mq.OrderBy, map[string]string{"name": "name", "creation_timestamp": "creation_time", "last_updated_timestamp": "last_updated_time", "timestamp": "creation_time"},
		"registered models; use name, creation_timestamp or last_updated_timestamp")
	if err != nil {
		return nil, "", err
	}
	q.order = append(q.order, "name ASC")
	limit := mq.MaxResults
	if limit <= 0 {
		limit = registry.ModelSearchDefault
	}
	var models []registry.Model
	err = db.each(ctx, q.sql(`SELECT name, description, creation_time, last_updated_time FROM registered_models`), q.args(limit+1, offset), func(s scanner) error {
		var m registry.Model
		err := s.Scan(&m.Name, &m.Description, &m.CreationTime, &m.LastUpdatedTime)
		models = append(models, m)
		return err
	})
	if err != nil {
		return nil, "", wrap("search models", err)
	}
	next := ""
	if len(models) > limit {
		models, next = models[:limit], registry.EncodePageToken(offset+limit)
	}
	if err := db.loadModelExtras(ctx, models); err != nil {
		return nil, "", err
	}
	return models, next, nil
}

// versionOrderColumns maps the sort keys of versions to columns.
var versionOrderColumns = map[string]string{
	"name": "v.name", "version_number": "v.version", "version": "v.version",
	"creation_timestamp": "v.creation_time", "timestamp": "v.creation_time", "last_updated_timestamp": "v.last_updated_time",
}

// SearchVersions implements registry.Store. Pages are offsets into the
// order; ties break by name ascending, then version descending, as MLflow
// does.
func (db *DB) SearchVersions(ctx context.Context, vq registry.VersionQuery) ([]registry.Version, string, error) {
	offset, err := registry.DecodePageToken(vq.PageToken)
	if err != nil {
		return nil, "", err
	}
	var q query
	if vq.Name != "" {
		q.cond("v.name = ?", vq.Name)
	}
	if vq.RunID != "" {
		q.cond("v.run_id = ?", vq.RunID)
	}
	if vq.Stage != "" {
		q.cond("v.stage = ?", vq.Stage)
	}
	if vq.Digest != "" {
		q.cond("v.model_digest = ?", vq.Digest)
	}
	if err := whereConds(&q, vq.Where, map[string]string{"name": "v.name", "run_id": "v.run_id"},
		"SELECT 1 FROM model_version_tags t WHERE t.name = v.name AND t.version = v.version AND t.key = ? AND "); err != nil {
		return nil, "", err
	}
	if vq.Dataset != "" {
		q.cond("EXISTS (SELECT 1 FROM model_version_datasets d WHERE d.name = v.name AND d.version = v.version AND d.digest = ?)", vq.Dataset)
	}
	q.order, err = orderTerms(vq.OrderBy, versionOrderColumns, "model versions; use name, version_number, creation_timestamp or last_updated_timestamp")
	if err != nil {
		return nil, "", err
	}
	q.order = append(q.order, "v.name ASC", "v.version DESC")
	limit := vq.MaxResults
	if limit <= 0 {
		limit = registry.VersionSearchDefault
	}
	var out []registry.Version
	err = db.each(ctx, q.sql(`SELECT `+qualifiedVersionColumns+` FROM model_versions v`), q.args(limit+1, offset), func(s scanner) error {
		v, err := scanVersion(s)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, "", wrap("search versions", err)
	}
	next := ""
	if len(out) > limit {
		out, next = out[:limit], registry.EncodePageToken(offset+limit)
	}
	if err := db.loadVersionExtras(ctx, out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// LatestVersions implements registry.Store. The (name, stage, version)
// index answers the grouping without reading the versions' rows.
func (db *DB) LatestVersions(ctx context.Context, names []string) ([]registry.Version, error) {
	if len(names) == 0 {
		return nil, nil
	}
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	var out []registry.Version
	err := db.each(ctx, `SELECT `+qualifiedVersionColumns+` FROM model_versions v JOIN (SELECT name, MAX(version) AS version FROM model_versions WHERE name IN (`+placeholders(len(args))+`) GROUP BY name, stage) m ON m.name = v.name AND m.version = v.version ORDER BY v.name, v.version`, args, func(s scanner) error {
		v, err := scanVersion(s)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, wrap("latest versions", err)
	}
	if err := db.loadVersionExtras(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}
