"""Tests of the training methods of the eirnn Python client (eirnn/trainings.py).

What train() sends, how it follows a training and what it gives back need no daemon (a client
whose answers are scripted); the rest runs against a live eirnnd (``$EIRNND_BIN``, started as
test_client.py does) and trains small networks for real.

    EIRNND_BIN=build/server/eirnnd PYTHONPATH=clients/python \\
        python3 -m unittest discover -s clients/python/tests -p test_trainings.py -v
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
sys.path.insert(0, PKG_ROOT)
sys.path.insert(0, HERE)

import eirnn  # noqa: E402
from eirnn.arrays import numpy_or_none  # noqa: E402
from eirnn.trainings import curve_rows, format_progress, training_body  # noqa: E402
from test_client import EIRNND_BIN, Daemon, scaled  # noqa: E402

np = numpy_or_none()
DAEMON = None
EXAMPLE = os.path.join(PKG_ROOT, "examples", "train_decision.py")


def setUpModule() -> None:  # noqa: N802 - unittest's name
    global DAEMON
    if EIRNND_BIN and os.access(EIRNND_BIN, os.X_OK):
        DAEMON = Daemon("--workers", "2")


def tearDownModule() -> None:  # noqa: N802
    if DAEMON is not None:
        DAEMON.stop()

TID = "t_" + "1" * 24
ROWS = [
    {"iteration": 1, "loss": 1.1, "task_loss": 1.1, "l2_weights": 0.0, "l2_rates": 0.0,
     "grad_norm": 2.5, "accuracy": 0.25, "eval_accuracy": None},
    {"iteration": 2, "loss": 0.9, "task_loss": 0.9, "l2_weights": 0.0, "l2_rates": 0.0,
     "grad_norm": 1.5, "accuracy": 0.5, "eval_accuracy": 0.75},
]
EVALUATION = {"accuracy": 0.86, "ideal": 0.87, "trials": 1000, "correct": 860,
              "loss": {"total": 0.3, "task": 0.3, "l2_weights": 0.0, "l2_rates": 0.0},
              "psychometric": [{"coherence": 6.4, "n": 100, "p_choice2": 0.7},
                               {"coherence": -6.4, "n": 100, "p_choice2": 0.3}]}


def job(status: str, done: int = 0, **extra: Any) -> Dict[str, Any]:
    """A training document as the server answers it."""
    d = {"id": TID, "kind": "training", "status": status,
         "progress": {"done": done, "total": 2, "fraction": done / 2}}
    d.update(extra)
    return d


class Scripted(eirnn.Client):
    """A client that records its requests and answers from a script of documents."""

    def __init__(self, answers: List[Any], use_numpy: Optional[bool] = None) -> None:
        super().__init__("http://127.0.0.1:9", use_numpy=use_numpy)
        self.answers = list(answers)
        self.sent: List[Any] = []

    def _json(self, method: str, path: str, **kw: Any) -> Any:  # type: ignore[override]
        self.sent.append((method, path, kw.get("body"), kw.get("query"), kw.get("headers")))
        return self.answers.pop(0)

    def request(self, method: str, path: str, **kw: Any) -> Any:  # type: ignore[override]
        self.sent.append((method, path, kw.get("body"), kw.get("query"), kw.get("headers")))
        ans = self.answers.pop(0)
        return 200, {}, ans if isinstance(ans, bytes) else b""


DOC = {"model": "m_1", "task": {"name": "perceptual_decision_making"}, "dt": 20,
       "iterations": 2, "seed": 1}


class RequestTest(unittest.TestCase):
    """What train() and the other methods send, without a server."""

    def test_body_and_overrides(self) -> None:
        c = Scripted([job("queued")])
        t = c.train(DOC, wait=False, iterations=5, seed=None, name="pdm",
                    model={"id": "m_2", "name": "x", "state": "ready"}, idempotency_key="k")
        method, path, body, _, headers = c.sent[0]
        self.assertEqual((method, path), ("POST", "/v1/trainings"))
        self.assertEqual(body, {"model": "m_2", "task": {"name": "perceptual_decision_making"},
                                "dt": 20, "iterations": 5, "seed": 1, "name": "pdm"})
        self.assertEqual(headers, {"Idempotency-Key": "k"})
        self.assertEqual(DOC["model"], "m_1")  # the caller's document is left alone
        self.assertIsInstance(t, eirnn.Training)
        self.assertEqual((t.id, t.status, t.model_id, t.curve), (TID, "queued", None, []))

    def test_inline_model_is_kept(self) -> None:
        inline = {"populations": {"E": 2, "I": 1}, "leak": 1.0, "recurrent": {"W": [[0.0]]}}
        self.assertEqual(training_body({"task": {}}, {"model": inline})["model"], inline)
        with self.assertRaises(ValueError):
            training_body({"task": {}}, {})
        with self.assertRaises(TypeError):
            training_body([1], {})  # type: ignore[arg-type]

    def test_other_methods(self) -> None:
        c = Scripted([job("running"), {"rows": ROWS[:1], "next_after": 1},
                      {"rows": ROWS[1:], "next_after": None}, job("cancelled"), b"",
                      {"items": [job("queued")], "next_cursor": None}, {"model": "m_1"}])
        c.training(TID, wait=2.5)
        self.assertEqual(c.sent[-1][:2], ("GET", f"/v1/trainings/{TID}"))
        self.assertEqual(c.sent[-1][3], {"wait": "2.5"})
        self.assertEqual(c.training_curve({"id": TID}), ROWS)  # both pages
        self.assertEqual(c.sent[-2][1:4:2], (f"/v1/trainings/{TID}/curve",
                                             {"format": "json", "after": None}))
        self.assertEqual(c.sent[-1][1:4:2], (f"/v1/trainings/{TID}/curve",
                                             {"format": "json", "after": "1"}))
        c.cancel_training(TID)
        self.assertEqual(c.sent[-1][:2], ("POST", f"/v1/trainings/{TID}/cancel"))
        c.delete_training(TID)
        self.assertEqual(c.sent[-1][:2], ("DELETE", f"/v1/trainings/{TID}"))
        self.assertEqual(len(list(c.trainings(status="queued", task="custom",
                                              labels={"p": "q"}))), 1)
        q = c.sent[-1][3]
        self.assertEqual((q["status"], q["task"], q["label"]), ("queued", "custom", ["p:q"]))
        self.assertEqual(c.training_request(TID), {"model": "m_1"})
        self.assertEqual(c.sent[-1][1], f"/v1/trainings/{TID}/request")
        with self.assertRaises(TypeError):
            c.training(42)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            c.training("")

    def test_curve_forms(self) -> None:
        self.assertEqual(curve_rows({"rows": ROWS, "next_after": None}), ROWS)
        for wrong in (ROWS, {"rows": [1]}, {"iteration": [1, 2]}):
            with self.assertRaises(ValueError):
                curve_rows(wrong)


class FollowTest(unittest.TestCase):
    """train(wait=True): long polls with progress, then the curve; failures raised."""

    def test_succeeded(self) -> None:
        latest = dict(ROWS[0])
        done = job("succeeded", 2, model_id="m_9", initial_model_id="m_1", evaluation=EVALUATION,
                   loss={"total": 0.9, "task": 0.9}, wall_s=1.5)
        c = Scripted([job("queued"), job("running", 1, latest=latest, model_id=None), done,
                      {"rows": ROWS, "next_after": None}])
        seen: List[Dict[str, Any]] = []
        t = c.train(DOC, progress=seen.append, timeout=60)
        self.assertEqual([s["status"] for s in seen], ["running"])
        self.assertEqual(c.sent[1][3]["wait"], "1")  # about once a second with progress
        self.assertEqual(c.sent[-1][1], f"/v1/trainings/{TID}/curve")
        self.assertEqual((t.status, t.model_id, t.curve), ("succeeded", "m_9", ROWS))
        self.assertEqual((t.evaluation["accuracy"], t.loss, t.wall_s), (0.86, 0.9, 1.5))
        self.assertIn("m_9", repr(t))
        psy = t.psychometric()
        self.assertEqual(list(psy["coherence"]), [-6.4, 6.4])
        self.assertEqual(list(psy["p_choice2"]), [0.3, 0.7])
        line = format_progress(seen[0])
        self.assertEqual(line, f"{TID} running 1/2 iterations, loss 1.1, accuracy 25.0%")
        line = format_progress(job("running", 2, latest=ROWS[1]))
        self.assertEqual(line, f"{TID} running 2/2 iterations, loss 0.9, accuracy 50.0%, "
                               "held-out 75.0%")

    def test_failed_raises(self) -> None:
        failed = job("failed", 1, error={"detail": "time limit", "field": "/time_limit"})
        c = Scripted([job("queued"), failed, {"rows": ROWS[:1], "next_after": None}])
        with self.assertRaises(eirnn.TrainingError) as cm:
            c.train(DOC)
        self.assertEqual(str(cm.exception), f"training {TID} failed: /time_limit: time limit")
        self.assertEqual(cm.exception.training.curve, ROWS[:1])
        self.assertIsNone(cm.exception.training.model_id)
        c = Scripted([job("cancelled", model_id=None), {"rows": [], "next_after": None}])
        t = c.train(DOC, check=False)
        self.assertEqual((t.status, t.model_id), ("cancelled", None))
        with self.assertRaises(ValueError):
            t.psychometric()

    def test_timeout_names_the_training(self) -> None:
        c = Scripted([job("queued")] + [job("running", 1)] * 50)
        with self.assertRaises(eirnn.EirnnTimeoutError) as cm:
            c.train(DOC, timeout=0.01)
        self.assertIn(f"training {TID} still running", str(cm.exception))

    def test_curve_arrays(self) -> None:
        t = eirnn.Training(job("succeeded"), ROWS, use_numpy=False)
        cols = t.curve_arrays()
        self.assertEqual(tuple(cols), eirnn.CURVE_COLUMNS)
        self.assertEqual(cols["eval_accuracy"], [None, 0.75])
        if np is not None:
            a = eirnn.Training(job("succeeded"), ROWS).curve_arrays()
            self.assertEqual(a["iteration"].dtype, np.int64)
            self.assertTrue(math.isnan(a["eval_accuracy"][0]))
            self.assertEqual(a["loss"].tolist(), [1.1, 0.9])


def tiny_model(cls: str = "gated") -> Dict[str, Any]:
    """A network of 6 E and 2 I cells of class @cls for the decision task (3 inputs, a readout
    of 3 outputs)."""
    n_e, n = 6, 8
    w = [[0.0 if i == j else (0.1 + 0.02 * ((i + j) % 5) if j < n_e else -0.3)
          for j in range(n)] for i in range(n)]
    rec: Dict[str, Any] = {"W": w}
    if cls == "gated":
        rec["A"] = {"E": 0.5, "I": 0.5}
    return {"name": f"tiny {cls}", "class": cls, "populations": {"E": n_e, "I": 2},
            "n_inputs": 3, "activation": {"name": "relu"}, "leak": 0.05, "recurrent": rec,
            "input": {"P": [[0.1 * ((i + k) % 4) for k in range(3)] for i in range(n)]},
            "readout": {"W_out": [[0.05 * (((i * 3 + k) % 7) - 3) for i in range(n)]
                                  for k in range(3)], "b_out": 0.0}}


def tiny_training(model: Any, iterations: int = 30, batch: int = 8) -> Dict[str, Any]:
    """A decision training of trials of 20 steps (dt 20 ms)."""
    return {"model": model,
            "task": {"name": "perceptual_decision_making",
                     "timing": {"fixation": 100, "stimulus": 200, "delay": 0, "decision": 100}},
            "dt": 20, "batch": batch, "iterations": iterations,
            "optimizer": {"name": "adam", "lr": 0.01},
            "evaluate": {"every": 10, "trials": 16}, "test": {"trials": 64},
            "checkpoint_every": 10, "seed": 3, "labels": {"suite": "python"}}


@unittest.skipUnless(EIRNND_BIN, "set EIRNND_BIN to the eirnnd binary to run these tests")
class TrainingsTest(unittest.TestCase):
    """Against a live daemon (2 workers)."""

    def setUp(self) -> None:
        assert DAEMON is not None
        self.c = eirnn.Client(DAEMON.url, timeout=scaled(30))

    def test_train_and_use_the_model(self) -> None:
        m = self.c.create_model(tiny_model("dale"))
        seen: List[Dict[str, Any]] = []
        t = self.c.train(tiny_training(m), progress=seen.append, timeout=scaled(300),
                         name="tiny dale trained")
        self.assertEqual(t.status, "succeeded", t.error)
        self.assertRegex(t.id, r"^t_[0-9a-f]{24}$")
        self.assertRegex(t.model_id or "", r"^m_[0-9a-f]{24}$")
        self.assertEqual(t.job["initial_model_id"], m["id"])
        self.assertEqual([r["iteration"] for r in t.curve], list(range(1, 31)))
        evald = [r["iteration"] for r in t.curve if r["eval_accuracy"] is not None]
        self.assertEqual(evald, [10, 20, 30])
        self.assertTrue(all(math.isfinite(r["loss"]) for r in t.curve))
        self.assertAlmostEqual(t.loss or 0.0, t.curve[-1]["loss"], places=12)
        ev = t.evaluation or {}
        self.assertEqual(ev["trials"], 64)
        self.assertTrue(0.0 <= ev["accuracy"] <= 1.0 and 0.0 <= ev["ideal"] <= 1.0, ev)
        psy = t.psychometric()
        self.assertEqual(sum(psy["n"]), 64)
        self.assertEqual(list(psy["coherence"]), sorted(psy["coherence"]))
        self.assertTrue(all(s["status"] in ("queued", "running") for s in seen))
        # The curve again, in pieces and as CSV; the request as stored.
        self.assertEqual(self.c.training_curve(t, after=25), t.curve[25:])
        csv = self.c.training_curve_csv(t.id).splitlines()
        self.assertEqual(csv[0], ",".join(eirnn.CURVE_COLUMNS))
        self.assertEqual(len(csv), 31)
        req = self.c.training_request(t)
        self.assertEqual((req["model"], req["iterations"], req["name"]),
                         (m["id"], 30, "tiny dale trained"))
        # The trained model: stored with its provenance, usable by a run.
        got = self.c.get_model(t.model_id)
        self.assertEqual((got.get("training"), got.get("name")), (t.id, "tiny dale trained"))
        run = self.c.wait(self.c.submit(model_id=t.model_id, steps=5, dt=20.0),
                          timeout=scaled(60))
        self.assertEqual(run["status"], "succeeded", run.get("error"))
        # Listed, filtered; the same training again (seeded) gives the same model.
        ids = [j["id"] for j in self.c.trainings(task="perceptual_decision_making",
                                                 labels={"suite": "python"})]
        self.assertIn(t.id, ids)
        self.assertNotIn(t.id, [j["id"] for j in self.c.trainings(status="running")])
        again = self.c.train(tiny_training(m), timeout=scaled(300), name="tiny dale trained")
        self.assertEqual(self.c.get_model(again.model_id)["hash"], got["hash"])

    def test_refused(self) -> None:
        m = self.c.create_model(tiny_model())
        doc = tiny_training(m["id"])
        doc["optimizer"] = {"name": "adam", "lr": -1}
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.train(doc)
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "/optimizer/lr"))
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.train(tiny_training("m_" + "0" * 24))
        self.assertEqual(cm.exception.status, 404)

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_custom_task_from_numpy(self) -> None:
        rng = np.random.default_rng(5)
        trials, steps = 6, 8
        labels = np.zeros((trials, steps), dtype=np.int32)
        labels[:, -2:] = (np.arange(trials) % 2 + 1)[:, None]  # choose 1 or 2 at the end
        inputs = rng.uniform(0.0, 0.5, (trials, steps, 3))
        inputs[np.arange(trials), :, labels[:, -1]] += 0.5       # the evidence for the choice
        doc = tiny_training(self.c.create_model(tiny_model("rnn")), iterations=12, batch=6)
        doc.update(task={"name": "custom", "inputs": inputs, "labels": labels},
                   evaluate={"every": 6, "trials": 6}, test={"trials": 6})
        t = self.c.train(doc, timeout=scaled(300))
        self.assertEqual((t.status, t.job["task"]), ("succeeded", "custom"))
        self.assertEqual(len(t.curve), 12)
        self.assertTrue(0.0 <= t.evaluation["accuracy"] <= 1.0, t.evaluation)
        with self.assertRaises(ValueError):
            t.psychometric()  # no coherences in a custom task
        sent = self.c.training_request(t)["task"]
        self.assertEqual((sent["inputs"]["dtype"], sent["inputs"]["shape"]),
                         ("float64", [trials, steps, 3]))  # sent as a binary array
        self.assertEqual(sent["labels"]["shape"], [trials, steps])

    def test_cancel_and_delete(self) -> None:
        inline = tiny_model()
        t = self.c.train(tiny_training(inline, iterations=10 ** 7, batch=64), wait=False)
        self.assertIsNone(t.model_id)
        deadline = time.monotonic() + scaled(60)
        while self.c.training(t)["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.delete_training(t)
        self.assertEqual(cm.exception.status, 409)
        self.c.cancel_training(t)
        job = self.c.wait_training(t, timeout=scaled(60))
        self.assertEqual(job["status"], "cancelled")
        r = self.c.training_result(t)
        self.assertEqual((r.status, r.model_id), ("cancelled", None))
        self.assertEqual([row["iteration"] for row in r.curve],
                         list(range(1, len(r.curve) + 1)))
        self.c.delete_training(t)
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.training(t)
        self.assertEqual(cm.exception.status, 404)

    def test_example_quick(self) -> None:
        if importlib.util.find_spec("matplotlib") is None:
            self.skipTest("matplotlib is not installed")
        if np is None:
            self.skipTest("NumPy is not installed")
        with tempfile.TemporaryDirectory(prefix="eirnn-train-") as tmp:
            png = os.path.join(tmp, "pdm.png")
            p = subprocess.run([sys.executable, EXAMPLE, "--quick", "--url", DAEMON.url,
                                "--out", png, "--timeout", str(scaled(300))],
                               capture_output=True, text=True, timeout=scaled(400),
                               env=dict(os.environ, MPLBACKEND="Agg"))
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            for cls in ("rnn", "dale", "gated"):
                self.assertRegex(p.stdout, rf"(?m)^{cls} +model m_[0-9a-f]{{24}} \(training "
                                 r"t_[0-9a-f]{24}\): 20 iterations, test accuracy")


if __name__ == "__main__":
    unittest.main()
