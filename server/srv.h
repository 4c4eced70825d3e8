/**
 * @file srv.h
 * @brief eirnnd's daemon state and configuration, passed explicitly to every part of the daemon.
 *
 * There is no global mutable state: main() owns one ::srv and hands it to the HTTP layer, the
 * worker pool and the long-poll registry. The only process-wide state is what signal handling
 * needs (signals are blocked in every thread and taken synchronously by main() with sigwait).
 */
#ifndef EIRNN_SRV_H
#define EIRNN_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "eir_json.h"
#include "metrics.h"
#include "store.h"

#ifndef EIRNN_VERSION
#define EIRNN_VERSION "0.0.0"
#endif

struct MHD_Daemon;
struct srv_pool;
struct srv_waiters;
struct srv_watch;
struct srv_modcache;
struct srv_guard;
struct srv_offload;
struct srv_lease;

/** Everything the daemon can be told on its command line or in its environment. */
typedef struct srv_config {
    char *listen_host;             /**< address to bind ("127.0.0.1", "::1", "0.0.0.0", ...) */
    unsigned port;                 /**< TCP port; 0 = ephemeral (the bound port is logged) */
    char *db;                      /**< store spec: "PATH" or "sqlite:PATH", absolute once parsed,
                                        or a "postgresql://" / "postgres://" URL (kept as given;
                                        log it only through srv_db_redacted()) */
    int db_is_default;             /**< db is the default location (its directory is created) */
    int workers;                   /**< simulation threads; 0 = accept and queue only */
    int threads_per_run;           /**< engine threads of one run (1..256); 0 until parsed = auto */
    char *token;                   /**< bearer token, or NULL for no authentication */
    uint64_t max_body_bytes;       /**< largest request body */
    uint64_t max_body_buffer;      /**< bodies buffered at once, all connections (0 = no bound;
                                        srv_config_parse() always sets one) */
    int max_neurons;               /**< model N limit */
    int64_t max_steps;             /**< run T limit */
    int max_trials;                /**< run B limit */
    int64_t max_recorded_values;   /**< sum over recorded variables of B * T' * n */
    int64_t queue_limit;           /**< queued runs before POST /v1/runs answers 503; 0 = none */
    double run_time_limit;         /**< default and largest wall-clock seconds per run; 0 = none */
    double model_build_time_limit; /**< wall-clock seconds of one model build; 0 = none */
    int max_attempts;              /**< claims of a run before a crashed run is failed */
    double long_poll_max;          /**< largest ?wait= in seconds */
    double shutdown_grace;         /**< seconds running runs get to finish at shutdown */
    int http_threads;              /**< libmicrohttpd thread pool size */
    unsigned connection_timeout;   /**< idle connection timeout, seconds */
    unsigned max_connections;      /**< concurrent connections */
    int64_t cache_bytes;           /**< model cache budget in bytes; 0 = no cache */
    uint64_t max_run_memory;       /**< most bytes one run may allocate (eir_run_memory_bytes());
                                        0 until parsed = RAM / 2 / workers (run_budget.c) */
    int64_t max_sweep_points;      /**< most points of one sweep (docs/SWEEPS.md "Limits") */
    int64_t max_sweep_check_bytes; /**< points x (base run + model document bytes) a sweep's
                                        validation may cost at most (sweep_check.c) */
    double lease_seconds;          /**< a claim's lease (store_config::lease_s), 2 .. 3600 */
    int db_pool;                   /**< most database connections (store_config::pool_size);
                                        0 until parsed = workers + http_threads + 3 */
} srv_config;

/** The daemon: configuration, storage, HTTP server, pool, waiters, metrics. */
typedef struct srv {
    srv_config cfg;
    eir_json_limits limits;      /**< parsing limits derived from cfg */
    store *store;                /**< shared store handle (immutable) */
    pthread_key_t conn_key;      /**< per-thread store connection of the HTTP threads */
    struct MHD_Daemon *mhd;      /**< the HTTP daemon, NULL when not started */
    int listen_fd;               /**< listening socket (owned until quiesced) */
    unsigned port;               /**< the port actually bound */
    struct srv_pool *pool;       /**< the simulation workers */
    struct srv_waiters *waiters; /**< suspended long polls */
    struct srv_watch *watch;     /**< wakes them for runs other daemons end (waiters_watch.h) */
    struct srv_lease *lease;     /**< renews this daemon's leases, rescues expired ones (lease.h) */
    struct srv_modcache *models; /**< built models by id */
    struct srv_offload *offload; /**< runs heavy requests off the HTTP threads (offload.h) */
    struct srv_guard *guard;     /**< slow-client watchdog (http_guard.c), NULL when stopped */
    srv_metrics metrics;         /**< counters and histograms */
    /** Body bytes held by requests (http_request.c): each request reserves its buffer here and
     *  gives it back when it ends; never more than cfg.max_body_buffer. */
    atomic_uint_least64_t body_buffered;
    /** Changes this daemon made to jobs, models and sweeps since it started (changes.h): the
     *  feed of GET /v1/changes reports 1 + this. */
    atomic_uint_least64_t changes;
    atomic_int stopping;    /**< 1 once shutdown began: no new runs are accepted */
    int has_token;          /**< a bearer token is required on /v1 and /metrics */
    uint8_t token_hash[32]; /**< SHA-256 of the token (compared in constant time) */
    double started;         /**< srv_now() at start */
    int has_conn_key;       /**< conn_key was created (daemon.c) */
    /** 503 problem made at start, for when no answer can be allocated (shared, never changed) */
    struct MHD_Response *oom_response;
} srv;

/* ---- config.c ------------------------------------------------------------------------------ */

/**
 * Fill @p c with the documented defaults (listen 127.0.0.1:8080, ...); the database stays NULL
 * until srv_config_parse() resolves it.
 */
void srv_config_defaults(srv_config *c);

/**
 * Apply the EIRNN_* environment variables, then the command-line flags (flags win), to @p c,
 * then make the database path absolute: a relative one from the working directory; none given,
 * $XDG_DATA_HOME/eirnn/eirnn.db, else $HOME/.local/share/eirnn/eirnn.db (cfg.db_is_default).
 * @return 0 to run; 1 when --help or --version printed something and the process should exit 0;
 *         2 after printing a message naming the flag (or variable) with a bad value, for exit 2.
 */
int srv_config_parse(srv_config *c, int argc, char **argv);

/** Free the strings of @p c (NULL is a no-op). */
void srv_config_free(srv_config *c);

/** 1 when store spec @p db is a PostgreSQL URL ("postgresql://..." or "postgres://..."). */
int srv_db_is_url(const char *db);

/**
 * @p db as it may be logged or shown: a PostgreSQL URL with its password replaced by "***" (the
 * user-info's "user:password@" and any "password=" parameter), anything else as it is; cut to
 * @p cap - 1 bytes. Cannot fail (NULL gives "").
 */
void srv_db_redacted(const char *db, char *buf, size_t cap);

/** The parsing limits that @p c implies. */
void srv_config_limits(const srv_config *c, eir_json_limits *lim);

/* ---- util.c -------------------------------------------------------------------------------- */

/** Seconds on the monotonic clock. */
double srv_now(void);

/** Milliseconds since the Unix epoch. */
int64_t srv_epoch_ms(void);

/** Format @p ms (epoch milliseconds) as RFC 3339 UTC with milliseconds into @p buf (>= 32). */
void srv_rfc3339(int64_t ms, char *buf, size_t cap);

/** SHA-256 of @p len bytes as 64 hex characters + NUL. */
void srv_sha256_hex(const void *data, size_t len, char hex[65]);

/** SHA-256 of @p len bytes into @p out (32 bytes). */
void srv_sha256(const void *data, size_t len, uint8_t out[32]);

/**
 * Compare 32-byte digests in constant time (no early exit).
 * @return 1 when equal, else 0.
 */
int srv_ct_equal32(const uint8_t *a, const uint8_t *b);

/**
 * Route jansson's allocations through a wrapper that notes failures per thread. Call once at
 * start, before any other thread runs.
 *
 * Why: when an allocation fails, jansson 2.14 does not always say so. Its lexer drops a
 * character it cannot append (json_loads() then returns a document with a truncated string or
 * number: another model id, another weight), and json_dumps() ignores a failed key append (the
 * text returned misses bytes). Code that parses or dumps JSON clears the flag first and checks
 * srv_json_oom() after, treating a set flag as out of memory whatever jansson returned.
 */
void srv_json_init(void);

/** 1 when a jansson allocation failed on the calling thread since the flag was last cleared. */
int srv_json_oom(void);

/** Set (1) or clear (0) the calling thread's jansson allocation-failure flag. */
void srv_json_oom_set(int v);

/**
 * json_dumps() that returns NULL when an allocation failed during the dump (the text could miss
 * bytes, see srv_json_init()). Keeps the thread's flag set if it was set before.
 */
char *srv_json_dumps(const json_t *j, size_t flags);

/**
 * The calling thread's store connection, created on first use and closed by the key's
 * destructor when the thread exits. NULL only when out of memory.
 */
store_conn *srv_thread_conn(srv *s);

/**
 * Append @p text with JSON string escaping (no quotes added) to @p buf at *@p len, never
 * writing past @p cap - 1 and always NUL-terminating. Used to build log lines by hand.
 */
void srv_json_escape(char *buf, size_t cap, size_t *len, const char *text);

/* ---- log.c --------------------------------------------------------------------------------- */

/**
 * Write one JSON line on stderr: {"ts": now, "event": @p event, ...fields of @p fields}.
 * Steals the reference to @p fields (may be NULL). One write(2) per line, so lines of different
 * threads never interleave. Never fails visibly.
 */
void srv_log(const char *event, json_t *fields);

/** Log the request line of one finished request (cheaper than srv_log on the hot path). */
void srv_log_request(const char *method, const char *path, unsigned status, double duration_ms,
                     uint64_t bytes, int completed);

#endif /* EIRNN_SRV_H */
