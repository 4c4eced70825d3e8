/**
 * @file store_sqlite_rows.c
 * @brief SQLite backend: strings and the decoding of rows into store.h's types.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store_sqlite_int.h"

void sq_copy_str(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* ------------------------------------------------------------------------------------------ */
/* Row decoding                                                                               */
/* ------------------------------------------------------------------------------------------ */

/** Column @p i as a malloc'ed string (NULL for SQL NULL); -1 when out of memory. */
int sq_dup_col(sqlite3_stmt *s, int i, char **out)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    *out = NULL;
    if (!t) return 0;
    *out = strdup((const char *)t);
    return *out ? 0 : -1;
}

char *sq_labels_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (char *)t : (char *)"{}";
}

int sq_dup_labels_col(sqlite3_stmt *s, int i, char **out)
{
    *out = strdup(sq_labels_col(s, i));
    return *out ? 0 : -1;
}

char *sq_labels_text(const char *labels_json)
{
    return strdup(labels_json ? labels_json : "{}");
}

/**
 * Fill @p r from a row of RUN_COLS (+ request_json when @p with_request). With @p copy the
 * strings are malloc'ed (store_run_clear() frees them); without, they point into the
 * statement's row. Returns -1 when out of memory (then *r holds nothing to free).
 */
int sq_row_to_run(sqlite3_stmt *s, int with_request, int copy, store_run *r)
{
    memset(r, 0, sizeof *r);
    sq_copy_str(r->id, sizeof r->id, sqlite3_column_text(s, 0));
    sq_copy_str(r->model_id, sizeof r->model_id, sqlite3_column_text(s, 1));
    int status = store_run_status_parse((const char *)sqlite3_column_text(s, 2));
    r->status = status < 0 ? STORE_RUN_FAILED : (store_run_status)status;
    r->priority = sqlite3_column_int(s, 3);
    r->attempts = sqlite3_column_int(s, 4);
    r->max_attempts = sqlite3_column_int(s, 5);
    r->cancel_requested = sqlite3_column_int(s, 6);
    r->seq = sqlite3_column_int64(s, 7);
    r->created_at = sqlite3_column_int64(s, 8);
    r->started_at = sqlite3_column_int64(s, 9);
    r->finished_at = sqlite3_column_int64(s, 10);
    r->progress_done = sqlite3_column_int64(s, 11);
    r->progress_total = sqlite3_column_int64(s, 12);
    r->time_limit = sqlite3_column_double(s, 13);
    sq_copy_str(r->kind, sizeof r->kind, sqlite3_column_text(s, 17));
    sq_copy_str(r->subkind, sizeof r->subkind, sqlite3_column_text(s, 18));
    sq_copy_str(r->sweep_id, sizeof r->sweep_id, sqlite3_column_text(s, 20));
    r->sweep_index = sqlite3_column_type(s, 21) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 21);
    sq_copy_str(r->claimant, sizeof r->claimant, sqlite3_column_text(s, 22));
    r->lease_expires_at = sqlite3_column_int64(s, 23);
    if (!copy) {
        r->labels_json = sq_labels_col(s, 19);
        r->error_json = (char *)sqlite3_column_text(s, 14);
        r->meta_json = (char *)sqlite3_column_text(s, 15);
        r->idempotency_key = (char *)sqlite3_column_text(s, 16);
        if (with_request) r->request_json = (char *)sqlite3_column_text(s, RUN_NCOLS);
        return 0;
    }
    if (sq_dup_col(s, 14, &r->error_json) || sq_dup_col(s, 15, &r->meta_json) ||
        sq_dup_col(s, 16, &r->idempotency_key) || sq_dup_labels_col(s, 19, &r->labels_json) ||
        (with_request && sq_dup_col(s, RUN_NCOLS, &r->request_json))) {
        store_run_clear(r);
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

/** Fill @p out from a row of RESULT_COLS; -1 when the row is malformed. */
int sq_row_to_result(sqlite3_stmt *s, store_result_info *out)
{
    memset(out, 0, sizeof *out);
    sq_copy_str(out->var, sizeof out->var, sqlite3_column_text(s, 0));
    sq_copy_str(out->dtype, sizeof out->dtype, sqlite3_column_text(s, 1));
    if (parse_shape((const char *)sqlite3_column_text(s, 2), &out->ndim, out->shape)) return -1;
    out->total_bytes = (uint64_t)sqlite3_column_int64(s, 3);
    out->chunk_size = (uint64_t)sqlite3_column_int64(s, 4);
    out->chunk_count = sqlite3_column_int64(s, 5);
    sq_copy_str(out->sha256, sizeof out->sha256, sqlite3_column_text(s, 6));
    return 0;
}

/**
 * One page of a list, newest first. @p s selects rows with seq < ?1, ordered by seq
 * descending, LIMIT ?2; this binds both (?1 from @p cursor, ?2 one more than the page so that
 * the extra row tells whether a next page exists; the statement's other parameters are bound
 * by the caller). Column @p seq_col holds seq. Each row of the page goes to @p row, which
 * returns nonzero to stop after it. When rows remain, @p next (if given) gets the cursor of
 * the page after the last row handed out; else it is left as it is.
 * ::STORE_INVALID for a malformed cursor; on an SQLite error (@p what), @p next is emptied.
 * Always resets @p s.
 */
store_status sq_list_page(struct sq_conn *sc, sqlite3_stmt *s, int seq_col, const char *cursor,
                          int limit, sq_list_row row, void *ctx, char next[STORE_CURSOR_MAX],
                          const char *what)
{
    int64_t after;
    if (store_cursor_decode(cursor, &after)) {
        sq_done(s);
        return sq_fail(sc, STORE_INVALID, "malformed cursor");
    }
    limit = store_clamp_limit(limit);
    sq_bind_i64(s, 1, after);
    sq_bind_i64(s, 2, (int64_t)limit + 1); /* one more row tells whether a next page exists */
    store_status st = STORE_OK;
    int rows = 0, rc;
    int64_t last_seq = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (rows == limit) {
            if (next) store_cursor_encode(next, last_seq);
            break;
        }
        rows++;
        last_seq = sqlite3_column_int64(s, seq_col);
        if (row(s, ctx)) { /* the caller stopped: the next page starts after this row */
            if (next) store_cursor_encode(next, last_seq);
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = sq_fail_rc(sc, rc, what);
        if (next) next[0] = '\0';
    }
    sq_done(s);
    return st;
}
