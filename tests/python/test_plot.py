#!/usr/bin/env python3
"""python/plot: eirnn.plot (clients/python/eirnn/plot.py) against the real eirnnd, drawn with
matplotlib's Agg backend, checking the data in the figures:

* plot_rates: the E and I lines are the means over the E and I cells of the run's r.npy for the
  trial, at times (m + 1) * every * dt; with record.neurons (cells out of order, both
  populations) the lines are the means over the recorded cells of each population; the same
  lines from the array form (n_e, dt, every given);
* plot_heatmap: the image is the trial's r transposed (cells x rows) with the E cells first, a
  line between E and I at n_E - 1/2, a colour bar; with record.neurons the columns reordered E
  first; V as well;
* plot_eigenvalues: the scatter's offsets are the eigenvalues of the analysis (of W), the unit
  circle is drawn, the line Re λ = G_b (the model's leak) is there (a band over G_b's range for
  a leak per cell); for the Jacobian the lines
  Re λ = 0 and Re λ = -G_b (the summary's min_leak); an array with leak; M refuses a leak;
* plot_sweep: over one axis the line's y values are the table's metric; over two axes the image
  is the metric on the grid (rows the first axis); an unknown metric names the metrics;
* examples/plot_run.py writes a PNG of a run it submits and prints its page's address;
* Client.page_url: the page's address; eirnn.plot without matplotlib (blocked in a subprocess):
  importing it works, calling a function raises ImportError saying
  "apt-get install python3-matplotlib".

    EIRNND_BIN=build/server/eirnnd /usr/bin/python3 tests/python/test_plot.py -v
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import eirnn  # noqa: E402
import eirnn.plot as ep  # noqa: E402
from eirnnd_http import Daemon, time_scale  # noqa: E402

MODEL = os.path.join(ROOT, "schema", "examples", "model_small.json")
N_E, N = 8, 10
D = None
C = None
FIX = {}


def setUpModule():  # noqa: N802 - unittest's name
    global D, C
    binary = os.environ.get("EIRNND_BIN", "")
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError("set EIRNND_BIN to the eirnnd binary (ctest does)")
    D = Daemon(binary, ["--workers", "2"])
    C = eirnn.Client(f"http://127.0.0.1:{D.port}/", timeout=60 * time_scale())
    import json
    with open(MODEL, encoding="utf-8") as f:
        m = C.create_model(json.load(f), wait=True)
    FIX["model"] = m["id"]
    seg = [{"from": 0, "to": 30, "value": [1.0, 0.5]}, {"from": 30, "to": 60, "value": [0, 2]}]
    full = C.submit(model_id=m["id"], dt=0.1, seed=3, record={"vars": ["V", "r"], "every": 2},
                    inputs={"steps": 60, "trials": 2, "segments": seg,
                            "noise": {"sigma": 0.2, "seed": 1}})
    sub = C.submit(model_id=m["id"], dt=0.05, seed=3,
                   record={"vars": ["r"], "neurons": [9, 0, 3, 8, 1]},
                   inputs={"steps": 40, "segments": seg[:1]})
    FIX["full"] = C.wait(full, timeout=120 * time_scale())["id"]
    FIX["sub"] = C.wait(sub, timeout=120 * time_scale())["id"]
    FIX["spec_W"] = C.analyze("spectrum", model_id=m["id"], of="W",
                              timeout=120 * time_scale())
    FIX["spec_J"] = C.analyze("spectrum", model_id=m["id"], at={"V": [0.2] * N},
                              timeout=120 * time_scale())
    FIX["spec_M"] = C.analyze("spectrum", model_id=m["id"], of="M", timeout=120 * time_scale())
    sw = C.submit_sweep(model_id=m["id"],
                        run={"dt": 0.1, "inputs": {"steps": 40, "segments": seg[:1]}, "seed": 1},
                        axes=[{"path": "/model/recurrent/A", "values": [0.5, 1.0, 2.0]},
                              {"path": "/run/seed", "values": [1, 2]}],
                        metrics={"windows": [{"name": "late", "var": "r", "from": 20,
                                              "to": 40}]})
    FIX["sweep"] = C.wait_sweep(sw, timeout=120 * time_scale())["id"]
    sw1 = C.submit_sweep(model_id=m["id"],
                         run={"dt": 0.1, "inputs": {"steps": 40, "segments": seg[:1]}},
                         axes=[{"path": "/model/leak", "values": [0.5, 1.0, 1.5, 2.0]}],
                         metrics={"windows": [{"name": "late", "var": "r", "from": 20,
                                               "to": 40}]})
    FIX["sweep1"] = C.wait_sweep(sw1, timeout=120 * time_scale())["id"]


def tearDownModule():  # noqa: N802
    if D is not None:
        D.kill()


def same(got, want):
    """The plotted values are the means computed here, to the last bits of a sum's order."""
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def line(ax, label):
    found = [ln for ln in ax.lines if ln.get_label() == label]
    labels = [x.get_label() for x in ax.lines]
    assert len(found) == 1, f"{len(found)} lines labelled {label!r} among {labels}"
    return found[0]


class Rates(unittest.TestCase):
    def tearDown(self):
        plt.close("all")

    def test_means_of_the_trial(self):
        r = C.result(FIX["full"], "r")  # (2, 30, 10)
        self.assertEqual(r.shape, (2, 30, N))
        for trial in (0, 1):
            ax = ep.plot_rates(C, FIX["full"], trial=trial)
            t = (np.arange(30) + 1) * 2 * 0.1
            e, i = line(ax, "E"), line(ax, "I")
            same(e.get_ydata(), r[trial][:, :N_E].mean(axis=1))
            same(i.get_ydata(), r[trial][:, N_E:].mean(axis=1))
            np.testing.assert_allclose(e.get_xdata(), t, rtol=0, atol=1e-12)
            self.assertFalse(np.allclose(e.get_ydata(), i.get_ydata()))
        self.assertFalse(np.array_equal(r[0], r[1]), "the trials should differ (input noise)")

    def test_recorded_neurons(self):
        r = C.result(FIX["sub"], "r")[0]  # columns: cells 9, 0, 3, 8, 1
        ax = ep.plot_rates(C, FIX["sub"])
        same(line(ax, "E").get_ydata(), r[:, [1, 2, 4]].mean(axis=1))
        same(line(ax, "I").get_ydata(), r[:, [0, 3]].mean(axis=1))
        np.testing.assert_allclose(line(ax, "E").get_xdata(), (np.arange(40) + 1) * 0.05,
                                   rtol=0, atol=1e-12)

    def test_array_form_and_given_axes(self):
        r = C.result(FIX["full"], "r")
        fig, given = plt.subplots()
        ax = ep.plot_rates(r, trial=1, ax=given, n_e=N_E, dt=0.1, every=2)
        self.assertIs(ax, given)
        same(line(ax, "E").get_ydata(), r[1][:, :N_E].mean(axis=1))
        with self.assertRaisesRegex(ValueError, "n_e"):
            ep.plot_rates(r)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "did not record 'z'"):
            ep.plot_heatmap(C, FIX["full"], var="z")
        with self.assertRaisesRegex(ValueError, "trial"):
            ep.plot_rates(C, FIX["full"], trial=-1)


class Heatmap(unittest.TestCase):
    def tearDown(self):
        plt.close("all")

    def test_image_is_the_result(self):
        r = C.result(FIX["full"], "r")
        ax = ep.plot_heatmap(C, FIX["full"], trial=1)
        self.assertEqual(len(ax.images), 1)
        img = ax.images[0]
        np.testing.assert_array_equal(np.asarray(img.get_array()), r[1].T)
        self.assertIsNotNone(img.colorbar, "no colour bar")
        self.assertEqual(img.get_clim()[0], 0.0)
        sep = [ln for ln in ax.lines if ln.get_label() == "E | I"]
        self.assertEqual(len(sep), 1)
        self.assertEqual(list(sep[0].get_ydata()), [N_E - 0.5, N_E - 0.5])
        self.assertEqual(list(img.get_extent()[:2]), [0.0, 30 * 2 * 0.1])

    def test_recorded_neurons_e_first(self):
        r = C.result(FIX["sub"], "r")[0]
        ax = ep.plot_heatmap(C, FIX["sub"])
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()),
                                      r[:, [1, 2, 4, 0, 3]].T)
        self.assertEqual(list(line(ax, "E | I").get_ydata()), [2.5, 2.5])

    def test_v(self):
        v = C.result(FIX["full"], "V")
        ax = ep.plot_heatmap(C, FIX["full"], var="V")
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), v[0].T)


class Eigenvalues(unittest.TestCase):
    def tearDown(self):
        plt.close("all")

    def circle(self, ax):
        circles = [p for p in ax.patches if isinstance(p, matplotlib.patches.Circle)
                   and p.get_radius() == 1.0 and tuple(p.center) == (0.0, 0.0)]
        self.assertEqual(len(circles), 1, "no unit circle")
        self.assertEqual(circles[0].get_label(), "unit circle")

    def test_of_w(self):
        ev = C.analysis_result(FIX["spec_W"], "eigenvalues")
        ax = ep.plot_eigenvalues(C, FIX["spec_W"]["id"])
        off = np.asarray(ax.collections[0].get_offsets())
        np.testing.assert_array_equal(off, np.column_stack([ev.real, ev.imag]))
        self.circle(ax)
        self.assertEqual(list(line(ax, "Re λ = G_b = 1").get_xdata()), [1.0, 1.0])
        ax = ep.plot_eigenvalues(C, FIX["spec_W"], leak=0.25)
        self.assertEqual(list(line(ax, "Re λ = G_b = 0.25").get_xdata()), [0.25, 0.25])

    def test_of_w_with_a_leak_per_cell(self):
        import json
        with open(MODEL, encoding="utf-8") as f:
            doc = dict(json.load(f), leak=[1.0] * N_E + [2.0] * (N - N_E))
        m = C.create_model(doc, wait=True)
        job = C.analyze("spectrum", model_id=m["id"], of="W", timeout=120 * time_scale())
        ax = ep.plot_eigenvalues(C, job)
        bands = [p for p in ax.patches if p.get_label() == "Re λ = G_b (from 1 to 2)"]
        self.assertEqual(len(bands), 1, [p.get_label() for p in ax.patches])
        b = bands[0]
        xs = [b.get_x(), b.get_x() + b.get_width()] if isinstance(b, matplotlib.patches.Rectangle) \
            else sorted(set(np.asarray(b.get_xy())[:, 0]))
        self.assertEqual(list(xs), [1.0, 2.0])
        self.assertEqual(len(ax.lines), 0)

    def test_of_jacobian(self):
        job = FIX["spec_J"]
        self.assertEqual(job["summary"]["min_leak"], 1.0)
        ev = C.analysis_result(job, "eigenvalues")
        ax = ep.plot_eigenvalues(C, job)
        np.testing.assert_array_equal(np.asarray(ax.collections[0].get_offsets()),
                                      np.column_stack([ev.real, ev.imag]))
        self.circle(ax)
        self.assertEqual(list(line(ax, "Re λ = 0 (stability)").get_xdata()), [0.0, 0.0])
        self.assertEqual(list(line(ax, "Re λ = -G_b = -1").get_xdata()), [-1.0, -1.0])

    def test_of_m_and_arrays(self):
        ax = ep.plot_eigenvalues(C, FIX["spec_M"])
        self.assertEqual(len(ax.lines), 0)
        self.circle(ax)
        with self.assertRaisesRegex(ValueError, "no leak line"):
            ep.plot_eigenvalues(C, FIX["spec_M"], leak=1.0)
        ev = np.array([0.5 + 1j, 0.5 - 1j, -2.0])
        ax = ep.plot_eigenvalues(None, ev, leak=1.5)
        np.testing.assert_array_equal(np.asarray(ax.collections[0].get_offsets()),
                                      [[0.5, 1.0], [0.5, -1.0], [-2.0, 0.0]])
        self.assertEqual(list(line(ax, "Re λ = G_b = 1.5").get_xdata()), [1.5, 1.5])
        ax = ep.plot_eigenvalues(None, [1, 2j])
        self.assertEqual(len(ax.lines), 0)
        with self.assertRaisesRegex(ValueError, "not a spectrum"):
            ep.plot_eigenvalues(C, C.analyze("fixed_points", model_id=FIX["model"], x=[0.0, 0.0],
                                             starts={"random": {"count": 2, "seed": 1}},
                                             timeout=120 * time_scale()))


class Sweep(unittest.TestCase):
    def tearDown(self):
        plt.close("all")

    def test_two_axes_image(self):
        t = C.sweep_table(FIX["sweep"])
        ax = ep.plot_sweep(C, FIX["sweep"], "late.mean.E")
        img = np.asarray(ax.images[0].get_array())
        np.testing.assert_array_equal(img, t["late.mean.E"].reshape(3, 2))
        self.assertIsNotNone(ax.images[0].colorbar)
        self.assertEqual([x.get_text() for x in ax.get_yticklabels()], ["0.5", "1.0", "2.0"])

    def test_one_axis_of_two(self):
        t = C.sweep_table(FIX["sweep"])
        ax = ep.plot_sweep(C, FIX["sweep"], "late.mean.I", over=["/model/recurrent/A"],
                           fixed={"/run/seed": 2})
        ln = line(ax, "late.mean.I")
        np.testing.assert_array_equal(ln.get_xdata(), [0.5, 1.0, 2.0])
        np.testing.assert_array_equal(ln.get_ydata(), t["late.mean.I"][1::2])

    def test_one_axis(self):
        t = C.sweep_table(FIX["sweep1"])
        ax = ep.plot_sweep(C, FIX["sweep1"], "final.r.E")
        ln = line(ax, "final.r.E")
        np.testing.assert_array_equal(ln.get_xdata(), [0.5, 1.0, 1.5, 2.0])
        np.testing.assert_array_equal(ln.get_ydata(), t["final.r.E"])
        self.assertTrue(np.all(np.diff(ln.get_ydata()) < 0), "a leakier network fires less")

    def test_unknown_metric(self):
        with self.assertRaisesRegex(ValueError, "late.mean.E"):
            ep.plot_sweep(C, FIX["sweep"], "nope")


class PageAndImport(unittest.TestCase):
    def test_page_url(self):
        self.assertEqual(C.page_url("runs", FIX["full"]),
                         f"http://127.0.0.1:{D.port}/#/runs/{FIX['full']}")
        self.assertEqual(C.page_url("analysis", FIX["spec_W"]),
                         f"http://127.0.0.1:{D.port}/#/analyses/{FIX['spec_W']['id']}")
        self.assertEqual(C.page_url("model", {"id": "m_x"}),
                         f"http://127.0.0.1:{D.port}/#/models/m_x")
        with self.assertRaises(ValueError):
            C.page_url("jobs", "r_1")

    def test_example_writes_a_png(self):
        import tempfile
        with tempfile.TemporaryDirectory(prefix="eirnn-plot-") as tmp:
            out = os.path.join(tmp, "run.png")
            p = subprocess.run(
                [sys.executable, os.path.join(ROOT, "clients", "python", "examples",
                                              "plot_run.py"),
                 "--url", C.url, "--out", out], capture_output=True, text=True,
                env=dict(os.environ, MPLBACKEND="Agg"), timeout=300 * time_scale())
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            rid = p.stdout.split()[1].rstrip(":")
            self.assertEqual(C.get_run(rid)["status"], "succeeded")
            self.assertIn(f"page: {C.page_url('runs', rid)}\n", p.stdout)

    def test_without_matplotlib(self):
        code = (
            "import sys\n"
            "sys.modules['matplotlib'] = None\n"
            "sys.modules['matplotlib.pyplot'] = None\n"
            "import eirnn, eirnn.plot\n"
            "try:\n"
            "    eirnn.plot.plot_rates([[[1.0, 2.0]]], n_e=1)\n"
            "except ImportError as e:\n"
            "    print(e)\n"
            "    sys.exit(0)\n"
            "sys.exit(3)\n")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "clients", "python"))
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=60 * time_scale())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("apt-get install python3-matplotlib", p.stdout)


if __name__ == "__main__":
    unittest.main()
