package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// checkEvery is how many rows a reader reads between looks at its context.
const checkEvery = 4096

// ReadCSV reads delimited text from r into a frame; name is the file name used
// in error messages. The first line names the columns unless opts.Header is
// false. Quoting follows RFC 4180; blank lines are skipped; a leading UTF-8
// byte order mark is dropped.
//
// Each column's kind is inferred from all its values unless opts.Types forces
// it: numeric when every non-missing value is a decimal number, timestamp when
// every one is a date or time (RFC 3339, 2006-01-02, 2006-01-02 15:04:05 and
// similar; UTC when no zone is given), categorical otherwise. "", "NA", "N/A",
// "NaN", "nan", "null" and "NULL" (after trimming spaces) are missing values.
// A column with only missing values is numeric.
//
// Values go straight into typed columns as they are read; besides the frame,
// only the text of numbers and times not written in canonical form is kept (to
// be exact should the column turn out categorical), so memory stays close to
// the size of the result.
//
// Errors about the content are EINVALID and name the file, the 1-based line
// and, where there is one, the column: an empty file, a row with a different
// number of fields than the header, a quoting error, invalid UTF-8, a value
// that does not fit a forced type.
func ReadCSV(ctx context.Context, r io.Reader, name string, opts ReadOptions) (*Frame, error) {
	if err := opts.validate(name); err != nil {
		return nil, err
	}
	sc, err := newCSVScanner(r, name, opts)
	if err != nil {
		return nil, err
	}
	sel, err := selectColumns(name, sc.names, opts)
	if err != nil {
		return nil, err
	}
	builders := make([]*builder, len(sel.order))
	for j, i := range sel.order {
		builders[j] = newBuilder(sc.names[i], sel.kinds[j])
	}
	for rows := 0; opts.MaxRows == 0 || rows < opts.MaxRows; rows++ {
		if rows%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := sc.next()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		for i, s := range rec {
			j := sel.slot[i]
			if j < 0 {
				continue
			}
			if err := builders[j].add(s); err != nil {
				return nil, sc.fieldError(i, err.Error())
			}
		}
	}
	f := &Frame{Columns: make([]*Column, len(builders))}
	for j, b := range builders {
		f.Columns[j] = b.column()
	}
	return f, nil
}

// csvScanner reads the records of delimited text after its header, checking
// that each has as many fields as the header. ReadCSV and the CSV batch
// reader share it.
type csvScanner struct {
	name    string
	opts    ReadOptions
	cr      *csv.Reader
	skipped int      // lines skipped before the header
	names   []string // column names: the header's, or c0, c1, …
	pending []string // without a header: the first row, not yet returned
}

// newCSVScanner skips opts.SkipLines lines and reads the header (or, without
// one, the first row) from r. An empty file and a header name that is not
// valid UTF-8 are EINVALID errors naming name.
func newCSVScanner(r io.Reader, name string, opts ReadOptions) (*csvScanner, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	skipped := 0
	for ; skipped < opts.SkipLines; skipped++ {
		if _, err := br.ReadSlice('\n'); err == io.EOF {
			break
		} else if err != nil && err != bufio.ErrBufferFull {
			return nil, readError(name, err)
		} else if err == bufio.ErrBufferFull {
			skipped-- // the same line goes on
		}
	}
	cr := csv.NewReader(br)
	cr.Comma = ','
	if opts.Delimiter != 0 {
		cr.Comma = opts.Delimiter
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	s := &csvScanner{name: name, opts: opts, cr: cr, skipped: skipped}

	first, err := cr.Read()
	if err == io.EOF {
		if opts.hasHeader() {
			return nil, ferry.Errorf(ferry.EINVALID, "%s is empty: no header", name)
		}
		return nil, ferry.Errorf(ferry.EINVALID, "%s is empty: no rows", name)
	} else if err != nil {
		return nil, csvError(name, skipped, err)
	}
	if len(first) > 0 {
		first[0] = strings.TrimPrefix(first[0], "\uFEFF")
	}
	s.names = make([]string, len(first))
	for i, h := range first {
		if opts.hasHeader() {
			if !utf8.ValidString(h) {
				return nil, ferry.Errorf(ferry.EINVALID, "%s line %d: the name of column %d is not valid UTF-8", name, s.line(i), i+1)
			}
			h = strings.TrimSpace(h)
		} else {
			h = ""
		}
		if h == "" {
			h = "c" + strconv.Itoa(i)
		}
		s.names[i] = h
	}
	if !opts.hasHeader() {
		s.pending = first
	}
	return s, nil
}

// line returns the 1-based line of field i of the last record read.
func (s *csvScanner) line(field int) int {
	l, _ := s.cr.FieldPos(field)
	return l + s.skipped
}

// next returns the next record, valid until the following call, or io.EOF.
// A record with another number of fields than the header, and a quoting
// error, are EINVALID errors naming the line.
func (s *csvScanner) next() ([]string, error) {
	rec := s.pending
	s.pending = nil
	if rec == nil {
		var err error
		if rec, err = s.cr.Read(); err == io.EOF {
			return nil, io.EOF
		} else if err != nil {
			return nil, csvError(s.name, s.skipped, err)
		}
	}
	if len(rec) != len(s.names) {
		what := "the header has"
		if !s.opts.hasHeader() {
			what = "the first row has"
		}
		return nil, ferry.Errorf(ferry.EINVALID, "%s line %d: %d fields, %s %d", s.name, s.line(0), len(rec), what, len(s.names))
	}
	return rec, nil
}

// fieldError is an EINVALID error about field i of the last record read.
func (s *csvScanner) fieldError(i int, msg string) error {
	return ferry.Errorf(ferry.EINVALID, "%s line %d column '%s': %s", s.name, s.line(i), s.names[i], msg)
}

// csvError turns an error of encoding/csv into one naming the file and line.
func csvError(name string, skipped int, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return readError(name, err)
	}
	if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
		return ferry.Errorf(ferry.EINVALID, "%s line %d: %v (quote fields that contain quotes, delimiters or line breaks)", name, pe.Line+skipped, pe.Err)
	}
	return readError(name, pe.Err)
}
