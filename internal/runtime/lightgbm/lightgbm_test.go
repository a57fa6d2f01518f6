package lightgbm_test

// The models in this file's testdata were written by hand from the text
// format as LightGBM's Tree::ToString and GBDT::SaveModelToString write it
// (including correct tree_sizes), and every expected output below was worked
// out by hand from LightGBM's decision rules (tree.h: NumericalDecision,
// CategoricalDecision) and output transforms (the objectives' ConvertOutput);
// the arithmetic is in the comments. They are unit tests of single rules;
// reference_test.go checks models LightGBM itself trained and predicted.

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/ferry-ml/ferry/internal/runtime/lightgbm"
)

var nan = math.NaN()

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func softmax(v ...float64) []float64 {
	sum := 0.0
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Exp(x)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func load(t *testing.T, name string) *lightgbm.Model {
	t.Helper()
	m, err := lightgbm.LoadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// column is one FP64 input tensor.
func column(name string, v ...float64) runtime.Tensor {
	return runtime.Tensor{Name: name, Datatype: runtime.FP64, Shape: []int64{int64(len(v))}, FP64: v}
}

func near(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) <= 1e-12*max(1, math.Abs(y)) })
}

func predict(t *testing.T, m runtime.Model, inputs ...runtime.Tensor) runtime.Tensor {
	t.Helper()
	out, err := m.Predict(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%d outputs", len(out))
	}
	return out[0]
}

// TestBinary: testdata/binary.txt has three trees over age (feature 0) and
// annual_income (feature 1), objective binary sigmoid:1.
//
//	Tree 0: node 0: age <= 30.5, decision_type 10 = missing NaN (8) + default
//	        left (2): NaN goes left. Left: leaf 0 (0.4). Right: node 1.
//	        node 1: income <= 0.5, decision_type 4 = missing Zero, default
//	        right: |income| <= 1e-35 goes right, and NaN counts as 0 so it
//	        goes right too. Left: leaf 1 (-0.2). Right: leaf 2 (0.1).
//	Tree 1: income <= -0.5, decision_type 0 = missing None: NaN is 0, which
//	        is > -0.5. Left: -0.3. Right: 0.25.
//	Tree 2: one leaf, 0.05.
func TestBinary(t *testing.T) {
	m := load(t, "binary.txt")
	md := m.Metadata()
	if md.Platform != "lightgbm_text" || len(md.Inputs) != 2 || md.Inputs[0].Name != "age" || md.Inputs[1].Name != "annual_income" ||
		md.Inputs[1].Datatype != runtime.FP64 || len(md.Outputs) != 1 || md.Outputs[0].Name != "probability" || !slices.Equal(md.Outputs[0].Shape, []int64{-1}) {
		t.Fatalf("metadata = %+v", md)
	}
	age := []float64{25, nan, 40, 40, 40, 30.5, 31, 31, math.Inf(1)}
	income := []float64{100, -1, 0, nan, 0.3, -2, 1e-36, -1e-30, 5}
	raw := []float64{
		0.4 + 0.25 + 0.05,  // 25 <= 30.5: leaf 0; 100 > -0.5: 0.25 → 0.70, p = 0.66819
		0.4 - 0.3 + 0.05,   // age NaN: default left, leaf 0; -1 <= -0.5: -0.3 → 0.15, p = 0.53743
		0.1 + 0.25 + 0.05,  // 40: node 1; income 0 is Zero-missing: default right, 0.1; 0 > -0.5: 0.25 → 0.40, p = 0.59869
		0.1 + 0.25 + 0.05,  // income NaN: 0 for both trees, as the row above → 0.40
		-0.2 + 0.25 + 0.05, // 0.3 is not zero and <= 0.5: leaf 1 (-0.2); 0.3 > -0.5: 0.25 → 0.10, p = 0.52498
		0.4 - 0.3 + 0.05,   // 30.5 <= 30.5: leaf 0; -2 <= -0.5: -0.3 → 0.15
		0.1 + 0.25 + 0.05,  // 1e-36 is within 1e-35 of zero: default right, 0.1; 0.25 → 0.40
		-0.2 + 0.25 + 0.05, // -1e-30 is not zero and <= 0.5: -0.2; -1e-30 > -0.5: 0.25 → 0.10
		0.1 + 0.25 + 0.05,  // +Inf > 30.5; 5 > 0.5: 0.1; 5 > -0.5: 0.25 → 0.40
	}
	want := make([]float64, len(raw))
	for i, r := range raw {
		want[i] = sigmoid(r) // binary sigmoid:1 → 1/(1+exp(-1·raw))
	}
	got := predict(t, m, column("age", age...), column("annual_income", income...))
	if got.Name != "probability" || !slices.Equal(got.Shape, []int64{int64(len(age))}) || !near(got.FP64, want) {
		t.Fatalf("got %s %v %v\nwant %v", got.Name, got.Shape, got.FP64, want)
	}
	if math.Abs(got.FP64[0]-0.66819) > 1e-5 || math.Abs(got.FP64[1]-0.53743) > 1e-5 || math.Abs(got.FP64[2]-0.59869) > 1e-5 || math.Abs(got.FP64[4]-0.52498) > 1e-5 {
		t.Fatalf("probabilities %v differ from the hand-computed 0.66819, 0.53743, 0.59869, 0.52498", got.FP64)
	}

	b := m.Booster()
	row := []float64{25, 100}
	rawOut := make([]float64, 1)
	b.PredictRaw(row, rawOut)
	if math.Abs(rawOut[0]-0.7) > 1e-12 || b.NumTrees() != 3 || b.NumFeatures() != 2 || b.NumOutputs() != 1 || b.Objective != "binary sigmoid:1" {
		t.Fatalf("raw %v, booster %+v", rawOut, b)
	}

	// The same rows as one [rows, features] tensor, in FP32 (the values are
	// exact in float32 but for 0.3, 1e-36 and -1e-30, whose rows keep their
	// branches).
	x := make([]float32, 0, 2*len(age))
	for i := range age {
		x = append(x, float32(age[i]), float32(income[i]))
	}
	got = predict(t, m, runtime.Tensor{Name: "input", Datatype: runtime.FP32, Shape: []int64{int64(len(age)), 2}, FP32: x})
	if !near(got.FP64, want) {
		t.Fatalf("matrix input: got %v\nwant %v", got.FP64, want)
	}
}

// TestMulticlass: testdata/multiclass.txt, objective multiclass num_class:3,
// two rounds of three trees; tree i adds to class i mod 3.
//
//	Tree 0 (class 0): x <= 1 → 0.5, else -0.5 (missing None: NaN is 0)
//	Tree 1 (class 1): y <= 1e-35 → -0.25, else 0.75 (missing NaN, default right)
//	Tree 2 (class 2): x <= 3 → 0.1, else 1.0
//	Tree 3 (class 0): y <= 2 → 0.2, else -0.1
//	Tree 4 (class 1): x <= 2 → -0.3, else 0.3
//	Tree 5 (class 2): 0.05
func TestMulticlass(t *testing.T) {
	m := load(t, "multiclass.txt")
	md := m.Metadata()
	if len(md.Outputs) != 1 || md.Outputs[0].Name != "probabilities" || !slices.Equal(md.Outputs[0].Shape, []int64{-1, 3}) {
		t.Fatalf("outputs = %+v", md.Outputs)
	}
	x := []float64{0, 2.5, nan, 10}
	y := []float64{-1, 5, nan, 0}
	var want []float64
	for _, scores := range [][]float64{
		{0.5 + 0.2, -0.25 - 0.3, 0.1 + 0.05},  // x=0, y=-1 → (0.7, -0.55, 0.15) → (0.53664, 0.15375, 0.30961)
		{-0.5 - 0.1, 0.75 + 0.3, 0.1 + 0.05},  // x=2.5, y=5 → (-0.6, 1.05, 0.15) → (0.12013, 0.62554, 0.25433)
		{0.5 + 0.2, 0.75 - 0.3, 0.1 + 0.05},   // NaN, NaN: x is 0 (None); y NaN goes right (NaN, default right) → (0.7, 0.45, 0.15) → (0.42449, 0.33060, 0.24491)
		{-0.5 + 0.2, -0.25 + 0.3, 1.0 + 0.05}, // x=10, y=0 → (-0.3, 0.05, 1.05) → (0.15932, 0.22609, 0.61458)
	} {
		want = append(want, softmax(scores...)...)
	}
	got := predict(t, m, column("x", x...), column("y", y...))
	if !slices.Equal(got.Shape, []int64{4, 3}) || !near(got.FP64, want) {
		t.Fatalf("got %v %v\nwant %v", got.Shape, got.FP64, want)
	}
	for i, w := range []float64{0.53664, 0.15375, 0.30961, 0.12013, 0.62554, 0.25433, 0.42449, 0.33060, 0.24491, 0.15932, 0.22609, 0.61458} {
		if math.Abs(got.FP64[i]-w) > 1e-5 {
			t.Fatalf("probability %d = %v, hand-computed %v", i, got.FP64[i], w)
		}
	}
}

// TestRegressionCategorical: testdata/regression_categorical.txt, objective
// regression, color (feature 0) categorical, size (feature 1) numeric.
//
//	Tree 0: node 0: color in bitset 0 = words (6, 2) = bits 1, 2 of word 0
//	        and bit 1 of word 1 = categories {1, 2, 33} → leaf 0 (10), else
//	        node 1: size <= 100 (missing None, NaN is 0) → 20, else 30.
//	Tree 1: color in bitset 0 = word 33 = bits 0, 5 = {0, 5} → 1.5, else -1.5.
//
// The category is int(color), truncated toward zero; negative values, NaN,
// values past the bitset and past int32 go right.
func TestRegressionCategorical(t *testing.T) {
	m := load(t, "regression_categorical.txt")
	if o := m.Metadata().Outputs; len(o) != 1 || o[0].Name != "prediction" || !slices.Equal(o[0].Shape, []int64{-1}) {
		t.Fatalf("outputs = %+v", o)
	}
	rows := []struct {
		color, size, want float64
	}{
		{1, 50, 10 - 1.5},    // 1 in {1,2,33}: 10; 1 not in {0,5}: -1.5 → 8.5
		{2.9, 500, 10 - 1.5}, // int(2.9) = 2: 10; -1.5 → 8.5
		{0, 50, 20 + 1.5},    // 0 not in {1,2,33}; 50 <= 100: 20; 0 in {0,5}: 1.5 → 21.5
		{33, 0, 10 - 1.5},    // 33 is bit 1 of word 1: 10; tree 1 has one word: -1.5 → 8.5
		{5, 150, 30 + 1.5},   // 5: right, 150 > 100: 30; 5 in {0,5}: 1.5 → 31.5
		{64, nan, 20 - 1.5},  // 64 is past both bitsets: right, right; size NaN is 0 <= 100: 20 → 18.5
		{-1, 200, 30 - 1.5},  // negative: right, right; 200 > 100: 30 → 28.5
		{nan, 50, 20 - 1.5},  // NaN: right, right → 18.5
		{-0.5, 50, 20 + 1.5}, // int(-0.5) = 0: right in tree 0 (20), left in tree 1 (1.5) → 21.5
		{1e10, 50, 20 - 1.5}, // beyond int32: right, right → 18.5
		{32, 50, 20 - 1.5},   // 32 is bit 0 of word 1 (2 = bit 1): right; tree 1: right → 18.5
		{math.Inf(-1), 50, 20 - 1.5},
	}
	var color, size, want []float64
	for _, r := range rows {
		color, size, want = append(color, r.color), append(size, r.size), append(want, r.want)
	}
	got := predict(t, m, column("color", color...), column("size", size...))
	if !slices.Equal(got.FP64, want) {
		t.Fatalf("got %v\nwant %v", got.FP64, want)
	}
}

// TestPandasCategorical: testdata/pandas.txt was trained (by hand) on a
// DataFrame whose color (red, green, blue) and shape (10, 20, 30) columns are
// pandas categories; its pandas_categorical line lists them, so category j
// of a column is code j.
//
//	Tree 0: color in {1} (green) → 1; else shape in {2} (30) → 2, else 3.
func TestPandasCategorical(t *testing.T) {
	m := load(t, "pandas.txt")
	md := m.Metadata()
	types := []string{md.Inputs[0].Datatype, md.Inputs[1].Datatype, md.Inputs[2].Datatype}
	if !slices.Equal(types, []string{runtime.BYTES, runtime.FP64, runtime.BYTES}) {
		t.Fatalf("input datatypes %v", types)
	}
	if b := m.Booster(); !slices.Equal(b.PandasCategorical[1], []string{"10", "20", "30"}) {
		t.Fatalf("pandas categorical = %q", b.PandasCategorical)
	}
	color := runtime.Tensor{Name: "color", Datatype: runtime.BYTES, Shape: []int64{5}, Str: []string{"green", "red", "", "purple", "blue"}}
	size := column("size", 1, 2, 3, 4, 5)
	tests := []struct {
		name  string
		shape runtime.Tensor
	}{
		{"strings", runtime.Tensor{Name: "shape", Datatype: runtime.BYTES, Shape: []int64{5}, Str: []string{"10", "30", "20", "30", ""}}},
		{"integers", runtime.Tensor{Name: "shape", Datatype: runtime.INT64, Shape: []int64{5}, Int: []int64{10, 30, 20, 30, 7}}},
		{"floats", column("shape", 10, 30, 20, 30, nan)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := predict(t, m, color, size, tt.shape)
			want := []float64{
				1, // green → code 1, in {1}
				2, // red → 0, not in {1}; 30 → code 2, in {2}
				3, // "" is missing (NaN): right; 20 → 1: right
				2, // purple is not a category (NaN): right; 30 → 2
				3, // blue → 2: right; shape missing or unknown: right
			}
			if !slices.Equal(got.FP64, want) {
				t.Fatalf("got %v, want %v", got.FP64, want)
			}
		})
	}
}

// TestRandomForest: testdata/random_forest.txt has average_output: the
// prediction is the mean of its two trees, x <= 0 → 1 else 3 and x <= 1 → 2
// else 6.
func TestRandomForest(t *testing.T) {
	got := predict(t, load(t, "random_forest.txt"), column("x", 0.5, -1, 2))
	want := []float64{(3 + 2) / 2.0, (1 + 2) / 2.0, (3 + 6) / 2.0}
	if !slices.Equal(got.FP64, want) {
		t.Fatalf("got %v, want %v", got.FP64, want)
	}
}

// constantModel writes a model of one round of constant trees, one per value.
func constantModel(objective string, numClass int, values ...float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tree\nversion=v4\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=0\n", numClass, len(values))
	if objective != "" {
		fmt.Fprintf(&b, "objective=%s\n", objective)
	}
	b.WriteString("feature_names=x\nfeature_infos=none\n\n")
	for i, v := range values {
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=1\nnum_cat=0\nleaf_value=%v\nis_linear=0\nshrinkage=1\n\n\n", i, v)
	}
	b.WriteString("end of trees\n")
	return b.String()
}

// TestObjectives checks each objective's output transform on constant trees.
func TestObjectives(t *testing.T) {
	tests := []struct {
		objective string
		numClass  int
		raw       []float64
		output    string
		want      []float64
	}{
		{"regression", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"regression sqrt", 1, []float64{-1.5}, "prediction", []float64{-2.25}}, // sign(x)·x²
		{"regression_l1", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"huber", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"fair", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"quantile", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"mape", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"poisson", 1, []float64{0.5}, "prediction", []float64{math.Exp(0.5)}},
		{"gamma", 1, []float64{0.5}, "prediction", []float64{math.Exp(0.5)}},
		{"tweedie", 1, []float64{0.5}, "prediction", []float64{math.Exp(0.5)}},
		{"binary sigmoid:2", 1, []float64{0.25}, "probability", []float64{1 / (1 + math.Exp(-2*0.25))}},
		{"cross_entropy", 1, []float64{0.25}, "probability", []float64{sigmoid(0.25)}},
		{"cross_entropy_lambda", 1, []float64{0.25}, "prediction", []float64{math.Log(1 + math.Exp(0.25))}},
		{"multiclass num_class:2", 2, []float64{0.5, -0.5}, "probabilities", softmax(0.5, -0.5)},
		{"multiclassova num_class:2 sigmoid:1", 2, []float64{0.5, -0.5}, "probabilities", []float64{sigmoid(0.5), sigmoid(-0.5)}},
		{"lambdarank", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"rank_xendcg", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"", 1, []float64{1.5}, "prediction", []float64{1.5}},
		{"custom", 1, []float64{1.5, -2}, "prediction", []float64{1.5, -2}},
	}
	for _, tt := range tests {
		name := tt.objective
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			b, err := lightgbm.Parse([]byte(constantModel(tt.objective, tt.numClass, tt.raw...)))
			if err != nil {
				t.Fatal(err)
			}
			m := lightgbm.New(b)
			got := predict(t, m, column("x", 7))
			if got.Name != tt.output || !near(got.FP64, tt.want) {
				t.Fatalf("got %s %v, want %s %v", got.Name, got.FP64, tt.output, tt.want)
			}
			shape := m.Metadata().Outputs[0].Shape
			if len(tt.raw) > 1 && !slices.Equal(shape, []int64{-1, int64(len(tt.raw))}) || len(tt.raw) == 1 && !slices.Equal(shape, []int64{-1}) {
				t.Fatalf("output shape %v", shape)
			}
		})
	}
}

// TestMLflowPackage loads a package as mlflow.lightgbm.log_model writes it
// (MLmodel with the lightgbm and python_function flavors, model.lgb, no
// ferry.json): the model is testdata/binary.txt, and the signature names the
// second column "annual income", which LightGBM stored as annual_income.
func TestMLflowPackage(t *testing.T) {
	ctx := context.Background()
	a, err := os.ReadFile("testdata/binary.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/mlflow/model.lgb")
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("testdata/mlflow/model.lgb must be a copy of testdata/binary.txt (%v)", err)
	}
	pkg, err := model.Load(ctx, "testdata/mlflow")
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Verified() {
		t.Fatal("an MLflow package has no ferry.json to verify")
	}
	fl, err := pkg.Manifest.LightGBM()
	if err != nil || fl.LGBVersion != "3.3.5" || fl.ModelClass != "lightgbm.basic.Booster" {
		t.Fatalf("flavor %+v, %v", fl, err)
	}
	m, err := runtime.Registry{model.FlavorLightGBM: lightgbm.Load}.Load(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	md := m.Metadata()
	if md.Platform != "lightgbm_text" || len(md.Inputs) != 2 || md.Inputs[0].Name != "age" || md.Inputs[1].Name != "annual income" {
		t.Fatalf("metadata = %+v", md)
	}
	// The rows of input_example.json: (25, 100), (null, -1), (40, 0).
	got := predict(t, m, column("age", 25, nan, 40), column("annual income", 100, -1, 0))
	want := []float64{sigmoid(0.4 + 0.25 + 0.05), sigmoid(0.4 - 0.3 + 0.05), sigmoid(0.1 + 0.25 + 0.05)}
	if !near(got.FP64, want) {
		t.Fatalf("got %v, want %v", got.FP64, want)
	}
	direct := predict(t, load(t, "binary.txt"), column("age", 25, nan, 40), column("annual_income", 100, -1, 0))
	if !slices.Equal(got.FP64, direct.FP64) {
		t.Fatalf("package %v, file %v", got.FP64, direct.FP64)
	}
}

// TestMLflowTensorSignature: a booster logged with a numpy input example has
// a tensor signature; the model then declares one [rows, features] input.
func TestMLflowTensorSignature(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ml, err := os.ReadFile("testdata/mlflow/MLmodel")
	if err != nil {
		t.Fatal(err)
	}
	in := `  inputs: '[{"type": "double", "name": "age", "required": true}, {"type": "double",
    "name": "annual income", "required": true}]'`
	tensorSig := `  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]'`
	text := strings.Replace(string(ml), in, tensorSig, 1)
	if text == string(ml) {
		t.Fatal("fixture changed: signature not found")
	}
	lgb, err := os.ReadFile("testdata/binary.txt")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"MLmodel": text, "model.lgb": string(lgb)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := model.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lightgbm.Load(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	md := m.Metadata()
	if len(md.Inputs) != 1 || md.Inputs[0].Name != "input" || !slices.Equal(md.Inputs[0].Shape, []int64{-1, 2}) {
		t.Fatalf("inputs = %+v", md.Inputs)
	}
	got := predict(t, m, runtime.Tensor{Name: "input", Datatype: runtime.FP64, Shape: []int64{2, 2}, FP64: []float64{25, 100, nan, -1}})
	if !near(got.FP64, []float64{sigmoid(0.7), sigmoid(0.15)}) {
		t.Fatalf("got %v", got.FP64)
	}
	_, err = m.Predict(ctx, []runtime.Tensor{{Name: "input", Datatype: runtime.FP64, Shape: []int64{1, 3}, FP64: []float64{1, 2, 3}}})
	if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), `input "input" has shape [1 3]; want [rows, 2]`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	write := func(t *testing.T, files map[string]string) *model.Package {
		t.Helper()
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pkg, err := model.Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	const created = "utc_time_created: '2024-05-02 10:11:12.123456'\n"
	tests := []struct {
		name  string
		files map[string]string
		code  string
		want  string
	}{
		{"no lightgbm flavor", map[string]string{"MLmodel": "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n" + created}, ferry.ENOTFOUND, "no lightgbm flavor"},
		{"missing model file", map[string]string{"MLmodel": "flavors:\n  lightgbm:\n    data: model.lgb\n" + created}, ferry.ENOTFOUND, "model.lgb"},
		{"pickled scikit-learn model", map[string]string{
			"MLmodel":   "flavors:\n  lightgbm:\n    data: model.pkl\n    model_class: lightgbm.sklearn.LGBMClassifier\n" + created,
			"model.pkl": "\x80\x04\x95",
		}, ferry.ENOTIMPLEMENTED, "pickled scikit-learn model"},
		{"not a text model", map[string]string{
			"MLmodel":   "flavors:\n  lightgbm:\n    data: model.lgb\n" + created,
			"model.lgb": "{\"name\": \"tree\"}",
		}, ferry.EINVALID, `model.lgb: not a LightGBM text model`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lightgbm.Load(ctx, write(t, tt.files))
			if ferry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %s saying %q", err, tt.code, tt.want)
			}
		})
	}
	if _, err := lightgbm.LoadFile(filepath.Join(t.TempDir(), "nope.txt")); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCorruptModels changes testdata/binary.txt (or multiclass.txt) in one
// place and expects EINVALID saying what is wrong — never a panic.
func TestCorruptModels(t *testing.T) {
	binary, err := os.ReadFile("testdata/binary.txt")
	if err != nil {
		t.Fatal(err)
	}
	multi, err := os.ReadFile("testdata/multiclass.txt")
	if err != nil {
		t.Fatal(err)
	}
	categorical, err := os.ReadFile("testdata/regression_categorical.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		base     []byte
		old, new string
		code     string
		want     string
	}{
		{"not a model", binary, "tree\n", "booster\n", ferry.EINVALID, "not a LightGBM text model"},
		{"no num_class", binary, "num_class=1\n", "", ferry.EINVALID, "no num_class"},
		{"bad num_class", binary, "num_class=1\n", "num_class=zero\n", ferry.EINVALID, "num_class=zero is not an integer"},
		{"too few feature names", binary, "feature_names=age annual_income", "feature_names=age", ferry.EINVALID, "feature_names has 1 names; max_feature_idx=1 needs 2"},
		{"duplicate feature names", binary, "feature_names=age annual_income", "feature_names=age age", ferry.EINVALID, `feature name "age" appears twice`},
		{"feature infos", binary, "feature_infos=[18:90] [-5:250000]", "feature_infos=[18:90]", ferry.EINVALID, "feature_infos has 1 entries"},
		{"unknown objective", binary, "objective=binary sigmoid:1", "objective=telepathy", ferry.EINVALID, `unknown objective "telepathy"`},
		{"binary without sigmoid", binary, "objective=binary sigmoid:1", "objective=binary", ferry.EINVALID, "no sigmoid parameter"},
		{"negative sigmoid", binary, "sigmoid:1", "sigmoid:-1", ferry.EINVALID, "must be a positive number"},
		{"header key twice", binary, "label_index=0\n", "label_index=0\nlabel_index=1\n", ferry.EINVALID, "label_index appears twice"},
		{"trees out of order", binary, "Tree=1\n", "Tree=7\n", ferry.EINVALID, "want Tree=1"},
		{"no trees", binary, "Tree=0\n", "end of trees\nTree=0\n", ferry.EINVALID, "no trees"},
		{"no num_leaves", binary, "num_leaves=3\n", "", ferry.EINVALID, "(Tree=0): no num_leaves"},
		{"zero leaves", binary, "num_leaves=3\n", "num_leaves=0\n", ferry.EINVALID, "num_leaves=0 is not an integer >= 1"},
		{"no num_cat", binary, "num_leaves=2\nnum_cat=0\n", "num_leaves=2\n", ferry.EINVALID, "(Tree=1): no num_cat"},
		{"too few leaf values", binary, "leaf_value=0.40000000000000002 -0.20000000000000001 0.10000000000000001", "leaf_value=0.4 -0.2", ferry.EINVALID, "leaf_value has 2 values; want 3"},
		{"too many leaves declared", binary, "num_leaves=3\n", "num_leaves=2147483647\n", ferry.EINVALID, "leaf_value has 3 values; want 2147483647"},
		{"missing right_child", binary, "right_child=1 -3\n", "", ferry.EINVALID, "no right_child"},
		{"bad threshold", binary, "threshold=-0.49999999999999994", "threshold=minus-half", ferry.EINVALID, `threshold value 1 ("minus-half") is not a number`},
		{"split feature out of range", binary, "split_feature=0 1\n", "split_feature=0 2\n", ferry.EINVALID, "node 1 splits on feature 2; the model has 2 features"},
		{"negative split feature", binary, "split_feature=0 1\n", "split_feature=0 -1\n", ferry.EINVALID, "split_feature value 2"},
		{"child out of range", binary, "right_child=1 -3", "right_child=2 -3", ferry.EINVALID, "node 0 has child node 2"},
		{"leaf out of range", binary, "right_child=1 -3", "right_child=1 -4", ferry.EINVALID, "child leaf 3"},
		{"cycle", binary, "left_child=-1 -2", "left_child=-1 0", ferry.EINVALID, "node 0 is reached twice"},
		{"self loop", binary, "right_child=1 -3", "right_child=0 -3", ferry.EINVALID, "node 0 is reached twice"},
		{"leaf twice", binary, "left_child=-1 -2", "left_child=-1 -1", ferry.EINVALID, "leaf 0 is reached twice"},
		{"unreachable node", binary, "left_child=-1 -2\nright_child=1 -3", "left_child=-1 -2\nright_child=-3 -2", ferry.EINVALID, "node 1 is not reachable from the root"},
		{"decision type", binary, "decision_type=10 4", "decision_type=10 12", ferry.EINVALID, "decision_type 12 of node 1"},
		{"decision type too big", binary, "decision_type=10 4", "decision_type=10 200", ferry.EINVALID, "decision_type 200 of node 1"},
		{"categorical without bitsets", binary, "decision_type=10 4", "decision_type=11 4", ferry.EINVALID, "categorical node 0 names bitset"},
		{"not key=value", binary, "is_linear=0\nshrinkage=1\n", "is_linear=0\nshrinkage\n", ferry.EINVALID, `Tree=0: "shrinkage" is not a key=value line`},
		{"key twice in a tree", binary, "is_linear=0\nshrinkage=1\n", "is_linear=0\nshrinkage=1\nshrinkage=1\n", ferry.EINVALID, "Tree=0: shrinkage appears twice"},
		{"linear tree without its leaf models", binary, "is_linear=0\nshrinkage=1\n", "is_linear=1\nshrinkage=1\n", ferry.EINVALID, "Tree=0): no leaf_const"},
		{"multiclass trees not a multiple", multi, "Tree=5\n", "Tree=5\nnum_leaves=1\nnum_cat=0\nleaf_value=0\n\nTree=6\n", ferry.EINVALID, "7 trees, not a multiple of num_tree_per_iteration=3"},
		{"multiclass class mismatch", multi, "objective=multiclass num_class:3", "objective=multiclass num_class:4", ferry.EINVALID, "objective multiclass num_class:4 has 4 classes"},
		{"binary with several trees per iteration", binary, "num_tree_per_iteration=1", "num_tree_per_iteration=3", ferry.EINVALID, "has one output, but num_tree_per_iteration=3"},
		{"cat boundaries count", categorical, "cat_boundaries=0 2\n", "cat_boundaries=0 1 2\n", ferry.EINVALID, "cat_boundaries has 3 values; want 2"},
		{"cat boundaries start", categorical, "cat_boundaries=0 2\n", "cat_boundaries=1 2\n", ferry.EINVALID, "cat_boundaries must start at 0"},
		{"cat threshold count", categorical, "cat_threshold=6 2\n", "cat_threshold=6\n", ferry.EINVALID, "cat_threshold has 1 values; cat_boundaries ends at 2"},
		{"cat threshold word", categorical, "cat_threshold=6 2\n", "cat_threshold=6 4294967296\n", ferry.EINVALID, "not a 32-bit bitset word"},
		{"bitset index", categorical, "threshold=0 100.00000000000001", "threshold=1 100.00000000000001", ferry.EINVALID, "categorical node 0 names bitset 1; the tree has 1"},
		{"fractional bitset index", categorical, "threshold=0 100.00000000000001", "threshold=0.5 100.00000000000001", ferry.EINVALID, "names bitset 0.5"},
		{"pandas categorical", binary, "pandas_categorical:null", "pandas_categorical:[[", ferry.EINVALID, "pandas_categorical: not a JSON list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(string(tt.base), tt.old, tt.new, 1)
			if text == string(tt.base) {
				t.Fatalf("%q is not in the model", tt.old)
			}
			_, err := lightgbm.Parse([]byte(text))
			if err == nil {
				t.Fatal("no error")
			}
			if code := ferry.ErrorCode(err); code != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (%s), want %s saying %q", err, code, tt.code, tt.want)
			}
		})
	}
}

func TestPredictErrors(t *testing.T) {
	ctx := context.Background()
	m := load(t, "binary.txt")
	age := column("age", 25, 40)
	tests := []struct {
		name   string
		inputs []runtime.Tensor
		want   string
	}{
		{"missing input", []runtime.Tensor{age}, `missing input "annual_income" (feature 2 of 2); the model's inputs are "age", "annual_income"`},
		{"given twice", []runtime.Tensor{age, age, column("annual_income", 1, 2)}, `input "age" is given twice`},
		{"BYTES for a number", []runtime.Tensor{age, {Name: "annual_income", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"1", "2"}}}, `input "annual_income" is BYTES; feature "annual_income" is numeric`},
		{"unknown datatype", []runtime.Tensor{age, {Name: "annual_income", Datatype: "UINT8", Shape: []int64{2}}}, `input "annual_income" has unknown datatype "UINT8"`},
		{"rows differ", []runtime.Tensor{age, column("annual_income", 1, 2, 3)}, `input "annual_income" has 3 rows, but input "age" has 2`},
		{"shape does not fit", []runtime.Tensor{age, {Name: "annual_income", Datatype: runtime.FP64, Shape: []int64{3}, FP64: []float64{1, 2}}}, `input "annual_income" has shape [3] but 2 values`},
		{"not a column", []runtime.Tensor{age, {Name: "annual_income", Datatype: runtime.FP64, Shape: []int64{1, 2}, FP64: []float64{1, 2}}}, `input "annual_income" has shape [1 2]`},
		{"matrix of the wrong size", []runtime.Tensor{{Name: "input", Datatype: runtime.FP64, Shape: []int64{3, 2}, FP64: []float64{1, 2}}}, `input "input" has shape [3 2] but 2 values`},
		{"matrix of strings", []runtime.Tensor{{Name: "input", Datatype: runtime.BYTES, Shape: []int64{1, 2}, Str: []string{"1", "2"}}}, `input "input" is BYTES`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Predict(ctx, tt.inputs)
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := m.Predict(ctx, []runtime.Tensor{age, column("annual_income", 1, 2)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no rows", func(t *testing.T) {
		got := predict(t, m, column("age"), column("annual_income"))
		if len(got.FP64) != 0 || !slices.Equal(got.Shape, []int64{0}) {
			t.Fatalf("got %+v", got)
		}
	})
}

// TestLargeBatch scores more rows than one block, across goroutines, and
// compares with row-by-row predictions.
func TestLargeBatch(t *testing.T) {
	m := load(t, "regression_categorical.txt")
	const n = 5000
	color := make([]float64, n)
	size := make([]float64, n)
	for i := range n {
		color[i] = float64(i%40 - 3)
		size[i] = float64(i % 300)
	}
	got := predict(t, m, column("color", color...), column("size", size...))
	out := make([]float64, 1)
	for i := range n {
		m.Booster().Predict([]float64{color[i], size[i]}, out)
		if got.FP64[i] != out[0] {
			t.Fatalf("row %d: batch %v, row %v", i, got.FP64[i], out[0])
		}
	}
}

// TestCRLF: a model file saved with Windows line endings reads the same.
func TestCRLF(t *testing.T) {
	data, err := os.ReadFile("testdata/multiclass.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lightgbm.Parse(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	in := []runtime.Tensor{column("x", 0, 2.5, nan, 10), column("y", -1, 5, nan, 0)}
	got := predict(t, lightgbm.New(b), in...)
	want := predict(t, load(t, "multiclass.txt"), in...)
	if !slices.Equal(got.FP64, want.FP64) {
		t.Fatalf("CRLF %v, LF %v", got.FP64, want.FP64)
	}
}

// TestLinearTree: linearModel (fuzz_test.go) splits on x <= 0.5 (missing
// NaN, default left); leaf 0 is 0.5 + 2·y, leaf 1 is -1 + 0.5·x - 3·y, and a
// leaf whose model reads a NaN feature gives its leaf_value (1, 2).
func TestLinearTree(t *testing.T) {
	b, err := lightgbm.Parse([]byte(linearModel))
	if err != nil {
		t.Fatal(err)
	}
	got := predict(t, lightgbm.New(b), column("x", 0, 1, nan, 1, 0.2, nan), column("y", 1, 2, 0.5, nan, nan, nan))
	want := []float64{
		0.5 + 2*1,      // x=0: leaf 0
		-1 + 0.5 - 3*2, // x=1: leaf 1
		0.5 + 2*0.5,    // x NaN goes left; leaf 0 reads only y
		2,              // leaf 1 reads y, NaN: leaf_value
		1,              // leaf 0 reads y, NaN: leaf_value
		1,              // NaN, NaN: left, leaf_value
	}
	if !near(got.FP64, want) {
		t.Fatalf("got %v, want %v", got.FP64, want)
	}
}
