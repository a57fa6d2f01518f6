package process_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/serving"
)

// TestServeMLflowModel serves a python_function model through a child that
// speaks MLflow's scoring protocol over a real port (the stand-in of
// testdata/mlflowserver.py, with mlflow models serve's command line), and
// sends requests through the serving stage's V2, V1 and /invocations routes:
// the signature's checks, readiness, a crash and restart, the child's own
// 4xx and 5xx, and the metrics.
func TestServeMLflowModel(t *testing.T) {
	pkg := delayModel(t, "")
	m := loadMLflow(t, pkg, mlflowConfig(t, "READY_DELAY=1")) // each start takes a second
	reg := prometheus.NewRegistry()
	srv := serving.New(serving.Options{Registerer: reg, Log: testLogger(t)})
	srv.Set("delays", "1", m, pkg.Manifest.Signature)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	do := func(t *testing.T, method, path, ctype, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	invocations := func() int { return standin(t, m.Addr()).Invocations }

	const v2Request = `{"inputs": [
		{"name": "distance", "shape": [2], "datatype": "FP64", "data": [300, 1000]},
		{"name": "carrier", "shape": [2], "datatype": "BYTES", "data": ["AA", "UA"]},
		{"name": "hour", "shape": [2], "datatype": "INT64", "data": [8, 20]}]}`
	const predictions = `{"predictions":[42.75,137.25]}`
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string // in the body
		reachesChild                    bool
		ignored                         string
	}{
		{"V2 metadata from the signature", "GET", "/v2/models/delays", "", "", 200,
			`"platform":"process","inputs":[{"name":"distance","datatype":"FP64","shape":[-1],"parameters":{"column_type":"double","required":true}},` +
				`{"name":"carrier","datatype":"BYTES","shape":[-1],"parameters":{"column_type":"string","required":true}},` +
				`{"name":"hour","datatype":"INT64","shape":[-1],"parameters":{"column_type":"long","required":false}}],` +
				`"outputs":[{"name":"prediction","datatype":"FP64","shape":[-1]}]`, false, ""},
		{"V2 health", "GET", "/v2/health/ready", "", "", 200, `{"ready":true}`, false, ""},
		{"V2 model ready", "GET", "/v2/models/delays/ready", "", "", 200, `"ready":true`, false, ""},
		{"V2 infer", "POST", "/v2/models/delays/infer", "application/json", v2Request, 200,
			`"outputs":[{"name":"prediction","datatype":"FP64","shape":[2],"data":[42.75,137.25]}]`, true, ""},
		{"V1 predict", "POST", "/v1/models/delays:predict", "application/json",
			`{"instances": [{"distance": 300, "carrier": "AA", "hour": 8}, {"distance": 1000, "carrier": "UA", "hour": 20}]}`, 200, predictions, true, ""},
		{"invocations dataframe_split, an extra column ignored", "POST", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["distance", "carrier", "hour", "tail_number"], "data": [[300, "AA", 8, "N1"], [1000, "UA", 20, "N2"]]}}`,
			200, predictions, true, "tail_number"},
		{"invocations CSV", "POST", "/invocations", "text/csv", "distance,carrier,hour\n300,AA,8\n1000,UA,20\n", 200, predictions, true, ""},
		{"invocations without the optional column", "POST", "/invocations", "application/json",
			`{"dataframe_records": [{"distance": 300, "carrier": "AA"}]}`, 200, `{"predictions":[38.75]}`, true, ""},
		{"the signature refuses a wrong type", "POST", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["distance", "carrier"], "data": [["far", "AA"]]}}`, 400,
			`"message":"Column 'distance' row 1: \"far\" is a string; the column takes double.`, false, ""},
		{"the signature refuses a missing column", "POST", "/v2/models/delays/infer", "application/json",
			`{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP64", "data": [1]}]}`, 400, "Missing", false, ""},
		{"the child's 4xx, its message passed on", "POST", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["distance", "carrier"], "data": [[-5, "AA"]]}}`, 400,
			`"error_code":"BAD_REQUEST","message":"Encountered an unexpected error while evaluating the model.`, true, ""},
		{"the child's 5xx, its message passed on", "POST", "/v1/models/delays:predict", "application/json",
			`{"instances": [{"distance": 1, "carrier": "BOOM"}]}`, 503, "the model server failed (HTTP 500): the model crashed on BOOM", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := invocations()
			status, h, body := do(t, tt.method, tt.path, tt.ctype, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%s %s = %d %s\nwant %d with %s", tt.method, tt.path, status, body, tt.status, tt.want)
			}
			if reached := invocations() > before; reached != tt.reachesChild {
				t.Errorf("reached the child: %v, want %v", reached, tt.reachesChild)
			}
			if got := h.Get(serving.IgnoredColumnsHeader); got != tt.ignored {
				t.Errorf("%s = %q, want %q", serving.IgnoredColumnsHeader, got, tt.ignored)
			}
		})
	}
	t.Run("ignored columns do not reach the child", func(t *testing.T) {
		do(t, "POST", "/invocations", "application/json", `{"dataframe_split": {"columns": ["distance", "carrier", "tail_number"], "data": [[300, "AA", "N1"]]}}`)
		var sent struct {
			Split struct {
				Columns []string `json:"columns"`
			} `json:"dataframe_split"`
		}
		if err := json.Unmarshal(standin(t, m.Addr()).LastRequest, &sent); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sent.Split.Columns, ","); got != "distance,carrier" {
			t.Errorf("the child got columns %s", got)
		}
	})

	t.Run("crash and restart", func(t *testing.T) {
		first := m.PID()
		if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the runtime notices the child died", func() bool { return !m.Ready() })
		if status, _, body := do(t, "GET", "/v2/models/delays/ready", "", ""); status != 503 || !strings.Contains(body, "not ready") {
			t.Errorf("model ready while restarting: %d %s", status, body)
		}
		if status, _, _ := do(t, "GET", "/v2/health/ready", "", ""); status != 503 {
			t.Errorf("health ready while restarting: %d", status)
		}
		// A request waits for the new child.
		if status, _, body := do(t, "POST", "/invocations", "application/json",
			`{"dataframe_split": {"columns": ["distance", "carrier", "hour"], "data": [[300, "AA", 8], [1000, "UA", 20]]}}`); status != 200 || body != predictions+"\n" {
			t.Errorf("after the crash: %d %s", status, body)
		}
		if m.Restarts() != 1 || m.PID() == first {
			t.Errorf("Restarts %d, PID %d (before %d)", m.Restarts(), m.PID(), first)
		}
		if status, _, _ := do(t, "GET", "/v2/health/ready", "", ""); status != 200 {
			t.Errorf("health after the restart: %d", status)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		want := map[[2]string]float64{ // protocol, code → requests
			{"v2", "200"}: 1, {"v2", "400"}: 1, {"v1", "200"}: 1, {"v1", "503"}: 1,
			{"mlflow", "200"}: 5, {"mlflow", "400"}: 2,
		}
		got := map[[2]string]float64{}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != "ferry_serving_requests_total" {
				continue
			}
			for _, mt := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range mt.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["model"] == "delays" && labels["version"] == "1" {
					got[[2]string{labels["protocol"], labels["code"]}] = mt.GetCounter().GetValue()
				}
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("requests %v = %v, want %v (all: %v)", k, got[k], v, got)
			}
		}
	})
}
