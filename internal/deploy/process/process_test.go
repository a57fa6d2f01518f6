//go:build unix

package process_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/process"
	"github.com/ferry-ml/ferry/internal/model"
	nativemodel "github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/testbackend"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/train/linear"
)

// ferryBin is the ferry binary TestMain builds once for the package's tests.
var ferryBin string

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeServe(mode, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "ferry-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ferryBin = filepath.Join(dir, "ferry")
	build := exec.Command("go", "build", "-o", ferryBin, "github.com/ferry-ml/ferry/cmd/ferry")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build ferry: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a backend with a registered native regression model, y = 2x + 1,
// as models:/toy/1, and the process target's options over it.
type env struct {
	t    *testing.T
	b    *testbackend.Backend
	opts process.Options
}

func newEnv(t *testing.T) *env {
	t.Helper()
	b := testbackend.Open(t, "normal")
	e := &env{t: t, b: b}
	dir := filepath.Join(t.TempDir(), "model")
	writeToyPackage(t, dir)
	if _, err := b.Registry.RegisterDir(auth.WithPrincipal(context.Background(), "alice"), "toy", dir, "", "", nil); err != nil {
		t.Fatal(err)
	}
	e.opts = process.Options{
		Fetcher:   process.FromVersions(b.Registry),
		Command:   []string{ferryBin, "serve"},
		Dir:       t.TempDir(),
		StopGrace: 5 * time.Second,
	}
	return e
}

// writeToyPackage writes a native linear regression of y = 2x + 1 as
// Ferry's trainer packages it.
func writeToyPackage(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	x, y := make([]float64, 50), make([]float64, 50)
	for i := range x {
		x[i], y[i] = float64(i), 2*float64(i)+1
	}
	f, err := dataset.NewFrame(dataset.NewNumeric("x", x), dataset.NewNumeric("y", y))
	must(t, err)
	specs, err := nativemodel.ParseFeatures(f, []string{"x"}, "y")
	must(t, err)
	feats, err := nativemodel.BuildFeatures(f, specs)
	must(t, err)
	enc := nativemodel.FitEncoder(feats)
	params := linear.DefaultParams()
	params.L2 = 0
	lin, err := linear.Train(ctx, model.TaskRegression, 0, enc.Encode(feats), y, params, nil)
	must(t, err)
	pipe := &nativemodel.Pipeline{FormatVersion: nativemodel.PipelineFormatVersion, Task: model.TaskRegression, Target: "y",
		Features: specs, Trainer: train.TrainerLinear, Linear: lin, Encoder: enc}
	body, err := pipe.MarshalJSON()
	must(t, err)
	b, err := model.NewBuilder(ctx, dir)
	must(t, err)
	must(t, b.AddFile(ctx, "model.json", bytes.NewReader(body)))
	m := &model.Manifest{ArtifactPath: "model", UTCTimeCreated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Signature: pipe.Signature()}
	m.SetFlavor(model.FerryFlavor{Trainer: pipe.Trainer, Data: "model.json", FormatVersion: nativemodel.PipelineFormatVersion})
	_, err = b.Finish(ctx, m, model.FerryInfo{Task: pipe.Task})
	must(t, err)
}

// start starts spec on the process target, serving as endpoint "toy", and
// closes it when the test ends.
func (e *env) start(spec deploy.Deployment) *process.Deployment {
	e.t.Helper()
	spec.Name, spec.EndpointName, spec.Model, spec.Target = "blue", "toy", "models:/toy/1", deploy.TargetProcess
	d, err := process.Target(e.opts)(context.Background(), "toy", spec)
	must(e.t, err)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			e.t.Error(err)
		}
	})
	return d
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allReady reports whether n instances run and every one is ready.
func allReady(d *process.Deployment, n int) bool {
	ins := d.Instances()
	if len(ins) != n {
		return false
	}
	for _, in := range ins {
		if !in.Ready {
			return false
		}
	}
	return true
}

// pids returns the pid of each slot's ready instance (0: none).
func pids(d *process.Deployment, n int) []int {
	out := make([]int, n)
	for _, in := range d.Instances() {
		if in.Ready {
			out[in.Index] = in.PID
		}
	}
	return out
}

const (
	v2Body     = `{"inputs":[{"name":"x","datatype":"FP64","shape":[2],"data":[1,10]}]}`
	mlflowBody = `{"dataframe_split":{"columns":["x"],"data":[[1],[10]]}}`
	v1Body     = `{"instances":[{"x":1},{"x":10}]}`
)

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestServes: two instances become ready and answer the V2, V1 and MLflow
// routes under the endpoint's name, with the version registered; requests
// are spread over both; environment_variables reach the children.
func TestServes(t *testing.T) {
	e := newEnv(t)
	e.opts.MaxRequestBytes = 1024
	d := e.start(deploy.Deployment{InstanceCount: 2, EnvironmentVariables: map[string]string{"FERRY_LOG_LEVEL": "debug", "FERRY_LOG_FORMAT": "text"},
		RequestSettings: deploy.RequestSettings{RequestTimeoutMS: 3000, MaxConcurrentRequestsPerInstance: 8, MaxBatchSize: 4}})
	waitFor(t, 60*time.Second, "both instances are ready", func() bool { return allReady(d, 2) })
	if !d.Ready() {
		t.Fatal("Ready() = false with two ready instances")
	}
	close2 := func(got, want float64) bool { return got > want-0.05 && got < want+0.05 }
	for i := range 4 {
		t.Run(fmt.Sprintf("V2 infer %d", i), func(t *testing.T) {
			rec := do(d, "POST", "/v2/models/toy/infer", v2Body)
			var resp struct {
				ModelName    string `json:"model_name"`
				ModelVersion string `json:"model_version"`
				Outputs      []struct {
					Data []float64 `json:"data"`
				} `json:"outputs"`
			}
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &resp) != nil || len(resp.Outputs) != 1 || len(resp.Outputs[0].Data) != 2 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if resp.ModelName != "toy" || resp.ModelVersion != "1" || !close2(resp.Outputs[0].Data[0], 3) || !close2(resp.Outputs[0].Data[1], 21) {
				t.Fatalf("answer %s", rec.Body)
			}
		})
	}
	t.Run("invocations", func(t *testing.T) {
		rec := do(d, "POST", "/invocations", mlflowBody)
		var resp struct {
			Predictions []float64 `json:"predictions"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &resp) != nil || len(resp.Predictions) != 2 || !close2(resp.Predictions[1], 21) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("V1 predict", func(t *testing.T) {
		if rec := do(d, "POST", "/v1/models/toy:predict", v1Body); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"predictions"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("metadata and health", func(t *testing.T) {
		if rec := do(d, "GET", "/v2/models/toy", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"name":"toy"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if rec := do(d, "GET", "/v2/health/ready", ""); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[1]}],"pad":"` + strings.Repeat("x", 2048) + `"}`
		if rec := do(d, "POST", "/v2/models/toy/infer", big); rec.Code != 413 || !strings.Contains(rec.Body.String(), "limit of 1024 bytes") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("logs", func(t *testing.T) {
		// Each child logs its requests at debug level (FERRY_LOG_LEVEL from
		// environment_variables): both instances took some.
		waitFor(t, 10*time.Second, "both instances logged an infer request", func() bool {
			logs := strings.Join(d.Logs(0), "\n")
			return strings.Contains(logs, "[0] time=") && strings.Contains(logs, "[1] time=") &&
				strings.Count(logs, "path=/v2/models/toy/infer") >= 2
		})
		logs := d.Logs(0)
		for _, want := range []string{"[0] supervisor: started pid", " --name toy --addr 127.0.0.1:0 --timeout 3s --max-in-flight 8 --batch-max 4\n", "[1] Serving toy version 1 (ferry_native) on http://127.0.0.1:", "supervisor: pid"} {
			if !strings.Contains(strings.Join(logs, "\n"), want) {
				t.Errorf("logs lack %q:\n%s", want, strings.Join(logs, "\n"))
			}
		}
		if got := d.Logs(3); len(got) != 3 || got[2] != logs[len(logs)-1] {
			t.Errorf("Logs(3) = %q; want the last three of %d lines", got, len(logs))
		}
	})
}

// loadGen sends requests to h from n goroutines, alternating V2 and MLflow
// requests, for at least minDuration and until stopped, and counts failures.
type loadGen struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	stopc      chan struct{}
	wg         sync.WaitGroup
}

func startLoad(h http.Handler, n int, minDuration time.Duration) *loadGen {
	l := &loadGen{stopc: make(chan struct{})}
	until := time.Now().Add(minDuration)
	for g := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stopc:
					if time.Now().After(until) {
						return
					}
				default:
				}
				path, body := "/v2/models/toy/infer", v2Body
				if (g+i)%2 == 1 {
					path, body = "/invocations", mlflowBody
				}
				rec := do(h, "POST", path, body)
				if rec.Code == 200 {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.failures) < 5 {
					l.failures = append(l.failures, fmt.Sprintf("%s: %d %s", path, rec.Code, rec.Body))
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// stop waits for the load to end (after its minimum duration) and fails t
// on any failed request.
func (l *loadGen) stop(t *testing.T) {
	t.Helper()
	close(l.stopc)
	l.wg.Wait()
	t.Logf("%d requests succeeded, %d failed", l.ok.Load(), l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests failed, the first: %q", n, l.failures)
	}
	if l.ok.Load() == 0 {
		t.Error("no request succeeded")
	}
}

// TestKillChild (issue 12, must show "process target: kill a child"): with
// two instances under a load of 16 concurrent clients, one child is killed
// with SIGKILL; requests go to the other meanwhile with zero failures, and
// the supervisor restarts the killed one (a new pid, ready again).
func TestKillChild(t *testing.T) {
	e := newEnv(t)
	d := e.start(deploy.Deployment{InstanceCount: 2})
	waitFor(t, 60*time.Second, "both instances are ready", func() bool { return allReady(d, 2) })
	before := pids(d, 2)
	load := startLoad(d, 16, 2*time.Second)
	waitFor(t, 10*time.Second, "the load is under way", func() bool { return load.ok.Load() >= 100 })
	if err := syscall.Kill(before[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the killed instance is restarted and ready", func() bool {
		now := pids(d, 2)
		return now[0] != 0 && now[0] != before[0] && now[1] == before[1]
	})
	load.stop(t)
	if d.Restarts() != 1 {
		t.Errorf("Restarts() = %d, want 1", d.Restarts())
	}
	logs := strings.Join(d.Logs(0), "\n")
	for _, want := range []string{fmt.Sprintf("[0] supervisor: pid %d exited (signal: killed)", before[0]), "[0] supervisor: restarting in 500ms"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestRestartUnderLoad: a rolling restart replaces every instance while a
// load runs, with zero failed requests — even with a single instance, since
// each new child is ready before the old one stops.
func TestRestartUnderLoad(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) {
			e := newEnv(t)
			d := e.start(deploy.Deployment{InstanceCount: n})
			waitFor(t, 60*time.Second, "the instances are ready", func() bool { return allReady(d, n) })
			before := pids(d, n)
			load := startLoad(d, 16, 2*time.Second)
			waitFor(t, 10*time.Second, "the load is under way", func() bool { return load.ok.Load() >= 100 })
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := d.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			load.stop(t)
			after := pids(d, n)
			for i := range n {
				if after[i] == 0 || after[i] == before[i] {
					t.Errorf("instance %d: pid %d before, %d after the restart", i, before[i], after[i])
				}
			}
			if d.Restarts() != 0 {
				t.Errorf("Restarts() = %d after a rolling restart; it counts failures only", d.Restarts())
			}
		})
	}
}

// TestChildCannotStart: a package `ferry serve` cannot load makes the child
// exit; the deployment is never ready, answers 503 in each protocol's
// error format, and its logs say why.
func TestChildCannotStart(t *testing.T) {
	e := newEnv(t)
	e.opts.Fetcher = process.FetchFunc(func(_ context.Context, _, dir string) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "model.json"), []byte("{}"), 0o644)
	})
	d := e.start(deploy.Deployment{InstanceCount: 1})
	waitFor(t, 30*time.Second, "the child's failure is in the logs", func() bool {
		return strings.Contains(strings.Join(d.Logs(0), "\n"), "restarting in")
	})
	logs := strings.Join(d.Logs(0), "\n")
	if !strings.Contains(logs, "before it was ready; its last output: Error: no MLmodel file in") || !strings.Contains(logs, "[0] Error: no MLmodel file") {
		t.Errorf("logs do not say why:\n%s", logs)
	}
	if d.Ready() {
		t.Error("Ready() = true")
	}
	rec := do(d, "POST", "/v2/models/toy/infer", v2Body)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `{"error":"deployment toy/blue has no ready instance (of 1); its logs say why"}`) {
		t.Errorf("V2: %d %s", rec.Code, rec.Body)
	}
	rec = do(d, "POST", "/invocations", mlflowBody)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"error_code":"TEMPORARILY_UNAVAILABLE"`) {
		t.Errorf("MLflow: %d %s", rec.Code, rec.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Restart(ctx); ferry.ErrorCode(err) != ferry.EUNAVAILABLE || !strings.HasPrefix(ferry.ErrorMessage(err), "deployment toy/blue instance 0: pid ") ||
		!strings.Contains(ferry.ErrorMessage(err), "before it was ready; its last output: Error: no MLmodel file in") {
		t.Errorf("Restart = %v, want the child's failure", err)
	}
}

// TestNoLeaks: Close stops the children and every goroutine, and removes
// the fetched package; a Target whose fetch fails (an unknown version, a
// cancelled context) leaves nothing behind either.
func TestNoLeaks(t *testing.T) {
	e := newEnv(t)
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	base := settle()
	t.Run("close", func(t *testing.T) {
		spec := deploy.Deployment{Name: "blue", EndpointName: "toy", Model: "models:/toy/1", InstanceCount: 2}
		d, err := process.Target(e.opts)(context.Background(), "toy", spec)
		must(t, err)
		waitFor(t, 60*time.Second, "both instances are ready", func() bool { return allReady(d, 2) })
		pids := pids(d, 2)
		if rec := do(d, "POST", "/v2/models/toy/infer", v2Body); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		must(t, d.Close(ctx))
		must(t, d.Close(ctx)) // idempotent
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("pid %d after Close: kill 0 = %v, want ESRCH", pid, err)
			}
		}
		if rec := do(d, "POST", "/v2/models/toy/infer", v2Body); rec.Code != 503 || !strings.Contains(rec.Body.String(), "is stopped") {
			t.Errorf("after Close: %d %s", rec.Code, rec.Body)
		}
		left, _ := filepath.Glob(filepath.Join(e.opts.Dir, "toy", "blue-*"))
		if len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		if b, err := os.ReadFile(filepath.Join(e.opts.Dir, "toy", "blue.log")); err != nil || !bytes.Contains(b, []byte("supervisor: stopped")) {
			t.Errorf("log file: %v %q", err, b)
		}
	})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		model string
		want  func(error) bool
	}{
		{"unknown version", context.Background(), "models:/toy/7", func(err error) bool { return ferry.ErrorCode(err) == ferry.ENOTFOUND }},
		{"cancelled context", cancelled, "models:/toy/1", func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := deploy.Deployment{Name: "green", EndpointName: "toy", Model: tc.model}
			d, err := process.Target(e.opts)(tc.ctx, "toy", spec)
			if d != nil || err == nil || !tc.want(err) {
				t.Fatalf("Target = %v, %v", d, err)
			}
			left, _ := filepath.Glob(filepath.Join(e.opts.Dir, "toy", "green-*"))
			if len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("the goroutines are back to %d (now %d)", base, runtime.NumGoroutine()), func() bool { return settle() <= base })
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fakeEnv makes the test binary a fake `ferry serve` of the mode it names
// (see fakeServe); the tests set it through environment_variables.
const fakeEnv = "FERRY_PROCESS_TEST_FAKE"

// fakeServe behaves as `ferry serve` with --addr in args, but:
//   - "silent" never reports its address;
//   - "dead" is ready but fails its liveness probe;
//   - "slow" answers inference only when the request is cancelled.
func fakeServe(mode string, args []string) int {
	addr := ""
	for i, a := range args {
		if a == "--addr" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	if mode != "silent" {
		fmt.Printf("Serving toy version 1 (fake) on http://%s\n", ln.Addr())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		if mode == "dead" {
			http.Error(w, "dead", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /v2/models/toy/infer", func(w http.ResponseWriter, r *http.Request) {
		if mode == "slow" {
			<-r.Context().Done()
		}
	})
	fmt.Fprintln(os.Stderr, "Error:", http.Serve(ln, mux))
	return 1
}

// TestProbes runs fake children: one that fails its liveness probe is
// killed and restarted; one that never reports its address is killed after
// StartTimeout; a request an instance does not answer within
// request_timeout_ms is answered 504.
func TestProbes(t *testing.T) {
	exe, err := os.Executable()
	must(t, err)
	e := newEnv(t)
	e.opts.Command = []string{exe}
	e.opts.StartTimeout = 300 * time.Millisecond
	fake := func(mode string) map[string]string { return map[string]string{fakeEnv: mode} }
	t.Run("liveness", func(t *testing.T) {
		d := e.start(deploy.Deployment{EnvironmentVariables: fake("dead"), LivenessProbe: &deploy.Probe{Period: 1, FailureThreshold: 2}})
		waitFor(t, 30*time.Second, "the instance is restarted", func() bool { return d.Restarts() >= 1 })
		logs := strings.Join(d.Logs(0), "\n")
		for _, want := range []string{"ready on 127.0.0.1:", "failed its liveness probe 2 times in a row; killing it", "exited (signal: killed)", "restarting in 500ms"} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs lack %q:\n%s", want, logs)
			}
		}
	})
	t.Run("start timeout", func(t *testing.T) {
		d := e.start(deploy.Deployment{EnvironmentVariables: fake("silent")})
		waitFor(t, 30*time.Second, "the instance is restarted", func() bool { return d.Restarts() >= 1 })
		if logs := strings.Join(d.Logs(0), "\n"); !strings.Contains(logs, "did not report its address within 300ms; killing it") {
			t.Errorf("logs:\n%s", logs)
		}
		if d.Ready() {
			t.Error("Ready() = true")
		}
	})
	t.Run("no such command", func(t *testing.T) {
		e := newEnv(t)
		e.opts.Command = []string{filepath.Join(t.TempDir(), "ferry"), "serve"}
		d := e.start(deploy.Deployment{})
		waitFor(t, 10*time.Second, "the failure is logged", func() bool {
			return strings.Contains(strings.Join(d.Logs(0), "\n"), "[0] supervisor: restarting in 500ms")
		})
		if logs := strings.Join(d.Logs(0), "\n"); !strings.Contains(logs, "[0] supervisor: cannot start "+e.opts.Command[0]) {
			t.Errorf("logs:\n%s", logs)
		}
	})
	t.Run("request timeout", func(t *testing.T) {
		d := e.start(deploy.Deployment{EnvironmentVariables: fake("slow"), RequestSettings: deploy.RequestSettings{RequestTimeoutMS: 200}})
		waitFor(t, 30*time.Second, "the instance is ready", d.Ready)
		rec := do(d, "POST", "/v2/models/toy/infer", v2Body)
		if rec.Code != 504 || !strings.Contains(rec.Body.String(), "request timeout of 200ms") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
}
