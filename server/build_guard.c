/**
 * @file build_guard.c
 * @brief The watcher of one model build (build_guard.h).
 */
#include "build_guard.h"

#include <string.h>
#include <time.h>

#include "eir_clock.h"
#include "srv.h"

/** Seconds between looks at the stopping flag and the deadline. */
#define GUARD_TICK 0.05
/** Looks between two calls of the cancel callback (0.25 s). */
#define GUARD_CANCEL_TICKS 5

static void trigger(srv_build_guard *g, srv_guard_why why)
{
    atomic_store(&g->why, (int)why);
    eir_stop_request(g->stop);
}

static void *guard_main(void *arg)
{
    srv_build_guard *g = arg;
    for (unsigned tick = 1;; tick++) {
        struct timespec ts = eir_clock_deadline(CLOCK_MONOTONIC, GUARD_TICK);
        pthread_mutex_lock(&g->lock);
        while (!g->done)
            if (pthread_cond_timedwait(&g->cond, &g->lock, &ts) != 0) break;
        int done = g->done;
        pthread_mutex_unlock(&g->lock);
        if (done) return NULL;
        if (g->stopping && atomic_load(g->stopping)) {
            trigger(g, SRV_GUARD_SHUTDOWN);
            return NULL;
        }
        if (g->deadline > 0 && srv_now() > g->deadline) {
            trigger(g, SRV_GUARD_TIME);
            return NULL;
        }
        if (g->cancel && tick % GUARD_CANCEL_TICKS == 0 && g->cancel(g->cancel_ctx)) {
            trigger(g, SRV_GUARD_CANCEL);
            return NULL;
        }
    }
}

int srv_build_guard_begin(srv_build_guard *g, const atomic_int *stopping, double limit_s,
                          srv_guard_cancel_fn cancel, void *cancel_ctx)
{
    memset(g, 0, sizeof *g);
    atomic_init(&g->why, SRV_GUARD_NONE);
    g->stopping = stopping;
    g->deadline = limit_s > 0 ? srv_now() + limit_s : 0;
    g->cancel = cancel;
    g->cancel_ctx = cancel_ctx;
    g->stop = eir_stop_new();
    if (!g->stop) return -1;
    /* already stopping: no thread needed to say so; nothing to watch: no thread either */
    if (stopping && atomic_load(stopping)) {
        trigger(g, SRV_GUARD_SHUTDOWN);
        return 0;
    }
    if (!stopping && g->deadline == 0 && !cancel) return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->tid, NULL, guard_main, g) != 0) {
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
        eir_stop_free(g->stop);
        g->stop = NULL;
        return -1;
    }
    g->started = 1;
    return 0;
}

srv_guard_why srv_build_guard_why(srv_build_guard *g)
{
    return (srv_guard_why)atomic_load(&g->why);
}

srv_guard_why srv_build_guard_end(srv_build_guard *g)
{
    if (g->started) {
        pthread_mutex_lock(&g->lock);
        g->done = 1;
        pthread_cond_signal(&g->cond);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->tid, NULL);
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
        g->started = 0;
    }
    eir_stop_free(g->stop);
    g->stop = NULL;
    return srv_build_guard_why(g);
}
