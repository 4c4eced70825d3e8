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
    store_conn *c; /**< the calling thread's store connection (may be NULL: store error) */
    /** limits of the models it builds; its stop flag (if any) is the caller's, looked at while
     *  waiting for another thread's build (modcache.h). &s->limits by default. */
    const eir_json_limits *lim;
    srv_mc_status status;            /**< outcome of the last lookup (SRV_MC_OK before any) */
    store_status store;              /**< with SRV_MC_STORE: how the store failed */
    const json_t *inline_doc;        /**< the inline model whose key is inline_key, or NULL */
    char inline_key[SRV_MC_KEY_MAX]; /**< srv_inline_model_key() of inline_doc ("" if none) */
} srv_resolver;

/**
 * The model cache's key of inline model @p doc: "inline:" + the SHA-256 (hex) of a canonical
 * encoding of its JSON values: each value a type letter then its content (an integer's or a
 * double's 8 bytes, a string's length and bytes, an array's length and elements, an object's
 * member count and members sorted by key). Two model objects have the same key exactly when
 * they hold the same JSON values (key order, spacing and the spelling of a number do not count;
 * 1 and 1.0 are an integer and a real: two keys), so the handler that checks a run and the
 * worker that runs it (from the request as stored: the body as sent, or re-written with a seed
 * added) find the same key. Linear in the document, without formatting a number (formatting
 * reals to text cost more than building a small model). Recursion is bounded by 2048 levels.
 * @return 0, or -1 when out of memory or nested deeper (then @p key is "": not cached).
 */
int srv_inline_model_key(const json_t *doc, char key[SRV_MC_KEY_MAX]);

/**
 * Fill @p cfg for a run of daemon @p s resolving models through @p res (initialised here with
 * @p s and @p c): the daemon's parsing limits, --threads-per-run, the model cache. Its resolver
 * (eir_pipe_prepare()) builds models through the cache and so belongs on a worker; its shape
 * callback (eir_pipe_check()) never builds and is the HTTP threads' way. A run's inline model
 * is looked up in the cache by its content key (srv_inline_model_key()) and, when the pipeline
 * had to build it, added there (and counted in eirnn_model_builds_total): identical inline
 * models share one build while it stays cached. A run whose "V0" names another run gets that
 * run's final state from the store (srv_run_ref_read(), run_refs.h; a store failure sets
 * res->status to SRV_MC_STORE as a model's does).
 */
void srv_pipe_config(srv *s, store_conn *c, srv_resolver *res, eir_pipe_config *cfg);

#endif /* EIRNN_MODEL_RESOLVE_H */
