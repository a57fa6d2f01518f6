package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	ferryapp "github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/monitor/collect"
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
		collectOn  bool
		rate       float64
	)
	cmd := &cobra.Command{
		Use:   "serve MODEL_URI|PATH",
		Short: "Serve one model over the Open Inference Protocol V2, KServe V1 and MLflow scoring",
		Long: `Serve one model in the foreground until interrupted: a registered version
(models:/name/3, models:/name@champion, models:/name/Production, fetched from
--server when given, else from the local data directory) or a model package directory (as in the OCI image that
'ferry models package --image' builds, whose entrypoint is 'ferry serve /model').

Routes: the Open Inference Protocol V2 (GET /v2/health/live, /v2/health/ready,
/v2/models/NAME; POST /v2/models/NAME/infer), KServe V1 (POST
/v1/models/NAME:predict), MLflow scoring (POST /invocations with
dataframe_split, dataframe_records, instances, inputs or CSV; GET /ping,
/health, /version) and /metrics. Requests are checked against the model's
signature before the model sees them.

The address is --addr, else FERRY_ADDR, else 127.0.0.1:8080.

python_function models (scikit-learn, statsmodels, a custom PythonModel) are
served by a supervised child process: by default 'mlflow models serve -m
{model_dir} --env-manager local -h 127.0.0.1 -p {port}', which needs Python
with MLflow and the model's requirements on PATH (a missing one fails at load,
saying so). FERRY_PROCESS_COMMAND sets another command ({port} and {model_dir}
are replaced; PORT and FERRY_MODEL_DIR are set too) and FERRY_PROCESS_PROTOCOL
what it speaks: mlflow (MLflow's scoring protocol: /ping, /invocations) or v2
(the Open Inference Protocol V2, the default when a command is set; its model
name is FERRY_PROCESS_MODEL_NAME, default "model"). Either way the model is
served over all three protocols above, with the signature's checks. Columns a
model does not take are ignored by /invocations, as MLflow does, and named in
the X-Ferry-Ignored-Columns header.

--collect logs the predictions (inputs and outputs, a --collect-sampling-rate
fraction of the requests) as Parquet to the configured artifact store, under
inference-logs/serve/MODEL_NAME/date=YYYY-MM-DD/hour=HH/: endpoint "serve",
deployment the served name (see docs/monitoring.md). Interrupting the server
writes what it holds.`,
		Example: `  ferry serve models:/churn@champion
  ferry serve ./model --addr 0.0.0.0:8080 --name churn
  ferry serve models:/churn/3 --batch-max 64 --batch-delay 2ms
  ferry serve models:/churn@champion --collect --collect-sampling-rate 0.1
  curl -s localhost:8080/invocations -H 'Content-Type: application/json' \
      -d '{"dataframe_records": [{"tenure": 14, "plan": "basic", "monthly_charges": 29.5}]}'`,
		Args: exactArgs(1, "MODEL_URI|PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batchMax < 0 || batchDelay < 0 || timeout < 0 || maxFlight < 0 {
				return usagef(cmd, "--batch-max, --batch-delay, --timeout and --max-in-flight must not be negative")
			}
			if !(rate >= 0 && rate <= 1) {
				return usagef(cmd, "--collect-sampling-rate must be between 0 and 1")
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
			lm, err := a.loadModel(ctx, args[0], log)
			if err != nil {
				return err
			}
			if name != "" {
				lm.name = name
			}
			opts := serving.Options{
				MaxRequestBytes: cfg.Server.MaxRequestBytes, Timeout: timeout, MaxInFlight: maxFlight,
				Default: lm.name, Log: log,
			}
			var metrics *prometheus.Registry
			if collectOn {
				// One registry for the server's and the collector's metrics,
				// served at /metrics below.
				metrics = prometheus.NewRegistry()
				metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
				opts.Registerer = metrics
				c, err := a.serveCollector(ctx, cfg, lm, metrics, log)
				if err != nil {
					return err
				}
				// Runs after the model is closed: the requests have drained.
				defer func() {
					cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
					defer cancel()
					if err := c.Close(cctx); err != nil {
						log.Error("writing the inference logs", "err", err)
					}
				}()
				opts.Collector = c.Tap(ServeEndpoint, lm.name, rate, true, true)
			}
			srv := serving.New(opts)
			var mopts []serving.ModelOption
			if batchMax > 1 {
				mopts = append(mopts, serving.WithBatching(batchMax, batchDelay))
			}
			srv.Set(lm.name, lm.version, lm.model, lm.sig, mopts...)
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
			h := srv.Handler()
			if metrics != nil {
				mux := http.NewServeMux()
				mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
				mux.Handle("/", h)
				h = mux
			}
			err = ferryapp.Serve(ctx, ln, h, cfg.Server, log)
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
	f.BoolVar(&collectOn, "collect", false, "log predictions as Parquet to the artifact store (inference-logs/serve/NAME/)")
	f.Float64Var(&rate, "collect-sampling-rate", 1, "with --collect: the fraction of requests logged, 0 to 1")
	return cmd
}

// ServeEndpoint is the endpoint name under which `ferry serve --collect`
// logs: inference-logs/serve/<served name>/.
const ServeEndpoint = "serve"

// loadedModel is a model loaded for serve or predict.
type loadedModel struct {
	model         runtime.Model
	sig           *model.Signature
	pkg           *model.Package
	name, version string
}

// loadModel loads a registered version (a models:/ URI, resolved and
// fetched through --server when given, else from the local data directory)
// or a package directory, with this build's runtimes. For a directory the
// name is FERRY_MODEL_NAME or "model", and the version FERRY_MODEL_VERSION or
// the first 12 hex digits of the package digest. The model's Close removes
// anything fetched.
func (a *app) loadModel(ctx context.Context, ref string, log *slog.Logger) (*loadedModel, error) {
	if strings.HasPrefix(ref, "models:/") {
		s, err := a.connect(ctx)
		if err != nil {
			return nil, err
		}
		defer s.close()
		return a.loadVersion(ctx, s, ref, log)
	}
	lm := &loadedModel{}
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
	if lm.model, err = ferryapp.Runtimes(a.runtimeConfig(log)).Load(ctx, lm.pkg); err != nil {
		return nil, err
	}
	lm.sig = lm.pkg.Manifest.Signature
	return lm, nil
}

// loadVersion loads the registered version uri names through s.
func (a *app) loadVersion(ctx context.Context, s *session, uri string, log *slog.Logger) (*loadedModel, error) {
	l, err := a.loader(s, log).LoadVersion(ctx, uri)
	if err != nil {
		return nil, err
	}
	return &loadedModel{model: l, sig: l.Signature(), pkg: l.Package, name: l.Version.Name, version: strconv.Itoa(l.Version.Version)}, nil
}

// serveCollector opens the configured artifact store and starts a collector
// on it, its metrics on reg, whose profiles use the package's training
// profile's edges when it has one. The caller Closes it.
func (a *app) serveCollector(ctx context.Context, cfg config.Config, lm *loadedModel, reg prometheus.Registerer, log *slog.Logger) (*collect.Collector, error) {
	store, err := ferryapp.OpenArtifacts(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var edges dataset.Edges
	if lm.pkg != nil && lm.pkg.Info != nil && len(lm.pkg.Info.Profile) > 0 {
		var p dataset.Profile
		if err := json.Unmarshal(lm.pkg.Info.Profile, &p); err != nil {
			log.Warn("serve: the package's training profile does not read; profiling without its edges", "err", err)
		} else {
			edges = p.Edges()
		}
	}
	return collect.New(store, collect.Options{
		Registerer: reg, Log: log,
		Edges: func(context.Context, string, string, string) (dataset.Edges, error) { return edges, nil },
	}), nil
}
