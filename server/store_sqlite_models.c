/**
 * @file store_sqlite_models.c
 * @brief SQLite backend: models (create, get, list, delete).
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

store_status sq_model_insert_row(struct sq_conn *sc, const struct sq_model_row *m)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_MODEL_INSERT, &st);
    if (!s) return st;
    int rc = sq_bind_text(s, 1, m->id) | sq_bind_text(s, 2, m->name) | sq_bind_text(s, 3, m->hash) |
             sq_bind_i64(s, 4, m->n) | sq_bind_i64(s, 5, m->created_at) |
             sq_bind_text(s, 7, m->hash[0] ? "ready" : "pending") |
             sq_bind_text(s, 9, m->sweep_id) | sq_bind_text(s, 10, m->training_id);
    int rcj = sq_bind_text(s, 6, m->json) | sq_bind_text(s, 8, m->labels_json);
    if (rc != SQLITE_OK || rcj != SQLITE_OK) {
        sq_done(s);
        return sq_fail(sc, rcj == SQLITE_TOOBIG ? STORE_INVALID : STORE_ERROR,
                       "cannot bind the model: %s", sqlite3_errstr(rcj ? rcj : rc));
    }
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = sq_fail_rc(sc, rc, "cannot store the model");
        sq_done(s);
        /* an id already used is the caller's to retry; other constraints are bad arguments */
        if (st == STORE_CONFLICT && rc != SQLITE_CONSTRAINT_UNIQUE &&
            rc != SQLITE_CONSTRAINT_PRIMARYKEY)
            st = STORE_INVALID;
        return st;
    }
    sq_done(s);
    return sq_labels_put(sc, m->id, m->labels_json);
}

/** A model to insert (sq_model_create()); id and created_at are filled by the insert. */
struct model_insert {
    const char *name, *hash, *json, *labels_json;
    int64_t n;
    char id[STORE_ID_MAX];
    int64_t created_at;
};

/** Body of sq_model_create(): the model and its labels under a fresh random id. */
static store_status model_insert(struct sq_conn *sc, void *arg)
{
    struct model_insert *m = arg;
    m->created_at = eir_clock_epoch_ms();
    for (int attempt = 0;; attempt++) {
        if (eir_random_id(m->id, STORE_ID_MAX, "m_", 12))
            return sq_fail(sc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno));
        struct sq_model_row row = {.id = m->id,
                                   .name = m->name,
                                   .hash = m->hash,
                                   .json = m->json,
                                   .labels_json = m->labels_json,
                                   .n = m->n,
                                   .created_at = m->created_at};
        store_status st = sq_model_insert_row(sc, &row);
        /* an id collision (2^-96 per pair) is retried; anything else fails */
        if (st != STORE_CONFLICT) return st;
        if (attempt >= 2) return STORE_INVALID;
    }
}

store_status sq_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, store_model *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (hash && !store_is_hex64(hash))
        return sq_fail(sc, STORE_INVALID, "model hash must be 64 hex characters (SHA-256)");
    if (!hash) hash = ""; /* pending: the hash is the built model's */
    if (!json) return sq_fail(sc, STORE_INVALID, "model document missing");
    if (n < 0) return sq_fail(sc, STORE_INVALID, "model size N must be >= 0, not %" PRId64, n);
    struct model_insert m = {
        .name = name ? name : "", .hash = hash, .json = json, .labels_json = labels_json, .n = n};
    /* a decision a client is told about: durable before the answer; the model and its label
     * rows in one transaction */
    if ((st = sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, model_insert, &m)) != STORE_OK) return st;
    if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", m.id);
        snprintf(out->hash, sizeof out->hash, "%s", hash);
        out->state = hash[0] ? STORE_MODEL_READY : STORE_MODEL_PENDING;
        out->build_s = -1;
        out->n = n;
        out->created_at = m.created_at;
        out->name = strdup(m.name);
        out->labels_json = sq_labels_text(labels_json);
        if (!out->name || !out->labels_json) {
            store_model_clear(out);
            return sq_fail(sc, STORE_ERROR, "out of memory (the model %s was stored)", m.id);
        }
    }
    return STORE_OK;
}

/** The state, error and build_s columns from @p col on of a model row into @p m (error
 *  borrowed from the row when @p copy is 0). Returns -1 when out of memory. */
static int model_state_cols(sqlite3_stmt *s, int col, int copy, store_model *m)
{
    const char *state = (const char *)sqlite3_column_text(s, col);
    m->state = !state                          ? STORE_MODEL_READY
               : strcmp(state, "pending") == 0 ? STORE_MODEL_PENDING
               : strcmp(state, "failed") == 0  ? STORE_MODEL_FAILED
                                               : STORE_MODEL_READY;
    m->build_s =
        sqlite3_column_type(s, col + 2) == SQLITE_NULL ? -1 : sqlite3_column_double(s, col + 2);
    if (!copy) {
        m->error = (char *)sqlite3_column_text(s, col + 1);
        return 0;
    }
    return sq_dup_col(s, col + 1, &m->error);
}

store_status sq_model_get(store_conn *c, const char *id, store_model *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !out) return sq_fail(sc, STORE_INVALID, "model id or output missing");
    sqlite3_stmt *s = sq_stmt(sc, ST_MODEL_GET, &st);
    if (!s) return st;
    sq_bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        sq_copy_str(out->id, sizeof out->id, sqlite3_column_text(s, 0));
        sq_copy_str(out->hash, sizeof out->hash, sqlite3_column_text(s, 2));
        out->n = sqlite3_column_int64(s, 3);
        out->created_at = sqlite3_column_int64(s, 4);
        sq_copy_str(out->sweep_id, sizeof out->sweep_id, sqlite3_column_text(s, 10));
        sq_copy_str(out->training_id, sizeof out->training_id, sqlite3_column_text(s, 11));
        if (sq_dup_col(s, 1, &out->name) || sq_dup_col(s, 5, &out->json) ||
            model_state_cols(s, 6, 1, out) || sq_dup_labels_col(s, 9, &out->labels_json)) {
            store_model_clear(out);
            st = sq_fail(sc, STORE_ERROR, "out of memory reading model %s", id);
        }
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "no model %s", id);
    } else {
        st = sq_fail_rc(sc, rc, "cannot read the model");
    }
    sq_done(s);
    return st;
}

/** The caller's callback of sq_model_list(). */
struct model_page {
    store_model_cb cb;
    void *ctx;
};

/** A row of ST_MODEL_LIST to the caller, as a ::store_model pointing into the row. */
static int model_row(sqlite3_stmt *s, void *arg)
{
    struct model_page *p = arg;
    store_model m = {0};
    sq_copy_str(m.id, sizeof m.id, sqlite3_column_text(s, 0));
    m.name = (char *)sqlite3_column_text(s, 1);
    sq_copy_str(m.hash, sizeof m.hash, sqlite3_column_text(s, 2));
    m.n = sqlite3_column_int64(s, 3);
    m.created_at = sqlite3_column_int64(s, 4);
    model_state_cols(s, 6, 0, &m);
    m.labels_json = sq_labels_col(s, 9);
    sq_copy_str(m.sweep_id, sizeof m.sweep_id, sqlite3_column_text(s, 10));
    sq_copy_str(m.training_id, sizeof m.training_id, sqlite3_column_text(s, 11));
    return p->cb && p->cb(p->ctx, &m);
}

store_status sq_model_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_model_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_MODEL_LIST, &st);
    if (!s) return st;
    if ((st = sq_bind_labels(sc, s, labels)) != STORE_OK) return st;
    struct model_page p = {cb, ctx};
    return sq_list_page(sc, s, 5, cursor, limit, model_row, &p, next, "cannot list models");
}

/** A model to delete (sq_model_delete()). */
struct model_delete {
    const char *id;
    int64_t *runs_using;
};

/** Body of sq_model_delete(): refuse while runs use the model, else delete it. */
static store_status model_delete(struct sq_conn *sc, void *arg)
{
    struct model_delete *d = arg;
    int64_t uses = 0;
    store_status st =
        sq_count_query(sc, ST_MODEL_RUNS, d->id, &uses, "cannot count the model's runs");
    if (st != STORE_OK) return st;
    if (uses > 0) {
        if (d->runs_using) *d->runs_using = uses;
        return sq_fail(sc, STORE_CONFLICT,
                       "model %s is used by %" PRId64 " run(s); delete those runs first", d->id,
                       uses);
    }
    sqlite3_stmt *s = sq_stmt(sc, ST_MODEL_DELETE, &st);
    if (!s) return st;
    sq_bind_text(s, 1, d->id);
    if ((st = sq_run_stmt(sc, s, "cannot delete the model")) != STORE_OK) return st;
    if (sqlite3_changes64(sc->db) == 0) return sq_fail(sc, STORE_NOT_FOUND, "no model %s", d->id);
    return STORE_OK;
}

store_status sq_model_delete(store_conn *c, const char *id, int64_t *runs_using)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "model id missing");
    struct model_delete d = {id, runs_using};
    return sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, model_delete, &d);
}

/** A build to record (sq_model_finish()). */
struct model_finish {
    const char *id, *hash, *error;
    double build_s;
};

/** Body of sq_model_finish(): one UPDATE of a pending model. */
static store_status model_finish(struct sq_conn *sc, void *arg)
{
    struct model_finish *f = arg;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_MODEL_FINISH, &st);
    if (!s) return st;
    int rc = sq_bind_text(s, 1, f->id) | sq_bind_text(s, 2, f->hash ? "ready" : "failed") |
             sq_bind_text(s, 3, f->hash ? f->hash : "") | sq_bind_text(s, 4, f->error) |
             sqlite3_bind_double(s, 5, f->build_s);
    if (rc != SQLITE_OK) {
        sq_done(s);
        return sq_fail(sc, STORE_ERROR, "cannot bind the model's build: %s", sqlite3_errstr(rc));
    }
    if ((st = sq_run_stmt(sc, s, "cannot record the model's build")) != STORE_OK) return st;
    if (sqlite3_changes64(sc->db) > 0) return STORE_OK;
    s = sq_stmt(sc, ST_MODEL_EXISTS, &st);
    if (!s) return st;
    sq_bind_text(s, 1, f->id);
    rc = sqlite3_step(s);
    sq_done(s);
    if (rc == SQLITE_ROW)
        return sq_fail(sc, STORE_CONFLICT, "model %s is not pending any more", f->id);
    if (rc == SQLITE_DONE) return sq_fail(sc, STORE_NOT_FOUND, "no model %s", f->id);
    return sq_fail_rc(sc, rc, "cannot read the model");
}

store_status sq_model_finish(store_conn *c, const char *id, const char *hash, const char *error,
                             double build_s)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return sq_fail(sc, STORE_INVALID, "model id missing");
    if (hash ? !store_is_hex64(hash) : !error)
        return sq_fail(sc, STORE_INVALID, "a build ends with a 64-hex hash or an error");
    struct model_finish f = {id, hash, hash ? NULL : error, build_s};
    /* the state is shown to clients (and lets runs go on): durable before it is */
    return sq_tx_run(sc, SQ_TX_STATEMENT | SQ_TX_DURABLE, model_finish, &f);
}

store_status sq_model_pending(store_conn *c, char ids[][STORE_ID_MAX], int max, int *n)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    *n = 0;
    if (st != STORE_OK) return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_MODEL_PENDING, &st);
    if (!s) return st;
    sq_bind_i64(s, 1, max);
    int rc = SQLITE_DONE;
    while (*n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
        sq_copy_str(ids[(*n)++], STORE_ID_MAX, sqlite3_column_text(s, 0));
    if (*n < max && rc != SQLITE_DONE) st = sq_fail_rc(sc, rc, "cannot list pending models");
    sq_done(s);
    return st;
}
