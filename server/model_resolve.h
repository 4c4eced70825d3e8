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
    srv_mc_status status; /**< outcome of the last lookup (SRV_MC_OK before any) */
    store_status store;   /**< with SRV_MC_STORE: how the store failed */
} srv_resolver;

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
 * callback (eir_pipe_check()) never builds and is the HTTP threads' way.
 */
void srv_pipe_config(srv *s, store_conn *c, srv_resolver *res, eir_pipe_config *cfg);

#endif /* EIRNN_MODEL_RESOLVE_H */
