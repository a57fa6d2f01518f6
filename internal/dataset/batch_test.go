package dataset

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// readBatches reads the file at path in batches of n and returns each
// column's kind and values as text ("<nil>" for null), and the batch sizes.
func readBatches(t *testing.T, path string, n int, opts ReadOptions, only ...string) (kinds string, cols map[string][]string, sizes []int, err error) {
	t.Helper()
	ctx := context.Background()
	br, err := OpenBatches(ctx, path, opts)
	if err != nil {
		return "", nil, nil, err
	}
	defer br.Close()
	if len(only) > 0 {
		br.Select(func(name string) bool { return slices.Contains(only, name) })
	}
	cols = map[string][]string{}
	for _, c := range br.Columns() {
		kinds += string(c.Kind)
	}
	b := br.NewBatch()
	for {
		if err := br.Next(ctx, b, n); err == io.EOF {
			return kinds, cols, sizes, nil
		} else if err != nil {
			return kinds, cols, sizes, err
		}
		sizes = append(sizes, b.Rows)
		for _, c := range b.Columns {
			for r := range b.Rows {
				var v any
				switch c.Kind {
				case ValueFloat:
					v = c.Float[r]
				case ValueInt, ValueTime:
					v = c.Int[r]
				case ValueBool:
					v = c.Bool[r]
				default:
					v = c.Str[r]
				}
				if c.Null[r] {
					v = nil
				}
				cols[c.Name] = append(cols[c.Name], fmt.Sprint(v))
			}
		}
	}
}

func TestOpenBatches(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t0 := time.Date(2001, 2, 3, 4, 5, 6, 7e6, time.UTC)
	pq := parquetBytes(t, []allTypesRow{
		{I32: -3, I64: ptr[int64](1 << 40), F32: 1.5, F64: ptr(2.25), B: true, S: ptr("red"), P: "p1", TS: &t0, TSN: 5, Date: 1, Dec: 12345, U: math.MaxUint32, UUID: [16]byte{0x12, 15: 0xff}},
		{I32: 7, P: "p2", Dec: -5, U: 1},
	})
	var int96 bytes.Buffer
	w := parquet.NewWriter(&int96, parquet.NewSchema("root", parquet.Group{"t": parquet.Optional(parquet.Leaf(parquet.Int96Type))}))
	day, nanos := t0.Unix()/86400, t0.UnixNano()%86400e9
	w.WriteRows([]parquet.Row{{parquet.Int96Value(deprecated.Int96{uint32(nanos), uint32(nanos >> 32), uint32(day + 2440588)}).Level(0, 1, 0)}, {parquet.NullValue().Level(0, 0, 0)}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		data       []byte
		opts       ReadOptions
		only       []string
		n          int
		kinds      string
		cols       map[string]string // column: values joined by |
		sizes      string
	}{
		{"csv as text", "a.csv", []byte("\uFEFFa, b\n02134,x\n,NA\n3,\"y\nz\"\n"), ReadOptions{}, nil, 2, "tt",
			map[string]string{"a": "02134||3", "b": "x|NA|y\nz"}, "[2 1]"},
		{"tsv without header", "a.tsv", []byte("1\t2\n3\t4\n"), ReadOptions{Header: ptr(false)}, nil, 5, "tt",
			map[string]string{"c0": "1|3", "c1": "2|4"}, "[2]"},
		{"csv with MaxRows", "a.csv", []byte("a\n1\n2\n3\n"), ReadOptions{MaxRows: 2}, nil, 1, "t",
			map[string]string{"a": "1|2"}, "[1 1]"},
		{"jsonl as JSON", "a.jsonl", []byte(`{"a":1,"b":"x"}` + "\n\n" + `{"b":[1, 2],"c":3}` + "\n" + `{"a":null}`), ReadOptions{}, nil, 10, "jj",
			map[string]string{"a": "1|<nil>|<nil>", "b": `"x"|[1, 2]|<nil>`}, "[3]"},
		{"parquet as typed", "a.parquet", pq, ReadOptions{}, nil, 1, "iiffbssTTTfisi",
			map[string]string{"i32": "-3|7", "i64": "1099511627776|<nil>", "f32": "1.5|0", "b": "true|false", "s": "red|<nil>",
				"ts": fmt.Sprint(t0.UnixNano()) + "|<nil>", "tsn": "5|0", "day": "86400000000000|0", "dec": "123.45|-0.05",
				"u": "4294967295|1", "uuid": "12000000-0000-0000-0000-0000000000ff|00000000-0000-0000-0000-000000000000", "inner.x": "<nil>|<nil>"}, "[1 1]"},
		{"csv selected", "a.csv", []byte("a,b,c\n1,2,3\n4,5,6\n"), ReadOptions{}, []string{"c", "a"}, 10, "tt",
			map[string]string{"a": "1|4", "c": "3|6"}, "[2]"},
		{"jsonl selected", "a.jsonl", []byte(`{"a":1,"b":2}` + "\n" + `{"b":3}`), ReadOptions{}, []string{"b"}, 10, "j",
			map[string]string{"b": "2|3"}, "[2]"},
		{"parquet selected", "a.parquet", pq, ReadOptions{}, []string{"s", "ts"}, 10, "sT",
			map[string]string{"s": "red|<nil>", "ts": fmt.Sprint(t0.UnixNano()) + "|<nil>"}, "[2]"},
		{"parquet int96", "t.parquet", int96.Bytes(), ReadOptions{}, nil, 10, "T",
			map[string]string{"t": fmt.Sprint(t0.UnixNano()) + "|<nil>"}, "[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds, cols, sizes, err := readBatches(t, write(tt.file, tt.data), tt.n, tt.opts, tt.only...)
			if err != nil {
				t.Fatal(err)
			}
			if kinds != tt.kinds || fmt.Sprint(sizes) != tt.sizes {
				t.Errorf("kinds %s sizes %v, want %s %s", kinds, sizes, tt.kinds, tt.sizes)
			}
			if len(cols) != len(tt.cols) && tt.only != nil {
				t.Errorf("columns %v, want %v", cols, tt.only)
			}
			for name, want := range tt.cols {
				if got := strings.Join(cols[name], "|"); got != want {
					t.Errorf("column %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestOpenBatchesErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, data string
		want             []string
	}{
		{"missing", "", "", []string{"no such file"}},
		{"empty csv", "x.csv", "", []string{"x.csv is empty: no header"}},
		{"ragged", "x.csv", "a,b\n1,2\n3\n", []string{"x.csv line 3: 1 fields, the header has 2"}},
		{"invalid UTF-8", "x.csv", "a\n\xff\n", []string{"x.csv line 2 column 'a'", "invalid UTF-8"}},
		{"duplicate names", "x.csv", "a,a\n1,2\n", []string{"x.csv", "both named 'a'"}},
		{"empty jsonl", "x.jsonl", "\n", []string{"x.jsonl is empty"}},
		{"not an object", "x.jsonl", `{"a":1}` + "\n[1]\n", []string{"x.jsonl line 2: not a JSON object"}},
		{"duplicate key", "x.jsonl", `{"a":1}` + "\n" + `{"a":1,"a":2}`, []string{"x.jsonl line 2 column 'a'", "twice"}},
		{"not parquet", "x.parquet", "PAR1 not really PAR1", []string{"x.parquet"}},
		{"unknown type", "x.txt", "a\n1\n", []string{"unknown file type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "nope.csv")
			if tt.file != "" {
				path = filepath.Join(dir, tt.file)
				os.WriteFile(path, []byte(tt.data), 0o644)
			}
			_, _, _, err := readBatches(t, path, 10, ReadOptions{})
			if tt.file == "" {
				if err == nil || !strings.Contains(err.Error(), tt.want[0]) {
					t.Fatalf("err %v", err)
				}
				return
			}
			wantInvalid(t, err, tt.want...)
		})
	}
}
