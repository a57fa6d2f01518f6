package gbdt

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

// synthBinary is a binary problem with a numeric feature with missing
// values, a plain numeric feature and a categorical one:
// y = 1 when x0 > 0.3 (missing counts as high), or when the category is in
// {1, 4, 7} and x1 > 0; 5% of labels are flipped.
func synthBinary(n int, seed uint64) *Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	x0 := make([]float64, n)
	x1 := make([]float64, n)
	c := make([]int32, n)
	y := make([]float64, n)
	levels := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	for i := range n {
		x0[i] = rng.Float64()
		x1[i] = rng.NormFloat64()
		c[i] = int32(rng.IntN(len(levels)))
		high := x0[i] > 0.3
		if rng.Float64() < 0.15 {
			x0[i] = math.NaN()
			high = true
		}
		if rng.Float64() < 0.05 {
			c[i] = -1
		}
		in := c[i] == 1 || c[i] == 4 || c[i] == 7
		if (high && x1[i] > -0.5) || (in && x1[i] > 0) {
			y[i] = 1
		}
		if rng.Float64() < 0.05 {
			y[i] = 1 - y[i]
		}
	}
	return &Data{
		Features: []native.Feature{{Name: "x0", Num: x0}, {Name: "x1", Num: x1}, {Name: "c", Codes: c, Levels: levels}},
		Label:    y,
	}
}

// subset takes the rows idx of d.
func subset(d *Data, idx []int) *Data {
	out := &Data{Label: make([]float64, len(idx))}
	for k, i := range idx {
		out.Label[k] = d.Label[i]
	}
	if d.Weight != nil {
		out.Weight = make([]float64, len(idx))
		for k, i := range idx {
			out.Weight[k] = d.Weight[i]
		}
	}
	for _, f := range d.Features {
		g := native.Feature{Name: f.Name, Levels: f.Levels}
		if f.Codes != nil {
			g.Codes = make([]int32, len(idx))
			for k, i := range idx {
				g.Codes[k] = f.Codes[i]
			}
		} else {
			g.Num = make([]float64, len(idx))
			for k, i := range idx {
				g.Num[k] = f.Num[i]
			}
		}
		out.Features = append(out.Features, g)
	}
	return out
}

// rowOf is row i of d as Predict takes it.
func rowOf(d *Data, i int) []float64 {
	row := make([]float64, len(d.Features))
	for j, f := range d.Features {
		if f.Codes != nil {
			row[j] = float64(f.Codes[i])
			if f.Codes[i] < 0 {
				row[j] = math.NaN()
			}
		} else {
			row[j] = f.Num[i]
		}
	}
	return row
}

// readCSVData reads a scikit-learn style CSV: a header line of counts, then
// numeric features and the target in the last column.
func readIris(t *testing.T) *Data {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "iris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
	d := &Data{Features: make([]native.Feature, 4)}
	for j, name := range []string{"sepal_length", "sepal_width", "petal_length", "petal_width"} {
		d.Features[j].Name = name
	}
	for _, line := range lines {
		cells := strings.Split(strings.TrimSpace(line), ",")
		for j := 0; j < 4; j++ {
			v, err := strconv.ParseFloat(cells[j], 64)
			if err != nil {
				t.Fatal(err)
			}
			d.Features[j].Num = append(d.Features[j].Num, v)
		}
		y, err := strconv.ParseFloat(cells[4], 64)
		if err != nil {
			t.Fatal(err)
		}
		d.Label = append(d.Label, y)
	}
	return d
}

func readGzipFields(t *testing.T, name string) [][]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]float64
	s := bufio.NewScanner(z)
	for s.Scan() {
		var row []float64
		for _, cell := range strings.Fields(s.Text()) {
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, v)
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func readDiabetes(t *testing.T) *Data {
	t.Helper()
	x := readGzipFields(t, "diabetes_data_raw.csv.gz")
	y := readGzipFields(t, "diabetes_target.csv.gz")
	if len(x) != len(y) {
		t.Fatalf("%d feature rows, %d targets", len(x), len(y))
	}
	names := []string{"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"}
	d := &Data{Features: make([]native.Feature, len(names))}
	for j, name := range names {
		d.Features[j].Name = name
		for i := range x {
			d.Features[j].Num = append(d.Features[j].Num, x[i][j])
		}
	}
	for _, r := range y {
		d.Label = append(d.Label, r[0])
	}
	return d
}

func mustTrain(t *testing.T, train, valid *Data, p Params, cb Callback) *native.GBDT {
	t.Helper()
	m, err := Train(context.Background(), train, valid, p, cb)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func modelBytes(t *testing.T, m *native.GBDT) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func predictAll(t *testing.T, m *native.GBDT, d *Data) []float64 {
	t.Helper()
	p, err := m.PredictBatch(context.Background(), d.Features)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainGBDTDeterministic(t *testing.T) {
	d := synthBinary(3000, 1)
	iris := readIris(t)
	params := func(obj string, f func(*Params)) Params {
		p := DefaultParams(obj)
		p.NumRounds = 15
		f(&p)
		return p
	}
	tests := []struct {
		name string
		data *Data
		p    Params
	}{
		{"binary depth-wise", d, params(native.ObjectiveBinary, func(p *Params) {})},
		{"binary leaf-wise", d, params(native.ObjectiveBinary, func(p *Params) { p.MaxLeaves, p.MaxDepth = 12, 0 })},
		{"binary sampled", d, params(native.ObjectiveBinary, func(p *Params) { p.Subsample, p.ColSampleByTree, p.Seed = 0.7, 0.67, 9 })},
		{"multiclass", iris, params(native.ObjectiveMulticlass, func(p *Params) { p.Subsample, p.Seed = 0.8, 3 })},
		{"regression", d, params(native.ObjectiveRegression, func(p *Params) { p.MaxBins = 16 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p1, p4 := tc.p, tc.p
			p1.NumThreads, p4.NumThreads = 1, 4
			a := modelBytes(t, mustTrain(t, tc.data, nil, p1, nil))
			b := modelBytes(t, mustTrain(t, tc.data, nil, p4, nil))
			if !bytes.Equal(a, b) {
				t.Fatal("1 and 4 threads gave different models")
			}
			c := modelBytes(t, mustTrain(t, tc.data, nil, p4, nil))
			if !bytes.Equal(b, c) {
				t.Fatal("two runs gave different models")
			}
			if tc.p.Subsample < 1 {
				p := tc.p
				p.Seed++
				if bytes.Equal(a, modelBytes(t, mustTrain(t, tc.data, nil, p, nil))) {
					t.Fatal("another seed gave the same model")
				}
			}
		})
	}
}

func TestTrainGBDTLearnsBinary(t *testing.T) {
	all := synthBinary(6000, 2)
	tr, va := Split(all.NumRows(), 0.3, 5)
	train, valid := subset(all, tr), subset(all, va)
	p := DefaultParams(native.ObjectiveBinary)
	p.NumRounds, p.LearningRate = 60, 0.2
	var first, last [2]float64
	m := mustTrain(t, train, valid, p, func(iter int, tm, vm float64) error {
		if iter == 0 {
			first = [2]float64{tm, vm}
		}
		last = [2]float64{tm, vm}
		return nil
	})
	if !(last[0] < first[0]/2) || !(last[1] < first[1]) {
		t.Fatalf("log loss went from %v to %v (train, valid)", first, last)
	}
	probs := predictAll(t, m, valid)
	s := scoreBinary(t, valid.Label, probs)
	if s.AUC < 0.93 || s.Accuracy < 0.9 {
		t.Fatalf("validation %+v, want AUC >= 0.93 and accuracy >= 0.9", s)
	}
	// the callback's metric (binned rows during training) agrees with the
	// model's predictions (raw values)
	if math.Abs(s.LogLoss-last[1]) > 1e-6 {
		t.Fatalf("validation log loss %v from the callback, %v from the model", last[1], s.LogLoss)
	}
	for i := range 50 {
		one, err := m.Predict(rowOf(valid, i))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(one[0]-probs[i]) > 1e-12 {
			t.Fatalf("row %d: Predict %v, PredictBatch %v", i, one[0], probs[i])
		}
	}
}

func TestGBDTMissingValueRouting(t *testing.T) {
	// label 1 when x > 0.5; missing values carry the label given by
	// missingLabel, so the learned default direction must follow it.
	for _, tc := range []struct {
		name         string
		missingLabel float64
	}{
		{"missing like high values", 1},
		{"missing like low values", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 2000
			x := make([]float64, n)
			y := make([]float64, n)
			for i := range n {
				x[i] = float64(i%100) / 100
				if x[i] > 0.5 {
					y[i] = 1
				}
				if i%7 == 0 {
					x[i] = math.NaN()
					y[i] = tc.missingLabel
				}
			}
			p := DefaultParams(native.ObjectiveBinary)
			p.NumRounds, p.MaxDepth = 20, 2
			m := mustTrain(t, &Data{Features: []native.Feature{{Name: "x", Num: x}}, Label: y}, nil, p, nil)
			for _, c := range []struct {
				x    float64
				want float64
			}{{math.NaN(), tc.missingLabel}, {0.1, 0}, {0.9, 1}} {
				got, err := m.Predict([]float64{c.x})
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(got[0]-c.want) > 0.1 {
					t.Errorf("P(y=1 | x=%v) = %v, want about %v", c.x, got[0], c.want)
				}
			}
		})
	}
}

func TestGBDTCategoricalSplit(t *testing.T) {
	// 10 levels, the last never seen in training; y = 1 for {1, 4, 7};
	// missing codes carry label 1, so unseen codes follow them.
	levels := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "unseen"}
	n := 1100
	codes := make([]int32, n)
	y := make([]float64, n)
	for i := range n {
		codes[i] = int32(i % 11)
		if codes[i] == 10 {
			codes[i] = -1
		}
		if codes[i] == 1 || codes[i] == 4 || codes[i] == 7 || codes[i] == -1 {
			y[i] = 1
		}
	}
	d := &Data{Features: []native.Feature{{Name: "c", Codes: codes, Levels: levels}}, Label: y}
	p := DefaultParams(native.ObjectiveRegression)
	p.NumRounds, p.MaxDepth, p.LearningRate, p.Lambda = 1, 1, 1, 0
	m := mustTrain(t, d, nil, p, nil)
	tree := m.Trees()[0]
	if tree.Feature[0] != 0 || tree.Cats[0] == nil {
		t.Fatalf("root is not a categorical split: %+v", tree)
	}
	// the regression tree's leaves are the group means plus the base score
	for _, tc := range []struct {
		name string
		code float64
		want float64
	}{
		{"in the set", 4, 1}, {"not in the set", 2, 0}, {"missing", math.NaN(), 1},
		{"negative code", -1, 1}, {"unseen level", 10, 1}, {"beyond the levels", 99, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Predict([]float64{tc.code})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got[0]-tc.want) > 1e-5 {
				t.Fatalf("prediction for code %v = %v, want %v", tc.code, got[0], tc.want)
			}
		})
	}
	t.Run("max cat threshold", func(t *testing.T) {
		p := p
		p.MaxCatThreshold = 2
		m := mustTrain(t, d, nil, p, nil)
		tr := m.Trees()[0]
		// the set sent away from the default side, or its complement, must
		// have at most 2 categories
		left := 0
		for c := range int32(10) {
			if slices.Contains(tr.Cats[0], c) {
				left++
			}
		}
		if left > 2 && 10-left > 2 {
			t.Fatalf("split sends %d and %d categories apart, want one side <= 2", left, 10-left)
		}
	})
}

func TestGBDTEarlyStopping(t *testing.T) {
	all := synthBinary(2000, 3)
	// noisy labels so that the validation loss turns up quickly
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range all.Label {
		if rng.Float64() < 0.3 {
			all.Label[i] = 1 - all.Label[i]
		}
	}
	tr, va := Split(all.NumRows(), 0.5, 6)
	train, valid := subset(all, tr), subset(all, va)
	p := DefaultParams(native.ObjectiveBinary)
	p.NumRounds, p.LearningRate, p.MaxDepth, p.EarlyStoppingRounds = 300, 0.5, 8, 5
	var rounds int
	var metrics []float64
	m := mustTrain(t, train, valid, p, func(iter int, tm, vm float64) error {
		rounds = iter + 1
		metrics = append(metrics, vm)
		return nil
	})
	if rounds >= p.NumRounds {
		t.Fatalf("ran all %d rounds", rounds)
	}
	best := 0
	for i, v := range metrics {
		if v < metrics[best] {
			best = i
		}
	}
	if m.BestIteration != best || m.NumTrees() != best+1 || rounds != best+1+p.EarlyStoppingRounds {
		t.Fatalf("best iteration %d, %d trees, %d rounds; the best validation round was %d", m.BestIteration, m.NumTrees(), rounds, best)
	}

	t.Run("callback error stops training", func(t *testing.T) {
		stop := errors.New("stop")
		_, err := Train(context.Background(), train, valid, p, func(iter int, _, _ float64) error {
			if iter == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("error %v, want the callback's", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Train(ctx, train, valid, p, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
}

func TestGBDTMulticlassIris(t *testing.T) {
	iris := readIris(t)
	tr, va := Split(iris.NumRows(), 0.3, 7)
	train, valid := subset(iris, tr), subset(iris, va)
	p := DefaultParams(native.ObjectiveMulticlass)
	p.NumRounds, p.LearningRate, p.MaxDepth = 30, 0.3, 3
	m := mustTrain(t, train, valid, p, nil)
	if m.NumClass != 3 || m.NumTrees() != 90 {
		t.Fatalf("%d classes, %d trees", m.NumClass, m.NumTrees())
	}
	probs := predictAll(t, m, valid)
	correct := 0
	for i, y := range valid.Label {
		row := probs[i*3 : i*3+3]
		if s := row[0] + row[1] + row[2]; math.Abs(s-1) > 1e-9 {
			t.Fatalf("row %d: probabilities sum to %v", i, s)
		}
		arg := 0
		for c := range row {
			if row[c] > row[arg] {
				arg = c
			}
		}
		if float64(arg) == y {
			correct++
		}
	}
	if acc := float64(correct) / float64(len(valid.Label)); acc < 0.9 {
		t.Fatalf("validation accuracy %v, want >= 0.9", acc)
	}
}

func TestGBDTRegressionDiabetes(t *testing.T) {
	d := readDiabetes(t)
	tr, va := Split(d.NumRows(), 0.25, 8)
	train, valid := subset(d, tr), subset(d, va)
	p := DefaultParams(native.ObjectiveRegression)
	p.NumRounds, p.LearningRate, p.MaxDepth, p.MinChildWeight = 200, 0.05, 3, 5
	p.EarlyStoppingRounds = 20
	m := mustTrain(t, train, valid, p, nil)
	pred := predictAll(t, m, valid)
	var mean, sse, sst float64
	for _, y := range valid.Label {
		mean += y
	}
	mean /= float64(len(valid.Label))
	for i, y := range valid.Label {
		sse += (pred[i] - y) * (pred[i] - y)
		sst += (mean - y) * (mean - y)
	}
	if r2 := 1 - sse/sst; r2 < 0.3 {
		t.Fatalf("validation R² %v, want >= 0.3", r2)
	}
	if math.Abs(m.BaseScore-150) > 10 {
		t.Fatalf("base score %v, want the label mean (about 150)", m.BaseScore)
	}
}

func TestGBDTLeafWise(t *testing.T) {
	d := synthBinary(3000, 9)
	p := DefaultParams(native.ObjectiveBinary)
	p.NumRounds, p.MaxLeaves, p.MaxDepth = 10, 5, 0
	m := mustTrain(t, d, nil, p, nil)
	for i, tr := range m.Trees() {
		leaves := 0
		for _, f := range tr.Feature {
			if f < 0 {
				leaves++
			}
		}
		if leaves > 5 || leaves < 2 {
			t.Fatalf("tree %d has %d leaves, want 2..5", i, leaves)
		}
	}
	if s := scoreBinary(t, d.Label, predictAll(t, m, d)); s.AUC < 0.9 {
		t.Fatalf("training AUC %v", s.AUC)
	}
}

func TestGBDTSaveLoad(t *testing.T) {
	d := synthBinary(2000, 10)
	iris := readIris(t)
	for _, tc := range []struct {
		name string
		data *Data
		obj  string
	}{
		{"binary with categorical", d, native.ObjectiveBinary},
		{"multiclass", iris, native.ObjectiveMulticlass},
		{"regression", d, native.ObjectiveRegression},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams(tc.obj)
			p.NumRounds = 8
			m := mustTrain(t, tc.data, nil, p, nil)
			b := modelBytes(t, m)
			m2, err := native.LoadGBDT(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b2 := modelBytes(t, m2); !bytes.Equal(b, b2) {
				t.Fatalf("save → load → save changed the bytes:\n%s\n%s", b, b2)
			}
			p1, p2 := predictAll(t, m, tc.data), predictAll(t, m2, tc.data)
			for i := range p1 {
				if p1[i] != p2[i] {
					t.Fatalf("prediction %d: %v before, %v after loading", i, p1[i], p2[i])
				}
			}
		})
	}
}

func TestLoadGBDTRejects(t *testing.T) {
	d := synthBinary(500, 11)
	p := DefaultParams(native.ObjectiveBinary)
	p.NumRounds = 2
	good := string(modelBytes(t, mustTrain(t, d, nil, p, nil)))
	for _, tc := range []struct {
		name     string
		old, new string
	}{
		{"not json", good, "{"},
		{"other format", `"format":"ferry-gbdt"`, `"format":"other"`},
		{"other version", `"version":1`, `"version":2`},
		{"objective", `"objective":"binary","num_class"`, `"objective":"poisson","num_class"`},
		{"child loops back", `"left":[1,`, `"left":[0,`},
		{"feature out of range", `"feature":[`, `"feature":[9`},
		{"ragged arrays", `"value":[`, `"value":[1,`},
		{"class out of range", `"class":0`, `"class":3`},
		{"base score", `"base_score":`, `"base_score":1.5,"x":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.old, tc.new, 1)
			if tc.name == "not json" {
				bad = tc.new
			}
			if bad == good {
				t.Fatalf("%q not found in the model", tc.old)
			}
			if _, err := native.LoadGBDT(strings.NewReader(bad)); !errors.Is(err, native.ErrInvalidGBDT) {
				t.Fatalf("error %v, want native.ErrInvalidGBDT", err)
			}
		})
	}
}

func TestTrainGBDTRejects(t *testing.T) {
	d := synthBinary(100, 12)
	ok := DefaultParams(native.ObjectiveBinary)
	for _, tc := range []struct {
		name  string
		data  *Data
		valid *Data
		p     func(*Params)
	}{
		{"unknown objective", d, nil, func(p *Params) { p.Objective = "poisson" }},
		{"no rounds", d, nil, func(p *Params) { p.NumRounds = 0 }},
		{"zero learning rate", d, nil, func(p *Params) { p.LearningRate = 0 }},
		{"unbounded tree", d, nil, func(p *Params) { p.MaxDepth = 0 }},
		{"too many bins", d, nil, func(p *Params) { p.MaxBins = 300 }},
		{"subsample above 1", d, nil, func(p *Params) { p.Subsample = 1.5 }},
		{"early stopping without validation", d, nil, func(p *Params) { p.EarlyStoppingRounds = 3 }},
		{"label not 0/1", &Data{Features: d.Features, Label: append([]float64{2}, d.Label[1:]...)}, nil, func(*Params) {}},
		{"ragged feature", &Data{Features: []native.Feature{{Name: "x", Num: []float64{1}}}, Label: []float64{0, 1}}, nil, func(*Params) {}},
		{"both num and codes", &Data{Features: []native.Feature{{Name: "x", Num: []float64{1}, Codes: []int32{0}}}, Label: []float64{0}}, nil, func(*Params) {}},
		{"code beyond levels", &Data{Features: []native.Feature{{Name: "x", Codes: []int32{3}, Levels: []string{"a"}}}, Label: []float64{0}}, nil, func(*Params) {}},
		{"negative weight", &Data{Features: d.Features, Label: d.Label, Weight: make([]float64, 99)}, nil, func(*Params) {}},
		{"validation schema", d, &Data{Features: d.Features[:2], Label: d.Label}, func(*Params) {}},
		{"validation levels", d, &Data{Features: []native.Feature{d.Features[0], d.Features[1], {Name: "c", Codes: d.Features[2].Codes, Levels: make([]string, 10)}}, Label: d.Label}, func(*Params) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.p(&p)
			if _, err := Train(context.Background(), tc.data, tc.valid, p, nil); !errors.Is(err, native.ErrInvalidGBDT) {
				t.Fatalf("error %v, want native.ErrInvalidGBDT", err)
			}
		})
	}
}

func TestBinNumeric(t *testing.T) {
	for _, tc := range []struct {
		name    string
		x       []float64
		maxBins int
		bins    int
	}{
		{"few distinct values", []float64{3, 1, 2, 1, math.NaN(), 3}, 256, 3},
		{"capped", func() []float64 {
			x := make([]float64, 1000)
			for i := range x {
				x[i] = float64(i)
			}
			return x
		}(), 10, 10},
		{"all missing", []float64{math.NaN(), math.NaN()}, 256, 1},
		{"heavy value", append(make([]float64, 900), func() []float64 {
			x := make([]float64, 100)
			for i := range x {
				x[i] = float64(i + 1)
			}
			return x
		}()...), 8, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := binNumeric(tc.x, tc.maxBins)
			if f.numBins != tc.bins {
				t.Fatalf("%d bins, want %d (upper %v)", f.numBins, tc.bins, f.upper)
			}
			for i, v := range tc.x {
				b := int(f.bins[i])
				if math.IsNaN(v) {
					if b != f.missingBin() {
						t.Fatalf("NaN in bin %d", b)
					}
					continue
				}
				if !(float32(v) < f.upper[b]) || (b > 0 && float32(v) < f.upper[b-1]) {
					t.Fatalf("value %v in bin %d, thresholds %v", v, b, f.upper)
				}
			}
		})
	}
}

// BenchmarkTrainGBDT trains 20 depth-8 rounds on 200,000 synthetic rows
// (two numeric features, one with missing values, and a categorical one).
// The flights comparison with XGBoost is bench/gbdt/run.sh.
func BenchmarkTrainGBDT(b *testing.B) {
	d := synthBinary(200_000, 13)
	p := DefaultParams(native.ObjectiveBinary)
	p.NumRounds, p.MaxDepth, p.LearningRate = 20, 8, 0.1
	for b.Loop() {
		if _, err := Train(context.Background(), d, nil, p, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// Split (a test helper) shuffles row indexes 0..n-1 with seed and returns the first
// (1-valFrac) share for training and the rest for validation.
func Split(n int, valFrac float64, seed uint64) (trainIdx, valIdx []int) {
	idx := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Perm(n)
	cut := n - int(math.Round(float64(n)*valFrac))
	return idx[:cut], idx[cut:]
}

// binaryScores are the usual scores of probabilistic binary predictions.
type binaryScores struct{ Accuracy, LogLoss, AUC float64 }

// scoreBinary scores probabilities p against labels y (0 or 1) with the
// metrics validation reports.
func scoreBinary(t *testing.T, y, p []float64) binaryScores {
	t.Helper()
	m, _, err := metrics.Evaluate(model.TaskBinary, []string{"0", "1"}, y, p)
	if err != nil {
		t.Fatal(err)
	}
	return binaryScores{Accuracy: m[metrics.Accuracy], LogLoss: m[metrics.LogLoss], AUC: m[metrics.ROCAUC]}
}
