/*
 * Precision, batching and reproducibility (MODEL.md "Trials and precision", eir.h eir_run):
 *  - float32 agrees with float64 within float32 rounding (tolerance justified below);
 *  - trial b of a batch equals a single-trial run with b's inputs and V0 (float64, 1e-12);
 *  - a seeded noisy run gives the same bytes for any number of threads, for B = 4 and B = 3;
 *    a different seed gives different bytes, and trials with identical inputs get different
 *    noise (each trial has its own stream).
 */
#include "eir_test_util.h"

#define NE 6
#define NI 2
#define N (NE + NI)
#define NIN 2

static double W[N * N], LEAK[N], BIAS[N], P[N * NIN], MIN[N * NIN];
static const double A[2] = {0.4, 0.8};

static eir_model *build(double sigma, eir_act_kind act)
{
    et_rng g = {2024};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            W[i * N + j] = i == j ? 0 : (j < NE ? et_unif(&g, 0, 0.5) : -et_unif(&g, 0, 1.0));
        LEAK[i] = et_unif(&g, 0.8, 1.2);
        BIAS[i] = et_unif(&g, -0.3, 0.6);
        for (int c = 0; c < NIN; c++) {
            P[i * NIN + c] = et_unif(&g, -1, 1);
            MIN[i * NIN + c] = et_unif(&g, 0, 0.3);
        }
    }
    eir_model_desc d;
    et_desc_gated(&d, act, NE, NI, W, LEAK, A, NIN, P, BIAS);
    d.M_in = MIN;
    d.sigma = sigma;
    return et_build(&d);
}

static double *make_inputs(int B, int64_t T, uint64_t seed)
{
    et_rng g = {seed};
    double *x = malloc((size_t)B * (size_t)T * NIN * sizeof *x);
    assert_non_null(x);
    for (int b = 0; b < B; b++) {
        double f = 0.05 + 0.03 * b;
        for (int64_t k = 0; k < T; k++)
            for (int c = 0; c < NIN; c++)
                x[((size_t)b * (size_t)T + (size_t)k) * NIN + c] =
                    sin(f * (double)k + c) + 0.3 * et_unif(&g, -1, 1);
    }
    return x;
}

/*
 * float32 vs float64. float32's unit roundoff is u = 2^-24 ~ 6e-8. The model's parameters and
 * the inputs are rounded to float32 (relative u each); each step adds rounding errors of about
 * N u times the size of the terms (|W r|, |z V| are O(1) here); the network is contracting
 * (leak >= 0.8, inhibition-dominated), so each error decays by about e^{-z dt} per step and the
 * accumulated error stays near (N u) / (1 - e^{-0.8 dt}) ~ 8 * 6e-8 / 0.077 ~ 6e-6 at dt = 0.1
 * (and less at larger dt). The test allows 2e-5 relative to max(1, |x|), about 3 times that
 * estimate (observed: ~2e-7). A float32 path with a wrong formula would be off by O(1); one
 * that loses precision beyond float32 rounding (e.g. float16-like, ~1e-3) fails too.
 */
static void check_f32(eir_integrator integ, double dt)
{
    eir_model *m = build(0.0, EIR_ACT_SOFTPLUS);
    const int B = 2;
    const int64_t T = 300;
    double *x = make_inputs(B, T, 5);
    eir_run_desc r;
    et_rdesc(&r, dt, T, B, ET_V | ET_R | ET_Z);
    r.integrator = integ;
    r.inputs = x;
    et_out o64, o32;
    et_run_ok(m, &r, &o64);
    r.precision = EIR_F32;
    assert_int_equal(eir_run_out_len(m, &r, EIR_VAR_V), (size_t)(B * T * N));
    et_run_ok(m, &r, &o32);
    assert_int_equal(o32.res.steps_done, T);
    double worst = 0;
    for (int v = 0; v < 3; v++)
        for (int b = 0; b < B; b++)
            for (int64_t k = 0; k < T; k++)
                for (int i = 0; i < N; i++) {
                    double a = et_at(&o32, (eir_var)v, b, k, i);
                    double e = et_at(&o64, (eir_var)v, b, k, i);
                    double err = et_rel(a, e, 1.0);
                    worst = fmax(worst, err);
                    ET_CHECK(err <= 2e-5, "%s %s trial %d row %lld neuron %d: f32 %.9g, f64 %.17g",
                             eir_integrator_name(integ), eir_var_name((eir_var)v), b, (long long)k,
                             i, a, e);
                }
    print_message("%s dt %g: max f32/f64 difference %.3g\n", eir_integrator_name(integ), dt, worst);
    et_out_free(&o64);
    et_out_free(&o32);
    free(x);
    eir_model_free(m);
}

static void test_f32_vs_f64(void **state)
{
    (void)state;
    check_f32(EIR_INTEG_EXP_EULER, 0.1);
    check_f32(EIR_INTEG_EXP_EULER, 1.0);
    check_f32(EIR_INTEG_EULER, 0.1);
    check_f32(EIR_INTEG_RK4, 0.2);
}

/*
 * Trial b of a batch equals a single-trial run of b's inputs and V0. Not bit-for-bit: the
 * engine may compute a batch's W r with a BLAS matrix-matrix kernel and a single trial's with a
 * matrix-vector kernel, which sum in different orders; the difference is rounding, so 1e-12
 * relative (to max(1, |x|)) after T steps of a contracting network.
 */
static void test_batch_equals_single(void **state)
{
    (void)state;
    const int B = 3;
    const int64_t T = 120;
    const eir_integrator integs[3] = {EIR_INTEG_EXP_EULER, EIR_INTEG_EULER, EIR_INTEG_RK4};
    eir_model *m = build(0.0, EIR_ACT_SIGMOID);
    double *x = make_inputs(B, T, 9);
    double v0[B * N];
    for (int k = 0; k < B * N; k++)
        v0[k] = 0.1 * (k % 7) - 0.2;
    for (int q = 0; q < 3; q++) {
        eir_run_desc r;
        et_rdesc(&r, 0.1, T, B, ET_V | ET_R | ET_Z);
        r.integrator = integs[q];
        r.inputs = x;
        r.V0 = v0;
        r.V0_len = B * N;
        et_out ob;
        et_run_ok(m, &r, &ob);
        for (int b = 0; b < B; b++) {
            eir_run_desc r1;
            et_rdesc(&r1, 0.1, T, 1, ET_V | ET_R | ET_Z);
            r1.integrator = integs[q];
            r1.inputs = x + (size_t)b * (size_t)T * NIN;
            r1.V0 = v0 + b * N;
            r1.V0_len = N;
            et_out o1;
            et_run_ok(m, &r1, &o1);
            for (int v = 0; v < 3; v++)
                for (int64_t k = 0; k < T; k++)
                    for (int i = 0; i < N; i++) {
                        double a = et_at(&ob, (eir_var)v, b, k, i);
                        double e = et_at(&o1, (eir_var)v, 0, k, i);
                        ET_CHECK(et_rel(a, e, 1.0) <= 1e-12,
                                 "%s %s trial %d row %lld neuron %d: batch %.17g, single %.17g",
                                 eir_integrator_name(integs[q]), eir_var_name((eir_var)v), b,
                                 (long long)k, i, a, e);
                    }
            et_out_free(&o1);
        }
        et_out_free(&ob);
    }
    free(x);
    eir_model_free(m);
}

static int same_bytes(const et_out *a, const et_out *b, unsigned mask)
{
    size_t es = a->prec == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++)
        if (mask & (1u << v)) {
            if (a->len[v] != b->len[v]) return 0;
            if (memcmp(a->buf[v], b->buf[v], a->len[v] * es) != 0) return 0;
        }
    return 1;
}

static void noisy_run(const eir_model *m, int B, int64_t T, const double *x, uint64_t seed,
                      int threads, eir_precision prec, eir_integrator integ, et_out *o)
{
    eir_run_desc r;
    et_rdesc(&r, 0.1, T, B, ET_V | ET_R | ET_Z);
    r.inputs = x;
    r.seed = seed;
    r.threads = threads;
    r.precision = prec;
    r.integrator = integ;
    et_run_ok(m, &r, o);
    assert_int_equal(o->res.steps_done, T);
}

static void test_threads_reproducible(void **state)
{
    (void)state;
    const unsigned mask = ET_V | ET_R | ET_Z;
    const int64_t T = 200;
    eir_model *m = build(0.4, EIR_ACT_SOFTPLUS);
    const int Bs[3] = {4, 3, 140}; /* 140: three blocks of trials (EIR_TRIAL_BLOCK), split */
    const eir_precision precs[2] = {EIR_F64, EIR_F32};
    const eir_integrator integs[2] = {EIR_INTEG_EXP_EULER, EIR_INTEG_RK4};
    for (int qb = 0; qb < 3; qb++)
        for (int qp = 0; qp < 2; qp++)
            for (int qi = 0; qi < 2; qi++) {
                int B = Bs[qb];
                double *x = make_inputs(B, T, 3);
                et_out o1, o2, o3, o1b, os;
                noisy_run(m, B, T, x, 42, 1, precs[qp], integs[qi], &o1);
                noisy_run(m, B, T, x, 42, 2, precs[qp], integs[qi], &o2);
                noisy_run(m, B, T, x, 42, 5, precs[qp], integs[qi], &o3);
                noisy_run(m, B, T, x, 42, 1, precs[qp], integs[qi], &o1b);
                noisy_run(m, B, T, x, 43, 2, precs[qp], integs[qi], &os);
                ET_CHECK(same_bytes(&o1, &o2, mask), "B %d %s %s: threads 1 and 2 differ", B,
                         eir_precision_name(precs[qp]), eir_integrator_name(integs[qi]));
                ET_CHECK(same_bytes(&o1, &o3, mask), "B %d %s %s: threads 1 and 5 differ", B,
                         eir_precision_name(precs[qp]), eir_integrator_name(integs[qi]));
                ET_CHECK(same_bytes(&o1, &o1b, mask), "B %d: the same run twice differs", B);
                for (int v = 0; v < 3; v++) {
                    size_t es = precs[qp] == EIR_F32 ? sizeof(float) : sizeof(double);
                    /* Different seeds differ in every trial, not just somewhere. */
                    size_t per_trial = o1.len[v] / (size_t)B * es;
                    for (int b = 0; b < B; b++)
                        ET_CHECK(memcmp((char *)o1.buf[v] + b * per_trial,
                                        (char *)os.buf[v] + b * per_trial, per_trial) != 0,
                                 "B %d var %s trial %d: seeds 42 and 43 give the same bytes", B,
                                 eir_var_name((eir_var)v), b);
                }
                et_out_free(&o1);
                et_out_free(&o2);
                et_out_free(&o3);
                et_out_free(&o1b);
                et_out_free(&os);
                free(x);
            }
    eir_model_free(m);
}

/* Trials with identical inputs and V0 get independent noise streams, so they differ; the noise
 * is really applied (differs from the sigma = 0 model). */
static void test_trial_streams(void **state)
{
    (void)state;
    const int B = 3;
    const int64_t T = 50;
    eir_model *m = build(0.4, EIR_ACT_SOFTPLUS);
    eir_model *m0 = build(0.0, EIR_ACT_SOFTPLUS);
    double *x1 = make_inputs(1, T, 11);
    double *x = malloc((size_t)B * (size_t)T * NIN * sizeof *x);
    assert_non_null(x);
    for (int b = 0; b < B; b++)
        memcpy(x + (size_t)b * (size_t)T * NIN, x1, (size_t)T * NIN * sizeof *x);
    et_out o, o0;
    noisy_run(m, B, T, x, 7, 2, EIR_F64, EIR_INTEG_EXP_EULER, &o);
    noisy_run(m0, B, T, x, 7, 2, EIR_F64, EIR_INTEG_EXP_EULER, &o0);
    size_t per = (size_t)T * N * sizeof(double);
    for (int b = 0; b < B; b++) {
        for (int c = b + 1; c < B; c++)
            ET_CHECK(memcmp((char *)o.buf[EIR_VAR_V] + b * per, (char *)o.buf[EIR_VAR_V] + c * per,
                            per) != 0,
                     "trials %d and %d got the same noise", b, c);
        ET_CHECK(memcmp((char *)o.buf[EIR_VAR_V] + b * per, (char *)o0.buf[EIR_VAR_V] + b * per,
                        per) != 0,
                 "trial %d: noise had no effect", b);
    }
    /* Without noise the identical trials agree (to BLAS summation order, see above). */
    for (int b = 1; b < B; b++)
        for (int64_t k = 0; k < T; k++)
            for (int i = 0; i < N; i++)
                ET_ASSERT_CLOSE(et_at(&o0, EIR_VAR_V, b, k, i), et_at(&o0, EIR_VAR_V, 0, k, i),
                                1e-12, 1.0);
    et_out_free(&o);
    et_out_free(&o0);
    free(x);
    free(x1);
    eir_model_free(m);
    eir_model_free(m0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_vs_f64),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_threads_reproducible),
        cmocka_unit_test(test_trial_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
