/**
 * @file json_util.c
 * @brief JSON pointers, value descriptions, member getters and unknown-field checks.
 */
#include "json_util.h"
#include "eir_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* Pointers and messages                                                                     */
/* ---------------------------------------------------------------------------------------- */

void ju_ptr_key(char dst[EIR_FIELD_MAX], const char *base, const char *key)
{
    size_t n = strnlen(base, EIR_FIELD_MAX - 1);
    if (dst != base) memmove(dst, base, n);
    dst[n] = '\0';
    if (n >= EIR_FIELD_MAX - 1) return;
    dst[n++] = '/';
    for (const char *c = key; *c && n < EIR_FIELD_MAX - 1; c++) {
        if (*c == '~' || *c == '/') {
            if (n + 2 > EIR_FIELD_MAX - 1) break;
            dst[n++] = '~';
            dst[n++] = *c == '~' ? '0' : '1';
        } else {
            dst[n++] = *c;
        }
    }
    dst[n] = '\0';
}

void ju_ptr_idx(char dst[EIR_FIELD_MAX], const char *base, size_t i)
{
    char num[24];
    snprintf(num, sizeof num, "%zu", i);
    ju_ptr_key(dst, base, num);
}

void ju_fmt_num(char *dst, size_t n, double x)
{
    if (isnan(x) || isinf(x)) {
        snprintf(dst, n, "%s", isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    snprintf(dst, n, "%.15g", x);
    if (strtod(dst, NULL) != x) snprintf(dst, n, "%.17g", x);
}

void ju_describe(const json_t *v, char dst[JU_DESC_MAX])
{
    char num[40];
    if (!v) {
        snprintf(dst, JU_DESC_MAX, "nothing");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(dst, JU_DESC_MAX, "an object");
        break;
    case JSON_ARRAY:
        snprintf(dst, JU_DESC_MAX, "an array");
        break;
    case JSON_STRING:
        if (json_string_length(v) > 40)
            snprintf(dst, JU_DESC_MAX, "string \"%.40s...\"", json_string_value(v));
        else
            snprintf(dst, JU_DESC_MAX, "string \"%s\"", json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(dst, JU_DESC_MAX, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        ju_fmt_num(num, sizeof num, json_real_value(v));
        snprintf(dst, JU_DESC_MAX, "%s", num);
        break;
    case JSON_TRUE:
        snprintf(dst, JU_DESC_MAX, "true");
        break;
    case JSON_FALSE:
        snprintf(dst, JU_DESC_MAX, "false");
        break;
    default:
        snprintf(dst, JU_DESC_MAX, "null");
        break;
    }
}

void ju_fmt_shape(char dst[JA_SHAPE_STR], int ndim, const int64_t *shape)
{
    size_t n = 0;
    n += snprintf(dst, JA_SHAPE_STR, "[");
    for (int d = 0; d < ndim && n < JA_SHAPE_STR; d++) {
        const char *sep = d ? ", " : "";
        if (shape[d] < 0)
            n += snprintf(dst + n, JA_SHAPE_STR - n, "%s*", sep);
        else
            n += snprintf(dst + n, JA_SHAPE_STR - n, "%s%lld", sep, (long long)shape[d]);
    }
    if (n < JA_SHAPE_STR) snprintf(dst + n, JA_SHAPE_STR - n, "]");
}

eir_status ju_enomem(eir_error *err, const char *field)
{
    return eir_error_set(err, EIR_ENOMEM, field, "out of memory while reading this field");
}

eir_status ju_expect_object(const json_t *v, const char *ptr, const char *what, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (json_is_object(v)) return EIR_OK;
    ju_describe(v, got);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected %s, got %s", what, got);
}

static int key_allowed(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0) return 1;
    return 0;
}

static void join_names(char *dst, size_t n, const char *const *names)
{
    size_t used = 0;
    dst[0] = '\0';
    for (int i = 0; names[i] && used < n; i++)
        used += snprintf(dst + used, n - used, "%s%s", i ? ", " : "", names[i]);
}

eir_status ju_check_keys(const json_t *obj, const char *ptr, const char *const *allowed,
                         eir_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        char field[EIR_FIELD_MAX], list[384];
        if (key_allowed(key, allowed)) continue;
        ju_ptr_key(field, ptr, key);
        join_names(list, sizeof list, allowed);
        return eir_error_set(err, EIR_EINVAL, field, "unknown field \"%.64s\"; expected one of: %s",
                             key, list);
    }
    return EIR_OK;
}

static eir_status depth_rec(const json_t *v, const char *ptr, int left, int max_depth,
                            eir_error *err)
{
    char sub[EIR_FIELD_MAX];
    if (!json_is_object(v) && !json_is_array(v)) return EIR_OK;
    if (left <= 1)
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected at most %d levels of nesting in the document, got more "
                             "here",
                             max_depth);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_object(e) && !json_is_array(e)) continue;
            ju_ptr_idx(sub, ptr, i);
            if (depth_rec(e, sub, left - 1, max_depth, err)) return EIR_EINVAL;
        }
        return EIR_OK;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        ju_ptr_key(sub, ptr, key);
        if (depth_rec(val, sub, left - 1, max_depth, err)) return EIR_EINVAL;
    }
    return EIR_OK;
}

eir_status ju_check_depth(const json_t *v, const char *ptr, int max_depth, eir_error *err)
{
    if (max_depth < 1) max_depth = 1;
    return depth_rec(v, ptr, max_depth, max_depth, err);
}

/* ---------------------------------------------------------------------------------------- */
/* Scalars                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static eir_status int_range_error(const char *ptr, int64_t lo, int64_t hi, const char *got,
                                  eir_error *err)
{
    if (hi == INT64_MAX || hi == INT32_MAX)
        return eir_error_set(err, EIR_EINVAL, ptr, "expected an integer >= %lld, got %s",
                             (long long)lo, got);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected an integer in [%lld, %lld], got %s",
                         (long long)lo, (long long)hi, got);
}

eir_status ju_int(const json_t *v, const char *ptr, int64_t lo, int64_t hi, int64_t *out,
                  eir_error *err)
{
    char got[JU_DESC_MAX];
    ju_describe(v, got);
    if (json_is_integer(v)) {
        int64_t x = (int64_t)json_integer_value(v);
        if (x < lo || x > hi) return int_range_error(ptr, lo, hi, got, err);
        *out = x;
        return EIR_OK;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x != floor(x) || !isfinite(x))
            return eir_error_set(err, EIR_EINVAL, ptr, "expected an integer, got %s", got);
        if (x < (double)lo || x >= 9223372036854775808.0 || (int64_t)x > hi)
            return int_range_error(ptr, lo, hi, got, err);
        *out = (int64_t)x;
        return EIR_OK;
    }
    return eir_error_set(err, EIR_EINVAL, ptr, "expected an integer, got %s", got);
}

eir_status ju_seed(const json_t *v, const char *ptr, uint64_t *out, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return EIR_OK;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x >= 0 && x < 9223372036854775808.0 && x == floor(x)) {
            *out = (uint64_t)x;
            return EIR_OK;
        }
    }
    ju_describe(v, got);
    if (!json_is_number(v) || json_number_value(v) != floor(json_number_value(v)))
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected an integer, got %s; a seed is an integer from 0 to 2^63-1 "
                             "(9223372036854775807)",
                             got);
    /* An integral real, such as 2^63 read from an integer literal too large for jansson
     * (eir_json_loadb), is shown in full rather than as 9.2233720368547758e+18. */
    if (json_is_real(v) && fabs(json_real_value(v)) < 1e30)
        snprintf(got, sizeof got, "%.0f", json_real_value(v));
    return eir_error_set(err, EIR_EINVAL, ptr,
                         "expected an integer from 0 to 2^63-1 (9223372036854775807), got %s", got);
}

eir_status ju_number(const json_t *v, const char *ptr, double *out, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (json_is_number(v) && isfinite(json_number_value(v))) {
        *out = json_number_value(v);
        return EIR_OK;
    }
    ju_describe(v, got);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected a finite number, got %s", got);
}

eir_status ju_enum(const json_t *v, const char *ptr, const char *const *names, int *out,
                   eir_error *err)
{
    char got[JU_DESC_MAX], list[256];
    if (json_is_string(v)) {
        for (int i = 0; names[i]; i++) {
            if (strcmp(json_string_value(v), names[i]) == 0) {
                *out = i;
                return EIR_OK;
            }
        }
    }
    ju_describe(v, got);
    join_names(list, sizeof list, names);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected one of %s, got %s", list, got);
}

eir_status ju_bool(const json_t *v, const char *ptr, int *out, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return EIR_OK;
    }
    ju_describe(v, got);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected true or false, got %s", got);
}

const json_t *ju_member(const json_t *obj, const char *base, const char *key,
                        char ptr_out[EIR_FIELD_MAX])
{
    ju_ptr_key(ptr_out, base, key);
    return json_object_get(obj, key);
}

eir_status ju_missing(const char *base, const char *key, const char *what, eir_error *err)
{
    char field[EIR_FIELD_MAX];
    ju_ptr_key(field, base, key);
    return eir_error_set(err, EIR_EINVAL, field, "missing required field \"%s\" (%s)", key, what);
}

eir_status ju_prefix_error(eir_error *err, const char *prefix, const eir_error *sub)
{
    char field[EIR_FIELD_MAX];
    snprintf(field, sizeof field, "%s%s", prefix, sub->field);
    return eir_error_set(err, sub->status, field, "%s", sub->message);
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Whether the integer literal of @p n digits at @p d (after an optional minus sign, given by
 * @p negative) lies outside int64_t, which is what jansson reads integer literals into. */
static int integer_overflows(const char *d, size_t n, int negative)
{
    static const char max_pos[] = "9223372036854775807", max_neg[] = "9223372036854775808";
    if (n != sizeof max_pos - 1) return n > sizeof max_pos - 1;
    return memcmp(d, negative ? max_neg : max_pos, n) > 0;
}

/*
 * A copy of the JSON text @p buf (@p len bytes) in which every integer literal outside int64_t
 * gains a ".0", so that jansson reads it as a real; NULL when there is none or when allocation
 * fails (jansson's allocator, so that a caller's out-of-memory hook sees it). Strings are
 * skipped (escapes included); the text need not be valid JSON: the parser judges the copy.
 */
static char *widen_big_integers(const char *buf, size_t len, size_t *out_len)
{
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    /* A widened literal has at least 19 digits and gains 2 bytes. */
    size_t cap = len + 2 * (len / 19 + 1) + 1;
    char *out = jmalloc(cap);
    if (!out) return NULL;
    size_t i = 0, o = 0, widened = 0;
    while (i < len) {
        char c = buf[i];
        if (c == '"') {
            out[o++] = buf[i++];
            while (i < len && buf[i] != '"') {
                if (buf[i] == '\\' && i + 1 < len) out[o++] = buf[i++];
                out[o++] = buf[i++];
            }
            if (i < len) out[o++] = buf[i++];
            continue;
        }
        if (c != '-' && !(c >= '0' && c <= '9')) {
            out[o++] = buf[i++];
            continue;
        }
        size_t start = i, digits;
        int negative = c == '-', integral = 1;
        if (negative) i++;
        digits = i;
        while (i < len && ((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' || buf[i] == 'e' ||
                           buf[i] == 'E' || buf[i] == '+' || buf[i] == '-')) {
            if (buf[i] < '0' || buf[i] > '9') integral = 0;
            i++;
        }
        memcpy(out + o, buf + start, i - start);
        o += i - start;
        if (integral && i > digits && integer_overflows(buf + digits, i - digits, negative)) {
            out[o++] = '.';
            out[o++] = '0';
            widened++;
        }
    }
    out[o] = '\0';
    if (widened == 0) {
        jfree(out);
        return NULL;
    }
    *out_len = o;
    return out;
}

json_t *eir_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
    json_t *j = json_loadb(buf, len, flags, error);
    if (j || !error || json_error_code(error) != json_error_numeric_overflow) return j;
    size_t wide_len = 0;
    char *wide = widen_big_integers(buf, len, &wide_len);
    if (!wide) return NULL;
    json_error_t again;
    j = json_loadb(wide, wide_len, flags, &again);
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    jfree(wide);
    return j; /* on failure *error still describes the first problem, at its true position */
}
