/**
 * @file h_sweeps.c
 * @brief /v1/sweeps (docs/SWEEPS.md): create (every point checked first, sweep_check.c; then
 *        its new models and runs stored in one transaction, 202), get with ?wait= long polls
 *        until no run of the sweep is queued or running, list (newest first, ?label=), cancel,
 *        delete, and the table (sweep_table.c).
 *
 * A sweep's status comes from its runs' counts: queued (every run queued), running (some run
 * queued or running), finished (every run final). Long polls register the sweep's id with the
 * waiters (waiters.h); the store watcher wakes them when the store says the sweep settled
 * (store_ops::runs_settled takes "s_" ids).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "offload.h"
#include "pool.h"
#include "sweeps.h"

/** Whether some run of @p sw is queued or running. */
static int sweep_active(const store_sweep *sw)
{
    return sw->by_status[STORE_RUN_QUEUED] + sw->by_status[STORE_RUN_RUNNING] > 0;
}

static const char *sweep_status(const store_sweep *sw)
{
    if (!sweep_active(sw)) return "finished";
    return sw->by_status[STORE_RUN_QUEUED] == sw->points ? "queued" : "running";
}

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0) return json_null();
    char buf[40];
    srv_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

/**
 * The sweep resource of @p sw; with @p request (the stored request) also "mode", "axes" (with
 * their values) and "models". NULL when out of memory.
 */
static json_t *sweep_json(const store_sweep *sw, const json_t *request)
{
    char self[64], table[80], runs[80];
    snprintf(self, sizeof self, "/v1/sweeps/%s", sw->id);
    snprintf(table, sizeof table, "/v1/sweeps/%s/table", sw->id);
    snprintf(runs, sizeof runs, "/v1/runs?sweep_id=%s", sw->id);
    json_t *counts = json_object();
    for (int i = 0; counts && i < STORE_RUN_NSTATUS; i++)
        json_object_set_new(counts, store_run_status_name((store_run_status)i),
                            json_integer((json_int_t)sw->by_status[i]));
    double frac = sw->progress_total > 0 ? (double)sw->progress_done / (double)sw->progress_total
                                         : (sweep_active(sw) ? 0.0 : 1.0);
    if (frac > 1) frac = 1;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I, s:o, s:{s:I, s:I, s:f}, s:o, s:o, s:o, s:{s:s, s:s, s:s}}", "id",
        sw->id, "name", sw->name ? sw->name : "", "status", sweep_status(sw), "points",
        (json_int_t)sw->points, "counts", counts ? counts : json_null(), "progress", "done",
        (json_int_t)sw->progress_done, "total", (json_int_t)sw->progress_total, "fraction", frac,
        "created_at", time_or_null(sw->created_at), "finished_at",
        sweep_active(sw) ? json_null() : time_or_null(sw->finished_at), "labels",
        srv_labels_object(sw->labels_json), "links", "self", self, "table", table, "runs", runs);
    if (!j || !request) return j;
    const json_t *mode = json_object_get(request, "mode");
    json_object_set_new(j, "mode",
                        json_string(json_is_string(mode) ? json_string_value(mode) : "grid"));
    json_t *axes = json_array();
    const json_t *ax;
    size_t i;
    json_array_foreach(json_object_get(request, "axes"), i, ax)
    {
        json_array_append_new(axes, json_pack("{s:O, s:O}", "path", json_object_get(ax, "path"),
                                              "values", json_object_get(ax, "values")));
    }
    json_object_set_new(j, "axes", axes);
    json_t *models = json_object_get(request, "models");
    json_object_set_new(j, "models", json_is_array(models) ? json_incref(models) : json_array());
    return j;
}

/** Queue @p status with the resource of @p sw (its request parsed when it has one). */
static enum MHD_Result reply_sweep(srv_req *r, unsigned status, const store_sweep *sw,
                                   const char *location, int replayed)
{
    json_t *req = sw->request_json ? json_loads(sw->request_json, 0, NULL) : NULL;
    json_t *j = sweep_json(sw, req);
    json_decref(req);
    struct MHD_Response *resp = j ? srv_response_json(r, j) : NULL;
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    if (location) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    if (replayed) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    return srv_reply(r, status, resp);
}

/** Read sweep @p id (with its request when @p with_request) into @p sw; on failure queue 404 or
 *  the store's answer into *@p ret and return -1 (*sw holds nothing). */
static int fetch(srv_req *r, store_conn *c, const char *id, int with_request, store_sweep *sw,
                 enum MHD_Result *ret)
{
    memset(sw, 0, sizeof *sw);
    store_status st = c ? store_sweep_get(c, id, with_request, sw) : STORE_ERROR;
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st == STORE_OK) return 0;
    store_sweep_clear(sw);
    char what[96];
    snprintf(what, sizeof what, "sweep %s", id);
    *ret = srv_problem_store(r, st, c, what);
    return -1;
}

/**
 * The work of POST /v1/sweeps, on the offload thread (offload.h) with its answer captured:
 * check every point, then store the sweep, its new models and its runs.
 */
static void sweeps_create_work(srv_req *r)
{
    srv *s = r->s;
    enum MHD_Result ret;
    /* Checked by h_sweeps_create() before the offload took it; not again here: a sweep the
     * offload thread has taken is finished even when the daemon began to stop meanwhile (the
     * ones still waiting get their 503 from srv_offload_shutdown()). Asking srv_job_create_check()
     * again answered 503 to the sweep taken just before a SIGTERM, when this thread had not yet
     * run (seen under load: api/pg/sweep_offload "shutdown", every POST 503). */
    const char *key = srv_header(r, "Idempotency-Key");
    json_t *body = srv_body_json(r, &ret);
    if (!body) return;
    store_conn *c = srv_thread_conn(s);
    srv_sweep_plan plan;
    if (srv_sweep_check(r, c, body, &plan, &ret)) {
        json_decref(body);
        return;
    }
    char body_hash[65];
    srv_sha256_hex(r->body, r->body_len, body_hash);
    const char *name = json_string_value(json_object_get(body, "name"));
    store_sweep_new in = {.id = plan.id,
                          .request_json = plan.stored_json,
                          .name = name,
                          .labels_json = plan.labels_json,
                          .idempotency_key = key,
                          .body_hash = body_hash,
                          .models = plan.models,
                          .n_models = plan.n_models,
                          .runs = plan.runs,
                          .n_runs = plan.n_runs,
                          .queue_limit = s->cfg.queue_limit};
    store_sweep sw;
    memset(&sw, 0, sizeof sw);
    int created = 0;
    store_status st = store_sweep_create(c, &in, &sw, &created);
    if (st != STORE_OK) {
        ret = srv_job_not_created(r, c, st, key,
                                  json_string_value(json_object_get(body, "model_id")), "sweep");
    } else {
        char loc[64];
        snprintf(loc, sizeof loc, "/v1/sweeps/%s", sw.id);
        if (created) {
            atomic_fetch_add(&s->metrics.runs_submitted, (uint64_t)plan.n_runs);
            atomic_fetch_add(&s->metrics.sweeps_submitted, 1);
            srv_pool_notify(s->pool); /* its models and runs are queued */
            sw.request_json = plan.stored_json;
            ret = reply_sweep(r, 202, &sw, loc, 0);
            sw.request_json = NULL; /* the plan's */
        } else {
            store_sweep again;
            if (fetch(r, c, sw.id, 1, &again, &ret) == 0) {
                ret = reply_sweep(r, 200, &again, loc, 1);
                store_sweep_clear(&again);
            }
        }
    }
    (void)ret; /* the answer is captured (offload.h) */
    store_sweep_clear(&sw);
    srv_sweep_plan_free(&plan);
    json_decref(body);
}

enum MHD_Result h_sweeps_create(srv_req *r)
{
    if (r->poll_state == SRV_POLL_OFFLOADED) return srv_reply_captured(r); /* work done */
    const char *key;
    enum MHD_Result ret;
    if (srv_job_create_check(r, "sweep", &key, &ret)) return ret;
    /* Checking the points costs more than the body's size: never on an HTTP thread. */
    switch (srv_offload_submit(r->s->offload, r, sweeps_create_work)) {
    case SRV_OFFLOAD_QUEUED:
        return MHD_YES;
    case SRV_OFFLOAD_FULL:
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                           "the daemon is checking other sweeps (%d wait already); retry "
                           "shortly",
                           SRV_OFFLOAD_MAX_WAITING);
    default:
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "the daemon is stopping");
    }
}

/** Parse ?wait= into *@p wait (capped at --long-poll-max). -1 with a 400 queued when bad. */
static int wait_param(srv_req *r, double *wait, enum MHD_Result *ret)
{
    *wait = 0;
    const char *w = srv_query(r, "wait");
    if (!w) return 0;
    char *end;
    errno = 0;
    double v = strtod(w, &end);
    if (errno || end == w || *end || !(v >= 0) || !isfinite(v)) {
        *ret = srv_problem_param(r, "wait", "wait must be a number of seconds >= 0, not '%s'", w);
        return -1;
    }
    *wait = v > r->s->cfg.long_poll_max ? r->s->cfg.long_poll_max : v;
    return 0;
}

enum MHD_Result h_sweeps_get(srv_req *r)
{
    srv *s = r->s;
    store_conn *c = srv_thread_conn(s);
    const char *id = r->params[0];
    store_sweep sw;
    enum MHD_Result ret;
    if (r->poll_state == 1) { /* resumed: the sweep settled, the deadline, or shutdown */
        if (fetch(r, c, id, 1, &sw, &ret)) return ret;
        ret = reply_sweep(r, 200, &sw, NULL, 0);
        store_sweep_clear(&sw);
        return ret;
    }
    double wait;
    if (wait_param(r, &wait, &ret)) return ret;
    uint64_t wakes = wait > 0 ? srv_waiters_wakes(s->waiters) : 0;
    if (fetch(r, c, id, 1, &sw, &ret)) return ret;
    if (wait > 0 && sweep_active(&sw) && !atomic_load(&s->stopping) &&
        srv_waiters_suspend(s->waiters, &r->waiter, r->con, sw.id, srv_now() + wait) == 0) {
        r->poll_state = 1;
        /* As srv_job_get(): a wake between the read and the registration is looked for. */
        if (srv_waiters_wakes(s->waiters) != wakes) {
            store_sweep again;
            memset(&again, 0, sizeof again);
            store_status st = store_sweep_get(c, sw.id, 0, &again);
            if (st != STORE_OK || !sweep_active(&again)) srv_waiters_resume(s->waiters, &r->waiter);
            store_sweep_clear(&again);
        }
        store_sweep_clear(&sw);
        return MHD_YES;
    }
    ret = reply_sweep(r, 200, &sw, NULL, 0);
    store_sweep_clear(&sw);
    return ret;
}

typedef struct list_ctx {
    json_t *items;
} list_ctx;

static int list_cb(void *ctx, const store_sweep *sw)
{
    list_ctx *l = ctx;
    json_t *j = sweep_json(sw, NULL);
    return j ? json_array_append_new(l->items, j) : 1;
}

enum MHD_Result h_sweeps_list(srv_req *r)
{
    int limit;
    const char *cursor;
    enum MHD_Result ret;
    if (srv_page_params(r, &limit, &cursor, &ret)) return ret;
    store_labels labels;
    char extra[SRV_LIST_QUERY_MAX] = "";
    if (srv_labels_query(r, &labels, &ret)) return ret;
    srv_labels_query_text(&labels, extra, sizeof extra);
    store_conn *c = srv_thread_conn(r->s);
    list_ctx l = {json_array()};
    char next[STORE_CURSOR_MAX] = "";
    store_status st =
        c && l.items ? store_sweep_list(c, &labels, cursor, limit, list_cb, &l, next) : STORE_ERROR;
    if (st != STORE_OK) {
        json_decref(l.items);
        if (st == STORE_INVALID)
            return srv_problem_param(r, "cursor", "the cursor is not valid: %s", store_errmsg(c));
        return srv_problem_store(r, st, c, "the sweep list");
    }
    json_t *j = json_pack("{s:o, s:o}", "items", l.items, "next_cursor",
                          next[0] ? json_string(next) : json_null());
    struct MHD_Response *resp = srv_response_json(r, j);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    srv_link_next(resp, "/v1/sweeps", extra, limit, next);
    return srv_reply(r, 200, resp);
}

enum MHD_Result h_sweeps_cancel(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    const char *id = r->params[0];
    enum MHD_Result ret;
    store_sweep sw;
    if (fetch(r, c, id, 0, &sw, &ret)) return ret;
    store_sweep_clear(&sw);
    int64_t affected = 0;
    store_status st = store_sweep_cancel(c, id, &affected);
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "sweep %s", id);
        return srv_problem_store(r, st, c, what);
    }
    /* Its cancelled runs' and its own long polls are woken by the store watcher. */
    if (fetch(r, c, id, 1, &sw, &ret)) return ret;
    ret = reply_sweep(r, 202, &sw, NULL, 0);
    store_sweep_clear(&sw);
    return ret;
}

enum MHD_Result h_sweeps_delete(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    const char *id = r->params[0];
    int64_t active = 0;
    store_status st = c ? store_sweep_delete(c, id, &active) : STORE_ERROR;
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st == STORE_CONFLICT)
        return srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                           "sweep %s has %lld runs queued or running; cancel it first (POST "
                           "/v1/sweeps/%s/cancel) and delete it once they have ended",
                           id, (long long)active, id);
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "sweep %s", id);
        return srv_problem_store(r, st, c, what);
    }
    return srv_reply_empty(r, 204);
}

enum MHD_Result h_sweeps_table(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    store_sweep sw;
    enum MHD_Result ret;
    if (fetch(r, c, r->params[0], 1, &sw, &ret)) return ret;
    ret = srv_sweep_table_reply(r, c, &sw);
    store_sweep_clear(&sw);
    return ret;
}
