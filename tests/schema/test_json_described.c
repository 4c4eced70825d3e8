/**
 * @file test_json_described.c
 * @brief Issue 12's run fields: described inputs (segments, ramps, noise) with their limits and
 *        errors, "V0" naming another run and eir_run_spec_set_V0(), the "metrics" request, and
 *        eir_json_metrics() (NaN -> null).
 */
#include "json_test_util.h"

/* 3 E cells and 1 I cell, two inputs. */
static const char *const MODEL =
    "{\"populations\": {\"E\": 3, \"I\": 1}, \"n_inputs\": 2, \"leak\": 1.0,"
    " \"recurrent\": {\"W\": [[0, 0.5, 0, -1], [0.5, 0, 0.5, -1], [0, 0.5, 0, -1],"
    " [1, 1, 1, 0]], \"A\": 1.0},"
    " \"input\": {\"P\": [[1, 0], [0, 1], [0.5, 0], [0, 0]]}}";

/* 1000 steps of 4 trials, the example. */
static const char *const RUN =
    "{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": {\"steps\": 1000, \"trials\": 4,"
    " \"segments\": [{\"from\": 0, \"to\": 200, \"value\": [0, 0]},"
    "  {\"from\": 200, \"to\": 600, \"value\": [[1, 0], [2, 0], [3, 0], [4, 0]]},"
    "  {\"from\": 600, \"to\": 1000, \"value\": [1, 0], \"to_value\": 0}],"
    " \"noise\": {\"sigma\": 0.1, \"seed\": 7}}}";

/* RUN with the merge patch @p patch, whose "inputs" (when given) replaces RUN's whole. */
static json_t *patched(const char *patch)
{
    json_t *j = jt_load(RUN);
    if (!patch) return j;
    json_t *p = jt_load(patch);
    if (json_object_get(p, "inputs")) json_object_del(j, "inputs");
    jt_merge(j, p);
    json_decref(p);
    return j;
}

static int setup(void **state)
{
    json_t *j = jt_load(MODEL);
    eir_model *m = NULL;
    eir_error e;
    JT_OK(eir_json_build_model(j, NULL, "", &m, NULL, &e), e);
    json_decref(j);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    eir_model_free(*state);
    return 0;
}

static eir_run_spec *run_ok_lim(const eir_model *m, const char *patch, const eir_json_limits *l)
{
    json_t *j = patched(patch);
    eir_run_spec *s = NULL;
    eir_error e;
    JT_OK(eir_json_parse_run(j, m, l, &s, &e), e);
    /* the shape-only parse agrees */
    eir_model_shape shape = {.n = 4, .n_e = 3, .n_i = 1, .n_in = 2};
    eir_run_spec *s2 = NULL;
    JT_OK(eir_json_parse_run_shape(j, &shape, l, &s2, &e), e);
    eir_run_spec_free(s2);
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
    json_t *j = patched(patch);
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

static void test_described_inputs(void **state)
{
    eir_run_spec *s = run_ok(*state, NULL);
    const eir_run_desc *d = &s->desc;
    assert_int_equal(d->T, 1000);
    assert_int_equal(d->B, 4);
    assert_null(d->inputs);
    const eir_input_desc *in = d->input_desc;
    assert_non_null(in);
    assert_int_equal(in->n_segments, 3);
    assert_true(in->noise_sigma == 0.1);
    assert_true(in->noise_seed == 7);
    const eir_input_segment *g = in->segments;
    assert_true(g[0].from == 0 && g[0].to == 200 && g[0].value_rows == 1 && !g[0].to_value);
    assert_true(g[0].value[0] == 0 && g[0].value[1] == 0);
    assert_true(g[1].from == 200 && g[1].to == 600 && g[1].value_rows == 4);
    for (int b = 0; b < 4; b++)
        assert_true(g[1].value[2 * b] == b + 1 && g[1].value[2 * b + 1] == 0);
    assert_true(g[2].value_rows == 1 && g[2].value[0] == 1 && g[2].value[1] == 0);
    assert_non_null(g[2].to_value);
    assert_int_equal(g[2].to_value_rows, 1);
    assert_true(g[2].to_value[0] == 0 && g[2].to_value[1] == 0);
    eir_run_spec_free(s);

    /* a number fills every channel; binary arrays; a [1, n_in] row; overlapping segments */
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t sh[2] = {4, 2};
    char *bin = jt_binary_text(x, 8, 0, 2, sh), patch[1024];
    snprintf(patch, sizeof patch,
             "{\"inputs\": {\"steps\": 10, \"trials\": 4, \"segments\": ["
             "{\"from\": 0, \"to\": 10, \"value\": 2.5},"
             "{\"from\": 5, \"to\": 7, \"value\": [[1, 2]], \"to_value\": %s}]}}",
             bin);
    free(bin);
    s = run_ok(*state, patch);
    in = s->desc.input_desc;
    assert_int_equal(in->n_segments, 2);
    assert_true(in->noise_sigma == 0);
    assert_true(in->segments[0].value[0] == 2.5 && in->segments[0].value[1] == 2.5);
    assert_int_equal(in->segments[1].value_rows, 1);
    assert_int_equal(in->segments[1].to_value_rows, 4);
    assert_memory_equal(in->segments[1].to_value, x, sizeof x);
    eir_run_spec_free(s);

    /* no segment and no noise: zero input as before; sigma 0 needs no seed */
    s = run_ok(*state,
               "{\"inputs\": {\"steps\": 10, \"segments\": [], \"noise\": {\"sigma\": 0}}}");
    assert_null(s->desc.input_desc);
    assert_int_equal(s->desc.B, 1);
    eir_run_spec_free(s);
    /* noise alone */
    s = run_ok(*state, "{\"inputs\": {\"steps\": 10, \"noise\": {\"sigma\": 1, \"seed\": 0}}}");
    assert_non_null(s->desc.input_desc);
    assert_int_equal(s->desc.input_desc->n_segments, 0);
    eir_run_spec_free(s);
}

static void test_described_errors(void **state)
{
    const eir_model *m = *state;
    run_err(m,
            "{\"inputs\": {\"steps\": 1000, \"trials\": 4, \"segments\": [{\"from\": 0, \"to\": 1,"
            " \"value\": 0}, {\"from\": 0, \"to\": 1, \"value\": 0}, {\"from\": 0, \"to\": 1,"
            " \"value\": 0}, {\"from\": 900, \"to\": 1200, \"value\": 0}]}}",
            "/inputs/segments/3/to", "to (1200) is past steps (1000)");
    run_err(m,
            "{\"inputs\": {\"steps\": 1000, \"trials\": 4, \"segments\": [{\"from\": 0, \"to\": 1,"
            " \"value\": 0}, {\"from\": 0, \"to\": 1, \"value\": [1, 2, 3]}]}}",
            "/inputs/segments/1/value",
            "expected a number, 2 values (n_inputs) or 4 x 2 (trials x n_inputs), got 3");
    run_err(m,
            "{\"inputs\": {\"steps\": 10, \"trials\": 4, \"segments\": [{\"from\": 0, \"to\": 1,"
            " \"value\": [[1, 2], [3, 4]]}]}}",
            "/inputs/segments/0/value", "4 x 2|got [2, 2]");
    run_err(m,
            "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 0, \"to\": 1, \"value\": 0,"
            " \"to_value\": [1]}]}}",
            "/inputs/segments/0/to_value", "2 values|got 1");
    run_err(m,
            "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 0, \"to\": 1, \"value\": [1, "
            "\"a\"]}]}}",
            "/inputs/segments/0/value/1", "number");
    run_err(
        m,
        "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 10, \"to\": 11, \"value\": 0}]}}",
        "/inputs/segments/0/from", "from (10) is not before steps (10)");
    run_err(m,
            "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 5, \"to\": 5, \"value\": 0}]}}",
            "/inputs/segments/0/to", "to > from (5)|got 5");
    run_err(
        m, "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": -1, \"to\": 5, \"value\": 0}]}}",
        "/inputs/segments/0/from", "integer");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"segments\": [{\"to\": 5, \"value\": 0}]}}",
            "/inputs/segments/0/from", "missing");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 0, \"value\": 0}]}}",
            "/inputs/segments/0/to", "missing");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 0, \"to\": 5}]}}",
            "/inputs/segments/0/value", "missing");
    run_err(m,
            "{\"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 0, \"to\": 5, \"value\": 0, "
            "\"ramp\": 1}]}}",
            "/inputs/segments/0/ramp", "unknown field");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"segments\": [3]}}", "/inputs/segments/0", "segment");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"segments\": {}}}", "/inputs/segments",
            "list of at most 100000 segments");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"extra\": 1}}", "/inputs/extra",
            "unknown field|segments|noise");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"noise\": {\"sigma\": 0.1}}}", "/inputs/noise/seed",
            "missing|seed|sigma > 0");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"noise\": {\"sigma\": -0.1, \"seed\": 1}}}",
            "/inputs/noise/sigma", ">= 0|-0.1");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"noise\": {\"sigma\": 1, \"seed\": -1}}}",
            "/inputs/noise/seed", "0 to 2^63-1");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"noise\": {\"seed\": 1}}}", "/inputs/noise/sigma",
            "missing");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"noise\": 0.1}}", "/inputs/noise", "sigma");
    run_err(m, "{\"inputs\": {\"steps\": 10, \"noise\": {\"sigma\": 1, \"seed\": 1, \"x\": 1}}}",
            "/inputs/noise/x", "unknown field");
}

static void test_described_limits(void **state)
{
    const eir_model *m = *state;
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    /* trials x segments x n_inputs counted before anything is allocated: 4 x 3 x 2 = 24 */
    lim.max_input_values = 24;
    eir_run_spec_free(run_ok_lim(m, NULL, &lim));
    lim.max_input_values = 23;
    run_err_lim(m, NULL, &lim, "/inputs/segments", "at most 23|trials x segments x n_inputs|24");
    /* more than EIR_MAX_INPUT_SEGMENTS segments: refused by their count */
    json_t *j = jt_load(RUN), *segs = json_array();
    for (int k = 0; k <= EIR_MAX_INPUT_SEGMENTS; k++)
        json_array_append_new(segs, json_null());
    json_object_set_new(json_object_get(j, "inputs"), "segments", segs);
    eir_run_spec *s = NULL;
    eir_error e;
    JT_EXPECT_ERR(eir_json_parse_run(j, m, NULL, &s, &e), e, "/inputs/segments",
                  "at most 100000|a list of 100001");
    json_decref(j);
}

static void test_v0_from_run(void **state)
{
    const eir_model *m = *state;
    const char *id = "r_0123456789abcdef01234567";
    char patch[256];
    snprintf(patch, sizeof patch, "{\"V0\": {\"run_id\": \"%s\"}}", id);
    eir_run_spec *s = run_ok(m, patch);
    assert_true(s->V0_from_run);
    assert_string_equal(s->V0_run_id, id);
    assert_int_equal(s->V0_trial, -1);
    assert_null(s->desc.V0);
    /* the caller supplies the state: N values, or B x N */
    eir_error e;
    double v[16];
    for (int i = 0; i < 16; i++)
        v[i] = i * 0.5;
    JT_OK(eir_run_spec_set_V0(s, v, 4, 4, &e), e);
    assert_int_equal(s->desc.V0_len, 4);
    assert_memory_equal(s->desc.V0, v, 4 * sizeof(double));
    JT_OK(eir_run_spec_set_V0(s, v, 16, 4, &e), e);
    assert_int_equal(s->desc.V0_len, 16);
    assert_memory_equal(s->desc.V0, v, sizeof v);
    JT_EXPECT_ERR(eir_run_spec_set_V0(s, v, 8, 4, &e), e, "/V0", "4 values (N) or 16|got 8");
    assert_int_equal(s->desc.V0_len, 16); /* unchanged */
    eir_run_spec_free(s);

    snprintf(patch, sizeof patch, "{\"V0\": {\"run_id\": \"%s\", \"trial\": 2}}", id);
    s = run_ok(m, patch);
    assert_int_equal(s->V0_trial, 2);
    eir_run_spec_free(s);
    snprintf(patch, sizeof patch, "{\"V0\": {\"run_id\": \"%s\", \"trial\": -1}}", id);
    eir_run_spec_free(run_ok(m, patch));

    run_err(m, "{\"V0\": {\"run_id\": \"m_0123456789abcdef01234567\"}}", "/V0/run_id",
            "run id|r_|24 hex");
    run_err(m, "{\"V0\": {\"run_id\": 5}}", "/V0/run_id", "run id");
    run_err(m, "{\"V0\": {\"trial\": 1}}", "/V0/run_id", "missing");
    snprintf(patch, sizeof patch, "{\"V0\": {\"run_id\": \"%s\", \"trial\": -2}}", id);
    run_err(m, patch, "/V0/trial", "integer");
    snprintf(patch, sizeof patch, "{\"V0\": {\"run_id\": \"%s\", \"step\": 3}}", id);
    run_err(m, patch, "/V0/step", "unknown field");
}

static void test_metrics_request(void **state)
{
    const eir_model *m = *state;
    eir_run_spec *s = run_ok(m, "{\"metrics\": {\"windows\": [{\"name\": \"late_r\", \"var\": "
                                "\"r\", \"from\": 500, \"to\": 1000}, {\"var\": \"V\", \"from\": "
                                "0, \"to\": 1}, {\"var\": \"z\", \"from\": 999, \"to\": 1000}],"
                                " \"settle\": {\"steps\": 100, \"tol\": 1e-6}}}");
    assert_true(s->has_metrics);
    assert_ptr_equal(s->desc.stats_req, &s->metrics);
    assert_null(s->desc.stats);
    assert_int_equal(s->metrics.n_windows, 3);
    assert_int_equal(s->metrics.windows[0].var, EIR_VAR_R);
    assert_true(s->metrics.windows[0].from == 500 && s->metrics.windows[0].to == 1000);
    assert_int_equal(s->metrics.windows[2].var, EIR_VAR_Z);
    assert_string_equal(s->metric_names[0], "late_r");
    assert_string_equal(s->metric_names[1], "V_0_1");
    assert_string_equal(s->metric_names[2], "z_999_1000");
    assert_int_equal(s->metrics.settle_steps, 100);
    assert_true(s->settle_tol == 1e-6);
    eir_run_spec_free(s);
    s = run_ok(m, NULL);
    assert_false(s->has_metrics);
    assert_null(s->desc.stats_req);
    eir_run_spec_free(s);

    run_err(m, "{\"metrics\": []}", "/metrics", "object");
    run_err(m, "{\"metrics\": {}}", "/metrics/windows", "missing");
    run_err(m, "{\"metrics\": {\"windows\": []}}", "/metrics/windows", "1 to 64|a list of 0");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"y\", \"from\": 0, \"to\": 1}]}}",
            "/metrics/windows/0/var", "V, r, z");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 1001}]}}",
            "/metrics/windows/0/to", "to (1001) is past steps (1000)");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 1000, \"to\": 1000}]}}",
            "/metrics/windows/0/from", "not before steps");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 5, \"to\": 3}]}}",
            "/metrics/windows/0/to", "to > from (5)");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"to\": 3}]}}",
            "/metrics/windows/0/from", "missing");
    run_err(m,
            "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3, \"name\": "
            "\"late-r\"}]}}",
            "/metrics/windows/0/name", "A-Z a-z 0-9 _");
    run_err(m,
            "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3},"
            " {\"var\": \"r\", \"from\": 0, \"to\": 3}]}}",
            "/metrics/windows/1", "unique|r_0_3");
    run_err(
        m,
        "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3, \"name\": \"a\"},"
        " {\"var\": \"V\", \"from\": 0, \"to\": 3, \"name\": \"a\"}]}}",
        "/metrics/windows/1/name", "unique|\"a\"");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3, \"x\": 1}]}}",
            "/metrics/windows/0/x", "unknown field");
    run_err(m,
            "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3}], \"settle\": "
            "{\"steps\": 1001, \"tol\": 1}}}",
            "/metrics/settle/steps", "1001");
    run_err(m,
            "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3}], \"settle\": "
            "{\"steps\": 10, \"tol\": 0}}}",
            "/metrics/settle/tol", "> 0");
    run_err(m,
            "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3}], \"settle\": "
            "{\"tol\": 1}}}",
            "/metrics/settle/steps", "missing");
    run_err(m, "{\"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0, \"to\": 3}], \"x\": 1}}",
            "/metrics/x", "unknown field");
    json_t *j = jt_load(RUN), *ws = json_array();
    for (int k = 0; k < 65; k++)
        json_array_append_new(ws, json_pack("{s:s, s:i, s:i}", "var", "r", "from", k, "to", k + 1));
    json_object_set_new(j, "metrics", json_pack("{s:o}", "windows", ws));
    eir_run_spec *bad = NULL;
    eir_error e;
    JT_EXPECT_ERR(eir_json_parse_run(j, m, NULL, &bad, &e), e, "/metrics/windows",
                  "1 to 64|a list of 65");
    json_array_remove(ws, 64);
    JT_OK(eir_json_parse_run(j, m, NULL, &bad, &e), e);
    assert_int_equal(bad->metrics.n_windows, 64);
    eir_run_spec_free(bad);
    json_decref(j);
}

static const json_t *get(const json_t *o, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
        o = json_is_array(o) ? json_array_get(o, (size_t)atoi(t)) : json_object_get(o, t);
    if (!o) fail_msg("no %s", path);
    return o;
}

static double real(const json_t *o, const char *path)
{
    return json_number_value(get(o, path));
}

static void test_metrics_json(void **state)
{
    const eir_model *m = *state;
    eir_run_spec *s = run_ok(m, "{\"inputs\": {\"steps\": 1000, \"trials\": 2}, \"metrics\": "
                                "{\"windows\": [{\"name\": \"late_r\", \"var\": \"r\", \"from\": "
                                "500, \"to\": 1000}], \"settle\": {\"steps\": 100, \"tol\": "
                                "1e-6}}}");
    /* statistics of 1 window, 2 trials, filled by hand */
    double mean[4] = {0.1, 0.2, 0.3, NAN}, sd[4] = {0.01, 0.02, 0.03, 0.04};
    double mean_all[2] = {0.2, NAN}, std_all[2] = {0.05, 0.06};
    double fV[4] = {1, 2, 3, 4}, fr[4] = {5, 6, 7, 8}, dv[2] = {1e-9, 1e-3};
    eir_stats st = {.n_windows = 1,
                    .B = 2,
                    .mean = mean,
                    .std = sd,
                    .mean_all = mean_all,
                    .std_all = std_all,
                    .final_V = fV,
                    .final_r = fr,
                    .final_V_all = {2, 3},
                    .final_r_all = {6, 7},
                    .max_dvdt = dv,
                    .max_dvdt_all = 1e-3,
                    .steps = 1000};
    eir_run_result res = {0};
    res.max_z_dt = 0.05;
    res.diverged = 0;
    res.diverged_step = -1;
    json_t *j = eir_json_metrics(s, &st, &res, 0.1);
    assert_non_null(j);
    const json_t *w = get(j, "windows.late_r");
    assert_string_equal(json_string_value(get(w, "var")), "r");
    assert_int_equal(json_integer_value(get(w, "from")), 500);
    assert_int_equal(json_integer_value(get(w, "to")), 1000);
    assert_true(real(w, "mean.E") == 0.2);
    assert_true(json_is_null(get(w, "mean.I")));
    assert_true(real(w, "std.I") == 0.06);
    assert_true(real(w, "trials.mean.E.0") == 0.1 && real(w, "trials.mean.E.1") == 0.3);
    assert_true(real(w, "trials.mean.I.0") == 0.2);
    assert_true(json_is_null(get(w, "trials.mean.I.1")));
    assert_true(real(w, "trials.std.I.1") == 0.04);
    assert_true(real(j, "final.V.E") == 2 && real(j, "final.r.I") == 7);
    assert_true(real(j, "final.trials.V.E.1") == 3 && real(j, "final.trials.r.I.0") == 6);
    assert_true(real(j, "max_z_dt") == 0.05);
    assert_true(json_is_false(get(j, "diverged")));
    assert_true(json_is_null(get(j, "diverged_step")));
    assert_int_equal(json_integer_value(get(j, "settle.steps")), 100);
    assert_true(real(j, "settle.tol") == 1e-6);
    assert_true(real(j, "settle.max_dVdt") == 1e-3);
    assert_true(json_is_false(get(j, "settle.settled")));
    assert_true(json_is_true(get(j, "settle.trials.settled.0")));
    assert_true(json_is_false(get(j, "settle.trials.settled.1")));
    assert_true(real(j, "settle.trials.max_dVdt.0") == 1e-9);
    /* no NaN anywhere: the text is valid JSON */
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    assert_null(strstr(text, "nan"));
    free(text);
    json_decref(j);

    /* a diverged run without a settle window */
    s->metrics.settle_steps = 0;
    res.diverged = 1;
    res.diverged_step = 42;
    dv[0] = NAN;
    j = eir_json_metrics(s, &st, &res, 0.1);
    assert_true(json_is_true(get(j, "diverged")));
    assert_int_equal(json_integer_value(get(j, "diverged_step")), 42);
    assert_null(json_object_get(j, "settle"));
    json_decref(j);
    assert_null(eir_json_metrics(s, NULL, &res, 0.1));
    eir_run_spec_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_described_inputs), cmocka_unit_test(test_described_errors),
        cmocka_unit_test(test_described_limits), cmocka_unit_test(test_v0_from_run),
        cmocka_unit_test(test_metrics_request),  cmocka_unit_test(test_metrics_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
