#!/usr/bin/env python3
"""api/described_inputs: a run whose "inputs" describe their values (segments, ramps, noise)
integrates exactly as the same inputs sent as an array (issue 12, section 1; docs/API.md
"Described inputs").

    described_inputs.py --eirnnd PATH --eirnn PATH

* Constant, per-trial, n_inputs-valued, ramp (also per-trial ends), overlapping segments, in
  float64 and float32: every result (V, r, V_final) is the same .npy bytes as a run of the
  inputs computed here as eir.h defines them (x = 0; per segment in order: x += v, or
  x += v + (w - v) * (t - from) / (to - from)) and sent as a binary array.
* Noise (sigma, seed): the daemon's bytes equal `eirnn simulate`'s of the same documents (the
  same parser, engine and generator); the same document twice gives the same bytes, another
  seed other bytes.
* The request is stored as sent (GET /request) and meta.run.inputs shows the description.
* Bad descriptions are 422 naming the field.
Exit 0 when all hold.
"""
import argparse
import traceback
import base64
import json
import os
import subprocess
import tempfile

import numpy as np

from analysis_common import Api, Daemon, http, verdict

BAD = []
N_E, N_I, N_IN = 4, 2, 2
N = N_E + N_I
T, B = 60, 3


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def model_doc(noise=0.0):
    rng = np.random.default_rng(4)
    W = rng.normal(0, 0.3, (N, N))
    W[:, :N_E] = np.abs(W[:, :N_E])
    W[:, N_E:] = -np.abs(W[:, N_E:])
    np.fill_diagonal(W, 0)
    doc = {"class": "rnn", "populations": {"E": N_E, "I": N_I}, "n_inputs": N_IN,
           "activation": {"name": "tanh"}, "leak": 1.0, "recurrent": {"W": W.tolist()},
           "input": {"P": rng.normal(0, 1, (N, N_IN)).tolist()}}
    if noise:
        doc["noise"] = {"sigma": noise}
    return doc


def binary(a):
    a = np.ascontiguousarray(a, dtype="<f8")
    return {"dtype": "float64", "shape": list(a.shape),
            "base64": base64.b64encode(a.tobytes()).decode()}


def rows(v):
    """A segment value as B x n_in rows (a number, n_in values or B x n_in)."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        a = np.full((1, N_IN), float(a))
    if a.ndim == 1:
        a = a.reshape(1, N_IN)
    return np.broadcast_to(a, (B, N_IN))


def expand(segments):
    """The inputs of @p segments as eir.h defines them, B x T x n_in."""
    x = np.zeros((B, T, N_IN))
    for s in segments:
        f, t = s["from"], s["to"]
        v = rows(s["value"])
        for k in range(f, t):
            if "to_value" in s:
                w = rows(s["to_value"])
                x[:, k, :] = x[:, k, :] + (v + (w - v) * float(k - f) / float(t - f))
            else:
                x[:, k, :] = x[:, k, :] + v
    return x


CASES = {
    "constant": [{"from": 0, "to": T, "value": 0.5}],
    "channels": [{"from": 5, "to": 25, "value": [0.3, -0.2]}],
    "per_trial": [{"from": 10, "to": 40, "value": [[1, 0], [2, -1], [3, 0.5]]}],
    "ramp": [{"from": 10, "to": 47, "value": [1, 0.1], "to_value": 0}],
    "ramp_per_trial": [{"from": 3, "to": 59, "value": 0.2,
                        "to_value": [[1, 0], [0.7, -0.3], [-1, 1e-3]]}],
    "overlapping": [{"from": 0, "to": 30, "value": [0.1, 0.2]},
                    {"from": 20, "to": 50, "value": [[1, 0], [2, 0], [3, 0]]},
                    {"from": 25, "to": 60, "value": [0.3, -0.1], "to_value": [-0.4, 0.9]},
                    {"from": 40, "to": 41, "value": 7.25}],
}


def results(api, run):
    out = {}
    for var in ("V", "r", "V_final"):
        r = http(api.d.port, "GET", "/v1/runs/%s/results/%s" % (run["id"], var), timeout=60)
        out[var] = r.body if r.status == 200 else None
    return out


def same_as_arrays(api, model, name, segments, precision):
    base = {"model": model, "dt": 0.1, "precision": precision, "record": {"vars": ["V", "r"]}}
    desc = dict(base, inputs={"steps": T, "trials": B, "segments": segments})
    arr = dict(base, inputs=binary(expand(segments)))
    ra, rb = api.run(desc), api.run(arr)
    if not check(ra["status"] == "succeeded" and rb["status"] == "succeeded",
                 "%s/%s: %s %s / %s %s" % (name, precision, ra["status"], ra.get("error"),
                                           rb["status"], rb.get("error"))):
        return
    a, b = results(api, ra), results(api, rb)
    for var in a:
        check(a[var] is not None and a[var] == b[var],
              "%s/%s: %s differs from the same inputs as an array" % (name, precision, var))
    st, req = api.call("GET", "/v1/runs/%s/request" % ra["id"])
    check(st == 200 and req.get("inputs") == desc["inputs"],
          "%s: /request is not the body as sent: %s" % (name, req))
    meta_in = (ra.get("meta") or {}).get("run", {}).get("inputs")
    check(meta_in == desc["inputs"], "%s: meta.run.inputs %s" % (name, meta_in))


def simulate(eirnn, run_doc, tmp, tag):
    path = os.path.join(tmp, tag + ".json")
    with open(path, "w") as f:
        json.dump(run_doc, f)
    out = os.path.join(tmp, tag)
    p = subprocess.run([eirnn, "simulate", path, "-o", out, "-q", "-j", "2"],
                       capture_output=True, text=True)
    if not check(p.returncode == 0, "eirnn simulate %s: %s %s" % (tag, p.returncode, p.stderr)):
        return None
    got = {}
    for var in ("V", "r", "V_final"):
        fn = os.path.join(out, var + ".npy")
        got[var] = open(fn, "rb").read() if os.path.exists(fn) else None
    return got


def noise(api, eirnn):
    model = model_doc()
    segs = [{"from": 5, "to": 50, "value": [0.5, 0], "to_value": [0, 0.5]}]
    doc = {"model": model, "dt": 0.1, "record": {"vars": ["V", "r"]},
           "inputs": {"steps": T, "trials": B, "segments": segs,
                      "noise": {"sigma": 0.3, "seed": 7}}}
    r1, r2 = api.run(doc), api.run(doc)
    other = json.loads(json.dumps(doc))
    other["inputs"]["noise"]["seed"] = 8
    r3 = api.run(other)
    a, b, c = results(api, r1), results(api, r2), results(api, r3)
    check(a["V"] is not None and a == b, "noise: the same document twice differs")
    check(a["V"] != c["V"], "noise: another seed gives the same V")
    quiet = dict(doc, inputs=dict(doc["inputs"], noise={"sigma": 0.0}))
    q = results(api, api.run(quiet))
    check(q["V"] != a["V"], "noise: sigma 0.3 gives the V of sigma 0")
    with tempfile.TemporaryDirectory() as tmp:
        s = simulate(eirnn, doc, tmp, "noisy")
        if s is not None:
            for var in ("V", "r", "V_final"):
                check(s[var] is not None and s[var] == a[var],
                      "noise: %s of eirnnd differs from eirnn simulate's" % var)


def errors(api):
    model = model_doc()
    bad = [({"steps": T, "segments": [{"from": 0, "to": T + 1, "value": 1}]},
            "/inputs/segments/0/to"),
           ({"steps": T, "trials": B, "segments": [{"from": 0, "to": 5, "value": 1},
                                                   {"from": 0, "to": 5, "value": [1, 2, 3]}]},
            "/inputs/segments/1/value"),
           ({"steps": T, "noise": {"sigma": 0.1}}, "/inputs/noise/seed"),
           ({"steps": T, "segments": [{"from": 9, "to": 3, "value": 1}]},
            "/inputs/segments/0/to")]
    for inputs, field in bad:
        st, j = api.call("POST", "/v1/runs", {"model": model, "dt": 0.1, "inputs": inputs})
        check(st == 422 and j.get("field") == field,
              "bad inputs %s: %s %s (expected %s)" % (json.dumps(inputs)[:80], st, j, field))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--eirnn", required=True)
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "2"])
    api = Api(d)
    try:
        model = model_doc()
        for name, segs in CASES.items():
            for precision in ("float64", "float32"):
                same_as_arrays(api, model, name, segs, precision)
        noise(api, a.eirnn)
        errors(api)
    except Exception as e:  # a failure to talk to the daemon is a failure of the test
        traceback.print_exc()
        BAD.append("%s: %s" % (type(e).__name__, e))
    finally:
        d.stop_checked(BAD)
    return verdict(BAD)


if __name__ == "__main__":
    raise SystemExit(main())
