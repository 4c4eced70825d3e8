#!/usr/bin/python3
"""The NumPy and scipy.sparse peers of bench_sparse: one step of the same gated network, B = 1.

Model (as in bench/sparse/bench_sparse.c): class gated, relu, exp_euler, dt 0.1, leak G_b = 1,
bias 0.5, N_E = 0.8 N, connection probability p in every pathway, no self-connections,
lognormal magnitudes (cv 1) with mean 1 / (p N) (E columns) and 2 / (p N) (I columns, negative),
A per presynaptic type (A_E = 0.5, A_I = 1.0). The weights are drawn with NumPy's generator,
not the engine's Philox streams: the same shape and density, not the same numbers. Per step,
as a NumPy user would write it with in-place ufuncs on preallocated arrays:

    uE = W_E r_E,  uI = W_I r_I           (W_E, W_I: the E and I columns of W)
    I = uE + uI + b,  z = G_b + A_E uE - A_I uI
    V <- V + expm1(-z dt) (V - I / z),  r = max(V, 0)

with W_E, W_I dense C-ordered arrays (NumPy: np.dot, OpenBLAS gemv) or CSR matrices
(scipy.sparse: csr_matrix @ vector). The two alternate, --reps repetitions of --steps steps
each; medians of wall and process CPU seconds per step are printed and written to --json. scipy.sparse is timed
only when it imports (Debian python3-scipy: scripts/deps.sh bench).

Usage: sparse_peer.py [--n 10000] [--p 0.1] [--steps 20] [--reps 7] [--json FILE]
"""
import argparse
import json
import statistics
import time

import numpy as np

try:
    import scipy.sparse as sp
except ImportError:  # the dense peer still runs; the table says scipy was missing
    sp = None

DT = 0.1
LEAK = 1.0
BIAS = 0.5
A_E, A_I = 0.5, 1.0
CHUNK = 512  # rows drawn at once (bounds the generator's temporaries)


def make_blocks(n, p, seed=42):
    """W's E and I columns, dense (float64), drawn CHUNK rows at a time."""
    rng = np.random.default_rng(seed)
    ne = n * 4 // 5
    s2 = np.log1p(1.0)  # cv 1
    we = np.empty((n, ne))
    wi = np.empty((n, n - ne))
    for i0 in range(0, n, CHUNK):
        i1 = min(n, i0 + CHUNK)
        mask = rng.random((i1 - i0, n)) < p
        mag = rng.lognormal(-0.5 * s2, np.sqrt(s2), (i1 - i0, n))
        rows = np.where(mask, mag, 0.0)
        rows[np.arange(i1 - i0), np.arange(i0, i1)] = 0.0  # no self-connections
        we[i0:i1] = rows[:, :ne] * (1.0 / (p * n))
        wi[i0:i1] = rows[:, ne:] * (-2.0 / (p * n))
    return we, wi


def run(mats, n, ne, steps):
    """(wall, process CPU) seconds per step of `steps` steps with products by mats = (W_E, W_I)."""
    we, wi = mats
    v = np.full(n, 0.5)
    r = np.maximum(v, 0.0)
    ue, ui = np.empty(n), np.empty(n)
    cur, z, tmp = np.empty(n), np.empty(n), np.empty(n)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        ue[:] = we @ r[:ne]
        ui[:] = wi @ r[ne:]
        np.add(ue, ui, out=cur)
        cur += BIAS
        np.multiply(ue, A_E, out=z)
        z -= A_I * ui
        z += LEAK
        np.divide(cur, z, out=tmp)  # I / z
        np.subtract(v, tmp, out=tmp)  # V - I / z
        np.multiply(z, -DT, out=z)
        np.expm1(z, out=z)
        z *= tmp
        v += z
        np.maximum(v, 0.0, out=r)
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--p", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args()
    n, ne = a.n, a.n * 4 // 5
    t0 = time.perf_counter()
    dense = make_blocks(n, a.p)
    gen_s = time.perf_counter() - t0
    sparse = None
    csr_s = None
    if sp is not None:
        t0 = time.perf_counter()
        sparse = tuple(sp.csr_matrix(m) for m in dense)
        csr_s = time.perf_counter() - t0
    run(dense, n, ne, 2)
    if sparse:
        run(sparse, n, ne, 2)
    td, ts, cd, cs = [], [], [], []
    for _ in range(a.reps):
        w, c = run(dense, n, ne, a.steps)
        td.append(w)
        cd.append(c)
        if sparse:
            w, c = run(sparse, n, ne, a.steps)
            ts.append(w)
            cs.append(c)
    out = {
        "n": n,
        "p": a.p,
        "numpy": np.__version__,
        "scipy": None if sp is None else __import__("scipy").__version__,
        "gen_s": gen_s,
        "csr_from_dense_s": csr_s,
        "step_numpy_dense_s": statistics.median(td),
        "step_scipy_sparse_s": statistics.median(ts) if ts else None,
        "cpu_numpy_dense_s": statistics.median(cd),
        "cpu_scipy_sparse_s": statistics.median(cs) if cs else None,
    }
    print(f"# sparse_peer: N {n}, p {a.p}, B 1, {a.steps} steps x {a.reps} reps, "
          f"NumPy {out['numpy']}, scipy {out['scipy'] or 'not installed'}")
    print(f"step NumPy dense   : {1e3 * out['step_numpy_dense_s']:.3f} ms wall, "
          f"{1e3 * out['cpu_numpy_dense_s']:.3f} ms CPU (medians)")
    if ts:
        print(f"step scipy.sparse  : {1e3 * out['step_scipy_sparse_s']:.3f} ms wall, "
              f"{1e3 * out['cpu_scipy_sparse_s']:.3f} ms CPU (medians)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)
            f.write("\n")


if __name__ == "__main__":
    main()
