package serving

import (
	"fmt"
	"strings"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// InputSpec is one input a served model takes, as the server checks requests
// against it: the tensor the runtime wants, and what the signature says about
// it.
type InputSpec struct {
	// Name is the input (column or tensor) name.
	Name string
	// Datatype is the V2 datatype the runtime takes (FP64, INT64, BYTES, ...).
	Datatype string
	// Shape is the tensor shape, -1 for any size; a column is [-1].
	Shape []int64
	// Column reports a column of a column signature: one value per row,
	// shape [rows] or [rows, 1].
	Column bool
	// ColumnType is the MLflow column type (double, long, string, datetime,
	// ...) for columns, "" for tensors.
	ColumnType string
	// Required is false for optional columns, which may be left out of a
	// request and may hold missing values.
	Required bool
}

// Schema is what a served model takes and gives: its inputs and outputs in
// order. It is built once per model version and is safe for concurrent use.
type Schema struct {
	Inputs  []InputSpec
	Outputs []runtime.TensorSpec
	// OutputNames are the signature's output names, used to label the
	// columns of a single [rows, k] output (multiclass probabilities).
	OutputNames []string
	// Columns reports a model with a column signature (or, without one,
	// inputs that are all one value per row).
	Columns bool
	byName  map[string]int
}

// NewSchema derives the schema of a model from its runtime metadata and its
// signature (nil when the package has none). The metadata decides datatypes
// and shapes — it is what the runtime takes; the signature decides which
// inputs are required and their column types. With no metadata inputs, they
// are derived from the signature (double → FP64, long → INT64, string and
// datetime → BYTES, ...). With neither, the schema is empty and requests are
// passed through unchecked.
func NewSchema(md runtime.Metadata, sig *model.Signature) *Schema {
	s := &Schema{Outputs: md.Outputs, byName: map[string]int{}}
	var specs []model.Spec
	if sig != nil {
		specs = sig.Inputs
		for _, o := range sig.Outputs {
			if o.Name != "" {
				s.OutputNames = append(s.OutputNames, o.Name)
			}
		}
	}
	bySig := map[string]model.Spec{}
	for i, sp := range specs {
		bySig[specName(sp, i)] = sp
	}
	columnSig := sig != nil && len(specs) > 0 && !sig.IsTensorBased()
	if len(md.Inputs) > 0 {
		for _, in := range md.Inputs {
			is := InputSpec{Name: in.Name, Datatype: in.Datatype, Shape: in.Shape, Required: true}
			if sp, ok := bySig[in.Name]; ok && !sp.IsTensor {
				is.Column, is.ColumnType, is.Required = true, sp.Type, sp.Required
			} else if !columnSig && isColumnShape(in.Shape) && sig == nil {
				is.Column = true
			}
			s.Inputs = append(s.Inputs, is)
		}
	} else {
		for i, sp := range specs {
			is := InputSpec{Name: specName(sp, i), Required: sp.Required || sp.IsTensor}
			is.Datatype, is.Shape = runtime.SpecDatatype(sp), sp.Shape
			if !sp.IsTensor {
				is.Shape, is.Column, is.ColumnType = []int64{-1}, true, sp.Type
			}
			s.Inputs = append(s.Inputs, is)
		}
	}
	s.Columns = len(s.Inputs) > 0
	for i, in := range s.Inputs {
		s.byName[in.Name] = i
		if !in.Column {
			s.Columns = false
		}
	}
	if len(s.Outputs) == 0 && sig != nil {
		for i, sp := range sig.Outputs {
			shape := sp.Shape
			if !sp.IsTensor {
				shape = []int64{-1}
			}
			s.Outputs = append(s.Outputs, runtime.TensorSpec{Name: specName(sp, i), Datatype: runtime.SpecDatatype(sp), Shape: shape})
		}
	}
	return s
}

// Lookup returns the index of the named input.
func (s *Schema) Lookup(name string) (int, bool) {
	i, ok := s.byName[name]
	return i, ok
}

// expected lists the inputs for error messages: "a (FP64), b (INT64)".
func (s *Schema) expected() string {
	parts := make([]string, len(s.Inputs))
	for i, in := range s.Inputs {
		t := in.Datatype
		if in.Column && in.ColumnType != "" {
			t = in.ColumnType
		}
		opt := ""
		if !in.Required {
			opt = ", optional"
		}
		parts[i] = fmt.Sprintf("'%s' (%s%s)", in.Name, t, opt)
	}
	return strings.Join(parts, ", ")
}

func specName(sp model.Spec, i int) string {
	if sp.Name != "" {
		return sp.Name
	}
	if i == 0 {
		return "input"
	}
	return fmt.Sprintf("input-%d", i)
}

func isColumnShape(shape []int64) bool {
	return len(shape) == 1 && shape[0] == -1 || len(shape) == 2 && shape[0] == -1 && shape[1] == 1
}

// dtypeInfo describes a V2 datatype: its family and, for integers, range.
type dtypeInfo struct {
	family   byte // 'b' bool, 'i' signed, 'u' unsigned, 'f' float, 's' bytes, 'h' FP16
	min, max int64
	umax     uint64
}

func infoOf(dt string) (dtypeInfo, bool) {
	switch dt {
	case runtime.BOOL:
		return dtypeInfo{family: 'b'}, true
	case runtime.INT8:
		return dtypeInfo{family: 'i', min: -1 << 7, max: 1<<7 - 1}, true
	case runtime.INT16:
		return dtypeInfo{family: 'i', min: -1 << 15, max: 1<<15 - 1}, true
	case runtime.INT32:
		return dtypeInfo{family: 'i', min: -1 << 31, max: 1<<31 - 1}, true
	case runtime.INT64:
		return dtypeInfo{family: 'i', min: -1 << 63, max: 1<<63 - 1}, true
	case runtime.UINT8:
		return dtypeInfo{family: 'u', max: 1<<8 - 1, umax: 1<<8 - 1}, true
	case runtime.UINT16:
		return dtypeInfo{family: 'u', max: 1<<16 - 1, umax: 1<<16 - 1}, true
	case runtime.UINT32:
		return dtypeInfo{family: 'u', max: 1<<32 - 1, umax: 1<<32 - 1}, true
	case runtime.UINT64:
		return dtypeInfo{family: 'u', max: 1<<63 - 1, umax: 1<<64 - 1}, true
	case runtime.FP32, runtime.FP64:
		return dtypeInfo{family: 'f'}, true
	case runtime.BYTES:
		return dtypeInfo{family: 's'}, true
	case runtime.FP16:
		return dtypeInfo{family: 'h'}, true
	}
	return dtypeInfo{}, false
}

// converts reports whether data of datatype from may be given to an input
// of datatype to: the same type, a wider integer, an integer to FP64, or FP32
// to FP64 — conversions that lose nothing.
func converts(from, to string) bool {
	if from == to {
		return true
	}
	f, ok1 := infoOf(from)
	t, ok2 := infoOf(to)
	if !ok1 || !ok2 {
		return false
	}
	switch {
	case (f.family == 'i' || f.family == 'u') && to == runtime.FP64:
		return true // integers beyond 2^53 round, as numpy's astype does
	case from == runtime.FP32 && to == runtime.FP64:
		return true
	case f.family == 'i' && t.family == 'i':
		return f.min >= t.min && f.max <= t.max
	case f.family == 'u' && t.family == 'i':
		return int64(f.umax) <= t.max && f.umax <= 1<<63-1
	case f.family == 'u' && t.family == 'u':
		return f.umax <= t.umax
	}
	return false
}

// entryLabels names the entries of the [rows, k] output called name: the
// labels the runtime gives it (class labels), else — for a model with one
// output — the signature's output names.
func (s *Schema) entryLabels(name string, outputs int) []string {
	for _, o := range s.Outputs {
		if o.Name == name && len(o.Labels) > 0 {
			return o.Labels
		}
	}
	if outputs == 1 {
		return s.OutputNames
	}
	return nil
}
