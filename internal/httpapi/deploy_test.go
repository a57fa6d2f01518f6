package httpapi

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

// fixedModels resolves every models:/ URI to version 7 of model m.
type fixedModels struct{}

func (fixedModels) Resolve(_ context.Context, uri string) (registry.Version, error) {
	if uri == "models:/missing/1" {
		return registry.Version{}, ferry.Errorf(ferry.ENOTFOUND, "no %s", uri)
	}
	return registry.Version{Name: "m", Version: 7}, nil
}

func TestV1Deploy(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(Options{Deploy: deploy.NewService(db, fixedModels{}, nil)})

	v1Want(t, v1Call(t, s, "GET", "/api/v1/endpoints/churn", ""), http.StatusNotFound, ferry.ENOTFOUND)
	v1Want(t, v1Call(t, s, "PUT", "/api/v1/endpoints/churn", `{"name": "other"}`), http.StatusBadRequest, ferry.EINVALID)
	v1Want(t, v1Call(t, s, "PUT", "/api/v1/endpoints/churn", `{"name": "churn", "traffic": {"blue": 100}}`), http.StatusBadRequest, ferry.EINVALID)
	r := v1Call(t, s, "PUT", "/api/v1/endpoints/churn", `{"name": "churn"}`)
	v1Want(t, r, http.StatusOK, "")
	if e := v1Decode[v1EndpointResponse](t, r).Endpoint; e.Serial != 1 || e.AuthMode != "key" {
		t.Errorf("created %+v", e)
	}
	v1Want(t, v1Call(t, s, "PUT", "/api/v1/endpoints/churn/deployments/blue", `{"name": "blue", "endpoint_name": "churn", "model": "models:/missing/1"}`), http.StatusNotFound, ferry.ENOTFOUND)
	r = v1Call(t, s, "PUT", "/api/v1/endpoints/churn/deployments/blue", `{"name": "blue", "endpoint_name": "churn", "model": "models:/m@champion"}`)
	v1Want(t, r, http.StatusOK, "")
	if d := v1Decode[v1DeploymentResponse](t, r).Deployment; d.ModelVersion != "models:/m/7" {
		t.Errorf("deployment %+v: want the alias pinned", d)
	}
	v1Want(t, v1Call(t, s, "PUT", "/api/v1/endpoints/churn", `{"name": "churn", "traffic": {"blue": 100}}`), http.StatusOK, "")
	v1Want(t, v1Call(t, s, "DELETE", "/api/v1/endpoints/churn/deployments/blue", ""), http.StatusBadRequest, ferry.ECONFLICT)
	r = v1Call(t, s, "GET", "/api/v1/deployments?endpoint_name=churn", "")
	v1Want(t, r, http.StatusOK, "")
	if ds := v1Decode[v1DeploymentList](t, r).Deployments; len(ds) != 1 || ds[0].Name != "blue" {
		t.Errorf("deployments %+v", ds)
	}
	r = v1Call(t, s, "POST", "/api/v1/deployments/plan", `{"desired": {"endpoints": [{"name": "churn", "traffic": {"blue": 100}}], "deployments": [{"name": "blue", "endpoint_name": "churn", "model": "models:/m@champion", "instance_count": 3}]}}`)
	v1Want(t, r, http.StatusOK, "")
	if p := v1Decode[deploy.Plan](t, r); p.Change != 1 || p.Changes[0].Diffs[0].Field != "instance_count" {
		t.Errorf("plan %+v", p)
	}
	v1Want(t, v1Call(t, s, "POST", "/api/v1/deployments/plan", `{"desired": {"endpoints": [{"name": "x"}]}}`), http.StatusBadRequest, ferry.EINVALID)
}
