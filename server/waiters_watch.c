/**
 * @file waiters_watch.c
 * @brief The store watcher thread (waiters_watch.h): wakes long polls whose run another
 *        connection or daemon ended.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "eir_clock.h"
#include "waiters_watch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/** How long one store_changes_wait() may block: bounds how late the thread notices a stop. */
#define WATCH_SLICE 0.1

struct srv_watch {
    struct srv_waiters *ws;
    store *st;
    pthread_t thread;
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

static void *watch_main(void *arg)
{
    struct srv_watch *w = arg;
    pthread_setname_np(pthread_self(), "eirnnd-watch"); /* for top -H and the measurements */
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

struct srv_watch *srv_watch_start(struct srv_waiters *ws, store *st)
{
    struct srv_watch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->ws = ws;
    w->st = st;
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void srv_watch_stop(struct srv_watch *w)
{
    if (!w) return;
    srv_waiters_shutdown(w->ws);
    pthread_join(w->thread, NULL);
    free(w);
}
