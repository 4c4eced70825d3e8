/**
 * @file test_basic.c
 * @brief eirnnd API: meta endpoints, routing errors (404, 405 + Allow), models (create, get,
 *        list with cursor pagination and Link, delete), every input error as problem+json with
 *        a JSON pointer, and body limits (413 before the body is read; chunked bodies too).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_harness.h"

static api_daemon D;

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    /* --max-neurons: its default depends on the machine's memory */
    const char *args[] = {"--workers", "1", "--max-body-bytes", "64K", "--max-neurons",
                          "4096",      NULL};
    api_start(&D, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    api_stop_clean(&D);
    return 0;
}

static void test_healthz(void **state)
{
    (void)state;
    api_resp r;
    api_get(&D, "/healthz", &r);
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "db")), "ok");
    assert_true(json_is_integer(json_object_get(j, "queue_depth")));
    json_decref(j);
    api_resp_free(&r);
}

static void test_metrics(void **state)
{
    (void)state;
    api_resp r;
    api_get(&D, "/healthz", &r); /* at least one request counted */
    api_resp_free(&r);
    /* A request is counted when it is complete, after its answer went out: the count may lag
     * behind the answer a moment (5 s, scaled, at most). */
    double deadline = api_now() + eir_scaled(5);
    for (;;) {
        api_get(&D, "/metrics", &r);
        assert_int_equal(r.status, 200);
        if (strstr(r.body, "eirnn_http_requests_total{code=\"200\"}") || api_now() > deadline)
            break;
        api_resp_free(&r);
        usleep(10000);
    }
    char ct[128];
    assert_non_null(api_header(&r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "text/plain"));
    const char *must[] = {"eirnn_queue_depth ",
                          "eirnn_runs{status=\"queued\"}",
                          "eirnn_runs{status=\"succeeded\"}",
                          "eirnn_http_requests_total{code=\"200\"}",
                          "eirnn_http_request_duration_seconds_bucket{le=\"+Inf\"}",
                          "eirnn_http_request_duration_seconds_count",
                          "eirnn_run_duration_seconds_bucket",
                          "eirnn_http_requests_in_flight",
                          "eirnn_http_body_buffer_bytes 0",
                          "# TYPE eirnn_http_request_duration_seconds histogram",
                          NULL};
    for (const char **m = must; *m; m++)
        if (!strstr(r.body, *m)) {
            print_error("metrics lack '%s':\n%s\n", *m, r.body);
            fail();
        }
    api_resp_free(&r);
}

static void test_openapi(void **state)
{
    (void)state;
    api_resp r;
    api_get(&D, "/v1/openapi.json", &r);
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    const char *v = json_string_value(json_object_get(j, "openapi"));
    assert_non_null(v);
    assert_true(strncmp(v, "3.", 2) == 0);
    assert_true(json_is_object(json_object_get(j, "paths")));
    json_decref(j);
    api_resp_free(&r);
}

static void test_not_found(void **state)
{
    (void)state;
    /* "/" is the web page (issue 13; api/web checks it); "/ui" and "/ui/" name no file. */
    const char *paths[] = {"/ui",
                           "/ui/",
                           "/ui/nope.js",
                           "/nope",
                           "/v1",
                           "/v1/",
                           "/v1/models/",
                           "/v1/runs/x/y/z",
                           "/v1/runs/r_0123/results/V/extra",
                           NULL};
    for (const char **p = paths; *p; p++) {
        api_resp r;
        api_get(&D, *p, &r);
        json_t *j = api_expect_problem(&r, 404);
        assert_string_equal(json_string_value(json_object_get(j, "instance")), *p);
        json_decref(j);
        api_resp_free(&r);
    }
    /* Unknown ids. */
    const char *ids[] = {"/v1/models/m_000000000000000000000000",
                         "/v1/runs/r_000000000000000000000000",
                         "/v1/runs/r_000000000000000000000000/results",
                         "/v1/runs/r_000000000000000000000000/results/V",
                         "/v1/models/garbage",
                         NULL};
    for (const char **p = ids; *p; p++) {
        api_resp r;
        api_get(&D, *p, &r);
        json_decref(api_expect_problem(&r, 404));
        api_resp_free(&r);
    }
    api_resp r;
    api_delete(&D, "/v1/models/m_000000000000000000000000", &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    api_delete(&D, "/v1/runs/r_000000000000000000000000", &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    api_post(&D, "/v1/runs/r_000000000000000000000000/cancel", "", &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"PUT", "/v1/models", "POST, GET, HEAD"},
        {"DELETE", "/v1/models", "POST, GET, HEAD"},
        {"POST", "/v1/models/m_000000000000000000000000", "GET, HEAD, DELETE"},
        {"PATCH", "/v1/runs", "POST, GET, HEAD"},
        {"PUT", "/v1/runs/r_000000000000000000000000", "GET, HEAD, DELETE"},
        {"GET", "/v1/runs/r_000000000000000000000000/cancel", "POST"},
        {"POST", "/v1/runs/r_000000000000000000000000/results", "GET, HEAD"},
        {"DELETE", "/v1/runs/r_000000000000000000000000/results/V", "GET, HEAD"},
        {"POST", "/healthz", "GET, HEAD"},
        {"POST", "/metrics", "GET, HEAD"},
        {"DELETE", "/v1/openapi.json", "GET, HEAD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        api_resp r;
        api_req(&D, cases[i].method, cases[i].path, NULL, NULL, 0, &r);
        json_decref(api_expect_problem(&r, 405));
        char allow[64];
        assert_non_null(api_header(&r, "Allow", allow, sizeof allow));
        assert_string_equal(allow, cases[i].allow);
        api_resp_free(&r);
    }
    /* A 405 with a body is answered without reading it. */
    api_resp r;
    api_req(&D, "PUT", "/v1/models", NULL, "{}", 2, &r);
    json_decref(api_expect_problem(&r, 405));
    api_resp_free(&r);
}

static void test_head(void **state)
{
    (void)state;
    api_resp r;
    api_req(&D, "HEAD", "/healthz", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    api_resp_free(&r);
}

static void test_models_crud(void **state)
{
    (void)state;
    api_resp r;
    api_post(&D, "/v1/models", api_model_small, &r);
    assert_int_equal(r.status, 201);
    json_t *j = api_json(&r);
    const char *id = json_string_value(json_object_get(j, "id"));
    assert_non_null(id);
    assert_true(strncmp(id, "m_", 2) == 0);
    char loc[128], want[128];
    snprintf(want, sizeof want, "/v1/models/%s", id);
    assert_non_null(api_header(&r, "Location", loc, sizeof loc));
    assert_string_equal(loc, want);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "small");
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 10);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "hash"))), 64);
    char *mid = strdup(id);
    char hash[65];
    snprintf(hash, sizeof hash, "%s", json_string_value(json_object_get(j, "hash")));
    json_decref(j);
    api_resp_free(&r);

    /* GET returns the document as it was submitted. */
    api_get(&D, want, &r);
    assert_int_equal(r.status, 200);
    j = api_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), mid);
    assert_string_equal(json_string_value(json_object_get(j, "hash")), hash);
    json_t *doc = json_loads(api_model_small, 0, NULL);
    assert_true(json_equal(json_object_get(j, "model"), doc));
    json_decref(doc);
    json_decref(j);
    api_resp_free(&r);

    /* The same model in another JSON form hashes the same (the engine's canonical hash). */
    json_t *m2 = json_loads(api_model_small, 0, NULL);
    json_object_set_new(m2, "name", json_string("renamed"));
    char *s2 = json_dumps(m2, JSON_INDENT(2));
    json_decref(m2);
    api_post(&D, "/v1/models", s2, &r);
    free(s2);
    assert_int_equal(r.status, 201);
    j = api_json(&r);
    assert_string_not_equal(json_string_value(json_object_get(j, "id")), mid);
    char *mid2 = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    api_resp_free(&r);

    /* DELETE: 204, then 404. */
    api_delete(&D, want, &r);
    assert_int_equal(r.status, 204);
    api_resp_free(&r);
    api_get(&D, want, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    api_delete(&D, want, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    snprintf(want, sizeof want, "/v1/models/%s", mid2);
    api_delete(&D, want, &r);
    assert_int_equal(r.status, 204);
    api_resp_free(&r);
    free(mid);
    free(mid2);
}

/** Follow Link rel="next" from @p first; returns the ids seen, in order, as one string. */
static void collect_pages(const char *first, int expect_pages, char *ids, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", first);
    ids[0] = '\0';
    int pages = 0;
    for (;;) {
        api_resp r;
        api_get(&D, path, &r);
        assert_int_equal(r.status, 200);
        json_t *j = api_json(&r);
        json_t *items = json_object_get(j, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            strncat(ids, json_string_value(json_object_get(it, "id")), cap - strlen(ids) - 2);
            strncat(ids, " ", cap - strlen(ids) - 1);
        }
        pages++;
        char link[1024];
        const char *lh = api_header(&r, "Link", link, sizeof link);
        json_t *nc = json_object_get(j, "next_cursor");
        if (!lh) {
            assert_true(json_is_null(nc));
            json_decref(j);
            api_resp_free(&r);
            break;
        }
        assert_true(json_is_string(nc));
        assert_non_null(strstr(link, "rel=\"next\""));
        assert_true(link[0] == '<');
        char *end = strchr(link, '>');
        assert_non_null(end);
        *end = '\0';
        snprintf(path, sizeof path, "%s", link + 1);
        json_decref(j);
        api_resp_free(&r);
    }
    assert_int_equal(pages, expect_pages);
}

static void test_models_pagination(void **state)
{
    (void)state;
    char *ids[7];
    for (int i = 0; i < 7; i++)
        ids[i] = api_create_model(&D, api_model_small);
    char seen[4096];
    collect_pages("/v1/models?limit=3", 3, seen, sizeof seen);
    /* Newest first, each once. */
    char want[4096] = "";
    for (int i = 6; i >= 0; i--) {
        strcat(want, ids[i]);
        strcat(want, " ");
    }
    assert_string_equal(seen, want);
    collect_pages("/v1/models?limit=7", 1, seen, sizeof seen);
    assert_string_equal(seen, want);
    /* Bad paging parameters. */
    const char *bad[] = {"/v1/models?limit=0",           "/v1/models?limit=abc",
                         "/v1/models?limit=1001",        "/v1/models?cursor=%%%zz",
                         "/v1/models?cursor=notacursor", NULL};
    for (const char **b = bad; *b; b++) {
        api_resp r;
        api_get(&D, *b, &r);
        json_t *p = api_expect_problem(&r, 400);
        assert_non_null(json_string_value(json_object_get(p, "parameter")));
        json_decref(p);
        api_resp_free(&r);
    }
    for (int i = 0; i < 7; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/models/%s", ids[i]);
        api_resp r;
        api_delete(&D, path, &r);
        assert_int_equal(r.status, 204);
        api_resp_free(&r);
        free(ids[i]);
    }
}

/** POST @p body to @p path and check the problem's status, field and a detail fragment. */
static void expect_invalid(const char *path, const char *body, long status, const char *field,
                           const char *detail_part)
{
    api_resp r;
    api_post(&D, path, body, &r);
    json_t *p = api_expect_problem(&r, status);
    const char *f = json_string_value(json_object_get(p, "field"));
    if (field) {
        if (!f || strcmp(f, field) != 0) {
            print_error("%s: expected field %s, got %s (%s)\n", body, field, f ? f : "none",
                        r.body);
            fail();
        }
    }
    if (detail_part && !strstr(json_string_value(json_object_get(p, "detail")), detail_part)) {
        print_error("detail lacks '%s': %s\n", detail_part, r.body);
        fail();
    }
    json_decref(p);
    api_resp_free(&r);
}

static void test_model_errors(void **state)
{
    (void)state;
    /* Malformed JSON: 400. */
    expect_invalid("/v1/models", "{\"name\": ", 400, NULL, "line 1");
    expect_invalid("/v1/models", "", 400, NULL, NULL);
    expect_invalid("/v1/models", "{\"a\":1,\"a\":2}", 400, NULL, NULL);
    /* Not an object, unknown fields, wrong types, shape mismatches: 422 with a pointer. */
    expect_invalid("/v1/models", "[1,2]", 422, "", NULL);
    json_t *m = json_loads(api_model_small, 0, NULL);
    json_object_set_new(m, "colour", json_string("blue"));
    char *s = json_dumps(m, 0);
    expect_invalid("/v1/models", s, 422, "/colour", "colour");
    free(s);
    json_object_del(m, "colour");
    json_object_set_new(m, "leak", json_string("one"));
    s = json_dumps(m, 0);
    expect_invalid("/v1/models", s, 422, "/leak", NULL);
    free(s);
    json_object_set_new(m, "leak", json_real(1.0));
    json_object_set_new(json_object_get(m, "input"), "P", json_loads("[[1,2],[3,4]]", 0, NULL));
    s = json_dumps(m, 0);
    expect_invalid("/v1/models", s, 422, "/input/P", "[10, 2]");
    free(s);
    json_decref(m);
    /* Engine validation: a negative leak. */
    m = json_loads(api_model_small, 0, NULL);
    json_object_set_new(m, "leak", json_real(-1.0));
    s = json_dumps(m, 0);
    expect_invalid("/v1/models", s, 422, "/leak", NULL);
    free(s);
    json_decref(m);
    /* Over the server's neuron limit (--max-neurons 4096). */
    expect_invalid("/v1/models",
                   "{\"populations\": {\"E\": 5000, \"I\": 0}, \"n_inputs\": 0, \"leak\": 1, "
                   "\"recurrent\": {\"generate\": {\"seed\": 1}, \"A\": 1}}",
                   422, "/populations/E", "4096");
}

/** Read an HTTP answer from a raw socket until the headers are in or 5 s (scaled) passed. */
static void raw_exchange(const char *request, char *answer, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)D.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t n = 0;
    double deadline = api_now() + eir_scaled(5);
    while (n + 1 < cap && api_now() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t k = read(fd, answer + n, cap - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        answer[n] = '\0';
        if (strstr(answer, "\r\n\r\n") && strstr(answer, "}")) break;
    }
    answer[n] = '\0';
    close(fd);
}

static void test_body_too_large(void **state)
{
    (void)state;
    /* Content-Length over the limit: 413 at once, without sending a byte of the body (the
     * body never comes: a server that waited for it would time out instead). */
    char answer[4096];
    raw_exchange("POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000000000\r\n\r\n",
                 answer, sizeof answer);
    assert_true(strncmp(answer, "HTTP/1.1 413", 12) == 0);
    assert_non_null(strstr(answer, "application/problem+json"));
    /* With Expect: 100-continue the client is told 413 instead of 100. */
    raw_exchange("POST /v1/models HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Length: 70000\r\n\r\n",
                 answer, sizeof answer);
    assert_true(strncmp(answer, "HTTP/1.1 413", 12) == 0);
    /* Just under the limit is read (and then judged on its content). */
    size_t n = 60000;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = '\0';
    api_resp r;
    api_post(&D, "/v1/models", big, &r);
    json_decref(api_expect_problem(&r, 422));
    api_resp_free(&r);
    free(big);
    /* Over the limit through libcurl: 413 problem. */
    n = 70000;
    big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    api_post(&D, "/v1/runs", big, &r);
    json_decref(api_expect_problem(&r, 413));
    api_resp_free(&r);
    /* A chunked body that grows past the limit. */
    const char *hdr[] = {"Transfer-Encoding: chunked", NULL};
    api_req(&D, "POST", "/v1/models", hdr, big, n, &r);
    json_decref(api_expect_problem(&r, 413));
    api_resp_free(&r);
    free(big);
    /* The daemon is fine afterwards. */
    api_get(&D, "/healthz", &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
}

static void test_request_log(void **state)
{
    (void)state;
    api_resp r;
    api_get(&D, "/healthz", &r);
    api_resp_free(&r);
    /* One JSON line per request: method, path, status, duration_ms, bytes. */
    double deadline = api_now() + eir_scaled(5);
    while (api_log_count(&D, "\"path\":\"/healthz\"") == 0 && api_now() < deadline)
        usleep(10000);
    char *log = api_log(&D);
    char *line = strstr(log, "\"event\":\"request\",\"method\":\"GET\",\"path\":\"/healthz\"");
    assert_non_null(line);
    char *bol = line;
    while (bol > log && bol[-1] != '\n')
        bol--;
    char *eol = strchr(bol, '\n');
    assert_non_null(eol);
    json_t *j = json_loadb(bol, (size_t)(eol - bol), 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
    assert_true(json_is_number(json_object_get(j, "duration_ms")));
    assert_true(json_integer_value(json_object_get(j, "bytes")) > 0);
    assert_non_null(json_string_value(json_object_get(j, "ts")));
    json_decref(j);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_openapi),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_models_crud),
        cmocka_unit_test(test_models_pagination),
        cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_request_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
