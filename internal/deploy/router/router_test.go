package router_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

// pinModels resolves models:/NAME/N to version N of NAME and an alias to
// version 1.
type pinModels struct{}

func (pinModels) Resolve(_ context.Context, uri string) (registry.Version, error) {
	rest := strings.TrimPrefix(uri, "models:/")
	if name, v, ok := strings.Cut(rest, "/"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return registry.Version{}, ferry.Errorf(ferry.ENOTFOUND, "no %s", uri)
		}
		return registry.Version{Name: name, Version: n}, nil
	}
	name, _, _ := strings.Cut(rest, "@")
	return registry.Version{Name: name, Version: 1}, nil
}

// fake is a Backend that answers a fixed prediction naming its deployment
// and version, echoing the request's id.
type fake struct {
	name, version string
	ready         atomic.Bool
	calls         atomic.Int64
	status        int           // 0: 200
	prediction    string        // the "outputs" it answers
	block         chan struct{} // when set, requests wait until it is closed
	closed        chan struct{} // closed by Close
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	if f.block != nil {
		select {
		case <-f.block:
		case <-r.Context().Done():
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":%q,"model_name":"ep","model_version":%q,"path":%q,"outputs":%s}`, body, f.version, r.URL.Path, f.prediction)
}

func (f *fake) Ready() bool                   { return f.ready.Load() }
func (f *fake) Close(_ context.Context) error { close(f.closed); return nil }

// waitClosed reports whether f is closed within a generous bound (the
// Router closes released backends in the background).
func (f *fake) waitClosed() bool {
	select {
	case <-f.closed:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// fakes builds fake backends and keeps them by deployment and version.
type fakes struct {
	mu    sync.Mutex
	built map[string]*fake // deployment@version
	setup func(f *fake)    // adjusts each new fake; nil: ready, prediction [1]
}

func (fs *fakes) target(_ context.Context, _ string, d deploy.Deployment) (router.Backend, error) {
	f := &fake{name: d.Name, version: d.ModelVersion, prediction: "[1]", closed: make(chan struct{})}
	f.ready.Store(true)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.setup != nil {
		fs.setup(f)
	}
	fs.built[d.Name+"@"+d.ModelVersion] = f
	return f, nil
}

func (fs *fakes) get(t *testing.T, key string) *fake {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.built[key]
	if f == nil {
		t.Fatalf("no backend %s was built", key)
	}
	return f
}

type env struct {
	t     *testing.T
	ctx   context.Context
	svc   *deploy.Service
	r     *router.Router
	reg   *prometheus.Registry
	fakes *fakes
}

// newEnv opens a deploy.Service over a real SQLite store and a Router over
// it whose "embedded" target builds fakes.
func newEnv(t *testing.T, opts router.Options, setup func(f *fake)) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, ctx: context.Background(), svc: deploy.NewService(db, pinModels{}, nil), reg: prometheus.NewRegistry(),
		fakes: &fakes{built: map[string]*fake{}, setup: setup}}
	opts.Registerer = e.reg
	e.r = router.New(e.svc, map[string]router.Target{deploy.TargetEmbedded: e.fakes.target}, opts)
	t.Cleanup(func() { e.r.Close(context.Background()) })
	return e
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// endpoint creates endpoint name with deployments (name → model URI), then
// sets traffic and mirror, and refreshes the router.
func (e *env) endpoint(name string, deps map[string]string, traffic, mirror map[string]int) {
	e.t.Helper()
	_, err := e.svc.PutEndpoint(e.ctx, deploy.Endpoint{Name: name})
	e.must(err)
	for d, m := range deps {
		_, err := e.svc.PutDeployment(e.ctx, deploy.Deployment{Name: d, EndpointName: name, Model: m})
		e.must(err)
	}
	_, err = e.svc.PutEndpoint(e.ctx, deploy.Endpoint{Name: name, Traffic: traffic, MirrorTraffic: mirror})
	e.must(err)
	e.must(e.r.Refresh(e.ctx))
}

// call sends a request through the router.
func (e *env) call(method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.r.ServeHTTP(w, req)
	return w
}

func (e *env) infer(body string) *httptest.ResponseRecorder {
	return e.call(http.MethodPost, "/endpoints/churn/v2/models/churn/infer", body, nil)
}

// chiSquareP1 is the p-value of a chi-square statistic with one degree of
// freedom: P(X > x) = erfc(sqrt(x/2)).
func chiSquareP1(x float64) float64 { return math.Erfc(math.Sqrt(x / 2)) }

// TestSplit routes 10,000 requests over a 90/10 split and checks the
// counts with a chi-square goodness-of-fit test.
func TestSplit(t *testing.T) {
	counts := func(seed int64) map[string]int {
		e := newEnv(t, router.Options{Seed: seed}, nil)
		e.endpoint("churn", map[string]string{"blue": "models:/m/1", "green": "models:/m/2"}, map[string]int{"blue": 90, "green": 10}, nil)
		got := map[string]int{}
		for range 10000 {
			w := e.infer("{}")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			got[w.Header().Get(router.Header)]++
		}
		return got
	}
	got := counts(42)
	if got["blue"]+got["green"] != 10000 {
		t.Fatalf("counts %v", got)
	}
	chi := 0.0
	for name, want := range map[string]float64{"blue": 9000, "green": 1000} {
		d := float64(got[name]) - want
		chi += d * d / want
	}
	p := chiSquareP1(chi)
	t.Logf("blue %d, green %d: chi-square %.3f, p = %.3f", got["blue"], got["green"], chi, p)
	if p <= 0.01 {
		t.Errorf("p = %.4f: the split is not 90/10", p)
	}
	t.Run("deterministic under a seed", func(t *testing.T) {
		if again := counts(42); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Errorf("seed 42 gave %v, then %v", got, again)
		}
	})
}

func TestRouting(t *testing.T) {
	e := newEnv(t, router.Options{Seed: 1, FirstWait: -1}, func(f *fake) {
		f.ready.Store(f.name != "grey")
	})
	e.endpoint("churn", map[string]string{"blue": "models:/m/1", "green": "models:/m/2"}, map[string]int{"blue": 100}, nil)
	e.endpoint("quiet", map[string]string{"blue": "models:/m/1"}, nil, nil)
	e.endpoint("half", map[string]string{"blue": "models:/m/1", "grey": "models:/m/2"}, map[string]int{"blue": 50, "grey": 50}, nil)
	e.endpoint("dark", map[string]string{"grey": "models:/m/2"}, map[string]int{"grey": 100}, nil)

	tests := []struct {
		name       string
		path       string
		header     map[string]string
		status     int
		deployment string // the answering deployment
		message    string // in the body
	}{
		{"by traffic", "/endpoints/churn/v2/models/churn/infer", nil, 200, "blue", `"path":"/v2/models/churn/infer"`},
		{"mlflow route", "/endpoints/churn/invocations", nil, 200, "blue", `"path":"/invocations"`},
		{"v1 route", "/endpoints/churn/v1/models/churn:predict", nil, 200, "blue", `"path":"/v1/models/churn:predict"`},
		{"pinned to a deployment without traffic", "/endpoints/churn/v2/models/churn/infer", map[string]string{router.Header: "green"}, 200, "green", ""},
		{"pinned to an unknown deployment", "/endpoints/churn/v2/models/churn/infer", map[string]string{router.Header: "red"}, 404, "", "has no deployment 'red'; its deployments: blue, green."},
		{"unknown endpoint", "/endpoints/nope/v2/models/nope/infer", nil, 404, "", "see ferry endpoints list"},
		{"unknown endpoint, mlflow shape", "/endpoints/nope/invocations", nil, 404, "", `"error_code":"RESOURCE_DOES_NOT_EXIST"`},
		{"no traffic", "/endpoints/quiet/v2/models/quiet/infer", nil, 503, "", "has no traffic; set it with ferry endpoints traffic"},
		{"no traffic but pinned", "/endpoints/quiet/v2/models/quiet/infer", map[string]string{router.Header: "blue"}, 200, "blue", ""},
		{"nothing ready", "/endpoints/dark/v2/models/dark/infer", nil, 503, "", "No deployment of endpoint 'dark' that takes traffic is ready"},
		{"pinned to one not ready", "/endpoints/dark/v2/models/dark/infer", map[string]string{router.Header: "grey"}, 503, "", "Deployment 'grey' of endpoint 'dark' is not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.call(http.MethodPost, tt.path, `{"inputs":[]}`, tt.header)
			if w.Code != tt.status || w.Header().Get(router.Header) != tt.deployment || !strings.Contains(w.Body.String(), tt.message) {
				t.Errorf("status %d, %s %q, body %s; want %d from %q saying %q", w.Code, router.Header, w.Header().Get(router.Header), w.Body, tt.status, tt.deployment, tt.message)
			}
		})
	}
	t.Run("a deployment that is not ready gets no requests", func(t *testing.T) {
		for range 200 {
			if w := e.call(http.MethodPost, "/endpoints/half/v2/models/half/infer", "{}", nil); w.Code != 200 || w.Header().Get(router.Header) != "blue" {
				t.Fatalf("status %d from %q", w.Code, w.Header().Get(router.Header))
			}
		}
		if n := e.fakes.get(t, "grey@models:/m/2").calls.Load(); n != 0 {
			t.Errorf("grey, not ready, got %d requests", n)
		}
	})
	t.Run("status", func(t *testing.T) {
		got := fmt.Sprintf("%+v", e.r.Status("half"))
		want := "[{Endpoint:half Deployment:blue Target:embedded ModelVersion:models:/m/1 Ready:true Traffic:50 Mirror:0 Pending: Error:} {Endpoint:half Deployment:grey Target:embedded ModelVersion:models:/m/2 Ready:false Traffic:50 Mirror:0 Pending: Error:}]"
		if got != want {
			t.Errorf("status\n%s\nwant\n%s", got, want)
		}
		if !e.r.Ready("half", "blue") || e.r.Ready("half", "grey") || e.r.Ready("half", "nope") {
			t.Error("Ready disagrees with Status")
		}
	})
	t.Run("metrics", func(t *testing.T) {
		if n := metricValue(t, e.reg, "ferry_endpoint_requests_total", "endpoint=", "deployment=", "code=404"); n < 2 {
			t.Errorf("unknown endpoints counted %v times under endpoint=\"\"", n)
		}
		if n := metricValue(t, e.reg, "ferry_endpoint_deployment_ready", "endpoint=half", "deployment=grey"); n != 0 {
			t.Errorf("grey ready = %v", n)
		}
		if n := metricValue(t, e.reg, "ferry_endpoint_deployment_ready", "endpoint=half", "deployment=blue"); n != 1 {
			t.Errorf("blue ready = %v", n)
		}
	})
}

// metricValue returns the value (a histogram's count) of the series of
// name whose labels include every label=value given; 0 when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func TestMirror(t *testing.T) {
	const n = 1000
	run := func(t *testing.T, mirror map[string]int, setup func(f *fake)) (*env, []string) {
		e := newEnv(t, router.Options{Seed: 7, MirrorQueue: n}, setup)
		e.endpoint("churn", map[string]string{"blue": "models:/m/1", "shadow": "models:/m/2"}, map[string]int{"blue": 100}, mirror)
		var answers []string
		for i := range n {
			w := e.infer(fmt.Sprintf("request %d", i))
			if w.Code != http.StatusOK || w.Header().Get(router.Header) != "blue" {
				t.Fatalf("status %d from %q: %s", w.Code, w.Header().Get(router.Header), w.Body)
			}
			answers = append(answers, w.Body.String())
		}
		return e, answers
	}
	_, plain := run(t, nil, nil)
	mirrored := func(e *env, outcome string) float64 {
		return metricValue(t, e.reg, "ferry_endpoint_mirror_requests_total", "endpoint=churn", "deployment=shadow", "outcome="+outcome)
	}
	disagreements := func(e *env) float64 {
		return metricValue(t, e.reg, "ferry_endpoint_mirror_disagreements_total", "endpoint=churn", "deployment=shadow")
	}

	t.Run("half the requests, live answers unchanged", func(t *testing.T) {
		e, answers := run(t, map[string]int{"shadow": 50}, nil)
		if strings.Join(answers, "\n") != strings.Join(plain, "\n") {
			t.Error("mirroring changed a live answer")
		}
		e.must(e.r.Close(e.ctx)) // sends what is queued
		got := e.fakes.get(t, "shadow@models:/m/2").calls.Load()
		// 1000 draws at p=0.5: 4 standard deviations is ±63.
		if got < 437 || got > 563 {
			t.Errorf("the shadow got %d of %d requests; want about half", got, n)
		}
		if ok := mirrored(e, "ok"); ok != float64(got) {
			t.Errorf("%v mirrored ok, shadow saw %d", ok, got)
		}
		// Same predictions, different model_version: no disagreement.
		if d := disagreements(e); d != 0 {
			t.Errorf("%v disagreements between equal predictions", d)
		}
	})
	t.Run("a slow shadow delays nothing", func(t *testing.T) {
		block := make(chan struct{})
		e, answers := run(t, map[string]int{"shadow": 50}, func(f *fake) {
			if f.name == "shadow" {
				f.block = block
			}
		})
		// Every live answer came while the shadow was still blocked.
		if strings.Join(answers, "\n") != strings.Join(plain, "\n") {
			t.Error("mirroring changed a live answer")
		}
		close(block)
		e.must(e.r.Close(e.ctx))
		if ok := mirrored(e, "ok"); ok < 437 {
			t.Errorf("%v mirrored ok", ok)
		}
	})
	t.Run("a failing shadow fails nothing and disagrees", func(t *testing.T) {
		e, answers := run(t, map[string]int{"shadow": 50}, func(f *fake) {
			if f.name == "shadow" {
				f.status = http.StatusInternalServerError
			}
		})
		if strings.Join(answers, "\n") != strings.Join(plain, "\n") {
			t.Error("mirroring changed a live answer")
		}
		e.must(e.r.Close(e.ctx))
		failed := mirrored(e, "error")
		if failed < 437 || disagreements(e) != failed {
			t.Errorf("%v mirrored with errors, %v disagreements", failed, disagreements(e))
		}
	})
	t.Run("different predictions disagree", func(t *testing.T) {
		e, _ := run(t, map[string]int{"shadow": 50}, func(f *fake) {
			if f.name == "shadow" {
				f.prediction = "[2]"
			}
		})
		e.must(e.r.Close(e.ctx))
		if ok, d := mirrored(e, "ok"), disagreements(e); ok < 437 || d != ok {
			t.Errorf("%v mirrored, %v disagreements; want every one", ok, d)
		}
	})
	t.Run("a full queue drops and counts", func(t *testing.T) {
		block := make(chan struct{})
		e := newEnv(t, router.Options{Seed: 7, MirrorQueue: 1, MirrorWorkers: 1}, func(f *fake) {
			if f.name == "shadow" {
				f.block = block
			}
		})
		e.endpoint("churn", map[string]string{"blue": "models:/m/1", "shadow": "models:/m/2"}, map[string]int{"blue": 100}, map[string]int{"shadow": 50})
		for range 100 {
			if w := e.infer("{}"); w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
		}
		close(block)
		e.must(e.r.Close(e.ctx))
		ok, dropped := mirrored(e, "ok"), mirrored(e, "dropped")
		if ok > 2 || ok+dropped < 30 {
			t.Errorf("%v sent, %v dropped; want at most 2 sent (one in the worker, one queued)", ok, dropped)
		}
	})
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, router.Options{Seed: 3}, nil)
	e.endpoint("churn", map[string]string{"blue": "models:/m/1"}, map[string]int{"blue": 100}, nil)
	v1 := e.fakes.get(t, "blue@models:/m/1")

	t.Run("nothing changed: nothing rebuilt", func(t *testing.T) {
		e.must(e.r.Refresh(e.ctx))
		if len(e.fakes.built) != 1 {
			t.Errorf("built %d backends", len(e.fakes.built))
		}
	})
	t.Run("a new model version replaces the backend once ready", func(t *testing.T) {
		var notReady *fake
		e.fakes.setup = func(f *fake) { f.ready.Store(false); notReady = f }
		d2, err := e.svc.PutDeployment(e.ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/m/2"})
		e.must(err)
		if !e.r.Ready("churn", "blue") || e.r.Serves(d2) {
			t.Error("before a refresh: want blue ready, but not serving version 2")
		}
		e.must(e.r.Refresh(e.ctx))
		if w := e.infer("{}"); !strings.Contains(w.Body.String(), `"model_version":"models:/m/1"`) {
			t.Fatalf("answered %s while the replacement loads; want the old version", w.Body)
		}
		if e.r.Serves(d2) {
			t.Error("Serves the new spec while its backend loads: a rollout would analyse the old model")
		}
		if s := e.r.Status("churn")[0]; s.ModelVersion != "models:/m/1" || s.Pending != "models:/m/2" || !s.Ready {
			t.Errorf("status %+v", s)
		}
		notReady.ready.Store(true)
		e.must(e.r.Refresh(e.ctx))
		if st := e.r.Stats("churn", "blue", time.Time{}); st.Requests != 0 {
			t.Errorf("stats after the new model took over: %d requests; want the old model's forgotten", st.Requests)
		}
		if w := e.infer("{}"); !strings.Contains(w.Body.String(), `"model_version":"models:/m/2"`) {
			t.Fatalf("answered %s; want the new version", w.Body)
		}
		if !e.r.Serves(d2) {
			t.Error("does not Serve the new spec once its backend took over")
		}
		if !v1.waitClosed() {
			t.Error("the old backend was not closed")
		}
		logs, err := e.r.Logs("churn", "blue", 10)
		e.must(err)
		if !strings.Contains(strings.Join(logs, "\n"), "replaced models:/m/1 with models:/m/2") {
			t.Errorf("logs %q", logs)
		}
	})
	t.Run("restart replaces a backend without Restart", func(t *testing.T) {
		e.fakes.setup = nil
		old := e.fakes.get(t, "blue@models:/m/2")
		e.must(e.r.Restart(e.ctx, "churn", "blue"))
		if !old.waitClosed() || e.fakes.get(t, "blue@models:/m/2") == old {
			t.Error("restart did not replace the backend")
		}
		if err := e.r.Restart(e.ctx, "churn", "red"); ferry.ErrorCode(err) != ferry.ENOTFOUND {
			t.Errorf("restart of an unknown deployment: %v", err)
		}
	})
	t.Run("deleted deployments and endpoints are closed", func(t *testing.T) {
		_, err := e.svc.SetTraffic(e.ctx, "churn", nil, "test")
		e.must(err)
		cur := e.fakes.get(t, "blue@models:/m/2")
		e.must(e.svc.DeleteDeployment(e.ctx, "churn", "blue"))
		e.must(e.r.Refresh(e.ctx))
		if !cur.waitClosed() || len(e.r.Status("churn")) != 0 {
			t.Errorf("status %+v", e.r.Status("churn"))
		}
		e.must(e.svc.DeleteEndpoint(e.ctx, "churn"))
		e.must(e.r.Refresh(e.ctx))
		if w := e.infer("{}"); w.Code != http.StatusNotFound {
			t.Errorf("deleted endpoint: status %d", w.Code)
		}
	})
	t.Run("an unknown target is reported", func(t *testing.T) {
		e.endpoint("kube", map[string]string{}, nil, nil)
		_, err := e.svc.PutDeployment(e.ctx, deploy.Deployment{Name: "blue", EndpointName: "kube", Model: "models:/m/1", Target: deploy.TargetKubernetes})
		e.must(err)
		e.must(e.r.Refresh(e.ctx))
		if s := e.r.Status("kube"); len(s) != 1 || s[0].Ready || !strings.Contains(s[0].Error, "no kubernetes target") {
			t.Errorf("status %+v", s)
		}
	})
}

func TestStats(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newEnv(t, router.Options{Seed: 5, Now: clock}, func(f *fake) {
		if f.name == "green" {
			f.status = http.StatusInternalServerError
		}
	})
	e.endpoint("churn", map[string]string{"blue": "models:/m/1", "green": "models:/m/2"}, map[string]int{"blue": 50, "green": 50}, nil)
	t0 := clock()
	for range 100 {
		e.infer("{}")
	}
	advance(10 * time.Second)
	for range 10 {
		e.call(http.MethodPost, "/endpoints/churn/v2/models/churn/infer", "{}", map[string]string{router.Header: "blue"})
	}
	blue, green := e.r.Stats("churn", "blue", t0), e.r.Stats("churn", "green", t0)
	if blue.Requests+green.Requests != 110 || blue.Errors != 0 || green.Errors != green.Requests || green.Requests < 30 {
		t.Errorf("blue %d/%d, green %d/%d", blue.Errors, blue.Requests, green.Errors, green.Requests)
	}
	if q := blue.Quantile(0.99); q <= 0 {
		t.Errorf("p99 %s", q)
	}
	if s := e.r.Stats("churn", "blue", t0.Add(5*time.Second)); s.Requests != 10 {
		t.Errorf("since 5s later: %d requests, want the last 10", s.Requests)
	}
	advance(2 * time.Hour)
	if s := e.r.Stats("churn", "blue", t0); s.Requests != 0 {
		t.Errorf("two hours later: %d requests", s.Requests)
	}
}

// countingSource counts the Router's reads of the endpoints.
type countingSource struct {
	router.Source
	reads atomic.Int64
}

func (c *countingSource) ListEndpoints(ctx context.Context) ([]deploy.Endpoint, error) {
	defer c.reads.Add(1)
	return c.Source.ListEndpoints(ctx)
}

// TestChangedWakesRun: with a refresh interval of an hour, a change the
// Service announces (deploy.WithChangeHook → Router.Changed) reaches the
// router at once: Run refreshes again and routes the new split.
func TestChangedWakesRun(t *testing.T) {
	e := newEnv(t, router.Options{}, nil)
	e.endpoint("churn", map[string]string{"blue": "models:/m/1", "green": "models:/m/2"}, map[string]int{"blue": 100}, nil)
	src := &countingSource{Source: e.svc}
	r := router.New(src, map[string]router.Target{deploy.TargetEmbedded: e.fakes.target}, router.Options{Seed: 1, RefreshInterval: time.Hour})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; r.Close(context.Background()) })
	waitReads := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for src.reads.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d refreshes, want %d", src.reads.Load(), n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitReads(1) // Run's first refresh
	_, err := e.svc.SetTraffic(e.ctx, "churn", map[string]int{"green": 100}, "test")
	e.must(err)
	r.Changed("churn")
	// Run refreshes now, not in an hour: requests reach green.
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/endpoints/churn/v2/models/churn/infer", strings.NewReader("{}")))
		if w.Header().Get(router.Header) == "green" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still answered by %q 10s after Changed, want green", w.Header().Get(router.Header))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
