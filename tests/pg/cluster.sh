#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (issue 14, "Test hooks").
# Usage: tests/pg/cluster.sh start|stop|restart DIR
#   start    a new cluster for DIR: initdb (trust authentication, superuser postgres, UTF8, C
#            locale) and pg_ctl start on 127.0.0.1 and a free port (another one is tried when
#            the port is taken meanwhile), fsync on, max_connections 400, its unix socket in
#            the data directory (no /var/run/postgresql needed). Prints the base URL
#            postgresql://postgres@127.0.0.1:PORT/postgres and writes it to DIR/url. A DIR
#            left by an aborted run (its server perhaps still running) is stopped and removed
#            first.
#   stop     stops the cluster (fast shutdown, then immediate if that hangs) and removes DIR.
#   restart  fast shutdown, then start on the same port (tests of a PostgreSQL restart).
# As root, the server runs as user postgres (runuser; the data directory is owned by it);
# otherwise as the caller. The binaries are those of the newest /usr/lib/postgresql/*/bin
# (Debian's postgresql package; scripts/deps.sh test installs it). The data directory is
# DIR/data, or a directory under /tmp named in DIR/datadir when user postgres cannot reach DIR
# (a checkout under /root) or its socket path would be too long.
# Exit status: 0 done; 1 failed (the reason and the server's log on stderr); 2 usage.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ] || [ $# -ne 2 ]; then
  echo "usage: tests/pg/cluster.sh start|stop|restart DIR" >&2
  exit 2
fi
die() {
  echo "pg/cluster: $*" >&2
  exit 1
}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/pg_ctl" ] ||
  die "no PostgreSQL server in /usr/lib/postgresql/*/bin (scripts/deps.sh test installs postgresql)"

# as_pg CMD...: CMD as the user that owns the cluster.
if [ "$(id -u)" -eq 0 ]; then
  getent passwd postgres >/dev/null || die "running as root, but there is no user postgres"
  as_pg() { runuser -u postgres -- "$@"; }
  runuser -u postgres -- true 2>/dev/null ||
    die "user postgres cannot run programs (is / mode $(stat -c %a /)? it must be searchable" \
      "by every user, 0755; scripts/deps.sh test sets it)"
else
  as_pg() { "$@"; }
fi

# The data directory of DIR's cluster (empty when DIR has none).
data_of() {
  if [ -f "$dir/datadir" ]; then
    cat "$dir/datadir"
  elif [ -d "$dir/data" ]; then
    echo "$dir/data"
  fi
}

# pg_stop DATA: stop the server of DATA if it runs (fast, then immediate after 30 s).
pg_stop() {
  local data=$1
  [ -n "$data" ] && [ -f "$data/postmaster.pid" ] || return 0
  as_pg "$bin/pg_ctl" -D "$data" -m fast -t 30 -w stop >/dev/null 2>&1 ||
    as_pg "$bin/pg_ctl" -D "$data" -m immediate -t 30 -w stop >/dev/null 2>&1 || true
}

# remove_all: stop DIR's server (if any) and remove DIR and its data directory.
remove_all() {
  local data
  [ -e "$dir" ] || return 0
  data=$(data_of)
  pg_stop "$data"
  [ -n "$data" ] && rm -rf "$data"
  rm -rf "$dir"
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT and it can be bound.
port_free() {
  /usr/bin/python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# launch DATA PORT: start the server of DATA on PORT; non-zero when it did not come up.
launch() {
  local data=$1 port=$2
  : >"$data/server.log"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data/server.log"
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -t 60 -w -o "-p $port" start >/dev/null 2>&1
}

start() {
  local data port tries url
  remove_all
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  data=$dir/data
  # user postgres must reach the data directory, and a unix socket path has at most 107 bytes
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir"; then
    data=""
  elif [ ${#data} -gt 80 ]; then
    data=""
  fi
  if [ -z "$data" ]; then
    data=$(mktemp -d /tmp/eirnn-pg-XXXXXX)
    echo "$data" >"$dir/datadir"
  else
    mkdir "$data"
  fi
  chmod 700 "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
  as_pg "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C -N \
    >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    die "initdb failed in $data"
  }
  cat >>"$data/postgresql.conf" <<EOF
# tests/pg/cluster.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 400
fsync = on
logging_collector = off
EOF
  for tries in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    port_free "$port" || continue
    if launch "$data" "$port"; then
      echo "$port" >"$dir/port"
      url="postgresql://postgres@127.0.0.1:$port/postgres"
      echo "$url" >"$dir/url"
      echo "$url"
      return 0
    fi
    # a port taken between the check and the bind: another one; any other failure: stop
    grep -q "could not bind\|could not create any TCP/IP sockets" "$data/server.log" 2>/dev/null ||
      break
    as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  done
  tail -n 30 "$data/server.log" >&2 2>/dev/null || true
  die "could not start PostgreSQL in $data (after $tries attempts)"
}

case "$cmd" in
  start)
    start
    ;;
  stop)
    remove_all
    ;;
  restart)
    [ -f "$dir/port" ] || die "$dir has no cluster (start it first)"
    data=$(data_of)
    port=$(cat "$dir/port")
    as_pg "$bin/pg_ctl" -D "$data" -m fast -t 60 -w stop >/dev/null 2>&1 ||
      die "could not stop the server in $data"
    launch "$data" "$port" || {
      tail -n 30 "$data/server.log" >&2
      die "could not restart PostgreSQL in $data on port $port"
    }
    cat "$dir/url"
    ;;
  *)
    echo "usage: tests/pg/cluster.sh start|stop|restart DIR" >&2
    exit 2
    ;;
esac
