#!/usr/bin/env python3
"""Plot a run of eirnnd to a PNG with eirnn.plot: population rates, a heat map of r, and the
eigenvalues of the network's W against the unit circle and the line Re λ = leak.

Stores a small gated E/I network (40 E and 10 I cells, generated weights), runs it through a
step input on its 2 channels (zero, a pulse, zero), asks for the spectrum of its W, draws the
three panels into one figure and saves it. Prints the run's id and the address of its page in
the web app eirnnd serves (the same page ``eirnn runs show ID`` names).

    python3 clients/python/examples/plot_run.py --url http://127.0.0.1:8080 --out run.png
    python3 clients/python/examples/plot_run.py --run r_...      # plot a run that exists

Needs NumPy and matplotlib: on Debian, ``apt-get install python3-numpy python3-matplotlib``.
"""

from __future__ import annotations

import argparse
import os
import sys

try:
    import eirnn
except ImportError:  # run from a checkout without installing: clients/python on the path
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import eirnn
import eirnn.plot

try:
    import matplotlib
except ImportError:
    sys.exit(f"plot_run.py: {eirnn.plot.INSTALL_HINT}")
matplotlib.use("Agg")  # draw to a file; no display needed
import matplotlib.pyplot as plt  # noqa: E402

MODEL = {
    "name": "plot_run",
    "class": "gated",
    "populations": {"E": 40, "I": 10},
    "n_inputs": 2,
    "leak": 1.0,
    "activation": {"name": "relu"},
    "recurrent": {"generate": {"seed": 1, "p": 0.3, "dist": "lognormal",
                               "mean": {"EE": 0.05, "EI": 0.2, "IE": 0.1, "II": 0.2},
                               "spectral_radius": 0.9},
                  "A": {"E": 0.5, "I": 1.0}},
    "input": {"generate": {"seed": 2, "mean": 1.0}},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("EIRNN_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--token", default=os.environ.get("EIRNN_TOKEN"))
    ap.add_argument("--run", help="plot this run (its model's W is not analysed)")
    ap.add_argument("--trial", type=int, default=0)
    ap.add_argument("--out", default="plot_run.png", help="the PNG to write")
    a = ap.parse_args()
    c = eirnn.Client(a.url, token=a.token)

    spectrum = None
    if a.run:
        run = c.wait(a.run, timeout=600)
    else:
        model = c.create_model(MODEL, wait=True)
        run = c.submit(model_id=model["id"], dt=0.1, seed=1, record=["r"],
                       inputs={"steps": 1000, "segments": [
                           {"from": 200, "to": 600, "value": [1.0, 0.5]}]})
        run = c.wait(run, timeout=600)
        spectrum = c.analyze("spectrum", model_id=model["id"], of="W", timeout=600)
    if run["status"] != "succeeded":
        print(f"run {run['id']} {run['status']}: {run.get('error')}", file=sys.stderr)
        return 1

    panels = 3 if spectrum else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5), constrained_layout=True)
    eirnn.plot.plot_rates(c, run, trial=a.trial, ax=axes[0])
    eirnn.plot.plot_heatmap(c, run, "r", trial=a.trial, ax=axes[1])
    if spectrum:
        eirnn.plot.plot_eigenvalues(c, spectrum, ax=axes[2])  # line Re λ = leak (1.0)
    fig.savefig(a.out, dpi=100)
    print(f"run {run['id']}: wrote {a.out}")
    print(f"page: {c.page_url('runs', run)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
