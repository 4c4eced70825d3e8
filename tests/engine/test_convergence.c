/*
 * Order of convergence of the three integrators on a small gated nonlinear network
 * (6 E + 2 I, softplus, Dale-signed W, A per presynaptic type, input gating on), whose
 * dynamics are smooth (softplus, not relu: relu's kink spoils rk4's fourth order).
 *
 * V at t = 2 is compared with an rk4 reference at a step 32 times finer than rk4's finest;
 * the order is the least-squares slope of log(error) against log(dt) over dt, dt/2, dt/4:
 * euler ~ 1, exp_euler ~ 1 (z and I frozen over the step), rk4 ~ 4.
 *
 * Also checks the first steps of each integrator against a hand computation of its MODEL.md
 * formula (euler, exp_euler, classic rk4 with z and r re-evaluated at every stage and the input
 * held constant), to 1e-13 relative, so that a swapped or mislabelled integrator fails even
 * where the order alone would not tell.
 */
#include "eir_test_util.h"

#define NE 6
#define NI 2
#define N (NE + NI)
#define NIN 1

static double W[N * N], A[2] = {0.3, 0.6}, LEAK[N], BIAS[N], P[N * NIN], MIN[N * NIN], V0[N],
                        M[N * N];
static const double X = 0.5; /* constant input */
static const eir_activation ACT = {EIR_ACT_SOFTPLUS, 0, 0, INFINITY};

static eir_model *build(void)
{
    et_rng g = {12345};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double w = 0;
            if (i != j) w = j < NE ? et_unif(&g, 0.0, 0.4) : -et_unif(&g, 0.0, 0.8);
            W[i * N + j] = w;
        }
        LEAK[i] = et_unif(&g, 0.8, 1.5);
        BIAS[i] = et_unif(&g, -0.5, 0.8);
        P[i] = et_unif(&g, 0.2, 1.0);
        MIN[i] = et_unif(&g, 0.0, 0.5);
        V0[i] = et_unif(&g, -1.0, 1.5);
    }
    et_M_from_A(NE, NI, EIR_A_PER_TYPE, A, W, M);
    eir_model_desc d;
    et_desc_gated(&d, EIR_ACT_SOFTPLUS, NE, NI, W, LEAK, A, NIN, P, BIAS);
    d.M_in = MIN;
    return et_build(&d);
}

/* One trial of T steps of dt from V0 with the constant input X (written to @p inputs, T
 * values), V recorded. */
static void const_input_run(eir_run_desc *r, eir_integrator integ, double dt, int64_t T,
                            double *inputs)
{
    for (int64_t k = 0; k < T; k++)
        inputs[k] = X;
    et_rdesc(r, dt, T, 1, ET_V);
    r->integrator = integ;
    r->inputs = inputs;
    r->V0 = V0;
    r->V0_len = N;
}

/* Final V after T steps of dt. */
static void final_v(const eir_model *m, eir_integrator integ, double dt, int64_t T, double *v)
{
    double *inputs = malloc((size_t)T * sizeof *inputs);
    assert_non_null(inputs);
    eir_run_desc r;
    const_input_run(&r, integ, dt, T, inputs);
    r.record_every = (int)T; /* only the last row */
    et_out o;
    et_run_ok(m, &r, &o);
    assert_int_equal(o.rows, 1);
    for (int i = 0; i < N; i++)
        v[i] = et_at(&o, EIR_VAR_V, 0, 0, i);
    et_out_free(&o);
    free(inputs);
}

static double err_norm(const double *a, const double *b)
{
    double e = 0;
    for (int i = 0; i < N; i++)
        e = fmax(e, fabs(a[i] - b[i]));
    return e;
}

static void check_order(eir_integrator integ, double dt0, double lo, double hi)
{
    const double t_end = 2.0;
    eir_model *m = build();
    double ref[N];
    double dt_ref = dt0 / 4 / 32;
    final_v(m, EIR_INTEG_RK4, dt_ref, (int64_t)llround(t_end / dt_ref), ref);
    double lx[3], ly[3];
    for (int q = 0; q < 3; q++) {
        double dt = dt0 / (1 << q), v[N];
        final_v(m, integ, dt, (int64_t)llround(t_end / dt), v);
        double e = err_norm(v, ref);
        print_message("%s dt %-8g error %.3e\n", eir_integrator_name(integ), dt, e);
        ET_CHECK(e > 1e-11, "error %.3g at dt %g is at rounding level: no order to fit", e, dt);
        lx[q] = log(dt);
        ly[q] = log(e);
    }
    double mx = (lx[0] + lx[1] + lx[2]) / 3, my = (ly[0] + ly[1] + ly[2]) / 3, sxy = 0, sxx = 0;
    for (int q = 0; q < 3; q++) {
        sxy += (lx[q] - mx) * (ly[q] - my);
        sxx += (lx[q] - mx) * (lx[q] - mx);
    }
    double order = sxy / sxx;
    print_message("%s: fitted order %.3f\n", eir_integrator_name(integ), order);
    ET_CHECK(order >= lo && order <= hi, "%s: fitted order %.3f outside [%g, %g]",
             eir_integrator_name(integ), order, lo, hi);
    eir_model_free(m);
}

static void test_order_euler(void **state)
{
    (void)state;
    check_order(EIR_INTEG_EULER, 0.02, 0.9, 1.1);
}

static void test_order_exp_euler(void **state)
{
    (void)state;
    check_order(EIR_INTEG_EXP_EULER, 0.02, 0.9, 1.1);
}

static void test_order_rk4(void **state)
{
    (void)state;
    check_order(EIR_INTEG_RK4, 0.1, 3.7, 4.3);
}

/* ---- hand-computed steps ---- */

static void gate_and_drive(const double *v, double *z, double *I)
{
    double r[N];
    for (int j = 0; j < N; j++)
        r[j] = et_f(&ACT, v[j]);
    for (int i = 0; i < N; i++) {
        double zi = LEAK[i] + MIN[i] * fabs(X), Ii = P[i] * X + BIAS[i];
        for (int j = 0; j < N; j++) {
            zi += M[i * N + j] * r[j];
            Ii += W[i * N + j] * r[j];
        }
        z[i] = zi;
        I[i] = Ii;
    }
}

static void rhs(const double *v, double *dv)
{
    double z[N], I[N];
    gate_and_drive(v, z, I);
    for (int i = 0; i < N; i++)
        dv[i] = -z[i] * v[i] + I[i];
}

static void hand_step(eir_integrator integ, double dt, double *v)
{
    double z[N], I[N];
    if (integ == EIR_INTEG_EXP_EULER) {
        gate_and_drive(v, z, I);
        for (int i = 0; i < N; i++)
            v[i] = v[i] * exp(-z[i] * dt) + I[i] * -expm1(-z[i] * dt) / z[i];
    } else if (integ == EIR_INTEG_EULER) {
        double d[N];
        rhs(v, d);
        for (int i = 0; i < N; i++)
            v[i] += dt * d[i];
    } else {
        double k1[N], k2[N], k3[N], k4[N], t[N];
        rhs(v, k1);
        for (int i = 0; i < N; i++)
            t[i] = v[i] + 0.5 * dt * k1[i];
        rhs(t, k2);
        for (int i = 0; i < N; i++)
            t[i] = v[i] + 0.5 * dt * k2[i];
        rhs(t, k3);
        for (int i = 0; i < N; i++)
            t[i] = v[i] + dt * k3[i];
        rhs(t, k4);
        for (int i = 0; i < N; i++)
            v[i] += dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
}

static void check_steps(eir_integrator integ)
{
    eir_model *m = build();
    const int64_t T = 6;
    const double dt = 0.15;
    double inputs[6];
    eir_run_desc r;
    const_input_run(&r, integ, dt, T, inputs);
    et_out o;
    et_run_ok(m, &r, &o);
    double v[N];
    memcpy(v, V0, sizeof v);
    for (int64_t k = 0; k < T; k++) {
        hand_step(integ, dt, v);
        for (int i = 0; i < N; i++)
            ET_CHECK(et_rel(et_at(&o, EIR_VAR_V, 0, k, i), v[i], 1.0) <= 1e-13,
                     "%s row %lld neuron %d: V %.17g, hand %.17g", eir_integrator_name(integ),
                     (long long)k, i, et_at(&o, EIR_VAR_V, 0, k, i), v[i]);
    }
    et_out_free(&o);
    eir_model_free(m);
}

static void test_steps_by_hand(void **state)
{
    (void)state;
    check_steps(EIR_INTEG_EXP_EULER);
    check_steps(EIR_INTEG_EULER);
    check_steps(EIR_INTEG_RK4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_by_hand),
        cmocka_unit_test(test_order_euler),
        cmocka_unit_test(test_order_exp_euler),
        cmocka_unit_test(test_order_rk4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
