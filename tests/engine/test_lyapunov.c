/*
 * eir_lyapunov (QR method, RK4 on trajectory and tangent vectors) against exact answers:
 *  - full spectrum (k = N) of small nonlinear networks (class gated, softplus; class rnn,
 *    tanh): the sum of the exponents equals mean_trace_J (Liouville) to 1e-6 relative (seen:
 *    about 1e-10), also with re-orthonormalisation every 7 steps;
 *  - linear networks: exponents = real parts of the eigenvalues of W - diag(G_b), in closed
 *    form (a symmetric 4 x 4 W = U diag(mu) U with U a scaled Hadamard matrix; a triangular 2 x 2;
 *    a rotation-scaling 2 x 2 whose complex pair gives two equal exponents) and by eir_eigen for
 *    a random non-normal 6 x 6 with a per-cell leak;
 *  - random tanh networks (Sompolinsky, Crisanti & Sommers 1988), W_ij ~ N(0, g^2 / N), N = 200:
 *    lambda_max > 0 at g = 2 (chaos; 0.077 for these seeds, 0.055 from the same W by the
 *    separation of two nearby trajectories, an independent check run while writing this test)
 *    and < 0 at g = 0.9 (the origin attracts: lambda_max about -1 + max Re eig W ~ g - 1; seen
 *    -0.115); thresholds 0.03 and -0.05;
 *  - the trace (rows, times, last row = the exponents), same bytes for the same seed and for
 *    the same network stored sparse,
 *    divergence as an outcome, bad arguments naming the field, the stop flag and progress;
 *  - the same exponents when the heap hands the workspace NaN bytes (no stage sum read before
 *    it is set).
 */
#include "eir_test_util.h"

#include "eir_analysis.h"

static double gauss(et_rng *g)
{
    double u1 = et_unif(g, 1e-300, 1.0), u2 = et_unif(g, 0.0, 1.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void lyap_ok(const eir_model *m, const eir_lyap_desc *d, eir_lyap_result *r)
{
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_lyapunov(m, d, r, &err);
    ET_CHECK(st == EIR_OK, "eir_lyapunov failed: %s (%s)", err.message, err.field);
}

/* Sum of the full spectrum vs the time average of tr J. */
static void check_liouville(const eir_model *m, const char *name, int reortho, const double *x)
{
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = eir_model_n(m);
    d.dt = 0.01;
    d.steps = 3000;
    d.transient = 200;
    d.reortho_every = reortho;
    d.seed = 11;
    d.x = x;
    eir_lyap_result r;
    lyap_ok(m, &d, &r);
    ET_CHECK(!r.diverged, "%s diverged", name);
    double sum = 0;
    for (int j = 0; j < r.k; j++) {
        sum += r.exponents[j];
        if (j) ET_CHECK(r.exponents[j] <= r.exponents[j - 1], "%s: not descending at %d", name, j);
    }
    double rel = fabs(sum - r.mean_trace_J) / fabs(r.mean_trace_J);
#ifdef ET_VERBOSE
    print_message("%s: sum %.15g, mean tr J %.15g, rel %.3g\n", name, sum, r.mean_trace_J, rel);
#endif
    ET_CHECK(rel <= 1e-6, "%s: sum of exponents %.15g, mean tr J %.15g (rel. %.3g)", name, sum,
             r.mean_trace_J, rel);
    eir_lyap_result_free(&r);
}

static void test_sum_equals_mean_trace(void **state)
{
    (void)state;
    enum { NE = 4, NI = 2, N = NE + NI };
    double W[N * N], leak[N], bias[N], P[N];
    const double A[2] = {0.4, 0.9};
    et_rng g = {77};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double w = et_unif(&g, 0.5, 2.5);
            W[i * N + j] = i == j ? 0.0 : (j < NE ? w : -w);
        }
        leak[i] = et_unif(&g, 0.8, 1.5);
        bias[i] = et_unif(&g, -0.5, 1.0);
        P[i] = et_unif(&g, -1, 1);
    }
    eir_model_desc md;
    et_desc_gated(&md, EIR_ACT_SOFTPLUS, NE, NI, W, leak, A, 1, P, bias);
    eir_model *m = et_build(&md);
    const double x[1] = {0.7};
    check_liouville(m, "gated softplus", 1, x);
    check_liouville(m, "gated softplus, QR every 7 steps", 7, x);
    eir_model_free(m);

    /* class rnn, tanh, strong random coupling (a non-trivial trajectory) */
    for (int k = 0; k < N * N; k++)
        W[k] = 2.5 * gauss(&g) / sqrt(N);
    et_desc_reduced(&md, EIR_CLASS_RNN, EIR_ACT_TANH, NE, NI, W, leak, N);
    m = et_build(&md);
    check_liouville(m, "rnn tanh", 1, NULL);
    eir_model_free(m);
}

/* A linear network's exponents are the real parts of the eigenvalues of W - diag(G_b). */
static void check_linear(const double *W, int N, double leak, const double *want, double tol,
                         const char *name)
{
    eir_model_desc md;
    double lk[1] = {leak};
    et_desc_reduced(&md, EIR_CLASS_RNN, EIR_ACT_LINEAR, N, 0, W, lk, 1);
    eir_model *m = et_build(&md);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = N;
    d.dt = 0.01;
    d.transient = 6000;
    d.steps = 10000;
    d.seed = 3;
    eir_lyap_result r;
    lyap_ok(m, &d, &r);
    for (int j = 0; j < N; j++)
        ET_CHECK(fabs(r.exponents[j] - want[j]) <= tol, "%s: exponent %d = %.15g, expected %.15g",
                 name, j, r.exponents[j], want[j]);
    eir_lyap_result_free(&r);
    eir_model_free(m);
}

static void test_linear_closed_form(void **state)
{
    (void)state;
    /* W = U diag(mu) U, U = H4 / 2 (symmetric, orthogonal): eigenvalues of W - I are mu - 1. */
    const double mu[4] = {0.5, 0.2, -0.3, -1.0};
    const double H[4][4] = {{1, 1, 1, 1}, {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1}};
    double W[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int q = 0; q < 4; q++)
                s += H[i][q] * mu[q] * H[q][j] / 4.0;
            W[i * 4 + j] = s;
        }
    const double want4[4] = {-0.5, -0.8, -1.3, -2.0};
    check_linear(W, 4, 1.0, want4, 1e-6, "symmetric 4x4");

    /* triangular, non-normal: eigenvalues 0.2 - 1 and -0.3 - 1 */
    const double T2[4] = {0.2, 0.5, 0.0, -0.3};
    const double want_t[2] = {-0.8, -1.3};
    check_linear(T2, 2, 1.0, want_t, 1e-6, "triangular 2x2");

    /* rotation-scaling: eigenvalues (0.6 - 1) +/- 2i; both exponents -0.4 */
    const double R2[4] = {0.6, 2.0, -2.0, 0.6};
    const double want_r[2] = {-0.4, -0.4};
    check_linear(R2, 2, 1.0, want_r, 1e-6, "complex pair 2x2");
}

/*
 * A random non-normal linear network with a per-cell leak: exponents = Re eig(W - diag(G_b)) by
 * eir_eigen, sorted, each complex pair giving its real part twice. The members of a pair
 * converge like 1 / T (the QR splits the rotating plane's growth between them; their sum is
 * exact), the others exponentially fast after the transient.
 */
static void test_linear_random(void **state)
{
    (void)state;
    enum { N = 6 };
    double W[N * N], leak[N], J[N * N], ev[2 * N];
    et_rng g = {600};
    for (int i = 0; i < N; i++)
        leak[i] = et_unif(&g, 0.5, 2.0);
    for (int k = 0; k < N * N; k++)
        W[k] = 0.5 * gauss(&g);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            J[i * N + j] = W[i * N + j] - (i == j ? leak[i] : 0.0);
    eir_error err;
    assert_int_equal(eir_eigen(J, N, ev, NULL, NULL, &err), EIR_OK);
    ET_CHECK(ev[0] < 0, "test matrix not stable: abscissa %g", ev[0]);
    eir_model_desc md;
    et_desc_reduced(&md, EIR_CLASS_RNN, EIR_ACT_LINEAR, N, 0, W, leak, N);
    eir_model *m = et_build(&md);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = N;
    d.dt = 0.01;
    d.transient = 5000;
    d.steps = 40000;
    d.seed = 1;
    eir_lyap_result r;
    lyap_ok(m, &d, &r);
    double sum = 0, want_sum = 0;
    for (int j = 0; j < N; j++) {
        int paired = ev[2 * j + 1] != 0.0;
        double tol = paired ? 2e-3 : 1e-6;
#ifdef ET_VERBOSE
        print_message("lambda %d: %.12g (Re eig %.12g%s)\n", j, r.exponents[j], ev[2 * j],
                      paired ? ", complex" : "");
#endif
        ET_CHECK(fabs(r.exponents[j] - ev[2 * j]) <= tol,
                 "exponent %d = %.12g, Re eig = %.12g (tolerance %g)", j, r.exponents[j], ev[2 * j],
                 tol);
        sum += r.exponents[j];
        want_sum += ev[2 * j];
    }
    ET_ASSERT_CLOSE(sum, want_sum, 1e-8, 1.0);
    ET_ASSERT_CLOSE(r.mean_trace_J, want_sum, 1e-12, 1.0);
    eir_lyap_result_free(&r);
    eir_model_free(m);
}

/* Random tanh network of gain g, N = 200; returns lambda_max. */
static double tanh_lambda_max(double g, uint64_t wseed)
{
    enum { N = 200 };
    double *W = malloc(sizeof(double) * N * N);
    et_rng rng = {wseed};
    for (int k = 0; k < N * N; k++)
        W[k] = g * gauss(&rng) / sqrt((double)N);
    const double leak[1] = {1.0};
    eir_model_desc md;
    et_desc_reduced(&md, EIR_CLASS_RNN, EIR_ACT_TANH, N / 2, N / 2, W, leak, 1);
    eir_model *m = et_build(&md);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = 1;
    d.dt = 0.05;
    d.transient = 1000;
    d.steps = 4000;
    d.seed = 5;
    eir_lyap_result r;
    lyap_ok(m, &d, &r);
    ET_CHECK(!r.diverged, "tanh network g = %g diverged", g);
    double lmax = r.exponents[0];
    eir_lyap_result_free(&r);
    eir_model_free(m);
    free(W);
    return lmax;
}

static void test_tanh_chaos(void **state)
{
    (void)state;
    double chaotic = tanh_lambda_max(2.0, 1988);
    double quiet = tanh_lambda_max(0.9, 1988);
#ifdef ET_VERBOSE
    print_message("lambda_max: g = 2: %.6g, g = 0.9: %.6g\n", chaotic, quiet);
#endif
    ET_CHECK(chaotic > 0.03, "g = 2: lambda_max = %g, expected clearly > 0", chaotic);
    ET_CHECK(quiet < -0.05, "g = 0.9: lambda_max = %g, expected clearly < 0", quiet);
}

static eir_model *small_rnn_stored(double *W, int N, eir_storage storage)
{
    static const double leak[1] = {1.0};
    et_rng g = {4242};
    for (int k = 0; k < N * N; k++)
        W[k] = 2.0 * gauss(&g) / sqrt((double)N);
    eir_model_desc md;
    et_desc_reduced(&md, EIR_CLASS_RNN, EIR_ACT_TANH, N, 0, W, leak, 1);
    md.storage = storage;
    return et_build(&md);
}

static eir_model *small_rnn(double *W, int N)
{
    return small_rnn_stored(W, N, EIR_STORAGE_DENSE);
}

static void test_trace_and_determinism(void **state)
{
    (void)state;
    double W[36];
    eir_model *m = small_rnn(W, 6);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = 3;
    d.steps = 1000;
    d.transient = 100;
    d.reortho_every = 3; /* 334 QRs, the last after 1 step */
    d.trace_points = 10;
    d.seed = 9;
    eir_lyap_result a, b;
    lyap_ok(m, &d, &a);
    assert_int_equal(a.trace_rows, 10);
    ET_ASSERT_CLOSE(a.trace_time[9], 1000 * d.dt, 1e-15, 1.0);
    for (int r = 1; r < 10; r++)
        ET_CHECK(a.trace_time[r] > a.trace_time[r - 1], "trace times not increasing at %d", r);
    for (int j = 0; j < 3; j++)
        ET_ASSERT_CLOSE(a.trace[9 * 3 + j], a.exponents[j], 1e-12, 1.0);
    lyap_ok(m, &d, &b);
    assert_memory_equal(a.exponents, b.exponents, 3 * sizeof(double));
    assert_memory_equal(a.trace, b.trace, 30 * sizeof(double));
    assert_memory_equal(&a.mean_trace_J, &b.mean_trace_J, sizeof(double));
    eir_lyap_result_free(&b);
    /* the same network stored as compressed rows: the same bytes */
    eir_model *sp = small_rnn_stored(W, 6, EIR_STORAGE_SPARSE);
    assert_true(eir_model_sparse(sp));
    lyap_ok(sp, &d, &b);
    assert_memory_equal(a.exponents, b.exponents, 3 * sizeof(double));
    assert_memory_equal(a.trace, b.trace, 30 * sizeof(double));
    eir_lyap_result_free(&b);
    eir_model_free(sp);
    d.seed = 10; /* another random V0 and basis: other bytes */
    lyap_ok(m, &d, &b);
    ET_CHECK(memcmp(a.exponents, b.exponents, 3 * sizeof(double)) != 0, "seed has no effect");
    eir_lyap_result_free(&b);
    /* more trace points than QRs: one row per QR */
    d.steps = 12;
    d.trace_points = 100;
    lyap_ok(m, &d, &b);
    assert_int_equal(b.trace_rows, 4);
    eir_lyap_result_free(&b);
    eir_lyap_result_free(&a);
    assert_null(a.exponents);
    eir_lyap_result_free(NULL);
    eir_model_free(m);
}

/* RK4 is unstable at z dt = 10: the state blows up; an outcome, not an error. */
static void test_divergence(void **state)
{
    (void)state;
    double W[16];
    eir_model *m = small_rnn(W, 4);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = 2;
    d.dt = 10.0;
    d.steps = 2000;
    d.transient = 0;
    eir_lyap_result r;
    lyap_ok(m, &d, &r);
    assert_int_equal(r.diverged, 1);
    ET_CHECK(isnan(r.exponents[0]) && isnan(r.exponents[1]) && isnan(r.mean_trace_J),
             "diverged: exponents %g %g, mean tr J %g", r.exponents[0], r.exponents[1],
             r.mean_trace_J);
    ET_CHECK(r.trace_rows < 100, "trace rows %d after divergence", r.trace_rows);
    eir_lyap_result_free(&r);
    eir_model_free(m);
}

/*
 * The workspace is used as malloc gives it: the first RK4 stage must not read the stage sums it
 * overwrites (0 * NaN is NaN). Freed blocks of every small size filled with NaN bytes (0xff)
 * make the heap hand the integration such memory, as a daemon's heap does after blocks of
 * binary data (eirnnd on PostgreSQL: a Lyapunov analysis came back diverged at its first step).
 * The same exponents as on a fresh heap, to the byte.
 */
static void test_workspace_from_dirty_heap(void **state)
{
    (void)state;
    double W[36];
    eir_model *m = small_rnn(W, 6);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = 3;
    d.steps = 300;
    d.transient = 20;
    d.seed = 5;
    eir_lyap_result clean, dirty;
    lyap_ok(m, &d, &clean);
    ET_CHECK(!clean.diverged, "diverged on a fresh heap");
    enum { SIZES = 256, EACH = 8 };
    static void *blocks[SIZES * EACH];
    for (int i = 0; i < SIZES * EACH; i++) {
        size_t bytes = 16 * (size_t)(i / EACH + 1);
        blocks[i] = malloc(bytes);
        assert_non_null(blocks[i]);
        memset(blocks[i], 0xff, bytes);
    }
    for (int i = SIZES * EACH - 1; i >= 0; i--)
        free(blocks[i]);
    lyap_ok(m, &d, &dirty);
    ET_CHECK(!dirty.diverged, "diverged on a heap of NaN bytes (a stage sum read before set)");
    assert_memory_equal(clean.exponents, dirty.exponents, 3 * sizeof(double));
    assert_memory_equal(&clean.mean_trace_J, &dirty.mean_trace_J, sizeof(double));
    eir_lyap_result_free(&clean);
    eir_lyap_result_free(&dirty);
    eir_model_free(m);
}

static void expect_bad(const eir_model *m, const eir_lyap_desc *d, const char *field,
                       const char *words)
{
    eir_lyap_result r;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_lyapunov(m, d, &r, &err), EIR_EINVAL);
    et_check_error(&err, field, words);
    assert_null(r.exponents);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    enum { N = 3 };
    double W[9] = {0, 1, -1, 1, 0, -1, 1, 1, 0}, P[3] = {1, 1, 1};
    const double leak[1] = {1.0};
    eir_model_desc md;
    et_desc_reduced(&md, EIR_CLASS_RNN, EIR_ACT_TANH, 2, 1, W, leak, 1);
    md.n_in = 1;
    md.P = P;
    eir_model *m = et_build(&md);
    eir_lyap_desc d, ok;
    eir_lyap_desc_init(&ok);
    ok.steps = 10;
    ok.transient = 0;
    d = ok, d.k = 0;
    expect_bad(m, &d, "/k", "k must");
    d = ok, d.k = N + 1;
    expect_bad(m, &d, "/k", "N = 3");
    d = ok, d.dt = 0;
    expect_bad(m, &d, "/dt", "dt");
    d = ok, d.dt = NAN;
    expect_bad(m, &d, "/dt", "finite");
    d = ok, d.dt = INFINITY;
    expect_bad(m, &d, "/dt", "finite");
    d = ok, d.steps = 0;
    expect_bad(m, &d, "/steps", "steps");
    d = ok, d.transient = -1;
    expect_bad(m, &d, "/transient", "transient");
    d = ok, d.reortho_every = 0;
    expect_bad(m, &d, "/reortho_every", "reortho_every");
    d = ok, d.trace_points = -1;
    expect_bad(m, &d, "/trace_points", "trace_points");
    const double V0[N] = {0.1, NAN, 0.2}, x[1] = {INFINITY};
    d = ok, d.V0 = V0;
    expect_bad(m, &d, "/V0", "finite");
    d = ok, d.x = x;
    expect_bad(m, &d, "/x", "finite");
    eir_lyap_result r;
    lyap_ok(m, &ok, &r); /* and the defaults with 10 steps are fine */
    eir_lyap_result_free(&r);
    eir_model_free(m);
}

typedef struct progress_log {
    int calls;
    int64_t last_done, last_total;
    int stop_at_call; /* 0 = never */
} progress_log;

static int on_progress(void *ctx, int64_t done, int64_t total)
{
    progress_log *p = ctx;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->stop_at_call && p->calls >= p->stop_at_call;
}

static void test_stop_and_progress(void **state)
{
    (void)state;
    double W[16];
    eir_model *m = small_rnn(W, 4);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.steps = 500;
    d.transient = 50;
    progress_log p = {0};
    d.progress = on_progress;
    d.progress_ctx = &p;
    eir_lyap_result r;
    lyap_ok(m, &d, &r);
    ET_CHECK(p.calls >= 1 && p.last_done == 550 && p.last_total == 550,
             "progress: %d calls, last %lld / %lld", p.calls, (long long)p.last_done,
             (long long)p.last_total);
    eir_lyap_result_free(&r);

    /* the callback asks to stop */
    memset(&p, 0, sizeof p);
    p.stop_at_call = 1;
    eir_error err;
    assert_int_equal(eir_lyapunov(m, &d, &r, &err), EIR_ECANCELLED);
    assert_null(r.exponents);

    /* the stop flag */
    eir_stop *s = eir_stop_new();
    eir_stop_request(s);
    d.progress = NULL;
    d.stop = s;
    assert_int_equal(eir_lyapunov(m, &d, &r, &err), EIR_ECANCELLED);
    assert_int_equal(err.status, EIR_ECANCELLED);
    assert_null(r.exponents);
    assert_null(r.trace);
    eir_stop_free(s);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_equals_mean_trace),
        cmocka_unit_test(test_linear_closed_form),
        cmocka_unit_test(test_linear_random),
        cmocka_unit_test(test_tanh_chaos),
        cmocka_unit_test(test_trace_and_determinism),
        cmocka_unit_test(test_divergence),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_stop_and_progress),
        cmocka_unit_test(test_workspace_from_dirty_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
