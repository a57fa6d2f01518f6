package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// Column types of MLflow's signatures (mlflow.types.DataType and the composite
// types of mlflow.types.schema), and the type of a tensor spec.
const (
	TypeBoolean  = "boolean"
	TypeInteger  = "integer" // 32-bit signed
	TypeLong     = "long"    // 64-bit signed
	TypeFloat    = "float"   // 32-bit
	TypeDouble   = "double"  // 64-bit
	TypeString   = "string"
	TypeBinary   = "binary"
	TypeDatetime = "datetime"
	TypeArray    = "array"  // composite: {"type": "array", "items": {...}}
	TypeObject   = "object" // composite: {"type": "object", "properties": {...}}
	TypeMap      = "map"    // composite: {"type": "map", "values": {...}}
	TypeAny      = "any"
	TypeTensor   = "tensor"
)

// isScalarType reports the column types that stand alone.
func isScalarType(t string) bool {
	switch t {
	case TypeBoolean, TypeInteger, TypeLong, TypeFloat, TypeDouble, TypeString, TypeBinary, TypeDatetime, TypeAny, "sparkml_vector":
		return true
	}
	return false
}

// compositeKey returns the key that completes a composite type, "" for others.
func compositeKey(t string) string {
	switch t {
	case TypeArray:
		return "items"
	case TypeObject:
		return "properties"
	case TypeMap:
		return "values"
	}
	return ""
}

// Signature is a model's input and output schema and its inference params, as
// MLflow's ModelSignature holds them. In an MLmodel file each part is a JSON
// string; a nil part is written as null.
type Signature struct {
	Inputs  []Spec
	Outputs []Spec
	Params  []ParamSpec
}

// Spec is one column (MLflow's ColSpec) or tensor (TensorSpec) of a schema. A
// schema holds only columns or only tensors, all named or all unnamed.
type Spec struct {
	// Name is the column or tensor name; "" for an unnamed spec.
	Name string
	// Type is a column type (TypeDouble, TypeLong, TypeArray, ...) or TypeTensor.
	Type string
	// Required is false for optional columns. Tensors are always required.
	Required bool
	// IsTensor reports a tensor spec; DType and Shape describe it.
	IsTensor bool
	// DType is the tensor's numpy dtype name, e.g. "float32".
	DType string
	// Shape is the tensor's shape; -1 stands for any size.
	Shape []int64
	// Composite is, for the composite types (array, object, map), the type's
	// JSON object as MLflow writes it, e.g. {"type": "array", "items": {"type":
	// "string"}}; nil otherwise.
	Composite json.RawMessage
}

// ParamSpec is one inference parameter (MLflow's ParamSpec).
type ParamSpec struct {
	Name string
	// Type is a scalar type name, or TypeObject with Composite set.
	Type string
	// Default is the default value as JSON.
	Default json.RawMessage
	// Shape is nil for a scalar and [-1] for a list.
	Shape []int64
	// Composite is the object type's JSON for TypeObject params; nil otherwise.
	Composite json.RawMessage
}

// IsTensorBased reports whether the inputs are tensors.
func (s *Signature) IsTensorBased() bool {
	return s != nil && len(s.Inputs) > 0 && s.Inputs[0].IsTensor
}

// Validate checks the rules MLflow's Schema enforces: a schema is not empty,
// holds only columns or only tensors, names all or none of them, and has no
// name twice; types are known.
func (s *Signature) Validate() error {
	if s == nil {
		return nil
	}
	if err := validateSchema("inputs", s.Inputs); err != nil {
		return err
	}
	if err := validateSchema("outputs", s.Outputs); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, p := range s.Params {
		where := fmt.Sprintf("signature params[%d]", i)
		if p.Name == "" {
			return invalidf("%s: a param needs a name", where)
		}
		if seen[p.Name] {
			return invalidf("%s: param %q appears twice", where, clip(p.Name))
		}
		seen[p.Name] = true
		if p.Type == TypeObject {
			if err := checkComposite(where, p.Type, p.Composite); err != nil {
				return err
			}
		} else if !isScalarType(p.Type) {
			return invalidf("%s (%q): unknown type %q", where, clip(p.Name), clip(p.Type))
		}
		if p.Shape != nil && !(len(p.Shape) == 1 && p.Shape[0] == -1) {
			return invalidf("%s (%q): shape must be null (a scalar) or [-1] (a list)", where, clip(p.Name))
		}
		if len(p.Default) > 0 && !json.Valid(p.Default) {
			return invalidf("%s (%q): default is not valid JSON", where, clip(p.Name))
		}
	}
	return nil
}

func validateSchema(part string, specs []Spec) error {
	if specs == nil {
		return nil
	}
	if len(specs) == 0 {
		return invalidf("signature %s: an empty schema is not allowed (use null for none)", part)
	}
	named := specs[0].Name != ""
	tensor := specs[0].IsTensor
	seen := map[string]bool{}
	for i, sp := range specs {
		where := fmt.Sprintf("signature %s[%d]", part, i)
		if sp.Name != "" {
			where += fmt.Sprintf(" (%q)", clip(sp.Name))
		}
		if (sp.Name != "") != named {
			return invalidf("%s: a schema names all of its inputs or none of them", where)
		}
		if sp.IsTensor != tensor {
			return invalidf("%s: a schema holds only columns or only tensors", where)
		}
		if named {
			if seen[sp.Name] {
				return invalidf("%s: the name appears twice", where)
			}
			seen[sp.Name] = true
		}
		if sp.IsTensor {
			if sp.DType == "" {
				return invalidf("%s: a tensor needs a dtype", where)
			}
			if sp.Shape == nil {
				return invalidf("%s: a tensor needs a shape", where)
			}
			for _, d := range sp.Shape {
				if d < -1 {
					return invalidf("%s: shape dimension %d is negative (use -1 for any size)", where, d)
				}
			}
			continue
		}
		if compositeKey(sp.Type) != "" {
			if err := checkComposite(where, sp.Type, sp.Composite); err != nil {
				return err
			}
		} else if !isScalarType(sp.Type) {
			return invalidf("%s: unknown type %q (want boolean, integer, long, float, double, string, binary, datetime, array, object, map, any or tensor)", where, clip(sp.Type))
		}
	}
	if len(specs) > 1 && tensor && !named {
		return invalidf("signature %s: several tensors must all be named", part)
	}
	return nil
}

// checkComposite checks that a composite type's JSON is an object of that type
// with its completing key.
func checkComposite(where, typ string, raw json.RawMessage) error {
	pairs, err := orderedObject(raw)
	if err != nil {
		return invalidf("%s: the %s type is not a JSON object", where, typ)
	}
	var gotType string
	var hasKey bool
	for _, p := range pairs {
		switch p.key {
		case "type":
			_ = json.Unmarshal(p.raw, &gotType)
		case compositeKey(typ):
			hasKey = bytes.HasPrefix(bytes.TrimSpace(p.raw), []byte("{"))
		}
	}
	if gotType != typ {
		return invalidf("%s: the %s type's JSON says type %q", where, typ, clip(gotType))
	}
	if !hasKey {
		return invalidf("%s: the %s type needs %q as a JSON object", where, typ, compositeKey(typ))
	}
	return nil
}

// parseSignature reads the three JSON strings of an MLmodel signature.
func parseSignature(inputs, outputs, params *string) (*Signature, error) {
	s := &Signature{}
	var err error
	if inputs != nil {
		if s.Inputs, err = parseSchema("inputs", *inputs); err != nil {
			return nil, err
		}
	}
	if outputs != nil {
		if s.Outputs, err = parseSchema("outputs", *outputs); err != nil {
			return nil, err
		}
	}
	if params != nil {
		if s.Params, err = parseParams(*params); err != nil {
			return nil, err
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}

func parseSchema(part, text string) ([]Spec, error) {
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil {
		return nil, invalidf("signature %s is not a JSON list of column or tensor specs: %s", part, jsonProblem(err))
	}
	if items == nil {
		return nil, invalidf("signature %s is not a JSON list of column or tensor specs", part)
	}
	specs := make([]Spec, 0, len(items))
	for i, raw := range items {
		where := fmt.Sprintf("signature %s[%d]", part, i)
		sp, err := parseSpec(where, raw)
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

func parseSpec(where string, raw json.RawMessage) (Spec, error) {
	pairs, err := orderedObject(raw)
	if err != nil {
		return Spec{}, invalidf("%s is not a JSON object", where)
	}
	sp := Spec{Required: true}
	var typ *string
	var tensorSpec json.RawMessage
	var rest []kv // the composite type's own keys, in order
	for _, p := range pairs {
		switch p.key {
		case "name":
			if isNull(p.raw) {
				continue
			}
			if err := json.Unmarshal(p.raw, &sp.Name); err != nil {
				return Spec{}, invalidf("%s: name must be a string", where)
			}
			if sp.Name == "" {
				return Spec{}, invalidf("%s: name must not be empty", where)
			}
		case "required":
			if isNull(p.raw) {
				continue
			}
			if err := json.Unmarshal(p.raw, &sp.Required); err != nil {
				return Spec{}, invalidf("%s: required must be true or false", where)
			}
		case "type":
			var t string
			if err := json.Unmarshal(p.raw, &t); err != nil {
				return Spec{}, invalidf("%s: type must be a string", where)
			}
			typ = &t
			rest = append(rest, p)
		case "tensor-spec":
			tensorSpec = p.raw
		default:
			rest = append(rest, p)
		}
	}
	if sp.Name != "" {
		where += fmt.Sprintf(" (%q)", clip(sp.Name))
	}
	if typ == nil {
		return Spec{}, invalidf("%s: missing type", where)
	}
	sp.Type = *typ
	switch {
	case sp.Type == TypeTensor:
		if tensorSpec == nil {
			return Spec{}, invalidf("%s: a tensor needs a tensor-spec", where)
		}
		var ts struct {
			DType *string         `json:"dtype"`
			Shape json.RawMessage `json:"shape"`
		}
		if err := json.Unmarshal(tensorSpec, &ts); err != nil || ts.DType == nil {
			return Spec{}, invalidf("%s: tensor-spec must be an object with a dtype string and a shape list", where)
		}
		shape, err := parseShape(ts.Shape)
		if err != nil || shape == nil {
			return Spec{}, invalidf("%s: tensor-spec shape must be a list of integers", where)
		}
		sp.IsTensor, sp.DType, sp.Shape, sp.Required = true, *ts.DType, shape, true
	case compositeKey(sp.Type) != "":
		sp.Composite = renderObject(rest)
	}
	return sp, nil
}

func parseParams(text string) ([]ParamSpec, error) {
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil || items == nil {
		msg := "not a list"
		if err != nil {
			msg = jsonProblem(err)
		}
		return nil, invalidf("signature params is not a JSON list of param specs: %s", msg)
	}
	params := make([]ParamSpec, 0, len(items))
	for i, raw := range items {
		where := fmt.Sprintf("signature params[%d]", i)
		pairs, err := orderedObject(raw)
		if err != nil {
			return nil, invalidf("%s is not a JSON object", where)
		}
		var p ParamSpec
		var hasName, hasDefault bool
		var rest []kv
		for _, kv := range pairs {
			switch kv.key {
			case "name":
				hasName = json.Unmarshal(kv.raw, &p.Name) == nil
			case "type", "dtype": // MLflow accepts both spellings
				if err := json.Unmarshal(kv.raw, &p.Type); err != nil {
					return nil, invalidf("%s: type must be a string", where)
				}
				rest = append(rest, keyValue("type", kv.raw))
			case "default":
				hasDefault = true
				p.Default = compactJSON(kv.raw)
			case "shape":
				if isNull(kv.raw) {
					continue
				}
				if p.Shape, err = parseShape(kv.raw); err != nil {
					return nil, invalidf("%s: shape must be null or a list of integers", where)
				}
			default:
				rest = append(rest, kv)
			}
		}
		if !hasName || !hasDefault || p.Type == "" {
			return nil, invalidf("%s: a param needs name, type and default", where)
		}
		if p.Type == TypeObject {
			p.Composite = renderObject(rest)
		}
		params = append(params, p)
	}
	return params, nil
}

func parseShape(raw json.RawMessage) ([]int64, error) {
	var dims []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&dims); err != nil {
		return nil, err
	}
	if dims == nil {
		return nil, errors.New("shape is null")
	}
	shape := make([]int64, 0, len(dims))
	for _, d := range dims {
		n, err := strconv.ParseInt(d.String(), 10, 64)
		if err != nil {
			return nil, err
		}
		shape = append(shape, n)
	}
	return shape, nil
}

// schemaJSON renders a schema the way MLflow's Schema.to_json does: Python's
// json.dumps, keys in MLflow's order.
func schemaJSON(specs []Spec) (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, sp := range specs {
		if i > 0 {
			b.WriteString(", ")
		}
		var pairs []kv
		switch {
		case sp.IsTensor:
			if sp.Name != "" {
				pairs = append(pairs, keyString("name", sp.Name))
			}
			shape, _ := json.Marshal(nonNilShape(sp.Shape))
			dtype, _ := json.Marshal(sp.DType)
			pairs = append(pairs, keyString("type", TypeTensor),
				keyValue("tensor-spec", renderObject([]kv{keyValue("dtype", dtype), keyValue("shape", shape)})))
		default:
			if sp.Composite != nil {
				cp, err := orderedObject(sp.Composite)
				if err != nil {
					return "", invalidf("signature spec %q: composite type is not a JSON object", clip(sp.Name))
				}
				pairs = append(pairs, cp...)
			} else {
				pairs = append(pairs, keyString("type", sp.Type))
			}
			if sp.Name != "" {
				pairs = append(pairs, keyString("name", sp.Name))
			}
			pairs = append(pairs, keyValue("required", []byte(strconv.FormatBool(sp.Required))))
		}
		if err := pyRender(&b, renderObject(pairs)); err != nil {
			return "", err
		}
	}
	b.WriteByte(']')
	return b.String(), nil
}

// paramsJSON renders params the way MLflow's ParamSchema.to_json does.
func paramsJSON(params []ParamSpec) (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		def := p.Default
		if len(def) == 0 {
			def = json.RawMessage("null")
		}
		shape := json.RawMessage("null")
		if p.Shape != nil {
			shape, _ = json.Marshal(p.Shape)
		}
		pairs := []kv{keyString("name", p.Name), keyValue("default", def), keyValue("shape", shape)}
		if p.Composite != nil {
			cp, err := orderedObject(p.Composite)
			if err != nil {
				return "", invalidf("signature param %q: composite type is not a JSON object", clip(p.Name))
			}
			pairs = append(pairs, cp...)
		} else {
			pairs = append(pairs, keyString("type", p.Type))
		}
		if err := pyRender(&b, renderObject(pairs)); err != nil {
			return "", err
		}
	}
	b.WriteByte(']')
	return b.String(), nil
}

func nonNilShape(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// kv is one member of a JSON object, in document order.
type kv struct {
	key string
	raw json.RawMessage
}

func keyValue(k string, raw json.RawMessage) kv { return kv{key: k, raw: raw} }

func keyString(k, v string) kv {
	raw, _ := json.Marshal(v)
	return kv{key: k, raw: raw}
}

// orderedObject splits a JSON object into its members, in order.
func orderedObject(raw json.RawMessage) ([]kv, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var pairs []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		pairs = append(pairs, kv{key: key, raw: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON object")
	}
	return pairs, nil
}

// renderObject joins members into compact JSON.
func renderObject(pairs []kv) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(compactJSON(p.raw))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// pyRender writes a JSON value as Python's json.dumps does with its defaults:
// ", " and ": " separators, non-ASCII escaped as \uXXXX. Member order and
// number spellings are kept.
func pyRender(b *strings.Builder, raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		obj bool
		n   int
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("model: render JSON: %w", err)
		}
		d, isDelim := tok.(json.Delim)
		closing := isDelim && (d == '}' || d == ']')
		if len(stack) > 0 && !closing {
			top := &stack[len(stack)-1]
			switch {
			case top.obj && top.n%2 == 1:
				b.WriteString(": ")
			case top.n > 0:
				b.WriteString(", ")
			}
			top.n++
		}
		switch t := tok.(type) {
		case json.Delim:
			b.WriteRune(rune(t))
			if closing {
				stack = stack[:len(stack)-1]
			} else {
				stack = append(stack, frame{obj: t == '{'})
			}
		case string:
			writePyString(b, t)
		case json.Number:
			b.WriteString(t.String())
		case bool:
			b.WriteString(strconv.FormatBool(t))
		case nil:
			b.WriteString("null")
		}
	}
}

// writePyString quotes s as Python's json.dumps does with ensure_ascii.
func writePyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r > 0x7e && r != 0x7f):
			if r > 0xffff {
				r -= 0x10000
				hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
				for _, u := range []rune{hi, lo} {
					b.WriteString(`\u`)
					for shift := 12; shift >= 0; shift -= 4 {
						b.WriteByte(hex[(u>>shift)&0xf])
					}
				}
				continue
			}
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>shift)&0xf])
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// ColumnMismatch is a column whose type the signature does not accept.
type ColumnMismatch struct {
	Name string
	Got  string
	Want string
}

// SchemaError reports input columns that do not match a signature. It wraps an
// EINVALID *ferry.Error carrying the same message.
type SchemaError struct {
	// Missing are required columns absent from the input, in signature order.
	Missing []string
	// Unexpected are input columns the signature does not name, in input order.
	Unexpected []string
	// Mismatched are columns whose type the signature does not accept.
	Mismatched []ColumnMismatch
	// GotColumns and WantColumns are set when the signature's columns are
	// unnamed and the input has the wrong number of them.
	GotColumns, WantColumns int
}

func (e *SchemaError) message() string {
	const most = 10
	var parts []string
	for i, n := range e.Missing {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more missing", len(e.Missing)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("missing column %q", clip(n)))
	}
	for i, n := range e.Unexpected {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more unexpected", len(e.Unexpected)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("unexpected column %q", clip(n)))
	}
	for i, m := range e.Mismatched {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more mistyped", len(e.Mismatched)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("column %q is %s, want %s", clip(m.Name), m.Got, m.Want))
	}
	if e.WantColumns != e.GotColumns {
		parts = append(parts, fmt.Sprintf("got %d columns, want %d", e.GotColumns, e.WantColumns))
	}
	return "input does not match the model signature: " + strings.Join(parts, "; ")
}

// Error implements error.
func (e *SchemaError) Error() string { return "model: " + e.message() }

// Unwrap returns the EINVALID *ferry.Error behind e.
func (e *SchemaError) Unwrap() error { return ferry.Errorf(ferry.EINVALID, "%s", e.message()) }

// CheckColumns checks input columns against the signature's inputs: every
// required input is present, no column is unknown to the signature, and each
// column whose type is given (types maps a name to an MLflow type name; absent
// or "" means unchecked) has a type the input accepts. A type fits itself, and
// the numeric types widen as MLflow's enforcement allows: integer fits long,
// integer and long fit double, float fits double.
//
// It returns nil when s is nil or has no inputs, a *SchemaError naming every
// missing, unexpected and mistyped column (at most ten of each in the message),
// and an EINVALID error for tensor signatures, which have no columns. When the
// signature's columns are unnamed only their number is checked.
func (s *Signature) CheckColumns(names []string, types map[string]string) error {
	if s == nil || len(s.Inputs) == 0 {
		return nil
	}
	if s.IsTensorBased() {
		return invalidf("the model's signature takes tensors, not named columns")
	}
	if s.Inputs[0].Name == "" {
		if len(names) != len(s.Inputs) {
			return &SchemaError{GotColumns: len(names), WantColumns: len(s.Inputs)}
		}
		return nil
	}
	given := make(map[string]bool, len(names))
	for _, n := range names {
		given[n] = true
	}
	want := make(map[string]Spec, len(s.Inputs))
	e := &SchemaError{}
	for _, sp := range s.Inputs {
		want[sp.Name] = sp
		if sp.Required && !given[sp.Name] {
			e.Missing = append(e.Missing, sp.Name)
		}
	}
	reported := map[string]bool{}
	for _, n := range names {
		sp, ok := want[n]
		if !ok {
			if !reported[n] {
				e.Unexpected = append(e.Unexpected, n)
				reported[n] = true
			}
			continue
		}
		if got := types[n]; got != "" && !typeFits(got, sp.Type) && !reported[n] {
			e.Mismatched = append(e.Mismatched, ColumnMismatch{Name: n, Got: got, Want: sp.Type})
			reported[n] = true
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched) == 0 {
		return nil
	}
	return e
}

// typeFits reports whether a column of type got is accepted where want is.
func typeFits(got, want string) bool {
	if got == want || want == TypeAny {
		return true
	}
	switch want {
	case TypeLong:
		return got == TypeInteger
	case TypeDouble:
		return got == TypeInteger || got == TypeLong || got == TypeFloat
	}
	return false
}

// validUTF8 reports whether every string of the signature is valid UTF-8, so
// that it survives a JSON round trip unchanged.
func (s *Signature) validUTF8() bool {
	for _, list := range [][]Spec{s.Inputs, s.Outputs} {
		for _, sp := range list {
			if !utf8.ValidString(sp.Name) || !utf8.ValidString(sp.Type) || !utf8.ValidString(sp.DType) {
				return false
			}
		}
	}
	for _, p := range s.Params {
		if !utf8.ValidString(p.Name) || !utf8.ValidString(p.Type) {
			return false
		}
	}
	return true
}
