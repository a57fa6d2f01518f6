package model

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"testing"
)

// TestMLflowXGBoost: the flavors Ferry writes for an XGBoost booster have
// the fields mlflow.xgboost.save_model of MLflow 2.x writes (the fixture is
// MLflow's own MLmodel of a booster saved as JSON), python_version aside:
// Ferry saves no Python.
func TestMLflowXGBoost(t *testing.T) {
	env, files := PythonRequirements{Python: "3.10", Packages: []string{"mlflow>=2", "xgboost>=1.7"}}.Files()
	xf, pf := MLflowXGBoost("xgboost/model.json", "1.7.4", env)
	m := &Manifest{}
	m.SetFlavor(xf)
	m.SetFlavor(pf)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	mlflow, err := ParseManifest(bytes.NewReader(mlflowFixture(t, "xgboost")))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FlavorXGBoost, FlavorPyFunc} {
		want := slices.Sorted(maps.Keys(mlflow.Flavors[name]))
		if name == FlavorPyFunc {
			want = slices.DeleteFunc(want, func(k string) bool { return k == "python_version" })
		}
		if keys := slices.Sorted(maps.Keys(got.Flavors[name])); !slices.Equal(keys, want) {
			t.Errorf("flavors.%s has %v; MLflow writes %v", name, keys, want)
		}
	}
	wantXGB := Flavor{"code": nil, "data": "xgboost/model.json", "model_class": "xgboost.core.Booster", "model_format": "json", "xgb_version": "1.7.4"}
	if !reflect.DeepEqual(got.Flavors[FlavorXGBoost], wantXGB) {
		t.Errorf("xgboost = %#v", got.Flavors[FlavorXGBoost])
	}
	if p, err := got.PyFunc(); err != nil || p.Env != (PythonEnv{Conda: CondaFile, Virtualenv: PythonEnvFile}) || p.Data != "xgboost/model.json" || p.LoaderModule != "mlflow.xgboost" {
		t.Errorf("python_function = %+v, %v", p, err)
	}
	wantFiles := map[string]string{
		CondaFile:        "channels:\n- conda-forge\ndependencies:\n- python=3.10\n- pip\n- pip:\n  - mlflow>=2\n  - xgboost>=1.7\nname: mlflow-env\n",
		PythonEnvFile:    "python: '3.10'\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n",
		RequirementsFile: "mlflow>=2\nxgboost>=1.7\n",
	}
	for name, want := range wantFiles {
		if string(files[name]) != want {
			t.Errorf("%s =\n%s\nwant\n%s", name, files[name], want)
		}
	}
}
