package train

import (
	"context"
	"math"
	"testing"

	"github.com/ferry-ml/ferry/examples"
)

func TestRocAUC(t *testing.T) {
	tests := []struct {
		name string
		y, p []float64
		want float64
	}{
		{"perfect", []float64{0, 0, 1, 1}, []float64{0.1, 0.2, 0.8, 0.9}, 1},
		{"inverted", []float64{1, 1, 0, 0}, []float64{0.1, 0.2, 0.8, 0.9}, 0},
		{"all tied", []float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.5, 0.5}, 0.5},
		// scikit-learn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75
		{"sklearn example", []float64{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8}, 0.75},
		{"one class", []float64{1, 1}, []float64{0.2, 0.3}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rocAUC(tt.y, tt.p)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Fatalf("rocAUC = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTrainLogisticDeterministicAndAccurate(t *testing.T) {
	data, err := examples.BreastCancer()
	if err != nil {
		t.Fatal(err)
	}
	tr, va := Split(len(data.X), 0.25, 7)
	pick := func(idx []int) ([][]float64, []float64) {
		var X [][]float64
		var y []float64
		for _, i := range idx {
			X, y = append(X, data.X[i]), append(y, data.Y[i])
		}
		return X, y
	}
	Xt, yt := pick(tr)
	Xv, yv := pick(va)
	var losses []float64
	cfg := LogisticConfig{LearningRate: 0.5, Epochs: 100}
	m1, err := TrainLogistic(context.Background(), Xt, yt, cfg, func(_ int, l float64) error { losses = append(losses, l); return nil })
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := TrainLogistic(context.Background(), Xt, yt, cfg, nil)
	if m1.Bias != m2.Bias || m1.Weights[3] != m2.Weights[3] {
		t.Fatal("training is not deterministic")
	}
	if losses[len(losses)-1] >= losses[0] {
		t.Fatalf("loss did not fall: %v -> %v", losses[0], losses[len(losses)-1])
	}
	p := make([]float64, len(Xv))
	for i, x := range Xv {
		p[i] = m1.PredictProba(x)
	}
	s := ScoreBinary(yv, p)
	if s.Accuracy < 0.93 || s.AUC < 0.97 {
		t.Fatalf("validation scores too low: %+v", s)
	}
	if _, err := TrainLogistic(context.Background(), Xt, yt, LogisticConfig{}, nil); err == nil {
		t.Fatal("zero config accepted")
	}
}
