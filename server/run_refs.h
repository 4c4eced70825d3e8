/**
 * @file run_refs.h
 * @brief A run that starts where another ended ("V0": {"run_id": ..., "trial": b}; docs/API.md
 *        "V0 from a run"): the check at submission (store lookups only, no array read) and the
 *        read of the referenced run's final state "V_final" on the worker (the pipeline's state
 *        callback, eir_runner.h).
 *
 * Threads: each call uses the caller's store connection on the caller's thread.
 */
#ifndef EIRNN_RUN_REFS_H
#define EIRNN_RUN_REFS_H

#include <stdint.h>

#include "eir_runner.h"
#include "http.h"
#include "results.h"
#include "store.h"

/** The result a finished run keeps of its final state: 2-D [B, N], the run's dtype. */
#define SRV_V_FINAL "V_final"

/**
 * What a lookup found of a referenced run (a cache for callers that check many runs naming the
 * same one: a sweep's points). Zero it before the first use.
 */
typedef struct srv_run_ref {
    char id[STORE_ID_MAX]; /**< the run looked up last ("" before any) */
    int usable;            /**< it is a succeeded run with a 2-D float V_final */
    int64_t B, N;          /**< its V_final's shape (when usable) */
    char why[256];         /**< why it cannot be used (when not usable), for /V0/run_id */
} srv_run_ref;

/**
 * Check the "V0" of parsed run @p rs (nothing to do unless rs->V0_from_run) for a run of
 * @p B trials of a model of @p N cells: the referenced run exists and is a run, succeeded, has
 * V_final (runs from before final states were kept have none), of N cells; with a "trial" it
 * has that trial, without one as many trials as this run. @p ref (may be NULL) remembers the last
 * run looked up, so that it is looked up once for many checks.
 * @return EIR_OK; EIR_EINVAL with @p err naming "/V0/run_id" or "/V0/trial"; another status
 *         when the store failed (*@p st says how, the connection's message why).
 */
eir_status srv_run_ref_check(store_conn *c, const eir_run_spec *rs, int64_t B, int64_t N,
                             srv_run_ref *ref, store_status *st, eir_error *err);

/**
 * srv_run_ref_check() for a run submitted to @p r, prepared or checked as @p p (its model's N
 * from the built model or its shape). @return 0; -1 with the answer queued into *@p ret (422
 * naming the field, or the store's failure).
 */
int srv_run_refs_check(srv_req *r, store_conn *c, const eir_pipe *p, enum MHD_Result *ret);

/**
 * The pipeline's state callback (::eir_pipe_state_fn) of a worker: the final state of run
 * @p run_id read from the store through connection @p c (float32 or float64, as doubles), trial
 * @p trial or all (-1). Errors: EIR_EINVAL naming "/V0/run_id" (no such run, deleted meanwhile,
 * not succeeded, no V_final) or "/V0/trial" (out of range); EIR_ENOMEM (*@p st STORE_OK); a
 * store failure EIR_ENOMEM with *@p st set (not STORE_OK: the run is left for a later attempt).
 */
eir_status srv_run_ref_read(store_conn *c, const char *run_id, int64_t trial, double **V,
                            int64_t *len, store_status *st, eir_error *err);

/**
 * Answer GET /v1/runs/{id}/results/{var} for a 2-D result (V_final) described by @p info, of a
 * run that has ended: the whole array in format @p fmt through array_stream.h (ETag from its
 * checksum and the format, 304 on If-None-Match). ?trials=, ?steps= and ?neurons= are 400 (a
 * 2-D result is served whole). @return what srv_reply() returned (404 when the result went
 * away, store failures).
 */
enum MHD_Result srv_run_result_2d(srv_req *r, store_conn *c, const store_result_info *info,
                                  srv_res_fmt fmt);

#endif /* EIRNN_RUN_REFS_H */
