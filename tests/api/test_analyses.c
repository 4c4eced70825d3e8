/**
 * @file test_analyses.c
 * @brief eirnnd API: analyses are jobs of the run queue (issue 11, item 2). The lifecycle of an
 *        analysis (202 and its document, lists and their filters, ?wait=, results in .npy, JSON
 *        and CSV with ETag / 304, delete), the line between /v1/runs and /v1/analyses (another
 *        kind's id is 404), idempotent submits, a cancel that stops a long analysis promptly,
 *        and a kill -9 mid-analysis after which the restarted daemon finishes it with the bytes
 *        of an uninterrupted one.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_harness.h"

/** GET /v1/analyses/{id}?wait= until it has ended or @p timeout (scaled) passed. */
static json_t *wait_analysis(api_daemon *d, const char *id, double timeout)
{
    return api_wait_job(d, "analyses", id, timeout);
}

/** Poll GET /v1/analyses/{id} until its status is @p status (fails after @p timeout). */
static void wait_analysis_status(api_daemon *d, const char *id, const char *status, double timeout)
{
    api_wait_job_status(d, "analyses", "analysis", id, status, timeout);
}

/** POST /v1/analyses with @p body: expects @p want; returns the new id (malloc'ed). */
static char *submit(api_daemon *d, const char *body, long want, json_t **doc)
{
    api_resp r;
    api_post(d, "/v1/analyses", body, &r);
    if (r.status != want) {
        print_error("POST /v1/analyses: %ld %s\n", r.status, r.body);
        fail();
    }
    json_t *j = api_json(&r);
    char *id = strdup(api_jstr(j, "id"));
    char loc[128], want_loc[128];
    snprintf(want_loc, sizeof want_loc, "/v1/analyses/%s", id);
    assert_string_equal(api_header(&r, "Location", loc, sizeof loc), want_loc);
    api_resp_free(&r);
    if (doc)
        *doc = j;
    else
        json_decref(j);
    return id;
}

/** GET @p path and expect @p status (the body is freed). */
static void expect_status(api_daemon *d, const char *method, const char *path, long status)
{
    api_resp r;
    api_req(d, method, path, NULL, NULL, 0, &r);
    if (r.status != status) {
        print_error("%s %s: %ld %s (wanted %ld)\n", method, path, r.status, r.body, status);
        fail();
    }
    api_resp_free(&r);
}

/** The ids of the items of list @p path, comma-separated, into @p buf. */
static void list_ids(api_daemon *d, const char *path, char *buf, size_t cap)
{
    api_resp r;
    api_get(d, path, &r);
    if (r.status != 200) {
        print_error("GET %s: %ld %s\n", path, r.status, r.body);
        fail();
    }
    json_t *j = api_json(&r);
    json_t *items = json_object_get(j, "items");
    assert_true(json_is_array(items));
    buf[0] = '\0';
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", n ? "," : "", api_jstr(it, "id"));
    }
    json_decref(j);
    api_resp_free(&r);
}

static void test_lifecycle(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "1", NULL};
    api_start(&d, args, NULL);
    char *model = api_create_model(&d, api_model_small);
    char body[512];
    snprintf(body, sizeof body,
             "{\"model_id\": \"%s\", \"dt\": 0.05, \"inputs\": {\"steps\": 20, \"trials\": 1}, "
             "\"record\": {\"vars\": [\"V\"]}}",
             model);
    char *run = api_submit_run(&d, body);

    /* 202, Location and the job document */
    snprintf(body, sizeof body, "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"W\"}",
             model);
    json_t *doc;
    char *an = submit(&d, body, 202, &doc);
    assert_memory_equal(an, "a_", 2);
    assert_int_equal(strlen(an), 26);
    assert_string_equal(api_jstr(doc, "kind"), "analysis");
    assert_string_equal(api_jstr(doc, "analysis"), "spectrum");
    assert_string_equal(api_jstr(doc, "model_id"), model);
    const char *st = api_jstr(doc, "status");
    assert_true(!strcmp(st, "queued") || !strcmp(st, "running") || !strcmp(st, "succeeded"));
    assert_true(json_is_object(json_object_get(doc, "progress")));
    assert_non_null(api_jstr(doc, "created_at"));
    assert_true(json_is_integer(json_object_get(doc, "attempts")));
    assert_string_equal(api_jstr(json_object_get(doc, "request"), "of"), "W");
    json_decref(doc);

    /* ?wait= returns when it has ended, with its summary and results */
    json_t *j = wait_analysis(&d, an, 60);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_non_null(api_jstr(j, "finished_at"));
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 1);
    json_t *prog = json_object_get(j, "progress");
    assert_true(json_real_value(json_object_get(prog, "fraction")) == 1.0);
    json_t *summary = json_object_get(j, "summary");
    assert_true(json_is_object(summary));
    assert_true(json_number_value(json_object_get(summary, "spectral_radius")) > 0);
    assert_true(json_is_null(json_object_get(j, "error")));
    json_t *ev = json_object_get(json_object_get(j, "results"), "eigenvalues");
    assert_non_null(ev);
    assert_string_equal(api_jstr(ev, "dtype"), "complex128");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(ev, "shape"), 0)), 10);
    char url[160];
    snprintf(url, sizeof url, "/v1/analyses/%s/results/eigenvalues", an);
    assert_string_equal(api_jstr(ev, "url"), url);
    json_decref(j);

    /* the results list and the array in each format, with ETag and 304 */
    char path[200];
    snprintf(path, sizeof path, "/v1/analyses/%s/results", an);
    api_resp r;
    api_get(&d, path, &r);
    assert_int_equal(r.status, 200);
    j = api_json(&r);
    assert_string_equal(api_jstr(j, "analysis_id"), an);
    assert_true(json_array_size(json_object_get(j, "items")) >= 1);
    json_decref(j);
    api_resp_free(&r);

    api_get(&d, url, &r); /* .npy by default */
    assert_int_equal(r.status, 200);
    assert_true(r.len > 160 && memcmp(r.body, "\x93NUMPY", 6) == 0);
    assert_non_null(memmem(r.body, r.len, "'<c16'", 6));
    assert_non_null(memmem(r.body, r.len, "(10,)", 5));
    size_t hdr = r.len - 160;
    char etag[64];
    assert_non_null(api_header(&r, "ETag", etag, sizeof etag));
    /* the eigenvalues as stored: [re, im] pairs, sorted by real part descending */
    double vals[20];
    memcpy(vals, r.body + hdr, sizeof vals);
    for (int i = 1; i < 10; i++)
        assert_true(vals[2 * i] <= vals[2 * (i - 1)]);
    api_resp_free(&r);
    char inm[96];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *hdrs[] = {inm, NULL};
    api_req(&d, "GET", url, hdrs, NULL, 0, &r);
    assert_int_equal(r.status, 304);
    api_resp_free(&r);

    snprintf(path, sizeof path, "%s?format=json", url);
    api_get(&d, path, &r);
    assert_int_equal(r.status, 200);
    j = api_json(&r);
    assert_int_equal(json_array_size(j), 10);
    json_t *pair = json_array_get(j, 0);
    assert_int_equal(json_array_size(pair), 2);
    assert_true(json_number_value(json_array_get(pair, 0)) == vals[0]);
    assert_true(json_number_value(json_array_get(pair, 1)) == vals[1]);
    json_decref(j);
    char etag_json[64];
    assert_non_null(api_header(&r, "ETag", etag_json, sizeof etag_json));
    assert_string_not_equal(etag_json, etag); /* the format is part of the tag */
    api_resp_free(&r);
    const char *accept_csv[] = {"Accept: text/csv", NULL};
    api_req(&d, "GET", url, accept_csv, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    char ctype[96];
    assert_non_null(strstr(api_header(&r, "Content-Type", ctype, sizeof ctype), "text/csv"));
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/analyses/%s/results/nothing", an);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "%s?format=xml", url);
    expect_status(&d, "GET", path, 400);

    /* the line between the kinds: each id is 404 under the other's paths */
    json_decref(api_wait_run(&d, run, 60));
    snprintf(path, sizeof path, "/v1/runs/%s", an);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "/v1/runs/%s/results", an);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "/v1/runs/%s/results/eigenvalues", an);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "/v1/runs/%s/cancel", an);
    expect_status(&d, "POST", path, 404);
    snprintf(path, sizeof path, "/v1/runs/%s", an);
    expect_status(&d, "DELETE", path, 404);
    snprintf(path, sizeof path, "/v1/analyses/%s", run);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "/v1/analyses/%s/results", run);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "/v1/analyses/%s/results/V", run);
    expect_status(&d, "GET", path, 404);
    snprintf(path, sizeof path, "/v1/analyses/%s/cancel", run);
    expect_status(&d, "POST", path, 404);
    snprintf(path, sizeof path, "/v1/analyses/%s", run);
    expect_status(&d, "DELETE", path, 404);

    /* lists: each shows its own kind, with the filters */
    char ids[512];
    list_ids(&d, "/v1/runs", ids, sizeof ids);
    assert_string_equal(ids, run);
    list_ids(&d, "/v1/analyses", ids, sizeof ids);
    assert_string_equal(ids, an);
    list_ids(&d, "/v1/analyses?status=succeeded&kind=spectrum", ids, sizeof ids);
    assert_string_equal(ids, an);
    snprintf(path, sizeof path, "/v1/analyses?model_id=%s", model);
    list_ids(&d, path, ids, sizeof ids);
    assert_string_equal(ids, an);
    list_ids(&d, "/v1/analyses?status=queued", ids, sizeof ids);
    assert_string_equal(ids, "");
    list_ids(&d, "/v1/analyses?kind=lyapunov", ids, sizeof ids);
    assert_string_equal(ids, "");
    list_ids(&d, "/v1/analyses?model_id=m_000000000000000000000000", ids, sizeof ids);
    assert_string_equal(ids, "");
    expect_status(&d, "GET", "/v1/analyses?kind=nonsense", 400);
    expect_status(&d, "GET", "/v1/analyses?status=done", 400);
    expect_status(&d, "GET", "/v1/analyses?wait=1", 400);

    /* the counts of /metrics by kind */
    api_get(&d, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "eirnn_analyses{status=\"succeeded\"} 1\n"));
    assert_non_null(strstr(r.body, "eirnn_runs{status=\"succeeded\"} 1\n"));
    api_resp_free(&r);

    /* a bad request names the field; an unknown model is a 422 too */
    api_post(&d, "/v1/analyses", "{\"kind\": \"spectrum\", \"of\": \"W\"}", &r);
    json_decref(api_expect_problem(&r, 422));
    api_resp_free(&r);
    api_post(&d, "/v1/analyses", "[1, 2]", &r);
    assert_true(r.status >= 400 && r.status < 500);
    api_resp_free(&r);

    /* cancel of an ended analysis: 409; delete: 204 and gone (its model may go then) */
    snprintf(path, sizeof path, "/v1/analyses/%s/cancel", an);
    expect_status(&d, "POST", path, 409);
    snprintf(path, sizeof path, "/v1/models/%s", model);
    expect_status(&d, "DELETE", path, 409); /* a run and the analysis use it */
    snprintf(path, sizeof path, "/v1/analyses/%s", an);
    expect_status(&d, "DELETE", path, 204);
    expect_status(&d, "GET", path, 404);
    expect_status(&d, "GET", url, 404);

    free(an);
    free(run);
    free(model);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

static void test_idempotent(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "0", NULL};
    api_start(&d, args, NULL);
    char *model = api_create_model(&d, api_model_small);
    char body[256], other[256];
    snprintf(body, sizeof body, "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"W\"}",
             model);
    snprintf(other, sizeof other, "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"M\"}",
             model);
    const char *key[] = {"Idempotency-Key: an-1", "Content-Type: application/json", NULL};
    api_resp r1, r2, r3;
    api_req(&d, "POST", "/v1/analyses", key, body, strlen(body), &r1);
    assert_int_equal(r1.status, 202);
    api_req(&d, "POST", "/v1/analyses", key, body, strlen(body), &r2);
    assert_int_equal(r2.status, 200);
    char replay[16];
    assert_string_equal(api_header(&r2, "Idempotent-Replayed", replay, sizeof replay), "true");
    json_t *j1 = api_json(&r1), *j2 = api_json(&r2);
    assert_string_equal(api_jstr(j1, "id"), api_jstr(j2, "id"));
    api_req(&d, "POST", "/v1/analyses", key, other, strlen(other), &r3);
    json_decref(api_expect_problem(&r3, 422));
    list_ids(&d, "/v1/analyses", other, sizeof other);
    assert_string_equal(other, api_jstr(j1, "id")); /* one analysis queued */
    /* the run queue's keys are the same keys: a run may not reuse an analysis's */
    char run[256];
    snprintf(run, sizeof run, "{\"model_id\": \"%s\", \"inputs\": {\"steps\": 5}}", model);
    api_resp r4;
    api_req(&d, "POST", "/v1/runs", key, run, strlen(run), &r4);
    json_decref(api_expect_problem(&r4, 422));
    json_decref(j1);
    json_decref(j2);
    api_resp_free(&r1);
    api_resp_free(&r2);
    api_resp_free(&r3);
    api_resp_free(&r4);
    free(model);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

/** A Lyapunov analysis of model @p model long enough to be caught running (a few seconds). */
static void long_lyapunov(char *buf, size_t cap, const char *model, long steps)
{
    snprintf(buf, cap,
             "{\"kind\": \"lyapunov\", \"model_id\": \"%s\", \"k\": 2, \"dt\": 0.01, "
             "\"steps\": %ld, \"transient\": 100, \"seed\": 3, \"trace_points\": 50}",
             model, steps);
}

/** The .npy bytes of result @p name of analysis @p id (malloc'ed, *len). */
static char *result_bytes(api_daemon *d, const char *id, const char *name, size_t *len)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/analyses/%s/results/%s", id, name);
    api_resp r;
    api_get(d, path, &r);
    if (r.status != 200) {
        print_error("GET %s: %ld %s\n", path, r.status, r.body);
        fail();
    }
    char *b = malloc(r.len);
    memcpy(b, r.body, r.len);
    *len = r.len;
    api_resp_free(&r);
    return b;
}

static void test_cancel(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "1", NULL};
    api_start(&d, args, NULL);
    char *model = api_create_model(&d, api_model_slow);
    char body[512];
    long_lyapunov(body, sizeof body, model, 10000000);
    char *an = submit(&d, body, 202, NULL);
    wait_analysis_status(&d, an, "running", 60);
    api_pause(0.3);
    char path[160];
    snprintf(path, sizeof path, "/v1/analyses/%s/cancel", an);
    double t0 = api_now();
    api_resp r;
    api_post(&d, path, "", &r);
    assert_true(r.status == 202 || r.status == 200);
    api_resp_free(&r);
    json_t *j = wait_analysis(&d, an, 30);
    double took = api_now() - t0;
    assert_string_equal(api_jstr(j, "status"), "cancelled");
    assert_true(json_is_null(json_object_get(j, "summary")));
    json_decref(j);
    if (took > eir_scaled(2.0)) {
        print_error("the cancelled analysis took %.2f s to stop\n", took);
        fail();
    }
    /* past its wall-clock limit an analysis fails, saying so; bad job settings are 422s */
    api_resp bad;
    snprintf(body, sizeof body,
             "{\"kind\": \"lyapunov\", \"model_id\": \"%s\", \"steps\": 10000000, "
             "\"time_limit\": 0.5, \"priority\": 3}",
             model);
    char *limited = submit(&d, body, 202, &j);
    assert_true(json_real_value(json_object_get(j, "time_limit")) == 0.5);
    json_decref(j);
    j = wait_analysis(&d, limited, 30);
    assert_string_equal(api_jstr(j, "status"), "failed");
    assert_non_null(strstr(api_jstr(json_object_get(j, "error"), "detail"), "wall-clock limit"));
    json_decref(j);
    free(limited);
    snprintf(body, sizeof body,
             "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"W\", "
             "\"time_limit\": -1}",
             model);
    api_post(&d, "/v1/analyses", body, &bad);
    j = api_expect_problem(&bad, 422);
    assert_string_equal(api_jstr(j, "field"), "/time_limit");
    json_decref(j);
    api_resp_free(&bad);
    snprintf(body, sizeof body,
             "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"W\", "
             "\"priority\": 1.5}",
             model);
    api_post(&d, "/v1/analyses", body, &bad);
    j = api_expect_problem(&bad, 422);
    assert_string_equal(api_jstr(j, "field"), "/priority");
    json_decref(j);
    api_resp_free(&bad);

    /* the worker is free again: a short analysis after it succeeds */
    snprintf(body, sizeof body, "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"W\"}",
             model);
    char *next = submit(&d, body, 202, NULL);
    j = wait_analysis(&d, next, 60);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    json_decref(j);
    free(next);
    free(an);
    free(model);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

static void test_kill9_requeues(void **state)
{
    (void)state;
    API_SKIP_ON_PG("a kill -9'd daemon's runs are requeued at its next start on SQLite; on "
                   "PostgreSQL, where other daemons may hold runs, they come back when their lease "
                   "expires (tests/reliability: the PostgreSQL kill -9 tests)");
    api_daemon d;
    api_init(&d);
    const char *one[] = {"--workers", "1", NULL};
    api_start(&d, one, NULL);
    char *model = api_create_model(&d, api_model_slow);
    char body[512];
    long_lyapunov(body, sizeof body, model, 8000);
    char *an = submit(&d, body, 202, NULL);
    wait_analysis_status(&d, an, "running", 60);
    api_pause(0.5);
    api_kill9(&d);

    api_start(&d, one, NULL);
    assert_true(api_log_count(&d, "\"event\":\"requeued\"") >= 1);
    json_t *j = wait_analysis(&d, an, 300);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 2);
    json_decref(j);

    /* the same analysis, uninterrupted: the same bytes */
    char *again = submit(&d, body, 202, NULL);
    j = wait_analysis(&d, again, 300);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 1);
    json_decref(j);
    static const char *const names[] = {"exponents", "trace", "trace_time"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t la, lb;
        char *a = result_bytes(&d, an, names[i], &la);
        char *b = result_bytes(&d, again, names[i], &lb);
        if (la != lb || memcmp(a, b, la)) {
            print_error("result %s differs after the crash\n", names[i]);
            fail();
        }
        free(a);
        free(b);
    }
    free(again);
    free(an);
    free(model);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

/** A queued analysis: its results are a 409, a cancel ends it at once (200), then it may go. */
static void test_queued_cancel(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *none[] = {"--workers", "0", NULL};
    api_start(&d, none, NULL);
    char *model = api_create_model(&d, api_model_small);
    char body[256], path[200];
    snprintf(body, sizeof body, "{\"kind\": \"spectrum\", \"model_id\": \"%s\", \"of\": \"M\"}",
             model);
    char *an = submit(&d, body, 202, NULL);
    snprintf(path, sizeof path, "/v1/analyses/%s/results/eigenvalues", an);
    expect_status(&d, "GET", path, 409);
    snprintf(path, sizeof path, "/v1/analyses/%s", an);
    expect_status(&d, "DELETE", path, 409);
    snprintf(path, sizeof path, "/v1/analyses/%s/cancel", an);
    api_resp r;
    api_post(&d, path, "", &r);
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), "cancelled");
    assert_true(json_is_object(json_object_get(j, "results")));
    assert_int_equal(json_object_size(json_object_get(j, "results")), 0);
    json_decref(j);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/analyses/%s", an);
    expect_status(&d, "DELETE", path, 204);
    snprintf(path, sizeof path, "/v1/models/%s", model);
    expect_status(&d, "DELETE", path, 204);
    free(an);
    free(model);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

/** SIGTERM without a grace gives a running analysis back to the queue, the attempt not
 *  counted; a restart completes it. */
static void test_sigterm_releases(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "1", "--shutdown-grace", "0", NULL};
    api_start(&d, args, NULL);
    char *model = api_create_model(&d, api_model_slow);
    char body[512];
    long_lyapunov(body, sizeof body, model, 8000);
    char *an = submit(&d, body, 202, NULL);
    wait_analysis_status(&d, an, "running", 60);
    api_pause(0.3);
    double t0 = api_now();
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    assert_true(api_now() - t0 < eir_scaled(5));
    assert_int_equal(api_log_count(&d, "\"event\":\"run_released\""), 1);

    const char *none[] = {"--workers", "0", NULL};
    api_start(&d, none, NULL);
    char path[160];
    snprintf(path, sizeof path, "/v1/analyses/%s", an);
    api_resp r;
    api_get(&d, path, &r);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), "queued");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 0);
    json_decref(j);
    api_resp_free(&r);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);

    const char *one[] = {"--workers", "1", NULL};
    api_start(&d, one, NULL);
    j = wait_analysis(&d, an, 300);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 1);
    json_decref(j);
    free(an);
    free(model);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),     cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_cancel),        cmocka_unit_test(test_kill9_requeues),
        cmocka_unit_test(test_queued_cancel), cmocka_unit_test(test_sigterm_releases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
