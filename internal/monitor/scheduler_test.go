package monitor_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
)

type fakeMonitors []monitor.Monitor

func (f fakeMonitors) ListMonitors(context.Context) ([]monitor.Monitor, error) { return f, nil }

type fakeDeployments map[string][]string

func (f fakeDeployments) ListDeployments(_ context.Context, endpoint string) ([]deploy.Deployment, error) {
	var out []deploy.Deployment
	for _, n := range f[endpoint] {
		out = append(out, deploy.Deployment{Name: n, EndpointName: endpoint})
	}
	return out, nil
}

type fakeLeader struct{ held bool }

func (l *fakeLeader) Lead(context.Context) (bool, error) { return l.held, nil }

// recorder records the evaluations asked of it.
type recorder struct{ calls []string }

func (r *recorder) Evaluate(_ context.Context, m monitor.Monitor, deployment string, from, to time.Time) (monitor.Report, error) {
	r.calls = append(r.calls, fmt.Sprintf("%s/%s [%s, %s)", m.Name, deployment, from.Format("02T15:04"), to.Format("02T15:04")))
	return monitor.Report{Monitor: m.Name, Deployment: deployment, From: from, To: to}, nil
}

// TestSchedulerRunsDueMonitorsOnTheLeader: on a fake clock, an hourly
// monitor runs once per due time, over the window ending at it, on each
// deployment of its endpoint (or the one it names); not before its first
// due time after it is first seen, not twice for one due time, not while
// another server leads; missed due times collapse into one run.
func TestSchedulerRunsDueMonitorsOnTheLeader(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := day.Add(10*time.Hour + 30*time.Second)
	leader := &fakeLeader{held: true}
	rec := &recorder{}
	s := monitor.NewScheduler(monitor.SchedulerOptions{
		Monitors: fakeMonitors{
			{Name: "hourly", Endpoint: "lin", Window: "1h", Signals: monitor.Signals{DataDrift: &monitor.DriftSignal{}}},
			{Name: "daily", Endpoint: "lin", Deployment: "blue", Window: "24h", Schedule: monitor.Schedule{Cron: "0 6 * * *"},
				Signals: monitor.Signals{DataDrift: &monitor.DriftSignal{}}},
		},
		Deployments: fakeDeployments{"lin": {"blue", "green"}},
		Evaluator:   rec,
		Leader:      leader,
		Now:         func() time.Time { return now },
	})
	steps := []struct {
		name   string
		at     time.Duration // since day
		leader bool
		want   []string
	}{
		{"first seen", 10*time.Hour + 30*time.Second, true, nil},
		{"not yet due", 10*time.Hour + 30*time.Minute, true, nil},
		{"due", 11*time.Hour + 10*time.Second, true, []string{"hourly/blue [01T10:00, 01T11:00)", "hourly/green [01T10:00, 01T11:00)"}},
		{"same due time again", 11*time.Hour + 40*time.Second, true, nil},
		{"not leader", 12*time.Hour + 10*time.Second, false, nil},
		{"leader again: first seen again", 12*time.Hour + 40*time.Second, true, nil},
		{"due after leading again", 13*time.Hour + 5*time.Second, true, []string{"hourly/blue [01T12:00, 01T13:00)", "hourly/green [01T12:00, 01T13:00)"}},
		{"missed due times collapse", 15*time.Hour + 30*time.Minute, true, []string{"hourly/blue [01T14:00, 01T15:00)", "hourly/green [01T14:00, 01T15:00)"}},
		{"daily due next day", 30*time.Hour + 20*time.Second, true, []string{"hourly/blue [02T05:00, 02T06:00)", "hourly/green [02T05:00, 02T06:00)", "daily/blue [01T06:00, 02T06:00)"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			now, leader.held, rec.calls = day.Add(st.at), st.leader, nil
			runs, err := s.Step(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(rec.calls)
			want := slices.Clone(st.want)
			slices.Sort(want)
			if !slices.Equal(rec.calls, want) {
				t.Errorf("evaluated %q, want %q", rec.calls, want)
			}
			if len(runs) != len(st.want) {
				t.Errorf("%d runs, want %d", len(runs), len(st.want))
			}
		})
	}
}
