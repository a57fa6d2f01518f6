package app

import (
	"context"
	"io"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// The tracking calls that training and jobs make, over the client
// (train.Tracker, job.Tracker).

// EnsureExperiment returns the experiment named name, creating it when absent.
func (r Remote) EnsureExperiment(ctx context.Context, name string) (tracking.Experiment, error) {
	e, err := r.Client.EnsureExperiment(ctx, name)
	if err != nil {
		return tracking.Experiment{}, serverError(err)
	}
	return tracking.Experiment{
		ID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation, LifecycleStage: e.LifecycleStage,
		CreationTime: e.CreationTime, LastUpdateTime: e.LastUpdateTime, Tags: tagsOf(e.Tags),
	}, nil
}

// CreateRun starts a run.
func (r Remote) CreateRun(ctx context.Context, req tracking.RunCreate) (tracking.Run, error) {
	run, err := r.Client.CreateRun(ctx, client.CreateRun{
		ExperimentID: req.ExperimentID, RunName: req.RunName, UserID: req.UserID, StartTime: req.StartTime, Tags: clientTags(req.Tags),
	})
	if err != nil {
		return tracking.Run{}, serverError(err)
	}
	return tracking.Run{Info: runInfoOf(run.Info)}, nil
}

// LogBatch logs metrics, params and tags to a run.
func (r Remote) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	ms := make([]client.Metric, len(metrics))
	for i, m := range metrics {
		ms[i] = client.Metric(m)
	}
	ps := make([]client.Tag, len(params))
	for i, p := range params {
		ps[i] = client.Tag(p)
	}
	return serverError(r.Client.LogBatch(ctx, runID, ms, ps, clientTags(tags)))
}

// LogInputs records datasets a run consumed.
func (r Remote) LogInputs(ctx context.Context, runID string, inputs []tracking.DatasetInput) error {
	in := make([]client.DatasetInput, len(inputs))
	for i, d := range inputs {
		in[i] = client.DatasetInput{Tags: clientTags(d.Tags), Dataset: client.Dataset(d.Dataset)}
	}
	return serverError(r.Client.LogInputs(ctx, runID, in))
}

// UpdateRun changes a run's status, end time or name.
func (r Remote) UpdateRun(ctx context.Context, id string, u tracking.RunUpdate) (tracking.RunInfo, error) {
	run, err := r.Client.UpdateRun(ctx, id, client.RunUpdate(u))
	if err != nil {
		return tracking.RunInfo{}, serverError(err)
	}
	return runInfoOf(run.Info), nil
}

// UploadArtifact stores an artifact of a run.
func (r Remote) UploadArtifact(ctx context.Context, runID, path string, body io.Reader) error {
	return serverError(r.Client.UploadArtifact(ctx, runID, path, body))
}

func runInfoOf(i client.RunInfo) tracking.RunInfo { return tracking.RunInfo(i) }

func tagsOf(ts []client.Tag) []tracking.Tag {
	out := make([]tracking.Tag, len(ts))
	for i, t := range ts {
		out[i] = tracking.Tag(t)
	}
	return out
}

func clientTags(ts []tracking.Tag) []client.Tag {
	out := make([]client.Tag, len(ts))
	for i, t := range ts {
		out[i] = client.Tag(t)
	}
	return out
}
