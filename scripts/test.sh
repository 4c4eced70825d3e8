#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm machine (as root): installs what is missing,
# then
#   1. builds an ASan + UBSan + LeakSanitizer Debug tree in build-asan/ and runs the suite in
#      it, less the slow checks that gain nothing from it (scripts/sanitize.sh asan);
#   2. builds Release into build/ and runs every test with ctest (fuzz/short included).
# A failure in either makes the script exit non-zero; ctest's summary of the Release suite is
# the last line it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc 2>/dev/null || echo 2)
asan=0
scripts/sanitize.sh asan || asan=$?
if [ "$asan" -ne 0 ]; then
  echo "test.sh: the ASan+UBSan suite (build-asan/) FAILED; the Release suite follows" >&2
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
cd build
rc=0
ctest --output-on-failure -j "$jobs" || rc=$?
if [ "$rc" -ne 0 ] || [ "$asan" -ne 0 ]; then
  exit 1
fi
