package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// routeLoggedModels registers MLflow 3's logged-model routes (service.proto:
// CreateLoggedModel, GetLoggedModel, FinalizeLoggedModel, DeleteLoggedModel,
// SearchLoggedModels, SetLoggedModelTags, DeleteLoggedModelTag,
// LogLoggedModelParamsRequest, ListLoggedModelArtifacts, LogOutputs), the
// artifact download MLflow's UI uses, and answers the trace routes with
// NOT_IMPLEMENTED. A logged model's files are uploaded through the artifact
// proxy under its artifact_uri, as MLflow's client does.
func (s *Server) routeLoggedModels() {
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		h := func(method, path string, fn http.HandlerFunc) { s.mux.HandleFunc(method+" "+prefix+path, fn) }
		h("POST", "logged-models", mlflowRegistry(s, s.mlflowCreateLoggedModel))
		h("POST", "logged-models/search", mlflowRegistry(s, s.mlflowSearchLoggedModels))
		h("GET", "logged-models/{model_id}", mlflowRegistry(s, s.mlflowGetLoggedModel))
		h("PATCH", "logged-models/{model_id}", mlflowRegistry(s, s.mlflowFinalizeLoggedModel))
		h("DELETE", "logged-models/{model_id}", mlflowRegistry(s, s.mlflowDeleteLoggedModel))
		h("PATCH", "logged-models/{model_id}/tags", mlflowRegistry(s, s.mlflowSetLoggedModelTags))
		h("DELETE", "logged-models/{model_id}/tags/{tag_key}", mlflowRegistry(s, s.mlflowDeleteLoggedModelTag))
		h("POST", "logged-models/{model_id}/params", mlflowRegistry(s, s.mlflowLogLoggedModelParams))
		h("GET", "logged-models/{model_id}/artifacts/directories", mlflowRegistry(s, s.mlflowListLoggedModelArtifacts))
		h("GET", "logged-models/{model_id}/artifacts/files", s.mlflowGetLoggedModelArtifact)
		h("POST", "runs/outputs", mlflow(s, s.mlflowLogOutputs))
		s.mux.HandleFunc(prefix+"traces", s.mlflowTracesNotSupported)
		s.mux.HandleFunc(prefix+"traces/{rest...}", s.mlflowTracesNotSupported)
	}
}

// mlflowTracesNotSupported answers every trace route.
func (s *Server) mlflowTracesNotSupported(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, s.log, styleMLflow, ferry.Errorf(ferry.ENOTIMPLEMENTED,
		"Tracing is not supported by this server (Ferry): %s %s is not implemented. Disable MLflow tracing or send traces to an MLflow server.", r.Method, clip(r.URL.Path)))
}

type wireLoggedModelInfo struct {
	ModelID                string    `json:"model_id"`
	ExperimentID           string    `json:"experiment_id"`
	Name                   string    `json:"name"`
	CreationTimestampMS    int64     `json:"creation_timestamp_ms"`
	LastUpdatedTimestampMS int64     `json:"last_updated_timestamp_ms"`
	ArtifactURI            string    `json:"artifact_uri"`
	Status                 string    `json:"status"`
	ModelType              string    `json:"model_type,omitempty"`
	SourceRunID            string    `json:"source_run_id,omitempty"`
	StatusMessage          string    `json:"status_message,omitempty"`
	Tags                   []wireTag `json:"tags,omitempty"`
}

type wireLoggedModelData struct {
	Params []wireTag `json:"params,omitempty"`
}

type wireLoggedModel struct {
	Info wireLoggedModelInfo `json:"info"`
	Data wireLoggedModelData `json:"data"`
}

type loggedModelResp struct {
	Model wireLoggedModel `json:"model"`
}

func toWireLoggedModel(m tracking.LoggedModel) wireLoggedModel {
	return wireLoggedModel{
		Info: wireLoggedModelInfo{
			ModelID: m.ID, ExperimentID: m.ExperimentID, Name: m.Name, CreationTimestampMS: m.CreationTime,
			LastUpdatedTimestampMS: m.LastUpdatedTime, ArtifactURI: m.ArtifactLocation, Status: m.Status,
			ModelType: m.ModelType, SourceRunID: m.SourceRunID, StatusMessage: m.StatusMessage, Tags: toWireTags(m.Tags),
		},
		Data: wireLoggedModelData{Params: toWireTags(m.Params)},
	}
}

func loggedModelResult(m tracking.LoggedModel, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return loggedModelResp{toWireLoggedModel(m)}, nil
}

// wireEnum is a proto enum in JSON: its name as a string, or its number.
type wireEnum string

func (e *wireEnum) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = wireEnum(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return ferry.Errorf(ferry.EINVALID, "Invalid value for an enum field: expected a name or a number, got %s.", clip(string(b)))
	}
	*e = wireEnum(n.String())
	return nil
}

type createLoggedModelReq struct {
	ExperimentID idString  `json:"experiment_id"`
	Name         string    `json:"name"`
	ModelType    string    `json:"model_type"`
	SourceRunID  string    `json:"source_run_id"`
	Params       []wireTag `json:"params"`
	Tags         []wireTag `json:"tags"`
}

func (s *Server) mlflowCreateLoggedModel(r *http.Request, req *createLoggedModelReq) (any, error) {
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return nil, err
	}
	return loggedModelResult(s.tracking.CreateLoggedModel(r.Context(), tracking.LoggedModelCreate{
		ExperimentID: string(req.ExperimentID), Name: req.Name, ModelType: req.ModelType, SourceRunID: req.SourceRunID,
		Params: fromWireParams(req.Params), Tags: fromWireTags(req.Tags),
	}))
}

// loggedModelReq is the body of requests on one logged model; the ID comes
// from the path, as MLflow routes it.
type loggedModelReq struct {
	Status wireEnum  `json:"status"`
	Tags   []wireTag `json:"tags"`
	Params []wireTag `json:"params"`
}

func (s *Server) mlflowGetLoggedModel(r *http.Request, _ *loggedModelReq) (any, error) {
	return loggedModelResult(s.tracking.GetLoggedModel(r.Context(), r.PathValue("model_id")))
}

func (s *Server) mlflowFinalizeLoggedModel(r *http.Request, req *loggedModelReq) (any, error) {
	if err := required("status", string(req.Status)); err != nil {
		return nil, err
	}
	return loggedModelResult(s.tracking.FinalizeLoggedModel(r.Context(), r.PathValue("model_id"), string(req.Status)))
}

func (s *Server) mlflowDeleteLoggedModel(r *http.Request, _ *loggedModelReq) (any, error) {
	return empty{}, s.tracking.DeleteLoggedModel(r.Context(), r.PathValue("model_id"))
}

// mlflowSetLoggedModelTags answers {} as MLflow's server does, though the
// proto's response may carry the model.
func (s *Server) mlflowSetLoggedModelTags(r *http.Request, req *loggedModelReq) (any, error) {
	_, err := s.tracking.SetLoggedModelTags(r.Context(), r.PathValue("model_id"), fromWireTags(req.Tags))
	return empty{}, err
}

func (s *Server) mlflowDeleteLoggedModelTag(r *http.Request, _ *loggedModelReq) (any, error) {
	return empty{}, s.tracking.DeleteLoggedModelTag(r.Context(), r.PathValue("model_id"), r.PathValue("tag_key"))
}

func (s *Server) mlflowLogLoggedModelParams(r *http.Request, req *loggedModelReq) (any, error) {
	return empty{}, s.tracking.LogLoggedModelParams(r.Context(), r.PathValue("model_id"), fromWireParams(req.Params))
}

type searchLoggedModelsReq struct {
	ExperimentIDs []idString `json:"experiment_ids"`
	Filter        string     `json:"filter"`
	MaxResults    flexInt64  `json:"max_results"`
	OrderBy       []struct {
		FieldName     string `json:"field_name"`
		Ascending     *bool  `json:"ascending"`
		DatasetName   string `json:"dataset_name"`
		DatasetDigest string `json:"dataset_digest"`
	} `json:"order_by"`
	PageToken string `json:"page_token"`
}

type searchLoggedModelsResp struct {
	Models        []wireLoggedModel `json:"models,omitempty"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

func (s *Server) mlflowSearchLoggedModels(r *http.Request, req *searchLoggedModelsReq) (any, error) {
	search := tracking.LoggedModelSearch{Filter: req.Filter, MaxResults: int(req.MaxResults), PageToken: req.PageToken}
	for _, id := range req.ExperimentIDs {
		search.ExperimentIDs = append(search.ExperimentIDs, string(id))
	}
	for _, o := range req.OrderBy {
		if err := required("order_by.field_name", o.FieldName); err != nil {
			return nil, err
		}
		ob, err := tracking.ParseLoggedModelOrderBy(o.FieldName, o.Ascending == nil || *o.Ascending)
		if err != nil {
			return nil, err
		}
		search.OrderBy = append(search.OrderBy, ob)
	}
	models, next, err := s.tracking.SearchLoggedModels(r.Context(), search)
	if err != nil {
		return nil, err
	}
	resp := searchLoggedModelsResp{NextPageToken: next}
	for _, m := range models {
		resp.Models = append(resp.Models, toWireLoggedModel(m))
	}
	return resp, nil
}

// loggedModelRoot returns a logged model's artifact location and the key of
// that location in this server's artifact store.
func (s *Server) loggedModelRoot(ctx context.Context, id string) (root, key string, err error) {
	m, err := s.tracking.GetLoggedModel(ctx, id)
	if err != nil {
		return "", "", err
	}
	key, ok := proxiedKey(m.ArtifactLocation)
	if !ok {
		return "", "", ferry.Errorf(ferry.EINVALID, "The artifacts of logged model %s are stored at %s, outside this server; read them there.", id, m.ArtifactLocation)
	}
	return m.ArtifactLocation, key, nil
}

type listLoggedModelArtifactsReq struct {
	ArtifactDirectoryPath string `json:"artifact_directory_path"`
	PageToken             string `json:"page_token"`
}

// mlflowListLoggedModelArtifacts lists a logged model's artifacts under a
// directory, naming entries by their path relative to the model's root.
func (s *Server) mlflowListLoggedModelArtifacts(r *http.Request, req *listLoggedModelArtifactsReq) (any, error) {
	root, rootKey, err := s.loggedModelRoot(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return nil, err
	}
	sub, err := blob.CleanKey(req.ArtifactDirectoryPath)
	if err != nil {
		return nil, err
	}
	files, err := s.list(r.Context(), blob.Join(rootKey, sub), func(p string) string { return strings.TrimPrefix(p, rootKey+"/") })
	if err != nil {
		return nil, err
	}
	return listArtifactsResp{RootURI: root, Files: files}, nil
}

// mlflowGetLoggedModelArtifact downloads one file of a logged model, named
// by ?artifact_file_path= relative to the model's root.
func (s *Server) mlflowGetLoggedModelArtifact(w http.ResponseWriter, r *http.Request) {
	rel := r.URL.Query().Get("artifact_file_path")
	if rel == "" {
		writeError(w, r, s.log, styleMLflow, ferry.Errorf(ferry.EINVALID, "Request must include the \"artifact_file_path\" query parameter."))
		return
	}
	_, rootKey, err := s.loggedModelRoot(r.Context(), r.PathValue("model_id"))
	if err == nil {
		rel, err = blob.CleanObjectKey(rel)
	}
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	s.sendArtifact(w, r, blob.Join(rootKey, rel))
}

type modelOutputsReq struct {
	runReq
	Models []struct {
		ModelID string    `json:"model_id"`
		Step    flexInt64 `json:"step"`
	} `json:"models"`
}

func (s *Server) mlflowLogOutputs(ctx context.Context, req *modelOutputsReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	outs := make([]tracking.ModelOutput, len(req.Models))
	for i, m := range req.Models {
		outs[i] = tracking.ModelOutput{ModelID: m.ModelID, Step: int64(m.Step)}
	}
	return empty{}, s.tracking.LogOutputs(ctx, id, outs)
}
