/**
 * @file test_json_model.c
 * @brief FORMAT.md "Model" documents: every accepted form and every rejection, with its field
 *        pointer and message.
 */
#include "json_test_util.h"

/* 3 E cells and 1 I cell, one input; W obeys Dale's law. */
static const char *const BASE =
    "{\"name\": \"t\", \"populations\": {\"E\": 3, \"I\": 1}, \"n_inputs\": 1, \"leak\": 1.0,"
    " \"recurrent\": {\"W\": [[0, 0.5, 0, -1], [0.5, 0, 0.5, -1], [0, 0.5, 0, -1],"
    " [1, 1, 1, 0]], \"A\": 1.0},"
    " \"input\": {\"P\": [[1], [0], [0.5], [0]]}}";

static const double BASE_W[16] = {0, 0.5, 0, -1, 0.5, 0, 0.5, -1, 0, 0.5, 0, -1, 1, 1, 1, 0};

/* Parse BASE patched with @p patch under @p prefix; expect success. */
static eir_model_spec *parse_ok(const char *patch, const char *prefix)
{
    json_t *j = jt_patched(BASE, patch);
    eir_model_spec *s = NULL;
    eir_error e;
    JT_OK(eir_json_parse_model(j, NULL, prefix, &s, &e), e);
    assert_non_null(s);
    json_decref(j);
    return s;
}

/* Parse BASE patched with @p patch with @p lim; expect an error at @p field. */
static void parse_err_lim(const char *patch, const eir_json_limits *lim, const char *prefix,
                          const char *field, const char *parts)
{
    json_t *j = jt_patched(BASE, patch);
    eir_model_spec *s = (eir_model_spec *)&s;
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_json_parse_model(j, lim, prefix, &s, &e);
    JT_EXPECT_ERR(rc, e, field, parts);
    assert_null(s);
    json_decref(j);
}

static void parse_err(const char *patch, const char *field, const char *parts)
{
    parse_err_lim(patch, NULL, "", field, parts);
}

/* ---------------------------------------------------------------------------------------- */
/* Acceptance                                                                                */
/* ---------------------------------------------------------------------------------------- */

static void test_base_defaults(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok(NULL, "");
    const eir_model_desc *d = &s->desc;
    assert_string_equal(s->name, "t");
    assert_int_equal(d->n_e, 3);
    assert_int_equal(d->n_i, 1);
    assert_int_equal(d->n_in, 1);
    assert_int_equal(d->cls, EIR_CLASS_GATED);
    assert_int_equal(d->act.kind, EIR_ACT_RELU);
    assert_true(isinf(d->act.r_max));
    assert_int_equal(d->leak_len, 4);
    for (int i = 0; i < 4; i++)
        assert_true(d->leak[i] == 1.0);
    assert_int_equal(d->form, EIR_FORM_REDUCED);
    assert_memory_equal(d->W, BASE_W, sizeof BASE_W);
    assert_int_equal(d->a_kind, EIR_A_SCALAR);
    assert_true(d->A[0] == 1.0);
    assert_int_equal(d->dale, EIR_DALE_REJECT);
    assert_true(d->P[2] == 0.5);
    assert_null(d->M_in);
    assert_null(d->bias);
    assert_int_equal(d->bias_len, 0);
    assert_int_equal(d->n_out, 0);
    assert_true(d->sigma == 0);
    assert_false(s->generated);
    assert_false(s->input_generated);
    eir_model_spec_free(s);
    eir_model_spec_free(NULL);
}

static void test_build_base_and_example(void **state)
{
    (void)state;
    eir_model *m = NULL;
    eir_model_spec *s = NULL;
    eir_error e;
    json_t *j = jt_load(BASE);
    JT_OK(eir_json_build_model(j, NULL, "", &m, &s, &e), e);
    assert_non_null(m);
    assert_non_null(s);
    assert_int_equal(eir_model_n(m), 4);
    eir_model_free(m);
    eir_model_spec_free(s);
    json_decref(j);

    j = jt_load_file("schema/examples/model_small.json");
    JT_OK(eir_json_build_model(j, NULL, "", &m, NULL, &e), e);
    assert_int_equal(eir_model_n_e(m), 8);
    assert_int_equal(eir_model_n_i(m), 2);
    assert_int_equal(eir_model_n_in(m), 2);
    assert_int_equal(eir_model_n_out(m), 1);
    assert_int_equal(eir_model_class(m), EIR_CLASS_GATED);
    eir_model_free(m);
    json_decref(j);
}

static void test_classes_and_activations(void **state)
{
    (void)state;
    /* (without BASE's A, which classes rnn and dale refuse: test_class_ignored_fields) */
    eir_model_spec *s = parse_ok(
        "{\"class\": \"rnn\", \"activation\": {\"name\": \"tanh\"}, \"recurrent\": {\"A\": null}}",
        "");
    assert_int_equal(s->desc.cls, EIR_CLASS_RNN);
    assert_int_equal(s->desc.act.kind, EIR_ACT_TANH);
    eir_model_spec_free(s);
    s = parse_ok("{\"class\": \"dale\", \"activation\": {\"name\": \"power\"}, \"recurrent\": "
                 "{\"A\": null}}",
                 "");
    assert_int_equal(s->desc.cls, EIR_CLASS_DALE);
    assert_int_equal(s->desc.act.kind, EIR_ACT_POWER);
    assert_true(s->desc.act.k == 1 && s->desc.act.n == 2);
    eir_model_spec_free(s);
    s = parse_ok("{\"activation\": {\"name\": \"power\", \"k\": 0.3, \"n\": 1.5, \"r_max\": 50}}",
                 "");
    assert_true(s->desc.act.k == 0.3 && s->desc.act.n == 1.5 && s->desc.act.r_max == 50);
    eir_model_spec_free(s);
    s = parse_ok("{\"activation\": {\"name\": \"softplus\", \"r_max\": null}}", "");
    assert_true(isinf(s->desc.act.r_max));
    eir_model_spec_free(s);
}

static void test_leak_and_bias_broadcast(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok("{\"leak\": [1, 2, 3, 4], \"bias\": 0.25}", "");
    assert_int_equal(s->desc.leak_len, 4);
    assert_true(s->desc.leak[3] == 4);
    assert_int_equal(s->desc.bias_len, 4);
    for (int i = 0; i < 4; i++)
        assert_true(s->desc.bias[i] == 0.25);
    eir_model_spec_free(s);
    s = parse_ok("{\"bias\": [0, 1, 2, 3]}", "");
    assert_true(s->desc.bias[2] == 2);
    eir_model_spec_free(s);
}

static void test_a_per_type_per_row_matrix(void **state)
{
    (void)state;
    eir_model_spec *s = parse_ok("{\"recurrent\": {\"A\": {\"E\": 1.5, \"I\": 2}}}", "");
    assert_int_equal(s->desc.a_kind, EIR_A_PER_TYPE);
    assert_true(s->desc.A[0] == 1.5 && s->desc.A[1] == 2);
    eir_model_spec_free(s);

    s = parse_ok("{\"recurrent\": {\"A\": {\"E\": [1, 2, 3, 4], \"I\": 0.5}}}", "");
    assert_int_equal(s->desc.a_kind, EIR_A_PER_ROW);
    const double want[8] = {1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5};
    assert_memory_equal(s->desc.A, want, sizeof want);
    eir_model_spec_free(s);

    s = parse_ok("{\"recurrent\": {\"A\": {\"E\": 3, \"I\": {\"dtype\": \"float32\", \"shape\": "
                 "[4], \"base64\": \"AACAPwAAAEAAAEBAAACAQA==\"}}}}",
                 "");
    assert_int_equal(s->desc.a_kind, EIR_A_PER_ROW);
    const double want2[8] = {3, 3, 3, 3, 1, 2, 3, 4};
    assert_memory_equal(s->desc.A, want2, sizeof want2);
    eir_model_spec_free(s);

    s = parse_ok("{\"recurrent\": {\"A\": [[1, 1, 1, 2], [1, 1, 1, 2], [1, 1, 1, 2], "
                 "[0, 0, 0, 0]]}}",
                 "");
    assert_int_equal(s->desc.a_kind, EIR_A_MATRIX);
    assert_true(s->desc.A[3] == 2 && s->desc.A[15] == 0);
    eir_model_spec_free(s);

    /* A is optional for classes without gating */
    s = parse_ok("{\"class\": \"dale\", \"recurrent\": {\"A\": null, \"dale\": \"project\"}}", "");
    assert_null(s->desc.A);
    assert_int_equal(s->desc.dale, EIR_DALE_PROJECT);
    eir_model_spec_free(s);
}

static void test_conductance_form(void **state)
{
    (void)state;
    eir_model_spec *s =
        parse_ok("{\"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, 1, 0, 2], [1, 0, 1, 2],"
                 " [0, 1, 0, 2], [1, 1, 1, 0]], \"E_rev\": {\"E\": 4.5, \"I\": 0}}}",
                 "");
    assert_int_equal(s->desc.form, EIR_FORM_CONDUCTANCE);
    assert_true(s->desc.K[3] == 2);
    assert_true(s->desc.e_rev_e == 4.5 && s->desc.e_rev_i == 0);
    assert_null(s->desc.W);
    eir_model_spec_free(s);
}

static void test_input_readout_noise(void **state)
{
    (void)state;
    eir_model_spec *s =
        parse_ok("{\"input\": {\"M_in\": [[0.1], [0], [0], [0.2]]},"
                 " \"readout\": {\"W_out\": [[1, 0, 0, 0], [0, 1, 1, 0]], \"b_out\": [0.5, -0.5]},"
                 " \"noise\": {\"sigma\": 0.3}, \"description\": \"test\"}",
                 "");
    assert_true(s->desc.M_in[3] == 0.2);
    assert_int_equal(s->desc.n_out, 2);
    assert_int_equal(s->desc.readout_from, EIR_READOUT_ALL);
    assert_true(s->desc.W_out[6] == 1 && s->desc.b_out[1] == -0.5);
    assert_true(s->desc.sigma == 0.3);
    eir_model_spec_free(s);

    s = parse_ok("{\"readout\": {\"W_out\": [[1, 0, 0]], \"from\": \"E\", \"b_out\": 2}}", "");
    assert_int_equal(s->desc.n_out, 1);
    assert_int_equal(s->desc.readout_from, EIR_READOUT_E);
    assert_true(s->desc.b_out[0] == 2);
    eir_model_spec_free(s);

    /* no inputs: no input object needed; an N x 0 P is accepted */
    s = parse_ok("{\"n_inputs\": 0, \"input\": null}", "");
    assert_int_equal(s->desc.n_in, 0);
    eir_model_spec_free(s);
    s = parse_ok("{\"n_inputs\": 0, \"input\": {\"P\": [[], [], [], []]}}", "");
    eir_model_spec_free(s);
}

static void test_binary_and_nested_models_identical(void **state)
{
    (void)state;
    int64_t s44[2] = {4, 4};
    json_t *j = jt_load(BASE);
    json_object_set_new(json_object_get(j, "recurrent"), "W", jt_binary(BASE_W, 16, 1, 2, s44));
    eir_model_spec *s1 = NULL, *s2 = parse_ok(NULL, "");
    eir_error e;
    JT_OK(eir_json_parse_model(j, NULL, "", &s1, &e), e);
    assert_memory_equal(s1->desc.W, s2->desc.W, sizeof BASE_W);
    eir_model *m1, *m2;
    char h1[65], h2[65];
    JT_OK(eir_model_build(&s1->desc, &m1, &e), e);
    JT_OK(eir_model_build(&s2->desc, &m2, &e), e);
    eir_model_hash(m1, h1);
    eir_model_hash(m2, h2);
    assert_string_equal(h1, h2);
    eir_model_free(m1);
    eir_model_free(m2);
    eir_model_spec_free(s1);
    eir_model_spec_free(s2);
    json_decref(j);
}

static void test_integral_reals_accepted(void **state)
{
    (void)state;
    eir_model_spec *s =
        parse_ok("{\"populations\": {\"E\": 3.0, \"I\": 1}, \"n_inputs\": 1.0}", "");
    assert_int_equal(s->desc.n_e, 3);
    eir_model_spec_free(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Rejection                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_unknown_fields(void **state)
{
    (void)state;
    parse_err("{\"colour\": \"red\"}", "/colour", "unknown field \"colour\"|populations");
    parse_err("{\"recurrent\": {\"Wt\": 1}}", "/recurrent/Wt", "unknown field \"Wt\"|W, A, dale");
    parse_err("{\"populations\": {\"X\": 1}}", "/populations/X", "unknown field \"X\"|E, I");
    parse_err("{\"activation\": {\"name\": \"relu\", \"gain\": 2}}", "/activation/gain",
              "unknown field");
    parse_err("{\"readout\": {\"W_out\": [[1, 0, 0, 0]], \"bias\": 1}}", "/readout/bias",
              "unknown field");
    parse_err("{\"noise\": {\"sigma\": 0, \"tau\": 1}}", "/noise/tau", "unknown field");
    parse_err("{\"input\": {\"Q\": 1}}", "/input/Q", "unknown field");
    parse_err("{\"recurrent\": {\"A\": {\"E\": 1, \"I\": 1, \"X\": 1}}}", "/recurrent/A/X",
              "unknown field");
    parse_err("{\"a/b~c\": 1}", "/a~1b~0c", "unknown field \"a/b~c\"");
    /* inline model under a run: every field is prefixed */
    parse_err_lim("{\"colour\": 1}", NULL, "/model", "/model/colour", "unknown field");
    parse_err_lim("{\"recurrent\": {\"W\": [[1]]}}", NULL, "/model", "/model/recurrent/W",
                  "expected shape [4, 4], got [1, 1]");
}

static void test_wrong_types(void **state)
{
    (void)state;
    parse_err("{\"name\": 5}", "/name", "expected a string|got 5");
    parse_err("{\"description\": []}", "/description", "expected a string|an array");
    parse_err("{\"class\": \"lstm\"}", "/class", "expected one of rnn, dale, gated|\"lstm\"");
    parse_err("{\"class\": 2}", "/class", "expected one of rnn, dale, gated|got 2");
    parse_err("{\"populations\": [3, 1]}", "/populations", "expected an object|an array");
    parse_err("{\"populations\": {\"E\": \"3\"}}", "/populations/E",
              "expected an integer, got string \"3\"");
    parse_err("{\"populations\": {\"E\": 2.5}}", "/populations/E", "expected an integer, got 2.5");
    parse_err("{\"populations\": {\"I\": -1}}", "/populations/I",
              "expected an integer in [0, 20000], got -1");
    parse_err("{\"n_inputs\": true}", "/n_inputs", "expected an integer|true");
    parse_err("{\"activation\": \"relu\"}", "/activation", "expected an object|string \"relu\"");
    parse_err("{\"activation\": {\"name\": \"gelu\"}}", "/activation/name",
              "expected one of relu, tanh_rect|\"gelu\"");
    parse_err("{\"leak\": \"fast\"}", "/leak", "expected a number or an array|string \"fast\"");
    parse_err("{\"recurrent\": 3}", "/recurrent", "expected an object|got 3");
    parse_err("{\"recurrent\": {\"dale\": \"clip\"}}", "/recurrent/dale",
              "expected one of reject, project|\"clip\"");
    parse_err("{\"noise\": {\"sigma\": \"0\"}}", "/noise/sigma", "expected a finite number");
    parse_err("{\"readout\": {\"W_out\": [[1, 0, 0, 0]], \"from\": \"I\"}}", "/readout/from",
              "expected one of all, E|\"I\"");
    char longname[200];
    memset(longname, 'a', sizeof longname);
    snprintf(longname, sizeof longname, "{\"name\": \"%0150d\"}", 0);
    parse_err(longname, "/name", "at most 127 bytes");
    eir_model_spec *s = (eir_model_spec *)&s;
    eir_error e;
    json_t *arr = jt_load("[1]");
    JT_EXPECT_ERR(eir_json_parse_model(arr, NULL, "", &s, &e), e, "",
                  "expected a model object|an array");
    assert_null(s);
    json_decref(arr);
}

static void test_missing_required(void **state)
{
    (void)state;
    parse_err("{\"populations\": null}", "/populations", "missing required field");
    parse_err("{\"populations\": {\"I\": null}}", "/populations/I", "missing required field");
    parse_err("{\"leak\": null}", "/leak", "missing required field \"leak\"");
    parse_err("{\"recurrent\": null}", "/recurrent", "missing required field \"recurrent\"");
    parse_err("{\"activation\": {\"k\": 1}}", "/activation/name", "missing required field");
    parse_err("{\"input\": null}", "/input", "missing required field|n_inputs is 1");
    parse_err("{\"input\": {\"P\": null}}", "/input/P", "missing required field|n_inputs is 1");
    parse_err("{\"readout\": {\"b_out\": [1]}}", "/readout/W_out", "missing required field");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, 0, 0, 0], [0, 0, 0, 0], "
              "[0, 0, 0, 0], [0, 0, 0, 0]]}}",
              "/recurrent/E_rev", "missing required field \"E_rev\"");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, 0, 0, 0], [0, 0, 0, 0], "
              "[0, 0, 0, 0], [0, 0, 0, 0]], \"E_rev\": {\"E\": 1}}}",
              "/recurrent/E_rev/I", "missing required field");
}

static void test_a_required_for_gated(void **state)
{
    (void)state;
    parse_err("{\"recurrent\": {\"A\": null}}", "/recurrent/A",
              "missing required field \"A\"|gated");
    parse_err("{\"class\": \"gated\", \"recurrent\": {\"A\": null}}", "/recurrent/A", "gated");
}

/*
 * Fields a class has no use for are refused, naming the field, rather than ignored: A (the
 * gate's scale) on classes rnn and dale, the Dale policy on class rnn. What a class does use
 * stays accepted (dale on class dale, the conductance form and M_in on every class).
 */
static void test_class_ignored_fields(void **state)
{
    (void)state;
    static const char *const a_forms[] = {
        "1.0", "{\"E\": 1, \"I\": 0.5}",
        "[[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]"};
    char patch[256];
    for (size_t k = 0; k < sizeof a_forms / sizeof *a_forms; k++) {
        snprintf(patch, sizeof patch, "{\"class\": \"rnn\", \"recurrent\": {\"A\": %s}}",
                 a_forms[k]);
        parse_err(patch, "/recurrent/A",
                  "class rnn has no conductance gating: A applies only to class gated");
        snprintf(patch, sizeof patch, "{\"class\": \"dale\", \"recurrent\": {\"A\": %s}}",
                 a_forms[k]);
        parse_err(patch, "/recurrent/A",
                  "class dale has no conductance gating: A applies only to class gated");
    }
    /* with generated connectivity too, and under a prefix (a model inline in a run) */
    parse_err("{\"class\": \"dale\", \"recurrent\": {\"W\": null, \"generate\": {\"seed\": 1}}}",
              "/recurrent/A", "class dale has no conductance gating");
    parse_err_lim("{\"class\": \"rnn\"}", NULL, "/model", "/model/recurrent/A",
                  "class rnn has no conductance gating");
    /* the Dale policy on class rnn, which enforces no Dale's law */
    parse_err("{\"class\": \"rnn\", \"recurrent\": {\"A\": null, \"dale\": \"project\"}}",
              "/recurrent/dale",
              "class rnn does not enforce Dale's law: dale applies only to classes dale and gated");
    parse_err("{\"class\": \"rnn\", \"recurrent\": {\"A\": null, \"dale\": \"reject\"}}",
              "/recurrent/dale", "class rnn does not enforce Dale's law");
    /* what each class uses is accepted */
    eir_model_spec *s = parse_ok("{\"class\": \"rnn\", \"recurrent\": {\"A\": null}}", "");
    assert_null(s->desc.A);
    eir_model_spec_free(s);
    s = parse_ok("{\"class\": \"dale\", \"recurrent\": {\"W\": null, \"A\": null, "
                 "\"generate\": {\"seed\": 1}}}",
                 "");
    assert_true(s->generated);
    eir_model_spec_free(s);
    s = parse_ok(
        "{\"class\": \"rnn\", \"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, 1, 0, 2], "
        "[1, 0, 1, 2], [0, 1, 0, 2], [1, 1, 1, 0]], \"E_rev\": {\"E\": 1, \"I\": -1}}, "
        "\"input\": {\"M_in\": [[0.1], [0], [0], [0.2]]}}",
        "");
    assert_int_equal(s->desc.form, EIR_FORM_CONDUCTANCE);
    assert_non_null(s->desc.M_in);
    eir_model_spec_free(s);
    s = parse_ok("{\"class\": \"gated\", \"recurrent\": {\"dale\": \"project\"}}", "");
    assert_int_equal(s->desc.dale, EIR_DALE_PROJECT);
    eir_model_spec_free(s);
}

static void test_value_ranges(void **state)
{
    (void)state;
    parse_err("{\"populations\": {\"E\": 0, \"I\": 0}}", "/populations",
              "expected at least one neuron");
    parse_err("{\"leak\": 0}", "/leak", "expected a value > 0, got 0");
    parse_err("{\"leak\": [1, 1, -2, 1]}", "/leak/2", "expected a value > 0, got -2");
    parse_err("{\"recurrent\": {\"A\": -1}}", "/recurrent/A", "expected a value >= 0, got -1");
    parse_err("{\"recurrent\": {\"A\": {\"E\": [1, 1, -0.5, 1], \"I\": 1}}}", "/recurrent/A/E/2",
              "expected a value >= 0, got -0.5");
    parse_err("{\"recurrent\": {\"A\": {\"E\": 1, \"I\": -3}}}", "/recurrent/A/I",
              "expected a value >= 0, got -3");
    parse_err("{\"recurrent\": {\"A\": [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, -1], [1, 1, 1, 1]]}}",
              "/recurrent/A/2/3", ">= 0, got -1");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, -1, 0, 0], [0, 0, 0, 0], "
              "[0, 0, 0, 0], [0, 0, 0, 0]], \"E_rev\": {\"E\": 1, \"I\": -1}}}",
              "/recurrent/K/0/1", ">= 0, got -1");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, 0, 0, 0], [0, 0, 0, 0], "
              "[0, 0, 0, 0], [0, 0, 0, 0]], \"E_rev\": {\"E\": 0, \"I\": -1}}}",
              "/recurrent/E_rev/E", "> 0, got 0");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": null, \"K\": [[0, 0, 0, 0], [0, 0, 0, 0], "
              "[0, 0, 0, 0], [0, 0, 0, 0]], \"E_rev\": {\"E\": 5, \"I\": 0.5}}}",
              "/recurrent/E_rev/I", "<= 0, got 0.5");
    parse_err("{\"input\": {\"M_in\": [[0], [0], [-1], [0]]}}", "/input/M_in/2/0", ">= 0, got -1");
    parse_err("{\"noise\": {\"sigma\": -0.1}}", "/noise/sigma", ">= 0, got -0.1");
    parse_err("{\"activation\": {\"name\": \"power\", \"n\": 0}}", "/activation/n", "> 0, got 0");
    parse_err("{\"activation\": {\"name\": \"power\", \"k\": -2}}", "/activation/k", "> 0, got -2");
    parse_err("{\"activation\": {\"name\": \"relu\", \"r_max\": 0}}", "/activation/r_max",
              "> 0, got 0");
    parse_err("{\"activation\": {\"name\": \"relu\", \"k\": 2}}", "/activation/k",
              "only to activation \"power\"|\"relu\"");
    parse_err("{\"activation\": {\"name\": \"sigmoid\", \"n\": 2}}", "/activation/n",
              "only to activation \"power\"");
}

static void test_recurrent_forms_exclusive(void **state)
{
    (void)state;
    parse_err("{\"recurrent\": {\"K\": [[0]], \"E_rev\": {\"E\": 1, \"I\": 0}}}", "/recurrent",
              "exactly one of W|K|generate|more than one");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": 1}}", "/recurrent",
              "exactly one of W|got none");
    parse_err("{\"recurrent\": {\"E_rev\": {\"E\": 1, \"I\": 0}}}", "/recurrent/E_rev",
              "unknown field \"E_rev\"");
    parse_err("{\"recurrent\": {\"W\": null, \"A\": 1, \"K\": [[0, 0, 0, 0], [0, 0, 0, 0], "
              "[0, 0, 0, 0], [0, 0, 0, 0]], \"E_rev\": {\"E\": 1, \"I\": 0}}}",
              "/recurrent/A", "unknown field \"A\"|K, E_rev");
}

static void test_shapes(void **state)
{
    (void)state;
    parse_err("{\"recurrent\": {\"W\": [[0, 1, 0], [1, 0, 1], [0, 1, 0], [1, 1, 1]]}}",
              "/recurrent/W", "expected shape [4, 4], got [4, 3]");
    parse_err("{\"recurrent\": {\"W\": {\"dtype\": \"float64\", \"shape\": [4, 3], \"base64\": "
              "\"\"}}}",
              "/recurrent/W", "expected shape [4, 4], got [4, 3]");
    parse_err("{\"recurrent\": {\"W\": [[0, 1, 0, 0], [1, 0, 1], [0, 1, 0, 0], [1, 1, 1, 0]]}}",
              "/recurrent/W/1", "ragged");
    parse_err("{\"recurrent\": {\"W\": [[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], "
              "[1, 1, \"1\", 0]]}}",
              "/recurrent/W/3/2", "expected a finite number, got string \"1\"");
    parse_err("{\"leak\": [1, 2, 3]}", "/leak", "expected shape [4], got [3]");
    parse_err("{\"bias\": [[1, 2, 3, 4]]}", "/bias", "expected shape [4], got [1, 4]");
    parse_err("{\"recurrent\": {\"A\": {\"E\": [1, 2], \"I\": 1}}}", "/recurrent/A/E",
              "expected shape [4], got [2]");
    parse_err("{\"recurrent\": {\"A\": [[1, 2], [3, 4]]}}", "/recurrent/A",
              "expected shape [4, 4], got [2, 2]");
    parse_err("{\"input\": {\"P\": [[1, 0], [0, 0], [0, 0], [0, 0]]}}", "/input/P",
              "expected shape [4, 1], got [4, 2]");
    parse_err("{\"input\": {\"P\": 1}}", "/input/P", "expected shape [4, 1], got a scalar");
    parse_err("{\"input\": {\"M_in\": [[1], [0], [0]]}}", "/input/M_in",
              "expected shape [4, 1], got [3, 1]");
    parse_err("{\"readout\": {\"W_out\": [[1, 0, 0]]}}", "/readout/W_out",
              "expected shape [*, 4], got [1, 3]");
    parse_err("{\"readout\": {\"W_out\": [[1, 0, 0, 0]], \"from\": \"E\"}}", "/readout/W_out",
              "expected shape [*, 3], got [1, 4]");
    parse_err("{\"readout\": {\"W_out\": [[1, 0, 0, 0]], \"b_out\": [1, 2]}}", "/readout/b_out",
              "expected shape [1], got [2]");
    parse_err("{\"readout\": {\"W_out\": []}}", "/readout/W_out", "expected shape [*, 4], got [0]");
}

static void test_limits(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    assert_int_equal(lim.max_neurons, 20000);
    assert_int_equal(lim.max_depth, 64);
    lim.max_neurons = 3;
    parse_err_lim(NULL, &lim, "", "/populations", "at most 3 neurons|E + I = 4");
    lim.max_neurons = 2;
    parse_err_lim(NULL, &lim, "", "/populations/E", "expected an integer in [0, 2], got 3");
    eir_json_limits_default(&lim);
    lim.max_inputs = 0;
    parse_err_lim(NULL, &lim, "", "/n_inputs", "expected an integer in [0, 0], got 1");
    eir_json_limits_default(&lim);
    lim.max_outputs = 1;
    parse_err_lim("{\"readout\": {\"W_out\": [[1, 0, 0, 0], [0, 1, 0, 0]]}}", &lim, "",
                  "/readout/W_out", "expected at most 4 values, got shape [2, 4]");
    eir_json_limits_default(&lim);
    lim.max_depth = 3; /* model, recurrent, W: the rows of W are one level too deep */
    parse_err_lim(NULL, &lim, "", "/recurrent/W", "at most 3 levels of nesting");
    parse_err_lim(NULL, &lim, "/model", "/model/recurrent/W", "at most 3 levels");
}

static void test_engine_errors_prefixed(void **state)
{
    (void)state;
    /* an E column with a negative weight breaks Dale's law: the engine names the field */
    json_t *j = jt_patched(BASE, "{\"recurrent\": {\"W\": [[0, -0.5, 0, -1], [0.5, 0, 0.5, -1], "
                                 "[0, 0.5, 0, -1], [1, 1, 1, 0]]}}");
    eir_model *m = (eir_model *)&m;
    eir_model_spec *s = (eir_model_spec *)&s;
    eir_error e;
    eir_status rc = eir_json_build_model(j, NULL, "/model", &m, &s, &e);
    assert_int_equal(rc, EIR_EINVAL);
    assert_null(m);
    assert_null(s);
    assert_true(strncmp(e.field, "/model/recurrent/W", 18) == 0);
    /* gated models need non-negative rates: linear is rejected by the engine */
    json_decref(j);
    j = jt_patched(BASE, "{\"activation\": {\"name\": \"linear\"}}");
    rc = eir_json_build_model(j, NULL, "", &m, NULL, &e);
    assert_int_equal(rc, EIR_EINVAL);
    assert_true(strncmp(e.field, "/activation", 11) == 0 || strcmp(e.field, "/class") == 0);
    json_decref(j);
    /* the parse errors pass through unchanged */
    j = jt_patched(BASE, "{\"leak\": null}");
    JT_EXPECT_ERR(eir_json_build_model(j, NULL, "/model", &m, NULL, &e), e, "/model/leak",
                  "missing");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_defaults),
        cmocka_unit_test(test_build_base_and_example),
        cmocka_unit_test(test_classes_and_activations),
        cmocka_unit_test(test_leak_and_bias_broadcast),
        cmocka_unit_test(test_a_per_type_per_row_matrix),
        cmocka_unit_test(test_conductance_form),
        cmocka_unit_test(test_input_readout_noise),
        cmocka_unit_test(test_binary_and_nested_models_identical),
        cmocka_unit_test(test_integral_reals_accepted),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_a_required_for_gated),
        cmocka_unit_test(test_class_ignored_fields),
        cmocka_unit_test(test_value_ranges),
        cmocka_unit_test(test_recurrent_forms_exclusive),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_engine_errors_prefixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
