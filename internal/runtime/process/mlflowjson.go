package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// OutputPrediction names the output of an MLflow model whose signature has a
// single unnamed output, or none: the predictions themselves. Several
// unnamed outputs are prediction_0, prediction_1, ...
const OutputPrediction = "prediction"

// mlflowProtocol is MLflow's scoring protocol as `mlflow models serve` serves
// it (mlflow/pyfunc/scoring_server): GET /ping answers 200 once the model is
// loaded, GET /version gives MLflow's version, and POST /invocations takes
// {"dataframe_split": {"columns": [...], "data": [[...], ...]}} — or, for a
// model that takes tensors, {"inputs": ...} — and answers {"predictions":
// ...} (MLflow 1.x: the bare predictions), or an error {"error_code",
// "message", "stack_trace"}.
//
// Predictions are read as pandas and numpy write them: a list of values (one
// output, [rows]), a list of lists ([rows, k]), a list of records (a
// DataFrame: one output per column) or an object of lists (a dict: one
// output per key). Outputs the signature declares are named and typed by it;
// others are typed by their values.
type mlflowProtocol struct {
	sig     *model.Signature
	outputs []runtime.TensorSpec // declared by the signature; nil when it has none
}

func newMLflowProtocol(sig *model.Signature) *mlflowProtocol {
	p := &mlflowProtocol{sig: sig}
	if sig == nil {
		return p
	}
	for i, sp := range sig.Outputs {
		dt, _ := datatype(runtime.SpecDatatype(sp))
		shape := []int64{-1}
		if sp.IsTensor && len(sp.Shape) > 0 {
			shape = sp.Shape
		}
		p.outputs = append(p.outputs, runtime.TensorSpec{Name: outputName(sp.Name, i, len(sig.Outputs)), Datatype: dt, Shape: shape})
	}
	return p
}

// outputName names output i of n: its own name, else OutputPrediction.
func outputName(name string, i, n int) string {
	switch {
	case name != "":
		return name
	case n == 1:
		return OutputPrediction
	}
	return OutputPrediction + "_" + strconv.Itoa(i)
}

func (*mlflowProtocol) name() string            { return "MLflow scoring" }
func (*mlflowProtocol) readyPath() string       { return "/ping" }
func (*mlflowProtocol) showsServerErrors() bool { return true }

// describe logs the server's MLflow version and returns the outputs the
// signature declares. Inputs are left to the signature, which the serving
// stage checks requests against.
func (p *mlflowProtocol) describe(ctx context.Context, m *Model) (runtime.Metadata, error) {
	if resp, err := roundTrip(ctx, m.addr, "GET", "/version", nil); err == nil && resp.status == 200 {
		m.log.Info("process: MLflow scoring server", "mlflow_version", clip(strings.TrimSpace(string(resp.body))))
	}
	return runtime.Metadata{Platform: Platform, Outputs: p.outputs}, nil
}

// failure reads MLflow's error body, {"error_code", "message",
// "stack_trace"}; a body without a message is shown as it is.
func (*mlflowProtocol) failure(body []byte) (string, string) {
	var eb struct {
		ErrorCode  string `json:"error_code"`
		Message    string `json:"message"`
		StackTrace string `json:"stack_trace"`
		Error      string `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil {
		switch {
		case eb.Message != "":
			return clip(eb.Message), eb.StackTrace
		case eb.Error != "":
			return clip(eb.Error), eb.StackTrace
		}
	}
	return bodyText(body), ""
}

// request writes dataframe_split for column inputs — one value per row, as a
// model with a column signature (or none) takes them — and "inputs" for
// tensors: a bare list for a single input of an unnamed signature (or none),
// else an object keyed by input name.
func (p *mlflowProtocol) request(inputs []runtime.Tensor) (string, []byte, error) {
	for i := range inputs {
		if err := checkDatatype(&inputs[i]); err != nil {
			return "", nil, err
		}
	}
	const path = "/invocations"
	if !p.sig.IsTensorBased() {
		body, err := encodeSplit(inputs)
		if err == nil || (p.sig != nil && len(p.sig.Inputs) > 0) {
			return path, body, err
		}
	}
	var b []byte
	b = append(b, `{"inputs":`...)
	if len(inputs) == 1 && (p.sig == nil || len(p.sig.Inputs) == 0 || p.sig.Inputs[0].Name == "") {
		var err error
		if b, err = appendNested(b, &inputs[0]); err != nil {
			return "", nil, err
		}
		return path, append(b, '}'), nil
	}
	b = append(b, '{')
	for i := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(inputs[i].Name)
		b = append(append(b, name...), ':')
		var err error
		if b, err = appendNested(b, &inputs[i]); err != nil {
			return "", nil, err
		}
	}
	return path, append(b, "}}"...), nil
}

// encodeSplit writes columns as {"dataframe_split": {"columns", "data"}},
// row by row. Inputs that are not columns, or of different lengths, are
// EINVALID.
func encodeSplit(inputs []runtime.Tensor) ([]byte, error) {
	rows := 0
	for i := range inputs {
		n, err := inputs[i].ColumnRows()
		if err != nil {
			return nil, err
		}
		if i > 0 && n != rows {
			return nil, invalidf("input %q has %d rows, %q has %d", clip(inputs[i].Name), n, clip(inputs[0].Name), rows)
		}
		rows = n
	}
	var b []byte
	b = append(b, `{"dataframe_split":{"columns":[`...)
	for i := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(inputs[i].Name)
		b = append(b, name...)
	}
	b = append(b, `],"data":[`...)
	for r := range rows {
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for i := range inputs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendElem(b, &inputs[i], r)
		}
		b = append(b, ']')
	}
	return append(b, "]}}"...), nil
}

// appendNested writes t's data as nested lists by its shape (a flat list
// without one).
func appendNested(b []byte, t *runtime.Tensor) ([]byte, error) {
	n := dataLen(t)
	shape := t.Shape
	if len(shape) == 0 {
		shape = []int64{int64(n)}
	}
	want, err := elements(shape)
	if err != nil || want != int64(n) {
		return nil, invalidf("input %q has shape %v but %d values", clip(t.Name), t.Shape, n)
	}
	i := 0
	var walk func(b []byte, dims []int64) []byte
	walk = func(b []byte, dims []int64) []byte {
		if len(dims) == 0 {
			b = appendElem(b, t, i)
			i++
			return b
		}
		b = append(b, '[')
		for k := range dims[0] {
			if k > 0 {
				b = append(b, ',')
			}
			b = walk(b, dims[1:])
		}
		return append(b, ']')
	}
	return walk(b, shape), nil
}

// response reads {"predictions": ...}, or MLflow 1.x's bare list.
func (p *mlflowProtocol) response(body []byte) ([]runtime.Tensor, error) {
	dec := json.NewDecoder(bytes.NewReader(quoteNonFinite(body)))
	dec.UseNumber()
	v, err := decodeOrdered(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the JSON value")
	}
	preds := v
	if obj, ok := v.(*jsonObject); ok {
		if preds, ok = obj.vals["predictions"]; !ok {
			return nil, fmt.Errorf("the response has no 'predictions'")
		}
	}
	return p.tensors(preds)
}

// tensors turns the predictions into outputs.
func (p *mlflowProtocol) tensors(preds any) ([]runtime.Tensor, error) {
	switch x := preds.(type) {
	case *jsonObject: // a dict of outputs
		out := make([]runtime.Tensor, 0, len(x.keys))
		for _, k := range x.keys {
			vals, ok := x.vals[k].([]any)
			if !ok {
				vals = []any{x.vals[k]}
			}
			t, err := p.column(k, vals)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, nil
	case []any:
		if len(x) == 0 {
			return p.empty(), nil
		}
		if _, ok := x[0].(*jsonObject); ok {
			return p.records(x)
		}
		name := OutputPrediction
		if len(p.outputs) == 1 {
			name = p.outputs[0].Name
		}
		t, err := p.column(name, x)
		if err != nil {
			return nil, err
		}
		return []runtime.Tensor{t}, nil
	}
	return nil, fmt.Errorf("the predictions are %s, not a list or an object", jsonKind(preds))
}

// records reads a DataFrame's records: one output per column, in the order
// the columns first appear. A single column is the single declared output
// (pandas names an unnamed Series 0).
func (p *mlflowProtocol) records(rows []any) ([]runtime.Tensor, error) {
	var keys []string
	cols := map[string][]any{}
	for r, row := range rows {
		obj, ok := row.(*jsonObject)
		if !ok {
			return nil, fmt.Errorf("prediction %d is %s; the first is a record", r, jsonKind(row))
		}
		for _, k := range obj.keys {
			if _, seen := cols[k]; !seen {
				keys = append(keys, k)
				cols[k] = make([]any, r, len(rows)) // missing in earlier rows
			}
		}
		for _, k := range keys {
			cols[k] = append(cols[k], obj.vals[k]) // nil when missing
		}
	}
	out := make([]runtime.Tensor, 0, len(keys))
	for _, k := range keys {
		name := k
		if len(keys) == 1 && len(p.outputs) <= 1 {
			name = OutputPrediction
			if len(p.outputs) == 1 {
				name = p.outputs[0].Name
			}
		}
		t, err := p.column(name, cols[k])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// column makes the output name of one value per row, [rows], or of a list of
// k values per row, [rows, k]; typed as the signature declares it, else by
// its values.
func (p *mlflowProtocol) column(name string, vals []any) (runtime.Tensor, error) {
	rows := len(vals)
	flat := vals
	shape := []int64{int64(rows)}
	if rows > 0 {
		if first, ok := vals[0].([]any); ok {
			k := len(first)
			flat = make([]any, 0, rows*k)
			for r, v := range vals {
				row, ok := v.([]any)
				if !ok || len(row) != k {
					return runtime.Tensor{}, fmt.Errorf("output %q: row %d is not a list of %d values like the first", clip(name), r, k)
				}
				for _, e := range row {
					if _, nested := e.([]any); nested {
						return runtime.Tensor{}, fmt.Errorf("output %q: row %d nests lists deeper than one level", clip(name), r)
					}
				}
				flat = append(flat, row...)
			}
			shape = []int64{int64(rows), int64(k)}
		}
	}
	dt := ""
	for _, o := range p.outputs {
		if o.Name == name {
			dt = o.Datatype
		}
	}
	if dt == "" {
		var err error
		if dt, err = inferDatatype(flat); err != nil {
			return runtime.Tensor{}, fmt.Errorf("output %q: %w", clip(name), err)
		}
	}
	t := runtime.Tensor{Name: name, Datatype: dt, Shape: shape}
	if err := fill(&t, flat); err != nil {
		return runtime.Tensor{}, fmt.Errorf("output %q (%s): %w", clip(name), dt, err)
	}
	return t, nil
}

// empty is the outputs of no rows.
func (p *mlflowProtocol) empty() []runtime.Tensor {
	specs := p.outputs
	if len(specs) == 0 {
		specs = []runtime.TensorSpec{{Name: OutputPrediction, Datatype: runtime.FP64}}
	}
	out := make([]runtime.Tensor, len(specs))
	for i, sp := range specs {
		out[i] = runtime.Tensor{Name: sp.Name, Datatype: sp.Datatype, Shape: []int64{0}}
		_ = fill(&out[i], nil)
	}
	return out
}

// inferDatatype types values no signature declares: BOOL, INT64 (integers
// only), FP64 (numbers, with null and the names of NaN and the infinities
// standing for missing values) or BYTES (strings and nulls).
func inferDatatype(vals []any) (string, error) {
	const nonFinite = "nonfinite"
	dt, nulls := "", false
	for _, v := range vals {
		var k string
		switch x := v.(type) {
		case nil:
			nulls = true
			continue
		case bool:
			k = runtime.BOOL
		case string:
			k = runtime.BYTES
			if _, err := toFloat(x); err == nil {
				k = nonFinite
			}
		case json.Number:
			k = runtime.INT64
			if _, err := strconv.ParseInt(string(x), 10, 64); err != nil {
				k = runtime.FP64
			}
		default:
			return "", fmt.Errorf("a value is %s", jsonKind(v))
		}
		switch {
		case dt == "" || dt == k:
			dt = k
		case isNumeric(dt) && isNumeric(k):
			dt = runtime.FP64
		case (dt == runtime.BYTES && k == nonFinite) || (dt == nonFinite && k == runtime.BYTES):
			dt = runtime.BYTES
		default:
			return "", fmt.Errorf("values of different types (%s and %s)", strings.ToLower(dt), strings.ToLower(k))
		}
	}
	switch {
	case dt == "" || dt == nonFinite || (dt == runtime.INT64 && nulls):
		return runtime.FP64, nil
	case dt == runtime.BOOL && nulls:
		return "", fmt.Errorf("booleans with missing values")
	}
	return dt, nil
}

func isNumeric(dt string) bool {
	return dt == runtime.INT64 || dt == runtime.FP64 || dt == "nonfinite"
}

// jsonObject is a JSON object with its keys in order.
type jsonObject struct {
	keys []string
	vals map[string]any
}

// maxDepth bounds the nesting of a response.
const maxDepth = 64

// decodeOrdered reads one JSON value: objects as *jsonObject, lists as []any
// (never nil), numbers as json.Number.
func decodeOrdered(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("the response nests deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch delim {
	case '[':
		list := []any{}
		for dec.More() {
			v, err := decodeOrdered(dec, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	case '{':
		obj := &jsonObject{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string)
			v, err := decodeOrdered(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := obj.vals[key]; !dup {
				obj.keys = append(obj.keys, key)
			}
			obj.vals[key] = v
		}
		_, err := dec.Token()
		return obj, err
	}
	return nil, fmt.Errorf("unexpected %v", delim)
}

// jsonKind names the kind of a decoded JSON value for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case *jsonObject:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
