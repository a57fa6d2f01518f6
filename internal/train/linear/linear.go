package linear

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
)

// Params set the hyperparameters of the linear trainers.
type Params struct {
	L2           float64 `json:"l2"`            // ridge penalty, >= 0
	LearningRate float64 `json:"learning_rate"` // gradient-descent step (logistic), > 0
	Epochs       int     `json:"epochs"`        // full passes (logistic), > 0
}

// DefaultParams returns the defaults of the linear trainers.
func DefaultParams() Params {
	return Params{L2: 1e-4, LearningRate: 0.5, Epochs: 200}
}

// EpochFunc is called after every epoch with the training loss.
type EpochFunc func(epoch int, loss float64) error

// Train fits a linear model to the rows of X (already encoded, see
// encoder) and labels y: class indexes 0..k-1 for classification, values for
// regression. Ridge regression is solved exactly; logistic regression by
// full-batch gradient descent, calling onEpoch after each epoch.
func Train(ctx context.Context, task string, k int, X [][]float64, y []float64, p Params, onEpoch EpochFunc) (*native.Linear, error) {
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("train: %d rows of features and %d labels", len(X), len(y))
	}
	if p.L2 < 0 || (task != model.TaskRegression && (p.LearningRate <= 0 || p.Epochs <= 0)) {
		return nil, errors.New("train: l2 must not be negative, and learning_rate and epochs must be positive")
	}
	switch task {
	case model.TaskRegression:
		return trainRidge(X, y, p.L2)
	case model.TaskBinary:
		k = 1
	case model.TaskMulticlass:
		if k < 2 {
			return nil, errors.New("train: multiclass needs at least two classes")
		}
	default:
		return nil, fmt.Errorf("train: unknown task %q", task)
	}
	d := len(X[0])
	m := &native.Linear{Task: task, Weights: make([][]float64, k), Bias: make([]float64, k)}
	grad := make([][]float64, k)
	for j := range m.Weights {
		m.Weights[j], grad[j] = make([]float64, d), make([]float64, d)
	}
	gb := make([]float64, k)
	out := make([]float64, k)
	n := float64(len(X))
	for epoch := 1; epoch <= p.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j := range grad {
			clear(grad[j])
		}
		clear(gb)
		var loss float64
		for i, row := range X {
			m.Margins(row, out)
			if task == model.TaskBinary {
				pr := native.Sigmoid(out[0])
				pt := pr // the probability of the true class
				if y[i] == 0 {
					pt = 1 - pr
				}
				loss -= math.Log(min(max(pt, 1e-15), 1-1e-15))
				out[0] = pr - y[i]
			} else {
				native.Softmax(out, out)
				loss -= math.Log(max(out[int(y[i])], 1e-15))
				out[int(y[i])] -= 1
			}
			for j, e := range out {
				for f, v := range row {
					grad[j][f] += e * v
				}
				gb[j] += e
			}
		}
		for j := range m.Weights {
			for f := range m.Weights[j] {
				m.Weights[j][f] -= p.LearningRate * (grad[j][f]/n + p.L2*m.Weights[j][f])
			}
			m.Bias[j] -= p.LearningRate * gb[j] / n
		}
		if onEpoch != nil {
			if err := onEpoch(epoch, loss/n); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// trainRidge solves (XᵀX + λI)w = Xᵀy with an unpenalised intercept.
func trainRidge(X [][]float64, y []float64, l2 float64) (*native.Linear, error) {
	d := len(X[0]) + 1 // last column is the intercept
	a := make([][]float64, d)
	for i := range a {
		a[i] = make([]float64, d)
	}
	b := make([]float64, d)
	row := make([]float64, d)
	for i, x := range X {
		copy(row, x)
		row[d-1] = 1
		for r := range d {
			for c := range d {
				a[r][c] += row[r] * row[c]
			}
			b[r] += row[r] * y[i]
		}
	}
	n := float64(len(X))
	for r := range d - 1 {
		a[r][r] += l2*n + 1e-12
	}
	w, err := solveCholesky(a, b)
	if err != nil {
		return nil, err
	}
	return &native.Linear{Task: model.TaskRegression, Weights: [][]float64{w[:d-1]}, Bias: []float64{w[d-1]}}, nil
}

// solveCholesky solves a·x = b for a symmetric positive-definite a.
func solveCholesky(a [][]float64, b []float64) ([]float64, error) {
	d := len(b)
	l := make([][]float64, d)
	for i := range l {
		l[i] = make([]float64, d)
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := range j {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if s <= 0 {
					return nil, errors.New("train: the features are collinear; add l2 regularisation")
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	z := make([]float64, d)
	for i := range d {
		s := b[i]
		for k := range i {
			s -= l[i][k] * z[k]
		}
		z[i] = s / l[i][i]
	}
	x := make([]float64, d)
	for i := d - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < d; k++ {
			s -= l[k][i] * x[k]
		}
		x[i] = s / l[i][i]
	}
	return x, nil
}
