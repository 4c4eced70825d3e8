/**
 * @file store_common.h
 * @brief Backend-neutral checks and encodings shared by the SQLite (store_sqlite_*.c) and
 *        PostgreSQL (store_pg_*.c) backends; internal to the store library.
 *
 * Every function here is pure (no I/O, no allocation, no shared state): safe from any thread.
 * None fills a store error; each returns a value its caller turns into one (with the caller's
 * own message), as its comment says.
 */
#ifndef EIR_STORE_COMMON_H
#define EIR_STORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/** 1 when @p s is 64 hex digits (either case), else 0 (also for NULL). */
int store_is_hex64(const char *s);
/** 1 when @p s is 1 to STORE_VAR_MAX - 1 of [A-Za-z0-9_] (a result variable's name), else 0
 *  (also for NULL). */
int store_is_var_name(const char *s);
/** 1 when @p id could be a run id: 1 .. STORE_ID_MAX - 1 characters of [A-Za-z0-9_-] (nothing
 *  that would need escaping in a JSON string or SQL text); else 0. @p id must not be NULL. */
int store_plain_id(const char *id);
/** Bytes per element of a dtype the store accepts (complex128: 16); 0 for any other dtype or
 *  NULL. */
unsigned store_dtype_size(const char *dtype);
/** Writes the opaque list cursor for row @p seq ("c1." + hex seq; the same for both backends)
 *  into @p out. Cannot fail. */
void store_cursor_encode(char out[STORE_CURSOR_MAX], int64_t seq);
/** *seq gets the bound for "seq < ?": INT64_MAX for a NULL or empty cursor (the first page).
 *  Returns 0, or -1 when @p cursor is malformed (then *seq is INT64_MAX). */
int store_cursor_decode(const char *cursor, int64_t *seq);
/** A list's page size: STORE_LIST_DEFAULT for @p limit <= 0, at most STORE_LIST_MAX. Cannot
 *  fail. */
int store_clamp_limit(int limit);
/** The id prefix of job kind @p kind ("run": "r_", "analysis": "a_", "training": "t_"; NULL
 *  means "run"), or NULL
 *  when the store does not know the kind. */
const char *store_job_kind_prefix(const char *kind);
/** 1 when @p s is a subkind the store keeps: 1 to STORE_KIND_MAX - 1 of [a-z0-9_]; else 0.
 *  @p s must not be NULL. */
int store_is_subkind(const char *s);

/** Room for a result's shape as JSON text (store_shape_text()): STORE_MAX_NDIM numbers of up to
 *  20 characters, their commas, the brackets and the NUL. */
#define STORE_SHAPE_TEXT_MAX (STORE_MAX_NDIM * 21 + 3)

/** The JSON array text of @p shape (@p ndim, 0 to STORE_MAX_NDIM, dimensions; @p shape may be
 *  NULL when @p ndim is 0) into @p out, and the array's size in bytes (elements of @p isz bytes)
 *  into *@p total. Returns 0, or -1 with *@p why set to "negative dimension" or "shape too
 *  large" (static text; @p out and *@p total are then unspecified). */
int store_shape_text(unsigned isz, int ndim, const int64_t *shape, char out[STORE_SHAPE_TEXT_MAX],
                     uint64_t *total, const char **why);

/** Writes one chunk of a result (a backend's statement); returns its status. */
typedef store_status (*store_chunk_write_fn)(void *ctx, const void *data, size_t len);

/** Cuts @p n bytes at @p data into chunks of @p chunk_size bytes and writes each full chunk
 *  through @p write (with @p ctx): a whole chunk straight from @p data when the partial chunk
 *  @p *buf is empty, else through @p *buf (@p *buf_len bytes held; allocated with malloc, of
 *  @p chunk_size bytes, on first need, owned and freed by the caller). The bytes of a last,
 *  partial chunk stay in @p *buf. Does not hash or count (the caller does).
 *  On failure returns @p write's status, or STORE_ERROR with @p *oom set to 1 when @p *buf
 *  could not be allocated (the caller names it); some chunks may have been written. */
store_status store_result_fill(unsigned char **buf, size_t *buf_len, size_t chunk_size,
                               const void *data, size_t n, store_chunk_write_fn write, void *ctx,
                               int *oom);

/** Why the arguments of training_checkpoint_put() are bad (static text), or NULL when they are
 *  fine: a malformed id, a checkpoint of 0 or more than STORE_CHECKPOINT_MAX bytes or a negative
 *  iteration (when @p state is not NULL), rows missing, a negative or not strictly increasing
 *  row iteration. */
const char *store_checkpoint_check(const char *id, const void *state, size_t n, int64_t iteration,
                                   const store_curve_row *rows, size_t nrows);

/**
 * Check the arguments of finish_model() (store.h) for the finish of job @p run_id: a 64-hex
 * @p hash, a @p json document, @p n >= 0, and @p training_id NULL or @p run_id. 0 when they are
 * fine; else -1 with the reason in @p why (@p cap bytes). Cannot fail otherwise.
 */
int store_finish_model_args(const char *hash, const char *json, int64_t n, const char *training_id,
                            const char *run_id, char *why, size_t cap);

#endif
