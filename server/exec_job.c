/**
 * @file exec_job.c
 * @brief What every kind of job shares on a worker (exec_job.h): progress, cancel, the
 *        wall-clock limit and the release at shutdown; the error object; the finish that stores
 *        a job's arrays, status, metadata and error in one transaction.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_clock.h"
#include "changes.h"
#include "exec_job.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "eirnnd stores results as the host's bytes, which must be little-endian (as .npy says)"
#endif

/**
 * Seconds between progress writes (each is one short transaction), which also read whether a
 * cancel was asked for: with the engine calling the progress callback inside long steps every
 * EIR_PROGRESS_POLL_SECONDS, a cancel is seen within this plus 0.1 s and a work item.
 */
#define PROGRESS_PERIOD 0.25

/** Bytes handed to store_result_append() at a time. */
#define APPEND_PIECE ((size_t)4 << 20)

int srv_exec_progress(void *ctx, int64_t done, int64_t total)
{
    srv_exec_ctx *x = ctx;
    double t = srv_now();
    if (atomic_load(x->release)) {
        x->stop = SRV_STOP_RELEASE;
        return 1;
    }
    if (x->deadline > 0 && t > x->deadline) {
        int cancel = 0;
        x->last = t;
        store_status st = store_run_progress(x->c, x->job_id, x->attempt, done, total, &cancel);
        x->stop = st == STORE_CONFLICT       ? SRV_STOP_LOST
                  : st == STORE_OK && cancel ? SRV_STOP_CANCEL
                                             : SRV_STOP_TIME;
        return 1;
    }
    if (t - x->last >= PROGRESS_PERIOD) {
        x->last = t;
        int cancel = 0;
        store_status st = store_run_progress(x->c, x->job_id, x->attempt, done, total, &cancel);
        if (st == STORE_CONFLICT) { /* the lease is lost: another daemon has the run now */
            x->stop = SRV_STOP_LOST;
            return 1;
        }
        if (st == STORE_OK) { /* the page's live progress (?progress=D, /v1/changes) */
            srv_changes_bump(x->s);
            srv_waiters_wake_progress(x->s->waiters, x->job_id);
        }
        if (st == STORE_OK && cancel) {
            x->stop = SRV_STOP_CANCEL;
            return 1;
        }
    }
    return 0;
}

int srv_exec_cancelled(void *ctx)
{
    srv_exec_cancel_ctx *b = ctx;
    if (!b->c) b->c = store_connect(b->store);
    store_run r;
    memset(&r, 0, sizeof r);
    int cancel = b->c && store_run_get(b->c, b->job_id, &r) == STORE_OK && r.cancel_requested;
    store_run_clear(&r);
    return cancel;
}

char *srv_exec_error_text(const char *field, unsigned status, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *o =
        srv_problem_json(SRV_P_RUN_FAILED, status, NULL, field && *field ? field : NULL, detail);
    char *s = o ? srv_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/**
 * Store the final state: arrays (if any), status, meta and error, in one finish transaction,
 * retried with backoff while the database is busy. With @p next (not NULL), the same transaction
 * claims the worker's next job into it (zeroed when none; see store_finish_commit_claim()).
 * @return the last store status.
 */
static store_status store_final(store_conn *c, const store_run *job, store_run_status status,
                                const srv_exec_array *arr, int narr, const char *meta,
                                const char *error, const srv_exec_hook *hook, store_run *next)
{
    store_status st = STORE_ERROR;
    double wait = 0.1;
    for (int attempt = 0; attempt < 6; attempt++) {
        st = store_finish_begin(c, job->id, job->attempts);
        for (int i = 0; st == STORE_OK && i < narr; i++) {
            st = store_result_begin(c, arr[i].name, arr[i].dtype, arr[i].ndim, arr[i].shape);
            const unsigned char *p = arr[i].data;
            for (size_t off = 0; st == STORE_OK && off < arr[i].bytes; off += APPEND_PIECE) {
                size_t n = arr[i].bytes - off < APPEND_PIECE ? arr[i].bytes - off : APPEND_PIECE;
                st = store_result_append(c, p + off, n);
            }
            /* The store hashes the bytes as they are appended (one pass, not two). */
            if (st == STORE_OK) st = store_result_end(c, NULL);
        }
        /* the kind's own writes in the same transaction (a training's model), which may give
         * the metadata that is stored */
        if (st == STORE_OK && hook) st = hook->fn(hook->ctx, c, &meta);
        /* a job claimed by an attempt whose sync failed is kept, not claimed over */
        store_run *claim = next && !next->id[0] ? next : NULL;
        if (st == STORE_OK) st = store_finish_commit_claim(c, status, meta, error, claim);
        if (st == STORE_OK) return st;
        store_finish_abort(c);
        if (st == STORE_CONFLICT || st == STORE_NOT_FOUND || st == STORE_INVALID) return st;
        eir_clock_sleep(wait);
        wait *= 2;
    }
    return st;
}

void srv_exec_finish(srv *s, store_conn *c, const store_run *job, store_run_status status,
                     const srv_exec_array *arr, int narr, const char *meta, const char *error,
                     int64_t steps_done, double t0, const atomic_int *release, store_run *next)
{
    srv_exec_finish_hooked(s, c, job, status, arr, narr, meta, error, NULL, steps_done, t0, release,
                           next);
}

void srv_exec_finish_hooked(srv *s, store_conn *c, const store_run *job, store_run_status status,
                            const srv_exec_array *arr, int narr, const char *meta,
                            const char *error, const srv_exec_hook *hook, int64_t steps_done,
                            double t0, const atomic_int *release, store_run *next)
{
    double keep_results_until = srv_now() + 60.0;
    if (atomic_load(release)) next = NULL; /* the daemon stops: claim nothing more */
    store_status fst = store_final(c, job, status, arr, narr, meta, error, hook, next);
    char *e2 = NULL;
    while (fst != STORE_OK && fst != STORE_CONFLICT && fst != STORE_NOT_FOUND) {
        /* a hook's write the store refuses (STORE_INVALID) is given up at once */
        if ((narr > 0 || hook) &&
            (srv_now() >= keep_results_until || (hook && fst == STORE_INVALID))) {
            e2 = srv_exec_error_text(NULL, 500, "the results could not be stored: %s",
                                     store_errmsg(c));
            status = STORE_RUN_FAILED;
            narr = 0;
            hook = NULL;
        }
        if (atomic_load(release)) break;
        eir_clock_sleep(1.0);
        fst = store_final(c, job, status, arr, narr, meta, e2 ? e2 : error, hook, next);
    }
    free(e2);
    if (fst == STORE_CONFLICT) { /* fenced: another daemon has the run now; nothing was kept */
        srv_exec_lease_lost(s, job, "finish", store_errmsg(c), t0);
        return;
    }
    double dur = srv_now() - t0;
    int is_run = strcmp(job->kind, "run") == 0;
    if (fst == STORE_OK && is_run) {
        atomic_fetch_add(&s->metrics.runs_finished[status], 1);
        srv_hist_observe(&s->metrics.run_duration, dur);
    }
    if (fst == STORE_OK && strcmp(job->kind, "training") == 0)
        atomic_fetch_add(&s->metrics.trainings_finished[status], 1);
    srv_log(is_run                               ? "run_finished"
            : strcmp(job->kind, "training") == 0 ? "training_finished"
                                                 : "analysis_finished",
            json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:s?}", "run_id", job->id, "status",
                      store_run_status_name(status), "store", store_status_name(fst), "duration_s",
                      dur, "steps_done", (json_int_t)steps_done, "steps_total",
                      (json_int_t)job->progress_total, "error",
                      fst == STORE_OK ? NULL : store_errmsg(c)));
    srv_changes_bump(s);
    srv_waiters_wake(s->waiters, job->id);
}

void srv_exec_lease_lost(srv *s, const store_run *job, const char *where, const char *why,
                         double t0)
{
    atomic_fetch_add(&s->metrics.leases_lost, 1);
    srv_log("lease_lost", json_pack("{s:s, s:s, s:i, s:s, s:s, s:f}", "run_id", job->id, "kind",
                                    job->kind, "attempt", job->attempts, "at", where, "message",
                                    why ? why : "", "duration_s", srv_now() - t0));
}

void srv_exec_release(srv *s, store_conn *c, const store_run *job, const char *reason, int shutdown,
                      int64_t steps_done, double t0)
{
    store_run_status now = STORE_RUN_QUEUED;
    store_status rst = store_run_release(c, job->id, job->attempts, &now);
    if (rst == STORE_CONFLICT) {
        srv_exec_lease_lost(s, job, "release", store_errmsg(c), t0);
        return;
    }
    if (shutdown) atomic_fetch_add(&s->metrics.runs_released, 1);
    srv_log("run_released",
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:f}", "run_id", job->id, "kind", job->kind,
                      "reason", reason, "now", store_run_status_name(now), "store",
                      store_status_name(rst), "steps_done", (json_int_t)steps_done, "duration_s",
                      srv_now() - t0));
    if (rst != STORE_OK) return;
    srv_changes_bump(s);
    if (now == STORE_RUN_CANCELLED)
        srv_waiters_wake(s->waiters, job->id);
    else /* queued again: a progress long poll sees the status change */
        srv_waiters_wake_progress(s->waiters, job->id);
}

json_t *srv_exec_request(const store_run *job, char **error)
{
    json_error_t je;
    srv_json_oom_set(0);
    json_t *req =
        json_loads(job->request_json ? job->request_json : "", JSON_REJECT_DUPLICATES, &je);
    if (srv_json_oom()) { /* a value may have been cut short silently (srv.h) */
        json_decref(req);
        *error = srv_exec_error_text(NULL, 500, "out of memory reading the stored request");
        return NULL;
    }
    if (!req || !json_is_object(req)) {
        json_decref(req);
        *error =
            srv_exec_error_text(NULL, 500, "the stored request is not a JSON object: %s", je.text);
        return NULL;
    }
    return req;
}
