/**
 * @file analysis_refs.c
 * @brief What an analysis refers to, read from the store (analysis_int.h): its model's shape
 *        and hash, the runs whose recorded states or activity it reads, the fixed_points
 *        analyses whose points it linearises at. Metadata only: no array is read here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

void an_ptr(char dst[EIR_FIELD_MAX], const char *ptr, const char *key)
{
    size_t a = strlen(ptr), b = strlen(key);
    if (a + 1 + b >= EIR_FIELD_MAX) a = 0; /* cannot happen: pointers of a request are short */
    if (a + 1 + b >= EIR_FIELD_MAX) b = EIR_FIELD_MAX - 2;
    memmove(dst, ptr, a);
    dst[a] = '/';
    memcpy(dst + a + 1, key, b);
    dst[a + 1 + b] = '\0';
}

static eir_status store_failed(store_conn *c, store_status s, store_status *st, const char *what,
                               const char *id, eir_error *err)
{
    *st = s;
    return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading %s %s: %s", what, id,
                         store_errmsg(c));
}

/* An integer member of @p o, or -1. */
static int64_t meta_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

eir_status an_run_load(store_conn *c, const char *id, const char *ptr, an_run *out,
                       store_status *st, eir_error *err)
{
    char f[EIR_FIELD_MAX];
    memset(out, 0, sizeof *out);
    for (int v = 0; v < EIR_NVARS; v++)
        out->rows[v] = -1;
    *st = STORE_OK;
    an_ptr(f, ptr, "run_id");
    if (strncmp(id, "r_", 2) != 0)
        return eir_error_set(err, EIR_EINVAL, f, "%s is not a run id (\"r_...\")", id);
    store_status s = store_run_get(c, id, &out->row);
    if (s == STORE_NOT_FOUND || s == STORE_INVALID)
        return eir_error_set(err, EIR_EINVAL, f, "run %s does not exist", id);
    if (s != STORE_OK) return store_failed(c, s, st, "run", id, err);
    if (strcmp(out->row.kind, "run") != 0)
        return eir_error_set(err, EIR_EINVAL, f, "%s is not a run but %s %s", id,
                             out->row.kind[0] == 'a' ? "an" : "a", out->row.kind);
    store_run_status rs = out->row.status;
    if (!store_run_status_final(rs))
        return eir_error_set(err, EIR_EINVAL, f,
                             "run %s is %s: it can be analysed once it has finished (wait for "
                             "it: GET /v1/runs/%s?wait=60)",
                             id, store_run_status_name(rs), id);
    if (rs == STORE_RUN_FAILED || !out->row.meta_json)
        return eir_error_set(err, EIR_EINVAL, f, "run %s %s without results to analyse", id,
                             rs == STORE_RUN_FAILED ? "failed" : "ended");
    json_t *meta = json_loads(out->row.meta_json, 0, NULL);
    const json_t *model = json_object_get(meta, "model");
    const json_t *sizes = json_object_get(model, "sizes");
    const json_t *run = json_object_get(meta, "run");
    const json_t *rec = json_object_get(run, "record");
    const json_t *outs = json_object_get(meta, "outputs");
    const char *hash = json_string_value(json_object_get(model, "hash"));
    if (hash) snprintf(out->hash, sizeof out->hash, "%s", hash);
    out->n = (int)meta_int(sizes, "N");
    out->n_e = (int)meta_int(sizes, "E");
    out->n_in = (int)meta_int(sizes, "n_in");
    out->n_out = (int)meta_int(sizes, "n_out");
    const char *cls = json_string_value(json_object_get(model, "class"));
    for (int k = 0; k < 3; k++)
        if (cls && strcmp(cls, eir_class_name((eir_class)k)) == 0) out->cls = (eir_class)k;
    out->B = (int)meta_int(run, "B");
    out->T = meta_int(run, "T");
    out->every = (int)meta_int(rec, "every");
    eir_status es = EIR_OK;
    if (!hash || out->n < 1 || out->n_e < 0 || out->n_in < 0 || out->B < 1 || out->T < 1 ||
        out->every < 1) {
        es = eir_error_set(err, EIR_EINVAL, f,
                           "run %s has no readable metadata (it was recorded by another version)",
                           id);
    } else {
        for (int v = 0; v < EIR_NVARS; v++) {
            const json_t *shape = json_object_get(json_object_get(outs, eir_var_name(v)), "shape");
            if (json_array_size(shape) != 3) continue;
            out->rows[v] = json_integer_value(json_array_get(shape, 1));
            out->units[v] = json_integer_value(json_array_get(shape, 2));
        }
        /* Recording every cell: the metadata counts them; a run names its neurons only when it
         * records a subset (a permutation of all N cells is recorded as N units too: the order
         * is then checked from the request by the worker, an_job_state()). */
        out->all_cells = meta_int(rec, "neurons") == out->n;
    }
    json_decref(meta);
    return es;
}

eir_status an_run_spec(store_conn *c, const eir_json_limits *lim, const an_run *r, const char *ptr,
                       eir_run_spec **out, store_status *st, eir_error *err)
{
    char f[EIR_FIELD_MAX];
    char *text = NULL;
    *out = NULL;
    *st = STORE_OK;
    an_ptr(f, ptr, "run_id");
    store_status s = store_run_request(c, r->row.id, &text);
    if (s == STORE_NOT_FOUND)
        return eir_error_set(err, EIR_EINVAL, f, "run %s does not exist (deleted meanwhile?)",
                             r->row.id);
    if (s != STORE_OK) return store_failed(c, s, st, "the request of run", r->row.id, err);
    json_error_t je;
    json_t *req = eir_json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &je);
    free(text);
    eir_model_shape shape;
    memset(&shape, 0, sizeof shape);
    shape.n = r->n;
    shape.n_e = r->n_e;
    shape.n_i = r->n - r->n_e;
    shape.n_in = r->n_in;
    shape.n_out = r->n_out > 0 ? r->n_out : 0;
    shape.cls = r->cls;
    eir_error e2;
    eir_error_clear(&e2);
    eir_status es = req ? eir_json_parse_run_shape(req, &shape, lim, out, &e2) : EIR_EINVAL;
    json_decref(req);
    if (es == EIR_ENOMEM)
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory reading run %s", r->row.id);
    if (es != EIR_OK)
        return eir_error_set(err, EIR_EINVAL, f, "the request of run %s cannot be read again: %s",
                             r->row.id, req ? e2.message : je.text);
    return EIR_OK;
}

void an_run_clear(an_run *r)
{
    if (r) store_run_clear(&r->row);
}

eir_status an_run_state_row(const an_run *r, const eir_an_state *state, eir_var var, int64_t *row,
                            int64_t *step, eir_error *err)
{
    char f[EIR_FIELD_MAX];
    const char *vn = eir_var_name(var);
    if (r->rows[var] < 0 || !r->all_cells || r->units[var] != r->n) {
        an_ptr(f, state->ptr, "run_id");
        if (r->rows[var] < 0)
            return eir_error_set(err, EIR_EINVAL, f,
                                 "run %s did not record %s (record.vars); run it again recording "
                                 "it",
                                 r->row.id, vn);
        return eir_error_set(err, EIR_EINVAL, f,
                             "run %s recorded %s of %lld of the %d cells (record.neurons); a "
                             "state needs all of them",
                             r->row.id, vn, (long long)r->units[var], r->n);
    }
    if (state->trial >= r->B) {
        an_ptr(f, state->ptr, "trial");
        return eir_error_set(err, EIR_EINVAL, f, "run %s has %d trial%s (0 .. %d), not trial %lld",
                             r->row.id, r->B, r->B == 1 ? "" : "s", r->B - 1,
                             (long long)state->trial);
    }
    int64_t rows = r->rows[var];
    an_ptr(f, state->ptr, "step");
    if (rows < 1)
        return eir_error_set(err, EIR_EINVAL, f, "run %s kept no recorded row", r->row.id);
    int64_t rw;
    if (state->step < 0) {
        rw = rows + state->step;
        if (rw < 0)
            return eir_error_set(err, EIR_EINVAL, f,
                                 "run %s kept %lld recorded rows; step %lld counts past the first",
                                 r->row.id, (long long)rows, (long long)state->step);
    } else {
        if (state->step > r->T || state->step % r->every != 0 || state->step / r->every > rows)
            return eir_error_set(
                err, EIR_EINVAL, f,
                "step %lld of run %s is not recorded: it recorded every %d step%s, the states "
                "after steps %d, %d, ... %lld (of T = %lld); ask for one of those, or count rows "
                "from the end (-1 = the last)",
                (long long)state->step, r->row.id, r->every, r->every == 1 ? "" : "s", r->every,
                2 * r->every, (long long)(rows * r->every), (long long)r->T);
        rw = state->step / r->every - 1;
    }
    *row = rw;
    *step = (rw + 1) * r->every;
    return EIR_OK;
}

eir_status an_model_info_get(srv *s, store_conn *c, const eir_an_request *req, an_model_info *out,
                             store_status *st, eir_error *err)
{
    memset(out, 0, sizeof *out);
    *st = STORE_OK;
    if (req->model) return eir_json_model_shape(req->model, &s->limits, "/model", &out->shape, err);
    srv_resolver res;
    eir_pipe_config cfg;
    srv_pipe_config(s, c, &res, &cfg);
    eir_status es = cfg.shape(cfg.resolve_ctx, req->model_id, &out->shape, err);
    if (es != EIR_OK) {
        if (res.status == SRV_MC_STORE) *st = res.store;
        return es;
    }
    snprintf(out->id, sizeof out->id, "%s", req->model_id);
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status ss = store_model_get(c, req->model_id, &sm);
    if (ss == STORE_OK && sm.state == STORE_MODEL_READY)
        snprintf(out->hash, sizeof out->hash, "%s", sm.hash);
    store_model_clear(&sm);
    if (ss != STORE_OK && ss != STORE_NOT_FOUND)
        return store_failed(c, ss, st, "model", out->id, err);
    return EIR_OK;
}

eir_status an_same_model(const an_model_info *mi, const char *built_hash, const char *run_model_id,
                         const char *run_hash, const char *what, const char *ptr, eir_error *err)
{
    if (mi->id[0] && run_model_id && strcmp(mi->id, run_model_id) == 0) return EIR_OK;
    const char *h = built_hash ? built_hash : mi->hash;
    if (!h[0] && !built_hash) return EIR_OK; /* not known yet: the worker compares the hashes */
    if (run_hash && run_hash[0] && strcmp(h, run_hash) == 0) return EIR_OK;
    return eir_error_set(err, EIR_EINVAL, ptr,
                         "%s is of another model (%s%shash %.12s...) than this analysis (%s%shash "
                         "%.12s...): use the same model",
                         what, run_model_id && run_model_id[0] ? run_model_id : "",
                         run_model_id && run_model_id[0] ? ", " : "",
                         run_hash && run_hash[0] ? run_hash : "unknown", mi->id,
                         mi->id[0] ? ", " : "", h[0] ? h : "unknown");
}

/* The summary of a stored analysis: its metadata as the job plumbing keeps it, "summary" in it
 * when there is one. */
static const json_t *stored_summary(const json_t *meta)
{
    const json_t *s = json_object_get(meta, "summary");
    return json_is_object(s) ? s : meta;
}

eir_status an_points_load(store_conn *c, const eir_an_state *state, an_points *out,
                          store_status *st, eir_error *err)
{
    char f[EIR_FIELD_MAX];
    memset(out, 0, sizeof *out);
    *st = STORE_OK;
    an_ptr(f, state->ptr, "analysis_id");
    const char *id = state->id;
    store_status s = store_run_get(c, id, &out->row);
    if (s == STORE_NOT_FOUND || s == STORE_INVALID)
        return eir_error_set(err, EIR_EINVAL, f, "analysis %s does not exist", id);
    if (s != STORE_OK) return store_failed(c, s, st, "analysis", id, err);
    if (strcmp(out->row.kind, "analysis") != 0 || strcmp(out->row.subkind, "fixed_points") != 0)
        return eir_error_set(err, EIR_EINVAL, f,
                             "%s is not a fixed_points analysis (it is a %s %s)", id,
                             out->row.subkind[0] ? out->row.subkind : "", out->row.kind);
    if (out->row.status != STORE_RUN_SUCCEEDED)
        return eir_error_set(err, EIR_EINVAL, f,
                             "analysis %s is %s: its points can be used once it has succeeded", id,
                             store_run_status_name(out->row.status));
    store_result_info vi, ri;
    s = store_result_info_get(c, id, "V", &vi);
    if (s == STORE_OK) s = store_result_info_get(c, id, "residual", &ri);
    if (s == STORE_NOT_FOUND || (s == STORE_OK && vi.ndim != 2))
        return eir_error_set(err, EIR_EINVAL, f,
                             "analysis %s is not a fixed_points analysis (it has no points V)", id);
    if (s != STORE_OK) return store_failed(c, s, st, "analysis", id, err);
    out->count = vi.shape[0];
    out->n = vi.shape[1];
    store_result_info xi;
    s = store_result_info_get(c, id, "x", &xi);
    if (s == STORE_OK)
        out->n_in = (int)xi.shape[0];
    else if (s != STORE_NOT_FOUND)
        return store_failed(c, s, st, "analysis", id, err);
    json_t *meta = out->row.meta_json ? json_loads(out->row.meta_json, 0, NULL) : NULL;
    const char *h = json_string_value(json_object_get(stored_summary(meta), "model_hash"));
    if (h) snprintf(out->hash, sizeof out->hash, "%s", h);
    json_decref(meta);
    if (state->index >= out->count) {
        an_ptr(f, state->ptr, "index");
        return eir_error_set(err, EIR_EINVAL, f,
                             "analysis %s found %lld point%s (index 0 .. %lld), not index %lld", id,
                             (long long)out->count, out->count == 1 ? "" : "s",
                             (long long)out->count - 1, (long long)state->index);
    }
    return EIR_OK;
}

void an_points_clear(an_points *p)
{
    if (p) store_run_clear(&p->row);
}
