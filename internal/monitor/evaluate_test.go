package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
	"github.com/ferry-ml/ferry/internal/monitor/collect"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// t0 is the start of the evaluated range of the tests.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// deployed opens a backend with endpoint lin whose deployment blue serves
// RegisterLinear's model (y = 2x + 1; training profile of x and y).
func deployed(t *testing.T) *testbackend.Backend {
	t.Helper()
	b := testbackend.Open(t, "normal")
	b.RegisterLinear(t, "lin", 2)
	ctx := context.Background()
	if _, err := b.Deploy.PutEndpoint(ctx, deploy.Endpoint{Name: "lin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Deploy.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "lin", Model: "models:/lin/1"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// quality is a frame of n rows: a and b standard normal (a shifted by
// shiftA), c uniform on [0, 10) with a share missingC of missing values, d
// one of three categories.
func qualityFrame(t *testing.T, n int, seed uint64, shiftA, missingC float64) *dataset.Frame {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	a, bb, c := make([]float64, n), make([]float64, n), make([]float64, n)
	d := make([]string, n)
	for i := range n {
		a[i], bb[i], c[i] = r.NormFloat64()+shiftA, r.NormFloat64(), 10*r.Float64()
		if float64(i) < missingC*float64(n) {
			c[i] = math.NaN()
		}
		d[i] = []string{"red", "green", "blue"}[r.IntN(3)]
	}
	f, err := dataset.NewFrame(dataset.NewNumeric("a", a), dataset.NewNumeric("b", bb), dataset.NewNumeric("c", c), dataset.NewCategorical("d", d))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// registerBaseline registers f as data asset base (CSV) and returns its
// stored profile.
func registerBaseline(t *testing.T, b *testbackend.Backend, f *dataset.Frame) dataset.Profile {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("a,b,c,d\n")
	cols := make([]*dataset.Column, 4)
	for i, n := range []string{"a", "b", "c", "d"} {
		cols[i], _ = f.Col(n)
	}
	for r := range f.Len() {
		fmt.Fprintf(&sb, "%v,%v,%v,%s\n", cols[0].Num[r], cols[1].Num[r], cols[2].Num[r], cols[3].String(r))
	}
	path := filepath.Join(t.TempDir(), "base.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _, err := b.Data.Create(context.Background(), "base", path, dataset.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p dataset.Profile
	if err := json.Unmarshal(a.Profile, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// putWindows stores f's profile on base's edges as two hourly windows from
// t0, half the rows each, written by two replicas.
func putWindows(t *testing.T, b *testbackend.Backend, f *dataset.Frame, base dataset.Profile) {
	t.Helper()
	half := f.Len() / 2
	for i, rows := range [][2]int{{0, half}, {half, f.Len()}} {
		idx := make([]int, 0, rows[1]-rows[0])
		for r := rows[0]; r < rows[1]; r++ {
			idx = append(idx, r)
		}
		p, err := dataset.ProfileWithEdges(f.Take(idx), base.Edges())
		if err != nil {
			t.Fatal(err)
		}
		svc := monitor.NewService(b.Store, monitor.Options{Source: fmt.Sprintf("replica-%d", i)})
		if err := svc.PutProfile(context.Background(), "lin", "blue", t0.Add(time.Duration(i)*time.Hour), p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEvaluateDriftAndQuality: against a data baseline, a feature shifted
// by one standard deviation drifts and an unshifted one does not; a column
// with 30% missing values breaches data_quality's missing_rate while the
// others do not; each verdict reaches the alert manager (firing for the
// breaches, ok otherwise).
func TestEvaluateDriftAndQuality(t *testing.T) {
	b := deployed(t)
	ctx := context.Background()
	base := registerBaseline(t, b, qualityFrame(t, 2000, 1, 0, 0))
	putWindows(t, b, qualityFrame(t, 2000, 2, 1, 0.3), base)
	m := monitor.Monitor{Name: "drift-mon", Endpoint: "lin", Deployment: "blue", Baseline: "data:/base/1", Window: "2h",
		Signals: monitor.Signals{DataDrift: &monitor.DriftSignal{}, DataQuality: &monitor.QualitySignal{}}}
	rep, err := b.Evaluator.Evaluate(ctx, m, "blue", t0, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2000 || rep.ModelVersion != "models:/lin/1" {
		t.Errorf("rows %d, model %s; want 2000 rows of models:/lin/1", rep.Rows, rep.ModelVersion)
	}
	for _, tc := range []struct {
		signal, feature, metric string
		breached                bool
	}{
		{monitor.SignalDataDrift, "a", "wasserstein_norm", true},
		{monitor.SignalDataDrift, "b", "wasserstein_norm", false},
		{monitor.SignalDataDrift, "d", "jensen_shannon", false},
		{monitor.SignalDataQuality, "c", "missing_rate", true},
		{monitor.SignalDataQuality, "a", "missing_rate", false},
		{monitor.SignalDataQuality, "a", "out_of_range_rate", false},
		{monitor.SignalDataQuality, "d", "unseen_category_rate", false},
	} {
		t.Run(tc.signal+"/"+tc.feature+"/"+tc.metric, func(t *testing.T) {
			r, ok := rep.Result(tc.signal, tc.feature, tc.metric)
			if !ok || !r.Verdict {
				t.Fatalf("no verdict: %+v (ok %v)", r, ok)
			}
			if r.Breached != tc.breached {
				t.Errorf("breached %v, want %v: %+v", r.Breached, tc.breached, r)
			}
		})
	}
	if r, _ := rep.Result(monitor.SignalDataQuality, "c", "missing_rate"); math.Abs(r.Score-0.3) > 1e-9 {
		t.Errorf("missing_rate of c is %v more than the baseline's; want 0.3", r.Score)
	}
	alerts, err := b.Alerts.Alerts(ctx, "drift-mon")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]alert.State{}
	for _, a := range alerts {
		states[a.Signal+"/"+a.Feature] = a.State
		if a.Signal == monitor.SignalDataQuality && a.Feature == "c" && a.Metric != "missing_rate" {
			t.Errorf("the data_quality alert of c reports %s, want its breached missing_rate", a.Metric)
		}
	}
	want := map[string]alert.State{
		"data_drift/a": alert.StateFiring, "data_drift/b": alert.StateOK, "data_drift/c": alert.StateOK, "data_drift/d": alert.StateOK,
		"data_quality/a": alert.StateOK, "data_quality/b": alert.StateOK, "data_quality/c": alert.StateFiring, "data_quality/d": alert.StateOK,
	}
	for k, s := range want {
		if states[k] != s {
			t.Errorf("alert %s is %q, want %q (all: %v)", k, states[k], s, states)
		}
	}
}

// TestEvaluateModelPerformance: predictions logged by the collector as
// Parquet segments are joined with labels by request id; with enough
// labels model_performance computes the metric (RMSE, checked by hand) and
// alerts it; below min_labels there is no verdict and nothing is alerted.
// Against the model's training profile, prediction_drift compares the
// output with the target.
func TestEvaluateModelPerformance(t *testing.T) {
	b := deployed(t)
	ctx := context.Background()
	c := collect.New(b.Artifacts, collect.Options{Profiles: b.Monitor})
	tap := c.Tap("lin", "blue", 1, true, true)
	const n = 40
	var labels []monitor.Label
	var sq float64
	for i := range n {
		x := float64(i % 20)
		id := fmt.Sprintf("req-%02d", i)
		tap.Collect(ctx, serving.Prediction{
			RequestID: id, Time: t0.Add(time.Duration(i) * time.Minute), Model: "lin", Version: "1", Rows: 1,
			Inputs:  []runtime.Tensor{{Name: "x", Datatype: "FP64", Shape: []int64{1}, FP64: []float64{x}}},
			Outputs: []runtime.Tensor{{Name: "prediction", Datatype: "FP64", Shape: []int64{1}, FP64: []float64{2*x + 1}}},
		})
		if i%2 == 0 { // every other request gets its label, off by ±0.5 or ±1
			off := []float64{0.5, -1, 1, -0.5}[i/2%4]
			sq += off * off
			labels = append(labels, monitor.Label{RequestID: id, Value: fmt.Sprint(2*x + 1 + off)})
		}
	}
	// A request outside the range, labelled, is left out.
	tap.Collect(ctx, serving.Prediction{RequestID: "late", Time: t0.Add(3 * time.Hour), Version: "1", Rows: 1,
		Inputs:  []runtime.Tensor{{Name: "x", Datatype: "FP64", Shape: []int64{1}, FP64: []float64{1}}},
		Outputs: []runtime.Tensor{{Name: "prediction", Datatype: "FP64", Shape: []int64{1}, FP64: []float64{100}}}})
	labels = append(labels, monitor.Label{RequestID: "late", Value: "0"})
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Monitor.PutLabels(ctx, "lin", labels); err != nil {
		t.Fatal(err)
	}
	wantRMSE := math.Sqrt(sq / float64(n/2))
	for _, tc := range []struct {
		name      string
		minLabels int
		verdict   bool
	}{
		{"enough labels", 20, true},
		{"below min_labels", 21, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "perf-" + strings.NewReplacer(" ", "-", "_", "-").Replace(tc.name)
			m := monitor.Monitor{Name: name, Endpoint: "lin", Deployment: "blue", Window: "1h", Signals: monitor.Signals{
				ModelPerformance: &monitor.PerformanceSignal{MetricThresholds: map[string]float64{"rmse": 0.5}, MinLabels: tc.minLabels},
				PredictionDrift:  &monitor.DriftSignal{},
			}}
			rep, err := b.Evaluator.Evaluate(ctx, m, "blue", t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			r, ok := rep.Result(monitor.SignalModelPerformance, "prediction", "rmse")
			if !ok || r.Verdict != tc.verdict || r.Count != n/2 {
				t.Fatalf("rmse result %+v (found %v); want verdict %v on %d labels", r, ok, tc.verdict, n/2)
			}
			if tc.verdict && (math.Abs(r.Score-wantRMSE) > 1e-12 || !r.Breached) {
				t.Errorf("rmse %v breached %v; want %v, breached (> 0.5)", r.Score, r.Breached, wantRMSE)
			}
			if pd, ok := rep.Result(monitor.SignalPredictionDrift, "prediction", ""); !ok || !pd.Verdict || pd.Breached {
				t.Errorf("prediction_drift of prediction vs the target y: %+v (found %v); want a verdict, no drift", pd, ok)
			}
			alerts, err := b.Alerts.Alerts(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			var perf []alert.Alert
			for _, a := range alerts {
				if a.Signal == monitor.SignalModelPerformance {
					perf = append(perf, a)
				}
			}
			if tc.verdict && (len(perf) != 1 || perf[0].Feature != "rmse" || perf[0].State != alert.StateFiring) {
				t.Errorf("model_performance alerts %+v; want rmse firing", perf)
			}
			if !tc.verdict && len(perf) != 0 {
				t.Errorf("model_performance alerts %+v without a verdict", perf)
			}
		})
	}
}
