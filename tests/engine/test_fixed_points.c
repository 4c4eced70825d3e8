/*
 * eir_fixed_points (eir_analysis.h): exact answers and the search's contract.
 *
 *  - linear network (class rnn, linear activation): the one fixed point is the closed form
 *    (diag(G_b) - W)^-1 (P x + b) (solved here by Gaussian elimination, 1e-10) and its Jacobian
 *    eigenvalues those of W - diag(G_b) (1e-10); every start ends there (one point, all hits);
 *  - the inhibition-stabilised network of Tsodyks et al. 1997 (one E and one I cell,
 *    threshold-linear rates, W_EE = 2 > 1 so E alone is unstable): the fixed point and
 *    Jacobian against the analytic 2 x 2 (and eir_linearize), eigenvalues -1 +- 1.5 i; the gated
 *    version's fixed point against the state a long eir_run settles to (1e-8);
 *  - a bistable network (rank-one tanh): both stable points and the saddle, deduplicated, in
 *    the documented order, each point's eigenvalues those of eir_linearize there;
 *  - slow points: a saddle-node ghost (a minimum of |F| that is not a zero) reported as a slow
 *    point, marked, only when asked;
 *  - the same bytes at 1, 2 and 3 threads, across several chunks of starts;
 *  - bad arguments rejected naming the field; the stop flag and the progress callback stop it.
 */
#include "eir_test_util.h"

#include "eir_analysis.h"

static void fp_ok(const eir_model *m, const eir_fp_desc *d, eir_fp_result *r)
{
    eir_error err;
    eir_status s = eir_fixed_points(m, d, r, &err);
    ET_CHECK(s == EIR_OK, "eir_fixed_points: status %d, field '%s': %s", (int)s, err.field,
             err.message);
    ET_CHECK(r->starts == r->converged + r->slow_found + r->failed, "start accounting");
    int hits = 0;
    for (int k = 0; k < r->count; k++)
        hits += r->hits[k];
    ET_CHECK(hits == r->converged + r->slow_found, "hits %d", hits);
}

/** Solve A x = b (n x n, destroyed) by Gaussian elimination with partial pivoting. */
static void gauss(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(A[i * n + c]) > fabs(A[p * n + c])) p = i;
        for (int j = 0; j < n; j++) {
            double t = A[c * n + j];
            A[c * n + j] = A[p * n + j];
            A[p * n + j] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int i = c + 1; i < n; i++) {
            double f = A[i * n + c] / A[c * n + c];
            for (int j = c; j < n; j++)
                A[i * n + j] -= f * A[c * n + j];
            b[i] -= f * b[c];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (int j = i + 1; j < n; j++)
            s -= A[i * n + j] * b[j];
        b[i] = s / A[i * n + i];
    }
}

/** The eigenvalues of the point k's Jacobian equal eir_eigen(eir_linearize(V_k)). */
static void check_point_eigs(const eir_model *m, const double *x, const eir_fp_result *r, int k)
{
    const int n = r->n;
    double *J = malloc((size_t)n * n * sizeof *J), *ev = malloc(2 * (size_t)n * sizeof *ev);
    eir_error err;
    assert_int_equal(eir_linearize(m, r->V + (size_t)k * n, x, J, &err), EIR_OK);
    assert_int_equal(eir_eigen(J, n, ev, NULL, NULL, &err), EIR_OK);
    assert_memory_equal(ev, r->eigvals + 2 * (size_t)k * n, 2 * (size_t)n * sizeof *ev);
    free(J);
    free(ev);
}

static void test_linear_closed_form(void **st)
{
    (void)st;
    enum { n = 20, nin = 2 };
    static double W[n * n], leak[n], P[n * nin], bias[n], A[n * n], V0[3 * n];
    const double x[nin] = {0.7, -1.1};
    et_rng g = {11};
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            W[i * n + j] = et_unif(&g, -1, 1) * 0.6 / sqrt(n);
        leak[i] = et_unif(&g, 0.5, 2.0);
        bias[i] = et_unif(&g, -1, 1);
        for (int c = 0; c < nin; c++)
            P[i * nin + c] = et_unif(&g, -1, 1);
    }
    for (int k = 0; k < 3 * n; k++)
        V0[k] = et_unif(&g, -5, 5);
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, 12, 8, W, leak, n);
    d.n_in = nin;
    d.P = P;
    d.bias = bias;
    d.bias_len = n;
    eir_model *m = et_build(&d);

    double want[n];
    for (int i = 0; i < n; i++) {
        want[i] = bias[i];
        for (int c = 0; c < nin; c++)
            want[i] += P[i * nin + c] * x[c];
        for (int j = 0; j < n; j++)
            A[i * n + j] = (i == j ? leak[i] : 0.0) - W[i * n + j];
    }
    gauss(A, want, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            A[i * n + j] = W[i * n + j] - (i == j ? leak[i] : 0.0);
    double ev[2 * n];
    eir_error err;
    assert_int_equal(eir_eigen(A, n, ev, NULL, NULL, &err), EIR_OK);

    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.x = x;
    fd.starts = V0;
    fd.n_starts = 3;
    fd.n_random = 10;
    fd.seed = 3;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.n, n);
    assert_int_equal(r.hits[0], 13);
    assert_int_equal(r.converged, 13);
    assert_int_equal(r.first_start[0], 0);
    assert_int_equal(r.slow[0], 0);
    assert_int_equal(r.stable[0], 1);
    assert_int_equal(r.n_unstable[0], 0);
    ET_CHECK(r.residual[0] <= fd.tol, "residual %g", r.residual[0]);
    ET_ASSERT_REL(r.q[0], 0.5 * r.residual[0] * r.residual[0], 1e-15);
    for (int i = 0; i < n; i++) {
        ET_CHECK(et_rel(r.V[i], want[i], 1.0) <= 1e-10, "V[%d] = %.17g, closed form %.17g", i,
                 r.V[i], want[i]);
        assert_true(r.r[i] == r.V[i]);
    }
    for (int k = 0; k < 2 * n; k++)
        ET_CHECK(fabs(r.eigvals[k] - ev[k]) <= 1e-10, "eigenvalue %d: %.17g vs %.17g", k / 2,
                 r.eigvals[k], ev[k]);
    eir_fp_result_free(&r);
    assert_null(r.V);
    eir_fp_result_free(NULL);
    eir_model_free(m);
}

/* Tsodyks et al. 1997 with threshold-linear rates: W = [[2, -2.5], [2.5, -2]], G_b = 1,
 * b = (1, 0.5). With both cells active, (I - W) V = b: V = (1.75, 2) / 3.25, J = W - I =
 * [[1, -2.5], [2.5, -3]] (trace -2, det 3.25: lambda = -1 +- 1.5 i); J_EE = 1 > 0 is the
 * unstable E subnetwork. The other sign patterns have no solution: the fixed point is unique. */
static const double ISN_W[4] = {2.0, -2.5, 2.5, -2.0}, ISN_B[2] = {1.0, 0.5}, ONE = 1.0;

static void test_isn_threshold_linear(void **st)
{
    (void)st;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_DALE, EIR_ACT_RELU, 1, 1, ISN_W, &ONE, 1);
    d.bias = ISN_B;
    d.bias_len = 2;
    eir_model *m = et_build(&d);
    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.n_random = 20;
    fd.random_scale = 2.0;
    fd.seed = 1997;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    assert_int_equal(r.count, 1);
    ET_CHECK(r.converged == 20, "converged %d of 20", r.converged);
    ET_CHECK(fabs(r.V[0] - 1.75 / 3.25) <= 1e-12 && fabs(r.V[1] - 2.0 / 3.25) <= 1e-12,
             "V = (%.17g, %.17g)", r.V[0], r.V[1]);
    double J[4];
    eir_error err;
    assert_int_equal(eir_linearize(m, r.V, NULL, J, &err), EIR_OK);
    const double Ja[4] = {1.0, -2.5, 2.5, -3.0};
    for (int k = 0; k < 4; k++)
        ET_CHECK(fabs(J[k] - Ja[k]) <= 1e-12, "J[%d] = %.17g, analytic %g", k, J[k], Ja[k]);
    ET_CHECK(J[0] > 0, "E alone is unstable");
    ET_CHECK(fabs(r.eigvals[0] + 1) <= 1e-12 && fabs(r.eigvals[1] - 1.5) <= 1e-12 &&
                 fabs(r.eigvals[2] + 1) <= 1e-12 && fabs(r.eigvals[3] + 1.5) <= 1e-12,
             "eigenvalues %g%+gi, %g%+gi", r.eigvals[0], r.eigvals[1], r.eigvals[2], r.eigvals[3]);
    assert_int_equal(r.stable[0], 1);
    check_point_eigs(m, NULL, &r, 0);
    eir_fp_result_free(&r);
    eir_model_free(m);
}

/* The gated ISN: the same W with M = 0.2 |W| (per-type A). Its stable fixed point is where a
 * long exp_euler run settles (exp_euler's fixed points are exactly those of F: V = I / z). */
static void test_isn_gated_run(void **st)
{
    (void)st;
    const double A[2] = {0.2, 0.2};
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_RELU, 1, 1, ISN_W, &ONE, 1);
    d.a_kind = EIR_A_PER_TYPE;
    d.A = A;
    d.bias = ISN_B;
    d.bias_len = 2;
    eir_model *m = et_build(&d);
    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.n_random = 20;
    fd.seed = 5;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    ET_CHECK(r.count >= 1 && r.stable[0] == 1, "count %d", r.count);
    /* J against the analytic 2 x 2 at the point: J_ij = -z_i d_ij + (W_ij - V_i M_ij) f'_j */
    const double *V = r.V;
    double rE = fmax(V[0], 0), rI = fmax(V[1], 0);
    double M[4] = {0.2 * 2.0, 0.2 * 2.5, 0.2 * 2.5, 0.2 * 2.0};
    double z[2] = {1 + M[0] * rE + M[1] * rI, 1 + M[2] * rE + M[3] * rI};
    double Ja[4], J[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            Ja[i * 2 + j] =
                (i == j ? -z[i] : 0.0) + (ISN_W[i * 2 + j] - V[i] * M[i * 2 + j]) * (V[j] > 0);
    eir_error err;
    assert_int_equal(eir_linearize(m, V, NULL, J, &err), EIR_OK);
    for (int k = 0; k < 4; k++)
        ET_CHECK(fabs(J[k] - Ja[k]) <= 1e-12, "J[%d] = %.17g, analytic %.17g", k, J[k], Ja[k]);
    ET_CHECK(J[0] > 0, "E alone is unstable at the gated point too (J_EE = %g)", J[0]);
    check_point_eigs(m, NULL, &r, 0);
    double F[2];
    assert_int_equal(eir_dynamics(m, V, NULL, F, &err), EIR_OK);
    ET_CHECK(hypot(F[0], F[1]) <= 1e-10, "|F| = %g", hypot(F[0], F[1]));

    eir_run_desc rd;
    et_rdesc(&rd, 0.01, 6000, 1, ET_V);
    rd.record_every = 6000;
    et_out o;
    et_run_ok(m, &rd, &o);
    for (int i = 0; i < 2; i++) {
        double v = et_at(&o, EIR_VAR_V, 0, 0, i);
        ET_CHECK(fabs(v - V[i]) <= 1e-8, "run settles at V[%d] = %.17g, fixed point %.17g", i, v,
                 V[i]);
    }
    et_out_free(&o);
    eir_fp_result_free(&r);
    eir_model_free(m);
}

/* Rank-one tanh network W = [[1, 1], [1, 1]], G_b = 1: fixed points V1 = V2 = v with
 * v = 2 tanh v: v = 0 (a saddle: eigenvalues 1 and -1) and v = +-1.9150080 (stable). */
static void test_bistable(void **st)
{
    (void)st;
    const double W[4] = {1, 1, 1, 1};
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_TANH, 2, 0, W, &ONE, 1);
    eir_model *m = et_build(&d);
    double v = 2.0;
    for (int k = 0; k < 100; k++) /* Newton on v - 2 tanh v */
        v -= (v - 2 * tanh(v)) / (1 - 2 * (1 - tanh(v) * tanh(v)));
    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.n_random = 40;
    fd.random_scale = 2.0;
    fd.seed = 8;
    const double zero[2] = {0, 0};
    fd.starts = zero;
    fd.n_starts = 1;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.converged, 41);
    /* two stable points first (same |V|: by first start), then the saddle */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(r.stable[k], 1);
        assert_int_equal(r.n_unstable[k], 0);
        ET_CHECK(fabs(fabs(r.V[2 * k]) - v) <= 1e-10 && r.V[2 * k] == r.V[2 * k + 1],
                 "stable point %d at (%.17g, %.17g), v = %.17g", k, r.V[2 * k], r.V[2 * k + 1], v);
        ET_CHECK(fabs(r.eigvals[4 * k] + 1 - 2 * (1 - tanh(v) * tanh(v))) <= 1e-10, "lambda_1 = %g",
                 r.eigvals[4 * k]);
        ET_CHECK(fabs(r.eigvals[4 * k + 2] + 1) <= 1e-12, "lambda_2 = %g", r.eigvals[4 * k + 2]);
    }
    ET_CHECK(fabs(r.V[0] + r.V[2]) <= 1e-12, "the two stable points are opposite: %.17g, %.17g",
             r.V[0], r.V[2]);
    double n0 = hypot(r.V[0], r.V[1]), n1 = hypot(r.V[2], r.V[3]);
    ET_CHECK(n0 < n1 || (n0 == n1 && r.first_start[0] < r.first_start[1]),
             "by |V| (%.17g, %.17g), then first start", n0, n1);
    assert_int_equal(r.stable[2], 0);
    assert_int_equal(r.n_unstable[2], 1);
    assert_int_equal(r.first_start[2], 0);
    ET_CHECK(fabs(r.V[4]) <= 1e-12 && fabs(r.V[5]) <= 1e-12, "saddle at (%g, %g)", r.V[4], r.V[5]);
    ET_CHECK(fabs(r.eigvals[8] - 1) <= 1e-12 && fabs(r.eigvals[10] + 1) <= 1e-12,
             "saddle eigenvalues %g, %g", r.eigvals[8], r.eigvals[10]);
    for (int k = 0; k < 3; k++) {
        check_point_eigs(m, NULL, &r, k);
        assert_int_equal(r.slow[k], 0);
        ET_CHECK(r.hits[k] >= 1, "hits");
        for (int i = 0; i < 2; i++)
            ET_ASSERT_REL(r.r[2 * k + i], tanh(r.V[2 * k + i]), 1e-15);
    }
    eir_fp_result_free(&r);
    eir_model_free(m);
}

/* One cell, F(V) = -V + 2 tanh V + 0.54: past the saddle-node at b = 0.5328, the left pair of
 * fixed points has become a ghost: |F| has a minimum at V = -asinh(1) (F' = 0) with
 * F = 0.54 - (2 sqrt(2) - ... ) > 0, q ~ 2.6e-5 <= slow_tol; the one fixed point is near 2.51. */
static void test_slow_points(void **st)
{
    (void)st;
    const double W = 2.0, b = 0.54;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_TANH, 1, 0, &W, &ONE, 1);
    d.bias = &b;
    d.bias_len = 1;
    eir_model *m = et_build(&d);
    const double starts[3] = {-1.0, -0.5, 3.0};
    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.starts = starts;
    fd.n_starts = 3;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.slow[0], 0);
    assert_int_equal(r.slow_found, 0);
    ET_CHECK(r.failed >= 1, "the starts in the ghost's basin fail without slow points");
    const double vfix = r.V[0];
    ET_CHECK(vfix > 2.4 && vfix < 2.6 && r.stable[0], "fixed point %g", vfix);
    eir_fp_result_free(&r);

    fd.slow_points = 1;
    fp_ok(m, &fd, &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.slow[0], 0);
    assert_int_equal(r.slow[1], 1);
    assert_true(r.V[0] == vfix);
    const double vs = -asinh(1.0), fs = -vs + 2 * tanh(vs) + b;
    ET_CHECK(fabs(r.V[1] - vs) <= 1e-5, "slow point at %.10g, expected %.10g", r.V[1], vs);
    ET_ASSERT_REL(r.q[1], 0.5 * fs * fs, 1e-6);
    ET_ASSERT_REL(r.residual[1], fabs(fs), 1e-6);
    ET_CHECK(r.q[1] <= fd.slow_tol, "q = %g", r.q[1]);
    assert_int_equal(r.slow_found, r.hits[1]);
    ET_CHECK(r.slow_found >= 1, "slow starts %d", r.slow_found);
    eir_fp_result_free(&r);

    /* a slow point whose q is above slow_tol is not kept */
    fd.slow_tol = 1e-6;
    fp_ok(m, &fd, &r);
    assert_int_equal(r.count, 1);
    eir_fp_result_free(&r);
    eir_model_free(m);
}

static void test_threads_same_bytes(void **st)
{
    (void)st;
    enum { n = 30 };
    static double W[n * n], leak[n];
    et_rng g = {77};
    for (int k = 0; k < n * n; k++) /* uniform of variance 1/3: g ~ 2.2 */
        W[k] = et_unif(&g, -1, 1) * 2.2 * sqrt(3.0 / n);
    for (int i = 0; i < n; i++)
        leak[i] = 1.0;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_TANH, 20, 10, W, leak, n);
    eir_model *m = et_build(&d);
    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.n_random = 300; /* three chunks */
    fd.seed = 123;
    fd.slow_points = 1;
    fd.max_slow_iter = 50;
    eir_fp_result r[3];
    for (int t = 0; t < 3; t++) {
        fd.threads = t + 1;
        fp_ok(m, &fd, &r[t]);
    }
    print_message("random tanh N = %d: %d points (%d fixed, %d slow starts, %d failed)\n", n,
                  r[0].count, r[0].converged, r[0].slow_found, r[0].failed);
    ET_CHECK(r[0].count >= 3, "a g = 2.2 network has several fixed points, got %d", r[0].count);
    for (int t = 1; t < 3; t++) {
        const size_t K = (size_t)r[0].count;
        assert_int_equal(r[t].count, r[0].count);
        assert_int_equal(r[t].converged, r[0].converged);
        assert_int_equal(r[t].slow_found, r[0].slow_found);
        assert_int_equal(r[t].failed, r[0].failed);
        assert_memory_equal(r[t].V, r[0].V, K * n * sizeof(double));
        assert_memory_equal(r[t].r, r[0].r, K * n * sizeof(double));
        assert_memory_equal(r[t].residual, r[0].residual, K * sizeof(double));
        assert_memory_equal(r[t].eigvals, r[0].eigvals, 2 * K * n * sizeof(double));
        assert_memory_equal(r[t].hits, r[0].hits, K * sizeof(int32_t));
        assert_memory_equal(r[t].first_start, r[0].first_start, K * sizeof(int32_t));
        assert_memory_equal(r[t].slow, r[0].slow, K * sizeof(int32_t));
    }
    /* the documented order: fixed points by unstable directions, then slow points by q */
    for (int k = 1; k < r[0].count; k++) {
        ET_CHECK(r[0].slow[k] >= r[0].slow[k - 1], "slow points last");
        if (!r[0].slow[k]) ET_CHECK(r[0].n_unstable[k] >= r[0].n_unstable[k - 1], "order");
        if (r[0].slow[k] && r[0].slow[k - 1]) ET_CHECK(r[0].q[k] >= r[0].q[k - 1], "q order");
    }
    for (int t = 0; t < 3; t++)
        eir_fp_result_free(&r[t]);
    eir_model_free(m);
}

static void expect_reject(const eir_model *m, const eir_fp_desc *fd, const char *field,
                          const char *words)
{
    eir_fp_result r;
    memset(&r, 0x5a, sizeof r);
    eir_error err;
    eir_status s = eir_fixed_points(m, fd, &r, &err);
    ET_CHECK(s == EIR_EINVAL, "status %d for %s", (int)s, field);
    et_check_error(&err, field, words);
    assert_int_equal(r.count, 0);
    assert_null(r.V);
}

static void test_rejects(void **st)
{
    (void)st;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_DALE, EIR_ACT_RELU, 1, 1, ISN_W, &ONE, 1);
    d.n_in = 1;
    const double P[2] = {1, 1};
    d.P = P;
    eir_model *m = et_build(&d);
    eir_fp_desc fd, base;
    eir_fp_desc_init(&base);
    base.n_random = 2;
    const double xbad[1] = {NAN}, sbad[4] = {0, 0, 1, INFINITY};

    fd = base, fd.x = xbad;
    expect_reject(m, &fd, "/x", "finite");
    fd = base, fd.n_random = 0;
    expect_reject(m, &fd, "/starts", "at least one");
    fd = base, fd.n_random = -1;
    expect_reject(m, &fd, "/starts/random/count", ">= 0");
    fd = base, fd.n_starts = -1;
    expect_reject(m, &fd, "/starts/runs", ">= 0");
    fd = base, fd.n_starts = 2;
    expect_reject(m, &fd, "/starts/runs", "no array");
    fd = base, fd.n_starts = 2, fd.starts = sbad;
    expect_reject(m, &fd, "/starts/runs/1", "finite");
    fd = base, fd.random_scale = 0;
    expect_reject(m, &fd, "/starts/random/scale", "> 0");
    fd = base, fd.random_scale = NAN;
    expect_reject(m, &fd, "/starts/random/scale", "finite");
    fd = base, fd.max_iter = 0;
    expect_reject(m, &fd, "/max_iter", ">= 1");
    fd = base, fd.tol = 0;
    expect_reject(m, &fd, "/tol", "> 0");
    fd = base, fd.tol = INFINITY;
    expect_reject(m, &fd, "/tol", "finite");
    fd = base, fd.dedupe_tol = -1e-3;
    expect_reject(m, &fd, "/dedupe_tol", ">= 0");
    fd = base, fd.slow_points = 1, fd.slow_tol = 0;
    expect_reject(m, &fd, "/slow_tol", "> 0");
    fd = base, fd.slow_points = 1, fd.max_slow_iter = 0;
    expect_reject(m, &fd, "/max_slow_iter", ">= 1");
    fd = base, fd.threads = -2;
    expect_reject(m, &fd, "/threads", ">= 1");
    /* unused when not asked: slow_tol without slow_points, scale without random starts */
    fd = base, fd.slow_tol = 0;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    eir_fp_result_free(&r);
    fd = base, fd.n_random = 0, fd.n_starts = 1, fd.starts = sbad, fd.random_scale = -1;
    fp_ok(m, &fd, &r);
    eir_fp_result_free(&r);
    eir_model_free(m);
}

typedef struct prog {
    int calls, stop_after;
    int64_t last;
} prog;

static int on_progress(void *ctx, int64_t done, int64_t total)
{
    prog *p = ctx;
    ET_CHECK(done >= p->last && done <= total, "progress %lld of %lld after %lld", (long long)done,
             (long long)total, (long long)p->last);
    p->last = done;
    p->calls++;
    return p->stop_after > 0 && p->calls >= p->stop_after;
}

static void test_stop(void **st)
{
    (void)st;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_DALE, EIR_ACT_RELU, 1, 1, ISN_W, &ONE, 1);
    eir_model *m = et_build(&d);
    eir_fp_desc fd;
    eir_fp_desc_init(&fd);
    fd.n_random = 10;
    prog p = {0, 0, 0};
    fd.progress = on_progress;
    fd.progress_ctx = &p;
    eir_fp_result r;
    fp_ok(m, &fd, &r);
    ET_CHECK(p.calls >= 10 && p.last == 10, "progress: %d calls, last %lld", p.calls,
             (long long)p.last);
    eir_fp_result_free(&r);

    /* the callback stops it */
    p = (prog){0, 3, 0};
    eir_error err;
    memset(&r, 0x5a, sizeof r);
    assert_int_equal(eir_fixed_points(m, &fd, &r, &err), EIR_ECANCELLED);
    assert_int_equal(p.calls, 3);
    assert_int_equal(r.count, 0);
    assert_null(r.V);

    /* the stop flag, requested before and (threads) from the callback's side */
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    fd.progress = NULL;
    fd.stop = stop;
    fp_ok(m, &fd, &r);
    eir_fp_result_free(&r);
    eir_stop_request(stop);
    for (int t = 1; t <= 2; t++) {
        fd.threads = t;
        memset(&r, 0x5a, sizeof r);
        assert_int_equal(eir_fixed_points(m, &fd, &r, &err), EIR_ECANCELLED);
        ET_CHECK(et_contains_ci(err.message, "stop"), "%s", err.message);
        assert_null(r.V);
    }
    eir_stop_free(stop);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_closed_form),
        cmocka_unit_test(test_isn_threshold_linear),
        cmocka_unit_test(test_isn_gated_run),
        cmocka_unit_test(test_bistable),
        cmocka_unit_test(test_slow_points),
        cmocka_unit_test(test_threads_same_bytes),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
