#!/usr/bin/python3
"""The NumPy peer of `bench_analysis fixed` (docs/BENCHMARKS.md, "Analysis"): the same fixed-point
search written the way a NumPy user would, on the network and starts that bench_analysis wrote
to DIR, timed, and checked against the points the engine found (DIR/engine_*.npy).

Model (gated, softplus; bench/analysis/bench_analysis.c): r = log(1 + e^V), z = G_b + M r,
dV/dt = F(V) = -z V + W r + drive, and its Jacobian J = (W - diag(V) M) diag(f'(V)) - diag(z)
with f' the logistic function.

Search, per start: Newton's method as a NumPy user writes it, dV = numpy.linalg.solve(J, -F)
every iteration, with a backtracking line search on |F| (step 1, halved while
|F(V + a dV)| > (1 - 1e-4 a) |F(V)|, at most 12 halvings), until |F| <= tol or max_iter
iterations. With --chord, the engine's own variant (eir_fixed_points, fp_newton in
engine/src/fixed_points.c): after a full step that lowers |F| tenfold, chord steps reuse the LU
(scipy.linalg.lu_factor / lu_solve: numpy.linalg cannot keep a factorisation) while each does so
too, and converged points are polished by chord steps. Neither has the engine's fallback (a
steepest-descent step when Newton's direction gives no decrease), which this smooth network does
not need: every start converges on every side. Then the converged end states are deduplicated
(two are one when max |V_a - V_b| <= dedupe_tol (1 + max(|V_a|, |V_b|)), in start order), and
each distinct point gets the eigenvalues of its Jacobian (numpy.linalg.eigvals), sorted by real
part descending.

Usage: fp_numpy.py DIR [--reps R] [--chord] [--max-iter 100] [--tol 1e-10] [--dedupe-tol 1e-6]
                       [--json FILE]
Prints one JSON object (timings, points, and the comparison with the engine's points).
"""
import argparse
import json
import sys
import time

import numpy as np

ARMIJO = 1e-4
MAX_HALVINGS = 12
CHORD_RATIO = 0.1
POLISH_STEPS = 8


class Network:
    """The benchmark network as bench_analysis wrote it."""

    def __init__(self, d):
        self.W = np.load(f"{d}/W.npy")
        self.M = np.load(f"{d}/M.npy")
        self.drive = float(np.load(f"{d}/drive.npy")[0])
        self.leak = float(np.load(f"{d}/leak.npy")[0])

    def F(self, V):
        r = np.logaddexp(0.0, V)
        z = self.leak + self.M @ r
        return -z * V + self.W @ r + self.drive

    def J(self, V):
        r = np.logaddexp(0.0, V)
        fp = 1.0 / (1.0 + np.exp(-V))
        z = self.leak + self.M @ r
        J = (self.W - V[:, None] * self.M) * fp[None, :]
        J[np.diag_indices_from(J)] -= z
        return J


def newton(net, V, max_iter, tol):
    """Newton with a backtracking line search from V; returns (V, |F|, converged)."""
    F = net.F(V)
    nF = np.linalg.norm(F)
    for _ in range(max_iter):
        if nF <= tol:
            break
        dV = np.linalg.solve(net.J(V), -F)
        a, accepted = 1.0, False
        for _ in range(MAX_HALVINGS + 1):
            Vn = V + a * dV
            Fn = net.F(Vn)
            nFn = np.linalg.norm(Fn)
            accepted = bool(nFn <= (1.0 - ARMIJO * a) * nF)
            if accepted:
                break
            a *= 0.5
        if not accepted:
            break  # no descent along the Newton direction: this start fails
        V, F, nF = Vn, Fn, nFn
    return V, nF, nF <= tol


def newton_chord(net, V, max_iter, tol):
    """The engine's variant (engine/src/fixed_points.c, fp_newton): after a full Newton step
    that lowers |F| tenfold, chord steps with the same LU (scipy.linalg.lu_factor / lu_solve)
    while each does so too, each counted as an iteration; a converged point is polished by up to
    8 chord steps while each halves |F|. Returns (V, |F|, converged)."""
    from scipy.linalg import lu_factor, lu_solve  # noqa: PLC0415 - only for --chord

    F = net.F(V)
    nF = np.linalg.norm(F)
    lu = None
    it = 0
    while it < max_iter and nF > tol:
        lu = lu_factor(net.J(V), check_finite=False)
        dV = lu_solve(lu, -F, check_finite=False)
        Vn = V + dV
        Fn = net.F(Vn)
        nFn = np.linalg.norm(Fn)
        if nFn <= (1.0 - ARMIJO) * nF and nFn <= CHORD_RATIO * nF:
            while True:  # chord steps while each lowers |F| tenfold
                V, F, nF = Vn, Fn, nFn
                it += 1
                if nF <= tol or it >= max_iter:
                    break
                Vn = V + lu_solve(lu, -F, check_finite=False)
                Fn = net.F(Vn)
                nFn = np.linalg.norm(Fn)
                if not nFn <= CHORD_RATIO * nF:
                    break
            continue
        a = 1.0
        for _ in range(MAX_HALVINGS):
            if np.isfinite(nFn) and nFn <= (1.0 - ARMIJO * a) * nF:
                break
            a *= 0.5
            Vn = V + a * dV
            Fn = net.F(Vn)
            nFn = np.linalg.norm(Fn)
        if not (np.isfinite(nFn) and nFn <= (1.0 - ARMIJO * a) * nF):
            lu = None
            break  # the engine tries a descent step here; this network never needs it
        V, F, nF = Vn, Fn, nFn
        it += 1
    for _ in range(POLISH_STEPS if lu is not None and nF <= tol else 0):
        Vn = V + lu_solve(lu, -F, check_finite=False)
        Fn = net.F(Vn)
        nFn = np.linalg.norm(Fn)
        if not nFn <= 0.5 * nF or nF == 0:
            break
        V, F, nF = Vn, Fn, nFn
    return V, nF, nF <= tol


def search(net, starts, max_iter, tol, dedupe_tol, solver=newton):
    """All starts, then dedupe and eigenvalues; returns a dict of arrays."""
    points, hits, resid = [], [], []
    for s in starts:
        V, nF, ok = solver(net, s.copy(), max_iter, tol)
        if not ok:
            continue
        for k, P in enumerate(points):
            vmax = max(np.max(np.abs(P)), np.max(np.abs(V)))
            if np.max(np.abs(V - P)) <= dedupe_tol * (1.0 + vmax):
                hits[k] += 1
                break
        else:
            points.append(V)
            hits.append(1)
            resid.append(nF)
    eig = []
    for V in points:
        ev = np.linalg.eigvals(net.J(V))
        eig.append(ev[np.lexsort((-ev.imag, -ev.real))])
    n_unstable = [int(np.sum(e.real > 0)) for e in eig]
    order = sorted(range(len(points)), key=lambda k: (n_unstable[k], np.linalg.norm(points[k])))
    n = starts.shape[1]
    return {
        "V": np.array([points[k] for k in order]).reshape(-1, n),
        "eigenvalues": np.array([eig[k] for k in order]).reshape(-1, n),
        "hits": np.array([hits[k] for k in order], dtype=np.int32),
        "residual": np.array([resid[k] for k in order]),
        "n_unstable": np.array([n_unstable[k] for k in order], dtype=np.int32),
        "converged": int(sum(hits)),
    }


def compare(d, res, dedupe_tol):
    """Match each engine point to a NumPy point; the worst differences of states and spectra."""
    eV = np.load(f"{d}/engine_V.npy").reshape(-1, res["V"].shape[1])
    eE = np.load(f"{d}/engine_eigenvalues.npy").reshape(eV.shape)
    eH = np.load(f"{d}/engine_hits.npy")
    matched, max_dv, max_deig, hits_equal = 0, 0.0, 0.0, True
    for k in range(eV.shape[0]):
        if res["V"].shape[0] == 0:
            break
        diff = np.max(np.abs(res["V"] - eV[k]), axis=1)
        j = int(np.argmin(diff))
        if diff[j] <= dedupe_tol * (1.0 + np.max(np.abs(eV[k]))):
            matched += 1
            max_dv = max(max_dv, float(diff[j]))
            scale = 1.0 + float(np.max(np.abs(eE[k])))
            max_deig = max(max_deig, float(np.max(np.abs(res["eigenvalues"][j] - eE[k]))) / scale)
            hits_equal &= int(res["hits"][j]) == int(eH[k])
    same = matched == eV.shape[0] == res["V"].shape[0]
    return {"engine_points": int(eV.shape[0]), "numpy_points": int(res["V"].shape[0]),
            "matched": matched, "same_points": bool(same), "hits_equal": bool(hits_equal),
            "max_abs_dV": max_dv, "max_rel_deig": max_deig}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--dedupe-tol", type=float, default=1e-6)
    ap.add_argument("--chord", action="store_true",
                    help="the engine's chord steps, with scipy.linalg.lu_factor/lu_solve")
    ap.add_argument("--json")
    a = ap.parse_args()
    net = Network(a.dir)
    starts = np.load(f"{a.dir}/starts.npy")
    times, cpu, res = [], [], None
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        res = search(net, starts, a.max_iter, a.tol, a.dedupe_tol,
                     newton_chord if a.chord else newton)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out = {"mode": "fixed_numpy_chord" if a.chord else "fixed_numpy", "n": int(starts.shape[1]), "starts": int(starts.shape[0]),
           "reps": a.reps, "numpy_s": times, "numpy_cpu_s": cpu,
           "median_numpy_s": float(np.median(times)), "points": int(res["V"].shape[0]),
           "converged": res["converged"], "numpy_version": np.__version__,
           "compare": compare(a.dir, res, a.dedupe_tol)}
    text = json.dumps(out)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
