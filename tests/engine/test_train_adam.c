/**
 * @file test_train_adam.c
 * @brief The optimiser (eir_adam_*) and training checkpoints (eir_train_state_*).
 *
 * Adam is driven by the test's own gradient of a quadratic, f = 1/2 sum c_k (theta_k - tau_k)^2,
 * over the 35 values of a small gated network's theta, and compared with torch.optim.Adam
 * (torch 1.13, float64, default options) and torch.nn.utils.clip_grad_norm_ on the same
 * problem: the reference values below were printed by this script:
 *
 *   th = torch.tensor([0.3 + 0.05*(k % 11) for k in range(35)], requires_grad=True)
 *   c = torch.tensor([1.0 + (k % 5) for k in range(35)])
 *   tau = torch.tensor([1.0 + 0.1*(k % 3) for k in range(35)])
 *   opt = torch.optim.Adam([th], lr=0.05)
 *   for s in range(25):
 *       opt.zero_grad(); (0.5 * (c * (th - tau)**2).sum()).backward()
 *       if clip > 0: torch.nn.utils.clip_grad_norm_([th], clip)
 *       opt.step()
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

#include "eir_train.h"

#define L_TEST 35

/** torch's theta after 25 steps without clipping. */
static const double torch_noclip[L_TEST] = {
    1.1411858367477279, 1.2343170536136499,  1.3212198420519898,  1.1157485913716554,
    1.2326103419155847, 1.3408974488081253,  1.0188997777221318,  1.1571283626557882,
    1.2902771921149006, 0.95006419622020777, 1.0533525437584546,  1.2798892868619365,
    1.140897450728503,  1.2411858403381295,  1.3343170554871999,  1.0902771963611133,
    1.2157485919711233, 1.3326103418511612,  0.98102522556519167, 1.1188997741597155,
    1.2571283686757151, 0.98099728936617347, 1.2212198420519897,  1.3028014495047764,
    1.1326103419155844, 1.2408974488081255,  1.3411858391413289,  1.0571283626557881,
    1.1902771921149009, 1.3157485912517615,  0.95335254375845446, 1.0810252287867625,
    1.2188997757430113, 1.1411858403381294,  1.2343170554872001};

/** torch's theta after 25 steps with clip_grad_norm_(0.5). */
static const double torch_clip[L_TEST] = {
    1.0286908401709531,  1.1725404779275828,  1.3128384560484943,  0.94479619230524547,
    1.0591263509857627,  1.1885093717813699,  0.98713442477608482, 1.0608566206069865,
    1.1458994705809016,  1.0104092122609092,  1.1313234049728229,  1.3635063399420315,
    0.98850925471486306, 1.1286906977882674,  1.2725404269092326,  0.94589946389598278,
    1.0447962076437074,  1.1591263680342254,  1.0173178202277606,  1.0871344670356455,
    1.1608565681969516,  0.98097525105585259, 1.2128384560484944,  1.3441657168998182,
    0.95912635098576249, 1.0885093717813701,  1.2286907452491693,  0.9608566206069864,
    1.0458994705809017,  1.1447961892375556,  1.0313234049728226,  1.1173177826676262,
    1.187134448253615,   1.0286906977882673,  1.1725404269092328};

/** Fail unless |a - b| <= rel * |b|. */
#define assert_rel_close(a, b, rel)                                                                \
    do {                                                                                           \
        double a_ = (a), b_ = (b), tol_ = (rel)*fabs(b_);                                          \
        if (!(fabs(a_ - b_) <= tol_)) {                                                            \
            print_error("%s = %.17g, expected %.17g (relative tolerance %g)\n", #a, a_, b_,        \
                        (double)(rel));                                                            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/** A gated reduced-form network of 3 cells (2 E, 1 I), 1 input, 2 outputs, full A: theta has
 *  W 9, P 3, bias 3, W_out 6, b_out 2, A 9, G_b 3 = 35 values. */
typedef struct fixture {
    double W[9], A[9], leak[3], P[3], W_out[6];
    eir_model_desc d;
    eir_train_spec s;
    eir_net *net;
    eir_adam *adam;
} fixture;

static void fixture_desc(fixture *f)
{
    static const double W[9] = {0, 0.4, -0.6, 0.3, 0, -0.2, 0.5, 0.7, 0};
    memcpy(f->W, W, sizeof W);
    for (int k = 0; k < 9; k++)
        f->A[k] = 0.5;
    for (int k = 0; k < 3; k++)
        f->leak[k] = 0.01 * (k + 1), f->P[k] = 0.1 * (k + 1);
    for (int k = 0; k < 6; k++)
        f->W_out[k] = 0.05 * (k - 2);
    eir_model_desc_init(&f->d);
    f->d.n_e = 2;
    f->d.n_i = 1;
    f->d.n_in = 1;
    f->d.cls = EIR_CLASS_GATED;
    f->d.act.kind = EIR_ACT_RELU;
    f->d.leak = f->leak;
    f->d.leak_len = 3;
    f->d.W = f->W;
    f->d.a_kind = EIR_A_MATRIX;
    f->d.A = f->A;
    f->d.P = f->P;
    f->d.n_out = 2;
    f->d.W_out = f->W_out;
}

/** Build the fixture's network and optimiser with @p trainable and Adam's @p lr, @p clip. */
static fixture *fixture_new(unsigned trainable, double lr, double clip)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fixture_desc(f);
    eir_train_spec_init(&f->s);
    f->s.trainable = trainable;
    f->s.lr = lr;
    f->s.clip_norm = clip;
    eir_error err;
    eir_status st = eir_net_new(&f->d, &f->s, &f->net, &err);
    if (st != EIR_OK) {
        print_error("eir_net_new: [%s] %s\n", err.field, err.message);
        fail();
    }
    assert_int_equal(eir_net_theta_len(f->net), L_TEST);
    st = eir_adam_new(f->net, &f->s, &f->adam, &err);
    if (st != EIR_OK) {
        print_error("eir_adam_new: [%s] %s\n", err.field, err.message);
        fail();
    }
    return f;
}

static void fixture_free(fixture *f)
{
    eir_adam_free(f->adam);
    eir_net_free(f->net);
    free(f);
}

#define ALL_PARAMS ((1u << EIR_NPARAMS) - 1u)

/** theta_k of the reference problem. */
static void quad_start(double *theta)
{
    for (int k = 0; k < L_TEST; k++)
        theta[k] = 0.3 + 0.05 * (k % 11);
}

/** Gradient of the reference quadratic at @p theta. */
static void quad_grad(const double *theta, double *g)
{
    for (int k = 0; k < L_TEST; k++)
        g[k] = (1.0 + (k % 5)) * (theta[k] - (1.0 + 0.1 * (k % 3)));
}

/** 25 steps on the quadratic with every parameter trained; compare with @p ref. */
static void against_torch(double clip, const double *ref)
{
    fixture *f = fixture_new(ALL_PARAMS, 0.05, clip);
    double *theta = eir_net_theta(f->net);
    quad_start(theta);
    double g[L_TEST], norm = 0;
    for (int s = 0; s < 25; s++) {
        quad_grad(theta, g);
        double want = 0;
        for (int k = 0; k < L_TEST; k++)
            want += g[k] * g[k];
        want = sqrt(want);
        eir_adam_step(f->adam, f->net, g, &norm);
        assert_rel_close(norm, want, 1e-14);
    }
    for (int k = 0; k < L_TEST; k++)
        assert_rel_close(theta[k], ref[k], 1e-13);
    fixture_free(f);
}

static void test_adam_matches_torch(void **state)
{
    (void)state;
    against_torch(0, torch_noclip);
}

static void test_adam_clipped_matches_torch(void **state)
{
    (void)state;
    against_torch(0.5, torch_clip);
}

/** The first step by hand: m^ = g, v^ = g^2, so theta moves by -lr g / (|g| + eps). */
static void test_adam_first_step_by_hand(void **state)
{
    (void)state;
    fixture *f = fixture_new(ALL_PARAMS, 0.01, 0);
    double *theta = eir_net_theta(f->net);
    quad_start(theta);
    double before[L_TEST], g[L_TEST], g0[L_TEST];
    memcpy(before, theta, sizeof before);
    quad_grad(theta, g);
    memcpy(g0, g, sizeof g);
    eir_adam_step(f->adam, f->net, g, NULL);
    for (int k = 0; k < L_TEST; k++) {
        double want = before[k] - 0.01 * g0[k] / (fabs(g0[k]) + 1e-8);
        assert_rel_close(theta[k], want, 1e-15);
    }
    fixture_free(f);
}

/** Clipping: the norm before clipping is reported; the clipped gradient has norm clip; a
 *  gradient under the bound is not touched. */
static void test_clipping(void **state)
{
    (void)state;
    fixture *f = fixture_new(ALL_PARAMS, 1e-3, 2.0);
    double g[L_TEST], norm = -1;
    for (int k = 0; k < L_TEST; k++)
        g[k] = (k % 2 ? -3.0 : 4.0);
    double want = 0;
    for (int k = 0; k < L_TEST; k++)
        want += g[k] * g[k];
    want = sqrt(want);
    eir_adam_step(f->adam, f->net, g, &norm);
    assert_rel_close(norm, want, 1e-15);
    double after = 0;
    for (int k = 0; k < L_TEST; k++)
        after += g[k] * g[k];
    assert_rel_close(sqrt(after), 2.0 * want / (want + 1e-6), 1e-14);
    /* under the bound: unchanged bytes */
    double small[L_TEST], copy[L_TEST];
    for (int k = 0; k < L_TEST; k++)
        small[k] = 0.01 * (k - 17);
    memcpy(copy, small, sizeof copy);
    eir_adam_step(f->adam, f->net, small, &norm);
    assert_memory_equal(small, copy, sizeof copy);
    assert_true(norm < 2.0);
    fixture_free(f);
}

/** A >= 0 and G_b >= EIR_TRAIN_LEAK_MIN after an update that would push them below. */
static void test_projection(void **state)
{
    (void)state;
    fixture *f = fixture_new(ALL_PARAMS, 0.1, 0);
    size_t off[EIR_NPARAMS], len[EIR_NPARAMS];
    eir_net_layout(f->net, off, len);
    assert_int_equal(len[EIR_PARAM_A], 9);
    assert_int_equal(len[EIR_PARAM_G_B], 3);
    double *theta = eir_net_theta(f->net);
    for (size_t k = 0; k < L_TEST; k++)
        theta[k] = 0.02;
    double g[L_TEST];
    for (int k = 0; k < L_TEST; k++)
        g[k] = 1.0;
    eir_adam_step(f->adam, f->net, g, NULL);
    for (int p = 0; p < EIR_NPARAMS; p++)
        for (size_t k = off[p]; k < off[p] + len[p]; k++) {
            if (p == EIR_PARAM_A)
                assert_true(theta[k] == 0.0);
            else if (p == EIR_PARAM_G_B)
                assert_true(theta[k] == EIR_TRAIN_LEAK_MIN);
            else /* not projected: 0.02 - 0.1 */
                assert_rel_close(theta[k], 0.02 - 0.1 / (1 + 1e-8), 1e-14);
        }
    fixture_free(f);
}

/** Frozen slices never change, whatever the gradient says; trained ones move. */
static void test_frozen_slices(void **state)
{
    (void)state;
    unsigned trained = (1u << EIR_PARAM_W_OUT) | (1u << EIR_PARAM_A);
    fixture *f = fixture_new(trained, 0.05, 1.0);
    size_t off[EIR_NPARAMS], len[EIR_NPARAMS];
    eir_net_layout(f->net, off, len);
    double *theta = eir_net_theta(f->net);
    double before[L_TEST], g[L_TEST];
    memcpy(before, theta, sizeof before);
    uint64_t x = 88172645463325252ull;
    for (int s = 0; s < 200; s++) {
        for (int k = 0; k < L_TEST; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            g[k] = (double)(x >> 11) / 9007199254740992.0 - 0.5;
        }
        eir_adam_step(f->adam, f->net, g, NULL);
        for (int p = 0; p < EIR_NPARAMS; p++)
            if (!((trained >> p) & 1u)) {
                assert_memory_equal(theta + off[p], before + off[p], len[p] * sizeof(double));
                for (size_t k = off[p]; k < off[p] + len[p]; k++)
                    assert_true(g[k] == 0.0);
            }
    }
    for (int p = 0; p < EIR_NPARAMS; p++)
        if ((trained >> p) & 1u)
            assert_memory_not_equal(theta + off[p], before + off[p], len[p] * sizeof(double));
    fixture_free(f);
}

/** A gradient that is not finite changes nothing and reports a non-finite norm. */
static void test_nonfinite_gradient(void **state)
{
    (void)state;
    fixture *f = fixture_new(ALL_PARAMS, 0.05, 1.0);
    double *theta = eir_net_theta(f->net);
    double before[L_TEST], g[L_TEST], norm = 0;
    memcpy(before, theta, sizeof before);
    for (int k = 0; k < L_TEST; k++)
        g[k] = 1.0;
    g[7] = NAN;
    eir_adam_step(f->adam, f->net, g, &norm);
    assert_true(isnan(norm));
    g[7] = INFINITY;
    eir_adam_step(f->adam, f->net, g, &norm);
    assert_true(isinf(norm));
    assert_memory_equal(theta, before, sizeof before);
    /* the next finite step is a first step (the step count did not advance): the gradient of
     * ones is clipped to norm 1, then moves theta by lr g / (g + eps) */
    for (int k = 0; k < L_TEST; k++)
        g[k] = 1.0;
    eir_adam_step(f->adam, f->net, g, &norm);
    double gc = 1.0 / (sqrt((double)L_TEST) + 1e-6);
    size_t off[EIR_NPARAMS], len[EIR_NPARAMS];
    eir_net_layout(f->net, off, len);
    for (size_t k = 0; k < off[EIR_PARAM_G_B]; k++) /* G_b (0.01 .. 0.03) is projected */
        assert_rel_close(theta[k] - before[k], -0.05 * gc / (gc + 1e-8), 1e-12);
    fixture_free(f);
}

static void test_bad_optimizer_values(void **state)
{
    (void)state;
    fixture *f = fixture_new(ALL_PARAMS, 0.05, 1.0);
    struct {
        double lr, b1, b2, eps, clip;
        const char *field;
    } cases[] = {
        {0, 0.9, 0.999, 1e-8, 1, "/optimizer/lr"},
        {NAN, 0.9, 0.999, 1e-8, 1, "/optimizer/lr"},
        {1e-3, 1, 0.999, 1e-8, 1, "/optimizer/beta1"},
        {1e-3, 0.9, -1, 1e-8, 1, "/optimizer/beta2"},
        {1e-3, 0.9, 0.999, 0, 1, "/optimizer/eps"},
        {1e-3, 0.9, 0.999, 1e-8, NAN, "/optimizer/clip_norm"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        eir_train_spec s = f->s;
        s.lr = cases[c].lr;
        s.beta1 = cases[c].b1;
        s.beta2 = cases[c].b2;
        s.eps = cases[c].eps;
        s.clip_norm = cases[c].clip;
        eir_adam *a = (eir_adam *)1;
        eir_error err;
        assert_int_equal(eir_adam_new(f->net, &s, &a, &err), EIR_EINVAL);
        assert_null(a);
        assert_string_equal(err.field, cases[c].field);
    }
    fixture_free(f);
}

/* ---------------------------------------------------------------------------------------- */
/* Checkpoints                                                                               */
/* ---------------------------------------------------------------------------------------- */

/** Some steps on the quadratic so that theta, m, v and step are all non-trivial. */
static void advance(fixture *f, int steps)
{
    double g[L_TEST];
    for (int s = 0; s < steps; s++) {
        quad_grad(eir_net_theta(f->net), g);
        eir_adam_step(f->adam, f->net, g, NULL);
    }
}

/** Save after 7 steps, load into a fresh pair: the next steps give the same bytes. */
static void test_state_round_trip(void **state)
{
    (void)state;
    fixture *a = fixture_new(ALL_PARAMS, 0.05, 0.5);
    quad_start(eir_net_theta(a->net));
    advance(a, 7);
    size_t n = eir_train_state_size(a->net);
    assert_int_equal(n, 152 + 24 * L_TEST + 32);
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    eir_train_state_save(a->net, a->adam, 7, buf);
    assert_memory_equal(buf, "EIRTRN01", 8);
    /* little-endian: version 1 then the theta length 35 */
    assert_int_equal(buf[8], 1);
    assert_int_equal(buf[9] | buf[10] | buf[11], 0);
    assert_int_equal(buf[16], L_TEST);
    fixture *b = fixture_new(ALL_PARAMS, 0.05, 0.5);
    int64_t it = -1;
    eir_error err;
    assert_int_equal(eir_train_state_load(b->net, b->adam, buf, n, &it, &err), EIR_OK);
    assert_int_equal(it, 7);
    assert_memory_equal(eir_net_theta(a->net), eir_net_theta(b->net), L_TEST * sizeof(double));
    advance(a, 5);
    advance(b, 5);
    assert_memory_equal(eir_net_theta(a->net), eir_net_theta(b->net), L_TEST * sizeof(double));
    /* and saving again gives the same bytes */
    unsigned char *buf2 = malloc(n);
    assert_non_null(buf2);
    eir_train_state_save(a->net, a->adam, 12, buf);
    eir_train_state_save(b->net, b->adam, 12, buf2);
    assert_memory_equal(buf, buf2, n);
    free(buf);
    free(buf2);
    fixture_free(a);
    fixture_free(b);
}

/** Load refuses wrong size, magic, version, corruption, layout and trained set, changing
 *  nothing. */
static void test_state_refused(void **state)
{
    (void)state;
    fixture *a = fixture_new(ALL_PARAMS, 0.05, 0.5);
    quad_start(eir_net_theta(a->net));
    advance(a, 3);
    size_t n = eir_train_state_size(a->net);
    unsigned char *good = malloc(n), *bad = malloc(n + 8);
    assert_non_null(good);
    assert_non_null(bad);
    eir_train_state_save(a->net, a->adam, 3, good);

    fixture *b = fixture_new(ALL_PARAMS, 0.05, 0.5);
    advance(b, 2);
    double theta_before[L_TEST];
    memcpy(theta_before, eir_net_theta(b->net), sizeof theta_before);
    unsigned char *b_state = malloc(n), *b_after = malloc(n);
    assert_non_null(b_state);
    assert_non_null(b_after);
    eir_train_state_save(b->net, b->adam, 2, b_state);

    eir_error err;
    int64_t it = 99;
    struct {
        size_t at;      /* byte to change (n = none) */
        size_t len;     /* length given to load */
        const char *in; /* expected word of the message */
    } cases[] = {
        {n, n - 1, "bytes"},
        {n, n + 8, "bytes"},
        {n, 0, "bytes"},
        {0, n, "magic"},
        {8, n, "version"},
        {20 + 0, n, "parameters"},
        {152 + 8 * 4, n, "corrupt"},
        {n - 1, n, "corrupt"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, good, n);
        if (cases[c].at < n) bad[cases[c].at] ^= 0x40;
        eir_error_clear(&err);
        assert_int_equal(eir_train_state_load(b->net, b->adam, bad, cases[c].len, &it, &err),
                         EIR_EINVAL);
        assert_string_equal(err.field, "");
        if (!strstr(err.message, cases[c].in)) {
            print_error("case %zu: message \"%s\" does not say \"%s\"\n", c, err.message,
                        cases[c].in);
            fail();
        }
        assert_int_equal(it, 99);
        eir_train_state_save(b->net, b->adam, 2, b_after);
        assert_memory_equal(b_state, b_after, n);
    }
    assert_int_equal(eir_train_state_load(b->net, b->adam, NULL, n, &it, &err), EIR_EINVAL);

    /* another trained set: same network shape, other mask */
    fixture *c = fixture_new(1u << EIR_PARAM_W, 0.05, 0.5);
    assert_int_equal(eir_train_state_load(c->net, c->adam, good, n, &it, &err), EIR_EINVAL);
    assert_non_null(strstr(err.message, "trained parameters"));

    /* another network shape: a dale network has no A */
    fixture *d = calloc(1, sizeof *d);
    assert_non_null(d);
    fixture_desc(d);
    d->d.cls = EIR_CLASS_DALE;
    d->d.A = NULL;
    eir_train_spec_init(&d->s);
    assert_int_equal(eir_net_new(&d->d, &d->s, &d->net, &err), EIR_OK);
    assert_int_equal(eir_adam_new(d->net, &d->s, &d->adam, &err), EIR_OK);
    assert_int_equal(eir_train_state_load(d->net, d->adam, good, n, &it, &err), EIR_EINVAL);
    assert_int_equal(eir_train_state_size(d->net), 152 + 24 * (L_TEST - 9) + 32);

    assert_memory_equal(theta_before, eir_net_theta(b->net), sizeof theta_before);
    free(good);
    free(bad);
    free(b_state);
    free(b_after);
    fixture_free(a);
    fixture_free(b);
    fixture_free(c);
    fixture_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_matches_torch),
        cmocka_unit_test(test_adam_clipped_matches_torch),
        cmocka_unit_test(test_adam_first_step_by_hand),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_frozen_slices),
        cmocka_unit_test(test_nonfinite_gradient),
        cmocka_unit_test(test_bad_optimizer_values),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
