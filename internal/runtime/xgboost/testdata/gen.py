"""Generate the parity fixtures of the XGBoost runtime's tests.

Run from anywhere with Debian's Python (python3-xgboost 1.7.4, numpy,
pandas):

    /usr/bin/python3 internal/runtime/xgboost/testdata/gen.py

For every case it trains a small booster on synthetic data (fixed seeds),
saves it as <case>.json (or .ubj), and writes <case>.expected.json: the 200
test rows it scores (float32 values, null for missing), XGBoost's own margins
(predict(output_margin=True)) and predictions (predict()), both through a
DMatrix built with missing=NaN. The Go tests load the model, score the same
rows and compare. Floats are written with repr() of the exact float32 value,
so the files round-trip bit for bit.
"""

import json
import os
import sys

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS_TRAIN = 600
ROWS_TEST = 200


def features(rng, n, k, missing):
    x = rng.normal(size=(n, k)).astype(np.float32)
    # a few exact ties with typical split values, and some large magnitudes
    x[rng.random(x.shape) < 0.05] = 0.0
    x[:, -1] *= 100
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    return x


def signal(x):
    z = np.nan_to_num(x, nan=0.3)
    return 1.5 * z[:, 0] - z[:, 1] + 0.5 * z[:, 2] * z[:, 3] + 0.01 * z[:, -1]


def flist(a):
    out = []
    for v in np.asarray(a, dtype=np.float32).ravel():
        out.append(None if np.isnan(v) else float(v))
    return out


def write(case, booster, x_test, params, rounds, ext="json", feature_names=None, dtest=None, x_codes=None):
    model_file = f"{case}.{ext}"
    booster.save_model(os.path.join(HERE, model_file))
    if dtest is None:
        dtest = xgb.DMatrix(x_test, missing=np.nan, feature_names=feature_names)
    margin = booster.predict(dtest, output_margin=True)
    pred = booster.predict(dtest)
    x = x_codes if x_codes is not None else x_test
    doc = {
        "model": model_file,
        "params": params,
        "rounds": rounds,
        "rows": int(x.shape[0]),
        "features": int(x.shape[1]),
        "feature_names": feature_names,
        "x": flist(x),
        "margin": [float(v) for v in np.asarray(margin, dtype=np.float32).ravel()],
        "predict": [float(v) for v in np.asarray(pred, dtype=np.float32).ravel()],
        "xgboost_version": xgb.__version__,
    }
    with open(os.path.join(HERE, f"{case}.expected.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def train(params, x, y, rounds, feature_names=None):
    d = xgb.DMatrix(x, y, missing=np.nan, feature_names=feature_names)
    return xgb.train(params, d, rounds)


def numeric_cases():
    rng = np.random.default_rng(7)
    k = 6
    xtr = features(rng, ROWS_TRAIN, k, 0.15)
    xte = features(rng, ROWS_TEST, k, 0.15)
    s_tr, s_te = signal(xtr), signal(xte)
    names = [f"f{i}" for i in range(k)]
    common = {"max_depth": 4, "eta": 0.3, "seed": 1, "tree_method": "hist"}

    # binary:logistic with missing values and feature names
    y = (s_tr + rng.normal(scale=0.5, size=ROWS_TRAIN) > 0).astype(int)
    p = dict(common, objective="binary:logistic")
    write("binary_logistic", train(p, xtr, y, 20, names), xte, p, 20, feature_names=names)

    # the same task saved as UBJSON
    p = dict(common, objective="binary:logistic", max_depth=3)
    write("binary_logistic_ubj", train(p, xtr, y, 10), xte, p, 10, ext="ubj")

    # binary:logitraw with a base_score that is not 0.5 (margin = base_score)
    p = dict(common, objective="binary:logitraw", base_score=0.3)
    write("binary_logitraw", train(p, xtr, y, 15), xte, p, 15)

    # dart booster (per-tree weights)
    p = dict(common, objective="binary:logistic", booster="dart", rate_drop=0.2, skip_drop=0.0, max_depth=3)
    write("binary_dart", train(p, xtr, y, 10), xte, p, 10)

    # multi-class, 3 classes, missing values
    yc = np.digitize(s_tr, [-1.0, 1.0])
    p = dict(common, objective="multi:softprob", num_class=3, max_depth=3)
    write("multi_softprob", train(p, xtr, yc, 10), xte, p, 10)
    p = dict(common, objective="multi:softmax", num_class=3, max_depth=3)
    write("multi_softmax", train(p, xtr, yc, 10), xte, p, 10)

    # regression
    yr = s_tr + rng.normal(scale=0.3, size=ROWS_TRAIN) + 5
    p = dict(common, objective="reg:squarederror", base_score=5.0)
    write("reg_squarederror", train(p, xtr, yr, 20), xte, p, 20)

    # reg:logistic on a probability label, base_score in probability space
    yp = 1 / (1 + np.exp(-s_tr))
    p = dict(common, objective="reg:logistic", base_score=0.3)
    write("reg_logistic", train(p, xtr, yp, 15), xte, p, 15)

    # count:poisson: margin = log(base_score) + trees, prediction = exp(margin)
    yn = rng.poisson(np.exp(0.5 * np.clip(s_tr, -3, 3)))
    p = dict(common, objective="count:poisson", base_score=2.0)
    write("count_poisson", train(p, xtr, yn, 15), xte, p, 15)


def categorical_cases():
    import pandas as pd

    rng = np.random.default_rng(11)
    levels = list(range(12))

    def frame(n):
        # levels 10 and 11 never occur in training: unseen categories
        hi = 10 if n == ROWS_TRAIN else 12
        c1 = rng.integers(0, hi, n).astype(float)
        c1[rng.random(n) < 0.1] = np.nan
        c2 = rng.integers(0, 4, n).astype(float)
        num = rng.normal(size=n).astype(np.float32)
        num[rng.random(n) < 0.1] = np.nan
        df = pd.DataFrame({
            "color": pd.Categorical(c1, categories=levels),
            "size": pd.Categorical(c2, categories=[0, 1, 2, 3]),
            "x": num,
        })
        codes = np.stack([
            df["color"].cat.codes.to_numpy().astype(np.float32),
            df["size"].cat.codes.to_numpy().astype(np.float32),
            num,
        ], axis=1)
        codes[codes == -1] = np.nan  # pandas codes missing as -1
        return df, codes

    dtr, ctr = frame(ROWS_TRAIN)
    dte, cte = frame(ROWS_TEST)
    col = np.nan_to_num(ctr[:, 0], nan=5)
    y = (np.isin(col, [1, 3, 4, 8]) ^ (np.nan_to_num(ctr[:, 2]) > 0.5)).astype(int)
    names = ["color", "size", "x"]
    for case, onehot in (("categorical", 1), ("categorical_onehot", 16)):
        p = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1,
             "tree_method": "hist", "max_cat_to_onehot": onehot}
        d = xgb.DMatrix(dtr, y, enable_categorical=True)
        b = xgb.train(p, d, 15)
        write(case, b, cte, p, 15, feature_names=names,
              dtest=xgb.DMatrix(dte, enable_categorical=True), x_codes=cte)


def categorical_numpy_case():
    """Categorical features given as numbers, with values that are no
    category: negative, fractional (truncated), unseen and beyond 2^24."""
    rng = np.random.default_rng(13)

    def data(n, train):
        x = np.stack([
            rng.integers(0, 8, n).astype(np.float32),
            rng.integers(0, 3, n).astype(np.float32),
            rng.normal(size=n).astype(np.float32),
        ], axis=1)
        x[rng.random(x.shape) < 0.1] = np.nan
        if not train:
            odd = np.array([-1, -0.5, 2.5, 3.9, 9, 40, 1e6, 2**24, 2**24 + 2, 1e30], dtype=np.float32)
            rows = rng.random(n) < 0.3
            x[rows, 0] = rng.choice(odd, rows.sum())
        return x

    xtr, xte = data(ROWS_TRAIN, True), data(ROWS_TEST, False)
    y = (np.isin(np.nan_to_num(xtr[:, 0], nan=7), [1, 2, 5]) ^ (np.nan_to_num(xtr[:, 2]) > 0)).astype(int)
    types = ["c", "c", "q"]
    p = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 1, "tree_method": "hist"}
    d = xgb.DMatrix(xtr, y, missing=np.nan, feature_types=types, enable_categorical=True)
    b = xgb.train(p, d, 10)
    write("categorical_numpy", b, xte, p, 10,
          dtest=xgb.DMatrix(xte, missing=np.nan, feature_types=types, enable_categorical=True))


if __name__ == "__main__":
    if xgb.__version__ != "1.7.4":
        print(f"warning: fixtures were made with xgboost 1.7.4, this is {xgb.__version__}", file=sys.stderr)
    numeric_cases()
    categorical_cases()
    categorical_numpy_case()
