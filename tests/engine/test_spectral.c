/**
 * @file test_spectral.c
 * @brief eir_spectral_radius_ex: Arnoldi (ARPACK) against dgeev on random matrices of N = 300
 *        and 1000 (a random disc, a dominant complex-conjugate pair, a dominant negative real
 *        eigenvalue, the demo's recipe, the Rajan-Abbott balanced case), the fallback to dgeev
 *        where Arnoldi struggles (a cyclic permutation: every eigenvalue of modulus 1; a small
 *        block: an invariant Krylov space; the zero matrix), the size threshold, determinism
 *        (repeated calls, concurrent callers), and generation with spectral_radius.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"

/* xorshift64* and Box-Muller: a test's own reproducible matrices. */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * UINT64_C(2685821657736338717)) >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(uint64_t *s)
{
    double u = uniform(s) + 1e-300, v = uniform(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* n x n, entries N(0, scale^2 / n): eigenvalues fill a disc of radius about scale (the hard
 * case for Arnoldi: no eigenvalue stands out of the disc). */
static double *random_disc(int n, double scale, uint64_t seed)
{
    double *a = malloc((size_t)n * (size_t)n * sizeof *a);
    assert_non_null(a);
    uint64_t s = seed;
    for (size_t k = 0; k < (size_t)n * (size_t)n; k++)
        a[k] = scale * gauss(&s) / sqrt((double)n);
    return a;
}

/* Rajan & Abbott (2006): 80 % E columns of mean +mu_E, 20 % I columns of mean -mu_I, random
 * parts N(0, 1/n), and each row's sum removed (the balance that takes away the outlier). */
static double *rajan_abbott(int n, uint64_t seed)
{
    double *a = malloc((size_t)n * (size_t)n * sizeof *a);
    assert_non_null(a);
    uint64_t s = seed;
    int n_e = (int)(0.8 * n);
    double mu_e = 1.0 / sqrt((double)n), mu_i = 4.0 / sqrt((double)n);
    for (int i = 0; i < n; i++) {
        double *row = a + (size_t)i * (size_t)n, sum = 0.0;
        for (int j = 0; j < n; j++) {
            row[j] = (j < n_e ? mu_e : -mu_i) + gauss(&s) / sqrt((double)n);
            sum += row[j];
        }
        for (int j = 0; j < n; j++)
            row[j] -= sum / n;
    }
    return a;
}

/* AUTO must use Arnoldi (N >= EIR_RADIUS_ARNOLDI_MIN_N) and agree with dgeev to 1e-9. */
static double expect_agree(const double *a, int n, const char *what)
{
    double r_auto = NAN, r_dense = NAN;
    eir_radius_info info;
    eir_error err;
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, &r_auto, &info, &err), EIR_OK);
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_DENSE, &r_dense, NULL, &err), EIR_OK);
    double rel = fabs(r_auto - r_dense) / r_dense;
    if (info.used != EIR_RADIUS_ARNOLDI || !info.arnoldi_ok || !(rel <= 1e-9)) {
        print_error("%s, N = %d: Arnoldi %.17g (used %d, note \"%s\", %d products), dgeev %.17g, "
                    "relative difference %.2e\n",
                    what, n, r_auto, (int)info.used, info.arnoldi_note, info.matvecs, r_dense, rel);
        fail();
    }
    /* The public entry point is AUTO. */
    double r_plain = NAN;
    assert_int_equal(eir_spectral_radius(a, n, &r_plain, &err), EIR_OK);
    assert_memory_equal(&r_plain, &r_auto, sizeof r_auto);
    return r_dense;
}

static void test_random_disc(void **state)
{
    (void)state;
    const int sizes[] = {300, 1000};
    for (int k = 0; k < 2; k++) {
        double *a = random_disc(sizes[k], 1.0, 11 + (uint64_t)k);
        double r = expect_agree(a, sizes[k], "random disc");
        assert_true(r > 0.9 && r < 1.2);
        free(a);
    }
}

/* A 2 x 2 rotation block [[2, -3], [3, 2]] on top of a disc of radius 0.5: the eigenvalues
 * about 2 +- 3i dominate. */
static void test_complex_pair(void **state)
{
    (void)state;
    const int sizes[] = {300, 1000};
    for (int k = 0; k < 2; k++) {
        int n = sizes[k];
        double *a = random_disc(n, 0.5, 21 + (uint64_t)k);
        a[0] += 2.0;
        a[1] -= 3.0;
        a[n] += 3.0;
        a[n + 1] += 2.0;
        double r = expect_agree(a, n, "complex pair");
        assert_true(fabs(r - sqrt(13.0)) < 0.3);
        free(a);
    }
}

/* -4 on one diagonal entry: a dominant eigenvalue near -4. */
static void test_negative_real(void **state)
{
    (void)state;
    const int sizes[] = {300, 1000};
    for (int k = 0; k < 2; k++) {
        int n = sizes[k];
        double *a = random_disc(n, 0.5, 31 + (uint64_t)k);
        a[(size_t)5 * (size_t)n + 5] -= 4.0;
        double r = expect_agree(a, n, "negative real");
        assert_true(fabs(r - 4.0) < 0.3);
        free(a);
    }
}

static void test_rajan_abbott(void **state)
{
    (void)state;
    const int sizes[] = {300, 1000};
    for (int k = 0; k < 2; k++) {
        double *a = rajan_abbott(sizes[k], 41 + (uint64_t)k);
        expect_agree(a, sizes[k], "Rajan-Abbott balanced");
        free(a);
    }
}

/* The demo's recipe (README's tour), unbalanced and balanced. */
static void test_demo_recipe(void **state)
{
    (void)state;
    const int sizes[] = {300, 1000};
    for (int k = 0; k < 2; k++) {
        for (int balance = 0; balance < 2; balance++) {
            int n = sizes[k], n_e = (int)(0.8 * n);
            eir_gen_spec g;
            eir_gen_spec_init(&g);
            g.seed = 1;
            g.p[EIR_BLOCK_EE] = 0.1;
            g.p[EIR_BLOCK_EI] = g.p[EIR_BLOCK_IE] = g.p[EIR_BLOCK_II] = 0.4;
            g.cv = 0.5;
            g.mean[EIR_BLOCK_EE] = 0.0625;
            g.mean[EIR_BLOCK_EI] = 0.125;
            g.mean[EIR_BLOCK_IE] = 0.03125;
            g.mean[EIR_BLOCK_II] = 0.1;
            g.balance = balance;
            double *w = malloc((size_t)n * (size_t)n * sizeof *w);
            assert_non_null(w);
            eir_error err;
            assert_int_equal(
                eir_generate_recurrent(&g, n_e, n - n_e, EIR_FORM_REDUCED, 0, 0, w, &err), EIR_OK);
            expect_agree(w, n, balance ? "demo recipe, balanced" : "demo recipe");
            /* With the target: W's radius (by dgeev) is the target. */
            g.spectral_radius = 0.9;
            assert_int_equal(
                eir_generate_recurrent(&g, n_e, n - n_e, EIR_FORM_REDUCED, 0, 0, w, &err), EIR_OK);
            double r = NAN;
            assert_int_equal(eir_spectral_radius_ex(w, n, EIR_RADIUS_DENSE, &r, NULL, &err),
                             EIR_OK);
            assert_true(fabs(r - 0.9) < 1e-9);
            free(w);
        }
    }
}

/* A cyclic permutation: all N eigenvalues are roots of unity, none dominates, and Arnoldi does
 * not converge within its budget; AUTO falls back to dgeev, ARNOLDI alone fails saying so. */
static void test_fallback_no_convergence(void **state)
{
    (void)state;
    const int n = 300;
    double *a = calloc((size_t)n * (size_t)n, sizeof *a);
    assert_non_null(a);
    for (int i = 0; i < n; i++)
        a[(size_t)i * (size_t)n + (size_t)((i + 1) % n)] = 1.0;
    double r = NAN;
    eir_radius_info info;
    eir_error err;
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, &r, &info, &err), EIR_OK);
    assert_true(info.arnoldi_tried);
    assert_false(info.arnoldi_ok);
    assert_int_equal(info.used, EIR_RADIUS_DENSE);
    assert_true(strstr(info.arnoldi_note, "did not converge") != NULL);
    assert_true(fabs(r - 1.0) < 1e-12);
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_ARNOLDI, &r, &info, &err),
                     EIR_ENUMERIC);
    assert_true(isnan(r));
    assert_true(strstr(err.message, "did not converge") != NULL);
    free(a);
}

/* A 5 x 5 block in a 300 x 300 matrix: the Krylov space is invariant after six vectors and
 * ARPACK goes on from random vectors of its own (not reproducible): AUTO refuses that and uses
 * dgeev. The zero matrix: ARPACK fails outright; dgeev says 0. A well-behaved matrix right
 * after them is Arnoldi's again (ARPACK's counters restart with each run). A rank-1 matrix
 * u v^T is Arnoldi's, with radius |v . u|. */
static void test_fallback_invariant_subspace(void **state)
{
    (void)state;
    const int n = 300;
    double *a = calloc((size_t)n * (size_t)n, sizeof *a);
    assert_non_null(a);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            a[(size_t)i * (size_t)n + (size_t)j] = (double)(i * 5 + j + 1) / 100.0;
    double r = NAN, r_dense = NAN;
    eir_radius_info info;
    eir_error err;
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, &r, &info, &err), EIR_OK);
    assert_true(info.arnoldi_tried);
    assert_false(info.arnoldi_ok);
    assert_int_equal(info.used, EIR_RADIUS_DENSE);
    assert_true(strstr(info.arnoldi_note, "invariant") != NULL);
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_DENSE, &r_dense, NULL, &err), EIR_OK);
    assert_memory_equal(&r, &r_dense, sizeof r);
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_ARNOLDI, &r, &info, &err),
                     EIR_ENUMERIC);
    assert_true(strstr(err.message, "random vector") != NULL);

    memset(a, 0, (size_t)n * (size_t)n * sizeof *a);
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, &r, &info, &err), EIR_OK);
    assert_false(info.arnoldi_ok);
    assert_int_equal(info.used, EIR_RADIUS_DENSE);
    assert_true(r == 0.0);
    free(a);

    a = random_disc(n, 1.0, 52);
    expect_agree(a, n, "random disc after an invariant subspace");
    double *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v), dot = 0.0;
    assert_non_null(u);
    assert_non_null(v);
    uint64_t s = 51;
    for (int i = 0; i < n; i++) {
        u[i] = gauss(&s);
        v[i] = gauss(&s) / n;
        dot += v[i] * u[i];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            a[(size_t)i * (size_t)n + (size_t)j] = u[i] * v[j];
    r = expect_agree(a, n, "rank 1");
    assert_true(fabs(r - fabs(dot)) < 1e-9 * fabs(dot));
    free(a);
    free(u);
    free(v);
}

/* Below EIR_RADIUS_ARNOLDI_MIN_N, AUTO is dgeev (the small examples keep their bytes). */
static void test_threshold(void **state)
{
    (void)state;
    int n = EIR_RADIUS_ARNOLDI_MIN_N - 1;
    double *a = random_disc(n, 1.0, 61);
    double r_auto = NAN, r_dense = NAN;
    eir_radius_info info;
    eir_error err;
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, &r_auto, &info, &err), EIR_OK);
    assert_false(info.arnoldi_tried);
    assert_int_equal(info.used, EIR_RADIUS_DENSE);
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_DENSE, &r_dense, NULL, &err), EIR_OK);
    assert_memory_equal(&r_auto, &r_dense, sizeof r_auto);
    free(a);
    a = random_disc(n + 1, 1.0, 62);
    assert_int_equal(eir_spectral_radius_ex(a, n + 1, EIR_RADIUS_AUTO, &r_auto, &info, &err),
                     EIR_OK);
    assert_int_equal(info.used, EIR_RADIUS_ARNOLDI);
    free(a);
    /* Bad arguments. */
    assert_int_equal(eir_spectral_radius_ex(NULL, 3, EIR_RADIUS_AUTO, &r_auto, NULL, &err),
                     EIR_EINVAL);
    assert_int_equal(eir_spectral_radius_ex(&r_dense, 1, (eir_radius_method)7, &r_auto, NULL, &err),
                     EIR_EINVAL);
    assert_true(isnan(r_auto));
}

typedef struct radius_job {
    const double *a;
    int n;
    double r;
} radius_job;

static void *radius_thread(void *p)
{
    radius_job *j = p;
    eir_error err;
    if (eir_spectral_radius(j->a, j->n, &j->r, &err) != EIR_OK) j->r = NAN;
    return NULL;
}

/* The same bits on every call and from concurrent callers (ARPACK's state is behind a lock).
 * OpenBLAS is single-threaded here, as in eirnnd and eirnn (with several OpenBLAS threads,
 * dgeev's and ARPACK's own BLAS calls change in their last bits). */
static void test_deterministic(void **state)
{
    (void)state;
    const int n = 1000;
    double *a = rajan_abbott(n, 71);
    eir_error err;
    double r1 = NAN, r2 = NAN;
    eir_blas_single_threaded();
    assert_int_equal(eir_spectral_radius(a, n, &r1, &err), EIR_OK);
    assert_int_equal(eir_spectral_radius(a, n, &r2, &err), EIR_OK);
    assert_memory_equal(&r1, &r2, sizeof r1);
    radius_job jobs[3];
    pthread_t t[3];
    for (int k = 0; k < 3; k++) {
        jobs[k] = (radius_job){a, n, NAN};
        assert_int_equal(pthread_create(&t[k], NULL, radius_thread, &jobs[k]), 0);
    }
    for (int k = 0; k < 3; k++) {
        assert_int_equal(pthread_join(t[k], NULL), 0);
        assert_memory_equal(&jobs[k].r, &r1, sizeof r1);
    }
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_disc),
        cmocka_unit_test(test_complex_pair),
        cmocka_unit_test(test_negative_real),
        cmocka_unit_test(test_rajan_abbott),
        cmocka_unit_test(test_demo_recipe),
        cmocka_unit_test(test_fallback_no_convergence),
        cmocka_unit_test(test_fallback_invariant_subspace),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
