package serving

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestInvocationsIgnoresUnknownColumns: /invocations drops the columns the
// model does not take, as MLflow's scoring server does, and names them in
// X-Ferry-Ignored-Columns and a debug log line; V2 and V1 stay strict (as
// Triton, a KServe V2 server, answers "unexpected inference input").
func TestInvocationsIgnoresUnknownColumns(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Registerer: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	m := &tableModel{}
	s.Set("tab", "1", m, tableSignature())
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	tests := []struct {
		name, path, ctype, body string
		status                  int
		ignored                 string // the header; "" for none
		inBody                  string
	}{
		{"dataframe_split", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["x", "tail number", "n", "origin,dest"], "data": [[1, "N1", 2, "SFO,LAX"]]}}`,
			200, "tail%20number, origin%2Cdest", `{"predictions":[3]}`},
		{"dataframe_records", "/invocations", "application/json",
			`{"dataframe_records": [{"x": 1, "n": 2, "extra": [1, {"a": 2}]}, {"x": 2, "n": 3, "late": true}]}`,
			200, "extra, late", `{"predictions":[3,5]}`},
		{"instances of records", "/invocations", "application/json",
			`{"instances": [{"x": 1, "n": 2, "notes": "x"}]}`, 200, "notes", `{"predictions":[3]}`},
		{"inputs by column", "/invocations", "application/json",
			`{"inputs": {"x": [1], "n": [2], "extra": [null]}}`, 200, "extra", `{"predictions":[3]}`},
		{"csv", "/invocations", "text/csv", "x,id,n\n1,a,2\n", 200, "id", `{"predictions":[3]}`},
		{"no extra column", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["x", "n"], "data": [[1, 2]]}}`, 200, "", `{"predictions":[3]}`},
		{"ignored, and a required column missing", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["x", "m"], "data": [[1, 2]]}}`, 400, "m",
			"Missing required column 'n' (long). The model takes: 'x' (double), 'n' (long), 's' (string, optional). Ignored, as the model does not take them: 'm'."},
		{"an ignored column is not checked", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["x", "n", "junk"], "data": [[1, 2, {"deep": [[[]]]}]]}}`, 200, "junk", `{"predictions":[3]}`},
		{"V2 refuses an unknown input", "/v2/models/tab/infer", "application/json",
			`{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}, {"name": "n", "shape": [1], "datatype": "INT64", "data": [2]}, {"name": "extra", "shape": [1], "datatype": "FP64", "data": [1]}]}`,
			400, "", "Unknown input 'extra'."},
		{"V1 refuses an unknown column", "/v1/models/tab:predict", "application/json",
			`{"instances": [{"x": 1, "n": 2, "extra": 3}]}`, 400, "", "Unknown column 'extra'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(ts.URL+tt.path, tt.ctype, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.inBody) {
				t.Errorf("%d %s, want %d with %s", resp.StatusCode, body, tt.status, tt.inBody)
			}
			if got := resp.Header.Get(IgnoredColumnsHeader); got != tt.ignored {
				t.Errorf("%s: %q, want %q", IgnoredColumnsHeader, got, tt.ignored)
			}
		})
	}
	if !strings.Contains(logs.String(), `msg="serving: ignored columns the model does not take" model=tab version=1 columns="[tail number origin,dest]"`) {
		t.Errorf("no debug line names the ignored columns; log:\n%s", logs.String())
	}
}

func TestIgnoredHeaderIsBounded(t *testing.T) {
	names := make([]string, maxIgnoredListed+3)
	for i := range names {
		names[i] = "c"
	}
	names[0] = "é\r\n"
	h := ignoredHeader(names)
	if !strings.HasPrefix(h, "%C3%A9%0D%0A, c, ") || !strings.HasSuffix(h, ", c, …(3 more)") {
		t.Errorf("header %q", h)
	}
}
