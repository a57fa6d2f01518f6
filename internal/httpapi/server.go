// Package httpapi serves Ferry's HTTP API on net/http's ServeMux: the native
// REST API under /api/v1/, MLflow's tracking REST API under /api/2.0/mlflow/
// and /ajax-api/2.0/mlflow/, MLflow's artifact proxy under
// /api/2.0/mlflow-artifacts/, health endpoints and Prometheus metrics.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// DefaultMaxRequestBytes bounds JSON request bodies when Options leaves it 0.
const DefaultMaxRequestBytes = 16 << 20

// Options configure a Server. Tracking and Artifacts are required.
type Options struct {
	Tracking *tracking.Service
	// Registry serves the model registry routes; nil leaves them out.
	Registry *registry.Service
	// Data serves the data asset routes; nil leaves them answering ENOTFOUND.
	Data *dataset.Registry
	// Deploy serves the endpoint and deployment routes; nil leaves them answering ENOTFOUND.
	Deploy *deploy.Service
	// DeployRuntime runs the deployments: their status, logs and restarts;
	// nil leaves those routes answering EUNAVAILABLE.
	DeployRuntime DeployRuntime
	// Monitor serves the monitor routes (labels); nil leaves them answering ENOTFOUND.
	Monitor   *monitor.Service
	Artifacts blob.Store
	// Ready reports whether dependencies answer; /readyz fails while it errs.
	Ready func(ctx context.Context) error
	// MaxRequestBytes bounds JSON bodies; artifact uploads stream unbounded.
	MaxRequestBytes int64
	Log             *slog.Logger
	// Metrics is the registry behind /metrics, shared with the handlers
	// served beside the API; nil: a new one.
	Metrics *prometheus.Registry
}

// Server is the HTTP API. Its Handler is safe for concurrent use.
type Server struct {
	tracking  *tracking.Service
	models    *registry.Service // the model registry; nil when not served
	data      *dataset.Registry // data assets; nil when not served
	deploy    *deploy.Service   // endpoints and deployments; nil when not served
	running   DeployRuntime     // the deployments' runtime; nil when this server runs none
	monitor   *monitor.Service  // labels; nil when not served
	artifacts blob.Store
	ready     func(ctx context.Context) error
	maxBody   int64
	log       *slog.Logger
	mux       *http.ServeMux
	registry  *prometheus.Registry
	metrics   *httpmw.Metrics
}

// New returns a Server with every route registered.
func New(opts Options) *Server {
	s := &Server{
		tracking: opts.Tracking, models: opts.Registry, data: opts.Data, deploy: opts.Deploy, running: opts.DeployRuntime, monitor: opts.Monitor, artifacts: opts.Artifacts, ready: opts.Ready,
		maxBody: opts.MaxRequestBytes, log: opts.Log, mux: http.NewServeMux(),
		registry: opts.Metrics,
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
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
	s.metrics = httpmw.NewMetrics(s.registry)
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.routeHealth()
	s.routeMLflow()
	s.routeLoggedModels()
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

// Handler returns the root handler: request ids, per-route metrics, access
// logs, panic recovery, path checks and the principal (PrincipalHeader)
// around the routes.
func (s *Server) Handler() http.Handler {
	errs := httpmw.Errors{Log: s.log, Family: func(r *http.Request) httpmw.Encoder { return styleOf(r).encoder() }}
	return httpmw.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cleanPath(r.URL.EscapedPath()) || hasDotSegment(r.URL.Path) {
			// ServeMux would redirect to the cleaned path; a path with "..",
			// "." or empty segments is a client mistake or an attack.
			errs.Write(w, r, ferry.Errorf(ferry.EINVALID, "Invalid path %q: it must not contain '.' or '..' segments or '//'.", clipPath(r.URL.Path)))
			return
		}
		s.mux.ServeHTTP(w, r)
	}),
		httpmw.RequestIDs(),
		s.metrics.Middleware(s.route),
		httpmw.AccessLog(s.log),
		httpmw.Recover(errs),
		httpmw.Principal(PrincipalHeader, errs),
	)
}

// route is the metrics label of r: its mux pattern, or "unmatched".
func (s *Server) route(r *http.Request) string {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return pattern
	}
	return "unmatched"
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
	s.mux.Handle("GET /readyz", httpmw.Timeout(2*time.Second)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			http.Error(w, "not ready: a dependency does not answer (see the server log)", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ready\n")
	})))
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, styleOf(r), ferry.Errorf(ferry.ENOTFOUND, "No route for %s %s. The MLflow API is under /api/2.0/mlflow/, Ferry's under /api/v1/ (see /api/v1/openapi.json).", r.Method, r.URL.Path))
	})
}
