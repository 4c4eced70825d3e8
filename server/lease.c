/**
 * @file lease.c
 * @brief The lease thread (lease.h): renew this daemon's leases, rescue expired ones.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "lease.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "eir_clock.h"
#include "eir_random.h"
#include "pool.h"

struct srv_lease {
    srv *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /**< on CLOCK_MONOTONIC: signalled by srv_lease_stop() */
    int stop;          /**< guarded by mu */
};

/** Sleep until @p until (eir_clock_mono() seconds) or a stop. @return 1 when asked to stop. */
static int sleep_until(struct srv_lease *l, double until)
{
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        double left = until - eir_clock_mono();
        if (left <= 0) break;
        struct timespec ts = eir_clock_deadline(CLOCK_MONOTONIC, left);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    int stop = l->stop;
    pthread_mutex_unlock(&l->mu);
    return stop;
}

/** A factor in [0.75, 1.25) for the rescue period: daemons started together spread out. */
static double jitter(void)
{
    uint32_t r = 0;
    if (eir_random_bytes(&r, sizeof r) != 0) r = (uint32_t)(eir_clock_mono() * 1e6);
    return 0.75 + 0.5 * ((double)r / 4294967296.0);
}

/** Log the first failure of a streak of @p what (@p failing tracks the streak). */
static void note(int *failing, const char *what, store_status st, store_conn *c)
{
    if (*failing) return;
    *failing = 1;
    srv_log("lease_error",
            json_pack("{s:s, s:s, s:s}", "message", what, "status", store_status_name(st), "reason",
                      c ? store_errmsg(c) : "no store connection"));
}

/** The held claims' buffers (lease thread only), sized for the pool at start. */
typedef struct held_buf {
    char (*ids)[STORE_ID_MAX];
    int *attempts;
    size_t cap;
} held_buf;

/** One renewal: extend the leases of the runs this daemon's workers hold (srv_pool_held());
 *  none held: nothing to do. A run this daemon's claimant holds in the store but no worker
 *  runs (a claim whose answer was lost) is left to expire and be rescued. */
static void renew(srv *s, store_conn *c, held_buf *b, int *failing)
{
    size_t held = srv_pool_held(s->pool, b->ids, b->attempts, b->cap);
    if (held == 0) return;
    int64_t n = 0;
    store_status st =
        store_lease_renew(c, (const char(*)[STORE_ID_MAX])b->ids, b->attempts, held, &n);
    if (st != STORE_OK) {
        note(failing, "cannot renew this daemon's leases", st, c);
        return;
    }
    if (*failing)
        srv_log("lease_recovered", json_pack("{s:s, s:I}", "message", "leases renewed again",
                                             "renewed", (json_int_t)n));
    *failing = 0;
}

/** One rescue: expired leases of any daemon end; the pool is woken for requeued runs. */
static void rescue(srv *s, store_conn *c, int *failing)
{
    store_requeue_report rq;
    store_status st = store_rescue_expired(c, &rq);
    if (st != STORE_OK) {
        note(failing, "cannot rescue runs whose lease expired", st, c);
        return;
    }
    *failing = 0;
    int64_t ended = rq.requeued + rq.failed + rq.cancelled;
    if (ended == 0 && rq.partial_results == 0) return;
    atomic_fetch_add(&s->metrics.runs_rescued, (uint_fast64_t)ended);
    srv_log("rescued",
            json_pack("{s:I, s:I, s:I, s:I}", "requeued", (json_int_t)rq.requeued, "failed",
                      (json_int_t)rq.failed, "cancelled", (json_int_t)rq.cancelled,
                      "partial_results", (json_int_t)rq.partial_results));
    if (rq.requeued > 0) srv_pool_notify_all(s->pool);
}

static void *lease_main(void *arg)
{
    struct srv_lease *l = arg;
    srv *s = l->s;
    pthread_setname_np(pthread_self(), "eirnnd-lease");
    double lease = s->cfg.lease_seconds > 0 ? s->cfg.lease_seconds : 30;
    double now = eir_clock_mono();
    double next_renew = now + lease / 4, next_rescue = now + lease / 2 * jitter();
    store_conn *c = NULL;
    int renew_failing = 0, rescue_failing = 0;
    held_buf b = {NULL, NULL, srv_pool_held_max(s->pool)};
    if (b.cap) {
        b.ids = calloc(b.cap, sizeof *b.ids);
        b.attempts = calloc(b.cap, sizeof *b.attempts);
        if (!b.ids || !b.attempts) b.cap = 0; /* no renewal: leases expire, runs are rescued */
        if (!b.cap) note(&renew_failing, "out of memory for the held runs' ids", STORE_ERROR, NULL);
    }
    while (!sleep_until(l, next_renew < next_rescue ? next_renew : next_rescue)) {
        if (!c && !(c = store_connect(s->store))) {
            note(&renew_failing, "cannot connect to the store", STORE_ERROR, NULL);
            next_renew = eir_clock_mono() + 1.0;
            continue;
        }
        now = eir_clock_mono();
        if (now >= next_renew) {
            renew(s, c, &b, &renew_failing);
            next_renew = now + lease / 4;
        }
        if (now >= next_rescue) {
            rescue(s, c, &rescue_failing);
            next_rescue = now + lease / 2 * jitter();
        }
    }
    store_disconnect(c);
    free(b.ids);
    free(b.attempts);
    return NULL;
}

struct srv_lease *srv_lease_start(srv *s)
{
    struct srv_lease *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->s = s;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&l->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        free(l);
        return NULL;
    }
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        pthread_cond_destroy(&l->cv);
        free(l);
        return NULL;
    }
    if (pthread_create(&l->thread, NULL, lease_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l);
        return NULL;
    }
    return l;
}

void srv_lease_stop(struct srv_lease *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
