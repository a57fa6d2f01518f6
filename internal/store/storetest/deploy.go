package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/registry"
)

// aliasResolver resolves models:/NAME@ALIAS and models:/NAME/VERSION from a
// fixed table; anything else is ENOTFOUND.
type aliasResolver map[string]registry.Version

func (r aliasResolver) Resolve(_ context.Context, uri string) (registry.Version, error) {
	v, ok := r[uri]
	if !ok {
		return registry.Version{}, ferry.Errorf(ferry.ENOTFOUND, "no model %s", uri)
	}
	return v, nil
}

// RunDeploy runs the conformance suite of deploy.Store, directly and through
// deploy.Service; open returns an empty store.
func RunDeploy(t *testing.T, open func(t *testing.T) deploy.Store) {
	t.Run("crud and serial", func(t *testing.T) { testDeployCRUD(t, open(t)) })
	t.Run("service", func(t *testing.T) { testDeployService(t, open(t)) })
	t.Run("rollouts", func(t *testing.T) { testRollouts(t, open(t)) })
	t.Run("conditional writes", func(t *testing.T) { testDeployConditional(t, open(t)) })
	t.Run("plan serials and drift", func(t *testing.T) { testDeployPlanSerials(t, open(t)) })
	t.Run("concurrent applies", func(t *testing.T) { testDeployConcurrent(t, open) })
}

func testRollouts(t *testing.T, s deploy.Store) {
	ctx := context.Background()
	ev := func(action string) deploy.AuditEvent {
		return deploy.AuditEvent{Time: 1, Principal: "ana", Action: action, Endpoint: "churn", Deployment: "green"}
	}
	if _, err := s.GetRollout(ctx, 1); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Fatalf("get missing rollout: %v", err)
	}
	r := deploy.RolloutStatus{Endpoint: "churn", Deployment: "green", Baseline: "blue", Stable: map[string]int{"blue": 100}, Goal: map[string]int{"green": 100},
		Strategy: "canary", Steps: []int{10, 100}, StepDurationMS: 60000, Analysis: deploy.DefaultAnalysis(), State: deploy.RolloutProgressing, StartedBy: "ana", Created: 5, Updated: 5}
	id, err := s.CreateRollout(ctx, r, ev("rollout_start"))
	must(t, err)
	if _, err := s.CreateRollout(ctx, r, ev("rollout_start")); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("a second active rollout of one endpoint: %v", err)
	}
	got, err := s.GetRollout(ctx, id)
	must(t, err)
	if got.ID != id || got.Version != 1 || got.Stable["blue"] != 100 || len(got.Steps) != 2 || got.Analysis.MinRequests != 100 || got.State != deploy.RolloutProgressing {
		t.Errorf("round trip %+v", got)
	}
	got.Step, got.StepStartedAt = 1, 99
	got.Verdict = &deploy.Verdict{Passed: true, Detail: "ok"}
	v, err := s.UpdateRollout(ctx, got, deploy.AuditEvent{}) // not audited
	must(t, err)
	if v != 2 {
		t.Errorf("version after update %d, want 2", v)
	}
	if _, err := s.UpdateRollout(ctx, got, ev("rollout_step")); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("update from an old version: %v", err)
	}
	got.Version, got.State = v, deploy.RolloutRolledBack
	_, err = s.UpdateRollout(ctx, got, ev("rollout_rollback"))
	must(t, err)
	missing := got
	missing.ID = id + 100
	if _, err := s.UpdateRollout(ctx, missing, ev("rollout_step")); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("update a missing rollout: %v", err)
	}
	if active, err := s.ListRollouts(ctx, "churn", true); err != nil || len(active) != 0 {
		t.Errorf("active after rollback: %v, %v", active, err)
	}
	id2, err := s.CreateRollout(ctx, r, ev("rollout_start"))
	must(t, err)
	r.Endpoint = "other"
	_, err = s.CreateRollout(ctx, r, deploy.AuditEvent{Time: 1, Principal: "ana", Action: "rollout_start", Endpoint: "other"})
	must(t, err)
	all, err := s.ListRollouts(ctx, "churn", false)
	must(t, err)
	if len(all) != 2 || all[0].ID != id2 || all[1].ID != id || all[1].Verdict == nil || all[1].State != deploy.RolloutRolledBack || all[1].Step != 1 {
		t.Errorf("rollouts of churn, newest first: %+v", all)
	}
	if every, err := s.ListRollouts(ctx, "", true); err != nil || len(every) != 2 {
		t.Errorf("every active rollout: %d, %v", len(every), err)
	}
	audit, err := s.ListDeployAudit(ctx, "churn")
	must(t, err)
	if len(audit) != 3 || audit[1].Action != "rollout_rollback" {
		t.Errorf("audit %+v: want start, rollback, start", audit)
	}
}

func testDeployCRUD(t *testing.T, s deploy.Store) {
	ctx := context.Background()
	ev := deploy.AuditEvent{Time: 1, Principal: "ana", Action: "create_endpoint", Endpoint: "churn"}
	if _, err := s.GetEndpoint(ctx, "churn"); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Fatalf("get missing endpoint: %v", err)
	}
	if _, err := s.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "churn"}, deploy.AnySerial, ev); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Fatalf("deployment without endpoint: %v", err)
	}
	serial, err := s.PutEndpoint(ctx, deploy.Endpoint{Name: "churn", Description: "d", Tags: map[string]string{"team": "x"}}, deploy.AnySerial, ev)
	must(t, err)
	if serial != 1 {
		t.Errorf("serial after create %d, want 1", serial)
	}
	d := deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn@champion", ModelVersion: "models:/churn/3", InstanceCount: 2,
		RequestSettings: deploy.RequestSettings{RequestTimeoutMS: 5000}, EnvironmentVariables: map[string]string{"A": "b"},
		ReadinessProbe: &deploy.Probe{Period: 5}, Rollout: &deploy.Rollout{Strategy: "canary", Steps: []int{10, 100}}}
	serial, err = s.PutDeployment(ctx, d, deploy.AnySerial, ev)
	must(t, err)
	if serial != 2 {
		t.Errorf("serial after deployment %d, want 2", serial)
	}
	got, err := s.GetDeployment(ctx, "churn", "blue")
	must(t, err)
	if got.ModelVersion != d.ModelVersion || got.InstanceCount != 2 || got.ReadinessProbe == nil || got.ReadinessProbe.Period != 5 || got.Rollout == nil || len(got.Rollout.Steps) != 2 || got.EnvironmentVariables["A"] != "b" {
		t.Errorf("deployment round trip %+v", got)
	}
	serial, err = s.PutEndpoint(ctx, deploy.Endpoint{Name: "churn", Traffic: map[string]int{"blue": 100}}, deploy.AnySerial, ev)
	must(t, err)
	e, err := s.GetEndpoint(ctx, "churn")
	must(t, err)
	if serial != 3 || e.Serial != 3 || e.Traffic["blue"] != 100 || e.Description != "" {
		t.Errorf("after update serial %d, endpoint %+v", serial, e)
	}
	_, err = s.PutEndpoint(ctx, deploy.Endpoint{Name: "other"}, deploy.AnySerial, ev)
	must(t, err)
	es, err := s.ListEndpoints(ctx)
	must(t, err)
	if len(es) != 2 || es[0].Name != "churn" || es[1].Name != "other" {
		t.Errorf("endpoints %+v", es)
	}
	if ds, err := s.ListDeployments(ctx, "other"); err != nil || len(ds) != 0 {
		t.Errorf("deployments of other: %v, %v", ds, err)
	}
	if ds, err := s.ListDeployments(ctx, ""); err != nil || len(ds) != 1 {
		t.Errorf("all deployments: %v, %v", ds, err)
	}
	if err := s.DeleteEndpoint(ctx, "churn", deploy.AnySerial, ev); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("delete endpoint with deployments: %v", err)
	}
	_, err = s.DeleteDeployment(ctx, "churn", "blue", deploy.AnySerial, ev)
	must(t, err)
	if _, err := s.DeleteDeployment(ctx, "churn", "blue", deploy.AnySerial, ev); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("delete deployment twice: %v", err)
	}
	if e, _ := s.GetEndpoint(ctx, "churn"); e.Serial != 4 {
		t.Errorf("serial after deployment delete %d, want 4", e.Serial)
	}
	must(t, s.DeleteEndpoint(ctx, "churn", deploy.AnySerial, ev))
	if err := s.DeleteEndpoint(ctx, "churn", deploy.AnySerial, ev); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("delete endpoint twice: %v", err)
	}
	all, err := s.ListDeployAudit(ctx, "churn")
	must(t, err)
	if len(all) != 6 || all[0].Principal != "ana" {
		t.Errorf("audit %+v", all)
	}
}

func testDeployService(t *testing.T, s deploy.Store) {
	ctx := auth.WithPrincipal(context.Background(), "ana")
	svc := deploy.NewService(s, aliasResolver{
		"models:/churn@champion": {Name: "churn", Version: 3},
		"models:/churn/4":        {Name: "churn", Version: 4},
	}, nil)
	desired := deploy.State{
		Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"blue": 100}}},
		Deployments: []deploy.Deployment{
			{Name: "blue", EndpointName: "churn", Model: "models:/churn@champion"},
			{Name: "green", EndpointName: "churn", Model: "models:/churn/4"},
		},
	}
	p, err := svc.Apply(ctx, desired, false)
	must(t, err)
	if p.Add != 3 || p.Change != 0 {
		t.Errorf("first apply: %s", p)
	}
	d, err := svc.GetDeployment(ctx, "churn", "blue")
	must(t, err)
	if d.ModelVersion != "models:/churn/3" || d.Target != deploy.TargetEmbedded || d.RequestSettings.RequestTimeoutMS != 5000 {
		t.Errorf("blue %+v: want the alias pinned to version 3 and defaults", d)
	}
	again, err := svc.Plan(ctx, desired, false)
	must(t, err)
	if !again.Empty() {
		t.Errorf("plan after apply is not empty:\n%s", again)
	}

	desired.Endpoints[0].Traffic = map[string]int{"green": 100}
	desired.Deployments = desired.Deployments[1:]
	p, err = svc.Apply(ctx, desired, true)
	must(t, err)
	if got := p.String(); !strings.Contains(got, "~ update endpoint churn: traffic.blue 100 → (none), traffic.green (none) → 100") || !strings.Contains(got, "- delete deployment churn/blue") {
		t.Errorf("switch plan:\n%s", got)
	}
	e, err := svc.GetEndpoint(ctx, "churn")
	must(t, err)
	if e.Traffic["green"] != 100 || len(e.Traffic) != 1 {
		t.Errorf("traffic after switch %v", e.Traffic)
	}

	if err := svc.DeleteDeployment(ctx, "churn", "green"); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("delete a deployment with traffic: %v", err)
	}
	if _, err := svc.PutEndpoint(ctx, deploy.Endpoint{Name: "churn", Traffic: map[string]int{"nosuch": 100}}); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("traffic to a missing deployment: %v", err)
	}
	if _, err := svc.PutDeployment(ctx, deploy.Deployment{Name: "red", EndpointName: "churn", Model: "models:/churn@nosuch"}); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("unresolvable model: %v", err)
	}
	audit, err := svc.Audit(ctx, "churn")
	must(t, err)
	var actions []string
	for _, a := range audit {
		if a.Principal != "ana" {
			t.Errorf("audit principal %q", a.Principal)
		}
		actions = append(actions, a.Action)
	}
	want := "create_endpoint create_deployment create_deployment update_endpoint update_endpoint delete_deployment"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit actions %v, want %s", actions, want)
	}
}
