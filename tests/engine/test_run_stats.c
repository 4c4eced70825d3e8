/*
 * Run statistics (eir.h "Run statistics", eir_run_desc.stats_req / stats; docs/MODEL.md
 * "Described inputs, final state and run statistics"):
 *  - per window, trial and population, the mean and the (population) standard deviation over the
 *    cells and the steps of the window equal a two-pass computation from a full recording
 *    (every = 1, V, r and z) within 1e-12, per trial and pooled over trials; V and r are the
 *    states after steps from+1 .. to (rows from .. to-1), z the gates z_from .. z_{to-1};
 *    float64 and float32 (accumulated in double), every integrator; overlapping windows, windows
 *    of one step, at the start and at the end;
 *  - the final population means are those of the last recorded row;
 *  - the same bits at 1, 2 and 3 threads, and whatever is recorded;
 *  - settle: max |dV/dt| = max |drive - z V| at V_k before the steps of the settle window, equal
 *    to that computed from a recording of a linear rnn-class model (drive = W V + b + P x,
 *    z = G_b), per trial and overall, for every integrator; tiny at a fixed point, where
 *    (V_{k+1} - V_k) / dt is tiny too;
 *  - windows the run never completed (a divergence, a stop) and the settle window of a diverged
 *    run are NaN, windows completed before are kept; the checks of a request name the field.
 */
#include "eir_test_util.h"

#define NIN 2

/** A gated softplus model of n cells (80 % E) with NIN inputs, input gating and noise. */
static eir_model *build_gated(int n, double sigma)
{
    const int ne = n * 4 / 5, ni = n - ne;
    double *W = malloc((size_t)n * n * sizeof *W), *P = malloc((size_t)n * NIN * sizeof *P);
    double *Min = malloc((size_t)n * NIN * sizeof *Min);
    static const double A[2] = {0.3, 0.9};
    double leak = 1.0;
    assert_true(W && P && Min);
    et_rng g = {31};
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
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, ne, ni, W, &leak, 1);
    d.a_kind = EIR_A_PER_TYPE;
    d.A = A;
    d.n_in = NIN;
    d.P = P;
    d.M_in = Min;
    d.sigma = sigma;
    eir_model *m = et_build(&d);
    free(W);
    free(P);
    free(Min);
    return m;
}

static const eir_stat_window WINDOWS[] = {
    {EIR_VAR_V, 0, 40}, {EIR_VAR_R, 10, 30}, {EIR_VAR_Z, 5, 25}, {EIR_VAR_V, 30, 31},
    {EIR_VAR_R, 0, 40}, {EIR_VAR_Z, 39, 40}, {EIR_VAR_Z, 0, 1},  {EIR_VAR_V, 12, 20},
};
#define NW ((int)(sizeof WINDOWS / sizeof WINDOWS[0]))
#define T_RUN 40

/** A constant-plus-ramp described input for B trials. */
static const double XV[NIN] = {0.8, -0.3}, XW[NIN] = {-0.2, 1.1};
static const eir_input_segment XSEG[2] = {{0, T_RUN, XV, 1, NULL, 0}, {8, 33, XV, 1, XW, 1}};
static const eir_input_desc XDESC = {XSEG, 2, 0.2, 5};

/** A run of @p m with statistics of WINDOWS (and a settle window of 10 steps). */
static eir_stats *run_stats(const eir_model *m, int B, eir_precision prec, eir_integrator integ,
                            int threads, unsigned mask, int every, et_out *o)
{
    static const eir_stats_req q = {WINDOWS, NW, 10};
    eir_stats *s = eir_stats_new(&q, B);
    assert_non_null(s);
    eir_run_desc r;
    et_rdesc(&r, 0.1, T_RUN, B, mask);
    r.record_every = every;
    r.precision = prec;
    r.integrator = integ;
    r.threads = threads;
    r.seed = 17;
    r.input_desc = &XDESC;
    r.stats_req = &q;
    r.stats = s;
    et_run_ok(m, &r, o);
    return s;
}

/** Mean and population std of rows [from, to) of trial b (all trials when b < 0), cells [c0, c1).
 */
static void reference(const et_out *o, eir_var v, int b, int64_t from, int64_t to, int c0, int c1,
                      double *mean, double *sd)
{
    const int b0 = b < 0 ? 0 : b, b1 = b < 0 ? o->B : b + 1;
    double sum = 0, cnt = 0, m2 = 0;
    for (int t = b0; t < b1; t++)
        for (int64_t k = from; k < to; k++)
            for (int i = c0; i < c1; i++) {
                sum += et_at(o, v, t, k, i);
                cnt++;
            }
    *mean = sum / cnt;
    for (int t = b0; t < b1; t++)
        for (int64_t k = from; k < to; k++)
            for (int i = c0; i < c1; i++) {
                const double d = et_at(o, v, t, k, i) - *mean;
                m2 += d * d;
            }
    *sd = sqrt(m2 / cnt);
}

static void check_against_recording(const eir_model *m, int B, eir_precision prec,
                                    eir_integrator integ)
{
    et_out o;
    eir_stats *s = run_stats(m, B, prec, integ, 1, ET_V | ET_R | ET_Z, 1, &o);
    const int n = eir_model_n(m), ne = eir_model_n_e(m);
    assert_int_equal(s->steps, T_RUN);
    for (int w = 0; w < NW; w++)
        for (int p = 0; p < 2; p++) {
            const int c0 = p ? ne : 0, c1 = p ? n : ne;
            for (int b = -1; b < B; b++) {
                double mean, sd;
                reference(&o, WINDOWS[w].var, b, WINDOWS[w].from, WINDOWS[w].to, c0, c1, &mean,
                          &sd);
                const size_t at = ((size_t)w * B + (size_t)b) * 2 + (size_t)p;
                const double gm = b < 0 ? s->mean_all[w * 2 + p] : s->mean[at];
                const double gs = b < 0 ? s->std_all[w * 2 + p] : s->std[at];
                ET_CHECK(sd > 0, "test design: spread in window %d", w);
                ET_ASSERT_CLOSE(gm, mean, 1e-12, fabs(mean) > sd ? fabs(mean) : sd);
                ET_ASSERT_CLOSE(gs, sd, 1e-12, sd);
            }
        }
    /* final means: the last recorded row */
    double allv[2] = {0, 0}, allr[2] = {0, 0};
    for (int b = 0; b < B; b++)
        for (int p = 0; p < 2; p++) {
            double mv, mr, sd;
            reference(&o, EIR_VAR_V, b, T_RUN - 1, T_RUN, p ? ne : 0, p ? n : ne, &mv, &sd);
            reference(&o, EIR_VAR_R, b, T_RUN - 1, T_RUN, p ? ne : 0, p ? n : ne, &mr, &sd);
            ET_ASSERT_CLOSE(s->final_V[2 * b + p], mv, 1e-13, 1.0);
            ET_ASSERT_CLOSE(s->final_r[2 * b + p], mr, 1e-13, 1.0);
            allv[p] += mv / B;
            allr[p] += mr / B;
        }
    for (int p = 0; p < 2; p++) {
        ET_ASSERT_CLOSE(s->final_V_all[p], allv[p], 1e-13, 1.0);
        ET_ASSERT_CLOSE(s->final_r_all[p], allr[p], 1e-13, 1.0);
    }
    /* a settle window was asked: a value per trial, the max over trials overall */
    double mx = 0;
    for (int b = 0; b < B; b++) {
        ET_CHECK(s->max_dvdt[b] > 0 && isfinite(s->max_dvdt[b]), "max_dvdt[%d] %g", b,
                 s->max_dvdt[b]);
        mx = s->max_dvdt[b] > mx ? s->max_dvdt[b] : mx;
    }
    assert_true(s->max_dvdt_all == mx);
    eir_stats_free(s);
    et_out_free(&o);
}

static void test_windows_small(void **state)
{
    (void)state;
    eir_model *m = build_gated(20, 0.3);
    for (int p = 0; p < 2; p++)
        for (int integ = 0; integ < 3; integ++)
            check_against_recording(m, 3, p ? EIR_F32 : EIR_F64, (eir_integrator)integ);
    eir_model_free(m);
}

/* N = 300 (two neuron blocks), B = 70 (two trial blocks): several slots per trial to combine */
static void test_windows_blocks(void **state)
{
    (void)state;
    eir_model *m = build_gated(300, 0.3);
    check_against_recording(m, 70, EIR_F64, EIR_INTEG_EXP_EULER);
    check_against_recording(m, 70, EIR_F32, EIR_INTEG_RK4);
    eir_model_free(m);
}

/** Every array and value of two statistics are the same bytes. */
static int same_stats(const eir_stats *a, const eir_stats *b)
{
    const size_t nwb = (size_t)a->n_windows * a->B * 2 * sizeof(double);
    return a->steps == b->steps && !memcmp(a->mean, b->mean, nwb) && !memcmp(a->std, b->std, nwb) &&
           !memcmp(a->mean_all, b->mean_all, (size_t)a->n_windows * 2 * sizeof(double)) &&
           !memcmp(a->std_all, b->std_all, (size_t)a->n_windows * 2 * sizeof(double)) &&
           !memcmp(a->final_V, b->final_V, (size_t)a->B * 2 * sizeof(double)) &&
           !memcmp(a->final_r, b->final_r, (size_t)a->B * 2 * sizeof(double)) &&
           !memcmp(a->max_dvdt, b->max_dvdt, (size_t)a->B * sizeof(double)) &&
           !memcmp(a->final_V_all, b->final_V_all, sizeof a->final_V_all) &&
           !memcmp(a->final_r_all, b->final_r_all, sizeof a->final_r_all) &&
           !memcmp(&a->max_dvdt_all, &b->max_dvdt_all, sizeof(double));
}

static void test_threads_and_recording(void **state)
{
    (void)state;
    eir_model *m = build_gated(300, 0.3);
    for (int p = 0; p < 2; p++)
        for (int integ = 0; integ < 3; integ += 2) {
            const eir_precision prec = p ? EIR_F32 : EIR_F64;
            et_out o;
            eir_stats *ref = run_stats(m, 70, prec, (eir_integrator)integ, 1, ET_V, 1, &o);
            et_out_free(&o);
            for (int th = 2; th <= 3; th++) {
                eir_stats *s = run_stats(m, 70, prec, (eir_integrator)integ, th, ET_V, 1, &o);
                ET_CHECK(same_stats(ref, s), "%s %s: 1 and %d threads differ",
                         eir_precision_name(prec), eir_integrator_name((eir_integrator)integ), th);
                et_out_free(&o);
                eir_stats_free(s);
            }
            /* whatever is recorded */
            eir_stats *s = run_stats(m, 70, prec, (eir_integrator)integ, 2, ET_Z, 7, &o);
            ET_CHECK(same_stats(ref, s), "recording z every 7 changed the statistics");
            et_out_free(&o);
            eir_stats_free(s);
            eir_stats_free(ref);
        }
    eir_model_free(m);
}

/* ---- settle --------------------------------------------------------------------------------- */

#define LN 6
#define LNE 4

static double LW[LN * LN], LLEAK[LN], LBIAS[LN], LP[LN * NIN];

/** A linear rnn-class model (no gating, no Dale): dV/dt = -G_b V + W V + b + P x. */
static eir_model *build_linear(void)
{
    et_rng g = {7};
    for (int i = 0; i < LN; i++) {
        for (int j = 0; j < LN; j++)
            LW[i * LN + j] = et_unif(&g, -0.25, 0.25);
        LLEAK[i] = et_unif(&g, 0.8, 1.6);
        LBIAS[i] = et_unif(&g, -1, 1);
        for (int c = 0; c < NIN; c++)
            LP[i * NIN + c] = et_unif(&g, -1, 1);
    }
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, LNE, LN - LNE, LW, LLEAK, LN);
    d.n_in = NIN;
    d.P = LP;
    d.bias = LBIAS;
    d.bias_len = LN;
    return et_build(&d);
}

/** Run the linear model for T steps with a settle window of S steps, recording V. */
static eir_stats *run_settle(const eir_model *m, int64_t T, int64_t S, eir_integrator integ,
                             const double *X, const double *V0, et_out *o)
{
    const eir_stats_req q = {NULL, 0, S};
    eir_stats *s = eir_stats_new(&q, 2);
    assert_non_null(s);
    eir_run_desc r;
    et_rdesc(&r, 0.1, T, 2, ET_V);
    r.integrator = integ;
    r.inputs = X;
    r.V0 = V0;
    r.V0_len = 2 * LN;
    r.stats_req = &q;
    r.stats = s;
    et_run_ok(m, &r, o);
    assert_int_equal(s->n_windows, 0);
    return s;
}

/** max |drive - z V| over the cells and steps [T - S, T) of trial b, from the recording. */
static double settle_reference(const et_out *o, int b, int64_t T, int64_t S, const double *X,
                               const double *V0)
{
    double mx = 0;
    for (int64_t k = T - S; k < T; k++) {
        const double *v = k == 0 ? V0 + b * LN : et_row(o, EIR_VAR_V, b, k - 1);
        const double *x = X + ((size_t)b * T + (size_t)k) * NIN;
        for (int i = 0; i < LN; i++) {
            double drive = LBIAS[i];
            for (int j = 0; j < LN; j++)
                drive += LW[i * LN + j] * v[j];
            for (int c = 0; c < NIN; c++)
                drive += LP[i * NIN + c] * x[c];
            const double d = fabs(drive - LLEAK[i] * v[i]);
            mx = d > mx ? d : mx;
        }
    }
    return mx;
}

static void test_settle(void **state)
{
    (void)state;
    eir_model *m = build_linear();
    double V0[2 * LN];
    et_rng g = {3};
    for (int q = 0; q < 2 * LN; q++)
        V0[q] = et_unif(&g, -2, 2);
    /* transient: equal to the right-hand side computed from the recording */
    const int64_t T = 40;
    double *X = malloc(2 * (size_t)T * NIN * sizeof *X);
    assert_non_null(X);
    for (int q = 0; q < 2 * T * NIN; q++)
        X[q] = et_unif(&g, -1, 1);
    for (int integ = 0; integ < 3; integ++) {
        const int64_t S = integ == 1 ? T : 12; /* all steps, from V0 on, once */
        et_out o;
        eir_stats *s = run_settle(m, T, S, (eir_integrator)integ, X, V0, &o);
        double all = 0;
        for (int b = 0; b < 2; b++) {
            const double want = settle_reference(&o, b, T, S, X, V0);
            ET_CHECK(want > 1e-3, "test design: a transient");
            ET_ASSERT_CLOSE(s->max_dvdt[b], want, 1e-12, 1.0);
            all = want > all ? want : all;
        }
        ET_ASSERT_CLOSE(s->max_dvdt_all, all, 1e-12, 1.0);
        eir_stats_free(s);
        et_out_free(&o);
    }
    free(X);
    /* a fixed point: constant input, long run */
    const int64_t TL = 1500;
    X = malloc(2 * (size_t)TL * NIN * sizeof *X);
    assert_non_null(X);
    for (int q = 0; q < 2 * TL * NIN; q++)
        X[q] = q % 2 ? 0.5 : -0.25;
    for (int integ = 0; integ < 3; integ++) {
        et_out o;
        eir_stats *s = run_settle(m, TL, 50, (eir_integrator)integ, X, V0, &o);
        double fd = 0; /* finite differences over the settle window */
        for (int b = 0; b < 2; b++)
            for (int64_t k = TL - 50; k < TL - 1; k++)
                for (int i = 0; i < LN; i++) {
                    const double d =
                        fabs(et_at(&o, EIR_VAR_V, b, k, i) - et_at(&o, EIR_VAR_V, b, k - 1, i)) /
                        0.1;
                    fd = d > fd ? d : fd;
                }
        ET_CHECK(s->max_dvdt_all < 1e-10 && fd < 1e-10, "%s: max |dV/dt| %g, differences %g",
                 eir_integrator_name((eir_integrator)integ), s->max_dvdt_all, fd);
        ET_CHECK(s->max_dvdt_all >= 0, "%g", s->max_dvdt_all);
        eir_stats_free(s);
        et_out_free(&o);
    }
    free(X);
    eir_model_free(m);
}

/* ---- never reached -------------------------------------------------------------------------- */

static int stop_at_7(void *ctx, int64_t done, int64_t total)
{
    (void)ctx;
    (void)total;
    return done >= 7;
}

static void test_never_reached(void **state)
{
    (void)state;
    double Wd[4] = {1000, 0, 0, 1000}, leak = 1, v0 = 1.0;
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, 1, 1, Wd, &leak, 1);
    eir_model *m = et_build(&d);
    static const eir_stat_window w[] = {
        {EIR_VAR_V, 0, 10}, {EIR_VAR_R, 100, 300}, {EIR_VAR_Z, 390, 400}, {EIR_VAR_V, 2, 7}};
    const eir_stats_req q = {w, 4, 10};
    eir_stats *s = eir_stats_new(&q, 2);
    assert_non_null(s);
    eir_run_desc r;
    et_rdesc(&r, 0.1, 400, 2, ET_V);
    r.V0 = &v0;
    r.V0_len = 1;
    r.stats_req = &q;
    r.stats = s;
    et_out o;
    et_run_ok(m, &r, &o);
    ET_CHECK(o.res.diverged && o.res.steps_done > 10 && o.res.steps_done < 300,
             "test design: diverge between 10 and 300 (%lld)", (long long)o.res.steps_done);
    assert_int_equal(s->steps, o.res.steps_done);
    for (int b = 0; b < 2; b++)
        for (int p = 0; p < 2; p++) {
            ET_CHECK(isfinite(s->mean[(0 * 2 + b) * 2 + p]) &&
                         isfinite(s->std[(0 * 2 + b) * 2 + p]),
                     "window 0 was reached");
            ET_CHECK(isnan(s->mean[(1 * 2 + b) * 2 + p]) && isnan(s->std[(1 * 2 + b) * 2 + p]),
                     "window 1 was not completed");
            ET_CHECK(isnan(s->mean[(2 * 2 + b) * 2 + p]), "window 2 was never reached");
        }
    ET_CHECK(isnan(s->mean_all[2]) && isnan(s->std_all[5]) && isfinite(s->mean_all[0]), "pooled");
    ET_CHECK(isnan(s->max_dvdt[0]) && isnan(s->max_dvdt_all), "no settle after a divergence");
    ET_CHECK(!isfinite(s->final_V[0]), "final V after the divergence: %g", s->final_V[0]);
    et_out_free(&o);

    /* a stop: windows completed before it kept, the rest and the final state NaN */
    r.progress = stop_at_7;
    r.progress_every = 1;
    assert_int_equal(et_run(m, &r, &o), EIR_ECANCELLED);
    assert_int_equal(s->steps, 7);
    ET_CHECK(isfinite(s->mean_all[3 * 2]) && isnan(s->mean_all[0]), "windows after a stop");
    ET_CHECK(isnan(s->final_V_all[0]) && isnan(s->final_r[1]), "no final state after a stop");
    et_out_free(&o);
    eir_stats_free(s);
    eir_model_free(m);
}

/* ---- checks --------------------------------------------------------------------------------- */

static void expect_run_error(const eir_model *m, const eir_stats_req *q, eir_stats *s, int B,
                             const char *field, const char *words)
{
    eir_run_desc r;
    et_rdesc(&r, 0.1, 100, B, ET_V);
    r.stats_req = q;
    r.stats = s;
    et_out o;
    ET_CHECK(et_run(m, &r, &o) == EIR_EINVAL, "accepted (%s)", field);
    et_check_error(&o.err, field, words);
    et_out_free(&o);
}

static void test_checks(void **state)
{
    (void)state;
    eir_model *m = build_gated(20, 0);
    eir_stat_window w[2] = {{EIR_VAR_V, 0, 100}, {EIR_VAR_R, 10, 20}};
    eir_stats_req q = {w, 2, 5};
    eir_stats *s = eir_stats_new(&q, 2);
    assert_non_null(s);
    w[1].to = 101;
    expect_run_error(m, &q, s, 2, "/metrics/windows/1/to", "to");
    w[1].to = 10;
    expect_run_error(m, &q, s, 2, "/metrics/windows/1/to", "to");
    w[1].to = 20;
    w[1].from = -1;
    expect_run_error(m, &q, s, 2, "/metrics/windows/1/from", "from");
    w[1].from = 10;
    w[0].var = EIR_VAR_Y;
    expect_run_error(m, &q, s, 2, "/metrics/windows/0/var", "V, r or z");
    w[0].var = EIR_VAR_V;
    q.settle_steps = 101;
    expect_run_error(m, &q, s, 2, "/metrics/settle/steps", "settle");
    q.settle_steps = 5;
    expect_run_error(m, &q, NULL, 2, "/metrics", "stats");
    expect_run_error(m, &q, s, 3, "/metrics", "trials");
    q.n_windows = EIR_STATS_MAX_WINDOWS + 1;
    expect_run_error(m, &q, s, 2, "/metrics/windows", "most");
    assert_null(eir_stats_new(&q, 2));
    q.n_windows = 2;
    eir_stats_free(s);
    eir_stats_free(NULL);
    /* the memory estimate counts the statistics */
    eir_run_desc r;
    et_rdesc(&r, 0.1, 100, 2, ET_V);
    const size_t none = eir_run_memory_bytes(m, &r);
    r.stats_req = &q;
    assert_true(eir_run_memory_bytes(m, &r) > none + sizeof(eir_stats));
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_small),         cmocka_unit_test(test_windows_blocks),
        cmocka_unit_test(test_threads_and_recording), cmocka_unit_test(test_settle),
        cmocka_unit_test(test_never_reached),         cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
