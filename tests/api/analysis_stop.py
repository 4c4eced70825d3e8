#!/usr/bin/env python3
"""api/analysis_stop: an analysis stops while its LAPACK eigensolver runs (dgeev cannot be
interrupted: engine/src/stoppable.h runs it on a thread of its own and abandons it on a stop).

    analysis_stop.py --eirnnd PATH

A spectrum of W with eigenvectors of a generated model of N = 2500 spends nearly all its time in
one dgeev call (about 10 s here, one core; the same under sanitizers: LAPACK is not
instrumented). Its uninterrupted time T is measured first (and its arrays kept), then:

1. cancel 0.3 T into the analysis: status cancelled within 1.5 s of the request (the guard
   looks at the store's cancel every 0.25 s, the engine at its stop flag every 20 ms) and well
   under the time left of T (before: the cancel waited for dgeev);
2. SIGTERM 0.3 T into another: eirnnd exits (0) within 2 s; an HTTP-only daemon on the same
   database shows the analysis queued again; a daemon with a worker finishes it, and its arrays
   are the same bytes as the uninterrupted analysis's.
Exit 0 when all hold.
"""
import argparse
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
sys.path.insert(0, HERE)
from eirnnd_http import Daemon, drop_kept, http, kept_db, time_scale  # noqa: E402
from model_builds import check, get, model_doc, post, wait_model, BAD  # noqa: E402

N_E, N_I = 2000, 500
ARGS = ["--max-neurons", "4096"]
NAMES = ("eigenvalues", "eigenvectors")


def spectrum(mid):
    return {"kind": "spectrum", "model_id": mid, "of": "W", "eigenvectors": True}


def wait_status(d, aid, want, timeout):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, job = get(d, "/v1/analyses/" + aid)
        if job["status"] in want or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def arrays(d, aid):
    out = {}
    for name in NAMES:  # urllib: eirnnd_http's raw client is quadratic in a 100 MB body
        url = "http://127.0.0.1:%d/v1/analyses/%s/results/%s" % (d.port, aid, name)
        with urllib.request.urlopen(url, timeout=600) as r:
            check(r.status == 200, "GET %s of %s: %s" % (name, aid, r.status))
            out[name] = r.read()
    return out


def start_running(d, mid):
    """POST the spectrum and wait until a worker runs it: (id, time it was seen running)."""
    r, _, job = post(d, "/v1/analyses", spectrum(mid))
    check(r.status == 202, "POST /v1/analyses: %s %s" % (r.status, job))
    job = wait_status(d, job["id"], ("running", "succeeded", "failed"), 60)
    check(job["status"] == "running", "analysis not running: %s" % job["status"])
    return job["id"], time.monotonic()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "1"] + ARGS)
    keep, db = d.dir + "-kept", None
    try:
        r, _, m = post(d, "/v1/models", model_doc(N_E, N_I, seed=31))
        check(r.status in (201, 202), "model: %s %s" % (r.status, m))
        m = wait_model(d, m["id"])
        check(m.get("state") == "ready", "model: %s" % m)
        mid = m["id"]

        # the uninterrupted analysis (the model is in the worker's cache now)
        aid, t0 = start_running(d, mid)
        job = wait_status(d, aid, ("succeeded", "failed", "cancelled"), 600)
        full = time.monotonic() - t0
        check(job["status"] == "succeeded", "uninterrupted spectrum: %s" % job)
        want = arrays(d, aid)
        print("spectrum of W, N = %d, with eigenvectors: %.2f s" % (N_E + N_I, full))

        # 1. cancel while dgeev runs
        aid, t0 = start_running(d, mid)
        time.sleep(0.3 * full)
        tc = time.monotonic()
        r = http(d.port, "POST", "/v1/analyses/%s/cancel" % aid, "", timeout=60)
        check(r.status == 202, "cancel: %s" % r.status)
        job = wait_status(d, aid, ("cancelled", "failed", "succeeded"), 600)
        secs = time.monotonic() - tc
        print("cancel 0.3 T into it: %s after %.3f s" % (job["status"], secs))
        check(job["status"] == "cancelled", "cancelled analysis: %s" % job["status"])
        check(secs < 1.5 * time_scale() and secs < 0.3 * full,
              "cancel took %.2f s (uninterrupted %.2f s)" % (secs, full))

        # 2. SIGTERM while dgeev runs
        aid, t0 = start_running(d, mid)
        time.sleep(0.3 * full)
        ts = time.monotonic()
        d.proc.send_signal(15)
        try:
            rc = d.proc.wait(60 * time_scale())
        except Exception:  # noqa: BLE001 - still alive: kill it, the check below fails
            d.proc.kill()
            rc = d.proc.wait()
        secs = time.monotonic() - ts
        d.reader.join(5)
        print("SIGTERM 0.3 T into it: exit %s after %.3f s" % (rc, secs))
        check(rc == 0, "exit code after SIGTERM during a spectrum: %s" % rc)
        check(secs < 2.0 * time_scale() and secs < 0.5 * full,
              "SIGTERM during a spectrum took %.2f s (uninterrupted %.2f s)" % (secs, full))
        db = kept_db(d, keep)
    finally:
        d.kill()
    try:
        h = Daemon(a.eirnnd, ["--workers", "0", "--db", db] + ARGS)
        try:
            _, job = get(h, "/v1/analyses/" + aid)
            check(job.get("status") == "queued", "after SIGTERM: %s" % job.get("status"))
        finally:
            h.stop()
        w = Daemon(a.eirnnd, ["--workers", "1", "--db", db] + ARGS)
        try:
            job = wait_status(w, aid, ("succeeded", "failed", "cancelled"), 600)
            check(job["status"] == "succeeded", "after the restart: %s" % job)
            got = arrays(w, aid)
            for name in NAMES:
                check(got[name] == want[name],
                      "%s after the restart differ from the uninterrupted analysis's" % name)
        finally:
            rc = w.stop()
        check(rc == 0, "eirnnd exited with %s" % rc)
    finally:
        drop_kept(db, keep)
    return 1 if BAD else 0


if __name__ == "__main__":
    sys.exit(main())
