package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver for the integrity check
)

const (
	crashPointsPerBatch = 100 // metric points in each log-batch request
	crashKillAfter      = 50  // acknowledged batches before each kill
	crashRounds         = 4   // kill-and-restart cycles on one data directory
	crashMaxBatches     = 100_000
	crashMetricKey      = "loss"
)

// TestCrashDuringLogBatch checks that a ferry server killed with SIGKILL in
// the middle of a stream of log-batch requests comes back with every
// acknowledged batch and with no batch half-written, over several
// kill-and-restart cycles on one data directory, and that the SQLite file
// passes its integrity checks afterwards.
func TestCrashDuringLogBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping crash test in -short mode: it builds the ferry binary and runs it as a child process")
	}
	bin := buildFerry(t)
	tests := []struct {
		name        string
		synchronous string // FERRY_SQLITE_SYNCHRONOUS; "" is the default (full)
	}{
		{name: "synchronous=default(full)", synchronous: ""},
		{name: "synchronous=normal", synchronous: "normal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			var env []string
			if tt.synchronous != "" {
				env = append(env, "FERRY_SQLITE_SYNCHRONOUS="+tt.synchronous)
			}

			p := startFerry(t, bin, dataDir, env)
			p.waitReady(t)
			runID := p.createRun(t)

			acked, inflight := map[int]bool{}, map[int]bool{}
			next := 0
			for round := range crashRounds {
				// Even rounds kill between two requests, odd rounds as soon as
				// the request after the crashKillAfter-th is written, while
				// the server decodes or commits it.
				atWrite := round%2 == 1
				a, in := streamUntilKilled(t, p, runID, next, atWrite)
				t.Logf("round %d (kill on request written: %v): batches %d..%d acknowledged, batch %d in flight at the kill", round, atWrite, next, in-1, in)
				for _, i := range a {
					acked[i] = true
				}
				inflight[in] = true
				next = in + 1

				p = startFerry(t, bin, dataDir, env)
				p.waitReady(t)
				checkBatches(t, p, runID, acked, inflight, in)
				if t.Failed() {
					t.FailNow()
				}
			}

			// The restarted store takes writes.
			if code, body := p.post(t, "runs/log-batch", batchRequest(runID, crashMaxBatches)); code != http.StatusOK {
				t.Fatalf("log-batch after restart: status %d: %s", code, body)
			}
			p.stop(t)
			checkIntegrity(t, filepath.Join(dataDir, "ferry.db"))
		})
	}
}

// buildFerry builds the ferry binary of this package, with the build tags
// tags, into a temporary directory.
func buildFerry(t *testing.T, tags ...string) string {
	t.Helper()
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			goBin = p
		}
	}
	if goBin == "go" {
		p, err := exec.LookPath("go")
		if err != nil {
			t.Skipf("skipping: no go command to build the ferry binary with (%v)", err)
		}
		goBin = p
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ferryProcess is a `ferry server` child process.
type ferryProcess struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT/api/2.0/mlflow/
	root   string // http://127.0.0.1:PORT
	client *http.Client
	stderr *syncBuffer
	exited chan struct{} // closed once the process has been waited for
	err    error         // the Wait error, valid after exited is closed
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of exec's
// copying goroutine and reads by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startFerry starts `ferry server` on 127.0.0.1:0 over dataDir and returns
// once it has printed the address it listens on. The process is killed when
// the test ends.
func startFerry(t *testing.T, bin, dataDir string, env []string) *ferryProcess {
	t.Helper()
	return startFerryAt(t, bin, dataDir, "127.0.0.1:0", env)
}

// startFerryAt is startFerry listening on addr (a restart on the port of
// the server before).
func startFerryAt(t *testing.T, bin, dataDir, addr string, env []string) *ferryProcess {
	t.Helper()
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", dataDir)
	cmd.Dir = filepath.Dir(dataDir) // no stray ferry.yaml in the working directory
	cmd.Env = append(cleanEnv(), env...)
	p := &ferryProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ferry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("ferry (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
	})

	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "listening on http://"); ok && !found {
				found = true
				addrc <- strings.TrimSpace(addr)
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // after a scanner error, drain to EOF
		p.err = cmd.Wait()                 // only after every read from stdout
		close(p.exited)
	}()

	select {
	case addr := <-addrc:
		p.root = "http://" + addr
		p.base = p.root + "/api/2.0/mlflow/"
		p.client = &http.Client{Timeout: 30 * time.Second}
		t.Cleanup(p.client.CloseIdleConnections)
		return p
	case <-p.exited:
		t.Fatalf("ferry exited before listening: %v\nstderr:\n%s", p.err, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("ferry did not print its address within 60s\nstderr:\n%s", p.stderr.String())
	}
	return nil
}

// cleanEnv is the test's environment without Ferry's, MLflow's and AWS's
// variables, so that the child's configuration is the default.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FERRY_") || strings.HasPrefix(k, "MLFLOW_") || strings.HasPrefix(k, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitReady polls /readyz a bounded number of times.
func (p *ferryProcess) waitReady(t *testing.T) {
	t.Helper()
	var last string
	for attempt := range 50 {
		resp, err := p.client.Get(p.root + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			t.Fatalf("ferry exited while waiting for /readyz: %v\nstderr:\n%s", p.err, p.stderr.String())
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
	t.Fatalf("/readyz never answered 200: %s\nstderr:\n%s", last, p.stderr.String())
}

// post sends a JSON body to an MLflow route and returns the status and body.
func (p *ferryProcess) post(t *testing.T, route string, body []byte) (int, []byte) {
	t.Helper()
	code, resp, err := p.tryPost(context.Background(), route, body)
	if err != nil {
		t.Fatalf("POST %s: %v", route, err)
	}
	return code, resp
}

func (p *ferryProcess) tryPost(ctx context.Context, route string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+route, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *ferryProcess) get(t *testing.T, route string, q url.Values, v any) {
	t.Helper()
	resp, err := p.client.Get(p.base + route + "?" + q.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", route, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", route, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", route, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decode: %v", route, err)
	}
}

func (p *ferryProcess) createRun(t *testing.T) string {
	t.Helper()
	code, body := p.post(t, "runs/create", []byte(`{"experiment_id":"0"}`))
	if code != http.StatusOK {
		t.Fatalf("runs/create: status %d: %s", code, body)
	}
	var out struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Run.Info.RunID == "" {
		t.Fatalf("runs/create: no run_id in %s (%v)", body, err)
	}
	return out.Run.Info.RunID
}

// stop asks the server to shut down and waits for it to exit; it must exit
// cleanly.
func (p *ferryProcess) stop(t *testing.T) {
	t.Helper()
	graceful := true
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		graceful = false
		_ = p.cmd.Process.Kill() // no SIGINT on this platform
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("ferry did not exit within 30s of SIGINT\nstderr:\n%s", p.stderr.String())
	}
	if graceful && p.err != nil {
		t.Errorf("ferry exited with %v after SIGINT\nstderr:\n%s", p.err, p.stderr.String())
	}
}

// batchRequest is batch i of the stream: crashPointsPerBatch points of
// crashMetricKey at steps i*crashPointsPerBatch onwards, with value = step,
// and the param batch_<i> = i, all in one log-batch request.
func batchRequest(runID string, i int) []byte {
	type metric struct {
		Key       string  `json:"key"`
		Value     float64 `json:"value"`
		Timestamp int64   `json:"timestamp"`
		Step      int64   `json:"step"`
	}
	type kv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	req := struct {
		RunID   string   `json:"run_id"`
		Metrics []metric `json:"metrics"`
		Params  []kv     `json:"params"`
		Tags    []kv     `json:"tags"`
	}{RunID: runID, Params: []kv{{Key: batchParam(i), Value: strconv.Itoa(i)}}, Tags: []kv{}}
	for j := range crashPointsPerBatch {
		step := int64(i*crashPointsPerBatch + j)
		req.Metrics = append(req.Metrics, metric{Key: crashMetricKey, Value: float64(step), Timestamp: 1_700_000_000_000 + step, Step: step})
	}
	b, err := json.Marshal(req)
	if err != nil {
		panic(err) // the types above always marshal
	}
	return b
}

func batchParam(i int) string { return "batch_" + strconv.Itoa(i) }

// streamUntilKilled sends batches first, first+1, … one after another and
// kills the server with SIGKILL once crashKillAfter of them are acknowledged
// (atWrite: once the next request has been written to the connection); the
// stream goes on until a request fails. It returns the acknowledged batches and
// the batch that was in flight when the stream broke.
func streamUntilKilled(t *testing.T, p *ferryProcess, runID string, first int, atWrite bool) (acked []int, inflight int) {
	t.Helper()
	killc := make(chan struct{})
	type result struct {
		acked    []int
		inflight int
		err      error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		var once sync.Once
		kill := func() { once.Do(func() { close(killc) }) }
		for i := first; i < crashMaxBatches; i++ {
			ctx := context.Background()
			if atWrite && len(r.acked) == crashKillAfter {
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
					WroteRequest: func(httptrace.WroteRequestInfo) { kill() },
				})
			}
			code, body, err := p.tryPost(ctx, "runs/log-batch", batchRequest(runID, i))
			if err != nil || code != http.StatusOK {
				r.inflight = i
				if err == nil {
					r.err = fmt.Errorf("batch %d: status %d: %s", i, code, body)
				}
				done <- r
				return
			}
			r.acked = append(r.acked, i)
			if !atWrite && len(r.acked) == crashKillAfter {
				kill()
			}
		}
		r.err = errors.New("the server never stopped answering")
		done <- r
	}()

	select {
	case <-killc:
	case r := <-done:
		t.Fatalf("stream ended after %d batches before the kill: %v\nstderr:\n%s", len(r.acked), r.err, p.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("stream did not reach the kill point within 2 minutes")
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("ferry did not exit after SIGKILL")
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("stream did not end after the server was killed")
	}
	if r.err != nil {
		t.Fatalf("stream: %v", r.err)
	}
	return r.acked, r.inflight
}

// checkBatches checks batches 0..last: every acknowledged one is fully
// present, an in-flight one is fully present or fully absent, and the run's
// latest value of the metric agrees with its history. It reports whether
// batch last is fully present.
func checkBatches(t *testing.T, p *ferryProcess, runID string, acked, inflight map[int]bool, last int) (lastWhole bool) {
	t.Helper()
	var hist struct {
		Metrics []struct {
			Key   string  `json:"key"`
			Value float64 `json:"value"`
			Step  int64   `json:"step"`
		} `json:"metrics"`
	}
	p.get(t, "metrics/get-history", url.Values{"run_id": {runID}, "metric_key": {crashMetricKey}}, &hist)
	points := map[int]int{} // batch -> points present
	maxStep := int64(-1)
	for _, m := range hist.Metrics {
		if m.Value != float64(m.Step) {
			t.Errorf("step %d has value %v, want %d", m.Step, m.Value, m.Step)
		}
		points[int(m.Step)/crashPointsPerBatch]++
		maxStep = max(maxStep, m.Step)
	}

	var run struct {
		Run struct {
			Data struct {
				Metrics []struct {
					Key  string `json:"key"`
					Step int64  `json:"step"`
				} `json:"metrics"`
				Params []struct {
					Key string `json:"key"`
				} `json:"params"`
			} `json:"data"`
		} `json:"run"`
	}
	p.get(t, "runs/get", url.Values{"run_id": {runID}}, &run)
	params := map[int]bool{}
	for _, kv := range run.Run.Data.Params {
		i, err := strconv.Atoi(strings.TrimPrefix(kv.Key, "batch_"))
		if err != nil {
			t.Errorf("unexpected param %q", kv.Key)
			continue
		}
		params[i] = true
	}

	for i := 0; i <= last; i++ {
		n, hasParam := points[i], params[i]
		whole := n == crashPointsPerBatch && hasParam
		if i == last {
			lastWhole = whole
		}
		switch {
		case acked[i] && !whole:
			t.Errorf("acknowledged batch %d: %d of %d points, param present %v; want all of it", i, n, crashPointsPerBatch, hasParam)
		case inflight[i] && !whole && (n != 0 || hasParam):
			t.Errorf("in-flight batch %d is half-written: %d of %d points, param present %v", i, n, crashPointsPerBatch, hasParam)
		case inflight[i] && i == last:
			t.Logf("in-flight batch %d: present after restart: %v", i, whole)
		case inflight[i]:
		case !acked[i]:
			t.Errorf("batch %d was neither acknowledged nor in flight", i)
		}
	}
	for i, n := range points {
		if i > last {
			t.Errorf("batch %d, never sent, has %d points", i, n)
		}
	}
	for i := range params {
		if i > last {
			t.Errorf("param %s of a batch never sent is present", batchParam(i))
		}
	}
	var latest int64 = -1
	for _, m := range run.Run.Data.Metrics {
		if m.Key == crashMetricKey {
			latest = m.Step
		}
	}
	if latest != maxStep {
		t.Errorf("latest %s is at step %d, but the history ends at step %d", crashMetricKey, latest, maxStep)
	}
	return lastWhole
}

// checkIntegrity runs SQLite's integrity and foreign-key checks on the file of
// a stopped server.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if res != "ok" {
		t.Errorf("integrity_check: %s", res)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Errorf("foreign_key_check reports violations")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
}
