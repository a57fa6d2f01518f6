package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/tracking"
	"github.com/ferry-ml/ferry/internal/train/gbdt"
	"github.com/ferry-ml/ferry/internal/train/linear"
)

// Tracker is what training needs from tracking: a Ferry server through its
// client (internal/app.Remote), or the tracking service with the artifact
// store in the server.
type Tracker interface {
	EnsureExperiment(ctx context.Context, name string) (tracking.Experiment, error)
	CreateRun(ctx context.Context, req tracking.RunCreate) (tracking.Run, error)
	LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error
	LogInputs(ctx context.Context, runID string, inputs []tracking.DatasetInput) error
	UploadArtifact(ctx context.Context, runID, path string, r io.Reader) error
	UpdateRun(ctx context.Context, id string, u tracking.RunUpdate) (tracking.RunInfo, error)
}

// DataResolver turns a data:/name/version reference into a local file and its
// registered version.
type DataResolver interface {
	ResolveData(ctx context.Context, ref string) (path string, asset dataset.Asset, err error)
}

// Progress reports training progress: stage names a phase ("reading",
// "training", "packaging"); done and total count iterations (0 when unknown).
type Progress func(stage string, done, total int)

// Runner trains models from specs as tracked runs.
type Runner struct {
	Tracker    Tracker
	Data       DataResolver      // nil: only file paths are accepted
	SourceTags map[string]string // tags of the code that asked for training (git commit, user)
	Progress   Progress          // nil: silent
	Log        *slog.Logger      // nil: discard
	Now        func() time.Time  // nil: time.Now
	// KeepDir, when set, keeps the model package there instead of a
	// temporary directory.
	KeepDir string
}

// Result is what a training run produced.
type Result struct {
	RunID        string             `json:"run_id"`
	ExperimentID string             `json:"experiment_id"`
	ArtifactURI  string             `json:"artifact_uri"`
	Task         string             `json:"task"`
	Trainer      string             `json:"trainer"`
	TrainRows    int                `json:"train_rows"`
	ValidRows    int                `json:"validation_rows"`
	Metrics      map[string]float64 `json:"metrics"`
	ModelDigest  string             `json:"model_digest"` // sha256 of model.json
	PackageDir   string             `json:"package_dir,omitempty"`
	Duration     time.Duration      `json:"duration_ns"`
}

// Run trains the model spec describes as a run: reads and splits the data,
// trains, scores the validation rows, writes the model package and uploads it
// as the run's "model" artifact. The run ends FINISHED, or FAILED with the
// error in a tag.
func (r *Runner) Run(ctx context.Context, spec Spec) (*Result, error) {
	if err := spec.Normalize(); err != nil {
		return nil, err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	start := now()
	r.progress("reading", 0, 0)
	prep, err := r.prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	exp, err := r.Tracker.EnsureExperiment(ctx, spec.ExperimentName)
	if err != nil {
		return nil, err
	}
	tags := map[string]string{"ferry.trainer": spec.Trainer, "ferry.task": prep.task, "ferry.target": spec.Target}
	if spec.PositiveWhen != "" {
		tags["ferry.positive_when"] = spec.PositiveWhen
	}
	for k, v := range r.SourceTags {
		tags[k] = v
	}
	for k, v := range spec.Tags {
		tags[k] = v
	}
	run, err := r.Tracker.CreateRun(ctx, tracking.RunCreate{ExperimentID: exp.ID, RunName: spec.Name, StartTime: start.UnixMilli(), UserID: tags["mlflow.user"], Tags: tracking.TagList(tags)})
	if err != nil {
		return nil, err
	}
	res, err := r.train(ctx, spec, prep, run)
	status := tracking.StatusFinished
	if err != nil {
		status = tracking.StatusFailed
		if ctx.Err() != nil {
			status = tracking.StatusKilled
		}
		_ = r.Tracker.LogBatch(context.WithoutCancel(ctx), run.Info.RunID, nil, nil, []tracking.Tag{{Key: "ferry.error", Value: truncate(ferry.ErrorMessage(err)+" "+err.Error(), 5000)}})
	}
	if _, uerr := r.Tracker.UpdateRun(context.WithoutCancel(ctx), run.Info.RunID, tracking.RunUpdate{Status: status, EndTime: now().UnixMilli()}); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return nil, fmt.Errorf("train: run %s: %w", run.Info.RunID, err)
	}
	res.Duration = now().Sub(start)
	return res, nil
}

func (r *Runner) progress(stage string, done, total int) {
	if r.Progress != nil {
		r.Progress(stage, done, total)
	}
}

// prepared is the data of a training run, read and split.
type prepared struct {
	frame        *dataset.Frame
	source       string
	asset        dataset.Asset
	task         string
	classes      []string
	features     []native.FeatureSpec
	y            []float64
	trIdx, vaIdx []int
}

func (r *Runner) prepare(ctx context.Context, spec Spec) (*prepared, error) {
	p := &prepared{source: spec.Data}
	path := spec.Data
	if strings.HasPrefix(spec.Data, "data:") {
		if r.Data == nil {
			return nil, ferry.Errorf(ferry.EINVALID, "data %q: registered data is not available here; give a file path", spec.Data)
		}
		var err error
		if path, p.asset, err = r.Data.ResolveData(ctx, spec.Data); err != nil {
			return nil, err
		}
	}
	f, err := dataset.Read(ctx, path, dataset.ReadOptions{})
	if err != nil {
		return nil, err
	}
	if f.Len() < 2 {
		return nil, ferry.Errorf(ferry.EINVALID, "%s has %d rows; training needs at least 2", path, f.Len())
	}
	if p.asset.Digest == "" {
		digest, err := dataset.FileDigest(ctx, path)
		if err != nil {
			return nil, err
		}
		p.asset = dataset.Asset{Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), Digest: "sha256:" + digest, URI: path}
	}
	p.frame = f
	target, err := f.Col(spec.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	p.task = spec.Task
	if p.task == "" {
		p.task = inferTask(target, spec.Trainer)
	}
	if p.y, p.classes, err = native.Labels(target, p.task, spec.PositiveWhen); err != nil {
		return nil, err
	}
	if p.task == model.TaskMulticlass && len(p.classes) == 2 {
		p.task = model.TaskBinary
	}
	if len(spec.Metrics) > 0 {
		if err := CheckMetrics(p.task, p.classes, spec.Metrics); err != nil {
			return nil, err
		}
	}
	if p.features, err = native.ParseFeatures(f, spec.Features, spec.Target); err != nil {
		return nil, err
	}
	// Decode the params now, so that a typo fails before a run exists.
	if spec.Trainer == TrainerGBDT {
		err = decodeParams(spec.Params, &gbdt.Params{})
	} else {
		err = decodeParams(spec.Params, &linear.Params{})
	}
	if err != nil {
		return nil, err
	}
	if p.trIdx, p.vaIdx, err = split(f, spec); err != nil {
		return nil, err
	}
	if len(p.trIdx) == 0 || len(p.vaIdx) == 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "the split leaves %d training and %d validation rows; both need some", len(p.trIdx), len(p.vaIdx))
	}
	return p, nil
}

func inferTask(target *dataset.Column, trainer string) string {
	if trainer == TrainerLinear {
		return model.TaskRegression
	}
	if target.Kind == dataset.KindCategorical {
		if len(target.Levels) == 2 {
			return model.TaskBinary
		}
		return model.TaskMulticlass
	}
	distinct := map[float64]bool{}
	for _, v := range target.Num {
		if v != float64(int64(v)) || len(distinct) > 50 {
			return model.TaskRegression
		}
		distinct[v] = true
	}
	if len(distinct) == 2 {
		return model.TaskBinary
	}
	return model.TaskMulticlass
}

func split(f *dataset.Frame, spec Spec) (tr, va []int, err error) {
	s := spec.Split
	switch s.Method {
	case "time":
		col, err := f.Col(s.Column)
		if err != nil {
			return nil, nil, fmt.Errorf("split: %w", err)
		}
		if col.Kind != dataset.KindTimestamp {
			return nil, nil, ferry.Errorf(ferry.EINVALID, "split: column %q is %s; a time split needs a timestamp", s.Column, col.Kind)
		}
		cut, err := parseTime(s.Cut)
		if err != nil {
			return nil, nil, err
		}
		tr, va = dataset.TimeSplit(col, cut)
		return tr, va, nil
	case "group":
		col, err := f.Col(s.Column)
		if err != nil {
			return nil, nil, fmt.Errorf("split: %w", err)
		}
		va, tr = dataset.GroupSplit(col, s.Validation, spec.Seed) // the first part holds the fraction
		return tr, va, nil
	}
	parts := dataset.RandomSplit(f.Len(), []float64{1 - s.Validation, s.Validation}, spec.Seed)
	return parts[0], parts[1], nil
}

func parseTime(s string) (time.Time, error) {
	if t, ok := dataset.ParseTime(s); ok {
		return t, nil
	}
	return time.Time{}, ferry.Errorf(ferry.EINVALID, "split.cut %q is not a time; use 2001-05-01 or RFC 3339", s)
}

func (r *Runner) train(ctx context.Context, spec Spec, p *prepared, run tracking.Run) (*Result, error) {
	runID := run.Info.RunID
	all, err := native.BuildFeatures(p.frame, p.features)
	if err != nil {
		return nil, err
	}
	pick := func(idx []int) ([]native.Feature, []float64) {
		feats := make([]native.Feature, len(all))
		for j, f := range all {
			g := native.Feature{Name: f.Name, Levels: f.Levels}
			if f.Codes != nil {
				g.Codes = make([]int32, len(idx))
				for k, i := range idx {
					g.Codes[k] = f.Codes[i]
				}
			} else {
				g.Num = make([]float64, len(idx))
				for k, i := range idx {
					g.Num[k] = f.Num[i]
				}
			}
			feats[j] = g
		}
		y := make([]float64, len(idx))
		for k, i := range idx {
			y[k] = p.y[i]
		}
		return feats, y
	}
	trF, trY := pick(p.trIdx)
	vaF, vaY := pick(p.vaIdx)

	pipe := &native.Pipeline{FormatVersion: native.PipelineFormatVersion, Task: p.task, Target: spec.Target, Features: p.features, Trainer: spec.Trainer}
	if p.task != model.TaskRegression {
		pipe.ClassLabels = p.classes
	}
	series := &metricBuffer{tracker: r.Tracker, runID: runID}
	var params map[string]string
	switch spec.Trainer {
	case TrainerGBDT:
		gp := gbdt.DefaultParams(gbdtObjective(p.task))
		gp.Seed = spec.Seed
		if err := decodeParams(spec.Params, &gp); err != nil {
			return nil, err
		}
		gp.Objective = gbdtObjective(p.task)
		if p.task == model.TaskMulticlass {
			gp.NumClass = len(p.classes)
		}
		params = flatParams(gp)
		if err := r.logStart(ctx, runID, params, p); err != nil {
			return nil, err
		}
		valid := &gbdt.Data{Features: vaF, Label: vaY}
		m, err := gbdt.Train(ctx, &gbdt.Data{Features: trF, Label: trY}, valid, gp, func(iter int, trainMetric, validMetric float64) error {
			r.progress("training", iter+1, gp.NumRounds)
			name := gbdtMetricName(p.task)
			return series.add(ctx, iter, map[string]float64{"train_" + name: trainMetric, "val_" + name: validMetric})
		})
		if err != nil {
			return nil, err
		}
		pipe.GBDT = m
	default:
		lp := linear.DefaultParams()
		if err := decodeParams(spec.Params, &lp); err != nil {
			return nil, err
		}
		params = flatParams(lp)
		if err := r.logStart(ctx, runID, params, p); err != nil {
			return nil, err
		}
		enc := native.FitEncoder(trF)
		m, err := linear.Train(ctx, p.task, len(p.classes), enc.Encode(trF), trY, lp, func(epoch int, loss float64) error {
			r.progress("training", epoch, lp.Epochs)
			return series.add(ctx, epoch, map[string]float64{"train_loss": loss})
		})
		if err != nil {
			return nil, err
		}
		pipe.Linear, pipe.Encoder = m, enc
	}
	if err := series.flush(ctx); err != nil {
		return nil, err
	}

	pred, err := pipe.PredictFeatures(ctx, vaF)
	if err != nil {
		return nil, err
	}
	names := spec.Metrics
	if len(names) == 0 {
		names = DefaultMetrics(p.task)
	}
	scores, err := Score(p.task, pipe.ClassLabels, vaY, pred, names)
	if err != nil {
		return nil, err
	}
	final := make([]tracking.Metric, 0, len(scores))
	nowMs := time.Now().UnixMilli()
	for _, k := range sortedKeys(scores) {
		final = append(final, tracking.Metric{Key: "val_" + k, Value: scores[k], Timestamp: nowMs})
	}
	if err := r.Tracker.LogBatch(ctx, runID, final, nil, nil); err != nil {
		return nil, err
	}

	r.progress("packaging", 0, 0)
	dir, digest, err := r.writePackage(ctx, spec, p, pipe, run, params)
	if err != nil {
		return nil, err
	}
	if r.KeepDir == "" {
		defer os.RemoveAll(filepath.Dir(dir))
	}
	if err := uploadDir(ctx, r.Tracker, runID, dir, "model"); err != nil {
		return nil, err
	}
	res := &Result{
		RunID: runID, ExperimentID: run.Info.ExperimentID, ArtifactURI: run.Info.ArtifactURI, Task: p.task, Trainer: spec.Trainer,
		TrainRows: len(p.trIdx), ValidRows: len(p.vaIdx), Metrics: map[string]float64{}, ModelDigest: digest,
	}
	if r.KeepDir != "" {
		res.PackageDir = dir
	}
	for k, v := range scores {
		res.Metrics["val_"+k] = v
	}
	return res, nil
}

// logStart logs the run's params and its input dataset.
func (r *Runner) logStart(ctx context.Context, runID string, params map[string]string, p *prepared) error {
	ps := tracking.ParamList(params)
	for len(ps) > 0 {
		n := min(len(ps), 100)
		if err := r.Tracker.LogBatch(ctx, runID, nil, ps[:n], nil); err != nil {
			return err
		}
		ps = ps[n:]
	}
	schema, _ := json.Marshal(p.frame.Schema())
	source, _ := json.Marshal(map[string]string{"uri": p.asset.URI})
	return r.Tracker.LogInputs(ctx, runID, []tracking.DatasetInput{{
		Tags:    []tracking.Tag{{Key: "mlflow.data.context", Value: "training"}},
		Dataset: tracking.Dataset{Name: p.asset.Name, Digest: shortDigest(p.asset.Digest), SourceType: "local", Source: string(source), Schema: truncate(string(schema), 1<<20)},
	}})
}

// shortDigest fits a "sha256:<hex>" digest into MLflow's 36-character limit.
func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 36 {
		return d[:36]
	}
	return d
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func gbdtObjective(task string) string {
	switch task {
	case model.TaskBinary:
		return native.ObjectiveBinary
	case model.TaskMulticlass:
		return native.ObjectiveMulticlass
	}
	return native.ObjectiveRegression
}

func gbdtMetricName(task string) string {
	switch task {
	case model.TaskBinary:
		return "logloss"
	case model.TaskMulticlass:
		return "mlogloss"
	}
	return "rmse"
}

// flatParams renders a params struct as string params, by JSON field name.
func flatParams(v any) map[string]string {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// metricBuffer batches per-iteration metrics into log-batch calls of at most
// 1,000 points.
type metricBuffer struct {
	tracker Tracker
	runID   string
	buf     []tracking.Metric
}

func (b *metricBuffer) add(ctx context.Context, step int, values map[string]float64) error {
	ts := time.Now().UnixMilli()
	for _, k := range sortedKeys(values) {
		b.buf = append(b.buf, tracking.Metric{Key: k, Value: values[k], Timestamp: ts, Step: int64(step)})
	}
	if len(b.buf) >= 900 {
		return b.flush(ctx)
	}
	return nil
}

func (b *metricBuffer) flush(ctx context.Context) error {
	if len(b.buf) == 0 {
		return nil
	}
	err := b.tracker.LogBatch(ctx, b.runID, b.buf, nil, nil)
	b.buf = b.buf[:0]
	return err
}

func (r *Runner) logger() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// uploadDir uploads every file under dir as an artifact under prefix.
func uploadDir(ctx context.Context, t Tracker, runID, dir, prefix string) error {
	return model.EachFile(dir, func(rel string, r io.Reader) error {
		return t.UploadArtifact(ctx, runID, prefix+"/"+rel, r)
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
