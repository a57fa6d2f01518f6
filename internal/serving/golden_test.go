package serving

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// exchange is one request and its answer, as the golden files hold them.
type exchange struct {
	Name     string   `json:"name"`
	Request  request  `json:"request"`
	Response response `json:"response"`
}

type request struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"content_type,omitempty"`
	// Header holds extra request headers.
	Header map[string]string `json:"header,omitempty"`
	// Body is the JSON request, or Text a body that is not JSON.
	Body json.RawMessage `json:"body,omitempty"`
	Text string          `json:"text,omitempty"`
}

type response struct {
	Status      int             `json:"status"`
	ContentType string          `json:"content_type"`
	Body        json.RawMessage `json:"body,omitempty"`
	Text        string          `json:"text,omitempty"`
}

// goldenServer serves the fake models the golden files are written
// against: "tab" (column signature), "img" (tensor signature), "multi" (two
// outputs) and "classes" (one [rows, 2] output named by the signature).
func goldenServer(t *testing.T) *Server {
	t.Helper()
	s := New(Options{Default: "tab", Registerer: prometheus.NewRegistry()})
	s.Set("tab", "1", &tableModel{}, tableSignature())
	s.Set("img", "7", &imageModel{}, imageSignature())
	s.Set("multi", "2", &tableModel{outputs: "multi"}, tableSignature())
	s.Set("classes", "3", &tableModel{outputs: "classes"}, classesSignature())
	return s
}

// req builds a JSON request; text requests set Text instead.
func req(method, path, body string) request {
	r := request{Method: method, Path: path}
	if body != "" {
		if json.Valid([]byte(body)) {
			var buf bytes.Buffer
			_ = json.Compact(&buf, []byte(body))
			r.Body = buf.Bytes()
		} else {
			r.Text = body
		}
	}
	return r
}

func (r request) with(header, value string) request {
	if strings.EqualFold(header, "Content-Type") {
		r.ContentType = value
		return r
	}
	if r.Header == nil {
		r.Header = map[string]string{}
	}
	r.Header[header] = value
	return r
}

// runGolden sends each request to h and compares the exchanges with
// testdata/golden/NAME.json.
func runGolden(t *testing.T, h http.Handler, name string, cases []exchange) {
	t.Helper()
	for i := range cases {
		c := &cases[i]
		var body []byte
		if c.Request.Body != nil {
			body = c.Request.Body
		} else {
			body = []byte(c.Request.Text)
		}
		r := httptest.NewRequest(c.Request.Method, c.Request.Path, bytes.NewReader(body))
		r.Header.Set(RequestIDHeader, "golden")
		if c.Request.ContentType != "" {
			r.Header.Set("Content-Type", c.Request.ContentType)
		}
		for k, v := range c.Request.Header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get(RequestIDHeader); got != "golden" {
			t.Errorf("%s: X-Request-Id = %q, want it echoed", c.Name, got)
		}
		c.Response = response{Status: w.Code, ContentType: w.Header().Get("Content-Type")}
		if out := w.Body.Bytes(); json.Valid(out) && len(bytes.TrimSpace(out)) > 0 {
			c.Response.Body = bytes.TrimSpace(out)
		} else {
			c.Response.Text = string(out)
		}
	}
	got, err := json.MarshalIndent(cases, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		var wantCases []exchange
		_ = json.Unmarshal(want, &wantCases)
		for i := range cases {
			g, _ := json.Marshal(cases[i])
			var w []byte
			if i < len(wantCases) {
				w, _ = json.Marshal(wantCases[i])
			}
			if !bytes.Equal(g, w) {
				t.Errorf("%s differs from %s (run go test -update if intended):\n got: %s\nwant: %s", cases[i].Name, path, g, w)
			}
		}
		if len(wantCases) != len(cases) {
			t.Errorf("%s has %d exchanges, the test %d (run go test -update)", path, len(wantCases), len(cases))
		}
	}
}

func ex(name string, r request) exchange { return exchange{Name: name, Request: r} }

const okV2 = `{"id": "r-1", "inputs": [
	{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, 2]},
	{"name": "n", "shape": [2], "datatype": "INT64", "data": [10, -3]},
	{"name": "s", "shape": [2], "datatype": "BYTES", "data": ["ab", ""]}]}`

func TestGoldenV2(t *testing.T) {
	s := goldenServer(t)
	v2 := func(name, body string) exchange { return ex(name, req("POST", "/v2/models/tab/infer", body)) }
	cases := []exchange{
		ex("live", req("GET", "/v2/health/live", "")),
		ex("ready", req("GET", "/v2/health/ready", "")),
		ex("server metadata", req("GET", "/v2", "")),
		ex("model metadata, column signature", req("GET", "/v2/models/tab", "")),
		ex("model metadata, tensor signature", req("GET", "/v2/models/img", "")),
		ex("model metadata by version", req("GET", "/v2/models/tab/versions/1", "")),
		ex("model metadata, wrong version", req("GET", "/v2/models/tab/versions/2", "")),
		ex("model metadata, unknown model", req("GET", "/v2/models/nope", "")),
		ex("model ready", req("GET", "/v2/models/tab/ready", "")),
		ex("model ready by version", req("GET", "/v2/models/tab/versions/1/ready", "")),
		ex("model ready, unknown model", req("GET", "/v2/models/nope/ready", "")),
		v2("infer", okV2),
		ex("infer by version", req("POST", "/v2/models/tab/versions/1/infer", okV2)),
		ex("infer, wrong version", req("POST", "/v2/models/tab/versions/9/infer", okV2)),
		ex("infer, unknown model", req("POST", "/v2/models/nope/infer", okV2)),
		v2("infer, [rows, 1] shapes, nested data, no id, optional column left out", `{"inputs": [
			{"name": "x", "shape": [2, 1], "datatype": "FP64", "data": [[0.25], [1e-7]]},
			{"name": "n", "shape": [2, 1], "datatype": "INT64", "data": [[1], [2]]}]}`),
		v2("infer, INT32 and FP32 widen to FP64, INT8 to INT64", `{"inputs": [
			{"name": "x", "shape": [2], "datatype": "INT32", "data": [1, 2]},
			{"name": "n", "shape": [2], "datatype": "INT8", "data": [-128, 127]}]}`),
		v2("infer, FP32 widens to FP64", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP32", "data": [0.1]},
			{"name": "n", "shape": [1], "datatype": "UINT32", "data": [4294967295]}]}`),
		v2("infer, requested outputs, parameters ignored", `{"id": "o", "parameters": {"x": 1}, "outputs": [{"name": "score", "parameters": {}}], "inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1], "parameters": {}},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("infer, zero rows", `{"inputs": [
			{"name": "x", "shape": [0], "datatype": "FP64", "data": []},
			{"name": "n", "shape": [0], "datatype": "INT64", "data": []}]}`),
		v2("error: malformed JSON", `{"inputs": [`),
		v2("error: trailing data", `{"inputs": []} {}`),
		v2("error: not an object", `[1, 2]`),
		v2("error: empty body", ``),
		v2("error: no inputs", `{"inputs": []}`),
		v2("error: inputs not a list", `{"inputs": {"x": 1}}`),
		v2("error: id not a string", `{"id": 7, "inputs": []}`),
		v2("error: input without shape", `{"inputs": [{"name": "x", "datatype": "FP64", "data": [1]}]}`),
		v2("error: input without name", `{"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]}`),
		v2("error: negative dimension", `{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP64", "data": [1]}]}`),
		v2("error: unknown datatype", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]}`),
		v2("error: FP16", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP16", "data": [1]}]}`),
		v2("error: unknown input", `{"inputs": [{"name": "y", "shape": [1], "datatype": "FP64", "data": [1]}]}`),
		v2("error: input twice", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]},
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]}`),
		v2("error: missing required input", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]}`),
		v2("error: lossy datatype FP64 to INT64", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]},
			{"name": "n", "shape": [1], "datatype": "FP64", "data": [1.5]}]}`),
		v2("error: BYTES for a double", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["1"]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("error: fewer elements than the shape", `{"inputs": [
			{"name": "x", "shape": [3], "datatype": "FP64", "data": [1, 2]},
			{"name": "n", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]}]}`),
		v2("error: more elements than the shape", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1, 2]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("error: shape of 1e12 elements with little data", `{"inputs": [
			{"name": "x", "shape": [1000000000000], "datatype": "FP64", "data": [1, 2]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		ex("tensor model: error: shape of 1e12 elements", req("POST", "/v2/models/img/infer", `{"inputs": [
			{"name": "pixels", "shape": [250000000000, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`)),
		ex("tensor model: error: shape whose product overflows", req("POST", "/v2/models/img/infer", `{"inputs": [
			{"name": "pixels", "shape": [4611686018427387904, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`)),
		v2("error: rows differ", `{"inputs": [
			{"name": "x", "shape": [2], "datatype": "FP64", "data": [1, 2]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("error: null in a required input", `{"inputs": [
			{"name": "x", "shape": [2], "datatype": "FP64", "data": [1, null]},
			{"name": "n", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}`),
		v2("error: string in FP64 data", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": ["1"]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("error: INT8 out of range", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]},
			{"name": "n", "shape": [1], "datatype": "INT8", "data": [128]}]}`),
		v2("error: fraction in INT64 data", `{"inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1.5]}]}`),
		v2("error: column of shape [1, 2]", `{"inputs": [
			{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("error: unknown requested output", `{"outputs": [{"name": "nope"}], "inputs": [
			{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]},
			{"name": "n", "shape": [1], "datatype": "INT64", "data": [1]}]}`),
		v2("error: data nested too deep", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": `+strings.Repeat("[", 70)+"1"+strings.Repeat("]", 70)+`}]}`),
		v2("error: binary data parameter", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1], "parameters": {"binary_data_size": 8}}]}`),
		ex("error: binary data extension header", req("POST", "/v2/models/tab/infer", okV2).with("Inference-Header-Content-Length", "10")),
		ex("tensor model: infer", req("POST", "/v2/models/img/infer", `{"inputs": [
			{"name": "pixels", "shape": [2, 2, 2], "datatype": "FP32", "data": [[[1, 2], [3, 4]], [[0.5, 0], [0, -1]]]}]}`)),
		ex("tensor model: error: wrong shape", req("POST", "/v2/models/img/infer", `{"inputs": [
			{"name": "pixels", "shape": [1, 3, 2], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]}`)),
		ex("tensor model: error: wrong rank", req("POST", "/v2/models/img/infer", `{"inputs": [
			{"name": "pixels", "shape": [4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`)),
		ex("tensor model: error: FP64 for FP32", req("POST", "/v2/models/img/infer", `{"inputs": [
			{"name": "pixels", "shape": [1, 2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}]}`)),
		ex("two outputs", req("POST", "/v2/models/multi/infer", okV2)),
		ex("error: GET infer", req("GET", "/v2/models/tab/infer", "")),
		ex("error: unknown route", req("GET", "/v2/nothing", "")),
	}
	runGolden(t, s.Handler(), "v2", cases)
}

func TestGoldenV1(t *testing.T) {
	s := goldenServer(t)
	v1 := func(name, model, body string) exchange {
		return ex(name, req("POST", "/v1/models/"+model+":predict", body))
	}
	cases := []exchange{
		ex("model", req("GET", "/v1/models/tab", "")),
		ex("unknown model", req("GET", "/v1/models/nope", "")),
		v1("rows as objects", "tab", `{"instances": [{"x": 1, "n": 2, "s": "abc"}, {"n": 0, "x": -1.5}]}`),
		v1("rows as lists in signature order", "tab", `{"instances": [[1, 2, "abc"], [0.5, 1, null]]}`),
		v1("two outputs", "multi", `{"instances": [{"x": 1, "n": 2}, {"x": 2, "n": 3}]}`),
		v1("one [rows, 2] output named by the signature", "classes", `{"instances": [{"x": 1, "n": 2}]}`),
		v1("tensor model", "img", `{"instances": [[[1, 2], [3, 4]], [[0, 0], [0, 9]]]}`),
		v1("tensor model, rows by input name", "img", `{"instances": [{"pixels": [[1, 2], [3, 4]]}]}`),
		v1("error: unknown column", "tab", `{"instances": [{"x": 1, "n": 2, "z": 3}]}`),
		v1("error: missing column", "tab", `{"instances": [{"x": 1}]}`),
		v1("error: string for a long", "tab", `{"instances": [{"x": 1, "n": "two"}]}`),
		v1("error: fraction for a long", "tab", `{"instances": [{"x": 1, "n": 2.5}]}`),
		v1("error: null for a required column", "tab", `{"instances": [{"x": null, "n": 2}]}`),
		v1("error: row of the wrong length", "tab", `{"instances": [[1, 2]]}`),
		v1("error: mixed rows", "tab", `{"instances": [{"x": 1, "n": 2}, [1, 2, "a"]]}`),
		v1("error: no instances", "tab", `{}`),
		v1("error: unknown key", "tab", `{"inputs": []}`),
		v1("error: instances not a list", "tab", `{"instances": {"x": 1}}`),
		v1("error: tensor model, ragged rows", "img", `{"instances": [[[1, 2], [3]]]}`),
		v1("error: tensor model, wrong row shape", "img", `{"instances": [[1, 2, 3, 4]]}`),
		v1("error: unknown model", "nope", `{"instances": []}`),
		ex("error: not :predict", req("POST", "/v1/models/tab:explain", `{"instances": []}`)),
	}
	runGolden(t, s.Handler(), "v1", cases)
}

// TestGoldenMLflow pins Ferry's own answers on the MLflow scoring routes,
// fake models included; TestMLflowScoringParity checks them against what
// `mlflow models serve` answered (testdata/mlflowref).
func TestGoldenMLflow(t *testing.T) {
	s := goldenServer(t)
	inv := func(name, body string) exchange {
		return ex(name, req("POST", "/invocations", body).with("Content-Type", "application/json"))
	}
	csv := func(name, body string) exchange {
		return ex(name, req("POST", "/invocations", body).with("Content-Type", "text/csv"))
	}
	cases := []exchange{
		ex("ping", req("GET", "/ping", "")),
		ex("health", req("GET", "/health", "")),
		ex("version", req("GET", "/version", "")),
		inv("dataframe_split", `{"dataframe_split": {"columns": ["x", "n", "s"], "data": [[1, 2, "a"], [3.5, 4, null]], "index": [0, 1]}}`),
		inv("dataframe_split, data before columns, columns reordered", `{"dataframe_split": {"data": [[2, 1]], "columns": ["n", "x"]}}`),
		inv("dataframe_split without columns (signature order)", `{"dataframe_split": {"data": [[1, 2, "xyz"]]}}`),
		inv("dataframe_records", `{"dataframe_records": [{"x": 1, "n": 2}, {"x": 0.5, "n": -1, "s": "q"}]}`),
		inv("instances", `{"instances": [{"x": 1, "n": 2, "s": "ab"}]}`),
		inv("inputs as columns", `{"inputs": {"x": [1, 2], "n": [3, 4]}}`),
		inv("inputs as rows", `{"inputs": [[1, 2, "a"]]}`),
		inv("params are accepted", `{"dataframe_records": [{"x": 1, "n": 2}], "params": {"threshold": 0.5}}`),
		ex("no content type is JSON", req("POST", "/invocations", `{"instances": [{"x": 1, "n": 2}]}`)),
		csv("csv", "x,n,s\n1.5,2,abc\n-1,0,\n"),
		csv("csv, columns reordered, quoted field", "s,n,x\n\"a,b\",1,2\n"),
		inv("error: two formats", `{"instances": [], "inputs": []}`),
		inv("error: no format", `{"params": {}}`),
		inv("error: unknown key", `{"data": [[1, 2]]}`),
		inv("error: malformed JSON", `{"dataframe_split": `),
		inv("dataframe_split with an extra column, ignored as MLflow does", `{"dataframe_split": {"columns": ["x", "n", "extra"], "data": [[1, 2, 3]]}}`),
		inv("error: dataframe_split with a missing column", `{"dataframe_split": {"columns": ["x"], "data": [[1]]}}`),
		inv("error: dataframe_split row too short", `{"dataframe_split": {"columns": ["x", "n"], "data": [[1]]}}`),
		inv("error: dataframe_split unknown key", `{"dataframe_split": {"columns": ["x", "n"], "rows": [[1, 2]]}}`),
		inv("error: dataframe_records not a list", `{"dataframe_records": {"x": 1}}`),
		inv("error: dataframe_records column twice", `{"dataframe_records": [{"x": 1, "n": 2, "x": 3}]}`),
		inv("error: bool for a double", `{"dataframe_records": [{"x": true, "n": 2}]}`),
		inv("error: number for a string", `{"dataframe_records": [{"x": 1, "n": 2, "s": 5}]}`),
		inv("error: inputs columns of unequal length", `{"inputs": {"x": [1, 2], "n": [3]}}`),
		csv("csv with an unknown column, ignored as MLflow does", "x,n,q\n1,2,3\n"),
		csv("error: csv with a bad number", "x,n\nabc,2\n"),
		csv("error: csv with a missing required value", "x,n\n1,\n"),
		csv("error: csv with a ragged row", "x,n\n1,2,3\n"),
		csv("error: empty csv", ""),
		ex("error: unsupported content type", req("POST", "/invocations", "x=1").with("Content-Type", "application/x-www-form-urlencoded")),
		inv("error: a tensor for a column model", `{"inputs": {"pixels": [[[1, 2], [3, 4]]]}}`),
	}
	runGolden(t, s.Handler(), "mlflow", cases)

	// A tensor model served alone.
	one := New(Options{Registerer: prometheus.NewRegistry()})
	one.Set("img", "7", &imageModel{}, imageSignature())
	runGolden(t, one.Handler(), "mlflow_tensor", []exchange{
		ex("inputs as the single tensor", req("POST", "/invocations", `{"inputs": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}`)),
		ex("inputs by name", req("POST", "/invocations", `{"inputs": {"pixels": [[[1, 2], [3, 4]]]}}`)),
		ex("instances", req("POST", "/invocations", `{"instances": [[[1, 2], [3, 4]]]}`)),
		ex("error: dataframe_split", req("POST", "/invocations", `{"dataframe_split": {"columns": ["pixels"], "data": [[1]]}}`)),
		ex("error: csv", req("POST", "/invocations", "pixels\n1\n").with("Content-Type", "text/csv")),
		ex("error: unknown input ignored, so one is missing", req("POST", "/invocations", `{"inputs": {"image": [[[1, 2], [3, 4]]]}}`)),
		ex("error: null in a tensor", req("POST", "/invocations", `{"inputs": [[[1, null], [3, 4]]]}`)),
	})

	// No model: /invocations has nothing to serve.
	none := New(Options{Registerer: prometheus.NewRegistry()})
	runGolden(t, none.Handler(), "mlflow_none", []exchange{
		ex("error: no model", req("POST", "/invocations", `{"instances": [1]}`)),
		ex("not ready", req("GET", "/v2/health/ready", "")),
	})
}
