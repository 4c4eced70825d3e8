#!/usr/bin/env bash
# Prove the Dockerfile: build it for real with buildah (../shared/tools/dockerfile-check; no
# Docker engine needed), run eirnnd inside the image on the host network, and drive it from
# outside with the host's eirnn client: /healthz, a model, a run, results byte-equal to
# `eirnn simulate`, then SIGTERM and a clean exit. Slow (the image build compiles and tests),
# so it is not part of scripts/test.sh. Needs root (buildah). Usage: scripts/docker-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${DOCKERFILE_CHECK:-../shared/tools/dockerfile-check}
port=${EIRNN_CHECK_PORT:-18080}
url=http://127.0.0.1:$port
work=$(mktemp -d)
log=$work/container.log

scripts/deps.sh build
cmake -S . -B build-docker-check -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-docker-check -j "$(nproc)" --target eirnn >/dev/null
eirnn=build-docker-check/clients/cli/eirnn

# Docker's image format keeps HEALTHCHECK (buildah's default OCI format drops it).
export BUILDAH_FORMAT=docker
echo "docker-check: building the image and starting eirnnd in it (log: $log)"
setsid "$tool" . -- sh -c "EIRNN_LISTEN=127.0.0.1:$port EIRNN_DB=/tmp/eirnn.db exec eirnnd" \
    >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM -- "-$pid" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 2400); do
    "$eirnn" --url "$url" health >/dev/null 2>&1 && break
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 40 "$log"
        echo "docker-check: FAILED: the image did not build or eirnnd did not start" >&2
        exit 1
    fi
    sleep 1
done
echo "docker-check: /healthz -> $("$eirnn" --url "$url" health)"
img=localhost/project-under-check:latest
echo "docker-check: image config: $(buildah inspect --type image --format \
    'user={{.OCIv1.Config.User}} ports={{.OCIv1.Config.ExposedPorts}} env={{.OCIv1.Config.Env}}' \
    "$img" 2>/dev/null || echo '?')"
echo "docker-check: healthcheck: $(buildah inspect --type image --format \
    '{{.Docker.Config.Healthcheck.Test}}' "$img" 2>/dev/null || echo '?')"

mid=$("$eirnn" --url "$url" models create schema/examples/model_small.json -q)
rid=$("$eirnn" --url "$url" runs submit --model "$mid" --run-file schema/examples/run_small.json \
    --wait -q)
echo "docker-check: model $mid, run $rid: $("$eirnn" --url "$url" --json runs get "$rid" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"])')"
"$eirnn" simulate schema/examples/model_small.json schema/examples/run_small.json \
    -o "$work/offline" -q
for var in V r z y; do
    "$eirnn" --url "$url" results get "$rid" "$var" -o "$work/$var.npy"
    cmp "$work/$var.npy" "$work/offline/$var.npy"
done
echo "docker-check: results V r z y byte-equal to eirnn simulate"

# SIGTERM to eirnnd itself, as `docker stop` sends it to PID 1 (signalling buildah's own
# process makes it panic); buildah run ends when eirnnd exits.
daemon=$(pgrep -s "$pid" -x eirnnd | head -n 1)
[ -n "$daemon" ] || { echo "docker-check: FAILED: no eirnnd process found" >&2; exit 1; }
kill -TERM "$daemon"
for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
trap - EXIT
if kill -0 "$pid" 2>/dev/null; then
    echo "docker-check: FAILED: eirnnd did not stop on SIGTERM" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
    exit 1
fi
grep -q '"event":"stopped"' "$log" && echo "docker-check: eirnnd stopped cleanly on SIGTERM" ||
    { tail -n 5 "$log"; echo "docker-check: no 'stopped' event in the log" >&2; exit 1; }
echo "docker-check: OK"
