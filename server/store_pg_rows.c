/**
 * @file store_pg_rows.c
 * @brief PostgreSQL backend: ids, cursors, statement parameters and the decoding of rows into
 *        store.h's types.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* ---- parameters --------------------------------------------------------------------------- */

void pg_params_init(struct pg_params *p)
{
    p->n = 0;
    p->overflow = 0;
    p->oom = 0;
    p->n_owned = 0;
}

void pg_params_free(struct pg_params *p)
{
    for (int i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    p->n_owned = 0;
}

/** The next parameter slot, or -1 (overflow noted). */
static int slot(struct pg_params *p)
{
    if (p->n >= PG_MAX_PARAMS) {
        p->overflow = 1;
        return -1;
    }
    int i = p->n++;
    p->len[i] = 0;
    p->fmt[i] = 0;
    p->v[i] = NULL;
    return i;
}

void pg_p_text(struct pg_params *p, const char *s)
{
    int i = slot(p);
    if (i >= 0) p->v[i] = s;
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
    int i = slot(p);
    if (i < 0) return;
    snprintf(p->num[i], sizeof p->num[i], "%" PRId64, v);
    p->v[i] = p->num[i];
}

void pg_p_f64(struct pg_params *p, double v)
{
    int i = slot(p);
    if (i < 0) return;
    snprintf(p->num[i], sizeof p->num[i], "%.17g", v);
    p->v[i] = p->num[i];
}

void pg_p_bin(struct pg_params *p, const void *data, size_t n)
{
    int i = slot(p);
    if (i < 0) return;
    if (n > INT_MAX) {
        p->overflow = 1;
        return;
    }
    p->v[i] = data ? (const char *)data : "";
    p->len[i] = (int)n;
    p->fmt[i] = 1;
}

void pg_p_text_array(struct pg_params *p, const char *const *items, size_t n)
{
    int i = slot(p);
    if (i < 0) return;
    /* array literal {"a","b"}: each element double-quoted, '"' and '\' escaped */
    size_t cap = 3;
    for (size_t k = 0; k < n; k++)
        cap += 2 * strlen(items[k]) + 3;
    char *buf = p->n_owned < (int)(sizeof p->owned / sizeof p->owned[0]) ? malloc(cap) : NULL;
    if (!buf) {
        p->oom = 1;
        return;
    }
    p->owned[p->n_owned++] = buf;
    size_t len = 0;
    buf[len++] = '{';
    for (size_t k = 0; k < n; k++) {
        if (k) buf[len++] = ',';
        buf[len++] = '"';
        for (const char *s = items[k]; *s; s++) {
            if (*s == '"' || *s == '\\') buf[len++] = '\\';
            buf[len++] = *s;
        }
        buf[len++] = '"';
    }
    buf[len++] = '}';
    buf[len] = '\0';
    p->v[i] = buf;
}

/* ---- fields ------------------------------------------------------------------------------ */

const char *pg_str(const PGresult *res, int row, int col)
{
    if (col >= PQnfields(res) || PQgetisnull(res, row, col)) return NULL;
    return PQgetvalue(res, row, col);
}

int64_t pg_i64(const PGresult *res, int row, int col)
{
    const char *s = pg_str(res, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

double pg_f64(const PGresult *res, int row, int col, double null_value)
{
    const char *s = pg_str(res, row, col);
    return s ? strtod(s, NULL) : null_value;
}

void pg_copy_str(char *dst, size_t cap, const PGresult *res, int row, int col)
{
    const char *s = pg_str(res, row, col);
    snprintf(dst, cap, "%s", s ? s : "");
}

int pg_dup(const PGresult *res, int row, int col, char **out)
{
    const char *s = pg_str(res, row, col);
    *out = NULL;
    if (!s) return 0;
    *out = strdup(s);
    return *out ? 0 : -1;
}

/** A labels column: the text, "{}" for NULL; a copy with @p copy (NULL out of memory). */
static char *labels_field(const PGresult *res, int row, int col, int copy)
{
    const char *s = pg_str(res, row, col);
    if (!s) s = "{}";
    return copy ? strdup(s) : (char *)s;
}

/** A nullable text field, borrowed (NULL for SQL NULL) or copied into *@p out. */
static int text_field(const PGresult *res, int row, int col, int copy, char **out)
{
    if (copy) return pg_dup(res, row, col, out);
    *out = (char *)pg_str(res, row, col);
    return 0;
}

/* ---- rows --------------------------------------------------------------------------------- */

int pg_row_to_run(const PGresult *res, int row, int with_request, int copy, store_run *r)
{
    memset(r, 0, sizeof *r);
    pg_copy_str(r->id, sizeof r->id, res, row, 0);
    pg_copy_str(r->model_id, sizeof r->model_id, res, row, 1);
    int64_t status = pg_i64(res, row, 2);
    r->status =
        status < 0 || status >= STORE_RUN_NSTATUS ? STORE_RUN_FAILED : (store_run_status)status;
    r->priority = (int)pg_i64(res, row, 3);
    r->attempts = (int)pg_i64(res, row, 4);
    r->max_attempts = (int)pg_i64(res, row, 5);
    r->cancel_requested = (int)pg_i64(res, row, 6);
    r->seq = pg_i64(res, row, 7);
    r->created_at = pg_i64(res, row, 8);
    r->started_at = pg_i64(res, row, 9);
    r->finished_at = pg_i64(res, row, 10);
    r->progress_done = pg_i64(res, row, 11);
    r->progress_total = pg_i64(res, row, 12);
    r->time_limit = pg_f64(res, row, 13, 0);
    pg_copy_str(r->kind, sizeof r->kind, res, row, 17);
    pg_copy_str(r->subkind, sizeof r->subkind, res, row, 18);
    pg_copy_str(r->sweep_id, sizeof r->sweep_id, res, row, 20);
    r->sweep_index = pg_str(res, row, 21) ? pg_i64(res, row, 21) : -1;
    pg_copy_str(r->claimant, sizeof r->claimant, res, row, 22);
    r->lease_expires_at = pg_i64(res, row, 23);
    if (text_field(res, row, 14, copy, &r->error_json) ||
        text_field(res, row, 15, copy, &r->meta_json) ||
        text_field(res, row, 16, copy, &r->idempotency_key) ||
        !(r->labels_json = labels_field(res, row, 19, copy)) ||
        (with_request && text_field(res, row, PG_RUN_NCOLS, copy, &r->request_json))) {
        if (copy) store_run_clear(r);
        return -1;
    }
    return 0;
}

int pg_row_to_model(const PGresult *res, int row, int with_json, int copy, store_model *m)
{
    memset(m, 0, sizeof *m);
    pg_copy_str(m->id, sizeof m->id, res, row, 0);
    pg_copy_str(m->hash, sizeof m->hash, res, row, 2);
    m->n = pg_i64(res, row, 3);
    m->created_at = pg_i64(res, row, 4);
    const char *state = pg_str(res, row, 6);
    m->state = !state                          ? STORE_MODEL_READY
               : strcmp(state, "pending") == 0 ? STORE_MODEL_PENDING
               : strcmp(state, "failed") == 0  ? STORE_MODEL_FAILED
                                               : STORE_MODEL_READY;
    m->build_s = pg_f64(res, row, 8, -1);
    pg_copy_str(m->sweep_id, sizeof m->sweep_id, res, row, 10);
    pg_copy_str(m->training_id, sizeof m->training_id, res, row, 11);
    const char *name = pg_str(res, row, 1);
    if (copy) {
        m->name = strdup(name ? name : "");
    } else {
        m->name = (char *)(name ? name : "");
    }
    if (!m->name || text_field(res, row, 7, copy, &m->error) ||
        !(m->labels_json = labels_field(res, row, 9, copy)) ||
        (with_json && text_field(res, row, PG_MODEL_NCOLS, copy, &m->json))) {
        if (copy) store_model_clear(m);
        return -1;
    }
    return 0;
}

int pg_row_to_sweep(const PGresult *res, int row, int with_request, int copy, store_sweep *sw)
{
    memset(sw, 0, sizeof *sw);
    pg_copy_str(sw->id, sizeof sw->id, res, row, 0);
    sw->created_at = pg_i64(res, row, 2);
    sw->points = pg_i64(res, row, 6);
    for (int k = 0; k < STORE_RUN_NSTATUS; k++)
        sw->by_status[k] = pg_i64(res, row, 7 + k);
    sw->progress_done = pg_i64(res, row, 13);
    sw->progress_total = pg_i64(res, row, 14);
    sw->finished_at = pg_i64(res, row, 15);
    const char *name = pg_str(res, row, 1);
    if (copy) {
        sw->name = strdup(name ? name : "");
    } else {
        sw->name = (char *)(name ? name : "");
    }
    if (!sw->name || !(sw->labels_json = labels_field(res, row, 3, copy)) ||
        text_field(res, row, 4, copy, &sw->idempotency_key) ||
        (with_request && text_field(res, row, PG_SWEEP_NCOLS, copy, &sw->request_json))) {
        if (copy) store_sweep_clear(sw);
        return -1;
    }
    return 0;
}

/** Parse a shape written by result_begin ("[2,3]"); -1 when malformed. */
static int parse_shape(const char *text, int *ndim, int64_t shape[STORE_MAX_NDIM])
{
    *ndim = 0;
    if (!text || *text != '[') return -1;
    const char *p = text + 1;
    if (*p == ']') return p[1] == '\0' ? 0 : -1;
    for (;;) {
        if (*ndim >= STORE_MAX_NDIM) return -1;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0) return -1;
        shape[(*ndim)++] = v;
        p = end;
        if (*p == ']') return p[1] == '\0' ? 0 : -1;
        if (*p != ',') return -1;
        p++;
    }
}

int pg_row_to_result(const PGresult *res, int row, store_result_info *out)
{
    memset(out, 0, sizeof *out);
    pg_copy_str(out->var, sizeof out->var, res, row, 0);
    pg_copy_str(out->dtype, sizeof out->dtype, res, row, 1);
    if (parse_shape(pg_str(res, row, 2), &out->ndim, out->shape)) return -1;
    out->total_bytes = (uint64_t)pg_i64(res, row, 3);
    out->chunk_size = (uint64_t)pg_i64(res, row, 4);
    out->chunk_count = pg_i64(res, row, 5);
    pg_copy_str(out->sha256, sizeof out->sha256, res, row, 6);
    return 0;
}

/* ---- lists ---------------------------------------------------------------------------------- */

store_status pg_params_list(struct pgs_conn *pc, struct pg_params *p, const char *cursor, int limit)
{
    int64_t after;
    pg_params_init(p);
    if (store_cursor_decode(cursor, &after)) return pg_fail(pc, STORE_INVALID, "malformed cursor");
    pg_p_i64(p, after);
    pg_p_i64(p, (int64_t)store_clamp_limit(limit) + 1); /* one more row: is there a next page? */
    return STORE_OK;
}

store_status pg_list_page(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                          int seq_col, int limit, pg_list_row row, void *ctx,
                          char next[STORE_CURSOR_MAX], const char *what)
{
    limit = store_clamp_limit(limit);
    if (next) next[0] = '\0';
    store_status st;
    PGresult *res = pg_exec(pc, sql, p, 0, &st, what);
    if (!res) return st;
    int rows = PQntuples(res);
    int64_t last_seq = 0;
    for (int i = 0; i < rows; i++) {
        if (i == limit) {
            if (next) store_cursor_encode(next, last_seq);
            break;
        }
        last_seq = pg_i64(res, i, seq_col);
        if (row(res, i, ctx)) { /* the caller stopped: the next page starts after this row */
            if (next) store_cursor_encode(next, last_seq);
            break;
        }
    }
    PQclear(res);
    return STORE_OK;
}
