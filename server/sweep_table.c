/**
 * @file sweep_table.c
 * @brief GET /v1/sweeps/{id}/table (docs/SWEEPS.md "The table"): one row per point (index, the
 *        axes' values, run id, status, then the metrics of the run's metadata), as JSON
 *        ({"columns": [...], "rows": [[...]]}) or CSV (RFC 4180, the same header).
 *
 * Metric columns exist only when the sweep asked for metrics, in its "metrics" or its base run's
 * (settle ones only with a settle window); a point without metrics (not finished, failed,
 * cancelled) has nulls there. ?per_trial=true adds "<column>[b]" after each averaged column for the
 * trials b of the finished points (the most any point has). The whole table is built in memory: its
 * size is bounded by --max-sweep-points times the columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "results.h"
#include "sweeps.h"

/** Most axes, keys per path. */
#define MAX_KEYS 6

/** How a metric column reads its value in a run's "metrics" object. */
typedef struct metric_col {
    char name[96];             /**< its column name ("late_r.mean.E") */
    const char *avg[MAX_KEYS]; /**< keys to the averaged value (NULL-terminated) */
    const char *tri[MAX_KEYS]; /**< keys to the per-trial array, or tri[0] NULL: none */
    char window[64];           /**< a window's name (keys point here for windows) */
} metric_col;

/** One point as read from the store. */
typedef struct point_row {
    char run_id[STORE_ID_MAX];
    store_run_status status;
    json_t *metrics; /**< its "metrics" (owned), or NULL */
} point_row;

typedef struct table_ctx {
    point_row *rows;
    int64_t n, cap;
    int failed; /**< out of memory while reading */
} table_ctx;

void srv_sweep_window_name(const json_t *w, char *buf, size_t cap)
{
    const char *name = json_string_value(json_object_get(w, "name"));
    if (name) {
        snprintf(buf, cap, "%s", name);
        return;
    }
    const char *var = json_string_value(json_object_get(w, "var"));
    snprintf(buf, cap, "%s_%lld_%lld", var ? var : "?",
             (long long)json_integer_value(json_object_get(w, "from")),
             (long long)json_integer_value(json_object_get(w, "to")));
}

/* ------------------------------------------------------------------------------------------ */
/* Columns                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void set_keys(const char **dst, const char *a, const char *b, const char *c, const char *d,
                     const char *e)
{
    dst[0] = a;
    dst[1] = b;
    dst[2] = c;
    dst[3] = d;
    dst[4] = e;
    dst[5] = NULL;
}

/**
 * The metric columns of metrics request @p m (NULL: none) into *@p out (malloc'ed), their number
 * into *@p n. @return 0, or -1 when out of memory.
 */
static int metric_columns(const json_t *m, metric_col **out, size_t *n)
{
    static const char *const pops[2] = {"E", "I"};
    static const char *const stats[2] = {"mean", "std"};
    static const char *const vars[2] = {"V", "r"};
    *out = NULL;
    *n = 0;
    if (!json_is_object(m)) return 0;
    const json_t *windows = json_object_get(m, "windows");
    int settle = json_is_object(json_object_get(m, "settle"));
    size_t cap = 4 * json_array_size(windows) + 4 + 3 + 2;
    metric_col *c = calloc(cap, sizeof *c);
    if (!c) return -1;
    size_t k = 0;
    for (size_t w = 0; w < json_array_size(windows); w++) {
        char wn[64];
        srv_sweep_window_name(json_array_get(windows, w), wn, sizeof wn);
        for (int s = 0; s < 2; s++)
            for (int p = 0; p < 2; p++, k++) {
                snprintf(c[k].window, sizeof c[k].window, "%s", wn);
                snprintf(c[k].name, sizeof c[k].name, "%s.%s.%s", wn, stats[s], pops[p]);
                set_keys(c[k].avg, "windows", c[k].window, stats[s], pops[p], NULL);
                set_keys(c[k].tri, "windows", c[k].window, "trials", stats[s], pops[p]);
            }
    }
    for (int v = 0; v < 2; v++)
        for (int p = 0; p < 2; p++, k++) {
            snprintf(c[k].name, sizeof c[k].name, "final.%s.%s", vars[v], pops[p]);
            set_keys(c[k].avg, "final", vars[v], pops[p], NULL, NULL);
            set_keys(c[k].tri, "final", "trials", vars[v], pops[p], NULL);
        }
    static const char *const plain[3] = {"max_z_dt", "diverged", "diverged_step"};
    for (int i = 0; i < 3; i++, k++) {
        snprintf(c[k].name, sizeof c[k].name, "%s", plain[i]);
        set_keys(c[k].avg, plain[i], NULL, NULL, NULL, NULL);
        c[k].tri[0] = NULL;
    }
    if (settle) {
        snprintf(c[k].name, sizeof c[k].name, "settle.max_dVdt");
        set_keys(c[k].avg, "settle", "max_dVdt", NULL, NULL, NULL);
        set_keys(c[k].tri, "settle", "trials", "max_dVdt", NULL, NULL);
        k++;
        snprintf(c[k].name, sizeof c[k].name, "settled");
        set_keys(c[k].avg, "settle", "settled", NULL, NULL, NULL);
        set_keys(c[k].tri, "settle", "trials", "settled", NULL, NULL);
        k++;
    }
    *out = c;
    *n = k;
    return 0;
}

/** The value at @p keys in @p m, or NULL. */
static const json_t *dig(const json_t *m, const char *const *keys)
{
    for (int i = 0; m && i < MAX_KEYS && keys[i]; i++)
        m = json_object_get(m, keys[i]);
    return m;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading the points                                                                         */
/* ------------------------------------------------------------------------------------------ */

static int read_cb(void *ctx, const store_run *run)
{
    table_ctx *t = ctx;
    if (t->n == t->cap) {
        int64_t cap = t->cap ? 2 * t->cap : 64;
        point_row *rows = realloc(t->rows, (size_t)cap * sizeof *rows);
        if (!rows) {
            t->failed = 1;
            return 1;
        }
        t->rows = rows;
        t->cap = cap;
    }
    point_row *p = &t->rows[t->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->run_id, sizeof p->run_id, "%s", run->id);
    p->status = run->status;
    if (run->meta_json && *run->meta_json &&
        (run->status == STORE_RUN_SUCCEEDED || run->status == STORE_RUN_DIVERGED)) {
        json_t *meta = json_loads(run->meta_json, 0, NULL);
        json_t *m = json_object_get(meta, "metrics");
        if (json_is_object(m)) p->metrics = json_incref(m);
        json_decref(meta);
    }
    return 0;
}

static void free_rows(table_ctx *t)
{
    for (int64_t i = 0; i < t->n; i++)
        json_decref(t->rows[i].metrics);
    free(t->rows);
}

/** The most trials any point's per-trial arrays have (0 when none finished). */
static size_t max_trials(const table_ctx *t, const metric_col *mc, size_t nmc)
{
    size_t b = 0;
    for (int64_t i = 0; i < t->n; i++)
        for (size_t k = 0; k < nmc; k++)
            if (mc[k].tri[0]) {
                size_t n = json_array_size(dig(t->rows[i].metrics, mc[k].tri));
                if (n > b) b = n;
            }
    return b;
}

/* ------------------------------------------------------------------------------------------ */
/* The table as JSON                                                                          */
/* ------------------------------------------------------------------------------------------ */

/** Axis indices of point @p i: grid row-major (last axis fastest), zip i on every axis. */
static void point_index(const json_t *axes, int zip, int64_t i, int64_t *idx)
{
    size_t na = json_array_size(axes);
    for (size_t a = na; a-- > 0;) {
        int64_t len = (int64_t)json_array_size(json_object_get(json_array_get(axes, a), "values"));
        if (zip || len <= 0) {
            idx[a] = i;
            continue;
        }
        idx[a] = i % len;
        i /= len;
    }
}

/** The table as a JSON object; NULL when out of memory. */
static json_t *table_json(const store_sweep *sw, const json_t *req, const table_ctx *t,
                          const metric_col *mc, size_t nmc, size_t B)
{
    const json_t *axes = json_object_get(req, "axes");
    int zip = json_is_string(json_object_get(req, "mode")) &&
              strcmp(json_string_value(json_object_get(req, "mode")), "zip") == 0;
    size_t na = json_array_size(axes);
    json_t *cols = json_array(), *rows = json_array();
    json_t *j = json_pack("{s:s, s:I, s:o, s:o}", "sweep_id", sw->id, "points",
                          (json_int_t)sw->points, "columns", cols, "rows", rows);
    if (!j) return NULL;
    json_array_append_new(cols, json_string("index"));
    for (size_t a = 0; a < na; a++)
        json_array_append(cols, json_object_get(json_array_get(axes, a), "path"));
    json_array_append_new(cols, json_string("run_id"));
    json_array_append_new(cols, json_string("status"));
    for (size_t k = 0; k < nmc; k++) {
        json_array_append_new(cols, json_string(mc[k].name));
        for (size_t b = 0; mc[k].tri[0] && b < B; b++) {
            char name[128];
            snprintf(name, sizeof name, "%s[%zu]", mc[k].name, b);
            json_array_append_new(cols, json_string(name));
        }
    }
    int64_t idx[EIR_SWEEP_MAX_AXES + 1];
    for (int64_t i = 0; i < t->n; i++) {
        const point_row *p = &t->rows[i];
        json_t *row = json_array();
        if (!row || json_array_append_new(rows, row)) {
            json_decref(j);
            return NULL;
        }
        json_array_append_new(row, json_integer((json_int_t)i));
        point_index(axes, zip, i, idx);
        for (size_t a = 0; a < na && a < EIR_SWEEP_MAX_AXES; a++) {
            const json_t *vals = json_object_get(json_array_get(axes, a), "values");
            const json_t *v = json_array_get(vals, (size_t)idx[a]);
            json_array_append_new(row, v ? json_incref((json_t *)v) : json_null());
        }
        json_array_append_new(row, json_string(p->run_id));
        json_array_append_new(row, json_string(store_run_status_name(p->status)));
        for (size_t k = 0; k < nmc; k++) {
            const json_t *v = dig(p->metrics, mc[k].avg);
            json_array_append_new(row, v ? json_incref((json_t *)v) : json_null());
            const json_t *tr = mc[k].tri[0] ? dig(p->metrics, mc[k].tri) : NULL;
            for (size_t b = 0; mc[k].tri[0] && b < B; b++) {
                const json_t *e = json_array_get(tr, b);
                json_array_append_new(row, e ? json_incref((json_t *)e) : json_null());
            }
        }
    }
    if (srv_json_oom()) { /* a value may be missing (srv.h) */
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------------------------------ */
/* CSV                                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
    int failed;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/** A CSV field of text @p s: quoted (quotes doubled) when @p quote or it needs it. */
static void put_field(buf *b, const char *s, int quote)
{
    if (!quote && !strpbrk(s, ",\"\r\n")) {
        put(b, s, strlen(s));
        return;
    }
    put(b, "\"", 1);
    for (const char *q = s; *q; q++) {
        put(b, q, 1);
        if (*q == '"') put(b, "\"", 1); /* doubled */
    }
    put(b, "\"", 1);
}

/** One cell: null empty, booleans true/false, numbers as read back exactly, strings as they are,
 *  anything else its compact JSON, quoted. */
static void put_cell(buf *b, const json_t *v)
{
    char num[40];
    if (!v || json_is_null(v)) return;
    if (json_is_true(v)) return put(b, "true", 4);
    if (json_is_false(v)) return put(b, "false", 5);
    if (json_is_integer(v)) {
        int n = snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return put(b, num, (size_t)n);
    }
    if (json_is_real(v)) {
        int n = srv_format_number(num, json_real_value(v), 0, "");
        return put(b, num, (size_t)n);
    }
    if (json_is_string(v)) return put_field(b, json_string_value(v), 0);
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (!t) {
        b->failed = 1;
        return;
    }
    put_field(b, t, 1);
    free(t);
}

/** The JSON table @p j as CSV text (malloc'ed, length in *@p len); NULL when out of memory. */
static char *table_csv(const json_t *j, size_t *len)
{
    buf b = {NULL, 0, 0, 0};
    const json_t *cols = json_object_get(j, "columns");
    for (size_t k = 0; k < json_array_size(cols); k++) {
        if (k) put(&b, ",", 1);
        put_field(&b, json_string_value(json_array_get(cols, k)), 0);
    }
    put(&b, "\r\n", 2);
    const json_t *rows = json_object_get(j, "rows"), *row;
    size_t i;
    json_array_foreach(rows, i, row)
    {
        for (size_t k = 0; k < json_array_size(row); k++) {
            if (k) put(&b, ",", 1);
            put_cell(&b, json_array_get(row, k));
        }
        put(&b, "\r\n", 2);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ------------------------------------------------------------------------------------------ */
/* Negotiation and the answer                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** 1 CSV, 0 JSON from one media range; -1 when neither. */
static int csv_of_media(const char *m, size_t n)
{
    static const struct {
        const char *type;
        int csv;
    } map[] = {
        {"application/json", 0}, {"text/csv", 1}, {"application/*", 0}, {"text/*", 1}, {"*/*", 0}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strlen(map[i].type) == n && strncasecmp(m, map[i].type, n) == 0) return map[i].csv;
    return -1;
}

/** The table's format: ?format= (json, csv), else the Accept range of highest q (JSON without
 *  one). @return 0, or -1 with 400 / 406 queued. */
static int pick_format(srv_req *r, int *csv, enum MHD_Result *ret)
{
    const char *fq = srv_query(r, "format");
    if (fq) {
        if (strcmp(fq, "json") != 0 && strcmp(fq, "csv") != 0) {
            *ret = srv_problem_param(r, "format", "format must be json or csv, not '%s'", fq);
            return -1;
        }
        *csv = strcmp(fq, "csv") == 0;
        return 0;
    }
    const char *accept = srv_header(r, MHD_HTTP_HEADER_ACCEPT);
    *csv = 0;
    if (!accept || !*accept) return 0;
    int best = srv_accept_best(accept, csv_of_media);
    if (best < 0) {
        *ret = srv_problem(r, SRV_P_NOT_ACCEPTABLE, 406, NULL,
                           "a sweep's table is served as application/json or text/csv; Accept "
                           "was '%s'",
                           accept);
        return -1;
    }
    *csv = best;
    return 0;
}

/** ?per_trial= as a boolean; -1 with 400 queued when it is neither. */
static int per_trial_param(srv_req *r, int *on, enum MHD_Result *ret)
{
    const char *v = srv_query(r, "per_trial");
    *on = 0;
    if (!v) return 0;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *on = 1;
    else if (strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
        *ret = srv_problem_param(r, "per_trial", "per_trial must be true or false, not '%s'", v);
        return -1;
    }
    return 0;
}

enum MHD_Result srv_sweep_table_reply(srv_req *r, store_conn *c, const store_sweep *sw)
{
    int csv, per_trial;
    enum MHD_Result ret;
    if (pick_format(r, &csv, &ret) || per_trial_param(r, &per_trial, &ret)) return ret;
    json_t *req = sw->request_json ? json_loads(sw->request_json, 0, NULL) : NULL;
    if (!req) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "the sweep's request is unreadable");
    table_ctx t = {NULL, 0, 0, 0};
    metric_col *mc = NULL;
    size_t nmc = 0;
    json_t *j = NULL;
    store_status st = store_sweep_runs(c, sw->id, read_cb, &t);
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "sweep %s", sw->id);
        ret = srv_problem_store(r, st, c, what);
        goto out;
    }
    /* The sweep's "metrics", else its base run's own (every point has them then too). */
    const json_t *metrics = json_object_get(req, "metrics");
    if (!metrics) metrics = json_object_get(json_object_get(req, "run"), "metrics");
    if (t.failed || metric_columns(metrics, &mc, &nmc) ||
        !(j = table_json(sw, req, &t, mc, nmc, per_trial ? max_trials(&t, mc, nmc) : 0))) {
        ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory building the table");
        goto out;
    }
    struct MHD_Response *resp;
    if (csv) {
        size_t len = 0;
        char *text = table_csv(j, &len);
        resp = text ? srv_response_take(r, text, len, "text/csv; charset=utf-8") : NULL;
    } else {
        char *text = srv_json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
        resp = text ? srv_response_take(r, text, strlen(text), "application/json") : NULL;
    }
    if (!resp) {
        ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory sending the table");
        goto out;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept");
    ret = srv_reply(r, 200, resp);
out:
    json_decref(j);
    json_decref(req);
    free(mc);
    free_rows(&t);
    return ret;
}
