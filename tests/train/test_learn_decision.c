/**
 * @file test_learn_decision.c
 * @brief The networks learn: each class (rnn, dale, gated), 50 cells (40 E, 10 I), trained on
 * neurogym's perceptual decision making with varied period lengths, then tested on 1,000
 * held-out trials (stream 3) with a fixed 500 ms stimulus over the default coherences, comes
 * within 2 percentage points of the ideal observer on the same trials, and its psychometric
 * curve rises with the signed coherence (docs/TRAINING.md "Learning the decision task").
 *
 * Slow (ctest label "slow": the sanitizer suites leave it out). Prints, per class, the
 * iterations, the wall time, the accuracy, the ideal observer and the psychometric curve.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "eir_task.h"

#define N_E 40
#define N_I 10
#define N (N_E + N_I)

/* The settings recorded in TRAINING.md. */
#define DT 20.0      /* ms */
#define LEAK 0.01    /* G_b, 1/ms: tau_m = 100 ms */
#define RADIUS 0.008 /* spectral radius of the initial W, 1/ms (0.8 G_b: stable) */
#define GATE_A 0.5   /* gated: A, M = A |W| */
#define SIGMA 0.01   /* the model's recurrent noise */
#define BATCH 128
#define ITERATIONS 1000
#define LR 1e-5 /* W is ~1e-3 per ms: Adam moves every entry by up to lr per step */
#define CLIP 1.0
#define SEED 1
#define TEST_TRIALS 1000
#define MARGIN 0.02 /* accuracy >= ideal observer - 2 percentage points */

/** Owned arrays of a model description. */
typedef struct model_arrays {
    double W[N * N], A, leak[N], P[N * 3], W_out[3 * N], b_out[3];
    eir_model_desc d;
} model_arrays;

static void check_ok(eir_status st, const eir_error *err, const char *what)
{
    if (st != EIR_OK) {
        print_error("%s: %s [%s] %s\n", what, eir_status_name(st), err->field, err->message);
        fail();
    }
}

/** Deterministic normal numbers for the initial input and readout weights (Box-Muller on a
 *  xorshift64*: any fixed generator does, the test only needs the same start every run). */
static double normal(uint64_t *x)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *x ^= *x >> 12, *x ^= *x << 25, *x ^= *x >> 27;
        u[k] = ((double)((*x * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/**
 * The initial model of class @p cls (TRAINING.md "Learning the decision task"): W from a
 * generated recipe (all-to-all without self-connections, lognormal magnitudes of cv 0.5, I
 * blocks 4 times the E blocks' mean so that E and I inputs balance on average, spectral radius
 * RADIUS); for rnn the same magnitudes with pseudo-random signs; P ~ N(0, 0.02^2),
 * W_out ~ N(0, 1/N), b_out = 0, bias 0, leak LEAK; gated: A = GATE_A.
 */
static void model_init(model_arrays *m, eir_class cls)
{
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 2026;
    for (int b = 0; b < 4; b++)
        g.p[b] = 1.0;
    g.mean[EIR_BLOCK_EE] = g.mean[EIR_BLOCK_IE] = 1.0;
    g.mean[EIR_BLOCK_EI] = g.mean[EIR_BLOCK_II] = 4.0; /* I columns 4x stronger: balanced */
    g.cv = 0.5;
    g.spectral_radius = RADIUS;
    eir_error err;
    check_ok(eir_generate_recurrent(&g, N_E, N_I, EIR_FORM_REDUCED, 0, 0, m->W, &err), &err,
             "generate W");
    if (cls == EIR_CLASS_RNN) /* no Dale's law: random signs, same magnitudes */
        for (int k = 0; k < N * N; k++)
            if ((k * 2654435761u) >> 31 & 1u) m->W[k] = -m->W[k];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < N; k++)
        m->leak[k] = LEAK;
    for (int k = 0; k < N * 3; k++)
        m->P[k] = 0.02 * normal(&x);
    for (int k = 0; k < 3 * N; k++)
        m->W_out[k] = normal(&x) / sqrt((double)N);
    for (int k = 0; k < 3; k++)
        m->b_out[k] = 0;
    m->A = GATE_A;
    eir_model_desc_init(&m->d);
    m->d.n_e = N_E;
    m->d.n_i = N_I;
    m->d.n_in = 3;
    m->d.cls = cls;
    m->d.act.kind = EIR_ACT_RELU;
    m->d.leak = m->leak;
    m->d.leak_len = N;
    m->d.W = m->W;
    if (cls == EIR_CLASS_GATED) m->d.a_kind = EIR_A_SCALAR, m->d.A = &m->A;
    m->d.P = m->P;
    m->d.n_out = 3;
    m->d.W_out = m->W_out;
    m->d.b_out = m->b_out;
    m->d.sigma = SIGMA;
}

/** Set period @p name of @p t to @p d. */
static void set_period(eir_task_spec *t, const char *name, eir_duration d)
{
    for (int p = 0; p < eir_task_n_periods(t->kind); p++)
        if (strcmp(eir_task_period_name(t->kind, p), name) == 0) {
            t->timing[p] = d;
            return;
        }
    print_error("no period %s\n", name);
    fail();
}

static eir_duration uniform(double a, double b)
{
    eir_duration d;
    memset(&d, 0, sizeof d);
    d.kind = EIR_DUR_UNIFORM;
    d.a = a;
    d.b = b;
    return d;
}

static eir_duration constant(double a)
{
    eir_duration d;
    memset(&d, 0, sizeof d);
    d.kind = EIR_DUR_CONSTANT;
    d.a = a;
    return d;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct curve_ctx {
    double loss_sum, acc_sum;
    int rows;
} curve_ctx;

/** Print the mean loss and training accuracy of every 250 iterations. */
static int curve_row(void *ctx, const eir_train_row *row, const eir_net *n, const eir_adam *a)
{
    (void)n;
    (void)a;
    curve_ctx *c = ctx;
    c->loss_sum += row->loss.total;
    c->acc_sum += row->accuracy;
    if (++c->rows == 250) {
        printf("    iterations %5lld: loss %.4f, training accuracy %.3f\n",
               (long long)row->iteration, c->loss_sum / c->rows, c->acc_sum / c->rows);
        c->loss_sum = c->acc_sum = 0;
        c->rows = 0;
    }
    return 0;
}

/**
 * Slope of the logistic fit p = 1 / (1 + exp(-(a + b c))) to the psychometric points by
 * maximum likelihood (Newton's method on the binomial log-likelihood).
 */
static double logistic_slope(const eir_psy_point *p, int np)
{
    double a = 0, b = 0;
    for (int it = 0; it < 100; it++) {
        double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
        for (int k = 0; k < np; k++) {
            double c = p[k].coherence, n = (double)p[k].n;
            double q = 1 / (1 + exp(-(a + b * c))), w = n * q * (1 - q) + 1e-12;
            double r = n * (p[k].p_choice2 - q);
            ga += r, gb += r * c;
            haa += w, hab += w * c, hbb += w * c * c;
        }
        double det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
        a += da, b += db;
        if (fabs(da) + fabs(db) < 1e-12) break;
    }
    return b;
}

/**
 * The ideal observer's psychometric curve on the test trials, regenerated as TRAINING.md
 * "Evaluation" defines them (chunk c of 256 trials from eir_train_stream(key, c, 1)); it
 * chooses 2 when the summed evidence is > 0. Prints it; returns its accuracy.
 */
static double ideal_psychometric(const eir_task_spec *t, uint64_t key, int trials)
{
    double coh[2 * EIR_TASK_MAX_COHERENCES + 1],
        n[2 * EIR_TASK_MAX_COHERENCES + 1] = {0}, n2[2 * EIR_TASK_MAX_COHERENCES + 1] = {0};
    int np = 0;
    int64_t correct = 0;
    for (int c = 0; c * 256 < trials; c++) {
        int B = trials - c * 256 < 256 ? trials - c * 256 : 256;
        eir_task_batch tb;
        eir_error err;
        check_ok(eir_task_generate(t, eir_train_stream(key, c, 1), B, &tb, &err), &err, "generate");
        for (int b = 0; b < B; b++) {
            int choice = tb.evidence[b] > 0 ? 2 : 1, k = 0;
            correct += choice == tb.gt[b];
            while (k < np && coh[k] != tb.coherence[b])
                k++;
            if (k == np) coh[np++] = tb.coherence[b];
            n[k] += 1;
            n2[k] += choice == 2;
        }
        eir_task_batch_free(&tb);
    }
    printf("  ideal observer's psychometric (signed coherence: p(choice 2)):");
    for (double last = -INFINITY;;) { /* in increasing coherence */
        int k = -1;
        for (int j = 0; j < np; j++)
            if (coh[j] > last && (k < 0 || coh[j] < coh[k])) k = j;
        if (k < 0) break;
        printf(" %g: %.3f;", coh[k], n2[k] / n[k]);
        last = coh[k];
    }
    printf("\n");
    return (double)correct / trials;
}

/** Train class @p cls and test it; fail unless it reaches the bar. */
static void learn(eir_class cls)
{
    model_arrays *m = calloc(1, sizeof *m);
    assert_non_null(m);
    model_init(m, cls);
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = DT;
    s.loss = EIR_LOSS_CE;
    s.lr = LR;
    s.clip_norm = CLIP;
    s.seed = SEED;
    s.threads = 2;
    eir_error err;
    eir_net *net = NULL;
    eir_adam *adam = NULL;
    check_ok(eir_net_new(&m->d, &s, &net, &err), &err, "eir_net_new");
    check_ok(eir_adam_new(net, &s, &adam, &err), &err, "eir_adam_new");

    eir_task_spec train;
    eir_task_spec_init(&train, EIR_TASK_PERCEPTUAL_DM, DT);
    set_period(&train, "fixation", uniform(50, 400));
    set_period(&train, "stimulus", uniform(100, 800));
    set_period(&train, "decision", constant(100));
    eir_task_spec test = train;
    set_period(&test, "stimulus", constant(500));

    printf("%s: %d cells (%d E, %d I), relu, dt %g ms, batch %d, lr %g, clip %g\n",
           eir_class_name(cls), N, N_E, N_I, DT, BATCH, LR, CLIP);
    curve_ctx c = {0, 0, 0};
    double t0 = now();
    check_ok(eir_task_train(net, adam, &train, &s, BATCH, 0, ITERATIONS, curve_row, &c, &err), &err,
             "eir_task_train");
    double wall = now() - t0;
    eir_task_eval ev;
    check_ok(
        eir_task_evaluate(net, &test, &s, eir_train_stream(SEED, 0, 3), TEST_TRIALS, &ev, &err),
        &err, "eir_task_evaluate");
    printf("  %s: %d iterations in %.1f s; test accuracy %.3f (%lld/%lld), ideal observer %.3f\n",
           eir_class_name(cls), ITERATIONS, wall, ev.score.accuracy, (long long)ev.score.correct,
           (long long)ev.score.trials, ev.ideal);
    printf("  psychometric (signed coherence: trials, p(choice 2)):");
    for (int k = 0; k < ev.n_psy; k++)
        printf(" %g: %lld, %.3f;", ev.psy[k].coherence, (long long)ev.psy[k].n,
               ev.psy[k].p_choice2);
    double slope = logistic_slope(ev.psy, ev.n_psy);
    printf("\n  logistic slope %.4f per coherence unit\n", slope);
    double ideal = ideal_psychometric(&test, eir_train_stream(SEED, 0, 3), TEST_TRIALS);
    fflush(stdout);
    assert_true(ideal == ev.ideal);

    assert_int_equal(ev.score.trials, TEST_TRIALS);
    assert_true(ev.ideal > 0.8 && ev.ideal < 0.93);
    if (!(ev.score.accuracy >= ev.ideal - MARGIN)) {
        print_error("%s: accuracy %.3f is more than %.0f points below the ideal observer's %.3f\n",
                    eir_class_name(cls), ev.score.accuracy, 100 * MARGIN, ev.ideal);
        fail();
    }
    assert_true(ev.n_psy >= 5);
    assert_true(slope > 0);
    assert_true(ev.psy[0].p_choice2 < 0.1);
    assert_true(ev.psy[ev.n_psy - 1].p_choice2 > 0.9);
    eir_adam_free(adam);
    eir_net_free(net);
    free(m);
}

static void test_learn_rnn(void **state)
{
    (void)state;
    learn(EIR_CLASS_RNN);
}

static void test_learn_dale(void **state)
{
    (void)state;
    learn(EIR_CLASS_DALE);
}

static void test_learn_gated(void **state)
{
    (void)state;
    learn(EIR_CLASS_GATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learn_rnn),
        cmocka_unit_test(test_learn_dale),
        cmocka_unit_test(test_learn_gated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
