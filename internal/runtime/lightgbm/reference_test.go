package lightgbm_test

// The cases in testdata/reference were trained and predicted by LightGBM
// v4.5.0 itself (its command-line program, built from LightGBM's source):
// testdata/reference/record.sh wrote the inputs and config files, trained the
// models (task=train) and recorded LightGBM's predictions on predict.csv
// (task=predict), transformed and raw (predict_raw_score=true). Nothing here
// comes from Ferry.

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/lightgbm"
)

// referenceTolerance is the largest difference allowed between Ferry's
// outputs and LightGBM's.
const referenceTolerance = 1e-6

// diff is |a-b|: 0 when both are NaN (LightGBM's linear trees give NaN for
// inf·c - inf·c, as Ferry's do) or equal infinities, +Inf when only one is.
func diff(a, b float64) float64 {
	if math.IsNaN(a) && math.IsNaN(b) || a == b {
		return 0
	}
	if d := math.Abs(a - b); !math.IsNaN(d) {
		return d
	}
	return math.Inf(1)
}

// readTable reads a file of rows of numbers separated by sep ("nan" and
// "-nan", which LightGBM writes for a NaN prediction, are NaN),
// skipping the header line when header is set.
func readTable(t *testing.T, path, sep string, header bool) (names []string, rows [][]float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), sep)
		if header && line == 1 {
			names = fields
			continue
		}
		row := make([]float64, len(fields))
		for i, s := range fields {
			if s == "-nan" {
				s = "nan"
			}
			if row[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names, rows
}

// TestLightGBMReference checks, for every case record.sh trained, that Ferry
// predicts what LightGBM predicted on every row of predict.csv — the
// transformed outputs through the served Model (one input column per
// feature, as a client sends them) and the raw scores through the Booster —
// to within referenceTolerance.
func TestLightGBMReference(t *testing.T) {
	dir := filepath.Join("testdata", "reference")
	header, data := readTable(t, filepath.Join(dir, "predict.csv"), ",", true)
	names := header[1:] // column 0 is the label, as in training
	n := len(data)
	cols := make([][]float64, len(names))
	for _, row := range data {
		for f := range names {
			cols[f] = append(cols[f], row[f+1])
		}
	}
	inputs := make([]runtime.Tensor, len(names))
	for f, name := range names {
		inputs[f] = column(name, cols[f]...)
	}

	tests := []struct {
		name    string
		outputs int
		output  string
	}{
		{"binary", 1, lightgbm.OutputProbability},
		{"binary_zero", 1, lightgbm.OutputProbability},
		{"multiclass", 3, lightgbm.OutputProbabilities},
		{"multiclassova", 3, lightgbm.OutputProbabilities},
		{"regression", 1, lightgbm.OutputPrediction},
		{"regression_sqrt", 1, lightgbm.OutputPrediction},
		{"regression_l1_nomissing", 1, lightgbm.OutputPrediction},
		{"poisson", 1, lightgbm.OutputPrediction},
		{"rf", 1, lightgbm.OutputProbability},
		{"linear", 1, lightgbm.OutputPrediction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := lightgbm.LoadFile(filepath.Join(dir, tt.name+".model.txt"))
			if err != nil {
				t.Fatal(err)
			}
			_, pred := readTable(t, filepath.Join(dir, tt.name+".pred"), "\t", false)
			_, raw := readTable(t, filepath.Join(dir, tt.name+".raw"), "\t", false)
			if len(pred) != n || len(raw) != n || len(pred[0]) != tt.outputs || len(raw[0]) != tt.outputs {
				t.Fatalf("LightGBM recorded %d×%d predictions and %d×%d raw scores for %d rows of %d outputs", len(pred), len(pred[0]), len(raw), len(raw[0]), n, tt.outputs)
			}
			b := m.Booster()
			if b.NumOutputs() != tt.outputs || b.NumFeatures() != len(names) {
				t.Fatalf("booster has %d outputs and %d features", b.NumOutputs(), b.NumFeatures())
			}

			out, err := m.Predict(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			if out[0].Name != tt.output {
				t.Fatalf("output %q, want %q", out[0].Name, tt.output)
			}
			got := out[0].FP64
			rawOut := make([]float64, tt.outputs)
			worst := 0.0
			for i := range n {
				b.PredictRaw(data[i][1:], rawOut)
				for k := range tt.outputs {
					dp := diff(got[i*tt.outputs+k], pred[i][k])
					dr := diff(rawOut[k], raw[i][k])
					if !(dp <= referenceTolerance) || !(dr <= referenceTolerance) {
						t.Errorf("row %d (%v), output %d: Ferry predicts %v (raw %v); LightGBM %v (raw %v)",
							i+2, data[i][1:], k, got[i*tt.outputs+k], rawOut[k], pred[i][k], raw[i][k])
					}
					worst = max(worst, dp, dr)
				}
			}
			t.Logf("%d rows; largest difference from LightGBM %.3g", n, worst)
		})
	}
}
