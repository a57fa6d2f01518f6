package serving

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Columns builds the input tensors of a column-based model value by value,
// from any source — JSON rows, CSV text, Parquet values — checking each value
// against the column it goes to before the runtime sees it. Build one with
// Schema.NewColumns; it is not safe for concurrent use.
//
// The Append methods take the index of a source column (the order of the
// names given to NewColumns) and return EINVALID errors that name the column,
// the row and what was expected. Rows are counted per column; Tensors checks
// that every column has the same number.
type Columns struct {
	schema *Schema
	// RowOffset is added to row numbers in messages (1-based rows are
	// RowOffset+1, ...), for callers that build successive batches.
	RowOffset int
	cols      []colBuf // one per source column
	bySchema  []int    // schema input index → source column, -1 when absent
	ignored   []string // source columns the model does not take, when ignored
}

type colBuf struct {
	spec *InputSpec // nil for an ignored column
	t    runtime.Tensor
	n    int
}

// NewColumns prepares to build the inputs from source columns called names,
// in that order. Errors (EINVALID): a name the model does not take (the
// message lists the expected ones), a name given twice, a required column
// missing.
func (s *Schema) NewColumns(names []string) (*Columns, error) { return s.newColumns(names, false) }

// NewColumnsIgnoring is NewColumns for a source that may hold columns the
// model does not take, as MLflow's scoring server allows: they are ignored
// (appending to them does nothing), and named in the error of a missing
// column.
func (s *Schema) NewColumnsIgnoring(names []string) (*Columns, error) {
	return s.newColumns(names, true)
}

func (s *Schema) newColumns(names []string, ignoreUnknown bool) (*Columns, error) {
	c := &Columns{schema: s, cols: make([]colBuf, len(names)), bySchema: make([]int, len(s.Inputs))}
	for i := range c.bySchema {
		c.bySchema[i] = -1
	}
	var extra []string
	for i, name := range names {
		k, ok := s.Lookup(name)
		if !ok && ignoreUnknown {
			c.ignored = append(c.ignored, name)
			continue
		}
		if !ok {
			extra = append(extra, "'"+clip(name)+"'")
			continue
		}
		if c.bySchema[k] >= 0 {
			return nil, invalidf("Column '%s' appears twice.", clip(name))
		}
		c.bySchema[k] = i
		sp := &s.Inputs[k]
		c.cols[i] = colBuf{spec: sp, t: runtime.Tensor{Name: sp.Name, Datatype: sp.Datatype}}
	}
	if len(extra) > 0 {
		return nil, invalidf("Unknown column%s %s. The model takes: %s.", plural(len(extra)), strings.Join(extra, ", "), s.expected())
	}
	var missing []string
	for k, src := range c.bySchema {
		if src < 0 && s.Inputs[k].Required {
			missing = append(missing, fmt.Sprintf("'%s' (%s)", s.Inputs[k].Name, typeName(&s.Inputs[k])))
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("Missing required column%s %s. The model takes: %s.", plural(len(missing)), strings.Join(missing, ", "), s.expected())
		if len(c.ignored) > 0 {
			msg += fmt.Sprintf(" Ignored, as the model does not take them: %s.", quoteList(c.ignored))
		}
		return nil, schemaf("%s", msg)
	}
	return c, nil
}

// Reset empties the columns for another batch, keeping their buffers.
func (c *Columns) Reset() {
	for i := range c.cols {
		t := &c.cols[i].t
		t.Bool, t.Int, t.FP32, t.FP64, t.Str = t.Bool[:0], t.Int[:0], t.FP32[:0], t.FP64[:0], t.Str[:0]
		c.cols[i].n = 0
	}
}

// Grow makes room for n more rows in every column.
func (c *Columns) Grow(n int) {
	for i := range c.cols {
		if c.cols[i].spec == nil {
			continue
		}
		t := &c.cols[i].t
		switch t.Datatype {
		case runtime.FP64:
			t.FP64 = grow(t.FP64, n)
		case runtime.FP32:
			t.FP32 = grow(t.FP32, n)
		case runtime.BOOL:
			t.Bool = grow(t.Bool, n)
		case runtime.BYTES:
			t.Str = grow(t.Str, n)
		default:
			t.Int = grow(t.Int, n)
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	out := make([]T, len(s), len(s)+n)
	copy(out, s)
	return out
}

// Tensors returns the built tensors in the schema's order, shape [rows],
// with all-missing tensors for optional float columns that were not given.
// The tensors alias the builder's buffers until the next Reset. Rows of
// unequal length are EINVALID.
func (c *Columns) Tensors() ([]runtime.Tensor, int, error) {
	rows := -1
	from := ""
	for i := range c.cols {
		if c.cols[i].spec == nil {
			continue
		}
		if rows < 0 {
			rows, from = c.cols[i].n, c.cols[i].t.Name
		} else if c.cols[i].n != rows {
			return nil, 0, schemaf("Columns have different numbers of rows: '%s' has %d, '%s' has %d.", clip(from), rows, clip(c.cols[i].t.Name), c.cols[i].n)
		}
	}
	if rows < 0 {
		rows = 0
	}
	out := make([]runtime.Tensor, 0, len(c.schema.Inputs))
	for k, src := range c.bySchema {
		if src < 0 {
			if t, ok := missingColumn(&c.schema.Inputs[k], rows); ok {
				out = append(out, t)
			}
			continue
		}
		t := c.cols[src].t
		t.Shape = []int64{int64(rows)}
		out = append(out, t)
	}
	return out, rows, nil
}

func (c *Columns) errorf(i int, format string, args ...any) error {
	cb := &c.cols[i]
	return invalidf("Column '%s' row %d: %s", clip(cb.spec.Name), c.RowOffset+cb.n+1, fmt.Sprintf(format, args...))
}

// AppendNull appends a missing value: NaN in a float column. A required
// column, or one whose datatype cannot hold a missing value, is EINVALID —
// except an optional BYTES column, which gets "".
func (c *Columns) AppendNull(i int) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	cb := &c.cols[i]
	if cb.spec.Required {
		return c.errorf(i, "the value is missing; the column is required (%s).", typeName(cb.spec))
	}
	t := &cb.t
	switch t.Datatype {
	case runtime.FP64:
		t.FP64 = append(t.FP64, math.NaN())
	case runtime.FP32:
		t.FP32 = append(t.FP32, float32(math.NaN()))
	case runtime.BYTES:
		t.Str = append(t.Str, "")
	default:
		return c.errorf(i, "the value is missing; a %s column cannot hold missing values.", typeName(cb.spec))
	}
	cb.n++
	return nil
}

// AppendFloat appends a number. Integer columns take integral values in
// their range; string, boolean and datetime columns take no numbers. NaN is
// a missing value (see AppendNull).
func (c *Columns) AppendFloat(i int, v float64) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	if math.IsNaN(v) {
		return c.AppendNull(i)
	}
	cb := &c.cols[i]
	t := &cb.t
	switch t.Datatype {
	case runtime.FP64:
		t.FP64 = append(t.FP64, v)
	case runtime.FP32:
		t.FP32 = append(t.FP32, float32(v))
	case runtime.BOOL, runtime.BYTES:
		return c.errorf(i, "%s is a number; the column takes %s.", formatNumber(v), typeName(cb.spec))
	default:
		info, _ := infoOf(t.Datatype)
		if v != math.Trunc(v) || v < float64(info.min) || v > float64(info.max) || math.IsInf(v, 0) {
			return c.errorf(i, "%s is not an integer within the range of %s.", formatNumber(v), typeName(cb.spec))
		}
		t.Int = append(t.Int, int64(v))
	}
	cb.n++
	return nil
}

// AppendInt appends an integer; float columns take it as a number.
func (c *Columns) AppendInt(i int, v int64) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	cb := &c.cols[i]
	t := &cb.t
	switch t.Datatype {
	case runtime.FP64:
		t.FP64 = append(t.FP64, float64(v))
	case runtime.FP32:
		t.FP32 = append(t.FP32, float32(v))
	case runtime.BOOL, runtime.BYTES:
		return c.errorf(i, "%d is a number; the column takes %s.", v, typeName(cb.spec))
	default:
		info, _ := infoOf(t.Datatype)
		if v < info.min || v > info.max {
			return c.errorf(i, "%d is out of the range of %s.", v, typeName(cb.spec))
		}
		t.Int = append(t.Int, v)
	}
	cb.n++
	return nil
}

// AppendBool appends a boolean; only boolean columns take one.
func (c *Columns) AppendBool(i int, v bool) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	cb := &c.cols[i]
	if cb.t.Datatype != runtime.BOOL {
		return c.errorf(i, "%t is a boolean; the column takes %s.", v, typeName(cb.spec))
	}
	cb.t.Bool = append(cb.t.Bool, v)
	cb.n++
	return nil
}

// AppendString appends a string value (a JSON string): string and binary
// columns take it as it is, datetime columns parse it (RFC 3339 and the
// forms Ferry's CSV reader infers). Numeric columns take no strings.
func (c *Columns) AppendString(i int, v string) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	cb := &c.cols[i]
	if cb.spec.ColumnType == model.TypeDatetime {
		ts, ok := parseTime(v)
		if !ok {
			return c.errorf(i, "%q is not a date and time (want RFC 3339, e.g. 2001-05-01T08:30:00Z).", clip(v))
		}
		return c.AppendTime(i, ts, v)
	}
	if cb.t.Datatype != runtime.BYTES {
		return c.errorf(i, "%q is a string; the column takes %s.", clip(v), typeName(cb.spec))
	}
	cb.t.Str = append(cb.t.Str, v)
	cb.n++
	return nil
}

// AppendTime appends an instant to a datetime (or string) column: as text
// for BYTES — text itself when not empty, else RFC 3339 — and as Unix
// seconds for INT64 and FP64 (the convention of Ferry's native runtime).
func (c *Columns) AppendTime(i int, ts time.Time, text string) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	cb := &c.cols[i]
	t := &cb.t
	switch t.Datatype {
	case runtime.BYTES:
		if text == "" {
			text = ts.UTC().Format(time.RFC3339Nano)
		}
		t.Str = append(t.Str, text)
	case runtime.INT64:
		t.Int = append(t.Int, ts.Unix())
	case runtime.FP64:
		t.FP64 = append(t.FP64, float64(ts.UnixNano())/1e9)
	default:
		return c.errorf(i, "a date and time does not go in a %s column.", typeName(cb.spec))
	}
	cb.n++
	return nil
}

// AppendText appends a value given as text (a CSV field), parsed by the
// column's type. "", "NA", "NaN", "nan", "null" and "None" are missing.
func (c *Columns) AppendText(i int, v string) error {
	if c.cols[i].spec == nil {
		return nil // an ignored column
	}
	cb := &c.cols[i]
	t := &cb.t
	if isMissingText(v) && (t.Datatype != runtime.BYTES || v == "" || cb.spec.ColumnType == model.TypeDatetime) {
		return c.AppendNull(i)
	}
	switch t.Datatype {
	case runtime.FP64, runtime.FP32:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil && !isRangeErr(err) {
			return c.errorf(i, "%q is not a number; the column takes %s.", clip(v), typeName(cb.spec))
		}
		return c.AppendFloat(i, f)
	case runtime.BOOL:
		switch strings.TrimSpace(v) {
		case "true", "True", "TRUE", "1":
			return c.AppendBool(i, true)
		case "false", "False", "FALSE", "0":
			return c.AppendBool(i, false)
		}
		return c.errorf(i, "%q is not a boolean (true or false).", clip(v))
	case runtime.BYTES:
		return c.AppendString(i, v)
	}
	if cb.spec.ColumnType == model.TypeDatetime {
		return c.AppendString(i, v)
	}
	s := strings.TrimSpace(v)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return c.errorf(i, "%q is not an integer; the column takes %s.", clip(v), typeName(cb.spec))
		}
		return c.AppendFloat(i, f)
	}
	return c.AppendInt(i, n)
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func isMissingText(v string) bool {
	switch v {
	case "", "NA", "NaN", "nan", "null", "None", "N/A":
		return true
	}
	return false
}

// AppendJSON appends a value given as JSON text (a JSON Lines field): null,
// booleans, numbers and strings as the other Append methods take them;
// lists and objects only to columns of composite types, as their JSON text.
func (c *Columns) AppendJSON(i int, value []byte) error {
	s := &scanner{b: value}
	err := c.appendJSON(i, s)
	if err == nil {
		err = s.end()
	}
	return jsonErr(err)
}

// Spec returns the input that source column i goes to; nil for an ignored
// column.
func (c *Columns) Spec(i int) *InputSpec { return c.cols[i].spec }

// appendJSON appends the JSON value at s.
func (c *Columns) appendJSON(i int, s *scanner) error {
	cb := &c.cols[i]
	if cb.spec == nil { // an ignored column
		_, err := s.skip()
		return err
	}
	switch ch := s.peek(); {
	case ch == 'n':
		if !s.literal("null") {
			return s.unexpected("a JSON value")
		}
		return c.AppendNull(i)
	case ch == 't' || ch == 'f':
		v := s.literal("true")
		if !v && !s.literal("false") {
			return s.unexpected("a JSON value")
		}
		return c.AppendBool(i, v)
	case ch == '"':
		v, err := s.str()
		if err != nil {
			return err
		}
		return c.AppendString(i, v)
	case ch == '-' || isDigit(ch):
		num, err := s.number()
		if err != nil {
			return err
		}
		if v, ok := parseInt(num); ok {
			return c.AppendInt(i, v)
		}
		v, err := strconv.ParseFloat(string(num), 64)
		if err != nil && !isRangeErr(err) {
			return c.errorf(i, "%s is not a number.", clipBytes(num))
		}
		return c.AppendFloat(i, v)
	case ch == '[' || ch == '{':
		raw, err := s.skip()
		if err != nil {
			return err
		}
		if cb.t.Datatype == runtime.BYTES && cb.spec.ColumnType != model.TypeDatetime && cb.spec.ColumnType != model.TypeString {
			cb.t.Str = append(cb.t.Str, string(raw)) // composite types travel as JSON text
			cb.n++
			return nil
		}
		return c.errorf(i, "the value is %s; the column takes %s.", map[byte]string{'[': "a list", '{': "an object"}[ch], typeName(cb.spec))
	}
	return s.unexpected("a JSON value")
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// parseTime parses a date and time in the forms Ferry's data readers infer
// (dataset.ParseTime).
func parseTime(s string) (time.Time, bool) { return dataset.ParseTime(s) }
