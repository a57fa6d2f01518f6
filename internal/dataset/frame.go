package dataset

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// Kind is the type of a column's values.
type Kind string

// The kinds of column a Frame holds.
const (
	KindNumeric     Kind = "numeric"     // float64 values in Column.Num; NaN is missing
	KindCategorical Kind = "categorical" // codes into Column.Levels in Column.Codes; -1 is missing
	KindTimestamp   Kind = "timestamp"   // Unix nanoseconds (UTC) in Column.Time; MissingTime is missing
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	return k == KindNumeric || k == KindCategorical || k == KindTimestamp
}

// MissingTime marks a missing value in a timestamp column.
const MissingTime int64 = math.MinInt64

// Column is one named, typed column. Exactly one of Num, Codes or Time is used,
// as Kind says; for KindCategorical, Levels holds the distinct values in the
// order they were first seen in the data (row order, and for Parquet, row order
// across row groups), so Codes[i] is an index into Levels.
//
// Columns built by this package may share their Levels with columns derived
// from them (Take, Select): treat every slice of a Column as read-only once it
// is part of a Frame.
type Column struct {
	Name   string
	Kind   Kind
	Num    []float64 // KindNumeric: values, NaN = missing
	Codes  []int32   // KindCategorical: index into Levels, -1 = missing
	Levels []string  // KindCategorical: distinct values in first-seen order
	Time   []int64   // KindTimestamp: Unix nanoseconds UTC; MissingTime = missing
}

// NewNumeric returns a numeric column holding values (not copied).
func NewNumeric(name string, values []float64) *Column {
	return &Column{Name: name, Kind: KindNumeric, Num: values}
}

// NewCategorical returns a categorical column of values, with levels in
// first-seen order. The empty string is a missing value.
func NewCategorical(name string, values []string) *Column {
	c := &Column{Name: name, Kind: KindCategorical, Codes: make([]int32, len(values))}
	index := map[string]int32{}
	for i, v := range values {
		if v == "" {
			c.Codes[i] = -1
			continue
		}
		code, ok := index[v]
		if !ok {
			code = int32(len(c.Levels))
			index[v] = code
			c.Levels = append(c.Levels, v)
		}
		c.Codes[i] = code
	}
	return c
}

// NewTimestamp returns a timestamp column of values. The zero time.Time is a
// missing value.
func NewTimestamp(name string, values []time.Time) *Column {
	c := &Column{Name: name, Kind: KindTimestamp, Time: make([]int64, len(values))}
	for i, v := range values {
		if v.IsZero() {
			c.Time[i] = MissingTime
		} else {
			c.Time[i] = v.UnixNano()
		}
	}
	return c
}

// Len returns the number of values in the column.
func (c *Column) Len() int {
	switch c.Kind {
	case KindNumeric:
		return len(c.Num)
	case KindCategorical:
		return len(c.Codes)
	case KindTimestamp:
		return len(c.Time)
	}
	return 0
}

// IsMissing reports whether row i holds no value. It panics if i is out of
// range, like a slice index.
func (c *Column) IsMissing(i int) bool {
	switch c.Kind {
	case KindNumeric:
		return math.IsNaN(c.Num[i])
	case KindCategorical:
		return c.Codes[i] < 0
	case KindTimestamp:
		return c.Time[i] == MissingTime
	}
	return true
}

// String returns row i for display: a number in the shortest form that reads
// back exactly, the category, or the timestamp in RFC 3339 (UTC, nanoseconds
// as needed). A missing value is "NA". It panics if i is out of range.
func (c *Column) String(i int) string {
	if c.IsMissing(i) {
		return "NA"
	}
	switch c.Kind {
	case KindNumeric:
		return formatFloat(c.Num[i])
	case KindCategorical:
		return c.Levels[c.Codes[i]]
	case KindTimestamp:
		return time.Unix(0, c.Time[i]).UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// formatFloat formats v without an exponent for everyday magnitudes, and in
// the shortest exponent form otherwise.
func formatFloat(v float64) string {
	if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// take returns a new column with the given rows of c, sharing c's Levels.
func (c *Column) take(rows []int) *Column {
	out := &Column{Name: c.Name, Kind: c.Kind}
	switch c.Kind {
	case KindNumeric:
		out.Num = make([]float64, len(rows))
		for i, r := range rows {
			out.Num[i] = c.Num[r]
		}
	case KindCategorical:
		out.Levels = c.Levels
		out.Codes = make([]int32, len(rows))
		for i, r := range rows {
			out.Codes[i] = c.Codes[r]
		}
	case KindTimestamp:
		out.Time = make([]int64, len(rows))
		for i, r := range rows {
			out.Time[i] = c.Time[r]
		}
	}
	return out
}

// Frame is a table of named columns of equal length. Build one with NewFrame
// to have that checked; the readers of this package always return valid frames.
type Frame struct {
	Columns []*Column
}

// NewFrame returns a frame of cols. It fails with EINVALID when a column has an
// unknown kind, when two columns share a name, or when lengths differ.
func NewFrame(cols ...*Column) (*Frame, error) {
	f := &Frame{Columns: cols}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Validate checks that every column has a name and a known kind, that names
// are unique, that all columns have the same length and that categorical codes
// are within their levels. Failures are EINVALID.
func (f *Frame) Validate() error {
	seen := make(map[string]bool, len(f.Columns))
	for i, c := range f.Columns {
		switch {
		case c == nil:
			return ferry.Errorf(ferry.EINVALID, "column %d is nil", i)
		case c.Name == "":
			return ferry.Errorf(ferry.EINVALID, "column %d has no name", i)
		case !c.Kind.Valid():
			return ferry.Errorf(ferry.EINVALID, "column '%s' has unknown kind %q", c.Name, c.Kind)
		case seen[c.Name]:
			return ferry.Errorf(ferry.EINVALID, "two columns are named '%s'", c.Name)
		case c.Len() != f.Columns[0].Len():
			return ferry.Errorf(ferry.EINVALID, "column '%s' has %d rows and column '%s' has %d", c.Name, c.Len(), f.Columns[0].Name, f.Columns[0].Len())
		}
		seen[c.Name] = true
		if c.Kind == KindCategorical {
			for r, code := range c.Codes {
				if code < -1 || int(code) >= len(c.Levels) {
					return ferry.Errorf(ferry.EINVALID, "column '%s' row %d: code %d is outside its %d levels", c.Name, r, code, len(c.Levels))
				}
			}
		}
	}
	return nil
}

// Len returns the number of rows, 0 for a frame without columns.
func (f *Frame) Len() int {
	if f == nil || len(f.Columns) == 0 {
		return 0
	}
	return f.Columns[0].Len()
}

// Names returns the column names in order.
func (f *Frame) Names() []string {
	names := make([]string, len(f.Columns))
	for i, c := range f.Columns {
		names[i] = c.Name
	}
	return names
}

// Col returns the column called name. An unknown name is EINVALID, with a
// message that lists the columns there are.
func (f *Frame) Col(name string) (*Column, error) {
	for _, c := range f.Columns {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, noColumn(name, f.Names())
}

// noColumn is the error for a column name that is not among names.
func noColumn(name string, names []string) error {
	const most = 20
	list := names
	more := ""
	if len(list) > most {
		list, more = list[:most], ", …"
	}
	return ferry.Errorf(ferry.EINVALID, "no column named '%s'; the columns are: %s%s", name, strings.Join(list, ", "), more)
}

// Select returns a frame of the named columns in the order given. The
// columns are shared with f, not copied. An unknown or repeated name is
// EINVALID.
func (f *Frame) Select(names ...string) (*Frame, error) {
	out := &Frame{Columns: make([]*Column, 0, len(names))}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return nil, ferry.Errorf(ferry.EINVALID, "column '%s' is selected twice", n)
		}
		seen[n] = true
		c, err := f.Col(n)
		if err != nil {
			return nil, err
		}
		out.Columns = append(out.Columns, c)
	}
	return out, nil
}

// Take returns a new frame holding the given rows of f, in that order (rows
// may repeat). Values are copied; categorical levels are shared. It panics if
// a row is out of range, like a slice index.
func (f *Frame) Take(rows []int) *Frame {
	out := &Frame{Columns: make([]*Column, len(f.Columns))}
	for i, c := range f.Columns {
		out.Columns[i] = c.take(rows)
	}
	return out
}

// The parts of a timestamp that TimeParts derives.
const (
	PartYear    = "year"    // e.g. 2001
	PartMonth   = "month"   // 1-12
	PartDay     = "day"     // day of the month, 1-31
	PartWeekday = "weekday" // 0 = Sunday … 6 = Saturday
	PartHour    = "hour"    // 0-23
	PartMinute  = "minute"  // 0-59
	PartYearDay = "yearday" // 1-366
)

// TimeParts derives numeric columns from the timestamp column col, one per
// part, named "<col>_<part>" (for example "date_month"). Parts are computed in
// UTC; a missing timestamp gives NaN. With no parts it derives month, weekday
// and hour. A column that is not a timestamp, or an unknown part, is EINVALID.
func TimeParts(col *Column, parts ...string) ([]*Column, error) {
	if col.Kind != KindTimestamp {
		return nil, ferry.Errorf(ferry.EINVALID, "column '%s' is %s, not a timestamp: it has no time parts", col.Name, col.Kind)
	}
	if len(parts) == 0 {
		parts = []string{PartMonth, PartWeekday, PartHour}
	}
	out := make([]*Column, len(parts))
	for j, p := range parts {
		switch p {
		case PartYear, PartMonth, PartDay, PartWeekday, PartHour, PartMinute, PartYearDay:
		default:
			return nil, ferry.Errorf(ferry.EINVALID, "unknown time part %q; use year, month, day, weekday, hour, minute or yearday", p)
		}
		out[j] = &Column{Name: col.Name + "_" + p, Kind: KindNumeric, Num: make([]float64, len(col.Time))}
	}
	for i, ns := range col.Time {
		if ns == MissingTime {
			for _, c := range out {
				c.Num[i] = math.NaN()
			}
			continue
		}
		t := time.Unix(0, ns).UTC()
		for j, p := range parts {
			var v int
			switch p {
			case PartYear:
				v = t.Year()
			case PartMonth:
				v = int(t.Month())
			case PartDay:
				v = t.Day()
			case PartWeekday:
				v = int(t.Weekday())
			case PartHour:
				v = t.Hour()
			case PartMinute:
				v = t.Minute()
			case PartYearDay:
				v = t.YearDay()
			}
			out[j].Num[i] = float64(v)
		}
	}
	return out, nil
}
