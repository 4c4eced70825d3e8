#!/usr/bin/env python3
"""security/busy_thread: the slow-client watchdog blames clients only for their own time
(issue 10, item 4).

    busy_thread.py --eirnnd PATH

Starts eirnnd with --http-threads 1 --connection-timeout 1. A keep-alive client X makes a
request, then, while the only HTTP thread is busy with a slow but legal request of another
client (a model given as an explicit 2400 x 2400 W in nested lists, 46 MB: parsed, checked,
built and stored on the HTTP thread, about 2 s here; a generated model no longer occupies it,
as workers build those since issue 10, item 2), sends its next request: the
bytes wait in the socket because the thread is busy, not because X is slow, so X must be
answered (200) once the thread is free, and no "slow_client" line may be logged. Before the fix
the watchdog shut X's connection after 1 s of the server's delay. A client that sends nothing
must still be closed after about --connection-timeout (the watchdog still works). The build's
duration is printed: when it is under 1.5 s (a fast machine) the first check cannot fail, and
the test says so. Exit 0 when all hold.
"""
import argparse
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, http, parse_response, time_scale, verdict  # noqa: E402


def read_response(s, timeout):
    """One response from socket s, or None when the daemon closed it first (or timeout)."""
    buf, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got = s.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return None
        if not got:
            return None
        buf += got
        r = parse_response(buf)
        if r is not None:
            return r
    return None


GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    # An explicit model's work on the HTTP thread is linear in its body, but 46 MB of nested
    # lists still take seconds to parse, check, build and store.
    n = 2400
    row = "[" + ",".join(["0.00123"] * n) + "]"
    body = ('{"class": "rnn", "populations": {"E": %d, "I": 0}, "activation": {"name": "tanh"}, '
            '"leak": 1.0, "recurrent": {"W": [%s]}}' % (n, ",".join([row] * n)))
    bad = []
    d = Daemon(a.eirnnd, ["--workers", "0", "--http-threads", "1", "--connection-timeout", "1"])
    try:
        x = socket.create_connection(("127.0.0.1", d.port))
        x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        x.sendall(GET)
        r = read_response(x, 5 * time_scale())
        if not r or r.status != 200:
            bad.append("X's first request: %s" % (r and r.status))
        built = {}

        def build():
            t0 = time.monotonic()
            resp = http(d.port, "POST", "/v1/models", body, timeout=300)
            built["status"], built["secs"] = resp.status, time.monotonic() - t0

        th = threading.Thread(target=build)
        th.start()
        time.sleep(0.3)  # the request is under way on the only HTTP thread
        x.sendall(GET)
        t0 = time.monotonic()
        r = read_response(x, 300 * time_scale())
        waited = time.monotonic() - t0
        th.join()
        x.close()
        print("build: %s in %.2f s; X's request waited %.2f s: %s"
              % (built.get("status"), built.get("secs", 0), waited,
                 r.status if r else "connection closed"))
        if built.get("status") != 201:
            bad.append("the model build answered %s" % built.get("status"))
        if not r or r.status != 200:
            bad.append("X's request, held up by the busy thread, got %s after %.2f s"
                       % (r.status if r else "no answer (closed)", waited))
        if built.get("secs", 0) < 1.5:
            print("note: the build took under 1.5 s: this machine cannot show the defect")
        time.sleep(0.2)
        blamed = [ln for ln in d.log if '"slow_client"' in ln]
        if blamed:
            bad.append("slow_client logged: %s" % blamed[0].strip())
        # The watchdog still closes a client that sends nothing (idle thread).
        y = socket.create_connection(("127.0.0.1", d.port))
        y.sendall(b"GET /healthz HTTP/1.1\r\n")  # headers never finished
        t0 = time.monotonic()
        r = read_response(y, 10 * time_scale())
        secs = time.monotonic() - t0
        y.close()
        print("a client that stops mid-headers: closed after %.2f s" % secs)
        if r is not None or secs > 5 * time_scale():
            bad.append("a client that stopped mid-headers: %s after %.2f s, expected a close "
                       "after about 1 s" % (r and r.status, secs))
    finally:
        d.stop_checked(bad)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
