/**
 * @file json_array.c
 * @brief Array fields in both forms of FORMAT.md: nested lists and binary base64 arrays.
 *
 * Decoding is two-phase so that shapes and size limits are checked before any memory
 * proportional to the claimed size is allocated: ja_probe() reads the claimed shape,
 * the caller checks it, ja_fill() reads the values.
 */
#include "eir_json.h"
#include "json_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const binary_keys[] = {"dtype", "shape", "base64", NULL};

int ja_is_binary(const json_t *v)
{
    return json_is_object(v) && (json_object_get(v, "dtype") || json_object_get(v, "shape") ||
                                 json_object_get(v, "base64"));
}

static eir_status limit_error(const ja_info *info, const char *ptr, int64_t max_values,
                              eir_error *err)
{
    char s[JA_SHAPE_STR];
    ju_fmt_shape(s, info->ndim, info->shape);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected at most %lld values, got shape %s",
                         (long long)max_values, s);
}

/* count = product of shape, or a limit error when it exceeds max_values. */
static eir_status shape_count(ja_info *info, const char *ptr, int64_t max_values, eir_error *err)
{
    int64_t count = 1;
    for (int d = 0; d < info->ndim; d++)
        if (info->shape[d] == 0) count = 0;
    for (int d = 0; d < info->ndim && count; d++) {
        if (count > max_values / info->shape[d]) return limit_error(info, ptr, max_values, err);
        count *= info->shape[d];
    }
    if (count > max_values) return limit_error(info, ptr, max_values, err);
    info->count = (size_t)count;
    return EIR_OK;
}

static eir_status probe_lists(const json_t *v, const char *ptr, ja_info *info, eir_error *err)
{
    const json_t *cur = v;
    while (json_is_array(cur)) {
        if (info->ndim == JA_MAXDIM)
            return eir_error_set(err, EIR_EINVAL, ptr,
                                 "expected at most %d nested list levels, got more", JA_MAXDIM);
        info->shape[info->ndim++] = (int64_t)json_array_size(cur);
        if (json_array_size(cur) == 0) break;
        cur = json_array_get(cur, 0);
    }
    return EIR_OK;
}

static eir_status probe_shape(const json_t *shape, const char *ptr, ja_info *info, eir_error *err)
{
    char got[JU_DESC_MAX], sub[EIR_FIELD_MAX];
    if (!json_is_array(shape) || json_array_size(shape) > JA_MAXDIM) {
        ju_describe(shape, got);
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected a list of at most %d non-negative integers, got %s",
                             JA_MAXDIM, json_is_array(shape) ? "a longer list" : got);
    }
    info->ndim = (int)json_array_size(shape);
    for (int d = 0; d < info->ndim; d++) {
        ju_ptr_idx(sub, ptr, (size_t)d);
        if (ju_int(json_array_get(shape, (size_t)d), sub, 0, INT64_MAX, &info->shape[d], err))
            return EIR_EINVAL;
    }
    return EIR_OK;
}

static eir_status probe_base64(const json_t *b64, const char *ptr, ja_info *info, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (!json_is_string(b64)) {
        ju_describe(b64, got);
        return eir_error_set(err, EIR_EINVAL, ptr, "expected a base64 string, got %s", got);
    }
    info->b64 = json_string_value(b64);
    info->b64_len = json_string_length(b64);
    return EIR_OK;
}

/* The base64 text must decode to exactly count * itemsize bytes. */
static eir_status check_bytes(const ja_info *info, const char *ptr, eir_error *err)
{
    char s[JA_SHAPE_STR];
    int64_t have = ju_b64_decoded_len(info->b64, info->b64_len);
    if (have < 0)
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected padded base64 (a multiple of 4 characters), got %zu "
                             "characters",
                             info->b64_len);
    if (info->count > (size_t)INT64_MAX / 8 || have != (int64_t)info->count * info->itemsize) {
        ju_fmt_shape(s, info->ndim, info->shape);
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected %lld bytes (shape %s of %s), got %lld bytes",
                             (long long)info->count * info->itemsize, s,
                             info->itemsize == 4 ? "float32" : "float64", (long long)have);
    }
    return EIR_OK;
}

static eir_status probe_binary(const json_t *v, const char *ptr, int64_t max_values, ja_info *info,
                               eir_error *err)
{
    static const char *const dtypes[] = {"float32", "float64", NULL};
    char sub[EIR_FIELD_MAX];
    const json_t *m;
    int dt;
    if (ju_check_keys(v, ptr, binary_keys, err)) return EIR_EINVAL;
    info->binary = 1;
    if (!(m = ju_member(v, ptr, "dtype", sub)))
        return ju_missing(ptr, "dtype", "\"float32\" or \"float64\"", err);
    if (ju_enum(m, sub, dtypes, &dt, err)) return EIR_EINVAL;
    info->itemsize = dt == 0 ? 4 : 8;
    if (!(m = ju_member(v, ptr, "shape", sub)))
        return ju_missing(ptr, "shape", "a list of dimensions", err);
    if (probe_shape(m, sub, info, err) || shape_count(info, ptr, max_values, err))
        return EIR_EINVAL;
    if (!(m = ju_member(v, ptr, "base64", sub)))
        return ju_missing(ptr, "base64", "the little-endian bytes, base64-encoded", err);
    return probe_base64(m, sub, info, err);
}

eir_status ja_probe(const json_t *v, const char *ptr, int64_t max_values, ja_info *info,
                    eir_error *err)
{
    char got[JU_DESC_MAX];
    memset(info, 0, sizeof *info);
    if (json_is_number(v)) {
        info->count = 1;
        return EIR_OK;
    }
    if (json_is_object(v)) return probe_binary(v, ptr, max_values, info, err);
    if (!json_is_array(v)) {
        ju_describe(v, got);
        return eir_error_set(err, EIR_EINVAL, ptr, "expected a number or an array, got %s", got);
    }
    if (probe_lists(v, ptr, info, err)) return EIR_EINVAL;
    return shape_count(info, ptr, max_values, err);
}

/* Pointer of the element at index path idx[0..depth-1] below ptr. */
static void elem_ptr(char dst[EIR_FIELD_MAX], const char *ptr, const size_t *idx, int depth)
{
    snprintf(dst, EIR_FIELD_MAX, "%s", ptr);
    for (int d = 0; d < depth; d++)
        ju_ptr_idx(dst, dst, idx[d]);
}

static eir_status leaf_error(const json_t *e, const char *field, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (json_is_array(e))
        return eir_error_set(err, EIR_EINVAL, field,
                             "ragged nested lists: expected a number here, got an array");
    ju_describe(e, got);
    return eir_error_set(err, EIR_EINVAL, field, "expected a finite number, got %s", got);
}

static eir_status ragged_error(const json_t *e, const char *field, int64_t want, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (json_is_array(e))
        return eir_error_set(err, EIR_EINVAL, field,
                             "ragged nested lists: expected %lld element%s, got %zu",
                             (long long)want, want == 1 ? "" : "s", json_array_size(e));
    ju_describe(e, got);
    return eir_error_set(err, EIR_EINVAL, field,
                         "ragged nested lists: expected a list of %lld element%s, got %s",
                         (long long)want, want == 1 ? "" : "s", got);
}

typedef struct fill_ctx {
    const ja_info *info;
    const char *ptr;
    size_t idx[JA_MAXDIM];
    double *out;
    size_t pos;
} fill_ctx;

static eir_status fill_rec(fill_ctx *c, const json_t *v, int depth, eir_error *err)
{
    char field[EIR_FIELD_MAX];
    if (depth == c->info->ndim) {
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            elem_ptr(field, c->ptr, c->idx, depth);
            return leaf_error(v, field, err);
        }
        c->out[c->pos++] = json_number_value(v);
        return EIR_OK;
    }
    if (!json_is_array(v) || (int64_t)json_array_size(v) != c->info->shape[depth]) {
        elem_ptr(field, c->ptr, c->idx, depth);
        return ragged_error(v, field, c->info->shape[depth], err);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        c->idx[depth] = i;
        if (fill_rec(c, json_array_get(v, i), depth + 1, err)) return EIR_EINVAL;
    }
    return EIR_OK;
}

static uint64_t load_le(const unsigned char *b, int n)
{
    uint64_t u = 0;
    for (int k = n - 1; k >= 0; k--)
        u = (u << 8) | b[k];
    return u;
}

/* Little-endian bytes at the start of out (count * itemsize) -> doubles, in place. */
static void convert_in_place(double *out, size_t count, int itemsize)
{
    unsigned char *bytes = (unsigned char *)out;
    if (itemsize == 8) {
        for (size_t i = 0; i < count; i++) {
            uint64_t u = load_le(bytes + 8 * i, 8);
            memcpy(&out[i], &u, 8);
        }
        return;
    }
    /* backwards: double i covers floats 2i and 2i+1, both already read */
    for (size_t i = count; i-- > 0;) {
        uint32_t u = (uint32_t)load_le(bytes + 4 * i, 4);
        float f;
        memcpy(&f, &u, 4);
        out[i] = f;
    }
}

static eir_status fill_binary(const ja_info *info, const char *ptr, double *out, eir_error *err)
{
    char field[EIR_FIELD_MAX], num[40];
    ju_ptr_key(field, ptr, "base64");
    if (check_bytes(info, field, err)) return EIR_EINVAL;
    int64_t bad = ju_b64_decode_into(info->b64, info->b64_len, (unsigned char *)out);
    if (bad >= 0) {
        return eir_error_set(err, EIR_EINVAL, field,
                             "expected base64 (RFC 4648 alphabet with = padding), got an "
                             "invalid character at offset %lld",
                             (long long)bad);
    }
    convert_in_place(out, info->count, info->itemsize);
    for (size_t i = 0; i < info->count; i++) {
        if (isfinite(out[i])) continue;
        ju_fmt_num(num, sizeof num, out[i]);
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected finite values, got %s at flat index %zu", num, i);
    }
    return EIR_OK;
}

eir_status ja_fill(const json_t *v, const char *ptr, const ja_info *info, double *out,
                   eir_error *err)
{
    if (info->binary) return fill_binary(info, ptr, out, err);
    fill_ctx c = {.info = info, .ptr = ptr, .out = out};
    return fill_rec(&c, v, 0, err);
}

int ja_shape_matches(const ja_info *info, int ndim, const int64_t *shape)
{
    if (info->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (shape[d] >= 0 && shape[d] != info->shape[d]) return 0;
    return 1;
}

eir_status ja_shape_error(const ja_info *info, const char *ptr, int ndim, const int64_t *shape,
                          eir_error *err)
{
    char want[JA_SHAPE_STR], got[JA_SHAPE_STR];
    ju_fmt_shape(want, ndim, shape);
    if (info->ndim == 0 && !info->binary)
        return eir_error_set(err, EIR_EINVAL, ptr, "expected shape %s, got a scalar", want);
    ju_fmt_shape(got, info->ndim, info->shape);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected shape %s, got %s", want, got);
}

/* Limit error unless info->count <= max_values. */
static eir_status check_count(const ja_info *info, const char *ptr, int64_t max_values,
                              eir_error *err)
{
    if ((uint64_t)info->count <= (uint64_t)max_values) return EIR_OK;
    return limit_error(info, ptr, max_values, err);
}

static eir_status broadcast(const json_t *v, const char *ptr, int ndim, const int64_t *shape,
                            int64_t max_values, double **out, eir_error *err)
{
    ja_info full = {.ndim = ndim};
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            ja_info scalar = {.count = 1};
            return ja_shape_error(&scalar, ptr, ndim, shape, err);
        }
        full.shape[d] = shape[d];
    }
    if (shape_count(&full, ptr, max_values, err)) return EIR_EINVAL;
    double x;
    if (ju_number(v, ptr, &x, err)) return EIR_EINVAL;
    double *buf = malloc((full.count ? full.count : 1) * sizeof *buf);
    if (!buf) return ju_enomem(err, ptr);
    for (size_t i = 0; i < full.count; i++)
        buf[i] = x;
    *out = buf;
    return EIR_OK;
}

eir_status ja_read(const json_t *v, const char *ptr, int ndim, int64_t *shape, int allow_scalar,
                   int64_t max_values, double **out, ja_info *info_out, eir_error *err)
{
    ja_info info;
    *out = NULL;
    if (ja_probe(v, ptr, INT64_MAX, &info, err)) return EIR_EINVAL;
    if (info_out) *info_out = info;
    if (info.ndim == 0 && !info.binary && ndim > 0) {
        if (!allow_scalar) return ja_shape_error(&info, ptr, ndim, shape, err);
        return broadcast(v, ptr, ndim, shape, max_values, out, err);
    }
    if (!ja_shape_matches(&info, ndim, shape)) return ja_shape_error(&info, ptr, ndim, shape, err);
    if (check_count(&info, ptr, max_values, err)) return EIR_EINVAL;
    double *buf = malloc((info.count ? info.count : 1) * sizeof *buf);
    if (!buf) return ju_enomem(err, ptr);
    if (ja_fill(v, ptr, &info, buf, err)) {
        free(buf);
        return EIR_EINVAL;
    }
    for (int d = 0; d < ndim; d++)
        shape[d] = info.shape[d];
    *out = buf;
    return EIR_OK;
}

eir_status ja_check_sign(const double *x, size_t n, const ja_info *info, const char *ptr,
                         int strict, eir_error *err)
{
    char field[EIR_FIELD_MAX], num[40];
    size_t i = 0;
    while (i < n && (strict ? x[i] > 0 : x[i] >= 0))
        i++;
    if (i == n) return EIR_OK;
    ju_fmt_num(num, sizeof num, x[i]);
    const char *want = strict ? "> 0" : ">= 0";
    if (!info || info->ndim == 0)
        return eir_error_set(err, EIR_EINVAL, ptr, "expected a value %s, got %s", want, num);
    if (info->binary)
        return eir_error_set(err, EIR_EINVAL, ptr, "expected values %s, got %s at flat index %zu",
                             want, num, i);
    size_t idx[JA_MAXDIM], rest = i;
    for (int d = info->ndim - 1; d >= 0; d--) {
        idx[d] = rest % (size_t)info->shape[d];
        rest /= (size_t)info->shape[d];
    }
    elem_ptr(field, ptr, idx, info->ndim);
    return eir_error_set(err, EIR_EINVAL, field, "expected a value %s, got %s", want, num);
}

eir_status eir_json_array(const json_t *j, const char *ptr, int expect_ndim, int64_t *expect_shape,
                          int allow_scalar, int64_t max_values, double **out, eir_error *err)
{
    if (out) *out = NULL;
    if (expect_ndim < 0 || expect_ndim > JA_MAXDIM || !out || (expect_ndim && !expect_shape))
        return eir_error_set(err, EIR_EINVAL, ptr, "invalid array request (%d dimensions)",
                             expect_ndim);
    return ja_read(j, ptr ? ptr : "", expect_ndim, expect_shape, allow_scalar, max_values, out,
                   NULL, err);
}
