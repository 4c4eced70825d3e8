"""Tests of eirnn's described-input helpers (eirnn/inputs.py): the JSON they build, and
expand_inputs() against the engine: a run whose inputs are described and the same run with
expand_inputs()'s array give the same bytes (against a live eirnnd).

    EIRNND_BIN=build/server/eirnnd PYTHONPATH=clients/python \\
        python3 -m unittest discover -s clients/python/tests -p 'test_inputs.py' -v
"""

from __future__ import annotations

import copy
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import eirnn  # noqa: E402
from eirnn.arrays import numpy_or_none  # noqa: E402
from test_client import EIRNND_BIN, Daemon, load_example  # noqa: E402

np = numpy_or_none()


class OfflineTest(unittest.TestCase):
    def test_json(self) -> None:
        d = eirnn.described_inputs(10, 2, [eirnn.segment(0, 5, [1, 2]),
                                           eirnn.segment(3, 10, 0.5, to_value=[[1, 0], [2, 0]])],
                                   noise_sigma=0.1, noise_seed=3)
        self.assertEqual(d, {"steps": 10, "trials": 2,
                             "segments": [{"from": 0, "to": 5, "value": [1, 2]},
                                          {"from": 3, "to": 10, "value": 0.5,
                                           "to_value": [[1, 0], [2, 0]]}],
                             "noise": {"sigma": 0.1, "seed": 3}})
        with self.assertRaises(ValueError):
            eirnn.described_inputs(10, noise_sigma=0.1)  # no seed
        with self.assertRaises(ValueError):
            eirnn.segment(5, 5, 1.0)

    @unittest.skipIf(np is None, "needs NumPy")
    def test_expand(self) -> None:
        d = eirnn.described_inputs(6, 2, [eirnn.segment(1, 4, np.array([1.0, -2.0])),
                                          eirnn.segment(2, 6, 0.0, to_value=[[4.0, 0.0],
                                                                              [8.0, 0.0]])])
        x = eirnn.expand_inputs(d, 2)
        self.assertEqual(x.shape, (2, 6, 2))
        want0 = [[0, 0], [1, -2], [1, -2], [2, -2], [2, 0], [3, 0]]  # ramp 0, 1, 2, 3 on ch 0
        np.testing.assert_array_equal(x[0], np.array(want0, dtype=float))
        self.assertEqual(x[1, 5, 0], 6.0)
        d["noise"] = {"sigma": 0.5, "seed": 1}
        with self.assertRaises(ValueError):
            eirnn.expand_inputs(d, 2)
        np.testing.assert_array_equal(eirnn.expand_inputs(d, 2, noise="omit"), x)
        with self.assertRaises(ValueError):
            eirnn.expand_inputs(eirnn.described_inputs(6, 1, [eirnn.segment(0, 3, [1, 2, 3])]),
                                2)


@unittest.skipIf(not EIRNND_BIN or not os.access(EIRNND_BIN, os.X_OK) or np is None,
                 "needs EIRNND_BIN (the eirnnd binary) and NumPy")
class EngineTest(unittest.TestCase):
    def test_expand_matches_the_engine(self) -> None:
        """The contract's example of described inputs (segments, per-trial values, a ramp to a
        binary array), without its noise: sent described and sent as expand_inputs()'s array,
        the runs give the same bytes."""
        d = Daemon("--workers", "1")
        try:
            c = eirnn.Client(d.url)
            model = load_example("requests/model_gated_explicit.json")
            m = c.create_model(model, wait=True)
            run = load_example("requests/run_described_inputs.json")
            desc = copy.deepcopy(run["inputs"])
            desc.pop("noise")
            x = eirnn.expand_inputs(desc, model["n_inputs"])
            kw = dict(dt=run["dt"], seed=3, record={"vars": ["V", "r"]})
            a = c.wait(c.submit(model_id=m["id"], inputs=desc, **kw), timeout=60)
            b = c.wait(c.submit(model_id=m["id"], inputs=x, **kw), timeout=60)
            self.assertEqual(a["status"], "succeeded", a)
            self.assertEqual(b["status"], "succeeded", b)
            for var in ("V", "r", "V_final"):
                ra, rb = c.result(a, var), c.result(b, var)
                self.assertEqual(ra.tobytes(), rb.tobytes(), var)
            self.assertGreater(float(np.abs(c.result(a, "r")).max()), 0.0)
        finally:
            d.stop()


if __name__ == "__main__":
    unittest.main()
