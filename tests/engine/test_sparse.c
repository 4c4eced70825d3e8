/*
 * Sparse storage (eir.h eir_storage, docs/MODEL.md "Sparse storage"): a model stored as
 * compressed rows is the same model as its dense equivalent.
 *  - every class, form, kind of A, activation, integrator and precision, with B = 1 (one
 *    row sum per cell) and B = 3 (a trial block at once), with inputs, input gating, bias,
 *    a readout and noise: V, r, z and y of the sparse model agree with the dense model's
 *    within 1e-9 (float64) and 1e-4 (float32) relative to max(1, |x|) (the products are
 *    summed in another order);
 *  - the hash, W, M and the linearisation are the same values, and Dale projection drops
 *    the same entries;
 *  - a sparse run gives the same bytes at 1, 2 and 3 threads (several neuron blocks, one and
 *    two trial blocks);
 *  - the same with E columns in more than one panel (N = 2,600);
 *  - automatic storage: sparse from EIR_SPARSE_MIN_N cells at density <= EIR_SPARSE_MAX_DENSITY,
 *    dense otherwise; eir_model_bytes() counts the compressed rows.
 */
#include "eir_test_util.h"

#define NIN 2
#define NOUT 2
#define TSTEPS 60

/** Arrays of a test model (owned). */
typedef struct net {
    int n, ne;
    double *W, *K, *A, *P, *Min, *Wout, *bias;
    double a_row[1 << 12];
} net;

static const double A_TYPE[2] = {0.4, 0.8};
static const double LEAK = 1.0;

/** Random connectivity of density @p p (signs by column type, some Dale violations). */
static void net_init(net *g, int n, double p, unsigned seed)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->ne = n * 4 / 5;
    const size_t nn = (size_t)n * n;
    g->W = malloc(nn * sizeof *g->W);
    g->K = malloc(nn * sizeof *g->K);
    g->A = malloc(nn * sizeof *g->A);
    g->P = malloc((size_t)n * NIN * sizeof *g->P);
    g->Min = malloc((size_t)n * NIN * sizeof *g->Min);
    g->Wout = malloc((size_t)NOUT * n * sizeof *g->Wout);
    g->bias = malloc((size_t)n * sizeof *g->bias);
    assert_true(g->W && g->K && g->A && g->P && g->Min && g->Wout && g->bias);
    et_rng r = {seed};
    const double s = 1.5 / sqrt(p * n);
    for (size_t k = 0; k < nn; k++) {
        const int j = (int)(k % (size_t)n);
        double v = et_unif(&r, 0, 1) < p ? et_unif(&r, 0.1, 1.0) * s : 0.0;
        g->K[k] = v;
        g->W[k] = j < g->ne ? v : -2.0 * v;
        if (v != 0 && et_unif(&r, 0, 1) < 0.02) g->W[k] = -g->W[k]; /* Dale violations */
        g->A[k] = et_unif(&r, 0.1, 1.0);
    }
    for (int k = 0; k < n * NIN; k++) {
        g->P[k] = et_unif(&r, -1, 1);
        g->Min[k] = et_unif(&r, 0, 0.3);
    }
    for (int k = 0; k < NOUT * n; k++)
        g->Wout[k] = et_unif(&r, -1, 1) / n;
    for (int i = 0; i < n; i++)
        g->bias[i] = et_unif(&r, 0, 0.5);
    for (int k = 0; k < 2 * n && k < (int)(sizeof g->a_row / sizeof g->a_row[0]); k++)
        g->a_row[k] = et_unif(&r, 0.1, 1.0);
}

static void net_free(net *g)
{
    free(g->W);
    free(g->K);
    free(g->A);
    free(g->P);
    free(g->Min);
    free(g->Wout);
    free(g->bias);
}

/** The description of class @p cls, form @p form, A kind @p ak (gated reduced), activation. */
static void net_desc(const net *g, eir_model_desc *d, eir_class cls, eir_form form, eir_a_kind ak,
                     eir_act_kind act, double sigma)
{
    et_desc_reduced(d, cls, act, g->ne, g->n - g->ne, g->W, &LEAK, 1);
    d->act.r_max = 10.0;
    d->dale = EIR_DALE_PROJECT;
    if (form == EIR_FORM_CONDUCTANCE) {
        d->form = EIR_FORM_CONDUCTANCE;
        d->W = NULL;
        d->K = g->K;
        d->e_rev_e = 1.0;
        d->e_rev_i = -0.5;
    } else if (cls == EIR_CLASS_GATED) {
        d->a_kind = ak;
        d->A = ak == EIR_A_MATRIX     ? g->A
               : ak == EIR_A_PER_ROW  ? g->a_row
               : ak == EIR_A_PER_TYPE ? A_TYPE
                                      : A_TYPE + 1;
    }
    d->n_in = NIN;
    d->P = g->P;
    d->M_in = cls == EIR_CLASS_GATED ? g->Min : NULL;
    d->bias = g->bias;
    d->bias_len = g->n;
    d->n_out = NOUT;
    d->W_out = g->Wout;
    d->sigma = sigma;
}

static eir_model *build_as(eir_model_desc *d, eir_storage st)
{
    d->storage = st;
    eir_model *m = et_build(d);
    ET_CHECK(eir_model_sparse(m) == (st == EIR_STORAGE_SPARSE), "storage %d not kept", (int)st);
    return m;
}

/** Inputs for B trials of T steps (owned). */
static double *make_inputs(int B, unsigned seed)
{
    double *x = malloc((size_t)B * TSTEPS * NIN * sizeof *x);
    assert_non_null(x);
    et_rng r = {seed};
    for (size_t k = 0; k < (size_t)B * TSTEPS * NIN; k++)
        x[k] = et_unif(&r, -1, 1);
    return x;
}

/** Largest error of sparse against dense over V, r, z, y (relative to max(1, |x|)). */
static double run_error(const eir_model *md, const eir_model *ms, eir_integrator integ,
                        eir_precision prec, int B, const double *inputs)
{
    et_out od, os;
    eir_run_desc r;
    et_rdesc(&r, 0.05, TSTEPS, B, ET_V | ET_R | ET_Z | ET_Y);
    r.integrator = integ;
    r.precision = prec;
    r.inputs = inputs;
    r.seed = 11;
    et_run_ok(md, &r, &od);
    et_run_ok(ms, &r, &os);
    ET_CHECK(od.res.steps_done == os.res.steps_done, "steps %lld vs %lld",
             (long long)od.res.steps_done, (long long)os.res.steps_done);
    ET_CHECK(!od.res.diverged, "the test model diverged");
    double worst = 0;
    for (int v = 0; v < EIR_NVARS; v++)
        for (size_t k = 0; k < od.len[v]; k++) {
            double a = prec == EIR_F32 ? ((float *)os.buf[v])[k] : ((double *)os.buf[v])[k];
            double b = prec == EIR_F32 ? ((float *)od.buf[v])[k] : ((double *)od.buf[v])[k];
            double e = et_rel(a, b, 1.0);
            worst = e > worst ? e : worst;
        }
    et_out_free(&od);
    et_out_free(&os);
    return worst;
}

/** Same values (== per element, so -0 and +0 agree) of two N*N arrays. */
static void assert_same_values(const double *a, const double *b, size_t nn, const char *what)
{
    for (size_t k = 0; k < nn; k++)
        ET_CHECK(a[k] == b[k], "%s[%zu]: %.17g vs %.17g", what, k, a[k], b[k]);
}

/** Hash, W, M, projection count and linearisation of the sparse model equal the dense one's. */
static void check_same_model(const eir_model *md, const eir_model *ms)
{
    const int n = eir_model_n(md);
    const size_t nn = (size_t)n * n;
    char hd[65], hs[65];
    eir_model_hash(md, hd);
    eir_model_hash(ms, hs);
    assert_string_equal(hd, hs);
    assert_int_equal(eir_model_projected(md), eir_model_projected(ms));
    assert_null(eir_model_W(ms));
    double *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), V[256];
    assert_true(a && b && n <= 256);
    eir_model_W_dense(md, a);
    eir_model_W_dense(ms, b);
    assert_same_values(a, b, nn, "W");
    assert_same_values(eir_model_W(md), b, nn, "W (dense pointer)");
    eir_model_M(md, a);
    eir_model_M(ms, b);
    assert_same_values(a, b, nn, "M");
    for (int i = 0; i < n; i++)
        V[i] = 0.3 * sin(i);
    const double x[NIN] = {0.5, -0.25};
    eir_error err;
    assert_int_equal(eir_linearize(md, V, x, a, &err), EIR_OK);
    assert_int_equal(eir_linearize(ms, V, x, b, &err), EIR_OK);
    assert_same_values(a, b, nn, "J");
    free(a);
    free(b);
}

/** One configuration: the models, then every integrator, precision and B. */
static void check_config(const net *g, eir_class cls, eir_form form, eir_a_kind ak,
                         eir_act_kind act, const double *in1, const double *in3)
{
    eir_model_desc d;
    net_desc(g, &d, cls, form, ak, act, 0.05);
    eir_model *md = build_as(&d, EIR_STORAGE_DENSE), *ms = build_as(&d, EIR_STORAGE_SPARSE);
    check_same_model(md, ms);
    for (int integ = 0; integ < 3; integ++)
        for (int prec = 0; prec < 2; prec++)
            for (int B = 1; B <= 3; B += 2) {
                const eir_precision p = prec ? EIR_F32 : EIR_F64;
                const double tol = prec ? 1e-4 : 1e-9;
                double e = run_error(md, ms, (eir_integrator)integ, p, B, B == 1 ? in1 : in3);
                ET_CHECK(e <= tol,
                         "class %s form %d A %d act %s integrator %s %s B %d: sparse vs dense "
                         "rel. error %.3g > %.3g",
                         eir_class_name(cls), (int)form, (int)ak, eir_act_name(act),
                         eir_integrator_name((eir_integrator)integ), eir_precision_name(p), B, e,
                         tol);
            }
    eir_model_free(md);
    eir_model_free(ms);
}

static void test_sparse_equals_dense(void **state)
{
    (void)state;
    net g;
    net_init(&g, 70, 0.2, 5);
    double *in1 = make_inputs(1, 3), *in3 = make_inputs(3, 4);
    for (int act = 0; act <= EIR_ACT_TANH; act++) {
        for (int cls = 0; cls <= EIR_CLASS_GATED; cls++) {
            if (cls == EIR_CLASS_GATED && !eir_act_nonnegative((eir_act_kind)act)) continue;
            check_config(&g, (eir_class)cls, EIR_FORM_CONDUCTANCE, EIR_A_SCALAR, (eir_act_kind)act,
                         in1, in3);
            const int n_ak = cls == EIR_CLASS_GATED ? 4 : 1;
            for (int ak = 0; ak < n_ak; ak++)
                check_config(&g, (eir_class)cls, EIR_FORM_REDUCED, (eir_a_kind)ak,
                             (eir_act_kind)act, in1, in3);
        }
    }
    free(in1);
    free(in3);
    net_free(&g);
}

/**
 * More than one panel of columns per cell type (EIR_SPARSE_PANEL): N = 2,600 has E columns
 * in two panels; sparse against dense (split and fused products, every integrator) and the same
 * bytes at 1 and 2 threads.
 */
static void test_sparse_panels(void **state)
{
    (void)state;
    net g;
    net_init(&g, 2600, 0.05, 13);
    double *in1 = make_inputs(1, 3), *in3 = make_inputs(3, 4);
    for (int ak = EIR_A_PER_TYPE; ak <= EIR_A_MATRIX; ak += EIR_A_MATRIX - EIR_A_PER_TYPE) {
        eir_model_desc d;
        net_desc(&g, &d, EIR_CLASS_GATED, EIR_FORM_REDUCED, (eir_a_kind)ak, EIR_ACT_SOFTPLUS, 0.05);
        eir_model *md = build_as(&d, EIR_STORAGE_DENSE), *ms = build_as(&d, EIR_STORAGE_SPARSE);
        char hd[65], hs[65];
        eir_model_hash(md, hd);
        eir_model_hash(ms, hs);
        assert_string_equal(hd, hs);
        for (int integ = 0; integ < 3; integ++)
            for (int prec = 0; prec < 2; prec++) {
                const int B = integ == 1 ? 3 : 1;
                const double tol = prec ? 1e-4 : 1e-9;
                double e = run_error(md, ms, (eir_integrator)integ, prec ? EIR_F32 : EIR_F64, B,
                                     B == 1 ? in1 : in3);
                ET_CHECK(e <= tol, "A %d integrator %d precision %d B %d: rel. error %.3g", ak,
                         integ, prec, B, e);
            }
        eir_run_desc r;
        et_out o1, o2;
        et_rdesc(&r, 0.05, 10, 1, ET_V | ET_Z);
        r.inputs = in1;
        r.seed = 5;
        et_run_ok(ms, &r, &o1);
        r.threads = 2;
        et_run_ok(ms, &r, &o2);
        for (int v = 0; v < EIR_NVARS; v++)
            if (o1.buf[v])
                ET_CHECK(memcmp(o1.buf[v], o2.buf[v], o1.len[v] * sizeof(double)) == 0,
                         "%s differs between 1 and 2 threads", eir_var_name((eir_var)v));
        et_out_free(&o1);
        et_out_free(&o2);
        eir_model_free(md);
        eir_model_free(ms);
    }
    free(in1);
    free(in3);
    net_free(&g);
}

/** Bytes of every output of a run of @p m at @p threads threads. */
static void run_bytes(const eir_model *m, int B, int threads, eir_integrator integ,
                      eir_precision prec, const double *inputs, et_out *o)
{
    eir_run_desc r;
    et_rdesc(&r, 0.05, 20, B, ET_V | ET_R | ET_Z | ET_Y);
    r.integrator = integ;
    r.precision = prec;
    r.inputs = inputs;
    r.seed = 99;
    r.threads = threads;
    et_run_ok(m, &r, o);
}

static void check_threads(int n, int B, eir_a_kind ak)
{
    net g;
    net_init(&g, n, 0.15, 8);
    eir_model_desc d;
    net_desc(&g, &d, EIR_CLASS_GATED, EIR_FORM_REDUCED, ak, EIR_ACT_SOFTPLUS, 0.1);
    eir_model *m = build_as(&d, EIR_STORAGE_SPARSE);
    double *x = malloc((size_t)B * 20 * NIN * sizeof *x);
    assert_non_null(x);
    for (size_t k = 0; k < (size_t)B * 20 * NIN; k++)
        x[k] = sin(0.37 * k);
    for (int c = 0; c < 2; c++) {
        const eir_integrator integ = c ? EIR_INTEG_RK4 : EIR_INTEG_EXP_EULER;
        const eir_precision prec = c ? EIR_F64 : EIR_F32;
        et_out one;
        run_bytes(m, B, 1, integ, prec, x, &one);
        for (int t = 2; t <= 3; t++) {
            et_out o;
            run_bytes(m, B, t, integ, prec, x, &o);
            for (int v = 0; v < EIR_NVARS; v++) {
                size_t es = prec == EIR_F32 ? sizeof(float) : sizeof(double);
                ET_CHECK(memcmp(one.buf[v], o.buf[v], one.len[v] * es) == 0,
                         "N %d B %d: %s differs between 1 and %d threads", n, B,
                         eir_var_name((eir_var)v), t);
            }
            assert_memory_equal(&one.res, &o.res, sizeof one.res);
            et_out_free(&o);
        }
        et_out_free(&one);
    }
    free(x);
    eir_model_free(m);
    net_free(&g);
}

static void test_sparse_threads(void **state)
{
    (void)state;
    check_threads(900, 1, EIR_A_PER_TYPE);
    check_threads(900, 1, EIR_A_MATRIX);
    check_threads(300, 100, EIR_A_PER_TYPE);
    check_threads(300, 100, EIR_A_MATRIX);
}

/** Automatic storage follows EIR_SPARSE_MIN_N and EIR_SPARSE_MAX_DENSITY. */
static void test_sparse_auto(void **state)
{
    (void)state;
    const struct {
        int n;
        double p;
        int sparse;
    } cases[] = {
        {EIR_SPARSE_MIN_N, 0.1, 1}, {EIR_SPARSE_MIN_N, 0.5, 0}, {EIR_SPARSE_MIN_N - 1, 0.1, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        net g;
        net_init(&g, cases[c].n, cases[c].p, 21);
        eir_model_desc d;
        net_desc(&g, &d, EIR_CLASS_GATED, EIR_FORM_REDUCED, EIR_A_MATRIX, EIR_ACT_RELU, 0);
        eir_model *m = et_build(&d);
        ET_CHECK(eir_model_sparse(m) == cases[c].sparse, "N %d p %g: sparse %d", cases[c].n,
                 cases[c].p, eir_model_sparse(m));
        if (cases[c].sparse) {
            d.storage = EIR_STORAGE_DENSE;
            eir_model *md = et_build(&d);
            const size_t nn = (size_t)cases[c].n * cases[c].n;
            ET_CHECK(eir_model_nnz(md) == nn, "dense nnz %zu", eir_model_nnz(md));
            /* ~ p N^2 entries of 4 + 16 bytes against 24 N^2 dense */
            ET_CHECK(eir_model_bytes(m) < eir_model_bytes(md) / 8 &&
                         eir_model_bytes(m) > eir_model_nnz(m) * 20,
                     "bytes: sparse %zu, dense %zu", eir_model_bytes(m), eir_model_bytes(md));
            ET_CHECK(eir_model_bytes(md) >= 24 * nn, "dense bytes %zu", eir_model_bytes(md));
            char h1[65], h2[65];
            eir_model_hash(m, h1);
            eir_model_hash(md, h2);
            assert_string_equal(h1, h2);
            eir_model_free(md);
        }
        eir_model_free(m);
        net_free(&g);
    }
}

/** Dale's law under "reject" is checked the same way whatever the storage. */
static void test_sparse_dale_reject(void **state)
{
    (void)state;
    net g;
    net_init(&g, 40, 0.3, 2);
    eir_model_desc d;
    net_desc(&g, &d, EIR_CLASS_DALE, EIR_FORM_REDUCED, EIR_A_SCALAR, EIR_ACT_RELU, 0);
    d.dale = EIR_DALE_REJECT;
    d.storage = EIR_STORAGE_SPARSE;
    et_expect_reject(&d, "/recurrent/W", "Dale", NULL);
    d.storage = (eir_storage)7;
    d.dale = EIR_DALE_PROJECT;
    et_expect_reject(&d, "/storage", "storage", NULL);
    net_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_equals_dense), cmocka_unit_test(test_sparse_threads),
        cmocka_unit_test(test_sparse_panels),       cmocka_unit_test(test_sparse_auto),
        cmocka_unit_test(test_sparse_dale_reject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
