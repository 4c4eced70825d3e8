/**
 * @file test_seeds.c
 * @brief eirnnd API: seeds at the edge of their range (issue 10, item 9). A run's seed and the
 *        seeds of the generate recipes (model documents and inline models) accept 0 .. 2^63-1;
 *        anything else, integer literals beyond 64 bits included (which the JSON parser used to
 *        refuse as malformed JSON, naming no field), is a 422 problem naming the seed's JSON
 *        pointer and giving the range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"

static api_daemon D; /* no workers: accepted runs stay queued */
static char *model_id;

/* Out of range or not an integer, as written in the request body. */
static const char *const bad_seeds[] = {
    "9223372036854775808",  /* 2^63 */
    "18446744073709551616", /* 2^64 */
    "9.3e18",
    "1e19",
    "-1",
    "1.5",
    "\"7\"",
};
#define N_BAD (sizeof bad_seeds / sizeof bad_seeds[0])

/* A model whose recurrent and input matrices are generated, seeds given as text. */
static char *model_doc(const char *rec_seed, const char *in_seed)
{
    char *s = malloc(1024);
    assert_non_null(s);
    snprintf(s, 1024,
             "{\"class\": \"gated\", \"populations\": {\"E\": 10, \"I\": 2}, \"n_inputs\": 1,"
             " \"activation\": {\"name\": \"relu\"}, \"leak\": 1.0,"
             " \"recurrent\": {\"generate\": {\"seed\": %s, \"p\": 0.5, \"mean\": 0.1}, \"A\": 1},"
             " \"input\": {\"generate\": {\"seed\": %s, \"p\": 1, \"dist\": \"constant\","
             " \"mean\": 0.5}}, \"noise\": {\"sigma\": 0.2}}",
             rec_seed, in_seed);
    return s;
}

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    const char *args[] = {"--workers", "0", NULL};
    api_start(&D, args, NULL);
    char *m = model_doc("3", "4");
    model_id = api_create_model(&D, m);
    free(m);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(model_id);
    int rc = api_stop(&D, SIGTERM, 30);
    api_cleanup(&D);
    assert_int_equal(rc, 0);
    return 0;
}

/* POST @p body to @p path; expect 422 invalid-document naming @p field with the seed range. */
static void expect_seed_problem(const char *path, const char *body, const char *field)
{
    api_resp r;
    api_post(&D, path, body, &r);
    if (r.status != 422) print_error("%s -> %ld: %s\n", body, r.status, r.body);
    json_t *p = api_expect_problem(&r, 422);
    const char *f = json_string_value(json_object_get(p, "field"));
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    if (!f || strcmp(f, field) || !type || !strstr(type, "invalid-document") || !detail ||
        !strstr(detail, "from 0 to 2^63-1 (9223372036854775807)")) {
        print_error("%s: expected field %s and the seed range: %s\n", body, field, r.body);
        fail();
    }
    json_decref(p);
    api_resp_free(&r);
}

static void test_run_seed(void **state)
{
    (void)state;
    char body[512];
    for (size_t i = 0; i < N_BAD; i++) {
        snprintf(body, sizeof body,
                 "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1},"
                 " \"seed\": %s}",
                 model_id, bad_seeds[i]);
        expect_seed_problem("/v1/runs", body, "/seed");
    }
    /* The largest seed is accepted and kept exactly. */
    snprintf(body, sizeof body,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1},"
             " \"seed\": 9223372036854775807}",
             model_id);
    char *id = api_submit_run(&D, body);
    free(id);
}

static void test_recipe_seeds(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) {
        char *m = model_doc(bad_seeds[i], "4");
        expect_seed_problem("/v1/models", m, "/recurrent/generate/seed");
        free(m);
        m = model_doc("3", bad_seeds[i]);
        expect_seed_problem("/v1/models", m, "/input/generate/seed");
        /* The same recipe inline in a run. */
        size_t cap = strlen(m) + 256;
        char *run = malloc(cap);
        assert_non_null(run);
        snprintf(run, cap,
                 "{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}}", m);
        expect_seed_problem("/v1/runs", run, "/model/input/generate/seed");
        free(run);
        free(m);
    }
    char *m = model_doc("9223372036854775807", "9223372036854775807");
    char *id = api_create_model(&D, m);
    free(id);
    free(m);
}

/* Elsewhere an integer beyond 64 bits is read as the number it is, and judged by its field. */
static void test_big_integer_elsewhere(void **state)
{
    (void)state;
    char body[512];
    snprintf(body, sizeof body,
             "{\"model_id\": \"%s\", \"dt\": 0.1, \"inputs\": {\"steps\": 100000000000000000000,"
             " \"trials\": 1}}",
             model_id);
    api_resp r;
    api_post(&D, "/v1/runs", body, &r);
    json_t *p = api_expect_problem(&r, 422);
    assert_string_equal(json_string_value(json_object_get(p, "field")), "/inputs/steps");
    json_decref(p);
    api_resp_free(&r);
    /* Too large even for a double: still malformed JSON. */
    api_post(&D, "/v1/runs", "{\"seed\": 1e400}", &r);
    p = api_expect_problem(&r, 400);
    assert_non_null(strstr(json_string_value(json_object_get(p, "type")), "malformed-json"));
    json_decref(p);
    api_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_seed),
        cmocka_unit_test(test_recipe_seeds),
        cmocka_unit_test(test_big_integer_elsewhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
