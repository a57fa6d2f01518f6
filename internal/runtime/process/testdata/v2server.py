#!/usr/bin/env python3
"""A tiny Open Inference Protocol V2 REST server for Ferry's process runtime
tests, on the standard library only (run with /usr/bin/python3).

It serves one model, named by MODEL_NAME (default "summer"), on 127.0.0.1:$PORT:

  GET  /v2/health/live, /v2/health/ready   200 (ready only after READY_DELAY
                                           seconds, 503 before)
  GET  /v2/models/{name}                   V2 metadata, sent chunked; 404 for
                                           other names
  POST /v2/models/{name}/infer             outputs "sum" (FP64 [rows]): the sum
                                           of each row over all inputs (shape
                                           [rows] or [rows, cols]), and "count"
                                           (INT64 [rows]); NaN propagates and is
                                           written as Python writes it (NaN).
                                           400 for inputs it cannot add, 500
                                           for an input named "boom".
  GET  /debug/info                         pid, PORT, FERRY_PORT,
                                           FERRY_MODEL_DIR, cwd, grandchild pid

Environment switches: READY_DELAY (seconds), IGNORE_SIGTERM=1 (SIGTERM does
nothing, so a stop must SIGKILL), SPAWN_CHILD=1 (start a grandchild that sleeps,
in the same process group, to check that a stop reaches it), EXIT_AT_START=n
(exit with status n at once, after a line on stderr).
"""
import json
import math
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("MODEL_NAME", "summer")
STARTED = time.monotonic()
READY_DELAY = float(os.environ.get("READY_DELAY", "0"))
GRANDCHILD = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("v2server: " + (fmt % args) + "\n")

    def send_json(self, status, obj, chunked=False):
        body = json.dumps(obj).encode()  # NaN stays NaN, as Python writes it
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v2/health/live":
            return self.send_json(200, {"live": True})
        if self.path == "/v2/health/ready":
            ok = time.monotonic() - STARTED >= READY_DELAY
            return self.send_json(200 if ok else 503, {"ready": ok})
        if self.path == "/debug/info":
            return self.send_json(200, {
                "pid": os.getpid(), "cwd": os.getcwd(),
                "port": os.environ.get("PORT"), "ferry_port": os.environ.get("FERRY_PORT"),
                "model_dir": os.environ.get("FERRY_MODEL_DIR"), "extra": os.environ.get("EXTRA"),
                "grandchild": GRANDCHILD.pid if GRANDCHILD else None})
        if self.path.startswith("/v2/models/"):
            name = self.path[len("/v2/models/"):]
            if name != NAME:
                return self.send_json(404, {"error": "model %s not found" % name})
            return self.send_json(200, {
                "name": NAME, "versions": ["1"], "platform": "python_stdlib",
                "inputs": [{"name": "a", "datatype": "FP64", "shape": [-1, -1]},
                           {"name": "b", "datatype": "INT64", "shape": [-1]}],
                "outputs": [{"name": "sum", "datatype": "FP64", "shape": [-1]},
                            {"name": "count", "datatype": "INT64", "shape": [-1]}]}, chunked=True)
        self.send_json(404, {"error": "no route " + self.path})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path != "/v2/models/%s/infer" % NAME:
            return self.send_json(404, {"error": "no route " + self.path})
        try:
            req = json.loads(raw)
        except ValueError as e:
            return self.send_json(400, {"error": "body is not JSON: %s" % e})
        inputs = req.get("inputs") or []
        if not inputs:
            return self.send_json(400, {"error": "no inputs"})
        rows = None
        sums, counts = [], []
        for t in inputs:
            if t["name"] == "boom":
                return self.send_json(500, {"error": "Traceback (most recent call last): boom"})
            if t["datatype"] in ("BYTES", "BOOL"):
                return self.send_json(400, {"error": "input %s: cannot add %s values" % (t["name"], t["datatype"])})
            shape, data = t["shape"], t["data"]
            n = shape[0]
            if rows is None:
                rows = n
                sums, counts = [0.0] * n, [0] * n
            elif n != rows:
                return self.send_json(400, {"error": "input %s has %d rows, want %d" % (t["name"], n, rows)})
            width = len(data) // n if n else 0
            if width * n != len(data):
                return self.send_json(400, {"error": "input %s: %d values do not fill shape %s" % (t["name"], len(data), shape)})
            for r in range(n):
                for v in data[r * width:(r + 1) * width]:
                    sums[r] += float(v)
                    counts[r] += 1
        self.send_json(200, {
            "model_name": NAME, "model_version": "1", "id": req.get("id", ""),
            "outputs": [{"name": "sum", "datatype": "FP64", "shape": [rows], "data": sums},
                        {"name": "count", "datatype": "INT64", "shape": [rows], "data": counts}]})


def main():
    global GRANDCHILD
    if os.environ.get("EXIT_AT_START"):
        sys.stderr.write("v2server: exiting at start as asked\n")
        sys.exit(int(os.environ["EXIT_AT_START"]))
    if os.environ.get("IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.environ.get("SPAWN_CHILD") == "1":
        GRANDCHILD = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    sys.stderr.write("v2server: serving %s on port %s\n" % (NAME, os.environ["PORT"]))
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
