/*
 * eir_activity (statistics of recorded activity) against exact answers:
 *  - isotropic data built from orthogonal +/-1 patterns (columns of a Sylvester-Hadamard
 *    matrix): covariance exactly c I, so the participation ratio is d to 1e-12 and every PCA
 *    ratio is 1/d; rows outside the window hold NaN and huge values that must be ignored;
 *  - random Gaussian data in d dimensions: participation ratio within 3% of d;
 *  - rank-one data: participation ratio 1, first PCA ratio 1, correlations +/-1;
 *  - known per-unit and per-population means and variances (pooled over units);
 *  - identical units correlate 1, anti-correlated units -1, a constant unit has variance
 *    exactly 0 and is left out of the correlation;
 *  - the E/I balance index on a hand-checked 3-cell network;
 *  - bad windows and a non-finite value rejected naming /window; balance without every cell
 *    naming /balance; the stop flag.
 */
#include "eir_test_util.h"

#include "eir_analysis.h"

/* Sylvester-Hadamard entry H_{2^k}[i][j] = (-1)^popcount(i & j). */
static double hadamard(int i, int j)
{
    return __builtin_popcount((unsigned)(i & j)) % 2 ? -1.0 : 1.0;
}

static void desc(eir_activity_desc *d, const double *data, int B, int64_t T, int n)
{
    memset(d, 0, sizeof *d);
    d->data = data;
    d->B = B;
    d->T = T;
    d->n = n;
    d->n_e = n;
    d->t0 = 0;
    d->t1 = T;
}

static void run_ok(const eir_activity_desc *d, eir_activity_result *r)
{
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_activity(d, r, &err);
    ET_CHECK(st == EIR_OK, "eir_activity failed: %s (%s)", err.message, err.field);
}

/* d = 7 units, 16 samples = 2 trials x 8 window rows; rows 0 and 9 of each trial are outside
 * the window and poisoned. Unit u's value: mean_u + 0.5 H16[s][u + 1]: orthogonal, zero-mean
 * patterns, so C = 0.25 I exactly. */
static void test_isotropic_exact(void **state)
{
    (void)state;
    enum { D = 7, B = 2, T = 10 };
    double data[B * T * D];
    const double mean[D] = {3.0, -1.5, 0.0, 10.0, 0.25, -7.0, 1e3};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int u = 0; u < D; u++) {
                int s = b * 8 + (t - 1);
                double v = (t == 0 || t == T - 1) ? (u % 2 ? NAN : 1e300)
                                                  : mean[u] + 0.5 * hadamard(s, u + 1);
                data[(b * T + t) * D + u] = v;
            }
    eir_activity_desc d;
    desc(&d, data, B, T, D);
    d.t0 = 1;
    d.t1 = T - 1;
    d.n_e = 4;
    eir_activity_result r;
    run_ok(&d, &r);
    assert_int_equal(r.n, D);
    ET_ASSERT_CLOSE(r.participation, (double)D, 1e-12, 1.0);
    for (int u = 0; u < D; u++) {
        ET_ASSERT_CLOSE(r.unit_mean[u], mean[u], 1e-15, 1.0);
        ET_ASSERT_CLOSE(r.unit_var[u], 0.25, 1e-13, 1.0);
        ET_ASSERT_CLOSE(r.pca_var[u], 0.25, 1e-12, 1.0);
        ET_ASSERT_CLOSE(r.pca_ratio[u], 1.0 / D, 1e-12, 1.0);
    }
    ET_ASSERT_CLOSE(r.mean_corr, 0.0, 1e-13, 1.0);
    assert_int_equal(r.corr_units, D);
    /* Populations: E = units 0..3, I = 4..6; pooled variance = 0.25 + spread of the means. */
    for (int p = 0; p < 2; p++) {
        int lo = p ? 4 : 0, hi = p ? D : 4;
        double m = 0, v = 0;
        for (int u = lo; u < hi; u++)
            m += mean[u] / (hi - lo);
        for (int u = lo; u < hi; u++)
            v += (0.25 + (mean[u] - m) * (mean[u] - m)) / (hi - lo);
        ET_ASSERT_REL(r.mean[p], m, 1e-13);
        ET_ASSERT_REL(r.var[p], v, 1e-12);
    }
    assert_null(r.balance);
    eir_activity_result_free(&r);
    assert_null(r.unit_mean);
}

/* Gaussian data: PR of the sample covariance of S samples in d dimensions is about
 * d / (1 + d / S) (Marchenko-Pastur second moment); within 3% of d at S = 20,000. */
static void test_isotropic_gaussian(void **state)
{
    (void)state;
    enum { D = 10, B = 4, T = 5000 };
    double *data = malloc(sizeof(double) * B * T * D);
    et_rng g = {2024};
    for (size_t k = 0; k < (size_t)B * T * D; k += 2) {
        double u1 = et_unif(&g, 1e-300, 1.0), u2 = et_unif(&g, 0, 1);
        data[k] = 2.0 + sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        data[k + 1] = -1.0 + sqrt(-2 * log(u1)) * sin(6.283185307179586 * u2);
    }
    eir_activity_desc d;
    desc(&d, data, B, T, D);
    eir_activity_result r;
    run_ok(&d, &r);
    ET_CHECK(fabs(r.participation - D) < 0.03 * D, "participation ratio %g, expected about %d",
             r.participation, D);
    ET_CHECK(fabs(r.mean_corr) < 0.01, "mean correlation %g of independent units", r.mean_corr);
    for (int k = 1; k < D; k++)
        ET_CHECK(r.pca_var[k] <= r.pca_var[k - 1], "PCA variances not descending at %d", k);
    double sum = 0;
    for (int k = 0; k < D; k++)
        sum += r.pca_ratio[k];
    ET_ASSERT_CLOSE(sum, 1.0, 1e-13, 1.0);
    eir_activity_result_free(&r);
    free(data);
}

/* x_u(t) = a_u s(t) + c_u: rank one. */
static void test_rank_one(void **state)
{
    (void)state;
    enum { D = 3, B = 3, T = 50 };
    const double a[D] = {1.0, 2.0, -0.5}, c[D] = {0.3, -4.0, 8.0};
    double data[B * T * D];
    et_rng g = {99};
    for (int s = 0; s < B * T; s++) {
        double v = et_unif(&g, -1, 1);
        for (int u = 0; u < D; u++)
            data[s * D + u] = a[u] * v + c[u];
    }
    eir_activity_desc d;
    desc(&d, data, B, T, D);
    eir_activity_result r;
    run_ok(&d, &r);
    ET_ASSERT_CLOSE(r.participation, 1.0, 1e-12, 1.0);
    ET_ASSERT_CLOSE(r.pca_ratio[0], 1.0, 1e-12, 1.0);
    ET_ASSERT_CLOSE(r.pca_ratio[1], 0.0, 1e-12, 1.0);
    /* pairs: (0,1) +1, (0,2) -1, (1,2) -1 */
    ET_ASSERT_CLOSE(r.mean_corr, -1.0 / 3.0, 1e-12, 1.0);
    eir_activity_result_free(&r);
}

/* Identical units: 1; anti-correlated: -1; a constant unit: variance exactly 0, left out. */
static void test_correlation_extremes(void **state)
{
    (void)state;
    enum { T = 40 };
    double same[T * 2], anti[T * 3];
    et_rng g = {5};
    for (int t = 0; t < T; t++) {
        double v = et_unif(&g, 0, 3);
        same[t * 2] = same[t * 2 + 1] = v;
        anti[t * 3] = v;
        anti[t * 3 + 1] = 0.1; /* constant: 0.1 summed 40 times / 40 is not 0.1 exactly */
        anti[t * 3 + 2] = 1.0 - 3.0 * v;
    }
    eir_activity_desc d;
    eir_activity_result r;
    desc(&d, same, 1, T, 2);
    run_ok(&d, &r);
    ET_ASSERT_CLOSE(r.mean_corr, 1.0, 1e-14, 1.0);
    assert_int_equal(r.corr_units, 2);
    eir_activity_result_free(&r);

    desc(&d, anti, 1, T, 3);
    run_ok(&d, &r);
    ET_ASSERT_CLOSE(r.mean_corr, -1.0, 1e-14, 1.0);
    assert_int_equal(r.corr_units, 2);
    ET_CHECK(r.unit_var[1] == 0.0, "constant unit variance %g, expected exactly 0", r.unit_var[1]);
    ET_CHECK(r.unit_mean[1] == 0.1, "constant unit mean %.17g", r.unit_mean[1]);
    ET_ASSERT_CLOSE(r.participation, 1.0, 1e-12, 1.0);
    eir_activity_result_free(&r);

    /* All constant: no variance, PR NaN, no correlated units. */
    for (int t = 0; t < T; t++)
        same[t * 2] = same[t * 2 + 1] = 2.5;
    desc(&d, same, 1, T, 2);
    run_ok(&d, &r);
    ET_CHECK(isnan(r.participation), "participation %g without variance", r.participation);
    ET_CHECK(isnan(r.mean_corr), "mean correlation %g without variance", r.mean_corr);
    assert_int_equal(r.corr_units, 0);
    eir_activity_result_free(&r);
}

/* Per-unit and per-population moments with a unit -> cell map; population divisor S. */
static void test_known_moments(void **state)
{
    (void)state;
    /* 3 units (cells 0, 5, 2; n_e = 3: E, I, E), 1 trial, 4 rows. */
    const double data[4 * 3] = {1, 10, -2, 3, 10, -2, 5, 20, 2, 7, 20, 2};
    const int units[3] = {0, 5, 2};
    eir_activity_desc d;
    desc(&d, data, 1, 4, 3);
    d.units = units;
    d.n_e = 3;
    eir_activity_result r;
    run_ok(&d, &r);
    ET_ASSERT_REL(r.unit_mean[0], 4.0, 1e-15);
    ET_ASSERT_REL(r.unit_var[0], 5.0, 1e-15); /* (9 + 1 + 1 + 9) / 4 */
    ET_ASSERT_REL(r.unit_mean[1], 15.0, 1e-15);
    ET_ASSERT_REL(r.unit_var[1], 25.0, 1e-15);
    ET_ASSERT_CLOSE(r.unit_mean[2], 0.0, 1e-15, 1.0);
    ET_ASSERT_REL(r.unit_var[2], 4.0, 1e-15);
    /* E pools units 0 and 2: values 1,3,5,7,-2,-2,2,2: mean 2, var (1+1+9+25+16+16+0+0)/8 */
    ET_ASSERT_REL(r.mean[0], 2.0, 1e-15);
    ET_ASSERT_REL(r.var[0], 68.0 / 8.0, 1e-15);
    ET_ASSERT_REL(r.mean[1], 15.0, 1e-15);
    ET_ASSERT_REL(r.var[1], 25.0, 1e-15);
    eir_activity_result_free(&r);

    /* No I unit: its population is NaN. */
    d.units = NULL;
    d.n_e = 3;
    run_ok(&d, &r);
    ET_CHECK(isnan(r.mean[1]) && isnan(r.var[1]), "empty I population: %g %g", r.mean[1], r.var[1]);
    eir_activity_result_free(&r);
}

/*
 * Balance on N = 3 (cells 0, 1 E; cell 2 I), class dale, W = [[0, 1, -2], [0.5, 0, -1],
 * [1, 1, 0]], rates r(0) = (1, 0, 1), r(1) = (0, 2, 0.5). By hand:
 *   cell 0: e = (0, 2), i = (-2, -1): balance (-2 + 1) / (2 + 3) = -0.2, drive_e 1, drive_i -1.5
 *   cell 1: e = (0.5, 0), i = (-1, -0.5): balance -1 / 2 = -0.5, drive_e 0.25, drive_i -0.75
 *   cell 2: e = (1, 2), i = (0, 0): balance 1, drive_e 1.5, drive_i 0
 */
static void test_balance(void **state)
{
    (void)state;
    const double W[9] = {0, 1, -2, 0.5, 0, -1, 1, 1, 0}, leak[1] = {1.0};
    eir_model_desc md;
    et_desc_reduced(&md, EIR_CLASS_DALE, EIR_ACT_RELU, 2, 1, W, leak, 1);
    eir_model *m = et_build(&md);
    const double r[2 * 3] = {1, 0, 1, 0, 2, 0.5};
    eir_activity_desc d;
    desc(&d, r, 1, 2, 3);
    d.n_e = 2;
    d.model = m;
    eir_activity_result out;
    run_ok(&d, &out);
    const double bal[3] = {-0.2, -0.5, 1.0}, de[3] = {1, 0.25, 1.5}, di[3] = {-1.5, -0.75, 0};
    for (int i = 0; i < 3; i++) {
        ET_ASSERT_CLOSE(out.balance[i], bal[i], 1e-15, 1.0);
        ET_ASSERT_CLOSE(out.drive_e[i], de[i], 1e-15, 1.0);
        ET_ASSERT_CLOSE(out.drive_i[i], di[i], 1e-15, 1.0);
    }

    /* The same network stored as compressed rows: the same bytes. */
    md.storage = EIR_STORAGE_SPARSE;
    eir_model *sp = et_build(&md);
    assert_true(eir_model_sparse(sp));
    eir_activity_result out_sp;
    d.model = sp;
    run_ok(&d, &out_sp);
    assert_memory_equal(out.balance, out_sp.balance, 3 * sizeof(double));
    assert_memory_equal(out.drive_e, out_sp.drive_e, 3 * sizeof(double));
    assert_memory_equal(out.drive_i, out_sp.drive_i, 3 * sizeof(double));
    eir_activity_result_free(&out_sp);
    eir_model_free(sp);
    eir_activity_result_free(&out);

    /* Two trials, second with all rates 0: means halve, the balance index does not change. */
    const double r2[2 * 2 * 3] = {1, 0, 1, 0, 2, 0.5, 0, 0, 0, 0, 0, 0};
    desc(&d, r2, 2, 2, 3);
    d.n_e = 2;
    d.model = m;
    run_ok(&d, &out);
    for (int i = 0; i < 3; i++) {
        ET_ASSERT_CLOSE(out.balance[i], bal[i], 1e-15, 1.0);
        ET_ASSERT_CLOSE(out.drive_e[i], de[i] / 2, 1e-15, 1.0);
    }
    eir_activity_result_free(&out);

    /* A cell with no input in the window: NaN (undefined), not 0. */
    const double r0[3] = {0, 0, 0};
    desc(&d, r0, 1, 1, 3);
    d.n_e = 2;
    d.model = m;
    run_ok(&d, &out);
    ET_CHECK(isnan(out.balance[0]), "balance %g without input", out.balance[0]);
    eir_activity_result_free(&out);

    /* Balance needs every cell. */
    const int units[2] = {0, 1};
    desc(&d, r, 1, 2, 2);
    d.units = units;
    d.model = m;
    eir_error err;
    assert_int_equal(eir_activity(&d, &out, &err), EIR_EINVAL);
    et_check_error(&err, "/balance", "cells");
    assert_null(out.unit_mean);
    eir_model_free(m);
}

static void expect_window(const eir_activity_desc *d, const char *words)
{
    eir_activity_result r;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_activity(d, &r, &err), EIR_EINVAL);
    et_check_error(&err, "/window", words);
    assert_null(r.unit_mean);
    assert_null(r.pca_var);
}

static void test_bad_window(void **state)
{
    (void)state;
    double data[10 * 2];
    for (int k = 0; k < 20; k++)
        data[k] = k;
    eir_activity_desc d;
    desc(&d, data, 1, 10, 2);
    d.t0 = 5, d.t1 = 5;
    expect_window(&d, "window");
    d.t0 = 6, d.t1 = 5;
    expect_window(&d, "window");
    d.t0 = -1, d.t1 = 5;
    expect_window(&d, "window");
    d.t0 = 0, d.t1 = 11;
    expect_window(&d, "window");
    d.t0 = 0, d.t1 = 10;
    data[7 * 2 + 1] = INFINITY;
    expect_window(&d, "non-finite");
    d.t1 = 7; /* the infinity is outside [0, 7) */
    eir_activity_result r;
    run_ok(&d, &r);
    eir_activity_result_free(&r);
}

static void test_stop(void **state)
{
    (void)state;
    double data[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 9};
    eir_activity_desc d;
    desc(&d, data, 1, 4, 2);
    eir_stop *s = eir_stop_new();
    eir_stop_request(s);
    d.stop = s;
    eir_activity_result r;
    eir_error err;
    assert_int_equal(eir_activity(&d, &r, &err), EIR_ECANCELLED);
    assert_null(r.unit_mean);
    eir_stop_free(s);
    eir_activity_result_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isotropic_exact), cmocka_unit_test(test_isotropic_gaussian),
        cmocka_unit_test(test_rank_one),        cmocka_unit_test(test_correlation_extremes),
        cmocka_unit_test(test_known_moments),   cmocka_unit_test(test_balance),
        cmocka_unit_test(test_bad_window),      cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
