#!/usr/bin/env bash
# Run the service on a fresh Debian bookworm machine (as root), from the clone:
#
#   scripts/serve.sh [EIRNND OPTIONS...]
#
# installs what is missing (scripts/deps.sh build: compiler, CMake, the -dev packages), builds
# Release into build/ (eirnnd and the eirnn client) and runs eirnnd in the foreground on its
# defaults: http://127.0.0.1:8080 and the SQLite database ~/.local/share/eirnn/eirnn.db
# ($XDG_DATA_HOME/eirnn/eirnn.db when XDG_DATA_HOME is set; created on the first start, the
# same from any folder; the "listening" log line names it). The options, and the EIRNN_* environment variables, go to eirnnd as they
# are ('build/server/eirnnd --help' lists them; e.g. scripts/serve.sh --listen 127.0.0.1:9000).
# Ctrl-C or SIGTERM stops it gracefully. Then, in a second terminal: scripts/demo.sh
# (EIRNN_BUILD_DIR=DIR builds into DIR instead of build/.)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EIRNN_BUILD_DIR:-build}
jobs=$(nproc 2>/dev/null || echo 2)

scripts/deps.sh build
# The tests need cmocka, which only scripts/deps.sh test installs: without it, configure with
# BUILD_TESTING=OFF, and take that setting out of the cache again afterwards so that a later
# scripts/test.sh (same build/) configures the tests as usual instead of inheriting OFF.
testing=ON
pkg-config --exists cmocka || testing=OFF
echo "serve.sh: building eirnnd and eirnn (Release) in $build/" >&2
mkdir -p "$build"
log=$build/serve-build.log
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=$testing &&
       cmake --build "$build" -j "$jobs" --target eirnnd eirnn; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "serve.sh: the build failed (the whole log: $log)" >&2
    exit 1
fi
if [ "$testing" = OFF ]; then # the entry and the comment lines above it
    awk '{ line[NR] = $0 }
         END { for (i = 1; i <= NR; i++) if (line[i] ~ /^BUILD_TESTING:/) {
                   drop[i] = 1; for (j = i - 1; j > 0 && line[j] ~ /^\/\//; j--) drop[j] = 1 }
               for (i = 1; i <= NR; i++) if (!drop[i]) print line[i] }' \
        "$build/CMakeCache.txt" >"$build/CMakeCache.txt.new"
    mv "$build/CMakeCache.txt.new" "$build/CMakeCache.txt"
fi

# What the demo needs to reach this daemon (read from the same flags and variables).
listen=${EIRNN_LISTEN:-127.0.0.1:8080}
token=${EIRNN_TOKEN:+set}
prev=
for a in "$@"; do
    case $prev in --listen) listen=$a ;; --token) token=set ;; esac
    case $a in --listen=*) listen=${a#--listen=} ;; --token=*) token=set ;; esac
    prev=$a
done
host=${listen%:*} port=${listen##*:}
case $host in 0.0.0.0 | '[::]' | '*') host=127.0.0.1 ;; esac
[ "$port" != 0 ] || port=PORT
url=http://$host:$port
demo=scripts/demo.sh
[ "$url" = http://127.0.0.1:8080 ] || demo="$demo --url $url"
[ -z "$token" ] || demo="EIRNN_TOKEN=... $demo"
[ "$port" != PORT ] || demo="$demo  (PORT: the \"port\" of the \"listening\" line below)"
cat >&2 <<EOF
serve.sh: starting $build/server/eirnnd $*
serve.sh: it logs one JSON line per event on stderr; Ctrl-C stops it (a clean shutdown).
serve.sh: in a second terminal: $demo
EOF
exec "$build/server/eirnnd" "$@"
