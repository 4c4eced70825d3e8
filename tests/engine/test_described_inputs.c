/*
 * Described inputs and the final state (eir.h "Described inputs", eir_run_desc.input_desc and
 * final_V; docs/MODEL.md "Described inputs, final state and run statistics"):
 *  - eir_input_expand() follows eir.h's formula to the bit: segments add in order, a ramp is
 *    v + (w - v) * (t - from) / (to - from) evaluated left to right, noise is
 *    sigma * eir_normal2(seed, c >> 1, t, b, EIR_STREAM_INPUT_NOISE | (t >> 32) << 8); any window
 *    [t0, t0 + tc) is the same slice of the whole expansion;
 *  - a run with a description gives the same bytes (V, r, z, y, final state, statistics of the
 *    result) as the same run with eir_input_expand()'s values sent as an array: constant,
 *    per-trial, ramp, overlapping segments, noise; float64 and float32; every integrator; a
 *    model with input gating (M_in |x|); at 1, 2 and 3 threads on a shape whose steps are cut
 *    into several work items and whose inputs are projected in several windows;
 *  - eir_input_check() and eir_run() reject bad descriptions naming the field;
 *  - final_V is the last recorded V row; untouched on a stop; non-finite after a divergence.
 */
#include "eir_test_util.h"

#include "../../engine/src/philox.h"

#define NIN 3

/* ---- descriptions ------------------------------------------------------------------------- */

/** A description with its storage (values for up to 8 segments, B <= 128 trials). */
typedef struct desc_buf {
    eir_input_desc d;
    eir_input_segment seg[8];
    double vals[8][2][128 * NIN];
} desc_buf;

/** Segment @p s of @p db: [from, to), value of @p rows rows (+ to_value of @p trows, 0 = none). */
static void seg(desc_buf *db, int s, int64_t from, int64_t to, int rows, int trows, int B,
                et_rng *g)
{
    eir_input_segment *p = &db->seg[s];
    (void)B;
    p->from = from;
    p->to = to;
    p->value = db->vals[s][0];
    p->value_rows = rows;
    for (int q = 0; q < rows * NIN; q++)
        db->vals[s][0][q] = et_unif(g, -1.5, 2);
    p->to_value = trows ? db->vals[s][1] : NULL;
    p->to_value_rows = trows;
    for (int q = 0; q < trows * NIN; q++)
        db->vals[s][1][q] = et_unif(g, -2, 1.5);
    if (s + 1 > db->d.n_segments) db->d.n_segments = s + 1;
    db->d.segments = db->seg;
}

enum { D_CONST, D_TRIAL, D_RAMP, D_OVERLAP, D_NOISE, D_COUNT };
static const char *const DNAME[D_COUNT] = {"constant", "per-trial", "ramp", "overlapping", "noise"};

/** Description kind @p kind for T steps and B trials. */
static void make_desc(desc_buf *db, int kind, int64_t T, int B)
{
    memset(db, 0, sizeof *db);
    et_rng g = {1000 + (uint64_t)kind};
    switch (kind) {
    case D_CONST:
        seg(db, 0, 0, T, 1, 0, B, &g);
        break;
    case D_TRIAL:
        seg(db, 0, T / 5, T - 3, B, 0, B, &g);
        break;
    case D_RAMP:
        seg(db, 0, 1, T, 1, B, B, &g);
        break;
    case D_OVERLAP:
        seg(db, 0, 0, T / 2, 1, 0, B, &g);
        seg(db, 1, T / 4, T, B, 0, B, &g);
        seg(db, 2, T / 3, T - 1, B, 1, B, &g);
        seg(db, 3, 2, 5, 1, 0, B, &g);
        break;
    case D_NOISE:
        seg(db, 0, 3, T - 2, B, 1, B, &g);
        seg(db, 1, 0, T, 1, 0, B, &g);
        db->d.noise_sigma = 0.7;
        db->d.noise_seed = 0x123456789abcdefull;
        break;
    }
}

/** The whole expansion, B x T x n_in (the array a run takes). */
static double *expand_all(const eir_input_desc *d, int64_t T, int B, int n_in)
{
    double *x = malloc((size_t)B * (size_t)T * (size_t)n_in * sizeof *x);
    assert_non_null(x);
    for (int b = 0; b < B; b++)
        eir_input_expand(d, n_in, b, 0, T, x + (size_t)b * (size_t)T * (size_t)n_in);
    return x;
}

/* ---- eir_input_expand against eir.h's formula --------------------------------------------- */

/** eir.h's value of channel c of trial b at step t, written out independently. */
static double formula(const eir_input_desc *d, int n_in, int b, int64_t t, int c)
{
    double x = 0.0;
    for (int s = 0; s < d->n_segments; s++) {
        const eir_input_segment *g = &d->segments[s];
        if (t < g->from || t >= g->to) continue;
        volatile double v = g->value[(g->value_rows == 1 ? 0 : b) * n_in + c];
        if (!g->to_value) {
            x = x + v;
            continue;
        }
        volatile double w = g->to_value[(g->to_value_rows == 1 ? 0 : b) * n_in + c];
        volatile double diff = w - v;
        volatile double prod = diff * (double)(t - g->from);
        volatile double quot = prod / (double)(g->to - g->from);
        volatile double add = v + quot;
        x = x + add;
    }
    if (d->noise_sigma > 0) {
        double n0, n1;
        eir_normal2(d->noise_seed, (uint32_t)(c >> 1), (uint32_t)t, (uint32_t)b,
                    EIR_STREAM_INPUT_NOISE | (uint32_t)((uint64_t)t >> 32) << 8, &n0, &n1);
        volatile double xi = c % 2 == 0 ? n0 : n1;
        volatile double nz = d->noise_sigma * xi;
        x = x + nz;
    }
    return x;
}

static void test_expand_formula(void **state)
{
    (void)state;
    const int64_t T = 97;
    const int B = 4;
    for (int kind = 0; kind < D_COUNT; kind++) {
        desc_buf db;
        make_desc(&db, kind, T, B);
        eir_error err;
        assert_int_equal(eir_input_check(&db.d, T, B, NIN, &err), EIR_OK);
        double *all = expand_all(&db.d, T, B, NIN);
        for (int b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int c = 0; c < NIN; c++) {
                    const double got = all[((size_t)b * T + (size_t)t) * NIN + c];
                    const double want = formula(&db.d, NIN, b, t, c);
                    ET_CHECK(memcmp(&got, &want, sizeof got) == 0,
                             "%s: trial %d step %lld channel %d: %.17g, formula %.17g", DNAME[kind],
                             b, (long long)t, c, got, want);
                }
        /* windows are slices of the whole */
        static const int64_t win[][2] = {{0, 1}, {5, 17}, {40, 57}, {96, 1}, {0, 97}};
        for (size_t q = 0; q < sizeof win / sizeof win[0]; q++)
            for (int b = 0; b < B; b++) {
                double part[97 * NIN];
                eir_input_expand(&db.d, NIN, b, win[q][0], win[q][1], part);
                ET_CHECK(memcmp(part, all + ((size_t)b * T + (size_t)win[q][0]) * NIN,
                                (size_t)win[q][1] * NIN * sizeof(double)) == 0,
                         "%s: window [%lld, +%lld) of trial %d differs", DNAME[kind],
                         (long long)win[q][0], (long long)win[q][1], b);
            }
        free(all);
    }
    /* steps outside every segment are 0; a ramp's last step is short of to_value */
    desc_buf db;
    memset(&db, 0, sizeof db);
    const double v[NIN] = {1, 2, 3}, w[NIN] = {5, 2, -1};
    db.seg[0] = (eir_input_segment){10, 14, v, 1, w, 1};
    db.d.segments = db.seg;
    db.d.n_segments = 1;
    double x[20 * NIN];
    eir_input_expand(&db.d, NIN, 0, 0, 20, x);
    for (int t = 0; t < 20; t++) {
        const double want0 = t < 10 || t >= 14 ? 0.0 : 1.0 + 4.0 * (t - 10) / 4.0;
        assert_true(x[t * NIN] == want0);
    }
    assert_true(x[13 * NIN + 2] == 0.0); /* 3 + (-4) * 3 / 4 */
}

/* ---- runs --------------------------------------------------------------------------------- */

/** A gated softplus model of n cells (80 % E) with NIN inputs, input gating, a readout. */
static eir_model *build(int n, double sigma)
{
    const int ne = n * 4 / 5, ni = n - ne;
    double *W = malloc((size_t)n * n * sizeof *W), *P = malloc((size_t)n * NIN * sizeof *P);
    double *Min = malloc((size_t)n * NIN * sizeof *Min),
           *Wout = malloc(2 * (size_t)n * sizeof *Wout);
    static const double A[2] = {0.3, 0.9};
    double leak = 1.0;
    assert_true(W && P && Min && Wout);
    et_rng g = {55};
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double u = et_unif(&g, 0, 1) < 0.2 ? et_unif(&g, 0, 1) : 0.0;
            W[(size_t)i * n + j] = (j < ne ? u : -4.0 * u) / sqrt((double)n);
        }
        for (int c = 0; c < NIN; c++) {
            P[i * NIN + c] = et_unif(&g, -1, 1);
            Min[i * NIN + c] = et_unif(&g, 0, 0.3);
        }
    }
    for (int q = 0; q < 2 * n; q++)
        Wout[q] = et_unif(&g, -1, 1) / n;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, ne, ni, W, &leak, 1);
    d.a_kind = EIR_A_PER_TYPE;
    d.A = A;
    d.n_in = NIN;
    d.P = P;
    d.M_in = Min;
    d.n_out = 2;
    d.W_out = Wout;
    d.sigma = sigma;
    eir_model *m = et_build(&d);
    free(W);
    free(P);
    free(Min);
    free(Wout);
    return m;
}

/** One run; the final state into a new buffer *fv. */
static void run(const eir_model *m, int B, int64_t T, const double *x, const eir_input_desc *d,
                int threads, eir_precision prec, eir_integrator integ, et_out *o, void **fv)
{
    eir_run_desc r;
    et_rdesc(&r, 0.1, T, B, ET_V | ET_R | ET_Z | ET_Y);
    r.inputs = x;
    r.input_desc = d;
    r.seed = 99;
    r.threads = threads;
    r.precision = prec;
    r.integrator = integ;
    const size_t es = prec == EIR_F32 ? sizeof(float) : sizeof(double);
    *fv = malloc((size_t)B * eir_model_n(m) * es);
    assert_non_null(*fv);
    r.final_V = *fv;
    et_run_ok(m, &r, o);
}

/** Every output, the final state and the result of @p a and @p b are the same bytes. */
static int same(const et_out *a, const et_out *b, const void *fa, const void *fb, size_t fbytes)
{
    const size_t es = a->prec == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++)
        if (a->len[v] != b->len[v] || (a->len[v] && memcmp(a->buf[v], b->buf[v], a->len[v] * es)))
            return 0;
    const eir_run_result *p = &a->res, *q = &b->res;
    return !memcmp(fa, fb, fbytes) && p->steps_done == q->steps_done &&
           p->diverged == q->diverged && !memcmp(&p->max_z_dt, &q->max_z_dt, sizeof(double)) &&
           !memcmp(&p->mean_rate_e, &q->mean_rate_e, sizeof(double)) &&
           !memcmp(&p->mean_rate_i, &q->mean_rate_i, sizeof(double));
}

/** Described == array for every kind, at @p threads threads of each. */
static void check_same(const eir_model *m, int B, int64_t T, eir_precision prec,
                       eir_integrator integ, int max_threads)
{
    const size_t fbytes = (size_t)B * eir_model_n(m) * (prec == EIR_F32 ? 4 : 8);
    for (int kind = 0; kind < D_COUNT; kind++) {
        desc_buf *db = malloc(sizeof *db);
        assert_non_null(db);
        make_desc(db, kind, T, B);
        double *x = expand_all(&db->d, T, B, NIN);
        et_out ref;
        void *fref;
        run(m, B, T, x, NULL, 1, prec, integ, &ref, &fref);
        ET_CHECK(!ref.res.diverged && ref.res.mean_rate_e > 0, "test design: an active run");
        for (int th = 1; th <= max_threads; th++) {
            et_out o;
            void *fv;
            run(m, B, T, NULL, &db->d, th, prec, integ, &o, &fv);
            ET_CHECK(same(&ref, &o, fref, fv, fbytes),
                     "%s, %s, %s, B %d, %d threads: described and array inputs differ", DNAME[kind],
                     eir_precision_name(prec), eir_integrator_name(integ), B, th);
            et_out_free(&o);
            free(fv);
        }
        et_out_free(&ref);
        free(fref);
        free(x);
        free(db);
    }
}

static void test_same_small(void **state)
{
    (void)state;
    eir_model *m = build(40, 0.2);
    for (int p = 0; p < 2; p++)
        for (int integ = 0; integ < 3; integ++)
            check_same(m, 3, 40, p ? EIR_F32 : EIR_F64, (eir_integrator)integ, 1);
    eir_model_free(m);
}

/* N = 300 (n_pad 320: two neuron blocks), B = 70 (two trial blocks): several work items, and
 * inputs projected in windows of 2^20 / (70 x 320) = 46 steps, so T = 100 has three windows. */
static void test_same_threads(void **state)
{
    (void)state;
    eir_model *m = build(300, 0.2);
    check_same(m, 70, 100, EIR_F64, EIR_INTEG_EXP_EULER, 3);
    check_same(m, 70, 100, EIR_F32, EIR_INTEG_EULER, 3);
    check_same(m, 70, 12, EIR_F64, EIR_INTEG_RK4, 3);
    eir_model_free(m);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void expect_desc_error(const eir_input_desc *d, int64_t T, int B, const char *field,
                              const char *words)
{
    eir_error err;
    eir_error_clear(&err);
    ET_CHECK(eir_input_check(d, T, B, NIN, &err) == EIR_EINVAL, "accepted (%s)", field);
    et_check_error(&err, field, words);
}

static void test_check_errors(void **state)
{
    (void)state;
    desc_buf db;
    make_desc(&db, D_OVERLAP, 100, 4);
    eir_error err;
    assert_int_equal(eir_input_check(&db.d, 100, 4, NIN, &err), EIR_OK);
    db.seg[3].to = 120;
    expect_desc_error(&db.d, 100, 4, "/segments/3/to", "past");
    eir_error_clear(&err);
    eir_input_check(&db.d, 100, 4, NIN, &err);
    ET_CHECK(et_has_number(err.message, 120) && et_has_number(err.message, 100), "%s", err.message);
    db.seg[3].to = 2;
    expect_desc_error(&db.d, 100, 4, "/segments/3/to", "greater|from");
    db.seg[3].to = 5;
    db.seg[3].from = -1;
    expect_desc_error(&db.d, 100, 4, "/segments/3/from", "from");
    db.seg[3].from = 2;
    db.seg[1].value_rows = 3;
    expect_desc_error(&db.d, 100, 4, "/segments/1/value", "rows");
    db.seg[1].value_rows = 4;
    db.vals[1][0][5] = NAN;
    expect_desc_error(&db.d, 100, 4, "/segments/1/value", "finite");
    db.vals[1][0][5] = 2e290;
    expect_desc_error(&db.d, 100, 4, "/segments/1/value", "magnitude");
    db.vals[1][0][5] = 1;
    db.seg[2].to_value_rows = 2;
    expect_desc_error(&db.d, 100, 4, "/segments/2/to_value", "rows");
    db.seg[2].to_value_rows = 1;
    db.vals[2][1][1] = INFINITY;
    expect_desc_error(&db.d, 100, 4, "/segments/2/to_value", "finite");
    db.vals[2][1][1] = 0;
    db.d.noise_sigma = -1;
    expect_desc_error(&db.d, 100, 4, "/noise/sigma", "sigma");
    db.d.noise_sigma = NAN;
    expect_desc_error(&db.d, 100, 4, "/noise/sigma", "sigma");
    db.d.noise_sigma = 0.5;
    db.d.n_segments = EIR_MAX_INPUT_SEGMENTS + 1;
    expect_desc_error(&db.d, 100, 4, "/segments", "most");
    db.d.n_segments = 4;
    assert_int_equal(eir_input_check(&db.d, 100, 4, NIN, &err), EIR_OK);

    /* eir_run: prefixed fields, and never both forms */
    eir_model *m = build(40, 0);
    eir_run_desc r;
    et_rdesc(&r, 0.1, 100, 4, ET_V);
    r.input_desc = &db.d;
    db.seg[0].to = 101;
    et_out o;
    assert_int_equal(et_run(m, &r, &o), EIR_EINVAL);
    et_check_error(&o.err, "/inputs/segments/0/to", "past");
    et_out_free(&o);
    db.seg[0].to = 50;
    double *x = expand_all(&db.d, 100, 4, NIN);
    r.inputs = x;
    assert_int_equal(et_run(m, &r, &o), EIR_EINVAL);
    et_check_error(&o.err, "/inputs", "both");
    et_out_free(&o);
    free(x);
    eir_model_free(m);
}

/* ---- final state --------------------------------------------------------------------------- */

static int stop_at_5(void *ctx, int64_t done, int64_t total)
{
    (void)ctx;
    (void)total;
    return done >= 5;
}

static void test_final_state(void **state)
{
    (void)state;
    eir_model *m = build(40, 0.2);
    const int n = eir_model_n(m), B = 3;
    for (int p = 0; p < 2; p++)
        for (int integ = 0; integ < 3; integ++) {
            const eir_precision prec = p ? EIR_F32 : EIR_F64;
            et_out o;
            void *fv;
            run(m, B, 30, NULL, NULL, 1, prec, (eir_integrator)integ, &o, &fv);
            const size_t es = p ? 4 : 8;
            for (int b = 0; b < B; b++)
                ET_CHECK(!memcmp((char *)fv + (size_t)b * n * es,
                                 (char *)o.buf[EIR_VAR_V] + ((size_t)b * 30 + 29) * n * es,
                                 (size_t)n * es),
                         "%s %s trial %d: final_V is not the last V row", eir_precision_name(prec),
                         eir_integrator_name((eir_integrator)integ), b);
            et_out_free(&o);
            free(fv);
        }
    /* a stopped run leaves it untouched */
    eir_run_desc r;
    et_rdesc(&r, 0.1, 30, B, ET_V);
    double *fv = malloc((size_t)B * n * sizeof *fv);
    assert_non_null(fv);
    for (int q = 0; q < B * n; q++)
        fv[q] = ET_SENTINEL;
    r.final_V = fv;
    r.progress = stop_at_5;
    r.progress_every = 1;
    et_out o;
    assert_int_equal(et_run(m, &r, &o), EIR_ECANCELLED);
    for (int q = 0; q < B * n; q++)
        assert_true(fv[q] == ET_SENTINEL);
    et_out_free(&o);
    free(fv);
    eir_model_free(m);

    /* a diverging run keeps the state of the step that diverged */
    double Wd[4] = {1000, 0, 0, 1000}, leak = 1;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, 1, 1, Wd, &leak, 1);
    d.sigma = 0;
    eir_model *md = et_build(&d);
    et_rdesc(&r, 0.1, 400, 2, ET_V);
    double v0 = 1.0, fd[4] = {0, 0, 0, 0};
    r.V0 = &v0;
    r.V0_len = 1;
    r.final_V = fd;
    et_run_ok(md, &r, &o);
    ET_CHECK(o.res.diverged && o.res.steps_done < 400, "test design: must diverge");
    ET_CHECK(!isfinite(fd[0]) && !isfinite(fd[2]), "final_V %g %g after the divergence", fd[0],
             fd[2]);
    et_out_free(&o);
    eir_model_free(md);
}

/* ---- memory --------------------------------------------------------------------------------- */

static void test_memory(void **state)
{
    (void)state;
    eir_model *m = build(300, 0);
    desc_buf db;
    make_desc(&db, D_OVERLAP, 100, 70);
    eir_run_desc r;
    et_rdesc(&r, 0.1, 100, 70, ET_V);
    const size_t none = eir_run_memory_bytes(m, &r);
    r.input_desc = &db.d;
    const size_t desc = eir_run_memory_bytes(m, &r);
    /* the projection windows (P x and M_in |x|) and the conversion and expansion scratch */
    const size_t tc = ((size_t)1 << 20) / (70 * 320);
    ET_CHECK(desc >= none + 2 * tc * 70 * 320 * 8 + 2 * tc * 70 * NIN * 8, "%zu vs %zu", desc,
             none);
    double *x = expand_all(&db.d, 100, 70, NIN);
    r.input_desc = NULL;
    r.inputs = x;
    ET_CHECK(eir_run_memory_bytes(m, &r) + tc * 70 * NIN * 8 <= desc,
             "the array form needs no expansion scratch");
    free(x);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_formula), cmocka_unit_test(test_same_small),
        cmocka_unit_test(test_same_threads),   cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_final_state),    cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
