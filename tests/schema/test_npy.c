/* .npy writer and reader (schema/include/eir_npy.h); the CSV reader is tests/schema/test_csv.c. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eir_npy.h"
#include "eir_test_files.h"

/* Serialise to memory with the FILE* writer. */
static unsigned char *write_mem(eir_npy_dtype t, int ndim, const int64_t *shape, const void *data,
                                size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    eir_npy_error err;
    assert_int_equal(eir_npy_write(f, t, ndim, shape, data, &err), EIR_NPY_OK);
    assert_int_equal(fclose(f), 0);
    *len = n;
    return (unsigned char *)buf;
}

/* The written-only dtypes (complex128, int32, int64): descr, size, the largest header. */
static void test_written_only_dtypes(void **state)
{
    (void)state;
    static const struct {
        eir_npy_dtype t;
        const char *descr;
        size_t item;
    } dt[] = {{EIR_NPY_C16, "<c16", 16}, {EIR_NPY_I4, "<i4", 4}, {EIR_NPY_I8, "<i8", 8}};
    char buf[EIR_NPY_HEADER_MAX], want[64];
    int64_t big[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, shape[2] = {2, 1};
    for (size_t i = 0; i < sizeof dt / sizeof *dt; i++) {
        assert_string_equal(eir_npy_descr(dt[i].t), dt[i].descr);
        assert_int_equal(eir_npy_itemsize(dt[i].t), dt[i].item);
        size_t n = eir_npy_header(dt[i].t, 2, shape, buf, sizeof buf);
        assert_int_equal(n, 128); /* 10 + the dict + '\n' > 64, as NumPy pads it */
        snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': (2, 1), }",
                 dt[i].descr);
        assert_memory_equal(buf + 10, want, strlen(want));
        n = eir_npy_header(dt[i].t, 3, big, buf, sizeof buf);
        assert_true(n > 0 && n <= EIR_NPY_HEADER_MAX && n % EIR_NPY_ALIGN == 0);
    }
    /* A complex128 file is its values' bytes after the header; the reader refuses it. */
    double c[4] = {1, -2, 0.5, 3};
    size_t len;
    unsigned char *f = write_mem(EIR_NPY_C16, 2, shape, c, &len);
    assert_int_equal(len, 128 + sizeof c);
    assert_memory_equal(f + 128, c, sizeof c);
    eir_npy_array a;
    eir_npy_error err;
    assert_int_equal(eir_npy_parse(f, len, 0, &a, &err), EIR_NPY_EFORMAT);
    assert_non_null(strstr(err.message, "'<c16'"));
    free(f);
}

static void test_header_layout(void **state)
{
    (void)state;
    char buf[EIR_NPY_HEADER_MAX];
    int64_t shape[3] = {2, 3, 4};
    size_t n = eir_npy_header(EIR_NPY_F8, 3, shape, buf, sizeof buf);
    assert_int_equal(n, 128); /* as NumPy writes it */
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((unsigned char)buf[8] | (unsigned char)buf[9] << 8, n - 10);
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 4), }";
    assert_memory_equal(buf + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < n - 1; i++)
        assert_int_equal(buf[i], ' ');
    assert_int_equal(buf[n - 1], '\n');

    n = eir_npy_header(EIR_NPY_F4, 1, shape, buf, sizeof buf);
    assert_int_equal(n % EIR_NPY_ALIGN, 0);
    assert_non_null(memmem(buf, n, "'descr': '<f4'", 14));
    assert_non_null(memmem(buf, n, "'shape': (2,), }", 16));
    n = eir_npy_header(EIR_NPY_F8, 0, NULL, buf, sizeof buf);
    assert_int_equal(n % EIR_NPY_ALIGN, 0);
    assert_non_null(memmem(buf, n, "'shape': (), }", 14));

    /* Largest shapes still fit EIR_NPY_HEADER_MAX. */
    int64_t big[3] = {INT64_MAX, INT64_MAX, INT64_MAX};
    n = eir_npy_header(EIR_NPY_F8, 3, big, buf, sizeof buf);
    assert_true(n > 0 && n <= EIR_NPY_HEADER_MAX && n % EIR_NPY_ALIGN == 0);
}

static void test_header_rejects(void **state)
{
    (void)state;
    char buf[EIR_NPY_HEADER_MAX];
    int64_t shape[4] = {1, 2, 3, 4};
    assert_int_equal(eir_npy_header(EIR_NPY_F8, 4, shape, buf, sizeof buf), 0);
    assert_int_equal(eir_npy_header(EIR_NPY_F8, -1, shape, buf, sizeof buf), 0);
    assert_int_equal(eir_npy_header((eir_npy_dtype)7, 1, shape, buf, sizeof buf), 0);
    assert_int_equal(eir_npy_header(EIR_NPY_F8, 3, shape, buf, 63), 0);
    int64_t neg[2] = {2, -1};
    assert_int_equal(eir_npy_header(EIR_NPY_F8, 2, neg, buf, sizeof buf), 0);
    eir_npy_error err;
    assert_int_equal(eir_npy_write(stdout, EIR_NPY_F8, 2, neg, buf, &err), EIR_NPY_EINVAL);
    int64_t huge[3] = {INT64_MAX, INT64_MAX, 2};
    assert_int_equal(eir_npy_write(stdout, EIR_NPY_F8, 3, huge, buf, &err), EIR_NPY_EINVAL);
    assert_int_equal(eir_npy_write_file(et_tmp("no/such/dir.npy"), EIR_NPY_F8, 1, shape, buf, &err),
                     EIR_NPY_EIO);
    assert_non_null(strstr(err.message, "no/such/dir.npy"));
}

static void test_roundtrip_f8(void **state)
{
    (void)state;
    int64_t shape[3] = {2, 3, 5};
    double v[30];
    for (int i = 0; i < 30; i++)
        v[i] = (i - 15) * 0.1 + 1e-3 / (i + 1);
    v[0] = NAN;
    v[1] = -0.0;
    v[2] = INFINITY;
    v[3] = -INFINITY;
    v[4] = 5e-324;
    v[5] = 1.7976931348623157e308;
    const char *path = et_tmp("f8.npy");
    eir_npy_error err;
    assert_int_equal(eir_npy_write_file(path, EIR_NPY_F8, 3, shape, v, &err), EIR_NPY_OK);
    eir_npy_array a;
    assert_int_equal(eir_npy_read_file(path, 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.dtype, EIR_NPY_F8);
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_int_equal(a.shape[2], 5);
    assert_int_equal(a.count, 30);
    assert_memory_equal(a.data, v, sizeof v);
    eir_npy_array_free(&a);
    assert_null(a.data);

    /* The limit: exactly count passes, one less fails before reading the data. */
    assert_int_equal(eir_npy_read_file(path, 30, &a, &err), EIR_NPY_OK);
    eir_npy_array_free(&a);
    assert_int_equal(eir_npy_read_file(path, 29, &a, &err), EIR_NPY_EFORMAT);
    assert_non_null(strstr(err.message, "limit"));
    assert_null(a.data);
}

static void test_roundtrip_f4(void **state)
{
    (void)state;
    int64_t shape[2] = {4, 3};
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)(i * 0.37 - 2);
    v[5] = NAN;
    v[6] = 1e-45f;
    size_t len;
    unsigned char *buf = write_mem(EIR_NPY_F4, 2, shape, v, &len);
    assert_int_equal(len, 128 + sizeof v);
    assert_memory_equal(buf + 128, v, sizeof v); /* little-endian host: raw bytes */
    eir_npy_array a;
    eir_npy_error err;
    assert_int_equal(eir_npy_parse(buf, len, 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.dtype, EIR_NPY_F4);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.count, 12);
    for (int i = 0; i < 12; i++) {
        if (i == 5)
            assert_true(isnan(a.data[i]));
        else
            assert_true(a.data[i] == (double)v[i]);
    }
    eir_npy_array_free(&a);
    free(buf);
}

static void test_roundtrip_edge_shapes(void **state)
{
    (void)state;
    eir_npy_array a;
    eir_npy_error err;
    size_t len;
    double x = 42.5;
    unsigned char *buf = write_mem(EIR_NPY_F8, 0, NULL, &x, &len);
    assert_int_equal(eir_npy_parse(buf, len, 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    assert_true(a.data[0] == 42.5);
    eir_npy_array_free(&a);
    free(buf);

    int64_t empty[3] = {2, 0, 3};
    buf = write_mem(EIR_NPY_F8, 3, empty, NULL, &len);
    assert_int_equal(len, 128);
    assert_int_equal(eir_npy_parse(buf, len, 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.count, 0);
    assert_non_null(a.data);
    assert_int_equal(a.shape[1], 0);
    eir_npy_array_free(&a);
    free(buf);
}

/* Build a .npy of version @p major with header dict @p dict and @p data_len zero bytes. */
static unsigned char *craft(int major, const char *dict, size_t data_len, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    *len = pre + dl + data_len;
    unsigned char *b = calloc(1, *len + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    b[8] = (unsigned char)(dl & 0xff);
    b[9] = (unsigned char)(dl >> 8);
    if (major != 1) {
        b[10] = (unsigned char)(dl >> 16);
        b[11] = (unsigned char)(dl >> 24);
    }
    memcpy(b + pre, dict, dl);
    return b;
}

static void expect_reject(const unsigned char *b, size_t len, const char *needle)
{
    eir_npy_array a;
    eir_npy_error err;
    eir_npy_status st = eir_npy_parse(b, len, 1000000, &a, &err);
    if (st != EIR_NPY_EFORMAT || !strstr(err.message, needle))
        fail_msg("expected rejection containing '%s', got status %d '%s'", needle, st,
                 st == EIR_NPY_OK ? "" : err.message);
    assert_null(a.data);
    assert_int_equal(a.count, 0);
}

static void expect_dict_reject(const char *dict, size_t data_len, const char *needle)
{
    size_t len;
    unsigned char *b = craft(1, dict, data_len, &len);
    expect_reject(b, len, needle);
    free(b);
}

/** Every malformed header the reader refuses, one case after the other (a flat list of cases,
 *  hence its length), each with the words its error must contain. */
static void test_reject(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b;
    const char *good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n";

    /* A well-formed crafted header parses (sanity check of craft()). */
    b = craft(1, good, 48, &len);
    eir_npy_array a;
    eir_npy_error err;
    assert_int_equal(eir_npy_parse(b, len, 0, &a, &err), EIR_NPY_OK);
    eir_npy_array_free(&a);
    /* Versions 2.0 and 3.0 with the same dict parse too. */
    free(b);
    b = craft(2, good, 48, &len);
    assert_int_equal(eir_npy_parse(b, len, 0, &a, &err), EIR_NPY_OK);
    eir_npy_array_free(&a);
    free(b);
    b = craft(3, good, 48, &len);
    assert_int_equal(eir_npy_parse(b, len, 0, &a, &err), EIR_NPY_OK);
    eir_npy_array_free(&a);

    /* Magic and version. */
    expect_reject(b, 0, "magic");
    expect_reject(b, 9, "magic");
    b[1] = 'n';
    expect_reject(b, len, "magic");
    b[1] = 'N';
    b[6] = 4;
    expect_reject(b, len, "version 4.0");
    b[6] = 1;
    b[7] = 1;
    expect_reject(b, len, "version 1.1");
    b[6] = 0;
    b[7] = 0;
    expect_reject(b, len, "version 0.0");
    free(b);

    /* Header length: past the buffer, too long (v2), v2 file too short for its length field. */
    b = craft(1, good, 0, &len);
    expect_reject(b, len - 1, "past the end");
    b[8] = 0xff;
    b[9] = 0xff;
    expect_reject(b, len, "past the end");
    free(b);
    b = craft(2, good, 48, &len);
    b[11] = 0x01;
    expect_reject(b, len, "too long");
    expect_reject(b, 11, "too short");
    free(b);

    /* Data length. */
    expect_dict_reject(good, 47, "data is 47 bytes");
    expect_dict_reject(good, 49, "need 48");
    expect_dict_reject(good, 0, "data is 0 bytes");

    /* dtype, order. */
    expect_dict_reject("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16,
                       "unsupported .npy dtype '<i8'");
    expect_dict_reject("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 16,
                       "dtype '>f8'");
    expect_dict_reject("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 2,
                       "dtype '|u1'");
    expect_dict_reject("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 16,
                       "structured");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32, "Fortran");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': Falsey, 'shape': (2,), }", 16,
                       "not True or False");

    /* Dict structure. */
    expect_dict_reject("{'descr': '<f8', 'shape': (2,), }", 16, "'fortran_order' is missing");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False}", 8, "'shape' is missing");
    expect_dict_reject("{'fortran_order': False, 'shape': (1,)}", 8, "'descr' is missing");
    expect_dict_reject("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}", 8,
                       "twice");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}", 8,
                       "unexpected key 'x'");
    expect_dict_reject("{'descr': '<f8' 'fortran_order': False, 'shape': ()}", 8,
                       "',' or '}' expected");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': ()} x", 8,
                       "data after the dict");
    expect_dict_reject("['descr']", 8, "no dict");
    expect_dict_reject("{'descr: '<f8'}", 8, "malformed");
    expect_dict_reject("{'descr': '<f8", 8, "malformed");
    expect_dict_reject("{'de\\'scr': '<f8'}", 8, "bad key");
    expect_dict_reject("", 8, "no dict");

    /* Shapes. */
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (2), }", 16, "1-tuple");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': 2, }", 16, "not a tuple");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1), }", 8,
                       "more than 3 dimensions");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", 8,
                       "non-negative integers");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,), }", 8,
                       "bad 'shape'");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (1,,), }", 8,
                       "non-negative integers");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, "
                       "'shape': (99999999999999999999,), }",
                       8, "too large");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, "
                       "'shape': (4611686018427387904, 4611686018427387904), }",
                       8, "too large");
    expect_dict_reject("{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 1001), }", 8,
                       "more than the limit");
}

/* Truncations and random byte flips of a valid file never crash, leak or pass silently with
 * a wrong length. */
static void test_mutations(void **state)
{
    (void)state;
    int64_t shape[3] = {2, 2, 3};
    double v[12] = {0};
    size_t len;
    unsigned char *good = write_mem(EIR_NPY_F8, 3, shape, v, &len);
    eir_npy_array a;
    eir_npy_error err;
    for (size_t n = 0; n < len; n++)
        assert_int_equal(eir_npy_parse(good, n, 0, &a, &err), EIR_NPY_EFORMAT);
    unsigned char *b = malloc(len);
    srand(12345);
    for (int it = 0; it < 20000; it++) {
        memcpy(b, good, len);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++)
            b[rand() % 64] = (unsigned char)rand();
        size_t n = len - (size_t)(rand() % 3 == 0 ? rand() % 16 : 0);
        eir_npy_status st = eir_npy_parse(b, n, 1 << 20, &a, &err);
        if (st == EIR_NPY_OK) {
            size_t item = a.dtype == EIR_NPY_F4 ? 4 : 8;
            assert_true(a.count <= (1u << 20));
            assert_true(a.count * item < n);
            eir_npy_array_free(&a);
        } else {
            assert_int_equal(st, EIR_NPY_EFORMAT);
            assert_true(err.message[0] != '\0');
        }
    }
    free(b);
    free(good);
}

static void test_read_file_errors(void **state)
{
    (void)state;
    eir_npy_array a;
    eir_npy_error err;
    assert_int_equal(eir_npy_read_file(et_tmp("missing.npy"), 0, &a, &err), EIR_NPY_EIO);
    assert_non_null(strstr(err.message, "missing.npy"));
    assert_int_equal(eir_npy_read_file(et_tmpdir, 0, &a, &err), EIR_NPY_EIO);
    FILE *f = fopen(et_tmp("text.npy"), "w");
    fputs("hello, world\n", f);
    fclose(f);
    assert_int_equal(eir_npy_read_file(et_tmp("text.npy"), 0, &a, &err), EIR_NPY_EFORMAT);
    assert_non_null(strstr(err.message, "text.npy: not a .npy file"));
    /* A file much larger than the limit allows is refused before it is read. */
    int64_t shape[1] = {1000};
    double *v = calloc(1000, sizeof(double));
    assert_int_equal(eir_npy_write_file(et_tmp("big.npy"), EIR_NPY_F8, 1, shape, v, &err),
                     EIR_NPY_OK);
    free(v);
    assert_int_equal(eir_npy_read_file(et_tmp("big.npy"), 10, &a, &err), EIR_NPY_EFORMAT);
    assert_null(a.data);
}

/* ------------------------------------------------------------------------------------------ */
/* NumPy itself                                                                               */
/* ------------------------------------------------------------------------------------------ */

static const char *python_with_numpy(void)
{
    static const char *cands[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

static void test_numpy_reads_ours(void **state)
{
    (void)state;
    const char *py = python_with_numpy();
    if (!py) skip();
    int64_t shape[3] = {2, 3, 4};
    double v[24];
    float w[24];
    for (int i = 0; i < 24; i++) {
        v[i] = i * 0.5 - 3;
        w[i] = (float)(i * 0.25);
    }
    eir_npy_error err;
    assert_int_equal(eir_npy_write_file(et_tmp("np8.npy"), EIR_NPY_F8, 3, shape, v, &err),
                     EIR_NPY_OK);
    assert_int_equal(eir_npy_write_file(et_tmp("np4.npy"), EIR_NPY_F4, 3, shape, w, &err),
                     EIR_NPY_OK);
    double s = 7.25;
    assert_int_equal(eir_npy_write_file(et_tmp("np0.npy"), EIR_NPY_F8, 0, NULL, &s, &err),
                     EIR_NPY_OK);
    int64_t one[1] = {5};
    assert_int_equal(eir_npy_write_file(et_tmp("np1.npy"), EIR_NPY_F8, 1, one, v, &err),
                     EIR_NPY_OK);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s -c \"\n"
             "import numpy as np, sys\n"
             "d = sys.argv[1]\n"
             "a = np.load(d + '/np8.npy')\n"
             "assert a.shape == (2, 3, 4) and a.dtype == np.float64, (a.shape, a.dtype)\n"
             "assert a.flags.c_contiguous\n"
             "assert (a == np.arange(24).reshape(2, 3, 4) * 0.5 - 3).all(), a\n"
             "b = np.load(d + '/np4.npy')\n"
             "assert b.shape == (2, 3, 4) and b.dtype == np.float32, (b.shape, b.dtype)\n"
             "assert (b == (np.arange(24) * 0.25).astype(np.float32).reshape(2, 3, 4)).all()\n"
             "c = np.load(d + '/np0.npy')\n"
             "assert c.shape == () and float(c) == 7.25\n"
             "e = np.load(d + '/np1.npy')\n"
             "assert e.shape == (5,) and (e == np.arange(5) * 0.5 - 3).all()\n"
             "\" '%s'",
             py, et_tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void test_we_read_numpys(void **state)
{
    (void)state;
    const char *py = python_with_numpy();
    if (!py) skip();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s -c \"\n"
             "import numpy as np, sys\n"
             "d = sys.argv[1]\n"
             "np.save(d + '/py8.npy', np.arange(60, dtype=np.float64).reshape(3, 4, 5) / 7)\n"
             "np.save(d + '/py4.npy', np.arange(6, dtype=np.float32).reshape(2, 3) / 3)\n"
             "np.save(d + '/py0.npy', np.float64(-2.5))\n"
             "np.save(d + '/pyf.npy', np.asfortranarray(np.ones((2, 3))))\n"
             "np.save(d + '/pyi.npy', np.arange(3))\n"
             "np.lib.format.write_array(open(d + '/py2.npy', 'wb'), np.ones(4), version=(2, 0))\n"
             "\" '%s'",
             py, et_tmpdir);
    assert_int_equal(system(cmd), 0);
    eir_npy_array a;
    eir_npy_error err;
    assert_int_equal(eir_npy_read_file(et_tmp("py8.npy"), 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.shape[2], 5);
    for (int i = 0; i < 60; i++)
        assert_true(a.data[i] == i / 7.0);
    eir_npy_array_free(&a);
    assert_int_equal(eir_npy_read_file(et_tmp("py4.npy"), 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.dtype, EIR_NPY_F4);
    for (int i = 0; i < 6; i++)
        assert_true(a.data[i] == (double)((float)i / 3.0f));
    eir_npy_array_free(&a);
    assert_int_equal(eir_npy_read_file(et_tmp("py0.npy"), 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.ndim, 0);
    assert_true(a.data[0] == -2.5);
    eir_npy_array_free(&a);
    assert_int_equal(eir_npy_read_file(et_tmp("py2.npy"), 0, &a, &err), EIR_NPY_OK);
    assert_int_equal(a.count, 4);
    eir_npy_array_free(&a);
    assert_int_equal(eir_npy_read_file(et_tmp("pyf.npy"), 0, &a, &err), EIR_NPY_EFORMAT);
    assert_non_null(strstr(err.message, "Fortran"));
    assert_int_equal(eir_npy_read_file(et_tmp("pyi.npy"), 0, &a, &err), EIR_NPY_EFORMAT);
    assert_non_null(strstr(err.message, "dtype '<i8'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),    cmocka_unit_test(test_written_only_dtypes),
        cmocka_unit_test(test_header_rejects),   cmocka_unit_test(test_roundtrip_f8),
        cmocka_unit_test(test_roundtrip_f4),     cmocka_unit_test(test_roundtrip_edge_shapes),
        cmocka_unit_test(test_reject),           cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_read_file_errors), cmocka_unit_test(test_numpy_reads_ours),
        cmocka_unit_test(test_we_read_numpys),
    };
    return cmocka_run_group_tests(tests, et_tmpdir_setup, et_tmpdir_teardown);
}
