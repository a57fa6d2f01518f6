// Package tracking is the first stage of the lifecycle: experiments and the runs
// in them, with their parameters, metric series, tags, dataset inputs and
// artifact locations. Its data model and rules follow MLflow's tracking service so
// that the MLflow REST API in internal/httpapi is a thin translation.
//
// The package owns the Store interface it consumes; internal/store/sqlite and
// internal/store/postgres implement it and internal/store/storetest checks them.
package tracking

import (
	"slices"
	"strings"
)

// Lifecycle stages of experiments and runs.
const (
	StageActive  = "active"
	StageDeleted = "deleted"
)

// Run statuses, as MLflow names them.
const (
	StatusRunning   = "RUNNING"
	StatusScheduled = "SCHEDULED"
	StatusFinished  = "FINISHED"
	StatusFailed    = "FAILED"
	StatusKilled    = "KILLED"
)

// DefaultExperimentID is the experiment every store starts with, named "Default".
const DefaultExperimentID = "0"

// DefaultExperimentName is the name of the experiment with DefaultExperimentID.
const DefaultExperimentName = "Default"

// Tags that carry well-known run attributes, as MLflow's clients set them.
const (
	TagRunName    = "mlflow.runName"
	TagUser       = "mlflow.user"
	TagGitCommit  = "mlflow.source.git.commit"
	TagGitDirty   = "ferry.source.git.dirty"
	TagSourceName = "mlflow.source.name"
)

// Tag is a key/value label on an experiment, run or dataset input.
type Tag struct {
	Key   string
	Value string
}

// Param is a run's input parameter; once logged its value never changes.
type Param struct {
	Key   string
	Value string
}

// Metric is one point of a metric's series. Value may be NaN or ±Inf.
// Timestamp is in milliseconds since the Unix epoch.
type Metric struct {
	Key       string
	Value     float64
	Timestamp int64
	Step      int64
}

// Experiment groups runs.
type Experiment struct {
	ID               string
	Name             string
	ArtifactLocation string
	LifecycleStage   string
	CreationTime     int64 // ms since epoch
	LastUpdateTime   int64 // ms since epoch
	Tags             []Tag
}

// RunInfo is a run's metadata. EndTime is 0 while the run has not ended.
type RunInfo struct {
	RunID          string
	RunName        string
	ExperimentID   string
	UserID         string
	Status         string
	StartTime      int64
	EndTime        int64
	ArtifactURI    string
	LifecycleStage string
}

// RunData holds a run's latest metric values, its params and its tags.
type RunData struct {
	Metrics []Metric // the latest value of each metric key
	Params  []Param
	Tags    []Tag
}

// Dataset describes data a run consumed, identified by name and digest.
type Dataset struct {
	Name       string
	Digest     string
	SourceType string
	Source     string
	Schema     string
	Profile    string
}

// DatasetInput is a dataset used by a run, with tags such as mlflow.data.context.
type DatasetInput struct {
	Tags    []Tag
	Dataset Dataset
}

// Run is a run with everything logged to it. Outputs (the logged models it
// produced) are filled by GetRun, not by SearchRuns.
type Run struct {
	Info    RunInfo
	Data    RunData
	Inputs  []DatasetInput
	Outputs []ModelOutput
}

// Param returns the value of the param named key and whether it is set.
func (r Run) Param(key string) (string, bool) {
	for _, p := range r.Data.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Tag returns the value of the tag named key and whether it is set.
func (r Run) Tag(key string) (string, bool) {
	for _, t := range r.Data.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Metric returns the latest value of the metric named key and whether it is set.
func (r Run) Metric(key string) (Metric, bool) {
	for _, m := range r.Data.Metrics {
		if m.Key == key {
			return m, true
		}
	}
	return Metric{}, false
}

// TagList returns m as tags sorted by key.
func TagList(m map[string]string) []Tag {
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// ParamList returns m as params sorted by key.
func ParamList(m map[string]string) []Param {
	out := make([]Param, 0, len(m))
	for _, t := range TagList(m) {
		out = append(out, Param(t))
	}
	return out
}
