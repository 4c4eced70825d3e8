#!/usr/bin/env python3
"""Fault injection against eirnnd (docs/RELIABILITY.md, "Faults").

  faults.py alloc ...   allocation failures on the request threads (libeirnn_faultalloc.so,
                        LD_PRELOAD): for each request of a catalogue (models, runs, results,
                        lists, service routes; good and bad documents), fail the 1st, 2nd, 3rd
                        ... allocation made while it is handled, until one goes through without
                        a failure; then a phase of concurrent random requests with each
                        allocation failing with probability 1/50. Every injected failure must
                        end in the request's normal answer (the failure was absorbed) or a clean
                        500/503 problem+json (503 with Retry-After); a connection closed without
                        an answer is allowed only when the failed allocation was libmicrohttpd's
                        own. After each request /healthz answers 200; at the end the daemon still
                        runs every run it accepted, noisy runs all stored with their seed, the
                        request gauge is back to 0 and the database verifies.
  faults.py disk ...    a full disk: the database on a small tmpfs (mounted here; exit 77 when
                        mounting is not permitted), filled up. Submits that need space get 503
                        problem+json with Retry-After; a run whose results do not fit fails with
                        a message (or waits), never a crash and never stuck; once space returns
                        the same daemon accepts and completes runs, and the database verifies.
  faults.py lock ...    a locked database: the sqlite3 shell holds BEGIN EXCLUSIVE for ~15 s.
                        Writes get 503 problem+json with Retry-After within about the busy
                        timeout (10 s), reads keep answering, and after the release writes succeed
                        and the run that was finishing during the lock completes.

Exit 0 when every check passes, 1 on a failure, 77 when a capability is missing.
"""

import argparse
import errno
import json
import mmap
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eirnnd_proc import (MODEL_BIG, MODEL_NOISY, MODEL_SMALL, Daemon, HttpError,  # noqa: E402
                         get_json, request, request_ex, sqlite3_cli, time_scale, wait_healthy)

SKIP = 77
FINAL = ("succeeded", "failed", "diverged", "cancelled")


def log(msg):
    print("faults: " + msg, flush=True)


class Checks:
    def __init__(self):
        self.errors = []

    def fail(self, msg):
        self.errors.append(msg)
        log("ERROR: " + msg)

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond


def is_problem(status, hdrs, body, path=""):
    """A clean problem+json answer with this status (503s with Retry-After). /healthz answers
    its own JSON with 503 when the database does not answer (status "degraded")."""
    if path == "/healthz" and status == 503 and hdrs.get("content-type") == "application/json":
        try:
            return json.loads(body).get("status") == "degraded"
        except ValueError:
            return False
    if not hdrs.get("content-type", "").startswith("application/problem+json"):
        return False
    try:
        p = json.loads(body)
    except ValueError:
        return False
    if p.get("status") != status or not str(p.get("type", "")).startswith("urn:eirnn:problem:"):
        return False
    return status != 503 or "retry-after" in hdrs


def wait_run(port, rid, timeout=120):
    timeout *= time_scale()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s, j = get_json(port, "/v1/runs/%s?wait=5" % rid, timeout=30)
        if s == 200 and j["status"] in FINAL:
            return j
        time.sleep(0.05)
    raise RuntimeError("run %s did not finish within %d s" % (rid, timeout))


def verify_db(c, verify, db):
    out = subprocess.run([verify, db], capture_output=True, text=True)
    c.check(out.returncode == 0, "eirnn-store-verify: %s %s" % (out.stdout, out.stderr[-400:]))
    integrity = sqlite3_cli(db, "PRAGMA integrity_check;")
    c.check(integrity == "ok", "PRAGMA integrity_check: %s" % integrity)
    return out.stdout.strip(), integrity


def run_doc(model_id=None, model=None, steps=20, trials=1, vars_=("V",), seed=None, **kw):
    d = {"dt": 0.1, "inputs": {"steps": steps, "trials": trials},
         "record": {"vars": list(vars_)}}
    if model_id:
        d["model_id"] = model_id
    if model:
        d["model"] = model
    if seed is not None:
        d["seed"] = seed
    d.update(kw)
    return d


# ------------------------------------------------------------------------------------------
# Allocation failures
# ------------------------------------------------------------------------------------------

CTL_FMT = "<qqQQqqQq"  # countdown, prob, seed, generation, allocs, injected, caller, size


class Shim:
    """The control block shared with libeirnn_faultalloc.so."""

    def __init__(self, path):
        with open(path, "wb") as f:
            f.write(b"\0" * 4096)
        self.f = open(path, "r+b")
        self.m = mmap.mmap(self.f.fileno(), 4096)

    def read(self):
        v = struct.unpack_from(CTL_FMT, self.m, 0)
        return dict(countdown=v[0], prob=v[1], allocs=v[4], injected=v[5], caller=v[6],
                    size=v[7])

    def arm_countdown(self, k):
        struct.pack_into("<q", self.m, 32, 0)
        struct.pack_into("<q", self.m, 40, 0)
        struct.pack_into("<Q", self.m, 48, 0)
        struct.pack_into("<q", self.m, 0, k)

    def arm_prob(self, p, seed):
        struct.pack_into("<Q", self.m, 16, seed)
        gen = struct.unpack_from("<Q", self.m, 24)[0]
        struct.pack_into("<Q", self.m, 24, gen + 1)
        struct.pack_into("<q", self.m, 40, 0)
        struct.pack_into("<q", self.m, 8, int(p * (1 << 32)))

    def disarm(self):
        struct.pack_into("<q", self.m, 0, 0)
        struct.pack_into("<q", self.m, 8, 0)


def lib_of(pid, addr):
    """The file mapped at @addr in process @pid (basename), or "?"."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                if lo <= addr < hi:
                    return os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
    except OSError:
        pass
    return "?"


def catalogue(ids):
    """(name, method, path, body, headers, expected status); bodies may be callables of k."""
    small, noisy, run = ids["small"], ids["noisy"], ids["run"]
    bad_type = run_doc(model_id=small, steps="many")
    return [
        ("POST /v1/models (small)", "POST", "/v1/models", MODEL_SMALL, None, 201),
        # a generated model is built by a worker: 202, pending (API.md)
        ("POST /v1/models (generated W)", "POST", "/v1/models", MODEL_NOISY, None, 202),
        ("POST /v1/models (invalid)", "POST", "/v1/models",
         dict(MODEL_SMALL, leak=-1.0), None, 422),
        ("POST /v1/runs (model_id)", "POST", "/v1/runs",
         run_doc(model_id=small, vars_=("V", "y"), seed=3), None, 202),
        ("POST /v1/runs (noisy by id, no seed)", "POST", "/v1/runs",
         run_doc(model_id=noisy, steps=30, vars_=("r",)), None, 202),
        ("POST /v1/runs (inline noisy, no seed, key)", "POST", "/v1/runs",
         run_doc(model=MODEL_NOISY, steps=25), "key", 202),
        ("POST /v1/runs (wrong type)", "POST", "/v1/runs", bad_type, None, 422),
        ("POST /v1/runs (malformed JSON)", "POST", "/v1/runs", '{"model_id": ', None, 400),
        ("GET /v1/runs/{id}", "GET", "/v1/runs/%s" % run, None, None, 200),
        ("GET /v1/runs/{id}?wait=1", "GET", "/v1/runs/%s?wait=1" % run, None, None, 200),
        ("GET /v1/runs", "GET", "/v1/runs?limit=3", None, None, 200),
        ("GET /v1/runs?status=", "GET", "/v1/runs?status=succeeded&limit=2", None, None, 200),
        ("GET /v1/models", "GET", "/v1/models?limit=2", None, None, 200),
        ("GET /v1/models/{id}", "GET", "/v1/models/%s" % small, None, None, 200),
        ("GET /v1/runs/{id}/results", "GET", "/v1/runs/%s/results" % run, None, None, 200),
        ("GET result .npy", "GET", "/v1/runs/%s/results/V" % run, None, None, 200),
        ("GET result JSON", "GET", "/v1/runs/%s/results/y?format=json" % run, None, None, 200),
        ("GET result CSV sliced", "GET",
         "/v1/runs/%s/results/V?format=csv&steps=2:9&neurons=0,3:5" % run, None, None, 200),
        ("POST cancel (finished: 409)", "POST", "/v1/runs/%s/cancel" % run, None, None, 409),
        ("DELETE /v1/models/{id} (used: 409)", "DELETE", "/v1/models/%s" % small, None, None,
         409),
        ("DELETE /v1/runs/{id} (unknown: 404)", "DELETE", "/v1/runs/r_000000000000000000000000",
         None, None, 404),
        ("GET /healthz", "GET", "/healthz", None, None, 200),
        ("GET /metrics", "GET", "/metrics", None, None, 200),
        ("GET /v1/openapi.json", "GET", "/v1/openapi.json", None, None, 200),
        ("GET unknown path", "GET", "/v1/nothing", None, None, 404),
        ("PUT /v1/runs (405)", "PUT", "/v1/runs", None, None, 405),
    ]


def classify(c, name, k, expect, status, hdrs, body, shim_state, pid, outcomes, path, cut):
    """Check one answer under an injected failure; returns the outcome label."""
    inj = shim_state["injected"]
    lib = lib_of(pid, shim_state["caller"]) if inj else ""
    if cut:
        # A streamed result can only be cut off once its 200 went out: the client sees a body
        # shorter than its Content-Length (.npy) or without the closing chunk (JSON, CSV).
        label = "cut"
        if not (inj and status == 200 and "/results/" in path):
            c.fail("%s, allocation %d (in %s): status %s, then the body was cut off" %
                   (name, k, lib, status))
    elif status is None:
        label = "closed"
        if inj and not lib.startswith("libmicrohttpd"):
            c.fail("%s, allocation %d (in %s, %d bytes): connection closed without an answer"
                   % (name, k, lib, shim_state["size"]))
        elif not inj:
            c.fail("%s: connection closed without an injected failure" % name)
    elif status == expect:
        label = "normal"
        if status < 300 and hdrs.get("content-type", "").startswith("application/json"):
            try:
                json.loads(body)
            except ValueError:
                c.fail("%s, allocation %d (in %s): %d with a broken JSON body" %
                       (name, k, lib, status))
        if status >= 400 and not is_problem(status, hdrs, body):
            c.fail("%s, allocation %d: %d is not a problem+json" % (name, k, status))
    elif status in (500, 503) and inj:
        label = str(status)
        if not is_problem(status, hdrs, body, path):
            c.fail("%s, allocation %d (in %s): %d is not a clean problem+json (%r, %r)" %
                   (name, k, lib, status, hdrs.get("content-type"), body[:200]))
    else:
        label = "wrong"
        c.fail("%s, allocation %d (in %s, %d bytes): answered %s, expected %d or 500/503: %s" %
               (name, k, lib, shim_state["size"], status, expect, body[:300]))
    if inj:
        outcomes[label] = outcomes.get(label, 0) + 1
        key = "%s:%s" % (label, lib)
        by_lib = outcomes.setdefault("by_lib", {})
        by_lib[key] = by_lib.get(key, 0) + 1
    return label


def part_alloc(a, tmp, c):
    if a.sanitized:
        log("SKIP: the daemon is a sanitizer build; an LD_PRELOAD allocator cannot replace the "
            "sanitizer's")
        return SKIP
    if not os.path.exists(a.shim):
        log("SKIP: no %s" % a.shim)
        return SKIP
    shim = Shim(os.path.join(tmp, "fault.ctl"))
    db = os.path.join(tmp, "eirnn.db")
    env = {"LD_PRELOAD": a.shim, "EIRNN_FAULT_CTL": os.path.join(tmp, "fault.ctl")}
    d = Daemon(a.eirnnd, db, ["--workers", "1"], env=env,
               log_path=os.path.join(tmp, "eirnnd.log"))
    port = d.start(extra_args=["--http-threads", "1"])
    ids = {}
    for name, m in (("small", MODEL_SMALL), ("noisy", MODEL_NOISY)):
        s, _, b = request(port, "POST", "/v1/models", m)
        ids[name] = json.loads(b)["id"]
    s, _, b = request(port, "POST", "/v1/runs",
                      run_doc(model_id=ids["small"], steps=40, vars_=("V", "y"), seed=1))
    ids["run"] = json.loads(b)["id"]
    wait_run(port, ids["run"])

    outcomes = {}
    total_inj = 0
    total_req = 0
    t0 = time.monotonic()
    for (name, method, path, body, hdr, expect) in catalogue(ids):
        # A cold daemon for each request: first-use paths (the thread's database connection,
        # prepared statements, the model cache) are swept too.
        d.stop()
        port = d.start(extra_args=["--http-threads", "1"])
        k, sweep_inj = 0, 0
        while True:
            k += 1
            hdrs = {}
            if hdr == "key":
                hdrs["Idempotency-Key"] = "alloc-%d-%s" % (k, name[:8])
            shim.arm_countdown(k)
            try:
                status, h, data, cut = request_ex(port, method, path, body, hdrs, timeout=30)
            except HttpError:
                status, h, data, cut = None, {}, b"", False
            shim.disarm()
            stt = shim.read()
            total_req += 1
            if not d.alive():
                c.fail("%s, allocation %d: the daemon died (%s)" % (name, k, d.log_tail(5)))
                d.stop()
                return 1
            classify(c, name, k, expect, status, h, data, stt, d.proc.pid, outcomes, path, cut)
            try:
                s = request(port, "GET", "/healthz", timeout=10)[0]
            except HttpError as e:
                s = str(e)
            c.check(s == 200, "%s, allocation %d: /healthz answered %s afterwards" % (name, k, s))
            if stt["injected"] == 0:
                c.check(status == expect, "%s: answered %s without a failure, expected %d" %
                        (name, status, expect))
                break
            sweep_inj += 1
            if k >= a.max_k:
                c.fail("%s: still failing after %d allocations" % (name, k))
                break
        total_inj += sweep_inj
        log("%-44s %4d allocations failed one at a time" % (name, sweep_inj))
    log("countdown sweep: %d requests, %d failures injected, outcomes %s (%.1f s)" %
        (total_req, total_inj, {k: v for k, v in outcomes.items() if k != "by_lib"},
         time.monotonic() - t0))
    log("   by outcome and library of the failed allocation: %s" %
        json.dumps(outcomes.get("by_lib", {}), sort_keys=True))

    # ---- random failures under concurrent load ------------------------------------------------
    d.stop()
    port = d.start(extra_args=["--http-threads", "4"])
    cat = catalogue(ids)
    rng = random.Random(a.seed)
    counts = {"sent": 0, "normal": 0, "500": 0, "503": 0, "closed": 0, "cut": 0, "wrong": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client(i):
        r = random.Random(a.seed * 101 + i)
        while not stop.is_set():
            (name, method, path, body, hdr, expect) = r.choice(cat)
            hdrs = {"Idempotency-Key": "p-%d-%d" % (i, r.randrange(1 << 30))} if hdr else {}
            try:
                status, h, data, cut = request_ex(port, method, path, body, hdrs, timeout=30)
            except HttpError:
                status, h, data, cut = None, {}, b"", False
            if cut and status == 200 and "/results/" in path:
                label = "cut"
            elif status is None or cut:
                label = "closed"
            elif status == expect:
                label = "normal"
            elif status in (500, 503) and is_problem(status, h, data, path):
                label = str(status)
            else:
                label = "wrong"
                c.fail("random phase: %s answered %s: %s" % (name, status, data[:200]))
            with lock:
                counts["sent"] += 1
                counts[label] += 1

    shim.arm_prob(1.0 / 50, rng.randrange(1 << 62))
    th = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(6)]
    for t in th:
        t.start()
    time.sleep(a.random_seconds)
    stop.set()
    for t in th:
        t.join(60)
    st = shim.read()
    shim.disarm()
    c.check(d.alive(), "the daemon died in the random phase: %s" % d.log_tail(5))
    log("random phase (p = 1/50, 6 clients, %g s): %d requests, %d allocation failures "
        "injected; answers %s" % (a.random_seconds, counts["sent"], st["injected"],
                                  {k: v for k, v in counts.items() if k != "sent"}))
    total_inj += st["injected"]
    total_req += counts["sent"]

    # ---- afterwards: still serving, every accepted run completes, nothing leaked --------------
    wait_healthy(port)
    s, _, b = request(port, "POST", "/v1/runs", run_doc(model_id=ids["noisy"], steps=50))
    c.check(s == 202, "a run after the faults answered %d" % s)
    if s == 202:
        j = wait_run(port, json.loads(b)["id"])
        c.check(j["status"] == "succeeded", "the run after the faults ended %s" % j["status"])
    end = time.monotonic() + 300 * time_scale()
    while time.monotonic() < end:
        s1, q = get_json(port, "/v1/runs?status=queued&limit=1")
        s2, r = get_json(port, "/v1/runs?status=running&limit=1")
        if not q["items"] and not r["items"]:
            break
        time.sleep(0.2)
    # The gauge counts this /metrics request too; the request before it leaves the count just
    # after its answer went out, so poll briefly.
    end = time.monotonic() + 5 * time_scale()
    while True:
        s, _, metrics = request(port, "GET", "/metrics")
        gauge = [ln for ln in metrics.decode().splitlines()
                 if ln.startswith("eirnn_http_requests_in_flight")]
        if (gauge and gauge[0].split()[-1] in ("1", "1.0")) or time.monotonic() > end:
            break
        time.sleep(0.05)
    c.check(gauge and gauge[0].split()[-1] in ("1", "1.0"),
            "eirnn_http_requests_in_flight after the faults: %s" % gauge)
    rc = d.stop()
    c.check(rc == 0, "eirnnd exited %s at SIGTERM" % rc)
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    rows = con.execute("SELECT id, model_id, status, request_json, error_json "
                       "FROM runs").fetchall()
    con.close()
    noisy_ids = {ids["noisy"]}
    bad_status = [(r[0], r[2], r[4]) for r in rows if r[2] != "succeeded"]
    c.check(not bad_status, "runs not succeeded after the faults: %s" % bad_status[:5])
    unseeded = []
    for rid, mid, _, req, _ in rows:
        doc = json.loads(req)
        noisy = mid in noisy_ids or doc.get("model", {}).get("noise", {}).get("sigma", 0) > 0
        if noisy and not isinstance(doc.get("seed"), int):
            unseeded.append(rid)
    c.check(not unseeded, "%d noisy runs stored without a seed: %s" % (len(unseeded),
                                                                        unseeded[:5]))
    vrep, integrity = verify_db(c, a.verify, db)
    log("after the faults: %d runs in the database, all succeeded: %s; noisy runs without a "
        "seed: %d; integrity_check %s; store verify %s" %
        (len(rows), not bad_status, len(unseeded), integrity, vrep))
    log("allocation faults: %d injected over %d requests" % (total_inj, total_req))
    return 0


# ------------------------------------------------------------------------------------------
# Disk full
# ------------------------------------------------------------------------------------------

def fill(path, chunk=1 << 20):
    """Write zeros to @path until the file system is full; returns the bytes written."""
    n = 0
    buf = b"\0" * chunk
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                w = f.write(buf if chunk else b"\0")
                n += w
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk > 4096:
                    chunk //= 16
                    buf = b"\0" * chunk
                    continue
                break
    return n


def final_within(port, rid, seconds):
    """The run's status once final, or its last status after @seconds."""
    end = time.monotonic() + seconds
    j = None
    while time.monotonic() < end:
        _, j = get_json(port, "/v1/runs/%s?wait=2" % rid, timeout=30)
        if j["status"] in FINAL:
            break
    return j


def part_disk(a, tmp, c):
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt],
                         capture_output=True, text=True)
    if res.returncode != 0:
        log("SKIP: cannot mount a tmpfs (%s)" % res.stderr.strip())
        return SKIP
    d = None
    try:
        db = os.path.join(mnt, "eirnn.db")
        d = Daemon(a.eirnnd, db, ["--workers", "1"], log_path=os.path.join(tmp, "eirnnd.log"))
        port = d.start()
        s, _, b = request(port, "POST", "/v1/models", MODEL_BIG)
        big = json.loads(b)["id"]
        s, _, b = request(port, "POST", "/v1/models", MODEL_SMALL)
        small = json.loads(b)["id"]
        s, _, b = request(port, "POST", "/v1/runs", run_doc(model_id=small, steps=50, seed=1))
        first = json.loads(b)["id"]
        c.check(wait_run(port, first)["status"] == "succeeded", "the first run did not succeed")

        # A run of about 3 s with a 7.2 MB result, running when the disk fills up.
        s, h, body = request(port, "POST", "/v1/runs",
                             run_doc(model_id=big, steps=30000, seed=2,
                                     record={"vars": ["V"], "every": 10}))
        big_rid = json.loads(body)["id"]
        end = time.monotonic() + 30 * time_scale()
        while get_json(port, "/v1/runs/%s" % big_rid)[1]["status"] != "running":
            if time.monotonic() > end:
                raise RuntimeError("the 7.2 MB-result run did not start")
            time.sleep(0.02)
        filler = os.path.join(mnt, "filler")
        filled = fill(filler)
        log("disk filled: %.1f MB of filler, %d bytes left" %
            (filled / 1e6, shutil.disk_usage(mnt).free))
        out = {}

        # 1. A submit that needs space: a run with 1.5 MB of inputs in its document.
        big_inputs = {"dt": 0.1, "model_id": small, "record": {"vars": ["V"]},
                      "inputs": [[0.1234567, 0.7654321]] * 60000}
        t = time.monotonic()
        s, h, body = request(port, "POST", "/v1/runs", big_inputs, timeout=60)
        out["1.5 MB submit"] = s
        if c.check(s == 503 and is_problem(s, h, body),
                   "a 1.5 MB submit on the full disk answered %s: %s" % (s, body[:300])):
            p = json.loads(body)
            detail = p["detail"]
            c.check("full" in detail, "the 503 does not say the disk is full: %s" % detail)
            c.check(p["type"].endswith(":unavailable"),
                    "a full disk answered as %s: %s" % (p["type"], detail))
            log("1.5 MB submit on the full disk: 503 in %.2f s, Retry-After %s: %s" %
                (time.monotonic() - t, h.get("retry-after"), detail))

        # 2. The run whose 7.2 MB result cannot be stored: it must end (failed, with a message
        #    naming the full disk) or, if not even that fits, be retried until it can be
        #    recorded; never be left running.
        if big_rid:
            j = final_within(port, big_rid, 40)
            out["7.2 MB-result run, disk full"] = j["status"]
            if j["status"] == "failed":
                c.check("full" in json.dumps(j["error"]),
                        "the failed run's error does not name the full disk: %s" % j["error"])
                log("run with a 7.2 MB result on the full disk: failed: %s" %
                    j["error"]["detail"])
            else:
                log("run with a 7.2 MB result on the full disk: %s after 40 s" % j["status"])

        # 3. Small submits until the space left in the database's files is used up too: each
        #    is a 202 or a clean 503; reads keep working.
        n202 = n503 = 0
        for i in range(400):
            s, h, body = request(port, "POST", "/v1/runs",
                                 run_doc(model_id=small, steps=5000, seed=100 + i), timeout=60)
            if s == 202:
                n202 += 1
            elif s == 503 and is_problem(s, h, body):
                n503 += 1
                if n503 >= 5:
                    break
            else:
                c.fail("a small submit on the full disk answered %s: %s" % (s, body[:200]))
                break
        out["small submits"] = {"202": n202, "503": n503}
        c.check(n503 > 0, "400 small submits all fit on the full disk")
        s, h, body = request(port, "POST", "/v1/models", MODEL_NOISY, timeout=60)
        out["model create"] = s
        c.check(s == 202 or (s == 503 and is_problem(s, h, body)),
                "a model create on the full disk answered %s: %s" % (s, body[:200]))
        s, _ = get_json(port, "/healthz")
        out["healthz"] = s
        c.check(s == 200, "/healthz on the full disk answered %s" % s)
        s, j = get_json(port, "/v1/runs/%s" % first)
        c.check(s == 200, "GET of a run on the full disk answered %s" % s)
        time.sleep(3)
        c.check(d.alive(), "the daemon died on the full disk: %s" % d.log_tail(5))

        # 4. Space returns: the same process records or completes every run and accepts more.
        os.unlink(filler)
        log("space returned (%.1f MB free)" % (shutil.disk_usage(mnt).free / 1e6))
        if big_rid:
            j = final_within(port, big_rid, 60 * time_scale())
            c.check(j["status"] in ("failed", "succeeded"),
                    "the 7.2 MB-result run is %s %g s after space returned"
                    % (j["status"], 60 * time_scale()))
            out["7.2 MB-result run, after"] = j["status"]
        s, h, body = request(port, "POST", "/v1/runs", big_inputs, timeout=60)
        out["1.5 MB submit after"] = s
        c.check(s == 202, "the 1.5 MB submit after space returned answered %s: %s" %
                (s, body[:200]))
        s, h, body = request(port, "POST", "/v1/runs", run_doc(model_id=big, steps=3000, seed=3))
        c.check(s == 202, "the 7.2 MB-result submit after space returned answered %s" % s)
        if s == 202:
            j = wait_run(port, json.loads(body)["id"])
            c.check(j["status"] == "succeeded", "the 7.2 MB-result run after space returned "
                    "ended %s: %s" % (j["status"], j.get("error")))
            out["7.2 MB-result run submitted after"] = j["status"]
        end = time.monotonic() + 180 * time_scale()
        while time.monotonic() < end:
            _, q = get_json(port, "/v1/runs?status=queued&limit=1")
            _, r = get_json(port, "/v1/runs?status=running&limit=1")
            if not q["items"] and not r["items"]:
                break
            time.sleep(0.2)
        c.check(not q["items"] and not r["items"], "runs left queued or running: %s" %
                [x["id"] for x in q["items"] + r["items"]])
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        counts = dict(con.execute("SELECT status, count(*) FROM runs GROUP BY status"))
        con.close()
        out["runs by status"] = counts
        rc = d.stop()
        c.check(rc == 0, "eirnnd exited %s at SIGTERM" % rc)
        vrep, integrity = verify_db(c, a.verify, db)
        log("outcomes: %s" % json.dumps(out))
        log("after: integrity_check %s; store verify %s" % (integrity, vrep))
        return 0
    finally:
        if d and d.alive():
            d.kill9()
        subprocess.run(["umount", mnt], capture_output=True)


# ------------------------------------------------------------------------------------------
# Locked database
# ------------------------------------------------------------------------------------------

def part_lock(a, tmp, c):
    db = os.path.join(tmp, "eirnn.db")
    d = Daemon(a.eirnnd, db, ["--workers", "1"], log_path=os.path.join(tmp, "eirnnd.log"))
    port = d.start()
    busy_timeout = 10.0  # store_config_default()
    s, _, b = request(port, "POST", "/v1/models", MODEL_SMALL)
    small = json.loads(b)["id"]
    s, _, b = request(port, "POST", "/v1/models", MODEL_BIG)
    big = json.loads(b)["id"]
    s, _, b = request(port, "POST", "/v1/runs", run_doc(model_id=small, seed=1))
    done_rid = json.loads(b)["id"]
    wait_run(port, done_rid)
    # A run of about 3 s, which will want to store its results while the lock is held.
    s, _, b = request(port, "POST", "/v1/runs", run_doc(model_id=big, steps=30000, seed=2,
                                                        record={"vars": ["V"], "every": 10}))
    slow_rid = json.loads(b)["id"]
    end = time.monotonic() + 30 * time_scale()
    while get_json(port, "/v1/runs/%s" % slow_rid)[1]["status"] != "running":
        if time.monotonic() > end:
            raise RuntimeError("the slow run did not start")
        time.sleep(0.05)

    holder = subprocess.Popen(["sqlite3", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    holder.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n")
    holder.stdin.flush()
    line = holder.stdout.readline().strip()
    if line != "locked":
        raise RuntimeError("sqlite3 could not take the lock: %s" % line)
    t_lock = time.monotonic()
    log("sqlite3 holds BEGIN EXCLUSIVE")
    results = {}

    def timed(name, method, path, body=None):
        t = time.monotonic()
        try:
            s, h, data = request(port, method, path, body, timeout=120)
        except HttpError as e:
            s, h, data = None, {}, str(e).encode()
        results[name] = (s, h, data, time.monotonic() - t)

    # Concurrent writes (each waits its turn for the lock) and reads.
    writers = [threading.Thread(target=timed, args=("submit %d" % i, "POST", "/v1/runs",
                                                     run_doc(model_id=small, seed=10 + i)))
               for i in range(3)]
    writers.append(threading.Thread(target=timed, args=("model create", "POST", "/v1/models",
                                                        MODEL_NOISY)))
    writers.append(threading.Thread(target=timed, args=("cancel", "POST",
                                                        "/v1/runs/%s/cancel" % done_rid)))
    for t in writers:
        t.start()
    time.sleep(0.3)
    for name, path in (("GET run", "/v1/runs/%s" % done_rid), ("GET list", "/v1/runs?limit=5"),
                       ("GET results", "/v1/runs/%s/results/V" % done_rid),
                       ("GET healthz", "/healthz")):
        timed(name, "GET", path)
    for t in writers:
        t.join()
    held = time.monotonic() - t_lock
    for name in sorted(results):
        s, h, data, took = results[name]
        log("  %-14s %s in %5.2f s%s" % (name, s, took,
                                         ", Retry-After %s" % h["retry-after"]
                                         if "retry-after" in h else ""))
        if name.startswith("GET"):
            # Reads need no lock (WAL), but one may wait on an HTTP thread busy with a write.
            c.check(s == 200 and took <= busy_timeout + 3.0 * time_scale(),
                    "%s while locked: %s in %.2f s" % (name, s, took))
        elif name == "cancel":
            # A finished run: the 409 needs no write lock (the UPDATE matches no row), or 503.
            c.check(s in (409, 503), "cancel while locked: %s" % s)
        else:
            c.check(s == 503 and is_problem(s, h, data),
                    "%s while locked: %s %s" % (name, s, data[:200]))
            c.check(took <= busy_timeout + 3.0 * time_scale(),
                    "%s while locked took %.1f s, more than the busy timeout (%g s) + %g s"
                    % (name, took, busy_timeout, 3.0 * time_scale()))
            if s == 503:
                c.check("busy" in json.loads(data)["detail"],
                        "the 503 does not say the database is busy: %s" % data[:200])
    c.check(d.alive(), "the daemon died while the database was locked")
    # A second wave, once a wait gave up on the lock: writes only probe it and fail fast.
    wave = []
    for i in range(3):
        t = time.monotonic()
        s, h, data = request(port, "POST", "/v1/runs", run_doc(model_id=small, seed=50 + i),
                             timeout=60)
        wave.append((s, time.monotonic() - t))
        c.check(s == 503 and is_problem(s, h, data), "a later submit while locked: %s" % s)
    log("  later submits while locked: %s" % ", ".join("%s in %.2f s" % w for w in wave))
    c.check(max(w[1] for w in wave) < 2.0 * time_scale(), "later submits while locked waited %.1f s" %
            max(w[1] for w in wave))
    while time.monotonic() - t_lock < 15:
        time.sleep(0.1)
    holder.stdin.write("ROLLBACK;\n.quit\n")
    holder.stdin.flush()
    holder.wait(10)
    held = time.monotonic() - t_lock
    log("lock released after %.1f s" % held)

    t = time.monotonic()
    s, h, b = request(port, "POST", "/v1/runs", run_doc(model_id=small, seed=99))
    took = time.monotonic() - t
    c.check(s == 202, "a submit after the release answered %s: %s" % (s, b[:200]))
    log("submit after the release: %s in %.2f s" % (s, took))
    if s == 202:
        j = wait_run(port, json.loads(b)["id"])
        c.check(j["status"] == "succeeded", "the run after the release ended %s" % j["status"])
    j = wait_run(port, slow_rid, 180)
    c.check(j["status"] == "succeeded",
            "the run that finished during the lock ended %s: %s" % (j["status"], j.get("error")))
    log("the run that was finishing during the lock: %s (attempt %s)" %
        (j["status"], j["attempts"]))
    errs = d.events("worker_error")
    log("worker_error lines while locked: %d" % len(errs))
    rc = d.stop()
    c.check(rc == 0, "eirnnd exited %s at SIGTERM" % rc)
    vrep, integrity = verify_db(c, a.verify, db)
    log("after: integrity_check %s; store verify %s" % (integrity, vrep))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["alloc", "disk", "lock"])
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--verify", required=True, help="the eirnn-store-verify binary")
    ap.add_argument("--shim", default="", help="libeirnn_faultalloc.so")
    ap.add_argument("--sanitized", action="store_true", help="the daemon is a sanitizer build")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--max-k", type=int, default=5000,
                    help="most allocations failed in one request's sweep")
    ap.add_argument("--random-seconds", type=float, default=10.0,
                    help="length of the random-failure phase")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "little")
    log("%s: seed %d" % (a.part, a.seed))
    tmp = tempfile.mkdtemp(prefix="eirnn-faults-")
    c = Checks()
    rc = 1
    try:
        rc = {"alloc": part_alloc, "disk": part_disk, "lock": part_lock}[a.part](a, tmp, c)
    except Exception as e:  # noqa: BLE001 - report and fail
        c.fail("%s: %s" % (type(e).__name__, e))
    if rc == SKIP:
        shutil.rmtree(tmp, ignore_errors=True)
        return SKIP
    ok = rc == 0 and not c.errors
    log("%s: %s%s" % (a.part, "PASS" if ok else "FAIL",
                      "" if ok else " (%d errors, first: %s)" % (len(c.errors), c.errors[0]
                                                                  if c.errors else "-")))
    if ok and not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        log("kept %s" % tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
