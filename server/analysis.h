/**
 * @file analysis.h
 * @brief Analyses as jobs (docs/ANALYSIS.md): the line between the job plumbing (h_analyses.c,
 *        exec.c, the store: an analysis is a row of the run queue with kind "analysis" and an id
 *        "a_...") and the analyses themselves (analysis_check.c, analysis_exec*.c: what each
 *        kind reads, computes with engine/include/eir_analysis.h and keeps).
 *
 * Threads: srv_analysis_check() runs on an HTTP thread and must stay cheap (linear in the
 * request; no model build, no result read beyond metadata); srv_analysis_execute() runs on a
 * worker thread with that worker's store connection.
 */
#ifndef EIRNN_ANALYSIS_H
#define EIRNN_ANALYSIS_H

#include <jansson.h>
#include <stdint.h>

#include "eir.h"
#include "srv.h"
#include "store.h"

/** One output array of an analysis, stored as a result of the job (little-endian bytes). */
typedef struct srv_array {
    char name[STORE_VAR_MAX];
    char dtype[STORE_DTYPE_MAX]; /**< "float64", "complex128", "int32", "int64" */
    int ndim;                    /**< 1 .. 3 */
    int64_t shape[STORE_MAX_NDIM];
    void *data; /**< malloc'ed */
    size_t bytes;
} srv_array;

/** What an analysis produced. */
typedef struct srv_analysis_outcome {
    srv_array *arrays; /**< malloc'ed, narrays entries */
    int narrays;
    json_t *summary; /**< the JSON summary (owned), shown as "summary" in the job document */
} srv_analysis_outcome;

/** Free the arrays and summary of @p o and zero it. NULL is a no-op. */
void srv_analysis_outcome_free(srv_analysis_outcome *o);

/** What the handler needs to queue an analysis accepted by srv_analysis_check(). */
typedef struct srv_analysis_plan {
    char kind[16];               /**< "spectrum", "fixed_points", "lyapunov" or "activity" */
    char model_id[STORE_ID_MAX]; /**< the stored model, "" for an inline model */
    int64_t progress_total;      /**< units of progress in all (0 = unknown) */
} srv_analysis_plan;

/**
 * Validate analysis request @p req in full, as far as it can be without building the model or
 * reading arrays: every field's type and range, the model (id exists, or the inline model's
 * shape), runs and analyses it refers to (exist, finished, same model, record what is needed),
 * vector lengths against the model's N and n_in. On failure fills @p err with the field as a
 * JSON pointer into the request and returns EIR_EINVAL (422 / 400 per srv_problem_eir) or
 * EIR_ENOMEM. *@p st is STORE_OK unless the failure was the store's (reading a model, run or
 * analysis): then it holds the store's status (the handler answers as srv_problem_store does,
 * e.g. 503 for STORE_BUSY) and the store connection's message says why.
 */
eir_status srv_analysis_check(srv *s, store_conn *c, const json_t *req, srv_analysis_plan *plan,
                              store_status *st, eir_error *err);

/**
 * Execute analysis @p id (request @p req, as accepted) on a worker: build or fetch its model
 * (modcache), read the arrays it refers to, compute, and fill @p out. @p progress is called with
 * (done, total) at least every second of work and a non-zero return or @p stop stops it
 * (EIR_ECANCELLED). Errors as eir.h, naming the request field. *@p st as for
 * srv_analysis_check(): a store failure reading what it needs (the job is then released to a
 * later attempt, not failed). @p out is zeroed first and filled only on EIR_OK.
 */
eir_status srv_analysis_execute(srv *s, store_conn *c, const char *id, const json_t *req,
                                eir_progress_fn progress, void *progress_ctx, eir_stop *stop,
                                srv_analysis_outcome *out, store_status *st, eir_error *err);

#endif /* EIRNN_ANALYSIS_H */
