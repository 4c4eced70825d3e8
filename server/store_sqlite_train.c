/**
 * @file store_sqlite_train.c
 * @brief SQLite backend: trainings' checkpoints and learning curves (docs/STORE.md,
 *        "Trainings"). The trained model is created by sq_finish_model() (store_sqlite_finish.c).
 *
 * A checkpoint is one BLOB per training, written straight from the caller's memory
 * (SQLITE_STATIC) and read back with incremental BLOB I/O straight into the buffer handed to the
 * caller, so a checkpoint of tens of MB is copied once each way. A curve row's NaN is stored as
 * NULL (sqlite3_bind_double() binds NaN as NULL) and read back as NaN.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/** The arguments of sq_training_checkpoint_put(). */
struct ckpt_put {
    const char *id;
    int attempt;
    int64_t iteration;
    const void *state;
    size_t n;
    const store_curve_row *rows;
    size_t nrows;
};

/** Upsert the curve rows of @p p (inside the caller's transaction). */
static store_status curve_put(struct sq_conn *sc, const struct ckpt_put *p)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = p->nrows ? sq_stmt(sc, ST_TRAIN_CURVE_PUT, &st) : NULL;
    for (size_t i = 0; s && i < p->nrows && st == STORE_OK; i++) {
        const store_curve_row *r = &p->rows[i];
        const double v[7] = {r->loss,      r->task_loss, r->l2_weights,   r->l2_rates,
                             r->grad_norm, r->accuracy,  r->eval_accuracy};
        sq_bind_text(s, 1, p->id);
        sq_bind_i64(s, 2, r->iteration);
        for (int k = 0; k < 7; k++)
            sqlite3_bind_double(s, 3 + k, v[k]); /* NaN binds NULL */
        st = sq_run_stmt(sc, s, "cannot store a curve row");
    }
    return st;
}

/** Body of sq_training_checkpoint_put(), in one write transaction: the fence, the checkpoint
 *  and the curve rows. */
static store_status ckpt_put(struct sq_conn *sc, void *arg)
{
    const struct ckpt_put *p = arg;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_TRAIN_FENCE, &st);
    if (!s) return st;
    int64_t now = eir_clock_epoch_ms();
    sq_bind_text(s, 1, p->id);
    sq_bind_i64(s, 2, p->attempt);
    sq_bind_i64(s, 3, sq_lease_until(sc, now));
    if ((st = sq_run_stmt(sc, s, "cannot check the training's claim")) != STORE_OK) return st;
    if (sqlite3_changes64(sc->db) != 1) return sq_fence_fail(sc, p->id, p->attempt);
    if (p->state) {
        if (!(s = sq_stmt(sc, ST_TRAIN_CKPT_PUT, &st))) return st;
        sq_bind_text(s, 1, p->id);
        sq_bind_i64(s, 2, p->iteration);
        sq_bind_i64(s, 3, now);
        int rc = sqlite3_bind_blob64(s, 4, p->state, p->n, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            sq_done(s);
            return sq_fail(sc, rc == SQLITE_TOOBIG ? STORE_INVALID : STORE_ERROR,
                           "cannot bind the checkpoint (%zu bytes): %s", p->n, sqlite3_errstr(rc));
        }
        if ((st = sq_run_stmt(sc, s, "cannot store the checkpoint")) != STORE_OK) return st;
    }
    return curve_put(sc, p);
}

store_status sq_training_checkpoint_put(store_conn *c, const char *id, int attempt,
                                        int64_t iteration, const void *state, size_t n,
                                        const store_curve_row *rows, size_t nrows)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    const char *why = store_checkpoint_check(id, state, n, iteration, rows, nrows);
    if (why) return sq_fail(sc, STORE_INVALID, "%s", why);
    struct ckpt_put p = {id, attempt, iteration, state, n, rows, nrows};
    /* a checkpoint is what a restarted training resumes from: durable before the call returns;
     * curve rows alone are not (a lost row is written again by the resumed training) */
    return sq_tx_run(sc, SQ_TX_BEGIN | (state ? SQ_TX_DURABLE : 0), ckpt_put, &p);
}

store_status sq_training_checkpoint_get(store_conn *c, const char *id, int64_t *iteration,
                                        void **state, size_t *n)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !iteration || !state || !n)
        return sq_fail(sc, STORE_INVALID, "job id or outputs missing");
    *iteration = 0;
    *state = NULL;
    *n = 0;
    sqlite3_stmt *s = sq_stmt(sc, ST_TRAIN_CKPT_GET, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "no checkpoint of %s", id);
    } else if (rc != SQLITE_ROW) {
        st = sq_fail_rc(sc, rc, "cannot read the checkpoint");
    } else {
        /* the statement's read transaction is open until sq_done(): the BLOB read below sees
         * the row the SELECT found */
        sqlite3_int64 rowid = sqlite3_column_int64(s, 0);
        int64_t iter = sqlite3_column_int64(s, 1);
        sqlite3_int64 len = sqlite3_column_int64(s, 2);
        unsigned char *buf =
            len > 0 && (uint64_t)len <= STORE_CHECKPOINT_MAX ? malloc((size_t)len) : NULL;
        sqlite3_blob *b = NULL;
        if (!buf) {
            st = sq_fail(sc, STORE_ERROR, "cannot hold the checkpoint of %s (%lld bytes)", id,
                         (long long)len);
        } else {
            rc = sqlite3_blob_open(sc->db, "main", "training_checkpoints", "state", rowid, 0, &b);
            if (rc == SQLITE_OK) rc = sqlite3_blob_read(b, buf, (int)len, 0);
            if (rc != SQLITE_OK) st = sq_fail_rc(sc, rc, "cannot read the checkpoint");
            sqlite3_blob_close(b);
        }
        if (st == STORE_OK) {
            *iteration = iter;
            *state = buf;
            *n = (size_t)len;
        } else {
            free(buf);
        }
    }
    sq_done(s);
    return st;
}

store_status sq_training_curve_read(store_conn *c, const char *id, int64_t after_iteration,
                                    int limit, store_curve_cb cb, void *ctx)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "job id missing");
    sqlite3_stmt *s = sq_stmt(sc, ST_TRAIN_CURVE_READ, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    sq_bind_i64(s, 2, after_iteration);
    sq_bind_i64(s, 3, limit > 0 ? limit : -1); /* LIMIT -1: no limit */
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_curve_row r;
        double v[7];
        r.iteration = sqlite3_column_int64(s, 0);
        for (int k = 0; k < 7; k++)
            v[k] = sqlite3_column_type(s, 1 + k) == SQLITE_NULL ? NAN
                                                                : sqlite3_column_double(s, 1 + k);
        r.loss = v[0];
        r.task_loss = v[1];
        r.l2_weights = v[2];
        r.l2_rates = v[3];
        r.grad_norm = v[4];
        r.accuracy = v[5];
        r.eval_accuracy = v[6];
        if (cb && cb(ctx, &r)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) st = sq_fail_rc(sc, rc, "cannot read the curve");
    sq_done(s);
    return st;
}
