package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

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
		lines    = newJSONLines(r, name)
		fail     = lines.fail
		rows     = 0
	)
	for opts.MaxRows == 0 || rows < opts.MaxRows {
		if rows%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := lines.next()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		err = objectFields(line, fail, func(key string, raw json.RawMessage) error {
			if wanted != nil && !wanted[key] {
				return nil
			}
			j, ok := byName[key]
			if !ok {
				if key == "" {
					return fail("", "a key is empty")
				}
				j = len(builders)
				byName[key] = j
				b := newBuilder(key, opts.Types[key])
				b.addMissing(rows)
				builders = append(builders, b)
				stamp = append(stamp, 0)
			}
			if stamp[j] == rows+1 {
				return fail(key, "the key appears twice in the object")
			}
			stamp[j] = rows + 1
			text, null, err := scalarText(raw)
			if err != nil {
				return fail(key, "%s", err.Error())
			}
			if null {
				builders[j].addMissing(1)
				return nil
			}
			if err := builders[j].add(text); err != nil {
				return fail(key, "%s", err.Error())
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for j, b := range builders {
			if stamp[j] != rows+1 {
				b.addMissing(1)
			}
		}
		rows++
	}
	if lines.line == 0 {
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

// objectFields calls fn with each key of the JSON object on line and the raw
// text of its value, in order. A line that is not one JSON object is an error
// made by fail (with the key, where one is known); fn's errors are returned
// as they are.
func objectFields(line []byte, fail func(col, format string, args ...any) error, fn func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail("", "not a JSON object")
	}
	var raw json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("", "malformed JSON: %s", jsonProblem(err))
		}
		key, ok := tok.(string)
		if !ok {
			return fail("", "malformed JSON object")
		}
		if err := dec.Decode(&raw); err != nil {
			return fail(key, "malformed JSON: %s", jsonProblem(err))
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fail("", "malformed JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("", "more than one JSON value on the line")
	}
	return nil
}

// errNested reports a JSON array or object where a value is expected.
var errNested = errors.New("nested arrays and objects are not supported; flatten them into columns")

// scalarText returns a JSON scalar as text (a string's value, a number's
// literal, "true" or "false") or null; an array or object is errNested.
func scalarText(raw json.RawMessage) (text string, null bool, err error) {
	switch raw[0] {
	case 'n':
		return "", true, nil
	case 't':
		return "true", false, nil
	case 'f':
		return "false", false, nil
	case '[', '{':
		return "", false, errNested
	case '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", false, err
		}
		return text, false, nil
	}
	return string(raw), false, nil
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
