#!/usr/bin/env python3
"""api/matrices: GET /v1/models/{id}/matrices and /matrices/{name} against the real eirnnd, and
`eirnn model export` of the same documents (issue 11, item 1).

    matrices.py --eirnnd PATH --eirnn PATH

1. Explicit models of each form (reduced form with A per type, M_in, vector leak and bias, a
   readout from the E cells; conductance form K + E_rev; class rnn with W as a binary array) and
   generated ones (reduced and conductance form, seeded recipes): the list names exactly the
   matrices each has with their shapes; every matrix's .npy is byte for byte the file `eirnn
   model export` writes for the same document, and the explicit models' matrices are the
   submitted values (W as given, M = A |W|, W = K E_rev(type), G_b and bias expanded); JSON and
   CSV parse back to the same numbers (CSV header as docs/FORMAT.md 5.5 says).
2. Headers and ETag: Content-Type, X-Eirnn-Shape, X-Eirnn-Dtype, Content-Length of the .npy;
   a strong ETag that differs by format and by name; If-None-Match -> 304 with the ETag.
3. Problems: 404 for an unknown model; 404 naming the matrix and listing those the model has;
   400 naming ?format=; 406 for Accept: text/html; 409 while the model is pending (an HTTP-only
   daemon) and when its build failed.
4. A restart (the cache is empty): an explicit model is served at once (rebuilt in the request);
   a generated one answers a conditional request 304 without a build, a plain one 503 with
   Retry-After while a worker builds it, then 200 with the same bytes; the Python client's
   matrices() waits through the 503 by itself. With --model-cache-bytes 0 an explicit model is
   rebuilt at each request and a generated one is a 503 that says why.
5. N = 2000 (generated): four slow downloads at once (npy, json, csv) grow the daemon's RSS by
   less than 24 MB in all (the JSON alone is ~20 MB) and keep the model alive when it is deleted
   meanwhile (204, then 404); once read, the .npy equals the export and the CSV's values the
   .npy's.
Exit 0 when all hold.
"""
import argparse
import base64
import csv
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from eirnnd_http import Daemon, http, rss_kb, time_scale, verdict  # noqa: E402
import pgtest  # noqa: E402
import eirnn  # noqa: E402

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def parse_npy(buf):
    """(shape, values) of a version 1.0 '<f8' .npy, checked strictly."""
    assert buf[:8] == b"\x93NUMPY\x01\x00", buf[:8]
    (hl,) = struct.unpack("<H", buf[8:10])
    assert (10 + hl) % 64 == 0
    import ast
    h = ast.literal_eval(buf[10:10 + hl].decode("latin-1").strip())
    assert h["descr"] == "<f8" and h["fortran_order"] is False, h
    shape = h["shape"]
    count = 1
    for d in shape:
        count *= d
    data = buf[10 + hl:]
    assert len(data) == 8 * count, (len(data), count)
    return list(shape), list(struct.unpack("<%dd" % count, data))


def flat(x):
    if isinstance(x, list):
        out = []
        for v in x:
            out.extend(flat(v))
        return out
    return [x]


def post_model(d, doc):
    r = http(d.port, "POST", "/v1/models", json.dumps(doc))
    check(r.status in (201, 202), "POST /v1/models: %s %s" % (r.status, r.body[:300]))
    return json.loads(r.body)


def wait_state(d, mid, want, timeout=120):
    t_end = time.monotonic() + timeout * time_scale()
    while True:
        m = json.loads(http(d.port, "GET", "/v1/models/" + mid).body)
        if m["state"] != "pending" or time.monotonic() > t_end:
            check(m["state"] == want, "model %s: %s, expected %s" % (mid, m["state"], want))
            return m
        time.sleep(0.05)


def get(d, path, headers=()):
    return http(d.port, "GET", path, headers=headers, timeout=300)


def get_built(d, path, headers=()):
    """GET, asking again while the answer is 503 + Retry-After: a generated model can be
    recorded ready an instant before its build is in the cache, and is then not in memory yet
    (a worker is asked for it)."""
    t_end = time.monotonic() + 120 * time_scale()
    while True:
        r = get(d, path, headers)
        if r.status != 503 or r.header("Retry-After") is None or time.monotonic() > t_end:
            return r
        time.sleep(0.05)


def export(eirnn_bin, doc, tmp):
    """{name: bytes} and the index written by `eirnn model export` for @p doc."""
    out = tempfile.mkdtemp(dir=tmp)
    mp = os.path.join(out, "model.json")
    with open(mp, "w") as f:
        json.dump(doc, f)
    p = subprocess.run([eirnn_bin, "model", "export", mp, "-o", os.path.join(out, "x")],
                       capture_output=True, text=True, timeout=600 * time_scale())
    check(p.returncode == 0, "eirnn model export: %s %s" % (p.returncode, p.stderr))
    with open(os.path.join(out, "x", "matrices.json")) as f:
        index = json.load(f)
    files = {}
    for e in index["matrices"]:
        with open(os.path.join(out, "x", e["file"]), "rb") as f:
            files[e["name"]] = f.read()
    return files, index


# ---- models -----------------------------------------------------------------------------------

W_RED = [[0.0, 0.2, 0.3, 0.1, -0.5, -0.25],
         [0.1, 0.0, 0.0, 0.4, 0.0, -0.75],
         [0.3, 0.1, 0.0, 0.2, -0.125, 0.0],
         [0.0, 0.6, 0.2, 0.0, -0.3, -0.2],
         [0.25, 0.0, 0.5, 0.1, 0.0, -0.1],
         [0.2, 0.3, 0.0, 0.7, -0.4, 0.0]]
A_I = [1.0, 2.0, 0.5, 0.25, 1.5, 3.0]
REDUCED = {"class": "gated", "populations": {"E": 4, "I": 2}, "n_inputs": 2,
           "activation": {"name": "relu"}, "leak": [1.0, 1.5, 2.0, 1.0, 0.5, 1.25],
           "bias": [0.1, 0.2, 0.3, -0.1, 0.0, 0.05],
           "recurrent": {"W": W_RED, "A": {"E": 0.5, "I": A_I}},
           "input": {"P": [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6], [0.7, 0.8], [0.9, 1.0],
                           [1.1, 1.2]],
                     "M_in": [[0.0, 0.1], [0.2, 0.0], [0.3, 0.3], [0.0, 0.0], [0.5, 0.25],
                              [0.125, 0.0]]},
           "readout": {"W_out": [[0.25, 0.5, 0.125, 1.0], [1.0, 0.0, -1.0, 0.5]],
                       "b_out": [0.5, -0.25], "from": "E"}}
K_COND = [[0.0, 0.2, 0.3, 0.5, 0.25],
          [0.1, 0.0, 0.4, 0.0, 0.75],
          [0.3, 0.1, 0.0, 0.125, 0.0],
          [0.6, 0.2, 0.1, 0.0, 0.2],
          [0.25, 0.5, 0.1, 0.3, 0.0]]
COND = {"class": "gated", "populations": {"E": 3, "I": 2}, "activation": {"name": "relu"},
        "leak": 1.0, "recurrent": {"K": K_COND, "E_rev": {"E": 2.0, "I": -0.5}}}
W_RNN = [[0.0, 1.5, -0.25], [0.5, 0.0, 2.0], [-1.0, 0.125, 0.0]]
RNN = {"class": "rnn", "populations": {"E": 3, "I": 0}, "activation": {"name": "tanh"},
       "leak": 0.5,
       "recurrent": {"W": {"dtype": "float64", "shape": [3, 3],
                           "base64": base64.b64encode(struct.pack(
                               "<9d", *flat(W_RNN))).decode()}}}
GEN = {"class": "gated", "populations": {"E": 8, "I": 2}, "n_inputs": 2,
       "activation": {"name": "relu"}, "leak": 1.0,
       "recurrent": {"generate": {"seed": 3, "p": 0.5}, "A": 0.5},
       "input": {"P": {"generate": {"seed": 1}}},
       "readout": {"W_out": [[1, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]], "b_out": 0.25}}
GEN_COND = {"class": "gated", "populations": {"E": 12, "I": 4}, "activation": {"name": "relu"},
            "leak": 1.0, "bias": 0.2,
            "recurrent": {"generate": {"seed": 11, "p": 0.3, "dist": "gamma", "cv": 0.5},
                          "E_rev": {"E": 1.5, "I": -0.5}}}
BIG = {"class": "gated", "populations": {"E": 1600, "I": 400}, "activation": {"name": "relu"},
       "leak": 1.0,
       "recurrent": {"generate": {"seed": 5, "p": 0.2, "dist": "lognormal", "cv": 0.5,
                                  "mean": {"EE": 0.06, "EI": 0.12, "IE": 0.03, "II": 0.1}},
                     "A": {"E": 0.5, "I": 1.0}}}


def expected_values():
    """{model key: {matrix: (shape, flat values)}} of the explicit models, by hand."""
    types = ["E"] * 4 + ["I"] * 2
    m_red = [[(0.5 if types[j] == "E" else A_I[i]) * abs(W_RED[i][j]) for j in range(6)]
             for i in range(6)]
    # {"E": a_E, "I": a_I} with a_I given per postsynaptic row
    ctypes = ["E"] * 3 + ["I"] * 2
    w_cond = [[K_COND[i][j] * (2.0 if ctypes[j] == "E" else -0.5) for j in range(5)]
              for i in range(5)]
    return {
        "reduced": {"W": ([6, 6], flat(W_RED)), "M": ([6, 6], flat(m_red)),
                    "P": ([6, 2], flat(REDUCED["input"]["P"])),
                    "M_in": ([6, 2], flat(REDUCED["input"]["M_in"])),
                    "G_b": ([6], REDUCED["leak"]), "bias": ([6], REDUCED["bias"]),
                    "W_out": ([2, 4], flat(REDUCED["readout"]["W_out"])),
                    "b_out": ([2], REDUCED["readout"]["b_out"])},
        "cond": {"W": ([5, 5], flat(w_cond)), "K": ([5, 5], flat(K_COND)),
                 "G_b": ([5], [1.0] * 5), "bias": ([5], [0.0] * 5)},
        "rnn": {"W": ([3, 3], flat(W_RNN)), "G_b": ([3], [0.5] * 3), "bias": ([3], [0.0] * 3)},
    }


NAMES = {"reduced": ["W", "M", "P", "M_in", "G_b", "bias", "W_out", "b_out"],
         "cond": ["W", "K", "G_b", "bias"], "rnn": ["W", "G_b", "bias"],
         "gen": ["W", "M", "P", "G_b", "bias", "W_out", "b_out"],
         "gen_cond": ["W", "K", "G_b", "bias"]}


def same(a, b):
    """Equal floats, NaN equal to NaN (JSON null / CSV nan)."""
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b))


def check_text_formats(d, mid, name, shape, values):
    """JSON and CSV of matrix @p name parse back to @p values."""
    j = get(d, "/v1/models/%s/matrices/%s?format=json" % (mid, name))
    check(j.status == 200 and j.header("Content-Type") == "application/json",
          "%s %s json: %s %s" % (mid, name, j.status, j.header("Content-Type")))
    doc = json.loads(j.body)
    nested_ok = len(doc) == shape[0] and (len(shape) == 1 or all(len(r) == shape[1] for r in doc))
    check(nested_ok and same([float("nan") if v is None else v for v in flat(doc)], values),
          "%s %s: JSON differs from the .npy" % (mid, name))
    c = get(d, "/v1/models/%s/matrices/%s" % (mid, name), headers=[("Accept", "text/csv")])
    check(c.status == 200 and c.header("Content-Type", ).startswith("text/csv"),
          "%s %s csv: %s" % (mid, name, c.status))
    rows = list(csv.reader(io.StringIO(c.body.decode())))
    if len(shape) == 1:
        check(rows[0] == [name], "%s %s csv header %s" % (mid, name, rows[0]))
        got = [float(r[0]) for r in rows[1:]]
    else:
        check(rows[0] == ["i"] + ["%s%d" % (name, k) for k in range(shape[1])],
              "%s %s csv header %s" % (mid, name, rows[0][:4]))
        check([r[0] for r in rows[1:]] == [str(i) for i in range(shape[0])],
              "%s %s csv row indices" % (mid, name))
        got = [float(v) for r in rows[1:] for v in r[1:]]
    check(same(got, values), "%s %s: CSV differs from the .npy" % (mid, name))


def check_model(d, mid, key, exported, expected=None):
    """The list, every matrix against the export (and @p expected), text formats, ETags."""
    r = get_built(d, "/v1/models/%s/matrices" % mid)
    check(r.status == 200, "list %s (%s): %s %s" % (key, mid, r.status, r.body[:200]))
    if r.status != 200:
        return
    lst = json.loads(r.body)
    m = json.loads(get(d, "/v1/models/" + mid).body)
    check(lst["model_id"] == mid and lst["hash"] == m["hash"], "list %s: %s" % (key, lst))
    names = [e["name"] for e in lst["matrices"]]
    check(names == NAMES[key], "%s: matrices %s, expected %s" % (key, names, NAMES[key]))
    check(sorted(names) == sorted(exported), "%s: export wrote %s" % (key, sorted(exported)))
    etags = set()
    for e in lst["matrices"]:
        name = e["name"]
        check(e["dtype"] == "float64" and e["url"] == "/v1/models/%s/matrices/%s" % (mid, name),
              "%s %s entry %s" % (key, name, e))
        n = get(d, e["url"])
        check(n.status == 200, "%s %s: %s %s" % (key, name, n.status, n.body[:200]))
        check(n.body == exported.get(name), "%s %s: .npy differs from eirnn model export" %
              (key, name))
        shape, values = parse_npy(n.body)
        check(shape == e["shape"], "%s %s shape %s vs %s" % (key, name, shape, e["shape"]))
        if expected is not None:
            check((shape, values) == (expected[name][0], [float(v) for v in expected[name][1]]),
                  "%s %s: %s %s, submitted %s" % (key, name, shape, values[:8], expected[name]))
        check(n.header("Content-Type") == "application/octet-stream" and
              n.header("X-Eirnn-Shape") == ",".join(map(str, shape)) and
              n.header("X-Eirnn-Dtype") == "float64" and
              n.header("Content-Length") == str(len(n.body)) and
              n.header("Content-Disposition") == 'attachment; filename="%s_%s.npy"' % (mid, name),
              "%s %s headers %s" % (key, name, n.headers))
        tag = n.header("ETag")
        check(tag and tag.startswith('"') and not tag.startswith('W/'), "ETag %s" % tag)
        etags.add(tag)
        nm = get(d, e["url"], headers=[("If-None-Match", tag)])
        check(nm.status == 304 and nm.body == b"" and nm.header("ETag") == tag,
              "%s %s If-None-Match: %s" % (key, name, nm.status))
        j = get(d, e["url"] + "?format=json")
        etags.add(j.header("ETag"))
        check_text_formats(d, mid, name, shape, values)
    check(len(etags) == 2 * len(lst["matrices"]), "%s: ETags not distinct by name and format" %
          key)


def problem(r, status, *words):
    try:
        p = json.loads(r.body)
    except ValueError:
        p = {}
    ok = r.status == status and r.header("Content-Type") == "application/problem+json"
    ok = ok and all(w in p.get("detail", "") for w in words)
    check(ok, "expected %s naming %s: %s %s" % (status, words, r.status, r.body[:300]))
    return p


def slow_downloads(d, mid, fmts, eirnn_npy):
    """Four downloads of W at once, each read 256 KB then left waiting: RSS growth bounded;
    then read whole: npy equals the export, CSV equals the npy."""
    socks = []
    base = rss_kb(d.proc.pid)
    for fmt in fmts:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=120 * time_scale())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(("GET /v1/models/%s/matrices/W?format=%s HTTP/1.1\r\nHost: x\r\n"
                   "Connection: close\r\n\r\n" % (mid, fmt)).encode())
        got = b""
        while len(got) < 256 << 10:
            b = s.recv(65536)
            if not b:
                break
            got += b
        socks.append((fmt, s, got))
    time.sleep(1.0)
    grown = (rss_kb(d.proc.pid) - base) / 1024.0
    print("RSS growth with %d slow downloads of a 2000 x 2000 W: %.1f MB" % (len(fmts), grown))
    check(grown < 24, "4 slow downloads grew the daemon by %.1f MB (bound 24)" % grown)
    # the model is deleted while they stream: each holds it until its last byte
    dl = http(d.port, "DELETE", "/v1/models/" + mid)
    check(dl.status == 204, "DELETE during the downloads: %s" % dl.status)
    check(get(d, "/v1/models/%s/matrices" % mid).status == 404, "deleted model still listed")
    bodies = {}
    for fmt, s, got in socks:
        chunks = [got]
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
        s.close()
        raw = b"".join(chunks)
        head, _, body = raw.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200"), "%s download: %s" % (fmt, head[:40]))
        if b"chunked" in head.lower():
            out, pos = [], 0
            while True:
                eol = body.index(b"\r\n", pos)
                n = int(body[pos:eol], 16)
                if n == 0:
                    break
                out.append(body[eol + 2:eol + 2 + n])
                pos = eol + 2 + n + 2
            body = b"".join(out)
        bodies.setdefault(fmt, body)
    check(bodies["npy"] == eirnn_npy, "N = 2000: W.npy differs from eirnn model export")
    _, values = parse_npy(bodies["npy"])
    lines = bodies["csv"].split(b"\n")
    check(lines[0].startswith(b"i,W0,W1,") and lines[0].endswith(b",W1999") and
          len(lines) == 2002 and lines[-1] == b"", "N = 2000: CSV shape")
    csv_ok = True
    for i in range(2000):
        row = lines[i + 1].split(b",")
        csv_ok = csv_ok and int(row[0]) == i and \
            [float(v) for v in row[1:]] == values[i * 2000:(i + 1) * 2000]
    check(csv_ok, "N = 2000: CSV values differ from the .npy")
    js = bodies["json"]
    check(js.startswith(b"[[") and js.endswith(b"]]") and js.count(b"],[") == 1999,
          "N = 2000: JSON nesting")
    first = json.loads(js[1:js.index(b"]") + 1])
    check(first == values[:2000], "N = 2000: JSON first row differs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    ap.add_argument("--eirnn", default=os.environ.get("EIRNN_BIN"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="eirnn-matrices-")
    db = pgtest.daemon_db(tmp)
    docs = {"reduced": REDUCED, "cond": COND, "rnn": RNN, "gen": GEN, "gen_cond": GEN_COND}
    exp = expected_values()
    exports = {k: export(a.eirnn, doc, tmp)[0] for k, doc in docs.items()}
    d = Daemon(a.eirnnd, ["--workers", "1", "--db", db])
    ids = {}
    try:
        for k, doc in docs.items():
            ids[k] = post_model(d, doc)["id"]
        for k in docs:
            wait_state(d, ids[k], "ready")
            check_model(d, ids[k], k, exports[k], exp.get(k))
        # 3. problems
        mid = ids["reduced"]
        problem(get(d, "/v1/models/m_000000000000000000000000/matrices"), 404,
                "m_000000000000000000000000")
        problem(get(d, "/v1/models/m_000000000000000000000000/matrices/W"), 404,
                "m_000000000000000000000000")
        problem(get(d, "/v1/models/%s/matrices/X" % mid), 404, "'X'",
                "W, M, P, M_in, G_b, bias, W_out, b_out")
        problem(get(d, "/v1/models/%s/matrices/K" % mid), 404, "'K'")
        problem(get(d, "/v1/models/%s/matrices/M" % ids["rnn"]), 404, "'M'", "W, G_b, bias")
        p = problem(get(d, "/v1/models/%s/matrices/W?format=xml" % mid), 400, "xml")
        check(p.get("parameter") == "format", "400 names the parameter: %s" % p)
        problem(get(d, "/v1/models/%s/matrices/W" % mid, headers=[("Accept", "text/html")]),
                406, "text/html")
        problem(get(d, "/v1/models/%s/matrices/W?trials=0" % mid), 400)
        failed = post_model(d, dict(GEN, activation={"name": "linear"}))["id"]
        wait_state(d, failed, "failed")
        problem(get(d, "/v1/models/%s/matrices" % failed), 409, failed, "failed")
        problem(get(d, "/v1/models/%s/matrices/W" % failed), 409, "failed")
        big = post_model(d, BIG)["id"]
        big_export = export(a.eirnn, BIG, tmp)[0]["W"]
        wait_state(d, big, "ready", timeout=300)
        tags = {k: get_built(d, "/v1/models/%s/matrices/W" % ids[k]).header("ETag")
                for k in ("gen", "gen_cond")}
        d.stop_checked(BAD)
        # 4. a restart: nothing is cached
        d = Daemon(a.eirnnd, ["--workers", "1", "--db", db])
        check_model(d, ids["reduced"], "reduced", exports["reduced"], exp["reduced"])
        url = "/v1/models/%s/matrices/W" % ids["gen"]
        nm = get(d, url, headers=[("If-None-Match", tags["gen"])])
        check(nm.status == 304 and nm.header("ETag") == tags["gen"],
              "conditional GET after a restart: %s" % nm.status)
        r = get(d, url)
        problem(r, 503, ids["gen"], "worker")
        check(r.header("Retry-After") == "1", "Retry-After: %s" % r.header("Retry-After"))
        t_end = time.monotonic() + 60 * time_scale()
        while r.status == 503 and time.monotonic() < t_end:
            time.sleep(float(r.header("Retry-After") or 1) / 4)
            r = get(d, url)
        check(r.status == 200 and r.body == exports["gen"]["W"],
              "generated W after a restart: %s" % r.status)
        c = eirnn.Client("http://127.0.0.1:%d" % d.port, timeout=60 * time_scale(),
                         use_numpy=False)
        lst = c.matrices(ids["gen_cond"], timeout=60 * time_scale())  # through the 503
        check([e["name"] for e in lst] == NAMES["gen_cond"], "client matrices(): %s" % lst)
        check(c.matrix_bytes(ids["gen_cond"], "K") == exports["gen_cond"]["K"],
              "client matrix_bytes(K) differs from the export")
        # 5. N = 2000, the model built by a worker after the restart
        c.matrices(big, timeout=300 * time_scale())
        slow_downloads(d, big, ["npy", "json", "csv", "json"], big_export)
        d.stop_checked(BAD)
        # 4. a daemon that keeps no model it is not using: explicit models are rebuilt at each
        # request, a generated one cannot be served (503 saying why, not a wait forever)
        z = Daemon(a.eirnnd, ["--workers", "1", "--model-cache-bytes", "0"])
        try:
            zr = post_model(z, REDUCED)["id"]
            for _ in range(2):
                r = get(z, "/v1/models/%s/matrices/W_out" % zr)
                check(r.status == 200 and r.body == exports["reduced"]["W_out"],
                      "no cache: explicit W_out %s" % r.status)
            zg = post_model(z, GEN)["id"]
            wait_state(z, zg, "ready")
            problem(get(z, "/v1/models/%s/matrices/W" % zg), 503, "--model-cache-bytes 0",
                    "eirnn model export")
        finally:
            z.stop_checked(BAD)
        # 3. pending: an HTTP-only daemon never builds it
        h = Daemon(a.eirnnd, ["--workers", "0"])
        try:
            pend = post_model(h, GEN)["id"]
            problem(get(h, "/v1/models/%s/matrices" % pend), 409, pend, "pending")
            problem(get(h, "/v1/models/%s/matrices/W" % pend), 409, "pending")
        finally:
            h.stop_checked(BAD)
    finally:
        d.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        pgtest.drop(db)
    return verdict(BAD)


if __name__ == "__main__":
    sys.exit(main())
