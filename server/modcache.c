/**
 * @file modcache.c
 * @brief Reference-counted LRU cache of built models, with one build per id at a time
 *        (see modcache.h).
 */
#include "modcache.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_guard.h"
#include "eir_clock.h"
#include "http.h"
#include "srv.h"

#define MC_MAX_ENTRIES 256

typedef struct mc_entry {
    srv_model_ref ref;       /**< first member: a ref pointer is an entry pointer */
    char id[SRV_MC_KEY_MAX]; /**< a model id, or an inline model's content key */
    eir_model *model;        /**< NULL while building */
    eir_model_spec *spec;
    int refs;             /**< users + 1 while listed; guarded by the cache lock */
    int listed;           /**< in mc->e[] */
    int building;         /**< a thread builds it; waiters sleep on mc->built */
    srv_mc_status status; /**< outcome of a finished build that failed (then unlisted) */
    store_status store;   /**< with SRV_MC_STORE */
    eir_error err;        /**< with SRV_MC_INVALID */
    int64_t bytes;
    uint64_t last_use;
    double build_s; /**< seconds its build took (0 for a model added built) */
} mc_entry;

struct srv_modcache {
    pthread_mutex_t lock;
    pthread_cond_t built; /**< broadcast when a build ends */
    int64_t budget, used;
    uint64_t clock;
    atomic_uint_fast64_t *builds;
    const atomic_int *stopping; /**< builds stop when it is set (srv_modcache_set_build_stop()) */
    double build_limit;         /**< seconds a build may take; 0 = no limit */
    int n;
    mc_entry *e[MC_MAX_ENTRIES];
};

/** What an entry holds: the built model, and its spec without arrays. */
static int64_t entry_bytes(const eir_model *m)
{
    return (int64_t)(eir_model_bytes(m) + sizeof(mc_entry) + sizeof(eir_model_spec));
}

/** A model built by build_entry(), moved into its entry under the lock. */
typedef struct mc_built {
    eir_model *model;
    eir_model_spec *spec;
    char hash[65];
    double secs;
} mc_built;

static void entry_free(mc_entry *e)
{
    eir_model_free(e->model);
    eir_model_spec_free(e->spec);
    free(e);
}

/** Drop one reference; true when the entry is unused and unlisted (free it). Lock held. */
static int unref_locked(mc_entry *e)
{
    return --e->refs == 0;
}

/** Unlist slot @p i. Lock held; returns the entry to free or NULL. */
static mc_entry *remove_locked(struct srv_modcache *mc, int i)
{
    mc_entry *e = mc->e[i];
    mc->e[i] = mc->e[--mc->n];
    mc->used -= e->bytes;
    e->listed = 0;
    return unref_locked(e) ? e : NULL;
}

/**
 * Evict unused built entries, least recently used first, while over the budget or the entry
 * limit; the most recently used entry stays unless the budget is 0. Lock held; the entries to
 * free go to @p victims (returns how many).
 */
static int trim_locked(struct srv_modcache *mc, mc_entry **victims)
{
    int nv = 0;
    uint64_t newest = 0;
    for (int i = 0; i < mc->n; i++)
        if (mc->e[i]->last_use > newest) newest = mc->e[i]->last_use;
    while (mc->used > mc->budget || mc->n >= MC_MAX_ENTRIES) {
        int lru = -1;
        for (int i = 0; i < mc->n; i++) {
            mc_entry *e = mc->e[i];
            if (e->building || e->refs > 1) continue; /* in use: stays */
            if (mc->budget > 0 && e->last_use == newest) continue;
            if (lru < 0 || e->last_use < mc->e[lru]->last_use) lru = i;
        }
        if (lru < 0) break;
        mc_entry *v = remove_locked(mc, lru);
        if (v) victims[nv++] = v;
    }
    return nv;
}

static void free_victims(mc_entry **victims, int nv)
{
    for (int i = 0; i < nv; i++)
        entry_free(victims[i]);
}

struct srv_modcache *srv_modcache_new(int64_t budget_bytes, atomic_uint_fast64_t *builds)
{
    struct srv_modcache *mc = calloc(1, sizeof *mc);
    if (!mc) return NULL;
    pthread_mutex_init(&mc->lock, NULL);
    pthread_cond_init(&mc->built, NULL);
    mc->budget = budget_bytes;
    mc->builds = builds;
    return mc;
}

void srv_modcache_set_build_stop(struct srv_modcache *mc, const atomic_int *stopping,
                                 double limit_s)
{
    mc->stopping = stopping;
    mc->build_limit = limit_s;
}

void srv_modcache_free(struct srv_modcache *mc)
{
    if (!mc) return;
    for (int i = 0; i < mc->n; i++)
        entry_free(mc->e[i]);
    pthread_cond_destroy(&mc->built);
    pthread_mutex_destroy(&mc->lock);
    free(mc);
}

static mc_entry *find_locked(struct srv_modcache *mc, const char *id)
{
    for (int i = 0; i < mc->n; i++)
        if (strcmp(mc->e[i]->id, id) == 0) return mc->e[i];
    return NULL;
}

/** List @p e (refs counts its caller's). Lock held; false when the cache is full of entries in
 *  use (then @p e stays unlisted, and is freed by its last put). */
static int list_locked(struct srv_modcache *mc, mc_entry *e, mc_entry **victims, int *nv)
{
    *nv = trim_locked(mc, victims);
    if (mc->n >= MC_MAX_ENTRIES) return 0;
    e->listed = 1;
    e->refs++;
    e->last_use = ++mc->clock;
    mc->e[mc->n++] = e;
    mc->used += e->bytes;
    return 1;
}

/** The problem object (JSON text) of a failed build, for the store: 422 naming the field for
 *  a model the engine refuses, 500 when memory ran out. NULL when out of memory. */
static char *build_error_text(const eir_error *err)
{
    int invalid = err->status == EIR_EINVAL;
    char detail[sizeof err->message + 160];
    snprintf(detail, sizeof detail, "%s%s", err->message,
             invalid ? ""
                     : " (the build ran out of memory: create the model again when the "
                       "daemon has more free memory, or make it smaller)");
    json_t *o = srv_problem_json(invalid ? SRV_P_INVALID : SRV_P_INTERNAL, invalid ? 422 : 500,
                                 NULL, err->field[0] ? err->field : NULL, detail);
    char *s = o ? srv_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/** A failed model's stored error (a problem object) back into @p err. */
static void stored_error(const char *id, const char *text, eir_error *err)
{
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const char *detail = json_string_value(json_object_get(o, "detail"));
    const char *field = json_string_value(json_object_get(o, "field"));
    json_int_t status = json_integer_value(json_object_get(o, "status"));
    eir_error_set(err, status == 500 ? EIR_ENOMEM : EIR_EINVAL, NULL,
                  "model %s failed to build: %s", id, detail ? detail : "(no detail stored)");
    if (field) snprintf(err->field, sizeof err->field, "%s", field);
    json_decref(o);
}

/** Record the outcome of building pending model @p id in the store (logged when it fails). */
static void record_build(store_conn *c, const char *id, const char *hash, const eir_error *err,
                         double secs)
{
    char *text = hash ? NULL : build_error_text(err);
    store_status st = store_model_finish(c, id, hash, text ? text : "{}", secs);
    srv_log("model_built", json_pack("{s:s, s:s, s:f, s:s, s:s?}", "model_id", id, "state",
                                     hash ? "ready" : "failed", "build_s", secs, "store",
                                     store_status_name(st), "error", hash ? NULL : err->message));
    free(text);
}

/**
 * Read model @p id through @p c and build it into @p b, without the lock (the entry being built
 * is only written under the lock, by the caller). A pending model's outcome is recorded in the
 * store.
 */
static srv_mc_status build_entry(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                                 const char *id, mc_built *b, store_status *st, eir_error *err)
{
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status s = store_model_get(c, id, &sm);
    if (s == STORE_NOT_FOUND || s == STORE_INVALID) return SRV_MC_NOT_FOUND;
    if (s != STORE_OK) {
        *st = s;
        return SRV_MC_STORE;
    }
    if (sm.state == STORE_MODEL_FAILED) {
        stored_error(id, sm.error, err);
        store_model_clear(&sm);
        return SRV_MC_INVALID;
    }
    int pending = sm.state == STORE_MODEL_PENDING;
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
    /* build_s covers what creating the model costs once: generation, the build and its hash
     * (the hash reads the dense-equivalent W and M: about 1.3 s at N = 10,000). The build has
     * its own watcher (shutdown, time limit): never the caller's cancel (others may need it). */
    const json_t *pop = json_object_get(j, "populations");
    long long cells = (long long)(json_number_value(json_object_get(pop, "E")) +
                                  json_number_value(json_object_get(pop, "I")));
    srv_build_guard guard;
    srv_build_guard_begin(&guard, mc->stopping, mc->build_limit, NULL, NULL);
    eir_json_limits blim;
    if (lim)
        blim = *lim;
    else
        eir_json_limits_default(&blim);
    blim.stop = guard.stop;
    double t0 = eir_clock_mono();
    eir_status es = eir_json_build_model(j, &blim, "", &b->model, &b->spec, err);
    json_decref(j);
    if (mc->builds) atomic_fetch_add(mc->builds, 1);
    if (es == EIR_OK) {
        eir_model_spec_drop_arrays(b->spec);
        /* once per entry, not once per run */
        if (eir_model_hash_ex(b->model, guard.stop, b->hash) != EIR_OK) {
            es = eir_error_set(err, EIR_ECANCELLED, NULL, "the model's hash was stopped");
            eir_model_free(b->model);
            eir_model_spec_free(b->spec);
            b->model = NULL;
            b->spec = NULL;
        }
    }
    srv_guard_why why = srv_build_guard_end(&guard);
    b->secs = eir_clock_mono() - t0;
    if (es == EIR_ECANCELLED && why == SRV_GUARD_TIME) {
        es = eir_error_set(err, EIR_EINVAL, "/populations",
                           "building the model (its generation, spectral radius and hash) took "
                           "longer than this daemon's model build time limit of %g s "
                           "(--model-build-time-limit): a model of N = %lld cells is too large "
                           "to build here in that time; make it smaller (fewer cells, or no "
                           "spectral_radius), or ask the operator to raise the limit",
                           mc->build_limit, cells);
    } else if (es == EIR_ECANCELLED) {
        /* the daemon stops: neither cached nor recorded, so a pending model stays pending and
         * is built at the next start */
        eir_error_set(err, EIR_ECANCELLED, NULL,
                      "the daemon is stopping: the build of model %s was stopped (a pending "
                      "model is built again at the next start)",
                      id);
        srv_log("model_build_stopped", json_pack("{s:s, s:f, s:b}", "model_id", id, "build_s",
                                                 b->secs, "pending", pending));
        return SRV_MC_INVALID;
    }
    /* Out of memory fails the model too (its error says so): retrying a build that does not
     * fit at every pass of every worker would only keep the machine short of memory. */
    if (pending) record_build(c, id, es == EIR_OK ? b->hash : NULL, err, b->secs);
    return es == EIR_OK ? SRV_MC_OK : SRV_MC_INVALID;
}

/** srv_modcache_get(), or with @p nowait srv_modcache_build()'s "someone has it" early out. */
static srv_mc_status get(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                         const char *id, int nowait, srv_model_ref **out, store_status *st,
                         eir_error *err)
{
    *out = NULL;
    *st = STORE_OK;
    pthread_mutex_lock(&mc->lock);
    mc_entry *e = find_locked(mc, id);
    if (e && nowait) {
        /* Being built: its builder records it. Built: its record may have failed (the store
         * was busy), so the model is still pending in the store: record it now. */
        char hash[65] = "";
        double secs = e->build_s;
        if (e->model) snprintf(hash, sizeof hash, "%s", e->ref.hash);
        pthread_mutex_unlock(&mc->lock);
        if (hash[0]) record_build(c, id, hash, NULL, secs);
        return SRV_MC_OK;
    }
    if (e) {
        e->refs++;
        int gave_up = 0;
        while (e->building && !gave_up) {
            if (!lim || !lim->stop) {
                pthread_cond_wait(&mc->built, &mc->lock);
                continue;
            }
            /* the caller's stop flag (its run's cancel, the shutdown): looked at every 50 ms */
            struct timespec ts = eir_clock_deadline(CLOCK_REALTIME, 0.05);
            pthread_cond_timedwait(&mc->built, &mc->lock, &ts);
            gave_up = e->building && eir_stop_requested(lim->stop);
        }
        if (gave_up) {
            int dead = unref_locked(e);
            pthread_mutex_unlock(&mc->lock);
            if (dead) entry_free(e);
            eir_error_set(err, EIR_ECANCELLED, NULL, "stopped waiting for the build of model %s",
                          id);
            return SRV_MC_INVALID;
        }
        srv_mc_status r = e->model ? SRV_MC_OK : e->status;
        if (r == SRV_MC_OK) {
            e->last_use = ++mc->clock;
            *out = &e->ref;
        } else {
            *st = e->store;
            *err = e->err;
        }
        int dead = r != SRV_MC_OK && unref_locked(e);
        pthread_mutex_unlock(&mc->lock);
        if (dead) entry_free(e);
        return r;
    }
    /* Not there: list a building entry so that other getters wait for this build. */
    e = calloc(1, sizeof *e);
    mc_entry *victims[MC_MAX_ENTRIES];
    int nv = 0;
    if (!e) {
        pthread_mutex_unlock(&mc->lock);
        eir_error_set(err, EIR_ENOMEM, NULL, "out of memory");
        return SRV_MC_INVALID;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    e->refs = 1;
    e->building = 1;
    list_locked(mc, e, victims, &nv); /* unlisted when full: then no waiter can find it */
    pthread_mutex_unlock(&mc->lock);
    free_victims(victims, nv);

    mc_built b = {0};
    srv_mc_status r = build_entry(mc, c, lim, id, &b, st, err);

    pthread_mutex_lock(&mc->lock);
    if (r == SRV_MC_OK) {
        e->model = b.model;
        e->spec = b.spec;
        e->ref.model = b.model;
        e->ref.spec = b.spec;
        memcpy(e->ref.hash, b.hash, sizeof e->ref.hash);
        e->build_s = b.secs;
        e->bytes = entry_bytes(b.model);
    }
    e->building = 0;
    e->status = r;
    e->store = *st;
    e->err = *err;
    if (r == SRV_MC_OK) {
        if (e->listed) mc->used += e->bytes; /* counted from now on (0 while building) */
        e->last_use = ++mc->clock;
        nv = trim_locked(mc, victims);
    } else {
        nv = 0;
        for (int i = 0; i < mc->n; i++)
            if (mc->e[i] == e) {
                if (remove_locked(mc, i)) victims[nv++] = e; /* cannot happen: we hold one */
                break;
            }
    }
    pthread_cond_broadcast(&mc->built);
    int dead = r != SRV_MC_OK && unref_locked(e);
    pthread_mutex_unlock(&mc->lock);
    free_victims(victims, nv);
    if (dead) entry_free(e);
    if (r == SRV_MC_OK) *out = &e->ref;
    return r;
}

srv_mc_status srv_modcache_get(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                               const char *id, srv_model_ref **out, store_status *st,
                               eir_error *err)
{
    return get(mc, c, lim, id, 0, out, st, err);
}

srv_mc_status srv_modcache_build(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                                 const char *id, store_status *st, eir_error *err)
{
    srv_model_ref *ref = NULL;
    srv_mc_status r = get(mc, c, lim, id, 1, &ref, st, err);
    srv_modcache_put(mc, ref);
    return r;
}

void srv_modcache_put(struct srv_modcache *mc, srv_model_ref *ref)
{
    if (!ref) return;
    mc_entry *e = (mc_entry *)ref;
    mc_entry *victims[MC_MAX_ENTRIES];
    pthread_mutex_lock(&mc->lock);
    int dead = unref_locked(e);
    int nv = dead ? 0 : trim_locked(mc, victims); /* it may be evictable now */
    pthread_mutex_unlock(&mc->lock);
    free_victims(victims, nv);
    if (dead) entry_free(e);
}

int srv_modcache_shape(struct srv_modcache *mc, const char *id, eir_model_shape *shape)
{
    int found = 0;
    pthread_mutex_lock(&mc->lock);
    mc_entry *e = find_locked(mc, id);
    if (e && e->model) {
        const eir_model *m = e->model;
        memset(shape, 0, sizeof *shape);
        shape->n = eir_model_n(m);
        shape->n_e = eir_model_n_e(m);
        shape->n_i = eir_model_n_i(m);
        shape->n_in = eir_model_n_in(m);
        shape->n_out = eir_model_n_out(m);
        shape->cls = eir_model_class(m);
        shape->generated = e->spec->generated || e->spec->input_generated;
        shape->sigma = e->spec->desc.sigma;
        snprintf(shape->name, sizeof shape->name, "%s", e->spec->name);
        e->last_use = ++mc->clock;
        found = 1;
    }
    pthread_mutex_unlock(&mc->lock);
    return found;
}

int srv_modcache_lookup(struct srv_modcache *mc, const char *key, srv_model_ref **out)
{
    *out = NULL;
    pthread_mutex_lock(&mc->lock);
    mc_entry *e = find_locked(mc, key);
    if (e && e->model) {
        e->refs++;
        e->last_use = ++mc->clock;
        *out = &e->ref;
    }
    pthread_mutex_unlock(&mc->lock);
    return *out != NULL;
}

srv_model_ref *srv_modcache_add_ref(struct srv_modcache *mc, const char *id, eir_model *model,
                                    eir_model_spec *spec, const char *hash)
{
    mc_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    eir_model_spec_drop_arrays(spec);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->model = model;
    e->spec = spec;
    e->ref.model = model;
    e->ref.spec = spec;
    if (hash)
        snprintf(e->ref.hash, sizeof e->ref.hash, "%s", hash);
    else
        eir_model_hash(model, e->ref.hash);
    e->refs = 1; /* the caller's */
    e->bytes = entry_bytes(model);
    mc_entry *victims[MC_MAX_ENTRIES];
    int nv = 0;
    pthread_mutex_lock(&mc->lock);
    mc_entry *old = find_locked(mc, id), *dup = NULL;
    if (!old) {
        list_locked(mc, e, victims, &nv); /* unlisted when full: freed by the caller's put */
    } else if (old->model) {              /* built meanwhile by another thread: lend that one */
        old->refs++;
        old->last_use = ++mc->clock;
        dup = e;
        e = old;
    } /* else being built from the store: this one stays unlisted, the caller's alone */
    pthread_mutex_unlock(&mc->lock);
    free_victims(victims, nv);
    if (dup) entry_free(dup);
    return &e->ref;
}

void srv_modcache_add(struct srv_modcache *mc, const char *id, eir_model *model,
                      eir_model_spec *spec, const char *hash)
{
    srv_model_ref *ref = srv_modcache_add_ref(mc, id, model, spec, hash);
    if (!ref) {
        eir_model_free(model);
        eir_model_spec_free(spec);
        return;
    }
    srv_modcache_put(mc, ref); /* trims: with a budget of 0 nothing unused stays */
}

void srv_modcache_evict(struct srv_modcache *mc, const char *id)
{
    mc_entry *dead = NULL;
    pthread_mutex_lock(&mc->lock);
    for (int i = 0; i < mc->n; i++)
        if (strcmp(mc->e[i]->id, id) == 0) {
            if (!mc->e[i]->building) dead = remove_locked(mc, i);
            break;
        }
    pthread_mutex_unlock(&mc->lock);
    if (dead) entry_free(dead);
}

int64_t srv_modcache_bytes(struct srv_modcache *mc)
{
    pthread_mutex_lock(&mc->lock);
    int64_t b = mc->used;
    pthread_mutex_unlock(&mc->lock);
    return b;
}
