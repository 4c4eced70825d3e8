#!/bin/bash
# PostgreSQL store benchmark: eirnnd daemons sharing one PostgreSQL database against one SQLite
# daemon, side by side in one run on this machine (Release build, loopback HTTP):
#   a. small runs per second end to end (bench_pg_runs --model small: N=100, T=100, B=1,
#      record r; submit + long-poll wait + .npy fetch, CONCURRENCY runs in flight);
#   b. GET /v1/runs/{id} requests per second (wrk, WRK_CONNECTIONS connections split over the
#      daemons, one wrk per daemon, all at once);
#   c. coordination: the same cycle with the smallest run the API accepts (--model trivial:
#      N=2, T=1), so that the queue, the claims and the commits cost the time, not the engine;
#   d. the store operations alone (bench_store: a create, a claim, a result commit of
#      SMALL_BYTES and LARGE_BYTES, claims/s with 1..8 threads) on SQLite and on PostgreSQL;
#   e. PostgreSQL alone (pgbench): commits/s of a one-row UPDATE with and without a NOTIFY in
#      its transaction, 1, 8 and 32 clients (what every notifying write of the store pays).
# Configurations: "sqlite" (one daemon, SQLite file) and "pgK" for K in DAEMONS (K daemons on
# one fresh PostgreSQL database each configuration). All daemons run from start to end (idle
# ones cost next to nothing); each repetition measures every configuration once, in an order
# rotated each repetition, so that a change of the machine's other load spreads over all of
# them. Medians of REPS repetitions; the load average is recorded next to every figure.
#
# The daemons share the machine's cores: with C cores (nproc) in all, a configuration of K
# daemons gets max(1, C / K) workers and max(1, ceil(HTTP_TOTAL / K)) HTTP threads per daemon,
# so that the workers of a configuration add up to about the cores (more than them when K > C).
# The clients (bench_pg_runs, wrk) and PostgreSQL run on the same cores.
#
# PostgreSQL: a throwaway cluster of its own (tests/pg/cluster.sh start DIR when the tree has
# it, else initdb + pg_ctl here: fsync on, max_connections 400), stopped and removed at the end.
#
# Usage: bench/pg/run_pg_bench.sh [BUILD_DIR]         (default: build-bench in the repo)
# Environment (defaults in brackets):
#   REPS [3]  DAEMONS [1,2,3] (empty: SQLite only)  CONCURRENCY [32]
#   RUNS [1000]  WARMUP [100]                 small runs, per repetition and configuration
#   TRIVIAL_RUNS [1500]  TRIVIAL_WARMUP [150] trivial runs
#   WRK_SECONDS [6]  WRK_CONNECTIONS [64]     status requests
#   HTTP_TOTAL [4]  WORKERS_TOTAL [nproc]     threads split over a configuration's daemons
#   SPREAD [1]       1: with K > 1 daemons, a run's wait and fetch go to other daemons than
#                    its submit (bench_pg_runs --spread); 0: all to the submit's daemon
#   STORE_BENCH [1]  0 skips d.   STORE_RUNS [1000]  SMALL_BYTES [8192]  LARGE_BYTES [8388608]
#   NOTIFY_BENCH [1]  0 skips e.   NOTIFY_SECONDS [4]
#   EIRNND [BUILD_DIR/server/eirnnd]   KEEP [0]: 1 keeps the directory (logs, JSON, cluster)
# Results: the tables on stdout and in BUILD_DIR/pg-bench-table.md; raw JSON and logs in
# BUILD_DIR/pg-bench.XXXXXX (removed unless KEEP=1). Not part of the test suite.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build-bench}" && cd "${1:-$ROOT/build-bench}" && pwd)
REPS=${REPS:-3}
DAEMONS=${DAEMONS-1,2,3}
CONCURRENCY=${CONCURRENCY:-32}
RUNS=${RUNS:-1000}
WARMUP=${WARMUP:-100}
TRIVIAL_RUNS=${TRIVIAL_RUNS:-1500}
TRIVIAL_WARMUP=${TRIVIAL_WARMUP:-150}
WRK_SECONDS=${WRK_SECONDS:-6}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
CORES=$(nproc)
WORKERS_TOTAL=${WORKERS_TOTAL:-$CORES}
HTTP_TOTAL=${HTTP_TOTAL:-4}
SPREAD=${SPREAD:-1}
STORE_BENCH=${STORE_BENCH:-1}
NOTIFY_BENCH=${NOTIFY_BENCH:-1}
NOTIFY_SECONDS=${NOTIFY_SECONDS:-4}
STORE_RUNS=${STORE_RUNS:-1000}
SMALL_BYTES=${SMALL_BYTES:-8192}
LARGE_BYTES=${LARGE_BYTES:-8388608}
KEEP=${KEEP:-0}
PY=/usr/bin/python3

for tool in wrk curl psql "$PY"; do
    command -v "$tool" >/dev/null || { echo "run_pg_bench: $tool is needed" >&2; exit 1; }
done

# ---- build (Release) -----------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if [ "$btype" != "Release" ]; then
    echo "run_pg_bench: $BUILD is a '$btype' build; use a Release build directory" >&2
    exit 1
fi
cmake --build "$BUILD" --target eirnnd bench_pg_runs bench_store -j2 >/dev/null
EIRNND=${EIRNND:-$BUILD/server/eirnnd}
RUNSB=$BUILD/bench/bench_pg_runs
STOREB=$BUILD/bench/bench_store
for x in "$EIRNND" "$RUNSB" "$STOREB"; do
    [ -x "$x" ] || { echo "run_pg_bench: $x was not built" >&2; exit 1; }
done

DIR=$(mktemp -d "$BUILD/pg-bench.XXXXXX")
chmod 755 "$DIR" # the PostgreSQL server runs as user postgres
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PIDS=()
PG_MODE=
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    case $PG_MODE in
    cluster) "$ROOT/tests/pg/cluster.sh" stop "$DIR/pg" >/dev/null 2>&1 || true ;;
    own) as_pg "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null 2>&1 || true ;;
    esac
    if [ "$KEEP" = 1 ]; then echo "# kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

# ---- PostgreSQL cluster ---------------------------------------------------------------------
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if [ -x "$ROOT/tests/pg/cluster.sh" ]; then
    PG_MODE=cluster PG_HOW=tests/pg/cluster.sh
    PG_URL=$("$ROOT/tests/pg/cluster.sh" start "$DIR/pg" | tail -1)
else
    [ -n "$PGBIN" ] || { echo "run_pg_bench: no PostgreSQL server binaries" >&2; exit 1; }
    PG_MODE=own PG_HOW="initdb in $DIR/pg"
    mkdir -p "$DIR/pg"
    PG_PORT=$(free_port)
    [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
    as_pg "$PGBIN/initdb" -D "$DIR/pg/data" -U postgres -A trust -E UTF8 --no-locale >"$DIR/pg/initdb.log"
    as_pg "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -o \
        "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR/pg -c max_connections=400 -c fsync=on" \
        start >/dev/null
    PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
fi
PG_BASE=${PG_URL%/*}
# The postmaster's PID: its CPU with its reaped children's, plus its live children's, is the
# cluster's CPU.
psql_q() { psql "$PG_URL" -v ON_ERROR_STOP=1 -Atqc "$1"; }
PG_PM=$(head -1 "$(psql_q 'show data_directory')/postmaster.pid")

cpu_of() { # CPU seconds of the PIDs given; "pg" stands for the PostgreSQL cluster
    "$PY" - "$PG_PM" "$@" <<'EOF'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            t = f.read()
    except OSError:
        return None
    return t[t.rindex(")") + 2:].split()
pm, total = sys.argv[1], 0.0
for p in sys.argv[2:]:
    if p == "pg":
        s = stat(pm)
        if s:
            total += sum(int(x) for x in s[11:15]) / hz  # utime stime cutime cstime
        for d in os.listdir("/proc"):
            if d.isdigit():
                s = stat(d)
                if s and s[1] == pm:
                    total += (int(s[11]) + int(s[12])) / hz
    else:
        s = stat(p)
        if s:
            total += (int(s[11]) + int(s[12])) / hz
print(f"{total:.3f}")
EOF
}

# ---- daemons --------------------------------------------------------------------------------
# start_daemon NAME DB WORKERS HTTP_THREADS: starts one eirnnd, appends "pid port" to
# $DIR/NAME.daemons.
start_daemon() {
    local name=$1 db=$2 workers=$3 http=$4 n log pid port
    n=0; [ -f "$DIR/$name.daemons" ] && n=$(wc -l <"$DIR/$name.daemons")
    log=$DIR/$name.$n.log
    "$EIRNND" --listen 127.0.0.1:0 --db "$db" --workers "$workers" --http-threads "$http" \
        2>"$log" &
    pid=$!
    PIDS+=("$pid")
    port=
    for _ in $(seq 300); do
        port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.05
    done
    [ -n "$port" ] || { echo "run_pg_bench: eirnnd ($name) did not start" >&2; exit 1; }
    echo "$pid $port" >>"$DIR/$name.daemons"
}

CONFIGS=(sqlite)
start_daemon sqlite "$DIR/sqlite.db" "$WORKERS_TOTAL" "$HTTP_TOTAL"
IFS=, read -r -a KS <<<"$DAEMONS"
for k in "${KS[@]}"; do
    name=pg$k
    CONFIGS+=("$name")
    psql_q "CREATE DATABASE bench_$name"
    w=$((WORKERS_TOTAL / k)); [ "$w" -ge 1 ] || w=1
    h=$(((HTTP_TOTAL + k - 1) / k)); [ "$h" -ge 1 ] || h=1
    for _ in $(seq "$k"); do start_daemon "$name" "$PG_BASE/bench_$name" "$w" "$h"; done
done

pids_of() { awk '{print $1}' "$DIR/$1.daemons"; }
urls_of() { awk '{print "http://127.0.0.1:" $2}' "$DIR/$1.daemons"; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $CORES cores, $(uname -r)," \
    "$(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# eirnnd $EIRNND (git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo ?))"
echo "# PostgreSQL $(psql_q 'show server_version') (a throwaway cluster by $PG_HOW;" \
    "fsync $(psql_q 'show fsync'), synchronous_commit $(psql_q 'show synchronous_commit')," \
    "shared_buffers $(psql_q 'show shared_buffers'), max_connections $(psql_q 'show max_connections'))"
echo "# SQLite database $DIR/sqlite.db on $(findmnt -n -o FSTYPE,SOURCE -T "$DIR" 2>/dev/null || echo ?)"
for c in "${CONFIGS[@]}"; do
    echo "# $c: $(wc -l <"$DIR/$c.daemons") daemon(s):" \
        "$(sed -n 's/.*"event":"listening".*"workers":\([0-9]*\).*"http_threads":\([0-9]*\).*/workers \1, http threads \2/p' \
            "$DIR/$c.0.log")" "each"
done
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- measurements ---------------------------------------------------------------------------
# The cluster's next transaction id (so, with the one this takes, the write transactions so
# far: read-only ones take none) and the WAL bytes written so far.
pg_mark() { psql_q "SELECT pg_current_xact_id()::text, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"; }

# measure_runs CONFIG MODEL REP: one bench_pg_runs run, its JSON in $DIR/CONFIG-MODEL-REP.json;
# over the whole of it (warm-up included: runs + warm-up in ...-REP.total), the cluster's CPU
# in ...-REP.pgcpu ("before after") and pg_mark in ...-REP.pgx (two lines).
measure_runs() {
    local c=$1 model=$2 rep=$3 runs warm args=() mid out
    if [ "$model" = trivial ]; then runs=$TRIVIAL_RUNS warm=$TRIVIAL_WARMUP; else runs=$RUNS warm=$WARMUP; fi
    for u in $(urls_of "$c"); do args+=(--url "$u"); done
    for p in $(pids_of "$c"); do args+=(--server-pid "$p"); done
    [ "$SPREAD" = 1 ] && [ "$(wc -l <"$DIR/$c.daemons")" -gt 1 ] && args+=(--spread)
    mid=$(cat "$DIR/$c-$model.model" 2>/dev/null || true)
    out=$DIR/$c-$model-$rep
    echo $((runs + warm)) >"$out.total"
    pg_mark >"$out.pgx"
    cpu_of pg >"$out.pgcpu"
    "$RUNSB" "${args[@]}" --model "$model" --runs "$runs" --warmup "$warm" \
        --concurrency "$CONCURRENCY" ${mid:+--model-id "$mid"} --json "$out.json" >"$out.txt" ||
        { cat "$out.txt" >&2; exit 1; }
    cpu_of pg >>"$out.pgcpu"
    pg_mark >>"$out.pgx"
    sed -n 's/.*"model_id":"\([^"]*\)".*/\1/p' "$out.json" >"$DIR/$c-$model.model"
    echo "# $c $model $rep/$REPS: $(sed -n 's/.*throughput: //p' "$out.txt")"
}

# measure_status CONFIG REP: one wrk per daemon at once, WRK_CONNECTIONS split over them.
measure_status() {
    local c=$1 rep=$2 k run i=0 conns threads wpids=() out
    k=$(wc -l <"$DIR/$c.daemons")
    run=$(cat "$DIR/$c.run" 2>/dev/null || true)
    if [ -z "$run" ]; then
        run=$(curl -sf "$(urls_of "$c" | head -1)/v1/runs?status=succeeded&limit=1" |
            sed -n 's/.*"items":\[{"id":"\([^"]*\)".*/\1/p')
        [ -n "$run" ] || { echo "run_pg_bench: no finished run in $c to poll" >&2; exit 1; }
        echo "$run" >"$DIR/$c.run"
    fi
    conns=$((WRK_CONNECTIONS / k)); threads=$((k == 1 ? 2 : 1))
    out=$DIR/$c-status-$rep
    loadavg >"$out.load"
    # shellcheck disable=SC2046
    cpu_of pg $(pids_of "$c") >"$out.cpu"
    cpu_of pg >"$out.pgcpu"
    for u in $(urls_of "$c"); do
        wrk -t"$threads" -c"$conns" -d"${WRK_SECONDS}s" --latency "$u/v1/runs/$run" >"$out.wrk$i.txt" &
        wpids+=($!)
        i=$((i + 1))
    done
    for p in "${wpids[@]}"; do wait "$p"; done
    # shellcheck disable=SC2046
    cpu_of pg $(pids_of "$c") >>"$out.cpu"
    cpu_of pg >>"$out.pgcpu"
    echo "# $c status $rep/$REPS: $(cat "$out".wrk*.txt | sed -n 's/^Requests\/sec: *//p' | awk '{s += $1} END {printf "%.0f", s}') requests/s"
}

for rep in $(seq "$REPS"); do
    n=${#CONFIGS[@]}
    for j in $(seq 0 $((n - 1))); do
        c=${CONFIGS[$(((j + rep - 1) % n))]}
        measure_runs "$c" small "$rep"
        measure_runs "$c" trivial "$rep"
        measure_status "$c" "$rep"
        # the connections the configuration's daemons hold open now (pools and listeners)
        [ "$c" = sqlite ] ||
            psql_q "SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench_$c'" >"$DIR/$c-conns-$rep"
    done
done

# ---- the store operations alone -------------------------------------------------------------
if [ "$STORE_BENCH" = 1 ]; then
    psql_q "CREATE DATABASE bench_store"
    for b in sqlite pg; do
        if [ "$b" = sqlite ]; then db=$DIR/store.db; else db=$PG_BASE/bench_store; fi
        "$STOREB" --db "$db" --runs "$STORE_RUNS" --small 500 --large 10 \
            --small-bytes "$SMALL_BYTES" --large-bytes "$LARGE_BYTES" --threads 1,2,4,8 \
            --contention-runs "$STORE_RUNS" --json "$DIR/store-$b.json" >"$DIR/store-$b.txt" ||
            { cat "$DIR/store-$b.txt" >&2; exit 1; }
        loadavg >"$DIR/store-$b.load"
        sed 's/^/# /' "$DIR/store-$b.txt"
    done
fi
# ---- commits with and without a NOTIFY (pgbench) --------------------------------------------
# PostgreSQL serialises the commits of all transactions that sent a notification (a lock held
# from just before the commit until after it: async.c, PreCommit_Notify), so they cannot share
# a WAL flush as other commits do. Same one-row UPDATE, once alone, once with pg_notify() in
# its transaction, once with the NOTIFY in a second transaction with synchronous_commit off, by
# 1, 8 and 32 clients.
if [ "$NOTIFY_BENCH" = 1 ]; then
    psql_q "CREATE DATABASE bench_notify"
    psql "$PG_BASE/bench_notify" -v ON_ERROR_STOP=1 -qc \
        "CREATE TABLE t (id int PRIMARY KEY, v bigint NOT NULL DEFAULT 0);
         INSERT INTO t SELECT g FROM generate_series(1, 10000) g"
    printf '\\set id random(1, 10000)\nUPDATE t SET v = v + 1 WHERE id = :id;\n' >"$DIR/plain.sql"
    printf '\\set id random(1, 10000)\nBEGIN;\nUPDATE t SET v = v + 1 WHERE id = :id;\nSELECT pg_notify(%s);\nCOMMIT;\n' \
        "'eirnn', 'o bench'" >"$DIR/notify.sql"
    # The remedy measured: the write commits alone, then the notification in a transaction of
    # its own that does not wait for its WAL flush (notifications are not durable anyway).
    printf '\\set id random(1, 10000)\nUPDATE t SET v = v + 1 WHERE id = :id;\nBEGIN;\nSET LOCAL synchronous_commit = off;\nSELECT pg_notify(%s);\nCOMMIT;\n' \
        "'eirnn', 'o bench'" >"$DIR/after.sql"
    for rep in $(seq "$REPS"); do
        for clients in 1 8 32; do
            for kind in plain notify after; do
                "$PGBIN/pgbench" -n -f "$DIR/$kind.sql" -c "$clients" -j 2 -T "$NOTIFY_SECONDS" \
                    "$PG_BASE/bench_notify" >"$DIR/notify-$kind-$clients-$rep.txt" 2>&1 ||
                    { cat "$DIR/notify-$kind-$clients-$rep.txt" >&2; exit 1; }
            done
            echo "# commits/s, $clients clients, $rep/$REPS:" \
                "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$DIR/notify-plain-$clients-$rep.txt") plain," \
                "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$DIR/notify-notify-$clients-$rep.txt") with a NOTIFY," \
                "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$DIR/notify-after-$clients-$rep.txt") NOTIFY after, not flushed"
        done
    done
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- tables ---------------------------------------------------------------------------------
"$PY" "$ROOT/bench/pg/pg_bench_table.py" "$DIR" "$REPS" "${CONFIGS[*]}" | tee "$BUILD/pg-bench-table.md"
