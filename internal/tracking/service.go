package tracking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// Service is the tracking stage's API: it validates requests, applies MLflow's
// rules and defaults, and persists through a Store. It is safe for concurrent use.
type Service struct {
	store        Store
	artifactRoot string
	now          func() time.Time
	log          *slog.Logger
}

// Options configure a Service; zero fields take defaults.
type Options struct {
	// ArtifactRoot prefixes new experiments' artifact locations, e.g.
	// "mlflow-artifacts:" so that clients upload through the server's proxy.
	// Default "mlflow-artifacts:".
	ArtifactRoot string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives diagnostics; default discards.
	Log *slog.Logger
}

// NewService returns a Service over store.
func NewService(store Store, opts Options) *Service {
	s := &Service{store: store, artifactRoot: opts.ArtifactRoot, now: opts.Now, log: opts.Log}
	if s.artifactRoot == "" {
		s.artifactRoot = "mlflow-artifacts:"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Service) millis() int64 { return s.now().UnixMilli() }

// CreateExperiment creates an experiment and returns its ID. A taken name is
// ECONFLICT; an empty artifactLocation gets one under the artifact root.
func (s *Service) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []Tag) (string, error) {
	if err := validateExperimentName(name); err != nil {
		return "", err
	}
	for _, t := range tags {
		if err := validateExperimentTag(t); err != nil {
			return "", err
		}
	}
	now := s.millis()
	id, err := s.store.CreateExperiment(ctx, Experiment{
		Name: name, ArtifactLocation: artifactLocation, LifecycleStage: StageActive,
		CreationTime: now, LastUpdateTime: now, Tags: tags,
	}, s.artifactRoot)
	if err != nil {
		return "", fmt.Errorf("tracking: create experiment %q: %w", name, err)
	}
	return id, nil
}

func validateExperimentTag(t Tag) error {
	if err := validateKey("tag", t.Key); err != nil {
		return err
	}
	return validateValue("Tag", t.Key, t.Value, MaxExperimentTagValue)
}

// EnsureDefaultExperiment creates the "Default" experiment with ID "0" when the
// store does not have it yet. It is safe to call from several processes.
func (s *Service) EnsureDefaultExperiment(ctx context.Context) error {
	_, err := s.store.GetExperiment(ctx, DefaultExperimentID)
	if ferry.ErrorCode(err) != ferry.ENOTFOUND {
		return err
	}
	now := s.millis()
	_, err = s.store.CreateExperiment(ctx, Experiment{
		ID: DefaultExperimentID, Name: DefaultExperimentName, LifecycleStage: StageActive,
		CreationTime: now, LastUpdateTime: now,
	}, s.artifactRoot)
	if ferry.ErrorCode(err) == ferry.ECONFLICT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tracking: create default experiment: %w", err)
	}
	return nil
}

// GetExperiment returns the experiment with id, or ENOTFOUND.
func (s *Service) GetExperiment(ctx context.Context, id string) (Experiment, error) {
	return s.store.GetExperiment(ctx, id)
}

// GetExperimentByName returns the experiment called name, or ENOTFOUND.
func (s *Service) GetExperimentByName(ctx context.Context, name string) (Experiment, error) {
	return s.store.GetExperimentByName(ctx, name)
}

// RenameExperiment gives an experiment a new, unused name.
func (s *Service) RenameExperiment(ctx context.Context, id, name string) error {
	if err := validateExperimentName(name); err != nil {
		return err
	}
	return s.store.RenameExperiment(ctx, id, name, s.millis())
}

// DeleteExperiment marks an experiment and its runs deleted. The Default
// experiment too, as MLflow's SQL store allows: RestoreExperiment brings it
// back.
func (s *Service) DeleteExperiment(ctx context.Context, id string) error {
	return s.store.SetExperimentStage(ctx, id, StageDeleted, s.millis())
}

// RestoreExperiment makes a deleted experiment and its runs active again.
func (s *Service) RestoreExperiment(ctx context.Context, id string) error {
	return s.store.SetExperimentStage(ctx, id, StageActive, s.millis())
}

// SetExperimentTag sets a tag on an active experiment.
func (s *Service) SetExperimentTag(ctx context.Context, id string, tag Tag) error {
	if err := validateExperimentTag(tag); err != nil {
		return err
	}
	return s.store.SetExperimentTag(ctx, id, tag)
}

// ExperimentSearch is a search request in MLflow's terms.
type ExperimentSearch struct {
	Filter     string
	ViewType   string
	OrderBy    []string
	MaxResults int
	PageToken  string
}

// SearchExperiments returns one page of experiments and the next page's token
// ("" on the last page). A malformed filter, order or token is EINVALID.
func (s *Service) SearchExperiments(ctx context.Context, req ExperimentSearch) ([]Experiment, string, error) {
	f, err := ParseExperimentFilter(req.Filter)
	if err != nil {
		return nil, "", err
	}
	ob, err := ParseExperimentOrderBy(req.OrderBy)
	if err != nil {
		return nil, "", err
	}
	vt, err := ParseViewType(req.ViewType)
	if err != nil {
		return nil, "", err
	}
	max, err := maxResults(req.MaxResults, DefaultExperimentResults)
	if err != nil {
		return nil, "", err
	}
	if _, err := DecodePageToken(req.PageToken); err != nil {
		return nil, "", err
	}
	return s.store.SearchExperiments(ctx, ExperimentQuery{Filter: f, ViewType: vt, OrderBy: ob, MaxResults: max, PageToken: req.PageToken})
}

func maxResults(n, def int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > MaxSearchResults:
		return 0, invalid("Invalid value %d for parameter 'max_results' supplied. It must be a positive integer not above %d.", n, MaxSearchResults)
	}
	return n, nil
}

// RunCreate is a request to start a run.
type RunCreate struct {
	ExperimentID string
	UserID       string
	RunName      string
	StartTime    int64 // ms; 0 means now
	Tags         []Tag
}

// CreateRun starts a RUNNING run in an active experiment. The run name comes
// from RunName, else the mlflow.runName tag, else is generated; it is also kept
// in the mlflow.runName tag, as MLflow does.
func (s *Service) CreateRun(ctx context.Context, req RunCreate) (Run, error) {
	if req.ExperimentID == "" {
		req.ExperimentID = DefaultExperimentID
	}
	for _, t := range req.Tags {
		if err := validateTag(t); err != nil {
			return Run{}, err
		}
	}
	if len(req.Tags) > MaxEntitiesPerBatch {
		return Run{}, invalid("A run can be created with at most %d tags.", MaxEntitiesPerBatch)
	}
	exp, err := s.store.GetExperiment(ctx, req.ExperimentID)
	if err != nil {
		return Run{}, err
	}
	if exp.LifecycleStage != StageActive {
		return Run{}, invalid("The experiment %s must be in the 'active' state. Current state is %s.", exp.ID, exp.LifecycleStage)
	}
	id := newID()
	run := Run{Info: RunInfo{
		RunID: id, ExperimentID: exp.ID, UserID: req.UserID, Status: StatusRunning,
		StartTime: req.StartTime, ArtifactURI: exp.ArtifactLocation + "/" + id + "/artifacts",
		LifecycleStage: StageActive, RunName: req.RunName,
	}}
	if run.Info.StartTime == 0 {
		run.Info.StartTime = s.millis()
	}
	tags := make([]Tag, 0, len(req.Tags)+1)
	for _, t := range req.Tags {
		switch t.Key {
		case TagRunName:
			if run.Info.RunName == "" {
				run.Info.RunName = t.Value
			}
			continue
		case TagUser:
			if run.Info.UserID == "" {
				run.Info.UserID = t.Value
			}
		}
		tags = append(tags, t)
	}
	if run.Info.RunName == "" {
		run.Info.RunName = runName(id)
	}
	if len(run.Info.RunName) > MaxRunNameLength {
		return Run{}, invalid("Run name '%s' exceeded length limit of %d.", printable(run.Info.RunName), MaxRunNameLength)
	}
	run.Data.Tags = append(tags, Tag{Key: TagRunName, Value: run.Info.RunName})
	if err := s.store.CreateRun(ctx, run); err != nil {
		return Run{}, fmt.Errorf("tracking: create run: %w", err)
	}
	return s.store.GetRun(ctx, id)
}

// GetRun returns a run with its latest metrics, params, tags and inputs.
func (s *Service) GetRun(ctx context.Context, id string) (Run, error) {
	return s.store.GetRun(ctx, id)
}

// MinRunIDPrefix is the shortest run ID prefix ResolveRunID accepts.
const MinRunIDPrefix = 8

// runIDLength is the length of the run IDs Ferry makes (32 hex digits).
const runIDLength = 32

// ResolveRunID returns the ID of the run that ref names: a full run ID, or —
// as git takes commit prefixes — a unique prefix of at least
// MinRunIDPrefix lowercase hex digits. A ref that is not a hex prefix (an ID
// another tool made) is returned unchanged, for the caller's lookup to judge.
// A shorter hex prefix is EINVALID, one that matches no run ENOTFOUND, and
// one that matches several runs EINVALID naming them.
func (s *Service) ResolveRunID(ctx context.Context, ref string) (string, error) {
	if len(ref) >= runIDLength || !isLowerHex(ref) {
		return ref, nil
	}
	if len(ref) < MinRunIDPrefix {
		return "", invalid("Run ID prefix %q is too short: give at least %d characters of the run ID.", ref, MinRunIDPrefix)
	}
	const shown = 5
	ids, err := s.store.RunIDsWithPrefix(ctx, ref, shown+1)
	if err != nil {
		return "", fmt.Errorf("tracking: resolve run %s: %w", ref, err)
	}
	switch len(ids) {
	case 0:
		return "", ferry.Errorf(ferry.ENOTFOUND, "Run with id=%s not found: no run ID starts with it.", ref)
	case 1:
		return ids[0], nil
	}
	list := strings.Join(ids[:min(len(ids), shown)], ", ")
	if len(ids) > shown {
		list += ", …"
	}
	return "", invalid("Run ID prefix %q is ambiguous: it matches runs %s. Give more characters.", ref, list)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// UpdateRun changes a run's status, end time or name.
func (s *Service) UpdateRun(ctx context.Context, id string, u RunUpdate) (RunInfo, error) {
	switch u.Status {
	case "", StatusRunning, StatusScheduled, StatusFinished, StatusFailed, StatusKilled:
	default:
		return RunInfo{}, invalid("Invalid run status '%s'; expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.", printable(u.Status))
	}
	if len(u.RunName) > MaxRunNameLength {
		return RunInfo{}, invalid("Run name exceeded length limit of %d.", MaxRunNameLength)
	}
	return s.store.UpdateRun(ctx, id, u)
}

// DeleteRun marks a run deleted.
func (s *Service) DeleteRun(ctx context.Context, id string) error {
	return s.store.SetRunStage(ctx, id, StageDeleted, s.millis())
}

// RestoreRun makes a deleted run active again.
func (s *Service) RestoreRun(ctx context.Context, id string) error {
	return s.store.SetRunStage(ctx, id, StageActive, s.millis())
}

// LogBatch logs metrics, params and tags to an active run, atomically, within
// MLflow's batch limits. Metric points without a timestamp get the current time.
func (s *Service) LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error {
	if runID == "" {
		return invalid("Missing value for required parameter 'run_id'.")
	}
	if err := validateBatch(metrics, params, tags); err != nil {
		return err
	}
	now := s.millis()
	for i := range metrics {
		if metrics[i].Timestamp == 0 {
			metrics[i].Timestamp = now
		}
	}
	return s.store.LogBatch(ctx, runID, metrics, params, tags)
}

// LogMetric logs one metric point.
func (s *Service) LogMetric(ctx context.Context, runID string, m Metric) error {
	return s.LogBatch(ctx, runID, []Metric{m}, nil, nil)
}

// LogParam logs one param; logging the same value again is accepted, a
// different value is EINVALID.
func (s *Service) LogParam(ctx context.Context, runID string, p Param) error {
	return s.LogBatch(ctx, runID, nil, []Param{p}, nil)
}

// SetTag sets (or replaces) a tag on a run. Setting mlflow.runName renames it.
func (s *Service) SetTag(ctx context.Context, runID string, t Tag) error {
	if err := s.LogBatch(ctx, runID, nil, nil, []Tag{t}); err != nil {
		return err
	}
	if t.Key == TagRunName {
		_, err := s.store.UpdateRun(ctx, runID, RunUpdate{RunName: t.Value})
		return err
	}
	return nil
}

// DeleteTag removes a tag from an active run; an absent tag is ENOTFOUND.
func (s *Service) DeleteTag(ctx context.Context, runID, key string) error {
	if err := validateKey("tag", key); err != nil {
		return err
	}
	return s.store.DeleteTag(ctx, runID, key)
}

// LogInputs records datasets an active run consumed.
func (s *Service) LogInputs(ctx context.Context, runID string, inputs []DatasetInput) error {
	if err := validateInputs(inputs); err != nil {
		return err
	}
	return s.store.LogInputs(ctx, runID, inputs)
}

// MetricHistory returns a page of a metric's points ordered by step and
// timestamp, and the next page's token. maxResults 0 means all points.
func (s *Service) MetricHistory(ctx context.Context, runID, key, pageToken string, maxResults int) ([]Metric, string, error) {
	if runID == "" {
		return nil, "", invalid("Missing value for required parameter 'run_id'.")
	}
	if key == "" {
		return nil, "", invalid("Missing value for required parameter 'metric_key'.")
	}
	offset, err := DecodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	if maxResults < 0 {
		return nil, "", invalid("Invalid value %d for parameter 'max_results': it must not be negative.", maxResults)
	}
	points, err := s.store.MetricHistory(ctx, runID, key)
	if err != nil {
		return nil, "", err
	}
	if offset > len(points) {
		offset = len(points)
	}
	points = points[offset:]
	if maxResults == 0 || maxResults >= len(points) {
		return points, "", nil
	}
	return points[:maxResults], EncodePageToken(offset + maxResults), nil
}

// RunSearch is a search request in MLflow's terms.
type RunSearch struct {
	ExperimentIDs []string
	Filter        string
	ViewType      string
	OrderBy       []string
	MaxResults    int
	PageToken     string
}

// SearchRuns returns one page of runs matching req and the next page's token.
func (s *Service) SearchRuns(ctx context.Context, req RunSearch) ([]Run, string, error) {
	f, err := ParseRunFilter(req.Filter)
	if err != nil {
		return nil, "", err
	}
	ob, err := ParseRunOrderBy(req.OrderBy)
	if err != nil {
		return nil, "", err
	}
	vt, err := ParseViewType(req.ViewType)
	if err != nil {
		return nil, "", err
	}
	max, err := maxResults(req.MaxResults, DefaultRunResults)
	if err != nil {
		return nil, "", err
	}
	if _, err := DecodePageToken(req.PageToken); err != nil {
		return nil, "", err
	}
	if len(req.ExperimentIDs) == 0 {
		return nil, "", invalid("Missing value for required parameter 'experiment_ids'. Name at least one experiment to search.")
	}
	return s.store.SearchRuns(ctx, RunQuery{ExperimentIDs: req.ExperimentIDs, Filter: f, ViewType: vt, OrderBy: ob, MaxResults: max, PageToken: req.PageToken})
}

// newID returns a random 32-hex-digit run ID, as MLflow's are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

var (
	nameAdjectives = [...]string{"amber", "bold", "brave", "calm", "clever", "crisp", "dapper", "eager", "gentle", "glad", "honest", "keen", "lucid", "merry", "nimble", "quiet", "rapid", "sharp", "steady", "sunny", "swift", "tidy", "vivid", "witty"}
	nameNouns      = [...]string{"badger", "crane", "dolphin", "eel", "falcon", "ferret", "gull", "heron", "ibis", "koala", "lark", "lynx", "marten", "newt", "otter", "owl", "panda", "quail", "raven", "seal", "stork", "tern", "vole", "wren"}
)

// runName derives a readable name such as "keen-otter-417" from a run ID.
func runName(id string) string {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) < 4 {
		return "run-" + id
	}
	n := int(b[2])<<8 | int(b[3])
	return fmt.Sprintf("%s-%s-%d", nameAdjectives[int(b[0])%len(nameAdjectives)], nameNouns[int(b[1])%len(nameNouns)], n%1000)
}
