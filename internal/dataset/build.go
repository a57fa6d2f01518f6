package dataset

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Text values that mean "missing" in CSV and JSON Lines files (compared after
// trimming spaces).
var missingTokens = [...]string{"", "NA", "N/A", "NaN", "nan", "null", "NULL"}

// isMissingText reports whether a text value means "missing".
func isMissingText(s string) bool {
	s = strings.TrimSpace(s)
	for _, m := range missingTokens {
		if s == m {
			return true
		}
	}
	return false
}

// timeLayouts are the timestamp forms inferred from text, tried in order.
// Values without a zone are taken as UTC. Fractional seconds are optional in
// every layout that has seconds.
var timeLayouts = [...]string{
	"2006-01-02T15:04:05.999999999Z07:00", // RFC 3339
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02 15:04:05.999999999",
	"2006/01/02",
}

// MinTime and MaxTime bound the instants a timestamp column holds: those
// that fit in int64 Unix nanoseconds, with a margin.
var (
	MinTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2261, 12, 31, 0, 0, 0, 0, time.UTC)
)

// ParseTime parses s (spaces trimmed) in one of the timestamp forms the
// readers infer: RFC 3339, "2006-01-02 15:04:05", "2006-01-02" and the others
// of timeLayouts; a time without a zone is UTC. ok is false for text in no
// such form. The time may lie outside [MinTime, MaxTime]; callers that store
// it as Unix nanoseconds check that.
func ParseTime(s string) (t time.Time, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseNumber parses a decimal number (optionally with exponent, Inf or
// Infinity). Hexadecimal forms and digit separators are not numbers here.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "xX_pP") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out-of-range values parse to ±Inf with an error; take them as such.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, true
		}
		return 0, false
	}
	if math.IsNaN(v) { // "nan" spelled otherwise than a missing token
		return 0, false
	}
	return v, true
}

// canonicalNumber reports whether s is exactly what formatCanonical returns
// for the number it denotes: plain decimal, no sign but '-', no leading zeros,
// no trailing fractional zeros, at most 15 digits. Decimal strings of at most
// 15 significant digits survive a round trip through float64 (DBL_DIG), so
// such text need not be kept to be reproduced.
func canonicalNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	digits, dot := 0, -1
	start := i
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot < 0:
			dot = i
		default:
			return false
		}
	}
	switch {
	case digits == 0 || digits > 15:
		return false
	case dot == start || dot == len(s)-1: // ".5" or "5."
		return false
	case s[start] == '0' && start+1 < len(s) && s[start+1] != '.': // "05"
		return false
	case dot > 0 && s[len(s)-1] == '0': // "0.50"
		return false
	}
	return true
}

// formatCanonical is the inverse of parseNumber for canonical text.
func formatCanonical(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// looksLikeTime is a cheap test before trying the layouts: four digits and a
// date separator.
func looksLikeTime(s string) bool {
	if len(s) < 10 || (s[4] != '-' && s[4] != '/') {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTime parses s with the layouts, trying layout hint first; it returns
// the Unix nanoseconds, the layout that matched, and whether s is exactly how
// that layout formats the time (known only on the fast path, else false).
func parseTime(s string, hint int) (ns int64, layout int, exact, ok bool) {
	if ns, layout, ok := fastTime(s); ok {
		return ns, layout, true, true
	}
	s = strings.TrimSpace(s)
	if !looksLikeTime(s) {
		return 0, hint, false, false
	}
	try := func(i int) (int64, bool) {
		t, err := time.Parse(timeLayouts[i], s)
		if err != nil || t.Before(MinTime) || t.After(MaxTime) {
			return 0, false
		}
		return t.UnixNano(), true
	}
	if ns, ok := try(hint); ok {
		return ns, hint, false, true
	}
	for i := range timeLayouts {
		if i == hint {
			continue
		}
		if ns, ok := try(i); ok {
			return ns, i, false, true
		}
	}
	return 0, hint, false, false
}

// fastTime parses the most common forms without time.Parse:
// 2006-01-02 (layout 7), 2006-01-02 15:04:05 (layout 3), 2006-01-02T15:04:05
// (layout 1) and 2006-01-02T15:04:05Z (layout 0). Each of these is exactly
// how its layout formats the time, so s needs no keeping.
func fastTime(s string) (int64, int, bool) {
	var layout int
	switch {
	case len(s) == 10:
		layout = 7
	case len(s) == 19 && s[10] == ' ':
		layout = 3
	case len(s) == 19 && s[10] == 'T':
		layout = 1
	case len(s) == 20 && s[10] == 'T' && s[19] == 'Z':
		layout = 0
	default:
		return 0, 0, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	if s[4] != '-' || s[7] != '-' {
		return 0, 0, false
	}
	y, mo, d := num(0, 4), num(5, 2), num(8, 2)
	h, mi, sec := 0, 0, 0
	if layout != 7 {
		if s[13] != ':' || s[16] != ':' {
			return 0, 0, false
		}
		h, mi, sec = num(11, 2), num(14, 2), num(17, 2)
	}
	if y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return 0, 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d { // 2001-02-30 and the like
		return 0, 0, false
	}
	return t.UnixNano(), layout, true
}

// valueError is a value that does not fit its column; the reader adds the file,
// line and column.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

// rawText keeps the exact text of the values of a numeric or timestamp
// column whose canonical formatting would differ, so that the column can turn
// categorical later without changing any value's text.
type rawText struct {
	rows []int
	ends []int
	data []byte
}

func (r *rawText) add(row int, s string) {
	r.rows = append(r.rows, row)
	r.data = append(r.data, s...)
	r.ends = append(r.ends, len(r.data))
}

// builder accumulates one column of text values, inferring its kind as it
// goes: numeric while every value is a number, timestamp while every value is
// a timestamp, categorical otherwise. A column of only missing values is
// numeric. Values are stored typed as they arrive; only the text of
// non-canonical numbers and timestamps is kept besides, to demote the column
// to categorical exactly should a later value need it.
type builder struct {
	name    string
	forced  Kind // kind from ReadOptions.Types, or ""
	kind    Kind // "" until the first non-missing value
	pending int  // missing values seen while kind is ""

	num    []float64
	tim    []int64
	layout int // timestamps: the layout that parsed the last value
	canon  int // timestamps: the layout that parsed the first value
	codes  []int32
	levels []string
	index  map[string]int32
	raw    rawText
	buf    []byte
}

func newBuilder(name string, forced Kind) *builder {
	return &builder{name: name, forced: forced, kind: forced}
}

// rows returns the number of values added.
func (b *builder) rows() int {
	switch b.kind {
	case KindNumeric:
		return len(b.num)
	case KindTimestamp:
		return len(b.tim)
	case KindCategorical:
		return len(b.codes)
	}
	return b.pending
}

// addMissing appends n missing values.
func (b *builder) addMissing(n int) {
	switch b.kind {
	case KindNumeric:
		for ; n > 0; n-- {
			b.num = append(b.num, math.NaN())
		}
	case KindTimestamp:
		for ; n > 0; n-- {
			b.tim = append(b.tim, MissingTime)
		}
	case KindCategorical:
		for ; n > 0; n-- {
			b.codes = append(b.codes, -1)
		}
	default:
		b.pending += n
	}
}

// add appends one text value. It fails only when the value does not fit a
// forced kind or is a category that is not valid UTF-8.
func (b *builder) add(s string) error {
	if isMissingText(s) {
		b.addMissing(1)
		return nil
	}
	if b.kind == "" {
		b.start(s)
	}
	switch b.kind {
	case KindNumeric:
		v, ok := parseNumber(s)
		if !ok {
			if b.forced != "" {
				return &valueError{quote(s) + " is not a number"}
			}
			b.demote()
			return b.addCategory(s)
		}
		if b.forced == "" && !canonicalNumber(s) {
			b.raw.add(len(b.num), s)
		}
		b.num = append(b.num, v)
	case KindTimestamp:
		ns, layout, exact, ok := parseTime(s, b.layout)
		if !ok {
			if b.forced != "" {
				return &valueError{quote(s) + " is not a timestamp (use RFC 3339, 2006-01-02 or 2006-01-02 15:04:05)"}
			}
			b.demote()
			return b.addCategory(s)
		}
		b.layout = layout
		if b.forced == "" && (layout != b.canon || !exact) {
			b.buf = time.Unix(0, ns).UTC().AppendFormat(b.buf[:0], timeLayouts[b.canon])
			if string(b.buf) != s {
				b.raw.add(len(b.tim), s)
			}
		}
		b.tim = append(b.tim, ns)
	case KindCategorical:
		return b.addCategory(s)
	}
	return nil
}

// start fixes the inferred kind from the first non-missing value s and adds
// the missing values seen before it.
func (b *builder) start(s string) {
	if _, ok := parseNumber(s); ok {
		b.kind = KindNumeric
	} else if _, layout, _, ok := parseTime(s, 0); ok {
		b.kind, b.layout, b.canon = KindTimestamp, layout, layout
	} else {
		b.kind = KindCategorical
	}
	n := b.pending
	b.pending = 0
	b.addMissing(n)
}

// addCategory appends s as a category.
func (b *builder) addCategory(s string) error {
	code, ok := b.index[s]
	if !ok {
		if !utf8.ValidString(s) {
			return &valueError{"invalid UTF-8 in " + quote(s)}
		}
		if b.index == nil {
			b.index = map[string]int32{}
		}
		code = int32(len(b.levels))
		s = strings.Clone(s) // s may point into a reused buffer
		b.index[s] = code
		b.levels = append(b.levels, s)
	}
	b.codes = append(b.codes, code)
	return nil
}

// demote turns a numeric or timestamp column into a categorical one, each
// value keeping the text it was read from.
func (b *builder) demote() {
	n := b.rows()
	b.codes = make([]int32, 0, n+n/4)
	b.index = map[string]int32{}
	raw := b.raw
	next := 0
	for i := 0; i < n; i++ {
		var s string
		if next < len(raw.rows) && raw.rows[next] == i {
			start := 0
			if next > 0 {
				start = raw.ends[next-1]
			}
			s = string(raw.data[start:raw.ends[next]])
			next++
		} else if b.kind == KindNumeric {
			if math.IsNaN(b.num[i]) {
				b.codes = append(b.codes, -1)
				continue
			}
			s = formatCanonical(b.num[i])
		} else {
			if b.tim[i] == MissingTime {
				b.codes = append(b.codes, -1)
				continue
			}
			s = time.Unix(0, b.tim[i]).UTC().Format(timeLayouts[b.canon])
		}
		b.addCategory(s) // text that parsed as a number or a time is valid UTF-8
	}
	b.kind = KindCategorical
	b.num, b.tim, b.raw = nil, nil, rawText{}
}

// column returns the finished column.
func (b *builder) column() *Column {
	if b.kind == "" {
		b.kind = KindNumeric
		n := b.pending
		b.pending = 0
		b.addMissing(n)
	}
	c := &Column{Name: b.name, Kind: b.kind, Num: b.num, Time: b.tim, Codes: b.codes, Levels: b.levels}
	switch c.Kind {
	case KindNumeric:
		if c.Num == nil {
			c.Num = []float64{}
		}
	case KindTimestamp:
		if c.Time == nil {
			c.Time = []int64{}
		}
	case KindCategorical:
		if c.Codes == nil {
			c.Codes = []int32{}
		}
	}
	return c
}
