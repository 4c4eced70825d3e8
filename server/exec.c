/**
 * @file exec.c
 * @brief Execute one claimed run through the run pipeline that `eirnn simulate` uses too
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
#include "pool.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "eirnnd stores results as the host's bytes, which must be little-endian (as .npy says)"
#endif

/**
 * Seconds between progress writes (each is one short transaction), which also read whether a
 * cancel was asked for: with the engine calling on_progress() inside long steps every
 * EIR_PROGRESS_POLL_SECONDS, a cancel is seen within this plus 0.1 s and a work item.
 */
#define PROGRESS_PERIOD 0.25

/** Bytes handed to store_result_append() at a time. */
#define APPEND_PIECE ((size_t)4 << 20)

/** Why the progress callback stopped a run. */
enum { STOP_NONE = 0, STOP_CANCEL, STOP_TIME, STOP_RELEASE };

typedef struct exec_ctx {
    srv *s;
    store_conn *c;
    const char *run_id;
    double last;     /**< time of the last progress write */
    double deadline; /**< srv_now() deadline of the wall-clock limit, 0 = none */
    const atomic_int *release;
    int stop; /**< STOP_* */
} exec_ctx;

/**
 * The engine's progress callback (eir.h): between steps and, in long steps, every
 * EIR_PROGRESS_POLL_SECONDS inside them, on the run's thread (which owns x->c). Stops the run
 * for a shutdown (release), past the wall-clock limit, or for a cancel; a cancel asked for
 * before the limit struck wins over it (the run ends cancelled, not failed).
 */
static int on_progress(void *ctx, int64_t done, int64_t total)
{
    exec_ctx *x = ctx;
    double t = srv_now();
    if (atomic_load(x->release)) {
        x->stop = STOP_RELEASE;
        return 1;
    }
    if (x->deadline > 0 && t > x->deadline) {
        int cancel = 0;
        x->last = t;
        x->stop = store_run_progress(x->c, x->run_id, done, total, &cancel) == STORE_OK && cancel
                      ? STOP_CANCEL
                      : STOP_TIME;
        return 1;
    }
    if (t - x->last >= PROGRESS_PERIOD) {
        x->last = t;
        int cancel = 0;
        if (store_run_progress(x->c, x->run_id, done, total, &cancel) == STORE_OK && cancel) {
            x->stop = STOP_CANCEL;
            return 1;
        }
    }
    return 0;
}

/** The cancel check of a run whose model is being built (build_guard.h), on the guard's
 *  thread, with a store connection of its own (opened at the first look). */
typedef struct build_cancel_ctx {
    store *store;
    store_conn *c;
    const char *run_id;
} build_cancel_ctx;

static int build_cancelled(void *ctx)
{
    build_cancel_ctx *b = ctx;
    if (!b->c) b->c = store_connect(b->store);
    store_run r;
    memset(&r, 0, sizeof r);
    int cancel = b->c && store_run_get(b->c, b->run_id, &r) == STORE_OK && r.cancel_requested;
    store_run_clear(&r);
    return cancel;
}

/** The error object of a failed run (a problem object without "instance"). */
static char *error_text(const char *field, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *error_text(const char *field, unsigned status, const char *fmt, ...)
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
 * Store the final state: results (if any), status, meta and error, in one finish transaction,
 * retried with backoff while the database is busy. With @p next (not NULL), the same transaction
 * claims the worker's next run into it (zeroed when none; see store_finish_commit_claim()).
 * @return the last store status.
 */
static store_status store_final(store_conn *c, const char *id, store_run_status status,
                                const eir_pipe_output *arr, int narr, const char *meta,
                                const char *error, store_run *next)
{
    store_status st = STORE_ERROR;
    double wait = 0.1;
    for (int attempt = 0; attempt < 6; attempt++) {
        st = store_finish_begin(c, id);
        for (int i = 0; st == STORE_OK && i < narr; i++) {
            st = store_result_begin(c, arr[i].name, arr[i].dtype, 3, arr[i].shape);
            const unsigned char *p = arr[i].data;
            for (size_t off = 0; st == STORE_OK && off < arr[i].bytes; off += APPEND_PIECE) {
                size_t n = arr[i].bytes - off < APPEND_PIECE ? arr[i].bytes - off : APPEND_PIECE;
                st = store_result_append(c, p + off, n);
            }
            /* The store hashes the bytes as they are appended (one pass, not two). */
            if (st == STORE_OK) st = store_result_end(c, NULL);
        }
        /* a run claimed by an attempt whose sync failed is kept, not claimed over */
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

/**
 * Store the final state of @p run (@p status, results, metadata and error, as the pipeline left
 * them), count it, log it and wake its long polls. When the store cannot take it (disk full,
 * database locked), keep trying: with the results for a minute, then recording the failure
 * without them. The run must not be left running while the daemon goes on; only when it stops
 * (@p release) is it left to the restart, which queues it again. With @p next (not NULL) and no
 * release asked, the finish also claims the worker's next run into *@p next.
 */
static void finish_run(srv *s, store_conn *c, const store_run *run, store_run_status status,
                       const eir_pipe_output *arr, int narr, const char *meta_text,
                       const char *error, int64_t steps_done, double t0, const atomic_int *release,
                       store_run *next)
{
    double keep_results_until = srv_now() + 60.0;
    if (atomic_load(release)) next = NULL; /* the daemon stops: claim nothing more */
    store_status fst = store_final(c, run->id, status, arr, narr, meta_text, error, next);
    char *e2 = NULL;
    while (fst != STORE_OK && fst != STORE_CONFLICT && fst != STORE_NOT_FOUND) {
        if (narr > 0 && srv_now() >= keep_results_until) {
            e2 = error_text(NULL, 500, "the results could not be stored: %s", store_errmsg(c));
            status = STORE_RUN_FAILED;
            narr = 0;
        }
        if (atomic_load(release)) break;
        eir_clock_sleep(1.0);
        fst = store_final(c, run->id, status, arr, narr, meta_text, e2 ? e2 : error, next);
    }
    free(e2);
    double dur = srv_now() - t0;
    if (fst == STORE_OK) {
        atomic_fetch_add(&s->metrics.runs_finished[status], 1);
        srv_hist_observe(&s->metrics.run_duration, dur);
    }
    srv_log("run_finished",
            json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:s?}", "run_id", run->id, "status",
                      store_run_status_name(status), "store", store_status_name(fst), "duration_s",
                      dur, "steps_done", (json_int_t)steps_done, "steps_total",
                      (json_int_t)run->progress_total, "error",
                      fst == STORE_OK ? NULL : store_errmsg(c)));
    srv_waiters_wake(s->waiters, run->id);
}

/** The error object of a pipeline that could not start the run (see eir_pipe_stage). */
static char *prepare_error(const eir_pipe_stage at, const eir_error *err)
{
    if (at == EIR_PIPE_SEED) return error_text(NULL, 500, "%s", err->message);
    return error_text(err->field, err->status == EIR_EINVAL ? 422 : 500, "%s", err->message);
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
    for (int i = 0; i < p->nout; i++) {
        char url[128];
        snprintf(url, sizeof url, "/v1/runs/%s/results/%s", run->id, p->out[i].name);
        json_t *o = json_object_get(outputs, p->out[i].name);
        if (o) json_object_set_new(o, "url", json_string(url));
    }
    char *text = srv_json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(meta);
    return text;
}

void srv_exec_run(srv *s, store_conn *c, store_run *run, const atomic_int *release, store_run *next)
{
    double t0 = srv_now();
    atomic_fetch_add(&s->metrics.runs_claimed, 1);
    srv_log("run_claimed", json_pack("{s:s, s:i, s:I}", "run_id", run->id, "attempt", run->attempts,
                                     "steps", (json_int_t)run->progress_total));

    exec_ctx x = {.s = s, .c = c, .run_id = run->id, .last = t0, .release = release};
    if (run->time_limit > 0) x.deadline = t0 + run->time_limit;
    eir_error err;
    eir_error_clear(&err);
    json_t *req = NULL;
    eir_pipe *p = NULL;
    char *error = NULL, *meta_text = NULL;
    store_run_status status = STORE_RUN_FAILED;
    int64_t steps_done = 0;
    const eir_pipe_output *arr = NULL;
    int narr = 0;

    /* Parse the request and build the model exactly as the handler did when it accepted it. */
    json_error_t je;
    srv_json_oom_set(0);
    req = json_loads(run->request_json ? run->request_json : "", JSON_REJECT_DUPLICATES, &je);
    if (srv_json_oom()) { /* a value may have been cut short silently (srv.h) */
        error = error_text(NULL, 500, "out of memory reading the stored request");
        goto finish;
    }
    if (!req || !json_is_object(req)) {
        error = error_text(NULL, 500, "the stored request is not a JSON object: %s", je.text);
        goto finish;
    }
    srv_resolver res;
    eir_pipe_config cfg;
    srv_pipe_config(s, c, &res, &cfg);
    eir_pipe_stage at;
    /* The model's build (inline) or the wait for it (model_id) is watched: the shutdown and a
     * cancel stop it within about 0.3 s, an inline model's build has the build time limit. A
     * stored model's build, which others may need, is never stopped by this run's cancel
     * (modcache.h): the run then ends cancelled when the build ends. */
    int inline_model = json_object_get(req, "model") != NULL;
    build_cancel_ctx bc = {.store = s->store, .run_id = run->id};
    srv_build_guard guard;
    srv_build_guard_begin(&guard, &s->stopping, inline_model ? s->cfg.model_build_time_limit : 0,
                          build_cancelled, &bc);
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
        store_run_status now = STORE_RUN_QUEUED;
        store_status rst = store_run_release(c, run->id, &now);
        atomic_fetch_add(&s->metrics.runs_released, 1);
        srv_log("run_released",
                json_pack("{s:s, s:s, s:s, s:s}", "run_id", run->id, "reason",
                          "the daemon stops while the run's model is built", "now",
                          store_run_status_name(now), "store", store_status_name(rst)));
        goto out;
    }
    if (pst == EIR_ECANCELLED && why == SRV_GUARD_TIME) {
        error = error_text("/model/populations", 422,
                           "building the run's model (its generation, spectral radius and "
                           "hash) took longer than this daemon's model build time limit of "
                           "%g s (--model-build-time-limit): the model is too large to build "
                           "here in that time; make it smaller (fewer cells, or no "
                           "spectral_radius), or ask the operator to raise the limit",
                           s->cfg.model_build_time_limit);
        goto finish;
    }
    if (pst != EIR_OK) {
        if (at == EIR_PIPE_MODEL && res.status == SRV_MC_STORE) {
            /* Cannot read the model now: leave the run to a later attempt. */
            store_status rst = store_run_release(c, run->id, NULL);
            srv_log("run_released",
                    json_pack("{s:s, s:s, s:s}", "run_id", run->id, "reason",
                              "store error reading the model", "message", store_errmsg(c)));
            (void)rst;
            goto out;
        }
        error = prepare_error(at, &err);
        goto finish;
    }

    eir_status est = eir_pipe_run(p, on_progress, &x, &err);
    steps_done = p->result.steps_done;

    if (x.stop == STOP_RELEASE) {
        store_run_status now = STORE_RUN_QUEUED;
        store_status rst = store_run_release(c, run->id, &now);
        atomic_fetch_add(&s->metrics.runs_released, 1);
        srv_log("run_released",
                json_pack("{s:s, s:s, s:s, s:I, s:f}", "run_id", run->id, "now",
                          store_run_status_name(now), "store", store_status_name(rst), "steps_done",
                          (json_int_t)steps_done, "duration_s", srv_now() - t0));
        goto out;
    }
    if (est == EIR_OK) {
        status = p->result.diverged ? STORE_RUN_DIVERGED : STORE_RUN_SUCCEEDED;
    } else if (est == EIR_ECANCELLED && x.stop == STOP_CANCEL) {
        status = STORE_RUN_CANCELLED;
    } else if (est == EIR_ECANCELLED && x.stop == STOP_TIME) {
        status = STORE_RUN_FAILED;
        error = error_text(NULL, 500,
                           "the run exceeded its wall-clock limit of %g s after %lld of %lld "
                           "steps; the rows done are kept",
                           run->time_limit, (long long)steps_done, (long long)p->run->T);
    } else {
        status = STORE_RUN_FAILED;
        error = error_text(err.field, est == EIR_EINVAL ? 422 : 500, "%s", err.message);
    }
    /* Results of a run that ran (also cancelled, diverged or timed out: a stopped run keeps the
     * rows it computed, a diverged one its full shape with NaN from the divergence on). */
    arr = p->out;
    narr = p->nout;
    if (p->ran) meta_text = meta_text_of(p, run, x.stop == STOP_TIME);
    if (status != STORE_RUN_SUCCEEDED) store_run_progress(c, run->id, steps_done, p->run->T, NULL);

finish:
    finish_run(s, c, run, status, arr, narr, meta_text, error, steps_done, t0, release, next);

out:
    free(error);
    free(meta_text);
    eir_pipe_free(p);
    json_decref(req);
}
