package job

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
)

func newLocal(t *testing.T, dir string, opts LocalOptions) *Local {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = InheritedEnv(os.Environ())
	}
	ex, err := NewLocal(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return ex
}

func submit(t *testing.T, ex Executor, j Job) string {
	t.Helper()
	id, err := ex.Submit(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitEnd waits for the job to end, failing the test after d.
func waitEnd(t *testing.T, ex Executor, id string, d time.Duration) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	st, err := Wait(ctx, ex, id, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("job %s did not end within %s: %v (status %+v)", id, d, err, st)
	}
	return st
}

// waitOutput follows the job's log until a line contains want.
func waitOutput(t *testing.T, ex Executor, id, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ex.Logs(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return
		}
	}
	t.Fatalf("job %s: no line with %q in its log (%v)", id, want, sc.Err())
}

func readLog(t *testing.T, ex Executor, id string) string {
	t.Helper()
	rc, err := ex.Logs(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually waits until cond holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, d)
		case <-tick.C:
		}
	}
}

// processGone reports whether pid has exited (a zombie has).
func processGone(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

func TestLocalRunsCommand(t *testing.T) {
	dir := t.TempDir()
	work := t.TempDir()
	ex := newLocal(t, dir, LocalOptions{Environ: []string{"PATH=" + os.Getenv("PATH"), "INHERITED=yes", "K=parent"}})
	id := submit(t, ex, Job{
		ID: "hello-1", Name: "hello", Dir: work,
		Command: `echo "out $K $INHERITED"; echo err >&2; pwd; exit 0`,
		Env:     map[string]string{"K": "job"},
		Labels:  map[string]string{"run_id": "r1"},
	})
	st := waitEnd(t, ex, id, 10*time.Second)
	if st.State != Succeeded || st.ExitCode != 0 || st.Attempts != 1 || st.Name != "hello" || st.Labels["run_id"] != "r1" ||
		st.StartedAt.IsZero() || st.EndedAt.Before(st.StartedAt) || st.SubmittedAt.After(st.StartedAt) {
		t.Fatalf("status: %+v", st)
	}
	if got, want := readLog(t, ex, id), "out job yes\nerr\n"+work+"\n"; got != want {
		t.Fatalf("log %q, want %q", got, want)
	}

	other := newLocal(t, dir, LocalOptions{}) // as another process would see it
	for _, follow := range []bool{false, true} {
		if got := readLog(t, other, id); !strings.HasPrefix(got, "out job yes") {
			t.Fatalf("log from another executor (follow %v): %q", follow, got)
		}
	}
	ost, err := other.Status(context.Background(), id)
	if err != nil || ost.State != Succeeded || ost.Labels["run_id"] != "r1" || !ost.EndedAt.Equal(st.EndedAt) {
		t.Fatalf("status from another executor: %+v, %v", ost, err)
	}
	list, err := other.List(context.Background())
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

func TestLocalExitStates(t *testing.T) {
	ex := newLocal(t, t.TempDir(), LocalOptions{})
	tests := []struct {
		name    string
		job     Job
		state   State
		code    int
		message string
	}{
		{"success", Job{Command: "true"}, Succeeded, 0, ""},
		{"exit code", Job{Command: "echo failing; exit 3"}, Failed, 3, "exit status 3"},
		{"killed by a signal", Job{Command: "kill -9 $$"}, Failed, -1, "signal: killed"},
		{"missing working directory", Job{Command: "true", Dir: "/nonexistent/dir"}, Failed, -1, "cannot start the command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := waitEnd(t, ex, submit(t, ex, tt.job), 10*time.Second)
			if st.State != tt.state || st.ExitCode != tt.code || !strings.Contains(st.Message, tt.message) {
				t.Fatalf("got %s, exit %d, %q; want %s, exit %d, %q", st.State, st.ExitCode, st.Message, tt.state, tt.code, tt.message)
			}
		})
	}
}

func TestLocalTimeoutKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name    string
		command string // writes the PIDs of the processes it starts to pids
	}{
		{"children", `sh -c 'sleep 60 & echo $! > pids; sleep 60 & echo $! >> pids; echo $$ >> pids; wait'`},
		{"children ignoring SIGTERM", `trap '' TERM; sh -c 'sleep 60 & echo $! > pids; echo $$ >> pids; wait'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			ex := newLocal(t, t.TempDir(), LocalOptions{Grace: 300 * time.Millisecond})
			start := time.Now()
			id := submit(t, ex, Job{Command: tt.command, Dir: work, Timeout: time.Second, Retry: RetryPolicy{Max: 3}})
			st := waitEnd(t, ex, id, 10*time.Second)
			if st.State != TimedOut || st.Attempts != 1 || !strings.Contains(st.Message, "timed out after 1s") {
				t.Fatalf("status: %+v", st)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("the timed-out job took %s to stop", took)
			}
			raw, err := os.ReadFile(filepath.Join(work, "pids"))
			if err != nil {
				t.Fatal(err)
			}
			pids := strings.Fields(string(raw))
			if len(pids) < 2 {
				t.Fatalf("pids: %q", raw)
			}
			for _, p := range pids {
				pid, _ := strconv.Atoi(p)
				eventually(t, 5*time.Second, "process "+p+" gone", func() bool { return processGone(pid) })
			}
			if log := readLog(t, ex, id); !strings.Contains(log, "ferry: timed out after 1s; stopping the command") {
				t.Fatalf("log: %q", log)
			}
		})
	}
}

func TestLocalCancel(t *testing.T) {
	ex := newLocal(t, t.TempDir(), LocalOptions{})
	id := submit(t, ex, Job{Command: "echo started; sleep 60", Retry: RetryPolicy{Max: 2}})
	waitOutput(t, ex, id, "started")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ex.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("cancel took %s", took)
	}
	st, _ := ex.Status(ctx, id)
	if st.State != Cancelled || st.Attempts != 1 {
		t.Fatalf("status: %+v", st)
	}
	if err := ex.Cancel(ctx, id); err != nil { // cancelling an ended job does nothing
		t.Fatalf("second cancel: %v", err)
	}
}

func TestLocalCancelFromAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	owner := newLocal(t, dir, LocalOptions{})
	other := newLocal(t, dir, LocalOptions{}) // reads the files and signals the group, as another process
	id := submit(t, owner, Job{Command: "echo started; sleep 60", Retry: RetryPolicy{Max: 2}})
	waitOutput(t, other, id, "started")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := other.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("cancel took %s", took)
	}
	st := waitEnd(t, owner, id, 5*time.Second)
	if st.State != Cancelled || st.Attempts != 1 {
		t.Fatalf("status: %+v", st)
	}
}

func TestLocalRetries(t *testing.T) {
	// Fails until its third attempt.
	const flaky = `n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "attempt $n"; [ "$n" -ge 3 ]`
	tests := []struct {
		name     string
		retries  int
		state    State
		attempts int
		code     int
	}{
		{"succeeds on the last retry", 2, Succeeded, 3, 0},
		{"retries exhausted", 1, Failed, 2, 1},
		{"no retries", 0, Failed, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := newLocal(t, t.TempDir(), LocalOptions{})
			id := submit(t, ex, Job{Command: flaky, Dir: t.TempDir(), Retry: RetryPolicy{Max: tt.retries, Backoff: 10 * time.Millisecond}})
			st := waitEnd(t, ex, id, 10*time.Second)
			if st.State != tt.state || st.Attempts != tt.attempts || st.ExitCode != tt.code {
				t.Fatalf("got %s after %d attempts (exit %d); want %s after %d (exit %d)", st.State, st.Attempts, st.ExitCode, tt.state, tt.attempts, tt.code)
			}
			log := readLog(t, ex, id)
			if tt.attempts > 1 && !strings.Contains(log, "ferry: attempt 1 of "+strconv.Itoa(tt.retries+1)+" ended with exit status 1; retrying in 10ms\nattempt 2\n") {
				t.Fatalf("log: %q", log)
			}
		})
	}
}

func TestLocalTimeoutStopsRetries(t *testing.T) {
	ex := newLocal(t, t.TempDir(), LocalOptions{})
	id := submit(t, ex, Job{Command: "exit 1", Timeout: 300 * time.Millisecond, Retry: RetryPolicy{Max: 5, Backoff: time.Minute}})
	st := waitEnd(t, ex, id, 10*time.Second)
	if st.State != TimedOut || st.Attempts != 1 || st.ExitCode != 1 {
		t.Fatalf("status: %+v", st)
	}
}

func TestLocalLogsFollow(t *testing.T) {
	work := t.TempDir()
	gate := filepath.Join(work, "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ex := newLocal(t, t.TempDir(), LocalOptions{})
	id := submit(t, ex, Job{Command: "echo one; cat gate; echo three", Dir: work})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ex.Logs(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	if line, err := r.ReadString('\n'); line != "one\n" || err != nil {
		t.Fatalf("first line %q, %v", line, err)
	}
	// The job waits on the gate until we open it: what follows is written
	// after the follower has caught up.
	if err := os.WriteFile(gate, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "two\nthree\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	if st, _ := ex.Status(ctx, id); !st.State.Terminal() {
		t.Fatalf("follow ended before the job: %+v", st)
	}
}

func TestLocalLostSupervisor(t *testing.T) {
	dir := t.TempDir()
	ex := newLocal(t, dir, LocalOptions{})
	// A job whose supervising process died: its status says Running, and
	// nobody holds its lock.
	jobDir := filepath.Join(dir, "orphan")
	if err := os.MkdirAll(jobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		statusFile: `{"id":"orphan","state":"Running","exit_code":-1,"attempts":1,"submitted_at":"2025-01-01T00:00:00Z","owner_pid":999999}`,
		lockFile:   "", logFile: "partial\n",
	} {
		if err := os.WriteFile(filepath.Join(jobDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ex.Status(context.Background(), "orphan")
	if err != nil || st.State != Failed || !strings.Contains(st.Message, "pid 999999") {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if got := readLog(t, ex, "orphan"); got != "partial\n" {
		t.Fatalf("log %q", got)
	}
	if err := ex.Cancel(context.Background(), "orphan"); err != nil {
		t.Fatal(err)
	}
	if st, _ := ex.Status(context.Background(), "orphan"); st.State != Cancelled {
		t.Fatalf("after cancel: %+v", st)
	}
}

func TestLocalErrors(t *testing.T) {
	ctx := context.Background()
	ex := newLocal(t, t.TempDir(), LocalOptions{})
	submit(t, ex, Job{ID: "taken", Command: "true"})
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"bad ID", func() error { _, err := ex.Submit(ctx, Job{ID: "../escape", Command: "true"}); return err }, ferry.EINVALID},
		{"upper-case ID", func() error { _, err := ex.Submit(ctx, Job{ID: "Job", Command: "true"}); return err }, ferry.EINVALID},
		{"no command", func() error { _, err := ex.Submit(ctx, Job{}); return err }, ferry.EINVALID},
		{"ID taken", func() error { _, err := ex.Submit(ctx, Job{ID: "taken", Command: "true"}); return err }, ferry.ECONFLICT},
		{"status of unknown job", func() error { _, err := ex.Status(ctx, "nope"); return err }, ferry.ENOTFOUND},
		{"status of a path", func() error { _, err := ex.Status(ctx, "../x"); return err }, ferry.ENOTFOUND},
		{"logs of unknown job", func() error { _, err := ex.Logs(ctx, "nope", true); return err }, ferry.ENOTFOUND},
		{"cancel unknown job", func() error { return ex.Cancel(ctx, "nope") }, ferry.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); ferry.ErrorCode(err) != tt.code {
				t.Fatalf("got %v (%s), want code %s", err, ferry.ErrorCode(err), tt.code)
			}
		})
	}
}

func TestLocalCloseCancelsJobs(t *testing.T) {
	ex, err := NewLocal(t.TempDir(), LocalOptions{Environ: InheritedEnv(os.Environ())})
	if err != nil {
		t.Fatal(err)
	}
	id := submit(t, ex, Job{Command: "echo started; sleep 60"})
	waitOutput(t, ex, id, "started")
	ex.Close()
	if st, _ := ex.Status(context.Background(), id); st.State != Cancelled {
		t.Fatalf("after Close: %+v", st)
	}
	if _, err := ex.Submit(context.Background(), Job{Command: "true"}); ferry.ErrorCode(err) != ferry.EUNAVAILABLE {
		t.Fatalf("submit after Close: %v", err)
	}
}

func TestEnvironment(t *testing.T) {
	parent := []string{"PATH=/bin", "FERRY_S3_SECRET_KEY=s", "FERRY_STORE_URL=postgres://u:p@h/db", "MLFLOW_RUN_ID=old",
		"MLFLOW_TRACKING_URI=http://elsewhere", "MLFLOW_EXPERIMENT_NAME=x", "AWS_REGION=eu-west-1", "MLFLOW_TRACKING_TOKEN=t"}
	got := strings.Join(mergeEnv(InheritedEnv(parent), map[string]string{"PATH": "/usr/bin", "SEED": "7"}), " ")
	if want := "AWS_REGION=eu-west-1 MLFLOW_TRACKING_TOKEN=t PATH=/usr/bin SEED=7"; got != want {
		t.Fatalf("env %q, want %q", got, want)
	}
}
