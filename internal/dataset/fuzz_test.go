package dataset

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
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

// FuzzOpenBatches reads data as a CSV, JSON Lines or Parquet file in small
// batches: every read either gives batches whose columns all hold Rows
// values, or fails with an EINVALID *ferry.Error.
func FuzzOpenBatches(f *testing.F) {
	f.Add([]byte("a,b\n1,x\n2,\"y\nz\"\n3,\n"), byte(0))
	f.Add([]byte("a,b\n1,2\n3\n"), byte(0))
	f.Add([]byte(`{"a":1,"b":"x"}`+"\n\n"+`{"b":[1,2],"c":null}`+"\n"+`{"a":1,"a":2}`), byte(1))
	f.Add([]byte(`{"a":1}`+"\n"+`{"a":`), byte(1))
	f.Add(parquetBytes(f, []plainRow{{ID: 1, Name: "a", Score: ptr(0.5)}, {ID: 2, Name: "b"}}), byte(2))
	f.Add(parquetBytes(f, []allTypesRow{{I32: 1, S: ptr("s"), P: "p", TS: ptr(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)), Dec: 5, U: 3}}), byte(2))
	f.Add(parquetBytes(f, []catRow{{C: ptr("x"), N: 1}, {N: 2}}, parquet.DataPageVersion(1)), byte(2))
	f.Fuzz(func(t *testing.T, data []byte, format byte) {
		path := filepath.Join(t.TempDir(), "fuzz."+[]string{"csv", "jsonl", "parquet"}[int(format)%3])
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		br, err := OpenBatches(ctx, path, ReadOptions{})
		if err != nil {
			checkFuzzResult(t, nil, err)
			return
		}
		defer br.Close()
		b := br.NewBatch()
		for {
			err := br.Next(ctx, b, 3)
			if err == io.EOF {
				return
			} else if err != nil {
				checkFuzzResult(t, nil, err)
				return
			}
			for _, c := range b.Columns {
				if len(c.Null) != b.Rows || len(c.Float)+len(c.Int)+len(c.Bool)+len(c.Str) != b.Rows {
					t.Fatalf("column %s holds %d/%d values for %d rows", c.Name, len(c.Null), len(c.Float)+len(c.Int)+len(c.Bool)+len(c.Str), b.Rows)
				}
			}
		}
	})
}
