package native_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	nativemodel "github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/train/gbdt"
	"github.com/ferry-ml/ferry/internal/train/linear"
)

// base is the first timestamp of the test data.
var base = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// testFrame returns n rows of raw inputs — x (numeric, some missing), city
// (categorical, some missing), zone (categorical whose levels are numbers),
// when (timestamp, some missing) — and three targets: label (binary), kind
// (three classes) and amount (numeric).
func testFrame(t *testing.T, n int, seed uint64) *dataset.Frame {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	cities := []string{"oslo", "rome", "lima"}
	x := make([]float64, n)
	city := make([]string, n)
	zone := make([]string, n)
	when := make([]time.Time, n)
	label := make([]string, n)
	kind := make([]string, n)
	amount := make([]float64, n)
	for i := range n {
		x[i] = math.Round(rng.NormFloat64()*100) / 10
		c := rng.IntN(3)
		city[i] = cities[c]
		z := rng.IntN(3) + 1
		zone[i] = []string{"1", "2", "3"}[z-1]
		when[i] = base.Add(time.Duration(rng.IntN(24*30)) * time.Hour)
		score := x[i] + float64(c) - 1 + float64(z)/2 + float64(when[i].Hour())/12 + rng.NormFloat64()
		label[i] = "no"
		if score > 1.5 {
			label[i] = "yes"
		}
		kind[i] = []string{"a", "b", "c"}[min(2, max(0, int(score/2)+1))]
		amount[i] = 3*x[i] + 5*float64(c) - float64(z) + rng.NormFloat64()
		if i%11 == 3 {
			x[i] = math.NaN()
		}
		if i%13 == 5 {
			city[i] = ""
		}
		if i%17 == 6 {
			when[i] = time.Time{}
		}
	}
	f, err := dataset.NewFrame(
		dataset.NewNumeric("x", x), dataset.NewCategorical("city", city), dataset.NewCategorical("zone", zone),
		dataset.NewTimestamp("when", when),
		dataset.NewCategorical("label", label), dataset.NewCategorical("kind", kind), dataset.NewNumeric("amount", amount),
	)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// trainPipeline trains a pipeline on f as the built-in trainers do:
// gbdt for the classification targets, linear for amount.
func trainPipeline(t *testing.T, f *dataset.Frame, task, target string) *nativemodel.Pipeline {
	t.Helper()
	ctx := context.Background()
	specs, err := nativemodel.ParseFeatures(f, []string{"x", "city", "zone", "when:hour", "when:weekday"}, target)
	if err != nil {
		t.Fatal(err)
	}
	feats, err := nativemodel.BuildFeatures(f, specs)
	if err != nil {
		t.Fatal(err)
	}
	col, err := f.Col(target)
	if err != nil {
		t.Fatal(err)
	}
	y, classes, err := nativemodel.Labels(col, task, "")
	if err != nil {
		t.Fatal(err)
	}
	p := &nativemodel.Pipeline{FormatVersion: nativemodel.PipelineFormatVersion, Task: task, Target: target, ClassLabels: classes, Features: specs}
	if task == model.TaskRegression {
		enc := nativemodel.FitEncoder(feats)
		lin, err := linear.Train(ctx, task, 0, enc.Encode(feats), y, linear.DefaultParams(), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Trainer, p.Linear, p.Encoder = train.TrainerLinear, lin, enc
		return p
	}
	obj := nativemodel.ObjectiveBinary
	if task == model.TaskMulticlass {
		obj = nativemodel.ObjectiveMulticlass
	}
	gp := gbdt.DefaultParams(obj)
	gp.NumRounds, gp.MaxDepth, gp.Seed = 15, 4, 1
	g, err := gbdt.Train(ctx, &gbdt.Data{Features: feats, Label: y}, nil, gp, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Trainer, p.GBDT = train.TrainerGBDT, g
	return p
}

// writePackage writes pipe as Ferry's trainer does — MLmodel with the ferry
// flavor, model.json — and loads it back with model.Load.
func writePackage(t *testing.T, pipe *nativemodel.Pipeline) *model.Package {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "model")
	b, err := model.NewBuilder(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	body, err := pipe.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddFile(ctx, "model.json", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	m := &model.Manifest{ArtifactPath: "model", UTCTimeCreated: base, Metadata: map[string]any{"ferry_task": pipe.Task}}
	m.SetFlavor(model.FerryFlavor{Trainer: pipe.Trainer, Data: "model.json", FormatVersion: nativemodel.PipelineFormatVersion})
	if _, err := b.Finish(ctx, m, model.FerryInfo{Task: pipe.Task, ClassLabels: pipe.ClassLabels}); err != nil {
		t.Fatal(err)
	}
	pkg, err := model.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// tensors turns the input columns of f into tensors the way a client sends
// them: numbers as FP64, categories and RFC 3339 timestamps as BYTES, ""
// for a missing category or timestamp.
func tensors(f *dataset.Frame, names ...string) []runtime.Tensor {
	var out []runtime.Tensor
	for _, name := range names {
		c, _ := f.Col(name)
		n := int64(c.Len())
		switch c.Kind {
		case dataset.KindNumeric:
			out = append(out, runtime.Tensor{Name: name, Datatype: runtime.FP64, Shape: []int64{n}, FP64: c.Num})
		default:
			s := make([]string, n)
			for i := range s {
				if !c.IsMissing(i) {
					s[i] = c.String(i)
				}
			}
			out = append(out, runtime.Tensor{Name: name, Datatype: runtime.BYTES, Shape: []int64{n}, Str: s})
		}
	}
	return out
}

var inputNames = []string{"x", "city", "zone", "when"}

// TestPredictMatchesPipeline loads real packages of each task and checks
// that the runtime's predictions are the pipeline's on the same frame.
func TestPredictMatchesPipeline(t *testing.T) {
	ctx := context.Background()
	trainFrame := testFrame(t, 400, 1)
	scoreFrame := testFrame(t, 57, 2)
	tests := []struct {
		task, target string
		outputs      []runtime.TensorSpec
	}{
		{model.TaskBinary, "label", []runtime.TensorSpec{
			{Name: "probability", Datatype: runtime.FP64, Shape: []int64{-1}},
			{Name: "label", Datatype: runtime.BYTES, Shape: []int64{-1}},
		}},
		{model.TaskMulticlass, "kind", []runtime.TensorSpec{
			{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{-1, 3}},
			{Name: "label", Datatype: runtime.BYTES, Shape: []int64{-1}},
		}},
		{model.TaskRegression, "amount", []runtime.TensorSpec{
			{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{-1}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			pipe := trainPipeline(t, trainFrame, tt.task, tt.target)
			pkg := writePackage(t, pipe)
			m, err := runtime.Registry{model.FlavorFerry: native.Load}.Load(ctx, pkg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()

			md := m.Metadata()
			wantInputs := []runtime.TensorSpec{
				{Name: "x", Datatype: runtime.FP64, Shape: []int64{-1}},
				{Name: "city", Datatype: runtime.BYTES, Shape: []int64{-1}},
				{Name: "zone", Datatype: runtime.BYTES, Shape: []int64{-1}},
				{Name: "when", Datatype: runtime.BYTES, Shape: []int64{-1}},
			}
			if md.Platform != "ferry_native" || !equalSpecs(md.Inputs, wantInputs) || !equalSpecs(md.Outputs, tt.outputs) {
				t.Fatalf("metadata = %+v", md)
			}
			checkSignature(t, pipe.Signature(), md)

			want, err := pipe.Predict(ctx, scoreFrame)
			if err != nil {
				t.Fatal(err)
			}
			// Inputs in another order than the metadata's, plus a column the
			// model does not read (the target).
			in := tensors(scoreFrame, "when", "zone", "city", "x", tt.target)
			out, err := m.Predict(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			n := scoreFrame.Len()
			if len(out) != len(tt.outputs) {
				t.Fatalf("%d outputs, want %d", len(out), len(tt.outputs))
			}
			for i, o := range out {
				if o.Name != tt.outputs[i].Name || o.Datatype != tt.outputs[i].Datatype || o.Shape[0] != int64(n) {
					t.Fatalf("output %d = %s %s %v", i, o.Name, o.Datatype, o.Shape)
				}
			}
			if !slices.Equal(out[0].FP64, want) {
				t.Fatalf("predictions differ from the pipeline's:\n got %v\nwant %v", out[0].FP64[:5], want[:5])
			}
			switch tt.task {
			case model.TaskBinary:
				for i, p := range want {
					wantLabel := pipe.ClassLabels[0]
					if p > 0.5 {
						wantLabel = pipe.ClassLabels[1]
					}
					if out[1].Str[i] != wantLabel {
						t.Fatalf("row %d: label %q for probability %v", i, out[1].Str[i], p)
					}
				}
			case model.TaskMulticlass:
				if !slices.Equal(out[0].Shape, []int64{int64(n), 3}) {
					t.Fatalf("probabilities shape %v", out[0].Shape)
				}
				for i := range n {
					row := want[i*3 : i*3+3]
					best := 0
					for c := range row {
						if row[c] > row[best] {
							best = c
						}
					}
					if out[1].Str[i] != pipe.ClassLabels[best] {
						t.Fatalf("row %d: label %q for probabilities %v", i, out[1].Str[i], row)
					}
				}
			}
		})
	}
}

// checkSignature checks that the signature the trainer writes declares what
// the runtime serves: each input and output, in order, with the column type
// of its datatype and shape.
func checkSignature(t *testing.T, sig *model.Signature, md runtime.Metadata) {
	t.Helper()
	if err := sig.Validate(); err != nil {
		t.Fatal(err)
	}
	columnType := func(ts runtime.TensorSpec, sp model.Spec) bool {
		switch {
		case ts.Datatype == runtime.FP64 && len(ts.Shape) == 2:
			return sp.Type == model.TypeArray && string(sp.Composite) == `{"type": "array", "items": {"type": "double"}}`
		case ts.Datatype == runtime.FP64:
			return sp.Type == model.TypeDouble
		case ts.Datatype == runtime.BYTES:
			return sp.Type == model.TypeString || sp.Type == model.TypeDatetime
		}
		return false
	}
	for _, part := range []struct {
		name  string
		specs []model.Spec
		md    []runtime.TensorSpec
	}{{"inputs", sig.Inputs, md.Inputs}, {"outputs", sig.Outputs, md.Outputs}} {
		if len(part.specs) != len(part.md) {
			t.Fatalf("signature %s %+v; the runtime has %+v", part.name, part.specs, part.md)
		}
		for i, sp := range part.specs {
			if ts := part.md[i]; sp.Name != ts.Name || sp.IsTensor || !sp.Required || !columnType(ts, sp) {
				t.Fatalf("signature %s[%d] = %s %s; the runtime serves %s %s %v", part.name, i, sp.Name, sp.Type, ts.Name, ts.Datatype, ts.Shape)
			}
		}
	}
}

func equalSpecs(a, b []runtime.TensorSpec) bool {
	return slices.EqualFunc(a, b, func(x, y runtime.TensorSpec) bool {
		return x.Name == y.Name && x.Datatype == y.Datatype && slices.Equal(x.Shape, y.Shape)
	})
}

// binaryModel trains and loads the binary test model once per test.
func binaryModel(t *testing.T) (*nativemodel.Pipeline, runtime.Model) {
	t.Helper()
	pipe := trainPipeline(t, testFrame(t, 400, 1), model.TaskBinary, "label")
	m, err := native.Load(context.Background(), writePackage(t, pipe))
	if err != nil {
		t.Fatal(err)
	}
	return pipe, m
}

// TestInputForms sends the same rows in the other forms Predict accepts and
// expects the predictions of the canonical form.
func TestInputForms(t *testing.T) {
	ctx := context.Background()
	pipe, m := binaryModel(t)
	f := testFrame(t, 40, 3)
	n := f.Len()
	want, err := pipe.Predict(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) *dataset.Column { c, _ := f.Col(name); return c }
	replace := func(ts []runtime.Tensor, r runtime.Tensor) []runtime.Tensor {
		out := slices.Clone(ts)
		for i := range out {
			if out[i].Name == r.Name {
				out[i] = r
			}
		}
		return out
	}
	canonical := tensors(f, inputNames...)

	zoneInts := make([]int64, n)
	zoneFloats := make([]float64, n)
	for i, c := range col("zone").Codes {
		v := int64(col("zone").Levels[c][0] - '0')
		zoneInts[i], zoneFloats[i] = v, float64(v)
	}
	whenSpace := make([]string, n)
	whenUnix := make([]int64, n)
	for i, ns := range col("when").Time {
		if ns == dataset.MissingTime {
			whenSpace[i] = "" // Unix seconds have no missing value: leave it out of that form
			continue
		}
		whenSpace[i] = time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05")
		whenUnix[i] = ns / int64(time.Second)
	}
	xCol := runtime.Tensor{Name: "x", Datatype: runtime.FP64, Shape: []int64{int64(n), 1}, FP64: col("x").Num}

	tests := []struct {
		name   string
		inputs []runtime.Tensor
	}{
		{"canonical", canonical},
		{"column of shape [n,1]", replace(canonical, xCol)},
		{"no shape", replace(canonical, runtime.Tensor{Name: "x", Datatype: runtime.FP64, FP64: col("x").Num})},
		{"categories as INT64", replace(canonical, runtime.Tensor{Name: "zone", Datatype: runtime.INT64, Shape: []int64{int64(n)}, Int: zoneInts})},
		{"categories as FP64", replace(canonical, runtime.Tensor{Name: "zone", Datatype: runtime.FP64, Shape: []int64{int64(n)}, FP64: zoneFloats})},
		{"timestamps with a space", replace(canonical, runtime.Tensor{Name: "when", Datatype: runtime.BYTES, Shape: []int64{int64(n)}, Str: whenSpace})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := m.Predict(ctx, tt.inputs)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out[0].FP64, want) {
				t.Fatalf("got %v\nwant %v", out[0].FP64, want)
			}
		})
	}

	t.Run("timestamps as Unix seconds", func(t *testing.T) {
		// Unix seconds cannot say "missing": compare on the rows that have a time.
		var rows []int
		for i, ns := range col("when").Time {
			if ns != dataset.MissingTime {
				rows = append(rows, i)
			}
		}
		sub := f.Take(rows)
		wantSub, err := pipe.Predict(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		secs := make([]int64, len(rows))
		for k, i := range rows {
			secs[k] = whenUnix[i]
		}
		in := replace(tensors(sub, inputNames...), runtime.Tensor{Name: "when", Datatype: runtime.INT64, Shape: []int64{int64(len(rows))}, Int: secs})
		out, err := m.Predict(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out[0].FP64, wantSub) {
			t.Fatalf("got %v\nwant %v", out[0].FP64, wantSub)
		}
	})

	t.Run("numbers as FP32 and INT64", func(t *testing.T) {
		// The pipeline sees float32 values widened to float64, and integers.
		x32 := make([]float32, n)
		xi := make([]int64, n)
		x32wide := make([]float64, n)
		xiwide := make([]float64, n)
		for i, v := range col("x").Num {
			x32[i] = float32(v)
			x32wide[i] = float64(float32(v))
			if !math.IsNaN(v) {
				xi[i] = int64(v)
			}
			xiwide[i] = float64(xi[i])
		}
		for _, c := range []struct {
			tensor runtime.Tensor
			values []float64
		}{
			{runtime.Tensor{Name: "x", Datatype: runtime.FP32, Shape: []int64{int64(n)}, FP32: x32}, x32wide},
			{runtime.Tensor{Name: "x", Datatype: runtime.INT64, Shape: []int64{int64(n)}, Int: xi}, xiwide},
		} {
			g := withColumn(t, f, dataset.NewNumeric("x", c.values))
			want, err := pipe.Predict(ctx, g)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Predict(ctx, replace(canonical, c.tensor))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out[0].FP64, want) {
				t.Fatalf("%s: got %v\nwant %v", c.tensor.Datatype, out[0].FP64, want)
			}
		}
	})

	t.Run("missing values", func(t *testing.T) {
		// NaN, "" (what the serving layer makes of a JSON null) and an
		// unseen category are missing, as in the frame.
		in := []runtime.Tensor{
			{Name: "x", Datatype: runtime.FP64, Shape: []int64{3}, FP64: []float64{math.NaN(), 1, math.NaN()}},
			{Name: "city", Datatype: runtime.BYTES, Shape: []int64{3}, Str: []string{"", "atlantis", "rome"}},
			{Name: "zone", Datatype: runtime.FP64, Shape: []int64{3}, FP64: []float64{math.NaN(), 2, 9}},
			{Name: "when", Datatype: runtime.BYTES, Shape: []int64{3}, Str: []string{"", "2024-03-02T10:00:00+02:00", "2024-03-02"}},
		}
		g, err := dataset.NewFrame(
			dataset.NewNumeric("x", []float64{math.NaN(), 1, math.NaN()}),
			dataset.NewCategorical("city", []string{"", "", "rome"}),
			dataset.NewCategorical("zone", []string{"", "2", ""}),
			dataset.NewTimestamp("when", []time.Time{{}, time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC), time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)}),
		)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pipe.Predict(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Predict(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out[0].FP64, want) {
			t.Fatalf("got %v\nwant %v", out[0].FP64, want)
		}
	})

	t.Run("no rows", func(t *testing.T) {
		in := []runtime.Tensor{
			{Name: "x", Datatype: runtime.FP64, Shape: []int64{0}, FP64: []float64{}},
			{Name: "city", Datatype: runtime.BYTES, Shape: []int64{0}, Str: []string{}},
			{Name: "zone", Datatype: runtime.BYTES, Shape: []int64{0}, Str: []string{}},
			{Name: "when", Datatype: runtime.BYTES, Shape: []int64{0}, Str: []string{}},
		}
		out, err := m.Predict(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || len(out[0].FP64) != 0 || len(out[1].Str) != 0 || out[0].Shape[0] != 0 {
			t.Fatalf("out = %+v", out)
		}
	})
}

// withColumn returns f with the column of c's name replaced by c.
func withColumn(t *testing.T, f *dataset.Frame, c *dataset.Column) *dataset.Frame {
	t.Helper()
	cols := slices.Clone(f.Columns)
	for i := range cols {
		if cols[i].Name == c.Name {
			cols[i] = c
		}
	}
	g, err := dataset.NewFrame(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPredictErrors(t *testing.T) {
	ctx := context.Background()
	_, m := binaryModel(t)
	good := func() []runtime.Tensor {
		return []runtime.Tensor{
			{Name: "x", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{1, 2}},
			{Name: "city", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"oslo", "rome"}},
			{Name: "zone", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"1", "2"}},
			{Name: "when", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"2024-03-01T10:00:00Z", "2024-03-01 11:00:00"}},
		}
	}
	if _, err := m.Predict(ctx, good()); err != nil {
		t.Fatal(err)
	}
	with := func(i int, change func(*runtime.Tensor)) []runtime.Tensor {
		in := good()
		change(&in[i])
		return in
	}
	tests := []struct {
		name   string
		inputs []runtime.Tensor
		want   []string // in the message
	}{
		{"missing input", good()[:3], []string{`missing input "when"`, "BYTES"}},
		{"input given twice", append(good(), good()[0]), []string{`input "x" is given twice`}},
		{"numeric input as BYTES", with(0, func(t *runtime.Tensor) {
			*t = runtime.Tensor{Name: "x", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"1", "2"}}
		}), []string{`input "x" is BYTES`, "FP64"}},
		{"timestamp input as FP64", with(3, func(t *runtime.Tensor) {
			*t = runtime.Tensor{Name: "when", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{1, 2}}
		}), []string{`input "when" is FP64`, "BYTES"}},
		{"unknown datatype", with(0, func(t *runtime.Tensor) { t.Datatype = "FP16" }), []string{`input "x" has unknown datatype "FP16"`}},
		{"rows differ", with(1, func(t *runtime.Tensor) {
			t.Str, t.Shape = []string{"oslo", "rome", "lima"}, []int64{3}
		}), []string{`input "city" has 3 rows, but input "x" has 2`}},
		{"shape does not fit the data", with(0, func(t *runtime.Tensor) { t.Shape = []int64{3} }), []string{`input "x" has shape [3] but 2 values`}},
		{"not a column", with(0, func(t *runtime.Tensor) { t.Shape = []int64{1, 2} }), []string{`input "x" has shape [1 2]`, "[rows, 1]"}},
		{"unparseable timestamp", with(3, func(t *runtime.Tensor) { t.Str[1] = "yesterday" }), []string{`input "when" row 2`, `"yesterday" is not a timestamp`}},
		{"timestamp out of range", with(3, func(t *runtime.Tensor) { t.Str[0] = "3024-01-01" }), []string{`input "when" row 1`, "out of the range"}},
		{"Unix seconds out of range", with(3, func(t *runtime.Tensor) {
			*t = runtime.Tensor{Name: "when", Datatype: runtime.INT64, Shape: []int64{2}, Int: []int64{0, 1 << 40}}
		}), []string{`input "when" row 2`, "out of the range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Predict(ctx, tt.inputs)
			if err == nil {
				t.Fatal("no error")
			}
			if code := ferry.ErrorCode(err); code != ferry.EINVALID {
				t.Fatalf("code %s: %v", code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) || !strings.Contains(ferry.ErrorMessage(err), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := m.Predict(ctx, good()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no ferry flavor", func(t *testing.T) {
		dir := t.TempDir()
		b, err := model.NewBuilder(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.AddFile(ctx, "model.lgb", strings.NewReader("tree\n")); err != nil {
			t.Fatal(err)
		}
		m := &model.Manifest{UTCTimeCreated: base}
		m.SetFlavor(model.LightGBMFlavor{Data: "model.lgb"})
		if _, err := b.Finish(ctx, m, model.FerryInfo{}); err != nil {
			t.Fatal(err)
		}
		pkg, err := model.Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = native.Load(ctx, pkg)
		if !errors.Is(err, model.ErrFlavorNotFound) || ferry.ErrorCode(err) != ferry.ENOTFOUND {
			t.Fatalf("err = %v", err)
		}
	})
	for _, tt := range []struct{ name, body, want string }{
		{"not JSON", "tree\nversion=v4\n", "not a Ferry model"},
		{"newer format", `{"format_version": 2}`, "format version 2"},
		{"unknown task", `{"format_version": 1, "task": "ranking", "features": [{"name": "x", "column": "x", "kind": "numeric"}], "trainer": "linear", "linear": {"task": "regression", "weights": [[1]], "bias": [0]}, "encoder": {"mean": [0], "std": [1], "levels": [0]}}`, `unknown task "ranking"`},
		{"binary with three labels", `{"format_version": 1, "task": "binary", "class_labels": ["a", "b", "c"], "features": [{"name": "x", "column": "x", "kind": "numeric"}], "trainer": "logistic", "linear": {"task": "binary", "weights": [[1]], "bias": [0]}, "encoder": {"mean": [0], "std": [1], "levels": [0]}}`, "3 class labels"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := native.Read(strings.NewReader(tt.body))
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
}

// TestConcurrentPredict runs Predict from several goroutines (run with -race).
func TestConcurrentPredict(t *testing.T) {
	ctx := context.Background()
	pipe, m := binaryModel(t)
	f := testFrame(t, 30, 4)
	want, err := pipe.Predict(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	in := tensors(f, inputNames...)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			out, err := m.Predict(ctx, in)
			if err == nil && !slices.Equal(out[0].FP64, want) {
				err = errors.New("predictions differ")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
