package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/tracking"
)

// query accumulates a SELECT's joins, conditions and their arguments in the
// order their placeholders appear.
type query struct {
	from      string // the FROM clause; "" means the caller's default
	joins     []string
	joinArgs  []any
	where     []string
	whereArgs []any
	order     []string
}

func (q *query) cond(sql string, args ...any) {
	q.where = append(q.where, sql)
	q.whereArgs = append(q.whereArgs, args...)
}

func (q *query) args(tail ...any) []any {
	out := make([]any, 0, len(q.joinArgs)+len(q.whereArgs)+len(tail))
	out = append(out, q.joinArgs...)
	out = append(out, q.whereArgs...)
	return append(out, tail...)
}

func (q *query) sql(head string) string {
	var b strings.Builder
	b.WriteString(head)
	for _, j := range q.joins {
		b.WriteString(" ")
		b.WriteString(j)
	}
	if len(q.where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(q.where, " AND "))
	}
	if len(q.order) > 0 {
		b.WriteString(" ORDER BY ")
		b.WriteString(strings.Join(q.order, ", "))
	}
	b.WriteString(" LIMIT ? OFFSET ?")
	return b.String()
}

// runAttributeColumns maps filterable and sortable run attributes to columns.
var runAttributeColumns = map[string]string{
	"run_id":          "r.run_uuid",
	"run_name":        "r.name",
	"status":          "r.status",
	"user_id":         "r.user_id",
	"artifact_uri":    "r.artifact_uri",
	"lifecycle_stage": "r.lifecycle_stage",
	"start_time":      "r.start_time",
	"end_time":        "r.end_time",
	"experiment_id":   "r.experiment_id",
}

// compare renders "col OP ?" for a comparison's operator and adds its operands.
func compare(col string, c tracking.Comparison) (string, []any, error) {
	switch c.Op {
	case "=", "!=", ">", ">=", "<", "<=":
		op := c.Op
		if op == "!=" {
			op = "<>"
		}
		if c.IsNum {
			return col + " " + op + " ?", []any{c.Num}, nil
		}
		return col + " " + op + " ?", []any{c.Str}, nil
	case "LIKE":
		return col + " LIKE ?", []any{c.Str}, nil
	case "ILIKE":
		return "LOWER(" + col + ") LIKE LOWER(?)", []any{c.Str}, nil
	case "IN", "NOT IN":
		if len(c.Values) == 0 {
			return "", nil, invalid("The %s list of '%s' is empty.", c.Op, c.Key)
		}
		args := make([]any, len(c.Values))
		for i, v := range c.Values {
			args[i] = v
		}
		return col + " " + c.Op + " (" + placeholders(len(args)) + ")", args, nil
	}
	return "", nil, invalid("Operator '%s' is not supported for %s '%s'.", c.Op, c.Entity, c.Key)
}

// SearchRuns implements tracking.Store.
func (db *DB) SearchRuns(ctx context.Context, rq tracking.RunQuery) ([]tracking.Run, string, error) {
	offset, err := tracking.DecodePageToken(rq.PageToken)
	if err != nil {
		return nil, "", err
	}
	var q query
	exps := make([]any, 0, len(rq.ExperimentIDs))
	for _, id := range rq.ExperimentIDs {
		if n, ok := parseID(id); ok {
			exps = append(exps, n)
		}
	}
	if len(exps) == 0 {
		return nil, "", nil
	}
	q.cond("r.experiment_id IN ("+placeholders(len(exps))+")", exps...)
	switch rq.ViewType {
	case tracking.ViewActiveOnly, "":
		q.cond("r.lifecycle_stage = ?", tracking.StageActive)
	case tracking.ViewDeletedOnly:
		q.cond("r.lifecycle_stage = ?", tracking.StageDeleted)
	}
	for _, c := range rq.Filter {
		if err := runCondition(&q, c); err != nil {
			return nil, "", err
		}
	}
	if len(rq.OrderBy) == 0 {
		if err := db.narrowBySelectiveMetric(ctx, &q, rq.Filter); err != nil {
			return nil, "", err
		}
	}
	for i, o := range rq.OrderBy {
		if err := runOrder(&q, i, o, filtersMetric(rq.Filter, o)); err != nil {
			return nil, "", err
		}
	}
	q.order = append(q.order, "r.start_time DESC", "r.run_uuid ASC")

	limit := rq.MaxResults
	var runs []tracking.Run
	from := q.from
	if from == "" {
		from = "runs r"
	}
	err = db.each(ctx, q.sql(`SELECT `+runColumns+` FROM `+from), q.args(limit+1, offset), func(s scanner) error {
		in, err := scanRunInfo(s)
		runs = append(runs, tracking.Run{Info: in})
		return err
	})
	if err != nil {
		return nil, "", wrap("search runs", err)
	}
	next := ""
	if len(runs) > limit {
		runs = runs[:limit]
		next = tracking.EncodePageToken(offset + limit)
	}
	if err := db.loadRunData(ctx, runs); err != nil {
		return nil, "", err
	}
	return runs, next, nil
}

func runCondition(q *query, c tracking.Comparison) error {
	var table, valueCol string
	switch c.Entity {
	case tracking.EntityMetric:
		table, valueCol = "latest_metrics", "x.value"
	case tracking.EntityParam:
		table, valueCol = "params", "x.value"
	case tracking.EntityTag:
		table, valueCol = "tags", "x.value"
	case tracking.EntityDataset:
		cols := map[string]string{"name": "x.name", "digest": "x.digest", "context": "x.context"}
		col, ok := cols[c.Key]
		if !ok {
			return invalid("Invalid dataset attribute '%s'; expected name, digest or context.", c.Key)
		}
		expr, args, err := compare(col, c)
		if err != nil {
			return err
		}
		q.cond("EXISTS (SELECT 1 FROM run_inputs x WHERE x.run_uuid = r.run_uuid AND "+expr+")", args...)
		return nil
	case tracking.EntityAttribute:
		col, ok := runAttributeColumns[c.Key]
		if !ok {
			return invalid("Invalid attribute key '%s'.", c.Key)
		}
		expr, args, err := compare(col, c)
		if err != nil {
			return err
		}
		if c.Key == "end_time" {
			expr = "r.end_time IS NOT NULL AND " + expr
		}
		q.cond(expr, args...)
		return nil
	default:
		return invalid("Invalid entity type '%s'.", c.Entity)
	}
	exists := "EXISTS (SELECT 1 FROM " + table + " x WHERE x.run_uuid = r.run_uuid AND x.key = ?"
	switch c.Op {
	case "IS NULL":
		q.cond("NOT "+exists+")", c.Key)
		return nil
	case "IS NOT NULL":
		q.cond(exists+")", c.Key)
		return nil
	}
	expr, args, err := compare(valueCol, c)
	if err != nil {
		return err
	}
	if c.Entity == tracking.EntityMetric {
		expr = "x.is_nan = 0 AND " + expr
	}
	q.cond(exists+" AND "+expr+")", append([]any{c.Key}, args...)...)
	return nil
}

// selectiveRows is the most matching runs a metric comparison may have for
// the search to start from them rather than from the runs in start order.
const selectiveRows = 5000

// narrowBySelectiveMetric adds, for the metric comparison of f that matches
// the fewest runs (when at most selectiveRows), a condition the planner can
// drive from the (key, value) index: a filter matching few runs then reads
// only those instead of every run of the experiments. Counting uses the same
// index and costs little.
func (db *DB) narrowBySelectiveMetric(ctx context.Context, q *query, f tracking.Filter) error {
	best, bestN := -1, selectiveRows+1
	for i, c := range f {
		if c.Entity != tracking.EntityMetric || !c.IsNum {
			continue
		}
		switch c.Op {
		case "=", ">", ">=", "<", "<=":
		default:
			continue
		}
		var n int
		if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM latest_metrics WHERE key = ? AND value `+c.Op+` ? LIMIT ?) t`), c.Key, c.Num, bestN).Scan(&n); err != nil {
			return wrap("search runs", err)
		}
		if n < bestN {
			best, bestN = i, n
		}
	}
	if best < 0 {
		return nil
	}
	c := f[best]
	q.cond("r.run_uuid IN (SELECT s.run_uuid FROM latest_metrics s WHERE s.key = ? AND s.is_nan = 0 AND s.value "+c.Op+" ?)", c.Key, c.Num)
	return nil
}

// filtersMetric reports whether the filter compares the metric o orders by, so
// that every result has a (non-NaN) value of it.
func filtersMetric(f tracking.Filter, o tracking.OrderBy) bool {
	if o.Entity != tracking.EntityMetric {
		return false
	}
	for _, c := range f {
		if c.Entity == tracking.EntityMetric && c.Key == o.Key && c.Op != "IS NULL" && c.Op != "IS NOT NULL" {
			return true
		}
	}
	return false
}

// runOrder adds the i-th order term. present says every result has a value
// for it: then the join is inner and the sort can walk the
// latest_metrics (key, value) index and stop at the page's end.
func runOrder(q *query, i int, o tracking.OrderBy, present bool) error {
	dir := " DESC"
	if o.Ascending {
		dir = " ASC"
	}
	alias := "o" + strconv.Itoa(i)
	var col string
	switch o.Entity {
	case tracking.EntityMetric:
		if present && i == 0 {
			// Drive the query from the metric's index in sort order (CROSS
			// JOIN fixes the loop order in SQLite), so it stops at the page's
			// end instead of sorting every matching run.
			q.from = "latest_metrics " + alias + " CROSS JOIN runs r"
			q.where = append([]string{alias + ".key = ? AND " + alias + ".run_uuid = r.run_uuid"}, q.where...)
			q.whereArgs = append([]any{o.Key}, q.whereArgs...)
			q.order = append(q.order, alias+".value"+dir)
			return nil
		}
		if present {
			q.joins = append(q.joins, fmt.Sprintf("JOIN latest_metrics %[1]s ON %[1]s.run_uuid = r.run_uuid AND %[1]s.key = ?", alias))
			q.joinArgs = append(q.joinArgs, o.Key)
			q.order = append(q.order, alias+".value"+dir)
			return nil
		}
		q.joins = append(q.joins, fmt.Sprintf("LEFT JOIN latest_metrics %[1]s ON %[1]s.run_uuid = r.run_uuid AND %[1]s.key = ?", alias))
		q.joinArgs = append(q.joinArgs, o.Key)
		col = "CASE WHEN " + alias + ".is_nan = 1 THEN NULL ELSE " + alias + ".value END"
	case tracking.EntityParam, tracking.EntityTag:
		table := "params"
		if o.Entity == tracking.EntityTag {
			table = "tags"
		}
		q.joins = append(q.joins, fmt.Sprintf("LEFT JOIN %[2]s %[1]s ON %[1]s.run_uuid = r.run_uuid AND %[1]s.key = ?", alias, table))
		q.joinArgs = append(q.joinArgs, o.Key)
		col = alias + ".value"
	case tracking.EntityAttribute:
		c, ok := runAttributeColumns[o.Key]
		if !ok {
			return invalid("Invalid order_by attribute '%s'.", o.Key)
		}
		col = c
	default:
		return invalid("Invalid order_by entity '%s'.", o.Entity)
	}
	// Missing values sort last in either direction, as MLflow does.
	q.order = append(q.order, "CASE WHEN "+col+" IS NULL THEN 1 ELSE 0 END", col+dir)
	return nil
}

// experimentAttributeColumns maps filterable and sortable experiment attributes.
var experimentAttributeColumns = map[string]string{
	"name":             "e.name",
	"experiment_id":    "e.experiment_id",
	"creation_time":    "e.creation_time",
	"last_update_time": "e.last_update_time",
}

// SearchExperiments implements tracking.Store.
func (db *DB) SearchExperiments(ctx context.Context, eq tracking.ExperimentQuery) ([]tracking.Experiment, string, error) {
	offset, err := tracking.DecodePageToken(eq.PageToken)
	if err != nil {
		return nil, "", err
	}
	var q query
	switch eq.ViewType {
	case tracking.ViewActiveOnly, "":
		q.cond("e.lifecycle_stage = ?", tracking.StageActive)
	case tracking.ViewDeletedOnly:
		q.cond("e.lifecycle_stage = ?", tracking.StageDeleted)
	}
	for _, c := range eq.Filter {
		switch c.Entity {
		case tracking.EntityAttribute:
			col, ok := experimentAttributeColumns[c.Key]
			if !ok {
				return nil, "", invalid("Invalid experiment attribute '%s'; expected name, creation_time or last_update_time.", c.Key)
			}
			if c.Key == "experiment_id" && !c.IsNum {
				n, err := strconv.ParseFloat(c.Str, 64)
				if err != nil {
					return nil, "", invalid("experiment_id must be compared with a number, got '%s'.", c.Str)
				}
				c.Num, c.IsNum = n, true
			}
			expr, args, err := compare(col, c)
			if err != nil {
				return nil, "", err
			}
			q.cond(expr, args...)
		case tracking.EntityTag:
			expr, args, err := compare("x.value", c)
			if err != nil {
				return nil, "", err
			}
			q.cond("EXISTS (SELECT 1 FROM experiment_tags x WHERE x.experiment_id = e.experiment_id AND x.key = ? AND "+expr+")", append([]any{c.Key}, args...)...)
		default:
			return nil, "", invalid("Experiments cannot be filtered by %s.", c.Entity)
		}
	}
	for _, o := range eq.OrderBy {
		col, ok := experimentAttributeColumns[o.Key]
		if o.Entity != tracking.EntityAttribute || !ok {
			return nil, "", invalid("Invalid order_by clause for experiments: '%s'.", o.Key)
		}
		dir := " DESC"
		if o.Ascending {
			dir = " ASC"
		}
		q.order = append(q.order, col+dir)
	}
	q.order = append(q.order, "e.creation_time DESC", "e.experiment_id ASC")

	limit := eq.MaxResults
	var exps []tracking.Experiment
	err = db.each(ctx, q.sql(`SELECT `+experimentColumns+` FROM experiments e`), q.args(limit+1, offset), func(s scanner) error {
		e, err := scanExperiment(s)
		exps = append(exps, e)
		return err
	})
	if err != nil {
		return nil, "", wrap("search experiments", err)
	}
	next := ""
	if len(exps) > limit {
		exps = exps[:limit]
		next = tracking.EncodePageToken(offset + limit)
	}
	if err := db.loadExperimentTags(ctx, exps); err != nil {
		return nil, "", err
	}
	return exps, next, nil
}
