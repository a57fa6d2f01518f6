package runtime

import "github.com/ferry-ml/ferry/internal/model"

// Open Inference Protocol V2 datatypes that specs may name but Tensor carries
// in a wider slice: the narrow integers in Int, FP16 in FP32.
const (
	INT8   = "INT8"
	INT16  = "INT16"
	UINT8  = "UINT8"
	UINT16 = "UINT16"
	UINT32 = "UINT32"
	UINT64 = "UINT64"
	FP16   = "FP16"
)

// ColumnDatatype maps an MLflow column type to the V2 datatype its values
// travel in: double → FP64, float → FP32, long → INT64, integer → INT32,
// boolean → BOOL, and BYTES for string, binary, datetime and the composite
// types (as JSON text).
func ColumnDatatype(columnType string) string {
	switch columnType {
	case model.TypeDouble:
		return FP64
	case model.TypeFloat:
		return FP32
	case model.TypeLong:
		return INT64
	case model.TypeInteger:
		return INT32
	case model.TypeBoolean:
		return BOOL
	}
	return BYTES
}

// DTypeDatatype maps a numpy dtype name (an MLflow tensor spec's dtype) to a
// V2 datatype; str, object, bytes and unknown names are BYTES.
func DTypeDatatype(dtype string) string {
	switch dtype {
	case "float64", "double":
		return FP64
	case "float32", "float":
		return FP32
	case "float16":
		return FP16
	case "int64":
		return INT64
	case "int32":
		return INT32
	case "int16":
		return INT16
	case "int8":
		return INT8
	case "uint64":
		return UINT64
	case "uint32":
		return UINT32
	case "uint16":
		return UINT16
	case "uint8":
		return UINT8
	case "bool":
		return BOOL
	}
	return BYTES
}

// SpecDatatype is the V2 datatype of a signature spec: DTypeDatatype of a
// tensor's dtype, ColumnDatatype of a column's type.
func SpecDatatype(sp model.Spec) string {
	if sp.IsTensor {
		return DTypeDatatype(sp.DType)
	}
	return ColumnDatatype(sp.Type)
}
