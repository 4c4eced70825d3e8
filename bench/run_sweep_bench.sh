#!/bin/bash
# Sweep benchmark (docs/BENCHMARKS.md, "Sweeps"): a fresh eirnnd (Release build, temporary
# database, port 0) and bench/sweep/bench_sweep.py against it: one sweep of POINTS runs (a seed
# axis; N cells, T = STEPS, B = 1, r recorded once, one metrics window) from its POST to
# "finished", side by side with the same POINTS runs posted one by one by CLIENTS concurrent
# HTTP clients (each posts a run and long-polls it to its end), REPS repetitions each
# (alternating), medians; the engine time of one run (its meta.timings.simulate_s) gives the
# overhead per point. Not part of the test suite; the clients share the machine's cores with
# the daemon.
#
# Usage: bench/run_sweep_bench.sh [BUILD_DIR]          (default: build-bench in the repo)
# Environment: POINTS [1000]  N [100]  STEPS [1000]  REPS [3]  CLIENTS [32]  WORKERS [2]
#              KEEP [0] (1 keeps the temporary directory: database and daemon log)
# Results: the JSON line and a table on stdout; BUILD_DIR/bench-results/sweep.json.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build-bench}" && cd "${1:-$ROOT/build-bench}" && pwd)
POINTS=${POINTS:-1000}
N=${N:-100}
STEPS=${STEPS:-1000}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-32}
WORKERS=${WORKERS:-2}
KEEP=${KEEP:-0}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if [ "$btype" != "Release" ]; then
    echo "run_sweep_bench: $BUILD is a '$btype' build; use a Release build directory" >&2
    exit 1
fi
cmake --build "$BUILD" --target eirnnd eirnn -j2 >/dev/null
EIRNND=$BUILD/server/eirnnd
mkdir -p "$BUILD/bench-results"

TMP=$(mktemp -d "$BUILD/sweep-bench.XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        wait "$PID" || true
    fi
    [ "$KEEP" = 1 ] && echo "# kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

"$EIRNND" --listen 127.0.0.1:0 --db "$TMP/eirnn.db" --workers "$WORKERS" \
    --shutdown-grace 1 >"$TMP/eirnnd.log" 2>&1 &
PID=$!
PORT=
for _ in $(seq 200); do
    PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$TMP/eirnnd.log" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/eirnnd.log" >&2; exit 1; }
    sleep 0.05
done
[ -n "$PORT" ] || { echo "run_sweep_bench: eirnnd did not start" >&2; cat "$TMP/eirnnd.log" >&2; exit 1; }

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD)," \
    "eirnnd --workers $WORKERS"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$ROOT/bench/sweep/bench_sweep.py" --url "http://127.0.0.1:$PORT" --points "$POINTS" \
    --n "$N" --steps "$STEPS" --reps "$REPS" --clients "$CLIENTS" --workers "$WORKERS" --pid "$PID" \
    --eirnn "$BUILD/clients/cli/eirnn" \
    | tee "$BUILD/bench-results/sweep.json"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$BUILD/bench-results/sweep.json" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"\n{r['points']} runs of N = {r['n']}, T = {r['steps']}, B = 1; {r['reps']} repetitions, "
      f"medians; eirnnd --workers {r['workers']}\n")
print("| how | wall s (each repetition) | median s | runs/s | overhead per point over the engine |")
print("|---|---|---:|---:|---:|")
for what, key, ov in (("one sweep (POST, long polls, then its table)", "sweep", "sweep_overhead_per_point_ms"),
                      (f"{r['points']} runs, {r['clients']} concurrent HTTP clients", "single",
                       "single_overhead_per_point_ms")):
    each = ", ".join(f"{v:.2f}" for v in r[f"{key}_s"])
    med = r[f"median_{key}_s"]
    print(f"| {what} | {each} | {med:.2f} | {r['points'] / med:.0f} | {r[ov]:.2f} ms |")
if "median_sweep_daemon_cpu_s" in r:
    print(f"\neirnnd's CPU time (user + system) for the {r['points']} runs, median: sweep "
          f"{r['median_sweep_daemon_cpu_s']:.2f} s ({r['sweep_cpu_overhead_per_point_ms']:.2f} ms per point "
          f"beyond the engine's own CPU time), one by one {r['median_single_daemon_cpu_s']:.2f} s "
          f"({r['single_cpu_overhead_per_point_ms']:.2f} ms per point); the 32 clients used "
          f"{r['single_client_cpu_s']:.2f} s of CPU themselves. eirnnd's threads waited for a CPU "
          f"(runnable, /proc/PID/task/*/schedstat) {', '.join(f'{v:.1f}' for v in r['sweep_daemon_runq_wait_s'])} s "
          f"during the sweeps, {', '.join(f'{v:.1f}' for v in r['single_daemon_runq_wait_s'])} s during the runs one by one.")
print(f"\nengine alone (`eirnn simulate` of one run of {r['points']} x {r['steps']} steps, offline): "
      f"{1000 * r['engine_offline_cpu_s_per_run']:.3f} ms of CPU per {r['steps']} steps "
      f"({1000 * r['engine_offline_wall_s_per_run']:.3f} ms wall).")
print(f"\nengine time of one run (median meta.timings.simulate_s): "
      f"{1000 * r['engine_simulate_s_per_run']:.3f} ms; all {r['points']} on {r['workers']} "
      f"workers: {r['engine_floor_s']:.2f} s. Runs one by one take {r['single_over_sweep']:.2f}x "
      f"the sweep's time. Sweep POST (check and queue all points): "
      f"{', '.join(f'{v:.3f}' for v in r['sweep_post_s'])} s; its table: "
      f"{', '.join(f'{v:.3f}' for v in r['sweep_table_s'])} s.")
PYEOF
