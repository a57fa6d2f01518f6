package httpapi

import (
	"github.com/ferry-ml/ferry/internal/tracking"
	"github.com/ferry-ml/ferry/internal/wirejson"
)

// The JSON shapes of MLflow's service.proto, which /api/v1 shares: snake_case
// field names, IDs as strings, int64 times as numbers, empty lists omitted.

// Local names for the wire scalars, so that struct definitions read short.
type (
	flexInt64 = wirejson.Int64
	flexFloat = wirejson.Float
	idString  = wirejson.ID
)

func clip(s string) string { return wirejson.Clip(s) }

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type wireMetric struct {
	Key       string    `json:"key"`
	Value     flexFloat `json:"value"`
	Timestamp flexInt64 `json:"timestamp"`
	Step      flexInt64 `json:"step"`
}

type wireExperiment struct {
	ExperimentID     string    `json:"experiment_id"`
	Name             string    `json:"name"`
	ArtifactLocation string    `json:"artifact_location"`
	LifecycleStage   string    `json:"lifecycle_stage"`
	LastUpdateTime   int64     `json:"last_update_time"`
	CreationTime     int64     `json:"creation_time"`
	Tags             []wireTag `json:"tags,omitempty"`
}

type wireRunInfo struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type wireRunData struct {
	Metrics []wireMetric `json:"metrics,omitempty"`
	Params  []wireTag    `json:"params,omitempty"`
	Tags    []wireTag    `json:"tags,omitempty"`
}

type wireDataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

type wireDatasetInput struct {
	Tags    []wireTag   `json:"tags,omitempty"`
	Dataset wireDataset `json:"dataset"`
}

type wireRunInputs struct {
	DatasetInputs []wireDatasetInput `json:"dataset_inputs,omitempty"`
}

type wireModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

type wireRunOutputs struct {
	ModelOutputs []wireModelOutput `json:"model_outputs,omitempty"`
}

type wireRun struct {
	Info    wireRunInfo     `json:"info"`
	Data    wireRunData     `json:"data"`
	Inputs  *wireRunInputs  `json:"inputs,omitempty"`  // nil only in runs/create's answer, which MLflow sends without it
	Outputs *wireRunOutputs `json:"outputs,omitempty"` // only when the run logged models (MLflow 3)
}

func toWireTags[T tracking.Tag | tracking.Param](in []T) []wireTag {
	if len(in) == 0 {
		return nil
	}
	out := make([]wireTag, len(in))
	for i, t := range in {
		tt := tracking.Tag(t)
		out[i] = wireTag{Key: tt.Key, Value: tt.Value}
	}
	return out
}

func fromWireTags(in []wireTag) []tracking.Tag {
	out := make([]tracking.Tag, len(in))
	for i, t := range in {
		out[i] = tracking.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromWireParams(in []wireTag) []tracking.Param {
	out := make([]tracking.Param, len(in))
	for i, t := range in {
		out[i] = tracking.Param{Key: t.Key, Value: t.Value}
	}
	return out
}

func toWireMetric(m tracking.Metric) wireMetric {
	return wireMetric{Key: m.Key, Value: flexFloat(m.Value), Timestamp: flexInt64(m.Timestamp), Step: flexInt64(m.Step)}
}

func fromWireMetrics(in []wireMetric) []tracking.Metric {
	out := make([]tracking.Metric, len(in))
	for i, m := range in {
		out[i] = tracking.Metric{Key: m.Key, Value: float64(m.Value), Timestamp: int64(m.Timestamp), Step: int64(m.Step)}
	}
	return out
}

func toWireExperiment(e tracking.Experiment) wireExperiment {
	return wireExperiment{
		ExperimentID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation, LifecycleStage: e.LifecycleStage,
		LastUpdateTime: e.LastUpdateTime, CreationTime: e.CreationTime, Tags: toWireTags(e.Tags),
	}
}

func toWireRunInfo(in tracking.RunInfo) wireRunInfo {
	return wireRunInfo{
		RunID: in.RunID, RunUUID: in.RunID, RunName: in.RunName, ExperimentID: in.ExperimentID, UserID: in.UserID,
		Status: in.Status, StartTime: in.StartTime, EndTime: in.EndTime, ArtifactURI: in.ArtifactURI, LifecycleStage: in.LifecycleStage,
	}
}

func toWireRun(r tracking.Run) wireRun {
	w := wireRun{Info: toWireRunInfo(r.Info), Inputs: &wireRunInputs{}}
	for _, m := range r.Data.Metrics {
		w.Data.Metrics = append(w.Data.Metrics, toWireMetric(m))
	}
	w.Data.Params = toWireTags(r.Data.Params)
	w.Data.Tags = toWireTags(r.Data.Tags)
	for _, in := range r.Inputs {
		d := in.Dataset
		w.Inputs.DatasetInputs = append(w.Inputs.DatasetInputs, wireDatasetInput{
			Tags:    toWireTags(in.Tags),
			Dataset: wireDataset{Name: d.Name, Digest: d.Digest, SourceType: d.SourceType, Source: d.Source, Schema: d.Schema, Profile: d.Profile},
		})
	}
	if len(r.Outputs) > 0 {
		w.Outputs = &wireRunOutputs{}
		for _, o := range r.Outputs {
			w.Outputs.ModelOutputs = append(w.Outputs.ModelOutputs, wireModelOutput{ModelID: o.ModelID, Step: o.Step})
		}
	}
	return w
}

func fromWireInputs(in []wireDatasetInput) []tracking.DatasetInput {
	out := make([]tracking.DatasetInput, len(in))
	for i, di := range in {
		d := di.Dataset
		out[i] = tracking.DatasetInput{
			Tags:    fromWireTags(di.Tags),
			Dataset: tracking.Dataset{Name: d.Name, Digest: d.Digest, SourceType: d.SourceType, Source: d.Source, Schema: d.Schema, Profile: d.Profile},
		}
	}
	return out
}
