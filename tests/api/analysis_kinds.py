#!/usr/bin/env python3
"""api/analysis_kinds: the four analysis kinds through the service give exact answers
(issue 11, section 3; docs/ANALYSIS.md).

    analysis_kinds.py --eirnnd PATH

1. spectrum of W of an explicit matrix = numpy.linalg.eigvals, sorted by real part then
   imaginary part descending (1e-10), its eigenvectors satisfy W v = lambda v (1e-10) and the
   summary's radius, abscissa and count; spectrum of M (gated model) = eigvals of A (.) |W|, also
   as JSON [re, im] pairs; in the conductance form M is K and W = K E_type(j).
2. fixed point of a linear network (class rnn, linear activation) = the closed form
   (diag(G_b) - W)^-1 (P x + b), and its Jacobian eigenvalues = eigvals(W - diag(G_b)) (1e-10);
   one point from every start.
3. spectrum "at" a run's recorded state (trial 1, a recorded step; and step -1): the Jacobian
   equals MODEL.md's formula evaluated in NumPy at the downloaded V with the run's input at that
   step (1e-10), the eigenvalues equal NumPy's of it.
4. spectrum "at" a fixed point of another analysis: that point's V and x, and its eigenvalues;
   fixed points started from a run's recorded states are among those the random starts found.
5. two-population inhibition-stabilised network (Tsodyks et al. 1997), class gated: the fixed
   point through the service equals the final state of a long run (1e-8), is stable, and its
   E-E Jacobian entry is positive (the E subnetwork alone is unstable: the ISN regime).
6. lyapunov: a random tanh network with gain g has lambda_max > 0 at g = 2 and < 0 at g = 0.9.
7. activity on a run: population means and variances = NumPy's on the downloaded r, PCA
   explained variance, participation ratio and mean correlation = NumPy's (1e-9), the E/I balance
   index = its definition computed in NumPy (1e-9); a float32 run is read widened; on a run recording V of a subset of the cells
   out of order, the populations go by cell index and there is no balance index.
8. slow points (Sussillo & Barak 2013): past a saddle-node bifurcation of a one-cell tanh
   network, the ghost of the vanished fixed points is found as a slow point at F'(V) = 0 with
   q = |F|^2 / 2, after the remaining (stable) fixed point.
Exit 0 when all hold.
"""
import argparse

import numpy as np

from analysis_common import Api, Daemon, eig_sorted, jacobian_gated_relu, relu, verdict

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


def close(a, b, tol, what):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return check(False, "%s: shape %s, expected %s" % (what, a.shape, b.shape))
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = 1.0 + (float(np.max(np.abs(b))) if b.size else 0.0)
    return check(err <= tol * scale, "%s: max error %.3g > %.3g" % (what, err, tol * scale))


def linear_model(rng, n_e=4, n_i=2):
    n = n_e + n_i
    W = rng.normal(0, 0.4 / np.sqrt(n), (n, n))
    G = rng.uniform(1.0, 2.0, n)
    P = rng.normal(0, 1, (n, 2))
    b = rng.normal(0, 0.5, n)
    doc = {"class": "rnn", "populations": {"E": n_e, "I": n_i}, "n_inputs": 2,
           "activation": {"name": "linear"}, "leak": G.tolist(), "recurrent": {"W": W.tolist()},
           "input": {"P": P.tolist()}, "bias": b.tolist()}
    return doc, W, G, P, b


def gated_model(rng, n_e=6, n_i=2):
    n = n_e + n_i
    W = np.abs(rng.normal(0, 0.5, (n, n)))
    W[:, n_e:] *= -2.0
    np.fill_diagonal(W, 0.0)
    a_e, a_i = 0.5, 1.0
    A = np.concatenate([np.full((n, n_e), a_e), np.full((n, n_i), a_i)], axis=1)
    G = np.full(n, 1.0)
    P = np.abs(rng.normal(0, 1, (n, 2)))
    M_in = np.abs(rng.normal(0, 0.3, (n, 2)))
    b = np.full(n, 0.2)
    doc = {"class": "gated", "populations": {"E": n_e, "I": n_i}, "n_inputs": 2,
           "activation": {"name": "relu"}, "leak": 1.0,
           "recurrent": {"W": W.tolist(), "A": {"E": a_e, "I": a_i}},
           "input": {"P": P.tolist(), "M_in": M_in.tolist()}, "bias": 0.2}
    return doc, W, A * np.abs(W), G, P, M_in, b


def test_spectrum_matrices(api, rng):
    doc, W, _, _, _ = linear_model(rng)
    mid = api.model(doc)
    job = api.analysis({"kind": "spectrum", "model_id": mid, "of": "W", "eigenvectors": True})
    ev, vecs = api.result(job, "eigenvalues"), api.result(job, "eigenvectors")
    check(ev.dtype == np.complex128, "spectrum: eigenvalues are complex128 (%s)" % ev.dtype)
    close(ev, eig_sorted(W), 1e-10, "spectrum of W = numpy eigvals")
    close(W @ vecs, vecs * ev[None, :], 1e-10, "spectrum of W: W v = lambda v")
    s = job.get("summary", {})
    want = eig_sorted(W)
    close(s.get("spectral_radius"), np.max(np.abs(want)), 1e-12, "summary spectral_radius")
    close(s.get("spectral_abscissa"), np.max(want.real), 1e-12, "summary spectral_abscissa")
    check(s.get("n_positive_real") == int(np.sum(want.real > 0)), "summary n_positive_real")
    check(s.get("of") == "W" and s.get("n") == W.shape[0], "summary of, n: %s" % s)

    gdoc, _, M, _, _, _, _ = gated_model(rng)
    gid = api.model(gdoc)
    job = api.analysis({"kind": "spectrum", "model_id": gid, "of": "M"})
    close(api.result(job, "eigenvalues"), eig_sorted(M), 1e-10, "spectrum of M = eigvals(A |W|)")
    st, pairs = api.call("GET", "/v1/analyses/%s/results/eigenvalues?format=json" % job["id"])
    check(st == 200 and np.array_equal(np.array([complex(a, b) for a, b in pairs]),
                                       api.result(job, "eigenvalues")),
          "spectrum: JSON gives the eigenvalues as [re, im] pairs")

    # The conductance form: M is K.
    K = np.abs(rng.normal(0, 0.3, (5, 5)))
    cid = api.model({"class": "gated", "populations": {"E": 3, "I": 2},
                     "activation": {"name": "relu"}, "leak": 1.0,
                     "recurrent": {"K": K.tolist(), "E_rev": {"E": 2.0, "I": -0.5}}})
    job = api.analysis({"kind": "spectrum", "model_id": cid, "of": "M"})
    close(api.result(job, "eigenvalues"), eig_sorted(K), 1e-10, "spectrum of M = eigvals(K)")
    job = api.analysis({"kind": "spectrum", "model_id": cid, "of": "W"})
    E_type = np.array([2.0] * 3 + [-0.5] * 2)
    close(api.result(job, "eigenvalues"), eig_sorted(K * E_type[None, :]), 1e-10,
          "spectrum of W = eigvals(K E_type) in the conductance form")


def test_linear_fixed_point(api, rng):
    doc, W, G, P, b = linear_model(rng)
    mid = api.model(doc)
    x = np.array([0.3, -0.2])
    job = api.analysis({"kind": "fixed_points", "model_id": mid, "x": x.tolist(),
                        "starts": {"random": {"count": 5, "seed": 3, "scale": 2.0}}})
    V = api.result(job, "V")
    want = np.linalg.solve(np.diag(G) - W, P @ x + b)
    check(V.shape == (1, len(G)), "linear: one fixed point from every start, got %s" % (V.shape,))
    close(V[0], want, 1e-10, "linear fixed point = (diag(G_b) - W)^-1 (P x + b)")
    close(api.result(job, "eigenvalues")[0], eig_sorted(W - np.diag(G)), 1e-10,
          "linear fixed point: Jacobian eigenvalues = eigvals(W - diag(G_b))")
    s = job["summary"]
    check(s["count"] == 1 and s["fixed_points"] == 1 and s["starts"] == 5 and s["converged"] == 5,
          "linear: summary %s" % s)
    check(api.result(job, "stable")[0] == int(np.all(np.linalg.eigvals(W - np.diag(G)).real < 0)),
          "linear: stability flag")


def test_at_run_and_point(api, rng):
    doc, W, M, G, P, M_in, b = gated_model(rng)
    mid = api.model(doc)
    T, every = 60, 3
    inputs = np.abs(rng.normal(0.5, 0.3, (2, T, 2)))
    run = api.run({"model_id": mid, "dt": 0.05, "inputs": inputs.tolist(), "V0": 0.2,
                   "record": {"vars": ["V", "r"], "every": every}})
    check(run["status"] == "succeeded", "run for spectrum at: %s" % run["status"])
    runV = api.run_result(run, "V")
    for step, row in ((30, 30 // every - 1), (-1, T // every - 1)):
        job = api.analysis({"kind": "spectrum", "model_id": mid,
                            "at": {"run_id": run["id"], "trial": 1, "step": step}})
        V = runV[1, row]
        x = inputs[1, (row + 1) * every - 1]
        J = jacobian_gated_relu(V, W, M, G, M_in, x)
        check(np.array_equal(api.result(job, "V"), V), "at run step %d: V is the run's row" % step)
        close(api.result(job, "x"), x, 0, "at run step %d: x is the run's input" % step)
        close(api.result(job, "jacobian"), J, 1e-10, "at run step %d: Jacobian = MODEL.md's" % step)
        close(api.result(job, "eigenvalues"), eig_sorted(J), 1e-10,
              "at run step %d: eigenvalues of the Jacobian" % step)
        s = job["summary"]
        check(s.get("of") == "jacobian" and s.get("min_leak") == 1.0 and s.get("max_leak") == 1.0,
              "at run: summary %s" % s)

    x = [0.5, 0.2]
    fp = api.analysis({"kind": "fixed_points", "model_id": mid, "x": x,
                       "starts": {"random": {"count": 20, "seed": 7}}})
    check(fp["summary"]["count"] >= 1, "gated fixed points found: %s" % fp["summary"])
    Vs, evs = api.result(fp, "V"), api.result(fp, "eigenvalues")
    r0 = relu(Vs[0])
    F = -(G + M @ r0 + M_in @ np.abs(x)) * Vs[0] + W @ r0 + P @ np.array(x) + b
    check(np.max(np.abs(F)) < 1e-9, "gated fixed point: |F(V*)| = %.3g" % np.max(np.abs(F)))
    # From the run's last recorded states (both trials) as starts: they settle on the points.
    fr = api.analysis({"kind": "fixed_points", "model_id": mid, "x": x,
                       "starts": {"runs": [{"run_id": run["id"], "trial": t} for t in (0, 1)]}})
    check(fr["summary"]["starts"] == 2 and fr["summary"]["converged"] == 2,
          "fixed points from run states: %s" % fr["summary"])
    found = api.result(fr, "V")
    check(all(np.min(np.max(np.abs(Vs - v), axis=1)) < 1e-9 for v in found),
          "fixed points from run states are among the random starts' points")
    job = api.analysis({"kind": "spectrum", "model_id": mid,
                        "at": {"analysis_id": fp["id"], "index": 0}})
    check(np.array_equal(api.result(job, "V"), Vs[0]), "at analysis: V is point 0")
    close(api.result(job, "x"), x, 0, "at analysis: x is the analysis's x")
    close(api.result(job, "eigenvalues"), evs[0], 1e-10, "at analysis: eigenvalues = point 0's")
    close(api.result(job, "jacobian"), jacobian_gated_relu(Vs[0], W, M, G, M_in, np.array(x)),
          1e-10, "at analysis: Jacobian = MODEL.md's")


def test_isn(api):
    W = [[2.0, -2.5], [2.5, -2.0]]
    doc = {"class": "gated", "populations": {"E": 1, "I": 1}, "activation": {"name": "relu"},
           "leak": 1.0, "recurrent": {"W": W, "A": 0.1}, "bias": [1.0, 0.5]}
    mid = api.model(doc)
    fp = api.analysis({"kind": "fixed_points", "model_id": mid,
                       "starts": {"random": {"count": 10, "seed": 2, "scale": 0.5}}})
    run = api.run({"model_id": mid, "dt": 0.01, "inputs": {"steps": 5000}, "V0": 0.1,
                   "record": {"vars": ["V"], "every": 5000}})
    final = api.run_result(run, "V")[0, -1]
    stable = api.result(fp, "stable")
    Vs = api.result(fp, "V")
    check(len(stable) >= 1 and stable[0] == 1, "ISN: a stable fixed point first: %s" % stable)
    close(Vs[0], final, 1e-8, "ISN: fixed point = the long run's final state")
    job = api.analysis({"kind": "spectrum", "model_id": mid,
                        "at": {"analysis_id": fp["id"], "index": 0}})
    J = api.result(job, "jacobian")
    Wn, Mn = np.array(W), 0.1 * np.abs(np.array(W))
    close(J, jacobian_gated_relu(Vs[0], Wn, Mn, np.ones(2)), 1e-10, "ISN: Jacobian")
    check(J[0, 0] > 0 and np.all(api.result(job, "eigenvalues").real < 0),
          "ISN regime: J_EE = %.3g > 0 with every eigenvalue stable" % J[0, 0])


def test_lyapunov(api):
    n = 100
    for g, sign in ((2.0, 1), (0.9, -1)):
        W = np.random.default_rng(11).normal(0, g / np.sqrt(n), (n, n))
        mid = api.model({"class": "rnn", "populations": {"E": n, "I": 0},
                         "activation": {"name": "tanh"}, "leak": 1.0,
                         "recurrent": {"W": W.tolist()}})
        job = api.analysis({"kind": "lyapunov", "model_id": mid, "k": 2, "dt": 0.05,
                            "steps": 6000, "transient": 1000, "seed": 4, "trace_points": 50})
        ex = api.result(job, "exponents")
        trace = api.result(job, "trace")
        s = job["summary"]
        check(ex.shape == (2,) and trace.shape == (50, 2) and api.result(job, "trace_time").shape
              == (50,), "lyapunov: shapes %s %s" % (ex.shape, trace.shape))
        check(np.sign(ex[0]) == sign, "lyapunov g = %g: lambda_max = %.4g" % (g, ex[0]))
        check(s["max_exponent"] == ex[0] and not s["diverged"] and s["k"] == 2,
              "lyapunov summary %s" % s)
        close(trace[-1], ex, 1e-12, "lyapunov: the trace ends at the exponents")


def test_activity(api, rng):
    doc, W, M, G, P, M_in, b = gated_model(rng)
    mid = api.model(doc)
    T = 300
    inputs = np.abs(rng.normal(0.5, 0.5, (2, T, 2)))
    run = api.run({"model_id": mid, "dt": 0.05, "inputs": inputs.tolist(), "V0": 0.1,
                   "record": {"vars": ["V", "r"]}})
    r = api.run_result(run, "r")[:, 50:250, :]
    job = api.analysis({"kind": "activity", "run_id": run["id"], "window": {"from": 50, "to": 250}})
    s = job["summary"]
    ne = 6
    X = r.reshape(-1, r.shape[2])
    for pop, cols in (("E", slice(0, ne)), ("I", slice(ne, None))):
        p = s["populations"][pop]
        close(p["mean"], r[:, :, cols].mean(), 1e-12, "activity: mean of %s" % pop)
        close(p["var"], r[:, :, cols].var(), 1e-10, "activity: var of %s" % pop)
        check(p["cells"] == X[:, cols].shape[1], "activity: cells of %s" % pop)
    close(api.result(job, "unit_mean"), X.mean(0), 1e-12, "activity: unit means")
    close(api.result(job, "unit_var"), X.var(0), 1e-10, "activity: unit variances")
    C = np.cov(X, rowvar=False, bias=True)
    lam = np.sort(np.linalg.eigvalsh(C))[::-1]
    close(api.result(job, "pca_variance"), np.maximum(lam, 0), 1e-10, "activity: PCA variances")
    close(api.result(job, "pca_ratio"), np.maximum(lam, 0) / lam.sum(), 1e-10, "activity: ratios")
    close(s["participation_ratio"], lam.sum() ** 2 / (lam ** 2).sum(), 1e-9,
          "activity: participation ratio = numpy's")
    keep = X.var(0) > 0
    R = np.corrcoef(X[:, keep], rowvar=False)
    iu = np.triu_indices(R.shape[0], 1)
    close(s["mean_correlation"], R[iu].mean(), 1e-9, "activity: mean correlation")
    e = X[:, :ne] @ W[:, :ne].T
    i = X[:, ne:] @ W[:, ne:].T
    bal = (e + i).mean(0) / (np.abs(e) + np.abs(i)).mean(0)
    close(api.result(job, "balance"), bal, 1e-9, "activity: E/I balance index")
    close(api.result(job, "drive_e"), e.mean(0), 1e-10, "activity: drive_e")
    close(api.result(job, "drive_i"), i.mean(0), 1e-10, "activity: drive_i")
    close(s["balance"]["median"], np.median(bal), 1e-9, "activity: median balance")
    check(s["window"] == {"from": 50, "to": 250} and s["var"] == "r", "activity summary %s" % s)

    # A float32 run: its values are read widened to float64.
    run32 = api.run({"model_id": mid, "dt": 0.05, "inputs": inputs.tolist(), "V0": 0.1,
                     "precision": "float32", "record": {"vars": ["r"]}})
    r32 = api.run_result(run32, "r")
    check(r32.dtype == np.float32, "float32 run: r is float32")
    job = api.analysis({"kind": "activity", "run_id": run32["id"]})
    X32 = r32.astype(np.float64).reshape(-1, r32.shape[2])
    close(api.result(job, "unit_mean"), X32.mean(0), 1e-12, "float32 run: unit means")
    close(job["summary"]["populations"]["E"]["mean"], X32[:, :ne].mean(), 1e-12,
          "float32 run: E mean")

    # A subset of the cells, out of order: the populations go by cell index, no balance index.
    cells = [7, 1, 6, 0]
    run2 = api.run({"model_id": mid, "dt": 0.05, "inputs": inputs.tolist(), "V0": 0.1,
                    "record": {"vars": ["V"], "neurons": cells}})
    V = api.run_result(run2, "V")
    job = api.analysis({"kind": "activity", "run_id": run2["id"], "var": "V"})
    s = job["summary"]
    e_units = [u for u, c in enumerate(cells) if c < ne]
    i_units = [u for u, c in enumerate(cells) if c >= ne]
    close(s["populations"]["E"]["mean"], V[:, :, e_units].mean(), 1e-12, "subset: E mean")
    close(s["populations"]["I"]["var"], V[:, :, i_units].var(), 1e-10, "subset: I var")
    check(s["populations"]["E"]["cells"] == 2 and s["populations"]["I"]["cells"] == 2 and
          s["balance"] is None and s["var"] == "V", "subset: summary %s" % s)
    check(sorted(job["results"]) == ["pca_ratio", "pca_variance", "unit_mean", "unit_var"],
          "subset: outputs %s" % sorted(job["results"]))


def test_slow_points(api):
    """dV/dt = -V + 2 tanh V - 0.54: past the saddle-node (b = asinh(1) - sqrt(2) = -0.5328) the
    upper pair of fixed points has vanished, leaving a ghost where |F| is smallest: F'(V) = 0 at
    V = asinh(1), F = -0.0072. Newton fails there; the minimisation of q finds it."""
    mid = api.model({"class": "rnn", "populations": {"E": 1, "I": 0},
                     "activation": {"name": "tanh"}, "leak": 1.0, "recurrent": {"W": [[2.0]]},
                     "bias": -0.54})
    # q is flat at a slow point (a minimum with q > 0): V is found to about sqrt(eps) of its
    # scale, so the points are merged at 1e-4 rather than the default 1e-6.
    job = api.analysis({"kind": "fixed_points", "model_id": mid, "slow_points": True,
                        "dedupe_tol": 1e-4,
                        "starts": {"random": {"count": 50, "seed": 3, "scale": 2.0}}})
    s = job["summary"]
    V, q, slow = api.result(job, "V")[:, 0], api.result(job, "q"), api.result(job, "slow")
    check(s["fixed_points"] == 1 and s["slow_points"] == 1 and list(slow) == [0, 1],
          "slow points: one fixed point then one slow point: %s" % s)
    F = -V + 2 * np.tanh(V) - 0.54
    close(F[0], 0.0, 1e-12, "slow points: the fixed point is a zero of F")
    close(V[1], np.arcsinh(1.0), 1e-5, "slow points: the ghost is at asinh(1)")
    close(q[1], 0.5 * F[1] ** 2, 1e-12, "slow points: q = |F|^2 / 2 at the slow point")
    check(q[1] <= 1e-4 and api.result(job, "stable")[0] == 1, "slow points: q %.3g" % q[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "2"])
    try:
        api = Api(d)
        rng = np.random.default_rng(2026)
        for t in (test_spectrum_matrices, test_linear_fixed_point, test_at_run_and_point,
                  test_activity):
            t(api, rng)
        test_isn(api)
        test_lyapunov(api)
        test_slow_points(api)
    except Exception as e:  # a failure to talk to the daemon is a failure of the test
        BAD.append("%s: %s" % (type(e).__name__, e))
    finally:
        d.stop_checked(BAD)
    return verdict(BAD)


if __name__ == "__main__":
    raise SystemExit(main())
