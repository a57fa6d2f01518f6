package dataset

import (
	"context"
	"strings"
	"testing"
)

func readJSONLString(t *testing.T, s string, opts ReadOptions) (*Frame, error) {
	t.Helper()
	return ReadJSONL(context.Background(), strings.NewReader(s), "x.jsonl", opts)
}

func TestReadJSONL(t *testing.T) {
	tests := []struct {
		name   string
		jsonl  string
		opts   ReadOptions
		names  string
		kinds  []Kind
		values [][]string
	}{
		{
			name:   "numbers, strings, dates and nulls",
			jsonl:  `{"a":1,"b":"x","t":"2020-01-02"}` + "\n" + `{"a":2.5,"b":null,"t":"2020-01-03T04:05:06Z"}` + "\n",
			names:  "a,b,t",
			kinds:  []Kind{KindNumeric, KindCategorical, KindTimestamp},
			values: [][]string{{"1", "2.5"}, {"x", "NA"}, {"2020-01-02T00:00:00Z", "2020-01-03T04:05:06Z"}},
		},
		{
			name:   "keys appear late and go missing",
			jsonl:  `{"a":1}` + "\n\n" + `{"b":"y"}` + "\n" + `{"a":3,"b":"z"}`,
			names:  "a,b",
			kinds:  []Kind{KindNumeric, KindCategorical},
			values: [][]string{{"1", "NA", "3"}, {"NA", "y", "z"}},
		},
		{
			name:   "booleans are categories",
			jsonl:  `{"ok":true}` + "\n" + `{"ok":false}`,
			names:  "ok",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"true", "false"}},
		},
		{
			name:   "numbers and strings mixed keep their text",
			jsonl:  `{"v":1.50}` + "\n" + `{"v":"n/a-ish"}`,
			names:  "v",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"1.50", "n/a-ish"}},
		},
		{
			name:   "selected columns skip nested values of others",
			jsonl:  `{"a":1,"deep":{"x":[1,2]},"b":"q"}`,
			opts:   ReadOptions{Columns: []string{"b", "a"}},
			names:  "b,a",
			kinds:  []Kind{KindCategorical, KindNumeric},
			values: [][]string{{"q"}, {"1"}},
		},
		{
			name:   "forced kinds and max rows",
			jsonl:  `{"id":1}` + "\n" + `{"id":2}` + "\n" + `{"id":3}`,
			opts:   ReadOptions{Types: map[string]Kind{"id": KindCategorical}, MaxRows: 2},
			names:  "id",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"1", "2"}},
		},
		{
			name:   "windows line ends and unicode",
			jsonl:  "{\"city\":\"Zürich\"}\r\n{\"city\":\"\\u00e9\"}\r\n",
			names:  "city",
			kinds:  []Kind{KindCategorical},
			values: [][]string{{"Zürich", "é"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readJSONLString(t, tt.jsonl, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.Names(), ","); got != tt.names {
				t.Fatalf("names %s, want %s", got, tt.names)
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

func TestReadJSONLErrors(t *testing.T) {
	tests := []struct {
		name  string
		jsonl string
		opts  ReadOptions
		want  []string
	}{
		{"empty", "", ReadOptions{}, []string{"x.jsonl is empty"}},
		{"not an object", `{"a":1}` + "\n[1,2]\n", ReadOptions{}, []string{"x.jsonl line 2: not a JSON object"}},
		{"malformed", `{"a":1}` + "\n" + `{"a":}`, ReadOptions{}, []string{"x.jsonl line 2", "malformed JSON"}},
		{"unclosed", `{"a":1`, ReadOptions{}, []string{"x.jsonl line 1"}},
		{"two values", `{"a":1} {"a":2}`, ReadOptions{}, []string{"x.jsonl line 1: more than one JSON value"}},
		{"nested", `{"a":1,"b":{"c":2}}`, ReadOptions{}, []string{"x.jsonl line 1 column 'b': nested"}},
		{"duplicate key", `{"a":1,"a":2}`, ReadOptions{}, []string{"x.jsonl line 1 column 'a'", "twice"}},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", ReadOptions{}, []string{"x.jsonl line 1: invalid UTF-8"}},
		{"forced number", `{"age":1}` + "\n" + `{"age":"old"}`, ReadOptions{Types: map[string]Kind{"age": KindNumeric}}, []string{`x.jsonl line 2 column 'age': "old" is not a number`}},
		{"unknown column", `{"a":1}`, ReadOptions{Columns: []string{"b"}}, []string{"x.jsonl", "no column named 'b'", "a"}},
		{"unknown typed column", `{"a":1}`, ReadOptions{Types: map[string]Kind{"b": KindNumeric}}, []string{"x.jsonl", "'b'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readJSONLString(t, tt.jsonl, tt.opts)
			wantInvalid(t, err, tt.want...)
		})
	}
}
