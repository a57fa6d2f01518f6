package alert

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry"
)

// Options configure a Manager. Zero values take the defaults given.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the alert metrics (see metrics.go); nil keeps them
	// unexported. Several Managers may share one registry.
	Registerer prometheus.Registerer
	// Now is the clock for evaluations without a time; default time.Now.
	Now func() time.Time
	// Getenv reads the variables webhooks name; default os.Getenv.
	Getenv func(string) string
	// HTTPClient sends webhooks; default a client that follows no redirects.
	// Its own Timeout, if any, applies on top of AttemptTimeout.
	HTTPClient *http.Client
	// QueueSize bounds the deliveries waiting for a worker (default 256);
	// when it is full, a delivery is dropped and logged, never waited for.
	QueueSize int
	// Workers is the number of concurrent deliveries (default 2).
	Workers int
	// Attempts is the most attempts of one delivery (default 5).
	Attempts int
	// AttemptTimeout bounds one attempt, answer included (default 10s).
	AttemptTimeout time.Duration
	// BackoffBase and BackoffMax shape the wait before a retry: attempt n
	// waits a random time in [d/2, d], d = min(BackoffBase·2^(n-1),
	// BackoffMax); defaults 1s and 1m.
	BackoffBase, BackoffMax time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Minute
	}
	return o
}

// Manager runs the alert state machines of every monitor and sends their
// notifications. It is safe for concurrent use. Several Managers over one
// store (replicas, or a restarted server) share the alerts' state: writes
// are conditional on the version read, and a Manager that finds the store
// ahead of it re-reads the alert and decides again.
type Manager struct {
	store   Store
	opts    Options
	log     *slog.Logger
	metrics *metrics
	queue   *queue

	mu       sync.Mutex
	loaded   bool
	alerts   map[Key]Alert
	policies map[string]policy
}

// NewManager returns a Manager over store. Webhooks are delivered only while
// Run runs.
func NewManager(store Store, opts Options) *Manager {
	opts = opts.withDefaults()
	m := &Manager{
		store:    store,
		opts:     opts,
		log:      opts.Logger,
		metrics:  newMetrics(opts.Registerer),
		alerts:   map[Key]Alert{},
		policies: map[string]policy{},
	}
	m.queue = newQueue(store, opts, m.metrics)
	return m
}

// Configure sets the alert config of monitor, replacing any earlier one; a
// monitor never configured has the default cool-down and no webhooks. The
// webhooks' variables are read now. Errors are EINVALID.
func (m *Manager) Configure(monitor string, c Config) error {
	p, err := c.resolve(m.opts.Getenv)
	if err != nil {
		return fmt.Errorf("monitor %s: %w", monitor, err)
	}
	m.mu.Lock()
	m.policies[monitor] = p
	m.mu.Unlock()
	return nil
}

func (m *Manager) policy(monitor string) policy {
	if p, ok := m.policies[monitor]; ok {
		return p
	}
	return policy{cooldown: DefaultCooldown}
}

// Observe feeds one evaluation to its alert's state machine, persists the
// result and, on a transition, records an event and notifies: a log line,
// the metrics and the monitor's webhooks. A firing alert is not notified
// again while its signal stays breached; a transition within the cool-down
// of the alert's last one is held back until an evaluation after it. Observe
// never waits for a webhook: deliveries go to a bounded queue. Errors:
// EINVALID for an evaluation without monitor or signal or with a non-finite
// score or threshold, and the store's.
func (m *Manager) Observe(ctx context.Context, e Evaluation) error {
	if e.Monitor == "" || e.Signal == "" {
		return ferry.Errorf(ferry.EINVALID, "alert: an evaluation needs a monitor and a signal")
	}
	if !finite(e.Score) || !finite(e.Threshold) {
		return ferry.Errorf(ferry.EINVALID, "alert: %s/%s/%s: score %v and threshold %v must be finite", e.Monitor, e.Signal, e.Feature, e.Score, e.Threshold)
	}
	if e.At.IsZero() {
		e.At = m.opts.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.load(ctx); err != nil {
		return err
	}
	p := m.policy(e.Monitor)
	key := e.Key()
	for try := 0; ; try++ {
		prev, ok := m.alerts[key]
		if !ok {
			prev = Alert{Key: key, State: StateOK, Since: e.At}
		}
		next, ev := decide(prev, e, p.cooldown)
		version, id, err := m.store.SaveAlert(ctx, next, ev)
		if ferry.ErrorCode(err) == ferry.ECONFLICT && try < 3 {
			// Another Manager wrote it meanwhile: decide again from its state.
			cur, gerr := m.store.GetAlert(ctx, key)
			if gerr != nil {
				return fmt.Errorf("alert: observe %s: %w", e.Monitor, gerr)
			}
			m.setAlert(cur)
			continue
		}
		if err != nil {
			return fmt.Errorf("alert: observe %s: %w", e.Monitor, err)
		}
		next.Version = version
		m.setAlert(next)
		m.metrics.score(e)
		if ev != nil {
			ev.ID = id
			m.notify(ctx, *ev, p)
		}
		return nil
	}
}

// decide returns prev after evaluation e and the event of its transition
// (nil when there is none).
func decide(prev Alert, e Evaluation, cooldown time.Duration) (Alert, *Event) {
	next := prev
	next.Endpoint, next.Metric = e.Endpoint, e.Metric
	next.Score, next.Threshold, next.Breached, next.Detail = e.Score, e.Threshold, e.Breached, e.Detail
	next.Evaluated = e.At
	want := prev.State
	switch {
	case e.Breached:
		want = StateFiring
	case prev.State == StateFiring:
		want = StateResolved
	}
	if want == prev.State {
		return next, nil
	}
	// ok has never been notified, so nothing can flap from it.
	if prev.State != StateOK && e.At.Sub(prev.Since) < cooldown {
		return next, nil
	}
	next.State, next.Since = want, e.At
	return next, &Event{
		Type: EventType(want), Time: e.At, Key: e.Key(),
		Endpoint: e.Endpoint, Metric: e.Metric,
		State: want, Previous: prev.State, Score: e.Score, Threshold: e.Threshold, Detail: e.Detail,
	}
}

// Load reads the persisted alerts once, so that a restarted Manager continues
// from their states and its gauges show them. Observe loads when needed; a
// server calls Load at start so that its metrics are right before the first
// evaluation.
func (m *Manager) Load(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load(ctx)
}

// load is Load with m.mu held.
func (m *Manager) load(ctx context.Context) error {
	if m.loaded {
		return nil
	}
	all, err := m.store.ListAlerts(ctx, "")
	if err != nil {
		return fmt.Errorf("alert: load alerts: %w", err)
	}
	for _, a := range all {
		m.setAlert(a)
		m.metrics.score(Evaluation{Monitor: a.Monitor, Signal: a.Signal, Feature: a.Feature, Endpoint: a.Endpoint,
			Deployment: a.Deployment, Metric: a.Metric, Score: a.Score})
	}
	m.loaded = true
	return nil
}

// setAlert caches a and updates its signal's firing gauge. m.mu is held.
func (m *Manager) setAlert(a Alert) {
	m.alerts[a.Key] = a
	firing := 0.0
	for k, o := range m.alerts {
		if k.Monitor == a.Monitor && k.Signal == a.Signal && o.State == StateFiring {
			firing = 1
			break
		}
	}
	m.metrics.firing.WithLabelValues(a.Monitor, a.Signal).Set(firing)
}

// notify tells of ev: a log line, the counter and the webhooks' queue.
func (m *Manager) notify(ctx context.Context, ev Event, p policy) {
	level := slog.LevelWarn
	if ev.State == StateResolved {
		level = slog.LevelInfo
	}
	m.log.Log(ctx, level, "alert "+string(ev.State),
		"event_id", ev.ID, "monitor", ev.Monitor, "signal", ev.Signal, "feature", ev.Feature,
		"endpoint", ev.Endpoint, "deployment", ev.Deployment, "metric", ev.Metric,
		"score", ev.Score, "threshold", ev.Threshold, "previous", string(ev.Previous))
	m.metrics.notifications.WithLabelValues(ev.Monitor, ev.Signal, string(ev.State)).Inc()
	m.queue.enqueue(ctx, ev, p.webhooks)
}

// Alerts returns the persisted alerts of monitor ("" for every monitor).
func (m *Manager) Alerts(ctx context.Context, monitor string) ([]Alert, error) {
	return m.store.ListAlerts(ctx, monitor)
}

// Events returns up to limit events after the cursor since (0 for the
// first), in order: a subscriber polls with the last id it has seen.
func (m *Manager) Events(ctx context.Context, since int64, limit int) ([]Event, error) {
	return m.store.ListAlertEvents(ctx, since, limit)
}

// Deliveries returns the delivery log of an event.
func (m *Manager) Deliveries(ctx context.Context, eventID int64) ([]Delivery, error) {
	return m.store.ListAlertDeliveries(ctx, eventID)
}

// Run delivers queued webhooks until ctx is done, with Options.Workers
// workers; call it once. Deliveries still queued when it returns are lost
// (their events stay in the event log) and logged.
func (m *Manager) Run(ctx context.Context) { m.queue.run(ctx) }

// Drain waits until every queued delivery is finished (delivered, failed or
// dropped) or ctx is done.
func (m *Manager) Drain(ctx context.Context) error { return m.queue.drain(ctx) }

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
