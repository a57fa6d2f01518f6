package validation

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/examples"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	rtnative "github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/tracking"
	"github.com/ferry-ml/ferry/internal/train"
)

// fakeTracker is a tracking server that accepts everything and keeps
// nothing: training runs need one, these tests need only the package.
type fakeTracker struct{}

func (fakeTracker) EnsureExperiment(context.Context, string) (tracking.Experiment, error) {
	return tracking.Experiment{ID: "1", Name: "validation"}, nil
}

func (fakeTracker) CreateRun(_ context.Context, req tracking.RunCreate) (tracking.Run, error) {
	var r tracking.Run
	r.Info = tracking.RunInfo{RunID: "0123456789abcdef0123456789abcdef", ExperimentID: req.ExperimentID, StartTime: req.StartTime, ArtifactURI: "file:///dev/null"}
	return r, nil
}

func (fakeTracker) LogBatch(context.Context, string, []tracking.Metric, []tracking.Param, []tracking.Tag) error {
	return nil
}

func (fakeTracker) LogInputs(context.Context, string, []tracking.DatasetInput) error { return nil }

func (fakeTracker) UploadArtifact(_ context.Context, _, _ string, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (fakeTracker) UpdateRun(_ context.Context, id string, _ tracking.RunUpdate) (tracking.RunInfo, error) {
	return tracking.RunInfo{RunID: id}, nil
}

// flightsFixture is a real Ferry model trained on the bundled flights sample
// (January to April 2001) and the evaluation rows (May and June).
type flightsFixture struct {
	dir     string // the package directory
	pkg     *model.Package
	predict Predictor
	eval    *dataset.Frame
}

// trainFlights trains a small GBDT on the flights sample with Ferry's
// trainer, exactly as `ferry train` would, and loads its package.
func trainFlights(t *testing.T, rounds int, seed uint64) *flightsFixture {
	t.Helper()
	ctx := context.Background()
	files, err := examples.Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keep := t.TempDir()
	r := &train.Runner{Tracker: fakeTracker{}, KeepDir: keep, Now: func() time.Time { return time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) }}
	res, err := r.Run(ctx, train.Spec{
		ExperimentName: "flights", Data: files["flights"], Target: "delay", PositiveWhen: "> 15",
		Features: []string{"date:month", "date:weekday", "date:hour", "distance", "origin", "destination"},
		Trainer:  train.TrainerGBDT, Params: map[string]any{"num_rounds": rounds, "max_depth": 4},
		Split: train.SplitSpec{Method: "time", Column: "date", Cut: "2001-05-01"}, Seed: seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := model.Load(ctx, res.PackageDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rtnative.Load(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	predict := RuntimePredictor(m)
	all, err := dataset.Read(ctx, files["flights"], dataset.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	date, _ := all.Col("date")
	_, after := dataset.TimeSplit(date, time.Date(2001, 5, 1, 0, 0, 0, 0, time.UTC))
	return &flightsFixture{dir: res.PackageDir, pkg: pkg, predict: predict, eval: all.Take(after)}
}

// copyDir copies the regular files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// synthetic is a binary evaluation set with three origins: a label, a
// uniform noise column u, and a numeric feature x. Scores are made from
// the label and the noise by the predictors of the tests.
func synthetic(t *testing.T, perOrigin int) *dataset.Frame {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var origin []string
	var label, u, x []float64
	for _, o := range []string{"A", "B", "C"} {
		for range perOrigin {
			origin = append(origin, o)
			label = append(label, float64(rng.IntN(2)))
			u = append(u, rng.Float64())
			x = append(x, rng.NormFloat64())
		}
	}
	origin = append(origin, "D") // a slice too small to gate
	label = append(label, 1)
	u = append(u, 0.5)
	x = append(x, 0)
	f, err := dataset.NewFrame(dataset.NewCategorical("origin", origin), dataset.NewNumeric("label", label),
		dataset.NewNumeric("u", u), dataset.NewNumeric("x", x))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// scorer returns a predictor whose score mixes the label with noise, with
// weight skill[origin] on the label (0: pure noise, AUC 0.5; 1: perfect).
func scorer(skill map[string]float64) Predictor {
	return func(_ context.Context, f *dataset.Frame) ([]float64, error) {
		o, err := f.Col("origin")
		if err != nil {
			return nil, err
		}
		y, _ := f.Col("label")
		u, _ := f.Col("u")
		out := make([]float64, f.Len())
		for i := range out {
			w := skill[o.String(i)]
			s := w*y.Num[i] + (1-w)*u.Num[i]
			out[i] = math.Min(math.Max(s, 0), 1)
		}
		return out, nil
	}
}

// close9 reports whether got is want to 1e-9: absolute below 1, relative
// above.
func close9(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*max(1, math.Abs(want))
}
