/**
 * @file modcache.h
 * @brief Built models by id, shared by the HTTP threads and the workers.
 *
 * A stored model never changes, so its built form can be kept: submitting a run for a model_id
 * and simulating it then skip the JSON decoding and the build (a large share of a small run's
 * cost). Entries are reference counted; a model in use stays alive after eviction until its
 * last user puts it back. The cache is bounded by an estimate of the models' memory.
 */
#ifndef EIRNN_MODCACHE_H
#define EIRNN_MODCACHE_H

#include <stdint.h>

#include "eir.h"
#include "eir_json.h"
#include "store.h"

struct srv_modcache;

/** A model lent by the cache; read-only, valid until srv_modcache_put(). */
typedef struct srv_model_ref {
    const eir_model *model;     /**< the built model (immutable, shareable) */
    const eir_model_spec *spec; /**< its parsed spec (name, generation seeds, sigma) */
    char hash[65];              /**< eir_model_hash() of the model, computed once per entry */
} srv_model_ref;

/** Outcome of srv_modcache_get(). */
typedef enum srv_mc_status {
    SRV_MC_OK = 0,        /**< *out is set */
    SRV_MC_NOT_FOUND = 1, /**< no such model in the store */
    SRV_MC_STORE = 2,     /**< the store failed: *st tells how (message on the connection) */
    SRV_MC_INVALID = 3    /**< the stored document does not build: *err says why */
} srv_mc_status;

/** A cache holding at most about @p budget_bytes of models (0 = keep nothing). NULL if OOM. */
struct srv_modcache *srv_modcache_new(int64_t budget_bytes);

/** Free the cache; every reference must have been put back. NULL is a no-op. */
void srv_modcache_free(struct srv_modcache *mc);

/**
 * Lend the model @p id: from the cache, or read through @p c, parsed with @p lim and built (then
 * cached). On failure *out is NULL and *st / @p err describe it (see ::srv_mc_status).
 */
srv_mc_status srv_modcache_get(struct srv_modcache *mc, store_conn *c, const eir_json_limits *lim,
                               const char *id, srv_model_ref **out, store_status *st,
                               eir_error *err);

/** Give back a model lent by srv_modcache_get() or srv_modcache_add(). NULL is a no-op. */
void srv_modcache_put(struct srv_modcache *mc, srv_model_ref *ref);

/**
 * Insert a freshly built model under @p id, taking ownership of @p model and @p spec (they are
 * freed when the entry is evicted and unused). @p hash is its eir_model_hash() when the caller
 * has it, or NULL to compute it. Out of memory: they are freed at once.
 */
void srv_modcache_add(struct srv_modcache *mc, const char *id, eir_model *model,
                      eir_model_spec *spec, const char *hash);

/** Drop @p id from the cache (the model was deleted). */
void srv_modcache_evict(struct srv_modcache *mc, const char *id);

#endif /* EIRNN_MODCACHE_H */
