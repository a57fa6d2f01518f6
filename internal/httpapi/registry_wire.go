package httpapi

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// PrincipalHeader names the principal a request acts for: who registers,
// promotes and approves, as the audit trail records it. Until Ferry
// authenticates requests it is taken on trust from this header (the
// httpmw.Principal middleware puts it in every request's context); a request
// without it acts as "anonymous". The Go client sets it from
// client.WithPrincipal, the CLI from --as, FERRY_PRINCIPAL or the local user.
const PrincipalHeader = "X-Ferry-Principal"

// MLflow's wire shapes of the model registry.

type wireModelAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type wireModelVersion struct {
	Name                 string    `json:"name"`
	Version              string    `json:"version"`
	CreationTimestamp    int64     `json:"creation_timestamp"`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp"`
	UserID               string    `json:"user_id,omitempty"` // who registered it; absent for anonymous, as MLflow's server leaves it unset
	CurrentStage         string    `json:"current_stage"`
	Description          string    `json:"description"`
	Source               string    `json:"source"`
	RunID                string    `json:"run_id"`
	Status               string    `json:"status"`
	StatusMessage        string    `json:"status_message,omitempty"`
	Tags                 []wireTag `json:"tags,omitempty"`
	RunLink              string    `json:"run_link"`
	Aliases              []string  `json:"aliases,omitempty"`
	ModelID              string    `json:"model_id,omitempty"` // the MLflow 3 logged model of a models:/m-<id> source
}

type wireRegisteredModel struct {
	Name                 string             `json:"name"`
	CreationTimestamp    int64              `json:"creation_timestamp"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp"`
	Description          string             `json:"description,omitempty"`
	LatestVersions       []wireModelVersion `json:"latest_versions,omitempty"`
	Tags                 []wireTag          `json:"tags,omitempty"`
	Aliases              []wireModelAlias   `json:"aliases,omitempty"`
}

func toRegistryTags(in []wireTag) []registry.Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]registry.Tag, len(in))
	for i, t := range in {
		out[i] = registry.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromRegistryTags(in []registry.Tag) []wireTag {
	if len(in) == 0 {
		return nil
	}
	out := make([]wireTag, len(in))
	for i, t := range in {
		out[i] = wireTag{Key: t.Key, Value: t.Value}
	}
	return out
}

func toWireModelVersion(v registry.Version) wireModelVersion {
	if v.UserID == auth.Anonymous {
		v.UserID = ""
	}
	return wireModelVersion{
		Name: v.Name, Version: strconv.Itoa(v.Version), CreationTimestamp: v.CreationTime, LastUpdatedTimestamp: v.LastUpdatedTime,
		UserID: v.UserID, CurrentStage: v.Stage, Description: v.Description, Source: v.Source, RunID: v.RunID,
		Status: v.Status, StatusMessage: v.StatusMessage, Tags: fromRegistryTags(v.Tags), Aliases: sortedStrings(v.Aliases),
		ModelID: loggedModelID(v.Source),
	}
}

// loggedModelID returns the logged model a models:/m-<id> source names, or "".
func loggedModelID(source string) string {
	id, ok := strings.CutPrefix(source, "models:/")
	if !ok || !strings.HasPrefix(id, tracking.LoggedModelIDPrefix) || strings.Contains(id, "/") {
		return ""
	}
	return id
}

func toWireRegisteredModel(m registry.Model) wireRegisteredModel {
	w := wireRegisteredModel{
		Name: m.Name, CreationTimestamp: m.CreationTime, LastUpdatedTimestamp: m.LastUpdatedTime,
		Description: m.Description, Tags: fromRegistryTags(m.Tags),
	}
	for _, v := range m.Latest {
		wv := toWireModelVersion(v)
		wv.Aliases = nil // MLflow lists a model's aliases once, not in its latest versions
		w.LatestVersions = append(w.LatestVersions, wv)
	}
	for _, a := range sortedAliases(m.Aliases) {
		w.Aliases = append(w.Aliases, wireModelAlias{Alias: a, Version: strconv.Itoa(m.Aliases[a])})
	}
	return w
}

func sortedAliases(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func sortedStrings(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// parseVersion reads a model version number. Any integer parses, as in
// MLflow: 0 or a negative number is a version that does not exist, which
// the registry answers with ENOTFOUND.
func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, ferry.Errorf(ferry.EINVALID, "Invalid model version %q: a version is a positive integer such as 3.", clip(s))
	}
	return n, nil
}

// registerSource normalises a model-version source: an
// mlflow-artifacts://host:port/path URI, as MLflow's clients resolve runs:/
// URIs against a proxying server, becomes mlflow-artifacts:/path.
func registerSource(source string) string {
	if strings.HasPrefix(source, proxyScheme+"//") {
		if key, ok := proxiedKey(source); ok {
			return proxyScheme + "/" + key
		}
	}
	return source
}

// downloadURI is where a client downloads a version's package from: the
// registry's own copy, through this server's artifact proxy.
func downloadURI(v registry.Version) string {
	return proxyScheme + "/" + v.StorageURI
}

// Native shapes: versions are numbers, aliases a map, and a version carries
// its package digest, storage and lineage.

type v1ModelVersion struct {
	Name                 string    `json:"name"`
	Version              int       `json:"version"`
	CreationTimestamp    int64     `json:"creation_timestamp" doc:"Milliseconds since the Unix epoch."`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp" doc:"Milliseconds since the Unix epoch."`
	UserID               string    `json:"user_id" doc:"The principal who registered it."`
	CurrentStage         string    `json:"current_stage" doc:"None, Staging, Production or Archived."`
	Description          string    `json:"description"`
	Source               string    `json:"source" doc:"Where it was registered from: runs:/<run_id>/<path> or an mlflow-artifacts: URI."`
	RunID                string    `json:"run_id"`
	Status               string    `json:"status" doc:"READY once registered."`
	StatusMessage        string    `json:"status_message,omitempty"`
	Tags                 []wireTag `json:"tags,omitempty"`
	Aliases              []string  `json:"aliases,omitempty" doc:"The aliases pointing at this version."`
	ModelDigest          string    `json:"model_digest" doc:"The package's content digest, sha256:..."`
	ArtifactURI          string    `json:"artifact_uri" doc:"The registry's own copy of the package, as an mlflow-artifacts: URI of this server."`
	GitCommit            string    `json:"git_commit,omitempty"`
	GitDirty             bool      `json:"git_dirty,omitempty"`
	DatasetDigests       []string  `json:"dataset_digests,omitempty" doc:"Digests of the datasets it was trained on."`
}

type v1RegisteredModel struct {
	Name                 string           `json:"name"`
	CreationTimestamp    int64            `json:"creation_timestamp" doc:"Milliseconds since the Unix epoch."`
	LastUpdatedTimestamp int64            `json:"last_updated_timestamp" doc:"Milliseconds since the Unix epoch."`
	Description          string           `json:"description"`
	Tags                 []wireTag        `json:"tags,omitempty"`
	Aliases              map[string]int   `json:"aliases,omitempty" doc:"Alias names and the versions they point at."`
	LatestVersions       []v1ModelVersion `json:"latest_versions,omitempty" doc:"The newest version in each stage."`
}

type v1AuditEvent struct {
	ID        int64  `json:"id"`
	Time      int64  `json:"time" doc:"Milliseconds since the Unix epoch."`
	Principal string `json:"principal"`
	Action    string `json:"action" doc:"create_model, create_version, set_alias, transition_stage, request_promotion, approve, reject, record_check, promotion_blocked, ..."`
	Model     string `json:"model"`
	Version   int    `json:"version,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type v1PromotionRequest struct {
	ID          int64  `json:"id"`
	Model       string `json:"model"`
	Version     int    `json:"version"`
	Target      string `json:"target" doc:"A stage such as Production, or @alias."`
	RequestedBy string `json:"requested_by"`
	RequestedAt int64  `json:"requested_at"`
	Reason      string `json:"reason,omitempty"`
	Status      string `json:"status" doc:"pending, approved or rejected."`
	DecidedBy   string `json:"decided_by,omitempty"`
	DecidedAt   int64  `json:"decided_at,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

type v1Check struct {
	ID        int64  `json:"id"`
	Model     string `json:"model"`
	Version   int    `json:"version"`
	Kind      string `json:"kind"`
	Verdict   string `json:"verdict" doc:"pass or fail."`
	Details   any    `json:"details,omitempty"`
	CreatedBy string `json:"created_by"`
	CreatedAt int64  `json:"created_at"`
}

type v1LineageDataset struct {
	Digest string `json:"digest"`
	Name   string `json:"name,omitempty" doc:"The dataset's name, when the run recorded it as an input."`
	Source string `json:"source,omitempty"`
}

type v1Lineage struct {
	Version   v1ModelVersion     `json:"version"`
	Run       *wireRun           `json:"run,omitempty" doc:"The run that made the version; absent when it names none or the run was removed."`
	GitCommit string             `json:"git_commit,omitempty"`
	GitDirty  bool               `json:"git_dirty"`
	Datasets  []v1LineageDataset `json:"datasets"`
}

func toV1ModelVersion(v registry.Version) v1ModelVersion {
	return v1ModelVersion{
		Name: v.Name, Version: v.Version, CreationTimestamp: v.CreationTime, LastUpdatedTimestamp: v.LastUpdatedTime,
		UserID: v.UserID, CurrentStage: v.Stage, Description: v.Description, Source: v.Source, RunID: v.RunID,
		Status: v.Status, StatusMessage: v.StatusMessage, Tags: fromRegistryTags(v.Tags), Aliases: sortedStrings(v.Aliases),
		ModelDigest: v.ModelDigest, ArtifactURI: downloadURI(v), GitCommit: v.GitCommit, GitDirty: v.GitDirty,
		DatasetDigests: v.DatasetDigests,
	}
}

func toV1RegisteredModel(m registry.Model) v1RegisteredModel {
	out := v1RegisteredModel{
		Name: m.Name, CreationTimestamp: m.CreationTime, LastUpdatedTimestamp: m.LastUpdatedTime,
		Description: m.Description, Tags: fromRegistryTags(m.Tags),
	}
	if len(m.Aliases) > 0 {
		out.Aliases = m.Aliases
	}
	for _, v := range m.Latest {
		out.LatestVersions = append(out.LatestVersions, toV1ModelVersion(v))
	}
	return out
}

func toV1Request(r registry.Request) v1PromotionRequest {
	return v1PromotionRequest{
		ID: r.ID, Model: r.Model, Version: r.Version, Target: r.Target, RequestedBy: r.RequestedBy, RequestedAt: r.RequestedAt,
		Reason: r.Reason, Status: r.Status, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, Comment: r.Comment,
	}
}

func toV1Check(c registry.Check) v1Check {
	out := v1Check{ID: c.ID, Model: c.Model, Version: c.Version, Kind: c.Kind, Verdict: c.Verdict, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt}
	if c.Details != "" {
		var d any
		if json.Unmarshal([]byte(c.Details), &d) == nil {
			out.Details = d
		} else {
			out.Details = c.Details
		}
	}
	return out
}

// sameDigest reports whether a run input's digest names the dataset of a
// version's lineage digest: equal, or the first hex digits of it that fit
// MLflow's 36-character limit on dataset digests.
func sameDigest(lineage, input string) bool {
	if lineage == input {
		return true
	}
	hex := strings.TrimPrefix(lineage, "sha256:")
	return len(input) >= 12 && strings.HasPrefix(hex, strings.TrimPrefix(input, "sha256:"))
}
