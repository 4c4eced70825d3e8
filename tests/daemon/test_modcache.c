/*
 * The model cache (server/modcache.c, issue 10, items 2 and 3) against a real store:
 *  - it counts eir_model_bytes() and evicts unused models least recently used first, keeping
 *    the most recently used one even alone over the budget (nothing unused with a budget of 0);
 *  - a model in use is never evicted;
 *  - two threads getting one uncached model build it once (the second waits for the first),
 *    and the build of a pending model records it ready with its hash in the store;
 *  - a pending model that does not build is recorded failed, and is not built again.
 */
#include <pthread.h>

#include "../server/store_fixture.h"
#include "modcache.h"

/* An explicit model of 20 cells (W all 0.01), written once by small_doc(). */
static char small_text[8192];

static const char *small_doc(void)
{
    if (small_text[0]) return small_text;
    size_t k = (size_t)snprintf(small_text, sizeof small_text,
                                "{\"class\": \"rnn\", \"populations\": {\"E\": 20, \"I\": 0}, "
                                "\"activation\": {\"name\": \"tanh\"}, \"leak\": 1.0, "
                                "\"recurrent\": {\"W\": [");
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < 20; j++)
            k += (size_t)snprintf(small_text + k, sizeof small_text - k, "%s%s0.01%s",
                                  i && !j ? "," : "", j ? "," : "[", j == 19 ? "]" : "");
    snprintf(small_text + k, sizeof small_text - k, "]}}");
    return small_text;
}

/* A generated model of N = E + I cells (gated, so @p act must be nonnegative to build). */
static char *generated_doc(int e, int i, const char *act)
{
    char *s = malloc(1024);
    assert_non_null(s);
    snprintf(s, 1024,
             "{\"class\": \"gated\", \"populations\": {\"E\": %d, \"I\": %d}, \"activation\": "
             "{\"name\": \"%s\"}, \"leak\": 1.0, \"recurrent\": {\"generate\": {\"seed\": 4, "
             "\"p\": {\"EE\": 0.2, \"EI\": 0.4, \"IE\": 0.4, \"II\": 0.4}, \"mean\": {\"EE\": "
             "0.1, \"EI\": 0.2, \"IE\": 0.1, \"II\": 0.2}, \"spectral_radius\": 0.9}, \"A\": "
             "0.5}}",
             e, i, act);
    return s;
}

/* Build @p doc into a model and its spec (for srv_modcache_add). */
static void build(const char *doc, eir_model **m, eir_model_spec **spec)
{
    json_t *j = json_loads(doc, 0, NULL);
    assert_non_null(j);
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_json_build_model(j, NULL, "", m, spec, &err), EIR_OK);
    json_decref(j);
}

static int64_t small_bytes(void)
{
    eir_model *m;
    eir_model_spec *spec;
    build(small_doc(), &m, &spec);
    int64_t b = (int64_t)eir_model_bytes(m);
    eir_model_free(m);
    eir_model_spec_free(spec);
    return b;
}

static void add_small(struct srv_modcache *mc, const char *id)
{
    eir_model *m;
    eir_model_spec *spec;
    build(small_doc(), &m, &spec);
    srv_modcache_add(mc, id, m, spec, NULL);
}

static int cached(struct srv_modcache *mc, const char *id)
{
    eir_model_shape sh;
    return srv_modcache_shape(mc, id, &sh);
}

static void test_lru_and_budget(void **state)
{
    (void)state;
    int64_t b = small_bytes();
    assert_true(b >= (int64_t)(sizeof(double) * 20 * 20));
    atomic_uint_fast64_t builds = 0;

    /* Room for two and a half: the third evicts the least recently used. */
    struct srv_modcache *mc = srv_modcache_new(b * 5 / 2 + 4096, &builds);
    add_small(mc, "a");
    add_small(mc, "b");
    assert_true(srv_modcache_bytes(mc) >= 2 * b);
    assert_true(cached(mc, "a")); /* a is now more recent than b */
    add_small(mc, "c");
    assert_true(cached(mc, "a"));
    assert_false(cached(mc, "b"));
    assert_true(cached(mc, "c"));
    srv_modcache_free(mc);

    /* A budget smaller than one model: the most recently used one stays. */
    mc = srv_modcache_new(b / 2, &builds);
    add_small(mc, "a");
    assert_true(cached(mc, "a"));
    add_small(mc, "b");
    assert_false(cached(mc, "a"));
    assert_true(cached(mc, "b"));
    srv_modcache_free(mc);

    /* 0 keeps nothing unused. */
    mc = srv_modcache_new(0, &builds);
    add_small(mc, "a");
    assert_false(cached(mc, "a"));
    assert_int_equal(srv_modcache_bytes(mc), 0);
    srv_modcache_free(mc);
    assert_int_equal(builds, 0); /* added models were built by the caller */
}

static void test_in_use_stays(void **state)
{
    struct fx *f = *state;
    store_model a, b;
    OK(store_model_create(f->c, "a", HASH_A, 20, small_doc(), NULL, &a));
    OK(store_model_create(f->c, "b", HASH_A, 20, small_doc(), NULL, &b));
    atomic_uint_fast64_t builds = 0;
    struct srv_modcache *mc = srv_modcache_new(1, &builds); /* below one model */
    srv_model_ref *ra = NULL, *rb = NULL;
    store_status st;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(srv_modcache_get(mc, f->c, NULL, a.id, &ra, &st, &err), SRV_MC_OK);
    assert_int_equal(srv_modcache_get(mc, f->c, NULL, b.id, &rb, &st, &err), SRV_MC_OK);
    srv_modcache_put(mc, rb);
    assert_true(cached(mc, a.id)); /* in use, though over the budget and not the newest */
    assert_true(cached(mc, b.id)); /* the most recently used */
    srv_modcache_put(mc, ra);
    assert_false(cached(mc, a.id) && cached(mc, b.id)); /* unused again: one of them goes */
    assert_int_equal(builds, 2);
    srv_modcache_free(mc);
    store_model_clear(&a);
    store_model_clear(&b);
}

struct getter {
    struct srv_modcache *mc;
    store *s;
    const char *id;
    srv_model_ref *ref;
    srv_mc_status r;
};

static void *get_thread(void *arg)
{
    struct getter *g = arg;
    store_conn *c = store_connect(g->s);
    store_status st;
    eir_error err;
    eir_error_clear(&err);
    g->r = srv_modcache_get(g->mc, c, NULL, g->id, &g->ref, &st, &err);
    store_disconnect(c);
    return NULL;
}

static void test_one_build_for_two_getters(void **state)
{
    struct fx *f = *state;
    char *doc = generated_doc(1200, 300, "relu"); /* a build of a few tenths of a second */
    store_model m;
    OK(store_model_create(f->c, "gen", NULL, 1500, doc, NULL, &m));
    free(doc);
    atomic_uint_fast64_t builds = 0;
    /* Budget 0: a second getter arriving after the first put back would build again, so one
     * build means the second waited for the first's build in progress. */
    struct srv_modcache *mc = srv_modcache_new(0, &builds);
    struct getter g[2] = {{mc, f->s, m.id, NULL, -1}, {mc, f->s, m.id, NULL, -1}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, get_thread, &g[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    assert_int_equal(g[0].r, SRV_MC_OK);
    assert_int_equal(g[1].r, SRV_MC_OK);
    assert_ptr_equal(g[0].ref, g[1].ref);
    assert_int_equal(builds, 1);
    assert_int_equal(eir_model_n(g[0].ref->model), 1500);

    store_model got;
    OK(store_model_get(f->c, m.id, &got));
    assert_int_equal(got.state, STORE_MODEL_READY);
    assert_string_equal(got.hash, g[0].ref->hash);
    assert_true(got.build_s > 0);
    store_model_clear(&got);
    srv_modcache_put(mc, g[0].ref);
    srv_modcache_put(mc, g[1].ref);
    assert_false(cached(mc, m.id));
    srv_modcache_free(mc);
    store_model_clear(&m);
}

static void test_failed_build_is_recorded_once(void **state)
{
    struct fx *f = *state;
    char *doc = generated_doc(40, 10, "linear"); /* gated + linear: the engine refuses it */
    store_model m;
    OK(store_model_create(f->c, "bad", NULL, 50, doc, NULL, &m));
    free(doc);
    atomic_uint_fast64_t builds = 0;
    struct srv_modcache *mc = srv_modcache_new(1 << 20, &builds);
    srv_model_ref *ref = NULL;
    store_status st;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(srv_modcache_get(mc, f->c, NULL, m.id, &ref, &st, &err), SRV_MC_INVALID);
    assert_null(ref);
    assert_string_equal(err.field, "/activation");
    store_model got;
    OK(store_model_get(f->c, m.id, &got));
    assert_int_equal(got.state, STORE_MODEL_FAILED);
    assert_non_null(strstr(got.error, "/activation"));
    store_model_clear(&got);

    eir_error_clear(&err);
    assert_int_equal(srv_modcache_get(mc, f->c, NULL, m.id, &ref, &st, &err), SRV_MC_INVALID);
    assert_non_null(strstr(err.message, "failed to build"));
    assert_string_equal(err.field, "/activation");
    assert_int_equal(builds, 1); /* the stored failure, not a second build */
    srv_modcache_free(mc);
    store_model_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_and_budget),
        cmocka_unit_test_setup_teardown(test_in_use_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_build_for_two_getters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_build_is_recorded_once, setup, teardown),
    };
    return cmocka_run_group_tests_name("modcache", tests, NULL, NULL);
}
