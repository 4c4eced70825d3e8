/**
 * @file bench_train.c
 * @brief One training iteration of eirnn (eir_net_loss_grad() + eir_adam_step()), timed, and
 * the case files of the PyTorch peer (bench/peers/torch_train.py; docs/BENCHMARKS.md,
 * "Training").
 *
 * A case is CLASS-NxB (class rnn, dale or gated, or gatedfull: class gated with a general A;
 * N cells, 80 % excitatory; a batch of B trials of T steps). Its network and batch are generated
 * here from fixed seeds, the same for every precision and thread count:
 *
 *   W: Dale-signed (E columns >= 0, I columns <= 0; class rnn takes the same signed W), each
 *      connection present with probability 0.8 (no self-connections), |W| half-normal, scaled
 *      to a bulk spectral radius 1.5 with E/I balance (I weights 4x E); A = 0.5 (E columns),
 *      1.0 (I columns) as a full N x N matrix (gated; gatedfull: every entry of A drawn
 *      uniformly in [0.25, 1.25], so that M is not a per-type multiple of |W|); G_b = 1, bias 0, P
 * ~ N(0, 0.25) (N x 3), W_out ~ N(0, 1/N) (3 x N, from all cells), b_out 0; relu, exp_euler, dt =
 * 0.2, no recurrent noise unless --sigma; batch: B trials of the perceptual decision task
 * (eir_task_generate(), the trial stream of the training's first iteration) at dt 20 ms with fixed
 * periods of T/20 (fixation), 18T/20 (stimulus) and T/20 (decision) steps: 3 inputs (fixation, two
 * noisy evidence channels), 3 outputs, label 0 until the decision, then the correct choice;
 *   training: cross-entropy over all steps, trainable W, P, bias, W_out, b_out (the default),
 *      Adam lr 1e-3 (0.9, 0.999, 1e-8), gradient clipped to norm 1.
 *
 * An iteration is what eir_task_train() does per update: eir_net_loss_grad() of the batch with
 * the noise key of the iteration, then eir_adam_step(). After --warmup iterations, --reps are
 * timed one by one (wall and process CPU time); medians are reported, one JSON line per case
 * and precision on stdout (and appended to --json FILE), a readable line on stderr.
 *
 * Usage: bench_train [--cases gated-50x16,gated-512x64] [--prec float32,float64] [--T 100]
 *                    [--threads 1] [--reps 10] [--warmup 2] [--sigma 0] [--euler]
 *                    [--json FILE] [--write DIR]
 * --write DIR writes, for each case, DIR/CASE.json and DIR/CASE.bin (the initial effective
 * arrays W, A, leak, bias, P, W_out, b_out, x and label as float64 little-endian) and, per
 * precision, eirnn's first iteration: the loss, the gradient norm, the gradient
 * (DIR/CASE.grad-PREC.bin, theta's layout) and the loss after one Adam step, for
 * torch_train.py --check. Nothing is timed then.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir.h"
#include "eir_task.h"
#include "eir_train.h"

#define MAX_CASES 16
#define MAX_REPS 256
#define N_IN 3
#define N_OUT 3
#define DT 0.2
#define A_E 0.5
#define A_I 1.0
#define P_CONN 0.8
#define RADIUS 1.5
#define SEED 20261206u
#define LR 1e-3
#define BETA1 0.9
#define BETA2 0.999
#define EPS 1e-8
#define CLIP 1.0

static const char *const ARRAY_NAMES[] = {"W",     "A",     "leak", "bias", "P",
                                          "W_out", "b_out", "x",    "label"};
#define N_ARRAYS 9

typedef struct options {
    char cases[MAX_CASES][32];
    int n_cases;
    int prec[2]; /**< run float64, float32 */
    int T, threads, reps, warmup;
    double sigma;
    eir_integrator integrator;
    const char *json;
    const char *write_dir;
} options;

/** One case's network and batch (all double, row-major). */
typedef struct bench_case {
    char name[32];
    eir_class cls;
    int full_a; /**< class "gatedfull": A a general matrix (else per presynaptic type) */
    int n, n_e, B, T;
    double *W, *A, *leak, *bias, *P, *W_out, *b_out, *x, *label_d;
    int32_t *label;
} bench_case;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_train: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void die_status(eir_status st, const eir_error *e, const char *what)
{
    if (st == EIR_OK) return;
    fprintf(stderr, "bench_train: %s: %s (%s) [%s]\n", what, e->message, eir_status_name(st),
            e->field);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory", NULL);
    return p;
}

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* ---- the case: network and batch from fixed seeds ---------------------------------------- */

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

/** The network of N cells (the same for every class and batch). */
static void make_network(bench_case *c)
{
    int n = c->n, n_e = c->n_e;
    uint64_t s = SEED + (uint64_t)n;
    double s_e = RADIUS / sqrt(4.0 * P_CONN * n); /* bulk radius: sqrt(N p (0.8 + 0.2 * 16)) */
    c->W = xcalloc((size_t)n * n, sizeof(double));
    c->A = xcalloc((size_t)n * n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double mag = fabs(gauss(&s)), present = uniform(&s) < P_CONN;
            int e = j < n_e;
            c->A[(size_t)i * n + j] = e ? A_E : A_I;
            if (i != j && present) c->W[(size_t)i * n + j] = e ? s_e * mag : -4.0 * s_e * mag;
        }
    c->leak = xcalloc((size_t)n, sizeof(double));
    c->bias = xcalloc((size_t)n, sizeof(double));
    c->P = xcalloc((size_t)n * N_IN, sizeof(double));
    c->W_out = xcalloc((size_t)N_OUT * n, sizeof(double));
    c->b_out = xcalloc(N_OUT, sizeof(double));
    for (int i = 0; i < n; i++)
        c->leak[i] = 1.0;
    for (int k = 0; k < n * N_IN; k++)
        c->P[k] = 0.5 * gauss(&s);
    for (int k = 0; k < N_OUT * n; k++)
        c->W_out[k] = gauss(&s) / sqrt((double)n);
    if (c->full_a) {
        uint64_t s2 = SEED + 104729u * (uint64_t)n;
        for (size_t k = 0; k < (size_t)n * n; k++)
            c->A[k] = 0.25 + uniform(&s2);
    }
}

/**
 * A batch of the perceptual decision task (eir_task_generate(), neurogym's conventions: sigma 1,
 * coherences 0-51.2 %) at dt 20 ms with the fixed periods fixation 100 ms, stimulus 1800 ms
 * (neurogym's default is 2000), delay 0, decision 100 ms: T/20, 18T/20, 0, T/20 steps, T = 100
 * by default. Every trial has all T steps and the loss weight 1 everywhere, so the peer's plain
 * mean cross-entropy is eirnn's masked one.
 */
static void make_batch(bench_case *c)
{
    int T = c->T, fix = T / 20, dec = T / 20, stim = T - fix - dec;
    eir_task_spec ts;
    eir_task_batch tb;
    eir_error err;
    eir_task_spec_init(&ts, EIR_TASK_PERCEPTUAL_DM, 20.0);
    ts.timing[0].a = 20.0 * fix;
    ts.timing[1].a = 20.0 * stim;
    ts.timing[2].a = 0.0;
    ts.timing[3].a = 20.0 * dec;
    die_status(eir_task_generate(&ts, eir_train_stream(SEED, 0, 1), c->B, &tb, &err), &err,
               "eir_task_generate");
    if (tb.B != c->B || tb.T != T || tb.n_in != N_IN || tb.n_out != N_OUT)
        die("the task's batch does not have the expected shape", NULL);
    c->x = xcalloc((size_t)c->B * T * N_IN, sizeof(double));
    c->label = xcalloc((size_t)c->B * T, sizeof(int32_t));
    c->label_d = xcalloc((size_t)c->B * T, sizeof(double));
    memcpy(c->x, tb.x, (size_t)c->B * T * N_IN * sizeof(double));
    for (size_t i = 0; i < (size_t)c->B * T; i++) {
        if (tb.mask[i] != 1.0 || tb.len[i / (size_t)T] != T)
            die("the task's batch has masked or short trials", NULL);
        c->label[i] = tb.label[i];
        c->label_d[i] = tb.label[i];
    }
    eir_task_batch_free(&tb);
}

static void case_init(bench_case *c, const char *name, int T)
{
    char cls[16];
    memset(c, 0, sizeof *c);
    if (sscanf(name, "%15[a-z]-%dx%d", cls, &c->n, &c->B) != 3 || c->n < 5 || c->B < 1)
        die("a case is CLASS-NxB (e.g. gated-50x16), not", name);
    if (!strcmp(cls, "rnn"))
        c->cls = EIR_CLASS_RNN;
    else if (!strcmp(cls, "dale"))
        c->cls = EIR_CLASS_DALE;
    else if (!strcmp(cls, "gated") || !strcmp(cls, "gatedfull"))
        c->cls = EIR_CLASS_GATED;
    else
        die("the class of a case is rnn, dale, gated or gatedfull, not", cls);
    c->full_a = !strcmp(cls, "gatedfull");
    snprintf(c->name, sizeof c->name, "%s", name);
    c->n_e = (4 * c->n) / 5;
    c->T = T;
    make_network(c);
    make_batch(c);
}

static void case_free(bench_case *c)
{
    double *d[] = {c->W, c->A, c->leak, c->bias, c->P, c->W_out, c->b_out, c->x, c->label_d};
    for (size_t k = 0; k < sizeof d / sizeof *d; k++)
        free(d[k]);
    free(c->label);
}

/* ---- eirnn's side: net, Adam, batch ------------------------------------------------------ */

typedef struct trainer {
    eir_train_spec spec;
    eir_net *net;
    eir_adam *adam;
    eir_batch batch;
    double *grad;
    int64_t iteration;
} trainer;

static void trainer_init(trainer *tr, const bench_case *c, const options *o, eir_precision prec)
{
    eir_model_desc d;
    eir_error err;
    eir_model_desc_init(&d);
    d.n_e = c->n_e;
    d.n_i = c->n - c->n_e;
    d.n_in = N_IN;
    d.cls = c->cls;
    d.leak = c->leak;
    d.leak_len = c->n;
    d.form = EIR_FORM_REDUCED;
    d.W = c->W;
    d.a_kind = EIR_A_MATRIX;
    d.A = c->cls == EIR_CLASS_GATED ? c->A : NULL;
    d.P = c->P;
    d.bias = c->bias;
    d.bias_len = c->n;
    d.n_out = N_OUT;
    d.W_out = c->W_out;
    d.b_out = c->b_out;
    d.readout_from = EIR_READOUT_ALL;
    d.sigma = o->sigma;
    d.storage = EIR_STORAGE_DENSE;

    eir_train_spec_init(&tr->spec);
    tr->spec.dt = DT;
    tr->spec.integrator = o->integrator;
    tr->spec.precision = prec;
    tr->spec.loss = EIR_LOSS_CE;
    tr->spec.lr = LR; /* the optimiser as the case files state it for the peer */
    tr->spec.beta1 = BETA1;
    tr->spec.beta2 = BETA2;
    tr->spec.eps = EPS;
    tr->spec.clip_norm = CLIP;
    tr->spec.seed = SEED;
    tr->spec.threads = o->threads;
    die_status(eir_net_new(&d, &tr->spec, &tr->net, &err), &err, "eir_net_new");
    die_status(eir_adam_new(tr->net, &tr->spec, &tr->adam, &err), &err, "eir_adam_new");
    tr->grad = xcalloc(eir_net_theta_len(tr->net), sizeof(double));
    memset(&tr->batch, 0, sizeof tr->batch);
    tr->batch.B = c->B;
    tr->batch.T = c->T;
    tr->batch.n_in = N_IN;
    tr->batch.n_out = N_OUT;
    tr->batch.x = c->x;
    tr->batch.label = c->label;
    tr->iteration = 0;
}

static void trainer_free(trainer *tr)
{
    eir_adam_free(tr->adam);
    eir_net_free(tr->net);
    free(tr->grad);
}

/** One training iteration; *t_grad gets the wall seconds of eir_net_loss_grad() alone. */
static void iterate(trainer *tr, eir_loss_parts *loss, double *grad_norm, double *t_grad)
{
    eir_error err;
    uint64_t key = eir_train_stream(tr->spec.seed, tr->iteration, 0);
    double t0 = now_s(CLOCK_MONOTONIC);
    die_status(eir_net_loss_grad(tr->net, &tr->batch, key, loss, tr->grad, NULL, &err), &err,
               "eir_net_loss_grad");
    *t_grad = now_s(CLOCK_MONOTONIC) - t0;
    eir_adam_step(tr->adam, tr->net, tr->grad, grad_norm);
    tr->iteration++;
}

/* ---- timing ------------------------------------------------------------------------------ */

static void time_case(const bench_case *c, const options *o, eir_precision prec, FILE *json)
{
    const char *pname = prec == EIR_F32 ? "float32" : "float64";
    double wall[MAX_REPS], cpu[MAX_REPS], grad_s[MAX_REPS], gn = 0;
    eir_loss_parts loss = {0}, first = {0};
    trainer tr;
    trainer_init(&tr, c, o, prec);
    for (int k = 0; k < o->warmup + o->reps; k++) {
        double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), tg;
        iterate(&tr, &loss, &gn, &tg);
        double t1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        if (k == 0) first = loss;
        if (k >= o->warmup) {
            wall[k - o->warmup] = t1 - t0;
            cpu[k - o->warmup] = c1 - c0;
            grad_s[k - o->warmup] = tg;
        }
    }
    double med = median(wall, o->reps), mn = wall[0], mx = wall[0];
    for (int k = 1; k < o->reps; k++) {
        mn = wall[k] < mn ? wall[k] : mn;
        mx = wall[k] > mx ? wall[k] : mx;
    }
    char line[16384];
    int len = snprintf(line, sizeof line,
                       "{\"side\": \"eirnn\", \"case\": \"%s\", \"class\": \"%s\", \"N\": %d, "
                       "\"B\": %d, \"T\": %d, \"precision\": \"%s\", \"threads\": %d, "
                       "\"reps\": %d, \"warmup\": %d, \"median_s\": %.9g, \"min_s\": %.9g, "
                       "\"max_s\": %.9g, \"median_cpu_s\": %.9g, \"median_loss_grad_s\": %.9g, "
                       "\"first_loss\": %.17g, \"last_loss\": %.17g, \"last_grad_norm\": %.17g, "
                       "\"times_s\": [",
                       c->name, eir_class_name(c->cls), c->n, c->B, c->T, pname, o->threads,
                       o->reps, o->warmup, med, mn, mx, median(cpu, o->reps),
                       median(grad_s, o->reps), first.total, loss.total, gn);
    for (int k = 0; k < o->reps && len < (int)sizeof line - 32; k++)
        len += snprintf(line + len, sizeof line - (size_t)len, "%s%.9g", k ? ", " : "", wall[k]);
    snprintf(line + len, sizeof line - (size_t)len, "]}\n");
    fputs(line, stdout);
    fflush(stdout);
    if (json) {
        fputs(line, json);
        fflush(json);
    }
    fprintf(stderr,
            "  eirnn  %-14s %-7s median %9.3f ms (cpu %9.3f ms, min %9.3f; loss_grad %9.3f) "
            "loss %.6f -> %.6f\n",
            c->name, pname, 1e3 * med, 1e3 * median(cpu, o->reps), 1e3 * mn,
            1e3 * median(grad_s, o->reps), first.total, loss.total);
    trainer_free(&tr);
}

/* ---- case files for the peer -------------------------------------------------------------- */

static FILE *open_file(const char *dir, const char *name, const char *suffix, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    FILE *f = fopen(path, mode);
    if (!f) die(path, strerror(errno));
    return f;
}

static void write_doubles(FILE *f, const double *v, size_t n)
{
    /* little-endian hosts only (x86-64, aarch64): the bytes are the doubles as they are */
    if (fwrite(v, sizeof *v, n, f) != n) die("cannot write a case file", strerror(errno));
}

/** eirnn's first iteration in @p prec, its gradient to DIR/CASE.grad-PREC.bin, as JSON. */
static void write_first_iteration(const bench_case *c, const options *o, eir_precision prec,
                                  FILE *js)
{
    const char *pname = prec == EIR_F32 ? "float32" : "float64";
    size_t off[EIR_NPARAMS], len[EIR_NPARAMS];
    eir_loss_parts loss, loss2;
    eir_error err;
    double gn, tg;
    trainer tr;
    char suffix[64];
    trainer_init(&tr, c, o, prec);
    uint64_t key = eir_train_stream(tr.spec.seed, 0, 0);
    iterate(&tr, &loss, &gn, &tg); /* the gradient in tr.grad is now clipped: recompute it */
    die_status(eir_net_forward(tr.net, &tr.batch, key, &loss2, NULL, &err), &err,
               "eir_net_forward");
    trainer_free(&tr);
    trainer_init(&tr, c, o, prec);
    die_status(eir_net_loss_grad(tr.net, &tr.batch, key, &loss, tr.grad, NULL, &err), &err,
               "eir_net_loss_grad");
    snprintf(suffix, sizeof suffix, ".grad-%s.bin", pname);
    FILE *g = open_file(o->write_dir, c->name, suffix, "wb");
    write_doubles(g, tr.grad, eir_net_theta_len(tr.net));
    if (fclose(g)) die("cannot write a gradient file", strerror(errno));
    eir_net_layout(tr.net, off, len);
    fprintf(js,
            "  \"%s\": {\"loss\": %.17g, \"grad_norm\": %.17g, \"loss2\": %.17g, "
            "\"grad_file\": \"%s%s\", \"layout\": {",
            pname, loss.total, gn, loss2.total, c->name, suffix);
    for (int p = 0; p < EIR_NPARAMS; p++)
        fprintf(js, "%s\"%s\": [%zu, %zu]", p ? ", " : "", eir_param_name((eir_param)p), off[p],
                len[p]);
    fprintf(js, "}}");
    trainer_free(&tr);
}

static void write_case(const bench_case *c, const options *o)
{
    size_t n = (size_t)c->n, bt = (size_t)c->B * (size_t)c->T;
    const double *arr[N_ARRAYS] = {c->W,     c->A,     c->leak, c->bias,   c->P,
                                   c->W_out, c->b_out, c->x,    c->label_d};
    size_t rows[N_ARRAYS] = {n, n, n, n, n, N_OUT, N_OUT, bt, bt};
    size_t cols[N_ARRAYS] = {n, n, 1, 1, N_IN, n, 1, N_IN, 1};
    FILE *bin = open_file(o->write_dir, c->name, ".bin", "wb");
    for (int k = 0; k < N_ARRAYS; k++)
        write_doubles(bin, arr[k], rows[k] * cols[k]);
    if (fclose(bin)) die("cannot write a case file", strerror(errno));

    FILE *js = open_file(o->write_dir, c->name, ".json", "w");
    fprintf(js,
            "{\"case\": \"%s\", \"class\": \"%s\", \"N\": %d, \"n_e\": %d, \"n_in\": %d, "
            "\"n_out\": %d, \"B\": %d, \"T\": %d, \"dt\": %g, \"integrator\": \"%s\", "
            "\"sigma\": %.17g, \"lr\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, "
            "\"eps\": %.17g, \"clip_norm\": %.17g,\n \"arrays\": [",
            c->name, eir_class_name(c->cls), c->n, c->n_e, N_IN, N_OUT, c->B, c->T, DT,
            o->integrator == EIR_INTEG_EULER ? "euler" : "exp_euler", o->sigma, LR, BETA1, BETA2,
            EPS, CLIP);
    for (int k = 0; k < N_ARRAYS; k++) {
        int x = k == 7, vec = cols[k] == 1 && k != 7;
        fprintf(js, "%s{\"name\": \"%s\", \"shape\": ", k ? ", " : "", ARRAY_NAMES[k]);
        if (x)
            fprintf(js, "[%d, %d, %d]}", c->B, c->T, N_IN);
        else if (k == 8)
            fprintf(js, "[%d, %d]}", c->B, c->T);
        else if (vec)
            fprintf(js, "[%zu]}", rows[k]);
        else
            fprintf(js, "[%zu, %zu]}", rows[k], cols[k]);
    }
    fprintf(js, "],\n \"engine\": {\n");
    int first = 1;
    for (int p = 0; p < 2; p++) {
        if (!o->prec[p]) continue;
        if (!first) fprintf(js, ",\n");
        write_first_iteration(c, o, p ? EIR_F32 : EIR_F64, js);
        first = 0;
    }
    fprintf(js, "\n }}\n");
    if (fclose(js)) die("cannot write a case file", strerror(errno));
    fprintf(stderr, "bench_train: wrote %s/%s.{json,bin}\n", o->write_dir, c->name);
}

/* ---- command line ------------------------------------------------------------------------ */

static int int_arg(const char *s, int lo, int hi, const char *opt)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) die(opt, "out of range or not an integer");
    return (int)v;
}

static void parse_args(int argc, char **argv, options *o)
{
    const char *cases = "gated-50x16,gated-512x64", *prec = "float32,float64";
    memset(o, 0, sizeof *o);
    o->T = 100;
    o->threads = 1;
    o->reps = 10;
    o->warmup = 2;
    o->integrator = EIR_INTEG_EXP_EULER;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (!strcmp(a, "--euler")) {
            o->integrator = EIR_INTEG_EULER;
            continue;
        }
        if (!v) die("missing value after", a);
        k++;
        if (!strcmp(a, "--cases"))
            cases = v;
        else if (!strcmp(a, "--prec"))
            prec = v;
        else if (!strcmp(a, "--T"))
            o->T = int_arg(v, 10, 100000, a);
        else if (!strcmp(a, "--threads"))
            o->threads = int_arg(v, 1, 256, a);
        else if (!strcmp(a, "--reps"))
            o->reps = int_arg(v, 1, MAX_REPS, a);
        else if (!strcmp(a, "--warmup"))
            o->warmup = int_arg(v, 0, 1000, a);
        else if (!strcmp(a, "--sigma"))
            o->sigma = atof(v);
        else if (!strcmp(a, "--json"))
            o->json = v;
        else if (!strcmp(a, "--write"))
            o->write_dir = v;
        else
            die("unknown option", a);
    }
    o->prec[0] = strstr(prec, "float64") != NULL;
    o->prec[1] = strstr(prec, "float32") != NULL;
    if (!o->prec[0] && !o->prec[1]) die("--prec lists float32 and/or float64, not", prec);
    for (const char *p = cases; *p;) {
        size_t n = strcspn(p, ",");
        if (o->n_cases == MAX_CASES || n == 0 || n >= sizeof o->cases[0])
            die("too many cases or a bad name in", cases);
        memcpy(o->cases[o->n_cases], p, n);
        o->cases[o->n_cases++][n] = '\0';
        p += n + (p[n] == ',');
    }
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    eir_blas_single_threaded();
    FILE *json = o.json ? fopen(o.json, "a") : NULL;
    if (o.json && !json) die(o.json, strerror(errno));
    for (int k = 0; k < o.n_cases; k++) {
        bench_case c;
        case_init(&c, o.cases[k], o.T);
        if (o.write_dir)
            write_case(&c, &o);
        else
            for (int p = 1; p >= 0; p--) /* float32 first, as the peer */
                if (o.prec[p]) time_case(&c, &o, p ? EIR_F32 : EIR_F64, json);
        case_free(&c);
    }
    if (json && fclose(json)) die(o.json, strerror(errno));
    return 0;
}
