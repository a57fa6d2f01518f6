"""The real-client suite: MLflow's official client drives a tracking server
(MLFLOW_TRACKING_URI) through what users do with it, checking every answer.

internal/httpapi's TestMLflowClientSuite runs it against Ferry, and, with
FERRY_MLFLOW_RECORD set, against a real `mlflow server` through a recording
proxy: recorded/client_suite.json then holds every exchange the client made
and MLflow's answers, which TestMLflowRecorded replays against Ferry in CI.

It exits non-zero, naming the check, when an answer is not what MLflow's
client should get.
"""

import os
import tempfile

import numpy as np
import pandas as pd

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

SUFFIX = os.environ.get("SUITE_SUFFIX", "")


def check(cond, what):
    if not cond:
        raise SystemExit("client suite: " + what)


def main():
    client = MlflowClient()

    # Experiments.
    exp_id = client.create_experiment("suite" + SUFFIX, tags={"team": "ml"})
    exp = client.get_experiment_by_name("suite" + SUFFIX)
    check(exp is not None and exp.experiment_id == exp_id, "get_experiment_by_name")
    check(exp.tags.get("team") == "ml", "experiment tags")
    client.set_experiment_tag(exp_id, "stage", "dev")
    check(client.get_experiment(exp_id).tags == {"team": "ml", "stage": "dev"}, "set_experiment_tag")
    found = client.search_experiments(filter_string="name = 'suite%s'" % SUFFIX)
    check([e.experiment_id for e in found] == [exp_id], "search_experiments")
    mlflow.set_experiment(experiment_id=exp_id)

    # Runs: params, metrics, tags, batch logging.
    with mlflow.start_run(run_name="manual") as run:
        run_id = run.info.run_id
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 6, "loss": "logloss"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.set_tag("stage", "dev")
        client.log_batch(
            run_id,
            metrics=[Metric("acc", 0.5 + i / 200, 1700000000000 + i, i) for i in range(100)],
            params=[Param("batch_size", "32")],
            tags=[RunTag("owner", "ada")],
        )
    got = client.get_run(run_id)
    check(got.info.status == "FINISHED" and got.info.run_name == "manual", "run finished with its name")
    check(got.data.params == {"lr": "0.1", "depth": "6", "loss": "logloss", "batch_size": "32"}, "params %r" % got.data.params)
    check(got.data.metrics == {"loss": 0.2, "acc": 0.5 + 99 / 200}, "latest metrics %r" % got.data.metrics)
    check(got.data.tags["stage"] == "dev" and got.data.tags["owner"] == "ada", "tags")
    history = client.get_metric_history(run_id, "acc")
    check([m.step for m in history] == list(range(100)), "metric history of 100 points")
    check([m.value for m in client.get_metric_history(run_id, "loss")] == [1.0, 0.5, 1 / 3, 0.25, 0.2], "loss history")

    # Artifacts through the proxy.
    with mlflow.start_run(run_id=run_id):
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"a": 1}, "config.json")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "data.csv")
            pd.DataFrame({"x": [1, 2]}).to_csv(p, index=False)
            mlflow.log_artifact(p, "data")
    names = sorted(a.path for a in client.list_artifacts(run_id))
    check(names == ["config.json", "data", "notes"], "list_artifacts %r" % names)
    check([a.path for a in client.list_artifacts(run_id, "notes")] == ["notes/hello.txt"], "list a directory")
    check(mlflow.artifacts.load_text("runs:/%s/notes/hello.txt" % run_id) == "hello", "load_text")
    check(mlflow.artifacts.load_dict("runs:/%s/config.json" % run_id) == {"a": 1}, "load_dict")
    with tempfile.TemporaryDirectory() as d:
        local = client.download_artifacts(run_id, "data", d)
        check(open(os.path.join(local, "data.csv")).read() == "x\n1\n2\n", "download_artifacts")

    # Autologging of a scikit-learn model, and mlflow.evaluate.
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (X["a"] + 0.5 * X["b"] > 0).astype(int)
    mlflow.sklearn.autolog(log_models=True, log_datasets=False, silent=True)
    with mlflow.start_run(run_name="autolog") as run:
        LogisticRegression(C=0.5).fit(X, y)
    mlflow.sklearn.autolog(disable=True)
    auto = client.get_run(run.info.run_id)
    check(auto.data.params.get("C") == "0.5", "autologged params %r" % auto.data.params)
    check(auto.data.metrics.get("training_accuracy_score", 0) > 0.9, "autologged metrics %r" % auto.data.metrics)
    check("model" in [a.path for a in client.list_artifacts(auto.info.run_id)], "autologged model")
    model_uri = "runs:/%s/model" % auto.info.run_id
    loaded = mlflow.pyfunc.load_model(model_uri)
    check(list(loaded.predict(X.head(3))) == list(LogisticRegression(C=0.5).fit(X, y).predict(X.head(3))), "load the autologged model")
    with mlflow.start_run(run_name="evaluate") as run:
        result = mlflow.evaluate(model_uri, X.assign(label=y), targets="label", model_type="classifier",
                                 evaluators="default", evaluator_config={"log_model_explainability": False})
    check(result.metrics["accuracy_score"] > 0.9, "evaluate metrics %r" % result.metrics)
    check(client.get_run(run.info.run_id).data.metrics["accuracy_score"] == result.metrics["accuracy_score"], "evaluate logged")

    # Nested runs.
    with mlflow.start_run(run_name="parent") as parent:
        for i in range(3):
            with mlflow.start_run(run_name="child-%d" % i, nested=True):
                mlflow.log_metric("i", i)
    children = client.search_runs([exp_id], "tags.mlflow.parentRunId = '%s'" % parent.info.run_id, order_by=["metrics.i ASC"])
    check([r.data.metrics["i"] for r in children] == [0, 1, 2], "nested runs")

    # Paging through hundreds of runs.
    many = client.create_experiment("suite-many" + SUFFIX)
    made = {client.create_run(many, run_name="r%03d" % i).info.run_id for i in range(230)}
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([many], max_results=100, page_token=token, order_by=["attributes.run_name ASC"])
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    check(len(seen) == 230 and set(seen) == made and pages == 3, "paged %d runs in %d pages" % (len(seen), pages))
    names = [client.get_run(i).info.run_name for i in seen[:3]]
    check(names == ["r000", "r001", "r002"], "paging order %r" % names)

    # Registry: register twice, aliases, stages, tags, search, models:/ loading.
    name = "suite-model" + SUFFIX
    v1 = mlflow.register_model(model_uri, name)
    v2 = mlflow.register_model(model_uri, name)
    check((v1.version, v2.version) == ("1", "2"), "register twice: %s %s" % (v1.version, v2.version))
    client.set_registered_model_alias(name, "champion", "1")
    check(client.get_model_version_by_alias(name, "champion").version == "1", "alias")
    client.transition_model_version_stage(name, "2", "Staging")
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    check(latest == {"None": "1", "Staging": "2"}, "latest versions %r" % latest)
    client.set_registered_model_tag(name, "team", "growth")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.update_registered_model(name, description="suite model")
    rm = client.get_registered_model(name)
    check(rm.tags == {"team": "growth"} and rm.description == "suite model" and rm.aliases == {"champion": "1"}, "registered model %r" % rm)
    check([m.name for m in client.search_registered_models("name = '%s'" % name)] == [name], "search_registered_models")
    check([m.name for m in client.search_registered_models("tags.team = 'growth'")] == [name], "search by tag")
    vs = client.search_model_versions("name = '%s'" % name, order_by=["version_number ASC"])
    check([v.version for v in vs] == ["1", "2"] and vs[1].tags == {"validated": "yes"}, "search_model_versions")
    check(len(client.search_model_versions("name LIKE 'suite-mod%%'")) == 2, "search versions by LIKE")
    for uri in ("models:/%s/1" % name, "models:/%s@champion" % name, "models:/%s/Staging" % name):
        m = mlflow.pyfunc.load_model(uri)
        check(list(m.predict(X.head(3))) == list(loaded.predict(X.head(3))), "load " + uri)
    client.delete_registered_model_alias(name, "champion")
    client.delete_model_version(name, "1")
    check([v.version for v in client.search_model_versions("name = '%s'" % name)] == ["2"], "delete a version")
    print("client suite: every check passed")


if __name__ == "__main__":
    main()
