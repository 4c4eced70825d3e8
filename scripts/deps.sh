#!/usr/bin/env bash
# Install what eirnn needs from Debian (bookworm) when it is missing. Needs root for apt-get.
# Usage: scripts/deps.sh [build|test|all]   (default: test; all adds valgrind)
set -euo pipefail
want=${1:-test}
pkgs=(build-essential cmake pkg-config libopenblas-dev liblapack-dev libjansson-dev
      libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev)
if [ "$want" != build ]; then
  # clang with its compiler-rt (libFuzzer, sanitizer runtimes) for fuzz/
  pkgs+=(libcmocka-dev python3 python3-numpy clang libclang-rt-14-dev curl)
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
  echo "deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
