package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/ferry-ml/ferry/internal/wirejson"
)

// Run statuses.
const (
	StatusRunning  = "RUNNING"
	StatusFinished = "FINISHED"
	StatusFailed   = "FAILED"
	StatusKilled   = "KILLED"
)

// Tag is a key/value pair; params use it too.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Metric is one point of a metric series; Value may be NaN or ±Inf, which
// travel as the strings "NaN", "Infinity" and "-Infinity".
type Metric struct {
	Key       string
	Value     float64
	Timestamp int64 // ms since the Unix epoch; 0 means "now"
	Step      int64
}

type wireMetric struct {
	Key       string         `json:"key"`
	Value     wirejson.Float `json:"value"`
	Timestamp wirejson.Int64 `json:"timestamp"`
	Step      wirejson.Int64 `json:"step"`
}

// MarshalJSON implements json.Marshaler.
func (m Metric) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireMetric{m.Key, wirejson.Float(m.Value), wirejson.Int64(m.Timestamp), wirejson.Int64(m.Step)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *Metric) UnmarshalJSON(b []byte) error {
	var w wireMetric
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Metric{Key: w.Key, Value: float64(w.Value), Timestamp: int64(w.Timestamp), Step: int64(w.Step)}
	return nil
}

// Experiment groups runs.
type Experiment struct {
	ID               string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	CreationTime     int64  `json:"creation_time"`
	LastUpdateTime   int64  `json:"last_update_time"`
	Tags             []Tag  `json:"tags,omitempty"`
}

// RunInfo is a run's metadata. EndTime is 0 until the run ends.
type RunInfo struct {
	RunID          string `json:"run_id"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

// RunData holds the latest value of each metric, the params and the tags.
type RunData struct {
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Tag    `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

// Dataset identifies data a run consumed.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

// DatasetInput is a dataset a run used, with tags such as mlflow.data.context.
type DatasetInput struct {
	Tags    []Tag   `json:"tags,omitempty"`
	Dataset Dataset `json:"dataset"`
}

// Run is a run with what was logged to it.
type Run struct {
	Info   RunInfo `json:"info"`
	Data   RunData `json:"data"`
	Inputs struct {
		DatasetInputs []DatasetInput `json:"dataset_inputs,omitempty"`
	} `json:"inputs"`
}

// Param returns the value of the named param and whether it is set.
func (r Run) Param(key string) (string, bool) { return lookup(r.Data.Params, key) }

// Tag returns the value of the named tag and whether it is set.
func (r Run) Tag(key string) (string, bool) { return lookup(r.Data.Tags, key) }

// Metric returns the latest value of the named metric and whether it is set.
func (r Run) Metric(key string) (float64, bool) {
	for _, m := range r.Data.Metrics {
		if m.Key == key {
			return m.Value, true
		}
	}
	return 0, false
}

func lookup(tags []Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// TagList turns a map into tags sorted by key.
func TagList(m map[string]string) []Tag {
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ExperimentQuery selects experiments; zero fields take the server's defaults.
type ExperimentQuery struct {
	Filter     string   // e.g. "name LIKE 'churn%'"
	ViewType   string   // ACTIVE_ONLY (default), DELETED_ONLY or ALL
	OrderBy    []string // e.g. "name ASC"
	MaxResults int
	PageToken  string
}

// SearchExperiments returns a page of experiments and the next page's token.
func (c *Client) SearchExperiments(ctx context.Context, q ExperimentQuery) ([]Experiment, string, error) {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("filter", q.Filter)
	set("view_type", q.ViewType)
	set("page_token", q.PageToken)
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	for _, o := range q.OrderBy {
		v.Add("order_by", o)
	}
	var out struct {
		Experiments   []Experiment `json:"experiments"`
		NextPageToken string       `json:"next_page_token"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/experiments", v, nil, &out)
	return out.Experiments, out.NextPageToken, err
}

type experimentResp struct {
	Experiment Experiment `json:"experiment"`
}

// CreateExperiment creates an experiment; a taken name is an *Error with code
// ECONFLICT.
func (c *Client) CreateExperiment(ctx context.Context, name string, tags map[string]string) (Experiment, error) {
	var out experimentResp
	err := c.do(ctx, http.MethodPost, "/api/v1/experiments", nil, map[string]any{"name": name, "tags": TagList(tags)}, &out)
	return out.Experiment, err
}

// GetExperiment returns the experiment with the given ID.
func (c *Client) GetExperiment(ctx context.Context, id string) (Experiment, error) {
	var out experimentResp
	err := c.do(ctx, http.MethodGet, "/api/v1/experiments"+pathEscape(id), nil, nil, &out)
	return out.Experiment, err
}

// GetExperimentByName returns the experiment with the given name.
func (c *Client) GetExperimentByName(ctx context.Context, name string) (Experiment, error) {
	var out experimentResp
	err := c.do(ctx, http.MethodGet, "/api/v1/experiments/by-name"+pathEscape(name), nil, nil, &out)
	return out.Experiment, err
}

// EnsureExperiment returns the experiment called name, creating it if absent.
func (c *Client) EnsureExperiment(ctx context.Context, name string) (Experiment, error) {
	e, err := c.GetExperimentByName(ctx, name)
	if !IsNotFound(err) {
		return e, err
	}
	e, err = c.CreateExperiment(ctx, name, nil)
	var ce *Error
	if errors.As(err, &ce) && ce.Code == "ECONFLICT" { // created concurrently
		return c.GetExperimentByName(ctx, name)
	}
	return e, err
}

// CreateRun is a request to start a run.
type CreateRun struct {
	ExperimentID string `json:"experiment_id,omitempty"`
	RunName      string `json:"run_name,omitempty"`
	UserID       string `json:"user_id,omitempty"`
	StartTime    int64  `json:"start_time,omitempty"`
	Tags         []Tag  `json:"tags,omitempty"`
}

type runResp struct {
	Run Run `json:"run"`
}

// CreateRun starts a run.
func (c *Client) CreateRun(ctx context.Context, req CreateRun) (Run, error) {
	var out runResp
	err := c.do(ctx, http.MethodPost, "/api/v1/runs", nil, req, &out)
	return out.Run, err
}

// GetRun returns a run with its latest metrics, params, tags and inputs.
func (c *Client) GetRun(ctx context.Context, id string) (Run, error) {
	var out runResp
	err := c.do(ctx, http.MethodGet, "/api/v1/runs"+pathEscape(id), nil, nil, &out)
	return out.Run, err
}

// RunUpdate changes a run; zero fields are left as they are.
type RunUpdate struct {
	Status  string `json:"status,omitempty"`
	EndTime int64  `json:"end_time,omitempty"`
	RunName string `json:"run_name,omitempty"`
}

// UpdateRun changes a run's status, end time or name and returns the run.
func (c *Client) UpdateRun(ctx context.Context, id string, u RunUpdate) (Run, error) {
	var out runResp
	err := c.do(ctx, http.MethodPatch, "/api/v1/runs"+pathEscape(id), nil, u, &out)
	return out.Run, err
}

// DeleteRun marks a run deleted.
func (c *Client) DeleteRun(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/runs"+pathEscape(id), nil, nil, nil)
}

// LogBatch logs metrics, params and tags to a run atomically (at most 1,000
// metrics, 100 params and 100 tags per call).
func (c *Client) LogBatch(ctx context.Context, runID string, metrics []Metric, params, tags []Tag) error {
	body := map[string]any{"metrics": metrics, "params": params, "tags": tags}
	return c.do(ctx, http.MethodPost, "/api/v1/runs"+pathEscape(runID)+"/log", nil, body, nil)
}

// LogInputs records datasets a run consumed.
func (c *Client) LogInputs(ctx context.Context, runID string, inputs []DatasetInput) error {
	return c.do(ctx, http.MethodPost, "/api/v1/runs"+pathEscape(runID)+"/inputs", nil, map[string]any{"datasets": inputs}, nil)
}

// MetricHistory returns every point of a run's metric, fetching all pages.
func (c *Client) MetricHistory(ctx context.Context, runID, key string) ([]Metric, error) {
	var all []Metric
	tok := ""
	for {
		v := url.Values{}
		if tok != "" {
			v.Set("page_token", tok)
		}
		var out struct {
			Metrics       []Metric `json:"metrics"`
			NextPageToken string   `json:"next_page_token"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/runs"+pathEscape(runID, "metrics", key), v, nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Metrics...)
		if out.NextPageToken == "" {
			return all, nil
		}
		tok = out.NextPageToken
	}
}

// RunQuery selects runs in experiments, with MLflow's filter grammar.
type RunQuery struct {
	ExperimentIDs []string `json:"experiment_ids"`
	Filter        string   `json:"filter,omitempty"`    // e.g. "metrics.acc > 0.9 and params.lr = '0.1'"
	ViewType      string   `json:"view_type,omitempty"` // ACTIVE_ONLY (default), DELETED_ONLY or ALL
	OrderBy       []string `json:"order_by,omitempty"`  // e.g. "metrics.acc DESC"
	MaxResults    int      `json:"max_results,omitempty"`
	PageToken     string   `json:"page_token,omitempty"`
}

// SearchRuns returns a page of runs and the next page's token ("" when last).
func (c *Client) SearchRuns(ctx context.Context, q RunQuery) ([]Run, string, error) {
	var out struct {
		Runs          []Run  `json:"runs"`
		NextPageToken string `json:"next_page_token"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/runs/search", nil, q, &out)
	return out.Runs, out.NextPageToken, err
}

// FileInfo is an artifact or artifact directory.
type FileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize int64  `json:"file_size,omitempty"`
}

// ListArtifacts lists a run's artifacts under dir ("" for the root).
func (c *Client) ListArtifacts(ctx context.Context, runID, dir string) ([]FileInfo, error) {
	v := url.Values{}
	if dir != "" {
		v.Set("path", dir)
	}
	var out struct {
		Files []FileInfo `json:"files"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/runs"+pathEscape(runID)+"/artifacts", v, nil, &out)
	return out.Files, err
}

// UploadArtifact streams r to the run's artifact at path (slash-separated,
// relative to the run's artifact root).
func (c *Client) UploadArtifact(ctx context.Context, runID, path string, r io.Reader) error {
	resp, err := c.send(ctx, http.MethodPut, "/api/v1/runs"+pathEscape(runID)+"/artifacts/"+escapePath(path), nil, r, "application/octet-stream")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// DownloadArtifact opens the run's artifact at path; the caller closes it.
func (c *Client) DownloadArtifact(ctx context.Context, runID, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/runs"+pathEscape(runID)+"/artifacts/"+escapePath(path), nil, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	u := url.URL{Path: p}
	return u.EscapedPath()
}
