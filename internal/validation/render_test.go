package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

var updateRender = flag.Bool("update-render", false, "rewrite the golden files in testdata/render/")

// renderFloat returns a pointer to v, for GateResult.Baseline.
func renderFloat(v float64) *float64 { return &v }

// renderSampleBinary is a binary classifier compared with the champion: it
// beats it overall but fails a slice gate and a data check. Its messages hold
// characters that Markdown and HTML must escape.
func renderSampleBinary() *Report {
	return &Report{
		Model:    "churn",
		Version:  4,
		ModelURI: "models:/churn/4",
		Baseline: &Ref{Model: "churn", Version: 3, URI: "models:/churn@champion"},
		Data: DataRef{
			URI:    "data:/holdout/3",
			Digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Rows:   2000,
		},
		Task:        "binary",
		ClassLabels: []string{"stay", "churn"},
		Verdict:     VerdictFail,
		CreatedAt:   1793613600000, // 2026-11-02 10:00:00 UTC
		CreatedBy:   "ana",
		Policy:      "gates.yaml",
		Metrics: map[string]float64{
			"accuracy": 0.8645, "f1": 0.6231, "log_loss": 0.3120, "precision": 0.7012,
			"recall": 0.5607, "roc_auc": 0.8934, "pr_auc": 0.6820, "brier": 0.0981, "ece": 0.0213,
		},
		BaselineMetrics: map[string]float64{
			"accuracy": 0.8510, "f1": 0.5904, "log_loss": 0.3398, "precision": 0.6875,
			"recall": 0.5122, "roc_auc": 0.8712, "pr_auc": 0.6401, "brier": 0.1045,
		},
		Slices: []SliceMetrics{
			{Column: "origin", Value: "LAX", Rows: 640,
				Metrics:         map[string]float64{"roc_auc": 0.9102, "accuracy": 0.8800},
				BaselineMetrics: map[string]float64{"roc_auc": 0.8950, "accuracy": 0.8700}},
			{Column: "origin", Value: "JFK", Rows: 410,
				Metrics:         map[string]float64{"roc_auc": 0.7420, "accuracy": 0.8100},
				BaselineMetrics: map[string]float64{"roc_auc": 0.7810, "accuracy": 0.8200}},
			{Column: "origin", Value: "SFO", Rows: 550,
				Metrics:         map[string]float64{"roc_auc": 0.8611, "accuracy": 0.8500},
				BaselineMetrics: map[string]float64{"roc_auc": 0.8540, "accuracy": 0.8400}},
			{Column: "plan", Value: "basic|legacy", Rows: 400,
				Metrics:         map[string]float64{"roc_auc": 0.8420, "accuracy": 0.8300},
				BaselineMetrics: map[string]float64{"roc_auc": 0.8300, "accuracy": 0.8250}},
		},
		Gates: []GateResult{
			{Name: "roc_auc >= 0.70", Kind: "threshold", Metric: "roc_auc", Value: 0.8934, Threshold: 0.70, Passed: true,
				Message: "roc_auc 0.8934 >= 0.70"},
			{Name: "roc_auc vs baseline", Kind: "baseline", Metric: "roc_auc", Value: 0.8934, Baseline: renderFloat(0.8712), Threshold: -0.01, Passed: true,
				Message: "roc_auc changed by +0.0222 from the baseline; allowed down to -0.01"},
			{Name: "slice origin=JFK roc_auc >= 0.75", Kind: "slice", Metric: "roc_auc", Slice: "origin=JFK", Value: 0.7420, Threshold: 0.75, Passed: false,
				Message: "roc_auc on origin=JFK is 0.7420 < 0.75"},
			{Name: "slice origin=LAX roc_auc >= 0.75", Kind: "slice", Metric: "roc_auc", Slice: "origin=LAX", Value: 0.9102, Threshold: 0.75, Passed: true,
				Message: "roc_auc on origin=LAX is 0.9102 >= 0.75"},
			{Name: "p99 latency <= 5ms", Kind: "latency", Value: 0.41, Threshold: 5, Passed: true,
				Message: "single-row p99 0.41 ms <= 5 ms"},
		},
		Checks: []CheckResult{
			{Name: "schema", Passed: true, Message: "12 columns match the signature"},
			{Name: "missing_rate", Column: "age", Passed: false, Message: "12.0% missing > 5.0% | column <age> & *tenure*"},
			{Name: "digests", Passed: true, Message: "7 files verified"},
			{Name: "signature", Passed: true, Message: "inputs match"},
		},
		Confusion: &metrics.Confusion{
			Labels: []string{"stay", "churn"},
			Counts: [][]int{{1496, 96}, {175, 233}},
		},
		ROC: []metrics.CurvePoint{
			{X: 0, Y: 0, Threshold: 1}, {X: 0.01, Y: 0.21, Threshold: 0.92}, {X: 0.03, Y: 0.38, Threshold: 0.84},
			{X: 0.06, Y: 0.56, Threshold: 0.71}, {X: 0.10, Y: 0.67, Threshold: 0.60}, {X: 0.16, Y: 0.76, Threshold: 0.48},
			{X: 0.25, Y: 0.84, Threshold: 0.37}, {X: 0.38, Y: 0.91, Threshold: 0.26}, {X: 0.55, Y: 0.95, Threshold: 0.17},
			{X: 0.75, Y: 0.98, Threshold: 0.09}, {X: 1, Y: 1, Threshold: 0},
		},
		PR: []metrics.CurvePoint{
			{X: 0, Y: 1, Threshold: 1}, {X: 0.21, Y: 0.91, Threshold: 0.92}, {X: 0.38, Y: 0.84, Threshold: 0.84},
			{X: 0.56, Y: 0.70, Threshold: 0.71}, {X: 0.67, Y: 0.61, Threshold: 0.60}, {X: 0.76, Y: 0.53, Threshold: 0.48},
			{X: 0.84, Y: 0.45, Threshold: 0.37}, {X: 0.91, Y: 0.36, Threshold: 0.26}, {X: 1, Y: 0.20, Threshold: 0},
		},
		Calibration: []metrics.CalibrationBin{
			{Lower: 0, Upper: 0.1, Count: 910, MeanPredicted: 0.04, FractionTrue: 0.03},
			{Lower: 0.1, Upper: 0.2, Count: 380, MeanPredicted: 0.15, FractionTrue: 0.13},
			{Lower: 0.2, Upper: 0.3, Count: 210, MeanPredicted: 0.25, FractionTrue: 0.27},
			{Lower: 0.3, Upper: 0.4, Count: 140, MeanPredicted: 0.35, FractionTrue: 0.33},
			{Lower: 0.4, Upper: 0.5, Count: 100, MeanPredicted: 0.45, FractionTrue: 0.49},
			{Lower: 0.5, Upper: 0.6, Count: 80, MeanPredicted: 0.55, FractionTrue: 0.52},
			{Lower: 0.6, Upper: 0.7, Count: 70, MeanPredicted: 0.65, FractionTrue: 0.69},
			{Lower: 0.7, Upper: 0.8, Count: 60, MeanPredicted: 0.75, FractionTrue: 0.78},
			{Lower: 0.8, Upper: 0.9, Count: 0},
			{Lower: 0.9, Upper: 1, Count: 50, MeanPredicted: 0.94, FractionTrue: 0.90},
		},
		Timing:       Timing{TotalMS: 1843.2, PredictMS: 1210.5, MetricsMS: 312.8, P99RowMicros: 412},
		PackageBytes: 3_512_020,
	}
}

// renderSampleMulticlass is a passing three-class model with no baseline.
func renderSampleMulticlass() *Report {
	return &Report{
		Model:       "iris",
		Version:     2,
		ModelURI:    "models:/iris/2",
		Data:        DataRef{URI: "data:/iris-test/1", Digest: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Rows: 150},
		Task:        "multiclass",
		ClassLabels: []string{"setosa", "versicolor", "virginica"},
		Verdict:     VerdictPass,
		CreatedAt:   1793617200000,
		Policy:      "iris-gates.yaml",
		Metrics:     map[string]float64{"accuracy": 0.9533, "f1_macro": 0.9531, "log_loss": 0.1275},
		Gates: []GateResult{
			{Name: "accuracy >= 0.90", Kind: "threshold", Metric: "accuracy", Value: 0.9533, Threshold: 0.90, Passed: true, Message: "accuracy 0.9533 >= 0.90"},
			{Name: "f1_macro >= 0.90", Kind: "threshold", Metric: "f1_macro", Value: 0.9531, Threshold: 0.90, Passed: true, Message: "f1_macro 0.9531 >= 0.90"},
			{Name: "accuracy vs baseline", Kind: "baseline", Metric: "accuracy", Value: 0.9533, Passed: true, Skipped: true,
				Message: "no baseline to compare with"},
		},
		Checks: []CheckResult{
			{Name: "schema", Passed: true, Message: "4 columns match the signature"},
			{Name: "loads", Passed: true, Message: "the model loads"},
		},
		Confusion: &metrics.Confusion{
			Labels: []string{"setosa", "versicolor", "virginica"},
			Counts: [][]int{{50, 0, 0}, {0, 47, 3}, {0, 4, 46}},
		},
		Timing: Timing{TotalMS: 41.7, PredictMS: 12.3, MetricsMS: 2.1},
	}
}

// renderSampleRegression is a regression model compared with the champion,
// with slices ranked by an error metric (larger is worse).
func renderSampleRegression() *Report {
	return &Report{
		Model:           "prices",
		Version:         7,
		ModelURI:        "models:/prices/7",
		Baseline:        &Ref{Model: "prices", Version: 6, URI: "models:/prices@champion"},
		Data:            DataRef{URI: "data:/prices-holdout/12", Digest: "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9", Rows: 5120},
		Task:            "regression",
		Verdict:         VerdictPass,
		CreatedAt:       1793620800000,
		CreatedBy:       "ci",
		Policy:          "prices.yaml",
		Metrics:         map[string]float64{"rmse": 12450.5, "mae": 8120.25, "r2": 0.8712, "max_error": 98000},
		BaselineMetrics: map[string]float64{"rmse": 13100.75, "mae": 8120.25, "r2": 0.8590, "max_error": 91000},
		Slices: []SliceMetrics{
			{Column: "region", Value: "north", Rows: 2100, Metrics: map[string]float64{"rmse": 11000, "r2": 0.88}},
			{Column: "region", Value: "south", Rows: 1900, Metrics: map[string]float64{"rmse": 14900, "r2": 0.84}},
			{Column: "region", Value: "coast", Rows: 1120, Metrics: map[string]float64{"rmse": 11800, "r2": 0.87}},
		},
		Gates: []GateResult{
			{Name: "rmse vs baseline", Kind: "baseline", Metric: "rmse", Value: 12450.5, Baseline: renderFloat(13100.75), Threshold: 0.02, Passed: true,
				Message: "rmse is 4.96% lower than the baseline; up to 2% higher is allowed"},
			{Name: "r2 >= 0.80", Kind: "threshold", Metric: "r2", Value: 0.8712, Threshold: 0.80, Passed: true, Message: "r2 0.8712 >= 0.80"},
		},
		Checks: []CheckResult{
			{Name: "schema", Passed: true, Message: "9 columns match the signature"},
			{Name: "range", Column: "sqft", Passed: true, Message: "all values within the training range"},
			{Name: "unseen_categories", Passed: true, Skipped: true, Message: "no categorical columns"},
		},
		Timing: Timing{TotalMS: 512, PredictMS: 300.25, MetricsMS: 20.5, P99RowMicros: 35},
	}
}

// renderSampleError is a validation that could not be completed.
func renderSampleError() *Report {
	return &Report{
		Model:     "fraud",
		Version:   1,
		ModelURI:  "models:/fraud/1",
		Data:      DataRef{URI: "data:/fraud-holdout/2"},
		Task:      "binary",
		Verdict:   VerdictError,
		Error:     `evaluate: load model models:/fraud/1: sha256 mismatch for "model.json" <expected 4e07…>`,
		CreatedAt: 1793624400000,
		Metrics:   map[string]float64{},
		Gates:     []GateResult{},
		Checks: []CheckResult{
			{Name: "digests", Passed: false, Message: "model.json: sha256 mismatch"},
		},
	}
}

var renderSamples = []struct {
	name   string
	report func() *Report
}{
	{"binary", renderSampleBinary},
	{"multiclass", renderSampleMulticlass},
	{"regression", renderSampleRegression},
	{"error", renderSampleError},
}

var renderFormats = []struct {
	ext   string
	write func(*bytes.Buffer, *Report) error
}{
	{"json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
	{"md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
	{"html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }},
}

// renderGolden compares got with testdata/render/name, rewriting it under
// -update-render.
func renderGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", "render", name)
	if *updateRender {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/validation -run Render -update-render to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update-render if intended)\ngot:\n%s", golden, got)
	}
}

func TestRenderGolden(t *testing.T) {
	for _, s := range renderSamples {
		for _, f := range renderFormats {
			t.Run(s.name+"."+f.ext, func(t *testing.T) {
				var first, second bytes.Buffer
				if err := f.write(&first, s.report()); err != nil {
					t.Fatal(err)
				}
				// Maps are iterated in random order; the output must not be.
				if err := f.write(&second, s.report()); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first.Bytes(), second.Bytes()) {
					t.Fatal("two renderings of the same report differ")
				}
				renderGolden(t, s.name+"."+f.ext, first.Bytes())
			})
		}
	}
}

// The JSON golden files double as sample records: they must read back into
// the very reports they were written from.
func TestRenderJSONRoundTrip(t *testing.T) {
	for _, s := range renderSamples {
		t.Run(s.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "render", s.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var got Report
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if want := s.report(); !reflect.DeepEqual(&got, want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, *want)
			}
		})
	}
}

func TestRenderNilReport(t *testing.T) {
	for _, f := range renderFormats {
		t.Run(f.ext, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.write(&b, nil); err == nil {
				t.Fatal("no error for a nil report")
			}
			if b.Len() != 0 {
				t.Errorf("wrote %q for a nil report", b.String())
			}
		})
	}
}

type renderFailingWriter struct{ err error }

func (w renderFailingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestRenderWriterError(t *testing.T) {
	boom := errors.New("disk full")
	writers := map[string]func() error{
		"json": func() error { return WriteJSON(renderFailingWriter{boom}, renderSampleBinary()) },
		"md":   func() error { return WriteMarkdown(renderFailingWriter{boom}, renderSampleBinary()) },
		"html": func() error { return WriteHTML(renderFailingWriter{boom}, renderSampleBinary()) },
	}
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			if err := write(); !errors.Is(err, boom) {
				t.Errorf("err = %v, want it to wrap %v", err, boom)
			}
		})
	}
}

// JSON has no NaN: WriteJSON fails and writes nothing, while the reports for
// people show the value as NaN.
func TestRenderNaN(t *testing.T) {
	r := renderSampleMulticlass()
	r.Metrics["roc_auc_ovr"] = math.NaN()

	var j bytes.Buffer
	if err := WriteJSON(&j, r); err == nil {
		t.Error("WriteJSON accepted a NaN metric")
	}
	if j.Len() != 0 {
		t.Errorf("WriteJSON wrote %d bytes before failing", j.Len())
	}
	var md, html bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| `roc_auc_ovr` | NaN |\n") {
		t.Errorf("Markdown lacks the NaN row:\n%s", md.String())
	}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<code>roc_auc_ovr</code></td><td class=\"num\">NaN</td>") {
		t.Error("HTML lacks the NaN row")
	}
}

func TestRenderNumbers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"zero", renderNum(0), "0"},
		{"fraction", renderNum(0.89341), "0.8934"},
		{"negative", renderNum(-0.01), "-0.0100"},
		{"one", renderNum(1), "1.0000"},
		{"hundreds", renderNum(12450.5), "12450.50"},
		{"tiny", renderNum(0.000123456), "0.0001235"},
		{"huge", renderNum(12345678), "1.235e+07"},
		{"nan", renderNum(math.NaN()), "NaN"},
		{"inf", renderNum(math.Inf(-1)), "-Inf"},
		{"signed up", renderSigned(0.0222), "+0.0222"},
		{"signed down", renderSigned(-0.039), "-0.0390"},
		{"signed zero", renderSigned(0), "0"},
		{"signed inf", renderSigned(math.Inf(1)), "+Inf"},
		{"relative up", renderRelative(0.0222, 0.8712), "+2.55%"},
		{"relative down on a negative base", renderRelative(-1, -4), "-25.00%"},
		{"relative nothing", renderRelative(0, 0.5), "0.00%"},
		{"relative zero base", renderRelative(0.1, 0), "n/a"},
		{"relative nan", renderRelative(math.NaN(), 1), "n/a"},
		{"bytes", renderBytes(512), "512 bytes"},
		{"mebibytes", renderBytes(3_512_020), "3.3 MiB (3512020 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestRenderMarkdownContent(t *testing.T) {
	var b bytes.Buffer
	r := renderSampleBinary()
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()

	t.Run("header", func(t *testing.T) {
		first, _, _ := strings.Cut(md, "\n")
		if want := "## FAIL: `churn` v4 vs baseline `churn` v3"; first != want {
			t.Errorf("first line %q, want %q", first, want)
		}
	})
	t.Run("every metric with its change", func(t *testing.T) {
		for name, v := range r.Metrics {
			b, ok := r.BaselineMetrics[name]
			want := fmt.Sprintf("| `%s` | %s | n/a | n/a | n/a |", name, renderNum(v))
			if ok {
				want = fmt.Sprintf("| `%s` | %s | %s | %s | %s |", name, renderNum(v), renderNum(b), renderSigned(v-b), renderRelative(v-b, b))
			}
			if !strings.Contains(md, want+"\n") {
				t.Errorf("no row %q", want)
			}
		}
		if !strings.Contains(md, "| `log_loss` | 0.3120 | 0.3398 | -0.0278 | -8.18% |") {
			t.Error("the log_loss row does not show a signed decrease")
		}
	})
	t.Run("failed gate", func(t *testing.T) {
		if !strings.Contains(md, "| `slice origin=JFK roc_auc >= 0.75` | 0.7420 | n/a | 0.7500 | **FAIL** |") {
			t.Error("the failed slice gate is not in the gates table")
		}
	})
	t.Run("failed checks only", func(t *testing.T) {
		if !strings.Contains(md, "1 of 4 checks failed:") || !strings.Contains(md, "- **FAIL** `missing_rate` (column `age`)") {
			t.Error("the failed check is not listed")
		}
		if strings.Contains(md, "`digests`") {
			t.Error("a passed check is listed")
		}
	})
	t.Run("slices worst first", func(t *testing.T) {
		order := []string{"`origin=JFK`", "`plan=basic\\|legacy`", "`origin=SFO`", "`origin=LAX`"}
		last := -1
		for _, s := range order {
			i := strings.Index(md, "| "+s+" |")
			if i < 0 || i < last {
				t.Fatalf("slice %s missing or out of order (want %v)", s, order)
			}
			last = i
		}
	})
	t.Run("tables keep their columns", func(t *testing.T) {
		unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
		var cols int
		for _, line := range strings.Split(md, "\n") {
			if !strings.HasPrefix(line, "|") {
				cols = 0
				continue
			}
			n := len(unescapedPipe.FindAllString(line, -1))
			if cols == 0 {
				cols = n
			} else if n != cols {
				t.Errorf("row has %d cells, header %d: %s", n-1, cols-1, line)
			}
		}
	})
	t.Run("escaped", func(t *testing.T) {
		// Outside code spans, where it is literal, every < is escaped.
		text := regexp.MustCompile("`[^`]*`").ReplaceAllString(md, "")
		if regexp.MustCompile(`(^|[^\\])<`).MatchString(text) {
			t.Error("an unescaped < from the report reached the Markdown")
		}
		if !strings.Contains(md, `12.0% missing > 5.0% \| column \<age> \& \*tenure\*`) {
			t.Error("the check message is not escaped")
		}
	})
	t.Run("timing", func(t *testing.T) {
		if !strings.Contains(md, "Timing: total 1.84 s, predict 1.21 s, metrics 312.8 ms, single-row p99 412 µs.\n") {
			t.Error("no timing line")
		}
	})
}

func TestRenderMarkdownManySlices(t *testing.T) {
	r := renderSampleMulticlass()
	for i := range 25 {
		r.Slices = append(r.Slices, SliceMetrics{Column: "batch", Value: fmt.Sprintf("b%02d", i), Rows: 6,
			Metrics: map[string]float64{"accuracy": 0.9 + float64(i)/1000}})
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if got := strings.Count(md, "| `batch="); got != renderMDMaxSlices {
		t.Errorf("%d slice rows, want %d", got, renderMDMaxSlices)
	}
	if !strings.Contains(md, "5 more slices are in the HTML report.") {
		t.Error("no note of the slices left out")
	}
	if !strings.Contains(md, "| `batch=b00` |") || strings.Contains(md, "| `batch=b24` |") {
		t.Error("the worst slices are not the ones kept")
	}
}

func TestRenderHTMLContent(t *testing.T) {
	render := func(t *testing.T, r *Report) string {
		t.Helper()
		var b bytes.Buffer
		if err := WriteHTML(&b, r); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	binary := render(t, renderSampleBinary())
	multiclass := render(t, renderSampleMulticlass())
	regression := render(t, renderSampleRegression())
	failed := render(t, renderSampleError())
	pages := map[string]string{"binary": binary, "multiclass": multiclass, "regression": regression, "error": failed}

	t.Run("self-contained", func(t *testing.T) {
		for name, page := range pages {
			for _, bad := range []string{"<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import", "http://", "https://"} {
				if strings.Contains(page, bad) {
					t.Errorf("%s page contains %q", name, bad)
				}
			}
		}
	})
	t.Run("charts of a binary report", func(t *testing.T) {
		for _, id := range []string{"confusion-matrix", "roc-curve", "pr-curve", "calibration-curve"} {
			if !strings.Contains(binary, `<svg id="`+id+`"`) {
				t.Errorf("no svg %s", id)
			}
		}
		if got := strings.Count(binary, "<rect "); got != 4 {
			t.Errorf("%d rects, want 2×2", got)
		}
		for _, c := range []int{1496, 96, 175, 233} {
			if !strings.Contains(binary, fmt.Sprintf(`data-count="%d"`, c)) {
				t.Errorf("no cell with count %d", c)
			}
		}
		if !strings.Contains(binary, `data-points="11"`) || !strings.Contains(binary, `data-points="9"`) {
			t.Error("the ROC and PR polylines do not have one point per report point")
		}
		if got := strings.Count(binary, `<circle class="marker"`); got != 9 {
			t.Errorf("%d calibration markers, want 9 (one bin is empty)", got)
		}
	})
	t.Run("multiclass has a 3×3 matrix and no curves", func(t *testing.T) {
		if got := strings.Count(multiclass, "<rect "); got != 9 {
			t.Errorf("%d rects, want 9", got)
		}
		if strings.Contains(multiclass, "roc-curve") || strings.Contains(multiclass, "<polyline") {
			t.Error("a curve is drawn without curve data")
		}
	})
	t.Run("skipped gates and checks are neither passed nor failed", func(t *testing.T) {
		if !strings.Contains(multiclass, `<td class="res none">skipped</td><td>no baseline to compare with</td>`) ||
			!strings.Contains(multiclass, "All 3 gates passed (1 skipped)") {
			t.Error("the skipped gate is not shown as skipped")
		}
		if !strings.Contains(regression, `<td class="res none">skipped</td><td>no categorical columns</td>`) {
			t.Error("the skipped check is not shown as skipped")
		}
	})
	t.Run("regression shows residuals instead of charts", func(t *testing.T) {
		if strings.Contains(regression, "<svg") {
			t.Error("a regression report has a chart")
		}
		for _, want := range []string{`<section id="residuals">`, "<code>rmse</code></td><td>root mean squared error</td>", "<code>max_error</code>"} {
			if !strings.Contains(regression, want) {
				t.Errorf("no %q", want)
			}
		}
	})
	t.Run("error", func(t *testing.T) {
		if !strings.Contains(failed, `<span id="verdict" class="verdict error">ERROR</span>`) {
			t.Error("no ERROR marker")
		}
		want := `<pre>evaluate: load model models:/fraud/1: sha256 mismatch for &#34;model.json&#34; &lt;expected 4e07…&gt;</pre>`
		if !strings.Contains(failed, want) {
			t.Error("the error is not shown escaped")
		}
	})
	t.Run("escaped", func(t *testing.T) {
		if strings.Contains(binary, "<age>") {
			t.Error("raw HTML from a message reached the page")
		}
		if !strings.Contains(binary, "column &lt;age&gt; &amp; *tenure*") {
			t.Error("the check message is not escaped")
		}
	})
	t.Run("hostile labels stay text", func(t *testing.T) {
		r := renderSampleMulticlass()
		r.Confusion.Labels[1] = `"><script>alert(1)</script>`
		page := render(t, r)
		if strings.Contains(page, "<script>") {
			t.Error("a class label injected markup")
		}
	})
}

func TestRenderHeatmapRagged(t *testing.T) {
	// A malformed matrix still gives K×K cells, the missing ones empty.
	h := renderBuildHeatmap(&metrics.Confusion{Labels: []string{"a", "b", "c"}, Counts: [][]int{{1, 2}, {3}}})
	if len(h.Cells) != 9 {
		t.Fatalf("%d cells, want 9", len(h.Cells))
	}
	got := make([]int, len(h.Cells))
	for i, c := range h.Cells {
		got[i] = c.Count
	}
	if want := []int{1, 2, 0, 3, 0, 0, 0, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}
