package validation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	nativemodel "github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

// Predictor scores every row of a frame, as Evaluate reads predictions:
// P(class 1) per row for binary models, the class probabilities (in the
// model's class order) row after row for multiclass models, values for
// regression. RuntimePredictor adapts a loaded model of any flavor, Ferry's
// own included. It must be safe to call more than once; Validate calls it
// from one goroutine at a time.
type Predictor func(ctx context.Context, f *dataset.Frame) ([]float64, error)

// Model is a model version taking part in a validation.
type Model struct {
	Ref Ref
	// Pkg is the loaded package; nil for a bare predictor (then the package
	// and data checks are skipped and Input.Task says the task).
	Pkg     *model.Package
	Predict Predictor
}

// Input is what Validate validates.
type Input struct {
	Candidate Model
	// Baseline, usually the champion, is evaluated on the same rows; nil
	// when there is none (the baseline rules' comparisons are skipped).
	Baseline *Model
	// Data holds the evaluation rows: the model's inputs, the target and
	// the slice columns.
	Data *dataset.Frame
	// DataRef names Data in the report; Rows is set from Data, and Digest,
	// when empty, is computed (dataset.FrameDigest).
	DataRef DataRef
	// Target is the label column.
	Target string
	// PositiveWhen turns a numeric target into a binary label, as in
	// training specs: "> 15".
	PositiveWhen string
	// Task and Classes are used when the candidate's package does not say
	// (no package, or one MLflow wrote). Without Classes, classes are derived
	// from the target as training derives them.
	Task    string
	Classes []string
	// Policy holds the gates and checks; nil means none (the schema is still
	// checked and predictions still verified).
	Policy *Policy
	// SliceColumns are reported per value besides the policy's slice
	// columns; only the policy's are gated.
	SliceColumns []string
	// User is recorded as the report's creator.
	User string
	// Now stamps the report; nil means time.Now.
	Now func() time.Time
}

// Validate evaluates the candidate (and the baseline, on the same rows),
// runs the package and data checks and the policy's gates, and returns the
// report with its verdict: pass when every gate and check passes (skipped
// ones count as passed), fail otherwise. A candidate whose inputs are not in
// the data (the schema check fails) or whose predictions are unusable is not
// evaluated and fails.
//
// Errors: an Input that cannot be validated — no data, no predictor, an
// unknown target or slice column, labels that are not the model's classes —
// is EINVALID with a nil report. A failure part-way — a baseline whose
// package fails verification or that cannot predict the data (never a pass),
// a candidate predictor failing with anything but EINVALID, ctx's error —
// returns the error together with a report whose Verdict is VerdictError and
// whose Error says why, for the record; callers exit with status 2.
//
// Validate calls the predictors from one goroutine at a time; metrics are
// computed in parallel.
func Validate(ctx context.Context, in Input) (*Report, error) {
	start := time.Now()
	if err := in.check(); err != nil {
		return nil, err
	}
	now := in.Now
	if now == nil {
		now = time.Now
	}
	policy := in.Policy
	if policy == nil {
		policy = &Policy{}
	}
	task, classes, y, err := in.labels()
	if err != nil {
		return nil, err
	}
	sliceCols, err := in.sliceColumns(policy)
	if err != nil {
		return nil, err
	}
	data := in.Data
	ref := in.DataRef
	ref.Rows = data.Len()
	if ref.Digest == "" {
		ref.Digest = "sha256:" + dataset.FrameDigest(data)
	}
	r := &Report{
		Model: in.Candidate.Ref.Model, Version: in.Candidate.Ref.Version, ModelURI: in.Candidate.Ref.URI,
		Data: ref, Task: task, ClassLabels: classes, CreatedAt: now().UnixMilli(), CreatedBy: in.User,
		Policy: policy.Name, PolicyDigest: policy.Digest, Metrics: map[string]float64{}, Gates: []GateResult{}, Checks: []CheckResult{},
	}
	if in.Baseline != nil {
		b := in.Baseline.Ref
		r.Baseline = &b
	}
	fail := func(err error) (*Report, error) {
		r.Verdict, r.Error = VerdictError, ferry.ErrorMessage(err)
		r.Timing.TotalMS = ms(time.Since(start))
		return r, err
	}

	// The baseline must be sound before anything is compared with it.
	var basePerm []int
	if b := in.Baseline; b != nil {
		if basePerm, err = baselineClasses(b, task, classes); err != nil {
			return nil, err
		}
		if b.Pkg != nil && b.Pkg.Verified() {
			if _, err := model.Load(ctx, b.Pkg.Dir); err != nil {
				if ctx.Err() != nil {
					return fail(ctx.Err())
				}
				return fail(modelError("baseline", b.Ref.URI, "fails verification", err))
			}
		}
	}

	outputs := 1
	if task == model.TaskMulticlass {
		outputs = len(classes)
	}
	cand := in.Candidate
	if cand.Pkg != nil {
		checks, size, err := CheckPackage(ctx, cand, outputs, data, policy.Package)
		if err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return fail(modelError("candidate", cand.Ref.URI, "cannot be checked", err))
		}
		r.Checks = append(r.Checks, checks...)
		r.PackageBytes = size
		profile, perr := trainingProfile(cand.Pkg)
		if perr != nil {
			r.Checks = append(r.Checks, CheckResult{Name: "profile", Message: perr.Error()})
		}
		r.Checks = append(r.Checks, CheckData(data, cand.Pkg.Manifest.Signature, profile, in.Target, policy.Data)...)
	}
	if slices.ContainsFunc(r.Checks, func(c CheckResult) bool { return c.Name == CheckSchema && !c.Passed }) {
		r.Verdict = VerdictFail
		r.Timing.TotalMS = ms(time.Since(start))
		return r, nil
	}

	t := time.Now()
	pred, err := cand.Predict(ctx, data)
	r.Timing.PredictMS += ms(time.Since(t))
	if err == nil {
		err = metrics.Check(task, classes, y, pred)
	}
	switch {
	case ctx.Err() != nil:
		return fail(ctx.Err())
	case err != nil && ferry.ErrorCode(err) != ferry.EINVALID:
		return fail(modelError("candidate", cand.Ref.URI, "cannot score the evaluation data", err))
	case err != nil:
		r.Checks = append(r.Checks, CheckResult{Name: CheckPredictions, Message: "the candidate cannot score the evaluation data: " + ferry.ErrorMessage(err)})
		r.Verdict = VerdictFail
		r.Timing.TotalMS = ms(time.Since(start))
		return r, nil
	}
	r.Checks = append(r.Checks, CheckResult{Name: CheckPredictions, Passed: true, Message: fmt.Sprintf("the candidate scored all %d rows", len(y))})

	var base []float64
	if b := in.Baseline; b != nil {
		t := time.Now()
		base, err = b.Predict(ctx, data)
		r.Timing.PredictMS += ms(time.Since(t))
		if err == nil {
			base = permute(base, basePerm, task)
			err = metrics.Check(task, classes, y, base)
		}
		if err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return fail(modelError("baseline", b.Ref.URI, "cannot score the evaluation data", err))
		}
	}

	t = time.Now()
	var details *metrics.Details
	var wg sync.WaitGroup
	wg.Go(func() { r.Metrics, details = metrics.EvaluateChecked(task, classes, y, pred, true) })
	if base != nil {
		wg.Go(func() { r.BaselineMetrics, _ = metrics.EvaluateChecked(task, classes, y, base, false) })
	}
	var groups []sliceGroup
	for _, c := range sliceCols {
		groups = append(groups, groupColumn(c)...)
	}
	r.Slices = evaluateSlices(task, classes, y, pred, base, groups)
	wg.Wait()
	r.Timing.MetricsMS = ms(time.Since(t))
	if details != nil {
		r.Confusion, r.ROC, r.PR, r.Calibration = details.Confusion, details.ROC, details.PR, details.Calibration
	}

	if b := policy.Budgets; b != nil && b.P99SingleRowMS != nil {
		p99, err := MeasureLatency(ctx, cand.Predict, data, LatencyRows)
		if err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return fail(modelError("candidate", cand.Ref.URI, "failed while its latency was measured", err))
		}
		r.Timing.P99RowMicros = float64(p99.Nanoseconds()) / 1e3
	}

	r.Gates = policy.Judge(r)
	r.Verdict = VerdictPass
	for _, g := range r.Gates {
		if !g.Passed {
			r.Verdict = VerdictFail
		}
	}
	for _, c := range r.Checks {
		if !c.Passed {
			r.Verdict = VerdictFail
		}
	}
	r.Timing.TotalMS = ms(time.Since(start))
	return r, nil
}

// modelError wraps err, a failure of the candidate or baseline model at
// uri, so that its user message (ferry.ErrorMessage) says which model failed
// and how, with err's code; err stays in the chain.
func modelError(role, uri, what string, err error) error {
	fe := ferry.Errorf(ferry.ErrorCode(err), "the %s model %s %s: %s", role, uri, what, ferry.ErrorMessage(err))
	return fmt.Errorf("validation: %w: %w", fe, err)
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// check validates the parts of in that need no work.
func (in *Input) check() error {
	switch {
	case in.Data == nil || in.Data.Len() == 0:
		return ferry.Errorf(ferry.EINVALID, "no evaluation data (or it has no rows)")
	case in.Target == "":
		return ferry.Errorf(ferry.EINVALID, "no target column given")
	case in.Candidate.Predict == nil:
		return ferry.Errorf(ferry.EINVALID, "the candidate model %s has no predictor", in.Candidate.Ref.URI)
	case in.Baseline != nil && in.Baseline.Predict == nil:
		return ferry.Errorf(ferry.EINVALID, "the baseline model %s has no predictor", in.Baseline.Ref.URI)
	}
	return nil
}

// labels resolves the task and classes and reads the target.
func (in *Input) labels() (task string, classes []string, y []float64, err error) {
	task, classes = in.Task, in.Classes
	if p := in.Candidate.Pkg; p != nil && p.Info != nil && p.Info.Task != "" {
		task, classes = p.Info.Task, p.Info.ClassLabels
	}
	switch task {
	case model.TaskBinary, model.TaskMulticlass, model.TaskRegression:
	case "":
		return "", nil, nil, ferry.Errorf(ferry.EINVALID, "the candidate's package does not say its task; give it (binary, multiclass or regression)")
	default:
		return "", nil, nil, ferry.Errorf(ferry.EINVALID, "task %q is not binary, multiclass or regression", task)
	}
	col, err := in.Data.Col(in.Target)
	if err != nil {
		return "", nil, nil, fmt.Errorf("validation: target: %w", err)
	}
	if task == model.TaskRegression {
		classes = nil
	} else if len(classes) == 0 {
		if in.PositiveWhen != "" {
			classes = []string{"false", "true"}
		} else if _, classes, err = nativemodel.Labels(col, task, ""); err != nil {
			return "", nil, nil, err
		}
	}
	if task == model.TaskBinary && len(classes) != 2 {
		return "", nil, nil, ferry.Errorf(ferry.EINVALID, "a binary model has 2 classes, not %d (%s)", len(classes), strings.Join(classes, ", "))
	}
	y, err = targetValues(col, task, classes, in.PositiveWhen)
	return task, classes, y, err
}

// targetValues reads the target column as class indexes into classes (by
// class name) or, for regression, values. Every row needs a target.
func targetValues(col *dataset.Column, task string, classes []string, positiveWhen string) ([]float64, error) {
	n := col.Len()
	y := make([]float64, n)
	missing := func(i int) error {
		return ferry.Errorf(ferry.EINVALID, "target '%s' is missing in row %d; every evaluation row needs a label", col.Name, i+1)
	}
	switch {
	case positiveWhen != "":
		if task != model.TaskBinary || col.Kind != dataset.KindNumeric {
			return nil, ferry.Errorf(ferry.EINVALID, "positive_when applies to a binary model and a numeric target; '%s' is %s for a %s model", col.Name, col.Kind, task)
		}
		cmp, err := nativemodel.ParseComparison(positiveWhen)
		if err != nil {
			return nil, err
		}
		for i, v := range col.Num {
			if math.IsNaN(v) {
				return nil, missing(i)
			}
			if cmp(v) {
				y[i] = 1
			}
		}
		return y, nil
	case task == model.TaskRegression:
		if col.Kind != dataset.KindNumeric {
			return nil, ferry.Errorf(ferry.EINVALID, "target '%s' is %s; a regression model needs a numeric target", col.Name, col.Kind)
		}
		for i, v := range col.Num {
			if math.IsNaN(v) {
				return nil, missing(i)
			}
			y[i] = v
		}
		return y, nil
	}
	index := make(map[string]int, len(classes))
	for j, c := range classes {
		index[c] = j
	}
	unknown := func(i int, v string) error {
		return ferry.Errorf(ferry.EINVALID, "target '%s' row %d: %q is not a class of the model (its classes: %s)", col.Name, i+1, v, strings.Join(classes, ", "))
	}
	switch col.Kind {
	case dataset.KindCategorical:
		codes := make([]int, len(col.Levels))
		for l, v := range col.Levels {
			codes[l] = -1
			if j, ok := index[v]; ok {
				codes[l] = j
			}
		}
		for i, c := range col.Codes {
			if c < 0 {
				return nil, missing(i)
			}
			if codes[c] < 0 {
				return nil, unknown(i, col.Levels[c])
			}
			y[i] = float64(codes[c])
		}
	case dataset.KindNumeric:
		for i, v := range col.Num {
			if math.IsNaN(v) {
				return nil, missing(i)
			}
			name := strconv.FormatFloat(v, 'f', -1, 64)
			j, ok := index[name]
			if !ok {
				return nil, unknown(i, name)
			}
			y[i] = float64(j)
		}
	default:
		return nil, ferry.Errorf(ferry.EINVALID, "target '%s' is %s; it must be numeric or categorical", col.Name, col.Kind)
	}
	return y, nil
}

// sliceColumns returns the policy's slice columns then in.SliceColumns,
// each once. A column not in the data is EINVALID.
func (in *Input) sliceColumns(p *Policy) ([]*dataset.Column, error) {
	var names []string
	if p.Slices != nil {
		names = append(names, p.Slices.Columns...)
	}
	names = append(names, in.SliceColumns...)
	var out []*dataset.Column
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		c, err := in.Data.Col(n)
		if err != nil {
			return nil, fmt.Errorf("validation: slice column: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// baselineClasses checks that the baseline predicts the candidate's task
// and classes, and returns, when its classes are in another order, where
// each of the candidate's classes is among the baseline's outputs.
func baselineClasses(b *Model, task string, classes []string) ([]int, error) {
	if b.Pkg == nil || b.Pkg.Info == nil || b.Pkg.Info.Task == "" {
		return nil, nil
	}
	info := b.Pkg.Info
	if info.Task != task {
		return nil, ferry.Errorf(ferry.EINVALID, "the baseline %s is a %s model and the candidate a %s model: they cannot be compared", b.Ref.URI, info.Task, task)
	}
	if task == model.TaskRegression || slices.Equal(info.ClassLabels, classes) {
		return nil, nil
	}
	perm := make([]int, len(classes))
	for j, c := range classes {
		perm[j] = slices.Index(info.ClassLabels, c)
		if perm[j] < 0 || len(info.ClassLabels) != len(classes) {
			return nil, ferry.Errorf(ferry.EINVALID, "the baseline %s has classes %s and the candidate %s: they cannot be compared",
				b.Ref.URI, strings.Join(info.ClassLabels, ", "), strings.Join(classes, ", "))
		}
	}
	return perm, nil
}

// permute reorders the baseline's outputs into the candidate's class order.
func permute(pred []float64, perm []int, task string) []float64 {
	if perm == nil {
		return pred
	}
	if task == model.TaskBinary {
		if perm[1] == 1 {
			return pred
		}
		out := make([]float64, len(pred))
		for i, p := range pred {
			out[i] = 1 - p
		}
		return out
	}
	k := len(perm)
	if len(pred)%k != 0 {
		return pred // checkEvalInput reports the length
	}
	out := make([]float64, len(pred))
	for i := 0; i < len(pred); i += k {
		for j, from := range perm {
			out[i+j] = pred[i+from]
		}
	}
	return out
}

// trainingProfile decodes the training profile of pkg; nil when it has none.
func trainingProfile(pkg *model.Package) (*dataset.Profile, error) {
	if pkg.Info == nil || len(pkg.Info.Profile) == 0 {
		return nil, nil
	}
	var p dataset.Profile
	if err := json.Unmarshal(pkg.Info.Profile, &p); err != nil {
		return nil, errors.New("the training profile in ferry.json cannot be read; the data checks that need it are skipped")
	}
	return &p, nil
}
