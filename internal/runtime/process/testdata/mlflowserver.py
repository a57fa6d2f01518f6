#!/usr/bin/env python3
"""A stand-in for `mlflow models serve` for Ferry's process runtime tests:
MLflow's scoring protocol (mlflow/pyfunc/scoring_server in MLflow 2.x) on the
standard library only (run with /usr/bin/python3), with the same command
line: models serve -m MODEL_DIR --env-manager local -h HOST -p PORT.

The model is MODEL_DIR/model.json: {"inputs": [required column names],
"weights": {column: w}, "carriers": {carrier: offset}, "bias": b}. A row's
prediction is bias + sum(w * row[column]) + carriers[row["carrier"]], a
missing (null, NaN) value counting 0.

  GET  /ping, /health    200 "\\n" once loaded (404 for READY_DELAY seconds)
  GET  /version          the "MLflow" version
  POST /invocations      application/json with exactly one of
                         dataframe_split, dataframe_records, instances, inputs
                         (others 415 text/plain, as MLflow); answers
                         {"predictions": ...} shaped by OUTPUT_FORM:
                           list     [p, ...]                   (numpy 1-D)
                           records  [{"delay": p, "late": p > 10}, ...]
                           dict     {"delay": [...], "late": [...]}
                           series   [{"0": p}, ...]            (unnamed Series)
                           matrix   [[p, -p], ...]             (numpy 2-D)
                           bare     [p, ...] without the wrapper (MLflow 1.x)
                         Errors as MLflow writes them, {"error_code",
                         "message", "stack_trace"}: 400 BAD_REQUEST for a
                         missing column or a negative distance, 500
                         INTERNAL_ERROR for carrier "BOOM".
  GET  /debug/info       pid, argv, invocations so far, the last request

Environment switches: READY_DELAY (seconds), EXIT_AT_START=n (print a
traceback as a failed import would, exit with status n).
"""
import argparse
import json
import math
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.monotonic()
READY_DELAY = float(os.environ.get("READY_DELAY", "0"))
FORM = os.environ.get("OUTPUT_FORM", "list")
LOCK = threading.Lock()
STATE = {"invocations": 0, "last_request": None}
MODEL = {}
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def frame(req):
    """Returns the rows of a request as dicts, as pandas would build them."""
    keys = [k for k in req if k in FORMATS]
    if len(keys) != 1:
        raise BadRequest("The input must be a JSON dictionary with exactly one of the input fields "
                         "%s. Received dictionary with input fields: %s" % (set(FORMATS), list(req)))
    v = req[keys[0]]
    if keys[0] == "dataframe_split":
        cols = v.get("columns") or MODEL["inputs"]
        return [dict(zip(cols, row)) for row in v["data"]]
    if keys[0] == "inputs" and isinstance(v, dict):
        n = len(next(iter(v.values()))) if v else 0
        return [{k: v[k][i] for k in v} for i in range(n)]
    return list(v)


class BadRequest(Exception):
    pass


def num(x):
    if x is None:
        return 0.0
    x = float(x)
    return 0.0 if math.isnan(x) else x


def predict(rows):
    missing = [c for c in MODEL["inputs"] if rows and c not in rows[0]]
    if missing:
        raise BadRequest("Model is missing inputs %s." % missing)
    out = []
    for r in rows:
        if r.get("carrier") == "BOOM":
            raise RuntimeError("the model crashed on BOOM")
        if num(r.get("distance")) < 0:
            raise ValueError("negative distance")
        p = MODEL.get("bias", 0.0) + MODEL.get("carriers", {}).get(r.get("carrier"), 0.0)
        for col, w in MODEL.get("weights", {}).items():
            p += w * num(r.get(col))
        out.append(p)
    return out


def shape(preds):
    if FORM == "records":
        return {"predictions": [{"delay": p, "late": p > 10} for p in preds]}
    if FORM == "dict":
        return {"predictions": {"delay": preds, "late": [p > 10 for p in preds]}}
    if FORM == "series":
        return {"predictions": [{"0": p} for p in preds]}
    if FORM == "matrix":
        return {"predictions": [[p, -p] for p in preds]}
    if FORM == "bare":
        return preds
    return {"predictions": preds}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("mlflowserver: " + (fmt % args) + "\n")

    def send(self, status, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/ping", "/health"):
            ok = time.monotonic() - STARTED >= READY_DELAY
            return self.send(200 if ok else 404, b"\n", "application/json")
        if self.path == "/version":
            return self.send(200, b"2.17.2", "text/plain")
        if self.path == "/debug/info":
            with LOCK:
                return self.send(200, {"pid": os.getpid(), "argv": sys.argv[1:], **STATE})
        self.send(404, b"not found", "text/plain")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/invocations":
            return self.send(404, b"not found", "text/plain")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "application/json":
            return self.send(415, ("This predictor only supports the following content types: "
                                   "['text/csv', 'application/json']. Got '%s'." % ctype).encode(), "text/plain")
        with LOCK:
            STATE["invocations"] += 1
        try:
            req = json.loads(raw)  # takes NaN and Infinity, as MLflow's json.loads does
            with LOCK:
                STATE["last_request"] = req
            preds = predict(frame(req))
        except BadRequest as e:
            return self.send(400, {"error_code": "BAD_REQUEST", "message": str(e)})
        except RuntimeError as e:
            return self.send(500, {"error_code": "INTERNAL_ERROR", "message": str(e),
                                   "stack_trace": "Traceback (most recent call last):\n  RuntimeError: %s" % e})
        except Exception as e:
            return self.send(400, {"error_code": "BAD_REQUEST",
                                   "message": "Encountered an unexpected error while evaluating the model. Verify"
                                              " that the serialized input Dataframe is compatible with the model for"
                                              " inference.",
                                   "stack_trace": "Traceback (most recent call last):\n  %s: %s" % (type(e).__name__, e)})
        self.send(200, shape(preds))


def main():
    if os.environ.get("EXIT_AT_START"):
        sys.stderr.write("Traceback (most recent call last):\n")
        sys.stderr.write('  File "mlflow/__init__.py", line 1, in <module>\n')
        sys.stderr.write("ModuleNotFoundError: No module named 'sklearn'\n")
        sys.exit(int(os.environ["EXIT_AT_START"]))
    ap = argparse.ArgumentParser(add_help=False)  # -h is the host, as in mlflow
    ap.add_argument("command", nargs="*")  # models serve
    ap.add_argument("-m", "--model-uri", required=True)
    ap.add_argument("--env-manager", default="virtualenv")
    ap.add_argument("-h", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, default=5000)
    ap.add_argument("--help", action="help")
    args = ap.parse_args()
    with open(os.path.join(args.model_uri, "model.json")) as f:
        MODEL.update(json.load(f))
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    sys.stderr.write("mlflowserver: serving %s on %s:%d\n" % (args.model_uri, args.host, args.port))
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
