package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes = 16 << 20
	DefaultTimeout         = 60 * time.Second
	DefaultMaxInFlight     = 1024
)

// RequestIDHeader carries the request id, echoed or generated, on every
// response.
const RequestIDHeader = httpmw.RequestIDHeader

// Protocols, as the metrics label them.
const (
	protoV2     = "v2"
	protoV1     = "v1"
	protoMLflow = "mlflow"
	protoOther  = "other"
)

// Options configure a Server. The zero value serves with the defaults.
type Options struct {
	// MaxRequestBytes bounds request bodies (413 beyond); default 16 MiB.
	MaxRequestBytes int64
	// Timeout bounds one prediction, queueing for a batch included (504
	// beyond); default 60s.
	Timeout time.Duration
	// MaxInFlight bounds the inference requests served at once; more are
	// refused with 503 at once rather than queued. Default 1024.
	MaxInFlight int
	// Registerer receives the serving metrics. When nil the Server keeps its
	// own registry and serves it at /metrics (standalone `ferry serve`).
	Registerer prometheus.Registerer
	// Default names the model that /invocations (MLflow scoring) serves;
	// when empty, it is the only model held, if there is exactly one.
	Default string
	// Batch is the adaptive batching of models Set without WithBatching; the
	// zero value is off.
	Batch BatchOptions
	// Collector, when set, receives every successful prediction (inference
	// logging); it must not block.
	Collector Collector
	Log       *slog.Logger
}

// Server serves named models over the Open Inference Protocol V2, KServe V1
// and MLflow's scoring protocol. Models are swapped with Set while requests
// flow: a request holds the model version it started with until it ends, and
// a replaced model is Closed once its last request has ended. All methods
// are safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	gather  http.Handler // /metrics when standalone; nil otherwise
	mux     *http.ServeMux
	bufs    bufferPool

	inFlight atomic.Int64

	mu         sync.RWMutex
	models     map[string]*entry
	closed     bool
	registries []*registryModels
	live       sync.WaitGroup // entries not yet Closed
}

// New returns a Server holding no models. It registers its metrics on
// opts.Registerer (reusing collectors already registered there under the
// same names).
func New(opts Options) *Server {
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Log, models: map[string]*entry{}, mux: http.NewServeMux()}
	reg := opts.Registerer
	if reg == nil {
		own := prometheus.NewRegistry()
		own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = own
		s.gather = promhttp.HandlerFor(own, promhttp.HandlerOpts{})
	}
	s.metrics = newMetrics(reg)
	s.routes(s.mux, staticModels{s}, true)
	return s
}

// ModelOption configures one model given to Set.
type ModelOption func(*modelOptions)

type modelOptions struct{ batch BatchOptions }

// WithBatching turns on adaptive batching for the model: concurrent requests
// are concatenated along their first dimension into one Predict of at most
// maxRows rows, waiting at most maxDelay after the first of them. maxRows <= 1
// turns batching off.
func WithBatching(maxRows int, maxDelay time.Duration) ModelOption {
	return func(o *modelOptions) { o.batch = BatchOptions{MaxRows: maxRows, MaxDelay: maxDelay} }
}

// Set serves m as version of name, replacing the model served under name, if
// any. The Server owns m from then on: it Closes m after m is replaced or
// removed and its last request has ended. Requests already holding the old
// model finish on it; requests that start after Set returns use m. sig may be
// nil. After Close, Set closes m at once.
func (s *Server) Set(name, version string, m runtime.Model, sig *model.Signature, opts ...ModelOption) {
	mo := modelOptions{batch: s.opts.Batch}
	for _, o := range opts {
		o(&mo)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if err := m.Close(); err != nil {
			s.log.Error("closing model", "model", name, "version", version, "err", err)
		}
		return
	}
	e := s.newEntry(name, version, m, sig, mo)
	old := s.models[name]
	s.models[name] = e
	s.mu.Unlock()
	s.log.Info("serving model", "model", name, "version", version)
	if old != nil {
		old.release()
	}
}

// Remove stops serving name; its model is Closed once its last request has
// ended. It reports whether name was served.
func (s *Server) Remove(name string) bool {
	s.mu.Lock()
	old := s.models[name]
	delete(s.models, name)
	s.mu.Unlock()
	if old != nil {
		old.release()
	}
	return old != nil
}

// Close stops serving every model and waits until each has been Closed,
// which happens when its last in-flight request ends, or until ctx ends.
// Requests that arrive after Close are answered 404 (or 503 for health
// checks). Close is meant to follow http.Server.Shutdown, which drains the
// requests.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	old := s.models
	s.models = map[string]*entry{}
	registries := s.registries
	s.mu.Unlock()
	for _, e := range old {
		e.release()
	}
	for _, rm := range registries {
		rm.close()
	}
	done := make(chan struct{})
	go func() { s.live.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("serving: close: models still in use: %w", ctx.Err())
	}
}

// acquire returns the entry served under name with a reference the caller
// must release. version, when not empty, must be the version served.
func (s *Server) acquire(name, version string) (*entry, error) {
	s.mu.RLock()
	e := s.models[name]
	if e != nil {
		e.refs.Add(1)
	}
	s.mu.RUnlock()
	if e == nil {
		return nil, ferry.Errorf(ferry.ENOTFOUND, "Model '%s' is not served here.%s", clip(name), s.servedHint())
	}
	if version != "" && version != e.version {
		v := e.version
		e.release()
		return nil, ferry.Errorf(ferry.ENOTFOUND, "Model '%s' version '%s' is not served here; version '%s' is.", clip(name), clip(version), v)
	}
	return e, nil
}

// servedHint names the served models for a not-found message.
func (s *Server) servedHint() string {
	names := s.Names()
	switch {
	case len(names) == 0:
		return " No model is loaded."
	case len(names) <= 10:
		return fmt.Sprintf(" Served: %s.", quoteList(names))
	}
	return fmt.Sprintf(" %d models are served.", len(names))
}

// Names returns the names of the served models, sorted.
func (s *Server) Names() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	s.mu.RUnlock()
	slices.Sort(names)
	return names
}

// defaultModel returns the model /invocations serves.
func (s *Server) defaultModel() (*entry, error) {
	name := s.opts.Default
	if name == "" {
		s.mu.RLock()
		n := len(s.models)
		for k := range s.models {
			name = k
		}
		s.mu.RUnlock()
		if n != 1 {
			return nil, ferry.Errorf(ferry.ENOTFOUND, "/invocations serves a single model, and %d are served here; use /v2/models/NAME/infer.", n)
		}
	}
	return s.acquire(name, "")
}

// ready reports whether the server is open and holds a model, and every
// model it holds is ready.
func (s *Server) ready() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.models {
		if !e.ready() {
			return false
		}
	}
	return !s.closed && len(s.models) > 0
}

// notReady is the error of a server that is not ready.
func (s *Server) notReady() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.models {
		if !e.ready() {
			return ferry.Errorf(ferry.EUNAVAILABLE, "Model '%s' is not ready: its server is starting again.", clip(e.name))
		}
	}
	return ferry.Errorf(ferry.EUNAVAILABLE, "No model is loaded yet.")
}

// Readier is implemented by models that can be loaded and yet not ready for a
// while, such as a model served by a child process that is restarting. The
// readiness routes answer 503 while Ready is false; requests wait for the
// model as its runtime says.
type Readier interface {
	Ready() bool
}

// ready reports whether e's model is ready: always, unless it is a Readier.
func (e *entry) ready() bool {
	r, ok := e.model.(Readier)
	return !ok || r.Ready()
}

// entry is one served model version. refs counts the Server's own reference
// (until replaced) and one per request holding it; the model is Closed when
// refs drops to 0.
type entry struct {
	name, version string
	model         runtime.Model
	sig           *model.Signature
	meta          runtime.Metadata
	schema        *Schema
	batch         *batcher // nil when batching is off
	refs          atomic.Int64
	m             *entryMetrics
	onClose       func()
	log           *slog.Logger
}

func (s *Server) newEntry(name, version string, m runtime.Model, sig *model.Signature, mo modelOptions) *entry {
	md := m.Metadata()
	e := &entry{
		name: name, version: version, model: m, sig: sig, meta: md, schema: NewSchema(md, sig),
		m: s.metrics.forModel(name, version), log: s.log,
	}
	e.refs.Store(1)
	s.live.Add(1)
	e.onClose = s.live.Done
	if mo.batch.MaxRows > 1 {
		e.batch = newBatcher(m, mo.batch, s.opts.Timeout, e.m.batchSize)
	}
	return e
}

// release drops a reference; the last one closes the model.
func (e *entry) release() {
	if e.refs.Add(-1) != 0 {
		return
	}
	if e.batch != nil {
		e.batch.stop()
	}
	if err := e.model.Close(); err != nil {
		e.log.Error("closing model", "model", e.name, "version", e.version, "err", err)
	} else {
		e.log.Info("closed model", "model", e.name, "version", e.version)
	}
	if e.onClose != nil {
		e.onClose()
	}
}

// predict runs inputs of rows rows through the model (or its batcher) under
// the server's timeout.
func (s *Server) predict(ctx context.Context, e *entry, inputs []runtime.Tensor, rows int) ([]runtime.Tensor, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var out []runtime.Tensor
	var err error
	if e.batch != nil && rows > 0 {
		out, err = e.batch.predict(ctx, inputs, rows)
	} else {
		e.m.batchSize.Observe(float64(rows))
		out, err = e.model.Predict(ctx, inputs)
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) {
			return nil, &httpmw.StatusError{Status: http.StatusGatewayTimeout, Code: ferry.EUNAVAILABLE,
				Message: "The model did not answer within " + s.opts.Timeout.String() + ".", Err: err}
		}
		return nil, err
	}
	for i := range out {
		if out[i].Len() != shapeElems(out[i].Shape) {
			return nil, fmt.Errorf("serving: model %s output %q has %d elements for shape %v", e.name, out[i].Name, out[i].Len(), out[i].Shape)
		}
	}
	return out, nil
}

// shapeElems is the product of shape's dimensions, -1 when one is negative.
func shapeElems(shape []int64) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		n *= int(d)
	}
	return n
}

// Handler returns the HTTP handler of every route: V2 under /v2/, V1 under
// /v1/, MLflow scoring at /invocations, /ping, /health and /version, and
// /metrics when the Server has its own registry. Every response carries an
// X-Request-Id.
func (s *Server) Handler() http.Handler { return s.wrap(s.mux) }

// wrap adds body limits, request ids, access logs and panic recovery
// around h.
func (s *Server) wrap(h http.Handler) http.Handler {
	errs := httpmw.Errors{Log: s.log, Family: func(r *http.Request) httpmw.Encoder { return encoderOf(protocolOf(r.URL.Path)) }}
	return httpmw.Chain(h,
		httpmw.LimitBody(s.opts.MaxRequestBytes),
		httpmw.RequestIDs(),
		httpmw.AccessLog(s.log),
		httpmw.Recover(errs),
	)
}

// enter takes an in-flight slot for an inference request, or fails with
// EUNAVAILABLE when the server is at MaxInFlight.
func (s *Server) enter() error {
	if s.inFlight.Add(1) > int64(s.opts.MaxInFlight) {
		s.inFlight.Add(-1)
		return ferry.Errorf(ferry.EUNAVAILABLE, "The server is overloaded (%d requests in flight); retry later.", s.opts.MaxInFlight)
	}
	return nil
}

func (s *Server) leave() { s.inFlight.Add(-1) }

// readBody reads the request body into a pooled buffer. The body is bounded
// by MaxRequestBytes (httpmw.LimitBody in wrap); a longer one, announced or
// read, is ETOOLARGE. The caller puts the buffer back.
func (s *Server) readBody(r *http.Request) (*[]byte, error) {
	limit := s.opts.MaxRequestBytes
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	bp := s.bufs.get()
	b := *bp
	if r.ContentLength > 0 && int64(cap(b)) < r.ContentLength {
		b = make([]byte, 0, r.ContentLength)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			*bp = b
			if err == io.EOF {
				return bp, nil
			}
			s.bufs.put(bp)
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(limit)
			}
			return nil, ferry.Errorf(ferry.EINVALID, "Could not read the request body: %v.", err)
		}
	}
}

func tooLarge(limit int64) error {
	return ferry.Errorf(ferry.ETOOLARGE, "The request body exceeds the limit of %d bytes; send fewer rows per request.", limit)
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:197] + "..."
	}
	return s
}

func quoteList(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += "'" + clip(n) + "'"
	}
	return out
}
