package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// openStore opens a real SQLite store at path (a fresh one when path is "").
func openStore(t *testing.T, path string) *sqlstore.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "ferry.db")
	}
	db, err := sqlite.Open(context.Background(), path, sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// lockedBuffer is a log sink safe for the Manager's workers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

type harness struct {
	m   *alert.Manager
	reg *prometheus.Registry
	log *lockedBuffer
}

// newHarness returns a Manager over store with fast retries; opts.Getenv, if
// nil, serves env.
func newHarness(t *testing.T, store alert.Store, opts alert.Options, env map[string]string) harness {
	t.Helper()
	h := harness{reg: prometheus.NewRegistry(), log: &lockedBuffer{}}
	opts.Registerer = h.reg
	opts.Logger = slog.New(slog.NewTextHandler(h.log, nil))
	if opts.Getenv == nil {
		opts.Getenv = func(k string) string { return env[k] }
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase, opts.BackoffMax = time.Millisecond, 4*time.Millisecond
	}
	h.m = alert.NewManager(store, opts)
	return h
}

// run runs the Manager's workers for the rest of the test.
func (h harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h harness) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.m.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
}

func (h harness) events(t *testing.T) []alert.Event {
	t.Helper()
	evs, err := h.m.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func drift(feature string, score float64, at time.Time) alert.Evaluation {
	return alert.Evaluation{Monitor: "churn-drift", Signal: "data_drift", Feature: feature, Endpoint: "churn", Deployment: "blue",
		Metric: "wasserstein", Score: score, Threshold: 0.1, Breached: score >= 0.1, At: at, Detail: "normalized Wasserstein vs training"}
}

func observe(t *testing.T, m *alert.Manager, e alert.Evaluation) {
	t.Helper()
	if err := m.Observe(context.Background(), e); err != nil {
		t.Fatalf("observe %+v: %v", e, err)
	}
}

// receiver is a local webhook receiver; reply answers each request.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	got   []*http.Request
	body  [][]byte
	reply func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{reply: reply}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got, rc.body = append(rc.got, r), append(rc.body, b)
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.reply != nil {
			rc.reply(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() ([]*http.Request, [][]byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.got...), append([][]byte(nil), rc.body...)
}

// TestStateMachine: firing notifies once, repeated breaches are
// de-duplicated, resolving notifies once, and a resolved alert fires again —
// in the event log, the log lines, the metrics and at a webhook.
func TestStateMachine(t *testing.T) {
	rc := newReceiver(t, nil)
	h := newHarness(t, openStore(t, ""), alert.Options{}, map[string]string{"HOOK_SECRET": "s3cret"})
	h.run(t)
	if err := h.m.Configure("churn-drift", alert.Config{Cooldown: "0s", Webhooks: []alert.WebhookConfig{{URL: rc.URL + "/hook", SecretEnv: "HOOK_SECRET"}}}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		score  float64
		state  alert.State
		events int
	}{
		{"below the threshold stays ok", 0.02, alert.StateOK, 0},
		{"a breach fires", 0.25, alert.StateFiring, 1},
		{"a repeated breach is not re-sent", 0.30, alert.StateFiring, 1},
		{"and again", 0.28, alert.StateFiring, 1},
		{"back below resolves", 0.04, alert.StateResolved, 2},
		{"staying below is not re-sent", 0.03, alert.StateResolved, 2},
		{"a new breach fires again", 0.5, alert.StateFiring, 3},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			observe(t, h.m, drift("age", s.score, t0.Add(time.Duration(i)*time.Hour)))
			alerts, err := h.m.Alerts(context.Background(), "churn-drift")
			if err != nil || len(alerts) != 1 {
				t.Fatalf("alerts: %+v, %v", alerts, err)
			}
			if alerts[0].State != s.state || alerts[0].Score != s.score {
				t.Errorf("state %s score %v, want %s %v", alerts[0].State, alerts[0].Score, s.state, s.score)
			}
			if n := len(h.events(t)); n != s.events {
				t.Errorf("%d events, want %d", n, s.events)
			}
		})
	}
	h.drain(t)
	evs := h.events(t)
	wantSeq := []string{"ok→firing", "firing→resolved", "resolved→firing"}
	for i, ev := range evs {
		if got := string(ev.Previous) + "→" + string(ev.State); got != wantSeq[i] || ev.Type != alert.EventType(ev.State) {
			t.Errorf("event %d: %s (%s), want %s", i, got, ev.Type, wantSeq[i])
		}
	}
	reqs, bodies := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("webhook received %d requests, want 3 (one per transition)", len(reqs))
	}
	// Two workers deliver, so the requests may arrive in any order.
	var first alert.Event
	for _, b := range bodies {
		var ev alert.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ID == evs[0].ID {
			first = ev
		}
	}
	if first != evs[0] {
		t.Errorf("webhook body\n got %+v\nwant %+v", first, evs[0])
	}
	if got := h.log.count("msg=\"alert firing\""); got != 2 {
		t.Errorf("%d firing log lines, want 2", got)
	}
	if got := h.log.count("msg=\"alert resolved\""); got != 1 {
		t.Errorf("%d resolved log lines, want 1", got)
	}
	metrics := []struct {
		name string
		got  float64
		want float64
	}{
		{"ferry_drift_score", value(t, h.reg, "ferry_drift_score", "endpoint", "churn", "deployment", "blue", "feature", "age", "metric", "wasserstein"), 0.5},
		{"ferry_monitor_signal_firing", value(t, h.reg, "ferry_monitor_signal_firing", "monitor", "churn-drift", "signal", "data_drift"), 1},
		{"notifications firing", value(t, h.reg, "ferry_alert_notifications_total", "monitor", "churn-drift", "signal", "data_drift", "state", "firing"), 2},
		{"notifications resolved", value(t, h.reg, "ferry_alert_notifications_total", "monitor", "churn-drift", "signal", "data_drift", "state", "resolved"), 1},
		{"webhooks delivered", value(t, h.reg, "ferry_alert_webhook_deliveries_total", "result", "delivered"), 3},
	}
	for _, m := range metrics {
		if m.got != m.want {
			t.Errorf("%s = %v, want %v", m.name, m.got, m.want)
		}
	}
}

// value returns the value of the series of metric name whose labels are
// the pairs (name, value, name, value, …).
func value(t *testing.T, reg *prometheus.Registry, name string, pairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := len(m.GetLabel())*2 == len(pairs)
			for _, l := range m.GetLabel() {
				for i := 0; i+1 < len(pairs); i += 2 {
					if pairs[i] == l.GetName() && pairs[i+1] != l.GetValue() {
						ok = false
					}
				}
			}
			if ok {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, pairs)
	return 0
}

// TestCooldown: within the cool-down a flapping signal notifies nothing; the
// state it settles on is notified by the first evaluation after it.
func TestCooldown(t *testing.T) {
	h := newHarness(t, openStore(t, ""), alert.Options{}, nil)
	if err := h.m.Configure("churn-drift", alert.Config{Cooldown: "1h"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		at    time.Duration
		score float64
		state alert.State
		evs   int
	}{
		{"fires at once", 0, 0.3, alert.StateFiring, 1},
		{"a clear within the cool-down is held", 10 * time.Minute, 0.01, alert.StateFiring, 1},
		{"a breach again", 20 * time.Minute, 0.3, alert.StateFiring, 1},
		{"a clear again is held", 30 * time.Minute, 0.01, alert.StateFiring, 1},
		{"after the cool-down it resolves", 61 * time.Minute, 0.01, alert.StateResolved, 2},
		{"a breach within the cool-down of the resolve is held", 70 * time.Minute, 0.3, alert.StateResolved, 2},
		{"and fires after it", 2*time.Hour + time.Minute, 0.3, alert.StateFiring, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			observe(t, h.m, drift("age", s.score, t0.Add(s.at)))
			alerts, err := h.m.Alerts(context.Background(), "churn-drift")
			if err != nil {
				t.Fatal(err)
			}
			if alerts[0].State != s.state {
				t.Errorf("state %s, want %s", alerts[0].State, s.state)
			}
			if n := len(h.events(t)); n != s.evs {
				t.Errorf("%d events, want %d", n, s.evs)
			}
		})
	}
}

// TestRestartDoesNotRefire: a new Manager over the same database continues
// from the persisted state: a breach that goes on is not notified again, and
// its gauges show the firing alert before any evaluation.
func TestRestartDoesNotRefire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.db")
	first := newHarness(t, openStore(t, path), alert.Options{}, nil)
	observe(t, first.m, drift("age", 0.3, t0))
	observe(t, first.m, drift("income", 0.01, t0))
	if n := len(first.events(t)); n != 1 {
		t.Fatalf("%d events before the restart, want 1", n)
	}

	second := newHarness(t, openStore(t, path), alert.Options{}, nil) // the restarted server
	if err := second.m.Configure("churn-drift", alert.Config{Cooldown: "30m"}); err != nil {
		t.Fatal(err)
	}
	if err := second.m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(t, second.reg, "ferry_monitor_signal_firing", "monitor", "churn-drift", "signal", "data_drift"); got != 1 {
		t.Errorf("firing gauge after restart %v, want 1", got)
	}
	observe(t, second.m, drift("age", 0.35, t0.Add(time.Hour)))
	if n := len(second.events(t)); n != 1 {
		t.Errorf("%d events after the restart's first evaluation, want 1: the breach re-fired", n)
	}
	observe(t, second.m, drift("age", 0.02, t0.Add(2*time.Hour)))
	evs := second.events(t)
	if len(evs) != 2 || evs[1].State != alert.StateResolved {
		t.Errorf("after the clear: %+v, want a resolved event", evs)
	}
	// The first Manager's cached state is stale now; its next write is
	// refused, and it decides again from the stored state rather than
	// notifying a transition the store has already seen.
	observe(t, first.m, drift("age", 0.03, t0.Add(3*time.Hour)))
	if n := len(first.events(t)); n != 2 {
		t.Errorf("%d events after a stale Manager's evaluation, want 2", n)
	}
}

func TestObserveRejects(t *testing.T) {
	h := newHarness(t, openStore(t, ""), alert.Options{}, nil)
	nan := drift("age", 0, t0)
	nan.Score = nan.Score / nan.Score // NaN without a constant expression
	for name, e := range map[string]alert.Evaluation{
		"no monitor":     {Signal: "data_drift"},
		"no signal":      {Monitor: "m"},
		"a score of NaN": nan,
	} {
		t.Run(name, func(t *testing.T) {
			if err := h.m.Observe(context.Background(), e); ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("observe: %v, want EINVALID", err)
			}
		})
	}
}
