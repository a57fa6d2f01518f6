#!/usr/bin/python3
"""Peer timing for BenchmarkEvaluateBinary1M: scikit-learn computing the
metrics, curves and tables metrics.Evaluate computes for a binary model,
on the same million rows (y = i % 3 % 2, p = (i * 7919) % 1000 / 1000).

    /usr/bin/python3 testdata/bench_sklearn.py [repeats]

Prints the median wall time in milliseconds.
"""

import sys
import time
import warnings

import numpy as np
from sklearn import metrics
from sklearn.calibration import calibration_curve

warnings.filterwarnings("ignore")


def evaluate(y, p):
    y_pred = (p > 0.5).astype(int)
    out = {
        "accuracy": metrics.accuracy_score(y, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, y_pred),
    }
    for avg in ("macro", "weighted", None):
        metrics.precision_recall_fscore_support(y, y_pred, average=avg, zero_division=0)
    metrics.confusion_matrix(y, y_pred, labels=[0, 1])
    out["roc_auc"] = metrics.roc_auc_score(y, p)
    out["pr_auc"] = metrics.average_precision_score(y, p)
    out["log_loss"] = metrics.log_loss(y, p, labels=[0, 1])
    out["brier"] = metrics.brier_score_loss(y, p)
    calibration_curve(y, p, n_bins=10)
    metrics.roc_curve(y, p)
    metrics.precision_recall_curve(y, p)
    return out


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = 1_000_000
    i = np.arange(n)
    y = (i % 3 % 2).astype(int)
    p = ((i * 7919) % 1000) / 1000
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate(y, p)
        times.append((time.perf_counter() - start) * 1000)
    print("sklearn evaluate, 1,000,000 rows: median %.1f ms (min %.1f, max %.1f) over %d runs"
          % (float(np.median(times)), min(times), max(times), repeats))


if __name__ == "__main__":
    main()
