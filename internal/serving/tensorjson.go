package serving

import (
	"math"
	"strconv"

	"github.com/ferry-ml/ferry/internal/runtime"
)

// jsonTensor builds one input tensor of a tensor-based model from JSON rows
// (V1 and MLflow "instances") or from a whole nested list (MLflow "inputs"),
// inferring the shape and checking that the lists are not ragged.
type jsonTensor struct {
	spec     *InputSpec
	t        runtime.Tensor
	rowShape []int64 // shape of one row, from the first
	rows     int
	n        int
}

func newJSONTensor(spec *InputSpec) *jsonTensor {
	return &jsonTensor{spec: spec, t: runtime.Tensor{Name: spec.Name, Datatype: spec.Datatype}}
}

// appendRow parses one row: a scalar or a nested list.
func (j *jsonTensor) appendRow(s *scanner) error {
	shape, err := j.value(s, 0)
	if err != nil {
		return err
	}
	if j.rows == 0 {
		j.rowShape = shape
	} else if !equalShape(shape, j.rowShape) {
		return invalidf("Input '%s' row %d has shape %s; the first row has %s.", clip(j.spec.Name), j.rows+1, shapeString(shape), shapeString(j.rowShape))
	}
	j.rows++
	return nil
}

// appendWhole parses the whole tensor: a list of rows.
func (j *jsonTensor) appendWhole(s *scanner) error {
	if s.peek() != '[' {
		return invalidf("Input '%s' must be a list of rows, not %s.", clip(j.spec.Name), s.kind())
	}
	return s.array(func(int) error { return j.appendRow(s) })
}

// finish checks the tensor against the input's shape and returns it.
func (j *jsonTensor) finish() (runtime.Tensor, error) {
	j.t.Shape = append([]int64{int64(j.rows)}, j.rowShape...)
	if j.rows == 0 && j.spec.Shape != nil && len(j.spec.Shape) > 1 {
		j.t.Shape = append([]int64{0}, j.spec.Shape[1:]...)
		for i := range j.t.Shape {
			j.t.Shape[i] = max(j.t.Shape[i], 0)
		}
	}
	if j.spec.Column && len(j.t.Shape) == 2 && j.t.Shape[1] == 1 {
		j.t.Shape = j.t.Shape[:1]
	}
	if err := checkShape(clip(j.spec.Name), j.t.Shape, j.spec); err != nil {
		return runtime.Tensor{}, err
	}
	return j.t, nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// value parses a scalar or a nested list and returns its shape.
func (j *jsonTensor) value(s *scanner, depth int) ([]int64, error) {
	if s.peek() != '[' {
		return nil, j.elem(s)
	}
	if depth >= maxDepth {
		return nil, invalidf("Input '%s': lists are nested deeper than %d levels.", clip(j.spec.Name), maxDepth)
	}
	var child []int64
	n := 0
	err := s.array(func(i int) error {
		cs, err := j.value(s, depth+1)
		if err != nil {
			return err
		}
		if i == 0 {
			child = cs
		} else if !equalShape(cs, child) {
			return invalidf("Input '%s' has ragged lists: row %d is not rectangular.", clip(j.spec.Name), j.rows+1)
		}
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append([]int64{int64(n)}, child...), nil
}

func (j *jsonTensor) elem(s *scanner) error {
	t := &j.t
	name := clip(j.spec.Name)
	bad := func(want string) error {
		return invalidf("Input '%s' element %d is %s; the model takes %s (%s).", name, j.n, s.kind(), want, t.Datatype)
	}
	switch t.Datatype {
	case runtime.BOOL:
		switch {
		case s.literal("true"):
			t.Bool = append(t.Bool, true)
		case s.literal("false"):
			t.Bool = append(t.Bool, false)
		default:
			return bad("booleans")
		}
	case runtime.BYTES:
		if s.peek() != '"' {
			return bad("strings")
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		t.Str = append(t.Str, v)
	case runtime.FP64, runtime.FP32:
		if s.peek() == 'n' {
			if !s.literal("null") {
				return s.unexpected("a JSON value")
			}
			if j.spec.Required {
				return invalidf("Input '%s' element %d is null; the input is required and takes no missing values.", name, j.n)
			}
			if t.Datatype == runtime.FP32 {
				t.FP32 = append(t.FP32, float32(math.NaN()))
			} else {
				t.FP64 = append(t.FP64, math.NaN())
			}
			break
		}
		c := s.peek()
		if c != '-' && !isDigit(c) {
			return bad("numbers")
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		bits := 64
		if t.Datatype == runtime.FP32 {
			bits = 32
		}
		v, ok := parseFloat(num, bits)
		if !ok {
			return invalidf("Input '%s' element %d: %s is out of range for %s.", name, j.n, clipBytes(num), t.Datatype)
		}
		if bits == 32 {
			t.FP32 = append(t.FP32, float32(v))
		} else {
			t.FP64 = append(t.FP64, v)
		}
	default:
		c := s.peek()
		if c != '-' && !isDigit(c) {
			return bad("integers")
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		info, _ := infoOf(t.Datatype)
		v, ok := parseInt(num)
		if !ok {
			if f, err := strconv.ParseFloat(string(num), 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
				v, ok = int64(f), true
			}
		}
		if !ok || v < info.min || v > info.max {
			return invalidf("Input '%s' element %d: %s is not an integer within the range of %s.", name, j.n, clipBytes(num), t.Datatype)
		}
		t.Int = append(t.Int, v)
	}
	j.n++
	return nil
}

// appendPredictions appends the value of "predictions" for outs of a
// request of rows rows, as MLflow's scoring server and KServe V1 give them:
// for one output, one item per row — a scalar for one value per row, a list
// otherwise, or an object keyed by the signature's output names when they
// name the row's values; for several outputs, an object per row keyed by
// output name.
func appendPredictions(b []byte, schema *Schema, outs []runtime.Tensor, rows int) ([]byte, error) {
	for i := range outs {
		if len(outs[i].Shape) == 0 || int(outs[i].Shape[0]) != rows {
			return b, errOutputRows(&outs[i], rows)
		}
	}
	b = append(b, '[')
	if len(outs) == 1 {
		t := &outs[0]
		per := perRow(t)
		names := schema.OutputNames
		keyed := len(t.Shape) == 2 && per > 1 && len(names) == per
		for r := range rows {
			if r > 0 {
				b = append(b, ',')
			}
			if keyed {
				b = append(b, '{')
				for k, name := range names {
					if k > 0 {
						b = append(b, ',')
					}
					b = appendString(b, name)
					b = append(b, ':')
					b = appendElem(b, t, r*per+k)
				}
				b = append(b, '}')
				continue
			}
			b = appendRowValue(b, t, r, per)
		}
		return append(b, ']'), nil
	}
	for r := range rows {
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		for k := range outs {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendString(b, outs[k].Name)
			b = append(b, ':')
			b = appendRowValue(b, &outs[k], r, perRow(&outs[k]))
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

func errOutputRows(t *runtime.Tensor, rows int) error {
	return &outputError{msg: "output " + strconv.Quote(t.Name) + " has shape " + shapeString(t.Shape) + ", not " + strconv.Itoa(rows) + " rows"}
}

// outputError is a model answer the server cannot map back to rows: a
// fault of the runtime, shown to clients as an internal error.
type outputError struct{ msg string }

func (e *outputError) Error() string { return "serving: " + e.msg }

// perRow is the number of elements in one row of t.
func perRow(t *runtime.Tensor) int {
	n := 1
	for _, d := range t.Shape[1:] {
		n *= int(d)
	}
	return n
}

// appendRowValue appends row r of t: a scalar when a row is one value of a
// [rows] or [rows, 1] tensor, nested lists by shape otherwise.
func appendRowValue(b []byte, t *runtime.Tensor, r, per int) []byte {
	if len(t.Shape) == 1 || len(t.Shape) == 2 && t.Shape[1] == 1 {
		return appendElem(b, t, r)
	}
	return appendNested(b, t, t.Shape[1:], r*per)
}

func appendNested(b []byte, t *runtime.Tensor, shape []int64, off int) []byte {
	if len(shape) == 1 {
		return appendData(b, t, off, off+int(shape[0]))
	}
	stride := 1
	for _, d := range shape[1:] {
		stride *= int(d)
	}
	b = append(b, '[')
	for i := range int(shape[0]) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNested(b, t, shape[1:], off+i*stride)
	}
	return append(b, ']')
}
