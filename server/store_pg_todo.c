/**
 * @file store_pg_todo.c
 * @brief PostgreSQL backend: the operations not written yet, each failing with ::STORE_ERROR
 *        "not written yet" (issue 14: helpers pgqueue and pgsweeps delete a function from here
 *        when they write it; this file is deleted before the branch goes to main).
 */
#include <stdio.h>

#include "store_pg_int.h"

/** The answer of every operation below. */
static store_status not_written(store_conn *c, const char *op)
{
    snprintf(c->errmsg, sizeof c->errmsg, "the PostgreSQL store's %s is not written yet", op);
    return STORE_ERROR;
}

store_status pg_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created)
{
    (void)in;
    (void)out;
    (void)created;
    return not_written(c, "run_create");
}

store_status pg_run_get(store_conn *c, const char *id, store_run *out)
{
    (void)id;
    (void)out;
    return not_written(c, "run_get");
}

store_status pg_run_request(store_conn *c, const char *id, char **json)
{
    (void)id;
    (void)json;
    return not_written(c, "run_request");
}

store_status pg_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                         store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    (void)f;
    (void)cursor;
    (void)limit;
    (void)cb;
    (void)ctx;
    (void)next;
    return not_written(c, "run_list");
}

store_status pg_run_claim(store_conn *c, store_run *out)
{
    (void)out;
    return not_written(c, "run_claim");
}

store_status pg_run_progress(store_conn *c, const char *id, int attempt, int64_t done_steps,
                             int64_t total, int *cancel_requested)
{
    (void)id;
    (void)attempt;
    (void)done_steps;
    (void)total;
    (void)cancel_requested;
    return not_written(c, "run_progress");
}

store_status pg_run_cancel(store_conn *c, const char *id, store_run_status *now)
{
    (void)id;
    (void)now;
    return not_written(c, "run_cancel");
}

store_status pg_run_release(store_conn *c, const char *id, int attempt, store_run_status *now)
{
    (void)id;
    (void)attempt;
    (void)now;
    return not_written(c, "run_release");
}

store_status pg_run_delete(store_conn *c, const char *id)
{
    (void)id;
    return not_written(c, "run_delete");
}

store_status pg_finish_begin(store_conn *c, const char *run_id, int attempt)
{
    (void)run_id;
    (void)attempt;
    return not_written(c, "finish_begin");
}

store_status pg_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                             const int64_t *shape)
{
    (void)var;
    (void)dtype;
    (void)ndim;
    (void)shape;
    return not_written(c, "result_begin");
}

store_status pg_result_append(store_conn *c, const void *data, size_t n)
{
    (void)data;
    (void)n;
    return not_written(c, "result_append");
}

store_status pg_result_end(store_conn *c, const char *sha256_hex)
{
    (void)sha256_hex;
    return not_written(c, "result_end");
}

store_status pg_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                              const char *error_json)
{
    (void)status;
    (void)meta_json;
    (void)error_json;
    return not_written(c, "finish_commit");
}

store_status pg_finish_commit_claim(store_conn *c, store_run_status status, const char *meta_json,
                                    const char *error_json, store_run *next)
{
    (void)status;
    (void)meta_json;
    (void)error_json;
    (void)next;
    return not_written(c, "finish_commit_claim");
}

store_status pg_result_info(store_conn *c, const char *run_id, const char *var,
                            store_result_info *out)
{
    (void)run_id;
    (void)var;
    (void)out;
    return not_written(c, "result_info");
}

store_status pg_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx)
{
    (void)run_id;
    (void)cb;
    (void)ctx;
    return not_written(c, "result_list");
}

store_status pg_result_read_chunk(store_conn *c, const char *run_id, const char *var, int64_t index,
                                  void *buf, size_t cap, size_t *len)
{
    (void)run_id;
    (void)var;
    (void)index;
    (void)buf;
    (void)cap;
    (void)len;
    return not_written(c, "result_read_chunk");
}

store_status pg_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                            void *buf, size_t len)
{
    (void)run_id;
    (void)var;
    (void)offset;
    (void)buf;
    (void)len;
    return not_written(c, "result_read");
}

store_status pg_requeue_orphans(store_conn *c, store_requeue_report *report)
{
    (void)report;
    return not_written(c, "requeue_orphans");
}

store_status pg_lease_renew(store_conn *c, int64_t *renewed)
{
    (void)renewed;
    return not_written(c, "lease_renew");
}

store_status pg_rescue_expired(store_conn *c, store_requeue_report *report)
{
    (void)report;
    return not_written(c, "rescue_expired");
}

store_status pg_counts(store_conn *c, store_counts *out)
{
    (void)out;
    return not_written(c, "counts");
}

store_status pg_queue_depth(store_conn *c, int64_t *depth)
{
    (void)depth;
    return not_written(c, "queue_depth");
}

store_status pg_verify(store_conn *c, store_verify_cb cb, void *ctx, store_verify_report *report)
{
    (void)cb;
    (void)ctx;
    (void)report;
    return not_written(c, "verify");
}

store_status pg_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                             int *created)
{
    (void)in;
    (void)out;
    (void)created;
    return not_written(c, "sweep_create");
}

store_status pg_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out)
{
    (void)id;
    (void)with_request;
    (void)out;
    return not_written(c, "sweep_get");
}

store_status pg_sweep_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    (void)labels;
    (void)cursor;
    (void)limit;
    (void)cb;
    (void)ctx;
    (void)next;
    return not_written(c, "sweep_list");
}

store_status pg_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx)
{
    (void)id;
    (void)cb;
    (void)ctx;
    return not_written(c, "sweep_runs");
}

store_status pg_sweep_cancel(store_conn *c, const char *id, int64_t *affected)
{
    (void)id;
    (void)affected;
    return not_written(c, "sweep_cancel");
}

store_status pg_sweep_delete(store_conn *c, const char *id, int64_t *active)
{
    (void)id;
    (void)active;
    return not_written(c, "sweep_delete");
}

void pg_finish_abort(store_conn *c)
{
    /* nothing can have been started (finish_begin is not written yet) */
    (void)c;
}
