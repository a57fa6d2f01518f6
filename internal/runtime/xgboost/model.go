package xgboost

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Platform is the Metadata platform of XGBoost models served by this
// package, whichever the file format.
const Platform = "xgboost_json"

// OutputName is the name of the one output tensor.
const OutputName = "predict"

// matrixInput names the matrix input when the signature gives no name.
const matrixInput = "input-0"

// Load loads the xgboost flavor of pkg: the model file its data field names,
// saved as JSON, UBJSON or in XGBoost's legacy binary format (model_format
// json, ubj or xgb, or none as MLflow 1 wrote; the content decides, see
// LoadFile).
// The package's signature, when it names columns, names the inputs of a model
// that has no feature names of its own. It is a runtime.Loader.
//
// Errors wrap a *ferry.Error: ENOTFOUND when pkg has no xgboost flavor or
// its file is missing; EINVALID for a corrupt model; ENOTIMPLEMENTED for a
// model this package does not evaluate (see LoadFile);
// ETOOLARGE above MaxModelSize. ctx is checked before the file is read and
// before it is decoded.
func Load(ctx context.Context, pkg *model.Package) (runtime.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fl, err := pkg.Manifest.XGBoost()
	if err != nil {
		return nil, fmt.Errorf("xgboost: %w", err)
	}
	switch fl.ModelFormat {
	case "", "xgb", FormatJSON, FormatUBJSON:
	default:
		return nil, ferry.Errorf(ferry.ENOTIMPLEMENTED, "the xgboost flavor's model_format %q is not supported (want json, ubj or xgb)", clip(fl.ModelFormat))
	}
	path, err := pkg.DataPath(model.FlavorXGBoost)
	if err != nil {
		return nil, fmt.Errorf("xgboost: %w", err)
	}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("xgboost: load %s: %w", fl.Data, err)
	}
	return NewModel(b, pkg.Manifest.Signature), nil
}

// Model serves a Booster as a runtime.Model. It takes its input either as
// one tensor of shape [rows, NumFeature] (any numeric datatype) or, when it
// knows the features' names, as one tensor per feature named after it, of
// shape [rows] or [rows, 1]. Its output is one FP64 tensor "predict": shape
// [rows] (probabilities of the positive class for binary models, class
// indices for multi:softmax, values for regression) or [rows, classes] for
// multi:softprob. Missing values are NaN. It is safe for concurrent use.
type Model struct {
	b       *Booster
	columns map[string]int // feature index by input name; nil without names
	meta    runtime.Metadata
}

// NewModel serves b. sig, the package's signature (nil for none), names the
// inputs: a tensor signature names the matrix input and its datatype; a
// column signature with one column per feature names the features of a
// booster that has no feature names (a signature whose columns do not match
// the features in number is ignored; the matrix input always works).
func NewModel(b *Booster, sig *model.Signature) *Model {
	m := &Model{b: b}
	nf, no := b.NumFeature(), b.NumOutputs()
	names := b.FeatureNames()
	var types []string // per feature; only when features have names, which the model or sig holds
	if names != nil || b.FeatureTypes() != nil || sig != nil && len(sig.Inputs) == nf {
		types = make([]string, nf)
	}
	for i, t := range b.FeatureTypes() {
		switch t {
		case "int", "c":
			types[i] = runtime.INT64
		case "i":
			types[i] = runtime.BOOL
		}
	}
	matrix := runtime.TensorSpec{Name: matrixInput, Datatype: runtime.FP32, Shape: []int64{-1, int64(nf)}}
	if sig != nil && sig.IsTensorBased() {
		in := sig.Inputs[0]
		if in.Name != "" {
			matrix.Name = in.Name
		}
		matrix.Datatype = dtype(in.DType)
	} else if sig != nil && len(sig.Inputs) == nf && nf > 0 && sig.Inputs[0].Name != "" {
		byName := make(map[string]model.Spec, nf)
		for _, s := range sig.Inputs {
			byName[s.Name] = s
		}
		if names == nil {
			names = make([]string, nf)
			for i, s := range sig.Inputs {
				names[i] = s.Name
			}
		}
		for i, n := range names {
			if s, ok := byName[n]; ok {
				types[i] = columnType(s.Type)
			}
		}
	}
	if names != nil {
		m.columns = make(map[string]int, len(names))
		for i, n := range names {
			if _, dup := m.columns[n]; !dup {
				m.columns[n] = i
			}
		}
		if len(m.columns) != len(names) { // duplicate names cannot be told apart
			m.columns, names = nil, nil
		}
	}
	if names != nil {
		for i, n := range names {
			t := types[i]
			if t == "" {
				t = runtime.FP32
			}
			m.meta.Inputs = append(m.meta.Inputs, runtime.TensorSpec{Name: n, Datatype: t, Shape: []int64{-1}})
		}
	} else {
		m.meta.Inputs = []runtime.TensorSpec{matrix}
	}
	out := runtime.TensorSpec{Name: OutputName, Datatype: runtime.FP64, Shape: []int64{-1}}
	if b.obj.link == linkSoftprob || no > 1 {
		out.Shape = []int64{-1, int64(no)}
	}
	m.meta.Platform = Platform
	m.meta.Outputs = []runtime.TensorSpec{out}
	return m
}

// dtype maps a numpy dtype name to a V2 datatype.
func dtype(d string) string {
	switch d {
	case "float64":
		return runtime.FP64
	case "int32", "int16", "int8", "uint8", "uint16":
		return runtime.INT32
	case "int64", "uint32", "uint64":
		return runtime.INT64
	case "bool":
		return runtime.BOOL
	}
	return runtime.FP32
}

// columnType maps an MLflow column type to a V2 datatype.
func columnType(t string) string {
	switch t {
	case model.TypeDouble:
		return runtime.FP64
	case model.TypeInteger:
		return runtime.INT32
	case model.TypeLong:
		return runtime.INT64
	case model.TypeBoolean:
		return runtime.BOOL
	}
	return runtime.FP32
}

// Booster returns the model's booster.
func (m *Model) Booster() *Booster { return m.b }

// Metadata describes the inputs and the output; see Model.
func (m *Model) Metadata() runtime.Metadata { return m.meta }

// Close does nothing: a Model holds memory only.
func (m *Model) Close() error { return nil }

// Predict scores a batch given as a matrix or as columns (see Model). It
// returns EINVALID, naming the input, for a tensor of the wrong shape, a
// non-numeric datatype, data that does not match its shape or datatype, a
// column the model does not know or one it lacks; and ctx's error when ctx
// ends first.
func (m *Model) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nf := m.b.NumFeature()
	var x []float32
	var rows int
	var err error
	switch {
	case len(inputs) == 1 && len(inputs[0].Shape) == 2 && !m.isColumn(inputs[0].Name):
		x, rows, err = matrix(&inputs[0], nf)
	case m.columns != nil:
		x, rows, err = m.fromColumns(inputs)
	case len(inputs) == 1:
		err = ferry.Errorf(ferry.EINVALID, "input %q has shape %v, want [rows, %d]", clip(inputs[0].Name), inputs[0].Shape, nf)
	default:
		err = ferry.Errorf(ferry.EINVALID, "the model takes one input tensor of shape [rows, %d], not %d tensors (it has no feature names to match them by)", nf, len(inputs))
	}
	if err != nil {
		return nil, err
	}
	no := m.b.NumOutputs()
	out := make([]float64, rows*no)
	if err := m.b.Predict(ctx, x, rows, out); err != nil {
		return nil, err
	}
	t := runtime.Tensor{Name: OutputName, Datatype: runtime.FP64, Shape: []int64{int64(rows)}, FP64: out}
	if len(m.meta.Outputs[0].Shape) == 2 {
		t.Shape = []int64{int64(rows), int64(no)}
	}
	return []runtime.Tensor{t}, nil
}

// matrix returns the values of a [rows, nf] tensor as float32.
func matrix(t *runtime.Tensor, nf int) ([]float32, int, error) {
	rows, cols := t.Shape[0], t.Shape[1]
	if cols != int64(nf) || rows < 0 || cols > 0 && rows > math.MaxInt32/cols {
		return nil, 0, ferry.Errorf(ferry.EINVALID, "input %q has shape %v, want [rows, %d] of at most %d values", clip(t.Name), t.Shape, nf, math.MaxInt32)
	}
	if err := checkData(t, rows*cols); err != nil {
		return nil, 0, err
	}
	if t.Datatype == runtime.FP32 {
		return t.FP32, int(rows), nil
	}
	x := make([]float32, t.Len())
	fill(t, x, 1, 0)
	return x, int(rows), nil
}

// fromColumns assembles a row-major matrix from one tensor per feature.
func (m *Model) fromColumns(inputs []runtime.Tensor) ([]float32, int, error) {
	nf := m.b.NumFeature()
	seen := make([]bool, nf)
	rows := int64(-1)
	for i := range inputs {
		t := &inputs[i]
		f, ok := m.columns[t.Name]
		if !ok {
			return nil, 0, ferry.Errorf(ferry.EINVALID, "input %q is not a feature of the model (features: %s)", clip(t.Name), m.featureList())
		}
		if seen[f] {
			return nil, 0, ferry.Errorf(ferry.EINVALID, "input %q is given twice", clip(t.Name))
		}
		seen[f] = true
		if len(t.Shape) == 0 || len(t.Shape) > 2 || len(t.Shape) == 2 && t.Shape[1] != 1 || t.Shape[0] < 0 || t.Shape[0] > math.MaxInt32 {
			return nil, 0, ferry.Errorf(ferry.EINVALID, "input %q has shape %v, want [rows] or [rows, 1]", clip(t.Name), t.Shape)
		}
		if rows >= 0 && t.Shape[0] != rows {
			return nil, 0, ferry.Errorf(ferry.EINVALID, "input %q has %d rows, but %q has %d", clip(t.Name), t.Shape[0], clip(inputs[0].Name), rows)
		}
		rows = t.Shape[0]
		if err := checkData(t, rows); err != nil {
			return nil, 0, err
		}
	}
	if len(inputs) != nf {
		var missing []string
		for f, in := range m.meta.Inputs {
			if !seen[f] {
				missing = append(missing, in.Name)
			}
		}
		return nil, 0, ferry.Errorf(ferry.EINVALID, "the model needs %d feature inputs, got %d; missing: %s", nf, len(inputs), list(missing))
	}
	if rows*int64(nf) > math.MaxInt32 {
		return nil, 0, ferry.Errorf(ferry.ETOOLARGE, "the batch of %d rows is too large", rows)
	}
	x := make([]float32, int(rows)*nf)
	for i := range inputs {
		fill(&inputs[i], x, nf, m.columns[inputs[i].Name])
	}
	return x, int(rows), nil
}

// checkData checks that t holds n numbers in the slice its datatype names.
func checkData(t *runtime.Tensor, n int64) error {
	var have int
	switch t.Datatype {
	case runtime.FP32:
		have = len(t.FP32)
	case runtime.FP64:
		have = len(t.FP64)
	case runtime.INT32, runtime.INT64:
		have = len(t.Int)
	case runtime.BOOL:
		have = len(t.Bool)
	default:
		return ferry.Errorf(ferry.EINVALID, "input %q has datatype %q, want a number (FP32, FP64, INT32, INT64 or BOOL)", clip(t.Name), clip(t.Datatype))
	}
	if int64(have) != n {
		return ferry.Errorf(ferry.EINVALID, "input %q has %d %s values, but its shape %v needs %d", clip(t.Name), have, t.Datatype, t.Shape, n)
	}
	return nil
}

// fill copies t's values, converted to float32, to x[i*stride+offset].
func fill(t *runtime.Tensor, x []float32, stride, offset int) {
	switch t.Datatype {
	case runtime.FP32:
		for i, v := range t.FP32 {
			x[i*stride+offset] = v
		}
	case runtime.FP64:
		for i, v := range t.FP64 {
			x[i*stride+offset] = float32(v)
		}
	case runtime.INT32, runtime.INT64:
		for i, v := range t.Int {
			x[i*stride+offset] = float32(v)
		}
	case runtime.BOOL:
		for i, v := range t.Bool {
			if v {
				x[i*stride+offset] = 1
			} else {
				x[i*stride+offset] = 0
			}
		}
	}
}

// isColumn reports whether name is the name of a feature input.
func (m *Model) isColumn(name string) bool {
	_, ok := m.columns[name]
	return ok
}

func (m *Model) featureList() string {
	names := make([]string, len(m.meta.Inputs))
	for i, in := range m.meta.Inputs {
		names[i] = in.Name
	}
	return list(names)
}

// list joins up to ten names for a message.
func list(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}
