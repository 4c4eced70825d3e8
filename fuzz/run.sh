#!/usr/bin/env bash
# The libFuzzer harnesses of fuzz/ (docs/RELIABILITY.md, "Fuzzing"), built with clang and
# AddressSanitizer + UndefinedBehaviorSanitizer into their own build tree.
#
#   fuzz/run.sh short [BUILD_DIR]            every harness over its seed corpus (fuzz/corpus/<h>),
#                                            then FUZZ_SHORT_SECONDS (default 20) of mutation,
#                                            one after the other; the default test command runs
#                                            this (ctest's fuzz/short)
#   fuzz/run.sh long [SECONDS] [BUILD_DIR]   every harness for SECONDS (default 3600) each,
#                                            FUZZ_JOBS (default: the number of CPUs) at a time;
#                                            what they find is kept in BUILD_DIR/corpus/<h> and
#                                            used again by the next long run
#   fuzz/run.sh build [BUILD_DIR]            build only
#
# BUILD_DIR defaults to build-fuzz/ at the top of the source tree; FUZZ_CC picks the compiler
# (default clang, else clang-14); FUZZ_HARNESSES="npy csv" runs a subset. Prints the executions
# of each harness and the total. Exits 0 when no harness found anything; 1 when one crashed,
# leaked, hung (FUZZ_TIMEOUT, default 20 s per input), ran out of memory or tripped a sanitizer
# (the input is saved as BUILD_DIR/artifacts/<h>-crash-*, the log as BUILD_DIR/logs/<h>.log);
# also 1 when clang or libFuzzer is not installed (scripts/deps.sh test installs them: a missing
# tool is a failure, never a skip).
#
# A finding: minimise it with BUILD_DIR/fuzz_<h> -minimize_crash=1 -runs=10000 <input>, add the
# result to fuzz/corpus/<h>/ as crash-<what>.<ext> (kept as a regression input) and fix the code.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-short}
case "$mode" in
  short|build) build=${2:-$src/build-fuzz} ;;
  long) seconds=${2:-3600}; build=${3:-$src/build-fuzz} ;;
  *) echo "usage: fuzz/run.sh short [BUILD_DIR] | long [SECONDS] [BUILD_DIR] | build [BUILD_DIR]" >&2
     exit 2 ;;
esac
harnesses=${FUZZ_HARNESSES:-model_json run_json sweep training array npy csv http}

cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
  for c in clang clang-14; do
    if command -v "$c" >/dev/null 2>&1; then cc=$(command -v "$c"); break; fi
  done
fi
if [ -z "$cc" ]; then
  echo "fuzz: FAILED: clang is not installed (scripts/deps.sh test installs clang libclang-rt-14-dev)" >&2
  exit 1
fi

mkdir -p "$build"
if ! cmake -S "$src/fuzz" -B "$build" -DCMAKE_C_COMPILER="$cc" -DEIRNN_FUZZ=ON \
       >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  echo "fuzz: cmake failed" >&2
  exit 1
fi
if grep -q "cannot link -fsanitize=fuzzer" "$build/configure.log"; then
  echo "fuzz: FAILED: $cc has no libFuzzer (scripts/deps.sh test installs libclang-rt-14-dev)" >&2
  exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)
if ! cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1; then
  tail -n 40 "$build/build.log" >&2
  echo "fuzz: build failed" >&2
  exit 1
fi
[ "$mode" = build ] && { echo "fuzz: harnesses built in $build"; exit 0; }

export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/artifacts" "$build/logs"

dict_of() {
  case "$1" in
    npy) echo "$src/fuzz/npy.dict" ;;
    csv) echo "$src/fuzz/csv.dict" ;;
    http) echo "$src/fuzz/http.dict" ;;
    *) echo "$src/fuzz/json.dict" ;;
  esac
}

# run_one HARNESS SECONDS WORKDIR: fuzz; the log goes to logs/HARNESS.log.
run_one() {
  local h=$1 secs=$2 work=$3 maxlen=16384 extra=()
  case "$h" in
    npy|csv) maxlen=4096 ;;
    # The in-process daemon logs a line per request on stderr: closed (libFuzzer keeps its own
    # and the sanitizers' reports); its threads make per-input leak checks meaningless, so leaks
    # are checked once, at exit (LeakSanitizer).
    http) maxlen=65536 extra=(-close_fd_mask=2 -detect_leaks=0) ;;
  esac
  mkdir -p "$work"
  "$build/fuzz_$h" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-20}" -rss_limit_mb=2048 \
    "${extra[@]}" \
    -max_len="$maxlen" -dict="$(dict_of "$h")" -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$h-" "$work" "$src/fuzz/corpus/$h" \
    >"$build/logs/$h.log" 2>&1
}

start=$(date +%s)
declare -A status
if [ "$mode" = short ]; then
  secs=${FUZZ_SHORT_SECONDS:-20}
  for h in $harnesses; do
    rm -rf "$build/work/$h"
    run_one "$h" "$secs" "$build/work/$h"
    status[$h]=$?
  done
else
  max=${FUZZ_JOBS:-$jobs}
  declare -A pid_of
  for h in $harnesses; do
    while [ "$(jobs -rp | wc -l)" -ge "$max" ]; do wait -n; done
    run_one "$h" "$seconds" "$build/corpus/$h" &
    pid_of[$h]=$!
  done
  for h in $harnesses; do
    wait "${pid_of[$h]}"
    status[$h]=$?
  done
fi

total=0
failed=0
printf '%-12s %14s %8s %10s  %s\n' harness executions seconds exec/s result
for h in $harnesses; do
  log=$build/logs/$h.log
  runs=$(grep -Eo '^Done [0-9]+ runs in [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
  secs=$(grep -Eo '^Done [0-9]+ runs in [0-9]+' "$log" | tail -n 1 | awk '{print $5}')
  if [ -z "$runs" ]; then # stopped by a finding: the last status line has the count
    runs=$(grep -Eo '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    secs=""
  fi
  runs=${runs:-0}
  total=$((total + runs))
  rate=""
  [ -n "$secs" ] && [ "$secs" -gt 0 ] && rate=$((runs / secs))
  if [ "${status[$h]}" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit ${status[$h]}; log $log)"
    failed=1
  fi
  printf '%-12s %14s %8s %10s  %s\n' "$h" "$runs" "${secs:--}" "${rate:--}" "$result"
done
printf '%-12s %14s %8s\n' total "$total" "$(( $(date +%s) - start ))"
if [ "$failed" -ne 0 ]; then
  for h in $harnesses; do
    [ "${status[$h]}" -eq 0 ] && continue
    echo "---- $h: end of $build/logs/$h.log" >&2
    grep -v '^#[0-9]' "$build/logs/$h.log" | tail -n 60 >&2
  done
  echo "fuzz: FAILED: a harness found a crash, leak, hang or sanitizer report" >&2
  exit 1
fi
echo "fuzz: $total executions, no crash, leak, hang or sanitizer report"
