package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// routeMLflow registers MLflow's tracking REST API under both of the prefixes
// MLflow serves it on.
func (s *Server) routeMLflow() {
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		h := func(method, path string, fn http.HandlerFunc) { s.mux.HandleFunc(method+" "+prefix+path, fn) }
		h("POST", "experiments/create", mlflow(s, s.mlflowCreateExperiment))
		h("GET", "experiments/get", mlflow(s, s.mlflowGetExperiment))
		h("GET", "experiments/get-by-name", mlflow(s, s.mlflowGetExperimentByName))
		h("POST", "experiments/search", mlflow(s, s.mlflowSearchExperiments))
		h("GET", "experiments/search", mlflow(s, s.mlflowSearchExperiments))
		h("POST", "experiments/update", mlflow(s, s.mlflowUpdateExperiment))
		h("POST", "experiments/delete", mlflow(s, s.mlflowDeleteExperiment))
		h("POST", "experiments/restore", mlflow(s, s.mlflowRestoreExperiment))
		h("POST", "experiments/set-experiment-tag", mlflow(s, s.mlflowSetExperimentTag))
		h("POST", "runs/create", mlflow(s, s.mlflowCreateRun))
		h("GET", "runs/get", mlflow(s, s.mlflowGetRun))
		h("POST", "runs/update", mlflow(s, s.mlflowUpdateRun))
		h("POST", "runs/delete", mlflow(s, s.mlflowDeleteRun))
		h("POST", "runs/restore", mlflow(s, s.mlflowRestoreRun))
		h("POST", "runs/log-metric", mlflow(s, s.mlflowLogMetric))
		h("POST", "runs/log-parameter", mlflow(s, s.mlflowLogParam))
		h("POST", "runs/set-tag", mlflow(s, s.mlflowSetTag))
		h("POST", "runs/delete-tag", mlflow(s, s.mlflowDeleteTag))
		h("POST", "runs/log-batch", mlflow(s, s.mlflowLogBatch))
		h("POST", "runs/log-inputs", mlflow(s, s.mlflowLogInputs))
		h("POST", "runs/log-model", mlflow(s, s.mlflowLogModel))
		h("POST", "runs/search", mlflow(s, s.mlflowSearchRuns))
		h("GET", "metrics/get-history", s.mlflowMetricHistory)
		h("GET", "artifacts/list", mlflow(s, s.mlflowListArtifacts))
	}
}

// mlflow adapts a typed handler: it decodes the request (JSON body, or query
// parameters for GET), calls fn, and writes its result or MLflow's error shape.
func mlflow[Req any](s *Server, fn func(context.Context, *Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := s.decodeRequest(r, &req); err != nil {
			writeError(w, r, s.log, styleMLflow, err)
			return
		}
		resp, err := fn(r.Context(), &req)
		if err != nil {
			writeError(w, r, s.log, styleMLflow, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// decodeRequest fills req from a GET request's query parameters or from any
// other request's JSON body.
func (s *Server) decodeRequest(r *http.Request, req any) error {
	if r.Method != http.MethodGet {
		return decodeJSON(r, s.maxBody, req)
	}
	raw, err := queryJSON(r.URL.Query(), req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, req); err != nil {
		return jsonError(err)
	}
	return nil
}

// queryJSON renders query parameters as the JSON object req would decode,
// using req's field types to tell lists from single values.
func queryJSON(q url.Values, req any) ([]byte, error) {
	lists := map[string]bool{}
	t := reflect.TypeOf(req).Elem()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		lists[name] = f.Type.Kind() == reflect.Slice
	}
	obj := make(map[string]any, len(q))
	for k, vs := range q {
		if lists[k] {
			obj[k] = vs
		} else if len(vs) > 0 {
			obj[k] = vs[0]
		}
	}
	return json.Marshal(obj)
}

func required(name, value string) error {
	if value == "" {
		return ferry.Errorf(ferry.EINVALID, "Missing value for required parameter '%s'. See the API request docs for more information about request parameters.", name)
	}
	return nil
}

// requiredAll is required for each (name, value) pair in turn.
func requiredAll(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := required(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

type empty struct{}

type createExperimentReq struct {
	Name             string    `json:"name"`
	ArtifactLocation string    `json:"artifact_location"`
	Tags             []wireTag `json:"tags"`
}

func (s *Server) mlflowCreateExperiment(ctx context.Context, req *createExperimentReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	id, err := s.tracking.CreateExperiment(ctx, req.Name, req.ArtifactLocation, fromWireTags(req.Tags))
	if err != nil {
		return nil, err
	}
	return map[string]string{"experiment_id": id}, nil
}

type experimentReq struct {
	ExperimentID   idString `json:"experiment_id"`
	ExperimentName string   `json:"experiment_name"`
	NewName        string   `json:"new_name"`
	Key            string   `json:"key"`
	Value          string   `json:"value"`
}

type experimentResp struct {
	Experiment wireExperiment `json:"experiment"`
}

func (s *Server) mlflowGetExperiment(ctx context.Context, req *experimentReq) (any, error) {
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return nil, err
	}
	e, err := s.tracking.GetExperiment(ctx, string(req.ExperimentID))
	if err != nil {
		return nil, err
	}
	return experimentResp{toWireExperiment(e)}, nil
}

func (s *Server) mlflowGetExperimentByName(ctx context.Context, req *experimentReq) (any, error) {
	if err := required("experiment_name", req.ExperimentName); err != nil {
		return nil, err
	}
	e, err := s.tracking.GetExperimentByName(ctx, req.ExperimentName)
	if err != nil {
		return nil, err
	}
	return experimentResp{toWireExperiment(e)}, nil
}

func (s *Server) mlflowUpdateExperiment(ctx context.Context, req *experimentReq) (any, error) {
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return nil, err
	}
	if req.NewName == "" {
		return empty{}, nil // MLflow treats a missing new_name as no change
	}
	return empty{}, s.tracking.RenameExperiment(ctx, string(req.ExperimentID), req.NewName)
}

func (s *Server) mlflowDeleteExperiment(ctx context.Context, req *experimentReq) (any, error) {
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return nil, err
	}
	return empty{}, s.tracking.DeleteExperiment(ctx, string(req.ExperimentID))
}

func (s *Server) mlflowRestoreExperiment(ctx context.Context, req *experimentReq) (any, error) {
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return nil, err
	}
	return empty{}, s.tracking.RestoreExperiment(ctx, string(req.ExperimentID))
}

func (s *Server) mlflowSetExperimentTag(ctx context.Context, req *experimentReq) (any, error) {
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return empty{}, s.tracking.SetExperimentTag(ctx, string(req.ExperimentID), tracking.Tag{Key: req.Key, Value: req.Value})
}

type searchExperimentsReq struct {
	MaxResults flexInt64 `json:"max_results"`
	PageToken  string    `json:"page_token"`
	Filter     string    `json:"filter"`
	OrderBy    []string  `json:"order_by"`
	ViewType   string    `json:"view_type"`
}

type searchExperimentsResp struct {
	Experiments   []wireExperiment `json:"experiments,omitempty"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

func (s *Server) mlflowSearchExperiments(ctx context.Context, req *searchExperimentsReq) (any, error) {
	exps, next, err := s.tracking.SearchExperiments(ctx, tracking.ExperimentSearch{
		Filter: req.Filter, ViewType: req.ViewType, OrderBy: req.OrderBy, MaxResults: int(req.MaxResults), PageToken: req.PageToken,
	})
	if err != nil {
		return nil, err
	}
	resp := searchExperimentsResp{NextPageToken: next}
	for _, e := range exps {
		resp.Experiments = append(resp.Experiments, toWireExperiment(e))
	}
	return resp, nil
}

type createRunReq struct {
	ExperimentID idString  `json:"experiment_id"`
	UserID       string    `json:"user_id"`
	RunName      string    `json:"run_name"`
	StartTime    flexInt64 `json:"start_time"`
	Tags         []wireTag `json:"tags"`
}

type runResp struct {
	Run wireRun `json:"run"`
}

func (s *Server) mlflowCreateRun(ctx context.Context, req *createRunReq) (any, error) {
	run, err := s.tracking.CreateRun(ctx, tracking.RunCreate{
		ExperimentID: string(req.ExperimentID), UserID: req.UserID, RunName: req.RunName,
		StartTime: int64(req.StartTime), Tags: fromWireTags(req.Tags),
	})
	if err != nil {
		return nil, err
	}
	w := toWireRun(run)
	w.Inputs = nil // MLflow answers a new run without inputs
	return runResp{w}, nil
}

// runReq is the common shape of requests that name a run; run_uuid is the
// deprecated spelling of run_id that old clients still send.
type runReq struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (r runReq) id() (string, error) {
	if r.RunID != "" {
		return r.RunID, nil
	}
	return r.RunUUID, required("run_id", r.RunUUID)
}

func (s *Server) mlflowGetRun(ctx context.Context, req *runReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	run, err := s.tracking.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	return runResp{toWireRun(run)}, nil
}

type updateRunReq struct {
	runReq
	Status  string    `json:"status"`
	EndTime flexInt64 `json:"end_time"`
	RunName string    `json:"run_name"`
}

func (s *Server) mlflowUpdateRun(ctx context.Context, req *updateRunReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	info, err := s.tracking.UpdateRun(ctx, id, tracking.RunUpdate{Status: req.Status, EndTime: int64(req.EndTime), RunName: req.RunName})
	if err != nil {
		return nil, err
	}
	return map[string]wireRunInfo{"run_info": toWireRunInfo(info)}, nil
}

func (s *Server) mlflowDeleteRun(ctx context.Context, req *runReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.DeleteRun(ctx, id)
}

func (s *Server) mlflowRestoreRun(ctx context.Context, req *runReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.RestoreRun(ctx, id)
}

type logMetricReq struct {
	runReq
	Key       string     `json:"key"`
	Value     *flexFloat `json:"value"`
	Timestamp *flexInt64 `json:"timestamp"`
	Step      flexInt64  `json:"step"`
}

func (s *Server) mlflowLogMetric(ctx context.Context, req *logMetricReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, required("value", "")
	}
	if req.Timestamp == nil {
		return nil, required("timestamp", "")
	}
	return empty{}, s.tracking.LogMetric(ctx, id, tracking.Metric{Key: req.Key, Value: float64(*req.Value), Timestamp: int64(*req.Timestamp), Step: int64(req.Step)})
}

type keyValueReq struct {
	runReq
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func (r *keyValueReq) check() (string, error) {
	id, err := r.id()
	if err != nil {
		return "", err
	}
	if err := required("key", r.Key); err != nil {
		return "", err
	}
	if r.Value == nil {
		return "", required("value", "")
	}
	return id, nil
}

func (s *Server) mlflowLogParam(ctx context.Context, req *keyValueReq) (any, error) {
	id, err := req.check()
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.LogParam(ctx, id, tracking.Param{Key: req.Key, Value: *req.Value})
}

func (s *Server) mlflowSetTag(ctx context.Context, req *keyValueReq) (any, error) {
	id, err := req.check()
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.SetTag(ctx, id, tracking.Tag{Key: req.Key, Value: *req.Value})
}

func (s *Server) mlflowDeleteTag(ctx context.Context, req *keyValueReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return empty{}, s.tracking.DeleteTag(ctx, id, req.Key)
}

type logBatchReq struct {
	runReq
	Metrics []wireMetric `json:"metrics"`
	Params  []wireTag    `json:"params"`
	Tags    []wireTag    `json:"tags"`
}

func (s *Server) mlflowLogBatch(ctx context.Context, req *logBatchReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.LogBatch(ctx, id, fromWireMetrics(req.Metrics), fromWireParams(req.Params), fromWireTags(req.Tags))
}

type logInputsReq struct {
	runReq
	Datasets []wireDatasetInput `json:"datasets"`
}

func (s *Server) mlflowLogInputs(ctx context.Context, req *logInputsReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.LogInputs(ctx, id, fromWireInputs(req.Datasets))
}

type logModelReq struct {
	runReq
	ModelJSON string `json:"model_json"`
}

// mlflowLogModel records a logged model's description in the run's
// mlflow.log-model.history tag, as MLflow's server does.
func (s *Server) mlflowLogModel(ctx context.Context, req *logModelReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	var model map[string]any
	if err := json.Unmarshal([]byte(req.ModelJSON), &model); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "Field 'model_json' must hold a JSON object describing the model.")
	}
	run, err := s.tracking.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	var history []any
	if old, ok := run.Tag("mlflow.log-model.history"); ok {
		_ = json.Unmarshal([]byte(old), &history) // a damaged history is replaced
	}
	history = append(history, model)
	b, err := json.Marshal(history)
	if err != nil {
		return nil, err
	}
	return empty{}, s.tracking.SetTag(ctx, id, tracking.Tag{Key: "mlflow.log-model.history", Value: string(b)})
}

type searchRunsReq struct {
	ExperimentIDs []idString `json:"experiment_ids"`
	Filter        string     `json:"filter"`
	RunViewType   string     `json:"run_view_type"`
	MaxResults    flexInt64  `json:"max_results"`
	OrderBy       []string   `json:"order_by"`
	PageToken     string     `json:"page_token"`
}

type searchRunsResp struct {
	Runs          []wireRun `json:"runs,omitempty"`
	NextPageToken string    `json:"next_page_token,omitempty"`
}

func (s *Server) mlflowSearchRuns(ctx context.Context, req *searchRunsReq) (any, error) {
	ids := make([]string, len(req.ExperimentIDs))
	for i, id := range req.ExperimentIDs {
		ids[i] = string(id)
	}
	runs, next, err := s.tracking.SearchRuns(ctx, tracking.RunSearch{
		ExperimentIDs: ids, Filter: req.Filter, ViewType: req.RunViewType, OrderBy: req.OrderBy,
		MaxResults: int(req.MaxResults), PageToken: req.PageToken,
	})
	if err != nil {
		return nil, err
	}
	resp := searchRunsResp{NextPageToken: next}
	for _, r := range runs {
		resp.Runs = append(resp.Runs, toWireRun(r))
	}
	return resp, nil
}

// mlflowMetricHistory answers get-history. Its response can hold hundreds of
// thousands of points, so it is encoded by hand rather than by reflection.
func (s *Server) mlflowMetricHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	runID := q.Get("run_id")
	if runID == "" {
		runID = q.Get("run_uuid")
	}
	maxResults := 0
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, r, s.log, styleMLflow, ferry.Errorf(ferry.EINVALID, "Invalid value '%s' for parameter 'max_results': expected an integer.", clip(v)))
			return
		}
		maxResults = n
	}
	points, next, err := s.tracking.MetricHistory(r.Context(), runID, q.Get("metric_key"), q.Get("page_token"), maxResults)
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(appendHistory(make([]byte, 0, 64+len(points)*80), points, next))
}

// appendHistory appends {"metrics": [...], "next_page_token": "..."} to b.
func appendHistory(b []byte, points []tracking.Metric, next string) []byte {
	b = append(b, '{')
	if len(points) > 0 {
		b = append(b, `"metrics":[`...)
		for i, m := range points {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = strconv.AppendQuote(b, m.Key)
			b = append(b, `,"value":`...)
			b = flexFloat(m.Value).Append(b)
			b = append(b, `,"timestamp":`...)
			b = strconv.AppendInt(b, m.Timestamp, 10)
			b = append(b, `,"step":`...)
			b = strconv.AppendInt(b, m.Step, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if next != "" {
		if len(points) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"next_page_token":`...)
		b = strconv.AppendQuote(b, next)
	}
	return append(b, "}\n"...)
}
