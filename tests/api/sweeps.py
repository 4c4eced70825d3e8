#!/usr/bin/env python3
"""api/sweeps: POST /v1/sweeps and the sweep resources against the real eirnnd (issue 12,
docs/SWEEPS.md).

    sweeps.py --eirnnd PATH [--only NAME]

1. grid: a 3 x 4 grid (a model axis /model/recurrent/A/E and a run axis /run/seed) gives the
   same 12 runs as 12 runs submitted one by one: the table's metrics equal the runs' metadata,
   and each point's .npy result has the same bytes as its single run's. Runs of one A.E value
   share one new model (3 models); every run has the sweep's labels plus "sweep" and shows
   "sweep": {"id", "index"}. ?wait= answers once the last run ended. The table in JSON and CSV
   (parsed) hold the same values; ?per_trial=true adds the per-trial columns.
2. zip: axes taken together (point i = value i of each axis).
3. invalid: one bad point (a model field, a run field) refuses the whole sweep with 422 naming
   the field inside the point, the point's index and its axes' values; nothing is stored (no
   sweep, no run, no model).
4. limits: more points than --max-sweep-points (422 at /axes), more work than
   --max-sweep-check-bytes (422 at /run), a full queue (503 + Retry-After, nothing stored).
5. labels and lists: ?label= on GET /v1/sweeps, ?sweep_id= and ?label=sweep:... on GET /v1/runs.
6. cancel half done: queued runs cancelled, the running one stopped, the sweep finished; DELETE
   is 409 while runs are queued or running, 204 after (runs and models gone).
7. kill -9 half done: after a restart on the same database every point succeeds and the table is
   complete.
8. idempotency: the same Idempotency-Key and body answer the same sweep (200, replayed); another
   body with that key is 422.
Exit 0 when all hold.
"""
import argparse
import calendar
import copy
import csv
import io
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, drop_kept, http, kept_db, time_scale  # noqa: E402

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def load_example(name):
    with open(os.path.join(ROOT, "schema", "examples", "requests", name)) as f:
        return json.load(f)


# A gated 4 E + 2 I model with noise, so that the seed matters.
MODEL = load_example("model_gated_explicit.json")
MODEL["noise"] = {"sigma": 0.05}
T = 200
INPUTS = [[[0.5 * (t >= 50), 0.25 * (t >= 100)] for t in range(T)],
          [[1.0 * (t >= 50), 0.0] for t in range(T)]]
METRICS = {"windows": [{"name": "late_r", "var": "r", "from": 100, "to": 200},
                       {"var": "V", "from": 0, "to": 50}],
           "settle": {"steps": 20, "tol": 1e-3}}
RUN = {"dt": 0.05, "inputs": INPUTS, "record": {"vars": ["r", "V"], "every": 10}}
A_E = [0.0, 0.5, 1.0]
SEEDS = [1, 2, 3, 4]


def req(d, method, path, doc=None, headers=(), timeout=120):
    body = json.dumps(doc) if doc is not None else None
    r = http(d.port, method, path, body, headers=headers, timeout=timeout)
    j = None
    if r.body and r.body[:1] in b"{[":
        j = json.loads(r.body)
    return r, j


def wait_run(d, rid, timeout=300):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, run = req(d, "GET", "/v1/runs/%s?wait=10" % rid)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run


def wait_sweep(d, sid, timeout=300):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, sw = req(d, "GET", "/v1/sweeps/%s?wait=10" % sid)
        if sw["status"] == "finished" or time.monotonic() > deadline:
            return sw


def count(d, path):
    _, j = req(d, "GET", path + ("&" if "?" in path else "?") + "limit=1000")
    return len(j["items"])


def sweep_doc(**kw):
    doc = {"name": "isn", "model": MODEL, "run": RUN,
           "axes": [{"path": "/model/recurrent/A/E", "values": A_E},
                    {"path": "/run/seed", "values": SEEDS}],
           "metrics": METRICS, "labels": {"project": "isn"}}
    doc.update(kw)
    return doc


def metric_columns(per_trial_b=0):
    cols = []

    def add(name, per_trial=True):
        cols.append(name)
        if per_trial:
            cols.extend("%s[%d]" % (name, b) for b in range(per_trial_b))
    for w in ("late_r", "V_0_50"):
        for s in ("mean", "std"):
            for p in ("E", "I"):
                add("%s.%s.%s" % (w, s, p))
    for v in ("V", "r"):
        for p in ("E", "I"):
            add("final.%s.%s" % (v, p))
    add("max_z_dt", False)
    add("diverged", False)
    add("diverged_step", False)
    add("settle.max_dVdt")
    add("settled")
    return cols


def metric_value(m, col):
    """The value a table column @p col has for a run's metrics @p m (docs/SWEEPS.md)."""
    b = None
    if col.endswith("]"):
        col, b = col[:-1].split("[")
        b = int(b)
    parts = col.split(".")
    if parts[0] == "final":
        keys = ["final", parts[1], parts[2]] if b is None else ["final", "trials", parts[1], parts[2]]
    elif parts[0] == "settle":
        keys = ["settle", "max_dVdt"] if b is None else ["settle", "trials", "max_dVdt"]
    elif parts[0] == "settled":
        keys = ["settle", "settled"] if b is None else ["settle", "trials", "settled"]
    elif len(parts) == 1:
        keys = [parts[0]]
    else:
        keys = ["windows", parts[0], parts[1], parts[2]] if b is None else \
            ["windows", parts[0], "trials", parts[1], parts[2]]
    v = m
    for k in keys:
        v = v[k]
    return v if b is None else v[b]


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def csv_value(text, like):
    """A CSV cell read back as the JSON value @p like's type."""
    if text == "":
        return None
    if isinstance(like, bool):
        return text == "true"
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    return text


def epoch(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time with milliseconds."""
    t = time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) + float("0" + rfc3339[19:-1])


def result_bytes(d, rid, var):
    r = http(d.port, "GET", "/v1/runs/%s/results/%s?format=npy" % (rid, var), timeout=120)
    return r.status, r.body


# ------------------------------------------------------------------------------------------------

def scenario_grid(eirnnd):
    d = Daemon(eirnnd, ["--workers", "2", "--threads-per-run", "1"])
    try:
        t0 = time.monotonic()
        r, sw = req(d, "POST", "/v1/sweeps", sweep_doc())
        if not check(r.status == 202, "POST /v1/sweeps: %s %s" % (r.status, sw)):
            return
        sid = sw["id"]
        check(r.header("Location") == "/v1/sweeps/" + sid, "Location %s" % r.header("Location"))
        check(sw["points"] == 12 and sw["mode"] == "grid" and sw["labels"] == {"project": "isn"}
              and len(sw["models"]) == 3 and sw["status"] in ("queued", "running"),
              "the sweep as created: %s" % sw)
        check([a["path"] for a in sw["axes"]] == ["/model/recurrent/A/E", "/run/seed"]
              and sw["axes"][0]["values"] == A_E, "axes: %s" % sw["axes"])
        # ?wait= answers when the last run ends
        _, done = req(d, "GET", "/v1/sweeps/%s?wait=%d" % (sid, 120 * time_scale()), timeout=200)
        waited = time.monotonic() - t0
        answered = time.time()
        check(done["status"] == "finished" and done["counts"]["succeeded"] == 12
              and done["finished_at"] is not None and done["progress"]["fraction"] == 1.0,
              "after ?wait=: %s" % done)
        _, runs = req(d, "GET", "/v1/runs?sweep_id=%s&limit=100" % sid)
        last_end = max(x["finished_at"] for x in runs["items"])
        check(done["finished_at"] == last_end, "finished_at %s, last run ended %s"
              % (done["finished_at"], last_end))
        late = answered - epoch(done["finished_at"])
        check(0 <= late + 0.05 < 2 * time_scale(), "?wait= answered %.3f s after the last run "
              "ended" % late)
        print("grid: 12 points finished, ?wait= answered after %.2f s, %.3f s after the last run"
              % (waited, late))

        # the table, JSON
        r, table = req(d, "GET", "/v1/sweeps/%s/table" % sid)
        check(r.status == 200 and r.header("Content-Type").startswith("application/json"),
              "table: %s %s" % (r.status, r.header("Content-Type")))
        cols = ["index", "/model/recurrent/A/E", "/run/seed", "run_id", "status"] + metric_columns()
        check(table["columns"] == cols, "columns: %s" % table["columns"])
        check(table["points"] == 12 and len(table["rows"]) == 12, "rows: %d" % len(table["rows"]))
        models = {}
        for i, row in enumerate(table["rows"]):
            cell = dict(zip(table["columns"], row))
            check(cell["index"] == i and cell["/model/recurrent/A/E"] == A_E[i // 4]
                  and cell["/run/seed"] == SEEDS[i % 4] and cell["status"] == "succeeded",
                  "row %d: %s" % (i, row[:5]))
            _, run = req(d, "GET", "/v1/runs/" + cell["run_id"])
            check(run["sweep"] == {"id": sid, "index": i}, "run %d sweep: %s" % (i, run.get("sweep")))
            check(run["labels"] == {"project": "isn", "sweep": sid}, "run %d labels: %s"
                  % (i, run.get("labels")))
            models.setdefault(A_E[i // 4], set()).add(run["model_id"])
            m = run["meta"]["metrics"]
            for c in metric_columns():
                check(same(cell[c], metric_value(m, c)), "row %d %s: table %r, run %r"
                      % (i, c, cell[c], metric_value(m, c)))
        check(all(len(v) == 1 for v in models.values()) and
              sorted(x for v in models.values() for x in v) == sorted(sw["models"]),
              "runs of one A.E share one model: %s vs %s" % (models, sw["models"]))
        for mid in sw["models"]:
            _, m = req(d, "GET", "/v1/models/" + mid)
            check(m["labels"] == {"project": "isn", "sweep": sid} and m["state"] == "ready",
                  "model %s: %s" % (mid, m))

        # the same 12 runs one by one
        singles = []
        for a in A_E:
            for s in SEEDS:
                model = copy.deepcopy(MODEL)
                model["recurrent"]["A"]["E"] = a
                doc = dict(RUN, model=model, seed=s, metrics=METRICS)
                r, run = req(d, "POST", "/v1/runs", doc)
                check(r.status == 202, "single run: %s %s" % (r.status, run))
                singles.append(run["id"])
        for i, rid in enumerate(singles):
            run = wait_run(d, rid)
            cell = dict(zip(table["columns"], table["rows"][i]))
            check(run["status"] == "succeeded", "single %d: %s" % (i, run["status"]))
            m = run["meta"]["metrics"]
            for c in metric_columns():
                check(same(cell[c], metric_value(m, c)), "single %d %s: sweep %r, single %r"
                      % (i, c, cell[c], metric_value(m, c)))
            for var in ("r", "V", "V_final"):
                s1, b1 = result_bytes(d, cell["run_id"], var)
                s2, b2 = result_bytes(d, rid, var)
                check(s1 == 200 and s2 == 200 and b1 == b2 and len(b1) > 128,
                      "point %d %s: %s %d bytes vs %s %d bytes, equal %s"
                      % (i, var, s1, len(b1), s2, len(b2), b1 == b2))
        print("grid: the 12 points equal 12 single runs (metrics, r/V/V_final .npy bytes)")
        metrics = http(d.port, "GET", "/metrics").body.decode()
        check(re.search(r"^eirnn_sweeps_submitted_total 1$", metrics, re.M) and
              re.search(r"^eirnn_runs_submitted_total 24$", metrics, re.M),
              "/metrics counts one sweep and 24 runs")

        # CSV, parsed: same header, same values
        r = http(d.port, "GET", "/v1/sweeps/%s/table" % sid, headers=[("Accept", "text/csv")])
        check(r.status == 200 and r.header("Content-Type").startswith("text/csv"),
              "CSV: %s %s" % (r.status, r.header("Content-Type")))
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8"), newline="")))
        check(rows[0] == table["columns"] and len(rows) == 13, "CSV header/rows: %s, %d"
              % (rows[0][:6], len(rows)))
        for i in range(1, min(len(rows), 13)):
            for k, text in enumerate(rows[i]):
                want = table["rows"][i - 1][k]
                got = csv_value(text, want)
                check(same(got, want), "CSV row %d col %s: %r vs %r"
                      % (i - 1, table["columns"][k], text, want))
        r2 = http(d.port, "GET", "/v1/sweeps/%s/table?format=csv" % sid)
        check(r2.body == r.body, "?format=csv is the Accept: text/csv answer")
        r3 = http(d.port, "GET", "/v1/sweeps/%s/table" % sid,
                  headers=[("Accept", "application/x-npy")])
        check(r3.status == 406, "Accept: application/x-npy: %s" % r3.status)
        r4 = http(d.port, "GET", "/v1/sweeps/%s/table?format=npy" % sid)
        check(r4.status == 400, "?format=npy: %s" % r4.status)

        # per_trial
        r, pt = req(d, "GET", "/v1/sweeps/%s/table?per_trial=true" % sid)
        want_cols = ["index", "/model/recurrent/A/E", "/run/seed", "run_id", "status"] + \
            metric_columns(per_trial_b=2)
        check(pt["columns"] == want_cols, "per_trial columns: %s" % pt["columns"])
        for i, row in enumerate(pt["rows"]):
            cell = dict(zip(pt["columns"], row))
            _, run = req(d, "GET", "/v1/runs/" + cell["run_id"])
            for c in want_cols[5:]:
                check(same(cell[c], metric_value(run["meta"]["metrics"], c)),
                      "per_trial row %d %s" % (i, c))

        # labels and lists
        _, lst = req(d, "GET", "/v1/sweeps?label=project:isn")
        check([x["id"] for x in lst["items"]] == [sid] and "axes" not in lst["items"][0]
              and lst["items"][0]["counts"]["succeeded"] == 12, "?label=project:isn: %s" % lst)
        _, lst = req(d, "GET", "/v1/sweeps?label=project:other")
        check(lst["items"] == [], "?label=project:other: %s" % lst)
        r, _ = req(d, "GET", "/v1/sweeps?label=nocolon")
        check(r.status == 400, "?label=nocolon: %s" % r.status)
        check(count(d, "/v1/runs?sweep_id=" + sid) == 12, "?sweep_id= lists 12 runs")
        check(count(d, "/v1/runs?label=sweep:" + sid) == 12, "?label=sweep: lists 12 runs")
        check(count(d, "/v1/runs") == 24, "all runs: 12 of the sweep and 12 single")

        # delete: runs and models go
        r = http(d.port, "DELETE", "/v1/sweeps/" + sid)
        check(r.status == 204, "DELETE a finished sweep: %s" % r.status)
        check(http(d.port, "GET", "/v1/sweeps/" + sid).status == 404, "GET after DELETE")
        check(count(d, "/v1/runs?sweep_id=" + sid) == 0, "its runs are gone")
        for mid in sw["models"]:
            check(http(d.port, "GET", "/v1/models/" + mid).status == 404, "model %s gone" % mid)
    finally:
        d.stop_checked(BAD)


def scenario_zip_and_ids(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--threads-per-run", "1"])
    try:
        r, m = req(d, "POST", "/v1/models", MODEL)
        check(r.status == 201, "model: %s" % r.status)
        doc = {"model_id": m["id"], "run": dict(RUN, seed=3), "mode": "zip",
               "axes": [{"path": "/run/seed", "values": [5, 6, 7]},
                        {"path": "/run/record", "values": [{"vars": ["r"]}, {"vars": ["V"]},
                                                           {"vars": ["r"], "every": 5}]}]}
        r, sw = req(d, "POST", "/v1/sweeps", doc)
        if not check(r.status == 202, "zip: %s %s" % (r.status, sw)):
            return
        check(sw["points"] == 3 and sw["mode"] == "zip" and sw["models"] == [m["id"]]
              and sw["labels"] == {}, "zip sweep: %s" % sw)
        sw = wait_sweep(d, sw["id"])
        check(sw["counts"]["succeeded"] == 3, "zip counts: %s" % sw["counts"])
        _, t = req(d, "GET", "/v1/sweeps/%s/table" % sw["id"])
        check(t["columns"] == ["index", "/run/seed", "/run/record", "run_id", "status"],
              "zip columns (no metrics): %s" % t["columns"])
        check([row[1] for row in t["rows"]] == [5, 6, 7] and t["rows"][1][2] == {"vars": ["V"]},
              "zip rows: %s" % t["rows"])
        for row in t["rows"]:
            _, run = req(d, "GET", "/v1/runs/" + row[3])
            check(run["model_id"] == m["id"], "zip run uses the model_id")
            _, rq = req(d, "GET", "/v1/runs/%s/request" % row[3])
            check(rq["seed"] == row[1] and rq["record"] == row[2] and rq["model_id"] == m["id"],
                  "the stored request of point %d: %s" % (row[0], rq))
        r = http(d.port, "GET", "/v1/sweeps/%s/table?format=csv" % sw["id"])
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8"), newline="")))
        check(rows[2][2] == '{"vars":["V"]}' and '"{""vars"":[""V""]}"' in r.body.decode(),
              "a JSON axis value in CSV is its quoted compact JSON: %s" % rows[2])
        # metrics in the base run (none in the sweep): their columns are in the table
        doc = {"model_id": m["id"], "axes": [{"path": "/run/seed", "values": [1, 2]}],
               "run": dict(RUN, metrics={"windows": [{"name": "w", "var": "r", "from": 0,
                                                      "to": 100}]})}
        r, sw2 = req(d, "POST", "/v1/sweeps", doc)
        check(r.status == 202, "base run with metrics: %s %s" % (r.status, sw2))
        wait_sweep(d, sw2["id"])
        _, t2 = req(d, "GET", "/v1/sweeps/%s/table" % sw2["id"])
        k = t2["columns"].index("w.mean.E") if "w.mean.E" in t2["columns"] else None
        check(k is not None and all(isinstance(row[k], float) for row in t2["rows"]),
              "the base run's metrics in the table: %s" % t2)
        # a model axis on a stored base: the point whose value is the base's own runs on the
        # base model (no copy of it is made); the other value gets one new model
        base_a = MODEL["recurrent"]["A"]["E"]
        doc = {"model_id": m["id"], "run": RUN,
               "axes": [{"path": "/model/recurrent/A/E", "values": [base_a, base_a + 0.25]}]}
        r, sw4 = req(d, "POST", "/v1/sweeps", doc)
        check(r.status == 202 and len(sw4["models"]) == 2 and sw4["models"][0] == m["id"],
              "the base model is reused: %s %s" % (r.status, sw4))
        wait_sweep(d, sw4["id"])
        _, t4 = req(d, "GET", "/v1/sweeps/%s/table" % sw4["id"])
        used = [req(d, "GET", "/v1/runs/" + row[2])[1]["model_id"] for row in t4["rows"]]
        check(used[0] == m["id"] and used[1] == sw4["models"][1],
              "point 0 runs on the base, point 1 on the new model: %s" % used)
        # per-point labels: an axis patching /run/labels/<key> labels each point's run with its
        # value, beside the base run's own labels and the sweep's (which win on a clash)
        doc = {"model_id": m["id"], "mode": "zip", "labels": {"project": "zip"},
               "run": dict(RUN, labels={"kind": "base", "project": "run's own"}),
               "axes": [{"path": "/run/seed", "values": [1, 2]},
                        {"path": "/run/labels/seed", "values": ["one", "two"]}]}
        r, sw3 = req(d, "POST", "/v1/sweeps", doc)
        check(r.status == 202, "per-point labels: %s %s" % (r.status, sw3))
        wait_sweep(d, sw3["id"])
        _, page = req(d, "GET", "/v1/runs?label=seed:two&sweep_id=" + sw3["id"])
        items = page.get("items", [])
        check(len(items) == 1 and items[0]["labels"] == {"kind": "base", "project": "zip",
                                                          "seed": "two", "sweep": sw3["id"]},
              "a point's own labels: %s" % items)
        check(http(d.port, "GET", "/v1/sweeps/s_000000000000000000000000").status == 404,
              "an unknown sweep is 404")
        check(http(d.port, "DELETE", "/v1/sweeps/s_000000000000000000000000").status == 404,
              "DELETE an unknown sweep is 404")
    finally:
        d.stop_checked(BAD)


def scenario_invalid(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--max-sweep-points", "20",
                        "--max-sweep-check-bytes", "80K", "--queue-limit", "10"])
    try:
        r, m = req(d, "POST", "/v1/models", MODEL)
        before = (count(d, "/v1/models"), count(d, "/v1/runs"), count(d, "/v1/sweeps"))
        # a model field of point 7 (A.E = -0.1 with the 4th seed)
        doc = sweep_doc(axes=[{"path": "/model/recurrent/A/E", "values": [0.0, -0.1, 0.5]},
                              {"path": "/run/seed", "values": SEEDS}])
        r, p = req(d, "POST", "/v1/sweeps", doc)
        check(r.status == 422 and p.get("field") == "/model/recurrent/A/E" and p.get("point") == 4
              and p.get("axes") == {"/model/recurrent/A/E": -0.1, "/run/seed": 1}
              and p.get("detail", "").startswith("point 4 (/model/recurrent/A/E = -0.1, "
                                                 "/run/seed = 1): ")
              and r.header("Content-Type") == "application/problem+json",
              "a bad model point: %s %s" % (r.status, p))
        # a run field of point 6, on a stored model
        doc = {"model_id": m["id"], "run": RUN,
               "axes": [{"path": "/run/dt", "values": [0.1, 0.05, 0.2]},
                        {"path": "/run/record/every", "values": [1, 2, 0]}]}
        r, p = req(d, "POST", "/v1/sweeps", doc)
        check(r.status == 422 and p.get("field") == "/run/record/every" and p.get("point") == 2
              and p.get("axes") == {"/run/dt": 0.1, "/run/record/every": 0},
              "a bad run point: %s %s" % (r.status, p))
        # a path that does not exist, the sweep's metrics, a bad label, an unknown model
        r, p = req(d, "POST", "/v1/sweeps", sweep_doc(axes=[{"path": "/run/nope/x", "values": [1]}]))
        check(r.status == 422 and p.get("field") == "/run/nope/x" and p.get("point") == 0,
              "a path through a missing member: %s %s" % (r.status, p))
        bad_metrics = {"windows": [{"var": "r", "from": 0, "to": T + 1}]}
        r, p = req(d, "POST", "/v1/sweeps", sweep_doc(metrics=bad_metrics))
        check(r.status == 422 and (p.get("field") or "").startswith("/metrics/windows/0"),
              "the sweep's metrics: %s %s" % (r.status, p))
        r, p = req(d, "POST", "/v1/sweeps", sweep_doc(labels={"bad key": "x"}))
        check(r.status == 422 and (p.get("field") or "").startswith("/labels"),
              "a bad label: %s %s" % (r.status, p))
        r, p = req(d, "POST", "/v1/sweeps", {"model_id": "m_000000000000000000000000",
                                             "run": RUN, "axes": [{"path": "/run/seed",
                                                                    "values": [1]}]})
        check(r.status == 422 and p.get("field") == "/model_id", "unknown model: %s %s"
              % (r.status, p))
        # a V0 naming no run
        r, p = req(d, "POST", "/v1/sweeps",
                   sweep_doc(run=dict(RUN, V0={"run_id": "r_000000000000000000000000"})))
        check(r.status == 422 and p.get("field") == "/run/V0/run_id" and p.get("point") == 0,
              "V0 naming no run: %s %s" % (r.status, p))
        # limits: points, check bytes, queue
        r, p = req(d, "POST", "/v1/sweeps",
                   sweep_doc(axes=[{"path": "/run/seed", "values": list(range(21))}]))
        check(r.status == 422 and p.get("field") == "/axes", "21 points over 20: %s %s"
              % (r.status, p))
        r, p = req(d, "POST", "/v1/sweeps",
                   sweep_doc(axes=[{"path": "/run/seed", "values": list(range(20))}]))
        check(r.status == 422 and p.get("field") == "/run" and "--max-sweep-check-bytes"
              in p.get("detail", ""), "20 points x ~5 KB over 80K: %s %s" % (r.status, p))
        r, p = req(d, "POST", "/v1/sweeps", sweep_doc())  # 12 runs, queue limit 10
        check(r.status == 503 and r.header("Retry-After"), "a full queue: %s %s %s"
              % (r.status, r.header("Retry-After"), p))
        after = (count(d, "/v1/models"), count(d, "/v1/runs"), count(d, "/v1/sweeps"))
        check(after == before, "nothing stored by refused sweeps: %s -> %s" % (before, after))
    finally:
        d.stop_checked(BAD)


# Long runs: about 1 s each on one thread.
LONG_RUN = {"dt": 0.01, "inputs": {"steps": 3000000, "trials": 1},
            "record": {"vars": ["r"], "every": 100000}}
LONG_METRICS = {"windows": [{"name": "late", "var": "r", "from": 2000000, "to": 3000000}]}


def long_sweep(n):
    model = copy.deepcopy(MODEL)
    model["noise"] = {"sigma": 0.0}
    return {"model": model, "run": LONG_RUN, "metrics": LONG_METRICS,
            "axes": [{"path": "/run/seed", "values": list(range(1, n + 1))}]}


def wait_counts(d, sid, pred, timeout=120):
    deadline = time.monotonic() + timeout * time_scale()
    while True:
        _, sw = req(d, "GET", "/v1/sweeps/" + sid)
        if pred(sw["counts"]) or time.monotonic() > deadline:
            return sw
        time.sleep(0.05)


def scenario_cancel(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--threads-per-run", "1"])
    try:
        r, sw = req(d, "POST", "/v1/sweeps", long_sweep(6))
        if not check(r.status == 202, "long sweep: %s %s" % (r.status, sw)):
            return
        sid = sw["id"]
        sw = wait_counts(d, sid, lambda c: c["succeeded"] >= 1 and c["running"] == 1)
        check(sw["status"] == "running", "half done: %s" % sw)
        r = http(d.port, "DELETE", "/v1/sweeps/" + sid)
        check(r.status == 409 and b"cancel it first" in r.body, "DELETE while running: %s %s"
              % (r.status, r.body))
        r, c = req(d, "POST", "/v1/sweeps/%s/cancel" % sid)
        check(r.status == 202 and c["counts"]["queued"] == 0, "cancel: %s %s" % (r.status, c))
        sw = wait_sweep(d, sid)
        n = sw["counts"]
        check(sw["status"] == "finished" and n["queued"] == 0 and n["running"] == 0
              and n["succeeded"] >= 1 and n["cancelled"] >= 4
              and n["succeeded"] + n["cancelled"] == 6, "after cancel: %s" % sw)
        _, t = req(d, "GET", "/v1/sweeps/%s/table" % sid)
        for row in t["rows"]:
            cell = dict(zip(t["columns"], row))
            if cell["status"] == "succeeded":
                check(isinstance(cell["late.mean.E"], float), "metrics of a finished point")
            else:
                check(cell["late.mean.E"] is None, "null metrics of a cancelled point: %s" % row)
        print("cancel: %s" % n)
        r = http(d.port, "DELETE", "/v1/sweeps/" + sid)
        check(r.status == 204, "DELETE after the cancel: %s" % r.status)
    finally:
        d.stop_checked(BAD)


def scenario_kill9(eirnnd):
    d = Daemon(eirnnd, ["--workers", "1", "--threads-per-run", "1"])
    keep, db = d.dir + "-kept", None
    sid = None
    try:
        r, sw = req(d, "POST", "/v1/sweeps", long_sweep(5))
        if not check(r.status == 202, "long sweep: %s %s" % (r.status, sw)):
            return
        sid = sw["id"]
        sw = wait_counts(d, sid, lambda c: c["succeeded"] >= 2 and c["running"] == 1)
        check(sw["counts"]["queued"] >= 1, "half done before kill -9: %s" % sw["counts"])
        d.proc.kill()
        d.proc.wait()
        db = kept_db(d, keep)
    finally:
        d.kill()
    if sid is None:
        return
    try:
        w = Daemon(eirnnd, ["--workers", "1", "--threads-per-run", "1", "--db", db])
        try:
            sw = wait_sweep(w, sid)
            check(sw["status"] == "finished" and sw["counts"]["succeeded"] == 5,
                  "after kill -9 and a restart: %s" % sw)
            _, t = req(w, "GET", "/v1/sweeps/%s/table" % sid)
            check(len(t["rows"]) == 5 and all(v is not None for row in t["rows"]
                                              for v, c in zip(row, t["columns"])
                                              if c != "diverged_step"),
                  "complete table after the restart: %s" % t["rows"])
        finally:
            w.stop_checked(BAD)
    finally:
        drop_kept(db, keep)


def scenario_idempotency(eirnnd):
    d = Daemon(eirnnd, ["--workers", "0"])
    try:
        doc = sweep_doc()
        key = [("Idempotency-Key", "sweep-1")]
        r1, s1 = req(d, "POST", "/v1/sweeps", doc, headers=key)
        r2, s2 = req(d, "POST", "/v1/sweeps", doc, headers=key)
        check(r1.status == 202 and r2.status == 200 and s1["id"] == s2["id"]
              and r2.header("Idempotent-Replayed") == "true" and s2["models"] == s1["models"]
              and s2["status"] == "queued", "replay: %s %s %s" % (r1.status, r2.status, s2))
        r3, p = req(d, "POST", "/v1/sweeps", sweep_doc(name="other"), headers=key)
        check(r3.status == 422 and "Idempotency-Key" in p.get("detail", ""),
              "the key with another body: %s %s" % (r3.status, p))
        check(count(d, "/v1/runs") == 12 and count(d, "/v1/sweeps") == 1,
              "one sweep stored once")
        # paging: newest first, limit, cursor and the Link of the next page (label kept)
        ids = [s1["id"]]
        for k in range(2):
            time.sleep(0.01)  # newest first: distinct creation times
            r, sw = req(d, "POST", "/v1/sweeps", sweep_doc(name="page%d" % k))
            ids.append(sw["id"])
        r, p1 = req(d, "GET", "/v1/sweeps?limit=2&label=project:isn")
        link = r.header("Link") or ""
        check([x["id"] for x in p1["items"]] == ids[::-1][:2] and p1["next_cursor"]
              and "label=project%3Aisn" in link and 'rel="next"' in link,
              "first page: %s, Link %s" % ([x["id"] for x in p1["items"]], link))
        nxt = link[link.index("<") + 1:link.index(">")]
        _, p2 = req(d, "GET", nxt)
        check([x["id"] for x in p2["items"]] == ids[:1] and p2["next_cursor"] is None,
              "second page: %s" % p2)
    finally:
        d.stop_checked(BAD)


SCENARIOS = {"grid": scenario_grid, "zip": scenario_zip_and_ids, "invalid": scenario_invalid,
             "cancel": scenario_cancel, "kill9": scenario_kill9,
             "idempotency": scenario_idempotency}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--only", choices=sorted(SCENARIOS))
    a = ap.parse_args()
    for name, fn in SCENARIOS.items():
        if a.only and name != a.only:
            continue
        print("--", name)
        fn(a.eirnnd)
    print("api/sweeps: %s" % ("FAILED (%d)" % len(BAD) if BAD else "OK"))
    return 1 if BAD else 0


if __name__ == "__main__":
    sys.exit(main())
