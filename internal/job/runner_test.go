package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/testenv"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// fakeTracker is a Tracker that keeps what it is told in memory.
type fakeTracker struct {
	mu          sync.Mutex
	experiments map[string]string // name → ID
	runs        map[string]*fakeRun
	failCreate  error
}

type fakeRun struct {
	req       tracking.RunCreate
	params    map[string]string
	tags      map[string]string
	artifacts map[string]string
	status    string
	endTime   int64
}

func newFakeTracker() *fakeTracker {
	return &fakeTracker{experiments: map[string]string{"Default": "0"}, runs: map[string]*fakeRun{}}
}

func (f *fakeTracker) EnsureExperiment(ctx context.Context, name string) (tracking.Experiment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.experiments[name]
	if !ok {
		id = fmt.Sprint(len(f.experiments))
		f.experiments[name] = id
	}
	return tracking.Experiment{ID: id, Name: name}, nil
}

func (f *fakeTracker) CreateRun(ctx context.Context, req tracking.RunCreate) (tracking.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failCreate != nil {
		return tracking.Run{}, f.failCreate
	}
	id := fmt.Sprintf("run%d", len(f.runs)+1)
	r := &fakeRun{req: req, params: map[string]string{}, tags: map[string]string{}, artifacts: map[string]string{}, status: tracking.StatusRunning}
	for _, t := range req.Tags {
		r.tags[t.Key] = t.Value
	}
	f.runs[id] = r
	return tracking.Run{Info: tracking.RunInfo{RunID: id, ExperimentID: req.ExperimentID, Status: r.status}}, nil
}

func (f *fakeTracker) run(id string) (*fakeRun, error) {
	r, ok := f.runs[id]
	if !ok {
		return nil, &ferry.Error{Code: ferry.ENOTFOUND, Message: "no run " + id}
	}
	return r, nil
}

func (f *fakeTracker) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.run(runID)
	if err != nil {
		return err
	}
	for _, p := range params {
		r.params[p.Key] = p.Value
	}
	for _, t := range tags {
		r.tags[t.Key] = t.Value
	}
	return nil
}

func (f *fakeTracker) UpdateRun(ctx context.Context, id string, u tracking.RunUpdate) (tracking.RunInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.run(id)
	if err != nil {
		return tracking.RunInfo{}, err
	}
	r.status, r.endTime = u.Status, u.EndTime
	return tracking.RunInfo{RunID: id, Status: r.status, EndTime: r.endTime}, nil
}

func (f *fakeTracker) UploadArtifact(ctx context.Context, runID, path string, rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.run(runID)
	if err != nil {
		return err
	}
	r.artifacts[path] = string(b)
	return nil
}

// get returns a copy of the run's state.
func (f *fakeTracker) get(t *testing.T, id string) fakeRun {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.run(id)
	if err != nil {
		t.Fatal(err)
	}
	return *r
}

// failingExecutor refuses every job.
type failingExecutor struct{ Executor }

func (failingExecutor) Submit(context.Context, Job) (string, error) {
	return "", ferry.Errorf(ferry.EUNAVAILABLE, "no capacity")
}

type runnerEnv struct {
	tracker *fakeTracker
	ex      *Local
	runner  *Runner
	dir     string // where specs and their files live
}

func newRunnerEnv(t *testing.T) *runnerEnv {
	t.Helper()
	e := &runnerEnv{tracker: newFakeTracker(), dir: specDir(t)}
	e.ex = newLocal(t, t.TempDir(), LocalOptions{})
	r, err := NewRunner(e.tracker, e.ex, RunnerOptions{TrackingURI: "http://127.0.0.1:9", WorkDir: e.ex.Dir(),
		SourceTags: func(ctx context.Context, dir string) map[string]string {
			return map[string]string{"mlflow.source.type": "LOCAL", "mlflow.user": "tester", "mlflow.source.git.commit": "c0ffee"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.runner = r
	return e
}

func (e *runnerEnv) spec(t *testing.T, yaml string, sets ...string) *Spec {
	t.Helper()
	path := filepath.Join(e.dir, "job.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(path, sets)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunnerRecordsJob(t *testing.T) {
	e := newRunnerEnv(t)
	s := e.spec(t, `type: command
name: train
experiment_name: churn
description: A test job.
code: ./src
command: |
  echo "lr=${{inputs.lr}} run=$MLFLOW_RUN_ID exp=$MLFLOW_EXPERIMENT_ID uri=$MLFLOW_TRACKING_URI job=$FERRY_JOB_ID seed=$SEED"
  wc -l < ${{inputs.data}}
  echo weights > ${{outputs.model}}/weights.txt
  mkdir -p ${{outputs.model}}/sub && echo 1 > ${{outputs.model}}/sub/x
  echo extra > $FERRY_OUTPUTS_DIR/notes.txt
inputs: {lr: 0.1, data: {type: uri_file, path: data.csv}}
outputs: {model: {type: uri_folder}}
environment_variables: {SEED: 7}
tags: {team: growth, mlflow.source.type: SPOOFED}
`, "inputs.lr=0.2")
	ctx := context.Background()
	sub, err := e.runner.Submit(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.runner.Wait(ctx, sub)
	if err != nil || st.State != Succeeded {
		t.Fatalf("wait: %+v, %v", st, err)
	}
	r := e.tracker.get(t, sub.RunID)
	want := map[string]string{
		"tag ferry.job.id":                   sub.JobID,
		"tag mlflow.source.type":             "JOB",
		"tag mlflow.source.name":             s.Path,
		"tag mlflow.source.git.commit":       "c0ffee",
		"tag mlflow.note.content":            "A test job.",
		"tag ferry.job.name":                 "train",
		"tag team":                           "growth",
		"tag ferry.job.exit_code":            "0",
		"tag ferry.job.attempts":             "1",
		"tag ferry.job.state":                "Succeeded",
		"param lr":                           "0.2",
		"param data":                         "data.csv",
		"run name":                           "train",
		"user":                               "tester",
		"experiment":                         "1",
		"status":                             tracking.StatusFinished,
		"artifact outputs/model/weights.txt": "weights\n",
		"artifact outputs/model/sub/x":       "1\n",
		"artifact outputs/notes.txt":         "extra\n",
		"artifact logs/job.log":              fmt.Sprintf("lr=0.2 run=%s exp=1 uri=http://127.0.0.1:9 job=%s seed=7\n2\n", sub.RunID, sub.JobID),
	}
	got := map[string]string{"run name": r.req.RunName, "user": r.req.UserID, "experiment": r.req.ExperimentID, "status": r.status}
	for k, v := range r.tags {
		got["tag "+k] = v
	}
	for k, v := range r.params {
		got["param "+k] = v
	}
	for k, v := range r.artifacts {
		got["artifact "+k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if r.endTime != st.EndedAt.UnixMilli() || len(r.artifacts) != 4 {
		t.Errorf("end time %d (job ended %v), artifacts %v", r.endTime, st.EndedAt, r.artifacts)
	}
}

func TestRunnerOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		state     State
		runStatus string
		tags      map[string]string
	}{
		{"failure", "type: command\ncommand: echo oops; exit 2\n", Failed, tracking.StatusFailed,
			map[string]string{TagExitCode: "2", TagAttempts: "1", TagMessage: "the command ended with exit status 2"}},
		{"timeout", "type: command\ncommand: sleep 60\nlimits: {timeout: 0.2}\n", TimedOut, tracking.StatusFailed,
			map[string]string{TagExitCode: "-1", TagState: "TimedOut", TagMessage: "timed out after 200ms"}},
		{"retried", "type: command\ncommand: 'n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 2 ]'\ncode: ./src\nretries: {max: 2, backoff: 0.01}\n",
			Succeeded, tracking.StatusFinished, map[string]string{TagExitCode: "0", TagAttempts: "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRunnerEnv(t)
			ctx := context.Background()
			sub, err := e.runner.Submit(ctx, e.spec(t, tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.runner.Wait(ctx, sub)
			if err != nil || st.State != tt.state {
				t.Fatalf("got %+v, %v; want %s", st, err, tt.state)
			}
			r := e.tracker.get(t, sub.RunID)
			if r.status != tt.runStatus {
				t.Errorf("run status %s, want %s", r.status, tt.runStatus)
			}
			for k, v := range tt.tags {
				if r.tags[k] != v {
					t.Errorf("tag %s = %q, want %q", k, r.tags[k], v)
				}
			}
			if _, ok := r.artifacts[LogArtifact]; !ok {
				t.Errorf("no log artifact: %v", r.artifacts)
			}
		})
	}
}

func TestRunnerInterrupted(t *testing.T) {
	e := newRunnerEnv(t)
	sub, err := e.runner.Submit(context.Background(), e.spec(t, "type: command\ncommand: echo started; sleep 60\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var st Status
	go func() {
		defer close(done)
		st, err = e.runner.Wait(ctx, sub)
	}()
	waitOutput(t, e.ex, sub.JobID, "started")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after its context ended")
	}
	if !errors.Is(err, context.Canceled) || st.State != Cancelled {
		t.Fatalf("got %+v, %v", st, err)
	}
	if r := e.tracker.get(t, sub.RunID); r.status != tracking.StatusKilled || r.tags[TagState] != "Cancelled" {
		t.Fatalf("run: %s %v", r.status, r.tags)
	}
}

func TestRunnerSubmitFailures(t *testing.T) {
	t.Run("executor refuses", func(t *testing.T) {
		e := newRunnerEnv(t)
		r, _ := NewRunner(e.tracker, failingExecutor{}, RunnerOptions{TrackingURI: "http://x", WorkDir: t.TempDir()})
		sub, err := r.Submit(context.Background(), e.spec(t, "type: command\ncommand: true\n"))
		if ferry.ErrorCode(err) != ferry.EUNAVAILABLE {
			t.Fatalf("got %v", err)
		}
		if run := e.tracker.get(t, sub.RunID); run.status != tracking.StatusFailed || run.endTime == 0 {
			t.Fatalf("run not failed: %+v", run)
		}
	})
	t.Run("tracking refuses", func(t *testing.T) {
		e := newRunnerEnv(t)
		e.tracker.failCreate = errors.New("server down")
		_, err := e.runner.Submit(context.Background(), e.spec(t, "type: command\ncommand: true\n"))
		if err == nil || !strings.Contains(err.Error(), "create run: server down") {
			t.Fatalf("got %v", err)
		}
		if list, _ := e.ex.List(context.Background()); len(list) != 0 {
			t.Fatalf("a job started without a run: %+v", list)
		}
	})
}

func TestRunnerRecordsGitCommit(t *testing.T) {
	testenv.NeedGit(t)
	e := newRunnerEnv(t)
	repo := filepath.Join(e.dir, "src")
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "-A"},
		{"-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q", "--allow-empty", "-m", "init"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	head, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(e.tracker, e.ex, RunnerOptions{TrackingURI: "http://x", WorkDir: e.ex.Dir()}) // the real SourceTags
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := r.Submit(ctx, e.spec(t, "type: command\ncode: src\ncommand: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(ctx, sub); err != nil {
		t.Fatal(err)
	}
	run := e.tracker.get(t, sub.RunID)
	if run.tags["mlflow.source.git.commit"] != strings.TrimSpace(string(head)) || run.tags["ferry.source.git.dirty"] != "false" || run.tags["mlflow.source.type"] != "JOB" {
		t.Fatalf("tags: %v", run.tags)
	}
}
