package xgboost

import (
	"math"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of objects and arrays in a model document.
// XGBoost's own documents nest six levels deep; the bound keeps the
// recursive decoders' stack small on hostile input.
const maxDepth = 64

// kind is the type of a document value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// value is a decoded JSON or UBJSON value: the common form both decoders
// produce and the model builder reads. An array whose elements are all
// numbers is held compactly in nums (each element as a float64) and f32s
// (the same element rounded to float32 directly from its text, or exactly
// as stored in UBJSON), with arr nil; any other array is held in arr.
type value struct {
	kind   kind
	num    float64 // kindNumber, and kindBool as 0 or 1
	f32    float32 // kindNumber: the number rounded directly to float32
	str    string  // kindString
	arr    []value // kindArray of mixed or non-numeric elements
	nums   []float64
	f32s   []float32
	fields []field // kindObject, in document order
}

type field struct {
	key string
	val value
}

// length is the number of elements of an array value.
func (v *value) length() int {
	if v.arr != nil {
		return len(v.arr)
	}
	return len(v.nums)
}

// appendElem appends el to the array v, keeping v compact for as long as
// every element is a number.
func (v *value) appendElem(el value) {
	if el.kind == kindNumber && v.arr == nil {
		v.nums = append(v.nums, el.num)
		v.f32s = append(v.f32s, el.f32)
		return
	}
	if v.arr == nil {
		v.arr = make([]value, len(v.nums), len(v.nums)+1)
		for i := range v.nums {
			v.arr[i] = value{kind: kindNumber, num: v.nums[i], f32: v.f32s[i]}
		}
		v.nums, v.f32s = nil, nil
	}
	v.arr = append(v.arr, el)
}

// get returns the first field of an object named key.
func (v *value) get(key string) (*value, bool) {
	if v == nil || v.kind != kindObject {
		return nil, false
	}
	for i := range v.fields {
		if v.fields[i].key == key {
			return &v.fields[i].val, true
		}
	}
	return nil, false
}

// numbers returns an array's elements as float64 and float32 slices; ok is
// false when v is not an array of numbers. The empty array is one.
func (v *value) numbers() (f64 []float64, f32 []float32, ok bool) {
	if v.kind != kindArray {
		return nil, nil, false
	}
	if v.arr == nil {
		return v.nums, v.f32s, true
	}
	return nil, nil, false
}

// scalarNumber reads a number that XGBoost writes either as a JSON number or
// as a string holding one ("5E-1", "3"); the bracketed list form "[5E-1]" of
// newer versions is handled by the caller.
func (v *value) scalarNumber() (f64 float64, f32 float32, ok bool) {
	switch v.kind {
	case kindNumber:
		return v.num, v.f32, true
	case kindString:
		return parseNumberText(strings.TrimSpace(v.str))
	}
	return 0, 0, false
}

// parseNumberText parses a decimal number, or one of the spellings of the
// special values XGBoost and Python write (NaN, Infinity, inf).
func parseNumberText(s string) (f64 float64, f32 float32, ok bool) {
	switch s {
	case "NaN", "-NaN", "nan", "-nan":
		return math.NaN(), float32(math.NaN()), true
	case "Infinity", "inf", "+inf":
		return math.Inf(1), float32(math.Inf(1)), true
	case "-Infinity", "-inf":
		return math.Inf(-1), float32(math.Inf(-1)), true
	}
	d, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, 0, false
	}
	f, err := strconv.ParseFloat(s, 32)
	if err != nil && !isRangeErr(err) {
		return 0, 0, false
	}
	return d, float32(f), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
