/**
 * @file model_resolve.h
 * @brief The daemon's side of the run pipeline (eir_runner.h): a run's "model_id" resolved
 *        through the model cache and the store, and the pipeline configuration of a run.
 */
#ifndef EIRNN_MODEL_RESOLVE_H
#define EIRNN_MODEL_RESOLVE_H

#include "eir_runner.h"
#include "modcache.h"
#include "srv.h"

/**
 * Resolver state of one pipeline: what the daemon and the thread's store connection are, and
 * (after a failed resolution) why it failed. Lives as long as the pipeline; one thread.
 */
typedef struct srv_resolver {
    srv *s;
    store_conn *c;        /**< the calling thread's store connection (may be NULL: store error) */
    srv_mc_status status; /**< outcome of the last lookup (SRV_MC_OK before any) */
    store_status store;   /**< with SRV_MC_STORE: how the store failed */
    const json_t *inline_doc;        /**< the inline model whose key is inline_key, or NULL */
    char inline_key[SRV_MC_KEY_MAX]; /**< srv_inline_model_key() of inline_doc ("" if none) */
} srv_resolver;

/**
 * The model cache's key of inline model @p doc: "inline:" + the SHA-256 (hex) of its canonical
 * text, json_dumps() with JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17). Two model
 * objects have the same key exactly when they are the same JSON values (17 digits give every
 * double back; duplicate keys are refused when parsing), so the handler that checks a run and
 * the worker that runs it (from the request as stored: the body as sent, or re-dumped with a
 * seed added) find the same key. The text is hashed as it is written, never held whole.
 * @return 0, or -1 when out of memory (then @p key is "": the model is not cached).
 */
int srv_inline_model_key(const json_t *doc, char key[SRV_MC_KEY_MAX]);

/**
 * Whether model document @p doc has a `generate` recipe (recurrent or input), by the same keys
 * the parser looks at: building it then costs more than reading it (N x N generation, a
 * spectral radius), so it is built by a worker, never on an HTTP thread. Never fails.
 */
int srv_model_has_recipe(const json_t *doc);

/**
 * Fill @p cfg for a run of daemon @p s resolving models through @p res (initialised here with
 * @p s and @p c): the daemon's parsing limits, --threads-per-run, the model cache. Its resolver
 * (eir_pipe_prepare()) builds models through the cache and so belongs on a worker; its shape
 * callback (eir_pipe_check()) never builds and is the HTTP threads' way. A run's inline model
 * is looked up in the cache by its content key (srv_inline_model_key()) and, when the pipeline
 * had to build it, added there (and counted in eirnn_model_builds_total): identical inline
 * models share one build while it stays cached.
 */
void srv_pipe_config(srv *s, store_conn *c, srv_resolver *res, eir_pipe_config *cfg);

#endif /* EIRNN_MODEL_RESOLVE_H */
