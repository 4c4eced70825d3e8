/**
 * @file store_pg_watch.c
 * @brief PostgreSQL backend: change notifications (LISTEN/NOTIFY) and runs_settled
 *        (store_ops::changes_wait, store_ops::runs_settled; docs/STORE.md, "PostgreSQL").
 *
 * Every write queues pg_notify('eirnn', '<letter> <id>') and sends it right after its COMMIT
 * (store_pg_int.h, "Notifications"), so a notification arrives once the change is visible; a
 * rolled-back write sends none. A watching thread's conn keeps a
 * connection of its own (not from the pool: it stays open between calls) that LISTENs on the
 * channel; changes_wait() waits on its socket with poll() and hands each notification to the
 * caller's callback. Notifications are not durable: those sent while the listener was
 * disconnected are lost, so the first call after a (re)connect reports a change, and the
 * caller's periodic runs_settled() look covers the rest.
 *
 * Each payload ends with the origin token of the store handle that sent it (pg_store::origin,
 * set as the session's eirnn.origin on every pool connection). changes_wait() does not hand a
 * handle's own notifications to the callback (the daemon's handlers and workers already acted
 * on their own writes: bumped the change feed, woke the pool and the long polls), but still
 * reports them as a change (*changed = 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_clock.h"
#include "store_pg_int.h"

void pg_listen_close(struct pgs_conn *pc)
{
    if (pc->listen) PQfinish(pc->listen);
    pc->listen = NULL;
}

/** Connect the listener and LISTEN; ::STORE_BUSY naming the reason when PostgreSQL cannot be
 *  reached (the caller retries later). */
static store_status listen_open(struct pgs_conn *pc)
{
    char why[256] = "";
    PGconn *db = pg_connect_new(pc->st, why, sizeof why);
    if (!db) return pg_fail(pc, STORE_BUSY, "cannot connect to PostgreSQL to listen: %s", why);
    PGresult *res = PQexec(db, "LISTEN " PG_CHANNEL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        store_status st = pg_fail_res(pc, db, res, "cannot listen for changes");
        PQclear(res);
        PQfinish(db);
        return st;
    }
    PQclear(res);
    pc->listen = db;
    pc->listen_fresh = 1;
    return STORE_OK;
}

/** A wait shorter than this (seconds) makes one round trip on the listener first (see
 *  pg_changes_wait()). */
#define PG_SYNC_BELOW 0.05

/** One round trip on the listener ("SELECT 1"): notifications signalled to its backend before
 *  are in libpq's queue after it. A failure closes the listener (::STORE_BUSY as a lost
 *  connection). */
static store_status listen_sync(struct pgs_conn *pc)
{
    PGresult *res = PQexec(pc->listen, "SELECT 1");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        store_status st = pg_fail_res(pc, pc->listen, res, "cannot read change notifications");
        PQclear(res);
        pg_listen_close(pc);
        return st;
    }
    PQclear(res);
    return STORE_OK;
}

/** The kind of a payload's letter. */
static store_change_kind kind_of(char letter)
{
    switch (letter) {
    case PG_NOTE_QUEUED:
        return STORE_CHANGE_QUEUED;
    case PG_NOTE_PROGRESS:
        return STORE_CHANGE_PROGRESS;
    case PG_NOTE_ENDED:
        return STORE_CHANGE_ENDED;
    default:
        return STORE_CHANGE_OTHER;
    }
}

/** Hand every notification received on the listener to @p cb, but those this store handle
 *  sent itself (their origin is pg_store::origin: its callers know of their own writes);
 *  returns how many notifications there were, its own included. */
static int deliver(struct pgs_conn *pc, store_change_cb cb, void *ctx)
{
    int count = 0;
    PGnotify *n;
    while ((n = PQnotifies(pc->listen)) != NULL) {
        count++;
        const char *payload = n->extra ? n->extra : "";
        /* "<letter> <id> <origin>"; the id may be empty and is cut to a store id's size
         * (longer ones are not ours); a payload without an origin is some other sender's */
        const char *id_at = payload[0] && payload[1] == ' ' ? payload + 2 : "";
        size_t id_len = strcspn(id_at, " ");
        const char *origin = id_at[id_len] == ' ' ? id_at + id_len + 1 : NULL;
        if (cb && !(origin && strcmp(origin, pc->st->origin) == 0)) {
            char id[STORE_ID_MAX] = "";
            snprintf(id, sizeof id, "%.*s", (int)(id_len < sizeof id ? id_len : sizeof id - 1),
                     id_at);
            cb(ctx, kind_of(payload[0]), id);
        }
        PQfreemem(n);
    }
    return count;
}

store_status pg_changes_wait(store_conn *c, double timeout, store_change_cb cb, void *ctx,
                             int *changed)
{
    struct pgs_conn *pc = PGC(c);
    *changed = 1;
    double end = eir_clock_mono() + (timeout > 0 ? timeout : 0);
    if (pc->listen && PQstatus(pc->listen) != CONNECTION_OK) pg_listen_close(pc);
    if (!pc->listen) {
        store_status st = listen_open(pc);
        if (st != STORE_OK) return st;
    }
    int synced = 0;
    for (;;) {
        if (!PQconsumeInput(pc->listen)) {
            store_status st = pg_fail_res(pc, pc->listen, NULL, "cannot read change notifications");
            pg_listen_close(pc);
            return st;
        }
        int got = deliver(pc, cb, ctx);
        if (pc->listen_fresh) { /* what happened while no one listened is unknown: say so */
            pc->listen_fresh = 0;
            return STORE_OK;
        }
        if (got) return STORE_OK;
        double left = end - eir_clock_mono();
        if (!synced && left < PG_SYNC_BELOW) {
            /* A short wait: the notification of a commit that returned just before this call
             * may still be on its way (the listening backend sends it when signalled). A round
             * trip lets the backend deliver what was signalled before it; then look again. */
            synced = 1;
            store_status st = listen_sync(pc);
            if (st != STORE_OK) return st;
            continue;
        }
        if (left <= 0) {
            *changed = 0;
            return STORE_OK;
        }
        struct pollfd pfd = {.fd = PQsocket(pc->listen), .events = POLLIN};
        if (pfd.fd < 0) {
            pg_listen_close(pc);
            return pg_fail(pc, STORE_BUSY, "the listening connection to PostgreSQL was lost");
        }
        double ms = left * 1000.0 + 1;
        int rc = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (rc < 0 && errno != EINTR) {
            int e = errno;
            pg_listen_close(pc);
            return pg_fail(pc, STORE_ERROR, "cannot wait for change notifications: %s",
                           strerror(e));
        }
    }
}

store_status pg_runs_settled(store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                             unsigned char *settled)
{
    struct pgs_conn *pc = PGC(c);
    if (n) memset(settled, 0, n);
    if (n == 0) return STORE_OK;
    if (n > (size_t)(INT_MAX / (2 * STORE_ID_MAX + 3)) - 1)
        return pg_fail(pc, STORE_INVALID, "too many run ids (%zu)", n);
    const char **list = malloc(n * sizeof *list);
    if (!list) return pg_fail(pc, STORE_ERROR, "out of memory for %zu run ids", n);
    for (size_t i = 0; i < n; i++) {
        if (!store_plain_id(ids[i])) {
            free(list);
            return pg_fail(pc, STORE_INVALID, "run id %zu of %zu is malformed", i + 1, n);
        }
        list[i] = ids[i];
    }
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text_array(&p, list, n);
    free(list);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) {
        pg_params_free(&p);
        return st;
    }
    /* the 0-based positions of the ids that are neither a queued or running run nor a sweep
     * with such a run (final, or gone): one look-up of runs' id and sweep indexes per id */
    PGresult *res = pg_exec(pc,
                            "SELECT j.i - 1 FROM unnest($1::text[]) WITH ORDINALITY AS j(id, i) "
                            "WHERE NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = j.id AND "
                            "runs.status IN (0, 1)) AND NOT EXISTS (SELECT 1 FROM runs WHERE "
                            "runs.sweep_id = j.id AND runs.status IN (0, 1))",
                            &p, 0, &st, "cannot look up the runs waited for");
    pg_return(pc);
    pg_params_free(&p);
    if (!res) return st;
    int rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        int64_t k = pg_i64(res, r, 0);
        if (k >= 0 && (size_t)k < n) settled[k] = 1;
    }
    PQclear(res);
    return STORE_OK;
}
