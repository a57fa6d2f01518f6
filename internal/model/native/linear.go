package native

import "github.com/ferry-ml/ferry/internal/model"

// Linear is a linear model over standardised dense features (see Encoder):
// ridge regression, or logistic regression (binary: one output; multinomial:
// one output per class, softmax). The trainers are in internal/train/linear.
type Linear struct {
	Task    string      `json:"task"`
	Weights [][]float64 `json:"weights"` // [outputs][features]
	Bias    []float64   `json:"bias"`    // [outputs]
}

// Margins writes the linear outputs of row (before the link function) into
// out, which has one element per output.
func (m *Linear) Margins(row, out []float64) {
	for j, w := range m.Weights {
		out[j] = m.Bias[j] + Dot(w, row)
	}
}

// Predict returns P(y=1) for binary, class probabilities for multiclass, the
// value for regression.
func (m *Linear) Predict(row []float64) []float64 {
	out := make([]float64, len(m.Weights))
	m.Margins(row, out)
	switch m.Task {
	case model.TaskBinary:
		out[0] = Sigmoid(out[0])
	case model.TaskMulticlass:
		Softmax(out, out)
	}
	return out
}

// Dot is the dot product of a and b, which have the same length.
func Dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
