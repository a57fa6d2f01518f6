//go:build onnx && cgo

package onnx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/onnx"
)

// tolerance is how far Ferry's outputs may be from PyTorch's.
const tolerance = 1e-5

// library returns the ONNX Runtime library named by FERRY_ONNXRUNTIME_LIB. It
// skips the test when there is none, or fails it under CI (CI set), where
// .ci/onnx.sh provides the library.
func library(t *testing.T) string {
	t.Helper()
	lib := onnx.LibraryFromEnv(os.Environ())
	problem := ""
	if lib == "" {
		problem = "FERRY_ONNXRUNTIME_LIB is not set"
	} else if _, err := os.Stat(lib); err != nil {
		problem = fmt.Sprintf("FERRY_ONNXRUNTIME_LIB=%s: %v", lib, err)
	}
	if problem == "" {
		return lib
	}
	msg := problem + "; run `source .ci/onnx.sh` first, which fetches libonnxruntime.so.1 (ONNX Runtime 1.24.1, npm onnxruntime-node) into the CI cache and sets it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// load loads the model package in dir with the ONNX runtime and closes it
// when the test ends.
func load(t *testing.T, dir string, opts ...onnx.Option) runtime.Model {
	t.Helper()
	lib := library(t)
	pkg, err := model.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(context.Background(), pkg, append([]onnx.Option{onnx.WithLibrary(lib)}, opts...)...)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// wireTensor is a tensor of parity.json, in V2's JSON shape.
type wireTensor struct {
	Name     string    `json:"name"`
	Datatype string    `json:"datatype"`
	Shape    []int64   `json:"shape"`
	Data     []float64 `json:"data"`
}

func (w wireTensor) tensor() runtime.Tensor {
	t := runtime.Tensor{Name: w.Name, Datatype: w.Datatype, Shape: w.Shape}
	switch w.Datatype {
	case runtime.FP32:
		t.FP32 = make([]float32, len(w.Data))
		for i, v := range w.Data {
			t.FP32[i] = float32(v)
		}
	case runtime.FP64:
		t.FP64 = w.Data
	case runtime.INT64, runtime.INT32:
		t.Int = make([]int64, len(w.Data))
		for i, v := range w.Data {
			t.Int[i] = int64(v)
		}
	}
	return t
}

type parityCase struct {
	Batch   int          `json:"batch"`
	Inputs  []wireTensor `json:"inputs"`
	Outputs []wireTensor `json:"outputs"`
}

// parity reads the inputs and PyTorch's outputs that testdata/gen.py wrote.
func parity(t *testing.T) map[string][]parityCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/parity.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]parityCase{}
	for _, name := range []string{"mlp", "mixed"} {
		var cases []parityCase
		if err := json.Unmarshal(doc[name], &cases); err != nil {
			t.Fatalf("parity.json %s: %v", name, err)
		}
		out[name] = cases
	}
	return out
}

func inputsOf(c parityCase) []runtime.Tensor {
	in := make([]runtime.Tensor, len(c.Inputs))
	for i, w := range c.Inputs {
		in[i] = w.tensor()
	}
	return in
}

// maxDiff compares got with PyTorch's outputs and returns the largest absolute
// difference; names, datatypes and shapes must be equal.
func maxDiff(got []runtime.Tensor, want []wireTensor) (float64, error) {
	if len(got) != len(want) {
		return 0, fmt.Errorf("got %d outputs, want %d", len(got), len(want))
	}
	worst := 0.0
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !reflect.DeepEqual(g.Shape, w.Shape) {
			return 0, fmt.Errorf("output %d is %s %s %v, want %s %s %v", i, g.Name, g.Datatype, g.Shape, w.Name, w.Datatype, w.Shape)
		}
		if g.Len() != len(w.Data) {
			return 0, fmt.Errorf("output %s has %d values, want %d", w.Name, g.Len(), len(w.Data))
		}
		for j, v := range w.Data {
			d := math.Abs(g.Float(j) - v)
			if math.IsNaN(d) {
				return 0, fmt.Errorf("output %s[%d] = %v, want %v", w.Name, j, g.Float(j), v)
			}
			worst = max(worst, d)
		}
	}
	return worst, nil
}

func TestParityWithPyTorch(t *testing.T) {
	cases := parity(t)
	for _, name := range []string{"mlp", "mixed"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, filepath.Join("testdata", name))
			worst := 0.0
			for _, c := range cases[name] {
				t.Run(fmt.Sprintf("batch=%d", c.Batch), func(t *testing.T) {
					got, err := m.Predict(context.Background(), inputsOf(c))
					if err != nil {
						t.Fatal(err)
					}
					d, err := maxDiff(got, c.Outputs)
					if err != nil {
						t.Fatal(err)
					}
					if d > tolerance {
						t.Errorf("max |ferry - torch| = %g, want <= %g", d, tolerance)
					}
					worst = max(worst, d)
				})
			}
			t.Logf("%s: max |ferry - torch| = %.3g over %d batches", name, worst, len(cases[name]))
		})
	}
}

// TestConcurrentPredict scores the parity cases from many goroutines at once
// on one model; each result must still match PyTorch.
func TestConcurrentPredict(t *testing.T) {
	cases := parity(t)["mlp"]
	m := load(t, "testdata/mlp", onnx.WithIntraOpThreads(1))
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				c := cases[(w+r)%len(cases)]
				got, err := m.Predict(context.Background(), inputsOf(c))
				if err == nil {
					var d float64
					if d, err = maxDiff(got, c.Outputs); err == nil && d > tolerance {
						err = fmt.Errorf("max diff %g", d)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMLflowPackage loads the models through MLflow-style packages (MLmodel
// with the onnx flavor, data model.onnx, providers) and checks the metadata
// read from the graph against the MLmodel's tensor signature.
func TestMLflowPackage(t *testing.T) {
	t.Run("mlp with signature", func(t *testing.T) {
		pkg, err := model.Load(context.Background(), "testdata/mlp")
		if err != nil {
			t.Fatal(err)
		}
		fl, err := pkg.Manifest.ONNX()
		if err != nil {
			t.Fatal(err)
		}
		if fl.Data != "model.onnx" || fl.ONNXVersion != "1.12.0" || !reflect.DeepEqual(fl.Providers, []string{"CPUExecutionProvider"}) {
			t.Fatalf("onnx flavor = %+v", fl)
		}
		m := load(t, "testdata/mlp")
		md := m.Metadata()
		want := runtime.Metadata{
			Platform: "onnx",
			Inputs:   []runtime.TensorSpec{{Name: "features", Datatype: runtime.FP32, Shape: []int64{-1, 8}}},
			Outputs:  []runtime.TensorSpec{{Name: "probabilities", Datatype: runtime.FP32, Shape: []int64{-1, 3}}},
		}
		if !reflect.DeepEqual(md, want) {
			t.Fatalf("Metadata = %+v, want %+v", md, want)
		}
		sig := pkg.Manifest.Signature
		if !sig.IsTensorBased() {
			t.Fatal("the MLmodel has no tensor signature")
		}
		for i, sp := range sig.Inputs {
			got := md.Inputs[i]
			if sp.Name != got.Name || sp.DType != "float32" || !reflect.DeepEqual(sp.Shape, got.Shape) {
				t.Errorf("signature input %+v disagrees with metadata %+v", sp, got)
			}
		}
		for i, sp := range sig.Outputs {
			got := md.Outputs[i]
			if sp.Name != got.Name || !reflect.DeepEqual(sp.Shape, got.Shape) {
				t.Errorf("signature output %+v disagrees with metadata %+v", sp, got)
			}
		}
		// Probabilities of each row sum to one.
		in := runtime.Tensor{Name: "features", Datatype: runtime.FP32, Shape: []int64{2, 8}, FP32: make([]float32, 16)}
		for i := range in.FP32 {
			in.FP32[i] = float32(i%5) - 2
		}
		out, err := m.Predict(context.Background(), []runtime.Tensor{in})
		if err != nil {
			t.Fatal(err)
		}
		for r := range 2 {
			s := 0.0
			for c := range 3 {
				s += out[0].Float(r*3 + c)
			}
			if math.Abs(s-1) > 1e-6 {
				t.Errorf("row %d probabilities sum to %v", r, s)
			}
		}
	})
	t.Run("mixed without signature", func(t *testing.T) {
		m := load(t, "testdata/mixed")
		want := runtime.Metadata{
			Platform: "onnx",
			Inputs: []runtime.TensorSpec{
				{Name: "x", Datatype: runtime.FP64, Shape: []int64{-1, 4}},
				{Name: "scale", Datatype: runtime.INT64, Shape: []int64{-1, 1}},
			},
			Outputs: []runtime.TensorSpec{
				{Name: "y", Datatype: runtime.FP64, Shape: []int64{-1, 1}},
				{Name: "positive", Datatype: runtime.INT64, Shape: []int64{-1}},
			},
		}
		if md := m.Metadata(); !reflect.DeepEqual(md, want) {
			t.Fatalf("Metadata = %+v, want %+v", md, want)
		}
	})
	t.Run("registry", func(t *testing.T) {
		lib := library(t)
		pkg, err := model.Load(context.Background(), "testdata/mlp")
		if err != nil {
			t.Fatal(err)
		}
		reg := runtime.Registry{model.FlavorONNX: onnx.Loader(onnx.WithLibrary(lib))}
		m, err := reg.Load(context.Background(), pkg)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if p := m.Metadata().Platform; p != onnx.Platform {
			t.Errorf("Platform = %q", p)
		}
	})
}

// TestInputConversion feeds inputs of other numeric datatypes than the graph
// takes; values that convert without change are accepted.
func TestInputConversion(t *testing.T) {
	cases := parity(t)
	mlp := load(t, "testdata/mlp")
	mixed := load(t, "testdata/mixed")

	c := cases["mlp"][1]
	fp32 := c.Inputs[0].tensor()
	asFP64 := runtime.Tensor{Name: "features", Datatype: runtime.FP64, Shape: fp32.Shape, FP64: c.Inputs[0].Data}
	unnamed := fp32
	unnamed.Name = ""
	for name, in := range map[string]runtime.Tensor{"FP64 for FP32": asFP64, "unnamed single input": unnamed} {
		t.Run(name, func(t *testing.T) {
			got, err := mlp.Predict(context.Background(), []runtime.Tensor{in})
			if err != nil {
				t.Fatal(err)
			}
			if d, err := maxDiff(got, c.Outputs); err != nil || d > tolerance {
				t.Fatalf("diff %g, %v", d, err)
			}
		})
	}

	t.Run("FP64 whole numbers for INT64, FP32 for FP64", func(t *testing.T) {
		c := cases["mixed"][1]
		x, scale := c.Inputs[0].tensor(), c.Inputs[1].tensor()
		scaleF := runtime.Tensor{Name: "scale", Datatype: runtime.FP64, Shape: scale.Shape, FP64: c.Inputs[1].Data}
		got, err := mixed.Predict(context.Background(), []runtime.Tensor{scaleF, x}) // any order
		if err != nil {
			t.Fatal(err)
		}
		if d, err := maxDiff(got, c.Outputs); err != nil || d > tolerance {
			t.Fatalf("diff %g, %v", d, err)
		}
		x32 := runtime.Tensor{Name: "x", Datatype: runtime.FP32, Shape: x.Shape, FP32: make([]float32, len(x.FP64))}
		for i, v := range x.FP64 {
			x32.FP32[i] = float32(v)
		}
		got, err = mixed.Predict(context.Background(), []runtime.Tensor{x32, scale})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := maxDiff(got, c.Outputs); err != nil || d > 1e-5 { // float32 rounding of x
			t.Fatalf("diff %g, %v", d, err)
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		got, err := mlp.Predict(context.Background(), []runtime.Tensor{{Name: "features", Datatype: runtime.FP32, Shape: []int64{0, 8}, FP32: []float32{}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0].Shape, []int64{0, 3}) || got[0].FP32 == nil || got[0].Len() != 0 {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestPredictErrors(t *testing.T) {
	mlp := load(t, "testdata/mlp")
	mixed := load(t, "testdata/mixed")
	features := func(shape []int64, n int) runtime.Tensor {
		return runtime.Tensor{Name: "features", Datatype: runtime.FP32, Shape: shape, FP32: make([]float32, n)}
	}
	x := runtime.Tensor{Name: "x", Datatype: runtime.FP64, Shape: []int64{1, 4}, FP64: make([]float64, 4)}
	x2 := runtime.Tensor{Name: "x", Datatype: runtime.FP64, Shape: []int64{2, 4}, FP64: make([]float64, 8)}
	tests := []struct {
		name  string
		model runtime.Model
		in    []runtime.Tensor
		want  string
	}{
		{"unknown input", mlp, []runtime.Tensor{features([]int64{1, 8}, 8), {Name: "extra", Datatype: runtime.FP32, Shape: []int64{1}, FP32: []float32{1}}}, `unknown input "extra"`},
		{"missing input", mixed, []runtime.Tensor{x}, `missing input "scale"`},
		{"no inputs", mlp, nil, `missing input "features"`},
		{"twice", mlp, []runtime.Tensor{features([]int64{1, 8}, 8), features([]int64{1, 8}, 8)}, "given twice"},
		{"wrong rank", mlp, []runtime.Tensor{features([]int64{8}, 8)}, "has shape [8]; the model takes [-1 8]"},
		{"wrong width", mlp, []runtime.Tensor{features([]int64{2, 4}, 8)}, "has shape [2 4]; the model takes [-1 8]"},
		{"negative dimension", mlp, []runtime.Tensor{features([]int64{-1, 8}, 8)}, "negative dimension"},
		{"data shorter than shape", mlp, []runtime.Tensor{features([]int64{2, 8}, 8)}, "has 8 values; its shape [2 8] holds 16"},
		{"datatype without data", mlp, []runtime.Tensor{{Name: "features", Datatype: runtime.FP32, Shape: []int64{1, 8}, FP64: make([]float64, 8)}}, "has 0 values"},
		{"bool for float", mlp, []runtime.Tensor{{Name: "features", Datatype: runtime.BOOL, Shape: []int64{1, 8}, Bool: make([]bool, 8)}}, "is BOOL; the model takes FP32"},
		{"strings for float", mlp, []runtime.Tensor{{Name: "features", Datatype: runtime.BYTES, Shape: []int64{1, 8}, Str: make([]string, 8)}}, "is BYTES; the model takes FP32"},
		{"unknown datatype", mlp, []runtime.Tensor{{Name: "features", Datatype: "FP16", Shape: []int64{1, 8}}}, `unknown datatype "FP16"`},
		{"fraction for int64", mixed, []runtime.Tensor{x, {Name: "scale", Datatype: runtime.FP64, Shape: []int64{1, 1}, FP64: []float64{1.5}}}, "takes whole numbers"},
		{"NaN for int64", mixed, []runtime.Tensor{x, {Name: "scale", Datatype: runtime.FP32, Shape: []int64{1, 1}, FP32: []float32{float32(math.NaN())}}}, "takes whole numbers"},
		{"batch sizes differ", mixed, []runtime.Tensor{x2, {Name: "scale", Datatype: runtime.INT64, Shape: []int64{3, 1}, Int: []int64{1, 2, 3}}}, "ONNX Runtime could not score the input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.model.Predict(context.Background(), tt.in)
			if err == nil {
				t.Fatalf("Predict = %+v, want an error", out)
			}
			if code := ferry.ErrorCode(err); code != ferry.EINVALID {
				t.Errorf("code = %s (%v), want EINVALID", code, err)
			}
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
}

// TestNonTensorOutputLeftOut loads a graph with a sequence output beside a
// float and a bool output: the sequence is left out, with a note in the log.
func TestNonTensorOutputLeftOut(t *testing.T) {
	var logged strings.Builder
	m := load(t, "testdata/seqout", onnx.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	want := runtime.Metadata{
		Platform: "onnx",
		Inputs:   []runtime.TensorSpec{{Name: "x", Datatype: runtime.FP32, Shape: []int64{-1, 2}}},
		Outputs: []runtime.TensorSpec{
			{Name: "y", Datatype: runtime.FP32, Shape: []int64{-1, 2}},
			{Name: "positive", Datatype: runtime.BOOL, Shape: []int64{-1, 2}},
		},
	}
	if md := m.Metadata(); !reflect.DeepEqual(md, want) {
		t.Fatalf("Metadata = %+v, want %+v", md, want)
	}
	if !strings.Contains(logged.String(), "output left out") || !strings.Contains(logged.String(), "output=s") {
		t.Errorf("log does not note the left-out output:\n%s", logged.String())
	}
	got, err := m.Predict(context.Background(), []runtime.Tensor{{Name: "x", Datatype: runtime.FP32, Shape: []int64{2, 2}, FP32: []float32{1, -1, 0, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	wantOut := []runtime.Tensor{
		{Name: "y", Datatype: runtime.FP32, Shape: []int64{2, 2}, FP32: []float32{1, -1, 0, 2}},
		{Name: "positive", Datatype: runtime.BOOL, Shape: []int64{2, 2}, Bool: []bool{true, false, false, true}},
	}
	if !reflect.DeepEqual(got, wantOut) {
		t.Errorf("Predict = %+v, want %+v", got, wantOut)
	}
}

func TestPredictCancelledAndClosed(t *testing.T) {
	lib := library(t)
	pkg, err := model.Load(context.Background(), "testdata/mlp")
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(context.Background(), pkg, onnx.WithLibrary(lib))
	if err != nil {
		t.Fatal(err)
	}
	in := []runtime.Tensor{{Name: "features", Datatype: runtime.FP32, Shape: []int64{1, 8}, FP32: make([]float32, 8)}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, in); err != context.Canceled {
		t.Errorf("Predict with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := m.Predict(context.Background(), in); err != nil {
		t.Fatalf("Predict: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Predict(context.Background(), in); ferry.ErrorCode(err) != ferry.EUNAVAILABLE {
		t.Errorf("Predict after Close: %v, want EUNAVAILABLE", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// writePackage writes an MLmodel with an onnx flavor naming data, and files.
func writePackage(t *testing.T, data string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	mlmodel := "artifact_path: model\nflavors:\n  onnx:\n    data: " + data + "\n    providers:\n    - CUDAExecutionProvider\n    - CPUExecutionProvider\n"
	if data == "" {
		mlmodel = "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n    python_model: python_model.pkl\n"
	}
	files["MLmodel"] = mlmodel
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	lib := library(t)
	graph, err := os.ReadFile("testdata/mlp/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		opts []onnx.Option
		code string
		want string
	}{
		{"no onnx flavor", writePackage(t, "", map[string]string{"python_model.pkl": "x"}), nil, ferry.ENOTFOUND, "no onnx flavor"},
		{"data file missing", writePackage(t, "model.onnx", map[string]string{}), nil, ferry.ENOTFOUND, "not in the package"},
		{"not a graph", writePackage(t, "model.onnx", map[string]string{"model.onnx": "not an onnx graph"}), nil, ferry.EINVALID, "not a graph ONNX Runtime"},
		{"another library", writePackage(t, "model.onnx", map[string]string{"model.onnx": string(graph)}),
			[]onnx.Option{onnx.WithLibrary(filepath.Join(t.TempDir(), "libonnxruntime.so.1"))}, ferry.EINVALID, "ONNX Runtime"},
	}
	// Make sure the library is loaded first, so that "another library" meets
	// a loaded runtime whatever the order tests run in.
	load(t, "testdata/mlp")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkg, err := model.Load(context.Background(), tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			opts := tt.opts
			if opts == nil {
				opts = []onnx.Option{onnx.WithLibrary(lib)}
			}
			m, err := onnx.Load(context.Background(), pkg, opts...)
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded, want an error")
			}
			if code := ferry.ErrorCode(err); code != tt.code {
				t.Errorf("code = %s (%v), want %s", code, err, tt.code)
			}
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
	t.Run("no library option after load uses the loaded one", func(t *testing.T) {
		pkg, err := model.Load(context.Background(), "testdata/mixed")
		if err != nil {
			t.Fatal(err)
		}
		m, err := onnx.Load(context.Background(), pkg)
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
	})
}
