/**
 * @file model_resolve.c
 * @brief A run's "model_id" looked up in the model cache (and so the store) for the run
 *        pipeline, and the pipeline configuration of the daemon (model_resolve.h).
 */
#include "model_resolve.h"

#include <stdio.h>
#include <string.h>

int srv_model_has_recipe(const json_t *doc)
{
    const json_t *rec = json_object_get(doc, "recurrent");
    const json_t *in = json_object_get(doc, "input");
    const json_t *p = json_object_get(in, "P");
    return json_object_get(rec, "generate") || json_object_get(in, "generate") ||
           (json_is_object(p) && json_object_get(p, "generate"));
}

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
        srv_modcache_get(res->s->models, res->c, res->lim, model_id, &ref, &res->store, err);
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

/* eir_pipe_shape_fn: the model's shape from the cache, or from its stored document without
 * building it (linear in the document's size): what an HTTP thread may afford. A model whose
 * build failed is EINVAL at /model_id with the build's error. */
static eir_status shape(void *ctx, const char *model_id, eir_model_shape *out, eir_error *err)
{
    srv_resolver *res = ctx;
    res->store = STORE_ERROR;
    res->status = SRV_MC_OK;
    if (srv_modcache_shape(res->s->models, model_id, out)) return EIR_OK;
    if (!res->c) {
        res->status = SRV_MC_STORE;
        return eir_error_set(err, EIR_ENOMEM, NULL, "no store connection (out of memory)");
    }
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status st = store_model_get(res->c, model_id, &sm);
    if (st == STORE_NOT_FOUND || st == STORE_INVALID) {
        res->status = SRV_MC_NOT_FOUND;
        return eir_error_set(err, EIR_EINVAL, "/model_id", "model %s does not exist", model_id);
    }
    if (st != STORE_OK) {
        res->status = SRV_MC_STORE;
        res->store = st;
        return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading model %s: %s",
                             model_id, store_errmsg(res->c));
    }
    res->status = SRV_MC_INVALID;
    eir_status es = EIR_EINVAL;
    if (sm.state == STORE_MODEL_FAILED) {
        json_t *o = sm.error ? json_loads(sm.error, 0, NULL) : NULL;
        const char *detail = json_string_value(json_object_get(o, "detail"));
        eir_error_set(err, EIR_EINVAL, "/model_id",
                      "model %s failed to build, so it cannot be run: %s", model_id,
                      detail ? detail : "(no detail stored)");
        json_decref(o);
    } else {
        json_error_t je;
        int oom = srv_json_oom();
        srv_json_oom_set(0);
        json_t *j = json_loads(sm.json, JSON_REJECT_DUPLICATES, &je);
        if (srv_json_oom()) { /* a failed allocation can cut a value short silently (srv.h) */
            json_decref(j);
            j = NULL;
            es = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory reading model %s", model_id);
        } else if (!j) {
            es = eir_error_set(err, EIR_EINVAL, "/model_id", "the stored model %s is not JSON: %s",
                               model_id, je.text);
        }
        srv_json_oom_set(oom);
        if (j) es = eir_json_model_shape(j, &res->s->limits, "", out, err);
        if (es == EIR_OK)
            res->status = SRV_MC_OK;
        else if (j && es == EIR_EINVAL) { /* valid when stored: the limits changed since */
            char why[sizeof err->message];
            snprintf(why, sizeof why, "%s", err->message);
            eir_error_set(err, EIR_EINVAL, "/model_id",
                          "model %s is not valid for this daemon's limits: %s", model_id, why);
        }
        json_decref(j);
    }
    store_model_clear(&sm);
    return es;
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
    res->lim = &s->limits;
    res->status = SRV_MC_OK;
    res->store = STORE_OK;
    cfg->limits = &s->limits;
    cfg->model = NULL;
    cfg->resolve = resolve;
    cfg->release = release;
    cfg->shape = shape;
    cfg->resolve_ctx = res;
    cfg->threads = s->cfg.threads_per_run;
}
