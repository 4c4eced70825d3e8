/**
 * @file modcache.c
 * @brief Reference-counted LRU cache of built models (see modcache.h).
 */
#include "modcache.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

#define MC_MAX_ENTRIES 256

typedef struct mc_entry {
    srv_model_ref ref; /**< first member: a ref pointer is an entry pointer */
    char id[STORE_ID_MAX];
    eir_model *model;
    eir_model_spec *spec;
    int refs; /**< users + 1 while cached; guarded by the cache lock */
    int cached;
    int64_t bytes;
    uint64_t last_use;
} mc_entry;

struct srv_modcache {
    pthread_mutex_t lock;
    int64_t budget, used;
    uint64_t clock;
    int n;
    mc_entry *e[MC_MAX_ENTRIES];
};

/** Rough memory of a built model and its spec: a few N x N double matrices. */
static int64_t model_bytes(const eir_model *m)
{
    int64_t n = eir_model_n(m), nin = eir_model_n_in(m), nout = eir_model_n_out(m);
    return 8 * (4 * n * n + 3 * n * nin + 2 * n * nout + 16 * n) + 4096;
}

static void entry_free(mc_entry *e)
{
    eir_model_free(e->model);
    eir_model_spec_free(e->spec);
    free(e);
}

/** Drop one reference; frees the entry when unused and uncached. Caller holds the lock. */
static int unref_locked(mc_entry *e)
{
    return --e->refs == 0;
}

/** Remove slot @p i from the cache. Caller holds the lock; returns the entry to free or NULL. */
static mc_entry *remove_locked(struct srv_modcache *mc, int i)
{
    mc_entry *e = mc->e[i];
    mc->e[i] = mc->e[--mc->n];
    mc->used -= e->bytes;
    e->cached = 0;
    return unref_locked(e) ? e : NULL;
}

struct srv_modcache *srv_modcache_new(int64_t budget_bytes)
{
    struct srv_modcache *mc = calloc(1, sizeof *mc);
    if (!mc) return NULL;
    pthread_mutex_init(&mc->lock, NULL);
    mc->budget = budget_bytes;
    return mc;
}

void srv_modcache_free(struct srv_modcache *mc)
{
    if (!mc) return;
    for (int i = 0; i < mc->n; i++)
        entry_free(mc->e[i]);
    pthread_mutex_destroy(&mc->lock);
    free(mc);
}

/** Insert @p e (refs already counts the caller) if it fits; evicts LRU entries. Lock held.
 *  Returns entries to free through @p victims (at most MC_MAX_ENTRIES). */
static int insert_locked(struct srv_modcache *mc, mc_entry *e, mc_entry **victims)
{
    int nv = 0;
    if (e->bytes > mc->budget) return 0;
    while (mc->n > 0 && (mc->used + e->bytes > mc->budget || mc->n >= MC_MAX_ENTRIES)) {
        int lru = 0;
        for (int i = 1; i < mc->n; i++)
            if (mc->e[i]->last_use < mc->e[lru]->last_use) lru = i;
        mc_entry *v = remove_locked(mc, lru);
        if (v) victims[nv++] = v;
    }
    e->cached = 1;
    e->refs++;
    e->last_use = ++mc->clock;
    mc->e[mc->n++] = e;
    mc->used += e->bytes;
    return nv;
}

static mc_entry *find_locked(struct srv_modcache *mc, const char *id)
{
    for (int i = 0; i < mc->n; i++)
        if (strcmp(mc->e[i]->id, id) == 0) return mc->e[i];
    return NULL;
}

srv_mc_status srv_modcache_get(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                               const char *id, srv_model_ref **out, store_status *st,
                               eir_error *err)
{
    *out = NULL;
    *st = STORE_OK;
    pthread_mutex_lock(&mc->lock);
    mc_entry *e = find_locked(mc, id);
    if (e) {
        e->refs++;
        e->last_use = ++mc->clock;
        pthread_mutex_unlock(&mc->lock);
        *out = &e->ref;
        return SRV_MC_OK;
    }
    pthread_mutex_unlock(&mc->lock);

    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status s = store_model_get(c, id, &sm);
    if (s == STORE_NOT_FOUND || s == STORE_INVALID) return SRV_MC_NOT_FOUND;
    if (s != STORE_OK) {
        *st = s;
        return SRV_MC_STORE;
    }
    json_error_t je;
    int oom = srv_json_oom();
    srv_json_oom_set(0);
    json_t *j = json_loads(sm.json, JSON_REJECT_DUPLICATES, &je);
    store_model_clear(&sm);
    if (srv_json_oom()) { /* a failed allocation can cut a value short silently (srv.h) */
        json_decref(j);
        eir_error_set(err, EIR_ENOMEM, NULL, "out of memory reading the stored model");
        return SRV_MC_INVALID;
    }
    srv_json_oom_set(oom);
    if (!j) {
        eir_error_set(err, EIR_EINVAL, "", "the stored model is not JSON: %s", je.text);
        return SRV_MC_INVALID;
    }
    eir_model *m = NULL;
    eir_model_spec *spec = NULL;
    eir_status es = eir_json_build_model(j, lim, "", &m, &spec, err);
    json_decref(j);
    if (es != EIR_OK) return SRV_MC_INVALID;
    e = calloc(1, sizeof *e);
    if (!e) {
        eir_model_free(m);
        eir_model_spec_free(spec);
        eir_error_set(err, EIR_ENOMEM, NULL, "out of memory");
        return SRV_MC_INVALID;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    e->model = m;
    e->spec = spec;
    e->ref.model = m;
    e->ref.spec = spec;
    eir_model_hash(m, e->ref.hash); /* once per entry, not once per run (run metadata) */
    e->refs = 1;
    e->bytes = model_bytes(m);

    mc_entry *victims[MC_MAX_ENTRIES];
    int nv = 0;
    pthread_mutex_lock(&mc->lock);
    mc_entry *other = find_locked(mc, id);
    if (other) {
        /* Built concurrently by another thread: use the cached one. */
        other->refs++;
        other->last_use = ++mc->clock;
        pthread_mutex_unlock(&mc->lock);
        entry_free(e);
        *out = &other->ref;
        return SRV_MC_OK;
    }
    nv = insert_locked(mc, e, victims);
    pthread_mutex_unlock(&mc->lock);
    for (int i = 0; i < nv; i++)
        entry_free(victims[i]);
    *out = &e->ref;
    return SRV_MC_OK;
}

void srv_modcache_put(struct srv_modcache *mc, srv_model_ref *ref)
{
    if (!ref) return;
    mc_entry *e = (mc_entry *)ref;
    pthread_mutex_lock(&mc->lock);
    int dead = unref_locked(e);
    pthread_mutex_unlock(&mc->lock);
    if (dead) entry_free(e);
}

void srv_modcache_add(struct srv_modcache *mc, const char *id, eir_model *model,
                      eir_model_spec *spec, const char *hash)
{
    mc_entry *e = calloc(1, sizeof *e);
    if (!e) {
        eir_model_free(model);
        eir_model_spec_free(spec);
        return;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    e->model = model;
    e->spec = spec;
    e->ref.model = model;
    e->ref.spec = spec;
    if (hash)
        snprintf(e->ref.hash, sizeof e->ref.hash, "%s", hash);
    else
        eir_model_hash(model, e->ref.hash);
    e->refs = 1; /* the caller's, dropped below */
    e->bytes = model_bytes(model);
    mc_entry *victims[MC_MAX_ENTRIES];
    int nv = 0;
    pthread_mutex_lock(&mc->lock);
    if (!find_locked(mc, id)) nv = insert_locked(mc, e, victims);
    int dead = unref_locked(e);
    pthread_mutex_unlock(&mc->lock);
    for (int i = 0; i < nv; i++)
        entry_free(victims[i]);
    if (dead) entry_free(e);
}

void srv_modcache_evict(struct srv_modcache *mc, const char *id)
{
    mc_entry *dead = NULL;
    pthread_mutex_lock(&mc->lock);
    for (int i = 0; i < mc->n; i++)
        if (strcmp(mc->e[i]->id, id) == 0) {
            dead = remove_locked(mc, i);
            break;
        }
    pthread_mutex_unlock(&mc->lock);
    if (dead) entry_free(dead);
}
