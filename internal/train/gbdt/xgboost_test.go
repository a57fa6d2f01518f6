package gbdt

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/model/native"
)

// xgbPython is the interpreter with Debian's python3-xgboost (1.7.4).
const xgbPython = "/usr/bin/python3"

// xgbPredictScript loads an exported model with xgboost.Booster and prints
// its predictions and margins for the rows it reads on stdin (null =
// missing).
const xgbPredictScript = `
import json, sys
import numpy as np
import xgboost as xgb
req = json.load(sys.stdin)
X = np.array([[np.nan if v is None else v for v in row] for row in req["rows"]], dtype=np.float64)
d = xgb.DMatrix(X, feature_names=req["names"], feature_types=req["types"], enable_categorical=True)
b = xgb.Booster(model_file=req["model"])
pred = b.predict(d).astype(float).reshape(len(X), -1)
margin = b.predict(d, output_margin=True).astype(float).reshape(len(X), -1)
json.dump({"version": xgb.__version__, "pred": pred.tolist(), "margin": margin.tolist()}, sys.stdout)
`

// needXGBoost skips the test when Python's xgboost is missing, except in CI
// (CI set), where the parity test must run.
func needXGBoost(t *testing.T) {
	t.Helper()
	out, err := exec.Command(xgbPython, "-c", "import xgboost").CombinedOutput()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI needs %s with xgboost (apt-get install python3-xgboost): %v: %s", xgbPython, err, out)
	}
	t.Skipf("no xgboost for %s: %v", xgbPython, err)
}

type xgbResult struct {
	Version string      `json:"version"`
	Pred    [][]float64 `json:"pred"`
	Margin  [][]float64 `json:"margin"`
}

func xgbPredict(t *testing.T, m *native.GBDT, rows [][]float64) xgbResult {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.json")
	var b bytes.Buffer
	if err := m.WriteXGBoostJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	req := struct {
		Model string       `json:"model"`
		Names []string     `json:"names"`
		Types []string     `json:"types"`
		Rows  [][]*float64 `json:"rows"`
	}{Model: path}
	for _, f := range m.Features {
		req.Names = append(req.Names, f.Name)
		if f.Categorical {
			req.Types = append(req.Types, "c")
		} else {
			req.Types = append(req.Types, "q")
		}
	}
	for _, row := range rows {
		r := make([]*float64, len(row))
		for j := range row {
			if !math.IsNaN(row[j]) {
				r[j] = &row[j]
			}
		}
		req.Rows = append(req.Rows, r)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, xgbPython, "-c", xgbPredictScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xgboost: %v\n%s", err, stderr.Bytes())
	}
	var res xgbResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("xgboost output: %v\n%s", err, out)
	}
	if len(res.Pred) != len(rows) {
		t.Fatalf("xgboost returned %d rows for %d", len(res.Pred), len(rows))
	}
	return res
}

func TestGBDTXGBoostParity(t *testing.T) {
	needXGBoost(t)
	bin := synthBinary(4000, 21)
	numeric := &Data{Features: bin.Features[:2], Label: bin.Label}
	iris := readIris(t)
	diabetes := readDiabetes(t)
	// iris with missing values sprinkled in
	irisMissing := subset(iris, func() []int {
		idx := make([]int, iris.NumRows())
		for i := range idx {
			idx[i] = i
		}
		return idx
	}())
	for i := 0; i < irisMissing.NumRows(); i += 5 {
		irisMissing.Features[i%4].Num[i] = math.NaN()
	}
	params := func(obj string, f func(*Params)) Params {
		p := DefaultParams(obj)
		p.NumRounds, p.LearningRate = 30, 0.2
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		data *Data
		p    Params
	}{
		{"binary numeric with missing", numeric, params(native.ObjectiveBinary, func(*Params) {})},
		{"binary with categorical", bin, params(native.ObjectiveBinary, func(p *Params) { p.MaxDepth = 4 })},
		{"binary leaf-wise sampled", bin, params(native.ObjectiveBinary, func(p *Params) {
			p.MaxLeaves, p.MaxDepth, p.Subsample, p.ColSampleByTree, p.Seed = 10, 0, 0.7, 0.7, 5
		})},
		{"multiclass", irisMissing, params(native.ObjectiveMulticlass, func(p *Params) { p.MaxDepth = 3 })},
		{"regression", diabetes, params(native.ObjectiveRegression, func(p *Params) { p.LearningRate = 0.1 })},
		{"regression with categorical", bin, params(native.ObjectiveRegression, func(*Params) {})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := mustTrain(t, tc.data, nil, tc.p, nil)
			n := min(tc.data.NumRows(), 400)
			rows := make([][]float64, 0, n+4)
			for i := range n {
				rows = append(rows, rowOf(tc.data, i))
			}
			// all missing, and for categorical features unseen and negative codes
			allNaN := make([]float64, len(tc.data.Features))
			unseen := make([]float64, len(tc.data.Features))
			negative := make([]float64, len(tc.data.Features))
			for j, f := range m.Features {
				allNaN[j] = math.NaN()
				unseen[j], negative[j] = rows[0][j], rows[1][j]
				if f.Categorical {
					unseen[j], negative[j] = float64(f.NumLevels+3), -1
				}
			}
			rows = append(rows, allNaN, unseen, negative)
			res := xgbPredict(t, m, rows)
			if res.Version != "1.7.4" {
				t.Logf("xgboost %s (parity is specified against 1.7.4)", res.Version)
			}
			var worst, worstMargin float64
			for i, row := range rows {
				want, err := m.Predict(row)
				if err != nil {
					t.Fatal(err)
				}
				margin, err := m.PredictMargin(row)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Pred[i]) != len(want) {
					t.Fatalf("row %d: xgboost gave %d values, Ferry %d", i, len(res.Pred[i]), len(want))
				}
				for c := range want {
					tol := 1e-6 * max(1, math.Abs(want[c])) // absolute for probabilities, relative for values
					d := math.Abs(res.Pred[i][c] - want[c])
					worst = max(worst, d)
					if d > tol {
						t.Fatalf("row %d %v class %d: xgboost %v, Ferry %v", i, row, c, res.Pred[i][c], want[c])
					}
					dm := math.Abs(res.Margin[i][c] - margin[c])
					worstMargin = max(worstMargin, dm)
					if dm > 1e-6*max(1, math.Abs(margin[c])) {
						t.Fatalf("row %d class %d: xgboost margin %v, Ferry %v", i, c, res.Margin[i][c], margin[c])
					}
				}
			}
			t.Logf("%d rows, %d trees: largest difference %.3g (prediction), %.3g (margin)", len(rows), m.NumTrees(), worst, worstMargin)
		})
	}
}
