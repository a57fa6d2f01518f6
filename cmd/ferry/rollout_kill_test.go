package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/loadgen"
)

const (
	killEndpoint = "toy"
	// killRequest asks the endpoint's model for x = 2.
	killRequest = `{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[2]}]}`
	// killDeploymentHeader names the deployment that answered (and pins
	// one in a request).
	killDeploymentHeader = "x-ferry-deployment"
)

// TestKillMidCanary is the "kill the server mid-canary" point, with
// real processes: a `ferry server` over SQLite serves an endpoint whose
// canary (blue v1 → green v2, steps 10/50/100 of 3s) runs under a load of
// 16 clients; at step 2 (50%) the server is killed with SIGKILL and started
// again on the same data directory and port. The rollout carries on at the
// same step with the same step start (it is not started over) and succeeds
// with all traffic on green. Over the whole test every request either got
// no answer — a connection refused or cut while the server was down — or a
// 200 with the answering deployment's prediction: no 5xx at all, and no 503
// once the new server accepts connections (the router waits for a
// deployment's first load instead of refusing). The rollout controller runs
// under the leader lease, which on SQLite is always held: it advances the
// rollout in the restarted server, and the server exits cleanly at the end.
func TestKillMidCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: it builds the ferry binary and runs it as a child process for about 20s")
	}
	bin := buildFerry(t)
	for _, target := range []string{"embedded", "process"} {
		t.Run("green="+target, func(t *testing.T) { killMidCanary(t, bin, target) })
	}
}

// killMidCanary runs TestKillMidCanary with green on target (blue is
// embedded): a process-target deployment takes longer to start again than
// an embedded one, so after the restart blue is ready before green.
func killMidCanary(t *testing.T, bin, greenTarget string) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	p := startFerry(t, bin, dataDir, nil)
	p.waitReady(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(p.root, "http://"))
	if err != nil {
		t.Fatal(err)
	}

	// Two versions of a real model, trained and registered through the
	// server: v1 fits y = 2x + 1, v2 y = 3x + 1.
	work := filepath.Join(dir, "work")
	for slope := 2; slope <= 3; slope++ {
		csv := filepath.Join(work, fmt.Sprintf("slope%d.csv", slope))
		writeLine(t, csv, slope)
		var trained struct {
			RunID string `json:"run_id"`
		}
		cliJSON(t, bin, work, p.root, &trained, "train", "--dataset", csv, "--target", "y", "--feature", "x", "--trainer", "linear", "--task", "regression")
		var v struct {
			Version int `json:"version"`
		}
		cliJSON(t, bin, work, p.root, &v, "models", "register", killEndpoint, "--from", "runs:/"+trained.RunID+"/model")
		if v.Version != slope-1 {
			t.Fatalf("registered version %d, want %d", v.Version, slope-1)
		}
	}

	// blue takes all traffic; then green arrives with a canary rollout.
	deployDir := filepath.Join(work, "deploy")
	writeResources(t, deployDir, `kind: Endpoint
name: toy
traffic: {blue: 100}
---
kind: Deployment
name: blue
endpoint_name: toy
model: models:/toy/1
`)
	ferryCLI(t, bin, work, p.root, "apply", "-f", deployDir)
	want := map[string]float64{"blue": prediction(t, p, "blue")}

	var (
		recMu sync.Mutex
		recs  []exchange
	)
	client := loadgen.NewClient(16)
	client.Transport = &recorder{next: client.Transport, add: func(e exchange) {
		recMu.Lock()
		recs = append(recs, e)
		recMu.Unlock()
	}}
	load := loadgen.Start(t.Context(), loadgen.Config{
		Concurrency: 16,
		Client:      client,
		NewRequest:  loadgen.Post(p.root+"/endpoints/"+killEndpoint+"/v2/models/"+killEndpoint+"/infer", "application/json", []byte(killRequest)),
		CountHeader: killDeploymentHeader,
		Check: func(resp *http.Response, body []byte) error {
			recMu.Lock()
			w, ok := want[resp.Header.Get(killDeploymentHeader)]
			recMu.Unlock()
			if resp.StatusCode != http.StatusOK || !ok {
				return fmt.Errorf("status %d from deployment %q", resp.StatusCode, resp.Header.Get(killDeploymentHeader))
			}
			if got, err := firstOutput(body); err != nil || got != w {
				return fmt.Errorf("prediction %v (%v), want %v", got, err, w)
			}
			return nil
		},
	})
	t.Cleanup(func() { load.Stop() })

	writeResources(t, deployDir, `kind: Endpoint
name: toy
traffic: {green: 100}
---
kind: Deployment
name: blue
endpoint_name: toy
model: models:/toy/1
---
kind: Deployment
name: green
endpoint_name: toy
model: models:/toy/2
target: `+greenTarget+`
rollout: {strategy: canary, steps: [10, 50, 100], step_duration: 3s}
`)
	ferryCLI(t, bin, work, p.root, "apply", "-f", deployDir)
	g := prediction(t, p, "green")
	recMu.Lock()
	want["green"] = g
	recMu.Unlock()
	if g == want["blue"] {
		t.Fatalf("blue and green both predict %v; the test cannot tell them apart", g)
	}

	// Kill the server as soon as the rollout is at step 2 (50%).
	before := waitRolloutFor(t, p, 30*time.Second, func(r rolloutState) bool { return r.Step == 1 && r.StepStartedAt != 0 })
	killAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-p.exited
	t.Logf("killed at step %d/%d, %s after the step started (rollout %d, version %d)",
		before.Step+1, len(before.Steps), killAt.Sub(time.UnixMilli(before.StepStartedAt)).Round(time.Millisecond), before.ID, before.Version)

	p = startFerryAt(t, bin, dataDir, "127.0.0.1:"+port, nil)
	listenAt := time.Now()
	p.waitReady(t)
	after := getRollout(t, p)
	t.Logf("restarted: listening %s after the kill; rollout at step %d/%d, state %s",
		listenAt.Sub(killAt).Round(time.Millisecond), after.Step+1, len(after.Steps), after.State)
	if after.ID != before.ID || after.Step != before.Step || after.StepStartedAt != before.StepStartedAt || !active(after.State) {
		t.Fatalf("after the restart the rollout is %+v; want rollout %d still at step %d started at %d", after, before.ID, before.Step, before.StepStartedAt)
	}
	if tr := getTraffic(t, p); tr["blue"] != 50 || tr["green"] != 50 {
		t.Errorf("traffic after the restart: %v; want blue 50, green 50", tr)
	}

	final := waitRolloutFor(t, p, 30*time.Second, func(r rolloutState) bool { return !active(r.State) })
	if final.State != "succeeded" {
		t.Fatalf("rollout ended %s: %s", final.State, final.Message)
	}
	if tr := getTraffic(t, p); len(tr) != 1 || tr["green"] != 100 {
		t.Errorf("traffic after the rollout: %v; want green 100", tr)
	}
	// Green answers for the endpoint before the load stops.
	deadline := time.Now().Add(10 * time.Second)
	for n := load.Snapshot().ByHeader["green"].Requests; load.Snapshot().ByHeader["green"].Requests < n+100; {
		if time.Now().After(deadline) {
			t.Fatal("green took no load after the rollout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	res := load.Stop()
	t.Logf("load: %s", res)

	recMu.Lock()
	defer recMu.Unlock()
	var firstAnswer time.Time // the first answer of the restarted server
	firstBy := map[string]time.Time{}
	refused, answered := 0, 0
	for _, e := range recs {
		switch {
		case e.err != nil:
			// No answer: only while the server was down.
			if e.end.Before(killAt) || !e.start.Before(listenAt) {
				t.Errorf("request %s–%s failed outside the restart window (%s–%s): %v",
					e.start.Format(time.StampMicro), e.end.Format(time.StampMicro), killAt.Format(time.StampMicro), listenAt.Format(time.StampMicro), e.err)
			}
			refused++
		case e.status >= 500:
			t.Errorf("answer %d from deployment %q at %s (restarted server listening since %s): %s",
				e.status, e.deployment, e.end.Format(time.StampMicro), listenAt.Format(time.StampMicro), e.body)
		case e.start.After(killAt):
			answered++
			if firstAnswer.IsZero() || e.end.Before(firstAnswer) {
				firstAnswer = e.end
			}
			if f := firstBy[e.deployment]; f.IsZero() || e.end.Before(f) {
				firstBy[e.deployment] = e.end
			}
		}
	}
	t.Logf("restart window: %d requests got no answer while the server was down; the restarted server answered %d requests, the first %s after the kill",
		refused, answered, firstAnswer.Sub(killAt).Round(time.Millisecond))
	// What the first answers of the restarted server waited for (the
	// deployments' first load), and how many answers blue gave before
	// green's first: with a 50/50 split, a run of n blues while green could
	// have answered has probability 2^-n.
	var waited time.Duration
	blueFirst := 0
	for _, e := range recs {
		if e.err != nil || !e.start.After(killAt) {
			continue
		}
		if !e.start.After(firstAnswer) {
			waited = max(waited, e.end.Sub(e.start))
		}
		if e.deployment == "blue" && e.end.Before(firstBy["green"]) {
			blueFirst++
		}
	}
	t.Logf("the first answers after the restart took up to %s; blue answered %d requests (first %s after the kill) before green's first (%s after the kill)",
		waited.Round(time.Microsecond), blueFirst, firstBy["blue"].Sub(killAt).Round(time.Millisecond), firstBy["green"].Sub(killAt).Round(time.Millisecond))
	if answered == 0 {
		t.Error("the restarted server answered no request of the load")
	}
	if res.Reasons["check"].Count != 0 || res.ClientErrors != 0 {
		t.Errorf("want every answer a 200 with its deployment's prediction:\n%s", res)
	}
	if res.ByHeader["blue"].Requests == 0 || res.ByHeader["green"].Requests == 0 {
		t.Errorf("want both deployments to have answered:\n%s", res)
	}

	p.stop(t) // a clean exit: the lease is released, the deployments unloaded
	if s := p.stderr.String(); strings.Contains(s, "leader lease") || strings.Contains(s, "rollout controller") {
		t.Errorf("the rollout controller reported errors:\n%s", s)
	}
}

// exchange is one request of the load as the recorder saw it.
type exchange struct {
	start, end time.Time
	status     int    // 0 without an answer
	deployment string // the answer's x-ferry-deployment
	body       string // the start of a 5xx answer's body
	err        error  // no (complete) answer
}

// recorder is an http.RoundTripper that records every exchange, reading the
// answer's body itself so that an answer cut short is a failed exchange.
// After a failure it pauses briefly, so that while the server is down the
// workers do not spin on refused connections and starve its restart of CPU.
type recorder struct {
	next http.RoundTripper
	add  func(exchange)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	e := exchange{start: time.Now()}
	resp, err := r.next.RoundTrip(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	e.end, e.err = time.Now(), err
	if err != nil {
		r.add(e)
		time.Sleep(5 * time.Millisecond) // a throttle, not synchronisation
		return nil, err
	}
	e.status, e.deployment = resp.StatusCode, resp.Header.Get(killDeploymentHeader)
	if resp.StatusCode >= 500 {
		e.body = string(body[:min(len(body), 300)])
	}
	r.add(e)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// rolloutState is the part of GET /api/v1/endpoints/NAME/rollout the test
// reads.
type rolloutState struct {
	ID            int64  `json:"id"`
	Version       int64  `json:"version"`
	Steps         []int  `json:"steps"`
	Step          int    `json:"step"`
	State         string `json:"state"`
	StepStartedAt int64  `json:"step_started_at"`
	Message       string `json:"message"`
}

func active(state string) bool {
	return state == "progressing" || state == "paused" || state == "awaiting_approval"
}

func getRollout(t *testing.T, p *ferryProcess) rolloutState {
	t.Helper()
	var out struct {
		Rollout rolloutState `json:"rollout"`
	}
	getV1(t, p, "endpoints/"+killEndpoint+"/rollout", &out)
	return out.Rollout
}

func getTraffic(t *testing.T, p *ferryProcess) map[string]int {
	t.Helper()
	var out struct {
		Endpoint struct {
			Traffic map[string]int `json:"traffic"`
		} `json:"endpoint"`
	}
	getV1(t, p, "endpoints/"+killEndpoint, &out)
	return out.Endpoint.Traffic
}

// waitRolloutFor polls the rollout until ok holds, logging each step and
// state it passes through.
func waitRolloutFor(t *testing.T, p *ferryProcess, within time.Duration, ok func(rolloutState) bool) rolloutState {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		r := getRollout(t, p)
		if s := fmt.Sprintf("step %d/%d %s %s", r.Step+1, len(r.Steps), r.State, r.Message); s != last {
			t.Logf("rollout: %s", s)
			last = s
		}
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout still %+v after %v", r, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getV1(t *testing.T, p *ferryProcess, route string, v any) {
	t.Helper()
	resp, err := p.client.Get(p.root + "/api/v1/" + route)
	if err != nil {
		t.Fatalf("GET %s: %v", route, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s (%v)", route, resp.StatusCode, b, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", route, err, b)
	}
}

// prediction asks deployment of the endpoint (pinned by the header) for x
// = 2; the router waits for its first load. A deployment the router has not
// seen yet is 404 until its next refresh (a request for an unknown one
// refreshes at most every 250ms): poll.
func prediction(t *testing.T, p *ferryProcess, deployment string) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequest(http.MethodPost, p.root+"/endpoints/"+killEndpoint+"/v2/models/"+killEndpoint+"/infer", strings.NewReader(killRequest))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(killDeploymentHeader, deployment)
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", deployment, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound && time.Now().Before(deadline):
			time.Sleep(50 * time.Millisecond)
			continue
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("%s: status %d: %s", deployment, resp.StatusCode, b)
		}
		v, err := firstOutput(b)
		if err != nil {
			t.Fatalf("%s: %v", deployment, err)
		}
		return v
	}
}

// firstOutput is the one value of a V2 answer with one output of one row.
func firstOutput(body []byte) (float64, error) {
	var r struct {
		Outputs []struct{ Data []float64 }
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, err
	}
	if len(r.Outputs) != 1 || len(r.Outputs[0].Data) != 1 {
		return 0, fmt.Errorf("want one output of one value: %s", body)
	}
	return r.Outputs[0].Data[0], nil
}

// writeLine writes a CSV of y = slope·x + 1 for x = 0..99.
func writeLine(t *testing.T, path string, slope int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("x,y\n")
	for x := range 100 {
		fmt.Fprintf(&b, "%d,%d\n", x, slope*x+1)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeResources replaces the resource file in dir.
func writeResources(t *testing.T, dir, yaml string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "toy.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ferryCLI runs the ferry command args against the server at url and returns
// its standard output; a failure fails the test.
func ferryCLI(t *testing.T, bin, dir, url string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--server", url)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ferry %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// cliJSON runs a command with -o json and decodes its output into v.
func cliJSON(t *testing.T, bin, dir, url string, v any, args ...string) {
	t.Helper()
	out := ferryCLI(t, bin, dir, url, append(args, "-o", "json")...)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ferry %s -o json: %v: %s", strings.Join(args, " "), err, out)
	}
}
