#!/usr/bin/env python3
"""Train the perceptual decision task for the three classes rnn, dale and gated through
eirnnd, and plot their psychometric curves in one figure.

Stores three networks of 50 cells (40 E, 10 I), alike but for their class (the same generated
weights, inputs and readout; the gated one with its conductances A), queues one training each
(perceptual_decision_making at dt 20 ms with varied period lengths: fixation 50-400 ms,
stimulus 100-800 ms; cross-entropy, Adam at lr 1e-5, 1000 iterations of 128 trials: the recipe
of docs/TRAINING.md's learning test), lets the daemon's workers train them side by side, and
then draws, from each training's evaluation on held-out test trials (a fixed 500 ms stimulus
over neurogym's coherences), the fraction of choices of option 2 against the signed coherence,
with the learning curves (accuracy on held-out trials) beside. Prints each class's test
accuracy next to the ideal observer's on the same trials, and the trained models' ids (usable
by runs and analyses).

    python3 clients/python/examples/train_decision.py --url http://127.0.0.1:8080 --out pdm.png
    python3 clients/python/examples/train_decision.py --quick      # a few iterations: a check

Needs NumPy and matplotlib: on Debian, ``apt-get install python3-numpy python3-matplotlib``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List

try:
    import eirnn
except ImportError:  # run from a checkout without installing: clients/python on the path
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import eirnn
import eirnn.plot

try:
    import matplotlib
    import numpy as np
except ImportError:
    sys.exit(f"train_decision.py: {eirnn.plot.INSTALL_HINT} python3-numpy")
matplotlib.use("Agg")  # draw to a file; no display needed
import matplotlib.pyplot as plt  # noqa: E402

CLASSES = ("rnn", "dale", "gated")
N_E, N_I = 40, 10
#: The task's inputs (fixation, evidence for choice 1, evidence for choice 2) and outputs
#: (fixate, choice 1, choice 2).
N_IN, N_OUT = 3, 3
#: G_b = 1/tau_m per ms: tau_m = 100 ms, so that a step of 20 ms is a fifth of it.
LEAK = 0.01


def model(cls: str, seed: int) -> Dict[str, Any]:
    """The network of class @cls, as docs/TRAINING.md's learning test builds it: 40 E and 10 I
    cells, relu, recurrent noise 0.01, a generated W (lognormal, E blocks mean 1, I blocks 4,
    spectral radius 0.8 G_b: a stable start; the same for every class), inputs P ~ N(0, 0.02^2)
    and a readout W_out ~ N(0, 1/N) of every cell; the gated one with A = 0.5."""
    rng = np.random.default_rng(seed)
    n = N_E + N_I
    recurrent: Dict[str, Any] = {"generate": {
        "seed": 2026 + seed, "p": 1.0, "dist": "lognormal", "cv": 0.5,
        "mean": {"EE": 1.0, "EI": 4.0, "IE": 1.0, "II": 4.0}, "spectral_radius": 0.8 * LEAK}}
    if cls == "gated":
        recurrent["A"] = 0.5
    return {
        "name": f"pdm_{cls}_initial",
        "class": cls,
        "populations": {"E": N_E, "I": N_I},
        "n_inputs": N_IN,
        "activation": {"name": "relu"},
        "leak": LEAK,
        "recurrent": recurrent,
        "input": {"P": 0.02 * rng.standard_normal((n, N_IN))},
        "readout": {"W_out": rng.standard_normal((N_OUT, n)) / np.sqrt(n), "b_out": 0.0},
        "noise": {"sigma": 0.01},
    }


def training(model_id: str, cls: str, iterations: int, quick: bool, seed: int,
             lr: float) -> Dict[str, Any]:
    """The training document (docs/TRAINING.md's recipe): the decision task with varied
    periods, batches of 128 trials, Adam at @lr (in the parameters' units: 1e-5 for weights of
    about 1e-3 per ms), tested on 1,000 trials with a fixed 500 ms stimulus (100 with
    --quick)."""
    return {
        "model": model_id,
        "task": {"name": "perceptual_decision_making",
                 "timing": {"fixation": {"uniform": [50, 400]},
                            "stimulus": {"uniform": [100, 800]}}},
        "dt": 20,
        "loss": {"name": "cross_entropy"},
        "optimizer": {"name": "adam", "lr": lr, "clip_norm": 1.0},
        "batch": 8 if quick else 128,
        "iterations": iterations,
        "seed": seed,
        "evaluate": {"every": max(1, iterations // 20), "trials": 32 if quick else 256},
        "test": {"trials": 100 if quick else 1000, "timing": {"stimulus": 500}},
        "checkpoint_every": max(1, iterations // 10),
        "name": f"pdm_{cls}",
        "labels": {"example": "train_decision", "class": cls},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("EIRNN_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--token", default=os.environ.get("EIRNN_TOKEN"))
    ap.add_argument("--iterations", type=int, default=None,
                    help="Adam updates per class (default 1000; 20 with --quick)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-5, help="Adam's learning rate")
    ap.add_argument("--quick", action="store_true",
                    help="a few iterations, batches of 8 and 100 test trials: checks the "
                         "pipeline in seconds (the curves mean nothing)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="give up after this many seconds of waiting (default: no limit)")
    ap.add_argument("--out", default="train_decision.png", help="the PNG to write")
    a = ap.parse_args()
    iterations = a.iterations or (20 if a.quick else 1000)
    c = eirnn.Client(a.url, token=a.token)

    # The three models first (a worker builds each generated one), then the three trainings at
    # once: the daemon's workers train them side by side.
    models = {cls: c.create_model(model(cls, a.seed)) for cls in CLASSES}
    queued = {}
    for cls in CLASSES:
        m = c.wait_model(models[cls], timeout=a.timeout)
        queued[cls] = c.train(training(m["id"], cls, iterations, a.quick, a.seed, a.lr), wait=False)
        print(f"{cls:6s} training {queued[cls].id} of model {m['id']}", file=sys.stderr)
    t0 = time.monotonic()
    done: Dict[str, eirnn.Training] = {}
    for cls in CLASSES:
        left = None if a.timeout is None else max(1.0, a.timeout - (time.monotonic() - t0))
        c.wait_training(queued[cls], timeout=left, progress=lambda j: print(
            eirnn.trainings.format_progress(j), file=sys.stderr))
        done[cls] = c.training_result(queued[cls])
    failed = [t for t in done.values() if t.status != "succeeded"]
    for t in failed:
        print(f"training {t.id} {t.status}: {t.error}", file=sys.stderr)
    if failed:
        return 1

    fig, (ax, axl) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    rows: List[str] = []
    for cls in CLASSES:
        t = done[cls]
        ev = t.evaluation or {}
        psy = t.psychometric()
        acc, ideal = ev.get("accuracy"), ev.get("ideal")
        label = f"{cls}: {100 * acc:.1f}% (ideal {100 * ideal:.1f}%)" if ideal is not None \
            else f"{cls}: {100 * acc:.1f}%"
        ax.plot(psy["coherence"], psy["p_choice2"], "o-", label=label)
        curve = t.curve_arrays()
        held = ~np.isnan(curve["eval_accuracy"])
        axl.plot(curve["iteration"][held], 100 * curve["eval_accuracy"][held], "o-", ms=3,
                 label=cls)
        rows.append(f"{cls:6s} model {t.model_id} (training {t.id}): {iterations} iterations, "
                    f"test accuracy {100 * acc:.1f}%, ideal observer "
                    f"{'-' if ideal is None else f'{100 * ideal:.1f}%'}, wall "
                    f"{'-' if t.wall_s is None else f'{t.wall_s:.1f} s'}")
    ax.axhline(0.5, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0.0, color="0.8", lw=0.8, zorder=0)
    ax.set(xlabel="signed coherence (toward choice 2, %)", ylabel="P(choice 2)",
           ylim=(-0.02, 1.02),
           title=f"perceptual decision making, {N_E}E/{N_I}I, 500 ms stimulus")
    ax.legend(loc="upper left", fontsize="small")
    ideal = (done["gated"].evaluation or {}).get("ideal")
    if ideal is not None:
        axl.axhline(100 * ideal, color="0.5", ls="--", lw=0.8, label="ideal observer (test)")
    axl.set(xlabel="iteration", ylabel="accuracy on held-out trials (%)",
            title="learning curves")
    axl.legend(fontsize="small", loc="lower right")
    fig.savefig(a.out, dpi=100)
    print("\n".join(rows))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
