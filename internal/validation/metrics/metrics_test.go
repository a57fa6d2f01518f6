package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// parityTol is the tolerance of the scikit-learn parity tests: absolute
// below 1, relative above.
const parityTol = 1e-9

func close9(got, want float64) bool {
	return math.Abs(got-want) <= parityTol*max(1, math.Abs(want))
}

// sklearnCase is a case written by testdata/gen_sklearn.py.
type sklearnCase struct {
	Name        string             `json:"name"`
	Task        string             `json:"task"`
	Classes     []string           `json:"classes"`
	Y           []float64          `json:"y"`
	Pred        []float64          `json:"pred"`
	Metrics     map[string]float64 `json:"metrics"`
	Confusion   [][]int            `json:"confusion"`
	ROC         [][3]float64       `json:"roc"`
	PR          [][3]float64       `json:"pr"`
	Calibration []CalibrationBin   `json:"calibration"`
}

func loadSklearnCases(t *testing.T) []sklearnCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "sklearn", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no parity cases in testdata/sklearn (run testdata/gen_sklearn.py): %v", err)
	}
	var out []sklearnCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c sklearnCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, c)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestSklearnParity compares Evaluate with scikit-learn 1.2.1 on the cases
// of testdata/sklearn: every metric to 1e-9, the confusion matrix exactly,
// the ROC and PR curves point by point and the reliability table bin by bin.
func TestSklearnParity(t *testing.T) {
	for _, c := range loadSklearnCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			got, details, err := Evaluate(c.Task, c.Classes, c.Y, c.Pred)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := sortedKeys(got), sortedKeys(c.Metrics); !slices.Equal(g, w) {
				t.Errorf("metric names\n got %v\nwant %v", g, w)
			}
			worst, worstName := 0.0, ""
			for _, name := range sortedKeys(c.Metrics) {
				g, ok := got[name]
				if !ok {
					continue
				}
				if !close9(g, c.Metrics[name]) {
					t.Errorf("%s = %.17g, sklearn %.17g (diff %.3g)", name, g, c.Metrics[name], g-c.Metrics[name])
				}
				if d := math.Abs(g-c.Metrics[name]) / max(1, math.Abs(c.Metrics[name])); d >= worst {
					worst, worstName = d, name
				}
			}
			t.Logf("%d metrics; largest difference %.3g (%s)", len(c.Metrics), worst, worstName)
			if c.Task == "regression" {
				if details != nil {
					t.Errorf("regression details = %+v, want nil", details)
				}
				return
			}
			if details == nil || details.Confusion == nil || !equalCounts(details.Confusion.Counts, c.Confusion) {
				t.Errorf("confusion = %+v, sklearn %v", details.Confusion, c.Confusion)
			}
			if c.Task != "binary" {
				return
			}
			truth := make([]int32, len(c.Y))
			for i, v := range c.Y {
				truth[i] = int32(v)
			}
			cv := binaryCurve(truth, c.Pred)
			comparePoints(t, "roc", cv.roc(), c.ROC)
			comparePoints(t, "pr", cv.pr(), c.PR)
			if want := thin(cv.roc(), MaxCurvePoints); !slices.Equal(details.ROC, want) {
				t.Errorf("details.ROC is not the thinned curve")
			}
			if len(details.Calibration) != CalibrationBins {
				t.Fatalf("%d calibration bins", len(details.Calibration))
			}
			for b, w := range c.Calibration {
				g := details.Calibration[b]
				if g.Count != w.Count || !close9(g.Lower, w.Lower) || !close9(g.Upper, w.Upper) ||
					!close9(g.MeanPredicted, w.MeanPredicted) || !close9(g.FractionTrue, w.FractionTrue) {
					t.Errorf("calibration bin %d = %+v, sklearn %+v", b, g, w)
				}
			}
		})
	}
}

func equalCounts(a, b [][]int) bool {
	return slices.EqualFunc(a, b, func(x, y []int) bool { return slices.Equal(x, y) })
}

func comparePoints(t *testing.T, name string, got []CurvePoint, want [][3]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d points, sklearn %d", name, len(got), len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if !close9(g.X, w[0]) || !close9(g.Y, w[1]) || !close9(g.Threshold, w[2]) {
			t.Errorf("%s point %d = (%v, %v, %v), sklearn %v", name, i, g.X, g.Y, g.Threshold, w)
		}
	}
}

func TestEvaluateUndefinedMetrics(t *testing.T) {
	tests := []struct {
		name    string
		task    string
		classes []string
		y, pred []float64
		absent  []string // metrics left out
		present []string
	}{
		{
			name: "binary, negatives only", task: "binary", classes: []string{"no", "yes"},
			y: []float64{0, 0, 0}, pred: []float64{0.1, 0.7, 0.2},
			absent:  []string{ROCAUC, PRAUC},
			present: []string{Accuracy, LogLoss, Brier, ECE, "precision_yes", "recall_no"},
		},
		{
			name: "binary, positives only", task: "binary", classes: []string{"no", "yes"},
			y: []float64{1, 1}, pred: []float64{0.9, 0.4},
			absent:  []string{ROCAUC},
			present: []string{PRAUC, LogLoss},
		},
		{
			name: "multiclass, one class present", task: "multiclass", classes: []string{"a", "b", "c"},
			y: []float64{2, 2}, pred: []float64{0.2, 0.3, 0.5, 0.6, 0.2, 0.2},
			absent:  []string{ROCAUC, ROCAUCWeighted, "precision_b"},
			present: []string{Accuracy, LogLoss, "precision_a", "recall_c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := Evaluate(tt.task, tt.classes, tt.y, tt.pred)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.absent {
				if v, ok := m[k]; ok {
					t.Errorf("%s = %v, want it left out", k, v)
				}
			}
			for _, k := range tt.present {
				if _, ok := m[k]; !ok {
					t.Errorf("%s missing from %v", k, sortedKeys(m))
				}
			}
			for k, v := range m {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %v", k, v)
				}
			}
			if _, err := json.Marshal(m); err != nil {
				t.Errorf("metrics do not encode: %v", err)
			}
		})
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		task    string
		classes []string
		y, pred []float64
		msg     string
	}{
		{"no rows", "binary", []string{"a", "b"}, nil, nil, "no rows"},
		{"unknown task", "ranking", nil, []float64{1}, []float64{1}, "not binary, multiclass or regression"},
		{"binary with 3 classes", "binary", []string{"a", "b", "c"}, []float64{1}, []float64{0.5}, "2 class labels"},
		{"length mismatch", "multiclass", []string{"a", "b", "c"}, []float64{1, 2}, []float64{0.2, 0.3, 0.5}, "3 predictions for 2 rows"},
		{"class out of range", "binary", []string{"a", "b"}, []float64{0, 2}, []float64{0.5, 0.5}, "row 2: 2 is not a class index"},
		{"not a probability", "binary", []string{"a", "b"}, []float64{0, 1}, []float64{0.5, 1.5}, "row 2: the prediction 1.5 is not a probability"},
		{"NaN prediction", "regression", nil, []float64{0, 1}, []float64{math.NaN(), 1}, "row 1: the prediction NaN"},
		{"infinite truth", "regression", nil, []float64{math.Inf(1)}, []float64{1}, "row 1: the true value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Evaluate(tt.task, tt.classes, tt.y, tt.pred)
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), tt.msg) {
				t.Fatalf("err = %v, want EINVALID containing %q", err, tt.msg)
			}
		})
	}
}

func TestThin(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want int
	}{
		{"short curve kept", 150, 150},
		{"exactly the limit", MaxCurvePoints, MaxCurvePoints},
		{"long curve thinned", 5001, MaxCurvePoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts := make([]CurvePoint, tt.n)
			for i := range pts {
				pts[i] = CurvePoint{X: float64(i)}
			}
			got := thin(pts, MaxCurvePoints)
			if len(got) != tt.want || got[0].X != 0 || got[len(got)-1].X != float64(tt.n-1) {
				t.Fatalf("thin: %d points from %v to %v", len(got), got[0].X, got[len(got)-1].X)
			}
			for i := 1; i < len(got); i++ {
				if got[i].X <= got[i-1].X {
					t.Fatalf("point %d does not advance", i)
				}
			}
		})
	}
}

// BenchmarkEvaluateBinary1M measures Evaluate alone on a million rows.
func BenchmarkEvaluateBinary1M(b *testing.B) {
	const n = 1_000_000
	y := make([]float64, n)
	p := make([]float64, n)
	for i := range y {
		y[i] = float64(i % 3 % 2)
		p[i] = float64((i*7919)%1000) / 1000
	}
	for b.Loop() {
		if _, _, err := Evaluate("binary", []string{"f", "t"}, y, p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		n    int
		gen  func() float64
	}{
		{"short, insertion path", 100, rng.NormFloat64},
		{"long, radix path", 50_000, rng.NormFloat64},
		{"long with heavy ties and zeros", 50_000, func() float64 { return math.Round(rng.NormFloat64()*3) / 4 }},
		{"long, probabilities", 20_000, rng.Float64},
		{"long, all equal", 10_000, func() float64 { return 0.25 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs := make([]float64, tt.n)
			keys := make([]uint64, tt.n)
			for i := range xs {
				xs[i] = tt.gen()
				keys[i] = floatKey(xs[i])
			}
			sortKeys(keys)
			slices.Sort(xs)
			for i := range xs {
				if got := keyFloat(keys[i]); got != xs[i] {
					t.Fatalf("position %d: %v, want %v", i, got, xs[i])
				}
			}
		})
	}
	if floatKey(math.Copysign(0, -1)) != floatKey(0) {
		t.Error("-0 and 0 must tie")
	}
}

// TestAUCAgainstRanks checks the curve-based ROC AUC of long inputs (the
// radix-sort path) against the Mann-Whitney statistic with average ranks.
func TestAUCAgainstRanks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, decimals := range []float64{1, 2, 0} {
		t.Run(fmt.Sprintf("rounded to %v decimals", decimals), func(t *testing.T) {
			const n = 40_000
			y := make([]int32, n)
			s := make([]float64, n)
			for i := range s {
				y[i] = int32(rng.IntN(2))
				s[i] = rng.Float64()*0.7 + 0.3*float64(y[i])
				if decimals > 0 {
					p := math.Pow(10, decimals)
					s[i] = math.Round(s[i]*p) / p
				}
			}
			got := binaryCurve(y, s).auc()
			if want := rankAUC(y, s); math.Abs(got-want) > 1e-12 {
				t.Fatalf("auc %v, ranks give %v", got, want)
			}
		})
	}
}

func rankAUC(y []int32, s []float64) float64 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s[idx[a]] < s[idx[b]] })
	var rankSum, pos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && s[idx[j]] == s[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += avg
				pos++
			}
		}
		i = j
	}
	neg := float64(len(y)) - pos
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// TestThresholdHalfIsNegative pins the binary decision rule at P = 0.5:
// scikit-learn's predict for a logistic model takes the argmax of (1-P, P),
// ties to the first class, so P == 0.5 is predicted negative. Training's
// reported metrics use this same rule.
func TestThresholdHalfIsNegative(t *testing.T) {
	for _, tt := range []struct {
		name     string
		y, p     []float64
		accuracy float64
		counts   [][]int
	}{
		{"positive at one half", []float64{1, 1}, []float64{0.5, 0.75}, 0.5, [][]int{{0, 0}, {1, 1}}},
		{"negative at one half", []float64{0, 0}, []float64{0.5, 0.25}, 1, [][]int{{2, 0}, {0, 0}}},
		{"just above one half", []float64{0, 1}, []float64{0.5, math.Nextafter(0.5, 1)}, 1, [][]int{{1, 0}, {0, 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, d, err := Evaluate("binary", []string{"f", "t"}, tt.y, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if m[Accuracy] != tt.accuracy {
				t.Errorf("accuracy %v, want %v", m[Accuracy], tt.accuracy)
			}
			for i := range tt.counts {
				if !slices.Equal(d.Confusion.Counts[i], tt.counts[i]) {
					t.Errorf("confusion %v, want %v", d.Confusion.Counts, tt.counts)
					break
				}
			}
		})
	}
}

// TestNamesForMatchesEvaluate: NamesFor lists exactly the fixed metrics
// Evaluate computes for each task on rows where all of them are defined.
func TestNamesForMatchesEvaluate(t *testing.T) {
	for _, tt := range []struct {
		task    string
		classes []string
		y, p    []float64
	}{
		{model.TaskBinary, []string{"no", "yes"}, []float64{0, 1, 1, 0}, []float64{0.2, 0.7, 0.4, 0.6}},
		{model.TaskMulticlass, []string{"a", "b", "c"}, []float64{0, 1, 2, 1}, []float64{
			0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.1, 0.2, 0.7, 0.5, 0.4, 0.1}},
		{model.TaskRegression, nil, []float64{1, 2, 3}, []float64{1.5, 2, 2}},
	} {
		t.Run(tt.task, func(t *testing.T) {
			m, _, err := Evaluate(tt.task, tt.classes, tt.y, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for name := range m {
				if _, perClass := PerClass(name); !perClass {
					got = append(got, name)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(NamesFor(tt.task)))
			if !slices.Equal(got, want) {
				t.Fatalf("Evaluate computes %v; NamesFor says %v", got, want)
			}
		})
	}
	if got := NamesFor("ranking"); got != nil {
		t.Fatalf("NamesFor(ranking) = %v, want nil", got)
	}
}
