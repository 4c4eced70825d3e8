/**
 * @file store_sqlite_finish.c
 * @brief SQLite backend: finishing a run, its results written in the same transaction as its
 *        final status.
 *
 * A large result's chunks are committed every ::store_config::batch_bytes as staged rows
 * (results.complete = 0) that no reader sees; the final transaction publishes them
 * (complete = 1) together with the status. Between batches the writer lock goes to whoever
 * waits, so a multi-gigabyte result does not stall the API for its whole write.
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

void sq_writer_reset(struct sq_writer *w)
{
    w->active = 0;
    w->in_result = 0;
    w->staged = 0;
    w->batch_len = 0;
    w->buf_len = 0;
    w->run_id[0] = '\0';
    w->attempt = 0;
    w->fenced = 0;
    w->model_done = 0;
    w->var[0] = '\0';
}

/** Delete the staged (complete = 0) results of run @p arg, left by an interrupted finish. */
static store_status drop_staged(struct sq_conn *sc, void *arg)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_RESULT_DROP_STAGED, &st);
    if (!s) return st;
    sq_bind_text(s, 1, (const char *)arg);
    return sq_run_stmt(sc, s, "cannot delete staged results");
}

/** Roll back the open batch and delete batches already committed (staged) by this finish.
 *  If the delete fails too, the staged rows stay invisible and are deleted by the next
 *  finish_begin() of the run or by requeue_orphans(). Keeps the connection's message. */
void sq_writer_rollback(struct sq_conn *sc)
{
    sq_tx_rollback(sc);
    if (!sc->w.staged || sc->w.fenced) return;
    char keep[STORE_ERRMSG_MAX];
    memcpy(keep, sc->base.errmsg, sizeof keep);
    /* invisible rows: no need to wait for the disk */
    sq_tx_run(sc, SQ_TX_BEGIN, drop_staged, sc->w.run_id);
    memcpy(sc->base.errmsg, keep, sizeof keep);
}

/** Roll the whole finish back after a failure; passes @p st through. */
static store_status writer_fail(struct sq_conn *sc, store_status st)
{
    sq_writer_rollback(sc);
    sq_writer_reset(&sc->w);
    sc->w.failed = 1;
    return st;
}

/**
 * Whether the finish is where the call needs it: open, and inside a result (@p in_result 1,
 * for append and end) or between results (0, for result_begin and finish_commit; a result left
 * open then rolls the whole finish back).
 */
static store_status writer_check(struct sq_conn *sc, int in_result)
{
    if (!sc->w.active)
        return sq_fail(sc, STORE_INVALID, "%s",
                       sc->w.failed ? "the finish was rolled back after an earlier failure; start "
                                      "again with finish_begin"
                                    : "no finish in progress on this connection");
    if (in_result && !sc->w.in_result) return sq_fail(sc, STORE_INVALID, "no result begun");
    if (!in_result && sc->w.in_result)
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "result %s was not ended", sc->w.var));
    return STORE_OK;
}

store_status sq_finish_begin(store_conn *c, const char *run_id, int attempt)
{
    struct sq_conn *sc = SQ(c);
    if (sc->w.active)
        return sq_fail(sc, STORE_CONFLICT, "a finish of run %s is already in progress",
                       sc->w.run_id);
    store_status st = sq_conn_ready(sc);
    if (st != STORE_OK) return st;
    if (!run_id || strlen(run_id) >= STORE_ID_MAX)
        return sq_fail(sc, STORE_INVALID, "run id missing or too long");
    if ((st = sq_tx_begin(sc)) != STORE_OK) return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_STATUS, &st);
    if (!s) return sq_tx_fail(sc, st);
    sq_bind_text(s, 1, run_id);
    int rc = sqlite3_step(s);
    int fence_ok =
        rc == SQLITE_ROW &&
        store_run_status_parse((const char *)sqlite3_column_text(s, 0)) == STORE_RUN_RUNNING &&
        sqlite3_column_int(s, 1) == attempt;
    sq_done(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_tx_fail(sc, sq_fail_rc(sc, rc, "cannot read the run's status"));
    if (!fence_ok) return sq_tx_fail(sc, sq_fence_fail(sc, run_id, attempt));
    /* staged results of an earlier, interrupted finish of this run */
    if ((st = drop_staged(sc, (void *)run_id)) != STORE_OK) return sq_tx_fail(sc, st);
    sq_writer_reset(&sc->w);
    sc->w.active = 1;
    sc->w.failed = 0;
    snprintf(sc->w.run_id, sizeof sc->w.run_id, "%s", run_id);
    sc->w.attempt = attempt;
    return STORE_OK;
}

store_status sq_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                             const int64_t *shape)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 0);
    if (st != STORE_OK) return st;
    if (w->model_done)
        return writer_fail(sc, sq_fail(sc, STORE_INVALID,
                                       "result %s begun after finish_model; write the results "
                                       "first",
                                       var ? var : "?"));
    if (!store_is_var_name(var))
        return writer_fail(sc, sq_fail(sc, STORE_INVALID,
                                       "result name must be 1 to %d letters, digits or '_'",
                                       STORE_VAR_MAX - 1));
    unsigned isz = store_dtype_size(dtype);
    if (!isz)
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "unknown dtype for result %s", var));
    if (ndim < 0 || ndim > STORE_MAX_NDIM || (ndim > 0 && !shape))
        return writer_fail(
            sc, sq_fail(sc, STORE_INVALID, "result %s: ndim must be 0 to %d", var, STORE_MAX_NDIM));
    char shape_json[STORE_SHAPE_TEXT_MAX];
    uint64_t total;
    const char *why;
    if (store_shape_text(isz, ndim, shape, shape_json, &total, &why))
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "result %s: %s", var, why));

    sqlite3_stmt *s = sq_stmt(sc, ST_RESULT_INSERT, &st);
    if (!s) return writer_fail(sc, st);
    sq_bind_text(s, 1, w->run_id);
    sq_bind_text(s, 2, var);
    sq_bind_text(s, 3, dtype);
    sq_bind_text(s, 4, shape_json);
    sq_bind_i64(s, 5, (int64_t)total);
    sq_bind_i64(s, 6, (int64_t)sc->st->cfg.chunk_size);
    if ((st = sq_run_stmt(sc, s, "cannot store the result")) != STORE_OK) {
        if (st == STORE_CONFLICT)
            st = sq_fail(sc, STORE_INVALID, "result %s of run %s written twice", var, w->run_id);
        return writer_fail(sc, st);
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

static store_status write_chunk(struct sq_conn *sc, const void *data, size_t len)
{
    struct sq_writer *w = &sc->w;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_CHUNK_INSERT, &st);
    if (!s) return st;
    sq_bind_text(s, 1, w->run_id);
    sq_bind_text(s, 2, w->var);
    sq_bind_i64(s, 3, w->chunk_index);
    int rc = sqlite3_bind_blob64(s, 4, len ? data : "", len, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        sq_done(s);
        return sq_fail(sc, STORE_ERROR, "cannot bind a result chunk: %s", sqlite3_errstr(rc));
    }
    if ((st = sq_run_stmt(sc, s, "cannot store a result chunk")) != STORE_OK) return st;
    w->chunk_index++;
    w->batch_len += len;
    size_t batch = sc->st->cfg.batch_bytes;
    if (batch == 0 || w->batch_len < batch) return STORE_OK;
    /* Commit this batch (staged: complete = 0, invisible) and let waiting writers go first. */
    /* Staged rows need no durability of their own, but syncing each batch here (outside the
     * writer lock) keeps the WAL's unsynced bytes small, so that a small durable commit made
     * meanwhile does not wait for the disk to take a whole large result. */
    if ((st = sq_tx_commit(sc, 1)) != STORE_OK) return st;
    w->staged = 1;
    w->batch_len = 0;
    return sq_tx_begin(sc);
}

/** write_chunk() as a store_chunk_write_fn (store_result_fill()). */
static store_status write_chunk_cb(void *ctx, const void *data, size_t len)
{
    return write_chunk(ctx, data, len);
}

store_status sq_result_append(store_conn *c, const void *data, size_t n)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 1);
    if (st != STORE_OK) return st;
    if (n == 0) return STORE_OK;
    if (!data) return writer_fail(sc, sq_fail(sc, STORE_INVALID, "result %s: no data", w->var));
    if (n > w->expect - w->written)
        return writer_fail(sc, sq_fail(sc, STORE_INVALID,
                                       "result %s: more bytes than its shape holds (%" PRIu64 ")",
                                       w->var, w->expect));
    eir_sha256_update(&w->sha, data, n);
    w->written += n;
    int oom;
    st = store_result_fill(&w->buf, &w->buf_len, sc->st->cfg.chunk_size, data, n, write_chunk_cb,
                           sc, &oom);
    if (oom) return writer_fail(sc, sq_fail(sc, STORE_ERROR, "out of memory for a result chunk"));
    if (st != STORE_OK) return writer_fail(sc, st);
    return STORE_OK;
}

store_status sq_result_end(store_conn *c, const char *sha256_hex)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 1);
    if (st != STORE_OK) return st;
    if (w->written != w->expect)
        return writer_fail(sc,
                           sq_fail(sc, STORE_INVALID,
                                   "result %s: %" PRIu64 " bytes written, its shape holds %" PRIu64,
                                   w->var, w->written, w->expect));
    if (w->buf_len > 0) {
        if ((st = write_chunk(sc, w->buf, w->buf_len)) != STORE_OK) return writer_fail(sc, st);
        w->buf_len = 0;
    }
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    char hex[EIR_SHA256_HEX_LEN + 1];
    eir_sha256_final(&w->sha, digest);
    eir_sha256_hex(digest, hex);
    if (sha256_hex && strcasecmp(sha256_hex, hex) != 0)
        return writer_fail(sc,
                           sq_fail(sc, STORE_INVALID,
                                   "result %s: checksum mismatch (given %.64s, bytes hash to %s)",
                                   w->var, sha256_hex, hex));
    sqlite3_stmt *s = sq_stmt(sc, ST_RESULT_END, &st);
    if (!s) return writer_fail(sc, st);
    sq_bind_text(s, 1, w->run_id);
    sq_bind_text(s, 2, w->var);
    sq_bind_i64(s, 3, w->chunk_index);
    sq_bind_text(s, 4, hex);
    if ((st = sq_run_stmt(sc, s, "cannot store the result")) != STORE_OK)
        return writer_fail(sc, st);
    w->in_result = 0;
    return STORE_OK;
}

/**
 * Body of sq_finish_commit() and sq_finish_commit_claim(): publish the results, set the final
 * status, claim the next run into *@p next when it is not NULL (zeroed when the queue is empty),
 * commit and wait for the group sync. On failure before the commit everything is rolled back
 * and *@p next is zeroed; after it (the sync failed) *@p next keeps the claimed run.
 */
static store_status finish_commit(struct sq_conn *sc, store_run_status status,
                                  const char *meta_json, const char *error_json, store_run *next)
{
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 0);
    if (st != STORE_OK) return st;
    if (!store_run_status_final(status))
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "%s is not a final run status",
                                       store_run_status_name(status)));
    /* the final status first: fenced by the attempt, so that a finish whose lease was lost
     * (the run rescued, maybe claimed again) publishes nothing */
    sqlite3_stmt *s = sq_stmt(sc, ST_RUN_FINISH, &st);
    if (!s) return writer_fail(sc, st);
    sq_bind_text(s, 1, w->run_id);
    sq_bind_text(s, 2, store_run_status_name(status));
    sq_bind_i64(s, 3, eir_clock_epoch_ms());
    sq_bind_i64(s, 6, w->attempt);
    int rc = sq_bind_text(s, 4, meta_json) | sq_bind_text(s, 5, error_json);
    if (rc != SQLITE_OK) {
        sq_done(s);
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "cannot bind the run's metadata: %s",
                                       sqlite3_errstr(rc)));
    }
    if ((st = sq_run_stmt(sc, s, "cannot finish the run")) != STORE_OK) return writer_fail(sc, st);
    if (sqlite3_changes64(sc->db) != 1) {
        st = sq_fence_fail(sc, w->run_id, w->attempt);
        if (st == STORE_CONFLICT) w->fenced = 1; /* keep the staged rows: maybe not ours */
        return writer_fail(sc, st);
    }
    if (!(s = sq_stmt(sc, ST_RESULT_PUBLISH, &st))) return writer_fail(sc, st);
    sq_bind_text(s, 1, w->run_id);
    if ((st = sq_run_stmt(sc, s, "cannot publish the results")) != STORE_OK)
        return writer_fail(sc, st);
    if (next) {
        /* The worker's next run, in this transaction: no write transaction of its own (begin,
         * commit, the run row's pages written once more) and durable with this finish. */
        st = sq_run_claim_in_tx(sc, next);
        if (st == STORE_NOT_FOUND) {
            sc->base.errmsg[0] = '\0';
            st = STORE_OK;
        }
        if (st != STORE_OK) {
            store_run_clear(next);
            return writer_fail(sc, st);
        }
    }
    st = sq_run_fixed(sc, ST_COMMIT, "cannot commit");
    if (st != STORE_OK) {
        if (next) store_run_clear(next);
        return writer_fail(sc, st);
    }
    uint64_t ticket = sq_gs_ticket(sc);
    sq_tx_rollback(sc); /* releases the writer lock: the sync below is shared with other writers */
    sq_writer_reset(w);
    if ((st = sq_gs_wait(sc, ticket)) == STORE_OK) sq_maybe_checkpoint(sc);
    return st;
}

store_status sq_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                              const char *error_json)
{
    return finish_commit(SQ(c), status, meta_json, error_json, NULL);
}

store_status sq_finish_commit_claim(store_conn *c, store_run_status status, const char *meta_json,
                                    const char *error_json, store_run *next)
{
    if (next) memset(next, 0, sizeof *next);
    return finish_commit(SQ(c), status, meta_json, error_json, next);
}

void sq_finish_abort(store_conn *c)
{
    struct sq_conn *sc = SQ(c);
    if (!sc->w.active) return;
    sq_writer_rollback(sc);
    sq_writer_reset(&sc->w);
}

/**
 * The model a training made, inserted in the finish's open transaction (so it is published,
 * rolled back or fenced out with the finish). It comes after the results: a batch commit after
 * it would make the model visible before the finish, so result_begin() refuses once it is in.
 */
store_status sq_finish_model(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, const char *training_id,
                             store_model *out)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 0);
    if (st != STORE_OK) return st;
    if (w->model_done)
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "a finish creates at most one model"));
    char why[160];
    if (store_finish_model_args(hash, json, n, training_id, w->run_id, why, sizeof why))
        return writer_fail(sc, sq_fail(sc, STORE_INVALID, "%s", why));
    char id[STORE_ID_MAX];
    struct sq_model_row row = {.id = id,
                               .name = name ? name : "",
                               .hash = hash,
                               .json = json,
                               .labels_json = labels_json,
                               .training_id = w->run_id,
                               .n = n,
                               .created_at = eir_clock_epoch_ms()};
    for (int attempt = 0;; attempt++) {
        if (eir_random_id(id, STORE_ID_MAX, "m_", 12))
            return writer_fail(
                sc, sq_fail(sc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno)));
        st = sq_model_insert_row(sc, &row);
        /* an id collision (2^-96 per pair) is retried; anything else fails the finish */
        if (st != STORE_CONFLICT) break;
        if (attempt >= 2) {
            st = STORE_INVALID;
            break;
        }
    }
    if (st != STORE_OK) return writer_fail(sc, st);
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
    out->labels_json = sq_labels_text(labels_json);
    if (!out->name || !out->labels_json) {
        store_model_clear(out);
        return writer_fail(sc, sq_fail(sc, STORE_ERROR, "out of memory for the new model"));
    }
    return STORE_OK;
}
