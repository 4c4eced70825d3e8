/*
 * eir_dynamics (F(V) = dV/dt, noise off) and the engine's dynamics workspace (dyn_internal.h):
 *
 *  - F against a hand computation from the model description (W, A, K, E_rev, P, M_in, bias,
 *    leak as given, not the engine's effective matrices) for every class and both forms, dense
 *    and sparse storage (which must give the same bits);
 *  - F against (V_1 - V_0) / dt of one forward-Euler step of eir_run with dt = 1e-6: V_1 carries
 *    a rounding error of about 1e-16 |V_0|, so the quotient is good to ~1e-9; bound 1e-8;
 *  - J of the workspace against central differences of eir_dynamics (h = 1e-6 max(1, |V_j|):
 *    truncation ~1e-12, cancellation ~1e-9 |F|; bound 1e-7 max(1, max |J|)), and the same bits
 *    as eir_linearize, in dense and row mode;
 *  - non-finite V and x rejected naming /V and /x.
 * States are kept away from the activations' kinks.
 */
#include "eir_test_util.h"

#include "../../engine/src/dyn_internal.h"
#include "eir_analysis.h"

#define N 5
#define NE 3
#define NIN 2

static double Wd[N * N], Wr[N * N], K[N * N], LEAK[N], P[N * NIN], MIN[N * NIN], BIAS[N],
    AFULL[N * N];
static const double A_TYPE[2] = {0.5, 1.2};
static const double E_E = 2.0, E_I = -0.5;
static const double X[NIN] = {0.8, -1.3};

static void fill(void)
{
    et_rng g = {4242};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double w = et_unif(&g, 0.1, 1.0);
            Wd[i * N + j] = j < NE ? w : -w;
            Wr[i * N + j] = et_unif(&g, -1, 1);
            K[i * N + j] = et_unif(&g, 0.0, 1.0);
            AFULL[i * N + j] = et_unif(&g, 0.0, 2.0);
        }
        LEAK[i] = et_unif(&g, 0.5, 2.0);
        BIAS[i] = et_unif(&g, -1, 1);
        for (int c = 0; c < NIN; c++) {
            P[i * NIN + c] = et_unif(&g, -1, 1);
            MIN[i * NIN + c] = et_unif(&g, 0, 1);
        }
    }
}

typedef struct dyn_case {
    const char *name;
    eir_model_desc d;
} dyn_case;

/** The cases: every class, both forms, the four gate shapes that matter, input gating. */
static int make_cases(dyn_case *c)
{
    int k = 0;
    fill();
    eir_model_desc *d;
#define NEXT(nm, cls, act, w)                                                                      \
    c[k].name = nm;                                                                                \
    d = &c[k++].d;                                                                                 \
    et_desc_reduced(d, cls, act, NE, N - NE, w, LEAK, N);                                          \
    d->n_in = NIN;                                                                                 \
    d->P = P;                                                                                      \
    d->bias = BIAS;                                                                                \
    d->bias_len = N
    NEXT("rnn tanh", EIR_CLASS_RNN, EIR_ACT_TANH, Wr);
    NEXT("rnn linear, input gating", EIR_CLASS_RNN, EIR_ACT_LINEAR, Wr);
    d->M_in = MIN;
    NEXT("dale softplus", EIR_CLASS_DALE, EIR_ACT_SOFTPLUS, Wd);
    NEXT("gated sigmoid, A per type, input gating", EIR_CLASS_GATED, EIR_ACT_SIGMOID, Wd);
    d->a_kind = EIR_A_PER_TYPE;
    d->A = A_TYPE;
    d->M_in = MIN;
    NEXT("gated softplus, A scalar", EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, Wd);
    d->a_kind = EIR_A_SCALAR;
    d->A = A_TYPE;
    NEXT("gated power, full A", EIR_CLASS_GATED, EIR_ACT_POWER, Wd);
    d->act.k = 0.7;
    d->act.n = 2.0;
    d->a_kind = EIR_A_MATRIX;
    d->A = AFULL;
    NEXT("gated conductance sigmoid", EIR_CLASS_GATED, EIR_ACT_SIGMOID, NULL);
    d->form = EIR_FORM_CONDUCTANCE;
    d->K = K;
    d->e_rev_e = E_E;
    d->e_rev_i = E_I;
    d->M_in = MIN;
    NEXT("dale conductance tanh_rect", EIR_CLASS_DALE, EIR_ACT_TANH_RECT, NULL);
    d->form = EIR_FORM_CONDUCTANCE;
    d->K = K;
    d->e_rev_e = E_E;
    d->e_rev_i = E_I;
    NEXT("rnn conductance linear, input gating", EIR_CLASS_RNN, EIR_ACT_LINEAR, NULL);
    d->form = EIR_FORM_CONDUCTANCE;
    d->K = K;
    d->e_rev_e = E_E;
    d->e_rev_i = E_I;
    d->M_in = MIN;
#undef NEXT
    return k;
}

/** F by hand from the description (MODEL.md section 2). */
static void hand_F(const eir_model_desc *d, const double *V, const double *x, double *F)
{
    double W[N * N], M[N * N] = {0}, r[N];
    for (int k = 0; k < N * N; k++)
        W[k] = d->form == EIR_FORM_REDUCED ? d->W[k] : d->K[k] * (k % N < NE ? E_E : E_I);
    if (d->cls == EIR_CLASS_GATED) {
        if (d->form == EIR_FORM_REDUCED)
            et_M_from_A(NE, N - NE, d->a_kind, d->A, d->W, M);
        else
            memcpy(M, d->K, sizeof M);
    }
    for (int j = 0; j < N; j++)
        r[j] = et_f(&d->act, V[j]);
    for (int i = 0; i < N; i++) {
        double z = d->leak[i], I = d->bias[i];
        for (int j = 0; j < N; j++) {
            z += M[i * N + j] * r[j];
            I += W[i * N + j] * r[j];
        }
        for (int c = 0; c < NIN; c++) {
            I += d->P[i * NIN + c] * x[c];
            if (d->M_in) z += d->M_in[i * NIN + c] * fabs(x[c]);
        }
        F[i] = -z * V[i] + I;
    }
}

static void state(double *V)
{
    static const double v[N] = {1.3, -0.7, 0.45, 0.9, -1.5};
    memcpy(V, v, sizeof v);
}

static void test_F_by_hand(void **st)
{
    (void)st;
    dyn_case c[16];
    int nc = make_cases(c);
    double V[N], F[N], Fs[N], Fh[N], F0[N], F0h[N];
    state(V);
    for (int k = 0; k < nc; k++) {
        eir_model *m = et_build(&c[k].d);
        eir_model_desc ds = c[k].d;
        ds.storage = EIR_STORAGE_SPARSE;
        eir_model *ms = et_build(&ds);
        ET_CHECK(eir_model_sparse(ms), "%s: not sparse", c[k].name);
        eir_error err;
        assert_int_equal(eir_dynamics(m, V, X, F, &err), EIR_OK);
        assert_int_equal(eir_dynamics(ms, V, X, Fs, &err), EIR_OK);
        assert_int_equal(eir_dynamics(m, V, NULL, F0, &err), EIR_OK);
        hand_F(&c[k].d, V, X, Fh);
        const double zero[NIN] = {0, 0};
        hand_F(&c[k].d, V, zero, F0h);
        for (int i = 0; i < N; i++) {
            ET_CHECK(et_rel(F[i], Fh[i], 1.0) <= 1e-14, "%s: F[%d] = %.17g, by hand %.17g",
                     c[k].name, i, F[i], Fh[i]);
            ET_CHECK(et_rel(F0[i], F0h[i], 1.0) <= 1e-14,
                     "%s: F[%d] (x = 0) = %.17g, by hand %.17g", c[k].name, i, F0[i], F0h[i]);
            ET_CHECK(F[i] == Fs[i], "%s: sparse F[%d] = %.17g, dense %.17g", c[k].name, i, Fs[i],
                     F[i]);
        }
        eir_model_free(m);
        eir_model_free(ms);
    }
}

static void test_F_against_euler_step(void **st)
{
    (void)st;
    dyn_case c[16];
    int nc = make_cases(c);
    double V[N], F[N];
    state(V);
    const double dt = 1e-6;
    for (int k = 0; k < nc; k++) {
        eir_model *m = et_build(&c[k].d);
        eir_error err;
        assert_int_equal(eir_dynamics(m, V, X, F, &err), EIR_OK);
        eir_run_desc r;
        et_rdesc(&r, dt, 1, 1, ET_V);
        r.integrator = EIR_INTEG_EULER;
        r.inputs = X;
        r.V0 = V;
        r.V0_len = N;
        et_out o;
        et_run_ok(m, &r, &o);
        for (int i = 0; i < N; i++) {
            double q = (et_at(&o, EIR_VAR_V, 0, 0, i) - V[i]) / dt;
            ET_CHECK(et_rel(q, F[i], 1.0) <= 1e-8, "%s: (V1 - V0)/dt = %.17g, F[%d] = %.17g",
                     c[k].name, q, i, F[i]);
        }
        et_out_free(&o);
        eir_model_free(m);
    }
}

static void test_J_against_differences(void **st)
{
    (void)st;
    dyn_case c[16];
    int nc = make_cases(c);
    double V[N];
    state(V);
    for (int k = 0; k < nc; k++) {
        eir_model *m = et_build(&c[k].d);
        eir_error err;
        eir_dyn dd, dr;
        assert_int_equal(eir_dyn_init(&dd, m, 1, &err), EIR_OK);
        assert_int_equal(eir_dyn_init(&dr, m, 0, &err), EIR_OK);
        assert_int_equal(eir_dyn_set_input(&dd, X, "/x", &err), EIR_OK);
        assert_int_equal(eir_dyn_set_input(&dr, X, "/x", &err), EIR_OK);
        double work[4 * N], J[N * N], Jr[N * N], Jl[N * N], F[N], Fr[N], Fp[N], Fm[N], z[N];
        eir_dyn_eval(&dd, V, work, F, J, z);
        for (int j = 0; j < N; j++) {
            ET_CHECK(work[j] == et_f(&c[k].d.act, V[j]), "%s: r[%d]", c[k].name, j);
            ET_CHECK(et_rel(work[N + j], et_df(&c[k].d.act, V[j]), 1.0) <= 1e-15, "%s: f'[%d]",
                     c[k].name, j);
        }
        eir_dyn_eval(&dr, V, work, Fr, Jr, NULL);
        assert_int_equal(eir_linearize(m, V, X, Jl, &err), EIR_OK);
        assert_memory_equal(J, Jr, sizeof J);
        assert_memory_equal(J, Jl, sizeof J);
        assert_memory_equal(F, Fr, sizeof F);
        double jmax = 1.0;
        for (int q = 0; q < N * N; q++)
            jmax = fmax(jmax, fabs(J[q]));
        for (int j = 0; j < N; j++) {
            double vp[N], vm[N];
            double h = 1e-6 * fmax(1.0, fabs(V[j]));
            memcpy(vp, V, sizeof vp);
            memcpy(vm, V, sizeof vm);
            vp[j] += h;
            vm[j] -= h;
            assert_int_equal(eir_dynamics(m, vp, X, Fp, &err), EIR_OK);
            assert_int_equal(eir_dynamics(m, vm, X, Fm, &err), EIR_OK);
            for (int i = 0; i < N; i++) {
                double fd = (Fp[i] - Fm[i]) / (vp[j] - vm[j]);
                ET_CHECK(fabs(J[i * N + j] - fd) <= 1e-7 * jmax,
                         "%s: J[%d][%d] = %.15g, central difference %.15g", c[k].name, i, j,
                         J[i * N + j], fd);
            }
        }
        /* the diagonal carries -z, and z > 0 */
        for (int i = 0; i < N; i++)
            ET_CHECK(z[i] > 0, "%s: z[%d] = %g", c[k].name, i, z[i]);
        eir_dyn_free(&dd);
        eir_dyn_free(&dr);
        eir_model_free(m);
    }
}

static void test_rejects(void **st)
{
    (void)st;
    dyn_case c[16];
    make_cases(c);
    eir_model *m = et_build(&c[3].d);
    double V[N], F[N], J[N * N];
    state(V);
    eir_error err;
    V[2] = NAN;
    assert_int_equal(eir_dynamics(m, V, X, F, &err), EIR_EINVAL);
    et_check_error(&err, "/V", "finite");
    ET_CHECK(et_has_number(err.message, 2), "%s", err.message);
    assert_int_equal(eir_linearize(m, V, X, J, &err), EIR_EINVAL);
    et_check_error(&err, "/V", "finite");
    state(V);
    double xb[NIN] = {0.5, INFINITY};
    assert_int_equal(eir_dynamics(m, V, xb, F, &err), EIR_EINVAL);
    et_check_error(&err, "/x", "finite");
    assert_int_equal(eir_linearize(m, V, xb, J, &err), EIR_EINVAL);
    et_check_error(&err, "/x", "finite");
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_F_by_hand),
        cmocka_unit_test(test_F_against_euler_step),
        cmocka_unit_test(test_J_against_differences),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
