/**
 * @file results.h
 * @brief Streaming a stored result array (B x T' x n) as .npy, JSON or CSV, optionally sliced,
 *        one stored chunk at a time so that a large result is never held whole in memory.
 */
#ifndef EIRNN_RESULTS_H
#define EIRNN_RESULTS_H

#include <stdint.h>

#include "http.h"

/** Output formats of GET /v1/runs/{id}/results/{var}. */
typedef enum srv_res_fmt {
    SRV_FMT_NPY = 0, /**< NumPy .npy v1.0, the exact bytes `eirnn simulate` writes */
    SRV_FMT_JSON,    /**< nested lists [trial][step][unit]; non-finite values are null */
    SRV_FMT_CSV      /**< header, then one row per (trial, step): trial, step, units */
} srv_res_fmt;

/** What part of the array to send, in stored indices. Ranges are half-open. */
typedef struct srv_res_view {
    srv_res_fmt fmt;
    int64_t t0, t1; /**< trials [t0, t1) */
    int64_t s0, s1; /**< recorded steps [s0, s1) */
    int64_t *units; /**< selected unit indices (owned by the caller), or NULL for all */
    int64_t nu;     /**< number of selected units (n when units is NULL) */
    int full;       /**< the whole array in stored order (enables the raw chunk copy) */
} srv_res_view;

/**
 * A streaming response for result @p info of run @p run_id as @p v describes (copied; units
 * too). The reader runs on the connection's thread and reads chunks through that thread's store
 * connection; a chunk that disappears mid-stream (run deleted) ends the response with an error.
 * @return NULL when out of memory.
 */
struct MHD_Response *srv_result_response(srv_req *r, const char *run_id,
                                         const store_result_info *info, const srv_res_view *v);

/**
 * Format a double (or a float when @p f32) in the fewest significant digits that read back to
 * the same value; non-finite values as @p nan_text / "inf" / "-inf" (JSON callers pass "null",
 * which is then used for all three). @return the length written (@p buf holds >= 32 bytes).
 */
int srv_format_number(char *buf, double v, int f32, const char *nan_text);

#endif /* EIRNN_RESULTS_H */
