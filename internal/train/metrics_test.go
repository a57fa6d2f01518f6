package train_test

import (
	"math"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/train"
)

func TestScore(t *testing.T) {
	for _, tt := range []struct {
		name    string
		task    string
		classes []string
		y, p    []float64
		metric  string
		want    float64
	}{
		// scikit-learn predicts class 0 at P == 0.5 (argmax of (1-P, P), ties to the first)
		{"accuracy at one half", model.TaskBinary, []string{"0", "1"}, []float64{0, 1}, []float64{0.5, 0.5}, "accuracy", 0.5},
		{"auc", model.TaskBinary, []string{"0", "1"}, []float64{0, 1, 0, 1}, []float64{0.1, 0.4, 0.5, 0.8}, "auc", 0.75},
		{"mlogloss", model.TaskMulticlass, []string{"a", "b", "c"}, []float64{0, 2}, []float64{0.5, 0.25, 0.25, 0.25, 0.25, 0.5}, "mlogloss", math.Log(2)},
		{"rmse", model.TaskRegression, nil, []float64{1, 3}, []float64{2, 2}, "rmse", 1},
		{"a validation metric by name", model.TaskBinary, []string{"0", "1"}, []float64{0, 1}, []float64{0.25, 0.75}, "brier", 0.0625},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := train.Score(tt.task, tt.classes, tt.y, tt.p, []string{tt.metric})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got[tt.metric]-tt.want) > 1e-12 {
				t.Fatalf("%s = %v, want %v", tt.metric, got[tt.metric], tt.want)
			}
		})
	}
	t.Run("a metric of another task", func(t *testing.T) {
		if _, err := train.Score(model.TaskBinary, []string{"0", "1"}, []float64{0, 1}, []float64{0.2, 0.8}, []string{"mlogloss"}); err == nil {
			t.Fatal("mlogloss scored a binary model")
		}
	})
	t.Run("undefined on the rows", func(t *testing.T) {
		got, err := train.Score(model.TaskBinary, []string{"0", "1"}, []float64{1, 1}, []float64{0.2, 0.8}, []string{"auc", "accuracy"})
		if _, ok := got["auc"]; err != nil || ok || got["accuracy"] != 0.5 {
			t.Fatalf("got %v, %v; want accuracy only", got, err)
		}
	})
}
