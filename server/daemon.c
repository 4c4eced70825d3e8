/**
 * @file daemon.c
 * @brief eirnnd's life cycle (daemon.h): start, graceful shutdown, free.
 */
#include "eir_clock.h"
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "http.h"
#include "lease.h"
#include "modcache.h"
#include "offload.h"
#include "pool.h"
#include "waiters_watch.h"

static void conn_destructor(void *p)
{
    store_disconnect(p);
}

/**
 * Wait up to @p seconds for a signal of @p set (just sleep when @p set is NULL).
 * @return the signal, or 0 on timeout.
 */
static int wait_signal(const sigset_t *set, double seconds)
{
    struct timespec ts = eir_timespec_add((struct timespec){0, 0}, seconds);
    if (!set) {
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        return 0;
    }
    for (;;) {
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0) return sig;
        if (errno == EINTR) continue;
        return 0;
    }
}

/**
 * Create the directories above file @p path that are missing, each with mode 0700 (existing ones
 * are left as they are). @return 0, or -1 after logging which directory could not be made.
 */
static int make_parent_dirs(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        srv_log("error",
                json_pack("{s:s, s:s}", "message", "the database path is too long", "db", path));
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(dir, 0700) != 0 &&
            (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
            int err = errno == EEXIST ? ENOTDIR : errno;
            srv_log("error", json_pack("{s:s, s:s, s:s}", "message",
                                       "cannot create the database's directory", "directory", dir,
                                       "reason", strerror(err)));
            return -1;
        }
        *p = c;
        if (!c) return 0;
    }
}

int srv_daemon_start(srv *s)
{
    s->listen_fd = -1;
    srv_config_limits(&s->cfg, &s->limits);
    srv_metrics_init(&s->metrics);
    atomic_init(&s->stopping, 0);
    s->started = srv_now();
    if (s->cfg.token) {
        s->has_token = 1;
        srv_sha256(s->cfg.token, strlen(s->cfg.token), s->token_hash);
    }
    if (pthread_key_create(&s->conn_key, conn_destructor) != 0) {
        srv_log("error", json_pack("{s:s}", "message", "cannot create a thread key"));
        return -1;
    }
    s->has_conn_key = 1;

    if (s->cfg.db_is_default && make_parent_dirs(s->cfg.db) != 0) return -1;
    char err[512] = "", shown[1024];
    store_config sc;
    store_config_default(&sc);
    sc.lease_s = s->cfg.lease_seconds;
    sc.pool_size = s->cfg.db_pool;
    s->store = store_open(s->cfg.db, &sc, err, sizeof err);
    if (!s->store) {
        srv_db_redacted(s->cfg.db, shown, sizeof shown);
        srv_log("error", json_pack("{s:s, s:s, s:s}", "message", "cannot open the database", "db",
                                   shown, "reason", err));
        return -1;
    }
    /* Runs left running by a crash go back to the queue, at the start of a daemon that
     * simulates: an HTTP-only one (--workers 0) beside a simulating one on the same file must
     * not take the other's running runs away (docs/OPERATIONS.md, "Deployment notes"). */
    store_conn *mc = s->cfg.workers > 0 ? store_connect(s->store) : NULL;
    store_requeue_report rq;
    memset(&rq, 0, sizeof rq);
    store_status st = s->cfg.workers == 0 ? STORE_OK
                      : mc                ? store_requeue_orphans(mc, &rq)
                                          : STORE_ERROR;
    if (st != STORE_OK) {
        srv_log("error", json_pack("{s:s, s:s}", "message", "cannot requeue orphaned runs",
                                   "reason", mc ? store_errmsg(mc) : "out of memory"));
        store_disconnect(mc);
        return -1;
    }
    store_disconnect(mc);
    if (rq.requeued || rq.failed || rq.cancelled || rq.partial_results)
        srv_log("requeued",
                json_pack("{s:I, s:I, s:I, s:I}", "requeued", (json_int_t)rq.requeued, "failed",
                          (json_int_t)rq.failed, "cancelled", (json_int_t)rq.cancelled,
                          "partial_results", (json_int_t)rq.partial_results));

    eir_blas_single_threaded();
    s->models = srv_modcache_new(s->cfg.cache_bytes, &s->metrics.model_builds);
    s->waiters = srv_waiters_new(&s->metrics.long_polls);
    s->offload = srv_offload_start(s, &s->metrics.offload_waiting);
    if (!s->models || !s->waiters || !s->offload) {
        srv_log("error", json_pack("{s:s}", "message", "out of memory at start"));
        return -1;
    }
    srv_modcache_set_build_stop(s->models, &s->stopping, s->cfg.model_build_time_limit);
    if (srv_http_listen(s) != 0) return -1;
    s->pool = srv_pool_start(s, s->cfg.workers);
    if (!s->pool) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the worker threads"));
        return -1;
    }
    /* after the pool: the watcher wakes it (a store that notifies), the lease thread too */
    s->watch = srv_watch_start(s);
    if (!s->watch) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the store watcher"));
        return -1;
    }
    s->lease = srv_lease_start(s);
    if (!s->lease) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the lease thread"));
        return -1;
    }
    return srv_http_start(s) == 0 ? 0 : -1;
}

void srv_daemon_shutdown(srv *s, const sigset_t *set, int sig)
{
    double t0 = srv_now();
    srv_log("stopping", json_pack("{s:s, s:f}", "signal", sig ? strsignal(sig) : "none", "grace_s",
                                  s->cfg.shutdown_grace));
    atomic_store(&s->stopping, 1);
    srv_http_quiesce(s);
    srv_waiters_shutdown(s->waiters);
    srv_pool_drain(s->pool);
    /* Sweeps waiting to be checked get 503; the one being checked is finished (its store work is
     * bounded) and answered: every connection is resumed before srv_http_stop(). */
    srv_offload_shutdown(s->offload);

    double deadline = t0 + s->cfg.shutdown_grace;
    while (srv_pool_busy(s->pool) > 0 && srv_now() < deadline) {
        int again = wait_signal(set, 0.05);
        if (again) {
            srv_log("stopping_now", json_pack("{s:s}", "signal", strsignal(again)));
            break;
        }
    }
    int busy = srv_pool_busy(s->pool);
    if (busy > 0) srv_log("releasing_runs", json_pack("{s:i}", "running", busy));
    srv_pool_release(s->pool);
    srv_pool_wait(s->pool); /* workers gone; the pool stays valid for /healthz until HTTP stops */
    /* Runs released: no lease of this daemon is left to renew. The watcher goes before the
     * pool is freed (it wakes it). */
    srv_lease_stop(s->lease);
    s->lease = NULL;
    srv_watch_stop(s->watch);
    s->watch = NULL;

    /* Let answers to resumed long polls and requests in progress go out (briefly). */
    double http_deadline = srv_now() + 2.0;
    while (atomic_load(&s->metrics.in_flight) > 0 && srv_now() < http_deadline)
        wait_signal(set, 0.01);
    srv_http_stop(s);
    srv_pool_join(s->pool);
    s->pool = NULL;
}

void srv_daemon_free(srv *s)
{
    if (s->pool) {
        srv_pool_drain(s->pool);
        srv_pool_release(s->pool);
        srv_pool_wait(s->pool);
    }
    if (s->waiters) srv_waiters_shutdown(s->waiters);
    srv_offload_shutdown(s->offload);
    srv_http_stop(s);
    srv_lease_stop(s->lease);
    s->lease = NULL;
    srv_watch_stop(s->watch); /* before the pool it wakes is freed */
    s->watch = NULL;
    srv_pool_join(s->pool);
    s->pool = NULL;
    srv_waiters_free(s->waiters);
    s->waiters = NULL;
    srv_offload_free(s->offload);
    s->offload = NULL;
    srv_modcache_free(s->models);
    s->models = NULL;
    store_close(s->store);
    s->store = NULL;
    if (s->has_conn_key) pthread_key_delete(s->conn_key);
    s->has_conn_key = 0;
}
