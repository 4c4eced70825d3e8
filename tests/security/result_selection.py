#!/usr/bin/env python3
"""security/result_selection: result downloads are bounded by the result, in size, in memory per
reader and in the time they hold an HTTP thread, whatever the selection (issue 10, item 1).

    result_selection.py --eirnnd PATH [--readers 16] [--report FILE.json]

Sets up, on one database, a small result (B = 2, T' = 16, n = 64: 16 KB) and a large one (B = 2,
T' = 1000, n = 1200: 2.4 million values, 19.2 MB; a row is wider than the stream's pieces of 512
units), then checks:

1. Width. ?neurons= selects at most the result's width in all, repeats counted: a repeated
   selection beyond it ("0:64,0:64", and "0:1200," 833 times on the large result, 999,600
   columns: under the 1,000,000 entries the code before the fix allowed) is a 400 application/problem+json naming the parameter `neurons` and the bound;
   repeats within the width are answered.
2. Correctness. Selections (reordered, repeated within the width, crossing the pieces of a row,
   with trials and steps) as .npy, JSON and CSV equal what the full .npy says, value for value
   (JSON and CSV numbers read back to the same doubles), with the X-Eirnn-Shape they announce.
3. /healthz while big JSON downloads are in progress: four clients download the large result
   as JSON (whole, and a wide selection) as fast as they can read and four ask for the repeated
   selection, on a daemon with one HTTP thread (with more, /healthz may find a free one);
   /healthz, asked one after another meanwhile, must answer within 1 s every time (before the fix, a repeated selection formatted a row of
   a million numbers in one piece on the HTTP thread: a second or more each).
4. Memory per stalled reader, per format and selection: for each case a fresh daemon on the same
   database (so that memory freed by an earlier case cannot hide a later one's) with one HTTP
   thread, warm-up downloads (the whole .npy, which fills that thread's store page cache to its
   fixed bound, and a bit of the format), then --readers connections with SO_RCVBUF 4096 that ask for the download and read
   nothing; VmRSS of the daemon is sampled for 1.5 s once they are open. Each must get a 200
   (the repeated selection: a 400, or the bound below), and the RSS growth must stay under
   8 MiB + 1 MiB per reader. The figures (kB per reader) are printed and written to --report.

Exit 0 when all hold.
"""
import argparse
import http.client as httpclient
import json
import math
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, exchange, http, rss_kb, time_scale, verdict  # noqa: E402

SMALL = {"E": 51, "I": 13}      # n = 64
LARGE = {"E": 960, "I": 240}    # n = 1200
REPEATED_LARGE = "0:1200," * 832 + "0:1200"  # 999,600 columns of a 1200-wide result


def model_doc(pops):
    with open(os.path.join(ROOT, "schema/examples/requests/model_generated.json")) as f:
        doc = json.load(f)
    doc["populations"] = pops
    del doc["recurrent"]["generate"]["spectral_radius"]  # not needed here, and costly
    return doc


def post(port, path, doc, want):
    r = http(port, "POST", path, json.dumps(doc), [("Content-Type", "application/json")],
             timeout=300)
    if r.status != want:
        raise RuntimeError("POST %s: %d %s" % (path, r.status, r.body[:300]))
    return json.loads(r.body)


def make_result(port, pops, trials, steps):
    """Create a model and run it; the run's id once it has succeeded."""
    # A generated model is built by a worker (202, pending); the run waits for the build.
    mid = post(port, "/v1/models", model_doc(pops), 202)["id"]
    run = {"model_id": mid, "dt": 0.1, "inputs": {"steps": steps, "trials": trials},
           "record": {"vars": ["r"]}, "seed": 7}
    rid = post(port, "/v1/runs", run, 202)["id"]
    deadline = time.monotonic() + 600 * time_scale()
    while time.monotonic() < deadline:
        j = json.loads(http(port, "GET", "/v1/runs/%s?wait=10" % rid, timeout=60).body)
        if j["status"] == "succeeded":
            return rid
        if j["status"] in ("failed", "cancelled"):
            raise RuntimeError("run %s %s" % (rid, j["status"]))
    raise RuntimeError("run %s did not end" % rid)


class Got:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name)


def get(port, path):
    """GET path with http.client (fast for bodies of tens of MB; a cut chunked body raises)."""
    c = httpclient.HTTPConnection("127.0.0.1", port, timeout=120 * time_scale())
    try:
        c.request("GET", path)
        r = c.getresponse()
        return Got(r.status, r.headers, r.read())
    finally:
        c.close()


def parse_npy(b):
    """(shape, flat list of floats) of a little-endian float64/float32 .npy v1.0."""
    if b[:6] != b"\x93NUMPY":
        raise ValueError("not .npy")
    hl = struct.unpack("<H", b[8:10])[0]
    head = b[10:10 + hl].decode("latin-1")
    shape = tuple(int(x) for x in head.split("(")[1].split(")")[0].split(",") if x.strip())
    fmt = "d" if "<f8" in head else "f"
    n = 1
    for s in shape:
        n *= s
    data = b[10 + hl:]
    if len(data) != n * struct.calcsize(fmt):
        raise ValueError(".npy body of %d bytes for shape %s" % (len(data), shape))
    return shape, list(struct.unpack("<%d%s" % (n, fmt), data))


def expand(sel, n):
    """Indices of a ?neurons= value (as the API defines it) for width n."""
    out = []
    for tok in sel.split(","):
        if ":" in tok:
            a, b = tok.split(":")
            out += range(int(a) if a else 0, int(b) if b else n)
        else:
            out.append(int(tok))
    return out


def rng(q, n):
    if q is None:
        return 0, n
    if ":" in q:
        a, b = q.split(":")
        return (int(a) if a else 0), (int(b) if b else n)
    return int(q), int(q) + 1


def same(x, y):
    return (x is None and math.isnan(y)) or (x is not None and x == y) or \
        (isinstance(x, float) and math.isnan(x) and math.isnan(y))


def check_selection(port, rid, full, query, bad):
    """Fetch `query` of result r as npy, json and csv; compare with the full array."""
    (B, T, N), data = full
    q = dict(kv.split("=", 1) for kv in query.split("&")) if query else {}
    t0, t1 = rng(q.get("trials"), B)
    s0, s1 = rng(q.get("steps"), T)
    units = expand(q["neurons"], N) if "neurons" in q else list(range(N))
    want = [[[data[(b * T + t) * N + u] for u in units] for t in range(s0, s1)]
            for b in range(t0, t1)]
    shape = "%d,%d,%d" % (t1 - t0, s1 - s0, len(units))
    for fmt in ("npy", "json", "csv"):
        path = "/v1/runs/%s/results/r?format=%s%s" % (rid, fmt, "&" + query if query else "")
        r = get(port, path)
        what = "%s as %s" % (query or "(all)", fmt)
        if r.status != 200 or r.header("X-Eirnn-Shape") != shape:
            bad.append("%s: %d, shape %s (want %s)" % (what, r.status, r.header("X-Eirnn-Shape"),
                                                      shape))
            continue
        if fmt == "npy":
            sh, got = parse_npy(r.body)
            flat = [v for tr in want for row in tr for v in row]
            ok = sh == (t1 - t0, s1 - s0, len(units)) and all(
                same(a, b) for a, b in zip(got, flat)) and len(got) == len(flat)
        elif fmt == "json":
            got = json.loads(r.body)
            ok = len(got) == len(want) and all(
                len(gt) == len(wt) and all(len(gr) == len(wr) and all(
                    same(a, b) for a, b in zip(gr, wr)) for gr, wr in zip(gt, wt))
                for gt, wt in zip(got, want))
        else:
            lines = r.body.decode().split("\n")
            ok = lines[-1] == "" and lines[0] == "trial,step," + ",".join(
                "r%d" % u for u in units)
            rows = [(b, t) for b in range(t0, t1) for t in range(s0, s1)]
            ok = ok and len(lines) == len(rows) + 2
            for (b, t), line in zip(rows, lines[1:]) if ok else ():
                f = line.split(",")
                if f[0] != str(b) or f[1] != str(t) or len(f) != len(units) + 2 or not all(
                        same(float(x), y) for x, y in zip(f[2:], want[b - t0][t - s0])):
                    ok = False
                    break
        if not ok:
            bad.append("%s: the values differ from the full .npy's" % what)


def head_of(port, path):
    """Status, headers and (for an answer other than 200) the body of GET path; a 200's body is
    not read (a repeated selection served by a daemon without the bound would take minutes)."""
    resp, _, _, err = exchange(port, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                      % path).encode(), 60 * time_scale(), head=True)
    if resp is None:
        raise RuntimeError("GET %.80s: no answer (%s)" % (path, err))
    if resp.status != 200:
        resp = http(port, "GET", path, timeout=60)
    return resp


def check_width(port, small, large, bad):
    cases = [(small, "0:64,0:64", 64), (small, "0:33,0:32", 64), (small, "63,0:64", 64),
             (large, REPEATED_LARGE, 1200)]
    for rid, sel, n in cases:
        for fmt in ("json", "csv", "npy"):
            r = head_of(port, "/v1/runs/%s/results/r?format=%s&neurons=%s" % (rid, fmt, sel))
            p = {}
            if r.status == 400 and (r.header("Content-Type") or "").startswith(
                    "application/problem+json"):
                p = json.loads(r.body)
            if p.get("parameter") != "neurons" or "at most %d" % n not in p.get("detail", ""):
                bad.append("neurons=%.40s... (%d columns of a %d-wide result) as %s: %d %s, "
                           "expected 400 naming neurons and the bound" % (
                               sel, len(expand(sel, n)), n, fmt, r.status, r.body[:200]))
    # Repeats within the width stay allowed.
    r = http(port, "GET", "/v1/runs/%s/results/r?format=json&neurons=0:32,0:32" % small)
    if r.status != 200 or r.header("X-Eirnn-Shape") != "2,16,64":
        bad.append("neurons=0:32,0:32 (64 of 64): %d %s" % (r.status, r.header("X-Eirnn-Shape")))


def healthz_during_downloads(port, large, bad, stats):
    paths = ["/v1/runs/%s/results/r?format=json" % large,
             "/v1/runs/%s/results/r?format=json&neurons=600:1200,0:500&steps=0:500" % large] * 2
    paths += ["/v1/runs/%s/results/r?format=json&neurons=%s" % (large, REPEATED_LARGE)] * 4
    stop = threading.Event()
    got = [0] * len(paths)

    def download(i, path):
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        while not stop.is_set():
            try:
                d = s.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            got[i] += len(d)
        s.close()

    ths = [threading.Thread(target=download, args=(i, p), daemon=True)
           for i, p in enumerate(paths)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    lat = []
    t_end = time.monotonic() + 3
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        r = http(port, "GET", "/healthz", timeout=120)
        lat.append(time.monotonic() - t0)
        if r.status != 200:
            bad.append("/healthz answered %d during downloads" % r.status)
        time.sleep(0.02)
    stop.set()
    for t in ths:
        t.join(130 * time_scale())
    stats["healthz_during_json_downloads"] = {
        "n": len(lat), "max_ms": round(max(lat) * 1e3, 1),
        "median_ms": round(sorted(lat)[len(lat) // 2] * 1e3, 2),
        "mb_downloaded": round(sum(got) / 1e6, 1)}
    print("healthz during 8 JSON downloads: %d requests, median %.2f ms, max %.1f ms; %.1f MB "
          "downloaded" % (len(lat), sorted(lat)[len(lat) // 2] * 1e3, max(lat) * 1e3,
                          sum(got) / 1e6))
    if max(lat) > 1.0 * time_scale():
        bad.append("/healthz took %.2f s while big JSON downloads were in progress" % max(lat))
    if sum(got[:4]) < 1e6:
        bad.append("the legitimate JSON downloads made no progress (%d bytes)" % sum(got[:4]))


class Stalled:
    """A connection that asks for `path` and reads nothing (a small receive buffer)."""

    def __init__(self, port, path):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10 * time_scale())
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())

    def status(self):
        try:
            self.sock.settimeout(0.5 * time_scale())
            d = self.sock.recv(12, socket.MSG_PEEK)
            return int(d[9:12]) if len(d) >= 12 else None
        except (OSError, ValueError):
            return None

    def close(self):
        self.sock.close()


def memory_per_reader(binary, db, large, nreaders, bad, stats):
    base = "/v1/runs/%s/results/r" % large
    sel = "&neurons=600:1200,0:500,100:200&trials=1&steps=100:900"
    cases = [("npy", "whole", base + "?format=npy"),
             ("npy", "selection", base + "?format=npy" + sel),
             ("json", "whole", base + "?format=json"),
             ("json", "selection", base + "?format=json" + sel),
             ("csv", "whole", base + "?format=csv"),
             ("csv", "selection", base + "?format=csv" + sel),
             ("json", "repeated", base + "?format=json&neurons=" + REPEATED_LARGE),
             ("csv", "repeated", base + "?format=csv&neurons=" + REPEATED_LARGE)]
    bound_kb = 8192 + 1024 * nreaders
    figures = []
    for fmt, kind, path in cases:
        d = Daemon(binary, ["--db", db, "--workers", "0", "--http-threads", "1",
                            "--connection-timeout", "30"])
        readers = []
        try:
            # Warm-up: the whole result once (the HTTP thread's store handle, and its page
            # cache filled to its bound, which is per thread, not per reader), then the format.
            get(d.port, base)
            get(d.port, base + "?format=" + fmt + "&steps=0:2")
            time.sleep(0.3)
            rss0 = rss_kb(d.proc.pid)
            n = nreaders if kind != "repeated" else 4
            readers = [Stalled(d.port, path) for _ in range(n)]
            time.sleep(1.0)
            peak = rss0
            t_end = time.monotonic() + 1.5
            while time.monotonic() < t_end:
                peak = max(peak, rss_kb(d.proc.pid))
                time.sleep(0.05)
            statuses = [r.status() for r in readers]
            per = (peak - rss0) / n
            figures.append({"format": fmt, "selection": kind, "readers": n, "rss0_kb": rss0,
                            "peak_kb": peak, "kb_per_reader": round(per, 1),
                            "statuses": sorted(set(str(s) for s in statuses))})
            print("%-4s %-9s: %2d stalled readers, RSS %d -> %d kB (%+.0f kB per reader), "
                  "statuses %s" % (fmt, kind, n, rss0, peak, per, sorted(set(statuses),
                                                                         key=str)))
            want = 400 if kind == "repeated" else 200
            if any(s != want for s in statuses):
                bad.append("%s %s: stalled readers got %s, expected %d" % (fmt, kind, statuses,
                                                                           want))
            if peak - rss0 > bound_kb:
                bad.append("%s %s: RSS grew by %d kB for %d stalled readers (bound %d kB)"
                           % (fmt, kind, peak - rss0, n, bound_kb))
        finally:
            for r in readers:
                r.close()
            d.stop_checked(bad)
    stats["memory_per_stalled_reader"] = figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    ap.add_argument("--readers", type=int, default=16)
    ap.add_argument("--report")
    a = ap.parse_args()
    bad, stats = [], {}
    tmp = tempfile.mkdtemp(prefix="eirnn-sel-")
    db = os.path.join(tmp, "eirnn.db")
    try:
        d = Daemon(a.eirnnd, ["--db", db, "--workers", "1", "--http-threads", "1"])
        try:
            t0 = time.monotonic()
            small = make_result(d.port, SMALL, 2, 16)
            large = make_result(d.port, LARGE, 2, 1000)
            print("setup: %.1f s" % (time.monotonic() - t0))
            check_width(d.port, small, large, bad)
            for rid, queries in ((small, ["", "neurons=63,0:10,5,5", "neurons=0:32,0:32",
                                          "trials=1&steps=3:9&neurons=40:64,0:40",
                                          "steps=15&neurons=7"]),
                                 (large, ["trials=1&steps=990:1000",
                                          "steps=10:14&neurons=1100:1200,0:600,300:400",
                                          "trials=0&steps=500:503&neurons=513:1200,0:513",
                                          "steps=7&neurons=1199,0,511:513,1023:1025"])):
                full = parse_npy(get(d.port, "/v1/runs/%s/results/r" % rid).body)
                for q in queries:
                    check_selection(d.port, rid, full, q, bad)
            healthz_during_downloads(d.port, large, bad, stats)
        finally:
            d.stop_checked(bad)
        memory_per_reader(a.eirnnd, db, large, a.readers, bad, stats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(stats, f, indent=1)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
