package tracking

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferry-ml/ferry"
)

// Logged-model statuses, as MLflow 3's LoggedModelStatus names them.
const (
	LoggedModelPending      = "LOGGED_MODEL_PENDING"
	LoggedModelReady        = "LOGGED_MODEL_READY"
	LoggedModelUploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"
)

// LoggedModelIDPrefix starts every logged model's ID, as in MLflow 3
// ("m-" and 32 hex digits). A registry source "models:/m-<hex>" names one.
const LoggedModelIDPrefix = "m-"

// Search limits of logged models, as MLflow sets them.
const (
	DefaultLoggedModelResults = 50
	MaxLoggedModelResults     = 50
)

// LoggedModel is MLflow 3's first-class model: created in an experiment
// (usually by a run), its files uploaded under ArtifactLocation, then
// finalized READY or UPLOAD_FAILED. Params are immutable, tags mutable.
type LoggedModel struct {
	ID               string
	ExperimentID     string
	Name             string
	ArtifactLocation string // <experiment artifact location>/models/<ID>/artifacts
	CreationTime     int64  // ms since epoch
	LastUpdatedTime  int64  // ms since epoch
	Status           string // one of LoggedModelPending, LoggedModelReady, LoggedModelUploadFailed
	StatusMessage    string
	ModelType        string
	SourceRunID      string
	LifecycleStage   string // StageActive or StageDeleted
	Params           []Param
	Tags             []Tag
}

// ModelOutput records that a run produced a logged model at a step.
type ModelOutput struct {
	ModelID string
	Step    int64
}

// LoggedModelCreate is a request to create a logged model.
type LoggedModelCreate struct {
	ExperimentID string
	Name         string // "" is generated
	ModelType    string
	SourceRunID  string
	Params       []Param
	Tags         []Tag
}

// LoggedModelSearch is a search request in MLflow's terms. OrderBy holds
// field names such as "creation_timestamp" or "name" with their direction.
type LoggedModelSearch struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []OrderBy
	MaxResults    int
	PageToken     string
}

// LoggedModelQuery selects active logged models. Filter terms use
// EntityAttribute (name, model_id, model_type, status, source_run_id,
// creation_timestamp, last_updated_timestamp), EntityParam and EntityTag.
type LoggedModelQuery struct {
	ExperimentIDs []string
	Filter        Filter
	OrderBy       []OrderBy
	MaxResults    int
	PageToken     string
}

// ParseLoggedModelStatus accepts a status by name or by its proto number (1,
// 2, 3) and returns its name; anything else is EINVALID.
func ParseLoggedModelStatus(s string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case LoggedModelPending, "1":
		return LoggedModelPending, nil
	case LoggedModelReady, "2":
		return LoggedModelReady, nil
	case LoggedModelUploadFailed, "3":
		return LoggedModelUploadFailed, nil
	}
	return "", invalid("Invalid logged model status '%s': expected LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.", printable(s))
}

// CreateLoggedModel creates a PENDING logged model in an active experiment
// and returns it. A named source run must exist. An unknown experiment or run
// is ENOTFOUND; bad params or tags EINVALID.
func (s *Service) CreateLoggedModel(ctx context.Context, req LoggedModelCreate) (LoggedModel, error) {
	if req.ExperimentID == "" {
		return LoggedModel{}, invalid("Missing value for required parameter 'experiment_id'.")
	}
	if err := validateBatch(nil, req.Params, req.Tags); err != nil {
		return LoggedModel{}, err
	}
	if len(req.Name) > MaxRunNameLength {
		return LoggedModel{}, invalid("Logged model name '%s' exceeded length limit of %d.", printable(req.Name), MaxRunNameLength)
	}
	exp, err := s.store.GetExperiment(ctx, req.ExperimentID)
	if err != nil {
		return LoggedModel{}, err
	}
	if exp.LifecycleStage != StageActive {
		return LoggedModel{}, invalid("The experiment %s must be in the 'active' state. Current state is %s.", exp.ID, exp.LifecycleStage)
	}
	if req.SourceRunID != "" {
		if _, err := s.store.GetRun(ctx, req.SourceRunID); err != nil {
			return LoggedModel{}, err
		}
	}
	hex := newID()
	m := LoggedModel{
		ID: LoggedModelIDPrefix + hex, ExperimentID: exp.ID, Name: req.Name, Status: LoggedModelPending,
		ModelType: req.ModelType, SourceRunID: req.SourceRunID, LifecycleStage: StageActive,
		Params: req.Params, Tags: req.Tags,
	}
	if m.Name == "" {
		m.Name = runName(hex)
	}
	m.ArtifactLocation = strings.TrimSuffix(exp.ArtifactLocation, "/") + "/models/" + m.ID + "/artifacts"
	m.CreationTime = s.millis()
	m.LastUpdatedTime = m.CreationTime
	if err := s.store.CreateLoggedModel(ctx, m); err != nil {
		return LoggedModel{}, fmt.Errorf("tracking: create logged model: %w", err)
	}
	return s.store.GetLoggedModel(ctx, m.ID)
}

// GetLoggedModel returns an active logged model; an unknown or deleted one
// is ENOTFOUND.
func (s *Service) GetLoggedModel(ctx context.Context, id string) (LoggedModel, error) {
	if id == "" {
		return LoggedModel{}, invalid("Missing value for required parameter 'model_id'.")
	}
	m, err := s.store.GetLoggedModel(ctx, id)
	if err != nil {
		return LoggedModel{}, err
	}
	if m.LifecycleStage != StageActive {
		return LoggedModel{}, loggedModelNotFound(id)
	}
	return m, nil
}

func loggedModelNotFound(id string) error {
	return ferry.Errorf(ferry.ENOTFOUND, "Logged model with ID '%s' not found.", printable(id))
}

// FinalizeLoggedModel sets a logged model's status to READY or UPLOAD_FAILED
// (by name or proto number) and returns the model. Any other status is
// EINVALID.
func (s *Service) FinalizeLoggedModel(ctx context.Context, id, status string) (LoggedModel, error) {
	st, err := ParseLoggedModelStatus(status)
	if err != nil {
		return LoggedModel{}, err
	}
	if st == LoggedModelPending {
		return LoggedModel{}, invalid("A logged model is finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED, not %s.", st)
	}
	if _, err := s.GetLoggedModel(ctx, id); err != nil {
		return LoggedModel{}, err
	}
	if err := s.store.UpdateLoggedModelStatus(ctx, id, st, s.millis()); err != nil {
		return LoggedModel{}, err
	}
	return s.store.GetLoggedModel(ctx, id)
}

// DeleteLoggedModel marks a logged model deleted; it is then ENOTFOUND to
// every other method. Its artifacts are kept.
func (s *Service) DeleteLoggedModel(ctx context.Context, id string) error {
	if _, err := s.GetLoggedModel(ctx, id); err != nil {
		return err
	}
	return s.store.DeleteLoggedModel(ctx, id, s.millis())
}

// SetLoggedModelTags sets (or replaces) tags of a logged model and returns it.
func (s *Service) SetLoggedModelTags(ctx context.Context, id string, tags []Tag) (LoggedModel, error) {
	if err := validateBatch(nil, nil, tags); err != nil {
		return LoggedModel{}, err
	}
	if _, err := s.GetLoggedModel(ctx, id); err != nil {
		return LoggedModel{}, err
	}
	if err := s.store.SetLoggedModelTags(ctx, id, tags, s.millis()); err != nil {
		return LoggedModel{}, err
	}
	return s.store.GetLoggedModel(ctx, id)
}

// DeleteLoggedModelTag removes a tag of a logged model; an absent tag is
// ENOTFOUND.
func (s *Service) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	if err := validateKey("tag", key); err != nil {
		return err
	}
	if _, err := s.GetLoggedModel(ctx, id); err != nil {
		return err
	}
	return s.store.DeleteLoggedModelTag(ctx, id, key)
}

// LogLoggedModelParams adds params to a logged model. As with runs, logging
// a param again with the same value is accepted and a different value is
// EINVALID.
func (s *Service) LogLoggedModelParams(ctx context.Context, id string, params []Param) error {
	if err := validateBatch(nil, params, nil); err != nil {
		return err
	}
	if _, err := s.GetLoggedModel(ctx, id); err != nil {
		return err
	}
	return s.store.LogLoggedModelParams(ctx, id, params)
}

// SearchLoggedModels returns one page of active logged models of the
// experiments, newest first unless ordered otherwise, and the next page's
// token. A malformed filter, order or token is EINVALID.
func (s *Service) SearchLoggedModels(ctx context.Context, req LoggedModelSearch) ([]LoggedModel, string, error) {
	if len(req.ExperimentIDs) == 0 {
		return nil, "", invalid("Missing value for required parameter 'experiment_ids'. Name at least one experiment to search.")
	}
	f, err := ParseLoggedModelFilter(req.Filter)
	if err != nil {
		return nil, "", err
	}
	for i, o := range req.OrderBy {
		canon, ok := loggedModelGrammar.orderAttrs[o.Key]
		if o.Entity != EntityAttribute || !ok {
			return nil, "", invalid("Cannot order logged models by '%s': expected one of name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp.", printable(o.Key))
		}
		req.OrderBy[i].Key = canon
	}
	max := req.MaxResults
	switch {
	case max == 0:
		max = DefaultLoggedModelResults
	case max < 0 || max > MaxLoggedModelResults:
		return nil, "", invalid("Invalid value %d for parameter 'max_results' supplied. It must be a positive integer not above %d.", max, MaxLoggedModelResults)
	}
	if _, err := DecodePageToken(req.PageToken); err != nil {
		return nil, "", err
	}
	return s.store.SearchLoggedModels(ctx, LoggedModelQuery{ExperimentIDs: req.ExperimentIDs, Filter: f, OrderBy: req.OrderBy, MaxResults: max, PageToken: req.PageToken})
}

// LogOutputs records logged models an active run produced. Every model must
// exist; recording the same model again keeps the first step.
func (s *Service) LogOutputs(ctx context.Context, runID string, outputs []ModelOutput) error {
	if runID == "" {
		return invalid("Missing value for required parameter 'run_id'.")
	}
	for _, o := range outputs {
		if o.ModelID == "" {
			return invalid("Missing value for required parameter 'models.model_id'.")
		}
		if _, err := s.GetLoggedModel(ctx, o.ModelID); err != nil {
			return err
		}
	}
	return s.store.LogOutputs(ctx, runID, outputs)
}
