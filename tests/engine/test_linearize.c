/*
 * eir_linearize (MODEL.md "Linearisation") against a central-difference Jacobian of the
 * right-hand side F(V) = -z(V) (.) V + W f(V) + P x + b, z(V) = G_b + M f(V) + M_in |x|,
 * evaluated in the test from the model's effective W, M and leak (eir_model_W, eir_model_M,
 * eir_model_leak) and an independent implementation of f. Also against the closed form
 * J = -diag(z) + (W - diag(V) M) diag(f'(V)), and, in the conductance form, the driving-force
 * identity W_ij - V_i M_ij = K_ij (E_j - V_i): a synapse's effect changes sign at its reversal
 * potential.
 *
 * Central differences with step h = 1e-6 max(1, |V_j|): truncation O(h^2 f''') ~ 1e-12,
 * cancellation ~ 1e-16 |F| / h ~ 1e-9; the bound is 1e-7 max(1, max |J|). States are kept away
 * from the activations' kinks (relu-type at 0, the r_max clamp).
 */
#include "eir_test_util.h"

#define NMAX 8

typedef struct lin_case {
    const char *name;
    eir_model_desc d;
    double V[NMAX];
    double x[2];
} lin_case;

static void rhs(const eir_model *m, const eir_model_desc *d, const double *V, const double *x,
                double *F)
{
    int N = eir_model_n(m);
    const double *W = eir_model_W(m), *leak = eir_model_leak(m);
    double M[NMAX * NMAX], r[NMAX];
    eir_model_M(m, M);
    for (int j = 0; j < N; j++)
        r[j] = et_f(&d->act, V[j]);
    for (int i = 0; i < N; i++) {
        double z = leak[i], I = d->bias ? d->bias[d->bias_len == 1 ? 0 : i] : 0.0;
        for (int j = 0; j < N; j++) {
            z += M[i * N + j] * r[j];
            I += W[i * N + j] * r[j];
        }
        for (int c = 0; c < d->n_in; c++) {
            I += d->P[i * d->n_in + c] * x[c];
            if (d->M_in) z += d->M_in[i * d->n_in + c] * fabs(x[c]);
        }
        F[i] = -z * V[i] + I;
    }
}

static void check_case(lin_case *c)
{
    eir_model *m = et_build(&c->d);
    int N = eir_model_n(m);
    const double *W = eir_model_W(m), *leak = eir_model_leak(m);
    double M[NMAX * NMAX], J[NMAX * NMAX], Jfd[NMAX * NMAX], Jcf[NMAX * NMAX];
    eir_model_M(m, M);
    eir_error err;
    eir_status st = eir_linearize(m, c->V, c->d.n_in ? c->x : NULL, J, &err);
    ET_CHECK(st == EIR_OK, "%s: eir_linearize failed: %s", c->name, err.message);

    double jmax = 1.0;
    for (int j = 0; j < N; j++) {
        double vp[NMAX], vm[NMAX], Fp[NMAX], Fm[NMAX];
        double h = 1e-6 * fmax(1.0, fabs(c->V[j]));
        memcpy(vp, c->V, sizeof vp);
        memcpy(vm, c->V, sizeof vm);
        vp[j] += h;
        vm[j] -= h;
        rhs(m, &c->d, vp, c->x, Fp);
        rhs(m, &c->d, vm, c->x, Fm);
        for (int i = 0; i < N; i++) {
            Jfd[i * N + j] = (Fp[i] - Fm[i]) / (vp[j] - vm[j]);
            jmax = fmax(jmax, fabs(Jfd[i * N + j]));
        }
    }
    for (int i = 0; i < N; i++) {
        double z = leak[i];
        for (int j = 0; j < N; j++)
            z += M[i * N + j] * et_f(&c->d.act, c->V[j]);
        for (int q = 0; q < c->d.n_in; q++)
            if (c->d.M_in) z += c->d.M_in[i * c->d.n_in + q] * fabs(c->x[q]);
        for (int j = 0; j < N; j++)
            Jcf[i * N + j] = (i == j ? -z : 0.0) +
                             (W[i * N + j] - c->V[i] * M[i * N + j]) * et_df(&c->d.act, c->V[j]);
    }
    for (int k = 0; k < N * N; k++) {
        ET_CHECK(fabs(J[k] - Jfd[k]) <= 1e-7 * jmax,
                 "%s: J[%d][%d] = %.15g, finite difference %.15g", c->name, k / N, k % N, J[k],
                 Jfd[k]);
        ET_CHECK(et_rel(J[k], Jcf[k], jmax) <= 1e-14, "%s: J[%d][%d] = %.17g, closed form %.17g",
                 c->name, k / N, k % N, J[k], Jcf[k]);
    }
    eir_model_free(m);
}

static double Wr[NMAX * NMAX], LEAK[NMAX], P[NMAX * 2], MIN[NMAX * 2], BIAS[NMAX], K[NMAX * NMAX];
static const double A_TYPE[2] = {0.5, 1.2};

static void fill(int N, int n_e, int dale)
{
    et_rng g = {31337};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double w = et_unif(&g, 0.1, 1.0);
            Wr[i * N + j] = dale ? (j < n_e ? w : -w) : et_unif(&g, -1, 1);
            K[i * N + j] = et_unif(&g, 0.0, 1.0);
        }
        LEAK[i] = et_unif(&g, 0.5, 2.0);
        BIAS[i] = et_unif(&g, -1, 1);
        for (int c = 0; c < 2; c++) {
            P[i * 2 + c] = et_unif(&g, -1, 1);
            MIN[i * 2 + c] = et_unif(&g, 0, 1);
        }
    }
}

static void base(lin_case *c, const char *name, eir_class cls, eir_act_kind act, int n_e, int n_i)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    fill(n_e + n_i, n_e, cls != EIR_CLASS_RNN);
    et_desc_reduced(&c->d, cls, act, n_e, n_i, Wr, LEAK, n_e + n_i);
    c->d.n_in = 2;
    c->d.P = P;
    c->d.bias = BIAS;
    c->d.bias_len = n_e + n_i;
    c->x[0] = 0.8;
    c->x[1] = -1.3;
    et_rng g = {7};
    for (int i = 0; i < n_e + n_i; i++)
        c->V[i] = et_unif(&g, -2, 2);
}

static void test_rnn_softplus(void **state)
{
    (void)state;
    lin_case c;
    base(&c, "rnn softplus", EIR_CLASS_RNN, EIR_ACT_SOFTPLUS, 3, 2);
    check_case(&c);
    base(&c, "rnn tanh", EIR_CLASS_RNN, EIR_ACT_TANH, 3, 2);
    check_case(&c);
}

static void test_gated_softplus(void **state)
{
    (void)state;
    lin_case c;
    base(&c, "gated softplus, A per type, input gating", EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 5, 3);
    c.d.a_kind = EIR_A_PER_TYPE;
    c.d.A = A_TYPE;
    c.d.M_in = MIN;
    check_case(&c);
    /* The gate really enters: M is A (.) |W| and the -V_i M_ij f'_j term is not zero. */
    double Mh[NMAX * NMAX];
    et_M_from_A(5, 3, EIR_A_PER_TYPE, A_TYPE, Wr, Mh);
    eir_model *m = et_build(&c.d);
    double M[NMAX * NMAX];
    eir_model_M(m, M);
    for (int k = 0; k < 64; k++)
        ET_ASSERT_REL(M[k], Mh[k], 1e-15);
    eir_model_free(m);

    base(&c, "gated sigmoid", EIR_CLASS_GATED, EIR_ACT_SIGMOID, 4, 2);
    c.d.a_kind = EIR_A_SCALAR;
    c.d.A = A_TYPE;
    check_case(&c);
}

static void test_rectified_and_clamped(void **state)
{
    (void)state;
    lin_case c;
    /* power k = 0.5, n = 2, r_max = 3: clamps above V = sqrt(6) ~ 2.449; kinks at 0 too. */
    base(&c, "gated power with r_max", EIR_CLASS_GATED, EIR_ACT_POWER, 4, 2);
    c.d.act.k = 0.5;
    c.d.act.n = 2.0;
    c.d.act.r_max = 3.0;
    c.d.a_kind = EIR_A_PER_TYPE;
    c.d.A = A_TYPE;
    const double v[6] = {1.3, -0.7, 3.1, 0.4, 2.0, -1.5};
    memcpy(c.V, v, sizeof v);
    check_case(&c);
    base(&c, "dale tanh_rect", EIR_CLASS_DALE, EIR_ACT_TANH_RECT, 4, 2);
    memcpy(c.V, v, sizeof v);
    check_case(&c);
    base(&c, "gated relu", EIR_CLASS_GATED, EIR_ACT_RELU, 4, 2);
    c.d.A = A_TYPE;
    memcpy(c.V, v, sizeof v);
    check_case(&c);
}

static void test_conductance_driving_force(void **state)
{
    (void)state;
    const int n_e = 3, n_i = 2, N = 5;
    const double e_e = 2.0, e_i = -0.5;
    lin_case c;
    base(&c, "conductance sigmoid", EIR_CLASS_GATED, EIR_ACT_SIGMOID, n_e, n_i);
    c.d.form = EIR_FORM_CONDUCTANCE;
    c.d.W = NULL;
    c.d.K = K;
    c.d.e_rev_e = e_e;
    c.d.e_rev_i = e_i;
    c.d.M_in = MIN;
    /* cell 0 above E_E, cell 3 below E_I, the others in between */
    const double v[5] = {2.5, 1.0, 0.2, -1.0, -0.2};
    memcpy(c.V, v, sizeof v);
    check_case(&c);

    eir_model *m = et_build(&c.d);
    const double *W = eir_model_W(m);
    double M[NMAX * NMAX], J[NMAX * NMAX];
    eir_model_M(m, M);
    assert_int_equal(eir_linearize(m, c.V, c.x, J, NULL), EIR_OK);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double ej = j < n_e ? e_e : e_i;
            double eff = W[i * N + j] - v[i] * M[i * N + j];
            double want = K[i * N + j] * (ej - v[i]);
            ET_CHECK(et_rel(eff, want, 1.0) <= 1e-14,
                     "W - V M at (%d, %d) = %.17g, K (E_j - V_i) = %.17g", i, j, eff, want);
            if (i == j || K[i * N + j] == 0) continue;
            /* The sign of the linearised coupling is the sign of the driving force. */
            double fp = et_df(&c.d.act, v[j]);
            ET_CHECK((J[i * N + j] > 0) == (ej > v[i]),
                     "J[%d][%d] = %g: sign must follow E_j - V_i = %g", i, j, J[i * N + j],
                     ej - v[i]);
            ET_ASSERT_CLOSE(J[i * N + j], want * fp, 1e-14, 1.0);
        }
    /* Explicitly: an E synapse onto cell 0 (V above E_E) inhibits; an I synapse onto cell 3
     * (V below E_I) excites. */
    ET_CHECK(J[0 * N + 1] < 0, "E synapse above its reversal potential should act inhibitory");
    ET_CHECK(J[3 * N + 4] > 0, "I synapse below its reversal potential should act excitatory");
    eir_model_free(m);
}

/* x = NULL means zero input. */
static void test_null_input(void **state)
{
    (void)state;
    lin_case c;
    base(&c, "null input", EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 3, 2);
    c.d.A = A_TYPE;
    c.d.M_in = MIN;
    eir_model *m = et_build(&c.d);
    double J0[NMAX * NMAX], Jn[NMAX * NMAX];
    const double zero[2] = {0, 0};
    assert_int_equal(eir_linearize(m, c.V, zero, J0, NULL), EIR_OK);
    assert_int_equal(eir_linearize(m, c.V, NULL, Jn, NULL), EIR_OK);
    assert_memory_equal(J0, Jn, 25 * sizeof(double));
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_softplus),
        cmocka_unit_test(test_gated_softplus),
        cmocka_unit_test(test_rectified_and_clamped),
        cmocka_unit_test(test_conductance_driving_force),
        cmocka_unit_test(test_null_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
