/**
 * @file store_sqlite_watch.c
 * @brief SQLite backend: change detection for long polls on daemons sharing one database
 *        (store_ops::changes_wait and store_ops::runs_settled; docs/STORE.md, "Change
 *        detection").
 *
 * SQLite has no notifications between processes, but every handle has PRAGMA data_version, a
 * counter that changes whenever another connection (of any process) committed: reading it costs
 * a look at the WAL index in shared memory, no page read. A waiting connection polls it every
 * ::SQ_CHANGE_POLL seconds; when it moved, the caller asks which of its runs are settled in one
 * statement over a JSON array of their ids.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/** Seconds between two readings of PRAGMA data_version while a caller waits. */
#define SQ_CHANGE_POLL 0.05

/** Read PRAGMA data_version into *@p v. */
static store_status read_data_version(struct sq_conn *sc, int64_t *v)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_DATA_VERSION, &st);
    if (!s) return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(s, 0);
    else
        st = sq_fail_rc(sc, rc == SQLITE_DONE ? SQLITE_ERROR : rc,
                        "cannot read the database's change counter");
    sq_done(s);
    return st;
}

store_status sq_changes_wait(store_conn *c, double timeout, store_change_cb cb, void *ctx,
                             int *changed)
{
    (void)cb; /* SQLite has no notifications: it only tells that something changed */
    (void)ctx;
    struct sq_conn *sc = SQ(c);
    *changed = 1;
    double end = eir_clock_mono() + (timeout > 0 ? timeout : 0);
    for (;;) {
        store_status st = sq_conn_op(sc); /* reopens after a fatal error: known = 0 again */
        if (st != STORE_OK) return st;
        int64_t v = 0;
        if ((st = read_data_version(sc, &v)) != STORE_OK) return st;
        if (!sc->data_version_known || v != sc->data_version) {
            sc->data_version = v;
            sc->data_version_known = 1;
            return STORE_OK;
        }
        double left = end - eir_clock_mono();
        if (left <= 0) {
            *changed = 0;
            return STORE_OK;
        }
        eir_clock_sleep(left < SQ_CHANGE_POLL ? left : SQ_CHANGE_POLL);
    }
}

store_status sq_runs_settled(store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                             unsigned char *settled)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (n > (size_t)(INT_MAX / (STORE_ID_MAX + 3)) - 1)
        return sq_fail(sc, STORE_INVALID, "too many run ids (%zu)", n);
    /* The ids as one JSON array, bound as a parameter: ["r_...","r_..."] */
    char *json = malloc(n * (STORE_ID_MAX + 3) + 2);
    if (!json) return sq_fail(sc, STORE_ERROR, "out of memory for %zu run ids", n);
    size_t len = 0;
    json[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (!store_plain_id(ids[i])) {
            free(json);
            return sq_fail(sc, STORE_INVALID, "run id %zu of %zu is malformed", i + 1, n);
        }
        size_t k = strlen(ids[i]);
        if (i) json[len++] = ',';
        json[len++] = '"';
        memcpy(json + len, ids[i], k);
        len += k;
        json[len++] = '"';
    }
    json[len++] = ']';
    json[len] = '\0';

    sqlite3_stmt *s = sq_stmt(sc, ST_RUNS_SETTLED, &st);
    if (!s) {
        free(json);
        return st;
    }
    sqlite3_bind_text(s, 1, json, (int)len, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_int64 k = sqlite3_column_int64(s, 0);
        if (k >= 0 && (size_t)k < n) settled[k] = 1;
    }
    if (rc != SQLITE_DONE) {
        st = sq_fail_rc(sc, rc, "cannot look up the runs waited for");
        memset(settled, 0, n);
    }
    sq_done(s);
    free(json);
    return st;
}
