"""Tests of the eirnn Python client against a live eirnnd.

Starts the real daemon (``$EIRNND_BIN``) on 127.0.0.1, port 0, with a temporary database, and
reads the bound port from its "listening" log line on stderr. Results are checked byte for
byte against ``eirnn simulate`` (``$EIRNN_BIN``). NumPy is optional: the tests that need it
are skipped without it, and the no-NumPy path is forced both in-process (``use_numpy=False``)
and in a subprocess where ``import numpy`` fails.

    EIRNND_BIN=build/server/eirnnd EIRNN_BIN=build/clients/cli/eirnn \\
        PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests -v
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
SOURCE_DIR = os.path.dirname(os.path.dirname(PKG_ROOT))
EXAMPLES = os.path.join(SOURCE_DIR, "schema", "examples")
sys.path.insert(0, PKG_ROOT)

import eirnn  # noqa: E402
from eirnn.arrays import numpy_or_none, parse_npy  # noqa: E402

np = numpy_or_none()

EIRNND_BIN = os.environ.get("EIRNND_BIN", "")
EIRNN_BIN = os.environ.get("EIRNN_BIN", "")


def _time_scale() -> float:
    """EIRNN_TEST_TIME_SCALE (default 1): the factor of the waits, deadlines and upper time
    bounds of the tests, set by scripts/sanitize.sh for the slow sanitizer runs (lower bounds
    and durations asked of the daemon, such as a wait's timeout, are not scaled)."""
    v = os.environ.get("EIRNN_TEST_TIME_SCALE", "")
    if not v:
        return 1.0
    try:
        f = float(v)
    except ValueError:
        f = 0.0
    if not 0 < f < float("inf"):
        raise SystemExit(f"EIRNN_TEST_TIME_SCALE={v}: not a positive number")
    return f


def scaled(seconds: float) -> float:
    """@p seconds times EIRNN_TEST_TIME_SCALE."""
    return seconds * _time_scale()


def load_example(name: str) -> Dict[str, Any]:
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        return json.load(f)


class Daemon:
    """An eirnnd process on a free port with its own temporary database."""

    def __init__(self, *args: str, env: Optional[Dict[str, str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="eirnn-py-")
        self.log_path = os.path.join(self.dir, "eirnnd.log")
        cmd = [EIRNND_BIN, "--listen", "127.0.0.1:0", "--db",
               os.path.join(self.dir, "eirnn.db"), "--shutdown-grace", "1", *args]
        e = dict(os.environ)
        e.pop("EIRNN_TOKEN", None)
        e.setdefault("OPENBLAS_NUM_THREADS", "1")
        if env:
            e.update(env)
        self.log = open(self.log_path, "wb")
        # stderr to a file: the daemon logs every request there and must never block on it.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, env=e)
        self.port = self._port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _port(self) -> int:
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if rec.get("event") == "listening":
                        return int(rec["port"])
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"eirnnd did not start; its log:\n{self.logs()}")

    def logs(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(20))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


DAEMON: Optional[Daemon] = None


def setUpModule() -> None:  # noqa: N802 - unittest's name
    global DAEMON
    if not EIRNND_BIN or not os.access(EIRNND_BIN, os.X_OK):
        raise unittest.SkipTest("set EIRNND_BIN to the eirnnd binary to run these tests")
    DAEMON = Daemon("--workers", "2")


def tearDownModule() -> None:  # noqa: N802
    if DAEMON is not None:
        DAEMON.stop()


def small_model() -> Dict[str, Any]:
    return load_example("model_small.json")


def small_run() -> Dict[str, Any]:
    run = load_example("run_small.json")
    run.pop("model_id", None)
    return run


def simulate(model: Dict[str, Any], run: Dict[str, Any]) -> Dict[str, bytes]:
    """Run `eirnn simulate` and return {var: .npy bytes}."""
    with tempfile.TemporaryDirectory(prefix="eirnn-sim-") as d:
        mp, rp, out = (os.path.join(d, n) for n in ("model.json", "run.json", "out"))
        with open(mp, "w", encoding="utf-8") as f:
            json.dump(model, f)
        with open(rp, "w", encoding="utf-8") as f:
            json.dump(run, f)
        p = subprocess.run([EIRNN_BIN, "simulate", mp, rp, "-o", out, "-q", "-j", "1"],
                           capture_output=True, text=True, timeout=scaled(300))
        if p.returncode != 0:
            raise AssertionError(f"eirnn simulate failed ({p.returncode}): {p.stderr}")
        found = {}
        for n in os.listdir(out):
            if n.endswith(".npy"):
                with open(os.path.join(out, n), "rb") as f:
                    found[n[:-4]] = f.read()
        return found


class Recorder(eirnn.Client):
    """A client that remembers the JSON bodies it sends."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.bodies: List[Any] = []

    def request(self, method: str, path: str, **kw: Any):  # type: ignore[override]
        if kw.get("body") is not None:
            self.bodies.append(kw["body"])
        return super().request(method, path, **kw)


class ClientTest(unittest.TestCase):
    """Against the shared daemon (2 workers, no token)."""

    def setUp(self) -> None:
        assert DAEMON is not None
        self.c = eirnn.Client(DAEMON.url, timeout=scaled(30))
        self.plain = eirnn.Client(DAEMON.url, timeout=scaled(30), use_numpy=False)

    def _run(self, **kw: Any) -> Dict[str, Any]:
        run = self.c.wait(self.c.submit(**kw), timeout=scaled(120))
        self.assertEqual(run["status"], "succeeded", run.get("error"))
        return run

    # -- service -----------------------------------------------------------------------------

    def test_health(self) -> None:
        h = self.c.health()
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["db"], "ok")
        self.assertIn("version", h)
        self.assertEqual(self.c.openapi()["openapi"][:2], "3.")

    # -- models ------------------------------------------------------------------------------

    def test_models_create_get_list_delete(self) -> None:
        doc = small_model()
        ids = []
        for k in range(3):
            d = copy.deepcopy(doc)
            d["name"] = f"py-list-{k}"
            m = self.c.create_model(d)
            self.assertRegex(m["id"], r"^m_[0-9a-f]{24}$")
            self.assertEqual(m["name"], f"py-list-{k}")
            self.assertEqual(m["n"], 10)
            self.assertRegex(m["hash"], r"^[0-9a-f]{64}$")
            ids.append(m["id"])
        got = self.c.get_model(ids[1])
        self.assertEqual(got["id"], ids[1])
        self.assertEqual(got["model"]["populations"], {"E": 8, "I": 2})
        self.assertEqual(got["model"]["recurrent"]["W"], doc["recurrent"]["W"])
        self.assertEqual(self.c.get_model(got)["id"], ids[1])  # a resource works as an id

        # Pagination: pages of one model each reach every model, newest first.
        listed = [m["id"] for m in self.c.list_models(page_size=1)]
        self.assertEqual(listed, [m["id"] for m in self.c.list_models()])
        pos = [listed.index(i) for i in ids]
        self.assertEqual(pos, sorted(pos, reverse=True))
        self.assertEqual(len(list(self.c.list_models(limit=2, page_size=1))), 2)

        self.c.delete_model(ids[0])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.get_model(ids[0])
        self.assertEqual(cm.exception.status, 404)
        self.assertEqual(cm.exception.type, "urn:eirnn:problem:not-found")
        self.assertNotIn(ids[0], [m["id"] for m in self.c.list_models()])

    def test_generated_model_is_built_by_a_worker(self) -> None:
        doc = {"class": "gated", "populations": {"E": 40, "I": 10}, "activation": {"name": "relu"},
               "leak": 1.0, "recurrent": {"generate": {"seed": 3, "spectral_radius": 0.9,
                                                       "p": {"EE": 0.2, "EI": 0.4, "IE": 0.4,
                                                             "II": 0.4},
                                                       "mean": {"EE": 0.1, "EI": 0.2, "IE": 0.1,
                                                                "II": 0.2}},
                                          "A": 0.5}}
        m = self.c.create_model(doc)
        self.assertEqual(m["state"], "pending")
        self.assertIsNone(m["hash"])
        run = self._run(model_id=m["id"], steps=5, dt=0.1)  # accepted while pending
        self.assertEqual(run["status"], "succeeded")
        ready = self.c.wait_model(m, timeout=60)
        self.assertEqual(ready["state"], "ready")
        self.assertRegex(ready["hash"], r"^[0-9a-f]{64}$")
        self.assertEqual(run["meta"]["model"]["hash"], ready["hash"])
        m2 = self.c.create_model(doc, wait=True, timeout=60)
        self.assertEqual((m2["state"], m2["hash"]), ("ready", ready["hash"]))
        bad = dict(doc, activation={"name": "linear"})  # refused by the engine's build
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.create_model(bad, wait=True, timeout=60)
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "/activation"))

    def test_matrices(self) -> None:
        model = small_model()
        m = self.c.create_model(model)
        items = self.c.matrices(m)
        self.assertEqual([i["name"] for i in items],
                         ["W", "M", "P", "G_b", "bias", "W_out", "b_out"])
        self.assertEqual(items[0]["shape"], [10, 10])
        self.assertEqual(items[3]["shape"], [10])
        self.assertTrue(all(i["dtype"] == "float64" for i in items))
        w = self.plain.matrix(m, "W")
        self.assertIsInstance(w, eirnn.NpyArray)
        self.assertEqual(w.shape, (10, 10))
        self.assertEqual(w.tolist(), model["recurrent"]["W"])
        self.assertEqual(self.plain.matrix(m["id"], "P").tolist(), model["input"]["P"])
        self.assertEqual(self.plain.matrix(m, "bias").tolist(), [0.1] * 10)
        self.assertEqual(json.loads(self.c.matrix_bytes(m, "b_out", "json")), [0])
        self.assertEqual(self.c.matrix_bytes(m, "G_b", "csv").decode(), "G_b\n" + "1\n" * 10)
        if np is not None:
            a = self.c.matrix(m, "M")
            self.assertIsInstance(a, np.ndarray)
            self.assertEqual(a.tolist(), [[abs(v) for v in row] for row in model["recurrent"]["W"]])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.matrix(m, "K")
        self.assertEqual(cm.exception.status, 404)
        self.assertIn("W, M, P, G_b, bias, W_out, b_out", cm.exception.detail)
        if EIRNN_BIN:  # the same bytes as `eirnn model export`
            with tempfile.TemporaryDirectory(prefix="eirnn-export-") as d:
                mp = os.path.join(d, "model.json")
                with open(mp, "w", encoding="utf-8") as f:
                    json.dump(model, f)
                p = subprocess.run([EIRNN_BIN, "model", "export", mp, "-o", os.path.join(d, "x")],
                                   capture_output=True, text=True, timeout=scaled(60))
                self.assertEqual(p.returncode, 0, p.stderr)
                for i in items:
                    with open(os.path.join(d, "x", i["name"] + ".npy"), "rb") as f:
                        self.assertEqual(self.c.matrix_bytes(m, i["name"]), f.read(), i["name"])

    def test_model_in_use_is_not_deleted(self) -> None:
        m = self.c.create_model(small_model())
        run = self._run(model_id=m["id"], steps=5, dt=0.1)
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.delete_model(m["id"])
        self.assertEqual(cm.exception.status, 409)
        self.c.delete_run(run)
        self.c.delete_model(m)

    # -- runs and results against `eirnn simulate` ---------------------------------------------

    @unittest.skipUnless(EIRNN_BIN, "set EIRNN_BIN to compare with eirnn simulate")
    def test_results_equal_simulate(self) -> None:
        model, req = small_model(), small_run()
        expected = simulate(model, req)
        # V_final: the final state every run that ran to its end keeps (issue 12)
        self.assertEqual(sorted(expected), ["V", "V_final", "r", "y", "z"])
        m = self.c.create_model(model)
        run = self._run(model_id=m["id"], inputs=req["inputs"], dt=req["dt"],
                        seed=req["seed"], record=req["record"], integrator=req["integrator"],
                        precision=req["precision"], V0=req["V0"])
        self.assertEqual(run["meta"]["run"]["T"], 20)
        for var, raw in expected.items():
            got = self.c.result_bytes(run, var)
            self.assertEqual(got, raw, f"{var}.npy differs from eirnn simulate's")
            self.assertEqual(self.plain.result(run, var), parse_npy(raw))
            if np is not None:
                a = self.c.result(run, var)
                self.assertIsInstance(a, np.ndarray)
                self.assertEqual(a.tobytes(), parse_npy(raw).tobytes())

    @unittest.skipUnless(EIRNN_BIN, "set EIRNN_BIN to compare with eirnn simulate")
    def test_noisy_inline_run_equals_simulate(self) -> None:
        model, req = small_model(), small_run()
        model["noise"] = {"sigma": 0.3}
        req.update(seed=12345, precision="float32", integrator="rk4",
                   record={"vars": ["V", "r"], "every": 2})
        req["inputs"] = [req["inputs"], [[0.5, -0.5]] * 20]  # 2 trials
        expected = simulate(model, req)
        run = self._run(model=model, inputs=req["inputs"], dt=req["dt"], seed=req["seed"],
                        record=req["record"], integrator="rk4", precision="float32")
        self.assertIsNone(run["model_id"])
        for var in ("V", "r"):
            self.assertEqual(self.c.result_bytes(run, var), expected[var])
            a = self.plain.result(run, var)
            self.assertEqual((a.shape, a.dtype), ((2, 10, 10), "float32"))

    def test_numpy_free_parser_matches_numpy(self) -> None:
        m = self.c.create_model(small_model())
        run = self._run(model_id=m["id"], inputs=small_run()["inputs"], dt=0.1,
                        precision="float32", record=["V", "y"])
        a = self.plain.result(run, "y")
        self.assertIsInstance(a, eirnn.NpyArray)
        self.assertEqual(a.shape, (1, 20, 1))
        self.assertEqual(a.dtype, "float32")
        self.assertEqual(len(a.tolist()[0]), 20)
        self.assertEqual(a[0, 3, 0], a.tolist()[0][3][0])
        if np is not None:
            b = self.c.result(run, "y")
            self.assertEqual(b.dtype, np.float32)
            self.assertEqual(b.tolist(), a.tolist())

    # -- inputs: lists and the binary form ------------------------------------------------------

    def test_inputs_binary_and_lists_agree(self) -> None:
        m = self.c.create_model(small_model())
        x = small_run()["inputs"]
        rc = Recorder(DAEMON.url, use_numpy=False)  # type: ignore[union-attr]
        runs = {}
        runs["lists"] = rc.submit(model_id=m["id"], inputs=x, dt=0.1, seed=3)
        self.assertIsInstance(rc.bodies[-1]["inputs"], list)
        flat = eirnn.NpyArray((20, 2), "float64", [v for row in x for v in row])
        runs["npyarray"] = rc.submit(model_id=m["id"], inputs=flat, dt=0.1, seed=3)
        self.assertEqual(rc.bodies[-1]["inputs"]["shape"], [20, 2])
        runs["dict"] = rc.submit(model_id=m["id"], inputs=eirnn.binary_array(x), dt=0.1, seed=3)
        if np is not None:
            runs["ndarray"] = rc.submit(model_id=m["id"], inputs=np.asarray(x), dt=0.1, seed=3)
            sent = rc.bodies[-1]["inputs"]
            self.assertEqual(sorted(sent), ["base64", "dtype", "shape"])
            self.assertEqual((sent["dtype"], sent["shape"]), ("float64", [20, 2]))
            runs["ndarray32"] = rc.submit(model_id=m["id"], dt=0.1, seed=3,
                                          inputs=np.asarray(x, dtype=np.float32)[None])
            self.assertEqual(rc.bodies[-1]["inputs"]["dtype"], "float32")
        ref = None
        for name, r in runs.items():
            r = rc.wait(r, timeout=scaled(60))
            self.assertEqual(r["status"], "succeeded", name)
            raw = rc.result_bytes(r, "r")
            if name == "ndarray32":  # the float32-rounded inputs give other values
                self.assertEqual(parse_npy(raw).shape, (1, 20, 10))
                continue
            if ref is None:
                ref = raw
            self.assertEqual(raw, ref, name)

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_numpy_model_matrices(self) -> None:
        doc = small_model()
        doc["recurrent"]["W"] = np.array(doc["recurrent"]["W"])
        doc["input"]["P"] = np.array(doc["input"]["P"], dtype=np.float32)
        doc["bias"] = np.float64(0.1)
        m = self.c.create_model(doc)
        self.assertEqual(self.c.get_model(m)["model"]["recurrent"]["W"]["shape"], [10, 10])

    def test_zero_inputs(self) -> None:
        m = self.c.create_model(small_model())
        run = self._run(model_id=m["id"], steps=7, trials=3, dt=0.1, record=["V"])
        a = self.plain.result(run, "V")
        self.assertEqual(a.shape, (3, 7, 10))
        self.assertEqual(a.tolist()[0], a.tolist()[2])
        self.assertEqual([i["var"] for i in self.c.list_results(run)], ["V", "V_final"])

    # -- slicing and formats ------------------------------------------------------------------

    def test_slicing(self) -> None:
        m = self.c.create_model(small_model())
        x = small_run()["inputs"]
        run = self._run(model_id=m["id"], inputs=[x, [[1.0, 1.0]] * 20, [[0.0, 2.0]] * 20],
                        dt=0.1, record=["V"])
        full = self.plain.result(run, "V")
        self.assertEqual(full.shape, (3, 20, 10))
        ref = full.tolist()

        def sel(trials: Sequence[int], steps: Sequence[int], units: Sequence[int]) -> Any:
            return [[[ref[b][t][u] for u in units] for t in steps] for b in trials]

        cases = [
            (dict(trials=1), [1], range(20), range(10)),
            (dict(trials=slice(1, 3), steps=(5, 9)), [1, 2], range(5, 9), range(10)),
            (dict(steps="15:"), range(3), range(15, 20), range(10)),
            (dict(steps=slice(None, 2), neurons=[9, 0, slice(3, 5)]), range(3), [0, 1],
             [9, 0, 3, 4]),
            (dict(neurons=7), range(3), range(20), [7]),
            (dict(neurons="2:4,8"), range(3), range(20), [2, 3, 8]),
        ]
        for kw, tr, st, un in cases:
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                got = self.plain.result(run, "V", **kw)
                self.assertEqual(got.tolist(), sel(tr, st, un))
                if np is not None:
                    self.assertEqual(self.c.result(run, "V", **kw).tolist(), sel(tr, st, un))
        self.assertEqual(self.c.result_json(run, "V", trials=0, steps=3), sel([0], [3], range(10)))
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.result(run, "V", steps=(0, 21))
        self.assertEqual((cm.exception.status, cm.exception.parameter), (400, "steps"))
        self.assertTrue(str(cm.exception).startswith("400 Bad Request: steps: "))
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.result(run, "r")
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(ValueError):
            self.c.result(run, "V", steps=slice(0, 10, 2))

    def test_csv(self) -> None:
        m = self.c.create_model(small_model())
        run = self._run(model_id=m["id"], inputs=[small_run()["inputs"]] * 2, dt=0.1,
                        record=["r", "y"])
        text = self.c.result_csv(run, "r", steps=(0, 4), neurons=[1, 2])
        lines = text.strip().splitlines()
        self.assertEqual(lines[0].split(","), ["trial", "step", "r1", "r2"])
        self.assertEqual(len(lines), 1 + 2 * 4)
        ref = self.plain.result(run, "r", steps=(0, 4), neurons=[1, 2]).tolist()
        for line in lines[1:]:
            b, t, *vals = line.split(",")
            self.assertEqual([float(v) for v in vals], ref[int(b)][int(t)])
        y = self.c.result_csv(run, "y").strip().splitlines()
        self.assertEqual(y[0], "trial,step,y0")
        self.assertEqual(len(y), 41)

    # -- errors --------------------------------------------------------------------------------

    def test_invalid_model(self) -> None:
        doc = small_model()
        doc["recurrent"]["W"] = [[0.0] * 10] * 9
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.create_model(doc)
        e = cm.exception
        self.assertEqual(e.status, 422)
        self.assertEqual(e.field, "/recurrent/W")
        self.assertEqual(e.type, "urn:eirnn:problem:invalid-document")
        self.assertIn("expected shape", e.detail)
        self.assertTrue(str(e).startswith("422 Unprocessable Content: /recurrent/W: expected"),
                        str(e))
        self.assertIsInstance(e, eirnn.Error)

        doc = small_model()
        doc["leak"] = -1
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.create_model(doc)
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "/leak"))

    def test_invalid_runs(self) -> None:
        m = self.c.create_model(small_model())
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.submit(model_id=m["id"], inputs=[[0.0, 0.0, 0.0]], dt=0.1)
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "/inputs"))
        bad = small_model()
        bad["populations"] = {"E": 8, "I": 3}
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.submit(model=bad, steps=3, dt=0.1)
        self.assertEqual(cm.exception.status, 422)
        self.assertTrue(cm.exception.field.startswith("/model/"), cm.exception.field)
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.submit(model_id="m_000000000000000000000000", steps=3, dt=0.1)
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "/model_id"))
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.submit(model_id=m["id"], steps=3, dt=0.1, bogus=1)
        self.assertEqual(cm.exception.status, 422)
        with self.assertRaises(ValueError):
            self.c.submit(model_id=m["id"], steps=3)  # no dt
        with self.assertRaises(ValueError):
            self.c.submit(model=small_model(), model_id=m["id"], steps=3, dt=0.1)

    def test_malformed_and_not_found(self) -> None:
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.request("POST", "/v1/models", body=b"{not json")
        self.assertEqual(cm.exception.status, 400)
        self.assertEqual(cm.exception.type, "urn:eirnn:problem:malformed-json")
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.get_run("r_000000000000000000000000")
        self.assertEqual(cm.exception.status, 404)
        self.assertTrue(str(cm.exception).startswith("404 Not Found: "))
        with self.assertRaises(eirnn.EirnnError) as cm:
            list(self.c.list_runs(status="bogus"))
        self.assertEqual((cm.exception.status, cm.exception.parameter), (400, "status"))

    def test_connection_error(self) -> None:
        dead = Daemon()
        url = dead.url
        dead.stop()
        with self.assertRaises(eirnn.EirnnConnectionError) as cm:
            eirnn.Client(url, timeout=5).health()
        self.assertIn(url, str(cm.exception))
        self.assertIsInstance(cm.exception, ConnectionError)

    # -- listing, idempotency, deletion ---------------------------------------------------------

    def test_list_runs_and_delete(self) -> None:
        m = self.c.create_model(small_model())
        r1 = self._run(model_id=m["id"], steps=3, dt=0.1)
        r2 = self._run(model_id=m["id"], steps=4, dt=0.1)
        mine = [r["id"] for r in self.c.list_runs(model_id=m["id"], page_size=1)]
        self.assertEqual(mine, [r2["id"], r1["id"]])
        done = [r["id"] for r in self.c.list_runs(status="succeeded")]
        self.assertIn(r1["id"], done)
        self.assertEqual(list(self.c.list_runs(model_id=m["id"], status="queued")), [])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.cancel(r1)  # already succeeded
        self.assertEqual((cm.exception.status, cm.exception.type),
                         (409, "urn:eirnn:problem:conflict"))
        self.c.delete_run(r1["id"])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.get_run(r1)
        self.assertEqual(cm.exception.status, 404)
        self.assertEqual([r["id"] for r in self.c.list_runs(model_id=m)], [r2["id"]])

    def test_idempotency_key(self) -> None:
        m = self.c.create_model(small_model())
        a = self.c.submit(model_id=m["id"], steps=3, dt=0.1, idempotency_key="py-key-1")
        b = self.c.submit(model_id=m["id"], steps=3, dt=0.1, idempotency_key="py-key-1")
        self.assertEqual(a["id"], b["id"])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.submit(model_id=m["id"], steps=4, dt=0.1, idempotency_key="py-key-1")
        self.assertEqual(cm.exception.status, 422)
        self.c.wait(a, timeout=scaled(60))

    def test_cancel_running(self) -> None:
        doc = small_model()
        m = self.c.create_model(doc)
        # Long enough to be caught running; time_limit bounds it if the cancel misses.
        run = self.c.submit(model_id=m["id"], steps=5_000_000, dt=0.01, time_limit=120,
                            record={"vars": ["V"], "every": 1_000_000})
        deadline = time.monotonic() + scaled(30)
        while self.c.get_run(run)["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            now = self.c.cancel(run)
        except eirnn.EirnnError as e:  # finished already on a very fast machine
            self.assertEqual(e.status, 409)
            return
        self.assertTrue(now["cancel_requested"] or now["status"] == "cancelled", now)
        seen: List[Dict[str, Any]] = []
        final = self.c.wait(run, timeout=scaled(60), progress=seen.append, poll=0.5)
        self.assertEqual(final["status"], "cancelled")
        self.assertLess(final["meta"]["summary"]["steps_done"], 5_000_000)
        self.assertEqual(self.c.cancel(run)["status"], "cancelled")  # changes nothing
        self.c.delete_run(run)


class QueueOnlyTest(unittest.TestCase):
    """A daemon with no workers: runs stay queued, so cancel and wait are deterministic."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.d = Daemon("--workers", "0")
        cls.c = eirnn.Client(cls.d.url)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.d.stop()

    def test_wait_timeout_and_progress(self) -> None:
        m = self.c.create_model(small_model())
        run = self.c.submit(model_id=m["id"], steps=10, dt=0.1)
        self.assertEqual(run["status"], "queued")
        seen: List[Dict[str, Any]] = []
        t0 = time.monotonic()
        with self.assertRaises(eirnn.EirnnTimeoutError) as cm:
            self.c.wait(run, timeout=0.6, poll=0.2, progress=seen.append)
        self.assertLess(time.monotonic() - t0, scaled(10))
        self.assertEqual(cm.exception.run["status"], "queued")
        self.assertGreaterEqual(len(seen), 1)
        self.assertEqual(seen[-1]["progress"]["total"], 10)
        with self.assertRaises(eirnn.EirnnError) as e409:
            self.c.result(run, "V")
        self.assertEqual(e409.exception.status, 409)
        with self.assertRaises(eirnn.EirnnError) as e409:
            self.c.delete_run(run)
        self.assertEqual(e409.exception.status, 409)
        self.assertEqual(self.c.cancel(run)["status"], "cancelled")

    def test_cancel_queued(self) -> None:
        m = self.c.create_model(small_model())
        run = self.c.submit(model_id=m["id"], steps=10, dt=0.1)
        queued = [r["id"] for r in self.c.list_runs(status="queued")]
        self.assertIn(run["id"], queued)
        c = self.c.cancel(run)
        self.assertEqual(c["status"], "cancelled")
        self.assertEqual(self.c.wait(run, timeout=scaled(5))["status"], "cancelled")
        self.assertEqual(self.c.cancel(run["id"])["status"], "cancelled")  # changes nothing
        self.c.delete_run(run)


class AuthTest(unittest.TestCase):
    """A daemon started with a token."""

    TOKEN = "s3cret-py-token"

    @classmethod
    def setUpClass(cls) -> None:
        cls.d = Daemon("--workers", "1", env={"EIRNN_TOKEN": cls.TOKEN})

    @classmethod
    def tearDownClass(cls) -> None:
        cls.d.stop()

    def test_token(self) -> None:
        self.assertEqual(eirnn.Client(self.d.url).health()["status"], "ok")  # open endpoint
        with self.assertRaises(eirnn.EirnnError) as cm:
            eirnn.Client(self.d.url).create_model(small_model())
        self.assertEqual(cm.exception.status, 401)
        self.assertTrue(str(cm.exception).startswith("401 Unauthorized: "))
        with self.assertRaises(eirnn.EirnnError) as cm:
            list(eirnn.Client(self.d.url, token="wrong").list_models())
        self.assertEqual(cm.exception.status, 401)
        c = eirnn.Client(self.d.url, token=self.TOKEN)
        self.assertNotIn(self.TOKEN, repr(c))
        m = c.create_model(small_model())
        run = c.wait(c.submit(model_id=m["id"], steps=5, dt=0.1), timeout=scaled(60))
        self.assertEqual(run["status"], "succeeded")
        self.assertEqual(c.result(run, "V", steps=4).shape, (1, 1, 10))


class NoNumpyTest(unittest.TestCase):
    """The package without NumPy at all: `import numpy` fails in a subprocess."""

    BLOCK = "import sys; sys.modules['numpy'] = None; sys.modules['matplotlib'] = None\n"

    def _python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=PKG_ROOT)
        return subprocess.run([sys.executable, "-c", self.BLOCK + code, *args], env=env,
                              capture_output=True, text=True, timeout=scaled(120))

    def test_client_without_numpy(self) -> None:
        assert DAEMON is not None
        code = (
            "import json, sys, eirnn\n"
            "c = eirnn.Client(sys.argv[1])\n"
            "m = c.create_model(json.load(open(sys.argv[2])))\n"
            "run = c.wait(c.submit(model_id=m['id'], inputs=[[1.0, 0.5]] * 6, dt=0.1,\n"
            f"                      record=['V', 'r']), timeout={scaled(60)})\n"
            "a = c.result(run, 'r', neurons=[0, 9])\n"
            "assert isinstance(a, eirnn.NpyArray), type(a)\n"
            "assert 'numpy' not in sys.modules or sys.modules['numpy'] is None\n"
            "print(json.dumps({'shape': a.shape, 'dtype': a.dtype, 'v': a.item(0, 5, 1)}))\n"
        )
        p = self._python(code, DAEMON.url, os.path.join(EXAMPLES, "model_small.json"))
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual((out["shape"], out["dtype"]), ([1, 6, 2], "float64"))
        self.assertGreater(out["v"], 0)


class ExampleTest(unittest.TestCase):
    """examples/gated_step.py end to end (400 cells), with and without NumPy/matplotlib."""

    SCRIPT = os.path.join(PKG_ROOT, "examples", "gated_step.py")

    def _check(self, out: str) -> Dict[str, List[float]]:
        self.assertIn("320 E + 80 I cells", out)
        rates = {}
        for line in out.splitlines():
            parts = line.split()
            if parts and parts[0] in ("before", "during", "after"):
                rates[parts[0]] = [float(parts[2]), float(parts[3])]
        self.assertEqual(sorted(rates), ["after", "before", "during"])
        for k in ("before", "after"):  # the pulse raises both E and I rates
            self.assertGreater(rates["during"][0], rates[k][0])
            self.assertGreater(rates["during"][1], rates[k][1])
        return rates

    def test_example(self) -> None:
        assert DAEMON is not None
        with tempfile.TemporaryDirectory() as d:
            png = os.path.join(d, "fig.png")
            env = dict(os.environ, PYTHONPATH=PKG_ROOT, MPLBACKEND="Agg",
                       MPLCONFIGDIR=os.path.join(d, "mpl"))
            p = subprocess.run([sys.executable, self.SCRIPT, "--url", DAEMON.url, "--out", png],
                               env=env, capture_output=True, text=True,
                               timeout=scaled(300))
            self.assertEqual(p.returncode, 0, p.stderr)
            rates = self._check(p.stdout)
            have_mpl = importlib.util.find_spec("matplotlib") is not None
            if have_mpl:
                self.assertIn(f"figure saved to {png}", p.stdout)
                with open(png, "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            else:
                self.assertIn("skipped the figure", p.stdout)

            # Without NumPy and matplotlib: same numbers, no figure.
            block = NoNumpyTest.BLOCK + (
                "import runpy; sys.argv = sys.argv[1:]\n"
                "runpy.run_path(sys.argv[0], run_name='__main__')\n")
            p = subprocess.run([sys.executable, "-c", block, self.SCRIPT, "--url", DAEMON.url,
                                "--out", png + ".2"], env=env, capture_output=True,
                               text=True, timeout=scaled(300))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(self._check(p.stdout), rates)
            self.assertIn("skipped the figure", p.stdout)
            self.assertFalse(os.path.exists(png + ".2"))

    def test_example_reports_errors(self) -> None:
        p = subprocess.run([sys.executable, self.SCRIPT, "--url", "http://127.0.0.1:1"],
                           env=dict(os.environ, PYTHONPATH=PKG_ROOT), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot reach eirnnd", p.stderr)


class ArraysTest(unittest.TestCase):
    """The pieces that need no daemon."""

    def test_binary_array_roundtrip(self) -> None:
        import base64
        import struct

        b = eirnn.binary_array([[1, 2, 3], [4, 5, 6]], dtype="float32")
        self.assertEqual((b["dtype"], b["shape"]), ("float32", [2, 3]))
        self.assertEqual(struct.unpack("<6f", base64.b64decode(b["base64"])),
                         (1.0, 2.0, 3.0, 4.0, 5.0, 6.0))
        with self.assertRaises(ValueError):
            eirnn.binary_array([[1, 2], [3]])
        flat = eirnn.binary_array([1, 2, 3, 4], shape=(2, 2))
        self.assertEqual(flat["shape"], [2, 2])

    def test_parse_npy_rejects(self) -> None:
        with self.assertRaises(ValueError):
            parse_npy(b"not npy at all")
        hdr = b"{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }"
        hdr += b" " * (63 - len(hdr) - 10) + b"\n"
        with self.assertRaises(ValueError):
            parse_npy(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr + b"\0" * 4)

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_parse_npy_matches_numpy(self) -> None:
        import io

        for dt in ("<f4", "<f8"):
            a = np.arange(24, dtype=dt).reshape(2, 3, 4) / 7
            buf = io.BytesIO()
            np.save(buf, a)
            p = parse_npy(buf.getvalue())
            self.assertEqual(p.shape, (2, 3, 4))
            self.assertEqual(p.tolist(), a.tolist())
            self.assertEqual(p.tobytes(), a.tobytes())

    def test_error_str(self) -> None:
        e = eirnn.EirnnError.from_problem(422, {
            "type": "urn:eirnn:problem:invalid-document", "title": "The document is not valid",
            "status": 422, "detail": "expected shape [4, 4], got [3, 4]",
            "field": "/recurrent/W"})
        self.assertEqual(str(e),
                         "422 Unprocessable Content: /recurrent/W: expected shape [4, 4], "
                         "got [3, 4]")


if __name__ == "__main__":
    unittest.main()
