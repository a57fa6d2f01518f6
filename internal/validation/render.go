package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
	"html/template"
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

// ---------------------------------------------------------------------------
// Markdown.

// renderMDMaxSlices bounds the slice rows of a comment.
const renderMDMaxSlices = 20

// renderMDText escapes free text for a Markdown paragraph or table cell: no
// line breaks, no table pipes, no emphasis, links or HTML.
func renderMDText(s string) string {
	var b strings.Builder
	for _, r := range strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s) {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '|', '~', '&':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// renderMDCode puts an identifier in a code span that survives a table.
func renderMDCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

func renderMarkdown(b *strings.Builder, r *Report) {
	marker := renderMarker(r.Verdict)
	cand := renderMDCode(r.Model) + fmt.Sprintf(" v%d", r.Version)
	if r.Baseline != nil {
		fmt.Fprintf(b, "## %s: %s vs baseline %s v%d\n\n", marker, cand, renderMDCode(r.Baseline.Model), r.Baseline.Version)
	} else {
		fmt.Fprintf(b, "## %s: %s (no baseline)\n\n", marker, cand)
	}

	if r.Verdict == VerdictError {
		msg := r.Error
		if msg == "" {
			msg = "no error message was recorded"
		}
		fmt.Fprintf(b, "**Verdict: ERROR.** The validation could not be completed: %s\n\n", renderMDText(msg))
	} else {
		fmt.Fprintf(b, "**Verdict: %s.** %s\n\n", marker, renderMDText(renderUpperFirst(renderCounts(r))))
	}

	fmt.Fprintf(b, "- Candidate: %s v%d", renderMDCode(r.Model), r.Version)
	if r.ModelURI != "" {
		fmt.Fprintf(b, " (%s)", renderMDCode(r.ModelURI))
	}
	b.WriteString("\n")
	if r.PackageBytes > 0 {
		fmt.Fprintf(b, "- Package size: %s\n", renderBytes(r.PackageBytes))
	}
	if r.Baseline != nil {
		fmt.Fprintf(b, "- Baseline: %s v%d", renderMDCode(r.Baseline.Model), r.Baseline.Version)
		if r.Baseline.URI != "" {
			fmt.Fprintf(b, " (%s)", renderMDCode(r.Baseline.URI))
		}
		b.WriteString("\n")
	}
	if r.Data.URI != "" || r.Data.Rows > 0 {
		fmt.Fprintf(b, "- Data: %s", renderMDCode(renderOr(r.Data.URI, "unnamed")))
		if r.Data.Rows > 0 {
			fmt.Fprintf(b, ", %d rows", r.Data.Rows)
		}
		if r.Data.Digest != "" {
			fmt.Fprintf(b, ", %s", renderMDCode(r.Data.Digest))
		}
		b.WriteString("\n")
	}
	if r.Task != "" {
		fmt.Fprintf(b, "- Task: %s", renderMDText(r.Task))
		if len(r.ClassLabels) > 0 {
			labels := make([]string, len(r.ClassLabels))
			for i, l := range r.ClassLabels {
				labels[i] = renderMDCode(l)
			}
			fmt.Fprintf(b, " (classes %s)", strings.Join(labels, ", "))
		}
		b.WriteString("\n")
	}
	if r.Policy != "" {
		fmt.Fprintf(b, "- Policy: %s\n", renderMDCode(r.Policy))
	}
	if c := renderCreated(r.CreatedAt); c != "" {
		fmt.Fprintf(b, "- Created: %s", c)
		if r.CreatedBy != "" {
			fmt.Fprintf(b, " by %s", renderMDText(r.CreatedBy))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")

	if len(r.Metrics) > 0 || len(r.BaselineMetrics) > 0 {
		b.WriteString("### Metrics\n\n")
		if renderHasBaseline(r) {
			b.WriteString("| Metric | Candidate | Baseline | Change | Change % |\n")
			b.WriteString("| --- | ---: | ---: | ---: | ---: |\n")
			for _, m := range renderMetricRows(r.Metrics, r.BaselineMetrics) {
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", renderMDCode(m.Name), m.Candidate, m.Baseline, m.Change, m.Relative)
			}
		} else {
			b.WriteString("No baseline to compare with.\n\n")
			b.WriteString("| Metric | Candidate |\n")
			b.WriteString("| --- | ---: |\n")
			for _, m := range renderMetricRows(r.Metrics, nil) {
				fmt.Fprintf(b, "| %s | %s |\n", renderMDCode(m.Name), m.Candidate)
			}
		}
		b.WriteString("\n")
	}

	if len(r.Gates) > 0 {
		rows, anyBaseline := renderGateRows(r)
		b.WriteString("### Gates\n\n")
		if anyBaseline {
			b.WriteString("| Gate | Value | Baseline | Threshold | Result | Message |\n")
			b.WriteString("| --- | ---: | ---: | ---: | --- | --- |\n")
		} else {
			b.WriteString("| Gate | Value | Threshold | Result | Message |\n")
			b.WriteString("| --- | ---: | ---: | --- | --- |\n")
		}
		for _, g := range rows {
			result := g.Result
			if result == "FAIL" {
				result = "**FAIL**"
			}
			if anyBaseline {
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", renderMDCode(g.Name), g.Value, g.Baseline, g.Threshold, result, renderMDText(g.Message))
			} else {
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", renderMDCode(g.Name), g.Value, g.Threshold, result, renderMDText(g.Message))
			}
		}
		b.WriteString("\n")
	}

	if len(r.Checks) > 0 {
		b.WriteString("### Checks\n\n")
		var failed, skipped []CheckResult
		for _, c := range r.Checks {
			switch res, _ := renderResult(c.Passed, c.Skipped); res {
			case "FAIL":
				failed = append(failed, c)
			case "skipped":
				skipped = append(skipped, c)
			}
		}
		list := func(marker string, checks []CheckResult) {
			for _, c := range checks {
				fmt.Fprintf(b, "- %s %s", marker, renderMDCode(c.Name))
				if c.Column != "" {
					fmt.Fprintf(b, " (column %s)", renderMDCode(c.Column))
				}
				if c.Message != "" {
					fmt.Fprintf(b, ": %s", renderMDText(c.Message))
				}
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
		if len(failed) == 0 {
			fmt.Fprintf(b, "All %d checks passed.\n\n", len(r.Checks))
		} else {
			fmt.Fprintf(b, "%d of %d checks failed:\n\n", len(failed), len(r.Checks))
			list("**FAIL**", failed)
		}
		if len(skipped) > 0 {
			b.WriteString("Skipped, counted as passed:\n\n")
			list("skipped", skipped)
		}
	}

	if st := renderSlices(r); len(st.Rows) > 0 {
		fmt.Fprintf(b, "### Slices (worst first by %s)\n\n", renderMDCode(st.RankMetric))
		b.WriteString("| Slice | Rows | Gate |")
		for _, m := range st.Metrics {
			fmt.Fprintf(b, " %s |", renderMDCode(m))
		}
		b.WriteString("\n| --- | ---: | --- |")
		for range st.Metrics {
			b.WriteString(" ---: |")
		}
		b.WriteString("\n")
		for i, row := range st.Rows {
			if i == renderMDMaxSlices {
				break
			}
			result := row.Result
			if result == "FAIL" {
				result = "**FAIL**"
			}
			fmt.Fprintf(b, "| %s | %d | %s |", renderMDCode(row.Slice), row.Rows, result)
			for _, c := range row.Cells {
				fmt.Fprintf(b, " %s |", c)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
		if n := len(st.Rows) - renderMDMaxSlices; n > 0 {
			fmt.Fprintf(b, "%d more slices are in the HTML report.\n\n", n)
		}
		if renderSlicesHaveBaseline(r) {
			b.WriteString("A value in parentheses is the change from the baseline on the same rows.\n\n")
		}
	}

	if t := renderTiming(r.Timing); t != "" {
		fmt.Fprintf(b, "Timing: %s.\n", t)
	}
}

// renderHasBaseline reports whether the report compares with a baseline.
func renderHasBaseline(r *Report) bool {
	return r.Baseline != nil || len(r.BaselineMetrics) > 0
}

func renderOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func renderSlicesHaveBaseline(r *Report) bool {
	for _, s := range r.Slices {
		if len(s.BaselineMetrics) > 0 {
			return true
		}
	}
	return false
}

func renderUpperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ---------------------------------------------------------------------------
// HTML.

// renderPage is what the HTML template reads.
type renderPage struct {
	Title        string // of the document: marker and heading
	Heading      string // "churn v4 vs churn v3"
	Marker       string
	VerdictCSS   string
	Summary      string
	IsError      bool
	Error        string
	Facts        []renderFact
	Metrics      []renderMetricRow
	HasBaseline  bool
	Residuals    []renderMetricRow
	IsRegression bool
	Gates        []renderGateRow
	GateBaseline bool
	Checks       []renderCheckRow
	Slices       renderSliceTable
	SlicesDelta  bool
	Confusion    *renderHeatmap
	Curves       []*renderCurveChart
	CalBins      []renderCalRow
	Timing       string
}

type renderFact struct{ Label, Value string }

type renderCheckRow struct {
	Name, Column, Message, Result, ResultCSS string
}

type renderCalRow struct {
	Range, Count, MeanPredicted, FractionTrue, Gap string
}

func renderBuildPage(r *Report) renderPage {
	p := renderPage{
		Marker:       renderMarker(r.Verdict),
		VerdictCSS:   renderVerdictClass(r.Verdict),
		Summary:      renderUpperFirst(renderCounts(r)),
		IsError:      r.Verdict == VerdictError,
		Error:        r.Error,
		Metrics:      renderMetricRows(r.Metrics, r.BaselineMetrics),
		HasBaseline:  renderHasBaseline(r),
		IsRegression: r.Task == "regression",
		Slices:       renderSlices(r),
		SlicesDelta:  renderSlicesHaveBaseline(r),
		Timing:       renderTiming(r.Timing),
	}
	p.Heading = renderVersion(r.Model, r.Version)
	if r.Baseline != nil {
		p.Heading += " vs " + renderVersion(r.Baseline.Model, r.Baseline.Version)
	}
	p.Title = p.Marker + ": " + p.Heading
	if p.IsError && p.Error == "" {
		p.Error = "no error message was recorded"
	}
	if p.IsRegression {
		p.Residuals = renderResidualRows(r)
	}
	p.Gates, p.GateBaseline = renderGateRows(r)
	for _, c := range r.Checks {
		row := renderCheckRow{Name: c.Name, Column: c.Column, Message: c.Message}
		row.Result, row.ResultCSS = renderResult(c.Passed, c.Skipped)
		p.Checks = append(p.Checks, row)
	}

	add := func(label, value string) {
		if value != "" {
			p.Facts = append(p.Facts, renderFact{label, value})
		}
	}
	cand := renderVersion(r.Model, r.Version)
	if r.ModelURI != "" {
		cand += " (" + r.ModelURI + ")"
	}
	add("Candidate", cand)
	if r.Baseline != nil {
		base := renderVersion(r.Baseline.Model, r.Baseline.Version)
		if r.Baseline.URI != "" {
			base += " (" + r.Baseline.URI + ")"
		}
		add("Baseline", base)
	} else {
		add("Baseline", "none")
	}
	if r.Data.URI != "" || r.Data.Rows > 0 {
		data := renderOr(r.Data.URI, "unnamed")
		if r.Data.Rows > 0 {
			data += fmt.Sprintf(", %d rows", r.Data.Rows)
		}
		add("Data", data)
	}
	add("Data digest", r.Data.Digest)
	if r.PackageBytes > 0 {
		add("Package size", renderBytes(r.PackageBytes))
	}
	task := r.Task
	if len(r.ClassLabels) > 0 {
		task += " (classes " + strings.Join(r.ClassLabels, ", ") + ")"
	}
	add("Task", task)
	add("Policy", r.Policy)
	created := renderCreated(r.CreatedAt)
	if created != "" && r.CreatedBy != "" {
		created += " by " + r.CreatedBy
	}
	add("Created", created)

	if r.Confusion != nil {
		p.Confusion = renderBuildHeatmap(r.Confusion)
	}
	if len(r.ROC) > 0 {
		c := renderBuildCurve("roc-curve", "ROC curve", "False positive rate", "True positive rate", r.ROC, true)
		c.Note = renderMetricNote(r.Metrics, "AUC", "roc_auc", "auc")
		p.Curves = append(p.Curves, c)
	}
	if len(r.PR) > 0 {
		c := renderBuildCurve("pr-curve", "Precision-recall curve", "Recall", "Precision", r.PR, false)
		c.Note = renderMetricNote(r.Metrics, "AP", "pr_auc", "average_precision", "ap")
		p.Curves = append(p.Curves, c)
	}
	if len(r.Calibration) > 0 {
		c, rows := renderBuildCalibration(r.Calibration)
		c.Note = renderMetricNote(r.Metrics, "ECE", "ece", "expected_calibration_error")
		if c.Note == "" {
			c.Note = renderMetricNote(r.Metrics, "Brier", "brier", "brier_score")
		}
		p.Curves = append(p.Curves, c)
		p.CalBins = rows
	}
	return p
}

// renderMetricNote is "AUC 0.9012" for the first of names in metrics.
func renderMetricNote(metrics map[string]float64, label string, names ...string) string {
	for _, n := range names {
		if v, ok := metrics[n]; ok {
			return label + " " + renderNum(v)
		}
	}
	return ""
}

// renderCoord formats an SVG coordinate.
func renderCoord(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// renderClamp01 keeps a curve coordinate inside the plot.
func renderClamp01(v float64) float64 {
	return math.Min(1, math.Max(0, v))
}

// The curve charts share one geometry: a unit square plotted in a
// renderPlot×renderPlot area.
const (
	renderPlot   = 280.0
	renderLeft   = 56.0
	renderTop    = 16.0
	renderRight  = 16.0
	renderBottom = 52.0
)

// renderCurveChart is a line chart on [0,1]×[0,1].
type renderCurveChart struct {
	ID, Title, Note, XLabel, YLabel string
	Width, Height                   string
	Points                          string // polyline points
	NPoints                         int
	Diagonal                        bool // the chance line (ROC) or perfect calibration
	X0, Y0, X1, Y1                  string
	Ticks                           []renderTick
	Markers                         []renderDot
	XLabelX, XLabelY                string
	YLabelX, YLabelY                string
}

type renderTick struct {
	Label string
	// Vertical grid line and x tick label.
	VX, VY1, VY2, VLX, VLY string
	// Horizontal grid line and y tick label.
	HY, HX1, HX2, HLX, HLY string
}

type renderDot struct {
	CX, CY, Count, Title string
}

func renderPX(x float64) float64 { return renderLeft + renderClamp01(x)*renderPlot }
func renderPY(y float64) float64 { return renderTop + (1-renderClamp01(y))*renderPlot }

func renderNewChart(id, title, xLabel, yLabel string) *renderCurveChart {
	c := &renderCurveChart{
		ID: id, Title: title, XLabel: xLabel, YLabel: yLabel,
		Width:  renderCoord(renderLeft + renderPlot + renderRight),
		Height: renderCoord(renderTop + renderPlot + renderBottom),
		X0:     renderCoord(renderPX(0)), Y0: renderCoord(renderPY(0)),
		X1: renderCoord(renderPX(1)), Y1: renderCoord(renderPY(1)),
		XLabelX: renderCoord(renderLeft + renderPlot/2), XLabelY: renderCoord(renderTop + renderPlot + 40),
		YLabelX: renderCoord(-(renderTop + renderPlot/2)), YLabelY: renderCoord(16),
	}
	for i := 0; i <= 5; i++ {
		v := float64(i) / 5
		c.Ticks = append(c.Ticks, renderTick{
			Label: strconv.FormatFloat(v, 'f', 1, 64),
			VX:    renderCoord(renderPX(v)), VY1: renderCoord(renderTop), VY2: renderCoord(renderTop + renderPlot + 5),
			VLX: renderCoord(renderPX(v)), VLY: renderCoord(renderTop + renderPlot + 18),
			HY: renderCoord(renderPY(v)), HX1: renderCoord(renderLeft - 5), HX2: renderCoord(renderLeft + renderPlot),
			HLX: renderCoord(renderLeft - 8), HLY: renderCoord(renderPY(v) + 4),
		})
	}
	return c
}

// renderBuildCurve draws the finite points of a curve, in the report's order.
func renderBuildCurve(id, title, xLabel, yLabel string, pts []metrics.CurvePoint, diagonal bool) *renderCurveChart {
	c := renderNewChart(id, title, xLabel, yLabel)
	c.Diagonal = diagonal
	var b strings.Builder
	for _, p := range pts {
		if !renderFinite(p.X) || !renderFinite(p.Y) {
			continue
		}
		if c.NPoints > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(renderCoord(renderPX(p.X)) + "," + renderCoord(renderPY(p.Y)))
		c.NPoints++
	}
	c.Points = b.String()
	return c
}

// renderBuildCalibration draws the reliability diagram: one marker per
// non-empty bin at (mean predicted, fraction true), joined by a line, over
// the diagonal of perfect calibration; and the table of the bins.
func renderBuildCalibration(bins []metrics.CalibrationBin) (*renderCurveChart, []renderCalRow) {
	c := renderNewChart("calibration-curve", "Reliability diagram", "Mean predicted probability", "Fraction of positives")
	c.Diagonal = true
	var b strings.Builder
	var rows []renderCalRow
	for i, bin := range bins {
		closing := ")"
		if i == len(bins)-1 && bin.Upper >= 1 {
			closing = "]"
		}
		row := renderCalRow{
			Range: "[" + renderEdge(bin.Lower) + ", " + renderEdge(bin.Upper) + closing,
			Count: strconv.Itoa(bin.Count), MeanPredicted: renderNA, FractionTrue: renderNA, Gap: renderNA,
		}
		if bin.Count > 0 {
			row.MeanPredicted = renderNum(bin.MeanPredicted)
			row.FractionTrue = renderNum(bin.FractionTrue)
			row.Gap = renderSigned(bin.FractionTrue - bin.MeanPredicted)
		}
		rows = append(rows, row)
		if bin.Count == 0 || !renderFinite(bin.MeanPredicted) || !renderFinite(bin.FractionTrue) {
			continue
		}
		x, y := renderCoord(renderPX(bin.MeanPredicted)), renderCoord(renderPY(bin.FractionTrue))
		if c.NPoints > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x + "," + y)
		c.NPoints++
		c.Markers = append(c.Markers, renderDot{
			CX: x, CY: y, Count: strconv.Itoa(bin.Count),
			Title: fmt.Sprintf("%s: %d rows, mean predicted %s, fraction true %s", row.Range, bin.Count, row.MeanPredicted, row.FractionTrue),
		})
	}
	c.Points = b.String()
	return c, rows
}

// renderEdge formats a bin edge briefly: 0.1, 0.25, 1.
func renderEdge(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func renderFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// renderHeatmap is the confusion matrix drawn as a K×K grid.
type renderHeatmap struct {
	K                        int
	Width, Height            string
	Cells                    []renderCell
	ColLabels, RowLabels     []renderLabel
	PredX, PredY             string // "Predicted" axis title
	ActualX, ActualY         string // "Actual" axis title (rotated)
	Total, Correct, Accuracy string
}

type renderCell struct {
	X, Y, Size, Fill      string
	TX, TY, TextCSS, Font string
	Count                 int
	Actual, Predicted     string
	Title                 string
}

type renderLabel struct {
	X, Y, Text, Full string
}

// renderBuildHeatmap lays out the confusion matrix. Cells are shaded by the
// share of their true-class row, so a good model shows a dark diagonal
// whatever the class balance. Missing cells of a ragged matrix count 0.
func renderBuildHeatmap(cm *metrics.Confusion) *renderHeatmap {
	k := max(len(cm.Labels), len(cm.Counts))
	label := func(i int) string {
		if i < len(cm.Labels) && cm.Labels[i] != "" {
			return cm.Labels[i]
		}
		return strconv.Itoa(i)
	}
	count := func(i, j int) int {
		if i < len(cm.Counts) && j < len(cm.Counts[i]) {
			return cm.Counts[i][j]
		}
		return 0
	}
	cell := math.Max(28, math.Min(88, 420/math.Max(1, float64(k))))
	const left, top = 128.0, 64.0
	h := &renderHeatmap{
		K:       k,
		Width:   renderCoord(left + float64(k)*cell + 12),
		Height:  renderCoord(top + float64(k)*cell + 12),
		PredX:   renderCoord(left + float64(k)*cell/2),
		PredY:   "20",
		ActualX: renderCoord(-(top + float64(k)*cell/2)),
		ActualY: "18",
	}
	maxChars := int(cell / 7)
	font := renderCoord(math.Min(14, cell/3))
	total, correct := 0, 0
	for i := 0; i < k; i++ {
		rowTotal := 0
		for j := 0; j < k; j++ {
			rowTotal += count(i, j)
		}
		total += rowTotal
		correct += count(i, i)
		h.RowLabels = append(h.RowLabels, renderLabel{
			X: renderCoord(left - 8), Y: renderCoord(top + (float64(i)+0.5)*cell + 4),
			Text: renderTruncate(label(i), 14), Full: label(i),
		})
		h.ColLabels = append(h.ColLabels, renderLabel{
			X: renderCoord(left + (float64(i)+0.5)*cell), Y: renderCoord(top - 10),
			Text: renderTruncate(label(i), maxChars), Full: label(i),
		})
		for j := 0; j < k; j++ {
			n := count(i, j)
			f := 0.0
			if rowTotal > 0 {
				f = float64(n) / float64(rowTotal)
			}
			textCSS := "count"
			if f > 0.5 {
				textCSS = "count on-dark"
			}
			x, y := left+float64(j)*cell, top+float64(i)*cell
			h.Cells = append(h.Cells, renderCell{
				X: renderCoord(x), Y: renderCoord(y), Size: renderCoord(cell), Fill: renderBlue(f),
				TX: renderCoord(x + cell/2), TY: renderCoord(y + cell/2 + 4), TextCSS: textCSS, Font: font,
				Count: n, Actual: label(i), Predicted: label(j),
				Title: fmt.Sprintf("actual %s, predicted %s: %d (%s of the row)", label(i), label(j), n, strconv.FormatFloat(100*f, 'f', 1, 64)+"%"),
			})
		}
	}
	h.Total = strconv.Itoa(total)
	h.Correct = strconv.Itoa(correct)
	if total > 0 {
		h.Accuracy = renderNum(float64(correct) / float64(total))
	}
	return h
}

// renderBlue interpolates from a near-white to a dark blue.
func renderBlue(f float64) string {
	f = renderClamp01(f)
	lerp := func(a, b float64) int { return int(math.Round(a + (b-a)*f)) }
	return fmt.Sprintf("rgb(%d,%d,%d)", lerp(247, 8), lerp(251, 48), lerp(255, 107))
}

// renderTruncate shortens s to n runes, ending with an ellipsis.
func renderTruncate(s string, n int) string {
	rs := []rune(s)
	if n < 2 {
		n = 2
	}
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}

var renderHTMLTemplate = template.Must(template.New("report").Parse(renderHTMLSource))

const renderHTMLSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Ferry validation</title>
<style>
:root { --pass: #1a7f37; --fail: #cf222e; --error: #9a6700; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 6px; }
.verdict { display: inline-block; font-weight: 700; letter-spacing: .06em; padding: 2px 12px; border-radius: 4px; color: #fff; margin-right: 8px; }
.verdict.pass { background: var(--pass); } .verdict.fail { background: var(--fail); } .verdict.error { background: var(--error); }
.summary { margin: 8px 0 16px; font-size: 15px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.error-box { border: 1px solid var(--error); background: #fff8c5; padding: 12px 16px; border-radius: 6px; }
.error-box pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.up { color: #0550ae; } td.down { color: #8250df; }
.res { font-weight: 700; } .res.pass { color: var(--pass); } .res.fail { color: var(--fail); } .res.none { font-weight: 400; color: var(--muted); }
tr.failed td { background: #ffebe9; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; padding: 12px; border: 1px solid var(--line); border-radius: 6px; }
figcaption { font-weight: 600; margin-bottom: 4px; } figcaption .note { display: block; max-width: 320px; font-weight: 400; color: var(--muted); }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: var(--ink); }
svg .grid { stroke: #eaeef2; } svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .tick { font-size: 11px; fill: var(--muted); } svg .axis-title { font-size: 12px; }
svg .chance { stroke: #8c959f; stroke-dasharray: 4 4; fill: none; }
svg .curve { fill: none; stroke: #0969da; stroke-width: 2; stroke-linejoin: round; }
svg .marker { fill: #0969da; stroke: #fff; stroke-width: 1; }
svg .cell { stroke: #fff; stroke-width: 1; }
svg .count { text-anchor: middle; font-variant-numeric: tabular-nums; }
svg text.on-dark { fill: #fff; }
svg .label { font-size: 12px; }
.muted { color: var(--muted); }
footer { margin-top: 32px; color: var(--muted); }
</style>
</head>
<body>
<header>
<h1><span id="verdict" class="verdict {{.VerdictCSS}}">{{.Marker}}</span>{{.Heading}}</h1>
{{- if not .IsError}}
<p class="summary">{{.Summary}}</p>
{{- end}}
<dl class="facts">
{{- range .Facts}}
<dt>{{.Label}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>
</header>
{{- if .IsError}}
<section id="error">
<h2>Error</h2>
<div class="error-box"><p>The validation could not be completed.</p><pre>{{.Error}}</pre></div>
</section>
{{- end}}
{{- if .Metrics}}
<section id="metrics">
<h2>Metrics</h2>
<table>
<thead><tr><th>Metric</th><th class="num">Candidate</th>{{if .HasBaseline}}<th class="num">Baseline</th><th class="num">Change</th><th class="num">Change %</th>{{end}}</tr></thead>
<tbody>
{{- range .Metrics}}
<tr><td><code>{{.Name}}</code></td><td class="num">{{.Candidate}}</td>{{if $.HasBaseline}}<td class="num">{{.Baseline}}</td><td class="num {{.ChangeCSS}}">{{.Change}}</td><td class="num {{.ChangeCSS}}">{{.Relative}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if .IsRegression}}
<section id="residuals">
<h2>Residual summary</h2>
{{- if .Residuals}}
<table>
<thead><tr><th>Statistic</th><th>Meaning</th><th class="num">Candidate</th>{{if .HasBaseline}}<th class="num">Baseline</th><th class="num">Change</th><th class="num">Change %</th>{{end}}</tr></thead>
<tbody>
{{- range .Residuals}}
<tr><td><code>{{.Name}}</code></td><td>{{.Meaning}}</td><td class="num">{{.Candidate}}</td>{{if $.HasBaseline}}<td class="num">{{.Baseline}}</td><td class="num {{.ChangeCSS}}">{{.Change}}</td><td class="num {{.ChangeCSS}}">{{.Relative}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="muted">The report has no residual statistics.</p>
{{- end}}
</section>
{{- end}}
{{- if .Gates}}
<section id="gates">
<h2>Gates</h2>
<table>
<thead><tr><th>Gate</th><th>Kind</th><th class="num">Value</th>{{if .GateBaseline}}<th class="num">Baseline</th>{{end}}<th class="num">Threshold</th><th>Result</th><th>Message</th></tr></thead>
<tbody>
{{- range .Gates}}
<tr{{if eq .ResultCSS "fail"}} class="failed"{{end}}><td><code>{{.Name}}</code></td><td>{{.Kind}}</td><td class="num">{{.Value}}</td>{{if $.GateBaseline}}<td class="num">{{.Baseline}}</td>{{end}}<td class="num">{{.Threshold}}</td><td class="res {{.ResultCSS}}">{{.Result}}</td><td>{{.Message}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if .Checks}}
<section id="checks">
<h2>Checks</h2>
<table>
<thead><tr><th>Check</th><th>Column</th><th>Result</th><th>Message</th></tr></thead>
<tbody>
{{- range .Checks}}
<tr{{if eq .ResultCSS "fail"}} class="failed"{{end}}><td><code>{{.Name}}</code></td><td>{{.Column}}</td><td class="res {{.ResultCSS}}">{{.Result}}</td><td>{{.Message}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if or .Confusion .Curves}}
<section id="charts">
<h2>Charts</h2>
<div class="charts">
{{- with .Confusion}}
<figure>
<figcaption>Confusion matrix<span class="note">{{.Correct}} of {{.Total}} rows on the diagonal{{if .Accuracy}} (accuracy {{.Accuracy}}){{end}}; shade is the share of the actual class</span></figcaption>
<svg id="confusion-matrix" role="img" aria-label="Confusion matrix" data-classes="{{.K}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
<text class="axis-title" x="{{.PredX}}" y="{{.PredY}}" text-anchor="middle">Predicted</text>
<text class="axis-title" transform="rotate(-90)" x="{{.ActualX}}" y="{{.ActualY}}" text-anchor="middle">Actual</text>
{{- range .ColLabels}}
<text class="label" x="{{.X}}" y="{{.Y}}" text-anchor="middle"><title>{{.Full}}</title>{{.Text}}</text>
{{- end}}
{{- range .RowLabels}}
<text class="label" x="{{.X}}" y="{{.Y}}" text-anchor="end"><title>{{.Full}}</title>{{.Text}}</text>
{{- end}}
{{- range .Cells}}
<g><rect class="cell" x="{{.X}}" y="{{.Y}}" width="{{.Size}}" height="{{.Size}}" fill="{{.Fill}}" data-count="{{.Count}}" data-actual="{{.Actual}}" data-predicted="{{.Predicted}}"><title>{{.Title}}</title></rect><text class="{{.TextCSS}}" x="{{.TX}}" y="{{.TY}}" font-size="{{.Font}}">{{.Count}}</text></g>
{{- end}}
</svg>
</figure>
{{- end}}
{{- range .Curves}}
<figure>
<figcaption>{{.Title}}{{if .Note}}<span class="note">{{.Note}}</span>{{end}}</figcaption>
<svg id="{{.ID}}" role="img" aria-label="{{.Title}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{- range .Ticks}}
<line class="grid" x1="{{.VX}}" y1="{{.VY1}}" x2="{{.VX}}" y2="{{.VY2}}"/><text class="tick" x="{{.VLX}}" y="{{.VLY}}" text-anchor="middle">{{.Label}}</text>
<line class="grid" x1="{{.HX1}}" y1="{{.HY}}" x2="{{.HX2}}" y2="{{.HY}}"/><text class="tick" x="{{.HLX}}" y="{{.HLY}}" text-anchor="end">{{.Label}}</text>
{{- end}}
<line class="axis" x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X1}}" y2="{{.Y0}}"/>
<line class="axis" x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X0}}" y2="{{.Y1}}"/>
{{- if .Diagonal}}
<line class="chance" x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X1}}" y2="{{.Y1}}"/>
{{- end}}
<polyline class="curve" data-points="{{.NPoints}}" points="{{.Points}}"/>
{{- range .Markers}}
<circle class="marker" cx="{{.CX}}" cy="{{.CY}}" r="4" data-count="{{.Count}}"><title>{{.Title}}</title></circle>
{{- end}}
<text class="axis-title" x="{{.XLabelX}}" y="{{.XLabelY}}" text-anchor="middle">{{.XLabel}}</text>
<text class="axis-title" transform="rotate(-90)" x="{{.YLabelX}}" y="{{.YLabelY}}" text-anchor="middle">{{.YLabel}}</text>
</svg>
</figure>
{{- end}}
</div>
{{- if .CalBins}}
<h3>Reliability table</h3>
<table id="calibration-table">
<thead><tr><th>Bin</th><th class="num">Rows</th><th class="num">Mean predicted</th><th class="num">Fraction true</th><th class="num">Gap</th></tr></thead>
<tbody>
{{- range .CalBins}}
<tr><td>{{.Range}}</td><td class="num">{{.Count}}</td><td class="num">{{.MeanPredicted}}</td><td class="num">{{.FractionTrue}}</td><td class="num">{{.Gap}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
</section>
{{- end}}
{{- if .Slices.Rows}}
<section id="slices">
<h2>Slices</h2>
<p class="muted">Worst first by <code>{{.Slices.RankMetric}}</code>; slices that fail a gate come first.{{if .SlicesDelta}} A value in parentheses is the change from the baseline on the same rows.{{end}}</p>
<table>
<thead><tr><th>Slice</th><th class="num">Rows</th><th>Gate</th>{{range .Slices.Metrics}}<th class="num"><code>{{.}}</code></th>{{end}}</tr></thead>
<tbody>
{{- range .Slices.Rows}}
<tr{{if eq .ResultCSS "fail"}} class="failed"{{end}}><td><code>{{.Slice}}</code></td><td class="num">{{.Rows}}</td><td class="res {{.ResultCSS}}">{{.Result}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
<footer>
{{- if .Timing}}
<p id="timing">Timing: {{.Timing}}.</p>
{{- end}}
<p>Generated by Ferry.</p>
</footer>
</body>
</html>
`
