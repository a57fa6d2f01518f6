package tracking

import "context"

// Store persists experiments and runs. Implementations must be safe for
// concurrent use. Errors are *ferry.Error for conditions a caller can act on:
// ENOTFOUND for an unknown experiment or run, ECONFLICT for a duplicate
// experiment name, EINVALID for a param whose value would change or a write to a
// run or experiment that is not active. Every write method is atomic: on error
// nothing of it is stored.
//
// The Service validates arguments (lengths, limits, names) before a Store sees
// them; a Store only enforces rules that need its data.
type Store interface {
	// CreateExperiment stores exp and returns its ID: exp.ID when set, else a
	// new one. A taken name or ID is ECONFLICT.
	// An empty exp.ArtifactLocation is replaced by artifactRoot+"/"+ID.
	CreateExperiment(ctx context.Context, exp Experiment, artifactRoot string) (string, error)
	GetExperiment(ctx context.Context, id string) (Experiment, error)
	GetExperimentByName(ctx context.Context, name string) (Experiment, error)
	RenameExperiment(ctx context.Context, id, name string, now int64) error
	// SetExperimentStage marks an experiment (and, as MLflow does, its runs)
	// deleted or active again.
	SetExperimentStage(ctx context.Context, id, stage string, now int64) error
	SetExperimentTag(ctx context.Context, id string, tag Tag) error
	SearchExperiments(ctx context.Context, q ExperimentQuery) ([]Experiment, string, error)

	// CreateRun stores a new run; run.Info.RunID is set by the caller.
	CreateRun(ctx context.Context, run Run) error
	GetRun(ctx context.Context, id string) (Run, error)
	// RunIDsWithPrefix returns up to limit IDs of runs (deleted ones
	// included) that start with prefix, in ascending order; none is not an
	// error.
	RunIDsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error)
	// UpdateRun applies the non-zero fields of u and returns the new info.
	UpdateRun(ctx context.Context, id string, u RunUpdate) (RunInfo, error)
	SetRunStage(ctx context.Context, id, stage string, now int64) error
	// LogBatch stores metrics, params and tags on an active run in one
	// transaction. Metric points identical in every field to a stored point are
	// ignored, so a retried request is harmless.
	LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error
	DeleteTag(ctx context.Context, runID, key string) error
	LogInputs(ctx context.Context, runID string, inputs []DatasetInput) error
	// MetricHistory returns every point of a run's metric, ordered by step then
	// timestamp. An unknown run is ENOTFOUND; an unknown key gives no points.
	MetricHistory(ctx context.Context, runID, key string) ([]Metric, error)
	SearchRuns(ctx context.Context, q RunQuery) ([]Run, string, error)
	// LogOutputs records logged models a run produced; an unknown or inactive
	// run is ENOTFOUND or EINVALID. A model already recorded keeps its step.
	LogOutputs(ctx context.Context, runID string, outputs []ModelOutput) error

	// CreateLoggedModel stores m with its params and tags; m.ID is set by the
	// caller and its experiment exists.
	CreateLoggedModel(ctx context.Context, m LoggedModel) error
	// GetLoggedModel returns a logged model, deleted ones included; an unknown
	// ID is ENOTFOUND.
	GetLoggedModel(ctx context.Context, id string) (LoggedModel, error)
	UpdateLoggedModelStatus(ctx context.Context, id, status string, now int64) error
	// DeleteLoggedModel marks a logged model deleted.
	DeleteLoggedModel(ctx context.Context, id string, now int64) error
	SetLoggedModelTags(ctx context.Context, id string, tags []Tag, now int64) error
	// DeleteLoggedModelTag removes a tag; an absent one is ENOTFOUND.
	DeleteLoggedModelTag(ctx context.Context, id, key string) error
	// LogLoggedModelParams adds params; a param whose value would change is
	// EINVALID.
	LogLoggedModelParams(ctx context.Context, id string, params []Param) error
	// SearchLoggedModels returns one page of active logged models of the
	// experiments, ordered by q.OrderBy then creation time (newest first) and ID.
	SearchLoggedModels(ctx context.Context, q LoggedModelQuery) ([]LoggedModel, string, error)
}

// RunUpdate holds the fields UpdateRun may change; zero values mean "unchanged".
type RunUpdate struct {
	Status  string
	EndTime int64
	RunName string
}
