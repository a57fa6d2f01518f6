package deploy

import (
	"context"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

// AnySerial, as a write's ifSerial, makes the write unconditional.
const AnySerial int64 = -1

// Store keeps endpoints, deployments and their audit trail. Every change
// writes its audit event in the same transaction. Missing endpoints and
// deployments are ENOTFOUND *ferry.Error values.
//
// Every write takes ifSerial, the endpoint's serial the caller last saw:
// AnySerial writes unconditionally; 0 means the endpoint must not exist yet
// (PutEndpoint creates it); n > 0 means its stored serial must still be n.
// Otherwise the write changes nothing and is ECONFLICT — optimistic
// concurrency, a conditional UPDATE … WHERE serial = n.
type Store interface {
	GetEndpoint(ctx context.Context, name string) (Endpoint, error)
	// ListEndpoints returns every endpoint, by name.
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
	// PutEndpoint creates e (serial 1) or replaces the stored one (serial
	// incremented) and returns the new serial.
	PutEndpoint(ctx context.Context, e Endpoint, ifSerial int64, ev AuditEvent) (int64, error)
	// DeleteEndpoint deletes the endpoint; it is ECONFLICT while the
	// endpoint has deployments.
	DeleteEndpoint(ctx context.Context, name string, ifSerial int64, ev AuditEvent) error

	GetDeployment(ctx context.Context, endpoint, name string) (Deployment, error)
	// ListDeployments returns the deployments of endpoint ("" for all), by
	// endpoint and name.
	ListDeployments(ctx context.Context, endpoint string) ([]Deployment, error)
	// PutDeployment creates or replaces d, increments its endpoint's serial
	// and returns it; ENOTFOUND when the endpoint does not exist.
	PutDeployment(ctx context.Context, d Deployment, ifSerial int64, ev AuditEvent) (int64, error)
	// DeleteDeployment deletes a deployment, increments its endpoint's
	// serial and returns it.
	DeleteDeployment(ctx context.Context, endpoint, name string, ifSerial int64, ev AuditEvent) (int64, error)

	// CreateRollout stores r, active, as a new rollout (version 1) with its
	// audit event and returns its ID; ECONFLICT when the endpoint already
	// has an active rollout.
	CreateRollout(ctx context.Context, r RolloutStatus, ev AuditEvent) (int64, error)
	// UpdateRollout replaces rollout r.ID, with its audit event (none when
	// ev.Action is ""), when its stored version is still r.Version, and
	// returns the new version;
	// ECONFLICT when another update came first, ENOTFOUND when there is
	// no such rollout.
	UpdateRollout(ctx context.Context, r RolloutStatus, ev AuditEvent) (int64, error)
	// GetRollout returns one rollout; ENOTFOUND when missing.
	GetRollout(ctx context.Context, id int64) (RolloutStatus, error)
	// ListRollouts returns the rollouts of endpoint ("" for all), newest
	// first; with active, only those in an active state.
	ListRollouts(ctx context.Context, endpoint string, active bool) ([]RolloutStatus, error)

	// ListDeployAudit returns the audit events of endpoint ("" for all), oldest first.
	ListDeployAudit(ctx context.Context, endpoint string) ([]AuditEvent, error)
}

// AuditEvent records one change: who, when and what.
type AuditEvent struct {
	Time      int64  `json:"time"` // Unix milliseconds
	Principal string `json:"principal"`
	// Action is create|update|delete _endpoint|_deployment, set_traffic,
	// or rollout_ and start|step|pass|await_approval|pause|resume|promote|
	// rollback|succeed|abort.
	Action     string `json:"action"`
	Endpoint   string `json:"endpoint"`
	Deployment string `json:"deployment,omitempty"`
	// Detail is a short description, such as the pinned model version.
	Detail string `json:"detail,omitempty"`
	// Via is what made the change: ViaApply for ferry apply, the reason
	// given to SetTraffic ("ferry endpoints traffic", a rollout step), or
	// "" for a direct call of the API. A plan shows the last change not
	// made via apply as drift.
	Via string `json:"via,omitempty"`
}

// ViaApply marks the audit events of Apply and ApplyPlan.
const ViaApply = "ferry apply"

// SerialConflict is the ECONFLICT of a write whose endpoint's serial moved
// from want to now (0: the endpoint does not exist).
func SerialConflict(endpoint string, want, now int64) error {
	return ferry.Errorf(ferry.ECONFLICT, "the state of endpoint %s changed since the plan (serial %d, now %d); run ferry plan again", endpoint, want, now)
}

// ModelResolver resolves a model URI to one version; registry.Service
// satisfies it.
type ModelResolver interface {
	Resolve(ctx context.Context, uri string) (registry.Version, error)
}
