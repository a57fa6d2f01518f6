package deploy

import (
	"context"
	"fmt"
	"maps"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

// ApprovalPolicy says which endpoints' rollouts wait for an approval before
// their last step; registry.Service satisfies it (the policy file's
// endpoints section).
type ApprovalPolicy interface {
	EndpointApproval(endpoint string) bool
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithChangeHook has the Service call fn after every change it makes to an
// endpoint or its deployments (the router of the same server refreshes at
// once instead of at its next tick). fn must not block.
func WithChangeHook(fn func(endpoint string)) ServiceOption {
	return func(s *Service) { s.onChange = fn }
}

// WithApprovals makes the Service's rollouts consult p: a rollout of an
// endpoint p names stops before its last step (awaiting_approval) until a
// principal other than the one who started it promotes it.
func WithApprovals(p ApprovalPolicy) ServiceOption {
	return func(s *Service) { s.approvals = p }
}

func (s *Service) needsApproval(endpoint string) bool {
	return s.approvals != nil && s.approvals.EndpointApproval(endpoint)
}

// StartRollout starts moving endpoint's traffic from what it is now to goal
// (nil: all of it to deployment) by deployment's rollout spec (canary
// steps [10, 50, 100] every 5m with the default analysis when it has
// none). The endpoint's traffic must sum to 100 and goal must give
// deployment more of it; an endpoint with an active rollout is ECONFLICT.
// The Controller carries the rollout out; this only records it.
func (s *Service) StartRollout(ctx context.Context, endpoint, deployment string, goal map[string]int) (RolloutStatus, error) {
	s.rolloutMu.Lock()
	defer s.rolloutMu.Unlock()
	e, err := s.store.GetEndpoint(ctx, endpoint)
	if err != nil {
		return RolloutStatus{}, err
	}
	d, err := s.store.GetDeployment(ctx, endpoint, deployment)
	if err != nil {
		return RolloutStatus{}, err
	}
	plan, err := parseRollout(d.Rollout)
	if err != nil {
		return RolloutStatus{}, fmt.Errorf("deployment %s/%s: %w", endpoint, deployment, err)
	}
	if goal == nil {
		goal = map[string]int{deployment: 100}
	}
	names, err := s.deploymentNames(ctx, endpoint)
	if err != nil {
		return RolloutStatus{}, err
	}
	if err := (Endpoint{Name: endpoint, Traffic: goal}).Validate(names); err != nil {
		return RolloutStatus{}, err
	}
	if trafficSum(e.Traffic) != 100 || trafficSum(goal) != 100 {
		return RolloutStatus{}, ferry.Errorf(ferry.EINVALID, "endpoint %s: a rollout moves traffic that sums to 100 to traffic that sums to 100; set the traffic directly instead", endpoint)
	}
	if goal[deployment] <= e.Traffic[deployment] {
		return RolloutStatus{}, ferry.Errorf(ferry.EINVALID, "endpoint %s: the goal %s gives %s no more traffic than now (%d%%)", endpoint, trafficString(goal), deployment, e.Traffic[deployment])
	}
	now := s.now().UnixMilli()
	r := RolloutStatus{
		Endpoint: endpoint, Deployment: deployment, Baseline: baselineOf(e.Traffic, deployment),
		Stable: maps.Clone(e.Traffic), Goal: maps.Clone(goal),
		Strategy: plan.strategy, Steps: plan.steps, StepDurationMS: plan.duration.Milliseconds(), Analysis: plan.analysis,
		State: RolloutProgressing, StartedBy: auth.PrincipalFrom(ctx), Created: now, Updated: now,
	}
	detail := fmt.Sprintf("%s %s every %s, from %s to %s", r.Strategy, stepsString(r.Steps), plan.duration, trafficString(r.Stable), trafficString(r.Goal))
	id, err := s.store.CreateRollout(ctx, r, s.event(ctx, "rollout_start", endpoint, deployment, detail))
	if err != nil {
		return RolloutStatus{}, err
	}
	r.ID, r.Version = id, 1
	return r, nil
}

// GetRollout returns endpoint's current rollout, or its latest when none is
// active; ENOTFOUND when it never had one.
func (s *Service) GetRollout(ctx context.Context, endpoint string) (RolloutStatus, error) {
	rs, err := s.store.ListRollouts(ctx, endpoint, false)
	if err != nil {
		return RolloutStatus{}, err
	}
	if len(rs) == 0 {
		return RolloutStatus{}, ferry.Errorf(ferry.ENOTFOUND, "endpoint %s has no rollout", endpoint)
	}
	return rs[0], nil
}

// ListRollouts returns the rollouts of endpoint ("" for all), newest first.
func (s *Service) ListRollouts(ctx context.Context, endpoint string) ([]RolloutStatus, error) {
	return s.store.ListRollouts(ctx, endpoint, false)
}

// PauseRollout stops endpoint's active rollout where it is: its traffic
// stays, no analysis runs until ResumeRollout. Pausing a paused rollout
// changes nothing.
func (s *Service) PauseRollout(ctx context.Context, endpoint string) (RolloutStatus, error) {
	return s.changeRollout(ctx, endpoint, func(r *RolloutStatus) (string, string, error) {
		if r.State == RolloutPaused {
			return "", "", nil
		}
		r.State = RolloutPaused
		r.Message = "paused by " + auth.PrincipalFrom(ctx)
		return "rollout_pause", fmt.Sprintf("step %d/%d", r.Step+1, len(r.Steps)), nil
	})
}

// ResumeRollout continues a paused rollout; a step whose traffic was set
// restarts its analysis window now. Resuming one that is not paused is
// ECONFLICT.
func (s *Service) ResumeRollout(ctx context.Context, endpoint string) (RolloutStatus, error) {
	return s.changeRollout(ctx, endpoint, func(r *RolloutStatus) (string, string, error) {
		if r.State != RolloutPaused {
			return "", "", ferry.Errorf(ferry.ECONFLICT, "the rollout of %s to %s is %s, not paused", r.Endpoint, r.Deployment, r.State)
		}
		r.State = RolloutProgressing
		r.Message = ""
		if r.StepStartedAt != 0 {
			r.StepStartedAt = s.now().UnixMilli()
		}
		return "rollout_resume", fmt.Sprintf("step %d/%d", r.Step+1, len(r.Steps)), nil
	})
}

// PromoteRollout skips the rest of endpoint's active rollout: the traffic
// moves to the goal now, without analysis, and the rollout succeeds. It
// also approves a rollout awaiting_approval. When the policy requires an
// approval for the endpoint, the principal who started the rollout may not
// promote it (EFORBIDDEN): another one must (four-eyes).
func (s *Service) PromoteRollout(ctx context.Context, endpoint string) (RolloutStatus, error) {
	return s.changeRollout(ctx, endpoint, func(r *RolloutStatus) (string, string, error) {
		who := auth.PrincipalFrom(ctx)
		if s.needsApproval(r.Endpoint) {
			if who == r.StartedBy {
				return "", "", ferry.Errorf(ferry.EFORBIDDEN, "the policy requires an approval for endpoint %s: the rollout of %s, started by %s, must be promoted by another principal", r.Endpoint, r.Deployment, r.StartedBy)
			}
			r.ApprovedBy = who
		}
		if _, err := s.SetTraffic(ctx, r.Endpoint, r.Goal, fmt.Sprintf("rollout %d promoted", r.ID)); err != nil {
			return "", "", err
		}
		detail := fmt.Sprintf("promoted by %s at step %d/%d (%s): %s", who, r.Step+1, len(r.Steps), r.State, trafficString(r.Goal))
		r.Step = len(r.Steps) - 1
		r.StepStartedAt = s.now().UnixMilli()
		r.State = RolloutSucceeded
		r.Message = "promoted by " + who
		return "rollout_promote", detail, nil
	})
}

// RollbackRollout ends endpoint's active rollout: the traffic goes back to
// what it was when the rollout started; the deployment is kept.
func (s *Service) RollbackRollout(ctx context.Context, endpoint string) (RolloutStatus, error) {
	return s.changeRollout(ctx, endpoint, func(r *RolloutStatus) (string, string, error) {
		msg := "rolled back by " + auth.PrincipalFrom(ctx)
		if err := s.restoreStable(ctx, r, msg); err != nil {
			return "", "", err
		}
		return "rollout_rollback", msg + ": " + trafficString(r.Stable), nil
	})
}

// changeRollout applies fn to endpoint's active rollout and stores the
// result with an audit event of the action fn returns ("" stores nothing).
// There is no active rollout: ECONFLICT, or ENOTFOUND when there never was.
func (s *Service) changeRollout(ctx context.Context, endpoint string, fn func(r *RolloutStatus) (action, detail string, err error)) (RolloutStatus, error) {
	s.rolloutMu.Lock()
	defer s.rolloutMu.Unlock()
	active, err := s.store.ListRollouts(ctx, endpoint, true)
	if err != nil {
		return RolloutStatus{}, err
	}
	if len(active) == 0 {
		last, err := s.GetRollout(ctx, endpoint)
		if err != nil {
			return RolloutStatus{}, err
		}
		return RolloutStatus{}, ferry.Errorf(ferry.ECONFLICT, "endpoint %s has no rollout in progress; the last one (%d, of %s) %s", endpoint, last.ID, last.Deployment, last.State)
	}
	r := active[0]
	action, detail, err := fn(&r)
	if err != nil || action == "" {
		return r, err
	}
	return r, s.saveRollout(ctx, &r, action, detail)
}

// saveRollout stores r, audited as action with detail when action is set.
func (s *Service) saveRollout(ctx context.Context, r *RolloutStatus, action, detail string) error {
	r.Updated = s.now().UnixMilli()
	var ev AuditEvent
	if action != "" {
		ev = s.event(ctx, action, r.Endpoint, r.Deployment, detail)
	}
	v, err := s.store.UpdateRollout(ctx, *r, ev)
	if err != nil {
		return err
	}
	r.Version = v
	return nil
}

// restoreStable sets the endpoint's traffic back to r.Stable and marks r
// rolled back with msg (not yet stored).
func (s *Service) restoreStable(ctx context.Context, r *RolloutStatus, msg string) error {
	if _, err := s.SetTraffic(ctx, r.Endpoint, r.Stable, fmt.Sprintf("rollout %d rolled back", r.ID)); err != nil {
		return err
	}
	r.State = RolloutRolledBack
	r.Message = msg
	return nil
}

// applyEndpoint puts e for Apply, except that traffic moving to a
// deployment whose spec has a rollout is left to a rollout: the endpoint's
// other fields are put, its traffic stays, and a rollout to e's traffic
// starts — unless one to that traffic is already in progress; one to
// other traffic is ECONFLICT.
func (s *Service) applyEndpoint(ctx context.Context, e Endpoint) error {
	cur, err := s.store.GetEndpoint(ctx, e.Name)
	if ferry.ErrorCode(err) == ferry.ENOTFOUND {
		_, err = s.PutEndpoint(ctx, e)
		return err
	}
	if err != nil {
		return err
	}
	deps, err := s.store.ListDeployments(ctx, e.Name)
	if err != nil {
		return err
	}
	dep := rolloutDeployment(cur.Traffic, e.Traffic, byName(deps))
	if dep == "" {
		_, err = s.PutEndpoint(ctx, e)
		return err
	}
	goal := e.Traffic
	e.Traffic = cur.Traffic
	if len(diff(cur.Normalize(), e.Normalize())) > 0 {
		if _, err := s.PutEndpoint(ctx, e); err != nil {
			return err
		}
	}
	active, err := s.store.ListRollouts(ctx, e.Name, true)
	if err != nil {
		return err
	}
	if len(active) > 0 {
		if a := active[0]; !sameTraffic(a.Goal, goal) {
			return ferry.Errorf(ferry.ECONFLICT, "endpoint %s: the rollout of %s to %s is in progress; let it finish or roll it back (ferry endpoints rollout rollback %s) first", e.Name, a.Deployment, trafficString(a.Goal), e.Name)
		}
		return nil
	}
	_, err = s.StartRollout(ctx, e.Name, dep, goal)
	return err
}

// rolloutNote is the plan's note on an endpoint update whose traffic moves
// by rollout ("canary 10→50→100 of green"), or "". deps are the endpoint's
// deployments after the plan.
func rolloutNote(old, new Endpoint, deps map[string]Deployment) string {
	dep := rolloutDeployment(old.Traffic, new.Traffic, deps)
	if dep == "" {
		return ""
	}
	p, err := parseRollout(deps[dep].Rollout)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %s of %s", p.strategy, stepsString(p.steps), dep)
}

// endpointDeployments are endpoint's deployments, the desired ones over the
// current ones, by name.
func endpointDeployments(endpoint string, want, cur map[string]Deployment) map[string]Deployment {
	out := map[string]Deployment{}
	for _, m := range []map[string]Deployment{cur, want} {
		for _, d := range m {
			if d.EndpointName == endpoint {
				out[d.Name] = d
			}
		}
	}
	return out
}

func byName(deps []Deployment) map[string]Deployment {
	out := make(map[string]Deployment, len(deps))
	for _, d := range deps {
		out[d.Name] = d
	}
	return out
}
