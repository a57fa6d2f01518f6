package validation

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	nativemodel "github.com/ferry-ml/ferry/internal/model/native"
	rtnative "github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/testenv"
	"github.com/ferry-ml/ferry/internal/train/gbdt"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

// flightsPath is the 3-million-row flights file of the shared data folder
// (see testenv.SharedData); FERRY_FLIGHTS overrides it.
func flightsPath(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("FERRY_FLIGHTS"); p != "" {
		return p
	}
	return testenv.SharedData(b, "flights-3m.parquet")
}

// trainPipeline trains a GBDT on f as `ferry train` would for the flights
// task: delay > 15 from month, weekday, hour, distance, origin, destination.
func trainPipeline(b *testing.B, f *dataset.Frame, rounds int) *nativemodel.Pipeline {
	b.Helper()
	specs, err := nativemodel.ParseFeatures(f, []string{"date:month", "date:weekday", "date:hour", "distance", "origin", "destination"}, "delay")
	if err != nil {
		b.Fatal(err)
	}
	feats, err := nativemodel.BuildFeatures(f, specs)
	if err != nil {
		b.Fatal(err)
	}
	target, _ := f.Col("delay")
	y, classes, err := nativemodel.Labels(target, model.TaskBinary, "> 15")
	if err != nil {
		b.Fatal(err)
	}
	p := gbdt.DefaultParams(nativemodel.ObjectiveBinary)
	p.NumRounds = rounds
	m, err := gbdt.Train(context.Background(), &gbdt.Data{Features: feats, Label: y}, nil, p, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &nativemodel.Pipeline{FormatVersion: nativemodel.PipelineFormatVersion, Task: model.TaskBinary, Target: "delay",
		ClassLabels: classes, Features: specs, Trainer: "gbdt", GBDT: m}
}

// runtimePredictor scores with pipe as validation scores Ferry's models:
// through runtime/native.
func runtimePredictor(b *testing.B, pipe *nativemodel.Pipeline) Predictor {
	b.Helper()
	m, err := rtnative.New(pipe)
	if err != nil {
		b.Fatal(err)
	}
	return RuntimePredictor(m)
}

// topValues returns a copy of the categorical column c keeping only its k
// most frequent values (others missing), named name.
func topValues(c *dataset.Column, k int, name string) *dataset.Column {
	counts := make([]int, len(c.Levels))
	for _, code := range c.Codes {
		if code >= 0 {
			counts[code]++
		}
	}
	order := make([]int, len(c.Levels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return counts[b] - counts[a] })
	keep := map[int32]bool{}
	for _, l := range order[:min(k, len(order))] {
		keep[int32(l)] = true
	}
	out := &dataset.Column{Name: name, Kind: dataset.KindCategorical, Levels: c.Levels, Codes: make([]int32, len(c.Codes))}
	for i, code := range c.Codes {
		out.Codes[i] = -1
		if keep[code] {
			out.Codes[i] = code
		}
	}
	return out
}

// BenchmarkValidateFlights1M validates a GBDT trained on the first million
// rows of the flights file (1 January to 2 March 2001) on the next million
// (2 March to 2 May) with 5 slices: the five busiest origins. It reports
// the time of a whole Validate and its split between prediction and
// metrics; "with baseline" evaluates a second model on the same rows too.
//
//	go test ./internal/validation -run '^$' -bench ValidateFlights1M -benchtime 5x
func BenchmarkValidateFlights1M(b *testing.B) {
	path := flightsPath(b)
	ctx := context.Background()
	all, err := dataset.Read(ctx, path, dataset.ReadOptions{MaxRows: 2_000_000})
	if err != nil {
		b.Fatal(err)
	}
	rows := func(lo, hi int) []int {
		out := make([]int, hi-lo)
		for i := range out {
			out[i] = lo + i
		}
		return out
	}
	trainRows := all.Take(rows(0, 1_000_000))
	eval := all.Take(rows(1_000_000, 2_000_000))
	origin, _ := eval.Col("origin")
	eval.Columns = append(eval.Columns, topValues(origin, 5, "busiest_origin"))
	cand := runtimePredictor(b, trainPipeline(b, trainRows, 100))
	champ := runtimePredictor(b, trainPipeline(b, trainRows, 20))
	policy := mustPolicy(b, `
thresholds: {roc_auc: ">= 0.6"}
baseline: {roc_auc: {min_absolute_change: 0.0}}
slices: {columns: [busiest_origin], thresholds: {roc_auc: ">= 0.55"}, min_rows: 1000}
`)
	for _, bc := range []struct {
		name     string
		baseline *Model
	}{
		{"candidate only", nil},
		{"with baseline", &Model{Ref: Ref{URI: "models:/delays@champion"}, Predict: champ}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total, predict, metricsMS float64
			var r *Report
			for b.Loop() {
				r, err = Validate(ctx, Input{
					Candidate: Model{Ref: Ref{URI: "models:/delays/2"}, Predict: cand}, Baseline: bc.baseline,
					Data: eval, Target: "delay", PositiveWhen: "> 15", Task: model.TaskBinary, Policy: policy,
				})
				if err != nil {
					b.Fatal(err)
				}
				total += r.Timing.TotalMS
				predict += r.Timing.PredictMS
				metricsMS += r.Timing.MetricsMS
			}
			if len(r.Slices) != 5 {
				b.Fatalf("%d slices", len(r.Slices))
			}
			n := float64(b.N)
			b.ReportMetric(total/n, "total-ms")
			b.ReportMetric(predict/n, "predict-ms")
			b.ReportMetric(metricsMS/n, "metrics-ms")
			b.ReportMetric(100*predict/total, "predict-%")
			b.ReportMetric(100*metricsMS/total, "metrics-%")
			b.ReportMetric((total-predict-metricsMS)/n, "other-ms")
			b.Logf("rows %d, verdict %s, roc_auc %.4f (baseline %.4f), slices %d", r.Data.Rows, r.Verdict, r.Metrics[metrics.ROCAUC], r.BaselineMetrics[metrics.ROCAUC], len(r.Slices))
			for _, g := range failed(r) {
				b.Logf("failed gate: %s", g.Message)
			}
		})
	}
}
