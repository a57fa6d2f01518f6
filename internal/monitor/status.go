package monitor

import (
	"context"
	"time"

	"github.com/ferry-ml/ferry/internal/monitor/alert"
)

// AlertReader reads the stored alert states of a monitor; alert.Manager and
// every alert.Store satisfy it.
type AlertReader interface {
	ListAlerts(ctx context.Context, monitor string) ([]alert.Alert, error)
}

// Status is a monitor at a glance: what it watches, when it runs next, and
// the state of each of its alerts.
type Status struct {
	Name       string `json:"name"`
	Endpoint   string `json:"endpoint"`
	Deployment string `json:"deployment,omitempty"`
	// Signals are the names of the signals set, in the spec's order.
	Signals  []string `json:"signals"`
	Schedule Schedule `json:"schedule"`
	// NextRun is the schedule's next time after now.
	NextRun time.Time `json:"next_run"`
	// Alerts are the alert states of the monitor (per signal and feature),
	// empty before its first evaluation or when the server keeps none.
	Alerts []alert.Alert `json:"alerts"`
}

// SignalNames returns the names of the signals set, in the spec's order.
func (s Signals) SignalNames() []string {
	var out []string
	for _, n := range []struct {
		name string
		set  bool
	}{
		{"data_drift", s.DataDrift != nil},
		{"prediction_drift", s.PredictionDrift != nil},
		{"data_quality", s.DataQuality != nil},
		{"model_performance", s.ModelPerformance != nil},
	} {
		if n.set {
			out = append(out, n.name)
		}
	}
	return out
}

// Status returns the status of monitor name; ENOTFOUND when there is none.
func (s *Service) Status(ctx context.Context, name string) (Status, error) {
	m, err := s.store.GetMonitor(ctx, name)
	if err != nil {
		return Status{}, err
	}
	n := m.Normalize()
	st := Status{Name: n.Name, Endpoint: n.Endpoint, Deployment: n.Deployment, Signals: n.Signals.SignalNames(), Schedule: n.Schedule, Alerts: []alert.Alert{}}
	sched, err := n.Cron()
	if err != nil {
		return Status{}, err
	}
	st.NextRun = sched.Next(s.now()).UTC()
	if s.alerts != nil {
		as, err := s.alerts.ListAlerts(ctx, name)
		if err != nil {
			return Status{}, err
		}
		st.Alerts = append(st.Alerts, as...)
	}
	return st, nil
}
