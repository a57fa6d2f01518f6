package cli

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
	"time"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/blob/file"
	"github.com/ferry-ml/ferry/internal/blob/s3"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/httpapi"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/postgres"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// backend is an opened metadata store and artifact store with the services
// and HTTP API over them.
type backend struct {
	store     *sqlstore.DB
	artifacts blob.Store
	tracking  *tracking.Service
	data      *dataset.Registry
	registry  *registry.Service
	api       *httpapi.Server
}

// openBackend opens the stores cfg names and builds the services over them.
func openBackend(ctx context.Context, cfg config.Config, log *slog.Logger) (*backend, error) {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	artifacts, err := openArtifacts(ctx, cfg)
	if err != nil {
		store.Close()
		return nil, err
	}
	svc := tracking.NewService(store, tracking.Options{Log: log})
	if err := svc.EnsureDefaultExperiment(ctx); err != nil {
		store.Close()
		return nil, err
	}
	var policy *registry.Policy
	if cfg.PolicyFile != "" {
		if policy, err = registry.LoadPolicy(cfg.PolicyFile); err != nil {
			store.Close()
			return nil, err
		}
	}
	reg := registry.NewService(store, svc, artifacts, registry.Options{Policy: policy, Log: log})
	api := httpapi.New(httpapi.Options{
		Tracking: svc, Registry: reg, Artifacts: artifacts, Ready: store.Ping,
		MaxRequestBytes: cfg.Server.MaxRequestBytes, Log: log,
	})
	data := dataset.NewRegistry(store, artifacts, filepath.Join(cfg.DataDir, "cache", "datasets"))
	return &backend{store: store, artifacts: artifacts, tracking: svc, data: data, registry: reg, api: api}, nil
}

// Close closes the stores.
func (b *backend) Close() error { return b.store.Close() }

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

// serve runs h on ln until ctx ends, then drains in-flight requests for up
// to grace.
func serve(ctx context.Context, ln net.Listener, h http.Handler, cfg config.ServerConfig, log *slog.Logger) error {
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

// session is what a client command talks to: a remote server, or a server on
// a loopback port over the local data directory that lives as long as the
// command.
type session struct {
	client *client.Client
	local  *backend // nil for a remote server
	close  func()
}

// connect returns a session for the --server URL (or FERRY_SERVER), or else
// for the local data directory.
func (a *app) connect(ctx context.Context) (*session, error) {
	remote := a.serverURL
	if remote == "" {
		remote = a.env.lookup("FERRY_SERVER")
	}
	if remote != "" {
		c, err := client.New(remote)
		if err != nil {
			return nil, err
		}
		return &session{client: c, close: func() {}}, nil
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return startLocal(ctx, cfg, discardLogger())
}

// startLocal opens the backend of cfg and serves it on a free loopback port.
func startLocal(ctx context.Context, cfg config.Config, log *slog.Logger) (*session, error) {
	b, err := openBackend(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serve(sctx, ln, b.api.Handler(), cfg.Server, log)
	}()
	c, err := client.New("http://" + ln.Addr().String())
	if err != nil {
		cancel()
		<-done
		b.Close()
		return nil, err
	}
	return &session{client: c, local: b, close: func() {
		cancel()
		<-done
		b.Close()
	}}, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
