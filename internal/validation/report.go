// Package validation is the stage between a trained model and its
// promotion: it evaluates a model version on data, judges it against
// absolute thresholds and against a baseline (usually the champion), checks
// the data and the package, and produces a record the registry's promotion
// rules read, with reports for people (Markdown, HTML) and machines (JSON).
package validation

import "github.com/ferry-ml/ferry/internal/validation/metrics"

// Verdicts.
const (
	VerdictPass  = "pass"
	VerdictFail  = "fail"
	VerdictError = "error" // the validation could not be completed
)

// Report is the full result of a validation: the record stored on the
// version (as JSON) and the input of every rendered report.
type Report struct {
	Model       string   `json:"model"`   // registered model name
	Version     int      `json:"version"` // validated version
	ModelURI    string   `json:"model_uri"`
	Baseline    *Ref     `json:"baseline,omitempty"` // the version compared against, e.g. the champion
	Data        DataRef  `json:"data"`
	Task        string   `json:"task"` // binary, multiclass, regression
	ClassLabels []string `json:"class_labels,omitempty"`
	Verdict     string   `json:"verdict"`
	Error       string   `json:"error,omitempty"` // set when Verdict is "error"
	CreatedAt   int64    `json:"created_at"`      // ms since the Unix epoch
	CreatedBy   string   `json:"created_by,omitempty"`
	Policy      string   `json:"policy,omitempty"` // the gates file's name
	// PolicyDigest is "sha256:<hex>" of the gates file's bytes; "" when the
	// validation was made without one. The registry's validation rules
	// accept only a record whose Policy and PolicyDigest they name.
	PolicyDigest string `json:"policy_digest,omitempty"`
	// Metrics of the candidate and (when there is one) the baseline, on the
	// same rows, by metric name ("roc_auc", "f1_macro", "rmse", ...).
	Metrics         map[string]float64 `json:"metrics"`
	BaselineMetrics map[string]float64 `json:"baseline_metrics,omitempty"`
	// Slices holds the metrics per value of each slice column.
	Slices []SliceMetrics `json:"slices,omitempty"`
	// Gates are the policy's judgements, in policy order.
	Gates []GateResult `json:"gates"`
	// Checks are the data and package checks.
	Checks []CheckResult `json:"checks"`
	// Curves and tables for the charts of the HTML report.
	Confusion   *metrics.Confusion       `json:"confusion,omitempty"`
	ROC         []metrics.CurvePoint     `json:"roc,omitempty"`         // binary: (fpr, tpr)
	PR          []metrics.CurvePoint     `json:"pr,omitempty"`          // binary: (recall, precision)
	Calibration []metrics.CalibrationBin `json:"calibration,omitempty"` // binary: reliability table
	Timing      Timing                   `json:"timing"`
	// PackageBytes is the total size of the candidate package's files, for
	// the size budget; 0 when there is no package.
	PackageBytes int64 `json:"package_bytes,omitempty"`
}

// Ref names a model version.
type Ref struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	URI     string `json:"uri"` // as asked, e.g. models:/churn@champion
}

// DataRef names the evaluation data.
type DataRef struct {
	URI    string `json:"uri"`    // data:/holdout/3 or a path
	Digest string `json:"digest"` // sha256:…
	Rows   int    `json:"rows"`
}

// SliceMetrics are the metrics of the rows where Column == Value.
type SliceMetrics struct {
	Column  string             `json:"column"`
	Value   string             `json:"value"`
	Rows    int                `json:"rows"`
	Metrics map[string]float64 `json:"metrics"`
	// BaselineMetrics are the baseline's metrics on the same rows.
	BaselineMetrics map[string]float64 `json:"baseline_metrics,omitempty"`
}

// GateResult is one gate's judgement.
type GateResult struct {
	Name      string   `json:"name"` // e.g. "roc_auc >= 0.70", "roc_auc vs baseline", "slice origin=JFK roc_auc >= 0.6"
	Kind      string   `json:"kind"` // threshold, baseline, slice, latency, size
	Metric    string   `json:"metric,omitempty"`
	Slice     string   `json:"slice,omitempty"` // "column=value" for slice gates
	Value     float64  `json:"value"`           // the candidate's value
	Baseline  *float64 `json:"baseline,omitempty"`
	Threshold float64  `json:"threshold"`
	Passed    bool     `json:"passed"`
	Message   string   `json:"message"` // what was compared and why it passed or failed
	// Skipped gates could not be judged (no baseline, a slice too small or
	// a metric undefined on a slice); they count as passed.
	Skipped bool `json:"skipped,omitempty"`
}

// CheckResult is a data or package check.
type CheckResult struct {
	Name    string `json:"name"` // e.g. "schema", "missing_rate", "range", "unseen_categories", "digests", "signature", "loads", "input_example"
	Column  string `json:"column,omitempty"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
	// Skipped checks could not be made (nothing to compare with); they
	// count as passed.
	Skipped bool `json:"skipped,omitempty"`
}

// Timing records where the time went.
type Timing struct {
	TotalMS      float64 `json:"total_ms"`
	PredictMS    float64 `json:"predict_ms"`
	MetricsMS    float64 `json:"metrics_ms"`
	P99RowMicros float64 `json:"p99_row_us,omitempty"` // single-row predict latency, for the latency budget
}
