/*
 * The eigensolvers stop while LAPACK runs (engine/src/stoppable.h):
 *
 *  - eir_eigen of a random N = 1500 matrix with eigenvectors: the bytes with a stop flag that is
 *    never requested (dgeev on the solver's thread) equal the bytes without one (dgeev on the
 *    caller's thread);
 *  - a stop requested from another thread while dgeev runs: EIR_ECANCELLED well under the
 *    uninterrupted time (measured here, so that a loaded machine or an -O0 build does not fail
 *    the test) and within 1 s of the request (the caller looks every 20 ms); the abandoned
 *    solver ends on its own (no leak under ASan: it frees its copy);
 *  - eir_activity's PCA (dsyevd of n = 1500 units) likewise stops while dsyevd runs.
 */
#include "eir_test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "eir_analysis.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/** A stop request made by another thread after a delay; the time it was made. */
typedef struct delayed_stop {
    eir_stop *stop;
    double delay_s, requested_at;
} delayed_stop;

static void *request_later(void *p)
{
    delayed_stop *d = p;
    struct timespec t = {(time_t)d->delay_s, (long)((d->delay_s - (time_t)d->delay_s) * 1e9)};
    nanosleep(&t, NULL);
    d->requested_at = now_s();
    eir_stop_request(d->stop);
    return NULL;
}

static double *random_matrix(int n, uint32_t seed)
{
    double *a = malloc((size_t)n * n * sizeof *a);
    assert_non_null(a);
    et_rng r = {seed};
    for (size_t k = 0; k < (size_t)n * n; k++)
        a[k] = et_unif(&r, -1.0, 1.0) / sqrt((double)n);
    return a;
}

static void test_eigen_stops(void **st)
{
    (void)st;
    const int n = 1500;
    double *a = random_matrix(n, 11);
    double *v0 = malloc(2 * (size_t)n * sizeof *v0), *e0 = malloc(2 * (size_t)n * n * sizeof *e0);
    double *v1 = malloc(2 * (size_t)n * sizeof *v1), *e1 = malloc(2 * (size_t)n * n * sizeof *e1);
    assert_true(v0 && e0 && v1 && e1);
    eir_error err;

    double t0 = now_s();
    ET_CHECK(eir_eigen(a, n, v0, e0, NULL, &err) == EIR_OK, "%s", err.message);
    const double direct = now_s() - t0;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    t0 = now_s();
    ET_CHECK(eir_eigen(a, n, v1, e1, stop, &err) == EIR_OK, "%s", err.message);
    const double threaded = now_s() - t0;
    assert_memory_equal(v0, v1, 2 * (size_t)n * sizeof *v0);
    assert_memory_equal(e0, e1, 2 * (size_t)n * n * sizeof *e0);

    /* stop from another thread a quarter into the call */
    delayed_stop d = {stop, 0.25 * direct, 0.0};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, request_later, &d), 0);
    memset(v1, 0, 2 * (size_t)n * sizeof *v1);
    t0 = now_s();
    eir_status s = eir_eigen(a, n, v1, e1, stop, &err);
    const double t1 = now_s();
    pthread_join(tid, NULL);
    print_message("dgeev N = %d with vectors: direct %.3f s, on its thread %.3f s; stopped "
                  "%.3f s after the request (%.3f s in all)\n",
                  n, direct, threaded, t1 - d.requested_at, t1 - t0);
    assert_int_equal(s, EIR_ECANCELLED);
    /* abandoned, not finished: it runs on (eirnnd's exit looks at this count) */
    ET_CHECK(eir_abandoned_solvers() >= 1, "abandoned solvers running: %d",
             eir_abandoned_solvers());
    ET_CHECK(strstr(err.message, "stopped") != NULL, "%s", err.message);
    ET_CHECK(t1 - d.requested_at < 1.0 && t1 - t0 < 0.6 * direct,
             "stopped %.3f s after the request, %.3f s in all; uninterrupted %.3f s",
             t1 - d.requested_at, t1 - t0, direct);
    eir_stop_free(stop); /* the abandoned solver does not watch it */
    free(a);
    free(v0);
    free(e0);
    free(v1);
    free(e1);
}

static void test_activity_pca_stops(void **st)
{
    (void)st;
    const int n = 1500, T = 300;
    double *data = random_matrix(n, 12); /* its first T rows: T x n recorded values */
    eir_activity_desc d;
    memset(&d, 0, sizeof d);
    d.data = data;
    d.B = 1;
    d.T = T;
    d.n = n;
    d.n_e = n / 2;
    d.t0 = 0;
    d.t1 = T;
    eir_activity_result r0, r1;
    eir_error err;
    double t0 = now_s();
    ET_CHECK(eir_activity(&d, &r0, &err) == EIR_OK, "%s", err.message);
    const double direct = now_s() - t0;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    d.stop = stop;
    t0 = now_s();
    ET_CHECK(eir_activity(&d, &r1, &err) == EIR_OK, "%s", err.message);
    const double with_flag = now_s() - t0;
    assert_memory_equal(r0.pca_var, r1.pca_var, (size_t)n * sizeof(double));
    assert_memory_equal(r0.pca_ratio, r1.pca_ratio, (size_t)n * sizeof(double));
    eir_activity_result_free(&r1);

    /* The request a quarter into the faster of the two timings, as for dgeev: on a machine
     * whose load changes between the calls, 0.6 of the first one could come after the third
     * call had ended (seen: uninterrupted 0.912 s, the request 0.134 s after the end). */
    const double fastest = direct < with_flag ? direct : with_flag;
    const double slowest = direct < with_flag ? with_flag : direct;
    delayed_stop ds = {stop, 0.25 * fastest, 0.0};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, request_later, &ds), 0);
    t0 = now_s();
    eir_status s = eir_activity(&d, &r1, &err);
    const double t1 = now_s();
    pthread_join(tid, NULL);
    print_message("activity n = %d (dsyevd): uninterrupted %.3f s; stopped %.3f s after the "
                  "request\n",
                  n, direct, t1 - ds.requested_at);
    assert_int_equal(s, EIR_ECANCELLED);
    ET_CHECK(t1 - ds.requested_at < 1.0 && t1 - t0 < 0.9 * slowest,
             "stopped %.3f s after the request, %.3f s in all; uninterrupted %.3f s",
             t1 - ds.requested_at, t1 - t0, slowest);
    eir_activity_result_free(&r0);
    eir_stop_free(stop);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eigen_stops),
        cmocka_unit_test(test_activity_pca_stops),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    /* The stopped solvers still run on their own threads: the counter says so, and the exit
     * waits for them (OpenBLAS's teardown at exit must not run under them). */
    for (int i = 0; i < 3000 && eir_abandoned_solvers() > 0; i++) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    if (eir_abandoned_solvers() != 0) {
        fprintf(stderr, "%d abandoned solvers still running after 60 s\n", eir_abandoned_solvers());
        failed++;
    }
    return failed;
}
