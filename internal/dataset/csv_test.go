package dataset

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/testenv"
)

// readCSVString reads s as a CSV file named x.csv.
func readCSVString(t *testing.T, s string, opts ReadOptions) (*Frame, error) {
	t.Helper()
	return ReadCSV(context.Background(), strings.NewReader(s), "x.csv", opts)
}

// values returns every row of c as String formats it.
func values(c *Column) []string {
	out := make([]string, c.Len())
	for i := range out {
		out[i] = c.String(i)
	}
	return out
}

// wantInvalid fails unless err is EINVALID and its message contains every
// part.
func wantInvalid(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want EINVALID with %q", parts)
	}
	if code := ferry.ErrorCode(err); code != ferry.EINVALID {
		t.Fatalf("error %v has code %s, want EINVALID", err, code)
	}
	for _, p := range parts {
		if !strings.Contains(ferry.ErrorMessage(err), p) {
			t.Errorf("error message %q does not contain %q", ferry.ErrorMessage(err), p)
		}
	}
}

func TestReadCSVInference(t *testing.T) {
	tests := []struct {
		name   string
		csv    string
		kinds  []Kind
		values [][]string // per column, as String formats them
	}{
		{
			name:   "numbers, categories and dates",
			csv:    "a,b,c\n1,x,2012-01-01\n2.5,y,2012-01-02\n",
			kinds:  []Kind{KindNumeric, KindCategorical, KindTimestamp},
			values: [][]string{{"1", "2.5"}, {"x", "y"}, {"2012-01-01T00:00:00Z", "2012-01-02T00:00:00Z"}},
		},
		{
			name:   "missing tokens in every kind",
			csv:    "a,b,c\nNA,x,\n3,null,2020-05-06 07:08:09\nNaN,,NA\n",
			kinds:  []Kind{KindNumeric, KindCategorical, KindTimestamp},
			values: [][]string{{"NA", "3", "NA"}, {"x", "NA", "NA"}, {"NA", "2020-05-06T07:08:09Z", "NA"}},
		},
		{
			name:   "missing before the first value",
			csv:    "a\n\n\nNA\n7\n",
			kinds:  []Kind{KindNumeric},
			values: [][]string{{"NA", "7"}},
		},
		{
			name:   "only missing values is numeric",
			csv:    "a,b\nNA,1\n,2\n",
			kinds:  []Kind{KindNumeric, KindNumeric},
			values: [][]string{{"NA", "NA"}, {"1", "2"}},
		},
		{
			name:   "a late word makes a number column categorical, keeping the text",
			csv:    "zip\n02134\n10001\n1.50\n1e3\nA1\n",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"02134", "10001", "1.50", "1e3", "A1"}},
		},
		{
			name:   "a late word makes a time column categorical, keeping the text",
			csv:    "t\n2020-01-01\n2020-01-02T03:04:05+02:00\n2020-01-03 10:00\nsoon\n",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"2020-01-01", "2020-01-02T03:04:05+02:00", "2020-01-03 10:00", "soon"}},
		},
		{
			name:   "time zones are converted to UTC",
			csv:    "t\n2020-01-02T03:04:05+02:00\n2020-01-02T03:04:05.5Z\n",
			kinds:  []Kind{KindTimestamp},
			values: [][]string{{"2020-01-02T01:04:05Z", "2020-01-02T03:04:05.5Z"}},
		},
		{
			name:   "impossible dates are not timestamps",
			csv:    "d\n2001-02-28\n2001-02-30\n",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"2001-02-28", "2001-02-30"}},
		},
		{
			name:   "hexadecimal is not a number",
			csv:    "h\n0x10\n",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"0x10"}},
		},
		{
			name:   "quoted fields with delimiters and newlines",
			csv:    "a,b\n\"x, y\",\"line\nbreak\"\n",
			kinds:  []Kind{KindCategorical, KindCategorical},
			values: [][]string{{"x, y"}, {"line\nbreak"}},
		},
		{
			name:   "byte order mark and spaces around names",
			csv:    "\uFEFF a ,b\n1,2\n",
			kinds:  []Kind{KindNumeric, KindNumeric},
			values: [][]string{{"1"}, {"2"}},
		},
		{
			name:   "header only gives empty columns",
			csv:    "a,b\n",
			kinds:  []Kind{KindNumeric, KindNumeric},
			values: [][]string{{}, {}},
		},
		{
			name:   "infinities are numbers",
			csv:    "a\nInf\n-Infinity\n1e999\n",
			kinds:  []Kind{KindNumeric},
			values: [][]string{{"+Inf", "-Inf", "+Inf"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readCSVString(t, tt.csv, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(f.Columns) != len(tt.kinds) {
				t.Fatalf("%d columns, want %d", len(f.Columns), len(tt.kinds))
			}
			for j, c := range f.Columns {
				if c.Kind != tt.kinds[j] {
					t.Errorf("column %s is %s, want %s", c.Name, c.Kind, tt.kinds[j])
				}
				if got := values(c); strings.Join(got, "|") != strings.Join(tt.values[j], "|") {
					t.Errorf("column %s = %q, want %q", c.Name, got, tt.values[j])
				}
			}
		})
	}
}

func TestReadCSVOptions(t *testing.T) {
	no := false
	const data = "id,age,when,city\n1,30,2020-01-01,Oslo\n2,NA,2020-02-01,Rome\n3,45,2020-03-01,Oslo\n"
	tests := []struct {
		name  string
		csv   string
		opts  ReadOptions
		names []string
		kinds []Kind
		rows  int
	}{
		{"defaults", data, ReadOptions{}, []string{"id", "age", "when", "city"}, []Kind{KindNumeric, KindNumeric, KindTimestamp, KindCategorical}, 3},
		{"columns in the order asked", data, ReadOptions{Columns: []string{"city", "id"}}, []string{"city", "id"}, []Kind{KindCategorical, KindNumeric}, 3},
		{"max rows", data, ReadOptions{MaxRows: 2}, []string{"id", "age", "when", "city"}, []Kind{KindNumeric, KindNumeric, KindTimestamp, KindCategorical}, 2},
		{"types override inference", data, ReadOptions{Types: map[string]Kind{"id": KindCategorical, "when": KindCategorical}}, []string{"id", "age", "when", "city"}, []Kind{KindCategorical, KindNumeric, KindCategorical, KindCategorical}, 3},
		{"no header", "1,a\n2,b\n", ReadOptions{Header: &no}, []string{"c0", "c1"}, []Kind{KindNumeric, KindCategorical}, 2},
		{"semicolons", "a;b\n1,5;x\n", ReadOptions{Delimiter: ';'}, []string{"a", "b"}, []Kind{KindCategorical, KindCategorical}, 1},
		{"skip a line of counts", "569,30,malignant\na,b\n1,2\n", ReadOptions{SkipLines: 1}, []string{"a", "b"}, []Kind{KindNumeric, KindNumeric}, 1},
		{"skip lines and no header", "569,30,malignant\n1,2\n3,4\n", ReadOptions{SkipLines: 1, Header: &no}, []string{"c0", "c1"}, []Kind{KindNumeric, KindNumeric}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readCSVString(t, tt.csv, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.Names(), ","); got != strings.Join(tt.names, ",") {
				t.Errorf("names %s, want %s", got, strings.Join(tt.names, ","))
			}
			for j, c := range f.Columns {
				if c.Kind != tt.kinds[j] {
					t.Errorf("column %s is %s, want %s", c.Name, c.Kind, tt.kinds[j])
				}
			}
			if f.Len() != tt.rows {
				t.Errorf("%d rows, want %d", f.Len(), tt.rows)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	no := false
	tests := []struct {
		name string
		csv  string
		opts ReadOptions
		want []string // parts of the message
	}{
		{"empty file", "", ReadOptions{}, []string{"x.csv is empty: no header"}},
		{"empty file without header", "", ReadOptions{Header: &no}, []string{"x.csv is empty"}},
		{"ragged row", "a,b,c\n1,2,3\n1,2\n", ReadOptions{}, []string{"x.csv line 3: 2 fields, the header has 3"}},
		{"ragged row after skipped lines", "junk\na,b\n1,2,3\n", ReadOptions{SkipLines: 1}, []string{"x.csv line 3: 3 fields, the header has 2"}},
		{"ragged row without header", "1,2\n1,2,3\n", ReadOptions{Header: &no}, []string{"x.csv line 2: 3 fields, the first row has 2"}},
		{"bare quote", "a,b\n1,x\"y\n", ReadOptions{}, []string{"x.csv line 2", "bare"}},
		{"unclosed quote", "a,b\n1,\"xy\n", ReadOptions{}, []string{"x.csv line", "quote"}},
		{"invalid UTF-8 value", "a,b\n1,ok\n2,\xff\xfe\n", ReadOptions{}, []string{"x.csv line 3 column 'b'", "invalid UTF-8"}},
		{"invalid UTF-8 header", "a,\xff\n1,2\n", ReadOptions{}, []string{"x.csv line 1", "not valid UTF-8"}},
		{"not a number", "age\n1\n2\n3\nabc\n", ReadOptions{Types: map[string]Kind{"age": KindNumeric}}, []string{`x.csv line 5 column 'age': "abc" is not a number`}},
		{"not a timestamp", "t\n2020-01-01\nlater\n", ReadOptions{Types: map[string]Kind{"t": KindTimestamp}}, []string{`x.csv line 3 column 't': "later" is not a timestamp`}},
		{"unknown selected column", "a,b\n1,2\n", ReadOptions{Columns: []string{"c"}}, []string{"x.csv", "no column named 'c'", "a, b"}},
		{"unknown typed column", "a,b\n1,2\n", ReadOptions{Types: map[string]Kind{"zz": KindNumeric}}, []string{"x.csv", "'zz'"}},
		{"unknown kind", "a\n1\n", ReadOptions{Types: map[string]Kind{"a": "integer"}}, []string{"x.csv", "integer"}},
		{"duplicate header", "a,b,a\n1,2,3\n", ReadOptions{}, []string{"x.csv", "both named 'a'"}},
		{"bad delimiter", "a\n1\n", ReadOptions{Delimiter: '"'}, []string{"x.csv", "delimiter"}},
		{"negative max rows", "a\n1\n", ReadOptions{MaxRows: -1}, []string{"x.csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readCSVString(t, tt.csv, tt.opts)
			wantInvalid(t, err, tt.want...)
		})
	}
}

func TestReadCSVCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ReadCSV(ctx, strings.NewReader("a\n1\n"), "x.csv", ReadOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestReadCSVLargeKeepsTypes(t *testing.T) {
	var b strings.Builder
	b.WriteString("x,y,z\n")
	for i := range 20000 {
		b.WriteString(strings.Repeat("1", 1+i%5))
		b.WriteString(",c")
		b.WriteString(string(rune('a' + i%7)))
		b.WriteString(",2001-01-01 00:00:00\n")
	}
	f, err := readCSVString(t, b.String(), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := f.Col("x")
	y, _ := f.Col("y")
	if f.Len() != 20000 || x.Kind != KindNumeric || y.Kind != KindCategorical || len(y.Levels) != 7 {
		t.Fatalf("got %d rows, x %s, y %s with %d levels", f.Len(), x.Kind, y.Kind, len(y.Levels))
	}
	if x.Num[4] != 11111 {
		t.Errorf("x[4] = %v", x.Num[4])
	}
}

// writeFile writes data to name in a temporary directory and returns the path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// gzipped compresses s.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b strings.Builder
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

func TestRead(t *testing.T) {
	const csvData = "a,b\n1,x\n2,y\n"
	tests := []struct {
		name string
		file string
		data []byte
		opts ReadOptions
		cols string
		rows int
	}{
		{"csv", "d.csv", []byte(csvData), ReadOptions{}, "a,b", 2},
		{"csv.gz", "d.csv.gz", gzipped(t, csvData), ReadOptions{}, "a,b", 2},
		{"upper-case extension", "D.CSV", []byte(csvData), ReadOptions{}, "a,b", 2},
		{"tsv", "d.tsv", []byte("a\tb\n1\tx\n"), ReadOptions{}, "a,b", 1},
		{"jsonl", "d.jsonl", []byte(`{"a":1,"b":"x"}` + "\n"), ReadOptions{}, "a,b", 1},
		{"ndjson", "d.ndjson", []byte(`{"a":1}` + "\n"), ReadOptions{}, "a", 1},
		{"jsonl.gz", "d.jsonl.gz", gzipped(t, `{"a":1}`+"\n"+`{"a":2}`), ReadOptions{}, "a", 2},
		{"parquet", "d.parquet", parquetBytes(t, []plainRow{{ID: 1, Name: "x"}}), ReadOptions{}, "id,name,score", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read(context.Background(), writeFile(t, tt.file, tt.data), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.Names(), ","); got != tt.cols || f.Len() != tt.rows {
				t.Errorf("columns %s and %d rows, want %s and %d", got, f.Len(), tt.cols, tt.rows)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path func(t *testing.T) string
		code string
		want string
	}{
		{"missing file", func(t *testing.T) string { return filepath.Join(dir, "nope.csv") }, ferry.ENOTFOUND, "nope.csv: no such file"},
		{"unknown extension", func(t *testing.T) string { return writeFile(t, "x.xlsx", []byte("a")) }, ferry.EINVALID, "unknown file type"},
		{"directory", func(t *testing.T) string {
			p := filepath.Join(dir, "d.csv")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, ferry.EINVALID, "is a directory"},
		{"not gzip", func(t *testing.T) string { return writeFile(t, "x.csv.gz", []byte("a,b\n1,2\n")) }, ferry.EINVALID, "not gzip data"},
		{"truncated gzip", func(t *testing.T) string {
			z := gzipped(t, strings.Repeat("a,b\n1,2\n", 1000))
			return writeFile(t, "x.csv.gz", z[:len(z)/2])
		}, ferry.EINVALID, "x.csv.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(context.Background(), tt.path(t), ReadOptions{})
			if ferry.ErrorCode(err) != tt.code || !strings.Contains(ferry.ErrorMessage(err), tt.want) {
				t.Fatalf("err = %v, want %s containing %q", err, tt.code, tt.want)
			}
		})
	}
}

func TestReadSharedCSV(t *testing.T) {
	no := false
	tests := []struct {
		name  string
		file  string
		opts  ReadOptions
		rows  int
		cols  int
		check func(t *testing.T, f *Frame)
	}{
		{"seattle weather", "seattle-weather.csv", ReadOptions{}, 1461, 6, func(t *testing.T, f *Frame) {
			date, _ := f.Col("date")
			weather, _ := f.Col("weather")
			if date.Kind != KindTimestamp || weather.Kind != KindCategorical || len(weather.Levels) != 5 {
				t.Errorf("date %s, weather %s with %d levels", date.Kind, weather.Kind, len(weather.Levels))
			}
		}},
		{"breast cancer with its count line skipped", "breast_cancer.csv", ReadOptions{SkipLines: 1, Header: &no}, 569, 31, func(t *testing.T, f *Frame) {
			if c := f.Columns[30]; c.Kind != KindNumeric || c.Num[0] != 0 {
				t.Errorf("target column %s, first %v", c.Kind, c.Num[0])
			}
		}},
		{"diabetes, space separated and gzipped", "diabetes_data_raw.csv.gz", ReadOptions{Header: &no, Delimiter: ' '}, 442, 10, func(t *testing.T, f *Frame) {
			if f.Columns[0].Num[0] != 59 {
				t.Errorf("age[0] = %v", f.Columns[0].Num[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read(context.Background(), testenv.SharedData(t, tt.file), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if f.Len() != tt.rows || len(f.Columns) != tt.cols {
				t.Fatalf("%d rows × %d columns, want %d × %d", f.Len(), len(f.Columns), tt.rows, tt.cols)
			}
			tt.check(t, f)
		})
	}
	t.Run("breast cancer as is names the ragged line", func(t *testing.T) {
		_, err := Read(context.Background(), testenv.SharedData(t, "breast_cancer.csv"), ReadOptions{})
		wantInvalid(t, err, "breast_cancer.csv line 2: 31 fields, the header has 4")
	})
}

func TestCanonicalNumber(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"0", true}, {"-0", true}, {"12", true}, {"100", true}, {"0.5", true}, {"-3.25", true},
		{"05", false}, {"0.50", false}, {".5", false}, {"5.", false}, {"+5", false}, {"1e3", false},
		{"1234567890123456", false}, {" 1", false}, {"Inf", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			if got := canonicalNumber(tt.s); got != tt.want {
				t.Fatalf("canonicalNumber(%q) = %v", tt.s, got)
			}
			if tt.want {
				v, ok := parseNumber(tt.s)
				if !ok || formatCanonical(v) != tt.s {
					t.Fatalf("%q does not round-trip: %v → %q", tt.s, v, formatCanonical(v))
				}
			}
		})
	}
	if v, ok := parseNumber("nan"); ok || !math.IsNaN(v) && v != 0 {
		t.Errorf("nan parsed as a number")
	}
}

// benchCSV returns 500,000 rows of CSV like the flights data.
func benchCSV(b *testing.B) string {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("date,delay,distance,origin,destination\n")
	airports := []string{"ORD", "ATL", "DFW", "LAX", "SFO", "SEA", "JFK"}
	for i := range 500000 {
		sb.WriteString("2001-0")
		sb.WriteByte(byte('1' + i%6))
		sb.WriteString("-1")
		sb.WriteByte(byte('0' + i%10))
		sb.WriteString(" 0")
		sb.WriteByte(byte('0' + i%10))
		sb.WriteString(":30:00,")
		sb.WriteString(strconv.Itoa(i%97 - 10))
		sb.WriteByte(',')
		sb.WriteString(strconv.Itoa(100 + i%2000))
		sb.WriteByte(',')
		sb.WriteString(airports[i%7])
		sb.WriteByte(',')
		sb.WriteString(airports[(i/7)%7])
		sb.WriteByte('\n')
	}
	return sb.String()
}

func BenchmarkReadCSV(b *testing.B) {
	data := benchCSV(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadCSV(context.Background(), strings.NewReader(data), "bench.csv", ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadCSVPeer is encoding/csv's ReadAll alone, without types: the
// peer ReadCSV is compared with.
func BenchmarkReadCSVPeer(b *testing.B) {
	data := benchCSV(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := csv.NewReader(strings.NewReader(data)).ReadAll(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFastTimeMatchesParse(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"2001-01-01", true},
		{"2024-02-29", true},
		{"2001-02-29", false},
		{"2001-13-01", false},
		{"2001-01-01 23:59:59", true},
		{"2001-01-01T00:00:00", true},
		{"2001-01-01T00:00:00Z", true},
		{"2001-01-01 24:00:00", false},
		{"2001-01-01 12:60:00", false},
		{"1500-01-01", false},
		{"20x1-01-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			ns, layout, ok := fastTime(tt.s)
			if ok != tt.ok {
				t.Fatalf("fastTime ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			want, err := time.Parse(timeLayouts[layout], tt.s)
			if err != nil || want.UnixNano() != ns {
				t.Fatalf("fastTime = %d with layout %q; time.Parse = %v, %v", ns, timeLayouts[layout], want, err)
			}
			if got := time.Unix(0, ns).UTC().Format(timeLayouts[layout]); got != tt.s {
				t.Fatalf("formats back as %q", got)
			}
		})
	}
}
