package train_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/examples"
	"github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/testserver"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

func newClient(t *testing.T) *client.Client {
	c, _ := testserver.Client(t)
	return c
}

func exampleFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := examples.Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func flightsSpec(path string, seed uint64) train.Spec {
	return train.Spec{
		ExperimentName: "flights", Data: path, Target: "delay", PositiveWhen: "> 15",
		Features: []string{"date:month", "date:weekday", "date:hour", "distance", "origin", "destination"},
		Trainer:  train.TrainerGBDT, Params: map[string]any{"num_rounds": 20, "max_depth": 5, "subsample": 0.8},
		Split: train.SplitSpec{Method: "time", Column: "date", Cut: "2001-05-01"}, Seed: seed,
	}
}

func TestRunGBDTEndToEnd(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	files := exampleFiles(t)
	keep := t.TempDir()
	r := &train.Runner{Tracker: app.Remote{Client: c}, SourceTags: map[string]string{"mlflow.source.git.commit": strings.Repeat("a", 40)}, KeepDir: keep}
	res, err := r.Run(ctx, flightsSpec(files["flights"], 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Task != model.TaskBinary || res.TrainRows+res.ValidRows != 120000 || res.Metrics["val_auc"] < 0.6 {
		t.Fatalf("result = %+v", res)
	}
	run, err := c.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Status != client.StatusFinished {
		t.Fatalf("status %s", run.Info.Status)
	}
	if v, _ := run.Param("num_rounds"); v != "20" {
		t.Fatalf("num_rounds param = %q", v)
	}
	if _, ok := run.Metric("val_auc"); !ok {
		t.Fatal("no val_auc metric")
	}
	hist, err := c.MetricHistory(ctx, res.RunID, "train_logloss")
	if err != nil || len(hist) != 20 {
		t.Fatalf("per-iteration train_logloss: %d points, %v", len(hist), err)
	}
	if len(run.Inputs.DatasetInputs) != 1 || run.Inputs.DatasetInputs[0].Dataset.Digest == "" {
		t.Fatalf("inputs = %+v", run.Inputs)
	}
	files2, err := c.ListArtifacts(ctx, res.RunID, "model")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range files2 {
		names[f.Path] = true
	}
	for _, want := range []string{"model/MLmodel", "model/ferry.json", "model/model.json", "model/input_example.json"} {
		if !names[want] {
			t.Fatalf("artifact %s missing from %v", want, names)
		}
	}
	// The kept package loads, verifies, and predicts the recorded example.
	pkg, err := model.Load(ctx, res.PackageDir)
	if err != nil || !pkg.Verified() {
		t.Fatalf("load package: %v", err)
	}
	if pkg.Info.Lineage.GitCommit != strings.Repeat("a", 40) || len(pkg.Info.Lineage.Datasets) != 1 || len(pkg.Info.Profile) == 0 {
		t.Fatalf("lineage = %+v", pkg.Info.Lineage)
	}
	if sig := pkg.Manifest.Signature; sig == nil || len(sig.Inputs) != 4 {
		t.Fatalf("signature = %+v", pkg.Manifest.Signature)
	}
	// The outputs are what the model returns (runtime/native), not the target.
	wantOut := []model.Spec{{Name: "probability", Type: model.TypeDouble, Required: true}, {Name: "label", Type: model.TypeString, Required: true}}
	if got := pkg.Manifest.Signature.Outputs; !slices.EqualFunc(got, wantOut, func(a, b model.Spec) bool {
		return a.Name == b.Name && a.Type == b.Type && a.Required == b.Required && !a.IsTensor
	}) {
		t.Fatalf("signature outputs = %+v, want %+v", got, wantOut)
	}
	f, err := os.Open(filepath.Join(res.PackageDir, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := native.LoadPipeline(f); err != nil {
		t.Fatal(err)
	}
}

func modelDigest(t *testing.T, c *client.Client, spec train.Spec) string {
	t.Helper()
	res, err := (&train.Runner{Tracker: app.Remote{Client: c}}).Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.DownloadArtifact(context.Background(), res.RunID, "model/model.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	io.Copy(h, rc)
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if got != res.ModelDigest {
		t.Fatalf("stored model.json digest %s, result says %s", got, res.ModelDigest)
	}
	return got
}

func TestReproducible(t *testing.T) {
	c := newClient(t)
	files := exampleFiles(t)
	a := modelDigest(t, c, flightsSpec(files["flights"], 1))
	b := modelDigest(t, c, flightsSpec(files["flights"], 1))
	other := modelDigest(t, c, flightsSpec(files["flights"], 2))
	if a != b {
		t.Fatalf("same seed and data gave different models: %s vs %s", a, b)
	}
	if a == other {
		t.Fatal("a different seed gave the same model")
	}
}

func TestTrainersAndTasks(t *testing.T) {
	c := newClient(t)
	files := exampleFiles(t)
	dir := t.TempDir()
	iris := filepath.Join(dir, "iris.csv")
	os.WriteFile(iris, []byte(irisCSV), 0o644)
	tests := []struct {
		name   string
		spec   train.Spec
		metric string
		min    float64
	}{
		{"logistic binary", train.Spec{Data: files["breast_cancer"], Target: "diagnosis", Trainer: "logistic", Seed: 3}, "val_auc", 0.97},
		{"gbdt binary", train.Spec{Data: files["breast_cancer"], Target: "diagnosis", Params: map[string]any{"num_rounds": 30}}, "val_auc", 0.95},
		{"logistic multiclass", train.Spec{Data: iris, Target: "species", Trainer: "logistic", Split: train.SplitSpec{Validation: 0.3}}, "val_accuracy", 0.8},
		{"gbdt multiclass", train.Spec{Data: iris, Target: "species", Params: map[string]any{"num_rounds": 20}, Split: train.SplitSpec{Validation: 0.3}}, "val_accuracy", 0.7},
		{"linear regression", train.Spec{Data: files["breast_cancer"], Target: "f00", Trainer: "linear", Features: []string{"f02", "f03"}}, "val_r2", 0.9},
		{"gbdt regression", train.Spec{Data: files["breast_cancer"], Target: "f00", Task: "regression", Features: []string{"f02", "f03"}, Params: map[string]any{"num_rounds": 50}}, "val_r2", 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := (&train.Runner{Tracker: app.Remote{Client: c}}).Run(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.Metrics[tt.metric] < tt.min {
				t.Fatalf("%s = %v, want at least %v (%+v)", tt.metric, res.Metrics[tt.metric], tt.min, res.Metrics)
			}
		})
	}
}

// TestMulticlassMetrics: a multiclass spec may name every metric validation
// computes for multiclass models, per-class ones and the aliases too.
func TestMulticlassMetrics(t *testing.T) {
	c := newClient(t)
	iris := filepath.Join(t.TempDir(), "iris.csv")
	os.WriteFile(iris, []byte(irisCSV), 0o644)
	names := append([]string{"mlogloss", "auc", "f1_setosa", "recall_virginica"}, metrics.NamesFor(model.TaskMulticlass)...)
	for _, n := range []string{"accuracy", "log_loss", "f1_macro", "balanced_accuracy", "roc_auc_weighted", "ece"} {
		if !slices.Contains(names, n) {
			t.Fatalf("validation has no multiclass metric %q", n)
		}
	}
	for _, trainer := range []string{train.TrainerGBDT, train.TrainerLogistic} {
		t.Run(trainer, func(t *testing.T) {
			spec := train.Spec{Data: iris, Target: "species", Trainer: trainer, Params: map[string]any{}, Split: train.SplitSpec{Validation: 0.4}, Seed: 2, Metrics: names}
			if trainer == train.TrainerGBDT {
				spec.Params["num_rounds"] = 10
			}
			res, err := (&train.Runner{Tracker: app.Remote{Client: c}}).Run(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.Task != model.TaskMulticlass {
				t.Fatalf("task %s", res.Task)
			}
			for _, n := range names {
				if _, ok := res.Metrics["val_"+n]; !ok {
					t.Errorf("val_%s missing from %v", n, res.Metrics)
				}
			}
			if res.Metrics["val_log_loss"] != res.Metrics["val_mlogloss"] || res.Metrics["val_auc"] != res.Metrics["val_roc_auc"] {
				t.Errorf("aliases differ: %v", res.Metrics)
			}
		})
	}
	t.Run("a typo is refused before training", func(t *testing.T) {
		c := newClient(t)
		spec := train.Spec{ExperimentName: "typo", Data: iris, Target: "species", Metrics: []string{"accuracy", "f1_macr", "logloss"}}
		_, err := (&train.Runner{Tracker: app.Remote{Client: c}}).Run(context.Background(), spec)
		want := `metrics "f1_macr", "logloss" are not available for multiclass models; use auc, mlogloss, accuracy, balanced_accuracy, precision_macro, recall_macro, f1_macro, precision_weighted, recall_weighted, f1_weighted, roc_auc, roc_auc_weighted, log_loss, ece, or precision_, recall_ or f1_ followed by a class (setosa, versicolor, virginica)`
		if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), want) {
			t.Fatalf("error %v, want EINVALID saying %s", err, want)
		}
		if exps, _, err := c.SearchExperiments(context.Background(), client.ExperimentQuery{}); err != nil || slices.ContainsFunc(exps, func(e client.Experiment) bool { return e.Name == "typo" }) {
			t.Fatalf("the refused spec made its experiment (%v)", err)
		}
	})
}

func TestBadInput(t *testing.T) {
	c := newClient(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	ragged := write("ragged.csv", "a,b,y\n1,2,0\n3,4\n5,6,1\n")
	ok := write("ok.csv", "a,b,y,label\n1,2,0,x\n3,4,1,y\n5,6,0,x\n7,8,1,y\n9,1,0,x\n")
	single := write("single.csv", "a,y\n1,1\n2,1\n3,1\n4,1\n")
	empty := write("empty.csv", "")
	parquet := write("truncated.parquet", "PAR1\x15\x04\x15\x10\x15\x14L")
	tests := []struct {
		name string
		spec train.Spec
		want string
	}{
		{"ragged rows", train.Spec{Data: ragged, Target: "y"}, "ragged.csv line 3"},
		{"missing target", train.Spec{Data: ok, Target: "nope"}, `'nope'`},
		{"non-numeric target for regression", train.Spec{Data: ok, Target: "label", Task: "regression"}, "regression needs a numeric target"},
		{"single class", train.Spec{Data: single, Target: "y", Task: "binary"}, "single class"},
		{"empty file", train.Spec{Data: empty, Target: "y"}, "empty.csv"},
		{"truncated parquet", train.Spec{Data: parquet, Target: "y"}, "truncated.parquet"},
		{"unknown trainer", train.Spec{Data: ok, Target: "y", Trainer: "svm"}, `"svm" is not a built-in trainer`},
		{"unknown param", train.Spec{Data: ok, Target: "y", Params: map[string]any{"depth": 3}}, `unknown field "depth"; did you mean "max_depth"?; valid params are objective, num_class, num_rounds, learning_rate, max_depth`},
		{"unknown linear param", train.Spec{Data: ok, Target: "y", Trainer: "logistic", Params: map[string]any{"epoch": 3}}, `unknown field "epoch"; did you mean "epochs"?; valid params are l2, learning_rate, epochs`},
		{"timestamp without part", train.Spec{Data: ok, Target: "y", Features: []string{"a:month"}}, "only timestamp columns have parts"},
		{"unknown metric", train.Spec{Data: ok, Target: "label", Metrics: []string{"accuracy", "f1_macr"}}, `metric "f1_macr" is not available for binary models; use auc, logloss, accuracy, balanced_accuracy, precision_macro, recall_macro, f1_macro`},
		{"metric of another task", train.Spec{Data: ok, Target: "a", Task: "regression", Metrics: []string{"accuracy"}}, "use rmse, mae, r2, mape, median_ae"},
		{"per-class metric of no class", train.Spec{Data: ok, Target: "label", Metrics: []string{"f1_z"}}, "f1_ followed by a class (x, y)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&train.Runner{Tracker: app.Remote{Client: c}}).Run(context.Background(), tt.spec)
			if err == nil || !strings.Contains(ferry.ErrorMessage(err)+err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("code %s, want EINVALID", ferry.ErrorCode(err))
			}
		})
	}
	// None of them started a run.
	exps, _, err := c.SearchExperiments(context.Background(), client.ExperimentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	runs, _, err := c.SearchRuns(context.Background(), client.RunQuery{ExperimentIDs: []string{exps[0].ID}})
	if err != nil || len(runs) != 0 {
		t.Fatalf("bad input left %d runs behind (%v)", len(runs), err)
	}
}

const irisCSV = `sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
4.9,3.0,1.4,0.2,setosa
4.7,3.2,1.3,0.2,setosa
4.6,3.1,1.5,0.2,setosa
5.0,3.6,1.4,0.2,setosa
5.4,3.9,1.7,0.4,setosa
4.6,3.4,1.4,0.3,setosa
5.0,3.4,1.5,0.2,setosa
4.4,2.9,1.4,0.2,setosa
4.9,3.1,1.5,0.1,setosa
5.4,3.7,1.5,0.2,setosa
4.8,3.4,1.6,0.2,setosa
4.8,3.0,1.4,0.1,setosa
4.3,3.0,1.1,0.1,setosa
5.8,4.0,1.2,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.4,3.2,4.5,1.5,versicolor
6.9,3.1,4.9,1.5,versicolor
5.5,2.3,4.0,1.3,versicolor
6.5,2.8,4.6,1.5,versicolor
5.7,2.8,4.5,1.3,versicolor
6.3,3.3,4.7,1.6,versicolor
4.9,2.4,3.3,1.0,versicolor
6.6,2.9,4.6,1.3,versicolor
5.2,2.7,3.9,1.4,versicolor
5.0,2.0,3.5,1.0,versicolor
5.9,3.0,4.2,1.5,versicolor
6.0,2.2,4.0,1.0,versicolor
6.1,2.9,4.7,1.4,versicolor
5.6,2.9,3.6,1.3,versicolor
6.3,3.3,6.0,2.5,virginica
5.8,2.7,5.1,1.9,virginica
7.1,3.0,5.9,2.1,virginica
6.3,2.9,5.6,1.8,virginica
6.5,3.0,5.8,2.2,virginica
7.6,3.0,6.6,2.1,virginica
4.9,2.5,4.5,1.7,virginica
7.3,2.9,6.3,1.8,virginica
6.7,2.5,5.8,1.8,virginica
7.2,3.6,6.1,2.5,virginica
6.5,3.2,5.1,2.0,virginica
6.4,2.7,5.3,1.9,virginica
6.8,3.0,5.5,2.1,virginica
5.7,2.5,5.0,2.0,virginica
5.8,2.8,5.1,2.4,virginica
`
