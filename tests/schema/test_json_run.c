/**
 * @file test_json_run.c
 * @brief FORMAT.md "Run" documents against a built model: every inputs and V0 form, record
 *        options, limits, the model reference, and every rejection with its field pointer.
 */
#include "json_test_util.h"

/* 3 E cells and 1 I cell, one input, one readout. */
static const char *const MODEL =
    "{\"populations\": {\"E\": 3, \"I\": 1}, \"n_inputs\": 1, \"leak\": 1.0,"
    " \"recurrent\": {\"W\": [[0, 0.5, 0, -1], [0.5, 0, 0.5, -1], [0, 0.5, 0, -1],"
    " [1, 1, 1, 0]], \"A\": 1.0},"
    " \"input\": {\"P\": [[1], [0], [0.5], [0]]},"
    " \"readout\": {\"W_out\": [[1, 1, 1, 0]]}}";

/* A run of 3 steps, one trial. */
static const char *const RUN = "{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": [[1], [0], [2]]}";

typedef struct fixture {
    eir_model *with_readout;
    eir_model *no_readout;
    eir_model *no_inputs;
} fixture;

static eir_model *build(const char *patch)
{
    json_t *j = jt_patched(MODEL, patch);
    eir_model *m = NULL;
    eir_error e;
    JT_OK(eir_json_build_model(j, NULL, "", &m, NULL, &e), e);
    json_decref(j);
    return m;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->with_readout = build(NULL);
    f->no_readout = build("{\"readout\": null}");
    f->no_inputs = build("{\"n_inputs\": 0, \"input\": null}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    eir_model_free(f->with_readout);
    eir_model_free(f->no_readout);
    eir_model_free(f->no_inputs);
    free(f);
    return 0;
}

static eir_run_spec *run_ok_lim(const eir_model *m, const char *patch, const eir_json_limits *l)
{
    json_t *j = jt_patched(RUN, patch);
    eir_run_spec *s = NULL;
    eir_error e;
    JT_OK(eir_json_parse_run(j, m, l, &s, &e), e);
    assert_non_null(s);
    json_decref(j);
    return s;
}

static eir_run_spec *run_ok(const eir_model *m, const char *patch)
{
    return run_ok_lim(m, patch, NULL);
}

static void run_err_lim(const eir_model *m, const char *patch, const eir_json_limits *lim,
                        const char *field, const char *parts)
{
    json_t *j = jt_patched(RUN, patch);
    eir_run_spec *s = (eir_run_spec *)&s;
    eir_error e;
    eir_error_clear(&e);
    JT_EXPECT_ERR(eir_json_parse_run(j, m, lim, &s, &e), e, field, parts);
    assert_null(s);
    json_decref(j);
}

static void run_err(const eir_model *m, const char *patch, const char *field, const char *parts)
{
    run_err_lim(m, patch, NULL, field, parts);
}

/* ---------------------------------------------------------------------------------------- */
/* Acceptance                                                                                */
/* ---------------------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    fixture *f = *state;
    eir_run_spec *s = run_ok(f->with_readout, NULL);
    const eir_run_desc *d = &s->desc;
    assert_true(d->dt == 0.1);
    assert_int_equal(d->integrator, EIR_INTEG_EXP_EULER);
    assert_int_equal(d->precision, EIR_F64);
    assert_int_equal(d->T, 3);
    assert_int_equal(d->B, 1);
    assert_true(d->inputs[0] == 1 && d->inputs[1] == 0 && d->inputs[2] == 2);
    assert_null(d->V0);
    assert_int_equal(d->V0_len, 0);
    assert_int_equal(d->record_mask, (1u << EIR_VAR_V) | (1u << EIR_VAR_R));
    assert_int_equal(d->record_every, 1);
    assert_null(d->neurons);
    assert_int_equal(d->n_neurons, 0);
    for (int v = 0; v < EIR_NVARS; v++)
        assert_null(d->out[v]);
    assert_false(s->has_seed);
    assert_true(s->time_limit == 0);
    eir_run_spec_free(s);
    eir_run_spec_free(NULL);
}

static void test_all_fields(void **state)
{
    fixture *f = *state;
    eir_run_spec *s = run_ok(f->with_readout,
                             "{\"integrator\": \"rk4\", \"precision\": \"float32\", \"seed\": 42,"
                             " \"time_limit\": 2.5, \"record\": {\"vars\": [\"y\", \"z\"],"
                             " \"every\": 3, \"neurons\": [3, 0]}}");
    const eir_run_desc *d = &s->desc;
    assert_int_equal(d->integrator, EIR_INTEG_RK4);
    assert_int_equal(d->precision, EIR_F32);
    assert_true(s->has_seed && d->seed == 42);
    assert_true(s->time_limit == 2.5);
    assert_int_equal(d->record_mask, (1u << EIR_VAR_Y) | (1u << EIR_VAR_Z));
    assert_int_equal(d->record_every, 3);
    assert_int_equal(d->n_neurons, 2);
    assert_true(d->neurons[0] == 3 && d->neurons[1] == 0);
    eir_run_spec_free(s);
    s = run_ok(f->with_readout, "{\"integrator\": \"euler\", \"seed\": 9223372036854775807,"
                                " \"record\": {\"vars\": []}}");
    assert_int_equal(s->desc.integrator, EIR_INTEG_EULER);
    assert_true(s->desc.seed == UINT64_C(9223372036854775807));
    assert_int_equal(s->desc.record_mask, 0);
    eir_run_spec_free(s);
}

static void test_inputs_forms(void **state)
{
    fixture *f = *state;
    /* B x T x n_in, nested */
    eir_run_spec *s = run_ok(f->with_readout, "{\"inputs\": [[[1], [2]], [[3], [4]], [[5], [6]]]}");
    assert_int_equal(s->desc.B, 3);
    assert_int_equal(s->desc.T, 2);
    for (int i = 0; i < 6; i++)
        assert_true(s->desc.inputs[i] == i + 1);
    eir_run_spec_free(s);

    /* binary T x n_in (float32) and B x T x n_in (float64) */
    double x[6] = {1, 2, 3, 4, 5, 6};
    int64_t s2[2] = {6, 1}, s3[3] = {2, 3, 1};
    char *b2 = jt_binary_text(x, 6, 1, 2, s2), *b3 = jt_binary_text(x, 6, 0, 3, s3);
    char patch[1024];
    snprintf(patch, sizeof patch, "{\"inputs\": %s}", b2);
    s = run_ok(f->with_readout, patch);
    assert_int_equal(s->desc.B, 1);
    assert_int_equal(s->desc.T, 6);
    assert_memory_equal(s->desc.inputs, x, sizeof x);
    eir_run_spec_free(s);
    snprintf(patch, sizeof patch, "{\"inputs\": %s}", b3);
    s = run_ok(f->with_readout, patch);
    assert_int_equal(s->desc.B, 2);
    assert_int_equal(s->desc.T, 3);
    assert_memory_equal(s->desc.inputs, x, sizeof x);
    eir_run_spec_free(s);
    free(b2);
    free(b3);

    /* zero input */
    s = run_ok(f->with_readout, "{\"inputs\": {\"steps\": 50, \"trials\": 4}}");
    assert_int_equal(s->desc.T, 50);
    assert_int_equal(s->desc.B, 4);
    assert_null(s->desc.inputs);
    eir_run_spec_free(s);
    s = run_ok(f->with_readout, "{\"inputs\": {\"steps\": 7}}");
    assert_int_equal(s->desc.T, 7);
    assert_int_equal(s->desc.B, 1);
    eir_run_spec_free(s);
}

static void test_inputs_without_channels(void **state)
{
    fixture *f = *state;
    eir_run_spec *s = run_ok(f->no_inputs, "{\"inputs\": {\"steps\": 5, \"trials\": 2}}");
    assert_int_equal(s->desc.T, 5);
    assert_int_equal(s->desc.B, 2);
    eir_run_spec_free(s);
    /* T x 0 nested lists and a [B, T, 0] binary array are unambiguous too */
    s = run_ok(f->no_inputs, "{\"inputs\": [[], [], []]}");
    assert_int_equal(s->desc.T, 3);
    assert_int_equal(s->desc.B, 1);
    assert_null(s->desc.inputs);
    eir_run_spec_free(s);
    s = run_ok(f->no_inputs,
               "{\"inputs\": {\"dtype\": \"float64\", \"shape\": [2, 4, 0], \"base64\": \"\"}}");
    assert_int_equal(s->desc.T, 4);
    assert_int_equal(s->desc.B, 2);
    eir_run_spec_free(s);
    run_err(f->no_inputs, NULL, "/inputs", "expected shape [T, 0] (one trial) or [B, T, 0]");
}

static void test_v0_forms(void **state)
{
    fixture *f = *state;
    eir_run_spec *s = run_ok(f->with_readout, "{\"V0\": 0.5}");
    assert_int_equal(s->desc.V0_len, 1);
    assert_true(s->desc.V0[0] == 0.5);
    eir_run_spec_free(s);
    s = run_ok(f->with_readout, "{\"V0\": [1, 2, 3, 4]}");
    assert_int_equal(s->desc.V0_len, 4);
    assert_true(s->desc.V0[3] == 4);
    eir_run_spec_free(s);
    s = run_ok(f->with_readout, "{\"inputs\": [[[1]], [[2]]], \"V0\": [[1, 2, 3, 4], "
                                "[5, 6, 7, 8]]}");
    assert_int_equal(s->desc.V0_len, 8);
    assert_true(s->desc.V0[7] == 8);
    eir_run_spec_free(s);
    double v[4] = {0.25, 0.5, 0.75, 1};
    int64_t sh[1] = {4};
    char *b = jt_binary_text(v, 4, 1, 1, sh), patch[512];
    snprintf(patch, sizeof patch, "{\"V0\": %s}", b);
    s = run_ok(f->with_readout, patch);
    assert_int_equal(s->desc.V0_len, 4);
    assert_memory_equal(s->desc.V0, v, sizeof v);
    eir_run_spec_free(s);
    free(b);
}

static void test_examples_and_engine_run(void **state)
{
    (void)state;
    json_t *mj = jt_load_file("schema/examples/model_small.json");
    json_t *rj = jt_load_file("schema/examples/run_small.json");
    eir_model *m;
    eir_run_spec *s;
    eir_error e;
    JT_OK(eir_json_build_model(mj, NULL, "", &m, NULL, &e), e);
    JT_OK(eir_json_parse_run(rj, m, NULL, &s, &e), e);
    assert_int_equal(s->desc.T, 20);
    assert_int_equal(s->desc.B, 1);
    assert_true(s->has_seed);
    /* the parsed description runs as is once the caller adds output buffers */
    double *out[EIR_NVARS] = {0};
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(s->desc.record_mask & (1u << v))) continue;
        size_t n = eir_run_out_len(m, &s->desc, (eir_var)v);
        assert_true(n > 0);
        out[v] = calloc(n, sizeof(double));
        s->desc.out[v] = out[v];
    }
    eir_run_result res;
    JT_OK(eir_run(m, &s->desc, &res, &e), e);
    assert_int_equal(res.steps_done, 20);
    assert_false(res.diverged);
    for (int v = 0; v < EIR_NVARS; v++)
        free(out[v]);
    eir_run_spec_free(s);
    eir_model_free(m);
    json_decref(mj);
    json_decref(rj);
}

/* ---------------------------------------------------------------------------------------- */
/* Model reference                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_model_ref(void **state)
{
    (void)state;
    const char *id;
    const json_t *inl;
    eir_error e;
    json_t *j = jt_load(RUN);
    JT_OK(eir_json_run_model_ref(j, &id, &inl, &e), e);
    assert_string_equal(id, "m_1");
    assert_null(inl);
    json_decref(j);

    j = jt_patched(RUN, "{\"model_id\": null, \"model\": {\"populations\": {\"E\": 1, \"I\": 0}}}");
    JT_OK(eir_json_run_model_ref(j, &id, &inl, &e), e);
    assert_null(id);
    assert_true(inl == json_object_get(j, "model"));
    json_decref(j);

    j = jt_patched(RUN, "{\"model\": {}}");
    JT_EXPECT_ERR(eir_json_run_model_ref(j, &id, &inl, &e), e, "/model",
                  "exactly one of model_id and model|both");
    json_decref(j);
    j = jt_patched(RUN, "{\"model_id\": null}");
    JT_EXPECT_ERR(eir_json_run_model_ref(j, &id, &inl, &e), e, "/model_id",
                  "missing required field|model");
    json_decref(j);
    j = jt_patched(RUN, "{\"model_id\": 17}");
    JT_EXPECT_ERR(eir_json_run_model_ref(j, &id, &inl, &e), e, "/model_id",
                  "expected a non-empty string, got 17");
    json_decref(j);
    j = jt_patched(RUN, "{\"model_id\": \"\"}");
    JT_EXPECT_ERR(eir_json_run_model_ref(j, &id, &inl, &e), e, "/model_id", "non-empty");
    json_decref(j);
    j = jt_patched(RUN, "{\"model_id\": null, \"model\": [1]}");
    JT_EXPECT_ERR(eir_json_run_model_ref(j, &id, &inl, &e), e, "/model",
                  "expected a model object, got an array");
    assert_null(id);
    assert_null(inl);
    json_decref(j);
}

static void test_inline_model_errors_prefixed(void **state)
{
    (void)state;
    /* the way a caller handles an inline model: its errors live under /model */
    json_t *j = jt_patched(RUN, "{\"model_id\": null}");
    json_t *model = jt_patched(MODEL, "{\"leak\": -1}");
    json_object_set_new(j, "model", model);
    const char *id;
    const json_t *inl;
    eir_model *m = NULL;
    eir_error e;
    JT_OK(eir_json_run_model_ref(j, &id, &inl, &e), e);
    JT_EXPECT_ERR(eir_json_build_model(inl, NULL, "/model", &m, NULL, &e), e, "/model/leak",
                  "> 0, got -1");
    json_decref(j);
}

/* ---------------------------------------------------------------------------------------- */
/* Rejection                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_unknown_and_types(void **state)
{
    fixture *f = *state;
    eir_model *m = f->with_readout;
    run_err(m, "{\"steps\": 5}", "/steps", "unknown field \"steps\"|dt, integrator");
    run_err(m, "{\"record\": {\"var\": [\"V\"]}}", "/record/var", "unknown field \"var\"");
    run_err(m, "{\"inputs\": {\"steps\": 5, \"batch\": 2}}", "/inputs/batch",
            "unknown field \"batch\"|steps, trials");
    run_err(m, "{\"integrator\": \"rk45\"}", "/integrator",
            "expected one of exp_euler, euler, rk4, got string \"rk45\"");
    run_err(m, "{\"precision\": \"float16\"}", "/precision",
            "expected one of float64, float32|\"float16\"");
    run_err(m, "{\"record\": [\"V\"]}", "/record", "expected an object|an array");
    run_err(m, "{\"record\": {\"vars\": \"V\"}}", "/record/vars", "expected a list");
    run_err(m, "{\"record\": {\"vars\": [\"V\", \"I\"]}}", "/record/vars/1",
            "expected one of V, r, z, y, got string \"I\"");
    run_err(m, "{\"seed\": -5}", "/seed",
            "expected an integer from 0 to 2^63-1 (9223372036854775807), got -5");
    run_err(m, "{\"seed\": \"7\"}", "/seed", "expected an integer");
    run_err(m, "{\"time_limit\": 0}", "/time_limit", "> 0 seconds, got 0");
    run_err(m, "{\"time_limit\": \"1s\"}", "/time_limit", "expected a finite number");
    json_t *arr = jt_load("[]");
    eir_run_spec *s;
    eir_error e;
    JT_EXPECT_ERR(eir_json_parse_run(arr, m, NULL, &s, &e), e, "", "expected a run object");
    json_decref(arr);
}

static void test_bad_dt(void **state)
{
    fixture *f = *state;
    eir_model *m = f->with_readout;
    run_err(m, "{\"dt\": null}", "/dt", "missing required field \"dt\"");
    run_err(m, "{\"dt\": 0}", "/dt", "expected a step dt > 0, got 0");
    run_err(m, "{\"dt\": -0.5}", "/dt", "> 0, got -0.5");
    run_err(m, "{\"dt\": \"0.1\"}", "/dt", "expected a finite number, got string \"0.1\"");
}

static void test_bad_inputs(void **state)
{
    fixture *f = *state;
    eir_model *m = f->with_readout;
    run_err(m, "{\"inputs\": null}", "/inputs", "missing required field \"inputs\"|steps");
    run_err(m, "{\"inputs\": [[1, 2], [3, 4]]}", "/inputs",
            "expected shape [T, 1] (one trial) or [B, T, 1] (B trials), got [2, 2]");
    run_err(m, "{\"inputs\": [1, 2, 3]}", "/inputs", "expected shape [T, 1]|got [3]");
    run_err(m, "{\"inputs\": 1}", "/inputs", "got a number");
    run_err(m, "{\"inputs\": [[[[1]]]]}", "/inputs", "got [1, 1, 1, 1]");
    run_err(m, "{\"inputs\": {\"dtype\": \"float64\", \"shape\": [3, 2], \"base64\": \"\"}}",
            "/inputs", "expected shape [T, 1]|got [3, 2]");
    run_err(m, "{\"inputs\": {\"dtype\": \"float64\", \"shape\": [3, 1], \"base64\": \"AAAA\"}}",
            "/inputs/base64", "expected 24 bytes|got 3 bytes");
    run_err(m, "{\"inputs\": [[1], [2, 3]]}", "/inputs/1", "ragged");
    run_err(m, "{\"inputs\": [[[1], [2]], [[3]]]}", "/inputs/1", "ragged|expected 2 elements");
    run_err(m, "{\"inputs\": [[1], [\"2\"]]}", "/inputs/1/0", "expected a finite number");
    run_err(m, "{\"inputs\": []}", "/inputs", "got [0]");
    run_err(m, "{\"inputs\": [[[1]], []]}", "/inputs/1", "ragged");
    run_err(m, "{\"inputs\": {\"dtype\": \"float64\", \"shape\": [0, 1], \"base64\": \"\"}}",
            "/inputs", "between 1 and|got T = 0");
    run_err(m, "{\"inputs\": {\"dtype\": \"float64\", \"shape\": [0, 3, 1], \"base64\": \"\"}}",
            "/inputs", "got B = 0");
    run_err(m, "{\"inputs\": {\"steps\": 0}}", "/inputs/steps", "expected an integer in [1, ");
    run_err(m, "{\"inputs\": {\"trials\": 2}}", "/inputs/steps", "missing required field");
    run_err(m, "{\"inputs\": {\"steps\": 5, \"trials\": 0}}", "/inputs/trials",
            "expected an integer in [1, 4096], got 0");
}

static void test_bad_v0(void **state)
{
    fixture *f = *state;
    eir_model *m = f->with_readout;
    run_err(m, "{\"V0\": [1, 2, 3]}", "/V0",
            "expected a number, shape [4] (N) or [1, 4] (B x N), got [3]");
    run_err(m, "{\"V0\": [[1, 2, 3, 4], [1, 2, 3, 4]]}", "/V0", "[1, 4] (B x N), got [2, 4]");
    run_err(m, "{\"V0\": [1, 2, \"x\", 4]}", "/V0/2", "expected a finite number");
    run_err(m, "{\"V0\": \"zero\"}", "/V0", "expected a number or an array");
    run_err(m,
            "{\"V0\": {\"dtype\": \"float32\", \"shape\": [4], \"base64\": "
            "\"AADAfwAAAAAAAAAAAAAAAA==\"}}",
            "/V0", "expected finite values, got NaN at flat index 0");
}

static void test_bad_record(void **state)
{
    fixture *f = *state;
    run_err(f->no_readout, "{\"record\": {\"vars\": [\"V\", \"y\"]}}", "/record/vars/1",
            "readout|got string \"y\"");
    run_err(f->with_readout, "{\"record\": {\"vars\": [\"V\", \"r\", \"V\"]}}", "/record/vars/2",
            "each variable once|\"V\" twice");
    run_err(f->with_readout, "{\"record\": {\"every\": 0}}", "/record/every",
            "expected an integer >= 1, got 0");
    run_err(f->with_readout, "{\"record\": {\"every\": 4}}", "/record/every",
            "every <= T = 3|got 4");
    run_err(f->with_readout, "{\"record\": {\"neurons\": [0, 2, 0]}}", "/record/neurons/2",
            "distinct|got 0 again|position 0");
    run_err(f->with_readout, "{\"record\": {\"neurons\": [1, 4]}}", "/record/neurons/1",
            "expected an integer in [0, 3], got 4");
    run_err(f->with_readout, "{\"record\": {\"neurons\": [-1]}}", "/record/neurons/0",
            "in [0, 3], got -1");
    run_err(f->with_readout, "{\"record\": {\"neurons\": []}}", "/record/neurons",
            "1 to 4 distinct neuron indices, got a list of 0");
    run_err(f->with_readout, "{\"record\": {\"neurons\": [0, 1, 2, 3, 0]}}", "/record/neurons",
            "1 to 4 distinct|got a list of 5");
    run_err(f->with_readout, "{\"record\": {\"neurons\": 2}}", "/record/neurons", "got 2");
    run_err(f->with_readout, "{\"record\": {\"neurons\": [0.5]}}", "/record/neurons/0",
            "expected an integer, got 0.5");
}

static void test_limits(void **state)
{
    fixture *f = *state;
    eir_model *m = f->with_readout;
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    lim.max_steps = 2;
    run_err_lim(m, NULL, &lim, "/inputs", "between 1 and 2 steps, got T = 3");
    run_err_lim(m, "{\"inputs\": {\"steps\": 3}}", &lim, "/inputs/steps", "in [1, 2], got 3");
    eir_json_limits_default(&lim);
    lim.max_trials = 2;
    run_err_lim(m, "{\"inputs\": [[[1]], [[2]], [[3]]]}", &lim, "/inputs",
                "between 1 and 2 trials, got B = 3");
    run_err_lim(m, "{\"inputs\": {\"steps\": 3, \"trials\": 3}}", &lim, "/inputs/trials",
                "in [1, 2], got 3");
    eir_json_limits_default(&lim);
    lim.max_input_values = 2;
    run_err_lim(m, NULL, &lim, "/inputs", "at most 2 input values|got 3");
    /* a claimed binary shape over the limit is rejected before its data are even checked */
    eir_json_limits_default(&lim);
    run_err_lim(m,
                "{\"inputs\": {\"dtype\": \"float64\", \"shape\": [4096, 10000000, 1], "
                "\"base64\": \"\"}}",
                &lim, "/inputs", "at most 268435456 input values");
    /* recorded values: V and r of 4 cells over 3 steps = 24 */
    lim.max_recorded_values = 23;
    run_err_lim(m, NULL, &lim, "/record", "at most 23 recorded values|got 24");
    eir_run_spec *s = run_ok_lim(m,
                                 "{\"record\": {\"vars\": [\"V\", \"r\", \"y\"],"
                                 " \"neurons\": [0, 1, 2]}}",
                                 &lim); /* 9 + 9 + 3 = 21 */
    eir_run_spec_free(s);
    run_err_lim(m, "{\"record\": {\"vars\": [\"V\", \"r\", \"z\", \"y\"], \"neurons\": [0, 1, 2]}}",
                &lim, "/record", "got 30");
    s = run_ok_lim(m, "{\"record\": {\"vars\": [\"V\", \"r\", \"z\", \"y\"], \"every\": 2}}", &lim);
    eir_run_spec_free(s); /* T' = 1: 4 + 4 + 4 + 1 */
    eir_json_limits_default(&lim);
    lim.max_depth = 2;
    run_err_lim(m, NULL, &lim, "/inputs", "at most 2 levels of nesting");
    /* steps-only runs: recorded values scale with T without any input array */
    eir_json_limits_default(&lim);
    run_err_lim(m, "{\"inputs\": {\"steps\": 10000000, \"trials\": 4096}}", &lim, "/record",
                "at most 268435456 recorded values");
}

/* ---------------------------------------------------------------------------------------- */
/* Seeds at the edge of their range, as eir_json_loadb() reads them                          */
/* ---------------------------------------------------------------------------------------- */

/** RUN with "seed": @p seed_text (JSON text, parsed as the daemon does), then parse_run. */
static eir_status run_with_seed(const eir_model *m, const char *seed_text, eir_run_spec **s,
                                eir_error *e)
{
    char text[256];
    snprintf(text, sizeof text,
             "{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": [[1], [0], [2]],"
             " \"seed\": %s}",
             seed_text);
    json_error_t je;
    json_t *j = eir_json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        print_error("%s: not read: %s\n", text, je.text);
        fail();
    }
    eir_status st = eir_json_parse_run(j, m, NULL, s, e);
    json_decref(j);
    return st;
}

static void test_seed_edges(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text, *got;
    } bad[] = {
        {"9223372036854775808", "got 9223372036854775808"},   /* 2^63 */
        {"18446744073709551616", "got 18446744073709551616"}, /* 2^64 */
        {"18446744073709551615", "got 18446744073709551616"}, /* 2^64-1, as a double */
        {"-9223372036854775809", "got -9223372036854775808"}, /* below INT64_MIN */
        {"9.3e18", "got 9300000000000000000"},
        {"1e19", "got 10000000000000000000"},
        {"-1", "got -1"},
        {"1.5", "got 1.5"},
        {"\"7\"", "got string \"7\""},
        {"null", "got null"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eir_run_spec *s = (eir_run_spec *)&s;
        eir_error e;
        eir_error_clear(&e);
        JT_EXPECT_ERR(run_with_seed(f->with_readout, bad[i].text, &s, &e), e, "/seed",
                      "an integer from 0 to 2^63-1 (9223372036854775807)");
        if (!strstr(e.message, bad[i].got)) {
            print_error("seed %s: \"%s\" lacks \"%s\"\n", bad[i].text, e.message, bad[i].got);
            fail();
        }
        assert_null(s);
    }
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"9223372036854775807", UINT64_C(9223372036854775807)},
        {"9.2e18", UINT64_C(9200000000000000000)},
        {"7.0", 7},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        eir_run_spec *s = NULL;
        eir_error e;
        JT_OK(run_with_seed(f->with_readout, good[i].text, &s, &e), e);
        assert_true(s->has_seed);
        assert_true(s->desc.seed == good[i].want);
        eir_run_spec_free(s);
    }
}

/* eir_json_loadb: integer literals beyond int64_t become reals; nothing else changes. */
static void test_loadb_big_integers(void **state)
{
    (void)state;
    json_error_t je;
    const char *text = "{\"12345678901234567890\": \"-99999999999999999999 \\\" 1e999\","
                       " \"a\": [9223372036854775807, -9223372036854775808, 9223372036854775808,"
                       " -9223372036854775809, 100000000000000000000, 1.5, 2e3]}";
    json_t *j = eir_json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "12345678901234567890")),
                        "-99999999999999999999 \" 1e999");
    json_t *a = json_object_get(j, "a");
    assert_int_equal(json_array_size(a), 7);
    assert_true(json_is_integer(json_array_get(a, 0)));
    assert_true(json_integer_value(json_array_get(a, 0)) == INT64_MAX);
    assert_true(json_is_integer(json_array_get(a, 1)));
    assert_true(json_integer_value(json_array_get(a, 1)) == INT64_MIN);
    assert_true(json_is_real(json_array_get(a, 2)));
    assert_true(json_real_value(json_array_get(a, 2)) == 9223372036854775808.0);
    assert_true(json_real_value(json_array_get(a, 3)) == -9223372036854775808.0);
    assert_true(json_real_value(json_array_get(a, 4)) == 1e20);
    assert_true(json_real_value(json_array_get(a, 5)) == 1.5);
    assert_true(json_real_value(json_array_get(a, 6)) == 2e3);
    json_decref(j);

    /* A big integer beside a syntax error: the first error, at its place in the text. */
    const char *broken = "{\"seed\": 99999999999999999999, \"x\": }";
    assert_null(eir_json_loadb(broken, strlen(broken), 0, &je));
    assert_int_equal(json_error_code(&je), json_error_numeric_overflow);
    assert_int_equal(je.column, 29);
    /* Too large even for a double, and a real overflow: still refused. */
    const char *huge = "{\"a\": 1e400}";
    assert_null(eir_json_loadb(huge, strlen(huge), 0, &je));
    assert_int_equal(json_error_code(&je), json_error_numeric_overflow);
    char big[420] = "[1";
    memset(big + 2, '0', 400);
    strcpy(big + 402, "]");
    assert_null(eir_json_loadb(big, strlen(big), 0, &je));
    assert_int_equal(json_error_code(&je), json_error_numeric_overflow);
    /* Valid documents and other errors are json_loadb's. */
    assert_null(eir_json_loadb("{\"a\": 1,}", 9, 0, &je));
    assert_int_equal(json_error_code(&je), json_error_invalid_syntax);
    assert_null(eir_json_loadb("{\"a\": 1, \"a\": 2}", 16, JSON_REJECT_DUPLICATES, &je));
    assert_int_equal(json_error_code(&je), json_error_duplicate_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_inputs_forms),
        cmocka_unit_test(test_inputs_without_channels),
        cmocka_unit_test(test_v0_forms),
        cmocka_unit_test(test_examples_and_engine_run),
        cmocka_unit_test(test_model_ref),
        cmocka_unit_test(test_inline_model_errors_prefixed),
        cmocka_unit_test(test_unknown_and_types),
        cmocka_unit_test(test_bad_dt),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_bad_v0),
        cmocka_unit_test(test_bad_record),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_seed_edges),
        cmocka_unit_test(test_loadb_big_integers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
