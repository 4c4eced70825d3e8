/**
 * @file store_pg_labels.h
 * @brief PostgreSQL backend: the labels check without a database and array parameters
 *        (text[], bigint[], float8[] literals) for statements that write many rows at once.
 *
 * The label helpers every file of the backend uses (pg_params_labels() and ::PG_LABEL_CONDS for
 * list filters, pg_labels_check(), pg_labels_put()) are declared in store_pg_int.h; this header
 * adds, for the writers of many objects in one transaction (store_pg_sweeps.c):
 *
 * - pg_labels_check_text(): the same check in C, so that thousands of objects' labels are
 *   checked before the transaction, with the failing object named, at no round trip;
 * - pg_array_*: the text form of a PostgreSQL array ("{...}") built in a growing buffer,
 *   every text element quoted and escaped, so that a batch of rows goes to the server as a few
 *   parameters of one statement (INSERT ... SELECT FROM unnest($1::text[], ...)) instead of one
 *   statement per row. Such a statement makes the rows' labels from their stored labels_json
 *   (jsonb_each_text(), a key given twice keeping its last value, as pg_labels_put() does).
 *
 * Nothing here is for use outside the backend. Locking: no state is kept between calls; a
 * ::pg_array belongs to its caller.
 */
#ifndef EIR_STORE_PG_LABELS_H
#define EIR_STORE_PG_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/**
 * ::STORE_OK when @p labels_json is NULL (no labels) or the text of a JSON object whose members
 * are all strings without NUL characters (what the labels table and jsonb can hold); else
 * ::STORE_INVALID with the reason ("labels must be a JSON object", "every label's value must be
 * a string (N are not)") in @p err (@p errlen bytes); ::STORE_ERROR when out of memory. Reads no
 * database (pg_labels_check() of store_pg_int.h asks PostgreSQL instead): for checking many
 * objects' labels before a transaction, as a sweep's create does.
 */
store_status pg_labels_check_text(const char *labels_json, char *err, size_t errlen);

/** Text form of a PostgreSQL array being built (pg_array_init() .. pg_array_end()). */
typedef struct pg_array {
    char *s;    /**< the text so far, NUL-terminated; NULL before the first append */
    size_t len; /**< its length */
    size_t cap; /**< bytes allocated */
    int64_t n;  /**< elements appended */
    int oom;    /**< an allocation failed: pg_array_end() answers NULL */
} pg_array;

/** Start an empty array ("{"). Never fails (a failed allocation is noted in a->oom). */
void pg_array_init(pg_array *a);
/** Append a text element, quoted and escaped; NULL appends SQL NULL. */
void pg_array_text(pg_array *a, const char *v);
/** Append an integer element. */
void pg_array_i64(pg_array *a, int64_t v);
/** Append a float8 element (17 significant digits: reads back as the same double). */
void pg_array_f64(pg_array *a, double v);
/** Close the array ("}") and return its text (owned by @p a), or NULL when out of memory. */
const char *pg_array_end(pg_array *a);
/** Free the text and zero @p a. NULL is a no-op. */
void pg_array_free(pg_array *a);

#endif /* EIR_STORE_PG_LABELS_H */
