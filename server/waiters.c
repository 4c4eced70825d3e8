/**
 * @file waiters.c
 * @brief Long-poll registry: run id → suspended connections, a deadline timer thread, and
 *        resume-all at shutdown (see waiters.h for the locking rules).
 */
#include "eir_clock.h"
#include "waiters.h"

#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv.h"

#define NBUCKETS 256

/** The registry key of SRV_WAIT_CHANGES waiters (not an id: ids are [a-z]_[0-9a-f]...). */
#define CHANGES_KEY "~changes"

struct srv_waiters {
    pthread_mutex_t lock;
    pthread_cond_t cond; /**< wakes the timer: earlier deadline, or shutdown */
    pthread_cond_t any;  /**< wakes srv_waiters_await(): a first run waiter, or shutdown */
    pthread_t timer;
    int timer_started;
    int closed; /**< no new waiters */
    int quit;   /**< timer thread exits */
    srv_waiter *buckets[NBUCKETS];
    atomic_int *gauge;
    size_t count;   /**< waiters registered */
    size_t changes; /**< of which SRV_WAIT_CHANGES */
    uint64_t wakes; /**< srv_waiters_wake() and srv_waiters_snapshot() calls (under lock) */
};

static unsigned bucket_of(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % NBUCKETS;
}

/** Unlink @p w; caller holds the lock. */
static void unlink_locked(struct srv_waiters *ws, srv_waiter *w)
{
    unsigned b = bucket_of(w->run_id);
    if (w->prev)
        w->prev->next = w->next;
    else
        ws->buckets[b] = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = 0;
    ws->count--;
    if (w->kind == SRV_WAIT_CHANGES) ws->changes--;
    if (ws->gauge) atomic_fetch_sub(ws->gauge, 1);
}

/** Unlink @p w and resume its connection; caller holds the lock. */
static void resume_locked(struct srv_waiters *ws, srv_waiter *w)
{
    unlink_locked(ws, w);
    MHD_resume_connection(w->con);
}

static void *timer_main(void *arg)
{
    struct srv_waiters *ws = arg;
    pthread_mutex_lock(&ws->lock);
    while (!ws->quit) {
        double now = srv_now(), next = now + 1.0;
        for (unsigned b = 0; b < NBUCKETS; b++) {
            srv_waiter *w = ws->buckets[b];
            while (w) {
                srv_waiter *nx = w->next;
                if (w->deadline <= now)
                    resume_locked(ws, w);
                else if (w->deadline < next)
                    next = w->deadline;
                w = nx;
            }
        }
        struct timespec ts = eir_timespec_add((struct timespec){0, 0}, next);
        pthread_cond_timedwait(&ws->cond, &ws->lock, &ts);
    }
    pthread_mutex_unlock(&ws->lock);
    return NULL;
}

struct srv_waiters *srv_waiters_new(atomic_int *gauge)
{
    struct srv_waiters *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->gauge = gauge;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ws->lock, NULL);
    pthread_cond_init(&ws->cond, &ca);
    pthread_cond_init(&ws->any, NULL);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&ws->timer, NULL, timer_main, ws) != 0) {
        pthread_cond_destroy(&ws->any);
        pthread_cond_destroy(&ws->cond);
        pthread_mutex_destroy(&ws->lock);
        free(ws);
        return NULL;
    }
    ws->timer_started = 1;
    return ws;
}

int srv_waiters_suspend(struct srv_waiters *ws, srv_waiter *w, struct MHD_Connection *con,
                        const char *run_id, double deadline)
{
    return srv_waiters_suspend_kind(ws, w, con, run_id, deadline, SRV_WAIT_END);
}

int srv_waiters_suspend_kind(struct srv_waiters *ws, srv_waiter *w, struct MHD_Connection *con,
                             const char *run_id, double deadline, srv_wait_kind kind)
{
    pthread_mutex_lock(&ws->lock);
    if (ws->closed) {
        pthread_mutex_unlock(&ws->lock);
        return -1;
    }
    memset(w, 0, sizeof *w);
    snprintf(w->run_id, sizeof w->run_id, "%s", kind == SRV_WAIT_CHANGES ? CHANGES_KEY : run_id);
    w->kind = kind;
    /* The store watcher (srv_waiters_await) is for waiters of runs only. */
    if (kind != SRV_WAIT_CHANGES && ws->count == ws->changes) pthread_cond_broadcast(&ws->any);
    if (kind == SRV_WAIT_CHANGES) ws->changes++;
    w->con = con;
    w->deadline = deadline;
    unsigned b = bucket_of(w->run_id);
    w->next = ws->buckets[b];
    if (w->next) w->next->prev = w;
    ws->buckets[b] = w;
    w->linked = 1;
    ws->count++;
    if (ws->gauge) atomic_fetch_add(ws->gauge, 1);
    MHD_suspend_connection(con);
    /* The timer sleeps at most 1 s; wake it only for deadlines sooner than that. */
    if (deadline < srv_now() + 1.0) pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    return 0;
}

void srv_waiters_resume(struct srv_waiters *ws, srv_waiter *w)
{
    pthread_mutex_lock(&ws->lock);
    if (w->linked) resume_locked(ws, w);
    pthread_mutex_unlock(&ws->lock);
}

void srv_waiters_forget(struct srv_waiters *ws, srv_waiter *w)
{
    pthread_mutex_lock(&ws->lock);
    if (w->linked) unlink_locked(ws, w);
    pthread_mutex_unlock(&ws->lock);
}

/** Resume the waiters registered under @p key whose kind is @p kind, or any kind but
 *  SRV_WAIT_CHANGES when @p kind is -1; count a wake. */
static void wake_key(struct srv_waiters *ws, const char *key, int kind)
{
    if (!ws) return;
    unsigned b = bucket_of(key);
    pthread_mutex_lock(&ws->lock);
    ws->wakes++;
    srv_waiter *w = ws->buckets[b];
    while (w) {
        srv_waiter *nx = w->next;
        int wanted = kind < 0 ? w->kind != SRV_WAIT_CHANGES : (int)w->kind == kind;
        if (wanted && strcmp(w->run_id, key) == 0) resume_locked(ws, w);
        w = nx;
    }
    pthread_mutex_unlock(&ws->lock);
}

void srv_waiters_wake(struct srv_waiters *ws, const char *run_id)
{
    wake_key(ws, run_id, -1);
}

void srv_waiters_wake_progress(struct srv_waiters *ws, const char *run_id)
{
    wake_key(ws, run_id, SRV_WAIT_PROGRESS);
}

void srv_waiters_wake_changes(struct srv_waiters *ws)
{
    wake_key(ws, CHANGES_KEY, SRV_WAIT_CHANGES);
}

uint64_t srv_waiters_wakes(struct srv_waiters *ws)
{
    if (!ws) return 0;
    pthread_mutex_lock(&ws->lock);
    uint64_t n = ws->wakes;
    pthread_mutex_unlock(&ws->lock);
    return n;
}

int srv_waiters_await(struct srv_waiters *ws)
{
    pthread_mutex_lock(&ws->lock);
    while (!ws->closed && ws->count == ws->changes)
        pthread_cond_wait(&ws->any, &ws->lock);
    int open = !ws->closed;
    pthread_mutex_unlock(&ws->lock);
    return open;
}

size_t srv_waiters_snapshot(struct srv_waiters *ws, char (*ids)[STORE_ID_MAX], size_t cap)
{
    pthread_mutex_lock(&ws->lock);
    ws->wakes++;
    size_t n = 0;
    if (ws->count - ws->changes <= cap) {
        for (unsigned b = 0; b < NBUCKETS; b++)
            for (const srv_waiter *w = ws->buckets[b]; w; w = w->next)
                if (w->kind != SRV_WAIT_CHANGES) memcpy(ids[n++], w->run_id, STORE_ID_MAX);
    } else {
        n = ws->count - ws->changes;
    }
    pthread_mutex_unlock(&ws->lock);
    return n;
}

void srv_waiters_shutdown(struct srv_waiters *ws)
{
    if (!ws) return;
    pthread_mutex_lock(&ws->lock);
    ws->closed = 1;
    pthread_cond_broadcast(&ws->any);
    for (unsigned b = 0; b < NBUCKETS; b++)
        while (ws->buckets[b])
            resume_locked(ws, ws->buckets[b]);
    pthread_mutex_unlock(&ws->lock);
}

void srv_waiters_free(struct srv_waiters *ws)
{
    if (!ws) return;
    srv_waiters_shutdown(ws);
    pthread_mutex_lock(&ws->lock);
    ws->quit = 1;
    pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    if (ws->timer_started) pthread_join(ws->timer, NULL);
    pthread_cond_destroy(&ws->any);
    pthread_cond_destroy(&ws->cond);
    pthread_mutex_destroy(&ws->lock);
    free(ws);
}
