#!/usr/bin/env python3
"""A gated E/I network driven by a step input, simulated by eirnnd.

Builds a conductance-gated E/I RNN of 400 cells (320 E, 80 I) from a ``generate`` recipe
(lognormal weights, connection probability and mean weight per pathway, rescaled to spectral
radius 0.9), drives it through 2 input channels with a step (zero, then a constant pulse,
then zero again), waits for the run, fetches the rates ``r`` and prints the mean E and I
rates before, during and after the step. With matplotlib installed it also saves a figure of
the E and I population rates over time.

    python3 examples/gated_step.py --url http://127.0.0.1:8080 --out gated_step.png

Needs only the standard library and the ``eirnn`` package; NumPy and matplotlib are used
when present.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Sequence, Tuple

try:
    import eirnn
except ImportError:  # run from a checkout without installing: clients/python on the path
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import eirnn

DT = 0.1          # step size, in units of the membrane time constant (leak = 1)
PHASES = (("before", 20.0), ("during", 40.0), ("after", 40.0))  # durations in time units
PULSE = (1.0, 0.5)  # the constant input on the 2 channels during the step


def build_model(n_cells: int, seed: int) -> Dict[str, Any]:
    """A gated E/I model of @n_cells cells (80 % E) with generated connectivity."""
    n_e = max(1, round(0.8 * n_cells))
    n_i = max(1, n_cells - n_e)
    # Mean weights scale with 1/(p N_pre) so the summed input stays the same at every size.
    p = {"EE": 0.1, "EI": 0.4, "IE": 0.4, "II": 0.4}
    pre = {"E": n_e, "I": n_i}
    drive = {"EE": 0.5, "EI": 1.0, "IE": 1.0, "II": 0.8}
    mean = {k: drive[k] / (p[k] * pre[k[1]]) for k in p}
    return {
        "name": f"gated-step-{n_e + n_i}",
        "description": "Gated E/I RNN from a lognormal recipe, driven by a step input.",
        "class": "gated",
        "populations": {"E": n_e, "I": n_i},
        "n_inputs": 2,
        "activation": {"name": "relu"},
        "leak": 1.0,
        "recurrent": {
            "generate": {
                "seed": seed,
                "p": p,
                "dist": "lognormal",
                "mean": mean,
                "cv": 0.5,
                "spectral_radius": 0.9,
            },
            "A": {"E": 0.5, "I": 1.0},
        },
        "input": {
            "generate": {
                "seed": seed + 1,
                "p": {"E": 0.5, "I": 0.5},
                "dist": "lognormal",
                "mean": {"E": 1.0, "I": 0.8},
                "cv": 0.5,
            }
        },
        "bias": 0.1,
        "noise": {"sigma": 0.0},
    }


def step_inputs(dt: float) -> Tuple[List[List[float]], List[Tuple[str, int, int]]]:
    """The input (T x 2) and the phases as (name, first step, end step)."""
    rows: List[List[float]] = []
    phases = []
    for name, duration in PHASES:
        n = int(round(duration / dt))
        value = list(PULSE) if name == "during" else [0.0, 0.0]
        phases.append((name, len(rows), len(rows) + n))
        rows.extend(list(value) for _ in range(n))
    return rows, phases


def population_rates(r: Any, n_e: int) -> Tuple[List[float], List[float]]:
    """Mean E and I rate per recorded step of trial 0 (NumPy array or eirnn.NpyArray)."""
    if isinstance(r, eirnn.NpyArray):
        _, steps, n = r.shape
        e: List[float] = []
        i: List[float] = []
        for t in range(steps):
            row = r.data[t * n:(t + 1) * n]
            e.append(sum(row[:n_e]) / n_e)
            i.append(sum(row[n_e:]) / (n - n_e))
        return e, i
    return [float(v) for v in r[0, :, :n_e].mean(axis=1)], [
        float(v) for v in r[0, :, n_e:].mean(axis=1)
    ]


def mean(xs: Sequence[float]) -> float:
    """Arithmetic mean (0 for nothing)."""
    return sum(xs) / len(xs) if xs else 0.0


def save_figure(path: str, e: Sequence[float], i: Sequence[float], dt: float,
                phases: Sequence[Tuple[str, int, int]]) -> bool:
    """Plot the E and I population rates; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    # Output row k is the state after step k, at time (k + 1) dt.
    t = [(k + 1) * dt for k in range(len(e))]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    _, start, end = next(p for p in phases if p[0] == "during")
    ax.axvspan(start * dt, end * dt, color="0.9", label="step input")
    ax.plot(t, e, color="tab:red", label="E")
    ax.plot(t, i, color="tab:blue", label="I")
    ax.set_xlabel("time (membrane time constants)")
    ax.set_ylabel("mean rate")
    ax.set_title("Gated E/I RNN: population rates")
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example; returns the exit code (0 when the run succeeded)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("EIRNN_URL", "http://127.0.0.1:8080"),
                    help="eirnnd's URL (default: $EIRNN_URL or http://127.0.0.1:8080)")
    ap.add_argument("--token", default=os.environ.get("EIRNN_TOKEN"),
                    help="bearer token (default: $EIRNN_TOKEN)")
    ap.add_argument("--out", default="gated_step.png", help="the figure's path (PNG)")
    ap.add_argument("--cells", type=int, default=400,
                    help="network size, 80%% E (default 400: 320 E, 80 I)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the connectivity recipe")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run")
    args = ap.parse_args(argv)
    if args.cells < 2:
        ap.error("--cells must be at least 2")

    client = eirnn.Client(args.url, token=args.token)
    doc = build_model(args.cells, args.seed)
    n_e = doc["populations"]["E"]
    try:
        model = client.create_model(doc)
        print(f"model {model['id']}: {doc['populations']['E']} E + "
              f"{doc['populations']['I']} I cells")
        inputs, phases = step_inputs(DT)
        run = client.submit(model_id=model["id"], inputs=inputs, dt=DT, seed=args.seed,
                            record=["r"])
        print(f"run {run['id']}: {len(inputs)} steps of dt = {DT}")

        def show(res: Dict[str, Any]) -> None:
            if sys.stderr.isatty():
                p = res.get("progress") or {}
                print(f"\r  {res['status']} {100 * p.get('fraction', 0):5.1f}%",
                      end="", file=sys.stderr, flush=True)

        run = client.wait(run, timeout=args.timeout, progress=show)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        if run["status"] != "succeeded":
            why = (run.get("error") or {}).get("detail", "")
            print(f"run ended {run['status']} {why}".rstrip(), file=sys.stderr)
            return 1
        r = client.result(run, "r")
    except eirnn.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    e_rate, i_rate = population_rates(r, n_e)
    print(f"{'phase':<8} {'steps':>11} {'mean E rate':>12} {'mean I rate':>12}")
    for name, start, end in phases:
        print(f"{name:<8} {start:>5}-{end:<5} {mean(e_rate[start:end]):>12.4f} "
              f"{mean(i_rate[start:end]):>12.4f}")
    if save_figure(args.out, e_rate, i_rate, DT, phases):
        print(f"figure saved to {args.out}")
    else:
        print("matplotlib is not installed: skipped the figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
