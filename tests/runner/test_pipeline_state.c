/**
 * @file test_pipeline_state.c
 * @brief Issue 12 in the run pipeline: every run that integrates to its end keeps V_final
 *        (B x N, the run's precision; none for a stopped run), "V0" naming a run goes through
 *        the caller's state callback (refused without one, lengths checked, errors passed on)
 *        and continues the run exactly, "metrics" are computed and shown in the metadata, and
 *        described inputs are shown as sent and integrate as the same inputs spelled out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_meta.h"
#include "eir_runner.h"

/** 8 E and 2 I cells, no noise, one input channel. */
static const char *const model =
    "{\"class\": \"gated\", \"populations\": {\"E\": 8, \"I\": 2}, \"n_inputs\": 1, "
    "\"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, \"bias\": 0.2, "
    "\"recurrent\": {\"generate\": {\"seed\": 3, \"p\": 0.5, \"dist\": \"lognormal\", "
    "\"mean\": 0.05, \"cv\": 0.5}, \"A\": 1}, "
    "\"input\": {\"P\": {\"generate\": {\"seed\": 4, \"p\": 1, \"dist\": \"constant\", "
    "\"mean\": 0.5}}}}";

#define N 10
#define RUN_ID "r_0123456789abcdef01234567"

static json_t *load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *load(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &je);
    if (!j) fail_msg("bad test JSON: %s\n%s", je.text, buf);
    return j;
}

/** A store of one run's final state for the state callback. */
typedef struct fake_runs {
    double *V; /* B x N */
    int64_t len;
    int calls;
    int64_t trial_asked;
    eir_status fail; /* EIR_OK, or what to answer */
} fake_runs;

static eir_status fake_state(void *ctx, const char *run_id, int64_t trial, double **V, int64_t *len,
                             eir_error *err)
{
    fake_runs *f = ctx;
    f->calls++;
    f->trial_asked = trial;
    if (f->fail != EIR_OK)
        return eir_error_set(err, f->fail, "/V0/run_id", "run %s failed (fake)", run_id);
    if (strcmp(run_id, RUN_ID) != 0)
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id", "run %s does not exist", run_id);
    int64_t from = trial >= 0 ? trial * N : 0, n = trial >= 0 ? N : f->len;
    *V = malloc((size_t)n * sizeof **V);
    if (!*V) return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory");
    memcpy(*V, f->V + from, (size_t)n * sizeof **V);
    *len = n;
    return EIR_OK;
}

static void config(eir_pipe_config *cfg, eir_json_limits *lim, fake_runs *f)
{
    eir_json_limits_default(lim);
    memset(cfg, 0, sizeof *cfg);
    cfg->limits = lim;
    cfg->threads = 1;
    cfg->state = f ? fake_state : NULL;
    cfg->resolve_ctx = f;
}

static eir_pipe *run_ok(const json_t *run, const eir_pipe_config *cfg)
{
    eir_pipe *p = NULL;
    eir_pipe_stage at;
    eir_error err;
    eir_error_clear(&err);
    if (eir_pipe_prepare(run, cfg, &p, &at, &err) != EIR_OK)
        fail_msg("prepare failed at stage %d: %s: %s", (int)at, err.field, err.message);
    if (eir_pipe_run(p, NULL, NULL, &err) != EIR_OK)
        fail_msg("run failed: %s: %s", err.field, err.message);
    return p;
}

static void prepare_fails(const json_t *run, const eir_pipe_config *cfg, eir_status status,
                          const char *field, const char *needle)
{
    eir_pipe *p = (eir_pipe *)1;
    eir_pipe_stage at;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_pipe_prepare(run, cfg, &p, &at, &err), status);
    assert_null(p);
    assert_int_equal(at, EIR_PIPE_RUN);
    assert_string_equal(err.field, field);
    if (needle && !strstr(err.message, needle))
        fail_msg("'%s' not in the message '%s'", needle, err.message);
}

static json_t *mget(json_t *j, const char *a, const char *b)
{
    json_t *x = json_object_get(j, a);
    return b ? json_object_get(x, b) : x;
}

static void test_final_state(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim, NULL);
    for (int f32 = 0; f32 < 2; f32++) {
        json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"precision\": \"%s\", \"inputs\": "
                           "{\"steps\": 30, \"trials\": 3}, \"record\": {\"vars\": [\"V\"]}}",
                           model, f32 ? "float32" : "float64");
        eir_pipe *p = run_ok(run, &cfg);
        const eir_pipe_output *fo = &p->final;
        assert_non_null(fo->data);
        assert_string_equal(fo->name, "V_final");
        assert_string_equal(fo->dtype, f32 ? "float32" : "float64");
        assert_int_equal(fo->shape[0], 3);
        assert_int_equal(fo->shape[1], N);
        assert_int_equal(fo->shape[2], 0);
        size_t el = f32 ? 4 : 8;
        assert_int_equal(fo->bytes, 3 * N * el);
        /* the state after the last step: the last recorded row of V (every 1), trial by trial */
        const unsigned char *V = p->out[0].data, *F = fo->data;
        for (int b = 0; b < 3; b++)
            assert_memory_equal(F + (size_t)b * N * el, V + ((size_t)b * 30 + 29) * N * el, N * el);
        json_t *meta = eir_pipe_meta(p);
        json_t *shape = mget(mget(meta, "outputs", "V_final"), "shape", NULL);
        assert_int_equal(json_array_size(shape), 2);
        assert_int_equal(json_integer_value(json_array_get(shape, 0)), 3);
        assert_int_equal(json_integer_value(json_array_get(shape, 1)), N);
        assert_string_equal(
            json_string_value(mget(mget(meta, "outputs", "V_final"), "dtype", NULL)),
            f32 ? "float32" : "float64");
        assert_null(json_object_get(meta, "metrics"));
        /* {"steps", "trials"} describes the inputs too: shown as sent */
        assert_int_equal(json_integer_value(mget(mget(meta, "run", "inputs"), "steps", NULL)), 30);
        json_decref(meta);
        eir_pipe_free(p);
        json_decref(run);
    }
}

static int stop_now(void *ctx, int64_t done, int64_t total)
{
    (void)ctx;
    (void)total;
    return done >= 10;
}

static void test_stopped_run_keeps_no_final_state(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim, NULL);
    json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 1000000}, "
                       "\"record\": {\"vars\": [\"r\"], \"every\": 1000}}",
                       model);
    eir_pipe *p = NULL;
    eir_pipe_stage at;
    eir_error err;
    assert_int_equal(eir_pipe_prepare(run, &cfg, &p, &at, &err), EIR_OK);
    assert_int_equal(eir_pipe_run(p, stop_now, NULL, &err), EIR_ECANCELLED);
    assert_null(p->final.data);
    json_t *meta = eir_pipe_meta(p);
    assert_null(mget(meta, "outputs", "V_final"));
    json_decref(meta);
    eir_pipe_free(p);
    json_decref(run);
}

static void test_v0_from_a_run(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    fake_runs f = {0};
    config(&cfg, &lim, &f);
    /* 2T steps in one go ... */
    json_t *whole = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 40, \"trials\": "
                         "2}, \"V0\": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [1, 1, "
                         "1, 1, 1, 1, 1, 1, 1, 1]], \"record\": {\"vars\": [\"V\"]}}",
                         model);
    eir_pipe *pw = run_ok(whole, &cfg);
    /* ... equal T steps, then T steps from its final state */
    json_t *first = json_deep_copy(whole);
    json_object_set_new(json_object_get(first, "inputs"), "steps", json_integer(20));
    eir_pipe *p1 = run_ok(first, &cfg);
    f.len = 2 * N;
    f.V = malloc(sizeof(double) * 2 * N);
    memcpy(f.V, p1->final.data, sizeof(double) * 2 * N);
    json_t *second = json_deep_copy(first);
    json_object_set_new(second, "V0", load("{\"run_id\": \"%s\"}", RUN_ID));
    eir_pipe *p2 = run_ok(second, &cfg);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.trial_asked, -1);
    const double *W = pw->out[0].data, *S = p2->out[0].data;
    for (int b = 0; b < 2; b++)
        assert_memory_equal(S + (size_t)b * 20 * N, W + ((size_t)b * 40 + 20) * N,
                            20 * N * sizeof(double));
    assert_memory_equal(p2->final.data, pw->final.data, 2 * N * sizeof(double));
    eir_pipe_free(p2);

    /* one trial for every trial */
    json_object_set_new(second, "V0", load("{\"run_id\": \"%s\", \"trial\": 1}", RUN_ID));
    p2 = run_ok(second, &cfg);
    assert_int_equal(f.trial_asked, 1);
    assert_int_equal(p2->run->V0_len, N);
    assert_true(p2->run->V0[0] == f.V[N]);
    eir_pipe_free(p2);

    /* B differs without a trial; the callback's errors are passed on; lengths checked */
    json_t *three = json_deep_copy(second);
    json_object_set_new(json_object_get(three, "inputs"), "trials", json_integer(3));
    json_object_set_new(three, "V0", load("{\"run_id\": \"%s\"}", RUN_ID));
    prepare_fails(three, &cfg, EIR_EINVAL, "/V0/trial", "has 2 trials, this run 3");
    f.len = 2 * N - 1; /* a model of another size */
    prepare_fails(three, &cfg, EIR_EINVAL, "/V0/run_id", "not 3 trials x N = 10");
    json_object_set_new(three, "V0", load("{\"run_id\": \"r_ffffffffffffffffffffffff\"}"));
    prepare_fails(three, &cfg, EIR_EINVAL, "/V0/run_id", "does not exist");
    f.fail = EIR_ENUMERIC;
    prepare_fails(three, &cfg, EIR_ENUMERIC, "/V0/run_id", "fake");
    f.fail = EIR_OK;
    /* without a state callback (eirnn simulate) */
    fake_runs none = {0};
    config(&cfg, &lim, NULL);
    cfg.resolve_ctx = &none;
    prepare_fails(second, &cfg, EIR_EINVAL, "/V0/run_id", "needs eirnnd, which keeps runs");
    /* eir_pipe_check() never asks for the state */
    config(&cfg, &lim, &f);
    int calls = f.calls;
    eir_pipe *pc = NULL;
    eir_pipe_stage at;
    eir_error err;
    assert_int_equal(eir_pipe_check(second, &cfg, &pc, &at, &err), EIR_OK);
    assert_int_equal(f.calls, calls);
    assert_true(pc->spec_run->V0_from_run);
    eir_pipe_free(pc);

    free(f.V);
    json_decref(three);
    json_decref(second);
    json_decref(first);
    json_decref(whole);
    eir_pipe_free(p1);
    eir_pipe_free(pw);
}

static void test_metrics_in_meta(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim, NULL);
    json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 50, \"trials\": 2}, "
                       "\"record\": {\"vars\": [\"r\"]}, \"metrics\": {\"windows\": [{\"name\": "
                       "\"late_r\", \"var\": \"r\", \"from\": 30, \"to\": 50}], \"settle\": "
                       "{\"steps\": 10, \"tol\": 1e3}}}",
                       model);
    eir_pipe *p = run_ok(run, &cfg);
    assert_non_null(p->stats);
    json_t *meta = eir_pipe_meta(p);
    json_t *m = json_object_get(meta, "metrics");
    assert_non_null(m);
    json_t *w = mget(m, "windows", "late_r");
    assert_non_null(w);
    assert_string_equal(json_string_value(json_object_get(w, "var")), "r");
    /* the mean of r over E cells, rows 30..49 of every trial */
    const double *r = p->out[0].data;
    double sum = 0;
    for (int b = 0; b < 2; b++)
        for (int t = 30; t < 50; t++)
            for (int i = 0; i < 8; i++)
                sum += r[((size_t)b * 50 + (size_t)t) * N + (size_t)i];
    double want = sum / (2 * 20 * 8),
           got = json_number_value(mget(mget(w, "mean", NULL), "E", NULL));
    assert_true(fabs(got - want) <= 1e-12 * fabs(want) + 1e-300);
    assert_int_equal(json_array_size(mget(mget(w, "trials", "mean"), "E", NULL)), 2);
    assert_true(json_is_true(mget(mget(m, "settle", NULL), "settled", NULL)));
    assert_true(json_is_false(json_object_get(m, "diverged")));
    assert_true(json_number_value(mget(mget(m, "final", "r"), "E", NULL)) >= 0);
    json_decref(meta);
    eir_pipe_free(p);
    json_decref(run);
}

static void test_described_inputs(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim, NULL);
    const char *described = "{\"steps\": 12, \"trials\": 2, \"segments\": ["
                            "{\"from\": 2, \"to\": 6, \"value\": [[1], [2]]},"
                            "{\"from\": 4, \"to\": 12, \"value\": 0.5, \"to_value\": 1.5}]}";
    json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": %s, \"record\": {\"vars\": "
                       "[\"V\"]}}",
                       model, described);
    eir_pipe *p = run_ok(run, &cfg);
    json_t *meta = eir_pipe_meta(p);
    json_t *want = load("%s", described);
    assert_true(json_equal(mget(meta, "run", "inputs"), want));
    json_decref(want);
    json_decref(meta);
    /* the same inputs spelled out (eir.h's formula) integrate to the same bytes */
    json_t *arr = json_array();
    for (int b = 0; b < 2; b++) {
        json_t *trial = json_array();
        for (int t = 0; t < 12; t++) {
            double x = 0.0;
            if (t >= 2 && t < 6) x += b + 1;
            if (t >= 4) x += 0.5 + (1.5 - 0.5) * (double)(t - 4) / (double)(12 - 4);
            json_array_append_new(trial, json_pack("[f]", x));
        }
        json_array_append_new(arr, trial);
    }
    json_t *spelled = json_deep_copy(run);
    json_object_set_new(spelled, "inputs", arr);
    eir_pipe *q = run_ok(spelled, &cfg);
    assert_int_equal(q->out[0].bytes, p->out[0].bytes);
    assert_memory_equal(q->out[0].data, p->out[0].data, p->out[0].bytes);
    meta = eir_pipe_meta(q);
    assert_null(mget(meta, "run", "inputs")); /* arrays are not repeated in the metadata */
    json_decref(meta);
    eir_pipe_free(q);
    eir_pipe_free(p);
    json_decref(spelled);
    json_decref(run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_final_state),
        cmocka_unit_test(test_stopped_run_keeps_no_final_state),
        cmocka_unit_test(test_v0_from_a_run),
        cmocka_unit_test(test_metrics_in_meta),
        cmocka_unit_test(test_described_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
