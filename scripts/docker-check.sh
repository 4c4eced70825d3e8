#!/usr/bin/env bash
# Prove the Dockerfile: build the image for real, run eirnnd inside it on the host network, and
# drive it from outside with the host's eirnn client: /healthz, a model, a run, results
# byte-equal to `eirnn simulate`, then SIGTERM and a clean exit. Slow (the image build compiles
# and tests), so it is not part of scripts/test.sh. Usage: scripts/docker-check.sh
#
# Builder: `docker build` + `docker run --network host` where a Docker engine answers
# (`docker info`); otherwise the command named by EIRNN_IMAGE_BUILDER, called as
#   $EIRNN_IMAGE_BUILDER CONTEXT_DIR -- COMMAND...
# which must build CONTEXT_DIR's Dockerfile and run COMMAND in the image on the host's network
# (e.g. a buildah wrapper; it should tag the image localhost/project-under-check:latest for the
# image checks below). With neither, the script says so and exits 1.
#
# EIRNN_CHECK_DB=postgresql://USER@HOST:PORT/DB (an existing, empty database reachable from
# the host network; password by PGPASSWORD or ~/.pgpass) runs the daemon in the image on that
# PostgreSQL instead of SQLite in the container, and also checks from the host with psql that
# the daemon migrated it (schema_migrations) and that the run is stored there.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${EIRNN_CHECK_PORT:-18080}
url=http://127.0.0.1:$port
work=$(mktemp -d)
log=$work/container.log
db=${EIRNN_CHECK_DB:-/tmp/eirnn.db}
case $db in
*[!A-Za-z0-9@:/._%?=+-]*)  # it goes into a sh -c string below, unquoted
    echo "docker-check: EIRNN_CHECK_DB has characters other than A-Z a-z 0-9 @:/._%?=+-" >&2
    exit 2 ;;
esac
inner="EIRNN_LISTEN=127.0.0.1:$port EIRNN_DB=$db exec eirnnd"

scripts/deps.sh build
cmake -S . -B build-docker-check -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-docker-check -j "$(nproc)" --target eirnn >/dev/null
eirnn=build-docker-check/clients/cli/eirnn

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    builder=docker
    img=eirnn-check:latest
    inspect() { docker image inspect --format "$1" "$img" 2>/dev/null || echo '?'; }
    echo "docker-check: docker build -t $img . and docker run (log: $log)"
    setsid sh -c "docker build -t $img . && exec docker run --rm --network host \
        --name eirnn-check --entrypoint sh $img -c '$inner'" >"$log" 2>&1 &
elif [ -n "${EIRNN_IMAGE_BUILDER:-}" ]; then
    builder=$EIRNN_IMAGE_BUILDER
    img=localhost/project-under-check:latest
    # Docker's image format keeps HEALTHCHECK (buildah's default OCI format drops it).
    export BUILDAH_FORMAT=docker
    inspect() { buildah inspect --type image --format "$1" "$img" 2>/dev/null || echo '?'; }
    echo "docker-check: building the image with $builder and starting eirnnd in it (log: $log)"
    setsid "$builder" . -- sh -c "$inner" >"$log" 2>&1 &
else
    echo "docker-check: FAILED: no Docker engine answers (docker info), and EIRNN_IMAGE_BUILDER" \
         "names no other builder" >&2
    exit 1
fi
pid=$!
cleanup() {
    kill -TERM -- "-$pid" 2>/dev/null || true
    [ "$builder" != docker ] || docker rm -f eirnn-check >/dev/null 2>&1 || true
}
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
if [ "$builder" = docker ]; then
    echo "docker-check: image config: $(inspect 'user={{.Config.User}} ports={{.Config.ExposedPorts}} env={{.Config.Env}}')"
    echo "docker-check: healthcheck: $(inspect '{{.Config.Healthcheck.Test}}')"
else
    echo "docker-check: image config: $(inspect 'user={{.OCIv1.Config.User}} ports={{.OCIv1.Config.ExposedPorts}} env={{.OCIv1.Config.Env}}')"
    echo "docker-check: healthcheck: $(inspect '{{.Docker.Config.Healthcheck.Test}}')"
fi

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
echo "docker-check: listening on the store $(grep -m1 '"event":"listening"' "$log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["db"])')"
case $db in
postgresql://* | postgres://*)
    # SQL on stdin, where psql substitutes :'id' as a quoted literal
    pgq() { printf '%s\n' "$1" | psql "$db" -XAtq -v id="$rid"; }
    echo "docker-check: PostgreSQL schema_migrations: $(pgq \
        "select string_agg(version::text, ',' order by version) from schema_migrations;")"
    echo "docker-check: PostgreSQL has run $rid: status $(pgq \
        "select status from runs where id = :'id';") (2 = succeeded)"
    ;;
esac

# SIGTERM to eirnnd itself, as `docker stop` sends it to PID 1 (with buildah, signalling its
# own process makes it panic; buildah run ends when eirnnd exits).
if [ "$builder" = docker ]; then
    docker stop -t 30 eirnn-check >/dev/null
else
    daemon=$(pgrep -s "$pid" -x eirnnd | head -n 1)
    [ -n "$daemon" ] || { echo "docker-check: FAILED: no eirnnd process found" >&2; exit 1; }
    kill -TERM "$daemon"
fi
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
