#!/usr/bin/env bash
# Load test of eirnnd (docs/RELIABILITY.md, "Load").
#
#   tests/load/load.sh [--short] [--duration SECONDS] [--connections N] [--report FILE] EIRNND
#
# Starts EIRNND on 127.0.0.1 port 0 with a temporary database (--workers 1 and a small
# --queue-limit, so that submissions outrun the worker and the bounded queue answers 503), then:
#  1. wrk (Debian's) with bench/load/mix.lua at N connections (256) for the duration (60 s; 10 s
#     with --short): run submissions, status polls, long polls (?wait=2), result downloads
#     (.npy, JSON and CSV slices), result lists, run lists and /healthz;
#  2. the daemon's resident memory (VmRSS of /proc/PID/status) every second meanwhile;
#  3. tests/load/slow_clients.py: 100 connections trickling headers and 100 trickling a body
#     (200, under --max-connections) while a normal client measures its latency; then 50 slow
#     readers of a 16 MB result (25 reading nothing, 25 a few bytes at a time) twice: alone
#     (the daemon's RSS, normal latency), and while runs are written (the -wal file).
# Checks: zero 5xx other than "503 queue-full" with a Retry-After (counted apart, and required
# to appear), zero socket errors (connect, read, write, timeouts: dropped connections), the RSS
# of each of the last ten seconds (five with --short) within 10 % of the RSS at second 2, every
# slow client and slow reader closed by the daemon within --connection-timeout plus a margin,
# normal requests unharmed, the RSS bounded per slow reader, the WAL checkpointed while slow
# downloads are open, /healthz answering and a clean exit (0) at SIGTERM. Exit 0 on success, 1
# on a failed check or a missing wrk (scripts/deps.sh test installs it). The 60 s run is not part of ctest
# (load/short is the 10 s version).
#
# Sanitizer builds (scripts/sanitize.sh): the waits and time bounds (the start, wrk's request
# timeout, the margin of the slow clients' closing, the normal clients' p99 bound) are
# multiplied by EIRNN_TEST_TIME_SCALE (default 1), and the RSS per slow reader is not bounded
# (shadow memory and ASan's quarantine say nothing of the daemon's own memory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=60 conns=256 report="" short=0 bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --short) short=1; duration=10; shift ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) bin=$1; shift ;;
  esac
done
bin=${bin:-${EIRNND_BIN:-}}
[ -n "$bin" ] && [ -x "$bin" ] || { echo "load.sh: give the eirnnd binary" >&2; exit 2; }
command -v wrk >/dev/null || { echo "load.sh: FAILED: wrk is not installed (scripts/deps.sh test installs it)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "load.sh: FAILED: python3 is not installed (scripts/deps.sh test installs it)" >&2; exit 1; }

conn_timeout=5
[ "$short" = 1 ] && conn_timeout=3
scale=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from eirnnd_http import time_scale
print(time_scale())' "$root/tests/common")
# scaled SECONDS: SECONDS times the scale, rounded up to a whole number
scaled() {
  python3 -c 'import math, sys; print(math.ceil(float(sys.argv[1]) * float(sys.argv[2])))' "$1" "$scale"
}
check_rss=1
if grep -q -a -e __asan_init -e __tsan_init "$bin"; then
  check_rss=0
  echo "load.sh: sanitizer build: the RSS per slow reader is not bounded" >&2
fi
if grep -q -a -e __asan_init "$bin"; then
  # AddressSanitizer keeps freed memory in a quarantine of 256 MB by default, so the daemon's RSS
  # climbs for as long as that fills, at a pace set by the machine's load: the plateau check
  # would measure ASan, not eirnnd. A small quarantine keeps the check about our memory.
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
  echo "load.sh: AddressSanitizer build: quarantine_size_mb=16 for the RSS plateau check" >&2
fi
tmp=$(mktemp -d /tmp/eirnn-load-XXXXXX)
pid=""
sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

env -u EIRNN_TOKEN OPENBLAS_NUM_THREADS=1 "$bin" --listen 127.0.0.1:0 --db "$tmp/eirnn.db" \
  --workers 1 --http-threads 2 --queue-limit 32 --long-poll-max 2 \
  --connection-timeout "$conn_timeout" --max-connections 1024 2> "$tmp/daemon.log" &
pid=$!
port=""
for _ in $(seq "$(scaled 100)"); do
  port=$(grep -m1 '"listening"' "$tmp/daemon.log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "load.sh: eirnnd did not start" >&2; cat "$tmp/daemon.log" >&2; exit 1; }
base="http://127.0.0.1:$port"

py_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
model=$(curl -sf -X POST "$base/v1/models" -d @"$root/schema/examples/requests/model_gated_explicit.json" | py_field id)
done_run=$(curl -sf -X POST "$base/v1/runs" \
  -d "{\"model_id\": \"$model\", \"dt\": 0.1, \"inputs\": {\"steps\": 200, \"trials\": 2}, \"record\": {\"vars\": [\"V\", \"r\"]}}" | py_field id)
st=$(curl -sf "$base/v1/runs/$done_run?wait=30" | py_field status)
[ "$st" = succeeded ] || { echo "load.sh: the setup run ended $st" >&2; exit 1; }

# RSS every second while wrk runs.
( i=0; while kill -0 "$pid" 2>/dev/null; do
    echo "$i $(awk '/^VmRSS:/ {print $2}' /proc/$pid/status)"; i=$((i + 1)); sleep 1
  done ) > "$tmp/rss.txt" &
sampler=$!
echo "load.sh: wrk -c$conns -d${duration}s against eirnnd (pid $pid, port $port)" >&2
wrk -t2 -c"$conns" -d"${duration}s" --timeout "$(scaled 15)s" -s "$root/bench/load/mix.lua" "$base" \
  -- "$model" "$done_run" 2 > "$tmp/wrk.txt" 2>&1 || true
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""
cat "$tmp/wrk.txt" >&2

rss_args=()
[ "$check_rss" = 1 ] && rss_args=(--pid "$pid")
python3 "$here/slow_clients.py" --port "$port" --run-id "$done_run" --timeout "$conn_timeout" \
  --model-id "$model" "${rss_args[@]}" --db "$tmp/eirnn.db" \
  --margin "$(scaled 3)" --max-p99-ms "$(scaled 500)" \
  > "$tmp/slow.txt" 2> "$tmp/slow.err" && slow_rc=0 || slow_rc=$?
cat "$tmp/slow.txt" "$tmp/slow.err" >&2

health=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true)
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""

python3 - "$tmp" "$duration" "$conns" "$health" "$rc" "$slow_rc" "$report" <<'PY'
import json, re, sys
tmp, duration, conns, health, exit_rc, slow_rc, report = sys.argv[1:]
wrk = open(tmp + "/wrk.txt").read()
m = re.search(r"LOADSTATS (\{.*\})", wrk)
bad = []
s = json.loads(m.group(1)) if m else {}
if not m:
    bad.append("wrk printed no LOADSTATS line")
slow = {}
for line in open(tmp + "/slow.txt"):
    if line.startswith("SLOWSTATS "):
        slow = json.loads(line[10:])
rss = [int(l.split()[1]) for l in open(tmp + "/rss.txt") if len(l.split()) == 2]
# the daemon's own request log: every status it sent
log_status = {}
for line in open(tmp + "/daemon.log"):
    if '"event":"request"' in line:
        st = json.loads(line)["status"]
        log_status[st] = log_status.get(st, 0) + 1
five = {k: v for k, v in log_status.items() if k >= 500}
n503 = s.get("queue_full_ok", 0)
for k in ("err_connect", "err_read", "err_write", "err_timeout"):
    if s.get(k, 0):
        bad.append("%s = %d (dropped connections)" % (k, s[k]))
for k in ("other_5xx", "unavailable_503", "queue_full_no_retry_after"):
    if s.get(k, 0):
        bad.append("%s = %d" % (k, s[k]))
if n503 == 0:
    bad.append("no 503 queue-full answer although submissions outran the queue limit")
# wrk stops counting at the deadline: the answers in flight then (at most one per connection)
# are in the daemon's log only; slow_clients.py counts the queue-full answers it got itself.
if set(five) - {503} or not n503 <= five.get(503, 0) <= n503 + int(conns) + slow.get("submit_503", 0):
    bad.append("the daemon logged 5xx answers %s, wrk counted %d queue-full" % (five, n503))
rss_stats = {}
window = 10 if float(duration) >= 30 else 5  # the last ten seconds (five with --short)
if len(rss) >= window + 3:
    b = rss[2]
    last = rss[-window:]
    dev = max(abs(x - b) for x in last) / b
    rss_stats = {"rss_kb_second_2": b, "rss_window_s": window, "rss_kb_last_min": min(last), "rss_kb_last_max": max(last),
                 "rss_kb_peak": max(rss), "rss_max_deviation_pct": round(100 * dev, 1),
                 "rss_samples": len(rss)}
    if dev > 0.10:
        bad.append("RSS of the last %d seconds deviates %.1f %% from second 2 (%d kB): %s"
                   % (window, 100 * dev, b, last))
else:
    bad.append("only %d RSS samples" % len(rss))
daemon_log = open(tmp + "/daemon.log", errors="replace").read()
for marker in ("Sanitizer", "runtime error:"):
    if marker in daemon_log:
        bad.append("the daemon's stderr holds a %s report" % marker)
if slow_rc != "0":
    bad.append("slow clients check failed")
if health != "200":
    bad.append("/healthz answered %s after the load" % health)
if exit_rc != "0":
    bad.append("eirnnd exited %s at SIGTERM" % exit_rc)
out = {"connections": int(conns), "duration_s": s.get("duration_s"), "requests": s.get("requests"),
       "requests_per_s": round(s.get("requests", 0) / max(s.get("duration_s", 1), 1e-9), 1),
       "submitted_202": s.get("status_202", 0), "queue_full_503_with_retry_after": n503,
       "other_5xx": sum(v for k, v in five.items() if k != 503),
       "socket_errors": sum(s.get(k, 0) for k in ("err_connect", "err_read", "err_write", "err_timeout")),
       "status_200": s.get("status_200", 0),
       "latency_p50_ms": s.get("lat_p50_ms"), "latency_p99_ms": s.get("lat_p99_ms"),
       "sent": {k[5:]: v for k, v in s.items() if k.startswith("sent_")}}
out.update(rss_stats)
out["rss_kb_series"] = rss
out["slow_clients"] = slow
print("LOAD " + json.dumps(out))
if report:
    with open(report, "w") as f:
        json.dump(out, f, indent=1)
for b in bad:
    print("load.sh: FAIL: " + b, file=sys.stderr)
print("load.sh: %s" % ("FAILED" if bad else "passed"), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
