package validation

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

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
	policy := r.Policy
	if r.PolicyDigest != "" {
		policy += " (" + r.PolicyDigest + ")"
	}
	add("Policy", policy)
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
