package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file renders a Report for machines (JSON) and for people (Markdown
// for a pull-request comment, a self-contained HTML page with charts).
//
// Every writer is deterministic: the same Report gives the same bytes, so
// the outputs can be kept as golden files, diffed and content-addressed.
// Each writer renders the whole output in memory first and writes it with a
// single Write, so on a rendering error nothing reaches w. The writers only
// read the Report; they are safe for concurrent use on the same Report.
//
// The unexported names of this file all start with "render", so that they
// cannot clash with the rest of the package.

// renderErrNilReport is returned by the writers for a nil *Report.
var renderErrNilReport = errors.New("validation: render: nil report")

// WriteJSON writes r as indented JSON (two spaces, a trailing newline), the
// form stored as the validation record. Map keys are sorted and HTML
// characters are not escaped, so the output is deterministic and readable.
// It fails, writing nothing, when r is nil or holds a value JSON cannot
// represent (a NaN or infinite metric), and returns the writer's error.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return renderErrNilReport
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("validation: render json: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("validation: write json: %w", err)
	}
	return nil
}

// WriteMarkdown writes r as GitHub-flavoured Markdown fit for a
// pull-request comment: a header naming the candidate and the baseline with
// the verdict as a plain PASS/FAIL/ERROR marker, a table of every metric
// with the baseline's value and the absolute and relative change, the gates,
// the failed checks, the slices (worst first, at most 20) and the timing.
// Text from the report is escaped so that it cannot break the tables or
// inject HTML. It fails, writing nothing, when r is nil, and returns the
// writer's error.
func WriteMarkdown(w io.Writer, r *Report) error {
	if r == nil {
		return renderErrNilReport
	}
	var b strings.Builder
	renderMarkdown(&b, r)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("validation: write markdown: %w", err)
	}
	return nil
}

// WriteHTML writes r as one self-contained HTML page: inline CSS, inline SVG
// charts (confusion matrix heat map, ROC curve, precision-recall curve,
// reliability diagram, each when the report has its data), and tables of the
// metrics against the baseline, gates, checks, slices and, for regression, a
// residual summary. The page loads nothing from anywhere and needs no
// JavaScript. Every string from the report is escaped by html/template. It
// fails, writing nothing, when r is nil or the template fails, and returns
// the writer's error.
//
// The charts carry stable ids ("confusion-matrix", "roc-curve", "pr-curve",
// "calibration-curve"); each confusion cell is a <rect> with a data-count
// attribute, and each curve is a <polyline class="curve"> with one point per
// finite point of the report.
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return renderErrNilReport
	}
	var buf bytes.Buffer
	if err := renderHTMLTemplate.Execute(&buf, renderBuildPage(r)); err != nil {
		return fmt.Errorf("validation: render html: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("validation: write html: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Values shared by the Markdown and HTML reports.

// renderMarker is the plain verdict marker: PASS, FAIL or ERROR.
func renderMarker(verdict string) string {
	switch verdict {
	case VerdictPass:
		return "PASS"
	case VerdictFail:
		return "FAIL"
	case VerdictError:
		return "ERROR"
	case "":
		return "UNKNOWN"
	}
	return strings.ToUpper(verdict)
}

// renderVerdictClass is the CSS class of a verdict.
func renderVerdictClass(verdict string) string {
	switch verdict {
	case VerdictPass:
		return "pass"
	case VerdictFail:
		return "fail"
	}
	return "error"
}

// renderNum formats a metric value: four decimals for the usual range, two
// for large values, four significant digits for tiny and huge ones.
func renderNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e6 || a < 1e-3:
		return strconv.FormatFloat(v, 'g', 4, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// renderSigned formats a change with its sign ("+0.0150", "-0.0200", "0").
func renderSigned(d float64) string {
	s := renderNum(d)
	if d > 0 || math.IsInf(d, 1) {
		return "+" + strings.TrimPrefix(s, "+")
	}
	return s
}

// renderRelative formats the relative change d/|base| as a signed
// percentage, or "n/a" when the baseline is zero or not finite.
func renderRelative(d, base float64) string {
	if base == 0 || math.IsNaN(base) || math.IsInf(base, 0) || math.IsNaN(d) || math.IsInf(d, 0) {
		return "n/a"
	}
	pct := d / math.Abs(base) * 100
	if math.Abs(pct) < 0.005 {
		return "0.00%"
	}
	return fmt.Sprintf("%+.2f%%", pct)
}

// renderNA stands for a missing value.
const renderNA = "n/a"

// renderMetricRow is a metric of the candidate against the baseline.
type renderMetricRow struct {
	Name      string
	Meaning   string // residual summary only
	Candidate string
	Baseline  string
	Change    string // signed absolute change, or n/a
	Relative  string // signed relative change, or n/a
	ChangeCSS string // "up", "down" or "" (the sign, not better or worse)
}

// renderMetricRowOf compares one metric.
func renderMetricRowOf(name string, cand, base map[string]float64) renderMetricRow {
	row := renderMetricRow{Name: name, Candidate: renderNA, Baseline: renderNA, Change: renderNA, Relative: renderNA}
	c, okC := cand[name]
	b, okB := base[name]
	if okC {
		row.Candidate = renderNum(c)
	}
	if okB {
		row.Baseline = renderNum(b)
	}
	if okC && okB {
		d := c - b
		row.Change = renderSigned(d)
		row.Relative = renderRelative(d, b)
		switch {
		case d > 0:
			row.ChangeCSS = "up"
		case d < 0:
			row.ChangeCSS = "down"
		}
	}
	return row
}

// renderMetricRows compares every metric of the candidate or the baseline,
// by name.
func renderMetricRows(cand, base map[string]float64) []renderMetricRow {
	names := renderKeys(cand, base)
	rows := make([]renderMetricRow, 0, len(names))
	for _, n := range names {
		rows = append(rows, renderMetricRowOf(n, cand, base))
	}
	return rows
}

// renderKeys returns the sorted union of the maps' keys.
func renderKeys(maps ...map[string]float64) []string {
	seen := make(map[string]bool)
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// renderResidualMetrics returns the residual statistics a regression report
// may hold, in the order the residual summary shows them.
func renderResidualMetrics() []struct{ name, meaning string } {
	return []struct{ name, meaning string }{
		{"rmse", "root mean squared error"},
		{"mse", "mean squared error"},
		{"mae", "mean absolute error"},
		{"median_ae", "median absolute error"},
		{"median_absolute_error", "median absolute error"},
		{"max_error", "largest absolute error"},
		{"mape", "mean absolute percentage error"},
		{"mean_error", "mean residual (bias)"},
		{"mean_residual", "mean residual (bias)"},
		{"bias", "mean residual (bias)"},
		{"residual_std", "standard deviation of the residuals"},
		{"r2", "coefficient of determination"},
		{"explained_variance", "explained variance"},
	}
}

// renderResidualRows is the residual summary of a regression report: the
// residual statistics it has, with their meaning.
func renderResidualRows(r *Report) []renderMetricRow {
	var rows []renderMetricRow
	for _, m := range renderResidualMetrics() {
		_, okC := r.Metrics[m.name]
		_, okB := r.BaselineMetrics[m.name]
		if !okC && !okB {
			continue
		}
		row := renderMetricRowOf(m.name, r.Metrics, r.BaselineMetrics)
		row.Meaning = m.meaning
		rows = append(rows, row)
	}
	return rows
}

// renderResult names the outcome of a gate or check, and its CSS class. A
// skipped one could not be judged and counts as passed.
func renderResult(passed, skipped bool) (text, css string) {
	switch {
	case skipped:
		return "skipped", "none"
	case !passed:
		return "FAIL", "fail"
	}
	return "pass", "pass"
}

// renderGateRow is a gate ready to print.
type renderGateRow struct {
	Name, Kind, Slice, Value, Baseline, Threshold, Message string
	Result, ResultCSS                                      string
}

func renderGateRows(r *Report) (rows []renderGateRow, anyBaseline bool) {
	for _, g := range r.Gates {
		row := renderGateRow{
			Name: g.Name, Kind: g.Kind, Slice: g.Slice, Message: g.Message,
			Value: renderNum(g.Value), Threshold: renderNum(g.Threshold), Baseline: renderNA,
		}
		row.Result, row.ResultCSS = renderResult(g.Passed, g.Skipped)
		if g.Baseline != nil {
			row.Baseline = renderNum(*g.Baseline)
			anyBaseline = true
		}
		rows = append(rows, row)
	}
	return rows, anyBaseline
}

// renderCounts summarises the gates and checks in a sentence.
func renderCounts(r *Report) string {
	var failedGates, skippedGates, failedChecks, skippedChecks int
	for _, g := range r.Gates {
		switch res, _ := renderResult(g.Passed, g.Skipped); res {
		case "FAIL":
			failedGates++
		case "skipped":
			skippedGates++
		}
	}
	for _, c := range r.Checks {
		switch res, _ := renderResult(c.Passed, c.Skipped); res {
		case "FAIL":
			failedChecks++
		case "skipped":
			skippedChecks++
		}
	}
	part := func(failed, skipped, total int, noun string) string {
		var s string
		switch {
		case total == 0:
			return "no " + noun + "s"
		case failed == 0 && total == 1:
			s = "the " + noun + " passed"
		case failed == 0:
			s = fmt.Sprintf("all %d %ss passed", total, noun)
		default:
			s = fmt.Sprintf("%d of %d %ss failed", failed, total, noun)
		}
		if skipped > 0 {
			s += fmt.Sprintf(" (%d skipped)", skipped)
		}
		return s
	}
	return part(failedGates, skippedGates, len(r.Gates), "gate") + "; " +
		part(failedChecks, skippedChecks, len(r.Checks), "check") + "."
}

// renderLowerIsBetter reports whether a smaller value of the metric is the
// better one (errors and losses), for ranking slices worst first.
func renderLowerIsBetter(metric string) bool {
	m := strings.ToLower(metric)
	for _, s := range []string{"rmse", "mse", "mae", "mape", "loss", "error", "brier", "ece", "latency", "_ae"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// renderSliceTable is the slices, worst first, with one column per metric.
type renderSliceTable struct {
	RankMetric string   // the metric that orders the slices
	Metrics    []string // column order: the rank metric first
	Rows       []renderSliceRow
}

type renderSliceRow struct {
	Slice     string // column=value
	Rows      int
	Result    string   // FAIL, pass, skipped or "no gate"
	ResultCSS string   // fail, pass or none
	Cells     []string // per metric: value, and the change vs baseline when there is one
}

// renderSlices orders the slices worst first: those with a failed slice
// gate, then by the rank metric (the metric of the first slice gate, else
// a usual headline metric, else the first by name) from worst to best,
// then by column and value.
func renderSlices(r *Report) renderSliceTable {
	var t renderSliceTable
	if len(r.Slices) == 0 {
		return t
	}
	var all []map[string]float64
	for _, s := range r.Slices {
		all = append(all, s.Metrics)
	}
	names := renderKeys(all...)
	for _, g := range r.Gates {
		if g.Kind == "slice" && g.Metric != "" {
			t.RankMetric = g.Metric
			break
		}
	}
	if t.RankMetric == "" {
		for _, m := range []string{"roc_auc", "auc", "f1_macro", "f1", "accuracy", "r2", "rmse", "mae"} {
			if slices.Contains(names, m) {
				t.RankMetric = m
				break
			}
		}
	}
	if t.RankMetric == "" && len(names) > 0 {
		t.RankMetric = names[0]
	}
	t.Metrics = []string{}
	if t.RankMetric != "" {
		t.Metrics = append(t.Metrics, t.RankMetric)
	}
	for _, n := range names {
		if n != t.RankMetric {
			t.Metrics = append(t.Metrics, n)
		}
	}

	// Gate results per slice.
	judged := make(map[string]bool)  // has a slice gate that passed
	skipped := make(map[string]bool) // has a skipped slice gate
	failed := make(map[string]bool)  // has a failed slice gate
	for _, g := range r.Gates {
		if g.Slice == "" {
			continue
		}
		switch res, _ := renderResult(g.Passed, g.Skipped); res {
		case "FAIL":
			failed[g.Slice] = true
		case "skipped":
			skipped[g.Slice] = true
		default:
			judged[g.Slice] = true
		}
	}

	idx := make([]int, len(r.Slices))
	for i := range idx {
		idx[i] = i
	}
	lower := renderLowerIsBetter(t.RankMetric)
	key := func(s SliceMetrics) string { return s.Column + "=" + s.Value }
	sort.SliceStable(idx, func(a, b int) bool {
		sa, sb := r.Slices[idx[a]], r.Slices[idx[b]]
		if fa, fb := failed[key(sa)], failed[key(sb)]; fa != fb {
			return fa
		}
		va, okA := sa.Metrics[t.RankMetric]
		vb, okB := sb.Metrics[t.RankMetric]
		okA = okA && !math.IsNaN(va)
		okB = okB && !math.IsNaN(vb)
		if okA != okB {
			return okA
		}
		if okA && va != vb {
			if lower {
				return va > vb
			}
			return va < vb
		}
		if sa.Column != sb.Column {
			return sa.Column < sb.Column
		}
		return sa.Value < sb.Value
	})

	for _, i := range idx {
		s := r.Slices[i]
		k := key(s)
		row := renderSliceRow{Slice: k, Rows: s.Rows, Result: "no gate", ResultCSS: "none"}
		switch {
		case failed[k]:
			row.Result, row.ResultCSS = "FAIL", "fail"
		case judged[k]:
			row.Result, row.ResultCSS = "pass", "pass"
		case skipped[k]:
			row.Result = "skipped"
		}
		for _, m := range t.Metrics {
			v, ok := s.Metrics[m]
			if !ok {
				row.Cells = append(row.Cells, renderNA)
				continue
			}
			cell := renderNum(v)
			if b, ok := s.BaselineMetrics[m]; ok {
				cell += " (" + renderSigned(v-b) + ")"
			}
			row.Cells = append(row.Cells, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// renderDuration formats milliseconds.
func renderDuration(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

// renderTiming is the timing line, or "" when nothing was timed.
func renderTiming(t Timing) string {
	if t == (Timing{}) {
		return ""
	}
	s := fmt.Sprintf("total %s, predict %s, metrics %s", renderDuration(t.TotalMS), renderDuration(t.PredictMS), renderDuration(t.MetricsMS))
	if t.P99RowMicros > 0 {
		s += ", single-row p99 " + strconv.FormatFloat(t.P99RowMicros, 'f', 0, 64) + " µs"
	}
	return s
}

// renderBytes formats a size in binary units, with the exact count.
func renderBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, exp := float64(n), 0
	for v >= unit && exp < 4 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %s (%d bytes)", v, []string{"", "KiB", "MiB", "GiB", "TiB"}[exp], n)
}

// renderCreated formats the creation time in UTC, or "" when unset.
func renderCreated(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}

// renderVersion names a model version: "churn v4".
func renderVersion(model string, version int) string {
	return fmt.Sprintf("%s v%d", model, version)
}
