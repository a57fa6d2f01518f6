package serving

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/httpmw"
)

// metrics are the serving metrics, labelled by model and version. Requests
// for a model that is not served are counted under model="" and version="",
// so that clients cannot grow the label sets.
type metrics struct {
	requests  *prometheus.CounterVec   // model, version, protocol, code
	errors    *prometheus.CounterVec   // model, version, protocol, reason
	latency   *prometheus.HistogramVec // model, version, protocol
	batchSize *prometheus.HistogramVec // model, version
	loads     *prometheus.CounterVec   // model, outcome (registry handler)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_serving_requests_total", Help: "Inference requests by model, version, protocol and HTTP status code.",
		}, []string{"model", "version", "protocol", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_serving_errors_total", Help: "Failed inference requests by model, version, protocol and reason (invalid, not_found, too_large, timeout, overload, canceled, internal).",
		}, []string{"model", "version", "protocol", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_serving_request_duration_seconds", Help: "Inference request latency by model, version and protocol, from routing to the response written.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"model", "version", "protocol"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_serving_batch_rows", Help: "Rows per Predict call (after adaptive batching) by model and version.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384, 65536},
		}, []string{"model", "version"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_serving_model_loads_total", Help: "Registered model versions loaded on demand, by model and outcome (ok, error).",
		}, []string{"model", "outcome"}),
	}
	m.requests = httpmw.Register(reg, m.requests)
	m.errors = httpmw.Register(reg, m.errors)
	m.latency = httpmw.Register(reg, m.latency)
	m.batchSize = httpmw.Register(reg, m.batchSize)
	m.loads = httpmw.Register(reg, m.loads)
	return m
}

// entryMetrics are the series of one model version, resolved once.
type entryMetrics struct {
	name, version string
	all           *metrics
	latency       [3]prometheus.Observer // v2, v1, mlflow
	batchSize     prometheus.Observer
}

func (m *metrics) forModel(name, version string) *entryMetrics {
	em := &entryMetrics{name: name, version: version, all: m}
	for i, p := range []string{protoV2, protoV1, protoMLflow} {
		em.latency[i] = m.latency.WithLabelValues(name, version, p)
	}
	em.batchSize = m.batchSize.WithLabelValues(name, version)
	return em
}

func protoIndex(p string) int {
	switch p {
	case protoV1:
		return 1
	case protoMLflow:
		return 2
	}
	return 0
}

// observe records one inference request: e is nil when no model was found.
func (m *metrics) observe(e *entryMetrics, proto string, status int, seconds float64) {
	name, version := "", ""
	if e != nil {
		name, version = e.name, e.version
		e.latency[protoIndex(proto)].Observe(seconds)
	} else {
		m.latency.WithLabelValues(name, version, proto).Observe(seconds)
	}
	m.requests.WithLabelValues(name, version, proto, statusText(status)).Inc()
	if status >= 400 {
		m.errors.WithLabelValues(name, version, proto, reasonOf(status)).Inc()
	}
}

func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}

func reasonOf(status int) string {
	switch status {
	case 400, 405, 415, 422:
		return "invalid"
	case 404:
		return "not_found"
	case 413:
		return "too_large"
	case 504:
		return "timeout"
	case 503:
		return "overload"
	case httpmw.StatusClientClosed:
		return "canceled"
	}
	return "internal"
}
