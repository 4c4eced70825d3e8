/* CSV reader (schema/include/eir_csv.h): parsing from memory and reading files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_csv.h"
#include "eir_test_files.h"

static void csv_ok(const char *text, int64_t er, int64_t ec, const double *expect)
{
    int64_t r, c;
    double *v;
    eir_npy_error err;
    eir_npy_status st = eir_csv_parse(text, strlen(text), 0, &r, &c, &v, &err);
    if (st != EIR_NPY_OK) fail_msg("CSV rejected: %s", err.message);
    assert_int_equal(r, er);
    assert_int_equal(c, ec);
    for (int64_t i = 0; i < r * c; i++)
        assert_true(v[i] == expect[i]);
    free(v);
}

static void csv_bad(const char *text, size_t max_values, const char *needle)
{
    int64_t r, c;
    double *v = (double *)1;
    eir_npy_error err;
    eir_npy_status st = eir_csv_parse(text, strlen(text), max_values, &r, &c, &v, &err);
    if (st != EIR_NPY_EFORMAT || !strstr(err.message, needle))
        fail_msg("expected CSV rejection containing '%s', got %d '%s'", needle, st,
                 st ? err.message : "");
    assert_null(v);
}

static void test_csv_parse(void **state)
{
    (void)state;
    const double m23[] = {1, 2, 3, 4.5, -5e-3, 6};
    csv_ok("1,2,3\n4.5,-5e-3,6\n", 2, 3, m23);
    csv_ok("1,2,3\n4.5,-5e-3,6", 2, 3, m23);
    csv_ok("x,y,z\n1,2,3\n4.5,-5e-3,6\n", 2, 3, m23);
    csv_ok("# comment\n\n  1 , 2,\t3 \r\n# more\n4.5,-5e-3,6\r\n\n", 2, 3, m23);
    csv_ok("#t,a,b,c\nt,a,b,c\n1,2,3\n4.5,-5e-3,6\n", 2, 3, m23);
    const double one[] = {7};
    csv_ok("7", 1, 1, one);

    csv_bad("", 0, "no data rows");
    csv_bad("# only a comment\n", 0, "no data rows");
    csv_bad("a,b\n", 0, "no data rows");
    csv_bad("1,2\n3\n", 0, "line 2 has 1 fields but line 1 has 2");
    csv_bad("1,2\n3,x\n", 0, "line 2, field 2: 'x' is not a finite number");
    csv_bad("1,2\n3,\n", 0, "line 2, field 2: empty field");
    csv_bad("1,2\n,3\n", 0, "line 2, field 1: empty field");
    csv_bad("1,2\nnan,3\n", 0, "not a finite number");
    csv_bad("1,2\n1e999,3\n", 0, "not a finite number");
    csv_bad("a,b\nx,y\n", 0, "line 2, field 1");
    csv_bad("1,2,3\n4,5,6\n", 5, "more than 5 values");
    /* Embedded NUL. */
    const char nul[] = "1,2\n3,4\0\n";
    int64_t r, c;
    double *v;
    eir_npy_error err;
    assert_int_equal(eir_csv_parse(nul, sizeof nul - 1, 0, &r, &c, &v, &err), EIR_NPY_EFORMAT);
}

static void test_csv_read(void **state)
{
    (void)state;
    int64_t r, c;
    double *v;
    eir_npy_error err;
    FILE *f = fopen(et_tmp("in.csv"), "w");
    fputs("a,b\n1,2\n3,4\n5,6\n", f);
    fclose(f);
    assert_int_equal(eir_csv_read(et_tmp("in.csv"), 0, &r, &c, &v, &err), EIR_NPY_OK);
    assert_int_equal(r, 3);
    assert_int_equal(c, 2);
    assert_true(v[5] == 6);
    free(v);
    assert_int_equal(eir_csv_read(et_tmp("none.csv"), 0, &r, &c, &v, &err), EIR_NPY_EIO);
    assert_non_null(strstr(err.message, "none.csv"));
    f = fopen(et_tmp("bad.csv"), "w");
    fputs("1,2\n3,oops\n", f);
    fclose(f);
    assert_int_equal(eir_csv_read(et_tmp("bad.csv"), 0, &r, &c, &v, &err), EIR_NPY_EFORMAT);
    assert_non_null(strstr(err.message, "bad.csv: line 2, field 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_parse),
        cmocka_unit_test(test_csv_read),
    };
    return cmocka_run_group_tests(tests, et_tmpdir_setup, et_tmpdir_teardown);
}
