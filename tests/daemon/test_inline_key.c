/*
 * Inline models in the model cache (issue 10, item 3: an inline model built once per run):
 *  - srv_inline_model_key() depends on the JSON values only: the same for another key order or
 *    spacing, or a number spelled otherwise (0.1, 1e-1, and a re-dump to 17 digits); another
 *    for any value changed, an integer written as a real, a member renamed or a value moved
 *    between arrays; refused (no key) past 2048 levels of nesting;
 *  - srv_modcache_lookup() lends only what is cached and built, never building;
 *  - srv_modcache_add_ref() lends the entry it adds, and lends the entry already there (freeing
 *    its own copy) when another thread added the same key first; entries of inline keys are
 *    evicted like the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_resolve.h"

static void key_of(const char *text, char key[SRV_MC_KEY_MAX])
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!j) fail_msg("bad test JSON: %s: %s", je.text, text);
    assert_int_equal(srv_inline_model_key(j, key), 0);
    json_decref(j);
}

static void same(const char *a, const char *b)
{
    char ka[SRV_MC_KEY_MAX], kb[SRV_MC_KEY_MAX];
    key_of(a, ka);
    key_of(b, kb);
    if (strcmp(ka, kb) != 0) fail_msg("different keys for\n  %s\n  %s", a, b);
}

static void differ(const char *a, const char *b)
{
    char ka[SRV_MC_KEY_MAX], kb[SRV_MC_KEY_MAX];
    key_of(a, ka);
    key_of(b, kb);
    if (strcmp(ka, kb) == 0) fail_msg("the same key for\n  %s\n  %s", a, b);
}

static void test_key_is_the_values(void **state)
{
    (void)state;
    const char *m = "{\"class\": \"rnn\", \"leak\": 0.1, \"W\": [[1, 2.5], [-0.0, 3e-2]], "
                    "\"on\": true, \"x\": null}";
    char k[SRV_MC_KEY_MAX];
    key_of(m, k);
    assert_int_equal(strlen(k), strlen("inline:") + 64);
    assert_true(strncmp(k, "inline:", 7) == 0);
    same(m, "{\"x\":null,\"on\":true,\"W\":[[1,2.5],[-0.0,0.03]],\"leak\":1e-1,\"class\":\"rnn\"}");
    /* What the daemon stores for a run whose seed it picked: the body re-dumped. */
    json_t *j = json_loads(m, 0, NULL);
    char *redump = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    same(m, redump);
    free(redump);
    json_decref(j);
    differ(m, "{\"class\": \"rnn\", \"leak\": 0.1, \"W\": [[1, 2.5], [-0.0, 3e-2]], "
              "\"on\": true, \"x\": null, \"y\": 1}");
    differ(m, "{\"class\": \"rnn\", \"leak\": 0.10000000000000002, \"W\": [[1, 2.5], [-0.0, "
              "3e-2]], \"on\": true, \"x\": null}");
    differ(m, "{\"class\": \"rnn\", \"leak\": 0.1, \"W\": [[1.0, 2.5], [-0.0, 3e-2]], "
              "\"on\": true, \"x\": null}");
    differ(m, "{\"class\": \"rnn\", \"leak\": 0.1, \"W\": [[1, 2.5, -0.0], [3e-2]], "
              "\"on\": true, \"x\": null}");
    differ(m, "{\"class\": \"rnn\", \"leak\": 0.1, \"V\": [[1, 2.5], [-0.0, 3e-2]], "
              "\"on\": true, \"x\": null}");
    differ(m, "{\"class\": \"rnn\", \"leak\": 0.1, \"W\": [[1, 2.5], [-0.0, 3e-2]], "
              "\"on\": false, \"x\": null}");
    differ("{\"a\": \"bc\", \"d\": \"\"}", "{\"a\": \"b\", \"d\": \"c\"}");
    differ("{\"a\": [1, 2]}", "{\"a\": [[1], 2]}");
}

static void test_key_depth_bound(void **state)
{
    (void)state;
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 3000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    char k[SRV_MC_KEY_MAX] = "x";
    assert_int_equal(srv_inline_model_key(deep, k), -1);
    assert_string_equal(k, "");
    json_decref(deep);
}

/* An explicit model of 4 cells whose weights are @p w. */
static void build(double w, eir_model **m, eir_model_spec **spec)
{
    char text[512];
    int k = snprintf(text, sizeof text,
                     "{\"class\": \"rnn\", \"populations\": {\"E\": 4, \"I\": 0}, "
                     "\"activation\": {\"name\": \"tanh\"}, \"leak\": 1.0, "
                     "\"recurrent\": {\"W\": [");
    for (int i = 0; i < 4; i++)
        k += snprintf(text + k, sizeof text - (size_t)k, "%s[%g, %g, %g, %g]", i ? ", " : "", w, w,
                      w, w);
    snprintf(text + k, sizeof text - (size_t)k, "]}}");
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_json_build_model(j, NULL, "", m, spec, &err), EIR_OK);
    json_decref(j);
}

static void test_lookup_and_add_ref(void **state)
{
    (void)state;
    atomic_uint_fast64_t builds = 0;
    struct srv_modcache *mc = srv_modcache_new(1, &builds); /* keeps the last model used */
    assert_non_null(mc);
    srv_model_ref *ref = (srv_model_ref *)1;
    assert_int_equal(srv_modcache_lookup(mc, "inline:a", &ref), 0);
    assert_null(ref);

    eir_model *m;
    eir_model_spec *spec;
    build(0.1, &m, &spec);
    srv_model_ref *a = srv_modcache_add_ref(mc, "inline:a", m, spec, NULL);
    assert_non_null(a);
    assert_ptr_equal(a->model, m);
    assert_int_equal(strlen(a->hash), 64);
    /* The same key added again (another thread built it too): the first entry is lent. */
    eir_model *m2;
    eir_model_spec *spec2;
    build(0.1, &m2, &spec2);
    srv_model_ref *a2 = srv_modcache_add_ref(mc, "inline:a", m2, spec2, NULL);
    assert_ptr_equal(a2, a);
    srv_modcache_put(mc, a2);
    srv_modcache_put(mc, a);
    assert_int_equal(srv_modcache_lookup(mc, "inline:a", &ref), 1);
    assert_ptr_equal(ref, a);
    srv_modcache_put(mc, ref);

    /* Another model used: the first, unused and not the last used, is evicted. */
    build(0.2, &m, &spec);
    srv_model_ref *b = srv_modcache_add_ref(mc, "inline:b", m, spec, NULL);
    assert_non_null(b);
    srv_modcache_put(mc, b);
    assert_int_equal(srv_modcache_lookup(mc, "inline:a", &ref), 0);
    assert_int_equal(srv_modcache_lookup(mc, "inline:b", &ref), 1);
    srv_modcache_put(mc, ref);
    assert_int_equal(builds, 0); /* the cache counts only its own builds */
    srv_modcache_free(mc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_is_the_values),
        cmocka_unit_test(test_key_depth_bound),
        cmocka_unit_test(test_lookup_and_add_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
