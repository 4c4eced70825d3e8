#!/usr/bin/env python3
"""Three eirnnd on one PostgreSQL database (docs/RELIABILITY.md, "Many daemons on one
PostgreSQL").

Starts three daemons A, B, C on a fresh database of the test cluster (each its own port, a
short --lease-seconds), creates two stored models and submits --runs tiny runs (2,000) round-
robin through the three daemons, every submission with an Idempotency-Key (a submission whose
daemon is down goes to the next daemon with the same key). The runs use a handful of distinct
run documents (stored and inline models, a noisy model with fixed seeds, float32 and float64).
During the load, daemon C is killed with SIGKILL twice (each time while one of its workers runs
a run) and restarted. When every run has ended the driver checks:

  1. every submission got one run id (replays name the same run), the database holds exactly
     those runs, and each ended `succeeded`, with meta.attempt equal to its attempts;
  2. the claim audit (table run_claims, read with psql): per run, the live intervals
     [claimed_at, min(lease_until, ended_at when set)] of its claims do not overlap, no claim is
     left open, a claim ended `rescued` was rescued only once its lease had expired, and
     exactly one claim has outcome `succeeded`, the one of the run's last attempt; across the
     daemons' logs no run finished twice, nor was claimed in an attempt after the one that
     succeeded;
  3. each run's results (every .npy, downloaded) are byte-identical to `eirnn simulate` of the
     same document (one simulation per distinct document).

It prints the runs rescued (claims ended `rescued`), attempts, the claims per daemon and the
wall times. Exit 0 when every check passes, 1 otherwise, 77 when no PostgreSQL is given.
"""

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eirnnd_proc import (MODEL_NOISY, MODEL_SMALL, Daemon, HttpError,  # noqa: E402
                         get_json, request, time_scale, wait_healthy)
import pg_common  # noqa: E402


def log(msg):
    print("pg_many: " + msg, flush=True)


def documents(ids):
    """The distinct run documents (tiny runs: a few hundred bytes of results each)."""
    return [
        {"model_id": ids["small"], "dt": 0.05, "inputs": {"steps": 20, "trials": 1},
         "record": {"vars": ["V"], "every": 1}},
        {"model_id": ids["small"], "dt": 0.05, "precision": "float32",
         "inputs": {"steps": 40, "trials": 2}, "record": {"vars": ["V", "r"], "every": 2}},
        {"model_id": ids["noisy"], "dt": 0.05, "seed": 11, "inputs": {"steps": 30, "trials": 1},
         "record": {"vars": ["V", "y"], "every": 1}},
        {"model_id": ids["noisy"], "dt": 0.05, "seed": 12, "inputs": {"steps": 30, "trials": 2},
         "record": {"vars": ["r"], "every": 3}},
        {"model": MODEL_SMALL, "dt": 0.05, "inputs": {"steps": 25, "trials": 1},
         "record": {"vars": ["z", "y"], "every": 1}},
    ]


class Load:
    """The submissions and what they got (under lock)."""

    def __init__(self, n):
        self.lock = threading.Lock()
        self.next = 0
        self.n = n
        self.run_of = {}  # submission index -> run id
        self.doc_of = {}  # run id -> document index
        self.errors = []
        self.redirected = 0  # submissions sent to another daemon than their own
        self.replays = 0
        self.busy = 0

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)
        log("ERROR: " + msg)

    def take(self):
        with self.lock:
            if self.next >= self.n:
                return None
            self.next += 1
            return self.next - 1


def submitter(load, daemons, bodies, tag):
    """Submit run i through daemon i % 3; a daemon that is down (or answers 503) passes the
    submission to the next one, with the same Idempotency-Key."""
    while True:
        i = load.take()
        if i is None:
            return
        k = i % len(bodies)
        hdrs = {"Content-Type": "application/json", "Idempotency-Key": "%s-%d" % (tag, i)}
        target = i % len(daemons)
        t_end = time.monotonic() + 120 * time_scale()
        while True:
            d = daemons[target]
            status = None
            port = d.port
            if port:
                try:
                    status, _, data = request(port, "POST", "/v1/runs", bodies[k], hdrs,
                                              timeout=30)
                except HttpError:
                    status = None
            if status in (200, 202):
                rid = json.loads(data)["id"]
                with load.lock:
                    prev = load.run_of.get(i)
                    load.run_of[i] = rid
                    load.doc_of[rid] = k
                    if status == 200:
                        load.replays += 1
                    if target != i % len(daemons):
                        load.redirected += 1
                if prev is not None and prev != rid:
                    load.error("submission %d: run %s, then %s" % (i, prev, rid))
                break
            if status is not None and status != 503:
                load.error("POST /v1/runs (submission %d) answered %d: %s" %
                           (i, status, data[:300]))
                break
            if status == 503:
                with load.lock:
                    load.busy += 1
            if time.monotonic() > t_end:
                load.error("submission %d: no daemon accepted it in 120 s" % i)
                break
            target = (target + 1) % len(daemons)
            time.sleep(0.01)


def kill_when_busy(d, limit=3.0):
    """SIGKILL daemon @p d as soon as /healthz shows a worker busy (at most @p limit seconds
    of looking); returns whether it was busy."""
    end = time.monotonic() + limit
    busy = False
    while time.monotonic() < end:
        try:
            st, h = get_json(d.port, "/healthz", timeout=5)
            if st == 200 and h.get("workers_busy", 0) > 0:
                busy = True
                break
        except HttpError:
            pass
        time.sleep(0.002)
    d.kill9()
    return busy


def simulate(eirnn, doc, out_dir):
    """`eirnn simulate` of @p doc into @p out_dir; returns {var: bytes of its .npy}."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "run.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    res = subprocess.run([eirnn, "simulate", path, "-o", out_dir, "-q"], capture_output=True,
                         text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if res.returncode != 0:
        raise RuntimeError("eirnn simulate exited %d: %s" % (res.returncode, res.stderr[-300:]))
    out = {}
    for f in sorted(os.listdir(out_dir)):
        if f.endswith(".npy"):
            with open(os.path.join(out_dir, f), "rb") as fh:
                out[f[:-4]] = fh.read()
    return out


def audit_claims(url, load, pids_killed):
    """Check run_claims (see the module's help); returns (errors, figures)."""
    rows = pg_common.psql(url, "SELECT run_id, attempt, claimant, claimed_at, lease_until, "
                               "ended_at, outcome FROM run_claims ORDER BY run_id, attempt")
    runs = pg_common.psql(url, "SELECT id, attempts FROM runs")
    attempts = {r[0]: int(r[1]) for r in runs}
    by_run = {}
    for r in rows:
        by_run.setdefault(r[0], []).append(
            dict(attempt=int(r[1]), claimant=r[2], claimed_at=int(r[3]), lease_until=int(r[4]),
                 ended_at=int(r[5]), outcome=r[6]))
    errors = []
    outcomes = {}
    rescued_runs = set()
    rescued_live = 0  # rescued claims of a daemon that was not killed
    per_claimant = {}
    succeeded_attempt = {}
    for rid in load.doc_of:
        claims = by_run.get(rid, [])
        if not claims:
            errors.append("run %s has no claim" % rid)
            continue
        ok = [c for c in claims if c["outcome"] == "succeeded"]
        if len(ok) != 1:
            errors.append("run %s has %d claims with outcome succeeded: %s" %
                          (rid, len(ok), claims))
        else:
            succeeded_attempt[rid] = ok[0]["attempt"]
        if len(ok) == 1 and ok[0]["attempt"] != attempts.get(rid):
            errors.append("run %s succeeded in attempt %d, its attempts are %s" %
                          (rid, ok[0]["attempt"], attempts.get(rid)))
        for c in claims:
            outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
            per_claimant[c["claimant"]] = per_claimant.get(c["claimant"], 0) + 1
            if c["ended_at"] == 0 or c["outcome"] == "":
                errors.append("run %s: claim %d of %s is still open after the run ended" %
                              (rid, c["attempt"], c["claimant"]))
            if c["outcome"] == "rescued":
                rescued_runs.add(rid)
                if c["ended_at"] < c["lease_until"]:
                    errors.append("run %s: claim %d of %s rescued at %d, before its lease "
                                  "expired at %d" % (rid, c["attempt"], c["claimant"],
                                                     c["ended_at"], c["lease_until"]))
                if pg_common.claimant_pid(c["claimant"]) not in pids_killed:
                    rescued_live += 1
            end = min(c["lease_until"], c["ended_at"]) if c["ended_at"] else c["lease_until"]
            c["live"] = (c["claimed_at"], end)
        attempts_seen = [c["attempt"] for c in claims]
        if attempts_seen != list(range(1, len(claims) + 1)):
            errors.append("run %s: claim attempts %s" % (rid, attempts_seen))
        for a in range(len(claims)):
            for b in range(a + 1, len(claims)):
                (s1, e1), (s2, e2) = claims[a]["live"], claims[b]["live"]
                if s1 < e2 and s2 < e1:
                    errors.append("run %s: live leases overlap: attempt %d %s [%d, %d] and "
                                  "attempt %d %s [%d, %d]" %
                                  (rid, claims[a]["attempt"], claims[a]["claimant"], s1, e1,
                                   claims[b]["attempt"], claims[b]["claimant"], s2, e2))
    extra = set(by_run) - set(load.doc_of)
    if extra:
        errors.append("%d claims of runs never submitted, e.g. %s" % (len(extra), min(extra)))
    return errors, dict(claims=len(rows), outcomes=outcomes, rescued_runs=len(rescued_runs),
                        rescued_live=rescued_live, per_claimant=per_claimant,
                        succeeded_attempt=succeeded_attempt,
                        max_attempts=max(attempts.values() or [0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--eirnn", required=True, help="the eirnn binary (for `eirnn simulate`)")
    ap.add_argument("--pg-url", help="base URL of a cluster (default: EIRNN_TEST_PG_URL_FILE)")
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2, help="eirnnd --workers of each daemon")
    ap.add_argument("--lease-seconds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4, help="submitting threads")
    ap.add_argument("--seed", type=int, help="seed of the moments of the kills")
    ap.add_argument("--sanitized", action="store_true", help="a sanitizer build: 400 runs")
    ap.add_argument("--verify", help="ignored (the drivers share one argument list)")
    ap.add_argument("--keep", action="store_true", help="keep the database and the logs")
    a = ap.parse_args()
    base = pg_common.base_url(a.pg_url)
    if base is None:
        log("SKIP: no PostgreSQL (set EIRNN_TEST_PG_URL_FILE or --pg-url)")
        return pg_common.SKIP
    if a.sanitized:
        a.runs = min(a.runs, 400)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    kill_at = sorted([rng.uniform(0.2, 0.4), rng.uniform(0.55, 0.75)])
    log("seed %d: %d runs, kills of C after %.0f %% and %.0f %% of the submissions" %
        (seed, a.runs, 100 * kill_at[0], 100 * kill_at[1]))

    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="eirnn-pgmany-")
    db = pg_common.NewDb(base, "pgscale_many")
    common = ["--workers", str(a.workers), "--lease-seconds", str(a.lease_seconds),
              "--max-attempts", "10", "--shutdown-grace", "0"]
    daemons = [Daemon(a.eirnnd, db.url, common, log_path=os.path.join(tmp, "%s.log" % n),
                      env={"OPENBLAS_NUM_THREADS": "1"}) for n in "ABC"]
    load = Load(a.runs)
    pids = {}  # pid -> "A1", "C2", ...
    pids_killed = set()
    ok = False
    try:
        for i, d in enumerate(daemons):
            d.start()
            pids[d.proc.pid] = "%s%d" % ("ABC"[i], len(d.lifetimes))
        ids, models = {}, {}
        for name, m, want in (("small", MODEL_SMALL, 201), ("noisy", MODEL_NOISY, 202)):
            st, _, data = request(daemons[0].port, "POST", "/v1/models", m)
            if st != want:
                raise RuntimeError("POST /v1/models %s answered %d: %s" % (name, st, data))
            ids[name] = json.loads(data)["id"]
            models[ids[name]] = m
        docs = documents(ids)
        bodies = [json.dumps(doc) for doc in docs]
        tag = "pgmany-%d-%d" % (os.getpid(), seed)

        threads = [threading.Thread(target=submitter, args=(load, daemons, bodies, tag),
                                    daemon=True) for _ in range(a.clients)]
        t_load = time.monotonic()
        for t in threads:
            t.start()
        c = daemons[2]
        kills = []
        for frac in kill_at:
            while load.next < frac * a.runs:
                time.sleep(0.01)
            pids_killed.add(c.proc.pid)
            busy = kill_when_busy(c)
            kills.append(dict(at=load.next, busy=busy))
            log("killed C (SIGKILL) after %d submissions, %s" %
                (load.next, "a worker busy" if busy else "no worker seen busy"))
            time.sleep(1.0)  # submissions meanwhile go to A and B
            c.start()
            pids[c.proc.pid] = "C%d" % len(c.lifetimes)
        for t in threads:
            t.join()
        t_submitted = time.monotonic()
        log("%d runs submitted in %.1f s (%d passed to another daemon, %d replays, %d 503)" %
            (len(load.doc_of), t_submitted - t_load, load.redirected, load.replays, load.busy))

        # ---- drain: nothing queued or running ----------------------------------------------
        end = time.monotonic() + 240 * time_scale()
        while True:
            port = daemons[int(time.monotonic()) % 3].port
            wait_healthy(port)
            s1, q = get_json(port, "/v1/runs?status=queued&limit=1")
            s2, r = get_json(port, "/v1/runs?status=running&limit=1")
            if s1 == 200 and s2 == 200 and not q["items"] and not r["items"]:
                break
            if time.monotonic() > end:
                raise RuntimeError("runs still queued or running 240 s after the submissions")
            time.sleep(0.2)
        t_drained = time.monotonic()
        log("all runs ended %.1f s after the last submission" % (t_drained - t_submitted))
        for i, d in enumerate(daemons):
            if not d.alive():
                load.error("daemon %s died" % "ABC"[i])

        # ---- 1. the runs: one per submission, all succeeded --------------------------------
        if len(load.run_of) != a.runs:
            load.error("%d submissions of %d got a run" % (len(load.run_of), a.runs))
        if len(set(load.run_of.values())) != len(load.run_of):
            load.error("two submissions got the same run")
        db_ids = {r[0] for r in pg_common.psql(db.url, "SELECT id FROM runs")}
        if db_ids != set(load.doc_of):
            load.error("the database holds %d runs, %d submitted (%d unknown, %d missing)" %
                       (len(db_ids), len(load.doc_of), len(db_ids - set(load.doc_of)),
                        len(set(load.doc_of) - db_ids)))

        # ---- 3. results against eirnn simulate ---------------------------------------------
        sims = []
        for k, doc in enumerate(docs):
            odoc = copy.deepcopy(doc)
            mid = odoc.pop("model_id", None)
            if mid is not None:
                odoc["model"] = models[mid]
            sims.append(simulate(a.eirnn, odoc, os.path.join(tmp, "sim%d" % k)))
        counts = dict(verified=0, bytes=0)
        statuses = {}
        clock = threading.Lock()

        def check(item):
            n, rid = item
            port = daemons[n % 3].port
            st, run = get_json(port, "/v1/runs/" + rid, timeout=60)
            if st != 200:
                load.error("GET /v1/runs/%s answered %d" % (rid, st))
                return
            with clock:
                statuses[run["status"]] = statuses.get(run["status"], 0) + 1
            if run["status"] != "succeeded":
                load.error("run %s ended %s: %s" % (rid, run["status"], run.get("error")))
                return
            if run["meta"].get("attempt") != run["attempts"]:
                load.error("run %s completed in attempt %s of %d" %
                           (rid, run["meta"].get("attempt"), run["attempts"]))
            want = sims[load.doc_of[rid]]
            got = sorted(run["meta"]["outputs"])
            if got != sorted(want):
                load.error("run %s: outputs %s, eirnn simulate wrote %s" %
                           (rid, got, sorted(want)))
                return
            nb = 0
            for var in got:
                st, _, blob = request(port, "GET", "/v1/runs/%s/results/%s" % (rid, var))
                if st != 200 or blob != want[var]:
                    load.error("run %s: %s differs from eirnn simulate (status %d, %d vs %d "
                               "bytes)" % (rid, var, st, len(blob), len(want[var])))
                    return
                nb += len(blob)
            with clock:
                counts["verified"] += 1
                counts["bytes"] += nb

        with ThreadPoolExecutor(max_workers=4) as ex:
            list(ex.map(check, enumerate(sorted(load.doc_of))))
        t_checked = time.monotonic()
        log("%d runs byte-identical to eirnn simulate (%d distinct documents, %.2f MB "
            "downloaded) in %.1f s; statuses %s" %
            (counts["verified"], len(docs), counts["bytes"] / 1e6, t_checked - t_drained,
             statuses))

        # ---- 2. the claim audit and the logs -----------------------------------------------
        errs, fig = audit_claims(db.url, load, pids_killed)
        for e in errs[:20]:
            load.error(e)
        if len(errs) > 20:
            load.error("... %d audit errors in all" % len(errs))
        # The logs (all daemons, all lifetimes): at most one successful run_finished per run,
        # and no run_claimed of a later attempt than the one that succeeded.
        finished, twice, after = set(), 0, 0
        claimed = {}  # run id -> largest attempt claimed (logs)
        for d in daemons:
            for lines in d.lifetimes:
                for o in lines:
                    ev, rid = o.get("event"), o.get("run_id")
                    if ev == "run_finished" and o.get("store") == "ok":
                        if rid in finished:
                            twice += 1
                            load.error("run %s finished twice (logs)" % rid)
                        finished.add(rid)
                    elif ev == "run_claimed":
                        claimed[rid] = max(claimed.get(rid, 0), o.get("attempt", 0))
        for rid, att in claimed.items():
            if att > fig["succeeded_attempt"].get(rid, att):
                after += 1
                load.error("run %s claimed as attempt %d after attempt %d succeeded (logs)" %
                           (rid, att, fig["succeeded_attempt"][rid]))
        lost_lines = [o for d in daemons for o in d.events("lease_lost")]
        lost = len(lost_lines)
        for o in lost_lines[:5]:
            log("lease_lost: %s" % json.dumps(o))
        per_daemon = {}
        for cl, n in fig["per_claimant"].items():
            name = pids.get(pg_common.claimant_pid(cl), cl)
            per_daemon[name] = per_daemon.get(name, 0) + n

        # ---- summary ---------------------------------------------------------------------
        log("---- summary (seed %d) ----" % seed)
        log("kills of C: %s" % ", ".join("after %d submissions (%s)" %
                                         (k["at"], "busy" if k["busy"] else "idle")
                                         for k in kills))
        log("claims: %d (%s); per daemon lifetime %s" %
            (fig["claims"], ", ".join("%s %d" % kv for kv in sorted(fig["outcomes"].items())),
             ", ".join("%s %d" % kv for kv in sorted(per_daemon.items()))))
        log("runs rescued: %d (claims of a live daemon rescued: %d); most attempts of a run: "
            "%d; lease_lost log lines: %d" %
            (fig["rescued_runs"], fig["rescued_live"], fig["max_attempts"], lost))
        log("finished twice (logs): %d; claimed after finishing: %d" % (twice, after))
        log("wall time: submissions %.1f s, drain %.1f s, checks %.1f s, total %.1f s "
            "(%.0f runs/s submitted to ended)" %
            (t_submitted - t_load, t_drained - t_submitted, time.monotonic() - t_drained,
             time.monotonic() - t0, a.runs / (t_drained - t_load)))
        ok = not load.errors and counts["verified"] == a.runs
        if load.errors:
            log("%d error(s), first: %s" % (len(load.errors), load.errors[0]))
        log("PASS" if ok else "FAIL")
    except Exception as e:  # noqa: BLE001 - report and fail
        log("FAIL: %s: %s" % (type(e).__name__, e))
        for i, d in enumerate(daemons):
            log("daemon %s log tail:\n%s" % ("ABC"[i], d.log_tail()))
    finally:
        load.next = load.n
        for d in daemons:
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
