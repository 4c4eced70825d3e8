"""Tests of the sweep methods of the eirnn Python client (and of labels= on the list methods)
against a live eirnnd, and of the example clients/python/examples/isn_paradox.py (small).

    EIRNND_BIN=build/server/eirnnd PYTHONPATH=clients/python \\
        python3 -m unittest discover -s clients/python/tests -p 'test_sweeps.py' -v
"""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import unittest
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import eirnn  # noqa: E402
from eirnn.arrays import numpy_or_none  # noqa: E402
from eirnn.sweeps import labels_query, table_columns  # noqa: E402
from test_client import EIRNND_BIN, Daemon, load_example, scaled  # noqa: E402

np = numpy_or_none()
DAEMON = None


def setUpModule() -> None:  # noqa: N802 - unittest's name
    global DAEMON
    if not EIRNND_BIN or not os.access(EIRNND_BIN, os.X_OK):
        raise unittest.SkipTest("set EIRNND_BIN to the eirnnd binary to run these tests")
    DAEMON = Daemon("--workers", "2")


def tearDownModule() -> None:  # noqa: N802
    if DAEMON is not None:
        DAEMON.stop()


def grid_sweep(model_id: str, project: str) -> Dict[str, Any]:
    return {
        "name": "py-test",
        "model_id": model_id,
        "run": {"dt": 0.1, "inputs": {"steps": 200, "trials": 2}, "seed": 1,
                "record": {"vars": ["r"], "every": 100}},
        "axes": [{"path": "/model/recurrent/A/E", "values": [0.5, 1.0]},
                 {"path": "/run/seed", "values": [1, 2, 3]}],
        "metrics": {"windows": [{"name": "late_r", "var": "r", "from": 100, "to": 200}],
                    "settle": {"steps": 50, "tol": 1e-3}},
        "labels": {"project": project},
    }


class OfflineTest(unittest.TestCase):
    """What needs no daemon: the label filters and the typing of a table's columns."""

    def test_labels_query(self) -> None:
        self.assertIsNone(labels_query(None))
        self.assertEqual(labels_query({"a": "1", "b": "x:y"}), ["a:1", "b:x:y"])
        self.assertEqual(labels_query(["a:1", ("b", "2")]), ["a:1", "b:2"])
        for bad in (["nocolon"], [":v"], {"": "v"}):
            with self.assertRaises(ValueError):
                labels_query(bad)
        with self.assertRaises(TypeError):
            labels_query("a:1")

    def test_table_columns_typed(self) -> None:
        t = {"columns": ["index", "/a", "run_id", "status", "m", "ok", "step", "settled", "v"],
             "rows": [[0, 0, "r_1", "succeeded", 0.5, False, None, True, [1, 2]],
                      [1, 0.5, "r_2", "queued", None, False, None, None, [3, 4]]]}
        plain = table_columns(t, use_numpy=False)
        self.assertEqual(plain["m"], [0.5, None])
        self.assertEqual(list(plain), t["columns"])
        if np is None:
            return
        c = table_columns(t)
        self.assertEqual(c["index"].dtype, np.int64)
        self.assertEqual(c["/a"].dtype, np.float64)
        self.assertEqual(c["run_id"].dtype.kind, "U")
        self.assertEqual(c["m"].dtype, np.float64)
        self.assertTrue(np.isnan(c["m"][1]))
        self.assertEqual(c["ok"].dtype, bool)
        self.assertEqual(c["step"].dtype, np.float64)  # all null: NaN
        self.assertEqual(c["settled"].dtype, object)  # a boolean with a null
        self.assertEqual(c["v"].dtype, object)
        self.assertEqual(c["v"][1], [3, 4])


class SweepTest(unittest.TestCase):
    """A 2 x 3 grid sweep through the client, its table in every form, labels on the lists."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.c = eirnn.Client(DAEMON.url, timeout=scaled(30))
        m = load_example("model_small.json")
        m["labels"] = {"project": "pysweep"}
        cls.model = cls.c.create_model(m)
        cls.other = cls.c.create_model(load_example("model_small.json"))
        seen: List[Dict[str, Any]] = []
        cls.submitted = cls.c.submit_sweep(grid_sweep(cls.model["id"], "pysweep"),
                                           idempotency_key="py-sweep-1")
        cls.final = cls.c.wait_sweep(cls.submitted, progress=seen.append,
                                     timeout=scaled(120))
        cls.seen = seen

    def test_finished(self) -> None:
        s = self.final
        self.assertEqual(s["status"], "finished")
        self.assertEqual(s["points"], 6)
        self.assertEqual(s["counts"]["succeeded"], 6, s["counts"])
        self.assertEqual(s["labels"], {"project": "pysweep"})
        self.assertEqual(self.c.sweep(s["id"])["status"], "finished")
        for doc in self.seen:  # progress sees unfinished resources only
            self.assertNotEqual(doc["status"], "finished")

    def test_idempotent_replay(self) -> None:
        again = self.c.submit_sweep(grid_sweep(self.model["id"], "pysweep"),
                                    idempotency_key="py-sweep-1")
        self.assertEqual(again["id"], self.final["id"])

    def test_submit_kwargs_refuses_unknown(self) -> None:
        with self.assertRaises(TypeError):
            self.c.submit_sweep(axis=[])

    def test_table_raw_and_columns(self) -> None:
        raw = self.c.sweep_table(self.final, as_="raw")
        self.assertEqual(raw["points"], 6)
        cols = raw["columns"]
        for name in ("index", "/model/recurrent/A/E", "/run/seed", "run_id", "status",
                     "late_r.mean.E", "late_r.mean.I", "late_r.std.E", "final.r.I",
                     "max_z_dt", "diverged", "settle.max_dVdt", "settled"):
            self.assertIn(name, cols)
        grid = [(a, s) for a in (0.5, 1.0) for s in (1, 2, 3)]
        ia, iseed = cols.index("/model/recurrent/A/E"), cols.index("/run/seed")
        self.assertEqual([(r[ia], r[iseed]) for r in raw["rows"]], grid)
        c = self.c.sweep_table(self.final["id"])
        self.assertEqual(list(c), cols)
        if np is None:
            self.assertEqual(c["/run/seed"], [1, 2, 3, 1, 2, 3])
            return
        self.assertEqual(c["index"].dtype, np.int64)
        self.assertEqual(c["/run/seed"].dtype, np.int64)
        self.assertEqual(c["/run/seed"].tolist(), [1, 2, 3, 1, 2, 3])
        self.assertEqual(c["/model/recurrent/A/E"].dtype, np.float64)
        self.assertEqual(c["run_id"].dtype.kind, "U")
        self.assertTrue(all(s == "succeeded" for s in c["status"]))
        self.assertEqual(c["late_r.mean.E"].dtype, np.float64)
        self.assertTrue(np.all(np.isfinite(c["late_r.mean.E"])))
        self.assertEqual(c["diverged"].dtype, bool)
        self.assertEqual(c["settled"].dtype, bool)
        st = self.c.sweep_table(self.final, as_="structured")
        self.assertEqual(st.shape, (6,))
        self.assertEqual(list(st.dtype.names), cols)
        np.testing.assert_array_equal(st["late_r.mean.I"], c["late_r.mean.I"])
        pt = self.c.sweep_table(self.final, per_trial=True)
        self.assertIn("late_r.mean.E[0]", pt)
        self.assertIn("late_r.mean.E[1]", pt)
        np.testing.assert_allclose((pt["late_r.mean.E[0]"] + pt["late_r.mean.E[1]"]) / 2,
                                   pt["late_r.mean.E"], rtol=1e-12)
        csv_text = self.c.sweep_table_csv(self.final)
        self.assertEqual(csv_text.splitlines()[0].split(",")[0], "index")
        self.assertEqual(len(csv_text.strip().splitlines()), 7)
        with self.assertRaises(ValueError):
            self.c.sweep_table(self.final, as_="frame")

    def test_points_are_runs(self) -> None:
        c = self.c.sweep_table(self.final, as_="raw")
        irun, iseed = c["columns"].index("run_id"), c["columns"].index("/run/seed")
        runs = list(self.c.sweep_runs(self.final))
        self.assertEqual(sorted(r["id"] for r in runs), sorted(row[irun] for row in c["rows"]))
        row = c["rows"][4]
        run = self.c.get_run(row[irun])
        self.assertEqual(run["sweep"], {"id": self.final["id"], "index": 4})
        self.assertEqual(run["labels"].get("sweep"), self.final["id"])
        self.assertEqual(run["labels"].get("project"), "pysweep")
        req = self.c.run_request(row[irun])
        self.assertEqual(req["seed"], row[iseed])
        self.assertIn("metrics", req)
        by_label = list(self.c.list_runs(labels={"sweep": self.final["id"]}))
        self.assertEqual(len(by_label), 6)
        by_sweep = list(self.c.list_runs(sweep_id=self.final))
        self.assertEqual(len(by_sweep), 6)

    def test_labels_filter_lists(self) -> None:
        ids = [m["id"] for m in self.c.list_models(labels={"project": "pysweep"})]
        self.assertIn(self.model["id"], ids)
        self.assertNotIn(self.other["id"], ids)
        self.assertEqual(list(self.c.list_models(labels=["project:pysweep", "x:y"])), [])
        self.assertIn(self.final["id"],
                      [s["id"] for s in self.c.sweeps(labels={"project": "pysweep"})])
        self.assertNotIn(self.final["id"],
                         [s["id"] for s in self.c.sweeps(labels={"project": "other"})])
        self.assertEqual(list(self.c.list_analyses(labels={"project": "none"})), [])

    def test_bad_point_refused_whole(self) -> None:
        doc = grid_sweep(self.model["id"], "pysweep-bad")
        doc["axes"] = [{"path": "/run/dt", "values": [0.1, 0.2, -1.0]}]
        with self.assertRaises(eirnn.EirnnError) as cm:
            self.c.submit_sweep(doc)
        e = cm.exception
        self.assertEqual(e.status, 422)
        self.assertEqual(e.field, "/run/dt")
        self.assertEqual(e.problem.get("point"), 2)
        self.assertEqual(list(self.c.sweeps(labels={"project": "pysweep-bad"})), [])


class CancelDeleteTest(unittest.TestCase):
    """A sweep on a daemon without workers: timeout, cancel, delete."""

    def test_cancel_then_delete(self) -> None:
        d = Daemon("--workers", "0")
        try:
            c = eirnn.Client(d.url, timeout=scaled(30))
            m = c.create_model(load_example("model_small.json"))
            s = c.submit_sweep(grid_sweep(m["id"], "pycancel"))
            self.assertEqual(s["status"], "queued")
            with self.assertRaises(eirnn.EirnnTimeoutError) as cm:
                c.wait_sweep(s, timeout=0.5)
            self.assertIn("sweep", str(cm.exception))
            with self.assertRaises(eirnn.EirnnError) as cm2:
                c.delete_sweep(s)
            self.assertEqual(cm2.exception.status, 409)
            s = c.cancel_sweep(s)
            self.assertEqual(s["counts"]["cancelled"], 6)
            self.assertEqual(c.wait_sweep(s, timeout=scaled(10))["status"], "finished")
            c.delete_sweep(s)
            with self.assertRaises(eirnn.EirnnError) as cm3:
                c.sweep(s)
            self.assertEqual(cm3.exception.status, 404)
        finally:
            d.stop()


def load_isn_example() -> Any:
    path = os.path.join(os.path.dirname(HERE), "examples", "isn_paradox.py")
    spec = importlib.util.spec_from_file_location("isn_paradox", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


class IsnExampleTest(unittest.TestCase):
    """examples/isn_paradox.py --small: at A = 0 the I rate falls when the I cells' input rises
    (the paradoxical response of an ISN); at A = 0.5 the gate has ended that: it rises."""

    def test_sign_of_dri_dii(self) -> None:
        ex = load_isn_example()
        res = ex.run(eirnn.Client(DAEMON.url, timeout=scaled(30)), small=True,
                     timeout=scaled(120))
        by_a = {r["A"]: r for r in res}
        self.assertEqual(sorted(by_a), [0.0, 0.5])
        for r in res:
            self.assertTrue(r["succeeded"] and r["settled"], r)
        self.assertLess(by_a[0.0]["slopes"][0], 0)
        self.assertGreater(by_a[0.0]["gain"], 0)
        self.assertGreater(by_a[0.5]["slopes"][0], 0)
        self.assertLess(by_a[0.5]["gain"], 0)


if __name__ == "__main__":
    unittest.main()
