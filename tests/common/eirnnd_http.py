"""Shared by the Python daemon tests (tests/bad_inputs, tests/security, tests/load): start eirnnd
on 127.0.0.1 port 0 with a temporary database, and a raw HTTP/1.1 client over sockets (so that
malformed requests can be sent and every byte of the answer seen). Standard library only.

The temporary database is an SQLite file in the daemon's directory, or with EIRNN_TEST_STORE=pg
(ctest's api/pg/<name>, cli/pg/<name>) a fresh database of the tests' PostgreSQL cluster
(pgtest.py), dropped when the daemon is stopped unless kept (kept_db())."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pgtest


def time_scale():
    """EIRNN_TEST_TIME_SCALE (default 1): the factor of the tests' waits, deadlines and upper
    time bounds, set by scripts/sanitize.sh for the slow sanitizer runs (lower bounds are never
    scaled). Anything but a positive number stops the test."""
    v = os.environ.get("EIRNN_TEST_TIME_SCALE", "")
    if not v:
        return 1.0
    try:
        f = float(v)
    except ValueError:
        f = 0.0
    if not 0 < f < float("inf"):
        raise SystemExit("EIRNN_TEST_TIME_SCALE=%s: not a positive number" % v)
    return f


def rss_kb(pid, field="VmRSS"):
    """A memory figure of /proc/PID/status in kB (VmRSS, VmHWM, RssAnon, ...)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


class Daemon:
    """eirnnd on 127.0.0.1 port 0. Its database (self.db): the --db of @p extra when given (the
    caller's, left alone), else a new one of its own (pgtest.daemon_db(): a file in self.dir, or
    a PostgreSQL database dropped by stop() and kill() unless kept_db() kept it)."""

    def __init__(self, binary, extra=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="eirnn-py-")
        extra = list(extra)
        if "--db" in extra[:-1]:
            self.db, self.own_db = extra[extra.index("--db") + 1], None
            db_args = []
        else:
            self.db = self.own_db = pgtest.daemon_db(self.dir)
            db_args = ["--db", self.db]
        self.log = []
        e = dict(os.environ)
        e.setdefault("OPENBLAS_NUM_THREADS", "1")
        for k in list(e):
            if k.startswith("EIRNN_"):
                del e[k]
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0"] + db_args + extra, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e)
        self.port = None
        ready = threading.Event()

        def reader():
            for line in self.proc.stderr:
                text = line.decode("utf-8", "replace")
                self.log.append(text)
                if self.port is None and '"listening"' in text:
                    try:
                        self.port = json.loads(text)["port"]
                    except (ValueError, KeyError):
                        pass
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=reader, daemon=True)
        self.reader.start()
        ready.wait(30 * time_scale())
        if self.port is None:
            self.kill()
            raise RuntimeError("eirnnd did not start:\n" + "".join(self.log))

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after @p timeout seconds (scaled); the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * time_scale())
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(5)
        self._remove()
        return rc

    def _remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.own_db:
            pgtest.drop(self.own_db)
            self.own_db = None

    def stop_checked(self, bad):
        """stop(), noting in @p bad a daemon that died before it or did not exit with 0."""
        if not self.alive():
            bad.append("eirnnd died")
        rc = self.stop()
        if rc != 0:
            bad.append("eirnnd exited with %s" % rc)

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._remove()


def kept_db(d, keep):
    """The database of the stopped (or killed) daemon @p d, kept for daemons started after it
    with ["--db", kept_db(d, keep)]: on SQLite its directory copied to @p keep (its file there),
    on PostgreSQL its database, which d's stop()/kill() then leave (drop_kept() removes both)."""
    if pgtest.wanted() and d.own_db:
        d.own_db = None
        return d.db
    shutil.copytree(d.dir, keep)
    return os.path.join(keep, os.path.basename(d.db))


def drop_kept(db, keep):
    """Remove what kept_db() kept: the directory @p keep, and the PostgreSQL database @p db."""
    shutil.rmtree(keep, ignore_errors=True)
    if db:
        pgtest.drop(db)


def verdict(bad):
    """Print each failure of @p bad as "FAIL ..."; the test's exit status (1 when any)."""
    for b in bad:
        print("FAIL", b)
    return 1 if bad else 0


# ---- a raw HTTP/1.1 client ----------------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def parse_response(buf, head_only=False):
    """A complete response at the start of buf (1xx skipped) -> Response, or None if incomplete."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = buf[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/\d\.\d (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise ValueError("bad status line %r" % lines[0])
        status = int(m.group(1))
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
        rest = buf[end + 4:]
        if 100 <= status < 200:
            buf = rest
            continue
        r = Response(status, m.group(2) or "", headers, b"")
        if head_only or status in (204, 304):
            return r
        te = (r.header("Transfer-Encoding") or "").lower()
        cl = r.header("Content-Length")
        if "chunked" in te:
            body, p = b"", 0
            while True:
                e = rest.find(b"\r\n", p)
                if e < 0:
                    return None
                size = int(rest[p:e].split(b";")[0], 16)
                if size == 0:
                    r.body = body
                    return r
                if len(rest) < e + 2 + size + 2:
                    return None
                body += rest[e + 2:e + 2 + size]
                p = e + 2 + size + 2
        if cl is not None:
            n = int(cl)
            if len(rest) < n:
                return None
            r.body = rest[:n]
            return r
        return None  # body until close: complete only at EOF


def exchange(port, data, timeout, after_send=None, head=False, chunks=None):
    """Send data (bytes, or a list of pieces with chunks) and read one response.
    Returns (Response or None, closed_without_answer, seconds, error)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    send_err = []

    def sender():
        try:
            s.sendall(data)
            if after_send == "shutdown":
                s.shutdown(socket.SHUT_WR)
        except OSError as e:  # the daemon may answer (413) and hang up before the body is sent
            send_err.append(e)

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    buf = b""
    resp, err = None, None
    deadline = t0 + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                err = "timeout"
                break
            s.settimeout(left)
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                got = b""
            if not got:
                if buf:
                    try:
                        resp = parse_response(buf, head)
                        if resp is None:  # body until close
                            resp = parse_response(buf + b"", True)
                            if resp:
                                end = buf.find(b"\r\n\r\n")
                                resp.body = buf[end + 4:]
                    except ValueError as e:
                        err = str(e)
                break
            buf += got
            try:
                resp = parse_response(buf, head)
            except ValueError as e:
                err = str(e)
                break
            if resp is not None:
                break
    except socket.timeout:
        err = "timeout"
    finally:
        s.close()
    th.join(1)
    return resp, resp is None and err is None and not buf, time.monotonic() - t0, err


def http(port, method, path, body=None, headers=(), timeout=30):
    """One well-formed request on its own connection (Connection: close) -> Response (raises
    RuntimeError when there is no answer). @p body: bytes or str; @p headers: (name, value);
    @p timeout: seconds, scaled."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Connection: close"]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: %d" % len(body or b""))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b"")
    resp, _, _, err = exchange(port, data, timeout * time_scale(), head=method == "HEAD")
    if resp is None:
        raise RuntimeError("%s %s: no answer (%s)" % (method, path, err or "closed"))
    return resp
