/**
 * @file fuzz_array.c
 * @brief libFuzzer harness: binary array decoding. The input is taken twice:
 *
 * 1. as base64 text for eir_base64_decode() (what decodes must re-encode to as many characters
 *    and decode back to the same bytes), and raw bytes through eir_base64_encode() and back;
 * 2. as a JSON value for eir_json_array(): a {"dtype", "shape", "base64"} object or nested
 *    lists, asked for 0 to 3 dimensions of any size, then for the shape found (must succeed
 *    with the same values), a shape that differs (must fail), and as a broadcast scalar.
 *    A decoded array is re-encoded in the other form (nested lists <-> float64 base64) and
 *    decoded again: both forms must give the same values. Base64 strings found in the value
 *    are also decoded directly.
 */
#include "fuzz_common.h"

#include <math.h>

#define MAXV 4096

static void check_base64(const char *s, size_t len)
{
    unsigned char *out = (unsigned char *)1;
    size_t n = 12345;
    int rc = eir_base64_decode(s, len, &out, &n);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && out == NULL && n == 0);
        return;
    }
    FUZZ_CHECK(out != NULL && len % 4 == 0 && n <= len / 4 * 3 && n + 2 >= len / 4 * 3);
    char *enc = eir_base64_encode(out, n);
    FUZZ_CHECK(enc && strlen(enc) == len);
    unsigned char *back;
    size_t m;
    FUZZ_CHECK(eir_base64_decode(enc, len, &back, &m) == 0 && m == n);
    FUZZ_CHECK(memcmp(back, out, n) == 0);
    free(back);
    free(enc);
    free(out);
}

static void check_encode(const uint8_t *data, size_t size)
{
    char *enc = eir_base64_encode(data, size);
    FUZZ_CHECK(enc && strlen(enc) == (size + 2) / 3 * 4);
    unsigned char *back;
    size_t m;
    FUZZ_CHECK(eir_base64_decode(enc, strlen(enc), &back, &m) == 0 && m == size);
    FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);
    free(back);
    free(enc);
}

/* Every base64 string in v, at any depth, decoded directly. */
static void walk_strings(const json_t *v, int depth)
{
    if (depth > 8) return;
    if (json_is_string(v)) {
        check_base64(json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && i < 16; i++)
            walk_strings(json_array_get(v, i), depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) walk_strings(x, depth + 1);
    }
}

static json_t *as_lists(const double *x, int ndim, const int64_t *shape, size_t *pos)
{
    if (ndim == 0) return json_real(x[(*pos)++]);
    json_t *a = json_array();
    for (int64_t i = 0; i < shape[0]; i++)
        json_array_append_new(a, as_lists(x, ndim - 1, shape + 1, pos));
    return a;
}

static json_t *as_binary(const double *x, size_t count, int ndim, const int64_t *shape)
{
    unsigned char *bytes = malloc(count ? count * 8 : 1);
    FUZZ_CHECK(bytes);
    for (size_t i = 0; i < count; i++) {
        uint64_t u;
        memcpy(&u, &x[i], 8);
        for (int k = 0; k < 8; k++)
            bytes[8 * i + k] = (unsigned char)(u >> (8 * k));
    }
    char *b64 = eir_base64_encode(bytes, count * 8);
    FUZZ_CHECK(b64);
    json_t *sh = json_array();
    for (int d = 0; d < ndim; d++)
        json_array_append_new(sh, json_integer(shape[d]));
    json_t *o = json_pack("{s:s, s:o, s:s}", "dtype", "float64", "shape", sh, "base64", b64);
    FUZZ_CHECK(o);
    free(b64);
    free(bytes);
    return o;
}

static size_t count_of(int ndim, const int64_t *shape)
{
    size_t c = 1;
    for (int d = 0; d < ndim; d++)
        c *= (size_t)shape[d];
    return c;
}

/* Decoding @p other with the shape found must give the same values. */
static void check_same(json_t *other, int ndim, const int64_t *shape, const double *x)
{
    int64_t s2[4];
    double *y = NULL;
    eir_error e;
    memcpy(s2, shape, sizeof s2);
    eir_status rc = eir_json_array(other, "/y", ndim, s2, 0, MAXV, &y, &e);
    if (rc != EIR_OK) {
        fprintf(stderr, "re-encoded array rejected: %s: %s\n", e.field, e.message);
        abort();
    }
    size_t c = count_of(ndim, shape);
    for (size_t i = 0; i < c; i++)
        FUZZ_CHECK(memcmp(&x[i], &y[i], sizeof(double)) == 0);
    free(y);
}

static void check_array(const json_t *v)
{
    eir_error e;
    for (int ndim = 0; ndim <= 3; ndim++) {
        int64_t shape[4] = {-1, -1, -1, -1};
        double *x = (double *)1;
        eir_error_clear(&e);
        eir_status rc = eir_json_array(v, "/x", ndim, shape, 0, MAXV, &x, &e);
        if (rc != EIR_OK) {
            FUZZ_CHECK(x == NULL);
            fuzz_check_error(rc, &e);
            FUZZ_CHECK(strncmp(e.field, "/x", 2) == 0);
            continue;
        }
        FUZZ_CHECK(x != NULL);
        for (int d = 0; d < ndim; d++)
            FUZZ_CHECK(shape[d] >= 0);
        size_t c = count_of(ndim, shape);
        FUZZ_CHECK(c <= MAXV);
        for (size_t i = 0; i < c; i++)
            FUZZ_CHECK(isfinite(x[i]));

        /* The shape found is accepted as an exact shape; one that differs is not. */
        int64_t exact[4];
        memcpy(exact, shape, sizeof exact);
        double *y = NULL;
        FUZZ_CHECK(eir_json_array(v, "/x", ndim, exact, 0, MAXV, &y, &e) == EIR_OK);
        FUZZ_CHECK(memcmp(exact, shape, sizeof exact) == 0);
        FUZZ_CHECK(c == 0 || memcmp(x, y, c * sizeof *x) == 0);
        free(y);
        if (ndim > 0) {
            exact[ndim - 1] += 1;
            y = (double *)1;
            rc = eir_json_array(v, "/x", ndim, exact, 0, MAXV, &y, &e);
            FUZZ_CHECK(rc != EIR_OK && y == NULL);
            fuzz_check_error(rc, &e);
        }
        /* A tighter value limit than the count is refused. */
        if (c > 0) {
            memcpy(exact, shape, sizeof exact);
            y = (double *)1;
            rc = eir_json_array(v, "/x", ndim, exact, 0, (int64_t)c - 1, &y, &e);
            FUZZ_CHECK(rc != EIR_OK && y == NULL);
        }

        /* The other form decodes to the same values (as long as the lists are not empty
         * in an inner dimension, which nested lists cannot say). */
        if (ndim == 0 || c > 0) {
            size_t pos = 0;
            json_t *lists = as_lists(x, ndim, shape, &pos);
            check_same(lists, ndim, shape, x);
            json_decref(lists);
        }
        json_t *bin = as_binary(x, c, ndim, shape);
        check_same(bin, ndim, shape, x);
        json_decref(bin);
        free(x);
    }
    /* A scalar cannot be broadcast to a shape of unknown size. */
    if (json_is_number(v)) {
        int64_t any[1] = {-1};
        double *x = (double *)1;
        eir_status rc = eir_json_array(v, "/s", 1, any, 1, MAXV, &x, &e);
        FUZZ_CHECK(rc != EIR_OK && x == NULL);
        fuzz_check_error(rc, &e);
    }
    /* Broadcast of a scalar (or a refusal for anything else) to a 2 x 3 shape. */
    int64_t shape[2] = {2, 3};
    double *x = (double *)1;
    eir_status rc = eir_json_array(v, "/s", 2, shape, 1, MAXV, &x, &e);
    if (rc == EIR_OK) {
        FUZZ_CHECK(x && shape[0] == 2 && shape[1] == 3);
        if (json_is_number(v))
            for (int i = 0; i < 6; i++)
                FUZZ_CHECK(x[i] == json_number_value(v));
        free(x);
    } else {
        FUZZ_CHECK(x == NULL);
        fuzz_check_error(rc, &e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_base64((const char *)data, size);
    check_encode(data, size < 256 ? size : 256);

    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!v) return 0;
    walk_strings(v, 0);
    check_array(v);
    json_decref(v);
    return 0;
}
