package serving

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON values the decoders accept, so that a
// small body of brackets cannot exhaust the stack.
const maxDepth = 64

// scanner is a minimal JSON pull parser over a byte slice. It never allocates
// more than the strings it returns, and never recurses deeper than maxDepth.
// Its errors are plain errors carrying the byte offset; callers wrap them into
// *ferry.Error messages.
type scanner struct {
	b []byte
	i int
}

// syntaxError describes malformed JSON at an offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.off, e.msg) }

func (s *scanner) errorf(format string, args ...any) error {
	return &syntaxError{off: s.i, msg: fmt.Sprintf(format, args...)}
}

// ws skips whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// expect consumes c after optional whitespace.
func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.unexpected(fmt.Sprintf("%q", c))
	}
	s.i++
	return nil
}

func (s *scanner) unexpected(want string) error {
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of input, want %s", want)
	}
	return s.errorf("unexpected %q, want %s", s.b[s.i], want)
}

// end checks that nothing but whitespace follows.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.errorf("unexpected data after the JSON value")
	}
	return nil
}

// more is for loops over arrays and objects: after the opening bracket (first
// true) it reports whether another element follows, consuming the comma, or
// consumes the closing bracket and reports false.
func (s *scanner) more(closing byte, first *bool) (bool, error) {
	c := s.peek()
	if c == closing {
		s.i++
		return false, nil
	}
	if *first {
		*first = false
		if c == 0 {
			return false, s.unexpected(fmt.Sprintf("a value or %q", closing))
		}
		return true, nil
	}
	if c != ',' {
		return false, s.unexpected(fmt.Sprintf("',' or %q", closing))
	}
	s.i++
	return true, nil
}

// object iterates over the members of an object, calling fn with each key
// (valid only during the call) with the scanner at the value, which fn must
// consume.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	first := true
	for {
		ok, err := s.more('}', &first)
		if err != nil || !ok {
			return err
		}
		if s.peek() != '"' {
			return s.unexpected("a string key")
		}
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
	}
}

// array iterates over the elements of an array, calling fn with the scanner
// at each element, which fn must consume.
func (s *scanner) array(fn func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	first := true
	for n := 0; ; n++ {
		ok, err := s.more(']', &first)
		if err != nil || !ok {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
	}
}

// rawString consumes a string and returns its contents: the bytes between
// the quotes when there are no escapes (aliasing the input), or a decoded
// copy. Invalid UTF-8 is kept as it is; encoders replace it.
func (s *scanner) rawString() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			return s.escapedString(start)
		case c < 0x20:
			return nil, s.errorf("control character in string")
		}
		s.i++
	}
	return nil, s.errorf("unterminated string")
}

func (s *scanner) escapedString(start int) ([]byte, error) {
	out := make([]byte, 0, s.i-start+16)
	out = append(out, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					var ok2 bool
					if r2, ok2 = s.hex4(); !ok2 {
						return nil, s.errorf("invalid \\u escape")
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						continue
					}
					s.i = save
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			s.i--
			return nil, s.errorf("invalid escape '\\%c'", e)
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// str consumes a string and returns it as a Go string (a copy).
func (s *scanner) str() (string, error) {
	b, err := s.rawString()
	return string(b), err
}

// number consumes a JSON number and returns its text (aliasing the input).
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	default:
		s.i = start
		return nil, s.unexpected("a number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return nil, s.errorf("invalid number")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return nil, s.errorf("invalid number")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return s.b[start:s.i], nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// literal consumes true, false or null.
func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// skip consumes any value and returns its text.
func (s *scanner) skip() ([]byte, error) {
	s.ws()
	start := s.i
	if err := s.skipValue(0); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

func (s *scanner) skipValue(depth int) error {
	if depth > maxDepth {
		return s.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch c := s.peek(); c {
	case '{':
		return s.object(func([]byte) error { return s.skipValue(depth + 1) })
	case '[':
		return s.array(func(int) error { return s.skipValue(depth + 1) })
	case '"':
		_, err := s.rawStringNoCopy()
		return err
	case 't':
		if s.literal("true") {
			return nil
		}
	case 'f':
		if s.literal("false") {
			return nil
		}
	case 'n':
		if s.literal("null") {
			return nil
		}
	default:
		if c == '-' || isDigit(c) {
			_, err := s.number()
			return err
		}
	}
	return s.unexpected("a JSON value")
}

// rawStringNoCopy validates a string without decoding its escapes.
func (s *scanner) rawStringNoCopy() (int, error) {
	if err := s.expect('"'); err != nil {
		return 0, err
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.i - start - 1, nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return 0, s.errorf("unterminated string")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				s.i += 2
				if _, ok := s.hex4(); !ok {
					return 0, s.errorf("invalid \\u escape")
				}
			default:
				return 0, s.errorf("invalid escape")
			}
			continue
		case c < 0x20:
			return 0, s.errorf("control character in string")
		}
		s.i++
	}
	return 0, s.errorf("unterminated string")
}

// kind names the JSON value starting at the next byte, for messages.
func (s *scanner) kind() string {
	switch c := s.peek(); c {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	default:
		if c == '-' || isDigit(c) {
			return "a number"
		}
	}
	return "an invalid value"
}

// parseInt parses a JSON integer literal (no fraction or exponent).
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var u uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// parseUint parses a JSON integer literal as an unsigned 64-bit value.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// parseFloat parses a JSON number; out-of-range values are errors.
func parseFloat(b []byte, bits int) (float64, bool) {
	// Small integers, the common case for one-row requests, skip strconv.
	if len(b) > 0 && len(b) < 16 {
		if v, ok := parseInt(b); ok {
			return float64(v), true
		}
	}
	v, err := strconv.ParseFloat(string(b), bits)
	return v, err == nil
}
