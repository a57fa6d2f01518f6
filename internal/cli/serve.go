package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
)

// defaultServeAddr is where `ferry serve` listens without --addr or FERRY_ADDR.
const defaultServeAddr = "127.0.0.1:8080"

func (a *app) serveCommand() *cobra.Command {
	var (
		addr, name string
		batchMax   int
		batchDelay time.Duration
		timeout    time.Duration
		maxFlight  int
	)
	cmd := &cobra.Command{
		Use:   "serve MODEL_URI|PATH",
		Short: "Serve one model over the Open Inference Protocol V2, KServe V1 and MLflow scoring",
		Long: `Serve one model in the foreground until interrupted: a registered version
(models:/name/3, models:/name@champion, models:/name/Production, read from the
local data directory) or a model package directory (as in the OCI image that
'ferry models package --image' builds, whose entrypoint is 'ferry serve /model').

Routes: the Open Inference Protocol V2 (GET /v2/health/live, /v2/health/ready,
/v2/models/NAME; POST /v2/models/NAME/infer), KServe V1 (POST
/v1/models/NAME:predict), MLflow scoring (POST /invocations with
dataframe_split, dataframe_records, instances, inputs or CSV; GET /ping,
/health, /version) and /metrics. Requests are checked against the model's
signature before the model sees them.

The address is --addr, else FERRY_ADDR, else 127.0.0.1:8080. python_function
models need FERRY_PROCESS_COMMAND: a command serving the V2 protocol on $PORT.`,
		Example: `  ferry serve models:/churn@champion
  ferry serve ./model --addr 0.0.0.0:8080 --name churn
  ferry serve models:/churn/3 --batch-max 64 --batch-delay 2ms
  curl -s localhost:8080/invocations -H 'Content-Type: application/json' \
      -d '{"dataframe_records": [{"distance": 300, "origin": "SFO"}]}'`,
		Args: exactArgs(1, "MODEL_URI|PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batchMax < 0 || batchDelay < 0 || timeout < 0 || maxFlight < 0 {
				return usagef(cmd, "--batch-max, --batch-delay, --timeout and --max-in-flight must not be negative")
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			log, err := cfg.Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if addr == "" {
				addr = a.env.lookup("FERRY_ADDR")
			}
			if addr == "" {
				addr = defaultServeAddr
			}
			ctx := cmd.Context()
			lm, err := a.loadModel(ctx, cfg, args[0], log)
			if err != nil {
				return err
			}
			defer lm.cleanup()
			if name != "" {
				lm.name = name
			}
			srv := serving.New(serving.Options{
				MaxRequestBytes: cfg.Server.MaxRequestBytes, Timeout: timeout, MaxInFlight: maxFlight,
				Default: lm.name, Log: log,
			})
			var opts []serving.ModelOption
			if batchMax > 1 {
				opts = append(opts, serving.WithBatching(batchMax, batchDelay))
			}
			srv.Set(lm.name, lm.version, lm.model, lm.sig, opts...)
			defer func() {
				// http.Server.Shutdown has drained the requests; this closes the model.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if err := srv.Close(cctx); err != nil {
					log.Error("closing the model", "err", err)
				}
			}()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (is another server running? choose another with --addr)", addr, err)
			}
			url := "http://" + ln.Addr().String()
			fmt.Fprintf(cmd.OutOrStdout(), "Serving %s version %s (%s) on %s\n  V2:     POST %s/v2/models/%s/infer\n  V1:     POST %s/v1/models/%s:predict\n  MLflow: POST %s/invocations\n",
				lm.name, lm.version, lm.model.Metadata().Platform, url, url, lm.name, url, lm.name, url)
			if f, ok := cmd.OutOrStdout().(*os.File); ok {
				_ = f.Sync()
			}
			log.Info("serving", "model", lm.name, "version", lm.version, "addr", ln.Addr().String(), "pid", os.Getpid())
			err = serve(ctx, ln, srv.Handler(), cfg.Server, log)
			log.Info("server stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "", "address to listen on (default 127.0.0.1:8080; env FERRY_ADDR)")
	f.StringVar(&name, "name", "", "name to serve the model under (default: the registered name, or FERRY_MODEL_NAME, or \"model\")")
	f.IntVar(&batchMax, "batch-max", 0, "adaptive batching: most rows per prediction (0 or 1: off)")
	f.DurationVar(&batchDelay, "batch-delay", 5*time.Millisecond, "adaptive batching: longest wait for a batch to fill")
	f.DurationVar(&timeout, "timeout", serving.DefaultTimeout, "longest a prediction may take (504 beyond)")
	f.IntVar(&maxFlight, "max-in-flight", serving.DefaultMaxInFlight, "most requests served at once (503 beyond)")
	return cmd
}

// loadedModel is a model loaded for serve or predict.
type loadedModel struct {
	model         runtime.Model
	sig           *model.Signature
	pkg           *model.Package
	name, version string
	// tmp is a directory to remove once the model is no longer used.
	tmp string
}

// cleanup removes the model's temporary directory. The model itself is
// closed by whoever owns it (the serving.Server, or predict).
func (lm *loadedModel) cleanup() {
	if lm.tmp != "" {
		_ = os.RemoveAll(lm.tmp)
	}
}

// loadModel loads a registered version (a models:/ URI, from the local
// registry) or a package directory, with this build's runtimes. For a
// directory the name is FERRY_MODEL_NAME or "model", and the version
// FERRY_MODEL_VERSION or the first 12 hex digits of the package digest.
func (a *app) loadModel(ctx context.Context, cfg config.Config, ref string, log *slog.Logger) (*loadedModel, error) {
	lm := &loadedModel{}
	if strings.HasPrefix(ref, "models:/") {
		b, err := openBackend(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		v, err := b.registry.Resolve(ctx, ref)
		if err != nil {
			return nil, err
		}
		if lm.tmp, err = os.MkdirTemp("", "ferry-model-"); err != nil {
			return nil, err
		}
		if lm.pkg, err = b.registry.FetchVersion(ctx, v, filepath.Join(lm.tmp, "model")); err != nil {
			lm.cleanup()
			return nil, err
		}
		lm.name, lm.version = v.Name, strconv.Itoa(v.Version)
	} else {
		var err error
		if lm.pkg, err = model.Load(ctx, ref); err != nil {
			return nil, err
		}
		lm.name = cmp.Or(a.env.lookup("FERRY_MODEL_NAME"), "model")
		lm.version = a.env.lookup("FERRY_MODEL_VERSION")
		if lm.version == "" {
			lm.version = "1"
			if d := strings.TrimPrefix(lm.pkg.Digest(), "sha256:"); len(d) >= 12 && lm.pkg.Verified() {
				lm.version = d[:12]
			}
		}
	}
	m, err := runtimes(a.runtimeConfig(log)).Load(ctx, lm.pkg)
	if err != nil {
		lm.cleanup()
		return nil, err
	}
	lm.model, lm.sig = m, lm.pkg.Manifest.Signature
	return lm, nil
}

// registryResolver serves registered models to serving.RegistryHandler:
// versions are fetched from the registry into dir and loaded with rt.
type registryResolver struct {
	reg *registry.Service
	rt  runtime.Registry
	dir string
}

// Resolve implements serving.Resolver.
func (r *registryResolver) Resolve(ctx context.Context, name, ref string) (string, error) {
	uri := "models:/" + name + "@latest"
	switch {
	case strings.HasPrefix(ref, "@"):
		uri = "models:/" + name + ref
	case ref != "":
		uri = "models:/" + name + "/" + ref
	}
	v, err := r.reg.Resolve(ctx, uri)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(v.Version), nil
}

// Load implements serving.Resolver. The package stays on disk until the
// model is closed.
func (r *registryResolver) Load(ctx context.Context, name, version string) (runtime.Model, *model.Signature, error) {
	v, err := r.reg.Resolve(ctx, "models:/"+name+"/"+version)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp(r.dir, "v"+version+"-")
	if err != nil {
		return nil, nil, err
	}
	pkg, err := r.reg.FetchVersion(ctx, v, filepath.Join(tmp, "model"))
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, nil, err
	}
	m, err := r.rt.Load(ctx, pkg)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, nil, err
	}
	return &dirModel{Model: m, dir: tmp}, pkg.Manifest.Signature, nil
}

// dirModel removes its package directory when closed.
type dirModel struct {
	runtime.Model
	dir string
}

func (m *dirModel) Close() error {
	err := m.Model.Close()
	return errors.Join(err, os.RemoveAll(m.dir))
}

// inferenceHandler returns the handler of `ferry server`'s inference routes:
// registered models by name, alias or version over V2 (/v2/models/NAME@ALIAS/infer,
// /v2/models/NAME/versions/N/infer, ...) and V1, loaded on demand and cached
// (see serving.RegistryHandler), with metrics on reg (nil: not exported).
// Call close after the HTTP server has shut down: it unloads the models.
func (a *app) inferenceHandler(b *backend, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (h http.Handler, close func(context.Context) error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	srv := serving.New(serving.Options{MaxRequestBytes: cfg.Server.MaxRequestBytes, Registerer: reg, Log: log})
	res := &registryResolver{reg: b.registry, rt: runtimes(a.runtimeConfig(log)), dir: filepath.Join(cfg.DataDir, "cache", "serving")}
	return srv.RegistryHandler(res, serving.RegistryOptions{}), srv.Close
}

// withInference routes the inference paths (/v2, /v2/..., /v1/models/...)
// to inference and everything else to api.
func withInference(api, inference http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/v2" || strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/models/") {
			inference.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
