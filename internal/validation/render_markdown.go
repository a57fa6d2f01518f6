package validation

import (
	"fmt"
	"strings"
)

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
		fmt.Fprintf(b, "- Policy: %s", renderMDCode(r.Policy))
		if r.PolicyDigest != "" {
			fmt.Fprintf(b, " (%s)", renderMDCode(r.PolicyDigest))
		}
		b.WriteString("\n")
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
