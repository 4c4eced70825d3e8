/**
 * @file array_stream_int.h
 * @brief The content reader behind srv_array_response() without libmicrohttpd's response
 *        around it, so that its bytes can be tested directly (tests/daemon/test_array_stream.c).
 */
#ifndef EIRNN_ARRAY_STREAM_INT_H
#define EIRNN_ARRAY_STREAM_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "array_stream.h"

/** One download of one array (array_stream.c). */
typedef struct srv_array_stream srv_array_stream;

/**
 * A reader for @p src in format @p fmt, its buffers all allocated now (a fixed few hundred KB),
 * with the body's length in @p *total (MHD_SIZE_UNKNOWN for JSON and CSV) and the block size
 * libmicrohttpd should use in @p *block. Owns src->ctx from the call on: on failure (NULL: out of
 * memory, an unknown dtype, ndim outside 1..3, a negative dimension or a name of 64 bytes or
 * more) src->ctx is freed too.
 */
srv_array_stream *srv_array_stream_open(const srv_array_source *src, srv_res_fmt fmt,
                                        uint64_t *total, size_t *block);

/**
 * Up to @p max bytes of the body at @p pos (which must be where the last call ended) into
 * @p buf, with libmicrohttpd's content-reader conventions: the count (> 0), or
 * MHD_CONTENT_READER_END_OF_STREAM at the end, or MHD_CONTENT_READER_END_WITH_ERROR when the
 * source's read fails or @p pos is not where the body is.
 */
ssize_t srv_array_stream_read(srv_array_stream *x, uint64_t pos, char *buf, size_t max);

/** Free the reader and its source's ctx; NULL is a no-op. */
void srv_array_stream_close(srv_array_stream *x);

#endif /* EIRNN_ARRAY_STREAM_INT_H */
