#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm machine (as root): installs what is missing,
# builds Release into build/, runs every test with ctest. ctest's summary is the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
cd build && exec ctest --output-on-failure -j "$jobs"
