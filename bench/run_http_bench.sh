#!/bin/bash
# Service benchmark: a fresh eirnnd (Release build, temporary database on the same file system
# as the build directory) measured over HTTP on loopback, then one table:
#   1. small runs per second end to end (bench_small_runs: N=100, T=100, B=1, record r;
#      submit + long-poll wait + .npy fetch, CONCURRENCY runs in flight);
#   2. GET /v1/runs/{id} requests per second and latency percentiles with wrk (64 connections);
#   3. .npy download throughput of one large result with curl to /dev/null.
# Each measurement is repeated REPS times (downloads DL_REPS times after one warm-up) and the
# median is reported, with the load average next to it. Not part of the test suite; the
# clients run on the same machine as the daemon, so they share its cores.
#
# Usage: bench/run_http_bench.sh [BUILD_DIR]           (default: build-bench in the repo)
# Environment (defaults in brackets):
#   REPS [3]  RUNS [3000]  WARMUP [300]  CONCURRENCY [32]      small-run benchmark
#   WRK_SECONDS [10]  WRK_CONNECTIONS [64]  WRK_THREADS [2]      status benchmark
#   DL_N [500]  DL_STEPS [80000]  DL_REPS [5]                    download: B=1 float64 r of
#                                                                DL_N x DL_STEPS (320 MB)
#   EIRNND [BUILD_DIR/server/eirnnd]   daemon binary (e.g. an older build to compare)
#   DAEMON_ARGS []   extra eirnnd flags (e.g. "--workers 2 --http-threads 4")
#   KEEP [0]         1 keeps the temporary directory (database, daemon log, JSON results)
# Results: the table on stdout; JSON and logs in BUILD_DIR/http-bench.XXXXXX (removed unless
# KEEP=1; the table is also written to BUILD_DIR/http-bench-table.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build-bench}" && cd "${1:-$ROOT/build-bench}" && pwd)
REPS=${REPS:-3}
RUNS=${RUNS:-3000}
WARMUP=${WARMUP:-300}
CONCURRENCY=${CONCURRENCY:-32}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
DL_N=${DL_N:-500}
DL_STEPS=${DL_STEPS:-80000}
DL_REPS=${DL_REPS:-5}
KEEP=${KEEP:-0}
DAEMON_ARGS=${DAEMON_ARGS:-}
PY=/usr/bin/python3

for tool in wrk curl "$PY"; do
    command -v "$tool" >/dev/null || { echo "run_http_bench: $tool is needed" >&2; exit 1; }
done

# ---- build (Release) -----------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if [ "$btype" != "Release" ]; then
    echo "run_http_bench: $BUILD is a '$btype' build; use a Release build directory" >&2
    exit 1
fi
cmake --build "$BUILD" --target eirnnd bench_small_runs -j2 >/dev/null
EIRNND=${EIRNND:-$BUILD/server/eirnnd}
SMALL=$BUILD/bench/bench_small_runs
[ -x "$EIRNND" ] || { echo "run_http_bench: no daemon at $EIRNND" >&2; exit 1; }
[ -x "$SMALL" ] || { echo "run_http_bench: bench_small_runs was not built (libcurl?)" >&2; exit 1; }

# ---- fresh daemon on a temporary database ---------------------------------------------------
DIR=$(mktemp -d "$BUILD/http-bench.XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null || true
    fi
    if [ "$KEEP" = 1 ]; then echo "# kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
FS=$(findmnt -n -o FSTYPE,SOURCE -T "$DIR" 2>/dev/null || df -T "$DIR" | awk 'NR==2{print $2, $1}')

# shellcheck disable=SC2086  # DAEMON_ARGS is a list of flags
"$EIRNND" --listen 127.0.0.1:0 --db "$DIR/eirnn.db" $DAEMON_ARGS 2>"$DIR/eirnnd.log" &
PID=$!
PORT=
for _ in $(seq 200); do
    PORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$DIR/eirnnd.log" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$DIR/eirnnd.log" >&2; exit 1; }
    sleep 0.05
done
[ -n "$PORT" ] || { echo "run_http_bench: eirnnd did not start" >&2; exit 1; }
BASE=http://127.0.0.1:$PORT
WORKERS=$(sed -n 's/.*"event":"listening".*"workers":\([0-9]*\).*/\1/p' "$DIR/eirnnd.log")
HTTP_THREADS=$(sed -n 's/.*"event":"listening".*"http_threads":\([0-9]*\).*/\1/p' \
    "$DIR/eirnnd.log")

loadavg() { cut -d' ' -f1 /proc/loadavg; }
# CPU seconds (user + system) the daemon has used so far: figures per request or per GB are
# far less sensitive to other load on the machine than rates.
daemon_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / hz}' "/proc/$PID/stat"; }

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(uname -r)," \
    "$(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# eirnnd $EIRNND (git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo ?))," \
    "workers $WORKERS, http threads $HTTP_THREADS ${DAEMON_ARGS:+($DAEMON_ARGS)}"
echo "# database $DIR/eirnn.db on $FS"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. small runs per second ---------------------------------------------------------------
MODEL=
for i in $(seq "$REPS"); do
    "$SMALL" --url "$BASE" --runs "$RUNS" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
        --server-pid "$PID" ${MODEL:+--model-id "$MODEL"} --json "$DIR/small-$i.json" \
        >"$DIR/small-$i.txt" || { cat "$DIR/small-$i.txt" >&2; exit 1; }
    MODEL=$(sed -n 's/.*"model_id":"\([^"]*\)".*/\1/p' "$DIR/small-$i.json")
    echo "# small runs $i/$REPS: $(sed -n 's/.*throughput: //p' "$DIR/small-$i.txt")"
done

# ---- 2. GET /v1/runs/{id} with wrk ----------------------------------------------------------
RUN=$(curl -sf "$BASE/v1/runs?status=succeeded&limit=1" | sed -n 's/.*"items":\[{"id":"\([^"]*\)".*/\1/p')
[ -n "$RUN" ] || { echo "run_http_bench: no finished run to poll" >&2; exit 1; }
for i in $(seq "$REPS"); do
    loadavg >"$DIR/wrk-$i.load"
    daemon_cpu >"$DIR/wrk-$i.cpu"
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency "$BASE/v1/runs/$RUN" \
        >"$DIR/wrk-$i.txt"
    daemon_cpu >>"$DIR/wrk-$i.cpu"
    echo "# status $i/$REPS: $(sed -n 's/^Requests\/sec: *//p' "$DIR/wrk-$i.txt") requests/s"
done

# ---- 3. large .npy download -----------------------------------------------------------------
BIG_MODEL=$(curl -sf -H 'Content-Type: application/json' "$BASE/v1/models" -d @- <<EOF | sed -n 's/^{"id":"\([^"]*\)".*/\1/p'
{"name": "bench-download", "class": "gated",
 "populations": {"E": $((DL_N * 4 / 5)), "I": $((DL_N - DL_N * 4 / 5))}, "n_inputs": 2,
 "activation": {"name": "relu"}, "leak": 1.0,
 "recurrent": {"generate": {"seed": 7, "p": {"EE": 0.2, "EI": 0.5, "IE": 0.5, "II": 0.5},
   "dist": "lognormal", "mean": {"EE": 0.5, "EI": 1.0, "IE": 0.5, "II": 1.0}, "cv": 0.5,
   "balance": true, "spectral_radius": 0.9, "self_connections": false},
   "A": {"E": 0.5, "I": 1.0}},
 "input": {"P": {"generate": {"seed": 8, "p": {"E": 0.5, "I": 0.2}, "dist": "constant",
   "mean": 1.0}}},
 "noise": {"sigma": 0.1}}
EOF
)
[ -n "$BIG_MODEL" ] || { echo "run_http_bench: cannot create the download model" >&2; exit 1; }
BIG_RUN=$(curl -sf -H 'Content-Type: application/json' "$BASE/v1/runs" -d "{\"model_id\": \"$BIG_MODEL\",
    \"dt\": 0.1, \"inputs\": {\"steps\": $DL_STEPS, \"trials\": 1},
    \"record\": {\"vars\": [\"r\"], \"every\": 1}, \"seed\": 1}" |
    sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
[ -n "$BIG_RUN" ] || { echo "run_http_bench: cannot submit the download run" >&2; exit 1; }
t0=$(date +%s.%N)
for _ in $(seq 60); do
    st=$(curl -sf "$BASE/v1/runs/$BIG_RUN?wait=30" | sed -n 's/^{[^{]*"status":"\([a-z]*\)".*/\1/p')
    case $st in queued | running) ;; *) break ;; esac
done
t1=$(date +%s.%N)
[ "$st" = succeeded ] || { echo "run_http_bench: the download run ended $st" >&2; exit 1; }
echo "# download run: $DL_N x $DL_STEPS float64 r, simulated and stored in" \
    "$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s"
URL="$BASE/v1/runs/$BIG_RUN/results/r?format=npy"
for i in $(seq 0 "$DL_REPS"); do # 0 is a warm-up
    loadavg >"$DIR/dl-$i.load"
    daemon_cpu >"$DIR/dl-$i.cpu"
    curl -sf -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$URL" \
        >"$DIR/dl-$i.txt"
    daemon_cpu >>"$DIR/dl-$i.cpu"
    [ "$i" = 0 ] || echo "# download $i/$DL_REPS: $(awk '{printf "%.0f MB in %.3f s", $2/1e6, $3}' \
        "$DIR/dl-$i.txt")"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- table ----------------------------------------------------------------------------------
"$PY" - "$DIR" "$REPS" "$DL_REPS" "$CONCURRENCY" "$WRK_CONNECTIONS" <<'EOF' | tee "$BUILD/http-bench-table.md"
import json, re, statistics, sys

d, reps, dl_reps, conc, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
med = statistics.median


def span(xs, fmt):
    return f"{fmt.format(min(xs))}–{fmt.format(max(xs))}"


small = [json.load(open(f"{d}/small-{i}.json")) for i in range(1, reps + 1)]
rates = [s["runs_per_s"] for s in small]
errors = sum(s["errors"] for s in small)
p50 = [s["total_ms"]["p50"] for s in small]
p99 = [s["total_ms"]["p99"] for s in small]
srv_cpu = [s.get("server_cpu_ms_per_run", float("nan")) for s in small]
cli_cpu = [s["client_cpu_ms_per_run"] for s in small]
small_load = [s["loadavg_before"] for s in small]


def cpu_used(path):
    a, b = (float(x) for x in open(path).read().split())
    return b - a


def ms(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


wrk = []
for i in range(1, reps + 1):
    t = open(f"{d}/wrk-{i}.txt").read()
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
    lat = {p: ms(re.search(rf"^\s*{p}%\s+(\S+)", t, re.M).group(1)) for p in (50, 99)}
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t)
    errs = re.search(r"Socket errors:.*", t)
    nreq = int(re.search(r"(\d+) requests in", t).group(1))
    wrk.append((rps, lat[50], lat[99], int(bad.group(1)) if bad else 0, errs is not None,
                float(open(f"{d}/wrk-{i}.load").read()), cpu_used(f"{d}/wrk-{i}.cpu") / nreq * 1e6))

dl = []
for i in range(1, dl_reps + 1):
    code, size, secs = open(f"{d}/dl-{i}.txt").read().split()
    dl.append((int(code), int(size), float(secs), float(open(f"{d}/dl-{i}.load").read()),
               cpu_used(f"{d}/dl-{i}.cpu") / (int(size) / 1e9)))
gbps = [size / secs / 1e9 for code, size, secs, *_ in dl]

ok = lambda b: "met" if b else "missed"
rows = [
    ("small runs/s end to end (N=100, T=100, B=1, r; submit + wait + fetch, "
     f"{conc} in flight)", f"{med(rates):.0f}", span(rates, "{:.0f}"), "≥ 1000",
     ok(med(rates) >= 1000), span(small_load, "{:.2f}")),
    ("  run latency p50 / p99 (ms)", f"{med(p50):.1f} / {med(p99):.1f}",
     f"{span(p50, '{:.1f}')} / {span(p99, '{:.1f}')}", "", "", ""),
    ("  daemon CPU per run (ms); client CPU per run (ms)",
     f"{med(srv_cpu):.2f}; {med(cli_cpu):.2f}", f"{span(srv_cpu, '{:.2f}')}; {span(cli_cpu, '{:.2f}')}",
     "", "", ""),
    (f"GET /v1/runs/{{id}} requests/s (wrk, {conns} connections)", f"{med(w[0] for w in wrk):.0f}",
     span([w[0] for w in wrk], "{:.0f}"), "≥ 20000", ok(med(w[0] for w in wrk) >= 20000),
     span([w[5] for w in wrk], "{:.2f}")),
    ("  latency p50 / p99 (ms)", f"{med(w[1] for w in wrk):.2f} / {med(w[2] for w in wrk):.2f}",
     f"{span([w[1] for w in wrk], '{:.2f}')} / {span([w[2] for w in wrk], '{:.2f}')}",
     "p99 ≤ 5 ms", ok(med(w[2] for w in wrk) <= 5), ""),
    ("  daemon CPU per request (µs)", f"{med(w[6] for w in wrk):.1f}",
     span([w[6] for w in wrk], "{:.1f}"), "", "", ""),
    (f".npy download, {dl[0][1] / 1e6:.0f} MB (curl → /dev/null), GB/s", f"{med(gbps):.2f}",
     span(gbps, "{:.2f}"), "≥ 1", ok(med(gbps) >= 1), span([x[3] for x in dl], "{:.2f}")),
    ("  daemon CPU per GB (s)", f"{med(x[4] for x in dl):.2f}", span([x[4] for x in dl], "{:.2f}"),
     "", "", ""),
]
print(f"| metric | median of {reps} ({dl_reps} downloads) | range | target | | load average |")
print("|---|---:|---:|---:|---|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
problems = []
if errors:
    problems.append(f"{errors} small runs failed")
if any(w[3] for w in wrk):
    problems.append(f"wrk saw non-2xx answers: {[w[3] for w in wrk]}")
if any(w[4] for w in wrk):
    problems.append("wrk reported socket errors")
if any(code != 200 for code, *_ in dl):
    problems.append("a download did not answer 200")
for p in problems:
    print(f"\nWARNING: {p}")
EOF
