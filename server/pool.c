/**
 * @file pool.c
 * @brief Worker threads: claim, execute, repeat; sleep on a condition variable when idle.
 */
#include "changes.h"
#include "eir_clock.h"
#include "modcache.h"
#include "pool.h"
#include "waiters.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct srv_worker {
    struct srv_pool *pool;
    pthread_t tid;
    int index;
    int started;
    /** The claims this worker holds (guarded by the pool's lock; srv_pool_held()): [0] the run
     *  it executes, [1] the run its last finish claimed for it next; id "" when none. */
    char held[2][STORE_ID_MAX];
    int held_attempt[2];
} srv_worker;

struct srv_pool {
    srv *s;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t gen; /**< bumped by srv_pool_notify */
    int draining; /**< guarded by lock */
    atomic_int release;
    atomic_int busy;
    int n;
    srv_worker *w;
    char warm[SRV_POOL_WARM_MAX][STORE_ID_MAX]; /**< srv_pool_warm() requests, guarded by lock */
    int nwarm;
};

/** Record the claims worker @p w holds now: @p run (executing) and @p next (claimed for
 *  after it); NULL or an empty id: none. The lease thread renews these (srv_pool_held()). */
static void hold(srv_worker *w, const store_run *run, const store_run *next)
{
    const store_run *both[2] = {run, next};
    pthread_mutex_lock(&w->pool->lock);
    for (int i = 0; i < 2; i++) {
        const store_run *r = both[i] && both[i]->id[0] ? both[i] : NULL;
        snprintf(w->held[i], sizeof w->held[i], "%s", r ? r->id : "");
        w->held_attempt[i] = r ? r->attempts : 0;
    }
    pthread_mutex_unlock(&w->pool->lock);
}

size_t srv_pool_held_max(struct srv_pool *p)
{
    return p ? 2 * (size_t)p->n : 0;
}

size_t srv_pool_held(struct srv_pool *p, char (*ids)[STORE_ID_MAX], int *attempts, size_t cap)
{
    if (!p) return 0;
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (int k = 0; k < p->n; k++)
        for (int i = 0; i < 2; i++) {
            if (!p->w[k].held[i][0]) continue;
            if (n < cap) {
                memcpy(ids[n], p->w[k].held[i], STORE_ID_MAX);
                attempts[n] = p->w[k].held_attempt[i];
            }
            n++;
        }
    pthread_mutex_unlock(&p->lock);
    return n < cap ? n : cap;
}

/** Give a run claimed for this worker back to the queue (the pool drains before it started).
 *  A failure is logged; the run then stays running until the next start queues it again. */
static void give_back(store_conn *c, store_run *run)
{
    store_status st = store_run_release(c, run->id, run->attempts, NULL);
    srv_log("run_released",
            json_pack("{s:s, s:s, s:s}", "run_id", run->id, "reason",
                      "the daemon stops before the run started", "store", store_status_name(st)));
    store_run_clear(run);
}

/** Pending models looked at per pass. */
#define PENDING_BATCH 8

/**
 * Build the pending models of the store (POST /v1/models with a recipe), oldest first, before
 * claiming runs: one build per model (the cache makes a second worker skip a model being built,
 * and a run's worker wait for it). Each build records its outcome in the store. Stops early when
 * the pool drains. A store error is logged; the models stay pending for the next pass.
 */
static void build_pending(struct srv_pool *p, store_conn *c, int index)
{
    srv *s = p->s;
    char ids[PENDING_BATCH][STORE_ID_MAX];
    int n = 0;
    store_status st = store_model_pending(c, ids, PENDING_BATCH, &n);
    if (st != STORE_OK) {
        srv_log("worker_error", json_pack("{s:i, s:s, s:s}", "worker", index, "status",
                                          store_status_name(st), "message", store_errmsg(c)));
        return;
    }
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&p->lock);
        int stop = p->draining;
        pthread_mutex_unlock(&p->lock);
        if (stop || atomic_load(&p->release)) return;
        eir_error err;
        eir_error_clear(&err);
        atomic_fetch_add(&p->busy, 1);
        atomic_fetch_add(&s->metrics.workers_busy, 1);
        srv_modcache_build(s->models, c, &s->limits, ids[i], &st, &err);
        atomic_fetch_sub(&s->metrics.workers_busy, 1);
        atomic_fetch_sub(&p->busy, 1);
        srv_changes_bump(s); /* the model is built or failed now */
    }
}

/** Build the models asked for by srv_pool_warm() into the cache, one at a time, oldest first. */
static void warm_models(struct srv_pool *p, store_conn *c)
{
    srv *s = p->s;
    for (;;) {
        char id[STORE_ID_MAX];
        pthread_mutex_lock(&p->lock);
        int stop = p->draining || p->nwarm == 0;
        if (!stop) {
            memcpy(id, p->warm[0], sizeof id);
            memmove(p->warm[0], p->warm[1], (size_t)(p->nwarm - 1) * sizeof p->warm[0]);
            p->nwarm--;
        }
        pthread_mutex_unlock(&p->lock);
        if (stop || atomic_load(&p->release)) return;
        eir_error err;
        eir_error_clear(&err);
        store_status st;
        atomic_fetch_add(&p->busy, 1);
        atomic_fetch_add(&s->metrics.workers_busy, 1);
        srv_mc_status r = srv_modcache_build(s->models, c, &s->limits, id, &st, &err);
        atomic_fetch_sub(&s->metrics.workers_busy, 1);
        atomic_fetch_sub(&p->busy, 1);
        if (r != SRV_MC_OK)
            srv_log("model_warm_failed",
                    json_pack("{s:s, s:s}", "model_id", id, "error",
                              r == SRV_MC_STORE ? store_errmsg(c) : err.message));
    }
}

static void *worker_main(void *arg)
{
    srv_worker *w = arg;
    struct srv_pool *p = w->pool;
    srv *s = p->s;
    store_conn *c = store_connect(s->store);
    double backoff = 0.05;
    pthread_mutex_lock(&p->lock);
    uint64_t seen = p->gen;
    pthread_mutex_unlock(&p->lock);
    /* The run claimed by the previous run's finish, in its transaction (srv_exec_run()). */
    store_run next;
    memset(&next, 0, sizeof next);
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int stop = p->draining;
        seen = p->gen;
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            if (next.id[0]) give_back(c, &next);
            hold(w, NULL, NULL);
            break;
        }
        store_run run;
        store_status st = STORE_OK;
        /* Cache-warming builds first, even between chained runs: an HTTP client waits on them. */
        if (c) warm_models(p, c);
        if (next.id[0]) {
            run = next;
            memset(&next, 0, sizeof next);
        } else {
            if (c) build_pending(p, c, w->index);
            memset(&run, 0, sizeof run);
            st = c ? store_run_claim(c, &run) : STORE_ERROR;
        }
        if (st == STORE_OK) {
            backoff = 0.05;
            hold(w, &run, NULL); /* its lease is renewed from now on */
            /* Claimed (queued -> running): the change feed and ?progress= long polls see it. */
            srv_changes_bump(s);
            srv_waiters_wake_progress(s->waiters, run.id);
            atomic_fetch_add(&p->busy, 1);
            atomic_fetch_add(&s->metrics.workers_busy, 1);
            srv_exec_run(s, c, &run, &p->release, &next);
            hold(w, NULL, &next); /* the run ended (or was released); next: claimed, not begun */
            atomic_fetch_sub(&s->metrics.workers_busy, 1);
            atomic_fetch_sub(&p->busy, 1);
            store_run_clear(&run);
            continue;
        }
        double wait = 1.0;
        if (st != STORE_NOT_FOUND) {
            srv_log("worker_error", json_pack("{s:i, s:s, s:s}", "worker", w->index, "status",
                                              store_status_name(st), "message",
                                              c ? store_errmsg(c) : "no store connection"));
            if (!c) c = store_connect(s->store);
            wait = backoff;
            backoff = backoff * 2 > 1.0 ? 1.0 : backoff * 2;
        }
        struct timespec ts = eir_clock_deadline(CLOCK_MONOTONIC, wait);
        pthread_mutex_lock(&p->lock);
        while (!p->draining && p->gen == seen)
            if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) != 0) break;
        pthread_mutex_unlock(&p->lock);
    }
    store_disconnect(c);
    return NULL;
}

struct srv_pool *srv_pool_start(srv *s, int workers)
{
    struct srv_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->s = s;
    p->n = workers;
    p->w = calloc(workers > 0 ? (size_t)workers : 1, sizeof *p->w);
    if (!p->w) {
        free(p);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&p->release, 0);
    atomic_init(&p->busy, 0);
    for (int i = 0; i < workers; i++) {
        p->w[i].pool = p;
        p->w[i].index = i;
        if (pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]) != 0) {
            srv_pool_drain(p);
            srv_pool_join(p);
            return NULL;
        }
        p->w[i].started = 1;
    }
    return p;
}

void srv_pool_notify(struct srv_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->gen++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void srv_pool_notify_all(struct srv_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->gen++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int srv_pool_warm(struct srv_pool *p, const char *id)
{
    if (!p || p->n == 0) return -1;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    int known = 0;
    for (int i = 0; i < p->nwarm && !known; i++)
        known = strcmp(p->warm[i], id) == 0;
    if (p->draining || (!known && p->nwarm == SRV_POOL_WARM_MAX)) {
        rc = -1;
    } else if (!known) {
        snprintf(p->warm[p->nwarm++], STORE_ID_MAX, "%s", id);
        p->gen++;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int srv_pool_busy(struct srv_pool *p)
{
    return p ? atomic_load(&p->busy) : 0;
}

void srv_pool_drain(struct srv_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->draining = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void srv_pool_release(struct srv_pool *p)
{
    if (p) atomic_store(&p->release, 1);
}

void srv_pool_wait(struct srv_pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].started) {
            pthread_join(p->w[i].tid, NULL);
            p->w[i].started = 0;
        }
}

void srv_pool_join(struct srv_pool *p)
{
    if (!p) return;
    srv_pool_wait(p);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->w);
    free(p);
}
