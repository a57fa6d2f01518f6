package validation

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Policy is a gates file: what a model version must meet to pass
// validation. In YAML:
//
//	thresholds: {roc_auc: ">= 0.70", log_loss: "<= 0.6"}
//	baseline:                       # MLflow's MetricThreshold semantics
//	  roc_auc: {threshold: 0.7, min_absolute_change: 0.0, min_relative_change: 0.01, greater_is_better: true}
//	slices:
//	  columns: [origin]
//	  thresholds: {roc_auc: ">= 0.6"}
//	  min_rows: 50                  # smaller slices are reported but not gated
//	data:
//	  max_missing_rate_increase: 0.1   # vs the training profile
//	  max_out_of_range_rate: 0.05
//	  fail_on_unseen_categories: true
//	package: {check_digests: true, require_signature: true, check_input_example: true}
//	budgets: {p99_single_row_ms: 50, max_size_mb: 500}
//
// Every section is optional. Rules keep the order of the file, and gates are
// reported in that order. A Policy is read-only once parsed and safe for
// concurrent use.
type Policy struct {
	// Name is the file's base name and Digest "sha256:<hex>" of its bytes,
	// both recorded in the report (promotion rules compare them); not in the
	// YAML.
	Name       string         `yaml:"-"`
	Digest     string         `yaml:"-"`
	Thresholds Thresholds     `yaml:"thresholds"`
	Baseline   BaselineRules  `yaml:"baseline"`
	Slices     *SlicePolicy   `yaml:"slices"`
	Data       *DataPolicy    `yaml:"data"`
	Package    *PackagePolicy `yaml:"package"`
	Budgets    *Budgets       `yaml:"budgets"`
}

// Threshold is an absolute bound on a metric, written "<op> <number>" with
// op one of >=, >, <=, <: "roc_auc: '>= 0.70'".
type Threshold struct {
	Metric string
	Op     string
	Value  float64
	// Text is the number as written, kept for messages ("0.70").
	Text string
}

// String returns the rule as written: "roc_auc >= 0.70".
func (t Threshold) String() string { return t.Metric + " " + t.Op + " " + t.Text }

// holds reports whether v meets the bound; NaN never does.
func (t Threshold) holds(v float64) bool {
	switch t.Op {
	case ">=":
		return v >= t.Value
	case ">":
		return v > t.Value
	case "<=":
		return v <= t.Value
	case "<":
		return v < t.Value
	}
	return false
}

// Thresholds is an ordered list of bounds, a YAML mapping of metric name to
// "<op> <number>".
type Thresholds []Threshold

// MetricThreshold is a rule against the baseline with the semantics of
// MLflow's mlflow.models.MetricThreshold: every condition that is set must
// hold.
//
//   - Threshold: the candidate's value is >= Threshold when greater is
//     better, <= otherwise (checked with or without a baseline).
//   - MinAbsoluteChange: the candidate's value is >= baseline +
//     MinAbsoluteChange when greater is better, <= baseline -
//     MinAbsoluteChange otherwise. Unlike MLflow, 0 is allowed: "no worse
//     than the baseline".
//   - MinRelativeChange (0 to 1): the relative change (candidate -
//     baseline) / |baseline| (the reverse difference when lower is better) is
//     at least MinRelativeChange; with a baseline of exactly 0 the candidate
//     must be better by 1e-10, as in MLflow. MLflow divides by the signed
//     baseline; Ferry divides by its magnitude, which is the same for every
//     metric but a negative r2, where MLflow's sign would invert the rule.
//
// The comparisons need a baseline; without one (a first version, no
// champion) they are skipped and reported as such. A baseline that lacks the
// metric fails the rule, as in MLflow.
type MetricThreshold struct {
	Metric            string
	Threshold         *float64
	MinAbsoluteChange *float64
	MinRelativeChange *float64
	// GreaterIsBetter defaults from the metric (false for losses and
	// errors, see LowerIsBetter).
	GreaterIsBetter bool
}

// BaselineRules is an ordered list of baseline rules, a YAML mapping of
// metric name to MetricThreshold fields.
type BaselineRules []MetricThreshold

// SlicePolicy gates the metrics of slices of the evaluation data.
type SlicePolicy struct {
	// Columns are the columns whose values define slices.
	Columns []string `yaml:"columns"`
	// Thresholds apply to every slice of every column.
	Thresholds Thresholds `yaml:"thresholds"`
	// MinRows: slices with fewer rows are reported but not gated.
	MinRows int `yaml:"min_rows"`
}

// DataPolicy sets the data checks against the training profile. A nil
// limit disables its check.
type DataPolicy struct {
	// MaxMissingRateIncrease is the largest allowed rise of a column's
	// missing-value rate over training, as a fraction (0.1 = 10 points).
	MaxMissingRateIncrease *float64 `yaml:"max_missing_rate_increase"`
	// MaxOutOfRangeRate is the largest allowed fraction of a numeric
	// column's values outside the trained [min, max].
	MaxOutOfRangeRate *float64 `yaml:"max_out_of_range_rate"`
	// FailOnUnseenCategories fails the check when a categorical column has
	// values training never saw; otherwise they are only reported.
	FailOnUnseenCategories bool `yaml:"fail_on_unseen_categories"`
}

// PackagePolicy sets the package checks.
type PackagePolicy struct {
	// CheckDigests verifies every file of the package against ferry.json again.
	CheckDigests bool `yaml:"check_digests"`
	// RequireSignature fails a package whose MLmodel has no input signature.
	RequireSignature bool `yaml:"require_signature"`
	// CheckInputExample predicts the saved input example and compares the
	// predictions with input_example_predictions.json.
	CheckInputExample bool `yaml:"check_input_example"`
}

// Budgets bound the cost of serving the model. A nil budget is not checked.
type Budgets struct {
	// P99SingleRowMS bounds the 99th percentile of single-row predict
	// latency, in milliseconds, measured over LatencyRows rows.
	P99SingleRowMS *float64 `yaml:"p99_single_row_ms"`
	// MaxSizeMB bounds the total size of the package files in megabytes
	// (1 MB = 1,000,000 bytes).
	MaxSizeMB *float64 `yaml:"max_size_mb"`
}

// maxPolicySize bounds a gates file.
const maxPolicySize = 1 << 20

// LoadPolicy reads the gates file at path; see ParsePolicy. A missing file
// is ENOTFOUND.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ferry.Errorf(ferry.ENOTFOUND, "no gates file %s", path)
	} else if err != nil {
		return nil, fmt.Errorf("validation: open gates file: %w", err)
	}
	defer f.Close()
	return ParsePolicy(f, filepath.Base(path))
}

// ParsePolicy reads a gates file named name (for messages and Policy.Name)
// from r. Unknown fields, unknown metrics, malformed bounds and values out of
// range are EINVALID with the line and field named; a read error of r is
// returned wrapped. An empty file is a policy without gates.
func ParsePolicy(r io.Reader, name string) (*Policy, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("validation: read %s: %w", name, err)
	}
	if len(data) > maxPolicySize {
		return nil, ferry.Errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", name, maxPolicySize)
	}
	sum := sha256.Sum256(data)
	p := &Policy{Name: name, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	if err := yamlfile.Decode(data, name, p); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: %s", name, yamlProblem(err))
	}
	if err := p.validate(); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: %s", name, err)
	}
	return p, nil
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// yamlProblem turns a yamlfile.Decode error into a message without the file
// name or Go type names.
func yamlProblem(err error) string {
	var ue *yamlfile.UnknownFieldsError
	if errors.As(err, &ue) {
		return strings.TrimPrefix(ue.Error(), ue.File+": ")
	}
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	var pe *policyError
	if errors.As(err, &pe) {
		return pe.msg
	}
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = unknownField.ReplaceAllString(msg, "unknown field '$1'")
	return strings.ReplaceAll(msg, "validation.", "")
}

// policyError is a problem found while decoding a rule, with its line.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

func nodeErrorf(n *yaml.Node, format string, args ...any) error {
	return &policyError{msg: fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}
}

// UnmarshalYAML reads a mapping of metric name to "<op> <number>", in order.
func (ts *Thresholds) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return nodeErrorf(n, "thresholds must be a mapping of metric name to a bound such as \">= 0.7\"")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		metric := k.Value
		if err := checkMetricName(k, metric); err != nil {
			return err
		}
		if v.Kind != yaml.ScalarNode {
			return nodeErrorf(v, "%s: want a bound such as \">= 0.7\"", metric)
		}
		t, err := parseBound(metric, v.Value)
		if err != nil {
			return nodeErrorf(v, "%s", err)
		}
		*ts = append(*ts, t)
	}
	return nil
}

// parseBound parses "<op> <number>" for metric.
func parseBound(metric, s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", ">", "<"} {
		rest, ok := strings.CutPrefix(s, op)
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return Threshold{}, fmt.Errorf("%s: %q is not a number", metric, rest)
		}
		return Threshold{Metric: metric, Op: op, Value: v, Text: rest}, nil
	}
	return Threshold{}, fmt.Errorf("%s: %q is not a bound; write it as \">= 0.7\", \"> 0.7\", \"<= 0.6\" or \"< 0.6\" (quoted)", metric, s)
}

// checkMetricName refuses names Evaluate never produces.
func checkMetricName(n *yaml.Node, metric string) error {
	if metrics.Known(metric) {
		return nil
	}
	return nodeErrorf(n, "unknown metric %q; use one of %s, or precision_<class>, recall_<class>, f1_<class>", metric, strings.Join(metrics.Names(), ", "))
}

// UnmarshalYAML reads a mapping of metric name to MetricThreshold fields
// (threshold, min_absolute_change, min_relative_change, greater_is_better),
// in order.
func (bs *BaselineRules) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return nodeErrorf(n, "baseline must be a mapping of metric name to {threshold, min_absolute_change, min_relative_change, greater_is_better}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		metric := k.Value
		if err := checkMetricName(k, metric); err != nil {
			return err
		}
		if v.Kind != yaml.MappingNode {
			return nodeErrorf(v, "baseline.%s must be a mapping with threshold, min_absolute_change, min_relative_change and greater_is_better", metric)
		}
		mt := MetricThreshold{Metric: metric, GreaterIsBetter: !metrics.LowerIsBetter(metric)}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			var dst **float64
			switch fk.Value {
			case "threshold":
				dst = &mt.Threshold
			case "min_absolute_change":
				dst = &mt.MinAbsoluteChange
			case "min_relative_change":
				dst = &mt.MinRelativeChange
			case "greater_is_better":
				if err := fv.Decode(&mt.GreaterIsBetter); err != nil {
					return nodeErrorf(fv, "baseline.%s.greater_is_better must be true or false", metric)
				}
				continue
			default:
				return nodeErrorf(fk, "baseline.%s: unknown field '%s'; use threshold, min_absolute_change, min_relative_change or greater_is_better", metric, fk.Value)
			}
			var f float64
			if fv.Kind != yaml.ScalarNode || fv.Tag == "!!null" || fv.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nodeErrorf(fv, "baseline.%s.%s must be a number", metric, fk.Value)
			}
			*dst = &f
		}
		switch {
		case mt.Threshold == nil && mt.MinAbsoluteChange == nil && mt.MinRelativeChange == nil:
			return nodeErrorf(v, "baseline.%s sets no threshold, min_absolute_change or min_relative_change", metric)
		case mt.MinAbsoluteChange != nil && *mt.MinAbsoluteChange < 0:
			return nodeErrorf(v, "baseline.%s.min_absolute_change must not be negative", metric)
		case mt.MinRelativeChange != nil && (*mt.MinRelativeChange < 0 || *mt.MinRelativeChange > 1):
			return nodeErrorf(v, "baseline.%s.min_relative_change must be between 0 and 1", metric)
		}
		*bs = append(*bs, mt)
	}
	return nil
}

// validate checks the parts of p that the decoders do not.
func (p *Policy) validate() error {
	if s := p.Slices; s != nil {
		if len(s.Columns) == 0 {
			return errors.New("slices: name the slice columns")
		}
		if s.MinRows < 0 {
			return errors.New("slices.min_rows must not be negative")
		}
		seen := map[string]bool{}
		for _, c := range s.Columns {
			if c == "" || seen[c] {
				return fmt.Errorf("slices.columns: %q is empty or listed twice", c)
			}
			seen[c] = true
		}
	}
	if d := p.Data; d != nil {
		if v := d.MaxMissingRateIncrease; v != nil && !(*v >= 0 && *v <= 1) {
			return errors.New("data.max_missing_rate_increase must be a fraction between 0 and 1")
		}
		if v := d.MaxOutOfRangeRate; v != nil && !(*v >= 0 && *v <= 1) {
			return errors.New("data.max_out_of_range_rate must be a fraction between 0 and 1")
		}
	}
	if b := p.Budgets; b != nil {
		if v := b.P99SingleRowMS; v != nil && !(*v > 0) {
			return errors.New("budgets.p99_single_row_ms must be positive")
		}
		if v := b.MaxSizeMB; v != nil && !(*v > 0) {
			return errors.New("budgets.max_size_mb must be positive")
		}
	}
	return nil
}

// Judge applies the policy's gates to a report whose metrics (and baseline
// metrics, slices, timing and package size, as the gates need them) are
// filled, and returns one GateResult per gate in policy order: thresholds,
// baseline rules, slice thresholds (per column, per value), then budgets.
// It does not modify r. A nil policy has no gates.
//
// A metric that was not computed fails its gate, with a message saying why
// (it does not apply to the task, or is undefined on the rows), except on
// slices, where such gates are skipped. Slices with fewer than min_rows rows
// are not gated; one skipped gate per column says how many there were.
func (p *Policy) Judge(r *Report) []GateResult {
	out := []GateResult{}
	if p == nil {
		return out
	}
	for _, t := range p.Thresholds {
		out = append(out, judgeThreshold(t, r.Metrics, r, nil))
	}
	for _, mt := range p.Baseline {
		out = append(out, judgeBaseline(mt, r))
	}
	if s := p.Slices; s != nil && len(s.Thresholds) > 0 {
		for _, col := range s.Columns {
			small, any := 0, false
			for i := range r.Slices {
				sl := &r.Slices[i]
				if sl.Column != col {
					continue
				}
				any = true
				if sl.Rows < s.MinRows {
					small++
					continue
				}
				for _, t := range s.Thresholds {
					out = append(out, judgeThreshold(t, sl.Metrics, r, sl))
				}
			}
			switch {
			case !any:
				out = append(out, GateResult{Name: "slices of " + col, Kind: "slice", Passed: true, Skipped: true,
					Message: fmt.Sprintf("column '%s' has no value on any row: no slice to gate", col)})
			case small > 0:
				out = append(out, GateResult{Name: "small slices of " + col, Kind: "slice", Passed: true, Skipped: true,
					Message: fmt.Sprintf("%s of %s with fewer than %d rows (min_rows): reported, not gated", plural(small, "slice"), col, s.MinRows)})
			}
		}
	}
	if b := p.Budgets; b != nil {
		if v := b.P99SingleRowMS; v != nil {
			g := GateResult{Name: fmt.Sprintf("p99 single-row latency <= %s ms", num(*v)), Kind: "latency", Threshold: *v}
			if r.Timing.P99RowMicros <= 0 {
				g.Message = "single-row latency was not measured"
			} else {
				g.Value = r.Timing.P99RowMicros / 1000
				g.Passed = g.Value <= *v
				g.Message = fmt.Sprintf("p99 of single-row predictions over %d rows is %s ms; the budget is %s ms", LatencyRows, num(g.Value), num(*v))
			}
			out = append(out, g)
		}
		if v := b.MaxSizeMB; v != nil {
			g := GateResult{Name: fmt.Sprintf("package size <= %s MB", num(*v)), Kind: "size", Threshold: *v}
			if r.PackageBytes <= 0 {
				g.Message = "the package size is unknown (no package)"
			} else {
				g.Value = float64(r.PackageBytes) / 1e6
				g.Passed = g.Value <= *v
				g.Message = fmt.Sprintf("the package files total %s MB (%d bytes); the budget is %s MB", num(g.Value), r.PackageBytes, num(*v))
			}
			out = append(out, g)
		}
	}
	return out
}

// judgeThreshold applies t to metrics: the report's (sl nil) or a slice's.
func judgeThreshold(t Threshold, metrics map[string]float64, r *Report, sl *SliceMetrics) GateResult {
	g := GateResult{Name: t.String(), Kind: "threshold", Metric: t.Metric, Threshold: t.Value}
	where := ""
	if sl != nil {
		g.Kind, g.Slice = "slice", sl.Column+"="+sl.Value
		g.Name = "slice " + g.Slice + " " + t.String()
		where = fmt.Sprintf("slice %s (%d rows): ", g.Slice, sl.Rows)
	}
	v, ok := metrics[t.Metric]
	if !ok {
		g.Message = where + missingReason(t.Metric, r.Task, r.ClassLabels)
		if sl != nil {
			g.Passed, g.Skipped = true, true
			g.Message += "; not gated"
		}
		return g
	}
	g.Value = v
	g.Passed = t.holds(v)
	verb := "meets"
	if !g.Passed {
		verb = "does not meet"
	}
	g.Message = fmt.Sprintf("%s%s = %s %s %s %s", where, t.Metric, num(v), verb, t.Op, t.Text)
	return g
}

// judgeBaseline applies an MLflow MetricThreshold.
func judgeBaseline(mt MetricThreshold, r *Report) GateResult {
	g := GateResult{Name: mt.Metric + " vs baseline", Kind: "baseline", Metric: mt.Metric}
	direction, cmpOp, sign := "higher is better", ">=", 1.0
	if !mt.GreaterIsBetter {
		direction, cmpOp, sign = "lower is better", "<=", -1.0
	}
	better := func(a, b float64) bool { // a at least as good as b
		if mt.GreaterIsBetter {
			return a >= b
		}
		return a <= b
	}
	cv, ok := r.Metrics[mt.Metric]
	if !ok {
		g.Message = "candidate: " + missingReason(mt.Metric, r.Task, r.ClassLabels)
		return g
	}
	g.Value = cv
	var parts []string
	passed := true
	// bound is the most demanding of the conditions' bounds.
	bound := math.NaN()
	tighten := func(b float64) {
		if math.IsNaN(bound) || better(b, bound) {
			bound = b
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		passed = false
		return "NOT met"
	}
	if mt.Threshold != nil {
		tighten(*mt.Threshold)
		parts = append(parts, fmt.Sprintf("threshold %s %s %s", cmpOp, num(*mt.Threshold), verdict(better(cv, *mt.Threshold))))
	}
	comparing := mt.MinAbsoluteChange != nil || mt.MinRelativeChange != nil
	bv, haveBase := r.BaselineMetrics[mt.Metric]
	switch {
	case !comparing:
	case r.BaselineMetrics == nil:
		parts = append(parts, "no baseline to compare with: min_absolute_change and min_relative_change skipped")
		if mt.Threshold == nil {
			g.Skipped = true
		}
	case !haveBase:
		passed = false
		parts = append(parts, "baseline: "+missingReason(mt.Metric, r.Task, r.ClassLabels)+", so the comparison fails")
	default:
		b := bv
		g.Baseline = &b
		if a := mt.MinAbsoluteChange; a != nil {
			need := bv + sign**a
			tighten(need)
			parts = append(parts, fmt.Sprintf("min_absolute_change %s (candidate %s baseline %s %s %s = %s) %s",
				num(*a), cmpOp, num(bv), map[bool]string{true: "+", false: "-"}[mt.GreaterIsBetter], num(*a), num(need), verdict(better(cv, need))))
		}
		if rc := mt.MinRelativeChange; rc != nil {
			if bv == 0 {
				need := bv + sign*1e-10
				tighten(need)
				parts = append(parts, fmt.Sprintf("min_relative_change %s: the baseline is 0, so the candidate must be better than it: %s",
					num(*rc), verdict(better(cv, need))))
			} else {
				change := sign * (cv - bv) / math.Abs(bv)
				tighten(bv + sign*math.Abs(bv)**rc)
				parts = append(parts, fmt.Sprintf("min_relative_change %s (relative change %s%%, needs at least %s%%) %s",
					num(*rc), signed(change*100), num(*rc*100), verdict(change >= *rc)))
			}
		}
	}
	if !math.IsNaN(bound) {
		g.Threshold = bound
	}
	g.Passed = passed
	head := fmt.Sprintf("%s: candidate %s", mt.Metric, num(cv))
	if g.Baseline != nil {
		head += fmt.Sprintf(", baseline %s", num(bv))
	}
	g.Message = fmt.Sprintf("%s (%s): %s", head, direction, strings.Join(parts, "; "))
	return g
}

// missingReason says why metric is not in a metrics map of a model of task.
func missingReason(metric, task string, classes []string) string {
	if c, ok := metrics.PerClass(metric); ok {
		if task == model.TaskRegression {
			return fmt.Sprintf("%s does not apply to regression models", metric)
		}
		if !slices.Contains(classes, c) {
			return fmt.Sprintf("%s: the model has no class %q (its classes: %s)", metric, c, strings.Join(classes, ", "))
		}
		return fmt.Sprintf("%s is undefined: class %q occurs neither among the true nor among the predicted labels", metric, c)
	}
	regression := map[string]bool{metrics.RMSE: true, metrics.MAE: true, metrics.R2: true, metrics.MAPE: true, metrics.MedianAE: true}
	switch {
	case regression[metric] && task != model.TaskRegression, !regression[metric] && task == model.TaskRegression:
		return fmt.Sprintf("%s does not apply to %s models", metric, task)
	case (metric == metrics.PRAUC || metric == metrics.Brier) && task != model.TaskBinary:
		return fmt.Sprintf("%s is computed for binary models only", metric)
	case metric == metrics.ROCAUCWeighted && task != model.TaskMulticlass:
		return fmt.Sprintf("%s is computed for multiclass models only", metric)
	case metric == metrics.ROCAUC || metric == metrics.ROCAUCWeighted:
		return fmt.Sprintf("%s is undefined: the rows hold a single class", metric)
	case metric == metrics.PRAUC:
		return fmt.Sprintf("%s is undefined: no row is of the positive class", metric)
	}
	return fmt.Sprintf("%s was not computed", metric)
}

// plural writes "1 slice", "2 slices".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// num formats a value for a message: 6 significant digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// signed formats v with its sign.
func signed(v float64) string {
	if v >= 0 {
		return "+" + num(v)
	}
	return num(v)
}
