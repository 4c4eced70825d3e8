# eirnn: eirnnd (HTTP daemon) and eirnn (command-line client) on Debian bookworm.
#
#   docker build -t eirnn .
#   docker run -d -p 8080:8080 -v eirnn-data:/data -e EIRNN_TOKEN=secret eirnn
#   docker run -d -p 8081:8080 -e EIRNN_DB=postgresql://eirnn@db.example/eirnn \
#       -e PGPASSWORD=... -e EIRNN_TOKEN=secret eirnn     # many daemons on one PostgreSQL
#
# Stage 1 builds and tests; stage 2 ships the two binaries and the runtime libraries only.
# The store is SQLite on the volume /data unless EIRNN_DB (or --db) is a postgresql:// or
# postgres:// URL; libpq reads its usual variables (PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, ...)
# from the container's environment. compose.yaml runs three daemons on one PostgreSQL.

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libopenblas-dev liblapack-dev libarpack2-dev libjansson-dev \
      libmicrohttpd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libcmocka-dev \
      python3 python3-numpy \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The unit, CLI, API, hostile-input and security tests run here. The full suite
# (scripts/test.sh) also runs what needs more than this stage has: the schema validators (npm),
# the fuzzers (clang), the crash/fault tests (sqlite3 CLI, tmpfs mounts), the load test (wrk),
# the README's curl tour (curl), the web page's browser tests (chromium, npm), the Python
# client's plots (matplotlib) and documented install (pip, venv) and the style check
# (clang-format). The tests that need a PostgreSQL cluster are left to the full suite too (this
# stage installs no PostgreSQL server, only the client library the daemon links): the ctest
# fixture pg/start (initdb of a throwaway cluster) and every test that runs on it, whose name
# has a pg/ part (server/pg/*, api/pg/*, cli/pg/*: the store, API and CLI tests again on
# PostgreSQL), and the many-daemon tests reliability/pg_* (with the rest of reliability/).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" \
 && cd /build && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -j"$(nproc)" \
      -E '^(schema/validate|fuzz/.*|reliability/.*|load/.*|readme/.*|browser/.*|python/plot|python/install|style/.*|(.*/)?pg/.*)$' \
 && cmake --install /build --prefix /opt/eirnn --strip

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# libpq5 is the PostgreSQL client library (the postgresql:// store); ca-certificates lets
# PGSSLMODE=verify-full check a server certificate signed by a public CA
# (PGSSLROOTCERT=/etc/ssl/certs/ca-certificates.crt).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libopenblas0-pthread libarpack2 libjansson4 libmicrohttpd12 libsqlite3-0 libpq5 libcurl4 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home eirnn \
 && mkdir -p /data && chown eirnn:eirnn /data
COPY --from=build /opt/eirnn/bin/eirnnd /opt/eirnn/bin/eirnn /usr/local/bin/
# The worker pool is the parallelism: BLAS stays single-threaded inside each worker.
# EIRNN_DB is the default store, SQLite on the volume; -e EIRNN_DB=postgresql://... replaces it
# (the volume then holds nothing).
ENV OPENBLAS_NUM_THREADS=1 \
    EIRNN_LISTEN=0.0.0.0:8080 \
    EIRNN_DB=/data/eirnn.db
VOLUME /data
WORKDIR /data
USER eirnn
EXPOSE 8080
# /healthz is open even when a token is set; eirnn is in the image, nothing else is needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["eirnn", "--url", "http://127.0.0.1:8080", "health"]
# eirnnd is PID 1 and handles SIGTERM itself: it stops accepting, answers long polls, lets
# running runs finish within the grace period (or returns them to the queue) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["eirnnd"]
