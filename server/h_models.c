/**
 * @file h_models.c
 * @brief /v1/models: create, get, list (cursor pagination with a Link header) and delete (409
 *        while runs use the model).
 *
 * Creation: a document without a `generate` recipe is built here (linear in its size: every
 * check of the engine answers now) and stored ready (201). A document with a recipe is checked
 * without generating it (eir_json_model_shape()) and stored pending (202): a worker builds it
 * (pool.c), and the model becomes ready with its hash, or failed with the build's error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "labels.h"
#include "model_resolve.h"
#include "modcache.h"
#include "pool.h"

/** The resource of a model, without its document. */
static json_t *model_json(const store_model *m)
{
    char created[40], self[64];
    srv_rfc3339(m->created_at, created, sizeof created);
    snprintf(self, sizeof self, "/v1/models/%s", m->id);
    json_t *error = m->error && *m->error ? json_loads(m->error, 0, NULL) : NULL;
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:o, s:o, s:o, s:{s:s}}", "id", m->id, "name",
        m->name ? m->name : "", "state", store_model_state_name(m->state), "hash",
        m->hash[0] ? json_string(m->hash) : json_null(), "n", (json_int_t)m->n, "created_at",
        created, "build_s", m->build_s >= 0 ? json_real(m->build_s) : json_null(), "error",
        error ? error : json_null(), "labels", srv_labels_object(m->labels_json), "training",
        m->training_id[0] ? json_string(m->training_id) : json_null(), "links", "self", self);
}

/** Queue the answer to a created model: @p status (201 or 202) with Location. */
static enum MHD_Result reply_created(srv_req *r, unsigned status, store_model *sm)
{
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/models/%s", sm->id);
    struct MHD_Response *resp = srv_response_json(r, model_json(sm));
    store_model_clear(sm);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
    return srv_reply(r, status, resp);
}

/** A model with a recipe: checked without generating it, stored pending, 202. */
static enum MHD_Result create_pending(srv_req *r, json_t *doc)
{
    srv *s = r->s;
    eir_model_shape shape;
    eir_error err;
    eir_error_clear(&err);
    eir_status es = eir_json_model_shape(doc, &s->limits, "", &shape, &err);
    if (es != EIR_OK) {
        json_decref(doc);
        return srv_problem_eir(r, &err);
    }
    char *labels;
    enum MHD_Result ret;
    int bad = srv_labels_of(r, doc, &labels, &ret);
    json_decref(doc);
    if (bad) return ret;
    store_conn *c = srv_thread_conn(s);
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status st =
        c ? store_model_create(c, shape.name, NULL, shape.n, r->body, labels, &sm) : STORE_ERROR;
    free(labels);
    if (st != STORE_OK) return srv_problem_store(r, st, c, "the model");
    srv_pool_notify(s->pool); /* a worker builds it */
    return reply_created(r, 202, &sm);
}

enum MHD_Result h_models_create(srv_req *r)
{
    srv *s = r->s;
    enum MHD_Result ret;
    json_t *doc = srv_body_json(r, &ret);
    if (!doc) return ret;
    /* a recipe costs more to build than to read: a worker builds it, never an HTTP thread */
    if (eir_json_model_has_recipe(doc)) return create_pending(r, doc);
    eir_model *m = NULL;
    eir_model_spec *spec = NULL;
    eir_error err;
    eir_error_clear(&err);
    if (eir_json_build_model(doc, &s->limits, "", &m, &spec, &err) != EIR_OK) {
        json_decref(doc);
        return srv_problem_eir(r, &err);
    }
    char *labels;
    int bad = srv_labels_of(r, doc, &labels, &ret);
    json_decref(doc);
    if (bad) {
        eir_model_free(m);
        eir_model_spec_free(spec);
        return ret;
    }
    atomic_fetch_add(&s->metrics.model_builds, 1);
    char hash[65];
    eir_model_hash(m, hash);
    store_conn *c = srv_thread_conn(s);
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status st =
        c ? store_model_create(c, spec->name, hash, eir_model_n(m), r->body, labels, &sm)
          : STORE_ERROR;
    free(labels);
    if (st != STORE_OK) {
        eir_model_free(m);
        eir_model_spec_free(spec);
        return srv_problem_store(r, st, c, "the model");
    }
    srv_modcache_add(s->models, sm.id, m, spec, hash);
    return reply_created(r, 201, &sm);
}

enum MHD_Result h_models_get(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    store_model sm;
    memset(&sm, 0, sizeof sm);
    const char *id = r->params[0];
    store_status st = c ? store_model_get(c, id, &sm) : STORE_ERROR;
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "model %s", id);
        return srv_problem_store(r, st, c, what);
    }
    json_t *j = model_json(&sm);
    char *base = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!base) {
        store_model_clear(&sm);
        return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    }
    /* Splice the document in verbatim, as it was submitted. */
    size_t n = strlen(base), dl = strlen(sm.json);
    char *out = malloc(n + dl + 16);
    if (!out) {
        free(base);
        store_model_clear(&sm);
        return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    }
    memcpy(out, base, n - 1);
    size_t k = n - 1;
    memcpy(out + k, ",\"model\":", 9);
    k += 9;
    memcpy(out + k, sm.json, dl);
    k += dl;
    out[k++] = '}';
    free(base);
    store_model_clear(&sm);
    return srv_reply(r, 200, srv_response_take(r, out, k, "application/json"));
}

typedef struct list_ctx {
    json_t *items;
} list_ctx;

static int list_cb(void *ctx, const store_model *m)
{
    list_ctx *l = ctx;
    json_t *j = model_json(m);
    return j ? json_array_append_new(l->items, j) : 1;
}

enum MHD_Result h_models_list(srv_req *r)
{
    int limit;
    const char *cursor;
    enum MHD_Result ret;
    store_labels labels;
    if (srv_page_params(r, &limit, &cursor, &ret) || srv_labels_query(r, &labels, &ret)) return ret;
    store_conn *c = srv_thread_conn(r->s);
    list_ctx l = {json_array()};
    char next[STORE_CURSOR_MAX] = "";
    store_status st = c && l.items ? store_model_list(c, labels.n ? &labels : NULL, cursor, limit,
                                                      list_cb, &l, next)
                                   : STORE_ERROR;
    if (st != STORE_OK) {
        json_decref(l.items);
        if (st == STORE_INVALID)
            return srv_problem_param(r, "cursor", "the cursor is not valid: %s", store_errmsg(c));
        return srv_problem_store(r, st, c, "the model list");
    }
    json_t *j = json_pack("{s:o, s:o}", "items", l.items, "next_cursor",
                          next[0] ? json_string(next) : json_null());
    struct MHD_Response *resp = srv_response_json(r, j);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    char extra[SRV_LIST_QUERY_MAX] = "";
    srv_labels_query_text(&labels, extra, sizeof extra);
    srv_link_next(resp, "/v1/models", extra, limit, next);
    return srv_reply(r, 200, resp);
}

enum MHD_Result h_models_delete(srv_req *r)
{
    store_conn *c = srv_thread_conn(r->s);
    const char *id = r->params[0];
    int64_t using = 0;
    store_status st = c ? store_model_delete(c, id, &using) : STORE_ERROR;
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st == STORE_CONFLICT)
        return srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                           "model %s is used by %lld run%s, analys%s or training%s; delete "
                           "those first (see GET /v1/runs?model_id=%s, GET "
                           "/v1/analyses?model_id=%s and GET /v1/trainings?model_id=%s)",
                           id, (long long)using, using == 1 ? "" : "s", using == 1 ? "is" : "es",
                           using == 1 ? "" : "s", id, id, id);
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "model %s", id);
        return srv_problem_store(r, st, c, what);
    }
    srv_modcache_evict(r->s->models, id);
    return srv_reply_empty(r, 204);
}
