/**
 * @file config.c
 * @brief eirnnd's configuration: defaults, EIRNN_* environment variables and flags (flags win),
 *        all driven by one table so that --help, the parser and the docs agree.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "srv.h"

typedef enum opt_kind {
    OPT_LISTEN, /**< HOST:PORT into listen_host + port */
    OPT_STR,    /**< char * (strdup'ed) */
    OPT_INT,    /**< int in [min, max] */
    OPT_UINT,   /**< unsigned in [min, max] */
    OPT_I64,    /**< int64_t in [min, max] */
    OPT_SIZE,   /**< byte count with an optional binary suffix (K, M, G, KiB, ...) */
    OPT_SIZE64, /**< int64_t byte count with a suffix */
    OPT_SECONDS /**< double >= 0 */
} opt_kind;

typedef struct opt_def {
    const char *flag; /**< long option name without "--" */
    const char *env;  /**< environment variable */
    opt_kind kind;
    size_t off;          /**< offset in srv_config */
    long long min, max;  /**< integer range; for seconds max is the upper bound */
    const char *metavar; /**< value placeholder in --help */
    const char *help;    /**< one line */
} opt_def;

#define OFF(f) offsetof(srv_config, f)

static const opt_def opts[] = {
    {"listen", "EIRNN_LISTEN", OPT_LISTEN, 0, 0, 0, "HOST:PORT",
     "address to listen on; port 0 picks a free port (the startup log line names it)"},
    {"db", "EIRNN_DB", OPT_STR, OFF(db), 0, 0, "PATH|URL",
     "SQLite database file (created if missing; by default in $XDG_DATA_HOME/eirnn, else "
     "~/.local/share/eirnn), or a PostgreSQL URL postgresql://USER@HOST[:PORT]/DB[?...] shared "
     "by many daemons (prefer PGPASSWORD or ~/.pgpass to a password in the URL)"},
    {"lease-seconds", "EIRNN_LEASE_SECONDS", OPT_SECONDS, OFF(lease_seconds), 2, 3600, "SECONDS",
     "a claimed run's lease: renewed every quarter of it; a run whose daemon stopped renewing "
     "goes back to the queue (any daemon) once it expired"},
    {"db-pool", "EIRNN_DB_POOL", OPT_INT, OFF(db_pool), 1, 1000, "N",
     "PostgreSQL: most database connections of this daemon (LISTEN connection not counted)"},
    {"workers", "EIRNN_WORKERS", OPT_INT, OFF(workers), 0, 1024, "N",
     "simulation threads (0 = only accept and queue runs)"},
    {"threads-per-run", "EIRNN_THREADS_PER_RUN", OPT_INT, OFF(threads_per_run), 1, 256, "N",
     "threads one run uses (same bytes at any count); default CPUs / workers, at least 1"},
    {"token", "EIRNN_TOKEN", OPT_STR, OFF(token), 0, 0, "TOKEN",
     "require 'Authorization: Bearer TOKEN' on /v1 and /metrics (prefer the variable)"},
    {"max-body-bytes", "EIRNN_MAX_BODY_BYTES", OPT_SIZE, OFF(max_body_bytes), 1, (long long)1 << 40,
     "BYTES", "largest request body (suffixes K, M, G = KiB, MiB, GiB)"},
    {"max-body-buffer-bytes", "EIRNN_MAX_BODY_BUFFER_BYTES", OPT_SIZE, OFF(max_body_buffer), 1,
     (long long)1 << 42, "BYTES",
     "request bodies buffered at once over all connections (503 + Retry-After past it); at "
     "least max-body-bytes"},
    {"max-neurons", "EIRNN_MAX_NEURONS", OPT_INT, OFF(max_neurons), 1, 1000000, "N",
     "largest model (N = E + I); default from the memory: largest N with 48 N^2 bytes <= a "
     "quarter of it (multiple of 1024, 1024 to 100000)"},
    {"max-steps", "EIRNN_MAX_STEPS", OPT_I64, OFF(max_steps), 1, (long long)1 << 40, "T",
     "most time steps of a run"},
    {"max-trials", "EIRNN_MAX_TRIALS", OPT_INT, OFF(max_trials), 1, 1000000, "B",
     "most trials of a run"},
    {"max-recorded-values", "EIRNN_MAX_RECORDED_VALUES", OPT_I64, OFF(max_recorded_values), 1,
     (long long)1 << 40, "N", "most recorded values of a run (sum over variables of B*T'*n)"},
    {"queue-limit", "EIRNN_QUEUE_LIMIT", OPT_I64, OFF(queue_limit), 0, (long long)1 << 40, "N",
     "queued runs before POST /v1/runs answers 503 (0 = no limit)"},
    {"run-time-limit", "EIRNN_RUN_TIME_LIMIT", OPT_SECONDS, OFF(run_time_limit), 0, 31536000,
     "SECONDS", "wall-clock limit of a run, default and largest (0 = none)"},
    {"model-build-time-limit", "EIRNN_MODEL_BUILD_TIME_LIMIT", OPT_SECONDS,
     OFF(model_build_time_limit), 0, 31536000, "SECONDS",
     "wall-clock limit of a model's build (generation, spectral radius, hash); past it the model "
     "is failed (0 = none)"},
    {"max-attempts", "EIRNN_MAX_ATTEMPTS", OPT_INT, OFF(max_attempts), 1, 1000, "N",
     "claims of a run before a run left behind by crashes is failed"},
    {"long-poll-max", "EIRNN_LONG_POLL_MAX", OPT_SECONDS, OFF(long_poll_max), 0, 86400, "SECONDS",
     "largest ?wait= of GET /v1/runs/{id}"},
    {"shutdown-grace", "EIRNN_SHUTDOWN_GRACE", OPT_SECONDS, OFF(shutdown_grace), 0, 86400,
     "SECONDS", "time running runs get to finish at SIGTERM before they are queued again"},
    {"http-threads", "EIRNN_HTTP_THREADS", OPT_INT, OFF(http_threads), 1, 256, "N",
     "HTTP connection threads"},
    {"connection-timeout", "EIRNN_CONNECTION_TIMEOUT", OPT_UINT, OFF(connection_timeout), 1, 86400,
     "SECONDS", "close connections idle this long (slow clients included)"},
    {"max-connections", "EIRNN_MAX_CONNECTIONS", OPT_UINT, OFF(max_connections), 1, 1000000, "N",
     "concurrent HTTP connections"},
    {"model-cache-bytes", "EIRNN_MODEL_CACHE_BYTES", OPT_SIZE64, OFF(cache_bytes), 0,
     (long long)1 << 40, "BYTES", "memory for built models kept between runs (0 = none)"},
    {"max-run-memory-bytes", "EIRNN_MAX_RUN_MEMORY_BYTES", OPT_SIZE, OFF(max_run_memory), 1,
     (long long)1 << 50, "BYTES",
     "most memory one run may need (workspace, outputs, float32 model copy; the model not "
     "counted): a run over it is refused with 422"},
    {"max-sweep-points", "EIRNN_MAX_SWEEP_POINTS", OPT_I64, OFF(max_sweep_points), 1, 1000000, "N",
     "most points (runs) of one sweep: POST /v1/sweeps refuses more with 422 at /axes"},
    {"max-sweep-check-bytes", "EIRNN_MAX_SWEEP_CHECK_BYTES", OPT_SIZE64, OFF(max_sweep_check_bytes),
     1, (long long)1 << 42, "BYTES",
     "most validation work of one sweep: points x bytes of its base run and model documents "
     "(422 at /run past it)"},
};

#define NOPTS (sizeof opts / sizeof *opts)

/** --help's text for the default --max-body-buffer-bytes (resolved by auto_body_buffer()). */
#define BODY_BUFFER_DEFAULT_TEXT "4 x max-body-bytes, at most RAM/8"

/**
 * --max-body-buffer-bytes when not given: four largest bodies at once, but at most an eighth of
 * the machine's memory (a body is parsed into several times its size, so the bodies themselves
 * must stay a small share), and never less than one largest body (or it could never arrive).
 */
static uint64_t auto_body_buffer(uint64_t max_body)
{
    uint64_t b = max_body > UINT64_MAX / 4 ? UINT64_MAX : 4 * max_body;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        uint64_t ram8 = (uint64_t)pages * (uint64_t)page / 8;
        if (ram8 < b) b = ram8;
    }
    return b < max_body ? max_body : b;
}

/** --help's text for the default --max-run-memory-bytes (resolved by auto_run_memory()). */
#define RUN_MEMORY_DEFAULT_TEXT "RAM / 2 / workers"

/**
 * --max-run-memory-bytes when not given: half the machine's memory shared by the workers, so
 * that every worker at its limit leaves the other half to the models, the cache, the HTTP side
 * and the system; 1 GiB when the memory cannot be read.
 */
static uint64_t auto_run_memory(int workers)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return (uint64_t)1 << 30;
    return (uint64_t)pages * (uint64_t)page / 2 / (uint64_t)(workers > 1 ? workers : 1);
}

/** --help's text for the default database (resolved by resolve_db()). */
#define DB_DEFAULT_TEXT "$XDG_DATA_HOME/eirnn/eirnn.db"

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

/**
 * Bytes of memory this process may use: the physical memory, or the cgroup's memory.max when
 * that is lower (a container). 0 when unknown.
 */
static uint64_t usable_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    uint64_t mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        unsigned long long lim;
        if (fscanf(f, "%llu", &lim) == 1 && lim > 0 && (mem == 0 || lim < mem)) mem = lim;
        fclose(f);
    }
    return mem;
}

/**
 * --max-neurons when not given (OPERATIONS.md): the largest N, a multiple of 1024, whose dense
 * worst case, 48 N^2 bytes (a gated model with a full A: the description's W and A, the
 * model's W and [W; M], and a float32 run's copy of [W; M]), fits in a quarter of the usable
 * memory; at least 1024, at most 100,000; 4096 when the memory is unknown.
 */
static int auto_max_neurons(void)
{
    const uint64_t mem = usable_memory();
    if (mem == 0) return 4096;
    const double n = floor(sqrt((double)mem / 4.0 / 48.0) / 1024.0) * 1024.0;
    return n < 1024 ? 1024 : n > 100000 ? 100000 : (int)n;
}

/** --threads-per-run when not given: the CPUs shared by the workers, so that workers x
 *  threads-per-run <= CPUs (at least 1, at most 256). */
static int auto_threads_per_run(int workers)
{
    int t = online_cpus() / (workers > 1 ? workers : 1);
    return t < 1 ? 1 : t > 256 ? 256 : t;
}

void srv_config_defaults(srv_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen_host = strdup("127.0.0.1");
    c->port = 8080;
    c->db = NULL; /* resolved after parsing: resolve_db() */
    c->workers = online_cpus();
    c->token = NULL;
    c->max_body_bytes = (uint64_t)64 << 20;
    c->max_neurons = auto_max_neurons();
    c->max_steps = 10000000;
    c->max_trials = 4096;
    c->max_recorded_values = (int64_t)1 << 27;
    c->queue_limit = 100000;
    c->run_time_limit = 3600;
    c->model_build_time_limit = 600;
    c->max_attempts = 3;
    c->long_poll_max = 60;
    c->shutdown_grace = 10;
    /* Twice the CPUs, 4 to 16: a handler that records a decision (POST /v1/runs, ...) waits
     * for the disk in its thread, and the other threads keep serving meanwhile. */
    int cpus = online_cpus();
    c->http_threads = 2 * cpus < 4 ? 4 : 2 * cpus > 16 ? 16 : 2 * cpus;
    c->connection_timeout = 30;
    c->max_connections = 1024;
    c->cache_bytes = (int64_t)256 << 20;
    c->max_sweep_points = 10000;
    c->max_sweep_check_bytes = (int64_t)256 << 20;
    c->lease_seconds = 30;
    c->db_pool = 0; /* resolved after parsing: workers + http_threads + 3 */
}

int srv_db_is_url(const char *db)
{
    return db && (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0);
}

/** Append @p n bytes of @p s to @p buf (length *@p len, capacity @p cap), cutting at the end. */
static void put_n(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= cap) return;
    if (n > cap - 1 - *len) n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

void srv_db_redacted(const char *db, char *buf, size_t cap)
{
    if (!cap) return;
    buf[0] = '\0';
    if (!db) return;
    size_t len = 0;
    if (!srv_db_is_url(db)) {
        put_n(buf, cap, &len, db, strlen(db));
        return;
    }
    const char *auth = strstr(db, "://") + 3;
    put_n(buf, cap, &len, db, (size_t)(auth - db));
    /* user-info: up to the last '@' before the path, the query or the fragment */
    size_t host_end = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + host_end; p++)
        if (*p == '@') at = p;
    const char *p = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            put_n(buf, cap, &len, auth, (size_t)(colon - auth));
            put_n(buf, cap, &len, ":***", 4);
            p = at;
        }
    }
    /* the rest, with the value of every password= parameter of the query hidden */
    while (*p) {
        const char *q = p;
        int param_start = p > db && (p[-1] == '?' || p[-1] == '&');
        if (param_start && strncmp(p, "password=", 9) == 0) {
            put_n(buf, cap, &len, "password=***", 12);
            p += 9 + strcspn(p + 9, "&#");
            continue;
        }
        put_n(buf, cap, &len, q, 1);
        p++;
    }
}

void srv_config_free(srv_config *c)
{
    if (!c) return;
    free(c->listen_host);
    free(c->db);
    if (c->token) memset(c->token, 0, strlen(c->token));
    free(c->token);
    c->listen_host = c->db = c->token = NULL;
}

void srv_config_limits(const srv_config *c, eir_json_limits *lim)
{
    eir_json_limits_default(lim);
    lim->max_neurons = c->max_neurons;
    lim->max_steps = c->max_steps;
    lim->max_trials = c->max_trials;
    lim->max_recorded_values = c->max_recorded_values;
    /* Inputs arrive in the body: never more values than the body could hold as base64. */
    int64_t by_body = (int64_t)(c->max_body_bytes / 4);
    if (by_body < lim->max_input_values) lim->max_input_values = by_body > 0 ? by_body : 1;
}

/* ------------------------------------------------------------------------------------------ */

/** Parse a whole decimal integer. @return 0 on success. */
static int parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

/** Parse a byte count: digits then an optional K/KB/KiB, M/MB/MiB, G/GB/GiB, T (binary). */
static int parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return -1;
    while (*end == ' ')
        end++;
    unsigned shift = 0;
    if (*end) {
        char u = (char)(*end | 0x20);
        shift = u == 'k' ? 10 : u == 'm' ? 20 : u == 'g' ? 30 : u == 't' ? 40 : 99;
        if (shift == 99) return -1;
        const char *rest = end + 1;
        if (*rest && strcasecmp(rest, "b") != 0 && strcasecmp(rest, "ib") != 0) return -1;
    }
    if (shift && v > (ULLONG_MAX >> shift)) return -1;
    v <<= shift;
    if (v > (unsigned long long)LLONG_MAX) return -1;
    *out = (long long)v;
    return 0;
}

/** Split HOST:PORT (HOST may be [v6]). @return 0 on success. */
static int parse_listen(const char *s, char **host, unsigned *port)
{
    const char *colon;
    size_t hlen;
    const char *h = s;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -1;
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen)) return -1; /* bare IPv6 without brackets */
    }
    if (hlen == 0) return -1;
    long long p;
    if (parse_ll(colon + 1, &p) || p < 0 || p > 65535) return -1;
    char *hc = strndup(h, hlen);
    if (!hc) return -1;
    free(*host);
    *host = hc;
    *port = (unsigned)p;
    return 0;
}

/** Set option @p o of @p c from @p val; prints the error naming @p who and returns 2. */
static int set_opt(srv_config *c, const opt_def *o, const char *val, const char *who)
{
    char *base = (char *)c;
    long long v;
    switch (o->kind) {
    case OPT_LISTEN:
        if (parse_listen(val, &c->listen_host, &c->port) == 0) return 0;
        fprintf(stderr,
                "eirnnd: %s: expected HOST:PORT (port 0 to 65535, IPv6 as [::1]:PORT), "
                "got '%s'\n",
                who, val);
        return 2;
    case OPT_STR: {
        char **p = (char **)(base + o->off);
        if (!val[0]) {
            fprintf(stderr, "eirnnd: %s: expected a non-empty value\n", who);
            return 2;
        }
        char *d = strdup(val);
        if (!d) {
            fprintf(stderr, "eirnnd: out of memory\n");
            return 2;
        }
        free(*p);
        *p = d;
        return 0;
    }
    case OPT_INT:
    case OPT_UINT:
    case OPT_I64:
        if (parse_ll(val, &v) || v < o->min || v > o->max) {
            fprintf(stderr, "eirnnd: %s: expected an integer from %lld to %lld, got '%s'\n", who,
                    o->min, o->max, val);
            return 2;
        }
        if (o->kind == OPT_INT)
            *(int *)(base + o->off) = (int)v;
        else if (o->kind == OPT_UINT)
            *(unsigned *)(base + o->off) = (unsigned)v;
        else
            *(int64_t *)(base + o->off) = v;
        return 0;
    case OPT_SIZE:
    case OPT_SIZE64:
        if (parse_size(val, &v) || v < o->min || v > o->max) {
            fprintf(stderr,
                    "eirnnd: %s: expected a byte count from %lld to %lld (suffix K, M or "
                    "G allowed), got '%s'\n",
                    who, o->min, o->max, val);
            return 2;
        }
        if (o->kind == OPT_SIZE)
            *(uint64_t *)(base + o->off) = (uint64_t)v;
        else
            *(int64_t *)(base + o->off) = v;
        return 0;
    case OPT_SECONDS: {
        char *end;
        errno = 0;
        double d = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(d) || d < (double)o->min ||
            d > (double)o->max) {
            fprintf(stderr,
                    "eirnnd: %s: expected a number of seconds from %lld to %lld, got "
                    "'%s'\n",
                    who, o->min, o->max, val);
            return 2;
        }
        *(double *)(base + o->off) = d;
        return 0;
    }
    }
    return 2;
}

/** The default of option @p o as text (from a defaults config @p d). */
static void default_text(const srv_config *d, const opt_def *o, char *buf, size_t cap)
{
    const char *base = (const char *)d;
    switch (o->kind) {
    case OPT_LISTEN:
        snprintf(buf, cap, "%s:%u", d->listen_host, d->port);
        break;
    case OPT_STR: {
        const char *s = *(char *const *)(base + o->off);
        snprintf(buf, cap, "%s", s ? s : o->off == OFF(db) ? DB_DEFAULT_TEXT : "(none)");
        break;
    }
    case OPT_INT:
        snprintf(buf, cap, "%d", *(const int *)(base + o->off));
        if (o->off == OFF(workers)) snprintf(buf, cap, "%d (CPUs)", *(const int *)(base + o->off));
        if (o->off == OFF(max_neurons))
            snprintf(buf, cap, "%d (memory)", *(const int *)(base + o->off));
        if (o->off == OFF(threads_per_run))
            snprintf(buf, cap, "%d (CPUs)/workers", auto_threads_per_run(d->workers));
        if (o->off == OFF(db_pool)) snprintf(buf, cap, "workers + http-threads + 3");
        break;
    case OPT_UINT:
        snprintf(buf, cap, "%u", *(const unsigned *)(base + o->off));
        break;
    case OPT_I64:
        snprintf(buf, cap, "%lld", (long long)*(const int64_t *)(base + o->off));
        break;
    case OPT_SIZE:
    case OPT_SIZE64: {
        if (o->off == OFF(max_body_buffer)) {
            snprintf(buf, cap, "%s", BODY_BUFFER_DEFAULT_TEXT);
            break;
        }
        if (o->off == OFF(max_run_memory)) {
            snprintf(buf, cap, "%s", RUN_MEMORY_DEFAULT_TEXT);
            break;
        }
        unsigned long long v = o->kind == OPT_SIZE
                                   ? *(const uint64_t *)(base + o->off)
                                   : (unsigned long long)*(const int64_t *)(base + o->off);
        if (v && v % (1ull << 30) == 0)
            snprintf(buf, cap, "%lluG", v >> 30);
        else if (v && v % (1ull << 20) == 0)
            snprintf(buf, cap, "%lluM", v >> 20);
        else if (v && v % (1ull << 10) == 0)
            snprintf(buf, cap, "%lluK", v >> 10);
        else
            snprintf(buf, cap, "%llu", v);
        break;
    }
    case OPT_SECONDS:
        snprintf(buf, cap, "%g", *(const double *)(base + o->off));
        break;
    }
}

static void print_help(void)
{
    srv_config d;
    srv_config_defaults(&d);
    printf("usage: eirnnd [OPTIONS]\n"
           "\n"
           "The eirnn daemon: accepts models and runs over HTTP (API v1), queues runs durably in\n"
           "SQLite (or PostgreSQL) and simulates them on worker threads. Every option can also be "
           "set\n"
           "by its environment variable; a flag overrides the variable.\n"
           "\n"
           "options (flag, environment variable, default):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char def[64], left[64];
        default_text(&d, &opts[i], def, sizeof def);
        snprintf(left, sizeof left, "--%s %s", opts[i].flag, opts[i].metavar);
        printf("  %-33s %-27s %s\n      %s\n", left, opts[i].env, def, opts[i].help);
    }
    printf("  %-33s %-27s\n      %s\n", "-h, --help", "", "this help");
    printf("  %-33s %-27s\n      %s\n", "--version", "", "print the version");
    printf("\n"
           "SIGTERM or SIGINT stops the daemon gracefully (see docs/OPERATIONS.md); exit codes:\n"
           "0 clean shutdown, 1 startup failure (database, address), 2 bad option.\n");
    srv_config_free(&d);
}

/** Whether option @p flag is given on the command line (so its variable is not read). */
static int flag_given(int argc, char **argv, const char *flag)
{
    size_t n = strlen(flag);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, flag, n) == 0 &&
            (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
            return 1;
    }
    return 0;
}

/** "@p dir/@p rest" (malloc'ed; one '/' between them), or NULL when out of memory. */
static char *path_join(const char *dir, const char *rest)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *out = malloc(n + 1 + strlen(rest) + 1);
    if (!out) return NULL;
    memcpy(out, dir, n);
    out[n] = '/';
    strcpy(out + n + (n == 1 && dir[0] == '/' ? 0 : 1), rest);
    return out;
}

/**
 * Make @p c->db an absolute path that does not depend on the working directory: with no --db and
 * no EIRNN_DB, $XDG_DATA_HOME/eirnn/eirnn.db (XDG_DATA_HOME only when absolute, as the XDG base
 * directory specification says), else $HOME/.local/share/eirnn/eirnn.db (then
 * c->db_is_default = 1: the daemon creates the directory); a relative --db is taken from the
 * working directory now. @return 0, or 2 after printing a message naming --db.
 */
static int resolve_db(srv_config *c)
{
    char *abs = NULL;
    if (srv_db_is_url(c->db)) return 0; /* a PostgreSQL URL: not a path */
    if (!c->db) {
        const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            abs = path_join(xdg, "eirnn/eirnn.db");
        else if (home && home[0] == '/')
            abs = path_join(home, ".local/share/eirnn/eirnn.db");
        else {
            fprintf(stderr, "eirnnd: --db: no database given and no place for the default one "
                            "(neither XDG_DATA_HOME nor HOME is an absolute path); give --db PATH "
                            "or EIRNN_DB\n");
            return 2;
        }
        c->db_is_default = 1;
    } else {
        const char *path = c->db, *scheme = "";
        if (strncmp(path, "sqlite:", 7) == 0) {
            scheme = "sqlite:";
            path += 7;
        }
        if (path[0] == '/') return 0;
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            fprintf(stderr,
                    "eirnnd: --db: '%s' is relative and the working directory is unknown "
                    "(%s); give an absolute path\n",
                    c->db, strerror(errno));
            return 2;
        }
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        char *joined = path_join(cwd, path);
        if (joined && *scheme) {
            abs = malloc(strlen(scheme) + strlen(joined) + 1);
            if (abs) {
                strcpy(abs, scheme);
                strcat(abs, joined);
            }
            free(joined);
        } else {
            abs = joined;
        }
    }
    if (!abs) {
        fprintf(stderr, "eirnnd: out of memory\n");
        return 2;
    }
    free(c->db);
    c->db = abs;
    return 0;
}

int srv_config_parse(srv_config *c, int argc, char **argv)
{
    /* Environment first, for the options no flag sets. */
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = getenv(opts[i].env);
        if (v && !flag_given(argc, argv, opts[i].flag) && set_opt(c, &opts[i], v, opts[i].env))
            return 2;
    }
    struct option lo[NOPTS + 3];
    for (size_t i = 0; i < NOPTS; i++)
        lo[i] = (struct option){opts[i].flag, required_argument, NULL, 1000 + (int)i};
    lo[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
    lo[NOPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lo[NOPTS + 2] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    optind = 1;
    int ch, idx;
    while ((ch = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
        if (ch == 'h') {
            print_help();
            return 1;
        }
        if (ch == 'V') {
            printf("eirnnd %s (engine %s)\n", EIRNN_VERSION, EIR_ENGINE_VERSION);
            return 1;
        }
        if (ch == ':') {
            fprintf(stderr, "eirnnd: %s: needs a value (try 'eirnnd --help')\n", argv[optind - 1]);
            return 2;
        }
        if (ch == '?' || ch < 1000 || ch >= 1000 + (int)NOPTS) {
            fprintf(stderr, "eirnnd: unknown option '%s' (try 'eirnnd --help')\n",
                    argv[optind - 1]);
            return 2;
        }
        const opt_def *o = &opts[ch - 1000];
        char who[64];
        snprintf(who, sizeof who, "--%s", o->flag);
        if (set_opt(c, o, optarg, who)) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "eirnnd: unexpected argument '%s' (try 'eirnnd --help')\n", argv[optind]);
        return 2;
    }
    if (c->threads_per_run == 0) c->threads_per_run = auto_threads_per_run(c->workers);
    if (c->max_body_buffer == 0) c->max_body_buffer = auto_body_buffer(c->max_body_bytes);
    if (c->max_body_buffer < c->max_body_bytes) c->max_body_buffer = c->max_body_bytes;
    if (c->max_run_memory == 0) c->max_run_memory = auto_run_memory(c->workers);
    if (c->db_pool == 0) {
        int n = c->workers + c->http_threads + 3;
        c->db_pool = n > 1000 ? 1000 : n;
    }
    return resolve_db(c);
}
