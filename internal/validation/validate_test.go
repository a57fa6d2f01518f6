package validation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func mustPolicy(t testing.TB, yaml string) *Policy {
	t.Helper()
	p, err := ParsePolicy(strings.NewReader(yaml), "gates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fixedNow() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }

// golden compares v, as indented JSON, with testdata/golden/name (rewritten
// with -update).
func golden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

// judgement is the part of a report a golden file pins: the verdict, the
// gates and checks with their messages (values to 6 digits), and the slices;
// full-precision values are left to the parity tests, as their last bits may
// differ between platforms.
func judgement(r *Report) any {
	type gate struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Metric  string `json:"metric,omitempty"`
		Slice   string `json:"slice,omitempty"`
		Passed  bool   `json:"passed"`
		Skipped bool   `json:"skipped,omitempty"`
		Message string `json:"message"`
	}
	type slice struct {
		Slice string `json:"slice"`
		Rows  int    `json:"rows"`
	}
	out := struct {
		Verdict string        `json:"verdict"`
		Gates   []gate        `json:"gates"`
		Checks  []CheckResult `json:"checks"`
		Slices  []slice       `json:"slices"`
	}{Verdict: r.Verdict, Checks: r.Checks}
	for _, g := range r.Gates {
		out.Gates = append(out.Gates, gate{g.Name, g.Kind, g.Metric, g.Slice, g.Passed, g.Skipped, g.Message})
	}
	for _, s := range r.Slices {
		out.Slices = append(out.Slices, slice{s.Column + "=" + s.Value, s.Rows})
	}
	return out
}

// failed returns the gates that did not pass.
func failed(r *Report) []GateResult {
	var out []GateResult
	for _, g := range r.Gates {
		if !g.Passed {
			out = append(out, g)
		}
	}
	return out
}

const slicePolicy = `
thresholds: {roc_auc: ">= 0.70", log_loss: "<= 0.9"}
baseline:
  roc_auc: {min_relative_change: 0.01}
slices:
  columns: [origin]
  thresholds: {roc_auc: ">= 0.6"}
  min_rows: 50
`

// TestSliceRegressionFails: a challenger better than the champion overall
// but worse on one origin fails that slice's gate, and the report names the
// slice and the metric.
func TestSliceRegressionFails(t *testing.T) {
	data := synthetic(t, 300)
	r, err := Validate(context.Background(), Input{
		Candidate: Model{Ref: Ref{Model: "delays", Version: 2, URI: "models:/delays/2"}, Predict: scorer(map[string]float64{"A": 0.5, "B": 0.5, "C": 0, "D": 0.5})},
		Baseline:  &Model{Ref: Ref{Model: "delays", Version: 1, URI: "models:/delays@champion"}, Predict: scorer(map[string]float64{"A": 0.2, "B": 0.2, "C": 0.2, "D": 0.2})},
		Data:      data, DataRef: DataRef{URI: "data:/holdout/1"}, Target: "label", Task: model.TaskBinary, Classes: []string{"0", "1"},
		Policy: mustPolicy(t, slicePolicy), Now: fixedNow, User: "ci",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != VerdictFail {
		t.Fatalf("verdict %s, want fail", r.Verdict)
	}
	if r.Metrics[metrics.ROCAUC] <= r.BaselineMetrics[metrics.ROCAUC] {
		t.Fatalf("fixture: the candidate should be better overall: %v vs %v", r.Metrics[metrics.ROCAUC], r.BaselineMetrics[metrics.ROCAUC])
	}
	bad := failed(r)
	if len(bad) != 1 {
		t.Fatalf("failed gates %+v, want only the slice origin=C", bad)
	}
	g := bad[0]
	if g.Kind != "slice" || g.Slice != "origin=C" || g.Metric != metrics.ROCAUC || !strings.Contains(g.Message, "origin=C") || !strings.Contains(g.Message, "roc_auc") {
		t.Fatalf("failed gate %+v", g)
	}
	golden(t, "slice_regression.json", judgement(r))
}

func TestChampionComparison(t *testing.T) {
	strong := scorer(map[string]float64{"A": 0.3, "B": 0.3, "C": 0.3, "D": 0.3})
	weak := scorer(map[string]float64{"A": 0.1, "B": 0.1, "C": 0.1, "D": 0.1})
	tests := []struct {
		name        string
		policy      string
		cand        Predictor
		base        Predictor // nil: no baseline
		verdict     string
		msgContains string
	}{
		{
			name: "worse challenger fails min_relative_change", cand: weak, base: strong, verdict: VerdictFail,
			policy:      "baseline: {roc_auc: {min_relative_change: 0.01, greater_is_better: true}}",
			msgContains: "min_relative_change 0.01 (relative change -",
		},
		{
			name: "better challenger passes", cand: strong, base: weak, verdict: VerdictPass,
			policy:      "baseline: {roc_auc: {threshold: 0.5, min_absolute_change: 0.0, min_relative_change: 0.01, greater_is_better: true}}",
			msgContains: "met",
		},
		{
			name: "an equal challenger does not improve by 1%", cand: strong, base: strong, verdict: VerdictFail,
			policy:      "baseline: {roc_auc: {min_relative_change: 0.01}}",
			msgContains: "relative change +0%",
		},
		{
			name: "lower is better: a higher log loss fails", cand: weak, base: strong, verdict: VerdictFail,
			policy:      "baseline: {log_loss: {min_absolute_change: 0.0}}",
			msgContains: "lower is better",
		},
		{
			name: "lower is better: a lower log loss passes", cand: strong, base: weak, verdict: VerdictPass,
			policy:      "baseline: {log_loss: {min_absolute_change: 0.01}}",
			msgContains: "met",
		},
		{
			name: "no champion: comparison skipped, threshold still judged", cand: weak, verdict: VerdictFail,
			policy:      "baseline: {roc_auc: {threshold: 0.9, min_relative_change: 0.01}}",
			msgContains: "no baseline to compare with",
		},
		{
			name: "no champion and no threshold: skipped", cand: weak, verdict: VerdictPass,
			policy:      "baseline: {roc_auc: {min_relative_change: 0.01}}",
			msgContains: "skipped",
		},
	}
	data := synthetic(t, 200)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{
				Candidate: Model{Ref: Ref{URI: "models:/m/2"}, Predict: tt.cand},
				Data:      data, Target: "label", Task: model.TaskBinary, Policy: mustPolicy(t, tt.policy),
			}
			if tt.base != nil {
				in.Baseline = &Model{Ref: Ref{URI: "models:/m@champion"}, Predict: tt.base}
			}
			r, err := Validate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tt.verdict || len(r.Gates) != 1 {
				t.Fatalf("verdict %s, gates %+v; want %s", r.Verdict, r.Gates, tt.verdict)
			}
			g := r.Gates[0]
			if g.Kind != "baseline" || !strings.Contains(g.Message, tt.msgContains) || !strings.Contains(g.Message, g.Metric) {
				t.Fatalf("gate %+v, want a message containing %q", g, tt.msgContains)
			}
			if tt.base != nil && (g.Baseline == nil || *g.Baseline != r.BaselineMetrics[g.Metric]) {
				t.Fatalf("gate baseline %v, baseline metrics %v", g.Baseline, r.BaselineMetrics)
			}
		})
	}
}

// TestRealModel validates a GBDT trained by Ferry's trainer against a
// second one: every package and data check runs on real packages.
func TestRealModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models")
	}
	ctx := context.Background()
	cand := trainFlights(t, 20, 1)
	champ := trainFlights(t, 3, 2)
	policy := mustPolicy(t, `
thresholds: {roc_auc: ">= 0.6", log_loss: "<= 0.7"}
baseline:
  roc_auc: {min_absolute_change: 0.0}
slices: {columns: [origin], thresholds: {roc_auc: ">= 0.5"}, min_rows: 500}
data: {max_missing_rate_increase: 0.1, max_out_of_range_rate: 0.05, fail_on_unseen_categories: false}
package: {check_digests: true, require_signature: true, check_input_example: true}
budgets: {p99_single_row_ms: 50, max_size_mb: 500}
`)
	in := Input{
		Candidate: Model{Ref: Ref{Model: "delays", Version: 2, URI: "models:/delays/2"}, Pkg: cand.pkg, Predict: cand.predict},
		Baseline:  &Model{Ref: Ref{Model: "delays", Version: 1, URI: "models:/delays@champion"}, Pkg: champ.pkg, Predict: champ.predict},
		Data:      cand.eval, Target: "delay", PositiveWhen: "> 15", Policy: policy, SliceColumns: []string{"destination"},
	}
	r, err := Validate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Checks {
		t.Logf("check %s %s passed=%v skipped=%v: %s", c.Name, c.Column, c.Passed, c.Skipped, c.Message)
	}
	for _, g := range r.Gates {
		if !g.Passed || g.Kind != "slice" {
			t.Logf("gate %s passed=%v: %s", g.Name, g.Passed, g.Message)
		}
	}
	if r.Verdict != VerdictPass {
		t.Fatalf("verdict %s", r.Verdict)
	}
	if r.Task != model.TaskBinary || r.Data.Rows != cand.eval.Len() || !strings.HasPrefix(r.Data.Digest, "sha256:") || r.PackageBytes == 0 {
		t.Fatalf("report header %+v", r)
	}
	for _, name := range []string{CheckDigests, CheckSignature, CheckLoads, CheckInputExample, CheckPredictions, CheckSchema, CheckMissingRate, CheckRange} {
		found := false
		for _, c := range r.Checks {
			found = found || (c.Name == name && c.Passed && !c.Skipped)
		}
		if !found {
			t.Errorf("no passed %s check", name)
		}
	}
	if r.Timing.P99RowMicros <= 0 || r.Timing.PredictMS <= 0 || r.Timing.MetricsMS <= 0 || r.Timing.TotalMS < r.Timing.PredictMS+r.Timing.MetricsMS {
		t.Errorf("timing %+v", r.Timing)
	}
	if len(r.ROC) == 0 || len(r.ROC) > metrics.MaxCurvePoints || len(r.PR) == 0 || len(r.PR) > metrics.MaxCurvePoints || len(r.Calibration) != metrics.CalibrationBins || r.Confusion == nil {
		t.Errorf("curves: roc %d, pr %d, calibration %d", len(r.ROC), len(r.PR), len(r.Calibration))
	}
	var origins, dests int
	for _, s := range r.Slices {
		switch s.Column {
		case "origin":
			origins++
		case "destination":
			dests++
		}
		if s.BaselineMetrics == nil {
			t.Fatalf("slice %s=%s has no baseline metrics", s.Column, s.Value)
		}
	}
	if origins < 10 || dests < 10 {
		t.Errorf("%d origin and %d destination slices", origins, dests)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("the report does not encode: %v", err)
	}

	t.Run("corrupt baseline package is an error", func(t *testing.T) {
		dir := copyDir(t, champ.dir)
		pkg, err := model.Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"format_version": 1}`), 0o644); err != nil {
			t.Fatal(err)
		}
		in := in
		in.Baseline = &Model{Ref: Ref{URI: "models:/delays@champion"}, Pkg: pkg, Predict: champ.predict}
		r, err := Validate(ctx, in)
		if err == nil || ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), "model.json") {
			t.Fatalf("err = %v, want EINVALID naming model.json", err)
		}
		if r == nil || r.Verdict != VerdictError || !strings.Contains(r.Error, "the baseline model models:/delays@champion fails verification") || !strings.Contains(r.Error, "model.json") {
			t.Fatalf("report %+v", r)
		}
		var ie *model.IntegrityError
		if !errors.As(err, &ie) || ie.File != "model.json" || ie.Problem != model.Tampered {
			t.Fatalf("err %v does not carry the integrity error", err)
		}
	})

	t.Run("baseline that cannot predict is an error", func(t *testing.T) {
		in := in
		in.Baseline = &Model{Ref: Ref{URI: "models:/delays@champion"}, Predict: func(context.Context, *dataset.Frame) ([]float64, error) {
			return nil, ferry.Errorf(ferry.EUNAVAILABLE, "the model server is down")
		}}
		r, err := Validate(ctx, in)
		if ferry.ErrorCode(err) != ferry.EUNAVAILABLE || r == nil || r.Verdict != VerdictError {
			t.Fatalf("err = %v, report %+v", err, r)
		}
	})

	t.Run("tampered candidate fails its digests check", func(t *testing.T) {
		dir := copyDir(t, cand.dir)
		pkg, err := model.Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "input_example.json"), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
		in := in
		in.Candidate.Pkg = pkg
		r, err := Validate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != VerdictFail {
			t.Fatalf("verdict %s", r.Verdict)
		}
		c := findCheck(r.Checks, CheckDigests)
		if c == nil || c.Passed || !strings.Contains(c.Message, "input_example.json") {
			t.Fatalf("digests check %+v", c)
		}
	})

	t.Run("renamed column fails the schema check, naming it", func(t *testing.T) {
		data := renamed(t, cand.eval, "origin", "origin_airport")
		in := in
		in.Data = data
		in.Policy = mustPolicy(t, "thresholds: {roc_auc: '>= 0.6'}")
		r, err := Validate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		c := findCheck(r.Checks, CheckSchema)
		if r.Verdict != VerdictFail || c == nil || c.Passed || c.Column != "origin" || !strings.Contains(c.Message, "'origin_airport'") {
			t.Fatalf("verdict %s, schema check %+v", r.Verdict, c)
		}
		if len(r.Metrics) != 0 {
			t.Fatalf("a candidate that cannot read the data was evaluated: %v", r.Metrics)
		}
	})
}

func findCheck(cs []CheckResult, name string) *CheckResult {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// renamed returns f with column from called to.
func renamed(t *testing.T, f *dataset.Frame, from, to string) *dataset.Frame {
	t.Helper()
	cols := make([]*dataset.Column, len(f.Columns))
	for i, c := range f.Columns {
		cc := *c
		if cc.Name == from {
			cc.Name = to
		}
		cols[i] = &cc
	}
	out, err := dataset.NewFrame(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestValidateInputErrors(t *testing.T) {
	data := synthetic(t, 10)
	ok := scorer(map[string]float64{})
	tests := []struct {
		name string
		in   Input
		msg  string
	}{
		{"no data", Input{Candidate: Model{Predict: ok}, Target: "label", Task: "binary"}, "no evaluation data"},
		{"no predictor", Input{Data: data, Target: "label", Task: "binary"}, "has no predictor"},
		{"unknown target", Input{Candidate: Model{Predict: ok}, Data: data, Target: "delay", Task: "binary"}, "no column named 'delay'"},
		{"no task", Input{Candidate: Model{Predict: ok}, Data: data, Target: "label"}, "does not say its task"},
		{"label not a class", Input{Candidate: Model{Predict: ok}, Data: data, Target: "origin", Task: "binary", Classes: []string{"A", "B"}}, `"C" is not a class of the model`},
		{"unknown slice column", Input{Candidate: Model{Predict: ok}, Data: data, Target: "label", Task: "binary", SliceColumns: []string{"carrier"}}, "no column named 'carrier'"},
		{"bad positive_when", Input{Candidate: Model{Predict: ok}, Data: data, Target: "x", Task: "binary", PositiveWhen: "above 3"}, "want a comparison"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Validate(context.Background(), tt.in)
			if r != nil || ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), tt.msg) {
				t.Fatalf("report %v, err %v; want EINVALID containing %q", r, err, tt.msg)
			}
		})
	}
}

func TestCandidatePredictions(t *testing.T) {
	data := synthetic(t, 10)
	tests := []struct {
		name    string
		predict Predictor
		verdict string
		code    string // error code, "" for none
	}{
		{"NaN probabilities fail", func(_ context.Context, f *dataset.Frame) ([]float64, error) {
			out := make([]float64, f.Len())
			out[3] = 2
			return out, nil
		}, VerdictFail, ""},
		{"a model that refuses the data fails", func(context.Context, *dataset.Frame) ([]float64, error) {
			return nil, ferry.Errorf(ferry.EINVALID, "column 'x' must be categorical")
		}, VerdictFail, ""},
		{"an unavailable model is an error", func(context.Context, *dataset.Frame) ([]float64, error) {
			return nil, ferry.Errorf(ferry.EUNAVAILABLE, "down")
		}, VerdictError, ferry.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Validate(context.Background(), Input{Candidate: Model{Predict: tt.predict}, Data: data, Target: "label", Task: model.TaskBinary})
			if ferry.ErrorCode(err) != tt.code || r == nil || r.Verdict != tt.verdict {
				t.Fatalf("err %v, report %+v", err, r)
			}
			if tt.verdict == VerdictFail {
				if c := findCheck(r.Checks, CheckPredictions); c == nil || c.Passed {
					t.Fatalf("predictions check %+v", c)
				}
			}
		})
	}
}
