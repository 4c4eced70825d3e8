#!/usr/bin/env bash
# Install what eirnn needs from Debian (bookworm) when it is missing. Needs root for apt-get.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: test; all adds valgrind)
#   build  compiler, CMake and the -dev packages of eirnnd and eirnn (libpq-dev: the PostgreSQL
#          store; a machine that only runs eirnnd needs its libpq5), plus curl and python3 for
#          the README's API tour and scripts/demo.sh;
#   test   everything the test suite runs: cmocka, NumPy, clang with libFuzzer, clang-format,
#          the sqlite3 shell (reliability tests), wrk (load test), Node.js (schema validators),
#          pip, venv and wheel (the Python client's documented install is tested), chromium
#          (the browser tests, with playwright-core from npm: tests/browser/install.sh),
#          postgresql (the store and API tests on PostgreSQL start a throwaway cluster of their
#          own with its initdb and pg_ctl: tests/pg/cluster.sh; psql for tests/common/pgtest.py);
#   bench  test's packages, python3-scipy (bench/run_sparse_bench.sh's scipy.sparse peer) and
#          python3-torch (bench/run_train_bench.sh's PyTorch peer, CPU).
# A test never skips for a missing tool: what a test needs is listed here.
set -euo pipefail
want=${1:-test}
pkgs=(build-essential cmake pkg-config libopenblas-dev liblapack-dev libarpack2-dev libjansson-dev
      libmicrohttpd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev curl python3 ca-certificates)
if [ "$want" != build ]; then
  # python3-matplotlib: the Python client's plotting helpers (eirnn.plot; ctest python/plot)
  pkgs+=(python3-matplotlib)
  # clang with its compiler-rt (libFuzzer, sanitizer runtimes) for fuzz/
  pkgs+=(libcmocka-dev python3-numpy clang libclang-rt-14-dev clang-format sqlite3 wrk
         python3-pip python3-venv python3-wheel python3-setuptools)
  # chromium: the browser tests (tests/browser) drive Debian's /usr/bin/chromium with
  # playwright-core from npm, which never downloads a browser of its own
  pkgs+=(chromium)
  # postgresql: the server (initdb, pg_ctl) and psql of the PostgreSQL tests (tests/pg/cluster.sh);
  # Debian's package starts a cluster of its own on port 5432, which the tests do not use
  pkgs+=(postgresql)
fi
if [ "$want" = bench ] || [ "$want" = all ]; then
  pkgs+=(python3-scipy) # bench/sparse/sparse_peer.py
  # python3-torch: the PyTorch peer of the training benchmark (bench/peers/torch_train.py)
  pkgs+=(python3-torch)
fi
if [ "$want" = all ]; then
  pkgs+=(valgrind) # scripts/sanitize.sh valgrind
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The schema validators (ajv-cli, @redocly/cli) run on Node.js; any node/npm on PATH will do
# (some machines carry a newer Node.js that bundles npm), else Debian's.
if [ "$want" != build ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "deps: updating the package lists (apt-get update)..." >&2
  apt-get update -qq
  echo "deps: installing ${#missing[@]} packages with their dependencies (a few minutes on a" \
       "fresh machine): ${missing[*]}" >&2
  # apt-get's own progress lines (one per package unpacked and set up), so a long install
  # shows that it is moving; the full log is kept for when it fails.
  log=$(mktemp)
  rc=0
  apt-get install -y --no-install-recommends "${missing[@]}" 2>&1 | tee "$log" |
    awk '/^Get:[0-9]+ / { got++; if (got % 25 == 0) { printf "deps: %d packages downloaded\n", got; fflush() } }
         /^Setting up / { n++; if (n % 10 == 0) { printf "deps: %d set up (%s)\n", n, $3; fflush() } }
         END { printf "deps: %d packages set up\n", n }' >&2 || rc=$?
  [ "$rc" -eq 0 ] || {
    tail -n 30 "$log" >&2
    echo "deps: apt-get install failed (whole log: $log)" >&2
    exit 1
  }
  rm -f "$log"
fi
# The PostgreSQL tests run the server as user postgres (it refuses to run as root), which must be
# able to reach the programs below /: a Debian system has / at mode 0755, but some chroot and
# container tools leave it 0700, where no user but root can run anything at all.
if { [ "$want" = test ] || [ "$want" = all ]; } && [ "$(id -u)" -eq 0 ] &&
  [ $((0$(stat -c %a /) & 1)) -eq 0 ]; then
  echo "deps: / is mode $(stat -c %a /), so user postgres cannot run programs; setting 0755" >&2
  chmod 0755 /
fi
