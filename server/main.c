/**
 * @file main.c
 * @brief eirnnd: parse the configuration, open the store, requeue orphans, start the workers
 *        and the HTTP server, wait for SIGTERM/SIGINT and shut down gracefully.
 *
 * Shutdown: stop accepting connections, refuse new runs (503), answer every pending long poll,
 * let running runs finish for up to --shutdown-grace seconds (a second signal cuts the grace
 * short), give the rest back to the queue, stop HTTP, close the store, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "modcache.h"
#include "pool.h"

static void conn_destructor(void *p)
{
    store_disconnect(p);
}

/** Wait up to @p seconds for a signal of @p set. @return the signal, or 0 on timeout. */
static int wait_signal(const sigset_t *set, double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0) return sig;
        if (errno == EINTR) continue;
        return 0;
    }
}

/** Stop everything that was started, in order (see the file comment). */
static void shutdown_daemon(srv *s, const sigset_t *set, int sig)
{
    double t0 = srv_now();
    srv_log("stopping", json_pack("{s:s, s:f}", "signal", sig ? strsignal(sig) : "none", "grace_s",
                                  s->cfg.shutdown_grace));
    atomic_store(&s->stopping, 1);
    srv_http_quiesce(s);
    srv_waiters_shutdown(s->waiters);
    srv_pool_drain(s->pool);

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

    /* Let answers to resumed long polls and requests in progress go out (briefly). */
    double http_deadline = srv_now() + 2.0;
    while (atomic_load(&s->metrics.in_flight) > 0 && srv_now() < http_deadline)
        wait_signal(set, 0.01);
    srv_http_stop(s);
    srv_pool_join(s->pool);
    s->pool = NULL;
}

int main(int argc, char **argv)
{
    srv_json_init(); /* before any JSON is made (see srv.h) */
    srv s;
    memset(&s, 0, sizeof s);
    s.listen_fd = -1;
    srv_config_defaults(&s.cfg);
    int rc = srv_config_parse(&s.cfg, argc, argv);
    if (rc) {
        srv_config_free(&s.cfg);
        return rc == 1 ? 0 : 2;
    }
    srv_config_limits(&s.cfg, &s.limits);
    srv_metrics_init(&s.metrics);
    atomic_init(&s.stopping, 0);
    s.started = srv_now();
    if (s.cfg.token) {
        s.has_token = 1;
        srv_sha256(s.cfg.token, strlen(s.cfg.token), s.token_hash);
    }

    /* Signals: blocked in every thread, taken here synchronously. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    store_conn *mc = NULL;
    if (pthread_key_create(&s.conn_key, conn_destructor) != 0) {
        srv_log("error", json_pack("{s:s}", "message", "cannot create a thread key"));
        srv_config_free(&s.cfg);
        return 1;
    }
    char err[512] = "";
    s.store = store_open(s.cfg.db, NULL, err, sizeof err);
    if (!s.store) {
        srv_log("error", json_pack("{s:s, s:s, s:s}", "message", "cannot open the database", "db",
                                   s.cfg.db, "reason", err));
        goto out;
    }
    mc = store_connect(s.store);
    store_requeue_report rq;
    memset(&rq, 0, sizeof rq);
    store_status st = mc ? store_requeue_orphans(mc, &rq) : STORE_ERROR;
    if (st != STORE_OK) {
        srv_log("error", json_pack("{s:s, s:s}", "message", "cannot requeue orphaned runs",
                                   "reason", mc ? store_errmsg(mc) : "out of memory"));
        goto out;
    }
    if (rq.requeued || rq.failed || rq.cancelled || rq.partial_results)
        srv_log("requeued",
                json_pack("{s:I, s:I, s:I, s:I}", "requeued", (json_int_t)rq.requeued, "failed",
                          (json_int_t)rq.failed, "cancelled", (json_int_t)rq.cancelled,
                          "partial_results", (json_int_t)rq.partial_results));

    eir_blas_single_threaded();
    s.models = srv_modcache_new(s.cfg.cache_bytes);
    s.waiters = srv_waiters_new(&s.metrics.long_polls);
    if (!s.models || !s.waiters) {
        srv_log("error", json_pack("{s:s}", "message", "out of memory at start"));
        goto out;
    }
    if (srv_http_listen(&s) != 0) goto out;
    s.pool = srv_pool_start(&s, s.cfg.workers);
    if (!s.pool) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the worker threads"));
        goto out;
    }
    if (srv_http_start(&s) != 0) goto out;
    srv_log("listening",
            json_pack("{s:s, s:i, s:s, s:i, s:i, s:b, s:s, s:s}", "host", s.cfg.listen_host, "port",
                      (int)s.port, "db", s.cfg.db, "workers", s.cfg.workers, "http_threads",
                      s.cfg.http_threads, "auth", s.has_token, "version", EIRNN_VERSION, "engine",
                      EIR_ENGINE_VERSION));

    int sig = 0;
    while (!sig) {
        if (sigwait(&set, &sig) != 0) sig = 0;
    }
    shutdown_daemon(&s, &set, sig);
    exit_code = 0;

out:
    if (s.pool) {
        srv_pool_drain(s.pool);
        srv_pool_release(s.pool);
        srv_pool_join(s.pool);
        s.pool = NULL;
    }
    if (s.waiters) srv_waiters_shutdown(s.waiters);
    srv_http_stop(&s);
    srv_waiters_free(s.waiters);
    srv_modcache_free(s.models);
    store_disconnect(mc);
    store_close(s.store);
    pthread_key_delete(s.conn_key);
    if (exit_code == 0) srv_log("stopped", json_pack("{s:f}", "uptime_s", srv_now() - s.started));
    srv_config_free(&s.cfg);
    return exit_code;
}
