/**
 * @file bench_analysis.c
 * @brief The analysis engine against the bare LAPACK calls it is built on, side by side in one
 *        process (docs/BENCHMARKS.md, "Analysis"; bench/run_analysis_bench.sh runs all three and
 *        the NumPy peer of the third):
 *
 *   eigen  [--n 2000] [--reps 3]: eir_eigen (eigenvalues only) against LAPACK dgeev on a copy
 *          of the same matrix (workspace query, allocation and the call; the copy is made
 *          outside the timed region), alternating which goes first.
 *   newton [--n 1000] [--reps 7]: eir_fixed_points with one start and max_iter = 1 (its set-up,
 *          then one evaluation of dV/dt, one analytic Jacobian, one LU solve, the line search;
 *          the start does not converge, so no eigenvalues are computed), and the same with
 *          max_iter = 2 minus that (one iteration without the set-up), against one dgetrf of an
 *          N x N matrix (the Jacobian at the start, copied outside the timed region). Also
 *          times eir_dynamics and eir_linearize alone, for the breakdown.
 *   fixed  [--n 500] [--starts 100] [--reps 3] [--threads 1] --out DIR: eir_fixed_points from
 *          the given starts (default settings otherwise; wall and process CPU time), and writes the
 * network, the starts and the points found to DIR as .npy for bench/analysis/fp_numpy.py (the same
 * search in NumPy), and the timings to DIR/engine.json.
 *
 * The network (eigen, newton and fixed): class gated, softplus, leak G_b = 1, N_E = 0.8 N,
 * W from eir_generate_recurrent (p = 0.2, lognormal cv 0.5, means E 1 / I 4, spectral radius
 * --radius, default 1.5, seed 1), A = {0.5, 1.0} per presynaptic type, one input with P = 1
 * and x = 1, bias 0. The starts are V ~ N(0, 1) per cell from a fixed generator (seed 7).
 *
 * One thread (eir_blas_single_threaded, as in eirnnd). Prints one JSON object per mode on
 * stdout; exits 1 when a computation fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir.h"
#include "eir_analysis.h"

/* LAPACK's Fortran entry points (as engine/src/spectral.c declares dgeev_). */
extern void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
                   double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
                   double *work, const int *lwork, int *info, size_t len_jobvl, size_t len_jobvr);
extern void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);

#define MAX_REPS 64
#define TWO_PI 6.283185307179586

typedef struct bench_opts {
    const char *mode;
    int n, reps, starts, threads;
    double radius;
    const char *out;
} bench_opts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static void print_times(const char *name, const double *t, int n)
{
    printf("\"%s\": [", name);
    for (int i = 0; i < n; i++)
        printf("%s%.6f", i ? ", " : "", t[i]);
    printf("], ");
}

/* splitmix64 and Box-Muller: the starts, reproducible and independent of the engine's own
 * generator (the NumPy peer reads them from starts.npy). */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void gaussians(uint64_t seed, double *out, size_t n)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(splitmix(&s) >> 11) + 0.5) * 0x1.0p-53;
        double u2 = (double)(splitmix(&s) >> 11) * 0x1.0p-53;
        double rad = sqrt(-2.0 * log(u1));
        out[i] = rad * cos(TWO_PI * u2);
        if (i + 1 < n) out[i + 1] = rad * sin(TWO_PI * u2);
    }
}

/* The benchmark network's W (N x N, signed); see the file comment. */
static int make_w(int n, double radius, double *w)
{
    int n_e = (int)(0.8 * n);
    eir_gen_spec g;
    eir_error err;
    eir_gen_spec_init(&g);
    g.seed = 1;
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.2;
    g.dist = EIR_DIST_LOGNORMAL;
    g.cv = 0.5;
    g.mean[EIR_BLOCK_EE] = g.mean[EIR_BLOCK_IE] = 1.0;
    g.mean[EIR_BLOCK_EI] = g.mean[EIR_BLOCK_II] = 4.0;
    g.spectral_radius = radius;
    if (eir_generate_recurrent(&g, n_e, n - n_e, EIR_FORM_REDUCED, 0, 0, w, &err)) {
        fprintf(stderr, "generate W: %s\n", err.message);
        return -1;
    }
    return 0;
}

static const double A_TYPE[2] = {0.5, 1.0}, LEAK = 1.0, X_IN = 1.0;

/* Build the benchmark model around @p w (borrowed). */
static eir_model *make_model(int n, const double *w, double *p_ones)
{
    eir_model_desc d;
    eir_model *m = NULL;
    eir_error err;
    eir_model_desc_init(&d);
    d.n_e = (int)(0.8 * n);
    d.n_i = n - d.n_e;
    d.n_in = 1;
    d.cls = EIR_CLASS_GATED;
    d.act.kind = EIR_ACT_SOFTPLUS;
    d.leak = &LEAK;
    d.leak_len = 1;
    d.W = w;
    d.a_kind = EIR_A_PER_TYPE;
    d.A = A_TYPE;
    for (int i = 0; i < n; i++)
        p_ones[i] = 1.0;
    d.P = p_ones;
    d.storage = EIR_STORAGE_DENSE;
    if (eir_model_build(&d, &m, &err)) fprintf(stderr, "build model: %s\n", err.message);
    return m;
}

/* One LAPACK dgeev (eigenvalues only) on @p a (overwritten), with its workspace query. */
static int bare_dgeev(double *a, int n)
{
    const char no = 'N';
    int lwork = -1, info = 0, one = 1;
    double query = 0, dummy = 0;
    double *wr = malloc((size_t)n * sizeof *wr), *wi = malloc((size_t)n * sizeof *wi);
    dgeev_(&no, &no, &n, a, &n, wr, wi, &dummy, &one, &dummy, &one, &query, &lwork, &info, 1, 1);
    lwork = (int)query;
    double *work = malloc((size_t)lwork * sizeof *work);
    if (!wr || !wi || !work) info = -100;
    if (!info)
        dgeev_(&no, &no, &n, a, &n, wr, wi, &dummy, &one, &dummy, &one, work, &lwork, &info, 1, 1);
    free(wr);
    free(wi);
    free(work);
    return info;
}

static int bench_eigen(const bench_opts *o)
{
    int n = o->n;
    size_t nn = (size_t)n * (size_t)n;
    double *w = malloc(nn * sizeof *w), *copy = malloc(nn * sizeof *copy),
           *vals = malloc(2 * (size_t)n * sizeof *vals);
    double t_eir[MAX_REPS], t_lapack[MAX_REPS];
    eir_error err;
    if (!w || !copy || !vals || make_w(n, o->radius, w)) return 1;
    for (int r = 0; r < o->reps; r++) {
        for (int k = 0; k < 2; k++) {
            if ((k + r) % 2 == 0) {
                double t0 = now();
                if (eir_eigen(w, n, vals, NULL, NULL, &err)) {
                    fprintf(stderr, "eir_eigen: %s\n", err.message);
                    return 1;
                }
                t_eir[r] = now() - t0;
            } else {
                memcpy(copy, w, nn * sizeof *w);
                double t0 = now();
                if (bare_dgeev(copy, n)) {
                    fprintf(stderr, "dgeev failed\n");
                    return 1;
                }
                t_lapack[r] = now() - t0;
            }
        }
    }
    eir_eig_summary s;
    eir_eig_summarise(vals, n, &s);
    printf("{\"mode\": \"eigen\", \"n\": %d, \"reps\": %d, ", n, o->reps);
    print_times("eir_eigen_s", t_eir, o->reps);
    print_times("dgeev_s", t_lapack, o->reps);
    printf("\"median_eir_eigen_s\": %.6f, \"median_dgeev_s\": %.6f, \"spectral_radius\": %.15g}\n",
           median(t_eir, o->reps), median(t_lapack, o->reps), s.radius);
    free(w);
    free(copy);
    free(vals);
    return 0;
}

/* Seconds of eir_fixed_points from the one @p start with @p max_iter iterations, or -1. */
static double fp_call(const eir_model *m, const double *start, int max_iter)
{
    eir_error err;
    eir_fp_desc d;
    eir_fp_result res;
    double x = X_IN;
    eir_fp_desc_init(&d);
    d.x = &x;
    d.starts = start;
    d.n_starts = 1;
    d.max_iter = max_iter;
    double t0 = now();
    if (eir_fixed_points(m, &d, &res, &err)) {
        fprintf(stderr, "eir_fixed_points: %s\n", err.message);
        return -1;
    }
    double t = now() - t0;
    eir_fp_result_free(&res);
    return t;
}

/* One repetition of each timing of the newton mode, alternating the order: t[0] the call with
 * max_iter 1, t[1] dgetrf, t[2] eir_linearize, t[3] eir_dynamics, t[4] the call with max_iter
 * 2 (so t[4] - t[0] is one iteration without the call's set-up). */
static int newton_rep(const eir_model *m, int n, int r, const double *start, double *jac,
                      double *lu, int *ipiv, double t[5])
{
    eir_error err;
    double x = X_IN;
    for (int k = 0; k < 5; k++) {
        int which = (k + r) % 5, info = 0;
        double t0 = now();
        switch (which) {
        case 0:
        case 4:
            t[which] = fp_call(m, start, which == 0 ? 1 : 2);
            if (t[which] < 0) return -1;
            break;
        case 1:
            memcpy(lu, jac, (size_t)n * (size_t)n * sizeof *lu);
            t0 = now();
            dgetrf_(&n, &n, lu, &n, ipiv, &info);
            t[1] = now() - t0;
            if (info < 0) return -1;
            break;
        case 2:
            if (eir_linearize(m, start, &x, lu, &err)) return -1;
            t[2] = now() - t0;
            break;
        default:
            if (eir_dynamics(m, start, &x, lu, &err)) return -1;
            t[3] = now() - t0;
        }
    }
    return 0;
}

static int bench_newton(const bench_opts *o)
{
    int n = o->n;
    size_t nn = (size_t)n * (size_t)n;
    double *w = malloc(nn * sizeof *w), *jac = malloc(nn * sizeof *jac),
           *lu = malloc(nn * sizeof *lu), *p = malloc((size_t)n * sizeof *p),
           *start = malloc((size_t)n * sizeof *start);
    int *ipiv = malloc((size_t)n * sizeof *ipiv);
    double t_fp[MAX_REPS], t_lu[MAX_REPS], t_jac[MAX_REPS], t_dyn[MAX_REPS], t_it[MAX_REPS],
        x = X_IN;
    eir_error err;
    if (!w || !jac || !lu || !p || !start || !ipiv || make_w(n, o->radius, w)) return 1;
    eir_model *m = make_model(n, w, p);
    if (!m) return 1;
    gaussians(7, start, (size_t)n);
    if (eir_linearize(m, start, &x, jac, &err)) {
        fprintf(stderr, "eir_linearize: %s\n", err.message);
        return 1;
    }
    for (int r = 0; r < o->reps; r++) {
        double t[5] = {0};
        if (newton_rep(m, n, r, start, jac, lu, ipiv, t)) return 1;
        t_fp[r] = t[0];
        t_it[r] = t[4] - t[0];
        t_lu[r] = t[1];
        t_jac[r] = t[2];
        t_dyn[r] = t[3];
    }
    printf("{\"mode\": \"newton\", \"n\": %d, \"reps\": %d, ", n, o->reps);
    print_times("fixed_points_1_iter_s", t_fp, o->reps);
    print_times("second_iteration_s", t_it, o->reps);
    print_times("dgetrf_s", t_lu, o->reps);
    printf("\"median_fixed_points_1_iter_s\": %.6f, \"median_second_iteration_s\": %.6f, "
           "\"median_dgetrf_s\": %.6f, \"median_linearize_s\": %.6f, "
           "\"median_dynamics_s\": %.6f}\n",
           median(t_fp, o->reps), median(t_it, o->reps), median(t_lu, o->reps),
           median(t_jac, o->reps), median(t_dyn, o->reps));
    eir_model_free(m);
    free(w);
    free(jac);
    free(lu);
    free(p);
    free(start);
    free(ipiv);
    return 0;
}

/* Write a float64 (complex = 0) or complex128 (complex = 1) or int32 (complex = 2) array of
 * 1 or 2 dimensions as DIR/NAME.npy. */
static int write_npy(const char *dir, const char *name, const void *data, int kind, int64_t d0,
                     int64_t d1)
{
    static const char *descr[3] = {"<f8", "<c16", "<i4"};
    static const size_t size[3] = {8, 16, 4};
    char path[4096], header[256];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    int len;
    if (d1 >= 0)
        len = snprintf(header, sizeof header,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                       descr[kind], (long long)d0, (long long)d1);
    else
        len = snprintf(header, sizeof header,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }", descr[kind],
                       (long long)d0);
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    memset(header + len, ' ', (size_t)pad);
    header[len + pad] = '\n';
    uint16_t hlen = (uint16_t)(len + pad + 1);
    unsigned char magic[10] = {0x93,
                               'N',
                               'U',
                               'M',
                               'P',
                               'Y',
                               1,
                               0,
                               (unsigned char)(hlen & 0xff),
                               (unsigned char)(hlen >> 8)};
    size_t count = (size_t)d0 * (size_t)(d1 >= 0 ? d1 : 1);
    int ok = fwrite(magic, 1, 10, f) == 10 && fwrite(header, 1, hlen, f) == hlen &&
             fwrite(data, size[kind], count, f) == count;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* The network and the starts for the NumPy peer. */
static int dump_network(const char *dir, int n, const double *w, const double *starts, int k)
{
    int n_e = (int)(0.8 * n);
    size_t nn = (size_t)n * (size_t)n;
    double *mm = malloc(nn * sizeof *mm), drive[1] = {X_IN}, leak[1] = {LEAK};
    int32_t ne[1] = {n_e};
    if (!mm) return -1;
    for (size_t i = 0; i < nn; i++)
        mm[i] = A_TYPE[(int)(i % (size_t)n) >= n_e] * fabs(w[i]);
    int bad = write_npy(dir, "W", w, 0, n, n) || write_npy(dir, "M", mm, 0, n, n) ||
              write_npy(dir, "drive", drive, 0, 1, -1) || write_npy(dir, "leak", leak, 0, 1, -1) ||
              write_npy(dir, "n_e", ne, 2, 1, -1) || write_npy(dir, "starts", starts, 0, k, n);
    free(mm);
    return bad ? -1 : 0;
}

static int dump_points(const char *dir, const eir_fp_result *res)
{
    int k = res->count, n = res->n;
    return (write_npy(dir, "engine_V", res->V, 0, k, n) ||
            write_npy(dir, "engine_eigenvalues", res->eigvals, 1, k, n) ||
            write_npy(dir, "engine_residual", res->residual, 0, k, -1) ||
            write_npy(dir, "engine_hits", res->hits, 2, k, -1) ||
            write_npy(dir, "engine_stable", res->stable, 2, k, -1))
               ? -1
               : 0;
}

static int bench_fixed(const bench_opts *o)
{
    int n = o->n, k = o->starts;
    double *w = malloc((size_t)n * (size_t)n * sizeof *w), *p = malloc((size_t)n * sizeof *p),
           *starts = malloc((size_t)k * (size_t)n * sizeof *starts), t_fp[MAX_REPS], c_fp[MAX_REPS],
           x = X_IN;
    eir_fp_result res = {0};
    eir_error err;
    if (!o->out) {
        fprintf(stderr, "fixed: --out DIR is required\n");
        return 2;
    }
    if (!w || !p || !starts || make_w(n, o->radius, w)) return 1;
    eir_model *m = make_model(n, w, p);
    if (!m) return 1;
    gaussians(7, starts, (size_t)k * (size_t)n);
    if (dump_network(o->out, n, w, starts, k)) return 1;
    for (int r = 0; r < o->reps; r++) {
        eir_fp_desc d;
        eir_fp_desc_init(&d);
        d.x = &x;
        d.starts = starts;
        d.n_starts = k;
        d.threads = o->threads;
        eir_fp_result_free(&res);
        double t0 = now(), c0 = cpu_now();
        if (eir_fixed_points(m, &d, &res, &err)) {
            fprintf(stderr, "eir_fixed_points: %s\n", err.message);
            return 1;
        }
        t_fp[r] = now() - t0;
        c_fp[r] = cpu_now() - c0;
    }
    if (dump_points(o->out, &res)) return 1;
    printf("{\"mode\": \"fixed\", \"n\": %d, \"starts\": %d, \"threads\": %d, \"reps\": %d, ", n, k,
           o->threads, o->reps);
    print_times("fixed_points_s", t_fp, o->reps);
    print_times("fixed_points_cpu_s", c_fp, o->reps);
    printf("\"median_fixed_points_s\": %.6f, \"median_fixed_points_cpu_s\": %.6f, \"points\": %d, "
           "\"converged\": %d, \"failed\": %d}\n",
           median(t_fp, o->reps), median(c_fp, o->reps), res.count, res.converged, res.failed);
    eir_fp_result_free(&res);
    eir_model_free(m);
    free(w);
    free(p);
    free(starts);
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = {argc > 1 ? argv[1] : "", 0, 0, 100, 1, 1.5, NULL};
    for (int i = 2; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--n"))
            o.n = atoi(v);
        else if (!strcmp(a, "--reps"))
            o.reps = atoi(v);
        else if (!strcmp(a, "--starts"))
            o.starts = atoi(v);
        else if (!strcmp(a, "--threads"))
            o.threads = atoi(v) > 0 ? atoi(v) : 1;
        else if (!strcmp(a, "--radius"))
            o.radius = atof(v);
        else if (!strcmp(a, "--out"))
            o.out = v;
        else
            goto usage;
    }
    eir_blas_single_threaded();
    if (!strcmp(o.mode, "eigen")) {
        o.n = o.n > 0 ? o.n : 2000;
        o.reps = o.reps > 0 && o.reps <= MAX_REPS ? o.reps : 3;
        return bench_eigen(&o);
    }
    if (!strcmp(o.mode, "newton")) {
        o.n = o.n > 0 ? o.n : 1000;
        o.reps = o.reps > 0 && o.reps <= MAX_REPS ? o.reps : 7;
        return bench_newton(&o);
    }
    if (!strcmp(o.mode, "fixed") && o.starts > 0) {
        o.n = o.n > 0 ? o.n : 500;
        o.reps = o.reps > 0 && o.reps <= MAX_REPS ? o.reps : 3;
        return bench_fixed(&o);
    }
usage:
    fprintf(stderr, "usage: bench_analysis eigen|newton|fixed [--n N] [--reps R] [--starts K] "
                    "[--threads T] [--radius R] [--out DIR]\n");
    return 2;
}
