package validation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

// briefPolicy is the example of the gates file format.
const briefPolicy = `
thresholds: {roc_auc: ">= 0.70", log_loss: "<= 0.6"}
baseline:                       # MLflow's MetricThreshold semantics (mlflow.models.MetricThreshold)
  roc_auc: {threshold: 0.7, min_absolute_change: 0.0, min_relative_change: 0.01, greater_is_better: true}
slices:
  columns: [origin]
  thresholds: {roc_auc: ">= 0.6"}
  min_rows: 50                  # slices smaller than this are reported but not gated
data:
  max_missing_rate_increase: 0.1   # vs training profile
  max_out_of_range_rate: 0.05
  fail_on_unseen_categories: true
package: {check_digests: true, require_signature: true, check_input_example: true}
budgets: {p99_single_row_ms: 50, max_size_mb: 500}
`

func TestParsePolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gates.yaml")
	if err := os.WriteFile(path, []byte(briefPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "gates.yaml" {
		t.Errorf("name %q", p.Name)
	}
	if len(p.Thresholds) != 2 || p.Thresholds[0].String() != "roc_auc >= 0.70" || p.Thresholds[1].String() != "log_loss <= 0.6" {
		t.Errorf("thresholds %+v (order must be the file's)", p.Thresholds)
	}
	b := p.Baseline
	if len(b) != 1 || b[0].Metric != "roc_auc" || *b[0].Threshold != 0.7 || *b[0].MinAbsoluteChange != 0 || *b[0].MinRelativeChange != 0.01 || !b[0].GreaterIsBetter {
		t.Errorf("baseline %+v", b)
	}
	if s := p.Slices; s == nil || s.Columns[0] != "origin" || s.MinRows != 50 || s.Thresholds[0].String() != "roc_auc >= 0.6" {
		t.Errorf("slices %+v", p.Slices)
	}
	if d := p.Data; d == nil || *d.MaxMissingRateIncrease != 0.1 || *d.MaxOutOfRangeRate != 0.05 || !d.FailOnUnseenCategories {
		t.Errorf("data %+v", p.Data)
	}
	if k := p.Package; k == nil || !k.CheckDigests || !k.RequireSignature || !k.CheckInputExample {
		t.Errorf("package %+v", p.Package)
	}
	if g := p.Budgets; g == nil || *g.P99SingleRowMS != 50 || *g.MaxSizeMB != 500 {
		t.Errorf("budgets %+v", p.Budgets)
	}
	if _, err := LoadPolicy(filepath.Join(t.TempDir(), "none.yaml")); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("missing file: %v", err)
	}
}

func TestParsePolicyDefaults(t *testing.T) {
	p := mustPolicy(t, "baseline: {log_loss: {min_absolute_change: 0.01}, f1_setosa: {threshold: 0.5}}")
	if p.Baseline[0].GreaterIsBetter || !p.Baseline[1].GreaterIsBetter {
		t.Errorf("greater_is_better defaults: %+v", p.Baseline)
	}
	for _, empty := range []string{"", "thresholds:\nbaseline:\n", "thresholds: {}\nbaseline: {}\n"} {
		if p := mustPolicy(t, empty); len(p.Judge(&Report{})) != 0 {
			t.Errorf("%q has gates", empty)
		}
	}
	var nilPolicy *Policy
	if g := nilPolicy.Judge(&Report{}); g == nil || len(g) != 0 {
		t.Errorf("a nil policy judges %v", g)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name, yaml, msg string
	}{
		{"unknown section", "gate: {}", `line 1: unknown field "gate"; valid fields are`},
		{"unknown data field", "data: {max_missing: 0.1}", `line 1: unknown field "max_missing" in data; did you mean "max_missing_rate_increase"?`},
		{"unknown metric", "thresholds: {auc: '>= 0.7'}", `line 1: unknown metric "auc"`},
		{"bound without operator", "thresholds: {roc_auc: 0.7}", `"0.7" is not a bound`},
		{"bound without a number", "thresholds: {roc_auc: '>= high'}", `"high" is not a number`},
		{"thresholds not a mapping", "thresholds: [roc_auc]", "thresholds must be a mapping"},
		{"baseline unknown field", "baseline: {roc_auc: {min_change: 0.1}}", "unknown field 'min_change'"},
		{"baseline without a condition", "baseline: {roc_auc: {greater_is_better: true}}", "sets no threshold"},
		{"baseline relative change above 1", "baseline: {roc_auc: {min_relative_change: 1.5}}", "between 0 and 1"},
		{"baseline negative absolute change", "baseline: {roc_auc: {min_absolute_change: -0.1}}", "must not be negative"},
		{"baseline threshold not a number", "baseline: {roc_auc: {threshold: high}}", "threshold must be a number"},
		{"slices without columns", "slices: {thresholds: {roc_auc: '>= 0.6'}}", "name the slice columns"},
		{"negative budget", "budgets: {p99_single_row_ms: -1}", "must be positive"},
		{"rate above 1", "data: {max_out_of_range_rate: 5}", "fraction between 0 and 1"},
		{"not YAML", "thresholds: {", "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy(strings.NewReader(tt.yaml), "gates.yaml")
			msg := ferry.ErrorMessage(err)
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(msg, tt.msg) || !strings.HasPrefix(msg, "gates.yaml: ") || strings.Contains(msg, "validation.") {
				t.Fatalf("err %v, want EINVALID containing %q", err, tt.msg)
			}
		})
	}
}

func TestJudgeBaseline(t *testing.T) {
	tests := []struct {
		name       string
		metric     string
		rule       string
		cand, base map[string]float64 // base nil: no baseline
		passed     bool
		skipped    bool
		threshold  float64 // the effective bound reported
		msg        string
	}{
		{"threshold met", "roc_auc", "{threshold: 0.7}", m("roc_auc", 0.75), nil, true, false, 0.7, "threshold >= 0.7 met"},
		{"threshold missed", "roc_auc", "{threshold: 0.7}", m("roc_auc", 0.65), nil, false, false, 0.7, "threshold >= 0.7 NOT met"},
		{"absolute change met", "roc_auc", "{min_absolute_change: 0.02}", m("roc_auc", 0.73), m("roc_auc", 0.70), true, false, 0.72, "min_absolute_change 0.02 (candidate >= baseline 0.7 + 0.02 = 0.72) met"},
		{"absolute change missed", "roc_auc", "{min_absolute_change: 0.02}", m("roc_auc", 0.71), m("roc_auc", 0.70), false, false, 0.72, "NOT met"},
		{"relative change met", "roc_auc", "{min_relative_change: 0.05}", m("roc_auc", 0.74), m("roc_auc", 0.70), true, false, 0.735, "relative change +5.71429%"},
		{"relative change missed", "roc_auc", "{min_relative_change: 0.05}", m("roc_auc", 0.73), m("roc_auc", 0.70), false, false, 0.735, "NOT met"},
		{"lower is better, relative", "rmse", "{min_relative_change: 0.1}", m("rmse", 8.0), m("rmse", 10.0), true, false, 9, "(lower is better)"},
		{"lower is better, relative missed", "rmse", "{min_relative_change: 0.1}", m("rmse", 9.5), m("rmse", 10.0), false, false, 9, "relative change +5%"},
		{"zero baseline falls back to better-than", "rmse", "{min_relative_change: 0.5}", m("rmse", 0.0), m("rmse", 0.0), false, false, -1e-10, "the baseline is 0"},
		{"negative baseline r2 improves", "r2", "{min_relative_change: 0.1}", m("r2", 0.0), m("r2", -0.5), true, false, -0.45, "relative change +100%"},
		{"all conditions must hold", "roc_auc", "{threshold: 0.5, min_relative_change: 0.01}", m("roc_auc", 0.6), m("roc_auc", 0.7), false, false, 0.707, "threshold >= 0.5 met; min_relative_change 0.01"},
		{"baseline lacks the metric", "roc_auc", "{min_absolute_change: 0}", m("roc_auc", 0.6), m("accuracy", 0.7), false, false, 0, "so the comparison fails"},
		{"candidate lacks the metric", "roc_auc", "{threshold: 0.5}", m("accuracy", 0.6), m("roc_auc", 0.7), false, false, 0, "candidate: roc_auc is undefined"},
		{"no baseline, comparison only: skipped", "roc_auc", "{min_relative_change: 0.01}", m("roc_auc", 0.6), nil, true, true, 0, "no baseline to compare with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := "binary"
			if tt.metric == "rmse" || tt.metric == "r2" {
				task = "regression"
			}
			p := mustPolicy(t, "baseline: {"+tt.metric+": "+tt.rule+"}")
			gates := p.Judge(&Report{Task: task, Metrics: tt.cand, BaselineMetrics: tt.base})
			if len(gates) != 1 {
				t.Fatalf("%d gates", len(gates))
			}
			g := gates[0]
			if g.Passed != tt.passed || g.Skipped != tt.skipped || !strings.Contains(g.Message, tt.msg) || !close9(g.Threshold, tt.threshold) {
				t.Fatalf("gate %+v; want passed=%v skipped=%v threshold %v, message with %q", g, tt.passed, tt.skipped, tt.threshold, tt.msg)
			}
		})
	}
}

func m(kv ...any) map[string]float64 {
	out := map[string]float64{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(float64)
	}
	return out
}

func TestJudgeThresholdsAndBudgets(t *testing.T) {
	p := mustPolicy(t, `
thresholds: {rmse: "< 5", pr_auc: ">= 0.5", recall_yes: "> 0.1"}
slices: {columns: [origin], thresholds: {roc_auc: "> 0.6"}, min_rows: 10}
budgets: {p99_single_row_ms: 2, max_size_mb: 1}
`)
	r := &Report{
		Task: "binary", ClassLabels: []string{"no", "yes"}, Metrics: m("pr_auc", 0.4),
		Slices: []SliceMetrics{
			{Column: "origin", Value: "JFK", Rows: 100, Metrics: m("accuracy", 0.9)},
			{Column: "origin", Value: "LAX", Rows: 100, Metrics: m("roc_auc", 0.7)},
			{Column: "origin", Value: "SFO", Rows: 9, Metrics: m("roc_auc", 0.1)},
		},
		Timing: Timing{P99RowMicros: 2500}, PackageBytes: 900_000,
	}
	want := []struct {
		name    string
		passed  bool
		skipped bool
		msg     string
	}{
		{"rmse < 5", false, false, "rmse does not apply to binary models"},
		{"pr_auc >= 0.5", false, false, "pr_auc = 0.4 does not meet >= 0.5"},
		{"recall_yes > 0.1", false, false, `class "yes" occurs neither among the true nor among the predicted labels`},
		{"slice origin=JFK roc_auc > 0.6", true, true, "slice origin=JFK (100 rows): roc_auc is undefined: the rows hold a single class; not gated"},
		{"slice origin=LAX roc_auc > 0.6", true, false, "slice origin=LAX (100 rows): roc_auc = 0.7 meets > 0.6"},
		{"small slices of origin", true, true, "1 slice of origin with fewer than 10 rows"},
		{"p99 single-row latency <= 2 ms", false, false, "is 2.5 ms; the budget is 2 ms"},
		{"package size <= 1 MB", true, false, "total 0.9 MB (900000 bytes)"},
	}
	got := p.Judge(r)
	if len(got) != len(want) {
		t.Fatalf("%d gates: %+v", len(got), got)
	}
	for i, w := range want {
		t.Run(w.name, func(t *testing.T) {
			g := got[i]
			if g.Name != w.name || g.Passed != w.passed || g.Skipped != w.skipped || !strings.Contains(g.Message, w.msg) {
				t.Fatalf("gate %+v, want %+v", g, w)
			}
		})
	}
	t.Run("budgets not measured fail", func(t *testing.T) {
		p := mustPolicy(t, "budgets: {p99_single_row_ms: 2, max_size_mb: 1}")
		for _, g := range p.Judge(&Report{Task: "binary"}) {
			if g.Passed {
				t.Errorf("gate %+v passed without a measurement", g)
			}
		}
	})
}
