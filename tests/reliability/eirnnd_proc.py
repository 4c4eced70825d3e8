"""Shared pieces of the reliability drivers (crash_kill9.py, faults.py): start, kill and stop
the real eirnnd on 127.0.0.1 port 0, keep its JSON log lines, and make HTTP requests with the
standard library only (one connection per request)."""

import atexit
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

# time_scale(): the one of tests/common (EIRNN_TEST_TIME_SCALE), re-exported for the drivers.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from eirnnd_http import time_scale  # noqa: E402,F401

# The documents of tests/api/api_harness.c: small (N = 10, 2 inputs, readout), noisy (N = 12,
# sigma 0.2, readout) and big (N = 300, sigma 0.1, no inputs, no readout).
MODEL_SMALL = {
    "name": "small", "class": "gated", "populations": {"E": 8, "I": 2}, "n_inputs": 2,
    "activation": {"name": "relu"}, "leak": 1.0,
    "recurrent": {"W": [
        [0.0, 0.19, 0.2, 0.0, 0.05, 0.0, 0.11, 0.0, -0.52, -0.42],
        [0.21, 0.0, 0.0, 0.0, 0.0, 0.0, 0.24, 0.0, -0.12, 0.0],
        [0.23, 0.0, 0.0, 0.0, 0.0, 0.25, 0.28, 0.0, -0.16, -0.58],
        [0.21, 0.18, 0.14, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.27, 0.0, 0.0, 0.0, 0.0, 0.0, -0.52, 0.0],
        [0.07, 0.0, 0.0, 0.25, 0.09, 0.0, 0.24, 0.0, -0.4, -0.46],
        [0.27, 0.0, 0.0, 0.0, 0.07, 0.0, 0.0, 0.1, -0.4, -0.12],
        [0.0, 0.29, 0.0, 0.17, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.23, 0.13, 0.0, 0.0, 0.0, 0.15, 0.0, 0.0],
        [0.2, 0.0, 0.21, 0.22, 0.23, 0.0, 0.07, 0.0, 0.0, 0.0]],
        "A": {"E": 1.0, "I": 1.0}, "dale": "reject"},
    "input": {"P": [[0.25, 0.46], [0.59, 0.32], [0.36, 0.31], [0.37, 0.6], [0.3, 0.38],
                    [0.77, 0.03], [0.57, 0.74], [0.31, 0.22], [0.8, 0.24], [0.19, 0.44]]},
    "bias": 0.1,
    "readout": {"W_out": [[0.125] * 8 + [0.0, 0.0]], "b_out": [0.0], "from": "all"},
    "noise": {"sigma": 0.0},
}

MODEL_NOISY = {
    "name": "noisy", "class": "gated", "populations": {"E": 10, "I": 2}, "n_inputs": 1,
    "activation": {"name": "relu"}, "leak": 1.0,
    "recurrent": {"generate": {"seed": 3, "p": 0.5, "dist": "lognormal", "mean": 0.1,
                               "cv": 0.5}, "A": 1},
    "input": {"P": {"generate": {"seed": 4, "p": 1, "dist": "constant", "mean": 0.5}}},
    "readout": {"W_out": [[0.1] * 10], "from": "E"},
    "noise": {"sigma": 0.2},
}

MODEL_BIG = {
    "name": "big", "class": "gated", "populations": {"E": 240, "I": 60}, "n_inputs": 0,
    "activation": {"name": "relu"}, "leak": 1.0,
    "recurrent": {"generate": {"seed": 5, "p": 0.2, "dist": "lognormal", "mean": 0.05,
                               "cv": 1}, "A": 1},
    "noise": {"sigma": 0.1},
}


class HttpError(Exception):
    """The request did not get an answer (refused, reset, closed, timed out)."""


def request_ex(port, method, path, body=None, headers=None, timeout=60.0):
    """One request on a fresh connection: (status, headers as a lower-cased dict, body bytes,
    cut), where cut is True when the status line and headers came but the body was cut off.
    Raises HttpError when no answer arrives at all. @p timeout: seconds, scaled."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * time_scale())
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        try:
            return resp.status, hdrs, resp.read(), False
        except (OSError, http.client.HTTPException):
            return resp.status, hdrs, b"", True
    except (OSError, http.client.HTTPException) as e:
        raise HttpError("%s %s: %s: %s" % (method, path, type(e).__name__, e)) from None
    finally:
        conn.close()


def request(port, method, path, body=None, headers=None, timeout=60.0):
    """One request on a fresh connection: (status, headers as a lower-cased dict, body bytes).
    Raises HttpError when no complete answer arrives."""
    status, hdrs, data, cut = request_ex(port, method, path, body, headers, timeout)
    if cut:
        raise HttpError("%s %s: the body was cut off after status %d" % (method, path, status))
    return status, hdrs, data


def get_json(port, path, timeout=60.0):
    """GET a JSON resource: (status, parsed body or None)."""
    st, _, data = request(port, "GET", path, timeout=timeout)
    try:
        return st, json.loads(data) if data else None
    except ValueError:
        return st, None


_running = set()  # daemons started and not yet reaped: killed at exit (a driver that failed)


@atexit.register
def _kill_leftovers():
    for d in list(_running):
        d.kill9()


class Daemon:
    """One eirnnd database and its successive processes ("lifetimes")."""

    def __init__(self, eirnnd, db, args=(), env=None, log_path=None, wrapper=None):
        self.eirnnd = eirnnd
        self.db = db
        self.args = list(args)
        self.env = dict(os.environ)
        if env:
            self.env.update(env)
        self.log_path = log_path
        self.wrapper = list(wrapper or [])
        self.proc = None
        self.port = 0
        self.lifetimes = []  # per start: list of parsed log lines
        self._reader = None
        self._lock = threading.Lock()

    def start(self, timeout=60.0, extra_args=(), extra_env=None):
        """Start a new process and wait for its "listening" line (@p timeout seconds, scaled);
        returns the port."""
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        cmd = self.wrapper + [self.eirnnd, "--listen", "127.0.0.1:0", "--db", self.db]
        cmd += self.args + list(extra_args)
        lines = []
        with self._lock:
            self.lifetimes.append(lines)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        _running.add(self)
        ready = threading.Event()
        port = [0]
        proc = self.proc
        logf = open(self.log_path, "a") if self.log_path else None

        def reader():
            for raw in proc.stderr:
                text = raw.decode("utf-8", "replace").rstrip("\n")
                if logf:
                    logf.write(text + "\n")
                    logf.flush()
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = {"event": "raw", "text": text}
                with self._lock:
                    lines.append(obj)
                if obj.get("event") == "listening":
                    port[0] = int(obj["port"])
                    ready.set()
            if logf:
                logf.close()
            ready.set()

        self._reader = threading.Thread(target=reader, daemon=True)
        self._reader.start()
        if not ready.wait(timeout * time_scale()) or not port[0]:
            self.kill9()
            raise RuntimeError("eirnnd did not start: %s" % self.log_tail())
        self.port = port[0]
        return self.port

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL and reap; returns the wait status."""
        if not self.proc:
            return None
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = self.proc.wait()
        self._join()
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        """Send @sig and wait; returns the exit code (SIGKILL after @timeout seconds, scaled:
        returns None)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout * time_scale())
        except subprocess.TimeoutExpired:
            self.kill9()
            return None
        self._join()
        return rc

    def _join(self):
        if self._reader:
            self._reader.join(10)
        self.proc = None
        self.port = 0
        _running.discard(self)

    def events(self, name, lifetime=None):
        """Log lines with event @name (of one lifetime, or all)."""
        with self._lock:
            sets = self.lifetimes if lifetime is None else [self.lifetimes[lifetime]]
            return [o for lines in sets for o in lines if o.get("event") == name]

    def log_tail(self, n=20):
        with self._lock:
            lines = self.lifetimes[-1] if self.lifetimes else []
            return "\n".join(json.dumps(o) for o in lines[-n:])


def sqlite3_cli(db, sql, timeout=120):
    """Run @sql with the sqlite3 command-line shell; returns its stdout (stripped)."""
    out = subprocess.run(["sqlite3", db, sql], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("sqlite3 %s: %s" % (sql, out.stderr.strip()))
    return out.stdout.strip()


def wait_healthy(port, timeout=30.0):
    """Poll /healthz until it answers 200 (@p timeout seconds, scaled); returns its JSON (raises
    on timeout)."""
    timeout *= time_scale()
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            st, j = get_json(port, "/healthz", timeout=10)
            if st == 200:
                return j
            last = "status %d: %s" % (st, j)
        except HttpError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError("/healthz did not answer 200 within %.0f s: %s" % (timeout, last))
