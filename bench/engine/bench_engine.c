/**
 * @file bench_engine.c
 * @brief Engine throughput against the fused-product limit (see docs/BENCHMARKS.md).
 *
 * For each shape N x B, precision and kind of A (structured = per-type {A_E, A_I}, full = an
 * N x N matrix), times eir_run() on a gated relu exp_euler model and, in the same process and
 * precision, T calls of the one BLAS product a naive implementation does per step: [W; M]
 * (2N x N) times the B rate vectors (gemv when B = 1, gemm with the engine's operand layout
 * when B > 1). That product alone is the "fused-product limit". Each repetition is at least
 * --min-time seconds; engine runs and limit runs alternate, and medians are reported.
 *
 * Synaptic updates per second (SUPS) = 2 N^2 B T / seconds for both (the 2 counts W and M).
 * Recording is not what is measured: the runs record r of 4 neurons every 10 steps.
 *
 * Usage: bench_engine [--shapes 64x1,256x64] [--prec float32,float64] [--a structured,full]
 *                     [--reps R] [--min-time S] [--json FILE] [--once T] [--threads 1,2]
 * --threads lists the engine's thread counts (eir_run_desc.threads, default 1): every count is
 * timed in the same alternation as the others, so their ratios are side by side. BLAS stays
 * single-threaded. --once T runs each selected engine case once with T steps and no limit
 * (for profilers).
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir.h"

#define MAX_SHAPES 16
#define MAX_THREADS 4
/** Engine cases per shape and precision: A kinds x thread counts. */
#define MAX_CASES (2 * MAX_THREADS)
#define N_INPUTS 2
#define N_REC 4
#define REC_EVERY 10
#define DT 0.1
#define LEAK 1.0
#define A_E 0.5
#define A_I 1.0

/** One timed quantity (an engine case or the limit): its T and the times of its repetitions. */
typedef struct series {
    int64_t T;
    int n;
    double t[64]; /**< wall seconds */
    double c[64]; /**< process CPU seconds */
} series;

/** Options from the command line. */
typedef struct options {
    int shapes[MAX_SHAPES][2];
    int n_shapes;
    int prec[2];  /**< run float32, float64 */
    int akind[2]; /**< run structured, full */
    int reps;
    double min_time;
    const char *json;
    int64_t once;
    int threads[MAX_THREADS]; /**< engine thread counts to time, side by side */
    int n_threads;
} options;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** CPU seconds of the last engine_time() or limit_time() call. */
static double last_cpu;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int k = 1; k < n; k++)
        m = v[k] < m ? v[k] : m;
    return m;
}

static double maximum(const double *v, int n)
{
    double m = v[0];
    for (int k = 1; k < n; k++)
        m = v[k] > m ? v[k] : m;
    return m;
}

/* ---- deterministic noise for the inputs and the limit's rates ---------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * 0x1.0p-53;
}

static double gauss(uint64_t *s)
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* ---- the benchmark network --------------------------------------------------------------- */

/** The models of one N: W, the structured and the full-A model, [W; M] in both precisions. */
typedef struct network {
    int n, n_e;
    double *W, *P, *Afull;
    eir_model *m[2]; /**< [0] structured A, [1] full A */
    double *WM;      /**< [W; M], 2N x N */
    float *WMf;
} network;

static void die_status(eir_status st, const eir_error *e, const char *what)
{
    if (st == EIR_OK) return;
    fprintf(stderr, "bench_engine: %s: %s (%s) [%s]\n", what, e->message, eir_status_name(st),
            e->field);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_engine: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void network_init(network *net, int n)
{
    const int n_e = (int)(0.8 * n), n_i = n - n_e;
    const size_t nn = (size_t)n * n;
    eir_error err;
    memset(net, 0, sizeof *net);
    net->n = n;
    net->n_e = n_e;
    net->W = xmalloc(nn * sizeof *net->W);
    net->P = xmalloc((size_t)n * N_INPUTS * sizeof *net->P);
    net->Afull = xmalloc(nn * sizeof *net->Afull);

    /* Dale-signed lognormal W, p = 0.2, I weights 4x E (roughly balanced), radius 0.9 */
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 1234;
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.2;
    g.mean[EIR_BLOCK_EI] = g.mean[EIR_BLOCK_II] = 4.0;
    g.spectral_radius = 0.9;
    die_status(eir_generate_recurrent(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0, net->W, &err), &err,
               "generate W");
    eir_gen_spec gi;
    eir_gen_spec_init(&gi);
    gi.seed = 99;
    die_status(eir_generate_input(&gi, n_e, n_i, N_INPUTS, net->P, &err), &err, "generate P");

    /* the same A as the structured model, written out as a full matrix */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            net->Afull[(size_t)i * n + j] = j < n_e ? A_E : A_I;
    const double leak = LEAK, a_type[2] = {A_E, A_I};
    for (int k = 0; k < 2; k++) {
        eir_model_desc d;
        eir_model_desc_init(&d);
        d.n_e = n_e;
        d.n_i = n_i;
        d.n_in = N_INPUTS;
        d.cls = EIR_CLASS_GATED;
        d.act.kind = EIR_ACT_RELU;
        d.leak = &leak;
        d.leak_len = 1;
        d.form = EIR_FORM_REDUCED;
        d.W = net->W;
        d.a_kind = k == 0 ? EIR_A_PER_TYPE : EIR_A_MATRIX;
        d.A = k == 0 ? a_type : net->Afull;
        d.P = net->P;
        /* dense products against the dense limit (compressed rows: bench/sparse) */
        d.storage = EIR_STORAGE_DENSE;
        die_status(eir_model_build(&d, &net->m[k], &err), &err, "build model");
    }

    /* the naive implementation's fused operand [W; M], in both precisions */
    net->WM = xmalloc(2 * nn * sizeof *net->WM);
    net->WMf = xmalloc(2 * nn * sizeof *net->WMf);
    eir_model_W_dense(net->m[1], net->WM);
    eir_model_M(net->m[1], net->WM + nn);
    for (size_t q = 0; q < 2 * nn; q++)
        net->WMf[q] = (float)net->WM[q];
}

static void network_free(network *net)
{
    eir_model_free(net->m[0]);
    eir_model_free(net->m[1]);
    free(net->W);
    free(net->P);
    free(net->Afull);
    free(net->WM);
    free(net->WMf);
}

/* ---- the two timed things ---------------------------------------------------------------- */

/** An engine case: model, B, precision and the buffers its runs use. */
typedef struct engine_case {
    const eir_model *m;
    int B;
    eir_precision prec;
    int akind; /**< 0 structured, 1 full */
    int threads;
    double *inputs; /**< B * T * n_in, grown as needed */
    size_t inputs_len;
    void *rec;
    size_t rec_len;
    eir_run_result last;
} engine_case;

static const int rec_neurons[N_REC] = {0, 1, 2, 3};

/** Make sure the case's input and record buffers hold @p T steps. */
static void engine_case_reserve(engine_case *c, int64_t T)
{
    size_t need = (size_t)c->B * (size_t)T * N_INPUTS;
    if (need > c->inputs_len) {
        free(c->inputs);
        c->inputs = xmalloc(need * sizeof *c->inputs);
        uint64_t s = 42;
        /* noisy positive drive: x = 1 + 0.5 xi */
        for (size_t q = 0; q < need; q++)
            c->inputs[q] = 1.0 + 0.5 * gauss(&s);
        c->inputs_len = need;
    }
    size_t rl = (size_t)c->B * (size_t)eir_recorded_rows(T, REC_EVERY) * N_REC * sizeof(double);
    if (rl > c->rec_len) {
        free(c->rec);
        c->rec = xmalloc(rl);
        c->rec_len = rl;
    }
}

/** One engine run of @p T steps; returns its wall time. */
static double engine_time(engine_case *c, int64_t T)
{
    engine_case_reserve(c, T);
    eir_run_desc r;
    eir_run_desc_init(&r);
    r.dt = DT;
    r.integrator = EIR_INTEG_EXP_EULER;
    r.precision = c->prec;
    r.T = T;
    r.B = c->B;
    r.inputs = c->inputs;
    r.record_mask = 1u << EIR_VAR_R;
    r.record_every = REC_EVERY;
    r.neurons = rec_neurons;
    r.n_neurons = N_REC;
    r.out[EIR_VAR_R] = c->rec;
    r.threads = c->threads;
    eir_error err;
    double c0 = cpu_s(), t0 = now_s();
    eir_status st = eir_run(c->m, &r, &c->last, &err);
    double t1 = now_s();
    last_cpu = cpu_s() - c0;
    die_status(st, &err, "eir_run");
    if (c->last.diverged) {
        fprintf(stderr, "bench_engine: the benchmark run diverged at step %lld\n",
                (long long)c->last.diverged_step);
        exit(1);
    }
    return t1 - t0;
}

/** The fused-product limit: T calls of [W; M] times the B rate rows, in one precision. */
typedef struct limit_case {
    int n, B;
    eir_precision prec;
    const double *WM;
    const float *WMf;
    double *R, *U;
    float *Rf, *Uf;
} limit_case;

static void limit_case_init(limit_case *l, const network *net, int B, eir_precision prec)
{
    const int n = net->n;
    memset(l, 0, sizeof *l);
    l->n = n;
    l->B = B;
    l->prec = prec;
    l->WM = net->WM;
    l->WMf = net->WMf;
    l->R = xmalloc((size_t)B * n * sizeof *l->R);
    l->Rf = xmalloc((size_t)B * n * sizeof *l->Rf);
    l->U = xmalloc((size_t)B * 2 * n * sizeof *l->U);
    l->Uf = xmalloc((size_t)B * 2 * n * sizeof *l->Uf);
    uint64_t s = 7;
    /* relu-like rates: about half zero */
    for (size_t q = 0; q < (size_t)B * n; q++) {
        double v = gauss(&s);
        l->R[q] = v > 0 ? v : 0.0;
        l->Rf[q] = (float)l->R[q];
    }
}

static void limit_case_free(limit_case *l)
{
    free(l->R);
    free(l->Rf);
    free(l->U);
    free(l->Uf);
}

static double limit_time(limit_case *l, int64_t T)
{
    const int n = l->n, B = l->B;
    double c0 = cpu_s(), t0 = now_s();
    if (l->prec == EIR_F64) {
        for (int64_t t = 0; t < T; t++) {
            if (B == 1)
                cblas_dgemv(CblasRowMajor, CblasNoTrans, 2 * n, n, 1, l->WM, n, l->R, 1, 0, l->U,
                            1);
            else
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, 2 * n, n, 1, l->R, n, l->WM,
                            n, 0, l->U, 2 * n);
        }
    } else {
        for (int64_t t = 0; t < T; t++) {
            if (B == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, 2 * n, n, 1, l->WMf, n, l->Rf, 1, 0, l->Uf,
                            1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, 2 * n, n, 1, l->Rf, n,
                            l->WMf, n, 0, l->Uf, 2 * n);
        }
    }
    double t1 = now_s();
    last_cpu = cpu_s() - c0;
    return t1 - t0;
}

/**
 * Choose T so that one call of @p fn takes about 1.15 @p min_time on a quiet machine: grow T
 * until a call takes >= 40 ms, scale, then check at the scaled T with the faster of two calls
 * (a call slowed down by other load would give too small a T) and rescale until it is long
 * enough.
 */
static int64_t calibrate(double (*fn)(void *, int64_t), void *ctx, double min_time)
{
    int64_t T = 8;
    double t;
    while ((t = fn(ctx, T)) < 0.04)
        T *= t < 0.004 ? 8 : 2;
    for (int pass = 0; pass < 3; pass++) {
        double want = ceil((double)T * min_time * 1.15 / t);
        T = want < 1 ? 1 : (int64_t)want;
        double t1 = fn(ctx, T), t2 = fn(ctx, T);
        t = t1 < t2 ? t1 : t2;
        if (t >= min_time) break;
    }
    return T;
}

static double engine_fn(void *c, int64_t T)
{
    return engine_time(c, T);
}

static double limit_fn(void *c, int64_t T)
{
    return limit_time(c, T);
}

/* ---- driver ------------------------------------------------------------------------------ */

static const char *const akind_name[2] = {"structured", "full"};

static double sups(int n, int B, int64_t T, double secs)
{
    return 2.0 * n * (double)n * B * (double)T / secs;
}

/** Print and write (JSON) the row of engine case @p e against the limit @p ls. */
static void report_case(const network *net, const engine_case *ec, const series *e,
                        const series *ls, FILE *json, int *first_json)
{
    const int n = net->n, B = ec->B;
    const double lmed = median(ls->t, ls->n), lcpu = median(ls->c, ls->n);
    const double lsups = sups(n, B, ls->T, lmed);
    const double med = median(e->t, e->n), cpu = median(e->c, e->n);
    const double esups = sups(n, B, e->T, med);
    const double ratio_cpu = sups(n, B, e->T, cpu) / sups(n, B, ls->T, lcpu);
    printf(
        "%5d %3d  %-7s  %-10s %2d %8lld %10.3f %9.3f %9.3f %6.2f %6.2f %8.3f %7.3f %7.3f  %.3f\n",
        n, B, eir_precision_name(ec->prec), akind_name[ec->akind], ec->threads, (long long)e->T,
        1e6 * med / (double)e->T, esups / 1e9, lsups / 1e9, esups / lsups, ratio_cpu,
        1e6 * cpu / (double)e->T, minimum(e->t, e->n), minimum(ls->t, ls->n), ec->last.mean_rate_e);
    fflush(stdout);
    if (!json) return;
    fprintf(json,
            "%s\n  {\"side\": \"engine\", \"N\": %d, \"B\": %d, \"precision\": \"%s\", "
            "\"a\": \"%s\", \"threads\": %d, \"T\": %lld, \"reps\": %d, \"median_s\": %.6g, "
            "\"min_s\": %.6g, \"max_s\": %.6g, \"median_cpu_s\": %.6g, \"per_step_s\": %.6g, "
            "\"sups\": %.6g, \"limit_T\": %lld, \"limit_median_s\": %.6g, \"limit_min_s\": %.6g, "
            "\"limit_median_cpu_s\": %.6g, \"limit_per_step_s\": %.6g, \"limit_sups\": %.6g, "
            "\"ratio_vs_limit\": %.4f, \"ratio_vs_limit_cpu\": %.4f, \"mean_rate_e\": %.6g, "
            "\"mean_rate_i\": %.6g}",
            *first_json ? "" : ",", n, B, eir_precision_name(ec->prec), akind_name[ec->akind],
            ec->threads, (long long)e->T, e->n, med, minimum(e->t, e->n), maximum(e->t, e->n), cpu,
            med / (double)e->T, esups, (long long)ls->T, lmed, minimum(ls->t, ls->n), lcpu,
            lmed / (double)ls->T, lsups, esups / lsups, ratio_cpu, ec->last.mean_rate_e,
            ec->last.mean_rate_i);
    *first_json = 0;
}

/**
 * Benchmark one shape and precision: every selected A kind at every thread count, and the
 * limit, alternating; appends rows to the JSON file and the table.
 */
static void bench_shape(const network *net, int B, eir_precision prec, const options *o, FILE *json,
                        int *first_json)
{
    engine_case ec[MAX_CASES];
    series es[MAX_CASES], ls = {0};
    limit_case lc;
    int nc = 0;
    memset(ec, 0, sizeof ec);
    memset(es, 0, sizeof es);
    for (int k = 0; k < 2; k++)
        for (int t = 0; t < o->n_threads && o->akind[k]; t++) {
            ec[nc].m = net->m[k];
            ec[nc].B = B;
            ec[nc].prec = prec;
            ec[nc].akind = k;
            ec[nc].threads = o->threads[t];
            nc++;
        }
    if (o->once > 0) {
        for (int k = 0; k < nc; k++) {
            double t = engine_time(&ec[k], o->once);
            printf("once %5d %3d %-7s %-10s threads %d T=%lld %.3f s %.3f us/step\n", net->n, B,
                   eir_precision_name(prec), akind_name[ec[k].akind], ec[k].threads,
                   (long long)o->once, t, 1e6 * t / (double)o->once);
            free(ec[k].inputs);
            free(ec[k].rec);
        }
        return;
    }
    limit_case_init(&lc, net, B, prec);
    for (int k = 0; k < nc; k++)
        es[k].T = calibrate(engine_fn, &ec[k], o->min_time);
    ls.T = calibrate(limit_fn, &lc, o->min_time);
    for (int k = 0; k < nc; k++)
        engine_case_reserve(&ec[k], es[k].T);

    /* alternate: every engine case, then the limit; rotate the start each repetition */
    for (int rep = 0; rep < o->reps; rep++) {
        for (int q = 0; q <= nc; q++) {
            int w = (q + rep) % (nc + 1);
            if (w < nc) {
                es[w].t[es[w].n] = engine_time(&ec[w], es[w].T);
                es[w].c[es[w].n++] = last_cpu;
            } else {
                ls.t[ls.n] = limit_time(&lc, ls.T);
                ls.c[ls.n++] = last_cpu;
            }
        }
    }
    for (int k = 0; k < nc; k++)
        report_case(net, &ec[k], &es[k], &ls, json, first_json);
    limit_case_free(&lc);
    for (int k = 0; k < nc; k++) {
        free(ec[k].inputs);
        free(ec[k].rec);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_engine [--shapes 64x1,256x64,...] [--prec float32,float64]\n"
                    "                    [--a structured,full] [--reps R] [--min-time S]\n"
                    "                    [--json FILE] [--once T] [--threads 1,2]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, options *o)
{
    static const int defaults[5][2] = {{64, 1}, {256, 1}, {1024, 1}, {256, 64}, {1024, 64}};
    memset(o, 0, sizeof *o);
    for (int k = 0; k < 5; k++) {
        o->shapes[k][0] = defaults[k][0];
        o->shapes[k][1] = defaults[k][1];
    }
    o->n_shapes = 5;
    o->prec[0] = o->prec[1] = 1;
    o->akind[0] = o->akind[1] = 1;
    o->reps = 7;
    o->min_time = 0.3;
    o->threads[0] = 1;
    o->n_threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--shapes")) {
            o->n_shapes = 0;
            for (const char *p = v; *p && o->n_shapes < MAX_SHAPES;) {
                int nn, bb, used;
                if (sscanf(p, "%dx%d%n", &nn, &bb, &used) != 2 || nn < 2 || bb < 1) usage();
                o->shapes[o->n_shapes][0] = nn;
                o->shapes[o->n_shapes][1] = bb;
                o->n_shapes++;
                p += used;
                if (*p == ',') p++;
            }
        } else if (!strcmp(a, "--prec")) {
            o->prec[0] = strstr(v, "float32") != NULL;
            o->prec[1] = strstr(v, "float64") != NULL;
        } else if (!strcmp(a, "--a")) {
            o->akind[0] = strstr(v, "structured") != NULL;
            o->akind[1] = strstr(v, "full") != NULL;
        } else if (!strcmp(a, "--reps")) {
            o->reps = atoi(v);
            if (o->reps < 1 || o->reps > 64) usage();
        } else if (!strcmp(a, "--min-time")) {
            o->min_time = atof(v);
            if (!(o->min_time > 0)) usage();
        } else if (!strcmp(a, "--json")) {
            o->json = v;
        } else if (!strcmp(a, "--threads")) {
            o->n_threads = 0;
            for (const char *p = v; *p && o->n_threads < MAX_THREADS;) {
                int t, used;
                if (sscanf(p, "%d%n", &t, &used) != 1 || t < 1) usage();
                o->threads[o->n_threads++] = t;
                p += used;
                if (*p == ',') p++;
            }
        } else if (!strcmp(a, "--once")) {
            o->once = atoll(v);
            if (o->once < 1) usage();
        } else {
            usage();
        }
    }
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    eir_blas_single_threaded();
    printf("# %s | core %s | BLAS threads %d\n", openblas_get_config(), openblas_get_corename(),
           openblas_get_num_threads());
    printf("# gated relu exp_euler, dt %g, leak %g, A_E %g, A_I %g, N_E = 0.8 N, %d noisy "
           "inputs,\n# recording r of %d neurons every %d steps; medians of %d\n",
           DT, LEAK, A_E, A_I, N_INPUTS, N_REC, REC_EVERY, o.reps);
    if (!o.once)
        printf("%5s %3s  %-7s  %-10s %2s %8s %10s %9s %9s %6s %6s %8s %7s %7s  %s\n", "N", "B",
               "prec", "A", "th", "T", "us/step", "GSUPS", "limGSUPS", "ratio", "r_cpu", "cpu_us",
               "min_s", "lmin_s", "rate_E");
    FILE *json = NULL;
    int first = 1;
    if (o.json) {
        json = fopen(o.json, "w");
        if (!json) {
            perror(o.json);
            return 1;
        }
        fprintf(json, "[");
    }
    int done[MAX_SHAPES] = {0};
    for (int s = 0; s < o.n_shapes; s++) {
        if (done[s]) continue;
        network net;
        network_init(&net, o.shapes[s][0]);
        for (int t = s; t < o.n_shapes; t++) {
            if (o.shapes[t][0] != net.n) continue;
            done[t] = 1;
            for (int p = 0; p < 2; p++)
                if (o.prec[p])
                    bench_shape(&net, o.shapes[t][1], p == 0 ? EIR_F32 : EIR_F64, &o, json, &first);
        }
        network_free(&net);
    }
    if (json) {
        fprintf(json, "\n]\n");
        fclose(json);
    }
    return 0;
}
