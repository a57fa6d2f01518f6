package monitor

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

func TestMonitorValidate(t *testing.T) {
	ok := Monitor{Name: "churn-drift", Endpoint: "churn", Signals: Signals{DataDrift: &DriftSignal{}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal monitor: %v", err)
	}
	if n := ok.Normalize(); n.Baseline != "model" || n.EvalWindow() != DefaultEvalWindow || n.Schedule.Cron != DefaultCron || n.Schedule.TimeZone != "UTC" {
		t.Errorf("defaults %+v", n)
	}
	for _, tc := range []struct {
		name string
		edit func(m *Monitor)
		want string
	}{
		{"name", func(m *Monitor) { m.Name = "x" }, "monitor name"},
		{"endpoint", func(m *Monitor) { m.Endpoint = "" }, "endpoint"},
		{"baseline", func(m *Monitor) { m.Baseline = "runs:/abc" }, "baseline"},
		{"window", func(m *Monitor) { m.Window = "a day" }, "window"},
		{"cron", func(m *Monitor) { m.Schedule.Cron = "61 * * * *" }, "minute field"},
		{"zone", func(m *Monitor) { m.Schedule.TimeZone = "Mars/Olympus" }, "time_zone"},
		{"no signals", func(m *Monitor) { m.Signals = Signals{} }, "at least one"},
		{"metric", func(m *Monitor) {
			m.Signals.DataDrift = &DriftSignal{MetricThresholds: DriftThresholds{Numerical: map[string]float64{"kl": 0.1}}}
		}, "unknown metric"},
		{"two metrics", func(m *Monitor) {
			m.Signals.DataDrift = &DriftSignal{MetricThresholds: DriftThresholds{Categorical: map[string]float64{"psi": 0.2, "jensen_shannon": 0.1}}}
		}, "one metric"},
		{"quality", func(m *Monitor) {
			m.Signals.DataQuality = &QualitySignal{MetricThresholds: map[string]float64{"missing_rate": 2}}
		}, "rate"},
		{"performance", func(m *Monitor) { m.Signals.ModelPerformance = &PerformanceSignal{} }, "at least one metric"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			err := m.Validate()
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v; want EINVALID mentioning %q", err, tc.want)
			}
		})
	}
}
