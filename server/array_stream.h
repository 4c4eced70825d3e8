/**
 * @file array_stream.h
 * @brief Streaming any array (1 to 3 dimensions; float64, float32, complex128, int32, int64) as
 *        .npy, JSON or CSV from a source that hands out its bytes by offset: a model's matrices
 *        (rows computed on demand from the built model) and an analysis's stored results.
 *
 * Run results keep their own reader (results.h: selections of trials, steps and units). This one
 * serves whole arrays with the same conventions: .npy v1.0 ('<f8', '<f4', '<c16', '<i4', '<i8'),
 * JSON as nested lists with non-finite values as null and complex values as [re, im] pairs, CSV
 * as docs/FORMAT.md describes. Memory per download is a fixed window (a few hundred KB) whatever
 * the array's size and the client's pace.
 */
#ifndef EIRNN_ARRAY_STREAM_H
#define EIRNN_ARRAY_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "results.h"

/**
 * Copy bytes [@p off, @p off + @p len) of the array's little-endian, row-major bytes into
 * @p buf. Called on the connection's thread (srv_thread_conn() may be used there). Returns 0, or
 * -1 when the bytes cannot be had (the response then ends with an error).
 */
typedef int (*srv_array_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/** An array to stream. */
typedef struct srv_array_source {
    const char *name;         /**< array name (CSV header of a vector), copied */
    const char *dtype;        /**< "float64", "float32", "complex128", "int32" or "int64" */
    int ndim;                 /**< 1 .. 3 */
    int64_t shape[3];         /**< the dimensions */
    srv_array_read_fn read;   /**< the bytes */
    void *ctx;                /**< passed to read; owned by the response from the call on */
    void (*free_ctx)(void *); /**< frees ctx when the response is destroyed (NULL: nothing) */
} srv_array_source;

/**
 * A streaming response for @p src in format @p fmt. On success the response owns src->ctx; on
 * failure (NULL: out of memory, or a dtype/ndim it does not know) src->ctx is freed too.
 */
struct MHD_Response *srv_array_response(srv_req *r, const srv_array_source *src, srv_res_fmt fmt);

/**
 * Answer @p r with @p src in format @p fmt, as run results are answered: 304 (with the ETag)
 * when If-None-Match names @p etag (a quoted strong tag) or is "*"; else 200 streaming the
 * array with Content-Type, ETag, Vary: Accept, X-Eirnn-Shape ("a,b,c"), X-Eirnn-Dtype and, but
 * for JSON, Content-Disposition naming the file "<file_stem>.<npy|csv>". Owns src->ctx from the
 * call on (freed on every path but the 200, where the response frees it). @return what
 * srv_reply() returned (500 problem when out of memory or the source is not streamable).
 */
enum MHD_Result srv_array_send(srv_req *r, const srv_array_source *src, srv_res_fmt fmt,
                               const char *etag, const char *file_stem);

/** Bytes per element of @p dtype (8, 4, 16, 4, 8), 0 when unknown. */
size_t srv_array_itemsize(const char *dtype);

#endif /* EIRNN_ARRAY_STREAM_H */
