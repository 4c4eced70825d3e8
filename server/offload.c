/**
 * @file offload.c
 * @brief The request-offload worker (offload.h): a bounded FIFO of suspended requests, one
 *        thread running their work with the answers captured, and the drain at shutdown.
 */
#include "offload.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>

/** One queued request. */
typedef struct offload_item {
    srv_req *r;
    srv_offload_fn fn;
} offload_item;

struct srv_offload {
    srv *s;
    pthread_mutex_t lock;
    pthread_cond_t work; /**< wakes the thread: a request queued, or closing */
    pthread_t thread;
    offload_item ring[SRV_OFFLOAD_MAX_WAITING]; /**< waiting requests, oldest at head */
    int head, count;
    int closed; /**< no new requests; the thread returns once idle */
    int joined; /**< the thread was joined */
    atomic_int *gauge;
};

/** Run @p it's work on this thread with its answer captured, then resume its connection. */
static void run_item(struct srv_offload *o, offload_item it)
{
    srv_req *r = it.r;
    store_conn *c = srv_thread_conn(o->s);
    store_config sc;
    store_config_default(&sc);
    /* Lock waits end at the busy timeout counted from now, as for a resumed long poll. */
    if (c) store_set_deadline(c, srv_now() + sc.busy_timeout_ms / 1e3);
    srv_json_oom_set(0); /* srv_reply() looks at this work's JSON allocations only */
    r->capture = 1;
    it.fn(r);
    r->capture = 0;
    if (c) store_set_deadline(c, 0);
    /* r belongs to libmicrohttpd's thread from here: not touched again. */
    MHD_resume_connection(r->con);
}

static void *offload_main(void *arg)
{
    struct srv_offload *o = arg;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (o->count == 0 && !o->closed)
            pthread_cond_wait(&o->work, &o->lock);
        if (o->count == 0) break; /* closed and nothing left */
        offload_item it = o->ring[o->head];
        o->head = (o->head + 1) % SRV_OFFLOAD_MAX_WAITING;
        o->count--;
        if (o->gauge) atomic_fetch_sub(o->gauge, 1);
        pthread_mutex_unlock(&o->lock);
        run_item(o, it);
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

struct srv_offload *srv_offload_start(srv *s, atomic_int *gauge)
{
    struct srv_offload *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->s = s;
    o->gauge = gauge;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->work, NULL);
    if (pthread_create(&o->thread, NULL, offload_main, o) != 0) {
        pthread_cond_destroy(&o->work);
        pthread_mutex_destroy(&o->lock);
        free(o);
        return NULL;
    }
    return o;
}

srv_offload_result srv_offload_submit(struct srv_offload *o, srv_req *r, srv_offload_fn fn)
{
    pthread_mutex_lock(&o->lock);
    srv_offload_result res = o->closed                             ? SRV_OFFLOAD_CLOSED
                             : o->count == SRV_OFFLOAD_MAX_WAITING ? SRV_OFFLOAD_FULL
                                                                   : SRV_OFFLOAD_QUEUED;
    if (res == SRV_OFFLOAD_QUEUED) {
        r->poll_state = SRV_POLL_OFFLOADED;
        MHD_suspend_connection(r->con);
        o->ring[(o->head + o->count) % SRV_OFFLOAD_MAX_WAITING] = (offload_item){r, fn};
        o->count++;
        if (o->gauge) atomic_fetch_add(o->gauge, 1);
        pthread_cond_signal(&o->work);
    }
    pthread_mutex_unlock(&o->lock);
    return res;
}

/** Answer a request that was waiting when the daemon began to stop: a captured 503. */
static void refuse_stopping(srv_req *r)
{
    srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                "the daemon is stopping; retry on its next start or another instance");
}

void srv_offload_shutdown(struct srv_offload *o)
{
    if (!o) return;
    offload_item waiting[SRV_OFFLOAD_MAX_WAITING];
    pthread_mutex_lock(&o->lock);
    o->closed = 1;
    int n = o->count;
    for (int i = 0; i < n; i++)
        waiting[i] = o->ring[(o->head + i) % SRV_OFFLOAD_MAX_WAITING];
    o->count = 0;
    if (o->gauge) atomic_fetch_sub(o->gauge, n);
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->lock);
    /* Taken off the queue: this thread alone touches them until each is resumed. */
    for (int i = 0; i < n; i++) {
        srv_req *r = waiting[i].r;
        srv_json_oom_set(0);
        r->capture = 1;
        refuse_stopping(r);
        r->capture = 0;
        MHD_resume_connection(r->con);
    }
    /* The request in progress finishes (its store work is bounded by the busy timeout) and is
     * resumed by the thread, which then returns. */
    pthread_mutex_lock(&o->lock);
    int join = !o->joined;
    o->joined = 1;
    pthread_mutex_unlock(&o->lock);
    if (join) pthread_join(o->thread, NULL);
}

void srv_offload_free(struct srv_offload *o)
{
    if (!o) return;
    srv_offload_shutdown(o);
    pthread_cond_destroy(&o->work);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
