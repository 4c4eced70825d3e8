/**
 * @file store_pg_models.c
 * @brief PostgreSQL backend: models (create, get, list, delete, the end of a worker's build).
 *
 * Same semantics as store_sqlite_models.c. Every write is one transaction that also sends the
 * notification "o <model id>" (delivered at commit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_random.h"
#include "store_pg_int.h"

store_status pg_model_insert_row(struct pgs_conn *pc, struct pg_model_row *m)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, m->id);
    pg_p_text(&p, m->name ? m->name : "");
    pg_p_text(&p, m->hash);
    pg_p_i64(&p, m->n);
    pg_p_text(&p, m->json);
    pg_p_text(&p, m->hash[0] ? "ready" : "pending");
    pg_p_text(&p, m->labels_json);
    pg_p_text(&p, m->sweep_id);
    pg_p_text(&p, m->training_id);
    store_status st;
    /* ON CONFLICT: an id already used is told by an empty result, not by an error that would
     * abort the caller's transaction */
    PGresult *res = pg_exec(pc,
                            "INSERT INTO models (id, name, hash, n, created_at, json, state, "
                            "labels_json, sweep_id, training_id) VALUES ($1, $2, $3, $4, " PG_NOW_MS
                            ", $5, $6, coalesce($7, '{}'), $8, $9) "
                            "ON CONFLICT (id) DO NOTHING RETURNING created_at",
                            &p, 0, &st, "cannot store the model");
    if (!res) return st == STORE_CONFLICT || st == STORE_NOT_FOUND ? STORE_INVALID : st;
    int inserted = PQntuples(res) == 1;
    if (inserted) m->created_at = pg_i64(res, 0, 0);
    PQclear(res);
    if (!inserted) return pg_fail(pc, STORE_CONFLICT, "model id %s is already used", m->id);
    return pg_labels_put(pc, m->id, m->labels_json);
}

/** A model to insert (pg_model_create()); the row's id and created_at are filled by the body. */
struct model_insert {
    struct pg_model_row row;
    char id[STORE_ID_MAX];
};

/** Body of pg_model_create(): the model and its labels under a fresh random id. */
static store_status model_insert(struct pgs_conn *pc, void *arg)
{
    struct model_insert *m = arg;
    for (int attempt = 0;; attempt++) {
        if (eir_random_id(m->id, STORE_ID_MAX, "m_", 12))
            return pg_fail(pc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno));
        m->row.id = m->id;
        store_status st = pg_model_insert_row(pc, &m->row);
        /* an id collision (2^-96 per pair) is retried; anything else fails */
        if (st == STORE_OK) break;
        if (st != STORE_CONFLICT) return st;
        if (attempt >= 2) return pg_fail(pc, STORE_ERROR, "cannot draw an unused model id");
    }
    return pg_notify(pc, PG_NOTE_OTHER, m->id);
}

store_status pg_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, store_model *out)
{
    struct pgs_conn *pc = PGC(c);
    if (out) memset(out, 0, sizeof *out);
    if (hash && !store_is_hex64(hash))
        return pg_fail(pc, STORE_INVALID, "model hash must be 64 hex characters (SHA-256)");
    if (!hash) hash = ""; /* pending: the hash is the built model's */
    if (!json) return pg_fail(pc, STORE_INVALID, "model document missing");
    if (n < 0) return pg_fail(pc, STORE_INVALID, "model size N must be >= 0, not %" PRId64, n);
    struct model_insert m = {.row = {.name = name ? name : "",
                                     .hash = hash,
                                     .json = json,
                                     .labels_json = labels_json,
                                     .n = n}};
    store_status st = pg_tx_run(pc, model_insert, &m);
    if (st != STORE_OK) return st;
    if (out) {
        snprintf(out->id, sizeof out->id, "%s", m.id);
        snprintf(out->hash, sizeof out->hash, "%s", hash);
        out->state = hash[0] ? STORE_MODEL_READY : STORE_MODEL_PENDING;
        out->build_s = -1;
        out->n = n;
        out->created_at = m.row.created_at;
        out->name = strdup(m.row.name);
        out->labels_json = strdup(labels_json ? labels_json : "{}");
        if (!out->name || !out->labels_json) {
            store_model_clear(out);
            return pg_fail(pc, STORE_ERROR, "out of memory (the model %s was stored)", m.id);
        }
    }
    return STORE_OK;
}

store_status pg_model_get(store_conn *c, const char *id, store_model *out)
{
    struct pgs_conn *pc = PGC(c);
    if (!id || !out) return pg_fail(pc, STORE_INVALID, "model id or output missing");
    memset(out, 0, sizeof *out);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    PGresult *res = pg_exec(pc, "SELECT " PG_MODEL_COLS ", json FROM models WHERE id = $1", &p, 0,
                            &st, "cannot read the model");
    pg_return(pc);
    if (!res) return st;
    if (PQntuples(res) == 0)
        st = pg_fail(pc, STORE_NOT_FOUND, "no model %s", id);
    else if (pg_row_to_model(res, 0, 1, 1, out))
        st = pg_fail(pc, STORE_ERROR, "out of memory reading model %s", id);
    PQclear(res);
    return st;
}

/** The caller's callback of pg_model_list(). */
struct model_page {
    store_model_cb cb;
    void *ctx;
};

/** A row of the list to the caller, as a ::store_model pointing into the result. */
static int model_row(const PGresult *res, int row, void *arg)
{
    struct model_page *pg = arg;
    store_model m;
    pg_row_to_model(res, row, 0, 0, &m); /* borrowed: cannot fail */
    return pg->cb && pg->cb(pg->ctx, &m);
}

store_status pg_model_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_model_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct pgs_conn *pc = PGC(c);
    struct pg_params p;
    store_status st = pg_params_list(pc, &p, cursor, limit); /* before next: it may be cursor */
    if (st == STORE_OK) st = pg_params_labels(pc, &p, labels);
    if (st == STORE_OK) st = pg_op_begin(pc);
    if (st != STORE_OK) {
        pg_params_free(&p);
        return st;
    }
    struct model_page mp = {cb, ctx};
    st = pg_list_page(pc,
                      "SELECT " PG_MODEL_COLS " FROM models AS o WHERE seq < $1" PG_LABEL_CONDS
                      " ORDER BY seq DESC LIMIT $2",
                      &p, 5, limit, model_row, &mp, next, "cannot list models");
    pg_return(pc);
    pg_params_free(&p);
    return st;
}

/** A model to delete (pg_model_delete()). */
struct model_delete {
    const char *id;
    int64_t *runs_using;
};

/** Body of pg_model_delete(): lock the model (a run being created with it holds its key lock
 *  until it commits, so the count below sees it), refuse while runs use it, else delete it. */
static store_status model_delete(struct pgs_conn *pc, void *arg)
{
    struct model_delete *d = arg;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, d->id);
    int64_t found = 0, uses = 0;
    store_status st = pg_query_i64(pc, "SELECT 1 FROM models WHERE id = $1 FOR UPDATE", &p, &found,
                                   "cannot read the model");
    if (st != STORE_OK) return st;
    if (!found) return pg_fail(pc, STORE_NOT_FOUND, "no model %s", d->id);
    st = pg_query_i64(pc, "SELECT count(*) FROM runs WHERE model_id = $1", &p, &uses,
                      "cannot count the model's runs");
    if (st != STORE_OK) return st;
    if (uses > 0) {
        if (d->runs_using) *d->runs_using = uses;
        return pg_fail(pc, STORE_CONFLICT,
                       "model %s is used by %" PRId64 " run(s); delete those runs first", d->id,
                       uses);
    }
    st = pg_run(pc, "DELETE FROM models WHERE id = $1", &p, NULL, "cannot delete the model");
    if (st == STORE_NOT_FOUND) /* a run referring to it appeared: the foreign key said no */
        return pg_fail(pc, STORE_CONFLICT, "model %s is used by a run; delete it first", d->id);
    if (st != STORE_OK) return st;
    return pg_notify(pc, PG_NOTE_OTHER, d->id);
}

store_status pg_model_delete(store_conn *c, const char *id, int64_t *runs_using)
{
    struct pgs_conn *pc = PGC(c);
    if (runs_using) *runs_using = 0;
    if (!id) return pg_fail(pc, STORE_INVALID, "model id missing");
    struct model_delete d = {id, runs_using};
    return pg_tx_run(pc, model_delete, &d);
}

/** A build to record (pg_model_finish()). */
struct model_finish {
    const char *id, *hash, *error;
    double build_s;
};

/** Body of pg_model_finish(): one UPDATE of a pending model, else say why not. */
static store_status model_finish(struct pgs_conn *pc, void *arg)
{
    struct model_finish *f = arg;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, f->id);
    pg_p_text(&p, f->hash ? "ready" : "failed");
    pg_p_text(&p, f->hash ? f->hash : "");
    pg_p_text(&p, f->error);
    pg_p_f64(&p, f->build_s);
    int64_t changed = 0;
    store_status st = pg_run(pc,
                             "UPDATE models SET state = $2, hash = $3, error = $4, build_s = $5 "
                             "WHERE id = $1 AND state = 'pending'",
                             &p, &changed, "cannot record the model's build");
    if (st != STORE_OK) return st;
    if (changed > 0) return pg_notify(pc, PG_NOTE_OTHER, f->id);
    pg_params_init(&p);
    pg_p_text(&p, f->id);
    int64_t found = 0;
    st =
        pg_query_i64(pc, "SELECT 1 FROM models WHERE id = $1", &p, &found, "cannot read the model");
    if (st != STORE_OK) return st;
    if (found) return pg_fail(pc, STORE_CONFLICT, "model %s is not pending any more", f->id);
    return pg_fail(pc, STORE_NOT_FOUND, "no model %s", f->id);
}

store_status pg_model_finish(store_conn *c, const char *id, const char *hash, const char *error,
                             double build_s)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "model id missing");
    if (hash ? !store_is_hex64(hash) : !error)
        return pg_fail(pc, STORE_INVALID, "a build ends with a 64-hex hash or an error");
    struct model_finish f = {id, hash, hash ? NULL : error, build_s};
    return pg_tx_run(pc, model_finish, &f);
}

store_status pg_model_pending(store_conn *c, char ids[][STORE_ID_MAX], int max, int *n)
{
    struct pgs_conn *pc = PGC(c);
    *n = 0;
    if (max <= 0) return STORE_OK;
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, max);
    PGresult *res =
        pg_exec(pc, "SELECT id FROM models WHERE state = 'pending' ORDER BY seq LIMIT $1", &p, 0,
                &st, "cannot list pending models");
    pg_return(pc);
    if (!res) return st;
    int rows = PQntuples(res);
    for (int i = 0; i < rows && *n < max; i++)
        pg_copy_str(ids[(*n)++], STORE_ID_MAX, res, i, 0);
    PQclear(res);
    return STORE_OK;
}
