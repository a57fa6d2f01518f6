package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newRun creates a run in the Default experiment and returns its ID.
func newRun(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	status, out := post(t, srv, "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": "0"})
	if status != 200 {
		t.Fatalf("create run: %d %v", status, out)
	}
	return out["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
}

func TestLogBatchLimits(t *testing.T) {
	srv := newTestServer(t)
	run := newRun(t, srv)
	metrics := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"key": "m", "value": i, "timestamp": 1, "step": i}
		}
		return out
	}
	kv := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"key": fmt.Sprintf("k%d", i), "value": "v"}
		}
		return out
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"1000 metrics", map[string]any{"metrics": metrics(1000)}, 200, ""},
		{"1001 metrics", map[string]any{"metrics": metrics(1001)}, 400, "A batch logging request can contain at most 1000 metrics. Got 1001 metrics."},
		{"100 params", map[string]any{"params": kv(100)}, 200, ""},
		{"101 params", map[string]any{"params": kv(101)}, 400, "at most 100 params. Got 101 params."},
		{"101 tags", map[string]any{"tags": kv(101)}, 400, "at most 100 tags. Got 101 tags."},
		{"1001 entities", map[string]any{"metrics": metrics(950), "tags": kv(51)}, 400, "at most 1000 total entities"},
		{"param value over 6000", map[string]any{"params": []map[string]any{{"key": "long", "value": strings.Repeat("x", 6001)}}}, 400, "exceeded length limit of 6000"},
		{"tag value over 8000", map[string]any{"tags": []map[string]any{{"key": "long", "value": strings.Repeat("x", 8001)}}}, 400, "exceeded length limit of 8000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body["run_id"] = run
			status, out := post(t, srv, "/api/2.0/mlflow/runs/log-batch", tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.msg != "" {
				if out["error_code"] != "INVALID_PARAMETER_VALUE" || !strings.Contains(fmt.Sprint(out["message"]), tt.msg) {
					t.Fatalf("answer %v, want INVALID_PARAMETER_VALUE with %q", out, tt.msg)
				}
			}
		})
	}
	// Nothing of the rejected batches was written.
	resp, err := srv.Client().Get(srv.URL + "/api/2.0/mlflow/runs/get?run_id=" + run)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Run struct {
			Data struct {
				Params []map[string]string `json:"params"`
				Tags   []map[string]string `json:"tags"`
			} `json:"data"`
		} `json:"run"`
	}
	json.NewDecoder(resp.Body).Decode(&got)
	if len(got.Run.Data.Params) != 100 {
		t.Fatalf("%d params stored, want the 100 of the accepted batch", len(got.Run.Data.Params))
	}
	for _, tag := range got.Run.Data.Tags {
		if tag["key"] != "mlflow.runName" {
			t.Fatalf("tag %v of a rejected batch was stored", tag)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	srv := newTestServer(t) // MaxRequestBytes is 1 MiB
	body := `{"experiment_ids": ["0"], "filter": "` + strings.Repeat("x", 2<<20) + `"}`
	resp, err := srv.Client().Post(srv.URL+"/api/2.0/mlflow/runs/search", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || out["error_code"] != "INVALID_PARAMETER_VALUE" || !strings.Contains(out["message"], "exceeds the limit") {
		t.Fatalf("status %d, body %v", resp.StatusCode, out)
	}
}

// FuzzLogBatch sends arbitrary bodies to log-batch: every answer is a 200 or
// a 4xx in MLflow's error shape, never a 5xx.
func FuzzLogBatch(f *testing.F) {
	f.Add([]byte(`{"run_id": "RUN", "metrics": [{"key": "a", "value": 1, "timestamp": 1, "step": 0}]}`))
	f.Add([]byte(`{"run_id": "RUN", "metrics": [{"key": "a", "value": "NaN", "timestamp": "12", "step": "3"}], "params": [{"key": "p", "value": "v"}]}`))
	f.Add([]byte(`{"run_id": "RUN", "tags": [{"key": "../x", "value": "v"}]}`))
	f.Add([]byte(`{"run_id": "RUN", "metrics": [{"key": "a", "value": 1e400}]}`))
	f.Add([]byte(`{"run_id": 7}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"run_id": "RUN", "params": [{"key": "p", "value": null}]}`))
	srv := newTestServer(f)
	run := newRun(f, srv)
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.ReplaceAll(body, []byte("RUN"), []byte(run))
		resp, err := srv.Client().Post(srv.URL+"/api/2.0/mlflow/runs/log-batch", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		switch {
		case resp.StatusCode == 200:
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			if out["error_code"] == nil || out["message"] == "" {
				t.Fatalf("4xx without MLflow's error shape: %v", out)
			}
		default:
			t.Fatalf("status %d for body %q: %v", resp.StatusCode, body, out)
		}
	})
}
