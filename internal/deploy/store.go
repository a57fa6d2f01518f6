package deploy

import (
	"context"

	"github.com/ferry-ml/ferry/internal/registry"
)

// Store keeps endpoints, deployments and their audit trail. Every change
// writes its audit event in the same transaction. Missing endpoints and
// deployments are ENOTFOUND *ferry.Error values.
type Store interface {
	GetEndpoint(ctx context.Context, name string) (Endpoint, error)
	// ListEndpoints returns every endpoint, by name.
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
	// PutEndpoint creates e (serial 1) or replaces the stored one (serial
	// incremented) and returns the new serial.
	PutEndpoint(ctx context.Context, e Endpoint, ev AuditEvent) (int64, error)
	// DeleteEndpoint deletes the endpoint; it is ECONFLICT while the
	// endpoint has deployments.
	DeleteEndpoint(ctx context.Context, name string, ev AuditEvent) error

	GetDeployment(ctx context.Context, endpoint, name string) (Deployment, error)
	// ListDeployments returns the deployments of endpoint ("" for all), by
	// endpoint and name.
	ListDeployments(ctx context.Context, endpoint string) ([]Deployment, error)
	// PutDeployment creates or replaces d, increments its endpoint's serial
	// and returns it; ENOTFOUND when the endpoint does not exist.
	PutDeployment(ctx context.Context, d Deployment, ev AuditEvent) (int64, error)
	// DeleteDeployment deletes a deployment and increments its endpoint's
	// serial.
	DeleteDeployment(ctx context.Context, endpoint, name string, ev AuditEvent) error

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
}

// ModelResolver resolves a model URI to one version; registry.Service
// satisfies it.
type ModelResolver interface {
	Resolve(ctx context.Context, uri string) (registry.Version, error)
}
