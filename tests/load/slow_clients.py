#!/usr/bin/env python3
"""Slow clients against a running eirnnd (used by tests/load/load.sh).

    slow_clients.py --port PORT --run-id RUN_ID --timeout SECONDS [--headers 100] [--bodies 100]
                    [--readers 50 --model-id MODEL_ID --pid PID --db PATH]

Opens --headers connections that trickle a request's headers and --bodies connections that send
their headers and then trickle a body (one byte every --interval seconds each: never idle, so an
idle timeout alone would never close them). While they are open, a normal client measures the
latency of ordinary requests (GET /healthz, a run's status, a small result download), compared
with a baseline taken before. Checks: every slow connection is closed by the daemon within
--timeout (the daemon's --connection-timeout) plus a margin, no normal request fails, and the
normal latency stays low.

Then slow *readers* (--readers, 0 to skip; they need --model-id): the script submits a run whose
result is --reader-mb MB (several stored chunks) and opens --readers connections, each with a
small SO_RCVBUF (--reader-rcvbuf) so that the kernel cannot absorb the response, that request the
whole result as .npy and then read nothing at all (half of them, "stalled") or --reader-bytes
bytes every --interval seconds ("slow"). Two rounds of them:
  1. readers alone: the normal client measures its latency meanwhile, and the daemon's resident
     memory (VmRSS of /proc/PID/status, --pid) is sampled before, during and after;
  2. readers again while runs with --write-mb MB results are submitted one after another: the
     database's -wal file (--db) is watched, its size and the frames in use (mxFrame of the
     wal-index header in the -shm file), to see whether an open download keeps a read
     transaction that stops checkpoints from resetting the WAL.
A reader counts as closed by the daemon when the daemon's end of its TCP connection leaves
ESTABLISHED (/proc/net/tcp: a stalled client cannot see the FIN, queued behind unsent data).
Checks: every reader closed by the daemon within --timeout plus --margin; every reader got a
"200" status line; normal requests do not fail and their p99 stays under --max-p99-ms; the RSS
peak over the baseline stays under --max-rss-per-reader-kb per reader (plus
--rss-slack-kb); while readers are open, writes of at least twice the WAL's normal bound go
through and the WAL in use stays within that bound (the WAL's normal bound: SQLite's
checkpoint threshold of 1000 frames plus the largest transaction of a write, one run's results,
plus 1 MiB). --plant-wal-pin holds a read transaction of this script's own on the database
during round 2, to show that the WAL check catches a pinned WAL (the run must then fail).

Prints one JSON line "SLOWSTATS {...}"; exit status 1 on a failed check.
Python standard library only.
"""
import argparse
import hashlib
import http.client
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

TCP_ESTABLISHED = 1
# --plant-wal-pin: a read transaction held until stdin closes
PIN = """
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM runs").fetchall()
print("pinned", flush=True)
sys.stdin.read()
"""
FINAL = ("succeeded", "failed", "diverged", "cancelled")
SUBMIT_503 = [0]  # 503 answers (queue full) to this script's submissions, for load.sh's count


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


# ---------------------------------------------------------------------------------------------
# Slow readers
# ---------------------------------------------------------------------------------------------


def http_json(port, method, path, body=None, timeout=30):
    """One request on a fresh connection: (status, decoded JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def submit_run(port, model_id, steps, deadline):
    """Queue a run of `steps` steps recording r (one trial, no input); 503s (queue full) are
    retried until `deadline`. Returns the run id."""
    body = {"model_id": model_id, "dt": 0.1, "inputs": {"steps": steps, "trials": 1},
            "record": {"vars": ["r"]}}
    while True:
        st, j = http_json(port, "POST", "/v1/runs", body)
        if st == 202:
            return j["id"]
        if st != 503 or time.monotonic() > deadline:
            raise RuntimeError("POST /v1/runs answered %d: %s" % (st, j))
        SUBMIT_503[0] += 1
        time.sleep(0.1)


def wait_run(port, run_id, deadline):
    """Long-poll a run until it has ended; returns its document."""
    while time.monotonic() < deadline:
        st, j = http_json(port, "GET", "/v1/runs/%s?wait=2" % run_id)
        if st != 200:
            raise RuntimeError("GET /v1/runs/%s answered %d" % (run_id, st))
        if j["status"] in FINAL:
            return j
    raise RuntimeError("run %s did not end in time" % run_id)


def server_states(port):
    """State of the daemon's end of every TCP connection to `port`, by the client's port
    (/proc/net/tcp). A stalled client cannot see the daemon close: the FIN waits behind unsent
    data, so its own socket stays ESTABLISHED; the daemon's end does not."""
    states = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            p = line.split()
            if len(p) > 3 and int(p[1].rsplit(":", 1)[1], 16) == port:
                states[int(p[2].rsplit(":", 1)[1], 16)] = int(p[3], 16)
    return states


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tcp_mem_kb():
    """Memory of all TCP sockets of the machine (/proc/net/sockstat, pages), in kB: where a
    stalled download's unsent bytes wait (outside the daemon's RSS)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    p = line.split()
                    return int(p[p.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def wal_state(db):
    """(bytes of the -wal file, bytes of it in use, page size) of database `db`, None when
    unknown. In use: the WAL header and mxFrame frames, from the wal-index header at the start
    of the -shm file (two copies, equal unless the read was torn;
    https://sqlite.org/walformat.html)."""
    try:
        size = os.path.getsize(db + "-wal")
    except OSError:
        size = None
    for _ in range(5):
        try:
            with open(db + "-shm", "rb") as f:
                h = f.read(96)
        except OSError:
            return size, None, None
        if len(h) == 96 and h[:48] == h[48:]:
            page, mx = struct.unpack_from("=HI", h, 14)
            page = 65536 if page == 1 else page
            return size, 32 + mx * (page + 24), page
    return size, None, None


class Reader:
    """A connection that asks for a large .npy and then reads it slowly or not at all."""

    def __init__(self, port, path, kind, rcvbuf, data_bytes):
        self.kind = kind  # "stalled", "slow" or "paced"
        self.data_bytes = data_bytes  # bytes of the array after the .npy header
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so that the window the daemon sees is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.cport = self.sock.getsockname()[1]
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        self.sock.setblocking(False)
        self.sent = time.monotonic()
        self.closed = None  # when the daemon's end left ESTABLISHED
        self.eof = None     # when this end saw the end of the stream
        self.got = 0
        self.head = b""
        self.sha = hashlib.sha256()  # of the array's bytes (after the .npy header)
        self.hdr_end = None  # offset of the body in the stream
        self.length = None  # Content-Length
        self.body_seen = 0
        self.status = None  # the first 12 bytes of the answer
        self.seen_open = False  # the daemon's end was seen ESTABLISHED (/proc/net/tcp works)

    def body(self, d):
        skip = self.length - self.data_bytes if self.length is not None else 0
        if self.body_seen + len(d) > skip:
            self.sha.update(d[max(0, skip - self.body_seen):])
        self.body_seen += len(d)

    def recv(self, n):
        """Read up to n bytes if there are any; keeps the head of the answer."""
        try:
            d = self.sock.recv(n)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            d = b""
        if not d:
            self.eof = self.eof or time.monotonic()
            return 0
        if self.hdr_end is None:
            self.head += d
            i = self.head.find(b"\r\n\r\n")
            if i >= 0:
                self.hdr_end = i + 4
                for line in self.head[:i].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        self.length = int(line.split(b":")[1])
                self.body(self.head[self.hdr_end:])
        else:
            self.body(d)
        self.got += len(d)
        return len(d)

    def peek_status(self):
        """Note the answer's status line once its first bytes are there, without taking them
        (MSG_PEEK: a stalled reader reads nothing)."""
        if self.status is None:
            try:
                d = self.head or self.sock.recv(12, socket.MSG_PEEK)
            except OSError:
                return
            if len(d) >= 12:
                self.status = d[:12]

    def close(self):
        self.sock.close()  # unread data: a reset, which frees the daemon's orphaned socket


def reader_round(a, path, data_bytes, nreaders, paced, on_tick=None):
    """Open `nreaders` readers, stalled and slow in turn, and `paced` paced ones, of `path`;
    drive them until the daemon has closed every stalled and slow one (or --timeout + --margin
    + 2 s have passed) and the paced ones have their whole answer. Returns the readers and the
    samples of the daemon's RSS and of the machine's TCP memory taken meanwhile."""
    readers = []
    for i in range(nreaders):
        readers.append(Reader(a.port, path, "stalled" if i % 2 == 0 else "slow",
                              a.reader_rcvbuf, data_bytes))
    for _ in range(paced):
        readers.append(Reader(a.port, path, "paced", a.paced_rcvbuf, data_bytes))
    t0 = time.monotonic()
    deadline = t0 + a.timeout + a.margin + 2
    paced_deadline = t0 + 120
    rss, tcp = [], []
    next_slow = t0
    last = t0
    while True:
        now = time.monotonic()
        st = server_states(a.port)
        for r in readers:
            r.peek_status()
            if st.get(r.cport) == TCP_ESTABLISHED:
                r.seen_open = True
            elif r.closed is None and r.seen_open and r.kind != "paced":
                r.closed = now
        if now >= next_slow:
            for r in readers:
                if r.kind == "slow" and r.eof is None:
                    r.recv(a.reader_bytes)
            next_slow = now + a.interval
        quota = int(a.paced_kbps * 1024 * (now - last))
        last = now
        for r in readers:
            if r.kind == "paced" and r.eof is None:
                n = quota  # at most --paced-kbps: what is not there now is not made up later
                while n > 0:
                    k = r.recv(min(n, 65536))
                    if k == 0:
                        break
                    n -= k
        for r in readers:
            if r.kind == "paced" and r.eof is None and r.length is not None \
                    and r.got - r.hdr_end >= r.length:
                r.eof = now
        if a.pid:
            rss.append(vm_rss_kb(a.pid))
        tcp.append(tcp_mem_kb())
        if on_tick:
            on_tick(now, readers)
        others = any(r.kind != "paced" and r.closed is None for r in readers)
        pacing = any(r.kind == "paced" and r.eof is None for r in readers)
        if (not others or now > deadline) and (not pacing or now > paced_deadline):
            break
        time.sleep(0.05)
    return readers, rss, tcp


def reader_stats(prefix, readers):
    """Closing figures of the stalled and slow readers of one round."""
    out = {}
    for kind in ("stalled", "slow"):
        rs = [r for r in readers if r.kind == kind]
        life = sorted(r.closed - r.sent for r in rs if r.closed is not None)
        out[prefix + kind] = len(rs)
        out[prefix + kind + "_closed_by_daemon"] = len(life)
        out[prefix + kind + "_closed_after_s_min"] = round(life[0], 2) if life else None
        out[prefix + kind + "_closed_after_s_median"] = round(pct(life, 50), 2) if life else None
        out[prefix + kind + "_closed_after_s_max"] = round(life[-1], 2) if life else None
    out[prefix + "slow_bytes_read"] = sum(r.got for r in readers if r.kind == "slow")
    out[prefix + "not_200"] = sum(1 for r in readers if r.status != b"HTTP/1.1 200")
    return out


def reader_checks(prefix, readers, a, bad):
    for r in readers:
        if r.status != b"HTTP/1.1 200":
            bad.append("%s%s reader got %r, not a 200" % (prefix, r.kind, r.status))
        elif not r.seen_open:
            bad.append("%sthe daemon's end of a %s reader's connection was never seen in "
                       "/proc/net/tcp" % (prefix, r.kind))
        elif r.kind == "paced":
            continue
        elif r.closed is None:
            bad.append("%s%s reader was never closed by the daemon" % (prefix, r.kind))
        elif r.closed - r.sent > a.timeout + a.margin:
            bad.append("%s%s reader closed by the daemon only after %.1f s (> %.1f s)"
                       % (prefix, r.kind, r.closed - r.sent, a.timeout + a.margin))


def slow_readers(a, stats, bad):
    """The two rounds of slow readers (see the module's comment); figures into `stats`,
    failed checks into `bad`."""
    t_setup = time.monotonic()
    st, model = http_json(a.port, "GET", "/v1/models/%s" % a.model_id)
    if st != 200:
        bad.append("GET /v1/models/%s answered %d" % (a.model_id, st))
        return
    n = int(model["n"])
    steps = int(a.reader_mb * 1e6 / (8 * n)) + 1
    big = submit_run(a.port, a.model_id, steps, time.monotonic() + 60)
    if wait_run(a.port, big, time.monotonic() + 120)["status"] != "succeeded":
        bad.append("the run of the readers' result did not succeed")
        return
    st, lst = http_json(a.port, "GET", "/v1/runs/%s/results" % big)
    item = [x for x in lst["items"] if x["var"] == "r"][0]
    path = "/v1/runs/%s/results/r" % big
    stats["reader_result_bytes"] = item["bytes"]
    stats["reader_setup_s"] = round(time.monotonic() - t_setup, 2)

    # Round 1: readers alone; RSS and the latency of normal requests.
    time.sleep(0.5)
    rss0 = vm_rss_kb(a.pid) if a.pid else None
    lat, fail = [], []
    stop = threading.Event()

    def probing():
        while not stop.is_set():
            probe(a.port, a.run_id, 0.5, lat, fail)

    th = threading.Thread(target=probing, daemon=True)
    th.start()
    t0 = time.monotonic()
    tcp0 = tcp_mem_kb()
    readers, rss, tcp = reader_round(a, path, item["bytes"], a.readers, 0)
    stop.set()
    th.join(15)
    # Closed by the daemon, but still in the kernel: its end of the connection, orphaned, keeps
    # the unsent bytes while the client's window stays shut (until this end resets it below).
    st = server_states(a.port)
    stats["readers_daemon_end_orphaned"] = sum(1 for r in readers if r.closed is not None
                                               and st.get(r.cport) is not None)
    stats["tcp_mem_kb_readers_closed"] = tcp_mem_kb()
    for r in readers:
        r.close()
    time.sleep(1.0)
    rss1 = vm_rss_kb(a.pid) if a.pid else None
    stats.update(reader_stats("readers_", readers))
    stats["readers"] = a.readers
    stats["readers_round_s"] = round(time.monotonic() - t0, 2)
    stats["readers_normal_requests"] = len(lat)
    stats["readers_normal_p50_ms"] = round(pct(lat, 50) * 1e3, 2)
    stats["readers_normal_p99_ms"] = round(pct(lat, 99) * 1e3, 2)
    stats["readers_normal_max_ms"] = round(max(lat) * 1e3, 2) if lat else None
    stats["readers_normal_failures"] = len(fail)
    stats["tcp_mem_kb_before_readers"] = tcp0
    stats["tcp_mem_kb_peak_readers"] = max([x for x in tcp if x is not None] or [0]) or None
    reader_checks("", readers, a, bad)
    if stats["readers_daemon_end_orphaned"]:
        bad.append("%d timed-out readers still hold the daemon's end of the connection (and its "
                   "unsent bytes) in the kernel" % stats["readers_daemon_end_orphaned"])
    if fail:
        bad.append("normal requests failed during the slow readers: %s" % fail[:5])
    if not lat:
        bad.append("no normal request completed during the slow readers")
    elif stats["readers_normal_p99_ms"] > a.max_p99_ms:
        bad.append("normal p99 latency %.1f ms during the slow readers > %.0f ms"
                   % (stats["readers_normal_p99_ms"], a.max_p99_ms))
    if a.pid:
        peak = max(x for x in rss if x is not None) if any(rss) else None
        stats["rss_kb_before_readers"] = rss0
        stats["rss_kb_peak_readers"] = peak
        stats["rss_kb_after_readers"] = rss1
        if rss0 and peak:
            per = (peak - rss0) / max(1, a.readers)
            stats["rss_kb_per_reader"] = round(per, 1)
            limit = rss0 + a.rss_slack_kb + a.max_rss_per_reader_kb * a.readers
            if peak > limit:
                bad.append("the daemon's RSS grew from %d kB to %d kB with %d slow readers "
                           "(%.0f kB per reader; allowed %d kB each + %d kB)"
                           % (rss0, peak, a.readers, per, a.max_rss_per_reader_kb,
                              a.rss_slack_kb))

    # Round 2: readers (and paced downloads, open throughout) while runs are written.
    if not a.db:
        return
    wsteps = int(a.write_mb * 1e6 / (8 * n)) + 1
    wbytes = wsteps * n * 8
    written = []  # (time the run was seen ended, its result bytes)
    werr = []
    wstop = threading.Event()

    def writing():
        try:
            pending = []
            while not wstop.is_set():
                wstop.wait(a.write_interval)
                pending.append(submit_run(a.port, a.model_id, wsteps, time.monotonic() + 30))
                if len(pending) < 2:
                    continue
                j = wait_run(a.port, pending.pop(0), time.monotonic() + 60)
                if j["status"] != "succeeded":
                    werr.append("a written run ended %s" % j["status"])
                written.append((time.monotonic(), wbytes))
            for rid in pending:
                wait_run(a.port, rid, time.monotonic() + 60)
        except (OSError, RuntimeError, http.client.HTTPException, ValueError, KeyError) as e:
            werr.append(str(e))

    pin = None
    if a.plant_wal_pin:
        # In a process of its own: closing any descriptor of the -shm file (wal_state() does)
        # drops every POSIX lock this process holds on it, the read transaction's included.
        pin = subprocess.Popen([sys.executable, "-c", PIN, a.db], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        if pin.stdout.readline().strip() != "pinned":
            bad.append("could not hold a read transaction on %s" % a.db)
    wal = []
    open_until = [None]

    # A paced download is still being streamed by the daemon while what it has not yet sent
    # exceeds what the kernel's buffers and libmicrohttpd's hold: the daemon's send buffer
    # (at most tcp_wmem's maximum), twice this end's SO_RCVBUF, and a 1 MiB block.
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem_max = 4 << 20
    in_flight = wmem_max + 2 * a.paced_rcvbuf + (1 << 20)

    def streaming(r):
        if r.kind != "paced":
            return r.closed is None
        return r.length is None or r.body_seen < r.length - in_flight

    def tick(now, rs):
        wal.append((now,) + wal_state(a.db))
        if any(streaming(r) for r in rs):
            open_until[0] = now

    wal_start = wal_state(a.db)
    wth = threading.Thread(target=writing, daemon=True)
    t2 = time.monotonic()
    wth.start()
    readers2, _, _ = reader_round(a, path, item["bytes"], a.readers, a.paced, tick)
    wstop.set()
    wth.join(120)
    if pin:
        pin.stdin.close()
        pin.wait(10)
    for r in readers2:
        r.close()
    t_open = open_until[0] or t2
    # Judged: from the end of the first run written (its commit restarts a WAL that earlier
    # writes left long, unless something pins it) to the end of the readers.
    t_first = written[0][0] if written else t_open
    during = [w for w in wal if t_first <= w[0] <= t_open]
    sizes = [w[1] for w in wal if w[0] <= t_open and w[1] is not None]
    in_use = [w[2] for w in during if w[2] is not None]
    page = max([w[3] for w in wal if w[3]] or [4096])
    limit = 1000 * (page + 24) + 2 * wbytes + (1 << 20)
    wrote = sum(b for t, b in written if t_first < t <= t_open)
    paced = [r for r in readers2 if r.kind == "paced"]
    stats.update(reader_stats("wal_readers_", readers2))
    stats.update({
        "wal_round_s": round(time.monotonic() - t2, 2),
        "wal_readers_open_s": round(t_open - t2, 2),
        "wal_paced_downloads": len(paced),
        "wal_paced_download_s_max": round(max(r.eof - r.sent for r in paced if r.eof), 2)
        if any(r.eof for r in paced) else None,
        "wal_runs_written": len(written),
        "wal_run_result_bytes": wbytes,
        "wal_bytes_written_while_open": wrote,
        "wal_file_bytes_start": wal_start[0],
        "wal_file_bytes_max": max(sizes) if sizes else None,
        "wal_file_bytes_end": wal_state(a.db)[0],
        "wal_in_use_bytes_start": wal_start[1],
        "wal_in_use_bytes_max": max(in_use) if in_use else None,
        "wal_in_use_bytes_end": in_use[-1] if in_use else None,
        "wal_in_use_limit_bytes": limit,
        "wal_pin_planted": bool(pin),
    })
    reader_checks("wal round: ", readers2, a, bad)
    if werr:
        bad.append("writes during the slow readers failed: %s" % werr[:3])
    for r in paced:
        if r.eof is None or r.length is None or r.got - r.hdr_end != r.length:
            bad.append("a paced download got %d bytes of %s" % (r.got, r.length))
        elif r.sha.hexdigest() != item["sha256"]:
            bad.append("a paced download's bytes do not match the stored checksum")
    if not in_use:
        bad.append("could not read the WAL's state from %s-shm" % a.db)
    elif wrote < 2 * limit:
        bad.append("only %d bytes were written while the readers were open (need %d to judge "
                   "the WAL)" % (wrote, 2 * limit))
    elif max(in_use) > limit:
        bad.append("the WAL held %d bytes while readers were open and %d bytes were written "
                   "(bound %d): something keeps checkpoints from resetting it"
                   % (max(in_use), wrote, limit))


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
    ap.add_argument("--readers", type=int, default=50, help="slow readers (0: none)")
    ap.add_argument("--model-id", help="model of the runs the readers need (required with them)")
    ap.add_argument("--pid", type=int, help="the daemon's pid, for its RSS")
    ap.add_argument("--db", help="the daemon's database, for its -wal file")
    ap.add_argument("--reader-mb", type=float, default=16.0, help="size of the result read")
    ap.add_argument("--reader-rcvbuf", type=int, default=4096, help="SO_RCVBUF of the readers")
    ap.add_argument("--reader-bytes", type=int, default=64,
                    help="bytes a slow reader takes every --interval")
    ap.add_argument("--paced", type=int, default=4, help="paced downloads in round 2")
    ap.add_argument("--paced-kbps", type=float, default=2048.0, help="KiB/s of a paced download")
    ap.add_argument("--paced-rcvbuf", type=int, default=262144)
    ap.add_argument("--write-mb", type=float, default=1.0,
                    help="result size of the runs written in round 2")
    ap.add_argument("--write-interval", type=float, default=0.1,
                    help="pause before each run submitted in round 2")
    ap.add_argument("--max-rss-per-reader-kb", type=float, default=1024.0)
    ap.add_argument("--rss-slack-kb", type=float, default=16384.0)
    ap.add_argument("--plant-wal-pin", action="store_true",
                    help="hold a read transaction during round 2 (the WAL check must fail)")
    a = ap.parse_args()
    if a.readers and not a.model_id:
        ap.error("--readers needs --model-id (or --readers 0)")

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
    if a.readers:
        try:
            slow_readers(a, stats, bad)
        except (OSError, RuntimeError, http.client.HTTPException, ValueError, KeyError) as e:
            bad.append("slow readers: %s: %s" % (type(e).__name__, e))
    stats["submit_503"] = SUBMIT_503[0]
    print("SLOWSTATS " + json.dumps(stats))
    for b in bad:
        print("slow_clients: FAIL: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
