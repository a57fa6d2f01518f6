package serving

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// recordingCollector keeps what it is given.
type recordingCollector struct {
	mu    sync.Mutex
	preds []Prediction
}

func (c *recordingCollector) Collect(_ context.Context, p Prediction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.preds = append(c.preds, p)
}

// TestCollector: every protocol hands its successful predictions — request
// id, model, version, decoded inputs in schema order, all outputs — to the
// Collector; failed requests are not collected.
func TestCollector(t *testing.T) {
	for _, tc := range []struct {
		name, path, body, ctype string
	}{
		{"v2", "/v2/models/tab/infer", `{"inputs":[{"name":"x","datatype":"FP64","shape":[2],"data":[1.5,2]},{"name":"n","datatype":"INT64","shape":[2],"data":[3,4]},{"name":"s","datatype":"BYTES","shape":[2],"data":["a","b"]}],"outputs":[{"name":"score"}]}`, "application/json"},
		{"v1", "/v1/models/tab:predict", `{"instances":[{"x":1.5,"n":3,"s":"a"},{"x":2,"n":4,"s":"b"}]}`, "application/json"},
		{"mlflow-split", "/invocations", `{"dataframe_split":{"columns":["s","x","n"],"data":[["a",1.5,3],["b",2,4]]}}`, "application/json"},
		{"mlflow-records", "/invocations", `{"dataframe_records":[{"x":1.5,"n":3,"s":"a"},{"x":2,"n":4,"s":"b"}]}`, "application/json"},
		{"mlflow-csv", "/invocations", "x,n,s\n1.5,3,a\n2,4,b\n", "text/csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordingCollector{}
			s := New(Options{Registerer: prometheus.NewRegistry(), Collector: rc})
			s.Set("tab", "7", &tableModel{outputs: "multi"}, tableSignature())
			h := s.Handler()
			req := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set(RequestIDHeader, "req-1")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			bad := httptest.NewRequest("POST", tc.path, strings.NewReader(`{"inputs": [}`))
			h.ServeHTTP(httptest.NewRecorder(), bad)
			if len(rc.preds) != 1 {
				t.Fatalf("collected %d predictions, want 1", len(rc.preds))
			}
			p := rc.preds[0]
			if p.RequestID != "req-1" || p.Model != "tab" || p.Version != "7" || p.Rows != 2 || p.Time.IsZero() || p.Schema == nil {
				t.Errorf("prediction %+v", p)
			}
			if len(p.Inputs) != 3 || p.Inputs[0].Name != "x" || p.Inputs[0].FP64[1] != 2 || p.Inputs[1].Int[0] != 3 || p.Inputs[2].Str[1] != "b" {
				t.Errorf("inputs %+v", p.Inputs)
			}
			if len(p.Outputs) != 2 || p.Outputs[0].Name != "score" || p.Outputs[1].Name != "row" {
				t.Errorf("outputs %+v, want score and row (all of them, even when the request asked for fewer)", p.Outputs)
			}
		})
	}
}
