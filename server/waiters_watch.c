/**
 * @file waiters_watch.c
 * @brief The store watcher thread (waiters_watch.h): wakes long polls whose run another
 *        connection or daemon ended.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "eir_clock.h"
#include "waiters_watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "pool.h"
#include "srv.h"

/** How long one store_changes_wait() may block: bounds how late the thread notices a stop. */
#define WATCH_SLICE 0.1

/** Seconds between the fallback looks of a store that notifies, while anyone waits. */
#define WATCH_FALLBACK 1.0

struct srv_watch {
    srv *s;
    struct srv_waiters *ws;
    store *st;
    pthread_t thread;
    atomic_int stop;    /**< srv_watch_stop() was called (the notifying store's loop) */
    uint64_t delivered; /**< notifications taken by on_change() (the watcher thread only) */
    int look_now;       /**< on_change() got an end with no id (many runs ended): look at once */
};

/** The watcher's buffers, grown to the number of waiters and kept (no allocation per look). */
typedef struct watch_buf {
    char (*ids)[STORE_ID_MAX];
    unsigned char *settled;
    size_t cap;
} watch_buf;

/** Take the ids of the waited-for runs into @p b. @return their number, or (size_t)-1 when out
 *  of memory. */
static size_t snapshot(struct srv_waiters *ws, watch_buf *b)
{
    for (;;) {
        size_t n = srv_waiters_snapshot(ws, b->ids, b->cap);
        if (n <= b->cap) return n;
        size_t cap = n + n / 2 + 16;
        void *ids = realloc(b->ids, cap * sizeof *b->ids);
        if (ids) b->ids = ids;
        void *settled = ids ? realloc(b->settled, cap) : NULL;
        if (settled) b->settled = settled;
        if (!ids || !settled) return (size_t)-1;
        b->cap = cap;
    }
}

/** Log the first failure of a streak (@p failing tracks the streak). */
static void note_failure(int *failing, const char *what, store_conn *c)
{
    if (*failing) return;
    *failing = 1;
    srv_log("waiters_watch_failed", json_pack("{s:s, s:s}", "message", what, "reason",
                                              c ? store_errmsg(c) : "out of memory"));
}

/** Look once: which waited-for runs settled? Wake their waiters. @return 0, or -1 when the look
 *  failed (logged; the caller looks again later). */
static int look(struct srv_waiters *ws, store_conn *c, watch_buf *b, int *failing)
{
    size_t n = snapshot(ws, b);
    if (n == (size_t)-1) {
        note_failure(failing, "out of memory for the ids of the runs waited for", NULL);
        return -1;
    }
    if (n == 0) return 0;
    if (store_runs_settled(c, b->ids, n, b->settled) != STORE_OK) {
        note_failure(failing, "cannot look up the runs waited for", c);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (b->settled[i]) srv_waiters_wake(ws, b->ids[i]);
    return 0;
}

/**
 * The change callback of a store that notifies (store_change_cb), on the watcher thread: a
 * queued job wakes the idle workers, a claim or progress the ?progress= long polls and the
 * change feed, an ended job its ?wait= long polls and the feed, anything else the feed.
 */
static void on_change(void *ctx, store_change_kind kind, const char *id)
{
    struct srv_watch *w = ctx;
    w->delivered++;
    switch (kind) {
    case STORE_CHANGE_QUEUED: /* one job: one worker; "" (many, e.g. a sweep): every worker */
        if (id && id[0])
            srv_pool_notify(w->s->pool);
        else
            srv_pool_notify_all(w->s->pool);
        srv_changes_bump(w->s);
        break;
    case STORE_CHANGE_PROGRESS:
        if (id && id[0]) srv_waiters_wake_progress(w->ws, id);
        srv_changes_bump(w->s);
        break;
    case STORE_CHANGE_ENDED: /* no id: some runs ended (a collapsed batch), look which */
        if (id && id[0])
            srv_waiters_wake(w->ws, id);
        else
            w->look_now = 1;
        srv_changes_bump(w->s);
        break;
    case STORE_CHANGE_OTHER:
    default:
        srv_changes_bump(w->s);
        break;
    }
}

/**
 * The loop for a store that notifies (PostgreSQL), for the daemon's whole life: wait for
 * notifications (on_change() acts on each), and look at the runs waited for when a wait ended
 * with a change but no notification (the first wait, a reconnect: some may have been missed) or
 * failed, and at least every ::WATCH_FALLBACK seconds while anyone waits (notifications are not
 * durable: one lost while the listener reconnects must not leave a long poll hanging).
 */
static void watch_notified(struct srv_watch *w)
{
    store_conn *c = NULL;
    watch_buf b = {NULL, NULL, 0};
    int failing = 0, pending = 1;
    double last_look = 0;
    while (!atomic_load(&w->stop)) {
        if (!c && !(c = store_connect(w->st))) {
            note_failure(&failing, "cannot connect to the store", NULL);
            eir_clock_sleep(WATCH_SLICE);
            continue;
        }
        int changed = 0;
        uint64_t before = w->delivered;
        store_status st = store_changes_wait(c, WATCH_SLICE, on_change, w, &changed);
        if (st != STORE_OK) {
            note_failure(&failing, "cannot watch the store for changes", c);
            pending = 1;
            eir_clock_sleep(WATCH_SLICE); /* a database that is down answers at once */
        } else if (changed && w->delivered == before) {
            pending = 1; /* a change not told by a notification: look */
        }
        if (w->look_now) { /* ended runs not named: look now rather than within a second */
            w->look_now = 0;
            pending = 1;
        }
        double now = eir_clock_mono();
        if (!pending && now - last_look < WATCH_FALLBACK) continue;
        if (now - last_look < SRV_WATCH_MIN_GAP) continue;
        last_look = now;
        pending = look(w->ws, c, &b, &failing) != 0;
        if (!pending && st == STORE_OK && failing) {
            failing = 0;
            srv_log("waiters_watch_recovered",
                    json_pack("{s:s}", "message", "the store watcher looks at runs again"));
        }
    }
    free(b.ids);
    free(b.settled);
    store_disconnect(c);
}

static void *watch_main(void *arg)
{
    struct srv_watch *w = arg;
    pthread_setname_np(pthread_self(), "eirnnd-watch"); /* for top -H and the measurements */
    if (store_notifies(w->st)) {
        watch_notified(w);
        return NULL;
    }
    store_conn *c = store_connect(w->st);
    watch_buf b = {NULL, NULL, 0};
    int pending = 0; /* a change seen (or a look failed): look before waiting again */
    int failing = 0;
    double last_look = 0;
    while (srv_waiters_await(w->ws)) {
        if (!c && !(c = store_connect(w->st))) {
            note_failure(&failing, "cannot connect to the store", NULL);
            eir_clock_sleep(WATCH_SLICE);
            continue;
        }
        int changed = 0;
        int watched =
            store_changes_wait(c, pending ? 0 : WATCH_SLICE, NULL, NULL, &changed) == STORE_OK;
        if (!watched) {
            note_failure(&failing, "cannot watch the store for changes", c);
            changed = 1;
        }
        if (!changed && !pending) continue;
        double gap = last_look + SRV_WATCH_MIN_GAP - eir_clock_mono();
        if (gap > 0) eir_clock_sleep(gap);
        last_look = eir_clock_mono();
        pending = look(w->ws, c, &b, &failing) != 0;
        if (!pending && watched && failing) {
            failing = 0;
            srv_log("waiters_watch_recovered",
                    json_pack("{s:s}", "message", "the store watcher looks at runs again"));
        }
    }
    free(b.ids);
    free(b.settled);
    store_disconnect(c);
    return NULL;
}

struct srv_watch *srv_watch_start(srv *s)
{
    struct srv_watch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->s = s;
    w->ws = s->waiters;
    w->st = s->store;
    atomic_init(&w->stop, 0);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void srv_watch_stop(struct srv_watch *w)
{
    if (!w) return;
    atomic_store(&w->stop, 1);
    srv_waiters_shutdown(w->ws);
    pthread_join(w->thread, NULL);
    free(w);
}
