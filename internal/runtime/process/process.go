// Package process serves models through a child process: any command that
// serves the Open Inference Protocol V2 REST API or MLflow's scoring protocol
// on the port Ferry gives it — `mlflow models serve` for MLflow's
// python_function models (scikit-learn, statsmodels, custom PythonModel), or
// any other Python model server.
//
// Start runs the command in its own process group with PORT and FERRY_PORT
// set (and FERRY_MODEL_DIR for a package; the arguments' {port} and
// {model_dir} are replaced by the same), and waits until it is ready. With
// the V2 protocol, ready is GET /v2/health/ready answering 200; Start then
// reads the model's V2 metadata, and Predict sends V2 JSON to
// /v2/models/{name}/infer. With the MLflow protocol, ready is GET /ping
// answering 200; the metadata's outputs come from the package's signature,
// and Predict sends dataframe_split JSON (or "inputs" for tensors) to POST
// /invocations and reads {"predictions": ...} back; see mlflowjson.go.
//
// A supervisor restarts the command when it dies,
// with backoff and at most MaxRestarts starts a minute; Predict during a
// restart waits for the server to be ready again, up to RequestTimeout. Close
// stops the whole process group: SIGTERM, then SIGKILL after StopGrace.
//
// The child's standard output and error go to the logger, line by line.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Platform is the V2 metadata platform of models served through a process.
const Platform = "process"

// Defaults for the zero values of Config's fields.
const (
	DefaultReadyTimeout   = 2 * time.Minute
	DefaultRequestTimeout = 60 * time.Second
	DefaultStopGrace      = 10 * time.Second
	DefaultMaxRestarts    = 5
)

// Protocols the command may speak (Config.Protocol).
const (
	ProtocolV2     = "v2"     // Open Inference Protocol V2 REST
	ProtocolMLflow = "mlflow" // MLflow's scoring protocol: /ping, /version, /invocations
)

// Placeholders in the command's arguments, replaced at each start.
const (
	PlaceholderPort     = "{port}"      // the port to serve on
	PlaceholderModelDir = "{model_dir}" // Config.ModelDir
)

// DefaultMLflowCommand is the command of the MLflow protocol when Config
// names none: MLflow's own scoring server, in Ferry's Python environment.
func DefaultMLflowCommand() []string {
	return []string{"mlflow", "models", "serve", "-m", PlaceholderModelDir, "--env-manager", "local", "-h", "127.0.0.1", "-p", PlaceholderPort}
}

// Environment variables the command is started with.
const (
	EnvPort      = "PORT"            // the port to serve on, on 127.0.0.1
	EnvFerryPort = "FERRY_PORT"      // the same
	EnvModelDir  = "FERRY_MODEL_DIR" // the model package directory (Config.ModelDir)
)

// Config says what to run and how to supervise it.
type Config struct {
	// Protocol is what the command speaks: ProtocolV2 (the default, "") or
	// ProtocolMLflow.
	Protocol string
	// Command is the program and its arguments; required for the V2
	// protocol, DefaultMLflowCommand when empty for the MLflow protocol. A
	// program without a slash is looked up in PATH. {port} and {model_dir}
	// in the arguments are replaced by Port and ModelDir.
	Command []string
	// Dir is the working directory; "" for Ferry's.
	Dir string
	// Env is the command's environment as KEY=value entries; nil inherits
	// Ferry's, as os/exec does. PORT, FERRY_PORT and FERRY_MODEL_DIR are
	// added to it, replacing entries of those names.
	Env []string
	// Port is the loopback port the command serves on; 0 picks a free one,
	// which is kept across restarts.
	Port int
	// ReadyTimeout bounds each start, until the command answers ready.
	ReadyTimeout time.Duration
	// RequestTimeout bounds each Predict, including a wait for a restart.
	RequestTimeout time.Duration
	// ModelName is the name a V2 server serves the model under; required
	// for the V2 protocol, unused by the MLflow protocol.
	ModelName string
	// ModelDir is passed as FERRY_MODEL_DIR when set; Load sets it to the
	// package directory.
	ModelDir string
	// Signature is the model's signature; the MLflow protocol declares the
	// model's outputs by it and names and types the predictions after it
	// (nil: by what the server answers). Load sets it from the package.
	Signature *model.Signature
	// StopGrace is how long Close waits after SIGTERM before SIGKILL.
	StopGrace time.Duration
	// MaxRestarts bounds the starts in any minute; beyond it the supervisor
	// waits, and Predict fails at once with EUNAVAILABLE, until the minute
	// has passed.
	MaxRestarts int
	// Log receives the child's output and the supervisor's notes; nil
	// discards them.
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Protocol == "" {
		c.Protocol = ProtocolV2
	}
	if c.Protocol == ProtocolMLflow && len(c.Command) == 0 {
		c.Command = DefaultMLflowCommand()
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.StopGrace <= 0 {
		c.StopGrace = DefaultStopGrace
	}
	if c.MaxRestarts <= 0 {
		c.MaxRestarts = DefaultMaxRestarts
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a Config with its defaults applied.
func (c Config) validate() error {
	switch {
	case c.Protocol != ProtocolV2 && c.Protocol != ProtocolMLflow:
		return invalidf("unknown protocol %q: want %s or %s", clip(c.Protocol), ProtocolV2, ProtocolMLflow)
	case len(c.Command) == 0 || c.Command[0] == "":
		return invalidf("no command to run")
	case c.Protocol == ProtocolV2 && c.ModelName == "":
		return invalidf("no model name: the server's V2 routes need one")
	case c.Port < 0 || c.Port > 65535:
		return invalidf("port %d is not between 0 and 65535", c.Port)
	}
	if c.ModelDir == "" {
		for _, arg := range c.Command {
			if strings.Contains(arg, PlaceholderModelDir) {
				return invalidf("the command names %s, but there is no model directory", PlaceholderModelDir)
			}
		}
	}
	return nil
}

// Load serves pkg's python_function model through cfg's command, run with
// FERRY_MODEL_DIR (and {model_dir}) set to the package directory (and in it,
// unless cfg.Dir says otherwise), and cfg.Signature set to the package's.
// Errors as for Start, plus ENOTFOUND when pkg has no python_function flavor.
func Load(ctx context.Context, pkg *model.Package, cfg Config) (*Model, error) {
	if _, err := pkg.Manifest.PyFunc(); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	if len(cfg.Command) == 0 && (cfg.Protocol == "" || cfg.Protocol == ProtocolV2) {
		return nil, invalidf("no command is configured to serve python_function models (it must serve the Open Inference Protocol V2 on $PORT, or use the mlflow protocol, whose default command is 'mlflow models serve')")
	}
	cfg.ModelDir = pkg.Dir
	cfg.Signature = pkg.Manifest.Signature
	if cfg.Dir == "" {
		cfg.Dir = pkg.Dir
	}
	return Start(ctx, cfg)
}

// Loader returns Load with cfg bound, for a runtime.Registry.
func Loader(cfg Config) runtime.Loader {
	return func(ctx context.Context, pkg *model.Package) (runtime.Model, error) {
		m, err := Load(ctx, pkg, cfg)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
}

// Model is a model served by a supervised child process. Its methods are safe
// for concurrent use.
type Model struct {
	cfg   Config
	proto protocol
	addr  string // 127.0.0.1:port
	log   *slog.Logger
	meta  runtime.Metadata

	// ctx is cancelled by Close: the supervisor stops the child and returns,
	// closing done.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	state     state
	cur       *child        // the running child; nil while none runs
	changed   chan struct{} // closed and replaced at every change of state or child
	starts    []time.Time   // start times within the last minute
	restarts  int
	throttled time.Time // while state is throttled: when the next start may be
}

type state int

const (
	starting  state = iota // a child is starting (or about to)
	ready                  // the child answers ready
	throttled              // too many starts this minute; waiting
	closed
)

// Start starts cfg's command and returns once it serves the model: its
// readiness endpoint answered 200 and its metadata was read. ctx bounds the
// start only (together with ReadyTimeout); the child lives until Close.
//
// Errors wrap a *ferry.Error: EINVALID for a bad Config, a command that cannot
// be started (a program not on PATH — a missing Python or MLflow — says so),
// or a V2 server that does not know ModelName; EUNAVAILABLE when the command
// exits before it is ready or is not ready within ReadyTimeout (the error's
// text ends with the first and last lines of its output).
func Start(ctx context.Context, cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("process: pick a port: %w", err)
		}
		cfg.Port = port
	}
	m := &Model{
		cfg:     cfg,
		proto:   newProtocol(cfg),
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)),
		log:     cfg.Log.With("model", cfg.ModelName),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	c, err := m.startChild(ctx)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	if m.meta, err = m.proto.describe(mctx, m); err != nil {
		c.terminate(cfg.StopGrace)
		return nil, err
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.Lock()
	m.cur, m.state = c, ready
	m.mu.Unlock()
	go m.supervise(c)
	return m, nil
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before the child binds it; the child then fails to start.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startChild runs the command and waits until it is ready, within ctx and
// ReadyTimeout; on failure the child is stopped.
func (m *Model) startChild(ctx context.Context) (*child, error) {
	now := time.Now()
	m.mu.Lock()
	m.starts = append(m.starts, now)
	m.mu.Unlock()

	c, err := spawn(m.cfg, m.log)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, m.cfg.ReadyTimeout)
	defer cancel()
	if err := m.waitReady(rctx, c); err != nil {
		c.terminate(m.cfg.StopGrace)
		if se, ok := err.(*startError); ok {
			se.tail = c.lastOutput()
		}
		return nil, err
	}
	m.log.Info("process: model server ready", "pid", c.pid(), "addr", m.addr, "took", time.Since(now).Round(time.Millisecond))
	return c, nil
}

// waitReady polls the protocol's readiness endpoint with backoff until it
// answers 200, the child exits, or ctx ends.
func (m *Model) waitReady(ctx context.Context, c *child) error {
	delay := 5 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-c.exited:
			return &startError{fe: ferry.Errorf(ferry.EUNAVAILABLE, "the model server exited before it was ready (%s)", c.exitStatus())}
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &startError{fe: ferry.Errorf(ferry.EUNAVAILABLE, "the model server was not ready on %s within %s", m.addr, m.cfg.ReadyTimeout)}
			}
			return ctx.Err()
		case <-timer.C:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := roundTrip(pctx, m.addr, "GET", m.proto.readyPath(), nil)
		cancel()
		if err == nil && resp.status == 200 {
			return nil
		}
		timer.Reset(delay)
		delay = min(delay*2, 250*time.Millisecond)
	}
}

// supervise restarts the child when it dies until Close, then stops it.
func (m *Model) supervise(c *child) {
	defer close(m.done)
	for {
		select {
		case <-m.ctx.Done():
			c.terminate(m.cfg.StopGrace)
			return
		case <-c.exited:
		}
		m.log.Warn("process: model server exited; restarting", "pid", c.pid(), "status", c.exitStatus())
		c.killGroup() // children it left behind may hold the port
		m.setChild(nil, starting)
		for {
			if wait := m.nextStart(); wait > 0 && !m.sleep(wait) {
				return
			}
			next, err := m.startChild(m.ctx)
			if m.ctx.Err() != nil {
				if next != nil {
					next.terminate(m.cfg.StopGrace)
				}
				return
			}
			if err != nil {
				m.log.Warn("process: restart failed", "err", err)
				continue
			}
			c = next
			m.mu.Lock()
			m.restarts++
			m.mu.Unlock()
			m.setChild(c, ready)
			break
		}
	}
}

// nextStart returns how long to wait before the next start: a backoff that
// doubles with each start in the last minute (100 ms, 200 ms, … up to 10 s),
// or, when MaxRestarts starts happened in the last minute, until the oldest
// leaves it. While throttled, Predict fails at once.
func (m *Model) nextStart() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	recent := m.starts[:0]
	for _, t := range m.starts {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	m.starts = recent
	if len(recent) >= m.cfg.MaxRestarts {
		until := recent[len(recent)-m.cfg.MaxRestarts].Add(time.Minute)
		m.throttled = until
		m.setStateLocked(throttled)
		m.log.Error("process: model server restarts too often; waiting", "starts_last_minute", len(recent), "until", until)
		return until.Sub(now)
	}
	if len(recent) == 0 {
		return 0
	}
	return min(100*time.Millisecond<<(len(recent)-1), 10*time.Second)
}

// sleep waits d or until Close; it reports false on Close.
func (m *Model) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-m.ctx.Done():
		return false
	case <-t.C:
		m.mu.Lock()
		if m.state == throttled {
			m.setStateLocked(starting)
		}
		m.mu.Unlock()
		return true
	}
}

func (m *Model) setChild(c *child, s state) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == closed {
		return
	}
	m.cur = c
	m.setStateLocked(s)
}

// setStateLocked moves to state s and wakes the waiters; closed is final.
func (m *Model) setStateLocked(s state) {
	if m.state == closed {
		return
	}
	m.state = s
	close(m.changed)
	m.changed = make(chan struct{})
}

// Metadata is the model's V2 metadata as the server gave it at start, with
// platform "process".
func (m *Model) Metadata() runtime.Metadata { return m.meta }

// Addr is the server's address, 127.0.0.1:port.
func (m *Model) Addr() string { return m.addr }

// Ready reports whether the server is up and answered ready.
func (m *Model) Ready() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == ready
}

// WaitReady waits until the server is ready; it fails with EUNAVAILABLE when
// the model is closed or throttled, or with ctx's error.
func (m *Model) WaitReady(ctx context.Context) error {
	_, err := m.readyChild(ctx)
	return err
}

// PID returns the process id of the running server, 0 while none runs.
func (m *Model) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || m.state != ready {
		return 0
	}
	return m.cur.pid()
}

// Restarts returns how many times the supervisor restarted the server.
func (m *Model) Restarts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restarts
}

// readyChild waits until a child is ready and returns it, with the channel
// that closes at the next change.
func (m *Model) readyChild(ctx context.Context) (*child, error) {
	for {
		m.mu.Lock()
		st, c, changed, until := m.state, m.cur, m.changed, m.throttled
		m.mu.Unlock()
		switch st {
		case ready:
			return c, nil
		case closed:
			return nil, unavailablef("the model is closed")
		case throttled:
			return nil, unavailablef("the model server keeps exiting; Ferry restarts it again at %s", until.UTC().Format(time.RFC3339))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, m.waitError(ctx)
		}
	}
}

// waitError is the error for a ctx that ended while waiting for the server.
func (m *Model) waitError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return unavailablef("the model server is restarting and was not ready within the request timeout (%s)", m.cfg.RequestTimeout)
	}
	return ctx.Err()
}

// Predict sends inputs to the server — V2 JSON to /v2/models/{name}/infer,
// or an MLflow scoring request to /invocations — and returns its outputs. It
// waits for a restarting server, and retries a request whose connection was
// refused, within RequestTimeout.
//
// Errors wrap a *ferry.Error: EINVALID with the server's message when it
// answers 4xx; EUNAVAILABLE when it answers 5xx (a V2 server's message is
// logged, an MLflow server's message is passed on and its stack trace
// logged), the connection fails, or it is not ready within RequestTimeout;
// EINTERNAL when its response is not one of the protocol; ctx's error when
// ctx ends.
func (m *Model) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	path, body, err := m.proto.request(inputs)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	for {
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		c, err := m.readyChild(ctx)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		changed := m.changed
		m.mu.Unlock()
		resp, err := roundTrip(ctx, m.addr, "POST", path, body)
		var de *dialError
		if errors.As(err, &de) {
			// Not sent: the server is probably dying. Wait for the supervisor
			// to notice and try again on the next child.
			m.log.Debug("process: connection refused; waiting for the server", "pid", c.pid(), "err", err)
			select {
			case <-changed:
				continue
			case <-c.exited:
				select {
				case <-changed:
					continue
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
			if parent.Err() != nil {
				return nil, parent.Err()
			}
			return nil, unavailablef("the model server is not accepting connections: %v", de.err)
		}
		if err != nil {
			if parent.Err() != nil {
				return nil, parent.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, unavailablef("the model server did not answer within the request timeout (%s)", m.cfg.RequestTimeout)
			}
			if errors.Is(err, errTooLarge) {
				return nil, errorf(ferry.ETOOLARGE, "the model server's response is larger than %d bytes", maxResponse)
			}
			return nil, unavailablef("the request to the model server failed: %v", err)
		}
		return m.result(resp)
	}
}

func (m *Model) result(resp response) ([]runtime.Tensor, error) {
	switch {
	case resp.status >= 200 && resp.status < 300:
		out, err := m.proto.response(resp.body)
		if err != nil {
			m.log.Error("process: bad inference response", "err", err)
			return nil, errorf(ferry.EINTERNAL, "the model server's response is not a valid %s response: %v", m.proto.name(), err)
		}
		return out, nil
	case resp.status >= 400 && resp.status < 500:
		msg, trace := m.proto.failure(resp.body)
		if trace != "" {
			m.log.Debug("process: model server refused a request", "status", resp.status, "stack_trace", clip(trace))
		}
		return nil, invalidf("%s", msg)
	default:
		m.log.Error("process: model server error", "status", resp.status, "body", clip(string(resp.body)))
		if m.proto.showsServerErrors() {
			msg, _ := m.proto.failure(resp.body)
			return nil, unavailablef("the model server failed (HTTP %d): %s", resp.status, msg)
		}
		return nil, unavailablef("the model server failed (HTTP %d)", resp.status)
	}
}

// Close stops the server: SIGTERM to its process group, SIGKILL after
// StopGrace, and waits for it. Later Predicts fail with EUNAVAILABLE; a
// second Close does nothing.
func (m *Model) Close() error {
	m.mu.Lock()
	if m.state == closed {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.setStateLocked(closed)
	m.cur = nil
	m.mu.Unlock()
	m.cancel()
	<-m.done
	return nil
}

// codedError is an error a user can act on: it reads "process: <message>" and
// wraps the *ferry.Error that carries the code and the message.
type codedError struct{ fe *ferry.Error }

func (e *codedError) Error() string { return "process: " + e.fe.Message }
func (e *codedError) Unwrap() error { return e.fe }

func errorf(code, format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(code, format, args...)}
}

func invalidf(format string, args ...any) error { return errorf(ferry.EINVALID, format, args...) }

func unavailablef(format string, args ...any) error {
	return errorf(ferry.EUNAVAILABLE, format, args...)
}

// startError is a failed start: the message for users, and the last lines of
// the command's output for operators in Error().
type startError struct {
	fe   *ferry.Error
	tail []string
}

func (e *startError) Error() string {
	s := "process: " + e.fe.Message
	if len(e.tail) > 0 {
		s += "; last output:"
		for _, l := range e.tail {
			s += "\n\t" + l
		}
	}
	return s
}

func (e *startError) Unwrap() error { return e.fe }

// clip shortens s for a message.
func clip(s string) string {
	const most = 500
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

var _ runtime.Model = (*Model)(nil)
