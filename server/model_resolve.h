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
} srv_resolver;

/**
 * Fill @p cfg for a run of daemon @p s resolving models through @p res (initialised here with
 * @p s and @p c): the daemon's parsing limits, --threads-per-run, the model cache.
 */
void srv_pipe_config(srv *s, store_conn *c, srv_resolver *res, eir_pipe_config *cfg);

#endif /* EIRNN_MODEL_RESOLVE_H */
