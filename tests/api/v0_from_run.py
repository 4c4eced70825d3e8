#!/usr/bin/env python3
"""api/v0_from_run: the final state V_final of a run, a run starting from it
("V0": {"run_id", "trial"}) and a run's metrics (issue 12, sections 2 and 3; docs/API.md).

    v0_from_run.py --eirnnd PATH

* V_final is a 2-D [B, N] result of the run's dtype, equal to the last row of V when V is
  recorded every step (float64 and float32), listed with the results and in meta.outputs.
* A run with "V0": {"run_id": A, "trial": 1} gives the same bytes as the same run with V0 = A's
  V_final row 1 sent as numbers; without "trial", as with V0 = A's whole V_final (B x N); from a
  float32 run, as with its values widened to float64.
* Refused at POST with 422 naming the field: an unknown run, an analysis's id, a model of
  another N, a trial out of range, a trial count that differs without "trial", a run not
  finished and a cancelled one (naming its status). A referenced run deleted while the run
  waits in the queue: the run fails naming /V0/run_id.
* "metrics": meta.metrics has each window's population means (equal to those of the recorded
  r), the final means, max_z_dt, and settle.
Exit 0 when all hold.
"""
import argparse
import traceback
import io
import time

import numpy as np

from analysis_common import Api, Daemon, http, time_scale, verdict

BAD = []
N_E, N_I = 4, 2
N = N_E + N_I


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def model_doc(n_e=N_E, n_i=N_I, seed=4):
    n = n_e + n_i
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.4, (n, n))
    W[:, :n_e] = np.abs(W[:, :n_e])
    W[:, n_e:] = -np.abs(W[:, n_e:])
    np.fill_diagonal(W, 0)
    return {"class": "rnn", "populations": {"E": n_e, "I": n_i}, "n_inputs": 1,
            "activation": {"name": "tanh"}, "leak": 1.0, "recurrent": {"W": W.tolist()},
            "input": {"P": rng.normal(0, 1, (n, 1)).tolist()}, "bias": 0.2}


def npy(api, rid, var):
    r = http(api.d.port, "GET", "/v1/runs/%s/results/%s" % (rid, var), timeout=60)
    if not check(r.status == 200, "GET %s of %s: %s %s" % (var, rid, r.status, r.body[:200])):
        return None, None
    return r.body, np.load(io.BytesIO(r.body), allow_pickle=False)


def v_final(api, mid):
    out = {}
    for precision in ("float64", "float32"):
        run = api.run({"model_id": mid, "dt": 0.1, "precision": precision,
                       "inputs": {"steps": 40, "trials": 3, "segments": [
                           {"from": 0, "to": 40, "value": [[0.5], [1.0], [-0.5]]}]},
                       "record": {"vars": ["V"]}})
        check(run["status"] == "succeeded", "run %s: %s" % (precision, run))
        _, V = npy(api, run["id"], "V")
        _, F = npy(api, run["id"], "V_final")
        if V is None or F is None:
            continue
        check(F.shape == (3, N) and F.dtype == V.dtype and
              F.tobytes() == np.ascontiguousarray(V[:, -1, :]).tobytes(),
              "%s: V_final %s %s is not the last row of V" % (precision, F.shape, F.dtype))
        out_meta = run["meta"]["outputs"].get("V_final", {})
        check(out_meta.get("shape") == [3, N] and out_meta.get("dtype") == precision,
              "%s: meta.outputs.V_final %s" % (precision, out_meta))
        st, lst = api.call("GET", "/v1/runs/%s/results" % run["id"])
        names = [it["var"] for it in lst.get("items", [])]
        check("V_final" in names, "%s: results list %s" % (precision, names))
        r = http(api.d.port, "GET", "/v1/runs/%s/results/V_final?steps=0" % run["id"])
        check(r.status == 400, "V_final?steps=: %s" % r.status)
        st, j = api.call("GET", "/v1/runs/%s/results/V_final?format=json" % run["id"])
        check(st == 200 and np.array(j, dtype=F.dtype).tobytes() == F.tobytes(),
              "V_final as JSON: %s" % st)
        # a run recording r every 5 steps keeps V_final all the same
        run2 = api.run({"model_id": mid, "dt": 0.1, "precision": precision,
                        "inputs": {"steps": 40, "trials": 3, "segments": [
                            {"from": 0, "to": 40, "value": [[0.5], [1.0], [-0.5]]}]},
                        "record": {"vars": ["r"], "every": 5}})
        _, F2 = npy(api, run2["id"], "V_final")
        check(F2 is not None and F2.tobytes() == F.tobytes(),
              "%s: V_final depends on what is recorded" % precision)
        out[precision] = (run["id"], F)
    return out


def same_bytes(api, a, b, what):
    ra, rb = api.run(a), api.run(b)
    if not check(ra["status"] == "succeeded" and rb["status"] == "succeeded",
                 "%s: %s %s / %s %s" % (what, ra["status"], ra.get("error"), rb["status"],
                                        rb.get("error"))):
        return
    for var in ("V", "V_final"):
        x, _ = npy(api, ra["id"], var)
        y, _ = npy(api, rb["id"], var)
        check(x is not None and x == y, "%s: %s differs" % (what, var))
    # the metadata says where V0 came from (numbers sent: no run.V0)
    v0 = a.get("V0")
    want = ({"run_id": v0["run_id"], "trial": v0.get("trial")} if isinstance(v0, dict) else None)
    check(ra["meta"]["run"].get("V0") == want and "V0" not in rb["meta"]["run"],
          "%s: meta.run.V0 %s (want %s)" % (what, ra["meta"]["run"].get("V0"), want))


def from_run(api, mid, finals):
    rid, F = finals["float64"]
    base = {"model_id": mid, "dt": 0.1, "inputs": {"steps": 20, "trials": 2},
            "record": {"vars": ["V"]}}
    same_bytes(api, dict(base, V0={"run_id": rid, "trial": 1}),
               dict(base, V0=F[1].tolist()), "V0 trial 1")
    base3 = dict(base, inputs={"steps": 20, "trials": 3})
    same_bytes(api, dict(base3, V0={"run_id": rid}), dict(base3, V0=F.tolist()), "V0 all trials")
    rid32, F32 = finals["float32"]
    same_bytes(api, dict(base, V0={"run_id": rid32, "trial": 2}),
               dict(base, V0=[float(v) for v in F32[2]]), "V0 from a float32 run")
    # any model of the same N (inline here)
    same_bytes(api, {"model": model_doc(seed=9), "dt": 0.1, "inputs": {"steps": 20},
                     "V0": {"run_id": rid, "trial": 0}},
               {"model": model_doc(seed=9), "dt": 0.1, "inputs": {"steps": 20},
                "V0": F[0].tolist()}, "V0 into an inline model of the same N")


def long_run(mid):
    """A run that takes far longer than the test (it is cancelled)."""
    return {"model_id": mid, "dt": 0.01, "inputs": {"steps": 10000000, "trials": 256},
            "record": {"vars": ["V"], "every": 1000000}}


def refusals(api, mid, finals):
    rid, _ = finals["float64"]
    other = api.model(model_doc(n_e=3, n_i=2))
    spec = api.analysis({"kind": "spectrum", "model_id": mid, "of": "W"})
    base = {"model_id": mid, "dt": 0.1, "inputs": {"steps": 10, "trials": 2}}
    cases = [(dict(base, V0={"run_id": "r_000000000000000000000000"}), "/V0/run_id",
              "does not exist"),
             (dict(base, V0={"run_id": spec["id"]}), "/V0/run_id", None),
             (dict(base, model_id=other, V0={"run_id": rid, "trial": 0}), "/V0/run_id", "N = 6"),
             (dict(base, V0={"run_id": rid, "trial": 3}), "/V0/trial", None),
             (dict(base, V0={"run_id": rid}), "/V0/run_id", "trial")]
    long = long_run(mid)
    st, lj = api.call("POST", "/v1/runs", long)
    cases.append((dict(base, V0={"run_id": lj["id"], "trial": 0}), "/V0/run_id", None))
    for doc, field, word in cases:
        st, j = api.call("POST", "/v1/runs", doc)
        check(st == 422 and j.get("field") == field and (word is None or word in j["detail"]),
              "V0 %s: %s %s (expected 422 at %s)" % (doc["V0"], st, j, field))
    st, j = api.call("POST", "/v1/runs", cases[-1][0])
    check(st == 422 and ("queued" in j.get("detail", "") or "running" in j.get("detail", "")),
          "V0 of an unfinished run names its status: %s" % j)
    api.call("POST", "/v1/runs/%s/cancel" % lj["id"])
    lj = api.wait("/v1/runs/" + lj["id"])
    st, j = api.call("POST", "/v1/runs", dict(base, V0={"run_id": lj["id"], "trial": 0}))
    check(st == 422 and j.get("field") == "/V0/run_id" and "cancelled" in j.get("detail", ""),
          "V0 of a cancelled run: %s %s" % (st, j))


def deleted_meanwhile(api, mid):
    """With one worker busy on a long run, a run naming a finished run waits in the queue; the
    named run is deleted; the waiting run then fails naming /V0/run_id."""
    ref = api.run({"model_id": mid, "dt": 0.1, "inputs": {"steps": 5}})
    st, lj = api.call("POST", "/v1/runs", long_run(mid))
    deadline = time.monotonic() + 30 * time_scale()
    while time.monotonic() < deadline:
        st, j = api.call("GET", "/v1/runs/" + lj["id"])
        if j["status"] == "running":
            break
        time.sleep(0.02)
    st, w = api.call("POST", "/v1/runs", {"model_id": mid, "dt": 0.1, "inputs": {"steps": 5},
                                          "V0": {"run_id": ref["id"], "trial": 0}})
    check(st == 202, "run behind the long one: %s %s" % (st, w))
    st, _ = api.call("DELETE", "/v1/runs/" + ref["id"])
    check(st == 204, "delete the referenced run: %s" % st)
    api.call("POST", "/v1/runs/%s/cancel" % lj["id"])
    j = api.wait("/v1/runs/" + w["id"])
    err = j.get("error") or {}
    check(j["status"] == "failed" and err.get("field") == "/V0/run_id" and err.get("status") == 422,
          "run whose V0 run was deleted: %s %s" % (j["status"], err))


def metrics(api, mid):
    T = 200
    doc = {"model_id": mid, "dt": 0.1,
           "inputs": {"steps": T, "trials": 2, "segments": [
               {"from": 0, "to": T, "value": [[0.3], [0.8]]}]},
           "record": {"vars": ["V", "r"]},
           "metrics": {"windows": [{"name": "late_r", "var": "r", "from": 100, "to": 200},
                                   {"var": "V", "from": 0, "to": 50}],
                       "settle": {"steps": 20, "tol": 1e-3}}}
    run = api.run(doc)
    m = (run.get("meta") or {}).get("metrics")
    if not check(run["status"] == "succeeded" and isinstance(m, dict), "metrics: %s" % run):
        return
    _, r = npy(api, run["id"], "r")
    _, V = npy(api, run["id"], "V")
    w = m.get("windows", {})
    check(set(w) == {"late_r", "V_0_50"}, "metrics window names: %s" % list(w))
    late = w.get("late_r", {})
    want = {"E": r[:, 100:200, :N_E].mean(), "I": r[:, 100:200, N_E:].mean()}
    got = late.get("mean", {})
    check(all(abs(got.get(p, 1e9) - want[p]) <= 1e-12 * max(1, abs(want[p])) for p in want),
          "late_r mean %s, recorded r gives %s" % (got, want))
    per = late.get("trials", {}).get("mean", {}).get("E")
    check(per is not None and len(per) == 2 and
          abs(per[1] - r[1, 100:200, :N_E].mean()) <= 1e-12,
          "late_r per-trial mean E %s" % per)
    fin = m.get("final", {}).get("V", {})
    check(abs(fin.get("E", 1e9) - V[:, -1, :N_E].mean()) <= 1e-12,
          "final V E %s vs %s" % (fin, V[:, -1, :N_E].mean()))
    check("max_z_dt" in m and m.get("diverged") is False and "settle" in m and
          m["settle"].get("steps") == 20 and isinstance(m["settle"].get("settled"), bool),
          "metrics members: %s" % list(m))
    plain = api.run({k: v for k, v in doc.items() if k != "metrics"})
    check("metrics" not in (plain.get("meta") or {}), "a run without metrics has meta.metrics")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    try:
        d = Daemon(a.eirnnd, ["--workers", "2"])
        api = Api(d)
        try:
            mid = api.model(model_doc())
            finals = v_final(api, mid)
            if "float64" in finals and "float32" in finals:
                from_run(api, mid, finals)
                refusals(api, mid, finals)
            metrics(api, mid)
        finally:
            d.stop_checked(BAD)
        d = Daemon(a.eirnnd, ["--workers", "1"])
        try:
            deleted_meanwhile(Api(d), Api(d).model(model_doc()))
        finally:
            d.stop_checked(BAD)
    except Exception as e:  # a failure to talk to the daemon is a failure of the test
        traceback.print_exc()
        BAD.append("%s: %s" % (type(e).__name__, e))
    return verdict(BAD)


if __name__ == "__main__":
    raise SystemExit(main())
