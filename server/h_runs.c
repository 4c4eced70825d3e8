/**
 * @file h_runs.c
 * @brief /v1/runs (jobs of kind "run"; h_jobs.c has what analyses share): submit (validated now
 * against the model's shape, never building a generated model here; queued in one short
 * transaction, 202), idempotent retries, status with ?wait= long polls, list with filters, cancel,
 * delete.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "labels.h"
#include "model_resolve.h"
#include "pool.h"
#include "run_budget.h"
#include "run_refs.h"

/** Longest Idempotency-Key accepted. */

/** Queue the answer with a run's status resource. */
static enum MHD_Result reply_run(srv_req *r, unsigned status, const store_run *run,
                                 const char *extra_header, const char *extra_value)
{
    size_t len;
    char *text = srv_run_resource(run, 1, &len);
    if (!text) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    struct MHD_Response *resp = srv_response_take(r, text, len, "application/json");
    if (resp && extra_header) MHD_add_response_header(resp, extra_header, extra_value);
    return srv_reply(r, status, resp);
}

/**
 * The run pipeline's first steps without the model's build: the run is checked against its
 * model's shape (from the cache or the stored document, or an inline model's without generating
 * its recipes: eir_pipe_check()), a seed picked for a noisy run; the worker builds. An inline
 * model without a recipe is built here, as its build is linear in the request's size (and then
 * every check of the engine answers now), unless the model cache has it (by content); the build
 * goes to the cache, where the run's worker finds it (model_resolve.h). The pipeline keeps using
 * @p res and @p cfg until
 * eir_pipe_free() (it releases the model through them), so they belong to the caller. On failure
 * queues the answer (422 naming the field, or the store's 5xx) into *ret and returns NULL.
 */
static eir_pipe *prepare_run(srv_req *r, store_conn *c, srv_resolver *res, eir_pipe_config *cfg,
                             json_t *body, enum MHD_Result *ret)
{
    srv_pipe_config(r->s, c, res, cfg);
    eir_pipe *p = NULL;
    eir_pipe_stage at;
    eir_error err;
    eir_error_clear(&err);
    const json_t *inl = json_object_get(body, "model");
    int build_here = json_is_object(inl) && !json_object_get(body, "model_id") &&
                     !eir_json_model_has_recipe(inl);
    if ((build_here ? eir_pipe_prepare(body, cfg, &p, &at, &err)
                    : eir_pipe_check(body, cfg, &p, &at, &err)) == EIR_OK)
        return p;
    if (res->status == SRV_MC_STORE && at != EIR_PIPE_MODEL) /* reading the run V0 names */
        *ret = srv_problem_store(r, res->store, c, "the run named by V0");
    else if (at == EIR_PIPE_MODEL && res->status == SRV_MC_NOT_FOUND)
        *ret = srv_problem(r, SRV_P_INVALID, 422, "/model_id",
                           "model %s does not exist (create it with POST /v1/models, or put "
                           "the model inline under \"model\")",
                           json_string_value(json_object_get(body, "model_id")));
    else if (at == EIR_PIPE_MODEL && res->status == SRV_MC_STORE)
        *ret = srv_problem_store(r, res->store, c, "the model");
    else if (at == EIR_PIPE_SEED)
        *ret = srv_problem(r, SRV_P_INTERNAL, 500, NULL, "%s", err.message);
    else
        *ret = srv_problem_eir(r, &err);
    return NULL;
}

/**
 * The request text to store: the body as sent or, when the pipeline picked a seed for a noisy
 * run, the body with that seed, so that a retry after a crash gives the same bytes and the
 * metadata names the seed. *owned gets the allocated text to free (NULL when none).
 * @return the text, or NULL when out of memory (jansson's failures included, srv.h).
 */
static const char *request_to_store(srv_req *r, json_t *body, const eir_pipe *p, char **owned)
{
    *owned = NULL;
    if (!p->seed_picked) return r->body;
    /* Checked dump: plain json_dumps() can lose bytes when out of memory (srv.h). */
    if (json_object_set_new(body, "seed", json_integer((json_int_t)p->spec_run->desc.seed)) != 0)
        return NULL;
    *owned = srv_json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
    return *owned;
}

/** The job document of a run (srv_job_kind::reply). */
static enum MHD_Result reply_run_job(srv_req *r, store_conn *c, unsigned status,
                                     const store_run *run)
{
    (void)c;
    return reply_run(r, status, run, NULL, NULL);
}

/** Runs as jobs (h_jobs.c): /v1/runs shows only kind "run". */
static const srv_job_kind run_kind = {"run", "run", "runs", "/v1/runs", reply_run_job};

enum MHD_Result h_runs_create(srv_req *r)
{
    srv *s = r->s;
    const char *key;
    enum MHD_Result ret;
    if (srv_job_create_check(r, "run", &key, &ret)) return ret;
    json_t *body = srv_body_json(r, &ret);
    if (!body) return ret;

    char *owned = NULL, *labels = NULL;
    store_conn *c = srv_thread_conn(s);
    store_run run;
    memset(&run, 0, sizeof run);
    srv_resolver res;
    eir_pipe_config cfg;
    eir_pipe *p = prepare_run(r, c, &res, &cfg, body, &ret);
    if (!p) goto out;
    if (srv_run_refs_check(r, c, p, &ret)) goto out;     /* "V0": {"run_id": ...} */
    if (srv_run_over_budget(r, body, p, &ret)) goto out; /* issue 10, item 8 (run_budget.c) */
    if (srv_labels_of(r, body, &labels, &ret)) goto out;
    const char *request_json = request_to_store(r, body, p, &owned);
    if (!request_json || srv_json_oom()) { /* what was validated may not be what was sent */
        ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
        goto out;
    }
    const eir_run_spec *rs = p->spec_run;
    double tl = s->cfg.run_time_limit;
    if (rs->time_limit > 0 && (tl <= 0 || rs->time_limit < tl)) tl = rs->time_limit;

    char body_hash[65];
    srv_sha256_hex(r->body, r->body_len, body_hash);
    store_run_new in = {.model_id = p->model_id,
                        .request_json = request_json,
                        .idempotency_key = key,
                        .body_hash = body_hash,
                        .max_attempts = s->cfg.max_attempts,
                        .time_limit = tl,
                        .progress_total = rs->desc.T,
                        .queue_limit = s->cfg.queue_limit,
                        .labels_json = labels};
    int created = 0;
    store_status st = c ? store_run_create(c, &in, &run, &created) : STORE_ERROR;
    if (st == STORE_OK && strcmp(run.kind, "run") != 0) st = STORE_KEY_REUSED; /* an analysis's */
    if (st == STORE_OK) {
        size_t len;
        char *text = srv_run_resource(&run, 1, &len);
        if (created) atomic_fetch_add(&s->metrics.runs_submitted, 1);
        ret = srv_job_created(r, &run_kind, run.id,
                              text ? srv_response_take(r, text, len, "application/json") : NULL,
                              created);
    } else {
        ret = srv_job_not_created(r, c, st, key, p->model_id, "run");
    }
out:
    store_run_clear(&run);
    free(owned);
    free(labels);
    eir_pipe_free(p);
    json_decref(body);
    return ret;
}

enum MHD_Result h_runs_get(srv_req *r)
{
    return srv_job_get(r, &run_kind);
}

/* A run as GET /v1/runs lists it: without meta, with its error (srv_job_item_fn). */
static json_t *list_item(const store_run *run)
{
    json_t *j = srv_run_json(run);
    if (!j) return NULL;
    json_t *e = NULL;
    if (run->error_json && *run->error_json) e = json_loads(run->error_json, 0, NULL);
    json_object_set_new(j, "error", e ? e : json_null());
    return j;
}

enum MHD_Result h_runs_list(srv_req *r)
{
    int limit;
    const char *cursor;
    enum MHD_Result ret;
    store_run_filter f = {.status = -1, .model_id = NULL, .kind = "run"};
    store_labels labels;
    char extra[SRV_LIST_QUERY_MAX] = "";
    if (srv_job_list_params(r, &f, &labels, extra, sizeof extra, &limit, &cursor, &ret)) return ret;
    const char *sweep_id = srv_query(r, "sweep_id");
    if (sweep_id && *sweep_id) {
        if (strlen(sweep_id) >= SRV_PARAM_MAX)
            return srv_problem_param(r, "sweep_id", "sweep_id is too long");
        f.sweep_id = sweep_id;
        srv_job_list_extra(extra, sizeof extra, "sweep_id", sweep_id);
    }
    return srv_job_list_reply(r, &run_kind, &f, cursor, limit, extra, list_item);
}

enum MHD_Result h_runs_cancel(srv_req *r)
{
    return srv_job_cancel(r, &run_kind);
}

enum MHD_Result h_runs_delete(srv_req *r)
{
    return srv_job_delete(r, &run_kind);
}

enum MHD_Result h_runs_request(srv_req *r)
{
    return srv_job_request(r, &run_kind);
}
