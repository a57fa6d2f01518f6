package deploy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

// Service is the only way in to endpoints and deployments. Every change is
// audited with the principal of its context (auth.PrincipalFrom).
//
// Apply and ApplyPlan hold a per-endpoint lock, so that applies to one
// endpoint in one process run one after the other, and make every write
// conditional on the endpoint's serial, so that a write by anyone else in
// between (another replica, SetTraffic) makes the apply fail with ECONFLICT
// rather than leave a mixed state.
type Service struct {
	store     Store
	models    ModelResolver
	now       func() time.Time
	approvals ApprovalPolicy // nil: no rollout needs an approval
	locks     endpointLocks
	onChange  func(endpoint string) // nil: no one listens

	// rolloutMu serialises the changes of rollouts made in this process
	// (the Controller's and the API's), each a traffic change and a
	// rollout update; between servers, a rollout's version does.
	rolloutMu sync.Mutex
}

// NewService returns a Service over store, resolving deployment models
// through models. now is its clock; nil: time.Now.
func NewService(store Store, models ModelResolver, now func() time.Time, opts ...ServiceOption) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, models: models, now: now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// GetEndpoint returns one endpoint; ENOTFOUND when it does not exist.
func (s *Service) GetEndpoint(ctx context.Context, name string) (Endpoint, error) {
	return s.store.GetEndpoint(ctx, name)
}

// ListEndpoints returns every endpoint by name.
func (s *Service) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	return s.store.ListEndpoints(ctx)
}

// GetDeployment returns one deployment; ENOTFOUND when it does not exist.
func (s *Service) GetDeployment(ctx context.Context, endpoint, name string) (Deployment, error) {
	return s.store.GetDeployment(ctx, endpoint, name)
}

// ListDeployments returns the deployments of endpoint ("" for all).
func (s *Service) ListDeployments(ctx context.Context, endpoint string) ([]Deployment, error) {
	return s.store.ListDeployments(ctx, endpoint)
}

// Audit returns the audit events of endpoint ("" for all), oldest first.
func (s *Service) Audit(ctx context.Context, endpoint string) ([]AuditEvent, error) {
	return s.store.ListDeployAudit(ctx, endpoint)
}

// State returns everything stored, as ComputePlan's current state.
func (s *Service) State(ctx context.Context) (State, error) {
	es, err := s.store.ListEndpoints(ctx)
	if err != nil {
		return State{}, err
	}
	ds, err := s.store.ListDeployments(ctx, "")
	if err != nil {
		return State{}, err
	}
	return State{Endpoints: es, Deployments: ds}, nil
}

func (s *Service) event(ctx context.Context, action, endpoint, deployment, detail string) AuditEvent {
	return AuditEvent{Time: s.now().UnixMilli(), Principal: auth.PrincipalFrom(ctx), Action: action, Endpoint: endpoint, Deployment: deployment, Detail: detail, Via: applyingVia(ctx)}
}

// PutEndpoint creates e or replaces the stored endpoint of that name, after
// validating it against the endpoint's stored deployments, and returns it
// as stored.
func (s *Service) PutEndpoint(ctx context.Context, e Endpoint) (Endpoint, error) {
	e = e.Normalize()
	names, err := s.deploymentNames(ctx, e.Name)
	if err != nil {
		return Endpoint{}, err
	}
	if err := e.Validate(names); err != nil {
		return Endpoint{}, err
	}
	action := "update_endpoint"
	if _, err := s.store.GetEndpoint(ctx, e.Name); ferry.ErrorCode(err) == ferry.ENOTFOUND {
		action = "create_endpoint"
	} else if err != nil {
		return Endpoint{}, err
	}
	serial, err := s.store.PutEndpoint(ctx, e, expectSerial(ctx, e.Name, AnySerial), s.event(ctx, action, e.Name, "", trafficString(e.Traffic)))
	if err != nil {
		return Endpoint{}, err
	}
	noteSerial(ctx, e.Name, serial)
	s.changed(e.Name)
	e.Serial = serial
	return e, nil
}

// SetTraffic sets an endpoint's traffic split (validated as PutEndpoint
// does), keeping the rest of the endpoint, and audits it as set_traffic
// with reason (who or what moved it: "ferry endpoints traffic", "rollout
// green: step 2 of 3"), which the audit event records as its Via. It
// returns the endpoint as stored; ECONFLICT when the endpoint changed
// between reading and writing it.
func (s *Service) SetTraffic(ctx context.Context, endpoint string, traffic map[string]int, reason string) (Endpoint, error) {
	e, err := s.store.GetEndpoint(ctx, endpoint)
	if err != nil {
		return Endpoint{}, err
	}
	e.Traffic = traffic
	names, err := s.deploymentNames(ctx, endpoint)
	if err != nil {
		return Endpoint{}, err
	}
	if err := e.Validate(names); err != nil {
		return Endpoint{}, err
	}
	detail := trafficString(traffic)
	if reason != "" {
		detail += " (" + reason + ")"
	}
	ev := s.event(ctx, "set_traffic", e.Name, "", detail)
	ev.Via = reason
	serial, err := s.store.PutEndpoint(ctx, e, e.Serial, ev)
	if err != nil {
		return Endpoint{}, err
	}
	s.changed(e.Name)
	e.Serial = serial
	return e, nil
}

// DeleteEndpoint deletes an endpoint without deployments.
func (s *Service) DeleteEndpoint(ctx context.Context, name string) error {
	if err := s.store.DeleteEndpoint(ctx, name, expectSerial(ctx, name, AnySerial), s.event(ctx, "delete_endpoint", name, "", "")); err != nil {
		return err
	}
	noteSerial(ctx, name, 0)
	s.changed(name)
	return nil
}

// PutDeployment creates d or replaces the stored deployment of that name.
// Its model is resolved now and pinned in ModelVersion (an alias that moves
// later does not move the deployment). The endpoint must exist.
func (s *Service) PutDeployment(ctx context.Context, d Deployment) (Deployment, error) {
	d = d.Normalize()
	if err := d.Validate(); err != nil {
		return Deployment{}, err
	}
	v, err := s.models.Resolve(ctx, d.Model)
	if err != nil {
		return Deployment{}, fmt.Errorf("deployment %s/%s: %w", d.EndpointName, d.Name, err)
	}
	d.ModelVersion = fmt.Sprintf("models:/%s/%d", v.Name, v.Version)
	action := "update_deployment"
	if _, err := s.store.GetDeployment(ctx, d.EndpointName, d.Name); ferry.ErrorCode(err) == ferry.ENOTFOUND {
		action = "create_deployment"
	} else if err != nil {
		return Deployment{}, err
	}
	serial, err := s.store.PutDeployment(ctx, d, expectSerial(ctx, d.EndpointName, AnySerial), s.event(ctx, action, d.EndpointName, d.Name, d.ModelVersion))
	if err != nil {
		return Deployment{}, err
	}
	noteSerial(ctx, d.EndpointName, serial)
	s.changed(d.EndpointName)
	return d, nil
}

// DeleteDeployment deletes a deployment that takes no traffic; one that
// the endpoint's traffic or mirror_traffic names is ECONFLICT.
func (s *Service) DeleteDeployment(ctx context.Context, endpoint, name string) error {
	e, err := s.store.GetEndpoint(ctx, endpoint)
	if err != nil {
		return err
	}
	if _, ok := e.Traffic[name]; ok {
		return ferry.Errorf(ferry.ECONFLICT, "deployment %s/%s takes traffic; move it away first", endpoint, name)
	}
	if _, ok := e.MirrorTraffic[name]; ok {
		return ferry.Errorf(ferry.ECONFLICT, "deployment %s/%s receives mirrored traffic; remove it from mirror_traffic first", endpoint, name)
	}
	serial, err := s.store.DeleteDeployment(ctx, endpoint, name, expectSerial(ctx, endpoint, e.Serial), s.event(ctx, "delete_deployment", endpoint, name, ""))
	if err != nil {
		return err
	}
	noteSerial(ctx, endpoint, serial)
	s.changed(endpoint)
	return nil
}

// Plan computes the plan from the stored state to desired, with the serials
// it read, its time, and the drift of each change (see Drift).
func (s *Service) Plan(ctx context.Context, desired State, prune bool) (Plan, error) {
	cur, err := s.State(ctx)
	if err != nil {
		return Plan{}, err
	}
	p, err := ComputePlan(desired, cur, prune)
	if err != nil {
		return Plan{}, err
	}
	p.Time = s.now().UnixMilli()
	return p, s.markDrift(ctx, &p)
}

// Apply computes the plan to desired and carries it out in its order,
// returning it, holding the lock of every endpoint the plan reads (an
// apply to the same endpoints waits, then plans against what this one
// left). A new endpoint is created without traffic, which is set once its
// deployments exist. Traffic that moves to a deployment whose spec has a
// rollout is not set but rolled out (see applyEndpoint; the plan's line
// says so). On an error the changes made so far stay (each is audited) and
// a new plan shows what remains.
func (s *Service) Apply(ctx context.Context, desired State, prune bool) (Plan, error) {
	unlock, err := s.lockScope(ctx, desired, prune)
	if err != nil {
		return Plan{}, err
	}
	defer unlock()
	p, err := s.Plan(ctx, desired, prune)
	if err != nil {
		return Plan{}, err
	}
	return s.applyPlan(ctx, p)
}

// applyPlan carries out p's changes in their order, each write conditional
// on the serial p read or the previous write left; the caller holds the
// locks of p's endpoints.
func (s *Service) applyPlan(ctx context.Context, p Plan) (Plan, error) {
	ctx = withApplying(ctx, p.Serials)
	var later []Endpoint
	for _, c := range p.Changes {
		var err error
		switch {
		case c.Kind == KindEndpoint && c.Action == Create:
			e := *c.Endpoint
			if len(e.Traffic) > 0 || len(e.MirrorTraffic) > 0 {
				later = append(later, e)
				e.Traffic, e.MirrorTraffic = nil, nil
			}
			_, err = s.PutEndpoint(ctx, e)
		case c.Kind == KindEndpoint && c.Action == Update:
			later = append(later, *c.Endpoint)
		case c.Kind == KindDeployment && c.Action != Delete:
			_, err = s.PutDeployment(ctx, *c.Deployment)
		case c.Kind == KindDeployment:
			for _, e := range later {
				if err = s.applyEndpoint(ctx, e); err != nil {
					break
				}
			}
			later = nil
			if err == nil {
				err = s.DeleteDeployment(ctx, c.Deployment.EndpointName, c.Deployment.Name)
			}
		default:
			for _, e := range later {
				if err = s.applyEndpoint(ctx, e); err != nil {
					break
				}
			}
			later = nil
			if err == nil {
				err = s.DeleteEndpoint(ctx, c.Address)
			}
		}
		if err != nil {
			return p, fmt.Errorf("%s %s %s: %w", c.Action, c.Kind, c.Address, err)
		}
	}
	for _, e := range later {
		if err := s.applyEndpoint(ctx, e); err != nil {
			return p, fmt.Errorf("update endpoint %s: %w", e.Name, err)
		}
	}
	return p, nil
}

// changed tells the change hook (WithChangeHook) that endpoint or one of
// its deployments changed.
func (s *Service) changed(endpoint string) {
	if s.onChange != nil {
		s.onChange(endpoint)
	}
}

// deploymentNames returns the names of endpoint's deployments.
func (s *Service) deploymentNames(ctx context.Context, endpoint string) (map[string]bool, error) {
	deps, err := s.store.ListDeployments(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, d := range deps {
		names[d.Name] = true
	}
	return names, nil
}

func trafficString(t map[string]int) string {
	parts := make([]string, 0, len(t))
	for _, k := range sortedKeys(t) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, t[k]))
	}
	return strings.Join(parts, ",")
}
