/**
 * @file store_pg_train.c
 * @brief PostgreSQL backend: trainings' checkpoints and learning curves (docs/STORE.md,
 *        "Trainings"). Same semantics as store_sqlite_train.c; the trained model is created by
 *        pg_finish_model() (store_pg_finish.c).
 *
 * A put is one transaction (pg_tx_run()): the fence (an UPDATE of the job's row, which also
 * renews its lease and its claim row's, and keeps the row locked against a rescue until the
 * commit), the checkpoint upserted as one binary bytea parameter sent straight from the caller's
 * memory (column STORAGE EXTERNAL: no compression attempted), and the curve rows upserted in one
 * statement from eight array parameters (unnest). A checkpoint is read back in binary (one copy
 * out of libpq's result). NaN is stored as NULL, as on SQLite; `p id` is sent with the commit.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* The fence of attempt $2 of job $1, renewing its lease ($3 ms) and its claim row's; returns
 * the database's now. No row: not running, or another attempt. */
static const char fence_sql[] =
    "WITH now AS (SELECT " PG_NOW_MS " AS t), "
    "u AS (UPDATE runs SET lease_expires_at = now.t + $3::bigint FROM now "
    "WHERE id = $1 AND attempts = $2::int AND status = 1 RETURNING id, attempts, "
    "lease_expires_at), "
    "c AS (UPDATE run_claims AS rc SET lease_until = u.lease_expires_at FROM u "
    "WHERE rc.run_id = u.id AND rc.attempt = u.attempts AND rc.ended_at = 0) "
    "SELECT now.t FROM u, now";
static const char sync_off_sql[] = "SELECT set_config('synchronous_commit', 'off', true)";
static const char ckpt_put_sql[] =
    "INSERT INTO training_checkpoints (run_id, iteration, written_at, state) "
    "VALUES ($1, $2::bigint, $3::bigint, $4) ON CONFLICT (run_id) DO UPDATE SET "
    "iteration = excluded.iteration, written_at = excluded.written_at, state = excluded.state";
static const char curve_put_sql[] =
    "INSERT INTO training_curve (run_id, iteration, loss, task_loss, l2_weights, l2_rates, "
    "grad_norm, accuracy, eval_accuracy) SELECT $1, u.* FROM unnest($2::bigint[], "
    "$3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], "
    "$9::float8[]) AS u ON CONFLICT (run_id, iteration) DO UPDATE SET loss = excluded.loss, "
    "task_loss = excluded.task_loss, l2_weights = excluded.l2_weights, "
    "l2_rates = excluded.l2_rates, grad_norm = excluded.grad_norm, "
    "accuracy = excluded.accuracy, eval_accuracy = excluded.eval_accuracy";
/* binary result: iteration is an int8 in network order, state the bytes */
static const char ckpt_get_sql[] =
    "SELECT iteration, state FROM training_checkpoints WHERE run_id = $1";
/* $3 NULL: no limit */
static const char curve_read_sql[] =
    "SELECT iteration, loss, task_loss, l2_weights, l2_rates, grad_norm, accuracy, "
    "eval_accuracy FROM training_curve WHERE run_id = $1 AND iteration > $2::bigint "
    "ORDER BY iteration LIMIT $3::bigint";

/** The arguments of pg_training_checkpoint_put(), with the curve's columns as array texts. */
struct ckpt_put {
    const char *id;
    int attempt;
    int64_t iteration;
    const void *state;
    size_t n;
    size_t nrows;
    char *col[8]; /**< "{...}" texts: iterations, then the seven values (NaN as NULL) */
};

/** Append @p v to an array text at *@p pos (NULL for NaN, PostgreSQL's infinities). */
static void put_f64(char *buf, size_t *pos, double v)
{
    if (isnan(v))
        *pos += (size_t)sprintf(buf + *pos, "NULL");
    else if (isinf(v))
        *pos += (size_t)sprintf(buf + *pos, "%s", v > 0 ? "Infinity" : "-Infinity");
    else
        *pos += (size_t)sprintf(buf + *pos, "%.17g", v);
}

/** Fill p->col[] from @p rows (p->nrows of them); -1 when out of memory. */
static int curve_columns(struct ckpt_put *p, const store_curve_row *rows)
{
    size_t cap = p->nrows * 26 + 3; /* "%.17g" of a double: at most 24 characters, + a comma */
    for (int k = 0; k < 8; k++)
        if (!(p->col[k] = malloc(cap))) return -1;
    size_t pos[8];
    for (int k = 0; k < 8; k++) {
        p->col[k][0] = '{';
        pos[k] = 1;
    }
    for (size_t i = 0; i < p->nrows; i++) {
        const store_curve_row *r = &rows[i];
        const double v[7] = {r->loss,      r->task_loss, r->l2_weights,   r->l2_rates,
                             r->grad_norm, r->accuracy,  r->eval_accuracy};
        for (int k = 0; k < 8; k++)
            if (i > 0) p->col[k][pos[k]++] = ',';
        pos[0] += (size_t)sprintf(p->col[0] + pos[0], "%" PRId64, r->iteration);
        for (int k = 0; k < 7; k++)
            put_f64(p->col[k + 1], &pos[k + 1], v[k]);
    }
    for (int k = 0; k < 8; k++) {
        p->col[k][pos[k]++] = '}';
        p->col[k][pos[k]] = '\0';
    }
    return 0;
}

/** Body of pg_training_checkpoint_put(): the fence, the checkpoint, the curve rows. */
static store_status ckpt_put(struct pgs_conn *pc, void *arg)
{
    const struct ckpt_put *c = arg;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, c->id);
    pg_p_i64(&p, c->attempt);
    pg_p_i64(&p, pg_lease_ms(pc));
    store_status st;
    PGresult *r = pg_exec(pc, fence_sql, &p, 0, &st, "cannot check the training's claim");
    if (!r) return st;
    int ours = PQntuples(r) == 1;
    int64_t now = ours ? pg_i64(r, 0, 0) : 0;
    PQclear(r);
    if (!ours) return pg_run_why_not(pc, c->id, c->attempt, ", not running");
    /* curve rows alone need not wait for the WAL's flush (as on SQLite: a lost row is written
     * again by the resumed training); a checkpoint does */
    if (!c->state &&
        (st = pg_run(pc, sync_off_sql, NULL, NULL, "cannot set synchronous_commit")) != STORE_OK)
        return st;
    if (c->state) {
        pg_params_init(&p);
        pg_p_text(&p, c->id);
        pg_p_i64(&p, c->iteration);
        pg_p_i64(&p, now);
        pg_p_bin(&p, c->state, c->n);
        if ((st = pg_run(pc, ckpt_put_sql, &p, NULL, "cannot store the checkpoint")) != STORE_OK)
            return st;
    }
    if (c->nrows > 0) {
        pg_params_init(&p);
        pg_p_text(&p, c->id);
        for (int k = 0; k < 8; k++)
            pg_p_text(&p, c->col[k]);
        if ((st = pg_run(pc, curve_put_sql, &p, NULL, "cannot store the curve rows")) != STORE_OK)
            return st;
    }
    return pg_notify(pc, PG_NOTE_PROGRESS, c->id);
}

store_status pg_training_checkpoint_put(store_conn *c, const char *id, int attempt,
                                        int64_t iteration, const void *state, size_t n,
                                        const store_curve_row *rows, size_t nrows)
{
    struct pgs_conn *pc = PGC(c);
    const char *why = store_checkpoint_check(id, state, n, iteration, rows, nrows);
    if (why) return pg_fail(pc, STORE_INVALID, "%s", why);
    struct ckpt_put p = {.id = id,
                         .attempt = attempt,
                         .iteration = iteration,
                         .state = state,
                         .n = n,
                         .nrows = nrows};
    store_status st;
    if (nrows > 0 && curve_columns(&p, rows))
        st = pg_fail(pc, STORE_ERROR, "out of memory for %zu curve rows", nrows);
    else
        st = pg_tx_run(pc, ckpt_put, &p);
    for (int k = 0; k < 8; k++)
        free(p.col[k]);
    return st;
}

store_status pg_training_checkpoint_get(store_conn *c, const char *id, int64_t *iteration,
                                        void **state, size_t *n)
{
    struct pgs_conn *pc = PGC(c);
    if (!id || !iteration || !state || !n)
        return pg_fail(pc, STORE_INVALID, "job id or outputs missing");
    *iteration = 0;
    *state = NULL;
    *n = 0;
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    PGresult *r = pg_exec(pc, ckpt_get_sql, &p, 1, &st, "cannot read the checkpoint");
    pg_return(pc);
    if (!r) return st;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return pg_fail(pc, STORE_NOT_FOUND, "no checkpoint of %s", id);
    }
    const unsigned char *be = (const unsigned char *)PQgetvalue(r, 0, 0);
    size_t len = (size_t)PQgetlength(r, 0, 1);
    unsigned char *buf = PQgetlength(r, 0, 0) == 8 && len > 0 ? malloc(len) : NULL;
    if (!buf) {
        PQclear(r);
        return pg_fail(pc, STORE_ERROR, "cannot hold the checkpoint of %s (%zu bytes)", id, len);
    }
    uint64_t it = 0;
    for (int i = 0; i < 8; i++)
        it = it << 8 | be[i]; /* int8 in binary: network order */
    memcpy(buf, PQgetvalue(r, 0, 1), len);
    PQclear(r);
    *iteration = (int64_t)it;
    *state = buf;
    *n = len;
    return STORE_OK;
}

store_status pg_training_curve_read(store_conn *c, const char *id, int64_t after_iteration,
                                    int limit, store_curve_cb cb, void *ctx)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "job id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_i64(&p, after_iteration);
    if (limit > 0)
        pg_p_i64(&p, limit);
    else
        pg_p_text(&p, NULL);
    PGresult *r = pg_exec(pc, curve_read_sql, &p, 0, &st, "cannot read the curve");
    pg_return(pc);
    if (!r) return st;
    for (int i = 0; i < PQntuples(r); i++) {
        store_curve_row row = {.iteration = pg_i64(r, i, 0),
                               .loss = pg_f64(r, i, 1, NAN),
                               .task_loss = pg_f64(r, i, 2, NAN),
                               .l2_weights = pg_f64(r, i, 3, NAN),
                               .l2_rates = pg_f64(r, i, 4, NAN),
                               .grad_norm = pg_f64(r, i, 5, NAN),
                               .accuracy = pg_f64(r, i, 6, NAN),
                               .eval_accuracy = pg_f64(r, i, 7, NAN)};
        if (cb && cb(ctx, &row)) break;
    }
    PQclear(r);
    return STORE_OK;
}
