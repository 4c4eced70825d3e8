/**
 * @file exec_analysis.c
 * @brief Execute one claimed analysis (pool.h srv_exec_analysis()): its stored request goes to
 *        srv_analysis_execute() (analysis.h) under the machinery every job shares (exec_job.h):
 *        progress and cancel through the store, the wall-clock limit, the release at shutdown,
 *        and the finish that stores its arrays, its summary and its final status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "build_guard.h"
#include "exec_job.h"
#include "pool.h"

/** The stored metadata of a finished analysis: {"summary", "tool", "attempt"} as JSON text
 *  (takes @p summary, may be NULL). NULL when out of memory. */
static char *meta_text_of(json_t *summary, const store_run *job)
{
    json_t *meta =
        json_pack("{s:o, s:{s:s, s:s}, s:i}", "summary", summary ? summary : json_null(), "tool",
                  "name", "eirnnd", "version", EIRNN_VERSION, "attempt", job->attempts);
    if (!meta) return NULL;
    char *text = srv_json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(meta);
    return text;
}

/** The arrays of @p o as the finish takes them, into @p arr (o->narrays entries). */
static void arrays_of(const srv_analysis_outcome *o, srv_exec_array *arr)
{
    for (int i = 0; i < o->narrays; i++) {
        const srv_array *a = &o->arrays[i];
        arr[i] = (srv_exec_array){a->name, a->dtype, a->ndim, a->shape, a->data, a->bytes};
    }
}

void srv_exec_analysis(srv *s, store_conn *c, store_run *job, const atomic_int *release,
                       store_run *next)
{
    double t0 = srv_now();
    srv_log("analysis_claimed", json_pack("{s:s, s:s, s:i}", "run_id", job->id, "analysis",
                                          job->subkind, "attempt", job->attempts));
    srv_exec_ctx x = {.s = s,
                      .c = c,
                      .job_id = job->id,
                      .attempt = job->attempts,
                      .last = t0,
                      .release = release};
    if (job->time_limit > 0) x.deadline = t0 + job->time_limit;
    eir_error err;
    eir_error_clear(&err);
    srv_analysis_outcome out;
    memset(&out, 0, sizeof out);
    char *error = NULL, *meta = NULL;
    srv_exec_array *arr = NULL;
    int narr = 0;
    store_run_status status = STORE_RUN_FAILED;

    json_t *req = srv_exec_request(job, &error);
    if (!req) goto finish;

    /* The guard stops the work where the progress callback is not called (a model's build, an
     * eigensolver): at shutdown, past the time limit, or for a cancel. */
    srv_exec_cancel_ctx bc = {.store = s->store, .job_id = job->id};
    srv_build_guard guard;
    srv_build_guard_begin(&guard, &s->stopping, job->time_limit, srv_exec_cancelled, &bc);
    store_status st = STORE_OK;
    eir_status est = srv_analysis_execute(s, c, job->id, req, srv_exec_progress, &x, guard.stop,
                                          &out, &st, &err);
    srv_guard_why why = srv_build_guard_end(&guard);
    store_disconnect(bc.c);

    if (x.stop == SRV_STOP_LOST) { /* another daemon has the analysis: write nothing */
        srv_exec_lease_lost(s, job, "progress", store_errmsg(c), t0);
        goto out;
    }
    /* An analysis that ended by itself is stored even when the daemon stops meanwhile. */
    if (est != EIR_OK && (x.stop == SRV_STOP_RELEASE || why == SRV_GUARD_SHUTDOWN)) {
        srv_exec_release(s, c, job, "the daemon stops", 1, 0, t0);
        goto out;
    }
    if (est != EIR_OK && st != STORE_OK) {
        /* The store could not give the analysis what it reads: a later attempt will. */
        char reason[320];
        snprintf(reason, sizeof reason, "store error reading the analysis's inputs: %s",
                 store_errmsg(c));
        srv_exec_release(s, c, job, reason, 0, 0, t0);
        goto out;
    }
    int cancelled = x.stop == SRV_STOP_CANCEL || why == SRV_GUARD_CANCEL;
    int timed_out = x.stop == SRV_STOP_TIME || why == SRV_GUARD_TIME;
    if (est == EIR_OK) {
        status = STORE_RUN_SUCCEEDED;
        arr = out.narrays > 0 ? calloc((size_t)out.narrays, sizeof *arr) : NULL;
        if (out.narrays > 0 && !arr) {
            status = STORE_RUN_FAILED;
            error = srv_exec_error_text(NULL, 500, "out of memory storing the results");
            goto finish;
        }
        if (arr) arrays_of(&out, arr);
        narr = out.narrays;
        meta = meta_text_of(out.summary, job);
        out.summary = NULL; /* taken */
        if (!meta) {
            status = STORE_RUN_FAILED;
            narr = 0;
            error = srv_exec_error_text(NULL, 500, "out of memory writing the summary");
        }
    } else if (est == EIR_ECANCELLED && cancelled) {
        status = STORE_RUN_CANCELLED;
    } else if (est == EIR_ECANCELLED && timed_out) {
        error = srv_exec_error_text(NULL, 500,
                                    "the analysis exceeded its wall-clock limit of %g s; ask "
                                    "for less work or a longer \"time_limit\"",
                                    job->time_limit);
    } else {
        error = srv_exec_error_text(err.field, est == EIR_EINVAL ? 422 : 500, "%s", err.message);
    }

finish:
    srv_exec_finish(s, c, job, status, arr, narr, meta, error, 0, t0, release, next);

out:
    free(arr);
    free(error);
    free(meta);
    srv_analysis_outcome_free(&out);
    json_decref(req);
}
