package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runJobsCLI runs the CLI like runCLI, with a PATH for the jobs' commands.
func runJobsCLI(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"--data", data}, args...), jobsEnv(t, &out, &errb))
	return code, out.String(), errb.String()
}

func jobsEnv(t *testing.T, out, errs io.Writer) Env {
	return Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errs,
		Environ: []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "FERRY_S3_ACCESS_KEY=AKIA", "FERRY_S3_SECRET_KEY=hunter2"}}
}

// writeSpec writes files (the spec as job.yaml) into a new directory and
// returns the spec's path.
func writeSpec(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "job.yaml")
}

var submitted = regexp.MustCompile(`Job ([0-9a-f]{12}): run ([0-9a-f]{32}) in experiment "([^"]*)"`)

type runJSON struct {
	Info struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	} `json:"info"`
	Data struct {
		Metrics []struct {
			Key   string  `json:"key"`
			Value float64 `json:"value"`
		} `json:"metrics"`
		Params []struct{ Key, Value string } `json:"params"`
		Tags   []struct{ Key, Value string } `json:"tags"`
	} `json:"data"`
}

func getRun(t *testing.T, data, id string) runJSON {
	t.Helper()
	code, out, errs := runJobsCLI(t, data, "runs", "get", id, "-o", "json")
	var r runJSON
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("runs get: %d %s %s", code, out, errs)
	}
	return r
}

func (r runJSON) value(kind, key string) string {
	list := r.Data.Tags
	if kind == "param" {
		list = r.Data.Params
	}
	for _, kv := range list {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

func TestJobsSubmitAndInspect(t *testing.T) {
	data := t.TempDir()
	spec := writeSpec(t, map[string]string{"job.yaml": `type: command
name: hello
experiment_name: jobs-cli
command: echo "lr=${{inputs.lr}} secret=${FERRY_S3_SECRET_KEY:-unset}"; echo model > ${{outputs.model}}/m.txt
inputs: {lr: 0.1}
outputs: {model: {type: uri_folder}}
`})
	code, out, errs := runJobsCLI(t, data, "jobs", "submit", "-f", spec, "--set", "inputs.lr=0.3")
	m := submitted.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("submit: %d\n%s\n%s", code, out, errs)
	}
	jobID, runID := m[1], m[2]
	if !strings.Contains(out, "lr=0.3 secret=unset\n") || !strings.Contains(out, "Job "+jobID+" Succeeded in ") ||
		!strings.Contains(out, "(exit code 0, 1 attempt); run "+runID+" FINISHED.") {
		t.Fatalf("submit output:\n%s", out)
	}
	r := getRun(t, data, runID)
	if r.Info.Status != "FINISHED" || r.value("param", "lr") != "0.3" || r.value("tag", "ferry.job.id") != jobID || r.value("tag", "mlflow.source.type") != "JOB" {
		t.Fatalf("run: %+v", r)
	}

	code, out, _ = runJobsCLI(t, data, "jobs", "list", "-o", "json")
	var list []struct {
		ID     string            `json:"id"`
		State  string            `json:"state"`
		Labels map[string]string `json:"labels"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].ID != jobID || list[0].State != "Succeeded" || list[0].Labels["run_id"] != runID {
		t.Fatalf("list: %d %s", code, out)
	}
	code, out, _ = runJobsCLI(t, data, "jobs", "list")
	if code != 0 || !strings.Contains(out, "JOB ID") || !strings.Contains(out, jobID+"  hello") {
		t.Fatalf("list table: %d\n%s", code, out)
	}
	code, out, _ = runJobsCLI(t, data, "jobs", "status", jobID)
	if code != 0 || !regexp.MustCompile(`State:\s+Succeeded`).MatchString(out) || !strings.Contains(out, runID) {
		t.Fatalf("status: %d\n%s", code, out)
	}
	code, out, _ = runJobsCLI(t, data, "jobs", "status", jobID, "-o", "yaml")
	if code != 0 || !strings.Contains(out, "state: Succeeded") || !strings.Contains(out, "exit_code: 0") {
		t.Fatalf("status yaml: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"jobs", "logs", jobID}, {"jobs", "logs", "-f", jobID}} {
		if code, out, _ = runJobsCLI(t, data, args...); code != 0 || out != "lr=0.3 secret=unset\n" {
			t.Fatalf("%v: %d %q", args, code, out)
		}
	}
	code, out, _ = runJobsCLI(t, data, "jobs", "cancel", jobID)
	if code != 0 || out != "Job "+jobID+" has already ended: Succeeded.\n" {
		t.Fatalf("cancel: %d %q", code, out)
	}
	code, out, _ = runJobsCLI(t, data, "runs", "get", runID)
	if code != 0 || !strings.Contains(out, "FINISHED") {
		t.Fatalf("runs get: %d\n%s", code, out)
	}
}

func TestJobsSubmitJSON(t *testing.T) {
	data := t.TempDir()
	spec := writeSpec(t, map[string]string{"job.yaml": "type: command\ncommand: echo to-stderr\n"})
	code, out, errs := runJobsCLI(t, data, "jobs", "submit", "-f", spec, "-o", "json")
	var res struct {
		State     string `json:"state"`
		RunID     string `json:"run_id"`
		RunStatus string `json:"run_status"`
		Attempts  int    `json:"attempts"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.State != "Succeeded" || res.RunStatus != "FINISHED" || res.Attempts != 1 || res.RunID == "" {
		t.Fatalf("submit -o json: %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "to-stderr") {
		t.Fatalf("logs not on stderr: %q", errs)
	}
}

func TestJobsSubmitFailure(t *testing.T) {
	data := t.TempDir()
	spec := writeSpec(t, map[string]string{"job.yaml": "type: command\ncommand: echo giving up; exit 3\nretries: {max: 1, backoff: 0.01}\n"})
	code, out, errs := runJobsCLI(t, data, "jobs", "submit", "-f", spec)
	m := submitted.FindStringSubmatch(out)
	if code != 1 || m == nil || !strings.Contains(errs, "Error: job "+m[1]+" failed: the command ended with exit status 3 (attempt 2 of 2)") {
		t.Fatalf("submit: %d\n%s\n%s", code, out, errs)
	}
	r := getRun(t, data, m[2])
	if r.Info.Status != "FAILED" || r.value("tag", "ferry.job.exit_code") != "3" || r.value("tag", "ferry.job.attempts") != "2" {
		t.Fatalf("run: %+v", r)
	}
}

// TestJobsPythonLogsToEmbeddedServer runs a Python job that logs through
// the MLflow REST API to the server the CLI embeds over its data directory.
func TestJobsPythonLogsToEmbeddedServer(t *testing.T) {
	python, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skip("python3 not installed")
	}
	data := t.TempDir()
	spec := writeSpec(t, map[string]string{
		"job.yaml": "type: command\ncommand: " + strings.TrimSpace(string(python)) + " log.py ${{inputs.lr}}\ninputs: {lr: 0.05}\n",
		"log.py": `import json, os, sys, time, urllib.request
body = {"run_id": os.environ["MLFLOW_RUN_ID"], "params": [{"key": "from_script", "value": "yes"}],
        "metrics": [{"key": "loss", "value": float(sys.argv[1]) * 2, "timestamp": int(time.time() * 1000), "step": 0}]}
req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/runs/log-batch",
                             data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
print("status", urllib.request.urlopen(req).status)
`,
	})
	code, out, errs := runJobsCLI(t, data, "jobs", "submit", "-f", spec)
	m := submitted.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "status 200") {
		t.Fatalf("submit: %d\n%s\n%s", code, out, errs)
	}
	r := getRun(t, data, m[2])
	if r.Info.Status != "FINISHED" || r.value("param", "from_script") != "yes" || r.value("param", "lr") != "0.05" ||
		len(r.Data.Metrics) != 1 || r.Data.Metrics[0].Key != "loss" || r.Data.Metrics[0].Value != 0.1 {
		t.Fatalf("run: %+v", r)
	}
}

// TestJobsCancelFromAnotherCommand cancels, with `jobs cancel`, a job that a
// concurrent `jobs submit` supervises.
func TestJobsCancelFromAnotherCommand(t *testing.T) {
	data := t.TempDir()
	spec := writeSpec(t, map[string]string{"job.yaml": "type: command\ncommand: echo started; sleep 60\n"})
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- Run(context.Background(), []string{"--data", data, "jobs", "submit", "-f", spec}, jobsEnv(t, pw, &errb))
		pw.Close()
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("submit ended early: %s", errb.String())
			}
			return l
		case <-deadline.C:
			t.Fatal("no output from submit")
		}
		return ""
	}
	m := submitted.FindStringSubmatch(next())
	if m == nil {
		t.Fatal("no job ID")
	}
	if l := next(); l != "started" {
		t.Fatalf("line %q", l)
	}
	start := time.Now()
	code, out, errs := runJobsCLI(t, data, "jobs", "cancel", m[1])
	if code != 0 || out != "Job "+m[1]+": Cancelled.\n" {
		t.Fatalf("cancel: %d %q %q", code, out, errs)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("cancel took %s", took)
	}
	go func() {
		for range lines { // drain the summary
		}
	}()
	select {
	case code := <-exited:
		if code != 1 || !strings.Contains(errb.String(), "cancelled") {
			t.Fatalf("submit exit %d: %s", code, errb.String())
		}
	case <-deadline.C:
		t.Fatal("submit did not end")
	}
	if r := getRun(t, data, m[2]); r.Info.Status != "KILLED" {
		t.Fatalf("run status %s", r.Info.Status)
	}
}

func TestJobsErrors(t *testing.T) {
	data := t.TempDir()
	unknownField := writeSpec(t, map[string]string{"job.yaml": "type: command\ncommand: ${{inputs.lr}}\ncompute: gpu\n"})
	good := writeSpec(t, map[string]string{"job.yaml": "type: command\ncommand: true\n"})
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no spec", []string{"jobs", "submit"}, 2, "name the job spec with -f FILE"},
		{"missing spec", []string{"jobs", "submit", "-f", filepath.Join(data, "nope.yaml")}, 1, "no such file"},
		{"bad spec", []string{"jobs", "submit", "-f", unknownField}, 1, `line 3: unknown field "compute"; valid fields are $schema, type, name, display_name, experiment_name, description, code, command, inputs, outputs, environment_variables, limits, retries, tags; command: ${{inputs.lr}} names no input`},
		{"bad set", []string{"jobs", "submit", "-f", good, "--set", "lr"}, 1, `--set "lr": want FIELD=VALUE`},
		{"unknown job", []string{"jobs", "status", "0123456789ab"}, 1, `job "0123456789ab" not found`},
		{"logs of unknown job", []string{"jobs", "logs", "nope"}, 1, `job "nope" not found`},
		{"cancel unknown job", []string{"jobs", "cancel", "nope"}, 1, `job "nope" not found`},
		{"status without ID", []string{"jobs", "status"}, 2, "status takes 1 argument(s): JOB_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runJobsCLI(t, data, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
	if code, out, _ := runJobsCLI(t, data, "jobs", "list"); code != 0 || strings.TrimSpace(out) != "JOB ID  NAME  STATE  EXIT  ATTEMPTS  SUBMITTED  DURATION  RUN ID" {
		t.Fatalf("empty list: %d %q", code, out)
	}
}

func TestJobsHelp(t *testing.T) {
	code, out, _ := runJobsCLI(t, t.TempDir(), "jobs", "submit", "--help")
	if code != 0 || !strings.Contains(out, "ferry jobs submit -f job.yaml --set inputs.lr=0.2") || !strings.Contains(out, "--set stringArray") {
		t.Fatalf("help: %d\n%s", code, out)
	}
}
