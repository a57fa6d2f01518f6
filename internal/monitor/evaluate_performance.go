package monitor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

// MaxLogSegmentBytes bounds one inference-log segment read back for
// model_performance (the collector writes segments of about 16 MiB).
const MaxLogSegmentBytes = 256 << 20

// prediction is one logged prediction: its request's row 0.
type prediction struct {
	requestID string
	score     []float64 // one value, or one probability per class
}

// performance scores the predictions logged for deployment in [from, to)
// that have labels. A label is for its request's first row (row 0). The
// output scored is sig.Output, or else the first output column (outputs);
// a binary model's probability of its second class is the column named
// <output>_<class> (as the collector names the entries of a [rows, 2]
// output) when the output is not a column itself; a multiclass model's
// probabilities are the columns <output>_<class> of every class.
func (e *Evaluator) performance(ctx context.Context, endpoint, deployment string, from, to time.Time, sig PerformanceSignal, task ModelTask, outputs []string) ([]Result, error) {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range sig.MetricThresholds {
			if !yield(k) {
				return
			}
		}
	})
	noVerdict := func(feature, note string, n int64) []Result {
		out := make([]Result, 0, len(names))
		for _, k := range names {
			out = append(out, Result{Signal: SignalModelPerformance, Feature: feature, Metric: k, Threshold: sig.MetricThresholds[k], Count: n, Note: note})
		}
		return out
	}
	output := sig.Output
	if output == "" && len(outputs) > 0 {
		output = outputs[0]
		if task.Task != model.TaskRegression {
			// The first output's name without its class suffix.
			for _, c := range task.Classes {
				if s, ok := strings.CutSuffix(output, "_"+c); ok {
					output = s
					break
				}
			}
		}
	}
	switch {
	case e.opts.Logs == nil:
		return noVerdict(output, "no inference logs to read", 0), nil
	case task.Task == "":
		return noVerdict(output, "the model's task is unknown", 0), nil
	case output == "":
		return noVerdict(output, "no model output in the production data", 0), nil
	}
	preds, err := e.readPredictions(ctx, endpoint, deployment, from, to, output, task)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(preds))
	for _, p := range preds {
		ids = append(ids, p.requestID)
	}
	labels := map[string]Label{}
	for chunk := range slices.Chunk(ids, 1000) {
		ls, err := e.opts.Monitor.LabelsFor(ctx, endpoint, chunk)
		if err != nil {
			return nil, err
		}
		for k, v := range ls {
			labels[k] = v
		}
	}
	var y, pred []float64
	bad := 0
	for _, p := range preds {
		l, ok := labels[p.requestID]
		if !ok {
			continue
		}
		v, ok := labelValue(l.Value, task)
		if !ok {
			bad++
			continue
		}
		y = append(y, v)
		pred = append(pred, p.score...)
	}
	n := int64(len(y))
	if n < int64(sig.MinLabels) || n == 0 {
		return noVerdict(output, fmt.Sprintf("%d labelled predictions; a verdict needs %d", n, sig.MinLabels), n), nil
	}
	if err := metrics.Check(task.Task, task.Classes, y, pred); err != nil {
		return noVerdict(output, ferry.ErrorMessage(err), n), nil
	}
	got, _ := metrics.EvaluateChecked(task.Task, task.Classes, y, pred, false)
	out := make([]Result, 0, len(names))
	for _, k := range names {
		r := Result{Signal: SignalModelPerformance, Feature: output, Metric: k, Threshold: sig.MetricThresholds[k], Count: n}
		v, ok := got[k]
		if !ok {
			r.Note = fmt.Sprintf("%s is not defined on these %d predictions", k, n)
		} else {
			r.Score, r.Verdict = v, true
			if metrics.LowerIsBetter(k) {
				r.Breached = v > r.Threshold
			} else {
				r.Breached = v < r.Threshold
			}
		}
		if bad > 0 && r.Note == "" {
			r.Note = fmt.Sprintf("%d labels that are not of the model's classes were left out", bad)
		}
		out = append(out, r)
	}
	return out, nil
}

// labelValue is a label as metrics.Evaluate takes it: the value of a
// regression, the class index of a classifier (its label, or its index
// when the label is a number that is not a class label).
func labelValue(s string, task ModelTask) (float64, bool) {
	if task.Task == model.TaskRegression {
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	if i := slices.Index(task.Classes, s); i >= 0 {
		return float64(i), true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != float64(int(v)) || v < 0 || (len(task.Classes) > 0 && int(v) >= len(task.Classes)) {
		return 0, false
	}
	return v, true
}

// scoreColumns are the log columns holding output's scores for task: one
// column per class for a multiclass model, the positive class's (or the
// output itself) for a binary one, the output for a regression.
func scoreColumns(f *dataset.Frame, output string, task ModelTask) ([]string, bool) {
	has := func(n string) bool { _, err := f.Col(n); return err == nil }
	switch task.Task {
	case model.TaskMulticlass:
		cols := make([]string, 0, len(task.Classes))
		for _, c := range task.Classes {
			if !has(output + "_" + c) {
				return nil, false
			}
			cols = append(cols, output+"_"+c)
		}
		return cols, len(cols) > 0
	case model.TaskBinary:
		if has(output) {
			return []string{output}, true
		}
		for _, n := range []string{lastClass(task.Classes), "1"} {
			if n != "" && has(output+"_"+n) {
				return []string{output + "_" + n}, true
			}
		}
		return nil, false
	}
	return []string{output}, has(output)
}

func lastClass(cs []string) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[len(cs)-1]
}

// readPredictions reads the first row of each request deployment logged in
// [from, to) from the hourly partitions of the inference logs.
func (e *Evaluator) readPredictions(ctx context.Context, endpoint, deployment string, from, to time.Time, output string, task ModelTask) ([]prediction, error) {
	var out []prediction
	root := blob.Join(blob.Join(e.opts.LogPrefix, endpoint), deployment)
	for hour := from.UTC().Truncate(time.Hour); hour.Before(to); hour = hour.Add(time.Hour) {
		dir := fmt.Sprintf("%s/date=%s/hour=%02d", root, hour.Format("2006-01-02"), hour.Hour())
		entries, err := e.opts.Logs.List(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", dir, err)
		}
		for _, en := range entries {
			if en.IsDir || path.Ext(en.Path) != ".parquet" {
				continue
			}
			f, err := e.readSegment(ctx, en)
			if err != nil {
				return nil, err
			}
			ps, err := segmentPredictions(f, en.Path, output, task, from, to)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
	}
	return out, nil
}

// readSegment reads one inference-log segment.
func (e *Evaluator) readSegment(ctx context.Context, en blob.Entry) (*dataset.Frame, error) {
	if en.Size > MaxLogSegmentBytes {
		return nil, ferry.Errorf(ferry.ETOOLARGE, "inference log %s is %d bytes; at most %d are read", en.Path, en.Size, MaxLogSegmentBytes)
	}
	rc, _, err := e.opts.Logs.Get(ctx, en.Path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxLogSegmentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", en.Path, err)
	}
	return dataset.ReadParquet(ctx, bytes.NewReader(data), int64(len(data)), en.Path, dataset.ReadOptions{})
}

// segmentPredictions returns the predictions of f (a segment) whose time is
// in [from, to) and row is 0; a segment without the output's columns has
// none.
func segmentPredictions(f *dataset.Frame, name, output string, task ModelTask, from, to time.Time) ([]prediction, error) {
	ids, err1 := f.Col("request_id")
	rows, err2 := f.Col("row")
	times, err3 := f.Col("time")
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "inference log %s lacks request_id, row or time", name)
	}
	cols, ok := scoreColumns(f, output, task)
	if !ok {
		return nil, nil
	}
	scores := make([]*dataset.Column, len(cols))
	for i, n := range cols {
		scores[i], _ = f.Col(n)
		if scores[i].Kind != dataset.KindNumeric {
			return nil, nil
		}
	}
	lo, hi := from.UnixNano(), to.UnixNano()
	var out []prediction
	for r := range f.Len() {
		if rows.Num[r] != 0 || ids.IsMissing(r) || times.IsMissing(r) || times.Time[r] < lo || times.Time[r] >= hi {
			continue
		}
		p := prediction{requestID: ids.String(r), score: make([]float64, len(scores))}
		for i, c := range scores {
			p.score[i] = c.Num[r]
		}
		out = append(out, p)
	}
	return out, nil
}
