/*
 * Streaming any array (server/array_stream.c): the bytes of every dtype (float64, float32,
 * complex128, int32, int64), every ndim (1-3) and every format (.npy, JSON, CSV) from a fake
 * source, compared with what was written by hand (and the .npy with eir_npy_write() and parsed
 * back); the same bytes whatever the reader's buffer size; empty arrays; a source that fails; bad
 * sources refused with their context freed; and a large array read in bounded windows.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "array_stream_int.h"
#include "eir_npy.h"

/* A source over bytes in memory, counting its frees and its largest read. */
typedef struct fake {
    const unsigned char *bytes;
    size_t len;
    int fail_at;     /* fail the read that covers this offset (-1: never) */
    size_t max_read; /* largest read asked for */
    uint64_t gen;    /* when bytes is NULL: element count of a generated float64 array */
} fake;

static int frees;

static int fake_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    fake *f = ctx;
    if (len > f->max_read) f->max_read = len;
    if (f->fail_at >= 0 && off + len > (uint64_t)f->fail_at) return -1;
    if (!f->bytes) {
        assert_true(off % 8 == 0 && len % 8 == 0 && off + len <= f->gen * 8);
        for (size_t i = 0; i < len / 8; i++) {
            double v = (double)(off / 8 + i) * 0.5;
            memcpy((char *)buf + 8 * i, &v, 8);
        }
        return 0;
    }
    assert_true(off + len <= f->len);
    memcpy(buf, f->bytes + off, len);
    return 0;
}

static void fake_free(void *ctx)
{
    (void)ctx;
    frees++;
}

/* Read the whole body of @p x in reads of at most @p chunk bytes; returns it (NUL-terminated,
 * malloc'ed) and its length; -1 length on a reader error. */
static char *drain(srv_array_stream *x, size_t chunk, long *len_out)
{
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap + 1);
    char *buf = malloc(chunk);
    assert_non_null(out);
    assert_non_null(buf);
    for (;;) {
        ssize_t n = srv_array_stream_read(x, len, buf, chunk);
        if (n == MHD_CONTENT_READER_END_OF_STREAM) break;
        if (n == MHD_CONTENT_READER_END_WITH_ERROR) {
            len = (size_t)-1;
            break;
        }
        assert_true(n > 0 && (size_t)n <= chunk);
        while (len + (size_t)n > cap) {
            cap *= 2;
            out = realloc(out, cap + 1);
            assert_non_null(out);
        }
        memcpy(out + len, buf, (size_t)n);
        len += (size_t)n;
    }
    free(buf);
    if (len != (size_t)-1) out[len] = '\0';
    *len_out = len == (size_t)-1 ? -1 : (long)len;
    return out;
}

/* The whole body of an array in @p fmt, checked to be the same for reads of 1, 7, 4096 and
 * 1 MiB bytes; *len_out its length. */
static char *body(const char *name, const char *dtype, int ndim, const int64_t *shape,
                  const void *bytes, size_t nbytes, srv_res_fmt fmt, long *len_out)
{
    static const size_t chunks[] = {1 << 20, 1, 7, 4096};
    char *first = NULL;
    long first_len = 0;
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        fake f = {bytes, nbytes, -1, 0, 0};
        srv_array_source src = {name, dtype, ndim, {0, 0, 0}, fake_read, &f, fake_free};
        for (int a = 0; a < ndim; a++)
            src.shape[a] = shape[a];
        uint64_t total;
        size_t block;
        int before = frees;
        srv_array_stream *x = srv_array_stream_open(&src, fmt, &total, &block);
        assert_non_null(x);
        assert_true(block > 0);
        long len;
        char *out = drain(x, chunks[c], &len);
        assert_true(len >= 0);
        if (fmt == SRV_FMT_NPY)
            assert_int_equal(total, (uint64_t)len);
        else
            assert_int_equal(total, MHD_SIZE_UNKNOWN);
        srv_array_stream_close(x);
        assert_int_equal(frees, before + 1);
        if (!first) {
            first = out;
            first_len = len;
        } else {
            assert_int_equal(len, first_len);
            assert_memory_equal(out, first, (size_t)len);
            free(out);
        }
    }
    *len_out = first_len;
    return first;
}

static void expect_text(const char *name, const char *dtype, int ndim, const int64_t *shape,
                        const void *bytes, size_t nbytes, srv_res_fmt fmt, const char *want)
{
    long len;
    char *got = body(name, dtype, ndim, shape, bytes, nbytes, fmt, &len);
    assert_string_equal(got, want);
    free(got);
}

/* The .npy of an array must be eir_npy_write()'s bytes. */
static void expect_npy(const char *dtype, eir_npy_dtype t, int ndim, const int64_t *shape,
                       const void *bytes, size_t nbytes)
{
    char *mem = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&mem, &mlen);
    assert_non_null(f);
    assert_int_equal(eir_npy_write(f, t, ndim, shape, bytes, NULL), EIR_NPY_OK);
    fclose(f);
    long len;
    char *got = body("a", dtype, ndim, shape, bytes, nbytes, SRV_FMT_NPY, &len);
    assert_int_equal(len, (long)mlen);
    assert_memory_equal(got, mem, mlen);
    assert_int_equal((mlen - nbytes) % 64, 0); /* header padded to 64 bytes */
    free(got);
    free(mem);
}

static void test_npy_every_dtype(void **state)
{
    (void)state;
    double f8[6] = {1, -2.5, NAN, INFINITY, 0.1, 1e300};
    float f4[6] = {1, -2.5f, 0.1f, 3, 4, 5};
    double c16[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    int32_t i4[6] = {1, -2, 3, INT32_MIN, INT32_MAX, 0};
    int64_t i8[6] = {1, -2, 3, INT64_MIN, INT64_MAX, 0};
    int64_t s1[1] = {6}, s2[2] = {2, 3}, s3[3] = {1, 2, 3};
    const int64_t *shapes[3] = {s1, s2, s3};
    for (int nd = 1; nd <= 3; nd++) {
        expect_npy("float64", EIR_NPY_F8, nd, shapes[nd - 1], f8, sizeof f8);
        expect_npy("float32", EIR_NPY_F4, nd, shapes[nd - 1], f4, sizeof f4);
        expect_npy("complex128", EIR_NPY_C16, nd, shapes[nd - 1], c16, sizeof c16);
        expect_npy("int32", EIR_NPY_I4, nd, shapes[nd - 1], i4, sizeof i4);
        expect_npy("int64", EIR_NPY_I8, nd, shapes[nd - 1], i8, sizeof i8);
    }
    /* One header written by hand, byte for byte. */
    long len;
    char *got = body("ev", "complex128", 2, s2, c16, sizeof c16, SRV_FMT_NPY, &len);
    char want[128];
    const char *dict = "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }";
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10); /* version 1.0, 118 bytes of dict */
    memset(want + 10, ' ', 118);
    memcpy(want + 10, dict, strlen(dict));
    want[127] = '\n';
    assert_int_equal(len, 128 + (long)sizeof c16);
    assert_memory_equal(got, want, 128);
    assert_memory_equal(got + 128, c16, sizeof c16);
    free(got);
    /* float64 parses back. */
    got = body("W", "float64", 2, s2, f8, sizeof f8, SRV_FMT_NPY, &len);
    eir_npy_array a;
    assert_int_equal(eir_npy_parse(got, (size_t)len, 0, &a, NULL), EIR_NPY_OK);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_memory_equal(a.data, f8, sizeof f8);
    eir_npy_array_free(&a);
    free(got);
}

static void test_json(void **state)
{
    (void)state;
    double f8[4] = {1, 0.5, NAN, -INFINITY};
    int64_t s1[1] = {4}, s22[2] = {2, 2}, s3[3] = {2, 1, 2};
    expect_text("x", "float64", 1, s1, f8, sizeof f8, SRV_FMT_JSON, "[1,0.5,null,null]");
    expect_text("x", "float64", 2, s22, f8, sizeof f8, SRV_FMT_JSON, "[[1,0.5],[null,null]]");
    expect_text("x", "float64", 3, s3, f8, sizeof f8, SRV_FMT_JSON, "[[[1,0.5]],[[null,null]]]");
    float f4[2] = {0.1f, 1.0f / 3};
    int64_t s2[1] = {2};
    expect_text("x", "float32", 1, s2, f4, sizeof f4, SRV_FMT_JSON, "[0.1,0.33333334]");
    double c16[4] = {1, -2, 0.1, NAN};
    expect_text("ev", "complex128", 1, s2, c16, sizeof c16, SRV_FMT_JSON, "[[1,-2],[0.1,null]]");
    int64_t s12[2] = {1, 2};
    expect_text("ev", "complex128", 2, s12, c16, sizeof c16, SRV_FMT_JSON, "[[[1,-2],[0.1,null]]]");
    int32_t i4[4] = {1, -2, INT32_MIN, 4};
    expect_text("n", "int32", 3, s3, i4, sizeof i4, SRV_FMT_JSON, "[[[1,-2]],[[-2147483648,4]]]");
    int64_t i8[2] = {INT64_MAX, -1};
    expect_text("n", "int64", 1, s2, i8, sizeof i8, SRV_FMT_JSON, "[9223372036854775807,-1]");
    /* Empty arrays keep their nesting down to the first empty axis. */
    int64_t e1[1] = {0}, e2[2] = {2, 0}, e3[3] = {2, 3, 0}, e4[3] = {0, 5, 5};
    expect_text("x", "float64", 1, e1, NULL, 0, SRV_FMT_JSON, "[]");
    expect_text("x", "float64", 2, e2, NULL, 0, SRV_FMT_JSON, "[[],[]]");
    expect_text("x", "float64", 3, e3, NULL, 0, SRV_FMT_JSON, "[[[],[],[]],[[],[],[]]]");
    expect_text("x", "float64", 3, e4, NULL, 0, SRV_FMT_JSON, "[]");
}

static void test_csv(void **state)
{
    (void)state;
    double f8[4] = {1, 0.5, NAN, -INFINITY};
    int64_t s1[1] = {4}, s22[2] = {2, 2}, s3[3] = {2, 1, 2}, s2[1] = {2}, s12[2] = {1, 2};
    expect_text("G_b", "float64", 1, s1, f8, sizeof f8, SRV_FMT_CSV, "G_b\n1\n0.5\nnan\n-inf\n");
    expect_text("W", "float64", 2, s22, f8, sizeof f8, SRV_FMT_CSV,
                "i,W0,W1\n0,1,0.5\n1,nan,-inf\n");
    expect_text("a", "float64", 3, s3, f8, sizeof f8, SRV_FMT_CSV,
                "i,j,a0,a1\n0,0,1,0.5\n1,0,nan,-inf\n");
    float f4[2] = {0.1f, 2};
    expect_text("x", "float32", 1, s2, f4, sizeof f4, SRV_FMT_CSV, "x\n0.1\n2\n");
    double c16[4] = {1, -2, 0.1, NAN};
    expect_text("ev", "complex128", 1, s2, c16, sizeof c16, SRV_FMT_CSV,
                "ev_re,ev_im\n1,-2\n0.1,nan\n");
    expect_text("E", "complex128", 2, s12, c16, sizeof c16, SRV_FMT_CSV,
                "i,E0_re,E0_im,E1_re,E1_im\n0,1,-2,0.1,nan\n");
    int64_t s112[3] = {1, 1, 2};
    expect_text("E", "complex128", 3, s112, c16, sizeof c16, SRV_FMT_CSV,
                "i,j,E0_re,E0_im,E1_re,E1_im\n0,0,1,-2,0.1,nan\n");
    int32_t i4[2] = {7, -8};
    expect_text("hits", "int32", 1, s2, i4, sizeof i4, SRV_FMT_CSV, "hits\n7\n-8\n");
    int64_t i8[2] = {INT64_MIN, 3};
    expect_text("k", "int64", 2, s12, i8, sizeof i8, SRV_FMT_CSV,
                "i,k0,k1\n0,-9223372036854775808,3\n");
    int64_t e1[1] = {0}, e2[2] = {2, 0}, e3[2] = {0, 2};
    expect_text("x", "float64", 1, e1, NULL, 0, SRV_FMT_CSV, "x\n");
    expect_text("x", "float64", 2, e2, NULL, 0, SRV_FMT_CSV, "i\n0\n1\n");
    expect_text("x", "float64", 2, e3, NULL, 0, SRV_FMT_CSV, "i,x0,x1\n");
}

/* A 3000 x 3000 float64 array (72 MB as .npy): every format streams in reads of a bounded
 * window, and the text has every value. */
static void test_large_bounded(void **state)
{
    (void)state;
    const int64_t n = 3000;
    srv_res_fmt fmts[3] = {SRV_FMT_NPY, SRV_FMT_JSON, SRV_FMT_CSV};
    for (int k = 0; k < 3; k++) {
        fake f = {NULL, 0, -1, 0, (uint64_t)(n * n)};
        srv_array_source src = {"W", "float64", 2, {n, n, 0}, fake_read, &f, NULL};
        uint64_t total;
        size_t block;
        srv_array_stream *x = srv_array_stream_open(&src, fmts[k], &total, &block);
        assert_non_null(x);
        assert_true(block <= (size_t)256 << 10);
        char *buf = malloc(block);
        uint64_t pos = 0, commas = 0, lines = 0;
        double last = 0;
        for (;;) {
            ssize_t r = srv_array_stream_read(x, pos, buf, block);
            if (r == MHD_CONTENT_READER_END_OF_STREAM) break;
            assert_true(r > 0);
            for (ssize_t i = 0; fmts[k] != SRV_FMT_NPY && i < r; i++) {
                commas += buf[i] == ',';
                lines += buf[i] == '\n';
            }
            if (fmts[k] == SRV_FMT_NPY && pos + (uint64_t)r == total) memcpy(&last, buf + r - 8, 8);
            pos += (uint64_t)r;
        }
        free(buf);
        srv_array_stream_close(x);
        assert_true(f.max_read <= (size_t)256 << 10);
        if (fmts[k] == SRV_FMT_NPY) {
            assert_int_equal(pos, 128 + (uint64_t)(n * n) * 8); /* the shape needs 128 */
            assert_true(last == (double)(n * n - 1) * 0.5);
        } else if (fmts[k] == SRV_FMT_JSON) {
            assert_int_equal(commas, (uint64_t)(n * n - 1));
        } else {
            assert_int_equal(lines, (uint64_t)n + 1);
            assert_int_equal(commas, (uint64_t)(n * n + n));
        }
    }
}

static void test_source_failure_and_position(void **state)
{
    (void)state;
    double v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = i;
    srv_res_fmt fmts[3] = {SRV_FMT_NPY, SRV_FMT_JSON, SRV_FMT_CSV};
    for (int k = 0; k < 3; k++) {
        fake f = {(const unsigned char *)v, sizeof v, 4000, 0, 0};
        srv_array_source src = {"v", "float64", 1, {1000, 0, 0}, fake_read, &f, fake_free};
        uint64_t total;
        size_t block;
        int before = frees;
        srv_array_stream *x = srv_array_stream_open(&src, fmts[k], &total, &block);
        assert_non_null(x);
        long len;
        char *out = drain(x, 1000, &len);
        assert_int_equal(len, -1);
        free(out);
        srv_array_stream_close(x);
        assert_int_equal(frees, before + 1);
    }
    /* A read not where the body is fails. */
    fake f = {(const unsigned char *)v, sizeof v, -1, 0, 0};
    srv_array_source src = {"v", "float64", 1, {1000, 0, 0}, fake_read, &f, NULL};
    uint64_t total;
    size_t block;
    srv_array_stream *x = srv_array_stream_open(&src, SRV_FMT_NPY, &total, &block);
    char buf[16];
    assert_int_equal(srv_array_stream_read(x, 5, buf, sizeof buf),
                     MHD_CONTENT_READER_END_WITH_ERROR);
    srv_array_stream_close(x);
}

static void test_bad_sources(void **state)
{
    (void)state;
    fake f = {NULL, 0, -1, 0, 4};
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    srv_array_source good = {"W", "float64", 2, {2, 2, 0}, fake_read, &f, fake_free};
    srv_array_source bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = good;
    bad[0].dtype = "float16";
    bad[1].ndim = 0;
    bad[2].ndim = 4;
    bad[3].shape[1] = -1;
    bad[4].name = longname;
    bad[5].shape[0] = bad[5].shape[1] = INT64_MAX / 2;
    for (int i = 0; i < 6; i++) {
        uint64_t total;
        size_t block;
        int before = frees;
        assert_null(srv_array_stream_open(&bad[i], SRV_FMT_NPY, &total, &block));
        assert_int_equal(frees, before + 1);
    }
    assert_int_equal(srv_array_itemsize("float64"), 8);
    assert_int_equal(srv_array_itemsize("float32"), 4);
    assert_int_equal(srv_array_itemsize("complex128"), 16);
    assert_int_equal(srv_array_itemsize("int32"), 4);
    assert_int_equal(srv_array_itemsize("int64"), 8);
    assert_int_equal(srv_array_itemsize("uint8"), 0);
    assert_int_equal(srv_array_itemsize(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_every_dtype),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_large_bounded),
        cmocka_unit_test(test_source_failure_and_position),
        cmocka_unit_test(test_bad_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
