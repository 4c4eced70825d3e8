#!/usr/bin/env python3
"""api/model_build_stop: model builds are interruptible (issue 10: builds could not be stopped).

    model_build_stop.py --eirnnd PATH

A generated model of N = 8000 cells with spectral_radius takes about 8 s to build (release
build, one core; longer under sanitizers), most of it in the generation and the radius.

1. SIGTERM one second into the build of a pending model: eirnnd exits (0) within 2 s
   (before: it waited for the whole build, longer than --shutdown-grace), logs
   model_build_stopped, and the model is still pending (an HTTP-only daemon on the same
   database shows it so); a simulating daemon started on that database builds it (ready).
2. --model-build-time-limit 1: the model becomes failed within a few seconds, with a 422
   problem naming /populations and the limit (--model-build-time-limit, 1 s).
3. A cancel of a run whose worker builds its inline model, and of a run whose worker waits
   for another worker's build of its pending model, is seen within about half a second (the
   run is cancelled within 1 s of the request); the pending model is still built (ready).
Exit 0 when all hold.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
sys.path.insert(0, HERE)
from eirnnd_http import Daemon, drop_kept, http, kept_db, time_scale  # noqa: E402
from model_builds import RUN, check, get, model_doc, post, wait_model, BAD  # noqa: E402

N_E, N_I = 6400, 1600
ARGS = ["--max-neurons", "8192"]


def sigterm_exit_s(d):
    """SIGTERM @p d, wait for its exit: (seconds, exit code)."""
    t0 = time.monotonic()
    d.proc.send_signal(15)
    try:
        rc = d.proc.wait(60 * time_scale())
    except Exception:  # noqa: BLE001 - still alive: kill it, the check below fails
        d.proc.kill()
        rc = d.proc.wait()
    return time.monotonic() - t0, rc


def scenario_sigterm(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1"] + ARGS)
    keep, db = d.dir + "-kept", None
    try:
        r, _, m = post(d, "/v1/models", model_doc(N_E, N_I, seed=21))
        check(r.status == 202, "model: %s %s" % (r.status, m))
        time.sleep(1.0)  # the worker is building it
        _, cur = get(d, "/v1/models/" + m["id"])
        check(cur.get("state") == "pending", "state 1 s into the build: %s" % cur.get("state"))
        secs, rc = sigterm_exit_s(d)
        d.reader.join(5)
        print("SIGTERM during the build: exit %s after %.3f s" % (rc, secs))
        check(rc == 0, "exit code after SIGTERM during a build: %s" % rc)
        check(secs < 2.0 * time_scale(), "SIGTERM during a build took %.2f s" % secs)
        check(any('"model_build_stopped"' in line for line in d.log),
              "no model_build_stopped in the log")
        db = kept_db(d, keep)
    finally:
        d.kill()
    try:
        h = Daemon(eirnnd, ["--workers", "0", "--db", db] + ARGS)
        try:
            _, cur = get(h, "/v1/models/" + m["id"])
            check(cur.get("state") == "pending" and cur.get("hash") is None,
                  "after a stopped build: %s" % cur)
        finally:
            h.stop()
        w = Daemon(eirnnd, ["--workers", "1", "--db", db] + ARGS)
        try:
            cur = wait_model(w, m["id"])
            check(cur.get("state") == "ready" and cur.get("hash"),
                  "after the restart: %s" % cur)
            print("the build after the restart: %.2f s" % (cur.get("build_s") or 0))
        finally:
            w.stop()
    finally:
        drop_kept(db, keep)


def scenario_time_limit(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--model-build-time-limit", "1"] + ARGS)
    try:
        t0 = time.monotonic()
        _, _, m = post(d, "/v1/models", model_doc(N_E, N_I, seed=22))
        m = wait_model(d, m["id"])
        secs = time.monotonic() - t0
        err = m.get("error") or {}
        print("time limit 1 s: %s after %.2f s: %s" % (m.get("state"), secs, err.get("detail")))
        check(m.get("state") == "failed" and m.get("hash") is None and err.get("status") == 422
              and err.get("field") == "/populations"
              and "--model-build-time-limit" in err.get("detail", "")
              and "1 s" in err.get("detail", ""), "model past the build time limit: %s" % m)
        check(secs < 1.0 + 2.0 * time_scale(), "failed after %.2f s (limit 1 s)" % secs)
    finally:
        rc = d.stop()
    check(rc == 0, "eirnnd exited with %s" % rc)


def wait_status(d, rid, want, timeout):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, run = get(d, "/v1/runs/" + rid)
        if run["status"] in want or time.monotonic() > deadline:
            return run
        time.sleep(0.02)


def cancel_latency(d, rid):
    """Cancel running run @p rid: (seconds until it is cancelled, the run)."""
    t0 = time.monotonic()
    r = http(d.port, "POST", "/v1/runs/%s/cancel" % rid, "", timeout=60)
    check(r.status == 202, "cancel of a running run: %s" % r.status)
    run = wait_status(d, rid, ("cancelled", "failed", "succeeded"), 60)
    return time.monotonic() - t0, run


def scenario_cancel(eirnnd):
    d = Daemon(eirnnd, ["--workers", "2"] + ARGS)
    try:
        # a run whose worker builds its inline model
        _, _, run = post(d, "/v1/runs", dict(RUN, model=model_doc(N_E, N_I, seed=23)))
        run = wait_status(d, run["id"], ("running",), 30)
        time.sleep(0.5)
        secs, run = cancel_latency(d, run["id"])
        print("cancel during an inline build: %s after %.3f s" % (run["status"], secs))
        check(run["status"] == "cancelled" and secs < 1.0 * time_scale(),
              "inline build: %s after %.2f s" % (run["status"], secs))
        # a run waiting for another worker's build of its pending model
        _, _, m = post(d, "/v1/models", model_doc(N_E, N_I, seed=24))
        time.sleep(0.3)  # a worker builds it
        _, _, run = post(d, "/v1/runs", dict(RUN, model_id=m["id"]))
        run = wait_status(d, run["id"], ("running",), 30)
        time.sleep(0.5)
        _, cur = get(d, "/v1/models/" + m["id"])
        check(cur.get("state") == "pending", "model while a run waits: %s" % cur.get("state"))
        secs, run = cancel_latency(d, run["id"])
        print("cancel while waiting for a build: %s after %.3f s" % (run["status"], secs))
        check(run["status"] == "cancelled" and secs < 1.0 * time_scale(),
              "waiting run: %s after %.2f s" % (run["status"], secs))
        cur = wait_model(d, m["id"])
        check(cur.get("state") == "ready", "the model the cancelled run waited for: %s" % cur)
    finally:
        rc = d.stop()
    check(rc == 0, "eirnnd exited with %s" % rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    scenario_sigterm(a.eirnnd)
    scenario_time_limit(a.eirnnd)
    scenario_cancel(a.eirnnd)
    return 1 if BAD else 0


if __name__ == "__main__":
    sys.exit(main())
