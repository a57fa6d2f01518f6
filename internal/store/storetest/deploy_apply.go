package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
)

// testDeployConditional: a write carrying a serial that moved changes
// nothing and is ECONFLICT, naming both serials.
func testDeployConditional(t *testing.T, s deploy.Store) {
	ctx := context.Background()
	ev := deploy.AuditEvent{Time: 1, Principal: "ana", Action: "create_endpoint", Endpoint: "churn", Via: deploy.ViaApply}
	serial, err := s.PutEndpoint(ctx, deploy.Endpoint{Name: "churn"}, 0, ev)
	must(t, err)
	conflict := func(name string, err error, want string) {
		t.Helper()
		if ferry.ErrorCode(err) != ferry.ECONFLICT || !strings.Contains(ferry.ErrorMessage(err), want) {
			t.Errorf("%s: %v, want ECONFLICT with %q", name, err, want)
		}
	}
	_, err = s.PutEndpoint(ctx, deploy.Endpoint{Name: "churn", Description: "x"}, 0, ev)
	conflict("create over an existing endpoint", err, "(serial 0, now 1)")
	serial, err = s.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn/1"}, serial, ev)
	must(t, err)
	if serial != 2 {
		t.Fatalf("serial %d, want 2", serial)
	}
	_, err = s.PutEndpoint(ctx, deploy.Endpoint{Name: "churn", Description: "stale"}, 1, ev)
	conflict("stale endpoint update", err, "the state of endpoint churn changed since the plan (serial 1, now 2)")
	_, err = s.PutDeployment(ctx, deploy.Deployment{Name: "green", EndpointName: "churn", Model: "models:/churn/1"}, 1, ev)
	conflict("stale deployment create", err, "(serial 1, now 2)")
	_, err = s.DeleteDeployment(ctx, "churn", "blue", 1, ev)
	conflict("stale deployment delete", err, "(serial 1, now 2)")
	err = s.DeleteEndpoint(ctx, "other", 3, ev)
	conflict("delete of a vanished endpoint", err, "(serial 3, now 0)")
	if e, _ := s.GetEndpoint(ctx, "churn"); e.Serial != 2 || e.Description != "" {
		t.Errorf("after refused writes: %+v", e)
	}
	if ds, _ := s.ListDeployments(ctx, "churn"); len(ds) != 1 {
		t.Errorf("after refused writes: deployments %+v", ds)
	}
	serial, err = s.DeleteDeployment(ctx, "churn", "blue", 2, ev)
	must(t, err)
	must(t, s.DeleteEndpoint(ctx, "churn", serial, ev))
	audit, err := s.ListDeployAudit(ctx, "churn")
	must(t, err)
	if len(audit) != 4 || audit[0].Via != deploy.ViaApply {
		t.Errorf("audit of the successful writes only, with their via: %+v", audit)
	}
}

// testDeployPlanSerials: a plan records the serials it read; applying it
// once one moved is refused; a change made outside apply is drift.
func testDeployPlanSerials(t *testing.T, s deploy.Store) {
	ctx := auth.WithPrincipal(context.Background(), "ana")
	svc := deploy.NewService(s, aliasResolver{"models:/churn/1": {Name: "churn", Version: 1}}, nil)
	desired := deploy.State{
		Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"blue": 100}}},
		Deployments: []deploy.Deployment{
			{Name: "blue", EndpointName: "churn", Model: "models:/churn/1"},
			{Name: "green", EndpointName: "churn", Model: "models:/churn/1"},
		},
	}
	p, err := svc.Plan(ctx, desired, false)
	must(t, err)
	if len(p.Serials) != 1 || p.Serials["churn"] != 0 {
		t.Errorf("serials of a plan that creates churn: %v", p.Serials)
	}
	_, err = svc.ApplyPlan(ctx, p)
	must(t, err)
	again, err := svc.Plan(ctx, desired, false)
	must(t, err)
	if !again.Empty() || again.Serials["churn"] != 4 {
		t.Errorf("after applying the plan: %v serials %v", again, again.Serials)
	}

	bob := auth.WithPrincipal(ctx, "bob")
	_, err = svc.SetTraffic(bob, "churn", map[string]int{"blue": 90, "green": 10}, "ferry endpoints traffic")
	must(t, err)
	p, err = svc.Plan(ctx, desired, false)
	must(t, err)
	if len(p.Changes) != 1 || p.Changes[0].Drift == nil || p.Changes[0].Drift.Principal != "bob" || p.Changes[0].Drift.Via != "ferry endpoints traffic" {
		t.Fatalf("drift after ferry endpoints traffic: %+v", p.Changes)
	}
	if got := p.String(); !strings.Contains(got, "~ update endpoint churn: traffic.blue 90 → 100, traffic.green 10 → (none)  (drift: set by bob ") || !strings.Contains(got, " ago via ferry endpoints traffic)") {
		t.Errorf("plan with drift:\n%s", got)
	}

	// The traffic moves again after the plan: the plan is refused.
	_, err = svc.SetTraffic(bob, "churn", map[string]int{"blue": 80, "green": 20}, "")
	must(t, err)
	_, err = svc.ApplyPlan(ctx, p)
	if ferry.ErrorCode(err) != ferry.ECONFLICT || ferry.ErrorMessage(err) != "the state of endpoint churn changed since the plan (serial 5, now 6); run ferry plan again" {
		t.Fatalf("stale plan: %v", err)
	}
	if e, _ := svc.GetEndpoint(ctx, "churn"); e.Traffic["green"] != 20 {
		t.Errorf("a refused plan changed the traffic: %v", e.Traffic)
	}
	if _, err := svc.ApplyPlan(ctx, deploy.Plan{Changes: p.Changes}); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("plan without serials: %v", err)
	}
	if _, err := svc.ApplyPlan(ctx, deploy.Plan{Changes: p.Changes, Serials: map[string]int64{"other": 0}}); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("plan without its endpoint's serial: %v", err)
	}

	// A fresh plan applies; then nothing drifts and nothing is left.
	p, err = svc.Plan(ctx, desired, false)
	must(t, err)
	if p.Changes[0].Drift == nil || p.Changes[0].Drift.Via != "" || !strings.Contains(p.String(), "(drift: set by bob ") {
		t.Errorf("drift of a direct change: %s", p)
	}
	_, err = svc.ApplyPlan(ctx, p)
	must(t, err)
	if p, _ := svc.Plan(ctx, desired, false); !p.Empty() {
		t.Errorf("after apply: %s", p)
	}
	audit, err := svc.Audit(ctx, "churn")
	must(t, err)
	if last := audit[len(audit)-1]; last.Via != deploy.ViaApply || last.Principal != "ana" {
		t.Errorf("apply's audit event %+v", last)
	}
}

// testDeployConcurrent: two applies to one endpoint never interleave. In
// one process the second waits for the first and then finds its own
// changes made or plans against what the first left; across processes
// (two Services over one store, as two replicas) the one whose write
// comes second gets ECONFLICT. Either way the endpoint ends in one apply's
// state, never a mix.
func testDeployConcurrent(t *testing.T, open func(t *testing.T) deploy.Store) {
	ctx := auth.WithPrincipal(context.Background(), "ana")
	models := aliasResolver{"models:/churn/1": {Name: "churn", Version: 1}, "models:/churn/2": {Name: "churn", Version: 2}}
	state := func(model string, blue int) deploy.State {
		return deploy.State{
			Endpoints: []deploy.Endpoint{{Name: "churn", Description: model, Traffic: map[string]int{"blue": blue, "green": 100 - blue}}},
			Deployments: []deploy.Deployment{
				{Name: "blue", EndpointName: "churn", Model: model},
				{Name: "green", EndpointName: "churn", Model: model},
			},
		}
	}
	a, b := state("models:/churn/1", 100), state("models:/churn/2", 0)
	// isOneOf reports whether the stored state is exactly a's or b's.
	isOneOf := func(t *testing.T, svc *deploy.Service) {
		t.Helper()
		pa, err := svc.Plan(ctx, a, false)
		must(t, err)
		pb, err := svc.Plan(ctx, b, false)
		must(t, err)
		if !pa.Empty() && !pb.Empty() {
			t.Errorf("a mixed state: to a:\n%sto b:\n%s", pa, pb)
		}
	}

	t.Run("one server", func(t *testing.T) {
		svc := deploy.NewService(open(t), models, nil)
		for _, second := range []deploy.State{a, b} {
			var wg sync.WaitGroup
			plans := make([]deploy.Plan, 2)
			errs := make([]error, 2)
			start := make(chan struct{})
			for i, desired := range []deploy.State{a, second} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					plans[i], errs[i] = svc.Apply(ctx, desired, false)
				}()
			}
			close(start)
			wg.Wait()
			must(t, errs[0])
			must(t, errs[1])
			if second.Deployments[0].Model == a.Deployments[0].Model && !plans[0].Empty() && !plans[1].Empty() {
				t.Errorf("the same apply twice at once changed things twice:\n%s%s", plans[0], plans[1])
			}
			isOneOf(t, svc)
		}
	})

	t.Run("two servers", func(t *testing.T) {
		store := open(t)
		other := deploy.NewService(store, models, nil)
		_, err := other.Apply(ctx, a, false)
		must(t, err)
		// The first server's apply is overtaken by the second's between
		// its plan and its first write.
		h := &hookStore{Store: store}
		svc := deploy.NewService(h, models, nil)
		h.before = func() {
			if _, err := other.Apply(ctx, b, false); err != nil {
				t.Errorf("the overtaking apply: %v", err)
			}
		}
		changed := a
		changed.Endpoints = []deploy.Endpoint{{Name: "churn", Description: "models:/churn/1", Traffic: map[string]int{"blue": 50, "green": 50}}}
		_, err = svc.Apply(ctx, changed, false)
		if ferry.ErrorCode(err) != ferry.ECONFLICT || !strings.Contains(ferry.ErrorMessage(err), "changed since the plan") {
			t.Fatalf("overtaken apply: %v, want ECONFLICT", err)
		}
		isOneOf(t, other)
		if p, _ := other.Plan(ctx, b, false); !p.Empty() {
			t.Errorf("the overtaking apply's state was changed:\n%s", p)
		}
	})
}

// hookStore runs before once, before the first endpoint write.
type hookStore struct {
	deploy.Store
	once   sync.Once
	before func()
}

func (h *hookStore) PutEndpoint(ctx context.Context, e deploy.Endpoint, ifSerial int64, ev deploy.AuditEvent) (int64, error) {
	h.once.Do(h.before)
	return h.Store.PutEndpoint(ctx, e, ifSerial, ev)
}
