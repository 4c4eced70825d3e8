#!/usr/bin/env python3
"""api/web: the web page's files and the two long polls it lives on (issue 13; docs/API.md
"Web page", "Progress long poll", "Change feed").

    web.py --eirnnd PATH

* With --token set: GET/HEAD / and /ui/<path> answer without the token, with the media type of
  the file, its bytes (compared with web/ in the source tree), a strong ETag (If-None-Match ->
  304 without a body; W/ and lists accepted; another tag -> 200), Cache-Control: no-cache and
  the security headers (the CSP exactly as docs/OPERATIONS.md gives it); an unknown /ui file is
  a 404 problem, a query parameter a 400 naming it, a path with ".." never reaches a file; API
  answers carry X-Content-Type-Options: nosniff; /v1/changes needs the token.
* GET /v1/runs/{id}?wait=S&progress=D: while a long run runs, answers well before S with a
  progress.done other than D; at once when D differs already; waits when D is the run's own
  (queued, no worker); progress without wait and a bad progress are 400 naming "progress".
* GET /v1/changes?after=SEQ&wait=S: at once without after; with the current seq it blocks until
  a run is submitted (and answers with a new seq), or until the deadline (the same seq); bad
  after/wait are 400 naming them.
Exit 0 when all hold.
"""
import argparse
import json
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, http, time_scale, verdict  # noqa: E402

TOKEN = "web-test-token-0123456789"
AUTH = [("Authorization", "Bearer " + TOKEN)]
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; worker-src 'self'; font-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
BAD = []

MODEL = {"class": "rnn", "populations": {"E": 3, "I": 1}, "n_inputs": 1,
         "activation": {"name": "tanh"}, "leak": 1.0,
         "recurrent": {"W": [[0.0, 0.1, 0.2, -0.3], [0.1, 0.0, 0.1, -0.2],
                             [0.2, 0.1, 0.0, -0.1], [0.3, 0.2, 0.1, 0.0]]},
         "input": {"P": [[1.0], [0.5], [0.0], [-0.5]]}}

# A run of many steps of a wider generated network: seconds of work, progress written every
# quarter second.
WIDE = {"class": "gated", "populations": {"E": 160, "I": 40}, "n_inputs": 1,
        "activation": {"name": "relu"}, "leak": 1.0, "bias": 0.1,
        "recurrent": {"generate": {"seed": 3,
                                   "p": {"EE": 0.5, "EI": 0.5, "IE": 0.5, "II": 0.5},
                                   "dist": "lognormal", "cv": 0.5,
                                   "mean": {"EE": 0.006, "EI": 0.012, "IE": 0.003, "II": 0.01}},
                      "A": {"E": 0.5, "I": 1.0}},
        "input": {"generate": {"seed": 2, "mean": 1.0}}}


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def call(port, method, path, doc=None, auth=True, headers=(), timeout=60):
    body = json.dumps(doc) if doc is not None else None
    r = http(port, method, path, body, headers=(AUTH if auth else []) + list(headers),
             timeout=timeout)
    j = None
    if r.body and r.body[:1] in b"{[":
        j = json.loads(r.body)
    return r, j


def web_file(rel):
    with open(os.path.join(ROOT, "web", rel), "rb") as f:
        return f.read()


def check_page_headers(r, what):
    check(r.header("Cache-Control") == "no-cache", "%s: Cache-Control %r" % (what, r.header("Cache-Control")))
    check(r.header("Content-Security-Policy") == CSP,
          "%s: Content-Security-Policy %r" % (what, r.header("Content-Security-Policy")))
    check(r.header("X-Content-Type-Options") == "nosniff", "%s: no nosniff" % what)
    check(r.header("Referrer-Policy") == "no-referrer", "%s: Referrer-Policy" % what)
    check(r.header("X-Frame-Options") == "DENY", "%s: X-Frame-Options" % what)
    etag = r.header("ETag") or ""
    check(len(etag) > 2 and etag[0] == '"' and etag[-1] == '"' and not etag.startswith("W/"),
          "%s: not a strong ETag: %r" % (what, etag))
    return etag


def test_assets(port):
    files = [("/ui/vendor/uplot/uPlot.esm.js", "vendor/uplot/uPlot.esm.js",
              "text/javascript; charset=utf-8"),
             ("/ui/vendor/uplot/uPlot.min.css", "vendor/uplot/uPlot.min.css",
              "text/css; charset=utf-8"),
             ("/ui/vendor/uplot/LICENSE", "vendor/uplot/LICENSE", "text/plain; charset=utf-8")]
    for url, rel, ctype in files:
        r, _ = call(port, "GET", url, auth=False)
        if not check(r.status == 200, "GET %s without the token: %s" % (url, r.status)):
            continue
        check(r.header("Content-Type") == ctype, "%s: Content-Type %r" % (url, r.header("Content-Type")))
        check(r.body == web_file(rel), "%s: not the bytes of web/%s" % (url, rel))
        etag = check_page_headers(r, url)
        h, _ = call(port, "HEAD", url, auth=False)
        check(h.status == 200 and h.body == b"" and h.header("ETag") == etag and
              h.header("Content-Type") == ctype, "HEAD %s: %s %r" % (url, h.status, h.headers))
        for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
            n, _ = call(port, "GET", url, auth=False, headers=[("If-None-Match", inm)])
            check(n.status == 304 and n.body == b"", "If-None-Match %s on %s: %s" % (inm, url, n.status))
            check(n.header("ETag") == etag, "304 of %s: ETag %r" % (url, n.header("ETag")))
            check_page_headers(n, "304 of " + url)
        o, _ = call(port, "GET", url, auth=False, headers=[("If-None-Match", '"0123"')])
        check(o.status == 200 and o.body == r.body, "another ETag on %s: %s" % (url, o.status))
    etags = {call(port, "GET", u, auth=False)[0].header("ETag") for u, _, _ in files}
    check(len(etags) == len(files), "the files share an ETag: %s" % etags)

    # "/" is web/index.html (or, in a tree without it, the placeholder the build embeds).
    r, _ = call(port, "GET", "/", auth=False)
    check(r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8" and
          r.body.lstrip().lower().startswith(b"<!doctype html"), "GET /: %s %r" % (r.status, r.body[:80]))
    check_page_headers(r, "/")
    index = os.path.join(ROOT, "web", "index.html")
    if os.path.exists(index):
        check(r.body == web_file("index.html"), "GET /: not the bytes of web/index.html")
        u, _ = call(port, "GET", "/ui/index.html", auth=False)
        check(u.status == 200 and u.body == r.body, "GET /ui/index.html: %s" % u.status)

    for url in ("/ui/nope.js", "/ui/vendor/uplot/README.md", "/ui/vendor/uplot/",
                "/ui/../server/h_web.c", "/ui/vendor/../vendor/uplot/LICENSE",
                "/ui/%2e%2e/CMakeLists.txt", "/ui//vendor/uplot/LICENSE", "/ui/VENDOR/uplot/LICENSE"):
        r, j = call(port, "GET", url, auth=False)
        check(r.status == 404 and r.header("Content-Type") == "application/problem+json" and j
              and j.get("status") == 404, "GET %s: %s %r" % (url, r.status, r.body[:120]))
    for url in ("/?x=1", "/ui/vendor/uplot/LICENSE?v=2", "/?token=" + TOKEN):
        r, j = call(port, "GET", url, auth=False)
        name = url.split("?")[1].split("=")[0]
        check(r.status == 400 and j and j.get("parameter") == name,
              "GET %s: %s %r" % (url, r.status, r.body[:160]))
    r, _ = call(port, "POST", "/", auth=False, doc={})
    check(r.status == 405, "POST /: %s" % r.status)

    # The API: nosniff on every answer, the token still needed.
    for method, path, auth, want in (("GET", "/healthz", False, 200), ("GET", "/v1/runs", True, 200),
                                     ("GET", "/v1/runs", False, 401), ("GET", "/v1/changes", False, 401),
                                     ("GET", "/v1/nothing", True, 404)):
        r, _ = call(port, method, path, auth=auth)
        check(r.status == want and r.header("X-Content-Type-Options") == "nosniff",
              "%s %s: %s, nosniff %r" % (method, path, r.status, r.header("X-Content-Type-Options")))


def submit(port, doc):
    r, j = call(port, "POST", "/v1/runs", doc)
    if not check(r.status == 202, "POST /v1/runs: %s %r" % (r.status, r.body[:300])):
        raise RuntimeError("no run")
    return j


def test_progress(port, model_id):
    steps = 400000
    run = submit(port, {"model_id": model_id, "dt": 0.01, "inputs": {"steps": steps},
                        "record": {"vars": ["r"], "every": 1000}, "time_limit": 120})
    path = "/v1/runs/" + run["id"]
    seen = [0]
    t_end = time.monotonic() + 60 * time_scale()
    answers = 0
    status = run["status"]
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        r, j = call(port, "GET", "%s?wait=20&progress=%d" % (path, seen[-1]))
        dt = time.monotonic() - t0
        if not check(r.status == 200, "progress long poll: %s %r" % (r.status, r.body[:200])):
            return
        done = j["progress"]["done"]
        if j["status"] in ("succeeded", "failed", "cancelled"):
            break
        check(done != seen[-1] or j["status"] != status,
              "answered with progress.done %d = progress=%d while %s" % (done, seen[-1], j["status"]))
        check(dt < 5 * time_scale(), "progress long poll took %.2f s while the run runs" % dt)
        status = j["status"]
        if j["status"] == "running":
            answers += 1
        seen.append(done)
        if answers >= 3:
            break
    print("progress answers while running: %s" % seen)
    check(answers >= 3, "only %d progress answers while running: %s" % (answers, seen))
    check(seen == sorted(seen), "progress went back: %s" % seen)
    # Arrival: a progress other than the run's own answers at once.
    t0 = time.monotonic()
    r, j = call(port, "GET", "%s?wait=20&progress=%d" % (path, steps + 1))
    check(r.status == 200 and time.monotonic() - t0 < 2 * time_scale(),
          "progress=%d (not the run's) waited %.2f s" % (steps + 1, time.monotonic() - t0))
    call(port, "POST", path + "/cancel", doc={})
    r, j = call(port, "GET", path + "?wait=30")
    check(j and j["status"] in ("cancelled", "succeeded"), "the long run after cancel: %s" % (j,))


def test_progress_queued(port_idle, model_id):
    """A daemon without workers: the run stays queued with done 0; progress=0 waits."""
    run = submit(port_idle, {"model_id": model_id, "dt": 0.1, "inputs": {"steps": 10}})
    path = "/v1/runs/" + run["id"]
    t0 = time.monotonic()
    r, j = call(port_idle, "GET", path + "?wait=1.5&progress=0")
    dt = time.monotonic() - t0
    check(r.status == 200 and j["status"] == "queued" and j["progress"]["done"] == 0,
          "progress=0 on a queued run: %s %r" % (r.status, r.body[:200]))
    check(dt >= 1.4, "progress=0 on a queued run answered after %.2f s, before its deadline" % dt)
    t0 = time.monotonic()
    r, j = call(port_idle, "GET", path + "?wait=10&progress=3")
    check(r.status == 200 and time.monotonic() - t0 < 2 * time_scale(),
          "progress=3 on a queued run (done 0) did not answer at once")
    # A cancel ends the wait.
    box = {}

    def waiter():
        box["t0"] = time.monotonic()
        box["r"] = call(port_idle, "GET", path + "?wait=20&progress=0")
        box["t1"] = time.monotonic()
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.5)
    call(port_idle, "POST", path + "/cancel", doc={})
    th.join(30 * time_scale())
    r, j = box.get("r", (None, None))
    check(j and j["status"] == "cancelled" and box["t1"] - box["t0"] < 5 * time_scale(),
          "progress long poll across a cancel: %r" % (j,))
    for q, name in (("progress=0", "progress"), ("wait=1&progress=-1", "progress"),
                    ("wait=1&progress=x", "progress"), ("wait=1&progress=1.5", "progress"),
                    ("wait=1&progress=", "progress"), ("wait=x&progress=0", "wait")):
        r, j = call(port_idle, "GET", "%s?%s" % (path, q))
        check(r.status == 400 and j and j.get("parameter") == name,
              "GET run?%s: %s %r" % (q, r.status, r.body[:200]))
    # The same on /v1/analyses/{id}: the parameter is accepted and checked.
    r, j = call(port_idle, "GET", "/v1/analyses/a_000000000000000000000000?progress=1")
    check(r.status == 400 and j and j.get("parameter") == "progress",
          "analyses progress without wait: %s" % r.status)
    r, j = call(port_idle, "GET", "/v1/analyses/a_000000000000000000000000?wait=1&progress=1")
    check(r.status == 404, "analyses progress long poll on a missing analysis: %s" % r.status)
    r, j = call(port_idle, "GET", "/v1/sweeps/s_000000000000000000000000?wait=1&progress=1")
    check(r.status == 400 and j and j.get("parameter") == "progress",
          "sweeps do not take progress: %s" % r.status)


def seq_of(port, query=""):
    r, j = call(port, "GET", "/v1/changes" + query)
    if not check(r.status == 200 and j and isinstance(j.get("seq"), int),
                 "GET /v1/changes%s: %s %r" % (query, r.status, r.body[:200])):
        raise RuntimeError("no seq")
    check(r.header("Content-Type") == "application/json", "changes: Content-Type")
    return j["seq"]


def test_changes(port, model_id):
    t0 = time.monotonic()
    seq = seq_of(port)
    check(time.monotonic() - t0 < 2 * time_scale(), "GET /v1/changes without after waited")
    seq2 = seq_of(port, "?wait=5")
    check(seq2 == seq, "without after and changes: %d then %d" % (seq, seq2))
    t0 = time.monotonic()
    other = seq_of(port, "?after=%d&wait=20" % (seq + 100))
    check(other == seq and time.monotonic() - t0 < 2 * time_scale(),
          "after another seq: not at once (%d)" % other)
    # Deadline: the same seq back after about wait seconds.
    t0 = time.monotonic()
    same = seq_of(port, "?after=%d&wait=1.5" % seq)
    dt = time.monotonic() - t0
    check(same == seq and 1.4 <= dt < 6 * time_scale(), "at the deadline: %d after %.2f s" % (same, dt))
    # Blocks until a run is submitted.
    box = {}

    def waiter():
        t = time.monotonic()
        box["seq"] = seq_of(port, "?after=%d&wait=30" % seq)
        box["dt"] = time.monotonic() - t
    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(1.0)
    check("seq" not in box, "the feed answered before any change: %r" % box)
    run = submit(port, {"model_id": model_id, "dt": 0.1, "inputs": {"steps": 10}})
    th.join(30 * time_scale())
    check(box.get("seq") is not None and box["seq"] != seq and 0.9 <= box["dt"] < 10 * time_scale(),
          "the feed across a submit: %r (seq was %d)" % (box, seq))
    # The run's claim and end move it again (a worker is running): with the submit, at least 3
    # moves since seq. (Not "more than the waiter saw": the waiter's answer may already include
    # the claim and the end of so short a run.)
    # The end is counted just after the run's final state is stored, so a GET may see the run
    # ended an instant before the feed moves: follow the feed for a moment.
    call(port, "GET", "/v1/runs/%s?wait=30" % run["id"])
    later = seq_of(port)
    deadline = time.monotonic() + 5 * time_scale()
    while later < seq + 3 and time.monotonic() < deadline:
        later = seq_of(port, "?after=%d&wait=1" % later)
    check(later >= seq + 3 and later >= box.get("seq", seq),
          "after the run ended: %d, before the submit %d, the waiter saw %r" % (later, seq, box.get("seq")))
    for q, name in (("?after=x", "after"), ("?after=-1", "after"), ("?after=1.5", "after"),
                    ("?after=", "after"), ("?after=99999999999999999999999", "after"),
                    ("?wait=x", "wait"), ("?wait=-1", "wait"), ("?seq=1", "seq")):
        r, j = call(port, "GET", "/v1/changes" + q)
        check(r.status == 400 and j and j.get("parameter") == name,
              "GET /v1/changes%s: %s %r" % (q, r.status, r.body[:200]))


def test_shutdown(binary):
    """Waiting feed and progress polls are answered when the daemon stops."""
    d = Daemon(binary, ["--workers", "0"], env={"EIRNN_TOKEN": TOKEN})
    try:
        seq = seq_of(d.port)
        box = {}

        def waiter():
            t = time.monotonic()
            try:
                box["r"] = call(d.port, "GET", "/v1/changes?after=%d&wait=30" % seq)
            except RuntimeError as e:
                box["err"] = str(e)
            box["dt"] = time.monotonic() - t
        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.5)
        rc = d.stop()
        th.join(30)
        check(rc == 0, "eirnnd exited with %s" % rc)
        check(box.get("dt", 99) < 15 * time_scale(), "the feed across a shutdown: %r" % box)
    finally:
        d.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "1"], env={"EIRNN_TOKEN": TOKEN})
    idle = Daemon(a.eirnnd, ["--workers", "0"], env={"EIRNN_TOKEN": TOKEN})
    try:
        test_assets(d.port)
        r, j = call(d.port, "POST", "/v1/models", MODEL)
        check(r.status in (200, 201), "POST /v1/models: %s" % r.status)
        small = j["id"]
        test_changes(d.port, small)  # first: a generated model's build moves the feed too
        r, j = call(d.port, "POST", "/v1/models", WIDE)
        check(r.status in (200, 201, 202), "POST /v1/models (wide): %s %r" % (r.status, r.body[:300]))
        wide = j["id"]
        r, j = call(idle.port, "POST", "/v1/models", MODEL)
        idle_small = j["id"]
        test_progress(d.port, wide)
        test_progress_queued(idle.port, idle_small)
        d.stop_checked(BAD)
        idle.stop_checked(BAD)
        test_shutdown(a.eirnnd)
    except Exception:
        traceback.print_exc()
        BAD.append("exception")
    finally:
        d.kill()
        idle.kill()
    return verdict(BAD)


if __name__ == "__main__":
    sys.exit(main())
