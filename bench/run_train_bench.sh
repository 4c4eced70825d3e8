#!/bin/bash
# Training benchmark: one training iteration (forward, backpropagation through time, Adam with
# gradient clipping) of eirnn (bench_train: eir_net_loss_grad + eir_adam_step) against the same
# network, batch and BPTT in PyTorch (bench/peers/torch_train.py, Debian's python3-torch, CPU),
# case by case, the two sides alternating round by round in one run; then one table with the
# medians, the ratios and the targets of issue 15 (eirnn >= 5x PyTorch at N = 50, B = 16 and
# >= 1.5x at N = 512, B = 64; T = 100). Before timing, both sides' first iteration of each
# N = 50 case is compared (loss, gradient, loss after one Adam step): they must agree to 1e-9 in
# float64, or the comparison would not be of the same computation. Not part of the test suite:
# it takes a few minutes and needs a quiet machine to mean anything.
#
# Usage: bench/run_train_bench.sh [BUILD_DIR]          (default: build-bench in the repo)
# Environment: CASES (default "gated-50x16 gated-512x64 gatedfull-50x16 gatedfull-512x64
#              dale-50x16 dale-512x64 rnn-50x16 rnn-512x64"; a case is CLASS-NxB, gatedfull =
#              class gated with a general A), PREC (default "float32,float64"), THREADS (threads
#              of both sides: eir_train_spec.threads and torch.set_num_threads; default 1),
#              ROUNDS (default 3), REPS (timed iterations per side, case and round, default 5;
#              REPS_SMALL, default 40, for N < 256), WARMUP (untimed iterations before them,
#              default 1), T (steps, default 100).
# Results: BUILD_DIR/bench-results/train/{cases/ (the case files), eirnn.jsonl, torch.jsonl,
#          check.txt, combined.json, table.md}.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
OUT=$BUILD/bench-results/train
CASES=${CASES:-"gated-50x16 gated-512x64 gatedfull-50x16 gatedfull-512x64 dale-50x16 dale-512x64
               rnn-50x16 rnn-512x64"}
PREC=${PREC:-float32,float64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-5}
REPS_SMALL=${REPS_SMALL:-40}
WARMUP=${WARMUP:-1}
T=${T:-100}
PY=/usr/bin/python3

if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "run_train_bench: PyTorch is missing: scripts/deps.sh bench installs python3-torch" >&2
    exit 1
fi
# OpenBLAS core-type and cache overrides would make the sides differ from a default install.
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
    if [ -n "${!v+x}" ]; then
        echo "# note: $v=${!v} was set; unset for both sides"
        unset "$v"
    fi
done

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target bench_train -j2 >/dev/null
BENCH=$BUILD/bench/bench_train
mkdir -p "$OUT/cases"
rm -f "$OUT"/*.jsonl "$OUT"/check.txt "$OUT"/cases/*

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# threads $THREADS on both sides; T = $T; $ROUNDS rounds x $REPS iterations ($REPS_SMALL for" \
    "N < 256) after $WARMUP warm-up per side and case"

# The case files (network, batch, eirnn's first iteration) and the numerical check.
"$BENCH" --write "$OUT/cases" --cases "$(echo $CASES | tr ' ' ,)" --prec "$PREC" --T "$T" \
    --threads "$THREADS" 2>/dev/null
check_ok=1
for c in $CASES; do
    case $c in
    *-50x*)
        OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$PY" \
            "$ROOT/bench/peers/torch_train.py" --dir "$OUT/cases" --check "$c" \
            --threads "$THREADS" | tee -a "$OUT/check.txt" || check_ok=0
        ;;
    esac
done
if [ "$check_ok" != 1 ]; then
    echo "run_train_bench: eirnn and PyTorch do not compute the same iteration (above)" >&2
    exit 1
fi

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# timed iterations of a case: REPS_SMALL below N = 256 (an iteration takes milliseconds there)
reps_of() {
    local n=${1#*-}
    n=${n%x*}
    if [ "$n" -lt 256 ]; then echo "$REPS_SMALL"; else echo "$REPS"; fi
}
# OPENBLAS_NUM_THREADS on the eirnn side too: bench_train's openblas_set_num_threads(1) comes
# after OpenBLAS has started its pool, whose idle thread then doubled eirnn's process CPU time
# at N = 50 (not its wall time) on a machine with a free core.
run_eirnn() {
    OPENBLAS_NUM_THREADS=$THREADS "$BENCH" --cases "$1" --prec "$PREC" --T "$T" --threads "$THREADS" --reps "$(reps_of "$1")" \
        --warmup "$WARMUP" >>"$OUT/eirnn.jsonl"
}
run_torch() {
    OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$PY" \
        "$ROOT/bench/peers/torch_train.py" --dir "$OUT/cases" --cases "$1" --prec "$PREC" \
        --threads "$THREADS" --reps "$(reps_of "$1")" --warmup "$WARMUP" \
        --json "$OUT/torch.jsonl" | grep -v '^#'
}
for c in $CASES; do
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            run_eirnn "$c"
            run_torch "$c"
        else
            run_torch "$c"
            run_eirnn "$c"
        fi
    done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$OUT" <<'EOF'
import json, os, statistics, sys

out = sys.argv[1]


def load(name):
    rows = {}
    with open(os.path.join(out, name)) as f:
        for line in f:
            r = json.loads(line)
            rows.setdefault((r["case"], r["precision"]), []).append(r)
    return rows


eng, tor = load("eirnn.jsonl"), load("torch.jsonl")


def target(n, b):
    """Issue 15's targets: >= 5x PyTorch at N = 50, B = 16, >= 1.5x at N = 512, B = 64."""
    return {(50, 16): 5.0, (512, 64): 1.5}.get((n, b))


lines = ["| case | precision | eirnn ms/iteration, wall (CPU) | of which loss + gradient, wall | "
         "PyTorch ms/iteration, wall (CPU) | eirnn faster by, wall | by CPU time | target | "
         "verdict, wall / CPU |",
         "|---|---|---:|---:|---:|---:|---:|---:|---|"]
combined, met, missed = [], {"wall": 0, "CPU": 0}, {"wall": 0, "CPU": 0}
for key in sorted(eng, key=lambda k: (k[0].split("-")[1], k[0], k[1])):
    e, t = eng[key], tor.get(key)
    if not t:
        continue
    # medians over every timed iteration of every round
    ew = statistics.median(x for r in e for x in r["times_s"])
    tw = statistics.median(x for r in t for x in r["times_s"])
    ec = statistics.median(x for r in e for x in r["cpu_s"])
    tc = statistics.median(x for r in t for x in r["cpu_s"])
    eg = statistics.median(x for r in e for x in r["loss_grad_s"])
    n, b = e[0]["N"], e[0]["B"]
    ratio, ratio_cpu = tw / ew, tc / ec
    tg = target(n, b)
    verdict = "–"
    if tg:
        marks = []
        for what, r in (("wall", ratio), ("CPU", ratio_cpu)):
            met[what] += r >= tg
            missed[what] += r < tg
            marks.append("✓" if r >= tg else f"✗ ({r / tg:.2f} of it)")
        verdict = " / ".join(marks)
    lines.append(f"| {key[0]} | {key[1]} | {1e3 * ew:.2f} ({1e3 * ec:.2f}) | {1e3 * eg:.2f} | "
                 f"{1e3 * tw:.2f} ({1e3 * tc:.2f}) | **{ratio:.2f}×** | **{ratio_cpu:.2f}×** | "
                 f"{'≥ %g×' % tg if tg else '–'} | {verdict} |")
    combined.append({"case": key[0], "precision": key[1], "N": n, "B": b, "T": e[0]["T"],
                     "threads": e[0]["threads"], "eirnn_median_s": ew, "eirnn_median_cpu_s": ec,
                     "eirnn_loss_grad_s": eg, "torch_median_s": tw, "torch_median_cpu_s": tc,
                     "torch_forward_s": statistics.median(x for r in t for x in r["forward_s"]),
                     "torch_backward_s": statistics.median(x for r in t for x in r["backward_s"]),
                     "torch_step_s": statistics.median(x for r in t for x in r["step_s"]),
                     "ratio": ratio, "ratio_cpu": ratio_cpu, "target": tg,
                     "samples": [sum(len(r["times_s"]) for r in e),
                                 sum(len(r["times_s"]) for r in t)]})
lines.append("")
lines.append(f"targets met on wall time: {met['wall']}, missed: {missed['wall']}; on CPU time: "
             f"{met['CPU']}, missed: {missed['CPU']} (ratios of the medians; on a loaded machine "
             f"read the CPU ratios)")
table = "\n".join(lines)
print(table)
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(table + "\n")
with open(os.path.join(out, "combined.json"), "w") as f:
    json.dump(combined, f, indent=1)
    f.write("\n")
EOF
