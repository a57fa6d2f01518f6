// Package app is Ferry's composition root: the one place that opens the
// configuration's stores, artifact store and runtimes and builds every
// service over them. `ferry server`, every command in local mode, the demo,
// tests and benchmarks build Ferry through Open; nothing else knows the
// concrete store, blob and runtime types.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/blob/file"
	"github.com/ferry-ml/ferry/internal/blob/s3"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/httpapi"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/monitor/collect"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
	"github.com/ferry-ml/ferry/internal/store/postgres"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// Options are what Open takes besides the configuration.
type Options struct {
	Log      *slog.Logger  // nil: discard
	Runtimes RuntimeConfig // settings of the runtimes that need them
	// Policy, when set, is the promotion policy instead of the one in
	// cfg.PolicyFile (tests give one directly).
	Policy *registry.Policy
	// Now is the services' clock; nil: time.Now.
	Now func() time.Time
	// Background makes Serve run the deploy stage's loops for as long as
	// it serves: the router following the store (Router.Run) and the
	// rollout controller (under the leader lease). `ferry server` and the
	// demo set it; a local one-command session leaves it off (its router
	// still refreshes on its first request, and no rollout advances).
	Background bool
	// RolloutTick is the rollout controller's period; 0: deploy.DefaultTick.
	RolloutTick time.Duration
	// ServeCommand is the program and arguments that start an instance of
	// a process-target deployment, before the package directory and flags;
	// nil: this executable's "serve". Tests give a built ferry binary's.
	ServeCommand []string
}

// App is Ferry built from one configuration: the opened stores and every
// service over them. Its fields are set by Open and read-only afterwards;
// the services are safe for concurrent use.
type App struct {
	Config    config.Config
	Log       *slog.Logger
	Store     *sqlstore.DB
	Artifacts blob.Store
	Tracking  *tracking.Service
	Data      *dataset.Registry
	Registry  *registry.Service
	Deploy    *deploy.Service
	// Monitor keeps the endpoints' labels and per-window profiles.
	Monitor  *monitor.Service
	Runtimes runtime.Registry
	// Models loads registered versions for prediction (serving, validation).
	Models *runtime.VersionLoader
	// API is the HTTP API over the services.
	API *httpapi.Server
	// Router serves the deployed endpoints (/endpoints/NAME/…).
	Router *router.Router
	// Rollouts advances the rollouts (run by Serve with Options.Background).
	Rollouts *deploy.Controller
	// Collector writes the inference logs of the deployments that have a
	// data_collector (one per App; closed by Serve and Close).
	Collector *collect.Collector
	// Alerts runs the monitors' alert state machines and webhooks (its
	// deliveries run in Serve with Options.Background).
	Alerts *alert.Manager
	// Evaluator evaluates monitors against their baselines and feeds the
	// verdicts to Alerts.
	Evaluator *monitor.Evaluator
	// Scheduler evaluates the monitors on their schedules, on the leader
	// only (run by Serve with Options.Background); nil while the monitor
	// service cannot list monitors.
	Scheduler *monitor.Scheduler

	background   bool
	lease        *sqlstore.Lease
	monitorLease *sqlstore.Lease
}

// Open opens the stores cfg names (cfg must be validated and resolved) and
// builds the services over them. The caller Closes the App.
func Open(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Runtimes.Log == nil {
		opts.Runtimes.Log = log
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*App, error) {
		store.Close()
		return nil, err
	}
	artifacts, err := openArtifacts(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	svc := tracking.NewService(store, tracking.Options{Log: log})
	if err := svc.EnsureDefaultExperiment(ctx); err != nil {
		return fail(err)
	}
	policy := opts.Policy
	if policy == nil && cfg.PolicyFile != "" {
		if policy, err = registry.LoadPolicy(cfg.PolicyFile); err != nil {
			return fail(err)
		}
	}
	a := &App{Config: cfg, Log: log, Store: store, Artifacts: artifacts, Tracking: svc}
	a.Registry = registry.NewService(store, svc, artifacts, registry.Options{Policy: policy, Now: opts.Now, Log: log})
	// The router (built below, before Open returns) refreshes at once after
	// this server's own deploy changes.
	a.Deploy = deploy.NewService(store, a.Registry, opts.Now, deploy.WithApprovals(a.Registry),
		deploy.WithChangeHook(func(endpoint string) { a.Router.Changed(endpoint) }))
	a.Monitor = monitor.NewService(store, monitor.Options{Endpoints: a.Deploy, Alerts: store, Now: opts.Now, Log: log})
	a.Data = dataset.NewRegistry(store, artifacts, filepath.Join(cfg.DataDir, "cache", "datasets"))
	a.Runtimes = Runtimes(opts.Runtimes)
	a.Models = &runtime.VersionLoader{Versions: a.Registry, Runtimes: a.Runtimes, Dir: filepath.Join(cfg.DataDir, "cache", "serving")}
	metrics := prometheus.NewRegistry()
	base := newBaselines(a.Registry, a.Data, a.Deploy, filepath.Join(cfg.DataDir, "cache", "baselines"))
	a.Collector = collect.New(artifacts, collect.Options{Registerer: metrics, Profiles: a.Monitor, Edges: base.edges, Log: log, Now: opts.Now})
	a.Alerts = alert.NewManager(store, alert.Options{Logger: log, Registerer: metrics, Now: opts.Now})
	a.Evaluator = monitor.NewEvaluator(monitor.EvaluatorOptions{Monitor: a.Monitor, Deployments: a.Deploy, Baselines: base, Logs: artifacts, Alerts: a.Alerts, Log: log})
	a.Router = router.New(a.Deploy, a.routerTargets(metrics, opts.ServeCommand, log, opts.Now), router.Options{Log: log, Registerer: metrics, Now: opts.Now})
	a.API = httpapi.New(httpapi.Options{
		Tracking: svc, Registry: a.Registry, Data: a.Data, Deploy: a.Deploy, DeployRuntime: a.Router, Monitor: a.Monitor, Artifacts: artifacts, Ready: store.Ping,
		MaxRequestBytes: cfg.Server.MaxRequestBytes, Log: log, Metrics: metrics,
	})
	a.background = opts.Background
	a.lease = store.Leader("deploy-controller")
	a.Rollouts = deploy.NewController(a.Deploy, a.Router, a.Router, a.lease, deploy.ControllerOptions{Now: opts.Now, Tick: opts.RolloutTick, Log: log})
	a.monitorLease = store.Leader("monitor-scheduler")
	if monitors, ok := any(a.Monitor).(monitor.MonitorLister); ok {
		a.Scheduler = monitor.NewScheduler(monitor.SchedulerOptions{Monitors: monitors, Deployments: a.Deploy, Evaluator: a.Evaluator, Leader: a.monitorLease, Now: opts.Now, Log: log})
	}
	return a, nil
}

// Close writes the collected inference logs, closes the router (unloading
// the deployments) and the stores.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(a.Collector.Close(ctx), a.Router.Close(ctx), a.Store.Close())
}

// Handler returns the handler of `ferry server`: the HTTP API, the
// registered models served by name, alias or version beside it
// (/v2/models/NAME@champion/infer, /v1/models/NAME:predict), loaded on
// demand, and the deployed endpoints (/endpoints/NAME/…, see Router).
// Call close after the HTTP server has shut down: it unloads the models
// (the Router's deployments are unloaded by Serve or Close).
func (a *App) Handler() (h http.Handler, close func(context.Context) error) {
	srv := serving.New(serving.Options{MaxRequestBytes: a.Config.Server.MaxRequestBytes, Registerer: a.API.Registerer(), Log: a.Log})
	inference := srv.RegistryHandler(serving.VersionResolver{Loader: a.Models}, serving.RegistryOptions{})
	api := a.API.Handler()
	endpoints := a.endpointsHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, router.Prefix) {
			endpoints.ServeHTTP(w, r)
			return
		}
		if p == "/v2" || strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/models/") {
			inference.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}), srv.Close
}

// Serve serves Handler on ln until ctx ends, then drains requests, writes
// the collected inference logs and unloads the served models and
// deployments. With Options.Background it also runs the Router's refresh
// loop, the rollout controller, the monitor scheduler and the alerts'
// webhook deliveries meanwhile.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	h, closeModels := a.Handler()
	bctx, stop := context.WithCancel(ctx)
	var loops sync.WaitGroup
	if a.background {
		loops.Go(func() { a.Router.Run(bctx) })
		loops.Go(func() { a.Rollouts.Run(bctx) })
		loops.Go(func() { a.Alerts.Run(bctx) })
		if a.Scheduler != nil {
			loops.Go(func() { a.Scheduler.Run(bctx) })
		}
	}
	err := Serve(ctx, ln, h, a.Config.Server, a.Log)
	stop()
	loops.Wait()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	// The requests have drained: the collector holds all it will log.
	return errors.Join(err, a.lease.Release(cctx), a.monitorLease.Release(cctx), closeModels(cctx), a.Collector.Close(cctx), a.Router.Close(cctx))
}

// openStore opens the metadata store cfg.StoreURL names.
func openStore(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	switch scheme, _, _ := strings.Cut(cfg.StoreURL, ":"); scheme {
	case "sqlite":
		path, ok := config.SQLitePath(cfg.StoreURL)
		if !ok {
			return nil, fmt.Errorf("store URL %q: want sqlite:///absolute/path.db", cfg.StoreURL)
		}
		return sqlite.Open(ctx, path, cfg.SQLite.Synchronous)
	case "postgres", "postgresql":
		return postgres.Open(ctx, cfg.StoreURL)
	}
	return nil, fmt.Errorf("store URL %q: unsupported scheme; use sqlite:///path or postgres://", cfg.Redacted().StoreURL)
}

// OpenArtifacts opens the artifact store cfg.ArtifactURL names (for
// commands that need only it, such as `ferry serve --collect`).
func OpenArtifacts(ctx context.Context, cfg config.Config) (blob.Store, error) {
	return openArtifacts(ctx, cfg)
}

// openArtifacts opens the artifact store cfg.ArtifactURL names.
func openArtifacts(ctx context.Context, cfg config.Config) (blob.Store, error) {
	u, err := url.Parse(cfg.ArtifactURL)
	if err != nil {
		return nil, fmt.Errorf("artifact URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		return file.New(u.Path)
	case "s3":
		c, err := s3.ParseURL(cfg.ArtifactURL)
		if err != nil {
			return nil, err
		}
		c.Endpoint, c.Region, c.AccessKey, c.SecretKey, c.UseSSL = cfg.S3.Endpoint, cfg.S3.Region, cfg.S3.AccessKey, cfg.S3.SecretKey, cfg.S3.UseSSL
		return s3.New(ctx, c)
	}
	return nil, fmt.Errorf("artifact URL %q: unsupported scheme; use file:///dir or s3://bucket/prefix", cfg.ArtifactURL)
}

// Serve runs h on ln until ctx ends, then drains in-flight requests for up
// to the configured shutdown timeout.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg config.ServerConfig, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	grace := cfg.ShutdownTimeout
	if grace <= 0 {
		grace = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}
