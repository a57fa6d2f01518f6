//go:build failpoint

package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/failpoint/fault"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// TestFaultyCanariesRolledBack is the other "under load" point:
// with 32 clients sending requests for the whole test, a canary whose model
// errors on 5% of requests, and then one that adds 100 ms, are each rolled
// back automatically within their first step: the traffic returns to blue,
// the canary is kept at 0% for inspection, the audit trail names the failed
// check, and only the canary's answers failed.
func TestFaultyCanariesRolledBack(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of about 15 s")
	}
	ctx := context.Background()
	b := testbackend.Open(t, "normal")
	stable, err := b.Registry.RegisterDir(ctx, "credit", lightgbmPackage, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := startRolloutWorld(t, b)
	uri := func(v int) string { return "models:/credit/" + strconv.Itoa(v) }
	blue := deploy.Deployment{Name: "blue", EndpointName: "credit", Model: uri(stable.Version)}
	w.apply(t, deploy.State{Endpoints: []deploy.Endpoint{{Name: "credit", Traffic: map[string]int{"blue": 100}}}, Deployments: []deploy.Deployment{blue}})
	if err := b.Router.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Router.WaitReady(ctx, "credit", "blue"); err != nil {
		t.Fatal(err)
	}
	w.startLoad(t, "credit", creditRow, func(resp *http.Response, body []byte) error {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})

	for _, tc := range []struct {
		name  string
		fault fault.Config
		check string // the analysis check that must fail
	}{
		{"5% errors", fault.Config{ErrorRate: 0.05, Seed: 7}, "error_rate"},
		{"+100ms", fault.Config{DelayMS: 100}, "p99_latency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := fault.Register(ctx, b.Registry, "credit", lightgbmPackage, tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			green := deploy.Deployment{Name: "green", EndpointName: "credit", Model: uri(v.Version),
				Rollout: &deploy.Rollout{Strategy: deploy.StrategyCanary, Steps: []int{10, 50, 100}, StepDuration: "2s"}}
			before := w.load.Snapshot()
			started := time.Now()
			w.apply(t, deploy.State{Endpoints: []deploy.Endpoint{{Name: "credit", Traffic: map[string]int{"green": 100}}}, Deployments: []deploy.Deployment{blue, green}})
			r := w.waitRollout(t, "credit", time.Minute)
			took := time.Since(started)
			t.Logf("rolled back after %v: %s", took, r.Message)
			if r.State != deploy.RolloutRolledBack || r.Step != 0 {
				t.Fatalf("rollout ended %s at step %d (%s); want rolled_back in its first step", r.State, r.Step+1, r.Message)
			}
			if r.Verdict == nil || r.Verdict.Passed || r.Verdict.Check != tc.check {
				t.Errorf("verdict %+v; want the %s check failed", r.Verdict, tc.check)
			}
			e, err := b.Deploy.GetEndpoint(ctx, "credit")
			if err != nil || e.Traffic["blue"] != 100 || e.Traffic["green"] != 0 {
				t.Errorf("traffic after the rollback %v (%v); want blue 100", e.Traffic, err)
			}
			if _, err := b.Deploy.GetDeployment(ctx, "credit", "green"); err != nil {
				t.Errorf("the canary should be kept for inspection: %v", err)
			}
			events, err := b.Deploy.Audit(ctx, "credit")
			if err != nil || events[len(events)-1].Action != "rollout_rollback" {
				t.Errorf("last audit event %+v (%v); want rollout_rollback", events[len(events)-1], err)
			}
			after := w.load.Snapshot()
			greenFailed := after.ByHeader["green"].Failures - before.ByHeader["green"].Failures
			if failed := after.Failures - before.Failures; failed != greenFailed {
				t.Errorf("%d requests failed, %d of them answered by green; want only the canary's", failed, greenFailed)
			}
			if tc.fault.ErrorRate > 0 && greenFailed == 0 {
				t.Error("the failing canary failed no request: was it ever routed to?")
			}
		})
	}
	res := w.load.Stop()
	t.Logf("load: %s", res)
	if res.ByHeader["blue"].Failures != 0 {
		t.Errorf("blue, the stable deployment, failed %d requests", res.ByHeader["blue"].Failures)
	}
}
