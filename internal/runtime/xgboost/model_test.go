package xgboost

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// writePackage writes an MLflow-style package: an MLmodel with the xgboost
// and python_function flavors (as mlflow.xgboost.save_model writes them) and
// the model file copied from testdata under the name data.
func writePackage(t *testing.T, fixtureModel, data, format, signature string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", fixtureModel))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, data), b, 0o644); err != nil {
		t.Fatal(err)
	}
	mlmodel := `artifact_path: model
flavors:
  python_function:
    data: ` + data + `
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.2
  xgboost:
    code: null
    data: ` + data + `
    model_class: xgboost.core.Booster
` + format + `    xgb_version: 1.7.4
mlflow_version: 2.14.2
model_uuid: 0badaf06aa254da9811188d6c060a176
run_id: 8f61417c580541cb84d88586a3a1a44a
` + signature + `utc_time_created: '2026-11-26 03:00:00.000000'
`
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlmodel), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func matrixTensor(x []float32, rows, cols int) runtime.Tensor {
	return runtime.Tensor{Name: "input-0", Datatype: runtime.FP32, Shape: []int64{int64(rows), int64(cols)}, FP32: x}
}

// columns splits a row-major matrix into one FP64 tensor per named column.
func columns(x []float32, rows int, names []string, shape2 bool) []runtime.Tensor {
	out := make([]runtime.Tensor, len(names))
	for j, n := range names {
		col := make([]float64, rows)
		for r := range rows {
			col[r] = float64(x[r*len(names)+j])
		}
		shape := []int64{int64(rows)}
		if shape2 {
			shape = append(shape, 1)
		}
		out[j] = runtime.Tensor{Name: n, Datatype: runtime.FP64, Shape: shape, FP64: col}
	}
	return out
}

func checkPredictions(t *testing.T, got []runtime.Tensor, f *fixture, outputs int) {
	t.Helper()
	if len(got) != 1 || got[0].Name != OutputName || got[0].Datatype != runtime.FP64 {
		t.Fatalf("outputs %+v, want one FP64 %q", got, OutputName)
	}
	wantShape := []int64{int64(f.Rows)}
	if outputs > 1 {
		wantShape = append(wantShape, int64(outputs))
	}
	if !slices.Equal(got[0].Shape, wantShape) {
		t.Errorf("shape %v, want %v", got[0].Shape, wantShape)
	}
	if len(got[0].FP64) != len(f.Predict) {
		t.Fatalf("%d predictions, want %d", len(got[0].FP64), len(f.Predict))
	}
	for i, v := range got[0].FP64 {
		if d := math.Abs(v - f.Predict[i]); d > 1e-6 {
			t.Fatalf("prediction %d = %v, XGBoost %v", i, v, f.Predict[i])
		}
	}
}

// TestLoadPackage loads MLflow-style packages through model.Load and the
// runtime registry and predicts with them.
func TestLoadPackage(t *testing.T) {
	const sig = `signature:
  inputs: '[{"type": "double", "name": "a", "required": true}, {"type": "double", "name": "b", "required": true}, {"type": "double", "name": "c", "required": true}, {"type": "double", "name": "d", "required": true}, {"type": "double", "name": "e", "required": true}, {"type": "float", "name": "f", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
  params: null
`
	for _, tc := range []struct {
		name, fixture, model, data, format, signature string
		columns                                       []string // named inputs the model should take
	}{
		{name: "json", fixture: "binary_logistic", model: "binary_logistic.json", data: "model.json", format: "    model_format: json\n", columns: []string{"f0", "f1", "f2", "f3", "f4", "f5"}},
		{name: "json in model.xgb", fixture: "binary_logistic", model: "binary_logistic.json", data: "model.xgb", format: "    model_format: xgb\n", columns: []string{"f0", "f1", "f2", "f3", "f4", "f5"}},
		{name: "ubj", fixture: "binary_logistic_ubj", model: "binary_logistic_ubj.ubj", data: "model.ubj", format: "    model_format: ubj\n"},
		{name: "no model_format (MLflow 1)", fixture: "multi_softprob", model: "multi_softprob.json", data: "model.xgb"},
		{name: "columns from the signature", fixture: "reg_squarederror", model: "reg_squarederror.json", data: "model.json", format: "    model_format: json\n", signature: sig, columns: []string{"a", "b", "c", "d", "e", "f"}},
		{name: "categorical", fixture: "categorical", model: "categorical.json", data: "model.json", format: "    model_format: json\n", columns: []string{"color", "size", "x"}},
		// mlflow.xgboost.log_model in MLflow 2.x with XGBoost 1.x: model.xgb in the legacy binary format
		{name: "legacy binary", fixture: "bin_binary_logistic", model: "bin_binary_logistic.xgb", data: "model.xgb", format: "    model_format: xgb\n"},
		{name: "legacy binary with base_score", fixture: "bin_binary_logistic_base", model: "bin_binary_logistic_base.xgb", data: "model.xgb", format: "    model_format: xgb\n"},
		{name: "legacy binary multiclass", fixture: "bin_multi_softprob", model: "bin_multi_softprob.xgb", data: "model.xgb", format: "    model_format: xgb\n"},
		{name: "legacy binary regression with columns from the signature", fixture: "bin_reg_squarederror", model: "bin_reg_squarederror.xgb", data: "model.xgb", format: "    model_format: xgb\n", signature: sig, columns: []string{"a", "b", "c", "d", "e", "f"}},
		{name: "legacy binary poisson", fixture: "bin_count_poisson_base", model: "bin_count_poisson_base.xgb", data: "model.xgb", format: "    model_format: xgb\n"},
		{name: "legacy binary dart", fixture: "bin_binary_dart", model: "bin_binary_dart.xgb", data: "model.xgb", format: "    model_format: xgb\n"},
		{name: "legacy binary before XGBoost 1.0 (MLflow 1)", fixture: "bin_v0_binary_logistic", model: "bin_v0_binary_logistic.xgb", data: "model.xgb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pkg, err := model.Load(ctx, writePackage(t, tc.model, tc.data, tc.format, tc.signature))
			if err != nil {
				t.Fatal(err)
			}
			m, err := runtime.Registry{model.FlavorXGBoost: Load}.Load(ctx, pkg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			f, x := loadFixture(t, tc.fixture)
			b := m.(*Model).Booster()
			meta := m.Metadata()
			if meta.Platform != "xgboost_json" || len(meta.Outputs) != 1 || meta.Outputs[0].Name != "predict" {
				t.Errorf("metadata %+v", meta)
			}
			var names []string
			for _, in := range meta.Inputs {
				names = append(names, in.Name)
			}
			if tc.columns != nil && !slices.Equal(names, tc.columns) {
				t.Errorf("inputs %v, want %v", names, tc.columns)
			}
			if tc.columns == nil && (len(meta.Inputs) != 1 || !slices.Equal(meta.Inputs[0].Shape, []int64{-1, int64(f.Features)})) {
				t.Errorf("inputs %+v, want one matrix", meta.Inputs)
			}
			out, err := m.Predict(ctx, []runtime.Tensor{matrixTensor(x, f.Rows, f.Features)})
			if err != nil {
				t.Fatal(err)
			}
			checkPredictions(t, out, f, b.NumOutputs())
			if tc.columns != nil {
				out, err := m.Predict(ctx, columns(x, f.Rows, tc.columns, false))
				if err != nil {
					t.Fatal(err)
				}
				checkPredictions(t, out, f, b.NumOutputs())
			}
		})
	}
}

func TestLoadPackageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, model, data, format string
		remove                    bool
		code, contains            string
	}{
		{name: "not a model", model: "gen.py", data: "model.xgb", code: ferry.EINVALID, contains: "not an XGBoost model: not JSON, not UBJSON, and not XGBoost's legacy binary format"},
		{name: "gblinear", model: "bin_gblinear.xgb", data: "model.xgb", code: ferry.ENOTIMPLEMENTED, contains: "gblinear"},
		{name: "unknown model_format", model: "binary_logistic.json", data: "model.json", format: "    model_format: pickle\n", code: ferry.ENOTIMPLEMENTED, contains: "model_format"},
		{name: "missing file", model: "binary_logistic.json", data: "model.json", remove: true, code: ferry.ENOTFOUND, contains: "not in the package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writePackage(t, tc.model, tc.data, tc.format, "")
			if tc.remove {
				if err := os.Remove(filepath.Join(dir, tc.data)); err != nil {
					t.Fatal(err)
				}
			}
			pkg, err := model.Load(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(context.Background(), pkg)
			if ferry.ErrorCode(err) != tc.code || !strings.Contains(ferry.ErrorMessage(err), tc.contains) {
				t.Errorf("Load: %v, want %s containing %q", err, tc.code, tc.contains)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		pkg, err := model.Load(context.Background(), writePackage(t, "binary_logistic.json", "model.json", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Load(ctx, pkg); err != context.Canceled {
			t.Errorf("Load: %v, want context.Canceled", err)
		}
	})
}

// TestModelInputs checks the input forms a Model takes and the errors for
// those it refuses, on the binary model with features f0…f5.
func TestModelInputs(t *testing.T) {
	b, err := LoadFile(filepath.Join("testdata", "binary_logistic.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(b, nil)
	f, x := loadFixture(t, "binary_logistic")
	const rows = 5
	x = x[:rows*f.Features]
	f.Rows, f.Predict = rows, f.Predict[:rows]
	names := b.FeatureNames()
	x64 := make([]float64, len(x))
	ints := make([]int64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	good := []struct {
		name   string
		inputs []runtime.Tensor
	}{
		{"FP32 matrix", []runtime.Tensor{matrixTensor(x, rows, 6)}},
		{"FP64 matrix", []runtime.Tensor{{Name: "x", Datatype: runtime.FP64, Shape: []int64{rows, 6}, FP64: x64}}},
		{"columns of shape [rows]", columns(x, rows, names, false)},
		{"columns of shape [rows, 1]", columns(x, rows, names, true)},
		{"columns in another order", func() []runtime.Tensor {
			c := columns(x, rows, names, false)
			slices.Reverse(c)
			return c
		}()},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			out, err := m.Predict(context.Background(), tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			checkPredictions(t, out, f, 1)
		})
	}
	t.Run("INT64 matrix", func(t *testing.T) {
		for i := range ints {
			ints[i] = int64(i % 3)
		}
		out, err := m.Predict(context.Background(), []runtime.Tensor{{Name: "x", Datatype: runtime.INT64, Shape: []int64{rows, 6}, Int: ints}})
		if err != nil {
			t.Fatal(err)
		}
		row := make([]float32, 6)
		want := []float64{0}
		for r := range rows {
			for j := range row {
				row[j] = float32(ints[r*6+j])
			}
			b.PredictRow(row, want)
			if out[0].FP64[r] != want[0] {
				t.Errorf("row %d: %v, want %v", r, out[0].FP64[r], want[0])
			}
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		out, err := m.Predict(context.Background(), []runtime.Tensor{{Name: "x", Datatype: runtime.FP32, Shape: []int64{0, 6}, FP32: []float32{}}})
		if err != nil || len(out[0].FP64) != 0 || !slices.Equal(out[0].Shape, []int64{0}) {
			t.Errorf("got %+v, %v", out, err)
		}
	})

	cols := func(edit func([]runtime.Tensor) []runtime.Tensor) []runtime.Tensor {
		return edit(columns(x, rows, names, false))
	}
	for _, tc := range []struct {
		name     string
		inputs   []runtime.Tensor
		contains string
	}{
		{"no inputs", nil, "missing: f0, f1"},
		{"matrix of the wrong width", []runtime.Tensor{matrixTensor(x[:rows*5], rows, 5)}, "want [rows, 6]"},
		{"matrix data shorter than its shape", []runtime.Tensor{matrixTensor(x[:7], rows, 6)}, "needs 30"},
		{"matrix with a huge shape", []runtime.Tensor{matrixTensor(x, 1<<60, 6)}, "want [rows, 6]"},
		{"strings", []runtime.Tensor{{Name: "x", Datatype: runtime.BYTES, Shape: []int64{1, 6}, Str: make([]string, 6)}}, "datatype \"BYTES\""},
		{"datatype without its data", []runtime.Tensor{{Name: "x", Datatype: runtime.FP64, Shape: []int64{rows, 6}, FP32: x}}, "has 0 FP64 values"},
		{"unknown column", cols(func(c []runtime.Tensor) []runtime.Tensor { c[2].Name = "zz"; return c }), `input "zz" is not a feature`},
		{"missing column", cols(func(c []runtime.Tensor) []runtime.Tensor { return c[:5] }), "missing: f5"},
		{"column twice", cols(func(c []runtime.Tensor) []runtime.Tensor { c[1].Name = "f0"; return c }), "given twice"},
		{"columns of different lengths", cols(func(c []runtime.Tensor) []runtime.Tensor {
			c[3].Shape, c[3].FP64 = []int64{2}, c[3].FP64[:2]
			return c
		}), "has 2 rows"},
		{"column of shape [rows, 2]", cols(func(c []runtime.Tensor) []runtime.Tensor { c[0].Shape = []int64{rows, 2}; return c }), "want [rows] or [rows, 1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Predict(context.Background(), tc.inputs)
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), tc.contains) {
				t.Errorf("Predict: %v, want EINVALID containing %q", err, tc.contains)
			}
		})
	}

	t.Run("no feature names: matrix only", func(t *testing.T) {
		b, err := LoadFile(filepath.Join("testdata", "binary_logitraw.json"))
		if err != nil {
			t.Fatal(err)
		}
		m := NewModel(b, nil)
		if in := m.Metadata().Inputs; len(in) != 1 || in[0].Name != "input-0" {
			t.Errorf("inputs %+v", in)
		}
		_, err = m.Predict(context.Background(), columns(x, rows, names, false))
		if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), "no feature names") {
			t.Errorf("Predict: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.Predict(ctx, []runtime.Tensor{matrixTensor(x, rows, 6)}); err != context.Canceled {
			t.Errorf("Predict: %v, want context.Canceled", err)
		}
	})
}

// TestPredictBatchSizes checks that the parallel batch path agrees with
// PredictRow for sizes around the block size.
func TestPredictBatchSizes(t *testing.T) {
	b, err := LoadFile(filepath.Join("testdata", "multi_softprob.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, x := loadFixture(t, "multi_softprob")
	nf, no := b.NumFeature(), b.NumOutputs()
	for _, rows := range []int{0, 1, blockRows - 1, blockRows, blockRows + 1, 3*blockRows + 7} {
		t.Run(fmt.Sprintf("%d rows", rows), func(t *testing.T) {
			in := make([]float32, rows*nf)
			for i := range in {
				in[i] = x[i%len(x)]
			}
			out := make([]float64, rows*no)
			if err := b.Predict(context.Background(), in, rows, out); err != nil {
				t.Fatal(err)
			}
			want := make([]float64, no)
			for r := range rows {
				b.PredictRow(in[r*nf:(r+1)*nf], want)
				if !slices.Equal(out[r*no:(r+1)*no], want) {
					t.Fatalf("rows %d, row %d: %v, want %v", rows, r, out[r*no:(r+1)*no], want)
				}
			}
		})
	}
	if err := b.Predict(context.Background(), make([]float32, 5), 1, make([]float64, no)); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("short input: %v", err)
	}
	if err := b.Predict(context.Background(), make([]float32, nf), 1, make([]float64, 1)); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("short output: %v", err)
	}
}

// TestPredictRowAllocs checks that the hot path allocates nothing.
func TestPredictRowAllocs(t *testing.T) {
	for _, name := range []string{"binary_logistic.json", "multi_softprob.json", "categorical.json"} {
		t.Run(name, func(t *testing.T) {
			b, err := LoadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			row := make([]float32, b.NumFeature())
			out := make([]float64, b.NumOutputs())
			if n := testing.AllocsPerRun(100, func() { b.PredictRow(row, out) }); n != 0 {
				t.Errorf("PredictRow allocates %v times", n)
			}
		})
	}
}
