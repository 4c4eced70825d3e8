/**
 * @file test_inline_builds.c
 * @brief eirnnd API: a run's inline model is built once per run, and identical inline models
 *        share one build while it stays in the model cache (issue 10, item 3: "never build the
 *        same model twice for one run").
 *
 * An inline model without a recipe is built when the run is submitted (so that the engine's
 * checks answer 422 at once) and the worker used to build it again: eirnn_model_builds_total
 * counts every build of this process, and these tests read it around each run:
 * - an explicit inline model: one build per run (the submission's), none for a second run of
 *   the same model (written with its keys in another order and other spaces: the same JSON
 *   values), which gives the same result bytes; a noisy run without a seed too (its stored
 *   request is the body re-written with the seed picked, and the worker finds the model the
 *   submission built all the same);
 * - one value changed: built, and different bytes;
 * - an inline model with a generate recipe: one build (the worker's), none for a repeat;
 * - a model the engine refuses (Dale's law) is 422 at submission, every time;
 * - an inline model evicted from the cache (LRU, as any model) is built again by its next run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"

static api_daemon D; /* one worker, the default model cache */

/** eirnn_model_builds_total of daemon @p d. */
static long long builds(api_daemon *d)
{
    api_resp r;
    api_get(d, "/metrics", &r);
    assert_int_equal(r.status, 200);
    const char *name = "\neirnn_model_builds_total ";
    const char *at = strstr(r.body, name);
    assert_non_null(at);
    long long n = strtoll(at + strlen(name), NULL, 10);
    api_resp_free(&r);
    return n;
}

/** @p s with the first @p from replaced by @p to (malloc'ed). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = strlen(s) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

/** The run body of inline model @p model; @p seed < 0: no seed. */
static char *run_body(const char *model, int seed)
{
    size_t n = strlen(model) + 256;
    char *b = malloc(n);
    assert_non_null(b);
    char seed_text[32] = "";
    if (seed >= 0) snprintf(seed_text, sizeof seed_text, ", \"seed\": %d", seed);
    snprintf(b, n,
             "{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 30, \"trials\": 2}, "
             "\"record\": {\"vars\": [\"r\"]}%s}",
             model, seed_text);
    return b;
}

/**
 * Submit @p body, wait for it to succeed, and return the SHA-256 of its result "r" (malloc'ed)
 * and, in *@p delta, the builds it cost.
 */
static char *run_sha(api_daemon *d, const char *body, long long *delta)
{
    long long before = builds(d);
    char *id = api_submit_run(d, body);
    json_t *run = api_wait_run(d, id, 60);
    assert_string_equal(api_jstr(run, "status"), "succeeded");
    json_decref(run);
    *delta = builds(d) - before;
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s/results", id);
    api_resp r;
    api_get(d, path, &r);
    assert_int_equal(r.status, 200);
    json_t *j = api_json(&r);
    /* the items are by name: "V_final" (every run that ran to its end keeps it), then "r" */
    json_t *item = json_array_get(json_object_get(j, "items"), 1);
    assert_string_equal(api_jstr(json_array_get(json_object_get(j, "items"), 0), "var"), "V_final");
    assert_string_equal(api_jstr(item, "var"), "r");
    char *sha = strdup(api_jstr(item, "sha256"));
    json_decref(j);
    api_resp_free(&r);
    free(id);
    return sha;
}

/** api_model_small with its top-level keys in another order and other white space. */
static char *reordered_small(void)
{
    /* {"name": ..., rest} -> {rest,"name":"small"} with the spaces after ':' and ',' dropped
     * where they are outside arrays (the values are the same). */
    const char *rest = strstr(api_model_small, "\"class\"");
    assert_non_null(rest);
    size_t n = strlen(rest) + 64;
    char *m = malloc(n);
    assert_non_null(m);
    size_t len = strlen(rest);
    snprintf(m, n, "{  %.*s,\n \"name\":\"small\"}", (int)(len - 1), rest);
    return m;
}

static void test_explicit_inline_model_built_once(void **state)
{
    (void)state;
    long long d1, d2, d3, d4;
    char *body = run_body(api_model_small, 7);
    char *sha1 = run_sha(&D, body, &d1);
    assert_int_equal(d1, 1); /* the submission's build, used by the worker (was 2) */
    char *other_order = reordered_small();
    char *body2 = run_body(other_order, 7);
    char *sha2 = run_sha(&D, body2, &d2);
    assert_int_equal(d2, 0); /* the same model, still cached */
    assert_string_equal(sha1, sha2);
    /* One weight changed: another model, built, other bytes. */
    char *changed = replace(api_model_small, "0.19", "0.18");
    char *body3 = run_body(changed, 7);
    char *sha3 = run_sha(&D, body3, &d3);
    assert_int_equal(d3, 1);
    assert_string_not_equal(sha1, sha3);
    /* And the first again: still cached beside it. */
    char *sha4 = run_sha(&D, body, &d4);
    assert_int_equal(d4, 0);
    assert_string_equal(sha1, sha4);
    free(body);
    free(body2);
    free(body3);
    free(other_order);
    free(changed);
    free(sha1);
    free(sha2);
    free(sha3);
    free(sha4);
}

static void test_noisy_run_without_seed(void **state)
{
    (void)state;
    /* The handler stores the body re-written with the seed it picked: the worker's key of the
     * model must be the submission's all the same. */
    char *noisy = replace(api_model_small, "\"sigma\": 0.0", "\"sigma\": 0.1");
    char *body = run_body(noisy, -1);
    long long d1, d2;
    char *sha1 = run_sha(&D, body, &d1);
    assert_int_equal(d1, 1);
    char *sha2 = run_sha(&D, body, &d2);
    assert_int_equal(d2, 0);
    assert_string_not_equal(sha1, sha2); /* two seeds picked: two noise draws */
    free(sha1);
    free(sha2);
    free(body);
    free(noisy);
}

static void test_inline_recipe_model(void **state)
{
    (void)state;
    char *body = run_body(api_model_noisy, 3);
    long long d1, d2;
    char *sha1 = run_sha(&D, body, &d1);
    assert_int_equal(d1, 1); /* the worker's: a recipe is not generated at submission */
    char *sha2 = run_sha(&D, body, &d2);
    assert_int_equal(d2, 0);
    assert_string_equal(sha1, sha2);
    free(sha1);
    free(sha2);
    free(body);
}

static void test_refused_model_stays_refused(void **state)
{
    (void)state;
    /* An excitatory weight made negative: Dale's law ("dale": "reject") refuses it. */
    char *bad = replace(api_model_small, "0.19", "-0.19");
    char *body = run_body(bad, 1);
    for (int i = 0; i < 2; i++) {
        api_resp r;
        api_post(&D, "/v1/runs", body, &r);
        json_t *p = api_expect_problem(&r, 422);
        const char *field = api_jstr(p, "field");
        assert_non_null(field);
        assert_true(strncmp(field, "/model/", 7) == 0);
        json_decref(p);
        api_resp_free(&r);
    }
    free(body);
    free(bad);
}

static void test_evicted_inline_model_built_again(void **state)
{
    (void)state;
    /* A budget of one byte keeps only the model used last (modcache.h): a run of model B
     * evicts model A, and A's next run builds it again (once: submission and worker share). */
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "1", "--model-cache-bytes", "1", NULL};
    api_start(&d, args, NULL);
    char *other = replace(api_model_small, "0.19", "0.18");
    char *body_a = run_body(api_model_small, 7);
    char *body_b = run_body(other, 7);
    long long d1, d2, d3, d4;
    char *sha1 = run_sha(&d, body_a, &d1);
    char *sha2 = run_sha(&d, body_a, &d2);
    char *sha3 = run_sha(&d, body_b, &d3);
    char *sha4 = run_sha(&d, body_a, &d4);
    assert_int_equal(d1, 1);
    assert_int_equal(d2, 0); /* the one model kept */
    assert_int_equal(d3, 1);
    assert_int_equal(d4, 1); /* evicted by B: built again, once */
    assert_string_equal(sha1, sha2);
    assert_string_equal(sha1, sha4);
    assert_string_not_equal(sha1, sha3);
    free(sha1);
    free(sha2);
    free(sha3);
    free(sha4);
    free(body_a);
    free(body_b);
    free(other);
    api_stop_clean(&d);
}

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    const char *args[] = {"--workers", "1", NULL};
    api_start(&D, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    api_stop_clean(&D);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_inline_model_built_once),
        cmocka_unit_test(test_noisy_run_without_seed),
        cmocka_unit_test(test_inline_recipe_model),
        cmocka_unit_test(test_refused_model_stays_refused),
        cmocka_unit_test(test_evicted_inline_model_built_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
