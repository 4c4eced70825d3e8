/* The run pipeline shared by eirnnd and `eirnn simulate` (eir_runner.h). */
#include "eir_runner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eir_clock.h"
#include "eir_meta.h"
#include "eir_random.h"

int eir_pipe_default_threads(int B)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > B) n = B;
    if (n > EIR_PIPE_MAX_THREADS) n = EIR_PIPE_MAX_THREADS;
    return n < 1 ? 1 : (int)n;
}

/* Use the model @p m lent by a callback of the caller (given back by eir_pipe_free()). */
static void lend(eir_pipe *p, const eir_pipe_model *m)
{
    p->handle = m->handle;
    p->resolved = 1;
    p->model = m->model;
    p->spec = m->spec;
    p->model_hash = m->hash;
}

/* Resolve or build the model of @p request into @p p: a "model_id" through cfg->resolve, an
 * inline model through cfg->resolve_inline (built here when unknown, then offered to
 * cfg->keep_inline), a model beside the run built here. */
static eir_status pipe_model(eir_pipe *p, const json_t *request, eir_pipe_stage *stage,
                             eir_error *err)
{
    const eir_pipe_config *cfg = p->cfg;
    const json_t *doc = cfg->model;
    const json_t *inl = NULL; /* the run's inline model */
    const char *prefix = "";
    *stage = EIR_PIPE_REFERENCE;
    if (doc) {
        if (!json_is_object(request))
            return eir_error_set(err, EIR_EINVAL, "", "expected a run object");
        if (json_object_get(request, "model"))
            return eir_error_set(err, EIR_EINVAL, "/model",
                                 "the run holds a model inline and a model was given beside it "
                                 "too; give one");
    } else {
        const char *id = NULL;
        eir_status st = eir_json_run_model_ref(request, &id, &inl, err);
        if (st != EIR_OK) return st;
        *stage = EIR_PIPE_MODEL;
        if (id) {
            p->model_id = id;
            if (!cfg->resolve)
                return eir_error_set(err, EIR_EINVAL, "/model_id",
                                     "model %s cannot be looked up here; give the model itself",
                                     id);
            eir_pipe_model m = {0};
            st = cfg->resolve(cfg->resolve_ctx, id, &m, err);
            if (st != EIR_OK) return st;
            lend(p, &m);
            if (!m.model || !m.spec)
                return eir_error_set(err, EIR_EINVAL, "/model_id",
                                     "model %s was resolved to nothing", id);
            return EIR_OK;
        }
        doc = inl;
        prefix = "/model";
        if (cfg->resolve_inline) { /* built before (the same content)? */
            eir_pipe_model m = {0};
            st = cfg->resolve_inline(cfg->resolve_ctx, doc, &m, err);
            if (st != EIR_OK) return st;
            if (m.model) {
                lend(p, &m);
                if (!m.spec)
                    return eir_error_set(err, EIR_EINVAL, "/model",
                                         "the inline model was resolved without its spec");
                return EIR_OK;
            }
        }
    }
    *stage = EIR_PIPE_MODEL;
    eir_status st =
        eir_json_build_model(doc, cfg->limits, prefix, &p->own_model, &p->own_spec, err);
    if (st != EIR_OK) return st;
    p->model = p->own_model;
    p->spec = p->own_spec;
    eir_pipe_model m = {0};
    if (inl && cfg->keep_inline &&
        cfg->keep_inline(cfg->resolve_ctx, doc, p->own_model, p->own_spec, &m)) {
        p->own_model = NULL; /* the caller's now, lent back */
        p->own_spec = NULL;
        lend(p, &m);
    }
    return EIR_OK;
}

/* The shape of the model of @p request (see eir_pipe_check()); sets p->model_id. */
static eir_status pipe_shape(eir_pipe *p, const json_t *request, eir_model_shape *shape,
                             eir_pipe_stage *stage, eir_error *err)
{
    const eir_pipe_config *cfg = p->cfg;
    *stage = EIR_PIPE_REFERENCE;
    if (cfg->model) {
        if (!json_is_object(request))
            return eir_error_set(err, EIR_EINVAL, "", "expected a run object");
        if (json_object_get(request, "model"))
            return eir_error_set(err, EIR_EINVAL, "/model",
                                 "the run holds a model inline and a model was given beside it "
                                 "too; give one");
        *stage = EIR_PIPE_MODEL;
        return eir_json_model_shape(cfg->model, cfg->limits, "", shape, err);
    }
    const char *id = NULL;
    const json_t *inl = NULL;
    eir_status st = eir_json_run_model_ref(request, &id, &inl, err);
    if (st != EIR_OK) return st;
    *stage = EIR_PIPE_MODEL;
    if (!id) return eir_json_model_shape(inl, cfg->limits, "/model", shape, err);
    p->model_id = id;
    if (!cfg->shape)
        return eir_error_set(err, EIR_EINVAL, "/model_id",
                             "model %s cannot be looked up here; give the model itself", id);
    return cfg->shape(cfg->resolve_ctx, id, shape, err);
}

/* Pick a seed for a noisy run without one, and the run's threads (both entry points). */
static eir_status pipe_finish(eir_pipe *p, double sigma, eir_pipe_stage *stage, eir_error *err)
{
    p->run = &p->spec_run->desc;
    p->seed_used = p->spec_run->has_seed;
    if (!p->spec_run->has_seed && sigma > 0) {
        *stage = EIR_PIPE_SEED;
        if (eir_random_seed63(&p->run->seed) != 0)
            return eir_error_set(err, EIR_ENOMEM, NULL, "cannot pick a random seed: %s",
                                 strerror(errno));
        p->seed_used = p->seed_picked = 1;
    }
    p->run->threads = p->cfg->threads > 0 ? p->cfg->threads : eir_pipe_default_threads(p->run->B);
    return EIR_OK;
}

/* A new pipeline for @p cfg, checked. */
static eir_status pipe_new(const eir_pipe_config *cfg, eir_pipe **out, eir_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->limits)
        return eir_error_set(err, EIR_EINVAL, NULL, "the pipeline needs parsing limits");
    if (cfg->threads < 0 || cfg->threads > EIR_PIPE_MAX_THREADS)
        return eir_error_set(err, EIR_EINVAL, "/threads", "threads must be 1 to %d, not %d",
                             EIR_PIPE_MAX_THREADS, cfg->threads);
    eir_pipe *p = calloc(1, sizeof *p);
    if (!p) return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory starting the run");
    p->cfg = cfg;
    p->simulate_s = -1;
    *out = p;
    return EIR_OK;
}

eir_status eir_pipe_check(const json_t *request, const eir_pipe_config *cfg, eir_pipe **out,
                          eir_pipe_stage *stage, eir_error *err)
{
    eir_pipe *p;
    *out = NULL;
    *stage = EIR_PIPE_REFERENCE;
    eir_status st = pipe_new(cfg, &p, err);
    if (st != EIR_OK) return st;
    eir_model_shape *shape = &p->shape;
    double t0 = eir_clock_mono();
    st = pipe_shape(p, request, shape, stage, err);
    if (st == EIR_OK) {
        *stage = EIR_PIPE_RUN;
        st = eir_json_parse_run_shape(request, shape, cfg->limits, &p->spec_run, err);
    }
    p->parse_s = eir_clock_mono() - t0;
    if (st == EIR_OK) st = pipe_finish(p, shape->sigma, stage, err);
    if (st != EIR_OK) {
        eir_pipe_free(p);
        return st;
    }
    *out = p;
    return EIR_OK;
}

/* Check the length of the state handed over for "V0": {"run_id", "trial"}. */
static eir_status v0_length(const eir_pipe *p, int64_t len, eir_error *err)
{
    const eir_run_spec *sr = p->spec_run;
    int n = eir_model_n(p->model), B = sr->desc.B;
    if (sr->V0_trial >= 0) {
        if (len == n) return EIR_OK;
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                             "run %s has N = %lld cells, this model %d: V0 from a run needs a "
                             "model of the same size",
                             sr->V0_run_id, (long long)len, n);
    }
    if (len > 0 && len % n == 0 && len / n == B) return EIR_OK;
    if (len > 0 && len % n == 0)
        return eir_error_set(err, EIR_EINVAL, "/V0/trial",
                             "run %s has %lld trials, this run %d: give \"trial\" to start "
                             "every trial from one of them, or run as many trials",
                             sr->V0_run_id, (long long)(len / n), B);
    return eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                         "run %s has %lld final values, not %d trials x N = %d cells: V0 from a "
                         "run needs a model of the same size",
                         sr->V0_run_id, (long long)len, B, n);
}

/* A run whose "V0" names another run: its final state through cfg->state, length-checked. */
static eir_status pipe_v0(eir_pipe *p, eir_pipe_stage *stage, eir_error *err)
{
    eir_run_spec *sr = p->spec_run;
    if (!sr->V0_from_run) return EIR_OK;
    *stage = EIR_PIPE_RUN;
    if (!p->cfg->state)
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                             "V0 from a run needs eirnnd, which keeps runs (run %s); give V0 as "
                             "numbers here",
                             sr->V0_run_id);
    double *V = NULL;
    int64_t len = 0;
    eir_status st = p->cfg->state(p->cfg->resolve_ctx, sr->V0_run_id, sr->V0_trial, &V, &len, err);
    if (st == EIR_OK && !V)
        st = eir_error_set(err, EIR_EINVAL, "/V0/run_id", "run %s has no final state",
                           sr->V0_run_id);
    if (st == EIR_OK) st = v0_length(p, len, err);
    if (st == EIR_OK) st = eir_run_spec_set_V0(sr, V, len, eir_model_n(p->model), err);
    free(V);
    return st;
}

/* Keep a copy of the run's described "inputs" for its metadata (eir_meta.h "run.inputs"). */
static eir_status keep_inputs(eir_pipe *p, const json_t *request, eir_error *err)
{
    const json_t *in = json_object_get(request, "inputs");
    if (!json_is_object(in) || !json_object_get(in, "steps")) return EIR_OK; /* an array */
    if (!(p->inputs_sent = json_deep_copy(in)))
        return eir_error_set(err, EIR_ENOMEM, "/inputs", "out of memory keeping the inputs");
    return EIR_OK;
}

eir_status eir_pipe_prepare(const json_t *request, const eir_pipe_config *cfg, eir_pipe **out,
                            eir_pipe_stage *stage, eir_error *err)
{
    eir_pipe *p;
    *out = NULL;
    *stage = EIR_PIPE_REFERENCE;
    eir_status st = pipe_new(cfg, &p, err);
    if (st != EIR_OK) return st;

    /* Resolving or building the model counts as build time; the rest as parse time. */
    double t0 = eir_clock_mono();
    st = pipe_model(p, request, stage, err);
    p->build_s = eir_clock_mono() - t0;
    if (st != EIR_OK) goto fail;
    double t1 = eir_clock_mono();
    *stage = EIR_PIPE_RUN;
    st = eir_json_parse_run(request, p->model, cfg->limits, &p->spec_run, err);
    p->parse_s = eir_clock_mono() - t1;
    if (st != EIR_OK) goto fail;
    if ((st = pipe_v0(p, stage, err)) != EIR_OK) goto fail;
    if ((st = pipe_finish(p, p->spec->desc.sigma, stage, err)) != EIR_OK) goto fail;
    if ((st = keep_inputs(p, request, err)) != EIR_OK) goto fail;
    *out = p;
    return EIR_OK;
fail:
    eir_pipe_free(p);
    return st;
}

/* Keep rows [0, rows) of every trial of an output laid out [B][all][n], contiguously. */
static void keep_rows(void *data, int B, int64_t all, int64_t rows, size_t row_bytes)
{
    unsigned char *d = data;
    for (int b = 1; b < B; b++) /* trial 0 is in place; later ones move towards the front */
        memmove(d + (size_t)b * (size_t)rows * row_bytes, d + (size_t)b * (size_t)all * row_bytes,
                (size_t)rows * row_bytes);
}

eir_status eir_pipe_run(eir_pipe *p, eir_progress_fn progress, void *ctx, eir_error *err)
{
    eir_run_desc *d = p->run;
    size_t elsize = d->precision == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d->record_mask & (1u << v))) continue;
        size_t len = eir_run_out_len(p->model, d, (eir_var)v);
        if (len > SIZE_MAX / elsize || !(p->bufs[v] = malloc(len > 0 ? len * elsize : 1)))
            return p->status = eir_error_set(err, EIR_ENOMEM, NULL,
                                             "out of memory for the recorded %s (%zu values)",
                                             eir_var_name((eir_var)v), len);
        d->out[v] = p->bufs[v];
    }
    size_t nfinal = (size_t)d->B * (size_t)eir_model_n(p->model);
    if (nfinal > SIZE_MAX / elsize || !(p->final_buf = malloc(nfinal * elsize)))
        return p->status =
                   eir_error_set(err, EIR_ENOMEM, NULL,
                                 "out of memory for the final state V (%zu values)", nfinal);
    d->final_V = p->final_buf;
    if (p->spec_run->has_metrics) {
        if (!(p->stats = eir_stats_new(&p->spec_run->metrics, d->B)))
            return p->status =
                       eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the run's metrics");
        d->stats_req = &p->spec_run->metrics;
        d->stats = p->stats;
    }
    d->progress = progress;
    d->progress_ctx = ctx;
    d->progress_every = 0;

    double t0 = eir_clock_mono();
    p->status = eir_run(p->model, d, &p->result, err);
    p->simulate_s = eir_clock_mono() - t0;
    p->ran = 1;
    if (p->status != EIR_OK && p->status != EIR_ECANCELLED) return p->status;

    if (p->status == EIR_OK) {
        eir_pipe_output *f = &p->final;
        f->var = EIR_VAR_V;
        f->name = "V_final";
        f->dtype = eir_meta_dtype(d->precision);
        f->shape[0] = d->B;
        f->shape[1] = eir_model_n(p->model);
        f->shape[2] = 0;
        f->data = p->final_buf;
        f->bytes = nfinal * elsize;
    }
    int64_t all = eir_recorded_rows(d->T, d->record_every);
    int64_t rows = all;
    if (p->status == EIR_ECANCELLED && p->result.rows_written < all) {
        rows = p->result.rows_written;
        p->truncated = 1;
    }
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!p->bufs[v]) continue;
        eir_pipe_output *o = &p->out[p->nout++];
        o->var = (eir_var)v;
        o->name = eir_var_name((eir_var)v);
        o->dtype = eir_meta_dtype(d->precision);
        o->shape[0] = d->B;
        o->shape[1] = rows;
        o->shape[2] = eir_meta_var_units(p->model, d, (eir_var)v);
        size_t row_bytes = (size_t)o->shape[2] * elsize;
        if (p->truncated) keep_rows(p->bufs[v], d->B, all, rows, row_bytes);
        o->data = p->bufs[v];
        o->bytes = (size_t)d->B * (size_t)rows * row_bytes;
    }
    return p->status;
}

json_t *eir_pipe_meta(const eir_pipe *p)
{
    if (!p || !p->ran) return NULL;
    eir_meta_input mi;
    eir_meta_input_init(&mi);
    mi.model = p->model;
    mi.spec = p->spec;
    mi.run = p->run;
    mi.seed_used = p->seed_used;
    mi.result = &p->result;
    mi.run_status = p->status;
    mi.parse_s = p->parse_s;
    mi.build_s = p->build_s;
    mi.simulate_s = p->simulate_s;
    mi.model_hash = p->model_hash; /* a daemon keeps it per cached model */
    if (p->truncated) mi.rows_kept = p->result.rows_written;
    mi.inputs = p->inputs_sent;
    mi.final_V = p->final.data != NULL;
    if (p->spec_run->V0_from_run) {
        mi.V0_run_id = p->spec_run->V0_run_id;
        mi.V0_trial = p->spec_run->V0_trial;
    }
    json_t *metrics = NULL;
    if (p->stats && (p->status == EIR_OK || p->status == EIR_ECANCELLED)) {
        metrics = eir_json_metrics(p->spec_run, p->stats, &p->result, p->run->dt);
        if (!metrics) return NULL;
        mi.metrics = metrics;
    }
    json_t *meta = eir_run_meta(&mi);
    json_decref(metrics);
    return meta;
}

void eir_pipe_free(eir_pipe *p)
{
    if (!p) return;
    for (int v = 0; v < EIR_NVARS; v++)
        free(p->bufs[v]);
    free(p->final_buf);
    eir_stats_free(p->stats);
    json_decref(p->inputs_sent);
    eir_run_spec_free(p->spec_run);
    if (p->resolved && p->cfg->release) p->cfg->release(p->cfg->resolve_ctx, p->handle);
    eir_model_free(p->own_model);
    eir_model_spec_free(p->own_spec);
    free(p);
}
