package monitor

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/cron"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/monitor/drift"
)

// Monitor is the resource `kind: Monitor`: what to watch on an endpoint,
// against which baseline, how often, and whom to tell. Field names follow
// Azure ML's model monitor (monitoring_signals, metric_thresholds) where
// they fit.
type Monitor struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Endpoint    string `json:"endpoint" yaml:"endpoint"`
	// Deployment limits the monitor to one deployment; "" watches each
	// deployment of the endpoint on its own.
	Deployment string `json:"deployment,omitempty" yaml:"deployment,omitempty"`
	// Baseline is "model" (the default: the training profile every model
	// package carries, of the deployment's pinned version) or a data asset
	// URI, data:/NAME/VERSION, whose profile is the baseline.
	Baseline string `json:"baseline,omitempty" yaml:"baseline,omitempty"`
	// Window is the span of production data each evaluation covers, a Go
	// duration; default 24h. It is a whole number of profile windows.
	Window string `json:"window,omitempty" yaml:"window,omitempty"`
	// Schedule is when the monitor evaluates; default every hour on the
	// hour, UTC.
	Schedule Schedule `json:"schedule,omitempty" yaml:"schedule,omitempty"`
	Signals  Signals  `json:"signals" yaml:"signals"`
	// Alerts say whom an alert reaches besides the log and /metrics.
	Alerts alert.Config `json:"alerts,omitempty" yaml:"alerts,omitempty"`
}

// Schedule is a cron expression in a time zone.
type Schedule struct {
	// Cron is five-field cron (internal/cron); default "0 * * * *".
	Cron string `json:"cron,omitempty" yaml:"cron,omitempty"`
	// TimeZone is an IANA zone name; default UTC.
	TimeZone string `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
}

// Signals are what a monitor evaluates; at least one is set.
type Signals struct {
	// DataDrift compares each input feature's production distribution with
	// the baseline's.
	DataDrift *DriftSignal `json:"data_drift,omitempty" yaml:"data_drift,omitempty"`
	// PredictionDrift compares the model's outputs likewise.
	PredictionDrift *DriftSignal `json:"prediction_drift,omitempty" yaml:"prediction_drift,omitempty"`
	// DataQuality checks missing values, out-of-range values, type errors
	// and unseen categories against the baseline.
	DataQuality *QualitySignal `json:"data_quality,omitempty" yaml:"data_quality,omitempty"`
	// ModelPerformance scores the predictions that got labels.
	ModelPerformance *PerformanceSignal `json:"model_performance,omitempty" yaml:"model_performance,omitempty"`
}

// DriftSignal configures data_drift or prediction_drift.
type DriftSignal struct {
	// Features limits the signal to these features; default all.
	Features []string `json:"features,omitempty" yaml:"features,omitempty"`
	// MetricThresholds give the metric (and its threshold) of numerical and
	// categorical features: at most one metric each, such as
	// {numerical: {wasserstein_norm: 0.1}, categorical: {jensen_shannon: 0.1}}
	// (the defaults). Metric names are drift's (wasserstein_norm,
	// wasserstein, jensen_shannon, psi, ks, chi_square, z); for the tests
	// (ks, chi_square, z) the threshold is the p-value below which a
	// feature drifts.
	MetricThresholds DriftThresholds `json:"metric_thresholds,omitempty" yaml:"metric_thresholds,omitempty"`
	// LogBase of Jensen–Shannon: 2 (Azure ML) or e, the default (Evidently).
	LogBase float64 `json:"log_base,omitempty" yaml:"log_base,omitempty"`
	// Bonferroni divides the tests' p-value threshold by the number of
	// features tested.
	Bonferroni bool `json:"bonferroni,omitempty" yaml:"bonferroni,omitempty"`
	// FeatureImportanceWeighted weighs each feature's drift by its
	// importance where the model provides importances.
	FeatureImportanceWeighted bool `json:"feature_importance_weighted,omitempty" yaml:"feature_importance_weighted,omitempty"`
}

// DriftThresholds maps a metric name to its threshold, per feature kind.
type DriftThresholds struct {
	Numerical   map[string]float64 `json:"numerical,omitempty" yaml:"numerical,omitempty"`
	Categorical map[string]float64 `json:"categorical,omitempty" yaml:"categorical,omitempty"`
}

// QualitySignal configures data_quality. MetricThresholds are rates in
// [0, 1] above which the signal breaches: missing_rate,
// out_of_range_rate, type_error_rate, unseen_category_rate (defaults 0.05,
// 0.05, 0.01, 0.05 — each an increase over the baseline's own rate).
type QualitySignal struct {
	Features         []string           `json:"features,omitempty" yaml:"features,omitempty"`
	MetricThresholds map[string]float64 `json:"metric_thresholds,omitempty" yaml:"metric_thresholds,omitempty"`
}

// PerformanceSignal configures model_performance: the validation metrics
// (validation/metrics names: roc_auc, accuracy, f1, rmse, …) of the
// predictions joined with their labels, each threshold a floor for a
// higher-is-better metric and a ceiling otherwise.
type PerformanceSignal struct {
	MetricThresholds map[string]float64 `json:"metric_thresholds" yaml:"metric_thresholds"`
	// MinLabels is the least number of labelled predictions before a
	// verdict; default 100.
	MinLabels int `json:"min_labels,omitempty" yaml:"min_labels,omitempty"`
	// Output names the model output scored (default: the first, such as
	// probability for a classifier).
	Output string `json:"output,omitempty" yaml:"output,omitempty"`
}

// Defaults of a Monitor.
const (
	DefaultBaseline    = "model"
	DefaultEvalWindow  = 24 * time.Hour
	DefaultCron        = "0 * * * *"
	DefaultMinLabels   = 100
	defaultMonitorZone = "UTC"
)

// DefaultQuality are data_quality's default thresholds.
func DefaultQuality() map[string]float64 {
	return map[string]float64{"missing_rate": 0.05, "out_of_range_rate": 0.05, "type_error_rate": 0.01, "unseen_category_rate": 0.05}
}

var monitorName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{2,62}$`)

// Normalize returns m with its defaults filled in.
func (m Monitor) Normalize() Monitor {
	if m.Baseline == "" {
		m.Baseline = DefaultBaseline
	}
	if m.Window == "" {
		m.Window = DefaultEvalWindow.String()
	}
	if m.Schedule.Cron == "" {
		m.Schedule.Cron = DefaultCron
	}
	if m.Schedule.TimeZone == "" {
		m.Schedule.TimeZone = defaultMonitorZone
	}
	if p := m.Signals.ModelPerformance; p != nil && p.MinLabels == 0 {
		c := *p
		c.MinLabels = DefaultMinLabels
		m.Signals.ModelPerformance = &c
	}
	return m
}

// EvalWindow is Window as a duration (DefaultEvalWindow when empty or bad;
// Validate refuses a bad one).
func (m Monitor) EvalWindow() time.Duration {
	d, err := time.ParseDuration(m.Window)
	if err != nil || d <= 0 {
		return DefaultEvalWindow
	}
	return d
}

// Cron parses the schedule.
func (m Monitor) Cron() (cron.Schedule, error) {
	m = m.Normalize()
	loc, err := time.LoadLocation(m.Schedule.TimeZone)
	if err != nil {
		return cron.Schedule{}, ferry.Errorf(ferry.EINVALID, "monitor %s: schedule.time_zone %q: %v", m.Name, m.Schedule.TimeZone, err)
	}
	s, err := cron.Parse(m.Schedule.Cron, loc)
	if err != nil {
		return cron.Schedule{}, fmt.Errorf("monitor %s: %w", m.Name, err)
	}
	return s, nil
}

// Validate checks m on its own (not whether its endpoint exists). Errors
// are EINVALID and name the field.
func (m Monitor) Validate() error {
	bad := func(format string, args ...any) error {
		return ferry.Errorf(ferry.EINVALID, "monitor %s: "+format, append([]any{m.Name}, args...)...)
	}
	if !monitorName.MatchString(m.Name) {
		return ferry.Errorf(ferry.EINVALID, "monitor name %q: want 3 to 63 letters, digits or '-', starting with a letter", m.Name)
	}
	if m.Endpoint == "" {
		return bad("endpoint: name the endpoint to watch")
	}
	if b := m.Baseline; b != "" && b != DefaultBaseline && !strings.HasPrefix(b, "data:/") {
		return bad("baseline %q: want model or data:/NAME/VERSION", b)
	}
	if m.Window != "" {
		if d, err := time.ParseDuration(m.Window); err != nil || d <= 0 {
			return bad("window %q: want a positive duration such as 24h", m.Window)
		}
	}
	if _, err := m.Cron(); err != nil {
		return err
	}
	s := m.Signals
	if s.DataDrift == nil && s.PredictionDrift == nil && s.DataQuality == nil && s.ModelPerformance == nil {
		return bad("signals: set at least one of data_drift, prediction_drift, data_quality, model_performance")
	}
	for name, d := range map[string]*DriftSignal{"data_drift": s.DataDrift, "prediction_drift": s.PredictionDrift} {
		if d == nil {
			continue
		}
		for kind, th := range map[string]map[string]float64{"numerical": d.MetricThresholds.Numerical, "categorical": d.MetricThresholds.Categorical} {
			if len(th) > 1 {
				return bad("signals.%s.metric_thresholds.%s: give one metric, not %d", name, kind, len(th))
			}
			for metric, v := range th {
				if !knownDriftMetric(metric) {
					return bad("signals.%s.metric_thresholds.%s: unknown metric %q; want wasserstein_norm, wasserstein, jensen_shannon, psi, ks, chi_square or z", name, kind, metric)
				}
				if v <= 0 {
					return bad("signals.%s.metric_thresholds.%s.%s: %v must be positive", name, kind, metric, v)
				}
			}
		}
		if d.LogBase != 0 && d.LogBase != 2 {
			return bad("signals.%s.log_base %v: want 2, or leave it out for e", name, d.LogBase)
		}
	}
	if q := s.DataQuality; q != nil {
		known := DefaultQuality()
		for k, v := range q.MetricThresholds {
			if _, ok := known[k]; !ok {
				return bad("signals.data_quality.metric_thresholds: unknown metric %q; want missing_rate, out_of_range_rate, type_error_rate or unseen_category_rate", k)
			}
			if v < 0 || v > 1 {
				return bad("signals.data_quality.metric_thresholds.%s: %v is not a rate in [0, 1]", k, v)
			}
		}
	}
	if p := s.ModelPerformance; p != nil {
		if len(p.MetricThresholds) == 0 {
			return bad("signals.model_performance.metric_thresholds: name at least one metric, such as {roc_auc: 0.6}")
		}
		if p.MinLabels < 0 {
			return bad("signals.model_performance.min_labels %d is negative", p.MinLabels)
		}
	}
	if err := m.Alerts.Validate(); err != nil {
		return bad("alerts: %v", err)
	}
	return nil
}

func knownDriftMetric(name string) bool {
	switch drift.MetricName(name) {
	case drift.MetricWassersteinNorm, drift.MetricWasserstein, drift.MetricJensenShannon, drift.MetricPSI, drift.MetricKS, drift.MetricChiSquare, drift.MetricZ:
		return true
	}
	return false
}
