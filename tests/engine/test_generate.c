/**
 * @file test_generate.c
 * @brief Generated connectivity (eir_generate_recurrent, eir_generate_input) and
 *        eir_spectral_radius.
 *
 * Statistical checks use fixed seeds, so every run is deterministic. The bounds are 5 standard
 * errors: a correct generator would fail a single such check for a random seed with
 * probability about 6e-7 (normal approximation; the smallest expected counts here are in the
 * thousands, so the approximation is good), so a failure points at a real bias.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eir.h"

/** Fail unless |a - b| <= rel * |b| (with rel * |b| floored at 1e-300). */
#define assert_rel_close(a, b, rel)                                                                \
    do {                                                                                           \
        double a_ = (a), b_ = (b), tol_ = (rel)*fabs(b_);                                          \
        if (tol_ < 1e-300) tol_ = 1e-300;                                                          \
        if (!(fabs(a_ - b_) <= tol_)) {                                                            \
            print_error("%s = %.17g, expected %.17g (relative tolerance %g)\n", #a, a_, b_,        \
                        (double)(rel));                                                            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/** Fail unless |a - b| <= tol. */
#define assert_abs_close(a, b, tol)                                                                \
    do {                                                                                           \
        double a_ = (a), b_ = (b), t_ = (tol);                                                     \
        if (!(fabs(a_ - b_) <= t_)) {                                                              \
            print_error("%s = %.17g, expected %.17g +- %g\n", #a, a_, b_, t_);                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/** Generate a recurrent matrix; the test fails if generation fails. Caller frees. */
static double *gen_rec(const eir_gen_spec *g, int n_e, int n_i, eir_form form, double ee, double ei)
{
    int n = n_e + n_i;
    double *w = malloc((size_t)n * (size_t)n * sizeof *w + 1);
    assert_non_null(w);
    eir_error err;
    memset(&err, 0, sizeof err);
    eir_status st = eir_generate_recurrent(g, n_e, n_i, form, ee, ei, w, &err);
    if (st != EIR_OK) {
        print_error("generate failed: [%s] %s\n", err.field, err.message);
        fail();
    }
    return w;
}

/** Generate an input matrix; the test fails if generation fails. Caller frees. */
static double *gen_in(const eir_gen_spec *g, int n_e, int n_i, int n_in)
{
    int n = n_e + n_i;
    double *p = malloc((size_t)n * (size_t)n_in * sizeof *p + 1);
    assert_non_null(p);
    eir_error err;
    memset(&err, 0, sizeof err);
    eir_status st = eir_generate_input(g, n_e, n_i, n_in, p, &err);
    if (st != EIR_OK) {
        print_error("generate input failed: [%s] %s\n", err.field, err.message);
        fail();
    }
    return p;
}

/** Spectral radius; the test fails if the computation fails. */
static double radius_of(const double *a, int n)
{
    double r = -1.0;
    eir_error err;
    memset(&err, 0, sizeof err);
    eir_status st = eir_spectral_radius(a, n, &r, &err);
    if (st != EIR_OK) {
        print_error("spectral radius failed: %s\n", err.message);
        fail();
    }
    return r;
}

/** Block of entry (i, j) in an n_e-split matrix (EIR_BLOCK_*). */
static int block_of(int i, int j, int n_e)
{
    return (i < n_e ? 0 : 2) + (j < n_e ? 0 : 1);
}

/* ---------------------------------------------------------------------------------------- */

static void test_spec_defaults(void **state)
{
    (void)state;
    eir_gen_spec g;
    memset(&g, 0xab, sizeof g);
    eir_gen_spec_init(&g);
    assert_int_equal(g.seed, 0);
    for (int b = 0; b < 4; b++) {
        assert_true(g.p[b] == 1.0);
        assert_true(g.mean[b] == 1.0);
    }
    assert_int_equal(g.dist, EIR_DIST_LOGNORMAL);
    assert_true(g.cv == 1.0);
    assert_int_equal(g.balance, 0);
    assert_true(g.spectral_radius <= 0.0);
    assert_int_equal(g.self_connections, 0);
}

/**
 * Density per block. Each off-diagonal entry of block b is connected independently with
 * probability p_b, so the count is Binomial(n_b, p_b); it must be within 5 sigma of n_b p_b.
 */
static void test_density_per_block(void **state)
{
    (void)state;
    const int n_e = 300, n_i = 100, n = n_e + n_i;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 12345;
    g.p[EIR_BLOCK_EE] = 0.1;
    g.p[EIR_BLOCK_EI] = 0.3;
    g.p[EIR_BLOCK_IE] = 0.5;
    g.p[EIR_BLOCK_II] = 0.8;
    double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    double cells[4] = {0}, nz[4] = {0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            int b = block_of(i, j, n_e);
            cells[b] += 1;
            nz[b] += w[(size_t)i * n + j] != 0.0;
        }
    for (int b = 0; b < 4; b++) {
        double mu = cells[b] * g.p[b], sd = sqrt(cells[b] * g.p[b] * (1 - g.p[b]));
        assert_abs_close(nz[b], mu, 5 * sd);
    }
    free(w);

    /* Input matrix: E rows with p[0], I rows with p[1]. */
    const int n_in = 60;
    eir_gen_spec_init(&g);
    g.seed = 99;
    g.p[0] = 0.2;
    g.p[1] = 0.7;
    double *p = gen_in(&g, n_e, n_i, n_in);
    double c2[2] = {0}, nz2[2] = {0};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < n_in; c++) {
            double v = p[(size_t)i * n_in + c];
            assert_true(v >= 0.0);
            c2[i >= n_e] += 1;
            nz2[i >= n_e] += v != 0.0;
        }
    for (int b = 0; b < 2; b++) {
        double mu = c2[b] * g.p[b], sd = sqrt(c2[b] * g.p[b] * (1 - g.p[b]));
        assert_abs_close(nz2[b], mu, 5 * sd);
    }
    free(p);
}

/** Reduced form: E columns >= 0, I columns <= 0, no -0.0, zero diagonal; p = 1 fills. */
static void test_signs_and_diagonal(void **state)
{
    (void)state;
    const int n_e = 40, n_i = 15, n = n_e + n_i;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 7;
    g.p[EIR_BLOCK_EE] = 0.5;
    for (int d = 0; d < 4; d++) {
        g.dist = (eir_dist)d;
        double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double v = w[(size_t)i * n + j];
                if (i == j) {
                    assert_true(v == 0.0 && !signbit(v));
                    continue;
                }
                if (v == 0.0) assert_false(signbit(v)); /* zeros are +0.0 */
                if (j < n_e)
                    assert_true(v >= 0.0);
                else
                    assert_true(v < 0.0); /* p = 1 outside EE: every entry connected */
            }
        free(w);
    }

    /* Self connections allowed: with p = 1 every diagonal entry is nonzero. */
    g.dist = EIR_DIST_LOGNORMAL;
    g.p[EIR_BLOCK_EE] = 1.0;
    g.self_connections = 1;
    double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    for (int i = 0; i < n; i++)
        assert_true(i < n_e ? w[(size_t)i * n + i] > 0 : w[(size_t)i * n + i] < 0);
    free(w);
}

/** Reduced balance: zero row sums; E entries untouched; I entries scaled by one factor. */
static void test_balance_reduced(void **state)
{
    (void)state;
    const int n_e = 80, n_i = 20, n = n_e + n_i;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 2024;
    g.p[EIR_BLOCK_EE] = 0.3;
    g.p[EIR_BLOCK_EI] = 0.6;
    g.p[EIR_BLOCK_IE] = 0.4;
    g.p[EIR_BLOCK_II] = 0.7;
    g.dist = EIR_DIST_GAMMA;
    g.cv = 0.5;
    double *raw = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    g.balance = 1;
    double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    for (int i = 0; i < n; i++) {
        double sum = 0, abs_sum = 0, f = NAN;
        for (int j = 0; j < n; j++) {
            double v = w[(size_t)i * n + j], r = raw[(size_t)i * n + j];
            sum += v;
            abs_sum += fabs(v);
            if (j < n_e) {
                assert_true(v == r);
            } else if (r != 0.0) {
                if (isnan(f)) f = v / r;
                assert_rel_close(v / r, f, 1e-14);
            } else {
                assert_true(v == 0.0);
            }
        }
        assert_true(abs_sum > 0);
        assert_abs_close(sum, 0.0, 1e-12 * abs_sum);
    }
    free(raw);
    free(w);
}

/** Conductance balance: K >= 0 and sum_j K_ij E_type(j) = 0 per row. */
static void test_balance_conductance(void **state)
{
    (void)state;
    const int n_e = 60, n_i = 20, n = n_e + n_i;
    const double ee = 2.5, ei = -0.4;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 5;
    g.p[EIR_BLOCK_EE] = 0.2;
    g.p[EIR_BLOCK_EI] = 0.5;
    g.p[EIR_BLOCK_IE] = 0.5;
    g.p[EIR_BLOCK_II] = 0.5;
    g.balance = 1;
    double *k = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, ee, ei);
    for (int i = 0; i < n; i++) {
        double sum = 0, abs_sum = 0;
        for (int j = 0; j < n; j++) {
            double v = k[(size_t)i * n + j];
            assert_true(v >= 0.0 && !signbit(v));
            double wij = v * (j < n_e ? ee : ei);
            sum += wij;
            abs_sum += fabs(wij);
        }
        assert_true(abs_sum > 0);
        assert_abs_close(sum, 0.0, 1e-12 * abs_sum);
    }
    free(k);
}

/** A row with neither E nor I input stays zero under balance. */
static void test_balance_empty_rows_ok(void **state)
{
    (void)state;
    const int n_e = 10, n_i = 10, n = n_e + n_i;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 3;
    g.p[EIR_BLOCK_EE] = 0.0;
    g.p[EIR_BLOCK_EI] = 0.0;
    g.balance = 1;
    double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    for (int i = 0; i < n_e; i++)
        for (int j = 0; j < n; j++)
            assert_true(w[(size_t)i * n + j] == 0.0);
    free(w);
}

/** Reduced form rescaled to a target radius, with and without balance (which is kept). */
static void test_spectral_reduced(void **state)
{
    (void)state;
    const int n_e = 120, n_i = 40, n = n_e + n_i;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 77;
    g.p[EIR_BLOCK_EE] = 0.2;
    g.p[EIR_BLOCK_EI] = 0.4;
    g.p[EIR_BLOCK_IE] = 0.3;
    g.p[EIR_BLOCK_II] = 0.4;
    g.spectral_radius = 1.5;
    double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    assert_rel_close(radius_of(w, n), 1.5, 1e-9);
    free(w);

    g.balance = 1;
    g.spectral_radius = 0.9;
    w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    assert_rel_close(radius_of(w, n), 0.9, 1e-9);
    for (int i = 0; i < n; i++) {
        double sum = 0, abs_sum = 0;
        for (int j = 0; j < n; j++) {
            sum += w[(size_t)i * n + j];
            abs_sum += fabs(w[(size_t)i * n + j]);
        }
        assert_abs_close(sum, 0.0, 1e-12 * abs_sum);
    }
    free(w);
}

/** Conductance form: K >= 0 and W = K E_type(j) has the target radius. */
static void test_spectral_conductance(void **state)
{
    (void)state;
    const int n_e = 100, n_i = 25, n = n_e + n_i;
    const double ee = 1.0, ei = -0.25;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 31337;
    g.p[EIR_BLOCK_EE] = 0.1;
    g.p[EIR_BLOCK_EI] = 0.5;
    g.p[EIR_BLOCK_IE] = 0.3;
    g.p[EIR_BLOCK_II] = 0.5;
    g.dist = EIR_DIST_HALFNORMAL;
    g.spectral_radius = 2.0;
    double *k = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, ee, ei);
    double *w = malloc((size_t)n * n * sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = k[(size_t)i * n + j];
            assert_true(v >= 0.0);
            w[(size_t)i * n + j] = v * (j < n_e ? ee : ei);
        }
    assert_rel_close(radius_of(w, n), 2.0, 1e-9);
    free(w);

    /* E_I = 0 (shunting inhibition) is valid without balance: W's I columns are 0. */
    g.spectral_radius = 0.5;
    double *k0 = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, ee, 0.0);
    w = malloc((size_t)n * n * sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            w[(size_t)i * n + j] = j < n_e ? k0[(size_t)i * n + j] * ee : 0.0;
    assert_rel_close(radius_of(w, n), 0.5, 1e-9);
    free(w);
    free(k0);
    free(k);
}

/** Same spec and seed: identical bytes; another seed: different bytes; streams differ. */
static void test_determinism(void **state)
{
    (void)state;
    const int n_e = 50, n_i = 20, n = n_e + n_i, n_in = 5;
    size_t bytes = (size_t)n * n * sizeof(double);
    for (int d = 0; d < 3; d++) {
        eir_gen_spec g;
        eir_gen_spec_init(&g);
        g.seed = 0xDEADBEEFCAFEULL;
        g.p[EIR_BLOCK_EE] = 0.3;
        g.dist = (eir_dist)d; /* lognormal, gamma, halfnormal */
        g.cv = 1.5;
        g.balance = 1;
        g.spectral_radius = 1.1;
        double *a = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
        double *b = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
        assert_memory_equal(a, b, bytes);
        double *ka = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, 1.0, -0.5);
        double *kb = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, 1.0, -0.5);
        assert_memory_equal(ka, kb, bytes);
        double *pa = gen_in(&g, n_e, n_i, n_in);
        double *pb = gen_in(&g, n_e, n_i, n_in);
        assert_memory_equal(pa, pb, (size_t)n * n_in * sizeof(double));

        g.seed += 1;
        double *c = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
        assert_memory_not_equal(a, c, bytes);
        double *kc = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, 1.0, -0.5);
        assert_memory_not_equal(ka, kc, bytes);
        double *pc = gen_in(&g, n_e, n_i, n_in);
        assert_memory_not_equal(pa, pc, (size_t)n * n_in * sizeof(double));
        free(a);
        free(b);
        free(c);
        free(ka);
        free(kb);
        free(kc);
        free(pa);
        free(pb);
        free(pc);
    }
}

/**
 * Every entry has its own counters: raising p only adds connections (existing weights keep
 * their values), and a larger population keeps the entries of the smaller one it shares.
 */
static void test_entries_independent(void **state)
{
    (void)state;
    const int n_e = 30, n_i = 10, n = n_e + n_i;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 11;
    g.dist = EIR_DIST_GAMMA;
    g.cv = 2.0;
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.3;
    double *lo = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.6;
    double *hi = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    size_t more = 0;
    for (size_t k = 0; k < (size_t)n * n; k++) {
        if (lo[k] != 0.0)
            assert_true(hi[k] == lo[k]);
        else
            more += hi[k] != 0.0;
    }
    assert_true(more > 0);

    /* All-E matrices of sizes 40 and 41 agree on the shared 40 x 40 corner. */
    double *small = gen_rec(&g, n, 0, EIR_FORM_REDUCED, 0, 0);
    double *big = gen_rec(&g, n + 1, 0, EIR_FORM_REDUCED, 0, 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            assert_true(small[(size_t)i * n + j] == big[(size_t)i * (n + 1) + j]);
    free(lo);
    free(hi);
    free(small);
    free(big);
}

/**
 * Sample mean and variance of the nonzero magnitudes must match mean m and cv. The sample
 * mean has standard error m cv / sqrt(n); the sample variance has standard error
 * s^2 sqrt((kurt_excess + 2) / n). Both checks use 5 standard errors.
 */
static void check_moments(eir_dist dist, double cv, double m, double kurt_excess, double want_cv)
{
    const int n = 400; /* all E, self connections on, p = 1: 160000 samples */
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 424242;
    g.dist = dist;
    g.cv = cv;
    g.self_connections = 1;
    for (int b = 0; b < 4; b++)
        g.mean[b] = m;
    double *w = gen_rec(&g, n, 0, EIR_FORM_REDUCED, 0, 0);
    double count = (double)n * n, s = 0, s2 = 0;
    for (size_t k = 0; k < (size_t)n * n; k++) {
        assert_true(w[k] >= 0.0 && isfinite(w[k]));
        s += w[k];
    }
    double mean = s / count;
    for (size_t k = 0; k < (size_t)n * n; k++)
        s2 += (w[k] - mean) * (w[k] - mean);
    double var = s2 / (count - 1);
    double want_var = (m * want_cv) * (m * want_cv);
    if (want_cv == 0.0) {
        for (size_t k = 0; k < (size_t)n * n; k++)
            assert_true(w[k] == m);
    } else {
        assert_abs_close(mean, m, 5 * m * want_cv / sqrt(count));
        assert_abs_close(var, want_var, 5 * want_var * sqrt((kurt_excess + 2) / count));
    }
    free(w);
}

/** Lognormal with cv 0.5 and 1: excess kurtosis w^4 + 2w^3 + 3w^2 - 6 with w = 1 + cv^2. */
static void test_dist_lognormal(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        double cv = k == 0 ? 0.5 : 1.0, w = 1 + cv * cv;
        check_moments(EIR_DIST_LOGNORMAL, cv, 0.7, w * w * w * w + 2 * w * w * w + 3 * w * w - 6,
                      cv);
    }
}

/** Gamma with cv 0.5 (shape 4) and cv 2 (shape 1/4, the boosted branch): excess 6 cv^2. */
static void test_dist_gamma(void **state)
{
    (void)state;
    check_moments(EIR_DIST_GAMMA, 0.5, 0.7, 6 * 0.25, 0.5);
    check_moments(EIR_DIST_GAMMA, 2.0, 0.7, 6 * 4.0, 2.0);
}

/** Half-normal: cv sqrt(pi/2 - 1) whatever cv says; excess kurtosis 8(pi-3)/(pi-2)^2. */
static void test_dist_halfnormal(void **state)
{
    (void)state;
    double pi = 3.14159265358979323846;
    check_moments(EIR_DIST_HALFNORMAL, 123.0, 0.7, 8 * (pi - 3) / ((pi - 2) * (pi - 2)),
                  sqrt(pi / 2 - 1));
}

/** Constant: every nonzero weight is the mean exactly. */
static void test_dist_constant(void **state)
{
    (void)state;
    check_moments(EIR_DIST_CONSTANT, 1.0, 0.7, 0.0, 0.0);
}

/** p = 0 gives an all-zero matrix (every byte 0); mean = 0 zeroes its block. */
static void test_zero_matrices(void **state)
{
    (void)state;
    const int n_e = 20, n_i = 8, n = n_e + n_i, n_in = 4;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 1;
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.0;
    double *zero = calloc((size_t)n * n, sizeof *zero);
    assert_non_null(zero);
    double *w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    assert_memory_equal(w, zero, (size_t)n * n * sizeof *w);
    free(w);
    double *k = gen_rec(&g, n_e, n_i, EIR_FORM_CONDUCTANCE, 1, -1);
    assert_memory_equal(k, zero, (size_t)n * n * sizeof *k);
    free(k);
    double *p = gen_in(&g, n_e, n_i, n_in);
    assert_memory_equal(p, zero, (size_t)n * n_in * sizeof *p);
    free(p);

    eir_gen_spec_init(&g);
    g.mean[EIR_BLOCK_EI] = 0.0;
    w = gen_rec(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = w[(size_t)i * n + j];
            if (i < n_e && j >= n_e)
                assert_true(v == 0.0 && !signbit(v));
            else if (i != j)
                assert_true(v != 0.0);
        }
    free(w);
    free(zero);
}

/* ---------------------------------------------------------------------------------------- */
/* Error paths                                                                              */
/* ---------------------------------------------------------------------------------------- */

/** Expect eir_generate_recurrent to fail with @p st, @p field and a message containing @p sub. */
static void expect_rec_error(const eir_gen_spec *g, int n_e, int n_i, eir_form form, double ee,
                             double ei, eir_status st, const char *field, const char *sub)
{
    int n = n_e + n_i > 0 ? n_e + n_i : 1;
    double *w = malloc((size_t)n * n * sizeof *w);
    assert_non_null(w);
    eir_error err;
    memset(&err, 0, sizeof err);
    eir_status got = eir_generate_recurrent(g, n_e, n_i, form, ee, ei, w, &err);
    if (got != st || strcmp(err.field, field) != 0 ||
        (sub != NULL && strstr(err.message, sub) == NULL)) {
        print_error("got status %d field '%s' message '%s'; expected status %d field '%s' "
                    "containing '%s'\n",
                    (int)got, err.field, err.message, (int)st, field, sub ? sub : "");
        fail();
    }
    assert_true(err.message[0] != '\0');
    free(w);
}

/** Expect eir_generate_input to fail with EIR_EINVAL and @p field. */
static void expect_in_error(const eir_gen_spec *g, int n_e, int n_i, int n_in, const char *field)
{
    double w[64];
    eir_error err;
    memset(&err, 0, sizeof err);
    eir_status got = eir_generate_input(g, n_e, n_i, n_in, w, &err);
    if (got != EIR_EINVAL || strcmp(err.field, field) != 0) {
        print_error("got status %d field '%s' message '%s'; expected EINVAL at '%s'\n", (int)got,
                    err.field, err.message, field);
        fail();
    }
    assert_true(err.message[0] != '\0');
}

/** Each bad recurrent recipe with the field its error names: a flat list of cases, hence its
 *  length. */
static void test_errors_recurrent(void **state)
{
    (void)state;
    static const char *const names[4] = {"EE", "EI", "IE", "II"};
    const double bad_p[3] = {-0.1, 1.5, NAN};
    const double bad_mean[3] = {-1.0, INFINITY, NAN};
    eir_gen_spec g;
    char field[32];
    for (int b = 0; b < 4; b++) {
        for (int k = 0; k < 3; k++) {
            eir_gen_spec_init(&g);
            g.p[b] = bad_p[k];
            snprintf(field, sizeof field, "/p/%s", names[b]);
            expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, field, names[b]);
            eir_gen_spec_init(&g);
            g.mean[b] = bad_mean[k];
            snprintf(field, sizeof field, "/mean/%s", names[b]);
            expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, field, names[b]);
        }
    }
    /* cv: needed by lognormal and gamma, ignored by halfnormal and constant. */
    const double bad_cv[4] = {0.0, -1.0, NAN, INFINITY};
    for (int k = 0; k < 4; k++) {
        eir_gen_spec_init(&g);
        g.cv = bad_cv[k];
        expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/cv", "lognormal");
        g.dist = EIR_DIST_GAMMA;
        expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/cv", "gamma");
        g.dist = EIR_DIST_HALFNORMAL;
        free(gen_rec(&g, 4, 4, EIR_FORM_REDUCED, 0, 0));
        g.dist = EIR_DIST_CONSTANT;
        free(gen_rec(&g, 4, 4, EIR_FORM_REDUCED, 0, 0));
    }
    eir_gen_spec_init(&g);
    g.dist = (eir_dist)99;
    expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/dist", "distribution");

    /* spectral_radius: NaN and +inf rejected; <= 0 (including -inf) means none. */
    eir_gen_spec_init(&g);
    g.spectral_radius = NAN;
    expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/spectral_radius", NULL);
    g.spectral_radius = INFINITY;
    expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/spectral_radius", NULL);
    g.spectral_radius = -INFINITY;
    free(gen_rec(&g, 4, 4, EIR_FORM_REDUCED, 0, 0));

    /* A target radius for a matrix whose radius is 0. */
    eir_gen_spec_init(&g);
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.0;
    g.spectral_radius = 1.0;
    expect_rec_error(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/spectral_radius", "radius 0");
    expect_rec_error(&g, 4, 4, EIR_FORM_CONDUCTANCE, 1, -1, EIR_EINVAL, "/spectral_radius",
                     "radius 0");
    /* ... also when only the I columns are nonzero but E_I = 0 makes W zero. */
    eir_gen_spec_init(&g);
    g.p[EIR_BLOCK_EE] = 0.0;
    g.p[EIR_BLOCK_IE] = 0.0;
    g.spectral_radius = 1.0;
    expect_rec_error(&g, 4, 4, EIR_FORM_CONDUCTANCE, 1, 0.0, EIR_EINVAL, "/spectral_radius",
                     "radius 0");

    /* Balance with E_I = 0 is impossible. */
    eir_gen_spec_init(&g);
    g.balance = 1;
    expect_rec_error(&g, 4, 4, EIR_FORM_CONDUCTANCE, 1, 0.0, EIR_EINVAL, "/balance", "E_I = 0");
    /* A row with E input but no I input, and one with I input but no E input. */
    eir_gen_spec_init(&g);
    g.balance = 1;
    g.p[EIR_BLOCK_EI] = 0.0;
    expect_rec_error(&g, 10, 10, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/balance", "row 0 ");
    expect_rec_error(&g, 10, 10, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/balance", "disable balance");
    eir_gen_spec_init(&g);
    g.balance = 1;
    g.p[EIR_BLOCK_IE] = 0.0;
    expect_rec_error(&g, 10, 10, EIR_FORM_CONDUCTANCE, 1, -1, EIR_EINVAL, "/balance", "row 10 ");
    expect_rec_error(&g, 10, 10, EIR_FORM_CONDUCTANCE, 1, -1, EIR_EINVAL, "/balance",
                     "no excitatory input");
    /* mean = 0 on a block counts as no input of that type. */
    eir_gen_spec_init(&g);
    g.balance = 1;
    g.mean[EIR_BLOCK_II] = 0.0;
    expect_rec_error(&g, 10, 10, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/balance", "row 10 ");

    /* Weights that overflow. */
    eir_gen_spec_init(&g);
    g.mean[EIR_BLOCK_EE] = 1e308;
    g.cv = 3.0;
    expect_rec_error(&g, 10, 10, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "/mean/EE", "infinity");

    /* Arguments outside the generate object: field "". */
    eir_gen_spec_init(&g);
    expect_rec_error(&g, -1, 4, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "", NULL);
    expect_rec_error(&g, 4, -1, EIR_FORM_REDUCED, 0, 0, EIR_EINVAL, "", NULL);
    expect_rec_error(&g, 4, 4, (eir_form)7, 0, 0, EIR_EINVAL, "", "form");
    expect_rec_error(&g, 4, 4, EIR_FORM_CONDUCTANCE, 0.0, -1, EIR_EINVAL, "", "E_E");
    expect_rec_error(&g, 4, 4, EIR_FORM_CONDUCTANCE, 1.0, 0.5, EIR_EINVAL, "", "E_I");
    expect_rec_error(&g, 4, 4, EIR_FORM_CONDUCTANCE, NAN, -1, EIR_EINVAL, "", NULL);
    eir_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(eir_generate_recurrent(&g, 4, 4, EIR_FORM_REDUCED, 0, 0, NULL, &err),
                     EIR_EINVAL);
    assert_int_equal(eir_generate_recurrent(NULL, 4, 4, EIR_FORM_REDUCED, 0, 0, NULL, NULL),
                     EIR_EINVAL);
}

static void test_errors_input(void **state)
{
    (void)state;
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.p[0] = -0.5;
    expect_in_error(&g, 3, 2, 4, "/p/E");
    eir_gen_spec_init(&g);
    g.p[1] = 2.0;
    expect_in_error(&g, 3, 2, 4, "/p/I");
    eir_gen_spec_init(&g);
    g.mean[0] = -1.0;
    expect_in_error(&g, 3, 2, 4, "/mean/E");
    eir_gen_spec_init(&g);
    g.mean[1] = NAN;
    expect_in_error(&g, 3, 2, 4, "/mean/I");
    eir_gen_spec_init(&g);
    g.cv = 0.0;
    expect_in_error(&g, 3, 2, 4, "/cv");
    eir_gen_spec_init(&g);
    g.dist = (eir_dist)-1;
    expect_in_error(&g, 3, 2, 4, "/dist");
    eir_gen_spec_init(&g);
    expect_in_error(&g, 3, 2, -1, "");
    expect_in_error(&g, -3, 2, 4, "");
    /* Blocks 2 and 3 are not used by the input generator: their values do not matter. */
    g.p[2] = -5;
    g.mean[3] = NAN;
    free(gen_in(&g, 3, 2, 4));
    /* n_in = 0 is a valid empty matrix. */
    eir_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(eir_generate_input(&g, 3, 2, 0, NULL, &err), EIR_OK);
}

/* ---------------------------------------------------------------------------------------- */
/* Spectral radius                                                                          */
/* ---------------------------------------------------------------------------------------- */

static void test_spectral_radius_known(void **state)
{
    (void)state;
    /* Diagonal: radius = max |d_i|. */
    double diag[16] = {0};
    diag[0] = 1.0;
    diag[5] = -3.0;
    diag[10] = 2.0;
    diag[15] = 0.5;
    assert_rel_close(radius_of(diag, 4), 3.0, 1e-12);

    /* 2 x rotation by 0.7 rad: eigenvalues 2 e^{+-0.7i}, radius 2. */
    double c = 2 * cos(0.7), s = 2 * sin(0.7);
    double rot[4] = {c, -s, s, c};
    assert_rel_close(radius_of(rot, 2), 2.0, 1e-12);
    double quarter[4] = {0, -2, 2, 0};
    assert_rel_close(radius_of(quarter, 2), 2.0, 1e-12);

    /* Upper triangular: eigenvalues are the diagonal (0.5, -4, 1, 2) whatever lies above. */
    double tri[16] = {0.5, 7, -3, 10, 0, -4, 9, 2, 0, 0, 1, -6, 0, 0, 0, 2};
    assert_rel_close(radius_of(tri, 4), 4.0, 1e-12);
    /* Its transpose (lower triangular) has the same eigenvalues. */
    double low[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            low[i * 4 + j] = tri[j * 4 + i];
    assert_rel_close(radius_of(low, 4), 4.0, 1e-12);

    /* Companion matrix of (x - 1)(x + 2)(x - 3) = x^3 - 2x^2 - 5x + 6: radius 3. */
    double comp[9] = {2, 5, -6, 1, 0, 0, 0, 1, 0};
    assert_rel_close(radius_of(comp, 3), 3.0, 1e-12);

    /* 1 x 1 and empty. */
    double one = -7.0;
    assert_rel_close(radius_of(&one, 1), 7.0, 1e-15);
    assert_true(radius_of(NULL, 0) == 0.0);
    double zeros[9] = {0};
    assert_true(radius_of(zeros, 3) == 0.0);

    /* The input is not modified. */
    double keep[16];
    memcpy(keep, tri, sizeof tri);
    radius_of(tri, 4);
    assert_memory_equal(keep, tri, sizeof tri);
}

static void test_spectral_radius_errors(void **state)
{
    (void)state;
    double r = 0;
    eir_error err;
    memset(&err, 0, sizeof err);
    double bad[4] = {1, NAN, 0, 1};
    assert_int_equal(eir_spectral_radius(bad, 2, &r, &err), EIR_EINVAL);
    assert_true(isnan(r));
    bad[1] = INFINITY;
    assert_int_equal(eir_spectral_radius(bad, 2, &r, &err), EIR_EINVAL);
    assert_int_equal(eir_spectral_radius(bad, -1, &r, &err), EIR_EINVAL);
    assert_int_equal(eir_spectral_radius(NULL, 2, &r, &err), EIR_EINVAL);
    assert_int_equal(eir_spectral_radius(bad, 2, NULL, NULL), EIR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_density_per_block),
        cmocka_unit_test(test_signs_and_diagonal),
        cmocka_unit_test(test_balance_reduced),
        cmocka_unit_test(test_balance_conductance),
        cmocka_unit_test(test_balance_empty_rows_ok),
        cmocka_unit_test(test_spectral_reduced),
        cmocka_unit_test(test_spectral_conductance),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_entries_independent),
        cmocka_unit_test(test_dist_lognormal),
        cmocka_unit_test(test_dist_gamma),
        cmocka_unit_test(test_dist_halfnormal),
        cmocka_unit_test(test_dist_constant),
        cmocka_unit_test(test_zero_matrices),
        cmocka_unit_test(test_errors_recurrent),
        cmocka_unit_test(test_errors_input),
        cmocka_unit_test(test_spectral_radius_known),
        cmocka_unit_test(test_spectral_radius_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
