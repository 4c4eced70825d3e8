#!/usr/bin/env bash
# Sanitizer and memcheck runs of the test suite (docs/RELIABILITY.md, "Sanitizers"). Each mode
# builds its own Debug tree and exits non-zero on a failing test or on any sanitizer or
# valgrind report, including reports of the daemons the API tests start (every report is
# written to a file per process, and the files are checked after the run).
#
#   scripts/sanitize.sh asan      ASan + UBSan + LeakSanitizer, tree build-asan/: the whole
#                                 suite but the slow checks (schema/validate, fuzz/short, tests
#                                 labelled slow), the store, API and CLI tests on PostgreSQL
#                                 included (server/pg/, api/pg/, cli/pg/, on the throwaway
#                                 cluster of the ctest fixture pg in build-asan/pg-cluster);
#                                 part of the default test command (scripts/test.sh)
#   scripts/sanitize.sh tsan      ThreadSanitizer (EIRNN_TSAN), tree build-tsan/: the same tests
#   scripts/sanitize.sh valgrind  valgrind memcheck, tree build-valgrind/ (no sanitizer, -O1):
#                                 the unit tests of engine/ and schema/ run under valgrind,
#                                 then the API tests with the daemon under valgrind
#                                 (EIRNN_API_WRAPPER), on SQLite and on PostgreSQL (api/pg/)
#   scripts/sanitize.sh all       the three, one after the other
#
# Time: the tests' waits, deadlines and upper time bounds are multiplied by the environment
# variable EIRNN_TEST_TIME_SCALE (a positive number, default 1; read by the API harness, the
# CLI, store and Python tests: tests/common/eir_time_scale.h, time_scale() in
# tests/common/eirnnd_http.py and tests/reliability/eirnnd_proc.py); lower bounds ("it took at
# least x s") are not. This script sets it per mode unless the caller has: asan 2, tsan 10,
# valgrind 40 (the engine is ~12 times slower than Release in the ASan tree, ~30 times under
# TSan, ~120 times under valgrind; the bounds have headroom at 1). Each tree is also configured with
# EIRNN_TEST_TIMEOUT_FACTOR (a CMake cache variable multiplying every ctest TIMEOUT): asan 1,
# tsan 2, valgrind 4.
#
# SANITIZE_BUILD_DIR overrides the tree of a single mode; SANITIZE_TESTS (a ctest -R regex)
# runs a subset. ctest adds the fixture pg (pg/start before, pg/stop after: tests/pg/cluster.sh)
# to any selection holding a test on PostgreSQL; PostgreSQL itself runs uninstrumented. OpenBLAS runs single-threaded in every test (OPENBLAS_NUM_THREADS=1, set by
# the tests and here). Suppressions (scripts/sanitizers/*.supp) are for reports inside
# third-party libraries only, each with its reason.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
jobs=$(nproc 2>/dev/null || echo 2)
supp=$src/scripts/sanitizers
# Tests that gain nothing from a sanitizer and take long are left out: the node-based schema
# validation, the fuzzers (built with sanitizers of their own) and every test with the ctest
# label "slow" (set_tests_properties(... LABELS slow)).
slow='^(schema/validate|fuzz/short)$'
export OPENBLAS_NUM_THREADS=1
# The caller's EIRNN_TEST_TIME_SCALE, if any, wins over each mode's own (each run_* sets it
# for its own tests only: local -x).
user_scale=${EIRNN_TEST_TIME_SCALE:-}

# configure_build DIR CMAKE_ARGS...
configure_build() {
  local dir=$1
  shift
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >"$dir/sanitize-configure.log" 2>&1 ||
    { cat "$dir/sanitize-configure.log" >&2; return 1; }
  cmake --build "$dir" -j "$jobs" >"$dir/sanitize-build.log" 2>&1 ||
    { grep -E 'error|Error' "$dir/sanitize-build.log" | head -n 40 >&2; return 1; }
}

# check_reports DIR WHAT: non-zero (and the reports printed) when DIR holds report files.
check_reports() {
  local dir=$1 what=$2 files
  files=$(find "$dir" -type f -size +0 2>/dev/null | sort)
  [ -z "$files" ] && return 0
  for f in $files; do
    echo "---- $what report: $f" >&2
    head -n 80 "$f" >&2
  done
  echo "sanitize: $what: $(echo "$files" | wc -l) process(es) reported errors" >&2
  return 1
}

run_asan() {
  local dir=${SANITIZE_BUILD_DIR:-$src/build-asan} rc=0
  mkdir -p "$dir"
  echo "sanitize: ASan+UBSan+LSan Debug build in $dir"
  configure_build "$dir" -DEIRNN_SANITIZE=ON -DEIRNN_TEST_TIMEOUT_FACTOR=1 || return 1
  local logs=$dir/sanitizer-reports
  rm -rf "$logs" && mkdir -p "$logs"
  local -x EIRNN_TEST_TIME_SCALE=${user_scale:-2}
  echo "sanitize: EIRNN_TEST_TIME_SCALE=$EIRNN_TEST_TIME_SCALE"
  (
    export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1:log_path=$logs/asan"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp:log_path=$logs/ubsan"
    cd "$dir" && ctest --output-on-failure -j "$jobs" -E "$slow" -LE '^slow$' ${SANITIZE_TESTS:+-R "$SANITIZE_TESTS"}
  ) || rc=1
  check_reports "$logs" "ASan/UBSan/LSan" || rc=1
  return $rc
}

run_tsan() {
  local dir=${SANITIZE_BUILD_DIR:-$src/build-tsan} rc=0
  mkdir -p "$dir"
  echo "sanitize: ThreadSanitizer Debug build in $dir"
  # -O2: the simulations that the API tests time are too slow under TSan at -O0 or -O1.
  configure_build "$dir" -DEIRNN_TSAN=ON -DCMAKE_C_FLAGS_DEBUG="-g -O2" \
    -DEIRNN_TEST_TIMEOUT_FACTOR=2 || return 1
  local logs=$dir/sanitizer-reports
  rm -rf "$logs" && mkdir -p "$logs"
  local -x EIRNN_TEST_TIME_SCALE=${user_scale:-10}
  echo "sanitize: EIRNN_TEST_TIME_SCALE=$EIRNN_TEST_TIME_SCALE"
  (
    export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4:suppressions=$supp/tsan.supp:log_path=$logs/tsan"
    cd "$dir" && ctest --output-on-failure -j "$jobs" -E "$slow" -LE '^slow$' \
      ${SANITIZE_TESTS:+-R "$SANITIZE_TESTS"}
  ) || rc=1
  check_reports "$logs" "TSan" || rc=1
  return $rc
}

run_valgrind() {
  local dir=${SANITIZE_BUILD_DIR:-$src/build-valgrind} rc=0
  if ! command -v valgrind >/dev/null 2>&1; then
    "$src/scripts/deps.sh" all || return 1
  fi
  mkdir -p "$dir"
  echo "sanitize: valgrind memcheck, Debug build (-O1) in $dir"
  # -O1: at -O0 the API tests' simulations take ~2.3 times longer under valgrind (the
  # durability test alone about 25 min); valgrind's manual calls -O1 fine for memcheck (only
  # -O2 and above occasionally give false uninitialised-value reports).
  configure_build "$dir" -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DEIRNN_TEST_TIMEOUT_FACTOR=4 || return 1
  local -x EIRNN_TEST_TIME_SCALE=${user_scale:-40}
  echo "sanitize: EIRNN_TEST_TIME_SCALE=$EIRNN_TEST_TIME_SCALE"
  local logs=$dir/valgrind-reports
  rm -rf "$logs" && mkdir -p "$logs"
  local vg="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect"
  vg+=" --errors-for-leak-kinds=definite,indirect --track-origins=yes --error-exitcode=99"
  vg+=" --suppressions=$supp/valgrind.supp"
  # 1. Unit tests of the engine and the schema, each executable under valgrind (commands taken
  #    from ctest). Left out: schema/test_json_oom interposes malloc itself (fault injection),
  #    which valgrind replaces; server/test_store_* fork children that die on purpose holding
  #    what they allocated, and time the writer lock (ASan + LSan cover them).
  local unit=${SANITIZE_TESTS:-'^(engine|schema)/'}
  local skip='^(schema/test_json_oom|schema/validate|fuzz/short)$'
  local list
  list=$(cd "$dir" && ctest -N --show-only=json-v1 | python3 -c '
import json, re, sys
rx = re.compile(sys.argv[1]); slow = re.compile(sys.argv[2])
for t in json.load(sys.stdin)["tests"]:
    if rx.search(t["name"]) and not slow.search(t["name"]) and t.get("command"):
        print(t["name"] + "\t" + " ".join(t["command"]))
' "$unit" "$skip")
  while IFS=$'\t' read -r name cmd; do
    [ -z "$name" ] && continue
    local tag=${name//\//_}
    local start=$SECONDS
    if (cd "$dir" && $vg --log-file="$logs/$tag.%p.log" $cmd >"$logs/$tag.out" 2>&1); then
      echo "  valgrind $name: ok ($((SECONDS - start)) s)"
    else
      echo "  valgrind $name: FAILED (see $logs/$tag.out and $logs/$tag.*.log)" >&2
      tail -n 30 "$logs/$tag.out" >&2
      rc=1
    fi
  done <<<"$list"
  # 2. The API tests, with every daemon they start under valgrind. valgrind's virtual CPU has
  #    no AVX-512, so OpenBLAS picks other kernels in the daemons (Haswell) than in the
  #    `eirnn simulate` that the tests run natively for reference results (SkylakeX on an
  #    AVX-512 machine), and the results would differ in their last bits: the core OpenBLAS
  #    picks under valgrind is forced in every process (OPENBLAS_CORETYPE). The engine's own
  #    AVX2 and AVX-512 clones give the same bits.
  if [ -z "${SANITIZE_TESTS:-}" ]; then
    local core
    core=$(OPENBLAS_VERBOSE=2 valgrind -q --tool=none "$dir/clients/cli/eirnn" --version 2>&1 \
      >/dev/null | sed -n 's/^Core: //p' | head -n 1)
    echo "sanitize: OpenBLAS core under valgrind: ${core:-unknown} (forced in the API tests)"
    (
      [ -n "$core" ] && export OPENBLAS_CORETYPE=$core
      export EIRNN_API_WRAPPER="$vg --log-file=$logs/eirnnd.%p.log"
      cd "$dir" && ctest --output-on-failure -j "$jobs" -R '^api/'
    ) || rc=1
  fi
  # Reports of processes killed on purpose (kill -9) have no summary; those that have one
  # must say 0 errors.
  local bad
  bad=$(grep -l -E 'ERROR SUMMARY: [1-9]' "$logs"/*.log 2>/dev/null)
  if [ -n "$bad" ]; then
    for f in $bad; do
      echo "---- valgrind report: $f" >&2
      head -n 80 "$f" >&2
    done
    rc=1
  fi
  local n
  n=$(grep -l 'ERROR SUMMARY: 0 errors' "$logs"/*.log 2>/dev/null | wc -l)
  echo "sanitize: valgrind: $n process(es) checked with 0 errors, $(echo -n "$bad" | grep -c .) with errors"
  return $rc
}

case "$mode" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  valgrind) run_valgrind ;;
  all)
    rc=0
    run_asan || rc=1
    run_tsan || rc=1
    run_valgrind || rc=1
    exit $rc
    ;;
  *)
    echo "usage: scripts/sanitize.sh asan|tsan|valgrind|all" >&2
    exit 2
    ;;
esac
