package serving

import (
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ferry-ml/ferry/internal/runtime"
)

// bufferPool recycles request and response buffers. Buffers that grew past
// maxPooled are dropped so that one large request does not pin memory.
type bufferPool struct{ p sync.Pool }

const maxPooled = 1 << 20

func (bp *bufferPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (bp *bufferPool) put(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bp.p.Put(b)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// U+FFFD — as encoding/json does, without HTML escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat appends v as encoding/json does (shortest representation,
// exponent form outside [1e-6, 1e21)); NaN and ±Inf, which JSON cannot
// hold, are written as null.
func appendFloat(b []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(v)
	fmt := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			fmt = 'e'
		}
	}
	b = strconv.AppendFloat(b, v, fmt, -1, bits)
	if fmt == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendElem appends element i of t as a JSON value.
func appendElem(b []byte, t *runtime.Tensor, i int) []byte {
	switch {
	case t.FP64 != nil:
		return appendFloat(b, t.FP64[i], 64)
	case t.FP32 != nil:
		return appendFloat(b, float64(t.FP32[i]), 32)
	case t.Int != nil:
		return strconv.AppendInt(b, t.Int[i], 10)
	case t.Bool != nil:
		return strconv.AppendBool(b, t.Bool[i])
	case t.Str != nil:
		return appendString(b, t.Str[i])
	}
	return append(b, "null"...)
}

// appendData appends elements [from, to) of t as a flat JSON list.
func appendData(b []byte, t *runtime.Tensor, from, to int) []byte {
	b = append(b, '[')
	switch {
	case t.FP64 != nil:
		for i, v := range t.FP64[from:to] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, v, 64)
		}
	case t.FP32 != nil:
		for i, v := range t.FP32[from:to] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, float64(v), 32)
		}
	case t.Int != nil:
		for i, v := range t.Int[from:to] {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v, 10)
		}
	case t.Bool != nil:
		for i, v := range t.Bool[from:to] {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendBool(b, v)
		}
	case t.Str != nil:
		for i, v := range t.Str[from:to] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
	}
	return append(b, ']')
}

// appendShape appends a shape as a JSON list of integers.
func appendShape(b []byte, shape []int64) []byte {
	b = append(b, '[')
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, d, 10)
	}
	return append(b, ']')
}
