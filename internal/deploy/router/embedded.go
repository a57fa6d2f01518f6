package router

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
)

// EmbeddedOptions configure the embedded target.
type EmbeddedOptions struct {
	// Registerer receives the serving metrics of the deployments (the
	// server's registry); nil: each backend keeps its own.
	Registerer prometheus.Registerer
	// MaxRequestBytes bounds request bodies; 0: serving's default.
	MaxRequestBytes int64
	// BatchDelay is how long a batch waits for more rows when
	// request_settings.max_batch_size is set; default 2ms.
	BatchDelay time.Duration
	// RetryMin and RetryMax bound the backoff between failed loads;
	// defaults 1s and 1 minute.
	RetryMin, RetryMax time.Duration
	// Collector, when set, gives the inference-log collector of a
	// deployment's server (nil: none), from its data_collector.
	Collector func(endpoint string, d deploy.Deployment) serving.Collector
	Log       *slog.Logger
}

// Embedded is the "embedded" target: each deployment is served inside
// this process by a serving.Server holding d.ModelVersion under the
// endpoint's name, loaded through loader in the background (Ready once
// loaded; a failed load is logged, kept in Logs and Err, and retried with
// backoff). request_settings map to the server's options:
// request_timeout_ms to Timeout, max_concurrent_requests_per_instance to
// MaxInFlight, max_batch_size to adaptive batching. Restart loads the
// version again and swaps it in without dropping requests; Close unloads.
func Embedded(loader *runtime.VersionLoader, opts EmbeddedOptions) Target {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.BatchDelay <= 0 {
		opts.BatchDelay = 2 * time.Millisecond
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = time.Minute
	}
	return func(_ context.Context, endpoint string, d deploy.Deployment) (Backend, error) {
		d = d.Normalize()
		rs := d.RequestSettings
		var collector serving.Collector
		if opts.Collector != nil {
			collector = opts.Collector(endpoint, d)
		}
		srv := serving.New(serving.Options{
			MaxRequestBytes: opts.MaxRequestBytes,
			Timeout:         time.Duration(rs.RequestTimeoutMS) * time.Millisecond,
			MaxInFlight:     rs.MaxConcurrentRequestsPerInstance,
			Registerer:      opts.Registerer,
			Default:         endpoint,
			Collector:       collector,
			Log:             opts.Log.With("endpoint", endpoint, "deployment", d.Name),
		})
		ctx, cancel := context.WithCancel(context.Background())
		b := &embedded{loader: loader, opts: opts, endpoint: endpoint, spec: d, srv: srv, h: srv.Handler(), cancel: cancel, done: make(chan struct{})}
		if rs.MaxBatchSize > 1 {
			b.modelOpts = append(b.modelOpts, serving.WithBatching(rs.MaxBatchSize, opts.BatchDelay))
		}
		go b.loadLoop(ctx)
		return b, nil
	}
}

// embedded is the Backend of the embedded target.
type embedded struct {
	loader    *runtime.VersionLoader
	opts      EmbeddedOptions
	endpoint  string
	spec      deploy.Deployment
	srv       *serving.Server
	h         http.Handler
	modelOpts []serving.ModelOption
	ready     atomic.Bool
	cancel    context.CancelFunc
	done      chan struct{} // closed when loadLoop returns

	mu      sync.Mutex
	lastErr error
	events  eventRing
}

func (b *embedded) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.h.ServeHTTP(w, r) }

// Ready reports whether the model is loaded.
func (b *embedded) Ready() bool { return b.ready.Load() }

// Err is the last load failure while the model is not loaded.
func (b *embedded) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// Logs returns up to n recent events: loads, failures, restarts.
func (b *embedded) Logs(n int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.events.last(n)
}

func (b *embedded) event(err error, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastErr = err
	if err != nil {
		msg += ": " + err.Error()
	}
	b.events.add(time.Now(), msg)
}

// loadLoop loads the model until it succeeds or ctx ends, waiting
// RetryMin, doubling up to RetryMax, between failures.
func (b *embedded) loadLoop(ctx context.Context) {
	defer close(b.done)
	wait := b.opts.RetryMin
	for {
		err := b.load(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		b.opts.Log.Warn("router: loading a deployment's model", "endpoint", b.endpoint, "deployment", b.spec.Name, "model", b.spec.ModelVersion, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, b.opts.RetryMax)
	}
}

// load loads the pinned version and serves it (replacing the model served,
// if any, once its requests end).
func (b *embedded) load(ctx context.Context) error {
	b.event(nil, "loading "+b.spec.ModelVersion)
	start := time.Now()
	l, err := b.loader.LoadVersion(ctx, b.spec.ModelVersion)
	if err != nil {
		err = fmt.Errorf("loading %s: %w", b.spec.ModelVersion, err)
		b.event(err, "failed")
		return err
	}
	b.srv.Set(b.endpoint, strconv.Itoa(l.Version.Version), l, l.Signature(), b.modelOpts...)
	b.ready.Store(true)
	b.event(nil, fmt.Sprintf("serving %s as %s (loaded in %s)", b.spec.ModelVersion, b.endpoint, time.Since(start).Round(time.Millisecond)))
	return nil
}

// Restart loads the version again and swaps it in; requests keep being
// served by the loaded model meanwhile. Before the first load succeeds it
// loads at once rather than waiting out the backoff.
func (b *embedded) Restart(ctx context.Context) error {
	b.event(nil, "restart requested")
	return b.load(ctx)
}

// Close stops loading and unloads the model once its requests have ended.
func (b *embedded) Close(ctx context.Context) error {
	b.cancel()
	select {
	case <-b.done:
	case <-ctx.Done():
		return fmt.Errorf("router: closing %s/%s: %w", b.endpoint, b.spec.Name, ctx.Err())
	}
	b.ready.Store(false)
	return b.srv.Close(ctx)
}
