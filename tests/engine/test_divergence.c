/*
 * Divergence, the euler stability flag, and the progress/cancel callback.
 *
 * A strongly unstable linear rnn: W = 5 I, leak 1, linear activation, no input. With
 * I = W r = 5 V and z = 1, exp_euler's step is exactly V_{k+1} = g V_k with
 * g = e^{-dt} + 5 (1 - e^{-dt}) = 5 - 4 e^{-dt}, so V_k = g^k V_0 and the first non-finite state
 * is V_{k+1} with (k+1) ln g + ln V_0 > ln DBL_MAX: step k is the diverged step. The engine also
 * forms I = 5 V_k, which overflows one step "early" if 5 V_k > DBL_MAX while g V_k is finite;
 * the V_0 used here are checked to put no state in that window (with a margin), so both readings
 * give the same step.
 */
#include "eir_test_util.h"

#define N 2

static const double W5[N * N] = {5.0, 0.0, 0.0, 5.0};
static const double ONE = 1.0;

static eir_model *unstable_model(void)
{
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, N, 0, W5, &ONE, 1);
    return et_build(&d);
}

/* First step k whose result V_{k+1} = g^{k+1} v0 overflows. */
static int64_t analytic_step(double dt, double v0)
{
    double lg = log(5 - 4 * exp(-dt)), lmax = log(DBL_MAX), l0 = log(v0);
    int64_t k = (int64_t)floor((lmax - l0) / lg); /* (k+1) lg + l0 > lmax */
    while ((double)(k + 1) * lg + l0 <= lmax)
        k++;
    while (k > 0 && (double)k * lg + l0 > lmax)
        k--;
    /* Margins: V_{k+1} overflows clearly, V_k is clearly finite, and 5 V_{k-1} is clearly
     * finite while 5 V_k overflows (no early overflow of I = W r in a different step). */
    double m = 0.02;
    ET_CHECK((double)(k + 1) * lg + l0 > lmax + m && (double)k * lg + l0 < lmax - m,
             "test design: V_%lld too close to DBL_MAX", (long long)(k + 1));
    ET_CHECK((double)k * lg + l0 + log(5.0) > lmax + m &&
                 (double)(k - 1) * lg + l0 + log(5.0) < lmax - m,
             "test design: 5 V_k overflows in another step");
    return k;
}

static void check_trial(const et_out *o, int b, double dt, double v0, int64_t kdiv, int every,
                        int64_t upto)
{
    double g = 5 - 4 * exp(-dt);
    for (int64_t j = 0; j < upto; j++) {
        int64_t k = (j + 1) * every - 1;
        for (int i = 0; i < N; i++) {
            double v = et_at(o, EIR_VAR_V, b, j, i);
            if (k < kdiv) {
                double want = v0 * pow(g, (double)(k + 1));
                ET_CHECK(et_rel(v, want, 0) <= 1e-12,
                         "trial %d row %lld (step %lld): V %.17g, g^(k+1) V0 = %.17g", b,
                         (long long)j, (long long)k, v, want);
            } else if (k == kdiv) {
                ET_CHECK(!isfinite(v), "trial %d row %lld: the diverged step's V %g is finite", b,
                         (long long)j, v);
            } else {
                ET_CHECK(isnan(v),
                         "trial %d row %lld (step %lld, after divergence at %lld): %g, "
                         "expected NaN",
                         b, (long long)j, (long long)k, (long long)kdiv, v);
            }
        }
    }
}

static void test_divergence_step(void **state)
{
    (void)state;
    eir_model *m = unstable_model();
    const double dt = 1.0;
    const int64_t T = 700;
    int64_t k0 = analytic_step(dt, 1.0);
    assert_int_equal(k0, 562);
    const int everys[2] = {1, 10};
    for (int q = 0; q < 2; q++) {
        int e = everys[q];
        eir_run_desc r;
        et_rdesc(&r, dt, T, 1, ET_V);
        r.V0 = &ONE;
        r.V0_len = 1;
        r.record_every = e;
        et_out o;
        et_run_ok(m, &r, &o);
        assert_int_equal(o.res.diverged, 1);
        assert_int_equal(o.res.diverged_step, k0);
        assert_int_equal(o.res.diverged_trial, 0);
        assert_int_equal(o.res.steps_done, k0);
        assert_int_equal(o.res.rows_written, k0 / e);
        check_trial(&o, 0, dt, 1.0, k0, e, o.rows);
        et_out_free(&o);
    }
    eir_model_free(m);
}

/* Two trials; trial 1 starts at 1e10 and diverges first: the run reports its step and index. */
static void test_divergence_batch(void **state)
{
    (void)state;
    eir_model *m = unstable_model();
    const double dt = 1.0, v0s[2] = {1.0, 1e10};
    const int64_t T = 700;
    int64_t k0 = analytic_step(dt, v0s[0]), k1 = analytic_step(dt, v0s[1]);
    ET_CHECK(k1 < k0, "test design: trial 1 must diverge first");
    double v0[2 * N] = {v0s[0], v0s[0], v0s[1], v0s[1]};
    for (int threads = 1; threads <= 2; threads++) {
        eir_run_desc r;
        et_rdesc(&r, dt, T, 2, ET_V);
        r.V0 = v0;
        r.V0_len = 2 * N;
        r.threads = threads;
        et_out o;
        et_run_ok(m, &r, &o);
        assert_int_equal(o.res.diverged, 1);
        assert_int_equal(o.res.diverged_step, k1);
        assert_int_equal(o.res.diverged_trial, 1);
        assert_int_equal(o.res.steps_done, k1);
        assert_int_equal(o.res.rows_written, k1);
        check_trial(&o, 1, dt, v0s[1], k1, 1, o.rows);
        check_trial(&o, 0, dt, v0s[0], k0, 1, k1); /* rows kept for the other trial */
        et_out_free(&o);
    }
    /* Both trials diverge at the same step: the lowest trial is named. */
    double same[2 * N] = {1e10, 1e10, 1e10, 1e10};
    eir_run_desc r;
    et_rdesc(&r, dt, T, 2, ET_V);
    r.V0 = same;
    r.V0_len = 2 * N;
    et_out o;
    et_run_ok(m, &r, &o);
    assert_int_equal(o.res.diverged, 1);
    assert_int_equal(o.res.diverged_step, k1);
    assert_int_equal(o.res.diverged_trial, 0);
    et_out_free(&o);
    eir_model_free(m);
}

/* A stable run reports no divergence. */
static void test_no_divergence(void **state)
{
    (void)state;
    const double W[N * N] = {0.5, 0.0, 0.0, 0.5};
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, N, 0, W, &ONE, 1);
    eir_model *m = et_build(&d);
    eir_run_desc r;
    et_rdesc(&r, 0.5, 100, 1, ET_V);
    r.V0 = &ONE;
    r.V0_len = 1;
    et_out o;
    et_run_ok(m, &r, &o);
    assert_int_equal(o.res.diverged, 0);
    assert_int_equal(o.res.diverged_step, -1);
    assert_int_equal(o.res.diverged_trial, -1);
    assert_int_equal(o.res.steps_done, 100);
    assert_int_equal(o.res.rows_written, 100);
    et_out_free(&o);
    eir_model_free(m);
}

/* euler: max(z) dt > 2 sets res.unstable; exp_euler never does. */
static void test_unstable_flag(void **state)
{
    (void)state;
    static const double W0[N * N] = {0};
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, N, 0, W0, &ONE, 1);
    eir_model *m = et_build(&d);
    const struct {
        eir_integrator integ;
        double dt;
        int unstable;
    } cases[] = {{EIR_INTEG_EULER, 2.5, 1},
                 {EIR_INTEG_EULER, 1.5, 0},
                 {EIR_INTEG_EULER, 1.99, 0},
                 {EIR_INTEG_EXP_EULER, 2.5, 0},
                 {EIR_INTEG_EXP_EULER, 50.0, 0}};
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        eir_run_desc r;
        et_rdesc(&r, cases[q].dt, 20, 1, ET_V);
        r.integrator = cases[q].integ;
        r.V0 = &ONE;
        r.V0_len = 1;
        et_out o;
        et_run_ok(m, &r, &o);
        ET_CHECK(o.res.unstable == cases[q].unstable, "%s dt %g: unstable %d",
                 eir_integrator_name(cases[q].integ), cases[q].dt, o.res.unstable);
        ET_ASSERT_REL(o.res.max_z_dt, cases[q].dt, 1e-15);
        et_out_free(&o);
    }
    eir_model_free(m);

    /* Gated: leak dt = 1.5 < 2, but the gate z = 1 + r_0 of cell 1 rises to ~2 (z dt ~ 3). */
    const double W[N * N] = {0.0, 0.0, 1.0, 0.0}, A = 1.0, bias[N] = {1.0, 0.0};
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_RELU, N, 0, W, &ONE, 1);
    d.A = &A;
    d.a_kind = EIR_A_SCALAR;
    d.bias = bias;
    d.bias_len = N;
    m = et_build(&d);
    for (int integ = 0; integ < 2; integ++) {
        eir_run_desc r;
        et_rdesc(&r, 1.5, 30, 1, ET_Z);
        r.integrator = integ ? EIR_INTEG_EULER : EIR_INTEG_EXP_EULER;
        et_out o;
        et_run_ok(m, &r, &o);
        double zmax = 0;
        for (int64_t k = 0; k < 30; k++)
            for (int i = 0; i < N; i++)
                zmax = fmax(zmax, et_at(&o, EIR_VAR_Z, 0, k, i));
        ET_CHECK(zmax * 1.5 > 2.5, "test design: z dt never exceeded 2.5 (%g)", zmax * 1.5);
        ET_ASSERT_REL(o.res.max_z_dt, zmax * 1.5, 1e-15);
        assert_int_equal(o.res.unstable, integ ? 1 : 0);
        et_out_free(&o);
    }
    eir_model_free(m);
}

/* ---- progress and cancellation ---- */

typedef struct prog {
    int calls;
    int monotone;
    int64_t last;
    int64_t total;
    int64_t stop_at; /* return 1 once steps_done >= stop_at (<= 0: never) */
} prog;

static int on_progress(void *ctx, int64_t done, int64_t total)
{
    prog *p = ctx;
    if (p->calls > 0 && (done < p->last || total != p->total)) p->monotone = 0;
    if (done < 0 || done > total) p->monotone = 0;
    p->calls++;
    p->last = done;
    p->total = total;
    return p->stop_at > 0 && done >= p->stop_at;
}

static eir_model *stable_model(void)
{
    static const double W[N * N] = {0.0, -0.5, 0.8, 0.0}, leak = 1.0, bias[N] = {0.3, -0.1};
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_TANH, N, 0, W, &leak, 1);
    d.bias = bias;
    d.bias_len = N;
    d.sigma = 0.2;
    return et_build(&d);
}

static void test_progress(void **state)
{
    (void)state;
    eir_model *m = stable_model();
    const int64_t T = 1000;
    prog p = {0, 1, 0, 0, 0};
    eir_run_desc r;
    et_rdesc(&r, 0.1, T, 1, ET_V);
    r.seed = 3;
    r.progress = on_progress;
    r.progress_ctx = &p;
    r.progress_every = 50;
    et_out o;
    et_run_ok(m, &r, &o);
    ET_CHECK(p.calls >= (int)(T / 50), "progress called %d times, expected >= %d", p.calls,
             (int)(T / 50));
    ET_CHECK(p.monotone, "steps_done not monotone, outside [0, total] or total changed");
    assert_int_equal(p.total, T);
    assert_int_equal(p.last, T); /* the final call */
    et_out_free(&o);
    eir_model_free(m);
}

static void test_cancel(void **state)
{
    (void)state;
    eir_model *m = stable_model();
    const int64_t T = 1000;
    const int everys[2] = {1, 7};
    for (int q = 0; q < 2; q++) {
        int e = everys[q];
        eir_run_desc r;
        et_rdesc(&r, 0.1, T, 1, ET_V | ET_Z);
        r.seed = 3;
        r.record_every = e;
        et_out full;
        et_run_ok(m, &r, &full);

        prog p = {0, 1, 0, 0, 300};
        r.progress = on_progress;
        r.progress_ctx = &p;
        r.progress_every = 50;
        et_out o;
        eir_status st = et_run(m, &r, &o);
        assert_int_equal(st, EIR_ECANCELLED);
        ET_CHECK(p.monotone, "steps_done not monotone");
        int64_t done = o.res.steps_done;
        ET_CHECK(done >= 300 && done < T, "steps_done %lld after cancelling at 300",
                 (long long)done);
        assert_int_equal(done, p.last);
        assert_int_equal(o.res.diverged, 0);
        assert_int_equal(o.res.rows_written, done / e);
        for (int64_t j = 0; j < o.rows; j++)
            for (int v = 0; v < 3; v += 2)
                for (int i = 0; i < N; i++) {
                    double a = et_at(&o, (eir_var)v, 0, j, i);
                    if (j < o.res.rows_written)
                        ET_CHECK(
                            memcmp(&a, &(double){et_at(&full, (eir_var)v, 0, j, i)}, sizeof a) == 0,
                            "every %d row %lld: kept row differs from the full run", e,
                            (long long)j);
                    else
                        ET_CHECK(isnan(a), "every %d row %lld (not reached): %g, expected NaN", e,
                                 (long long)j, a);
                }
        et_out_free(&o);
        et_out_free(&full);
    }
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_divergence_step), cmocka_unit_test(test_divergence_batch),
        cmocka_unit_test(test_no_divergence),   cmocka_unit_test(test_unstable_flag),
        cmocka_unit_test(test_progress),        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
