/**
 * @file test_json_generate.c
 * @brief `generate` recipes for the recurrent and input matrices: parsing into eir_gen_spec,
 *        the generated matrices, determinism, and every rejection with its field pointer.
 */
#include "json_test_util.h"

/* 6 E cells and 2 I cells, two inputs, recurrent and input both generated. */
static const char *const BASE =
    "{\"populations\": {\"E\": 6, \"I\": 2}, \"n_inputs\": 2, \"leak\": 1.0,"
    " \"recurrent\": {\"generate\": {\"seed\": 11, \"p\": 0.5, \"mean\": 0.2}, \"A\": 1.0},"
    " \"input\": {\"P\": {\"generate\": {\"seed\": 12}}}}";

static eir_model_spec *parse_ok(const char *patch)
{
    json_t *j = jt_patched(BASE, patch);
    eir_model_spec *s = NULL;
    eir_error e;
    JT_OK(eir_json_parse_model(j, NULL, "", &s, &e), e);
    json_decref(j);
    return s;
}

static void parse_err(const char *patch, const char *prefix, const char *field, const char *parts)
{
    json_t *j = jt_patched(BASE, patch);
    eir_model_spec *s = (eir_model_spec *)&s;
    eir_error e;
    eir_error_clear(&e);
    JT_EXPECT_ERR(eir_json_parse_model(j, NULL, prefix, &s, &e), e, field, parts);
    assert_null(s);
    json_decref(j);
}

static void test_recurrent_recipe_fields(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok(
        "{\"recurrent\": {\"generate\": {\"seed\": 9223372036854775807,"
        " \"p\": {\"EE\": 0.9, \"EI\": 0.8, \"IE\": 0.7, \"II\": 0.6}, \"dist\": \"gamma\","
        " \"mean\": {\"EE\": 1, \"EI\": 2, \"IE\": 3, \"II\": 4}, \"cv\": 0.5,"
        " \"balance\": true, \"spectral_radius\": 0.9, \"self_connections\": true}}}");
    const eir_gen_spec *g = &s->gen;
    assert_true(s->generated);
    assert_true(g->seed == UINT64_C(9223372036854775807));
    assert_true(g->p[EIR_BLOCK_EE] == 0.9 && g->p[EIR_BLOCK_EI] == 0.8);
    assert_true(g->p[EIR_BLOCK_IE] == 0.7 && g->p[EIR_BLOCK_II] == 0.6);
    assert_true(g->mean[EIR_BLOCK_EI] == 2 && g->mean[EIR_BLOCK_II] == 4);
    assert_int_equal(g->dist, EIR_DIST_GAMMA);
    assert_true(g->cv == 0.5);
    assert_true(g->balance && g->self_connections);
    assert_true(g->spectral_radius == 0.9);
    eir_model_spec_free(s);
}

static void test_recurrent_recipe_defaults(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok(NULL);
    const eir_gen_spec *g = &s->gen;
    assert_true(g->seed == 11);
    for (int b = 0; b < 4; b++)
        assert_true(g->p[b] == 0.5 && g->mean[b] == 0.2);
    assert_int_equal(g->dist, EIR_DIST_LOGNORMAL);
    assert_true(g->cv == 1);
    assert_false(g->balance);
    assert_false(g->self_connections);
    assert_true(g->spectral_radius <= 0);
    assert_int_equal(s->desc.form, EIR_FORM_REDUCED);
    /* Dale's signs, no self-connections */
    const double *W = s->desc.W;
    assert_non_null(W);
    for (int i = 0; i < 8; i++) {
        assert_true(W[i * 8 + i] == 0);
        for (int j = 0; j < 8; j++)
            assert_true(j < 6 ? W[i * 8 + j] >= 0 : W[i * 8 + j] <= 0);
    }
    eir_model_spec_free(s);
    s = parse_ok("{\"recurrent\": {\"generate\": {\"spectral_radius\": null}}}");
    assert_true(s->gen.spectral_radius <= 0);
    eir_model_spec_free(s);
}

static void test_recipe_is_deterministic_and_builds(void **state)
{
    (void)state;
    eir_model_spec *a = parse_ok(NULL), *b = parse_ok(NULL);
    assert_memory_equal(a->desc.W, b->desc.W, 64 * sizeof(double));
    assert_memory_equal(a->desc.P, b->desc.P, 16 * sizeof(double));
    eir_model_spec *c = parse_ok("{\"recurrent\": {\"generate\": {\"seed\": 12}}}");
    assert_memory_not_equal(a->desc.W, c->desc.W, 64 * sizeof(double));
    eir_model_spec_free(a);
    eir_model_spec_free(b);
    eir_model_spec_free(c);

    json_t *j = jt_load(BASE);
    eir_model *m;
    eir_error e;
    JT_OK(eir_json_build_model(j, NULL, "", &m, NULL, &e), e);
    assert_int_equal(eir_model_n(m), 8);
    eir_model_free(m);
    json_decref(j);
}

static void test_conductance_recipe(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok("{\"recurrent\": {\"A\": null, \"E_rev\": {\"E\": 5, \"I\": -1},"
                                 " \"generate\": {\"dist\": \"constant\"}}}");
    assert_int_equal(s->desc.form, EIR_FORM_CONDUCTANCE);
    assert_true(s->desc.e_rev_e == 5 && s->desc.e_rev_i == -1);
    assert_non_null(s->desc.K);
    for (int i = 0; i < 64; i++)
        assert_true(s->desc.K[i] == 0 || s->desc.K[i] == 0.2);
    eir_model_spec_free(s);
}

static void test_input_recipe_forms(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok("{\"input\": {\"P\": {\"generate\": {\"seed\": 3,"
                                 " \"p\": {\"E\": 1, \"I\": 0}, \"mean\": {\"E\": 0.5, \"I\": 2},"
                                 " \"dist\": \"constant\"}}}}");
    assert_true(s->input_generated);
    assert_true(s->input_gen.seed == 3);
    assert_true(s->input_gen.p[0] == 1 && s->input_gen.p[1] == 0);
    assert_true(s->input_gen.mean[0] == 0.5 && s->input_gen.mean[1] == 2);
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 2; c++)
            assert_true(s->desc.P[i * 2 + c] == (i < 6 ? 0.5 : 0.0));
    eir_model_spec_free(s);

    /* "generate" directly under "input" is the same recipe */
    eir_model_spec *a = parse_ok("{\"input\": {\"P\": null, \"generate\": {\"seed\": 12}}}");
    eir_model_spec *b = parse_ok(NULL);
    assert_true(a->input_generated);
    assert_memory_equal(a->desc.P, b->desc.P, 16 * sizeof(double));
    eir_model_spec_free(a);
    eir_model_spec_free(b);
}

static void test_recipe_rejections(void **state)
{
    (void)state;
    parse_err("{\"recurrent\": {\"generate\": {\"seed\": null}}}", "", "/recurrent/generate/seed",
              "missing required field \"seed\"");
    parse_err("{\"recurrent\": {\"generate\": {\"seed\": -1}}}", "", "/recurrent/generate/seed",
              "expected an integer from 0 to 2^63-1 (9223372036854775807), got -1");
    parse_err("{\"recurrent\": {\"generate\": {\"seed\": 1.5}}}", "", "/recurrent/generate/seed",
              "expected an integer, got 1.5");
    parse_err("{\"recurrent\": {\"generate\": {\"seed\": \"7\"}}}", "", "/recurrent/generate/seed",
              "expected an integer");
    parse_err("{\"recurrent\": {\"generate\": {\"p\": 1.5}}}", "", "/recurrent/generate/p",
              "expected a probability in [0, 1], got 1.5");
    parse_err("{\"recurrent\": {\"generate\": {\"p\": {\"EE\": 0.1, \"EI\": 0.1, \"IE\": 0.1}}}}",
              "", "/recurrent/generate/p/II", "missing required field \"II\"");
    parse_err("{\"recurrent\": {\"generate\": {\"p\": {\"EE\": 0.1, \"EI\": 0.1, \"IE\": 0.1,"
              " \"II\": -0.1}}}}",
              "", "/recurrent/generate/p/II", "in [0, 1], got -0.1");
    parse_err("{\"recurrent\": {\"generate\": {\"p\": {\"E\": 0.1}}}}", "",
              "/recurrent/generate/p/E", "unknown field \"E\"|EE, EI, IE, II");
    parse_err("{\"recurrent\": {\"generate\": {\"p\": [0.1]}}}", "", "/recurrent/generate/p",
              "expected a number or an object|EE, EI, IE, II");
    parse_err("{\"recurrent\": {\"generate\": {\"mean\": -1}}}", "", "/recurrent/generate/mean",
              ">= 0, got -1");
    parse_err("{\"recurrent\": {\"generate\": {\"dist\": \"normal\"}}}", "",
              "/recurrent/generate/dist", "expected one of lognormal, gamma, halfnormal, constant");
    parse_err("{\"recurrent\": {\"generate\": {\"cv\": 0}}}", "", "/recurrent/generate/cv",
              "> 0, got 0");
    parse_err("{\"recurrent\": {\"generate\": {\"dist\": \"halfnormal\", \"cv\": 2}}}", "",
              "/recurrent/generate/cv", "only to dist lognormal and gamma|\"halfnormal\"");
    parse_err("{\"recurrent\": {\"generate\": {\"balance\": 1}}}", "",
              "/recurrent/generate/balance", "expected true or false, got 1");
    parse_err("{\"recurrent\": {\"generate\": {\"self_connections\": \"no\"}}}", "",
              "/recurrent/generate/self_connections", "expected true or false");
    parse_err("{\"recurrent\": {\"generate\": {\"spectral_radius\": 0}}}", "",
              "/recurrent/generate/spectral_radius", "> 0 or null, got 0");
    parse_err("{\"recurrent\": {\"generate\": {\"sparsity\": 0.1}}}", "/model",
              "/model/recurrent/generate/sparsity", "unknown field \"sparsity\"");
    parse_err("{\"recurrent\": {\"generate\": 5}}", "", "/recurrent/generate",
              "expected a generate recipe object, got 5");
    parse_err("{\"recurrent\": {\"A\": null}}", "", "/recurrent/A", "gated");
    parse_err("{\"recurrent\": {\"E_rev\": {\"E\": 1, \"I\": -1}}}", "", "/recurrent/A",
              "either A|or E_rev|both");
    parse_err("{\"recurrent\": {\"dale\": \"project\"}}", "", "/recurrent/dale",
              "unknown field \"dale\"|generate, A, E_rev");
}

static void test_input_recipe_rejections(void **state)
{
    (void)state;
    parse_err("{\"input\": {\"P\": {\"generate\": {\"seed\": 1, \"balance\": true}}}}", "",
              "/input/P/generate/balance", "unknown field \"balance\"|seed, p, dist, mean, cv");
    parse_err("{\"input\": {\"P\": {\"generate\": {\"seed\": 1, \"p\": {\"EE\": 1}}}}}", "",
              "/input/P/generate/p/EE", "unknown field \"EE\"|E, I");
    parse_err("{\"input\": {\"P\": {\"generate\": {\"seed\": 1, \"mean\": {\"E\": 1}}}}}", "",
              "/input/P/generate/mean/I", "missing required field \"I\"");
    parse_err("{\"input\": {\"P\": {\"generate\": {\"seed\": null}}}}", "",
              "/input/P/generate/seed", "missing required field");
    parse_err("{\"input\": {\"P\": {\"recipe\": {}}}}", "", "/input/P/recipe",
              "unknown field \"recipe\"");
    parse_err("{\"input\": {\"P\": {\"generate\": null}}}", "", "/input/P/generate",
              "missing required field");
    parse_err("{\"input\": {\"generate\": {\"seed\": 1, \"p\": 2}}}", "", "/input/generate",
              "expected either P or generate, got both");
    parse_err("{\"input\": {\"P\": null, \"generate\": {\"seed\": 1, \"p\": 2}}}", "",
              "/input/generate/p", "in [0, 1], got 2");
}

static void test_generator_errors_prefixed(void **state)
{
    (void)state;
    /* balance is impossible with E_I = 0: the generator reports "/balance" */
    json_t *j = jt_patched(BASE, "{\"recurrent\": {\"A\": null, \"E_rev\": {\"E\": 5, \"I\": 0},"
                                 " \"generate\": {\"balance\": true}}}");
    eir_model_spec *s = (eir_model_spec *)&s;
    eir_error e;
    eir_status rc = eir_json_parse_model(j, NULL, "/model", &s, &e);
    JT_EXPECT_ERR(rc, e, "/model/recurrent/generate/balance", "balance");
    assert_null(s);
    json_decref(j);
}

/* Seeds of both recipes at the edge of their range, read as the daemon reads a body. */
static void test_recipe_seed_edges(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "9223372036854775808", "18446744073709551616", "9.3e18", "1e19", "-1", "1.5", "\"7\""};
    static const char *const where[] = {"/recurrent/generate/seed", "/input/P/generate/seed",
                                        "/input/generate/seed"};
    for (size_t w = 0; w < 3; w++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char text[512];
            if (w == 0)
                snprintf(text, sizeof text,
                         "{\"populations\": {\"E\": 6, \"I\": 2}, \"n_inputs\": 2, \"leak\": 1,"
                         " \"recurrent\": {\"generate\": {\"seed\": %s}, \"A\": 1}}",
                         bad[i]);
            else if (w == 1)
                snprintf(text, sizeof text,
                         "{\"populations\": {\"E\": 6, \"I\": 2}, \"n_inputs\": 2, \"leak\": 1,"
                         " \"recurrent\": {\"generate\": {\"seed\": 1}, \"A\": 1},"
                         " \"input\": {\"P\": {\"generate\": {\"seed\": %s}}}}",
                         bad[i]);
            else
                snprintf(text, sizeof text,
                         "{\"populations\": {\"E\": 6, \"I\": 2}, \"n_inputs\": 2, \"leak\": 1,"
                         " \"recurrent\": {\"generate\": {\"seed\": 1}, \"A\": 1},"
                         " \"input\": {\"generate\": {\"seed\": %s}}}",
                         bad[i]);
            json_error_t je;
            json_t *j = eir_json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &je);
            if (!j) {
                print_error("%s: not read: %s\n", text, je.text);
                fail();
            }
            eir_model_spec *s = (eir_model_spec *)&s;
            eir_error e;
            eir_error_clear(&e);
            char want[EIR_FIELD_MAX];
            snprintf(want, sizeof want, "/model%s", where[w]);
            JT_EXPECT_ERR(eir_json_parse_model(j, NULL, "/model", &s, &e), e, want,
                          "an integer from 0 to 2^63-1 (9223372036854775807)");
            assert_null(s);
            json_decref(j);
        }
    }
    /* 2^63-1 itself is a seed of both recipes. */
    eir_model_spec *s = parse_ok("{\"input\": {\"P\": {\"generate\": {\"seed\": "
                                 "9223372036854775807}}}}");
    assert_true(s->input_gen.seed == UINT64_C(9223372036854775807));
    eir_model_spec_free(s);
}

/** eir_json_model_has_recipe(): a recipe under recurrent, input or input.P; none elsewhere. */
static void test_has_recipe(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        int want;
    } cases[] = {
        {"{\"recurrent\": {\"generate\": {}}}", 1},
        {"{\"input\": {\"generate\": {}}}", 1},
        {"{\"input\": {\"P\": {\"generate\": {}}}}", 1},
        {"{\"recurrent\": {\"W\": [[0]]}, \"input\": {\"P\": [[1]]}}", 0},
        {"{\"generate\": {}}", 0},
        {"{\"input\": {\"P\": [{\"generate\": {}}]}}", 0},
        {"[]", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *j = jt_load(cases[k].doc);
        assert_int_equal(eir_json_model_has_recipe(j), cases[k].want);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recurrent_recipe_fields),
        cmocka_unit_test(test_recurrent_recipe_defaults),
        cmocka_unit_test(test_recipe_is_deterministic_and_builds),
        cmocka_unit_test(test_conductance_recipe),
        cmocka_unit_test(test_input_recipe_forms),
        cmocka_unit_test(test_recipe_rejections),
        cmocka_unit_test(test_recipe_seed_edges),
        cmocka_unit_test(test_input_recipe_rejections),
        cmocka_unit_test(test_generator_errors_prefixed),
        cmocka_unit_test(test_has_recipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
