#!/usr/bin/python3
"""The NumPy peer of bench_engine: the same gated E/I RNN, simulated the way a NumPy user would.

Model (as in bench/engine/bench_engine.c): class gated, relu, exp_euler, dt 0.1, leak G_b = 1,
N_E = 0.8 N, Dale-signed lognormal W with p = 0.2 (I weights 4x E), rescaled to spectral
radius 0.9, P >= 0 (N x 2), two noisy inputs x = 1 + 0.5 xi, A_E = 0.5, A_I = 1.0.
The user builds M = A * |W| once (A per presynaptic type, or a full N x N A: the same values
written out) and integrates, per step,

    I = W r + (P x)_t          (P x precomputed for all steps with one matmul)
    z = G_b + M r
    V <- V e^{-z dt} + I (1 - e^{-z dt}) / z  =  V + expm1(-z dt) (V - I / z)
    r = max(V, 0)

with in-place ufuncs (out=) on preallocated arrays, np.dot(W, r) for one trial and
R @ W.T for a batch, and keeps r of 4 neurons every 10 steps. Both A kinds cost the same here
(two dense products); both are timed. SUPS = 2 N^2 B T / seconds, as in bench_engine.

Usage: numpy_peer.py [--shapes 64x1,...] [--prec float32,float64] [--a structured,full]
                     [--reps R] [--min-time S] [--json FILE]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

DT = 0.1
LEAK = 1.0
A_E, A_I = 0.5, 1.0
N_INPUTS = 2
REC = np.arange(4)
REC_EVERY = 10
DEFAULT_SHAPES = "64x1,256x1,1024x1,256x64,1024x64"


def make_network(n, seed=1234):
    """Dale-signed lognormal W (p = 0.2, no self-connections) at spectral radius 0.9, and P."""
    rng = np.random.default_rng(seed)
    n_e = int(0.8 * n)
    # lognormal with mean 1 and cv 1: sigma^2 = log(1 + cv^2), mu = -sigma^2 / 2
    s2 = np.log(2.0)
    mag = rng.lognormal(-s2 / 2, np.sqrt(s2), size=(n, n))
    mag *= rng.random((n, n)) < 0.2
    np.fill_diagonal(mag, 0.0)
    sign = np.where(np.arange(n) < n_e, 1.0, -4.0)
    W = mag * sign[None, :]
    W *= 0.9 / np.max(np.abs(np.linalg.eigvals(W)))
    P = rng.lognormal(-s2 / 2, np.sqrt(s2), size=(n, N_INPUTS))
    return W, P, n_e


def conductances(W, n_e, a_kind):
    """M = A * |W| with A per presynaptic type, or as a full N x N matrix of the same values."""
    n = W.shape[0]
    a_col = np.where(np.arange(n) < n_e, A_E, A_I)
    if a_kind == "structured":
        return np.abs(W) * a_col[None, :]
    A = np.broadcast_to(a_col[None, :], (n, n)).copy()
    return A * np.abs(W)


def simulate_one(W, M, P, X, dt, leak, T):
    """One trial: X is (T, n_in). Returns the recorded rates and the mean E rate."""
    n = W.shape[0]
    dtype = W.dtype
    PX = X @ P.T  # (T, N): input currents for every step at once
    V = np.zeros(n, dtype)
    r = np.zeros(n, dtype)
    I = np.empty(n, dtype)
    z = np.empty(n, dtype)
    e = np.empty(n, dtype)
    mdt = dtype.type(-dt)
    rec = []
    for t in range(T):
        np.dot(W, r, out=I)
        I += PX[t]
        np.dot(M, r, out=z)
        z += leak
        np.multiply(z, mdt, out=e)
        np.expm1(e, out=e)  # e^{-z dt} - 1
        np.divide(I, z, out=I)
        np.subtract(V, I, out=I)
        I *= e
        V += I
        np.maximum(V, 0, out=r)
        if (t + 1) % REC_EVERY == 0:
            rec.append(r[REC])
    return rec, r


def simulate_batch(W, M, P, X, dt, leak, T):
    """B trials at once: X is (T, B, n_in); rates are the rows of R (B x N)."""
    n = W.shape[0]
    B = X.shape[1]
    dtype = W.dtype
    PX = X @ P.T  # (T, B, N)
    WT, MT = W.T, M.T  # views: BLAS takes the transposed operand as is
    V = np.zeros((B, n), dtype)
    R = np.zeros((B, n), dtype)
    I = np.empty((B, n), dtype)
    z = np.empty((B, n), dtype)
    e = np.empty((B, n), dtype)
    mdt = dtype.type(-dt)
    rec = []
    for t in range(T):
        np.matmul(R, WT, out=I)
        I += PX[t]
        np.matmul(R, MT, out=z)
        z += leak
        np.multiply(z, mdt, out=e)
        np.expm1(e, out=e)
        np.divide(I, z, out=I)
        np.subtract(V, I, out=I)
        I *= e
        V += I
        np.maximum(V, 0, out=R)
        if (t + 1) % REC_EVERY == 0:
            rec.append(R[:, REC])
    return rec, R


class Case:
    """One shape, precision and A kind, with the inputs for up to T steps."""

    def __init__(self, W, M, P, n_e, B, dtype):
        self.W = W.astype(dtype)
        self.M = M.astype(dtype)
        self.P = P.astype(dtype)
        self.n_e = n_e
        self.B = B
        self.dtype = dtype
        self.X = np.empty((0, B, N_INPUTS), dtype)

    def run(self, T):
        if self.X.shape[0] < T:
            rng = np.random.default_rng(42)
            self.X = (1.0 + 0.5 * rng.standard_normal((T, self.B, N_INPUTS))).astype(self.dtype)
        X = self.X[:T]
        c0, t0 = time.process_time(), time.perf_counter()
        if self.B == 1:
            _, r = simulate_one(self.W, self.M, self.P, X[:, 0, :], DT, LEAK, T)
        else:
            _, r = simulate_batch(self.W, self.M, self.P, X, DT, LEAK, T)
        secs = time.perf_counter() - t0
        self.last_cpu = time.process_time() - c0
        self.rate_e = float(np.mean(r[..., : self.n_e]))
        if not np.all(np.isfinite(r)):
            sys.exit("numpy_peer: the benchmark run diverged")
        return secs


def calibrate(case, min_time):
    """T such that one run takes about 1.15 min_time on a quiet machine (checked at the chosen
    T with the faster of two runs, as a run slowed down by other load would give too small a T)."""
    T = 8
    t = case.run(T)
    while t < 0.04:
        T *= 8 if t < 0.004 else 2
        t = case.run(T)
    for _ in range(3):
        T = max(1, int(np.ceil(T * min_time * 1.15 / t)))
        t = min(case.run(T), case.run(T))
        if t >= min_time:
            break
    return T


def blas_info():
    """OpenBLAS config and core of the BLAS NumPy loaded (Debian: libblas.so.3 -> OpenBLAS)."""
    import ctypes
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return (f"{lib.openblas_get_config().decode()} | core "
                f"{lib.openblas_get_corename().decode()}")
    except (OSError, AttributeError):
        return "BLAS: not OpenBLAS or not found"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default=DEFAULT_SHAPES)
    ap.add_argument("--prec", default="float32,float64")
    ap.add_argument("--a", default="structured,full")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--json")
    args = ap.parse_args()

    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    precs = [p for p in ("float32", "float64") if p in args.prec]
    akinds = [a for a in ("structured", "full") if a in args.a]
    print(f"# numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n"
          f"# {blas_info()}")
    print(f"# {'N':>5} {'B':>3}  {'prec':<7}  {'A':<10} {'T':>7} {'us/step':>10} {'GSUPS':>8} "
          f"{'min_s':>6}  rate_E")
    rows = []
    nets = {}
    for n, B in shapes:
        if n not in nets:
            nets[n] = make_network(n)
        W, P, n_e = nets[n]
        for prec in precs:
            cases = {a: Case(W, conductances(W, n_e, a), P, n_e, B, np.dtype(prec))
                     for a in akinds}
            Ts = {a: calibrate(c, args.min_time) for a, c in cases.items()}
            times = {a: [] for a in akinds}
            cpus = {a: [] for a in akinds}
            for rep in range(args.reps):
                order = akinds[rep % len(akinds):] + akinds[: rep % len(akinds)]
                for a in order:
                    times[a].append(cases[a].run(Ts[a]))
                    cpus[a].append(cases[a].last_cpu)
            for a in akinds:
                med = float(np.median(times[a]))
                T = Ts[a]
                sups = 2.0 * n * n * B * T / med
                row = {"side": "numpy", "N": n, "B": B, "precision": prec, "a": a, "T": T,
                       "reps": args.reps, "median_s": med, "min_s": min(times[a]),
                       "max_s": max(times[a]), "median_cpu_s": float(np.median(cpus[a])),
                       "per_step_s": med / T, "sups": sups, "mean_rate_e": cases[a].rate_e}
                rows.append(row)
                print(f"  {n:>5} {B:>3}  {prec:<7}  {a:<10} {T:>7} {1e6 * med / T:>10.3f} "
                      f"{sups / 1e9:>8.3f} {min(times[a]):>6.3f}  {cases[a].rate_e:.3f}",
                      flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
