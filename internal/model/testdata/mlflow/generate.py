#!/usr/bin/env python3
# Regenerates the MLmodel fixtures in this directory: python3 generate.py .
# They are written the way MLflow 2.x writes them (mlflow.models.Model.to_yaml:
# yaml.safe_dump(model.to_dict(), default_flow_style=False); signature parts are
# json.dumps of the ColSpec/TensorSpec/ParamSpec dicts, in MLflow's key order).
# The flavor fields follow what mlflow.xgboost/lightgbm/onnx/sklearn/pyfunc add
# in MLflow 2.14-2.22. Needs PyYAML only, not MLflow.
import json, os, sys, yaml
out = sys.argv[1]

def col(t, name=None, required=True, **extra):
    d = {"type": t}
    d.update(extra)
    if name is not None:
        d["name"] = name
    d["required"] = required
    return d

def tensor(dtype, shape, name=None):
    d = {} if name is None else {"name": name}
    d.update({"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}})
    return d

def param(name, default, t, shape=None):
    return {"name": name, "default": default, "shape": shape, "type": t}

def sig(inputs, outputs=None, params=None):
    return {"inputs": json.dumps(inputs) if inputs else None,
            "outputs": json.dumps(outputs) if outputs else None,
            "params": json.dumps(params) if params else None}

cancer = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
          "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
          "mean fractal dimension", "worst radius", "worst texture", "worst perimeter", "worst area"]

models = {
 "xgboost": {
  "artifact_path": "model",
  "flavors": {
   "python_function": {"data": "model.json", "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                       "loader_module": "mlflow.xgboost", "python_version": "3.11.4"},
   "xgboost": {"code": None, "data": "model.json", "model_class": "xgboost.sklearn.XGBClassifier",
               "model_format": "json", "xgb_version": "2.0.3"}},
  "mlflow_version": "2.14.2", "model_size_bytes": 35836,
  "model_uuid": "0badaf06aa254da9811188d6c060a176", "run_id": "8f61417c580541cb84d88586a3a1a44a",
  "saved_input_example_info": {"artifact_path": "input_example.json", "pandas_orient": "split", "type": "dataframe"},
  "signature": sig([col("double", n) for n in cancer], [col("long")]),
  "utc_time_created": "2024-07-25 22:31:01.090420",
 },
 "xgboost_legacy": {
  "artifact_path": "model",
  "flavors": {
   "python_function": {"data": "model.xgb", "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                       "loader_module": "mlflow.xgboost", "python_version": "3.12.9"},
   "xgboost": {"code": None, "data": "model.xgb", "model_class": "xgboost.core.Booster",
               "model_format": "xgb", "xgb_version": "3.0.2"}},
  "is_signature_from_type_hint": False, "mlflow_version": "2.22.0", "model_size_bytes": 4711865,
  "model_uuid": "a7314358d6854fc69951d56f36d070c1", "prompts": None,
  "run_id": "0aa3cdce14f448a79be2482a5ebedc5c",
  "saved_input_example_info": {"artifact_path": "input_example.json", "pandas_orient": "split",
                               "serving_input_path": "serving_input_example.json", "type": "dataframe"},
  "signature": sig([col("long", "age"), col("double", "income"), col("string", "segment"),
                    col("boolean", "is_member"), col("datetime", "signup_date")],
                   [tensor("float32", [-1])]),
  "type_hint_from_example": False,
  "utc_time_created": "2025-06-11 22:09:41.968097",
 },
 "lightgbm": {
  "artifact_path": "model",
  "flavors": {
   "lightgbm": {"code": None, "data": "model.lgb", "lgb_version": "4.5.0", "model_class": "lightgbm.basic.Booster"},
   "python_function": {"data": "model.lgb", "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                       "loader_module": "mlflow.lightgbm", "python_version": "3.10.11"}},
  "mlflow_version": "2.16.2", "model_size_bytes": 16722,
  "model_uuid": "019fe4c303744ca0ace54ecd6fa109ef", "run_id": "7dd549762cf5452d9f322375bc2a4f58",
  "saved_input_example_info": {"artifact_path": "input_example.json", "pandas_orient": "split", "type": "dataframe"},
  "signature": sig([col("double", "site"), col("double", "temperature"), col("double", "humidity"),
                    col("long", "hour"), col("integer", "day_of_week")],
                   [tensor("float64", [-1])]),
  "utc_time_created": "2024-10-02 09:14:27.553104",
 },
 "onnx": {
  "artifact_path": "model",
  "flavors": {
   "onnx": {"code": None, "data": "model.onnx", "onnx_session_options": None, "onnx_version": "1.16.1",
            "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]},
   "python_function": {"data": "model.onnx", "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                       "loader_module": "mlflow.onnx", "python_version": "3.10.14"}},
  "mlflow_version": "2.14.1", "model_size_bytes": 1270,
  "model_uuid": "3c7d1e0f2a9b4f6d8e5c1b2a3d4e5f60", "run_id": "5f1e2d3c4b5a49687766554433221100",
  "signature": sig([tensor("float32", [-1, 4], "float_input")],
                   [tensor("int64", [-1], "label"), tensor("float32", [-1, 3], "probabilities")]),
  "utc_time_created": "2024-06-20 14:02:11.418202",
 },
 "sklearn": {
  "artifact_path": "iris_rf",
  "flavors": {
   "python_function": {"env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                       "loader_module": "mlflow.sklearn", "model_path": "model.pkl", "predict_fn": "predict",
                       "python_version": "3.9.19"},
   "sklearn": {"code": None, "pickled_model": "model.pkl", "serialization_format": "cloudpickle",
               "sklearn_version": "1.6.1"}},
  "is_signature_from_type_hint": False, "mlflow_version": "2.21.3", "model_size_bytes": 115591,
  "model_uuid": "46c16727b92e4179a5268c13902b5867", "prompts": None,
  "run_id": "ad58a4eeb1834f698623556cb5681e54",
  "metadata": {"metadata_key": "metadata_value"},
  "saved_input_example_info": {"artifact_path": "input_example.json", "pandas_orient": "split",
                               "serving_input_path": "serving_input_example.json", "type": "dataframe"},
  "signature": sig([col("double", n) for n in ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]],
                   [col("long")]),
  "type_hint_from_example": False,
  "utc_time_created": "2025-04-01 08:30:00.125000",
 },
 "pyfunc": {
  "artifact_path": "chat_filter",
  "flavors": {
   "python_function": {"cloudpickle_version": "3.0.0", "code": None,
                       "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                       "loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl",
                       "python_version": "3.11.9", "streamable": False}},
  "mlflow_version": "2.17.2", "model_size_bytes": 4211,
  "model_uuid": "9e8d7c6b5a4f43e2b1c0d9e8f7a6b5c4", "run_id": "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6",
  "metadata": {"team": "trust-and-safety", "reviewed": True},
  "saved_input_example_info": {"artifact_path": "input_example.json", "pandas_orient": "split",
                               "serving_input_path": "serving_input_example.json", "type": "dataframe"},
  "signature": sig([col("string", "text"),
                    col("array", "tags", items={"type": "string"}),
                    col("object", "context", required=False, properties={"locale": {"type": "string", "required": True}, "user_age": {"type": "long", "required": False}}),
                    col("double", "caf\u00e9_score", required=False)],
                   [col("boolean", "flagged"), col("double", "score")],
                   [param("threshold", 0.5, "double"), param("labels", ["spam", "abuse"], "string", [-1]),
                    param("as_of", "2024-01-01T00:00:00", "datetime")]),
  "utc_time_created": "2024-11-05 17:45:03",
 },
}
for name, d in models.items():
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "MLmodel"), "w") as f:
        yaml.safe_dump(d, stream=f, default_flow_style=False)
