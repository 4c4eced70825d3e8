#!/usr/bin/env python3
"""The paradoxical response of an inhibition-stabilised network, as one sweep of eirnnd.

In an inhibition-stabilised network (ISN) the excitatory cells alone would run away (their
recurrent excitation is stronger than their leak) and only the inhibitory feedback holds the
network at its fixed point. Such a network answers *more* drive to its inhibitory cells with a
*lower* inhibitory rate at the new fixed point: dr_I/dI_I < 0, the paradoxical response
(Tsodyks et al. 1997; Ozeki et al. 2009).

The network here is a conductance-gated E/I network (docs/MODEL.md, class ``gated``) of 4 E and
4 I cells with all-to-all blocks: each E cell gets 2 r_E of excitation and -2.5 r_I of
inhibition, each I cell 3 r_E and -1 r_I, relu rates and leak 1. Its recurrent synapses also
open conductances, M = A |W| (MODEL.md 2.1): the gate A makes every cell leakier the more
active its inputs are, which weakens the E cells' effective self-excitation,

    J_EE = W_EE - z_E - A W_EE V_E = 2 - 1 - A (2 W_EE r_E + W_EI r_I)      (MODEL.md 11)

(z_E = 1 + A (W_EE r_E + W_EI r_I) is the E cells' leak plus gate), the gain of the E
subnetwork alone at the fixed point. At A = 0 it is 1 > 0: an ISN. The sweep asks where the gate
ends that.

One sweep, a grid of A (``/model/recurrent/A``) times the input to the I cells
(``/run/inputs/segments/0/value/1``: channel 1 of a described constant input, which P routes to
the I cells only); every point's run reports the mean rates of its last 500 steps and whether
it settled (max |dV/dt| over its last 100 steps below 1e-6). dr_I/dI_I is then a finite
difference of the table's ``late.mean.I`` between adjacent input values, per A.

    python3 clients/python/examples/isn_paradox.py --url http://127.0.0.1:8080 [--small]

Prints the table of slopes and returns (exit 0) when every point succeeded and settled.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

try:
    import eirnn
except ImportError:  # run from a checkout without installing: clients/python on the path
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import eirnn

N_E, N_I = 4, 4
#: Population totals of the recurrent weights: what a cell of the row's type receives from all
#: the cells of the column's type at rate 1 (signs by Dale's law).
W_EE, W_EI, W_IE, W_II = 2.0, 2.5, 3.0, 1.0
I_E = 2.0  # the constant input to the E cells (channel 0)
DT = 0.1
STEPS = 4000  # 400 membrane time constants: the slowest transient (A = 0) decays as e^{-0.5 t}
LATE = 500  # the last LATE steps are the window of the mean rates
SETTLE_STEPS, SETTLE_TOL = 100, 1e-6

FULL_A = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0]
FULL_II = [0.5, 0.6, 0.7, 0.8]
SMALL_A = [0.0, 0.5]
SMALL_II = [0.5, 0.6]


def model() -> Dict[str, Any]:
    """The gated E/I network (A = 0 here; the sweep sets it per point)."""
    n = N_E + N_I
    w: List[List[float]] = []
    for i in range(n):
        to_e = i < N_E
        row = []
        for j in range(n):
            if j < N_E:
                row.append((W_EE if to_e else W_IE) / N_E)
            else:
                row.append(-(W_EI if to_e else W_II) / N_I)
        w.append(row)
    return {
        "name": "isn-4x4",
        "description": "All-to-all gated E/I network: an ISN at A = 0 (W_EE = 2 > leak = 1).",
        "class": "gated",
        "populations": {"E": N_E, "I": N_I},
        "n_inputs": 2,
        "leak": 1.0,
        "activation": {"name": "relu"},
        "recurrent": {"W": w, "A": 0.0},
        # channel 0 drives the E cells, channel 1 the I cells
        "input": {"P": [[1.0, 0.0] if i < N_E else [0.0, 1.0] for i in range(n)]},
    }


def sweep_request(a_values: Sequence[float], ii_values: Sequence[float],
                  steps: int = STEPS) -> Dict[str, Any]:
    """The sweep: A x I_I, each point a constant input [I_E, I_I] for @steps steps."""
    return {
        "name": "isn-paradox",
        "model": model(),
        "run": {
            "dt": DT,
            "seed": 1,
            "inputs": {"steps": steps, "trials": 1,
                       "segments": [{"from": 0, "to": steps, "value": [I_E, ii_values[0]]}]},
            "record": {"vars": ["r"], "every": steps},  # one row: the metrics are what we read
        },
        "axes": [{"path": "/model/recurrent/A", "values": list(a_values)},
                 {"path": "/run/inputs/segments/0/value/1", "values": list(ii_values)}],
        "metrics": {"windows": [{"name": "late", "var": "r", "from": steps - LATE, "to": steps}],
                    "settle": {"steps": SETTLE_STEPS, "tol": SETTLE_TOL}},
        "labels": {"example": "isn_paradox"},
    }


def e_gain(a: float, r_e: float, r_i: float) -> float:
    """J_EE, the gain of the E subnetwork alone at the fixed point (> 0: an ISN)."""
    return W_EE - 1.0 - a * (2.0 * W_EE * r_e + W_EI * r_i)


def analyse(cols: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Per A: the slopes dr_I/dI_I between adjacent inputs, the E-subnetwork gain J_EE at the
    first input ("gain") and at each ("gains"), and whether every point succeeded and
    settled."""
    a_col, ii_col = cols["/model/recurrent/A"], cols["/run/inputs/segments/0/value/1"]
    out = []
    for a in sorted(set(float(v) for v in a_col)):
        idx = sorted((i for i in range(len(a_col)) if float(a_col[i]) == a),
                     key=lambda i: float(ii_col[i]))
        ii = [float(ii_col[i]) for i in idx]
        r_i = [float(cols["late.mean.I"][i]) for i in idx]
        r_e = [float(cols["late.mean.E"][i]) for i in idx]
        slopes = [(r_i[k + 1] - r_i[k]) / (ii[k + 1] - ii[k]) for k in range(len(idx) - 1)]
        out.append({
            "A": a, "I_I": ii, "r_E": r_e, "r_I": r_i, "slopes": slopes,
            "gain": e_gain(a, r_e[0], r_i[0]),
            "gains": [e_gain(a, r_e[k], r_i[k]) for k in range(len(idx))],
            # a point without metrics has NaN (or None) there, which is not True
            "settled": all(cols["settled"][i] is True or str(cols["settled"][i]) == "True"
                           for i in idx),
            "succeeded": all(str(cols["status"][i]) == "succeeded" for i in idx),
            "max_dVdt": max(float(cols["settle.max_dVdt"][i]) for i in idx),
        })
    return out


def run(client: "eirnn.Client", small: bool = False, timeout: Optional[float] = 600,
        progress: bool = False) -> List[Dict[str, Any]]:
    """Submit the sweep, wait for it, read its table and analyse it (see :func:`analyse`)."""
    a_values, ii_values = (SMALL_A, SMALL_II) if small else (FULL_A, FULL_II)
    steps = 2000 if small else STEPS
    sweep = client.submit_sweep(sweep_request(a_values, ii_values, steps))

    def show(s: Dict[str, Any]) -> None:
        c = s.get("counts", {})
        print(f"\r{s['id']}: {s['status']}, {c.get('succeeded', 0)}/{s['points']} points done",
              end="", file=sys.stderr, flush=True)

    sweep = client.wait_sweep(sweep, progress=show if progress else None, timeout=timeout)
    if progress:
        print(file=sys.stderr)
    cols = client.sweep_table(sweep)
    res = analyse(cols)
    for r in res:
        r["sweep_id"] = sweep["id"]
    return res


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("EIRNN_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--token", default=os.environ.get("EIRNN_TOKEN"))
    ap.add_argument("--small", action="store_true", help="2 x 2 points, 2000 steps (a test)")
    args = ap.parse_args(argv)
    client = eirnn.Client(args.url, token=args.token)
    res = run(client, small=args.small, progress=sys.stderr.isatty())
    print(f"sweep {res[0]['sweep_id']}: {len(res)} values of A x {len(res[0]['I_I'])} inputs "
          f"I_I = {', '.join(f'{v:g}' for v in res[0]['I_I'])} (I_E = {I_E:g})")
    print(f"{'A':>5}  {'r_E':>7}  {'r_I':>7}  {'J_EE (first .. last I_I)':<24}  "
          f"{'dr_I/dI_I between adjacent I_I':<31}  {'regime':<11}  max|dV/dt|")
    ok = True
    for r in res:
        slopes = "  ".join(f"{s:+.5f}" for s in r["slopes"])
        gains = f"{r['gains'][0]:+.4f} .. {r['gains'][-1]:+.4f}"
        signs = {s < 0 for s in r["slopes"]}
        regime = ("paradoxical" if signs == {True} else "normal" if signs == {False}
                  else "mixed")
        print(f"{r['A']:5.2f}  {r['r_E'][0]:7.4f}  {r['r_I'][0]:7.4f}  {gains:<24}  "
              f"{slopes:<31}  {regime:<11}  {r['max_dVdt']:.1e}")
        ok = ok and r["settled"] and r["succeeded"]
    if not ok:
        print("some point did not succeed or did not settle: lengthen the runs", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
