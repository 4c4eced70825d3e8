/**
 * @file test_durability.c
 * @brief eirnnd API: accepted runs survive. kill -9 with queued and running runs, restart, and
 *        every run completes with the bytes `eirnn simulate` gives; SIGTERM with a run in flight
 *        exits 0 after letting it finish (grace) or after giving it back to the queue (no
 *        grace), answering pending long polls, and the released run completes after a restart.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_harness.h"

/** A run of @p model_id with @p T zero-input steps recording V every @p every, seed @p seed. */
static char *run_doc(const char *model_id, long T, int every, int seed)
{
    char *s = malloc(512);
    snprintf(s, 512,
             "{\"model_id\": \"%s\", \"dt\": 0.05, \"inputs\": {\"steps\": %ld, \"trials\": 1}, "
             "\"record\": {\"vars\": [\"V\"], \"every\": %d}, \"seed\": %d}",
             model_id, T, every, seed);
    return s;
}

/** Check run @p rid succeeded and its V equals `eirnn simulate` of @p model with @p run. */
static void check_against_simulate(api_daemon *d, const char *rid, const char *model,
                                   const char *run, const char *tag)
{
    char mpath[512], rpath[512], out[512], file[600], path[256];
    snprintf(mpath, sizeof mpath, "%s/%s_model.json", d->dir, tag);
    snprintf(rpath, sizeof rpath, "%s/%s_run.json", d->dir, tag);
    snprintf(out, sizeof out, "%s/%s_out", d->dir, tag);
    api_write_file(mpath, model, strlen(model));
    /* The offline run has no model_id: drop it. */
    json_t *rj = json_loads(run, 0, NULL);
    json_object_del(rj, "model_id");
    char *doc = json_dumps(rj, 0);
    json_decref(rj);
    api_write_file(rpath, doc, strlen(doc));
    free(doc);
    assert_int_equal(api_simulate(mpath, rpath, out), 0);
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", rid);
    api_resp r;
    api_get(d, path, &r);
    assert_int_equal(r.status, 200);
    snprintf(file, sizeof file, "%s/V.npy", out);
    size_t len;
    char *want = api_read_file(file, &len);
    assert_non_null(want);
    if (r.len != len || memcmp(r.body, want, len)) {
        print_error("%s: results differ from eirnn simulate\n", tag);
        fail();
    }
    free(want);
    api_resp_free(&r);
}

static void test_kill9_restart(void **state)
{
    (void)state;
    API_SKIP_ON_PG("a kill -9'd daemon's runs are requeued at its next start on SQLite; on "
                   "PostgreSQL, where other daemons may hold runs, they come back when their lease "
                   "expires (tests/reliability: the PostgreSQL kill -9 tests)");
    api_daemon d;
    api_init(&d);
    const char *one[] = {"--workers", "1", NULL};
    api_start(&d, one, NULL);
    char *slow = api_create_model(&d, api_model_slow);
    char *small = api_create_model(&d, api_model_small);
    /* A run of a few seconds, then small runs queued behind it. */
    char *long_doc = run_doc(slow, 80000, 400, 1);
    char *long_id = api_submit_run(&d, long_doc);
    char *docs[4], *ids[4];
    for (int i = 0; i < 4; i++) {
        docs[i] = run_doc(small, 30 + i, 1, 10 + i);
        ids[i] = api_submit_run(&d, docs[i]);
    }
    api_wait_status(&d, long_id, "running", 30);
    api_pause(0.2);
    api_kill9(&d);

    const char *two[] = {"--workers", "2", NULL};
    api_start(&d, two, NULL);
    assert_true(api_log_count(&d, "\"event\":\"requeued\"") >= 1);
    json_t *j = api_wait_run(&d, long_id, 120);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 2);
    json_decref(j);
    for (int i = 0; i < 4; i++) {
        j = api_wait_run(&d, ids[i], 60);
        assert_string_equal(api_jstr(j, "status"), "succeeded");
        json_decref(j);
    }
    check_against_simulate(&d, long_id, api_model_slow, long_doc, "long");
    check_against_simulate(&d, ids[0], api_model_small, docs[0], "small0");
    check_against_simulate(&d, ids[3], api_model_small, docs[3], "small3");
    for (int i = 0; i < 4; i++) {
        free(docs[i]);
        free(ids[i]);
    }
    free(long_doc);
    free(long_id);
    free(slow);
    free(small);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

typedef struct poll_arg {
    api_daemon *d;
    const char *id;
    api_resp r;
    double took;
} poll_arg;

/* A long poll of 60 s (scaled; the daemons that get one are started with --long-poll-max as
 * long), made in a thread. The tests join the thread before they check anything: a failed
 * check leaves the test function, and the thread must not outlive the poll_arg on its stack. */
static void *long_poll(void *p)
{
    poll_arg *a = p;
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s?wait=%.0f", a->id, eir_scaled(60));
    double t0 = api_now();
    api_get(a->d, path, &a->r);
    a->took = api_now() - t0;
    return NULL;
}

/**
 * Start a long poll of run @p id in a thread (its answer in *pa once joined), then SIGTERM
 * @p d, waiting up to @p timeout seconds (scaled) for it to exit. Fails the test unless it
 * exited 0. @return how long the stop took, in seconds.
 */
static double sigterm_during_poll(api_daemon *d, const char *id, double timeout, poll_arg *pa)
{
    *pa = (poll_arg){.d = d, .id = id};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, long_poll, pa), 0);
    api_pause(0.2);
    double t0 = api_now();
    int rc = api_stop(d, SIGTERM, timeout);
    double took = api_now() - t0;
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    return took;
}

/** Fail unless GET /v1/runs/@p id on @p d answers a run in state @p status. */
static void expect_status(api_daemon *d, const char *id, const char *status)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s", id);
    api_resp r;
    api_get(d, path, &r);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), status);
    json_decref(j);
    api_resp_free(&r);
}

static void test_sigterm_finishes_in_grace(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    /* A grace of 60 s (scaled), far more than the run needs. */
    char s60[32];
    snprintf(s60, sizeof s60, "%.0f", eir_scaled(60));
    const char *args[] = {"--workers", "1", "--shutdown-grace", s60, "--long-poll-max", s60, NULL};
    api_start(&d, args, NULL);
    char *slow = api_create_model(&d, api_model_slow);
    char *doc = run_doc(slow, 40000, 400, 2);
    char *id = api_submit_run(&d, doc);
    api_wait_status(&d, id, "running", 30);
    poll_arg pa;
    double stop_took = sigterm_during_poll(&d, id, 60, &pa);
    /* It exited when the run was done, not at the end of the grace. */
    assert_true(stop_took < eir_scaled(30));
    /* The pending long poll was answered at shutdown, well before its 60 s. */
    assert_int_equal(pa.r.status, 200);
    assert_true(pa.took < eir_scaled(30));
    api_resp_free(&pa.r);
    assert_true(api_log_count(&d, "\"event\":\"stopped\"") == 1);

    /* It finished within the grace period: after a restart without workers it is there. */
    const char *none[] = {"--workers", "0", NULL};
    api_start(&d, none, NULL);
    expect_status(&d, id, "succeeded");
    check_against_simulate(&d, id, api_model_slow, doc, "grace");
    free(doc);
    free(id);
    free(slow);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

static void test_sigterm_releases_run(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    char s60[32];
    snprintf(s60, sizeof s60, "%.0f", eir_scaled(60));
    const char *args[] = {"--workers", "1", "--shutdown-grace", "0", "--long-poll-max", s60, NULL};
    api_start(&d, args, NULL);
    char *slow = api_create_model(&d, api_model_slow);
    char *doc = run_doc(slow, 100000, 1000, 3);
    char *id = api_submit_run(&d, doc);
    api_wait_status(&d, id, "running", 30);
    api_pause(0.3);
    poll_arg pa;
    double stop_took = sigterm_during_poll(&d, id, 30, &pa);
    assert_true(stop_took < eir_scaled(5));
    assert_int_equal(pa.r.status, 200);
    assert_true(pa.took < eir_scaled(10));
    api_resp_free(&pa.r);
    assert_int_equal(api_log_count(&d, "\"event\":\"run_released\""), 1);

    /* Back in the queue with the attempt not counted; a restart completes it. */
    const char *none[] = {"--workers", "0", NULL};
    api_start(&d, none, NULL);
    expect_status(&d, id, "queued");
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);

    const char *one[] = {"--workers", "1", NULL};
    api_start(&d, one, NULL);
    json_t *j = api_wait_run(&d, id, 120);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 1);
    json_decref(j);
    check_against_simulate(&d, id, api_model_slow, doc, "released");
    free(doc);
    free(id);
    free(slow);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_restart),
        cmocka_unit_test(test_sigterm_finishes_in_grace),
        cmocka_unit_test(test_sigterm_releases_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
