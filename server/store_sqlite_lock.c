/**
 * @file store_sqlite_lock.c
 * @brief SQLite backend: the writer lock, the busy handler, the group sync of the WAL and the
 *        checkpoints.
 *
 * The machinery that decides who writes when and when a commit is on stable storage, kept
 * apart from what the writes do (docs/STORE.md, "Durability").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store_sqlite_int.h"

/* ------------------------------------------------------------------------------------------ */
/* Writer lock                                                                                */
/* ------------------------------------------------------------------------------------------ */

int sq_wl_init(struct sq_wlock *wl)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&wl->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) return -1;
    if (pthread_mutex_init(&wl->mu, NULL)) {
        pthread_cond_destroy(&wl->cv);
        return -1;
    }
    wl->held = 0;
    wl->head = wl->tail = NULL;
    return 0;
}

void sq_wl_destroy(struct sq_wlock *wl)
{
    pthread_mutex_destroy(&wl->mu);
    pthread_cond_destroy(&wl->cv);
}

/** When a lock wait starting at @p now must give up: after the busy timeout, or at the
 *  connection's deadline (store_set_deadline()) if that comes first. */
static double wait_limit(struct sq_conn *sc, double now)
{
    double limit = now + sc->st->cfg.busy_timeout_ms / 1000.0;
    return sc->base.deadline > 0 && sc->base.deadline < limit ? sc->base.deadline : limit;
}

/** How long a lock that was found held lately is waited for. */
#define SQ_LOCK_PROBE 0.1

/**
 * SQLite's busy handler (sqlite3_busy_timeout() knows no deadline): sleep and retry, with
 * SQLite's own delays, until the wait_limit() of the wait's first call. The writer lock of this
 * process is held during such a wait, so the database lock is another process's. Once a wait
 * gave up on it, the waits of the next busy timeout only probe it (a failed probe extends that):
 * otherwise every writer would hold the writer lock for a whole busy timeout, one after the
 * other, and the requests queued behind them (and behind them on their HTTP thread) would wait
 * many busy timeouts for their 503.
 */
int sq_busy_wait(void *arg, int count)
{
    static const int delay_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    struct sq_conn *sc = arg;
    double now = eir_clock_mono();
    if (count == 0) {
        sc->busy_until = wait_limit(sc, now);
        double seen = (double)atomic_load(&sc->st->lock_seen_ms) / 1e3;
        if (seen > 0 && now - seen < sc->st->cfg.busy_timeout_ms / 1e3 &&
            now + SQ_LOCK_PROBE < sc->busy_until)
            sc->busy_until = now + SQ_LOCK_PROBE;
    }
    if (now >= sc->busy_until) {
        atomic_store(&sc->st->lock_seen_ms, (long long)(now * 1e3));
        return 0;
    }
    double d = delay_ms[count < 12 ? count : 11] / 1000.0;
    if (now + d > sc->busy_until) d = sc->busy_until - now;
    eir_clock_sleep(d);
    return 1;
}

/**
 * Take the writer lock for this connection unless it already holds it (*acquired tells which,
 * so that only the taker releases). Waits in line for at most the busy timeout (or until the
 * connection's deadline).
 */
store_status sq_wl_lock(struct sq_conn *sc, int *acquired)
{
    struct sq_wlock *wl = &sc->st->wl;
    if (acquired) *acquired = 0;
    if (sc->wlocked) return STORE_OK;
    pthread_mutex_lock(&wl->mu);
    if (!wl->held && !wl->head) {
        wl->held = 1;
    } else {
        struct sq_waiter me = {NULL};
        if (wl->tail)
            wl->tail->next = &me;
        else
            wl->head = &me;
        wl->tail = &me;
        double limit = wait_limit(sc, eir_clock_mono());
        struct timespec until = eir_timespec_add((struct timespec){0, 0}, limit);
        while (wl->held || wl->head != &me) {
            if (pthread_cond_timedwait(&wl->cv, &wl->mu, &until) == ETIMEDOUT &&
                (wl->held || wl->head != &me)) {
                struct sq_waiter **pp = &wl->head, *prev = NULL;
                while (*pp != &me) {
                    prev = *pp;
                    pp = &(*pp)->next;
                }
                *pp = me.next;
                if (wl->tail == &me) wl->tail = prev;
                pthread_cond_broadcast(&wl->cv); /* the next in line may be free to go now */
                pthread_mutex_unlock(&wl->mu);
                return sq_fail(sc, STORE_BUSY,
                               "the database stayed busy with other writers for %d ms",
                               sc->st->cfg.busy_timeout_ms);
            }
        }
        wl->head = me.next;
        if (!wl->head) wl->tail = NULL;
        wl->held = 1;
    }
    pthread_mutex_unlock(&wl->mu);
    sc->wlocked = 1;
    if (acquired) *acquired = 1;
    return STORE_OK;
}

/** Release the writer lock if this connection holds it; the next in line goes. */
void sq_wl_unlock(struct sq_conn *sc)
{
    if (!sc->wlocked) return;
    struct sq_wlock *wl = &sc->st->wl;
    pthread_mutex_lock(&wl->mu);
    wl->held = 0;
    if (wl->head) pthread_cond_broadcast(&wl->cv);
    pthread_mutex_unlock(&wl->mu);
    sc->wlocked = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Group sync of the WAL and checkpoints                                                      */
/* ------------------------------------------------------------------------------------------ */

int sq_gs_init(struct sq_gsync *g)
{
    memset(g, 0, sizeof *g);
    if (pthread_mutex_init(&g->mu, NULL)) return -1;
    if (pthread_cond_init(&g->cv, NULL)) {
        pthread_mutex_destroy(&g->mu);
        return -1;
    }
    return 0;
}

void sq_gs_destroy(struct sq_gsync *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/** Ticket of the commit just made on @p sc; call while still holding the writer lock. */
uint64_t sq_gs_ticket(struct sq_conn *sc)
{
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    uint64_t t = ++g->appended;
    pthread_mutex_unlock(&g->mu);
    return t;
}

/** fdatasync the WAL through this connection's own handle of it. Returns an SQLite code. */
static int wal_sync(struct sq_conn *sc)
{
    sqlite3_file *f = NULL;
    int rc = sc->db ? sqlite3_file_control(sc->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f)
                    : SQLITE_MISUSE;
    if (rc != SQLITE_OK) return rc;
    if (!f || !f->pMethods) return SQLITE_CANTOPEN; /* no WAL open: cannot happen after a commit */
    return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/**
 * Wait until every commit with a ticket <= @p ticket is on stable storage, syncing the WAL
 * ourselves when nobody else is. ::STORE_ERROR when the sync fails: the change was committed
 * (readers may see it) but may not survive a power loss.
 */
store_status sq_gs_wait(struct sq_conn *sc, uint64_t ticket)
{
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    while (g->synced < ticket) {
        if (g->busy) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        g->busy = 1;
        uint64_t target = g->appended;
        pthread_mutex_unlock(&g->mu);
        int rc = wal_sync(sc);
        pthread_mutex_lock(&g->mu);
        g->busy = 0;
        g->syncs++;
        if (rc == SQLITE_OK && target > g->synced) g->synced = target;
        pthread_cond_broadcast(&g->cv);
        if (rc != SQLITE_OK) {
            pthread_mutex_unlock(&g->mu);
            return sq_fail(sc, STORE_ERROR,
                           "the change was committed but the database could not be synced to disk: "
                           "%s (SQLite code %d)",
                           sqlite3_errstr(rc), rc);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return STORE_OK;
}

/**
 * WAL hook: note the WAL's size after each commit of this connection. It replaces SQLite's
 * automatic checkpoint, which would run inside COMMIT, i.e. while the writer lock is held and
 * every other writer waits for its page copies and fsyncs; sq_maybe_checkpoint() does it after the
 * lock is released instead.
 */
int sq_on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((struct sq_conn *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

/**
 * Once the WAL holds ::SQ_CHECKPOINT_FRAMES frames, copy them into the database (a PASSIVE
 * checkpoint: it takes no write lock and waits for nobody, so writers carry on meanwhile). Call
 * after a commit, without the writer lock. One thread checkpoints at a time; failures are left
 * to the next attempt.
 */
void sq_maybe_checkpoint(struct sq_conn *sc)
{
    if (sc->wal_frames < SQ_CHECKPOINT_FRAMES || !sc->db || sc->wlocked) return;
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    int mine = !g->checkpointing;
    g->checkpointing = 1;
    pthread_mutex_unlock(&g->mu);
    if (!mine) return;
    sc->wal_frames = 0;
    /* The bulk of the copy, while writers go on appending; then the frames they appended, under
     * the writer lock (a short pass): a WAL copied up to its end is restarted by the next writer
     * instead of growing while writes never stop. */
    sqlite3_wal_checkpoint_v2(sc->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    int acquired = 0;
    if (sq_wl_lock(sc, &acquired) == STORE_OK) {
        sqlite3_wal_checkpoint_v2(sc->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (acquired) sq_wl_unlock(sc);
    }
    sc->base.errmsg[0] = '\0'; /* a lock timeout here is no failure of the caller's operation */
    pthread_mutex_lock(&g->mu);
    g->checkpointing = 0;
    pthread_mutex_unlock(&g->mu);
}

/** Wait until every durable commit appended so far is synced (for answers that acknowledge
 *  a state some other thread committed, e.g. an idempotent replay). Free when none is pending. */
store_status sq_gs_wait_all(struct sq_conn *sc)
{
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    uint64_t t = g->appended;
    pthread_mutex_unlock(&g->mu);
    return sq_gs_wait(sc, t);
}
