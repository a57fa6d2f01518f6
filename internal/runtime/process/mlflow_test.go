package process_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/process"
)

// mlflowServer returns `mlflow models serve …` with the stand-in of
// testdata/mlflowserver.py in mlflow's place: the default command's own
// arguments, so that the placeholders and flags are the ones used for real.
func mlflowServer(t *testing.T) []string {
	t.Helper()
	v2 := server(t) // skips without python3
	script, err := filepath.Abs("testdata/mlflowserver.py")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{v2[0], script}, process.DefaultMLflowCommand()[1:]...)
}

// delayModel is a python_function package of three columns — distance
// (double), carrier (string), hour (long, optional) — and one unnamed double
// output, as mlflow.sklearn.log_model writes it, with the stand-in's
// model.json. outputs replaces the signature's outputs when not empty.
func delayModel(t *testing.T, outputs string) *model.Package {
	t.Helper()
	if outputs == "" {
		outputs = `[{"type": "double", "required": true}]`
	}
	dir := t.TempDir()
	files := map[string]string{
		"MLmodel": "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n" +
			"    python_version: 3.11.7\n    env:\n      virtualenv: python_env.yaml\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n" +
			"mlflow_version: 2.17.2\nsignature:\n" +
			`  inputs: '[{"name": "distance", "type": "double", "required": true}, {"name": "carrier", "type": "string", "required": true}, {"name": "hour", "type": "long", "required": false}]'` + "\n" +
			"  outputs: '" + outputs + "'\n",
		"model.json": `{"inputs": ["distance", "carrier"], "weights": {"distance": 0.125, "hour": 0.5}, "carriers": {"AA": 1, "UA": 2}, "bias": 0.25}`,
		"model.pkl":  "not read by the stand-in",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := model.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// mlflowConfig is a Config for the stand-in with short timeouts.
func mlflowConfig(t *testing.T, env ...string) process.Config {
	cfg := config(t, env...)
	cfg.Protocol, cfg.Command, cfg.ModelName = process.ProtocolMLflow, mlflowServer(t), ""
	return cfg
}

func loadMLflow(t *testing.T, pkg *model.Package, cfg process.Config) *process.Model {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := process.Load(ctx, pkg, cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type standinInfo struct {
	PID         int             `json:"pid"`
	Argv        []string        `json:"argv"`
	Invocations int             `json:"invocations"`
	LastRequest json.RawMessage `json:"last_request"`
}

func standin(t *testing.T, addr string) standinInfo {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var si standinInfo
	if err := json.NewDecoder(resp.Body).Decode(&si); err != nil {
		t.Fatal(err)
	}
	return si
}

// delayInputs are two rows as the serving stage builds them.
func delayInputs() []runtime.Tensor {
	return []runtime.Tensor{
		{Name: "distance", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{300, 1000}},
		{Name: "carrier", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"AA", "UA"}},
		{Name: "hour", Datatype: runtime.INT64, Shape: []int64{2}, Int: []int64{8, 20}},
	}
}

func TestMLflowProtocolLoadPredict(t *testing.T) {
	pkg := delayModel(t, "")
	m := loadMLflow(t, pkg, mlflowConfig(t))

	want := runtime.Metadata{Platform: "process", Outputs: []runtime.TensorSpec{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{-1}}}}
	if md := m.Metadata(); !reflect.DeepEqual(md, want) {
		t.Errorf("Metadata = %+v, want %+v (inputs come from the signature)", md, want)
	}
	si := standin(t, m.Addr())
	port := m.Addr()[strings.LastIndex(m.Addr(), ":")+1:]
	wantArgv := []string{"models", "serve", "-m", pkg.Dir, "--env-manager", "local", "-h", "127.0.0.1", "-p", port}
	if !reflect.DeepEqual(si.Argv, wantArgv) {
		t.Errorf("argv = %q, want %q ({model_dir} and {port} replaced)", si.Argv, wantArgv)
	}

	got, err := m.Predict(context.Background(), delayInputs())
	if err != nil {
		t.Fatal(err)
	}
	wantOut := []runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}}}
	if !reflect.DeepEqual(got, wantOut) {
		t.Errorf("Predict = %+v, want %+v", got, wantOut)
	}
	var sent map[string]any
	if err := json.Unmarshal(standin(t, m.Addr()).LastRequest, &sent); err != nil {
		t.Fatal(err)
	}
	wantSent := map[string]any{"dataframe_split": map[string]any{
		"columns": []any{"distance", "carrier", "hour"},
		"data":    []any{[]any{300.0, "AA", 8.0}, []any{1000.0, "UA", 20.0}},
	}}
	if !reflect.DeepEqual(sent, wantSent) {
		t.Errorf("sent %v, want %v", sent, wantSent)
	}
}

func TestMLflowProtocolPredictionForms(t *testing.T) {
	tests := []struct {
		form    string
		outputs string // the signature's outputs; "" for one unnamed double
		want    []runtime.Tensor
	}{
		{"list", "", []runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}}}},
		{"bare", "", []runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}}}},
		{"series", "", []runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}}}},
		{"named by the signature", `[{"name": "delay", "type": "double"}]`,
			[]runtime.Tensor{{Name: "delay", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}}}},
		{"records", `[{"name": "delay", "type": "double"}, {"name": "late", "type": "boolean"}]`, []runtime.Tensor{
			{Name: "delay", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}},
			{Name: "late", Datatype: runtime.BOOL, Shape: []int64{2}, Bool: []bool{true, true}},
		}},
		{"dict", `[{"name": "delay", "type": "double"}, {"name": "late", "type": "boolean"}]`, []runtime.Tensor{
			{Name: "delay", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{42.75, 137.25}},
			{Name: "late", Datatype: runtime.BOOL, Shape: []int64{2}, Bool: []bool{true, true}},
		}},
		{"matrix", `[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]`,
			[]runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{2, 2}, FP64: []float64{42.75, -42.75, 137.25, -137.25}}}},
	}
	for _, tt := range tests {
		t.Run(tt.form, func(t *testing.T) {
			form, _, _ := strings.Cut(tt.form, " ")
			if form == "named" {
				form = "list"
			}
			m := loadMLflow(t, delayModel(t, tt.outputs), mlflowConfig(t, "OUTPUT_FORM="+form))
			got, err := m.Predict(context.Background(), delayInputs())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Predict = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMLflowProtocolErrors(t *testing.T) {
	m := loadMLflow(t, delayModel(t, ""), mlflowConfig(t))
	row := func(distance float64, carrier string) []runtime.Tensor {
		return []runtime.Tensor{
			{Name: "distance", Datatype: runtime.FP64, Shape: []int64{1}, FP64: []float64{distance}},
			{Name: "carrier", Datatype: runtime.BYTES, Shape: []int64{1}, Str: []string{carrier}},
		}
	}
	tests := []struct {
		name    string
		in      []runtime.Tensor
		code    string
		want    string
		notWant string
	}{
		{"4xx passes MLflow's message through", row(-1, "AA"), ferry.EINVALID,
			"Encountered an unexpected error while evaluating the model", "Traceback"},
		{"4xx of a missing column", row(1, "AA")[:1], ferry.EINVALID, "Model is missing inputs ['carrier'].", ""},
		{"5xx is unavailable with MLflow's message, not its stack trace", row(1, "BOOM"), ferry.EUNAVAILABLE,
			"the model server failed (HTTP 500): the model crashed on BOOM", "Traceback"},
		{"columns of different lengths", []runtime.Tensor{
			{Name: "distance", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{1, 2}},
			{Name: "carrier", Datatype: runtime.BYTES, Shape: []int64{1}, Str: []string{"AA"}},
		}, ferry.EINVALID, `input "carrier" has 1 rows, "distance" has 2`, ""},
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
}

func TestMLflowProtocolRestart(t *testing.T) {
	m := loadMLflow(t, delayModel(t, ""), mlflowConfig(t, "READY_DELAY=0.3"))
	first := m.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the runtime notices the server died", func() bool { return !m.Ready() })
	got, err := m.Predict(context.Background(), delayInputs()) // waits for /ping
	if err != nil {
		t.Fatalf("Predict during the restart: %v", err)
	}
	if got[0].FP64[1] != 137.25 {
		t.Errorf("Predict = %+v", got)
	}
	if m.Restarts() != 1 || m.PID() == first || m.PID() == 0 {
		t.Errorf("Restarts %d, PID %d (before %d)", m.Restarts(), m.PID(), first)
	}
}

func TestMLflowProtocolLoadFailures(t *testing.T) {
	cmd := mlflowServer(t)
	tests := []struct {
		name   string
		cfg    func(t *testing.T, c *process.Config)
		code   string
		want   []string // in the message
		inText []string // in Error() only: the output for operators
	}{
		{"mlflow not installed", func(t *testing.T, c *process.Config) {
			c.Command = nil // the default: mlflow models serve
			t.Setenv("PATH", t.TempDir())
		}, ferry.EINVALID, []string{`"mlflow" is not on PATH`, "mlflow models serve", "pip install mlflow"}, nil},
		{"python not installed", func(t *testing.T, c *process.Config) {
			c.Command = append([]string{"python3-not-installed"}, c.Command[1:]...)
		}, ferry.EINVALID, []string{`"python3-not-installed" is not on PATH`}, nil},
		{"exits at start", func(t *testing.T, c *process.Config) { c.Env = append(c.Env, "EXIT_AT_START=1") },
			ferry.EUNAVAILABLE, []string{"exited before it was ready (exit status 1)"},
			[]string{"Traceback (most recent call last):", "ModuleNotFoundError: No module named 'sklearn'"}},
		{"no /ping in time", func(t *testing.T, c *process.Config) {
			c.Env = append(c.Env, "READY_DELAY=600")
			c.ReadyTimeout = 2 * time.Second
		}, ferry.EUNAVAILABLE, []string{"not ready on 127.0.0.1:"}, []string{"mlflowserver: serving"}},
		{"unknown protocol", func(t *testing.T, c *process.Config) { c.Protocol = "grpc" }, ferry.EINVALID, []string{`unknown protocol "grpc"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mlflowConfig(t)
			cfg.Command = cmd
			tt.cfg(t, &cfg)
			m, err := process.Load(context.Background(), delayModel(t, ""), cfg)
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded, want an error")
			}
			if code := ferry.ErrorCode(err); code != tt.code {
				t.Errorf("code = %s (%v), want %s", code, err, tt.code)
			}
			for _, w := range tt.want {
				if msg := ferry.ErrorMessage(err); !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			for _, w := range tt.inText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not show the output line %q", err, w)
				}
			}
		})
	}
}
