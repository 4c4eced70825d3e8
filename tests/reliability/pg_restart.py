#!/usr/bin/env python3
"""PostgreSQL restarted under load (docs/RELIABILITY.md, "Many daemons on one PostgreSQL").

Starts a PostgreSQL cluster of its own (tests/pg/cluster.sh start DIR: it is restarted, so it
cannot be the shared one), two eirnnd on one database of it and a steady load: two clients
submit small runs (each with an Idempotency-Key; a 503 is retried after its Retry-After; a lost
answer, an error, is retried with the same key), a poller reads runs and a watcher /healthz of
both daemons every 0.1 s. In the middle, PostgreSQL is restarted --restarts times (3; cluster.sh
restart: fast stop, start, 3-5 s apart), then stopped for --down seconds (5) and started again
on its port (pg_ctl). Then the load stops, the runs are left to finish and the driver checks:

  1. neither daemon exited (no crash), and both stop cleanly (exit 0) at SIGTERM at the end;
  2. every run accepted (202, or 200 for a replay) ended `succeeded`, and the database holds
     exactly those runs;
  3. every 503 of the API (submissions, polls) carried a Retry-After of whole seconds >= 1
     (/healthz answers 503 "degraded" while the database is away, without one: API.md);
     every other answer was the expected one (no 500, no connection refused or cut);
  4. the daemons recovered by themselves: /healthz answers 200 again on both within --recover
     seconds (20) after PostgreSQL is back, and runs submitted after the last outage succeed.

Prints the 503s seen, the recovery times, the runs, attempts and rescues, the wall time. Exit 0
when every check passes, 1 otherwise, 77 when PostgreSQL's programs are not installed.
"""

import argparse
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eirnnd_proc import (MODEL_SMALL, Daemon, HttpError, request,  # noqa: E402
                         time_scale)
import pg_common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER_SH = os.path.join(HERE, "..", "pg", "cluster.sh")


def log(msg):
    print("pg_restart: %s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def cluster(script, cmd, d, timeout=120):
    """@p script (tests/pg/cluster.sh) @p cmd @p d; returns its stdout (raises with its stderr
    on failure)."""
    res = subprocess.run(["bash", script, cmd, d], capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError("cluster.sh %s: exit %d: %s" % (cmd, res.returncode,
                                                           res.stderr.strip()[-500:]))
    return res.stdout.strip()


def pg_ctl(cdir, *args):
    """pg_ctl (the newest /usr/lib/postgresql/*/bin, as cluster.sh picks it) on the data directory
    of cluster.sh's DIR @p cdir, as user postgres when we are root. cluster.sh's own `stop`
    removes the cluster, so the stop-and-start-later of this test is done here."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda p: [int(x) for x in p.split("/")[-2].split(".") if x.isdigit()])
    try:
        with open(os.path.join(cdir, "datadir")) as f:
            data = f.read().strip()
    except FileNotFoundError:
        data = os.path.join(cdir, "data")
    cmd = [os.path.join(bins[-1], "pg_ctl"), "-D", data] + list(args)
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError("pg_ctl %s: %s %s" % (" ".join(args), res.stdout, res.stderr))
    return data


def pg_pause(cdir, seconds):
    """Stop the cluster of @p cdir (fast shutdown), wait @p seconds, start it on its port."""
    with open(os.path.join(cdir, "port")) as f:
        port = f.read().strip()
    data = pg_ctl(cdir, "-m", "fast", "-t", "60", "-w", "stop")
    time.sleep(seconds)
    pg_ctl(cdir, "-l", os.path.join(data, "server.log"), "-t", "60", "-w", "-o", "-p " + port,
           "start")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.accepted = {}  # run id -> time accepted (monotonic)
        self.errors = []
        self.n = {}  # counters
        self.health = []  # (monotonic time, daemon index, status or None)

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)
        log("ERROR: " + msg)

    def count(self, name, k=1):
        with self.lock:
            self.n[name] = self.n.get(name, 0) + k


def check_503(st, where, status, hdrs):
    """Count a 503 and check its Retry-After; returns the seconds to wait."""
    if status != 503:
        return 0
    st.count("503 " + where)
    ra = hdrs.get("retry-after")
    if ra is None or not ra.isdigit() or int(ra) < 1:
        st.error("503 of %s with Retry-After %r" % (where, ra))
        return 1
    return int(ra)


def submitter(st, d, body, tag, rng):
    n = 0
    while not st.stop.is_set():
        key = "%s-%d" % (tag, n)
        n += 1
        hdrs = {"Content-Type": "application/json", "Idempotency-Key": key}
        details_503 = []  # the details of this submission's 503s
        while True:
            try:
                status, h, data = request(d.port, "POST", "/v1/runs", body, hdrs, timeout=60)
            except HttpError as e:
                st.error("submission %s: no answer: %s" % (key, e))
                if not d.alive():
                    return
                time.sleep(0.5)
                continue
            if status in (200, 202):
                rid = json.loads(data)["id"]
                with st.lock:
                    st.accepted.setdefault(rid, time.monotonic())
                st.count("accepted %d" % status)
                if status == 200 and details_503:
                    # The run was stored although the answer was 503 (a commit whose outcome
                    # the daemon could not know): the key's replay finds it, no duplicate.
                    st.count("replays of a 503")
                    log("submission %s: %d 503 (%s), then replayed %s" %
                        (key, len(details_503), " | ".join(details_503), rid))
                break
            if status != 503:
                st.error("submission %s answered %d: %s" % (key, status, data[:300]))
                break
            try:
                details_503.append(json.loads(data).get("detail", "")[:160])
            except ValueError:
                details_503.append(data[:160].decode("utf-8", "replace"))
            time.sleep(check_503(st, "POST /v1/runs", status, h))
            st.count("resubmitted after 503")
        time.sleep(rng.uniform(0.02, 0.08))


def poller(st, daemons, rng):
    while not st.stop.is_set():
        with st.lock:
            ids = list(st.accepted)
        if not ids:
            time.sleep(0.05)
            continue
        d = rng.choice(daemons)
        try:
            status, h, data = request(d.port, "GET", "/v1/runs/" + rng.choice(ids), timeout=60)
        except HttpError as e:
            st.error("poll: no answer: %s" % e)
            time.sleep(0.5)
            continue
        st.count("polls")
        if status == 503:
            time.sleep(check_503(st, "GET /v1/runs/{id}", status, h))
        elif status != 200:
            st.error("GET /v1/runs/{id} answered %d: %s" % (status, data[:300]))
        time.sleep(0.05)


def watcher(st, daemons):
    while not st.stop.is_set():
        for i, d in enumerate(daemons):
            if not d.alive():
                st.error("daemon %d exited (status %s)" % (i, d.proc.poll()))
                st.stop.set()
                return
            try:
                status, h, _ = request(d.port, "GET", "/healthz", timeout=30)
            except HttpError as e:
                st.error("/healthz of daemon %d: no answer: %s" % (i, e))
                status = None
            if status == 503:
                # /healthz is a status document, not a problem: API.md promises no Retry-After
                # on its 503 ("degraded"); counted, with those that have one.
                st.count("503 GET /healthz")
                if "retry-after" in h:
                    st.count("503 GET /healthz with Retry-After")
            elif status not in (200, None):
                st.error("/healthz of daemon %d answered %d" % (i, status))
            with st.lock:
                st.health.append((time.monotonic(), i, status))
        time.sleep(0.1)


def recovered_at(st, i, since):
    """The first time after @p since when /healthz of daemon @p i answered 200 (None)."""
    with st.lock:
        for t, j, s in st.health:
            if j == i and t >= since and s == 200:
                return t
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--cluster-sh", default=CLUSTER_SH, help="tests/pg/cluster.sh")
    ap.add_argument("--restarts", type=int, default=3, help="restarts before the stop (3)")
    ap.add_argument("--down", type=float, default=5.0, help="seconds PostgreSQL stays stopped")
    ap.add_argument("--recover", type=float, default=20.0,
                    help="most seconds from PostgreSQL back to /healthz 200 (scaled)")
    ap.add_argument("--lease-seconds", type=int, default=5)
    ap.add_argument("--drain", type=float, default=60.0,
                    help="most seconds for the accepted runs to end after the load (scaled)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--sanitized", action="store_true")
    ap.add_argument("--eirnn", help="ignored (the drivers share one argument list)")
    ap.add_argument("--verify", help="ignored")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        log("SKIP: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)")
        return pg_common.SKIP
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="eirnn-pgrestart-")
    os.chmod(tmp, 0o755)  # the cluster runs as user postgres when we are root
    cdir = os.path.join(tmp, "cluster")
    st = State()
    daemons = []
    ok = False
    cluster_up = False
    try:
        cluster(a.cluster_sh, "start", cdir)
        cluster_up = True
        with open(os.path.join(cdir, "url")) as f:
            base = f.readline().strip()
        db = pg_common.NewDb(base, "pgscale_restart")
        log("seed %d; own cluster %s, database %s" % (seed, base, db.name))
        args = ["--workers", "1", "--lease-seconds", str(a.lease_seconds), "--max-attempts",
                "10", "--shutdown-grace", "2"]
        env = {"OPENBLAS_NUM_THREADS": "1"}
        daemons = [Daemon(a.eirnnd, db.url, args, env=env,
                          log_path=os.path.join(tmp, "%s.log" % n)) for n in "AB"]
        for d in daemons:
            d.start()
        st_, _, data = request(daemons[0].port, "POST", "/v1/models", MODEL_SMALL)
        if st_ != 201:
            raise RuntimeError("POST /v1/models answered %d: %s" % (st_, data))
        mid = json.loads(data)["id"]
        # About 20-50 ms of simulation and 8 KB of results per run.
        body = json.dumps({"model_id": mid, "dt": 0.05, "inputs": {"steps": 5000, "trials": 1},
                           "record": {"vars": ["V"], "every": 50}})
        threads = [threading.Thread(target=submitter,
                                    args=(st, d, body, "pgrestart-%d-%d-%d" % (os.getpid(),
                                                                               seed, i),
                                          random.Random(seed + i)), daemon=True)
                   for i, d in enumerate(daemons)]
        threads.append(threading.Thread(target=poller, args=(st, daemons,
                                                             random.Random(seed + 9)),
                                        daemon=True))
        threads.append(threading.Thread(target=watcher, args=(st, daemons), daemon=True))
        t_load = time.monotonic()
        for t in threads:
            t.start()

        outages = []
        for k in range(a.restarts):
            time.sleep(rng.uniform(3.0, 5.0))
            log("restarting PostgreSQL (%d runs accepted so far)" % len(st.accepted))
            t_a = time.monotonic()
            cluster(a.cluster_sh, "restart", cdir)
            t_b = time.monotonic()
            outages.append(("restart %d" % (k + 1), t_a, t_b))
            log("PostgreSQL restarted in %.1f s" % (t_b - t_a))
        time.sleep(rng.uniform(3.0, 5.0))
        log("stopping PostgreSQL for %.0f s (%d runs accepted so far)" %
            (a.down, len(st.accepted)))
        t_a = time.monotonic()
        pg_pause(cdir, a.down)
        t_b = time.monotonic()
        outages.append(("stop %.0f s" % a.down, t_a, t_b))
        log("PostgreSQL back after %.1f s" % (t_b - t_a))
        # Load after the outage: it must be accepted and succeed too.
        time.sleep(6.0)
        st.stop.set()
        for t in threads:
            t.join(90)
        t_loaded = time.monotonic()
        after_last = [rid for rid, t in st.accepted.items() if t > t_b]
        log("load stopped: %d runs accepted (%d after the last outage)" %
            (len(st.accepted), len(after_last)))
        if not after_last:
            st.error("no run was accepted after PostgreSQL came back")

        # ---- recovery of /healthz --------------------------------------------------------
        rec = []
        for name, ta, tb in outages:
            for i in range(len(daemons)):
                t = recovered_at(st, i, tb)
                if t is None or t - tb > a.recover * time_scale():
                    st.error("daemon %d: /healthz not 200 within %.0f s after the %s" %
                             (i, a.recover * time_scale(), name))
                else:
                    rec.append("%s: daemon %s %.2f s" % (name, "AB"[i], t - tb))
        with st.lock:
            degraded = sum(1 for _, _, s in st.health if s == 503)

        # ---- drain ---------------------------------------------------------------------------
        end = time.monotonic() + a.drain * time_scale()
        pending = set(st.accepted)
        final = {}
        while pending and time.monotonic() < end:
            for rid in list(pending):
                d = daemons[hash(rid) % 2]
                status, h, data = request(d.port, "GET", "/v1/runs/" + rid, timeout=60)
                if status == 503:
                    time.sleep(check_503(st, "GET /v1/runs/{id}", status, h))
                    continue
                run = json.loads(data)
                if run["status"] not in ("queued", "running"):
                    final[rid] = run
                    pending.discard(rid)
            if pending:
                time.sleep(0.5)
        t_drained = time.monotonic()
        if pending:
            st.error("%d accepted runs not final %d s after the load, e.g. %s" %
                     (len(pending), a.drain * time_scale(), min(pending)))
            for rid in sorted(pending)[:5]:  # what the database says of them
                if not re.fullmatch(r"r_[0-9a-f]+", rid):
                    continue
                for row in pg_common.psql(
                        db.url, "SELECT r.id, r.status, r.attempts, r.claimant, "
                                "r.lease_expires_at, c.attempt, c.claimant, c.claimed_at, "
                                "c.lease_until, c.ended_at, c.outcome, "
                                "(extract(epoch from clock_timestamp())*1000)::bigint "
                                "FROM runs r LEFT JOIN run_claims c ON c.run_id = r.id "
                                "WHERE r.id = '%s'" % rid):
                    log("stuck: run %s status %s attempts %s claimant %s lease_expires_at %s;"
                        " claim %s by %s claimed_at %s lease_until %s ended_at %s outcome %r;"
                        " now %s" % tuple(row))
        attempts = {}
        for rid, run in final.items():
            attempts[run["attempts"]] = attempts.get(run["attempts"], 0) + 1
            if run["status"] != "succeeded":
                st.error("run %s ended %s: %s" % (rid, run["status"], run.get("error")))
        db_ids = {r[0] for r in pg_common.psql(db.url, "SELECT id FROM runs")}
        if db_ids != set(st.accepted):
            st.error("the database holds %d runs, %d were accepted (%d not accepted)" %
                     (len(db_ids), len(st.accepted), len(db_ids - set(st.accepted))))
        outcomes = dict((r[0], int(r[1])) for r in pg_common.psql(
            db.url, "SELECT outcome, count(*) FROM run_claims GROUP BY outcome"))
        rescued = pg_common.psql(db.url, "SELECT count(DISTINCT run_id) FROM run_claims "
                                         "WHERE outcome = 'rescued'")[0][0]

        for i, d in enumerate(daemons):
            rc = d.stop(signal.SIGTERM, 60)
            if rc != 0:
                st.error("daemon %s exited %s at SIGTERM" % ("AB"[i], rc))
        lost_lines = [o for d in daemons for o in d.events("lease_lost")]
        lost = len(lost_lines)
        for o in lost_lines[:5]:
            log("lease_lost: %s" % json.dumps(o))

        log("---- summary (seed %d) ----" % seed)
        log("outages: %s" % ", ".join("%s %.1f s" % (n, tb - ta) for n, ta, tb in outages))
        log("recovery (PostgreSQL back to /healthz 200): %s; /healthz 503 answers: %d" %
            ("; ".join(rec), degraded))
        log("answers: %s" % ", ".join("%s %d" % kv for kv in sorted(st.n.items())))
        log("runs accepted %d, succeeded %d; attempts per run %s; runs rescued %s; claims %s; "
            "lease_lost log lines %d" %
            (len(st.accepted), sum(1 for r in final.values() if r["status"] == "succeeded"),
             dict(sorted(attempts.items())), rescued, outcomes, lost))
        log("wall time: load %.1f s, drain %.1f s, total %.1f s" %
            (t_loaded - t_load, t_drained - t_loaded, time.monotonic() - t0))
        ok = not st.errors and len(final) == len(st.accepted) > 0
        if st.errors:
            log("%d error(s), first: %s" % (len(st.errors), st.errors[0]))
        log("PASS" if ok else "FAIL")
    except Exception as e:  # noqa: BLE001 - report and fail
        log("FAIL: %s: %s" % (type(e).__name__, e))
        for i, d in enumerate(daemons):
            log("daemon %s log tail:\n%s" % ("AB"[i], d.log_tail()))
    finally:
        st.stop.set()
        for d in daemons:
            if d.alive():
                d.kill9()
        if cluster_up:
            try:
                cluster(a.cluster_sh, "stop", cdir)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log("could not stop the cluster: %s" % e)
        if a.keep or not ok:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
