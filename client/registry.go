package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// principalHeader names the principal a request acts for. Until Ferry
// authenticates requests, the server takes it on trust; without it a request
// acts as "anonymous".
const principalHeader = "X-Ferry-Principal"

// WithPrincipal makes every request of the Client act for principal: the
// name the registry records as who registered, promoted or approved. Until
// the server authenticates requests it is sent, and trusted, as the
// X-Ferry-Principal header.
func WithPrincipal(principal string) Option { return func(c *Client) { c.principal = principal } }

// As returns a copy of c whose requests act for principal (see
// WithPrincipal). c itself is unchanged; the copy shares its connections.
func (c *Client) As(principal string) *Client {
	cp := *c
	cp.principal = principal
	return &cp
}

// IsForbidden reports whether err is the server's refusal to let the
// principal do something (code EFORBIDDEN), such as a promotion the policy
// blocks.
func IsForbidden(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "EFORBIDDEN"
}

// Version stages.
const (
	StageNone       = "None"
	StageStaging    = "Staging"
	StageProduction = "Production"
	StageArchived   = "Archived"
)

// RegisteredModel is a named model with its versions' aliases and the newest
// version in each stage.
type RegisteredModel struct {
	Name                 string         `json:"name"`
	CreationTimestamp    int64          `json:"creation_timestamp"` // ms since the Unix epoch
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
	Description          string         `json:"description"`
	Tags                 []Tag          `json:"tags,omitempty"`
	Aliases              map[string]int `json:"aliases,omitempty"` // alias → version
	LatestVersions       []ModelVersion `json:"latest_versions,omitempty"`
}

// ModelVersion is an immutable registered version of a model package. Only
// its description, tags, stage and aliases change.
type ModelVersion struct {
	Name                 string   `json:"name"`
	Version              int      `json:"version"`
	CreationTimestamp    int64    `json:"creation_timestamp"`
	LastUpdatedTimestamp int64    `json:"last_updated_timestamp"`
	UserID               string   `json:"user_id"` // the principal who registered it
	CurrentStage         string   `json:"current_stage"`
	Description          string   `json:"description"`
	Source               string   `json:"source"` // runs:/… or mlflow-artifacts:…
	RunID                string   `json:"run_id"`
	Status               string   `json:"status"`
	StatusMessage        string   `json:"status_message,omitempty"`
	Tags                 []Tag    `json:"tags,omitempty"`
	Aliases              []string `json:"aliases,omitempty"`
	ModelDigest          string   `json:"model_digest"`
	ArtifactURI          string   `json:"artifact_uri"` // the registry's copy of the package
	GitCommit            string   `json:"git_commit,omitempty"`
	GitDirty             bool     `json:"git_dirty,omitempty"`
	DatasetDigests       []string `json:"dataset_digests,omitempty"`
}

// URI returns the version's model URI, models:/name/version.
func (v ModelVersion) URI() string { return "models:/" + v.Name + "/" + strconv.Itoa(v.Version) }

// AuditEvent is one entry of a model's audit trail.
type AuditEvent struct {
	ID        int64  `json:"id"`
	Time      int64  `json:"time"` // ms since the Unix epoch
	Principal string `json:"principal"`
	Action    string `json:"action"` // create_version, transition_stage, approve, promotion_blocked, …
	Model     string `json:"model"`
	Version   int    `json:"version,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// PromotionRequest is a request to move a version to a target, and its
// decision.
type PromotionRequest struct {
	ID          int64  `json:"id"`
	Model       string `json:"model"`
	Version     int    `json:"version"`
	Target      string `json:"target"` // "Production", "@champion", …
	RequestedBy string `json:"requested_by"`
	RequestedAt int64  `json:"requested_at"`
	Reason      string `json:"reason,omitempty"`
	Status      string `json:"status"` // pending, approved, rejected
	DecidedBy   string `json:"decided_by,omitempty"`
	DecidedAt   int64  `json:"decided_at,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Check is a recorded verdict of a check, such as a validation, on a version.
type Check struct {
	ID        int64           `json:"id"`
	Model     string          `json:"model"`
	Version   int             `json:"version"`
	Kind      string          `json:"kind"`
	Verdict   string          `json:"verdict"` // pass or fail
	Details   json.RawMessage `json:"details,omitempty"`
	CreatedBy string          `json:"created_by"`
	CreatedAt int64           `json:"created_at"`
}

// LineageDataset is a dataset a version was trained on.
type LineageDataset struct {
	Digest string `json:"digest"`
	Name   string `json:"name,omitempty"`
	Source string `json:"source,omitempty"`
}

// Lineage traces a version to the run, commit and data that made it. Run is
// nil when the version names no run or the run is gone.
type Lineage struct {
	Version   ModelVersion     `json:"version"`
	Run       *Run             `json:"run,omitempty"`
	GitCommit string           `json:"git_commit,omitempty"`
	GitDirty  bool             `json:"git_dirty"`
	Datasets  []LineageDataset `json:"datasets"`
}

// ModelQuery selects registered models; zero fields take the server's
// defaults.
type ModelQuery struct {
	Filter     string   // "name LIKE 'churn%'", "name ILIKE '%fraud%'" or "name = 'churn'"
	OrderBy    []string // e.g. "last_updated_timestamp DESC"
	MaxResults int      // at most 1000
	PageToken  string
}

// ListModels returns a page of registered models and the next page's token.
func (c *Client) ListModels(ctx context.Context, q ModelQuery) ([]RegisteredModel, string, error) {
	v := url.Values{}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	for _, o := range q.OrderBy {
		v.Add("order_by", o)
	}
	var out struct {
		RegisteredModels []RegisteredModel `json:"registered_models"`
		NextPageToken    string            `json:"next_page_token"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/models", v, nil, &out)
	return out.RegisteredModels, out.NextPageToken, err
}

type modelResp struct {
	RegisteredModel RegisteredModel `json:"registered_model"`
}

// CreateModel registers a model name; a taken name is an *Error with code
// ECONFLICT.
func (c *Client) CreateModel(ctx context.Context, name, description string, tags map[string]string) (RegisteredModel, error) {
	var out modelResp
	err := c.do(ctx, http.MethodPost, "/api/v1/models", nil, map[string]any{"name": name, "description": description, "tags": TagList(tags)}, &out)
	return out.RegisteredModel, err
}

// GetModel returns a registered model with its aliases and the newest
// version in each stage.
func (c *Client) GetModel(ctx context.Context, name string) (RegisteredModel, error) {
	var out modelResp
	err := c.do(ctx, http.MethodGet, "/api/v1/models"+pathEscape(name), nil, nil, &out)
	return out.RegisteredModel, err
}

// ModelUpdate changes a registered model; zero fields are left as they are.
type ModelUpdate struct {
	Name        string  `json:"name,omitempty"`        // a new name
	Description *string `json:"description,omitempty"` // a new description
}

// UpdateModel renames a registered model or changes its description, and
// returns it.
func (c *Client) UpdateModel(ctx context.Context, name string, u ModelUpdate) (RegisteredModel, error) {
	var out modelResp
	err := c.do(ctx, http.MethodPatch, "/api/v1/models"+pathEscape(name), nil, u, &out)
	return out.RegisteredModel, err
}

// DeleteModel deletes a registered model and its versions.
func (c *Client) DeleteModel(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/models"+pathEscape(name), nil, nil, nil)
}

// VersionSource says what to register as a new version.
type VersionSource struct {
	// Source is the model package: runs:/<run_id>/<path>, or an
	// mlflow-artifacts: URI, stored by the server.
	Source string `json:"source"`
	// RunID names the run that made it when Source does not; by default the
	// package's lineage says.
	RunID string `json:"run_id,omitempty"`
	// UploadID and Parts name an upload (UploadFile) of the package
	// directory as a tar archive; Source then says where it came from.
	UploadID    string `json:"upload_id,omitempty"`
	Parts       int    `json:"parts,omitempty"`
	Description string `json:"description,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
}

type versionResp struct {
	ModelVersion ModelVersion `json:"model_version"`
}

// RegisterVersion registers the package at src.Source as the next version
// of name, creating the registered model when absent. The server keeps its
// own verified copy of the package. Registering the same package again makes
// a new version (as in MLflow) that shares the stored copy.
func (c *Client) RegisterVersion(ctx context.Context, name string, src VersionSource) (ModelVersion, error) {
	var out versionResp
	err := c.do(ctx, http.MethodPost, "/api/v1/models"+pathEscape(name, "versions"), nil, src, &out)
	return out.ModelVersion, err
}

// ListVersions returns every version of name, newest first, fetching all
// pages.
func (c *Client) ListVersions(ctx context.Context, name string) ([]ModelVersion, error) {
	var all []ModelVersion
	tok := ""
	for {
		v := url.Values{}
		if tok != "" {
			v.Set("page_token", tok)
		}
		var out struct {
			ModelVersions []ModelVersion `json:"model_versions"`
			NextPageToken string         `json:"next_page_token"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/models"+pathEscape(name, "versions"), v, nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.ModelVersions...)
		if out.NextPageToken == "" {
			return all, nil
		}
		tok = out.NextPageToken
	}
}

func versionPath(name string, version int, rest ...string) string {
	return "/api/v1/models" + pathEscape(append([]string{name, "versions", strconv.Itoa(version)}, rest...)...)
}

// GetVersion returns one version of a registered model.
func (c *Client) GetVersion(ctx context.Context, name string, version int) (ModelVersion, error) {
	var out versionResp
	err := c.do(ctx, http.MethodGet, versionPath(name, version), nil, nil, &out)
	return out.ModelVersion, err
}

// DeleteVersion deletes one version of a registered model.
func (c *Client) DeleteVersion(ctx context.Context, name string, version int) error {
	return c.do(ctx, http.MethodDelete, versionPath(name, version), nil, nil, nil)
}

// Promotion qualifies a promotion.
type Promotion struct {
	Reason string // recorded in the audit trail
	// ArchiveExisting moves the target stage's other versions to Archived.
	ArchiveExisting bool
}

// Promote moves a version to target: a stage ("production", "staging",
// "archived", "none"; any case) or an alias ("@champion"). When the
// server's policy blocks it — a check is missing, or an approval by another
// principal — the error is an *Error with code EFORBIDDEN (see
// IsForbidden) whose message says what is missing; a blocked promotion
// that needs an approval files a request for it.
func (c *Client) Promote(ctx context.Context, name string, version int, target string, p Promotion) (ModelVersion, error) {
	var out versionResp
	body := map[string]any{"target": target, "reason": p.Reason, "archive_existing": p.ArchiveExisting}
	err := c.do(ctx, http.MethodPost, versionPath(name, version, "promote"), nil, body, &out)
	return out.ModelVersion, err
}

type decisionResp struct {
	Request PromotionRequest `json:"request"`
}

// Approve approves the pending request to move a version to target. The
// principal who asked cannot approve it (EFORBIDDEN); without a pending
// request the error has code ENOTFOUND.
func (c *Client) Approve(ctx context.Context, name string, version int, target, comment string) (PromotionRequest, error) {
	var out decisionResp
	err := c.do(ctx, http.MethodPost, versionPath(name, version, "approve"), nil, map[string]string{"target": target, "comment": comment}, &out)
	return out.Request, err
}

// Reject rejects the pending request to move a version to target.
func (c *Client) Reject(ctx context.Context, name string, version int, target, comment string) (PromotionRequest, error) {
	var out decisionResp
	err := c.do(ctx, http.MethodPost, versionPath(name, version, "reject"), nil, map[string]string{"target": target, "comment": comment}, &out)
	return out.Request, err
}

// RecordCheck records the verdict ("pass" or "fail") of a check of kind
// (such as "validation") on a version; details is any JSON-encodable value
// kept with it (nil for none). Promotion rules read the latest check of
// each kind.
func (c *Client) RecordCheck(ctx context.Context, name string, version int, kind, verdict string, details any) (Check, error) {
	var out struct {
		Check Check `json:"check"`
	}
	body := map[string]any{"kind": kind, "verdict": verdict}
	if details != nil {
		body["details"] = details
	}
	err := c.do(ctx, http.MethodPost, versionPath(name, version, "checks"), nil, body, &out)
	return out.Check, err
}

// SetAlias points alias at a version, as the server's policy allows (see
// Promote for a blocked move), and returns the version.
func (c *Client) SetAlias(ctx context.Context, name, alias string, version int, reason string) (ModelVersion, error) {
	var out versionResp
	err := c.do(ctx, http.MethodPut, "/api/v1/models"+pathEscape(name, "aliases", alias), nil, map[string]any{"version": version, "reason": reason}, &out)
	return out.ModelVersion, err
}

// DeleteAlias deletes an alias.
func (c *Client) DeleteAlias(ctx context.Context, name, alias string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/models"+pathEscape(name, "aliases", alias), nil, nil, nil)
}

// Resolve returns the version a model URI names: models:/name/3,
// models:/name@champion, models:/name@latest or models:/name/Production.
func (c *Client) Resolve(ctx context.Context, uri string) (ModelVersion, error) {
	var out versionResp
	err := c.do(ctx, http.MethodGet, "/api/v1/resolve", url.Values{"uri": {uri}}, nil, &out)
	return out.ModelVersion, err
}

// History returns a registered model's audit trail, oldest first.
func (c *Client) History(ctx context.Context, name string) ([]AuditEvent, error) {
	var out struct {
		Events []AuditEvent `json:"events"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/models"+pathEscape(name, "history"), nil, nil, &out)
	return out.Events, err
}

// Lineage traces a version to its run, commit and datasets.
func (c *Client) Lineage(ctx context.Context, name string, version int) (Lineage, error) {
	var out Lineage
	err := c.do(ctx, http.MethodGet, versionPath(name, version, "lineage"), nil, nil, &out)
	return out, err
}

// VersionsFrom returns the versions made from a run (runID) or trained on a
// dataset (datasetDigest, "sha256:…"); give one or both.
func (c *Client) VersionsFrom(ctx context.Context, runID, datasetDigest string) ([]ModelVersion, error) {
	v := url.Values{}
	if runID != "" {
		v.Set("run_id", runID)
	}
	if datasetDigest != "" {
		v.Set("dataset", datasetDigest)
	}
	var out struct {
		ModelVersions []ModelVersion `json:"model_versions"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/lineage", v, nil, &out)
	return out.ModelVersions, err
}
