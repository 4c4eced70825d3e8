/**
 * @file analysis_exec.c
 * @brief srv_analysis_execute() (analysis.h): the request parsed again as accepted, its model
 *        fetched or built the way a run's worker does it (model cache for a stored model, the
 *        inline cache for an inline one), then the kind's file; and what the kinds share: the
 *        states they start from (a given V, a run's recorded row, another analysis's point),
 *        the input x, progress and outputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

json_t *an_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void srv_analysis_outcome_free(srv_analysis_outcome *o)
{
    if (!o) return;
    for (int i = 0; i < o->narrays; i++)
        free(o->arrays[i].data);
    free(o->arrays);
    json_decref(o->summary);
    memset(o, 0, sizeof *o);
}

eir_status an_out_add(srv_analysis_outcome *out, const char *name, const char *dtype, int ndim,
                      const int64_t *shape, void *data, size_t bytes, eir_error *err)
{
    srv_array *a = realloc(out->arrays, (size_t)(out->narrays + 1) * sizeof *a);
    if (!a) {
        free(data);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory keeping output %s", name);
    }
    out->arrays = a;
    srv_array *x = &a[out->narrays++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    snprintf(x->dtype, sizeof x->dtype, "%s", dtype);
    x->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        x->shape[d] = shape[d];
    x->data = data;
    x->bytes = bytes;
    return EIR_OK;
}

eir_status an_job_progress(an_job *j, int64_t done, int64_t total)
{
    if ((j->stop && eir_stop_requested(j->stop)) ||
        (j->progress && j->progress(j->progress_ctx, done, total) != 0))
        return eir_error_set(j->err, EIR_ECANCELLED, NULL, "the analysis was stopped");
    return EIR_OK;
}

void an_job_x(const an_job *j, double *x)
{
    for (int i = 0; i < j->n_in; i++)
        x[i] = j->req->x ? j->req->x[i] : 0.0;
}

/* The model of an activity analysis: its run's stored model (an inline one is not kept). */
static eir_status activity_model_id(an_job *j, char id[STORE_ID_MAX])
{
    an_run run;
    eir_status es = an_run_load(j->c, j->req->run_id, "", &run, j->st, j->err);
    if (es == EIR_OK) snprintf(id, STORE_ID_MAX, "%s", run.row.model_id);
    an_run_clear(&run);
    return es;
}

eir_status an_job_model(an_job *j)
{
    srv_pipe_config(j->s, j->c, &j->res, &j->cfg);
    j->lim = j->s->limits;
    j->lim.stop = j->stop; /* the wait for another thread's build of a stored model */
    j->res.lim = &j->lim;
    j->cfg.limits = &j->lim;
    const char *id = j->req->model_id;
    char run_model[STORE_ID_MAX];
    if (j->req->kind == EIR_AN_ACTIVITY) {
        eir_status es = activity_model_id(j, run_model);
        if (es != EIR_OK) return es;
        if (!run_model[0])
            return eir_error_set(j->err, EIR_EINVAL, "/balance",
                                 "run %s holds its model inline, which is not kept: the E/I "
                                 "balance index needs the model; set \"balance\": false",
                                 j->req->run_id);
        id = run_model;
    }
    eir_pipe_model pm = {0};
    eir_status es;
    if (id) {
        es = j->cfg.resolve(j->cfg.resolve_ctx, id, &pm, j->err);
        if (es != EIR_OK) {
            if (j->res.status == SRV_MC_STORE) *j->st = j->res.store;
            return es;
        }
        snprintf(j->mi.id, sizeof j->mi.id, "%s", id);
    } else {
        es = j->cfg.resolve_inline(j->cfg.resolve_ctx, j->req->model, &pm, j->err);
        if (es != EIR_OK) return es;
        if (!pm.model) {
            es = eir_json_build_model(j->req->model, &j->lim, "/model", &j->own_model, &j->own_spec,
                                      j->err);
            if (es != EIR_OK) return es;
            if (!j->cfg.keep_inline(j->cfg.resolve_ctx, j->req->model, j->own_model, j->own_spec,
                                    &pm)) {
                pm.model = j->own_model; /* out of memory in the cache: keep our own */
                pm.hash = NULL;
            } else {
                j->own_model = NULL;
                j->own_spec = NULL;
            }
        }
    }
    j->handle = pm.handle;
    j->m = pm.model;
    if (pm.hash)
        snprintf(j->mi.hash, sizeof j->mi.hash, "%s", pm.hash);
    else
        eir_model_hash(j->m, j->mi.hash);
    j->hash = j->mi.hash;
    j->n = eir_model_n(j->m);
    j->n_e = eir_model_n_e(j->m);
    j->n_in = eir_model_n_in(j->m);
    return EIR_OK;
}

void an_job_release(an_job *j)
{
    if (j->handle) j->cfg.release(j->cfg.resolve_ctx, j->handle);
    j->handle = NULL;
    eir_model_free(j->own_model);
    eir_model_spec_free(j->own_spec);
    j->own_model = NULL;
    j->own_spec = NULL;
}

/**
 * Read @p n values of result @p var of job @p id from value @p first on, as doubles (a float32
 * result is widened). EIR_EINVAL naming @p ptr when the values are not all finite.
 */
static eir_status read_values(an_job *j, const char *id, const char *var, int64_t first, int64_t n,
                              double *out, const char *ptr)
{
    store_result_info info;
    store_status s = store_result_info_get(j->c, id, var, &info);
    if (s == STORE_OK) {
        size_t item = strcmp(info.dtype, "float32") == 0 ? 4 : 8;
        void *buf = item == 4 ? malloc((size_t)n * 4) : out;
        if (!buf) return eir_error_set(j->err, EIR_ENOMEM, NULL, "out of memory reading %s", id);
        s = store_result_read(j->c, id, var, (uint64_t)first * item, buf, (size_t)n * item);
        if (item == 4) {
            const float *f = buf;
            for (int64_t i = 0; s == STORE_OK && i < n; i++)
                out[i] = f[i];
            free(buf);
        }
    }
    if (s == STORE_NOT_FOUND)
        return eir_error_set(j->err, EIR_EINVAL, ptr, "%s has no result %s (deleted meanwhile?)",
                             id, var);
    if (s != STORE_OK) {
        *j->st = s;
        return eir_error_set(j->err, EIR_ENOMEM, NULL, "the store failed reading %s of %s: %s", var,
                             id, store_errmsg(j->c));
    }
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(out[i]))
            return eir_error_set(j->err, EIR_EINVAL, ptr,
                                 "the state %s of %s holds non-finite values (a diverged run?): "
                                 "choose an earlier step",
                                 var, id);
    return EIR_OK;
}

static eir_status run_state(an_job *j, const eir_an_state *state, double *V, double *x)
{
    char f[EIR_FIELD_MAX];
    an_run run;
    an_ptr(f, state->ptr, "run_id");
    eir_status es = an_run_load(j->c, state->id, state->ptr, &run, j->st, j->err);
    if (es == EIR_OK)
        es = an_same_model(&j->mi, j->hash, run.row.model_id, run.hash, "the run", f, j->err);
    int64_t row = 0, step = 0;
    if (es == EIR_OK) es = an_run_state_row(&run, state, EIR_VAR_V, &row, &step, j->err);
    if (es == EIR_OK) {
        an_ptr(f, state->ptr, "step");
        int64_t first = (state->trial * run.rows[EIR_VAR_V] + row) * (int64_t)j->n;
        es = read_values(j, state->id, "V", first, j->n, V, f);
    }
    eir_run_spec *spec = NULL;
    if (es == EIR_OK) es = an_run_spec(j->c, &j->s->limits, &run, state->ptr, &spec, j->st, j->err);
    an_ptr(f, state->ptr, "run_id");
    for (int i = 0; es == EIR_OK && spec->desc.neurons && i < spec->desc.n_neurons; i++)
        if (spec->desc.neurons[i] != i)
            es = eir_error_set(j->err, EIR_EINVAL, f,
                               "run %s recorded the cells in another order (record.neurons); a "
                               "state needs them in index order",
                               state->id);
    if (es == EIR_OK && x) {
        /* the input of the step that led to the state: row step - 1 of the trial's inputs */
        an_job_x(j, x);
        const eir_run_desc *d = &spec->desc;
        if (!j->req->x && d->inputs && j->n_in > 0 && state->trial < d->B && step <= d->T)
            memcpy(x,
                   d->inputs + ((size_t)state->trial * (size_t)d->T + (size_t)(step - 1)) * j->n_in,
                   (size_t)j->n_in * sizeof *x);
    }
    eir_run_spec_free(spec);
    an_run_clear(&run);
    return es;
}

static eir_status analysis_state(an_job *j, const eir_an_state *state, double *V, double *x)
{
    char f[EIR_FIELD_MAX];
    an_points p;
    an_ptr(f, state->ptr, "analysis_id");
    eir_status es = an_points_load(j->c, state, &p, j->st, j->err);
    if (es == EIR_OK)
        es = an_same_model(&j->mi, j->hash, p.row.model_id, p.hash, "the analysis", f, j->err);
    if (es == EIR_OK && p.n != j->n)
        es = eir_error_set(j->err, EIR_EINVAL, f, "analysis %s has points of %lld cells, not %d",
                           state->id, (long long)p.n, j->n);
    if (es == EIR_OK) es = read_values(j, state->id, "V", state->index * j->n, j->n, V, f);
    if (es == EIR_OK && x) {
        if (j->req->x || j->n_in == 0)
            an_job_x(j, x);
        else if (p.n_in != j->n_in)
            es = eir_error_set(j->err, EIR_EINVAL, "/x",
                               "analysis %s has no input x of %d values to take; give \"x\"",
                               state->id, j->n_in);
        else
            es = read_values(j, state->id, "x", 0, j->n_in, x, "/x");
    }
    an_points_clear(&p);
    return es;
}

eir_status an_job_state(an_job *j, const eir_an_state *state, double *V, double *x)
{
    char f[EIR_FIELD_MAX];
    switch (state->src) {
    case EIR_AN_STATE_V:
        if (state->V_len != j->n) {
            an_ptr(f, state->ptr, "V");
            return eir_error_set(j->err, EIR_EINVAL, f,
                                 "expected %d values (one per cell), got %lld", j->n,
                                 (long long)state->V_len);
        }
        memcpy(V, state->V, (size_t)j->n * sizeof *V);
        if (x) an_job_x(j, x);
        return EIR_OK;
    case EIR_AN_STATE_RUN:
        return run_state(j, state, V, x);
    case EIR_AN_STATE_ANALYSIS:
        return analysis_state(j, state, V, x);
    case EIR_AN_STATE_NONE:
    default:
        return eir_error_set(j->err, EIR_EINVAL, state->ptr, "no state given");
    }
}

/* Lengths the worker can only check now: a pending or inline model's N and n_in. */
static eir_status check_lengths(an_job *j)
{
    const eir_an_request *r = j->req;
    if (r->x && r->x_len != j->n_in)
        return eir_error_set(j->err, EIR_EINVAL, "/x", "expected %d values (n_inputs), got %lld",
                             j->n_in, (long long)r->x_len);
    if (r->kind == EIR_AN_LYAPUNOV && r->k > j->n)
        return eir_error_set(j->err, EIR_EINVAL, "/k", "expected at most N = %d exponents, got %d",
                             j->n, r->k);
    if (r->V0 && r->V0_len != j->n)
        return eir_error_set(j->err, EIR_EINVAL, "/V0",
                             "expected %d values (one per cell), got %lld", j->n,
                             (long long)r->V0_len);
    return EIR_OK;
}

eir_status srv_analysis_execute(srv *s, store_conn *c, const char *id, const json_t *req,
                                eir_progress_fn progress, void *progress_ctx, eir_stop *stop,
                                srv_analysis_outcome *out, store_status *st, eir_error *err)
{
    memset(out, 0, sizeof *out);
    *st = STORE_OK;
    eir_an_request *r = NULL;
    eir_status es = eir_json_parse_analysis(req, &s->limits, &r, err);
    if (es != EIR_OK) return es;
    an_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.c = c;
    j.id = id;
    j.req = r;
    j.json = req;
    j.progress = progress;
    j.progress_ctx = progress_ctx;
    j.stop = stop;
    j.st = st;
    j.err = err;
    /* activity builds its model only for the balance index (analysis_activity.c) */
    if (r->kind != EIR_AN_ACTIVITY) es = an_job_model(&j);
    if (es == EIR_OK) es = check_lengths(&j);
    if (es == EIR_OK) {
        switch (r->kind) {
        case EIR_AN_SPECTRUM:
            es = an_exec_spectrum(&j, out);
            break;
        case EIR_AN_FIXED_POINTS:
            es = an_exec_fixed(&j, out);
            break;
        case EIR_AN_LYAPUNOV:
            es = an_exec_lyapunov(&j, out);
            break;
        case EIR_AN_ACTIVITY:
            es = an_exec_activity(&j, out);
            break;
        }
    }
    if (es == EIR_OK && out->summary && j.m) {
        json_object_set_new(out->summary, "model_hash", json_string(j.hash));
        json_object_set_new(out->summary, "analysis", json_string(eir_an_kind_name(r->kind)));
    }
    if (es == EIR_OK && !out->summary)
        es = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory writing the summary");
    if (es != EIR_OK) srv_analysis_outcome_free(out);
    an_job_release(&j);
    eir_an_request_free(r);
    return es;
}
