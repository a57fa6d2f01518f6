// Package lightgbm evaluates LightGBM models in their text format (the
// model.txt of Booster.save_model, which MLflow's lightgbm flavor stores as
// model.lgb) in Go, without LightGBM, and serves them through the
// runtime.Model interface.
//
// It reads the header (num_class, num_tree_per_iteration, max_feature_idx,
// objective, feature_names, feature_infos, average_output), the trees —
// numeric splits with LightGBM's three missing-value types, categorical
// splits on bitsets, linear trees (linear_tree=true) — and the
// pandas_categorical line the Python package appends, and applies the
// objective's output transform. Parse checks every index and size, so that a
// corrupt file is an error and never a panic or an endless loop. The tests
// compare every prediction with LightGBM v4.5.0's own
// (testdata/reference).
//
// Inputs are the model's features, one tensor each, shape [rows] or
// [rows, 1], named by the package's column signature when it has one column
// per feature (MLflow logs the DataFrame's column names; LightGBM may have
// changed them, e.g. spaces to underscores) and otherwise by feature_names.
// Numbers are FP64 (FP32, INT32, INT64 and BOOL are converted), NaN missing;
// a categorical feature takes its integer category code. A feature of a model
// trained on a pandas category column takes BYTES instead, mapped to codes
// by the model's pandas_categorical lists (numbers are taken as their text);
// "" and categories the model does not list are missing. One FP64 (or other
// number) tensor of shape [rows, features], in feature order, is accepted as
// well, and is the declared input of a package whose signature is a tensor.
//
// Outputs: "probability" (FP64 [-1]) for binary and cross-entropy
// objectives; "probabilities" (FP64 [-1, K]) for multiclass and
// multiclassova; "prediction" (FP64 [-1], or [-1, K] for a model of K
// outputs without a known objective) for the others — regression objectives
// (identity, or x·|x| after "sqrt"), poisson, gamma and tweedie (exp),
// cross_entropy_lambda (log(1+exp)), ranking objectives (raw scores).
package lightgbm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	fruntime "github.com/ferry-ml/ferry/internal/runtime"
)

// Platform is the V2 platform name of LightGBM models.
const Platform = "lightgbm_text"

// MaxModelSize bounds the model files Load and LoadFile read.
const MaxModelSize = 1 << 30

// Output tensor names.
const (
	OutputProbability   = "probability"   // binary and cross-entropy objectives, FP64 [-1]
	OutputProbabilities = "probabilities" // multiclass objectives, FP64 [-1, K]
	OutputPrediction    = "prediction"    // every other objective, FP64 [-1] (or [-1, K])
)

// Model is a LightGBM booster ready to serve. It is immutable and safe for
// concurrent use; Close is a no-op.
type Model struct {
	b      *Booster
	names  []string // input name of each feature
	matrix string   // name of the declared [rows, features] input; "" when inputs are columns
	cats   []map[string]float64
	meta   fruntime.Metadata
}

var _ fruntime.Model = (*Model)(nil)

// Load loads the lightgbm flavor of pkg: the text model its data field names
// (model.lgb as MLflow writes it). It is a runtime.Loader. Inputs are named
// by the package's column signature when it has one column per feature.
//
// Errors wrap a *ferry.Error: ENOTFOUND when the package has no lightgbm
// flavor or the model file is missing, ETOOLARGE for a file over
// MaxModelSize, ENOTIMPLEMENTED for a pickled scikit-learn model
// (model.pkl), EINVALID for a file that is not a valid text model.
func Load(ctx context.Context, pkg *model.Package) (fruntime.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := pkg.DataPath(model.FlavorLightGBM)
	if err != nil {
		return nil, fmt.Errorf("lightgbm: %w", err)
	}
	if strings.HasSuffix(path, ".pkl") {
		return nil, notImplementedf("the lightgbm flavor holds a pickled scikit-learn model (%s), which Ferry does not read; log the booster (model.booster_) or serve the python_function flavor", filepath.Base(path))
	}
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return newModel(b, pkg.Manifest.Signature), nil
}

// LoadFile loads a LightGBM text model file; inputs are named by its
// feature_names. Errors are as for Load.
func LoadFile(path string) (*Model, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return newModel(b, nil), nil
}

// New returns a model serving b, with inputs named by b's feature names.
func New(b *Booster) *Model { return newModel(b, nil) }

// readFile reads and parses the model file at path.
func readFile(path string) (*Booster, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &codedError{fe: ferry.Errorf(ferry.ENOTFOUND, "no model file %s", filepath.Base(path))}
	} else if err != nil {
		return nil, fmt.Errorf("lightgbm: open model file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxModelSize+1))
	if err != nil {
		return nil, fmt.Errorf("lightgbm: read model file: %w", err)
	}
	if len(data) > MaxModelSize {
		return nil, &codedError{fe: ferry.Errorf(ferry.ETOOLARGE, "model file %s is larger than %d bytes", filepath.Base(path), MaxModelSize)}
	}
	b, err := Parse(data)
	if err != nil {
		var ce *codedError
		if errors.As(err, &ce) {
			return nil, &codedError{fe: ferry.Errorf(ce.fe.Code, "%s: %s", filepath.Base(path), ce.fe.Message)}
		}
		return nil, err
	}
	return b, nil
}

// newModel names the inputs of b — by sig's columns when there is one per
// feature — and builds the metadata.
func newModel(b *Booster, sig *model.Signature) *Model {
	m := &Model{b: b, names: b.FeatureNames}
	nf := b.NumFeatures()
	if sig != nil && len(sig.Inputs) > 0 {
		switch {
		case sig.IsTensorBased():
			m.matrix = sig.Inputs[0].Name
			if m.matrix == "" {
				m.matrix = "input"
			}
		case len(sig.Inputs) == nf && sig.Inputs[0].Name != "":
			m.names = make([]string, nf)
			for i, s := range sig.Inputs {
				m.names[i] = s.Name
			}
		}
	}
	if b.catOf != nil {
		m.cats = make([]map[string]float64, nf)
		for f, c := range b.catOf {
			if c < 0 {
				continue
			}
			m.cats[f] = make(map[string]float64, len(b.PandasCategorical[c]))
			for code, v := range b.PandasCategorical[c] {
				if _, dup := m.cats[f][v]; !dup {
					m.cats[f][v] = float64(code)
				}
			}
		}
	}

	md := fruntime.Metadata{Platform: Platform}
	if m.matrix != "" {
		md.Inputs = []fruntime.TensorSpec{{Name: m.matrix, Datatype: fruntime.FP64, Shape: []int64{-1, int64(nf)}}}
	} else {
		for f, name := range m.names {
			dt := fruntime.FP64
			if m.cats != nil && m.cats[f] != nil {
				dt = fruntime.BYTES
			}
			md.Inputs = append(md.Inputs, fruntime.TensorSpec{Name: name, Datatype: dt, Shape: []int64{-1}})
		}
	}
	k := int64(b.NumOutputs())
	switch {
	case b.obj.kind == kindClasses:
		md.Outputs = []fruntime.TensorSpec{{Name: OutputProbabilities, Datatype: fruntime.FP64, Shape: []int64{-1, k}}}
	case b.obj.kind == kindProbability:
		md.Outputs = []fruntime.TensorSpec{{Name: OutputProbability, Datatype: fruntime.FP64, Shape: []int64{-1}}}
	case k == 1:
		md.Outputs = []fruntime.TensorSpec{{Name: OutputPrediction, Datatype: fruntime.FP64, Shape: []int64{-1}}}
	default:
		md.Outputs = []fruntime.TensorSpec{{Name: OutputPrediction, Datatype: fruntime.FP64, Shape: []int64{-1, k}}}
	}
	m.meta = md
	return m
}

// Metadata describes the model's inputs and outputs. The caller must not
// modify the slices it holds.
func (m *Model) Metadata() fruntime.Metadata { return m.meta }

// Booster returns the parsed model, which the caller must not modify.
func (m *Model) Booster() *Booster { return m.b }

// Close does nothing: the model holds no resources.
func (m *Model) Close() error { return nil }

// Predict scores a batch: one tensor per feature (inputs the model does not
// read are ignored) or a single [rows, features] tensor. Errors are EINVALID
// naming the input for a missing or repeated input, an unusable datatype or
// shape, or differing row counts; ctx.Err() when ctx ends first.
func (m *Model) Predict(ctx context.Context, inputs []fruntime.Tensor) ([]fruntime.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, n, err := m.rows(inputs)
	if err != nil {
		return nil, err
	}
	nf, k := m.b.NumFeatures(), m.b.NumOutputs()
	out := make([]float64, n*k)
	if err := parallelRows(ctx, n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m.b.Predict(rows[i*nf:(i+1)*nf], out[i*k:(i+1)*k])
		}
	}); err != nil {
		return nil, err
	}
	spec := m.meta.Outputs[0]
	shape := []int64{int64(n)}
	if len(spec.Shape) == 2 {
		shape = append(shape, int64(k))
	}
	return []fruntime.Tensor{{Name: spec.Name, Datatype: fruntime.FP64, Shape: shape, FP64: out}}, nil
}

// parallelRows calls fn on blocks of the n rows, spread over GOMAXPROCS
// goroutines for large batches, checking ctx between blocks.
func parallelRows(ctx context.Context, n int, fn func(lo, hi int)) error {
	const block = 1024
	blocks := (n + block - 1) / block
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 {
		for lo := 0; lo < n; lo += block {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(lo, min(lo+block, n))
		}
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				b := next
				next++
				mu.Unlock()
				if b >= blocks {
					return
				}
				fn(b*block, min((b+1)*block, n))
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// rows turns the inputs into a row-major matrix of n rows of NumFeatures values.
func (m *Model) rows(inputs []fruntime.Tensor) ([]float64, int, error) {
	nf := m.b.NumFeatures()
	if len(inputs) == 1 && len(inputs[0].Shape) == 2 && inputs[0].Shape[1] == int64(nf) && (nf > 1 || inputs[0].Name != m.names[0]) {
		return m.matrixRows(&inputs[0])
	}
	byName := make(map[string]*fruntime.Tensor, len(inputs))
	for i := range inputs {
		t := &inputs[i]
		if _, dup := byName[t.Name]; dup {
			return nil, 0, invalidf("input %q is given twice", t.Name)
		}
		byName[t.Name] = t
	}
	var x []float64
	n, first := -1, ""
	for f, name := range m.names {
		t, ok := byName[name]
		if !ok {
			if m.matrix != "" && len(inputs) == 1 {
				return nil, 0, invalidf("input %q has shape %v; want [rows, %d] (or one column input per feature)", inputs[0].Name, inputs[0].Shape, nf)
			}
			return nil, 0, invalidf("missing input %q (feature %d of %d); the model's inputs are %s", name, f+1, nf, m.inputList())
		}
		rows, err := t.ColumnRows()
		if err != nil {
			return nil, 0, err
		}
		if n >= 0 && rows != n {
			return nil, 0, invalidf("input %q has %d rows, but input %q has %d; every input needs one value per row", name, rows, first, n)
		}
		if n < 0 {
			n, first = rows, name
			x = make([]float64, n*nf)
		}
		if err := m.fillColumn(x, f, t, n); err != nil {
			return nil, 0, err
		}
	}
	return x, n, nil
}

// fillColumn writes the values of feature f from t into the row-major x.
func (m *Model) fillColumn(x []float64, f int, t *fruntime.Tensor, n int) error {
	nf := m.b.NumFeatures()
	var cats map[string]float64
	if m.cats != nil {
		cats = m.cats[f]
	}
	if cats != nil {
		for i := range n {
			var s string
			switch t.Datatype {
			case fruntime.BYTES:
				s = t.Str[i]
			case fruntime.INT32, fruntime.INT64:
				s = strconv.FormatInt(t.Int[i], 10)
			case fruntime.BOOL:
				s = strconv.FormatBool(t.Bool[i])
			default:
				s = numberText(t.Float(i))
			}
			code, ok := cats[s]
			if !ok {
				code = math.NaN() // missing, or a category the model does not know
			}
			x[i*nf+f] = code
		}
		return nil
	}
	switch t.Datatype {
	case fruntime.FP64, fruntime.FP32, fruntime.INT32, fruntime.INT64, fruntime.BOOL:
		for i := range n {
			x[i*nf+f] = t.Float(i)
		}
		return nil
	}
	return invalidf("input %q is %s; feature %q is numeric: send FP64 (or FP32, INT32, INT64), with NaN for a missing value", t.Name, t.Datatype, m.b.FeatureNames[f])
}

// matrixRows reads a [rows, features] tensor of numbers.
func (m *Model) matrixRows(t *fruntime.Tensor) ([]float64, int, error) {
	nf := m.b.NumFeatures()
	size := t.Len() // the datatype is checked below
	if t.Shape[0] < 0 || t.Shape[0] > int64(size) || t.Shape[0]*int64(nf) != int64(size) {
		return nil, 0, invalidf("input %q has shape %v but %d values", t.Name, t.Shape, size)
	}
	switch t.Datatype {
	case fruntime.FP64:
		return t.FP64, int(t.Shape[0]), nil // read only
	case fruntime.FP32, fruntime.INT32, fruntime.INT64, fruntime.BOOL:
		x := make([]float64, size)
		for i := range x {
			x[i] = t.Float(i)
		}
		return x, int(t.Shape[0]), nil
	}
	return nil, 0, invalidf("input %q is %s; a [rows, features] input holds numbers: send FP64 (or FP32, INT32, INT64)", t.Name, t.Datatype)
}

// inputList names the model's inputs for messages, the first few of a wide model.
func (m *Model) inputList() string {
	const most = 20
	names := make([]string, 0, min(len(m.names), most))
	for i, n := range m.names {
		if i == most {
			names = append(names, "…")
			break
		}
		names = append(names, strconv.Quote(n))
	}
	return strings.Join(names, ", ")
}
