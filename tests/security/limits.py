#!/usr/bin/env python3
"""security/limits: the daemon's limits are enforced before the memory is spent.

    limits.py --eirnnd PATH

Starts eirnnd with its default limits except --workers 0, --queue-limit 3, --max-body-bytes
16M and --max-neurons 4096 (whose default follows the memory), then sends
requests that claim far more than the limits allow, each cheap to send: a 60 GB Content-Length,
a chunked body that runs past --max-body-bytes, models of 10^9 neurons (counts, a generate
recipe, a binary W whose shape claims 10^10 x 10^10 values), runs whose recorded values, inputs
or steps are beyond the limits, and a fourth run for a queue of three. Every one must be refused
(413, 422 or 503 with Retry-After) within a second, and the daemon's peak resident memory (VmHWM) may
grow by at most 4 MiB over all the claims; the chunked body, which cannot be refused from its
headers, may cost at most the body limit (16 MiB here) plus 8 MiB: past the limit it is counted,
not kept. Exit 0 when all hold.
"""
import argparse
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, exchange, http, rss_kb, time_scale  # noqa: E402

MAX_CLAIMS_KB = 4 * 1024          # peak RSS growth allowed for all the claims
MAX_CHUNKED_KB = (16 + 8) * 1024  # ... and for the chunked body (limit 16 MiB)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    with open(os.path.join(ROOT, "schema/examples/requests/model_gated_explicit.json")) as f:
        model_doc = f.read()
    bad, rows = [], []
    # --max-neurons 4096: the default follows the machine's memory (OPERATIONS.md)
    d = Daemon(a.eirnnd, ["--workers", "0", "--queue-limit", "3", "--max-body-bytes", "16M",
                          "--max-neurons", "4096"])
    try:
        mid = json.loads(http(d.port, "POST", "/v1/models", model_doc).body)["id"]
        pid = d.proc.pid
        hwm0, rss0 = rss_kb(pid, "VmHWM"), rss_kb(pid)

        def check(name, resp_status, secs, want, extra=""):
            rows.append((name, resp_status, secs))
            if resp_status not in want:
                bad.append("%s: %s, expected %s %s" % (name, resp_status, want, extra))
            if secs > 1.0 * time_scale():
                bad.append("%s: took %.2f s" % (name, secs))

        def send(name, method, path, body, want, headers=()):
            t0 = time.monotonic()
            r = http(d.port, method, path, body, headers)
            check(name, r.status, time.monotonic() - t0, want, r.body[:200])
            return r

        # a body claimed far over --max-body-bytes: refused from its headers
        t0 = time.monotonic()
        r, _, _, err = exchange(d.port, b"POST /v1/models HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: 60000000000\r\n\r\n{", 5 * time_scale())
        check("Content-Length of 60 GB", r.status if r else err, time.monotonic() - t0, [413])
        send("model of 10^9 neurons", "POST", "/v1/models",
             json.dumps({"populations": {"E": 900000000, "I": 100000000}, "leak": 1,
                         "recurrent": {"W": [[0]], "A": 1}}), [422])
        send("generated model of 10^9 neurons", "POST", "/v1/models",
             json.dumps({"populations": {"E": 900000000, "I": 100000000}, "leak": 1,
                         "recurrent": {"generate": {"seed": 1, "p": 0.5, "dist": "constant",
                                                    "mean": 0.1}, "A": 1}}), [422])
        send("generated model of N = 4097 (limit 4096)", "POST", "/v1/models",
             json.dumps({"populations": {"E": 4000, "I": 97}, "leak": 1,
                         "recurrent": {"generate": {"seed": 1, "p": 0.5, "dist": "constant",
                                                    "mean": 0.1}, "A": 1}}), [422])
        send("binary W claiming 10^10 x 10^10", "POST", "/v1/models",
             json.dumps({"populations": {"E": 4, "I": 2}, "leak": 1,
                         "recurrent": {"W": {"dtype": "float64", "shape": [10 ** 10, 10 ** 10],
                                             "base64": "AAAAAAAAAAA="}, "A": 1}}), [422])
        send("inline model of 10^9 neurons in a run", "POST", "/v1/runs",
             json.dumps({"model": {"populations": {"E": 10 ** 9, "I": 1}, "leak": 1,
                                   "recurrent": {"W": [[0]], "A": 1}},
                         "dt": 0.1, "inputs": {"steps": 1, "trials": 1}}), [422])
        send("run recording 4096 x 10^7 x 6 x 4 values", "POST", "/v1/runs",
             json.dumps({"model_id": mid, "dt": 0.1, "inputs": {"steps": 10000000, "trials": 4096},
                         "record": {"vars": ["V", "r", "z", "y"]}}), [422])
        send("run of 10^12 steps", "POST", "/v1/runs",
             json.dumps({"model_id": mid, "dt": 0.1, "inputs": {"steps": 10 ** 12, "trials": 1}}),
             [422])
        send("run inputs claiming [4096, 10^7, 2]", "POST", "/v1/runs",
             json.dumps({"model_id": mid, "dt": 0.1,
                         "inputs": {"dtype": "float32", "shape": [4096, 10 ** 7, 2],
                                    "base64": "AAAAAA=="}}), [422])
        hwm_claims = rss_kb(pid, "VmHWM")
        # a chunked body that runs past the limit: counted, not kept
        s = socket.create_connection(("127.0.0.1", d.port))
        t0 = time.monotonic()
        s.sendall(b"POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
        got = b""
        try:
            for _ in range(40):  # 40 MiB: over 16 MiB, under 4 limits + 1 MiB
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
            s.settimeout(10 * time_scale())
            while b"\r\n\r\n" not in got:
                more = s.recv(65536)
                if not more:
                    break
                got += more
        except OSError:
            pass
        s.close()
        st = int(got.split(b" ")[1]) if got.startswith(b"HTTP/1.1 ") else None
        rows.append(("chunked body of 40 MiB (limit 16 MiB)", st, time.monotonic() - t0))
        if st != 413:
            bad.append("chunked body over the limit: %r" % got[:100])

        hwm_chunked = rss_kb(pid, "VmHWM")
        small = json.dumps({"model_id": mid, "dt": 0.1, "inputs": {"steps": 10, "trials": 1}})
        for i in range(3):
            send("queued run %d of 3" % (i + 1), "POST", "/v1/runs", small, [202])
        r = send("a fourth run for a queue of 3", "POST", "/v1/runs", small, [503])
        if r.status == 503:
            ra = r.header("Retry-After")
            if not ra or not ra.isdigit() or int(ra) < 1:
                bad.append("503 queue-full without a Retry-After: %r" % ra)
            if json.loads(r.body).get("type") != "urn:eirnn:problem:queue-full":
                bad.append("503 is not queue-full: %r" % r.body[:200])
        n = len(json.loads(http(d.port, "GET", "/v1/runs?status=queued").body)["items"])
        if n != 3:
            bad.append("%d runs queued, expected 3 (the refused one must not be stored)" % n)
        hwm1, rss1 = rss_kb(pid, "VmHWM"), rss_kb(pid)
        if http(d.port, "GET", "/healthz").status != 200:
            bad.append("/healthz after the limits")
    finally:
        rc = d.stop()
    if rc != 0:
        bad.append("eirnnd exited %s at SIGTERM" % rc)
    for name, st, secs in rows:
        print("  %-45s %-5s %.3f s" % (name, st, secs))
    g1, g2 = hwm_claims - hwm0, hwm_chunked - hwm_claims
    with open(a.eirnnd, "rb") as f:
        binary = f.read()
    sanitized = b"__asan_init" in binary or b"__tsan_init" in binary
    if sanitized:  # shadow memory (and ASan's quarantine) make RSS figures meaningless
        print("security/limits: sanitizer build: memory figures not checked")
    elif g1 > MAX_CLAIMS_KB:
        bad.append("peak RSS grew by %d kB over the claims (allowed %d kB)" % (g1, MAX_CLAIMS_KB))
    if not sanitized and g2 > MAX_CHUNKED_KB:
        bad.append("peak RSS grew by %d kB for the chunked body (allowed %d kB)" % (g2, MAX_CHUNKED_KB))
    print("security/limits: %d requests answered as expected; peak RSS (VmHWM) %d kB at the start, "
          "+%d kB after the claims, +%d kB after the chunked body (limit 16 MiB), final RSS %d kB; "
          "%d failures" % (len(rows), hwm0, g1, g2, rss1, len(bad)))
    for b in bad:
        print("security/limits: FAIL: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
