/*
 * eir_eigen, eir_eig_sort, eir_eig_summarise (eir_analysis.h):
 *
 *  - known spectra: a diagonal matrix (eigenvectors the unit vectors), 2 x 2 rotation-scaling
 *    blocks a +- i b (conjugate complex eigenvectors), a companion matrix whose eigenvalues are
 *    the roots of its polynomial (real and complex, 1e-10);
 *  - every eigenvector of a random matrix: unit 2-norm and |A v - lambda v| <= 1e-12 |A|;
 *  - the sort order (real part descending, then imaginary descending, equal values stable, the
 *    columns of the eigenvectors following), and the summary;
 *  - bad arguments and the stop flag;
 *  - Rajan & Abbott (2006): a generated balanced E/I matrix at N = 1000 has the eigenvalue
 *    radius sqrt(N (f sigma_E^2 + (1 - f) sigma_I^2)) within 5 %, and a `spectral_radius` recipe
 *    gives the requested radius to 1e-9 (rho of the built W by eir_eigen).
 */
#include "eir_test_util.h"

#include "eir_analysis.h"

static double cabs2(const double *z)
{
    return hypot(z[0], z[1]);
}

/** max_i |(A v)_i - lambda v_i| for eigenvector k (complex arithmetic). */
static double residual(const double *A, int n, const double *vals, const double *vecs, int k)
{
    double lr = vals[2 * k], li = vals[2 * k + 1], worst = 0.0;
    for (int i = 0; i < n; i++) {
        double sr = 0.0, si = 0.0;
        for (int j = 0; j < n; j++) {
            sr += A[i * n + j] * vecs[2 * (j * n + k)];
            si += A[i * n + j] * vecs[2 * (j * n + k) + 1];
        }
        double vr = vecs[2 * (i * n + k)], vi = vecs[2 * (i * n + k) + 1];
        sr -= lr * vr - li * vi;
        si -= lr * vi + li * vr;
        worst = fmax(worst, hypot(sr, si));
    }
    return worst;
}

static double vnorm(const double *vecs, int n, int k)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += vecs[2 * (i * n + k)] * vecs[2 * (i * n + k)] +
             vecs[2 * (i * n + k) + 1] * vecs[2 * (i * n + k) + 1];
    return sqrt(s);
}

static void eig_ok(const double *A, int n, double *vals, double *vecs)
{
    eir_error err;
    eir_status s = eir_eigen(A, n, vals, vecs, NULL, &err);
    ET_CHECK(s == EIR_OK, "eir_eigen: %s", err.message);
}

static void test_diagonal(void **st)
{
    (void)st;
    enum { n = 5 };
    const double d[n] = {0.5, -2.0, 3.0, 0.0, 1.25};
    const double want[n] = {3.0, 1.25, 0.5, 0.0, -2.0};
    const int where[n] = {2, 4, 0, 3, 1}; /* column of the unit vector of each sorted value */
    double A[n * n] = {0}, vals[2 * n], vecs[2 * n * n];
    for (int i = 0; i < n; i++)
        A[i * n + i] = d[i];
    eig_ok(A, n, vals, vecs);
    for (int k = 0; k < n; k++) {
        assert_true(vals[2 * k] == want[k]);
        assert_true(vals[2 * k + 1] == 0.0);
        for (int i = 0; i < n; i++) {
            double v = vecs[2 * (i * n + k)];
            ET_CHECK(fabs(fabs(v) - (i == where[k])) <= 1e-15, "vector %d component %d = %g", k, i,
                     v);
            assert_true(vecs[2 * (i * n + k) + 1] == 0.0);
        }
    }
    /* without vectors: the same values */
    double vals2[2 * n];
    eir_error err;
    assert_int_equal(eir_eigen(A, n, vals2, NULL, NULL, &err), EIR_OK);
    assert_memory_equal(vals, vals2, sizeof vals);
}

static void test_rotation_blocks(void **st)
{
    (void)st;
    enum { n = 5 };
    /* blocks [[a, -b], [b, a]] with (a, b) = (0.3, 2) and (-1, 0.5), and a 1 x 1 block 0.2 */
    double A[n * n] = {0};
    A[0] = 0.3, A[1] = -2.0, A[n] = 2.0, A[n + 1] = 0.3;
    A[2 * n + 2] = -1.0, A[2 * n + 3] = -0.5, A[3 * n + 2] = 0.5, A[3 * n + 3] = -1.0;
    A[4 * n + 4] = 0.2;
    double vals[2 * n], vecs[2 * n * n];
    eig_ok(A, n, vals, vecs);
    const double want[n][2] = {{0.3, 2.0}, {0.3, -2.0}, {0.2, 0.0}, {-1.0, 0.5}, {-1.0, -0.5}};
    for (int k = 0; k < n; k++) {
        ET_CHECK(fabs(vals[2 * k] - want[k][0]) <= 1e-14 &&
                     fabs(vals[2 * k + 1] - want[k][1]) <= 1e-14,
                 "lambda_%d = %g%+gi, expected %g%+gi", k, vals[2 * k], vals[2 * k + 1], want[k][0],
                 want[k][1]);
        ET_CHECK(fabs(vnorm(vecs, n, k) - 1.0) <= 1e-14, "|v_%d| = %.17g", k, vnorm(vecs, n, k));
        ET_CHECK(residual(A, n, vals, vecs, k) <= 1e-14, "residual of v_%d: %g", k,
                 residual(A, n, vals, vecs, k));
    }
    /* the pair's vectors are conjugate */
    for (int i = 0; i < n; i++) {
        assert_true(vecs[2 * (i * n + 0)] == vecs[2 * (i * n + 1)]);
        assert_true(vecs[2 * (i * n + 0) + 1] == -vecs[2 * (i * n + 1) + 1]);
    }
}

/* numpy.linalg.eig([[0, -1], [1, 0]]) returns the eigenvalues (1j, -1j) and the eigenvectors
 * [[0.70710678+0j, 0.70710678-0j], [0-0.70710678j, 0+0.70710678j]] (dgeev's normalisation:
 * unit norm, largest component real); the same here. */
static void test_numpy_layout(void **st)
{
    (void)st;
    const double A[4] = {0, -1, 1, 0};
    double vals[4], vecs[8];
    eig_ok(A, 2, vals, vecs);
    const double h = sqrt(0.5);
    const double want_vals[4] = {0, 1, 0, -1};
    const double want_vecs[8] = {h, 0, h, 0, 0, -h, 0, h}; /* row-major, (re, im) */
    for (int k = 0; k < 4; k++)
        ET_CHECK(fabs(vals[k] - want_vals[k]) <= 1e-15, "vals[%d] = %.17g", k, vals[k]);
    for (int k = 0; k < 8; k++)
        ET_CHECK(fabs(vecs[k] - want_vecs[k]) <= 1e-15, "vecs[%d] = %.17g, numpy %.17g", k, vecs[k],
                 want_vecs[k]);
}

static void test_companion(void **st)
{
    (void)st;
    /* p(x) = (x - 3)(x - 0.5)(x + 2)(x^2 - 2x + 5): roots 3, 0.5, -2, 1 +- 2i */
    enum { n = 5 };
    double c[n + 1] = {1, 0, 0, 0, 0, 0}; /* coefficients, highest first */
    const double lin[3] = {3, 0.5, -2};
    int deg = 0;
    for (int r = 0; r < 3; r++) { /* multiply by (x - lin[r]) */
        for (int k = deg + 1; k >= 1; k--)
            c[k] -= lin[r] * c[k - 1];
        deg++;
    }
    double q[n + 1] = {0};
    for (int k = 0; k <= deg; k++) { /* times x^2 - 2x + 5 */
        q[k] += c[k];
        q[k + 1] += -2 * c[k];
        q[k + 2] += 5 * c[k];
    }
    double A[n * n] = {0}, vals[2 * n], vecs[2 * n * n];
    for (int j = 0; j < n; j++)
        A[j] = -q[j + 1];
    for (int i = 1; i < n; i++)
        A[i * n + i - 1] = 1.0;
    eig_ok(A, n, vals, vecs);
    const double want[n][2] = {{3, 0}, {1, 2}, {1, -2}, {0.5, 0}, {-2, 0}};
    for (int k = 0; k < n; k++) {
        ET_CHECK(fabs(vals[2 * k] - want[k][0]) <= 1e-10 &&
                     fabs(vals[2 * k + 1] - want[k][1]) <= 1e-10,
                 "root %d = %.15g%+.15gi, expected %g%+gi", k, vals[2 * k], vals[2 * k + 1],
                 want[k][0], want[k][1]);
        ET_CHECK(residual(A, n, vals, vecs, k) <= 1e-12, "residual %g",
                 residual(A, n, vals, vecs, k));
    }
}

static void test_random_residuals(void **st)
{
    (void)st;
    enum { n = 60 };
    static double A[n * n], vals[2 * n], vecs[2 * n * n];
    et_rng g = {5};
    double amax = 0.0;
    for (int k = 0; k < n * n; k++) {
        A[k] = et_unif(&g, -1, 1);
        amax = fmax(amax, fabs(A[k]));
    }
    eig_ok(A, n, vals, vecs);
    int complex_seen = 0;
    for (int k = 0; k < n; k++) {
        ET_CHECK(fabs(vnorm(vecs, n, k) - 1.0) <= 1e-13, "|v_%d| = %.17g", k, vnorm(vecs, n, k));
        double r = residual(A, n, vals, vecs, k);
        ET_CHECK(r <= 1e-12 * n * amax, "residual of v_%d: %g", k, r);
        complex_seen += vals[2 * k + 1] != 0.0;
        if (k > 0)
            ET_CHECK(vals[2 * k] < vals[2 * k - 2] ||
                         (vals[2 * k] == vals[2 * k - 2] && vals[2 * k + 1] <= vals[2 * k - 1]),
                     "order at %d", k);
    }
    ET_CHECK(complex_seen > 0, "a random matrix of n = 60 has complex eigenvalues");
}

static void test_sort_and_summary(void **st)
{
    (void)st;
    enum { n = 6 };
    /* values with ties in the real part and an exact duplicate; column k of vecs holds k */
    double vals[2 * n] = {1, 0, 2, -1, 2, 1, -3, 0, 2, 1, 0.5, 4};
    double vecs[2 * n * n];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            vecs[2 * (i * n + k)] = k;
            vecs[2 * (i * n + k) + 1] = -i;
        }
    eir_eig_sort(vals, vecs, n);
    const double want[2 * n] = {2, 1, 2, 1, 2, -1, 1, 0, 0.5, 4, -3, 0};
    const int from[n] = {2, 4, 1, 0, 5, 3}; /* the duplicate (2, 1) keeps its order: 2 then 4 */
    for (int k = 0; k < 2 * n; k++)
        assert_true(vals[k] == want[k]);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            assert_true(vecs[2 * (i * n + k)] == from[k]);
            assert_true(vecs[2 * (i * n + k) + 1] == -i);
        }
    eir_eig_summary s;
    eir_eig_summarise(vals, n, &s);
    ET_ASSERT_REL(s.radius, hypot(0.5, 4), 1e-15);
    assert_true(s.abscissa == 2.0);
    assert_int_equal(s.n_positive, 5);
    /* sorting without vectors */
    double v2[4] = {-1, 0, 1, 0};
    eir_eig_sort(v2, NULL, 2);
    assert_true(v2[0] == 1 && v2[2] == -1);
    eir_eig_summarise(v2, 2, &s);
    assert_true(s.radius == 1.0 && s.abscissa == 1.0 && s.n_positive == 1);
    (void)cabs2;
}

static void test_rejects(void **st)
{
    (void)st;
    double A[4] = {1, 2, 3, 4}, vals[4], vecs[8];
    eir_error err;
    assert_int_equal(eir_eigen(A, 0, vals, vecs, NULL, &err), EIR_EINVAL);
    et_check_error(&err, "/matrix", "1 x 1|n = 0");
    A[3] = NAN;
    assert_int_equal(eir_eigen(A, 2, vals, vecs, NULL, &err), EIR_EINVAL);
    et_check_error(&err, "/matrix", "finite");
    ET_CHECK(et_names_pair(err.message, 1, 1), "%s", err.message);
    A[3] = 4;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    assert_int_equal(eir_eigen(A, 2, vals, vecs, stop, &err), EIR_OK);
    eir_stop_request(stop);
    assert_int_equal(eir_eigen(A, 2, vals, vecs, stop, &err), EIR_ECANCELLED);
    eir_stop_free(stop);
}

/*
 * Rajan & Abbott (2006): an N x N matrix whose E columns (fraction f) have entries of variance
 * sigma_E^2 and I columns sigma_I^2, with every row summing to zero, has its eigenvalues in the
 * disc of radius sqrt(N (f sigma_E^2 + (1 - f) sigma_I^2)) as N grows.
 *
 * The generator's entries (MODEL.md section 10): entry (i, j) of block b is connected with
 * probability p and then has a lognormal magnitude of mean mu_b and coefficient of variation cv,
 * so E[w] = p mu_b and E[w^2] = p mu_b^2 (1 + cv^2): the per-entry variance is
 *     sigma_b^2 = p mu_b^2 (1 + cv^2) - p^2 mu_b^2 = p mu_b^2 (1 + cv^2 - p).
 * Balance multiplies row i's I entries by s_E / s_I (the row's E and I magnitude sums); with
 * mu_I = mu_E N_E / N_I that factor has expectation ~1 (its spread, ~8 % here, changes sigma_I^2
 * by well under 1 %), so sigma_I^2 is the formula's with mu_I. Here N = 1000, f = 0.8, p = 0.5,
 * cv = 0.5, mu_E = 1 / sqrt(N), mu_I = 4 mu_E.
 * A finite matrix's radius exceeds the N -> infinity edge: over seeds 1..10 of this recipe the
 * ratio measured 1.006 .. 1.059 (mean 1.03; Ginibre's edge alone is ~1.7 % out at N = 1000).
 * The seed below is fixed (the first one tried, 2006): ratio 1.042.
 */
static void test_rajan_abbott(void **st)
{
    (void)st;
    const int ne = 800, ni = 200, n = ne + ni;
    const double f = (double)ne / n, p = 0.5, cv = 0.5;
    const double mu_e = 1.0 / sqrt((double)n), mu_i = mu_e * ne / ni;
    const double var_e = p * mu_e * mu_e * (1 + cv * cv - p);
    const double var_i = p * mu_i * mu_i * (1 + cv * cv - p);
    const double predicted = sqrt(n * (f * var_e + (1 - f) * var_i));

    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 2006;
    for (int b = 0; b < 4; b++)
        g.p[b] = p;
    g.dist = EIR_DIST_LOGNORMAL;
    g.cv = cv;
    g.mean[EIR_BLOCK_EE] = g.mean[EIR_BLOCK_IE] = mu_e;
    g.mean[EIR_BLOCK_EI] = g.mean[EIR_BLOCK_II] = mu_i;
    g.balance = 1;
    g.self_connections = 1;
    double *W = malloc((size_t)n * n * sizeof *W);
    double *Wm = malloc((size_t)n * n * sizeof *Wm);
    double *vals = malloc(2 * (size_t)n * sizeof *vals);
    assert_non_null(W);
    assert_non_null(Wm);
    assert_non_null(vals);
    eir_error err;
    eir_status s = eir_generate_recurrent(&g, ne, ni, EIR_FORM_REDUCED, 0, 0, W, &err);
    ET_CHECK(s == EIR_OK, "%s", err.message);
    eig_ok(W, n, vals, NULL);
    eir_eig_summary sum;
    eir_eig_summarise(vals, n, &sum);
    print_message("Rajan-Abbott: radius %.6f, predicted %.6f (ratio %.4f)\n", sum.radius, predicted,
                  sum.radius / predicted);
    ET_CHECK(fabs(sum.radius / predicted - 1.0) <= 0.05, "radius %.6g, predicted %.6g", sum.radius,
             predicted);

    /* the spectral_radius recipe: rho of the built W (read back from the model) */
    g.spectral_radius = predicted;
    s = eir_generate_recurrent(&g, ne, ni, EIR_FORM_REDUCED, 0, 0, W, &err);
    ET_CHECK(s == EIR_OK, "%s", err.message);
    const double leak = 1.0;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_DALE, EIR_ACT_RELU, ne, ni, W, &leak, 1);
    eir_model *m = et_build(&d);
    assert_int_equal(eir_model_matrix_rows(m, EIR_MAT_W, 0, n, Wm, &err), EIR_OK);
    eig_ok(Wm, n, vals, NULL);
    eir_eig_summarise(vals, n, &sum);
    ET_CHECK(fabs(sum.radius / predicted - 1.0) <= 1e-9, "recipe radius %.17g, requested %.17g",
             sum.radius, predicted);
    eir_model_free(m);
    free(W);
    free(Wm);
    free(vals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diagonal),         cmocka_unit_test(test_rotation_blocks),
        cmocka_unit_test(test_numpy_layout),     cmocka_unit_test(test_companion),
        cmocka_unit_test(test_random_residuals), cmocka_unit_test(test_sort_and_summary),
        cmocka_unit_test(test_rejects),          cmocka_unit_test(test_rajan_abbott),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
