#!/usr/bin/env python3
"""Slow clients against a running eirnnd (used by tests/load/load.sh).

    slow_clients.py --port PORT --run-id RUN_ID --timeout SECONDS [--headers 100] [--bodies 100]

Opens --headers connections that trickle a request's headers and --bodies connections that send
their headers and then trickle a body (one byte every --interval seconds each: never idle, so an
idle timeout alone would never close them). While they are open, a normal client measures the
latency of ordinary requests (GET /healthz, a run's status, a small result download), compared
with a baseline taken before. Checks: every slow connection is closed by the daemon within
--timeout (the daemon's --connection-timeout) plus a margin, no normal request fails, and the
normal latency stays low. Prints one JSON line "SLOWSTATS {...}"; exit status 1 on a failed check.
Python standard library only.
"""
import argparse
import http.client
import json
import select
import socket
import sys
import threading
import time


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def probe(port, run_id, seconds, lat, failures):
    """Ordinary requests, one after the other on a keep-alive connection, for `seconds`."""
    paths = ["/healthz", "/v1/runs/%s" % run_id, "/v1/runs/%s/results/V?format=json&steps=0:5" % run_id]
    conn = None
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        path = paths[i % len(paths)]
        i += 1
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                failures.append("%s: %d" % (path, r.status))
        except (OSError, http.client.HTTPException) as e:
            failures.append("%s: %s" % (path, e))
            conn = None
            continue
        lat.append(time.monotonic() - t0)
        time.sleep(0.01)
    if conn:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--timeout", type=float, required=True, help="the daemon's --connection-timeout")
    ap.add_argument("--headers", type=int, default=100)
    ap.add_argument("--bodies", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--margin", type=float, default=3.0)
    ap.add_argument("--max-p99-ms", type=float, default=500.0)
    a = ap.parse_args()

    base_lat, base_fail = [], []
    probe(a.port, a.run_id, 2.0, base_lat, base_fail)

    slow = []  # [socket, kind, opened_at, closed_at or None, bytes sent]
    t_open = time.monotonic()
    for i in range(a.headers + a.bodies):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        s.setblocking(False)
        if i < a.headers:
            s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append([s, "headers", time.monotonic(), None, 0])
        else:
            s.send(b"POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            slow.append([s, "body", time.monotonic(), None, 0])
    stop = threading.Event()

    def trickle():
        filler = b"X-Slow-Header-Trickle: abcdefghijklmnopqrstuvwxyz\r\n"
        while not stop.is_set():
            open_ = [x for x in slow if x[3] is None]
            if not open_:
                return
            r, _, _ = select.select([x[0] for x in open_], [], [], 0)
            readable = set(r)
            now = time.monotonic()
            for x in open_:
                s = x[0]
                closed = False
                if s in readable:
                    try:
                        closed = s.recv(65536) == b""  # an answer to a trickled request is fine
                    except OSError:
                        closed = True
                if not closed:
                    try:
                        b = filler[x[4] % len(filler):x[4] % len(filler) + 1] if x[1] == "headers" else b" "
                        s.send(b)
                        x[4] += 1
                    except OSError:
                        closed = True
                if closed:
                    x[3] = now
                    s.close()
            stop.wait(a.interval)

    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    during_lat, during_fail = [], []
    probe(a.port, a.run_id, max(1.0, a.timeout - 1.0 - (time.monotonic() - t_open)), during_lat,
          during_fail)
    open_during = sum(1 for x in slow if x[3] is None)
    deadline = t_open + a.timeout + a.margin + 2
    while time.monotonic() < deadline and any(x[3] is None for x in slow):
        time.sleep(0.1)
    stop.set()
    th.join(5)
    still_open = [x for x in slow if x[3] is None]
    for x in still_open:
        x[0].close()
    lifetimes = sorted(x[3] - x[2] for x in slow if x[3] is not None)
    late = [t for t in lifetimes if t > a.timeout + a.margin]
    stats = {
        "slow_connections": len(slow),
        "open_while_probing": open_during,
        "closed_by_daemon": len(lifetimes),
        "still_open": len(still_open),
        "closed_after_s_min": round(lifetimes[0], 2) if lifetimes else None,
        "closed_after_s_median": round(pct(lifetimes, 50), 2) if lifetimes else None,
        "closed_after_s_max": round(lifetimes[-1], 2) if lifetimes else None,
        "bytes_trickled": sum(x[4] for x in slow),
        "normal_requests_baseline": len(base_lat),
        "normal_p50_ms_baseline": round(pct(base_lat, 50) * 1e3, 2),
        "normal_p99_ms_baseline": round(pct(base_lat, 99) * 1e3, 2),
        "normal_requests_during": len(during_lat),
        "normal_p50_ms_during": round(pct(during_lat, 50) * 1e3, 2),
        "normal_p99_ms_during": round(pct(during_lat, 99) * 1e3, 2),
        "normal_max_ms_during": round(max(during_lat) * 1e3, 2) if during_lat else None,
        "normal_failures": len(base_fail) + len(during_fail),
    }
    print("SLOWSTATS " + json.dumps(stats))
    bad = []
    if still_open:
        bad.append("%d slow connections were never closed" % len(still_open))
    if late:
        bad.append("%d slow connections lived longer than %.1f s" % (len(late), a.timeout + a.margin))
    if open_during < len(slow) * 0.9:
        bad.append("only %d of %d slow connections were open while probing" % (open_during, len(slow)))
    if base_fail or during_fail:
        bad.append("normal requests failed: %s" % (base_fail + during_fail)[:5])
    if not during_lat:
        bad.append("no normal request completed while the slow clients were connected")
    elif stats["normal_p99_ms_during"] > a.max_p99_ms:
        bad.append("normal p99 latency %.1f ms > %.0f ms" % (stats["normal_p99_ms_during"], a.max_p99_ms))
    for b in bad:
        print("slow_clients: FAIL: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
