/*
 * The matrices of a built model (eir_analysis.h): names, which matrices each kind of model has
 * and their shapes, and eir_model_matrix_rows() against the engine's own dense views
 * (eir_model_W_dense, eir_model_M) for dense and sparse storage and every shape of A, read
 * whole and in row blocks; vectors expanded from broadcast values; a generated W (and K) as
 * generated, byte for byte; rows out of range and missing matrices refused.
 */
#include "eir_test_util.h"

#include "eir_analysis.h"

#define N 6
#define NE 4
#define NIN 3
#define NOUT 2

static double Wd[N * N], K[N * N], AFULL[N * N], AROW[2 * N], P[N * NIN], MIN[N * NIN],
    WOUT[NOUT * N], BOUT[NOUT];
static const double A_TYPE[2] = {0.5, 1.2};
static const double LEAK1 = 1.5, BIAS1 = -0.25;

static void fill(void)
{
    et_rng g = {99};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double w = et_unif(&g, 0.1, 1.0);
            Wd[i * N + j] = j < NE ? w : -w;
            K[i * N + j] = et_unif(&g, 0.0, 1.0);
            AFULL[i * N + j] = et_unif(&g, 0.0, 2.0);
        }
        AROW[i] = et_unif(&g, 0, 1);
        AROW[N + i] = et_unif(&g, 0, 1);
        for (int c = 0; c < NIN; c++) {
            P[i * NIN + c] = et_unif(&g, -1, 1);
            MIN[i * NIN + c] = et_unif(&g, 0, 1);
        }
    }
    for (int k = 0; k < NOUT * N; k++)
        WOUT[k] = et_unif(&g, -1, 1);
    BOUT[0] = 0.3, BOUT[1] = -0.7;
}

/** A gated reduced-form model with everything: inputs, input gating, readout, scalar leak and
 *  bias (broadcast). */
static void full_desc(eir_model_desc *d, eir_a_kind ak, const double *A)
{
    fill();
    et_desc_reduced(d, EIR_CLASS_GATED, EIR_ACT_RELU, NE, N - NE, Wd, &LEAK1, 1);
    d->a_kind = ak;
    d->A = A;
    d->n_in = NIN;
    d->P = P;
    d->M_in = MIN;
    d->bias = &BIAS1;
    d->bias_len = 1;
    d->n_out = NOUT;
    d->W_out = WOUT;
    d->b_out = BOUT;
}

static void read_whole(const eir_model *m, eir_matrix k, double *out)
{
    int64_t sh[2];
    int nd = eir_model_matrix_shape(m, k, sh);
    ET_CHECK(nd > 0, "%s missing", eir_matrix_name(k));
    eir_error err;
    eir_status s = eir_model_matrix_rows(m, k, 0, nd == 1 ? 1 : sh[0], out, &err);
    ET_CHECK(s == EIR_OK, "%s: %s", eir_matrix_name(k), err.message);
}

static void test_names(void **st)
{
    (void)st;
    static const char *names[EIR_NMATRICES] = {"W",   "M",    "K",     "P",    "M_in",
                                               "G_b", "bias", "W_out", "b_out"};
    for (int k = 0; k < EIR_NMATRICES; k++) {
        assert_string_equal(eir_matrix_name((eir_matrix)k), names[k]);
        assert_int_equal(eir_matrix_parse(names[k]), k);
    }
    assert_int_equal(eir_matrix_parse("w"), -1);
    assert_int_equal(eir_matrix_parse("A"), -1);
    assert_int_equal(eir_matrix_parse(""), -1);
    assert_int_equal(eir_matrix_parse("W "), -1);
    assert_int_equal(eir_matrix_parse(NULL), -1);
    assert_string_equal(eir_matrix_name((eir_matrix)EIR_NMATRICES), "unknown");
}

static void expect_shape(const eir_model *m, eir_matrix k, int nd, int64_t s0, int64_t s1)
{
    int64_t sh[2] = {-1, -1};
    int got = eir_model_matrix_shape(m, k, sh);
    ET_CHECK(got == nd, "%s: ndim %d, expected %d", eir_matrix_name(k), got, nd);
    if (nd >= 1) ET_CHECK(sh[0] == s0, "%s: shape[0] %lld", eir_matrix_name(k), (long long)sh[0]);
    if (nd == 2) ET_CHECK(sh[1] == s1, "%s: shape[1] %lld", eir_matrix_name(k), (long long)sh[1]);
    if (nd == 0) {
        double buf[N * N];
        eir_error err;
        ET_CHECK(eir_model_matrix_rows(m, k, 0, 1, buf, &err) == EIR_EINVAL,
                 "%s: rows of a missing matrix", eir_matrix_name(k));
        ET_CHECK(et_contains_ci(err.message, eir_matrix_name(k)), "%s", err.message);
    }
}

static void test_shapes(void **st)
{
    (void)st;
    eir_model_desc d;
    /* gated reduced with everything */
    full_desc(&d, EIR_A_PER_TYPE, A_TYPE);
    eir_model *m = et_build(&d);
    expect_shape(m, EIR_MAT_W, 2, N, N);
    expect_shape(m, EIR_MAT_M, 2, N, N);
    expect_shape(m, EIR_MAT_K, 0, 0, 0);
    expect_shape(m, EIR_MAT_P, 2, N, NIN);
    expect_shape(m, EIR_MAT_M_IN, 2, N, NIN);
    expect_shape(m, EIR_MAT_G_B, 1, N, 0);
    expect_shape(m, EIR_MAT_BIAS, 1, N, 0);
    expect_shape(m, EIR_MAT_W_OUT, 2, NOUT, N);
    expect_shape(m, EIR_MAT_B_OUT, 1, NOUT, 0);
    expect_shape(m, (eir_matrix)EIR_NMATRICES, 0, 0, 0);
    eir_model_free(m);

    /* readout from E: W_out is n_out x n_e */
    full_desc(&d, EIR_A_SCALAR, A_TYPE);
    d.readout_from = EIR_READOUT_E;
    m = et_build(&d);
    expect_shape(m, EIR_MAT_W_OUT, 2, NOUT, NE);
    double wo[NOUT * NE];
    read_whole(m, EIR_MAT_W_OUT, wo);
    assert_memory_equal(wo, WOUT, sizeof wo);
    eir_model_free(m);

    /* no inputs, no readout, classes without a gate */
    for (int cls = EIR_CLASS_RNN; cls <= EIR_CLASS_DALE; cls++) {
        fill();
        et_desc_reduced(&d, (eir_class)cls, EIR_ACT_RELU, NE, N - NE, Wd, &LEAK1, 1);
        m = et_build(&d);
        expect_shape(m, EIR_MAT_W, 2, N, N);
        expect_shape(m, EIR_MAT_M, 0, 0, 0);
        expect_shape(m, EIR_MAT_K, 0, 0, 0);
        expect_shape(m, EIR_MAT_P, 0, 0, 0);
        expect_shape(m, EIR_MAT_M_IN, 0, 0, 0);
        expect_shape(m, EIR_MAT_G_B, 1, N, 0);
        expect_shape(m, EIR_MAT_BIAS, 1, N, 0);
        expect_shape(m, EIR_MAT_W_OUT, 0, 0, 0);
        expect_shape(m, EIR_MAT_B_OUT, 0, 0, 0);
        double b[N], g[N];
        read_whole(m, EIR_MAT_BIAS, b);
        read_whole(m, EIR_MAT_G_B, g);
        for (int i = 0; i < N; i++) {
            assert_true(b[i] == 0.0);
            assert_true(g[i] == LEAK1);
        }
        eir_model_free(m);
    }

    /* inputs without gating */
    full_desc(&d, EIR_A_PER_TYPE, A_TYPE);
    d.M_in = NULL;
    m = et_build(&d);
    expect_shape(m, EIR_MAT_M_IN, 0, 0, 0);
    expect_shape(m, EIR_MAT_P, 2, N, NIN);
    eir_model_free(m);

    /* conductance form: K (= M) for gated, neither M nor K without the gate */
    for (int cls = EIR_CLASS_DALE; cls <= EIR_CLASS_GATED; cls++) {
        fill();
        et_desc_reduced(&d, (eir_class)cls, EIR_ACT_RELU, NE, N - NE, NULL, &LEAK1, 1);
        d.form = EIR_FORM_CONDUCTANCE;
        d.K = K;
        d.e_rev_e = 2.0;
        d.e_rev_i = -0.5;
        m = et_build(&d);
        expect_shape(m, EIR_MAT_M, 0, 0, 0);
        expect_shape(m, EIR_MAT_K, cls == EIR_CLASS_GATED ? 2 : 0, N, N);
        if (cls == EIR_CLASS_GATED) {
            double k[N * N];
            read_whole(m, EIR_MAT_K, k);
            assert_memory_equal(k, K, sizeof k);
        }
        double w[N * N];
        read_whole(m, EIR_MAT_W, w);
        for (int q = 0; q < N * N; q++)
            assert_true(w[q] == K[q] * (q % N < NE ? 2.0 : -0.5));
        eir_model_free(m);
    }
}

/** Rows of W and M (or K) equal eir_model_W_dense / eir_model_M, whole and by blocks. */
static void check_rows_match(const eir_model *m, const char *what)
{
    double W[N * N], M[N * N], got[N * N];
    eir_model_W_dense(m, W);
    eir_model_M(m, M);
    int64_t sh[2];
    eir_matrix gk = eir_model_matrix_shape(m, EIR_MAT_M, sh) ? EIR_MAT_M : EIR_MAT_K;
    eir_error err;
    for (int pass = 0; pass < 2; pass++) {
        eir_matrix k = pass == 0 ? EIR_MAT_W : gk;
        const double *want = pass == 0 ? W : M;
        memset(got, 0xff, sizeof got);
        for (int r0 = 0; r0 < N; r0 += 4) { /* blocks of 4 rows, the last one shorter */
            int nr = r0 + 4 <= N ? 4 : N - r0;
            assert_int_equal(eir_model_matrix_rows(m, k, r0, nr, got + r0 * N, &err), EIR_OK);
        }
        ET_CHECK(memcmp(got, want, sizeof got) == 0, "%s: rows of %s differ", what,
                 eir_matrix_name(k));
    }
}

static void test_rows_dense_sparse(void **st)
{
    (void)st;
    eir_model_desc d;
    const struct {
        eir_a_kind ak;
        const double *A;
    } shapes[] = {{EIR_A_SCALAR, A_TYPE},
                  {EIR_A_PER_TYPE, A_TYPE},
                  {EIR_A_PER_ROW, AROW},
                  {EIR_A_MATRIX, AFULL}};
    for (int s = 0; s < 4; s++)
        for (int storage = EIR_STORAGE_DENSE; storage <= EIR_STORAGE_SPARSE; storage++) {
            full_desc(&d, shapes[s].ak, shapes[s].A);
            d.storage = (eir_storage)storage;
            eir_model *m = et_build(&d);
            assert_int_equal(eir_model_sparse(m), storage == EIR_STORAGE_SPARSE);
            check_rows_match(m, storage == EIR_STORAGE_SPARSE ? "sparse" : "dense");
            /* M by hand: A (.) |W| */
            double Mh[N * N], Mg[N * N];
            et_M_from_A(NE, N - NE, shapes[s].ak, shapes[s].A, Wd, Mh);
            read_whole(m, EIR_MAT_M, Mg);
            for (int q = 0; q < N * N; q++)
                ET_ASSERT_REL(Mg[q], Mh[q], 1e-15);
            /* the other arrays as given, broadcast values expanded */
            double p[N * NIN], mi[N * NIN], g[N], b[N], wo[NOUT * N], bo[NOUT];
            read_whole(m, EIR_MAT_P, p);
            read_whole(m, EIR_MAT_M_IN, mi);
            read_whole(m, EIR_MAT_G_B, g);
            read_whole(m, EIR_MAT_BIAS, b);
            read_whole(m, EIR_MAT_W_OUT, wo);
            read_whole(m, EIR_MAT_B_OUT, bo);
            assert_memory_equal(p, P, sizeof p);
            assert_memory_equal(mi, MIN, sizeof mi);
            assert_memory_equal(wo, WOUT, sizeof wo);
            assert_memory_equal(bo, BOUT, sizeof bo);
            for (int i = 0; i < N; i++) {
                assert_true(g[i] == LEAK1);
                assert_true(b[i] == BIAS1);
            }
            /* one row of P from the middle */
            assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_P, 2, 1, p, NULL), EIR_OK);
            assert_memory_equal(p, P + 2 * NIN, NIN * sizeof *p);
            eir_model_free(m);
        }
    /* conductance form, gated, sparse */
    fill();
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_RELU, NE, N - NE, NULL, &LEAK1, 1);
    d.form = EIR_FORM_CONDUCTANCE;
    d.K = K;
    d.e_rev_e = 2.0;
    d.e_rev_i = -0.5;
    d.storage = EIR_STORAGE_SPARSE;
    eir_model *m = et_build(&d);
    check_rows_match(m, "conductance sparse");
    eir_model_free(m);
}

static void test_rows_range(void **st)
{
    (void)st;
    eir_model_desc d;
    full_desc(&d, EIR_A_PER_TYPE, A_TYPE);
    eir_model *m = et_build(&d);
    double buf[N * N];
    eir_error err;
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, -1, 1, buf, &err), EIR_EINVAL);
    ET_CHECK(et_contains_ci(err.message, "range"), "%s", err.message);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, 0, N + 1, buf, &err), EIR_EINVAL);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, N - 1, 2, buf, &err), EIR_EINVAL);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, 0, -1, buf, &err), EIR_EINVAL);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_G_B, 0, 2, buf, &err), EIR_EINVAL);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_G_B, 1, 1, buf, &err), EIR_EINVAL);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, N - 1, 1, buf, &err), EIR_OK);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, N, 0, buf, &err), EIR_OK);
    eir_model_free(m);
}

static void test_generated_exact(void **st)
{
    (void)st;
    const int ne = 80, ni = 20, n = ne + ni;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 12345;
    g.p[0] = g.p[1] = g.p[2] = g.p[3] = 0.5;
    g.balance = 1;
    g.spectral_radius = 0.9;
    double *W = malloc((size_t)n * n * sizeof *W), *got = malloc((size_t)n * n * sizeof *got);
    eir_error err;
    eir_status gs = eir_generate_recurrent(&g, ne, ni, EIR_FORM_REDUCED, 0, 0, W, &err);
    ET_CHECK(gs == EIR_OK, "%s: %s", err.field, err.message);
    const double leak = 1.0, A = 0.3;
    for (int storage = EIR_STORAGE_DENSE; storage <= EIR_STORAGE_SPARSE; storage++) {
        eir_model_desc d;
        et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_RELU, ne, ni, W, &leak, 1);
        d.A = &A;
        d.storage = (eir_storage)storage;
        eir_model *m = et_build(&d);
        assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, 0, n, got, &err), EIR_OK);
        assert_memory_equal(got, W, (size_t)n * n * sizeof *W);
        eir_model_free(m);
    }
    /* conductance form: K as generated */
    assert_int_equal(eir_generate_recurrent(&g, ne, ni, EIR_FORM_CONDUCTANCE, 3.0, -1.0, W, &err),
                     EIR_OK);
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_RELU, ne, ni, NULL, &leak, 1);
    d.form = EIR_FORM_CONDUCTANCE;
    d.K = W;
    d.e_rev_e = 3.0;
    d.e_rev_i = -1.0;
    eir_model *m = et_build(&d);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_K, 0, n, got, &err), EIR_OK);
    assert_memory_equal(got, W, (size_t)n * n * sizeof *W);
    eir_model_free(m);
    free(W);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_rows_dense_sparse),
        cmocka_unit_test(test_rows_range),
        cmocka_unit_test(test_generated_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
