/**
 * @file bench_sparse.c
 * @brief Sparse against dense storage of one generated model (docs/BENCHMARKS.md, "Sparse
 *        connectivity").
 *
 * Generates the recurrent W of a gated relu network of N cells (80 % E) with connection
 * probability p in every pathway (eir_generate_recurrent, lognormal magnitudes, no spectral
 * radius), builds it twice, dense (EIR_STORAGE_DENSE) and with the default storage (compressed
 * rows at this size and density), and reports the generation and build times, the bytes each
 * model holds (eir_model_bytes) and whether their hashes agree. Then it times a step of each:
 * eir_run() of --steps exp_euler steps with --B trials (default 1), recording r of 4 cells every 10
 * steps, the two models alternating, --reps repetitions each; the medians per step and their ratio
 * are printed and written to --json.
 *
 * Usage: bench_sparse [--n 10000] [--p 0.1] [--steps 20] [--reps 7] [--a structured|full]
 *                     [--prec float64|float32] [--B 1] [--threads 1] [--json FILE]
 *                     [--storage auto|sparse]
 * --storage sparse forces compressed rows (to measure the automatic rule's thresholds).
 * --a full gives the gate a full N x N matrix A (fused [W; M] products, twice the memory).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir.h"

#define MAX_REPS 64
#define N_REC 4

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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, const eir_error *err)
{
    fprintf(stderr, "bench_sparse: %s: %s\n", what, err ? err->message : "out of memory");
    exit(1);
}

/** Wall seconds per step of @p steps steps of @p m with @p B trials (process CPU seconds per
 * step in *cpu_per_step). */
static double time_steps(const eir_model *m, int steps, int B, eir_precision prec, int threads,
                         void *rec, double *cpu_per_step)
{
    static const int cells[N_REC] = {0, 1, 2, 3};
    eir_run_desc r;
    eir_run_desc_init(&r);
    r.dt = 0.1;
    r.T = steps;
    r.B = B;
    r.precision = prec;
    r.threads = threads;
    r.record_mask = 1u << EIR_VAR_R;
    r.record_every = 10;
    r.neurons = cells;
    r.n_neurons = N_REC;
    r.out[EIR_VAR_R] = rec;
    const double v0 = 0.5;
    r.V0 = &v0;
    r.V0_len = 1;
    eir_run_result res;
    eir_error err;
    double t0 = now(), c0 = cpu_now();
    if (eir_run(m, &r, &res, &err) != EIR_OK) die("eir_run", &err);
    *cpu_per_step = (cpu_now() - c0) / steps;
    return (now() - t0) / steps;
}

int main(int argc, char **argv)
{
    int n = 10000, steps = 20, reps = 7, full = 0, threads = 1, B = 1, force = 0;
    double p = 0.1;
    eir_precision prec = EIR_F64;
    const char *json = NULL;
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--n"))
            n = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--p"))
            p = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--steps"))
            steps = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--reps"))
            reps = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--a"))
            full = !strcmp(argv[a + 1], "full");
        else if (!strcmp(argv[a], "--prec"))
            prec = !strcmp(argv[a + 1], "float32") ? EIR_F32 : EIR_F64;
        else if (!strcmp(argv[a], "--storage"))
            force = !strcmp(argv[a + 1], "sparse");
        else if (!strcmp(argv[a], "--B"))
            B = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--threads"))
            threads = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--json"))
            json = argv[a + 1];
        else {
            fprintf(stderr, "bench_sparse: unknown option %s\n", argv[a]);
            return 2;
        }
    }
    if (n < 10 || steps < 1 || reps < 1 || reps > MAX_REPS || B < 1 || !(p > 0 && p <= 1)) {
        fprintf(stderr, "bench_sparse: bad options\n");
        return 2;
    }
    eir_blas_single_threaded();
    const int ne = n * 4 / 5, ni = n - ne;
    const size_t nn = (size_t)n * n;
    double *W = malloc(nn * sizeof *W), *A = full ? malloc(nn * sizeof *A) : NULL;
    if (!W || (full && !A)) die("W", NULL);

    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 42;
    for (int b = 0; b < 4; b++) {
        g.p[b] = p;
        g.mean[b] = (b % 2 ? 2.0 : 1.0) / (p * n); /* I pathways twice as strong */
    }
    eir_error err;
    double t0 = now();
    if (eir_generate_recurrent(&g, ne, ni, EIR_FORM_REDUCED, 0, 0, W, &err) != EIR_OK)
        die("generate", &err);
    const double gen_s = now() - t0;
    if (A)
        for (size_t k = 0; k < nn; k++)
            A[k] = 0.5 + 0.5 * (double)(k % 7) / 7.0;

    static const double a_type[2] = {0.5, 1.0};
    const double leak = 1.0, bias = 0.5;
    eir_model_desc d;
    eir_model_desc_init(&d);
    d.n_e = ne;
    d.n_i = ni;
    d.cls = EIR_CLASS_GATED;
    d.act.kind = EIR_ACT_RELU;
    d.leak = &leak;
    d.leak_len = 1;
    d.W = W;
    d.a_kind = full ? EIR_A_MATRIX : EIR_A_PER_TYPE;
    d.A = full ? A : a_type;
    d.bias = &bias;
    d.bias_len = 1;

    eir_model *md = NULL, *ms = NULL;
    d.storage = EIR_STORAGE_DENSE;
    t0 = now();
    if (eir_model_build(&d, &md, &err) != EIR_OK) die("dense build", &err);
    const double build_dense_s = now() - t0;
    d.storage = force ? EIR_STORAGE_SPARSE : EIR_STORAGE_AUTO;
    t0 = now();
    if (eir_model_build(&d, &ms, &err) != EIR_OK) die("sparse build", &err);
    const double build_sparse_s = now() - t0;
    free(W);
    free(A);
    char hd[65], hs[65];
    t0 = now();
    eir_model_hash(ms, hs);
    const double hash_s = now() - t0;
    eir_model_hash(md, hd);

    void *rec = malloc((size_t)B * N_REC * (size_t)(steps / 10 + 1) * sizeof(double));
    double td[MAX_REPS], tsp[MAX_REPS], cd[MAX_REPS], cs[MAX_REPS];
    time_steps(md, 2, B, prec, threads, rec, cd); /* warm both */
    time_steps(ms, 2, B, prec, threads, rec, cs);
    for (int q = 0; q < reps; q++) {
        td[q] = time_steps(md, steps, B, prec, threads, rec, &cd[q]);
        tsp[q] = time_steps(ms, steps, B, prec, threads, rec, &cs[q]);
    }
    const double step_d = median(td, reps), step_s = median(tsp, reps);
    const double cpu_d = median(cd, reps), cpu_s = median(cs, reps);
    free(rec);

    printf("# bench_sparse: N %d, p %g, A %s, %s, B %d, %d threads, %d steps x %d reps\n", n, p,
           full ? "full" : "structured", eir_precision_name(prec), B, threads, steps, reps);
    printf("generation (eir_generate_recurrent): %.3f s\n", gen_s);
    printf("build dense : %.3f s, %.1f MB held\n", build_dense_s, eir_model_bytes(md) / 1e6);
    printf("build sparse: %.3f s, %.1f MB held (%s, %zu nonzeros, density %.4f)\n", build_sparse_s,
           eir_model_bytes(ms) / 1e6, eir_model_sparse(ms) ? "compressed rows" : "DENSE",
           eir_model_nnz(ms), (double)eir_model_nnz(ms) / (double)nn);
    printf("hash: %s (sparse model hashed in %.3f s)\n", strcmp(hd, hs) ? "DIFFERENT" : "equal",
           hash_s);
    printf("step dense : %.3f ms wall, %.3f ms CPU (medians)\n", 1e3 * step_d, 1e3 * cpu_d);
    printf("step sparse: %.3f ms wall, %.3f ms CPU (medians)\n", 1e3 * step_s, 1e3 * cpu_s);
    printf("sparse speed-up: %.2fx wall, %.2fx CPU\n", step_d / step_s, cpu_d / cpu_s);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) die(json, NULL);
        fprintf(f,
                "{\"n\": %d, \"B\": %d, \"p\": %g, \"a\": \"%s\", \"precision\": \"%s\", "
                "\"threads\": %d, "
                "\"nnz\": %zu, \"sparse\": %d, \"gen_s\": %.6f, \"build_dense_s\": %.6f, "
                "\"build_sparse_s\": %.6f, \"bytes_dense\": %zu, \"bytes_sparse\": %zu, "
                "\"hash_equal\": %s, \"step_dense_s\": %.9f, \"step_sparse_s\": %.9f, "
                "\"cpu_dense_s\": %.9f, \"cpu_sparse_s\": %.9f}\n",
                n, B, p, full ? "full" : "structured", eir_precision_name(prec), threads,
                eir_model_nnz(ms), eir_model_sparse(ms), gen_s, build_dense_s, build_sparse_s,
                eir_model_bytes(md), eir_model_bytes(ms), strcmp(hd, hs) ? "false" : "true", step_d,
                step_s, cpu_d, cpu_s);
        fclose(f);
    }
    eir_model_free(md);
    eir_model_free(ms);
    return 0;
}
