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

// fakeRuntime is a DeployRuntime that reports every deployment of churn
// ready and records restarts.
type fakeRuntime struct{ restarted []string }

func (f *fakeRuntime) Refresh(context.Context) error { return nil }

func (f *fakeRuntime) Status(endpoint string) []deploy.DeploymentStatus {
	if endpoint != "churn" {
		return nil
	}
	return []deploy.DeploymentStatus{{Deployment: "blue", Target: "embedded", ModelVersion: "models:/m/7", Ready: true, Traffic: 100}}
}

func (f *fakeRuntime) Logs(endpoint, deployment string, n int) ([]string, error) {
	return []string{"line 1", "line 2", "line 3"}[3-n:], nil
}

func (f *fakeRuntime) Restart(_ context.Context, endpoint, deployment string) error {
	f.restarted = append(f.restarted, endpoint+"/"+deployment)
	return nil
}

// TestV1DeployOperations: traffic, the audit trail, applying a saved plan,
// and the runtime's status, logs and restarts (503 without a runtime).
func TestV1DeployOperations(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := deploy.NewService(db, fixedModels{}, nil)
	rt := &fakeRuntime{}
	s := New(Options{Deploy: svc, DeployRuntime: rt})
	bare := New(Options{Deploy: svc})

	desired := `{"endpoints": [{"name": "churn", "traffic": {"blue": 100}}], "deployments": [{"name": "blue", "endpoint_name": "churn", "model": "models:/m/7"}, {"name": "green", "endpoint_name": "churn", "model": "models:/m/7"}]}`
	r := v1Call(t, s, "POST", "/api/v1/deployments/plan", `{"desired": `+desired+`}`)
	v1Want(t, r, http.StatusOK, "")
	plan := string(r.body)
	r = v1Call(t, s, "POST", "/api/v1/deployments/apply", `{"plan": `+plan+`}`)
	v1Want(t, r, http.StatusOK, "")
	if p := v1Decode[deploy.Plan](t, r); p.Add != 3 {
		t.Errorf("applied plan %+v", p)
	}
	v1Want(t, v1Call(t, s, "POST", "/api/v1/deployments/apply", `{"plan": `+plan+`}`), http.StatusBadRequest, ferry.ECONFLICT)
	v1Want(t, v1Call(t, s, "POST", "/api/v1/deployments/apply", `{"plan": `+plan+`, "prune": true}`), http.StatusBadRequest, ferry.EINVALID)

	v1Want(t, v1Call(t, s, "POST", "/api/v1/endpoints/churn/traffic", `{"traffic": {"blue": 80}}`), http.StatusBadRequest, ferry.EINVALID)
	r = v1Call(t, s, "POST", "/api/v1/endpoints/churn/traffic", `{"traffic": {"blue": 90, "green": 10}, "reason": "ferry endpoints traffic"}`)
	v1Want(t, r, http.StatusOK, "")
	if e := v1Decode[v1EndpointResponse](t, r).Endpoint; e.Traffic["green"] != 10 || e.Serial != 5 {
		t.Errorf("after traffic %+v", e)
	}
	r = v1Call(t, s, "GET", "/api/v1/endpoints/churn/events", "")
	v1Want(t, r, http.StatusOK, "")
	evs := v1Decode[v1EventList](t, r).Events
	if len(evs) != 5 || evs[0].Via != deploy.ViaApply || evs[4].Action != "set_traffic" || evs[4].Via != "ferry endpoints traffic" {
		t.Errorf("events %+v", evs)
	}
	v1Want(t, v1Call(t, s, "GET", "/api/v1/endpoints/nosuch/events", ""), http.StatusNotFound, ferry.ENOTFOUND)

	r = v1Call(t, s, "GET", "/api/v1/deployments/status", "")
	v1Want(t, r, http.StatusOK, "")
	if st := v1Decode[v1StatusList](t, r).Statuses; len(st) != 1 || st[0].Endpoint != "churn" || !st[0].Ready {
		t.Errorf("status %+v", st)
	}
	v1Want(t, v1Call(t, s, "GET", "/api/v1/deployments/status?endpoint_name=nosuch", ""), http.StatusNotFound, ferry.ENOTFOUND)
	r = v1Call(t, s, "GET", "/api/v1/endpoints/churn/deployments/blue/logs?lines=2", "")
	v1Want(t, r, http.StatusOK, "")
	if lines := v1Decode[v1LogsResponse](t, r).Lines; len(lines) != 2 || lines[1] != "line 3" {
		t.Errorf("logs %v", lines)
	}
	v1Want(t, v1Call(t, s, "GET", "/api/v1/endpoints/churn/deployments/red/logs", ""), http.StatusNotFound, ferry.ENOTFOUND)
	v1Want(t, v1Call(t, s, "POST", "/api/v1/endpoints/churn/deployments/green/restart", ""), http.StatusOK, "")
	if len(rt.restarted) != 1 || rt.restarted[0] != "churn/green" {
		t.Errorf("restarted %v", rt.restarted)
	}
	for _, c := range [][2]string{{"GET", "/api/v1/deployments/status"}, {"GET", "/api/v1/endpoints/churn/deployments/blue/logs"}, {"POST", "/api/v1/endpoints/churn/deployments/blue/restart"}} {
		v1Want(t, v1Call(t, bare, c[0], c[1], ""), http.StatusServiceUnavailable, ferry.EUNAVAILABLE)
	}
}
