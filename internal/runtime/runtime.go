// Package runtime turns a model package into a predictor. Each flavor has its
// runtime in a subpackage — native (Ferry's own models), xgboost, lightgbm,
// onnx (build tag onnx) and process (a child process serving the V2 or MLflow
// scoring protocol, such as mlflow models serve) —
// behind the one small Model interface here, which the serving stage consumes.
//
// Inputs and outputs are named tensors in the shape of the Open Inference
// Protocol V2: a model with a column signature takes one tensor per column
// (shape [rows] or [rows, 1]); a model with a tensor signature takes its
// tensors as they are.
package runtime

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// Datatypes of tensors, as the Open Inference Protocol V2 names them.
const (
	BOOL  = "BOOL"
	INT32 = "INT32"
	INT64 = "INT64"
	FP32  = "FP32"
	FP64  = "FP64"
	BYTES = "BYTES" // strings
)

// Tensor is a named, typed, shaped array, row-major. Exactly one of the data
// slices is set, matching Datatype: Bool (BOOL), Int (INT32, INT64), FP32
// (FP32), FP64 (FP64), Str (BYTES). A missing value in FP32/FP64 is NaN.
type Tensor struct {
	Name     string
	Datatype string
	Shape    []int64
	Bool     []bool
	Int      []int64
	FP32     []float32
	FP64     []float64
	Str      []string
}

// Len is the number of elements of t's data.
func (t *Tensor) Len() int {
	switch {
	case t.Bool != nil:
		return len(t.Bool)
	case t.Int != nil:
		return len(t.Int)
	case t.FP32 != nil:
		return len(t.FP32)
	case t.FP64 != nil:
		return len(t.FP64)
	}
	return len(t.Str)
}

// Float returns element i as a float64 (NaN for a string).
func (t *Tensor) Float(i int) float64 {
	switch {
	case t.FP64 != nil:
		return t.FP64[i]
	case t.FP32 != nil:
		return float64(t.FP32[i])
	case t.Int != nil:
		return float64(t.Int[i])
	case t.Bool != nil:
		if t.Bool[i] {
			return 1
		}
		return 0
	}
	return math.NaN()
}

// TensorSpec describes an input or output: its name, datatype and shape (-1
// for a dimension of any size, e.g. the batch).
type TensorSpec struct {
	Name     string
	Datatype string
	Shape    []int64
	// Labels name the entries of a [rows, k] output's last dimension, when
	// they have names (the class labels of multiclass probabilities).
	Labels []string `json:"-"`
}

// Metadata describes a loaded model for clients (V2 model metadata).
type Metadata struct {
	Platform string // e.g. "ferry_native", "xgboost_json", "lightgbm_text", "onnx", "process"
	Inputs   []TensorSpec
	Outputs  []TensorSpec
}

// Model is a loaded, ready predictor. Predict is safe for concurrent use;
// Close releases what the model holds (processes, native sessions) and is
// called once, after the last Predict returns.
type Model interface {
	Metadata() Metadata
	// Predict scores a batch. Inputs are checked by the caller against
	// Metadata; a runtime still returns EINVALID (never panics) for inputs it
	// cannot use, naming the input and what it expected.
	Predict(ctx context.Context, inputs []Tensor) ([]Tensor, error)
	Close() error
}

// Loader loads the model of a package for one flavor.
type Loader func(ctx context.Context, pkg *model.Package) (Model, error)

// Registry maps flavor names to loaders. The composition root fills it with
// the runtimes the build has, so that packages of flavors it lacks fail with
// a clear error.
type Registry map[string]Loader

// Load loads pkg with the runtime of its preferred flavor that the registry
// has (ferry, xgboost, lightgbm, onnx, python_function in that order, then
// any other flavor the registry has a loader for, by name).
func (r Registry) Load(ctx context.Context, pkg *model.Package) (Model, error) {
	order := []string{model.FlavorFerry, model.FlavorXGBoost, model.FlavorLightGBM, model.FlavorONNX, model.FlavorPyFunc}
	for _, name := range slices.Sorted(maps.Keys(r)) {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, flavor := range order {
		if _, ok := pkg.Flavor(flavor); !ok {
			continue
		}
		if load, ok := r[flavor]; ok {
			m, err := load(ctx, pkg)
			if err != nil {
				return nil, fmt.Errorf("runtime: load %s model: %w", flavor, err)
			}
			return m, nil
		}
	}
	var have []string
	for name := range pkg.Manifest.Flavors {
		have = append(have, name)
	}
	return nil, ferry.Errorf(ferry.EINVALID, "no runtime in this build serves the package's flavors %v (a build without the onnx tag has no ONNX runtime; python_function models need a process runtime command)", have)
}

// ColumnRows checks that t is one column — shape [rows] or [rows, 1], or no
// shape at all — whose data (in the slice its datatype names) fills its
// shape, and returns the number of rows. Anything else is EINVALID naming
// the input.
func (t *Tensor) ColumnRows() (int, error) {
	var n int
	switch t.Datatype {
	case BOOL:
		n = len(t.Bool)
	case INT32, INT64:
		n = len(t.Int)
	case FP32:
		n = len(t.FP32)
	case FP64:
		n = len(t.FP64)
	case BYTES:
		n = len(t.Str)
	default:
		return 0, ferry.Errorf(ferry.EINVALID, "input %q has unknown datatype %q", t.Name, t.Datatype)
	}
	switch {
	case len(t.Shape) == 0:
		return n, nil
	case len(t.Shape) == 1 || (len(t.Shape) == 2 && t.Shape[1] == 1):
		if t.Shape[0] != int64(n) {
			return 0, ferry.Errorf(ferry.EINVALID, "input %q has shape %v but %d values", t.Name, t.Shape, n)
		}
		return n, nil
	}
	return 0, ferry.Errorf(ferry.EINVALID, "input %q has shape %v; a column input has shape [rows] or [rows, 1]", t.Name, t.Shape)
}
