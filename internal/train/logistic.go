// Package train holds Ferry's built-in trainers. They are deterministic for a
// given seed and data, so a run can be reproduced exactly.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// LogisticConfig sets the hyperparameters of logistic regression.
type LogisticConfig struct {
	LearningRate float64 // gradient-descent step, > 0
	L2           float64 // ridge penalty, >= 0
	Epochs       int     // full passes over the data, > 0
}

// Logistic is a binary logistic-regression model over standardised features.
type Logistic struct {
	Mean    []float64 `json:"mean"`
	Std     []float64 `json:"std"`
	Weights []float64 `json:"weights"`
	Bias    float64   `json:"bias"`
}

// EpochFunc is called after every epoch with the training log loss.
type EpochFunc func(epoch int, loss float64) error

// TrainLogistic fits binary logistic regression by full-batch gradient
// descent. y holds 0 or 1. It stops early when ctx ends or onEpoch errs.
func TrainLogistic(ctx context.Context, X [][]float64, y []float64, cfg LogisticConfig, onEpoch EpochFunc) (*Logistic, error) {
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("train: %d rows of features and %d targets", len(X), len(y))
	}
	if cfg.LearningRate <= 0 || cfg.L2 < 0 || cfg.Epochs <= 0 {
		return nil, errors.New("train: learning rate and epochs must be positive and L2 not negative")
	}
	d := len(X[0])
	m := &Logistic{Mean: make([]float64, d), Std: make([]float64, d), Weights: make([]float64, d)}
	for _, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("train: rows have %d and %d features", d, len(row))
		}
		for j, v := range row {
			m.Mean[j] += v
		}
	}
	n := float64(len(X))
	for j := range m.Mean {
		m.Mean[j] /= n
	}
	for _, row := range X {
		for j, v := range row {
			m.Std[j] += (v - m.Mean[j]) * (v - m.Mean[j])
		}
	}
	for j := range m.Std {
		m.Std[j] = math.Sqrt(m.Std[j] / n)
		if m.Std[j] == 0 {
			m.Std[j] = 1
		}
	}
	z := make([][]float64, len(X))
	for i, row := range X {
		z[i] = m.standardise(row)
	}
	grad := make([]float64, d)
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clear(grad)
		var gb, loss float64
		for i, row := range z {
			p := sigmoid(m.Bias + dot(m.Weights, row))
			e := p - y[i]
			for j, v := range row {
				grad[j] += e * v
			}
			gb += e
			loss += logLoss(y[i], p)
		}
		for j := range m.Weights {
			m.Weights[j] -= cfg.LearningRate * (grad[j]/n + cfg.L2*m.Weights[j])
		}
		m.Bias -= cfg.LearningRate * gb / n
		if onEpoch != nil {
			if err := onEpoch(epoch, loss/n); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Logistic) standardise(row []float64) []float64 {
	out := make([]float64, len(row))
	for j, v := range row {
		out[j] = (v - m.Mean[j]) / m.Std[j]
	}
	return out
}

// PredictProba returns P(y = 1 | x).
func (m *Logistic) PredictProba(x []float64) float64 {
	return sigmoid(m.Bias + dot(m.Weights, m.standardise(x)))
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func logLoss(y, p float64) float64 {
	const eps = 1e-15
	p = min(max(p, eps), 1-eps)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// Split shuffles row indexes 0..n-1 with seed and returns the first
// (1-valFrac) share for training and the rest for validation.
func Split(n int, valFrac float64, seed uint64) (trainIdx, valIdx []int) {
	idx := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Perm(n)
	cut := n - int(math.Round(float64(n)*valFrac))
	return idx[:cut], idx[cut:]
}

// BinaryMetrics are the usual scores of probabilistic binary predictions.
type BinaryMetrics struct {
	Accuracy float64
	LogLoss  float64
	AUC      float64
}

// ScoreBinary scores probabilities p against labels y (0 or 1) with a 0.5
// threshold for accuracy; ROC AUC counts ties as half.
func ScoreBinary(y, p []float64) BinaryMetrics {
	var s BinaryMetrics
	for i := range y {
		if (p[i] >= 0.5) == (y[i] == 1) {
			s.Accuracy++
		}
		s.LogLoss += logLoss(y[i], p[i])
	}
	n := float64(len(y))
	s.Accuracy /= n
	s.LogLoss /= n
	s.AUC = rocAUC(y, p)
	return s
}

// rocAUC is the Mann-Whitney statistic with average ranks for ties.
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
