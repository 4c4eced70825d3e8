#!/bin/bash
# Sparse-connectivity benchmark (docs/BENCHMARKS.md, "Sparse connectivity"): bench_sparse (the
# engine's step with a dense model against the same model in compressed rows, alternating, and
# the generation and build times and the bytes each model holds), then the NumPy (dense) and
# scipy.sparse peers of the same step (bench/sparse/sparse_peer.py, alternating), one BLAS
# thread everywhere, then one table of medians and ratios. Needs about 3 GB of memory at the
# default N = 10,000 and python3-scipy for the scipy column (scripts/deps.sh bench).
#
# Usage: bench/run_sparse_bench.sh [BUILD_DIR]          (default: build-bench in the repo)
# Environment: N (default 10000), P (default 0.1), STEPS (default 20), REPS (default 7).
# Results: BUILD_DIR/bench-results/sparse-engine.json, sparse-peer.json, sparse-table.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
OUT=$BUILD/bench-results
N=${N:-10000}
P=${P:-0.1}
STEPS=${STEPS:-20}
REPS=${REPS:-7}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target bench_sparse -j2 >/dev/null
mkdir -p "$OUT"
rm -f "$OUT"/sparse-*.json

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/bench_sparse" --n "$N" --p "$P" --steps "$STEPS" --reps "$REPS" \
    --json "$OUT/sparse-engine.json"
"$PY" "$ROOT/bench/sparse/sparse_peer.py" --n "$N" --p "$P" --steps "$STEPS" --reps "$REPS" \
    --json "$OUT/sparse-peer.json"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$OUT" <<'PYEOF' | tee "$OUT/sparse-table.md"
import json, sys
out = sys.argv[1]
e = json.load(open(f"{out}/sparse-engine.json"))
p = json.load(open(f"{out}/sparse-peer.json"))
sp, csp = e["step_sparse_s"], e["cpu_sparse_s"]
rows = [("engine, compressed rows", sp, csp), ("engine, dense", e["step_dense_s"], e["cpu_dense_s"]),
        ("NumPy, dense (np.dot)", p["step_numpy_dense_s"], p["cpu_numpy_dense_s"]),
        ("scipy.sparse, CSR", p["step_scipy_sparse_s"], p["cpu_scipy_sparse_s"])]
print(f"N = {e['n']}, p = {e['p']}, B = 1, {e['precision']}, 1 thread; "
      f"{e['nnz']} nonzeros (density {e['nnz'] / e['n'] ** 2:.4f})\n")
print("| step | wall ms | CPU ms | engine sparse is faster by (wall, CPU) |")
print("|---|---:|---:|---:|")
for name, t, c in rows:
    if t is None:
        print(f"| {name} | not run (python3-scipy missing) | | |")
    else:
        print(f"| {name} | {1e3 * t:.2f} | {1e3 * c:.2f} | {t / sp:.2f}x, {c / csp:.2f}x |")
print()
print("| model | build s | bytes held |")
print("|---|---:|---:|")
print(f"| generation of W (eir_generate_recurrent) | {e['gen_s']:.2f} | |")
print(f"| dense | {e['build_dense_s']:.2f} | {e['bytes_dense'] / 1e6:.1f} MB |")
print(f"| compressed rows | {e['build_sparse_s']:.2f} | {e['bytes_sparse'] / 1e6:.1f} MB |")
r, rc = e["step_dense_s"] / sp, e["cpu_dense_s"] / csp
print(f"\nhashes equal: {e['hash_equal']}; target sparse >= 3x dense: "
      f"{'met' if min(r, rc) >= 3 else 'NOT met'} ({r:.2f}x wall, {rc:.2f}x CPU)")
PYEOF
