package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
)

func driftMonitor(name, cron string) monitor.Monitor {
	return monitor.Monitor{Name: name, Endpoint: "churn", Schedule: monitor.Schedule{Cron: cron},
		Signals: monitor.Signals{DataDrift: &monitor.DriftSignal{}}}
}

// testMonitorResources: monitors are stored normalized with a serial and an
// audit row per change naming the principal; an unchanged put writes
// nothing; a monitor of an unknown endpoint or an invalid one is refused;
// a plan against the stored monitors creates, updates and (pruning)
// deletes, and applying it twice changes nothing the second time.
func testMonitorResources(t *testing.T, s monitor.Store) {
	clock := &monitorClock{t: monitorT0}
	svc := monitor.NewService(s, monitor.Options{Now: clock.Now, Endpoints: knownEndpoints{"churn"}})
	ctx := auth.WithPrincipal(context.Background(), "alice")

	got, err := svc.PutMonitor(ctx, driftMonitor("churn-drift", ""))
	must(t, err)
	if got.Serial != 1 || got.Schedule.Cron != monitor.DefaultCron || got.Window != "24h0m0s" || !got.UpdatedAt.Equal(monitorT0) {
		t.Errorf("created %+v; want serial 1, normalized, updated now", got)
	}
	clock.Add(time.Minute)
	if again, err := svc.PutMonitor(ctx, driftMonitor("churn-drift", monitor.DefaultCron)); err != nil || again.Serial != 1 {
		t.Errorf("unchanged put: serial %d, %v; want 1 (nothing written)", again.Serial, err)
	}
	got, err = svc.PutMonitor(ctx, driftMonitor("churn-drift", "*/5 * * * *"))
	must(t, err)
	if got.Serial != 2 || got.Schedule.Cron != "*/5 * * * *" {
		t.Errorf("updated %+v; want serial 2", got)
	}
	read, err := svc.GetMonitor(ctx, "churn-drift")
	must(t, err)
	if read.Serial != 2 || read.Schedule.Cron != "*/5 * * * *" || !read.UpdatedAt.Equal(monitorT0.Add(time.Minute)) {
		t.Errorf("get %+v", read)
	}
	for name, m := range map[string]monitor.Monitor{
		"unknown endpoint": {Name: "other-drift", Endpoint: "nope", Signals: monitor.Signals{DataDrift: &monitor.DriftSignal{}}},
		"no signals":       {Name: "other-drift", Endpoint: "churn"},
	} {
		if _, err := svc.PutMonitor(ctx, m); ferry.ErrorCode(err) != ferry.EINVALID {
			t.Errorf("%s: %v; want EINVALID", name, err)
		}
	}
	if _, err := svc.GetMonitor(ctx, "other-drift"); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("get missing: %v; want ENOTFOUND", err)
	}

	// Plan and apply: one new, one changed, and with prune the stored one
	// that the desired set leaves out goes.
	must(t, errOf(svc.PutMonitor(ctx, driftMonitor("old-drift", ""))))
	desired := []monitor.Monitor{driftMonitor("churn-drift", "0 * * * *"), driftMonitor("new-drift", "")}
	p, err := svc.Plan(ctx, deploy.Plan{}, desired, false)
	must(t, err)
	if p.Add != 1 || p.Change != 1 || p.Destroy != 0 {
		t.Fatalf("plan without prune:\n%s", p)
	}
	if d := p.Changes[0].Diffs; len(d) != 1 || d[0].Field != "schedule.cron" || d[0].Old != `"*/5 * * * *"` || d[0].New != `"0 * * * *"` {
		t.Errorf("update diffs %+v; want schedule.cron only", d)
	}
	p, err = svc.Plan(ctx, deploy.Plan{}, desired, true)
	must(t, err)
	want := "~ update monitor churn-drift: schedule.cron \"*/5 * * * *\" → \"0 * * * *\"\n+ create monitor new-drift\n- delete monitor old-drift\nPlan: 1 to add, 1 to change, 1 to destroy.\n"
	if p.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", p, want)
	}
	must(t, svc.Apply(ctx, p))
	if p, err = svc.Plan(ctx, deploy.Plan{}, desired, true); err != nil || !p.Empty() || p.Unchanged != 2 {
		t.Errorf("plan after apply: %v\n%s; want no changes, 2 unchanged", err, p)
	}
	ms, err := svc.StoredMonitors(ctx)
	must(t, err)
	if len(ms) != 2 || ms[0].Name != "churn-drift" || ms[1].Name != "new-drift" {
		t.Errorf("list %+v", ms)
	}
	if err := svc.DeleteMonitor(ctx, "old-drift"); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("delete deleted: %v; want ENOTFOUND", err)
	}

	audit, err := svc.MonitorAudit(ctx, "churn-drift")
	must(t, err)
	var actions []string
	for _, ev := range audit {
		if ev.Principal != "alice" {
			t.Errorf("audit %+v: want principal alice", ev)
		}
		actions = append(actions, ev.Action)
	}
	if got, want := len(actions), 3; got != want {
		t.Errorf("audit of churn-drift %v; want create, update, update", actions)
	}
	all, err := svc.MonitorAudit(ctx, "")
	must(t, err)
	if len(all) != 6 || all[len(all)-1].Action != "delete_monitor" || all[len(all)-1].Monitor != "old-drift" {
		t.Errorf("whole audit %+v; want 6 rows ending with delete_monitor old-drift", all)
	}
}

func errOf[T any](_ T, err error) error { return err }
