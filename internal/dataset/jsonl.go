package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// ReadJSONL reads JSON Lines from r into a frame: one JSON object per line,
// each key a column, columns in the order their keys are first seen. Blank
// lines are skipped. A key absent from a line, or null, is a missing value.
// Values are strings, numbers and booleans, read as their text and inferred
// like CSV fields (see ReadCSV): so numbers make numeric columns, date strings
// timestamp columns, and booleans categorical "true"/"false" ones. name is the
// file name used in error messages; opts.Header, Delimiter and SkipLines do
// not apply.
//
// Errors about the content are EINVALID and name the file, the line and,
// where there is one, the column: a line that is not a JSON object, a nested
// array or object, a key repeated within an object, invalid UTF-8, a value
// that does not fit a forced type, a selected column that no line has.
func ReadJSONL(ctx context.Context, r io.Reader, name string, opts ReadOptions) (*Frame, error) {
	if err := opts.validate(name); err != nil {
		return nil, err
	}
	var wanted map[string]bool
	if len(opts.Columns) > 0 {
		wanted = make(map[string]bool, len(opts.Columns))
		for _, c := range opts.Columns {
			wanted[c] = true
		}
	}
	var (
		builders []*builder
		byName   = map[string]int{}
		stamp    []int // per builder: the last row that set it, +1
		br       = bufio.NewReaderSize(r, 64<<10)
		lineNo   = 0
		rows     = 0
		buf      []byte
	)
	fail := func(col, format string, args ...any) error {
		where := fmt.Sprintf("%s line %d", name, lineNo)
		if col != "" {
			where += fmt.Sprintf(" column '%s'", col)
		}
		return ferry.Errorf(ferry.EINVALID, "%s: %s", where, fmt.Sprintf(format, args...))
	}
	for opts.MaxRows == 0 || rows < opts.MaxRows {
		if lineNo%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var err error
		buf, err = readLine(br, buf[:0])
		if err == io.EOF && len(buf) == 0 {
			break
		} else if err != nil && err != io.EOF {
			return nil, readError(name, err)
		}
		lineNo++
		line := bytes.TrimSpace(buf)
		if len(line) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			return nil, ferry.Errorf(ferry.EINVALID, "%s line %d: invalid UTF-8", name, lineNo)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil, fail("", "not a JSON object")
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fail("", "malformed JSON: %s", jsonProblem(err))
			}
			key, ok := tok.(string)
			if !ok {
				return nil, fail("", "malformed JSON object")
			}
			if wanted != nil && !wanted[key] {
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return nil, fail(key, "malformed JSON: %s", jsonProblem(err))
				}
				continue
			}
			j, ok := byName[key]
			if !ok {
				if key == "" {
					return nil, fail("", "a key is empty")
				}
				j = len(builders)
				byName[key] = j
				b := newBuilder(key, opts.Types[key])
				b.addMissing(rows)
				builders = append(builders, b)
				stamp = append(stamp, 0)
			}
			if stamp[j] == rows+1 {
				return nil, fail(key, "the key appears twice in the object")
			}
			stamp[j] = rows + 1
			tok, err = dec.Token()
			if err != nil {
				return nil, fail(key, "malformed JSON: %s", jsonProblem(err))
			}
			var text string
			switch v := tok.(type) {
			case nil:
				builders[j].addMissing(1)
				continue
			case string:
				text = v
			case json.Number:
				text = v.String()
			case bool:
				text = "false"
				if v {
					text = "true"
				}
			default: // a Delim: '[' or '{'
				return nil, fail(key, "nested arrays and objects are not supported; flatten them into columns")
			}
			if err := builders[j].add(text); err != nil {
				return nil, fail(key, "%s", err.Error())
			}
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
			return nil, fail("", "malformed JSON object")
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fail("", "more than one JSON value on the line")
		}
		for j, b := range builders {
			if stamp[j] != rows+1 {
				b.addMissing(1)
			}
		}
		rows++
	}
	if lineNo == 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "%s is empty: no rows", name)
	}
	names := make([]string, len(builders))
	for j, b := range builders {
		names[j] = b.name
	}
	for c := range opts.Types {
		if _, ok := byName[c]; !ok && (wanted == nil || wanted[c]) {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: type given for a column that is not there: %s", name, ferry.ErrorMessage(noColumn(c, names)))
		}
	}
	f := &Frame{}
	if wanted == nil {
		for _, b := range builders {
			f.Columns = append(f.Columns, b.column())
		}
		return f, nil
	}
	for _, c := range opts.Columns {
		j, ok := byName[c]
		if !ok {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: %s", name, ferry.ErrorMessage(noColumn(c, names)))
		}
		f.Columns = append(f.Columns, builders[j].column())
	}
	return f, nil
}

// readLine appends the next line of br, without its end, to buf.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
		}
		return buf, err
	}
}

// jsonProblem describes a JSON syntax error without Go's prefixes.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the object is not closed"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
