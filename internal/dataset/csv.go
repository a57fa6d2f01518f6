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
	line := func(field int) int {
		l, _ := cr.FieldPos(field)
		return l + skipped
	}

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
	names := make([]string, len(first))
	for i, h := range first {
		if opts.hasHeader() {
			if !utf8.ValidString(h) {
				return nil, ferry.Errorf(ferry.EINVALID, "%s line %d: the name of column %d is not valid UTF-8", name, line(i), i+1)
			}
			h = strings.TrimSpace(h)
		} else {
			h = ""
		}
		if h == "" {
			h = "c" + strconv.Itoa(i)
		}
		names[i] = h
	}
	sel, err := selectColumns(name, names, opts)
	if err != nil {
		return nil, err
	}
	builders := make([]*builder, len(sel.order))
	for j, i := range sel.order {
		builders[j] = newBuilder(names[i], sel.kinds[j])
	}

	add := func(rec []string) error {
		if len(rec) != len(names) {
			what := "the header has"
			if !opts.hasHeader() {
				what = "the first row has"
			}
			return ferry.Errorf(ferry.EINVALID, "%s line %d: %d fields, %s %d", name, line(0), len(rec), what, len(names))
		}
		for i, s := range rec {
			j := sel.slot[i]
			if j < 0 {
				continue
			}
			if err := builders[j].add(s); err != nil {
				return ferry.Errorf(ferry.EINVALID, "%s line %d column '%s': %s", name, line(i), names[i], err.Error())
			}
		}
		return nil
	}

	rows := 0
	if !opts.hasHeader() {
		if err := add(first); err != nil {
			return nil, err
		}
		rows++
	}
	for opts.MaxRows == 0 || rows < opts.MaxRows {
		if rows%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, csvError(name, skipped, err)
		}
		if err := add(rec); err != nil {
			return nil, err
		}
		rows++
	}
	f := &Frame{Columns: make([]*Column, len(builders))}
	for j, b := range builders {
		f.Columns[j] = b.column()
	}
	return f, nil
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
