package cli

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/ferry-ml/ferry/client"
	ferryapp "github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/onnx"
)

// session is what a command talks to: a remote server (--server or
// FERRY_SERVER), or the local data directory served on a loopback port for
// as long as the command runs. Either way the command goes through the
// server's API, so a command gives the same answers locally and remotely.
type session struct {
	client *client.Client
	// remote gives the services' consumer interfaces (versions, data,
	// checks) over client.
	remote ferryapp.Remote
	// local is the App behind the loopback server; nil for a remote server.
	local *ferryapp.App
	close func()
}

// connect returns a session for the --server URL (or FERRY_SERVER), or else
// for the local data directory.
func (a *app) connect(ctx context.Context) (*session, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	if remote := a.remoteURL(); remote != "" {
		c, err := client.New(remote)
		if err != nil {
			return nil, err
		}
		c = c.As(a.principal(""))
		return &session{client: c, remote: a.remoteOf(c, cfg), close: func() {}}, nil
	}
	return a.startLocal(ctx, cfg, a.options(discardLogger()))
}

// The session's client acts as the command's principal (see principal);
// commands with --as override it with client.As.

// remoteURL is the server the user named, or "" for the local directory.
func (a *app) remoteURL() string {
	if a.serverURL != "" {
		return a.serverURL
	}
	return a.env.lookup("FERRY_SERVER")
}

func (a *app) remoteOf(c *client.Client, cfg config.Config) ferryapp.Remote {
	return ferryapp.Remote{Client: c, Cache: filepath.Join(cfg.DataDir, "cache", "datasets")}
}

// options are the options of Open for a command: log, and the runtimes'
// settings from the command's environment.
func (a *app) options(log *slog.Logger) ferryapp.Options {
	return ferryapp.Options{Log: log, Runtimes: a.runtimeConfig(log)}
}

// open builds Ferry over the local data directory of cfg.
func (a *app) open(ctx context.Context, cfg config.Config, log *slog.Logger) (*ferryapp.App, error) {
	return ferryapp.Open(ctx, cfg, a.options(log))
}

// openServer opens the data directory for a long-running server (ferry
// server): the router and the rollout controller run while it serves.
func (a *app) openServer(ctx context.Context, cfg config.Config, log *slog.Logger) (*ferryapp.App, error) {
	opts := a.options(log)
	opts.Background = true
	return ferryapp.Open(ctx, cfg, opts)
}

// startLocal opens the local data directory with opts and serves it on a
// free loopback port (with opts.Background, the router and the rollout
// controller run too: the demo's).
func (a *app) startLocal(ctx context.Context, cfg config.Config, opts ferryapp.Options) (*session, error) {
	fa, err := ferryapp.Open(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fa.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fa.Serve(sctx, ln)
	}()
	stop := func() {
		cancel()
		<-done
		fa.Close()
	}
	c, err := client.New("http://" + ln.Addr().String())
	if err != nil {
		stop()
		return nil, err
	}
	c = c.As(a.principal(""))
	return &session{client: c, remote: a.remoteOf(c, cfg), local: fa, close: stop}, nil
}

// loader loads registered versions through the session.
func (a *app) loader(s *session, log *slog.Logger) *runtime.VersionLoader {
	return &runtime.VersionLoader{Versions: s.remote, Runtimes: ferryapp.Runtimes(a.runtimeConfig(log))}
}

// runtimeConfig reads the runtimes' settings from the command's environment.
func (a *app) runtimeConfig(log *slog.Logger) ferryapp.RuntimeConfig {
	return ferryapp.RuntimeConfig{
		ProcessProtocol:  a.env.lookup("FERRY_PROCESS_PROTOCOL"),
		ProcessCommand:   strings.Fields(a.env.lookup("FERRY_PROCESS_COMMAND")),
		ProcessModelName: a.env.lookup("FERRY_PROCESS_MODEL_NAME"),
		ONNXLibrary:      onnx.LibraryFromEnv(a.env.Environ),
		Log:              log,
	}
}

// principal is who a command acts as: as (a --as flag), else
// FERRY_PRINCIPAL, else the local user.
func (a *app) principal(as string) string {
	return cmp.Or(as, a.env.lookup("FERRY_PRINCIPAL"), currentUser())
}

// principalContext returns ctx carrying the principal a command acts as.
func (a *app) principalContext(ctx context.Context, as string) context.Context {
	return auth.WithPrincipal(ctx, a.principal(as))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
