package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// ValueKind is how a batch column holds its values: as the file gives them,
// with no inference across rows.
type ValueKind byte

// The value kinds of batch columns.
const (
	ValueText   ValueKind = 't' // a CSV field, in Str; never null
	ValueJSON   ValueKind = 'j' // a JSON value's text, in Str; null is "null"
	ValueString ValueKind = 's' // a Parquet string, in Str
	ValueFloat  ValueKind = 'f' // in Float
	ValueInt    ValueKind = 'i' // in Int
	ValueBool   ValueKind = 'b' // in Bool
	ValueTime   ValueKind = 'T' // Unix nanoseconds (UTC) in Int
)

// BatchColumn is one column of a Batch. Every row has an entry in Null and
// in the slice its Kind says (a zero value where Null is true).
type BatchColumn struct {
	Name  string
	Kind  ValueKind
	Float []float64
	Int   []int64
	Bool  []bool
	Str   []string
	Null  []bool
}

// Batch is a run of rows of a file, column by column, in file order.
type Batch struct {
	Columns []BatchColumn
	// Rows is the number of rows in the batch; FirstRow is the 0-based
	// index in the file of its first row.
	Rows, FirstRow int
}

func (b *Batch) reset(first int) {
	b.Rows, b.FirstRow = 0, first
	for i := range b.Columns {
		c := &b.Columns[i]
		c.Float, c.Int, c.Bool, c.Str, c.Null = c.Float[:0], c.Int[:0], c.Bool[:0], c.Str[:0], c.Null[:0]
	}
}

func (c *BatchColumn) appendNull() {
	switch c.Kind {
	case ValueFloat:
		c.Float = append(c.Float, 0)
	case ValueBool:
		c.Bool = append(c.Bool, false)
	case ValueInt, ValueTime:
		c.Int = append(c.Int, 0)
	case ValueJSON:
		c.Str = append(c.Str, "null")
	default:
		c.Str = append(c.Str, "")
	}
	c.Null = append(c.Null, true)
}

// batchSource is one format's reader of rows into batches.
type batchSource interface {
	// read appends up to n rows to b and returns how many; io.EOF (with
	// the rows read) when the file ends.
	read(ctx context.Context, b *Batch, n int) (int, error)
	// choose says where each file column goes in a batch: slot[i] is the
	// index of file column i in Batch.Columns, -1 when it is not read.
	choose(slot []int)
	close() error
}

// BatchReader streams a CSV, JSON Lines or Parquet file in batches of rows,
// with memory bounded by the batch size (and, for Parquet, a page per
// column) whatever the size of the file. It is not safe for concurrent use.
type BatchReader struct {
	src   batchSource
	file  []BatchColumn // names and kinds of the file's columns
	cols  []BatchColumn // of the columns read
	total int
	done  int
	max   int
	eof   bool
}

// OpenBatches opens the file at path for reading in batches, choosing the
// reader by its extension as Read does (see FormatOf; .gz CSV and JSON Lines
// are decompressed as they are read). opts.Header, Delimiter, SkipLines and
// MaxRows apply as in Read; Types and Columns must be empty, for values are
// given as the file holds them (and Select chooses columns):
//
//   - CSV: every column is ValueText, the header naming the columns;
//   - JSON Lines: every column is ValueJSON, the keys of the first object
//     naming the columns (keys of later lines that are not among them are
//     ignored; an absent key is null). Values may be arrays and objects;
//   - Parquet: columns are ValueFloat (FLOAT, DOUBLE, DECIMAL, TIME),
//     ValueInt, ValueBool, ValueTime (timestamps, DATE, INT96) or
//     ValueString (strings, enums, UUIDs), read row group by row group.
//
// Errors are those of Read: a missing file is ENOTFOUND; an empty or
// corrupt file, two columns of one name and a column Ferry does not read are
// EINVALID naming path (and the line or row and column where known). Errors
// of Next about the content are EINVALID and name the file, line (or row)
// and column.
func OpenBatches(ctx context.Context, path string, opts ReadOptions) (*BatchReader, error) {
	if err := opts.validate(path); err != nil {
		return nil, err
	}
	if len(opts.Types) > 0 || len(opts.Columns) > 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: Types and Columns do not apply to batches; use Select", path)
	}
	format, gzipped, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	fh, err := openFile(path)
	if err != nil {
		return nil, err
	}
	var (
		src   batchSource
		cols  []BatchColumn
		total = -1
	)
	switch format {
	case FormatParquet:
		var ps *parquetBatches
		ps, err = newParquetBatches(fh, path)
		if err == nil {
			src, cols, total = ps, ps.columns, ps.total
		}
	default:
		var r io.Reader = fh
		var zr *gzip.Reader
		if gzipped {
			if zr, err = gzip.NewReader(fh); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrHeader) {
					err = ferry.Errorf(ferry.EINVALID, "%s: not gzip data", path)
				} else {
					err = readError(path, err)
				}
				break
			}
			r = zr
		}
		if format == FormatJSONL {
			var js *jsonlBatches
			if js, err = newJSONLBatches(r, path); err == nil {
				src, cols = js, js.columns
			}
		} else {
			if opts.Delimiter == 0 && strings.HasSuffix(strings.TrimSuffix(strings.ToLower(path), ".gz"), ".tsv") {
				opts.Delimiter = '\t'
			}
			var cs *csvBatches
			if cs, err = newCSVBatches(r, path, opts); err == nil {
				src, cols = cs, cs.columns
			}
		}
		if src != nil {
			src = &closing{batchSource: src, closers: []io.Closer{zr, fh}}
		}
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	if _, err := selectColumns(path, names, ReadOptions{}); err != nil {
		src.close()
		return nil, err
	}
	if opts.MaxRows > 0 && (total < 0 || total > opts.MaxRows) {
		total = opts.MaxRows
	}
	r := &BatchReader{src: src, file: cols, total: total, max: opts.MaxRows}
	r.Select(func(string) bool { return true })
	return r, nil
}

// closing closes a text source's decompressor and file.
type closing struct {
	batchSource
	closers []io.Closer
}

func (c *closing) close() error {
	var errs []error
	for _, cl := range c.closers {
		if cl != nil && cl != (*gzip.Reader)(nil) {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}

// Select restricts the columns read, and those of Columns and of batches from
// NewBatch, to the file's columns whose names keep accepts, in file order;
// the others are skipped as early as the format allows. Call it before
// NewBatch and the first Next.
func (r *BatchReader) Select(keep func(name string) bool) {
	slot := make([]int, len(r.file))
	r.cols = r.cols[:0]
	for i, c := range r.file {
		slot[i] = -1
		if keep(c.Name) {
			slot[i] = len(r.cols)
			r.cols = append(r.cols, c)
		}
	}
	r.src.choose(slot)
}

// Columns returns the names and kinds of the columns read (see Select), in
// file order;
// the Float, Int, Bool, Str and Null slices are empty. The caller must not
// modify them.
func (r *BatchReader) Columns() []BatchColumn { return r.cols }

// Total returns the number of rows the reader will give, when the file
// says (Parquet, or with MaxRows), else -1.
func (r *BatchReader) Total() int { return r.total }

// NewBatch returns an empty batch of the reader's columns, for Next.
func (r *BatchReader) NewBatch() *Batch {
	b := &Batch{Columns: make([]BatchColumn, len(r.cols))}
	for i, c := range r.cols {
		b.Columns[i] = BatchColumn{Name: c.Name, Kind: c.Kind}
	}
	return b
}

// Next replaces the rows of b (from NewBatch) with the next up to n rows,
// reusing its buffers; strings in b stay valid after later calls. It
// returns io.EOF, with b.Rows zero, once every row has been read; an error
// about the content leaves b undefined. n must be positive.
func (r *BatchReader) Next(ctx context.Context, b *Batch, n int) error {
	b.reset(r.done)
	if r.max > 0 {
		n = min(n, r.max-r.done)
	}
	if r.eof || n <= 0 {
		return io.EOF
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	got, err := r.src.read(ctx, b, n)
	b.Rows = got
	r.done += got
	if err == io.EOF {
		r.eof = true
		if got > 0 {
			err = nil
		}
	}
	return err
}

// Close releases the file.
func (r *BatchReader) Close() error { return r.src.close() }

// csvBatches reads CSV records into ValueText columns.
type csvBatches struct {
	sc      *csvScanner
	columns []BatchColumn
	slot    []int
}

func newCSVBatches(r io.Reader, name string, opts ReadOptions) (*csvBatches, error) {
	sc, err := newCSVScanner(r, name, opts)
	if err != nil {
		return nil, err
	}
	s := &csvBatches{sc: sc}
	for _, n := range sc.names {
		s.columns = append(s.columns, BatchColumn{Name: n, Kind: ValueText})
	}
	return s, nil
}

func (s *csvBatches) close() error      { return nil }
func (s *csvBatches) choose(slot []int) { s.slot = slot }

func (s *csvBatches) read(ctx context.Context, b *Batch, n int) (int, error) {
	for got := 0; got < n; got++ {
		if got%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return got, err
			}
		}
		rec, err := s.sc.next()
		if err != nil {
			return got, err
		}
		for i, v := range rec {
			j := s.slot[i]
			if j < 0 {
				continue
			}
			if !utf8.ValidString(v) {
				return got, s.sc.fieldError(i, "invalid UTF-8 in "+quote(v))
			}
			c := &b.Columns[j]
			c.Str = append(c.Str, v)
			c.Null = append(c.Null, false)
		}
	}
	return n, nil
}

// jsonlBatches reads JSON Lines into ValueJSON columns named by the keys of
// the first object.
type jsonlBatches struct {
	name    string
	lines   *jsonLines
	columns []BatchColumn
	byName  map[string]int
	first   []byte // the first object's line, not yet returned
	stamp   []int  // per file column: the last row that set it
	slot    []int
	row     int
}

func newJSONLBatches(r io.Reader, name string) (*jsonlBatches, error) {
	s := &jsonlBatches{name: name, lines: newJSONLines(r, name), byName: map[string]int{}}
	line, err := s.lines.next()
	if err == io.EOF {
		return nil, ferry.Errorf(ferry.EINVALID, "%s is empty: no rows", name)
	} else if err != nil {
		return nil, err
	}
	err = objectFields(line, s.lines.fail, func(key string, _ json.RawMessage) error {
		if key == "" {
			return s.lines.fail("", "a key is empty")
		}
		if _, dup := s.byName[key]; dup {
			return s.lines.fail(key, "the key appears twice in the object")
		}
		s.byName[key] = len(s.columns)
		s.columns = append(s.columns, BatchColumn{Name: key, Kind: ValueJSON})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.first = line
	s.stamp = make([]int, len(s.columns))
	return s, nil
}

func (s *jsonlBatches) close() error      { return nil }
func (s *jsonlBatches) choose(slot []int) { s.slot = slot }

func (s *jsonlBatches) read(ctx context.Context, b *Batch, n int) (int, error) {
	for got := 0; got < n; got++ {
		if got%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return got, err
			}
		}
		line := s.first
		s.first = nil
		if line == nil {
			var err error
			if line, err = s.lines.next(); err != nil {
				return got, err
			}
		}
		s.row++
		err := objectFields(line, s.lines.fail, func(key string, raw json.RawMessage) error {
			j, ok := s.byName[key]
			if !ok {
				return nil
			}
			if s.stamp[j] == s.row {
				return s.lines.fail(key, "the key appears twice in the object")
			}
			s.stamp[j] = s.row
			if s.slot[j] < 0 {
				return nil
			}
			c := &b.Columns[s.slot[j]]
			c.Str = append(c.Str, string(raw))
			c.Null = append(c.Null, raw[0] == 'n')
			return nil
		})
		if err != nil {
			return got, err
		}
		for j, k := range s.slot {
			if k >= 0 && s.stamp[j] != s.row {
				b.Columns[k].appendNull()
			}
		}
	}
	return n, nil
}

// jsonLines reads the non-blank lines of JSON Lines, checking they are valid
// UTF-8 and counting lines for messages.
type jsonLines struct {
	name string
	br   *bufio.Reader
	buf  []byte
	line int
}

func newJSONLines(r io.Reader, name string) *jsonLines {
	return &jsonLines{name: name, br: bufio.NewReaderSize(r, 64<<10)}
}

// fail is an EINVALID error about the current line (and column, if given).
func (l *jsonLines) fail(col, format string, args ...any) error {
	where := fmt.Sprintf("%s line %d", l.name, l.line)
	if col != "" {
		where += fmt.Sprintf(" column '%s'", col)
	}
	return ferry.Errorf(ferry.EINVALID, "%s: %s", where, fmt.Sprintf(format, args...))
}

// next returns the next non-blank line, trimmed, valid until the following
// call; io.EOF at the end.
func (l *jsonLines) next() ([]byte, error) {
	for {
		var err error
		l.buf, err = readLine(l.br, l.buf[:0])
		if err == io.EOF && len(l.buf) == 0 {
			return nil, io.EOF
		} else if err != nil && err != io.EOF {
			return nil, readError(l.name, err)
		}
		l.line++
		line := bytes.TrimSpace(l.buf)
		if len(line) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			return nil, ferry.Errorf(ferry.EINVALID, "%s line %d: invalid UTF-8", l.name, l.line)
		}
		return line, nil
	}
}
