/**
 * @file results_stream.c
 * @brief The content reader behind result downloads: walks the selected (trial, step) rows,
 *        reading the stored bytes a piece at a time, and emits .npy bytes, JSON or CSV.
 *
 * Memory per download is small and fixed, whatever the result's size and however slowly the
 * client reads: libmicrohttpd's buffer of ::STREAM_BLOCK bytes (the whole array as .npy is read
 * from the store straight into it), and for sliced or text output a window of
 * ::STREAM_WINDOW stored bytes and the staged output. Nothing of the store is held between two
 * calls of the reader: each read is its own short transaction (store_result_read()), so a
 * download that stalls keeps no snapshot that would stop the WAL from being checkpointed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_npy.h"
#include "results.h"

/** Staging target: produce text in pieces of about this size. */
#define STAGE_TARGET ((size_t)64 << 10)
/** libmicrohttpd's buffer for .npy output: what one call of the reader produces. */
#define STREAM_BLOCK ((size_t)512 << 10)
/** Stored bytes read at once for sliced and text output. */
#define STREAM_WINDOW ((size_t)256 << 10)

enum { PH_HEADER = 0, PH_BODY, PH_FOOTER, PH_DONE };

typedef struct res_stream {
    srv *s;
    srv_req *req; /**< for the byte count; NULL once the request has ended */
    char run_id[STORE_ID_MAX];
    store_result_info info;
    srv_res_view v;
    size_t item;
    int f32;
    int64_t T, N;       /**< stored steps and units */
    int64_t u0;         /**< first unit when the selection is one contiguous ascending range */
    int64_t umin, umax; /**< smallest and largest selected unit */
    int contig;
    /* window of stored bytes (sliced and text output only) */
    unsigned char *win;
    size_t win_cap, win_len;
    uint64_t win_off;
    /* staged output */
    char *out;
    size_t out_cap, out_len, out_pos;
    unsigned char *row; /**< raw bytes of the selected units of one row */
    /* position */
    int phase;
    int64_t b, t;
    int trial_open;
    uint64_t produced;
    uint64_t data_off; /**< raw copy: next data byte */
} res_stream;

int srv_format_number(char *buf, double v, int f32, const char *nan_text)
{
    if (!isfinite(v)) {
        const char *t = strcmp(nan_text, "null") == 0 ? "null"
                        : isnan(v)                    ? nan_text
                        : v > 0                       ? "inf"
                                                      : "-inf";
        return snprintf(buf, 32, "%s", t);
    }
    int n = 0;
    if (f32) {
        float f = (float)v;
        for (int p = 6; p <= 9; p++) {
            n = snprintf(buf, 32, "%.*g", p, (double)f);
            if (strtof(buf, NULL) == f) break;
        }
    } else {
        for (int p = 15; p <= 17; p++) {
            n = snprintf(buf, 32, "%.*g", p, v);
            if (strtod(buf, NULL) == v) break;
        }
    }
    return n;
}

static int stage_reserve(res_stream *x, size_t more)
{
    if (x->out_len + more <= x->out_cap) return 0;
    size_t cap = x->out_cap ? x->out_cap : 256;
    while (cap < x->out_len + more)
        cap *= 2;
    char *p = realloc(x->out, cap);
    if (!p) return -1;
    x->out = p;
    x->out_cap = cap;
    return 0;
}

static int stage(res_stream *x, const void *data, size_t n)
{
    if (stage_reserve(x, n)) return -1;
    memcpy(x->out + x->out_len, data, n);
    x->out_len += n;
    return 0;
}

static int stage_str(res_stream *x, const char *s)
{
    return stage(x, s, strlen(s));
}

/** Read @p len stored bytes at @p off straight into @p dst (one short store read). */
static int read_stored(res_stream *x, uint64_t off, size_t len, void *dst)
{
    store_conn *c = srv_thread_conn(x->s);
    return c && store_result_read(c, x->run_id, x->info.var, off, dst, len) == STORE_OK ? 0 : -1;
}

/** The stored bytes [off, off + len) from the window, refilled from @p off when they are not
 *  all in it; NULL on a read failure. @p len must not exceed the window's capacity. */
static const unsigned char *window(res_stream *x, uint64_t off, size_t len)
{
    if (off < x->win_off || off + len > x->win_off + x->win_len) {
        uint64_t left = x->info.total_bytes - off;
        size_t n = left < x->win_cap ? (size_t)left : x->win_cap;
        x->win_len = 0;
        if (n < len || read_stored(x, off, n, x->win)) return NULL;
        x->win_off = off;
        x->win_len = n;
    }
    return x->win + (off - x->win_off);
}

/** Copy @p len stored bytes at offset @p off to @p dst, through the window when they fit. */
static int get_bytes(res_stream *x, uint64_t off, size_t len, void *dst)
{
    if (len > x->win_cap) return read_stored(x, off, len, dst);
    const unsigned char *p = window(x, off, len);
    if (!p) return -1;
    memcpy(dst, p, len);
    return 0;
}

/** Raw bytes of the selected units of row (b, t) into x->row. */
static int gather_row(res_stream *x, int64_t b, int64_t t)
{
    uint64_t base = ((uint64_t)(b * x->T + t) * (uint64_t)x->N) * x->item;
    if (x->contig)
        return get_bytes(x, base + (uint64_t)x->u0 * x->item, (size_t)x->v.nu * x->item, x->row);
    /* Any order, repeats allowed: the span of the selection in one window read when it fits. */
    size_t span = (size_t)(x->umax - x->umin + 1) * x->item;
    const unsigned char *p =
        span <= x->win_cap ? window(x, base + (uint64_t)x->umin * x->item, span) : NULL;
    if (span <= x->win_cap && !p) return -1;
    for (int64_t k = 0; k < x->v.nu; k++) {
        unsigned char *d = x->row + (size_t)k * x->item;
        if (p)
            memcpy(d, p + (size_t)(x->v.units[k] - x->umin) * x->item, x->item);
        else if (get_bytes(x, base + (uint64_t)x->v.units[k] * x->item, x->item, d))
            return -1;
    }
    return 0;
}

static double row_value(const res_stream *x, int64_t k)
{
    if (x->f32) {
        float f;
        memcpy(&f, x->row + (size_t)k * 4, 4);
        return (double)f;
    }
    double d;
    memcpy(&d, x->row + (size_t)k * 8, 8);
    return d;
}

/** Stage one row in the output format. */
static int emit_row(res_stream *x, int64_t b, int64_t t)
{
    if (gather_row(x, b, t)) return -1;
    size_t nu = (size_t)x->v.nu;
    if (x->v.fmt == SRV_FMT_NPY) return stage(x, x->row, nu * x->item);
    if (stage_reserve(x, 48 + nu * 34)) return -1;
    char *p = x->out + x->out_len;
    if (x->v.fmt == SRV_FMT_JSON) {
        if (t > x->v.s0) *p++ = ',';
        *p++ = '[';
        for (size_t k = 0; k < nu; k++) {
            if (k) *p++ = ',';
            p += srv_format_number(p, row_value(x, (int64_t)k), x->f32, "null");
        }
        *p++ = ']';
    } else {
        p += sprintf(p, "%lld,%lld", (long long)b, (long long)t);
        for (size_t k = 0; k < nu; k++) {
            *p++ = ',';
            p += srv_format_number(p, row_value(x, (int64_t)k), x->f32, "nan");
        }
        *p++ = '\n';
    }
    x->out_len = (size_t)(p - x->out);
    return 0;
}

static int emit_header(res_stream *x)
{
    if (x->v.fmt == SRV_FMT_NPY) {
        char h[EIR_NPY_HEADER_MAX];
        int64_t shape[3] = {x->v.t1 - x->v.t0, x->v.s1 - x->v.s0, x->v.nu};
        size_t n = eir_npy_header(x->f32 ? EIR_NPY_F4 : EIR_NPY_F8, 3, shape, h, sizeof h);
        return n ? stage(x, h, n) : -1;
    }
    if (x->v.fmt == SRV_FMT_JSON) return stage_str(x, "[");
    if (stage_str(x, "trial,step")) return -1;
    for (int64_t k = 0; k < x->v.nu; k++) {
        char col[48];
        int64_t u = x->v.units ? x->v.units[k] : k;
        snprintf(col, sizeof col, ",%s%lld", x->info.var, (long long)u);
        if (stage_str(x, col)) return -1;
    }
    return stage_str(x, "\n");
}

/** Stage the next piece of output. */
static int fill(res_stream *x)
{
    x->out_len = x->out_pos = 0;
    switch (x->phase) {
    case PH_HEADER:
        x->phase = PH_BODY;
        x->b = x->v.t0;
        x->t = x->v.s0;
        return emit_header(x);
    case PH_BODY:
        while (x->out_len < STAGE_TARGET) {
            if (x->b >= x->v.t1) {
                x->phase = PH_FOOTER;
                break;
            }
            int json = x->v.fmt == SRV_FMT_JSON;
            if (json && !x->trial_open) {
                if (stage_str(x, x->b > x->v.t0 ? ",[" : "[")) return -1;
                x->trial_open = 1;
            }
            if (x->t < x->v.s1) {
                if (emit_row(x, x->b, x->t)) return -1;
                x->t++;
                continue;
            }
            if (json && stage_str(x, "]")) return -1;
            x->trial_open = 0;
            x->b++;
            x->t = x->v.s0;
        }
        return 0;
    case PH_FOOTER:
        x->phase = PH_DONE;
        return x->v.fmt == SRV_FMT_JSON ? stage_str(x, "]") : 0;
    default:
        return 0;
    }
}

static ssize_t res_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    res_stream *x = cls;
    if (pos != x->produced) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = 0;
    while (n < max) {
        if (x->out_pos < x->out_len) {
            size_t k = x->out_len - x->out_pos < max - n ? x->out_len - x->out_pos : max - n;
            memcpy(buf + n, x->out + x->out_pos, k);
            x->out_pos += k;
            n += k;
            continue;
        }
        if (x->phase == PH_DONE) break;
        if (x->v.full && x->phase == PH_BODY) {
            /* Raw copy of the stored bytes, straight into libmicrohttpd's buffer. */
            uint64_t left = x->info.total_bytes - x->data_off;
            if (left == 0) {
                x->phase = PH_DONE;
                continue;
            }
            size_t k = left < max - n ? (size_t)left : max - n;
            if (read_stored(x, x->data_off, k, buf + n)) return MHD_CONTENT_READER_END_WITH_ERROR;
            x->data_off += k;
            n += k;
            continue;
        }
        if (fill(x)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == 0 && x->phase == PH_DONE) return MHD_CONTENT_READER_END_OF_STREAM;
    x->produced += n;
    if (x->req) x->req->bytes = x->produced;
    return (ssize_t)n;
}

static void res_detach(void *ctx)
{
    res_stream *x = ctx;
    x->req = NULL;
}

static void res_free(void *cls)
{
    res_stream *x = cls;
    if (x->req && x->req->detach_ctx == x) {
        x->req->detach = NULL;
        x->req->detach_ctx = NULL;
    }
    free(x->win);
    free(x->out);
    free(x->row);
    free(x->v.units);
    free(x);
}

struct MHD_Response *srv_result_response(srv_req *r, const char *run_id,
                                         const store_result_info *info, const srv_res_view *v)
{
    res_stream *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->s = r->s;
    x->req = r;
    snprintf(x->run_id, sizeof x->run_id, "%s", run_id);
    x->info = *info;
    x->v = *v;
    x->v.units = NULL;
    x->f32 = strcmp(info->dtype, "float32") == 0;
    x->item = x->f32 ? 4 : 8;
    x->T = info->shape[1];
    x->N = info->shape[2];
    x->contig = 1;
    x->u0 = 0;
    x->umin = 0;
    x->umax = x->N - 1;
    if (v->units) {
        x->v.units = malloc((size_t)v->nu * sizeof *v->units);
        if (!x->v.units) {
            free(x);
            return NULL;
        }
        memcpy(x->v.units, v->units, (size_t)v->nu * sizeof *v->units);
        x->u0 = x->umin = x->umax = v->units[0];
        for (int64_t k = 1; k < v->nu; k++) {
            if (v->units[k] != v->units[k - 1] + 1) x->contig = 0;
            if (v->units[k] < x->umin) x->umin = v->units[k];
            if (v->units[k] > x->umax) x->umax = v->units[k];
        }
    }
    if (v->fmt != SRV_FMT_NPY) x->v.full = 0;
    int raw = x->v.full; /* the stored bytes as they are: straight into libmicrohttpd's buffer */
    x->row = malloc(v->nu > 0 ? (size_t)v->nu * x->item : 1);
    if (!x->row) {
        free(x->v.units);
        free(x);
        return NULL;
    }
    /* The buffers the stream needs, now: out of memory is then a 503 rather than a connection
     * cut off after its 200. A raw copy stages only the .npy header. */
    if (!raw) {
        x->win_cap = info->total_bytes < STREAM_WINDOW ? (size_t)info->total_bytes : STREAM_WINDOW;
        if (x->win_cap == 0) x->win_cap = 1;
    }
    if ((x->win_cap && !(x->win = malloc(x->win_cap))) ||
        stage_reserve(x, raw ? EIR_NPY_HEADER_MAX : STAGE_TARGET * 2)) {
        res_free(x);
        return NULL;
    }
    uint64_t total = MHD_SIZE_UNKNOWN;
    size_t block = (size_t)64 << 10;
    if (v->fmt == SRV_FMT_NPY) {
        char h[EIR_NPY_HEADER_MAX];
        int64_t shape[3] = {v->t1 - v->t0, v->s1 - v->s0, v->nu};
        size_t hl = eir_npy_header(x->f32 ? EIR_NPY_F4 : EIR_NPY_F8, 3, shape, h, sizeof h);
        total = hl + (uint64_t)shape[0] * (uint64_t)shape[1] * (uint64_t)shape[2] * x->item;
        block = total < STREAM_BLOCK ? (size_t)total : STREAM_BLOCK; /* MHD's buffer */
        if (block == 0) block = 1;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(total, block, &res_read, x, &res_free);
    if (!resp) {
        res_free(x);
        return NULL;
    }
    r->detach = res_detach;
    r->detach_ctx = x;
    r->bytes = 0;
    return resp;
}
