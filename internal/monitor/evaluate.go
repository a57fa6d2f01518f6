package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/monitor/drift"
)

// Signal names, as in Signals and alert.Evaluation.Signal.
const (
	SignalDataDrift        = "data_drift"
	SignalPredictionDrift  = "prediction_drift"
	SignalDataQuality      = "data_quality"
	SignalModelPerformance = "model_performance"
)

// ModelTask is what the evaluator needs of a model besides its profile: its
// task and class labels (model.FerryInfo), to score its predictions, and the
// target column its training profile holds, which is not an input.
type ModelTask struct {
	Task    string
	Classes []string
	Target  string
}

// Baselines gives the baselines monitors compare with. internal/app
// implements it over the registry and the data registry.
type Baselines interface {
	// ModelProfile is the training profile of the model version
	// (models:/NAME/VERSION); ENOTFOUND when its package has none.
	ModelProfile(ctx context.Context, modelVersionURI string) (dataset.Profile, error)
	// DataProfile is the profile of the data asset version
	// (data:/NAME/VERSION).
	DataProfile(ctx context.Context, dataURI string) (dataset.Profile, error)
	// ModelTask is the task, classes and target of the model version.
	ModelTask(ctx context.Context, modelVersionURI string) (ModelTask, error)
}

// Alerts receives every verdict of an evaluation; alert.Manager is one.
// Configure is called with the monitor's alerts (cool-down, webhooks)
// before its verdicts of each evaluation are observed.
type Alerts interface {
	Configure(monitor string, c alert.Config) error
	Observe(ctx context.Context, e alert.Evaluation) error
}

// Deployments reads a deployment (its pinned model version);
// deploy.Service is one.
type Deployments interface {
	GetDeployment(ctx context.Context, endpoint, name string) (deploy.Deployment, error)
}

// EvaluatorOptions configure an Evaluator. Monitor, Deployments and
// Baselines are required.
type EvaluatorOptions struct {
	Monitor     *Service
	Deployments Deployments
	Baselines   Baselines
	// Logs is the artifact store holding the inference logs that
	// model_performance reads; nil: model_performance gives no verdict.
	Logs blob.Store
	// LogPrefix is the logs' key prefix; default "inference-logs" (the
	// collector's).
	LogPrefix string
	// Alerts receives the verdicts; nil: none are sent.
	Alerts Alerts
	Log    *slog.Logger
}

// Evaluator evaluates monitors: it compares what a deployment saw over a
// range of time with its baseline, signal by signal, and feeds each verdict
// to the alerts. It is safe for concurrent use.
type Evaluator struct {
	opts EvaluatorOptions
	log  *slog.Logger
}

// NewEvaluator returns an Evaluator.
func NewEvaluator(opts EvaluatorOptions) *Evaluator {
	if opts.LogPrefix == "" {
		opts.LogPrefix = "inference-logs"
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Evaluator{opts: opts, log: log}
}

// Report is the outcome of one evaluation of a monitor on one deployment.
type Report struct {
	Monitor      string    `json:"monitor"`
	Endpoint     string    `json:"endpoint"`
	Deployment   string    `json:"deployment"`
	ModelVersion string    `json:"model_version"`
	Baseline     string    `json:"baseline"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	// Rows is the number of production rows the profiles of the range hold.
	Rows    int64    `json:"rows"`
	Results []Result `json:"results"`
}

// Result is one (signal, feature, metric) of a Report.
type Result struct {
	Signal string `json:"signal"`
	// Feature is the input or output column; for model_performance the
	// output scored.
	Feature   string  `json:"feature"`
	Metric    string  `json:"metric"`
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	// Verdict says whether there is one; without it (no data, too few
	// labels) Breached is false, Note says why and nothing is alerted.
	Verdict  bool `json:"verdict"`
	Breached bool `json:"breached"`
	// Count is the number of values (or labelled predictions) measured.
	Count int64  `json:"count"`
	Note  string `json:"note,omitempty"`
}

// Breached returns the results with a verdict that breach.
func (r Report) Breached() []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Verdict && x.Breached {
			out = append(out, x)
		}
	}
	return out
}

// Result returns the result of signal, feature and metric ("" metric: the
// first of signal and feature), and whether there is one.
func (r Report) Result(signal, feature, metric string) (Result, bool) {
	for _, x := range r.Results {
		if x.Signal == signal && x.Feature == feature && (metric == "" || x.Metric == metric) {
			return x, true
		}
	}
	return Result{}, false
}

// Evaluate evaluates monitor m on deployment over the profile windows that
// start in [from, to) and the predictions logged in [from, to), and feeds
// the verdicts to the alerts: one evaluation per drifting feature
// (data_drift, prediction_drift), one per feature for data_quality (its
// worst metric, relative to its threshold), one per metric for
// model_performance (Feature is the metric's name there, so that each
// metric has its own alert). Results without a verdict are not alerted.
//
// Inputs and outputs are told apart by the baseline's columns: the
// baseline's columns other than the model's target are the inputs
// (data_drift, data_quality); production columns the baseline lacks are the
// outputs (prediction_drift), each compared with the baseline's column of
// the same name or else with the model's target, when their kinds agree.
//
// Errors: EINVALID for a bad monitor or range, ENOTFOUND for a missing
// deployment or baseline, and the stores'. An alert that fails to be
// observed is logged and joined to the error after every verdict is sent.
func (e *Evaluator) Evaluate(ctx context.Context, m Monitor, deployment string, from, to time.Time) (Report, error) {
	m = m.Normalize()
	if err := m.Validate(); err != nil {
		return Report{}, err
	}
	if deployment == "" || !from.Before(to) {
		return Report{}, ferry.Errorf(ferry.EINVALID, "monitor %s: evaluate needs a deployment and a range with from before to", m.Name)
	}
	d, err := e.opts.Deployments.GetDeployment(ctx, m.Endpoint, deployment)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Monitor: m.Name, Endpoint: m.Endpoint, Deployment: deployment, ModelVersion: d.ModelVersion, Baseline: m.Baseline, From: from.UTC(), To: to.UTC()}
	var task ModelTask
	if d.ModelVersion != "" {
		if task, err = e.opts.Baselines.ModelTask(ctx, d.ModelVersion); err != nil {
			return Report{}, fmt.Errorf("monitor %s: model %s: %w", m.Name, d.ModelVersion, err)
		}
	}
	var base dataset.Profile
	if m.Baseline == DefaultBaseline {
		base, err = e.opts.Baselines.ModelProfile(ctx, d.ModelVersion)
	} else {
		base, err = e.opts.Baselines.DataProfile(ctx, m.Baseline)
	}
	if err != nil {
		return Report{}, fmt.Errorf("monitor %s: baseline %s: %w", m.Name, m.Baseline, err)
	}
	cur, err := e.opts.Monitor.ProfileRange(ctx, m.Endpoint, deployment, from, to)
	if err != nil {
		return Report{}, err
	}
	rep.Rows = cur.Rows
	inputs, outputs := splitColumns(base, cur, task.Target)
	s := m.Signals
	if s.DataDrift != nil {
		rep.Results = append(rep.Results, driftResults(SignalDataDrift, *s.DataDrift, pairs(base, cur, inputs, ""))...)
	}
	if s.PredictionDrift != nil {
		rep.Results = append(rep.Results, driftResults(SignalPredictionDrift, *s.PredictionDrift, pairs(base, cur, outputs, task.Target))...)
	}
	if s.DataQuality != nil {
		rep.Results = append(rep.Results, qualityResults(*s.DataQuality, pairs(base, cur, inputs, ""))...)
	}
	if p := s.ModelPerformance; p != nil {
		res, err := e.performance(ctx, m.Endpoint, deployment, from, to, *p, task, outputs)
		if err != nil {
			return Report{}, fmt.Errorf("monitor %s: model_performance: %w", m.Name, err)
		}
		rep.Results = append(rep.Results, res...)
	}
	if e.opts.Alerts != nil {
		if err := e.opts.Alerts.Configure(m.Name, m.Alerts); err != nil {
			return rep, err
		}
	}
	return rep, e.alert(ctx, rep, to)
}

// alert feeds rep's verdicts to the alerts, at time at.
func (e *Evaluator) alert(ctx context.Context, rep Report, at time.Time) error {
	if e.opts.Alerts == nil {
		return nil
	}
	var evs []alert.Evaluation
	worst := map[string]int{} // data_quality feature → index in evs
	for _, r := range rep.Results {
		if !r.Verdict || !finiteScore(r.Score) || !finiteScore(r.Threshold) {
			continue
		}
		ev := alert.Evaluation{
			Monitor: rep.Monitor, Signal: r.Signal, Feature: r.Feature, Endpoint: rep.Endpoint, Deployment: rep.Deployment,
			Metric: r.Metric, Score: r.Score, Threshold: r.Threshold, Breached: r.Breached, At: at.UTC(),
			Detail: fmt.Sprintf("%s %s of %s/%s over [%s, %s): %.4g (threshold %.4g, %d values)", r.Signal, r.Metric, rep.Endpoint, rep.Deployment,
				rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339), r.Score, r.Threshold, r.Count),
		}
		switch r.Signal {
		case SignalModelPerformance:
			ev.Feature = r.Metric
		case SignalDataQuality:
			if i, ok := worst[r.Feature]; ok {
				if severity(ev) > severity(evs[i]) {
					evs[i] = ev
				}
				continue
			}
			worst[r.Feature] = len(evs)
		}
		evs = append(evs, ev)
	}
	var errs []error
	for _, ev := range evs {
		if err := e.opts.Alerts.Observe(ctx, ev); err != nil {
			e.log.ErrorContext(ctx, "monitor: observing an evaluation", "monitor", ev.Monitor, "signal", ev.Signal, "feature", ev.Feature, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("monitor %s: alerts: %w", rep.Monitor, errs[0])
	}
	return nil
}

// severity orders the data_quality evaluations of one feature: breached
// first, then by score relative to the threshold.
func severity(ev alert.Evaluation) float64 {
	r := ev.Score / max(ev.Threshold, 1e-12)
	if ev.Breached {
		r += 1e12
	}
	return r
}

// splitColumns tells inputs from outputs by the baseline's columns: inputs
// are the baseline's columns other than target, in its order; outputs are
// current's columns the baseline lacks, in current's order.
func splitColumns(base, cur dataset.Profile, target string) (inputs, outputs []string) {
	for _, c := range base.Columns {
		if c.Name != target {
			inputs = append(inputs, c.Name)
		}
	}
	for _, c := range cur.Columns {
		if _, ok := base.Col(c.Name); !ok {
			outputs = append(outputs, c.Name)
		}
	}
	return inputs, outputs
}

// pair is a feature's baseline and current profile; cur is nil when the
// production data lacks the feature.
type pair struct {
	name      string
	base, cur *dataset.ColumnProfile
}

// pairs pairs each of names with its baseline column, or else fallback's
// (the model's target, for outputs), and its current column. Names without
// a baseline are left out.
func pairs(base, cur dataset.Profile, names []string, fallback string) []pair {
	var out []pair
	for _, n := range names {
		b, ok := base.Col(n)
		if !ok && fallback != "" {
			b, ok = base.Col(fallback)
		}
		if !ok {
			continue
		}
		c, _ := cur.Col(n)
		out = append(out, pair{name: n, base: b, cur: c})
	}
	return out
}

// selected filters ps to features (all when empty).
func selected(ps []pair, features []string) []pair {
	if len(features) == 0 {
		return ps
	}
	return slices.DeleteFunc(slices.Clone(ps), func(p pair) bool { return !slices.Contains(features, p.name) })
}

// driftMetric is the metric of one kind of feature from the signal's
// thresholds, or def.
func driftMetric(th map[string]float64, logBase float64, def drift.Metric) drift.Metric {
	for name, v := range th {
		def = drift.Metric{Name: drift.MetricName(name), Threshold: v}
	}
	if def.Name == drift.MetricJensenShannon || def.Name == drift.MetricPSI || def.Name == drift.MetricChiSquare {
		def.Binning = drift.BinningBaseline
	}
	if def.Name == drift.MetricJensenShannon {
		def.LogBase = logBase
	}
	return def
}

// driftResults compares each feature of ps with drift's metrics.
func driftResults(signal string, sig DriftSignal, ps []pair) []Result {
	num := driftMetric(sig.MetricThresholds.Numerical, sig.LogBase, drift.DefaultNumeric())
	cat := driftMetric(sig.MetricThresholds.Categorical, sig.LogBase, drift.DefaultCategorical())
	ps = selected(ps, sig.Features)
	metricOf := func(p pair) (drift.Metric, bool) {
		switch {
		case p.base.Numeric != nil:
			return num, true
		case p.base.Categorical != nil:
			return cat, true
		}
		return drift.Metric{}, false
	}
	tests := 0
	for _, p := range ps {
		if m, ok := metricOf(p); ok && m.IsTest() {
			tests++
		}
	}
	var out []Result
	for _, p := range ps {
		m, ok := metricOf(p)
		if !ok {
			continue // timestamps are not compared
		}
		if m.IsTest() && sig.Bonferroni {
			m.Threshold = drift.Bonferroni(m.Threshold, tests)
		}
		r := Result{Signal: signal, Feature: p.name, Metric: string(m.Name), Threshold: m.Threshold}
		if p.cur == nil {
			r.Note = "not in the production data"
			out = append(out, r)
			continue
		}
		b := *p.base
		b.Name = p.name
		d, err := drift.Compare(b, *p.cur, m)
		switch {
		case err != nil:
			r.Note = ferry.ErrorMessage(err)
		case d.Note != "":
			r.Note, r.Count = d.Note, d.Current
		default:
			r.Score, r.Threshold, r.Breached, r.Verdict, r.Count = d.Score, d.Threshold, d.Drifted, true, d.Current
			if d.PValue != nil {
				r.Score = *d.PValue // the tests' threshold is on the p-value
			}
		}
		out = append(out, r)
	}
	return out
}

// qualityResults measures each feature's missing, out-of-range,
// unseen-category and type-error rates, each as its increase over the
// baseline's own rate, against the signal's thresholds.
func qualityResults(sig QualitySignal, ps []pair) []Result {
	th := DefaultQuality()
	for k, v := range sig.MetricThresholds {
		th[k] = v
	}
	var out []Result
	add := func(feature, metric string, cur, base float64, n int64, note string) {
		r := Result{Signal: SignalDataQuality, Feature: feature, Metric: metric, Threshold: th[metric], Count: n, Note: note}
		if note == "" {
			r.Score = cur - base
			r.Verdict, r.Breached = true, r.Score > r.Threshold
		}
		out = append(out, r)
	}
	for _, p := range selected(ps, sig.Features) {
		if p.cur == nil || p.cur.Count+p.cur.Missing == 0 {
			add(p.name, "missing_rate", 0, 0, 0, "no production data")
			continue
		}
		b, c := p.base, p.cur
		add(p.name, "missing_rate", rate(c.Missing, c.Count+c.Missing), rate(b.Missing, b.Count+b.Missing), c.Count+c.Missing, "")
		if b.Kind != c.Kind {
			// A column of another kind than the baseline's: every value is
			// a type error.
			add(p.name, "type_error_rate", 1, 0, c.Count, "")
			continue
		}
		switch {
		case b.Numeric != nil && c.Numeric != nil:
			cur, note := outOfRange(b.Numeric, c.Numeric, c.Count)
			add(p.name, "out_of_range_rate", cur, rate(b.Numeric.Histogram.Below+b.Numeric.Histogram.Above, b.Count), c.Count, note)
		case b.Categorical != nil && c.Categorical != nil:
			cur, note := unseen(b.Categorical, c.Categorical, c.Count)
			add(p.name, "unseen_category_rate", cur, rate(b.Categorical.Other, b.Count), c.Count, note)
		}
	}
	return out
}

func rate(k, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// outOfRange is the share of current's n values outside the baseline's
// range: its histogram's Below and Above on the baseline's edges, or, on
// other edges, 0 when its extremes are within the baseline's and no verdict
// otherwise.
func outOfRange(b, c *dataset.NumericProfile, n int64) (float64, string) {
	if slices.Equal(b.Histogram.Edges, c.Histogram.Edges) {
		return rate(c.Histogram.Below+c.Histogram.Above, n), ""
	}
	if c.Infinite == 0 && c.Min >= b.Min && c.Max <= b.Max {
		return 0, ""
	}
	return 0, "the production profile is not on the baseline's edges"
}

// unseen is the share of current's n values in categories the baseline
// does not list: its "other" bucket when profiled on the baseline's
// categories, plus any listed category the baseline lacks.
func unseen(b, c *dataset.CategoricalProfile, n int64) (float64, string) {
	known := map[string]bool{}
	for _, t := range b.Top {
		known[t.Value] = true
	}
	k := c.Other
	for _, t := range c.Top {
		if !known[t.Value] {
			k += t.Count
		}
	}
	return rate(k, n), ""
}

// finiteScore reports whether x can be alerted (alert.Evaluation needs
// finite scores).
func finiteScore(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
