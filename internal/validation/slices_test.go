package validation

import (
	"slices"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

func TestEvaluateSlices(t *testing.T) {
	y := []float64{0, 1, 0, 1, 1, 0, 1, 0}
	p := []float64{0.2, 0.8, 0.6, 0.4, 0.9, 0.1, 0.7, 0.3}
	got, err := EvaluateSlices("binary", []string{"f", "t"}, y, p, map[string][]string{
		"origin": {"JFK", "JFK", "JFK", "JFK", "LAX", "LAX", "", ""},
		"hub":    {"y", "y", "n", "n", "y", "y", "n", "n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Column+"="+s.Value)
	}
	if want := []string{"hub=n", "hub=y", "origin=JFK", "origin=LAX"}; !slices.Equal(names, want) {
		t.Fatalf("slices %v, want %v", names, want)
	}
	for _, s := range got {
		want, _, err := metrics.Evaluate("binary", []string{"f", "t"}, pick(y, s, "origin", "hub"), pick(p, s, "origin", "hub"))
		if err != nil {
			t.Fatal(err)
		}
		if !equalMetrics(s.Metrics, want) {
			t.Errorf("%s=%s: %v, want %v", s.Column, s.Value, s.Metrics, want)
		}
	}
	if got[2].Rows != 4 || got[3].Rows != 2 {
		t.Errorf("rows %d and %d", got[2].Rows, got[3].Rows)
	}
	if _, err := EvaluateSlices("binary", []string{"f", "t"}, y, p, map[string][]string{"x": {"a"}}); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("short slice column: %v", err)
	}
}

// pick returns the values of the rows of slice s in the fixture of
// TestEvaluateSlices.
func pick(xs []float64, s SliceMetrics, _ ...string) []float64 {
	rows := map[string][]int{
		"origin=JFK": {0, 1, 2, 3}, "origin=LAX": {4, 5},
		"hub=y": {0, 1, 4, 5}, "hub=n": {2, 3, 6, 7},
	}[s.Column+"="+s.Value]
	out := make([]float64, len(rows))
	for j, i := range rows {
		out[j] = xs[i]
	}
	return out
}

func equalMetrics(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
