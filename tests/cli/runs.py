#!/usr/bin/env python3
"""cli/runs: the run forms of issue 12 on the command line (docs/CLI.md, "eirnn runs submit",
"eirnn runs get") against the real eirnnd.

    runs.py --eirnn PATH --eirnnd PATH

1. Offline: every malformed --segment, --input-noise, --V0-from, --label, --metrics-window and
   --settle exits 2 naming the option; --V0 with --V0-from, --segment without steps (or with an
   input array), --settle without a window exit 2; --help lists the options.
2. With a daemon: a run submitted with --steps/--trials/--segment (constant and ramp)/
   --input-noise/--label/--metrics-window/--settle: its stored request (GET
   /v1/runs/{id}/request) is exactly the JSON expected; its r.npy and V_final.npy (`results
   get`) are the bytes `eirnn simulate` writes for that request; `runs get` shows its labels,
   the metrics block (each window, final rate, max z dt, settled) and V_final among the results;
   `--json runs get` is the server's resource as it is. --V0-from RUN:1 --wait and --V0-from
   RUN (then `runs get`) show V0 and the results. A point of a sweep shows its sweep and labels.
   With a run file, the options' segments, windows and labels are added to the file's (after
   them) and --segment refuses a file with an input array.
Exit 0 when all hold.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, time_scale, verdict  # noqa: E402

EIRNN = ""
bad = []


def cli(*args, url=None):
    """Run eirnn; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    if url:
        env["EIRNN_URL"] = url
    p = subprocess.run([EIRNN, *args], capture_output=True, text=True, env=env,
                       timeout=120 * time_scale())
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        bad.append(what)


def expect(args, code, url=None, contains=(), err_contains=None):
    rc, out, err = cli(*args, url=url)
    check(rc == code, f"eirnn {' '.join(args)}: exit {rc}, expected {code}; stderr: {err}")
    for c in ([contains] if isinstance(contains, str) else contains):
        check(c in out, f"eirnn {' '.join(args)}: '{c}' not in stdout: {out}")
    if err_contains is not None:
        check(err_contains in err, f"eirnn {' '.join(args)}: '{err_contains}' not in stderr: "
                                   f"{err}")
    return out


def get_json(url, path):
    with urllib.request.urlopen(url + path, timeout=60 * time_scale()) as r:
        return json.loads(r.read().decode("utf-8"))


def kv(out, key):
    """The values of the lines 'key  value' of a `runs get` printout (continuation lines too)."""
    vals, on = [], False
    for ln in out.splitlines():
        k = ln[:12].strip()
        if k == key or (on and k == ""):
            vals.append(ln[12:].strip())
            on = True
        else:
            on = False
    return vals


def offline():
    base = ["runs", "submit", "-m", "m_1", "--steps", "10"]
    for opt, val in (("--segment", "5:2=1"), ("--segment", "0:2"), ("--segment", "0:2=x"),
                     ("--segment", "0:2=1,,2"), ("--segment", "0:2=1..y"), ("--segment", "a:2=1"),
                     ("--input-noise", "0.1"), ("--input-noise", "-1:3"),
                     ("--input-noise", "0.1:x"), ("--V0-from", ":2"), ("--V0-from", "r_1:x"),
                     ("--V0-from", "r_1:-2"), ("--label", "nocolon"), ("--label", "b@d:v"),
                     ("--label", ":v"), ("--label", "k:" + "x" * 256), ("--label", "a" * 64 + ":v"),
                     ("--metrics-window", "q:0:10"), ("--metrics-window", "r:10:5"),
                     ("--metrics-window", "bad-name=r:0:10"), ("--metrics-window", "r:0"),
                     ("--settle", "0:1"), ("--settle", "10:0"), ("--settle", "10")):
        expect(base + [opt, val], 2, err_contains=opt)
    expect(base + ["--V0", "1", "--V0-from", "r_1"], 2, err_contains="--V0-from")
    expect(["runs", "submit", "-m", "m_1", "--segment", "0:1=1"], 2, err_contains="--steps")
    expect(["runs", "submit", "-m", "m_1", "--input-noise", "0.1:1"], 2, err_contains="--steps")
    expect(base + ["--settle", "1:1"], 2, err_contains="--metrics-window")
    rc, out, _ = cli("runs", "submit", "--help")
    for opt in ("--segment", "--input-noise", "--V0-from", "--label", "--metrics-window",
                "--settle"):
        check(rc == 0 and opt in out, f"runs submit --help does not describe {opt}")


def described_run(url, tmp, model_file, mid):
    args = ["runs", "submit", "-m", mid, "--steps", "200", "--trials", "2", "--dt", "0.1",
            "--seed", "3", "--record", "r", "--segment", "0:100=1,0",
            "--segment", "50:200=0.5..0,1", "--input-noise", "0.1:5", "--label", "project:cli",
            "--label", "arm:a", "--metrics-window", "late=r:100:200",
            "--metrics-window", "V:0:50", "--settle", "50:1e-3", "--wait", "-q"]
    rid = expect(args, 0, url=url).strip()
    expected = {
        "model_id": mid, "dt": 0.1, "seed": 3, "record": {"vars": ["r"]},
        "inputs": {"steps": 200, "trials": 2,
                   "segments": [{"from": 0, "to": 100, "value": [1, 0]},
                                {"from": 50, "to": 200, "value": 0.5, "to_value": [0, 1]}],
                   "noise": {"sigma": 0.1, "seed": 5}},
        "labels": {"project": "cli", "arm": "a"},
        "metrics": {"windows": [{"name": "late", "var": "r", "from": 100, "to": 200},
                                {"var": "V", "from": 0, "to": 50}],
                    "settle": {"steps": 50, "tol": 1e-3}}}
    req = get_json(url, f"/v1/runs/{rid}/request")
    check(req == expected, f"described run: request {json.dumps(req)} != {json.dumps(expected)}")

    run_file = os.path.join(tmp, "request.json")
    with open(run_file, "w", encoding="utf-8") as f:
        json.dump(req, f)
    sim = os.path.join(tmp, "sim")
    expect(["simulate", model_file, run_file, "-o", sim, "-q", "--threads", "2"], 0)
    for var in ("r", "V_final"):
        got = os.path.join(tmp, f"got_{var}.npy")
        expect(["results", "get", rid, var, "-o", got], 0, url=url)
        try:
            with open(got, "rb") as a, open(os.path.join(sim, f"{var}.npy"), "rb") as b:
                check(a.read() == b.read(), f"{var}.npy of the run differs from simulate's")
        except OSError as e:
            bad.append(f"{var}.npy: {e}")

    out = expect(["runs", "get", rid], 0, url=url)
    check(kv(out, "labels") == ["project: cli, arm: a"], f"runs get: labels line: {out}")
    check(not kv(out, "sweep") and not kv(out, "V0"), f"runs get: sweep or V0 shown: {out}")
    meta = get_json(url, f"/v1/runs/{rid}")["meta"]["metrics"]
    late = meta["windows"]["late"]
    lines = kv(out, "metrics")
    want = (f"late    r [100, 200)  mean E {late['mean']['E']:g}, I {late['mean']['I']:g}  "
            f"std E {late['std']['E']:g}, I {late['std']['I']:g}")
    check(want in lines and any(ln.startswith("V_0_50  V [0, 50)  mean E ") for ln in lines),
          f"runs get: metrics lines {lines}, expected {want!r} and V_0_50")
    fr = meta["final"]["r"]
    check(kv(out, "final rate") == [f"E {fr['E']:g}, I {fr['I']:g}"], f"final rate: {out}")
    check(kv(out, "max z dt") == [f"{meta['max_z_dt']:g}"], f"max z dt: {out}")
    st = meta["settle"]
    yes = "yes" if st["settled"] else "no"
    check(kv(out, "settled") == [f"{yes}: max |dV/dt| {st['max_dVdt']:g} "
                                 f"{'<=' if st['settled'] else '>'} tol 0.001 over the last 50 "
                                 f"steps"], f"settled: {out}")
    check(kv(out, "results") == ["V_final 2 x 10 float64", "r       2 x 200 x 10 float64"],
          f"runs get: results {kv(out, 'results')}")
    raw = expect(["--json", "runs", "get", rid], 0, url=url)
    check(json.loads(raw) == get_json(url, f"/v1/runs/{rid}") if raw.strip() else False,
          "--json runs get is not the server's resource")
    return rid


def run_file_merge(url, tmp, mid):
    """Options add to a run file's segments, labels and windows (after its own) and set noise and
    settle; an input array refuses --segment."""
    doc = {"model_id": mid, "dt": 0.1, "labels": {"owner": "file", "arm": "x"},
           "inputs": {"steps": 100, "segments": [{"from": 0, "to": 10, "value": 1}]},
           "metrics": {"windows": [{"var": "r", "from": 0, "to": 100}]}}
    rfile = os.path.join(tmp, "run.json")
    with open(rfile, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    rid = expect(["runs", "submit", "-r", rfile, "--segment", "10:100=2..3", "--label", "arm:b",
                  "--metrics-window", "r:50:100", "--settle", "10:0.5", "--input-noise", "0:0",
                  "--steps", "120", "-q"], 0, url=url).strip()
    want = dict(doc, labels={"owner": "file", "arm": "b"},
                inputs={"steps": 120, "segments": [{"from": 0, "to": 10, "value": 1},
                                                   {"from": 10, "to": 100, "value": 2,
                                                    "to_value": 3}],
                        "noise": {"sigma": 0, "seed": 0}},
                metrics={"windows": [{"var": "r", "from": 0, "to": 100},
                                     {"var": "r", "from": 50, "to": 100}],
                         "settle": {"steps": 10, "tol": 0.5}})
    req = get_json(url, f"/v1/runs/{rid}/request") if rid else None
    check(req == want, f"run file + options: request {json.dumps(req)} != {json.dumps(want)}")
    afile = os.path.join(tmp, "arr.json")
    with open(afile, "w", encoding="utf-8") as f:
        json.dump(dict(doc, inputs=[[0, 0]] * 5), f)
    expect(["runs", "submit", "-r", afile, "--segment", "0:1=1"], 2, url=url,
           err_contains="not an input array")


def v0_runs(url, mid, rid):
    out = expect(["runs", "submit", "-m", mid, "--steps", "20", "--dt", "0.1",
                  "--V0-from", rid + ":1", "--record", "V", "--wait"], 0, url=url)
    check(kv(out, "V0") == [f"run {rid}, trial 1 (its final state, for every trial)"],
          f"--V0-from RUN:1 --wait: V0 line: {out}")
    check(kv(out, "results") == ["V       1 x 20 x 10 float64", "V_final 1 x 10 float64"],
          f"--V0-from --wait: results {kv(out, 'results')}")
    r2 = expect(["runs", "submit", "-m", mid, "--steps", "20", "--trials", "2", "--dt", "0.1",
                 "--V0-from", rid, "-q", "--wait"], 0, url=url).strip()
    check(get_json(url, f"/v1/runs/{r2}/request").get("V0") == {"run_id": rid},
          "--V0-from RUN: request V0")
    out = expect(["runs", "get", r2], 0, url=url)
    check(kv(out, "V0") == [f"run {rid} (its final state, trial b for trial b)"],
          f"runs get of a V0-from run: {out}")
    check("V_final 2 x 10 float64" in kv(out, "results"), f"runs get: results: {out}")
    expect(["runs", "submit", "-m", mid, "--steps", "20", "--trials", "3", "--dt", "0.1",
            "--V0-from", rid], 3, url=url, err_contains="/V0")


def sweep_point(url, tmp, mid):
    doc = {"model_id": mid, "run": {"dt": 0.1, "inputs": {"steps": 50}, "seed": 1,
                                    "record": {"vars": ["r"]}},
           "axes": [{"path": "/run/seed", "values": [1, 2]}], "labels": {"project": "sw"}}
    sfile = os.path.join(tmp, "sweep.json")
    with open(sfile, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    out = expect(["sweeps", "submit", sfile, "--wait"], 0, url=url)
    sid = next((ln.split()[1] for ln in out.splitlines() if ln.startswith("id ")), "")
    runs = get_json(url, f"/v1/runs?sweep_id={sid}")["items"]
    check(len(runs) == 2, f"sweep {sid}: {len(runs)} runs")
    for item in runs:
        run = get_json(url, f"/v1/runs/{item['id']}")
        out = expect(["runs", "get", item["id"]], 0, url=url)
        check(kv(out, "sweep") == [f"{sid} (point {run['sweep']['index']})"],
              f"runs get of a sweep point: sweep line: {out}")
        check(kv(out, "labels") == [f"project: sw, sweep: {sid}"],
              f"runs get of a sweep point: labels: {out}")


def main():
    global EIRNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    EIRNN = a.eirnn
    offline()
    with tempfile.TemporaryDirectory(prefix="eirnn-cli-runs-") as tmp:
        d = Daemon(a.eirnnd, ["--workers", "2"])
        url = f"http://127.0.0.1:{d.port}"
        try:
            model_file = os.path.join(ROOT, "schema", "examples", "model_small.json")
            mid = expect(["models", "create", model_file, "-q", "-w"], 0, url=url).strip()
            rid = described_run(url, tmp, model_file, mid)
            run_file_merge(url, tmp, mid)
            v0_runs(url, mid, rid)
            sweep_point(url, tmp, mid)
        finally:
            d.kill()
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
