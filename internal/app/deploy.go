package app

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/process"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/serving"
)

// routerTargets are the deployment targets this server runs, by name:
// embedded (in this process) and process (supervised `ferry serve`
// children of this executable, or of Options.ServeCommand).
func (a *App) routerTargets(metrics prometheus.Registerer, serve []string, log *slog.Logger, now func() time.Time) map[string]router.Target {
	children := process.Target(process.Options{
		Fetcher: process.FromVersions(a.Registry), Command: serve,
		Dir: filepath.Join(a.Config.DataDir, "deployments"), MaxRequestBytes: a.Config.Server.MaxRequestBytes, Log: log, Now: now,
	})
	return map[string]router.Target{
		deploy.TargetEmbedded: router.Embedded(a.Models, router.EmbeddedOptions{
			Registerer: metrics, MaxRequestBytes: a.Config.Server.MaxRequestBytes, Log: log, Collector: a.collectorOf,
		}),
		deploy.TargetProcess: func(ctx context.Context, endpoint string, d deploy.Deployment) (router.Backend, error) {
			b, err := children(ctx, endpoint, d)
			if err != nil {
				return nil, err // not a typed nil Backend
			}
			return b, nil
		},
	}
}

// collectorOf is the inference-log collector of deployment d of endpoint,
// from its data_collector; nil when it has none.
func (a *App) collectorOf(endpoint string, d deploy.Deployment) serving.Collector {
	dc := d.DataCollector
	if dc == nil {
		return nil
	}
	return a.Collector.Tap(endpoint, d.Name, dc.Rate(), dc.Collects(deploy.CollectionInputs), dc.Collects(deploy.CollectionOutputs))
}

// endpointsHandler serves /endpoints/ through the router, with the
// inference routes' body limit, request ids, access log and recovery.
func (a *App) endpointsHandler() http.Handler {
	errs := httpmw.Errors{Log: a.Log, Family: func(r *http.Request) httpmw.Encoder { return serving.ErrorEncoder(r.URL.Path) }}
	return httpmw.Chain(a.Router,
		httpmw.LimitBody(a.Config.Server.MaxRequestBytes),
		httpmw.RequestIDs(),
		httpmw.AccessLog(a.Log),
		httpmw.Recover(errs),
	)
}
