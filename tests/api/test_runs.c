/**
 * @file test_runs.c
 * @brief eirnnd API: runs. Submission (model_id or inline, 202 + Location), validation errors
 *        with JSON pointers, long polls (return when the run ends, and at the deadline), list
 *        filters and pagination, cancel of queued and running runs, delete, idempotency keys,
 *        a full queue (503 + Retry-After), wall-clock limits, divergence, and picked seeds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_harness.h"

static api_daemon D;  /* one worker; --long-poll-max 60 s (scaled) */
static api_daemon D0; /* no workers: runs stay queued */
static char *small_id;

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    /* 60 s is the default; the long polls of 60 s (scaled) below need it scaled too. */
    char poll_max[32];
    snprintf(poll_max, sizeof poll_max, "%.0f", eir_scaled(60));
    /* One thread per run (the metadata names it; the default is CPUs / workers). */
    const char *args[] = {"--workers", "1", "--long-poll-max", poll_max, "--threads-per-run",
                          "1",         NULL};
    api_start(&D, args, NULL);
    api_init(&D0);
    const char *args0[] = {"--workers", "0", "--long-poll-max", "2", NULL};
    api_start(&D0, args0, NULL);
    small_id = api_create_model(&D, api_model_small);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(small_id);
    int rc = api_stop(&D, SIGTERM, 30), rc0 = api_stop(&D0, SIGTERM, 30);
    api_cleanup(&D);
    api_cleanup(&D0);
    assert_int_equal(rc, 0);
    assert_int_equal(rc0, 0);
    return 0;
}

/** A run document for model @p id (NULL: the small model inline) of @p T zero-input steps. */
static char *run_doc(const char *id, const char *inline_model, long T, const char *extra)
{
    size_t cap = 256 + (inline_model ? strlen(inline_model) : 0) + (extra ? strlen(extra) : 0);
    char *ref = malloc(cap), *s = malloc(cap + 64);
    assert_non_null(ref);
    assert_non_null(s);
    if (id)
        snprintf(ref, cap, "\"model_id\": \"%s\"", id);
    else
        snprintf(ref, cap, "\"model\": %s", inline_model ? inline_model : "null");
    snprintf(s, cap + 64, "{%s, \"dt\": 0.1, \"inputs\": {\"steps\": %ld, \"trials\": 1}%s%s}", ref,
             T, extra ? ", " : "", extra ? extra : "");
    free(ref);
    return s;
}

/** Submit the run of run_doc(@p id, @p inline_model, @p T, @p extra) to @p d; its id. */
static char *submit(api_daemon *d, const char *id, const char *inline_model, long T,
                    const char *extra)
{
    char *doc = run_doc(id, inline_model, T, extra);
    char *rid = api_submit_run(d, doc);
    free(doc);
    return rid;
}

static void test_submit_and_wait(void **state)
{
    (void)state;
    char *doc = run_doc(small_id, NULL, 50, "\"seed\": 3");
    api_resp r;
    api_post(&D, "/v1/runs", doc, &r);
    free(doc);
    assert_int_equal(r.status, 202);
    json_t *j = api_json(&r);
    char loc[128], want[128];
    const char *id = api_jstr(j, "id");
    assert_true(strncmp(id, "r_", 2) == 0);
    snprintf(want, sizeof want, "/v1/runs/%s", id);
    assert_non_null(api_header(&r, "Location", loc, sizeof loc));
    assert_string_equal(loc, want);
    assert_string_equal(api_jstr(j, "model_id"), small_id);
    const char *st = api_jstr(j, "status");
    assert_true(!strcmp(st, "queued") || !strcmp(st, "running") || !strcmp(st, "succeeded"));
    assert_non_null(json_object_get(j, "progress"));
    assert_non_null(api_jstr(j, "created_at"));
    char *rid = strdup(id);
    json_decref(j);
    api_resp_free(&r);

    j = api_wait_run(&D, rid, 30);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    json_t *p = json_object_get(j, "progress");
    assert_int_equal(json_integer_value(json_object_get(p, "done")), 50);
    assert_int_equal(json_integer_value(json_object_get(p, "total")), 50);
    assert_non_null(api_jstr(j, "started_at"));
    assert_non_null(api_jstr(j, "finished_at"));
    assert_true(json_is_null(json_object_get(j, "error")));
    json_t *meta = json_object_get(j, "meta");
    assert_string_equal(api_jstr(meta, "status"), "succeeded");
    json_t *sum = json_object_get(meta, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "steps_done")), 50);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(meta, "run"), "seed")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(meta, "run"), "threads")),
                     1);
    assert_non_null(json_object_get(json_object_get(meta, "outputs"), "V"));
    json_decref(j);
    /* A succeeded run cannot be cancelled. */
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", rid);
    api_post(&D, path, NULL, &r);
    json_decref(api_expect_problem(&r, 409));
    api_resp_free(&r);

    /* Inline model. */
    doc = run_doc(NULL, api_model_small, 20, NULL);
    char *rid2 = api_submit_run(&D, doc);
    free(doc);
    j = api_wait_run(&D, rid2, 30);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_true(json_is_null(json_object_get(j, "model_id")));
    json_decref(j);
    free(rid);
    free(rid2);
}

static void expect_run_error(api_daemon *d, const char *body, long status, const char *field)
{
    api_resp r;
    api_post(d, "/v1/runs", body, &r);
    json_t *p = api_expect_problem(&r, status);
    const char *f = api_jstr(p, "field");
    if (field && (!f || strcmp(f, field))) {
        print_error("%s: expected field %s: %s\n", body, field, r.body);
        fail();
    }
    json_decref(p);
    api_resp_free(&r);
}

static void test_submit_errors(void **state)
{
    (void)state;
    char buf[8192];
    expect_run_error(&D,
                     "{\"model_id\": \"m_000000000000000000000000\", \"dt\": 0.1, "
                     "\"inputs\": {\"steps\": 5, \"trials\": 1}}",
                     422, "/model_id");
    expect_run_error(&D, "{\"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}}", 422,
                     "/model_id");
    snprintf(buf, sizeof buf,
             "{\"model_id\": \"%s\", \"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 5, "
             "\"trials\": 1}}",
             small_id, api_model_small);
    expect_run_error(&D, buf, 422, NULL);
    snprintf(buf, sizeof buf,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}, "
             "\"bogus\": true}",
             small_id);
    expect_run_error(&D, buf, 422, "/bogus");
    snprintf(buf, sizeof buf,
             "{\"model_id\": \"%s\", \"dt\": \"fast\", \"inputs\": {\"steps\": 5, \"trials\": 1}}",
             small_id);
    expect_run_error(&D, buf, 422, "/dt");
    snprintf(buf, sizeof buf, "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": [[1, 2, 3]]}",
             small_id);
    expect_run_error(&D, buf, 422, "/inputs");
    snprintf(buf, sizeof buf,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}, "
             "\"record\": {\"vars\": [\"W\"]}}",
             small_id);
    expect_run_error(&D, buf, 422, NULL);
    snprintf(buf, sizeof buf,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 99000000000, "
             "\"trials\": 1}}",
             small_id);
    expect_run_error(&D, buf, 422, NULL);
    /* Inline model errors point into /model. */
    json_t *m = json_loads(api_model_small, 0, NULL);
    json_object_set_new(m, "leak", json_string("x"));
    json_t *run = json_pack("{s:o, s:f, s:{s:i, s:i}}", "model", m, "dt", 0.1, "inputs", "steps", 5,
                            "trials", 1);
    char *s = json_dumps(run, 0);
    json_decref(run);
    expect_run_error(&D, s, 422, "/model/leak");
    free(s);
    expect_run_error(&D, "{\"model_id\": ", 400, NULL);
    expect_run_error(&D, "\"just a string\"", 422, "");
}

static void test_long_poll_returns_when_done(void **state)
{
    (void)state;
    char *mid = api_create_model(&D, api_model_slow);
    /* About a second of simulation. */
    char *rid = submit(&D, mid, NULL, 30000, "\"record\": {\"vars\": [\"V\"], \"every\": 1000}");
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s?wait=%.0f", rid, eir_scaled(60));
    double t0 = api_now();
    api_resp r;
    api_get(&D, path, &r);
    double took = api_now() - t0;
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    /* Well before the 60 s deadline: the worker's finish resumed the poll. */
    assert_true(took < eir_scaled(30));
    json_decref(j);
    api_resp_free(&r);
    /* A finished run answers a long poll at once. */
    t0 = api_now();
    api_get(&D, path, &r);
    assert_int_equal(r.status, 200);
    assert_true(api_now() - t0 < eir_scaled(1.0));
    api_resp_free(&r);
    free(rid);
    free(mid);
}

static void test_long_poll_deadline(void **state)
{
    (void)state;
    char *mid = api_create_model(&D0, api_model_small);
    char *rid = submit(&D0, mid, NULL, 10, NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s?wait=0.7", rid);
    double t0 = api_now();
    api_resp r;
    api_get(&D0, path, &r);
    double took = api_now() - t0;
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), "queued");
    assert_true(took >= 0.65 && took < eir_scaled(3.0));
    json_decref(j);
    api_resp_free(&r);
    /* ?wait= above --long-poll-max (2 s) is cut to it. */
    snprintf(path, sizeof path, "/v1/runs/%s?wait=100", rid);
    t0 = api_now();
    api_get(&D0, path, &r);
    took = api_now() - t0;
    assert_int_equal(r.status, 200);
    assert_true(took >= 1.9 && took < eir_scaled(5.0));
    api_resp_free(&r);
    /* Bad wait values. */
    const char *bad[] = {"abc", "-1", "nan", "1e999", NULL};
    for (const char **b = bad; *b; b++) {
        snprintf(path, sizeof path, "/v1/runs/%s?wait=%s", rid, *b);
        api_get(&D0, path, &r);
        json_t *p = api_expect_problem(&r, 400);
        assert_string_equal(api_jstr(p, "parameter"), "wait");
        json_decref(p);
        api_resp_free(&r);
    }
    /* A cancel wakes a poll of a queued run at once. */
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", rid);
    api_post(&D0, path, NULL, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    free(rid);
    free(mid);
}

static void test_cancel_queued(void **state)
{
    (void)state;
    char *mid = api_create_model(&D0, api_model_small);
    char *rid = submit(&D0, mid, NULL, 10, NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s", rid);
    /* DELETE of a queued run: 409. */
    api_resp r;
    api_delete(&D0, path, &r);
    json_decref(api_expect_problem(&r, 409));
    api_resp_free(&r);
    /* The model cannot go while a run uses it. */
    char mpath[128];
    snprintf(mpath, sizeof mpath, "/v1/models/%s", mid);
    api_delete(&D0, mpath, &r);
    json_t *p = api_expect_problem(&r, 409);
    assert_non_null(strstr(api_jstr(p, "detail"), "1 run"));
    json_decref(p);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", rid);
    api_post(&D0, path, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), "cancelled");
    json_decref(j);
    api_resp_free(&r);
    /* Cancelling again is harmless. */
    api_post(&D0, path, NULL, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    /* Now it can be deleted, and then the model. */
    snprintf(path, sizeof path, "/v1/runs/%s", rid);
    api_delete(&D0, path, &r);
    assert_int_equal(r.status, 204);
    api_resp_free(&r);
    api_get(&D0, path, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    api_delete(&D0, mpath, &r);
    assert_int_equal(r.status, 204);
    api_resp_free(&r);
    free(rid);
    free(mid);
}

static void test_cancel_running(void **state)
{
    (void)state;
    char *mid = api_create_model(&D, api_model_slow);
    /* Minutes of simulation if left alone. */
    char *rid =
        submit(&D, mid, NULL, 5000000, "\"record\": {\"vars\": [\"V\"], \"every\": 100000}");
    api_wait_status(&D, rid, "running", 30);
    api_pause(0.3);
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", rid);
    double t0 = api_now();
    api_resp r;
    api_post(&D, path, NULL, &r);
    assert_int_equal(r.status, 202);
    json_t *j = api_json(&r);
    assert_true(json_is_true(json_object_get(j, "cancel_requested")));
    json_decref(j);
    api_resp_free(&r);
    j = api_wait_run(&D, rid, 30);
    assert_string_equal(api_jstr(j, "status"), "cancelled");
    assert_true(api_now() - t0 < eir_scaled(5.0));
    json_t *sum = json_object_get(json_object_get(j, "meta"), "summary");
    json_int_t done = json_integer_value(json_object_get(sum, "steps_done"));
    assert_true(done > 0 && done < 5000000);
    json_decref(j);
    /* Only the rows computed are kept (steps done rounded down to record.every); none is NaN
     * (null in JSON). tests/api/test_stopped.c checks the shapes in detail. */
    snprintf(path, sizeof path, "/v1/runs/%s/results/V?format=json&neurons=0", rid);
    api_get(&D, path, &r);
    assert_int_equal(r.status, 200);
    j = api_json(&r);
    json_t *rows = json_array_get(j, 0);
    assert_int_equal(json_array_size(rows), (size_t)(done / 100000));
    for (size_t k = 0; k < json_array_size(rows); k++)
        assert_true(json_is_number(json_array_get(json_array_get(rows, k), 0)));
    json_decref(j);
    api_resp_free(&r);
    /* Cancelling a cancelled run changes nothing. */
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", rid);
    api_post(&D, path, NULL, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    /* Delete a finished run and its results. */
    snprintf(path, sizeof path, "/v1/runs/%s", rid);
    api_delete(&D, path, &r);
    assert_int_equal(r.status, 204);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", rid);
    api_get(&D, path, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    free(rid);
    free(mid);
}

static void test_idempotency(void **state)
{
    (void)state;
    char *doc = run_doc(small_id, NULL, 10, NULL);
    const char *h1[] = {"Idempotency-Key: key-one", NULL};
    api_resp r1, r2, r3;
    api_req(&D, "POST", "/v1/runs", h1, doc, strlen(doc), &r1);
    assert_int_equal(r1.status, 202);
    api_req(&D, "POST", "/v1/runs", h1, doc, strlen(doc), &r2);
    assert_int_equal(r2.status, 200);
    char rep[16];
    assert_non_null(api_header(&r2, "Idempotent-Replayed", rep, sizeof rep));
    json_t *j1 = api_json(&r1), *j2 = api_json(&r2);
    assert_string_equal(api_jstr(j1, "id"), api_jstr(j2, "id"));
    char loc1[128], loc2[128];
    assert_non_null(api_header(&r1, "Location", loc1, sizeof loc1));
    assert_non_null(api_header(&r2, "Location", loc2, sizeof loc2));
    assert_string_equal(loc1, loc2);
    /* Same key, other body: 422. */
    char *other = run_doc(small_id, NULL, 11, NULL);
    api_req(&D, "POST", "/v1/runs", h1, other, strlen(other), &r3);
    json_t *p = api_expect_problem(&r3, 422);
    assert_non_null(strstr(api_jstr(p, "type"), "idempotency"));
    json_decref(p);
    api_resp_free(&r3);
    /* Another key: another run. */
    const char *h2[] = {"Idempotency-Key: key-two", NULL};
    api_req(&D, "POST", "/v1/runs", h2, doc, strlen(doc), &r3);
    assert_int_equal(r3.status, 202);
    json_t *j3 = api_json(&r3);
    assert_string_not_equal(api_jstr(j3, "id"), api_jstr(j1, "id"));
    json_decref(j3);
    api_resp_free(&r3);
    /* Too long a key. */
    char longkey[400] = "Idempotency-Key: ";
    memset(longkey + strlen(longkey), 'k', 300);
    longkey[sizeof longkey - 1] = '\0';
    const char *h3[] = {longkey, NULL};
    api_req(&D, "POST", "/v1/runs", h3, doc, strlen(doc), &r3);
    json_decref(api_expect_problem(&r3, 400));
    api_resp_free(&r3);
    json_decref(j1);
    json_decref(j2);
    api_resp_free(&r1);
    api_resp_free(&r2);
    free(doc);
    free(other);
}

static void test_queue_full(void **state)
{
    (void)state;
    api_daemon Q;
    api_init(&Q);
    const char *args[] = {"--workers", "0", "--queue-limit", "2", NULL};
    api_start(&Q, args, NULL);
    char *mid = api_create_model(&Q, api_model_small);
    char *doc = run_doc(mid, NULL, 10, NULL);
    char *a = api_submit_run(&Q, doc), *b = api_submit_run(&Q, doc);
    api_resp r;
    api_post(&Q, "/v1/runs", doc, &r);
    json_decref(api_expect_problem(&r, 503));
    char ra[32];
    assert_non_null(api_header(&r, "Retry-After", ra, sizeof ra));
    assert_true(atoi(ra) >= 1);
    api_resp_free(&r);
    /* A slot frees up when a queued run is cancelled. */
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", a);
    api_post(&Q, path, NULL, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    char *c = api_submit_run(&Q, doc);
    free(a);
    free(b);
    free(c);
    free(doc);
    free(mid);
    assert_int_equal(api_stop(&Q, SIGTERM, 30), 0);
    api_cleanup(&Q);
}

static void test_list(void **state)
{
    (void)state;
    api_daemon L;
    api_init(&L);
    const char *args[] = {"--workers", "0", NULL};
    api_start(&L, args, NULL);
    char *m1 = api_create_model(&L, api_model_small), *m2 = api_create_model(&L, api_model_small);
    char *ids[7];
    for (int i = 0; i < 7; i++) {
        ids[i] = submit(&L, i < 4 ? m1 : m2, NULL, 10, NULL);
    }
    /* Cancel two of model 1's. */
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/runs/%s/cancel", ids[i]);
        api_resp r;
        api_post(&L, path, NULL, &r);
        assert_int_equal(r.status, 200);
        api_resp_free(&r);
    }
    struct {
        const char *query;
        int count;
    } cases[] = {{"", 7},
                 {"status=queued", 5},
                 {"status=cancelled", 2},
                 {"status=succeeded", 0},
                 {"model_id=M1", 4},
                 {"model_id=M2", 3},
                 {"status=queued&model_id=M1", 2}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char q[512], path[256];
        snprintf(q, sizeof q, "%.200s", cases[k].query);
        char *p;
        if ((p = strstr(q, "M1")))
            snprintf(path, sizeof path, "%.*s%s%s", (int)(p - q), q, m1, p + 2);
        else if ((p = strstr(q, "M2")))
            snprintf(path, sizeof path, "%.*s%s%s", (int)(p - q), q, m2, p + 2);
        else
            snprintf(path, sizeof path, "%.200s", q);
        snprintf(q, sizeof q, "/v1/runs?limit=2%s%s", path[0] ? "&" : "", path);
        /* Follow the Link headers, which must keep the filters. */
        int total = 0, pages = 0;
        char next[1024];
        snprintf(next, sizeof next, "%s", q);
        for (;;) {
            api_resp r;
            api_get(&L, next, &r);
            assert_int_equal(r.status, 200);
            json_t *j = api_json(&r);
            json_t *items = json_object_get(j, "items");
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it)
            {
                if (strstr(cases[k].query, "status=queued"))
                    assert_string_equal(api_jstr(it, "status"), "queued");
                assert_non_null(json_object_get(it, "progress"));
            }
            total += (int)json_array_size(items);
            pages++;
            char link[1024];
            const char *lh = api_header(&r, "Link", link, sizeof link);
            json_decref(j);
            api_resp_free(&r);
            if (!lh) break;
            if (strstr(path, "status=")) assert_non_null(strstr(link, "status="));
            if (strstr(path, "model_id=")) assert_non_null(strstr(link, "model_id="));
            char *end = strchr(link, '>');
            *end = '\0';
            snprintf(next, sizeof next, "%s", link + 1);
        }
        if (total != cases[k].count) {
            print_error("%s: %d runs, expected %d\n", q, total, cases[k].count);
            fail();
        }
        assert_true(pages >= (cases[k].count + 1) / 2);
    }
    api_resp r;
    api_get(&L, "/v1/runs?status=bogus", &r);
    json_t *p = api_expect_problem(&r, 400);
    assert_string_equal(api_jstr(p, "parameter"), "status");
    json_decref(p);
    api_resp_free(&r);
    for (int i = 0; i < 7; i++)
        free(ids[i]);
    free(m1);
    free(m2);
    assert_int_equal(api_stop(&L, SIGTERM, 30), 0);
    api_cleanup(&L);
}

static void test_time_limit(void **state)
{
    (void)state;
    char *mid = api_create_model(&D, api_model_slow);
    char *rid = submit(&D, mid, NULL, 5000000,
                       "\"record\": {\"vars\": [\"V\"], \"every\": 100000}, \"time_limit\": 0.5");
    json_t *j = api_wait_run(&D, rid, 60);
    assert_string_equal(api_jstr(j, "status"), "failed");
    json_t *e = json_object_get(j, "error");
    assert_non_null(strstr(api_jstr(e, "detail"), "wall-clock limit"));
    assert_float_equal(json_real_value(json_object_get(j, "time_limit")), 0.5, 1e-9);
    json_decref(j);
    free(rid);
    free(mid);
}

static void test_diverged(void **state)
{
    (void)state;
    const char *model = "{\"class\": \"rnn\", \"populations\": {\"E\": 2, \"I\": 0}, "
                        "\"n_inputs\": 0, \"activation\": {\"name\": \"linear\"}, \"leak\": 1, "
                        "\"bias\": 1, \"recurrent\": {\"W\": [[0, 10], [10, 0]]}}";
    char *rid = submit(&D, NULL, model, 20000, NULL);
    json_t *j = api_wait_run(&D, rid, 60);
    assert_string_equal(api_jstr(j, "status"), "diverged");
    json_t *sum = json_object_get(json_object_get(j, "meta"), "summary");
    assert_true(json_is_true(json_object_get(sum, "diverged")));
    json_decref(j);
    free(rid);
}

static void test_seed_picked(void **state)
{
    (void)state;
    char *mid = api_create_model(&D, api_model_noisy);
    char *rid = submit(&D, mid, NULL, 20, NULL);
    json_t *j = api_wait_run(&D, rid, 30);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    json_t *seed = json_object_get(json_object_get(json_object_get(j, "meta"), "run"), "seed");
    assert_true(json_is_integer(seed));
    json_decref(j);
    free(rid);
    free(mid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_and_wait),
        cmocka_unit_test(test_submit_errors),
        cmocka_unit_test(test_long_poll_returns_when_done),
        cmocka_unit_test(test_long_poll_deadline),
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_diverged),
        cmocka_unit_test(test_seed_picked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
