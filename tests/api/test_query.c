/**
 * @file test_query.c
 * @brief eirnnd API: every route accepts only the query parameters it declares
 *        (docs/API.md); any other, a typo included, is answered 400 application/problem+json
 *        with "parameter" naming it and a detail that names it and lists what the route accepts.
 *        The token is checked first (401), and the declared parameters still work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"

#define TOKEN "query-token"

static api_daemon D;
static const char *const auth[] = {"Authorization: Bearer " TOKEN, NULL};
static char *model_id, *run_id;

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    const char *args[] = {"--workers", "1", "--token", TOKEN, NULL};
    api_start(&D, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(model_id);
    free(run_id);
    api_stop_clean(&D);
    return 0;
}

/** @p method @p path with the token; fills @p r. */
static void req(const char *method, const char *path, const char *body, api_resp *r)
{
    api_req(&D, method, path, auth, body, body ? strlen(body) : 0, r);
}

/** Assert that @p method @p path is refused 400 naming the query parameter @p name. */
static void refused(const char *method, const char *path, const char *body, const char *name)
{
    api_resp r;
    req(method, path, body, &r);
    if (r.status != 400) fail_msg("%s %s: %ld, expected 400", method, path, r.status);
    json_t *p = api_expect_problem(&r, 400);
    assert_string_equal(json_string_value(json_object_get(p, "type")),
                        "urn:eirnn:problem:bad-parameter");
    assert_string_equal(json_string_value(json_object_get(p, "parameter")), name);
    const char *detail = json_string_value(json_object_get(p, "detail"));
    char quoted[96];
    snprintf(quoted, sizeof quoted, "'%s'", name);
    if (!strstr(detail, quoted))
        fail_msg("%s %s: detail does not name %s: %s", method, path, quoted, detail);
    json_decref(p);
    api_resp_free(&r);
}

/** Assert that @p method @p path answers @p status. */
static void answered(const char *method, const char *path, long status)
{
    api_resp r;
    req(method, path, NULL, &r);
    if (r.status != status) fail_msg("%s %s: %ld, expected %ld", method, path, r.status, status);
    api_resp_free(&r);
}

static void make_resources(void)
{
    if (model_id) return;
    api_resp m;
    req("POST", "/v1/models", api_model_small, &m);
    assert_int_equal(m.status, 201);
    json_t *mj = api_json(&m);
    model_id = strdup(json_string_value(json_object_get(mj, "id")));
    json_decref(mj);
    api_resp_free(&m);
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}, "
             "\"record\": {\"vars\": [\"r\"], \"every\": 1}, \"seed\": 1}",
             model_id);
    api_resp r;
    req("POST", "/v1/runs", doc, &r);
    assert_int_equal(r.status, 202);
    json_t *j = api_json(&r);
    run_id = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    api_resp_free(&r);
    api_resp w;
    char path[128];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof path, "/v1/runs/%s?wait=5", run_id);
        req("GET", path, NULL, &w);
        j = api_json(&w);
        const char *st = json_string_value(json_object_get(j, "status"));
        int done = st && strcmp(st, "succeeded") == 0;
        json_decref(j);
        api_resp_free(&w);
        if (done) return;
    }
    fail_msg("run %s did not succeed", run_id);
}

static void test_unknown_parameters_refused(void **state)
{
    (void)state;
    make_resources();
    char p[256];
    refused("GET", "/healthz?foo=1", NULL, "foo");
    refused("GET", "/metrics?format=json", NULL, "format");
    refused("GET", "/v1/openapi.json?v=2", NULL, "v");
    refused("GET", "/v1/models?include=W", NULL, "include");
    snprintf(p, sizeof p, "/v1/models/%s?include=W", model_id);
    refused("GET", p, NULL, "include");
    refused("GET", "/v1/runs?limit=2&sort=asc", NULL, "sort");
    refused("GET", "/v1/runs?Status=queued", NULL, "Status"); /* names are case-sensitive */
    snprintf(p, sizeof p, "/v1/runs/%s?wiat=30", run_id);
    refused("GET", p, NULL, "wiat");
    snprintf(p, sizeof p, "/v1/runs/%s?wait", run_id); /* known, without a value: passes */
    answered("GET", p, 200);
    snprintf(p, sizeof p, "/v1/runs/%s/results?format=csv", run_id);
    refused("GET", p, NULL, "format");
    snprintf(p, sizeof p, "/v1/runs/%s/results/r?format=csv&trial=0", run_id);
    refused("GET", p, NULL, "trial");
    snprintf(p, sizeof p, "/v1/runs/%s/results/r?foo", run_id);
    answered("HEAD", p, 400); /* no body to name it in */
    /* Percent-encoded names are decoded first. */
    refused("GET", "/v1/models?%69nclude=W", NULL, "include");
    /* Routes with a body, and POSTs that take no parameters. */
    refused("POST", "/v1/models?dry_run=1", api_model_small, "dry_run");
    refused("POST", "/v1/runs?priority=high", "{}", "priority");
    snprintf(p, sizeof p, "/v1/runs/%s/cancel?force=1", run_id);
    refused("POST", p, NULL, "force");
    snprintf(p, sizeof p, "/v1/runs/%s?force=1", run_id);
    refused("DELETE", p, NULL, "force");
    /* Nothing was deleted nor cancelled by the refused requests. */
    snprintf(p, sizeof p, "/v1/runs/%s", run_id);
    answered("GET", p, 200);
}

static void test_detail_lists_accepted(void **state)
{
    (void)state;
    api_resp r;
    req("GET", "/v1/runs?foo=1", NULL, &r);
    json_t *p = api_expect_problem(&r, 400);
    const char *detail = json_string_value(json_object_get(p, "detail"));
    assert_non_null(strstr(detail, "limit, cursor, status, model_id"));
    assert_string_equal(json_string_value(json_object_get(p, "instance")), "/v1/runs");
    json_decref(p);
    api_resp_free(&r);
    req("GET", "/healthz?x=", NULL, &r);
    p = api_expect_problem(&r, 400);
    assert_non_null(strstr(json_string_value(json_object_get(p, "detail")), "accepts: none"));
    json_decref(p);
    api_resp_free(&r);
    /* A name that is not UTF-8 is still answered with valid JSON naming what it can. */
    req("GET", "/v1/runs?%ff%fe=1", NULL, &r);
    json_decref(api_expect_problem(&r, 400));
    api_resp_free(&r);
}

static void test_declared_parameters_accepted(void **state)
{
    (void)state;
    make_resources();
    char p[256];
    answered("GET", "/healthz", 200);
    answered("GET", "/v1/models?limit=1", 200);
    answered("GET", "/v1/runs?limit=1&status=succeeded", 200);
    snprintf(p, sizeof p, "/v1/runs?model_id=%s", model_id);
    answered("GET", p, 200);
    snprintf(p, sizeof p, "/v1/runs/%s?wait=0", run_id);
    answered("GET", p, 200);
    snprintf(p, sizeof p, "/v1/runs/%s/results/r?format=csv&trials=0&steps=0:2&neurons=0,1",
             run_id);
    answered("GET", p, 200);
    /* A trailing '?' carries no parameter. */
    answered("GET", "/v1/models?", 200);
}

static void test_token_checked_first(void **state)
{
    (void)state;
    api_resp r;
    api_get(&D, "/v1/models?include=W", &r);
    json_decref(api_expect_problem(&r, 401));
    api_resp_free(&r);
    /* 404 and 405 come before the parameters too. */
    req("GET", "/v1/nothing?foo=1", NULL, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    req("PUT", "/v1/models?foo=1", NULL, &r);
    json_decref(api_expect_problem(&r, 405));
    api_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_parameters_refused),
        cmocka_unit_test(test_detail_lists_accepted),
        cmocka_unit_test(test_declared_parameters_accepted),
        cmocka_unit_test(test_token_checked_first),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
