package serving

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// unsupportedMediaType is a request body of a content type a route does not
// take (415).
func unsupportedMediaType(msg string) error {
	return &httpmw.StatusError{Status: http.StatusUnsupportedMediaType, Code: ferry.EINVALID, Message: msg}
}

// noSchema refuses row formats for a model that declares no inputs.
func noSchema(schema *Schema) error {
	if len(schema.Inputs) == 0 {
		return invalidf("The model declares no inputs (no signature), so rows cannot be matched to inputs; use the Open Inference Protocol V2 (/v2/models/NAME/infer) with named tensors.")
	}
	return nil
}

// IgnoredColumnsHeader names, on an answer of POST /invocations, the columns
// (or inputs) of the request that the model does not take and that were
// ignored, as MLflow's scoring server ignores them: comma-separated, each
// name percent-encoded where it holds a comma, a percent sign, a space, a
// control or a non-ASCII character; at most maxIgnoredListed names, then
// "…(N more)". V2 and V1 requests refuse unknown inputs instead, as Triton
// and KServe's V2 servers do.
const IgnoredColumnsHeader = "X-Ferry-Ignored-Columns"

const maxIgnoredListed = 64

// ignoredHeader is the value of IgnoredColumnsHeader for names.
func ignoredHeader(names []string) string {
	var b strings.Builder
	for i, name := range names {
		if i == maxIgnoredListed {
			fmt.Fprintf(&b, ", …(%d more)", len(names)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		for j := 0; j < len(name); j++ {
			c := name[j]
			if c <= ' ' || c >= 0x7f || c == ',' || c == '%' {
				fmt.Fprintf(&b, "%%%02X", c)
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rowDecoder decodes one request of a row protocol against a model's schema.
type rowDecoder struct {
	schema *Schema
	// ignoreUnknown skips the columns (and the inputs of a tensor model)
	// that the model does not take, as MLflow's scoring server does (its
	// schema enforcement warns of "extra inputs" and drops them); they are
	// collected in ignored. Otherwise they are EINVALID.
	ignoreUnknown bool
	ignored       []string
}

func newRowDecoder(schema *Schema, ignoreUnknown bool) *rowDecoder {
	return &rowDecoder{schema: schema, ignoreUnknown: ignoreUnknown}
}

// columns prepares the builder of source columns names (NewColumns, or
// NewColumnsIgnoring when unknown columns are ignored).
func (d *rowDecoder) columns(names []string) (*Columns, error) {
	if !d.ignoreUnknown {
		return d.schema.NewColumns(names)
	}
	for _, name := range names {
		if _, ok := d.schema.Lookup(name); !ok {
			d.ignore(name)
		}
	}
	return d.schema.NewColumnsIgnoring(names)
}

// ignore notes an ignored column or input once.
func (d *rowDecoder) ignore(name string) {
	for _, n := range d.ignored {
		if n == name {
			return
		}
	}
	d.ignored = append(d.ignored, name)
}

// unknownInput answers an input a tensor model does not take: skipped when
// unknown inputs are ignored, else EINVALID with msg.
func (d *rowDecoder) unknownInput(s *scanner, name string, msg error) error {
	if !d.ignoreUnknown {
		return msg
	}
	d.ignore(name)
	_, err := s.skip()
	return err
}

// decodeInvocations decodes an MLflow scoring request: JSON with exactly one
// of dataframe_split, dataframe_records, instances or inputs (and optional
// params, which are accepted and not passed on), or CSV with a header.
func decodeInvocations(body []byte, contentType string, d *rowDecoder) ([]runtime.Tensor, int, error) {
	schema := d.schema
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "application/json", nil
	}
	if err != nil {
		return nil, 0, unsupportedMediaType("Unreadable Content-Type; send application/json or text/csv.")
	}
	if err := noSchema(schema); err != nil {
		return nil, 0, err
	}
	switch mt {
	case "application/json":
		return d.invocationsJSON(body)
	case "text/csv":
		if !schema.Columns {
			return nil, 0, invalidf("CSV input needs a model with a column signature; this one takes tensors: %s. Send JSON with 'inputs' or 'instances'.", schema.expected())
		}
		return d.csv(body)
	}
	return nil, 0, unsupportedMediaType("Content-Type '" + clip(mt) + "' is not supported; send application/json (dataframe_split, dataframe_records, instances or inputs) or text/csv.")
}

const invocationKeys = "'dataframe_split', 'dataframe_records', 'instances' or 'inputs'"

func (d *rowDecoder) invocationsJSON(body []byte) ([]runtime.Tensor, int, error) {
	s := &scanner{b: body}
	if s.peek() != '{' {
		return nil, 0, invalidf("The request body must be a JSON object with one of %s, not %s.", invocationKeys, s.kind())
	}
	var format string
	var value []byte
	var others []string
	err := s.object(func(key []byte) error {
		k := string(key)
		switch k {
		case "dataframe_split", "dataframe_records", "instances", "inputs":
			if format != "" {
				return invalidf("The request has both '%s' and '%s'; send exactly one of %s.", format, k, invocationKeys)
			}
			format = k
			var err error
			value, err = s.skip()
			return err
		case "params":
			if s.peek() != '{' {
				return invalidf("'params' must be an object, not %s.", s.kind())
			}
		default:
			others = append(others, "'"+clip(k)+"'")
		}
		_, err := s.skip()
		return err
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, 0, jsonErr(err)
	}
	if len(others) > 0 {
		return nil, 0, invalidf("Unknown key%s %s; send exactly one of %s (and optionally 'params').", plural(len(others)), strings.Join(others, ", "), invocationKeys)
	}
	if format == "" {
		return nil, 0, invalidf("The request has none of %s.", invocationKeys)
	}
	vs := &scanner{b: value}
	var tensors []runtime.Tensor
	var rows int
	switch format {
	case "dataframe_split":
		tensors, rows, err = d.split(vs)
	case "dataframe_records":
		if vs.peek() != '[' {
			return nil, 0, invalidf("'dataframe_records' must be a list of row objects, not %s.", vs.kind())
		}
		tensors, rows, err = d.records(vs)
	case "instances":
		tensors, rows, err = d.instances(vs, "instances")
	case "inputs":
		tensors, rows, err = d.inputsValue(vs)
	}
	if err != nil {
		return nil, 0, jsonErr(err)
	}
	return tensors, rows, nil
}

// decodeSplit decodes pandas' split orientation: {"columns", "data", "index"}.
func (d *rowDecoder) split(s *scanner) ([]runtime.Tensor, int, error) {
	schema := d.schema
	if !schema.Columns {
		return nil, 0, invalidf("'dataframe_split' needs a model with a column signature; this one takes tensors: %s. Send 'inputs' or 'instances'.", schema.expected())
	}
	if s.peek() != '{' {
		return nil, 0, invalidf("'dataframe_split' must be an object with 'columns' and 'data', not %s.", s.kind())
	}
	var columns, data []byte
	err := s.object(func(key []byte) error {
		v, err := s.skip()
		switch string(key) {
		case "columns":
			columns = v
		case "data":
			data = v
		case "index":
		default:
			return invalidf("'dataframe_split' has an unknown key '%s'; it takes 'columns', 'data' and 'index'.", clip(string(key)))
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var names []string
	if columns == nil {
		for _, in := range schema.Inputs {
			names = append(names, in.Name)
		}
	} else {
		cs := &scanner{b: columns}
		if cs.peek() != '[' {
			return nil, 0, invalidf("'dataframe_split.columns' must be a list of column names, not %s.", cs.kind())
		}
		err := cs.array(func(i int) error {
			if cs.peek() != '"' {
				return invalidf("'dataframe_split.columns[%d]' must be a string, not %s.", i, cs.kind())
			}
			name, err := cs.str()
			names = append(names, name)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
	}
	if data == nil {
		return nil, 0, invalidf("'dataframe_split' has no 'data'.")
	}
	cols, err := d.columns(names)
	if err != nil {
		return nil, 0, err
	}
	ds := &scanner{b: data}
	if ds.peek() != '[' {
		return nil, 0, invalidf("'dataframe_split.data' must be a list of rows, not %s.", ds.kind())
	}
	err = ds.array(func(r int) error { return positionalRow(ds, cols, r, len(names)) })
	if err != nil {
		return nil, 0, err
	}
	return cols.Tensors()
}

// positionalRow decodes one row given as a list of values in column order
// (or, for a single column, a bare value).
func positionalRow(s *scanner, cols *Columns, r, width int) error {
	if s.peek() != '[' {
		if width == 1 {
			return cols.appendJSON(0, s)
		}
		return invalidf("Row %d is %s; rows are lists of %d values.", r+1, s.kind(), width)
	}
	n := 0
	err := s.array(func(i int) error {
		if i >= width {
			return invalidf("Row %d has more than %d values, one per column.", r+1, width)
		}
		n++
		return cols.appendJSON(i, s)
	})
	if err != nil {
		return err
	}
	if n != width {
		return invalidf("Row %d has %d value%s; it needs %d, one per column.", r+1, n, plural(n), width)
	}
	return nil
}

// decodeRecords decodes a list of row objects keyed by column name. Keys a
// row leaves out are missing values in that row.
func (d *rowDecoder) records(s *scanner) ([]runtime.Tensor, int, error) {
	if !d.schema.Columns {
		return d.tensorRows(s)
	}
	start := s.i
	var names []string
	index := map[string]int{}
	err := s.array(func(r int) error {
		if s.peek() != '{' {
			return invalidf("Row %d is %s; rows are all objects keyed by column name, or all lists.", r+1, s.kind())
		}
		return s.object(func(key []byte) error {
			if _, ok := index[string(key)]; !ok {
				index[string(key)] = len(names)
				names = append(names, string(key))
			}
			_, err := s.skip()
			return err
		})
	})
	if err != nil {
		return nil, 0, err
	}
	cols, err := d.columns(names)
	if err != nil {
		return nil, 0, err
	}
	s.i = start
	set := make([]bool, len(names))
	err = s.array(func(r int) error {
		clear(set)
		err := s.object(func(key []byte) error {
			k := index[string(key)]
			if set[k] {
				return invalidf("Row %d has column '%s' twice.", r+1, clip(string(key)))
			}
			set[k] = true
			return cols.appendJSON(k, s)
		})
		if err != nil {
			return err
		}
		for k, ok := range set {
			if !ok {
				if err := cols.AppendNull(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return cols.Tensors()
}

// decodeInstances decodes a list of rows: V1's and MLflow's "instances". For
// a column model a row is an object keyed by column name, a list in the
// signature's column order, or (one column) a bare value; for a tensor
// model a row is one row of the single input, or an object of rows by
// input name.
func (d *rowDecoder) instances(s *scanner, key string) ([]runtime.Tensor, int, error) {
	schema := d.schema
	if s.peek() != '[' {
		return nil, 0, invalidf("'%s' must be a list of rows, not %s.", key, s.kind())
	}
	if !schema.Columns {
		return d.tensorRows(s)
	}
	save := s.i
	s.i++ // look at the first row
	first := s.peek()
	s.i = save
	if first == '{' {
		return d.records(s)
	}
	names := make([]string, len(schema.Inputs))
	for i, in := range schema.Inputs {
		names[i] = in.Name
	}
	cols, err := d.columns(names)
	if err != nil {
		return nil, 0, err
	}
	err = s.array(func(r int) error { return positionalRow(s, cols, r, len(names)) })
	if err != nil {
		return nil, 0, err
	}
	return cols.Tensors()
}

// decodeTensorRows decodes rows of a tensor model.
func (d *rowDecoder) tensorRows(s *scanner) ([]runtime.Tensor, int, error) {
	schema := d.schema
	builders := make([]*jsonTensor, len(schema.Inputs))
	for i := range schema.Inputs {
		builders[i] = newJSONTensor(&schema.Inputs[i])
	}
	err := s.array(func(r int) error {
		if s.peek() != '{' {
			if len(builders) != 1 {
				return invalidf("Row %d is %s; the model takes several inputs (%s), so each row is an object keyed by input name.", r+1, s.kind(), schema.expected())
			}
			return builders[0].appendRow(s)
		}
		got := 0
		err := s.object(func(key []byte) error {
			k, ok := schema.Lookup(string(key))
			if !ok {
				return d.unknownInput(s, string(key), invalidf("Row %d has an unknown input '%s'. The model takes: %s.", r+1, clip(string(key)), schema.expected()))
			}
			if builders[k].rows != r {
				return invalidf("Row %d has input '%s' twice.", r+1, clip(string(key)))
			}
			got++
			return builders[k].appendRow(s)
		})
		if err != nil {
			return err
		}
		if got != len(builders) {
			for _, b := range builders {
				if b.rows != r+1 {
					return invalidf("Row %d has no input '%s'. The model takes: %s.", r+1, clip(b.spec.Name), schema.expected())
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return finishTensors(builders)
}

func finishTensors(builders []*jsonTensor) ([]runtime.Tensor, int, error) {
	out := make([]runtime.Tensor, len(builders))
	rows := -1
	for i, b := range builders {
		t, err := b.finish()
		if err != nil {
			return nil, 0, err
		}
		if rows >= 0 && b.rows != rows {
			return nil, 0, schemaf("Inputs have different numbers of rows: '%s' has %d, '%s' has %d.", clip(builders[0].spec.Name), rows, clip(b.spec.Name), b.rows)
		}
		rows = b.rows
		out[i] = t
	}
	return out, max(rows, 0), nil
}

// decodeInputsValue decodes MLflow's "inputs": for a column model, an object
// of column → list of values, or a list of rows; for a tensor model, an
// object of input → tensor, or the single input's tensor as a list.
func (d *rowDecoder) inputsValue(s *scanner) ([]runtime.Tensor, int, error) {
	schema := d.schema
	switch s.peek() {
	case '[':
		if schema.Columns {
			return d.instances(s, "inputs")
		}
		if len(schema.Inputs) != 1 {
			return nil, 0, invalidf("'inputs' is a list, but the model takes several inputs (%s); send an object keyed by input name.", schema.expected())
		}
		b := newJSONTensor(&schema.Inputs[0])
		if err := b.appendWhole(s); err != nil {
			return nil, 0, err
		}
		return finishTensors([]*jsonTensor{b})
	case '{':
	default:
		return nil, 0, invalidf("'inputs' must be an object keyed by input name or a list, not %s.", s.kind())
	}
	if !schema.Columns {
		builders := make([]*jsonTensor, 0, len(schema.Inputs))
		err := s.object(func(key []byte) error {
			k, ok := schema.Lookup(string(key))
			if !ok {
				return d.unknownInput(s, string(key), invalidf("Unknown input '%s'. The model takes: %s.", clip(string(key)), schema.expected()))
			}
			for _, b := range builders {
				if b.spec == &schema.Inputs[k] {
					return invalidf("Input '%s' appears twice.", clip(string(key)))
				}
			}
			b := newJSONTensor(&schema.Inputs[k])
			builders = append(builders, b)
			return b.appendWhole(s)
		})
		if err != nil {
			return nil, 0, err
		}
		if len(builders) != len(schema.Inputs) {
			var missing []string
			for k := range schema.Inputs {
				found := false
				for _, b := range builders {
					found = found || b.spec == &schema.Inputs[k]
				}
				if !found {
					missing = append(missing, "'"+schema.Inputs[k].Name+"'")
				}
			}
			return nil, 0, invalidf("Missing input%s %s. The model takes: %s.", plural(len(missing)), strings.Join(missing, ", "), schema.expected())
		}
		// the schema's order
		ordered := make([]*jsonTensor, 0, len(builders))
		for k := range schema.Inputs {
			for _, b := range builders {
				if b.spec == &schema.Inputs[k] {
					ordered = append(ordered, b)
				}
			}
		}
		return finishTensors(ordered)
	}
	// Columns: first the keys, then the values.
	start := s.i
	var names []string
	err := s.object(func(key []byte) error {
		names = append(names, string(key))
		_, err := s.skip()
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	cols, err := d.columns(names)
	if err != nil {
		return nil, 0, err
	}
	s.i = start
	k := 0
	err = s.object(func([]byte) error {
		i := k
		k++
		if s.peek() != '[' {
			return cols.appendJSON(i, s)
		}
		return s.array(func(int) error { return cols.appendJSON(i, s) })
	})
	if err != nil {
		return nil, 0, err
	}
	return cols.Tensors()
}

// decodeCSV decodes CSV with a header row of column names.
func (d *rowDecoder) csv(body []byte) ([]runtime.Tensor, int, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, 0, invalidf("The CSV body is empty; send a header row of column names, then the rows.")
	}
	if err != nil {
		return nil, 0, csvErr(err)
	}
	names := append([]string(nil), header...)
	cols, err := d.columns(names)
	if err != nil {
		return nil, 0, err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, csvErr(err)
		}
		for i, v := range rec {
			if err := cols.AppendText(i, v); err != nil {
				return nil, 0, err
			}
		}
	}
	return cols.Tensors()
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return ferry.Errorf(ferry.EINVALID, "Malformed CSV at line %d: %v.", pe.Line, pe.Err)
	}
	return invalidf("Malformed CSV: %v.", err)
}

// decodeV1 decodes a KServe V1 predict request: {"instances": [...]}.
// Unknown columns are EINVALID.
func decodeV1(body []byte, schema *Schema) ([]runtime.Tensor, int, error) {
	if err := noSchema(schema); err != nil {
		return nil, 0, err
	}
	s := &scanner{b: body}
	if s.peek() != '{' {
		return nil, 0, invalidf("The request body must be a JSON object with 'instances', not %s.", s.kind())
	}
	var value []byte
	err := s.object(func(key []byte) error {
		v, err := s.skip()
		switch string(key) {
		case "instances":
			value = v
		case "parameters":
		default:
			return invalidf("Unknown key '%s'; a V1 predict request has 'instances' (a list of rows).", clip(string(key)))
		}
		return err
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, 0, jsonErr(err)
	}
	if value == nil {
		return nil, 0, invalidf("The request has no 'instances' (a list of rows).")
	}
	t, rows, err := newRowDecoder(schema, false).instances(&scanner{b: value}, "instances")
	return t, rows, jsonErr(err)
}
