/**
 * @file test_json_array.c
 * @brief Array fields in both forms (nested lists, binary base64) and the base64 helpers.
 */
#include "json_test_util.h"

#include <float.h>

/* ---------------------------------------------------------------------------------------- */
/* Base64                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = eir_base64_encode(plain[i], strlen(plain[i]));
        assert_non_null(e);
        assert_string_equal(e, enc[i]);
        free(e);
        unsigned char *d;
        size_t n;
        assert_int_equal(eir_base64_decode(enc[i], strlen(enc[i]), &d, &n), 0);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
}

static void test_base64_round_trip_all_bytes(void **state)
{
    (void)state;
    unsigned char bytes[256 * 3];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 7 + i / 256);
    for (size_t len = 0; len <= 20; len++) {
        char *e = eir_base64_encode(bytes + 100, len);
        unsigned char *d;
        size_t n;
        assert_int_equal(eir_base64_decode(e, strlen(e), &d, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(d, bytes + 100, len);
        free(d);
        free(e);
    }
    char *e = eir_base64_encode(bytes, sizeof bytes);
    assert_int_equal(strlen(e), sizeof bytes / 3 * 4);
    free(e);
}

static void test_base64_rejects_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {"Zg",   "Zg=",      "Z===",     "Zm9v!A==", "Zm 9",
                                      "=Zm9", "Zg==Zg==", "Zm9vYg=a", "Zm9\nv"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unsigned char *d = (unsigned char *)"sentinel";
        size_t n = 99;
        assert_int_not_equal(eir_base64_decode(bad[i], strlen(bad[i]), &d, &n), 0);
        assert_null(d);
        assert_int_equal(n, 0);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* eir_json_array: acceptance                                                                */
/* ---------------------------------------------------------------------------------------- */

static const double vals6[6] = {0.5, -1.25, 3.0, 0.0, 1e-3, -7.75};

static void check_vals(const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(got[i] == want[i]);
}

static void test_nested_and_binary_identical(void **state)
{
    (void)state;
    int64_t shape23[2] = {2, 3};
    json_t *nested = jt_load("[[0.5, -1.25, 3.0], [0, 0.001, -7.75]]");
    json_t *b64 = jt_binary(vals6, 6, 0, 2, shape23);
    double *a = NULL, *b = NULL;
    eir_error e;
    int64_t s1[2] = {2, 3}, s2[2] = {2, 3};
    JT_OK(eir_json_array(nested, "/x", 2, s1, 0, 100, &a, &e), e);
    JT_OK(eir_json_array(b64, "/x", 2, s2, 0, 100, &b, &e), e);
    check_vals(a, vals6, 6);
    assert_memory_equal(a, b, 6 * sizeof(double));
    free(a);
    free(b);
    json_decref(nested);
    json_decref(b64);
}

static void test_float32_converts_exactly(void **state)
{
    (void)state;
    /* 0.1 is not a float: the float32 array carries (float)0.1, widened exactly */
    double x[4] = {0.1, 1.0 / 3.0, 16777217.0, -FLT_MAX};
    int64_t shape[1] = {4};
    json_t *b = jt_binary(x, 4, 1, 1, shape);
    double *out;
    eir_error e;
    JT_OK(eir_json_array(b, "/x", 1, shape, 0, 100, &out, &e), e);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == (double)(float)x[i]);
    free(out);
    json_decref(b);

    /* values exact in float32 give identical doubles in all three forms */
    double exact[6] = {0.5, -1.25, 3.0, 0.0, 0.125, -7.75};
    int64_t s23[2] = {2, 3};
    json_t *f32 = jt_binary(exact, 6, 1, 2, s23);
    json_t *f64 = jt_binary(exact, 6, 0, 2, s23);
    json_t *lists = jt_load("[[0.5, -1.25, 3], [0, 0.125, -7.75]]");
    double *a, *b2, *c;
    JT_OK(eir_json_array(f32, "/x", 2, s23, 0, 100, &a, &e), e);
    JT_OK(eir_json_array(f64, "/x", 2, s23, 0, 100, &b2, &e), e);
    JT_OK(eir_json_array(lists, "/x", 2, s23, 0, 100, &c, &e), e);
    assert_memory_equal(a, b2, sizeof exact);
    assert_memory_equal(a, c, sizeof exact);
    check_vals(a, exact, 6);
    free(a);
    free(b2);
    free(c);
    json_decref(f32);
    json_decref(f64);
    json_decref(lists);
}

static void test_wildcard_dimension_written_back(void **state)
{
    (void)state;
    json_t *j = jt_load("[[1, 2], [3, 4], [5, 6]]");
    int64_t shape[2] = {-1, 2};
    double *out;
    eir_error e;
    JT_OK(eir_json_array(j, "/x", 2, shape, 0, 100, &out, &e), e);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 2);
    assert_true(out[5] == 6);
    free(out);
    json_decref(j);
}

static void test_scalar_broadcast(void **state)
{
    (void)state;
    json_t *j = jt_load("2.5");
    int64_t shape[2] = {2, 3};
    double *out;
    eir_error e;
    JT_OK(eir_json_array(j, "/x", 2, shape, 1, 100, &out, &e), e);
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == 2.5);
    free(out);
    /* not allowed */
    JT_EXPECT_ERR(eir_json_array(j, "/x", 2, shape, 0, 100, &out, &e), e, "/x",
                  "expected shape [2, 3]|got a scalar");
    assert_null(out);
    /* unknown dimension: cannot broadcast */
    int64_t wild[1] = {-1};
    JT_EXPECT_ERR(eir_json_array(j, "/x", 1, wild, 1, 100, &out, &e), e, "/x",
                  "expected shape [*]|scalar");
    json_decref(j);
}

static void test_empty_dimensions(void **state)
{
    (void)state;
    json_t *j = jt_load("[[], [], []]");
    int64_t shape[2] = {3, 0};
    double *out = NULL;
    eir_error e;
    JT_OK(eir_json_array(j, "/x", 2, shape, 0, 100, &out, &e), e);
    assert_non_null(out);
    free(out);
    json_decref(j);
    j = jt_load("{\"dtype\": \"float64\", \"shape\": [3, 0], \"base64\": \"\"}");
    JT_OK(eir_json_array(j, "/x", 2, shape, 0, 100, &out, &e), e);
    free(out);
    json_decref(j);
}

/* ---------------------------------------------------------------------------------------- */
/* eir_json_array: rejection                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Decode @p text as a [2, 3] array at "/recurrent/W" and expect an error. */
static void expect_23(const char *text, const char *field, const char *parts)
{
    json_t *j = jt_load(text);
    int64_t shape[2] = {2, 3};
    double *out = (double *)&out;
    eir_error e;
    eir_error_clear(&e);
    JT_EXPECT_ERR(eir_json_array(j, "/recurrent/W", 2, shape, 0, 1000, &out, &e), e, field, parts);
    assert_null(out);
    json_decref(j);
}

static void test_shape_mismatch_nested(void **state)
{
    (void)state;
    expect_23("[[1, 2], [3, 4]]", "/recurrent/W", "expected shape [2, 3], got [2, 2]");
    expect_23("[1, 2, 3, 4, 5, 6]", "/recurrent/W", "expected shape [2, 3], got [6]");
    expect_23("[[[1, 2, 3]], [[1, 2, 3]]]", "/recurrent/W", "expected shape [2, 3], got [2, 1, 3]");
    expect_23("[]", "/recurrent/W", "expected shape [2, 3], got [0]");
}

static void test_shape_mismatch_binary(void **state)
{
    (void)state;
    int64_t s[2] = {3, 2};
    char *t = jt_binary_text(vals6, 6, 0, 2, s);
    expect_23(t, "/recurrent/W", "expected shape [2, 3], got [3, 2]");
    free(t);
    int64_t s1[1] = {6};
    t = jt_binary_text(vals6, 6, 1, 1, s1);
    expect_23(t, "/recurrent/W", "expected shape [2, 3], got [6]");
    free(t);
}

static void test_ragged_lists(void **state)
{
    (void)state;
    expect_23("[[1, 2, 3], [4, 5]]", "/recurrent/W/1", "ragged|expected 3 elements, got 2");
    expect_23("[[1, 2, 3], 4]", "/recurrent/W/1", "ragged|got 4");
    expect_23("[[1, 2, 3], [4, [5], 6]]", "/recurrent/W/1/1", "ragged|expected a number");
    expect_23("[[1, 2, 3], [4, 5, 6, 7]]", "/recurrent/W/1", "expected 3 elements, got 4");
}

static void test_non_numbers_named(void **state)
{
    (void)state;
    expect_23("[[1, 2, 3], [4, \"5\", 6]]", "/recurrent/W/1/1",
              "expected a finite number|got string \"5\"");
    expect_23("[[1, null, 3], [4, 5, 6]]", "/recurrent/W/0/1", "expected a finite number|null");
    expect_23("[[1, 2, 3], [4, 5, true]]", "/recurrent/W/1/2", "expected a finite number|true");
    expect_23("[[1, 2, 3], [4, 5, {}]]", "/recurrent/W/1/2", "an object");
    expect_23("\"abc\"", "/recurrent/W", "expected a number or an array|string");
    expect_23("true", "/recurrent/W", "expected a number or an array");
}

static void test_non_number_deep_pointer(void **state)
{
    (void)state;
    /* the exact element pointer of the brief's example, in an 8 x 8 matrix */
    json_t *row = json_array(), *m = json_array();
    for (int j = 0; j < 8; j++)
        json_array_append_new(row, json_real(0.5));
    for (int i = 0; i < 8; i++)
        json_array_append_new(m, json_deep_copy(row));
    json_array_set_new(json_array_get(m, 3), 7, json_string("x"));
    int64_t shape[2] = {8, 8};
    double *out;
    eir_error e;
    JT_EXPECT_ERR(eir_json_array(m, "/recurrent/W", 2, shape, 0, 64, &out, &e), e,
                  "/recurrent/W/3/7", "expected a finite number, got string \"x\"");
    json_decref(row);
    json_decref(m);
}

static void test_binary_header_errors(void **state)
{
    (void)state;
    expect_23("{\"dtype\": \"float16\", \"shape\": [2, 3], \"base64\": \"\"}", "/recurrent/W/dtype",
              "expected one of float32, float64|\"float16\"");
    expect_23("{\"shape\": [2, 3], \"base64\": \"\"}", "/recurrent/W/dtype", "missing");
    expect_23("{\"dtype\": \"float64\", \"base64\": \"\"}", "/recurrent/W/shape", "missing");
    expect_23("{\"dtype\": \"float64\", \"shape\": [2, 3]}", "/recurrent/W/base64", "missing");
    expect_23("{\"dtype\": \"float64\", \"shape\": [2, -3], \"base64\": \"\"}",
              "/recurrent/W/shape/1", "expected an integer >= 0, got -3");
    expect_23("{\"dtype\": \"float64\", \"shape\": \"2x3\", \"base64\": \"\"}",
              "/recurrent/W/shape", "expected a list");
    expect_23("{\"dtype\": \"float64\", \"shape\": [2, 3], \"base64\": 7}", "/recurrent/W/base64",
              "expected a base64 string");
    expect_23("{\"dtype\": \"float64\", \"shape\": [2, 3], \"base64\": \"\", \"order\": \"C\"}",
              "/recurrent/W/order", "unknown field \"order\"|dtype, shape, base64");
}

static void test_binary_wrong_byte_count(void **state)
{
    (void)state;
    int64_t s5[1] = {5};
    /* 5 doubles = 40 bytes, claimed [2, 3] needs 48 */
    json_t *b = jt_binary(vals6, 5, 0, 1, s5);
    json_object_set_new(b, "shape", json_pack("[i, i]", 2, 3));
    char *t = json_dumps(b, 0);
    expect_23(t, "/recurrent/W/base64", "expected 48 bytes|[2, 3]|float64|got 40 bytes");
    free(t);
    json_decref(b);
    /* float32 array claimed as float64 */
    int64_t s23[2] = {2, 3};
    b = jt_binary(vals6, 6, 1, 2, s23);
    json_object_set_new(b, "dtype", json_string("float64"));
    t = json_dumps(b, 0);
    expect_23(t, "/recurrent/W/base64", "expected 48 bytes|got 24 bytes");
    free(t);
    json_decref(b);
}

static void test_binary_bad_base64(void **state)
{
    (void)state;
    /* 24 bytes of float32 = 32 characters; corrupt one */
    int64_t s23[2] = {2, 3};
    json_t *b = jt_binary(vals6, 6, 1, 2, s23);
    char *b64 = strdup(json_string_value(json_object_get(b, "base64")));
    b64[9] = '*';
    json_object_set_new(b, "base64", json_string(b64));
    char *t = json_dumps(b, 0);
    expect_23(t, "/recurrent/W/base64", "base64|invalid character at offset 9");
    free(t);
    /* unpadded length */
    b64[9] = 'A';
    b64[31] = '\0';
    json_object_set_new(b, "base64", json_string(b64));
    t = json_dumps(b, 0);
    expect_23(t, "/recurrent/W/base64", "multiple of 4|got 31 characters");
    free(t);
    free(b64);
    json_decref(b);
}

static void expect_non_finite(double bad, int f32, const char *name)
{
    double x[6] = {1, 2, 3, 4, 5, 6};
    x[4] = bad;
    int64_t s23[2] = {2, 3};
    char *t = jt_binary_text(x, 6, f32, 2, s23);
    char parts[64];
    snprintf(parts, sizeof parts, "finite|got %s at flat index 4", name);
    expect_23(t, "/recurrent/W", parts);
    free(t);
}

static void test_binary_non_finite(void **state)
{
    (void)state;
    expect_non_finite(NAN, 0, "NaN");
    expect_non_finite(NAN, 1, "NaN");
    expect_non_finite(INFINITY, 0, "Infinity");
    expect_non_finite(INFINITY, 1, "Infinity");
    expect_non_finite(-INFINITY, 0, "-Infinity");
    expect_non_finite(-INFINITY, 1, "-Infinity");
}

static void test_max_values_from_claimed_shape(void **state)
{
    (void)state;
    eir_error e;
    double *out = NULL;
    /* 10^10 values claimed with 8 bytes of data: rejected from the shape, nothing allocated */
    json_t *j = jt_load("{\"dtype\": \"float64\", \"shape\": [100000, 100000], \"base64\": "
                        "\"AAAAAAAAAAA=\"}");
    int64_t wild[2] = {-1, -1};
    JT_EXPECT_ERR(eir_json_array(j, "/inputs", 2, wild, 0, 1 << 20, &out, &e), e, "/inputs",
                  "expected at most 1048576 values, got shape [100000, 100000]");
    assert_null(out);
    json_decref(j);
    /* a shape whose product overflows int64 */
    j = jt_load("{\"dtype\": \"float32\", \"shape\": [4294967296, 4294967296, 4294967296], "
                "\"base64\": \"\"}");
    int64_t wild3[3] = {-1, -1, -1};
    JT_EXPECT_ERR(eir_json_array(j, "/inputs", 3, wild3, 0, INT64_MAX, &out, &e), e, "/inputs",
                  "got shape [4294967296, 4294967296, 4294967296]");
    json_decref(j);
    /* nested lists over the limit */
    j = jt_load("[[1, 2, 3], [4, 5, 6]]");
    int64_t s23[2] = {2, 3};
    JT_EXPECT_ERR(eir_json_array(j, "/inputs", 2, s23, 0, 5, &out, &e), e, "/inputs",
                  "expected at most 5 values, got shape [2, 3]");
    json_decref(j);
}

static void test_nesting_depth_limit(void **state)
{
    (void)state;
    json_t *j = jt_load("[[[[[[[[[1]]]]]]]]]");
    int64_t wild[2] = {-1, -1};
    double *out;
    eir_error e;
    JT_EXPECT_ERR(eir_json_array(j, "/x", 2, wild, 0, 100, &out, &e), e, "/x",
                  "at most 8 nested list levels");
    json_decref(j);
}

static void test_pointer_escaping(void **state)
{
    (void)state;
    /* an unknown member of a binary array is named with RFC 6901 escapes */
    json_t *j = jt_load("{\"dtype\": \"float64\", \"shape\": [0], \"base64\": \"\", \"a/b~c\": 1}");
    int64_t s[1] = {0};
    double *out;
    eir_error e;
    JT_EXPECT_ERR(eir_json_array(j, "/x~1y", 1, s, 0, 100, &out, &e), e, "/x~1y/a~1b~0c",
                  "unknown field \"a/b~c\"");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_round_trip_all_bytes),
        cmocka_unit_test(test_base64_rejects_bad_input),
        cmocka_unit_test(test_nested_and_binary_identical),
        cmocka_unit_test(test_float32_converts_exactly),
        cmocka_unit_test(test_wildcard_dimension_written_back),
        cmocka_unit_test(test_scalar_broadcast),
        cmocka_unit_test(test_empty_dimensions),
        cmocka_unit_test(test_shape_mismatch_nested),
        cmocka_unit_test(test_shape_mismatch_binary),
        cmocka_unit_test(test_ragged_lists),
        cmocka_unit_test(test_non_numbers_named),
        cmocka_unit_test(test_non_number_deep_pointer),
        cmocka_unit_test(test_binary_header_errors),
        cmocka_unit_test(test_binary_wrong_byte_count),
        cmocka_unit_test(test_binary_bad_base64),
        cmocka_unit_test(test_binary_non_finite),
        cmocka_unit_test(test_max_values_from_claimed_shape),
        cmocka_unit_test(test_nesting_depth_limit),
        cmocka_unit_test(test_pointer_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
