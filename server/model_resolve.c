/**
 * @file model_resolve.c
 * @brief A run's "model_id" looked up in the model cache (and so the store) for the run
 *        pipeline, and the pipeline configuration of the daemon (model_resolve.h).
 */
#include "model_resolve.h"

/* eir_pipe_resolve_fn: an unknown id is EINVAL at /model_id; a store failure is remembered in
 * the resolver (res->status = SRV_MC_STORE) for the caller to answer 503 or retry the run. */
static eir_status resolve(void *ctx, const char *model_id, eir_pipe_model *out, eir_error *err)
{
    srv_resolver *res = ctx;
    srv_model_ref *ref = NULL;
    res->store = STORE_ERROR;
    if (!res->c) {
        res->status = SRV_MC_STORE;
        return eir_error_set(err, EIR_ENOMEM, NULL, "no store connection (out of memory)");
    }
    res->status =
        srv_modcache_get(res->s->models, res->c, &res->s->limits, model_id, &ref, &res->store, err);
    switch (res->status) {
    case SRV_MC_OK:
        out->model = ref->model;
        out->spec = ref->spec;
        out->hash = ref->hash;
        out->handle = ref;
        return EIR_OK;
    case SRV_MC_NOT_FOUND:
        return eir_error_set(err, EIR_EINVAL, "/model_id", "model %s does not exist", model_id);
    case SRV_MC_STORE:
        return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading model %s: %s",
                             model_id, store_errmsg(res->c));
    case SRV_MC_INVALID:
    default:
        return err->status != EIR_OK ? err->status : EIR_EINVAL;
    }
}

static void release(void *ctx, void *handle)
{
    srv_resolver *res = ctx;
    srv_modcache_put(res->s->models, handle);
}

void srv_pipe_config(srv *s, store_conn *c, srv_resolver *res, eir_pipe_config *cfg)
{
    res->s = s;
    res->c = c;
    res->status = SRV_MC_OK;
    res->store = STORE_OK;
    cfg->limits = &s->limits;
    cfg->model = NULL;
    cfg->resolve = resolve;
    cfg->release = release;
    cfg->resolve_ctx = res;
    cfg->threads = s->cfg.threads_per_run;
}
