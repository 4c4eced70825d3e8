#!/bin/bash
# Web page benchmark (docs/BENCHMARKS.md, "Web page"): bench/web/open_run.mjs against a fresh
# eirnnd of BUILD_DIR (Release) in Debian's chromium (playwright-core installed into
# BUILD_DIR/browser-tools by tests/browser/install.sh, pinned by its package-lock.json): the
# time from navigation to the run page's data-plotted for a run of CELLS × STEPS (r recorded,
# B = 1), REPS loads, medians, and the tab's longest task and requestAnimationFrame gap.
# Not part of the test suite.
#
# Usage: bench/run_web_bench.sh [BUILD_DIR]          (default: build in the repo)
# Environment: CELLS [1000]  STEPS [10000]  REPS [5]
# Results: the JSON line on stdout; BUILD_DIR/bench-results/web.json; a screenshot in
# BUILD_DIR/artefacts/screenshots/bench-run.png.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build}" && cd "${1:-$ROOT/build}" && pwd)
if [ ! -x "$BUILD/server/eirnnd" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target eirnnd >/dev/null
fi
bash "$ROOT/tests/browser/install.sh" "$BUILD/browser-tools"
mkdir -p "$BUILD/bench-results"
export EIRNND_BIN=$BUILD/server/eirnnd EIRNN_BROWSER_TOOLS=$BUILD/browser-tools \
       EIRNN_SCREENSHOTS=$BUILD/artefacts/screenshots BENCH_OUT=$BUILD/bench-results/web.json \
       OPENBLAS_NUM_THREADS=1
exec node "$ROOT/bench/web/open_run.mjs"
