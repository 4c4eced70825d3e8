/**
 * @file model_resolve.c
 * @brief A run's "model_id" looked up in the model cache (and so the store) for the run
 *        pipeline, and the pipeline configuration of the daemon (model_resolve.h).
 */
#include "model_resolve.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_sha256.h"
#include "run_refs.h"

/** Deepest nesting hashed (jansson's parser refuses deeper documents anyway). */
#define KEY_MAX_DEPTH 2048

/** SHA-256 fed in pieces of a few bytes, buffered (one update per piece would cost more). */
typedef struct key_hasher {
    eir_sha256_ctx sha;
    size_t n;
    uint8_t buf[4096];
} key_hasher;

static void hash_put(key_hasher *h, const void *p, size_t len)
{
    if (h->n + len > sizeof h->buf) {
        eir_sha256_update(&h->sha, h->buf, h->n);
        h->n = 0;
        if (len > sizeof h->buf) {
            eir_sha256_update(&h->sha, p, len);
            return;
        }
    }
    memcpy(h->buf + h->n, p, len);
    h->n += len;
}

/** Type letter @p t and the 8 bytes of @p v, little-endian. */
static void hash_u64(key_hasher *h, char t, uint64_t v)
{
    uint8_t b[9];
    b[0] = (uint8_t)t;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(v >> (8 * i));
    hash_put(h, b, sizeof b);
}

/** Type letter @p t, the length and the bytes. */
static void hash_bytes(key_hasher *h, char t, const char *p, size_t len)
{
    hash_u64(h, t, len);
    hash_put(h, p, len);
}

typedef struct key_ref {
    const char *key;
    size_t len;
    json_t *value;
} key_ref;

static int key_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/**
 * Feed @p j to @p h in the canonical encoding of srv_inline_model_key(): a type letter, then
 * the value (length-prefixed strings, the 8 bytes of an integer or a double, an array's length
 * and elements, an object's member count and members sorted by key). -1 when out of memory or
 * nested deeper than KEY_MAX_DEPTH.
 */
static int hash_json(key_hasher *h, const json_t *j, int depth)
{
    if (depth > KEY_MAX_DEPTH) return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        key_ref *keys = n ? malloc(n * sizeof *keys) : NULL;
        if (n && !keys) return -1;
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v)
        {
            if (i < n) keys[i++] = (key_ref){k, klen, v};
        }
        qsort(keys, i, sizeof *keys, key_cmp);
        hash_u64(h, 'o', i);
        int rc = 0;
        for (size_t m = 0; m < i && rc == 0; m++) {
            hash_bytes(h, 'k', keys[m].key, keys[m].len);
            rc = hash_json(h, keys[m].value, depth + 1);
        }
        free(keys);
        return rc;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        hash_u64(h, 'a', n);
        for (size_t i = 0; i < n; i++)
            if (hash_json(h, json_array_get(j, i), depth + 1) != 0) return -1;
        return 0;
    }
    case JSON_STRING:
        hash_bytes(h, 's', json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
        hash_u64(h, 'i', (uint64_t)json_integer_value(j));
        return 0;
    case JSON_REAL: {
        double d = json_real_value(j);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        hash_u64(h, 'r', bits);
        return 0;
    }
    case JSON_TRUE:
        hash_put(h, "t", 1);
        return 0;
    case JSON_FALSE:
        hash_put(h, "f", 1);
        return 0;
    case JSON_NULL:
    default:
        hash_put(h, "n", 1);
        return 0;
    }
}

int srv_inline_model_key(const json_t *doc, char key[SRV_MC_KEY_MAX])
{
    key[0] = '\0';
    key_hasher *h = malloc(sizeof *h); /* 4 kB: not on an HTTP thread's stack */
    if (!h) return -1;
    eir_sha256_init(&h->sha);
    h->n = 0;
    int rc = hash_json(h, doc, 0);
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    char hex[EIR_SHA256_HEX_LEN + 1];
    if (rc == 0) {
        eir_sha256_update(&h->sha, h->buf, h->n);
        eir_sha256_final(&h->sha, digest);
    }
    free(h);
    if (rc != 0) return -1;
    eir_sha256_hex(digest, hex);
    snprintf(key, SRV_MC_KEY_MAX, "inline:%s", hex);
    return 0;
}

/* The content key of @p doc, computed once per pipeline; NULL when out of memory. */
static const char *inline_key(srv_resolver *res, const json_t *doc)
{
    if (res->inline_doc != doc) {
        res->inline_doc = doc;
        srv_inline_model_key(doc, res->inline_key);
    }
    return res->inline_key[0] ? res->inline_key : NULL;
}

static void lend_ref(srv_model_ref *ref, eir_pipe_model *out)
{
    out->model = ref->model;
    out->spec = ref->spec;
    out->hash = ref->hash;
    out->handle = ref;
}

/* eir_pipe_inline_fn: a model of the same content in the cache, or "build it" (out->model
 * NULL). Never fails: a key that cannot be computed (out of memory) means "build it". */
static eir_status resolve_inline(void *ctx, const json_t *model, eir_pipe_model *out,
                                 eir_error *err)
{
    (void)err;
    srv_resolver *res = ctx;
    const char *key = inline_key(res, model);
    srv_model_ref *ref = NULL;
    if (key && srv_modcache_lookup(res->s->models, key, &ref)) lend_ref(ref, out);
    return EIR_OK;
}

/* eir_pipe_keep_fn: count the pipeline's build of an inline model and add it to the cache
 * under its content key (for the run's worker and later runs of the same content). */
static int keep_inline(void *ctx, const json_t *model, eir_model *built, eir_model_spec *spec,
                       eir_pipe_model *out)
{
    srv_resolver *res = ctx;
    atomic_fetch_add(&res->s->metrics.model_builds, 1);
    const char *key = inline_key(res, model);
    srv_model_ref *ref = key ? srv_modcache_add_ref(res->s->models, key, built, spec, NULL) : NULL;
    if (!ref) return 0; /* out of memory: the pipeline keeps its model */
    lend_ref(ref, out);
    return 1;
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
        lend_ref(ref, out);
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

/* eir_pipe_state_fn: the final state of the run a run's "V0" names, read from the store
 * (run_refs.h); a store failure is remembered as the model's are (res->status = SRV_MC_STORE). */
static eir_status state(void *ctx, const char *run_id, int64_t trial, double **V, int64_t *len,
                        eir_error *err)
{
    srv_resolver *res = ctx;
    store_status st;
    eir_status es = srv_run_ref_read(res->c, run_id, trial, V, len, &st, err);
    if (st != STORE_OK) {
        res->status = SRV_MC_STORE;
        res->store = st;
    }
    return es;
}

void srv_pipe_config(srv *s, store_conn *c, srv_resolver *res, eir_pipe_config *cfg)
{
    res->s = s;
    res->c = c;
    res->lim = &s->limits;
    res->status = SRV_MC_OK;
    res->store = STORE_OK;
    res->inline_doc = NULL;
    res->inline_key[0] = '\0';
    cfg->limits = &s->limits;
    cfg->model = NULL;
    cfg->resolve = resolve;
    cfg->release = release;
    cfg->shape = shape;
    cfg->resolve_inline = resolve_inline;
    cfg->keep_inline = keep_inline;
    cfg->resolve_ctx = res;
    cfg->state = state;
    cfg->threads = s->cfg.threads_per_run;
}
