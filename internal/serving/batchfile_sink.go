package serving

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Kinds of output values.
const (
	kindFloat  = 'f'
	kindInt    = 'i'
	kindString = 's'
	kindBool   = 'b'
)

func kindOfDatatype(dt string) byte {
	switch dt {
	case runtime.FP64, runtime.FP32:
		return kindFloat
	case runtime.BOOL:
		return kindBool
	case runtime.BYTES:
		return kindString
	}
	return kindInt
}

// keptText is row r of a kept input column as CSV text ("" when missing).
func keptText(c *dataset.BatchColumn, r int) string {
	if c.Null[r] {
		return ""
	}
	switch c.Kind {
	case dataset.ValueFloat:
		return formatFloat(c.Float[r])
	case dataset.ValueInt:
		return strconv.FormatInt(c.Int[r], 10)
	case dataset.ValueTime:
		return time.Unix(0, c.Int[r]).UTC().Format(time.RFC3339Nano)
	case dataset.ValueBool:
		return strconv.FormatBool(c.Bool[r])
	case dataset.ValueJSON:
		var s string
		if json.Unmarshal([]byte(c.Str[r]), &s) == nil {
			return s
		}
	}
	return c.Str[r]
}

// appendKeptJSON appends row r of a kept input column as a JSON value.
func appendKeptJSON(b []byte, c *dataset.BatchColumn, r int) []byte {
	if c.Null[r] {
		return append(b, "null"...)
	}
	switch c.Kind {
	case dataset.ValueFloat:
		return appendJSONFloat(b, c.Float[r])
	case dataset.ValueInt:
		return strconv.AppendInt(b, c.Int[r], 10)
	case dataset.ValueTime:
		return appendJSONString(b, time.Unix(0, c.Int[r]).UTC().Format(time.RFC3339Nano))
	case dataset.ValueBool:
		return strconv.AppendBool(b, c.Bool[r])
	case dataset.ValueJSON:
		return append(b, c.Str[r]...)
	}
	return appendJSONString(b, c.Str[r])
}

// keptValue is row r of a kept input column as a Parquet value.
func keptValue(c *dataset.BatchColumn, r int) parquet.Value {
	switch c.Kind {
	case dataset.ValueFloat:
		return parquet.DoubleValue(c.Float[r])
	case dataset.ValueInt:
		return parquet.Int64Value(c.Int[r])
	case dataset.ValueTime:
		return parquet.Int64Value(c.Int[r] / 1000)
	case dataset.ValueBool:
		return parquet.BooleanValue(c.Bool[r])
	}
	return parquet.ByteArrayValue([]byte(keptText(c, r)))
}

func formatFloat(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func appendJSONFloat(b []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, x, 'g', -1, 64)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// outColumn is one column of the predictions: element off + r*per of a
// model output tensor for row r.
type outColumn struct {
	name     string
	kind     byte
	t        *runtime.Tensor
	off, per int
}

func (o *outColumn) text(r int) string {
	i := o.off + r*o.per
	switch {
	case o.t.FP64 != nil:
		return formatFloat(o.t.FP64[i])
	case o.t.FP32 != nil:
		return formatFloat(float64(o.t.FP32[i]))
	case o.t.Int != nil:
		return strconv.FormatInt(o.t.Int[i], 10)
	case o.t.Bool != nil:
		return strconv.FormatBool(o.t.Bool[i])
	}
	return o.t.Str[i]
}

func (o *outColumn) appendJSON(b []byte, r int) []byte {
	i := o.off + r*o.per
	switch {
	case o.t.FP64 != nil:
		return appendJSONFloat(b, o.t.FP64[i])
	case o.t.FP32 != nil:
		return appendJSONFloat(b, float64(o.t.FP32[i]))
	case o.t.Int != nil:
		return strconv.AppendInt(b, o.t.Int[i], 10)
	case o.t.Bool != nil:
		return strconv.AppendBool(b, o.t.Bool[i])
	}
	return appendJSONString(b, o.t.Str[i])
}

func (o *outColumn) value(r int) parquet.Value {
	i := o.off + r*o.per
	switch {
	case o.t.FP64 != nil:
		return parquet.DoubleValue(o.t.FP64[i])
	case o.t.FP32 != nil:
		return parquet.DoubleValue(float64(o.t.FP32[i]))
	case o.t.Int != nil:
		return parquet.Int64Value(o.t.Int[i])
	case o.t.Bool != nil:
		return parquet.BooleanValue(o.t.Bool[i])
	}
	return parquet.ByteArrayValue([]byte(o.t.Str[i]))
}

// outputColumns lays out the model's outputs as columns: one per output of
// one value a row, K for an output of [rows, K] (named NAME_LABEL by the
// signature's output names when there are K of them, else NAME_0, ...). An
// output named like a kept input column is prefixed with "predicted_".
func outputColumns(outs []runtime.Tensor, rows int, schema *Schema, kept []dataset.BatchColumn) ([]outColumn, error) {
	taken := map[string]bool{}
	for _, c := range kept {
		taken[c.Name] = true
	}
	var cols []outColumn
	for i := range outs {
		t := &outs[i]
		if len(t.Shape) == 0 || int(t.Shape[0]) != rows || t.Len() < rows {
			return nil, fmt.Errorf("the model's output %q has shape %v for %d rows", t.Name, t.Shape, rows)
		}
		per := t.Len() / max(rows, 1)
		if rows == 0 {
			per = 1
			for _, d := range t.Shape[1:] {
				per *= int(d)
			}
		}
		labels := schema.entryLabels(t.Name, len(outs))
		for j := range per {
			name := t.Name
			if per > 1 {
				if len(labels) == per {
					name += "_" + labels[j]
				} else {
					name += "_" + strconv.Itoa(j)
				}
			}
			if taken[name] {
				name = "predicted_" + name
			}
			taken[name] = true
			cols = append(cols, outColumn{name: name, kind: kindOfDatatype(t.Datatype), t: t, off: j, per: per})
		}
	}
	return cols, nil
}

// outputSink writes batches of kept columns and predictions.
type outputSink interface {
	write(kept []dataset.BatchColumn, outs []outColumn, rows int) error
	close() error
}

func newSink(format dataset.Format, f *os.File, kept []dataset.BatchColumn, outs []outColumn) (outputSink, error) {
	switch format {
	case dataset.FormatCSV:
		return newCSVSink(f, kept, outs)
	case dataset.FormatParquet:
		return newParquetSink(f, kept, outs)
	}
	return &jsonlSink{w: bufio.NewWriterSize(f, 1<<20)}, nil
}

type csvSink struct {
	bw  *bufio.Writer
	w   *csv.Writer
	rec []string
}

func newCSVSink(f *os.File, kept []dataset.BatchColumn, outs []outColumn) (*csvSink, error) {
	s := &csvSink{bw: bufio.NewWriterSize(f, 1<<20)}
	s.w = csv.NewWriter(s.bw)
	var header []string
	for _, c := range kept {
		header = append(header, c.Name)
	}
	for _, o := range outs {
		header = append(header, o.name)
	}
	s.rec = make([]string, len(header))
	return s, s.w.Write(header)
}

func (s *csvSink) write(kept []dataset.BatchColumn, outs []outColumn, rows int) error {
	for r := range rows {
		i := 0
		for c := range kept {
			s.rec[i] = keptText(&kept[c], r)
			i++
		}
		for c := range outs {
			s.rec[i] = outs[c].text(r)
			i++
		}
		if err := s.w.Write(s.rec); err != nil {
			return err
		}
	}
	return nil
}

func (s *csvSink) close() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		return err
	}
	return s.bw.Flush()
}

type jsonlSink struct {
	w   *bufio.Writer
	buf []byte
}

func (s *jsonlSink) write(kept []dataset.BatchColumn, outs []outColumn, rows int) error {
	for r := range rows {
		b := append(s.buf[:0], '{')
		first := true
		sep := func(name string) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, name)
			b = append(b, ':')
		}
		for c := range kept {
			sep(kept[c].Name)
			b = appendKeptJSON(b, &kept[c], r)
		}
		for c := range outs {
			sep(outs[c].name)
			b = outs[c].appendJSON(b, r)
		}
		b = append(b, '}', '\n')
		s.buf = b
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *jsonlSink) close() error { return s.w.Flush() }

// parquetSink writes one row group per batch. Kept columns are optional
// (nullable), predictions required.
type parquetSink struct {
	w    *parquet.Writer
	rows []parquet.Row
}

func newParquetSink(f *os.File, kept []dataset.BatchColumn, outs []outColumn) (*parquetSink, error) {
	// A struct type built at run time gives the schema its column order.
	var fields []reflect.StructField
	add := func(name string, typ reflect.Type, tag string) {
		name = strings.NewReplacer(",", "_", `"`, "_", "`", "_").Replace(name)
		fields = append(fields, reflect.StructField{Name: "F" + strconv.Itoa(len(fields)), Type: typ, Tag: reflect.StructTag(`parquet:"` + name + tag + `"`)})
	}
	for _, c := range kept {
		switch c.Kind {
		case dataset.ValueFloat:
			add(c.Name, reflect.TypeFor[*float64](), ",optional")
		case dataset.ValueInt:
			add(c.Name, reflect.TypeFor[*int64](), ",optional")
		case dataset.ValueBool:
			add(c.Name, reflect.TypeFor[*bool](), ",optional")
		case dataset.ValueTime:
			add(c.Name, reflect.TypeFor[*time.Time](), ",optional,timestamp(microsecond)")
		default:
			add(c.Name, reflect.TypeFor[*string](), ",optional")
		}
	}
	for _, o := range outs {
		switch o.kind {
		case kindFloat:
			add(o.name, reflect.TypeFor[float64](), "")
		case kindInt:
			add(o.name, reflect.TypeFor[int64](), "")
		case kindBool:
			add(o.name, reflect.TypeFor[bool](), "")
		default:
			add(o.name, reflect.TypeFor[string](), "")
		}
	}
	schema := parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Elem().Interface())
	return &parquetSink{w: parquet.NewWriter(f, schema, parquet.Compression(&parquet.Snappy))}, nil
}

func (s *parquetSink) write(kept []dataset.BatchColumn, outs []outColumn, rows int) error {
	width := len(outs) + len(kept)
	if cap(s.rows) < rows {
		s.rows = make([]parquet.Row, rows)
	}
	s.rows = s.rows[:rows]
	for r := range rows {
		row := s.rows[r][:0]
		c := 0
		for k := range kept {
			if kept[k].Null[r] {
				row = append(row, parquet.NullValue().Level(0, 0, c))
			} else {
				row = append(row, keptValue(&kept[k], r).Level(0, 1, c))
			}
			c++
		}
		for k := range outs {
			row = append(row, outs[k].value(r).Level(0, 0, c))
			c++
		}
		if len(row) != width {
			return fmt.Errorf("row of %d values for %d columns", len(row), width)
		}
		s.rows[r] = row
	}
	if _, err := s.w.WriteRows(s.rows); err != nil {
		return err
	}
	return s.w.Flush() // one row group per batch: memory stays bounded
}

func (s *parquetSink) close() error { return s.w.Close() }
