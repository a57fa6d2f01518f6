// Package process is the deploy stage's process target: each instance of a
// deployment is a supervised `ferry serve` child on a loopback port of its
// own, and the Deployment is an http.Handler that proxies to the ready ones —
// the isolation a team wants on one machine.
//
// The version's package is fetched once per deployment into a directory under
// Options.Dir, and every instance runs
//
//	COMMAND... DIR --name ENDPOINT --addr 127.0.0.1:0 --timeout T [--max-in-flight N] [--batch-max B]
//
// (T is request_settings.request_timeout_ms, N its
// max_concurrent_requests_per_instance, B its max_batch_size) with Ferry's
// environment, FERRY_MODEL_VERSION and the deployment's environment_variables.
// The child picks its own port and reports it on its first line of standard
// output, as `ferry serve` does: "Serving NAME version V (PLATFORM) on
// http://ADDR". The readiness probe (GET /v2/health/ready) decides when an
// instance gets requests; the liveness probe (GET /v2/health/live) and the
// process exiting make the supervisor restart it, with an exponential
// backoff (500 ms doubling up to 30 s; a run of a minute resets it). Probe
// fields left zero default to: readiness period 1 s, timeout 2 s, failure
// threshold 3, success threshold 1; liveness period 10 s, timeout 2 s,
// failure threshold 3; no initial delay (a child reports its address once it
// serves).
package process

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Fetcher writes a registered version's package into a directory. In the
// server it is FromVersions(registry service).
type Fetcher interface {
	// Fetch writes the package of uri (models:/NAME/VERSION) into dir,
	// which does not exist yet, every file checked against its digest.
	// Unknown versions are ENOTFOUND.
	Fetch(ctx context.Context, uri, dir string) error
}

// FromVersions returns the Fetcher that resolves uri and fetches the
// version's package through s (registry.Service in the server).
func FromVersions(s runtime.VersionSource) Fetcher {
	return FetchFunc(func(ctx context.Context, uri, dir string) error {
		v, err := s.Resolve(ctx, uri)
		if err != nil {
			return err
		}
		_, err = s.FetchVersion(ctx, v, dir)
		return err
	})
}

// FetchFunc is a function that is a Fetcher.
type FetchFunc func(ctx context.Context, uri, dir string) error

// Fetch calls f.
func (f FetchFunc) Fetch(ctx context.Context, uri, dir string) error { return f(ctx, uri, dir) }

// Defaults for the zero values of Options' fields.
const (
	DefaultMaxRequestBytes = 16 << 20
	DefaultStartTimeout    = 2 * time.Minute
	DefaultStopGrace       = 10 * time.Second
	DefaultLogLines        = 1000
)

// maxLogFile is the size beyond which a deployment's log file is rotated
// when the deployment starts.
const maxLogFile = 10 << 20

// Restart backoff: the first restart after a crash waits minBackoff, each
// further one in a row twice as long, up to maxBackoff. An instance that ran
// for backoffReset before it exited starts the series again.
const (
	minBackoff   = 500 * time.Millisecond
	maxBackoff   = 30 * time.Second
	backoffReset = time.Minute
)

// Options configure the target.
type Options struct {
	// Fetcher fetches the deployments' packages; required.
	Fetcher Fetcher
	// Command is the program and the arguments that come before the
	// package directory; default: this executable and "serve".
	Command []string
	// Dir holds the packages (removed at Close) and the logs
	// (ENDPOINT/DEPLOYMENT.log, appended to and kept; a start finding it
	// over 10 MiB moves it to DEPLOYMENT.log.1 first); default: the system's
	// temporary directory's ferry-deployments.
	Dir string
	// MaxRequestBytes bounds a request body, which is buffered so that a
	// request an instance failed to take can be sent to another.
	MaxRequestBytes int64
	// StartTimeout bounds the time from starting a child to its reporting
	// its address; a child that takes longer is killed and restarted.
	StartTimeout time.Duration
	// StopGrace is how long a child has to stop after SIGTERM before
	// SIGKILL.
	StopGrace time.Duration
	// LogLines is how many lines of log a deployment keeps for Logs.
	LogLines int
	// Log receives the supervisor's events (and, at debug level, the
	// children's output); nil discards.
	Log *slog.Logger
	// Now is the clock of log lines and backoff; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.Fetcher == nil {
		return o, errors.New("process: no Fetcher")
	}
	if len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("process: find ferry's executable: %w", err)
		}
		o.Command = []string{exe, "serve"}
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(os.TempDir(), "ferry-deployments")
	}
	o.MaxRequestBytes = cmp.Or(o.MaxRequestBytes, DefaultMaxRequestBytes)
	o.StartTimeout = cmp.Or(o.StartTimeout, DefaultStartTimeout)
	o.StopGrace = cmp.Or(o.StopGrace, DefaultStopGrace)
	o.LogLines = cmp.Or(o.LogLines, DefaultLogLines)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Target returns the process target: a function that starts deployment d's
// instances, serving under the name endpoint, and returns at once with them
// starting (Ready reports when one can take requests). ctx bounds the fetch
// of the package only; the instances run until Close. Errors: the package
// cannot be fetched (with the Fetcher's code, ENOTFOUND for an unknown
// version), the options or directories are unusable.
func Target(opts Options) func(ctx context.Context, endpoint string, d deploy.Deployment) (*Deployment, error) {
	return func(ctx context.Context, endpoint string, d deploy.Deployment) (*Deployment, error) {
		return start(ctx, opts, endpoint, d)
	}
}

// Deployment is one deployment's supervised instances and the proxy in
// front of them. It serves the single-model routes of `ferry serve` under the
// endpoint's name. Its methods are safe for concurrent use.
type Deployment struct {
	opts     Options
	endpoint string
	spec     deploy.Deployment // normalized
	id       string            // endpoint/deployment, for messages
	pkgDir   string
	workDir  string // removed at Close
	logFile  *os.File
	version  string // FERRY_MODEL_VERSION
	log      *slog.Logger
	logs     *ring

	transport *http.Transport
	proxy     *httputil.ReverseProxy
	timeout   time.Duration

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the deployment started
	slots  []*slot

	mu   sync.Mutex
	live []*instance // copy on write: the instances requests may go to
	rr   atomic.Uint64

	restarts  atomic.Int64
	closeOnce sync.Once
	closed    chan struct{} // closed once Close has stopped everything
}

// slot is the place of one instance; its supervisor keeps a child in it.
type slot struct {
	idx     int
	replace chan replaceRequest
}

// replaceRequest asks a slot's supervisor to replace its child by a new one,
// answering on done once the new one is ready (or failed to be).
type replaceRequest struct {
	ctx  context.Context
	done chan error // buffered
}

func start(ctx context.Context, opts Options, endpoint string, spec deploy.Deployment) (*Deployment, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	spec = spec.Normalize()
	d := &Deployment{
		opts:     opts,
		endpoint: endpoint,
		spec:     spec,
		id:       spec.EndpointName + "/" + spec.Name,
		timeout:  time.Duration(spec.RequestSettings.RequestTimeoutMS) * time.Millisecond,
		log:      opts.Log.With("endpoint", spec.EndpointName, "deployment", spec.Name),
		closed:   make(chan struct{}),
	}
	uri := cmp.Or(spec.ModelVersion, spec.Model)
	if _, v, ok := strings.Cut(strings.TrimPrefix(uri, "models:/"), "/"); ok {
		if _, err := strconv.Atoi(v); err == nil {
			d.version = v
		}
	}
	logDir := filepath.Join(opts.Dir, spec.EndpointName)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("process: %s: %w", d.id, err)
	}
	if d.workDir, err = os.MkdirTemp(logDir, spec.Name+"-"); err != nil {
		return nil, fmt.Errorf("process: %s: %w", d.id, err)
	}
	d.pkgDir = filepath.Join(d.workDir, "model")
	if err := opts.Fetcher.Fetch(ctx, uri, d.pkgDir); err != nil {
		_ = os.RemoveAll(d.workDir)
		return nil, fmt.Errorf("process: %s: fetch %s: %w", d.id, uri, err)
	}
	logPath := filepath.Join(logDir, spec.Name+".log")
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogFile {
		_ = os.Rename(logPath, logPath+".1")
	}
	if d.logFile, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		_ = os.RemoveAll(d.workDir)
		return nil, fmt.Errorf("process: %s: %w", d.id, err)
	}
	d.logs = newRing(opts.LogLines, d.logFile)
	d.transport = &http.Transport{
		Proxy:               nil, // loopback only
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	d.proxy = d.newProxy()
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.slots = make([]*slot, spec.InstanceCount)
	for i := range d.slots {
		d.slots[i] = &slot{idx: i, replace: make(chan replaceRequest)}
		d.wg.Add(1)
		go d.supervise(d.slots[i])
	}
	return d, nil
}

// Ready reports whether at least one instance is ready for requests.
func (d *Deployment) Ready() bool { return d.pick(nil) != nil }

// Logs returns the last n lines (all that are kept when n <= 0) of the
// deployment's log, oldest first: its children's standard output and error
// and the supervisor's events, each line "TIME [INDEX] TEXT" (INDEX is the
// instance's, "-" for the deployment's own events; the supervisor's TEXT
// starts with "supervisor: ").
func (d *Deployment) Logs(n int) []string { return d.logs.last(n) }

// Restarts returns how many times instances were restarted after they
// exited or failed their liveness probe (rolling restarts not counted).
func (d *Deployment) Restarts() int { return int(d.restarts.Load()) }

// Instance describes one running instance.
type Instance struct {
	Index int
	PID   int
	Addr  string // host:port; "" until the child reported it
	Ready bool
}

// Instances returns the running instances, in the order of their slots.
func (d *Deployment) Instances() []Instance {
	d.mu.Lock()
	live := d.live
	d.mu.Unlock()
	out := make([]Instance, 0, len(live))
	for _, in := range live {
		out = append(out, Instance{Index: in.idx, PID: in.pid, Addr: in.address(), Ready: in.routable()})
	}
	return out
}

// Restart replaces the instances one at a time: a new child is started
// beside the old one, and the old one is stopped (after the requests it is
// serving) once the new one is ready, so requests keep flowing. It returns
// when every instance was replaced, or with the first failure (a new child
// that exits or is not ready before ctx ends; the old one is kept then).
func (d *Deployment) Restart(ctx context.Context) error {
	for _, s := range d.slots {
		r := replaceRequest{ctx: ctx, done: make(chan error, 1)}
		select {
		case s.replace <- r:
		case <-ctx.Done():
			return fmt.Errorf("process: restart %s: %w", d.id, ctx.Err())
		case <-d.ctx.Done():
			return errClosed(d.id)
		}
		if err := <-r.done; err != nil {
			return fmt.Errorf("process: restart %s instance %d: %w", d.id, s.idx, err)
		}
	}
	return nil
}

// Close stops the instances — SIGTERM, then SIGKILL after StopGrace — waits
// for every goroutine of the deployment to end and removes its package. It
// returns ctx's error if ctx ends first (the stopping goes on). Requests
// after Close are answered 503.
func (d *Deployment) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.cancel()
		go func() {
			d.wg.Wait()
			d.transport.CloseIdleConnections()
			d.event(-1, "stopped")
			_ = d.logFile.Close()
			_ = os.RemoveAll(d.workDir)
			close(d.closed)
		}()
	})
	select {
	case <-d.closed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("process: close %s: %w", d.id, ctx.Err())
	}
}

// describe is err for the log lines: a *ferry.Error's message, else its
// text.
func describe(err error) string {
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

func errClosed(id string) error {
	return ferry.Errorf(ferry.EUNAVAILABLE, "deployment %s is stopped", id)
}

// event records a supervisor event for instance idx (-1: the deployment)
// in the log lines and the logger.
func (d *Deployment) event(idx int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.line(idx, "supervisor: "+msg)
	d.log.Info("process: "+msg, "instance", idx)
}

// line records one log line of instance idx.
func (d *Deployment) line(idx int, text string) {
	prefix := "[-]"
	if idx >= 0 {
		prefix = "[" + strconv.Itoa(idx) + "]"
	}
	d.logs.add(d.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + prefix + " " + text)
}

// supervise keeps a child in slot s until Close: it starts one, restarts it
// with backoff when it exits, and replaces it on request.
func (d *Deployment) supervise(s *slot) {
	defer d.wg.Done()
	var (
		cur      *instance
		failures int              // short-lived runs in a row
		backoff  <-chan time.Time // while waiting to restart
		timer    *time.Timer
	)
	retryLater := func() {
		delay := min(minBackoff<<min(failures, 16), maxBackoff)
		failures++
		d.event(s.idx, "restarting in %s", delay)
		timer = time.NewTimer(delay)
		backoff = timer.C
	}
	launch := func() {
		var err error
		if cur, err = d.spawn(s.idx); err != nil {
			cur = nil
			d.event(s.idx, "%s", describe(err))
			retryLater()
		}
	}
	launch()
	for {
		var exited <-chan struct{}
		if cur != nil {
			exited = cur.exited
		}
		select {
		case <-d.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			if cur != nil {
				d.stop(cur)
			}
			return
		case <-exited:
			d.remove(cur)
			d.transport.CloseIdleConnections()
			d.event(s.idx, "%s", cur.exitReport())
			if d.opts.Now().Sub(cur.started) >= backoffReset {
				failures = 0
			}
			d.restarts.Add(1)
			cur = nil
			retryLater()
		case <-backoff:
			backoff = nil
			launch()
		case r := <-s.replace:
			next, err := d.spawn(s.idx)
			if err == nil {
				if err = d.awaitReady(r.ctx, next); err != nil {
					d.stop(next)
				}
			}
			if err != nil {
				d.event(s.idx, "restart failed: %s", describe(err))
				r.done <- err
				continue
			}
			if timer != nil {
				timer.Stop()
			}
			backoff, failures = nil, 0
			if cur != nil {
				d.event(s.idx, "replacing pid %d by pid %d", cur.pid, next.pid)
				d.stop(cur)
			}
			cur = next
			r.done <- nil
		}
	}
}

// awaitReady waits until in is ready for the first time.
func (d *Deployment) awaitReady(ctx context.Context, in *instance) error {
	select {
	case <-in.becameReady:
		return nil
	case <-in.exited:
		return ferry.Errorf(ferry.EUNAVAILABLE, "deployment %s instance %d: %s", d.id, in.idx, in.exitReport())
	case <-ctx.Done():
		return fmt.Errorf("pid %d was not ready: %w", in.pid, ctx.Err())
	case <-d.ctx.Done():
		return errClosed(d.id)
	}
}

// add makes in one of the instances requests may go to (once ready).
func (d *Deployment) add(in *instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	live := append(append(make([]*instance, 0, len(d.live)+1), d.live...), in)
	d.live = live
}

// remove takes in out of the instances requests may go to.
func (d *Deployment) remove(in *instance) {
	d.mu.Lock()
	live := make([]*instance, 0, len(d.live))
	for _, x := range d.live {
		if x != in {
			live = append(live, x)
		}
	}
	d.live = live
	d.mu.Unlock()
}

// pick returns a ready instance other than not, round robin; failing that
// not itself if it is still ready; nil if none is.
func (d *Deployment) pick(not *instance) *instance {
	d.mu.Lock()
	live := d.live
	d.mu.Unlock()
	n := uint64(len(live))
	start := d.rr.Add(1)
	for i := range n {
		if in := live[(start+i)%n]; in != not && in.routable() {
			return in
		}
	}
	if not != nil && not.routable() {
		return not
	}
	return nil
}
