package process_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/process"
)

const python = "/usr/bin/python3"

// server returns the command that runs testdata/v2server.py. It skips the
// test when python3 is absent, or fails it under CI (CI set).
func server(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		msg := fmt.Sprintf("%s is needed to run the V2 test server: %v", python, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	script, err := filepath.Abs("testdata/v2server.py")
	if err != nil {
		t.Fatal(err)
	}
	return []string{python, script}
}

// logBuffer collects the runtime's log; it is printed when the test fails.
// It is safe to write to after the test ends.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func testLogger(t *testing.T) *slog.Logger {
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("runtime log:\n%s", lb)
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// config is a Config for the test server with short timeouts; env entries are
// added to the test's environment.
func config(t *testing.T, env ...string) process.Config {
	return process.Config{
		Command:        server(t),
		Env:            append(os.Environ(), env...),
		ReadyTimeout:   20 * time.Second,
		RequestTimeout: 20 * time.Second,
		StopGrace:      5 * time.Second,
		ModelName:      "summer",
		Log:            testLogger(t),
	}
}

func start(t *testing.T, cfg process.Config) *process.Model {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := process.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// eventually waits until cond holds, checking every few milliseconds, and
// fails the test when it does not within d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		<-tick.C
	}
}

type debugInfo struct {
	PID        int     `json:"pid"`
	Cwd        string  `json:"cwd"`
	Port       string  `json:"port"`
	FerryPort  string  `json:"ferry_port"`
	ModelDir   *string `json:"model_dir"`
	Extra      *string `json:"extra"`
	Grandchild *int    `json:"grandchild"`
}

func info(t *testing.T, m *process.Model) debugInfo {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/debug/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var di debugInfo
	if err := json.NewDecoder(resp.Body).Decode(&di); err != nil {
		t.Fatal(err)
	}
	return di
}

// sumInputs is a request for the test server: a [2, 3] FP64 and a [2] INT64.
func sumInputs() []runtime.Tensor {
	return []runtime.Tensor{
		{Name: "a", Datatype: runtime.FP64, Shape: []int64{2, 3}, FP64: []float64{1, 2, 3, 4, 5, 6.5}},
		{Name: "b", Datatype: runtime.INT64, Shape: []int64{2}, Int: []int64{10, -20}},
	}
}

var sumOutputs = []runtime.Tensor{
	{Name: "sum", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{16, -4.5}},
	{Name: "count", Datatype: runtime.INT64, Shape: []int64{2}, Int: []int64{4, 4}},
}

func TestStartMetadataPredict(t *testing.T) {
	dir := t.TempDir()
	cfg := config(t, "EXTRA=passed", "PORT=1", "FERRY_PORT=2") // PORT and FERRY_PORT are replaced
	cfg.Dir = dir
	m := start(t, cfg)

	want := runtime.Metadata{
		Platform: "process",
		Inputs: []runtime.TensorSpec{
			{Name: "a", Datatype: runtime.FP64, Shape: []int64{-1, -1}},
			{Name: "b", Datatype: runtime.INT64, Shape: []int64{-1}},
		},
		Outputs: []runtime.TensorSpec{
			{Name: "sum", Datatype: runtime.FP64, Shape: []int64{-1}},
			{Name: "count", Datatype: runtime.INT64, Shape: []int64{-1}},
		},
	}
	if md := m.Metadata(); !reflect.DeepEqual(md, want) {
		t.Errorf("Metadata = %+v, want %+v", md, want)
	}
	if !m.Ready() || m.PID() == 0 || m.Restarts() != 0 {
		t.Errorf("Ready %v, PID %d, Restarts %d", m.Ready(), m.PID(), m.Restarts())
	}

	t.Run("environment", func(t *testing.T) {
		di := info(t, m)
		port := m.Addr()[strings.LastIndex(m.Addr(), ":")+1:]
		if di.Port != port || di.FerryPort != port {
			t.Errorf("PORT=%s FERRY_PORT=%s, want %s", di.Port, di.FerryPort, port)
		}
		if di.Extra == nil || *di.Extra != "passed" {
			t.Errorf("EXTRA = %v", di.Extra)
		}
		if di.ModelDir != nil {
			t.Errorf("FERRY_MODEL_DIR = %q without a ModelDir", *di.ModelDir)
		}
		if di.Cwd != dir {
			t.Errorf("cwd = %s, want %s", di.Cwd, dir)
		}
		if di.PID != m.PID() {
			t.Errorf("server pid %d, PID() %d", di.PID, m.PID())
		}
	})

	tests := []struct {
		name string
		in   []runtime.Tensor
		want []runtime.Tensor
	}{
		{"FP64 and INT64", sumInputs(), sumOutputs},
		{"FP32 and BOOL-free INT32", []runtime.Tensor{
			{Name: "a", Datatype: runtime.FP32, Shape: []int64{3, 1}, FP32: []float32{0.1, 0.25, -1}},
			{Name: "b", Datatype: runtime.INT32, Shape: []int64{3}, Int: []int64{1, 2, 3}},
		}, []runtime.Tensor{
			{Name: "sum", Datatype: runtime.FP64, Shape: []int64{3}, FP64: []float64{1.1, 2.25, 2}},
			{Name: "count", Datatype: runtime.INT64, Shape: []int64{3}, Int: []int64{2, 2, 2}},
		}},
		{"empty batch", []runtime.Tensor{{Name: "a", Datatype: runtime.FP64, Shape: []int64{0, 2}, FP64: []float64{}}},
			[]runtime.Tensor{
				{Name: "sum", Datatype: runtime.FP64, Shape: []int64{0}, FP64: []float64{}},
				{Name: "count", Datatype: runtime.INT64, Shape: []int64{0}, Int: []int64{}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Predict(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Predict = %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("NaN both ways", func(t *testing.T) {
		in := []runtime.Tensor{{Name: "a", Datatype: runtime.FP64, Shape: []int64{2, 1}, FP64: []float64{math.NaN(), 1}}}
		got, err := m.Predict(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(got[0].FP64[0]) || got[0].FP64[1] != 1 {
			t.Errorf("sum = %v, want [NaN 1]", got[0].FP64)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					got, err := m.Predict(context.Background(), sumInputs())
					if err == nil && !reflect.DeepEqual(got, sumOutputs) {
						err = fmt.Errorf("got %+v", got)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestPredictErrors(t *testing.T) {
	m := start(t, config(t))
	tests := []struct {
		name    string
		in      []runtime.Tensor
		code    string
		want    string
		notWant string
	}{
		{"4xx passes the message through", []runtime.Tensor{{Name: "s", Datatype: runtime.BYTES, Shape: []int64{1}, Str: []string{"x"}}},
			ferry.EINVALID, "input s: cannot add BYTES values", ""},
		{"4xx rows differ", []runtime.Tensor{
			{Name: "a", Datatype: runtime.FP64, Shape: []int64{1}, FP64: []float64{1}},
			{Name: "b", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{1, 2}},
		}, ferry.EINVALID, "input b has 2 rows, want 1", ""},
		{"4xx no inputs", nil, ferry.EINVALID, "no inputs", ""},
		{"5xx is unavailable, details logged", []runtime.Tensor{{Name: "boom", Datatype: runtime.FP64, Shape: []int64{1}, FP64: []float64{1}}},
			ferry.EUNAVAILABLE, "HTTP 500", "Traceback"},
		{"unknown datatype", []runtime.Tensor{{Name: "a", Datatype: "FP16", Shape: []int64{1}}}, ferry.EINVALID, `unknown datatype "FP16"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := m.Predict(context.Background(), tt.in)
			if err == nil {
				t.Fatalf("Predict = %+v, want an error", out)
			}
			if code := ferry.ErrorCode(err); code != tt.code {
				t.Errorf("code = %s (%v), want %s", code, err, tt.code)
			}
			msg := ferry.ErrorMessage(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if tt.notWant != "" && strings.Contains(msg, tt.notWant) {
				t.Errorf("message %q shows %q", msg, tt.notWant)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.Predict(ctx, sumInputs()); !errors.Is(err, context.Canceled) {
			t.Errorf("Predict = %v, want context.Canceled", err)
		}
	})
}

func TestRestartAfterKill(t *testing.T) {
	cfg := config(t, "READY_DELAY=0.3") // each start takes 0.3 s, so Predict must wait
	m := start(t, cfg)
	first := m.PID()

	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the runtime notices the server died", func() bool { return !m.Ready() })

	// The restarted server is not ready yet: Predict waits for it.
	got, err := m.Predict(context.Background(), sumInputs())
	if err != nil {
		t.Fatalf("Predict during the restart: %v", err)
	}
	if !reflect.DeepEqual(got, sumOutputs) {
		t.Errorf("Predict = %+v", got)
	}
	second := m.PID()
	if second == 0 || second == first {
		t.Errorf("PID after restart = %d (before %d)", second, first)
	}
	if n := m.Restarts(); n != 1 {
		t.Errorf("Restarts = %d, want 1", n)
	}
	if di := info(t, m); di.PID != second {
		t.Errorf("serving pid %d, PID() %d", di.PID, second)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRestartsAreBounded(t *testing.T) {
	cfg := config(t)
	cfg.MaxRestarts = 2 // the first start and one restart a minute
	m := start(t, cfg)

	first := m.PID()
	syscall.Kill(first, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eventually(t, 10*time.Second, "restarted once", func() bool { return m.Restarts() == 1 && m.Ready() })

	syscall.Kill(m.PID(), syscall.SIGKILL)
	var err error
	eventually(t, 10*time.Second, "throttled", func() bool {
		_, err = m.Predict(ctx, sumInputs())
		return err != nil && strings.Contains(err.Error(), "keeps exiting")
	})
	if code := ferry.ErrorCode(err); code != ferry.EUNAVAILABLE {
		t.Errorf("code = %s, want EUNAVAILABLE", code)
	}
	if m.Ready() {
		t.Error("Ready while throttled")
	}
	// Close does not wait for the throttle to end.
	began := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
}

// gone reports whether pid is dead: no such process, or a zombie.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestCloseStopsProcessGroup(t *testing.T) {
	m := start(t, config(t, "SPAWN_CHILD=1"))
	di := info(t, m)
	if di.Grandchild == nil {
		t.Fatal("the server started no grandchild")
	}
	leader, grandchild := m.PID(), *di.Grandchild
	if gone(grandchild) {
		t.Fatal("grandchild not running")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(leader) {
		t.Errorf("server %d still runs after Close", leader)
	}
	eventually(t, 10*time.Second, "the grandchild is stopped", func() bool { return gone(grandchild) })

	if _, err := m.Predict(context.Background(), sumInputs()); ferry.ErrorCode(err) != ferry.EUNAVAILABLE {
		t.Errorf("Predict after Close = %v, want EUNAVAILABLE", err)
	}
	if m.Ready() || m.PID() != 0 {
		t.Errorf("after Close: Ready %v, PID %d", m.Ready(), m.PID())
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseKillsAfterGrace(t *testing.T) {
	cfg := config(t, "IGNORE_SIGTERM=1")
	cfg.StopGrace = 300 * time.Millisecond
	m := start(t, cfg)
	pid := m.PID()
	began := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < cfg.StopGrace {
		t.Errorf("Close took %s, less than the grace %s for a server that ignores SIGTERM", d, cfg.StopGrace)
	}
	if !gone(pid) {
		t.Errorf("server %d still runs", pid)
	}
}

func TestStartFailures(t *testing.T) {
	cmd := server(t)
	tests := []struct {
		name   string
		cfg    func(c *process.Config)
		code   string
		want   string
		inText string // in Error() only: the output tail for operators
	}{
		{"no command", func(c *process.Config) { c.Command = nil }, ferry.EINVALID, "no command", ""},
		{"no model name", func(c *process.Config) { c.ModelName = "" }, ferry.EINVALID, "no model name", ""},
		{"bad port", func(c *process.Config) { c.Port = 70000 }, ferry.EINVALID, "port 70000", ""},
		{"program missing", func(c *process.Config) { c.Command = []string{"/nonexistent/model-server"} }, ferry.EINVALID, "cannot start the model server", ""},
		{"exits at start", func(c *process.Config) { c.Env = append(c.Env, "EXIT_AT_START=3") },
			ferry.EUNAVAILABLE, "exited before it was ready (exit status 3)", "exiting at start as asked"},
		{"not ready in time", func(c *process.Config) {
			c.Env = append(c.Env, "READY_DELAY=600")
			c.ReadyTimeout = 2 * time.Second // time enough to print its first line
		}, ferry.EUNAVAILABLE, "not ready on 127.0.0.1:", "serving summer"},
		{"unknown model", func(c *process.Config) { c.ModelName = "other" }, ferry.EINVALID, `does not serve a model named "other": model other not found`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t)
			cfg.Command = cmd
			tt.cfg(&cfg)
			m, err := process.Start(context.Background(), cfg)
			if err == nil {
				m.Close()
				t.Fatal("Start succeeded, want an error")
			}
			if code := ferry.ErrorCode(err); code != tt.code {
				t.Errorf("code = %s (%v), want %s", code, err, tt.code)
			}
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if tt.inText != "" && !strings.Contains(err.Error(), tt.inText) {
				t.Errorf("error %q does not show the output %q", err, tt.inText)
			}
		})
	}
}

func writePackage(t *testing.T, flavors string) *model.Package {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte("artifact_path: model\nflavors:\n"+flavors), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg, err := model.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

func TestLoadPyFunc(t *testing.T) {
	pkg := writePackage(t, "  python_function:\n    loader_module: mlflow.pyfunc.model\n    python_model: python_model.pkl\n")
	cfg := config(t)
	m, err := process.Load(context.Background(), pkg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	di := info(t, m)
	if di.ModelDir == nil || *di.ModelDir != pkg.Dir {
		t.Errorf("FERRY_MODEL_DIR = %v, want %s", di.ModelDir, pkg.Dir)
	}
	if di.Cwd != pkg.Dir {
		t.Errorf("cwd = %s, want the package %s", di.Cwd, pkg.Dir)
	}
	if _, err := m.Predict(context.Background(), sumInputs()); err != nil {
		t.Fatal(err)
	}

	t.Run("registry", func(t *testing.T) {
		reg := runtime.Registry{model.FlavorPyFunc: process.Loader(cfg)}
		rm, err := reg.Load(context.Background(), pkg)
		if err != nil {
			t.Fatal(err)
		}
		defer rm.Close()
		if rm.Metadata().Platform != process.Platform {
			t.Errorf("Platform = %q", rm.Metadata().Platform)
		}
	})
	t.Run("no python_function flavor", func(t *testing.T) {
		other := writePackage(t, "  onnx:\n    data: model.onnx\n")
		_, err := process.Load(context.Background(), other, cfg)
		if code := ferry.ErrorCode(err); code != ferry.ENOTFOUND {
			t.Errorf("Load = %v, want ENOTFOUND", err)
		}
	})
	t.Run("no command", func(t *testing.T) {
		c := cfg
		c.Command = nil
		_, err := process.Load(context.Background(), pkg, c)
		if code := ferry.ErrorCode(err); code != ferry.EINVALID || !strings.Contains(err.Error(), "no command is configured") {
			t.Errorf("Load = %v, want EINVALID naming the missing command", err)
		}
	})
}

var _ io.Writer = (*logBuffer)(nil)
