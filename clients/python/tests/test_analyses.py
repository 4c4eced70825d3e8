"""Tests of the analysis methods of the eirnn Python client (eirnn/analyses.py).

The request building and the arrays without NumPy need no daemon; the rest runs against a live
eirnnd (``$EIRNND_BIN``, started as test_client.py does) and checks exact answers: the spectrum
of a stored W against numpy.linalg.eigvals, the fixed point of a linear network against its
closed form ``(G_b - W)^-1 (P x + b)``, and the result arrays' dtypes (complex128, int32).

    EIRNND_BIN=build/server/eirnnd PYTHONPATH=clients/python \\
        python3 -m unittest discover -s clients/python/tests -p test_analyses.py -v
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import unittest
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
sys.path.insert(0, PKG_ROOT)
sys.path.insert(0, HERE)

import eirnn  # noqa: E402
from eirnn.arrays import numpy_or_none, parse_npy  # noqa: E402
from test_client import EIRNND_BIN, Daemon, load_example, scaled  # noqa: E402

np = numpy_or_none()
DAEMON = None


def setUpModule() -> None:  # noqa: N802 - unittest's name
    global DAEMON
    if EIRNND_BIN and os.access(EIRNND_BIN, os.X_OK):
        DAEMON = Daemon("--workers", "2")


def tearDownModule() -> None:  # noqa: N802
    if DAEMON is not None:
        DAEMON.stop()


def linear_model() -> Dict[str, Any]:
    """Class rnn, linear activation, 3 cells, one input, a bias: its one fixed point is
    (G_b - W)^-1 (P x + b), its Jacobian W - diag(G_b)."""
    return {
        "class": "rnn",
        "populations": {"E": 2, "I": 1},
        "n_inputs": 1,
        "activation": {"name": "linear"},
        "leak": [1.0, 1.5, 2.0],
        "recurrent": {"W": [[0.0, 0.3, -0.2], [0.25, 0.1, -0.4], [0.5, 0.2, -0.3]]},
        "input": {"P": [[1.0], [0.5], [-0.25]]},
        "bias": [0.1, -0.2, 0.05],
    }


def sort_eig(ev: Any) -> Any:
    """Eigenvalues by real part descending, ties by imaginary part descending."""
    return ev[np.lexsort((-ev.imag, -ev.real))]


class Capture(eirnn.Client):
    """A client that records the requests it would send and answers with a canned job."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")
        self.sent: List[Any] = []

    def _json(self, method: str, path: str, **kw: Any) -> Any:  # type: ignore[override]
        self.sent.append((method, path, kw.get("body"), kw.get("headers")))
        return {"id": "a_" + "0" * 24, "status": "queued"}


class RequestTest(unittest.TestCase):
    """What analyze() sends, without a server."""

    def test_bodies(self) -> None:
        c = Capture()
        job = c.analyze("spectrum", model_id="m_1", of="W", wait=False)
        self.assertEqual(job["status"], "queued")
        self.assertEqual(c.sent[-1][:3], ("POST", "/v1/analyses",
                                          {"kind": "spectrum", "model_id": "m_1", "of": "W"}))
        c.analyze("fixed_points", model_id={"id": "m_2"}, wait=False, x=(1, 0),
                  starts={"random": {"count": 10, "seed": 3}}, idempotency_key="k1")
        _, _, body, headers = c.sent[-1]
        self.assertEqual(body, {"kind": "fixed_points", "model_id": "m_2", "x": [1, 0],
                                "starts": {"random": {"count": 10, "seed": 3}}})
        self.assertEqual(headers, {"Idempotency-Key": "k1"})
        c.analyze("activity", run_id="r_1", wait=False)
        self.assertEqual(c.sent[-1][2], {"kind": "activity", "run_id": "r_1"})
        inline = linear_model()
        c.analyze("lyapunov", model=inline, k=2, wait=False)
        self.assertEqual(c.sent[-1][2], {"kind": "lyapunov", "model": inline, "k": 2})

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_numpy_arrays_are_sent_as_lists(self) -> None:
        c = Capture()
        c.analyze("spectrum", model_id="m_1", wait=False, at={"V": np.array([0.5, -1.0])},
                  x=np.zeros(2))
        body = c.sent[-1][2]
        self.assertEqual(body["at"], {"V": [0.5, -1.0]})
        self.assertEqual(body["x"], [0.0, 0.0])
        json.dumps(body)  # plain JSON

    def test_refused_locally(self) -> None:
        c = Capture()
        with self.assertRaises(ValueError):
            c.analyze("eigen", model_id="m_1", wait=False)
        with self.assertRaises(ValueError):
            c.analyze("spectrum", wait=False)  # no model
        with self.assertRaises(ValueError):
            c.analyze("spectrum", model_id="m_1", model=linear_model(), wait=False)
        with self.assertRaises(TypeError):
            c.analysis(42)  # type: ignore[arg-type]
        self.assertEqual(c.sent, [])


class NpyDtypesTest(unittest.TestCase):
    """The NumPy-free reader of the dtypes of analysis results."""

    @staticmethod
    def _npy(descr: str, shape: str, payload: bytes) -> bytes:
        hdr = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)).encode()
        hdr += b" " * (63 - (len(hdr) + 10) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr + payload

    def test_complex_and_ints(self) -> None:
        c = parse_npy(self._npy("<c16", "(2,)", struct.pack("<4d", 1.5, -2.0, 0.0, 3.0)), True)
        self.assertEqual((c.dtype, c.shape, c.data), ("complex128", (2,), [1.5 - 2j, 3j]))
        self.assertEqual(c.tobytes(), struct.pack("<4d", 1.5, -2.0, 0.0, 3.0))
        i = parse_npy(self._npy("<i4", "(2, 2)", struct.pack("<4i", 1, -2, 3, 4)), True)
        self.assertEqual((i.dtype, i.tolist()), ("int32", [[1, -2], [3, 4]]))
        q = parse_npy(self._npy("<i8", "(1,)", struct.pack("<q", 1 << 40)), True)
        self.assertEqual(q.item(0), 1 << 40)
        # Run results and matrices stay float only.
        with self.assertRaises(ValueError):
            parse_npy(self._npy("<c16", "(1,)", b"\0" * 16))
        with self.assertRaises(ValueError):
            eirnn.binary_array(c)

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_matches_numpy(self) -> None:
        for a in (np.array([[1 + 2j, -3.5j], [0.25, -1e300 + 1e-300j]]),
                  np.arange(6, dtype=np.int32).reshape(3, 2) - 2,
                  np.arange(4, dtype=np.int64) << 35):
            buf = io.BytesIO()
            np.save(buf, a)
            p = parse_npy(buf.getvalue(), True)
            self.assertEqual(p.tolist(), a.tolist())
            self.assertEqual(p.tobytes(), a.tobytes())


@unittest.skipUnless(EIRNND_BIN, "set EIRNND_BIN to the eirnnd binary to run these tests")
class AnalysesTest(unittest.TestCase):
    """Against a live daemon (2 workers)."""

    def setUp(self) -> None:
        assert DAEMON is not None
        self.c = eirnn.Client(DAEMON.url, timeout=scaled(30))
        self.plain = eirnn.Client(DAEMON.url, timeout=scaled(30), use_numpy=False)

    def _analyze(self, kind: str, **kw: Any) -> Dict[str, Any]:
        job = self.c.analyze(kind, timeout=scaled(120), **kw)
        self.assertEqual(job["status"], "succeeded", job.get("error"))
        self.assertEqual((job["kind"], job["analysis"]), ("analysis", kind))
        self.assertRegex(job["id"], r"^a_[0-9a-f]{24}$")
        return job

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_spectrum_of_w(self) -> None:
        doc = load_example("model_small.json")
        m = self.c.create_model(doc)
        seen: List[Dict[str, Any]] = []
        job = self._analyze("spectrum", model_id=m["id"], of="W", progress=seen.append)
        ev = self.c.analysis_result(job, "eigenvalues")
        self.assertEqual((ev.dtype, ev.shape), (np.complex128, (10,)))
        want = sort_eig(np.linalg.eigvals(np.array(doc["recurrent"]["W"])))
        np.testing.assert_allclose(ev, want, rtol=0, atol=1e-12)
        s = job["summary"]
        self.assertAlmostEqual(s["spectral_radius"], float(np.max(np.abs(want))), places=12)
        self.assertAlmostEqual(s["spectral_abscissa"], float(np.max(want.real)), places=12)
        self.assertEqual(s["n_positive_real"], int(np.sum(want.real > 0)))
        # Every result the document lists, at once; the same bytes without NumPy.
        allr = self.c.analysis_results(job["id"])
        self.assertEqual(set(allr), set(job["results"]))
        np.testing.assert_array_equal(allr["eigenvalues"], ev)
        p = self.plain.analysis_result(job["id"], "eigenvalues")
        self.assertIsInstance(p, eirnn.NpyArray)
        self.assertEqual((p.dtype, p.tobytes()), ("complex128", ev.tobytes()))
        # JSON: [re, im] pairs.
        pairs = json.loads(self.c.analysis_result_bytes(job, "eigenvalues", "json"))
        self.assertEqual(pairs[0], [ev[0].real, ev[0].imag])

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_fixed_point_of_linear_network(self) -> None:
        doc = linear_model()
        m = self.c.create_model(doc)
        job = self._analyze("fixed_points", model_id=m["id"], x=[0.7],
                            starts={"random": {"count": 5, "seed": 1}})
        W, P = np.array(doc["recurrent"]["W"]), np.array(doc["input"]["P"])
        G, b = np.diag(doc["leak"]), np.array(doc["bias"])
        want = np.linalg.solve(G - W, P @ [0.7] + b)
        V = self.c.analysis_result(job, "V")
        self.assertEqual(V.shape, (1, 3))
        np.testing.assert_allclose(V[0], want, rtol=0, atol=1e-9)
        ev = self.c.analysis_result(job, "eigenvalues")
        np.testing.assert_allclose(ev[0], sort_eig(np.linalg.eigvals(W - G)), atol=1e-12)
        for name in ("n_unstable", "stable", "slow", "hits"):
            a = self.c.analysis_result(job, name)
            self.assertEqual((a.dtype, a.shape), (np.int32, (1,)), name)
        self.assertEqual(int(self.c.analysis_result(job, "hits")[0]), 5)
        self.assertEqual(job["summary"]["fixed_points"], 1)
        # A spectrum at that fixed point: the same eigenvalues.
        at = self._analyze("spectrum", model_id=m["id"], at={"analysis_id": job["id"], "index": 0})
        np.testing.assert_allclose(self.c.analysis_result(at, "eigenvalues"), ev[0], atol=1e-12)

    @unittest.skipUnless(np is not None, "NumPy is not installed")
    def test_inline_model(self) -> None:
        doc = linear_model()
        job = self._analyze("spectrum", model=doc, of="W")
        want = sort_eig(np.linalg.eigvals(np.array(doc["recurrent"]["W"])))
        np.testing.assert_allclose(self.c.analysis_result(job, "eigenvalues"), want, atol=1e-12)

    def test_bad_request_names_the_field(self) -> None:
        m = self.c.create_model(linear_model())
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.analyze("spectrum", model_id=m["id"], of="jacobian", at={"V": [1.0, 2.0]})
        self.assertIn(cm.exception.status, (400, 422))
        self.assertEqual(cm.exception.field, "/at/V")
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.analyze("fixed_points", model_id=m["id"], x=[1.0, 2.0],
                           starts={"random": {"count": 1}})
        self.assertEqual(cm.exception.field, "/x")

    def test_list_cancel_delete(self) -> None:
        m = self.c.create_model(linear_model())
        job = self._analyze("spectrum", model_id=m["id"], of="W")
        listed = [a["id"] for a in self.c.list_analyses(model_id=m["id"])]
        self.assertIn(job["id"], listed)
        self.assertIn(job["id"], [a["id"] for a in self.c.list_analyses(kind="spectrum")])
        self.assertNotIn(job["id"],
                         [a["id"] for a in self.c.list_analyses(kind="lyapunov", limit=50)])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.cancel_analysis(job)  # it has ended
        self.assertEqual(cm.exception.status, 409)
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.analysis_result(job, "no_such_array")
        self.assertEqual(cm.exception.status, 404)
        self.c.delete_analysis(job["id"])
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.analysis(job["id"])
        self.assertEqual(cm.exception.status, 404)

    def test_wait_false_then_wait(self) -> None:
        m = self.c.create_model(linear_model())
        q = self.c.analyze("lyapunov", model_id=m["id"], wait=False, k=2, dt=0.01, steps=200,
                           transient=10)
        self.assertIn(q["status"], ("queued", "running", "succeeded"))
        job = self.c.wait_analysis(q["id"], timeout=scaled(120))
        self.assertEqual(job["status"], "succeeded", job.get("error"))
        ex = self.plain.analysis_result(job, "exponents")
        self.assertEqual((ex.dtype, ex.shape), ("float64", (2,)))
        # The linear network's exponents are the real parts of eig(W - G_b), within the
        # accuracy of a short average.
        self.assertLess(ex.item(0), 0.0)


@unittest.skipUnless(EIRNND_BIN, "set EIRNND_BIN to the eirnnd binary to run these tests")
class NoNumpyAnalysesTest(unittest.TestCase):
    """analysis_result in a process where `import numpy` fails."""

    def test_without_numpy(self) -> None:
        assert DAEMON is not None
        code = (
            "import sys; sys.modules['numpy'] = None\n"
            "import json, eirnn\n"
            "c = eirnn.Client(sys.argv[1])\n"
            "m = c.create_model(json.loads(sys.argv[2]))\n"
            f"job = c.analyze('fixed_points', model_id=m['id'], x=[0.7], timeout={scaled(60)},\n"
            "                 starts={'random': {'count': 2, 'seed': 1}})\n"
            "r = c.analysis_results(job)\n"
            "print(json.dumps({k: [v.dtype, list(v.shape)] for k, v in r.items()}))\n"
        )
        env = dict(os.environ, PYTHONPATH=PKG_ROOT)
        p = subprocess.run([sys.executable, "-c", code, DAEMON.url, json.dumps(linear_model())],
                           env=env, capture_output=True, text=True, timeout=scaled(120))
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["eigenvalues"], ["complex128", [1, 3]])
        self.assertEqual(out["hits"], ["int32", [1]])
        self.assertEqual(out["V"], ["float64", [1, 3]])


if __name__ == "__main__":
    unittest.main()
