package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
)

// predictResult is the output of `ferry predict`.
type predictResult struct {
	Model      string  `json:"model"`
	Version    string  `json:"version"`
	Input      string  `json:"input"`
	Output     string  `json:"output"`
	Rows       int     `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
}

func (a *app) predictCommand() *cobra.Command {
	var (
		in, out      string
		batch, limit int
		keep         bool
	)
	cmd := &cobra.Command{
		Use:   "predict MODEL_URI|PATH -i INPUT -o OUTPUT",
		Short: "Score a CSV, Parquet or JSON Lines file with a model, in batches",
		Long: `Score every row of a file with a model and write the predictions: a
registered version (models:/name/3, models:/name@champion, from the local data
directory) or a model package directory.

The input is CSV (with a header), Parquet or JSON Lines, read as a stream:
CSV and JSON Lines row by row, Parquet row group by row group, --batch-size
rows at a time, so memory stays bounded whatever the file's size. Columns the
model does not take are ignored (or kept, with --keep-columns); a missing
column, or a value the model's signature does not allow, stops the run with
the column and row named. The output is CSV, Parquet or JSON Lines, by its
extension: one column per model output (a [rows, K] output gives K columns,
named by the signature's outputs when they match), after the input columns
with --keep-columns. It is written to a temporary file and renamed into place
when complete.`,
		Example: `  ferry predict models:/flights@champion -i flights.parquet -o scored.parquet
  ferry predict ./model -i new.csv -o predictions.csv --keep-columns
  ferry predict models:/churn/3 -i customers.jsonl -o scores.jsonl --batch-size 50000`,
		Args: exactArgs(1, "MODEL_URI|PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in == "" || out == "" {
				return usagef(cmd, "name the input with -i FILE and the output with -o FILE")
			}
			if batch <= 0 || limit < 0 {
				return usagef(cmd, "--batch-size must be positive and --limit not negative")
			}
			ctx := cmd.Context()
			lm, err := a.loadModel(ctx, args[0], discardLogger())
			if err != nil {
				return err
			}
			defer lm.cleanup()
			defer lm.model.Close()
			bar := newProgressBar(cmd.ErrOrStderr())
			start := time.Now()
			rows, err := predictFile(ctx, lm, in, out, predictOptions{batch: batch, limit: limit, keep: keep, progress: bar.Update})
			bar.Done()
			if err != nil {
				return err
			}
			secs := time.Since(start).Seconds()
			res := predictResult{Model: lm.name, Version: lm.version, Input: in, Output: out, Rows: rows, Seconds: secs, RowsPerSec: float64(rows) / math.Max(secs, 1e-9)}
			return a.render(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Scored %d rows of %s with %s version %s in %s (%.0f rows/s).\nPredictions: %s\n",
					rows, in, lm.name, lm.version, time.Duration(secs*float64(time.Second)).Round(time.Millisecond), res.RowsPerSec, out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&in, "input", "i", "", "file to score: .csv, .parquet or .jsonl")
	// -o names the output file here: it shadows the global --output format flag.
	f.StringVarP(&out, "output", "o", "", "file to write: .csv, .parquet or .jsonl")
	f.IntVar(&batch, "batch-size", 10000, "rows per prediction")
	f.IntVar(&limit, "limit", 0, "score at most this many rows (0: all)")
	f.BoolVar(&keep, "keep-columns", false, "write the input columns before the predictions")
	return cmd
}

type predictOptions struct {
	batch, limit int
	keep         bool
	progress     func(stage string, done, total int)
}

// predictFile scores in with lm into out and returns the rows scored.
func predictFile(ctx context.Context, lm *loadedModel, in, out string, opts predictOptions) (int, error) {
	schema := serving.NewSchema(lm.model.Metadata(), lm.sig)
	if !schema.Columns {
		return 0, ferry.Errorf(ferry.EINVALID, "ferry predict scores tables, and this model takes tensors; serve it with 'ferry serve' and send V2 requests.")
	}
	outFormat, err := formatOfPath(out)
	if err != nil {
		return 0, err
	}
	src, err := openSource(in)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	names := src.columns()
	dst := &rowSink{colOf: make([]int, len(names))}
	var modelCols []string
	for i, n := range names {
		dst.colOf[i] = -1
		if _, ok := schema.Lookup(n); ok {
			dst.colOf[i] = len(modelCols)
			modelCols = append(modelCols, n)
		}
	}
	if dst.cols, err = schema.NewColumns(modelCols); err != nil {
		return 0, fileError(in, err)
	}
	dst.bytesCol = make([]bool, len(names))
	for i, k := range dst.colOf {
		dst.bytesCol[i] = k >= 0 && dst.cols.Spec(k).Datatype == runtime.BYTES
	}
	if opts.keep {
		dst.kept = newKeptTable(names, src.kinds())
	}
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		tmp.Close()
		_ = os.Remove(tmp.Name()) // gone after the rename
	}()
	var sink outputSink
	done := 0
	total := src.total()
	if opts.limit > 0 && (total == 0 || total > opts.limit) {
		total = opts.limit
	}
	for opts.limit == 0 || done < opts.limit {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n := opts.batch
		if opts.limit > 0 {
			n = min(n, opts.limit-done)
		}
		dst.cols.Reset()
		dst.cols.RowOffset = done
		dst.kept.reset()
		got, rerr := src.read(dst, n)
		if rerr != nil && rerr != io.EOF {
			return 0, fileError(in, rerr)
		}
		if got == 0 {
			break
		}
		inputs, rows, err := dst.cols.Tensors()
		if err != nil {
			return 0, fileError(in, err)
		}
		outs, err := lm.model.Predict(ctx, inputs)
		if err != nil {
			return 0, fileError(in, err)
		}
		ocols, err := outputColumns(outs, rows, schema.OutputNames, dst.kept)
		if err != nil {
			return 0, err
		}
		if sink == nil {
			if sink, err = newSink(outFormat, tmp, dst.kept, ocols); err != nil {
				return 0, err
			}
		}
		if err := sink.write(dst.kept, ocols, rows); err != nil {
			return 0, fmt.Errorf("write %s: %w", out, err)
		}
		done += rows
		if opts.progress != nil {
			opts.progress("scoring", done, total)
		}
		if rerr == io.EOF {
			break
		}
	}
	if sink == nil { // no rows: the columns the model would give
		var ocols []outColumn
		for _, o := range schema.Outputs {
			ocols = append(ocols, outColumn{name: o.Name, kind: kindOfDatatype(o.Datatype)})
		}
		if sink, err = newSink(outFormat, tmp, dst.kept, ocols); err != nil {
			return 0, err
		}
	}
	if err := sink.close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return 0, err
	}
	return done, nil
}

// formatOfPath is the table format a file name says: csv, parquet or jsonl.
func formatOfPath(path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".csv":
		return "csv", nil
	case ".parquet", ".pq":
		return "parquet", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	}
	return "", ferry.Errorf(ferry.EINVALID, "%s: unknown file type %q; use .csv, .parquet or .jsonl", path, ext)
}

// Kinds of kept and output values.
const (
	kindFloat  = 'f'
	kindInt    = 'i'
	kindString = 's'
	kindBool   = 'b'
	kindTime   = 't' // Unix nanoseconds in ints
	kindJSON   = 'j' // raw JSON text in strs
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

// rowSink is where a source puts the values it reads: the model's columns
// (colOf maps a source column to its index in cols, -1 when the model does
// not take it) and, with --keep-columns, every column as read.
type rowSink struct {
	cols     *serving.Columns
	colOf    []int
	bytesCol []bool // the model takes the column as BYTES
	kept     *keptTable
}

// source is a table file read in batches.
type source interface {
	columns() []string
	kinds() []byte // kinds of the kept values
	// read appends up to n rows to dst and returns how many it read; io.EOF
	// (with the rows read) when the file ends.
	read(dst *rowSink, n int) (int, error)
	total() int // rows in the file when known, else 0
	Close() error
}

func openSource(path string) (source, error) {
	format, err := formatOfPath(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ferry.Errorf(ferry.ENOTFOUND, "No input file %s.", path)
		}
		return nil, err
	}
	var src source
	switch format {
	case "csv":
		src, err = newCSVSource(f)
	case "parquet":
		src, err = newParquetSource(f)
	default:
		src, err = newJSONLSource(f)
	}
	if err != nil {
		f.Close()
		return nil, fileError(path, err)
	}
	return src, nil
}

// csvSource streams CSV rows; the first row names the columns.
type csvSource struct {
	f     *os.File
	r     *csv.Reader
	names []string
}

func newCSVSource(f *os.File) (*csvSource, error) {
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, ferry.Errorf(ferry.EINVALID, "the file is empty; it needs a header row of column names")
	}
	if err != nil {
		return nil, csvError(err)
	}
	return &csvSource{f: f, r: r, names: append([]string(nil), header...)}, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return ferry.Errorf(ferry.EINVALID, "line %d: %v", pe.Line, pe.Err)
	}
	return err
}

func (s *csvSource) columns() []string { return s.names }
func (s *csvSource) total() int        { return 0 }
func (s *csvSource) Close() error      { return s.f.Close() }

func (s *csvSource) kinds() []byte { return bytes.Repeat([]byte{kindString}, len(s.names)) }

func (s *csvSource) read(dst *rowSink, n int) (int, error) {
	for got := 0; got < n; got++ {
		rec, err := s.r.Read()
		if err == io.EOF {
			return got, io.EOF
		}
		if err != nil {
			return got, csvError(err)
		}
		for i, v := range rec {
			if k := dst.colOf[i]; k >= 0 {
				if err := dst.cols.AppendText(k, v); err != nil {
					return got, err
				}
			}
			if dst.kept != nil {
				dst.kept.cols[i].appendString(v)
			}
		}
	}
	return n, nil
}

// jsonlSource streams JSON Lines; the first object's keys name the columns.
type jsonlSource struct {
	f     *os.File
	r     *bufio.Reader
	names []string
	first map[string]json.RawMessage
	line  int
}

func newJSONLSource(f *os.File) (*jsonlSource, error) {
	s := &jsonlSource{f: f, r: bufio.NewReaderSize(f, 1<<20)}
	line, err := s.next()
	if err == io.EOF {
		return nil, ferry.Errorf(ferry.EINVALID, "the file is empty")
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, ferry.Errorf(ferry.EINVALID, "line %d is not a JSON object", s.line)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "line %d: %v", s.line, err)
		}
		s.names = append(s.names, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "line %d: %v", s.line, err)
		}
	}
	if err := json.Unmarshal(line, &s.first); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "line %d: %v", s.line, err)
	}
	return s, nil
}

// next returns the next non-blank line.
func (s *jsonlSource) next() ([]byte, error) {
	for {
		line, err := s.r.ReadBytes('\n')
		if len(line) > 0 || err == nil {
			s.line++
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (s *jsonlSource) columns() []string { return s.names }
func (s *jsonlSource) total() int        { return 0 }
func (s *jsonlSource) Close() error      { return s.f.Close() }
func (s *jsonlSource) kinds() []byte     { return bytes.Repeat([]byte{kindJSON}, len(s.names)) }

func (s *jsonlSource) read(dst *rowSink, n int) (int, error) {
	for got := 0; got < n; got++ {
		obj := s.first
		s.first = nil
		if obj == nil {
			line, err := s.next()
			if err == io.EOF {
				return got, io.EOF
			}
			if err != nil {
				return got, err
			}
			if err := json.Unmarshal(line, &obj); err != nil {
				return got, ferry.Errorf(ferry.EINVALID, "line %d is not a JSON object: %v", s.line, err)
			}
		}
		for i, name := range s.names {
			raw, ok := obj[name]
			if k := dst.colOf[i]; k >= 0 {
				var err error
				if !ok {
					err = dst.cols.AppendNull(k)
				} else {
					err = dst.cols.AppendJSON(k, raw)
				}
				if err != nil {
					return got, err
				}
			}
			if dst.kept != nil {
				if !ok {
					raw = json.RawMessage("null")
				}
				dst.kept.cols[i].appendString(string(raw))
			}
		}
	}
	return n, nil
}

// parquetSource streams a Parquet file by row groups, rows at a time.
type parquetSource struct {
	f      *os.File
	pf     *parquet.File
	names  []string
	kind   []byte
	unit   []time.Duration // of timestamp columns
	date   []bool          // DATE columns: days in an INT32
	groups []parquet.RowGroup
	rows   parquet.Rows // of the current group
	buf    []parquet.Row
}

func newParquetSource(f *os.File) (src *parquetSource, err error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	defer recoverParquet(&err)
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "not a readable Parquet file: %v", err)
	}
	s := &parquetSource{f: f, pf: pf, groups: pf.RowGroups()}
	for _, field := range pf.Schema().Fields() {
		if !field.Leaf() || field.Repeated() {
			return nil, ferry.Errorf(ferry.EINVALID, "column %q is nested or repeated; ferry predict reads flat tables", field.Name())
		}
		t := field.Type()
		var kind byte = kindString
		unit, date := time.Duration(0), false
		var logical format.LogicalTypeValue
		if lt := t.LogicalType(); lt != nil {
			logical = lt.Value
		}
		switch t.Kind() {
		case parquet.Boolean:
			kind = kindBool
		case parquet.Float, parquet.Double:
			kind = kindFloat
		case parquet.Int32, parquet.Int64:
			kind = kindInt
			switch l := logical.(type) {
			case *format.TimestampType:
				if l.Unit.Value != nil {
					kind, unit = kindTime, l.Unit.Value.Duration()
				}
			case *format.DateType:
				kind, date = kindTime, true
			case nil:
				if ct := t.ConvertedType(); ct != nil {
					switch *ct {
					case deprecated.TimestampMillis:
						kind, unit = kindTime, time.Millisecond
					case deprecated.TimestampMicros:
						kind, unit = kindTime, time.Microsecond
					case deprecated.Date:
						kind, date = kindTime, true
					}
				}
			}
		case parquet.Int96:
			kind = kindTime
		}
		s.names = append(s.names, field.Name())
		s.kind = append(s.kind, kind)
		s.unit = append(s.unit, unit)
		s.date = append(s.date, date)
	}
	return s, nil
}

// recoverParquet turns a panic of the Parquet library on a corrupt file
// into an error.
func recoverParquet(err *error) {
	if p := recover(); p != nil {
		*err = ferry.Errorf(ferry.EINVALID, "corrupt Parquet file (%v)", p)
	}
}

func (s *parquetSource) columns() []string { return s.names }
func (s *parquetSource) kinds() []byte     { return s.kind }
func (s *parquetSource) total() int        { return int(s.pf.NumRows()) }

func (s *parquetSource) Close() error {
	if s.rows != nil {
		s.rows.Close()
	}
	return s.f.Close()
}

func (s *parquetSource) read(dst *rowSink, n int) (got int, err error) {
	defer recoverParquet(&err)
	if cap(s.buf) < min(n, 4096) {
		s.buf = make([]parquet.Row, min(n, 4096))
	}
	for got < n {
		if s.rows == nil {
			if len(s.groups) == 0 {
				return got, io.EOF
			}
			s.rows = s.groups[0].Rows()
			s.groups = s.groups[1:]
		}
		buf := s.buf[:min(cap(s.buf), n-got)]
		k, rerr := s.rows.ReadRows(buf)
		for _, row := range buf[:k] {
			if err := s.row(dst, row); err != nil {
				return got, err
			}
			got++
		}
		if rerr == io.EOF {
			s.rows.Close()
			s.rows = nil
			continue
		}
		if rerr != nil {
			return got, ferry.Errorf(ferry.EINVALID, "reading row %d: %v", got, rerr)
		}
	}
	return got, nil
}

func (s *parquetSource) row(dst *rowSink, row parquet.Row) error {
	if len(row) != len(s.names) {
		return ferry.Errorf(ferry.EINVALID, "a row has %d values for %d columns", len(row), len(s.names))
	}
	for _, v := range row {
		i := v.Column()
		if i < 0 || i >= len(s.names) {
			return ferry.Errorf(ferry.EINVALID, "a value of unknown column %d", i)
		}
		k := dst.colOf[i]
		var kc *keptColumn
		if dst.kept != nil {
			kc = &dst.kept.cols[i]
		}
		if v.IsNull() {
			if k >= 0 {
				if err := dst.cols.AppendNull(k); err != nil {
					return err
				}
			}
			if kc != nil {
				kc.appendNull()
			}
			continue
		}
		var err error
		switch s.kind[i] {
		case kindBool:
			b := v.Boolean()
			if k >= 0 {
				err = dst.cols.AppendBool(k, b)
			}
			if kc != nil {
				kc.appendBool(b)
			}
		case kindInt:
			x := v.Int64()
			if v.Kind() == parquet.Int32 {
				x = int64(v.Int32())
			}
			if k >= 0 {
				err = dst.cols.AppendInt(k, x)
			}
			if kc != nil {
				kc.appendInt(x)
			}
		case kindFloat:
			x := v.Double()
			if v.Kind() == parquet.Float {
				x = float64(v.Float())
			}
			if k >= 0 {
				err = dst.cols.AppendFloat(k, x)
			}
			if kc != nil {
				kc.appendFloat(x)
			}
		case kindTime:
			var t time.Time
			switch {
			case s.date[i]:
				t = time.Unix(int64(v.Int32())*86400, 0).UTC()
			case v.Kind() == parquet.Int96:
				t = int96Time(v.Int96())
			default:
				t = time.Unix(0, v.Int64()*int64(s.unit[i])).UTC()
			}
			if k >= 0 {
				err = dst.cols.AppendTime(k, t, "")
			}
			if kc != nil {
				kc.appendInt(t.UnixNano())
			}
		default:
			b := v.ByteArray()
			if k >= 0 {
				if dst.bytesCol[i] {
					err = dst.cols.AppendString(k, string(b))
				} else {
					err = dst.cols.AppendText(k, string(b))
				}
			}
			if kc != nil {
				kc.appendString(string(b))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// int96Time converts a legacy INT96 timestamp (nanoseconds of the day, then
// the Julian day).
func int96Time(v deprecated.Int96) time.Time {
	const unixJulianDay = 2440588
	nanos := int64(uint64(v[1])<<32 | uint64(v[0]))
	days := int64(v[2]) - unixJulianDay
	return time.Unix(days*86400, nanos).UTC()
}

// keptTable holds the input columns of a batch as read, for --keep-columns.
// A nil *keptTable keeps nothing.
type keptTable struct{ cols []keptColumn }

type keptColumn struct {
	name   string
	kind   byte
	floats []float64
	ints   []int64
	strs   []string
	bools  []bool
	null   []bool
}

func newKeptTable(names []string, kinds []byte) *keptTable {
	t := &keptTable{cols: make([]keptColumn, len(names))}
	for i := range names {
		t.cols[i] = keptColumn{name: names[i], kind: kinds[i]}
	}
	return t
}

func (t *keptTable) reset() {
	if t == nil {
		return
	}
	for i := range t.cols {
		c := &t.cols[i]
		c.floats, c.ints, c.strs, c.bools, c.null = c.floats[:0], c.ints[:0], c.strs[:0], c.bools[:0], c.null[:0]
	}
}

func (c *keptColumn) appendNull() {
	switch c.kind {
	case kindFloat:
		c.floats = append(c.floats, 0)
	case kindBool:
		c.bools = append(c.bools, false)
	case kindInt, kindTime:
		c.ints = append(c.ints, 0)
	default:
		c.strs = append(c.strs, "")
	}
	c.null = append(c.null, true)
}

func (c *keptColumn) appendFloat(x float64) {
	c.floats = append(c.floats, x)
	c.null = append(c.null, false)
}

func (c *keptColumn) appendInt(x int64) {
	c.ints = append(c.ints, x)
	c.null = append(c.null, false)
}

func (c *keptColumn) appendBool(x bool) {
	c.bools = append(c.bools, x)
	c.null = append(c.null, false)
}

func (c *keptColumn) appendString(x string) {
	c.strs = append(c.strs, x)
	c.null = append(c.null, c.kind == kindJSON && x == "null")
}

// text is row r as CSV text ("" when missing).
func (c *keptColumn) text(r int) string {
	if c.null[r] {
		return ""
	}
	switch c.kind {
	case kindFloat:
		return formatFloat(c.floats[r])
	case kindInt:
		return strconv.FormatInt(c.ints[r], 10)
	case kindTime:
		return time.Unix(0, c.ints[r]).UTC().Format(time.RFC3339Nano)
	case kindBool:
		return strconv.FormatBool(c.bools[r])
	case kindJSON:
		var s string
		if json.Unmarshal([]byte(c.strs[r]), &s) == nil {
			return s
		}
	}
	return c.strs[r]
}

// appendJSON appends row r as a JSON value.
func (c *keptColumn) appendJSON(b []byte, r int) []byte {
	if c.null[r] {
		return append(b, "null"...)
	}
	switch c.kind {
	case kindFloat:
		return appendJSONFloat(b, c.floats[r])
	case kindInt:
		return strconv.AppendInt(b, c.ints[r], 10)
	case kindTime:
		return appendJSONString(b, time.Unix(0, c.ints[r]).UTC().Format(time.RFC3339Nano))
	case kindBool:
		return strconv.AppendBool(b, c.bools[r])
	case kindJSON:
		return append(b, c.strs[r]...)
	}
	return appendJSONString(b, c.strs[r])
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
func outputColumns(outs []runtime.Tensor, rows int, labels []string, kept *keptTable) ([]outColumn, error) {
	taken := map[string]bool{}
	if kept != nil {
		for _, c := range kept.cols {
			taken[c.name] = true
		}
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
	write(kept *keptTable, outs []outColumn, rows int) error
	close() error
}

func newSink(format string, f *os.File, kept *keptTable, outs []outColumn) (outputSink, error) {
	switch format {
	case "csv":
		return newCSVSink(f, kept, outs)
	case "parquet":
		return newParquetSink(f, kept, outs)
	}
	return &jsonlSink{w: bufio.NewWriterSize(f, 1<<20)}, nil
}

type csvSink struct {
	bw  *bufio.Writer
	w   *csv.Writer
	rec []string
}

func newCSVSink(f *os.File, kept *keptTable, outs []outColumn) (*csvSink, error) {
	s := &csvSink{bw: bufio.NewWriterSize(f, 1<<20)}
	s.w = csv.NewWriter(s.bw)
	var header []string
	if kept != nil {
		for _, c := range kept.cols {
			header = append(header, c.name)
		}
	}
	for _, o := range outs {
		header = append(header, o.name)
	}
	s.rec = make([]string, len(header))
	return s, s.w.Write(header)
}

func (s *csvSink) write(kept *keptTable, outs []outColumn, rows int) error {
	for r := range rows {
		i := 0
		if kept != nil {
			for c := range kept.cols {
				s.rec[i] = kept.cols[c].text(r)
				i++
			}
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

func (s *jsonlSink) write(kept *keptTable, outs []outColumn, rows int) error {
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
		if kept != nil {
			for c := range kept.cols {
				sep(kept.cols[c].name)
				b = kept.cols[c].appendJSON(b, r)
			}
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

func newParquetSink(f *os.File, kept *keptTable, outs []outColumn) (*parquetSink, error) {
	// A struct type built at run time gives the schema its column order.
	var fields []reflect.StructField
	add := func(name string, typ reflect.Type, tag string) {
		name = strings.NewReplacer(",", "_", `"`, "_", "`", "_").Replace(name)
		fields = append(fields, reflect.StructField{Name: "F" + strconv.Itoa(len(fields)), Type: typ, Tag: reflect.StructTag(`parquet:"` + name + tag + `"`)})
	}
	if kept != nil {
		for _, c := range kept.cols {
			switch c.kind {
			case kindFloat:
				add(c.name, reflect.TypeFor[*float64](), ",optional")
			case kindInt:
				add(c.name, reflect.TypeFor[*int64](), ",optional")
			case kindBool:
				add(c.name, reflect.TypeFor[*bool](), ",optional")
			case kindTime:
				add(c.name, reflect.TypeFor[*time.Time](), ",optional,timestamp(microsecond)")
			default:
				add(c.name, reflect.TypeFor[*string](), ",optional")
			}
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

func (s *parquetSink) write(kept *keptTable, outs []outColumn, rows int) error {
	width := len(outs)
	if kept != nil {
		width += len(kept.cols)
	}
	if cap(s.rows) < rows {
		s.rows = make([]parquet.Row, rows)
	}
	s.rows = s.rows[:rows]
	for r := range rows {
		row := s.rows[r][:0]
		c := 0
		if kept != nil {
			for k := range kept.cols {
				kc := &kept.cols[k]
				if kc.null[r] {
					row = append(row, parquet.NullValue().Level(0, 0, c))
				} else {
					var v parquet.Value
					switch kc.kind {
					case kindFloat:
						v = parquet.DoubleValue(kc.floats[r])
					case kindInt:
						v = parquet.Int64Value(kc.ints[r])
					case kindTime:
						v = parquet.Int64Value(kc.ints[r] / 1000)
					case kindBool:
						v = parquet.BooleanValue(kc.bools[r])
					default:
						v = parquet.ByteArrayValue([]byte(kc.text(r)))
					}
					row = append(row, v.Level(0, 1, c))
				}
				c++
			}
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
