"""XGBoost side of the GBDT benchmark (see run.sh) and of the quality test
TestGBDTQualityVsXGBoost (internal/train/gbdt).

Reads the features that `gbdt -export DIR` (or the test) wrote with
flights.WriteBin (the same month, weekday, hour, distance and
origin/destination codes Ferry trains on), trains XGBoost with
tree_method=hist and the given objective, depth, rounds, learning rate,
max_bin, nthread and (optionally) base_score, evaluating the metric (log loss
for binary, RMSE for regression) on the training and validation sets every
round as Ferry's run does, and prints one JSON line like the Go program's.
With --pred FILE it also writes the validation predictions (probabilities
for binary) to FILE as little-endian float64 values, so that the caller can
score them with the same metrics code as Ferry's own predictions.

origin and destination are passed as categorical features (feature_types
"c", enable_categorical=True), so XGBoost makes partition-based categorical
splits as Ferry does; both use the default max_cat_threshold of 64.

Timing: train_seconds covers building both DMatrix objects and xgb.train;
dmatrix_seconds is the DMatrix part; train_cpu_seconds is the process's user
+ system time over the same span. Peak RSS is ru_maxrss of the process.
"""

import argparse
import json
import resource
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score

NAMES = ["month", "weekday", "hour", "distance", "origin", "destination"]
TYPES = ["q", "q", "q", "q", "c", "c"]


def load(path):
    with open(path, "rb") as f:
        n = int(np.frombuffer(f.read(8), dtype="<i8")[0])
        cols = np.frombuffer(f.read(), dtype="<f4").reshape(len(NAMES) + 1, n)
    return np.ascontiguousarray(cols[: len(NAMES)].T), cols[len(NAMES)].copy()


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--max-bins", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--objective", choices=["binary", "regression"], default="binary")
    ap.add_argument("--base-score", type=float, help="XGBoost's default (0.5) when absent")
    ap.add_argument("--pred", help="write the validation predictions here (float64)")
    a = ap.parse_args()

    t0 = time.perf_counter()
    xtr, ytr = load(f"{a.dir}/train.bin")
    xva, yva = load(f"{a.dir}/valid.bin")
    load_seconds = time.perf_counter() - t0

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    dtr = xgb.DMatrix(xtr, ytr, feature_names=NAMES, feature_types=TYPES, enable_categorical=True, nthread=a.threads)
    dva = xgb.DMatrix(xva, yva, feature_names=NAMES, feature_types=TYPES, enable_categorical=True, nthread=a.threads)
    dmatrix_seconds = time.perf_counter() - t0
    binary = a.objective == "binary"
    params = {
        "objective": "binary:logistic" if binary else "reg:squarederror",
        "tree_method": "hist",
        "max_depth": a.depth,
        "eta": a.lr,
        "max_bin": a.max_bins,
        "nthread": a.threads,
        "eval_metric": "logloss" if binary else "rmse",
        "min_child_weight": 1,
        "lambda": 1,
    }
    if a.base_score is not None:
        params["base_score"] = a.base_score
    history = {}
    booster = xgb.train(params, dtr, a.rounds, evals=[(dtr, "train"), (dva, "valid")], evals_result=history, verbose_eval=False)
    train_seconds, train_cpu = time.perf_counter() - t0, cpu_seconds() - cpu0

    p = booster.predict(dva)
    if a.pred:
        p.astype("<f8").tofile(a.pred)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if binary:
        scores = {"valid_auc": roc_auc_score(yva, p), "valid_logloss": log_loss(yva, p.astype(np.float64))}
    else:
        scores = {"valid_rmse": mean_squared_error(yva, p.astype(np.float64), squared=False)}
    json.dump(
        {
            "trainer": "xgboost " + xgb.__version__,
            "objective": a.objective,
            "train_rows": len(ytr),
            "valid_rows": len(yva),
            "rounds": a.rounds,
            "max_depth": a.depth,
            "learning_rate": a.lr,
            "max_bins": a.max_bins,
            "threads": a.threads,
            "load_seconds": load_seconds,
            "dmatrix_seconds": dmatrix_seconds,
            "train_seconds": train_seconds,
            "train_cpu_seconds": train_cpu,
            **scores,
            "last_train_metric": history["train"][params["eval_metric"]][-1],
            "peak_rss_mb": rss,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
