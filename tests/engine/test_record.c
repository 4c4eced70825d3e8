/*
 * What is recorded, and where (eir.h eir_run_desc, MODEL.md "Time stepping"):
 *  - a neuron subset (in the given order) and a stride give exactly (memcmp) the corresponding
 *    entries of a full recording; y is always whole;
 *  - y = W_out r + b_out, reading all cells or only the E cells, equals a hand computation
 *    from the recorded r (1e-14 relative to max(1, |y|));
 *  - row k holds V_{k+1} and r_{k+1} = f(V_{k+1}) but z_k, the gate used by step k (made from
 *    r_k, i.e. the previous row of r, or f(V_0) for row 0); each row of V is one exp_euler step
 *    from the previous row with that z_k and I_k = W r_k + P x_k + b, computed by hand;
 *  - V0 broadcast forms (scalar, per-neuron, per-trial) and a NULL V0 (zero).
 */
#include "eir_test_util.h"

#define NE 4
#define NI 2
#define N (NE + NI)
#define NIN 2
#define NOUT 3
#define B 2
#define T 30

static double W[N * N], LEAK[N], BIAS[N], P[N * NIN], WOUT[NOUT * N], BOUT[NOUT], M[N * N];
static const double A[2] = {0.6, 0.9};
static double X[B * T * NIN], V0[B * N];
static const eir_activation ACT = {EIR_ACT_SOFTPLUS, 0, 0, INFINITY};
static const double DT = 0.2;

static eir_model *build(eir_readout_from from)
{
    et_rng g = {99};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            W[i * N + j] = i == j ? 0 : (j < NE ? et_unif(&g, 0, 0.6) : -et_unif(&g, 0, 1.2));
        LEAK[i] = et_unif(&g, 0.5, 1.5);
        BIAS[i] = et_unif(&g, -0.5, 0.5);
        for (int c = 0; c < NIN; c++)
            P[i * NIN + c] = et_unif(&g, -1, 1);
    }
    for (int k = 0; k < NOUT * N; k++)
        WOUT[k] = et_unif(&g, -1, 1);
    for (int k = 0; k < NOUT; k++)
        BOUT[k] = et_unif(&g, -2, 2);
    for (int k = 0; k < B * T * NIN; k++)
        X[k] = et_unif(&g, -1, 2);
    for (int k = 0; k < B * N; k++)
        V0[k] = et_unif(&g, -1, 1);
    et_M_from_A(NE, NI, EIR_A_PER_TYPE, A, W, M);
    eir_model_desc d;
    et_desc_gated(&d, EIR_ACT_SOFTPLUS, NE, NI, W, LEAK, A, NIN, P, BIAS);
    d.n_out = NOUT;
    d.W_out = WOUT; /* NOUT x N, or its first NOUT x NE values read as NOUT x NE */
    d.b_out = BOUT;
    d.readout_from = from;
    return et_build(&d);
}

static void full_run_with(const eir_model *m, eir_integrator integ, et_out *o)
{
    eir_run_desc r;
    et_rdesc(&r, DT, T, B, ET_V | ET_R | ET_Z | ET_Y);
    r.integrator = integ;
    r.inputs = X;
    r.V0 = V0;
    r.V0_len = B * N;
    et_run_ok(m, &r, o);
    assert_int_equal(o->width[EIR_VAR_V], N);
    assert_int_equal(o->width[EIR_VAR_Y], NOUT);
}

static void full_run(const eir_model *m, et_out *o)
{
    full_run_with(m, EIR_INTEG_EXP_EULER, o);
}

static void test_subset_and_stride(void **state)
{
    (void)state;
    eir_model *m = build(EIR_READOUT_ALL);
    et_out full;
    full_run(m, &full);
    static const int subsets[][4] = {{4, 0, 2, -1}, {5, -1}, {0, 1, 2, 3}};
    static const int nsub[] = {3, 1, 4};
    static const int everys[] = {1, 3, 7};
    for (int s = 0; s < 3; s++)
        for (int q = 0; q < 3; q++) {
            int e = everys[q];
            eir_run_desc r;
            et_rdesc(&r, DT, T, B, ET_V | ET_R | ET_Z | ET_Y);
            r.inputs = X;
            r.V0 = V0;
            r.V0_len = B * N;
            r.neurons = subsets[s];
            r.n_neurons = nsub[s];
            r.record_every = e;
            et_out o;
            et_run_ok(m, &r, &o);
            assert_int_equal(o.rows, T / e);
            assert_int_equal(o.res.rows_written, T / e);
            assert_int_equal(o.len[EIR_VAR_V], (size_t)(B * (T / e) * nsub[s]));
            assert_int_equal(o.len[EIR_VAR_Y], (size_t)(B * (T / e) * NOUT));
            for (int b = 0; b < B; b++)
                for (int64_t j = 0; j < o.rows; j++) {
                    int64_t k = (j + 1) * e - 1;
                    for (int v = 0; v < 3; v++)
                        for (int u = 0; u < nsub[s]; u++) {
                            const double *a = et_row(&o, (eir_var)v, b, j) + u;
                            const double *f = et_row(&full, (eir_var)v, b, k) + subsets[s][u];
                            ET_CHECK(memcmp(a, f, sizeof *a) == 0,
                                     "%s subset %d every %d trial %d row %lld unit %d: %.17g, "
                                     "full %.17g",
                                     eir_var_name((eir_var)v), s, e, b, (long long)j, u, *a, *f);
                        }
                    ET_CHECK(memcmp(et_row(&o, EIR_VAR_Y, b, j), et_row(&full, EIR_VAR_Y, b, k),
                                    NOUT * sizeof(double)) == 0,
                             "y subset %d every %d trial %d row %lld differs", s, e, b,
                             (long long)j);
                }
            et_out_free(&o);
        }
    et_out_free(&full);
    eir_model_free(m);
}

static void check_readout(eir_readout_from from)
{
    eir_model *m = build(from);
    et_out o;
    full_run(m, &o);
    int ncol = from == EIR_READOUT_E ? NE : N;
    for (int b = 0; b < B; b++)
        for (int64_t k = 0; k < T; k++) {
            const double *r = et_row(&o, EIR_VAR_R, b, k);
            for (int q = 0; q < NOUT; q++) {
                double y = BOUT[q];
                for (int j = 0; j < ncol; j++)
                    y += WOUT[q * ncol + j] * r[j];
                ET_CHECK(et_rel(et_at(&o, EIR_VAR_Y, b, k, q), y, 1.0) <= 1e-14,
                         "readout %s trial %d row %lld output %d: y %.17g, W_out r + b_out %.17g",
                         from == EIR_READOUT_E ? "E" : "all", b, (long long)k, q,
                         et_at(&o, EIR_VAR_Y, b, k, q), y);
            }
        }
    et_out_free(&o);
    eir_model_free(m);
}

static void test_readout(void **state)
{
    (void)state;
    check_readout(EIR_READOUT_ALL);
    check_readout(EIR_READOUT_E);
}

/*
 * Row k: V_{k+1}, r_{k+1} = f(V_{k+1}), z_k = leak + M r_k, for every integrator (rk4 records
 * the gate of the step's start, not of a stage); V_{k+1} is one exp_euler or euler step from
 * V_k with that z_k (rk4's step is checked by hand in test_convergence).
 */
static void check_alignment(eir_integrator integ)
{
    eir_model *m = build(EIR_READOUT_ALL);
    et_out o;
    full_run_with(m, integ, &o);
    int z_differs_from_next = 0;
    for (int b = 0; b < B; b++)
        for (int64_t k = 0; k < T; k++) {
            double vk[N], rk[N];
            for (int j = 0; j < N; j++) {
                vk[j] = k == 0 ? V0[b * N + j] : et_at(&o, EIR_VAR_V, b, k - 1, j);
                rk[j] = k == 0 ? et_f(&ACT, vk[j]) : et_at(&o, EIR_VAR_R, b, k - 1, j);
            }
            const double *x = X + ((size_t)b * T + (size_t)k) * NIN;
            for (int i = 0; i < N; i++) {
                double v1 = et_at(&o, EIR_VAR_V, b, k, i), r1 = et_at(&o, EIR_VAR_R, b, k, i);
                ET_CHECK(et_rel(r1, et_f(&ACT, v1), 0) <= 1e-14,
                         "%s trial %d row %lld neuron %d: r %.17g, f(V) %.17g",
                         eir_integrator_name(integ), b, (long long)k, i, r1, et_f(&ACT, v1));
                double z = LEAK[i], I = BIAS[i], znext = LEAK[i];
                for (int j = 0; j < N; j++) {
                    z += M[i * N + j] * rk[j];
                    I += W[i * N + j] * rk[j];
                    znext += M[i * N + j] * et_at(&o, EIR_VAR_R, b, k, j);
                }
                for (int c = 0; c < NIN; c++)
                    I += P[i * NIN + c] * x[c];
                double zr = et_at(&o, EIR_VAR_Z, b, k, i);
                ET_CHECK(et_rel(zr, z, 0) <= 1e-14,
                         "%s trial %d row %lld neuron %d: z %.17g, z_k = leak + M r_k = %.17g",
                         eir_integrator_name(integ), b, (long long)k, i, zr, z);
                if (et_rel(zr, znext, 0) > 1e-6) z_differs_from_next = 1;
                if (integ == EIR_INTEG_RK4) continue;
                double want = integ == EIR_INTEG_EULER
                                  ? vk[i] + DT * (-z * vk[i] + I)
                                  : vk[i] * exp(-z * DT) + I * -expm1(-z * DT) / z;
                ET_CHECK(et_rel(v1, want, 1.0) <= 1e-14,
                         "%s trial %d row %lld neuron %d: V %.17g, one step by hand %.17g",
                         eir_integrator_name(integ), b, (long long)k, i, v1, want);
            }
        }
    ET_CHECK(z_differs_from_next, "test design: z_k and z_{k+1} never differ");
    et_out_free(&o);
    eir_model_free(m);
}

static void test_row_alignment(void **state)
{
    (void)state;
    check_alignment(EIR_INTEG_EXP_EULER);
    check_alignment(EIR_INTEG_EULER);
    check_alignment(EIR_INTEG_RK4);
}

/*
 * res.mean_rate_e / mean_rate_i: the mean of r over E (I) cells, steps done and trials, i.e.
 * over r_1..r_T, the recorded rows of a run with every = 1 (r_0 = f(V_0) is not a step's
 * result). Also with a stride, where the mean still covers every step, not only kept rows.
 */
static void test_mean_rates(void **state)
{
    (void)state;
    eir_model *m = build(EIR_READOUT_ALL);
    et_out o;
    full_run(m, &o);
    double se = 0, si = 0;
    for (int b = 0; b < B; b++)
        for (int64_t k = 0; k < T; k++)
            for (int i = 0; i < N; i++)
                *(i < NE ? &se : &si) += et_at(&o, EIR_VAR_R, b, k, i);
    se /= (double)B * T * NE;
    si /= (double)B * T * NI;
    ET_ASSERT_REL(o.res.mean_rate_e, se, 1e-12);
    ET_ASSERT_REL(o.res.mean_rate_i, si, 1e-12);
    eir_run_desc r;
    et_rdesc(&r, DT, T, B, ET_V);
    r.inputs = X;
    r.V0 = V0;
    r.V0_len = B * N;
    r.record_every = 7;
    et_out o7;
    et_run_ok(m, &r, &o7);
    ET_ASSERT_REL(o7.res.mean_rate_e, se, 1e-12);
    ET_ASSERT_REL(o7.res.mean_rate_i, si, 1e-12);
    et_out_free(&o7);
    et_out_free(&o);
    eir_model_free(m);
}

/* V0: NULL (0), scalar, per neuron (all trials), per trial. Checked on the first row. */
static void test_v0_forms(void **state)
{
    (void)state;
    eir_model *m = build(EIR_READOUT_ALL);
    const double s = 0.7;
    const struct {
        const double *v0;
        int len;
    } forms[] = {{NULL, 0}, {&s, 1}, {V0, N}, {V0, B * N}};
    for (int q = 0; q < 4; q++) {
        eir_run_desc r;
        et_rdesc(&r, DT, 1, B, ET_V);
        r.inputs = NULL;
        r.V0 = forms[q].v0;
        r.V0_len = forms[q].len;
        et_out o;
        et_run_ok(m, &r, &o);
        for (int b = 0; b < B; b++) {
            double v0[N], z[N], I[N];
            for (int i = 0; i < N; i++)
                v0[i] = q == 0 ? 0.0 : q == 1 ? s : q == 2 ? V0[i] : V0[b * N + i];
            for (int i = 0; i < N; i++) {
                z[i] = LEAK[i];
                I[i] = BIAS[i];
                for (int j = 0; j < N; j++) {
                    z[i] += M[i * N + j] * et_f(&ACT, v0[j]);
                    I[i] += W[i * N + j] * et_f(&ACT, v0[j]);
                }
                double want = v0[i] * exp(-z[i] * DT) + I[i] * -expm1(-z[i] * DT) / z[i];
                ET_CHECK(et_rel(et_at(&o, EIR_VAR_V, b, 0, i), want, 1.0) <= 1e-14,
                         "V0 form %d trial %d neuron %d: V_1 %.17g, expected %.17g", q, b, i,
                         et_at(&o, EIR_VAR_V, b, 0, i), want);
            }
        }
        et_out_free(&o);
    }
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subset_and_stride), cmocka_unit_test(test_readout),
        cmocka_unit_test(test_row_alignment),     cmocka_unit_test(test_mean_rates),
        cmocka_unit_test(test_v0_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
