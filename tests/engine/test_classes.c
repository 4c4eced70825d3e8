/*
 * One network in the three classes of MODEL.md's spectrum:
 *  - rnn: any signs accepted, M = 0, z = leak;
 *  - dale: a Dale-violating W is rejected (message counts the violating entries and names the
 *    first few (i, j)), or clipped under the projecting policy (eir_model_projected); M = 0 so
 *    z = leak;
 *  - gated: z = leak + M r with M = A (.) |W| for scalar, per-type, per-row and full-matrix A;
 *    linear and tanh activations are rejected under "/activation";
 *  - conductance form: W = K E_type(j), M = K.
 * z is checked against a hand computation from the recorded rates: row k of z is z_k, made from
 * r_k = f(V_k), which is row k-1 of r (r_0 = f(V_0)).
 */
#include "eir_test_util.h"

#define NE 3
#define NI 2
#define N (NE + NI)
#define NVIOL 6

/* Columns 0..2 are E (must be >= 0), 3..4 are I (must be <= 0). Violations, row-major:
 * (0,0), (1,1), (2,3), (2,4), (3,4), (4,4); the first two are also first column-major. The
 * count, 6, is not an index, so the message cannot match it by naming an entry. */
static const double W_BAD[N * N] = {
    -0.2, 0.5,  0.3, -0.4, -0.1, /* row 0 */
    0.6,  -0.1, 0.2, -0.3, -0.5, /* row 1 */
    0.4,  0.3,  0.0, 0.3,  0.2,  /* row 2 */
    0.7,  0.2,  0.5, -0.6, 0.2,  /* row 3 */
    0.1,  0.8,  0.4, -0.2, 0.3,  /* row 4 */
};
static const int VIOL[NVIOL][2] = {{0, 0}, {1, 1}, {2, 3}, {2, 4}, {3, 4}, {4, 4}};
static const double LEAK[N] = {1.0, 0.7, 1.4, 2.0, 0.9};
static const double V0[N] = {0.9, 1.3, -0.4, 0.6, 1.1};

static void w_projected(double *w)
{
    memcpy(w, W_BAD, sizeof W_BAD);
    for (int q = 0; q < NVIOL; q++)
        w[VIOL[q][0] * N + VIOL[q][1]] = 0.0;
}

static void desc(eir_model_desc *d, eir_class cls, eir_act_kind act, const double *W)
{
    et_desc_reduced(d, cls, act, NE, NI, W, LEAK, N);
    d->bias = V0; /* any nonzero drive */
    d->bias_len = N;
}

/* Run T steps recording r and z; check z row k == leak + Mh r_k with r_k from the record. */
static void check_z(const eir_model *m, const double *Mh, eir_act_kind act)
{
    const eir_activation a = {act, 0, 0, INFINITY};
    const int64_t T = 15;
    eir_run_desc r;
    et_rdesc(&r, 0.2, T, 1, ET_V | ET_R | ET_Z);
    r.V0 = V0;
    r.V0_len = N;
    et_out o;
    et_run_ok(m, &r, &o);
    int gated_active = 0;
    for (int64_t k = 0; k < T; k++) {
        double rk[N];
        for (int j = 0; j < N; j++)
            rk[j] = k == 0 ? et_f(&a, V0[j]) : et_at(&o, EIR_VAR_R, 0, k - 1, j);
        for (int i = 0; i < N; i++) {
            double z = LEAK[i];
            for (int j = 0; j < N; j++)
                z += Mh[i * N + j] * rk[j];
            if (z != LEAK[i]) gated_active = 1;
            ET_CHECK(et_rel(et_at(&o, EIR_VAR_Z, 0, k, i), z, 0) <= 1e-14,
                     "row %lld neuron %d: z %.17g, hand leak + M r_k = %.17g", (long long)k, i,
                     et_at(&o, EIR_VAR_Z, 0, k, i), z);
        }
    }
    int any_m = 0;
    for (int k = 0; k < N * N; k++)
        any_m |= Mh[k] != 0;
    ET_CHECK(gated_active == any_m, "the gate never moved although M != 0");
    et_out_free(&o);
}

static void check_M(const eir_model *m, const double *Mh)
{
    double M[N * N];
    eir_model_M(m, M);
    for (int k = 0; k < N * N; k++)
        ET_CHECK(et_rel(M[k], Mh[k], 0) <= 1e-15, "M[%d][%d] = %.17g, hand %.17g", k / N, k % N,
                 M[k], Mh[k]);
}

static void test_rnn(void **state)
{
    (void)state;
    eir_model_desc d;
    desc(&d, EIR_CLASS_RNN, EIR_ACT_TANH, W_BAD);
    const double A = 2.0; /* ignored by rnn */
    d.A = &A;
    eir_model *m = et_build(&d);
    assert_int_equal(eir_model_class(m), EIR_CLASS_RNN);
    assert_int_equal(eir_model_n(m), N);
    assert_int_equal(eir_model_projected(m), 0);
    assert_memory_equal(eir_model_W(m), W_BAD, sizeof W_BAD);
    double zero[N * N] = {0};
    check_M(m, zero);
    check_z(m, zero, EIR_ACT_TANH);
    /* eir_model_bytes: at least W, leak and bias; a gated model with a matrix A keeps [W; M]
     * too, two more N x N blocks. */
    size_t rnn_bytes = eir_model_bytes(m);
    assert_true(rnn_bytes >= sizeof(double) * (N * N + 2 * N));
    assert_int_equal(eir_model_bytes(NULL), 0);
    eir_model_free(m);
    double wp[N * N];
    w_projected(wp);
    desc(&d, EIR_CLASS_GATED, EIR_ACT_RELU, wp);
    double A_full[N * N];
    for (int k = 0; k < N * N; k++)
        A_full[k] = A;
    d.a_kind = EIR_A_MATRIX;
    d.A = A_full;
    m = et_build(&d);
    assert_true(eir_model_bytes(m) >= rnn_bytes + 2 * sizeof(double) * N * N);
    eir_model_free(m);
}

static void test_dale_reject(void **state)
{
    (void)state;
    for (int cls = EIR_CLASS_DALE; cls <= EIR_CLASS_GATED; cls++) {
        eir_model_desc d;
        desc(&d, (eir_class)cls, EIR_ACT_RELU, W_BAD);
        const double A = 1.0;
        d.A = &A;
        eir_error err;
        et_expect_reject(&d, "/recurrent/W", "dale|sign", &err);
        print_message("%s: %s\n", eir_class_name((eir_class)cls), err.message);
        ET_CHECK(et_has_number(err.message, NVIOL), "message does not count %d violations: %s",
                 NVIOL, err.message);
        ET_CHECK(et_names_pair(err.message, 0, 0) && et_names_pair(err.message, 1, 1),
                 "message does not name the first violations (0, 0) and (1, 1): %s", err.message);
    }
}

static void test_dale_project(void **state)
{
    (void)state;
    double wp[N * N], zero[N * N] = {0};
    w_projected(wp);
    eir_model_desc d;
    desc(&d, EIR_CLASS_DALE, EIR_ACT_RELU, W_BAD);
    d.dale = EIR_DALE_PROJECT;
    eir_model *m = et_build(&d);
    assert_int_equal(eir_model_class(m), EIR_CLASS_DALE);
    assert_int_equal(eir_model_projected(m), NVIOL);
    assert_memory_equal(eir_model_W(m), wp, sizeof wp);
    check_M(m, zero);
    check_z(m, zero, EIR_ACT_RELU);
    eir_model_free(m);

    /* A Dale-conforming W under the projecting policy: nothing clipped. */
    desc(&d, EIR_CLASS_DALE, EIR_ACT_RELU, wp);
    d.dale = EIR_DALE_PROJECT;
    m = et_build(&d);
    assert_int_equal(eir_model_projected(m), 0);
    eir_model_free(m);

    /* Same W, reject policy: accepted (zeros are allowed in either column type). */
    desc(&d, EIR_CLASS_DALE, EIR_ACT_RELU, wp);
    m = et_build(&d);
    assert_int_equal(eir_model_projected(m), 0);
    assert_memory_equal(eir_model_W(m), wp, sizeof wp);
    check_z(m, zero, EIR_ACT_RELU);
    eir_model_free(m);
}

static void check_gated(eir_a_kind kind, const double *A, eir_act_kind act)
{
    double wp[N * N], Mh[N * N];
    w_projected(wp);
    et_M_from_A(NE, NI, kind, A, wp, Mh);
    eir_model_desc d;
    desc(&d, EIR_CLASS_GATED, act, wp);
    d.a_kind = kind;
    d.A = A;
    eir_model *m = et_build(&d);
    assert_int_equal(eir_model_class(m), EIR_CLASS_GATED);
    assert_memory_equal(eir_model_W(m), wp, sizeof wp);
    check_M(m, Mh);
    check_z(m, Mh, act);
    eir_model_free(m);

    /* Projected from the Dale-violating W: M is built from the effective (clipped) W. */
    desc(&d, EIR_CLASS_GATED, act, W_BAD);
    d.a_kind = kind;
    d.A = A;
    d.dale = EIR_DALE_PROJECT;
    m = et_build(&d);
    assert_int_equal(eir_model_projected(m), NVIOL);
    assert_memory_equal(eir_model_W(m), wp, sizeof wp);
    check_M(m, Mh);
    eir_model_free(m);
}

static void test_gated_A_shapes(void **state)
{
    (void)state;
    const double a_scalar[1] = {0.8};
    const double a_type[2] = {0.5, 1.7};
    double a_row[2 * N], a_mat[N * N];
    for (int i = 0; i < N; i++) {
        a_row[i] = 0.2 + 0.3 * i;      /* A_E per postsynaptic row */
        a_row[N + i] = 1.5 - 0.25 * i; /* A_I per postsynaptic row */
    }
    for (int k = 0; k < N * N; k++)
        a_mat[k] = 0.1 + 0.07 * (double)((k * 7) % 11);
    check_gated(EIR_A_SCALAR, a_scalar, EIR_ACT_RELU);
    check_gated(EIR_A_PER_TYPE, a_type, EIR_ACT_SOFTPLUS);
    check_gated(EIR_A_PER_ROW, a_row, EIR_ACT_SIGMOID);
    check_gated(EIR_A_MATRIX, a_mat, EIR_ACT_TANH_RECT);
}

static void test_gated_rejects_signed_activation(void **state)
{
    (void)state;
    double wp[N * N];
    w_projected(wp);
    const double A = 1.0;
    const eir_act_kind bad[2] = {EIR_ACT_LINEAR, EIR_ACT_TANH};
    for (int q = 0; q < 2; q++) {
        eir_model_desc d;
        desc(&d, EIR_CLASS_GATED, bad[q], wp);
        d.A = &A;
        et_expect_reject(&d, "/activation|/activation/name", "negative|activation|gat", NULL);
        /* ...while the same activation is fine without gating. */
        desc(&d, EIR_CLASS_DALE, bad[q], wp);
        eir_model *m = et_build(&d);
        eir_model_free(m);
    }
    assert_int_equal(eir_act_nonnegative(EIR_ACT_LINEAR), 0);
    assert_int_equal(eir_act_nonnegative(EIR_ACT_TANH), 0);
    assert_int_equal(eir_act_nonnegative(EIR_ACT_RELU), 1);
    assert_int_equal(eir_act_nonnegative(EIR_ACT_SOFTPLUS), 1);
    assert_int_equal(eir_act_nonnegative(EIR_ACT_SIGMOID), 1);
    assert_int_equal(eir_act_nonnegative(EIR_ACT_TANH_RECT), 1);
    assert_int_equal(eir_act_nonnegative(EIR_ACT_POWER), 1);
}

static void test_conductance_form(void **state)
{
    (void)state;
    double K[N * N];
    const double e_e = 2.5, e_i = -0.75;
    for (int k = 0; k < N * N; k++)
        K[k] = fabs(W_BAD[k]);
    eir_model_desc d;
    desc(&d, EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, NULL);
    d.form = EIR_FORM_CONDUCTANCE;
    d.K = K;
    d.e_rev_e = e_e;
    d.e_rev_i = e_i;
    eir_model *m = et_build(&d);
    const double *W = eir_model_W(m);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double want = K[i * N + j] * (j < NE ? e_e : e_i);
            ET_CHECK(et_rel(W[i * N + j], want, 0) <= 1e-15, "W[%d][%d] = %.17g, K E = %.17g", i, j,
                     W[i * N + j], want);
        }
    check_M(m, K);
    check_z(m, K, EIR_ACT_SOFTPLUS);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn),
        cmocka_unit_test(test_dale_reject),
        cmocka_unit_test(test_dale_project),
        cmocka_unit_test(test_gated_A_shapes),
        cmocka_unit_test(test_gated_rejects_signed_activation),
        cmocka_unit_test(test_conductance_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
