package xgboost

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// decodeUBJSON decodes a Universal Binary JSON document in the dialect
// XGBoost writes to .ubj files (Draft 12: big-endian numbers, optimised
// containers with $type and #count): null, booleans, the integer and float
// markers, strings, arrays and objects; no-ops are skipped. Typed containers
// must hold numbers, as XGBoost's do; the char and high-precision markers,
// which XGBoost never writes, are refused. Every declared count and length
// is checked against the bytes that remain before anything is allocated for
// it, so a small input cannot make it allocate much; nesting is limited to
// maxDepth.
func decodeUBJSON(data []byte) (value, error) {
	d := &ubjDecoder{data: data}
	v, err := d.value(d.marker(), 0)
	if err == nil && d.pos != len(d.data) {
		err = d.errorf("unexpected bytes after the top-level value")
	}
	return v, err
}

type ubjDecoder struct {
	data []byte
	pos  int
}

func (d *ubjDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("UBJSON at byte %d: %s", d.pos, fmt.Sprintf(format, args...))
}

// marker returns the next type marker, skipping no-ops; 0 at the end.
func (d *ubjDecoder) marker() byte {
	for d.pos < len(d.data) {
		d.pos++
		if m := d.data[d.pos-1]; m != 'N' {
			return m
		}
	}
	return 0
}

// numSize is the payload size of a numeric marker, 0 for other markers.
func numSize(m byte) int {
	switch m {
	case 'i', 'U':
		return 1
	case 'I':
		return 2
	case 'l', 'd':
		return 4
	case 'L', 'D':
		return 8
	}
	return 0
}

// num reads the payload of a numeric marker.
func (d *ubjDecoder) num(m byte) (float64, float32, error) {
	n := numSize(m)
	if n == 0 || len(d.data)-d.pos < n {
		return 0, 0, d.errorf("truncated number or marker %q is not a number", m)
	}
	var u uint64
	for _, c := range d.data[d.pos : d.pos+n] {
		u = u<<8 | uint64(c)
	}
	d.pos += n
	switch m {
	case 'd':
		f := math.Float32frombits(uint32(u))
		return float64(f), f, nil
	case 'D':
		f := math.Float64frombits(u)
		return f, float32(f), nil
	case 'U':
		return float64(u), float32(u), nil
	}
	shift := 64 - 8*n // sign-extend the signed integers
	i := int64(u<<shift) >> shift
	return float64(i), float32(i), nil
}

// count reads a length or count: an integer marker and its payload, which
// must be non-negative and at most the bytes that remain divided by minSize.
func (d *ubjDecoder) count(minSize int) (int, error) {
	m := d.marker()
	if m == 'd' || m == 'D' || numSize(m) == 0 {
		return 0, d.errorf("a length must be an integer")
	}
	f, _, err := d.num(m)
	if err == nil && (f < 0 || f > float64((len(d.data)-d.pos)/minSize)) {
		err = d.errorf("length %.0f exceeds the %d bytes that remain", f, len(d.data)-d.pos)
	}
	return int(f), err
}

func (d *ubjDecoder) str() (string, error) {
	n, err := d.count(1)
	if err != nil {
		return "", err
	}
	d.pos += n
	if s := d.data[d.pos-n : d.pos]; utf8.Valid(s) {
		return string(s), nil
	}
	return "", d.errorf("a string is not valid UTF-8")
}

func (d *ubjDecoder) value(m byte, depth int) (value, error) {
	switch m {
	case 0:
		return value{}, d.errorf("unexpected end of input")
	case 'Z':
		return value{kind: kindNull}, nil
	case 'T', 'F':
		return value{kind: kindBool, num: float64(b2i(m == 'T'))}, nil
	case 'S':
		s, err := d.str()
		return value{kind: kindString, str: s}, err
	case '[', '{':
		if depth >= maxDepth {
			return value{}, d.errorf("objects and arrays nest deeper than %d levels", maxDepth)
		}
		return d.container(m == '{', depth+1)
	}
	if numSize(m) == 0 {
		return value{}, d.errorf("unknown type marker 0x%02x", m)
	}
	f64, f32, err := d.num(m)
	return value{kind: kindNumber, num: f64, f32: f32}, err
}

// container decodes an array or object after its opening marker.
func (d *ubjDecoder) container(isObject bool, depth int) (value, error) {
	v := value{kind: kindArray}
	if isObject {
		v.kind = kindObject
	}
	var typ byte
	if d.pos < len(d.data) && d.data[d.pos] == '$' {
		d.pos++
		if typ = d.marker(); numSize(typ) == 0 {
			return value{}, d.errorf("typed containers of marker %q are not supported (XGBoost writes numbers only)", typ)
		}
		if d.pos >= len(d.data) || d.data[d.pos] != '#' {
			return value{}, d.errorf("a typed container needs a count")
		}
	}
	n := -1 // no count: the container ends with its closing marker
	if d.pos < len(d.data) && d.data[d.pos] == '#' {
		d.pos++
		min := max(1, numSize(typ)) // the least bytes an element takes
		if isObject {
			min++ // and its key at least its length's marker
		}
		var err error
		if n, err = d.count(min); err != nil {
			return value{}, err
		}
	}
	if typ != 0 && !isObject {
		v.nums, v.f32s = make([]float64, n), make([]float32, n)
		for i := range n {
			v.nums[i], v.f32s[i], _ = d.num(typ) // the count made sure the bytes are there
		}
		return v, nil
	}
	for i := 0; n < 0 || i < n; i++ {
		if n < 0 && d.pos < len(d.data) && d.data[d.pos] == "]}"[b2i(isObject)] {
			d.pos++
			break
		}
		var key string
		if isObject {
			var err error
			if key, err = d.str(); err != nil {
				return value{}, err
			}
		}
		m := typ
		if m == 0 {
			m = d.marker()
		}
		el, err := d.value(m, depth)
		if err != nil {
			return value{}, err
		}
		if isObject {
			v.fields = append(v.fields, field{key: key, val: el})
		} else {
			v.appendElem(el)
		}
	}
	return v, nil
}
