#!/usr/bin/env python3
"""A run claimed by a daemon that dies is rescued by a live daemon on the same database once its
lease expired (server/lease.c, docs/STORE.md "Leases"): two simulating daemons A and B share one
database with --lease-seconds 2; a long run is submitted, one of them claims it and is killed
with SIGKILL; the other must not take the run before the lease expired, must requeue it
("rescued" in its log) within a lease and a rescue period after that, and then runs it to
success as attempt 2. Exit 0 on success, 1 with the reason on failure. With EIRNN_TEST_STORE=pg
(ctest reliability/pg/lease_rescue) the database is a new one on the tests' PostgreSQL cluster.

    python3 tests/reliability/lease_rescue.py --eirnnd build/server/eirnnd
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pgtest  # noqa: E402
from eirnnd_proc import MODEL_BIG, Daemon, get_json, request, time_scale  # noqa: E402

LEASE = 2.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout * time_scale()
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--steps", type=int, default=150000,
                    help="steps of the run: long enough to be running when its daemon dies")
    ap.add_argument("--eirnn", help="(unused: the common arguments of the drivers)")
    ap.add_argument("--verify", help="(unused)")
    ap.add_argument("--sanitized", action="store_true", help="(unused)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="eir_lease_")
    db = pgtest.daemon_db(tmp)
    common = ["--workers", "1", "--lease-seconds", str(LEASE)]
    daemons = {"A": Daemon(args.eirnnd, db, common), "B": Daemon(args.eirnnd, db, common)}
    try:
        # both up before anything runs: the start's requeue of a simulating daemon (SQLite: all
        # running runs) then finds nothing running
        for d in daemons.values():
            d.start()
        a = daemons["A"]
        st, _, body = request(a.port, "POST", "/v1/models", MODEL_BIG)
        if st not in (201, 202):  # a generated model is built by a worker (202)
            fail("POST /v1/models answered %d: %s" % (st, body[:300]))
        mid = json.loads(body)["id"]
        doc = {"model_id": mid, "dt": 0.1, "inputs": {"steps": args.steps, "trials": 1},
               "record": {"vars": ["V"], "every": args.steps}}
        st, _, body = request(a.port, "POST", "/v1/runs", doc)
        if st != 202:
            fail("POST /v1/runs answered %d: %s" % (st, body[:300]))
        rid = json.loads(body)["id"]

        def claimer():
            for name, d in daemons.items():
                if any(e.get("run_id") == rid for e in d.events("run_claimed")):
                    return name
            return None
        name = wait_for("the claim of " + rid, claimer, 30)
        dead, live = daemons[name], daemons["B" if name == "A" else "A"]
        time.sleep(0.5)  # running for a while, with progress written
        st, run = get_json(live.port, "/v1/runs/" + rid)
        if run["status"] != "running" or run["attempts"] != 1:
            fail("before the kill the run is %s, attempt %d (a longer run: --steps)" %
                 (run["status"], run["attempts"]))
        dead.kill9()
        t_kill = time.monotonic()

        def rescued():
            ev = live.events("rescued")
            return ev[0] if ev else None
        ev = wait_for("the rescue by the live daemon", rescued, 4 * LEASE + 10)
        t_rescue = time.monotonic() - t_kill
        if ev.get("requeued") != 1:
            fail("the rescue says %s" % ev)
        # the lease was renewed up to the kill, so it ran at most LEASE after it: not rescued
        # before LEASE/4 + a margin, and within the lease plus one rescue period (+25 %) after
        if t_rescue < LEASE * 0.7 / time_scale():
            fail("rescued %.2f s after the kill, before the lease of %g s could expire" %
                 (t_rescue, LEASE))
        late = LEASE + LEASE / 2 * 1.25 + 2.0
        if t_rescue > late * time_scale():
            fail("rescued %.2f s after the kill, later than %.1f s" % (t_rescue, late))

        end = time.monotonic() + 300 * time_scale()
        while True:
            st, run = get_json(live.port, "/v1/runs/%s?wait=30" % rid, timeout=60)
            if run["status"] not in ("queued", "running"):
                break
            if time.monotonic() > end:
                fail("the rescued run did not end: %s" % run)
        if run["status"] != "succeeded" or run["attempts"] != 2:
            fail("the rescued run ended %s after %d attempts" % (run["status"], run["attempts"]))
        claims = [e for e in live.events("run_claimed") if e.get("run_id") == rid]
        if not claims or claims[-1].get("attempt") != 2:
            fail("the live daemon's claims of the run: %s" % claims)
        print("ok: %s claimed by %s, killed; rescued by %s %.2f s later (lease %g s), "
              "succeeded as attempt 2" % (rid, name, "B" if name == "A" else "A", t_rescue, LEASE))
        return 0
    finally:
        for d in daemons.values():
            if d.alive():
                d.stop()
        pgtest.drop(db)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
