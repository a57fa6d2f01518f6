"""XGBoost side of the prediction benchmark (see run.sh).

    xgb_predict.py train --dir DIR   train the benchmark model and write
                                     DIR/model.json, DIR/x1000.f32 (1,000 rows
                                     of 20 float32 features, row-major,
                                     little-endian, NaN for missing) and
                                     DIR/expected.f64 (XGBoost's predictions
                                     of those rows, float64 little-endian)
    xgb_predict.py time --dir DIR    time XGBoost's own prediction of those
                                     rows; print one JSON line

Model: binary:logistic, 100 rounds, max_depth 6, eta 0.1, tree_method hist,
trained on 20,000 synthetic rows (20 numeric features, 5 % missing, a label
from a noisy non-linear function of eight of them). Its trees are full or
nearly so (up to 64 leaves), so a row walks 100 paths of up to 6 splits.

Timing: each figure is the median over --samples samples; a sample times
back-to-back calls (20 of the batch, 500 or 200 of one row) and divides.
Wall time is time.perf_counter_ns; CPU time is the calling thread's
(time.thread_time_ns) for the single-threaded figures and the process's
(time.process_time_ns, all threads) for inplace_1000_tN. Figures:
  inplace_1000_t1   booster.inplace_predict(X_1000) with nthread=1, per row
  inplace_1000_tN   the same with nthread = all cores, per row
  inplace_1         inplace_predict of a single row (1x20), per call
  dmatrix_1         xgb.DMatrix(one row) + booster.predict, per call
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import xgboost as xgb

FEATURES = 20


def data(rng, n):
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    z = np.nan_to_num(x)
    logit = (1.2 * z[:, 0] - 0.8 * z[:, 1] + 0.6 * z[:, 2] * z[:, 3] + np.sin(2 * z[:, 4])
             + 0.5 * np.abs(z[:, 5]) - 0.4 * z[:, 6] ** 2 + 0.3 * z[:, 7])
    y = (logit + rng.normal(scale=0.8, size=n) > 0).astype(np.int32)
    x[rng.random(x.shape) < 0.05] = np.nan
    return x, y


def train(d):
    rng = np.random.default_rng(42)
    x, y = data(rng, 20000)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "tree_method": "hist", "seed": 1}
    booster = xgb.train(params, xgb.DMatrix(x, y, missing=np.nan), 100)
    booster.save_model(os.path.join(d, "model.json"))
    x1000, _ = data(rng, 1000)
    x1000.astype("<f4").tofile(os.path.join(d, "x1000.f32"))
    pred = booster.predict(xgb.DMatrix(x1000, missing=np.nan))
    pred.astype("<f8").tofile(os.path.join(d, "expected.f64"))
    leaves = sum(t.count("leaf=") for t in booster.get_dump())
    print(f"model: 100 trees, {leaves} leaves, {os.path.getsize(os.path.join(d, 'model.json'))} bytes", file=sys.stderr)


def median_per(fn, repeats, samples, divide, cpu_clock):
    """Median, min and max over samples of the wall time per unit, and the
    median CPU time per unit (cpu_clock: time.thread_time_ns for work on the
    calling thread, time.process_time_ns for all threads)."""
    wall, cpu = [], []
    for _ in range(samples):
        c0, t0 = cpu_clock(), time.perf_counter_ns()
        for _ in range(repeats):
            fn()
        t1, c1 = time.perf_counter_ns(), cpu_clock()
        wall.append((t1 - t0) / repeats / divide)
        cpu.append((c1 - c0) / repeats / divide)
    return {"wall": statistics.median(wall), "min": min(wall), "max": max(wall), "cpu": statistics.median(cpu)}


def timing(d, samples):
    booster = xgb.Booster(model_file=os.path.join(d, "model.json"))
    x = np.fromfile(os.path.join(d, "x1000.f32"), dtype="<f4").reshape(-1, FEATURES)
    want = np.fromfile(os.path.join(d, "expected.f64"), dtype="<f8")
    row = x[:1].copy()
    res = {"peer": f"xgboost {xgb.__version__}", "cores": os.cpu_count()}
    # single-threaded figures first, so that no OpenMP worker of the
    # multi-threaded run is still spinning while they are measured
    booster.set_param({"nthread": 1})
    got = booster.inplace_predict(x, missing=np.nan)
    assert np.max(np.abs(got - want)) < 1e-6, "XGBoost differs from its own expected output"
    for _ in range(20):  # warm up
        booster.inplace_predict(x, missing=np.nan)
    res["inplace_1000_t1"] = median_per(lambda: booster.inplace_predict(x, missing=np.nan), 20, samples, 1000, time.thread_time_ns)
    res["inplace_1"] = median_per(lambda: booster.inplace_predict(row, missing=np.nan), 500, samples, 1, time.thread_time_ns)
    res["dmatrix_1"] = median_per(lambda: booster.predict(xgb.DMatrix(row, missing=np.nan)), 200, samples, 1, time.thread_time_ns)
    booster.set_param({"nthread": os.cpu_count()})
    for _ in range(20):
        booster.inplace_predict(x, missing=np.nan)
    res["inplace_1000_tN"] = median_per(lambda: booster.inplace_predict(x, missing=np.nan), 20, samples, 1000, time.process_time_ns)
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "time"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--samples", type=int, default=15)
    a = ap.parse_args()
    if a.mode == "train":
        train(a.dir)
    else:
        timing(a.dir, a.samples)


if __name__ == "__main__":
    main()
