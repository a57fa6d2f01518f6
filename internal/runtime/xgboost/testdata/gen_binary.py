"""Generate the parity fixtures of the XGBoost runtime's legacy binary reader.

Run from anywhere with Debian's Python (python3-xgboost 1.7.4, numpy):

    /usr/bin/python3 internal/runtime/xgboost/testdata/gen_binary.py

For every case it trains a small booster on synthetic data (fixed seeds; the
data and helpers are those of gen.py), saves it with
booster.save_model("<case>.xgb") -- XGBoost 1.x writes any name that does not
end in .json or .ubj in its legacy binary format ("binf"), and that is what
mlflow.xgboost.log_model writes as model.xgb in MLflow 2.x -- then loads the
file back into a fresh xgboost.Booster and records *that* booster's margins
(predict(output_margin=True)) and predictions (predict()) on 200 test rows in
<case>.expected.json, in the layout of gen.py's fixtures. It checks that the
reloaded booster predicts exactly as the trained one did.

Two more cases imitate files written by XGBoost before 1.0 (no "binf" header,
version 0, base_score stored as a margin, which XGBoost converts back with the
objective's transform): they are derived from a 1.7.4 file byte by byte and
again scored by XGBoost 1.7.4 itself after loading them.
"""

import json
import os
import struct
import sys

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen import ROWS_TEST, ROWS_TRAIN, features, flist, signal  # noqa: E402


def record(case, model_file, x_test, params, rounds, trained=None):
    """Score x_test with the booster loaded from model_file and write
    <case>.expected.json."""
    path = os.path.join(HERE, model_file)
    with open(path, "rb") as f:
        head = f.read(4)
    loaded = xgb.Booster(model_file=path)
    dtest = xgb.DMatrix(x_test, missing=np.nan)
    margin = loaded.predict(dtest, output_margin=True)
    pred = loaded.predict(dtest)
    if trained is not None:
        if head != b"binf":
            sys.exit(f"{model_file}: saved without the binf header ({head!r})")
        if not (np.array_equal(margin, trained.predict(dtest, output_margin=True))
                and np.array_equal(pred, trained.predict(dtest))):
            sys.exit(f"{model_file}: the reloaded booster predicts differently from the trained one")
    doc = {
        "model": model_file,
        "params": params,
        "rounds": rounds,
        "rows": int(x_test.shape[0]),
        "features": int(x_test.shape[1]),
        "feature_names": None,
        "x": flist(x_test),
        "margin": [float(v) for v in np.asarray(margin, dtype=np.float32).ravel()],
        "predict": [float(v) for v in np.asarray(pred, dtype=np.float32).ravel()],
        "xgboost_version": xgb.__version__,
    }
    with open(os.path.join(HERE, f"{case}.expected.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def save(case, booster, x_test, params, rounds):
    model_file = f"{case}.xgb"
    booster.save_model(os.path.join(HERE, model_file))
    record(case, model_file, x_test, params, rounds, trained=booster)


def train(params, x, y, rounds):
    return xgb.train(params, xgb.DMatrix(x, y, missing=np.nan), rounds)


def pre_1_0(case, source, margin_of, x_test, params, rounds):
    """Rewrite the 1.7.4 binary file source as XGBoost 0.x wrote it: no
    "binf" header, major and minor version 0 and base_score as a margin
    (margin_of maps the stored probability-space base_score to it)."""
    with open(os.path.join(HERE, source), "rb") as f:
        data = f.read()
    assert data[:4] == b"binf"
    param = bytearray(data[4:4 + 136])
    base = struct.unpack_from("<f", param, 0)[0]
    struct.pack_into("<f", param, 0, np.float32(margin_of(base)))
    struct.pack_into("<II", param, 20, 0, 0)  # major_version, minor_version
    with open(os.path.join(HERE, f"{case}.xgb"), "wb") as f:
        f.write(bytes(param) + data[4 + 136:])
    record(case, f"{case}.xgb", x_test, dict(params, derived_from=source), rounds)


def cases():
    rng = np.random.default_rng(17)
    k = 6
    xtr = features(rng, ROWS_TRAIN, k, 0.15)
    xte = features(rng, ROWS_TEST, k, 0.15)
    s_tr = signal(xtr)
    common = {"max_depth": 4, "eta": 0.3, "seed": 1, "tree_method": "hist"}

    y = (s_tr + rng.normal(scale=0.5, size=ROWS_TRAIN) > 0).astype(int)
    p = dict(common, objective="binary:logistic")
    save("bin_binary_logistic", train(p, xtr, y, 20), xte, p, 20)
    p = dict(common, objective="binary:logistic", base_score=0.3)
    save("bin_binary_logistic_base", train(p, xtr, y, 15), xte, p, 15)
    p = dict(common, objective="binary:logistic", booster="dart", rate_drop=0.2, skip_drop=0.0, max_depth=3)
    save("bin_binary_dart", train(p, xtr, y, 10), xte, p, 10)

    yc = np.digitize(s_tr, [-1.0, 1.0])
    p = dict(common, objective="multi:softprob", num_class=3, max_depth=3)
    save("bin_multi_softprob", train(p, xtr, yc, 10), xte, p, 10)
    p = dict(common, objective="multi:softmax", num_class=3, max_depth=3, base_score=0.2)
    save("bin_multi_softmax_base", train(p, xtr, yc, 8), xte, p, 8)

    yr = s_tr + rng.normal(scale=0.3, size=ROWS_TRAIN) + 5
    p = dict(common, objective="reg:squarederror")
    save("bin_reg_squarederror", train(p, xtr, yr, 20), xte, p, 20)
    p = dict(common, objective="reg:squarederror", base_score=5.0)
    save("bin_reg_squarederror_base", train(p, xtr, yr, 20), xte, p, 20)

    yn = rng.poisson(np.exp(0.5 * np.clip(s_tr, -3, 3)))
    p = dict(common, objective="count:poisson")
    save("bin_count_poisson", train(p, xtr, yn, 15), xte, p, 15)
    p = dict(common, objective="count:poisson", base_score=2.0)
    save("bin_count_poisson_base", train(p, xtr, yn, 15), xte, p, 15)

    # gblinear, which Ferry refuses (no expected outputs)
    p = dict(objective="reg:squarederror", booster="gblinear")
    train(p, xtr, yr, 3).save_model(os.path.join(HERE, "bin_gblinear.xgb"))

    pre_1_0("bin_v0_binary_logistic", "bin_binary_logistic_base.xgb",
            lambda b: np.log(np.float32(b) / (np.float32(1) - np.float32(b))),
            xte, {"objective": "binary:logistic"}, 15)
    pre_1_0("bin_v0_count_poisson", "bin_count_poisson_base.xgb",
            lambda b: np.log(np.float32(b)), xte, {"objective": "count:poisson"}, 15)


if __name__ == "__main__":
    if xgb.__version__ != "1.7.4":
        print(f"warning: fixtures were made with xgboost 1.7.4, this is {xgb.__version__}", file=sys.stderr)
    cases()
