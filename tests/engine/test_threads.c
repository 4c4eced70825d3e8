/*
 * One run on every core, the same bytes (eir.h eir_run, docs/RELIABILITY.md): a seeded noisy
 * gated run gives the same bytes of V, r, z and y, and the same statistics, at 1, 2 and 3
 * threads, for B = 1 and B = 100, with per-type A (split products) and a full A (fused
 * products), exp_euler in float32 and rk4 in float64. The shapes make the engine cut each
 * step into several work items, so the threads really share one step:
 *  - B = 1, N = 900: four neuron blocks (SIM_NEURON_BLOCK = 256 of n_pad = 928), matrix-vector
 *    products, enough work per step for three threads;
 *  - B = 1, N = 500, full A: the single-trial column kernel (N <= 512) in two neuron blocks,
 *    two threads;
 *  - B = 100, N = 300: two trial blocks (EIR_TRIAL_BLOCK = 64) x two neuron blocks.
 * A run that diverges stops at the same step, names the same trial and keeps the same bytes.
 */
#include "eir_test_util.h"

#define NIN 2
#define NOUT 3

/** A gated relu-family model of n cells (80 % E) with inputs, input gating, a readout, noise. */
static eir_model *build(int n, eir_a_kind a_kind, double w_scale, double sigma)
{
    const int ne = n * 4 / 5, ni = n - ne;
    double *W = malloc((size_t)n * n * sizeof *W), *A = NULL;
    double *P = malloc((size_t)n * NIN * sizeof *P), *Min = malloc((size_t)n * NIN * sizeof *Min);
    double *Wout = malloc((size_t)NOUT * n * sizeof *Wout), leak = 1.0;
    static const double a_type[2] = {0.3, 0.9};
    assert_true(W && P && Min && Wout);
    et_rng g = {77};
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double v = et_unif(&g, 0, 1) < 0.2 ? et_unif(&g, 0, 1) : 0.0;
            W[(size_t)i * n + j] = w_scale * (j < ne ? v : -4.0 * v) / sqrt((double)n);
        }
        for (int c = 0; c < NIN; c++) {
            P[i * NIN + c] = et_unif(&g, -1, 1);
            Min[i * NIN + c] = et_unif(&g, 0, 0.3);
        }
    }
    for (int q = 0; q < NOUT * n; q++)
        Wout[q] = et_unif(&g, -1, 1) / n;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, ne, ni, W, &leak, 1);
    d.a_kind = a_kind;
    if (a_kind == EIR_A_MATRIX) {
        A = malloc((size_t)n * n * sizeof *A);
        assert_non_null(A);
        for (size_t q = 0; q < (size_t)n * n; q++)
            A[q] = et_unif(&g, 0.1, 1.0);
        d.A = A;
    } else {
        d.A = a_type;
    }
    d.n_in = NIN;
    d.P = P;
    d.M_in = Min;
    d.n_out = NOUT;
    d.W_out = Wout;
    d.sigma = sigma;
    eir_model *m = et_build(&d);
    free(W);
    free(A);
    free(P);
    free(Min);
    free(Wout);
    return m;
}

static double *make_inputs(int B, int64_t T)
{
    et_rng g = {9};
    double *x = malloc((size_t)B * (size_t)T * NIN * sizeof *x);
    assert_non_null(x);
    for (size_t q = 0; q < (size_t)B * (size_t)T * NIN; q++)
        x[q] = 0.5 + et_unif(&g, -1, 1);
    return x;
}

static void run(const eir_model *m, int B, int64_t T, const double *x, int threads,
                eir_precision prec, eir_integrator integ, et_out *o)
{
    eir_run_desc r;
    et_rdesc(&r, 0.1, T, B, ET_V | ET_R | ET_Z | ET_Y);
    r.inputs = x;
    r.seed = 1234567;
    r.threads = threads;
    r.precision = prec;
    r.integrator = integ;
    r.record_every = 2;
    et_run_ok(m, &r, o);
}

/** Bytes of every output and every statistic of @p a and @p b are equal. */
static int same_run(const et_out *a, const et_out *b)
{
    size_t es = a->prec == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++) {
        if (a->len[v] != b->len[v]) return 0;
        if (a->len[v] && memcmp(a->buf[v], b->buf[v], a->len[v] * es) != 0) return 0;
    }
    const eir_run_result *p = &a->res, *q = &b->res;
    return p->steps_done == q->steps_done && p->rows_written == q->rows_written &&
           p->diverged == q->diverged && p->diverged_step == q->diverged_step &&
           p->diverged_trial == q->diverged_trial &&
           memcmp(&p->max_z_dt, &q->max_z_dt, sizeof(double)) == 0 &&
           memcmp(&p->mean_rate_e, &q->mean_rate_e, sizeof(double)) == 0 &&
           memcmp(&p->mean_rate_i, &q->mean_rate_i, sizeof(double)) == 0;
}

/** Runs at 1, 2 and 3 threads give the same bytes; returns the 1-thread run's result. */
static eir_run_result check_threads(const eir_model *m, int B, int64_t T, eir_precision prec,
                                    eir_integrator integ, const char *what)
{
    double *x = make_inputs(B, T);
    et_out o[3];
    for (int t = 0; t < 3; t++)
        run(m, B, T, x, t + 1, prec, integ, &o[t]);
    for (int t = 1; t < 3; t++)
        ET_CHECK(same_run(&o[0], &o[t]), "%s, B %d, %s %s: 1 and %d threads differ", what, B,
                 eir_precision_name(prec), eir_integrator_name(integ), t + 1);
    /* the noise is there: a run without it would make the comparison weaker */
    ET_CHECK(o[0].res.diverged || (o[0].res.mean_rate_e > 0 && isfinite(o[0].res.mean_rate_e)),
             "%s: no activity", what);
    eir_run_result res = o[0].res;
    for (int t = 0; t < 3; t++)
        et_out_free(&o[t]);
    free(x);
    return res;
}

static void check_shape(int n, int B, eir_a_kind a_kind, const char *what)
{
    eir_model *m = build(n, a_kind, 1.0, 0.3);
    /* short runs: they run under valgrind and the sanitizers too (scripts/sanitize.sh) */
    eir_run_result r = check_threads(m, B, 20, EIR_F32, EIR_INTEG_EXP_EULER, what);
    assert_int_equal(r.steps_done, 20);
    assert_int_equal(r.diverged, 0);
    r = check_threads(m, B, 8, EIR_F64, EIR_INTEG_RK4, what);
    assert_int_equal(r.steps_done, 8);
    eir_model_free(m);
}

static void test_one_trial_gemv(void **state)
{
    (void)state;
    check_shape(900, 1, EIR_A_PER_TYPE, "N 900 per-type A");
    check_shape(900, 1, EIR_A_MATRIX, "N 900 full A");
}

static void test_one_trial_columns(void **state)
{
    (void)state;
    check_shape(500, 1, EIR_A_MATRIX, "N 500 full A (column kernel)");
    check_shape(500, 1, EIR_A_PER_TYPE, "N 500 per-type A (column kernel)");
}

static void test_hundred_trials(void **state)
{
    (void)state;
    check_shape(300, 100, EIR_A_PER_TYPE, "N 300 per-type A");
    check_shape(300, 100, EIR_A_MATRIX, "N 300 full A");
}

/* Strong recurrent excitation without enough gating blows up in float32: the step and trial
 * of the divergence, and the rows kept before it, do not depend on the thread count. */
static void test_divergence(void **state)
{
    (void)state;
    eir_model *m = build(300, EIR_A_PER_TYPE, 400.0, 0.3);
    eir_run_result r = check_threads(m, 100, 400, EIR_F32, EIR_INTEG_EULER, "diverging N 300");
    ET_CHECK(r.diverged == 1 && r.diverged_step > 0 && r.diverged_step < 400,
             "test design: the run must diverge inside the run (step %lld)",
             (long long)r.diverged_step);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_trial_gemv),
        cmocka_unit_test(test_one_trial_columns),
        cmocka_unit_test(test_hundred_trials),
        cmocka_unit_test(test_divergence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
