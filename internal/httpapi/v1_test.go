package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob/file"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// newV1TestServer returns a Server on a real SQLite store and a file blob
// store, both in temporary directories. maxBody 0 keeps the default limit.
// (This package sits below the composition root, internal/app, so its own
// tests open the two stores themselves; every other test goes through
// internal/testbackend.)
func newV1TestServer(t *testing.T, maxBody int64) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "ferry.db"), sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := file.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	svc := tracking.NewService(db, tracking.Options{})
	if err := svc.EnsureDefaultExperiment(ctx); err != nil {
		t.Fatal(err)
	}
	return New(Options{Tracking: svc, Artifacts: blobs, MaxRequestBytes: maxBody})
}

// v1Resp is one answer of the server.
type v1Resp struct {
	status int
	header http.Header
	body   []byte
}

// v1Call sends one request through the server's full handler.
func v1Call(t *testing.T, s *Server, method, target, body string) v1Resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, target, rd)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return v1Resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// v1Decode unmarshals r's body into a T, failing the test on malformed JSON.
func v1Decode[T any](t *testing.T, r v1Resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, r.body, err)
	}
	return v
}

// v1Want checks r's status and, for errors, that the body is Ferry's error
// shape with code.
func v1Want(t *testing.T, r v1Resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	if code == "" {
		return
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil {
		t.Fatalf("error body %s is not {\"error\": {...}} (%v)", r.body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error = %+v, want code %s and a message", *e.Error, code)
	}
}

// v1NewExperiment makes an experiment and returns its ID.
func v1NewExperiment(t *testing.T, s *Server, body string) string {
	t.Helper()
	r := v1Call(t, s, "POST", "/api/v1/experiments", body)
	v1Want(t, r, http.StatusCreated, "")
	return v1Decode[v1ExperimentResponse](t, r).Experiment.ExperimentID
}

// v1NewRun starts a run and returns it.
func v1NewRun(t *testing.T, s *Server, body string) wireRun {
	t.Helper()
	r := v1Call(t, s, "POST", "/api/v1/runs", body)
	v1Want(t, r, http.StatusCreated, "")
	return v1Decode[v1RunResponse](t, r).Run
}

func TestV1Experiments(t *testing.T) {
	s := newV1TestServer(t, 0)
	id := v1NewExperiment(t, s, `{"name": "fraud", "tags": [{"key": "team", "value": "risk"}]}`)
	slashed := v1NewExperiment(t, s, `{"name": "team/fraud v2", "artifact_location": "s3://bucket/fraud"}`)
	exp := "/api/v1/experiments/" + id

	wantExp := func(name, stage string) func(*testing.T, v1Resp) {
		return func(t *testing.T, r v1Resp) {
			e := v1Decode[v1ExperimentResponse](t, r).Experiment
			if e.Name != name || e.LifecycleStage != stage || e.CreationTime == 0 {
				t.Fatalf("experiment = %+v, want name %q, stage %q", e, name, stage)
			}
		}
	}
	wantNames := func(names ...string) func(*testing.T, v1Resp) {
		return func(t *testing.T, r v1Resp) {
			var got []string
			for _, e := range v1Decode[v1ExperimentList](t, r).Experiments {
				got = append(got, e.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(names) {
				t.Fatalf("experiments = %q, want %q", got, names)
			}
		}
	}
	// The steps run in order: later ones see earlier ones' changes.
	steps := []struct {
		name           string
		method, target string
		body           string
		status         int
		code           string
		check          func(*testing.T, v1Resp)
	}{
		{"get", "GET", exp, "", 200, "", func(t *testing.T, r v1Resp) {
			e := v1Decode[v1ExperimentResponse](t, r).Experiment
			if e.ExperimentID != id || e.Name != "fraud" || !strings.HasPrefix(e.ArtifactLocation, "mlflow-artifacts:") ||
				len(e.Tags) != 1 || e.Tags[0] != (wireTag{"team", "risk"}) {
				t.Fatalf("experiment = %+v", e)
			}
		}},
		{"get by name", "GET", "/api/v1/experiments/by-name/fraud", "", 200, "", wantExp("fraud", "active")},
		{"get by escaped name with slash", "GET", "/api/v1/experiments/by-name/team%2Ffraud%20v2", "", 200, "", func(t *testing.T, r v1Resp) {
			if e := v1Decode[v1ExperimentResponse](t, r).Experiment; e.ExperimentID != slashed || e.ArtifactLocation != "s3://bucket/fraud" {
				t.Fatalf("experiment = %+v, want ID %s", e, slashed)
			}
		}},
		{"get by unknown name", "GET", "/api/v1/experiments/by-name/nope", "", 404, ferry.ENOTFOUND, nil},
		{"get unknown", "GET", "/api/v1/experiments/98765", "", 404, ferry.ENOTFOUND, nil},
		{"create duplicate", "POST", "/api/v1/experiments", `{"name": "fraud"}`, 400, ferry.ECONFLICT, nil},
		{"create without name", "POST", "/api/v1/experiments", `{"artifact_location": "x"}`, 400, ferry.EINVALID, nil},
		{"create with name of wrong type", "POST", "/api/v1/experiments", `{"name": 7}`, 400, ferry.EINVALID, nil},
		{"create with malformed JSON", "POST", "/api/v1/experiments", `{"name": "x"`, 400, ferry.EINVALID, nil},
		{"rename", "PATCH", exp, `{"name": "fraud-2"}`, 200, "", wantExp("fraud-2", "active")},
		{"rename without name changes nothing", "PATCH", exp, `{}`, 200, "", wantExp("fraud-2", "active")},
		{"rename unknown", "PATCH", "/api/v1/experiments/98765", `{"name": "z"}`, 404, ferry.ENOTFOUND, nil},
		{"set tag", "PUT", exp + "/tags/owner/name", `{"value": "ana"}`, 200, "", func(t *testing.T, r v1Resp) {
			if string(bytes.TrimSpace(r.body)) != "{}" {
				t.Fatalf("body = %s, want {}", r.body)
			}
		}},
		{"tag is visible", "GET", exp, "", 200, "", func(t *testing.T, r v1Resp) {
			e := v1Decode[v1ExperimentResponse](t, r).Experiment
			if fmt.Sprint(e.Tags) != "[{owner/name ana} {team risk}]" && fmt.Sprint(e.Tags) != "[{team risk} {owner/name ana}]" {
				t.Fatalf("tags = %v", e.Tags)
			}
		}},
		{"set tag without value", "PUT", exp + "/tags/owner", `{}`, 400, ferry.EINVALID, nil},
		{"set tag with value of wrong type", "PUT", exp + "/tags/owner", `{"value": 3}`, 400, ferry.EINVALID, nil},
		{"list", "GET", "/api/v1/experiments?order_by=name+ASC", "", 200, "", wantNames("Default", "fraud-2", "team/fraud v2")},
		{"list with repeated order_by", "GET", "/api/v1/experiments?order_by=creation_time+DESC&order_by=name+DESC", "", 200, "", wantNames("team/fraud v2", "fraud-2", "Default")},
		{"list with filter", "GET", "/api/v1/experiments?filter=" + v1Escape("tags.team = 'risk'"), "", 200, "", wantNames("fraud-2")},
		{"list with bad filter", "GET", "/api/v1/experiments?filter=" + v1Escape("name ~ 1"), "", 400, ferry.EINVALID, nil},
		{"list with bad max_results", "GET", "/api/v1/experiments?max_results=many", "", 400, ferry.EINVALID, nil},
		{"list with bad view_type", "GET", "/api/v1/experiments?view_type=SOME", "", 400, ferry.EINVALID, nil},
		{"delete", "DELETE", exp, "", 200, "", nil},
		{"deleted is shown as deleted", "GET", exp, "", 200, "", wantExp("fraud-2", "deleted")},
		{"list hides deleted", "GET", "/api/v1/experiments?order_by=name", "", 200, "", wantNames("Default", "team/fraud v2")},
		{"list deleted only", "GET", "/api/v1/experiments?view_type=DELETED_ONLY", "", 200, "", wantNames("fraud-2")},
		{"delete again", "DELETE", exp, "", 400, ferry.EINVALID, nil},
		{"delete default, as MLflow's SQL store allows", "DELETE", "/api/v1/experiments/0", "", 200, "", nil},
		{"restore default", "POST", "/api/v1/experiments/0/restore", "", 200, "", wantExp("Default", "active")},
		{"delete unknown", "DELETE", "/api/v1/experiments/98765", "", 404, ferry.ENOTFOUND, nil},
		{"restore", "POST", exp + "/restore", "", 200, "", wantExp("fraud-2", "active")},
		{"restore unknown", "POST", "/api/v1/experiments/98765/restore", "", 404, ferry.ENOTFOUND, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := v1Call(t, s, st.method, st.target, st.body)
			v1Want(t, r, st.status, st.code)
			if st.check != nil {
				st.check(t, r)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		var names []string
		token := ""
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatal("paging does not end")
			}
			r := v1Call(t, s, "GET", "/api/v1/experiments?max_results=1&order_by=name&page_token="+v1Escape(token), "")
			v1Want(t, r, 200, "")
			l := v1Decode[v1ExperimentList](t, r)
			if len(l.Experiments) != 1 {
				t.Fatalf("page %d has %d experiments, want 1", page, len(l.Experiments))
			}
			names = append(names, l.Experiments[0].Name)
			if token = l.NextPageToken; token == "" {
				break
			}
		}
		if fmt.Sprint(names) != "[Default fraud-2 team/fraud v2]" {
			t.Fatalf("pages = %q", names)
		}
	})

	t.Run("empty list is an empty array", func(t *testing.T) {
		r := v1Call(t, s, "GET", "/api/v1/experiments?filter="+v1Escape("name = 'nothing'"), "")
		v1Want(t, r, 200, "")
		if got := strings.TrimSpace(string(r.body)); got != `{"experiments":[]}` {
			t.Fatalf("body = %s", got)
		}
	})
}

func v1Escape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "+", "'", "%27", "=", "%3D", "&", "%26", "<", "%3C", "/", "%2F", "~", "%7E")
	return r.Replace(s)
}

func TestV1Runs(t *testing.T) {
	s := newV1TestServer(t, 0)
	expID := v1NewExperiment(t, s, `{"name": "churn"}`)
	run := v1NewRun(t, s, fmt.Sprintf(`{"experiment_id": %q, "run_name": "baseline", "user_id": "ana", "start_time": 1700000000000, "tags": [{"key": "stage", "value": "dev"}]}`, expID))
	if run.Info.RunName != "baseline" || run.Info.ExperimentID != expID || run.Info.Status != "RUNNING" ||
		run.Info.StartTime != 1700000000000 || run.Info.UserID != "ana" || run.Info.RunID != run.Info.RunUUID ||
		!strings.HasSuffix(run.Info.ArtifactURI, "/"+run.Info.RunID+"/artifacts") {
		t.Fatalf("created run = %+v", run.Info)
	}
	other := v1NewRun(t, s, fmt.Sprintf(`{"experiment_id": %d}`, v1Atoi(t, expID))) // a numeric ID is accepted
	runPath := "/api/v1/runs/" + run.Info.RunID

	batch := `{
		"metrics": [
			{"key": "loss", "value": 0.9, "timestamp": 1, "step": 0},
			{"key": "loss", "value": "0.5", "timestamp": "2", "step": "1"},
			{"key": "loss", "value": 0.25, "timestamp": 3, "step": 2},
			{"key": "loss", "value": "NaN", "timestamp": 4, "step": 3},
			{"key": "loss", "value": 0.125, "timestamp": 5, "step": 4},
			{"key": "train/grad", "value": "Infinity", "timestamp": 6, "step": 0},
			{"key": "train/grad", "value": "-Infinity", "timestamp": 7, "step": 1}
		],
		"params": [{"key": "lr", "value": "0.01"}, {"key": "model", "value": "tree"}],
		"tags": [{"key": "stage", "value": "prod"}]
	}`
	wantRun := func(check func(*testing.T, wireRun)) func(*testing.T, v1Resp) {
		return func(t *testing.T, r v1Resp) { check(t, v1Decode[v1RunResponse](t, r).Run) }
	}
	wantRunIDs := func(ids ...string) func(*testing.T, v1Resp) {
		return func(t *testing.T, r v1Resp) {
			got := []string{}
			for _, run := range v1Decode[v1RunList](t, r).Runs {
				got = append(got, run.Info.RunID)
			}
			if fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Fatalf("runs = %q, want %q", got, ids)
			}
		}
	}
	tooMany := func() string {
		ms := make([]string, tracking.MaxMetricsPerBatch+1)
		for i := range ms {
			ms[i] = fmt.Sprintf(`{"key": "m", "value": %d, "timestamp": 1, "step": %d}`, i, i)
		}
		return `{"metrics": [` + strings.Join(ms, ",") + `]}`
	}()
	search := func(filter string) string {
		b, _ := json.Marshal(map[string]any{"experiment_ids": []string{expID}, "filter": filter, "order_by": []string{"start_time DESC"}})
		return string(b)
	}

	steps := []struct {
		name           string
		method, target string
		body           string
		status         int
		code           string
		check          func(*testing.T, v1Resp)
	}{
		{"log batch", "POST", runPath + "/log", batch, 200, "", func(t *testing.T, r v1Resp) {
			if string(bytes.TrimSpace(r.body)) != "{}" {
				t.Fatalf("body = %s, want {}", r.body)
			}
		}},
		{"get", "GET", runPath, "", 200, "", wantRun(func(t *testing.T, run wireRun) {
			latest := map[string]string{}
			for _, m := range run.Data.Metrics {
				b, _ := json.Marshal(m.Value)
				latest[m.Key] = string(b)
			}
			if latest["loss"] != "0.125" || latest["train/grad"] != `"-Infinity"` {
				t.Fatalf("latest metrics = %v", latest)
			}
			if fmt.Sprint(run.Data.Params) != "[{lr 0.01} {model tree}]" {
				t.Fatalf("params = %v", run.Data.Params)
			}
			if v1RunTag(run, "stage") != "prod" || v1RunTag(run, "mlflow.runName") != "baseline" {
				t.Fatalf("tags = %v", run.Data.Tags)
			}
		})},
		{"history of a key with a slash", "GET", runPath + "/metrics/train/grad", "", 200, "", func(t *testing.T, r v1Resp) {
			if got := strings.TrimSpace(string(r.body)); got != `{"metrics":[{"key":"train/grad","value":"Infinity","timestamp":6,"step":0},{"key":"train/grad","value":"-Infinity","timestamp":7,"step":1}]}` {
				t.Fatalf("body = %s", got)
			}
		}},
		{"history of a key with an escaped slash", "GET", runPath + "/metrics/train%2Fgrad?max_results=1", "", 200, "", func(t *testing.T, r v1Resp) {
			h := v1Decode[v1MetricPage](t, r)
			if len(h.Metrics) != 1 || h.Metrics[0].Key != "train/grad" || h.NextPageToken == "" {
				t.Fatalf("page = %+v", h)
			}
		}},
		{"history of an unknown key", "GET", runPath + "/metrics/nope", "", 200, "", func(t *testing.T, r v1Resp) {
			if got := strings.TrimSpace(string(r.body)); got != `{"metrics":[]}` {
				t.Fatalf("body = %s", got)
			}
		}},
		{"history with bad max_results", "GET", runPath + "/metrics/loss?max_results=x", "", 400, ferry.EINVALID, nil},
		{"history with negative max_results", "GET", runPath + "/metrics/loss?max_results=-1", "", 400, ferry.EINVALID, nil},
		{"history with bad page token", "GET", runPath + "/metrics/loss?page_token=%21%21", "", 400, ferry.EINVALID, nil},
		{"history of unknown run", "GET", "/api/v1/runs/nope/metrics/loss", "", 404, ferry.ENOTFOUND, nil},
		{"update", "PATCH", runPath, `{"status": "FINISHED", "end_time": 1700000009000, "run_name": "baseline-2"}`, 200, "", wantRun(func(t *testing.T, run wireRun) {
			if run.Info.Status != "FINISHED" || run.Info.EndTime != 1700000009000 || run.Info.RunName != "baseline-2" {
				t.Fatalf("info = %+v", run.Info)
			}
			if len(run.Data.Metrics) != 2 || len(run.Data.Params) != 2 || v1RunTag(run, "mlflow.runName") != "baseline-2" {
				t.Fatalf("the updated run is not the full run: %+v", run.Data)
			}
		})},
		{"update with bad status", "PATCH", runPath, `{"status": "DONE"}`, 400, ferry.EINVALID, nil},
		{"update with end_time of wrong type", "PATCH", runPath, `{"end_time": "soon"}`, 400, ferry.EINVALID, nil},
		{"update with run_name of wrong type", "PATCH", runPath, `{"run_name": 5}`, 400, ferry.EINVALID, nil},
		{"update unknown", "PATCH", "/api/v1/runs/nope", `{"status": "FAILED"}`, 404, ferry.ENOTFOUND, nil},
		{"log inputs", "POST", runPath + "/inputs", `{"datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": {"name": "churn", "digest": "abc123", "source_type": "local", "source": "file:///data/churn.csv"}}]}`, 200, "", nil},
		{"inputs are visible", "GET", runPath, "", 200, "", wantRun(func(t *testing.T, run wireRun) {
			in := run.Inputs.DatasetInputs
			if len(in) != 1 || in[0].Dataset.Name != "churn" || in[0].Dataset.Digest != "abc123" {
				t.Fatalf("inputs = %+v", in)
			}
		})},
		{"log inputs with wrong type", "POST", runPath + "/inputs", `{"datasets": {"name": "x"}}`, 400, ferry.EINVALID, nil},
		{"delete tag", "DELETE", runPath + "/tags/stage", "", 200, "", nil},
		{"set tag with a slash", "POST", runPath + "/log", `{"tags": [{"key": "team/owner", "value": "ana"}]}`, 200, "", nil},
		{"delete tag with an escaped slash", "DELETE", runPath + "/tags/team%2Fowner", "", 200, "", nil},
		{"tag with a slash is gone", "DELETE", runPath + "/tags/team/owner", "", 404, ferry.ENOTFOUND, nil},
		{"delete absent tag", "DELETE", runPath + "/tags/stage", "", 404, ferry.ENOTFOUND, nil},
		{"search with filter", "POST", "/api/v1/runs/search", search("metrics.loss < 0.2 AND params.model = 'tree'"), 200, "", wantRunIDs(run.Info.RunID)},
		{"search without filter", "POST", "/api/v1/runs/search", search(""), 200, "", wantRunIDs(other.Info.RunID, run.Info.RunID)},
		{"search matching nothing", "POST", "/api/v1/runs/search", search("params.model = 'linear'"), 200, "", func(t *testing.T, r v1Resp) {
			if got := strings.TrimSpace(string(r.body)); got != `{"runs":[]}` {
				t.Fatalf("body = %s", got)
			}
		}},
		{"search with bad filter", "POST", "/api/v1/runs/search", search("metrics.loss <"), 400, ferry.EINVALID, nil},
		{"search without experiments", "POST", "/api/v1/runs/search", `{}`, 400, ferry.EINVALID, nil},
		{"search with ids of wrong type", "POST", "/api/v1/runs/search", `{"experiment_ids": "1"}`, 400, ferry.EINVALID, nil},
		{"search with paging", "POST", "/api/v1/runs/search", fmt.Sprintf(`{"experiment_ids": [%q], "max_results": 1, "order_by": ["start_time DESC"]}`, expID), 200, "", func(t *testing.T, r v1Resp) {
			l := v1Decode[v1RunList](t, r)
			if len(l.Runs) != 1 || l.NextPageToken == "" {
				t.Fatalf("page = %d runs, token %q; want 1 run and a token", len(l.Runs), l.NextPageToken)
			}
		}},
		// A unique prefix of 8+ characters names the run on every /runs/{id}
		// route, as git takes commit prefixes (issue 10.3).
		{"get by a prefix", "GET", "/api/v1/runs/" + run.Info.RunID[:8], "", 200, "", wantRun(func(t *testing.T, got wireRun) {
			if got.Info.RunID != run.Info.RunID {
				t.Fatalf("run %s, want %s", got.Info.RunID, run.Info.RunID)
			}
		})},
		{"log by a prefix", "POST", "/api/v1/runs/" + run.Info.RunID[:12] + "/log", `{"tags": [{"key": "short", "value": "yes"}]}`, 200, "", nil},
		{"history by a prefix", "GET", "/api/v1/runs/" + run.Info.RunID[:8] + "/metrics/loss", "", 200, "", nil},
		{"get by a prefix too short", "GET", "/api/v1/runs/" + run.Info.RunID[:7], "", 400, ferry.EINVALID, func(t *testing.T, r v1Resp) {
			if !strings.Contains(string(r.body), "at least 8 characters") {
				t.Fatalf("body = %s", r.body)
			}
		}},
		{"get by a prefix of no run", "GET", "/api/v1/runs/" + strings.Repeat("0", 8) + "x", "", 404, ferry.ENOTFOUND, nil},
		{"delete", "DELETE", runPath, "", 200, "", nil},
		{"deleted is shown as deleted", "GET", runPath, "", 200, "", wantRun(func(t *testing.T, run wireRun) {
			if run.Info.LifecycleStage != "deleted" {
				t.Fatalf("stage = %q", run.Info.LifecycleStage)
			}
		})},
		{"log to deleted run", "POST", runPath + "/log", `{"params": [{"key": "x", "value": "1"}]}`, 400, ferry.EINVALID, nil},
		{"restore", "POST", runPath + "/restore", "", 200, "", wantRun(func(t *testing.T, run wireRun) {
			if run.Info.LifecycleStage != "active" || run.Info.RunName != "baseline-2" {
				t.Fatalf("info = %+v", run.Info)
			}
		})},
		{"restore unknown", "POST", "/api/v1/runs/nope/restore", "", 404, ferry.ENOTFOUND, nil},
		{"get unknown", "GET", "/api/v1/runs/nope", "", 404, ferry.ENOTFOUND, nil},
		{"delete unknown", "DELETE", "/api/v1/runs/nope", "", 404, ferry.ENOTFOUND, nil},
		{"log to unknown run", "POST", "/api/v1/runs/nope/log", `{"metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}]}`, 404, ferry.ENOTFOUND, nil},
		{"log malformed JSON", "POST", runPath + "/log", `{"metrics": [`, 400, ferry.EINVALID, nil},
		{"log not an object", "POST", runPath + "/log", `[1, 2]`, 400, ferry.EINVALID, nil},
		{"log metrics of wrong type", "POST", runPath + "/log", `{"metrics": "loss"}`, 400, ferry.EINVALID, nil},
		{"log metric value of wrong type", "POST", runPath + "/log", `{"metrics": [{"key": "m", "value": "high", "timestamp": 1}]}`, 400, ferry.EINVALID, nil},
		{"log bad metric key", "POST", runPath + "/log", `{"metrics": [{"key": "../m", "value": 1, "timestamp": 1}]}`, 400, ferry.EINVALID, nil},
		{"log over-limit batch", "POST", runPath + "/log", tooMany, 400, ferry.EINVALID, nil},
		{"log changed param", "POST", runPath + "/log", `{"params": [{"key": "lr", "value": "0.1"}]}`, 400, ferry.EINVALID, nil},
		{"create run in unknown experiment", "POST", "/api/v1/runs", `{"experiment_id": "98765"}`, 404, ferry.ENOTFOUND, nil},
		{"create run with tags of wrong type", "POST", "/api/v1/runs", `{"tags": {"a": "b"}}`, 400, ferry.EINVALID, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := v1Call(t, s, st.method, st.target, st.body)
			v1Want(t, r, st.status, st.code)
			if st.check != nil {
				st.check(t, r)
			}
		})
	}

	t.Run("create run in default experiment", func(t *testing.T) {
		r := v1NewRun(t, s, "")
		if r.Info.ExperimentID != tracking.DefaultExperimentID || r.Info.RunName == "" {
			t.Fatalf("info = %+v", r.Info)
		}
	})

	t.Run("history paging", func(t *testing.T) {
		var got []string
		token := ""
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatal("paging does not end")
			}
			r := v1Call(t, s, "GET", runPath+"/metrics/loss?max_results=2&page_token="+v1Escape(token), "")
			v1Want(t, r, 200, "")
			// Decode loosely: NaN arrives as the string "NaN".
			var h struct {
				Metrics []struct {
					Value json.RawMessage `json:"value"`
					Step  int64           `json:"step"`
				} `json:"metrics"`
				NextPageToken string `json:"next_page_token"`
			}
			if err := json.Unmarshal(r.body, &h); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
			if len(h.Metrics) > 2 {
				t.Fatalf("page %d has %d points, want at most 2", page, len(h.Metrics))
			}
			for _, m := range h.Metrics {
				got = append(got, fmt.Sprintf("%d:%s", m.Step, m.Value))
			}
			if token = h.NextPageToken; token == "" {
				break
			}
		}
		if fmt.Sprint(got) != `[0:0.9 1:0.5 2:0.25 3:"NaN" 4:0.125]` {
			t.Fatalf("history = %v", got)
		}
	})

	t.Run("body over the server's limit", func(t *testing.T) {
		small := newV1TestServer(t, 512)
		id := v1NewRun(t, small, "").Info.RunID
		r := v1Call(t, small, "POST", "/api/v1/runs/"+id+"/log", tooMany)
		v1Want(t, r, http.StatusRequestEntityTooLarge, ferry.ETOOLARGE)
	})
}

func v1RunTag(r wireRun, key string) string {
	for _, t := range r.Data.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func v1Atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("ID %q is not a number: %v", s, err)
	}
	return n
}

func TestV1Artifacts(t *testing.T) {
	s := newV1TestServer(t, 0)
	run := v1NewRun(t, s, "")
	arts := "/api/v1/runs/" + run.Info.RunID + "/artifacts"
	model := "flavors:\n  python_function: {}\n"
	metrics := `{"rmse": 0.3}`

	t.Run("upload", func(t *testing.T) {
		for _, up := range []struct{ path, body, want string }{
			{"model/MLmodel", model, "model/MLmodel"},
			{"metrics.json", metrics, "metrics.json"},
			{"model/data/weights.bin", "\x00\x01\x02", "model/data/weights.bin"},
		} {
			r := v1Call(t, s, "PUT", arts+"/"+up.path, up.body)
			v1Want(t, r, 200, "")
			if got := v1Decode[v1ArtifactUpload](t, r); got.Path != up.want || got.Size != int64(len(up.body)) {
				t.Fatalf("PUT %s = %+v, want path %s, size %d", up.path, got, up.want, len(up.body))
			}
		}
	})

	lists := []struct {
		name, query string
		want        []wireFileInfo
	}{
		{"root", "", []wireFileInfo{{Path: "metrics.json", FileSize: int64(len(metrics))}, {Path: "model", IsDir: true}}},
		{"directory", "?path=model", []wireFileInfo{{Path: "model/MLmodel", FileSize: int64(len(model))}, {Path: "model/data", IsDir: true}}},
		{"nested directory", "?path=model/data/", []wireFileInfo{{Path: "model/data/weights.bin", FileSize: 3}}},
		{"absent directory", "?path=nothing", []wireFileInfo{}},
	}
	for _, l := range lists {
		t.Run("list "+l.name, func(t *testing.T) {
			r := v1Call(t, s, "GET", arts+l.query, "")
			v1Want(t, r, 200, "")
			got := v1Decode[v1ArtifactList](t, r)
			if got.RootURI != run.Info.ArtifactURI || fmt.Sprint(got.Files) != fmt.Sprint(l.want) || got.Files == nil {
				t.Fatalf("list = %+v, want root %s, files %+v", got, run.Info.ArtifactURI, l.want)
			}
		})
	}

	downloads := []struct{ path, body, ctype string }{
		{"model/MLmodel", model, "application/octet-stream"},
		{"metrics.json", metrics, "application/json"},
		{"model/data/weights.bin", "\x00\x01\x02", "application/octet-stream"},
	}
	for _, d := range downloads {
		t.Run("download "+d.path, func(t *testing.T) {
			r := v1Call(t, s, "GET", arts+"/"+d.path, "")
			if r.status != 200 || string(r.body) != d.body {
				t.Fatalf("GET %s = %d %q, want %q", d.path, r.status, r.body, d.body)
			}
			if got := r.header.Get("Content-Length"); got != fmt.Sprint(len(d.body)) {
				t.Errorf("Content-Length = %s, want %d", got, len(d.body))
			}
			if got := r.header.Get("Content-Type"); got != d.ctype {
				t.Errorf("Content-Type = %s, want %s", got, d.ctype)
			}
		})
	}

	t.Run("download of absent artifact", func(t *testing.T) {
		v1Want(t, v1Call(t, s, "GET", arts+"/nothing.txt", ""), 404, ferry.ENOTFOUND)
	})
	t.Run("download of a directory", func(t *testing.T) {
		v1Want(t, v1Call(t, s, "GET", arts+"/model", ""), 404, ferry.ENOTFOUND)
	})
	t.Run("unknown run", func(t *testing.T) {
		v1Want(t, v1Call(t, s, "PUT", "/api/v1/runs/nope/artifacts/a.txt", "x"), 404, ferry.ENOTFOUND)
		v1Want(t, v1Call(t, s, "GET", "/api/v1/runs/nope/artifacts/a.txt", ""), 404, ferry.ENOTFOUND)
		v1Want(t, v1Call(t, s, "GET", "/api/v1/runs/nope/artifacts", ""), 404, ferry.ENOTFOUND)
	})

	t.Run("artifacts stored elsewhere", func(t *testing.T) {
		expID := v1NewExperiment(t, s, `{"name": "remote", "artifact_location": "s3://bucket/remote"}`)
		id := v1NewRun(t, s, fmt.Sprintf(`{"experiment_id": %q}`, expID)).Info.RunID
		v1Want(t, v1Call(t, s, "PUT", "/api/v1/runs/"+id+"/artifacts/a.txt", "x"), 400, ferry.EINVALID)
		v1Want(t, v1Call(t, s, "GET", "/api/v1/runs/"+id+"/artifacts/a.txt", ""), 400, ferry.EINVALID)
		v1Want(t, v1Call(t, s, "GET", "/api/v1/runs/"+id+"/artifacts", ""), 400, ferry.EINVALID)
	})

	bad := []struct{ name, target string }{
		{"dot-dot segments", arts + "/../../../etc/passwd"},
		{"escaped dot-dot segments", arts + "/%2e%2e/%2e%2e/etc/passwd"},
		{"escaped slashes around dot-dot", arts + "/model%2F..%2F..%2F..%2Fx"},
		{"trailing dot-dot", arts + "/model/.."},
		{"backslashes", arts + "/..%5C..%5Cetc%5Cpasswd"},
		{"NUL byte", arts + "/a%00b"},
		{"control character", arts + "/a%0Ab"},
		{"empty path", arts + "/"},
		{"double slash", arts + "//etc/passwd"},
	}
	for _, b := range bad {
		for _, method := range []string{"PUT", "GET"} {
			t.Run(method+" "+b.name, func(t *testing.T) {
				r := v1Call(t, s, method, b.target, "x")
				v1Want(t, r, 400, ferry.EINVALID)
			})
		}
	}
	badLists := []struct{ name, query string }{
		{"dot-dot", "?path=../../etc"},
		{"absolute", "?path=/etc"},
		{"backslash", "?path=..%5C..%5Cetc"},
		{"NUL", "?path=a%00"},
	}
	for _, b := range badLists {
		t.Run("list "+b.name, func(t *testing.T) {
			v1Want(t, v1Call(t, s, "GET", arts+b.query, ""), 400, ferry.EINVALID)
		})
	}
	t.Run("nothing escaped the store", func(t *testing.T) {
		r := v1Call(t, s, "GET", arts, "")
		v1Want(t, r, 200, "")
		if got := v1Decode[v1ArtifactList](t, r).Files; len(got) != 2 {
			t.Fatalf("root now holds %+v", got)
		}
	})
}
