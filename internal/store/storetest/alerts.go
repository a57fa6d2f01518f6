package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
)

// RunAlerts runs the conformance suite of alert.Store; open returns an empty
// store.
func RunAlerts(t *testing.T, open func(t *testing.T) alert.Store) {
	t.Run("states", func(t *testing.T) { testAlertStates(t, open(t)) })
	t.Run("events cursor", func(t *testing.T) { testAlertEvents(t, open(t)) })
	t.Run("deliveries", func(t *testing.T) { testAlertDeliveries(t, open(t)) })
	t.Run("concurrent saves", func(t *testing.T) { testAlertConcurrent(t, open(t)) })
}

var alertT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func testAlert(monitor, signal, feature string) alert.Alert {
	return alert.Alert{Key: alert.Key{Monitor: monitor, Deployment: "blue", Signal: signal, Feature: feature}, State: alert.StateOK,
		Endpoint: "churn", Metric: "wasserstein", Score: 0.05, Threshold: 0.1,
		Since: alertT0, Evaluated: alertT0}
}

func testAlertStates(t *testing.T, s alert.Store) {
	ctx := context.Background()
	key := alert.Key{Monitor: "churn-drift", Deployment: "blue", Signal: "data_drift", Feature: "age"}
	if _, err := s.GetAlert(ctx, key); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Fatalf("get a missing alert: %v", err)
	}
	a := testAlert("churn-drift", "data_drift", "age")
	v, id, err := s.SaveAlert(ctx, a, nil)
	must(t, err)
	if v != 1 || id != 0 {
		t.Errorf("first save: version %d, event %d; want 1, 0", v, id)
	}
	if _, _, err := s.SaveAlert(ctx, a, nil); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("a second first save: %v, want ECONFLICT", err)
	}
	a.Version = 1
	a.State, a.Score, a.Breached, a.Detail, a.Since, a.Evaluated = alert.StateFiring, 0.31, true, "shifted", alertT0.Add(time.Hour), alertT0.Add(time.Hour)
	ev := &alert.Event{Type: alert.EventType(alert.StateFiring), Time: a.Since, Key: a.Key, Endpoint: "churn", Metric: "wasserstein",
		State: alert.StateFiring, Previous: alert.StateOK, Score: 0.31, Threshold: 0.1, Detail: "shifted"}
	v, id, err = s.SaveAlert(ctx, a, ev)
	must(t, err)
	if v != 2 || id <= 0 {
		t.Errorf("save with event: version %d, event %d", v, id)
	}
	got, err := s.GetAlert(ctx, key)
	must(t, err)
	a.Version = 2
	if got != a {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
	}
	// A stale write changes nothing, its event included.
	a.Version, a.State = 1, alert.StateResolved
	if _, _, err := s.SaveAlert(ctx, a, ev); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("save from an old version: %v, want ECONFLICT", err)
	}
	if evs, err := s.ListAlertEvents(ctx, 0, 10); err != nil || len(evs) != 1 {
		t.Errorf("events after a refused save: %d, %v; want 1", len(evs), err)
	}
	if got, _ := s.GetAlert(ctx, key); got.State != alert.StateFiring || got.Version != 2 {
		t.Errorf("after a refused save: %s v%d", got.State, got.Version)
	}

	for _, b := range []alert.Alert{testAlert("churn-drift", "data_drift", ""), testAlert("churn-drift", "data_quality", "age"), testAlert("fraud", "data_drift", "amount")} {
		_, _, err := s.SaveAlert(ctx, b, nil)
		must(t, err)
	}
	list := func(monitor string) []alert.Key {
		all, err := s.ListAlerts(ctx, monitor)
		must(t, err)
		keys := make([]alert.Key, len(all))
		for i, a := range all {
			keys[i] = a.Key
		}
		return keys
	}
	wantChurn := []alert.Key{{Monitor: "churn-drift", Deployment: "blue", Signal: "data_drift"}, {Monitor: "churn-drift", Deployment: "blue", Signal: "data_drift", Feature: "age"},
		{Monitor: "churn-drift", Deployment: "blue", Signal: "data_quality", Feature: "age"}}
	if got := list("churn-drift"); !equalKeys(got, wantChurn) {
		t.Errorf("alerts of churn-drift: %v, want %v", got, wantChurn)
	}
	// The same signal and feature on another deployment is another alert.
	green := testAlert("churn-drift", "data_drift", "age")
	green.Deployment = "green"
	if _, _, err := s.SaveAlert(ctx, green, nil); err != nil {
		t.Fatalf("the same alert key on another deployment: %v", err)
	}
	if g, err := s.GetAlert(ctx, green.Key); err != nil || g.Version != 1 {
		t.Errorf("green's alert: %+v, %v", g, err)
	}
	if b, err := s.GetAlert(ctx, alert.Key{Monitor: "churn-drift", Deployment: "blue", Signal: "data_drift", Feature: "age"}); err != nil || b.Deployment != "blue" || b.Version < 2 {
		t.Errorf("blue's alert: %+v, %v", b, err)
	}
	if got := list(""); len(got) != 5 || got[4] != (alert.Key{Monitor: "fraud", Deployment: "blue", Signal: "data_drift", Feature: "amount"}) {
		t.Errorf("every alert: %v", got)
	}
	if got := list("nobody"); len(got) != 0 {
		t.Errorf("alerts of an unknown monitor: %v", got)
	}
}

func equalKeys(a, b []alert.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testAlertEvents(t *testing.T, s alert.Store) {
	ctx := context.Background()
	a := testAlert("m", "data_drift", "x")
	var ids []int64
	for i, st := range []alert.State{alert.StateFiring, alert.StateResolved, alert.StateFiring} {
		prev := a.State
		a.State, a.Since = st, alertT0.Add(time.Duration(i)*time.Hour)
		ev := &alert.Event{Type: alert.EventType(st), Time: a.Since, Key: a.Key, Endpoint: "churn", Metric: "wasserstein",
			State: st, Previous: prev, Score: float64(i), Threshold: 0.1, Detail: "d"}
		v, id, err := s.SaveAlert(ctx, a, ev)
		must(t, err)
		a.Version = v
		ids = append(ids, id)
	}
	if !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("event ids do not increase: %v", ids)
	}
	all, err := s.ListAlertEvents(ctx, 0, 100)
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("%d events, want 3", len(all))
	}
	want := alert.Event{ID: ids[1], Type: "alert.resolved", Time: alertT0.Add(time.Hour), Key: a.Key, Endpoint: "churn",
		Metric: "wasserstein", State: alert.StateResolved, Previous: alert.StateFiring, Score: 1, Threshold: 0.1, Detail: "d"}
	if all[1] != want {
		t.Errorf("event round trip:\n got %+v\nwant %+v", all[1], want)
	}
	// A subscriber polls from its cursor, a page at a time.
	page, err := s.ListAlertEvents(ctx, ids[0], 1)
	must(t, err)
	if len(page) != 1 || page[0].ID != ids[1] {
		t.Errorf("page after %d: %+v", ids[0], page)
	}
	if rest, err := s.ListAlertEvents(ctx, ids[2], 10); err != nil || len(rest) != 0 {
		t.Errorf("after the last event: %v, %v", rest, err)
	}
	if _, err := s.ListAlertEvents(ctx, 0, 0); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("limit 0: %v, want EINVALID", err)
	}
}

func testAlertDeliveries(t *testing.T, s alert.Store) {
	ctx := context.Background()
	rows := []alert.Delivery{
		{DeliveryID: "d1", EventID: 7, Webhook: "https://hooks.example.com/a", Attempt: 1, Time: alertT0, Status: 503, Error: "receiver answered 503", Duration: 1500 * time.Microsecond},
		{DeliveryID: "d2", EventID: 8, Webhook: "other", Attempt: 0, Time: alertT0, Error: "dropped"},
		{DeliveryID: "d1", EventID: 7, Webhook: "https://hooks.example.com/a", Attempt: 2, Time: alertT0.Add(time.Second), Status: 200, Duration: time.Millisecond},
	}
	var ids []int64
	for _, d := range rows {
		id, err := s.AddAlertDelivery(ctx, d)
		must(t, err)
		ids = append(ids, id)
	}
	got, err := s.ListAlertDeliveries(ctx, 7)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("deliveries of event 7: %+v", got)
	}
	for i, w := range []alert.Delivery{rows[0], rows[2]} {
		w.ID = ids[2*i]
		if got[i] != w {
			t.Errorf("delivery %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}
	if !got[1].OK() || got[0].OK() {
		t.Errorf("OK: %v %v", got[0].OK(), got[1].OK())
	}
	if none, err := s.ListAlertDeliveries(ctx, 99); err != nil || len(none) != 0 {
		t.Errorf("deliveries of an unknown event: %v, %v", none, err)
	}
}

// testAlertConcurrent: of several writers that read the same version, exactly
// one wins, so that two replicas never both notify one transition.
func testAlertConcurrent(t *testing.T, s alert.Store) {
	ctx := context.Background()
	a := testAlert("m", "data_drift", "x")
	v, _, err := s.SaveAlert(ctx, a, nil)
	must(t, err)
	a.Version, a.State = v, alert.StateFiring
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = s.SaveAlert(ctx, a, &alert.Event{Type: "alert.firing", Time: alertT0, Key: a.Key, State: alert.StateFiring, Previous: alert.StateOK})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch ferry.ErrorCode(err) {
		case "":
			won++
		case ferry.ECONFLICT:
		default:
			t.Errorf("concurrent save: %v", err)
		}
	}
	evs, err := s.ListAlertEvents(ctx, 0, 100)
	must(t, err)
	if won != 1 || len(evs) != 1 {
		t.Errorf("%d writers won and %d events were written; want 1 and 1", won, len(evs))
	}
}
