package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/train"
)

// trainPackage trains spec and returns the package the run wrote.
func trainPackage(t *testing.T, spec train.Spec) *model.Package {
	t.Helper()
	ctx := context.Background()
	r := &train.Runner{Tracker: app.Remote{Client: newClient(t)}, KeepDir: t.TempDir()}
	res, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := model.Load(ctx, res.PackageDir)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// withMissing copies a CSV file, blanking every seventh cell of the columns
// other than target, so that models meet missing values.
func withMissing(t *testing.T, src, target string) string {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	header := strings.Split(lines[0], ",")
	k := 0
	for i := 1; i < len(lines); i++ {
		cells := strings.Split(lines[i], ",")
		for j := range cells {
			if header[j] == target {
				continue
			}
			if k++; k%7 == 0 {
				cells[j] = ""
			}
		}
		lines[i] = strings.Join(cells, ",")
	}
	dst := filepath.Join(t.TempDir(), "missing-"+filepath.Base(src))
	if err := os.WriteFile(dst, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// pyfuncCases are models whose inputs are all numeric, one per task.
func pyfuncCases(t *testing.T) []struct {
	name string
	spec train.Spec
} {
	files := exampleFiles(t)
	iris := filepath.Join(t.TempDir(), "iris.csv")
	if err := os.WriteFile(iris, []byte(irisCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		spec train.Spec
	}{
		{"binary", train.Spec{Data: files["breast_cancer"], Target: "diagnosis", Params: map[string]any{"num_rounds": 30}, Seed: 1}},
		{"multiclass with missing values", train.Spec{Data: withMissing(t, iris, "species"), Target: "species", Params: map[string]any{"num_rounds": 20}, Split: train.SplitSpec{Validation: 0.3}, Seed: 2}},
		{"regression with missing values", train.Spec{Data: withMissing(t, files["breast_cancer"], "f00"), Target: "f00", Task: "regression", Features: []string{"f02", "f03", "f07"}, Params: map[string]any{"num_rounds": 40}, Seed: 3}},
	}
}

// TestPackageFlavors: a GBDT whose inputs are all numeric carries the
// xgboost and python_function flavors as MLflow 2.x's mlflow.xgboost writes
// them, with their environment files; other models carry neither and say
// why in the MLmodel's metadata. Ferry still serves every one through its
// own flavor.
func TestPackageFlavors(t *testing.T) {
	for _, tc := range pyfuncCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			pkg := trainPackage(t, tc.spec)
			m := pkg.Manifest
			if got, _ := m.PreferredFlavor(); got != model.FlavorFerry {
				t.Fatalf("preferred flavor %q, want ferry", got)
			}
			wantXGB := model.Flavor{"code": nil, "data": "xgboost/model.json", "model_class": "xgboost.core.Booster", "model_format": "json", "xgb_version": "1.7.4"}
			if got := m.Flavors[model.FlavorXGBoost]; !reflect.DeepEqual(got, wantXGB) {
				t.Errorf("flavors.xgboost = %#v, want %#v", got, wantXGB)
			}
			wantPy := model.Flavor{"loader_module": "mlflow.xgboost", "data": "xgboost/model.json", "env": map[string]any{"conda": "conda.yaml", "virtualenv": "python_env.yaml"}}
			if got := m.Flavors[model.FlavorPyFunc]; !reflect.DeepEqual(got, wantPy) {
				t.Errorf("flavors.python_function = %#v, want %#v", got, wantPy)
			}
			for _, f := range []string{"conda.yaml", "python_env.yaml", "requirements.txt", "xgboost/model.json"} {
				if _, ok := pkg.Info.Files[f]; !ok {
					t.Errorf("package has no %s", f)
				}
			}
			req, err := os.ReadFile(filepath.Join(pkg.Dir, "requirements.txt"))
			if err != nil || string(req) != "mlflow>=2\nxgboost>=1.7\n" {
				t.Errorf("requirements.txt = %q, %v", req, err)
			}
			if m.Metadata[train.MetadataPythonFunction] != "mlflow.xgboost" || !strings.Contains(m.Metadata[train.MetadataPythonFunctionNote].(string), "what Ferry predicts") {
				t.Errorf("metadata = %v", m.Metadata)
			}
		})
	}
	files := exampleFiles(t)
	for _, tc := range []struct {
		name, why string
		spec      train.Spec
	}{
		{"categorical and date features", `feature "date_month" is the month of timestamp column "date"`, flightsSpec(files["flights"], 1)},
		{"categorical feature", `feature "origin" is categorical, and Ferry codes its levels`, func() train.Spec {
			s := flightsSpec(files["flights"], 1)
			s.Features = []string{"distance", "origin"}
			return s
		}()},
		{"logistic", "the logistic trainer's models have no XGBoost form", train.Spec{Data: files["breast_cancer"], Target: "diagnosis", Trainer: "logistic"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := trainPackage(t, tc.spec).Manifest
			if _, ok := m.Flavors[model.FlavorXGBoost]; ok {
				t.Error("the package has an xgboost flavor")
			}
			if _, ok := m.Flavors[model.FlavorPyFunc]; ok {
				t.Error("the package has a python_function flavor")
			}
			note, _ := m.Metadata[train.MetadataPythonFunctionNote].(string)
			if m.Metadata[train.MetadataPythonFunction] != "none" || !strings.Contains(note, tc.why) {
				t.Errorf("metadata = %v; want a note saying %s", m.Metadata, tc.why)
			}
		})
	}
}

// mlflowXGBoostScript loads a package the way MLflow 2.x does without MLflow
// installed: mlflow.xgboost.load_model (_load_model) reads flavors.xgboost of
// MLmodel, instantiates model_class and calls load_model on data;
// mlflow.pyfunc.load_model takes flavors.python_function, whose
// loader_module mlflow.xgboost wraps the same model and predicts on
// xgboost.DMatrix(frame) with validate_features, the frame's columns in the
// signature's input order (schema enforcement). It predicts the rows it reads
// on stdin (null = missing) and the package's input example.
const mlflowXGBoostScript = `
import importlib, json, os, sys
import numpy as np
import pandas as pd
import xgboost as xgb
import yaml

req = json.load(sys.stdin)
path = req["package"]
with open(os.path.join(path, "MLmodel")) as f:
    mlmodel = yaml.safe_load(f)

# mlflow.xgboost._load_model
conf = mlmodel["flavors"]["xgboost"]
module, cls = conf.get("model_class", "xgboost.core.Booster").rsplit(".", 1)
booster = getattr(importlib.import_module(module), cls)()
booster.load_model(os.path.join(path, conf["data"]))
assert conf["model_format"] == "json" and conf["data"].endswith(".json"), conf

# mlflow.pyfunc.load_model -> mlflow.xgboost._load_pyfunc(data path)
pf = mlmodel["flavors"]["python_function"]
assert pf["loader_module"] == "mlflow.xgboost", pf
assert pf["data"] == conf["data"], pf
# the environment files, as mlflow.utils.environment reads them
with open(os.path.join(path, pf["env"]["virtualenv"])) as f:
    penv = yaml.safe_load(f)
assert isinstance(penv["python"], str) and penv["dependencies"] == ["-r requirements.txt"], penv
with open(os.path.join(path, pf["env"]["conda"])) as f:
    conda = yaml.safe_load(f)
assert conda["dependencies"][-1]["pip"] == open(os.path.join(path, "requirements.txt")).read().split(), conda
names = [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])]

def pyfunc_predict(frame):
    frame = frame[names].astype("float64")
    return booster.predict(xgb.DMatrix(frame), validate_features=True)

rows = pd.DataFrame([[np.nan if v is None else v for v in r] for r in req["rows"]], columns=req["columns"])
with open(os.path.join(path, mlmodel["saved_input_example_info"]["artifact_path"])) as f:
    ex = json.load(f)
example = pd.DataFrame([[np.nan if v is None else v for v in r] for r in ex["data"]], columns=ex["columns"])
json.dump({
    "version": xgb.__version__,
    "pred": pyfunc_predict(rows).astype(float).reshape(len(rows), -1).tolist(),
    "example": pyfunc_predict(example).astype(float).reshape(len(example), -1).tolist(),
}, sys.stdout)
`

// needMLflowDeps skips the test when Debian's Python lacks xgboost, numpy,
// pandas or yaml, except in CI (CI set), where it must run.
func needMLflowDeps(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import xgboost, numpy, pandas, yaml").CombinedOutput()
	if err == nil {
		return
	}
	msg := "the MLflow parity test needs /usr/bin/python3 with xgboost, numpy, pandas and yaml (apt-get install python3-xgboost python3-pandas python3-yaml)"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: %v: %s", msg, err, out)
	}
	t.Skipf("%s: %v: %s", msg, err, bytes.TrimSpace(out))
}

// TestPyFuncParity loads the packages Ferry writes as mlflow.xgboost and
// mlflow.pyfunc would, with Debian's XGBoost (1.7.4), and checks that they
// predict what Ferry predicts on every row of the data, missing values
// included, and on the package's input example.
func TestPyFuncParity(t *testing.T) {
	needMLflowDeps(t)
	ctx := context.Background()
	for _, tc := range pyfuncCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			pkg := trainPackage(t, tc.spec)
			f, err := os.Open(filepath.Join(pkg.Dir, "model.json"))
			if err != nil {
				t.Fatal(err)
			}
			pipe, err := native.LoadPipeline(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			frame, err := dataset.Read(ctx, tc.spec.Data, dataset.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := pipe.Predict(ctx, frame)
			if err != nil {
				t.Fatal(err)
			}
			// The rows as a client sends them: the input columns in reverse
			// order, null for missing.
			req := struct {
				Package string       `json:"package"`
				Columns []string     `json:"columns"`
				Rows    [][]*float64 `json:"rows"`
			}{Package: pkg.Dir}
			var cols []*dataset.Column
			for i := len(pkg.Manifest.Signature.Inputs) - 1; i >= 0; i-- {
				in := pkg.Manifest.Signature.Inputs[i]
				c, err := frame.Col(in.Name)
				if err != nil {
					t.Fatal(err)
				}
				req.Columns, cols = append(req.Columns, in.Name), append(cols, c)
			}
			for r := range frame.Len() {
				row := make([]*float64, len(cols))
				for j, c := range cols {
					if v := c.Num[r]; !math.IsNaN(v) {
						row[j] = &v
					}
				}
				req.Rows = append(req.Rows, row)
			}
			res := runMLflowXGBoost(t, req)
			if res.Version != native.XGBoostVersion {
				t.Logf("xgboost %s (parity is specified against %s)", res.Version, native.XGBoostVersion)
			}
			k := pipe.Outputs()
			if len(res.Pred) != frame.Len() {
				t.Fatalf("pyfunc gave %d rows for %d", len(res.Pred), frame.Len())
			}
			for r, got := range res.Pred {
				if len(got) != k {
					t.Fatalf("row %d: pyfunc gave %d values, Ferry %d", r, len(got), k)
				}
				for c := range k {
					w := want[r*k+c]
					if d := math.Abs(got[c] - w); d > 1e-6*max(1, math.Abs(w)) {
						t.Fatalf("row %d value %d: pyfunc %v, Ferry %v", r, c, got[c], w)
					}
				}
			}
			var ex struct {
				Predictions []float64 `json:"predictions"`
			}
			raw, err := os.ReadFile(filepath.Join(pkg.Dir, "input_example_predictions.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &ex); err != nil {
				t.Fatal(err)
			}
			if len(res.Example)*k != len(ex.Predictions) || len(res.Example) == 0 {
				t.Fatalf("input example: pyfunc gave %d rows, Ferry recorded %d values", len(res.Example), len(ex.Predictions))
			}
			for r, got := range res.Example {
				for c := range k {
					if w := ex.Predictions[r*k+c]; math.Abs(got[c]-w) > 1e-6*max(1, math.Abs(w)) {
						t.Fatalf("input example row %d value %d: pyfunc %v, Ferry %v", r, c, got[c], w)
					}
				}
			}
		})
	}
}

type mlflowResult struct {
	Version string      `json:"version"`
	Pred    [][]float64 `json:"pred"`
	Example [][]float64 `json:"example"`
}

func runMLflowXGBoost(t *testing.T, req any) mlflowResult {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", mlflowXGBoostScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.Bytes())
	}
	var res mlflowResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output: %v\n%s", err, out)
	}
	return res
}
