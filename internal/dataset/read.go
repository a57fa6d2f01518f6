package dataset

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// ReadOptions tune a read. The zero value reads every column, every row, with
// a header line and inferred types.
type ReadOptions struct {
	// Types forces the kind of the named columns instead of inferring it. A
	// value that does not fit is an error naming its line and column.
	Types map[string]Kind
	// Columns, when not empty, reads only these columns, in this order.
	Columns []string
	// MaxRows, when positive, stops after that many data rows.
	MaxRows int
	// Header says whether the first CSV line names the columns (default
	// true). Without one, columns are named c0, c1, …
	Header *bool
	// Delimiter separates CSV fields: ',' by default, '\t' for .tsv files.
	Delimiter rune
	// SkipLines skips that many raw lines before the CSV header (or the first
	// row when there is none). Line numbers in errors still count from the
	// start of the file.
	SkipLines int
}

// hasHeader returns the effective Header option.
func (o ReadOptions) hasHeader() bool { return o.Header == nil || *o.Header }

// validate checks the options that do not depend on the data.
func (o ReadOptions) validate(name string) error {
	for col, k := range o.Types {
		if !k.Valid() {
			return ferry.Errorf(ferry.EINVALID, "%s: type %q for column '%s' is not numeric, categorical or timestamp", name, k, col)
		}
	}
	seen := map[string]bool{}
	for _, c := range o.Columns {
		if seen[c] {
			return ferry.Errorf(ferry.EINVALID, "%s: column '%s' is selected twice", name, c)
		}
		seen[c] = true
	}
	if o.MaxRows < 0 || o.SkipLines < 0 {
		return ferry.Errorf(ferry.EINVALID, "%s: MaxRows and SkipLines must not be negative", name)
	}
	if d := o.Delimiter; d != 0 && (d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError || !utf8.ValidRune(d)) {
		return ferry.Errorf(ferry.EINVALID, "%s: %q cannot be a delimiter", name, d)
	}
	return nil
}

// Format names a file format Read understands.
type Format string

// The formats of Read.
const (
	FormatCSV     Format = "csv"
	FormatParquet Format = "parquet"
	FormatJSONL   Format = "jsonl"
)

// FormatOf returns the format of path from its extension and whether the file
// is gzip-compressed: .csv, .tsv, .parquet (.pq), .jsonl and .ndjson, each but
// Parquet optionally followed by .gz. Extensions are matched without regard to
// case. Any other extension is EINVALID.
func FormatOf(path string) (f Format, gzipped bool, err error) {
	p := strings.ToLower(path)
	if strings.HasSuffix(p, ".gz") {
		p, gzipped = strings.TrimSuffix(p, ".gz"), true
	}
	switch {
	case strings.HasSuffix(p, ".csv"), strings.HasSuffix(p, ".tsv"):
		return FormatCSV, gzipped, nil
	case strings.HasSuffix(p, ".jsonl"), strings.HasSuffix(p, ".ndjson"):
		return FormatJSONL, gzipped, nil
	case (strings.HasSuffix(p, ".parquet") || strings.HasSuffix(p, ".pq")) && !gzipped:
		return FormatParquet, false, nil
	}
	return "", false, ferry.Errorf(ferry.EINVALID, "%s: unknown file type; use .csv, .tsv, .jsonl or .ndjson (each optionally .gz) or .parquet", path)
}

// Read reads the file at path into a frame, choosing the reader by the
// extension (see FormatOf). A .tsv file is read with a tab delimiter unless
// opts says otherwise. Errors about the content are EINVALID and name path; a
// missing file is ENOTFOUND; other I/O errors and ctx's error are wrapped.
func Read(ctx context.Context, path string, opts ReadOptions) (*Frame, error) {
	format, gzipped, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	fh, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if format == FormatParquet {
		st, err := fh.Stat()
		if err != nil {
			return nil, fmt.Errorf("dataset: stat %s: %w", path, err)
		}
		return ReadParquet(ctx, fh, st.Size(), path, opts)
	}
	var r io.Reader = fh
	if gzipped {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrHeader) {
				return nil, ferry.Errorf(ferry.EINVALID, "%s: not gzip data", path)
			}
			return nil, readError(path, err)
		}
		defer zr.Close()
		r = zr
	}
	if format == FormatJSONL {
		return ReadJSONL(ctx, r, path, opts)
	}
	if opts.Delimiter == 0 && strings.HasSuffix(strings.TrimSuffix(strings.ToLower(path), ".gz"), ".tsv") {
		opts.Delimiter = '\t'
	}
	return ReadCSV(ctx, r, path, opts)
}

// openFile opens path for reading, with ENOTFOUND for a missing file.
func openFile(path string) (*os.File, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ferry.Errorf(ferry.ENOTFOUND, "%s: no such file", path)
	} else if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", path, err)
	}
	if st, err := fh.Stat(); err == nil && st.IsDir() {
		fh.Close()
		return nil, ferry.Errorf(ferry.EINVALID, "%s is a directory, not a data file", path)
	}
	return fh, nil
}

// readError classifies an error of the underlying reader: corrupt compressed
// data is EINVALID, anything else is wrapped as an I/O error.
func readError(name string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return ferry.Errorf(ferry.EINVALID, "%s: corrupt gzip data", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ferry.Errorf(ferry.EINVALID, "%s: the file ends too early (truncated?)", name)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("dataset: read %s: %w", name, err)
}

// quote formats a data value for an error message: quoted, escaped and cut to
// a readable length.
func quote(s string) string {
	const most = 40
	if len(s) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

// selection resolves ReadOptions.Columns and Types against the names in a
// file: for each file column, the position it takes in the frame or -1.
type selection struct {
	slot  []int  // per file column: index into the output, or -1
	order []int  // per output column: the file column
	kinds []Kind // per output column: forced kind or ""
}

// selectColumns builds the selection of opts over names. An unknown name in
// Columns or Types is EINVALID, listing the columns of the file.
func selectColumns(file string, names []string, opts ReadOptions) (*selection, error) {
	pos := make(map[string]int, len(names))
	for i, n := range names {
		if j, dup := pos[n]; dup {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: columns %d and %d are both named '%s'", file, j+1, i+1, n)
		}
		pos[n] = i
	}
	s := &selection{slot: make([]int, len(names))}
	if len(opts.Columns) == 0 {
		for i := range names {
			s.slot[i] = i
			s.order = append(s.order, i)
		}
	} else {
		for i := range s.slot {
			s.slot[i] = -1
		}
		for j, c := range opts.Columns {
			i, ok := pos[c]
			if !ok {
				return nil, ferry.Errorf(ferry.EINVALID, "%s: %s", file, ferry.ErrorMessage(noColumn(c, names)))
			}
			s.slot[i] = j
			s.order = append(s.order, i)
		}
	}
	s.kinds = make([]Kind, len(s.order))
	for c, k := range opts.Types {
		i, ok := pos[c]
		if !ok {
			err := noColumn(c, names)
			return nil, ferry.Errorf(ferry.EINVALID, "%s: type given for a column that is not there: %s", file, ferry.ErrorMessage(err))
		}
		if s.slot[i] >= 0 {
			s.kinds[s.slot[i]] = k
		}
	}
	return s, nil
}

// convertKind returns col read as kind: any column as categorical (values as
// String formats them), categorical as numeric or timestamp (each level
// parsed as in CSV). Other conversions, and levels that do not parse, are
// EINVALID.
func convertKind(file string, col *Column, kind Kind) (*Column, error) {
	out := &Column{Name: col.Name, Kind: kind}
	switch {
	case kind == KindCategorical:
		index := map[string]int32{}
		out.Codes = make([]int32, col.Len())
		for i := range out.Codes {
			if col.IsMissing(i) {
				out.Codes[i] = -1
				continue
			}
			s := col.String(i)
			if col.Kind == KindNumeric {
				s = formatCanonical(col.Num[i])
			}
			code, ok := index[s]
			if !ok {
				code = int32(len(out.Levels))
				index[s] = code
				out.Levels = append(out.Levels, s)
			}
			out.Codes[i] = code
		}
	case col.Kind == KindCategorical && kind == KindNumeric:
		levels := make([]float64, len(col.Levels))
		for l, s := range col.Levels {
			v, ok := parseNumber(s)
			if !ok {
				return nil, ferry.Errorf(ferry.EINVALID, "%s row %d column '%s': %s is not a number", file, firstRow(col.Codes, l)+1, col.Name, quote(s))
			}
			levels[l] = v
		}
		out.Num = make([]float64, len(col.Codes))
		for i, code := range col.Codes {
			out.Num[i] = math.NaN()
			if code >= 0 {
				out.Num[i] = levels[code]
			}
		}
	case col.Kind == KindCategorical && kind == KindTimestamp:
		levels := make([]int64, len(col.Levels))
		for l, s := range col.Levels {
			ns, _, _, ok := parseTime(s, 0)
			if !ok {
				return nil, ferry.Errorf(ferry.EINVALID, "%s row %d column '%s': %s is not a timestamp", file, firstRow(col.Codes, l)+1, col.Name, quote(s))
			}
			levels[l] = ns
		}
		out.Time = make([]int64, len(col.Codes))
		for i, code := range col.Codes {
			out.Time[i] = MissingTime
			if code >= 0 {
				out.Time[i] = levels[code]
			}
		}
	default:
		return nil, ferry.Errorf(ferry.EINVALID, "%s column '%s': a %s column cannot be read as %s", file, col.Name, col.Kind, kind)
	}
	return out, nil
}

// firstRow returns the first row holding code.
func firstRow(codes []int32, code int) int {
	for i, c := range codes {
		if int(c) == code {
			return i
		}
	}
	return -1
}
