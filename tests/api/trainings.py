#!/usr/bin/env python3
"""api/trainings: trainings as jobs of the service (issue 15; docs/API.md "Trainings").

    trainings.py --eirnnd PATH

1. POST /v1/trainings refuses bad documents with 422 problem+json naming the field as a JSON
   pointer (the document's own fields, the model against the task, a stored model that does
   not fit), 404 for an unknown model id, 400 for a bad Idempotency-Key; nothing is queued.
2. A PDM training of a small gated network by model id: 202 with Location and a "t_" id,
   then succeeded with progress iterations/iterations, a new model whose GET shows the
   provenance "training": id, the final loss and evaluation (accuracy, ideal observer,
   psychometric curve) in the job document and "latest" the last curve row.
3. The curve: one row per iteration, eval_accuracy at the evaluate.every iterations only; ?after
   gives the rows after an iteration; ?limit pages with next_after and a Link; CSV has the same
   values; bad parameters are 400 naming them.
4. The trained model is usable by a run, an analysis and another training, lists and filters,
   the request as stored; another kind's routes do not show the training.
5. An inline model trains too; the same document twice gives the same model hash.
6. Idempotency-Key: the same key and body replay (200, Idempotent-Replayed); another body 422.
7. A long training shows progress and its curve while it runs, then a cancel stops it
   (cancelled, its curve kept); delete answers 409 while running, 204 after; the model of a
   deleted training stays with its provenance.
8. A training whose forward pass diverges ends failed with a problem saying so.
9. /metrics counts the trainings.
10. The other built-in tasks, a custom task (MSE), a generated (pending) model train; a training
    past its time_limit ends failed naming /time_limit.
Exit 0 when all hold.
"""
import argparse
import csv
import io
import json
import math
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from analysis_common import Api, Daemon, http, time_scale, verdict  # noqa: E402
from training_docs import model_doc, training_doc  # noqa: E402

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def post(api, doc, headers=()):
    r = http(api.d.port, "POST", "/v1/trainings", json.dumps(doc), headers=headers, timeout=120)
    j = json.loads(r.body) if r.body[:1] in b"{[" else None
    return r, j


def wait_training(api, tid, timeout=600):
    return api.wait("/v1/trainings/" + tid, timeout)


def refused(api, doc, field, status=422, what=None):
    r, j = post(api, doc)
    ok = check(r.status == status, "%s: %s %s" % (what or field, r.status, j))
    ok = ok and check(r.header("Content-Type", ) == "application/problem+json",
                      "%s: content type %s" % (what or field, r.header("Content-Type")))
    if ok and field is not None:
        check(j.get("field") == field, "%s: field %s (%s)" % (what or field, j.get("field"),
                                                             j.get("detail")))
    return j


def bad_documents(api, mid):
    """Part 1."""
    base = training_doc(mid)
    cases = [
        ({k: v for k, v in base.items() if k != "model"}, "/model"),
        (dict(base, optimizer={"name": "adam", "lr": -1}), "/optimizer/lr"),
        (dict(base, trainable=["W", "P", "bogus"]), "/trainable/2"),
        (dict(base, batch=0), "/batch"),
        (dict(base, iterations=0), "/iterations"),
        (dict(base, dt=-20), "/dt"),
        (dict(base, integrator="rk4"), "/integrator"),
        (dict(base, task={"name": "no_such_task"}), "/task/name"),
        (dict(base, task={"name": "perceptual_decision_making",
                          "timing": {"stimulus": {"uniform": [400, 100]}}}),
         "/task/timing/stimulus/uniform"),
        (dict(base, priority=5000), "/priority"),
        (dict(base, surprise=1), "/surprise"),
        (dict(base, model=model_doc(n_in=2)), "/model/n_inputs"),
        (dict(base, model=model_doc(readout=False)), "/model/readout"),
        (dict(base, model=model_doc(n_out=2)), "/model/readout"),
        (dict(base, model=dict(model_doc(), leak=-1)), "/model/leak"),
        (dict(base, labels={"k": 3}), "/labels/k"),
    ]
    for doc, field in cases:
        refused(api, doc, field)
    # a stored model that does not fit the task: named at /model
    st, m = api.call("POST", "/v1/models", model_doc(n_in=2, name="two inputs"))
    check(st == 201, "model with 2 inputs: %s %s" % (st, m))
    refused(api, training_doc(m["id"]), "/model", what="stored model with 2 inputs")
    refused(api, training_doc("m_000000000000000000000000"), "/model", 404, "unknown model")
    r = http(api.d.port, "POST", "/v1/trainings", json.dumps(base),
             headers=[("Idempotency-Key", "")])
    check(r.status == 400, "empty Idempotency-Key: %s" % r.status)
    r = http(api.d.port, "POST", "/v1/trainings", "{not json")
    check(r.status == 400, "malformed JSON: %s" % r.status)
    st, lst = api.call("GET", "/v1/trainings")
    check(st == 200 and lst["items"] == [], "refused documents queued something: %s" % lst)


def curve(api, tid, query=""):
    st, j = api.call("GET", "/v1/trainings/%s/curve%s" % (tid, query))
    check(st == 200, "curve %s%s: %s %s" % (tid, query, st, j))
    return j or {}


def check_curve(api, t, doc):
    """Part 3."""
    tid, n, every = t["id"], doc["iterations"], doc["evaluate"]["every"]
    c = curve(api, tid)
    rows = c.get("rows", [])
    check([r["iteration"] for r in rows] == list(range(1, n + 1)),
          "curve iterations: %s" % [r["iteration"] for r in rows][:50])
    check(c.get("next_after") is None and c.get("status") == "succeeded",
          "curve of a finished training: next_after %s, status %s" % (c.get("next_after"),
                                                                     c.get("status")))
    for r in rows:
        if not check(all(isinstance(r[k], float) and math.isfinite(r[k])
                         for k in ("loss", "task_loss", "grad_norm")), "row %s" % r):
            break
        evaluated = r["iteration"] % every == 0
        if not check((r["eval_accuracy"] is not None) == evaluated,
                     "eval_accuracy at iteration %d: %s" % (r["iteration"], r["eval_accuracy"])):
            break
        if evaluated:
            check(0 <= r["eval_accuracy"] <= 1, "eval_accuracy %s" % r["eval_accuracy"])
    check(t.get("latest") == (rows[-1] if rows else None),
          "latest %s, last row %s" % (t.get("latest"), rows[-1] if rows else None))
    check(t["loss"]["total"] == rows[-1]["loss"], "final loss %s, last row's %s" %
          (t["loss"], rows[-1]["loss"]))
    after = curve(api, tid, "?after=%d" % (n - 5))
    check([r["iteration"] for r in after.get("rows", [])] == list(range(n - 4, n + 1)),
          "?after=%d: %s" % (n - 5, after.get("rows")))
    check(after.get("rows") == rows[n - 5:], "?after rows differ from the full curve's")
    check(curve(api, tid, "?after=%d" % n).get("rows") == [], "?after=last is not empty")
    page = curve(api, tid, "?limit=7")
    check(len(page.get("rows", [])) == 7 and page.get("next_after") == 7,
          "?limit=7: %d rows, next_after %s" % (len(page.get("rows", [])),
                                                page.get("next_after")))
    r = http(api.d.port, "GET", "/v1/trainings/%s/curve?limit=7&after=7" % tid)
    check(r.status == 200 and 'after=14' in (r.header("Link") or ""),
          "paged curve's Link: %s" % r.header("Link"))
    r = http(api.d.port, "GET", "/v1/trainings/%s/curve?format=csv" % tid)
    check(r.status == 200 and r.header("Content-Type").startswith("text/csv"),
          "CSV curve: %s %s" % (r.status, r.header("Content-Type")))
    table = list(csv.reader(io.StringIO(r.body.decode())))
    cols = ["iteration", "loss", "task_loss", "l2_weights", "l2_rates", "grad_norm", "accuracy",
            "eval_accuracy"]
    check(table and table[0] == cols, "CSV header: %s" % (table[0] if table else None))
    for line, row in zip(table[1:], rows):
        want = [str(row["iteration"])] + [row[k] for k in cols[1:]]
        got = [line[0]] + [float(v) if v else None for v in line[1:]]
        if not check(got == want, "CSV row %s != JSON row %s" % (line, row)):
            break
    check(len(table) == n + 1, "CSV lines: %d" % len(table))
    r = http(api.d.port, "GET", "/v1/trainings/%s/curve?format=csv&after=%d" % (tid, n - 2))
    check(r.body.decode().count("\n") == 3, "CSV ?after: %r" % r.body[:300])
    for q, name in (("?format=xml", "format"), ("?after=-1", "after"), ("?limit=0", "limit"),
                    ("?after=x", "after"), ("?bogus=1", "bogus")):
        r = http(api.d.port, "GET", "/v1/trainings/%s/curve%s" % (tid, q))
        j = json.loads(r.body) if r.body[:1] == b"{" else {}
        check(r.status == 400 and j.get("parameter") == name,
              "curve%s: %s %s" % (q, r.status, j))
    st, _ = api.call("GET", "/v1/trainings/t_000000000000000000000000/curve")
    check(st == 404, "curve of an unknown training: %s" % st)


def check_done(api, t, doc, mid):
    """Part 2: the finished job document and its model."""
    n = doc["iterations"]
    check(t["status"] == "succeeded", "training ended %s: %s" % (t["status"], t.get("error")))
    check(t["kind"] == "training" and t["task"] == "perceptual_decision_making",
          "kind/task: %s %s" % (t.get("kind"), t.get("task")))
    check(t["initial_model_id"] == mid, "initial_model_id %s" % t.get("initial_model_id"))
    check(t["progress"]["done"] == n and t["progress"]["total"] == n,
          "progress %s" % t["progress"])
    check(t["iterations"] == n, "iterations %s" % t.get("iterations"))
    check(isinstance(t.get("wall_s"), float) and t["wall_s"] > 0, "wall_s %s" % t.get("wall_s"))
    ev = t.get("evaluation") or {}
    check(ev.get("trials") == doc["test"]["trials"], "evaluation trials %s" % ev.get("trials"))
    check(0 <= ev.get("accuracy", -1) <= 1, "evaluation accuracy %s" % ev.get("accuracy"))
    check(isinstance(ev.get("ideal"), float) and 0.5 <= ev["ideal"] <= 1,
          "ideal observer %s" % ev.get("ideal"))
    psy = ev.get("psychometric") or []
    check(len(psy) >= 2 and all(set(p) >= {"coherence", "n", "p_choice2"} for p in psy),
          "psychometric %s" % psy)
    check(sum(p["n"] for p in psy) == doc["test"]["trials"], "psychometric counts %s" % psy)
    new = t.get("model_id")
    check(isinstance(new, str) and new.startswith("m_") and new != mid, "model_id %s" % new)
    check(t["links"].get("model") == "/v1/models/%s" % new, "links %s" % t["links"])
    st, m = api.call("GET", "/v1/models/%s" % new)
    check(st == 200 and m.get("training") == t["id"] and m.get("state") == "ready",
          "trained model: %s %s" % (st, m))
    return new


def use_model(api, new):
    """Part 4: a run and an analysis of the trained model."""
    inputs = [[[0.0, 0.5, 0.1]] * 10]
    run = api.run({"model_id": new, "dt": 20, "inputs": inputs,
                   "record": {"vars": ["y"], "every": 1}})
    check(run["status"] == "succeeded", "run of the trained model: %s" % run)
    y = api.run_result(run, "y")
    check(y.shape == (1, 10, 3) and bool((abs(y) < 1e6).all()), "y of the trained model")
    a = api.analysis({"kind": "spectrum", "model_id": new, "of": "W"}, ok=False)
    check(a["status"] == "succeeded", "spectrum of the trained model: %s" % a)
    # a trained model (base64 arrays) trains again
    r, t = post(api, training_doc(new, iterations=5))
    t = wait_training(api, t["id"]) if r.status == 202 else t
    check(r.status == 202 and t["status"] == "succeeded" and t["initial_model_id"] == new,
          "training of a trained model: %s %s" % (r.status, t))


def lists_and_kinds(api, t, body):
    tid = t["id"]
    st, lst = api.call("GET", "/v1/trainings?task=perceptual_decision_making&status=succeeded")
    check(st == 200 and tid in [it["id"] for it in lst["items"]], "list by task: %s" % lst)
    st, lst = api.call("GET", "/v1/trainings?task=context_decision_making")
    check(st == 200 and lst["items"] == [], "list by another task: %s" % lst)
    r = http(api.d.port, "GET", "/v1/trainings?task=bogus")
    check(r.status == 400, "?task=bogus: %s" % r.status)
    st, lst = api.call("GET", "/v1/trainings?model_id=%s" % t["initial_model_id"])
    check(st == 200 and tid in [it["id"] for it in lst["items"]], "list by model: %s" % lst)
    for path in ("/v1/runs/" + tid, "/v1/analyses/" + tid):
        st, _ = api.call("GET", path)
        check(st == 404, "GET %s: %s" % (path, st))
    st, runs = api.call("GET", "/v1/runs")
    check(tid not in [it["id"] for it in runs["items"]], "the training is in /v1/runs")
    r = http(api.d.port, "GET", "/v1/trainings/%s/request" % tid)
    check(r.status == 200 and r.body == body.encode(), "request as stored: %r" % r.body[:200])


def idempotency(api, mid):
    """Part 6."""
    doc = training_doc(mid, iterations=5, labels={"kind": "idem"})
    key = [("Idempotency-Key", "train-1")]
    r1, j1 = post(api, doc, key)
    r2, j2 = post(api, doc, key)
    check(r1.status == 202 and r2.status == 200 and j1["id"] == j2["id"],
          "replay: %s %s, ids %s %s" % (r1.status, r2.status, j1.get("id"), j2.get("id")))
    check(r2.header("Idempotent-Replayed") == "true", "Idempotent-Replayed missing")
    r3, j3 = post(api, dict(doc, iterations=6), key)
    check(r3.status == 422 and "Idempotency-Key" in (j3 or {}).get("detail", ""),
          "another body with the key: %s %s" % (r3.status, j3))
    t = wait_training(api, j1["id"])
    check(t["status"] == "succeeded" and t["labels"] == {"kind": "idem"},
          "idempotent training: %s %s" % (t["status"], t.get("labels")))


def long_training(api, mid):
    """Part 7: progress while it runs, cancel, delete."""
    doc = training_doc(mid, iterations=1000000, checkpoint_every=500)
    r, t = post(api, doc)
    if not check(r.status == 202, "long training: %s %s" % (r.status, t)):
        return
    tid = t["id"]
    deadline = time.monotonic() + 60 * time_scale()
    while True:
        st, t = api.call("GET", "/v1/trainings/" + tid)
        if t["progress"]["done"] >= 30 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check(t["status"] == "running" and t["progress"]["done"] >= 30,
          "long training: %s %s" % (t["status"], t["progress"]))
    latest = t.get("latest") or {}
    check(latest.get("iteration") == t["progress"]["done"],
          "latest row %s at progress %s" % (latest.get("iteration"), t["progress"]))
    c = curve(api, tid)
    check(len(c.get("rows", [])) >= 30 and c.get("status") == "running",
          "curve while running: %d rows, %s" % (len(c.get("rows", [])), c.get("status")))
    st, t2 = api.call("GET", "/v1/trainings/%s?wait=10&progress=%d" % (tid, t["progress"]["done"]))
    check(st == 200 and t2["progress"]["done"] > t["progress"]["done"],
          "progress long poll: %s" % t2.get("progress"))
    r = http(api.d.port, "DELETE", "/v1/trainings/" + tid)
    check(r.status == 409, "DELETE while running: %s" % r.status)
    r = http(api.d.port, "DELETE", "/v1/models/" + mid)
    check(r.status == 409 and b"/v1/trainings?model_id=" in r.body,
          "DELETE of the model a training uses: %s %r" % (r.status, r.body[:300]))
    r = http(api.d.port, "POST", "/v1/trainings/%s/cancel" % tid, "")
    check(r.status in (200, 202), "cancel: %s" % r.status)
    t0 = time.monotonic()
    t = wait_training(api, tid, 60)
    check(t["status"] == "cancelled", "cancelled training: %s %s" % (t["status"], t.get("error")))
    check(time.monotonic() - t0 < 5 * time_scale(), "the cancel took %.1f s" %
          (time.monotonic() - t0))
    check(t["model_id"] is None, "a cancelled training has a model: %s" % t["model_id"])
    done = t["progress"]["done"]
    c = curve(api, tid)
    check(len(c.get("rows", [])) >= done > 0, "curve after the cancel: %d rows, progress %d" %
          (len(c.get("rows", [])), done))
    r = http(api.d.port, "POST", "/v1/trainings/%s/cancel" % tid, "")
    check(r.status == 200 and json.loads(r.body)["status"] == "cancelled",
          "cancel of a cancelled training: %s" % r.status)
    r = http(api.d.port, "DELETE", "/v1/trainings/" + tid)
    check(r.status == 204, "DELETE: %s" % r.status)
    for path in ("", "/curve", "/request"):
        st, _ = api.call("GET", "/v1/trainings/%s%s" % (tid, path))
        check(st == 404, "GET after DELETE %s: %s" % (path, st))


def diverging(api):
    """Part 8: Adam steps of 1e6 on an rnn without clipping overflow the forward pass (trials
    of over 100 steps: the rates grow about 1e7-fold a step)."""
    doc = training_doc(model_doc(cls="rnn"), iterations=50,
                       optimizer={"name": "adam", "lr": 1e6, "clip_norm": 0},
                       evaluate={"every": 100, "trials": 0})
    doc["task"]["timing"]["stimulus"] = 2000
    r, t = post(api, doc)
    if not check(r.status == 202, "diverging training: %s %s" % (r.status, t)):
        return
    t = wait_training(api, t["id"])
    err = t.get("error") or {}
    check(t["status"] == "failed" and "diverged" in err.get("detail", "") and
          err.get("status") == 422, "diverging training: %s %s" % (t["status"], err))
    check(t["model_id"] is None, "a failed training has a model")


def other_tasks(api, mid):
    """Part 10: the other built-in tasks, a custom task, a generated model, the time limit."""
    cdm = training_doc(model_doc(n_in=7, seed=4), iterations=10,
                       task={"name": "context_decision_making",
                             "timing": {"fixation": 100, "stimulus": 200, "delay": 0,
                                        "decision": 100}})
    dms = training_doc(mid, iterations=10,
                       task={"name": "delay_match_sample",
                             "timing": {"fixation": 100, "sample": 100, "delay": 100,
                                        "test": 100, "decision": 100}})
    steps, trials = 6, 4
    inputs = [[[0.1 * ((b + t + c) % 3) for c in range(3)] for t in range(steps)]
              for b in range(trials)]
    targets = [[[0.5 if c == b % 3 else 0.0 for c in range(3)] for _ in range(steps)]
               for b in range(trials)]
    custom = training_doc(mid, iterations=10, loss={"name": "mse"},
                          task={"name": "custom", "inputs": inputs, "targets": targets},
                          batch=4, evaluate={"every": 5, "trials": 4}, test={"trials": 4})
    generated = dict(model_doc(), recurrent={
        "generate": {"seed": 9, "p": 0.5, "mean": 0.1, "cv": 0.5}, "A": 0.5},
        input={"generate": {"seed": 2, "mean": 0.2}})
    st, g = api.call("POST", "/v1/models", generated)
    check(st == 202, "generated model: %s %s" % (st, g))
    gen = training_doc(g["id"], iterations=10)
    for name, doc, task in (("cdm", cdm, "context_decision_making"),
                            ("dms", dms, "delay_match_sample"), ("custom", custom, "custom"),
                            ("generated", gen, "perceptual_decision_making")):
        r, t = post(api, doc)
        if not check(r.status == 202, "%s: %s %s" % (name, r.status, t)):
            continue
        t = wait_training(api, t["id"])
        check(t["status"] == "succeeded" and t["task"] == task,
              "%s training: %s %s %s" % (name, t["status"], t.get("task"), t.get("error")))
        ev = t.get("evaluation") or {}
        if name == "custom":
            check(ev.get("accuracy") is None and ev.get("psychometric") == [],
                  "custom evaluation: %s" % ev)
        if name == "dms":
            check(ev.get("ideal") is None and ev.get("psychometric") == [] and
                  0 <= ev.get("accuracy", -1) <= 1, "dms evaluation: %s" % ev)
    slow = training_doc(mid, iterations=1000000, time_limit=0.5)
    r, t = post(api, slow)
    if check(r.status == 202, "time-limited training: %s %s" % (r.status, t)):
        t = wait_training(api, t["id"], 60)
        err = t.get("error") or {}
        check(t["status"] == "failed" and err.get("field") == "/time_limit" and
              t["progress"]["done"] > 0, "time-limited training: %s %s %s" %
              (t["status"], t["progress"], err))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "1"])
    api = Api(d)
    try:
        st, m = api.call("POST", "/v1/models", model_doc())
        check(st == 201, "POST /v1/models: %s %s" % (st, m))
        mid = m["id"]
        bad_documents(api, mid)

        doc = training_doc(mid)
        body = json.dumps(doc)
        r = http(d.port, "POST", "/v1/trainings", body)
        t = json.loads(r.body)
        check(r.status == 202 and t["id"].startswith("t_") and len(t["id"]) == 26,
              "POST /v1/trainings: %s %s" % (r.status, t))
        check(r.header("Location") == "/v1/trainings/" + t["id"], "Location %s" %
              r.header("Location"))
        check(t["status"] in ("queued", "running") and t["progress"]["total"] == 40,
              "new training: %s %s" % (t["status"], t["progress"]))
        t = wait_training(api, t["id"])
        new = check_done(api, t, doc, mid)
        check_curve(api, t, doc)
        use_model(api, new)
        lists_and_kinds(api, t, body)

        # 5. an inline model; the same document twice gives the same model
        inline = training_doc(model_doc(), iterations=20)
        hashes = []
        for _ in range(2):
            r, t2 = post(api, inline)
            check(r.status == 202, "inline training: %s %s" % (r.status, t2))
            t2 = wait_training(api, t2["id"])
            check(t2["status"] == "succeeded" and t2["initial_model_id"] is None,
                  "inline training: %s %s" % (t2["status"], t2.get("error")))
            st, m2 = api.call("GET", "/v1/models/%s" % t2["model_id"])
            hashes.append(m2.get("hash"))
        check(hashes[0] == hashes[1] and hashes[0], "the same training twice: %s" % hashes)

        idempotency(api, mid)
        other_tasks(api, mid)
        long_training(api, mid)
        diverging(api)

        # the model of a deleted training stays, with its provenance
        r = http(d.port, "DELETE", "/v1/trainings/" + t["id"])
        check(r.status == 204, "DELETE a finished training: %s" % r.status)
        st, m = api.call("GET", "/v1/models/" + new)
        check(st == 200 and m.get("training") == t["id"],
              "the model of a deleted training: %s %s" % (st, m))

        r = http(d.port, "GET", "/metrics")
        text = r.body.decode()
        check('eirnn_trainings_finished_total{status="succeeded"} 9' in text and
              'eirnn_trainings_finished_total{status="cancelled"} 1' in text and
              'eirnn_trainings_finished_total{status="failed"} 2' in text and
              "eirnn_trainings_submitted_total 12" in text and
              'eirnn_trainings{status="succeeded"} 8' in text,
              "metrics: %s" % [ln for ln in text.splitlines() if "training" in ln])
        if not BAD:
            print("api/trainings: ok (trained %s, hash %s; inline twice: same hash)" %
                  (new, hashes[0][:16]))
    except Exception:  # noqa: BLE001 - report it as a failure
        traceback.print_exc()
        BAD.append("exception")
    finally:
        bad = []
        d.stop_checked(bad)
        BAD.extend(bad)
    return verdict(BAD)


if __name__ == "__main__":
    sys.exit(main())
