/**
 * @file results_stream.c
 * @brief The content reader behind result downloads: walks the selected (trial, step) rows,
 *        reading the stored bytes a piece at a time, and emits .npy bytes, JSON or CSV.
 *
 * Memory per download is small and fixed, whatever the result's size, the selection and however
 * slowly the client reads: libmicrohttpd's buffer (::STREAM_BLOCK bytes for the whole array as
 * .npy, read from the store straight into it; ::TEXT_BLOCK for JSON, CSV and slices), and for
 * sliced or text output a window of ::STREAM_WINDOW stored bytes, one piece of a row (::ROW_PIECE
 * units) and the staged output (::STAGE_TARGET plus one piece's text). A row, and the CSV
 * header, are produced a piece at a time: a wide selection never makes a large buffer. Nothing of
 * the store is held between two calls of the reader: each read is its own short transaction
 * (store_result_read()), so a download that stalls keeps no snapshot that would stop the WAL from
 * being checkpointed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_npy.h"
#include "results.h"

/** Staging target: produce text in pieces of about this size. */
#define STAGE_TARGET ((size_t)64 << 10)
/** libmicrohttpd's buffer for the whole array as .npy: what one call of the reader produces. */
#define STREAM_BLOCK ((size_t)512 << 10)
/** libmicrohttpd's buffer for JSON, CSV and sliced .npy output. */
#define TEXT_BLOCK ((size_t)64 << 10)
/** Stored bytes read at once for sliced and text output. */
#define STREAM_WINDOW ((size_t)256 << 10)
/** Most units gathered and formatted at once: a row wider than this is cut into pieces. */
#define ROW_PIECE 512
/** Most bytes one formatted value takes, with its separator (srv_format_number() writes < 32). */
#define VALUE_TEXT_MAX 34
/** Most bytes one CSV header column takes (",<var><index>"). */
#define COLUMN_TEXT_MAX 48
/** Most bytes staged for one piece of a row: the row's opening, ROW_PIECE values, its end. */
#define PIECE_TEXT_MAX (64 + (size_t)ROW_PIECE * COLUMN_TEXT_MAX)

enum { PH_HEADER = 0, PH_COLUMNS, PH_BODY, PH_FOOTER, PH_DONE };

typedef struct res_stream {
    srv *s;
    srv_req *req; /**< for the byte count; NULL once the request has ended */
    char run_id[STORE_ID_MAX];
    store_result_info info;
    srv_res_view v; /**< v.ranges is never NULL here (one range for all units) */
    size_t item;
    int f32;
    int64_t T, N;       /**< stored steps and units */
    int64_t umin, umax; /**< smallest and largest selected unit */
    int contig;         /**< the selection is one ascending range */
    /* window of stored bytes (sliced and text output only) */
    unsigned char *win;
    size_t win_cap, win_len;
    uint64_t win_off;
    /* staged output */
    char *out;
    size_t out_cap, out_len, out_pos;
    unsigned char *row; /**< raw bytes of one piece of a row (at most ROW_PIECE units) */
    /* position */
    int phase;
    int64_t b, t;
    int trial_open, row_open;
    size_t ri;  /**< range of the next unit of the open row (or CSV header) */
    int64_t uk; /**< next unit of that range */
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

/** Start walking the selected units from the first range. */
static void units_rewind(res_stream *x)
{
    x->ri = 0;
    x->uk = x->v.ranges[0].a;
}

/** The next piece of the selection: @p *u0 and @p *n units (n <= ROW_PIECE, contiguous),
 *  then advance past it. @return 0 when the selection is exhausted. */
static int units_next(res_stream *x, int64_t *u0, size_t *n)
{
    if (x->ri >= x->v.nranges) return 0;
    int64_t left = x->v.ranges[x->ri].b - x->uk;
    *u0 = x->uk;
    *n = left < ROW_PIECE ? (size_t)left : ROW_PIECE;
    x->uk += (int64_t)*n;
    if (x->uk >= x->v.ranges[x->ri].b && ++x->ri < x->v.nranges) x->uk = x->v.ranges[x->ri].a;
    return 1;
}

static double row_value(const res_stream *x, size_t k)
{
    if (x->f32) {
        float f;
        memcpy(&f, x->row + k * 4, 4);
        return (double)f;
    }
    double d;
    memcpy(&d, x->row + k * 8, 8);
    return d;
}

/** Open row (b, t): its opening text, and for a scattered selection whose span fits the window
 *  the span's stored bytes in one read, so that its pieces then come from the window. */
static int row_open(res_stream *x)
{
    uint64_t base = ((uint64_t)(x->b * x->T + x->t) * (uint64_t)x->N) * x->item;
    size_t span = (size_t)(x->umax - x->umin + 1) * x->item;
    if (!x->contig && span <= x->win_cap && !window(x, base + (uint64_t)x->umin * x->item, span))
        return -1;
    units_rewind(x);
    x->row_open = 1;
    if (x->v.fmt == SRV_FMT_JSON) return stage_str(x, x->t > x->v.s0 ? ",[" : "[");
    if (x->v.fmt == SRV_FMT_CSV) {
        char h[48];
        snprintf(h, sizeof h, "%lld,%lld", (long long)x->b, (long long)x->t);
        return stage_str(x, h);
    }
    return 0;
}

/** Stage the next piece of the open row (at most ROW_PIECE units), or close the row. */
static int row_piece(res_stream *x)
{
    int64_t u0;
    size_t n;
    int first = x->ri == 0 && x->uk == x->v.ranges[0].a; /* no unit of the row staged yet */
    if (!units_next(x, &u0, &n)) {
        x->row_open = 0;
        x->t++;
        if (x->v.fmt == SRV_FMT_JSON) return stage_str(x, "]");
        return x->v.fmt == SRV_FMT_CSV ? stage_str(x, "\n") : 0;
    }
    uint64_t base = ((uint64_t)(x->b * x->T + x->t) * (uint64_t)x->N) * x->item;
    if (get_bytes(x, base + (uint64_t)u0 * x->item, n * x->item, x->row)) return -1;
    if (x->v.fmt == SRV_FMT_NPY) return stage(x, x->row, n * x->item);
    if (stage_reserve(x, n * VALUE_TEXT_MAX)) return -1;
    char *p = x->out + x->out_len;
    int json = x->v.fmt == SRV_FMT_JSON;
    for (size_t k = 0; k < n; k++) {
        if (!json || !first || k) *p++ = ',';
        p += srv_format_number(p, row_value(x, k), x->f32, json ? "null" : "nan");
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
    units_rewind(x);
    return stage_str(x, "trial,step");
}

/** Stage the next piece of the CSV header's unit columns (",V0,V1,..."), then its newline. */
static int emit_columns(res_stream *x)
{
    int64_t u0;
    size_t n;
    if (!units_next(x, &u0, &n)) {
        x->phase = PH_BODY;
        return stage_str(x, "\n");
    }
    if (stage_reserve(x, n * COLUMN_TEXT_MAX)) return -1;
    for (size_t k = 0; k < n; k++)
        x->out_len += (size_t)snprintf(x->out + x->out_len, COLUMN_TEXT_MAX, ",%s%lld", x->info.var,
                                       (long long)(u0 + (int64_t)k));
    return 0;
}

/** Stage the next piece of output: about STAGE_TARGET bytes (at most STAGE_TARGET plus one
 *  piece of a row, PIECE_TEXT_MAX), never a whole row of a wide selection at once. */
static int fill(res_stream *x)
{
    x->out_len = x->out_pos = 0;
    if (x->phase == PH_HEADER) {
        x->phase = x->v.fmt == SRV_FMT_CSV ? PH_COLUMNS : PH_BODY;
        x->b = x->v.t0;
        x->t = x->v.s0;
        if (emit_header(x)) return -1;
        if (x->v.full) return 0; /* the body is the raw copy of res_read() */
    }
    while (x->phase == PH_COLUMNS && x->out_len < STAGE_TARGET)
        if (emit_columns(x)) return -1;
    while (x->phase == PH_BODY && x->out_len < STAGE_TARGET) {
        if (x->b >= x->v.t1) {
            x->phase = PH_FOOTER;
            break;
        }
        int json = x->v.fmt == SRV_FMT_JSON;
        if (json && !x->trial_open) {
            if (stage_str(x, x->b > x->v.t0 ? ",[" : "[")) return -1;
            x->trial_open = 1;
        }
        if (x->row_open) {
            if (row_piece(x)) return -1;
            continue;
        }
        if (x->t < x->v.s1) {
            if (row_open(x)) return -1;
            continue;
        }
        if (json && stage_str(x, "]")) return -1;
        x->trial_open = 0;
        x->b++;
        x->t = x->v.s0;
    }
    if (x->phase == PH_FOOTER && x->out_len < STAGE_TARGET) {
        x->phase = PH_DONE;
        return x->v.fmt == SRV_FMT_JSON ? stage_str(x, "]") : 0;
    }
    return 0;
}

static ssize_t res_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    res_stream *x = cls;
    if (pos != x->produced) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = 0;
    while (n < max) {
        if (x->out_pos < x->out_len) {
            n += srv_stage_drain(x->out, x->out_len, &x->out_pos, buf + n, max - n);
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
    free(x->v.ranges);
    free(x);
}

/** Copy the selection of @p v into @p x (one range [0, N) for all units) and note its span and
 *  whether it is one ascending range. @return 0, or -1 when out of memory. */
static int copy_selection(res_stream *x, const srv_res_view *v)
{
    size_t nr = v->ranges ? v->nranges : 1;
    x->v.ranges = malloc(nr * sizeof *x->v.ranges);
    if (!x->v.ranges) return -1;
    if (v->ranges)
        memcpy(x->v.ranges, v->ranges, nr * sizeof *v->ranges);
    else
        x->v.ranges[0] = (srv_unit_range){0, x->N};
    x->v.nranges = nr;
    x->contig = 1;
    x->umin = x->v.ranges[0].a;
    x->umax = x->v.ranges[0].b - 1;
    for (size_t k = 1; k < nr; k++) {
        if (x->v.ranges[k].a != x->v.ranges[k - 1].b) x->contig = 0;
        if (x->v.ranges[k].a < x->umin) x->umin = x->v.ranges[k].a;
        if (x->v.ranges[k].b - 1 > x->umax) x->umax = x->v.ranges[k].b - 1;
    }
    return 0;
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
    x->v.ranges = NULL;
    x->f32 = strcmp(info->dtype, "float32") == 0;
    x->item = x->f32 ? 4 : 8;
    x->T = info->shape[1];
    x->N = info->shape[2];
    if (v->fmt != SRV_FMT_NPY) x->v.full = 0;
    int raw = x->v.full; /* the stored bytes as they are: straight into libmicrohttpd's buffer */
    /* The buffers the stream needs, now, all of a fixed size: out of memory is then a 503
     * rather than a connection cut off after its 200. A raw copy stages only the .npy header. */
    if (!raw) {
        x->win_cap = info->total_bytes < STREAM_WINDOW ? (size_t)info->total_bytes : STREAM_WINDOW;
        if (x->win_cap == 0) x->win_cap = 1;
    }
    if (copy_selection(x, v) || !(x->row = malloc((size_t)ROW_PIECE * 8)) ||
        (x->win_cap && !(x->win = malloc(x->win_cap))) ||
        stage_reserve(x, raw ? EIR_NPY_HEADER_MAX : STAGE_TARGET + PIECE_TEXT_MAX)) {
        res_free(x);
        return NULL;
    }
    uint64_t total = MHD_SIZE_UNKNOWN;
    size_t block = TEXT_BLOCK;
    if (v->fmt == SRV_FMT_NPY) {
        char h[EIR_NPY_HEADER_MAX];
        int64_t shape[3] = {v->t1 - v->t0, v->s1 - v->s0, v->nu};
        size_t hl = eir_npy_header(x->f32 ? EIR_NPY_F4 : EIR_NPY_F8, 3, shape, h, sizeof h);
        total = hl + (uint64_t)shape[0] * (uint64_t)shape[1] * (uint64_t)shape[2] * x->item;
        /* MHD's buffer: large for the raw copy (the store's bytes are read straight into it),
         * the text size for a slice (staged a piece at a time like text anyway). */
        size_t cap = raw ? STREAM_BLOCK : TEXT_BLOCK;
        block = total < cap ? (size_t)total : cap;
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
