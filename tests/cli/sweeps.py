#!/usr/bin/env python3
"""cli/sweeps: `eirnn sweeps` and the --label / --sweep filters of the list commands
(docs/CLI.md, "Sweeps") against the real eirnnd.

    sweeps.py --eirnn PATH --eirnnd PATH

1. Offline: usage errors exit 2 (no file, --table or --timeout without --wait, a bad --format,
   a malformed --label on every list command).
2. With a daemon: a model with labels found by `models list --label`; a 2 x 3 grid sweep
   (A of the E columns x seed, metrics with a settle window) submitted with --wait and
   --table OUT.csv: exit 0, OUT.csv has one row per point in point order with its axis values,
   run id, status and metrics; `sweeps table` prints the same CSV, --format json the same rows,
   --per-trial adds a column per trial, -o FILE.json writes JSON; `sweeps get` shows the counts;
   `sweeps list --label` finds it (and not with another value); `runs list --sweep ID` and
   `runs list --label sweep:ID` list its 6 runs; a sweep with a bad point exits 3 naming the
   point and stores nothing; `sweeps delete` deletes it (then get exits 4).
3. With a daemon without workers: `sweeps submit -q` prints the id, `sweeps wait --timeout 1`
   exits 8, `sweeps cancel` cancels its queued points, `sweeps wait` exits 6.
Exit 0 when all hold.
"""
import argparse
import csv
import io
import json
import os
import pty
import subprocess
import sys
import tempfile

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


def expect(args, code, url=None, contains=None, err_contains=None):
    rc, out, err = cli(*args, url=url)
    check(rc == code, f"eirnn {' '.join(args)}: exit {rc}, expected {code}; stderr: {err}")
    if contains is not None:
        check(contains in out, f"eirnn {' '.join(args)}: '{contains}' not in stdout: {out}")
    if err_contains is not None:
        check(err_contains in err, f"eirnn {' '.join(args)}: '{err_contains}' not in stderr: "
                                   f"{err}")
    return out


def stderr_on_tty(*args, url):
    """Run eirnn with stderr on a pseudo-terminal; (exit code, what it drew there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    env["EIRNN_URL"] = url
    master, slave = pty.openpty()
    p = subprocess.Popen([EIRNN, *args], stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:  # EIO once the child closed its end
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    return p.wait(timeout=60 * time_scale()), b"".join(chunks).decode("utf-8", "replace")


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return path


def offline(tmp):
    f = write_json(os.path.join(tmp, "s.json"), {"model_id": "m_1", "run": {}, "axes": []})
    expect(["sweeps", "submit"], 2, err_contains="missing")
    expect(["sweeps", "submit", f, "--table", "x.csv"], 2, err_contains="--table needs --wait")
    expect(["sweeps", "submit", f, "--timeout", "1"], 2, err_contains="--timeout needs --wait")
    expect(["sweeps", "table", "s_1", "--format", "xml"], 2, err_contains="csv or json")
    expect(["sweeps", "wait", "s_1", "--per-trial"], 2, err_contains="--table OUT")
    expect(["sweeps", "frobnicate"], 2, err_contains="unknown subcommand")
    for cmd in (["models", "list"], ["runs", "list"], ["analyses", "list"], ["sweeps", "list"]):
        expect(cmd + ["--label", "nocolon"], 2, err_contains="KEY:VALUE")
        expect(cmd + ["--label", ":v"], 2, err_contains="KEY:VALUE")
        expect(cmd + ["--label", "b@d:v"], 2, err_contains="KEY:VALUE")
    rc, out, _ = cli("sweeps", "--help")
    check(rc == 0 and "sweeps table ID" in out, f"sweeps --help: {rc} {out}")
    rc, out, _ = cli("--help")
    check(rc == 0 and "sweeps" in out, "eirnn --help does not list sweeps")


def sweep_doc(model_id):
    return {
        "name": "cli-test",
        "model_id": model_id,
        "run": {"dt": 0.1, "inputs": {"steps": 200, "trials": 2}, "seed": 1,
                "record": {"vars": ["r"], "every": 100}},
        "axes": [{"path": "/model/recurrent/A/E", "values": [0.5, 1.0]},
                 {"path": "/run/seed", "values": [1, 2, 3]}],
        "metrics": {"windows": [{"name": "late_r", "var": "r", "from": 100, "to": 200}],
                    "settle": {"steps": 50, "tol": 1e-3}},
        "labels": {"project": "clitest"},
    }


def with_daemon(eirnnd, tmp):
    d = Daemon(eirnnd, ["--workers", "2"])
    url = f"http://127.0.0.1:{d.port}"
    try:
        with open(os.path.join(ROOT, "schema", "examples", "model_small.json")) as f:
            model = json.load(f)
        model["labels"] = {"project": "clitest", "kind": "small"}
        mfile = write_json(os.path.join(tmp, "model.json"), model)
        mid = expect(["models", "create", mfile, "-q"], 0, url=url).strip()
        other = expect(["models", "create", os.path.join(ROOT, "schema", "examples",
                                                         "model_small.json"), "-q"],
                       0, url=url).strip()
        out = expect(["models", "list", "--label", "project:clitest"], 0, url=url)
        check(mid in out and other not in out, f"models list --label: {out}")
        out = expect(["models", "list", "-l", "project:clitest", "-l", "kind:large"], 0, url=url)
        check(mid not in out, f"models list with two labels (AND): {out}")

        sfile = write_json(os.path.join(tmp, "sweep.json"), sweep_doc(mid))
        table_csv = os.path.join(tmp, "out", "table.csv")
        os.makedirs(os.path.dirname(table_csv))
        out = expect(["sweeps", "submit", sfile, "--wait", "--table", table_csv], 0, url=url,
                     contains="finished")
        sid = next((ln.split()[1] for ln in out.splitlines() if ln.startswith("id ")), "")
        check(sid.startswith("s_"), f"sweeps submit --wait printed no id: {out}")
        check("succeeded 6" in out, f"sweeps submit --wait: counts missing: {out}")
        with open(table_csv, encoding="utf-8") as f:
            text = f.read()
        rows = list(csv.reader(io.StringIO(text)))
        head = rows[0] if rows else []
        for col in ("index", "/model/recurrent/A/E", "/run/seed", "run_id", "status",
                    "late_r.mean.E", "late_r.mean.I", "settled"):
            check(col in head, f"table.csv: no column {col}: {head}")
        check(len(rows) == 7, f"table.csv: {len(rows)} rows, expected 1 + 6")
        if len(rows) == 7 and "/run/seed" in head and "index" in head:
            ia, iseed = head.index("/model/recurrent/A/E"), head.index("/run/seed")
            got = [(float(r[ia]), int(r[iseed])) for r in rows[1:]]
            check(got == [(a, s) for a in (0.5, 1.0) for s in (1, 2, 3)],
                  f"table.csv: points not in grid order: {got}")
            check([int(r[head.index("index")]) for r in rows[1:]] == list(range(6)),
                  "table.csv: index column")
            check(all(r[head.index("status")] == "succeeded" for r in rows[1:]),
                  "table.csv: statuses")
            check(all(r[head.index("late_r.mean.E")] != "" for r in rows[1:]),
                  "table.csv: empty metrics")

        out = expect(["sweeps", "table", sid], 0, url=url)
        check(out == text, "sweeps table (CSV on stdout) differs from --table OUT.csv")
        out = expect(["sweeps", "table", sid, "--format", "json"], 0, url=url)
        try:
            tj = json.loads(out)
            check(tj.get("columns") == head and len(tj.get("rows", [])) == 6,
                  f"sweeps table --format json: {out[:300]}")
        except ValueError:
            bad.append(f"sweeps table --format json printed no JSON: {out[:300]}")
        out = expect(["sweeps", "table", sid, "--per-trial"], 0, url=url)
        check("late_r.mean.E[1]" in out.splitlines()[0] if out else False,
              f"sweeps table --per-trial: header {out.splitlines()[:1]}")
        tjson = os.path.join(tmp, "t.json")
        expect(["sweeps", "table", sid, "-o", tjson], 0, url=url)
        try:
            with open(tjson, encoding="utf-8") as f:
                check(len(json.load(f)["rows"]) == 6, "sweeps table -o t.json: rows")
        except (OSError, ValueError, KeyError) as e:
            bad.append(f"sweeps table -o t.json: {e}")

        out = expect(["sweeps", "get", sid], 0, url=url, contains="finished")
        check("succeeded 6" in out and "/run/seed" in out, f"sweeps get: {out}")
        out = expect(["--json", "sweeps", "get", sid], 0, url=url)
        check(json.loads(out).get("points") == 6 if out.strip() else False,
              f"--json sweeps get: {out}")
        out = expect(["sweeps", "list", "--label", "project:clitest"], 0, url=url)
        check(sid in out, f"sweeps list --label project:clitest: {out}")
        out = expect(["sweeps", "list", "--label", "project:other"], 0, url=url)
        check(sid not in out, f"sweeps list --label project:other: {out}")
        out = expect(["runs", "list", "--sweep", sid, "--all"], 0, url=url)
        check(len([ln for ln in out.splitlines() if ln.startswith("r_")]) == 6,
              f"runs list --sweep: {out}")
        out = expect(["runs", "list", "--label", f"sweep:{sid}", "--all"], 0, url=url)
        check(len([ln for ln in out.splitlines() if ln.startswith("r_")]) == 6,
              f"runs list --label sweep:ID: {out}")

        badsweep = sweep_doc(mid)
        badsweep["axes"] = [{"path": "/run/dt", "values": [0.1, -1.0]}]
        bfile = write_json(os.path.join(tmp, "bad.json"), badsweep)
        before = expect(["--json", "sweeps", "list"], 0, url=url)
        expect(["sweeps", "submit", bfile], 3, url=url, err_contains="point 1")
        after = expect(["--json", "sweeps", "list"], 0, url=url)
        check(before == after, "a refused sweep changed the sweep list")

        expect(["sweeps", "delete", sid], 0, url=url, contains=f"deleted sweep {sid}")
        expect(["sweeps", "get", sid], 4, url=url)
    finally:
        d.stop_checked(bad)


def without_workers(eirnnd, tmp):
    d = Daemon(eirnnd, ["--workers", "0"])
    url = f"http://127.0.0.1:{d.port}"
    try:
        mid = expect(["models", "create", os.path.join(ROOT, "schema", "examples",
                                                       "model_small.json"), "-q"],
                     0, url=url).strip()
        sfile = write_json(os.path.join(tmp, "sweep0.json"), sweep_doc(mid))
        sid = expect(["sweeps", "submit", sfile, "-q"], 0, url=url).strip()
        check(sid.startswith("s_"), f"sweeps submit -q: {sid!r}")
        expect(["sweeps", "wait", sid, "--timeout", "1"], 8, url=url, err_contains="goes on")
        # One progress bar for the whole sweep on a terminal: status, bar, points by status.
        rc, drawn = stderr_on_tty("sweeps", "wait", sid, "--timeout", "1.5", url=url)
        check(rc == 8, f"sweeps wait on a tty: exit {rc}")
        check(f"{sid} queued" in drawn and "(0/6 points; queued 6)" in drawn and "[" in drawn,
              f"sweeps wait on a tty drew no sweep progress bar: {drawn!r}")
        expect(["sweeps", "get", sid], 0, url=url, contains="queued")
        expect(["sweeps", "delete", sid], 4, url=url)  # 409: points queued
        expect(["sweeps", "cancel", sid], 0, url=url, contains="6 points cancelled")
        expect(["sweeps", "wait", sid], 6, url=url, err_contains="cancelled")
        expect(["sweeps", "delete", sid], 0, url=url)
    finally:
        d.stop_checked(bad)


def main():
    global EIRNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    EIRNN = a.eirnn
    with tempfile.TemporaryDirectory() as tmp:
        offline(tmp)
        with_daemon(a.eirnnd, tmp)
        without_workers(a.eirnnd, tmp)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
