/*
 * Conductance form (MODEL.md "State, drive and gate"): W = K E_type(j), M = K.
 *
 * 1. Pure shunting inhibition, E_I = 0: the I columns of W are zero, yet an active I cell
 *    raises its targets' conductance z and so lowers a driven cell's V (dV/dt = -z V + I). The
 *    same network with the I cell silent is the control. With K_EI = 2, leak 1, drive 1 and
 *    r_I -> 1, the driven E cell settles at 1 / (1 + 2) instead of 1.
 *
 * 2. With conductance-type input only (P = M_in E_E for excitatory input channels,
 *    P = M_in E_I for inhibitory ones, no bias, inputs x >= 0), every term is a conductance
 *    times a driving force, so for frozen conductances V relaxes to a convex combination of
 *    0 (rest), E_E and E_I: V stays inside [E_I, E_E] for all steps, for exp_euler at any dt
 *    (its update is a convex combination of V_k and V_inf) and for euler while z dt <= 1.
 */
#include "eir_test_util.h"

static void test_shunting_inhibition(void **state)
{
    (void)state;
    /* cell 0: E, driven by channel 0; cell 1: I, driven by channel 1; I -> E conductance 2. */
    const double K[4] = {0.0, 2.0, 0.0, 0.0};
    const double leak = 1.0, P[4] = {1.0, 0.0, 0.0, 1.0};
    eir_model_desc d;
    eir_model_desc_init(&d);
    d.n_e = 1;
    d.n_i = 1;
    d.n_in = 2;
    d.cls = EIR_CLASS_GATED;
    d.act.kind = EIR_ACT_RELU;
    d.act.r_max = INFINITY;
    d.leak = &leak;
    d.leak_len = 1;
    d.form = EIR_FORM_CONDUCTANCE;
    d.K = K;
    d.e_rev_e = 3.0;
    d.e_rev_i = 0.0;
    d.P = P;
    eir_model *m = et_build(&d);

    const double *Wm = eir_model_W(m);
    for (int i = 0; i < 2; i++)
        ET_CHECK(Wm[i * 2 + 1] == 0.0, "W[%d][1] = %g: the I column must be 0 with E_I = 0", i,
                 Wm[i * 2 + 1]);
    double M[4];
    eir_model_M(m, M);
    for (int k = 0; k < 4; k++)
        ET_CHECK(M[k] == K[k], "M[%d] = %g, K = %g", k, M[k], K[k]);

    /* trial 0: I silent; trial 1: I driven to V_I -> 1. */
    const int64_t T = 400;
    const double dt = 0.25;
    double *inputs = malloc(2 * T * 2 * sizeof *inputs);
    assert_non_null(inputs);
    for (int64_t k = 0; k < T; k++) {
        inputs[(0 * T + k) * 2 + 0] = 1.0;
        inputs[(0 * T + k) * 2 + 1] = 0.0;
        inputs[(1 * T + k) * 2 + 0] = 1.0;
        inputs[(1 * T + k) * 2 + 1] = 1.0;
    }
    eir_run_desc r;
    et_rdesc(&r, dt, T, 2, ET_V | ET_R | ET_Z);
    r.inputs = inputs;
    et_out o;
    et_run_ok(m, &r, &o);
    /* Row 0 is V_1, computed from r_0 = f(0) = 0 in both trials: identical. */
    ET_CHECK(et_at(&o, EIR_VAR_V, 0, 0, 0) == et_at(&o, EIR_VAR_V, 1, 0, 0),
             "row 0 differs although r_0 = 0 in both trials");
    for (int64_t k = 1; k < T; k++) {
        double silent = et_at(&o, EIR_VAR_V, 0, k, 0), active = et_at(&o, EIR_VAR_V, 1, k, 0);
        ET_CHECK(et_at(&o, EIR_VAR_R, 1, k - 1, 1) > 0, "I cell silent at row %lld", (long long)k);
        ET_CHECK(active < silent, "row %lld: V_E %.17g with inhibition, %.17g without",
                 (long long)k, active, silent);
        /* z of the E cell rises by K_EI r_I (row k is z_k, from r_k = row k-1 of r). */
        ET_CHECK(et_rel(et_at(&o, EIR_VAR_Z, 1, k, 0),
                        1.0 + 2.0 * et_at(&o, EIR_VAR_R, 1, k - 1, 1), 0) <= 1e-15,
                 "row %lld: z_E %.17g", (long long)k, et_at(&o, EIR_VAR_Z, 1, k, 0));
        ET_CHECK(et_at(&o, EIR_VAR_Z, 0, k, 0) == 1.0, "row %lld: z_E %.17g without inhibition",
                 (long long)k, et_at(&o, EIR_VAR_Z, 0, k, 0));
    }
    /* steady states: V_E = 1 without, 1 / (1 + 2 r_I) = 1/3 with inhibition (t = 100). */
    ET_ASSERT_REL(et_at(&o, EIR_VAR_V, 0, T - 1, 0), 1.0, 1e-9);
    ET_ASSERT_REL(et_at(&o, EIR_VAR_V, 1, T - 1, 1), 1.0, 1e-9);
    ET_ASSERT_REL(et_at(&o, EIR_VAR_V, 1, T - 1, 0), 1.0 / 3.0, 1e-9);
    et_out_free(&o);
    free(inputs);
    eir_model_free(m);
}

#define NE 5
#define NI 3
#define N (NE + NI)
#define NIN 4 /* channels 0..2 excitatory, 3 inhibitory */

static void check_bounds(eir_integrator integ, double dt, eir_act_kind act, double e_i)
{
    const double e_e = 1.5;
    double K[N * N], P[N * NIN], MIN[N * NIN], leak[N], V0[N];
    et_rng g = {777};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            K[i * N + j] = i == j ? 0.0 : et_unif(&g, 0.0, 1.5);
        for (int c = 0; c < NIN; c++) {
            MIN[i * NIN + c] = et_unif(&g, 0.0, 2.0);
            P[i * NIN + c] = MIN[i * NIN + c] * (c < 3 ? e_e : e_i);
        }
        leak[i] = et_unif(&g, 0.2, 1.0);
        V0[i] = et_unif(&g, e_i, e_e);
    }
    eir_model_desc d;
    eir_model_desc_init(&d);
    d.n_e = NE;
    d.n_i = NI;
    d.n_in = NIN;
    d.cls = EIR_CLASS_GATED;
    d.act.kind = act;
    d.act.k = 1.0;
    d.act.n = 2.0;
    d.act.r_max = INFINITY;
    d.leak = leak;
    d.leak_len = N;
    d.form = EIR_FORM_CONDUCTANCE;
    d.K = K;
    d.e_rev_e = e_e;
    d.e_rev_i = e_i;
    d.P = P;
    d.M_in = MIN;
    eir_model *m = et_build(&d);

    const int64_t T = 300;
    const int Bt = 3;
    double *x = malloc((size_t)(Bt * T * NIN) * sizeof *x);
    assert_non_null(x);
    /* Large, switching input rates: trial 0 mostly excitatory, 1 mostly inhibitory, 2 mixed. */
    for (int b = 0; b < Bt; b++)
        for (int64_t k = 0; k < T; k++)
            for (int c = 0; c < NIN; c++) {
                double hi = (b == 0) ? (c < 3 ? 20.0 : 0.5) : (b == 1 ? (c < 3 ? 0.5 : 20.0) : 8.0);
                x[(b * T + k) * NIN + c] = ((k / 25) % 2) ? et_unif(&g, 0.0, hi) : 0.0;
            }
    eir_run_desc r;
    et_rdesc(&r, dt, T, Bt, ET_V);
    r.integrator = integ;
    r.inputs = x;
    r.V0 = V0;
    r.V0_len = N;
    et_out o;
    et_run_ok(m, &r, &o);
    assert_int_equal(o.res.diverged, 0);
    if (integ == EIR_INTEG_EULER)
        ET_CHECK(o.res.max_z_dt <= 1.0, "euler bound needs z dt <= 1, got %g", o.res.max_z_dt);
    const double slack = 1e-12 * e_e; /* a few roundings */
    double vmin = INFINITY, vmax = -INFINITY;
    for (int b = 0; b < Bt; b++)
        for (int64_t k = 0; k < T; k++)
            for (int i = 0; i < N; i++) {
                double v = et_at(&o, EIR_VAR_V, b, k, i);
                vmin = fmin(vmin, v);
                vmax = fmax(vmax, v);
                ET_CHECK(v >= e_i - slack && v <= e_e + slack,
                         "%s dt %g: V %.17g outside [%g, %g] (trial %d row %lld neuron %d)",
                         eir_integrator_name(integ), dt, v, e_i, e_e, b, (long long)k, i);
            }
    print_message("%s dt %g E_I %g: V in [%.6f, %.6f] within [%g, %g]\n",
                  eir_integrator_name(integ), dt, e_i, vmin, vmax, e_i, e_e);
    /* The drive must actually approach the bounds, or the check is vacuous. */
    ET_CHECK(vmax > 0.8 * e_e, "V never approached E_E (max %g)", vmax);
    if (e_i < 0) ET_CHECK(vmin < 0.5 * e_i, "V never approached E_I (min %g)", vmin);
    et_out_free(&o);
    free(x);
    eir_model_free(m);
}

static void test_bounds_exp_euler(void **state)
{
    (void)state;
    check_bounds(EIR_INTEG_EXP_EULER, 0.05, EIR_ACT_SIGMOID, -0.7);
    check_bounds(EIR_INTEG_EXP_EULER, 1.0, EIR_ACT_RELU, -0.7);
    check_bounds(EIR_INTEG_EXP_EULER, 20.0, EIR_ACT_POWER, -0.7);
    check_bounds(EIR_INTEG_EXP_EULER, 0.5, EIR_ACT_SOFTPLUS, 0.0);
}

static void test_bounds_euler(void **state)
{
    (void)state;
    check_bounds(EIR_INTEG_EULER, 0.005, EIR_ACT_SIGMOID, -0.7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shunting_inhibition),
        cmocka_unit_test(test_bounds_exp_euler),
        cmocka_unit_test(test_bounds_euler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
