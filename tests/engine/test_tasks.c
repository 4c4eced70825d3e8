/*
 * The built-in tasks and custom trial sets (docs/TASKS.md): names, defaults, checks naming the
 * field, shapes, period lengths within their specs, ground truth balance, determinism in the
 * key, custom sets, scoring, the psychometric curve and the ideal observer of perceptual
 * decision making against its closed form.
 */
#include "eir_test_util.h"

#include "eir_task.h"

/* ---------------------------------------------------------------------------------------- */

static eir_duration dur_uniform(double a, double b)
{
    eir_duration d;
    memset(&d, 0, sizeof d);
    d.kind = EIR_DUR_UNIFORM;
    d.a = a;
    d.b = b;
    return d;
}

static eir_duration dur_constant(double a)
{
    eir_duration d;
    memset(&d, 0, sizeof d);
    d.kind = EIR_DUR_CONSTANT;
    d.a = a;
    return d;
}

/* Check @p t fails with @p field. */
static void expect_invalid(const eir_task_spec *t, const char *field)
{
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_task_check(t, &err), EIR_EINVAL);
    if (strcmp(err.field, field) != 0) {
        print_error("field %s (%s), expected %s\n", err.field, err.message, field);
        fail();
    }
    assert_true(strlen(err.message) > 0);
}

/* Standard normal distribution function. */
static double phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* ---------------------------------------------------------------------------------------- */

static void test_names_and_shapes(void **state)
{
    (void)state;
    assert_string_equal(eir_task_name(EIR_TASK_PERCEPTUAL_DM), "perceptual_decision_making");
    assert_string_equal(eir_task_name(EIR_TASK_DELAY_MATCH), "delay_match_sample");
    assert_string_equal(eir_task_name(EIR_TASK_CONTEXT_DM), "context_decision_making");
    assert_string_equal(eir_task_name(EIR_TASK_CUSTOM), "custom");
    for (int k = 0; k <= EIR_TASK_CUSTOM; k++)
        assert_int_equal(eir_task_from_name(eir_task_name((eir_task_kind)k)), k);
    assert_int_equal(eir_task_from_name("go_no_go"), -1);
    assert_int_equal(eir_task_from_name(NULL), -1);

    assert_int_equal(eir_task_n_periods(EIR_TASK_PERCEPTUAL_DM), 4);
    assert_string_equal(eir_task_period_name(EIR_TASK_PERCEPTUAL_DM, 1), "stimulus");
    assert_string_equal(eir_task_period_name(EIR_TASK_PERCEPTUAL_DM, 3), "decision");
    assert_null(eir_task_period_name(EIR_TASK_PERCEPTUAL_DM, 4));
    assert_int_equal(eir_task_n_periods(EIR_TASK_DELAY_MATCH), 5);
    assert_string_equal(eir_task_period_name(EIR_TASK_DELAY_MATCH, 3), "test");
    assert_int_equal(eir_task_n_periods(EIR_TASK_CONTEXT_DM), 4);
    assert_int_equal(eir_task_n_periods(EIR_TASK_CUSTOM), 0);

    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    assert_int_equal(eir_task_n_in(&t), 3);
    assert_int_equal(eir_task_n_out(&t), 3);
    eir_task_spec_init(&t, EIR_TASK_DELAY_MATCH, 20);
    assert_int_equal(eir_task_n_in(&t), 3);
    assert_int_equal(eir_task_n_out(&t), 3);
    eir_task_spec_init(&t, EIR_TASK_CONTEXT_DM, 20);
    assert_int_equal(eir_task_n_in(&t), 7);
    assert_int_equal(eir_task_n_out(&t), 3);
}

static void test_defaults(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    assert_int_equal(t.kind, EIR_TASK_PERCEPTUAL_DM);
    assert_true(t.dt == 20 && t.sigma == 1.0);
    const double pdm_t[] = {100, 2000, 0, 100};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t.timing[i].kind, EIR_DUR_CONSTANT);
        assert_true(t.timing[i].a == pdm_t[i]);
    }
    const double coh[] = {0, 6.4, 12.8, 25.6, 51.2};
    assert_int_equal(t.n_coherences, 5);
    for (int i = 0; i < 5; i++)
        assert_true(t.coherences[i] == coh[i]);
    assert_int_equal(eir_task_check(&t, NULL), EIR_OK);

    eir_task_spec_init(&t, EIR_TASK_DELAY_MATCH, 20);
    const double dms_t[] = {300, 500, 1000, 500, 900};
    for (int i = 0; i < 5; i++)
        assert_true(t.timing[i].a == dms_t[i]);
    assert_true(t.sigma == 1.0);
    assert_int_equal(eir_task_check(&t, NULL), EIR_OK);

    eir_task_spec_init(&t, EIR_TASK_CONTEXT_DM, 20);
    assert_true(t.timing[0].a == 300 && t.timing[1].a == 750 && t.timing[3].a == 100);
    assert_int_equal(t.timing[2].kind, EIR_DUR_TRUNC_EXP);
    assert_true(t.timing[2].a == 600 && t.timing[2].b == 300 && t.timing[2].c == 3000);
    assert_int_equal(t.n_coherences, 3);
    assert_true(t.coherences[0] == 5 && t.coherences[1] == 15 && t.coherences[2] == 50);
    assert_true(t.sigma == 1.0);
    assert_int_equal(eir_task_check(&t, NULL), EIR_OK);
}

static void test_check_names_fields(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 0);
    expect_invalid(&t, "/dt");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, NAN);
    expect_invalid(&t, "/dt");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.sigma = -1;
    expect_invalid(&t, "/sigma");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.coherences[2] = 120;
    expect_invalid(&t, "/coherences/2");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.n_coherences = 0;
    expect_invalid(&t, "/coherences");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.timing[1] = dur_uniform(400, 100);
    expect_invalid(&t, "/timing/stimulus");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.timing[0] = dur_constant(-5);
    expect_invalid(&t, "/timing/fixation");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.timing[3] = dur_constant(10); /* shorter than one step */
    expect_invalid(&t, "/timing/decision");
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.timing[2].kind = EIR_DUR_CHOICE;
    t.timing[2].n_choices = 3;
    t.timing[2].choices[0] = 100;
    t.timing[2].choices[1] = INFINITY;
    expect_invalid(&t, "/timing/delay/1");
    t.timing[2].n_choices = 0;
    expect_invalid(&t, "/timing/delay");
    eir_task_spec_init(&t, EIR_TASK_CONTEXT_DM, 20);
    t.timing[2].a = 0;
    expect_invalid(&t, "/timing/delay");
    eir_task_spec_init(&t, EIR_TASK_CONTEXT_DM, 20);
    t.timing[2].c = 100; /* max < min */
    expect_invalid(&t, "/timing/delay");
    eir_task_spec_init(&t, EIR_TASK_DELAY_MATCH, 0.01);
    expect_invalid(&t, "/timing"); /* 320000 steps */
    eir_task_spec_init(&t, EIR_TASK_DELAY_MATCH, 20);
    t.timing[4] = dur_uniform(0, 100);
    expect_invalid(&t, "/timing/decision");

    eir_task_batch b;
    eir_error err;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    assert_int_equal(eir_task_generate(&t, 1, 0, &b, &err), EIR_EINVAL);
    assert_string_equal(err.field, "/batch");
    assert_null(b.x);
}

/* With sigma 0, PDM's stimulus channels are nonzero exactly during the stimulus. */
static void test_pdm_periods_and_balance(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.sigma = 0;
    t.timing[0] = dur_uniform(50, 400);
    t.timing[1] = dur_uniform(100, 800);
    t.timing[2].kind = EIR_DUR_CHOICE;
    t.timing[2].n_choices = 3;
    t.timing[2].choices[0] = 0;
    t.timing[2].choices[1] = 110;
    t.timing[2].choices[2] = 200;
    const int B = 4000;
    eir_task_batch b;
    eir_error err;
    assert_int_equal(eir_task_generate(&t, 42, B, &b, &err), EIR_OK);
    assert_int_equal(b.kind, EIR_TASK_PERCEPTUAL_DM);
    assert_int_equal(b.B, B);
    assert_int_equal(b.n_in, 3);
    assert_int_equal(b.n_out, 3);
    assert_non_null(b.evidence);
    assert_null(b.mask_out);
    int max_len = 0, n_gt2 = 0, fix_lo = 1 << 30, fix_hi = 0, stim_lo = 1 << 30, stim_hi = 0;
    int n_coh[5] = {0}, delay_seen[3] = {0};
    for (int i = 0; i < B; i++) {
        int len = b.len[i];
        if (len > max_len) max_len = len;
        const double *x = b.x + (size_t)i * b.T * 3;
        int s0 = -1, s1 = -1, d0 = -1;
        for (int s = 0; s < len; s++) {
            if (x[s * 3 + 1] != 0 && s0 < 0) s0 = s;
            if (x[s * 3 + 1] != 0) s1 = s + 1;
            if (x[s * 3] == 0 && d0 < 0) d0 = s;
        }
        assert_true(s0 >= 0 && d0 > 0);
        /* fixation cue on before the decision, off during it */
        for (int s = 0; s < len; s++)
            assert_true(x[s * 3] == (s < d0 ? 1.0 : 0.0));
        int fix = s0, stim = s1 - s0, delay = d0 - s1, dec = len - d0;
        assert_true(fix >= 2 && fix <= 20); /* floor(50/20) .. floor(400/20) */
        assert_true(stim >= 5 && stim <= 40);
        assert_true(delay == 0 || delay == 5 || delay == 10); /* 110 ms -> 5 steps */
        delay_seen[delay / 5]++;
        assert_int_equal(dec, 5);
        if (fix < fix_lo) fix_lo = fix;
        if (fix > fix_hi) fix_hi = fix;
        if (stim < stim_lo) stim_lo = stim;
        if (stim > stim_hi) stim_hi = stim;
        assert_int_equal(b.decision_end[i], len - 1);
        /* labels: 0 before the decision, gt during it; mask 1 on valid steps, 0 after */
        for (int s = 0; s < b.T; s++) {
            size_t k = (size_t)i * b.T + s;
            if (s >= len) {
                assert_true(b.mask[k] == 0 && b.label[k] == 0);
                continue;
            }
            assert_true(b.mask[k] == 1.0);
            assert_int_equal(b.label[k], s >= d0 ? b.gt[i] : 0);
            for (int o = 0; o < 3; o++)
                assert_true(b.target[k * 3 + o] == (o == b.label[k] ? 1.0 : 0.0));
        }
        /* stimulus values: 0.5 +- coh/200, the larger on the correct side */
        double c = fabs(b.coherence[i]);
        double hi = c / 200 + 0.5, lo = -(c / 200) + 0.5;
        assert_true(x[s0 * 3 + b.gt[i]] == hi && x[s0 * 3 + 3 - b.gt[i]] == lo);
        assert_true(b.coherence[i] == 0 || (b.coherence[i] > 0) == (b.gt[i] == 2));
        assert_true(b.gt[i] == 1 || b.gt[i] == 2);
        n_gt2 += b.gt[i] == 2;
        for (int k = 0; k < 5; k++)
            n_coh[k] += c == t.coherences[k];
        ET_ASSERT_CLOSE(b.evidence[i], stim * (b.gt[i] == 2 ? 1 : -1) * (hi - lo), 1e-12, 1);
    }
    assert_int_equal(b.T, max_len);
    /* the extremes of the uniform durations are reached, at whole steps */
    assert_int_equal(fix_lo, 2);
    assert_int_equal(fix_hi, 19); /* floor(u * 350 + 50) / 20 < 20 for u < 1 */
    assert_int_equal(stim_lo, 5);
    assert_int_equal(stim_hi, 39);
    /* balance: 4 standard errors */
    assert_true(fabs(n_gt2 / (double)B - 0.5) < 4 * sqrt(0.25 / B));
    for (int k = 0; k < 5; k++)
        assert_true(fabs(n_coh[k] / (double)B - 0.2) < 4 * sqrt(0.16 / B));
    for (int k = 0; k < 3; k++)
        assert_true(fabs(delay_seen[k] / (double)B - 1 / 3.0) < 4 * sqrt(2 / 9.0 / B));
    eir_task_batch_free(&b);
    assert_null(b.x);
}

/* Bytes of trial i of @p b (inputs, labels, mask over its length) equal those of trial j of
 * @p c. */
static int same_trial(const eir_task_batch *b, int i, const eir_task_batch *c, int j)
{
    if (b->len[i] != c->len[j]) return 0;
    int len = b->len[i];
    if (memcmp(b->x + (size_t)i * b->T * b->n_in, c->x + (size_t)j * c->T * c->n_in,
               (size_t)len * b->n_in * sizeof(double)) != 0)
        return 0;
    if (memcmp(b->label + (size_t)i * b->T, c->label + (size_t)j * c->T,
               (size_t)len * sizeof(int32_t)) != 0)
        return 0;
    return 1;
}

static void test_determinism(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        eir_task_spec t;
        eir_task_spec_init(&t, (eir_task_kind)k, 20);
        t.timing[0] = dur_uniform(50, 400);
        eir_task_batch a, b, c, d;
        assert_int_equal(eir_task_generate(&t, 7, 16, &a, NULL), EIR_OK);
        assert_int_equal(eir_task_generate(&t, 7, 16, &b, NULL), EIR_OK);
        assert_int_equal(eir_task_generate(&t, 7, 40, &c, NULL), EIR_OK);
        assert_int_equal(eir_task_generate(&t, 8, 16, &d, NULL), EIR_OK);
        assert_int_equal(a.T, b.T);
        assert_memory_equal(a.x, b.x, (size_t)a.B * a.T * a.n_in * sizeof(double));
        assert_memory_equal(a.label, b.label, (size_t)a.B * a.T * sizeof(int32_t));
        int differ = 0;
        for (int i = 0; i < 16; i++) {
            assert_true(same_trial(&a, i, &c, i)); /* trial i does not depend on B */
            differ += !same_trial(&a, i, &d, i);
        }
        assert_true(differ >= 15); /* another key: other trials */
        eir_task_batch_free(&a);
        eir_task_batch_free(&b);
        eir_task_batch_free(&c);
        eir_task_batch_free(&d);
    }
}

static void test_dms(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_DELAY_MATCH, 20);
    t.sigma = 0;
    const int B = 2000;
    eir_task_batch b;
    assert_int_equal(eir_task_generate(&t, 3, B, &b, NULL), EIR_OK);
    assert_null(b.evidence);
    /* 300 + 500 + 1000 + 500 + 900 ms = 15 + 25 + 50 + 25 + 45 steps */
    assert_int_equal(b.T, 160);
    int n_match = 0;
    for (int i = 0; i < B; i++) {
        const double *x = b.x + (size_t)i * b.T * 3;
        assert_int_equal(b.len[i], 160);
        assert_int_equal(b.decision_end[i], 159);
        assert_true(b.coherence[i] == 0);
        int sample = x[15 * 3 + 1] == 1.0 ? 0 : 1, test = x[90 * 3 + 1] == 1.0 ? 0 : 1;
        for (int s = 0; s < 160; s++) {
            assert_true(x[s * 3] == (s < 115 ? 1.0 : 0.0));
            int dir = s >= 15 && s < 40 ? sample : s >= 90 && s < 115 ? test : -1;
            for (int c = 0; c < 2; c++)
                assert_true(x[s * 3 + 1 + c] == (c == dir ? 1.0 : 0.0));
            assert_int_equal(b.label[(size_t)i * 160 + s], s >= 115 ? b.gt[i] : 0);
        }
        assert_int_equal(b.gt[i], sample == test ? 1 : 2);
        n_match += b.gt[i] == 1;
    }
    assert_true(fabs(n_match / (double)B - 0.5) < 4 * sqrt(0.25 / B));
    eir_task_batch_free(&b);
}

static void test_cdm(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_CONTEXT_DM, 20);
    t.sigma = 0;
    const int B = 3000;
    eir_task_batch b;
    assert_int_equal(eir_task_generate(&t, 11, B, &b, NULL), EIR_OK);
    int n_ctx1 = 0, n_gt2 = 0;
    double delay_sum = 0;
    for (int i = 0; i < B; i++) {
        const double *x = b.x + (size_t)i * b.T * 7;
        int len = b.len[i], dec0 = len - 5; /* decision 100 ms */
        int delay = dec0 - 15 - 37;         /* fixation 300 ms, stimulus floor(750/20) */
        assert_true(delay >= 15 && delay < 150);
        delay_sum += delay;
        int ctx = b.context[i];
        n_ctx1 += ctx;
        n_gt2 += b.gt[i] == 2;
        for (int s = 0; s < len; s++) {
            assert_true(x[s * 7] == (s < dec0 ? 1.0 : 0.0));
            assert_true(x[s * 7 + 5] == (ctx == 0 ? 1.0 : 0.0));
            assert_true(x[s * 7 + 6] == (ctx == 1 ? 1.0 : 0.0));
            int in_stim = s >= 15 && s < 52;
            for (int c = 1; c < 5; c++)
                assert_true((x[s * 7 + c] != 0) == in_stim);
        }
        /* the relevant modality's stronger channel is the correct choice */
        const double *r = x + 20 * 7 + 1 + 2 * ctx;
        double c = fabs(b.coherence[i]);
        assert_true(r[b.gt[i] - 1] == c / 200 + 0.5);
        assert_true(r[2 - b.gt[i]] == -(c / 200) + 0.5);
        assert_true(c == 5 || c == 15 || c == 50);
        assert_true((b.coherence[i] > 0) == (b.gt[i] == 2));
    }
    assert_true(fabs(n_ctx1 / (double)B - 0.5) < 4 * sqrt(0.25 / B));
    assert_true(fabs(n_gt2 / (double)B - 0.5) < 4 * sqrt(0.25 / B));
    /* mean delay of an exponential of mean 600 truncated to [300, 3000) is about 889 ms */
    double m = 600, lo = 300, hi = 3000;
    double mean_ms = lo + m - (hi - lo) * exp(-(hi - lo) / m) / (1 - exp(-(hi - lo) / m));
    /* floor to steps loses 10 ms on average */
    ET_ASSERT_CLOSE(delay_sum / B * 20, mean_ms - 10, 0.03, 1);
    eir_task_batch_free(&b);
}

static void test_custom(void **state)
{
    (void)state;
    enum { N = 5, T = 4, NI = 2, NO = 3 };
    double x[N * T * NI], mask[N * T];
    int32_t label[N * T], len[N] = {4, 3, 2, 1, 4};
    for (int i = 0; i < N * T * NI; i++)
        x[i] = i * 0.25;
    for (int i = 0; i < N * T; i++) {
        label[i] = i % NO;
        mask[i] = (i % 4) * 0.5;
    }
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_CUSTOM, 1);
    t.custom = (eir_task_custom){N, T, NI, NO, x, NULL, label, mask, len};
    assert_int_equal(eir_task_check(&t, NULL), EIR_OK);
    assert_int_equal(eir_task_n_in(&t), NI);
    assert_int_equal(eir_task_n_out(&t), NO);

    const int B = 5000;
    eir_task_batch b;
    assert_int_equal(eir_task_generate(&t, 9, B, &b, NULL), EIR_OK);
    assert_int_equal(b.kind, EIR_TASK_CUSTOM);
    assert_null(b.gt);
    assert_non_null(b.mask_out);
    int count[N] = {0};
    for (int i = 0; i < B; i++) {
        int j = (int)(b.x[(size_t)i * T * NI + 1] / 0.25) / (T * NI); /* x[j][0][1] */
        assert_true(j >= 0 && j < N);
        count[j]++;
        assert_memory_equal(b.x + (size_t)i * T * NI, x + j * T * NI, sizeof(double) * T * NI);
        assert_memory_equal(b.label + (size_t)i * T, label + j * T, sizeof(int32_t) * T);
        assert_memory_equal(b.mask + (size_t)i * T, mask + j * T, sizeof(double) * T);
        assert_int_equal(b.len[i], len[j]);
        for (int s = 0; s < T; s++)
            for (int o = 0; o < NO; o++) {
                size_t k = ((size_t)i * T + s) * NO + o;
                assert_true(b.target[k] == (o == label[j * T + s] ? 1.0 : 0.0));
                assert_true(b.mask_out[k] == mask[j * T + s]);
            }
    }
    for (int j = 0; j < N; j++)
        assert_true(fabs(count[j] / (double)B - 0.2) < 4 * sqrt(0.16 / B));

    eir_batch v;
    eir_task_batch_view(&b, EIR_LOSS_CE, &v);
    assert_true(v.label == b.label && v.mask == b.mask && v.target == NULL && v.len == b.len);
    eir_task_batch_view(&b, EIR_LOSS_MSE, &v);
    assert_true(v.target == b.target && v.mask == b.mask_out && v.label == NULL);
    eir_task_batch_free(&b);

    /* checks name the element */
    t.custom.x = x;
    x[(1 * T + 2) * NI + 1] = NAN;
    expect_invalid(&t, "/custom/inputs/1/2/1");
    x[(1 * T + 2) * NI + 1] = 0;
    label[3 * T + 1] = NO;
    expect_invalid(&t, "/custom/labels/3/1");
    label[3 * T + 1] = -1;
    expect_invalid(&t, "/custom/labels/3/1");
    label[3 * T + 1] = 0;
    mask[2 * T + 3] = -0.5;
    expect_invalid(&t, "/custom/mask/2/3");
    mask[2 * T + 3] = 0;
    len[4] = 0;
    expect_invalid(&t, "/custom/lengths/4");
    len[4] = T + 1;
    expect_invalid(&t, "/custom/lengths/4");
    len[4] = T;
    assert_int_equal(eir_task_check(&t, NULL), EIR_OK);
    double target[N * T * NO];
    for (int i = 0; i < N * T * NO; i++)
        target[i] = 0.5;
    t.custom.target = target;
    expect_invalid(&t, "/custom/targets"); /* labels and targets */
    t.custom.label = NULL;
    t.custom.mask = NULL;
    target[(4 * T + 3) * NO + 2] = INFINITY;
    expect_invalid(&t, "/custom/targets/4/3/2");
    target[(4 * T + 3) * NO + 2] = 0;
    double mask_out[N * T * NO] = {0};
    mask_out[(0 * T + 1) * NO + 2] = NAN;
    t.custom.mask = mask_out;
    expect_invalid(&t, "/custom/mask/0/1/2");
    mask_out[(0 * T + 1) * NO + 2] = 1;
    assert_int_equal(eir_task_check(&t, NULL), EIR_OK);
    assert_int_equal(eir_task_generate(&t, 1, 3, &b, NULL), EIR_OK);
    assert_null(b.label);
    assert_null(b.mask_out);
    eir_task_batch_view(&b, EIR_LOSS_MSE, &v);
    assert_true(v.target == b.target && v.mask == b.mask);
    eir_task_batch_free(&b);
    t.custom.target = NULL;
    expect_invalid(&t, "/custom/labels"); /* neither */
    t.custom.target = target;
    t.custom.n_trials = 0;
    expect_invalid(&t, "/custom/inputs");
}

/* Hand-made readouts: the argmax at the decision's last step decides. */
static void test_scoring_and_psychometric(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.timing[0] = dur_uniform(40, 200);
    const int B = 400;
    eir_task_batch b;
    assert_int_equal(eir_task_generate(&t, 5, B, &b, NULL), EIR_OK);
    size_t n = (size_t)B * b.T * 3;
    double *y = calloc(n, sizeof *y);
    int32_t *choice = malloc(B * sizeof *choice);
    assert_non_null(y);
    assert_non_null(choice);
    /* choice 2 exactly when the signed coherence is > 0 or (== 0 and i even); fixation (0) at
     * every trial i % 7 == 3; misleading values one step before the end */
    int want_correct = 0;
    for (int i = 0; i < B; i++) {
        int end = b.decision_end[i];
        int c = b.coherence[i] > 0 || (b.coherence[i] == 0 && i % 2 == 0) ? 2 : 1;
        if (i % 7 == 3) c = 0;
        double *row = y + ((size_t)i * b.T + end) * 3;
        row[c] = 1.0;
        row[(c + 1) % 3] = 0.5;
        y[((size_t)i * b.T + end - 1) * 3 + (c + 1) % 3] = 9.0;
        want_correct += c == b.gt[i];
    }
    eir_task_score sc;
    eir_task_score_batch(&b, y, choice, &sc);
    assert_int_equal(sc.trials, B);
    assert_int_equal(sc.correct, want_correct);
    assert_true(sc.accuracy == want_correct / (double)B);
    eir_psy_point pts[11];
    int np;
    eir_task_psychometric(&b, choice, pts, 11, &np);
    assert_int_equal(np, 9); /* -51.2 .. 51.2 and 0 */
    int64_t total = 0;
    for (int k = 0; k < np; k++) {
        if (k > 0) assert_true(pts[k].coherence > pts[k - 1].coherence);
        total += pts[k].n;
        int64_t n2 = 0, nk = 0;
        for (int i = 0; i < B; i++) {
            if (b.coherence[i] != pts[k].coherence) continue;
            nk++;
            n2 += choice[i] == 2;
        }
        assert_int_equal(nk, pts[k].n);
        assert_true(pts[k].p_choice2 == n2 / (double)nk);
        if (pts[k].coherence < 0) assert_true(pts[k].p_choice2 == 0);
        if (pts[k].coherence > 0) assert_true(pts[k].p_choice2 > 0.7);
    }
    assert_int_equal(total, B);
    assert_true(pts[0].coherence == -51.2 && pts[8].coherence == 51.2 && pts[4].coherence == 0);
    /* fewer points than coherences: the first ones, sorted */
    eir_task_psychometric(&b, choice, pts, 3, &np);
    assert_int_equal(np, 3);
    assert_true(pts[0].coherence == -51.2 && pts[2].coherence == -12.8);
    free(y);
    eir_task_batch_free(&b);

    /* custom CE: masked valid steps */
    enum { N = 2, T = 3, NO = 2 };
    double x[N * T] = {0}, mask[N * T] = {1, 0, 2, 1, 1, 1};
    int32_t label[N * T] = {0, 1, 1, 1, 0, 1}, len[N] = {3, 2};
    eir_task_spec_init(&t, EIR_TASK_CUSTOM, 1);
    t.custom = (eir_task_custom){N, T, 1, NO, x, NULL, label, mask, len};
    /* one trial drawn twice or both: score a batch of B = 2 whatever was drawn */
    assert_int_equal(eir_task_generate(&t, 2, 2, &b, NULL), EIR_OK);
    double yc[2 * T * NO];
    int want = 0, steps = 0;
    for (int i = 0; i < 2; i++)
        for (int s = 0; s < T; s++) {
            size_t k = (size_t)i * T + s;
            int pred = (int)((i + s) % 2);
            yc[k * 2 + pred] = 1;
            yc[k * 2 + 1 - pred] = 0;
            if (s < b.len[i] && b.mask[k] > 0) {
                steps++;
                want += pred == b.label[k];
            }
        }
    eir_task_score_batch(&b, yc, NULL, &sc);
    assert_int_equal(sc.trials, steps);
    assert_int_equal(sc.correct, want);
    eir_task_psychometric(&b, choice, pts, 11, &np);
    assert_int_equal(np, 0);
    assert_true(isnan(eir_task_ideal_observer(&b)));
    eir_task_batch_free(&b);
    free(choice);
}

/*
 * The ideal observer of PDM at a fixed 500 ms stimulus, dt 20 ms, sigma 1: the summed
 * difference of the two channels over n = 25 steps has mean n coh/100 and standard deviation
 * sqrt(2 n) sigma / sqrt(dt), so P(correct | coh) = Phi(coh/100 sqrt(n dt / 2) / sigma), and
 * 1/2 at coherence 0. The mean over the default coherences is 0.8645.
 */
static void test_ideal_observer(void **state)
{
    (void)state;
    eir_task_spec t;
    eir_task_spec_init(&t, EIR_TASK_PERCEPTUAL_DM, 20);
    t.timing[1] = dur_constant(500);
    double want = 0;
    for (int k = 0; k < t.n_coherences; k++)
        want += t.coherences[k] == 0 ? 0.5 : phi(t.coherences[k] / 100 * sqrt(25 * 20 / 2.0));
    want /= t.n_coherences;
    assert_true(fabs(want - 0.8645) < 5e-4);
    const int B = 40000;
    eir_task_batch b;
    assert_int_equal(eir_task_generate(&t, 2024, B, &b, NULL), EIR_OK);
    double got = eir_task_ideal_observer(&b);
    print_message("ideal observer: %.4f over %d trials, closed form %.4f\n", got, B, want);
    assert_true(fabs(got - want) < 4 * sqrt(want * (1 - want) / B));
    eir_task_batch_free(&b);

    eir_task_spec_init(&t, EIR_TASK_DELAY_MATCH, 20);
    assert_int_equal(eir_task_generate(&t, 1, 4, &b, NULL), EIR_OK);
    assert_true(isnan(eir_task_ideal_observer(&b)));
    eir_batch v;
    eir_task_batch_view(&b, EIR_LOSS_CE, &v);
    assert_true(v.label == b.label && v.mask == b.mask && v.x == b.x && v.n_out == 3);
    eir_task_batch_view(&b, EIR_LOSS_MSE, &v);
    assert_true(v.target == b.target && v.mask == NULL && v.label == NULL);
    eir_task_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_shapes),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_check_names_fields),
        cmocka_unit_test(test_pdm_periods_and_balance),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_dms),
        cmocka_unit_test(test_cdm),
        cmocka_unit_test(test_custom),
        cmocka_unit_test(test_scoring_and_psychometric),
        cmocka_unit_test(test_ideal_observer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
