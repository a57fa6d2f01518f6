package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/loadgen"
	"github.com/ferry-ml/ferry/internal/resource"
)

// The deploy stage's endpoint, the concurrency of its load, and how long it
// waits for a deployment to load or a rollout to end.
const (
	demoEndpoint    = "flights"
	demoClients     = 4
	demoRate        = 1000 // requests a second, at most
	demoDeployLimit = 2 * time.Minute
)

// demoV2Request is a request of two flights over the Open Inference
// Protocol V2; the deploy stage asks it and its load sends it.
const demoV2Request = `{"id": "demo-1", "inputs": [
  {"name": "date", "datatype": "BYTES", "shape": [2], "data": ["2001-06-01 08:15:00", "2001-06-29 18:40:00"]},
  {"name": "distance", "datatype": "FP64", "shape": [2], "data": [1846, 337]},
  {"name": "origin", "datatype": "BYTES", "shape": [2], "data": ["ORD", "SEA"]},
  {"name": "destination", "datatype": "BYTES", "shape": [2], "data": ["LAX", "SFO"]}]}`

// demoResources is the deploy stage's resource file: endpoint flights with
// the traffic given, deployment blue serving version blue, and, when green
// is not 0, deployment green serving version green, rolled out as a canary
// whenever traffic moves to it.
func demoResources(traffic string, blue, green int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# The demo's endpoint (ferry plan -f FILE shows what ferry apply -f FILE changes).
kind: Endpoint
name: %[1]s
description: will a flight be more than 15 minutes late?
traffic: %[2]s
---
kind: Deployment
name: blue
endpoint_name: %[1]s
model: models:/flights-delay/%[3]d   # @champion before the challengers
`, demoEndpoint, traffic, blue)
	if green != 0 {
		fmt.Fprintf(&b, `---
kind: Deployment
name: green
endpoint_name: %s
model: models:/flights-delay/%d   # @champion after them
rollout:
  strategy: canary
  steps: [10, 50, 100]
  step_duration: 2s
  analysis: {min_requests: 100, max_error_rate_increase: 0.01, max_p99_latency_increase: 50ms}
`, demoEndpoint, green)
	}
	return b.String()
}

// deploy is the deployment stage. Version from (the champion before the
// challengers) goes behind endpoint flights as deployment blue and is asked
// over V2 and MLflow's protocol; then version to (the champion after them)
// is rolled out as green, a canary with automatic analysis, while a few
// clients send requests, and the traffic is shown moving step by step. Both
// changes are a resource file applied as ferry apply -f applies it.
func (d *demo) deploy(ctx context.Context, from, to int) error {
	fmt.Fprintf(d.out, "\n7. Deploy: version %d (@champion before the challengers) behind endpoint %s, then @champion rolled out as a canary\n", from, demoEndpoint)
	engineer := d.c.As("ml-engineer")
	file := filepath.Join(d.dir, "deploy", demoEndpoint+".yaml")
	if err := d.apply(ctx, engineer, file, demoResources("{blue: 100}", from, 0)); err != nil {
		return err
	}
	if err := d.waitDeployed(ctx, "blue", from); err != nil {
		return err
	}
	if err := d.ask(ctx); err != nil {
		return err
	}
	if to == from {
		fmt.Fprintf(d.out, "   no challenger passed validation, so nothing is rolled out: %s stays on blue (validation decides what may ship; a canary then checks it on live traffic)\n", demoEndpoint)
		return nil
	}
	if err := d.apply(ctx, engineer, file, demoResources("{green: 100}", from, to)); err != nil {
		return err
	}
	return d.canary(ctx, to)
}

// ask asks the endpoint a V2 and an MLflow request, and an MLflow request
// with a mistake, printing the answers and who gave them.
func (d *demo) ask(ctx context.Context) error {
	requests := []struct{ label, protocol, body string }{
		{"V2", "v2", demoV2Request},
		{"MLflow", "mlflow", `{"dataframe_split": {"columns": ["date", "distance", "origin", "destination"],
  "data": [["2001-06-15 17:05:00", 733, "ATL", "BOS"]]}}`},
		{"MLflow (a mistake)", "mlflow", `{"dataframe_records": [{"date": "2001-06-15 17:05:00", "distance": "far", "origin": "ATL"}]}`},
	}
	for _, r := range requests {
		path := "/endpoints/" + demoEndpoint + "/invocations"
		if r.protocol == "v2" {
			path = "/endpoints/" + demoEndpoint + "/v2/models/" + demoEndpoint + "/infer"
		}
		inv, err := d.c.Invoke(ctx, demoEndpoint, "", r.protocol, []byte(r.body))
		var ce *client.Error
		switch {
		case errors.As(err, &ce):
			fmt.Fprintf(d.out, "   %s POST %s -> %d %s\n", r.label, path, ce.Status, ce.Message)
		case err != nil:
			return err
		default:
			fmt.Fprintf(d.out, "   %s POST %s -> %s answered %s\n", r.label, path, inv.Deployment, strings.TrimSpace(string(inv.Body)))
		}
	}
	return nil
}

// canary sends requests to the endpoint from a few clients while the
// rollout of version to that applying green started goes on, follows it to
// its end, and prints how it ended and what the clients saw.
func (d *demo) canary(ctx context.Context, to int) error {
	fmt.Fprintf(d.out, "   %d clients send about %d V2 requests a second to the endpoint while version %d rolls out as green:\n", demoClients, demoRate, to)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pace := time.NewTicker(time.Second / demoRate)
	defer pace.Stop()
	post := loadgen.Post(d.c.URL()+"/endpoints/"+demoEndpoint+"/v2/models/"+demoEndpoint+"/infer", "application/json", []byte(demoV2Request))
	load := loadgen.Start(ctx, loadgen.Config{
		Concurrency: demoClients,
		NewRequest: func(i int) (*http.Request, error) {
			select {
			case <-pace.C:
				return post(i)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		CountHeader: client.DeploymentHeader,
	})
	r, err := d.follow(ctx, load)
	res := load.Stop()
	if err != nil {
		return err
	}
	e, err := d.c.GetEndpoint(ctx, demoEndpoint)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   rollout %s", r.State)
	if r.Message != "" {
		fmt.Fprintf(d.out, ": %s", r.Message)
	}
	fmt.Fprintf(d.out, "; endpoint %s traffic: %s (ferry endpoints rollout status %[1]s)\n", demoEndpoint, trafficLine(e.Traffic))
	fmt.Fprintf(d.out, "   load: %d requests in %s, %d failed; answered by %s; p50 %s, p99 %s\n",
		res.Requests, res.Elapsed.Round(100*time.Millisecond), res.Failures+res.ClientErrors, answeredLine(nil, res.ByHeader),
		res.Latency.P50.Round(10*time.Microsecond), res.Latency.P99.Round(10*time.Microsecond))
	return nil
}

// apply writes resources to file and applies it as ferry apply -f does,
// printing the plan.
func (d *demo) apply(ctx context.Context, c *client.Client, file, resources string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, []byte(resources), 0o644); err != nil {
		return err
	}
	set, err := resource.Load(file)
	if err != nil {
		return err
	}
	p, err := c.ApplyDeploy(ctx, set.Deploy, set.Monitors, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   ferry apply -f %s\n", file)
	for _, line := range strings.Split(strings.TrimRight(p.String(), "\n"), "\n") {
		fmt.Fprintf(d.out, "     %s\n", line)
	}
	return nil
}

// waitDeployed waits until deployment name of the endpoint serves version
// of flights-delay and is ready, as ferry deployments list reports it.
func (d *demo) waitDeployed(ctx context.Context, name string, version int) error {
	ctx, cancel := context.WithTimeout(ctx, demoDeployLimit)
	defer cancel()
	want := fmt.Sprintf("models:/flights-delay/%d", version)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		sts, err := d.c.DeploymentStatuses(ctx, demoEndpoint)
		if err != nil {
			return err
		}
		for _, st := range sts {
			if st.Deployment == name && st.ModelVersion == want && st.Ready && st.Pending == "" {
				fmt.Fprintf(d.out, "   %s serves %s, ready; asking the endpoint:\n", name, want)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not ready with %s after %s: %+v", demoEndpoint, name, want, demoDeployLimit, sts)
		case <-tick.C:
		}
	}
}

// follow follows the endpoint's rollout, which must have just started,
// through its persisted status until it ends: one line per step with its
// traffic, the analysis's verdict and the requests of load each deployment
// answered in the step.
func (d *demo) follow(ctx context.Context, load *loadgen.Load) (client.Rollout, error) {
	started, err := d.c.GetRollout(ctx, demoEndpoint)
	if err != nil {
		return started, err
	}
	if !started.Active() || started.Deployment != "green" {
		return started, fmt.Errorf("applying green started no rollout (the latest is %s)", started)
	}
	ctx, cancel := context.WithTimeout(ctx, demoDeployLimit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	shown := 0 // steps printed
	seen := load.Snapshot().ByHeader
	first := false // whether the first step's traffic was seen set
	for {
		r, err := d.c.GetRollout(ctx, demoEndpoint)
		if err != nil {
			return r, err
		}
		if r.ID != started.ID {
			return r, fmt.Errorf("another rollout (%s) replaced the demo's", r)
		}
		if !first && r.Step == 0 && r.StepStartedAt != 0 { // count from here
			first, seen = true, load.Snapshot().ByHeader
		}
		if v := r.Verdict; v != nil && !v.Pending {
			for ; shown <= v.Step; shown++ {
				now := load.Snapshot().ByHeader
				d.printStep(r, shown, v, answeredLine(seen, now))
				seen = now
			}
		}
		if !r.Active() {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("the rollout of green is still %s after %s: %s", r.State, demoDeployLimit, r.Message)
		case <-tick.C:
		}
	}
}

// printStep prints step i of r; v is the latest verdict, which is step i's
// when v.Step is i (a step that passed unseen between two polls has none).
func (d *demo) printStep(r client.Rollout, i int, v *client.RolloutVerdict, answered string) {
	analysis := "not seen"
	if v.Step == i {
		result := "pass"
		if !v.Passed {
			result = "FAIL, " + v.Check
		}
		analysis = fmt.Sprintf("%s %.1f%% errors, p99 %.2fms vs %s %.1f%%, %.2fms: %s",
			r.Deployment, 100*v.CanaryErrorRate, v.CanaryP99MS, r.Baseline, 100*v.BaseErrorRate, v.BaseP99MS, result)
	}
	fmt.Fprintf(d.out, "   step %d/%d: %-20s (analysis: %s); answered %s\n", i+1, len(r.Steps), trafficLine(r.TrafficAt(i)), analysis, answered)
}

// trafficLine is "blue 90% green 10%".
func trafficLine(t map[string]int) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(t)) {
		parts = append(parts, fmt.Sprintf("%s %d%%", n, t[n]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// answeredLine is "blue 1804, green 197": the requests each deployment
// answered in now beyond those in before.
func answeredLine(before, now map[string]loadgen.Count) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(now)) {
		if k := now[n].Requests - before[n].Requests; k > 0 && n != "" {
			parts = append(parts, fmt.Sprintf("%s %d", n, k))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
