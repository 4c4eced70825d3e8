#!/bin/bash
# Analysis benchmark (docs/BENCHMARKS.md, "Analysis"): bench_analysis (eir_eigen against the
# bare LAPACK dgeev at N = 2000; one Newton iteration of eir_fixed_points against one dgetrf at
# N = 1000; eir_fixed_points of an N = 500 network from 100 starts), then the NumPy peer of the
# last (bench/analysis/fp_numpy.py: the same search on the same network and starts), one BLAS
# thread everywhere; then one table of medians, ratios and verdicts.
#
# Usage: bench/run_analysis_bench.sh [BUILD_DIR]        (default: build-bench in the repo)
# Environment: REPS (default 5), EIGEN_N (2000), NEWTON_N (1000), NEWTON_REPS (15), FP_N (500),
# FP_STARTS (100).
# Results: BUILD_DIR/bench-results/analysis-*.json, analysis-table.md. Exits 1 when a target
# is missed or the engine and NumPy do not find the same points.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
OUT=$BUILD/bench-results
REPS=${REPS:-5}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1
if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    echo "# unsetting OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for this run"
    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target bench_analysis -j2 >/dev/null
mkdir -p "$OUT/analysis-fp" "$OUT/analysis-fp2"
rm -f "$OUT"/analysis-*.json "$OUT"/analysis-fp/*.npy "$OUT"/analysis-fp2/*.npy

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD)," \
    "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
B="$BUILD/bench/bench_analysis"
"$B" eigen --n "${EIGEN_N:-2000}" --reps "$REPS" >"$OUT/analysis-eigen.json"
"$B" newton --n "${NEWTON_N:-1000}" --reps "${NEWTON_REPS:-15}" >"$OUT/analysis-newton.json"
# The engine (one thread, then two: eir_fp_desc.threads) and NumPy searches alternate,
# repetition by repetition; the NumPy peer also with the engine's chord steps (SciPy's LU), when
# python3-scipy is installed.
for r in $(seq "$REPS"); do
    "$B" fixed --n "${FP_N:-500}" --starts "${FP_STARTS:-100}" --reps 1 --out "$OUT/analysis-fp" \
        >>"$OUT/analysis-fixed-engine.json"
    "$PY" "$ROOT/bench/analysis/fp_numpy.py" "$OUT/analysis-fp" --reps 1 \
        >>"$OUT/analysis-fixed-numpy.json"
    "$B" fixed --n "${FP_N:-500}" --starts "${FP_STARTS:-100}" --reps 1 --threads 2 \
        --out "$OUT/analysis-fp2" >>"$OUT/analysis-fixed-engine2.json"
    if "$PY" -c "import scipy" 2>/dev/null; then
        "$PY" "$ROOT/bench/analysis/fp_numpy.py" "$OUT/analysis-fp" --reps 1 --chord \
            >>"$OUT/analysis-fixed-chord.json"
    fi
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$OUT" <<'PYEOF' | tee "$OUT/analysis-table.md"
import json, statistics, sys
out = sys.argv[1]
def lines(name):
    return [json.loads(l) for l in open(f"{out}/analysis-{name}.json") if l.strip()]
e, nw = lines("eigen")[0], lines("newton")[0]
fe, fn, fe2 = lines("fixed-engine"), lines("fixed-numpy"), lines("fixed-engine2")
med = lambda rows, key: statistics.median(x[key] for x in rows)
t_fe, c_fe = med(fe, "median_fixed_points_s"), med(fe, "median_fixed_points_cpu_s")
t_fe2 = med(fe2, "median_fixed_points_s")
t_fn = med(fn, "median_numpy_s")
c_fn = statistics.median(x["numpy_cpu_s"][0] for x in fn)
try:
    fc = lines("fixed-chord")
except OSError:
    fc = []
cmp = fn[-1]["compare"]
rows = [
    (f"spectrum, N = {e['n']}", "eir_eigen", e["median_eir_eigen_s"], "bare dgeev",
     e["median_dgeev_s"], e["median_eir_eigen_s"] / e["median_dgeev_s"], "<= 1.2x", lambda r: r <= 1.2),
    (f"one Newton iteration, N = {nw['n']}", "eir_fixed_points, max_iter 1 (whole call)",
     nw["median_fixed_points_1_iter_s"], "dgetrf", nw["median_dgetrf_s"],
     nw["median_fixed_points_1_iter_s"] / nw["median_dgetrf_s"], "<= 1.5x", lambda r: r <= 1.5),
    (f"one Newton iteration, N = {nw['n']}", "max_iter 2 minus max_iter 1",
     nw["median_second_iteration_s"], "dgetrf", nw["median_dgetrf_s"],
     nw["median_second_iteration_s"] / nw["median_dgetrf_s"], "<= 1.5x", lambda r: r <= 1.5),
    (f"fixed points, N = {fe[0]['n']}, {fe[0]['starts']} starts", "eir_fixed_points", t_fe,
     f"NumPy {fn[0]['numpy_version']}", t_fn, t_fn / t_fe, "NumPy / engine >= 3x", lambda r: r >= 3),
]
print(f"{e['reps']} repetitions (Newton: {nw['reps']}; fixed points: {len(fe)}, alternating engine "
      "and NumPy), medians, OPENBLAS_NUM_THREADS=1\n")
print("| what | engine | s | reference | s | ratio | target | verdict |")
print("|---|---|---:|---|---:|---:|---|---|")
bad = 0
for what, a, ta, b, tb, r, target, ok in rows:
    met = ok(r)
    bad |= not met
    print(f"| {what} | {a} | {ta:.4f} | {b} | {tb:.4f} | {r:.2f}x | {target} | "
          f"{'met' if met else 'NOT met'} |")
print(f"\nFixed points, process CPU time: engine {c_fe:.3f} s, NumPy {c_fn:.3f} s: "
      f"{c_fn / c_fe:.2f}x; the engine on two threads (eir_fp_desc.threads = 2): "
      f"{t_fe2:.3f} s wall, {t_fn / t_fe2:.2f}x NumPy's (one BLAS thread) wall time")
if fc:
    t_fc = med(fc, "median_numpy_s")
    c_fc = statistics.median(x["numpy_cpu_s"][0] for x in fc)
    print(f"\nThe same algorithm as the engine's (chord steps; NumPy with scipy.linalg.lu_factor): "
          f"{t_fc:.3f} s wall, {c_fc:.3f} s CPU; the engine is {t_fc / t_fe:.2f}x faster "
          f"(wall), {c_fc / c_fe:.2f}x (CPU); same points: {fc[-1]['compare']['same_points']}")
    bad |= not fc[-1]["compare"]["same_points"]
print(f"\nNewton iteration breakdown (N = {nw['n']}): eir_linearize {nw['median_linearize_s']:.4f} s, "
      f"eir_dynamics {nw['median_dynamics_s']:.5f} s, dgetrf {nw['median_dgetrf_s']:.4f} s")
print(f"Fixed points: engine {fe[-1]['points']} point(s), {fe[-1]['converged']} of "
      f"{fe[-1]['starts']} starts converged, {fe[-1]['failed']} failed; NumPy {fn[-1]['points']} "
      f"point(s), {fn[-1]['converged']} converged")
print(f"Same points: {cmp['same_points']} ({cmp['matched']} matched), hits equal: "
      f"{cmp['hits_equal']}, max |dV| {cmp['max_abs_dV']:.1e}, max relative eigenvalue "
      f"difference {cmp['max_rel_deig']:.1e}")
bad |= not cmp["same_points"]
sys.exit(1 if bad else 0)
PYEOF
