package serving

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// maxDims bounds the rank of a request tensor.
const maxDims = 32

// v2Request is an Open Inference Protocol V2 inference request, parsed but
// with each input's data still JSON text (its datatype may follow it).
type v2Request struct {
	id      string
	hasID   bool
	inputs  []v2Input
	outputs []string // requested output names; nil for all
}

type v2Input struct {
	name     string
	datatype string
	shape    []int64
	data     []byte // the JSON text of data
	has      uint8  // which of the fields were present: hasName, ...
}

const (
	hasName uint8 = 1 << iota
	hasDatatype
	hasShape
	hasData
)

// parseV2 parses an inference request body. Errors are EINVALID and say
// what is wrong where. It allocates in proportion to len(body).
func parseV2(body []byte) (*v2Request, error) {
	s := &scanner{b: body}
	if c := s.peek(); c != '{' {
		return nil, invalidf("The request body must be a JSON object (an inference request with 'inputs'), not %s.", s.kind())
	}
	req := &v2Request{}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "id":
			if s.peek() != '"' {
				return invalidf("'id' must be a string, not %s.", s.kind())
			}
			id, err := s.str()
			req.id, req.hasID = id, true
			return err
		case "parameters":
			if s.peek() != '{' {
				return invalidf("'parameters' must be an object, not %s.", s.kind())
			}
			_, err := s.skip()
			return err
		case "inputs":
			if s.peek() != '[' {
				return invalidf("'inputs' must be a list of tensors, not %s.", s.kind())
			}
			return s.array(func(i int) error {
				in, err := parseV2Input(s, i)
				if err != nil {
					return err
				}
				req.inputs = append(req.inputs, in)
				return nil
			})
		case "outputs":
			if s.peek() != '[' {
				return invalidf("'outputs' must be a list of {\"name\": ...} objects, not %s.", s.kind())
			}
			req.outputs = []string{}
			return s.array(func(i int) error {
				if s.peek() != '{' {
					return invalidf("outputs[%d] must be an object with a 'name', not %s.", i, s.kind())
				}
				name, found := "", false
				err := s.object(func(key []byte) error {
					if string(key) == "name" {
						if s.peek() != '"' {
							return invalidf("outputs[%d].name must be a string, not %s.", i, s.kind())
						}
						var err error
						name, err = s.str()
						found = true
						return err
					}
					_, err := s.skip()
					return err
				})
				if err != nil {
					return err
				}
				if !found {
					return invalidf("outputs[%d] has no 'name'.", i)
				}
				req.outputs = append(req.outputs, name)
				return nil
			})
		}
		_, err := s.skip()
		return err
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, jsonErr(err)
	}
	if len(req.inputs) == 0 {
		return nil, invalidf("The request has no inputs: send 'inputs': [{\"name\", \"shape\", \"datatype\", \"data\"}, ...].")
	}
	return req, nil
}

// jsonErr turns a scanner error into EINVALID; *ferry.Errors pass through.
func jsonErr(err error) error {
	if se, ok := err.(*syntaxError); ok {
		return invalidf("Malformed JSON in the request body %s.", se.Error())
	}
	return err
}

func parseV2Input(s *scanner, i int) (v2Input, error) {
	var in v2Input
	if s.peek() != '{' {
		return in, invalidf("inputs[%d] must be a tensor object, not %s.", i, s.kind())
	}
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "name":
			if s.peek() != '"' {
				return invalidf("inputs[%d].name must be a string, not %s.", i, s.kind())
			}
			in.name, err = s.str()
			in.has |= hasName
		case "datatype":
			if s.peek() != '"' {
				return invalidf("inputs[%d].datatype must be a string, not %s.", i, s.kind())
			}
			in.datatype, err = s.str()
			in.has |= hasDatatype
		case "shape":
			if s.peek() != '[' {
				return invalidf("inputs[%d].shape must be a list of integers, not %s.", i, s.kind())
			}
			in.shape = make([]int64, 0, 2)
			err = s.array(func(j int) error {
				if j >= maxDims {
					return invalidf("inputs[%d].shape has more than %d dimensions.", i, maxDims)
				}
				c := s.peek()
				if c != '-' && !isDigit(c) {
					return invalidf("inputs[%d].shape must be a list of integers; element %d is %s.", i, j, s.kind())
				}
				num, err := s.number()
				if err != nil {
					return err
				}
				d, ok := parseInt(num)
				if !ok || d < 0 {
					return invalidf("inputs[%d].shape[%d] is %s; dimensions are non-negative integers.", i, j, clipBytes(num))
				}
				in.shape = append(in.shape, d)
				return nil
			})
			in.has |= hasShape
		case "data":
			in.data, err = s.skip()
			in.has |= hasData
		case "parameters":
			if s.peek() != '{' {
				return invalidf("inputs[%d].parameters must be an object, not %s.", i, s.kind())
			}
			return s.object(func(key []byte) error {
				if string(key) == "binary_data_size" {
					return ferry.Errorf(ferry.ENOTIMPLEMENTED, "inputs[%d]: the binary tensor data extension is not supported; send the data as JSON.", i)
				}
				_, err := s.skip()
				return err
			})
		default:
			_, err = s.skip()
		}
		return err
	})
	if err != nil {
		return in, err
	}
	for _, f := range []struct {
		bit  uint8
		name string
	}{{hasName, "name"}, {hasDatatype, "datatype"}, {hasShape, "shape"}, {hasData, "data"}} {
		if in.has&f.bit == 0 {
			label := fmt.Sprintf("inputs[%d]", i)
			if in.has&hasName != 0 {
				label = fmt.Sprintf("Input '%s'", clip(in.name))
			}
			return in, invalidf("%s has no '%s'.", label, f.name)
		}
	}
	return in, nil
}

func clipBytes(b []byte) string {
	if len(b) > 40 {
		return string(b[:37]) + "..."
	}
	return string(b)
}

// decodeInputs checks the request's inputs against schema and decodes their
// data into the tensors the model takes, in the schema's order, converting
// datatypes where that loses nothing. It returns the tensors and the number
// of rows (the first dimension; 0 when the inputs have none).
func decodeInputs(req *v2Request, schema *Schema) ([]runtime.Tensor, int, error) {
	checked := len(schema.Inputs) > 0
	out := make([]runtime.Tensor, 0, max(len(req.inputs), len(schema.Inputs)))
	var specs []*InputSpec
	seen := make([]bool, len(schema.Inputs))
	rows, rowsFrom := -1, ""
	for i := range req.inputs {
		in := &req.inputs[i]
		var spec *InputSpec
		if checked {
			k, ok := schema.Lookup(in.name)
			if !ok {
				return nil, 0, invalidf("Unknown input '%s'. The model takes: %s.", clip(in.name), schema.expected())
			}
			if seen[k] {
				return nil, 0, invalidf("Input '%s' appears twice.", clip(in.name))
			}
			seen[k] = true
			spec = &schema.Inputs[k]
		} else {
			for j := range i {
				if req.inputs[j].name == in.name {
					return nil, 0, invalidf("Input '%s' appears twice.", clip(in.name))
				}
			}
		}
		t, err := decodeTensor(in, spec)
		if err != nil {
			return nil, 0, err
		}
		batched := len(t.Shape) > 0 && (spec == nil || spec.Column || len(spec.Shape) > 0 && spec.Shape[0] == -1)
		if batched {
			if rows < 0 {
				rows, rowsFrom = int(t.Shape[0]), in.name
			} else if int(t.Shape[0]) != rows {
				return nil, 0, invalidf("Inputs have different numbers of rows: '%s' has %d, '%s' has %d.", clip(rowsFrom), rows, clip(in.name), t.Shape[0])
			}
		}
		out = append(out, t)
		specs = append(specs, spec)
	}
	if rows < 0 {
		rows = 0
	}
	if !checked {
		return out, rows, nil
	}
	var missing []string
	for k, ok := range seen {
		if ok {
			continue
		}
		sp := &schema.Inputs[k]
		if sp.Required {
			missing = append(missing, fmt.Sprintf("'%s' (%s)", sp.Name, typeName(sp)))
			continue
		}
		if sp.Column {
			if t, ok := missingColumn(sp, rows); ok {
				out = append(out, t)
				specs = append(specs, sp)
			}
		}
	}
	if len(missing) > 0 {
		return nil, 0, invalidf("Missing required input%s %s. The model takes: %s.", plural(len(missing)), strings.Join(missing, ", "), schema.expected())
	}
	// Put the tensors in the schema's order.
	ordered := make([]runtime.Tensor, 0, len(out))
	for k := range schema.Inputs {
		for j, sp := range specs {
			if sp == &schema.Inputs[k] {
				ordered = append(ordered, out[j])
			}
		}
	}
	return ordered, rows, nil
}

// missingColumn is the tensor for an optional column a request left out:
// all missing (NaN) for floats; other datatypes cannot hold a missing value,
// so the column is left out for the runtime to handle.
func missingColumn(sp *InputSpec, rows int) (runtime.Tensor, bool) {
	t := runtime.Tensor{Name: sp.Name, Datatype: sp.Datatype, Shape: []int64{int64(rows)}}
	switch sp.Datatype {
	case runtime.FP64:
		t.FP64 = make([]float64, rows)
		for i := range t.FP64 {
			t.FP64[i] = math.NaN()
		}
	case runtime.FP32:
		t.FP32 = make([]float32, rows)
		for i := range t.FP32 {
			t.FP32[i] = float32(math.NaN())
		}
	default:
		return t, false
	}
	return t, true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func typeName(sp *InputSpec) string {
	if sp.Column && sp.ColumnType != "" {
		return sp.ColumnType
	}
	return sp.Datatype
}

const datatypeList = "BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FP32, FP64 or BYTES"

// decodeTensor checks one input's datatype and shape against spec (nil when
// unchecked) and decodes its data.
func decodeTensor(in *v2Input, spec *InputSpec) (runtime.Tensor, error) {
	name := clip(in.name)
	from, ok := infoOf(in.datatype)
	if !ok {
		return runtime.Tensor{}, invalidf("Input '%s' has unknown datatype '%s'; want %s.", name, clip(in.datatype), datatypeList)
	}
	if from.family == 'h' {
		return runtime.Tensor{}, invalidf("Input '%s' has datatype FP16, which this server does not take; send FP32.", name)
	}
	to := in.datatype
	if spec != nil {
		to = spec.Datatype
		timeCol := spec.Column && spec.ColumnType == model.TypeDatetime
		if !converts(in.datatype, to) && !(timeCol && in.datatype == runtime.BYTES && to == runtime.INT64) {
			return runtime.Tensor{}, invalidf("Input '%s' has datatype %s; the model takes %s%s.", name, in.datatype, typeName(spec), conversionHint(in.datatype, spec.Datatype))
		}
		if err := checkShape(name, in.shape, spec); err != nil {
			return runtime.Tensor{}, err
		}
	} else {
		switch from.family {
		case 'i', 'u':
			if in.datatype != runtime.INT32 {
				to = runtime.INT64
			}
		}
	}
	n, err := elements(name, in.shape, len(in.data))
	if err != nil {
		return runtime.Tensor{}, err
	}
	d := dataDecoder{name: name, from: from, fromDT: in.datatype, want: n}
	if spec != nil {
		d.required = spec.Required
		d.timeCol = spec.Column && spec.ColumnType == model.TypeDatetime
	}
	t := runtime.Tensor{Name: in.name, Datatype: to, Shape: in.shape}
	if err := d.decode(in.data, &t); err != nil {
		return runtime.Tensor{}, err
	}
	return t, nil
}

func conversionHint(from, to string) string {
	if to == runtime.FP64 {
		return " (send FP64, FP32 or an integer type)"
	}
	return fmt.Sprintf(" (%s does not convert to %s without loss)", from, to)
}

// checkShape checks a request shape against the input's.
func checkShape(name string, shape []int64, spec *InputSpec) error {
	if spec.Column {
		if len(shape) == 1 || len(shape) == 2 && shape[1] == 1 {
			return nil
		}
		return invalidf("Input '%s' has shape %s; a column takes [rows] or [rows, 1].", name, shapeString(shape))
	}
	if spec.Shape == nil {
		return nil
	}
	if len(shape) != len(spec.Shape) {
		return invalidf("Input '%s' has shape %s; the model takes %s (-1 is any size).", name, shapeString(shape), shapeString(spec.Shape))
	}
	for i, d := range spec.Shape {
		if d >= 0 && shape[i] != d {
			return invalidf("Input '%s' has shape %s; the model takes %s (-1 is any size).", name, shapeString(shape), shapeString(spec.Shape))
		}
	}
	return nil
}

func shapeString(shape []int64) string {
	return string(appendShape(nil, shape))
}

// elements returns the number of elements shape declares, refusing shapes
// that declare more than data of dataLen bytes can hold (each element takes
// at least one byte and a separator) before anything is allocated.
func elements(name string, shape []int64, dataLen int) (int, error) {
	limit := (dataLen + 1) / 2
	n := 1
	for _, d := range shape {
		if d == 0 {
			return 0, nil
		}
		if d > int64(limit) || n > limit/int(d) {
			return 0, invalidf("Input '%s' has shape %s, more elements than its data holds (at most %d).", name, shapeString(shape), limit)
		}
		n *= int(d)
	}
	return n, nil
}

// dataDecoder decodes a V2 data value (flat or nested lists, row-major) into
// a tensor of exactly want elements.
type dataDecoder struct {
	name     string
	from     dtypeInfo
	fromDT   string
	want     int
	n        int
	required bool
	timeCol  bool
	s        scanner
	t        *runtime.Tensor
}

func (d *dataDecoder) decode(data []byte, t *runtime.Tensor) error {
	d.s = scanner{b: data}
	d.t = t
	switch t.Datatype {
	case runtime.BOOL:
		t.Bool = make([]bool, 0, d.want)
	case runtime.FP64:
		t.FP64 = make([]float64, 0, d.want)
	case runtime.FP32:
		t.FP32 = make([]float32, 0, d.want)
	case runtime.BYTES:
		t.Str = make([]string, 0, d.want)
	default:
		t.Int = make([]int64, 0, d.want)
	}
	if err := d.walk(0); err != nil {
		return jsonErr(err)
	}
	if err := d.s.end(); err != nil {
		return jsonErr(err)
	}
	if d.n != d.want {
		return invalidf("Input '%s' has %d elements; its shape %s needs %d.", d.name, d.n, shapeString(t.Shape), d.want)
	}
	return nil
}

func (d *dataDecoder) walk(depth int) error {
	if d.s.peek() == '[' {
		if depth >= maxDepth {
			return invalidf("Input '%s': data is nested deeper than %d levels.", d.name, maxDepth)
		}
		return d.s.array(func(int) error { return d.walk(depth + 1) })
	}
	if d.n >= d.want {
		return invalidf("Input '%s' has more elements than its shape %s holds (%d).", d.name, shapeString(d.t.Shape), d.want)
	}
	if err := d.elem(); err != nil {
		return err
	}
	d.n++
	return nil
}

func (d *dataDecoder) elem() error {
	s, t := &d.s, d.t
	switch d.from.family {
	case 'b':
		switch {
		case s.literal("true"):
			t.Bool = append(t.Bool, true)
		case s.literal("false"):
			t.Bool = append(t.Bool, false)
		default:
			return d.want_("true or false")
		}
		return nil
	case 's':
		if s.peek() != '"' {
			return d.want_("a string")
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		if d.timeCol {
			ts, ok := parseTime(v)
			if !ok {
				return invalidf("Input '%s' element %d is %q, not a date and time (want RFC 3339, e.g. 2001-05-01T08:30:00Z).", d.name, d.n, clip(v))
			}
			if t.Int != nil {
				t.Int = append(t.Int, ts.Unix()) // Unix seconds, as the native runtime takes them
				return nil
			}
		}
		t.Str = append(t.Str, v)
		return nil
	case 'f':
		if s.literal("null") {
			if d.required {
				return invalidf("Input '%s' element %d is null; the input is required and takes no missing values.", d.name, d.n)
			}
			if t.FP32 != nil {
				t.FP32 = append(t.FP32, float32(math.NaN()))
			} else {
				t.FP64 = append(t.FP64, math.NaN())
			}
			return nil
		}
		c := s.peek()
		if c != '-' && !isDigit(c) {
			return d.want_("a number")
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		bits := 64
		if d.fromDT == runtime.FP32 {
			bits = 32
		}
		v, ok := parseFloat(num, bits)
		if !ok {
			return invalidf("Input '%s' element %d: %s is out of the range of %s.", d.name, d.n, clipBytes(num), d.fromDT)
		}
		if t.FP32 != nil {
			t.FP32 = append(t.FP32, float32(v))
		} else {
			t.FP64 = append(t.FP64, v)
		}
		return nil
	}
	// integers
	c := s.peek()
	if c != '-' && !isDigit(c) {
		return d.want_("an integer")
	}
	num, err := s.number()
	if err != nil {
		return err
	}
	var v int64
	ok := false
	if d.from.family == 'u' {
		var u uint64
		if u, ok = parseUint(num); ok && u <= d.from.umax {
			if u > math.MaxInt64 {
				if t.FP64 != nil {
					t.FP64 = append(t.FP64, float64(u))
					return nil
				}
				return invalidf("Input '%s' element %d: %s does not fit the model's %s.", d.name, d.n, clipBytes(num), t.Datatype)
			}
			v = int64(u)
		} else {
			ok = false
		}
	} else {
		v, ok = parseInt(num)
		ok = ok && v >= d.from.min && v <= d.from.max
	}
	if !ok {
		return invalidf("Input '%s' element %d: %s is not an integer within the range of %s.", d.name, d.n, clipBytes(num), d.fromDT)
	}
	if t.FP64 != nil {
		t.FP64 = append(t.FP64, float64(v))
	} else {
		t.Int = append(t.Int, v)
	}
	return nil
}

func (d *dataDecoder) want_(what string) error {
	return invalidf("Input '%s' element %d is %s; datatype %s takes %s.", d.name, d.n, d.s.kind(), d.fromDT, what)
}

// appendV2Response appends the inference response for outs.
func appendV2Response(b []byte, e *entry, req *v2Request, outs []runtime.Tensor) []byte {
	b = append(b, `{"model_name":`...)
	b = appendString(b, e.name)
	if e.version != "" {
		b = append(b, `,"model_version":`...)
		b = appendString(b, e.version)
	}
	if req.hasID {
		b = append(b, `,"id":`...)
		b = appendString(b, req.id)
	}
	b = append(b, `,"outputs":[`...)
	for i := range outs {
		t := &outs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, t.Name)
		b = append(b, `,"datatype":`...)
		b = appendString(b, t.Datatype)
		b = append(b, `,"shape":`...)
		b = appendShape(b, t.Shape)
		b = append(b, `,"data":`...)
		b = appendData(b, t, 0, t.Len())
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// selectOutputs returns the outputs named in want, in that order (all when
// want is nil). An unknown name is EINVALID.
func selectOutputs(outs []runtime.Tensor, want []string) ([]runtime.Tensor, error) {
	if want == nil {
		return outs, nil
	}
	sel := make([]runtime.Tensor, 0, len(want))
	for _, name := range want {
		found := false
		for i := range outs {
			if outs[i].Name == name {
				sel = append(sel, outs[i])
				found = true
				break
			}
		}
		if !found {
			names := make([]string, len(outs))
			for i := range outs {
				names[i] = outs[i].Name
			}
			return nil, invalidf("Unknown output '%s'; the model gives %s.", clip(name), quoteList(names))
		}
	}
	return sel, nil
}

// checkOutputs refuses requested outputs the schema does not list, before
// the model runs. A schema without outputs checks nothing.
func checkOutputs(schema *Schema, want []string) error {
	if want == nil || len(schema.Outputs) == 0 {
		return nil
	}
	for _, name := range want {
		found := false
		for _, o := range schema.Outputs {
			if o.Name == name {
				found = true
			}
		}
		if !found {
			names := make([]string, len(schema.Outputs))
			for i, o := range schema.Outputs {
				names[i] = o.Name
			}
			return invalidf("Unknown output '%s'; the model gives %s.", clip(name), quoteList(names))
		}
	}
	return nil
}

// appendModelMetadata appends V2 model metadata.
func appendModelMetadata(b []byte, e *entry) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, e.name)
	b = append(b, `,"versions":[`...)
	if e.version != "" {
		b = appendString(b, e.version)
	}
	b = append(b, `],"platform":`...)
	platform := e.meta.Platform
	if platform == "" {
		platform = "ferry"
	}
	b = appendString(b, platform)
	b = append(b, `,"inputs":[`...)
	for i, in := range e.schema.Inputs {
		if i > 0 {
			b = append(b, ',')
		}
		shape := in.Shape
		if in.Column {
			shape = []int64{-1}
		}
		b = appendSpec(b, in.Name, in.Datatype, shape)
		if in.Column && in.ColumnType != "" {
			b = b[:len(b)-1]
			b = append(b, `,"parameters":{"column_type":`...)
			b = appendString(b, in.ColumnType)
			b = append(b, `,"required":`...)
			b = strconv.AppendBool(b, in.Required)
			b = append(b, "}}"...)
		}
	}
	b = append(b, `],"outputs":[`...)
	for i, o := range e.schema.Outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSpec(b, o.Name, o.Datatype, o.Shape)
	}
	return append(b, "]}\n"...)
}

func appendSpec(b []byte, name, datatype string, shape []int64) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, name)
	b = append(b, `,"datatype":`...)
	b = appendString(b, datatype)
	b = append(b, `,"shape":`...)
	if shape == nil {
		shape = []int64{}
	}
	b = appendShape(b, shape)
	return append(b, '}')
}
