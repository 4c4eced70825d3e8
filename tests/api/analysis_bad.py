#!/usr/bin/env python3
"""api/analysis_bad: bad analysis requests of every kind are refused at POST /v1/analyses with
a problem naming the field as a JSON pointer (issue 11, section 3; docs/ANALYSIS.md).

    analysis_bad.py --eirnnd PATH

A table of cases (wrong or missing kind, missing "at", V of the wrong length, a run of another
model, a step not recorded, activity of a variable not recorded, a negative count, unknown
fields, ...): each answers 4xx (422, or 400 for a body that is not an analysis object) with
"field" equal to the pointer expected, and nothing is queued. A good request of each kind is
accepted (202) with the same fixtures, so that the refusals are the fields' doing. A state of a
run that recorded every cell but out of order is refused by the worker: the job fails naming
/at/run_id. An analysis larger than --max-run-memory-bytes is refused naming the field that makes
it large.
Exit 0 when all hold.
"""
import argparse

from analysis_common import Api, Daemon, verdict

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def fixtures(api):
    n = 6
    W = [[(0.1 * ((i * 7 + j * 3) % 5) - 0.2) if i != j else 0.0 for j in range(n)]
         for i in range(n)]
    rnn = api.model({"class": "rnn", "populations": {"E": 4, "I": 2}, "n_inputs": 2,
                     "activation": {"name": "tanh"}, "leak": 1.0, "recurrent": {"W": W},
                     "input": {"P": [[0.5, -0.5]] * n}})
    Wg = [[0.0 if i == j else (0.3 if j < 4 else -0.6) for j in range(n)] for i in range(n)]
    gated = api.model({"class": "gated", "populations": {"E": 4, "I": 2},
                       "activation": {"name": "relu"}, "leak": 1.0,
                       "recurrent": {"W": Wg, "A": 0.5}, "bias": 0.3})
    run_v = api.run({"model_id": rnn, "dt": 0.1, "inputs": {"steps": 10, "trials": 2},
                     "record": {"vars": ["V"], "every": 2}})
    run_sub = api.run({"model_id": rnn, "dt": 0.1, "inputs": {"steps": 10},
                       "record": {"vars": ["V", "r"], "neurons": [0, 2]}})
    run_g = api.run({"model_id": gated, "dt": 0.1, "inputs": {"steps": 10},
                     "record": {"vars": ["V", "r"]}})
    spec = api.analysis({"kind": "spectrum", "model_id": rnn, "of": "W"})
    fp = api.analysis({"kind": "fixed_points", "model_id": rnn,
                       "starts": {"random": {"count": 3}}})
    return rnn, gated, run_v["id"], run_sub["id"], run_g["id"], spec["id"], fp["id"]


def cases(rnn, gated, run_v, run_sub, run_g, spec, fp):
    s = {"kind": "spectrum", "model_id": rnn}
    f = {"kind": "fixed_points", "model_id": rnn}
    ly = {"kind": "lyapunov", "model_id": rnn}
    ac = {"kind": "activity"}

    def w(base, **kw):
        d = dict(base)
        d.update(kw)
        return d

    return [
        ("not an object", [1, 2], ""),
        ("missing kind", {"model_id": rnn}, "/kind"),
        ("wrong kind", {"kind": "eigen", "model_id": rnn}, "/kind"),
        ("kind not a string", {"kind": 3, "model_id": rnn}, "/kind"),
        ("no model", {"kind": "spectrum", "of": "W"}, "/model_id"),
        ("model and model_id", w(s, of="W", model={"populations": {"E": 1, "I": 0}}), "/model"),
        ("unknown model", w(s, of="W", model_id="m_000000000000000000000000"), "/model_id"),
        ("unknown field", w(s, of="W", colour="red"), "/colour"),
        ("option of another kind", w(s, of="W", k=2), "/k"),
        ("spectrum: wrong of", w(s, of="K"), "/of"),
        ("spectrum: missing at", s, "/at"),
        ("spectrum: at with of W", w(s, of="W", at={"V": [0] * 6}), "/at"),
        ("spectrum: x with of W", w(s, of="W", x=[0, 0]), "/x"),
        ("spectrum: M of an rnn model", w(s, of="M"), "/of"),
        ("spectrum: eigenvectors not boolean", w(s, of="W", eigenvectors=1), "/eigenvectors"),
        ("spectrum: V of wrong length", w(s, at={"V": [0.1] * 5}), "/at/V"),
        ("spectrum: V not numbers", w(s, at={"V": [0.1] * 5 + ["a"]}), "/at/V/5"),
        ("spectrum: at empty", w(s, at={}), "/at"),
        ("spectrum: at mixed", w(s, at={"V": [0] * 6, "run_id": run_v}), "/at/run_id"),
        ("spectrum: x of wrong length", w(s, at={"V": [0] * 6}, x=[1.0]), "/x"),
        ("spectrum: run id malformed", w(s, at={"run_id": "r_12"}), "/at/run_id"),
        ("spectrum: run does not exist",
         w(s, at={"run_id": "r_0123456789abcdef01234567"}), "/at/run_id"),
        ("spectrum: run of another model", w(s, at={"run_id": run_g}), "/at/run_id"),
        ("spectrum: step not recorded", w(s, at={"run_id": run_v, "step": 3}), "/at/step"),
        ("spectrum: step past T", w(s, at={"run_id": run_v, "step": 12}), "/at/step"),
        ("spectrum: step 0", w(s, at={"run_id": run_v, "step": 0}), "/at/step"),
        ("spectrum: step before the first row", w(s, at={"run_id": run_v, "step": -6}),
         "/at/step"),
        ("spectrum: trial out of range", w(s, at={"run_id": run_v, "trial": 2}), "/at/trial"),
        ("spectrum: negative trial", w(s, at={"run_id": run_v, "trial": -1}), "/at/trial"),
        ("spectrum: run recording a subset", w(s, at={"run_id": run_sub}), "/at/run_id"),
        ("spectrum: analysis not fixed_points", w(s, at={"analysis_id": spec}),
         "/at/analysis_id"),
        ("spectrum: analysis index out of range", w(s, at={"analysis_id": fp, "index": 99}),
         "/at/index"),
        ("spectrum: analysis of another model",
         {"kind": "spectrum", "model_id": gated, "at": {"analysis_id": fp}}, "/at/analysis_id"),
        ("fixed_points: negative count", w(f, starts={"random": {"count": -1}}),
         "/starts/random/count"),
        ("fixed_points: too many starts", w(f, starts={"random": {"count": 10001}}),
         "/starts/random/count"),
        ("fixed_points: no start", w(f, starts={"random": {"count": 0}}), "/starts"),
        ("fixed_points: scale 0", w(f, starts={"random": {"scale": 0}}), "/starts/random/scale"),
        ("fixed_points: unknown start", w(f, starts={"grid": 3}), "/starts/grid"),
        ("fixed_points: run start of another model", w(f, starts={"runs": [{"run_id": run_g}]}),
         "/starts/runs/0/run_id"),
        ("fixed_points: run start step", w(f, starts={"runs": [{"run_id": run_v, "step": 5}]}),
         "/starts/runs/0/step"),
        ("fixed_points: V as a run start", w(f, starts={"runs": [{"V": [0] * 6}]}),
         "/starts/runs/0/run_id"),
        ("fixed_points: tol 0", w(f, tol=0), "/tol"),
        ("fixed_points: max_iter 0", w(f, max_iter=0), "/max_iter"),
        ("fixed_points: slow_points not boolean", w(f, slow_points="yes"), "/slow_points"),
        ("fixed_points: x too long", w(f, x=[1, 2, 3]), "/x"),
        ("lyapunov: k > N", w(ly, k=7), "/k"),
        ("lyapunov: k 0", w(ly, k=0), "/k"),
        ("lyapunov: dt 0", w(ly, dt=0), "/dt"),
        ("lyapunov: negative steps", w(ly, steps=-5), "/steps"),
        ("lyapunov: negative transient", w(ly, transient=-1), "/transient"),
        ("lyapunov: reortho_every > steps", w(ly, steps=10, reortho_every=11), "/reortho_every"),
        ("lyapunov: trace_points > steps", w(ly, steps=10, trace_points=11), "/trace_points"),
        ("lyapunov: V0 of wrong length", w(ly, V0=[0.0] * 7), "/V0"),
        ("lyapunov: seed negative", w(ly, seed=-1), "/seed"),
        ("activity: missing run_id", ac, "/run_id"),
        ("activity: run does not exist", w(ac, run_id="r_0123456789abcdef01234567"), "/run_id"),
        ("activity: r not recorded", w(ac, run_id=run_v), "/var"),
        ("activity: balance without r", w(ac, run_id=run_v, var="V", balance=True), "/balance"),
        ("activity: balance of a subset", w(ac, run_id=run_sub, balance=True), "/balance"),
        ("activity: wrong var", w(ac, run_id=run_g, var="z"), "/var"),
        ("activity: window past the rows", w(ac, run_id=run_g, window={"to": 11}), "/window/to"),
        ("activity: window start past the rows", w(ac, run_id=run_g, window={"from": 10}),
         "/window/from"),
        ("activity: empty window", w(ac, run_id=run_g, window={"from": 4, "to": 4}),
         "/window/to"),
        ("activity: negative window", w(ac, run_id=run_g, window={"from": -1}), "/window/from"),
        ("activity: model of another run", w(ac, run_id=run_g, model_id=rnn), "/model_id"),
        ("activity: inline model", w(ac, run_id=run_g, model={"populations": {}}), "/model"),
        ("activity: x", w(ac, run_id=run_g, x=[1.0]), "/x"),
        ("time_limit 0", w(s, of="W", time_limit=0), "/time_limit"),
        ("threads 0", w(s, of="W", threads=0), "/threads"),
    ]


def memory_bound(binary):
    """With --max-run-memory-bytes 32 MiB, a spectrum of N = 1000 (24 N^2 = 23 MiB) is accepted
    and one with eigenvectors (48 N^2) is refused naming /eigenvectors, before the model (a
    generated one, pending) is built."""
    d = Daemon(binary, ["--workers", "0", "--max-run-memory-bytes", str(32 << 20)])
    try:
        api = Api(d)
        mid = api.model({"class": "rnn", "populations": {"E": 500, "I": 500}, "leak": 1.0,
                         "activation": {"name": "tanh"},
                         "recurrent": {"generate": {"seed": 1, "p": 0.1}}})
        st, j = api.call("POST", "/v1/analyses", {"kind": "spectrum", "model_id": mid, "of": "W",
                                                   "eigenvectors": True})
        check(st == 422 and j.get("field") == "/eigenvectors" and "MiB" in j.get("detail", ""),
              "memory bound: eigenvectors of N = 1000 refused: %s %s" % (st, j))
        st, j = api.call("POST", "/v1/analyses", {"kind": "spectrum", "model_id": mid, "of": "W"})
        check(st == 202, "memory bound: eigenvalues of N = 1000 accepted: %s %s" % (st, j))
    finally:
        d.stop_checked(BAD)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "1"])
    try:
        api = Api(d)
        fx = fixtures(api)
        rnn, gated, run_v, run_sub, run_g, spec, fp = fx
        _, before = api.call("GET", "/v1/analyses?limit=1000")
        for name, doc, field in cases(*fx):
            st, j = api.call("POST", "/v1/analyses", doc)
            got = (j or {}).get("field", "") if isinstance(j, dict) else ""
            check(st in (400, 422) and got == field,
                  "%s: expected 4xx naming %r, got %s %r (%s)"
                  % (name, field, st, got, (j or {}).get("detail") if isinstance(j, dict) else j))
        _, after = api.call("GET", "/v1/analyses?limit=1000")
        check(len(after.get("analyses", after.get("items", []))) ==
              len(before.get("analyses", before.get("items", []))),
              "nothing queued by the refused requests")
        good = [
            {"kind": "spectrum", "model_id": rnn, "at": {"run_id": run_v, "trial": 1, "step": 4}},
            {"kind": "spectrum", "model_id": rnn, "at": {"analysis_id": fp}},
            {"kind": "fixed_points", "model_id": rnn, "x": [0.1, 0.2],
             "starts": {"random": {"count": 0}, "runs": [{"run_id": run_v, "step": -1}]}},
            {"kind": "lyapunov", "model_id": rnn, "k": 6, "steps": 10, "transient": 0},
            {"kind": "activity", "run_id": run_g, "window": {"from": 0, "to": 10}},
            {"kind": "activity", "run_id": run_v, "var": "V"},
        ]
        # Refused by the worker (the order of recorded cells is in the run's request, which the
        # HTTP thread does not read): the job fails naming the field.
        perm = api.run({"model_id": rnn, "dt": 0.1, "inputs": {"steps": 4},
                        "record": {"vars": ["V"], "neurons": [1, 0, 2, 3, 4, 5]}})
        job = api.analysis({"kind": "spectrum", "model_id": rnn, "at": {"run_id": perm["id"]}},
                           ok=False)
        err = job.get("error") or {}
        check(job["status"] == "failed" and err.get("field") == "/at/run_id" and
              "order" in err.get("detail", ""),
              "cells recorded out of order: %s %s" % (job["status"], err))
        for doc in good:
            job = api.analysis(doc, ok=False)
            check(job["status"] == "succeeded",
                  "good %s: %s %s" % (doc["kind"], job["status"], job.get("error")))
    except Exception as e:  # a failure to talk to the daemon is a failure of the test
        BAD.append("%s: %s" % (type(e).__name__, e))
    finally:
        d.stop_checked(BAD)
    try:
        memory_bound(a.eirnnd)
    except Exception as e:  # a failure to talk to the daemon is a failure of the test
        BAD.append("%s: %s" % (type(e).__name__, e))
    return verdict(BAD)


if __name__ == "__main__":
    raise SystemExit(main())
