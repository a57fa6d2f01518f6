package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

// DefaultMetrics returns the metrics reported for a task when a spec names none.
func DefaultMetrics(task string) []string {
	switch task {
	case model.TaskBinary:
		return []string{"auc", "logloss", "accuracy"}
	case model.TaskMulticlass:
		return []string{"mlogloss", "accuracy"}
	}
	return []string{"rmse", "mae", "r2"}
}

// metricName maps a spec's metric name to the metrics package's: auc is
// roc_auc, logloss and mlogloss are log_loss; every other name is taken as
// the metrics package names it.
func metricName(task, name string) string {
	switch name {
	case "auc":
		return metrics.ROCAUC
	case "logloss", "mlogloss":
		return metrics.LogLoss
	}
	return name
}

// MetricNames lists the names a spec's metrics may use for models of task:
// every fixed metric validation computes for the task (metrics.NamesFor),
// with the aliases auc (roc_auc) and logloss (binary) or mlogloss
// (multiclass) for log_loss. Classification models also take the per-class
// names precision_<class>, recall_<class> and f1_<class>.
func MetricNames(task string) []string {
	var out []string
	switch task {
	case model.TaskBinary:
		out = []string{"auc", "logloss"}
	case model.TaskMulticlass:
		out = []string{"auc", "mlogloss"}
	}
	return append(out, metrics.NamesFor(task)...)
}

// CheckMetrics checks a spec's metric names for a model of task with class
// labels classes, before any training: each must be one of MetricNames(task)
// or a per-class name of one of classes. The error is EINVALID and names
// every unknown metric with the valid names.
func CheckMetrics(task string, classes []string, names []string) error {
	var bad []string
	for _, name := range names {
		if !metricApplies(task, classes, name) {
			bad = append(bad, fmt.Sprintf("%q", name))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	what := "metric " + bad[0] + " is"
	if len(bad) > 1 {
		what = "metrics " + strings.Join(bad, ", ") + " are"
	}
	return ferry.Errorf(ferry.EINVALID, "metrics: %s not available for %s models; use %s", what, task, validNames(task, classes))
}

// metricApplies reports whether name is a metric of models of task.
func metricApplies(task string, classes []string, name string) bool {
	if slices.Contains(MetricNames(task), name) {
		return true
	}
	c, ok := metrics.PerClass(name)
	return ok && task != model.TaskRegression && slices.Contains(classes, c)
}

// validNames lists the metric names of task for messages.
func validNames(task string, classes []string) string {
	s := strings.Join(MetricNames(task), ", ")
	if task != model.TaskRegression && len(classes) > 0 {
		s += ", or precision_, recall_ or f1_ followed by a class (" + strings.Join(classes, ", ") + ")"
	}
	return s
}

// Score computes the named metrics of predictions pred against labels y with
// validation's metrics (scikit-learn's definitions; binary rows are predicted
// positive when P > 0.5). pred holds one value per row (binary: P(y=1);
// regression: the value) or, for multiclass, len(classes) probabilities per
// row, row-major; y holds class indexes into classes, or values. The result
// is keyed by the names asked for. A metric that is undefined on the rows
// (roc_auc with a single class among them) is left out; a name that is not a
// metric of the task is an error (see CheckMetrics).
func Score(task string, classes []string, y, pred []float64, names []string) (map[string]float64, error) {
	if err := CheckMetrics(task, classes, names); err != nil {
		return nil, err
	}
	if err := metrics.Check(task, classes, y, pred); err != nil {
		return nil, err
	}
	all, _ := metrics.EvaluateChecked(task, classes, y, pred, false)
	out := make(map[string]float64, len(names))
	for _, name := range names {
		if v, ok := all[metricName(task, name)]; ok {
			out[name] = v
		}
	}
	return out, nil
}
