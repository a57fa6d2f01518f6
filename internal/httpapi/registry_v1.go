package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// The /api/v1 registry routes. v1Routes lists them in its table.

// v1RegistryRoutes returns the registry's routes of the native API. They are
// in the table (and so in the OpenAPI document) whether or not the server
// has a registry; without one they answer ENOTFOUND.
func (s *Server) v1RegistryRoutes() []v1Route {
	return []v1Route{
		v1JSON(s, "GET", "/models", "searchModels", "List and search registered models.", http.StatusOK, withRegistry(s, s.v1SearchModels)),
		v1JSON(s, "POST", "/models", "createModel", "Register a model name.", http.StatusCreated, withRegistry(s, s.v1CreateModel)),
		v1JSON(s, "GET", "/models/{name}", "getModel", "Get a registered model with its aliases and latest version per stage.", http.StatusOK, withRegistry(s, s.v1GetModel)),
		v1JSON(s, "PATCH", "/models/{name}", "updateModel", "Rename a registered model or change its description.", http.StatusOK, withRegistry(s, s.v1UpdateModel)),
		v1JSON(s, "DELETE", "/models/{name}", "deleteModel", "Delete a registered model and its versions.", http.StatusOK, withRegistry(s, s.v1DeleteModel)),
		v1JSON(s, "POST", "/models/{name}/versions", "registerVersion", "Register a new version from a model package stored by this server; the model is created when absent.", http.StatusCreated, withRegistry(s, s.v1RegisterVersion)),
		v1JSON(s, "GET", "/models/{name}/versions", "listVersions", "List a registered model's versions.", http.StatusOK, withRegistry(s, s.v1ListVersions)),
		v1JSON(s, "GET", "/models/{name}/versions/{version}", "getVersion", "Get a model version.", http.StatusOK, withRegistry(s, s.v1GetVersion)),
		v1JSON(s, "DELETE", "/models/{name}/versions/{version}", "deleteVersion", "Delete a model version.", http.StatusOK, withRegistry(s, s.v1DeleteVersion)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/promote", "promoteVersion", "Move a version to a stage or an alias, as the promotion policy allows; 403 EFORBIDDEN says what is missing.", http.StatusOK, withRegistry(s, s.v1Promote)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/approve", "approvePromotion", "Approve the pending request to promote a version; the requester cannot approve it.", http.StatusOK, withRegistry(s, s.v1Approve)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/reject", "rejectPromotion", "Reject the pending request to promote a version.", http.StatusOK, withRegistry(s, s.v1Reject)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/checks", "recordCheck", "Record the verdict of a check, such as a validation, on a version.", http.StatusCreated, withRegistry(s, s.v1RecordCheck)),
		v1JSON(s, "GET", "/models/{name}/versions/{version}/lineage", "getVersionLineage", "Trace a version to its run, commit and datasets.", http.StatusOK, withRegistry(s, s.v1VersionLineage)),
		v1JSON(s, "PUT", "/models/{name}/aliases/{alias}", "setAlias", "Point an alias at a version, as the promotion policy allows.", http.StatusOK, withRegistry(s, s.v1SetAlias)),
		v1JSON(s, "DELETE", "/models/{name}/aliases/{alias}", "deleteAlias", "Delete an alias.", http.StatusOK, withRegistry(s, s.v1DeleteAlias)),
		v1JSON(s, "GET", "/models/{name}/history", "getModelHistory", "A registered model's audit trail, oldest first.", http.StatusOK, withRegistry(s, s.v1History)),
		v1JSON(s, "GET", "/resolve", "resolveModelURI", "Find the version a models:/ URI names.", http.StatusOK, withRegistry(s, s.v1Resolve)),
		v1JSON(s, "GET", "/lineage", "searchLineage", "Find the versions made from a run or a dataset.", http.StatusOK, withRegistry(s, s.v1SearchLineage)),
	}
}

// withRegistry answers ENOTFOUND when the server has no registry.
func withRegistry[Req, Resp any](s *Server, fn func(*http.Request, *Req) (Resp, error)) func(*http.Request, *Req) (Resp, error) {
	return func(r *http.Request, req *Req) (Resp, error) {
		if s.models == nil {
			var zero Resp
			return zero, ferry.Errorf(ferry.ENOTFOUND, "This server has no model registry.")
		}
		return fn(r, req)
	}
}

// v1 requests and responses.

type v1ModelsQuery struct {
	Filter     string    `json:"filter,omitempty" doc:"Conditions joined by AND on the name and tags, with =, !=, LIKE or ILIKE: \"name LIKE 'churn%' AND tags.team = 'growth'\"."`
	OrderBy    []string  `json:"order_by,omitempty" doc:"Sort keys: name, creation_timestamp or last_updated_timestamp with ASC or DESC; repeat the parameter for several."`
	MaxResults flexInt64 `json:"max_results,omitempty" doc:"The page size (default 100, at most 1000)."`
	PageToken  string    `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

type v1ModelList struct {
	RegisteredModels []v1RegisteredModel `json:"registered_models"`
	NextPageToken    string              `json:"next_page_token,omitempty" doc:"Present when there are more results; pass it as page_token."`
}

type v1CreateModelRequest struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Tags        []wireTag `json:"tags,omitempty"`
}

type v1UpdateModelRequest struct {
	Name        string  `json:"name,omitempty" doc:"A new name; absent or empty keeps the name."`
	Description *string `json:"description,omitempty" doc:"A new description; absent keeps it."`
}

type v1ModelResponse struct {
	RegisteredModel v1RegisteredModel `json:"registered_model"`
}

type v1RegisterVersionRequest struct {
	Source      string    `json:"source" doc:"The model package: runs:/<run_id>/<path> or an mlflow-artifacts: URI on this server; with upload_id, where the client had the package (recorded as the version's source)."`
	UploadID    string    `json:"upload_id,omitempty" doc:"An upload holding the package directory as a tar archive (see createUpload), instead of a package stored by this server."`
	Parts       int       `json:"parts,omitempty" doc:"How many parts the upload has."`
	RunID       string    `json:"run_id,omitempty" doc:"The run that made it, when source does not name one; default the package's lineage."`
	Description string    `json:"description,omitempty"`
	Tags        []wireTag `json:"tags,omitempty"`
}

type v1VersionResponse struct {
	ModelVersion v1ModelVersion `json:"model_version"`
}

type v1VersionsQuery struct {
	MaxResults flexInt64 `json:"max_results,omitempty" doc:"The page size (default 10000)."`
	PageToken  string    `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

type v1VersionList struct {
	ModelVersions []v1ModelVersion `json:"model_versions"`
	NextPageToken string           `json:"next_page_token,omitempty" doc:"Present when there are more results; pass it as page_token."`
}

type v1PromoteRequest struct {
	Target          string `json:"target" doc:"A stage (production, staging, archived, none; any case) or an alias (@champion)."`
	Reason          string `json:"reason,omitempty" doc:"Why; recorded in the audit trail."`
	ArchiveExisting bool   `json:"archive_existing,omitempty" doc:"Move the stage's other versions to Archived."`
}

type v1DecideRequest struct {
	Target  string `json:"target" doc:"The target of the pending request: a stage or @alias."`
	Comment string `json:"comment,omitempty"`
}

type v1DecisionResponse struct {
	Request v1PromotionRequest `json:"request"`
}

type v1CheckRequest struct {
	Kind    string `json:"kind" doc:"The kind of check, such as validation; promotion rules name kinds."`
	Verdict string `json:"verdict" doc:"pass or fail."`
	Details any    `json:"details,omitempty" doc:"Any JSON value, kept with the check."`
}

type v1CheckResponse struct {
	Check v1Check `json:"check"`
}

type v1SetAliasRequest struct {
	Version flexInt64 `json:"version" doc:"The version the alias points at."`
	Reason  string    `json:"reason,omitempty" doc:"Why; recorded in the audit trail."`
}

type v1HistoryResponse struct {
	Events []v1AuditEvent `json:"events"`
}

type v1ResolveQuery struct {
	URI string `json:"uri" doc:"models:/name/3, models:/name@alias, models:/name@latest or models:/name/Production."`
}

type v1LineageQuery struct {
	RunID   string `json:"run_id,omitempty" doc:"Versions registered from this run."`
	Dataset string `json:"dataset,omitempty" doc:"Versions trained on the dataset with this digest (sha256:...)."`
}

// v1 handlers.

func v1ModelResp(m registry.Model, err error) (v1ModelResponse, error) {
	if err != nil {
		return v1ModelResponse{}, err
	}
	return v1ModelResponse{toV1RegisteredModel(m)}, nil
}

func v1VersionResp(v registry.Version, err error) (v1VersionResponse, error) {
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResponse{toV1ModelVersion(v)}, nil
}

func v1VersionsResp(vs []registry.Version, next string, err error) (v1VersionList, error) {
	if err != nil {
		return v1VersionList{}, err
	}
	out := v1VersionList{ModelVersions: make([]v1ModelVersion, 0, len(vs)), NextPageToken: next}
	for _, v := range vs {
		out.ModelVersions = append(out.ModelVersions, toV1ModelVersion(v))
	}
	return out, nil
}

func (s *Server) v1SearchModels(r *http.Request, req *v1ModelsQuery) (v1ModelList, error) {
	ms, next, err := s.models.SearchModels(r.Context(), registry.Search{Filter: req.Filter, OrderBy: req.OrderBy, MaxResults: int64(req.MaxResults), PageToken: req.PageToken})
	if err != nil {
		return v1ModelList{}, err
	}
	out := v1ModelList{RegisteredModels: make([]v1RegisteredModel, 0, len(ms)), NextPageToken: next}
	for _, m := range ms {
		out.RegisteredModels = append(out.RegisteredModels, toV1RegisteredModel(m))
	}
	return out, nil
}

func (s *Server) v1CreateModel(r *http.Request, req *v1CreateModelRequest) (v1ModelResponse, error) {
	ctx := r.Context()
	if err := requiredField("name", req.Name); err != nil {
		return v1ModelResponse{}, err
	}
	return v1ModelResp(s.models.CreateModel(ctx, req.Name, req.Description, toRegistryTags(req.Tags)))
}

func (s *Server) v1GetModel(r *http.Request, _ *v1NoInput) (v1ModelResponse, error) {
	return v1ModelResp(s.models.GetModel(r.Context(), r.PathValue("name")))
}

func (s *Server) v1UpdateModel(r *http.Request, req *v1UpdateModelRequest) (v1ModelResponse, error) {
	ctx := r.Context()
	name := r.PathValue("name")
	if req.Name != "" && req.Name != name {
		if _, err := s.models.RenameModel(ctx, name, req.Name); err != nil {
			return v1ModelResponse{}, err
		}
		name = req.Name
	}
	if req.Description != nil {
		return v1ModelResp(s.models.SetModelDescription(ctx, name, *req.Description))
	}
	return v1ModelResp(s.models.GetModel(ctx, name))
}

func (s *Server) v1DeleteModel(r *http.Request, _ *v1NoInput) (empty, error) {
	ctx := r.Context()
	return empty{}, s.models.DeleteModel(ctx, r.PathValue("name"))
}

func (s *Server) v1RegisterVersion(r *http.Request, req *v1RegisterVersionRequest) (v1VersionResponse, error) {
	ctx := r.Context()
	if err := requiredField("source", req.Source); err != nil {
		return v1VersionResponse{}, err
	}
	if req.UploadID != "" {
		return v1VersionResp(s.registerUpload(ctx, r.PathValue("name"), req))
	}
	return v1VersionResp(s.models.RegisterVersion(ctx, r.PathValue("name"), registerSource(req.Source), req.RunID, req.Description, toRegistryTags(req.Tags), true))
}

func (s *Server) v1ListVersions(r *http.Request, req *v1VersionsQuery) (v1VersionList, error) {
	return v1VersionsResp(s.models.ListVersions(r.Context(), registry.VersionQuery{Name: r.PathValue("name"), MaxResults: int(req.MaxResults), PageToken: req.PageToken}))
}

// pathVersion reads the {name} and {version} of r's path.
func pathVersion(r *http.Request) (string, int, error) {
	v, err := parseVersion(r.PathValue("version"))
	return r.PathValue("name"), v, err
}

func (s *Server) v1GetVersion(r *http.Request, _ *v1NoInput) (v1VersionResponse, error) {
	name, version, err := pathVersion(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResp(s.models.GetVersion(r.Context(), name, version))
}

func (s *Server) v1DeleteVersion(r *http.Request, _ *v1NoInput) (empty, error) {
	ctx := r.Context()
	name, version, err := pathVersion(r)
	if err != nil {
		return empty{}, err
	}
	return empty{}, s.models.DeleteVersion(ctx, name, version)
}

func (s *Server) v1Promote(r *http.Request, req *v1PromoteRequest) (v1VersionResponse, error) {
	ctx := r.Context()
	name, version, err := pathVersion(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	if err := requiredField("target", req.Target); err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResp(s.models.Promote(ctx, name, version, req.Target, req.Reason, req.ArchiveExisting))
}

func (s *Server) v1Decide(r *http.Request, req *v1DecideRequest, approve bool) (v1DecisionResponse, error) {
	ctx := r.Context()
	name, version, err := pathVersion(r)
	if err != nil {
		return v1DecisionResponse{}, err
	}
	if err := requiredField("target", req.Target); err != nil {
		return v1DecisionResponse{}, err
	}
	d, err := s.models.Decide(ctx, name, version, req.Target, approve, req.Comment)
	if err != nil {
		return v1DecisionResponse{}, err
	}
	return v1DecisionResponse{toV1Request(d)}, nil
}

func (s *Server) v1Approve(r *http.Request, req *v1DecideRequest) (v1DecisionResponse, error) {
	return s.v1Decide(r, req, true)
}

func (s *Server) v1Reject(r *http.Request, req *v1DecideRequest) (v1DecisionResponse, error) {
	return s.v1Decide(r, req, false)
}

func (s *Server) v1RecordCheck(r *http.Request, req *v1CheckRequest) (v1CheckResponse, error) {
	ctx := r.Context()
	name, version, err := pathVersion(r)
	if err != nil {
		return v1CheckResponse{}, err
	}
	details := ""
	if req.Details != nil {
		b, err := json.Marshal(req.Details)
		if err != nil {
			return v1CheckResponse{}, ferry.Errorf(ferry.EINVALID, "Field 'details' must be a JSON value.")
		}
		details = string(b)
	}
	c, err := s.models.RecordCheck(ctx, name, version, req.Kind, req.Verdict, details)
	if err != nil {
		return v1CheckResponse{}, err
	}
	return v1CheckResponse{toV1Check(c)}, nil
}

func (s *Server) v1SetAlias(r *http.Request, req *v1SetAliasRequest) (v1VersionResponse, error) {
	ctx := r.Context()
	name, alias := r.PathValue("name"), r.PathValue("alias")
	if err := registry.ValidateAlias(alias); err != nil {
		return v1VersionResponse{}, err
	}
	if req.Version <= 0 {
		return v1VersionResponse{}, ferry.Errorf(ferry.EINVALID, "Missing value for required field 'version': the version number the alias points at.")
	}
	return v1VersionResp(s.models.SetAlias(ctx, name, alias, int(req.Version), req.Reason))
}

func (s *Server) v1DeleteAlias(r *http.Request, _ *v1NoInput) (empty, error) {
	ctx := r.Context()
	return empty{}, s.models.DeleteAlias(ctx, r.PathValue("name"), r.PathValue("alias"))
}

func (s *Server) v1History(r *http.Request, _ *v1NoInput) (v1HistoryResponse, error) {
	evs, err := s.models.History(r.Context(), r.PathValue("name"))
	if err != nil {
		return v1HistoryResponse{}, err
	}
	out := v1HistoryResponse{Events: make([]v1AuditEvent, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, v1AuditEvent{
			ID: e.ID, Time: e.Time, Principal: e.Principal, Action: e.Action, Model: e.Model,
			Version: e.Version, From: e.From, To: e.To, Reason: e.Reason,
		})
	}
	return out, nil
}

func (s *Server) v1Resolve(r *http.Request, req *v1ResolveQuery) (v1VersionResponse, error) {
	if err := requiredField("uri", req.URI); err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResp(s.models.Resolve(r.Context(), req.URI))
}

func (s *Server) v1VersionLineage(r *http.Request, _ *v1NoInput) (v1Lineage, error) {
	name, version, err := pathVersion(r)
	if err != nil {
		return v1Lineage{}, err
	}
	v, err := s.models.GetVersion(r.Context(), name, version)
	if err != nil {
		return v1Lineage{}, err
	}
	out := v1Lineage{Version: toV1ModelVersion(v), GitCommit: v.GitCommit, GitDirty: v.GitDirty, Datasets: []v1LineageDataset{}}
	var run tracking.Run
	if v.RunID != "" {
		run, err = s.tracking.GetRun(r.Context(), v.RunID)
		switch ferry.ErrorCode(err) {
		case "":
			w := toWireRun(run)
			out.Run = &w
		case ferry.ENOTFOUND:
		default:
			return v1Lineage{}, err
		}
	}
	for _, d := range v.DatasetDigests {
		ds := v1LineageDataset{Digest: d}
		for _, in := range run.Inputs {
			if sameDigest(d, in.Dataset.Digest) {
				ds.Name, ds.Source = in.Dataset.Name, in.Dataset.Source
				break
			}
		}
		out.Datasets = append(out.Datasets, ds)
	}
	return out, nil
}

func (s *Server) v1SearchLineage(r *http.Request, req *v1LineageQuery) (v1VersionList, error) {
	if req.RunID == "" && req.Dataset == "" {
		return v1VersionList{}, ferry.Errorf(ferry.EINVALID, "Give run_id=<run id> or dataset=<digest> to find the versions made from it.")
	}
	out, err := v1VersionsResp(s.models.ListVersions(r.Context(), registry.VersionQuery{RunID: req.RunID, Dataset: req.Dataset, MaxResults: registry.VersionSearchMax}))
	out.NextPageToken = ""
	return out, err
}
