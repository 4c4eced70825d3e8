/**
 * @file test_train_loop.c
 * @brief The training loop (eir_task_train) and evaluation (eir_task_evaluate): Dale's signs,
 * masks and projections hold after every update; a training resumed from a checkpoint ends with
 * the same bytes as an uninterrupted one, at any thread count; cancellation; evaluation in
 * chunks as TRAINING.md defines them; bad arguments.
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

#include "eir_task.h"

#define N_E 8
#define N_I 2
#define N (N_E + N_I)
#define N_IN 3
#define N_OUT 3

/** A small model for the decision task: generated sparse recurrence, inputs, readout. */
typedef struct small_model {
    double W[N * N], A[N * N], leak[N], P[N * N_IN], W_out[N_OUT * N], b_out[N_OUT];
    eir_model_desc d;
} small_model;

/** xorshift64 uniform in [-0.5, 0.5). */
static double uni(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return (double)(*x >> 11) / 9007199254740992.0 - 0.5;
}

static void check_ok(eir_status st, const eir_error *err, const char *what)
{
    if (st != EIR_OK) {
        print_error("%s: %s [%s] %s\n", what, eir_status_name(st), err->field, err->message);
        fail();
    }
}

/** Fill @p m: class @p cls, form @p form; half the recurrent connections absent. */
static void small_model_init(small_model *m, eir_class cls, eir_form form)
{
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 7;
    for (int b = 0; b < 4; b++)
        g.p[b] = 0.5, g.mean[b] = 0.05;
    g.spectral_radius = 0.012;
    eir_error err;
    check_ok(eir_generate_recurrent(&g, N_E, N_I, form, 1.0, -1.0, m->W, &err), &err, "generate");
    uint64_t x = 12345;
    for (int k = 0; k < N * N; k++)
        m->A[k] = 0.5 + uni(&x);
    for (int k = 0; k < N; k++)
        m->leak[k] = 0.01;
    for (int k = 0; k < N * N_IN; k++)
        m->P[k] = 0.05 * uni(&x);
    for (int k = 0; k < N_OUT * N; k++)
        m->W_out[k] = 0.5 * uni(&x);
    for (int k = 0; k < N_OUT; k++)
        m->b_out[k] = 0;
    eir_model_desc_init(&m->d);
    m->d.n_e = N_E;
    m->d.n_i = N_I;
    m->d.n_in = N_IN;
    m->d.cls = cls;
    m->d.act.kind = EIR_ACT_RELU;
    m->d.leak = m->leak;
    m->d.leak_len = N;
    m->d.form = form;
    if (form == EIR_FORM_REDUCED) {
        m->d.W = m->W;
        if (cls == EIR_CLASS_GATED) m->d.a_kind = EIR_A_MATRIX, m->d.A = m->A;
    } else {
        m->d.K = m->W;
        m->d.e_rev_e = 1.0;
        m->d.e_rev_i = -1.0;
    }
    m->d.P = m->P;
    m->d.n_out = N_OUT;
    m->d.W_out = m->W_out;
    m->d.b_out = m->b_out;
    m->d.sigma = 0.005;
}

/** The decision task at dt 20 ms with short fixed periods (T = 20 steps). */
static void small_task(eir_task_spec *t)
{
    eir_task_spec_init(t, EIR_TASK_PERCEPTUAL_DM, 20);
    for (int p = 0; p < eir_task_n_periods(EIR_TASK_PERCEPTUAL_DM); p++) {
        const char *name = eir_task_period_name(EIR_TASK_PERCEPTUAL_DM, p);
        t->timing[p].kind = EIR_DUR_CONSTANT;
        t->timing[p].a = strcmp(name, "stimulus") == 0 ? 200 : 100;
    }
}

static eir_net *net_new(const eir_model_desc *d, const eir_train_spec *s)
{
    eir_net *n = NULL;
    eir_error err;
    check_ok(eir_net_new(d, s, &n, &err), &err, "eir_net_new");
    return n;
}

static eir_adam *adam_new(const eir_net *n, const eir_train_spec *s)
{
    eir_adam *a = NULL;
    eir_error err;
    check_ok(eir_adam_new(n, s, &a, &err), &err, "eir_adam_new");
    return a;
}

/* ---------------------------------------------------------------------------------------- */
/* Dale's signs and masks                                                                    */
/* ---------------------------------------------------------------------------------------- */

typedef struct sign_ctx {
    eir_net *net;
    const small_model *init;
    int64_t rows;
    size_t moved; /* entries of W (K) that differ from the initial model at the end */
} sign_ctx;

/** Every constraint of the effective model of @p c->net; fails the test at the first breach. */
static void check_constraints(sign_ctx *c, int64_t iteration)
{
    eir_model_desc d;
    eir_net_model_desc(c->net, &d);
    const small_model *m0 = c->init;
    const double *w = d.form == EIR_FORM_REDUCED ? d.W : d.K;
    c->moved = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double v = w[i * N + j];
            int bad = 0;
            if (m0->W[i * N + j] == 0)
                bad = v != 0; /* absent stays absent: exactly zero */
            else if (d.form == EIR_FORM_CONDUCTANCE)
                bad = !(v >= 0);
            else if (d.cls != EIR_CLASS_RNN)
                bad = j < N_E ? !(v >= 0) : !(v <= 0);
            if (bad) {
                print_error("iteration %lld: %s[%d][%d] = %g breaks the constraints (initial %g)\n",
                            (long long)iteration, d.form == EIR_FORM_REDUCED ? "W" : "K", i, j, v,
                            m0->W[i * N + j]);
                fail();
            }
            if (v != m0->W[i * N + j]) c->moved++;
        }
    if (d.form == EIR_FORM_REDUCED && d.cls == EIR_CLASS_GATED) {
        assert_int_equal(d.a_kind, EIR_A_MATRIX);
        for (int k = 0; k < N * N; k++)
            assert_true(d.A[k] >= 0);
    }
    assert_int_equal(d.leak_len, N);
    for (int k = 0; k < N; k++)
        assert_true(d.leak[k] >= EIR_TRAIN_LEAK_MIN);
}

static int sign_row(void *ctx, const eir_train_row *row, const eir_net *n, const eir_adam *a)
{
    (void)n;
    (void)a;
    sign_ctx *c = ctx;
    c->rows++;
    assert_int_equal(row->iteration, c->rows);
    check_constraints(c, row->iteration);
    return 0;
}

/** Train (class, form) with a large learning rate for 300 iterations, checking after every
 *  update; then the trained description builds under the Dale reject policy. */
static void signs_kept(eir_class cls, eir_form form)
{
    small_model m;
    small_model_init(&m, cls, form);
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = 20;
    s.lr = 0.05;
    s.clip_norm = 5.0;
    s.seed = 3;
    s.trainable |= 1u << EIR_PARAM_G_B;
    if (cls == EIR_CLASS_GATED && form == EIR_FORM_REDUCED) s.trainable |= 1u << EIR_PARAM_A;
    eir_net *net = net_new(&m.d, &s);
    eir_adam *adam = adam_new(net, &s);
    eir_task_spec t;
    small_task(&t);
    sign_ctx c = {net, &m, 0, 0};
    eir_error err;
    check_ok(eir_task_train(net, adam, &t, &s, 8, 0, 300, sign_row, &c, &err), &err, "train");
    assert_int_equal(c.rows, 300);
    /* the training did change the weights: most present connections moved */
    assert_true(c.moved > 10);
    eir_model_desc d;
    eir_net_model_desc(net, &d);
    d.dale = EIR_DALE_REJECT;
    eir_model *model = NULL;
    check_ok(eir_model_build(&d, &model, &err), &err, "eir_model_build of the trained model");
    eir_model_free(model);
    eir_adam_free(adam);
    eir_net_free(net);
}

static void test_signs_dale_reduced(void **state)
{
    (void)state;
    signs_kept(EIR_CLASS_DALE, EIR_FORM_REDUCED);
}

static void test_signs_dale_conductance(void **state)
{
    (void)state;
    signs_kept(EIR_CLASS_DALE, EIR_FORM_CONDUCTANCE);
}

static void test_signs_gated_reduced(void **state)
{
    (void)state;
    signs_kept(EIR_CLASS_GATED, EIR_FORM_REDUCED);
}

static void test_signs_gated_conductance(void **state)
{
    (void)state;
    signs_kept(EIR_CLASS_GATED, EIR_FORM_CONDUCTANCE);
}

static void test_masks_rnn(void **state)
{
    (void)state;
    signs_kept(EIR_CLASS_RNN, EIR_FORM_REDUCED);
}

/* ---------------------------------------------------------------------------------------- */
/* Checkpoints and resume                                                                    */
/* ---------------------------------------------------------------------------------------- */

typedef struct count_ctx {
    int64_t first, last, rows;
    int64_t stop_after; /* 0 = never */
} count_ctx;

static int count_row(void *ctx, const eir_train_row *row, const eir_net *n, const eir_adam *a)
{
    (void)n;
    (void)a;
    count_ctx *c = ctx;
    if (c->rows == 0) c->first = row->iteration;
    c->last = row->iteration;
    c->rows++;
    assert_true(isfinite(row->loss.total));
    assert_true(isfinite(row->grad_norm));
    assert_true(row->accuracy >= 0 && row->accuracy <= 1);
    return c->stop_after > 0 && c->rows >= c->stop_after;
}

#define K_ITER 15
/** Trials per batch: more than one chunk of the gradient (64 trials), so that threads matter. */
#define RESUME_BATCH 150

/** Theta (owned) after 2k uninterrupted iterations of @p m with @p threads. */
static double *train_straight(const small_model *m, int threads, size_t *len)
{
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = 20;
    s.lr = 0.01;
    s.seed = 11;
    s.threads = threads;
    eir_net *net = net_new(&m->d, &s);
    eir_adam *adam = adam_new(net, &s);
    eir_task_spec t;
    small_task(&t);
    count_ctx c = {0, 0, 0, 0};
    eir_error err;
    check_ok(eir_task_train(net, adam, &t, &s, RESUME_BATCH, 0, 2 * K_ITER, count_row, &c, &err),
             &err, "train");
    assert_int_equal(c.rows, 2 * K_ITER);
    assert_int_equal(c.first, 1);
    assert_int_equal(c.last, 2 * K_ITER);
    *len = eir_net_theta_len(net);
    double *theta = malloc(*len * sizeof *theta);
    assert_non_null(theta);
    memcpy(theta, eir_net_theta(net), *len * sizeof *theta);
    eir_adam_free(adam);
    eir_net_free(net);
    return theta;
}

/** k iterations, checkpoint, a new network and optimiser load it, k more: same bytes. */
static double *train_resumed(const small_model *m, int threads, size_t *len)
{
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = 20;
    s.lr = 0.01;
    s.seed = 11;
    s.threads = threads;
    eir_task_spec t;
    small_task(&t);
    eir_error err;
    eir_net *net = net_new(&m->d, &s);
    eir_adam *adam = adam_new(net, &s);
    count_ctx c = {0, 0, 0, 0};
    /* the training is of 2k iterations; it is interrupted (cancelled) after k */
    c.stop_after = K_ITER;
    assert_int_equal(
        eir_task_train(net, adam, &t, &s, RESUME_BATCH, 0, 2 * K_ITER, count_row, &c, &err),
        EIR_ECANCELLED);
    assert_int_equal(c.last, K_ITER);
    size_t n = eir_train_state_size(net);
    void *buf = malloc(n);
    assert_non_null(buf);
    eir_train_state_save(net, adam, K_ITER, buf);
    eir_adam_free(adam);
    eir_net_free(net);

    net = net_new(&m->d, &s);
    adam = adam_new(net, &s);
    int64_t from = -1;
    check_ok(eir_train_state_load(net, adam, buf, n, &from, &err), &err, "load");
    assert_int_equal(from, K_ITER);
    free(buf);
    count_ctx c2 = {0, 0, 0, 0};
    check_ok(
        eir_task_train(net, adam, &t, &s, RESUME_BATCH, from, 2 * K_ITER, count_row, &c2, &err),
        &err, "resumed train");
    assert_int_equal(c2.first, K_ITER + 1);
    assert_int_equal(c2.last, 2 * K_ITER);
    *len = eir_net_theta_len(net);
    double *theta = malloc(*len * sizeof *theta);
    assert_non_null(theta);
    memcpy(theta, eir_net_theta(net), *len * sizeof *theta);
    eir_adam_free(adam);
    eir_net_free(net);
    return theta;
}

static void test_resume_same_bytes(void **state)
{
    (void)state;
    static const struct {
        eir_class cls;
        eir_form form;
    } cases[] = {{EIR_CLASS_GATED, EIR_FORM_REDUCED},
                 {EIR_CLASS_DALE, EIR_FORM_REDUCED},
                 {EIR_CLASS_GATED, EIR_FORM_CONDUCTANCE}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        small_model m;
        small_model_init(&m, cases[k].cls, cases[k].form);
        size_t l1, l2, l3, l4;
        double *straight1 = train_straight(&m, 1, &l1);
        double *straight2 = train_straight(&m, 2, &l2);
        double *resumed1 = train_resumed(&m, 1, &l3);
        double *resumed2 = train_resumed(&m, 2, &l4);
        assert_int_equal(l1, l2);
        assert_int_equal(l1, l3);
        assert_int_equal(l1, l4);
        assert_memory_equal(straight1, straight2, l1 * sizeof(double));
        assert_memory_equal(straight1, resumed1, l1 * sizeof(double));
        assert_memory_equal(straight1, resumed2, l1 * sizeof(double));
        /* and the training moved theta at all */
        eir_train_spec s;
        eir_train_spec_init(&s);
        eir_net *fresh = net_new(&m.d, &s);
        assert_memory_not_equal(straight1, eir_net_theta(fresh), l1 * sizeof(double));
        eir_net_free(fresh);
        free(straight1);
        free(straight2);
        free(resumed1);
        free(resumed2);
    }
}

static void test_cancel(void **state)
{
    (void)state;
    small_model m;
    small_model_init(&m, EIR_CLASS_GATED, EIR_FORM_REDUCED);
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = 20;
    eir_net *net = net_new(&m.d, &s);
    eir_adam *adam = adam_new(net, &s);
    eir_task_spec t;
    small_task(&t);
    count_ctx c = {0, 0, 0, 3};
    eir_error err;
    assert_int_equal(eir_task_train(net, adam, &t, &s, 4, 0, 100, count_row, &c, &err),
                     EIR_ECANCELLED);
    assert_int_equal(c.rows, 3);
    assert_non_null(strstr(err.message, "3"));
    /* nothing to do when from == iterations */
    c.rows = 0;
    c.stop_after = 0;
    check_ok(eir_task_train(net, adam, &t, &s, 4, 100, 100, count_row, &c, &err), &err, "empty");
    assert_int_equal(c.rows, 0);
    eir_adam_free(adam);
    eir_net_free(net);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    small_model m;
    small_model_init(&m, EIR_CLASS_DALE, EIR_FORM_REDUCED);
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = 20;
    eir_net *net = net_new(&m.d, &s);
    eir_adam *adam = adam_new(net, &s);
    eir_task_spec t;
    small_task(&t);
    eir_error err;
    assert_int_equal(eir_task_train(net, adam, &t, &s, 0, 0, 10, NULL, NULL, &err), EIR_EINVAL);
    assert_string_equal(err.field, "/batch");
    assert_int_equal(eir_task_train(net, adam, &t, &s, 4, 11, 10, NULL, NULL, &err), EIR_EINVAL);
    assert_string_equal(err.field, "/iterations");
    assert_int_equal(eir_task_train(net, adam, &t, &s, 4, 0, -1, NULL, NULL, &err), EIR_EINVAL);
    assert_string_equal(err.field, "/iterations");
    /* a bad task value is named under /task */
    eir_task_spec bad = t;
    bad.timing[0].kind = EIR_DUR_UNIFORM;
    bad.timing[0].a = 300;
    bad.timing[0].b = 100;
    assert_int_equal(eir_task_train(net, adam, &bad, &s, 4, 0, 10, NULL, NULL, &err), EIR_EINVAL);
    assert_true(strncmp(err.field, "/task/", 6) == 0);
    eir_task_eval ev;
    assert_int_equal(eir_task_evaluate(net, &bad, &s, 1, 10, &ev, &err), EIR_EINVAL);
    assert_true(strncmp(err.field, "/task/", 6) == 0);
    assert_int_equal(eir_task_evaluate(net, &t, &s, 1, 0, &ev, &err), EIR_EINVAL);
    /* an optimiser made for another network */
    small_model other;
    small_model_init(&other, EIR_CLASS_GATED, EIR_FORM_REDUCED);
    eir_net *gated = net_new(&other.d, &s);
    eir_adam *gated_adam = adam_new(gated, &s);
    assert_int_equal(eir_task_train(net, gated_adam, &t, &s, 4, 0, 10, NULL, NULL, &err),
                     EIR_EINVAL);
    assert_non_null(strstr(err.message, "another network"));
    eir_adam_free(gated_adam);
    eir_net_free(gated);
    /* a model whose inputs do not fit the task (context decision making has more) */
    eir_task_spec cdm;
    eir_task_spec_init(&cdm, EIR_TASK_CONTEXT_DM, 20);
    assert_true(eir_task_n_in(&cdm) != N_IN);
    assert_int_equal(eir_task_train(net, adam, &cdm, &s, 4, 0, 10, NULL, NULL, &err), EIR_EINVAL);
    assert_string_equal(err.field, "/model/n_inputs");
    assert_int_equal(eir_task_evaluate(net, &cdm, &s, 1, 10, &ev, &err), EIR_EINVAL);
    assert_string_equal(err.field, "/model/n_inputs");
    eir_adam_free(adam);
    eir_net_free(net);
}

/* ---------------------------------------------------------------------------------------- */
/* Evaluation                                                                                */
/* ---------------------------------------------------------------------------------------- */

/** Chunk @p c of an evaluation by hand: the score and psychometric counts of its trials. */
static void chunk_by_hand(eir_net *net, const eir_task_spec *t, uint64_t key, int c, int B,
                          int64_t *correct, double *ideal_correct, eir_psy_point *pts, int *np)
{
    eir_task_batch tb;
    eir_error err;
    check_ok(eir_task_generate(t, eir_train_stream(key, c, 1), B, &tb, &err), &err, "generate");
    eir_batch view;
    eir_task_batch_view(&tb, EIR_LOSS_CE, &view);
    double *y = malloc((size_t)tb.B * tb.T * tb.n_out * sizeof *y);
    int32_t *choice = malloc((size_t)B * sizeof *choice);
    assert_non_null(y);
    assert_non_null(choice);
    eir_loss_parts lp;
    check_ok(eir_net_forward(net, &view, eir_train_stream(key, c, 0), &lp, y, &err), &err,
             "forward");
    eir_task_score sc;
    eir_task_score_batch(&tb, y, choice, &sc);
    *correct += sc.correct;
    *ideal_correct += nearbyint(eir_task_ideal_observer(&tb) * B);
    eir_task_psychometric(&tb, choice, pts, 2 * EIR_TASK_MAX_COHERENCES + 1, np);
    free(y);
    free(choice);
    eir_task_batch_free(&tb);
}

/** 300 trials are chunk 0 (256 trials) and chunk 1 (44), as TRAINING.md says; the same bytes
 *  at threads 1 and 2; psychometric counts add up. */
static void test_evaluate_chunks(void **state)
{
    (void)state;
    small_model m;
    small_model_init(&m, EIR_CLASS_GATED, EIR_FORM_REDUCED);
    eir_train_spec s;
    eir_train_spec_init(&s);
    s.dt = 20;
    eir_net *net = net_new(&m.d, &s);
    eir_task_spec t;
    small_task(&t);
    t.timing[1].a = 500; /* stimulus */
    eir_error err;
    eir_task_eval ev;
    const uint64_t key = eir_train_stream(5, 0, 3);
    check_ok(eir_task_evaluate(net, &t, &s, key, 300, &ev, &err), &err, "evaluate");
    assert_int_equal(ev.score.trials, 300);
    int64_t correct = 0;
    double ideal_correct = 0;
    eir_psy_point p0[2 * EIR_TASK_MAX_COHERENCES + 1], p1[2 * EIR_TASK_MAX_COHERENCES + 1];
    int n0 = 0, n1 = 0;
    chunk_by_hand(net, &t, key, 0, 256, &correct, &ideal_correct, p0, &n0);
    chunk_by_hand(net, &t, key, 1, 44, &correct, &ideal_correct, p1, &n1);
    assert_int_equal(ev.score.correct, correct);
    assert_true(ev.score.accuracy == (double)correct / 300.0);
    assert_true(fabs(ev.ideal - ideal_correct / 300.0) < 1e-15);
    assert_true(ev.ideal > 0.5 && ev.ideal <= 1);
    int64_t total = 0;
    for (int k = 0; k < ev.n_psy; k++) {
        if (k > 0) assert_true(ev.psy[k].coherence > ev.psy[k - 1].coherence);
        total += ev.psy[k].n;
        double n2 = 0, nn = 0;
        for (int j = 0; j < n0; j++)
            if (p0[j].coherence == ev.psy[k].coherence)
                n2 += nearbyint(p0[j].p_choice2 * p0[j].n), nn += p0[j].n;
        for (int j = 0; j < n1; j++)
            if (p1[j].coherence == ev.psy[k].coherence)
                n2 += nearbyint(p1[j].p_choice2 * p1[j].n), nn += p1[j].n;
        assert_int_equal(ev.psy[k].n, (int64_t)nn);
        assert_true(fabs(ev.psy[k].p_choice2 - n2 / nn) < 1e-15);
    }
    assert_int_equal(total, 300);
    assert_true(isfinite(ev.loss.task) && ev.loss.task > 0);

    eir_train_spec s2 = s;
    s2.threads = 2;
    eir_net *net2 = net_new(&m.d, &s2);
    eir_task_eval ev2;
    check_ok(eir_task_evaluate(net2, &t, &s2, key, 300, &ev2, &err), &err, "evaluate threads 2");
    assert_memory_equal(&ev, &ev2, sizeof ev);
    eir_net_free(net2);
    eir_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signs_dale_reduced),
        cmocka_unit_test(test_signs_dale_conductance),
        cmocka_unit_test(test_signs_gated_reduced),
        cmocka_unit_test(test_signs_gated_conductance),
        cmocka_unit_test(test_masks_rnn),
        cmocka_unit_test(test_resume_same_bytes),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_evaluate_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
