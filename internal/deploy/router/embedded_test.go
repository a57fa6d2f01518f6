package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

const toyRow = testbackend.LinearRow

// deployToy opens Ferry over a temporary directory with two versions of
// toy (slopes 2 and 3) and endpoint churn whose deployment blue serves
// version 1 at 100%.
func deployToy(t *testing.T) *testbackend.Backend {
	t.Helper()
	be := testbackend.Open(t, "normal")
	be.RegisterLinear(t, "toy", 2)
	be.RegisterLinear(t, "toy", 3)
	ctx := context.Background()
	_, err := be.Deploy.PutEndpoint(ctx, deploy.Endpoint{Name: "churn"})
	check(t, err)
	_, err = be.Deploy.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/toy/1"})
	check(t, err)
	_, err = be.Deploy.SetTraffic(ctx, "churn", map[string]int{"blue": 100}, "test")
	check(t, err)
	return be
}

func TestEmbedded(t *testing.T) {
	be := deployToy(t)
	h, closeModels := be.Handler()
	t.Cleanup(func() { closeModels(context.Background()) })
	call := func(method, path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		return w
	}

	// The first request refreshes the router and waits for the model, as a
	// command in local mode does.
	tests := []struct {
		name, method, path, body string
		want                     string
	}{
		{"v2 infer", "POST", "/endpoints/churn/v2/models/churn/infer", toyRow, `"model_name":"churn","model_version":"1"`},
		{"v2 metadata", "GET", "/endpoints/churn/v2/models/churn", "", `"name":"churn"`},
		{"v2 model ready", "GET", "/endpoints/churn/v2/models/churn/ready", "", `"ready":true`},
		{"v2 server ready", "GET", "/endpoints/churn/v2/health/ready", "", `"ready":true`},
		{"mlflow", "POST", "/endpoints/churn/invocations", `{"dataframe_records":[{"x":2}]}`, `"predictions"`},
		{"v1", "POST", "/endpoints/churn/v1/models/churn:predict", `{"instances":[{"x":2}]}`, `"predictions"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(tt.method, tt.path, tt.body)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), tt.want) || w.Header().Get(router.Header) != "blue" {
				t.Errorf("status %d, %s %q: %s; want %s", w.Code, router.Header, w.Header().Get(router.Header), w.Body, tt.want)
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no request id")
			}
		})
	}
	t.Run("a version that cannot be loaded is reported and retried", func(t *testing.T) {
		ctx := context.Background()
		_, err := be.Deploy.PutDeployment(ctx, deploy.Deployment{Name: "green", EndpointName: "churn", Model: "models:/toy/2"})
		check(t, err)
		check(t, be.Registry.DeleteVersion(ctx, "toy", 2))
		check(t, be.Router.Refresh(ctx))
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := be.Router.WaitReady(wctx, "churn", "green"); err == nil {
			t.Fatal("green became ready without its version")
		}
		logs, err := be.Router.Logs("churn", "green", 5)
		check(t, err)
		if !strings.Contains(strings.Join(logs, "\n"), "failed: loading models:/toy/2") {
			t.Errorf("logs %q", logs)
		}
		for _, s := range be.Router.Status("churn") {
			if s.Deployment == "green" && (s.Ready || !strings.Contains(s.Error, "models:/toy/2")) {
				t.Errorf("status %+v", s)
			}
		}
		if w := call("POST", "/endpoints/churn/v2/models/churn/infer", toyRow); w.Code != http.StatusOK || w.Header().Get(router.Header) != "blue" {
			t.Errorf("status %d from %s", w.Code, w.Header().Get(router.Header))
		}
	})
}

// TestReplaceUnderLoad moves a deployment to another model version while
// 8 clients send requests without pause: none fails, and the new version
// answers once the router has swapped it in.
func TestReplaceUnderLoad(t *testing.T) {
	be := deployToy(t)
	ctx := context.Background()
	srv := httptest.NewServer(func() http.Handler { h, _ := be.Handler(); return h }())
	t.Cleanup(srv.Close)
	check(t, be.Router.Refresh(ctx))
	check(t, be.Router.WaitReady(ctx, "churn", "blue"))

	var stop atomic.Bool
	var failures, fromNew atomic.Int64
	var firstFailure sync.Once
	var wg sync.WaitGroup
	sawNew := make(chan struct{})
	var sawOnce sync.Once
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := srv.Client().Post(srv.URL+"/endpoints/churn/v2/models/churn/infer", "application/json", strings.NewReader(toyRow))
				if err != nil {
					failures.Add(1)
					firstFailure.Do(func() { t.Log(err) })
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var out struct {
					Version string `json:"model_version"`
				}
				if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
					failures.Add(1)
					firstFailure.Do(func() { t.Logf("status %d: %s", resp.StatusCode, body) })
					continue
				}
				if out.Version == "2" {
					fromNew.Add(1)
					sawOnce.Do(func() { close(sawNew) })
				}
			}
		}()
	}
	_, err := be.Deploy.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/toy/2"})
	check(t, err)
	check(t, be.Router.Refresh(ctx))
	check(t, be.Router.WaitReady(ctx, "churn", "blue"))
	select {
	case <-sawNew:
	case <-time.After(30 * time.Second):
		t.Error("version 2 never answered")
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d requests failed during the replacement", n)
	}
	if s := be.Router.Status("churn")[0]; s.ModelVersion != "models:/toy/2" || !s.Ready || s.Pending != "" {
		t.Errorf("status %+v", s)
	}
	t.Logf("%d answers from version 2", fromNew.Load())
	logs, err := be.Router.Logs("churn", "blue", 10)
	check(t, err)
	if !strings.Contains(strings.Join(logs, "\n"), "serving models:/toy/2 as churn") {
		t.Errorf("logs %q", logs)
	}
}

// TestEmbeddedMirror mirrors half the requests of a real model to a shadow
// whose model predicts otherwise: the live answers stay byte for byte what
// they were without the mirror, and the disagreements are counted.
func TestEmbeddedMirror(t *testing.T) {
	be := deployToy(t)
	ctx := context.Background()
	h, _ := be.Handler()
	_, err := be.Deploy.PutDeployment(ctx, deploy.Deployment{Name: "shadow", EndpointName: "churn", Model: "models:/toy/2"})
	check(t, err)
	answers := func() []string {
		var out []string
		for i := range 200 {
			body := strings.Replace(toyRow, `"data":[2]`, fmt.Sprintf(`"data":[%d]`, i+1), 1)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/endpoints/churn/v2/models/churn/infer", strings.NewReader(body)))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			out = append(out, w.Body.String())
		}
		return out
	}
	check(t, be.Router.Refresh(ctx))
	check(t, be.Router.WaitReady(ctx, "churn", "blue"))
	check(t, be.Router.WaitReady(ctx, "churn", "shadow"))
	plain := answers()
	e, err := be.Deploy.GetEndpoint(ctx, "churn")
	check(t, err)
	e.MirrorTraffic = map[string]int{"shadow": 50}
	_, err = be.Deploy.PutEndpoint(ctx, e)
	check(t, err)
	check(t, be.Router.Refresh(ctx))
	if mirrored := answers(); strings.Join(mirrored, "\n") != strings.Join(plain, "\n") {
		t.Error("mirroring changed live answers")
	}
	check(t, be.Router.Close(ctx)) // sends what is queued
	reg := be.API.Registerer().(*prometheus.Registry)
	ok := metricValue(t, reg, "ferry_endpoint_mirror_requests_total", "endpoint=churn", "deployment=shadow", "outcome=ok")
	d := metricValue(t, reg, "ferry_endpoint_mirror_disagreements_total", "endpoint=churn", "deployment=shadow")
	// 200 draws at p=0.5: 4 standard deviations is ±28. The models agree
	// only at x=0, which is not sent.
	if ok < 72 || ok > 128 || d != ok {
		t.Errorf("%v mirrored, %v disagreements", ok, d)
	}
}
