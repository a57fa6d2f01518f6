package httpmw

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the generic HTTP metrics of a server, by route:
// ferry_http_requests_total{route, code} and
// ferry_http_request_duration_seconds{route}.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics on reg. It panics when reg already
// has them, as prometheus.MustRegister does.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// Middleware counts and times every request under the route that route
// names once the handler has returned (a mux pattern, so that clients
// cannot grow the label set). Put Recover inside it, so that a panic counts
// as the 500 it is answered with.
func (m *Metrics) Middleware(route func(r *http.Request) string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := recorderOf(w)
			defer func() {
				name := route(r)
				m.requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
				m.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// Register registers c on reg, or returns the collector already registered
// there under its name, so that several servers or routers on one registry
// share their series. Any other registration error is a programming error
// (conflicting definitions) and panics.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("register metrics: " + err.Error())
	}
	return c
}
