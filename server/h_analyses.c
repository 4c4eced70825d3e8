/**
 * @file h_analyses.c
 * @brief /v1/analyses: an analysis is a job of the run queue (kind "analysis", id "a_..."):
 *        submit (validated in full by srv_analysis_check(), queued in one short transaction,
 *        202), idempotent retries, the job document with ?wait= long polls, list with filters,
 *        cancel, delete, and its results (any 1-3-D array) as .npy, JSON or CSV through
 *        array_stream.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "array_stream.h"
#include "eir_sha256.h"
#include "http.h"
#include "labels.h"
#include "pool.h"
#include "results.h"

/** Longest Idempotency-Key accepted (as for runs). */

/* ------------------------------------------------------------------------------------------ */
/* The job document                                                                           */
/* ------------------------------------------------------------------------------------------ */

/** Result list callback: name -> {dtype, shape, url} into the object @p ctx. */
typedef struct results_ctx {
    json_t *obj;   /**< the document's "results" object, or NULL */
    json_t *items; /**< the results list's items, or NULL */
    const char *id;
} results_ctx;

static int result_cb(void *ctx, const store_result_info *info)
{
    results_ctx *x = ctx;
    char url[128];
    snprintf(url, sizeof url, "/v1/analyses/%s/results/%s", x->id, info->var);
    json_t *shape = json_array();
    for (int d = 0; shape && d < info->ndim; d++)
        json_array_append_new(shape, json_integer(info->shape[d]));
    if (x->obj)
        return json_object_set_new(
            x->obj, info->var,
            json_pack("{s:s, s:o, s:s}", "dtype", info->dtype, "shape", shape, "url", url));
    return json_array_append_new(x->items, json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "name",
                                                     info->var, "dtype", info->dtype, "shape",
                                                     shape, "bytes", (json_int_t)info->total_bytes,
                                                     "sha256", info->sha256, "url", url));
}

/** JSON text @p text parsed, or JSON null when absent or unreadable. */
static json_t *parsed_or_null(const char *text)
{
    json_t *j = text && *text ? json_loads(text, 0, NULL) : NULL;
    return j ? j : json_null();
}

/**
 * The job document of analysis @p a. With @p full (GET of one, and the answers of POST and
 * cancel), also its request, and once it has ended its results; list items leave those two out.
 * On a store failure reading them *@p st is set and NULL returned; NULL also when out of memory.
 */
static json_t *analysis_json(store_conn *c, const store_run *a, int full, store_status *st)
{
    *st = STORE_OK;
    json_t *j = srv_run_json(a);
    if (!j) return NULL;
    char self[64], results[80];
    snprintf(self, sizeof self, "/v1/analyses/%s", a->id);
    snprintf(results, sizeof results, "/v1/analyses/%s/results", a->id);
    json_object_set_new(j, "kind", json_string("analysis"));
    json_object_set_new(j, "analysis", json_string(a->subkind));
    json_object_set_new(j, "links", json_pack("{s:s, s:s}", "self", self, "results", results));
    json_object_del(j, "sweep"); /* runs only */
    json_t *meta = parsed_or_null(a->meta_json);
    json_t *summary = json_object_get(meta, "summary");
    json_object_set(j, "summary",
                    summary && a->status == STORE_RUN_SUCCEEDED ? summary : json_null());
    json_decref(meta);
    json_object_set_new(j, "error", parsed_or_null(a->error_json));
    if (!full) return j;
    char *req = NULL;
    if ((*st = store_run_request(c, a->id, &req)) != STORE_OK) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "request", parsed_or_null(req));
    free(req);
    results_ctx x = {json_object(), NULL, a->id};
    if (x.obj && store_run_status_final(a->status) &&
        (*st = store_result_list(c, a->id, result_cb, &x)) != STORE_OK) {
        json_decref(x.obj);
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "results", x.obj ? x.obj : json_null());
    return j;
}

/** Queue @p status with the full job document of @p a (srv_job_kind::reply). */
static enum MHD_Result reply_analysis(srv_req *r, store_conn *c, unsigned status,
                                      const store_run *a)
{
    store_status st;
    json_t *j = analysis_json(c, a, 1, &st);
    if (!j && st != STORE_OK) return srv_problem_store(r, st, c, "the analysis");
    if (!j) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    return srv_reply_json(r, status, j);
}

/** Analyses as jobs (h_jobs.c): /v1/analyses shows only kind "analysis". */
static const srv_job_kind analysis_kind = {"analysis", "analysis", "analyses", "/v1/analyses",
                                           reply_analysis};

/* ------------------------------------------------------------------------------------------ */
/* Submit                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/**
 * The job settings of the request: "priority" (an integer, default 0) and "time_limit" (seconds
 * > 0; the daemon's --run-time-limit caps it). @return 0, or -1 after queuing 422 naming the
 * field into *@p ret.
 */
static int job_settings(srv_req *r, const json_t *body, int *priority, double *time_limit,
                        enum MHD_Result *ret)
{
    const json_t *p = json_object_get(body, "priority");
    *priority = 0;
    if (p) {
        if (!json_is_integer(p) || json_integer_value(p) < -1000 || json_integer_value(p) > 1000) {
            *ret = srv_problem(r, SRV_P_INVALID, 422, "/priority",
                               "priority must be an integer from -1000 to 1000");
            return -1;
        }
        *priority = (int)json_integer_value(p);
    }
    double tl = r->s->cfg.run_time_limit;
    const json_t *t = json_object_get(body, "time_limit");
    if (t) {
        double v = json_number_value(t);
        if (!json_is_number(t) || !(v > 0) || !isfinite(v)) {
            *ret = srv_problem(r, SRV_P_INVALID, 422, "/time_limit",
                               "time_limit must be a number of seconds > 0");
            return -1;
        }
        if (tl <= 0 || v < tl) tl = v;
    }
    *time_limit = tl > 0 ? tl : 0;
    return 0;
}

enum MHD_Result h_analyses_create(srv_req *r)
{
    srv *s = r->s;
    const char *key;
    enum MHD_Result ret;
    if (srv_job_create_check(r, "analysis", &key, &ret)) return ret;
    json_t *body = srv_body_json(r, &ret);
    if (!body) return ret;
    store_conn *c = srv_thread_conn(s);
    store_run a;
    memset(&a, 0, sizeof a);
    srv_analysis_plan plan;
    memset(&plan, 0, sizeof plan);
    store_status st = STORE_OK;
    eir_error err;
    eir_error_clear(&err);
    int priority;
    double time_limit;
    char *labels = NULL;
    if (!c) {
        ret = srv_problem_store(r, STORE_ERROR, c, "the analysis");
        goto out;
    }
    if (srv_analysis_check(s, c, body, &plan, &st, &err) != EIR_OK) {
        ret = st != STORE_OK ? srv_problem_store(r, st, c, "what the analysis refers to")
                             : srv_problem_eir(r, &err);
        goto out;
    }
    if (job_settings(r, body, &priority, &time_limit, &ret)) goto out;
    if (srv_labels_of(r, body, &labels, &ret)) goto out;

    char body_hash[65];
    srv_sha256_hex(r->body, r->body_len, body_hash);
    store_run_new in = {.kind = "analysis",
                        .subkind = plan.kind,
                        .model_id = plan.model_id[0] ? plan.model_id : NULL,
                        .request_json = r->body,
                        .idempotency_key = key,
                        .body_hash = body_hash,
                        .max_attempts = s->cfg.max_attempts,
                        .priority = priority,
                        .time_limit = time_limit,
                        .progress_total = plan.progress_total,
                        .queue_limit = s->cfg.queue_limit,
                        .labels_json = labels};
    int created = 0;
    st = store_run_create(c, &in, &a, &created);
    if (st == STORE_OK && strcmp(a.kind, "analysis") != 0) st = STORE_KEY_REUSED; /* a run's */
    if (st == STORE_OK) {
        store_status jst;
        json_t *j = analysis_json(c, &a, 1, &jst);
        ret = srv_job_created(r, &analysis_kind, a.id, j ? srv_response_json(r, j) : NULL, created);
    } else {
        ret = srv_job_not_created(r, c, st, key, in.model_id, "analysis");
    }
out:
    store_run_clear(&a);
    free(labels);
    json_decref(body);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Status, list, cancel, delete                                                               */
/* ------------------------------------------------------------------------------------------ */

enum MHD_Result h_analyses_get(srv_req *r)
{
    return srv_job_get(r, &analysis_kind);
}

enum MHD_Result h_analyses_cancel(srv_req *r)
{
    return srv_job_cancel(r, &analysis_kind);
}

enum MHD_Result h_analyses_delete(srv_req *r)
{
    return srv_job_delete(r, &analysis_kind);
}

/* An analysis as GET /v1/analyses lists it (srv_job_item_fn). */
static json_t *list_item(const store_run *a)
{
    store_status st;
    return analysis_json(NULL, a, 0, &st);
}

enum MHD_Result h_analyses_list(srv_req *r)
{
    int limit;
    const char *cursor;
    enum MHD_Result ret;
    store_run_filter f = {.status = -1, .kind = "analysis"};
    store_labels labels;
    char extra[SRV_LIST_QUERY_MAX] = "";
    if (srv_job_list_params(r, &f, &labels, extra, sizeof extra, &limit, &cursor, &ret)) return ret;
    const char *kind = srv_query(r, "kind");
    if (kind && *kind) {
        static const char *const kinds[] = {"spectrum", "fixed_points", "lyapunov", "activity"};
        int known = 0;
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
            known |= strcmp(kind, kinds[i]) == 0;
        if (!known)
            return srv_problem_param(r, "kind",
                                     "kind must be one of spectrum, fixed_points, lyapunov, "
                                     "activity; not '%.64s'",
                                     kind);
        f.subkind = kind;
        srv_job_list_extra(extra, sizeof extra, "kind", kind);
    }
    return srv_job_list_reply(r, &analysis_kind, &f, cursor, limit, extra, list_item);
}

/* ------------------------------------------------------------------------------------------ */
/* Results                                                                                    */
/* ------------------------------------------------------------------------------------------ */

enum MHD_Result h_analyses_results_list(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    store_run a;
    enum MHD_Result ret;
    if (srv_job_fetch(r, c, &analysis_kind, &a, &ret)) return ret;
    results_ctx x = {NULL, json_array(), a.id};
    store_status st = x.items ? store_result_list(c, a.id, result_cb, &x) : STORE_ERROR;
    if (st != STORE_OK) {
        json_decref(x.items);
        store_run_clear(&a);
        return srv_problem_store(r, st, c, "the result list");
    }
    json_t *j = json_pack("{s:s, s:s, s:o}", "analysis_id", a.id, "status",
                          store_run_status_name(a.status), "items", x.items);
    store_run_clear(&a);
    return srv_reply_json(r, 200, j);
}

/** The bytes of a stored result, read on the connection's thread (srv_array_read_fn). */
typedef struct stored_array {
    srv *s;
    char id[STORE_ID_MAX];
    char var[STORE_VAR_MAX];
} stored_array;

static int read_stored(void *ctx, uint64_t off, void *buf, size_t len)
{
    stored_array *a = ctx;
    store_conn *c = srv_thread_conn(a->s);
    return c && store_result_read(c, a->id, a->var, off, buf, len) == STORE_OK ? 0 : -1;
}

/**
 * The stored description of result {name} of analysis {id} into @p info, once the analysis has
 * ended. @return 0, or -1 after queuing 404 (no analysis, no such result), 409 (not ended yet),
 * 500 (not an array this server streams) or a store failure into *@p ret.
 */
static int load_info(srv_req *r, store_conn *c, store_result_info *info, enum MHD_Result *ret)
{
    const char *id = r->params[0], *var = r->params[1];
    store_run a;
    if (srv_job_fetch(r, c, &analysis_kind, &a, ret)) return -1;
    int ended = store_run_status_final(a.status);
    store_run_status status = a.status;
    store_run_clear(&a);
    if (!ended) {
        *ret = srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                           "analysis %s is %s; its results appear when it has ended (poll GET "
                           "/v1/analyses/%s?wait=30)",
                           id, store_run_status_name(status), id);
        return -1;
    }
    store_status st = store_result_info_get(c, id, var, info);
    if (st == STORE_NOT_FOUND || st == STORE_INVALID) {
        *ret = srv_problem(r, SRV_P_NOT_FOUND, 404, NULL,
                           "analysis %s has no result '%s' (see GET /v1/analyses/%s/results)", id,
                           var, id);
        return -1;
    }
    if (st != STORE_OK) {
        *ret = srv_problem_store(r, st, c, "the result");
        return -1;
    }
    if (info->ndim < 1 || info->ndim > 3 || !srv_array_itemsize(info->dtype)) {
        *ret = srv_problem(r, SRV_P_INTERNAL, 500, NULL,
                           "result %s is stored as %s with %d dimensions; expected 1 to 3", var,
                           info->dtype, info->ndim);
        return -1;
    }
    return 0;
}

enum MHD_Result h_analyses_results_get(srv_req *r)
{
    static const char *const fmt_names[] = {"npy", "json", "csv"};
    const char *id = r->params[0], *var = r->params[1];
    srv_res_fmt fmt;
    enum MHD_Result ret;
    if (srv_res_pick_format(r, &fmt, &ret)) return ret;
    store_conn *c = srv_thread_conn(r->s);
    store_result_info info;
    if (load_info(r, c, &info, &ret)) return ret;
    /* An empty read opens this thread's handle for result reads and checks the result is still
     * there, so that neither fails after the 200 went out. */
    store_status st = store_result_read(c, id, var, 0, NULL, 0);
    if (st == STORE_NOT_FOUND)
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "analysis %s has no result '%s'", id,
                           var);
    if (st != STORE_OK) return srv_problem_store(r, st, c, "the result");

    /* ETag: the stored checksum and the format, as for run results (a whole array: no slice) */
    char canon[160], hex[65], etag[40], stem[160];
    uint8_t dg[32];
    snprintf(canon, sizeof canon, "%s|%s|analysis", info.sha256, fmt_names[fmt]);
    eir_sha256_ctx hc;
    eir_sha256_init(&hc);
    eir_sha256_update(&hc, canon, strlen(canon));
    eir_sha256_final(&hc, dg);
    eir_sha256_hex(dg, hex);
    snprintf(etag, sizeof etag, "\"%.32s\"", hex);
    snprintf(stem, sizeof stem, "%s_%s", id, var);

    stored_array *ctx = malloc(sizeof *ctx);
    if (!ctx) return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
    ctx->s = r->s;
    snprintf(ctx->id, sizeof ctx->id, "%.*s", STORE_ID_MAX - 1, id); /* a stored id: it fits */
    memcpy(ctx->var, info.var, sizeof ctx->var);
    srv_array_source src = {.name = var,
                            .dtype = info.dtype,
                            .ndim = info.ndim,
                            .read = read_stored,
                            .ctx = ctx,
                            .free_ctx = free};
    for (int d = 0; d < info.ndim; d++)
        src.shape[d] = info.shape[d];
    return srv_array_send(r, &src, fmt, etag, stem);
}
