package alert

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/httpmw"
)

// metrics are the alert metrics:
//
//	ferry_drift_score{endpoint,deployment,feature,metric}      last score of a drift signal
//	ferry_monitor_score{monitor,signal,feature,metric}         last score of any signal
//	ferry_monitor_signal_firing{monitor,signal}                1 while any of its alerts fires
//	ferry_alert_notifications_total{monitor,signal,state}      transitions notified
//	ferry_alert_webhook_deliveries_total{result}               delivered, failed, dropped
type metrics struct {
	drift         *prometheus.GaugeVec
	monitorScore  *prometheus.GaugeVec
	firing        *prometheus.GaugeVec
	notifications *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
}

// newMetrics registers the alert metrics on reg, or shares those already
// registered there.
func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		drift: httpmw.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_drift_score", Help: "Last drift score of a deployment's feature (or prediction) by drift metric.",
		}, []string{"endpoint", "deployment", "feature", "metric"})),
		monitorScore: httpmw.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_monitor_score", Help: "Last score of a monitor's signal, by feature and metric.",
		}, []string{"monitor", "signal", "feature", "metric"})),
		firing: httpmw.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_monitor_signal_firing", Help: "1 while an alert of the monitor's signal is firing, else 0.",
		}, []string{"monitor", "signal"})),
		notifications: httpmw.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_alert_notifications_total", Help: "Alert transitions notified, by the state entered.",
		}, []string{"monitor", "signal", "state"})),
		deliveries: httpmw.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_alert_webhook_deliveries_total", Help: "Webhook deliveries by result: delivered, failed (after every attempt) or dropped (queue full).",
		}, []string{"result"})),
	}
}

// score records an evaluation's score.
func (m *metrics) score(e Evaluation) {
	m.monitorScore.WithLabelValues(e.Monitor, e.Signal, e.Feature, e.Metric).Set(e.Score)
	if strings.HasSuffix(e.Signal, "drift") {
		m.drift.WithLabelValues(e.Endpoint, e.Deployment, e.Feature, e.Metric).Set(e.Score)
	}
}
