/**
 * @file store.c
 * @brief Backend-independent part of store.h: names, defaults, backend selection and the
 *        wrappers that check a connection before calling its backend.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eir_random.h"

#include "store_pg.h"
#include "store_sqlite.h"

static const char *const run_status_names[STORE_RUN_NSTATUS] = {"queued", "running",  "succeeded",
                                                                "failed", "diverged", "cancelled"};

void store_config_default(store_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->busy_timeout_ms = 10000;
    cfg->chunk_size = (size_t)4 << 20;
    cfg->mmap_size = 0;
    cfg->batch_bytes = (size_t)16 << 20;
    cfg->claimant = NULL;
    cfg->lease_s = 30;
    cfg->pool_size = 8;
}

void store_claimant_make(const char *given, char out[STORE_CLAIMANT_MAX])
{
    if (given && *given) {
        snprintf(out, STORE_CLAIMANT_MAX, "%s", given);
        return;
    }
    char host[64];
    if (gethostname(host, sizeof host) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    char tag[16];
    if (eir_random_id(tag, sizeof tag, "", 4) != 0) snprintf(tag, sizeof tag, "00000000");
    snprintf(out, STORE_CLAIMANT_MAX, "%s:%ld:%s", host, (long)getpid(), tag);
}

const char *store_backend_name(const store *s)
{
    return s && s->ops && s->ops->name ? s->ops->name : "";
}

int store_notifies(const store *s)
{
    return s && s->ops && s->ops->notifies ? 1 : 0;
}

store *store_open(const char *spec, const store_config *cfg, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!spec || !*spec) {
        if (err && errlen) snprintf(err, errlen, "no database given");
        return NULL;
    }
    if (strncmp(spec, "sqlite:", 7) == 0) return store_sqlite_open(spec + 7, cfg, err, errlen);
    if (strncmp(spec, "postgres://", 11) == 0 || strncmp(spec, "postgresql://", 13) == 0)
        return store_pg_open(spec, cfg, err, errlen);
    if (strncmp(spec, "postgres:", 9) == 0 || strncmp(spec, "postgresql:", 11) == 0) {
        if (err && errlen)
            snprintf(err, errlen, "a PostgreSQL URL starts with postgresql:// (libpq URI)");
        return NULL;
    }
    return store_sqlite_open(spec, cfg, err, errlen);
}

void store_close(store *s)
{
    if (s && s->ops && s->ops->close) s->ops->close(s);
}

store_conn *store_connect(store *s)
{
    if (!s || !s->ops || !s->ops->connect) return NULL;
    return s->ops->connect(s);
}

void store_disconnect(store_conn *c)
{
    if (c && c->store && c->store->ops->disconnect) c->store->ops->disconnect(c);
}

void store_set_deadline(store_conn *c, double deadline)
{
    if (c) c->deadline = deadline;
}

const char *store_errmsg(const store_conn *c)
{
    return c ? c->errmsg : "no store connection";
}

const char *store_status_name(store_status s)
{
    switch (s) {
    case STORE_OK:
        return "ok";
    case STORE_NOT_FOUND:
        return "not found";
    case STORE_CONFLICT:
        return "conflict";
    case STORE_KEY_REUSED:
        return "idempotency key reused";
    case STORE_BUSY:
        return "busy";
    case STORE_FULL:
        return "full";
    case STORE_INVALID:
        return "invalid";
    case STORE_ERROR:
        return "error";
    case STORE_QUEUE_FULL:
        return "queue full";
    }
    return "?";
}

const char *store_run_status_name(store_run_status s)
{
    if ((int)s < 0 || (int)s >= STORE_RUN_NSTATUS) return "?";
    return run_status_names[s];
}

int store_run_status_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < STORE_RUN_NSTATUS; i++)
        if (strcmp(name, run_status_names[i]) == 0) return i;
    return -1;
}

int store_run_status_final(store_run_status s)
{
    return s == STORE_RUN_SUCCEEDED || s == STORE_RUN_FAILED || s == STORE_RUN_DIVERGED ||
           s == STORE_RUN_CANCELLED;
}

void store_model_clear(store_model *m)
{
    if (!m) return;
    free(m->name);
    free(m->json);
    free(m->error);
    free(m->labels_json);
    memset(m, 0, sizeof *m);
}

void store_run_clear(store_run *r)
{
    if (!r) return;
    free(r->request_json);
    free(r->error_json);
    free(r->meta_json);
    free(r->idempotency_key);
    free(r->labels_json);
    memset(r, 0, sizeof *r);
}

void store_sweep_clear(store_sweep *sw)
{
    if (!sw) return;
    free(sw->name);
    free(sw->request_json);
    free(sw->labels_json);
    free(sw->idempotency_key);
    memset(sw, 0, sizeof *sw);
}

/* Every wrapper: refuse a NULL or backend-less connection, clear the message, dispatch. */
#define CHECK_CONN(c)                                                                              \
    do {                                                                                           \
        if (!(c) || !(c)->store || !(c)->store->ops) return STORE_ERROR;                           \
        (c)->errmsg[0] = '\0';                                                                     \
    } while (0)

#define OPS(c) ((c)->store->ops)

/** Copy a cursor so that callers may pass the same buffer as cursor and next. A cursor too
 *  long to be one of ours is kept too long (one byte over), so the backend still rejects it. */
static const char *copy_cursor(char cur[STORE_CURSOR_MAX + 1], const char *cursor)
{
    if (!cursor) return NULL;
    size_t n = strnlen(cursor, STORE_CURSOR_MAX);
    memcpy(cur, cursor, n);
    cur[n] = '\0';
    return cur;
}

store_status store_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                                const char *json, const char *labels_json, store_model *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    return OPS(c)->model_create(c, name, hash, n, json, labels_json, out);
}

store_status store_model_get(store_conn *c, const char *id, store_model *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    return OPS(c)->model_get(c, id, out);
}

store_status store_model_list(store_conn *c, const store_labels *labels, const char *cursor,
                              int limit, store_model_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    char cur[STORE_CURSOR_MAX + 1];
    cursor = copy_cursor(cur, cursor); /* @p cursor may be @p next itself */
    if (next) next[0] = '\0';
    CHECK_CONN(c);
    return OPS(c)->model_list(c, labels, cursor, limit, cb, ctx, next);
}

store_status store_model_delete(store_conn *c, const char *id, int64_t *runs_using)
{
    if (runs_using) *runs_using = 0;
    CHECK_CONN(c);
    return OPS(c)->model_delete(c, id, runs_using);
}

store_status store_model_finish(store_conn *c, const char *id, const char *hash, const char *error,
                                double build_s)
{
    CHECK_CONN(c);
    return OPS(c)->model_finish(c, id, hash, error, build_s);
}

store_status store_model_pending(store_conn *c, char ids[][STORE_ID_MAX], int max, int *n)
{
    *n = 0;
    CHECK_CONN(c);
    return OPS(c)->model_pending(c, ids, max, n);
}

const char *store_model_state_name(store_model_state s)
{
    switch (s) {
    case STORE_MODEL_PENDING:
        return "pending";
    case STORE_MODEL_FAILED:
        return "failed";
    case STORE_MODEL_READY:
    default:
        return "ready";
    }
}

store_status store_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created)
{
    if (out) memset(out, 0, sizeof *out);
    if (created) *created = 0;
    CHECK_CONN(c);
    return OPS(c)->run_create(c, in, out, created);
}

store_status store_run_get(store_conn *c, const char *id, store_run *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    return OPS(c)->run_get(c, id, out);
}

store_status store_run_request(store_conn *c, const char *id, char **json)
{
    if (json) *json = NULL;
    CHECK_CONN(c);
    if (!OPS(c)->run_request) return STORE_ERROR;
    return OPS(c)->run_request(c, id, json);
}

store_status store_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                            store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    char cur[STORE_CURSOR_MAX + 1];
    cursor = copy_cursor(cur, cursor);
    if (next) next[0] = '\0';
    CHECK_CONN(c);
    return OPS(c)->run_list(c, f, cursor, limit, cb, ctx, next);
}

store_status store_run_claim(store_conn *c, store_run *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    return OPS(c)->run_claim(c, out);
}

store_status store_run_progress(store_conn *c, const char *id, int attempt, int64_t done,
                                int64_t total, int *cancel_requested)
{
    if (cancel_requested) *cancel_requested = 0;
    CHECK_CONN(c);
    return OPS(c)->run_progress(c, id, attempt, done, total, cancel_requested);
}

store_status store_run_cancel(store_conn *c, const char *id, store_run_status *now)
{
    CHECK_CONN(c);
    return OPS(c)->run_cancel(c, id, now);
}

store_status store_run_release(store_conn *c, const char *id, int attempt, store_run_status *now)
{
    CHECK_CONN(c);
    return OPS(c)->run_release(c, id, attempt, now);
}

store_status store_run_delete(store_conn *c, const char *id)
{
    CHECK_CONN(c);
    return OPS(c)->run_delete(c, id);
}

store_status store_finish_begin(store_conn *c, const char *run_id, int attempt)
{
    CHECK_CONN(c);
    return OPS(c)->finish_begin(c, run_id, attempt);
}

store_status store_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                                const int64_t *shape)
{
    CHECK_CONN(c);
    return OPS(c)->result_begin(c, var, dtype, ndim, shape);
}

store_status store_result_append(store_conn *c, const void *data, size_t n)
{
    CHECK_CONN(c);
    return OPS(c)->result_append(c, data, n);
}

store_status store_result_end(store_conn *c, const char *sha256_hex)
{
    CHECK_CONN(c);
    return OPS(c)->result_end(c, sha256_hex);
}

store_status store_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                                 const char *error_json)
{
    CHECK_CONN(c);
    return OPS(c)->finish_commit(c, status, meta_json, error_json);
}

store_status store_finish_commit_claim(store_conn *c, store_run_status status,
                                       const char *meta_json, const char *error_json,
                                       store_run *next)
{
    CHECK_CONN(c);
    if (!next) return store_finish_commit(c, status, meta_json, error_json);
    if (OPS(c)->finish_commit_claim)
        return OPS(c)->finish_commit_claim(c, status, meta_json, error_json, next);
    store_status st = OPS(c)->finish_commit(c, status, meta_json, error_json);
    if (st == STORE_OK && OPS(c)->run_claim(c, next) != STORE_OK) memset(next, 0, sizeof *next);
    return st;
}

void store_finish_abort(store_conn *c)
{
    if (c && c->store && c->store->ops) OPS(c)->finish_abort(c);
}

store_status store_result_info_get(store_conn *c, const char *run_id, const char *var,
                                   store_result_info *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    return OPS(c)->result_info(c, run_id, var, out);
}

store_status store_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx)
{
    CHECK_CONN(c);
    return OPS(c)->result_list(c, run_id, cb, ctx);
}

store_status store_result_read_chunk(store_conn *c, const char *run_id, const char *var,
                                     int64_t index, void *buf, size_t cap, size_t *len)
{
    if (len) *len = 0;
    CHECK_CONN(c);
    return OPS(c)->result_read_chunk(c, run_id, var, index, buf, cap, len);
}

store_status store_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                               void *buf, size_t len)
{
    CHECK_CONN(c);
    return OPS(c)->result_read(c, run_id, var, offset, buf, len);
}

store_status store_requeue_orphans(store_conn *c, store_requeue_report *report)
{
    if (report) memset(report, 0, sizeof *report);
    CHECK_CONN(c);
    return OPS(c)->requeue_orphans(c, report);
}

store_status store_lease_renew(store_conn *c, const char (*ids)[STORE_ID_MAX], const int *attempts,
                               size_t n, int64_t *renewed)
{
    if (renewed) *renewed = 0;
    CHECK_CONN(c);
    if (n == 0) return STORE_OK; /* no run held: nothing to renew */
    return OPS(c)->lease_renew(c, ids, attempts, n, renewed);
}

store_status store_rescue_expired(store_conn *c, store_requeue_report *report)
{
    if (report) memset(report, 0, sizeof *report);
    CHECK_CONN(c);
    return OPS(c)->rescue_expired(c, report);
}

store_status store_counts_get(store_conn *c, store_counts *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    return OPS(c)->counts(c, out);
}

store_status store_queue_depth(store_conn *c, int64_t *depth)
{
    if (depth) *depth = 0;
    CHECK_CONN(c);
    return OPS(c)->queue_depth(c, depth);
}

store_status store_verify(store_conn *c, store_verify_cb cb, void *ctx, store_verify_report *report)
{
    if (report) memset(report, 0, sizeof *report);
    CHECK_CONN(c);
    return OPS(c)->verify(c, cb, ctx, report);
}

store_status store_changes_wait(store_conn *c, double timeout, store_change_cb cb, void *ctx,
                                int *changed)
{
    if (changed) *changed = 1;
    if (!changed) return STORE_INVALID;
    CHECK_CONN(c);
    return OPS(c)->changes_wait(c, timeout, cb, ctx, changed);
}

store_status store_runs_settled(store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                                unsigned char *settled)
{
    if (settled && n) memset(settled, 0, n);
    if (n && (!ids || !settled)) return STORE_INVALID;
    CHECK_CONN(c);
    if (n == 0) return STORE_OK;
    return OPS(c)->runs_settled(c, ids, n, settled);
}

/* Sweeps: a backend without them (a NULL member) answers ::STORE_ERROR. */
#define CHECK_SWEEPS(c, member)                                                                    \
    do {                                                                                           \
        if (!OPS(c)->member) {                                                                     \
            snprintf((c)->errmsg, sizeof(c)->errmsg, "the %s store has no sweeps",                 \
                     OPS(c)->name ? OPS(c)->name : "?");                                           \
            return STORE_ERROR;                                                                    \
        }                                                                                          \
    } while (0)

store_status store_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                                int *created)
{
    if (out) memset(out, 0, sizeof *out);
    if (created) *created = 0;
    CHECK_CONN(c);
    CHECK_SWEEPS(c, sweep_create);
    return OPS(c)->sweep_create(c, in, out, created);
}

store_status store_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    CHECK_SWEEPS(c, sweep_get);
    return OPS(c)->sweep_get(c, id, with_request, out);
}

store_status store_sweep_list(store_conn *c, const store_labels *labels, const char *cursor,
                              int limit, store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    char cur[STORE_CURSOR_MAX + 1];
    cursor = copy_cursor(cur, cursor);
    if (next) next[0] = '\0';
    CHECK_CONN(c);
    CHECK_SWEEPS(c, sweep_list);
    return OPS(c)->sweep_list(c, labels, cursor, limit, cb, ctx, next);
}

store_status store_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx)
{
    CHECK_CONN(c);
    CHECK_SWEEPS(c, sweep_runs);
    return OPS(c)->sweep_runs(c, id, cb, ctx);
}

store_status store_sweep_cancel(store_conn *c, const char *id, int64_t *affected)
{
    if (affected) *affected = 0;
    CHECK_CONN(c);
    CHECK_SWEEPS(c, sweep_cancel);
    return OPS(c)->sweep_cancel(c, id, affected);
}

store_status store_sweep_delete(store_conn *c, const char *id, int64_t *active)
{
    if (active) *active = 0;
    CHECK_CONN(c);
    CHECK_SWEEPS(c, sweep_delete);
    return OPS(c)->sweep_delete(c, id, active);
}

/* Trainings: a backend without them (a NULL member) answers ::STORE_ERROR. */
#define CHECK_TRAININGS(c, member)                                                                 \
    do {                                                                                           \
        if (!OPS(c)->member) {                                                                     \
            snprintf((c)->errmsg, sizeof(c)->errmsg, "the %s store has no trainings",              \
                     OPS(c)->name ? OPS(c)->name : "?");                                           \
            return STORE_ERROR;                                                                    \
        }                                                                                          \
    } while (0)

store_status store_training_checkpoint_put(store_conn *c, const char *id, int attempt,
                                           int64_t iteration, const void *state, size_t n,
                                           const store_curve_row *rows, size_t nrows)
{
    CHECK_CONN(c);
    CHECK_TRAININGS(c, training_checkpoint_put);
    return OPS(c)->training_checkpoint_put(c, id, attempt, iteration, state, n, rows, nrows);
}

store_status store_training_checkpoint_get(store_conn *c, const char *id, int64_t *iteration,
                                           void **state, size_t *n)
{
    if (iteration) *iteration = 0;
    if (state) *state = NULL;
    if (n) *n = 0;
    CHECK_CONN(c);
    CHECK_TRAININGS(c, training_checkpoint_get);
    return OPS(c)->training_checkpoint_get(c, id, iteration, state, n);
}

store_status store_training_curve_read(store_conn *c, const char *id, int64_t after_iteration,
                                       int limit, store_curve_cb cb, void *ctx)
{
    CHECK_CONN(c);
    CHECK_TRAININGS(c, training_curve_read);
    return OPS(c)->training_curve_read(c, id, after_iteration, limit, cb, ctx);
}

store_status store_finish_model(store_conn *c, const char *name, const char *hash, int64_t n,
                                const char *json, const char *labels_json, const char *training_id,
                                store_model *out)
{
    if (out) memset(out, 0, sizeof *out);
    CHECK_CONN(c);
    CHECK_TRAININGS(c, finish_model);
    return OPS(c)->finish_model(c, name, hash, n, json, labels_json, training_id, out);
}
