package validation

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// echoModel predicts its numeric input "x" plus one when "color" is "red",
// and checks the other inputs arrive as text.
type echoModel struct{ t *testing.T }

func (m echoModel) Metadata() runtime.Metadata {
	return runtime.Metadata{Platform: "echo", Inputs: []runtime.TensorSpec{{Name: "x"}, {Name: "color"}, {Name: "when"}}}
}

func (m echoModel) Predict(_ context.Context, in []runtime.Tensor) ([]runtime.Tensor, error) {
	x, color, when := in[0], in[1], in[2]
	if x.Datatype != runtime.FP64 || color.Datatype != runtime.BYTES || when.Datatype != runtime.BYTES {
		m.t.Fatalf("datatypes %s %s %s", x.Datatype, color.Datatype, when.Datatype)
	}
	if when.Str[0] != "2001-05-01T10:00:00Z" || when.Str[1] != "" {
		m.t.Fatalf("timestamps as text: %q", when.Str)
	}
	out := make([]float32, len(x.FP64))
	for i, v := range x.FP64 {
		out[i] = float32(v)
		if color.Str[i] == "red" {
			out[i]++
		}
	}
	return []runtime.Tensor{{Name: "label", Datatype: runtime.BYTES, Str: []string{"a", "b"}}, {Name: "p", Datatype: runtime.FP32, FP32: out}}, nil
}

func (echoModel) Close() error { return nil }

func TestRuntimePredictor(t *testing.T) {
	f, err := dataset.NewFrame(
		dataset.NewNumeric("x", []float64{0.25, 0.5}),
		dataset.NewCategorical("color", []string{"red", ""}),
		dataset.NewTimestamp("when", []time.Time{time.Date(2001, 5, 1, 10, 0, 0, 0, time.UTC), {}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	got, err := RuntimePredictor(echoModel{t})(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 1.25 || got[1] != 0.5 {
		t.Fatalf("predictions %v", got)
	}
	missing, _ := dataset.NewFrame(dataset.NewNumeric("x", []float64{1}))
	if _, err := RuntimePredictor(echoModel{t})(context.Background(), missing); err == nil {
		t.Fatal("a frame without the model's inputs was scored")
	}
}
