/**
 * @file results.h
 * @brief Streaming a stored result array (B x T' x n) as .npy, JSON or CSV, optionally sliced,
 *        a bounded piece at a time so that neither a large result nor a wide selection is ever
 *        held whole in memory.
 */
#ifndef EIRNN_RESULTS_H
#define EIRNN_RESULTS_H

#include <stdint.h>
#include <string.h>

#include "http.h"

/** Output formats of GET /v1/runs/{id}/results/{var}. */
typedef enum srv_res_fmt {
    SRV_FMT_NPY = 0, /**< NumPy .npy v1.0, the exact bytes `eirnn simulate` writes */
    SRV_FMT_JSON,    /**< nested lists [trial][step][unit]; non-finite values are null */
    SRV_FMT_CSV      /**< header, then one row per (trial, step): trial, step, units */
} srv_res_fmt;

/** A half-open range [a, b) of units along the last axis. */
typedef struct srv_unit_range {
    int64_t a, b;
} srv_unit_range;

/**
 * What part of the array to send, in stored indices. Ranges are half-open. The selected units
 * are kept as the ranges the client wrote (?neurons=), not expanded, so that the memory of a
 * selection follows the length of the query, never the width of the result; their total
 * (@p nu) is at most the result's width (h_results.c refuses more).
 */
typedef struct srv_res_view {
    srv_res_fmt fmt;
    int64_t t0, t1;         /**< trials [t0, t1) */
    int64_t s0, s1;         /**< recorded steps [s0, s1) */
    srv_unit_range *ranges; /**< selected units in order (owned by the caller), NULL for all */
    size_t nranges;         /**< entries of ranges */
    int64_t nu;             /**< number of selected units (n when ranges is NULL) */
    int full;               /**< the whole array in stored order (enables the raw chunk copy) */
} srv_res_view;

/**
 * A streaming response for result @p info of run @p run_id as @p v describes (copied; ranges
 * too). Every format is produced in pieces of at most tens of KB (a row is cut into pieces of
 * units), so the memory of one download is a fixed few hundred KB whatever the result's size,
 * the selection and the client's pace. The reader runs on the connection's thread and reads chunks
 * through that thread's store connection; a chunk that disappears mid-stream (run deleted) ends the
 * response with an error.
 * @return NULL when out of memory.
 */
struct MHD_Response *srv_result_response(srv_req *r, const char *run_id,
                                         const store_result_info *info, const srv_res_view *v);

/**
 * The format of @p r's answer into @p *fmt (run results, matrices, analysis results): ?format=
 * (npy, json, csv) wins over Accept; no Accept (or * / *) gives .npy. @return 0, or -1 after
 * queuing 400 (bad ?format=) or 406 (nothing acceptable) into *@p ret.
 */
int srv_res_pick_format(srv_req *r, srv_res_fmt *fmt, enum MHD_Result *ret);

/**
 * The media range of highest q in Accept header value @p accept whose @p of_media (a media
 * range's type, @p len bytes, not NUL-terminated: its number, or -1 for one not served) is a
 * served one; ties go to the first. @return that number, or -1 when none is acceptable. Cannot
 * fail.
 */
int srv_accept_best(const char *accept, int (*of_media)(const char *media, size_t len));

/**
 * Copy what is left of staged output @p out[*@p pos .. @p len) into @p buf, at most @p max
 * bytes, advancing *@p pos: the first move of both download readers (results_stream.c,
 * array_stream.c) at each call. Returns the bytes copied; cannot fail.
 */
static inline size_t srv_stage_drain(const char *out, size_t len, size_t *pos, char *buf,
                                     size_t max)
{
    size_t k = len - *pos < max ? len - *pos : max;
    memcpy(buf, out + *pos, k);
    *pos += k;
    return k;
}

/**
 * Format a double (or a float when @p f32) in the fewest significant digits that read back to
 * the same value; non-finite values as @p nan_text / "inf" / "-inf" (JSON callers pass "null",
 * which is then used for all three). @return the length written (@p buf holds >= 32 bytes).
 */
int srv_format_number(char *buf, double v, int f32, const char *nan_text);

#endif /* EIRNN_RESULTS_H */
