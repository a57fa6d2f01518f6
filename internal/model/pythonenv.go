package model

import (
	"strings"
)

// Names of the environment files MLflow writes beside a python_function model.
const (
	CondaFile        = "conda.yaml"
	PythonEnvFile    = "python_env.yaml"
	RequirementsFile = "requirements.txt"
)

// XGBoostBoosterClass is the model_class of an xgboost flavor whose data is
// a plain booster: mlflow.xgboost.load_model returns an xgboost.Booster.
const XGBoostBoosterClass = "xgboost.core.Booster"

// PythonRequirements is what a python_function model needs of Python: the
// interpreter version its environment files name and the pip requirements.
type PythonRequirements struct {
	// Python is the interpreter version, e.g. "3.10".
	Python string
	// Packages are pip requirement lines, e.g. "xgboost>=1.7".
	Packages []string
}

// Files returns the environment files as MLflow 2.x writes them — conda.yaml
// (conda-forge, the Python version, pip and the requirements),
// python_env.yaml (the Python version, pip's build dependencies and "-r
// requirements.txt") and requirements.txt (one requirement a line) — keyed by
// file name, and the PythonEnv of a python_function flavor that names them.
// The same requirements give the same bytes.
func (r PythonRequirements) Files() (PythonEnv, map[string][]byte) {
	var conda, env, reqs strings.Builder
	conda.WriteString("channels:\n- conda-forge\ndependencies:\n- python=" + r.Python + "\n- pip\n- pip:\n")
	for _, p := range r.Packages {
		conda.WriteString("  - " + p + "\n")
		reqs.WriteString(p + "\n")
	}
	conda.WriteString("name: mlflow-env\n")
	env.WriteString("python: '" + r.Python + "'\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r " + RequirementsFile + "\n")
	return PythonEnv{Conda: CondaFile, Virtualenv: PythonEnvFile}, map[string][]byte{
		CondaFile:        []byte(conda.String()),
		PythonEnvFile:    []byte(env.String()),
		RequirementsFile: []byte(reqs.String()),
	}
}

// MLflowXGBoost returns the flavors mlflow.xgboost.save_model of MLflow 2.x
// writes for an xgboost.Booster saved in XGBoost's JSON format at data (a
// path in the package): xgboost {xgb_version, data, model_class
// xgboost.core.Booster, model_format json, code null} and python_function
// {loader_module mlflow.xgboost, data, env}. With them,
// mlflow.xgboost.load_model returns the booster and mlflow.pyfunc.load_model
// predicts with it on a DMatrix of the input frame.
func MLflowXGBoost(data, xgbVersion string, env PythonEnv) (XGBoostFlavor, PyFuncFlavor) {
	return XGBoostFlavor{Data: data, ModelFormat: "json", ModelClass: XGBoostBoosterClass, XGBVersion: xgbVersion},
		PyFuncFlavor{LoaderModule: "mlflow.xgboost", Data: data, Env: env}
}
