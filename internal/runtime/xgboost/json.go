package xgboost

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSON decodes an XGBoost JSON document. Beyond RFC 8259 it accepts the
// NaN, Infinity and -Infinity that XGBoost writes for non-finite floats
// (e.g. the split_conditions of categorical splits). Everything it allocates
// is proportional to the input's length; nesting is limited to maxDepth.
// Errors describe the problem and its byte offset.
func decodeJSON(data []byte) (value, error) {
	d := &jsonDecoder{data: data}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return value{}, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return value{}, d.errorf("unexpected %s after the top-level value", d.what())
	}
	return v, nil
}

type jsonDecoder struct {
	data []byte
	pos  int
}

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON at byte %d: %s", d.pos, fmt.Sprintf(format, args...))
}

// what names the next input for error messages.
func (d *jsonDecoder) what() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	c := d.data[d.pos]
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (value, error) {
	if d.pos >= len(d.data) {
		return value{}, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, err := d.str()
		return value{kind: kindString, str: s}, err
	case c == 't':
		return value{kind: kindBool, num: 1}, d.literal("true")
	case c == 'f':
		return value{kind: kindBool}, d.literal("false")
	case c == 'n':
		return value{kind: kindNull}, d.literal("null")
	case c == '-' || c == 'N' || c == 'I' || c >= '0' && c <= '9':
		f64, f32, err := d.number()
		return value{kind: kindNumber, num: f64, f32: f32}, err
	}
	return value{}, d.errorf("unexpected %s where a value should start", d.what())
}

func (d *jsonDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal (want %s)", word)
	}
	d.pos += len(word)
	return nil
}

func (d *jsonDecoder) object(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, d.errorf("objects and arrays nest deeper than %d levels", maxDepth)
	}
	d.pos++ // {
	v := value{kind: kindObject}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return v, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return value{}, d.errorf("unexpected %s where an object key should start", d.what())
		}
		key, err := d.str()
		if err != nil {
			return value{}, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return value{}, d.errorf("unexpected %s after an object key (want ':')", d.what())
		}
		d.pos++
		d.skipSpace()
		el, err := d.value(depth)
		if err != nil {
			return value{}, err
		}
		v.fields = append(v.fields, field{key: key, val: el})
		d.skipSpace()
		if d.pos >= len(d.data) {
			return value{}, d.errorf("unexpected end of input in an object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return v, nil
		default:
			return value{}, d.errorf("unexpected %s in an object (want ',' or '}')", d.what())
		}
	}
}

// array decodes an array, holding numbers compactly for as long as every
// element is one.
func (d *jsonDecoder) array(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, d.errorf("objects and arrays nest deeper than %d levels", maxDepth)
	}
	d.pos++ // [
	v := value{kind: kindArray}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return v, nil
	}
	for {
		d.skipSpace()
		el, err := d.value(depth)
		if err != nil {
			return value{}, err
		}
		v.appendElem(el)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return value{}, d.errorf("unexpected end of input in an array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return v, nil
		default:
			return value{}, d.errorf("unexpected %s in an array (want ',' or ']')", d.what())
		}
	}
}

// number decodes a JSON number, or NaN, Infinity, -Infinity.
func (d *jsonDecoder) number() (float64, float32, error) {
	start := d.pos
	for _, special := range [...]string{"NaN", "-NaN", "Infinity", "-Infinity"} {
		if len(d.data)-start >= len(special) && string(d.data[start:start+len(special)]) == special {
			d.pos += len(special)
			f64, f32, _ := parseNumberText(special)
			return f64, f32, nil
		}
	}
	p := d.pos
	if p < len(d.data) && d.data[p] == '-' {
		p++
	}
	digits := func() int {
		n := 0
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
			n++
		}
		return n
	}
	if digits() == 0 {
		return 0, 0, d.errorf("invalid number")
	}
	if p < len(d.data) && d.data[p] == '.' {
		p++
		if digits() == 0 {
			return 0, 0, d.errorf("invalid number: no digits after the decimal point")
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if digits() == 0 {
			return 0, 0, d.errorf("invalid number: no digits in the exponent")
		}
	}
	d.pos = p
	f64, f32, ok := parseNumberText(string(d.data[start:p]))
	if !ok {
		d.pos = start
		return 0, 0, d.errorf("invalid number")
	}
	return f64, f32, nil
}

// str decodes a string, with its escapes.
func (d *jsonDecoder) str() (string, error) {
	d.pos++ // "
	start := d.pos
	// fast path: no escapes
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			d.pos++
			if !utf8.Valid(s) {
				return "", d.errorf("a string is not valid UTF-8")
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(buf) {
				return "", d.errorf("a string is not valid UTF-8")
			}
			return string(buf), nil
		case c < 0x20:
			return "", d.errorf("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		d.pos++ // backslash
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					d.pos += 2
					if r2, ok = d.hex4(); !ok {
						return "", d.errorf("invalid \\u escape")
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.errorf("invalid escape \\%c", e)
		}
	}
	return "", d.errorf("unexpected end of input in a string")
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.pos += 4
	return rune(n), true
}
