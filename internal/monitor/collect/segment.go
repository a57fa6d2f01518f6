package collect

import (
	"math"
	"strconv"

	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
)

// Column kinds of a segment, as written to Parquet.
const (
	kindDouble = 'f' // DOUBLE, NaN written as null
	kindInt    = 'i' // INT64
	kindBool   = 'b' // BOOLEAN
	kindString = 's' // BYTE_ARRAY (UTF-8), "" written as null
)

// reserved are the columns every segment has, before the features.
var reserved = map[string]bool{"request_id": true, "time": true, "endpoint": true, "deployment": true, "model_version": true, "row": true}

// source is where a segment column's values come from in one prediction:
// tensor t, element row*stride+offset.
type source struct {
	name           string
	kind           byte
	t              *runtime.Tensor
	stride, offset int
}

// layout lists the columns of prediction p: one per input and output
// column, and one per entry of a [rows, k] tensor (named NAME_0 … or by
// the output's labels). A name already taken (by a reserved column or an
// input) is prefixed with input_ or output_. Tensors whose size is not a
// multiple of the rows are left out.
func layout(p *serving.Prediction, inputs, outputs bool, out []source) []source {
	out = out[:0]
	taken := func(name string) bool {
		if reserved[name] {
			return true
		}
		for i := range out {
			if out[i].name == name {
				return true
			}
		}
		return false
	}
	add := func(prefix string, t *runtime.Tensor, labels []string) {
		rows := max(p.Rows, 1)
		n := t.Len()
		if n == 0 || n%rows != 0 {
			return
		}
		k := n / rows
		for j := range k {
			name := t.Name
			if k > 1 {
				if j < len(labels) && labels[j] != "" {
					name += "_" + labels[j]
				} else {
					name += "_" + strconv.Itoa(j)
				}
			}
			if taken(name) {
				name = prefix + name
			}
			out = append(out, source{name: name, kind: kindOf(t), t: t, stride: k, offset: j})
		}
	}
	if inputs {
		for i := range p.Inputs {
			add("input_", &p.Inputs[i], nil)
		}
	}
	if outputs {
		for i := range p.Outputs {
			add("output_", &p.Outputs[i], p.OutputLabels(p.Outputs[i].Name))
		}
	}
	return out
}

func kindOf(t *runtime.Tensor) byte {
	switch {
	case t.FP64 != nil, t.FP32 != nil:
		return kindDouble
	case t.Int != nil:
		return kindInt
	case t.Bool != nil:
		return kindBool
	}
	return kindString
}

// column is one column of a segment. Missing values are NaN in f and ""
// in s; ints and bools are never missing (every row of a segment has every
// column: see fits).
type column struct {
	name string
	kind byte
	f    []float64
	i    []int64
	b    []bool
	s    []string
}

// segment holds the rows of one deployment not yet written.
type segment struct {
	opened   int64 // clock at its first row, Unix nanoseconds
	hour     int64 // hour of its first row's time, Unix seconds
	reqID    []string
	times    []int64 // Unix microseconds
	row      []int64
	versions []string
	cols     []*column
	byName   map[string]int
	rows     int
	bytes    int64
}

func newSegment() *segment { return &segment{byName: map[string]int{}} }

// fits reports whether the columns of src are those of s (in any order and
// kind), so that its rows can join s. An empty segment fits anything.
func (s *segment) fits(src []source) bool {
	if s.rows == 0 {
		return true
	}
	if len(src) != len(s.cols) {
		return false
	}
	for _, c := range src {
		i, ok := s.byName[c.name]
		if !ok || s.cols[i].kind != c.kind {
			return false
		}
	}
	return true
}

// same reports whether s's columns are src's, in order.
func (s *segment) same(src []source) bool {
	if len(src) != len(s.cols) {
		return false
	}
	for i, c := range src {
		if s.cols[i].name != c.name || s.cols[i].kind != c.kind {
			return false
		}
	}
	return true
}

// add appends the rows of p, whose columns are src.
func (s *segment) add(p *serving.Prediction, src []source, at int64) {
	if s.rows == 0 {
		s.opened = at
		s.hour = p.Time.Unix() / 3600 * 3600
		if !s.same(src) {
			s.cols = s.cols[:0]
			clear(s.byName)
			for _, c := range src {
				s.byName[c.name] = len(s.cols)
				s.cols = append(s.cols, &column{name: c.name, kind: c.kind})
			}
		}
	}
	rows := max(p.Rows, 1)
	us := p.Time.UnixMicro()
	for r := range rows {
		s.reqID = append(s.reqID, p.RequestID)
		s.times = append(s.times, us)
		s.row = append(s.row, int64(r))
		s.versions = append(s.versions, p.Version)
	}
	s.bytes += int64(rows) * int64(len(p.RequestID)+len(p.Version)+16)
	for _, c := range src {
		col := s.cols[s.byName[c.name]]
		t := c.t
		for r := range rows {
			k := r*c.stride + c.offset
			switch c.kind {
			case kindDouble:
				col.f = append(col.f, t.Float(k))
			case kindInt:
				col.i = append(col.i, t.Int[k])
			case kindBool:
				col.b = append(col.b, t.Bool[k])
			default:
				v := t.Str[k]
				col.s = append(col.s, v)
				s.bytes += int64(len(v))
			}
		}
		s.bytes += int64(rows) * 8
	}
	s.rows += rows
}

// reset empties s for reuse, keeping its buffers.
func (s *segment) reset() {
	s.reqID, s.times, s.row, s.versions = s.reqID[:0], s.times[:0], s.row[:0], s.versions[:0]
	for _, c := range s.cols {
		c.f, c.i, c.b, c.s = c.f[:0], c.i[:0], c.b[:0], c.s[:0]
	}
	s.rows, s.bytes = 0, 0
}

// isNull reports whether row r of c is null.
func (c *column) isNull(r int) bool {
	switch c.kind {
	case kindDouble:
		return math.IsNaN(c.f[r])
	case kindString:
		return c.s[r] == ""
	}
	return false
}
