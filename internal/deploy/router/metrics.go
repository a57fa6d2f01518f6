package router

import (
	"errors"
	"strconv"

	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a mirrored request, as ferry_endpoint_mirror_requests_total
// labels them.
const (
	mirrorOK       = "ok"        // the shadow answered (any status below 500)
	mirrorError    = "error"     // the shadow answered 5xx, or not in time
	mirrorDropped  = "dropped"   // the mirror queue was full
	mirrorNotReady = "not_ready" // the shadow deployment was not ready
)

// metrics are the router's Prometheus series, by endpoint and deployment.
// Requests the router answers itself (unknown endpoint, nothing ready) are
// counted under deployment=""; an unknown endpoint under endpoint="", so
// that clients cannot grow the label sets.
type metrics struct {
	requests      *prometheus.CounterVec   // endpoint, deployment, code
	latency       *prometheus.HistogramVec // endpoint, deployment
	mirrors       *prometheus.CounterVec   // endpoint, deployment, outcome
	disagreements *prometheus.CounterVec   // endpoint, deployment
	ready         *prometheus.Desc
}

func newMetrics(reg prometheus.Registerer, r *Router) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_endpoint_requests_total", Help: "Requests to endpoints by endpoint, deployment that answered and HTTP status code.",
		}, []string{"endpoint", "deployment", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_endpoint_request_duration_seconds", Help: "Latency of requests to endpoints by endpoint and deployment, routing included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"endpoint", "deployment"}),
		mirrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_endpoint_mirror_requests_total", Help: "Requests mirrored to shadow deployments by endpoint, shadow deployment and outcome (ok, error, dropped, not_ready).",
		}, []string{"endpoint", "deployment", "outcome"}),
		disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_endpoint_mirror_disagreements_total", Help: "Mirrored requests whose shadow answer differed from the live one (status or predictions), by endpoint and shadow deployment.",
		}, []string{"endpoint", "deployment"}),
		ready: prometheus.NewDesc("ferry_endpoint_deployment_ready", "1 when the deployment's backend is ready to take requests, else 0.", []string{"endpoint", "deployment"}, nil),
	}
	m.requests = httpmw.Register(reg, m.requests)
	m.latency = httpmw.Register(reg, m.latency)
	m.mirrors = httpmw.Register(reg, m.mirrors)
	m.disagreements = httpmw.Register(reg, m.disagreements)
	if err := reg.Register(readyCollector{m.ready, r}); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic("router: register metrics: " + err.Error())
		}
		// Another Router on the same registry reports readiness; this one's
		// deployments are in its Status.
	}
	return m
}

// readyCollector reports ferry_endpoint_deployment_ready at scrape time
// from the router's state.
type readyCollector struct {
	desc *prometheus.Desc
	r    *Router
}

func (c readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c readyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.r.endpointNames() {
		for _, s := range c.r.Status(e) {
			v := 0.0
			if s.Ready {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, e, s.Deployment)
		}
	}
}

func codeText(code int) string {
	if code == 200 {
		return "200"
	}
	return strconv.Itoa(code)
}
