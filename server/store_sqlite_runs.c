/**
 * @file store_sqlite_runs.c
 * @brief SQLite backend: the run queue (create, get, list, claim, progress, cancel, release,
 *        delete).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_sqlite_int.h"

/** Read run @p id into @p out (copied strings, no request). */
store_status sq_load_run(struct sq_conn *sc, const char *id, store_run *out)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_GET, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (sq_row_to_run(s, 0, 1, out))
            st = sq_fail(sc, STORE_ERROR, "out of memory reading run %s", id);
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "no run %s", id);
    } else {
        st = sq_fail_rc(sc, rc, "cannot read the run");
    }
    sq_done(s);
    return st;
}

/** Status of run @p id into *status; NOT_FOUND when there is none. */
store_status sq_run_status_get(struct sq_conn *sc, const char *id, int *status)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_STATUS, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *status = store_run_status_parse((const char *)sqlite3_column_text(s, 0));
    else if (rc == SQLITE_DONE)
        st = sq_fail(sc, STORE_NOT_FOUND, "no run %s", id);
    else
        st = sq_fail_rc(sc, rc, "cannot read the run's status");
    sq_done(s);
    return st;
}

store_status sq_fence_fail(struct sq_conn *sc, const char *id, int attempt)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_STATUS, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int status = store_run_status_parse((const char *)sqlite3_column_text(s, 0));
        int now = sqlite3_column_int(s, 1);
        if (status != STORE_RUN_RUNNING)
            st = sq_fail(sc, STORE_CONFLICT, "run %s is %s, not running", id,
                         store_run_status_name((store_run_status)status));
        else
            st = sq_fail(sc, STORE_CONFLICT,
                         "lease lost: the run is attempt %d now (this claim was attempt %d)", now,
                         attempt);
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "no run %s", id);
    } else {
        st = sq_fail_rc(sc, rc, "cannot read the run's status");
    }
    sq_done(s);
    return st;
}

int64_t sq_lease_until(const struct sq_conn *sc, int64_t now_ms)
{
    return now_ms + (int64_t)(sc->st->cfg.lease_s * 1000.0 + 0.5);
}

/** Single-value count query. */
store_status sq_count_query(struct sq_conn *sc, enum stmt_id id, const char *arg, int64_t *out,
                            const char *what)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, id, &st);
    if (!s) return st;
    if (arg) sq_bind_text(s, 1, arg);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        st = sq_fail_rc(sc, rc, what);
    sq_done(s);
    return st;
}

/** A run to queue (sq_run_create()). */
struct run_create {
    const store_run_new *in;
    store_run *out;
    int inserted; /**< a new run was queued (0: the key's existing run was loaded) */
};

store_status sq_key_owner(struct sq_conn *sc, enum stmt_id stmt, const char *key,
                          const char *body_hash, const char *noun, char id[STORE_ID_MAX],
                          int *found)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, stmt, &st);
    *found = 0;
    id[0] = '\0';
    if (!s) return st;
    sq_bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sq_done(s);
        return rc == SQLITE_DONE ? STORE_OK
                                 : sq_fail_rc(sc, rc, "cannot look up the idempotency key");
    }
    sq_copy_str(id, STORE_ID_MAX, sqlite3_column_text(s, 0));
    const char *h = (const char *)sqlite3_column_text(s, 1);
    int same = h && strcasecmp(h, body_hash) == 0;
    sq_done(s);
    if (!same)
        return sq_fail(sc, STORE_KEY_REUSED,
                       "idempotency key already used for %s %s with a different request body", noun,
                       id);
    *found = 1;
    return STORE_OK;
}

/**
 * The run already queued under the request's idempotency key, if any: *found = 1 and @p out
 * loaded when its body is the same; ::STORE_KEY_REUSED when another body used the key.
 */
static store_status find_by_key(struct sq_conn *sc, const store_run_new *in, store_run *out,
                                int *found)
{
    char id[STORE_ID_MAX];
    store_status st =
        sq_key_owner(sc, ST_RUN_BY_KEY, in->idempotency_key, in->body_hash, "run", id, found);
    return st != STORE_OK || !*found ? st : sq_load_run(sc, id, out);
}

/** Whether the run may be queued: room in the queue, and its model (if named) exists. */
static store_status check_room(struct sq_conn *sc, const store_run_new *in)
{
    store_status st = STORE_OK;
    if (in->queue_limit > 0) {
        int64_t depth = 0;
        if ((st = sq_count_query(sc, ST_QUEUE_DEPTH, NULL, &depth, "cannot count the queue")))
            return st;
        if (depth >= in->queue_limit)
            return sq_fail(sc, STORE_QUEUE_FULL,
                           "the queue is full: %" PRId64 " runs queued (limit %" PRId64 ")", depth,
                           in->queue_limit);
    }
    if (!in->model_id) return STORE_OK;
    sqlite3_stmt *e = sq_stmt(sc, ST_MODEL_EXISTS, &st);
    if (!e) return st;
    sq_bind_text(e, 1, in->model_id);
    int rc = sqlite3_step(e);
    sq_done(e);
    if (rc == SQLITE_ROW) return STORE_OK;
    if (rc == SQLITE_DONE) return sq_fail(sc, STORE_NOT_FOUND, "no model %s", in->model_id);
    return sq_fail_rc(sc, rc, "cannot look up the model");
}

store_status sq_run_insert(struct sq_conn *sc, const store_run_new *in, const char *sweep_id,
                           int64_t sweep_index, char id[STORE_ID_MAX])
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_INSERT, &st);
    if (!s) return st;
    for (int attempt = 0;; attempt++) {
        if (eir_random_id(id, STORE_ID_MAX, store_job_kind_prefix(in->kind), 12))
            return sq_fail(sc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno));
        sq_bind_text(s, 1, id);
        sq_bind_text(s, 2, in->model_id);
        sq_bind_i64(s, 3, in->priority);
        sq_bind_i64(s, 4, in->max_attempts > 0 ? in->max_attempts : 3);
        sq_bind_i64(s, 5, eir_clock_epoch_ms());
        sq_bind_i64(s, 6, in->progress_total > 0 ? in->progress_total : 0);
        sqlite3_bind_double(s, 7, in->time_limit > 0 ? in->time_limit : 0.0);
        int rcj = sq_bind_text(s, 8, in->request_json) | sq_bind_text(s, 13, in->labels_json);
        sq_bind_text(s, 9, in->idempotency_key);
        sq_bind_text(s, 10, in->idempotency_key ? in->body_hash : NULL);
        sq_bind_text(s, 11, in->kind ? in->kind : "run");
        sq_bind_text(s, 12, in->subkind);
        sq_bind_text(s, 14, sweep_id);
        if (sweep_id) sq_bind_i64(s, 15, sweep_index);
        if (rcj != SQLITE_OK) {
            sq_done(s);
            return sq_fail(sc, STORE_INVALID, "cannot bind the run request: %s",
                           sqlite3_errstr(rcj));
        }
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) break;
        st = sq_fail_rc(sc, rc, "cannot queue the run");
        sq_done(s);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return sq_fail(sc, STORE_NOT_FOUND, "no model %s", in->model_id ? in->model_id : "");
        /* the key was checked under the write lock, so a UNIQUE failure is an id clash */
        if (rc != SQLITE_CONSTRAINT_UNIQUE || attempt >= 2) return st;
    }
    sq_done(s);
    return sq_labels_put(sc, id, in->labels_json);
}

store_status sq_run_new_check(struct sq_conn *sc, const store_run_new *in)
{
    if (!in->request_json) return sq_fail(sc, STORE_INVALID, "run request missing");
    if (!store_job_kind_prefix(in->kind))
        return sq_fail(sc, STORE_INVALID, "unknown job kind '%.32s' (run, analysis or training)",
                       in->kind);
    if (in->subkind && !store_is_subkind(in->subkind))
        return sq_fail(sc, STORE_INVALID, "a job's subkind must be 1 to %d of a-z, 0-9 and _",
                       STORE_KIND_MAX - 1);
    if (in->idempotency_key) {
        size_t kl = strlen(in->idempotency_key);
        if (kl == 0 || kl > SQ_KEY_MAX)
            return sq_fail(sc, STORE_INVALID, "idempotency key must be 1 to %d bytes", SQ_KEY_MAX);
        if (!store_is_hex64(in->body_hash))
            return sq_fail(sc, STORE_INVALID,
                           "an idempotency key needs the request body's SHA-256 (64 hex)");
    }
    return STORE_OK;
}

/** Body of sq_run_create(): replay the key's run, or check for room and queue a new one. */
static store_status run_create(struct sq_conn *sc, void *arg)
{
    struct run_create *rc = arg;
    store_status st;
    if (rc->in->idempotency_key) {
        int found;
        /* a replay changes nothing: sq_tx_run() still waits until the run it found is durable
         * (another thread may have committed it and not synced it yet) */
        if ((st = find_by_key(sc, rc->in, rc->out, &found)) != STORE_OK || found) return st;
    }
    if ((st = check_room(sc, rc->in)) != STORE_OK) return st;
    char id[STORE_ID_MAX];
    if ((st = sq_run_insert(sc, rc->in, NULL, -1, id)) != STORE_OK) return st;
    if ((st = sq_load_run(sc, id, rc->out)) != STORE_OK) return st;
    rc->inserted = 1;
    return STORE_OK;
}

store_status sq_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!in || !in->request_json || !out)
        return sq_fail(sc, STORE_INVALID, "run request or output missing");
    if ((st = sq_run_new_check(sc, in)) != STORE_OK) return st;
    memset(out, 0, sizeof *out);
    struct run_create rc = {in, out, 0};
    if ((st = sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, run_create, &rc)) != STORE_OK) {
        store_run_clear(out);
        return st;
    }
    if (created && rc.inserted) *created = 1;
    return STORE_OK;
}

store_status sq_run_get(store_conn *c, const char *id, store_run *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !out) return sq_fail(sc, STORE_INVALID, "run id or output missing");
    return sq_load_run(sc, id, out);
}

store_status sq_run_request(store_conn *c, const char *id, char **json)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !json) return sq_fail(sc, STORE_INVALID, "run id or output missing");
    *json = NULL;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_REQUEST, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (sq_dup_col(s, 0, json) || !*json)
            st = sq_fail(sc, STORE_ERROR, "out of memory reading the request of run %s", id);
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "no run %s", id);
    } else {
        st = sq_fail_rc(sc, rc, "cannot read the run's request");
    }
    sq_done(s);
    return st;
}

/** The caller's callback of sq_run_list(). */
struct run_page {
    store_run_cb cb;
    void *ctx;
};

/** A row of ST_RUN_LIST_* to the caller, as a ::store_run pointing into the row. */
static int run_row(sqlite3_stmt *s, void *arg)
{
    struct run_page *p = arg;
    store_run r;
    sq_row_to_run(s, 0, 0, &r);
    return p->cb && p->cb(p->ctx, &r);
}

store_status sq_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                         store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    int status = f ? f->status : -1;
    const char *model = f ? f->model_id : NULL;
    if (status < -1 || status >= STORE_RUN_NSTATUS)
        return sq_fail(sc, STORE_INVALID, "unknown run status %d", status);
    const char *kind = f ? f->kind : NULL, *subkind = f ? f->subkind : NULL;
    const char *sweep = f ? f->sweep_id : NULL;
    enum stmt_id id = sweep         ? ST_RUN_LIST_SWEEP
                      : status >= 0 ? (model ? ST_RUN_LIST_BOTH : ST_RUN_LIST_STATUS)
                      : model       ? ST_RUN_LIST_MODEL
                      : kind        ? ST_RUN_LIST_KIND
                                    : ST_RUN_LIST_ALL;
    sqlite3_stmt *s = sq_stmt(sc, id, &st);
    if (!s) return st;
    if ((st = sq_bind_labels(sc, s, f ? f->labels : NULL)) != STORE_OK) return st;
    sq_bind_text(s, 7, sweep);
    if (status >= 0) sq_bind_text(s, 3, store_run_status_name((store_run_status)status));
    sq_bind_text(s, 4, model);
    sq_bind_text(s, 5, kind);
    sq_bind_text(s, 6, subkind);
    struct run_page p = {cb, ctx};
    return sq_list_page(sc, s, 7, cursor, limit, run_row, &p, next, "cannot list runs");
}

/** The arguments of a single-statement write on a run (each body reads those it needs). */
struct run_op {
    const char *id;
    int attempt; /**< the fence of progress and release */
    store_run *out;
    int64_t done_steps, total;
    int *cancel_requested;
    store_run_status *now;
};

/** Body of sq_run_claim(), in a write transaction: the head of the queue becomes running. */
static store_status run_claim(struct sq_conn *sc, void *arg)
{
    struct run_op *op = arg;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_CLAIM_NEXT, &st);
    if (!s) return st;
    int rc = sqlite3_step(s);
    int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sq_done(s);
    if (rc == SQLITE_DONE) return sq_fail(sc, STORE_NOT_FOUND, "the queue is empty");
    if (rc != SQLITE_ROW) return sq_fail_rc(sc, rc, "cannot claim a run");
    if (!(s = sq_stmt(sc, ST_RUN_CLAIM, &st))) return st;
    int64_t now = eir_clock_epoch_ms();
    sq_bind_i64(s, 1, seq);
    sq_bind_i64(s, 2, now);
    sq_bind_text(s, 3, sc->st->claimant);
    sq_bind_i64(s, 4, sq_lease_until(sc, now));
    if ((st = sq_run_stmt(sc, s, "cannot claim a run")) != STORE_OK) return st;
    if (sqlite3_changes64(sc->db) != 1) /* cannot happen under the write lock */
        return sq_fail(sc, STORE_ERROR, "the run at the head of the queue changed under its claim");
    if (!(s = sq_stmt(sc, ST_RUN_GET_SEQ, &st))) return st;
    sq_bind_i64(s, 1, seq);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW)
        st = sq_fail_rc(sc, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "cannot read the claimed run");
    else if (sq_row_to_run(s, 1, 1, op->out)) {
        store_run_clear(op->out);
        st = sq_fail(sc, STORE_ERROR, "out of memory reading the claimed run");
    }
    sq_done(s);
    return st; /* on failure the caller rolls the transaction back: nothing is claimed */
}

/** Step an UPDATE ... RETURNING status; *found tells whether it matched a row. */
static store_status update_returning_status(struct sq_conn *sc, sqlite3_stmt *s, int *found,
                                            store_run_status *now, const char *what)
{
    store_status st = STORE_OK;
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (*found) {
        int v = store_run_status_parse((const char *)sqlite3_column_text(s, 0));
        if (now && v >= 0) *now = (store_run_status)v;
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) st = sq_fail_rc(sc, rc, what);
    sq_done(s);
    return st;
}

/** Step the UPDATE ... RETURNING status @p id on run op->id, with ?2 = now and ?3 = the fence
 *  (skipped by statements without it). */
static store_status update_run(struct sq_conn *sc, enum stmt_id id, struct run_op *op, int *found,
                               const char *what)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, id, &st);
    *found = 0;
    if (!s) return st;
    sq_bind_text(s, 1, op->id);
    sq_bind_i64(s, 2, eir_clock_epoch_ms());
    sq_bind_i64(s, 3, op->attempt);
    return update_returning_status(sc, s, found, op->now, what);
}

/** ::STORE_CONFLICT naming the state run @p id is in ("run r_... is queued" + @p why), or why
 *  it could not be read (::STORE_NOT_FOUND when there is no such run). */
static store_status wrong_state(struct sq_conn *sc, const char *id, const char *why)
{
    int status;
    store_status st = sq_run_status_get(sc, id, &status);
    if (st != STORE_OK) return st;
    return sq_fail(sc, STORE_CONFLICT, "run %s is %s%s", id,
                   store_run_status_name((store_run_status)status), why);
}

/** Body of sq_run_progress(). */
static store_status run_progress(struct sq_conn *sc, void *arg)
{
    struct run_op *op = arg;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_PROGRESS, &st);
    if (!s) return st;
    sq_bind_text(s, 1, op->id);
    sq_bind_i64(s, 2, op->done_steps < 0 ? 0 : op->done_steps);
    sq_bind_i64(s, 3, op->total);
    sq_bind_i64(s, 4, op->attempt);
    sq_bind_i64(s, 5, sq_lease_until(sc, eir_clock_epoch_ms()));
    int rc = sqlite3_step(s);
    int found = rc == SQLITE_ROW;
    if (found) {
        if (op->cancel_requested) *op->cancel_requested = sqlite3_column_int(s, 0);
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) st = sq_fail_rc(sc, rc, "cannot record progress");
    sq_done(s);
    if (st != STORE_OK || found) return st;
    return sq_fence_fail(sc, op->id, op->attempt);
}

/** Body of sq_run_cancel(). */
static store_status run_cancel(struct sq_conn *sc, void *arg)
{
    struct run_op *op = arg;
    store_status st = STORE_OK;
    int found;
    st = update_run(sc, ST_RUN_CANCEL, op, &found, "cannot cancel the run");
    if (st != STORE_OK || found) return st;
    int status;
    if ((st = sq_run_status_get(sc, op->id, &status)) != STORE_OK) return st;
    if (op->now && status >= 0) *op->now = (store_run_status)status;
    if (status == STORE_RUN_CANCELLED) return STORE_OK;
    return sq_fail(sc, STORE_CONFLICT, "run %s already %s", op->id,
                   store_run_status_name((store_run_status)status));
}

/** Body of sq_run_release(). */
static store_status run_release(struct sq_conn *sc, void *arg)
{
    struct run_op *op = arg;
    store_status st = STORE_OK;
    int found;
    st = update_run(sc, ST_RUN_RELEASE, op, &found, "cannot release the run");
    if (st != STORE_OK || found) return st;
    return sq_fence_fail(sc, op->id, op->attempt);
}

/** Body of sq_run_delete(). */
static store_status run_delete(struct sq_conn *sc, void *arg)
{
    struct run_op *op = arg;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_DELETE, &st);
    if (!s) return st;
    sq_bind_text(s, 1, op->id);
    /* one statement: the run and (by ON DELETE CASCADE) its results and chunks */
    if ((st = sq_run_stmt(sc, s, "cannot delete the run")) != STORE_OK) return st;
    if (sqlite3_changes64(sc->db) > 0) return STORE_OK;
    return wrong_state(sc, op->id, "; only finished runs can be deleted");
}

/*
 * The single-statement writes run in autocommit under the writer lock (sq_tx_run()). Claims
 * and progress do not wait for the disk: a claim lost in a power cut leaves the run queued (it
 * runs again), lost progress shows older progress. Cancel, release and delete are decisions a
 * client is told about, so they wait until they (or, when they changed nothing, the state they
 * saw) are on stable storage.
 */

/** Common entry of the operations on one run: a usable connection and a run id. */
static store_status run_op_start(struct sq_conn *sc, const char *id)
{
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "run id missing");
    return STORE_OK;
}

store_status sq_run_claim_in_tx(struct sq_conn *sc, store_run *out)
{
    struct run_op op = {.out = out};
    return run_claim(sc, &op);
}

store_status sq_run_claim(store_conn *c, store_run *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!out) return sq_fail(sc, STORE_INVALID, "output missing");
    struct run_op op = {.out = out};
    return sq_tx_run(sc, SQ_TX_BEGIN, run_claim, &op);
}

store_status sq_run_progress(store_conn *c, const char *id, int attempt, int64_t done_steps,
                             int64_t total, int *cancel_requested)
{
    struct sq_conn *sc = SQ(c);
    store_status st = run_op_start(sc, id);
    if (st != STORE_OK) return st;
    struct run_op op = {.id = id,
                        .attempt = attempt,
                        .done_steps = done_steps,
                        .total = total,
                        .cancel_requested = cancel_requested};
    return sq_tx_run(sc, SQ_TX_STATEMENT, run_progress, &op);
}

store_status sq_run_cancel(store_conn *c, const char *id, store_run_status *now)
{
    struct sq_conn *sc = SQ(c);
    store_status st = run_op_start(sc, id);
    if (st != STORE_OK) return st;
    struct run_op op = {.id = id, .now = now};
    return sq_tx_run(sc, SQ_TX_STATEMENT | SQ_TX_DURABLE, run_cancel, &op);
}

store_status sq_run_release(store_conn *c, const char *id, int attempt, store_run_status *now)
{
    struct sq_conn *sc = SQ(c);
    store_status st = run_op_start(sc, id);
    if (st != STORE_OK) return st;
    struct run_op op = {.id = id, .attempt = attempt, .now = now};
    return sq_tx_run(sc, SQ_TX_STATEMENT | SQ_TX_DURABLE, run_release, &op);
}

store_status sq_run_delete(store_conn *c, const char *id)
{
    struct sq_conn *sc = SQ(c);
    store_status st = run_op_start(sc, id);
    if (st != STORE_OK) return st;
    struct run_op op = {.id = id};
    return sq_tx_run(sc, SQ_TX_STATEMENT | SQ_TX_DURABLE, run_delete, &op);
}
