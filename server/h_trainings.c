/**
 * @file h_trainings.c
 * @brief /v1/trainings: a training is a job of the run queue (kind "training", id "t_...",
 *        subkind its task's name, progress in iterations): submit (validated in full by
 *        srv_training_check(), queued in one short transaction, 202), idempotent retries, the
 *        job document with ?wait= long polls, list with filters, cancel, delete, its request,
 *        and its loss/accuracy curve as JSON or CSV, readable while it runs (?after=ITER).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "labels.h"
#include "trainings.h"

/** Most curve rows one answer holds (?limit=); more are read with ?after= (next_after). */
#define CURVE_LIMIT_MAX 100000

/** A stored curve row as the schema's (the same members). */
static void to_curve_row(const store_curve_row *in, eir_curve_row *out)
{
    *out = (eir_curve_row){in->iteration, in->loss,      in->task_loss, in->l2_weights,
                           in->l2_rates,  in->grad_norm, in->accuracy,  in->eval_accuracy};
}

/** A curve row as a JSON object (EIR_CURVE_COLUMNS, NaN as null). NULL when out of memory. */
static json_t *row_json(const store_curve_row *row)
{
    eir_curve_row r;
    to_curve_row(row, &r);
    return eir_json_curve_row(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* The job document                                                                           */
/* ------------------------------------------------------------------------------------------ */

/** JSON text @p text parsed, or JSON null when absent or unreadable. */
static json_t *parsed_or_null(const char *text)
{
    json_t *j = text && *text ? json_loads(text, 0, NULL) : NULL;
    return j ? j : json_null();
}

/** The latest of the rows read (store_curve_cb). */
static int keep_last(void *ctx, const store_curve_row *row)
{
    *(store_curve_row *)ctx = *row;
    return 0;
}

/**
 * The latest stored curve row of training @p t into @p row (iteration 0 when none): the row of
 * iteration progress.done, as exec_training.c reports as done the iterations whose rows are
 * stored. One short read.
 */
static store_status latest_row(store_conn *c, const store_run *t, store_curve_row *row)
{
    memset(row, 0, sizeof *row);
    if (t->progress_done < 1) return STORE_OK;
    store_status st = store_training_curve_read(c, t->id, t->progress_done - 1, 1, keep_last, row);
    if (st == STORE_OK && row->iteration != t->progress_done) memset(row, 0, sizeof *row);
    return st;
}

/**
 * The job document of training @p t. With @p full (GET of one, the answers of POST and
 * cancel), also its latest curve row; list items leave it out. Not the request (a custom
 * task's arrays may be large, and clients poll this): GET {id}/request has it. On a store
 * failure *@p st is set and NULL returned; NULL also when out of memory.
 */
static json_t *training_json(store_conn *c, const store_run *t, int full, store_status *st)
{
    *st = STORE_OK;
    json_t *j = srv_run_json(t);
    if (!j) return NULL;
    char self[64], curve[80], request[80];
    snprintf(self, sizeof self, "/v1/trainings/%s", t->id);
    snprintf(curve, sizeof curve, "/v1/trainings/%s/curve", t->id);
    snprintf(request, sizeof request, "/v1/trainings/%s/request", t->id);
    json_t *meta = parsed_or_null(t->meta_json);
    const char *model = json_string_value(json_object_get(meta, "model_id"));
    int ok = t->status == STORE_RUN_SUCCEEDED;
    json_t *links = json_pack("{s:s, s:s, s:s}", "self", self, "curve", curve, "request", request);
    if (links && ok && model) {
        char mlink[64];
        snprintf(mlink, sizeof mlink, "/v1/models/%s", model);
        json_object_set_new(links, "model", json_string(mlink));
    }
    json_object_set_new(j, "kind", json_string("training"));
    json_object_set_new(j, "task", json_string(t->subkind));
    json_object_set_new(j, "initial_model_id",
                        t->model_id[0] ? json_string(t->model_id) : json_null());
    json_object_set_new(j, "model_id", ok && model ? json_string(model) : json_null());
    json_object_set_new(j, "links", links ? links : json_null());
    json_object_del(j, "sweep"); /* runs only */
    static const char *const final_keys[] = {"loss", "evaluation", "iterations", "wall_s"};
    for (size_t i = 0; i < sizeof final_keys / sizeof *final_keys; i++) {
        json_t *v = ok ? json_object_get(meta, final_keys[i]) : NULL;
        json_object_set(j, final_keys[i], v ? v : json_null());
    }
    json_decref(meta);
    json_object_set_new(j, "error", parsed_or_null(t->error_json));
    if (!full) return j;
    store_curve_row row;
    if ((*st = latest_row(c, t, &row)) != STORE_OK) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "latest", row.iteration > 0 ? row_json(&row) : json_null());
    return j;
}

/** Queue @p status with the full job document of @p t (srv_job_kind::reply). */
static enum MHD_Result reply_training(srv_req *r, store_conn *c, unsigned status,
                                      const store_run *t)
{
    store_status st;
    json_t *j = training_json(c, t, 1, &st);
    if (!j && st != STORE_OK) return srv_problem_store(r, st, c, "the training");
    if (!j) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    return srv_reply_json(r, status, j);
}

/** Trainings as jobs (h_jobs.c): /v1/trainings shows only kind "training". */
static const srv_job_kind training_kind = {"training", "training", "trainings", "/v1/trainings",
                                           reply_training};

/* ------------------------------------------------------------------------------------------ */
/* Submit                                                                                      */
/* ------------------------------------------------------------------------------------------ */

enum MHD_Result h_trainings_create(srv_req *r)
{
    srv *s = r->s;
    const char *key;
    enum MHD_Result ret;
    if (srv_job_create_check(r, "training", &key, &ret)) return ret;
    json_t *body = srv_body_json(r, &ret);
    if (!body) return ret;
    store_conn *c = srv_thread_conn(s);
    store_run t;
    memset(&t, 0, sizeof t);
    srv_training_plan plan;
    memset(&plan, 0, sizeof plan);
    store_status st = STORE_OK;
    eir_error err;
    eir_error_clear(&err);
    char *labels = NULL;
    int not_found = 0;
    if (!c) {
        ret = srv_problem_store(r, STORE_ERROR, c, "the training");
        goto out;
    }
    if (srv_training_check(s, c, body, &plan, &st, &not_found, &err) != EIR_OK) {
        if (st != STORE_OK)
            ret = srv_problem_store(r, st, c, "the training's model");
        else if (not_found)
            ret = srv_problem(r, SRV_P_NOT_FOUND, 404, "/model", "%s", err.message);
        else
            ret = srv_problem_eir(r, &err);
        goto out;
    }
    if (srv_labels_of(r, body, &labels, &ret)) goto out;

    char body_hash[65];
    srv_sha256_hex(r->body, r->body_len, body_hash);
    store_run_new in = {.kind = "training",
                        .subkind = plan.task,
                        .model_id = plan.model_id[0] ? plan.model_id : NULL,
                        .request_json = r->body,
                        .idempotency_key = key,
                        .body_hash = body_hash,
                        .max_attempts = plan.max_attempts,
                        .priority = plan.priority,
                        .time_limit = plan.time_limit,
                        .progress_total = plan.iterations,
                        .queue_limit = s->cfg.queue_limit,
                        .labels_json = labels};
    int created = 0;
    st = store_run_create(c, &in, &t, &created);
    if (st == STORE_OK && strcmp(t.kind, "training") != 0) st = STORE_KEY_REUSED; /* another's */
    if (st == STORE_OK) {
        if (created) atomic_fetch_add(&s->metrics.trainings_submitted, 1);
        store_status jst;
        json_t *j = training_json(c, &t, 1, &jst);
        ret = srv_job_created(r, &training_kind, t.id, j ? srv_response_json(r, j) : NULL, created);
    } else if (st == STORE_NOT_FOUND) { /* deleted since the check */
        ret = srv_problem(r, SRV_P_NOT_FOUND, 404, "/model", "model %s does not exist",
                          plan.model_id);
    } else {
        ret = srv_job_not_created(r, c, st, key, in.model_id, "training");
    }
out:
    store_run_clear(&t);
    free(labels);
    json_decref(body);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Status, list, cancel, delete, request                                                      */
/* ------------------------------------------------------------------------------------------ */

enum MHD_Result h_trainings_get(srv_req *r)
{
    return srv_job_get(r, &training_kind);
}

enum MHD_Result h_trainings_cancel(srv_req *r)
{
    return srv_job_cancel(r, &training_kind);
}

enum MHD_Result h_trainings_delete(srv_req *r)
{
    return srv_job_delete(r, &training_kind);
}

enum MHD_Result h_trainings_request(srv_req *r)
{
    return srv_job_request(r, &training_kind);
}

/* A training as GET /v1/trainings lists it (srv_job_item_fn). */
static json_t *list_item(const store_run *t)
{
    store_status st;
    return training_json(NULL, t, 0, &st);
}

enum MHD_Result h_trainings_list(srv_req *r)
{
    int limit;
    const char *cursor;
    enum MHD_Result ret;
    store_run_filter f = {.status = -1, .kind = "training"};
    store_labels labels;
    char extra[SRV_LIST_QUERY_MAX] = "";
    if (srv_job_list_params(r, &f, &labels, extra, sizeof extra, &limit, &cursor, &ret)) return ret;
    const char *task = srv_query(r, "task");
    if (task && *task) {
        if (eir_task_from_name(task) < 0)
            return srv_problem_param(r, "task",
                                     "task must be one of perceptual_decision_making, "
                                     "delay_match_sample, context_decision_making, custom; not "
                                     "'%.64s'",
                                     task);
        f.subkind = task;
        srv_job_list_extra(extra, sizeof extra, "task", task);
    }
    return srv_job_list_reply(r, &training_kind, &f, cursor, limit, extra, list_item);
}

/* ------------------------------------------------------------------------------------------ */
/* The curve                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** The rows read for one answer. */
typedef struct curve_read {
    store_curve_row *rows;
    size_t n, cap;
    int oom;
} curve_read;

static int collect_row(void *ctx, const store_curve_row *row)
{
    curve_read *x = ctx;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 256;
        store_curve_row *p = realloc(x->rows, cap * sizeof *p);
        if (!p) {
            x->oom = 1;
            return 1;
        }
        x->rows = p;
        x->cap = cap;
    }
    x->rows[x->n++] = *row;
    return 0;
}

/** Parse a non-negative integer query parameter @p name into *@p v (unchanged when absent),
 *  at most @p max. @return 0, or -1 with a 400 naming it queued into *@p ret. */
static int int_param(srv_req *r, const char *name, int64_t max, int64_t *v, enum MHD_Result *ret)
{
    const char *p = srv_query(r, name);
    if (!p) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (errno || end == p || *end || *p < '0' || *p > '9' || x > max) {
        *ret = srv_problem_param(r, name, "%s must be an integer from 0 to %lld, not '%.64s'", name,
                                 (long long)max, p);
        return -1;
    }
    *v = (int64_t)x;
    return 0;
}

/** The rows as CSV text (EIR_CURVE_COLUMNS header, NaN as an empty field), malloc'ed; NULL
 *  when out of memory. */
static char *curve_csv(const curve_read *x, size_t *len)
{
    const char *head = eir_csv_curve_header();
    size_t hl = strlen(head), cap = hl + 1 + x->n * EIR_CURVE_CSV_MAX, n = hl;
    char *out = malloc(cap);
    if (!out) return NULL;
    memcpy(out, head, hl + 1);
    for (size_t k = 0; k < x->n; k++) {
        eir_curve_row r;
        to_curve_row(&x->rows[k], &r);
        n += eir_csv_curve_row(&r, out + n, cap - n);
    }
    *len = n;
    return out;
}

/** The rows as the JSON answer {"training_id", "status", "iterations_done", "iterations",
 *  "rows": [row objects], "next_after"}. NULL when out of memory. */
static json_t *curve_json(const store_run *t, const curve_read *x, int more)
{
    json_t *rows = json_array();
    for (size_t k = 0; rows && k < x->n; k++) {
        json_t *row = row_json(&x->rows[k]);
        if (!row || json_array_append_new(rows, row)) {
            json_decref(rows);
            rows = NULL;
        }
    }
    if (!rows) return NULL;
    return json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "training_id", t->id, "status",
                     store_run_status_name(t->status), "iterations_done",
                     (json_int_t)t->progress_done, "iterations", (json_int_t)t->progress_total,
                     "rows", rows, "next_after",
                     more ? json_integer(x->rows[x->n - 1].iteration) : json_null());
}

enum MHD_Result h_trainings_curve(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    enum MHD_Result ret;
    const char *format = srv_query(r, "format");
    int csv = 0;
    if (format && strcmp(format, "csv") == 0)
        csv = 1;
    else if (format && strcmp(format, "json") != 0)
        return srv_problem_param(r, "format", "format must be json or csv, not '%.32s'", format);
    int64_t after = 0, limit = CURVE_LIMIT_MAX;
    if (int_param(r, "after", INT64_MAX, &after, &ret) ||
        int_param(r, "limit", CURVE_LIMIT_MAX, &limit, &ret))
        return ret;
    if (limit < 1) return srv_problem_param(r, "limit", "limit must be at least 1");
    store_run t;
    if (srv_job_fetch(r, c, &training_kind, &t, &ret)) return ret;
    /* One row more than asked for says whether more follow. */
    curve_read x = {NULL, 0, 0, 0};
    store_status st = store_training_curve_read(c, t.id, after, limit + 1, collect_row, &x);
    if (st == STORE_OK && x.oom) st = STORE_ERROR;
    if (st != STORE_OK) {
        free(x.rows);
        store_run_clear(&t);
        if (x.oom) return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
        return srv_problem_store(r, st, c, "the curve");
    }
    int more = x.n > (size_t)limit;
    if (more) x.n = (size_t)limit;
    struct MHD_Response *resp = NULL;
    if (csv) {
        size_t len = 0;
        char *text = curve_csv(&x, &len);
        resp = text ? srv_response_take(r, text, len, "text/csv; charset=utf-8") : NULL;
    } else {
        json_t *j = curve_json(&t, &x, more);
        resp = j ? srv_response_json(r, j) : NULL;
    }
    if (resp && more) {
        char link[160];
        snprintf(link, sizeof link,
                 "</v1/trainings/%s/curve?after=%lld&limit=%lld%s>; rel=\"next\"", t.id,
                 (long long)x.rows[x.n - 1].iteration, (long long)limit, csv ? "&format=csv" : "");
        MHD_add_response_header(resp, "Link", link);
    }
    free(x.rows);
    store_run_clear(&t);
    if (!resp) return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
    return srv_reply(r, 200, resp);
}
