#!/usr/bin/env python3
"""Long polls across daemons on one PostgreSQL database (docs/RELIABILITY.md, "Many daemons on
one PostgreSQL").

Daemon A (--workers 0: HTTP only) and daemon B (one worker) share a fresh database of the test
cluster. Each probe submits a run through A, holds `GET /v1/runs/{id}?wait=30` on A while B
claims and runs it (about half a second), and measures the time from the run's `finished_at`
(the database's clock) to the poll's answer: every one must be under 1 s (--bound). Then the
change feed of A: `GET /v1/changes?after=SEQ&wait=30` re-issued on A while B runs a run
submitted through B; the feed must move within 1 s of that run's end (the first answer after
`finished_at` names a new seq and comes under the bound).

Prints the median and the largest delay of each. Exit 0 when every probe is under the bound, 1
otherwise, 77 when no PostgreSQL is given.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eirnnd_proc import MODEL_BIG, Daemon, get_json, request, time_scale  # noqa: E402
import pg_common  # noqa: E402


def log(msg):
    print("pg_long_poll: " + msg, flush=True)


def run_doc(model_id, steps, seed):
    """A run of MODEL_BIG (N = 300) of @p steps steps recording one row of V (tiny results)."""
    return {"model_id": model_id, "dt": 0.05, "seed": seed,
            "inputs": {"steps": steps, "trials": 1}, "record": {"vars": ["V"], "every": steps}}


def submit(d, doc):
    st, _, body = request(d.port, "POST", "/v1/runs", doc)
    if st != 202:
        raise RuntimeError("POST /v1/runs answered %d: %s" % (st, body[:300]))
    return json.loads(body)["id"]


def wait_final(d, rid, timeout=120):
    end = time.monotonic() + timeout * time_scale()
    while True:
        st, run = get_json(d.port, "/v1/runs/%s?wait=10" % rid, timeout=30)
        if st == 200 and run["status"] not in ("queued", "running"):
            return run
        if time.monotonic() > end:
            raise RuntimeError("run %s not final after %d s" % (rid, timeout))


def calibrate(a_d, b_d, mid, target):
    """Steps for a run of about @p target seconds on B."""
    steps = 2000
    for _ in range(4):
        run = wait_final(a_d, submit(a_d, run_doc(mid, steps, 1)))
        if run["status"] != "succeeded":
            raise RuntimeError("calibration run %s ended %s: %s" %
                               (run["id"], run["status"], run.get("error")))
        took = pg_common.parse_time(run["finished_at"]) - pg_common.parse_time(run["started_at"])
        if took > target / 2:
            break
        steps = int(steps * min(20.0, target / max(took, 0.01)))
    return max(100, int(steps * target / max(took, 0.01)))


def poll_probe(a_d, mid, steps, seed):
    """One long poll on A of a run B runs: (delay from finished_at to the answer, whether the
    poll was open before the run ended)."""
    rid = submit(a_d, run_doc(mid, steps, seed))
    t_open = time.time()
    st, run = get_json(a_d.port, "/v1/runs/%s?wait=30" % rid, timeout=60)
    t_ret = time.time()
    if st != 200 or run["status"] != "succeeded":
        raise RuntimeError("long poll of %s on A: %d %s" % (rid, st, run and run["status"]))
    fin = pg_common.parse_time(run["finished_at"])
    return t_ret - fin, t_open < fin


def feed_probe(a_d, b_d, mid, steps, seed):
    """The change feed of A while B runs a run submitted through B: (delay from finished_at to
    the first feed answer after it, number of feed answers)."""
    _, ch = get_json(a_d.port, "/v1/changes")
    seq = ch["seq"]
    rid = submit(b_d, run_doc(mid, steps, seed))
    answers = []  # (time of the answer, seq before, seq after)
    while True:
        st, ch = get_json(a_d.port, "/v1/changes?after=%d&wait=30" % seq, timeout=60)
        t = time.time()
        if st != 200:
            raise RuntimeError("GET /v1/changes on A answered %d" % st)
        answers.append((t, seq, ch["seq"]))
        seq = ch["seq"]
        st, run = get_json(a_d.port, "/v1/runs/" + rid)
        if run["status"] not in ("queued", "running"):
            break
    if run["status"] != "succeeded":
        raise RuntimeError("run %s ended %s" % (rid, run["status"]))
    fin = pg_common.parse_time(run["finished_at"])
    if answers[-1][0] < fin:
        # The run ended between the last answer and the look at its status: the feed must have
        # moved since that answer (answered at once), else it waits out its 30 s.
        st, ch = get_json(a_d.port, "/v1/changes?after=%d&wait=30" % seq, timeout=60)
        answers.append((time.time(), seq, ch["seq"]))
    after = [x for x in answers if x[0] >= fin]
    if not after or after[0][1] == after[0][2]:
        raise RuntimeError("A's change feed did not move when run %s ended on B: answers %s, "
                           "finished at %.3f" % (rid, answers, fin))
    return after[0][0] - fin, len(answers)


def fmt(xs):
    return "median %.1f ms, max %.1f ms (%d probes)" % (
        1000 * statistics.median(xs), 1000 * max(xs), len(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--pg-url", help="base URL of a cluster (default: EIRNN_TEST_PG_URL_FILE)")
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--feed-probes", type=int, default=5)
    ap.add_argument("--bound", type=float, default=1.0, help="largest delay, seconds (scaled)")
    ap.add_argument("--run-seconds", type=float, default=0.5, help="length of a probe's run")
    ap.add_argument("--sanitized", action="store_true")
    ap.add_argument("--eirnn", help="ignored (the drivers share one argument list)")
    ap.add_argument("--verify", help="ignored")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    base = pg_common.base_url(a.pg_url)
    if base is None:
        log("SKIP: no PostgreSQL (set EIRNN_TEST_PG_URL_FILE or --pg-url)")
        return pg_common.SKIP
    bound = a.bound * time_scale()
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="eirnn-pglp-")
    db = pg_common.NewDb(base, "pgscale_lp")
    env = {"OPENBLAS_NUM_THREADS": "1"}
    a_d = Daemon(a.eirnnd, db.url, ["--workers", "0"], env=env,
                 log_path=os.path.join(tmp, "A.log"))
    b_d = Daemon(a.eirnnd, db.url, ["--workers", "1", "--shutdown-grace", "0"], env=env,
                 log_path=os.path.join(tmp, "B.log"))
    ok = False
    try:
        a_d.start()
        b_d.start()
        # The model has a generate recipe: B's worker builds it.
        st, _, body = request(b_d.port, "POST", "/v1/models", MODEL_BIG)
        if st != 202:
            raise RuntimeError("POST /v1/models answered %d: %s" % (st, body[:300]))
        mid = json.loads(body)["id"]
        end = time.monotonic() + 60 * time_scale()
        while get_json(a_d.port, "/v1/models/" + mid)[1]["state"] != "ready":
            if time.monotonic() > end:
                raise RuntimeError("model %s not ready after 60 s" % mid)
            time.sleep(0.1)
        steps = calibrate(a_d, b_d, mid, a.run_seconds)
        log("probe runs: N = 300, %d steps (about %.1f s on B)" % (steps, a.run_seconds))

        delays, bad = [], []
        tries = 0
        while len(delays) < a.probes:
            tries += 1
            if tries > 3 * a.probes:
                raise RuntimeError("the run ended before its long poll was open in %d of %d "
                                   "probes" % (tries - len(delays), tries))
            d, open_before = poll_probe(a_d, mid, steps, 100 + tries)
            if not open_before:
                continue  # the run ended before the poll: no measure
            delays.append(d)
            if d >= bound:
                bad.append(d)
        log("long poll on A, run ended on B: %s" % fmt(delays))
        if bad:
            log("ERROR: %d long polls answered %.0f ms or later after the run ended: %s" %
                (len(bad), 1000 * bound, ", ".join("%.0f ms" % (1000 * x) for x in bad)))

        feed = []
        for i in range(a.feed_probes):
            d, n = feed_probe(a_d, b_d, mid, steps, 500 + i)
            feed.append(d)
            if d >= bound:
                bad.append(d)
                log("ERROR: A's change feed moved %.0f ms after the end on B" % (1000 * d))
        log("change feed on A, run ended on B: %s" % fmt(feed))
        if not (a_d.alive() and b_d.alive()):
            raise RuntimeError("a daemon died")
        ok = not bad
        log("total %.1f s" % (time.monotonic() - t0))
        log("PASS" if ok else "FAIL")
    except Exception as e:  # noqa: BLE001 - report and fail
        log("FAIL: %s: %s" % (type(e).__name__, e))
        for n, d in (("A", a_d), ("B", b_d)):
            log("daemon %s log tail:\n%s" % (n, d.log_tail()))
    finally:
        for d in (a_d, b_d):
            if d.alive():
                d.stop()
        if a.keep or not ok:
            log("kept %s and database %s" % (tmp, db.url))
        else:
            db.drop()
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
