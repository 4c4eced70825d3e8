/**
 * @file test_routes.c
 * @brief eirnnd's routing without a live daemon (server/http_internal.h): the route table's
 *        matching with path parameters, 404 versus 405 and the Allow list, HEAD served by GET,
 *        the query parameters each route accepts, and the percent-unescaping of paths and query
 * arguments that keeps "%00".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_internal.h"

typedef struct found {
    const srv_route *route;
    char params[SRV_MAX_PARAMS][SRV_PARAM_MAX];
    char allow[64];
    unsigned error;
} found;

static void find(const char *method, const char *path, found *f)
{
    memset(f, 0, sizeof *f);
    f->route = srv_route_find(method, path, f->params, f->allow, sizeof f->allow, &f->error);
}

static void test_static_routes(void **state)
{
    (void)state;
    found f;
    find("GET", "/healthz", &f);
    assert_non_null(f.route);
    assert_ptr_equal(f.route->handler, h_healthz);
    assert_int_equal(f.route->flags & SRV_ROUTE_AUTH, 0);
    assert_int_equal(f.error, 0);
    assert_string_equal(f.allow, "GET, HEAD");

    find("GET", "/metrics", &f);
    assert_ptr_equal(f.route->handler, h_metrics);
    assert_true(f.route->flags & SRV_ROUTE_AUTH);

    find("POST", "/v1/models", &f);
    assert_ptr_equal(f.route->handler, h_models_create);
    find("GET", "/v1/models", &f);
    assert_ptr_equal(f.route->handler, h_models_list);
    assert_string_equal(f.allow, "POST, GET, HEAD");
    find("GET", "/v1/openapi.json", &f);
    assert_ptr_equal(f.route->handler, h_openapi);
    find("GET", "/v1/changes", &f);
    assert_ptr_equal(f.route->handler, h_changes);
    assert_true(f.route->flags & SRV_ROUTE_AUTH);
}

/* The web page (issue 13): "/" and "/ui/<rest of the path>", without the token, no query. */
static void test_web_routes(void **state)
{
    (void)state;
    found f;
    find("GET", "/", &f);
    assert_ptr_equal(f.route->handler, h_web_index);
    assert_int_equal(f.route->flags & SRV_ROUTE_AUTH, 0);
    assert_string_equal(f.allow, "GET, HEAD");
    assert_false(srv_route_accepts(f.route, "token"));
    find("HEAD", "/ui/js/views/run.js", &f);
    assert_ptr_equal(f.route->handler, h_web_asset);
    assert_int_equal(f.route->flags & SRV_ROUTE_AUTH, 0);
    assert_string_equal(f.params[0], "js/views/run.js");
    assert_false(srv_route_accepts(f.route, "v"));
    find("GET", "/ui/../etc/passwd", &f); /* matched, then looked up in the table: 404 */
    assert_string_equal(f.params[0], "../etc/passwd");
    find("DELETE", "/ui/app.css", &f);
    assert_int_equal(f.error, 405);
    assert_string_equal(f.allow, "GET, HEAD");
}

static void test_path_parameters(void **state)
{
    (void)state;
    found f;
    find("GET", "/v1/runs/r_0123456789abcdef01234567", &f);
    assert_ptr_equal(f.route->handler, h_runs_get);
    assert_string_equal(f.params[0], "r_0123456789abcdef01234567");
    assert_string_equal(f.allow, "GET, HEAD, DELETE");

    find("DELETE", "/v1/models/m_1", &f);
    assert_ptr_equal(f.route->handler, h_models_delete);
    assert_string_equal(f.params[0], "m_1");

    find("POST", "/v1/runs/r_1/cancel", &f);
    assert_ptr_equal(f.route->handler, h_runs_cancel);
    assert_string_equal(f.params[0], "r_1");

    find("GET", "/v1/runs/r_9/results", &f);
    assert_ptr_equal(f.route->handler, h_results_list);
    find("GET", "/v1/runs/r_9/results/rE", &f);
    assert_ptr_equal(f.route->handler, h_results_get);
    assert_string_equal(f.params[0], "r_9");
    assert_string_equal(f.params[1], "rE");
}

static void test_head_is_get(void **state)
{
    (void)state;
    found f;
    find("HEAD", "/v1/runs", &f);
    assert_ptr_equal(f.route->handler, h_runs_list);
    find("HEAD", "/v1/runs/r_1/results/x", &f);
    assert_ptr_equal(f.route->handler, h_results_get);
    /* No GET route on the path: no HEAD either. */
    find("HEAD", "/v1/runs/r_1/cancel", &f);
    assert_null(f.route);
    assert_int_equal(f.error, 405);
}

static void test_not_found_and_not_allowed(void **state)
{
    (void)state;
    found f;
    static const char *const missing[] = {
        "/ui", /* "/" is the web page (issue 13): test_web_routes */
        "/ui/",
        "/UI/app.css",
        "//ui/app.css",
        "/v1",
        "/v1/",
        "/healthz/",
        "/healthzz",
        "/v1/runs/",
        "/v1/runs//x",
        "/v1/runs/a/b",
        "/v1/runs/a/cancel/",
        "/v1/models/",
        "/V1/runs",
        "/v1/runs/a/results/",
        "/v1/runs/a/results/b/c",
    };
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        find("GET", missing[i], &f);
        if (f.route) fail_msg("%s matched %s", missing[i], f.route->pattern);
        assert_int_equal(f.error, 404);
        assert_string_equal(f.allow, "");
    }
    find("PUT", "/v1/runs", &f);
    assert_null(f.route);
    assert_int_equal(f.error, 405);
    assert_string_equal(f.allow, "POST, GET, HEAD");
    find("POST", "/v1/runs/r_1", &f);
    assert_int_equal(f.error, 405);
    assert_string_equal(f.allow, "GET, HEAD, DELETE");
    find("GET", "/v1/runs/r_1/cancel", &f);
    assert_int_equal(f.error, 405);
    assert_string_equal(f.allow, "POST");
    /* Methods are case-sensitive (RFC 9110 9.1). */
    find("get", "/healthz", &f);
    assert_int_equal(f.error, 405);
}

static void test_parameter_length(void **state)
{
    (void)state;
    char path[256], id[SRV_PARAM_MAX + 1];
    memset(id, 'a', sizeof id);
    id[SRV_PARAM_MAX - 1] = '\0'; /* the longest kept: SRV_PARAM_MAX - 1 bytes */
    snprintf(path, sizeof path, "/v1/runs/%s", id);
    found f;
    find("GET", path, &f);
    assert_non_null(f.route);
    assert_string_equal(f.params[0], id);
    id[SRV_PARAM_MAX - 1] = 'a';
    id[SRV_PARAM_MAX] = '\0'; /* one more: cannot be an id, so no route */
    snprintf(path, sizeof path, "/v1/runs/%s", id);
    find("GET", path, &f);
    assert_null(f.route);
    assert_int_equal(f.error, 404);
}

static void test_match(void **state)
{
    (void)state;
    char p[SRV_MAX_PARAMS][SRV_PARAM_MAX];
    assert_true(srv_route_match("/a/{x}/b/{y}", "/a/1/b/2", p));
    assert_string_equal(p[0], "1");
    assert_string_equal(p[1], "2");
    assert_false(srv_route_match("/a/{x}/b/{y}", "/a/1/b/", p));
    assert_false(srv_route_match("/a/{x}/b/{y}", "/a/1/b", p));
    assert_false(srv_route_match("/a/{x}", "/a/1/", p));
    assert_false(srv_route_match("/a", "/a/", p));
    assert_false(srv_route_match("/a/", "/a", p));
    assert_true(srv_route_match("/a", "/a", p));
    /* A segment takes every byte up to the next '/', escapes and dots included. */
    assert_true(srv_route_match("/a/{x}", "/a/..%2e", p));
    assert_string_equal(p[0], "..%2e");
    /* "{*}" takes the rest of the path, slashes included, never nothing. */
    assert_true(srv_route_match("/a/{*}", "/a/b/c.js", p));
    assert_string_equal(p[0], "b/c.js");
    assert_true(srv_route_match("/a/{*}", "/a//", p));
    assert_string_equal(p[0], "/");
    assert_false(srv_route_match("/a/{*}", "/a/", p));
    assert_false(srv_route_match("/a/{*}", "/a", p));
    assert_false(srv_route_match("/a/{*}", "/b/c", p));
    char longer[SRV_PARAM_MAX + 8];
    memset(longer, 'x', sizeof longer);
    memcpy(longer, "/a/", 3);
    longer[3 + SRV_PARAM_MAX - 1] = '\0'; /* the longest kept */
    assert_true(srv_route_match("/a/{*}", longer, p));
    longer[3 + SRV_PARAM_MAX - 1] = 'x';
    longer[3 + SRV_PARAM_MAX] = '\0';
    assert_false(srv_route_match("/a/{*}", longer, p));
}

static void test_query_parameters(void **state)
{
    (void)state;
    found f;
    char list[128];
    find("GET", "/v1/runs", &f);
    assert_true(srv_route_accepts(f.route, "limit"));
    assert_true(srv_route_accepts(f.route, "cursor"));
    assert_true(srv_route_accepts(f.route, "status"));
    assert_true(srv_route_accepts(f.route, "model_id"));
    assert_true(srv_route_accepts(f.route, "sweep_id"));
    assert_true(srv_route_accepts(f.route, "label"));
    assert_false(srv_route_accepts(f.route, "wait"));
    assert_false(srv_route_accepts(f.route, "Limit"));
    assert_false(srv_route_accepts(f.route, ""));
    srv_route_query_list(f.route, list, sizeof list);
    assert_string_equal(list, "limit, cursor, status, model_id, sweep_id, label");
    find("POST", "/v1/runs", &f);
    assert_false(srv_route_accepts(f.route, "limit"));
    srv_route_query_list(f.route, list, sizeof list);
    assert_string_equal(list, "none");
    find("HEAD", "/v1/runs/r_1", &f);
    assert_true(srv_route_accepts(f.route, "wait"));
    assert_true(srv_route_accepts(f.route, "progress"));
    find("GET", "/v1/analyses/a_1", &f);
    assert_true(srv_route_accepts(f.route, "progress"));
    find("GET", "/v1/sweeps/s_1", &f);
    assert_false(srv_route_accepts(f.route, "progress"));
    find("GET", "/v1/changes", &f);
    srv_route_query_list(f.route, list, sizeof list);
    assert_string_equal(list, "after, wait");
    assert_false(srv_route_accepts(f.route, "include"));
    find("GET", "/v1/runs/r_1/results/V", &f);
    srv_route_query_list(f.route, list, sizeof list);
    assert_string_equal(list, "format, trials, steps, neurons");
    find("GET", "/v1/models", &f);
    srv_route_query_list(f.route, list, sizeof list);
    assert_string_equal(list, "limit, cursor, label");
    static const char *const bare[] = {"/healthz", "/metrics", "/v1/openapi.json", "/v1/models/m_1",
                                       "/v1/runs/r_1/results"};
    for (size_t i = 0; i < sizeof bare / sizeof *bare; i++) {
        find("GET", bare[i], &f);
        assert_false(srv_route_accepts(f.route, "include"));
        assert_false(srv_route_accepts(f.route, "limit"));
    }
}

static void unescaped(const char *in, const char *want)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", in);
    size_t n = srv_unescape_keep_nul(buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_unescape(void **state)
{
    (void)state;
    unescaped("", "");
    unescaped("plain", "plain");
    unescaped("a%20b", "a b");
    unescaped("%41%42%43", "ABC");
    unescaped("%2F%2f", "//");
    unescaped("%e2%82%AC", "\xe2\x82\xac");
    unescaped("+", "+"); /* '+' is not a space in a path or in libmicrohttpd's arguments */
    /* "%00" is kept, so that a decoded NUL cannot cut an id ("r_x%00junk" is not "r_x"). */
    unescaped("r_x%00junk", "r_x%00junk");
    unescaped("%00%41", "%00A");
    /* Malformed escapes are kept as they are. */
    unescaped("%", "%");
    unescaped("%4", "%4");
    unescaped("a%zz", "a%zz");
    unescaped("%g1%1g", "%g1%1g");
    unescaped("%%41", "%A");
    unescaped("100%", "100%");
    /* Decoding happens once: "%2541" is "%41", not "A". */
    unescaped("%2541", "%41");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_routes),
        cmocka_unit_test(test_web_routes),
        cmocka_unit_test(test_path_parameters),
        cmocka_unit_test(test_head_is_get),
        cmocka_unit_test(test_not_found_and_not_allowed),
        cmocka_unit_test(test_parameter_length),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_query_parameters),
        cmocka_unit_test(test_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
