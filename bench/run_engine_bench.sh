#!/bin/bash
# Engine benchmark: bench_engine (the engine at each thread count vs the fused-product limit,
# same process, alternating) and the NumPy peer (with one BLAS thread, then with its default
# threads), shape by shape, then one table with the ratios and the targets of
# docs/BENCHMARKS.md. Not part of the test suite: it takes a few minutes and needs a quiet
# machine to mean anything.
#
# Usage: bench/run_engine_bench.sh [BUILD_DIR]          (default: build-bench in the repo)
# Environment: REPS (default 7), MIN_TIME (seconds per repetition, default 0.3),
#              SHAPES (default "64x1 256x1 1024x1 256x64 1024x64 4096x1"),
#              PREC (default "float32,float64"), THREADS (engine threads, default "1,2").
# The thread targets alone: SHAPES="1024x64 4096x1" PREC=float32 bench/run_engine_bench.sh
# Results: BUILD_DIR/bench-results/{engine-*.json, numpy1-*.json (1 BLAS thread),
# numpyd-*.json (default threads), combined.json, table.md}.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
OUT=$BUILD/bench-results
REPS=${REPS:-7}
MIN_TIME=${MIN_TIME:-0.3}
SHAPES=${SHAPES:-"64x1 256x1 1024x1 256x64 1024x64 4096x1"}
PREC=${PREC:-float32,float64}
THREADS=${THREADS:-1,2}
PY=/usr/bin/python3

# One BLAS thread in the engine (its own threads are its parallelism) and in the first NumPy
# run; the second NumPy run has OpenBLAS's default threads (all cores). OpenBLAS core-type and
# cache overrides would make the sides differ from a default install: drop them, and say so.
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
    if [ -n "${!v+x}" ]; then
        echo "# note: $v=${!v} was set; unset for both sides"
        unset "$v"
    fi
done
unset OPENBLAS_NUM_THREADS

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target bench_engine -j2 >/dev/null
BENCH=$BUILD/bench/bench_engine
mkdir -p "$OUT"
rm -f "$OUT"/engine-*.json "$OUT"/numpy*.json

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in $SHAPES; do
    OPENBLAS_NUM_THREADS=1 "$BENCH" --shapes "$shape" --prec "$PREC" --threads "$THREADS" \
        --reps "$REPS" --min-time "$MIN_TIME" --json "$OUT/engine-$shape.json"
    OPENBLAS_NUM_THREADS=1 "$PY" "$ROOT/bench/peers/numpy_peer.py" --shapes "$shape" \
        --prec "$PREC" --reps "$REPS" --min-time "$MIN_TIME" --json "$OUT/numpy1-$shape.json"
    "$PY" "$ROOT/bench/peers/numpy_peer.py" --shapes "$shape" --prec "$PREC" --reps "$REPS" \
        --min-time "$MIN_TIME" --json "$OUT/numpyd-$shape.json"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$OUT" <<'EOF'
import glob, json, os, sys

out = sys.argv[1]
eng = [r for f in sorted(glob.glob(os.path.join(out, "engine-*.json"))) for r in json.load(open(f))]


def load(prefix):
    return {(r["N"], r["B"], r["precision"], r["a"]): r
            for f in glob.glob(os.path.join(out, prefix + "-*.json")) for r in json.load(open(f))}


np1, npd = load("numpy1"), load("numpyd")
base = {(r["N"], r["B"], r["precision"], r["a"]): r for r in eng if r["threads"] == 1}


def np_target(n, b):
    """Issue 3's targets: the engine with 1 thread vs NumPy with 1 BLAS thread."""
    if b >= 64:
        return 2.0
    if n <= 64:
        return 8.0
    return 3.0


def mark(ok):
    return "✓" if ok else "✗"


order = {"64x1": 0, "256x1": 1, "1024x1": 2, "256x64": 3, "1024x64": 4, "4096x1": 5}
eng.sort(key=lambda r: (order.get(f"{r['N']}x{r['B']}", 9), r["N"], r["B"], r["precision"],
                        r["a"] != "structured", r["threads"]))
lines = ["| N×B | precision | A | threads | engine µs/step (CPU µs) | engine/limit (target) | "
         "speed-up vs 1 thread, wall / CPU | NumPy 1 thread µs/step | engine/NumPy 1 thread "
         "(target) | NumPy default threads µs/step (CPU µs) | engine/NumPy default threads |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
combined = []
met = missed = 0
verdicts = []
for r in eng:
    key = (r["N"], r["B"], r["precision"], r["a"])
    th = r["threads"]
    row = dict(r)
    cpu_e = r["median_cpu_s"] / r["T"]
    cells = [f"{r['N']}×{r['B']}", r["precision"], r["a"], str(th),
             f"{1e6 * r['per_step_s']:.1f} ({1e6 * cpu_e:.1f})"]
    rl = r["ratio_vs_limit"]
    if th == 1:
        lt = 1.7 if r["a"] == "structured" else 0.9
        met += rl >= lt
        missed += rl < lt
        cells.append(f"{rl:.2f} (≥{lt}) {mark(rl >= lt)}")
    else:
        cells.append(f"{rl:.2f}")
    b1 = base.get(key)
    if b1 and th != 1:
        sp = b1["per_step_s"] / r["per_step_s"]
        sp_cpu = (b1["median_cpu_s"] / b1["T"]) / cpu_e
        row.update(speedup_vs_1_thread=sp, cpu_ratio_vs_1_thread=sp_cpu)
        txt = f"{sp:.2f} / {sp_cpu:.2f}"
        if r["N"] == 4096 and r["B"] == 1 and r["precision"] == "float32" and th == 2:
            ok = sp >= 1.8
            met += ok
            missed += not ok
            txt += f" (≥1.8) {mark(ok)}"
            verdicts.append(f"4096×1 float32 {r['a']}: 2 threads {sp:.2f}× 1 thread "
                            f"(target ≥ 1.8) {mark(ok)}")
        cells.append(txt)
    else:
        cells.append("–")
    p = np1.get(key)
    if p:
        rn = r["sups"] / p["sups"]
        row.update(numpy1_per_step_s=p["per_step_s"], numpy1_median_cpu_s=p["median_cpu_s"],
                   numpy1_T=p["T"], ratio_vs_numpy1=rn)
        cells.append(f"{1e6 * p['per_step_s']:.1f}")
        if th == 1:
            nt = np_target(r["N"], r["B"])
            met += rn >= nt
            missed += rn < nt
            cells.append(f"{rn:.2f} (≥{nt:g}) {mark(rn >= nt)}")
        else:
            cells.append(f"{rn:.2f}")
    else:
        cells += ["–", "–"]
    p = npd.get(key)
    if p:
        rn = r["sups"] / p["sups"]
        cpu_n = p["median_cpu_s"] / p["T"]
        row.update(numpyd_per_step_s=p["per_step_s"], numpyd_median_cpu_s=p["median_cpu_s"],
                   numpyd_T=p["T"], ratio_vs_numpyd=rn, ratio_vs_numpyd_cpu=cpu_n / cpu_e)
        cells.append(f"{1e6 * p['per_step_s']:.1f} ({1e6 * cpu_n:.1f})")
        txt = f"{rn:.2f}"
        if r["N"] == 1024 and r["B"] == 64 and r["precision"] == "float32" and th == 2:
            ok = rn >= 2.0
            met += ok
            missed += not ok
            txt += f" (≥2) {mark(ok)}"
            verdicts.append(f"1024×64 float32 {r['a']}: 2 threads {rn:.2f}× NumPy with its "
                            f"default threads (target ≥ 2) {mark(ok)}")
        cells.append(txt)
    else:
        cells += ["–", "–"]
    combined.append(row)
    lines.append("| " + " | ".join(cells) + " |")
lines.append("")
lines += verdicts
lines.append(f"targets met: {met}, missed: {missed}")
table = "\n".join(lines)
print(table)
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(table + "\n")
with open(os.path.join(out, "combined.json"), "w") as f:
    json.dump(combined, f, indent=1)
    f.write("\n")
EOF
