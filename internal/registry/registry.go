// Package registry is the hand-over between training and production:
// registered models and their immutable versions, aliases (@champion) and
// stages, promotion rules with approvals, an append-only audit trail, and
// lineage from a version to its run, commit and data and back.
//
// Its data model follows MLflow's model registry so that the MLflow REST API
// in internal/httpapi is a thin translation. The package owns the Store it
// consumes; internal/store/sqlstore implements it and internal/store/storetest
// checks the implementations.
package registry

import (
	"context"
	"regexp"
	"strings"

	"github.com/ferry-ml/ferry"
)

// Stages a version can be in, as MLflow names them.
const (
	StageNone       = "None"
	StageStaging    = "Staging"
	StageProduction = "Production"
	StageArchived   = "Archived"
)

// Version statuses, as MLflow names them.
const (
	StatusReady              = "READY"
	StatusPendingRegistation = "PENDING_REGISTRATION"
	StatusFailedRegistration = "FAILED_REGISTRATION"
)

// Tag is a key/value label on a model or a version.
type Tag struct {
	Key   string
	Value string
}

// Model is a registered model.
type Model struct {
	Name            string
	Description     string
	CreationTime    int64 // ms since the Unix epoch
	LastUpdatedTime int64
	Tags            []Tag
	Aliases         map[string]int // alias → version
	// Latest holds the newest version in each stage, in the order None,
	// Staging, Production, Archived. The Service's reads fill it; stores
	// leave it empty.
	Latest []Version
}

// Version is an immutable model version. Only its description, tags, stage
// and aliases change after registration.
type Version struct {
	Name            string
	Version         int
	CreationTime    int64
	LastUpdatedTime int64
	Description     string
	UserID          string
	Stage           string
	Source          string // where it was registered from: runs:/…, a path, …
	RunID           string
	Status          string
	StatusMessage   string
	Tags            []Tag
	Aliases         []string
	// StorageURI is the artifact-store key prefix holding the version's own
	// copy of the model package.
	StorageURI string
	// ModelDigest is the package's content digest ("sha256:…" of ferry.json,
	// or of MLmodel for packages MLflow wrote).
	ModelDigest string
	// Lineage, read from the package at registration.
	GitCommit      string
	GitDirty       bool
	DatasetDigests []string
}

// Actions recorded in the audit trail.
const (
	ActionCreateModel    = "create_model"
	ActionRenameModel    = "rename_model"
	ActionDeleteModel    = "delete_model"
	ActionCreateVersion  = "create_version"
	ActionDeleteVersion  = "delete_version"
	ActionSetAlias       = "set_alias"
	ActionDeleteAlias    = "delete_alias"
	ActionTransition     = "transition_stage"
	ActionRequest        = "request_promotion"
	ActionApprove        = "approve"
	ActionReject         = "reject"
	ActionRecordCheck    = "record_check"
	ActionPromoteBlocked = "promotion_blocked"
)

// AuditEvent is one entry of the append-only audit trail: who did what, when,
// to which model and version, from what to what, and why.
type AuditEvent struct {
	ID        int64
	Time      int64
	Principal string
	Action    string
	Model     string
	Version   int
	From      string
	To        string
	Reason    string
}

// Request states.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestRejected = "rejected"
)

// Request is a request to move a version to a target (a stage or
// "@alias"), and its decision.
type Request struct {
	ID          int64
	Model       string
	Version     int
	Target      string // "Production", "@champion", …
	RequestedBy string
	RequestedAt int64
	Reason      string
	Status      string
	DecidedBy   string
	DecidedAt   int64
	Comment     string
}

// Check is a record that a version passed or failed a check of some kind, for
// example a validation against the champion. Promotion rules read them.
type Check struct {
	ID        int64
	Model     string
	Version   int
	Kind      string // e.g. "validation"
	Verdict   string // "pass" or "fail"
	Details   string // JSON, opaque here
	CreatedBy string
	CreatedAt int64
}

// Cond is one condition of a registry search, as MLflow's SQL store
// evaluates it: Field is "name", "run_id" or "tag" (then Key names the tag),
// Op is "=", "!=", "LIKE" (case-sensitive, % and _ wildcards) or "ILIKE"
// (case-insensitive). A tag condition holds only for models or versions
// that have the tag.
type Cond struct {
	Field, Key, Op, Value string
}

// ModelQuery selects registered models. Conditions that are set are ANDed.
type ModelQuery struct {
	Name       string // exact name; "" for any
	Where      []Cond // conditions on name or tags, all of which must hold
	MaxResults int
	PageToken  string   // from EncodePageToken
	OrderBy    []string // name, creation_timestamp, last_updated_timestamp with ASC/DESC; ties by name
}

// VersionQuery selects versions. Conditions that are set are ANDed.
type VersionQuery struct {
	Name       string // exact model name; "" for all
	RunID      string
	Dataset    string // dataset digest in the lineage
	Stage      string // exact stage
	Digest     string // the package's ModelDigest
	Where      []Cond // conditions on name, run_id or tags, all of which must hold
	MaxResults int
	PageToken  string // from EncodePageToken
	// OrderBy are name, version_number, creation_timestamp or
	// last_updated_timestamp with ASC/DESC; ties (and no order) by name
	// ascending, then version descending.
	OrderBy []string
}

// Store persists the registry. Implementations are safe for concurrent use;
// every write is atomic and the audit events passed with it are appended in
// the same transaction. Unknown names or versions are ENOTFOUND; a taken
// model name ECONFLICT.
type Store interface {
	CreateModel(ctx context.Context, m Model, ev AuditEvent) error
	GetModel(ctx context.Context, name string) (Model, error)
	UpdateModel(ctx context.Context, name, description string, now int64) error
	RenameModel(ctx context.Context, name, newName string, ev AuditEvent) error
	DeleteModel(ctx context.Context, name string, ev AuditEvent) error
	SetModelTag(ctx context.Context, name string, t Tag) error
	DeleteModelTag(ctx context.Context, name, key string) error
	SearchModels(ctx context.Context, q ModelQuery) ([]Model, string, error)

	// CreateVersion stores v under the next version number of v.Name and
	// returns it with its number.
	CreateVersion(ctx context.Context, v Version, ev AuditEvent) (Version, error)
	GetVersion(ctx context.Context, name string, version int) (Version, error)
	UpdateVersion(ctx context.Context, name string, version int, description string, now int64) error
	DeleteVersion(ctx context.Context, name string, version int, ev AuditEvent) error
	SetVersionTag(ctx context.Context, name string, version int, t Tag) error
	DeleteVersionTag(ctx context.Context, name string, version int, key string) error
	SearchVersions(ctx context.Context, q VersionQuery) ([]Version, string, error)
	// LatestVersions returns the newest version in each stage of each named
	// model, in no particular order; unknown names have none.
	LatestVersions(ctx context.Context, names []string) ([]Version, error)
	// TransitionStage moves a version to stage; with archiveExisting, other
	// versions in that stage move to Archived, each with its own event.
	TransitionStage(ctx context.Context, name string, version int, stage string, archiveExisting bool, ev AuditEvent) (Version, error)

	// SetAlias points alias at version in one step and returns the version
	// it pointed at before (0 if none); ev.From is filled from it.
	SetAlias(ctx context.Context, name, alias string, version int, ev AuditEvent) (int, error)
	DeleteAlias(ctx context.Context, name, alias string, ev AuditEvent) error
	GetAlias(ctx context.Context, name, alias string) (int, error)

	CreateRequest(ctx context.Context, r Request, ev AuditEvent) (Request, error)
	// FindRequests returns every request to move (name, version) to target,
	// oldest first.
	FindRequests(ctx context.Context, name string, version int, target string) ([]Request, error)
	// DecideRequest sets a pending request's status; a request already decided
	// is ECONFLICT.
	DecideRequest(ctx context.Context, id int64, status, by, comment string, now int64, ev AuditEvent) (Request, error)

	AddCheck(ctx context.Context, c Check, ev AuditEvent) (Check, error)
	ListChecks(ctx context.Context, name string, version int) ([]Check, error)

	AppendAudit(ctx context.Context, ev AuditEvent) error
	// ListAudit returns a model's events (all models when name is ""), oldest first.
	ListAudit(ctx context.Context, name string) ([]AuditEvent, error)
}

var (
	modelName = regexp.MustCompile(`^[^/\x00-\x1f\x7f]{1,256}$`)
	aliasName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,255}$`)
)

func invalid(format string, args ...any) error { return ferry.Errorf(ferry.EINVALID, format, args...) }

// ValidateModelName checks a registered model name.
func ValidateModelName(name string) error {
	if strings.TrimSpace(name) == "" || !modelName.MatchString(name) {
		return invalid("Registered model name %q is not valid: use 1-256 characters, no '/' or control characters.", name)
	}
	return nil
}

// ValidateAlias checks an alias name as MLflow does: letters, digits, '_'
// and '-', not starting with a digit, and not the reserved "latest" or a
// version-like "v1".
func ValidateAlias(alias string) error {
	switch {
	case !aliasName.MatchString(alias):
		return invalid("Invalid alias name %q: use letters, digits, '_' and '-', starting with a letter or '_'.", alias)
	case strings.EqualFold(alias, "latest"):
		return invalid("Alias name 'latest' is reserved: models:/name@latest means the newest version.")
	case len(alias) > 1 && (alias[0] == 'v' || alias[0] == 'V') && strings.Trim(alias[1:], "0123456789") == "":
		return invalid("Alias name %q looks like a version; choose a name that is not 'v' and digits.", alias)
	}
	return nil
}

// NormalizeStage returns the canonical stage name of s (case-insensitive).
func NormalizeStage(s string) (string, error) {
	for _, st := range []string{StageNone, StageStaging, StageProduction, StageArchived} {
		if strings.EqualFold(s, st) {
			return st, nil
		}
	}
	return "", invalid("Invalid model version stage %q; use None, Staging, Production or Archived.", s)
}
