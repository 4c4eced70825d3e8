/**
 * @file test_shared_store.c
 * @brief eirnnd API: two daemons on one database file, as docs/OPERATIONS.md supports — H with
 *        --workers 0 serving HTTP, S simulating. A long poll on H for a run that S finishes,
 *        or that is cancelled through S (running or queued), returns about when the run
 *        ends, not at the end of its ?wait= (issue 10, item 7: the store watcher of
 *        server/waiters_watch.c).
 *
 * Each poll runs in a thread and is suspended on H (its gauge on /metrics says so) before the
 * run can end: S starts only then, or the cancel is sent only then. The end is timed by a long
 * poll on S, which S's own worker or cancel wakes; H's answer must follow within a few seconds,
 * far under its ?wait= of 30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"

static api_daemon H; /* --workers 0 */
static char *slow_id;
static char poll_max[32]; /* --long-poll-max: 60 s, scaled */

/** Longest time from the end of a run to the answer of a long poll on H (scaled). */
#define WAKE_BOUND 5.0

static int setup(void **state)
{
    (void)state;
    snprintf(poll_max, sizeof poll_max, "%.0f", eir_scaled(60));
    api_init(&H);
    const char *args[] = {"--workers", "0", "--long-poll-max", poll_max, NULL};
    api_start(&H, args, NULL);
    slow_id = api_create_model(&H, api_model_slow);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(slow_id);
    api_stop_clean(&H);
    return 0;
}

/** Start the simulating daemon @p s on H's database file (one worker). */
static void start_simulating(api_daemon *s)
{
    api_init(s);
    snprintf(s->db, sizeof s->db, "%s", H.db);
    const char *args[] = {"--workers", "1", "--long-poll-max", poll_max, NULL};
    api_start(s, args, NULL);
}

/** Submit to H a run of @p steps steps of the slow model (about 0.1 ms each); its id. */
static char *submit_slow(long steps)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": %ld, \"trials\": 1}, "
             "\"record\": {\"vars\": [\"V\"], \"every\": 1000}}",
             slow_id, steps);
    return api_submit_run(&H, doc);
}

/** A long poll in a thread: its answer and when it came. */
typedef struct poll_arg {
    api_daemon *d;
    const char *id;
    api_resp r;
    double done_at; /**< api_now() when the answer came */
} poll_arg;

static void *long_poll(void *p)
{
    poll_arg *a = p;
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s?wait=%.0f", a->id, eir_scaled(30));
    api_get(a->d, path, &a->r);
    a->done_at = api_now();
    return NULL;
}

/** The eirnn_http_long_polls gauge of @p d. */
static long long_polls(api_daemon *d)
{
    api_resp r;
    api_get(d, "/metrics", &r);
    assert_int_equal(r.status, 200);
    const char *m = strstr(r.body, "\neirnn_http_long_polls ");
    assert_non_null(m);
    long n = strtol(m + strlen("\neirnn_http_long_polls "), NULL, 10);
    api_resp_free(&r);
    return n;
}

/** Wait until @p n long polls are suspended on @p d (fails after 10 s, scaled). */
static void wait_long_polls(api_daemon *d, long n)
{
    double end = api_now() + eir_scaled(10);
    while (long_polls(d) != n) {
        assert_true(api_now() < end);
        api_pause(0.02);
    }
}

/** Start a long poll of @p id on H in @p th and wait until @p n polls are suspended there. */
static void start_poll(pthread_t *th, poll_arg *pa, const char *id, long n)
{
    *pa = (poll_arg){.d = &H, .id = id};
    assert_int_equal(pthread_create(th, NULL, long_poll, pa), 0);
    wait_long_polls(&H, n);
}

/** Wait for run @p id to end, by a long poll on @p s (woken by its own worker or cancel);
 *  assert its status is @p status. @return when the poll returned. */
static double wait_end_on(api_daemon *s, const char *id, const char *status)
{
    json_t *j = api_wait_run(s, id, 60);
    double at = api_now();
    assert_string_equal(api_jstr(j, "status"), status);
    json_decref(j);
    return at;
}

/** Join the poll of @p pa; assert H answered 200 with @p status within WAKE_BOUND of @p end. */
static void expect_woken(pthread_t th, poll_arg *pa, const char *status, double end)
{
    pthread_join(th, NULL);
    assert_int_equal(pa->r.status, 200);
    json_t *j = api_json(&pa->r);
    assert_string_equal(api_jstr(j, "status"), status);
    json_decref(j);
    api_resp_free(&pa->r);
    double late = pa->done_at - end;
    printf("# the long poll on the HTTP-only daemon returned %.3f s after the run ended (%s)\n",
           late, status);
    assert_true(late < eir_scaled(WAKE_BOUND));
}

/** A run queued on H, run by S started while H's long poll waits: H answers when S ends it. */
static void test_finish_by_other_daemon_wakes(void **state)
{
    (void)state;
    char *rid = submit_slow(30000); /* about a second */
    pthread_t th;
    poll_arg pa;
    start_poll(&th, &pa, rid, 1);
    api_daemon S;
    start_simulating(&S);
    double end = wait_end_on(&S, rid, "succeeded");
    expect_woken(th, &pa, "succeeded", end);
    api_stop_clean(&S);
    free(rid);
}

/** A running run and a queued one behind it on S's single worker, each cancelled through S
 *  while a long poll on H waits for it: both polls answer when the runs are cancelled. */
static void test_cancel_through_other_daemon_wakes(void **state)
{
    (void)state;
    api_daemon S;
    start_simulating(&S);
    char *running = submit_slow(5000000); /* minutes if left alone */
    api_wait_status(&S, running, "running", 30);
    char *queued = submit_slow(10000);
    pthread_t th_run, th_queued;
    poll_arg pa_run, pa_queued;
    start_poll(&th_run, &pa_run, running, 1);
    start_poll(&th_queued, &pa_queued, queued, 2);

    char path[128];
    api_resp r;
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", queued);
    api_post(&S, path, NULL, &r);
    assert_int_equal(r.status, 200); /* queued: cancelled at once */
    api_resp_free(&r);
    double end = api_now();
    expect_woken(th_queued, &pa_queued, "cancelled", end);

    snprintf(path, sizeof path, "/v1/runs/%s/cancel", running);
    api_post(&S, path, NULL, &r);
    assert_int_equal(r.status, 202); /* running: S's worker stops it */
    api_resp_free(&r);
    end = wait_end_on(&S, running, "cancelled");
    expect_woken(th_run, &pa_run, "cancelled", end);
    assert_int_equal(long_polls(&H), 0);
    api_stop_clean(&S);
    free(running);
    free(queued);
}

/** A restart of H while S runs a run leaves the run to S: only a daemon with workers puts
 *  runs left running back in the queue at its start (those of its own crash). */
static void test_http_only_restart_leaves_runs_running(void **state)
{
    (void)state;
    api_daemon S;
    start_simulating(&S);
    char *rid = submit_slow(60000); /* about two seconds */
    api_wait_status(&S, rid, "running", 30);
    assert_int_equal(api_stop(&H, SIGTERM, 30), 0);
    const char *args[] = {"--workers", "0", "--long-poll-max", poll_max, NULL};
    api_start(&H, args, NULL);
    assert_int_equal(api_log_count(&H, "\"event\":\"requeued\""), 0);
    json_t *j = api_wait_run(&H, rid, 60);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 1);
    json_decref(j);
    api_stop_clean(&S);
    free(rid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finish_by_other_daemon_wakes),
        cmocka_unit_test(test_cancel_through_other_daemon_wakes),
        cmocka_unit_test(test_http_only_restart_leaves_runs_running),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
