/**
 * @file h_jobs.c
 * @brief What the handlers of every kind of job share (/v1/runs, /v1/analyses): fetching a job
 *        of one kind (another kind's id is 404 there), the status with ?wait= long polls,
 *        cancel and delete.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "labels.h"
#include "pool.h"

/** Retry-After for a full queue: about the time the workers need to take the queue's length. */
static unsigned retry_after_full(srv *s)
{
    uint64_t n = 0, sum_us = atomic_load(&s->metrics.run_duration.sum_us);
    for (int i = 0; i <= s->metrics.run_duration.nb; i++)
        n += atomic_load(&s->metrics.run_duration.counts[i]);
    if (n == 0 || s->cfg.workers <= 0) return 5;
    double avg = (double)sum_us / 1e6 / (double)n;
    double t = ceil(avg * (double)s->cfg.queue_limit / (double)s->cfg.workers);
    return t < 1 ? 1 : t > 60 ? 60 : (unsigned)t;
}

enum MHD_Result srv_job_not_created(srv_req *r, store_conn *c, store_status st, const char *key,
                                    const char *model_id, const char *noun)
{
    srv *s = r->s;
    if (st == STORE_KEY_REUSED)
        return srv_problem(r, SRV_P_IDEMPOTENCY, 422, NULL,
                           "the Idempotency-Key '%s' was already used with a different body; use "
                           "a new key for a new %s",
                           key ? key : "", noun);
    if (st == STORE_NOT_FOUND)
        return srv_problem(r, SRV_P_INVALID, 422, "/model_id", "model %s does not exist",
                           model_id ? model_id : "");
    if (st != STORE_QUEUE_FULL) return srv_problem_store(r, st, c, noun);
    /* The store's own verdict, a status of its own (a full disk is STORE_FULL, answered by
     * srv_problem_store as storage full): counting the queue again here would race with the
     * workers, which may have claimed a run since. */
    struct MHD_Response *resp = srv_problem_response(
        r, SRV_P_QUEUE_FULL, 503, NULL, "the run queue is full (%lld runs); retry later: %s",
        (long long)s->cfg.queue_limit, store_errmsg(c));
    char ra[16];
    snprintf(ra, sizeof ra, "%u", retry_after_full(s));
    if (resp && MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra) != MHD_YES) {
        MHD_destroy_response(resp);
        resp = NULL; /* the 503 made at start, with its Retry-After */
    }
    return srv_reply(r, 503, resp);
}

int srv_job_fetch(srv_req *r, store_conn *c, const srv_job_kind *k, store_run *job,
                  enum MHD_Result *ret)
{
    memset(job, 0, sizeof *job);
    store_status st = c ? store_run_get(c, r->params[0], job) : STORE_ERROR;
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st == STORE_OK && strcmp(job->kind, k->kind) != 0) {
        store_run_clear(job);
        st = STORE_NOT_FOUND; /* another kind's job does not exist here */
    }
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s %s", k->noun, r->params[0]);
        *ret = srv_problem_store(r, st, c, what);
        return -1;
    }
    return 0;
}

int srv_wait_param(srv_req *r, double *wait, enum MHD_Result *ret)
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

/** Parse ?progress=D (a step count >= 0, only with ?wait=) into *@p done; -1 when absent.
 *  @return 0, or -1 with a 400 naming "progress" queued into *@p ret. */
static int progress_param(srv_req *r, int64_t *done, enum MHD_Result *ret)
{
    *done = -1;
    const char *p = srv_query(r, "progress");
    if (!p) return 0;
    if (!srv_query(r, "wait")) {
        *ret = srv_problem_param(r, "progress",
                                 "progress=%s needs wait=S: the answer comes when the job's "
                                 "progress.done differs from it, or at the latest after S s",
                                 p);
        return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || *end || *p < '0' || *p > '9') {
        *ret = srv_problem_param(r, "progress",
                                 "progress must be the progress.done last seen (an integer >= "
                                 "0), not '%s'",
                                 p);
        return -1;
    }
    *done = (int64_t)v;
    return 0;
}

/** Whether a long poll on @p job answers now: it ended, or (with @p done >= 0) its progress is
 *  not @p done or its status is not @p status any more (a queued job was claimed). */
static int poll_answers(const store_run *job, int64_t done, store_run_status status)
{
    return store_run_status_final(job->status) ||
           (done >= 0 && (job->progress_done != done || job->status != status));
}

enum MHD_Result srv_job_get(srv_req *r, const srv_job_kind *k)
{
    srv *s = r->s;
    store_conn *c = srv_thread_conn(s);
    store_run job;
    enum MHD_Result ret;
    if (r->poll_state == 1) {
        /* Resumed: by the job's end or progress, the deadline or shutdown. Answer with what is
         * now. */
        if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
        ret = k->reply(r, c, 200, &job);
        store_run_clear(&job);
        return ret;
    }
    double wait;
    int64_t done;
    if (srv_wait_param(r, &wait, &ret) || progress_param(r, &done, &ret)) return ret;
    uint64_t wakes = wait > 0 ? srv_waiters_wakes(s->waiters) : 0;
    if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
    store_run_status status = job.status;
    if (wait > 0 && !poll_answers(&job, done, status) && !atomic_load(&s->stopping) &&
        srv_waiters_suspend_kind(s->waiters, &r->waiter, r->con, job.id, srv_now() + wait,
                                 done >= 0 ? SRV_WAIT_PROGRESS : SRV_WAIT_END) == 0) {
        r->poll_state = 1;
        /* The job may have ended (or progressed) between the read above and the registration,
         * its wake coming before we were registered: if any wake came since the read, look
         * again, and resume at once if so. A wake after the registration finds us (both take
         * the registry's lock), so without a wake in between the read above stands. */
        if (srv_waiters_wakes(s->waiters) != wakes) {
            store_run again;
            memset(&again, 0, sizeof again);
            store_status st = store_run_get(c, job.id, &again);
            if (st != STORE_OK || poll_answers(&again, done, status))
                srv_waiters_resume(s->waiters, &r->waiter);
            store_run_clear(&again);
        }
        store_run_clear(&job);
        return MHD_YES;
    }
    ret = k->reply(r, c, 200, &job);
    store_run_clear(&job);
    return ret;
}

enum MHD_Result srv_job_request(srv_req *r, const srv_job_kind *k)
{
    store_conn *c = srv_thread_conn(r->s);
    store_run job;
    enum MHD_Result ret;
    if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
    store_run_clear(&job);
    char *req = NULL;
    store_status st = store_run_request(c, r->params[0], &req);
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s %s", k->noun, r->params[0]);
        return srv_problem_store(r, st, c, what);
    }
    return srv_reply(r, 200, srv_response_take(r, req, strlen(req), "application/json"));
}

enum MHD_Result srv_job_cancel(srv_req *r, const srv_job_kind *k)
{
    srv *s = r->s;
    store_conn *c = srv_thread_conn(s);
    const char *id = r->params[0];
    enum MHD_Result ret;
    store_run job;
    if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
    store_run_clear(&job);
    store_run_status now = STORE_RUN_QUEUED;
    store_status st = store_run_cancel(c, id, &now);
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st == STORE_CONFLICT) {
        if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
        ret = srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                          "%s %s already finished (%s); only queued and running %s can be "
                          "cancelled",
                          k->noun, id, store_run_status_name(job.status), k->plural);
        store_run_clear(&job);
        return ret;
    }
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s %s", k->noun, id);
        return srv_problem_store(r, st, c, what);
    }
    if (now == STORE_RUN_CANCELLED) srv_waiters_wake(s->waiters, id);
    if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
    /* 202: a running job stops at its next progress check; 200: it is cancelled already. */
    ret = k->reply(r, c, job.status == STORE_RUN_CANCELLED ? 200 : 202, &job);
    store_run_clear(&job);
    return ret;
}

enum MHD_Result srv_job_delete(srv_req *r, const srv_job_kind *k)
{
    store_conn *c = srv_thread_conn(r->s);
    const char *id = r->params[0];
    enum MHD_Result ret;
    store_run job;
    if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
    store_run_clear(&job);
    store_status st = store_run_delete(c, id);
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st == STORE_CONFLICT)
        return srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                           "%s %s is queued or running; cancel it first (POST "
                           "%s/%s/cancel) and delete it once it has ended",
                           k->noun, id, k->path, id);
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s %s", k->noun, id);
        return srv_problem_store(r, st, c, what);
    }
    return srv_reply_empty(r, 204);
}

/* ------------------------------------------------------------------------------------------ */
/* Create and list                                                                            */
/* ------------------------------------------------------------------------------------------ */

#define IDEMPOTENCY_KEY_MAX 255

int srv_job_create_check(srv_req *r, const char *noun, const char **key, enum MHD_Result *ret)
{
    if (atomic_load(&r->s->stopping)) {
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                           "the daemon is shutting down; submit the %s again shortly", noun);
        return -1;
    }
    *key = srv_header(r, "Idempotency-Key");
    if (*key && (!(*key)[0] || strlen(*key) > IDEMPOTENCY_KEY_MAX)) {
        *ret = srv_problem_param(r, "Idempotency-Key",
                                 "the Idempotency-Key header must have 1 to %d characters",
                                 IDEMPOTENCY_KEY_MAX);
        return -1;
    }
    return 0;
}

enum MHD_Result srv_job_created(srv_req *r, const srv_job_kind *k, const char *id,
                                struct MHD_Response *resp, int created)
{
    char loc[64];
    snprintf(loc, sizeof loc, "%s/%s", k->path, id);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
        if (!created) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    }
    if (created) srv_pool_notify(r->s->pool);
    return srv_reply(r, created ? 202 : 200, resp);
}

void srv_job_list_extra(char *extra, size_t cap, const char *name, const char *value)
{
    char enc[3 * SRV_PARAM_MAX + 1];
    srv_url_encode(value, enc, sizeof enc);
    size_t n = strlen(extra);
    snprintf(extra + n, cap - n, "%s%s=%s", n ? "&" : "", name, enc);
}

int srv_job_list_params(srv_req *r, store_run_filter *f, store_labels *labels, char *extra,
                        size_t cap, int *limit, const char **cursor, enum MHD_Result *ret)
{
    if (srv_page_params(r, limit, cursor, ret)) return -1;
    const char *status = srv_query(r, "status");
    if (status && *status) {
        f->status = store_run_status_parse(status);
        if (f->status < 0) {
            *ret = srv_problem_param(r, "status",
                                     "status must be one of queued, running, succeeded, failed, "
                                     "diverged, cancelled; not '%s'",
                                     status);
            return -1;
        }
        srv_job_list_extra(extra, cap, "status", status);
    }
    const char *model_id = srv_query(r, "model_id");
    if (model_id && *model_id) {
        if (strlen(model_id) >= SRV_PARAM_MAX) {
            *ret = srv_problem_param(r, "model_id", "model_id is too long");
            return -1;
        }
        f->model_id = model_id;
        srv_job_list_extra(extra, cap, "model_id", model_id);
    }
    if (srv_labels_query(r, labels, ret)) return -1;
    f->labels = labels->n ? labels : NULL;
    srv_labels_query_text(labels, extra, cap);
    return 0;
}

typedef struct list_ctx {
    json_t *items;
    srv_job_item_fn item;
} list_ctx;

static int list_cb(void *ctx, const store_run *job)
{
    list_ctx *l = ctx;
    json_t *j = l->item(job);
    return j ? json_array_append_new(l->items, j) : 1;
}

enum MHD_Result srv_job_list_reply(srv_req *r, const srv_job_kind *k, const store_run_filter *f,
                                   const char *cursor, int limit, const char *extra,
                                   srv_job_item_fn item)
{
    store_conn *c = srv_thread_conn(r->s);
    list_ctx l = {json_array(), item};
    char next[STORE_CURSOR_MAX] = "";
    store_status st =
        c && l.items ? store_run_list(c, f, cursor, limit, list_cb, &l, next) : STORE_ERROR;
    if (st != STORE_OK) {
        json_decref(l.items);
        if (st == STORE_INVALID)
            return srv_problem_param(r, "cursor", "the cursor is not valid: %s", store_errmsg(c));
        char what[64];
        snprintf(what, sizeof what, "the %s list", k->noun);
        return srv_problem_store(r, st, c, what);
    }
    json_t *j = json_pack("{s:o, s:o}", "items", l.items, "next_cursor",
                          next[0] ? json_string(next) : json_null());
    struct MHD_Response *resp = srv_response_json(r, j);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    srv_link_next(resp, k->path, extra, limit, next);
    return srv_reply(r, 200, resp);
}
