#!/usr/bin/env python3
"""security/smuggling: a request whose body's end is ambiguous is refused and its connection
closed, so that what follows it is never read as a second request (RFC 9112 6.3).

    smuggling.py --eirnnd PATH

Each case sends, on one connection, a POST whose framing headers disagree (Content-Length with
Transfer-Encoding, two Transfer-Encodings, two Content-Lengths next to a Transfer-Encoding, a
coding other than "chunked") followed by a smuggled "GET /healthz". The daemon must answer one
400 application/problem+json naming the header ("parameter") with "Connection: close", then
close the connection well before --connection-timeout (60 s here), and never answer the smuggled
request. A control case (plain chunked, then the same GET) must get both answers on the open
connection, so the test tells the two behaviours apart. Exit 0 when all hold.
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
from eirnnd_http import Daemon, parse_response, time_scale, verdict  # noqa: E402

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = b"2\r\n{}\r\n0\r\n\r\n"


def converse(port, data, wait):
    """Send data on a new connection; read until the daemon closes it or @p wait seconds pass.
    Returns (bytes read, closed by the daemon)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    s.sendall(data)
    buf, closed, deadline = b"", False, time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                got = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                got = b""
            if not got:
                closed = True
                break
            buf += got
    finally:
        s.close()
    return buf, closed


def responses(buf):
    """The complete responses at the start of buf."""
    out = []
    while buf:
        r = parse_response(buf)
        if r is None:
            break
        out.append(r)
        start = buf.find(b"\r\n\r\n") + 4
        buf = buf[start + len(r.body):]
    return out


CASES = [
    ("Content-Length and Transfer-Encoding: chunked", "Transfer-Encoding",
     b"Content-Length: 100\r\nTransfer-Encoding: chunked\r\n"),
    ("Transfer-Encoding: chunked then Content-Length", "Transfer-Encoding",
     b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
    ("two Transfer-Encoding: chunked", "Transfer-Encoding",
     b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
    ("two Transfer-Encodings, chunked and identity", "Transfer-Encoding",
     b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n"),
    ("disagreeing Content-Lengths next to Transfer-Encoding", "Transfer-Encoding",
     b"Content-Length: 2\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n"),
    ("Transfer-Encoding: gzip, chunked", "Transfer-Encoding",
     b"Transfer-Encoding: gzip, chunked\r\n"),
    ("Transfer-Encoding: xchunked", "Transfer-Encoding", b"Transfer-Encoding: xchunked\r\n"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    bad = []
    d = Daemon(a.eirnnd, ["--workers", "0", "--connection-timeout", "60"])
    wait = 10 * time_scale()
    try:
        # Control: well-framed chunked request, then a pipelined GET: two answers, kept open.
        buf, closed = converse(d.port, b"POST /v1/models HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n" + BODY + SMUGGLED, 2)
        got = [r.status for r in responses(buf)]
        if got != [422, 200] or closed:
            bad.append("control: answers %s, closed %s; expected [422, 200] on an open "
                       "connection" % (got, closed))
        for name, header, framing in CASES:
            t0 = time.monotonic()
            buf, closed = converse(d.port, b"POST /v1/models HTTP/1.1\r\nHost: x\r\n" + framing
                                   + b"\r\n" + BODY + SMUGGLED, wait)
            secs = time.monotonic() - t0
            rs = responses(buf)
            if not rs:
                bad.append("%s: no answer (%r)" % (name, buf[:200]))
                continue
            r = rs[0]
            problem = {}
            try:
                problem = json.loads(r.body)
            except ValueError:
                pass
            if (r.status != 400 or r.header("Content-Type") != "application/problem+json"
                    or problem.get("parameter") != header):
                bad.append("%s: %s %s %r; expected 400 problem+json naming %s"
                           % (name, r.status, r.header("Content-Type"), r.body[:200], header))
            if (r.header("Connection") or "").lower() != "close":
                bad.append("%s: no 'Connection: close' in the answer" % name)
            if len(rs) > 1:
                bad.append("%s: the smuggled request was answered (%s)"
                           % (name, [x.status for x in rs[1:]]))
            if not closed:
                bad.append("%s: the connection stayed open for %.1f s" % (name, secs))
            print("%-55s %s closed=%s %.2f s" % (name, r.status, closed, secs))
    finally:
        d.stop_checked(bad)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
