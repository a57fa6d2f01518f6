package dataset

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/testenv"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// parquetBytes writes rows as a Parquet file with parquet-go's writer.
func parquetBytes[T any](t testing.TB, rows []T, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readParquetBytes reads b as a Parquet file named x.parquet.
func readParquetBytes(t testing.TB, b []byte, opts ReadOptions) (*Frame, error) {
	t.Helper()
	return ReadParquet(context.Background(), bytes.NewReader(b), int64(len(b)), "x.parquet", opts)
}

type plainRow struct {
	ID    int64    `parquet:"id"`
	Name  string   `parquet:"name"`
	Score *float64 `parquet:"score,optional"`
}

type allTypesRow struct {
	I32   int32      `parquet:"i32"`
	I64   *int64     `parquet:"i64,optional"`
	F32   float32    `parquet:"f32"`
	F64   *float64   `parquet:"f64,optional"`
	B     bool       `parquet:"b"`
	S     *string    `parquet:"s,optional,dict"`
	P     string     `parquet:"p,plain"`
	TS    *time.Time `parquet:"ts,optional,timestamp(millisecond)"`
	TSN   int64      `parquet:"tsn,timestamp(nanosecond)"`
	Date  int32      `parquet:"day,date"` // days; parquet-go v0.32 writes time.Time dates wrongly
	Dec   int64      `parquet:"dec,decimal(2:10)"`
	U     uint32     `parquet:"u"`
	UUID  [16]byte   `parquet:"uuid,uuid"`
	Inner struct {
		X *int32 `parquet:"x,optional"`
	} `parquet:"inner"`
}

func ptr[T any](v T) *T { return &v }

func TestReadParquetTypes(t *testing.T) {
	t0 := time.Date(2001, 2, 3, 4, 5, 6, 7e6, time.UTC)
	rows := []allTypesRow{
		{I32: -3, I64: ptr[int64](1 << 40), F32: 1.5, F64: ptr(2.25), B: true, S: ptr("red"), P: "p1", TS: &t0, TSN: t0.UnixNano() + 1,
			Date: 18388, Dec: 12345, U: math.MaxUint32, UUID: [16]byte{0x12, 0x34, 15: 0xff}},
		{I32: 7, S: nil, P: "p2", TSN: 0, Date: 0, Dec: -5, U: 1},
		{I32: 8, S: ptr("blue"), P: "p1", TS: &t0, Date: -1, Dec: 0},
	}
	rows[0].Inner.X = ptr[int32](9)
	f, err := readParquetBytes(t, parquetBytes(t, rows), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		col  string
		kind Kind
		want []string
	}{
		{"i32", KindNumeric, []string{"-3", "7", "8"}},
		{"i64", KindNumeric, []string{"1099511627776", "NA", "NA"}},
		{"f32", KindNumeric, []string{"1.5", "0", "0"}},
		{"f64", KindNumeric, []string{"2.25", "NA", "NA"}},
		{"b", KindNumeric, []string{"1", "0", "0"}},
		{"s", KindCategorical, []string{"red", "NA", "blue"}},
		{"p", KindCategorical, []string{"p1", "p2", "p1"}},
		{"ts", KindTimestamp, []string{"2001-02-03T04:05:06.007Z", "NA", "2001-02-03T04:05:06.007Z"}},
		{"tsn", KindTimestamp, []string{"2001-02-03T04:05:06.007000001Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"}},
		{"day", KindTimestamp, []string{"2020-05-06T00:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T00:00:00Z"}},
		{"dec", KindNumeric, []string{"123.45", "-0.05", "0"}},
		{"u", KindNumeric, []string{"4294967295", "1", "0"}},
		{"uuid", KindCategorical, []string{"12340000-0000-0000-0000-0000000000ff", "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"}},
		{"inner.x", KindNumeric, []string{"9", "NA", "NA"}},
	}
	for _, tt := range tests {
		t.Run(tt.col, func(t *testing.T) {
			c, err := f.Col(tt.col)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.kind {
				t.Errorf("kind %s, want %s", c.Kind, tt.kind)
			}
			if got := values(c); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("values %q, want %q", got, tt.want)
			}
		})
	}
}

type catRow struct {
	C *string `parquet:"c,optional,dict"`
	N int64   `parquet:"n,dict"`
}

func TestReadParquetRowGroupsAndPages(t *testing.T) {
	// Many row groups and small pages, each with its own dictionary: levels
	// must still come out in first-seen order and rows in order.
	cats := []string{"d", "b", "a", "c", "b", "e"}
	var rows []catRow
	for i := range 5000 {
		r := catRow{N: int64(i % 97)}
		if i%11 != 0 {
			r.C = ptr(cats[(i/7)%len(cats)])
		}
		rows = append(rows, r)
	}
	small := []parquet.WriterOption{parquet.MaxRowsPerRowGroup(700), parquet.PageBufferSize(512)}
	tests := []struct {
		name string
		data []byte
		opts ReadOptions
		rows int
	}{
		{"all rows", parquetBytes(t, rows, small...), ReadOptions{}, 5000},
		{"max rows inside a row group", parquetBytes(t, rows, small...), ReadOptions{MaxRows: 1234}, 1234},
		{"max rows beyond the file", parquetBytes(t, rows, small...), ReadOptions{MaxRows: 9999}, 5000},
		{"snappy", parquetBytes(t, rows, append(small, parquet.Compression(&parquet.Snappy))...), ReadOptions{}, 5000},
		{"zstd", parquetBytes(t, rows, append(small, parquet.Compression(&parquet.Zstd))...), ReadOptions{}, 5000},
		{"lz4", parquetBytes(t, rows, append(small, parquet.Compression(&parquet.Lz4Raw))...), ReadOptions{}, 5000},
		{"gzip", parquetBytes(t, rows, append(small, parquet.Compression(&parquet.Gzip))...), ReadOptions{}, 5000},
		{"data page v1", parquetBytes(t, rows, append(small, parquet.DataPageVersion(1), parquet.Compression(&parquet.Snappy))...), ReadOptions{}, 5000},
		{"one big page", parquetBytes(t, rows, parquet.Compression(&parquet.Zstd)), ReadOptions{}, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readParquetBytes(t, tt.data, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if f.Len() != tt.rows {
				t.Fatalf("%d rows, want %d", f.Len(), tt.rows)
			}
			c, _ := f.Col("c")
			n, _ := f.Col("n")
			if strings.Join(c.Levels, "") != "dbace" {
				t.Errorf("levels %q, want first-seen order dbace", c.Levels)
			}
			for i := range tt.rows {
				want := "NA"
				if rows[i].C != nil {
					want = *rows[i].C
				}
				if c.String(i) != want || n.Num[i] != float64(rows[i].N) {
					t.Fatalf("row %d = %s, %v; want %s, %d", i, c.String(i), n.Num[i], want, rows[i].N)
				}
			}
		})
	}
}

func TestReadParquetOptions(t *testing.T) {
	rows := []plainRow{{ID: 1, Name: "10"}, {ID: 2, Name: "20", Score: ptr(0.5)}}
	data := parquetBytes(t, rows)
	tests := []struct {
		name  string
		opts  ReadOptions
		names string
		kinds []Kind
	}{
		{"columns", ReadOptions{Columns: []string{"score", "id"}}, "score,id", []Kind{KindNumeric, KindNumeric}},
		{"number as categorical", ReadOptions{Types: map[string]Kind{"id": KindCategorical}}, "id,name,score", []Kind{KindCategorical, KindCategorical, KindNumeric}},
		{"string as number", ReadOptions{Types: map[string]Kind{"name": KindNumeric}}, "id,name,score", []Kind{KindNumeric, KindNumeric, KindNumeric}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readParquetBytes(t, data, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.Names(), ","); got != tt.names {
				t.Errorf("names %s, want %s", got, tt.names)
			}
			for j, c := range f.Columns {
				if c.Kind != tt.kinds[j] {
					t.Errorf("column %s is %s, want %s", c.Name, c.Kind, tt.kinds[j])
				}
			}
		})
	}
}

func TestReadParquetInt96(t *testing.T) {
	schema := parquet.NewSchema("root", parquet.Group{"t": parquet.Optional(parquet.Leaf(parquet.Int96Type))})
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	want := time.Date(2001, 1, 2, 3, 4, 5, 6, time.UTC)
	day := want.Unix()/86400 + 2440588
	nanos := want.UnixNano() - (want.Unix()/86400)*86400e9
	v := deprecated.Int96{uint32(nanos), uint32(nanos >> 32), uint32(day)}
	if _, err := w.WriteRows([]parquet.Row{
		{parquet.Int96Value(v).Level(0, 1, 0)},
		{parquet.NullValue().Level(0, 0, 0)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := readParquetBytes(t, buf.Bytes(), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Columns[0]
	if c.Kind != KindTimestamp || c.Time[0] != want.UnixNano() || !c.IsMissing(1) {
		t.Fatalf("got %s %v, want %v and a missing value", c.Kind, values(c), want)
	}
}

type listRow struct {
	ID   int64   `parquet:"id"`
	Tags []int32 `parquet:"tags"`
}

func TestReadParquetErrors(t *testing.T) {
	good := parquetBytes(t, []plainRow{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}})
	corrupt := bytes.Clone(good)
	for i := 4; i < len(corrupt)/2; i++ {
		corrupt[i] ^= 0x5a
	}
	lists := parquetBytes(t, []listRow{{ID: 1, Tags: []int32{1, 2}}})
	tests := []struct {
		name string
		data []byte
		opts ReadOptions
		want []string
	}{
		{"empty", nil, ReadOptions{}, []string{"x.parquet"}},
		{"not parquet", []byte("a,b\n1,2\n3,4\n"), ReadOptions{}, []string{"x.parquet", "not a Parquet file"}},
		{"truncated footer", good[:len(good)-10], ReadOptions{}, []string{"x.parquet"}},
		{"truncated to the half", good[:len(good)/2], ReadOptions{}, []string{"x.parquet"}},
		{"corrupt pages", corrupt, ReadOptions{}, []string{"x.parquet"}},
		{"list column", lists, ReadOptions{}, []string{"x.parquet", "column 'tags", "Columns option"}},
		{"unknown column", good, ReadOptions{Columns: []string{"nope"}}, []string{"x.parquet", "no column named 'nope'", "id, name, score"}},
		{"string not a number", good, ReadOptions{Types: map[string]Kind{"name": KindNumeric}}, []string{"x.parquet row 1 column 'name'", `"a" is not a number`}},
		{"number not a time", good, ReadOptions{Types: map[string]Kind{"id": KindTimestamp}}, []string{"x.parquet column 'id'", "cannot be read as timestamp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readParquetBytes(t, tt.data, tt.opts)
			wantInvalid(t, err, tt.want...)
		})
	}
	t.Run("list column left out", func(t *testing.T) {
		f, err := readParquetBytes(t, lists, ReadOptions{Columns: []string{"id"}})
		if err != nil || f.Len() != 1 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(good) {
			if _, err := readParquetBytes(t, good[:n], ReadOptions{}); err == nil {
				t.Fatalf("no error for the first %d of %d bytes", n, len(good))
			}
		}
	})
}

// flightsPath returns the path of the 3M-row flights file; see testenv.SharedData.
func flightsPath(t testing.TB) string {
	t.Helper()
	return testenv.SharedData(t, "flights-3m.parquet")
}

func TestReadFlights(t *testing.T) {
	path := flightsPath(t)
	start := time.Now()
	f, err := Read(context.Background(), path, ReadOptions{})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d rows × %d columns of %s in %v", f.Len(), len(f.Columns), path, took)
	if f.Len() != 3_000_000 {
		t.Fatalf("%d rows, want 3,000,000", f.Len())
	}
	kinds := map[string]Kind{"date": KindTimestamp, "delay": KindNumeric, "distance": KindNumeric, "origin": KindCategorical, "destination": KindCategorical}
	for _, c := range f.Columns {
		if kinds[c.Name] != c.Kind {
			t.Errorf("column %s is %s, want %s", c.Name, c.Kind, kinds[c.Name])
		}
	}
	date, _ := f.Col("date")
	lo, hi := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2001, 7, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	for i, ns := range date.Time {
		if ns != MissingTime && (ns < lo || ns >= hi) {
			t.Fatalf("row %d: date %s outside January to June 2001", i, date.String(i))
		}
	}
	start = time.Now()
	parts, err := TimeParts(date, PartMonth, PartWeekday, PartHour)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TimeParts(month, weekday, hour) of %d rows in %v", f.Len(), time.Since(start))
	if parts[0].Name != "date_month" || parts[0].Num[0] != 1 {
		t.Errorf("%s[0] = %v", parts[0].Name, parts[0].Num[0])
	}

	// Cross-check a sample of rows against parquet-go's own row reader.
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	pf, err := parquet.OpenFile(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	base := 0
	for g, rg := range pf.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 200)
		n, err := rr.ReadRows(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		for i, row := range buf[:n] {
			for _, v := range row {
				c := f.Columns[v.Column()]
				var want string
				switch {
				case v.IsNull():
					want = "NA"
				case c.Kind == KindTimestamp:
					want = time.UnixMicro(v.Int64()).UTC().Format(time.RFC3339Nano)
				case c.Kind == KindNumeric:
					want = formatFloat(float64(v.Int64()))
				default:
					want = string(v.ByteArray())
				}
				if got := c.String(base + i); got != want {
					t.Fatalf("row group %d row %d column %s = %s, the row reader says %s", g, i, c.Name, got, want)
				}
			}
		}
		rr.Close()
		base += int(rg.NumRows())
	}
}

func BenchmarkReadFlights(b *testing.B) {
	path := flightsPath(b)
	for b.Loop() {
		if _, err := Read(context.Background(), path, ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// readFlights reads the flights file or skips.
func readFlights(tb testing.TB) *Frame {
	tb.Helper()
	f, err := Read(context.Background(), flightsPath(tb), ReadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// BenchmarkReadFlightsRowReader reads the same file with parquet-go's
// generic row reader into structs, the peer that ReadParquet is compared with.
func BenchmarkReadFlightsRowReader(b *testing.B) {
	type flight struct {
		Date        *int64  `parquet:"date,optional"`
		Delay       *int64  `parquet:"delay,optional"`
		Distance    *int64  `parquet:"distance,optional"`
		Origin      *string `parquet:"origin,optional"`
		Destination *string `parquet:"destination,optional"`
	}
	path := flightsPath(b)
	for b.Loop() {
		fh, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := parquet.NewGenericReader[flight](fh)
		buf := make([]flight, 4096)
		n := 0
		for {
			k, err := r.Read(buf)
			n += k
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
		fh.Close()
		if n != 3_000_000 {
			b.Fatalf("%d rows", n)
		}
	}
}
