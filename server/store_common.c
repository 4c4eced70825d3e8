/**
 * @file store_common.c
 * @brief Backend-neutral checks and encodings of the store (store_common.h documents each).
 */
#include "store_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return 0;
    return 1;
}

int store_is_var_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= STORE_VAR_MAX) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '_'))
            return 0;
    return 1;
}

int store_plain_id(const char *id)
{
    size_t i = 0;
    for (; i < STORE_ID_MAX && id[i]; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return i > 0 && i < STORE_ID_MAX;
}

unsigned store_dtype_size(const char *dtype)
{
    static const struct {
        const char *name;
        unsigned size;
    } known[] = {{"float32", 4}, {"float64", 8}, {"int32", 4},
                 {"int64", 8},   {"uint8", 1},   {"complex128", 16}};
    if (!dtype) return 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(dtype, known[i].name) == 0) return known[i].size;
    return 0;
}

/* Cursors are opaque to clients: "c1." + the hex seq of the last row of the page. */
void store_cursor_encode(char out[STORE_CURSOR_MAX], int64_t seq)
{
    snprintf(out, STORE_CURSOR_MAX, "c1.%" PRIx64, (uint64_t)seq);
}

int store_cursor_decode(const char *cursor, int64_t *seq)
{
    *seq = INT64_MAX;
    if (!cursor || !*cursor) return 0;
    if (strncmp(cursor, "c1.", 3) != 0) return -1;
    const char *p = cursor + 3;
    size_t n = strlen(p);
    if (n == 0 || n > 15) return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            return -1;
        v = v * 16 + (uint64_t)d;
    }
    if (v == 0) return -1;
    *seq = (int64_t)v;
    return 0;
}

int store_clamp_limit(int limit)
{
    if (limit <= 0) return STORE_LIST_DEFAULT;
    return limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

/** The kinds of job the store knows, with the prefix of their ids. */
static const struct {
    const char *kind, *prefix;
} job_kinds[] = {{"run", "r_"}, {"analysis", "a_"}, {"training", "t_"}};

const char *store_job_kind_prefix(const char *kind)
{
    if (!kind) return "r_";
    for (size_t i = 0; i < sizeof job_kinds / sizeof *job_kinds; i++)
        if (strcmp(kind, job_kinds[i].kind) == 0) return job_kinds[i].prefix;
    return NULL;
}

int store_is_subkind(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= STORE_KIND_MAX) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

int store_shape_text(unsigned isz, int ndim, const int64_t *shape, char out[STORE_SHAPE_TEXT_MAX],
                     uint64_t *total, const char **why)
{
    size_t pos = 0;
    *total = isz;
    out[pos++] = '[';
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            *why = "negative dimension";
            return -1;
        }
        if (shape[i] > 0 && *total > (uint64_t)INT64_MAX / (uint64_t)shape[i]) {
            *why = "shape too large";
            return -1;
        }
        *total *= (uint64_t)shape[i];
        pos += (size_t)snprintf(out + pos, STORE_SHAPE_TEXT_MAX - pos, "%s%" PRId64, i ? "," : "",
                                shape[i]);
    }
    out[pos++] = ']';
    out[pos] = '\0';
    return 0;
}

store_status store_result_fill(unsigned char **buf, size_t *buf_len, size_t chunk_size,
                               const void *data, size_t n, store_chunk_write_fn write, void *ctx,
                               int *oom)
{
    const size_t cs = chunk_size;
    const unsigned char *p = data;
    store_status st;
    *oom = 0;
    while (n > 0) {
        if (*buf_len == 0 && n >= cs) { /* whole chunk straight from the caller's memory */
            if ((st = write(ctx, p, cs)) != STORE_OK) return st;
            p += cs;
            n -= cs;
            continue;
        }
        if (!*buf && !(*buf = malloc(cs))) {
            *oom = 1;
            return STORE_ERROR;
        }
        size_t take = cs - *buf_len < n ? cs - *buf_len : n;
        memcpy(*buf + *buf_len, p, take);
        *buf_len += take;
        p += take;
        n -= take;
        if (*buf_len == cs) {
            if ((st = write(ctx, *buf, cs)) != STORE_OK) return st;
            *buf_len = 0;
        }
    }
    return STORE_OK;
}

const char *store_checkpoint_check(const char *id, const void *state, size_t n, int64_t iteration,
                                   const store_curve_row *rows, size_t nrows)
{
    if (!id || !store_plain_id(id)) return "job id missing or malformed";
    if (state && (n == 0 || n > STORE_CHECKPOINT_MAX))
        return "a checkpoint must hold 1 byte to STORE_CHECKPOINT_MAX (768 MiB)";
    if (state && iteration < 0) return "a checkpoint's iteration must be >= 0";
    if (nrows > 0 && !rows) return "curve rows missing";
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].iteration < 0) return "a curve row's iteration must be >= 0";
        if (i > 0 && rows[i].iteration <= rows[i - 1].iteration)
            return "curve rows must be in strictly increasing iteration order";
    }
    return NULL;
}

int store_finish_model_args(const char *hash, const char *json, int64_t n, const char *training_id,
                            const char *run_id, char *why, size_t cap)
{
    if (!store_is_hex64(hash))
        snprintf(why, cap, "model hash must be 64 hex characters (SHA-256)");
    else if (!json)
        snprintf(why, cap, "model document missing");
    else if (n < 0)
        snprintf(why, cap, "model size N must be >= 0, not %" PRId64, n);
    else if (training_id && strcmp(training_id, run_id) != 0)
        snprintf(why, cap, "the model's training must be the finishing job %s, not %.32s", run_id,
                 training_id);
    else
        return 0;
    return -1;
}
