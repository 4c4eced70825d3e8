/**
 * @file api_harness.h
 * @brief API test harness: starts the real eirnnd (EIRNND_BIN) on 127.0.0.1 port 0 with a
 *        temporary database, reads the bound port from its "listening" log line, captures its
 *        stderr (JSON log lines), and drives it with libcurl.
 *
 * Store: an SQLite file in the daemon's temporary directory; with EIRNN_TEST_STORE=pg (the
 * ctest tests api/pg/<name>, fixture pg) a fresh database of the tests' PostgreSQL cluster
 * (tests/common/eir_test_pg.h), made by api_init() and dropped by api_cleanup(). A test about
 * SQLite's file skips on PostgreSQL (api_store_is_pg()).
 *
 * Time: every timeout of these helpers (the start, api_stop, api_wait_run, api_wait_status,
 * the transfer timeout of a request) is multiplied by EIRNN_TEST_TIME_SCALE (default 1;
 * eir_time_scale.h), which scripts/sanitize.sh sets for the slow sanitizer and valgrind runs.
 * Tests scale their own waits and upper bounds with eir_scaled().
 */
#ifndef EIRNN_API_HARNESS_H
#define EIRNN_API_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include "../common/eir_time_scale.h"

struct api_logbuf;

/** A running (or stopped) eirnnd. */
typedef struct api_daemon {
    pid_t pid;         /**< 0 when not running */
    int port;          /**< bound port */
    char dir[256];     /**< temporary directory (holding the database on SQLite) */
    char db[320];      /**< --db: the database path, or the PostgreSQL URL (EIRNN_TEST_STORE=pg) */
    char made_db[320]; /**< the PostgreSQL database api_init made (dropped by api_cleanup), or "" */
    char base[64];     /**< "http://127.0.0.1:PORT" */
    pthread_t reader;  /**< drains stderr into the log */
    int reader_started;
    struct api_logbuf *logbuf; /**< everything the daemon wrote on stderr (heap: a reader
                                    thread may outlive a test that failed half-way) */
    int exit_status;           /**< waitpid status once stopped, -1 before */
} api_daemon;

/** An HTTP answer. */
typedef struct api_resp {
    long status;   /**< HTTP status, 0 when the request failed at the transport level */
    char *body;    /**< NUL-terminated body (may contain NULs for .npy) */
    size_t len;    /**< body length */
    char *headers; /**< raw response headers */
    int curl_code; /**< CURLcode */
} api_resp;

/** Make a fresh temporary directory for a daemon in @p d->dir (zeroes @p d first), and its
 *  database in @p d->db: a file there, or a new PostgreSQL database (EIRNN_TEST_STORE=pg).
 *  Fails the test when either cannot be made. */
void api_init(api_daemon *d);

/** 1 when the daemons run on PostgreSQL (EIRNN_TEST_STORE=pg), else 0. */
int api_store_is_pg(void);

/** Skip the running test on PostgreSQL, saying @p why (a test about the SQLite store). */
#define API_SKIP_ON_PG(why)                                                                        \
    do {                                                                                           \
        if (api_store_is_pg()) {                                                                   \
            print_message("[  SKIP    ] on PostgreSQL: %s\n", (why));                              \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/**
 * Start eirnnd with the database in d->dir and the extra arguments @p args (NULL-terminated,
 * may be NULL), plus environment assignments @p env ("K=V", NULL-terminated, may be NULL).
 * Waits for the "listening" line and fills d->port and d->base. Fails the test on error.
 */
void api_start(api_daemon *d, const char *const *args, const char *const *env);

/** Send @p sig and wait up to @p timeout seconds (scaled) for exit. @return the exit code (>= 0),
 * or -1 when it did not exit or died of a signal (then it is killed with SIGKILL). */
int api_stop(api_daemon *d, int sig, double timeout);

/** The end of a test group: api_stop() with SIGTERM (30 s, scaled), then api_cleanup(); fails
 *  the test (after cleaning up) unless the daemon exited 0. */
void api_stop_clean(api_daemon *d);

/** kill -9 and reap. */
void api_kill9(api_daemon *d);

/** Stop a running daemon (SIGTERM), remove the temporary directory (and the PostgreSQL
 *  database api_init made) and free the log. */
void api_cleanup(api_daemon *d);

/** A copy of the captured stderr so far (free it). */
char *api_log(api_daemon *d);

/** Count log lines containing @p needle. */
int api_log_count(api_daemon *d, const char *needle);

/**
 * Make a request. @p headers: NULL-terminated "Name: value" strings (may be NULL). @p body may
 * be NULL. Fills @p out (free with api_resp_free).
 */
void api_req(api_daemon *d, const char *method, const char *path, const char *const *headers,
             const void *body, size_t len, api_resp *out);

/** Shorthands for api_req without headers. */
void api_get(api_daemon *d, const char *path, api_resp *out);
void api_post(api_daemon *d, const char *path, const char *json, api_resp *out);
void api_delete(api_daemon *d, const char *path, api_resp *out);

/** Free @p r's buffers and zero it. */
void api_resp_free(api_resp *r);

/** Value of response header @p name (case-insensitive) copied into @p buf, or NULL. */
const char *api_header(const api_resp *r, const char *name, char *buf, size_t cap);

/** Parse the body as JSON (fails the test when it is not). */
json_t *api_json(const api_resp *r);

/** The string member @p k of object @p j; NULL when absent or not a string. */
const char *api_jstr(const json_t *j, const char *k);

/** Assert the response is a problem+json with @p status; returns the parsed problem (decref). */
json_t *api_expect_problem(const api_resp *r, long status);

/** POST a model document and return its id (malloc'ed); fails the test unless 201 (202 for a
 *  document with a `generate` recipe, which a worker builds). */
char *api_create_model(api_daemon *d, const char *model_json);

/** POST a run document and return its id (malloc'ed); fails the test unless 202. */
char *api_submit_run(api_daemon *d, const char *run_json);

/**
 * Poll GET /v1/runs/{id}?wait= until the run is final or @p timeout seconds (scaled) passed;
 * returns the last run resource (decref) — status checked by the caller.
 */
json_t *api_wait_run(api_daemon *d, const char *id, double timeout);

/** api_wait_run() for any job collection: GET /v1/@p collection ("runs", "analyses")/{id}?wait=
 *  until the job is final or @p timeout seconds (scaled) passed; returns the last document. */
json_t *api_wait_job(api_daemon *d, const char *collection, const char *id, double timeout);

/** api_wait_status() for any job collection (@p noun "run", "analysis" in the failure). */
void api_wait_job_status(api_daemon *d, const char *collection, const char *noun, const char *id,
                         const char *status, double timeout);

/** Poll until the run's status is @p status (e.g. "running"); fails the test after @p timeout
 *  seconds (scaled). */
void api_wait_status(api_daemon *d, const char *id, const char *status, double timeout);

/** Read a whole file (malloc'ed, NUL-terminated); NULL when it cannot be read. */
char *api_read_file(const char *path, size_t *len);

/** Write a file; fails the test on error. */
void api_write_file(const char *path, const char *data, size_t len);

/** Seconds on the monotonic clock. */
double api_now(void);

/** Sleep @p seconds times the time scale: a wait for the daemon to get somewhere. */
void api_pause(double seconds);

/** Run a shell command; returns its exit status (fails the test if it cannot run). */
int api_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * Run `eirnn simulate MODEL RUN -o OUTDIR -q` (MODEL may be NULL for an inline model) and
 * return the exit code.
 */
int api_simulate(const char *model_path, const char *run_path, const char *out_dir);

/** Small example documents (static strings). */
extern const char *const api_model_small; /**< N = 10, 2 inputs, a readout (schema example) */
extern const char *const api_model_noisy; /**< N = 12, sigma > 0, generated W */
extern const char *const api_model_slow;  /**< N = 300: about 0.1 ms per step */

#endif /* EIRNN_API_HARNESS_H */
