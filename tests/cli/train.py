#!/usr/bin/env python3
"""cli/train: `eirnn train` and `eirnn trainings` (docs/CLI.md, "Trainings") against the real
eirnnd.

    train.py --eirnn PATH --eirnnd PATH

1. Offline (--dry-run): the document sent is the file's with --model, --iterations, --seed and
   --name replacing its members (also from standard input); the usage errors (exit 2): no file,
   a bad --iterations or --seed, --timeout without --wait, bad options of `trainings`; a file
   that is not a JSON object (exit 3).
2. With a daemon: a small gated network stored, a short decision training (`train FILE
   --model ID -q` prints its id), followed by `trainings wait` with stderr not a terminal: a
   progress line each 5% or so ("iterations", "loss"), at most 25 of them, then the training
   with its trained model, accuracy and psychometric curve; `train --wait -q` prints only the
   trained model's id, which a run uses; `--json trainings get`, `trainings list` (--task,
   --status), `trainings curve` (CSV, JSON, -o, --after; a row per iteration); a document the
   daemon refuses exits 3 naming /optimizer/lr, an unknown model exits 4; a long training:
   `train --wait --timeout 1 -q` exits 8 printing its id, `trainings wait --timeout 3` exits 8
   after a progress line with the iterations, loss and accuracy, delete while it runs exits 4,
   `trainings cancel` then `trainings wait` exits 6, delete, then get exits 4 (404).
Exit 0 when all hold.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, time_scale, verdict  # noqa: E402

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
        (["trainings", "list", "--status", "diverged"], "--status"),
        (["trainings", "frobnicate"], "unknown subcommand"),
    ]:
        expect(args, 2, err_contains=err)
    expect(["train", "-", "-n"], 3, stdin="[1, 2]", err_contains="JSON object")
    expect(["train", "-", "-n"], 3, stdin="{", err_contains="<stdin>:1:")
    expect(["train", os.path.join(tmp, "missing.json"), "-n"], 1, err_contains="missing.json")
    expect(["trainings", "--help"], 0, contains="trainings curve ID")
    expect(["train", "--help"], 0, contains="--iterations")


def tiny_model():
    """A gated network of 6 E and 2 I cells for the decision task: 3 inputs, a readout of 3."""
    n_e, n = 6, 8
    w = [[0.0 if i == j else (0.1 + 0.02 * ((i + j) % 5) if j < n_e else -0.3)
          for j in range(n)] for i in range(n)]
    return {"name": "tiny gated", "class": "gated", "populations": {"E": n_e, "I": 2},
            "n_inputs": 3, "activation": {"name": "relu"}, "leak": 0.05,
            "recurrent": {"W": w, "A": {"E": 0.5, "I": 0.5}},
            "input": {"P": [[0.1 * ((i + k) % 4) for k in range(3)] for i in range(n)]},
            "readout": {"W_out": [[0.05 * (((i * 3 + k) % 7) - 3) for i in range(n)]
                                  for k in range(3)], "b_out": 0.0}}


def training_doc(iterations, batch=8):
    """A decision training of trials of 20 steps (dt 20 ms), without a model (--model)."""
    return {"task": {"name": "perceptual_decision_making",
                     "timing": {"fixation": 100, "stimulus": 200, "delay": 0, "decision": 100}},
            "dt": 20, "batch": batch, "iterations": iterations,
            "optimizer": {"name": "adam", "lr": 0.01},
            "evaluate": {"every": 10, "trials": 16}, "test": {"trials": 64},
            "checkpoint_every": 10, "seed": 3}


def write(tmp, name, doc):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def with_daemon(eirnnd, tmp):
    d = Daemon(eirnnd, ["--workers", "2"])
    url = f"http://127.0.0.1:{d.port}"
    try:
        mid = expect(["models", "create", write(tmp, "tiny.json", tiny_model()), "-q"], 0,
                     url).strip()
        short = write(tmp, "short.json", training_doc(40))
        tid = expect(["train", short, "--model", mid, "-q"], 0, url).strip()
        check(re.fullmatch(r"t_[0-9a-f]{24}", tid) is not None, f"train -q printed {tid!r}")
        rc, out, err = cli("trainings", "wait", tid, url=url)
        check(rc == 0, f"trainings wait: exit {rc}: {err}")
        for word in ("succeeded", "trained", "accuracy", "psychometric", "40/40 iterations"):
            check(word in out, f"trainings wait: no '{word}' in {out}")
        trained = re.search(r"^trained\s+(m_[0-9a-f]{24})$", out, re.M)
        check(trained is not None, f"trainings wait: no trained model in {out}")
        lines = [x for x in err.splitlines() if x.startswith(f"training {tid}:")]
        check(len(lines) <= 25, f"trainings wait: {len(lines)} progress lines: {err}")
        check(all("iterations" in x for x in lines), f"progress lines: {lines}")

        job = json.loads(expect(["--json", "trainings", "get", tid], 0, url) or "{}")
        check(job.get("status") == "succeeded" and job.get("initial_model_id") == mid
              and trained is not None and job.get("model_id") == trained.group(1),
              f"--json trainings get: {job}")
        expect(["trainings", "get", tid], 0, url, contains=f"model        {mid}")
        expect(["trainings", "list"], 0, url, contains=tid)
        expect(["trainings", "list", "--task", "perceptual_decision_making", "--status",
                "succeeded"], 0, url, contains=tid)
        out = expect(["trainings", "list", "--status", "queued"], 0, url)
        check(tid not in out, f"trainings list --status queued lists {tid}")

        csv_text = expect(["trainings", "curve", tid], 0, url)
        rows = csv_text.strip().splitlines()
        check(rows[:1] == ["iteration,loss,task_loss,l2_weights,l2_rates,grad_norm,accuracy,"
                           "eval_accuracy"] and len(rows) == 41, f"curve CSV: {rows[:3]}...")
        cj = os.path.join(tmp, "curve.json")
        expect(["trainings", "curve", tid, "-o", cj], 0, url, err_contains="wrote " + cj)
        try:
            with open(cj) as f:
                curve = json.load(f)
            its = [r["iteration"] for r in curve["rows"]]
            check(its == list(range(1, 41)), f"curve -o FILE.json: iterations {its}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            bad.append(f"trainings curve -o FILE.json: {e}")
        after = json.loads(expect(["trainings", "curve", tid, "--format", "json", "--after",
                                   "30"], 0, url) or "{}")
        check([r["iteration"] for r in after.get("rows", [])] == list(range(31, 41)),
              f"curve --after 30: {after}")

        # --wait -q: the trained model's id alone; a run uses it.
        out = expect(["train", short, "--model", mid, "--seed", "4", "--wait", "-q"], 0, url)
        model = out.strip()
        check(re.fullmatch(r"m_[0-9a-f]{24}", model) is not None, f"train --wait -q: {out!r}")
        expect(["runs", "submit", "--model", model, "--steps", "5", "--dt", "20", "--wait",
                "-q"], 0, url)

        # Refused: the member named (exit 3); an unknown model (404, exit 4).
        lr = write(tmp, "lr.json", dict(training_doc(10), optimizer={"name": "adam", "lr": -1}))
        expect(["train", lr, "--model", mid], 3, url, err_contains="/optimizer/lr")
        expect(["train", short, "--model", "m_" + "0" * 24], 4, url, err_contains="404")

        # A long training: a timeout, refused delete, cancel, wait, delete.
        long_doc = write(tmp, "long.json", training_doc(10 ** 7, batch=64))
        rc, out, err = cli("train", long_doc, "--model", mid, "--wait", "--timeout", "1", "-q",
                           url=url)
        lid = out.strip()
        check(rc == 8 and re.fullmatch(r"t_[0-9a-f]{24}", lid) is not None
              and "trainings wait" in err, f"train --timeout 1: exit {rc}: {out!r} {err!r}")
        if lid:
            # Off a terminal, waiting writes progress lines: at least the first.
            rc, out, err = cli("trainings", "wait", lid, "--timeout", "3", url=url)
            line = re.search(rf"^training {lid}: [0-9]+/10000000 iterations \([0-9.]+%\), "
                             r"loss [0-9.e+-]+, accuracy [0-9.]+%", err, re.M)
            check(rc == 8 and out == "" and line is not None,
                  f"trainings wait --timeout 3: exit {rc}: {out!r} {err!r}")
            expect(["trainings", "delete", lid], 4, url, err_contains="409")
            expect(["trainings", "cancel", lid], 0, url, contains=lid)
            expect(["trainings", "wait", lid, "-q"], 6, url, err_contains="cancelled")
            expect(["trainings", "delete", lid], 0, url, contains="deleted training")
            expect(["trainings", "get", lid], 4, url, err_contains="404")
    finally:
        d.stop_checked(bad)


def main():
    global EIRNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    EIRNN = a.eirnn
    with tempfile.TemporaryDirectory(prefix="eirnn-cli-train-") as tmp:
        offline(tmp)
        with_daemon(a.eirnnd, tmp)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
