#!/usr/bin/env python3
"""api/model_builds: models are built by the workers, not on the HTTP threads, once per model
(issue 10, items 2 and 3).

    model_builds.py --eirnnd PATH

1. With one HTTP thread and one worker, POST /v1/models of a generated N = 4000 model with
   spectral_radius answers 202 "pending" at once, and /healthz stays fast while a worker
   builds it: each answer takes less than half the build's own time (its build_s, seconds
   here). Before, the build ran in the POST on the only HTTP thread: the POST took the whole
   build and /healthz waited behind it.
2. A run submitted while the model is pending is accepted (202, checked against the model's
   shape) and succeeds; the model becomes "ready" with the hash the run's metadata names; a
   second run and a run with the same model inline (accepted in less than half the build's
   time: its worker builds it) give the same result bytes.
3. eirnn_model_builds_total counts one build for the model and its two runs (before, each run
   rebuilt it: 32 N^2 bytes never fitted the cache), and one model larger than the cache's
   budget (--model-cache-bytes 1M) stays cached. The run with the model inline adds one build
   (its worker's; test_inline_builds.c tests inline models further).
   With two workers and two runs submitted at once on a pending model, it is built once.
4. A generated model that cannot be built (class gated with a linear activation), posted with a
   run on it to an HTTP-only daemon (--workers 0), is built by a simulating daemon on the same
   database: it becomes "failed" with the engine's error naming /activation, the run fails with
   it, and a run submitted after gets 422 naming /model_id.
5. kill -9 while a worker builds a pending model: after a restart on the same database, the
   model is built (ready). An HTTP-only daemon (--workers 0) leaves it pending.
Exit 0 when all hold.
"""
import argparse
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, drop_kept, http, kept_db, time_scale  # noqa: E402

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def model_doc(n_e, n_i, seed=5, cls="gated", activation="relu"):
    return {"name": "big", "class": cls, "populations": {"E": n_e, "I": n_i}, "n_inputs": 1,
            "activation": {"name": activation}, "leak": 1.0, "bias": 0.1,
            "recurrent": {"generate": {"seed": seed,
                                       "p": {"EE": 0.1, "EI": 0.4, "IE": 0.4, "II": 0.4},
                                       "dist": "lognormal", "cv": 0.5, "spectral_radius": 0.9,
                                       "mean": {"EE": 0.06, "EI": 0.12, "IE": 0.03, "II": 0.1}},
                          "A": {"E": 0.5, "I": 1.0}},
            "input": {"generate": {"seed": 2, "mean": 1.0}}}


def post(d, path, doc):
    t0 = time.monotonic()
    r = http(d.port, "POST", path, json.dumps(doc), timeout=600)
    return r, time.monotonic() - t0, json.loads(r.body or b"null")


def get(d, path):
    r = http(d.port, "GET", path, timeout=600)
    return r, json.loads(r.body) if r.body and r.body[:1] in b"{[" else r.body


def wait_model(d, mid, timeout=600):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, m = get(d, "/v1/models/" + mid)
        if m.get("state") != "pending" or time.monotonic() > deadline:
            return m
        time.sleep(0.05)


def wait_run(d, rid, timeout=600):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, run = get(d, "/v1/runs/%s?wait=5" % rid)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run


def result_sha(d, rid, var="r"):
    """The sha256 of a run's result @p var, and the run's metadata."""
    _, res = get(d, "/v1/runs/%s/results" % rid)
    _, run = get(d, "/v1/runs/" + rid)
    sha = [i["sha256"] for i in res["items"] if i["var"] == var]
    return (sha[0] if sha else None), run["meta"]


def builds(d):
    _, text = get(d, "/metrics")
    m = re.search(rb"^eirnn_model_builds_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


RUN = {"dt": 0.5, "seed": 7, "record": {"vars": ["r"], "neurons": [0, 1, 2, 3]},
       "inputs": [[0], [1], [1], [0], [0]]}


def scenario_build_off_thread(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--http-threads", "1", "--max-neurons", "4096",
                        "--model-cache-bytes", "1M"])
    try:
        r, secs, m = post(d, "/v1/models", model_doc(3200, 800))
        check(r.status == 202 and m.get("state") == "pending" and m.get("hash") is None,
              "generated model: %s %s" % (r.status, m))
        check(r.header("Location") == "/v1/models/" + m["id"],
              "Location: %s" % r.header("Location"))
        mid = m["id"]
        # 2. a run on the pending model is accepted now and checked against the shape
        rr, _, run1 = post(d, "/v1/runs", dict(RUN, model_id=mid))
        check(rr.status == 202, "run on a pending model: %s %s" % (rr.status, run1))
        bad, _, pb = post(d, "/v1/runs", dict(RUN, model_id=mid, inputs=[[0, 1]]))
        check(bad.status == 422 and pb.get("field") == "/inputs",
              "a run with 2 inputs for a 1-input pending model: %s %s" % (bad.status, pb))
        health = []
        while True:
            t0 = time.monotonic()
            h = http(d.port, "GET", "/healthz", timeout=600)
            health.append(time.monotonic() - t0)
            check(h.status == 200, "/healthz during the build: %s" % h.status)
            _, cur = get(d, "/v1/models/" + mid)
            if cur.get("state") != "pending":
                break
            time.sleep(0.05)
        m = wait_model(d, mid)
        check(m.get("state") == "ready" and re.fullmatch("[0-9a-f]{64}", m.get("hash") or ""),
              "model after its build: %s" % m)
        build_s = m.get("build_s") or 0
        print("build %.2f s; POST answered in %.3f s; /healthz at most %.3f s (%d polls)"
              % (build_s, secs, max(health), len(health)))
        check(build_s > 0, "build_s of the ready model: %s" % m.get("build_s"))
        check(secs < build_s / 2, "POST /v1/models took %.2f s of a %.2f s build"
              % (secs, build_s))
        check(max(health) < build_s / 2, "/healthz took %.2f s during a %.2f s build"
              % (max(health), build_s))
        run1 = wait_run(d, run1["id"])
        check(run1["status"] == "succeeded", "run on the pending model: %s" % run1)
        sha1, meta1 = result_sha(d, run1["id"])
        check(meta1["model"]["hash"] == m.get("hash"), "run meta hash %s, model hash %s"
              % (meta1["model"]["hash"], m.get("hash")))
        _, _, run2 = post(d, "/v1/runs", dict(RUN, model_id=mid))
        run2 = wait_run(d, run2["id"])
        sha2, _ = result_sha(d, run2["id"])
        # 3. one build of the stored model for its creation and two runs
        n = builds(d)
        check(n == 1, "eirnn_model_builds_total = %s after a model and two runs on it" % n)
        r3, secs3, run3 = post(d, "/v1/runs", dict(RUN, model=model_doc(3200, 800)))
        check(r3.status == 202 and secs3 < build_s / 2,
              "a run with the generated model inline: %s in %.2f s (its build: %.2f s)"
              % (r3.status, secs3, build_s))
        run3 = wait_run(d, run3["id"])
        sha3, meta3 = result_sha(d, run3["id"])
        check(run2["status"] == run3["status"] == "succeeded", "runs 2, 3: %s %s"
              % (run2["status"], run3["status"]))
        check(sha1 == sha2 == sha3, "result bytes differ: %s %s %s" % (sha1, sha2, sha3))
        check(meta3["model"]["hash"] == m.get("hash"),
              "inline model's hash %s" % meta3["model"]["hash"])
        # the inline model is another cache entry (keyed by its content): built once, by the
        # worker, and counted
        n = builds(d)
        check(n == 2, "eirnn_model_builds_total = %s after the run with the model inline" % n)
        _, text = get(d, "/v1/models/" + mid)
        check(text["model"]["populations"] == {"E": 3200, "I": 800}, "GET keeps the document")
    finally:
        rc = d.stop()
    check(rc == 0, "eirnnd exited with %s" % rc)


def scenario_concurrent(eirnnd):
    # Two workers, a pending model and two runs on it at once: one worker builds, the other
    # waits for that build (the cache's in-flight dedupe) instead of building again.
    d = Daemon(eirnnd, ["--workers", "2", "--max-neurons", "4096"])
    try:
        _, _, m = post(d, "/v1/models", model_doc(1600, 400, seed=11))
        runs = [post(d, "/v1/runs", dict(RUN, model_id=m["id"]))[2] for _ in range(2)]
        done = [wait_run(d, r["id"]) for r in runs]
        check(all(r["status"] == "succeeded" for r in done),
              "concurrent runs: %s" % [r["status"] for r in done])
        check(wait_model(d, m["id"]).get("state") == "ready", "model of the concurrent runs")
        n = builds(d)
        check(n == 1, "eirnn_model_builds_total = %s for a model built while two workers "
              "needed it" % n)
    finally:
        d.stop()


def scenario_failed(eirnnd):
    # An HTTP-only daemon takes the model and a run on it (both stay pending / queued: no
    # race with a fast build); a simulating daemon on the same database then builds it.
    h = Daemon(eirnnd, ["--workers", "0"])
    db = h.db
    w = None
    try:
        r, _, m = post(h, "/v1/models", model_doc(40, 10, activation="linear"))
        check(r.status == 202, "unbuildable model: %s %s" % (r.status, m))
        rr, _, run = post(h, "/v1/runs", dict(RUN, model_id=m["id"]))
        check(rr.status == 202, "run on the pending unbuildable model: %s" % rr.status)
        w = Daemon(eirnnd, ["--workers", "1", "--db", db])
        m = wait_model(w, m["id"])
        err = m.get("error") or {}
        check(m.get("state") == "failed" and m.get("hash") is None
              and err.get("status") == 422 and err.get("field") == "/activation"
              and "linear" in err.get("detail", ""), "failed model: %s" % m)
        run = wait_run(w, run["id"])
        rerr = run.get("error") or {}
        check(run["status"] == "failed" and "linear" in rerr.get("detail", ""),
              "run on the model that failed: %s" % run)
        r2, _, p = post(h, "/v1/runs", dict(RUN, model_id=m["id"]))
        check(r2.status == 422 and p.get("field") == "/model_id"
              and "failed" in p.get("detail", ""),
              "a run on a failed model: %s %s" % (r2.status, p))
    finally:
        if w:
            w.stop()
        h.stop()


def scenario_kill9(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--max-neurons", "4096"])
    keep, db = d.dir + "-kept", None
    try:
        r, _, m = post(d, "/v1/models", model_doc(3200, 800, seed=9))
        check(r.status == 202, "model: %s" % r.status)
        time.sleep(0.3)  # the worker is building it
        _, cur = get(d, "/v1/models/" + m["id"])
        check(cur.get("state") == "pending", "state 0.3 s into the build: %s" % cur.get("state"))
        d.proc.kill()
        d.proc.wait()
        db = kept_db(d, keep)
    finally:
        d.kill()
    try:
        # an HTTP-only daemon leaves the build to a simulating one
        h = Daemon(eirnnd, ["--workers", "0", "--db", db])
        try:
            time.sleep(1.5)
            _, cur = get(h, "/v1/models/" + m["id"])
            check(cur.get("state") == "pending", "with --workers 0: %s" % cur.get("state"))
        finally:
            h.stop()
        w = Daemon(eirnnd, ["--workers", "1", "--max-neurons", "4096", "--db", db])
        try:
            cur = wait_model(w, m["id"])
            check(cur.get("state") == "ready" and cur.get("hash"),
                  "after kill -9 and a restart: %s" % cur)
        finally:
            w.stop()
    finally:
        drop_kept(db, keep)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    scenario_build_off_thread(a.eirnnd)
    scenario_concurrent(a.eirnnd)
    scenario_failed(a.eirnnd)
    scenario_kill9(a.eirnnd)
    return 1 if BAD else 0


if __name__ == "__main__":
    sys.exit(main())
