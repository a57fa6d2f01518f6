package validation

import (
	"context"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// framePredictor is a runtime.Model that scores frames directly, as
// runtime/native's models do (their Predict turns tensors into a frame and
// calls PredictFrame).
type framePredictor interface {
	PredictFrame(ctx context.Context, f *dataset.Frame) ([]float64, error)
}

// RuntimePredictor adapts a loaded model of any flavor to a Predictor, so
// that validation scores a model as serving does. A model that scores
// frames (Ferry's own, runtime/native) is given the frame; for any other,
// each input the model declares is taken from the frame's column of that
// name (numbers as FP64, categories and timestamps as text), and the model's
// first numeric output is the prediction (P(class 1), class probabilities
// row-major, or values).
func RuntimePredictor(m runtime.Model) Predictor {
	if fp, ok := m.(framePredictor); ok {
		return fp.PredictFrame
	}
	return func(ctx context.Context, f *dataset.Frame) ([]float64, error) {
		md := m.Metadata()
		inputs := make([]runtime.Tensor, 0, len(md.Inputs))
		n := int64(f.Len())
		for _, spec := range md.Inputs {
			col, err := f.Col(spec.Name)
			if err != nil {
				return nil, err
			}
			t := runtime.Tensor{Name: spec.Name, Shape: []int64{n}}
			switch {
			case col.Kind == dataset.KindNumeric:
				t.Datatype, t.FP64 = runtime.FP64, col.Num
			case col.Kind == dataset.KindTimestamp:
				t.Datatype, t.Str = runtime.BYTES, make([]string, n)
				for i, v := range col.Time {
					if v != dataset.MissingTime {
						t.Str[i] = time.Unix(0, v).UTC().Format(time.RFC3339Nano)
					}
				}
			default:
				t.Datatype, t.Str = runtime.BYTES, make([]string, n)
				for i := range t.Str {
					if !col.IsMissing(i) {
						t.Str[i] = col.String(i)
					}
				}
			}
			inputs = append(inputs, t)
		}
		outs, err := m.Predict(ctx, inputs)
		if err != nil {
			return nil, err
		}
		for _, o := range outs {
			switch {
			case o.FP64 != nil:
				return o.FP64, nil
			case o.FP32 != nil:
				out := make([]float64, len(o.FP32))
				for i, v := range o.FP32 {
					out[i] = float64(v)
				}
				return out, nil
			}
		}
		return nil, ferry.Errorf(ferry.EINVALID, "the model (%s) gave no numeric output to score", md.Platform)
	}
}
