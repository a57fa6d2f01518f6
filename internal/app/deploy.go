package app

import (
	"log/slog"
	"net/http"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/serving"
)

// routerTargets are the deployment targets this server runs, by name.
func (a *App) routerTargets(log *slog.Logger) map[string]router.Target {
	return map[string]router.Target{
		deploy.TargetEmbedded: router.Embedded(a.Models, router.EmbeddedOptions{
			Registerer: a.API.Registerer(), MaxRequestBytes: a.Config.Server.MaxRequestBytes, Log: log,
		}),
	}
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
