package dataset

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/ferry-ml/ferry"
)

// checkFuzzResult fails unless a read either succeeded with a valid frame or
// failed with an EINVALID *ferry.Error (possibly wrapped).
func checkFuzzResult(t *testing.T, f *Frame, err error) {
	t.Helper()
	if err != nil {
		var fe *ferry.Error
		if !errors.As(err, &fe) || fe.Code != ferry.EINVALID {
			t.Fatalf("error %v (%T) is not an EINVALID *ferry.Error", err, err)
		}
		return
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("read succeeded with an invalid frame: %v", err)
	}
	if n := f.Len(); n > 0 {
		for _, c := range f.Columns {
			c.String(n - 1)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b,c\n1,x,2012-01-01\n2.5,y,2012-01-02\n",
		"a,b\n\"x, y\",\"line\nbreak\"\n",
		"zip\n02134\n1e3\nA1\n",
		"t\n2020-01-02T03:04:05+02:00\nsoon\n",
		"a,b\n1,2\n3\n",
		"\uFEFFa;b\n1;2\n",
		"a,b\n1,\"x\n",
		"",
	} {
		f.Add([]byte(s), false, byte(0))
	}
	f.Add([]byte("1 2 3\n4 5 6\n"), true, byte(' '))
	f.Fuzz(func(t *testing.T, data []byte, noHeader bool, delim byte) {
		header := !noHeader
		opts := ReadOptions{Header: &header}
		if delim != 0 {
			opts.Delimiter = rune(delim)
		}
		fr, err := ReadCSV(context.Background(), bytes.NewReader(data), "fuzz.csv", opts)
		checkFuzzResult(t, fr, err)
	})
}

func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x","t":"2020-01-02"}` + "\n" + `{"a":2.5,"b":null}`,
		`{"a":1,"deep":{"x":[1,2]}}`,
		`{"a":1,"a":2}`,
		`{"ok":true}` + "\n\n" + `{"ok":"maybe"}`,
		`[1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadJSONL(context.Background(), bytes.NewReader(data), "fuzz.jsonl", ReadOptions{})
		checkFuzzResult(t, fr, err)
	})
}

func FuzzReadParquet(f *testing.F) {
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Add(parquetBytes(f, []plainRow{{ID: 1, Name: "a", Score: ptr(0.5)}, {ID: 2, Name: "b"}}))
	f.Add(parquetBytes(f, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}))
	f.Add(parquetBytes(f, []digestRow{{When: t0.UnixMicro(), Delay: ptr[int64](3), City: ptr("ORD")}, {When: t0.UnixMicro() + 1}}))
	f.Add(parquetBytes(f, []allTypesRow{{I32: 1, S: ptr("s"), P: "p", TS: &t0, Dec: 5, U: 3}}))
	f.Add(parquetBytes(f, []listRow{{ID: 1, Tags: []int32{1, 2}}}))
	for _, codec := range []compress.Codec{&parquet.Snappy, &parquet.Zstd, &parquet.Lz4Raw, &parquet.Gzip} {
		f.Add(parquetBytes(f, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}, parquet.Compression(codec)))
	}
	f.Add(parquetBytes(f, []catRow{{C: ptr("x"), N: 1}, {N: 2}}, parquet.DataPageVersion(1)))
	f.Add([]byte("PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadParquet(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz.parquet", ReadOptions{})
		checkFuzzResult(t, fr, err)
	})
}
