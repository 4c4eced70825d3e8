/* `eirnn model export`: runs the built binary and compares its files with the matrices of the
 * same model built in this process (eir_model_matrix_rows() behind the same .npy header). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/eir_test_files.h"
#include "eir.h"
#include "eir_analysis.h"
#include "eir_json.h"
#include "eir_npy.h"

static char out_text[1 << 14], err_text[1 << 14];

static void slurp_into(const char *path, char *dst, size_t cap)
{
    size_t n;
    char *s = et_read_file(path, &n);
    dst[0] = '\0';
    if (s) {
        snprintf(dst, cap, "%s", s);
        free(s);
    }
}

/** Run eirnn with the NULL-terminated arguments; its exit code, output in out_text/err_text. */
static int cli(const char *arg, ...)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)"eirnn";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 15; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(et_tmp("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(et_tmp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execv(EIRNN_BIN, argv);
        _exit(127);
    }
    int rc = et_wait_child(pid, 300, "eirnn");
    slurp_into(et_tmp("stdout.txt"), out_text, sizeof out_text);
    slurp_into(et_tmp("stderr.txt"), err_text, sizeof err_text);
    return rc;
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle))) fail_msg("expected '%s' in: %s", (needle), (hay));           \
    } while (0)

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/** The model of @p text built here. */
static eir_model *build(const char *text, eir_model_spec **spec)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    eir_model *m = NULL;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_json_build_model(j, &lim, "", &m, spec, &err), EIR_OK);
    json_decref(j);
    return m;
}

/** Every matrix of the model of @p text: DIR/<name>.npy is the header and the rows built here,
 *  a matrix the model lacks has no file, and DIR/matrices.json lists them with the hash. */
static void check_dir(const char *text, const char *dir, const char *const *want, int nwant)
{
    eir_model_spec *spec;
    eir_model *m = build(text, &spec);
    char path[512];
    snprintf(path, sizeof path, "%s/matrices.json", dir);
    json_error_t je;
    json_t *index = json_load_file(path, 0, &je);
    assert_non_null(index);
    char hash[65];
    eir_model_hash(m, hash);
    assert_string_equal(json_string_value(json_object_get(index, "hash")), hash);
    json_t *list = json_object_get(index, "matrices");
    assert_int_equal(json_array_size(list), (size_t)nwant);
    int seen = 0;
    for (int k = 0; k < EIR_NMATRICES; k++) {
        const char *name = eir_matrix_name((eir_matrix)k);
        int64_t shape[2];
        int nd = eir_model_matrix_shape(m, (eir_matrix)k, shape);
        snprintf(path, sizeof path, "%s/%s.npy", dir, name);
        if (nd == 0) {
            if (exists(path)) fail_msg("%s exists, but the model has no %s", path, name);
            continue;
        }
        assert_string_equal(name, want[seen]);
        json_t *e = json_array_get(list, (size_t)seen++);
        assert_string_equal(json_string_value(json_object_get(e, "name")), name);
        assert_string_equal(json_string_value(json_object_get(e, "dtype")), "float64");
        json_t *sh = json_object_get(e, "shape");
        assert_int_equal(json_array_size(sh), (size_t)nd);
        for (int d = 0; d < nd; d++)
            assert_int_equal(json_integer_value(json_array_get(sh, (size_t)d)), shape[d]);
        int64_t rows = nd == 1 ? 1 : shape[0], cols = nd == 1 ? shape[0] : shape[1];
        char hdr[EIR_NPY_HEADER_MAX];
        size_t hl = eir_npy_header(EIR_NPY_F8, nd, shape, hdr, sizeof hdr);
        size_t want_len = hl + (size_t)(rows * cols) * 8;
        char *expect = malloc(want_len);
        assert_non_null(expect);
        memcpy(expect, hdr, hl);
        eir_error err;
        assert_int_equal(
            eir_model_matrix_rows(m, (eir_matrix)k, 0, rows, (double *)(void *)(expect + hl), &err),
            EIR_OK);
        size_t len;
        char *got = et_read_file(path, &len);
        assert_non_null(got);
        assert_int_equal(len, want_len);
        assert_memory_equal(got, expect, want_len);
        free(got);
        free(expect);
    }
    assert_int_equal(seen, nwant);
    json_decref(index);
    eir_model_free(m);
    eir_model_spec_free(spec);
}

static char *example(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/schema/examples/%s", EIR_SOURCE_DIR, name);
    size_t n;
    char *s = et_read_file(path, &n);
    assert_non_null(s);
    return s;
}

static void test_explicit_and_stale_files(void **state)
{
    (void)state;
    char *small = example("model_small.json");
    const char *dir = et_tmp("small/out");
    assert_int_equal(cli("model", "export", et_tmp("small.json"), "-o", dir, NULL), 1);
    assert_contains(err_text, "small.json");
    et_write_text(et_tmp("small.json"), small);
    assert_int_equal(cli("model", "export", et_tmp("small.json"), "-o", dir, NULL), 0);
    static const char *const names[] = {"W", "M", "P", "G_b", "bias", "W_out", "b_out"};
    check_dir(small, dir, names, 7);
    free(small);
    /* a conductance-form model exported into the same directory (via "models export"): K
     * replaces M, and the files of matrices it lacks are gone */
    static const char cond[] =
        "{\"class\": \"gated\", \"populations\": {\"E\": 2, \"I\": 1}, \"activation\": "
        "{\"name\": \"relu\"}, \"leak\": [1, 2, 3], \"recurrent\": {\"K\": [[0, 0.5, 0.25], "
        "[0.125, 0, 1], [2, 0.75, 0]], \"E_rev\": {\"E\": 2, \"I\": -0.5}}}";
    et_write_text(et_tmp("cond.json"), cond);
    assert_int_equal(cli("models", "export", et_tmp("cond.json"), "--output", dir, NULL), 0);
    static const char *const cnames[] = {"W", "K", "G_b", "bias"};
    check_dir(cond, dir, cnames, 4);
}

/* 40 doubles of 0.5, base64 (a readout from the E cells as a binary array) */
#define HALVES40                                                                                   \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/"                             \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/"                             \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/"                             \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/"                             \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/"                             \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/"                             \
    "AAAAAAAA4D8AAAAAAADgPwAAAAAAAOA/AAAAAAAA4D8="

static void test_generated(void **state)
{
    (void)state;
    static const char gen[] =
        "{\"class\": \"gated\", \"populations\": {\"E\": 40, \"I\": 10}, \"n_inputs\": 3, "
        "\"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, \"recurrent\": {\"generate\": "
        "{\"seed\": 9, \"p\": 0.3, \"spectral_radius\": 0.8}, \"A\": 0.5}, \"input\": "
        "{\"generate\": {\"seed\": 4}}, \"readout\": {\"W_out\": {\"dtype\": \"float64\", "
        "\"shape\": [1, 40], \"base64\": \"" HALVES40 "\"}, \"from\": \"E\"}}";
    et_write_text(et_tmp("gen.json"), gen);
    assert_int_equal(cli("model", "export", et_tmp("gen.json"), "-o", et_tmp("g1"), NULL), 0);
    static const char *const names[] = {"W", "M", "P", "G_b", "bias", "W_out", "b_out"};
    check_dir(gen, et_tmp("g1"), names, 7);
}

static void test_usage_and_invalid(void **state)
{
    (void)state;
    assert_int_equal(cli("model", "export", "--help", NULL), 0);
    assert_contains(out_text, "usage: eirnn model export MODEL.json -o DIR");
    assert_int_equal(cli("model", "export", NULL), 2);
    assert_contains(err_text, "expected one MODEL.json");
    et_write_text(et_tmp("m.json"), "{}");
    assert_int_equal(cli("model", "export", et_tmp("m.json"), NULL), 2);
    assert_contains(err_text, "-o DIR is required");
    assert_int_equal(cli("model", "export", et_tmp("m.json"), "-o", et_tmp("x"), "--bogus", NULL),
                     2);
    assert_contains(err_text, "unknown option '--bogus'");
    assert_int_equal(cli("model", "export", et_tmp("m.json"), "-o", NULL), 2);
    assert_int_equal(cli("model", "export", et_tmp("m.json"), "-o", et_tmp("x"), NULL), 3);
    assert_contains(err_text, "m.json: /");
    et_write_text(et_tmp("bad.json"),
                  "{\"class\": \"rnn\", \"populations\": {\"E\": 2, \"I\": 0}, \"activation\": "
                  "{\"name\": \"tanh\"}, \"leak\": 1, \"recurrent\": {\"W\": [[0, 1], [1]]}}");
    assert_int_equal(cli("model", "export", et_tmp("bad.json"), "-o", et_tmp("x"), NULL), 3);
    assert_contains(err_text, "/recurrent/W");
    assert_false(exists(et_tmp("x")));
    et_write_text(et_tmp("notjson.json"), "{");
    assert_int_equal(cli("model", "export", et_tmp("notjson.json"), "-o", et_tmp("x"), NULL), 3);
    /* the output directory cannot be made: a file is in the way */
    assert_int_equal(cli("model", "export", et_tmp("cond.json"), "-o", et_tmp("m.json"), NULL), 1);
    assert_contains(err_text, "not a directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_and_stale_files),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_usage_and_invalid),
    };
    return cmocka_run_group_tests(tests, et_tmpdir_setup, et_tmpdir_teardown);
}
