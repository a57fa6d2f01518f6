package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
)

// Files in a local job's directory.
const (
	statusFile = "status.json"
	logFile    = "job.log"
	cancelFile = "cancel" // written by Cancel from another process
	lockFile   = "lock"   // locked by the supervising process while the job runs
)

// LocalOptions configure a Local executor. Zero fields take the defaults.
type LocalOptions struct {
	// Environ is the base environment of every job, as KEY=VALUE entries; a
	// job's Env is added to it. InheritedEnv makes one from a parent
	// environment. nil means an empty base environment.
	Environ []string
	Shell   string        // runs Job.Command with "-c"; default /bin/sh
	Grace   time.Duration // between SIGTERM and SIGKILL when stopping a job; default 2s
	// Poll is how often followers and waiters in other processes re-read a
	// job's files, and how often a running job checks for a cancel requested
	// by another process; default 100ms.
	Poll  time.Duration
	Log   *slog.Logger     // default: discard
	Clock func() time.Time // default time.Now
}

// Local runs jobs as local processes, each in its own process group, with
// its state under dir/<id>/: status.json (the Status and the process group),
// job.log (the command's standard output and error, interleaved as written).
//
// Jobs run in goroutines of the process that submitted them, which must live
// until they end; Close cancels those still running. Status, List, Logs and
// Cancel also work from another process on the same dir: Cancel then signals
// the job's recorded process group. A job whose supervising process died
// (which no longer holds the lock on the job's lock file) is reported as
// Failed.
//
// A Local is safe for concurrent use.
type Local struct {
	dir  string
	opts LocalOptions
	wg   sync.WaitGroup

	mu     sync.Mutex
	jobs   map[string]*localJob // jobs started by this Local
	closed bool
}

var _ Executor = (*Local)(nil)
var _ Waiter = (*Local)(nil)

// NewLocal returns a Local keeping its jobs under dir. It creates nothing
// until a job is submitted.
func NewLocal(dir string, opts LocalOptions) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("job: jobs directory: %w", err)
	}
	if opts.Shell == "" {
		opts.Shell = "/bin/sh"
	}
	if opts.Grace <= 0 {
		opts.Grace = 2 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Local{dir: abs, opts: opts, jobs: map[string]*localJob{}}, nil
}

// Dir returns the directory the executor keeps its jobs in.
func (e *Local) Dir() string { return e.dir }

// JobDir returns the directory of job id.
func (e *Local) JobDir(id string) string { return filepath.Join(e.dir, id) }

// record is status.json: the Status and what another process needs to
// signal the job.
type record struct {
	Status
	Command  string `json:"command"`
	Dir      string `json:"dir"`
	PGID     int    `json:"pgid,omitempty"` // process group of the running attempt
	OwnerPID int    `json:"owner_pid"`      // the process supervising the job
	lost     bool   // not finished, and its supervisor is gone
}

// localJob is a job running in this process.
type localJob struct {
	cancel     chan struct{} // closed to request cancellation
	cancelOnce sync.Once
	done       chan struct{} // closed once the final status is recorded

	mu  sync.Mutex
	rec record
}

func (lj *localJob) requestCancel() { lj.cancelOnce.Do(func() { close(lj.cancel) }) }

func (lj *localJob) status() Status {
	lj.mu.Lock()
	defer lj.mu.Unlock()
	st := lj.rec.Status
	st.Labels = cloneMap(st.Labels)
	return st
}

func (lj *localJob) ended() bool {
	select {
	case <-lj.done:
		return true
	default:
		return false
	}
}

// Submit implements Executor. An empty j.ID gets a NewID; an empty j.Dir is
// the job's own directory.
func (e *Local) Submit(ctx context.Context, j Job) (string, error) {
	if j.ID == "" {
		j.ID = NewID()
	}
	if err := checkID(j.ID); err != nil {
		return "", err
	}
	if !groupsSupported {
		return "", ferry.Errorf(ferry.ENOTIMPLEMENTED, "the local job executor needs a Unix system")
	}
	switch {
	case j.Command == "":
		return "", ferry.Errorf(ferry.EINVALID, "job %s has no command", j.ID)
	case j.Timeout < 0:
		return "", ferry.Errorf(ferry.EINVALID, "job %s: negative timeout %s", j.ID, j.Timeout)
	case j.Retry.Max < 0 || j.Retry.Backoff < 0:
		return "", ferry.Errorf(ferry.EINVALID, "job %s: negative retries or backoff", j.ID)
	}
	dir := e.JobDir(j.ID)
	if j.Dir == "" {
		j.Dir = dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("job: submit %s: %w", j.ID, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return "", ferry.Errorf(ferry.ECONFLICT, "a job with ID %s already exists", j.ID)
	} else if err != nil {
		return "", fmt.Errorf("job: submit %s: %w", j.ID, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		if err = lockOwner(lock); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		logf.Close()
		return "", fmt.Errorf("job: submit %s: lock: %w", j.ID, err)
	}
	lj := &localJob{cancel: make(chan struct{}), done: make(chan struct{}), rec: record{
		Status:  Status{ID: j.ID, Name: j.Name, State: Queued, ExitCode: -1, SubmittedAt: e.opts.Clock().UTC(), Labels: cloneMap(j.Labels)},
		Command: j.Command, Dir: j.Dir, OwnerPID: os.Getpid(),
	}}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		logf.Close()
		lock.Close()
		return "", ferry.Errorf(ferry.EUNAVAILABLE, "the job executor is closed")
	}
	e.jobs[j.ID] = lj
	e.wg.Add(1)
	e.mu.Unlock()
	if err := e.save(lj); err != nil {
		e.mu.Lock()
		delete(e.jobs, j.ID)
		e.mu.Unlock()
		e.wg.Done()
		logf.Close()
		lock.Close()
		return "", err
	}
	go func() {
		defer e.wg.Done()
		defer lock.Close() // after the final status is saved
		defer logf.Close()
		e.supervise(j, lj, logf)
	}()
	return j.ID, nil
}

// save writes the job's record to status.json atomically.
func (e *Local) save(lj *localJob) error {
	lj.mu.Lock()
	raw, err := encodeRecord(lj.rec)
	id := lj.rec.ID
	lj.mu.Unlock()
	if err != nil {
		return fmt.Errorf("job: save %s: %w", id, err)
	}
	return writeAtomic(filepath.Join(e.JobDir(id), statusFile), raw)
}

// encodeRecord returns r as indented JSON, with <, > and & as they are.
func encodeRecord(r record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(r)
	return b.Bytes(), err
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-*")
	if err != nil {
		return fmt.Errorf("job: save status: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("job: save status: %w", err)
	}
	return nil
}

// update changes the job's record under its lock and saves it, logging a
// failure to save: the job goes on, and its in-process status stays right.
func (e *Local) update(lj *localJob, fn func(r *record)) {
	lj.mu.Lock()
	fn(&lj.rec)
	lj.mu.Unlock()
	if err := e.save(lj); err != nil {
		e.opts.Log.Error("job status not saved", "job", lj.rec.ID, "err", err)
	}
}

// supervise runs the attempts of j until one succeeds, retries are
// exhausted, the job is cancelled or it times out.
func (e *Local) supervise(j Job, lj *localJob, logf *os.File) {
	defer close(lj.done)
	notice := func(format string, args ...any) { fmt.Fprintf(logf, "ferry: "+format+"\n", args...) }
	finish := func(state State, code int, msg string) {
		e.update(lj, func(r *record) {
			r.State, r.ExitCode, r.Message, r.EndedAt, r.PGID = state, code, msg, e.opts.Clock().UTC(), 0
		})
		e.opts.Log.Info("job ended", "job", j.ID, "state", string(state), "exit_code", code)
	}
	var timeout <-chan time.Time
	if j.Timeout > 0 {
		t := time.NewTimer(j.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(e.opts.Poll)
	defer tick.Stop()
	// interrupted reports a cancel or timeout that arrived, without blocking.
	interrupted := func() State {
		select {
		case <-lj.cancel:
			return Cancelled
		case <-timeout:
			return TimedOut
		default:
		}
		if e.cancelRequested(j.ID) {
			return Cancelled
		}
		return ""
	}
	stopMessage := func(s State) string {
		if s == TimedOut {
			return fmt.Sprintf("timed out after %s", j.Timeout)
		}
		return "cancelled"
	}
	env := mergeEnv(e.opts.Environ, j.Env)

	for attempt := 1; ; attempt++ {
		if s := interrupted(); s != "" {
			notice("%s", stopMessage(s))
			finish(s, lj.status().ExitCode, stopMessage(s))
			return
		}
		cmd := exec.Command(e.opts.Shell, "-c", j.Command)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = j.Dir, env, logf, logf
		cmd.SysProcAttr = newProcessGroup()
		if err := cmd.Start(); err != nil {
			notice("cannot start the command: %v", err)
			finish(Failed, -1, fmt.Sprintf("cannot start the command: %v", err))
			return
		}
		pgid := cmd.Process.Pid
		e.update(lj, func(r *record) {
			r.State, r.Attempts, r.PGID, r.ExitCode = Running, attempt, pgid, -1
			if r.StartedAt.IsZero() {
				r.StartedAt = e.opts.Clock().UTC()
			}
		})
		leaderDone := make(chan struct{})
		go func() { _ = cmd.Wait(); close(leaderDone) }()

		var stop State
	wait:
		for {
			select {
			case <-leaderDone:
				break wait
			case <-lj.cancel:
				stop = Cancelled
				break wait
			case <-timeout:
				stop = TimedOut
				break wait
			case <-tick.C:
				if e.cancelRequested(j.ID) {
					stop = Cancelled
					break wait
				}
			}
		}
		if stop != "" {
			notice("%s; stopping the command", stopMessage(stop))
		}
		e.stopGroup(pgid, leaderDone) // the leader, or what it left running
		code := cmd.ProcessState.ExitCode()
		if stop == "" && code != 0 && e.cancelRequested(j.ID) {
			stop = Cancelled // signalled by Cancel in another process
		}
		switch {
		case stop != "":
			finish(stop, code, stopMessage(stop))
			return
		case code == 0:
			finish(Succeeded, 0, "")
			return
		case attempt > j.Retry.Max:
			msg := "the command ended with " + cmd.ProcessState.String()
			if attempt > 1 {
				msg += fmt.Sprintf(" (attempt %d of %d)", attempt, j.Retry.Max+1)
			}
			finish(Failed, code, msg)
			return
		}
		delay := j.Retry.Delay(attempt)
		notice("attempt %d of %d ended with %s; retrying in %s", attempt, j.Retry.Max+1, cmd.ProcessState, delay)
		e.update(lj, func(r *record) {
			r.ExitCode, r.PGID = code, 0
			r.Message = fmt.Sprintf("attempt %d failed with exit code %d; retrying", attempt, code)
		})
		if s := e.backoff(delay, lj, timeout, tick.C, j.ID); s != "" {
			notice("%s", stopMessage(s))
			finish(s, code, stopMessage(s))
			return
		}
	}
}

// backoff waits delay, returning early with Cancelled or TimedOut.
func (e *Local) backoff(delay time.Duration, lj *localJob, timeout, tick <-chan time.Time, id string) State {
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return ""
		case <-lj.cancel:
			return Cancelled
		case <-timeout:
			return TimedOut
		case <-tick:
			if e.cancelRequested(id) {
				return Cancelled
			}
		}
	}
}

// stopGroup ends process group pgid: at once when only the reaped leader was
// left, else with SIGTERM, then SIGKILL if anything in the group still runs
// after the grace period. It returns once the leader has exited.
func (e *Local) stopGroup(pgid int, leaderDone <-chan struct{}) {
	select {
	case <-leaderDone:
		if !groupAlive(pgid) {
			return
		}
	default:
	}
	_ = signalGroup(pgid, sigTerm)
	grace := time.NewTimer(e.opts.Grace)
	defer grace.Stop()
	check := time.NewTicker(20 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-grace.C:
			_ = signalGroup(pgid, sigKill)
			<-leaderDone
			return
		case <-check.C:
		case <-leaderDone:
		}
		select {
		case <-leaderDone:
			if !groupAlive(pgid) {
				return
			}
		default:
		}
	}
}

func (e *Local) cancelRequested(id string) bool {
	_, err := os.Stat(filepath.Join(e.JobDir(id), cancelFile))
	return err == nil
}

// owned returns the job if this Local started it.
func (e *Local) owned(id string) *localJob {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.jobs[id]
}

// load reads a job's record from its directory.
func (e *Local) load(id string) (record, error) {
	var r record
	if err := checkID(id); err != nil {
		return r, ferry.Errorf(ferry.ENOTFOUND, "job %q not found", id)
	}
	raw, err := os.ReadFile(filepath.Join(e.JobDir(id), statusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, ferry.Errorf(ferry.ENOTFOUND, "job %q not found", id)
	} else if err != nil {
		return r, fmt.Errorf("job: read status of %s: %w", id, err)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("job: read status of %s: %w", id, err)
	}
	if !r.State.Terminal() && !ownerAlive(filepath.Join(e.JobDir(id), lockFile)) {
		// Re-read: the supervisor saves the final status before it unlocks.
		if raw, err := os.ReadFile(filepath.Join(e.JobDir(id), statusFile)); err == nil && json.Unmarshal(raw, &r) == nil && r.State.Terminal() {
			return r, nil
		}
		r.lost = true
		r.State = Failed
		r.Message = fmt.Sprintf("the ferry process that ran the job (pid %d) exited before the job ended", r.OwnerPID)
	}
	return r, nil
}

// Status implements Executor.
func (e *Local) Status(ctx context.Context, id string) (Status, error) {
	if lj := e.owned(id); lj != nil {
		return lj.status(), nil
	}
	r, err := e.load(id)
	return r.Status, err
}

// List implements Executor: the jobs under the executor's directory, oldest
// first. A missing directory has no jobs.
func (e *Local) List(ctx context.Context) ([]Status, error) {
	entries, err := os.ReadDir(e.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Status{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("job: list: %w", err)
	}
	out := []Status{}
	for _, ent := range entries {
		if !ent.IsDir() || checkID(ent.Name()) != nil {
			continue
		}
		st, err := e.Status(ctx, ent.Name())
		if ferry.ErrorCode(err) == ferry.ENOTFOUND {
			continue // not a job directory, or one being created
		} else if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].SubmittedAt.Equal(out[j].SubmittedAt) {
			return out[i].SubmittedAt.Before(out[j].SubmittedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Wait implements Waiter.
func (e *Local) Wait(ctx context.Context, id string) (Status, error) {
	if lj := e.owned(id); lj != nil {
		select {
		case <-lj.done:
			return lj.status(), nil
		case <-ctx.Done():
			return lj.status(), fmt.Errorf("job: wait for %s: %w", id, ctx.Err())
		}
	}
	t := time.NewTicker(e.opts.Poll)
	defer t.Stop()
	for {
		r, err := e.load(id)
		if err != nil || r.State.Terminal() {
			return r.Status, err
		}
		select {
		case <-ctx.Done():
			return r.Status, fmt.Errorf("job: wait for %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// Logs implements Executor. A follower of a job running in another process
// notices new output and the job's end every Poll.
func (e *Local) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	if _, err := e.Status(ctx, id); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(e.JobDir(id), logFile))
	if err != nil {
		return nil, fmt.Errorf("job: logs of %s: %w", id, err)
	}
	if !follow {
		return f, nil
	}
	fr := &follower{ctx: ctx, f: f, tick: time.NewTicker(e.opts.Poll)}
	if lj := e.owned(id); lj != nil {
		fr.done = lj.done
		fr.ended = lj.ended
	} else {
		fr.ended = func() bool {
			r, err := e.load(id)
			return err != nil || r.State.Terminal()
		}
	}
	return fr, nil
}

// follower reads a log file as it grows, until the job ends.
type follower struct {
	ctx      context.Context
	f        *os.File
	tick     *time.Ticker
	done     <-chan struct{} // closed when the job ends; nil for other processes' jobs
	ended    func() bool
	finished bool // the job had ended before the last read
}

// Read implements io.Reader.
func (r *follower) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || err != nil && err != io.EOF {
			return n, err
		}
		if r.finished {
			return 0, io.EOF
		}
		if r.ended() {
			r.finished = true // read once more: output written before the end
			continue
		}
		select {
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-r.done:
		case <-r.tick.C:
		}
	}
}

// Close implements io.Closer.
func (r *follower) Close() error {
	r.tick.Stop()
	return r.f.Close()
}

// Cancel implements Executor. It returns once the job has ended, or with
// ctx's error if ctx ends first (the job is then still being stopped).
func (e *Local) Cancel(ctx context.Context, id string) error {
	if lj := e.owned(id); lj != nil {
		lj.requestCancel()
		select {
		case <-lj.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("job: cancel %s: %w", id, ctx.Err())
		}
	}
	r, err := e.load(id)
	if err != nil {
		return err
	}
	if r.lost { // its supervisor died: stop what it left running and record the end
		if r.PGID > 0 && groupAlive(r.PGID) {
			_ = signalGroup(r.PGID, sigKill)
		}
		r.State, r.Message, r.EndedAt, r.PGID = Cancelled, "cancelled after the ferry process that ran the job exited", e.opts.Clock().UTC(), 0
		raw, err := encodeRecord(r)
		if err != nil {
			return fmt.Errorf("job: cancel %s: %w", id, err)
		}
		return writeAtomic(filepath.Join(e.JobDir(id), statusFile), raw)
	}
	if r.State.Terminal() {
		return nil
	}
	if err := os.WriteFile(filepath.Join(e.JobDir(id), cancelFile), nil, 0o644); err != nil {
		return fmt.Errorf("job: cancel %s: %w", id, err)
	}
	if r.PGID > 0 {
		_ = signalGroup(r.PGID, sigTerm) // the supervisor sees the cancel file and finishes the job
	}
	_, err = e.Wait(ctx, id)
	if err != nil {
		return fmt.Errorf("job: cancel %s: %w", id, err)
	}
	return nil
}

// Close cancels the jobs this executor started that are still running and
// waits for them to end. Submit fails after Close.
func (e *Local) Close() error {
	e.mu.Lock()
	e.closed = true
	for _, lj := range e.jobs {
		lj.requestCancel()
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// mergeEnv returns base with the variables of add set, replacing any
// existing value, in a stable order.
func mergeEnv(base []string, add map[string]string) []string {
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		k, _, _ := cutEnv(kv)
		if _, ok := add[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range sortedNames(add) {
		out = append(out, k+"="+add[k])
	}
	return out
}

func cutEnv(kv string) (string, string, bool) {
	for i := 1; i < len(kv); i++ { // a leading '=' belongs to the name (Windows drive variables)
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
