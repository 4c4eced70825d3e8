/**
 * @file store_pg_finish.c
 * @brief PostgreSQL backend: finishing a run, its results published in the transaction that sets
 *        its final status.
 *
 * finish_begin() borrows a connection and holds it (pc->held) until finish_commit() or
 * finish_abort(), with a transaction open on it: the results rows, their chunks (each
 * ::store_config::chunk_size bytes, inserted as binary bytea as soon as it is full, so that no
 * more than one chunk is ever in this process's memory) and finally the run's status. As on
 * SQLite, a large result's chunks are committed every ::store_config::batch_bytes (0: never) as
 * staged rows (results.complete = 0) that no reader sees, so that no transaction grows without
 * bound; the final transaction publishes them (complete = 1) with the status. Staged rows of an
 * interrupted finish are deleted on abort, by the run's next finish_begin() and by the rescue
 * of its expired lease.
 *
 * The fence: finish_begin() checks that the run is running in the caller's attempt; each batch
 * commits only after locking the run's row (FOR SHARE) and finding it still in that attempt, so
 * a rescue cannot slip in between the check and the commit; and the final transaction sets the
 * status with `UPDATE ... WHERE id = $1 AND attempts = $2 AND status = 1`. An attempt whose
 * lease expired meanwhile (the run rescued, perhaps running again elsewhere) therefore commits
 * nothing more: everything open is rolled back and the call fails with ::STORE_CONFLICT "lease
 * lost". Deleting staged rows is fenced the same way, so a stale attempt never deletes those of
 * the run's current one. The run's claim row is closed with the outcome (the final status, or
 * 'fenced' for a refused attempt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eir_random.h"
#include "store_pg_int.h"

static const char state_sql[] = "SELECT status, attempts FROM runs WHERE id = $1";
/* Staged rows of run $1, while it is running in attempt $2 (so never another attempt's). */
static const char drop_staged_sql[] =
    "DELETE FROM results WHERE run_id = $1 AND complete = 0 AND EXISTS (SELECT 1 FROM runs "
    "WHERE id = $1 AND attempts = $2::int AND status = 1)";
/* The fence of a batch's commit: the run's row locked against a rescue until the commit. */
static const char batch_fence_sql[] =
    "SELECT 1 FROM runs WHERE id = $1 AND attempts = $2::int AND status = 1 FOR SHARE";
static const char result_insert_sql[] =
    "INSERT INTO results (run_id, var, dtype, shape, total_bytes, chunk_size, chunk_count, "
    "sha256) VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, 0, '')";
static const char chunk_insert_sql[] =
    "INSERT INTO result_chunks (run_id, var, idx, data) VALUES ($1, $2, $3::int, $4)";
static const char result_end_sql[] =
    "UPDATE results SET chunk_count = $3::bigint, sha256 = $4 WHERE run_id = $1 AND var = $2";

/* The final status of attempt $2 of run $1 ($3 status, $4 meta, $5 error, $6 the claim row's
 * outcome): the fence re-checked in the commit's own transaction; the results published; the
 * claim closed; `e id`. No row: the attempt lost its lease (or the run is not running). */
static const char finish_sql[] =
    "WITH now AS (SELECT " PG_NOW_MS " AS t), "
    "u AS (UPDATE runs SET status = $3::smallint, finished_at = now.t, meta_json = $4, "
    "error_json = $5, progress_done = CASE WHEN $3::smallint = 2 AND progress_total > 0 "
    "THEN progress_total ELSE progress_done END, claimant = '', lease_expires_at = 0 FROM now "
    "WHERE id = $1 AND attempts = $2::int AND status = 1 RETURNING id, finished_at), "
    "pub AS (UPDATE results SET complete = 1 WHERE run_id = $1 AND EXISTS (SELECT 1 FROM u)), "
    "c AS (UPDATE run_claims AS rc SET ended_at = u.finished_at, outcome = $6 FROM u "
    "WHERE rc.run_id = u.id AND rc.attempt = $2::int) "
    "SELECT u.id FROM u";

/* A refused attempt's claim row, if still open, is closed as 'fenced' (the audit). */
static const char fenced_sql[] = "UPDATE run_claims SET ended_at = " PG_NOW_MS
                                 ", outcome = 'fenced' WHERE run_id = $1 AND attempt = $2::int "
                                 "AND ended_at = 0";

/** Forget the finish (the buffer is kept for the next one). */
static void writer_reset(struct pg_writer *w)
{
    w->active = 0;
    w->in_result = 0;
    w->staged = 0;
    w->model_done = 0;
    w->batch_len = 0;
    w->buf_len = 0;
    w->run_id[0] = '\0';
    w->var[0] = '\0';
}

/** End the finish's hold on its connection: roll back what is open, delete the batches this
 *  finish committed (staged) when @p drop, give the connection back. Keeps the connection's
 *  message. If the delete fails, the staged rows stay invisible until the run's next finish or
 *  rescue deletes them. */
static void writer_release(struct pgs_conn *pc, int drop)
{
    struct pg_writer *w = &pc->w;
    pg_rollback(pc);
    if (drop && w->staged && PQstatus(pc->db) == CONNECTION_OK) {
        char keep[STORE_ERRMSG_MAX];
        memcpy(keep, pc->base.errmsg, sizeof keep);
        struct pg_params p;
        pg_params_init(&p);
        pg_p_text(&p, w->run_id);
        pg_p_i64(&p, w->attempt);
        pg_run(pc, drop_staged_sql, &p, NULL, "cannot delete staged results");
        memcpy(pc->base.errmsg, keep, sizeof keep);
    }
    pc->held = 0;
    pg_return(pc);
    writer_reset(w);
}

/** Roll the whole finish back after a failure (the connection's message is kept); passes
 *  @p st through. */
static store_status writer_fail(struct pgs_conn *pc, store_status st)
{
    writer_release(pc, 1);
    pc->w.failed = 1;
    return st;
}

/**
 * Whether the finish is where the call needs it: open, and inside a result (@p in_result 1,
 * for append and end) or between results (0, for result_begin and finish_commit; a result left
 * open then rolls the whole finish back).
 */
static store_status writer_check(struct pgs_conn *pc, int in_result)
{
    if (!pc->w.active)
        return pg_fail(pc, STORE_INVALID, "%s",
                       pc->w.failed ? "the finish was rolled back after an earlier failure; start "
                                      "again with finish_begin"
                                    : "no finish in progress on this connection");
    if (in_result && !pc->w.in_result) return pg_fail(pc, STORE_INVALID, "no result begun");
    if (!in_result && pc->w.in_result)
        return writer_fail(pc, pg_fail(pc, STORE_INVALID, "result %s was not ended", pc->w.var));
    return STORE_OK;
}

/** Inside the finish's transaction: ::STORE_OK when run @p id is running in @p attempt, else
 *  ::STORE_NOT_FOUND or ::STORE_CONFLICT ("lease lost: ..." / "... not running"). */
static store_status check_fence(struct pgs_conn *pc, const char *id, int attempt)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    store_status st;
    PGresult *r = pg_exec(pc, state_sql, &p, 0, &st, "cannot read the run");
    if (!r) return st;
    int found = PQntuples(r) == 1;
    int status = found ? (int)pg_i64(r, 0, 0) : -1, now = found ? (int)pg_i64(r, 0, 1) : -1;
    PQclear(r);
    if (!found) return pg_fail(pc, STORE_NOT_FOUND, "no run %s", id);
    if (status != STORE_RUN_RUNNING)
        return pg_fail(pc, STORE_CONFLICT, "run %s is %s, not running", id,
                       store_run_status_name((store_run_status)status));
    if (now != attempt)
        return pg_fail(pc, STORE_CONFLICT,
                       "lease lost: the run is attempt %d now (this claim was attempt %d)", now,
                       attempt);
    return STORE_OK;
}

store_status pg_finish_begin(store_conn *c, const char *run_id, int attempt)
{
    struct pgs_conn *pc = PGC(c);
    if (pc->w.active)
        return pg_fail(pc, STORE_CONFLICT, "a finish of run %s is already in progress",
                       pc->w.run_id);
    if (!run_id || strlen(run_id) >= STORE_ID_MAX)
        return pg_fail(pc, STORE_INVALID, "run id missing or too long");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    if ((st = pg_begin(pc)) == STORE_OK) st = check_fence(pc, run_id, attempt);
    if (st == STORE_OK) {
        struct pg_params p;
        pg_params_init(&p);
        pg_p_text(&p, run_id);
        pg_p_i64(&p, attempt);
        st = pg_run(pc, drop_staged_sql, &p, NULL, "cannot delete staged results");
    }
    if (st != STORE_OK) {
        pg_rollback(pc);
        pg_return(pc);
        return st;
    }
    pc->held = 1;
    writer_reset(&pc->w);
    pc->w.active = 1;
    pc->w.failed = 0;
    pc->w.attempt = attempt;
    snprintf(pc->w.run_id, sizeof pc->w.run_id, "%s", run_id);
    return STORE_OK;
}

store_status pg_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                             const int64_t *shape)
{
    struct pgs_conn *pc = PGC(c);
    struct pg_writer *w = &pc->w;
    store_status st = writer_check(pc, 0);
    if (st != STORE_OK) return st;
    if (w->model_done)
        return writer_fail(pc, pg_fail(pc, STORE_INVALID,
                                       "result %s begun after finish_model; write the results "
                                       "first",
                                       var ? var : "?"));
    if (!store_is_var_name(var))
        return writer_fail(pc, pg_fail(pc, STORE_INVALID,
                                       "result name must be 1 to %d letters, digits or '_'",
                                       STORE_VAR_MAX - 1));
    unsigned isz = store_dtype_size(dtype);
    if (!isz)
        return writer_fail(pc, pg_fail(pc, STORE_INVALID, "unknown dtype for result %s", var));
    if (ndim < 0 || ndim > STORE_MAX_NDIM || (ndim > 0 && !shape))
        return writer_fail(
            pc, pg_fail(pc, STORE_INVALID, "result %s: ndim must be 0 to %d", var, STORE_MAX_NDIM));
    char shape_json[STORE_SHAPE_TEXT_MAX];
    uint64_t total;
    const char *why;
    if (store_shape_text(isz, ndim, shape, shape_json, &total, &why))
        return writer_fail(pc, pg_fail(pc, STORE_INVALID, "result %s: %s", var, why));
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, w->run_id);
    pg_p_text(&p, var);
    pg_p_text(&p, dtype);
    pg_p_text(&p, shape_json);
    pg_p_i64(&p, (int64_t)total);
    pg_p_i64(&p, (int64_t)pc->st->cfg.chunk_size);
    if ((st = pg_run(pc, result_insert_sql, &p, NULL, "cannot store the result")) != STORE_OK) {
        if (st != STORE_CONFLICT) return writer_fail(pc, st);
        /* a unique violation: this finish wrote the name already, or another attempt of the
         * run committed its results while this one waited for them (then this one is fenced) */
        char id[STORE_ID_MAX];
        int attempt = w->attempt;
        snprintf(id, sizeof id, "%s", w->run_id);
        writer_fail(pc, st);
        if ((st = pg_borrow(pc)) != STORE_OK) return st;
        st = check_fence(pc, id, attempt);
        pg_return(pc);
        if (st == STORE_OK)
            st = pg_fail(pc, STORE_INVALID, "result %s of run %s written twice", var, id);
        return st;
    }
    w->in_result = 1;
    snprintf(w->var, sizeof w->var, "%s", var);
    w->expect = total;
    w->written = 0;
    w->chunk_index = 0;
    w->buf_len = 0;
    eir_sha256_init(&w->sha);
    return STORE_OK;
}

/** Commit the batch written so far (staged) once its run's row, locked, is still in this
 *  finish's attempt, and open the next one. ::STORE_CONFLICT "lease lost" otherwise. */
static store_status commit_batch(struct pgs_conn *pc)
{
    struct pg_writer *w = &pc->w;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, w->run_id);
    pg_p_i64(&p, w->attempt);
    store_status st;
    PGresult *r = pg_exec(pc, batch_fence_sql, &p, 0, &st, "cannot lock the run");
    if (!r) return st;
    int ours = PQntuples(r) == 1;
    PQclear(r);
    if (!ours)
        return pg_fail(pc, STORE_CONFLICT, "lease lost: run %s is no longer running in attempt %d",
                       w->run_id, w->attempt);
    if ((st = pg_commit(pc)) != STORE_OK) return st;
    w->staged = 1;
    w->batch_len = 0;
    return pg_begin(pc);
}

/** INSERT the next chunk (@p len bytes at @p data) of the result being written; commits the
 *  batch once it holds ::store_config::batch_bytes. */
static store_status write_chunk(struct pgs_conn *pc, const void *data, size_t len)
{
    struct pg_writer *w = &pc->w;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, w->run_id);
    pg_p_text(&p, w->var);
    pg_p_i64(&p, w->chunk_index);
    pg_p_bin(&p, len ? data : "", len);
    store_status st = pg_run(pc, chunk_insert_sql, &p, NULL, "cannot store a result chunk");
    if (st != STORE_OK) return st;
    w->chunk_index++;
    w->batch_len += len;
    size_t batch = pc->st->cfg.batch_bytes;
    if (batch == 0 || w->batch_len < batch) return STORE_OK;
    return commit_batch(pc);
}

/** write_chunk() as a store_chunk_write_fn (store_result_fill()). */
static store_status write_chunk_cb(void *ctx, const void *data, size_t len)
{
    return write_chunk(ctx, data, len);
}

store_status pg_result_append(store_conn *c, const void *data, size_t n)
{
    struct pgs_conn *pc = PGC(c);
    struct pg_writer *w = &pc->w;
    store_status st = writer_check(pc, 1);
    if (st != STORE_OK) return st;
    if (n == 0) return STORE_OK;
    if (!data) return writer_fail(pc, pg_fail(pc, STORE_INVALID, "result %s: no data", w->var));
    if (n > w->expect - w->written)
        return writer_fail(pc, pg_fail(pc, STORE_INVALID,
                                       "result %s: more bytes than its shape holds (%" PRIu64 ")",
                                       w->var, w->expect));
    eir_sha256_update(&w->sha, data, n);
    w->written += n;
    int oom;
    st = store_result_fill(&w->buf, &w->buf_len, pc->st->cfg.chunk_size, data, n, write_chunk_cb,
                           pc, &oom);
    if (oom) return writer_fail(pc, pg_fail(pc, STORE_ERROR, "out of memory for a result chunk"));
    if (st != STORE_OK) return writer_fail(pc, st);
    return STORE_OK;
}

store_status pg_result_end(store_conn *c, const char *sha256_hex)
{
    struct pgs_conn *pc = PGC(c);
    struct pg_writer *w = &pc->w;
    store_status st = writer_check(pc, 1);
    if (st != STORE_OK) return st;
    if (w->written != w->expect)
        return writer_fail(pc,
                           pg_fail(pc, STORE_INVALID,
                                   "result %s: %" PRIu64 " bytes written, its shape holds %" PRIu64,
                                   w->var, w->written, w->expect));
    if (w->buf_len > 0) {
        if ((st = write_chunk(pc, w->buf, w->buf_len)) != STORE_OK) return writer_fail(pc, st);
        w->buf_len = 0;
    }
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    char hex[EIR_SHA256_HEX_LEN + 1];
    eir_sha256_final(&w->sha, digest);
    eir_sha256_hex(digest, hex);
    if (sha256_hex && strcasecmp(sha256_hex, hex) != 0)
        return writer_fail(pc,
                           pg_fail(pc, STORE_INVALID,
                                   "result %s: checksum mismatch (given %.64s, bytes hash to %s)",
                                   w->var, sha256_hex, hex));
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, w->run_id);
    pg_p_text(&p, w->var);
    pg_p_i64(&p, w->chunk_index);
    pg_p_text(&p, hex);
    if ((st = pg_run(pc, result_end_sql, &p, NULL, "cannot store the result")) != STORE_OK)
        return writer_fail(pc, st);
    w->in_result = 0;
    return STORE_OK;
}

/**
 * After the fenced UPDATE matched no row (the transaction rolled back, the connection given
 * back): close the attempt's claim row as 'fenced' and say why (::STORE_CONFLICT "lease lost:
 * ..." or "... not running", ::STORE_NOT_FOUND when the run is gone).
 */
static store_status fenced(struct pgs_conn *pc, const char *id, int attempt)
{
    store_status st = pg_borrow(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_i64(&p, attempt);
    pg_run(pc, fenced_sql, &p, NULL, "cannot close the claim"); /* the audit only */
    st = check_fence(pc, id, attempt);
    pg_return(pc);
    if (st == STORE_OK) /* running in this attempt again: it changed and came back */
        st = pg_fail(pc, STORE_CONFLICT, "run %s changed while it was being finished", id);
    return st;
}

/**
 * Body of pg_finish_commit() and pg_finish_commit_claim(): the fenced final status, the results
 * published and, when @p next is not NULL, the claim of the worker's next run (zeroed when the
 * queue is empty), then COMMIT. On any failure everything is rolled back, *@p next is zeroed and
 * the run stays as it was.
 */
static store_status finish_commit(struct pgs_conn *pc, store_run_status status,
                                  const char *meta_json, const char *error_json, store_run *next)
{
    struct pg_writer *w = &pc->w;
    store_status st = writer_check(pc, 0);
    if (st != STORE_OK) return st;
    if (!store_run_status_final(status))
        return writer_fail(pc, pg_fail(pc, STORE_INVALID, "%s is not a final run status",
                                       store_run_status_name(status)));
    char id[STORE_ID_MAX];
    int attempt = w->attempt;
    snprintf(id, sizeof id, "%s", w->run_id);
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_i64(&p, attempt);
    pg_p_i64(&p, (int64_t)status);
    pg_p_text(&p, meta_json);
    pg_p_text(&p, error_json);
    pg_p_text(&p, store_run_status_name(status));
    PGresult *r = pg_exec(pc, finish_sql, &p, 0, &st, "cannot finish the run");
    if (!r) return writer_fail(pc, st);
    int matched = PQntuples(r) == 1;
    PQclear(r);
    if (matched) pg_notify(pc, PG_NOTE_ENDED, id);
    if (!matched) {
        writer_fail(pc, STORE_CONFLICT);
        return fenced(pc, id, attempt);
    }
    if (next) {
        /* the worker's next run, in this transaction: durable with this finish */
        st = pg_claim_on(pc, next);
        if (st == STORE_NOT_FOUND) {
            pc->base.errmsg[0] = '\0';
            st = STORE_OK;
        }
        if (st != STORE_OK) {
            store_run_clear(next);
            return writer_fail(pc, st);
        }
    }
    if ((st = pg_commit(pc)) != STORE_OK) {
        /* an unanswered COMMIT may have kept the claim: the next run_claim() releases it */
        if (next && st == STORE_BUSY) pg_claim_unknown(pc, next->id, next->attempts);
        if (next) store_run_clear(next);
        return writer_fail(pc, st);
    }
    writer_release(pc, 0);
    return STORE_OK;
}

store_status pg_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                              const char *error_json)
{
    return finish_commit(PGC(c), status, meta_json, error_json, NULL);
}

store_status pg_finish_commit_claim(store_conn *c, store_run_status status, const char *meta_json,
                                    const char *error_json, store_run *next)
{
    if (next) memset(next, 0, sizeof *next);
    return finish_commit(PGC(c), status, meta_json, error_json, next);
}

void pg_finish_abort(store_conn *c)
{
    struct pgs_conn *pc = PGC(c);
    if (!pc->w.active) return;
    writer_release(pc, 1);
}

/**
 * The model a training made, inserted in the finish's open transaction (published, rolled back
 * or fenced out with the finish; `o id` sent with its commit). It comes after the results: a
 * batch commit after it would make the model visible before the finish, so result_begin()
 * refuses once it is in.
 */
store_status pg_finish_model(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, const char *training_id,
                             store_model *out)
{
    struct pgs_conn *pc = PGC(c);
    struct pg_writer *w = &pc->w;
    store_status st = writer_check(pc, 0);
    if (st != STORE_OK) return st;
    if (w->model_done)
        return writer_fail(pc, pg_fail(pc, STORE_INVALID, "a finish creates at most one model"));
    char why[160];
    if (store_finish_model_args(hash, json, n, training_id, w->run_id, why, sizeof why))
        return writer_fail(pc, pg_fail(pc, STORE_INVALID, "%s", why));
    char id[STORE_ID_MAX];
    struct pg_model_row row = {.id = id,
                               .name = name ? name : "",
                               .hash = hash,
                               .json = json,
                               .labels_json = labels_json,
                               .training_id = w->run_id,
                               .n = n};
    for (int attempt = 0;; attempt++) {
        if (eir_random_id(id, STORE_ID_MAX, "m_", 12))
            return writer_fail(
                pc, pg_fail(pc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno)));
        st = pg_model_insert_row(pc, &row);
        /* an id collision (2^-96 per pair) is retried; anything else fails the finish */
        if (st != STORE_CONFLICT) break;
        if (attempt >= 2) {
            st = pg_fail(pc, STORE_ERROR, "cannot draw an unused model id");
            break;
        }
    }
    if (st != STORE_OK) return writer_fail(pc, st);
    pg_notify(pc, PG_NOTE_OTHER, id);
    w->model_done = 1;
    if (!out) return STORE_OK;
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->hash, sizeof out->hash, "%s", hash);
    snprintf(out->training_id, sizeof out->training_id, "%s", w->run_id);
    out->state = STORE_MODEL_READY;
    out->build_s = -1;
    out->n = n;
    out->created_at = row.created_at;
    out->name = strdup(row.name);
    out->labels_json = strdup(labels_json ? labels_json : "{}");
    if (!out->name || !out->labels_json) {
        store_model_clear(out);
        return writer_fail(pc, pg_fail(pc, STORE_ERROR, "out of memory for the new model"));
    }
    return STORE_OK;
}
