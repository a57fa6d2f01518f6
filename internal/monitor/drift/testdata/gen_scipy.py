#!/usr/bin/env python3
"""Writes scipy.json: seeded samples and SciPy's drift figures on them.

Run with Debian's SciPy 1.10.1 (apt-get install python3-scipy):

    /usr/bin/python3 internal/monitor/drift/testdata/gen_scipy.py

The Go test TestSciPyParity reads scipy.json and checks Ferry's functions
within 1e-9. Every expected value comes from SciPy or NumPy here, never from
Ferry. PSI and the Z-test have no SciPy function: they are computed as
Evidently defines them (evidently/legacy/calculations/stattests/psi.py with
utils.get_binned_data's zero fill, and z_stattest.py), in NumPy/SciPy.
"""
import json
import os
import sys
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

rng = np.random.default_rng(20260113)


def sample(kind, n, shift=0.0, scale=1.0):
    if kind == "normal":
        x = rng.normal(shift, scale, n)
    elif kind == "lognormal":
        x = rng.lognormal(shift, scale, n)
    elif kind == "int":  # heavy ties, like minutes of delay
        x = np.floor(rng.normal(10 + shift, 20 * scale, n))
    elif kind == "uniform":
        x = rng.uniform(shift, shift + scale, n)
    else:
        raise ValueError(kind)
    return np.round(x, 4)


def ks_2samp(a, b):
    """ks_2samp and the method SciPy used: 'auto' is exact when both samples
    have at most 10,000 values (MAX_AUTO_N), and the exact branch falls back
    to asymp with a RuntimeWarning when it cannot finish."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = stats.ks_2samp(a, b)
    method = "exact" if max(len(a), len(b)) <= 10000 else "asymp"
    if any("Switching to method=asymp" in str(w.message) for w in caught):
        method = "asymp"
    return r, method


ks = []
for name, kind, n1, n2, shift in [
    ("tiny-equal", "normal", 8, 8, 0.0),
    ("small-unequal", "normal", 30, 47, 0.3),
    ("equal-shifted", "normal", 500, 500, 0.2),
    ("unequal-same", "normal", 1000, 700, 0.0),
    ("unequal-shifted", "lognormal", 2000, 1500, 0.05),
    ("ties", "int", 3000, 2500, 1.0),
    ("exact-limit", "uniform", 10000, 4000, 0.02),
    ("asymp-same", "normal", 12000, 3000, 0.0),
    ("asymp-shifted", "normal", 11000, 4000, 0.04),
    ("asymp-ties", "int", 12000, 3000, 0.5),
    ("asymp-small-n", "normal", 10001, 60, 0.3),
]:
    a, b = sample(kind, n1), sample(kind, n2, shift)
    r, method = ks_2samp(a, b)
    ks.append({"name": name, "a": a.tolist(), "b": b.tolist(), "statistic": float(r.statistic),
               "p_value": float(r.pvalue), "method": method})

# kstwo.sf over every region of SciPy's algorithm choice.
kstwo = []
for n in [5, 40, 140, 141, 500, 3000, 50000, 100000, 100001, 400000]:
    for z in [0.3, 0.6, 0.8, 1.0, 1.2, 1.36, 1.5, 1.8, 2.2, 3.0, 5.0]:
        x = z / np.sqrt(n)
        if x < 1:
            kstwo.append({"n": n, "x": float(x), "sf": float(stats.kstwo.sf(x, n))})
    for x in [0.7, 0.95]:
        kstwo.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})

wass = []
for name, kind, n1, n2, shift, scale in [
    ("small", "normal", 10, 13, 0.5, 1.0),
    ("same", "normal", 2000, 3000, 0.0, 1.0),
    ("shifted", "lognormal", 5000, 4000, 0.1, 1.0),
    ("ties", "int", 4000, 4000, 2.0, 1.0),
    ("narrow", "uniform", 1000, 1200, 0.0, 0.0005),
]:
    a, b = sample(kind, n1), sample(kind, n2, shift, scale)
    w = stats.wasserstein_distance(a, b)
    wass.append({"name": name, "a": a.tolist(), "b": b.tolist(), "distance": float(w),
                 "normed": float(w / max(np.std(a), 0.001))})


def evidently_shares(counts):
    p = np.asarray(counts, dtype=float) / np.sum(counts)
    m = np.min(p[p != 0])
    np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return p


binned = []
for name, k, zeros, sides in [("k5", 5, 0, ""), ("k20-gaps", 20, 4, "bcx"), ("k51-rare", 51, 6, "bcx"),
                              ("k3", 3, 1, "b"), ("k12-curgaps", 12, 3, "cx"), ("k30-close", 30, 0, ""), ("k30-poisson", 30, 0, "")]:
    base = rng.integers(1, 5000, k).astype(float)
    spread = 0.02 if name == "k30-close" else 0.3
    cur = np.round(base * rng.uniform(1 - spread, 1 + spread, k)).astype(float)
    if name == "k30-poisson":  # same distribution, sampling noise only
        cur = rng.poisson(base).astype(float)
    # Empty bins: some on one side only, one on both (dropped, as Evidently
    # lists only values seen on either side).
    idx = rng.choice(k, zeros, replace=False)
    for j, i in enumerate(idx):
        side = sides[j % len(sides)]
        if side == "b":
            base[i] = 0
        elif side == "c":
            cur[i] = 0
        else:
            base[i] = cur[i] = 0
    if name == "k51-rare":
        base[0] = 1e6  # makes the smallest share <= 1e-4: the m/1e6 fill
    keep = (base != 0) | (cur != 0)
    b, c = base[keep], cur[keep]
    rb, rc = evidently_shares(b), evidently_shares(c)
    psi = float(np.sum((rb - rc) * np.log(rb / rc)))
    exp = b * (np.sum(c) / np.sum(b))
    with np.errstate(divide="ignore"):
        chi = stats.chisquare(c, exp) if np.all(b > 0) else None
    binned.append({
        "name": name, "baseline": base.tolist(), "current": cur.tolist(),
        "js_base2": float(distance.jensenshannon(base, cur, 2)),
        "js_base_e": float(distance.jensenshannon(base, cur)),
        "psi": psi,
        "chi2_statistic": None if chi is None else float(chi.statistic),
        "chi2_p_value": None if chi is None else float(chi.pvalue),
    })

ztests = []
for k1, n1, k2, n2 in [(30, 100, 45, 120), (5000, 20000, 5100, 20000), (1, 50, 0, 60), (900, 1000, 870, 1000)]:
    p1, p2 = k1 / n1, k2 / n2
    P = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
    ztests.append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "z": float(z),
                   "p_value": float(2 * (1 - stats.norm.cdf(np.abs(z))))})

out = {
    "generator": "internal/monitor/drift/testdata/gen_scipy.py",
    "scipy": scipy.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
    "ks_2samp": ks, "kstwo_sf": kstwo, "wasserstein": wass, "binned": binned, "ztest": ztests,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scipy.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {path}: {len(ks)} ks_2samp, {len(kstwo)} kstwo.sf, {len(wass)} wasserstein, "
      f"{len(binned)} binned, {len(ztests)} z-tests (SciPy {scipy.__version__})")
