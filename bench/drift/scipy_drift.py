#!/usr/bin/env python3
"""Data and SciPy timings for bench/drift (see run.sh).

gen:  writes a baseline and a current table of ROWS rows x 20 columns (16
      numeric float64, 4 categorical int32 codes; the current one shifted a
      little) to --dir as raw little-endian files: {base,cur}_{i}.f64 /
      {base,cur}_{i}.i32, and columns.json.
time: loads them and times SciPy computing, per column, on the raw rows, the
      statistics Ferry computes from profiles: numeric -> normalized
      Wasserstein (scipy.stats.wasserstein_distance / numpy.std) and
      scipy.stats.ks_2samp; categorical -> category counts, then
      scipy.spatial.distance.jensenshannon and scipy.stats.chisquare.
      Prints one JSON line: wall and CPU seconds (best of --samples).
"""
import argparse
import json
import os
import time

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

NUMERIC, CATEGORICAL = 16, 4


def gen(d, rows):
    rng = np.random.default_rng(2026)
    cols = []
    for i in range(NUMERIC):
        kind = ["normal", "lognormal", "int", "uniform"][i % 4]
        for side, shift in (("base", 0.0), ("cur", 0.02 * (i % 5))):
            if kind == "normal":
                x = rng.normal(100 + shift * 15, 15, rows)
            elif kind == "lognormal":
                x = rng.lognormal(shift, 1.0, rows)
            elif kind == "int":
                x = np.floor(rng.normal(8 + 35 * shift, 35, rows))
            else:
                x = rng.uniform(shift, 1 + shift, rows)
            x.astype("<f8").tofile(os.path.join(d, f"{side}_{i}.f64"))
        cols.append({"name": f"num{i:02d}", "kind": "numeric", "file": str(i)})
    for i in range(CATEGORICAL):
        k = [2, 12, 60, 300][i]
        for side, a in (("base", 1.3), ("cur", 1.3 + 0.02 * i)):
            codes = (rng.zipf(a, rows) - 1) % k
            codes.astype("<i4").tofile(os.path.join(d, f"{side}_{NUMERIC + i}.i32"))
        cols.append({"name": f"cat{i}", "kind": "categorical", "file": str(NUMERIC + i), "levels": k})
    with open(os.path.join(d, "columns.json"), "w") as f:
        json.dump({"rows": rows, "columns": cols}, f)


def load(d):
    meta = json.load(open(os.path.join(d, "columns.json")))
    data = []
    for c in meta["columns"]:
        ext = "f64" if c["kind"] == "numeric" else "i32"
        dt = "<f8" if ext == "f64" else "<i4"
        data.append((c, np.fromfile(os.path.join(d, f"base_{c['file']}.{ext}"), dtype=dt),
                     np.fromfile(os.path.join(d, f"cur_{c['file']}.{ext}"), dtype=dt)))
    return meta, data


def drift(data):
    out = []
    for c, b, x in data:
        if c["kind"] == "numeric":
            w = stats.wasserstein_distance(b, x) / max(np.std(b), 0.001)
            ks = stats.ks_2samp(b, x)
            out.append((w, ks.pvalue))
        else:
            k = c["levels"]
            cb, cx = np.bincount(b, minlength=k).astype(float), np.bincount(x, minlength=k).astype(float)
            js = distance.jensenshannon(cb, cx)
            keep = (cb > 0) | (cx > 0)
            chi = stats.chisquare(cx[keep], cb[keep] * cx.sum() / cb.sum())
            out.append((js, chi.pvalue))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["gen", "time"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=3)
    a = ap.parse_args()
    if a.cmd == "gen":
        gen(a.dir, a.rows)
        return
    meta, data = load(a.dir)
    best = None
    for _ in range(a.samples):
        w0, c0 = time.perf_counter(), time.process_time()
        drift(data)
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if best is None or w < best[0]:
            best = (w, c)
    print(json.dumps({"rows": meta["rows"], "columns": len(data), "scipy": scipy.__version__,
                      "wall_s": best[0], "cpu_s": best[1]}))


if __name__ == "__main__":
    main()
