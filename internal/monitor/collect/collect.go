// Package collect is the data collector of the monitor stage: it takes the
// predictions of every serving path (serving.Collector), samples them, queues
// them without ever blocking a request, and writes them as Parquet segments
// of inference logs to the artifact store, under
//
//	inference-logs/<endpoint>/<deployment>/date=YYYY-MM-DD/hour=HH/part-<time>-<instance>-<seq>.parquet
//
// rolled by size and by age. Each segment's rows are also profiled
// (dataset.Profile) per window and the profiles handed to a ProfileSink, so
// that drift is computed from stored profiles, never by re-reading logs.
package collect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/serving"
)

// Defaults of Options.
const (
	DefaultPrefix       = "inference-logs"
	DefaultQueueRows    = 1 << 16
	DefaultQueueRecords = 1 << 13
	DefaultSegmentRows  = 100_000
	DefaultSegmentBytes = 16 << 20
	DefaultSegmentAge   = time.Minute
	DefaultWindow       = time.Hour
)

// Options configure a Collector. The zero value collects with the defaults
// and no profiles.
type Options struct {
	// Prefix is the key prefix of the logs in the store; default
	// "inference-logs".
	Prefix string
	// QueueRows bounds the rows waiting to be written, all deployments
	// together (default 65536); QueueRecords bounds the predictions
	// (default 8192). A prediction that finds either bound reached is
	// dropped and counted (ferry_collector_dropped_total).
	QueueRows, QueueRecords int
	// A deployment's segment is written when it holds SegmentRows rows
	// (default 100,000) or about SegmentBytes bytes of values (default 16
	// MiB, uncompressed), or its first row is SegmentAge old (default 1
	// minute), and when the hour of its rows' time changes. These bound
	// what a crash (SIGKILL) can lose: the unwritten segment of each
	// deployment, plus the queue.
	SegmentRows  int
	SegmentBytes int64
	SegmentAge   time.Duration
	// Window is the length of the profile windows; default 1 hour. Windows
	// start at multiples of Window since the Unix epoch (UTC).
	Window time.Duration
	// Profiles receives the profiles of the written rows; nil: none.
	Profiles ProfileSink
	// Edges returns the baseline's bins and categories for a deployment's
	// model version (typically the training profile's Profile.Edges); nil,
	// or nil edges: each column's first profile fixes its edges.
	Edges func(ctx context.Context, endpoint, deployment, modelVersion string) (dataset.Edges, error)
	// Registerer receives the collector's metrics; nil: a private registry.
	Registerer prometheus.Registerer
	// Now is the clock of segment ages and file names; nil: time.Now.
	Now func() time.Time
	// Tick is how often segment ages are checked; default SegmentAge/4,
	// at most 1s.
	Tick time.Duration
	Log  *slog.Logger
}

// Collector writes the predictions of any number of deployments, each
// through its own Tap. One writer goroutine encodes and writes segments, so
// a slow artifact store slows nothing but the collector: its queue fills
// and further predictions are dropped and counted. All methods are safe for
// concurrent use.
type Collector struct {
	store    blob.Store
	opts     Options
	log      *slog.Logger
	m        *metrics
	instance string // random, in file names, so that replicas never collide

	q      chan *record
	queued atomic.Int64 // rows in q
	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	// wctx is the writer's context: canceled when Close's context ends.
	wctx    context.Context
	wcancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// record is one queued prediction, or a Sync barrier (tap nil).
type record struct {
	tap  *Tap
	p    serving.Prediction
	sync chan struct{}
}

// New returns a running Collector writing to store. Close it to write what
// it holds.
func New(store blob.Store, opts Options) *Collector {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.QueueRows <= 0 {
		opts.QueueRows = DefaultQueueRows
	}
	if opts.QueueRecords <= 0 {
		opts.QueueRecords = DefaultQueueRecords
	}
	if opts.SegmentRows <= 0 {
		opts.SegmentRows = DefaultSegmentRows
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.SegmentAge <= 0 {
		opts.SegmentAge = DefaultSegmentAge
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = min(opts.SegmentAge/4, time.Second)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &Collector{
		store: store, opts: opts, log: opts.Log, m: newMetrics(opts.Registerer), instance: hex.EncodeToString(b[:]),
		q: make(chan *record, opts.QueueRecords), stop: make(chan struct{}), done: make(chan struct{}),
	}
	c.wctx, c.wcancel = context.WithCancel(context.Background())
	w := newWriter(c)
	go w.run()
	return c
}

// Tap returns the serving.Collector of one deployment: it logs a prediction
// with probability rate (0 to 1), its inputs when inputs is set and its
// outputs when outputs is set. Taps of the same endpoint and deployment
// share their logs.
func (c *Collector) Tap(endpoint, deployment string, rate float64, inputs, outputs bool) *Tap {
	if math.IsNaN(rate) {
		rate = 0
	}
	return &Tap{
		c: c, endpoint: endpoint, deployment: deployment, rate: min(max(rate, 0), 1), inputs: inputs, outputs: outputs,
		accepted: c.m.records.WithLabelValues(endpoint, deployment),
		dropped:  c.m.dropped.WithLabelValues(endpoint, deployment),
	}
}

// Tap is one deployment's entry into a Collector (serving.Collector).
type Tap struct {
	c                    *Collector
	endpoint, deployment string
	rate                 float64
	inputs, outputs      bool
	accepted, dropped    prometheus.Counter
}

var _ serving.Collector = (*Tap)(nil)

// Collect queues p unless it is sampled out; when the queue is full, or the
// Collector closed, p is dropped and counted. It never blocks.
func (t *Tap) Collect(_ context.Context, p serving.Prediction) {
	if t.rate < 1 && (t.rate == 0 || mrand.Float64() >= t.rate) {
		return
	}
	c := t.c
	rows := int64(max(p.Rows, 1))
	if c.closed.Load() {
		t.dropped.Inc()
		return
	}
	if c.queued.Add(rows) > int64(c.opts.QueueRows) {
		c.queued.Add(-rows)
		t.dropped.Inc()
		return
	}
	select {
	case c.q <- &record{tap: t, p: p}:
		t.accepted.Inc()
	default:
		c.queued.Add(-rows)
		t.dropped.Inc()
	}
}

// Sync waits until every prediction queued before it has been added to its
// segment (not written: see Flush), or ctx ends.
func (c *Collector) Sync(ctx context.Context) error {
	return c.barrier(ctx, false)
}

// Flush writes every segment held, with the predictions queued before it,
// and hands their profiles to the sink.
func (c *Collector) Flush(ctx context.Context) error {
	return c.barrier(ctx, true)
}

func (c *Collector) barrier(ctx context.Context, flush bool) error {
	r := &record{sync: make(chan struct{})}
	if flush {
		r.p.Rows = -1 // marks a flush
	}
	select {
	case c.q <- r:
	case <-c.done:
		return errors.New("collect: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.sync:
		return nil
	case <-c.done:
		return errors.New("collect: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking predictions (later ones are dropped and counted),
// writes everything queued and held, and hands the last profiles to the
// sink. When ctx ends first, pending writes are abandoned and Close returns
// ctx's error. Call it after the HTTP server has drained its requests; it
// is idempotent.
func (c *Collector) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.stop)
		select {
		case <-c.done:
		case <-ctx.Done():
			c.wcancel()
			<-c.done
			c.closeErr = fmt.Errorf("collect: close: %w", ctx.Err())
		}
		c.wcancel()
	})
	return c.closeErr
}

// metrics are the collector's series, by endpoint and deployment.
type metrics struct {
	records, dropped, rows, segments, failed, bytes *prometheus.CounterVec
	queue                                           prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	labels := []string{"endpoint", "deployment"}
	counter := func(name, help string) *prometheus.CounterVec {
		return httpmw.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	}
	return &metrics{
		records:  counter("ferry_collector_records_total", "Predictions queued for the inference logs, by endpoint and deployment."),
		dropped:  counter("ferry_collector_dropped_total", "Predictions not logged because the collector's queue was full (or it was closed), by endpoint and deployment."),
		rows:     counter("ferry_collector_rows_written_total", "Rows written to inference-log segments, by endpoint and deployment."),
		segments: counter("ferry_collector_segments_total", "Inference-log segments written, by endpoint and deployment."),
		failed:   counter("ferry_collector_failed_rows_total", "Rows lost because their segment could not be written, by endpoint and deployment."),
		bytes:    counter("ferry_collector_written_bytes_total", "Bytes of Parquet written, by endpoint and deployment."),
		queue: httpmw.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_collector_queue_rows", Help: "Rows waiting in the collector's queue.",
		})),
	}
}
