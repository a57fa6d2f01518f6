// Package native serves Ferry's own models — packages with the `ferry` flavor,
// whose model.json holds a Pipeline of internal/model/native — through the runtime.Model
// interface.
//
// Inputs are the pipeline's raw input columns, one tensor each, shape [rows]
// or [rows, 1]:
//
//   - numeric columns: FP64 (also FP32, INT32, INT64 and BOOL, converted to
//     float64); NaN is a missing value;
//   - categorical columns: BYTES; numbers (INT32, INT64, FP32, FP64, BOOL)
//     are taken as their text (3 → "3", 2.5 → "2.5"), the way the trainer
//     reads numbers in a categorical column. The empty string (which the
//     serving layer makes of a JSON null) and NaN are missing; a category not
//     seen in training is missing too;
//   - timestamp columns: BYTES in RFC 3339 ("2024-05-01T13:45:00Z"), or
//     "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04",
//     "2006-01-02" and "2006/01/02 15:04:05" (fractional seconds and a zone
//     offset optional where the layout has seconds; no zone means UTC), the
//     forms Ferry's CSV reader infers; or INT64/INT32 Unix seconds. The empty
//     string is missing.
//
// Outputs follow the task: binary models give "probability" (FP64 [-1],
// P(second class)) and "label" (BYTES [-1], the second class when the
// probability is above 0.5, else the first); multiclass models give
// "probabilities" (FP64 [-1, K], in the order of the class labels) and
// "label" (the most probable class, the first one on ties); regression models
// give "prediction" (FP64 [-1]).
package native

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	nativemodel "github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Platform is the V2 platform name of native models.
const Platform = "ferry_native"

// Output tensor names, the ones the package's signature declares (nativemodel.Pipeline.Signature).
const (
	OutputProbability   = nativemodel.OutputProbability   // binary: P(second class), FP64 [-1]
	OutputProbabilities = nativemodel.OutputProbabilities // multiclass: FP64 [-1, K]
	OutputLabel         = nativemodel.OutputLabel         // classification: the predicted class, BYTES [-1]
	OutputPrediction    = nativemodel.OutputPrediction    // regression: FP64 [-1]
)

// Model is a loaded native model. It is immutable and safe for concurrent
// use; Close is a no-op.
type Model struct {
	pipe   *nativemodel.Pipeline
	inputs []dataset.ColumnSchema
	labels []string // class labels; "0", "1" for a binary model saved without them
	meta   runtime.Metadata
}

var _ runtime.Model = (*Model)(nil)

// Load loads the `ferry` flavor of pkg: the model file the flavor names
// (model.json). It is a runtime.Loader.
//
// Errors wrap a *ferry.Error: ENOTFOUND when the package has no ferry flavor
// or its model file is missing, EINVALID when the file is not a model this
// build can serve (malformed, another format version, unknown task).
func Load(ctx context.Context, pkg *model.Package) (runtime.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := pkg.DataPath(model.FlavorFerry)
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("native: open model file: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// Read reads a model.json (what nativemodel.Pipeline.MarshalJSON writes) from r.
// Errors are as for Load.
func Read(r io.Reader) (*Model, error) {
	pipe, err := nativemodel.LoadPipeline(r)
	if err != nil {
		return nil, wrap(err)
	}
	return New(pipe)
}

// New returns a model serving pipe, which it keeps: the caller must not
// change pipe afterwards. It fails with EINVALID for a pipeline whose task
// or class labels it cannot serve.
func New(pipe *nativemodel.Pipeline) (*Model, error) {
	m := &Model{pipe: pipe, inputs: nativemodel.Inputs(pipe.Features), labels: pipe.ClassLabels}
	switch pipe.Task {
	case model.TaskBinary:
		switch len(m.labels) {
		case 0:
			m.labels = []string{"0", "1"}
		case 2:
		default:
			return nil, invalidf("binary model has %d class labels; want 2", len(m.labels))
		}
	case model.TaskMulticlass:
		if len(m.labels) < 2 {
			return nil, invalidf("multiclass model has %d class labels; want at least 2", len(m.labels))
		}
	case model.TaskRegression:
	default:
		return nil, invalidf("model has unknown task %q", pipe.Task)
	}
	if len(m.inputs) == 0 {
		return nil, invalidf("model has no input columns")
	}
	for _, c := range m.inputs {
		switch c.Kind {
		case dataset.KindNumeric, dataset.KindCategorical, dataset.KindTimestamp:
		default:
			return nil, invalidf("model input %q has unknown kind %q", c.Name, c.Kind)
		}
	}
	m.meta = m.metadata()
	return m, nil
}

func (m *Model) metadata() runtime.Metadata {
	md := runtime.Metadata{Platform: Platform}
	for _, c := range m.inputs {
		dt := runtime.FP64
		if c.Kind != dataset.KindNumeric {
			dt = runtime.BYTES
		}
		md.Inputs = append(md.Inputs, runtime.TensorSpec{Name: c.Name, Datatype: dt, Shape: []int64{-1}})
	}
	switch m.pipe.Task {
	case model.TaskBinary:
		md.Outputs = []runtime.TensorSpec{
			{Name: OutputProbability, Datatype: runtime.FP64, Shape: []int64{-1}},
			{Name: OutputLabel, Datatype: runtime.BYTES, Shape: []int64{-1}},
		}
	case model.TaskMulticlass:
		md.Outputs = []runtime.TensorSpec{
			{Name: OutputProbabilities, Datatype: runtime.FP64, Shape: []int64{-1, int64(len(m.labels))}, Labels: m.labels},
			{Name: OutputLabel, Datatype: runtime.BYTES, Shape: []int64{-1}},
		}
	default:
		md.Outputs = []runtime.TensorSpec{{Name: OutputPrediction, Datatype: runtime.FP64, Shape: []int64{-1}}}
	}
	return md
}

// Metadata describes the model's inputs and outputs. The caller must not
// modify the slices it holds.
func (m *Model) Metadata() runtime.Metadata { return m.meta }

// Pipeline returns the model's pipeline, which the caller must not modify.
func (m *Model) Pipeline() *nativemodel.Pipeline { return m.pipe }

// Close does nothing: a native model holds no resources.
func (m *Model) Close() error { return nil }

// Predict scores a batch. Every input column must be given, once, with the
// same number of rows; inputs the model does not read are ignored. Errors are
// EINVALID naming the input for a missing or repeated input, an unusable
// datatype or shape, differing row counts or an unparseable timestamp;
// ctx.Err() when ctx ends first.
func (m *Model) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	frame, err := m.frame(inputs)
	if err != nil {
		return nil, err
	}
	n := frame.Len()
	pred, err := m.PredictFrame(ctx, frame)
	if err != nil {
		return nil, err
	}
	switch m.pipe.Task {
	case model.TaskBinary:
		labels := make([]string, n)
		for i, p := range pred {
			labels[i] = m.labels[0]
			if p > 0.5 {
				labels[i] = m.labels[1]
			}
		}
		return []runtime.Tensor{
			{Name: OutputProbability, Datatype: runtime.FP64, Shape: []int64{int64(n)}, FP64: pred},
			{Name: OutputLabel, Datatype: runtime.BYTES, Shape: []int64{int64(n)}, Str: labels},
		}, nil
	case model.TaskMulticlass:
		k := len(m.labels)
		labels := make([]string, n)
		for i := range n {
			row := pred[i*k : (i+1)*k]
			best := 0
			for c, p := range row {
				if p > row[best] {
					best = c
				}
			}
			labels[i] = m.labels[best]
		}
		return []runtime.Tensor{
			{Name: OutputProbabilities, Datatype: runtime.FP64, Shape: []int64{int64(n), int64(k)}, FP64: pred},
			{Name: OutputLabel, Datatype: runtime.BYTES, Shape: []int64{int64(n)}, Str: labels},
		}, nil
	}
	return []runtime.Tensor{{Name: OutputPrediction, Datatype: runtime.FP64, Shape: []int64{int64(n)}, FP64: pred}}, nil
}

// PredictFrame scores every row of f, which holds the model's input columns
// (see Metadata; other columns are ignored): P(second class) per row for
// binary models, the class probabilities row after row for multiclass
// models, values for regression. Predict calls it once it has turned its
// tensors into a frame; validation calls it directly on evaluation frames,
// so that both score a model alike. Errors are EINVALID for a frame that
// lacks an input or has one of the wrong kind, or ctx.Err().
func (m *Model) PredictFrame(ctx context.Context, f *dataset.Frame) ([]float64, error) {
	pred, err := m.pipe.Predict(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("native: predict: %w", err)
	}
	if len(pred) != f.Len()*m.pipe.Outputs() {
		return nil, fmt.Errorf("native: predict: pipeline gave %d values for %d rows of %d outputs", len(pred), f.Len(), m.pipe.Outputs())
	}
	return pred, nil
}

// frame turns the input tensors into a frame of the model's input columns.
func (m *Model) frame(inputs []runtime.Tensor) (*dataset.Frame, error) {
	byName := make(map[string]*runtime.Tensor, len(inputs))
	for i := range inputs {
		t := &inputs[i]
		if _, dup := byName[t.Name]; dup {
			return nil, invalidf("input %q is given twice", t.Name)
		}
		byName[t.Name] = t
	}
	cols := make([]*dataset.Column, 0, len(m.inputs))
	rows, first := -1, ""
	for _, in := range m.inputs {
		t, ok := byName[in.Name]
		if !ok {
			return nil, invalidf("missing input %q (%s); the model's inputs are %s", in.Name, m.specOf(in.Name), m.inputList())
		}
		n, err := t.ColumnRows()
		if err != nil {
			return nil, err
		}
		if rows >= 0 && n != rows {
			return nil, invalidf("input %q has %d rows, but input %q has %d; every input needs one value per row", in.Name, n, first, rows)
		}
		rows, first = n, in.Name
		var col *dataset.Column
		switch in.Kind {
		case dataset.KindNumeric:
			col, err = numericColumn(t)
		case dataset.KindCategorical:
			col, err = categoricalColumn(t)
		case dataset.KindTimestamp:
			col, err = timestampColumn(t)
		}
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
	}
	f, err := dataset.NewFrame(cols...)
	if err != nil {
		return nil, wrap(err)
	}
	return f, nil
}

// specOf describes the named input's expected datatype for messages.
func (m *Model) specOf(name string) string {
	for _, s := range m.meta.Inputs {
		if s.Name == name {
			return s.Datatype
		}
	}
	return ""
}

// inputList names the model's inputs for messages, the first few of a wide model.
func (m *Model) inputList() string {
	const most = 20
	names := make([]string, 0, min(len(m.inputs), most))
	for i, c := range m.inputs {
		if i == most {
			names = append(names, "…")
			break
		}
		names = append(names, fmt.Sprintf("%q", c.Name))
	}
	return strings.Join(names, ", ")
}

// codedError is an error a user can act on: it reads "native: <message>"
// and wraps the *ferry.Error carrying its code and message.
type codedError struct{ fe *ferry.Error }

func (e *codedError) Error() string { return "native: " + e.fe.Message }
func (e *codedError) Unwrap() error { return e.fe }

// wrap prefixes err with the package name, keeping a bare *ferry.Error's
// message readable.
func wrap(err error) error {
	if fe, ok := err.(*ferry.Error); ok {
		return &codedError{fe: fe}
	}
	return fmt.Errorf("native: %w", err)
}

// invalidf returns an EINVALID error of this package.
func invalidf(format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(ferry.EINVALID, format, args...)}
}
