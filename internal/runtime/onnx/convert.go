//go:build onnx && cgo

package onnx

import (
	"fmt"
	"math"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// ioSpec is a graph input or output: its V2 spec and ONNX element type.
type ioSpec struct {
	runtime.TensorSpec
	elem ort.TensorElementDataType
}

// datatypes maps the ONNX element types Ferry serves to V2 datatypes. The
// narrow integers travel as INT32 and the unsigned 32/64-bit ones as INT64,
// the datatypes runtime.Tensor has.
var datatypes = map[ort.TensorElementDataType]string{
	ort.TensorElementDataTypeFloat:  runtime.FP32,
	ort.TensorElementDataTypeDouble: runtime.FP64,
	ort.TensorElementDataTypeInt64:  runtime.INT64,
	ort.TensorElementDataTypeInt32:  runtime.INT32,
	ort.TensorElementDataTypeInt16:  runtime.INT32,
	ort.TensorElementDataTypeInt8:   runtime.INT32,
	ort.TensorElementDataTypeUint8:  runtime.INT32,
	ort.TensorElementDataTypeUint16: runtime.INT32,
	ort.TensorElementDataTypeUint32: runtime.INT64,
	ort.TensorElementDataTypeUint64: runtime.INT64,
	ort.TensorElementDataTypeBool:   runtime.BOOL,
	ort.TensorElementDataTypeString: runtime.BYTES,
}

// specOf describes a graph input or output, or says why Ferry cannot serve it.
func specOf(info ort.InputOutputInfo) (ioSpec, error) {
	if info.OrtValueType != ort.ONNXTypeTensor {
		return ioSpec{}, fmt.Errorf("it is a %s, not a tensor", info.OrtValueType)
	}
	dt, ok := datatypes[info.DataType]
	if !ok {
		return ioSpec{}, fmt.Errorf("its element type %s has no datatype in Ferry", info.DataType)
	}
	shape := make([]int64, len(info.Dimensions))
	for i, d := range info.Dimensions {
		shape[i] = max(d, -1) // symbolic dimensions come as -1
	}
	return ioSpec{TensorSpec: runtime.TensorSpec{Name: info.Name, Datatype: dt, Shape: shape}, elem: info.DataType}, nil
}

// toValue converts t into an ONNX Runtime tensor of sp's element type. FP32 and
// FP64 tensors for inputs of the same type, and INT32/INT64 for int64 inputs,
// are passed without a copy; ONNX Runtime does not write inputs.
func toValue(sp ioSpec, t *runtime.Tensor) (ort.Value, error) {
	n, err := checkShape(sp, t)
	if err != nil {
		return nil, err
	}
	shape := ort.Shape(slices.Clone(t.Shape))
	switch sp.elem {
	case ort.TensorElementDataTypeFloat:
		data, err := floats(sp, t, func(f float64) float32 { return float32(f) }, t.FP32)
		if err != nil {
			return nil, err
		}
		return newTensor(shape, data)
	case ort.TensorElementDataTypeDouble:
		data, err := floats(sp, t, func(f float64) float64 { return f }, t.FP64)
		if err != nil {
			return nil, err
		}
		return newTensor(shape, data)
	case ort.TensorElementDataTypeInt64:
		data, err := ints(sp, t)
		if err != nil {
			return nil, err
		}
		return newTensor(shape, data)
	case ort.TensorElementDataTypeInt32:
		return narrowTensor[int32](sp, t, shape, math.MinInt32, math.MaxInt32)
	case ort.TensorElementDataTypeInt16:
		return narrowTensor[int16](sp, t, shape, math.MinInt16, math.MaxInt16)
	case ort.TensorElementDataTypeInt8:
		return narrowTensor[int8](sp, t, shape, math.MinInt8, math.MaxInt8)
	case ort.TensorElementDataTypeUint8:
		return narrowTensor[uint8](sp, t, shape, 0, math.MaxUint8)
	case ort.TensorElementDataTypeUint16:
		return narrowTensor[uint16](sp, t, shape, 0, math.MaxUint16)
	case ort.TensorElementDataTypeUint32:
		return narrowTensor[uint32](sp, t, shape, 0, math.MaxUint32)
	case ort.TensorElementDataTypeUint64:
		return narrowTensor[uint64](sp, t, shape, 0, math.MaxInt64)
	case ort.TensorElementDataTypeBool:
		if t.Datatype != runtime.BOOL {
			return nil, wrongType(sp, t)
		}
		return newTensor(shape, t.Bool)
	case ort.TensorElementDataTypeString:
		if t.Datatype != runtime.BYTES {
			return nil, wrongType(sp, t)
		}
		if len(shape) == 0 || n == 0 {
			return nil, errorf(ferry.EINVALID, "input %q: an empty or scalar string tensor is not supported", clip(sp.Name))
		}
		st, err := ort.NewStringTensor(shape)
		if err != nil {
			return nil, fmt.Errorf("onnx: input %q: %w", sp.Name, err)
		}
		if err := st.SetContents(t.Str); err != nil {
			st.Destroy()
			return nil, fmt.Errorf("onnx: input %q: %w", sp.Name, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("onnx: input %q: element type %s not handled", sp.Name, sp.elem)
}

func newTensor[T ort.TensorData](shape ort.Shape, data []T) (ort.Value, error) {
	if len(shape) == 0 {
		return nil, errorf(ferry.EINVALID, "scalar (rank 0) inputs are not supported")
	}
	v, err := ort.NewTensor(shape, data)
	if err != nil {
		return nil, fmt.Errorf("onnx: create tensor: %w", err)
	}
	return v, nil
}

// checkShape checks t's shape against sp (rank, fixed dimensions) and against
// the length of its data, and returns the number of elements.
func checkShape(sp ioSpec, t *runtime.Tensor) (int, error) {
	bad := len(t.Shape) != len(sp.Shape)
	for i, d := range t.Shape {
		if d < 0 {
			return 0, errorf(ferry.EINVALID, "input %q: shape %v has a negative dimension", clip(sp.Name), t.Shape)
		}
		if !bad && sp.Shape[i] >= 0 && sp.Shape[i] != d {
			bad = true
		}
	}
	if bad {
		return 0, errorf(ferry.EINVALID, "input %q has shape %v; the model takes %v (-1: any size)", clip(sp.Name), t.Shape, sp.Shape)
	}
	have, err := dataLen(sp, t)
	if err != nil {
		return 0, err
	}
	want := int64(1)
	for _, d := range t.Shape {
		if d != 0 && want > math.MaxInt64/d {
			return 0, errorf(ferry.EINVALID, "input %q: shape %v is too large", clip(sp.Name), t.Shape)
		}
		want *= d
	}
	if want != int64(have) {
		return 0, errorf(ferry.EINVALID, "input %q has %d values; its shape %v holds %d", clip(sp.Name), have, t.Shape, want)
	}
	return have, nil
}

// dataLen is the length of t's data slice for its datatype.
func dataLen(sp ioSpec, t *runtime.Tensor) (int, error) {
	switch t.Datatype {
	case runtime.FP32:
		return len(t.FP32), nil
	case runtime.FP64:
		return len(t.FP64), nil
	case runtime.INT32, runtime.INT64:
		return len(t.Int), nil
	case runtime.BOOL:
		return len(t.Bool), nil
	case runtime.BYTES:
		return len(t.Str), nil
	}
	return 0, errorf(ferry.EINVALID, "input %q: unknown datatype %q (want %s)", clip(sp.Name), clip(t.Datatype), sp.Datatype)
}

func wrongType(sp ioSpec, t *runtime.Tensor) error {
	return errorf(ferry.EINVALID, "input %q is %s; the model takes %s", clip(sp.Name), t.Datatype, sp.Datatype)
}

// floats returns t's numbers as F (float32 or float64), same (t's slice when
// it already has that type) without a copy.
func floats[F float32 | float64](sp ioSpec, t *runtime.Tensor, conv func(float64) F, same []F) ([]F, error) {
	if t.Datatype == sp.Datatype {
		return same, nil
	}
	switch t.Datatype {
	case runtime.FP32:
		out := make([]F, len(t.FP32))
		for i, v := range t.FP32 {
			out[i] = conv(float64(v))
		}
		return out, nil
	case runtime.FP64:
		out := make([]F, len(t.FP64))
		for i, v := range t.FP64 {
			out[i] = conv(v)
		}
		return out, nil
	case runtime.INT32, runtime.INT64:
		out := make([]F, len(t.Int))
		for i, v := range t.Int {
			out[i] = conv(float64(v))
		}
		return out, nil
	}
	return nil, wrongType(sp, t)
}

// ints returns t's numbers as int64: INT32/INT64 data as it is, FP32/FP64 data
// when every value is a whole number.
func ints(sp ioSpec, t *runtime.Tensor) ([]int64, error) {
	conv := func(i int, f float64) (int64, error) {
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return 0, errorf(ferry.EINVALID, "input %q takes whole numbers (%s); value %d is %v", clip(sp.Name), sp.Datatype, i, f)
		}
		return int64(f), nil
	}
	switch t.Datatype {
	case runtime.INT32, runtime.INT64:
		return t.Int, nil
	case runtime.FP32:
		out := make([]int64, len(t.FP32))
		for i, v := range t.FP32 {
			var err error
			if out[i], err = conv(i, float64(v)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case runtime.FP64:
		out := make([]int64, len(t.FP64))
		for i, v := range t.FP64 {
			var err error
			if out[i], err = conv(i, v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, wrongType(sp, t)
}

// narrowTensor converts t's whole numbers to T, each within [lo, hi].
func narrowTensor[T int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](sp ioSpec, t *runtime.Tensor, shape ort.Shape, lo, hi int64) (ort.Value, error) {
	wide, err := ints(sp, t)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(wide))
	for i, v := range wide {
		if v < lo || v > hi {
			return nil, errorf(ferry.EINVALID, "input %q: value %d is %d, outside the range %d to %d of the model's element type %s", clip(sp.Name), i, v, lo, hi, sp.elem)
		}
		out[i] = T(v)
	}
	return newTensor(shape, out)
}

// fromValue converts an output of ONNX Runtime into a tensor named for sp.
// The data of numeric outputs is Go memory that onnxruntime_go copied the
// output into, so FP32, FP64, INT64 and BOOL outputs are taken without
// another copy.
func fromValue(sp ioSpec, v ort.Value) (runtime.Tensor, error) {
	shape := []int64(v.GetShape().Clone())
	t := runtime.Tensor{Name: sp.Name, Datatype: sp.Datatype, Shape: shape}
	if len(shape) == 0 {
		return t, fmt.Errorf("onnx: output %q is a scalar (rank 0), which this runtime cannot return", sp.Name)
	}
	var err error
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		t.Datatype, t.FP32 = runtime.FP32, nonNil(x.GetData())
	case *ort.Tensor[float64]:
		t.Datatype, t.FP64 = runtime.FP64, nonNil(x.GetData())
	case *ort.Tensor[int64]:
		t.Datatype, t.Int = runtime.INT64, nonNil(x.GetData())
	case *ort.Tensor[int32]:
		t.Datatype, t.Int = runtime.INT32, widen(x.GetData())
	case *ort.Tensor[int16]:
		t.Datatype, t.Int = runtime.INT32, widen(x.GetData())
	case *ort.Tensor[int8]:
		t.Datatype, t.Int = runtime.INT32, widen(x.GetData())
	case *ort.Tensor[uint8]:
		t.Datatype, t.Int = runtime.INT32, widen(x.GetData())
	case *ort.Tensor[uint16]:
		t.Datatype, t.Int = runtime.INT32, widen(x.GetData())
	case *ort.Tensor[uint32]:
		t.Datatype, t.Int = runtime.INT64, widen(x.GetData())
	case *ort.Tensor[uint64]:
		t.Datatype = runtime.INT64
		t.Int = make([]int64, len(x.GetData()))
		for i, u := range x.GetData() {
			if u > math.MaxInt64 {
				return t, fmt.Errorf("onnx: output %q: value %d is %d, beyond INT64", sp.Name, i, u)
			}
			t.Int[i] = int64(u)
		}
	case *ort.Tensor[bool]:
		t.Datatype, t.Bool = runtime.BOOL, nonNil(x.GetData())
	case *ort.StringTensor:
		t.Datatype = runtime.BYTES
		if t.Str, err = x.GetContents(); err != nil {
			return t, fmt.Errorf("onnx: output %q: %w", sp.Name, err)
		}
		t.Str = nonNil(t.Str)
	default:
		return t, fmt.Errorf("onnx: output %q: ONNX Runtime returned a %T", sp.Name, v)
	}
	return t, nil
}

func widen[T int8 | int16 | int32 | uint8 | uint16 | uint32](xs []T) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

// nonNil keeps an empty output's slice non-nil, so that Tensor.Len and the
// "exactly one slice is set" rule hold.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
