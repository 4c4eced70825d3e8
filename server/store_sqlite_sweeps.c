/**
 * @file store_sqlite_sweeps.c
 * @brief SQLite backend: sweeps (create, get, list, runs, cancel, delete; docs/SWEEPS.md).
 *
 * A sweep is a row of `sweeps` (its request and labels) and the runs that point back to it
 * (runs.sweep_id, runs.sweep_index); its state is computed from them by one grouped join over
 * the runs_sweep index (SWEEP_COLS in store_sqlite_conn.c), never stored twice. Each point is an
 * ordinary queued run: claims, finishes, cancels, requeues after a restart and deletes treat it
 * like any other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_sqlite_int.h"

/** Column of request_json in ST_SWEEP_GET (after SWEEP_COLS). */
#define SWEEP_REQUEST_COL 16

/**
 * Fill @p sw from a row of SWEEP_COLS (+ request_json when @p with_request). With @p copy the
 * strings are malloc'ed (store_sweep_clear() frees them), else they point into the row.
 * Returns -1 when out of memory (then *sw holds nothing to free).
 */
static int row_to_sweep(sqlite3_stmt *s, int with_request, int copy, store_sweep *sw)
{
    memset(sw, 0, sizeof *sw);
    sq_copy_str(sw->id, sizeof sw->id, sqlite3_column_text(s, 0));
    sw->created_at = sqlite3_column_int64(s, 2);
    sw->points = sqlite3_column_int64(s, 6);
    for (int i = 0; i < STORE_RUN_NSTATUS; i++)
        sw->by_status[i] = sqlite3_column_int64(s, 7 + i);
    sw->progress_done = sqlite3_column_int64(s, 13);
    sw->progress_total = sqlite3_column_int64(s, 14);
    sw->finished_at = sqlite3_column_int64(s, 15);
    if (!copy) {
        sw->name = (char *)sqlite3_column_text(s, 1);
        sw->labels_json = sq_labels_col(s, 3);
        sw->idempotency_key = (char *)sqlite3_column_text(s, 4);
        if (with_request) sw->request_json = (char *)sqlite3_column_text(s, SWEEP_REQUEST_COL);
        return 0;
    }
    if (sq_dup_col(s, 1, &sw->name) || sq_dup_labels_col(s, 3, &sw->labels_json) ||
        sq_dup_col(s, 4, &sw->idempotency_key) ||
        (with_request && sq_dup_col(s, SWEEP_REQUEST_COL, &sw->request_json))) {
        store_sweep_clear(sw);
        return -1;
    }
    if (!sw->name && !(sw->name = strdup(""))) {
        store_sweep_clear(sw);
        return -1;
    }
    return 0;
}

/** Read sweep @p id with its counts into @p out (copied strings). ::STORE_NOT_FOUND. */
static store_status load_sweep(struct sq_conn *sc, const char *id, int with_request,
                               store_sweep *out)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_SWEEP_GET, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (row_to_sweep(s, with_request, 1, out))
            st = sq_fail(sc, STORE_ERROR, "out of memory reading sweep %s", id);
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "no sweep %s", id);
    } else {
        st = sq_fail_rc(sc, rc, "cannot read the sweep");
    }
    sq_done(s);
    return st;
}

/** ::STORE_OK when sweep @p id exists, ::STORE_NOT_FOUND when not. */
static store_status sweep_exists(struct sq_conn *sc, const char *id)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_SWEEP_EXISTS, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    sq_done(s);
    if (rc == SQLITE_ROW) return STORE_OK;
    if (rc == SQLITE_DONE) return sq_fail(sc, STORE_NOT_FOUND, "no sweep %s", id);
    return sq_fail_rc(sc, rc, "cannot read the sweep");
}

/** Whether @p id is @p prefix + 1 to STORE_ID_MAX - 3 of [a-z0-9] (a drawn id's form). */
static int is_id(const char *id, const char *prefix)
{
    if (!id || strncmp(id, prefix, 2) != 0) return 0;
    size_t n = strlen(id);
    if (n <= 2 || n >= STORE_ID_MAX) return 0;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) return 0;
    return 1;
}

/* ---- create ------------------------------------------------------------------------------ */

/** A sweep to create (sq_sweep_create()). */
struct sweep_create {
    const store_sweep_new *in;
    store_sweep *out;
    int inserted; /**< a new sweep was stored (0: the key's existing sweep was loaded) */
};

/** The sweep already stored under the request's idempotency key, if any: *found = 1 and @p out
 *  loaded when its body is the same; ::STORE_KEY_REUSED when another body used the key. */
static store_status find_by_key(struct sq_conn *sc, const store_sweep_new *in, store_sweep *out,
                                int *found)
{
    char id[STORE_ID_MAX];
    store_status st =
        sq_key_owner(sc, ST_SWEEP_BY_KEY, in->idempotency_key, in->body_hash, "sweep", id, found);
    return st != STORE_OK || !*found ? st : load_sweep(sc, id, 0, out);
}

/** ::STORE_QUEUE_FULL when the sweep's runs would take the queue past its limit. */
static store_status check_room(struct sq_conn *sc, const store_sweep_new *in)
{
    if (in->queue_limit <= 0) return STORE_OK;
    int64_t depth = 0;
    store_status st = sq_count_query(sc, ST_QUEUE_DEPTH, NULL, &depth, "cannot count the queue");
    if (st != STORE_OK) return st;
    if (depth + in->n_runs > in->queue_limit)
        return sq_fail(sc, STORE_QUEUE_FULL,
                       "the queue is full: %" PRId64 " runs queued, the sweep's %" PRId64
                       " would pass the limit (%" PRId64 ")",
                       depth, in->n_runs, in->queue_limit);
    return STORE_OK;
}

/** INSERT the sweep row and its labels. */
static store_status insert_sweep(struct sq_conn *sc, const store_sweep_new *in, int64_t now)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_SWEEP_INSERT, &st);
    if (!s) return st;
    int rc = sq_bind_text(s, 1, in->id) | sq_bind_text(s, 2, in->name ? in->name : "") |
             sq_bind_i64(s, 3, now) | sq_bind_text(s, 6, in->idempotency_key) |
             sq_bind_text(s, 7, in->idempotency_key ? in->body_hash : NULL);
    int rcj = sq_bind_text(s, 4, in->request_json) | sq_bind_text(s, 5, in->labels_json);
    if (rc != SQLITE_OK || rcj != SQLITE_OK) {
        sq_done(s);
        return sq_fail(sc, rcj == SQLITE_TOOBIG ? STORE_INVALID : STORE_ERROR,
                       "cannot bind the sweep: %s", sqlite3_errstr(rcj ? rcj : rc));
    }
    rc = sqlite3_step(s);
    sq_done(s);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return sq_fail(sc, STORE_INVALID, "sweep id %s is already used", in->id);
    if (rc != SQLITE_DONE) return sq_fail_rc(sc, rc, "cannot store the sweep");
    return sq_labels_put(sc, in->id, in->labels_json);
}

/** INSERT the sweep's new models, pending (a worker builds each), marked as the sweep's. */
static store_status insert_models(struct sq_conn *sc, const store_sweep_new *in, int64_t now)
{
    for (int64_t i = 0; i < in->n_models; i++) {
        const store_sweep_model *m = &in->models[i];
        struct sq_model_row row = {.id = m->id,
                                   .name = m->name ? m->name : "",
                                   .hash = "",
                                   .json = m->json,
                                   .labels_json = m->labels_json,
                                   .sweep_id = in->id,
                                   .n = m->n,
                                   .created_at = now};
        store_status st = sq_model_insert_row(sc, &row);
        if (st == STORE_CONFLICT)
            return sq_fail(sc, STORE_INVALID,
                           "model id %s (model %" PRId64 " of the sweep) is "
                           "already used",
                           m->id, i);
        if (st != STORE_OK) return st;
    }
    return STORE_OK;
}

/** INSERT the sweep's runs in point order; statements are prepared once and reused. */
static store_status insert_runs(struct sq_conn *sc, const store_sweep_new *in)
{
    char id[STORE_ID_MAX];
    for (int64_t i = 0; i < in->n_runs; i++) {
        store_status st = sq_run_insert(sc, &in->runs[i], in->id, i, id);
        if (st == STORE_NOT_FOUND)
            return sq_fail(sc, STORE_NOT_FOUND, "point %" PRId64 " of the sweep: no model %s", i,
                           in->runs[i].model_id ? in->runs[i].model_id : "");
        if (st != STORE_OK) {
            char why[STORE_ERRMSG_MAX];
            snprintf(why, sizeof why, "%s", sc->base.errmsg);
            return sq_fail(sc, st, "point %" PRId64 " of the sweep: %s", i, why);
        }
    }
    return STORE_OK;
}

/** Body of sq_sweep_create(): replay the key's sweep, or check for room and store it all. */
static store_status sweep_create(struct sq_conn *sc, void *arg)
{
    struct sweep_create *c = arg;
    const store_sweep_new *in = c->in;
    store_status st;
    if (in->idempotency_key) {
        int found;
        if ((st = find_by_key(sc, in, c->out, &found)) != STORE_OK || found) return st;
    }
    if ((st = check_room(sc, in)) != STORE_OK) return st;
    int64_t now = eir_clock_epoch_ms();
    if ((st = insert_sweep(sc, in, now)) != STORE_OK) return st;
    if ((st = insert_models(sc, in, now)) != STORE_OK) return st;
    if ((st = insert_runs(sc, in)) != STORE_OK) return st;
    if ((st = load_sweep(sc, in->id, 0, c->out)) != STORE_OK) return st;
    c->inserted = 1;
    return STORE_OK;
}

/** The checks of sq_sweep_create() that need no database: ::STORE_INVALID naming the field. */
static store_status check_sweep_new(struct sq_conn *sc, const store_sweep_new *in)
{
    if (!is_id(in->id, "s_"))
        return sq_fail(sc, STORE_INVALID, "sweep id must be s_ and lower-case hex, < %d bytes",
                       STORE_ID_MAX);
    if (!in->request_json) return sq_fail(sc, STORE_INVALID, "sweep request missing");
    if (in->n_models < 0 || in->n_runs < 0 || (in->n_models > 0 && !in->models) ||
        (in->n_runs > 0 && !in->runs))
        return sq_fail(sc, STORE_INVALID, "a sweep's models or runs are missing");
    if (in->idempotency_key) {
        size_t kl = strlen(in->idempotency_key);
        if (kl == 0 || kl > SQ_KEY_MAX)
            return sq_fail(sc, STORE_INVALID, "idempotency key must be 1 to %d bytes", SQ_KEY_MAX);
        if (!store_is_hex64(in->body_hash))
            return sq_fail(sc, STORE_INVALID,
                           "an idempotency key needs the request body's SHA-256 (64 hex)");
    }
    for (int64_t i = 0; i < in->n_models; i++) {
        const store_sweep_model *m = &in->models[i];
        if (!is_id(m->id, "m_") || !m->json || m->n < 0)
            return sq_fail(sc, STORE_INVALID,
                           "model %" PRId64 " of the sweep: needs an m_ id, a document and N >= 0",
                           i);
    }
    for (int64_t i = 0; i < in->n_runs; i++) {
        const store_run_new *r = &in->runs[i];
        if (r->kind && strcmp(r->kind, "run") != 0)
            return sq_fail(sc, STORE_INVALID, "point %" PRId64 " of the sweep: kind %.32s, not run",
                           i, r->kind);
        if (r->idempotency_key)
            return sq_fail(sc, STORE_INVALID,
                           "point %" PRId64 " of the sweep: a point has no idempotency key of "
                           "its own (the sweep's covers it)",
                           i);
        store_status st = sq_run_new_check(sc, r);
        if (st != STORE_OK) {
            char why[STORE_ERRMSG_MAX];
            snprintf(why, sizeof why, "%s", sc->base.errmsg);
            return sq_fail(sc, st, "point %" PRId64 " of the sweep: %s", i, why);
        }
    }
    return STORE_OK;
}

store_status sq_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                             int *created)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!in || !out) return sq_fail(sc, STORE_INVALID, "sweep or output missing");
    if ((st = check_sweep_new(sc, in)) != STORE_OK) return st;
    memset(out, 0, sizeof *out);
    struct sweep_create cr = {in, out, 0};
    /* one transaction: the sweep, its models and its runs are stored all or not at all, and
     * durably before the caller answers 202 */
    if ((st = sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, sweep_create, &cr)) != STORE_OK) {
        store_sweep_clear(out);
        return st;
    }
    if (created && cr.inserted) *created = 1;
    return STORE_OK;
}

/* ---- reads ------------------------------------------------------------------------------- */

store_status sq_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !out) return sq_fail(sc, STORE_INVALID, "sweep id or output missing");
    memset(out, 0, sizeof *out);
    return load_sweep(sc, id, with_request, out);
}

/** The caller's callback of sq_sweep_list(). */
struct sweep_page {
    store_sweep_cb cb;
    void *ctx;
};

/** A row of ST_SWEEP_LIST to the caller, as a ::store_sweep pointing into the row. */
static int sweep_row(sqlite3_stmt *s, void *arg)
{
    struct sweep_page *p = arg;
    store_sweep sw;
    row_to_sweep(s, 0, 0, &sw);
    if (!sw.name) sw.name = (char *)"";
    return p->cb && p->cb(p->ctx, &sw);
}

store_status sq_sweep_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_SWEEP_LIST, &st);
    if (!s) return st;
    if ((st = sq_bind_labels(sc, s, labels)) != STORE_OK) return st;
    struct sweep_page p = {cb, ctx};
    return sq_list_page(sc, s, 5, cursor, limit, sweep_row, &p, next, "cannot list sweeps");
}

store_status sq_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "sweep id missing");
    /* one read transaction: the sweep and its runs as of one moment */
    if ((st = sq_run_fixed(sc, ST_BEGIN_READ, "cannot start a read transaction")) != STORE_OK)
        return st;
    if ((st = sweep_exists(sc, id)) == STORE_OK) {
        sqlite3_stmt *s = sq_stmt(sc, ST_SWEEP_RUNS, &st);
        if (s) {
            sq_bind_text(s, 1, id);
            int rc;
            while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                store_run r;
                sq_row_to_run(s, 0, 0, &r);
                if (cb && cb(ctx, &r)) {
                    rc = SQLITE_DONE;
                    break;
                }
            }
            if (rc != SQLITE_DONE) st = sq_fail_rc(sc, rc, "cannot list the sweep's runs");
            sq_done(s);
        }
    }
    if (st == STORE_OK)
        st = sq_run_fixed(sc, ST_COMMIT, "cannot end a read transaction");
    else
        sq_tx_fail(sc, st); /* rolls back the read; this connection holds no writer lock */
    return st;
}

/* ---- writes ------------------------------------------------------------------------------ */

/** The arguments of sq_sweep_cancel() and sq_sweep_delete(). */
struct sweep_op {
    const char *id;
    int64_t *count; /**< affected (cancel) or active (delete) runs; may be NULL */
};

/** Body of sq_sweep_cancel(). */
static store_status sweep_cancel(struct sq_conn *sc, void *arg)
{
    struct sweep_op *op = arg;
    store_status st = sweep_exists(sc, op->id);
    if (st != STORE_OK) return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_SWEEP_CANCEL, &st);
    if (!s) return st;
    sq_bind_text(s, 1, op->id);
    sq_bind_i64(s, 2, eir_clock_epoch_ms());
    if ((st = sq_run_stmt(sc, s, "cannot cancel the sweep's runs")) != STORE_OK) return st;
    if (op->count) *op->count = sqlite3_changes64(sc->db);
    return STORE_OK;
}

store_status sq_sweep_cancel(store_conn *c, const char *id, int64_t *affected)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "sweep id missing");
    int64_t n = 0;
    struct sweep_op op = {id, &n};
    st = sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, sweep_cancel, &op);
    if (affected) *affected = st == STORE_OK ? n : 0;
    return st;
}

/** Run the statement @p id with the sweep's id as ?1. */
static store_status sweep_stmt(struct sq_conn *sc, enum stmt_id id, const char *sweep,
                               const char *what)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, id, &st);
    if (!s) return st;
    sq_bind_text(s, 1, sweep);
    return sq_run_stmt(sc, s, what);
}

/** Body of sq_sweep_delete(): refuse while a run is active, else delete everything of it. */
static store_status sweep_delete(struct sq_conn *sc, void *arg)
{
    struct sweep_op *op = arg;
    store_status st = sweep_exists(sc, op->id);
    if (st != STORE_OK) return st;
    int64_t active = 0;
    if ((st = sq_count_query(sc, ST_SWEEP_ACTIVE, op->id, &active,
                             "cannot count the sweep's active runs")) != STORE_OK)
        return st;
    if (active > 0) {
        if (op->count) *op->count = active;
        return sq_fail(sc, STORE_CONFLICT,
                       "sweep %s has %" PRId64 " queued or running run(s); cancel it first", op->id,
                       active);
    }
    /* the runs (their results, chunks and labels go with them), then the models the sweep
     * created that no job uses any more, then the sweep (its labels go with it) */
    if ((st = sweep_stmt(sc, ST_SWEEP_DELETE_RUNS, op->id, "cannot delete the sweep's runs")) ||
        (st = sweep_stmt(sc, ST_SWEEP_DELETE_MODELS, op->id, "cannot delete the sweep's models")) ||
        (st = sweep_stmt(sc, ST_SWEEP_DELETE, op->id, "cannot delete the sweep")))
        return st;
    return STORE_OK;
}

store_status sq_sweep_delete(store_conn *c, const char *id, int64_t *active)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "sweep id missing");
    struct sweep_op op = {id, active};
    return sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, sweep_delete, &op);
}
