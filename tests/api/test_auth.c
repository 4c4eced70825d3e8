/**
 * @file test_auth.c
 * @brief eirnnd API: the optional bearer token. With a token every /v1 route (and /metrics)
 *        answers 401 with WWW-Authenticate without it or with a wrong one, /healthz stays open,
 *        and the right token works; without a token nothing asks for one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"

#define TOKEN "s3cret-t0ken-for-tests"

static const struct {
    const char *method, *path;
} routes[] = {
    {"GET", "/v1/openapi.json"},
    {"POST", "/v1/models"},
    {"GET", "/v1/models"},
    {"GET", "/v1/models/m_000000000000000000000000"},
    {"DELETE", "/v1/models/m_000000000000000000000000"},
    {"POST", "/v1/runs"},
    {"GET", "/v1/runs"},
    {"GET", "/v1/runs/r_000000000000000000000000"},
    {"GET", "/v1/runs/r_000000000000000000000000?wait=5"},
    {"DELETE", "/v1/runs/r_000000000000000000000000"},
    {"POST", "/v1/runs/r_000000000000000000000000/cancel"},
    {"GET", "/v1/runs/r_000000000000000000000000/results"},
    {"GET", "/v1/runs/r_000000000000000000000000/results/V"},
    {"GET", "/v1/unknown"},
    {"PUT", "/v1/models"},
    {"GET", "/metrics"},
};

static void expect_401(api_daemon *d, const char *method, const char *path, const char *auth,
                       int invalid)
{
    const char *hdr[] = {auth, NULL};
    api_resp r;
    api_req(d, method, path, auth ? hdr : NULL, "{}", 2, &r);
    json_decref(api_expect_problem(&r, 401));
    char www[128];
    if (!api_header(&r, "WWW-Authenticate", www, sizeof www)) {
        print_error("%s %s: no WWW-Authenticate\n", method, path);
        fail();
    }
    assert_true(strncmp(www, "Bearer", 6) == 0);
    if (invalid) assert_non_null(strstr(www, "invalid_token"));
    api_resp_free(&r);
}

static void test_token_required(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--token", TOKEN, "--workers", "1", NULL};
    api_start(&d, args, NULL);
    const char *wrong[] = {"Authorization: Bearer wrong",
                           "Authorization: Bearer " TOKEN "x",
                           "Authorization: Bearer s3cret-t0ken-for-test",
                           "Authorization: Basic czNjcmV0",
                           "Authorization: " TOKEN,
                           "Authorization: Bearer",
                           NULL};
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        expect_401(&d, routes[i].method, routes[i].path, NULL, 0);
        for (const char **w = wrong; *w; w++)
            expect_401(&d, routes[i].method, routes[i].path, *w, 1);
    }
    /* /healthz is open. */
    api_resp r;
    api_get(&d, "/healthz", &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    /* The right token opens every route (which then answers on its merits). */
    const char *ok[] = {"Authorization: Bearer " TOKEN, NULL};
    const char *ok2[] = {"authorization: bearer   " TOKEN "  ", NULL};
    api_req(&d, "POST", "/v1/models", ok, api_model_small, strlen(api_model_small), &r);
    assert_int_equal(r.status, 201);
    api_resp_free(&r);
    api_req(&d, "GET", "/v1/models", ok2, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    api_req(&d, "GET", "/metrics", ok, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    api_req(&d, "GET", "/v1/openapi.json", ok, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    api_req(&d, "GET", "/v1/unknown", ok, NULL, 0, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    api_req(&d, "GET", "/v1/runs/r_000000000000000000000000", ok, NULL, 0, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

static void test_token_from_env(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *env[] = {"EIRNN_TOKEN=" TOKEN, NULL};
    api_start(&d, NULL, env);
    expect_401(&d, "GET", "/v1/models", NULL, 0);
    const char *ok[] = {"Authorization: Bearer " TOKEN, NULL};
    api_resp r;
    api_req(&d, "GET", "/v1/models", ok, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    /* The token never appears in the log. */
    char *log = api_log(&d);
    assert_null(strstr(log, TOKEN));
    free(log);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

static void test_no_token(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "0", NULL};
    api_start(&d, args, NULL);
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        api_resp r;
        api_req(&d, routes[i].method, routes[i].path, NULL, NULL, 0, &r);
        assert_true(r.status != 401);
        api_resp_free(&r);
    }
    const char *any[] = {"Authorization: Bearer whatever", NULL};
    api_resp r;
    api_req(&d, "GET", "/v1/models", any, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_required),
        cmocka_unit_test(test_token_from_env),
        cmocka_unit_test(test_no_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
