package job_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/job"
	"github.com/ferry-ml/ferry/internal/testserver"
)

// newServer serves Ferry's API over a real SQLite file and artifact
// directory, and returns a client of it.
func newServer(t *testing.T) *client.Client {
	c, _ := testserver.Client(t)
	return c
}

// runJob writes script and a spec running it with python3, runs the job
// against a real server and returns the run.
func runJob(t *testing.T, script, specYAML string) (*client.Client, job.Status, client.Run) {
	t.Helper()
	python, err := exec.LookPath(pythonCmd())
	if err != nil {
		t.Skip("python3 not installed")
	}
	c := newServer(t)
	dir := t.TempDir()
	for name, content := range map[string]string{"train.py": script, "job.yaml": strings.ReplaceAll(specYAML, "PYTHON", python)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := job.LoadSpec(filepath.Join(dir, "job.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := job.NewLocal(filepath.Join(t.TempDir(), "jobs"), job.LocalOptions{Environ: job.InheritedEnv(os.Environ())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	r, err := job.NewRunner(app.Remote{Client: c}, ex, job.RunnerOptions{TrackingURI: c.URL(), WorkDir: ex.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := r.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Wait(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.GetRun(ctx, sub.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != job.Succeeded {
		rc, _ := c.DownloadArtifact(ctx, sub.RunID, job.LogArtifact)
		var log []byte
		if rc != nil {
			log, _ = io.ReadAll(rc)
			rc.Close()
		}
		t.Fatalf("job %s: %+v\nlog:\n%s", sub.JobID, st, log)
	}
	return c, st, run
}

// urllibScript logs a param and a metric through the MLflow REST API with
// nothing but Python's standard library.
const urllibScript = `import json, os, sys, time, urllib.request

uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
body = {
    "run_id": os.environ["MLFLOW_RUN_ID"],
    "params": [{"key": "optimizer", "value": "sgd"}],
    "metrics": [{"key": "accuracy", "value": float(sys.argv[1]) * 9, "timestamp": int(time.time() * 1000), "step": 1}],
}
req = urllib.request.Request(uri + "/api/2.0/mlflow/runs/log-batch", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
with urllib.request.urlopen(req) as resp:
    print("log-batch answered", resp.status)
with open(os.path.join(sys.argv[2], "model.txt"), "w") as f:
    f.write("trained\n")
`

func TestJobLogsToRealServer(t *testing.T) {
	c, st, run := runJob(t, urllibScript, `type: command
experiment_name: e2e
display_name: python-urllib
command: PYTHON train.py ${{inputs.lr}} ${{outputs.model}}
inputs: {lr: 0.1}
outputs: {model: {type: uri_folder}}
`)
	ctx := context.Background()
	if run.Info.Status != client.StatusFinished || run.Info.EndTime == 0 || run.Info.RunName != "python-urllib" || st.Attempts != 1 {
		t.Fatalf("run info: %+v", run.Info)
	}
	for key, want := range map[string]string{"lr": "0.1", "optimizer": "sgd"} {
		if got, _ := run.Param(key); got != want {
			t.Errorf("param %s = %q, want %q", key, got, want)
		}
	}
	if acc, ok := run.Metric("accuracy"); !ok || acc < 0.899 || acc > 0.901 {
		t.Errorf("metric accuracy = %v, %v", acc, ok)
	}
	for key, want := range map[string]string{"mlflow.source.type": "JOB", "ferry.job.exit_code": "0", "ferry.job.attempts": "1"} {
		if got, _ := run.Tag(key); got != want {
			t.Errorf("tag %s = %q, want %q", key, got, want)
		}
	}
	for path, want := range map[string]string{job.LogArtifact: "log-batch answered 200\n", "outputs/model/model.txt": "trained\n"} {
		rc, err := c.DownloadArtifact(ctx, run.Info.RunID, path)
		if err != nil {
			t.Fatalf("artifact %s: %v", path, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != want {
			t.Errorf("artifact %s = %q, want %q", path, b, want)
		}
	}
}

// pythonCmd is the interpreter of the jobs: FERRY_MLFLOW_PYTHON, else python3.
func pythonCmd() string {
	if p := os.Getenv("FERRY_MLFLOW_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// TestJobWithMLflowClient runs a job whose script uses the official mlflow
// client. It runs where mlflow is importable: installed, or from the
// PYTHONPATH FERRY_MLFLOW_PYTHONPATH names.
func TestJobWithMLflowClient(t *testing.T) {
	if pp := os.Getenv("FERRY_MLFLOW_PYTHONPATH"); pp != "" {
		t.Setenv("PYTHONPATH", pp) // the job inherits the environment
	}
	if exec.Command(pythonCmd(), "-c", "import mlflow").Run() != nil {
		t.Skip("the mlflow Python package is not importable (install it, or set FERRY_MLFLOW_PYTHONPATH to an MLflow source tree); " +
			"in CI the calls this script's client makes (runs/get, runs/log-parameter, runs/log-metric, runs/update) are checked " +
			"against MLflow 2.17.2's recorded answers by internal/httpapi TestMLflowRecorded: testdata/mlflow/recorded/runs.json, " +
			"and the whole client suite's exchanges in testdata/mlflow/recorded/client_suite.json")
	}
	_, _, run := runJob(t, `import mlflow
with mlflow.start_run():  # resumes MLFLOW_RUN_ID
    mlflow.log_param("optimizer", "adam")
    mlflow.log_metric("accuracy", 0.9, step=1)
`, "type: command\ncommand: PYTHON train.py\n")
	if v, _ := run.Param("optimizer"); v != "adam" || run.Info.Status != client.StatusFinished {
		t.Fatalf("run: %+v", run)
	}
	if acc, ok := run.Metric("accuracy"); !ok || acc != 0.9 {
		t.Fatalf("metric: %v %v", acc, ok)
	}
}
