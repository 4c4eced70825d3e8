#!/usr/bin/env python3
"""cli/analyze: `eirnn analyze` and `eirnn analyses` (docs/CLI.md, "Analyses") against the real
eirnnd.

    analyze.py --eirnn PATH --eirnnd PATH

1. Offline (--dry-run): the request each kind's options build, a request file (-f) with
   options replacing its members, and the usage errors (exit 2): an option of another kind,
   no model, a bad --x, -o or --timeout without --wait, an unknown kind.
2. With a daemon: the spectrum of the stored W of schema/examples/model_small.json, waited for
   and downloaded (-o DIR): DIR/eigenvalues.npy is complex128 and equals
   numpy.linalg.eigvals(W) (sorted by real part, then imaginary part, descending) when NumPy
   is there; a request the daemon refuses exits 3 naming the member; fixed points of a linear
   network (-q prints the id), its results listed and fetched as JSON, the analysis found by
   `analyses list --kind`, shown by `--json analyses get`, refused by cancel (409, exit 4),
   deleted (then 404, exit 4); an analysis past its time limit exits 7; a request file (-f).
3. With a daemon without workers: `analyze --wait --timeout 1` exits 8 and leaves the analysis
   queued; `analyses cancel` cancels it and `analyses wait` exits 6.
Exit 0 when all hold.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, time_scale, verdict  # noqa: E402

try:
    import numpy as np
except ImportError:
    np = None

EIRNN = ""
bad = []


def cli(*args, url=None, stdin=None):
    """Run eirnn; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    if url:
        env["EIRNN_URL"] = url
    p = subprocess.run([EIRNN, *args], capture_output=True, text=True, env=env, input=stdin,
                       timeout=120 * time_scale())
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        bad.append(what)


def expect(args, code, url=None, contains=None, err_contains=None):
    rc, out, err = cli(*args, url=url)
    check(rc == code, f"eirnn {' '.join(args)}: exit {rc}, expected {code}; stderr: {err}")
    if contains is not None:
        check(contains in out, f"eirnn {' '.join(args)}: '{contains}' not in stdout: {out}")
    if err_contains is not None:
        check(err_contains in err, f"eirnn {' '.join(args)}: '{err_contains}' not in stderr: {err}")
    return out


def dry(*args):
    """The request --dry-run prints, parsed."""
    rc, out, err = cli(*args, "-n")
    check(rc == 0, f"eirnn {' '.join(args)} -n: exit {rc}: {err}")
    try:
        return json.loads(out)
    except ValueError:
        bad.append(f"eirnn {' '.join(args)} -n printed no JSON: {out!r}")
        return None


def offline(tmp):
    check(dry("analyze", "spectrum", "--model", "m_1", "--of", "W", "--eigenvectors")
          == {"kind": "spectrum", "model_id": "m_1", "of": "W", "eigenvectors": True},
          "spectrum of W request")
    check(dry("analyze", "spectrum", "--model", "m_1", "--at-run", "r_1", "--trial", "2",
              "--step", "-3", "--x", "1,0.5")
          == {"kind": "spectrum", "model_id": "m_1", "x": [1.0, 0.5],
              "at": {"run_id": "r_1", "trial": 2, "step": -3}}, "spectrum at a run state")
    check(dry("analyze", "spectrum", "--model", "m_1", "--at-analysis", "a_1", "--index", "4")
          == {"kind": "spectrum", "model_id": "m_1", "at": {"analysis_id": "a_1", "index": 4}},
          "spectrum at a fixed point")
    if np is not None:
        vfile = os.path.join(tmp, "v.npy")
        np.save(vfile, np.array([0.5, -1.25, 3.0]))
        check(dry("analyze", "spectrum", "--model", "m", "--at-v", vfile)
              == {"kind": "spectrum", "model_id": "m", "at": {"V": [0.5, -1.25, 3.0]}},
              "spectrum at V from a .npy file")
    check(dry("analyze", "fixed_points", "--model", "m", "--starts", "100", "--seed", "3",
              "--scale", "2", "--run", "r_2", "--max-iter", "50", "--tol", "1e-9",
              "--slow-points")
          == {"kind": "fixed_points", "model_id": "m",
              "starts": {"random": {"count": 100, "seed": 3, "scale": 2.0},
                         "runs": [{"run_id": "r_2", "trial": 0, "step": -1}]},
              "max_iter": 50, "tol": 1e-9, "slow_points": True}, "fixed_points request")
    check(dry("analyze", "lyapunov", "--model", "m", "--k", "3", "--dt", "0.01", "--steps",
              "1000", "--transient", "10", "--seed", "2", "--priority", "5", "--threads", "2")
          == {"kind": "lyapunov", "model_id": "m", "priority": 5, "threads": 2, "k": 3, "dt": 0.01,
              "steps": 1000, "transient": 10, "seed": 2}, "lyapunov request")
    check(dry("analyze", "activity", "--run", "r_1", "--var", "V", "--window", "10:20",
              "--no-balance")
          == {"kind": "activity", "run_id": "r_1", "var": "V", "balance": False,
              "window": {"from": 10, "to": 20}}, "activity request")
    req = os.path.join(tmp, "req.json")
    with open(req, "w") as f:
        json.dump({"kind": "spectrum", "model_id": "m_x", "of": "M", "eigenvectors": True}, f)
    check(dry("analyze", "-f", req, "--of", "W")
          == {"kind": "spectrum", "model_id": "m_x", "of": "W", "eigenvectors": True},
          "request file with an option replacing a member")
    for args, err in [
        (["analyze", "fixed_points", "--model", "m", "--of", "W"], "--of is not an option"),
        (["analyze", "spectrum"], "--model"),
        (["analyze", "spectrum", "--model", "m", "--x", "1,a"], "--x"),
        (["analyze", "spectrum", "--model", "m", "-o", "d"], "-o needs --wait"),
        (["analyze", "spectrum", "--model", "m", "--timeout", "3"], "--timeout needs --wait"),
        (["analyze", "eigen", "--model", "m"], "KIND must be"),
        (["analyze", "spectrum", "--model", "m", "--trial", "1"], "--trial"),
        (["analyses", "list", "--status", "diverged"], "--status"),
    ]:
        expect(args + ["-n"] if args[0] == "analyze" else args, 2, err_contains=err)


def linear_model():
    return {"class": "rnn", "populations": {"E": 2, "I": 1}, "n_inputs": 1,
            "activation": {"name": "linear"}, "leak": [1.0, 1.5, 2.0],
            "recurrent": {"W": [[0.0, 0.3, -0.2], [0.25, 0.1, -0.4], [0.5, 0.2, -0.3]]},
            "input": {"P": [[1.0], [0.5], [-0.25]]}, "bias": [0.1, -0.2, 0.05]}


def with_daemon(eirnnd, tmp):
    d = Daemon(eirnnd, ["--workers", "2"])
    url = f"http://127.0.0.1:{d.port}"
    try:
        small = os.path.join(ROOT, "schema", "examples", "model_small.json")
        mid = expect(["models", "create", small, "-q"], 0, url).strip()
        out_dir = os.path.join(tmp, "spec")
        out = expect(["analyze", "spectrum", "--model", mid, "--of", "W", "--wait", "-o",
                      out_dir], 0, url, contains="spectral_radius")
        check("succeeded" in out, f"spectrum: not succeeded: {out}")
        path = os.path.join(out_dir, "eigenvalues.npy")
        check(os.path.exists(path), "spectrum -o: no eigenvalues.npy")
        if np is not None and os.path.exists(path):
            ev = np.load(path)
            W = np.array(json.load(open(small))["recurrent"]["W"])
            want = np.linalg.eigvals(W)
            want = want[np.lexsort((-want.imag, -want.real))]
            check(ev.dtype == np.complex128 and ev.shape == (10,), f"eigenvalues {ev.dtype}")
            check(np.max(np.abs(ev - want)) <= 1e-12, f"eigenvalues differ: {ev} vs {want}")

        # A request the daemon refuses: exit 3, the member named.
        expect(["analyze", "spectrum", "--model", mid, "--at-run", "r_" + "0" * 24], 3, url)
        expect(["analyze", "fixed_points", "--model", mid, "--x", "1", "--starts", "2"], 3, url,
               err_contains="/x")

        lin = os.path.join(tmp, "linear.json")
        with open(lin, "w") as f:
            json.dump(linear_model(), f)
        lid = expect(["models", "create", lin, "-q"], 0, url).strip()
        aid = expect(["analyze", "fixed_points", "--model", lid, "--x", "0.7", "--starts", "5",
                      "--seed", "1", "--wait", "-q"], 0, url).strip()
        check(aid.startswith("a_"), f"analyze -q printed {aid!r}")
        table = expect(["analyses", "results", aid], 0, url, contains="eigenvalues")
        check("complex128" in table and "int32" in table, f"results table: {table}")
        vdir = os.path.join(tmp, "fp")
        expect(["analyses", "results", aid, "V", "-o", vdir, "--format", "json"], 0, url)
        try:
            V = json.load(open(os.path.join(vdir, "V.json")))
            if np is not None:
                doc = linear_model()
                want = np.linalg.solve(np.diag(doc["leak"]) - np.array(doc["recurrent"]["W"]),
                                       np.array(doc["input"]["P"]) @ [0.7] + doc["bias"])
                check(np.max(np.abs(np.array(V[0]) - want)) <= 1e-9, f"fixed point {V}")
        except (OSError, ValueError) as e:
            bad.append(f"analyses results -o --format json: {e}")
        expect(["analyses", "results", aid, "nope", "-o", vdir], 2, url, err_contains="nope")
        expect(["analyses", "list", "--kind", "fixed_points"], 0, url, contains=aid)
        job = json.loads(expect(["--json", "analyses", "get", aid], 0, url) or "{}")
        check(job.get("status") == "succeeded" and job.get("analysis") == "fixed_points",
              f"--json analyses get: {job}")
        expect(["analyses", "cancel", aid], 4, url, err_contains="409")
        expect(["analyses", "delete", aid], 0, url, contains="deleted analysis")
        expect(["analyses", "get", aid], 4, url, err_contains="404")

        # A failed analysis (its wall-clock limit): exit 7, the reason printed.
        expect(["analyze", "lyapunov", "--model", mid, "--k", "2", "--dt", "0.01", "--steps",
                "10000000", "--time-limit", "1", "--wait"], 7, url, contains="failed",
               err_contains="time_limit")

        req = os.path.join(tmp, "req.json")
        with open(req, "w") as f:
            json.dump({"kind": "spectrum", "model_id": lid, "of": "W"}, f)
        expect(["analyze", "-f", req, "--wait"], 0, url, contains="spectral_radius")
    finally:
        d.stop_checked(bad)


def without_workers(eirnnd):
    d = Daemon(eirnnd, ["--workers", "0"])
    url = f"http://127.0.0.1:{d.port}"
    try:
        small = os.path.join(ROOT, "schema", "examples", "model_small.json")
        mid = expect(["models", "create", small, "-q"], 0, url).strip()
        rc, out, err = cli("analyze", "spectrum", "--model", mid, "--of", "W", "--wait",
                           "--timeout", "1", "-q", url=url)
        check(rc == 8, f"analyze --wait --timeout 1 without workers: exit {rc}: {err}")
        aid = out.strip()
        check(aid.startswith("a_") and "analyses wait" in err, f"timeout: {out!r} {err!r}")
        expect(["analyses", "get", aid], 0, url, contains="queued")
        expect(["analyses", "cancel", aid], 0, url, contains="cancelled")
        expect(["analyses", "wait", aid, "-q"], 6, url, err_contains="cancelled")
    finally:
        d.stop_checked(bad)


def main():
    global EIRNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    EIRNN = a.eirnn
    with tempfile.TemporaryDirectory(prefix="eirnn-cli-an-") as tmp:
        offline(tmp)
        with_daemon(a.eirnnd, tmp)
        without_workers(a.eirnnd)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
