/*
 * The paradoxical response of an inhibition-stabilised network (Tsodyks, Skaggs, Sejnowski &
 * McNaughton 1997, J. Neurosci. 17:4382; Ozeki et al. 2009).
 *
 * One E and one I cell, class dale, relu (linear-threshold), leak 1:
 *     W = [[W_EE, -W_EI], [W_IE, -W_II]] = [[2, -2.5], [3, -1]].
 * In the active regime (V > 0, f' = 1, z = leak since dale has M = 0) the Jacobian is
 * J = -I + W = [[1, -2.5], [3, -2]]: the E subnetwork alone is unstable (W_EE f' - leak = 1 > 0)
 * but the full network is stable (trace -1 < 0, det 5.5 > 0: eigenvalues -0.5 +- i sqrt(21)/2).
 * The fixed point for drive h solves (I - W) V = h:
 *     V_E = (2 h_E - 2.5 h_I) / 5.5,  V_I = (3 h_E - h_I) / 5.5,
 * so dV_I / dh_I = -1/5.5 < 0: more excitatory drive to the I cell LOWERS its steady rate.
 * exp_euler's fixed point is exactly the continuous one (V = I / z), so the simulated steady
 * states are compared with the closed form to 1e-9 relative. Near it, exp_euler (z = leak
 * frozen) is the linear map V <- e^{-dt} V + (1 - e^{-dt}) (W V + h), whose eigenvalues are
 * e^{-dt} + (1 - e^{-dt}) mu with mu = 0.5 +- i sqrt(5.25) the eigenvalues of W: at dt = 0.1,
 * |lambda| = 0.97705, a decay of 0.0232 per step (slower than the continuous e^{-0.5 t}).
 * 2000 steps per phase leave e^{-46} ~ 1e-20 of the transient.
 */
#include "eir_test_util.h"

static const double W[4] = {2.0, -2.5, 3.0, -1.0};
static const double LEAK = 1.0;
static const double P[4] = {1.0, 0.0, 0.0, 1.0}; /* channel 0 -> E, channel 1 -> I */

static eir_model *build(const double *w)
{
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_DALE, EIR_ACT_RELU, 1, 1, w, &LEAK, 1);
    d.n_in = 2;
    d.P = P;
    return et_build(&d);
}

/* Fixed point of (leak I - W) V = h, 2x2 by Cramer's rule. */
static void fixed_point(const double *w, const double *h, double *v)
{
    double a = LEAK - w[0], b = -w[1], c = -w[2], d = LEAK - w[3];
    double det = a * d - b * c;
    v[0] = (d * h[0] - b * h[1]) / det;
    v[1] = (a * h[1] - c * h[0]) / det;
}

static void test_paradoxical_response(void **state)
{
    (void)state;
    eir_model *m = build(W);
    const double dt = 0.1;
    const int64_t T1 = 2000, T2 = 2000, T = T1 + T2;
    const double h1[2] = {2.0, 0.5}, h2[2] = {2.0, 1.0}; /* extra drive to I only */
    double *x = malloc((size_t)T * 2 * sizeof *x);
    assert_non_null(x);
    for (int64_t k = 0; k < T; k++) {
        x[2 * k] = k < T1 ? h1[0] : h2[0];
        x[2 * k + 1] = k < T1 ? h1[1] : h2[1];
    }
    eir_run_desc r;
    et_rdesc(&r, dt, T, 1, ET_V | ET_R);
    r.inputs = x;
    et_out o;
    et_run_ok(m, &r, &o);
    assert_int_equal(o.res.diverged, 0);

    double v1[2], v2[2];
    fixed_point(W, h1, v1);
    fixed_point(W, h2, v2);
    ET_CHECK(v1[0] > 0 && v1[1] > 0 && v2[0] > 0 && v2[1] > 0,
             "test design: fixed points must be in the active regime");
    print_message("closed form: before (%.6f, %.6f), after (%.6f, %.6f)\n", v1[0], v1[1], v2[0],
                  v2[1]);
    for (int i = 0; i < 2; i++) {
        ET_ASSERT_REL(et_at(&o, EIR_VAR_V, 0, T1 - 1, i), v1[i], 1e-9);
        ET_ASSERT_REL(et_at(&o, EIR_VAR_R, 0, T1 - 1, i), v1[i], 1e-9);
        ET_ASSERT_REL(et_at(&o, EIR_VAR_V, 0, T - 1, i), v2[i], 1e-9);
        ET_ASSERT_REL(et_at(&o, EIR_VAR_R, 0, T - 1, i), v2[i], 1e-9);
    }
    double rI1 = et_at(&o, EIR_VAR_R, 0, T1 - 1, 1), rI2 = et_at(&o, EIR_VAR_R, 0, T - 1, 1);
    double rE1 = et_at(&o, EIR_VAR_R, 0, T1 - 1, 0), rE2 = et_at(&o, EIR_VAR_R, 0, T - 1, 0);
    ET_CHECK(rI2 < rI1, "paradoxical effect missing: I rate %.9f -> %.9f after more I drive", rI1,
             rI2);
    ET_CHECK(rE2 < rE1, "E rate %.9f -> %.9f should drop too", rE1, rE2);
    et_out_free(&o);
    free(x);
    eir_model_free(m);
}

/* The same drive in a non-ISN (W_EE < leak): the I rate rises with its drive, as usual. */
static void test_non_isn_control(void **state)
{
    (void)state;
    const double w[4] = {0.5, -2.5, 3.0, -1.0};
    eir_model *m = build(w);
    const double h1[2] = {2.0, 0.5}, h2[2] = {2.0, 1.0};
    double v1[2], v2[2];
    fixed_point(w, h1, v1);
    fixed_point(w, h2, v2);
    ET_CHECK(v1[0] > 0 && v1[1] > 0 && v2[0] > 0 && v2[1] > 0, "test design: active regime");
    const int64_t T = 1000;
    double x[2 * 1000];
    et_out o[2];
    for (int q = 0; q < 2; q++) {
        for (int64_t k = 0; k < T; k++) {
            x[2 * k] = q ? h2[0] : h1[0];
            x[2 * k + 1] = q ? h2[1] : h1[1];
        }
        eir_run_desc r;
        et_rdesc(&r, 0.1, T, 1, ET_R);
        r.inputs = x;
        et_run_ok(m, &r, &o[q]);
        ET_ASSERT_REL(et_at(&o[q], EIR_VAR_R, 0, T - 1, 0), q ? v2[0] : v1[0], 1e-9);
        ET_ASSERT_REL(et_at(&o[q], EIR_VAR_R, 0, T - 1, 1), q ? v2[1] : v1[1], 1e-9);
    }
    ET_CHECK(et_at(&o[1], EIR_VAR_R, 0, T - 1, 1) > et_at(&o[0], EIR_VAR_R, 0, T - 1, 1),
             "non-ISN: the I rate should rise with its drive");
    et_out_free(&o[0]);
    et_out_free(&o[1]);
    eir_model_free(m);
}

/* eir_linearize at the fixed point: J = -I + W; E alone unstable, full network stable. */
static void test_jacobian_spectrum(void **state)
{
    (void)state;
    eir_model *m = build(W);
    const double h[2] = {2.0, 0.5};
    double v[2], J[4];
    fixed_point(W, h, v);
    eir_error err;
    eir_status st = eir_linearize(m, v, h, J, &err);
    ET_CHECK(st == EIR_OK, "eir_linearize: %s", err.message);
    const double want[4] = {W[0] - LEAK, W[1], W[2], W[3] - LEAK};
    for (int k = 0; k < 4; k++)
        ET_ASSERT_CLOSE(J[k], want[k], 1e-14, 1.0);
    /* E subnetwork alone: its 1x1 Jacobian W_EE f' - leak. */
    ET_CHECK(J[0] > 0, "E-alone eigenvalue %g should be > 0 (ISN)", J[0]);
    /* Full network: eigenvalues of the 2x2 J in closed form. */
    double tr = J[0] + J[3], det = J[0] * J[3] - J[1] * J[2], disc = tr * tr / 4 - det;
    double re_max = disc >= 0 ? tr / 2 + sqrt(disc) : tr / 2;
    print_message("J = [[%g, %g], [%g, %g]]: tr %g, det %g, max Re(lambda) %g\n", J[0], J[1], J[2],
                  J[3], tr, det, re_max);
    ET_CHECK(re_max < 0, "full network should be stable: max Re(lambda) = %g", re_max);
    ET_ASSERT_CLOSE(re_max, -0.5, 1e-14, 1.0);
    ET_ASSERT_CLOSE(disc, -21.0 / 4, 1e-14, 1.0);
    eir_model_free(m);
}

/* Without the inhibitory feedback onto E, the E cell runs away. */
static void test_e_alone_runs_away(void **state)
{
    (void)state;
    const double w[4] = {2.0, 0.0, 3.0, -1.0};
    eir_model *m = build(w);
    const int64_t T = 100;
    double x[2 * 100];
    for (int64_t k = 0; k < T; k++) {
        x[2 * k] = 2.0;
        x[2 * k + 1] = 0.5;
    }
    eir_run_desc r;
    et_rdesc(&r, 0.1, T, 1, ET_V);
    r.inputs = x;
    et_out o;
    et_run_ok(m, &r, &o);
    /* dV_E/dt = -V + 2 V + 2 (V >= 0 from V_0 = 0). exp_euler freezes I = 2 V_k + 2 over a
     * step: V_{k+1} + 2 = g (V_k + 2) with g = 2 - e^{-dt} > 1, so V_k = -2 + 2 g^k
     * (~1.8e4 after 100 steps), growing without bound. */
    double g = 2.0 - exp(-0.1);
    for (int64_t k = 0; k < T; k++)
        ET_ASSERT_REL(et_at(&o, EIR_VAR_V, 0, k, 0), -2.0 + 2.0 * pow(g, (double)(k + 1)), 1e-12);
    ET_CHECK(et_at(&o, EIR_VAR_V, 0, T - 1, 0) > 1e4, "E alone did not run away");
    et_out_free(&o);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paradoxical_response),
        cmocka_unit_test(test_non_isn_control),
        cmocka_unit_test(test_jacobian_spectrum),
        cmocka_unit_test(test_e_alone_runs_away),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
