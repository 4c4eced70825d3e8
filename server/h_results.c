/**
 * @file h_results.c
 * @brief GET /v1/runs/{id}/results (the list) and GET /v1/runs/{id}/results/{var}: format
 *        negotiation (?format=, Accept), slicing (?trials=a:b&steps=a:b&neurons=i,j,a:b),
 *        ETag / If-None-Match, and the streamed body (results_stream.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "results.h"
#include "eir_sha256.h"
#include "run_refs.h"

typedef struct list_ctx {
    json_t *items;
    const char *run_id;
} list_ctx;

static json_t *shape_json(const store_result_info *info)
{
    json_t *a = json_array();
    for (int d = 0; a && d < info->ndim; d++)
        json_array_append_new(a, json_integer(info->shape[d]));
    return a;
}

static int list_cb(void *ctx, const store_result_info *info)
{
    list_ctx *l = ctx;
    char url[128];
    snprintf(url, sizeof url, "/v1/runs/%s/results/%s", l->run_id, info->var);
    json_t *j = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "var", info->var, "dtype", info->dtype,
                          "shape", shape_json(info), "bytes", (json_int_t)info->total_bytes,
                          "sha256", info->sha256, "url", url);
    return j ? json_array_append_new(l->items, j) : 1;
}

/** Fetch run {id} (an analysis's id is 404 here); on failure queue 404/5xx into *ret and return
 *  -1. */
static int get_run(srv_req *r, store_conn *c, store_run *run, enum MHD_Result *ret)
{
    static const srv_job_kind runs = {"run", "run", "runs", "/v1/runs", NULL};
    return srv_job_fetch(r, c, &runs, run, ret);
}

enum MHD_Result h_results_list(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    store_run run;
    enum MHD_Result ret;
    if (get_run(r, c, &run, &ret)) return ret;
    list_ctx l = {json_array(), run.id};
    store_status st = l.items ? store_result_list(c, run.id, list_cb, &l) : STORE_ERROR;
    if (st != STORE_OK) {
        json_decref(l.items);
        store_run_clear(&run);
        return srv_problem_store(r, st, c, "the result list");
    }
    json_t *j = json_pack("{s:s, s:s, s:o}", "run_id", run.id, "status",
                          store_run_status_name(run.status), "items", l.items);
    store_run_clear(&run);
    return srv_reply_json(r, 200, j);
}

/* ------------------------------------------------------------------------------------------ */

/** Parse "a:b", "a", ":b", "a:" or "" against size @p n into [*a, *b). @return 0 on success. */
static int parse_range(const char *s, int64_t n, int64_t *a, int64_t *b)
{
    *a = 0;
    *b = n;
    const char *colon = strchr(s, ':');
    char *end;
    if (!colon) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v >= n) return -1;
        *a = v;
        *b = v + 1;
        return 0;
    }
    if (colon != s) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end != colon || v < 0) return -1;
        *a = v;
    }
    if (colon[1]) {
        errno = 0;
        long long v = strtoll(colon + 1, &end, 10);
        if (errno || *end || v < 0) return -1;
        *b = v;
    }
    return *a < *b && *b <= n ? 0 : -1;
}

/**
 * Parse ?neurons= ("i,j,a:b,...") against @p n units into @p *out (malloc'ed, @p *nranges
 * entries, kept as written: as many as the query has entries, never more) and their total into
 * @p *count. Units may repeat and come in any order, but the total may not exceed @p n: a
 * selection is never wider than the result, so that no answer is larger than the whole result
 * in the same format. @return 0, -1 with @p why set (a static sentence), or -2 when out of
 * memory.
 */
static int parse_units(const char *s, int64_t n, srv_unit_range **out, size_t *nranges,
                       int64_t *count, const char **why)
{
    size_t cap = 1;
    for (const char *c = s; *c; c++)
        cap += *c == ',';
    srv_unit_range *u = malloc(cap * sizeof *u);
    if (!u) {
        *why = "out of memory";
        return -2;
    }
    size_t len = 0;
    int64_t total = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t tl = comma ? (size_t)(comma - p) : strlen(p);
        char tok[64];
        int64_t a, b;
        *why = NULL;
        if (tl == 0 || tl >= sizeof tok)
            *why = "expected a comma-separated list of indices or ranges a:b";
        else {
            memcpy(tok, p, tl);
            tok[tl] = '\0';
            if (parse_range(tok, n, &a, &b))
                *why = "an index or range is malformed or outside the recorded units";
            else if ((total += b - a) > n)
                *why = "the selection is wider than the result";
        }
        if (*why) {
            free(u);
            return -1;
        }
        u[len++] = (srv_unit_range){a, b};
        if (!comma) break;
        p = comma + 1;
    }
    *out = u;
    *nranges = len;
    *count = total;
    return 0;
}

/** Format from one media range; -1 when not one of ours. */
static int fmt_of_media(const char *m, size_t n)
{
    static const struct {
        const char *type;
        int fmt;
    } map[] = {{"application/octet-stream", SRV_FMT_NPY},
               {"application/x-npy", SRV_FMT_NPY},
               {"application/vnd.numpy", SRV_FMT_NPY},
               {"application/json", SRV_FMT_JSON},
               {"text/csv", SRV_FMT_CSV},
               {"application/*", SRV_FMT_NPY},
               {"text/*", SRV_FMT_CSV},
               {"*/*", SRV_FMT_NPY}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strlen(map[i].type) == n && strncasecmp(m, map[i].type, n) == 0) return map[i].fmt;
    return -1;
}

int srv_accept_best(const char *accept, int (*of_media)(const char *media, size_t len))
{
    int best = -1;
    double best_q = 0;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *te = semi ? semi : end;
        while (te > p && te[-1] == ' ')
            te--;
        double q = 1;
        if (semi) {
            const char *qs = strstr(semi, "q=");
            if (qs && qs < end) q = strtod(qs + 2, NULL);
        }
        int f = of_media(p, (size_t)(te - p));
        if (f >= 0 && q > best_q) {
            best = f;
            best_q = q;
        }
        p = end;
    }
    return best;
}

/** Names of the formats, by srv_res_fmt (file extensions and ?format= values). */
static const char *const fmt_names[] = {"npy", "json", "csv"};

int srv_res_pick_format(srv_req *r, srv_res_fmt *fmt, enum MHD_Result *ret)
{
    const char *fq = srv_query(r, "format");
    if (fq) {
        if (strcmp(fq, "npy") == 0)
            *fmt = SRV_FMT_NPY;
        else if (strcmp(fq, "json") == 0)
            *fmt = SRV_FMT_JSON;
        else if (strcmp(fq, "csv") == 0)
            *fmt = SRV_FMT_CSV;
        else {
            *ret = srv_problem_param(r, "format", "format must be npy, json or csv, not '%s'", fq);
            return -1;
        }
        return 0;
    }
    const char *accept = srv_header(r, MHD_HTTP_HEADER_ACCEPT);
    int f = accept && *accept ? srv_accept_best(accept, fmt_of_media) : SRV_FMT_NPY;
    if (f < 0) {
        *ret = srv_problem(r, SRV_P_NOT_ACCEPTABLE, 406, NULL,
                           "results are served as application/octet-stream (.npy), "
                           "application/json or text/csv; Accept was '%s'",
                           accept);
        return -1;
    }
    *fmt = (srv_res_fmt)f;
    return 0;
}

/**
 * The stored description of result {var} of run {id} into @p info, once the run has ended.
 * @return 0, or -1 after queuing 404 (no run, no such result), 409 (the run has not ended),
 *         500 (not a 2-d or 3-d float array) or a store failure into *@p ret.
 */
static int load_result_info(srv_req *r, store_conn *c, store_result_info *info,
                            enum MHD_Result *ret)
{
    const char *id = r->params[0], *var = r->params[1];
    store_run run;
    if (get_run(r, c, &run, ret)) return -1;
    if (!store_run_status_final(run.status)) {
        *ret = srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                           "run %s is %s; its results appear when it has ended (poll GET "
                           "/v1/runs/%s?wait=30)",
                           run.id, store_run_status_name(run.status), run.id);
        store_run_clear(&run);
        return -1;
    }
    store_run_clear(&run);
    store_status st = store_result_info_get(c, id, var, info);
    if (st == STORE_NOT_FOUND || st == STORE_INVALID) {
        *ret = srv_problem(r, SRV_P_NOT_FOUND, 404, NULL,
                           "run %s has no result '%s' (see GET /v1/runs/%s/results)", id, var, id);
        return -1;
    }
    if (st != STORE_OK) {
        *ret = srv_problem_store(r, st, c, "the result");
        return -1;
    }
    if ((info->ndim != 3 && info->ndim != 2) ||
        (strcmp(info->dtype, "float64") && strcmp(info->dtype, "float32"))) {
        *ret =
            srv_problem(r, SRV_P_INTERNAL, 500, NULL,
                        "result %s is stored as %s with %d dimensions; expected 2-d or 3-d floats",
                        var, info->dtype, info->ndim);
        return -1;
    }
    return 0;
}

/**
 * The slice of @p info asked for by ?trials=, ?steps= and ?neurons= into @p v (v->ranges is
 * malloc'ed when ?neurons= is given; the caller frees it). @return 0, or -1 after queuing 400
 * naming the parameter, or 503 when out of memory, into *@p ret.
 */
static int parse_slice(srv_req *r, const store_result_info *info, srv_res_view *v,
                       enum MHD_Result *ret)
{
    int64_t B = info->shape[0], T = info->shape[1], N = info->shape[2];
    v->t0 = 0, v->t1 = B, v->s0 = 0, v->s1 = T;
    const char *q;
    if ((q = srv_query(r, "trials")) && parse_range(q, B, &v->t0, &v->t1)) {
        *ret = srv_problem_param(r, "trials",
                                 "trials must be a range a:b (or an index) within 0:%lld, not "
                                 "'%s'",
                                 (long long)B, q);
        return -1;
    }
    if ((q = srv_query(r, "steps")) && parse_range(q, T, &v->s0, &v->s1)) {
        *ret = srv_problem_param(r, "steps",
                                 "steps must be a range a:b (or an index) of recorded steps "
                                 "within 0:%lld, not '%s'",
                                 (long long)T, q);
        return -1;
    }
    v->nu = N;
    const char *nq = srv_query(r, "neurons");
    if (nq) {
        const char *why = "";
        int pu = parse_units(nq, N, &v->ranges, &v->nranges, &v->nu, &why);
        if (pu == -2) {
            *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
            return -1;
        }
        if (pu) {
            *ret = srv_problem_param(r, "neurons",
                                     "neurons: %s; the result has %lld units (indices 0 to "
                                     "%lld), and at most %lld may be selected in all, repeats "
                                     "counted; got '%.200s%s'",
                                     why, (long long)N, (long long)N - 1, (long long)N, nq,
                                     strlen(nq) > 200 ? "..." : "");
            return -1;
        }
    }
    v->full = !nq && v->t0 == 0 && v->t1 == B && v->s0 == 0 && v->s1 == T;
    return 0;
}

/** The ETag of slice @p v of @p info (the stored checksum, the format and the slice): the
 *  first 32 hex digits of their SHA-256, quoted, into @p etag. */
static void result_etag(const store_result_info *info, const srv_res_view *v, char etag[40])
{
    eir_sha256_ctx hc;
    eir_sha256_init(&hc);
    char canon[256];
    snprintf(canon, sizeof canon, "%s|%s|%lld:%lld|%lld:%lld|", info->sha256, fmt_names[v->fmt],
             (long long)v->t0, (long long)v->t1, (long long)v->s0, (long long)v->s1);
    eir_sha256_update(&hc, canon, strlen(canon));
    /* The selected indices one after another as int64 (the same bytes as before selections were
     * kept as ranges, so ETags did not change), a few hundred at a time. */
    int64_t idx[256];
    size_t ni = 0;
    for (size_t k = 0; v->ranges && k < v->nranges; k++)
        for (int64_t u = v->ranges[k].a; u < v->ranges[k].b; u++) {
            idx[ni++] = u;
            if (ni == sizeof idx / sizeof *idx) {
                eir_sha256_update(&hc, idx, sizeof idx);
                ni = 0;
            }
        }
    if (ni) eir_sha256_update(&hc, idx, ni * sizeof *idx);
    if (!v->ranges) eir_sha256_update(&hc, "all", 3);
    uint8_t dg[32];
    char hex[65];
    eir_sha256_final(&hc, dg);
    eir_sha256_hex(dg, hex);
    snprintf(etag, 40, "\"%.32s\"", hex);
}

/**
 * Queue the 200 streaming slice @p v of result @p info with its headers (type, ETag, shape,
 * dtype, file name). The store is checked first, so that nothing fails after the 200 went out.
 * Frees nothing of @p v. @return what srv_reply() returned (404/5xx problems on failure).
 */
static enum MHD_Result send_result(srv_req *r, store_conn *c, const store_result_info *info,
                                   const srv_res_view *v, const char *etag)
{
    const char *id = r->params[0], *var = r->params[1];
    /* An empty read opens this thread's handle for result reads (store_result_read()) and
     * checks the result is still there, so that neither fails after the 200 went out. */
    store_status st = store_result_read(c, id, var, 0, NULL, 0);
    if (st == STORE_NOT_FOUND)
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "run %s has no result '%s'", id, var);
    if (st != STORE_OK) return srv_problem_store(r, st, c, "the result");
    struct MHD_Response *resp = srv_result_response(r, id, info, v);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    static const char *const ctypes[] = {"application/octet-stream", "application/json",
                                         "text/csv; charset=utf-8; header=present"};
    char shape[96], disp[160];
    snprintf(shape, sizeof shape, "%lld,%lld,%lld", (long long)(v->t1 - v->t0),
             (long long)(v->s1 - v->s0), (long long)v->nu);
    snprintf(disp, sizeof disp, "attachment; filename=\"%s_%s.%s\"", id, var, fmt_names[v->fmt]);
    /* A header that cannot be added (out of memory) must not go missing silently. */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctypes[v->fmt]) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept") != MHD_YES ||
        MHD_add_response_header(resp, "X-Eirnn-Shape", shape) != MHD_YES ||
        MHD_add_response_header(resp, "X-Eirnn-Dtype", info->dtype) != MHD_YES ||
        (v->fmt != SRV_FMT_JSON &&
         MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp) != MHD_YES)) {
        MHD_destroy_response(resp);
        return srv_reply(r, 503, NULL);
    }
    return srv_reply(r, 200, resp);
}

enum MHD_Result h_results_get(srv_req *r)
{
    srv_res_view v;
    memset(&v, 0, sizeof v);
    enum MHD_Result ret;
    if (srv_res_pick_format(r, &v.fmt, &ret)) return ret;
    store_conn *c = srv_thread_conn(r->s);
    store_result_info info;
    if (load_result_info(r, c, &info, &ret)) return ret;
    if (info.ndim == 2) return srv_run_result_2d(r, c, &info, v.fmt); /* V_final (run_refs.h) */
    if (parse_slice(r, &info, &v, &ret)) return ret;

    char etag[40];
    result_etag(&info, &v, etag);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
        free(v.ranges);
        struct MHD_Response *resp = srv_response_copy(r, "", 0, NULL);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        return srv_reply(r, 304, resp);
    }
    ret = send_result(r, c, &info, &v, etag);
    free(v.ranges);
    return ret;
}
