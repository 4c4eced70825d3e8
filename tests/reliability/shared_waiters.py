#!/usr/bin/env python3
"""Measure the store watcher (server/waiters_watch.c) of a daemon sharing its database with
another: the wake latency of a long poll on the HTTP-only daemon H (--workers 0) for a run ended
through the other daemon, and H's CPU time with 1,000 idle long polls, with the database idle
and while the other daemon simulates (a progress write every 0.5 s). A measurement, not a test
(docs/RELIABILITY.md, "Long polls across daemons"): it prints the figures and fails only when a
poll is not woken at all.

    python3 tests/reliability/shared_waiters.py --eirnnd build/server/eirnnd [--waiters 1000]
"""
import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eirnnd_proc import MODEL_BIG, Daemon, get_json, request  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, tid=None):
    """User + system CPU seconds of process @p pid (or of its thread @p tid) so far."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def watcher_tid(pid):
    """The thread id of the store watcher ("eirnnd-watch") of process @p pid."""
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == "eirnnd-watch":
                return int(tid)
    raise RuntimeError("no eirnnd-watch thread in process %d" % pid)


def cpu_share(d, seconds):
    """CPU of daemon @p d and of its store watcher over @p seconds, as percentages of a core."""
    pid = d.proc.pid
    tid = watcher_tid(pid)
    c0, w0, t0 = cpu_seconds(pid), cpu_seconds(pid, tid), time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return "%.2f %% of a core (the watcher thread: %.2f %%)" % (
        100 * (cpu_seconds(pid) - c0) / dt, 100 * (cpu_seconds(pid, tid) - w0) / dt)


def long_polls(d):
    st, _, body = request(d.port, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("eirnn_http_long_polls "):
            return int(float(line.split()[1]))
    raise RuntimeError("no eirnn_http_long_polls in /metrics")


def wait_long_polls(d, n, timeout=60):
    end = time.monotonic() + timeout
    while long_polls(d) != n:
        if time.monotonic() > end:
            raise RuntimeError("%d long polls expected, %d seen" % (n, long_polls(d)))
        time.sleep(0.05)


def open_poll(port, run_id, wait):
    """A raw long poll on its own connection (the answer is read later)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /v1/runs/%s?wait=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (run_id, wait)).encode())
    return s


def read_answer(s, timeout):
    """Bytes of the answer's head and when they came (None on timeout)."""
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return None, None
    return data, time.monotonic()


def submit(d, model_id, steps):
    doc = {"model_id": model_id, "dt": 0.1, "inputs": {"steps": steps, "trials": 1},
           "record": {"vars": ["V"], "every": min(steps, 1000000)}}
    st, _, body = request(d.port, "POST", "/v1/runs", doc)
    assert st == 202, body
    return json.loads(body)["id"]


def probe(h, other, model_id, wait, n):
    """@p n times: a queued run, a long poll on @p h, a cancel through @p other; the delays from
    the cancel's answer to the poll's answer (seconds)."""
    out = []
    for _ in range(n):
        rid = submit(h, model_id, 10)
        before = long_polls(h)
        s = open_poll(h.port, rid, wait)
        wait_long_polls(h, before + 1)
        # The run ends a while after the poll began (at a random phase of the watcher's polls),
        # not within the 50 ms after the look that the poll's own submission caused.
        time.sleep(random.uniform(0.1, 0.3))
        st, _, body = request(other.port, "POST", "/v1/runs/%s/cancel" % rid)
        t = time.monotonic()
        assert st == 200, body
        data, at = read_answer(s, wait)
        s.close()
        if data is None or b"cancelled" not in data:
            raise SystemExit("the long poll of %s was not woken (%r)" % (rid, data))
        out.append(at - t)
    return out


def fmt(lat):
    lat = sorted(lat)
    return "median %.0f ms, max %.0f ms (%d probes)" % (
        1000 * statistics.median(lat), 1000 * lat[-1], len(lat))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--waiters", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0, help="each CPU measurement")
    ap.add_argument("--probes", type=int, default=20)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.waiters + 256)), hard))
    tmp = tempfile.mkdtemp(prefix="eir_shared_")
    db = os.path.join(tmp, "eirnn.db")
    wait = 900
    common = ["--long-poll-max", str(wait), "--max-connections", str(a.waiters + 64)]
    h = Daemon(a.eirnnd, db, ["--workers", "0"] + common)
    s = Daemon(a.eirnnd, db, ["--workers", "1", "--shutdown-grace", "1"] + common)
    polls = []
    try:
        h.start()
        st, _, body = request(h.port, "POST", "/v1/models", MODEL_BIG)
        assert st == 201, body
        mid = json.loads(body)["id"]
        print("H alone, database idle, no long poll: %s" % cpu_share(h, a.seconds))
        # A run of some 15 minutes that S keeps running: the idle waiters wait for it.
        r0 = submit(h, mid, 10000000)
        s.start()
        for _ in range(600):
            if get_json(h.port, "/v1/runs/" + r0)[1]["status"] == "running":
                break
            time.sleep(0.05)
        print("H: HTTP only; S: one worker, simulating (a progress write every 0.5 s)")
        print("H's CPU, no long poll: %s" % cpu_share(h, a.seconds))
        for _ in range(a.waiters):
            polls.append(open_poll(h.port, r0, wait))
        wait_long_polls(h, a.waiters)
        print("H's CPU, %d long polls: %s" % (a.waiters, cpu_share(h, a.seconds)))
        print("wake latency on H, cancel through S, %d idle long polls beside: %s" % (
            a.waiters, fmt(probe(h, s, mid, wait, a.probes))))
        # S stops: its run goes back to the queue and the database is idle from then on.
        s.stop()
        s.args = ["--workers", "0"] + common
        s.start()
        time.sleep(1.0)
        print("database idle (S with --workers 0):")
        print("H's CPU, %d long polls: %s" % (a.waiters, cpu_share(h, a.seconds)))
        print("wake latency on H, cancel through S, %d idle long polls beside: %s" % (
            a.waiters, fmt(probe(h, s, mid, wait, a.probes))))
    finally:
        for p in polls:
            p.close()
        s.stop()
        h.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
