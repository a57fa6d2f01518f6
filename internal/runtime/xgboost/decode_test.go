package xgboost

import (
	"encoding/binary"
	"math"
	"sort"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		check func(t *testing.T, v value)
		err   string
	}{
		{name: "non-finite numbers", in: `[NaN, Infinity, -Infinity, -1.5e3, 0]`, check: func(t *testing.T, v value) {
			if v.arr != nil || len(v.nums) != 5 || !math.IsNaN(v.nums[0]) || !math.IsInf(v.nums[1], 1) || !math.IsInf(v.nums[2], -1) || v.nums[3] != -1500 {
				t.Errorf("got %+v", v)
			}
		}},
		{name: "float32 rounded from the text", in: `[0.1, 16777217]`, check: func(t *testing.T, v value) {
			if v.f32s[0] != float32(0.1) || v.f32s[1] != 16777216 || v.nums[1] != 16777217 {
				t.Errorf("got %v %v", v.nums, v.f32s)
			}
		}},
		{name: "mixed array", in: `[1, "a", [2], {"k": null}, true]`, check: func(t *testing.T, v value) {
			if len(v.arr) != 5 || v.arr[0].num != 1 || v.arr[1].str != "a" || v.arr[2].nums[0] != 2 || v.arr[3].kind != kindObject || v.arr[4].num != 1 {
				t.Errorf("got %+v", v)
			}
		}},
		{name: "escapes", in: `{"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00": "x"}`, check: func(t *testing.T, v value) {
			if v.fields[0].key != "a\"\\/\b\f\n\r\té😀" {
				t.Errorf("key %q", v.fields[0].key)
			}
		}},
		{name: "first of duplicate keys", in: `{"a": 1, "a": 2}`, check: func(t *testing.T, v value) {
			if a, _ := v.get("a"); a.num != 1 {
				t.Errorf("a = %v", a.num)
			}
		}},
		{name: "space around", in: " \n{ } \t", check: func(t *testing.T, v value) {
			if v.kind != kindObject || len(v.fields) != 0 {
				t.Errorf("got %+v", v)
			}
		}},
		{name: "trailing bytes", in: `{} x`, err: "after the top-level value"},
		{name: "trailing comma", in: `[1,]`, err: "where a value should start"},
		{name: "missing colon", in: `{"a" 1}`, err: "want ':'"},
		{name: "unterminated string", in: `["abc`, err: "end of input in a string"},
		{name: "control character", in: "[\"a\nb\"]", err: "control character"},
		{name: "bad escape", in: `["\x"]`, err: "invalid escape"},
		{name: "bad unicode escape", in: `["\u12"]`, err: "invalid \\u escape"},
		{name: "invalid UTF-8", in: "[\"\xff\"]", err: "not valid UTF-8"},
		{name: "bad literal", in: `[nul]`, err: "invalid literal"},
		{name: "bad number", in: `[-]`, err: "invalid number"},
		{name: "bad exponent", in: `[1e]`, err: "exponent"},
		{name: "bad fraction", in: `[1.]`, err: "decimal point"},
		{name: "too deep", in: strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), err: "nest deeper"},
		{name: "deep enough", in: strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), check: func(*testing.T, value) {}},
		{name: "empty", in: ``, err: "end of input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, v)
		})
	}
}

// ubj encodes v as UBJSON the way XGBoost does: int64 lengths, float32
// numbers in typed arrays of numbers, sorted keys.
func ubj(v any) []byte {
	var b []byte
	i64 := func(n int) { b = append(b, 'L'); b = binary.BigEndian.AppendUint64(b, uint64(n)) }
	var enc func(v any)
	enc = func(v any) {
		switch v := v.(type) {
		case nil:
			b = append(b, 'Z')
		case bool:
			b = append(b, map[bool]byte{true: 'T', false: 'F'}[v])
		case int:
			b = append(b, 'l')
			b = binary.BigEndian.AppendUint32(b, uint32(int32(v)))
		case float64:
			b = append(b, 'd')
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(float32(v)))
		case string:
			b = append(b, 'S')
			i64(len(v))
			b = append(b, v...)
		case []any:
			numeric := len(v) > 0
			for _, e := range v {
				switch e.(type) {
				case int, float64:
				default:
					numeric = false
				}
			}
			if numeric {
				b = append(b, '[', '$', 'd', '#')
				i64(len(v))
				for _, e := range v {
					f, ok := e.(float64)
					if !ok {
						f = float64(e.(int))
					}
					b = binary.BigEndian.AppendUint32(b, math.Float32bits(float32(f)))
				}
				return
			}
			b = append(b, '[', '#')
			i64(len(v))
			for _, e := range v {
				enc(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b = append(b, '{')
			for _, k := range keys {
				i64(len(k))
				b = append(b, k...)
				enc(v[k])
			}
			b = append(b, '}')
		default:
			panic("ubj: unexpected type")
		}
	}
	enc(v)
	return b
}

// TestUBJSONModel checks that the tiny model decoded from UBJSON predicts
// as from JSON, and that Parse tells the two apart.
func TestUBJSONModel(t *testing.T) {
	data := ubj(tinyDoc())
	if sniff(data) != FormatUBJSON {
		t.Fatalf("sniff = %q", sniff(data))
	}
	b, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	out := []float64{0}
	b.PredictRow([]float32{0.7, 1}, out)
	if out[0] != 3.5 {
		t.Errorf("PredictRow = %v, want 3.5", out[0])
	}
}

func TestDecodeUBJSON(t *testing.T) {
	be32 := func(n uint32) string { return string(binary.BigEndian.AppendUint32(nil, n)) }
	be64 := func(n uint64) string { return string(binary.BigEndian.AppendUint64(nil, n)) }
	for _, tc := range []struct {
		name  string
		in    string
		check func(t *testing.T, v value)
		err   string
	}{
		{name: "integers of every width", in: "[i\xffU\xffI\x80\x00l" + be32(1<<31) + "L" + be64(1<<40) + "]", check: func(t *testing.T, v value) {
			want := []float64{-1, 255, -32768, -(1 << 31), 1 << 40}
			for i, w := range want {
				if v.nums[i] != w {
					t.Errorf("nums[%d] = %v, want %v", i, v.nums[i], w)
				}
			}
		}},
		{name: "typed float32 array", in: "[$d#i\x02" + be32(math.Float32bits(0.1)) + be32(math.Float32bits(float32(math.NaN()))), check: func(t *testing.T, v value) {
			if v.f32s[0] != 0.1 || !math.IsNaN(v.nums[1]) {
				t.Errorf("got %v", v.f32s)
			}
		}},
		{name: "float64", in: "[D" + be64(math.Float64bits(0.25)) + "]", check: func(t *testing.T, v value) {
			if v.nums[0] != 0.25 {
				t.Errorf("got %v", v.nums)
			}
		}},
		{name: "object with no-ops, strings and literals", in: "{NU\x01aSU\x02hiU\x01cTU\x01dFU\x01eZ}", check: func(t *testing.T, v value) {
			a, _ := v.get("a")
			c, _ := v.get("c")
			d, _ := v.get("d")
			e, _ := v.get("e")
			if a.str != "hi" || c.num != 1 || d.kind != kindBool || d.num != 0 || e.kind != kindNull || len(v.fields) != 4 {
				t.Errorf("got %+v", v)
			}
		}},
		{name: "high-precision number (XGBoost never writes one)", in: "[HU\x031.5]", err: "unknown type marker 0x48"},
		{name: "char (XGBoost never writes one)", in: "[Cx]", err: "unknown type marker 0x43"},
		{name: "counted object", in: "{#U\x01U\x01ai\x05", check: func(t *testing.T, v value) {
			if a, _ := v.get("a"); a.num != 5 {
				t.Errorf("got %+v", v)
			}
		}},
		{name: "count beyond the input", in: "[$d#L" + be64(1<<40), err: "exceeds"},
		{name: "negative count", in: "[#i\xff", err: "exceeds"},
		{name: "huge count in a small input", in: "[#L" + be64(1<<62) + "Z", err: "exceeds"},
		{name: "string beyond the input", in: "SL" + be64(1<<50) + "ab", err: "exceeds"},
		{name: "length not an integer", in: "Sd" + be32(0), err: "must be an integer"},
		{name: "typed array of nulls", in: "[$Z#L" + be64(1<<40), err: "not supported"},
		{name: "typed without count", in: "[$d]", err: "needs a count"},
		{name: "unknown marker", in: "[x]", err: "unknown type marker"},
		{name: "truncated number", in: "[l\x00\x00", err: "truncated number"},
		{name: "unterminated array", in: "[i\x01", err: "end of input"},
		{name: "trailing bytes", in: "Zi\x01", err: "after the top-level value"},
		{name: "too deep", in: strings.Repeat("[", maxDepth+1), err: "nest deeper"},
		{name: "invalid UTF-8", in: "SU\x01\xff", err: "not valid UTF-8"},
		{name: "empty", in: "", err: "end of input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeUBJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, v)
		})
	}
}
