/*
 * Backpropagation through time (eir_train.h, engine/src/train_*.c):
 *  - the gradient of eir_net_loss_grad() against central differences of the loss, for every
 *    class x form (reduced, conductance) x integrator (exp_euler, euler) x loss (mse,
 *    cross-entropy) and every trainable parameter that applies (W, P, bias, W_out, b_out, A,
 *    G_b), on small noisy networks with trial lengths and masks that are not all ones, readout
 *    from E in some cases, input conductances in some, and both L2 penalties on; then for every
 *    activation and an r_max clamp;
 *  - frozen parameters get exactly zero gradient;
 *  - the forward pass is the engine's step: y of eir_net_forward() equals the readout of
 *    eir_run() on eir_net_model_desc()'s model with the same inputs, noise and integrator;
 *  - float32 agrees with float64 within float32 rounding; threads 1, 2 and 3 give the same
 *    bytes; bad batches and specs are refused naming the field.
 *
 * Step sizes of the central differences: h_k = 1e-5 max(|theta_k|, 0.1). The truncation error
 * of (L(theta + h) - L(theta - h)) / 2h is O(h^2 L''') ~ 1e-10 relative and the rounding error
 * O(eps |L| / h) ~ 1e-11 / |dL/dtheta_k| relative, so a correct gradient agrees to ~1e-9 while a
 * wrong term (a missing factor, a sign, a dropped path) gives an error of order 1: the bound
 * 1e-6 on the norm-wise relative error ||g - g_fd|| / ||g_fd|| over each parameter's slice
 * separates the two by three orders of magnitude either way. Nonzero recurrent entries of
 * theta are at least 0.1 in magnitude, so no step crosses the kink of |theta| at 0.
 */
#include "eir_test_util.h"

#include "eir_train.h"

#define NE 4
#define NI 2
#define N (NE + NI)
#define NIN 3
#define NOUT 3
#define NB 3
#define NT 8

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct fixture {
    double W[N * N], K[N * N], A[N * N], leak[N], bias[N], P[N * NIN], M_in[N * NIN];
    double W_out[NOUT * N], b_out[NOUT];
    double x[NB * NT * NIN], target[NB * NT * NOUT], mask_mse[NB * NT * NOUT], mask_ce[NB * NT];
    int32_t label[NB * NT], len[NB];
} fixture;

static void make_fixture(fixture *f, uint64_t seed)
{
    et_rng r = {seed};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            const int q = i * N + j;
            const double a = et_unif(&r, 0.1, 0.8);
            const int absent = (i + 2 * j) % 5 == 0; /* a mask with zeros */
            f->W[q] = absent ? 0.0 : (j < NE ? a : -a);
            f->K[q] = absent ? 0.0 : et_unif(&r, 0.1, 0.6);
            f->A[q] = et_unif(&r, 0.2, 1.0);
        }
    for (int i = 0; i < N; i++) {
        f->leak[i] = et_unif(&r, 0.6, 1.5);
        f->bias[i] = et_unif(&r, -0.2, 0.6);
    }
    for (int q = 0; q < N * NIN; q++) {
        f->P[q] = et_unif(&r, -1.0, 1.0);
        f->M_in[q] = et_unif(&r, 0.0, 0.5);
    }
    for (int q = 0; q < NOUT * N; q++)
        f->W_out[q] = et_unif(&r, -1.0, 1.0);
    for (int q = 0; q < NOUT; q++)
        f->b_out[q] = et_unif(&r, -0.3, 0.3);
    for (int q = 0; q < NB * NT * NIN; q++)
        f->x[q] = et_unif(&r, -1.0, 1.5);
    for (int q = 0; q < NB * NT * NOUT; q++) {
        f->target[q] = et_unif(&r, -1.0, 1.0);
        f->mask_mse[q] = (double)(et_next(&r) % 4) * 0.5; /* 0, 0.5, 1, 1.5 */
    }
    for (int q = 0; q < NB * NT; q++) {
        f->label[q] = (int32_t)(et_next(&r) % NOUT);
        f->mask_ce[q] = (double)(et_next(&r) % 3) * 0.75;
    }
    f->len[0] = NT;
    f->len[1] = 5;
    f->len[2] = 7;
}

typedef struct net_case {
    eir_class cls;
    eir_form form;
    eir_integrator integ;
    eir_loss_kind loss;
    eir_act_kind act;
    double r_max;
    int from_e;  /* readout from the E cells */
    int gate_in; /* input conductances M_in */
    int a_rows;  /* gated reduced: A per row and type (2N values), frozen */
} net_case;

static void case_desc(const fixture *f, const net_case *c, eir_model_desc *d)
{
    eir_model_desc_init(d);
    d->n_e = NE;
    d->n_i = NI;
    d->n_in = NIN;
    d->cls = c->cls;
    d->act.kind = c->act;
    d->act.k = 1.0;
    d->act.n = 2.0;
    d->act.r_max = c->r_max > 0 ? c->r_max : INFINITY;
    d->leak = f->leak;
    d->leak_len = N;
    d->form = c->form;
    if (c->form == EIR_FORM_CONDUCTANCE) {
        d->K = f->K;
        d->e_rev_e = 1.5;
        d->e_rev_i = -0.7;
    } else {
        d->W = f->W;
        if (c->cls == EIR_CLASS_GATED) {
            d->a_kind = c->a_rows ? EIR_A_PER_ROW : EIR_A_MATRIX;
            d->A = f->A;
        }
    }
    d->P = f->P;
    d->M_in = c->gate_in ? f->M_in : NULL;
    d->bias = f->bias;
    d->bias_len = N;
    d->n_out = NOUT;
    d->W_out = f->W_out;
    d->b_out = f->b_out;
    d->readout_from = c->from_e ? EIR_READOUT_E : EIR_READOUT_ALL;
    d->sigma = 0.3;
    d->storage = EIR_STORAGE_DENSE;
}

static void case_spec(const net_case *c, eir_train_spec *s)
{
    eir_train_spec_init(s);
    s->dt = 0.3;
    s->integrator = c->integ;
    s->loss = c->loss;
    s->l2_weights = 0.05;
    s->l2_rates = 0.03;
    s->trainable = (1u << EIR_PARAM_W) | (1u << EIR_PARAM_P) | (1u << EIR_PARAM_BIAS) |
                   (1u << EIR_PARAM_W_OUT) | (1u << EIR_PARAM_B_OUT) | (1u << EIR_PARAM_G_B);
    if (c->cls == EIR_CLASS_GATED && c->form == EIR_FORM_REDUCED && !c->a_rows)
        s->trainable |= 1u << EIR_PARAM_A;
}

static void case_batch(const fixture *f, const net_case *c, eir_batch *b)
{
    memset(b, 0, sizeof *b);
    b->B = NB;
    b->T = NT;
    b->n_in = NIN;
    b->n_out = NOUT;
    b->x = f->x;
    if (c->loss == EIR_LOSS_MSE) {
        b->target = f->target;
        b->mask = f->mask_mse;
    } else {
        b->label = f->label;
        b->mask = f->mask_ce;
    }
    b->len = f->len;
}

static const char *case_name(const net_case *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s/%s/%s%s%s%s%s", eir_class_name(c->cls),
             c->form == EIR_FORM_REDUCED ? "reduced" : "conductance", eir_integrator_name(c->integ),
             c->loss == EIR_LOSS_MSE ? "mse" : "ce", eir_act_name(c->act),
             c->r_max > 0 ? "+r_max" : "", c->from_e ? "+from_E" : "", c->gate_in ? "+M_in" : "",
             c->a_rows ? "+A_rows_frozen" : "");
    return buf;
}

static eir_net *new_net(const eir_model_desc *d, const eir_train_spec *s)
{
    eir_net *n = NULL;
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_net_new(d, s, &n, &err);
    if (st != EIR_OK) ET_FAIL("eir_net_new: %s (field '%s')", err.message, err.field);
    return n;
}

static double loss_at(eir_net *n, const eir_batch *b, uint64_t key)
{
    eir_loss_parts lp;
    eir_error err;
    eir_status st = eir_net_forward(n, b, key, &lp, NULL, &err);
    if (st != EIR_OK) ET_FAIL("eir_net_forward: %s", err.message);
    return lp.total;
}

/* ---- gradient check ---------------------------------------------------------------------- */

static const uint64_t KEY = 0x5eedf00dull;

/** Central differences over every trainable slice; returns the largest norm-wise error. */
static double grad_check(const net_case *c)
{
    fixture f;
    make_fixture(&f, 11 + (uint64_t)c->cls * 7 + (uint64_t)c->form * 3);
    eir_model_desc d;
    eir_train_spec s;
    eir_batch b;
    case_desc(&f, c, &d);
    case_spec(c, &s);
    case_batch(&f, c, &b);
    char name[160];
    case_name(c, name, sizeof name);
    eir_net *n = new_net(&d, &s);
    const size_t len = eir_net_theta_len(n);
    double *g = calloc(len, sizeof *g);
    eir_loss_parts lp;
    eir_error err;
    ET_CHECK(eir_net_loss_grad(n, &b, KEY, &lp, g, NULL, &err) == EIR_OK, "%s: %s", name,
             err.message);
    ET_CHECK(lp.task > 0 && lp.l2_weights > 0 && lp.l2_rates > 0, "%s: loss parts %g %g %g", name,
             lp.task, lp.l2_weights, lp.l2_rates);
    ET_CHECK(fabs(lp.total - (lp.task + lp.l2_weights + lp.l2_rates)) <= 1e-15 * lp.total,
             "%s: total is not the sum of the parts", name);
    size_t off[EIR_NPARAMS], pl[EIR_NPARAMS];
    eir_net_layout(n, off, pl);
    double *th = eir_net_theta(n);
    double worst = 0.0;
    int checked = 0;
    for (int p = 0; p < EIR_NPARAMS; p++) {
        if (!pl[p] || !(s.trainable & (1u << p))) continue;
        double num = 0.0, den = 0.0;
        for (size_t k = off[p]; k < off[p] + pl[p]; k++) {
            const double t0 = th[k], h = 1e-5 * (fabs(t0) > 0.1 ? fabs(t0) : 0.1);
            th[k] = t0 + h;
            const double lpl = loss_at(n, &b, KEY);
            th[k] = t0 - h;
            const double lmi = loss_at(n, &b, KEY);
            th[k] = t0;
            const double fd = (lpl - lmi) / (2 * h);
            num += (g[k] - fd) * (g[k] - fd);
            den += fd * fd;
        }
        const double e = sqrt(num) / (sqrt(den) > 1e-300 ? sqrt(den) : 1e-300);
        ET_CHECK(den > 0, "%s: %s has a zero gradient by finite differences", name,
                 eir_param_name((eir_param)p));
        ET_CHECK(e <= 1e-6, "%s: gradient of %s: norm-wise relative error %.3g > 1e-6", name,
                 eir_param_name((eir_param)p), e);
        worst = e > worst ? e : worst;
        checked++;
    }
    const int want = 6 + (pl[EIR_PARAM_A] && !c->a_rows ? 1 : 0);
    ET_CHECK(checked == want, "%s: %d parameters checked, expected %d", name, checked, want);
    free(g);
    eir_net_free(n);
    return worst;
}

static void test_grad_all_cases(void **state)
{
    (void)state;
    double worst = 0.0;
    int cases = 0;
    for (int cls = 0; cls < 3; cls++)
        for (int form = 0; form < 2; form++)
            for (int integ = 0; integ < 2; integ++)
                for (int loss = 0; loss < 2; loss++) {
                    net_case c = {(eir_class)cls,
                                  (eir_form)form,
                                  integ ? EIR_INTEG_EULER : EIR_INTEG_EXP_EULER,
                                  (eir_loss_kind)loss,
                                  cls == EIR_CLASS_RNN    ? EIR_ACT_TANH
                                  : cls == EIR_CLASS_DALE ? EIR_ACT_SIGMOID
                                                          : EIR_ACT_SOFTPLUS,
                                  0,
                                  cls == EIR_CLASS_DALE || (form == 1 && loss == 1),
                                  cls == EIR_CLASS_GATED || integ == 1,
                                  0};
                    double e = grad_check(&c);
                    worst = e > worst ? e : worst;
                    cases++;
                    if (cls == EIR_CLASS_GATED && form == 0) {
                        /* a frozen A per row and type: the column-split products */
                        c.a_rows = 1;
                        e = grad_check(&c);
                        worst = e > worst ? e : worst;
                        cases++;
                    }
                }
    print_message("gradient check: %d cases, worst norm-wise relative error %.3g\n", cases, worst);
}

static void test_grad_activations(void **state)
{
    (void)state;
    static const struct {
        eir_class cls;
        eir_act_kind act;
        double r_max;
    } acts[] = {
        {EIR_CLASS_GATED, EIR_ACT_RELU, 0},       {EIR_CLASS_GATED, EIR_ACT_TANH_RECT, 0},
        {EIR_CLASS_GATED, EIR_ACT_SIGMOID, 0},    {EIR_CLASS_GATED, EIR_ACT_POWER, 0},
        {EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 0.9}, {EIR_CLASS_RNN, EIR_ACT_LINEAR, 0},
        {EIR_CLASS_RNN, EIR_ACT_TANH, 0.5},       {EIR_CLASS_DALE, EIR_ACT_RELU, 0.6},
    };
    for (size_t q = 0; q < sizeof acts / sizeof acts[0]; q++)
        for (int integ = 0; integ < 2; integ++) {
            net_case c = {acts[q].cls,
                          EIR_FORM_REDUCED,
                          integ ? EIR_INTEG_EULER : EIR_INTEG_EXP_EULER,
                          EIR_LOSS_MSE,
                          acts[q].act,
                          acts[q].r_max,
                          0,
                          1,
                          0};
            grad_check(&c);
        }
}

/* ---- the column-split products give the fused products' gradient ------------------------ */

static void test_split_equals_fused(void **state)
{
    (void)state;
    for (int integ = 0; integ < 2; integ++) {
        fixture f;
        make_fixture(&f, 41);
        net_case c = {EIR_CLASS_GATED,
                      EIR_FORM_REDUCED,
                      integ ? EIR_INTEG_EULER : EIR_INTEG_EXP_EULER,
                      EIR_LOSS_CE,
                      EIR_ACT_SOFTPLUS,
                      0,
                      0,
                      1,
                      1};
        eir_model_desc d;
        eir_train_spec s;
        eir_batch b;
        case_desc(&f, &c, &d);
        case_spec(&c, &s);
        case_batch(&f, &c, &b);
        eir_net *split = new_net(&d, &s); /* A frozen: split */
        s.trainable |= 1u << EIR_PARAM_A;
        eir_net *fused = new_net(&d, &s); /* A trainable: fused [W; M] */
        const size_t len = eir_net_theta_len(split);
        double *g1 = calloc(len, sizeof *g1), *g2 = calloc(len, sizeof *g2);
        eir_loss_parts l1, l2;
        eir_error err;
        ET_CHECK(eir_net_loss_grad(split, &b, KEY, &l1, g1, NULL, &err) == EIR_OK, "%s",
                 err.message);
        ET_CHECK(eir_net_loss_grad(fused, &b, KEY, &l2, g2, NULL, &err) == EIR_OK, "%s",
                 err.message);
        ET_ASSERT_REL(l1.total, l2.total, 1e-13);
        size_t off[EIR_NPARAMS], pl[EIR_NPARAMS];
        eir_net_layout(split, off, pl);
        for (int p = 0; p < EIR_NPARAMS; p++) {
            if (p == EIR_PARAM_A) continue;
            double num = 0, den = 0;
            for (size_t k = off[p]; k < off[p] + pl[p]; k++) {
                num += (g1[k] - g2[k]) * (g1[k] - g2[k]);
                den += g2[k] * g2[k];
            }
            ET_CHECK(num <= 1e-24 * den, "%s: split and fused gradients differ by %.3g",
                     eir_param_name((eir_param)p), sqrt(num / den));
        }
        free(g1);
        free(g2);
        eir_net_free(split);
        eir_net_free(fused);
    }
}

/* ---- frozen parameters ------------------------------------------------------------------- */

static void test_frozen_zero(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 5);
    net_case c = {EIR_CLASS_GATED,
                  EIR_FORM_REDUCED,
                  EIR_INTEG_EXP_EULER,
                  EIR_LOSS_CE,
                  EIR_ACT_SOFTPLUS,
                  0,
                  0,
                  1,
                  0};
    eir_model_desc d;
    eir_train_spec s;
    eir_batch b;
    case_desc(&f, &c, &d);
    case_spec(&c, &s);
    case_batch(&f, &c, &b);
    s.trainable = (1u << EIR_PARAM_W) | (1u << EIR_PARAM_B_OUT);
    eir_net *n = new_net(&d, &s);
    size_t off[EIR_NPARAMS], pl[EIR_NPARAMS];
    eir_net_layout(n, off, pl);
    const size_t len = eir_net_theta_len(n);
    double *g = malloc(len * sizeof *g);
    for (size_t k = 0; k < len; k++)
        g[k] = NAN;
    eir_error err;
    ET_CHECK(eir_net_loss_grad(n, &b, KEY, NULL, g, NULL, &err) == EIR_OK, "%s", err.message);
    for (int p = 0; p < EIR_NPARAMS; p++) {
        int nonzero = 0;
        for (size_t k = off[p]; k < off[p] + pl[p]; k++) {
            const int frozen = !(s.trainable & (1u << p));
            if (frozen)
                ET_CHECK(g[k] == 0.0 && !signbit(g[k]), "frozen %s: grad %g",
                         eir_param_name((eir_param)p), g[k]);
            nonzero |= g[k] != 0.0;
        }
        if (s.trainable & (1u << p))
            ET_CHECK(nonzero, "trainable %s has an all-zero gradient",
                     eir_param_name((eir_param)p));
    }
    /* absent recurrent entries get no gradient either */
    for (int q = 0; q < N * N; q++)
        if (f.W[q] == 0.0) ET_CHECK(g[off[EIR_PARAM_W] + q] == 0.0, "masked W[%d]", q);
    free(g);
    eir_net_free(n);
}

/* ---- the forward pass is eir_run() ------------------------------------------------------- */

static void forward_vs_run(const net_case *c, eir_precision prec)
{
    fixture f;
    make_fixture(&f, 23);
    eir_model_desc d;
    eir_train_spec s;
    eir_batch b;
    case_desc(&f, c, &d);
    case_spec(c, &s);
    s.precision = prec;
    case_batch(&f, c, &b);
    char name[160];
    case_name(c, name, sizeof name);
    eir_net *n = new_net(&d, &s);
    /* move theta away from the initial model so that the effective model is theta's (all but
     * a frozen A, whose per-row structure selects the column-split products) */
    double *th = eir_net_theta(n);
    size_t off[EIR_NPARAMS], pl[EIR_NPARAMS];
    eir_net_layout(n, off, pl);
    for (size_t k = 0; k < eir_net_theta_len(n); k++)
        if (!(c->a_rows && k >= off[EIR_PARAM_A] && k < off[EIR_PARAM_A] + pl[EIR_PARAM_A]))
            th[k] *= 1.0 + 0.01 * (double)(k % 7);
    double y[NB * NT * NOUT];
    eir_error err;
    ET_CHECK(eir_net_forward(n, &b, KEY, NULL, y, &err) == EIR_OK, "%s", err.message);
    eir_model_desc md;
    eir_net_model_desc(n, &md);
    eir_model *m = et_build(&md);
    eir_run_desc r;
    eir_run_desc_init(&r);
    r.dt = s.dt;
    r.integrator = s.integrator;
    r.precision = prec;
    r.T = NT;
    r.B = NB;
    r.inputs = f.x;
    r.seed = KEY;
    r.record_mask = 1u << EIR_VAR_Y;
    const size_t ny = eir_run_out_len(m, &r, EIR_VAR_Y);
    ET_CHECK(ny == NB * NT * NOUT, "y length %zu", ny);
    double yd[NB * NT * NOUT];
    float yf[NB * NT * NOUT];
    r.out[EIR_VAR_Y] = prec == EIR_F64 ? (void *)yd : (void *)yf;
    eir_run_result res;
    ET_CHECK(eir_run(m, &r, &res, &err) == EIR_OK, "%s", err.message);
    double ymax = 0.0;
    for (int q = 0; q < NB * NT * NOUT; q++) {
        if (prec == EIR_F32) yd[q] = yf[q];
        ymax = fabs(yd[q]) > ymax ? fabs(yd[q]) : ymax;
    }
    const double tol = prec == EIR_F64 ? 1e-12 : 2e-6;
    double worst = 0.0;
    for (int q = 0; q < NB * NT * NOUT; q++) {
        const double e = fabs(y[q] - yd[q]) / ymax;
        worst = e > worst ? e : worst;
    }
    if (prec == EIR_F64) print_message("%s: forward vs eir_run: %.3g\n", name, worst);
    for (int q = 0; q < NB * NT * NOUT; q++)
        ET_CHECK(fabs(y[q] - yd[q]) <= tol * ymax, "%s: y[%d] = %.17g, eir_run %.17g", name, q,
                 y[q], yd[q]);
    eir_model_free(m);
    eir_net_free(n);
}

static void test_forward_is_run(void **state)
{
    (void)state;
    for (int cls = 0; cls < 3; cls++)
        for (int form = 0; form < 2; form++)
            for (int integ = 0; integ < 2; integ++) {
                net_case c = {(eir_class)cls,
                              (eir_form)form,
                              integ ? EIR_INTEG_EULER : EIR_INTEG_EXP_EULER,
                              EIR_LOSS_MSE,
                              cls == EIR_CLASS_RNN ? EIR_ACT_TANH : EIR_ACT_RELU,
                              cls == EIR_CLASS_DALE ? 0.8 : 0,
                              form == 1,
                              cls != EIR_CLASS_DALE,
                              0};
                forward_vs_run(&c, EIR_F64);
                forward_vs_run(&c, EIR_F32);
                if (cls == EIR_CLASS_GATED && form == 0) {
                    c.a_rows = 1;
                    forward_vs_run(&c, EIR_F64);
                    forward_vs_run(&c, EIR_F32);
                }
            }
}

/* ---- float32, threads -------------------------------------------------------------------- */

static void test_float32_agrees(void **state)
{
    (void)state;
    for (int cls = 0; cls < 3; cls++) {
        fixture f;
        make_fixture(&f, 31);
        net_case c = {(eir_class)cls,
                      EIR_FORM_REDUCED,
                      EIR_INTEG_EXP_EULER,
                      EIR_LOSS_CE,
                      cls == EIR_CLASS_RNN ? EIR_ACT_TANH : EIR_ACT_SOFTPLUS,
                      0,
                      0,
                      1,
                      0};
        eir_model_desc d;
        eir_train_spec s;
        eir_batch b;
        case_desc(&f, &c, &d);
        case_spec(&c, &s);
        case_batch(&f, &c, &b);
        eir_net *n64 = new_net(&d, &s);
        s.precision = EIR_F32;
        eir_net *n32 = new_net(&d, &s);
        const size_t len = eir_net_theta_len(n64);
        double *g64 = calloc(len, sizeof *g64), *g32 = calloc(len, sizeof *g32);
        eir_loss_parts l64, l32;
        eir_error err;
        ET_CHECK(eir_net_loss_grad(n64, &b, KEY, &l64, g64, NULL, &err) == EIR_OK, "%s",
                 err.message);
        ET_CHECK(eir_net_loss_grad(n32, &b, KEY, &l32, g32, NULL, &err) == EIR_OK, "%s",
                 err.message);
        ET_ASSERT_REL(l32.total, l64.total, 1e-5);
        size_t off[EIR_NPARAMS], pl[EIR_NPARAMS];
        eir_net_layout(n64, off, pl);
        for (int p = 0; p < EIR_NPARAMS; p++) {
            double num = 0, den = 0;
            for (size_t k = off[p]; k < off[p] + pl[p]; k++) {
                num += (g32[k] - g64[k]) * (g32[k] - g64[k]);
                den += g64[k] * g64[k];
            }
            if (den == 0) continue;
            ET_CHECK(sqrt(num / den) <= 1e-4, "%s %s: float32 gradient off by %.3g",
                     eir_class_name(c.cls), eir_param_name((eir_param)p), sqrt(num / den));
        }
        free(g64);
        free(g32);
        eir_net_free(n64);
        eir_net_free(n32);
    }
}

static void test_threads_same_bytes(void **state)
{
    (void)state;
    enum { BB = 150, TT = 9 }; /* three chunks: 64, 64, 22 */
    et_rng r = {77};
    double *x = malloc(sizeof(double) * BB * TT * NIN);
    int32_t *lab = malloc(sizeof(int32_t) * BB * TT), len[BB];
    for (int q = 0; q < BB * TT * NIN; q++)
        x[q] = et_unif(&r, -1, 1);
    for (int q = 0; q < BB * TT; q++)
        lab[q] = (int32_t)(et_next(&r) % NOUT);
    for (int q = 0; q < BB; q++)
        len[q] = 1 + (int)(et_next(&r) % TT);
    for (int prec = 0; prec < 2; prec++) {
        fixture f;
        make_fixture(&f, 3);
        net_case c = {EIR_CLASS_GATED,
                      EIR_FORM_REDUCED,
                      EIR_INTEG_EXP_EULER,
                      EIR_LOSS_CE,
                      EIR_ACT_RELU,
                      0,
                      0,
                      1,
                      0};
        eir_model_desc d;
        eir_train_spec s;
        case_desc(&f, &c, &d);
        case_spec(&c, &s);
        s.precision = (eir_precision)prec;
        eir_batch b = {BB, TT, NIN, NOUT, x, NULL, lab, NULL, len};
        double *g[3], *y[3];
        eir_loss_parts lp[3];
        size_t len_theta = 0;
        for (int t = 0; t < 3; t++) {
            s.threads = t + 1;
            eir_net *n = new_net(&d, &s);
            len_theta = eir_net_theta_len(n);
            g[t] = malloc(len_theta * sizeof(double));
            y[t] = malloc(sizeof(double) * BB * TT * NOUT);
            eir_error err;
            ET_CHECK(eir_net_loss_grad(n, &b, KEY, &lp[t], g[t], y[t], &err) == EIR_OK, "%s",
                     err.message);
            /* a second call in the same workspace gives the same bytes */
            double *g2 = malloc(len_theta * sizeof(double));
            ET_CHECK(eir_net_loss_grad(n, &b, KEY, NULL, g2, NULL, &err) == EIR_OK, "%s",
                     err.message);
            ET_CHECK(memcmp(g2, g[t], len_theta * sizeof(double)) == 0, "repeat differs");
            free(g2);
            eir_net_free(n);
        }
        for (int t = 1; t < 3; t++) {
            ET_CHECK(memcmp(g[t], g[0], len_theta * sizeof(double)) == 0,
                     "%s: threads %d gradient differs from threads 1",
                     eir_precision_name(s.precision), t + 1);
            ET_CHECK(memcmp(y[t], y[0], sizeof(double) * BB * TT * NOUT) == 0,
                     "threads %d readout differs", t + 1);
            ET_CHECK(memcmp(&lp[t], &lp[0], sizeof lp[0]) == 0, "threads %d loss differs", t + 1);
        }
        for (int t = 0; t < 3; t++) {
            free(g[t]);
            free(y[t]);
        }
    }
    free(x);
    free(lab);
}

/* ---- a workspace reused across shapes gives a fresh network's bytes ----------------------- */

static void test_shapes_reuse(void **state)
{
    (void)state;
    enum { BMAX = 70, TMAX = 9 };
    et_rng r = {99};
    double *x = malloc(sizeof(double) * BMAX * TMAX * NIN);
    double *tg = malloc(sizeof(double) * BMAX * TMAX * NOUT);
    for (int q = 0; q < BMAX * TMAX * NIN; q++)
        x[q] = et_unif(&r, -1, 1);
    for (int q = 0; q < BMAX * TMAX * NOUT; q++)
        tg[q] = et_unif(&r, -1, 1);
    fixture f;
    make_fixture(&f, 17);
    net_case c = {EIR_CLASS_GATED,
                  EIR_FORM_CONDUCTANCE,
                  EIR_INTEG_EXP_EULER,
                  EIR_LOSS_MSE,
                  EIR_ACT_SOFTPLUS,
                  0,
                  1,
                  1,
                  0};
    eir_model_desc d;
    eir_train_spec s;
    case_desc(&f, &c, &d);
    case_spec(&c, &s);
    s.threads = 2;
    eir_net *reused = new_net(&d, &s);
    const size_t len = eir_net_theta_len(reused);
    double *g1 = malloc(len * sizeof *g1), *g2 = malloc(len * sizeof *g2);
    static const int shapes[][2] = {{3, 9}, {70, 4}, {5, 9}, {70, 9}, {1, 2}, {66, 7}};
    for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++) {
        /* the first shapes[q][0] trials of the arrays, with T = shapes[q][1] (row stride T) */
        eir_batch b = {shapes[q][0], shapes[q][1], NIN, NOUT, x, tg, NULL, NULL, NULL};
        eir_loss_parts l1, l2;
        eir_error err;
        ET_CHECK(eir_net_loss_grad(reused, &b, KEY + q, &l1, g1, NULL, &err) == EIR_OK, "%s",
                 err.message);
        eir_net *fresh = new_net(&d, &s);
        ET_CHECK(eir_net_loss_grad(fresh, &b, KEY + q, &l2, g2, NULL, &err) == EIR_OK, "%s",
                 err.message);
        eir_net_free(fresh);
        ET_CHECK(memcmp(g1, g2, len * sizeof *g1) == 0 && memcmp(&l1, &l2, sizeof l1) == 0,
                 "shape %d x %d: the reused workspace gives other bytes", shapes[q][0],
                 shapes[q][1]);
    }
    eir_net_free(reused);
    free(g1);
    free(g2);
    free(x);
    free(tg);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void expect_batch_error(eir_net *n, const eir_batch *b, const char *field)
{
    eir_error err;
    eir_error_clear(&err);
    double g[2048];
    eir_status st = eir_net_loss_grad(n, b, KEY, NULL, g, NULL, &err);
    ET_CHECK(st == EIR_EINVAL, "status %d for a bad batch (want field %s)", (int)st, field);
    ET_CHECK(strcmp(err.field, field) == 0, "field '%s', expected '%s' (%s)", err.field, field,
             err.message);
    ET_CHECK(strlen(err.message) > 10, "message '%s'", err.message);
}

static void test_bad_batches(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 9);
    net_case c = {EIR_CLASS_GATED,
                  EIR_FORM_REDUCED,
                  EIR_INTEG_EXP_EULER,
                  EIR_LOSS_CE,
                  EIR_ACT_RELU,
                  0,
                  0,
                  0,
                  0};
    eir_model_desc d;
    eir_train_spec s;
    eir_batch b, bad;
    case_desc(&f, &c, &d);
    case_spec(&c, &s);
    case_batch(&f, &c, &b);
    eir_net *n = new_net(&d, &s);
    bad = b, bad.B = 0;
    expect_batch_error(n, &bad, "/batch");
    bad = b, bad.n_in = 2;
    expect_batch_error(n, &bad, "/task/inputs");
    bad = b, bad.n_out = 2;
    expect_batch_error(n, &bad, "/model/readout");
    bad = b, bad.label = NULL;
    expect_batch_error(n, &bad, "/task/labels");
    int32_t lab[NB * NT], len[NB] = {NT, 0, 3};
    memcpy(lab, f.label, sizeof lab);
    lab[7] = NOUT;
    bad = b, bad.label = lab;
    expect_batch_error(n, &bad, "/task/labels");
    bad = b, bad.len = len;
    expect_batch_error(n, &bad, "/task/lengths");
    double m[NB * NT], x[NB * NT * NIN];
    memcpy(m, f.mask_ce, sizeof m);
    m[4] = -1;
    bad = b, bad.mask = m;
    expect_batch_error(n, &bad, "/task/mask");
    memcpy(x, f.x, sizeof x);
    x[5] = NAN;
    bad = b, bad.x = x;
    expect_batch_error(n, &bad, "/task/inputs");
    eir_net_free(n);
    /* a forward pass that stops being finite: EIR_ENUMERIC naming the step */
    {
        net_case cl = c;
        cl.integ = EIR_INTEG_EULER;
        cl.act = EIR_ACT_POWER;
        eir_model_desc dl;
        eir_train_spec sl;
        case_desc(&f, &cl, &dl);
        case_spec(&cl, &sl);
        sl.dt = 40.0; /* z dt >> 2: forward Euler explodes within a few steps */
        eir_net *nl = new_net(&dl, &sl);
        double g[2048];
        eir_error e2;
        ET_CHECK(eir_net_loss_grad(nl, &b, KEY, NULL, g, NULL, &e2) == EIR_ENUMERIC,
                 "a diverging forward pass was not refused");
        ET_CHECK(strstr(e2.message, "step") != NULL, "message '%s' gives no step", e2.message);
        eir_net_free(nl);
    }
    /* specs and models */
    eir_error err;
    eir_net *nn = NULL;
    s.integrator = EIR_INTEG_RK4;
    ET_CHECK(eir_net_new(&d, &s, &nn, &err) == EIR_EINVAL && nn == NULL, "rk4 accepted");
    ET_CHECK(strcmp(err.field, "/integrator") == 0, "field %s", err.field);
    case_spec(&c, &s);
    d.n_out = 0;
    ET_CHECK(eir_net_new(&d, &s, &nn, &err) == EIR_EINVAL, "no readout accepted");
    ET_CHECK(strcmp(err.field, "/model/readout") == 0, "field %s", err.field);
    case_desc(&f, &c, &d);
    d.cls = EIR_CLASS_DALE;
    d.A = NULL;
    ET_CHECK(eir_net_new(&d, &s, &nn, &err) == EIR_EINVAL, "A trainable in dale accepted");
    ET_CHECK(strcmp(err.field, "/trainable") == 0, "field %s", err.field);
    case_desc(&f, &c, &d);
    double leak[N];
    memcpy(leak, f.leak, sizeof leak);
    leak[2] = -1;
    d.leak = leak;
    ET_CHECK(eir_net_new(&d, &s, &nn, &err) == EIR_EINVAL, "negative leak accepted");
    ET_CHECK(strncmp(err.field, "/model/leak", 11) == 0, "field %s", err.field);
}

/* ---- Dale's law and masks hold for any theta ---------------------------------------------- */

static void test_any_theta_keeps_dale(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 13);
    for (int form = 0; form < 2; form++) {
        net_case c = {EIR_CLASS_GATED,
                      (eir_form)form,
                      EIR_INTEG_EXP_EULER,
                      EIR_LOSS_CE,
                      EIR_ACT_RELU,
                      0,
                      0,
                      0,
                      0};
        eir_model_desc d;
        eir_train_spec s;
        case_desc(&f, &c, &d);
        case_spec(&c, &s);
        eir_net *n = new_net(&d, &s);
        size_t off[EIR_NPARAMS], pl[EIR_NPARAMS];
        eir_net_layout(n, off, pl);
        double *th = eir_net_theta(n);
        et_rng r = {form + 1};
        for (size_t k = 0; k < pl[EIR_PARAM_W]; k++)
            th[off[EIR_PARAM_W] + k] = et_unif(&r, -1, 1); /* any signs, masked entries too */
        eir_model_desc md;
        eir_net_model_desc(n, &md);
        eir_model *m = et_build(&md); /* Dale policy reject: a violation would fail here */
        double W[N * N];
        eir_model_W_dense(m, W);
        const double *W0 = form == 0 ? f.W : f.K;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                const double w = W[i * N + j];
                if (W0[i * N + j] == 0.0) ET_CHECK(w == 0.0, "masked (%d,%d) = %g", i, j, w);
                ET_CHECK(j < NE ? w >= 0 : w <= 0, "(%d,%d) = %g breaks Dale", i, j, w);
            }
        eir_model_free(m);
        eir_net_free(n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_all_cases),       cmocka_unit_test(test_split_equals_fused),
        cmocka_unit_test(test_grad_activations),     cmocka_unit_test(test_frozen_zero),
        cmocka_unit_test(test_forward_is_run),       cmocka_unit_test(test_float32_agrees),
        cmocka_unit_test(test_threads_same_bytes),   cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_any_theta_keeps_dale), cmocka_unit_test(test_shapes_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
