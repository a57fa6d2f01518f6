package train

import (
	"fmt"

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
// roc_auc, logloss (binary) and mlogloss (multiclass) are log_loss; every
// other name is taken as the metrics package names it.
func metricName(task, name string) string {
	switch {
	case name == "auc":
		return metrics.ROCAUC
	case name == "logloss" && task == model.TaskBinary, name == "mlogloss" && task == model.TaskMulticlass:
		return metrics.LogLoss
	case name == "logloss", name == "mlogloss":
		return "" // the other task's log loss
	}
	return name
}

// Score computes the named metrics of predictions pred against labels y with
// validation's metrics (scikit-learn's definitions; binary rows are predicted
// positive when P > 0.5). pred holds one value per row (binary: P(y=1);
// regression: the value) or, for multiclass, len(classes) probabilities per
// row, row-major; y holds class indexes into classes, or values. The result
// is keyed by the names asked for. A metric that is undefined on the rows
// (roc_auc with a single class among them) is left out; a name that is not a
// metric of the task is an error.
func Score(task string, classes []string, y, pred []float64, names []string) (map[string]float64, error) {
	if err := metrics.Check(task, classes, y, pred); err != nil {
		return nil, err
	}
	all, _ := metrics.EvaluateChecked(task, classes, y, pred, false)
	out := make(map[string]float64, len(names))
	for _, name := range names {
		m := metricName(task, name)
		if v, ok := all[m]; ok {
			out[name] = v
			continue
		}
		if mayBeUndefined(task, m) {
			continue
		}
		return nil, fmt.Errorf("metric %q is not available for %s models; use one of %v", name, task, DefaultMetrics(task))
	}
	return out, nil
}

// mayBeUndefined reports whether metric m applies to task but can be
// undefined on some rows (metrics.Evaluate then leaves it out).
func mayBeUndefined(task, m string) bool {
	if _, perClass := metrics.PerClass(m); perClass {
		return task != model.TaskRegression
	}
	switch m {
	case metrics.ROCAUC:
		return task != model.TaskRegression
	case metrics.PRAUC:
		return task == model.TaskBinary
	case metrics.ROCAUCWeighted:
		return task == model.TaskMulticlass
	}
	return false
}
