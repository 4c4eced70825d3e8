/**
 * @file modcache.h
 * @brief Built models by id, shared by the HTTP threads and the workers.
 *
 * A stored model never changes, so its built form can be kept: simulating a run for a model_id
 * then skips the JSON decoding and the build (a large share of a small run's cost, and most of
 * a large network's). Entries are reference counted; a model in use is never evicted.
 *
 * Memory: each entry counts what the built model really holds (eir_model_bytes(), the spec's
 * arrays are dropped once built). Unused entries are evicted least recently used first while
 * the total is over the budget, except the most recently used one: one model larger than the
 * budget stays (in use or not) until another model is used. A budget of 0 keeps nothing that
 * is not in use.
 *
 * Builds: only srv_modcache_get() and srv_modcache_build() build, and at most one thread builds
 * a given id at a time: another getter of that id waits for the first builder's outcome (the
 * same model, or the same error). Only workers call them; HTTP threads only look
 * (srv_modcache_shape(), srv_modcache_lookup()) and insert models built from explicit documents
 * (srv_modcache_add(), srv_modcache_add_ref()).
 *
 * Keys: a stored model's id, or an inline model's content key (model_resolve.h): a run's
 * inline model is built by whoever first needs it (the submission of an explicit one, the
 * worker of one with a recipe) and added under its content key, where the worker of that run
 * and every later run of the same content find it (srv_modcache_lookup()). It is evicted as
 * any other entry; once evicted, the next run of it builds it again.
 * A build of a pending model (store.h) records its outcome in the store (ready with its hash,
 * or failed with the error).
 */
#ifndef EIRNN_MODCACHE_H
#define EIRNN_MODCACHE_H

#include <stdatomic.h>
#include <stdint.h>

#include "eir.h"
#include "eir_json.h"
#include "store.h"

struct srv_modcache;

/**
 * Buffer size of a cache key: a stored model's id ("m_" + 24 hex), or an inline model's
 * content key ("inline:" + 64 hex, model_resolve.h).
 */
#define SRV_MC_KEY_MAX 80

/** A model lent by the cache; read-only, valid until srv_modcache_put(). */
typedef struct srv_model_ref {
    const eir_model *model;     /**< the built model (immutable, shareable) */
    const eir_model_spec *spec; /**< its parsed spec, arrays dropped (name, seeds, sigma) */
    char hash[65];              /**< eir_model_hash() of the model, computed once per entry */
} srv_model_ref;

/** Outcome of srv_modcache_get(). */
typedef enum srv_mc_status {
    SRV_MC_OK = 0,        /**< *out is set */
    SRV_MC_NOT_FOUND = 1, /**< no such model in the store */
    SRV_MC_STORE = 2,     /**< the store failed: *st tells how (message on the connection) */
    SRV_MC_INVALID = 3    /**< the model does not build (or its build failed): *err says why */
} srv_mc_status;

/**
 * A cache holding about @p budget_bytes of unused models (0 = keep none). Each build of a
 * stored model adds 1 to *@p builds (may be NULL). NULL if out of memory.
 */
struct srv_modcache *srv_modcache_new(int64_t budget_bytes, atomic_uint_fast64_t *builds);

/**
 * Make every build of this cache stop (engine stop flag, build_guard.h) when *@p stopping becomes
 * non-zero (the daemon's shutdown: the model stays pending in the store, to be built at the next
 * start) or after @p limit_s seconds (0 = no limit; past it a pending model is stored failed,
 * 422, naming the limit). Call before any build; without it builds are never stopped.
 */
void srv_modcache_set_build_stop(struct srv_modcache *mc, const atomic_int *stopping,
                                 double limit_s);

/** Free the cache; every reference must have been put back. NULL is a no-op. */
void srv_modcache_free(struct srv_modcache *mc);

/**
 * Lend the model @p id: from the cache, or read through @p c, parsed with @p lim (NULL for
 * eir_json_limits_default()) and built (then
 * cached), or the outcome of the build of another thread in progress. A model stored failed
 * is not built again: its stored error is returned (SRV_MC_INVALID). A build of a model
 * stored pending records its outcome in the store (a failure to record is logged; the model
 * then stays pending and is built again by the next worker that looks). On failure *out is NULL
 * and *st / @p err describe it (see ::srv_mc_status).
 *
 * Stops: a build stopped by the shutdown (srv_modcache_set_build_stop()) is neither cached nor
 * recorded (SRV_MC_INVALID, err->status EIR_ECANCELLED); one past the time limit is recorded
 * failed (EIR_EINVAL at /populations, naming the limit). lim->stop is not handed to the build
 * (a stored model's build may serve others): it is the caller's own flag, and a caller waiting
 * for another thread's build stops waiting within 50 ms of its request (SRV_MC_INVALID,
 * EIR_ECANCELLED).
 */
srv_mc_status srv_modcache_get(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                               const char *id, srv_model_ref **out, store_status *st,
                               eir_error *err);

/**
 * Build pending model @p id (as srv_modcache_get() would) unless it is being built by another
 * thread (then return at once, the builder records it) or cached (then record it ready in the
 * store: a build whose record failed left it pending), and give it back. Returns what
 * srv_modcache_get() returned, SRV_MC_OK when there was nothing to build.
 */
srv_mc_status srv_modcache_build(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                                 const char *id, store_status *st, eir_error *err);

/** Give back a model lent by srv_modcache_get(). NULL is a no-op. */
void srv_modcache_put(struct srv_modcache *mc, srv_model_ref *ref);

/**
 * If model @p id is cached and built, fill @p shape from it and return 1; else return 0. Never
 * builds and never waits for a build.
 */
int srv_modcache_shape(struct srv_modcache *mc, const char *id, eir_model_shape *shape);

/**
 * Insert a freshly built model under @p id, taking ownership of @p model and @p spec (they are
 * freed when the entry is evicted and unused). @p hash is its eir_model_hash() when the caller
 * has it, or NULL to compute it. Out of memory: they are freed at once.
 */
void srv_modcache_add(struct srv_modcache *mc, const char *id, eir_model *model,
                      eir_model_spec *spec, const char *hash);

/**
 * Lend the model cached under @p key (srv_modcache_put() gives it back) if it is there and
 * built: 1 with *@p out set, else 0 with *@p out NULL. Never builds, never reads the store and
 * never waits for a build. For keys of models added built (inline models): a stored model is
 * looked up with srv_modcache_get().
 */
int srv_modcache_lookup(struct srv_modcache *mc, const char *key, srv_model_ref **out);

/**
 * srv_modcache_add() that also lends the entry to the caller (give it back with
 * srv_modcache_put()). When @p key is already cached and built, @p model and @p spec are freed
 * and that entry is lent instead (the same content). @return the lent model, or NULL when out
 * of memory: then nothing was taken (the caller still owns @p model and @p spec).
 */
srv_model_ref *srv_modcache_add_ref(struct srv_modcache *mc, const char *key, eir_model *model,
                                    eir_model_spec *spec, const char *hash);

/** Drop @p id from the cache (the model was deleted). A build in progress is not affected. */
void srv_modcache_evict(struct srv_modcache *mc, const char *id);

/** Bytes the cached models hold now (in use or not), for /metrics. */
int64_t srv_modcache_bytes(struct srv_modcache *mc);

#endif /* EIRNN_MODCACHE_H */
