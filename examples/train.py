"""Train a small model and track it in Ferry with the unchanged mlflow client.

    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000   # a running `ferry server`
    python examples/train.py [--lr 0.5] [--epochs 20]

It fits a logistic regression of "more than 15 minutes late" on the flight's
distance and hour, with nothing but the standard library and mlflow, on the
bundled sample of the 2001 US flights (January to April train, May and June
validate). The run records its params, the training loss per epoch, the
validation accuracy and log loss, and the fitted weights as an artifact.
"""

import argparse
import csv
import gzip
import math
import os

import mlflow

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    """Rows of (features, label, is_holdout) from the flights sample."""
    rows = []
    with gzip.open(path, "rt", newline="") as f:
        for r in csv.DictReader(f):
            hour = int(r["date"][11:13])
            x = [1.0, float(r["distance"]) / 1000.0, hour / 24.0]
            rows.append((x, 1.0 if float(r["delay"]) > 15 else 0.0, r["date"] >= "2001-05-01"))
    return rows


def predict(w, x):
    z = sum(wi * xi for wi, xi in zip(w, x))
    return 1.0 / (1.0 + math.exp(-z))


def log_loss(w, rows):
    eps = 1e-12
    return -sum(y * math.log(max(predict(w, x), eps)) + (1 - y) * math.log(max(1 - predict(w, x), eps))
                for x, y in rows) / len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(HERE, "flights-sample.csv.gz"))
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--experiment", default="python-example")
    args = ap.parse_args()

    rows = load(args.data)
    train = [(x, y) for x, y, holdout in rows if not holdout]
    valid = [(x, y) for x, y, holdout in rows if holdout]

    mlflow.set_experiment(args.experiment)
    with mlflow.start_run(run_name="logistic-stdlib"):
        mlflow.set_tag("script", "examples/train.py")
        mlflow.log_params({"lr": args.lr, "epochs": args.epochs, "features": "distance,hour"})
        w = [0.0, 0.0, 0.0]
        for epoch in range(args.epochs):
            grad = [0.0, 0.0, 0.0]
            for x, y in train:
                err = predict(w, x) - y
                for i, xi in enumerate(x):
                    grad[i] += err * xi / len(train)
            w = [wi - args.lr * gi for wi, gi in zip(w, grad)]
            mlflow.log_metric("train_loss", log_loss(w, train), step=epoch)
        accuracy = sum((predict(w, x) > 0.5) == (y == 1.0) for x, y in valid) / len(valid)
        mlflow.log_metrics({"val_accuracy": accuracy, "val_logloss": log_loss(w, valid)})
        mlflow.log_dict({"weights": w, "features": ["bias", "distance_km1000", "hour_frac"]}, "model/weights.json")
        print(f"val_accuracy={accuracy:.4f} weights={w}")


if __name__ == "__main__":
    main()
