package validation

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
)

// mlflowPackage writes a package as MLflow would (no ferry.json): an
// MLmodel with a signature and a records-oriented input example.
func mlflowPackage(t *testing.T) *model.Package {
	t.Helper()
	dir := t.TempDir()
	mlmodel := `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
mlflow_version: 2.14.2
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: records
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}, {"type": "string", "name": "origin", "required": true}, {"type": "datetime", "name": "when", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
  params: null
utc_time_created: '2024-07-25 22:31:01.090420'
`
	files := map[string]string{
		"MLmodel":            mlmodel,
		"model.pkl":          "not really a pickle",
		"input_example.json": `[{"x": 1.5, "origin": "A", "when": "2001-05-01T10:00:00"}, {"x": null, "origin": "B", "when": "2001-05-02 11:30:00"}]`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := model.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// bareFerryPackage is a verified Ferry package without signature or input
// example.
func bareFerryPackage(t *testing.T) *model.Package {
	t.Helper()
	m := &model.Manifest{UTCTimeCreated: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	m.SetFlavor(model.FerryFlavor{Trainer: "gbdt", Data: "model.json"})
	pkg, err := model.Save(context.Background(), filepath.Join(t.TempDir(), "model"), m, model.FerryInfo{Task: model.TaskBinary},
		map[string]io.Reader{"model.json": strings.NewReader(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

func TestCheckPackage(t *testing.T) {
	ctx := context.Background()
	fx := trainFlights(t, 5, 3)
	all := &PackagePolicy{CheckDigests: true, RequireSignature: true, CheckInputExample: true}
	offBy := func(rel float64) Predictor {
		return func(ctx context.Context, f *dataset.Frame) ([]float64, error) {
			p, err := fx.predict(ctx, f)
			for i := range p {
				p[i] *= 1 + rel
			}
			return p, err
		}
	}
	// seen records the frames a predictor is given.
	var seen []*dataset.Frame
	recording := func(ctx context.Context, f *dataset.Frame) ([]float64, error) {
		seen = append(seen, f)
		return make([]float64, f.Len()), nil
	}
	tests := []struct {
		name    string
		pkg     *model.Package
		predict Predictor
		results map[string]string // check name → "pass", "fail" or "skip"
		msg     map[string]string // check name → substring of its message
	}{
		{
			name: "a package from Ferry's trainer passes", pkg: fx.pkg, predict: fx.predict,
			results: map[string]string{CheckDigests: "pass", CheckSignature: "pass", CheckLoads: "pass", CheckInputExample: "pass"},
			msg:     map[string]string{CheckInputExample: "the 5 predictions of the input example match"},
		},
		{
			name: "predictions within 1e-9 relative pass", pkg: fx.pkg, predict: offBy(1e-12),
			results: map[string]string{CheckDigests: "pass", CheckSignature: "pass", CheckLoads: "pass", CheckInputExample: "pass"},
		},
		{
			name: "predictions that differ fail", pkg: fx.pkg, predict: offBy(1e-6),
			results: map[string]string{CheckDigests: "pass", CheckSignature: "pass", CheckLoads: "pass", CheckInputExample: "fail"},
			msg:     map[string]string{CheckInputExample: "prediction 1 of the input example is"},
		},
		{
			name: "a model that refuses its example", pkg: fx.pkg,
			predict: func(context.Context, *dataset.Frame) ([]float64, error) {
				return nil, ferry.Errorf(ferry.EINVALID, "column 'origin' must be numeric")
			},
			results: map[string]string{CheckDigests: "pass", CheckSignature: "pass", CheckLoads: "fail", CheckInputExample: "fail"},
			msg:     map[string]string{CheckLoads: "the model fails on the input example: column 'origin' must be numeric"},
		},
		{
			name: "too few outputs", pkg: fx.pkg,
			predict: func(context.Context, *dataset.Frame) ([]float64, error) { return []float64{0.5}, nil },
			results: map[string]string{CheckDigests: "pass", CheckSignature: "pass", CheckLoads: "fail", CheckInputExample: "fail"},
			msg:     map[string]string{CheckLoads: "gives 1 values for the 5 rows"},
		},
		{
			name: "an MLflow package has no digests and no saved predictions", pkg: mlflowPackage(t), predict: recording,
			results: map[string]string{CheckDigests: "skip", CheckSignature: "pass", CheckLoads: "pass", CheckInputExample: "skip"},
			msg:     map[string]string{CheckDigests: "written by MLflow", CheckInputExample: "no input_example_predictions.json"},
		},
		{
			name: "no signature, no example", pkg: bareFerryPackage(t), predict: recording,
			results: map[string]string{CheckDigests: "pass", CheckSignature: "fail", CheckLoads: "pass", CheckInputExample: "skip"},
			msg:     map[string]string{CheckLoads: "the first row of the evaluation data", CheckSignature: "no input signature"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, size, err := CheckPackage(ctx, Model{Pkg: tt.pkg, Predict: tt.predict}, 1, fx.eval, all)
			if err != nil {
				t.Fatal(err)
			}
			if size <= 0 {
				t.Errorf("size %d", size)
			}
			if len(got) != len(tt.results) {
				t.Fatalf("checks %+v", got)
			}
			for _, c := range got {
				state := "fail"
				switch {
				case c.Skipped:
					state = "skip"
				case c.Passed:
					state = "pass"
				}
				if state != tt.results[c.Name] {
					t.Errorf("%s: %s (%s), want %s", c.Name, state, c.Message, tt.results[c.Name])
				}
				if want := tt.msg[c.Name]; !strings.Contains(c.Message, want) {
					t.Errorf("%s message %q lacks %q", c.Name, c.Message, want)
				}
			}
		})
	}

	t.Run("the MLflow example is read with the signature's types", func(t *testing.T) {
		seen = nil
		if _, _, err := CheckPackage(ctx, Model{Pkg: mlflowPackage(t), Predict: recording}, 1, nil, nil); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 {
			t.Fatalf("%d predict calls", len(seen))
		}
		f := seen[0]
		x, _ := f.Col("x")
		o, _ := f.Col("origin")
		w, _ := f.Col("when")
		if f.Len() != 2 || x.Kind != dataset.KindNumeric || !x.IsMissing(1) || x.Num[0] != 1.5 || o.Kind != dataset.KindCategorical ||
			w.Kind != dataset.KindTimestamp || w.String(1) != "2001-05-02T11:30:00Z" {
			t.Fatalf("example frame: %v rows, columns %v", f.Len(), f.Schema())
		}
	})

	t.Run("an unavailable predictor is an error", func(t *testing.T) {
		_, _, err := CheckPackage(ctx, Model{Pkg: fx.pkg, Predict: func(context.Context, *dataset.Frame) ([]float64, error) {
			return nil, ferry.Errorf(ferry.EUNAVAILABLE, "down")
		}}, 1, fx.eval, all)
		if ferry.ErrorCode(err) != ferry.EUNAVAILABLE {
			t.Fatalf("err %v", err)
		}
	})
}

func TestMeasureLatency(t *testing.T) {
	f := synthetic(t, 100) // 301 rows
	tests := []struct {
		name  string
		rows  int
		calls int
	}{
		{"the budget's rows", LatencyRows, LatencyRows + 3},
		{"fewer rows than asked", 1000, 301 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			p99, err := MeasureLatency(context.Background(), func(_ context.Context, fr *dataset.Frame) ([]float64, error) {
				calls++
				if fr.Len() != 1 {
					t.Fatalf("a frame of %d rows", fr.Len())
				}
				return []float64{0}, nil
			}, f, tt.rows)
			if err != nil || calls != tt.calls || p99 < 0 {
				t.Fatalf("p99 %v, err %v, %d calls; want %d", p99, err, calls, tt.calls)
			}
		})
	}
	if _, err := MeasureLatency(context.Background(), nil, &dataset.Frame{}, 10); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Fatalf("no rows: %v", err)
	}
}
