#!/bin/bash
# Engine benchmark: bench_engine (engine vs the fused-product limit, same process) and the
# NumPy peer, shape by shape, then one table with the ratios and the targets of
# docs/BENCHMARKS.md. Not part of the test suite: it takes a few minutes and needs a quiet
# machine to mean anything.
#
# Usage: bench/run_engine_bench.sh [BUILD_DIR]          (default: build-bench in the repo)
# Environment: REPS (default 7), MIN_TIME (seconds per repetition, default 0.3),
#              SHAPES (default "64x1 256x1 1024x1 256x64 1024x64").
# Results: BUILD_DIR/bench-results/{engine-*.json,numpy-*.json,combined.json,table.md}.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
OUT=$BUILD/bench-results
REPS=${REPS:-7}
MIN_TIME=${MIN_TIME:-0.3}
SHAPES=${SHAPES:-"64x1 256x1 1024x1 256x64 1024x64"}
PY=/usr/bin/python3

# One BLAS thread on both sides. OpenBLAS core-type/cache overrides would make the two
# sides differ from a default install: drop them for both, and say so.
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
    if [ -n "${!v+x}" ]; then
        echo "# note: $v=${!v} was set; unset for both sides"
        unset "$v"
    fi
done
export OPENBLAS_NUM_THREADS=1

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target bench_engine -j2 >/dev/null
BENCH=$BUILD/bench/bench_engine
mkdir -p "$OUT"
rm -f "$OUT"/engine-*.json "$OUT"/numpy-*.json

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in $SHAPES; do
    "$BENCH" --shapes "$shape" --reps "$REPS" --min-time "$MIN_TIME" \
        --json "$OUT/engine-$shape.json"
    "$PY" "$ROOT/bench/peers/numpy_peer.py" --shapes "$shape" --reps "$REPS" \
        --min-time "$MIN_TIME" --json "$OUT/numpy-$shape.json"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$OUT" <<'EOF'
import glob, json, os, sys

out = sys.argv[1]
eng = [r for f in sorted(glob.glob(os.path.join(out, "engine-*.json"))) for r in json.load(open(f))]
npy = {(r["N"], r["B"], r["precision"], r["a"]): r
       for f in glob.glob(os.path.join(out, "numpy-*.json")) for r in json.load(open(f))}


def np_target(n, b):
    if b >= 64:
        return 2.0
    if n <= 64:
        return 8.0
    return 3.0


order = {"64x1": 0, "256x1": 1, "1024x1": 2, "256x64": 3, "1024x64": 4}
eng.sort(key=lambda r: (order.get(f"{r['N']}x{r['B']}", 9), r["N"], r["B"], r["precision"],
                        r["a"] != "structured"))
lines = ["| N×B | precision | A | engine µs/step | engine GSUPS | limit GSUPS | engine/limit "
         "(target) | NumPy µs/step | NumPy GSUPS | engine/NumPy (target) |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
combined = []
met = missed = 0
for r in eng:
    key = (r["N"], r["B"], r["precision"], r["a"])
    p = npy.get(key)
    lt = 1.7 if r["a"] == "structured" else 0.9
    rl = r["ratio_vs_limit"]
    ok_l = rl >= lt
    met += ok_l
    missed += not ok_l
    row = dict(r)
    cells = [f"{r['N']}×{r['B']}", r["precision"], r["a"], f"{1e6 * r['per_step_s']:.2f}",
             f"{r['sups'] / 1e9:.2f}", f"{r['limit_sups'] / 1e9:.2f}",
             f"{rl:.2f} (≥{lt}) {'✓' if ok_l else '✗'}"]
    if p:
        nt = np_target(r["N"], r["B"])
        rn = r["sups"] / p["sups"]
        ok_n = rn >= nt
        met += ok_n
        missed += not ok_n
        cpu_e = r["median_cpu_s"] / r["T"]
        cpu_n = p["median_cpu_s"] / p["T"]
        row.update(numpy_T=p["T"], numpy_median_s=p["median_s"], numpy_per_step_s=p["per_step_s"],
                   numpy_median_cpu_s=p["median_cpu_s"], numpy_sups=p["sups"], ratio_vs_numpy=rn,
                   ratio_vs_numpy_cpu=cpu_n / cpu_e)
        cells += [f"{1e6 * p['per_step_s']:.2f}", f"{p['sups'] / 1e9:.2f}",
                  f"{rn:.2f} (≥{nt:g}) {'✓' if ok_n else '✗'}"]
    else:
        cells += ["–", "–", "–"]
    combined.append(row)
    lines.append("| " + " | ".join(cells) + " |")
lines.append("")
lines.append(f"targets met: {met}, missed: {missed}")
table = "\n".join(lines)
print(table)
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(table + "\n")
with open(os.path.join(out, "combined.json"), "w") as f:
    json.dump(combined, f, indent=1)
    f.write("\n")
EOF
