package train

import (
	"fmt"
	"math"
	"sort"
)

// Task kinds, as the model package names them.
const (
	TaskBinary     = "binary"
	TaskMulticlass = "multiclass"
	TaskRegression = "regression"
)

// DefaultMetrics returns the metrics reported for a task when a spec names none.
func DefaultMetrics(task string) []string {
	switch task {
	case TaskBinary:
		return []string{"auc", "logloss", "accuracy"}
	case TaskMulticlass:
		return []string{"mlogloss", "accuracy"}
	}
	return []string{"rmse", "mae", "r2"}
}

// Score computes the named metrics of predictions pred against labels y.
// pred holds one value per row (binary: P(y=1); regression: the value) or,
// for multiclass, k probabilities per row, row-major. Unknown names are an error.
func Score(task string, k int, y, pred []float64, names []string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	n := float64(len(y))
	for _, name := range names {
		var v float64
		switch {
		case name == "auc" && task == TaskBinary:
			v = rocAUC(y, pred)
		case name == "logloss" && task == TaskBinary:
			for i := range y {
				v += logLoss(y[i], pred[i])
			}
			v /= n
		case name == "accuracy" && task == TaskBinary:
			for i := range y {
				if (pred[i] >= 0.5) == (y[i] == 1) {
					v++
				}
			}
			v /= n
		case name == "mlogloss" && task == TaskMulticlass:
			for i := range y {
				p := min(max(pred[i*k+int(y[i])], 1e-15), 1-1e-15)
				v -= math.Log(p)
			}
			v /= n
		case name == "accuracy" && task == TaskMulticlass:
			for i := range y {
				if argmax(pred[i*k:(i+1)*k]) == int(y[i]) {
					v++
				}
			}
			v /= n
		case name == "rmse" && task == TaskRegression:
			for i := range y {
				v += (pred[i] - y[i]) * (pred[i] - y[i])
			}
			v = math.Sqrt(v / n)
		case name == "mae" && task == TaskRegression:
			for i := range y {
				v += math.Abs(pred[i] - y[i])
			}
			v /= n
		case name == "r2" && task == TaskRegression:
			var mean, ssRes, ssTot float64
			for _, t := range y {
				mean += t
			}
			mean /= n
			for i := range y {
				ssRes += (y[i] - pred[i]) * (y[i] - pred[i])
				ssTot += (y[i] - mean) * (y[i] - mean)
			}
			v = 1 - ssRes/ssTot
		default:
			return nil, fmt.Errorf("metric %q is not available for %s models; use one of %v", name, task, DefaultMetrics(task))
		}
		out[name] = v
	}
	return out, nil
}

func argmax(p []float64) int {
	best := 0
	for j := range p {
		if p[j] > p[best] {
			best = j
		}
	}
	return best
}

func logLoss(y, p float64) float64 {
	const eps = 1e-15
	p = min(max(p, eps), 1-eps)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// rocAUC is the Mann-Whitney statistic with average ranks for ties; NaN when
// y has one class only.
func rocAUC(y, p []float64) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var rankSum, pos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += avg
				pos++
			}
		}
		i = j
	}
	neg := float64(len(y)) - pos
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
