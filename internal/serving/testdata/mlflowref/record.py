"""Record what `mlflow models serve` answers to the requests of cases.json.

Writes, next to this file:
  pkg/                 an XGBoost model package written by MLflow's own
                       mlflow.xgboost.save_model (only when pkg/ is absent,
                       so that the committed package stays as it is);
  mlflow_answers.json  the status, content type and body MLflow's scoring
                       server answered to each case, served from pkg/ with
                       `python3 -m mlflow models serve --env-manager local`.

Run it where mlflow is importable (Debian's python3-xgboost,
python3-sklearn, python3-pandas, python3-flask ...; MLflow from its source
tree on PYTHONPATH, as internal/httpapi/testdata/mlflow/recorded/README.md
describes):

    apt-get install gunicorn   # the scoring server runs the gunicorn command
    PYTHONPATH=$FERRY_MLFLOW_PYTHONPATH /usr/bin/python3 record.py

internal/serving's TestMLflowScoringParity replays the cases against Ferry
serving the same package and compares with these answers.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def write_package(path):
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    import mlflow.xgboost
    from mlflow.models import infer_signature

    rng = np.random.default_rng(7)
    n = 400
    x = rng.normal(size=n)
    k = rng.integers(-5, 6, size=n)
    y = ((x + 0.3 * k + rng.normal(scale=0.5, size=n)) > 0).astype(int)
    df = pd.DataFrame({"x": x.astype("float64"), "n": k.astype("int64")})
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 7},
        xgb.DMatrix(df, label=y),
        num_boost_round=10,
    )
    preds = booster.predict(xgb.DMatrix(df))
    mlflow.xgboost.save_model(booster, path, signature=infer_signature(df, preds))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(base, case):
    r = case["request"]
    data = None
    if "body" in r:
        data = json.dumps(r["body"]).encode()
    elif "text" in r:
        data = r["text"].encode()
    req = urllib.request.Request(base + r["path"], data=data, method=r["method"])
    if r.get("content_type"):
        req.add_header("Content-Type", r["content_type"])
    elif data is not None:
        # urllib would send application/x-www-form-urlencoded; send none.
        req.add_header("Content-Type", "")
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        resp = e
    body = resp.read()
    out = {"name": case["name"], "status": resp.status, "content_type": resp.headers.get("Content-Type", "")}
    try:
        out["body"] = json.loads(body)
    except ValueError:
        out["text"] = body.decode("utf-8", "replace")
    return out


def main():
    import mlflow

    pkg = os.path.join(HERE, "pkg")
    if not os.path.exists(pkg):
        write_package(pkg)
    cases = json.load(open(os.path.join(HERE, "cases.json")))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", pkg, "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port)],
        start_new_session=True,
    )
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/ping", timeout=5)
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("mlflow models serve did not start")
                time.sleep(0.5)
        import xgboost

        answers = [send(base, c) for c in cases]
        out = {"mlflow_version": mlflow.__version__, "xgboost_version": xgboost.__version__, "answers": answers}
        with open(os.path.join(HERE, "mlflow_answers.json"), "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    finally:
        os.killpg(server.pid, 15)
        server.wait()


if __name__ == "__main__":
    main()
