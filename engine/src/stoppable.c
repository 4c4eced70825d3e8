/**
 * @file stoppable.c
 * @brief A long call on a thread of its own, abandoned when a stop flag is requested
 *        (stoppable.h).
 */
#include "stoppable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "eir_analysis.h"
#include "stop.h"

/**
 * Abandoned calls still running (eir_abandoned_solvers()). Process-wide by nature: it counts
 * threads of the process, for the process's exit; the one mutable global of the engine.
 */
static atomic_int abandoned_running;

int eir_abandoned_solvers(void)
{
    return atomic_load(&abandoned_running);
}

/** What the caller and the solver's thread share; freed by whichever lets go last. */
typedef struct stoppable_call {
    void (*fn)(void *);
    void *ctx;
    void (*free_ctx)(void *);
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;      /**< under lock: fn returned */
    int abandoned; /**< under lock: the caller left; the thread frees ctx */
    int refs;      /**< under lock: 2 (caller, thread), the last to drop it frees the call */
} stoppable_call;

static void call_free(stoppable_call *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/** Drop one reference under the lock (held on entry, released on return); the last frees. */
static void call_release(stoppable_call *c)
{
    const int last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last) call_free(c);
}

static void *solver_main(void *arg)
{
    stoppable_call *c = arg;
    c->fn(c->ctx);
    pthread_mutex_lock(&c->lock);
    c->done = 1;
    pthread_cond_signal(&c->cond);
    const int abandoned = c->abandoned;
    if (abandoned) c->free_ctx(c->ctx); /* nobody else will read it */
    call_release(c);
    if (abandoned) atomic_fetch_sub(&abandoned_running, 1);
    return NULL;
}

/** @p ts advanced by @p ms milliseconds. */
static struct timespec after_ms(struct timespec ts, long ms)
{
    ts.tv_nsec += ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_nsec -= 1000000000L;
        ts.tv_sec++;
    }
    return ts;
}

eir_status eir_stoppable_run(void (*fn)(void *ctx), void *ctx, void (*free_ctx)(void *ctx),
                             const eir_stop *stop)
{
    if (eir_stop_now(stop)) {
        free_ctx(ctx);
        return EIR_ECANCELLED;
    }
    stoppable_call *c = stop ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        fn(ctx);
        return EIR_OK;
    }
    *c = (stoppable_call){.fn = fn, .ctx = ctx, .free_ctx = free_ctx, .refs = 2};
    pthread_condattr_t ca;
    pthread_attr_t ta;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_cond_init(&c->cond, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&c->lock, NULL) != 0) {
        pthread_cond_destroy(&c->cond);
        ok = 0;
    }
    if (!ok) {
        free(c);
        fn(ctx);
        return EIR_OK;
    }
    pthread_t tid;
    ok = pthread_attr_init(&ta) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&tid, &ta, solver_main, c) == 0;
        pthread_attr_destroy(&ta);
    }
    if (!ok) {
        call_free(c);
        fn(ctx);
        return EIR_OK;
    }
    pthread_mutex_lock(&c->lock);
    while (!c->done && !eir_stop_now(stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts = after_ms(ts, EIR_STOPPABLE_POLL_MS);
        while (!c->done && pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0) {
        }
    }
    const eir_status s = c->done ? EIR_OK : EIR_ECANCELLED;
    if (!c->done) {
        c->abandoned = 1;
        atomic_fetch_add(&abandoned_running, 1);
    }
    call_release(c);
    return s;
}
