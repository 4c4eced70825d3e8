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

enum MHD_Result srv_job_get(srv_req *r, const srv_job_kind *k)
{
    srv *s = r->s;
    store_conn *c = srv_thread_conn(s);
    store_run job;
    enum MHD_Result ret;
    if (r->poll_state == 1) {
        /* Resumed: by the job's end, the deadline or shutdown. Answer with what is now. */
        if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
        ret = k->reply(r, c, 200, &job);
        store_run_clear(&job);
        return ret;
    }
    double wait = 0;
    const char *w = srv_query(r, "wait");
    if (w) {
        char *end;
        errno = 0;
        wait = strtod(w, &end);
        if (errno || end == w || *end || !(wait >= 0) || !isfinite(wait))
            return srv_problem_param(r, "wait", "wait must be a number of seconds >= 0, not '%s'",
                                     w);
        if (wait > s->cfg.long_poll_max) wait = s->cfg.long_poll_max;
    }
    uint64_t wakes = wait > 0 ? srv_waiters_wakes(s->waiters) : 0;
    if (srv_job_fetch(r, c, k, &job, &ret)) return ret;
    if (wait > 0 && !store_run_status_final(job.status) && !atomic_load(&s->stopping) &&
        srv_waiters_suspend(s->waiters, &r->waiter, r->con, job.id, srv_now() + wait) == 0) {
        r->poll_state = 1;
        /* The job may have ended between the read above and the registration, its wake coming
         * before we were registered: if any wake came since the read, look again, and resume at
         * once if so. A wake after the registration finds us (both take the registry's lock),
         * so without a wake in between the read above stands. */
        if (srv_waiters_wakes(s->waiters) != wakes) {
            store_run again;
            memset(&again, 0, sizeof again);
            store_status st = store_run_get(c, job.id, &again);
            if (st != STORE_OK || store_run_status_final(again.status))
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
