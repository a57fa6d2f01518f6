package httpapi

import (
	"net/http"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

// routeRegistry registers MLflow's model-registry REST API under both of the
// prefixes MLflow serves it on. The request and response shapes, methods and
// error codes are those of MLflow's model_registry.proto.
func (s *Server) routeRegistry() {
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		h := func(method, path string, fn http.HandlerFunc) { s.mux.HandleFunc(method+" "+prefix+path, fn) }
		h("POST", "registered-models/create", mlflowRegistry(s, s.mlflowCreateModel))
		h("GET", "registered-models/get", mlflowRegistry(s, s.mlflowGetModel))
		h("POST", "registered-models/rename", mlflowRegistry(s, s.mlflowRenameModel))
		h("PATCH", "registered-models/update", mlflowRegistry(s, s.mlflowUpdateModel))
		h("DELETE", "registered-models/delete", mlflowRegistry(s, s.mlflowDeleteModel))
		h("GET", "registered-models/search", mlflowRegistry(s, s.mlflowSearchModels))
		h("GET", "registered-models/get-latest-versions", mlflowRegistry(s, s.mlflowLatestVersions))
		h("POST", "registered-models/get-latest-versions", mlflowRegistry(s, s.mlflowLatestVersions))
		h("POST", "registered-models/set-tag", mlflowRegistry(s, s.mlflowSetModelTag))
		h("DELETE", "registered-models/delete-tag", mlflowRegistry(s, s.mlflowDeleteModelTag))
		h("POST", "registered-models/alias", mlflowRegistry(s, s.mlflowSetAlias))
		h("DELETE", "registered-models/alias", mlflowRegistry(s, s.mlflowDeleteAlias))
		h("GET", "registered-models/alias", mlflowRegistry(s, s.mlflowGetByAlias))
		h("POST", "model-versions/create", mlflowRegistry(s, s.mlflowCreateVersion))
		h("GET", "model-versions/get", mlflowRegistry(s, s.mlflowGetVersion))
		h("PATCH", "model-versions/update", mlflowRegistry(s, s.mlflowUpdateVersion))
		h("DELETE", "model-versions/delete", mlflowRegistry(s, s.mlflowDeleteVersion))
		h("GET", "model-versions/search", mlflowRegistry(s, s.mlflowSearchVersions))
		h("POST", "model-versions/transition-stage", mlflowRegistry(s, s.mlflowTransitionStage))
		h("GET", "model-versions/get-download-uri", mlflowRegistry(s, s.mlflowDownloadURI))
		h("POST", "model-versions/set-tag", mlflowRegistry(s, s.mlflowSetVersionTag))
		h("DELETE", "model-versions/delete-tag", mlflowRegistry(s, s.mlflowDeleteVersionTag))
	}
}

// mlflowRegistry adapts a registry handler as mlflow does, and also reads a
// DELETE request without a body from its query string, as some MLflow
// clients send it.
func mlflowRegistry[Req any](s *Server, fn func(*http.Request, *Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		var err error
		if r.Method == http.MethodDelete && r.ContentLength == 0 && r.URL.RawQuery != "" {
			err = decodeQuery(r, &req)
		} else {
			err = s.decodeRequest(r, &req)
		}
		if err != nil {
			writeError(w, r, s.log, styleMLflow, err)
			return
		}
		resp, err := fn(r, &req)
		if err != nil {
			writeError(w, r, s.log, styleMLflow, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// MLflow registered-model handlers.

type mlflowModelReq struct {
	Name        string    `json:"name"`
	NewName     string    `json:"new_name"`
	Description *string   `json:"description"`
	Tags        []wireTag `json:"tags"`
	Key         string    `json:"key"`
	Value       string    `json:"value"`
}

type mlflowModelResp struct {
	RegisteredModel wireRegisteredModel `json:"registered_model"`
}

func modelResp(m registry.Model, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return mlflowModelResp{toWireRegisteredModel(m)}, nil
}

func (s *Server) mlflowCreateModel(r *http.Request, req *mlflowModelReq) (any, error) {
	ctx := r.Context()
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	desc := ""
	if req.Description != nil {
		desc = *req.Description
	}
	return modelResp(s.models.CreateModel(ctx, req.Name, desc, toRegistryTags(req.Tags)))
}

func (s *Server) mlflowGetModel(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	return modelResp(s.models.GetModel(r.Context(), req.Name))
}

func (s *Server) mlflowRenameModel(r *http.Request, req *mlflowModelReq) (any, error) {
	ctx := r.Context()
	if err := requiredAll("name", req.Name, "new_name", req.NewName); err != nil {
		return nil, err
	}
	return modelResp(s.models.RenameModel(ctx, req.Name, req.NewName))
}

func (s *Server) mlflowUpdateModel(r *http.Request, req *mlflowModelReq) (any, error) {
	ctx := r.Context()
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if req.Description == nil {
		return modelResp(s.models.GetModel(ctx, req.Name))
	}
	return modelResp(s.models.SetModelDescription(ctx, req.Name, *req.Description))
}

func (s *Server) mlflowDeleteModel(r *http.Request, req *mlflowModelReq) (any, error) {
	ctx := r.Context()
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	return empty{}, s.models.DeleteModel(ctx, req.Name)
}

type mlflowSearchReq struct {
	Filter     string    `json:"filter"`
	MaxResults flexInt64 `json:"max_results"`
	OrderBy    []string  `json:"order_by"`
	PageToken  string    `json:"page_token"`
}

func (req *mlflowSearchReq) search() registry.Search {
	return registry.Search{Filter: req.Filter, OrderBy: req.OrderBy, MaxResults: int64(req.MaxResults), PageToken: req.PageToken}
}

type mlflowSearchModelsResp struct {
	RegisteredModels []wireRegisteredModel `json:"registered_models,omitempty"`
	NextPageToken    string                `json:"next_page_token,omitempty"`
}

func (s *Server) mlflowSearchModels(r *http.Request, req *mlflowSearchReq) (any, error) {
	ms, next, err := s.models.SearchModels(r.Context(), req.search())
	if err != nil {
		return nil, err
	}
	resp := mlflowSearchModelsResp{NextPageToken: next}
	for _, m := range ms {
		resp.RegisteredModels = append(resp.RegisteredModels, toWireRegisteredModel(m))
	}
	return resp, nil
}

type mlflowLatestReq struct {
	Name   string   `json:"name"`
	Stages []string `json:"stages"`
}

type mlflowVersionsResp struct {
	ModelVersions []wireModelVersion `json:"model_versions,omitempty"`
	NextPageToken string             `json:"next_page_token,omitempty"`
}

func versionsResp(vs []registry.Version, next string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	resp := mlflowVersionsResp{NextPageToken: next}
	for _, v := range vs {
		wv := toWireModelVersion(v)
		wv.Aliases = nil // MLflow lists aliases with a single version, not in searches
		resp.ModelVersions = append(resp.ModelVersions, wv)
	}
	return resp, nil
}

func (s *Server) mlflowLatestVersions(r *http.Request, req *mlflowLatestReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	vs, err := s.models.LatestVersions(r.Context(), req.Name, req.Stages)
	return versionsResp(vs, "", err)
}

func (s *Server) mlflowSetModelTag(r *http.Request, req *mlflowModelReq) (any, error) {
	ctx := r.Context()
	if err := requiredAll("name", req.Name, "key", req.Key); err != nil {
		return nil, err
	}
	return empty{}, s.models.SetModelTag(ctx, req.Name, registry.Tag{Key: req.Key, Value: req.Value})
}

func (s *Server) mlflowDeleteModelTag(r *http.Request, req *mlflowModelReq) (any, error) {
	ctx := r.Context()
	if err := requiredAll("name", req.Name, "key", req.Key); err != nil {
		return nil, err
	}
	err := s.models.DeleteModelTag(ctx, req.Name, req.Key)
	return empty{}, absentIsDone(err, func() error { _, err := s.models.GetModel(ctx, req.Name); return err })
}

// absentIsDone makes deleting a tag or alias that is not there succeed, as
// MLflow's registry does, when exists (the model or version) answers nil;
// an unknown model or version stays ENOTFOUND.
func absentIsDone(err error, exists func() error) error {
	if ferry.ErrorCode(err) != ferry.ENOTFOUND {
		return err
	}
	if exists() == nil {
		return nil
	}
	return err
}

type mlflowAliasReq struct {
	Name    string   `json:"name"`
	Alias   string   `json:"alias"`
	Version idString `json:"version"`
}

func (s *Server) mlflowSetAlias(r *http.Request, req *mlflowAliasReq) (any, error) {
	ctx := r.Context()
	if err := requiredAll("name", req.Name, "alias", req.Alias, "version", string(req.Version)); err != nil {
		return nil, err
	}
	version, err := parseVersion(string(req.Version))
	if err != nil {
		return nil, err
	}
	if err := registry.ValidateAlias(req.Alias); err != nil {
		return nil, err
	}
	if _, err := s.models.SetAlias(ctx, req.Name, req.Alias, version, ""); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) mlflowDeleteAlias(r *http.Request, req *mlflowAliasReq) (any, error) {
	ctx := r.Context()
	if err := requiredAll("name", req.Name, "alias", req.Alias); err != nil {
		return nil, err
	}
	err := s.models.DeleteAlias(ctx, req.Name, req.Alias)
	return empty{}, absentIsDone(err, func() error { _, err := s.models.GetModel(ctx, req.Name); return err })
}

type mlflowVersionResp struct {
	ModelVersion wireModelVersion `json:"model_version"`
}

func versionResp(v registry.Version, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return mlflowVersionResp{toWireModelVersion(v)}, nil
}

func (s *Server) mlflowGetByAlias(r *http.Request, req *mlflowAliasReq) (any, error) {
	if err := requiredAll("name", req.Name, "alias", req.Alias); err != nil {
		return nil, err
	}
	return versionResp(s.models.VersionByAlias(r.Context(), req.Name, req.Alias))
}

// MLflow model-version handlers.

type mlflowCreateVersionReq struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"`
	RunID       string    `json:"run_id"`
	Tags        []wireTag `json:"tags"`
	RunLink     string    `json:"run_link"`
	Description string    `json:"description"`
	ModelID     string    `json:"model_id"` // MLflow 3: the logged model; its source is models:/<model_id>
}

func (s *Server) mlflowCreateVersion(r *http.Request, req *mlflowCreateVersionReq) (any, error) {
	ctx := r.Context()
	if req.Source == "" && req.ModelID != "" {
		req.Source = "models:/" + req.ModelID
	}
	if err := requiredAll("name", req.Name, "source", req.Source); err != nil {
		return nil, err
	}
	return versionResp(s.models.RegisterVersion(ctx, req.Name, registerSource(req.Source), req.RunID, req.Description, toRegistryTags(req.Tags), false))
}

type mlflowVersionReq struct {
	Name                    string   `json:"name"`
	Version                 idString `json:"version"`
	Description             *string  `json:"description"`
	Stage                   string   `json:"stage"`
	ArchiveExistingVersions bool     `json:"archive_existing_versions"`
	Key                     string   `json:"key"`
	Value                   string   `json:"value"`
}

// nameVersion checks and returns the request's name and version.
func (req *mlflowVersionReq) nameVersion() (string, int, error) {
	if err := required("name", req.Name); err != nil {
		return "", 0, err
	}
	if err := required("version", string(req.Version)); err != nil {
		return "", 0, err
	}
	v, err := parseVersion(string(req.Version))
	return req.Name, v, err
}

func (s *Server) mlflowGetVersion(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	return versionResp(s.models.GetVersion(r.Context(), name, version))
}

func (s *Server) mlflowUpdateVersion(r *http.Request, req *mlflowVersionReq) (any, error) {
	ctx := r.Context()
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if req.Description == nil {
		return versionResp(s.models.GetVersion(ctx, name, version))
	}
	return versionResp(s.models.SetVersionDescription(ctx, name, version, *req.Description))
}

func (s *Server) mlflowDeleteVersion(r *http.Request, req *mlflowVersionReq) (any, error) {
	ctx := r.Context()
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	return empty{}, s.models.DeleteVersion(ctx, name, version)
}

func (s *Server) mlflowSearchVersions(r *http.Request, req *mlflowSearchReq) (any, error) {
	return versionsResp(s.models.SearchVersions(r.Context(), req.search()))
}

func (s *Server) mlflowTransitionStage(r *http.Request, req *mlflowVersionReq) (any, error) {
	ctx := r.Context()
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if err := required("stage", req.Stage); err != nil {
		return nil, err
	}
	stage, err := registry.NormalizeStage(req.Stage)
	if err != nil {
		return nil, err
	}
	return versionResp(s.models.Promote(ctx, name, version, stage, "", req.ArchiveExistingVersions))
}

func (s *Server) mlflowDownloadURI(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	v, err := s.models.GetVersion(r.Context(), name, version)
	if err != nil {
		return nil, err
	}
	return map[string]string{"artifact_uri": downloadURI(v)}, nil
}

func (s *Server) mlflowSetVersionTag(r *http.Request, req *mlflowVersionReq) (any, error) {
	ctx := r.Context()
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return empty{}, s.models.SetVersionTag(ctx, name, version, registry.Tag{Key: req.Key, Value: req.Value})
}

func (s *Server) mlflowDeleteVersionTag(r *http.Request, req *mlflowVersionReq) (any, error) {
	ctx := r.Context()
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	err = s.models.DeleteVersionTag(ctx, name, version, req.Key)
	return empty{}, absentIsDone(err, func() error { _, err := s.models.GetVersion(ctx, name, version); return err })
}
