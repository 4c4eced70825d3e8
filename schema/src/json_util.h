/**
 * @file json_util.h
 * @brief Internal helpers shared by the JSON parsers: JSON pointers, value descriptions for
 *        error messages, member getters with type checks, unknown-field rejection, and the
 *        two-phase array decoder (probe the shape, then fill the values).
 */
#ifndef EIR_JSON_UTIL_H
#define EIR_JSON_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "eir.h"

/** Most dimensions an array may have (nested lists deeper than this are rejected). */
#define JA_MAXDIM 8

/** Size of buffers holding a formatted shape such as "[100, 100]". */
#define JA_SHAPE_STR 192

/** Size of buffers holding a short description of a JSON value. */
#define JU_DESC_MAX 96

/* ---------------------------------------------------------------------------------------- */
/* JSON pointers and messages                                                                */
/* ---------------------------------------------------------------------------------------- */

/** dst = base + "/" + key, with key escaped per RFC 6901 (~ -> ~0, / -> ~1). */
void ju_ptr_key(char dst[EIR_FIELD_MAX], const char *base, const char *key);

/** dst = base + "/" + i. */
void ju_ptr_idx(char dst[EIR_FIELD_MAX], const char *base, size_t i);

/** Shortest "%g" form of @p x that reads back exactly (for messages). */
void ju_fmt_num(char *dst, size_t n, double x);

/** A short description of @p v for "got ..." in messages: `string "abc"`, `number 1.5`, ... */
void ju_describe(const json_t *v, char dst[JU_DESC_MAX]);

/** Write "[a, b, c]" for a shape; -1 dimensions are written as "*". */
void ju_fmt_shape(char dst[JA_SHAPE_STR], int ndim, const int64_t *shape);

/** eir_error_set(err, EIR_ENOMEM, field, ...) with a standard message. */
eir_status ju_enomem(eir_error *err, const char *field);

/** Reject a @p v that is not an object: "expected <what>, got ...". */
eir_status ju_expect_object(const json_t *v, const char *ptr, const char *what, eir_error *err);

/**
 * Reject members of object @p obj whose key is not in the NULL-terminated list @p allowed;
 * the error's field is the unknown member's pointer.
 */
eir_status ju_check_keys(const json_t *obj, const char *ptr, const char *const *allowed,
                         eir_error *err);

/** Reject values nested deeper than @p max_depth (the value itself is depth 1). */
eir_status ju_check_depth(const json_t *v, const char *ptr, int max_depth, eir_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Scalars                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/**
 * Read an integer in [lo, hi] from @p v (a JSON integer, or a real with an integral value).
 * @p ptr names @p v in errors.
 */
eir_status ju_int(const json_t *v, const char *ptr, int64_t lo, int64_t hi, int64_t *out,
                  eir_error *err);

/**
 * Read a seed from @p v: an integer in 0 .. 2^63-1 (a JSON integer, or a real with an integral
 * value in that range). Anything else, 2^63 and beyond included, is rejected at @p ptr with a
 * message giving the range.
 */
eir_status ju_seed(const json_t *v, const char *ptr, uint64_t *out, eir_error *err);

/** Read a finite number from @p v. */
eir_status ju_number(const json_t *v, const char *ptr, double *out, eir_error *err);

/**
 * Read the string @p v, which must be one of the NULL-terminated @p names; *out is its index.
 */
eir_status ju_enum(const json_t *v, const char *ptr, const char *const *names, int *out,
                   eir_error *err);

/** Read a boolean. */
eir_status ju_bool(const json_t *v, const char *ptr, int *out, eir_error *err);

/** Member @p key of @p obj, writing its pointer to @p ptr_out; NULL when absent. */
const json_t *ju_member(const json_t *obj, const char *base, const char *key,
                        char ptr_out[EIR_FIELD_MAX]);

/** Copy @p sub into @p err (may be NULL) with @p prefix prepended to its field. */
eir_status ju_prefix_error(eir_error *err, const char *prefix, const eir_error *sub);

/** Error for a missing required member @p key of the object at @p base. */
eir_status ju_missing(const char *base, const char *key, const char *what, eir_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Arrays                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/** What ja_probe() learnt about an array value. */
typedef struct ja_info {
    int ndim;                 /**< 0 for a scalar number */
    int64_t shape[JA_MAXDIM]; /**< claimed shape */
    size_t count;             /**< product of shape (1 for a scalar) */
    int binary;               /**< {"dtype","shape","base64"} form */
    int itemsize;             /**< binary: 4 (float32) or 8 (float64) */
    const char *b64;          /**< binary: the base64 text */
    size_t b64_len;           /**< binary: its length */
} ja_info;

/** Whether @p v is an object in the binary array form (has dtype, shape or base64). */
int ja_is_binary(const json_t *v);

/**
 * Learn the shape of array value @p v (number, nested lists, or binary form) without reading
 * its values. Nested lists are measured along their first elements; binary arrays have their
 * header (dtype, shape, base64 present and typed) checked. Rejects more than @p max_values
 * values. Cheap: O(depth) for lists, O(ndim) for binary arrays.
 */
eir_status ja_probe(const json_t *v, const char *ptr, int64_t max_values, ja_info *info,
                    eir_error *err);

/**
 * Read the values of a probed array into @p out (info->count doubles), checking ragged lists,
 * non-numbers (naming the element), the base64 byte count and alphabet, and non-finite values.
 */
eir_status ja_fill(const json_t *v, const char *ptr, const ja_info *info, double *out,
                   eir_error *err);

/** Whether the probed shape equals (@p ndim, @p shape); -1 in @p shape matches anything. */
int ja_shape_matches(const ja_info *info, int ndim, const int64_t *shape);

/** "expected shape [..], got [..]" (or "got a scalar") error at @p ptr. */
eir_status ja_shape_error(const ja_info *info, const char *ptr, int ndim, const int64_t *shape,
                          eir_error *err);

/**
 * Probe, check the shape (ndim, shape; -1 = any, written back) and read into a new buffer.
 * When @p allow_scalar, a number is broadcast to the whole (fully known) shape.
 * The buffer holds at least one double, so *out is never NULL on success. @p info_out (may be
 * NULL) receives what was probed (ndim 0 when a scalar was broadcast).
 */
eir_status ja_read(const json_t *v, const char *ptr, int ndim, int64_t *shape, int allow_scalar,
                   int64_t max_values, double **out, ja_info *info_out, eir_error *err);

/**
 * Check that every one of @p n values read with @p info is > 0 (@p strict) or >= 0. The error
 * names the element's pointer for nested lists, the flat index for binary arrays.
 */
eir_status ja_check_sign(const double *x, size_t n, const ja_info *info, const char *ptr,
                         int strict, eir_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Base64                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/** Bytes that @p len base64 characters decode to, or -1 if not a valid padded length. */
int64_t ju_b64_decoded_len(const char *s, size_t len);

/**
 * Decode @p len base64 characters into @p dst (ju_b64_decoded_len() bytes). Returns -1 on
 * success, otherwise the offset of the first invalid character.
 */
int64_t ju_b64_decode_into(const char *s, size_t len, unsigned char *dst);

#endif /* EIR_JSON_UTIL_H */
