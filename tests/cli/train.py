#!/usr/bin/env python3
"""cli/train: `eirnn train` and `eirnn trainings` (docs/CLI.md, "Trainings") against the real
eirnnd.

    train.py --eirnn PATH --eirnnd PATH

1. Offline (--dry-run): the document sent is the file's with --model, --iterations, --seed and
   --name replacing its members (also from standard input); the usage errors (exit 2): no file,
   a bad --iterations or --seed, --timeout without --wait, bad options of `trainings`; a file
   that is not a JSON object (exit 3).
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
from eirnnd_http import time_scale, verdict  # noqa: E402

EIRNN = ""
bad = []


def cli(*args, url=None, stdin=None):
    """Run eirnn; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    if url:
        env["EIRNN_URL"] = url
    p = subprocess.run([EIRNN, *args], capture_output=True, text=True, env=env, input=stdin,
                       timeout=300 * time_scale())
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        bad.append(what)


def expect(args, code, url=None, contains=None, err_contains=None, stdin=None):
    rc, out, err = cli(*args, url=url, stdin=stdin)
    check(rc == code, f"eirnn {' '.join(args)}: exit {rc}, expected {code}; stderr: {err}")
    if contains is not None:
        check(contains in out, f"eirnn {' '.join(args)}: '{contains}' not in stdout: {out}")
    if err_contains is not None:
        check(err_contains in err, f"eirnn {' '.join(args)}: '{err_contains}' not in stderr: {err}")
    return out


def dry(*args, stdin=None):
    """The document --dry-run prints, parsed."""
    out = expect(list(args) + ["-n"], 0, stdin=stdin)
    try:
        return json.loads(out)
    except ValueError:
        bad.append(f"eirnn {' '.join(args)} -n printed no JSON: {out!r}")
        return None


def offline(tmp):
    doc = {"model": {"populations": {"E": 2, "I": 1}}, "task": {"name": "custom"}, "dt": 20,
           "iterations": 10, "seed": 1, "optimizer": {"name": "adam", "lr": 0.01}}
    path = os.path.join(tmp, "train.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    check(dry("train", path) == doc, "train -n: the file as it is")
    want = dict(doc, model="m_2", iterations=5, seed=7, name="pdm")
    check(dry("train", path, "--model", "m_2", "-i", "5", "--seed", "7", "--name", "pdm")
          == want, "train -n: the options replace the file's members")
    check(dry("train", "-", "--iterations", "3", stdin=json.dumps(doc))
          == dict(doc, iterations=3), "train - reads standard input")
    for args, err in [
        (["train"], "missing"),
        (["train", path, "--iterations", "0"], "--iterations"),
        (["train", path, "--iterations", "x"], "--iterations"),
        (["train", path, "--seed", "-1"], "--seed"),
        (["train", path, "--timeout", "3"], "--timeout needs --wait"),
        (["train", path, "--name", ""], "--name"),
        (["train", path, path], "unexpected argument"),
        (["trainings", "curve", "t_1", "--format", "npy"], "--format"),
        (["trainings", "curve", "t_1", "--after", "-2"], "--after"),
        (["trainings", "list", "--status", "done"], "--status"),
        (["trainings", "frobnicate"], "unknown subcommand"),
    ]:
        expect(args, 2, err_contains=err)
    expect(["train", "-", "-n"], 3, stdin="[1, 2]", err_contains="JSON object")
    expect(["train", "-", "-n"], 3, stdin="{", err_contains="<stdin>:1:")
    expect(["train", os.path.join(tmp, "missing.json"), "-n"], 1, err_contains="missing.json")
    expect(["trainings", "--help"], 0, contains="trainings curve ID")
    expect(["train", "--help"], 0, contains="--iterations")


def main():
    global EIRNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    EIRNN = a.eirnn
    with tempfile.TemporaryDirectory(prefix="eirnn-cli-train-") as tmp:
        offline(tmp)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
