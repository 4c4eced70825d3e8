/**
 * @file array_stream.c
 * @brief srv_array_response(): any 1-3-D array (float64, float32, complex128, int32, int64) as
 *        .npy, JSON or CSV, read a window at a time from its source.
 *
 * Memory per download is fixed whatever the array's size and the client's pace: the .npy body
 * is read by the source straight into libmicrohttpd's buffer (::NPY_BLOCK); JSON and CSV read a
 * window of ::WINDOW bytes of values and stage about ::STAGE_TARGET bytes of text at a time (one
 * value, one CSV index prefix or one header column past it at most). The conventions are those of
 * run results (results_stream.c): numbers by srv_format_number(), non-finite values null in JSON
 * and nan/inf/-inf in CSV; complex values [re, im] in JSON and two columns in CSV.
 *
 * CSV layout (docs/FORMAT.md "Arrays served by eirnnd"): a 1-D array is one column named after
 * the array, a line per element; a 2-D array [a, b] has a header `i,<name>0,...,<name>{b-1}` and a
 * line per row i; a 3-D array [a, b, c] the header `i,j,<name>0,...` and a line per (i, j).
 * A complex column <col> is the two columns <col>_re,<col>_im.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_stream_int.h"
#include "eir_npy.h"

/** Staging target for text: produce about this much per refill. */
#define STAGE_TARGET ((size_t)64 << 10)
/** Most text one step of the text producers stages past STAGE_TARGET (a complex value with
 *  JSON brackets, a CSV index prefix, or one complex header column with a 63-byte name). */
#define STEP_TEXT_MAX ((size_t)256)
/** Bytes of values read from the source at once for text output. */
#define WINDOW ((size_t)64 << 10)
/** libmicrohttpd's buffer for .npy (the source reads straight into it). */
#define NPY_BLOCK ((size_t)256 << 10)
/** libmicrohttpd's buffer for JSON and CSV. */
#define TEXT_BLOCK ((size_t)64 << 10)
/** Longest array name (with its NUL). */
#define NAME_MAX_LEN 64

typedef enum { DT_F8, DT_F4, DT_C16, DT_I4, DT_I8 } arr_dtype;

static const struct {
    const char *name;
    arr_dtype dt;
    eir_npy_dtype npy;
    size_t item;
} dtypes[] = {{"float64", DT_F8, EIR_NPY_F8, 8},
              {"float32", DT_F4, EIR_NPY_F4, 4},
              {"complex128", DT_C16, EIR_NPY_C16, 16},
              {"int32", DT_I4, EIR_NPY_I4, 4},
              {"int64", DT_I8, EIR_NPY_I8, 8}};

enum { PH_HEAD = 0, PH_COLUMNS, PH_BODY, PH_TAIL, PH_DONE };

struct srv_array_stream {
    srv_req *req; /**< for the byte count; NULL once the request has ended (or in tests) */
    srv_array_source src;
    char name[NAME_MAX_LEN];
    arr_dtype dt;
    eir_npy_dtype npy;
    size_t item;
    srv_res_fmt fmt;
    uint64_t count; /**< elements */
    uint64_t produced;
    int phase;
    /* .npy: bytes of data copied so far */
    uint64_t data_off;
    /* text: values window */
    unsigned char *win;
    uint64_t win_first, win_n; /**< elements [win_first, win_first + win_n) are in win */
    /* text: staged output */
    char *out;
    size_t out_len, out_pos;
    /* JSON walk: the shape walked (for an empty array, the axes before its first zero, each
     * leaf an empty list), its element count and the next element */
    int jnd;
    uint64_t jcount, k;
    int json_empty_leaf;
    /* CSV walk: rows (all axes but the last; a 1-D array's elements), columns, position */
    uint64_t rows, cols, row, col;
    int row_started;
    int64_t hcol; /**< next header column (-1: the index columns) */
};

size_t srv_array_itemsize(const char *dtype)
{
    for (size_t i = 0; dtype && i < sizeof dtypes / sizeof *dtypes; i++)
        if (strcmp(dtype, dtypes[i].name) == 0) return dtypes[i].item;
    return 0;
}

/** Append @p s to the staged output (the caller made sure STEP_TEXT_MAX is free). */
static void put(srv_array_stream *x, const char *s)
{
    size_t n = strlen(s);
    memcpy(x->out + x->out_len, s, n);
    x->out_len += n;
}

static void put_repeat(srv_array_stream *x, char c, int n)
{
    for (int i = 0; i < n; i++)
        x->out[x->out_len++] = c;
}

/** Value @p k as text into the staged output: a JSON value or the CSV field(s). Reads the
 *  window forward when @p k is past it. @return 0, or -1 when the source fails. */
static int put_value(srv_array_stream *x, uint64_t k)
{
    if (k >= x->win_first + x->win_n) {
        uint64_t left = x->count - k, per = WINDOW / x->item;
        uint64_t n = left < per ? left : per;
        x->win_n = 0;
        if (x->src.read(x->src.ctx, k * x->item, x->win, (size_t)(n * x->item))) return -1;
        x->win_first = k;
        x->win_n = n;
    }
    const unsigned char *p = x->win + (k - x->win_first) * x->item;
    int json = x->fmt == SRV_FMT_JSON;
    const char *nan_text = json ? "null" : "nan";
    char *o = x->out + x->out_len;
    switch (x->dt) {
    case DT_F8: {
        double d;
        memcpy(&d, p, 8);
        o += srv_format_number(o, d, 0, nan_text);
        break;
    }
    case DT_F4: {
        float f;
        memcpy(&f, p, 4);
        o += srv_format_number(o, (double)f, 1, nan_text);
        break;
    }
    case DT_C16: {
        double re, im;
        memcpy(&re, p, 8);
        memcpy(&im, p + 8, 8);
        if (json) *o++ = '[';
        o += srv_format_number(o, re, 0, nan_text);
        *o++ = ',';
        o += srv_format_number(o, im, 0, nan_text);
        if (json) *o++ = ']';
        break;
    }
    case DT_I4: {
        int32_t v;
        memcpy(&v, p, 4);
        o += snprintf(o, 16, "%ld", (long)v);
        break;
    }
    case DT_I8: {
        int64_t v;
        memcpy(&v, p, 8);
        o += snprintf(o, 24, "%lld", (long long)v);
        break;
    }
    }
    x->out_len = (size_t)(o - x->out);
    return 0;
}

/** Stage the next piece of JSON. */
static int fill_json(srv_array_stream *x)
{
    const int64_t *d = x->src.shape;
    if (x->phase == PH_HEAD) {
        put_repeat(x, '[', x->jnd);
        x->phase = PH_BODY;
    }
    while (x->phase == PH_BODY && x->out_len < STAGE_TARGET) {
        if (x->k >= x->jcount) {
            x->phase = PH_TAIL;
            break;
        }
        if (x->k > 0) {
            /* Close the lists that end at element k, separate, open as many again. */
            int c = 0;
            uint64_t span = 1;
            for (int a = x->jnd - 1; a >= 1; a--) {
                span *= (uint64_t)d[a];
                if (x->k % span) break;
                c++;
            }
            put_repeat(x, ']', c);
            put(x, ",");
            put_repeat(x, '[', c);
        }
        if (x->json_empty_leaf)
            put(x, "[]");
        else if (put_value(x, x->k))
            return -1;
        x->k++;
    }
    if (x->phase == PH_TAIL) {
        put_repeat(x, ']', x->jnd);
        x->phase = PH_DONE;
    }
    return 0;
}

/** Stage the next header column of the CSV (the index columns first), or end the header. */
static void csv_column(srv_array_stream *x)
{
    char col[NAME_MAX_LEN + 24];
    int nd = x->src.ndim;
    if (x->hcol < 0) {
        x->hcol = 0;
        if (nd == 1) {
            snprintf(col, sizeof col, "%s", x->name);
            if (x->dt == DT_C16) {
                put(x, col), put(x, "_re,"), put(x, col), put(x, "_im");
            } else {
                put(x, col);
            }
            x->hcol = 1; /* the one column */
        } else {
            put(x, nd == 2 ? "i" : "i,j");
        }
        return;
    }
    if (nd == 1 || (uint64_t)x->hcol >= x->cols) {
        put(x, "\n");
        x->phase = PH_BODY;
        return;
    }
    snprintf(col, sizeof col, "%s%lld", x->name, (long long)x->hcol);
    put(x, ",");
    put(x, col);
    if (x->dt == DT_C16) put(x, "_re,"), put(x, col), put(x, "_im");
    x->hcol++;
}

/** Stage the next piece of CSV. */
static int fill_csv(srv_array_stream *x)
{
    int nd = x->src.ndim;
    if (x->phase == PH_HEAD) {
        x->hcol = -1;
        x->phase = PH_COLUMNS;
    }
    while (x->phase == PH_COLUMNS && x->out_len < STAGE_TARGET)
        csv_column(x);
    while (x->phase == PH_BODY && x->out_len < STAGE_TARGET) {
        if (x->row >= x->rows) {
            x->phase = PH_DONE;
            break;
        }
        if (!x->row_started) {
            x->row_started = 1;
            char idx[48];
            if (nd == 2) {
                snprintf(idx, sizeof idx, "%llu", (unsigned long long)x->row);
                put(x, idx);
            } else if (nd == 3) {
                uint64_t b = (uint64_t)x->src.shape[1];
                snprintf(idx, sizeof idx, "%llu,%llu", (unsigned long long)(x->row / b),
                         (unsigned long long)(x->row % b));
                put(x, idx);
            }
        }
        if (x->col < x->cols) {
            if (nd > 1) put(x, ",");
            if (put_value(x, x->row * x->cols + x->col)) return -1;
            x->col++;
        } else {
            put(x, "\n");
            x->row++;
            x->col = 0;
            x->row_started = 0;
        }
    }
    return 0;
}

ssize_t srv_array_stream_read(srv_array_stream *x, uint64_t pos, char *buf, size_t max)
{
    if (pos != x->produced) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = 0;
    while (n < max) {
        if (x->out_pos < x->out_len) {
            n += srv_stage_drain(x->out, x->out_len, &x->out_pos, buf + n, max - n);
            continue;
        }
        if (x->phase == PH_DONE) break;
        x->out_len = x->out_pos = 0;
        if (x->fmt == SRV_FMT_NPY) {
            if (x->phase == PH_HEAD) {
                x->out_len =
                    eir_npy_header(x->npy, x->src.ndim, x->src.shape, x->out, EIR_NPY_HEADER_MAX);
                x->phase = PH_BODY;
                continue;
            }
            /* The data, read by the source straight into libmicrohttpd's buffer. */
            uint64_t left = x->count * x->item - x->data_off;
            if (left == 0) {
                x->phase = PH_DONE;
                continue;
            }
            size_t k = left < max - n ? (size_t)left : max - n;
            if (x->src.read(x->src.ctx, x->data_off, buf + n, k))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            x->data_off += k;
            n += k;
            continue;
        }
        if ((x->fmt == SRV_FMT_JSON ? fill_json(x) : fill_csv(x)) != 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == 0 && x->phase == PH_DONE) return MHD_CONTENT_READER_END_OF_STREAM;
    x->produced += n;
    if (x->req) x->req->bytes = x->produced;
    return (ssize_t)n;
}

void srv_array_stream_close(srv_array_stream *x)
{
    if (!x) return;
    if (x->req && x->req->detach_ctx == x) {
        x->req->detach = NULL;
        x->req->detach_ctx = NULL;
    }
    if (x->src.free_ctx) x->src.free_ctx(x->src.ctx);
    free(x->win);
    free(x->out);
    free(x);
}

/** Element count of @p src into @p *count; -1 when a dimension is negative or the byte count
 *  of the array (at most 16 bytes an element) would overflow. */
static int shape_count(const srv_array_source *src, uint64_t *count)
{
    uint64_t c = 1;
    for (int a = 0; a < src->ndim; a++) {
        if (src->shape[a] < 0) return -1;
        uint64_t s = (uint64_t)src->shape[a];
        if (s && c > UINT64_MAX / 16 / s) return -1;
        c *= s;
    }
    *count = c;
    return 0;
}

/** Set up the JSON and CSV walks of @p x. */
static void plan_text(srv_array_stream *x)
{
    int nd = x->src.ndim;
    const int64_t *d = x->src.shape;
    x->jnd = nd;
    x->jcount = x->count;
    if (x->count == 0) {
        /* The lists down to the first empty axis, each leaf "[]": (2, 0) is [[],[]]. */
        int z = 0;
        while (d[z] != 0)
            z++;
        x->jnd = z > 0 ? z : 1;
        x->jcount = 1;
        for (int a = 0; a < z; a++)
            x->jcount *= (uint64_t)d[a];
        if (z == 0) x->jcount = 0; /* [] */
        x->json_empty_leaf = 1;
    }
    if (nd == 1) {
        x->rows = (uint64_t)d[0];
        x->cols = 1;
    } else {
        x->rows = 1;
        for (int a = 0; a < nd - 1; a++)
            x->rows *= (uint64_t)d[a];
        x->cols = (uint64_t)d[nd - 1];
    }
}

srv_array_stream *srv_array_stream_open(const srv_array_source *src, srv_res_fmt fmt,
                                        uint64_t *total, size_t *block)
{
    srv_array_stream *x = calloc(1, sizeof *x);
    size_t di = 0;
    while (di < sizeof dtypes / sizeof *dtypes && src->dtype &&
           strcmp(src->dtype, dtypes[di].name) != 0)
        di++;
    int ok = x && di < sizeof dtypes / sizeof *dtypes && src->ndim >= 1 && src->ndim <= 3 &&
             src->read && src->name && strlen(src->name) < NAME_MAX_LEN &&
             (fmt == SRV_FMT_NPY || fmt == SRV_FMT_JSON || fmt == SRV_FMT_CSV);
    if (ok) {
        x->src = *src;
        ok = shape_count(src, &x->count) == 0;
    }
    if (ok) {
        snprintf(x->name, sizeof x->name, "%s", src->name);
        x->src.name = x->name;
        x->src.dtype = dtypes[di].name;
        x->dt = dtypes[di].dt;
        x->npy = dtypes[di].npy;
        x->item = dtypes[di].item;
        x->fmt = fmt;
        plan_text(x);
        x->out = malloc(fmt == SRV_FMT_NPY ? EIR_NPY_HEADER_MAX : STAGE_TARGET + STEP_TEXT_MAX);
        if (fmt != SRV_FMT_NPY) x->win = malloc(WINDOW);
        ok = x->out && (fmt == SRV_FMT_NPY || x->win);
    }
    if (!ok) {
        if (x) {
            x->src.ctx = NULL;
            x->src.free_ctx = NULL;
            srv_array_stream_close(x);
        }
        if (src->free_ctx) src->free_ctx(src->ctx);
        return NULL;
    }
    *total = MHD_SIZE_UNKNOWN;
    *block = TEXT_BLOCK;
    if (fmt == SRV_FMT_NPY) {
        char h[EIR_NPY_HEADER_MAX];
        size_t hl = eir_npy_header(x->npy, src->ndim, src->shape, h, sizeof h);
        *total = hl + x->count * x->item;
        *block = *total < NPY_BLOCK ? (size_t)*total : NPY_BLOCK;
    }
    return x;
}

static ssize_t arr_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    return srv_array_stream_read(cls, pos, buf, max);
}

static void arr_free(void *cls)
{
    srv_array_stream_close(cls);
}

static void arr_detach(void *ctx)
{
    srv_array_stream *x = ctx;
    x->req = NULL;
}

struct MHD_Response *srv_array_response(srv_req *r, const srv_array_source *src, srv_res_fmt fmt)
{
    uint64_t total;
    size_t block;
    srv_array_stream *x = srv_array_stream_open(src, fmt, &total, &block);
    if (!x) return NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(total, block, &arr_read, x, &arr_free);
    if (!resp) {
        srv_array_stream_close(x);
        return NULL;
    }
    x->req = r;
    r->detach = arr_detach;
    r->detach_ctx = x;
    r->bytes = 0;
    return resp;
}

enum MHD_Result srv_array_send(srv_req *r, const srv_array_source *src, srv_res_fmt fmt,
                               const char *etag, const char *file_stem)
{
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
        if (src->free_ctx) src->free_ctx(src->ctx);
        struct MHD_Response *resp = srv_response_copy(r, "", 0, NULL);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        return srv_reply(r, 304, resp);
    }
    struct MHD_Response *resp = srv_array_response(r, src, fmt);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    static const char *const ctypes[] = {"application/octet-stream", "application/json",
                                         "text/csv; charset=utf-8; header=present"};
    static const char *const exts[] = {"npy", "json", "csv"};
    char shape[96], disp[192];
    size_t n = 0;
    for (int a = 0; a < src->ndim; a++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%lld", a ? "," : "",
                              (long long)src->shape[a]);
    snprintf(disp, sizeof disp, "attachment; filename=\"%.120s.%s\"", file_stem, exts[fmt]);
    /* A header that cannot be added (out of memory) must not go missing silently. */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctypes[fmt]) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept") != MHD_YES ||
        MHD_add_response_header(resp, "X-Eirnn-Shape", shape) != MHD_YES ||
        MHD_add_response_header(resp, "X-Eirnn-Dtype", src->dtype) != MHD_YES ||
        (fmt != SRV_FMT_JSON &&
         MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp) != MHD_YES)) {
        MHD_destroy_response(resp);
        return srv_reply(r, 503, NULL);
    }
    return srv_reply(r, 200, resp);
}
