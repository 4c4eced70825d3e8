/**
 * @file exec.c
 * @brief Execute one claimed run: the same parse → build → run → .npy bytes / metadata path as
 *        `eirnn simulate` (clients/cli/simulate.c), with results written to the store instead of
 *        files, progress and cancellation through the store, a wall-clock limit, and release
 *        back to the queue at shutdown.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir_meta.h"
#include "http.h"
#include "modcache.h"
#include "pool.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "eirnnd stores results as the host's bytes, which must be little-endian (as .npy says)"
#endif

/** Seconds between progress writes (each is one short transaction). */
#define PROGRESS_PERIOD 0.5

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

static int on_progress(void *ctx, int64_t done, int64_t total)
{
    exec_ctx *x = ctx;
    double t = srv_now();
    if (atomic_load(x->release)) {
        x->stop = STOP_RELEASE;
        return 1;
    }
    if (x->deadline > 0 && t > x->deadline) {
        x->stop = STOP_TIME;
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

/** One recorded array ready to store. */
typedef struct out_array {
    const char *var;
    const char *dtype;
    int64_t shape[3];
    const void *data;
    size_t bytes;
} out_array;

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/**
 * Store the final state: results (if any), status, meta and error, in one finish transaction,
 * retried with backoff while the database is busy. @return the last store status.
 */
static store_status store_final(store_conn *c, const char *id, store_run_status status,
                                const out_array *arr, int narr, const char *meta, const char *error)
{
    store_status st = STORE_ERROR;
    double wait = 0.1;
    for (int attempt = 0; attempt < 6; attempt++) {
        st = store_finish_begin(c, id);
        for (int i = 0; st == STORE_OK && i < narr; i++) {
            st = store_result_begin(c, arr[i].var, arr[i].dtype, 3, arr[i].shape);
            const unsigned char *p = arr[i].data;
            for (size_t off = 0; st == STORE_OK && off < arr[i].bytes; off += APPEND_PIECE) {
                size_t n = arr[i].bytes - off < APPEND_PIECE ? arr[i].bytes - off : APPEND_PIECE;
                st = store_result_append(c, p + off, n);
            }
            /* The store hashes the bytes as they are appended (one pass, not two). */
            if (st == STORE_OK) st = store_result_end(c, NULL);
        }
        if (st == STORE_OK) st = store_finish_commit(c, status, meta, error);
        if (st == STORE_OK) return st;
        store_finish_abort(c);
        if (st == STORE_CONFLICT || st == STORE_NOT_FOUND || st == STORE_INVALID) return st;
        sleep_s(wait);
        wait *= 2;
    }
    return st;
}

void srv_exec_run(srv *s, store_conn *c, store_run *run, const atomic_int *release)
{
    double t0 = srv_now();
    atomic_fetch_add(&s->metrics.runs_claimed, 1);
    srv_log("run_claimed", json_pack("{s:s, s:i, s:I}", "run_id", run->id, "attempt", run->attempts,
                                     "steps", (json_int_t)run->progress_total));

    exec_ctx x = {.s = s, .c = c, .run_id = run->id, .last = t0, .release = release};
    if (run->time_limit > 0) x.deadline = t0 + run->time_limit;
    eir_error err;
    eir_error_clear(&err);
    json_t *req = NULL, *meta = NULL;
    srv_model_ref *ref = NULL;
    eir_model *own_model = NULL;
    eir_model_spec *own_spec = NULL;
    const eir_model *model = NULL;
    const eir_model_spec *spec = NULL;
    eir_run_spec *rs = NULL;
    void *bufs[EIR_NVARS] = {0};
    char *error = NULL, *meta_text = NULL;
    store_run_status status = STORE_RUN_FAILED;
    eir_run_result res;
    memset(&res, 0, sizeof res);
    eir_status est = EIR_EINVAL;
    out_array arr[EIR_NVARS];
    int narr = 0;
    double parse_s = -1, build_s = -1, simulate_s = -1;

    /* Parse the request and build the model exactly as the handler did when it accepted it. */
    double tp = srv_now();
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
    const char *model_id = NULL;
    const json_t *inl = NULL;
    if (eir_json_run_model_ref(req, &model_id, &inl, &err) != EIR_OK) {
        error = error_text(err.field, 422, "%s", err.message);
        goto finish;
    }
    parse_s = srv_now() - tp;
    double tb = srv_now();
    if (model_id) {
        store_status sst;
        srv_mc_status ms = srv_modcache_get(s->models, c, &s->limits, model_id, &ref, &sst, &err);
        if (ms == SRV_MC_NOT_FOUND) {
            error = error_text("/model_id", 422, "model %s does not exist", model_id);
            goto finish;
        }
        if (ms == SRV_MC_STORE) {
            /* Cannot read the model now: leave the run to a later attempt. */
            store_status rst = store_run_release(c, run->id, NULL);
            srv_log("run_released",
                    json_pack("{s:s, s:s, s:s}", "run_id", run->id, "reason",
                              "store error reading the model", "message", store_errmsg(c)));
            (void)rst;
            goto out;
        }
        if (ms != SRV_MC_OK) {
            error = error_text(err.field, err.status == EIR_ENOMEM ? 500 : 422, "%s", err.message);
            goto finish;
        }
        model = ref->model;
        spec = ref->spec;
    } else {
        if (eir_json_build_model(inl, &s->limits, "/model", &own_model, &own_spec, &err) !=
            EIR_OK) {
            error = error_text(err.field, err.status == EIR_ENOMEM ? 500 : 422, "%s", err.message);
            goto finish;
        }
        model = own_model;
        spec = own_spec;
    }
    build_s = srv_now() - tb;
    tp = srv_now();
    if (eir_json_parse_run(req, model, &s->limits, &rs, &err) != EIR_OK) {
        error = error_text(err.field, err.status == EIR_ENOMEM ? 500 : 422, "%s", err.message);
        goto finish;
    }
    parse_s += srv_now() - tp;

    eir_run_desc *d = &rs->desc;
    int seed_used = rs->has_seed;
    if (!rs->has_seed && spec->desc.sigma > 0) {
        /* The handler stores a seed with every noisy run; this covers requests without one. */
        if (srv_random_seed(&d->seed) != 0) {
            error = error_text(NULL, 500, "cannot pick a random seed: %s", strerror(errno));
            goto finish;
        }
        seed_used = 1;
    }
    d->threads = 1;
    size_t elsize = d->precision == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d->record_mask & (1u << v))) continue;
        size_t len = eir_run_out_len(model, d, (eir_var)v);
        if (len > SIZE_MAX / elsize || !(bufs[v] = malloc(len > 0 ? len * elsize : 1))) {
            error = error_text(NULL, 500, "out of memory for the recorded %s (%zu values)",
                               eir_var_name((eir_var)v), len);
            goto finish;
        }
        d->out[v] = bufs[v];
    }
    d->progress = on_progress;
    d->progress_ctx = &x;
    d->progress_every = 0;

    double ts = srv_now();
    est = eir_run(model, d, &res, &err);
    simulate_s = srv_now() - ts;

    if (x.stop == STOP_RELEASE) {
        store_run_status now = STORE_RUN_QUEUED;
        store_status rst = store_run_release(c, run->id, &now);
        atomic_fetch_add(&s->metrics.runs_released, 1);
        srv_log("run_released",
                json_pack("{s:s, s:s, s:s, s:I, s:f}", "run_id", run->id, "now",
                          store_run_status_name(now), "store", store_status_name(rst), "steps_done",
                          (json_int_t)res.steps_done, "duration_s", srv_now() - t0));
        goto out;
    }
    if (est == EIR_OK) {
        status = res.diverged ? STORE_RUN_DIVERGED : STORE_RUN_SUCCEEDED;
    } else if (est == EIR_ECANCELLED && x.stop == STOP_CANCEL) {
        status = STORE_RUN_CANCELLED;
    } else if (est == EIR_ECANCELLED && x.stop == STOP_TIME) {
        status = STORE_RUN_FAILED;
        error = error_text(NULL, 500,
                           "the run exceeded its wall-clock limit of %g s after %lld of %lld "
                           "steps; the rows done are kept",
                           run->time_limit, (long long)res.steps_done, (long long)d->T);
    } else {
        status = STORE_RUN_FAILED;
        error = error_text(err.field, est == EIR_EINVAL ? 422 : 500, "%s", err.message);
    }

    /* Results of a run that ran (also cancelled, diverged or timed out: rows kept, rest NaN). */
    if (est == EIR_OK || est == EIR_ECANCELLED) {
        for (int v = 0; v < EIR_NVARS; v++) {
            if (!bufs[v]) continue;
            out_array *a = &arr[narr++];
            a->var = eir_var_name((eir_var)v);
            a->dtype = eir_meta_dtype(d->precision);
            a->shape[0] = d->B;
            a->shape[1] = eir_recorded_rows(d->T, d->record_every);
            a->shape[2] = eir_meta_var_units(model, d, (eir_var)v);
            a->data = bufs[v];
            a->bytes = eir_run_out_len(model, d, (eir_var)v) * elsize;
        }
    }

    eir_meta_input mi;
    eir_meta_input_init(&mi);
    mi.model = model;
    mi.spec = spec;
    mi.run = d;
    mi.seed_used = seed_used;
    mi.result = &res;
    mi.run_status = est;
    mi.parse_s = parse_s;
    mi.build_s = build_s;
    mi.simulate_s = simulate_s;
    mi.model_hash = ref ? ref->hash : NULL; /* cached per model; computed for inline models */
    meta = eir_run_meta(&mi);
    if (meta) {
        if (x.stop == STOP_TIME) json_object_set_new(meta, "status", json_string("failed"));
        json_object_set_new(meta, "tool",
                            json_pack("{s:s, s:s}", "name", "eirnnd", "version", EIRNN_VERSION));
        json_object_set_new(meta, "attempt", json_integer(run->attempts));
        json_t *outputs = json_object_get(meta, "outputs");
        for (int i = 0; i < narr; i++) {
            char url[128];
            snprintf(url, sizeof url, "/v1/runs/%s/results/%s", run->id, arr[i].var);
            json_t *o = json_object_get(outputs, arr[i].var);
            if (o) json_object_set_new(o, "url", json_string(url));
        }
        meta_text = srv_json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    }
    if (status != STORE_RUN_SUCCEEDED) store_run_progress(c, run->id, res.steps_done, d->T, NULL);

finish:;
    /* When the final state cannot be stored (disk full, database locked), keep trying: with the
     * results for a minute, then recording the failure without them. The run must not be left
     * running while the daemon goes on; only when it stops is it left to the restart, which
     * queues it again. */
    double keep_results_until = srv_now() + 60.0;
    store_status fst = store_final(c, run->id, status, arr, narr, meta_text, error);
    char *e2 = NULL;
    while (fst != STORE_OK && fst != STORE_CONFLICT && fst != STORE_NOT_FOUND) {
        if (narr > 0 && srv_now() >= keep_results_until) {
            e2 = error_text(NULL, 500, "the results could not be stored: %s", store_errmsg(c));
            status = STORE_RUN_FAILED;
            narr = 0;
        }
        if (atomic_load(release)) break;
        sleep_s(1.0);
        fst = store_final(c, run->id, status, arr, narr, meta_text, e2 ? e2 : error);
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
                      dur, "steps_done", (json_int_t)res.steps_done, "steps_total",
                      (json_int_t)run->progress_total, "error",
                      fst == STORE_OK ? NULL : store_errmsg(c)));
    srv_waiters_wake(s->waiters, run->id);

out:
    free(error);
    free(meta_text);
    json_decref(meta);
    for (int v = 0; v < EIR_NVARS; v++)
        free(bufs[v]);
    eir_run_spec_free(rs);
    srv_modcache_put(s->models, ref);
    eir_model_free(own_model);
    eir_model_spec_free(own_spec);
    json_decref(req);
}
