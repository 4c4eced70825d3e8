/**
 * @file test_stopped.c
 * @brief eirnnd API: a run stopped before its end (cancelled, or past its wall-clock limit)
 *        keeps only the rows it computed. The result's time axis is the steps done rounded down
 *        to record.every, in the .npy and in the metadata (outputs.<var>.shape,
 *        summary.rows_written, summary.truncated: true); no row is NaN; and the rows kept are
 *        the bytes a complete run of that many steps gives (several trials: each trial's rows
 *        stay its own).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"
#include "eir_npy.h"

static api_daemon D;
static char *slow_id;

/** Steps between recorded rows of the long runs below. */
#define EVERY 1000

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    const char *args[] = {"--workers", "2", "--threads-per-run", "1", NULL};
    api_start(&D, args, NULL);
    slow_id = api_create_model(&D, api_model_slow);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(slow_id);
    api_stop_clean(&D);
    return 0;
}

static json_int_t jint(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

/** A run of the slow model: @p steps steps, 2 trials, V recorded every EVERY steps. */
static char *submit(long steps, const char *extra)
{
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"model_id\": \"%s\", \"dt\": 0.01, \"inputs\": {\"steps\": %ld, \"trials\": 2}, "
             "\"record\": {\"vars\": [\"V\"], \"every\": %d}, \"seed\": 11%s%s}",
             slow_id, steps, EVERY, extra ? ", " : "", extra ? extra : "");
    return api_submit_run(&D, doc);
}

/** GET the V result of run @p id as .npy into @p a (status checked). */
static void get_npy(const char *id, eir_npy_array *a, api_resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", id);
    const char *hdr[] = {"Accept: application/octet-stream", NULL};
    api_req(&D, "GET", path, hdr, NULL, 0, r);
    if (r->status != 200) {
        print_error("GET %s: %ld %s\n", path, r->status, r->body);
        fail();
    }
    eir_npy_error ne;
    if (eir_npy_parse(r->body, r->len, 0, a, &ne) != EIR_NPY_OK) {
        print_error("not a .npy: %s\n", ne.message);
        fail();
    }
}

/**
 * Check the final resource @p j of a run stopped after some steps: the metadata and the stored
 * .npy have rows = steps done / EVERY, no NaN, and the same bytes as a complete run of
 * rows * EVERY steps with the same seed. @p status is the run's final status.
 */
static void check_stopped(json_t *j, const char *id, const char *status)
{
    assert_string_equal(api_jstr(j, "status"), status);
    json_t *meta = json_object_get(j, "meta");
    json_t *sum = json_object_get(meta, "summary");
    json_int_t done = jint(sum, "steps_done");
    assert_true(done > 0 && done < 5000000);
    json_int_t rows = done / EVERY;
    assert_int_equal(jint(sum, "rows_written"), rows);
    assert_true(json_is_true(json_object_get(sum, "truncated")));
    json_t *shape =
        json_object_get(json_object_get(json_object_get(meta, "outputs"), "V"), "shape");
    assert_int_equal(json_array_size(shape), 3);
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), rows);
    assert_int_equal(json_integer_value(json_array_get(shape, 2)), 300);
    /* The progress of the run resource says the same steps. */
    assert_int_equal(jint(json_object_get(j, "progress"), "done"), done);

    eir_npy_array a;
    api_resp r;
    get_npy(id, &a, &r);
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], rows);
    assert_int_equal(a.shape[2], 300);
    for (size_t i = 0; i < a.count; i++)
        if (!isfinite(a.data[i])) fail_msg("value %zu of the kept rows is %g", i, a.data[i]);
    eir_npy_array_free(&a);

    /* A complete run of the rows' steps gives the same bytes (each trial's rows its own). */
    if (rows > 0) {
        char *full = submit((long)(rows * EVERY), NULL);
        json_t *fj = api_wait_run(&D, full, 120);
        assert_string_equal(api_jstr(fj, "status"), "succeeded");
        assert_true(json_is_false(
            json_object_get(json_object_get(json_object_get(fj, "meta"), "summary"), "truncated")));
        json_decref(fj);
        eir_npy_array b;
        api_resp fr;
        get_npy(full, &b, &fr);
        eir_npy_array_free(&b);
        if (fr.len != r.len || memcmp(fr.body, r.body, r.len) != 0)
            fail_msg("the %lld rows kept differ from a complete run of %lld steps", (long long)rows,
                     (long long)(rows * EVERY));
        api_resp_free(&fr);
        free(full);
    }
    api_resp_free(&r);
}

static void test_cancelled_keeps_rows_done(void **state)
{
    (void)state;
    char *id = submit(5000000, NULL);
    /* Cancel once a few rows are done (progress is written about every 0.5 s). */
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s", id);
    double deadline = api_now() + 60 * eir_time_scale();
    for (;;) {
        api_resp r;
        api_get(&D, path, &r);
        json_t *j = api_json(&r);
        json_int_t done = jint(json_object_get(j, "progress"), "done");
        int final =
            strcmp(api_jstr(j, "status"), "running") && strcmp(api_jstr(j, "status"), "queued");
        json_decref(j);
        api_resp_free(&r);
        if (final) fail_msg("the run ended before it could be cancelled");
        if (done >= 3 * EVERY) break;
        if (api_now() > deadline) fail_msg("the run did not get to %d steps", 3 * EVERY);
        api_pause(0.05);
    }
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", id);
    api_resp r;
    api_post(&D, path, NULL, &r);
    assert_int_equal(r.status, 202);
    api_resp_free(&r);
    json_t *j = api_wait_run(&D, id, 60);
    check_stopped(j, id, "cancelled");
    json_decref(j);
    free(id);
}

static void test_time_limit_keeps_rows_done(void **state)
{
    (void)state;
    char *id = submit(5000000, "\"time_limit\": 1.0");
    json_t *j = api_wait_run(&D, id, 60);
    assert_non_null(strstr(api_jstr(json_object_get(j, "error"), "detail"), "wall-clock limit"));
    check_stopped(j, id, "failed");
    json_decref(j);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancelled_keeps_rows_done),
        cmocka_unit_test(test_time_limit_keeps_rows_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
