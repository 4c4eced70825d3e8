/**
 * @file results_stream.c
 * @brief The content reader behind result downloads: walks the selected (trial, step) rows,
 *        fetching stored chunks one at a time, and emits .npy bytes, JSON or CSV.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_npy.h"
#include "results.h"

/** Staging target: produce text in pieces of about this size. */
#define STAGE_TARGET ((size_t)64 << 10)

enum { PH_HEADER = 0, PH_BODY, PH_FOOTER, PH_DONE };

typedef struct res_stream {
    srv *s;
    srv_req *req; /**< for the byte count; NULL once the request has ended */
    char run_id[STORE_ID_MAX];
    store_result_info info;
    srv_res_view v;
    size_t item;
    int f32;
    int64_t T, N; /**< stored steps and units */
    int64_t u0;   /**< first unit when the selection is one contiguous ascending range */
    int contig;
    /* chunk cache */
    unsigned char *chunk;
    size_t chunk_len;
    int64_t chunk_idx;
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
    size_t cap = x->out_cap ? x->out_cap : STAGE_TARGET * 2;
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

/**
 * Bytes the chunk buffer needs: the stored chunk size, or the whole result when it is smaller
 * (a result of one short chunk must not cost a download the full chunk size: with hundreds of
 * downloads in flight those blocks are what grows the daemon's heap).
 */
static size_t chunk_cap(const res_stream *x)
{
    uint64_t cap = x->info.chunk_size;
    if (x->info.total_bytes < cap) cap = x->info.total_bytes;
    return cap > 0 ? (size_t)cap : 1;
}

/** Copy @p len stored data bytes at offset @p off to @p dst, reading chunks as needed. */
static int get_bytes(res_stream *x, uint64_t off, size_t len, void *dst)
{
    unsigned char *d = dst;
    uint64_t cs = x->info.chunk_size;
    while (len > 0) {
        int64_t idx = (int64_t)(off / cs);
        if (idx != x->chunk_idx) {
            if (!x->chunk && !(x->chunk = malloc(chunk_cap(x)))) return -1;
            store_conn *c = srv_thread_conn(x->s);
            if (!c || store_result_read_chunk(c, x->run_id, x->info.var, idx, x->chunk,
                                              chunk_cap(x), &x->chunk_len) != STORE_OK) {
                x->chunk_idx = -1;
                return -1;
            }
            x->chunk_idx = idx;
        }
        uint64_t in = off - (uint64_t)idx * cs;
        if (in >= x->chunk_len) return -1;
        size_t n = x->chunk_len - (size_t)in < len ? x->chunk_len - (size_t)in : len;
        memcpy(d, x->chunk + in, n);
        d += n;
        off += n;
        len -= n;
    }
    return 0;
}

/** Raw bytes of the selected units of row (b, t) into x->row. */
static int gather_row(res_stream *x, int64_t b, int64_t t)
{
    uint64_t base = ((uint64_t)(b * x->T + t) * (uint64_t)x->N) * x->item;
    if (x->contig)
        return get_bytes(x, base + (uint64_t)x->u0 * x->item, (size_t)x->v.nu * x->item, x->row);
    for (int64_t k = 0; k < x->v.nu; k++)
        if (get_bytes(x, base + (uint64_t)x->v.units[k] * x->item, x->item,
                      x->row + (size_t)k * x->item))
            return -1;
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
            /* Raw copy of the stored bytes, chunk by chunk. */
            uint64_t left = x->info.total_bytes - x->data_off;
            if (left == 0) {
                x->phase = PH_DONE;
                continue;
            }
            size_t k = left < max - n ? (size_t)left : max - n;
            if (get_bytes(x, x->data_off, k, buf + n)) return MHD_CONTENT_READER_END_WITH_ERROR;
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
    free(x->chunk);
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
    x->chunk_idx = -1;
    x->contig = 1;
    x->u0 = 0;
    if (v->units) {
        x->v.units = malloc((size_t)v->nu * sizeof *v->units);
        if (!x->v.units) {
            free(x);
            return NULL;
        }
        memcpy(x->v.units, v->units, (size_t)v->nu * sizeof *v->units);
        x->u0 = v->units[0];
        for (int64_t k = 1; k < v->nu; k++)
            if (v->units[k] != v->units[k - 1] + 1) x->contig = 0;
    }
    x->row = malloc(v->nu > 0 ? (size_t)v->nu * x->item : 1);
    if (!x->row) {
        free(x->v.units);
        free(x);
        return NULL;
    }
    /* The buffers the stream needs, now: out of memory is then a 503 rather than a connection
     * cut off after its 200. */
    if (!(x->chunk = malloc(chunk_cap(x))) || stage_reserve(x, STAGE_TARGET * 2)) {
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
        block = total < ((uint64_t)1 << 20) ? (size_t)total : (size_t)1 << 20; /* MHD's buffer */
    } else {
        x->v.full = 0;
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
