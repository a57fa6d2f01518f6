package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/gitinfo"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// Environment variables every job's command gets, besides its spec's
// environment_variables.
const (
	EnvTrackingURI  = "MLFLOW_TRACKING_URI"  // the tracking server
	EnvRunID        = "MLFLOW_RUN_ID"        // the job's run, which mlflow.start_run() resumes
	EnvExperimentID = "MLFLOW_EXPERIMENT_ID" // the run's experiment
	EnvFerryRunID   = "FERRY_RUN_ID"         // the job's run, again
	EnvOutputsDir   = "FERRY_OUTPUTS_DIR"    // the directory holding the outputs; everything in it is uploaded
	EnvJobID        = "FERRY_JOB_ID"         // the job
)

// Tags the runner sets on a job's run.
const (
	TagJobID      = "ferry.job.id"
	TagJobName    = "ferry.job.name"
	TagCommand    = "ferry.job.command"   // the command as the spec writes it
	TagState      = "ferry.job.state"     // the final State
	TagExitCode   = "ferry.job.exit_code" // of the last attempt; -1 when killed by a signal
	TagAttempts   = "ferry.job.attempts"
	TagMessage    = "ferry.job.message" // why the job did not succeed
	TagSourceType = "mlflow.source.type"
	TagSourceName = "mlflow.source.name"
	TagNote       = "mlflow.note.content"
	SourceTypeJob = "JOB"
)

// Artifact paths of a job's run.
const (
	LogArtifact     = "logs/job.log"
	OutputsArtifact = "outputs" // outputs/<name>/...
)

// Tracker is what the runner needs from tracking: a Ferry server through
// its client (internal/app.Remote), or the tracking service with the
// artifact store in the server.
type Tracker interface {
	EnsureExperiment(ctx context.Context, name string) (tracking.Experiment, error)
	CreateRun(ctx context.Context, req tracking.RunCreate) (tracking.Run, error)
	LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error
	UpdateRun(ctx context.Context, id string, u tracking.RunUpdate) (tracking.RunInfo, error)
	UploadArtifact(ctx context.Context, runID, path string, r io.Reader) error
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// TrackingURI is the tracking server's URL as the job's command must
	// reach it (MLFLOW_TRACKING_URI). Required.
	TrackingURI string
	// WorkDir holds each job's outputs, in WorkDir/<job ID>/outputs/<name>.
	// Required; with the Local executor, use its directory.
	WorkDir string
	// SourceTags returns the tags saying where the code in dir comes from;
	// default gitinfo.SourceTags(ctx, dir, false), which records the git commit.
	SourceTags func(ctx context.Context, dir string) map[string]string
	Poll       time.Duration // how often to ask an executor that is not a Waiter for the status; default 1s
	// StopTimeout bounds stopping a job, and recording its end, after the
	// context of Wait ends; default 30s.
	StopTimeout time.Duration
	Log         *slog.Logger     // default: discard
	Clock       func() time.Time // default time.Now
}

// Runner runs job specs as tracked runs: it creates the run, starts the job
// on an executor, and when the job ends records its log, outputs, exit code
// and status in the run. A Runner is safe for concurrent use.
type Runner struct {
	tracker Tracker
	ex      Executor
	opts    RunnerOptions
}

// NewRunner returns a Runner that tracks with t and runs jobs on ex.
func NewRunner(t Tracker, ex Executor, opts RunnerOptions) (*Runner, error) {
	if opts.TrackingURI == "" || opts.WorkDir == "" {
		return nil, errors.New("job: runner needs a tracking URI and a work directory")
	}
	if opts.SourceTags == nil {
		opts.SourceTags = func(ctx context.Context, dir string) map[string]string { return gitinfo.SourceTags(ctx, dir, false) }
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Runner{tracker: t, ex: ex, opts: opts}, nil
}

// Submission is a started job and its run.
type Submission struct {
	JobID        string `json:"job_id"`
	RunID        string `json:"run_id"`
	ExperimentID string `json:"experiment_id"`
	Experiment   string `json:"experiment"`
	OutputsDir   string `json:"outputs_dir"` // uploaded as the run's outputs/ artifacts when the job ends
}

// Submit creates the spec's run — in its experiment (created when absent),
// tagged with where the code comes from and the job ID, with the inputs as
// params — and starts the job. The job's command is rendered with its inputs
// and output directories and gets the Env* variables. When the job cannot be
// started, the run is marked FAILED and the error returned.
func (r *Runner) Submit(ctx context.Context, s *Spec) (Submission, error) {
	sub := Submission{JobID: NewID(), Experiment: s.ExperimentName}
	sub.OutputsDir = filepath.Join(r.opts.WorkDir, sub.JobID, "outputs")
	outputs := map[string]string{}
	for name := range s.Outputs {
		outputs[name] = filepath.Join(sub.OutputsDir, name)
		if err := os.MkdirAll(outputs[name], 0o755); err != nil {
			return sub, fmt.Errorf("job: create output %s: %w", name, err)
		}
	}
	if err := os.MkdirAll(sub.OutputsDir, 0o755); err != nil {
		return sub, fmt.Errorf("job: create outputs directory: %w", err)
	}
	command, err := s.Render(outputs)
	if err != nil {
		return sub, err
	}

	exp, err := r.tracker.EnsureExperiment(ctx, s.ExperimentName)
	if err != nil {
		return sub, fmt.Errorf("job: experiment %q: %w", s.ExperimentName, err)
	}
	sub.ExperimentID = exp.ID
	tags := r.opts.SourceTags(ctx, s.Code)
	for k, v := range s.Tags {
		tags[k] = v
	}
	tags[TagSourceType] = SourceTypeJob
	if s.Path != "" {
		tags[TagSourceName] = s.Path
	}
	tags[TagJobID] = sub.JobID
	tags[TagCommand] = s.Command
	if s.Name != "" {
		tags[TagJobName] = s.Name
	}
	if s.Description != "" {
		tags[TagNote] = s.Description
	}
	run, err := r.tracker.CreateRun(ctx, tracking.RunCreate{
		ExperimentID: exp.ID, RunName: s.RunName(), UserID: tags["mlflow.user"],
		StartTime: r.opts.Clock().UnixMilli(), Tags: tracking.TagList(tags),
	})
	if err != nil {
		return sub, fmt.Errorf("job: create run: %w", err)
	}
	sub.RunID = run.Info.RunID
	fail := func(err error) (Submission, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StopTimeout)
		defer cancel()
		if _, uerr := r.tracker.UpdateRun(cctx, sub.RunID, tracking.RunUpdate{Status: tracking.StatusFailed, EndTime: r.opts.Clock().UnixMilli()}); uerr != nil {
			r.opts.Log.Warn("job run not marked failed", "run_id", sub.RunID, "err", uerr)
		}
		return sub, err
	}
	params := tracking.ParamList(s.Params())
	for len(params) > 0 {
		n := min(len(params), 100)
		if err := r.tracker.LogBatch(ctx, sub.RunID, nil, params[:n], nil); err != nil {
			return fail(fmt.Errorf("job: log inputs as params: %w", err))
		}
		params = params[n:]
	}

	env := make(map[string]string, len(s.Env)+6)
	for k, v := range s.Env {
		env[k] = v
	}
	env[EnvTrackingURI] = r.opts.TrackingURI
	env[EnvRunID] = sub.RunID
	env[EnvExperimentID] = exp.ID
	env[EnvFerryRunID] = sub.RunID
	env[EnvOutputsDir] = sub.OutputsDir
	env[EnvJobID] = sub.JobID
	j := Job{
		ID: sub.JobID, Name: s.RunName(), Command: command, Dir: s.Code, Env: env,
		Timeout: s.Timeout, Retry: s.Retries,
		Labels: map[string]string{"run_id": sub.RunID, "experiment_id": exp.ID, "experiment": s.ExperimentName},
	}
	if _, err := r.ex.Submit(ctx, j); err != nil {
		return fail(fmt.Errorf("job: submit: %w", err))
	}
	r.opts.Log.Info("job submitted", "job", sub.JobID, "run_id", sub.RunID)
	return sub, nil
}

// Wait waits for the job of sub to end and records the end in its run (see
// Finish). If ctx ends first, Wait cancels the job, records it as KILLED and
// returns its status with an error wrapping ctx's error. An error recording
// the end is returned with the job's status.
func (r *Runner) Wait(ctx context.Context, sub Submission) (Status, error) {
	st, err := Wait(ctx, r.ex, sub.JobID, r.opts.Poll)
	if err == nil {
		return st, r.Finish(ctx, sub, st)
	}
	if ctx.Err() == nil {
		return st, err
	}
	interrupted := ctx.Err()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StopTimeout)
	defer cancel()
	if err := r.ex.Cancel(cctx, sub.JobID); err != nil {
		return st, errors.Join(fmt.Errorf("job: %s interrupted: %w", sub.JobID, interrupted), err)
	}
	if st, err = r.ex.Status(cctx, sub.JobID); err != nil {
		return st, errors.Join(fmt.Errorf("job: %s interrupted: %w", sub.JobID, interrupted), err)
	}
	return st, errors.Join(fmt.Errorf("job: %s interrupted: %w", sub.JobID, interrupted), r.Finish(cctx, sub, st))
}

// RunStatus is the run status for a job's final state: FINISHED for
// Succeeded, KILLED for Cancelled, FAILED otherwise.
func RunStatus(s State) string {
	switch s {
	case Succeeded:
		return tracking.StatusFinished
	case Cancelled:
		return tracking.StatusKilled
	}
	return tracking.StatusFailed
}

// Finish records the end of the job of sub, whose final status is st, in its
// run: the log as the artifact logs/job.log, the files under the outputs
// directory as outputs/..., the tags ferry.job.state, exit_code, attempts
// (and message), and the run's status (RunStatus) and end time. It does every
// step it can and returns their errors joined.
func (r *Runner) Finish(ctx context.Context, sub Submission, st Status) error {
	var errs []error
	if rc, err := r.ex.Logs(ctx, sub.JobID, false); err != nil {
		errs = append(errs, fmt.Errorf("job: read log: %w", err))
	} else {
		if err := r.tracker.UploadArtifact(ctx, sub.RunID, LogArtifact, rc); err != nil {
			errs = append(errs, fmt.Errorf("job: upload log: %w", err))
		}
		rc.Close()
	}
	if err := r.uploadOutputs(ctx, sub); err != nil {
		errs = append(errs, err)
	}
	tags := map[string]string{
		TagState:    string(st.State),
		TagExitCode: strconv.Itoa(st.ExitCode),
		TagAttempts: strconv.Itoa(st.Attempts),
	}
	if st.Message != "" {
		tags[TagMessage] = st.Message
	}
	if err := r.tracker.LogBatch(ctx, sub.RunID, nil, nil, tracking.TagList(tags)); err != nil {
		errs = append(errs, fmt.Errorf("job: tag run: %w", err))
	}
	end := st.EndedAt
	if end.IsZero() {
		end = r.opts.Clock()
	}
	if _, err := r.tracker.UpdateRun(ctx, sub.RunID, tracking.RunUpdate{Status: RunStatus(st.State), EndTime: end.UnixMilli()}); err != nil {
		errs = append(errs, fmt.Errorf("job: end run: %w", err))
	}
	return errors.Join(errs...)
}

// uploadOutputs uploads the regular files (and links to them) under the
// outputs directory.
func (r *Runner) uploadOutputs(ctx context.Context, sub Submission) error {
	err := filepath.WalkDir(sub.OutputsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return nil // a socket, a dangling link, a link to a directory: skipped
			}
		}
		rel, err := filepath.Rel(sub.OutputsDir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return r.tracker.UploadArtifact(ctx, sub.RunID, path.Join(OutputsArtifact, filepath.ToSlash(rel)), f)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("job: upload outputs: %w", err)
	}
	return nil
}

// InheritedEnv returns the part of a parent environment (KEY=VALUE entries)
// that jobs inherit: everything but FERRY_* variables, which may hold
// secrets such as store passwords and S3 keys, and the MLflow variables that
// say which run to log to, which the runner sets.
func InheritedEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := cutEnv(kv)
		switch {
		case strings.HasPrefix(k, "FERRY_"), k == EnvTrackingURI, k == EnvRunID, k == EnvExperimentID, k == "MLFLOW_EXPERIMENT_NAME":
			continue
		}
		out = append(out, kv)
	}
	return out
}
