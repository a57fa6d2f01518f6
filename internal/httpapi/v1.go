package httpapi

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// v1Prefix is where Ferry's native REST API lives.
const v1Prefix = "/api/v1"

// v1Route is one route of the native API. The same table registers the
// handlers on the mux and generates the OpenAPI document (openapi.go), so the
// two cannot disagree.
type v1Route struct {
	method  string
	path    string // a ServeMux pattern path under v1Prefix; {x...} matches the rest, '/' included
	op      string // the OpenAPI operationId
	summary string
	// request is the JSON body's type (nil: none; v1BinaryType: raw bytes).
	request reflect.Type
	// response is the success response's JSON type (v1BinaryType: raw bytes).
	response reflect.Type
	// query is a struct whose fields, by their json names, are the query
	// parameters (nil: none). The handler decodes the query string into it.
	query reflect.Type
	// csv, when set, describes a CSV body (Content-Type text/csv) the
	// route takes instead of the JSON request.
	csv     string
	status  int
	handler http.HandlerFunc
}

// v1Binary stands for a request or response body of raw bytes.
type v1Binary struct{}

var v1BinaryType = reflect.TypeFor[v1Binary]()

// v1NoInput is the input of a handler that reads neither a body nor a query.
type v1NoInput struct{}

// routeV1 registers the native REST API under /api/v1.
func (s *Server) routeV1() {
	for _, rt := range s.v1Routes() {
		h := rt.handler
		if strings.HasPrefix(rt.path, "/runs/{id}") {
			h = s.v1ResolveRun(h)
		}
		s.mux.HandleFunc(rt.method+" "+v1Prefix+rt.path, h)
	}
}

// v1ResolveRun lets every /runs/{id} route take a unique prefix of a run ID
// (tracking.Service.ResolveRunID), as the CLI prints them: the handler sees
// the full ID.
func (s *Server) v1ResolveRun(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.tracking.ResolveRunID(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.log, styleFerry, err)
			return
		}
		r.SetPathValue("id", id)
		next(w, r)
	}
}

// v1Routes returns the route table of the native API.
func (s *Server) v1Routes() []v1Route {
	var routes []v1Route
	doc := sync.OnceValues(func() ([]byte, error) { return openAPIDocument(routes) })
	routes = []v1Route{
		v1JSON(s, "GET", "/experiments", "searchExperiments", "List and search experiments.", http.StatusOK, s.v1SearchExperiments),
		v1JSON(s, "POST", "/experiments", "createExperiment", "Create an experiment.", http.StatusCreated, s.v1CreateExperiment),
		v1JSON(s, "GET", "/experiments/{id}", "getExperiment", "Get an experiment by ID.", http.StatusOK, s.v1GetExperiment),
		v1JSON(s, "GET", "/experiments/by-name/{name...}", "getExperimentByName", "Get an experiment by name.", http.StatusOK, s.v1GetExperimentByName),
		v1JSON(s, "PATCH", "/experiments/{id}", "updateExperiment", "Rename an experiment.", http.StatusOK, s.v1UpdateExperiment),
		v1JSON(s, "DELETE", "/experiments/{id}", "deleteExperiment", "Mark an experiment and its runs deleted.", http.StatusOK, s.v1DeleteExperiment),
		v1JSON(s, "POST", "/experiments/{id}/restore", "restoreExperiment", "Restore a deleted experiment and its runs.", http.StatusOK, s.v1RestoreExperiment),
		v1JSON(s, "PUT", "/experiments/{id}/tags/{key...}", "setExperimentTag", "Set a tag on an experiment.", http.StatusOK, s.v1SetExperimentTag),
		v1JSON(s, "POST", "/runs", "createRun", "Start a run.", http.StatusCreated, s.v1CreateRun),
		v1JSON(s, "GET", "/runs/{id}", "getRun", "Get a run with its latest metrics, params, tags and inputs.", http.StatusOK, s.v1GetRun),
		v1JSON(s, "PATCH", "/runs/{id}", "updateRun", "Change a run's status, end time or name.", http.StatusOK, s.v1UpdateRun),
		v1JSON(s, "DELETE", "/runs/{id}", "deleteRun", "Mark a run deleted.", http.StatusOK, s.v1DeleteRun),
		v1JSON(s, "POST", "/runs/{id}/restore", "restoreRun", "Restore a deleted run.", http.StatusOK, s.v1RestoreRun),
		v1JSON(s, "POST", "/runs/{id}/log", "logBatch", "Log metrics, params and tags to a run, atomically.", http.StatusOK, s.v1LogBatch),
		v1JSON(s, "POST", "/runs/{id}/inputs", "logInputs", "Record datasets a run consumed.", http.StatusOK, s.v1LogInputs),
		v1JSON(s, "DELETE", "/runs/{id}/tags/{key...}", "deleteRunTag", "Delete a tag from a run.", http.StatusOK, s.v1DeleteRunTag),
		{
			method: "GET", path: "/runs/{id}/metrics/{key...}", op: "getMetricHistory",
			summary: "Get one page of a metric's history, ordered by step and timestamp.",
			query:   reflect.TypeFor[v1MetricHistoryQuery](), response: reflect.TypeFor[v1MetricPage](),
			status: http.StatusOK, handler: s.v1MetricHistory,
		},
		v1JSON(s, "GET", "/runs/{id}/artifacts", "listArtifacts", "List one directory of a run's artifacts.", http.StatusOK, s.v1ListArtifacts),
		{
			method: "PUT", path: "/runs/{id}/artifacts/{path...}", op: "uploadArtifact",
			summary: "Upload one artifact of a run, streaming the request body.",
			request: v1BinaryType, response: reflect.TypeFor[v1ArtifactUpload](),
			status: http.StatusOK, handler: s.v1PutArtifact,
		},
		{
			method: "GET", path: "/runs/{id}/artifacts/{path...}", op: "downloadArtifact",
			summary:  "Download one artifact of a run.",
			response: v1BinaryType, status: http.StatusOK, handler: s.v1GetArtifact,
		},
		v1JSON(s, "POST", "/runs/search", "searchRuns", "Search runs in experiments.", http.StatusOK, s.v1SearchRuns),
		{
			method: "GET", path: "/openapi.json", op: "getOpenAPI",
			summary:  "This API's OpenAPI 3.0.3 document.",
			response: reflect.TypeFor[map[string]any](), status: http.StatusOK,
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, err := doc()
				if err != nil {
					writeError(w, r, s.log, styleFerry, err)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write(b)
			},
		},
	}
	routes = append(routes, s.v1RegistryRoutes()...)        // registry.go
	routes = append(routes, s.v1TransferRoutes()...)        // transfer.go
	routes = append(routes, s.v1DeployRoutes()...)          // deploy.go
	routes = append(routes, s.v1RolloutRoutes()...)         // rollout.go
	routes = append(routes, s.v1MonitorRoutes()...)         // monitor.go
	routes = append(routes, s.v1MonitorResourceRoutes()...) // monitors.go
	return routes
}

// v1JSON builds a route whose handler decodes a Req — from the query string
// for GET, from the JSON body (bounded by the server's limit) otherwise, and
// not at all for v1NoInput — calls fn, and answers its result as JSON with
// status. The route's documented types are Req and Resp themselves.
func v1JSON[Req, Resp any](s *Server, method, path, op, summary string, status int, fn func(*http.Request, *Req) (Resp, error)) v1Route {
	rt := v1Route{method: method, path: path, op: op, summary: summary, response: reflect.TypeFor[Resp](), status: status}
	switch in := reflect.TypeFor[Req](); {
	case in == reflect.TypeFor[v1NoInput]():
	case method == http.MethodGet:
		rt.query = in
	default:
		rt.request = in
	}
	rt.handler = func(w http.ResponseWriter, r *http.Request) {
		var req Req
		var err error
		switch {
		case rt.query != nil:
			err = decodeQuery(r, &req)
		case rt.request != nil:
			err = decodeJSON(r, s.maxBody, &req)
		}
		if err != nil {
			writeError(w, r, s.log, styleFerry, err)
			return
		}
		resp, err := fn(r, &req)
		if err != nil {
			writeError(w, r, s.log, styleFerry, err)
			return
		}
		writeJSON(w, status, resp)
	}
	return rt
}

// decodeQuery fills the struct req points to from r's query parameters,
// matched to its fields by json name.
func decodeQuery(r *http.Request, req any) error {
	raw, err := queryJSON(r.URL.Query(), req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, req); err != nil {
		return jsonError(err)
	}
	return nil
}

// Request and response types. Fields without omitempty are required in the
// OpenAPI document; the doc tag describes a field there.

type v1ExperimentsQuery struct {
	Filter     string    `json:"filter,omitempty" doc:"A filter such as \"name LIKE 'fraud-%' AND tags.team = 'risk'\"."`
	ViewType   string    `json:"view_type,omitempty" doc:"ACTIVE_ONLY (the default), DELETED_ONLY or ALL."`
	OrderBy    []string  `json:"order_by,omitempty" doc:"Sort keys such as \"name ASC\" or \"creation_time DESC\"; repeat the parameter for several."`
	MaxResults flexInt64 `json:"max_results,omitempty" doc:"The page size (default 1000, at most 50000)."`
	PageToken  string    `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

type v1ExperimentList struct {
	Experiments   []wireExperiment `json:"experiments"`
	NextPageToken string           `json:"next_page_token,omitempty" doc:"Present when there are more results; pass it as page_token."`
}

type v1CreateExperimentRequest struct {
	Name             string    `json:"name"`
	ArtifactLocation string    `json:"artifact_location,omitempty" doc:"Where the experiment's runs store artifacts; by default under the server's artifact root."`
	Tags             []wireTag `json:"tags,omitempty"`
}

type v1UpdateExperimentRequest struct {
	Name string `json:"name,omitempty" doc:"The new name; absent or empty leaves the name unchanged."`
}

type v1ExperimentResponse struct {
	Experiment wireExperiment `json:"experiment"`
}

type v1SetTagRequest struct {
	Value *string `json:"value"`
}

type v1CreateRunRequest struct {
	ExperimentID idString  `json:"experiment_id,omitempty" doc:"The experiment to start the run in; default \"0\", the Default experiment."`
	RunName      string    `json:"run_name,omitempty" doc:"Default: the mlflow.runName tag, else a generated name."`
	UserID       string    `json:"user_id,omitempty"`
	StartTime    flexInt64 `json:"start_time,omitempty" doc:"Milliseconds since the Unix epoch; default now."`
	Tags         []wireTag `json:"tags,omitempty"`
}

type v1UpdateRunRequest struct {
	Status  string    `json:"status,omitempty" doc:"RUNNING, SCHEDULED, FINISHED, FAILED or KILLED; absent leaves it unchanged."`
	EndTime flexInt64 `json:"end_time,omitempty" doc:"Milliseconds since the Unix epoch; absent leaves it unchanged."`
	RunName string    `json:"run_name,omitempty" doc:"Absent leaves the name unchanged."`
}

type v1RunResponse struct {
	Run wireRun `json:"run"`
}

type v1LogBatchRequest struct {
	Metrics []wireMetric `json:"metrics,omitempty" doc:"At most 1000 points; a timestamp of 0 means now."`
	Params  []wireTag    `json:"params,omitempty" doc:"At most 100; a param's value never changes once logged."`
	Tags    []wireTag    `json:"tags,omitempty" doc:"At most 100."`
}

type v1LogInputsRequest struct {
	Datasets []wireDatasetInput `json:"datasets,omitempty"`
}

type v1MetricHistoryQuery struct {
	MaxResults flexInt64 `json:"max_results,omitempty" doc:"The page size; absent or 0 returns every point."`
	PageToken  string    `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

// v1MetricPage documents the metric history response, which
// Server.v1MetricHistory encodes by hand.
type v1MetricPage struct {
	Metrics       []wireMetric `json:"metrics"`
	NextPageToken string       `json:"next_page_token,omitempty" doc:"Present when there are more points; pass it as page_token."`
}

type v1ArtifactsQuery struct {
	Path string `json:"path,omitempty" doc:"The directory to list, relative to the run's artifact root; default the root."`
}

type v1ArtifactList struct {
	RootURI string         `json:"root_uri" doc:"The run's artifact root."`
	Files   []wireFileInfo `json:"files" doc:"The directory's entries, with paths relative to the artifact root."`
}

type v1ArtifactUpload struct {
	Path string `json:"path" doc:"The artifact's path relative to the run's artifact root."`
	Size int64  `json:"size" doc:"The number of bytes stored."`
}

type v1SearchRunsRequest struct {
	ExperimentIDs []idString `json:"experiment_ids" doc:"The experiments to search; at least one."`
	Filter        string     `json:"filter,omitempty" doc:"A filter such as \"metrics.rmse < 1 AND params.model = 'tree'\"."`
	ViewType      string     `json:"view_type,omitempty" doc:"ACTIVE_ONLY (the default), DELETED_ONLY or ALL."`
	OrderBy       []string   `json:"order_by,omitempty" doc:"Sort keys such as \"metrics.rmse ASC\"."`
	MaxResults    flexInt64  `json:"max_results,omitempty" doc:"The page size (default 1000, at most 50000)."`
	PageToken     string     `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

type v1RunList struct {
	Runs          []wireRun `json:"runs"`
	NextPageToken string    `json:"next_page_token,omitempty" doc:"Present when there are more results; pass it as page_token."`
}

// Experiments.

func (s *Server) v1SearchExperiments(r *http.Request, req *v1ExperimentsQuery) (v1ExperimentList, error) {
	exps, next, err := s.tracking.SearchExperiments(r.Context(), tracking.ExperimentSearch{
		Filter: req.Filter, ViewType: req.ViewType, OrderBy: req.OrderBy, MaxResults: int(req.MaxResults), PageToken: req.PageToken,
	})
	if err != nil {
		return v1ExperimentList{}, err
	}
	resp := v1ExperimentList{Experiments: make([]wireExperiment, 0, len(exps)), NextPageToken: next}
	for _, e := range exps {
		resp.Experiments = append(resp.Experiments, toWireExperiment(e))
	}
	return resp, nil
}

func (s *Server) v1CreateExperiment(r *http.Request, req *v1CreateExperimentRequest) (v1ExperimentResponse, error) {
	if err := requiredField("name", req.Name); err != nil {
		return v1ExperimentResponse{}, err
	}
	id, err := s.tracking.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, fromWireTags(req.Tags))
	if err != nil {
		return v1ExperimentResponse{}, err
	}
	return s.v1ExperimentByID(r, id)
}

func (s *Server) v1ExperimentByID(r *http.Request, id string) (v1ExperimentResponse, error) {
	e, err := s.tracking.GetExperiment(r.Context(), id)
	if err != nil {
		return v1ExperimentResponse{}, err
	}
	return v1ExperimentResponse{toWireExperiment(e)}, nil
}

func (s *Server) v1GetExperiment(r *http.Request, _ *v1NoInput) (v1ExperimentResponse, error) {
	return s.v1ExperimentByID(r, r.PathValue("id"))
}

func (s *Server) v1GetExperimentByName(r *http.Request, _ *v1NoInput) (v1ExperimentResponse, error) {
	name := r.PathValue("name")
	if name == "" {
		return v1ExperimentResponse{}, ferry.Errorf(ferry.EINVALID, "Missing experiment name: use /api/v1/experiments/by-name/{name}, with the name URL-escaped.")
	}
	e, err := s.tracking.GetExperimentByName(r.Context(), name)
	if err != nil {
		return v1ExperimentResponse{}, err
	}
	return v1ExperimentResponse{toWireExperiment(e)}, nil
}

func (s *Server) v1UpdateExperiment(r *http.Request, req *v1UpdateExperimentRequest) (v1ExperimentResponse, error) {
	id := r.PathValue("id")
	if req.Name != "" {
		if err := s.tracking.RenameExperiment(r.Context(), id, req.Name); err != nil {
			return v1ExperimentResponse{}, err
		}
	}
	return s.v1ExperimentByID(r, id)
}

func (s *Server) v1DeleteExperiment(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.tracking.DeleteExperiment(r.Context(), r.PathValue("id"))
}

func (s *Server) v1RestoreExperiment(r *http.Request, _ *v1NoInput) (v1ExperimentResponse, error) {
	id := r.PathValue("id")
	if err := s.tracking.RestoreExperiment(r.Context(), id); err != nil {
		return v1ExperimentResponse{}, err
	}
	return s.v1ExperimentByID(r, id)
}

func (s *Server) v1SetExperimentTag(r *http.Request, req *v1SetTagRequest) (empty, error) {
	if req.Value == nil {
		return empty{}, requiredField("value", "")
	}
	return empty{}, s.tracking.SetExperimentTag(r.Context(), r.PathValue("id"), tracking.Tag{Key: r.PathValue("key"), Value: *req.Value})
}

// Runs.

func (s *Server) v1CreateRun(r *http.Request, req *v1CreateRunRequest) (v1RunResponse, error) {
	run, err := s.tracking.CreateRun(r.Context(), tracking.RunCreate{
		ExperimentID: string(req.ExperimentID), UserID: req.UserID, RunName: req.RunName,
		StartTime: int64(req.StartTime), Tags: fromWireTags(req.Tags),
	})
	if err != nil {
		return v1RunResponse{}, err
	}
	return v1RunResponse{toWireRun(run)}, nil
}

func (s *Server) v1RunByID(r *http.Request, id string) (v1RunResponse, error) {
	run, err := s.tracking.GetRun(r.Context(), id)
	if err != nil {
		return v1RunResponse{}, err
	}
	return v1RunResponse{toWireRun(run)}, nil
}

func (s *Server) v1GetRun(r *http.Request, _ *v1NoInput) (v1RunResponse, error) {
	return s.v1RunByID(r, r.PathValue("id"))
}

func (s *Server) v1UpdateRun(r *http.Request, req *v1UpdateRunRequest) (v1RunResponse, error) {
	id := r.PathValue("id")
	if _, err := s.tracking.UpdateRun(r.Context(), id, tracking.RunUpdate{Status: req.Status, EndTime: int64(req.EndTime), RunName: req.RunName}); err != nil {
		return v1RunResponse{}, err
	}
	return s.v1RunByID(r, id)
}

func (s *Server) v1DeleteRun(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.tracking.DeleteRun(r.Context(), r.PathValue("id"))
}

func (s *Server) v1RestoreRun(r *http.Request, _ *v1NoInput) (v1RunResponse, error) {
	id := r.PathValue("id")
	if err := s.tracking.RestoreRun(r.Context(), id); err != nil {
		return v1RunResponse{}, err
	}
	return s.v1RunByID(r, id)
}

func (s *Server) v1LogBatch(r *http.Request, req *v1LogBatchRequest) (empty, error) {
	return empty{}, s.tracking.LogBatch(r.Context(), r.PathValue("id"), fromWireMetrics(req.Metrics), fromWireParams(req.Params), fromWireTags(req.Tags))
}

func (s *Server) v1LogInputs(r *http.Request, req *v1LogInputsRequest) (empty, error) {
	return empty{}, s.tracking.LogInputs(r.Context(), r.PathValue("id"), fromWireInputs(req.Datasets))
}

func (s *Server) v1DeleteRunTag(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.tracking.DeleteTag(r.Context(), r.PathValue("id"), r.PathValue("key"))
}

func (s *Server) v1SearchRuns(r *http.Request, req *v1SearchRunsRequest) (v1RunList, error) {
	ids := make([]string, len(req.ExperimentIDs))
	for i, id := range req.ExperimentIDs {
		ids[i] = string(id)
	}
	runs, next, err := s.tracking.SearchRuns(r.Context(), tracking.RunSearch{
		ExperimentIDs: ids, Filter: req.Filter, ViewType: req.ViewType, OrderBy: req.OrderBy,
		MaxResults: int(req.MaxResults), PageToken: req.PageToken,
	})
	if err != nil {
		return v1RunList{}, err
	}
	resp := v1RunList{Runs: make([]wireRun, 0, len(runs)), NextPageToken: next}
	for _, run := range runs {
		resp.Runs = append(resp.Runs, toWireRun(run))
	}
	return resp, nil
}

// v1MetricHistory answers one page of a metric's history. The response can
// hold hundreds of thousands of points, so it is encoded by hand.
func (s *Server) v1MetricHistory(w http.ResponseWriter, r *http.Request) {
	var q v1MetricHistoryQuery
	if err := decodeQuery(r, &q); err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	points, next, err := s.tracking.MetricHistory(r.Context(), r.PathValue("id"), r.PathValue("key"), q.PageToken, int(q.MaxResults))
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	var b []byte
	if len(points) == 0 {
		// appendHistory omits an empty list; this API always sends one.
		b = append(b, `{"metrics":[]`...)
		if next != "" {
			b = append(b, `,"next_page_token":`...)
			b = strconv.AppendQuote(b, next)
		}
		b = append(b, "}\n"...)
	} else {
		b = appendHistory(make([]byte, 0, 64+len(points)*80), points, next)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// Artifacts.

// v1ArtifactRoot returns the run named in r's path and its artifact root's
// key in s.artifacts; EINVALID when the run's artifacts are not on this
// server.
func (s *Server) v1ArtifactRoot(r *http.Request) (string, string, error) {
	id := r.PathValue("id")
	run, err := s.tracking.GetRun(r.Context(), id)
	if err != nil {
		return "", "", err
	}
	root := run.Info.ArtifactURI
	key, ok := proxiedKey(root)
	if !ok {
		return "", "", ferry.Errorf(ferry.EINVALID, "The artifacts of run %s are stored at %s, outside this server; access them there.", id, root)
	}
	return root, key, nil
}

func (s *Server) v1ListArtifacts(r *http.Request, req *v1ArtifactsQuery) (v1ArtifactList, error) {
	root, rootKey, err := s.v1ArtifactRoot(r)
	if err != nil {
		return v1ArtifactList{}, err
	}
	sub, err := blob.CleanKey(req.Path)
	if err != nil {
		return v1ArtifactList{}, err
	}
	files, err := s.list(r.Context(), blob.Join(rootKey, sub), func(p string) string { return strings.TrimPrefix(p, rootKey+"/") })
	if err != nil {
		return v1ArtifactList{}, err
	}
	return v1ArtifactList{RootURI: root, Files: files}, nil
}

// v1ArtifactKey returns the cleaned path of the artifact named in r's path,
// relative to the run's artifact root, and its key in s.artifacts.
func (s *Server) v1ArtifactKey(r *http.Request) (rel, key string, err error) {
	// Validate the path first: a bad path is the client's mistake whether or
	// not the run exists.
	rel, err = blob.CleanObjectKey(r.PathValue("path"))
	if err != nil {
		return "", "", err
	}
	_, rootKey, err := s.v1ArtifactRoot(r)
	if err != nil {
		return "", "", err
	}
	return rel, blob.Join(rootKey, rel), nil
}

func (s *Server) v1PutArtifact(w http.ResponseWriter, r *http.Request) {
	rel, key, err := s.v1ArtifactKey(r)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	n, err := s.artifacts.Put(r.Context(), key, r.Body)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	writeJSON(w, http.StatusOK, v1ArtifactUpload{Path: rel, Size: n})
}

func (s *Server) v1GetArtifact(w http.ResponseWriter, r *http.Request) {
	_, key, err := s.v1ArtifactKey(r)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	rc, info, err := s.artifacts.Get(r.Context(), key)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	defer rc.Close()
	ctype := mime.TypeByExtension(path.Ext(key))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	// Artifacts are user content: never let a browser run or sniff them as
	// part of this origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	if _, err := io.Copy(w, rc); err != nil {
		s.log.WarnContext(r.Context(), "artifact download cut short", "key", key, "err", err)
	}
}

// requiredField is EINVALID when a required body field is missing or empty.
func requiredField(name, value string) error {
	if value == "" {
		return ferry.Errorf(ferry.EINVALID, "Missing value for required field '%s'.", name)
	}
	return nil
}
