package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

func TestV1Rollout(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ferry.db"), sqlite.SynchronousNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := deploy.NewService(db, fixedModels{}, nil)
	s := New(Options{Deploy: svc})
	ctx := auth.WithPrincipal(context.Background(), "ana")
	for _, f := range []func() error{
		func() error { _, err := svc.PutEndpoint(ctx, deploy.Endpoint{Name: "churn"}); return err },
		func() error {
			_, err := svc.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/m/1"})
			return err
		},
		func() error {
			_, err := svc.PutDeployment(ctx, deploy.Deployment{Name: "green", EndpointName: "churn", Model: "models:/m/2", Rollout: &deploy.Rollout{Strategy: "blue_green"}})
			return err
		},
		func() error { _, err := svc.SetTraffic(ctx, "churn", map[string]int{"blue": 100}, ""); return err },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	v1Want(t, v1Call(t, s, "GET", "/api/v1/endpoints/churn/rollout", ""), http.StatusNotFound, ferry.ENOTFOUND)
	if _, err := svc.StartRollout(ctx, "churn", "green", nil); err != nil {
		t.Fatal(err)
	}
	state := func(r v1Resp) string {
		t.Helper()
		var out struct {
			Rollout deploy.RolloutStatus `json:"rollout"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Rollout.State
	}
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "", deploy.RolloutProgressing},
		{"POST", "/pause", deploy.RolloutPaused},
		{"POST", "/resume", deploy.RolloutProgressing},
		{"POST", "/rollback", deploy.RolloutRolledBack},
	} {
		r := v1Call(t, s, tt.method, "/api/v1/endpoints/churn/rollout"+tt.path, "")
		v1Want(t, r, http.StatusOK, "")
		if got := state(r); got != tt.want {
			t.Errorf("%s %s: state %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
	v1Want(t, v1Call(t, s, "POST", "/api/v1/endpoints/churn/rollout/promote", ""), http.StatusBadRequest, ferry.ECONFLICT)
}
