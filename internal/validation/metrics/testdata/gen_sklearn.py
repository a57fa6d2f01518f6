#!/usr/bin/python3
"""Generate the scikit-learn parity cases of metrics_test.go.

Run from internal/validation/metrics with Debian's scikit-learn 1.2.1:

    /usr/bin/python3 testdata/gen_sklearn.py

Each case is written to testdata/sklearn/<name>.json with its inputs (task,
classes, y as class indexes or values, pred as P(class 1), row-major class
probabilities or values) and what scikit-learn computes for them. Predicted
labels are derived as metrics.Evaluate derives them: binary P > 0.5,
multiclass the first largest probability. The outputs are committed; this
script and its inputs are deterministic (fixed seeds).
"""

import json
import os
import sys

import numpy as np
import sklearn
from sklearn import metrics
from sklearn.calibration import calibration_curve

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sklearn")


def classification_metrics(classes, y, y_pred):
    k = len(classes)
    m = {
        "accuracy": metrics.accuracy_score(y, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, y_pred),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(y, y_pred, average=avg, zero_division=0)
        m["precision_" + avg], m["recall_" + avg], m["f1_" + avg] = p, r, f
    labels = sorted(set(y.tolist()) | set(y_pred.tolist()))
    p, r, f, _ = metrics.precision_recall_fscore_support(y, y_pred, labels=labels, average=None, zero_division=0)
    for i, c in enumerate(labels):
        m["precision_" + classes[c]] = p[i]
        m["recall_" + classes[c]] = r[i]
        m["f1_" + classes[c]] = f[i]
    cm = metrics.confusion_matrix(y, y_pred, labels=list(range(k)))
    return m, cm.tolist()


def calibration_table(hit, prob):
    """sklearn's calibration_curve, plus the bin counts it uses, and the ECE."""
    prob_true, prob_pred = calibration_curve(hit, prob, n_bins=10, strategy="uniform")
    bins = np.linspace(0.0, 1.0, 11)
    binids = np.searchsorted(bins[1:-1], prob)
    total = np.bincount(binids, minlength=10)[:10]
    nz = total != 0
    ece = float(np.sum(total[nz] / len(prob) * np.abs(prob_true - prob_pred)))
    table = []
    j = 0
    for b in range(10):
        row = {"lower": bins[b], "upper": bins[b + 1], "count": int(total[b]), "mean_predicted": 0.0, "fraction_true": 0.0}
        if total[b]:
            row["mean_predicted"], row["fraction_true"] = prob_pred[j], prob_true[j]
            j += 1
        table.append(row)
    return table, ece


def binary_case(name, y, p, classes=("false", "true")):
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    y_pred = (p > 0.5).astype(int)
    m, cm = classification_metrics(list(classes), y, y_pred)
    m["roc_auc"] = metrics.roc_auc_score(y, p)
    m["pr_auc"] = metrics.average_precision_score(y, p)
    m["log_loss"] = metrics.log_loss(y, p, labels=[0, 1])
    m["brier"] = metrics.brier_score_loss(y, p)
    table, m["ece"] = calibration_table(y, p)
    fpr, tpr, thr = metrics.roc_curve(y, p)
    prec, rec, pthr = metrics.precision_recall_curve(y, p)
    pr = [[rec[i], prec[i], pthr[i]] for i in range(len(pthr))]
    pr.append([rec[-1], prec[-1], pthr[-1] + 1])
    return {
        "name": name, "task": "binary", "classes": list(classes), "y": y.tolist(), "pred": p.tolist(),
        "metrics": m, "confusion": cm,
        "roc": [[fpr[i], tpr[i], thr[i]] for i in range(len(thr))], "pr": pr, "calibration": table,
    }


def multiclass_case(name, classes, y, p):
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    k = len(classes)
    y_pred = np.argmax(p, axis=1)
    m, cm = classification_metrics(classes, y, y_pred)
    present = sorted(set(y.tolist()))
    if len(present) == k:
        m["roc_auc"] = metrics.roc_auc_score(y, p, multi_class="ovr", average="macro")
        m["roc_auc_weighted"] = metrics.roc_auc_score(y, p, multi_class="ovr", average="weighted")
    else:
        # sklearn refuses a class without rows; Ferry averages the one-vs-rest
        # areas of the classes present, each as sklearn computes it.
        aucs = np.array([metrics.roc_auc_score(y == c, p[:, c]) for c in present])
        support = np.array([np.sum(y == c) for c in present])
        m["roc_auc"] = float(np.mean(aucs))
        m["roc_auc_weighted"] = float(np.average(aucs, weights=support))
    m["log_loss"] = metrics.log_loss(y, p, labels=list(range(k)))
    conf = p.max(axis=1)
    _, m["ece"] = calibration_table((y_pred == y).astype(int), conf)
    return {
        "name": name, "task": "multiclass", "classes": classes, "y": y.tolist(), "pred": p.reshape(-1).tolist(),
        "metrics": m, "confusion": cm,
    }


def regression_case(name, y, p):
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    m = {
        "rmse": metrics.mean_squared_error(y, p, squared=False),
        "mae": metrics.mean_absolute_error(y, p),
        "r2": metrics.r2_score(y, p),
        "mape": metrics.mean_absolute_percentage_error(y, p),
        "median_ae": metrics.median_absolute_error(y, p),
    }
    return {"name": name, "task": "regression", "classes": [], "y": y.tolist(), "pred": p.tolist(), "metrics": m}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cases():
    rs = np.random.RandomState(20261126)
    out = []

    # Binary, continuous scores loosely related to the label.
    n = 600
    y = rs.binomial(1, 0.4, n)
    p = 1 / (1 + np.exp(-(1.2 * (2 * y - 1) + rs.normal(0, 1.5, n))))
    out.append(binary_case("binary_random", y, p))

    # Heavy ties: the same scores rounded to one decimal (11 distinct values,
    # including exactly 0.5, which is predicted class 0).
    out.append(binary_case("binary_ties", y, np.round(p, 1)))

    # Imbalanced: 3% positives, scores in [0, 1] with ties at two decimals.
    n = 1500
    y = rs.binomial(1, 0.03, n)
    p = np.clip(np.round(0.15 * y + rs.beta(1.2, 6, n), 2), 0, 1)
    out.append(binary_case("binary_imbalanced", y, p))

    # The positive class is never predicted (every P <= 0.5): precision_true
    # has zero division.
    n = 300
    y = rs.binomial(1, 0.3, n)
    p = np.round(0.45 * rs.uniform(0, 1, n) + 0.05 * y, 3)
    out.append(binary_case("binary_never_predicted", y, p, classes=("benign", "malignant")))

    # Extreme probabilities, 0 and 1 included: log loss clipping.
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1])
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.999999999, 1e-17, 0.5, 0.5, 0.7, 0.3, 0.1, 0.9])
    out.append(binary_case("binary_extremes", y, p))

    # Multiclass, 3 balanced classes.
    n = 500
    y = rs.randint(0, 3, n)
    z = rs.normal(0, 1, (n, 3))
    z[np.arange(n), y] += 1.3
    out.append(multiclass_case("multiclass_3", ["setosa", "versicolor", "virginica"], y, softmax(z)))

    # Multiclass with heavy ties: integer logits give repeated probability rows.
    n = 400
    y = rs.randint(0, 4, n)
    z = rs.randint(0, 3, (n, 4)).astype(float)
    z[np.arange(n), y] += rs.binomial(1, 0.6, n)
    out.append(multiclass_case("multiclass_ties", ["a", "b", "c", "d"], y, softmax(z)))

    # Imbalanced 4 classes (70/20/8/2 %), the rarest never predicted.
    n = 800
    y = rs.choice(4, n, p=[0.70, 0.20, 0.08, 0.02])
    z = rs.normal(0, 1, (n, 4))
    z[np.arange(n), y] += 1.5
    z[:, 3] -= 6
    out.append(multiclass_case("multiclass_imbalanced", ["low", "mid", "high", "extreme"], y, softmax(z)))

    # A class that occurs neither as a label nor as a prediction.
    n = 300
    y = rs.randint(0, 2, n)
    z = rs.normal(0, 1, (n, 3))
    z[np.arange(n), y] += 1.0
    z[:, 2] -= 8
    out.append(multiclass_case("multiclass_absent_class", ["x", "y", "z"], y, softmax(z)))

    # Regression.
    n = 500
    y = rs.normal(50, 20, n)
    out.append(regression_case("regression", y, y + rs.normal(0, 7, n)))

    # Regression with zeros in y_true (MAPE divides by eps there).
    n = 200
    y = np.round(rs.exponential(3, n))
    y[:20] = 0
    out.append(regression_case("regression_zeros", y, y + rs.normal(0, 1, n)))

    # A constant target: r2 is 0 when predictions miss it (force_finite).
    out.append(regression_case("regression_constant", np.full(50, 3.0), 3.0 + rs.normal(0, 0.1, 50)))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for case in cases():
        case["sklearn_version"] = sklearn.__version__
        with open(os.path.join(OUT, case["name"] + ".json"), "w") as f:
            json.dump(case, f, indent=None, separators=(",", ":"))
            f.write("\n")
    print("wrote %d cases to %s" % (len(cases()), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
