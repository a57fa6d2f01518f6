package cli

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"
)

func (a *app) serverCommand() *cobra.Command {
	var addr, storeURL, artifactURL string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Ferry server (tracking API, MLflow-compatible API, artifact proxy)",
		Long: `Run the Ferry server in the foreground until interrupted.

It serves Ferry's REST API under /api/v1, MLflow's tracking REST API under
/api/2.0/mlflow so that MLFLOW_TRACKING_URI=http://ADDR works unchanged, the
artifact proxy under /api/2.0/mlflow-artifacts, /metrics for Prometheus and
/healthz and /readyz for probes.`,
		Example: `  ferry server
  ferry server --addr 0.0.0.0:5000 --store postgres://ferry@db/ferry --artifacts s3://ml-artifacts/ferry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.serverURL != "" {
				return usagef(cmd, "ferry server runs a server over --data or --store; --server names another one to talk to, so it does not apply")
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.Server.Addr = addr
			}
			if storeURL != "" {
				cfg.StoreURL = storeURL
			}
			if artifactURL != "" {
				cfg.ArtifactURL = artifactURL
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			cfg = cfg.Resolved()
			log, err := cfg.Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			fa, err := a.openServer(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer fa.Close()
			ln, err := net.Listen("tcp", cfg.Server.Addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (is another server running? choose another with --addr)", cfg.Server.Addr, err)
			}
			red := cfg.Redacted()
			url := "http://" + ln.Addr().String()
			fmt.Fprintf(cmd.OutOrStdout(), "Ferry %s listening on %s\n  store:     %s\n  artifacts: %s\nPoint MLflow clients at it with: export MLFLOW_TRACKING_URI=%s\n",
				rootVersion(cmd), url, red.StoreURL, red.ArtifactURL, url)
			if f, ok := cmd.OutOrStdout().(*os.File); ok {
				_ = f.Sync()
			}
			log.Info("server started", "addr", ln.Addr().String(), "pid", os.Getpid())
			err = fa.Serve(ctx, ln)
			log.Info("server stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "", "address to listen on (default 127.0.0.1:5000; env FERRY_ADDR)")
	f.StringVar(&storeURL, "store", "", "metadata store URL: sqlite:///path/ferry.db or postgres://... (env FERRY_STORE_URL)")
	f.StringVar(&artifactURL, "artifacts", "", "artifact store URL: file:///dir or s3://bucket/prefix (env FERRY_ARTIFACT_URL)")
	return cmd
}

func rootVersion(cmd *cobra.Command) string { return cmd.Root().Version }
