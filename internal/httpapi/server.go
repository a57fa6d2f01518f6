// Package httpapi serves Ferry's HTTP API on net/http's ServeMux: the native
// REST API under /api/v1/, MLflow's tracking REST API under /api/2.0/mlflow/
// and /ajax-api/2.0/mlflow/, MLflow's artifact proxy under
// /api/2.0/mlflow-artifacts/, health endpoints and Prometheus metrics.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

const requestIDHeader = "X-Request-Id"

// DefaultMaxRequestBytes bounds JSON request bodies when Options leaves it 0.
const DefaultMaxRequestBytes = 16 << 20

// Options configure a Server. Tracking and Artifacts are required.
type Options struct {
	Tracking *tracking.Service
	// Registry serves the model registry routes; nil leaves them out.
	Registry *registry.Service
	// Data serves the data asset routes; nil leaves them answering ENOTFOUND.
	Data      *dataset.Registry
	Artifacts blob.Store
	// Ready reports whether dependencies answer; /readyz fails while it errs.
	Ready func(ctx context.Context) error
	// MaxRequestBytes bounds JSON bodies; artifact uploads stream unbounded.
	MaxRequestBytes int64
	Log             *slog.Logger
}

// Server is the HTTP API. Its Handler is safe for concurrent use.
type Server struct {
	tracking  *tracking.Service
	models    *registry.Service // the model registry; nil when not served
	data      *dataset.Registry // data assets; nil when not served
	artifacts blob.Store
	ready     func(ctx context.Context) error
	maxBody   int64
	log       *slog.Logger
	mux       *http.ServeMux
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// New returns a Server with every route registered.
func New(opts Options) *Server {
	s := &Server{
		tracking: opts.Tracking, models: opts.Registry, data: opts.Data, artifacts: opts.Artifacts, ready: opts.Ready,
		maxBody: opts.MaxRequestBytes, log: opts.Log, mux: http.NewServeMux(),
		registry: prometheus.NewRegistry(),
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxRequestBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ferry_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ferry_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"route"})
	s.registry.MustRegister(s.requests, s.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.routeHealth()
	s.routeMLflow()
	if s.models != nil {
		s.routeRegistry()
	}
	s.routeArtifacts()
	s.routeV1()
	return s
}

// Registerer is the registry behind /metrics, for other handlers served
// beside the API (e.g. inference) to export their metrics through.
func (s *Server) Registerer() prometheus.Registerer { return s.registry }

// Handler returns the root handler with request ids, panic recovery, metrics
// and logging around the routes.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if id == "" || len(id) > 128 {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !rec.wrote {
					writeError(rec, r, s.log, styleOf(r), fmt.Errorf("panic: %v", p))
				}
			}
			_, route := s.mux.Handler(r)
			if route == "" {
				route = "unmatched"
			}
			s.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "request_id", id, "duration", time.Since(start))
		}()
		if !cleanPath(r.URL.EscapedPath()) || hasDotSegment(r.URL.Path) {
			// ServeMux would redirect to the cleaned path; a path with "..",
			// "." or empty segments is a client mistake or an attack.
			writeError(rec, r, s.log, styleOf(r), ferry.Errorf(ferry.EINVALID, "Invalid path %q: it must not contain '.' or '..' segments or '//'.", clipPath(r.URL.Path)))
			return
		}
		s.mux.ServeHTTP(rec, r)
	})
}

// clipPath bounds a request path for an error message.
func clipPath(p string) string {
	if len(p) > 200 {
		return p[:197] + "..."
	}
	return p
}

// cleanPath reports whether p has no ".", ".." or empty segments.
func cleanPath(p string) bool {
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// hasDotSegment reports whether p has a "." or ".." segment once decoded.
func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// styleOf picks the error shape by route family.
func styleOf(r *http.Request) errorStyle {
	if len(r.URL.Path) >= 7 && r.URL.Path[:7] == "/api/v1" {
		return styleFerry
	}
	return styleMLflow
}

func (s *Server) routeHealth() {
	text := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	s.mux.HandleFunc("GET /health", text("OK"))
	s.mux.HandleFunc("GET /healthz", text("ok\n"))
	s.mux.HandleFunc("GET /version", text(ferry.Version))
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			http.Error(w, "not ready: a dependency does not answer (see the server log)", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ready\n")
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, styleOf(r), ferry.Errorf(ferry.ENOTFOUND, "No route for %s %s. The MLflow API is under /api/2.0/mlflow/, Ferry's under /api/v1/ (see /api/v1/openapi.json).", r.Method, r.URL.Path))
	})
}
