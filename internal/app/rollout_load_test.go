package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/loadgen"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// rolloutWorld is a server over a test backend with the router and a fast
// rollout controller running, and a load of 32 concurrent clients on one
// endpoint for the whole test.
type rolloutWorld struct {
	b    *testbackend.Backend
	url  string
	load *loadgen.Load
}

// startRolloutWorld serves b with its router following the store and a
// rollout controller ticking every 100ms, until the test ends.
func startRolloutWorld(t *testing.T, b *testbackend.Backend) *rolloutWorld {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h, closeModels := b.Handler()
	srv := httptest.NewServer(h)
	ctl := deploy.NewController(b.Deploy, b.Router, b.Router, nil, deploy.ControllerOptions{Tick: 100 * time.Millisecond})
	var loops sync.WaitGroup
	loops.Go(func() { b.Router.Run(ctx) })
	loops.Go(func() { ctl.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		loops.Wait()
		srv.Close()
		closeModels(context.Background())
	})
	return &rolloutWorld{b: b, url: srv.URL}
}

// startLoad sends request to the endpoint from 32 clients until stopped;
// check judges each answer.
func (w *rolloutWorld) startLoad(t *testing.T, endpoint, request string, check func(*http.Response, []byte) error) {
	t.Helper()
	w.load = loadgen.Start(context.Background(), loadgen.Config{
		Concurrency: 32,
		NewRequest:  loadgen.Post(w.url+"/endpoints/"+endpoint+"/v2/models/"+endpoint+"/infer", "application/json", []byte(request)),
		Check:       check,
		CountHeader: router.Header,
	})
	t.Cleanup(func() { w.load.Stop() })
}

// apply applies desired and fails the test on an error.
func (w *rolloutWorld) apply(t *testing.T, desired deploy.State) {
	t.Helper()
	if _, err := w.b.Deploy.Apply(context.Background(), desired, false); err != nil {
		t.Fatal(err)
	}
}

// waitRollout waits until endpoint's rollout is over and returns it,
// logging each change of step or state on the way.
func (w *rolloutWorld) waitRollout(t *testing.T, endpoint string, within time.Duration) deploy.RolloutStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		r, err := w.b.Deploy.GetRollout(context.Background(), endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if s := r.String(); s != last {
			p := w.load.Snapshot()
			t.Logf("%s (load: %d requests, %d failed, by deployment %v)", s, p.Requests, p.Failures, p.ByHeader)
			last = s
		}
		if !r.Active() {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout still %s after %v: %+v", r.State, within, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// linearAnswer accepts a V2 answer of one of the linear models at x = 2
// (fitted with a little regularisation: within 0.05).
func linearAnswer(want ...float64) func(*http.Response, []byte) error {
	return func(resp *http.Response, body []byte) error {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		var r struct {
			Outputs []struct{ Data []float64 }
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Outputs) == 0 || len(r.Outputs[0].Data) != 1 {
			return fmt.Errorf("answer %s: %v", body, err)
		}
		for _, w := range want {
			if diff := r.Outputs[0].Data[0] - w; diff < 0.05 && diff > -0.05 {
				return nil
			}
		}
		return fmt.Errorf("prediction %v, want one of %v", r.Outputs[0].Data[0], want)
	}
}

func linearDeployment(name, model string, rollout *deploy.Rollout) deploy.Deployment {
	return deploy.Deployment{Name: name, EndpointName: "churn", Model: model, Rollout: rollout}
}

// TestRolloutsUnderLoad is the "under load" point: with 32 clients
// sending requests for the whole test, a blue/green switch and then a full
// 10→50→100 canary complete with zero failed requests, and every answer is
// one of the deployed models'.
func TestRolloutsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of about 15 s")
	}
	b := testbackend.Open(t, "normal")
	v1 := b.RegisterLinear(t, "churn", 1) // answers 3 at x = 2
	v2 := b.RegisterLinear(t, "churn", 2) // 5
	v3 := b.RegisterLinear(t, "churn", 3) // 7
	w := startRolloutWorld(t, b)
	uri := func(v int) string { return "models:/churn/" + strconv.Itoa(v) }

	blue := linearDeployment("blue", uri(v1.Version), nil)
	w.apply(t, deploy.State{Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"blue": 100}}}, Deployments: []deploy.Deployment{blue}})
	if err := b.Router.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Router.WaitReady(context.Background(), "churn", "blue"); err != nil {
		t.Fatal(err)
	}
	w.startLoad(t, "churn", testbackend.LinearRow, linearAnswer(3, 5, 7))

	// Blue/green: green takes everything at once once it is ready, is
	// analysed for a step, and stays.
	green := linearDeployment("green", uri(v2.Version), &deploy.Rollout{Strategy: deploy.StrategyBlueGreen, StepDuration: "2s"})
	w.apply(t, deploy.State{Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"green": 100}}}, Deployments: []deploy.Deployment{blue, green}})
	if r := w.waitRollout(t, "churn", time.Minute); r.State != deploy.RolloutSucceeded {
		t.Fatalf("blue/green ended %s: %s", r.State, r.Message)
	}

	// Canary: blue, now with version 3, takes 10%, 50%, then 100%.
	blue = linearDeployment("blue", uri(v3.Version), &deploy.Rollout{Strategy: deploy.StrategyCanary, Steps: []int{10, 50, 100}, StepDuration: "2s"})
	w.apply(t, deploy.State{Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"blue": 100}}}, Deployments: []deploy.Deployment{blue, green}})
	r := w.waitRollout(t, "churn", time.Minute)
	if r.State != deploy.RolloutSucceeded {
		t.Fatalf("canary ended %s: %s", r.State, r.Message)
	}
	// Requests keep going to the new version before the load stops.
	before := w.load.Snapshot().ByHeader["blue"].Requests
	deadline := time.Now().Add(10 * time.Second)
	for w.load.Snapshot().ByHeader["blue"].Requests < before+100 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	res := w.load.Stop()
	t.Logf("load: %s", res)
	if res.Failures != 0 || res.ClientErrors != 0 {
		t.Errorf("want zero failed requests over both rollouts:\n%s", res)
	}
	if res.Requests < 1000 || res.ByHeader["blue"].Requests == 0 || res.ByHeader["green"].Requests == 0 {
		t.Errorf("want both deployments to have answered a real load:\n%s", res)
	}
	e, err := b.Deploy.GetEndpoint(context.Background(), "churn")
	if err != nil || len(e.Traffic) != 1 || e.Traffic["blue"] != 100 {
		t.Errorf("endpoint after the canary: %+v, %v; want blue 100", e, err)
	}
	if plan, err := b.Deploy.Plan(context.Background(), deploy.State{Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"blue": 100}}}, Deployments: []deploy.Deployment{blue, green}}, false); err != nil || !plan.Empty() {
		t.Errorf("plan after the rollouts: %v, %v; want no changes", plan, err)
	}
}
