package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/ferry-ml/ferry/internal/runtime"
)

// This file holds the Open Inference Protocol V2 REST bodies the runtime sends
// and reads: inference requests and responses with flat, row-major data, and
// model metadata. It is self-contained: the serving stage has its own codec.

// encodeInferRequest writes {"inputs": [{"name", "shape", "datatype", "data"}]}
// with flat data. NaN and ±Inf, which JSON lacks, are written as Python's json
// writes them (NaN, Infinity, -Infinity), which Python servers read.
func encodeInferRequest(inputs []runtime.Tensor) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"inputs":[`)
	for i := range inputs {
		t := &inputs[i]
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		b.WriteString(`{"name":`)
		b.Write(name)
		b.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
		dt, _ := json.Marshal(t.Datatype)
		b.WriteString(`],"datatype":`)
		b.Write(dt)
		b.WriteString(`,"data":[`)
		if err := appendData(&b, t); err != nil {
			return nil, err
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

func appendData(b *bytes.Buffer, t *runtime.Tensor) error {
	if err := checkDatatype(t); err != nil {
		return err
	}
	var buf []byte
	for i := range dataLen(t) {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendElem(buf, t, i)
	}
	b.Write(buf)
	return nil
}

// checkDatatype refuses a tensor whose datatype appendElem cannot write.
func checkDatatype(t *runtime.Tensor) error {
	switch t.Datatype {
	case runtime.FP32, runtime.FP64, runtime.INT32, runtime.INT64, runtime.BOOL, runtime.BYTES:
		return nil
	}
	return invalidf("input %q: unknown datatype %q", clip(t.Name), clip(t.Datatype))
}

// dataLen is the length of the slice of t that its datatype names.
func dataLen(t *runtime.Tensor) int {
	switch t.Datatype {
	case runtime.FP32:
		return len(t.FP32)
	case runtime.FP64:
		return len(t.FP64)
	case runtime.INT32, runtime.INT64:
		return len(t.Int)
	case runtime.BOOL:
		return len(t.Bool)
	}
	return len(t.Str)
}

// appendElem appends element i of t, of a datatype checkDatatype accepts,
// as a JSON value (floats as appendFloat writes them).
func appendElem(buf []byte, t *runtime.Tensor, i int) []byte {
	switch t.Datatype {
	case runtime.FP32:
		return appendFloat(buf, float64(t.FP32[i]), 32)
	case runtime.FP64:
		return appendFloat(buf, t.FP64[i], 64)
	case runtime.INT32, runtime.INT64:
		return strconv.AppendInt(buf, t.Int[i], 10)
	case runtime.BOOL:
		return strconv.AppendBool(buf, t.Bool[i])
	}
	s, _ := json.Marshal(t.Str[i])
	return append(buf, s...)
}

func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits)
}

// wireTensor is a tensor of a V2 response or a spec of V2 metadata.
type wireTensor struct {
	Name     string          `json:"name"`
	Datatype string          `json:"datatype"`
	Shape    []int64         `json:"shape"`
	Data     json.RawMessage `json:"data"`
}

type inferResponse struct {
	ModelName string       `json:"model_name"`
	Outputs   []wireTensor `json:"outputs"`
}

type modelMetadata struct {
	Name     string       `json:"name"`
	Platform string       `json:"platform"`
	Inputs   []wireTensor `json:"inputs"`
	Outputs  []wireTensor `json:"outputs"`
}

// errorBody is V2's error response, {"error": "message"}.
type errorBody struct {
	Error string `json:"error"`
}

// datatype maps a V2 datatype to the one runtime.Tensor carries it in: the
// narrow integers in INT32, the unsigned 32/64-bit ones in INT64, FP16 in
// FP32. ok is false for datatypes V2 does not define.
func datatype(dt string) (string, bool) {
	switch dt {
	case runtime.BOOL, runtime.INT32, runtime.INT64, runtime.FP32, runtime.FP64, runtime.BYTES:
		return dt, true
	case runtime.INT8, runtime.INT16, runtime.UINT8, runtime.UINT16:
		return runtime.INT32, true
	case runtime.UINT32, runtime.UINT64:
		return runtime.INT64, true
	case runtime.FP16:
		return runtime.FP32, true
	}
	return "", false
}

// decodeInferResponse reads a V2 inference response. Data may be flat or
// nested as the shape (both are row-major); bare NaN, Infinity and -Infinity
// (Python's json) and the strings "NaN", "Inf", "Infinity", "-Inf" and
// "-Infinity" are read as floats.
func decodeInferResponse(body []byte) ([]runtime.Tensor, error) {
	var resp inferResponse
	if err := json.Unmarshal(quoteNonFinite(body), &resp); err != nil {
		return nil, fmt.Errorf("not a V2 inference response: %w", err)
	}
	out := make([]runtime.Tensor, 0, len(resp.Outputs))
	for _, w := range resp.Outputs {
		t, err := w.tensor()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (w wireTensor) tensor() (runtime.Tensor, error) {
	dt, ok := datatype(w.Datatype)
	if !ok {
		return runtime.Tensor{}, fmt.Errorf("output %q has unknown datatype %q", clip(w.Name), clip(w.Datatype))
	}
	t := runtime.Tensor{Name: w.Name, Datatype: dt, Shape: w.Shape}
	var vals []any
	if len(w.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(w.Data))
		dec.UseNumber()
		var data any
		if err := dec.Decode(&data); err != nil {
			return t, fmt.Errorf("output %q: data: %w", clip(w.Name), err)
		}
		vals = flatten(data, nil)
	}
	want, err := elements(w.Shape)
	if err != nil {
		return t, fmt.Errorf("output %q: %w", clip(w.Name), err)
	}
	if want != int64(len(vals)) {
		return t, fmt.Errorf("output %q has %d values; its shape %v holds %d", clip(w.Name), len(vals), w.Shape, want)
	}
	if err := fill(&t, vals); err != nil {
		return t, fmt.Errorf("output %q (%s): %w", clip(w.Name), w.Datatype, err)
	}
	return t, nil
}

// fill sets t's data, in the slice t.Datatype names, from JSON values
// decoded with UseNumber: numbers (and, for floats, null and the names of
// NaN and the infinities), booleans or strings.
func fill(t *runtime.Tensor, vals []any) error {
	var err error
	switch t.Datatype {
	case runtime.FP32:
		t.FP32 = make([]float32, len(vals))
		for i, v := range vals {
			var f float64
			if f, err = toFloat(v); err != nil {
				return err
			}
			t.FP32[i] = float32(f)
		}
	case runtime.FP64:
		t.FP64 = make([]float64, len(vals))
		for i, v := range vals {
			if t.FP64[i], err = toFloat(v); err != nil {
				return err
			}
		}
	case runtime.INT32, runtime.INT64:
		t.Int = make([]int64, len(vals))
		for i, v := range vals {
			if t.Int[i], err = toInt(v); err != nil {
				return err
			}
		}
	case runtime.BOOL:
		t.Bool = make([]bool, len(vals))
		for i, v := range vals {
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("%v is not a boolean", v)
			}
			t.Bool[i] = b
		}
	case runtime.BYTES:
		t.Str = make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				continue // a missing string is ""
			}
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%v is not a string", v)
			}
			t.Str[i] = s
		}
	}
	return nil
}

// elements is the number of elements a shape holds.
func elements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d == 0 {
			return 0, nil
		}
	}
	for _, d := range shape {
		if n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// flatten appends the scalars of a nested JSON array to out, row-major.
func flatten(v any, out []any) []any {
	if list, ok := v.([]any); ok {
		for _, e := range list {
			out = flatten(e, out)
		}
		return out
	}
	return append(out, v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case string:
		switch x {
		case "NaN", "nan":
			return math.NaN(), nil
		case "Infinity", "Inf", "inf", "+Infinity", "+Inf":
			return math.Inf(1), nil
		case "-Infinity", "-Inf", "-inf":
			return math.Inf(-1), nil
		}
	case nil:
		return math.NaN(), nil // a missing value
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func toInt(v any) (int64, error) {
	if n, ok := v.(json.Number); ok {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(string(n), 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// quoteNonFinite turns the bare NaN, Infinity and -Infinity tokens that
// Python's json writes into strings, leaving string contents alone, so that
// encoding/json reads the body.
func quoteNonFinite(body []byte) []byte {
	if !bytes.Contains(body, []byte("NaN")) && !bytes.Contains(body, []byte("Infinity")) {
		return body
	}
	out := make([]byte, 0, len(body)+16)
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(body) {
					i++
					out = append(out, body[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			out = append(out, c)
			continue
		}
		replaced := false
		for _, tok := range [...]string{"NaN", "-Infinity", "Infinity"} {
			if bytes.HasPrefix(body[i:], []byte(tok)) {
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, c)
		}
	}
	return out
}

// specs converts V2 metadata tensors to runtime specs.
func specs(ws []wireTensor) []runtime.TensorSpec {
	out := make([]runtime.TensorSpec, 0, len(ws))
	for _, w := range ws {
		dt, ok := datatype(w.Datatype)
		if !ok {
			dt = w.Datatype
		}
		out = append(out, runtime.TensorSpec{Name: w.Name, Datatype: dt, Shape: w.Shape})
	}
	return out
}
