package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

// newMonitorTestServer serves the deploy and monitor routes over one
// SQLite store holding endpoint churn.
func newMonitorTestServer(t *testing.T, maxBody int64) (*Server, *monitor.Service) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dep := deploy.NewService(db, fixedModels{}, nil)
	if _, err := dep.PutEndpoint(context.Background(), deploy.Endpoint{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	mon := monitor.NewService(db, monitor.Options{Endpoints: dep})
	return New(Options{Deploy: dep, Monitor: mon, MaxRequestBytes: maxBody}), mon
}

// labelsCall posts body to churn's (or endpoint's) labels with ctype.
func labelsCall(t *testing.T, s *Server, endpoint, ctype, body string) v1Resp {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/api/v1/endpoints/"+endpoint+"/labels", strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set(PrincipalHeader, "labeller")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return v1Resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func TestV1Labels(t *testing.T) {
	s, mon := newMonitorTestServer(t, 0)
	r := labelsCall(t, s, "churn", "application/json", `{"labels": [{"request_id": "r1", "label": 1, "time": "2024-03-01T12:00:00Z"}, {"request_id": "r2", "label": "spam"}, {"request_id": 3, "label": true}]}`)
	v1Want(t, r, http.StatusOK, "")
	if c := v1Decode[monitor.LabelCounts](t, r); c != (monitor.LabelCounts{Endpoint: "churn", Received: 3, Created: 3, Total: 3}) {
		t.Errorf("JSON batch: %+v", c)
	}
	r = labelsCall(t, s, "churn", "text/csv; charset=utf-8", "\ufefflabel,request_id,time\n0,r1,2024-03-02 08:00:00\n1,r4,\n")
	v1Want(t, r, http.StatusOK, "")
	if c := v1Decode[monitor.LabelCounts](t, r); c != (monitor.LabelCounts{Endpoint: "churn", Received: 2, Created: 1, Replaced: 1, Total: 4}) {
		t.Errorf("CSV batch: %+v", c)
	}
	got, err := mon.LabelsFor(context.Background(), "churn", []string{"r1", "r2", "3", "r4"})
	if err != nil {
		t.Fatal(err)
	}
	if got["r1"].Value != "0" || got["r1"].Time.Format("2006-01-02 15") != "2024-03-02 08" || got["r2"].Value != "spam" || got["3"].Value != "true" || got["r4"].Principal != "labeller" {
		t.Errorf("stored %+v", got)
	}
}

func TestV1LabelsErrors(t *testing.T) {
	s, _ := newMonitorTestServer(t, 512)
	tests := []struct {
		name     string
		endpoint string
		ctype    string
		body     string
		status   int
		code     string
		want     string
	}{
		{"unknown endpoint", "nope", "", `{"labels": [{"request_id": "a", "label": 1}]}`, 404, ferry.ENOTFOUND, "nope"},
		{"malformed JSON", "churn", "application/json", `{"labels": [`, 400, ferry.EINVALID, "labels JSON"},
		{"not an object", "churn", "", `[1, 2]`, 400, ferry.EINVALID, "expected a JSON object"},
		{"no labels", "churn", "", `{"labels": []}`, 400, ferry.EINVALID, "no labels"},
		{"unknown field", "churn", "", `{"labels": [{"request_id": "a", "lable": 1}]}`, 400, ferry.EINVALID, `labels[0]: unknown field "lable" (did you mean "label"?)`},
		{"unknown top-level field", "churn", "", `{"label": []}`, 400, ferry.EINVALID, `unknown field "label" (did you mean "labels"?)`},
		{"missing request id", "churn", "", `{"labels": [{"request_id": "a", "label": 1}, {"label": 0}]}`, 400, ferry.EINVALID, "labels[1]: request_id is required"},
		{"missing label", "churn", "", `{"labels": [{"request_id": "r-7", "label": null}]}`, 400, ferry.EINVALID, `labels[0] (request_id "r-7"): label is required`},
		{"label an object", "churn", "", `{"labels": [{"request_id": "a", "label": {"x": 1}}]}`, 400, ferry.EINVALID, "label must be a number, a string or a boolean"},
		{"request id a boolean", "churn", "", `{"labels": [{"request_id": true, "label": 1}]}`, 400, ferry.EINVALID, "request_id must be a string or a number"},
		{"bad time", "churn", "", `{"labels": [{"request_id": "a", "label": 1, "time": "yesterday"}]}`, 400, ferry.EINVALID, `time "yesterday" is not a time`},
		{"time a number", "churn", "", `{"labels": [{"request_id": "a", "label": 1, "time": 1700000000}]}`, 400, ferry.EINVALID, "time must be a string"},
		{"CSV without a label column", "churn", "text/csv", "request_id,truth\na,1\n", 400, ferry.EINVALID, `line 1: unknown column "truth"`},
		{"CSV missing column", "churn", "text/csv", "request_id\na\n", 400, ferry.EINVALID, "no label column"},
		{"CSV short line", "churn", "text/csv", "request_id,label\na,1\nb\n", 400, ferry.EINVALID, "line 3: wrong number of fields"},
		{"CSV empty label", "churn", "text/csv", "request_id,label\na,1\nb, \n", 400, ferry.EINVALID, `line 3 (request_id "b"): label is required`},
		{"CSV bad time", "churn", "text/csv", "request_id,label,time\na,1,2024-13-01\n", 400, ferry.EINVALID, "line 2"},
		{"CSV header only", "churn", "text/csv", "request_id,label\n", 400, ferry.EINVALID, "no labels"},
		{"CSV empty", "churn", "text/csv", "", 400, ferry.EINVALID, "empty"},
		{"CSV bare quote", "churn", "text/csv", "request_id,label\n\"a,1\n", 400, ferry.EINVALID, "line 2"},
		{"another content type", "churn", "application/xml", `<labels/>`, 400, ferry.EINVALID, "application/json or text/csv"},
		{"too large", "churn", "text/csv", "request_id,label\n" + strings.Repeat("a,1\n", 200), 413, ferry.ETOOLARGE, "limit of 512 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := labelsCall(t, s, tt.endpoint, tt.ctype, tt.body)
			v1Want(t, r, tt.status, tt.code)
			e := v1Decode[struct {
				Error struct{ Message string } `json:"error"`
			}](t, r)
			if !strings.Contains(e.Error.Message, tt.want) {
				t.Errorf("message %q does not say %q", e.Error.Message, tt.want)
			}
		})
	}
	t.Run("a server that does not monitor", func(t *testing.T) {
		s := New(Options{})
		v1Want(t, labelsCall(t, s, "churn", "", `{"labels": [{"request_id": "a", "label": 1}]}`), 404, ferry.ENOTFOUND)
	})
}
