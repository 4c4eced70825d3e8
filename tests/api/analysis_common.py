"""Shared by the analysis drivers (analysis_kinds.py, analysis_bad.py): a daemon, models, runs
and analyses through the HTTP API, arrays downloaded as .npy into NumPy. Standard library and
Debian's python3-numpy."""
import io
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, http, time_scale, verdict  # noqa: E402,F401


class Api:
    def __init__(self, d):
        self.d = d

    def call(self, method, path, doc=None, timeout=120):
        body = json.dumps(doc) if doc is not None else None
        r = http(self.d.port, method, path, body, timeout=timeout)
        j = None
        if r.body and r.body[:1] in b"{[":
            j = json.loads(r.body)
        return r.status, j

    def model(self, doc):
        st, j = self.call("POST", "/v1/models", doc)
        if st not in (200, 201, 202):
            raise RuntimeError("POST /v1/models: %s %s" % (st, j))
        return j["id"]

    def run(self, doc):
        st, j = self.call("POST", "/v1/runs", doc)
        if st != 202:
            raise RuntimeError("POST /v1/runs: %s %s" % (st, j))
        return self.wait("/v1/runs/" + j["id"])

    def wait(self, path, timeout=300):
        deadline = time.monotonic() + timeout * time_scale()
        while True:
            st, j = self.call("GET", path + "?wait=30", timeout=60)
            if st != 200:
                raise RuntimeError("GET %s: %s %s" % (path, st, j))
            if j["status"] not in ("queued", "running") or time.monotonic() > deadline:
                return j
            time.sleep(0.02)

    def analysis(self, doc, ok=True):
        """POST an analysis and wait for it: the job document (raises unless it succeeded when
        @p ok)."""
        st, j = self.call("POST", "/v1/analyses", doc)
        if st != 202:
            raise RuntimeError("POST /v1/analyses %s: %s %s" % (doc.get("kind"), st, j))
        j = self.wait("/v1/analyses/" + j["id"])
        if ok and j["status"] != "succeeded":
            raise RuntimeError("analysis %s ended %s: %s" % (j["id"], j["status"], j.get("error")))
        return j

    def array(self, path):
        r = http(self.d.port, "GET", path, timeout=120)
        if r.status != 200:
            raise RuntimeError("GET %s: %s %s" % (path, r.status, r.body[:300]))
        return np.load(io.BytesIO(r.body), allow_pickle=False)

    def result(self, job, name):
        return self.array("/v1/analyses/%s/results/%s" % (job["id"], name))

    def run_result(self, run, var):
        return self.array("/v1/runs/%s/results/%s" % (run["id"], var))


def eig_sorted(a):
    """Eigenvalues of @p a sorted as the service sorts them: real part descending, ties by the
    imaginary part descending."""
    w = np.linalg.eigvals(a)
    order = sorted(range(len(w)), key=lambda k: (-w[k].real, -w[k].imag))
    return w[order]


def relu(v):
    return np.maximum(v, 0.0)


def jacobian_gated_relu(V, W, A_M, G_b, M_in=None, x=None):
    """MODEL.md: dV/dt = -z V + W r + P x + b, z = G_b + M r + M_in |x|, r = relu(V);
    J = -diag(z) + (W - diag(V) M) diag(f'(V))."""
    r = relu(V)
    z = G_b + A_M @ r
    if M_in is not None and x is not None:
        z = z + M_in @ np.abs(x)
    fp = (V > 0).astype(float)
    return -np.diag(z) + (W - np.diag(V) @ A_M) @ np.diag(fp)
