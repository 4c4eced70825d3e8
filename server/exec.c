/**
 * @file exec.c
 * @brief Execute one claimed job: an analysis goes to srv_exec_analysis() (exec_analysis.c); a run
 *        goes through the run pipeline that `eirnn simulate` uses too
 *        (runner/include/eir_runner.h: parse → resolve → build → run → metadata), with what is
 *        the daemon's own here: results written to the store, progress and cancellation through
 *        the store, a wall-clock limit, and release back to the queue at shutdown.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_guard.h"
#include "eir_clock.h"
#include "eir_meta.h"
#include "http.h"
#include "model_resolve.h"
#include "exec_job.h"
#include "pool.h"
#include "run_refs.h"
#include "trainings.h"

/** Most arrays a run stores: its recorded variables and its final state. */
#define RUN_ARRAYS (EIR_NVARS + 1)

/**
 * The arrays of a pipeline's outputs as the finish takes them into @p arr (RUN_ARRAYS): the
 * recorded variables (3-D) and, for a run that integrated to its end, its final state
 * "V_final" (2-D [B, N]), which another run may start from (run_refs.h). @return their number.
 */
static int outputs_of(const eir_pipe *p, srv_exec_array arr[])
{
    int n = 0;
    for (int i = 0; i < p->nout; i++)
        arr[n++] = (srv_exec_array){p->out[i].name,  p->out[i].dtype, 3,
                                    p->out[i].shape, p->out[i].data,  p->out[i].bytes};
    if (p->final.data)
        arr[n++] = (srv_exec_array){SRV_V_FINAL,    p->final.dtype, 2,
                                    p->final.shape, p->final.data,  p->final.bytes};
    return n;
}

/** The error object of a pipeline that could not start the run (see eir_pipe_stage). */
static char *prepare_error(const eir_pipe_stage at, const eir_error *err)
{
    if (at == EIR_PIPE_SEED) return srv_exec_error_text(NULL, 500, "%s", err->message);
    return srv_exec_error_text(err->field, err->status == EIR_EINVAL ? 422 : 500, "%s",
                               err->message);
}

/** The metadata text of a run that ran, with the daemon's keys. NULL when out of memory. */
static char *meta_text_of(const eir_pipe *p, const store_run *run, int timed_out)
{
    json_t *meta = eir_pipe_meta(p);
    if (!meta) return NULL;
    if (timed_out) json_object_set_new(meta, "status", json_string("failed"));
    json_object_set_new(meta, "tool",
                        json_pack("{s:s, s:s}", "name", "eirnnd", "version", EIRNN_VERSION));
    json_object_set_new(meta, "attempt", json_integer(run->attempts));
    json_t *outputs = json_object_get(meta, "outputs");
    for (int i = 0; i <= p->nout; i++) {
        const char *name = i < p->nout ? p->out[i].name : SRV_V_FINAL;
        char url[128];
        snprintf(url, sizeof url, "/v1/runs/%s/results/%s", run->id, name);
        json_t *o = json_object_get(outputs, name);
        if (o) json_object_set_new(o, "url", json_string(url));
    }
    char *text = srv_json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(meta);
    return text;
}

void srv_exec_run(srv *s, store_conn *c, store_run *run, const atomic_int *release, store_run *next)
{
    if (strcmp(run->kind, "analysis") == 0) {
        srv_exec_analysis(s, c, run, release, next);
        return;
    }
    if (strcmp(run->kind, "training") == 0) {
        srv_exec_training(s, c, run, release, next);
        return;
    }
    double t0 = srv_now();
    atomic_fetch_add(&s->metrics.runs_claimed, 1);
    srv_log("run_claimed", json_pack("{s:s, s:i, s:I}", "run_id", run->id, "attempt", run->attempts,
                                     "steps", (json_int_t)run->progress_total));

    srv_exec_ctx x = {.s = s,
                      .c = c,
                      .job_id = run->id,
                      .attempt = run->attempts,
                      .last = t0,
                      .release = release};
    if (run->time_limit > 0) x.deadline = t0 + run->time_limit;
    eir_error err;
    eir_error_clear(&err);
    json_t *req = NULL;
    eir_pipe *p = NULL;
    char *error = NULL, *meta_text = NULL;
    store_run_status status = STORE_RUN_FAILED;
    int64_t steps_done = 0;
    srv_exec_array arr[RUN_ARRAYS];
    int narr = 0;

    /* Parse the request and build the model exactly as the handler did when it accepted it. */
    req = srv_exec_request(run, &error);
    if (!req) goto finish;
    srv_resolver res;
    eir_pipe_config cfg;
    srv_pipe_config(s, c, &res, &cfg);
    eir_pipe_stage at;
    /* The model's build (inline) or the wait for it (model_id) is watched: the shutdown and a
     * cancel stop it within about 0.3 s, an inline model's build has the build time limit. A
     * stored model's build, which others may need, is never stopped by this run's cancel
     * (modcache.h): the run then ends cancelled when the build ends. */
    int inline_model = json_object_get(req, "model") != NULL;
    srv_exec_cancel_ctx bc = {.store = s->store, .job_id = run->id};
    srv_build_guard guard;
    srv_build_guard_begin(&guard, &s->stopping, inline_model ? s->cfg.model_build_time_limit : 0,
                          srv_exec_cancelled, &bc);
    eir_json_limits lim = s->limits;
    lim.stop = guard.stop;
    cfg.limits = &lim;
    res.lim = &lim;
    eir_status pst = eir_pipe_prepare(req, &cfg, &p, &at, &err);
    srv_guard_why why = srv_build_guard_end(&guard);
    lim.stop = NULL; /* freed */
    store_disconnect(bc.c);
    if (why == SRV_GUARD_CANCEL && (pst == EIR_OK || pst == EIR_ECANCELLED)) {
        status = STORE_RUN_CANCELLED; /* cancelled while its model was built */
        srv_log("run_cancelled_in_build",
                json_pack("{s:s, s:f}", "run_id", run->id, "duration_s", srv_now() - t0));
        goto finish;
    }
    if (pst == EIR_ECANCELLED && atomic_load(&s->stopping)) {
        /* The daemon stops while the run's model was built: the run goes back to the queue. */
        srv_exec_release(s, c, run, "the daemon stops while the run's model is built", 1, 0, t0);
        goto out;
    }
    if (pst == EIR_ECANCELLED && why == SRV_GUARD_TIME) {
        error =
            srv_exec_error_text("/model/populations", 422,
                                "building the run's model (its generation, spectral radius and "
                                "hash) took longer than this daemon's model build time limit of "
                                "%g s (--model-build-time-limit): the model is too large to build "
                                "here in that time; make it smaller (fewer cells, or no "
                                "spectral_radius), or ask the operator to raise the limit",
                                s->cfg.model_build_time_limit);
        goto finish;
    }
    if (pst != EIR_OK) {
        if (res.status == SRV_MC_STORE) {
            /* Cannot read the model (or the run V0 names) now: leave the run to a later
             * attempt. */
            srv_exec_release(s, c, run,
                             at == EIR_PIPE_MODEL ? "store error reading the model"
                                                  : "store error reading the run V0 names",
                             0, 0, t0);
            goto out;
        }
        error = prepare_error(at, &err);
        goto finish;
    }

    eir_status est = eir_pipe_run(p, srv_exec_progress, &x, &err);
    steps_done = p->result.steps_done;

    if (x.stop == SRV_STOP_LOST) { /* another daemon has the run: write nothing */
        srv_exec_lease_lost(s, run, "progress", store_errmsg(c), t0);
        goto out;
    }
    if (x.stop == SRV_STOP_RELEASE) {
        srv_exec_release(s, c, run, "the daemon stops", 1, steps_done, t0);
        goto out;
    }
    if (est == EIR_OK) {
        status = p->result.diverged ? STORE_RUN_DIVERGED : STORE_RUN_SUCCEEDED;
    } else if (est == EIR_ECANCELLED && x.stop == SRV_STOP_CANCEL) {
        status = STORE_RUN_CANCELLED;
    } else if (est == EIR_ECANCELLED && x.stop == SRV_STOP_TIME) {
        status = STORE_RUN_FAILED;
        error =
            srv_exec_error_text(NULL, 500,
                                "the run exceeded its wall-clock limit of %g s after %lld of %lld "
                                "steps; the rows done are kept",
                                run->time_limit, (long long)steps_done, (long long)p->run->T);
    } else {
        status = STORE_RUN_FAILED;
        error = srv_exec_error_text(err.field, est == EIR_EINVAL ? 422 : 500, "%s", err.message);
    }
    /* Results of a run that ran (also cancelled, diverged or timed out: a stopped run keeps the
     * rows it computed, a diverged one its full shape with NaN from the divergence on). */
    narr = outputs_of(p, arr);
    if (p->ran) meta_text = meta_text_of(p, run, x.stop == SRV_STOP_TIME);
    if (status != STORE_RUN_SUCCEEDED)
        store_run_progress(c, run->id, run->attempts, steps_done, p->run->T, NULL);

finish:
    srv_exec_finish(s, c, run, status, arr, narr, meta_text, error, steps_done, t0, release, next);

out:
    free(error);
    free(meta_text);
    eir_pipe_free(p);
    json_decref(req);
}
