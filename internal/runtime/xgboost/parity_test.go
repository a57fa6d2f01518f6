package xgboost

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a <case>.expected.json written by testdata/gen.py: the rows
// XGBoost 1.7.4 scored and what it predicted.
type fixture struct {
	Model        string     `json:"model"`
	Rows         int        `json:"rows"`
	Features     int        `json:"features"`
	FeatureNames []string   `json:"feature_names"`
	X            []*float64 `json:"x"` // null for missing
	Margin       []float64  `json:"margin"`
	Predict      []float64  `json:"predict"`
	Version      string     `json:"xgboost_version"`
}

func loadFixture(t testing.TB, name string) (*fixture, []float32) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.X) != f.Rows*f.Features {
		t.Fatalf("%s: %d values for %d×%d", name, len(f.X), f.Rows, f.Features)
	}
	x := make([]float32, len(f.X))
	for i, v := range f.X {
		if v == nil {
			x[i] = float32(math.NaN())
		} else {
			x[i] = float32(*v)
		}
	}
	return &f, x
}

// parityCases are the fixtures of testdata/gen.py (JSON and UBJSON) and
// testdata/gen_binary.py (legacy binary, bin_*).
var parityCases = []string{
	"binary_logistic", "binary_logistic_ubj", "binary_logitraw", "binary_dart",
	"multi_softprob", "multi_softmax", "reg_squarederror", "reg_logistic",
	"count_poisson", "categorical", "categorical_onehot", "categorical_numpy",
	"bin_binary_logistic", "bin_binary_logistic_base", "bin_binary_dart",
	"bin_multi_softprob", "bin_multi_softmax_base", "bin_reg_squarederror",
	"bin_reg_squarederror_base", "bin_count_poisson", "bin_count_poisson_base",
	"bin_v0_binary_logistic", "bin_v0_count_poisson",
}

// wantVersion is the version a model saved by XGBoost version v reports: the
// legacy binary format keeps only major.minor, and nothing before 1.0.
func wantVersion(model, v string) string {
	switch {
	case strings.HasPrefix(model, "bin_v0_"):
		return ""
	case strings.HasSuffix(model, ".xgb"):
		return v[:strings.LastIndexByte(v, '.')]
	}
	return v
}

// TestParity checks Ferry's predictions against XGBoost's own on the
// fixtures: the float32 margins must be identical, the predictions within
// 1e-6 (XGBoost transforms in float32, Ferry in float64).
func TestParity(t *testing.T) {
	for _, name := range parityCases {
		t.Run(name, func(t *testing.T) {
			f, x := loadFixture(t, name)
			b, err := LoadFile(filepath.Join("testdata", f.Model))
			if err != nil {
				t.Fatal(err)
			}
			if b.NumFeature() != f.Features {
				t.Fatalf("NumFeature = %d, want %d", b.NumFeature(), f.Features)
			}
			if want := wantVersion(f.Model, f.Version); b.Version() != want {
				t.Errorf("Version = %q, want %q", b.Version(), want)
			}
			ng, no := b.NumGroups(), b.NumOutputs()
			if len(f.Margin) != f.Rows*ng || len(f.Predict) != f.Rows*no {
				t.Fatalf("fixture has %d margins and %d predictions for %d rows; model has %d groups and %d outputs", len(f.Margin), len(f.Predict), f.Rows, ng, no)
			}
			margin := make([]float32, ng)
			var marginDiffs int
			var maxMargin, maxPred float64
			for r := range f.Rows {
				b.PredictMarginRow(x[r*f.Features:(r+1)*f.Features], margin)
				for g, m := range margin {
					want := f.Margin[r*ng+g]
					if d := math.Abs(float64(m) - want); d > 0 {
						marginDiffs++
						maxMargin = max(maxMargin, d)
						if marginDiffs <= 5 {
							t.Errorf("row %d group %d: margin %v, XGBoost %v", r, g, m, want)
						}
					}
				}
			}
			out := make([]float64, f.Rows*no)
			if err := b.Predict(context.Background(), x, f.Rows, out); err != nil {
				t.Fatal(err)
			}
			row := make([]float64, no)
			for r := range f.Rows {
				b.PredictRow(x[r*f.Features:(r+1)*f.Features], row)
				for j := range no {
					got, want := out[r*no+j], f.Predict[r*no+j]
					if got != row[j] {
						t.Fatalf("row %d: Predict %v but PredictRow %v", r, got, row[j])
					}
					d := math.Abs(got - want)
					maxPred = max(maxPred, d)
					if d > 1e-6 {
						t.Errorf("row %d output %d: predict %v, XGBoost %v (diff %g)", r, j, got, want, d)
					}
				}
			}
			t.Logf("%s: %d rows, %d trees, margins identical in %d of %d (max diff %g), predictions max abs diff %.3g",
				name, f.Rows, b.NumTrees(), f.Rows*ng-marginDiffs, f.Rows*ng, maxMargin, maxPred)
		})
	}
}
