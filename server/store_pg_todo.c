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

