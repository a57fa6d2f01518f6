package validation

import (
	"html/template"
)

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
