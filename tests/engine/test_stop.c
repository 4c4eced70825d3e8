/*
 * A stop inside a long step (eir.h eir_stop, eir_run_desc.progress; issue 10, item 8): a run
 * whose RK4 steps take over half a second is stopped from another thread (eir_stop_request())
 * or by its progress callback an eighth of the way into the step, and eir_run() returns
 * EIR_ECANCELLED within half a second and half a step of the request (the callback: plus its
 * polling period of 0.1 s), with no step done and every row NaN (before the fix, the stop was
 * only looked at between steps: the rest of the step went by first, and the step was done). A run
 * watched by a stop flag that is never requested, and with a progress callback that is called
 * inside its steps, gives the same bytes as one without, at 1 and 2 threads. eir_run_memory_bytes()
 * counts at least the workspace, the outputs and the float32 copy of the model, and grows with B, T
 * and the integrator as the run does; the peak resident size of a run grows by no more than the
 * estimate and not much less.
 */
#include <pthread.h>
#include <time.h>

#include "eir_test_util.h"
#include "eir_time_scale.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** A gated model (per-type A, split products) of n cells, 80 % E, 20 % density, no noise. */
static eir_model *build(int n)
{
    const int ne = n * 4 / 5, ni = n - ne;
    double *W = malloc((size_t)n * n * sizeof *W), leak = 1.0;
    static const double a_type[2] = {0.3, 0.9};
    assert_non_null(W);
    et_rng g = {5};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = et_unif(&g, 0, 1) < 0.2 ? et_unif(&g, 0, 1) : 0.0;
            W[(size_t)i * n + j] = (j < ne ? v : -4.0 * v) / sqrt((double)n);
        }
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, ne, ni, W, &leak, 1);
    d.a_kind = EIR_A_PER_TYPE;
    d.A = a_type;
    eir_model *m = et_build(&d);
    free(W);
    return m;
}

static const double v0_all[1] = {0.5};

static void desc(eir_run_desc *r, int B, int64_t T, int threads)
{
    eir_run_desc_init(r);
    r->integrator = EIR_INTEG_RK4;
    r->B = B;
    r->T = T;
    r->V0 = v0_all;
    r->V0_len = 1;
    r->threads = threads;
    r->record_mask = (1u << EIR_VAR_V) | (1u << EIR_VAR_R);
}

/** The stopping thread: sleeps, then requests the stop and notes when. */
typedef struct stopper {
    eir_stop *stop;
    double after, at;
} stopper;

static void *stopper_main(void *p)
{
    stopper *s = p;
    struct timespec ts = {(time_t)s->after, (long)((s->after - (time_t)s->after) * 1e9)};
    nanosleep(&ts, NULL);
    s->at = now_s();
    eir_stop_request(s->stop);
    return NULL;
}

/** The progress callback that asks to stop once @c after seconds have passed since @c t0. */
typedef struct asker {
    double t0, after, at;
    int64_t calls;
} asker;

static int ask_stop(void *ctx, int64_t done, int64_t total)
{
    asker *a = ctx;
    (void)done;
    (void)total;
    a->calls++;
    double t = now_s();
    if (t - a->t0 < a->after) return 0;
    if (a->at == 0) a->at = t;
    return 1;
}

/** N = 1024, B = 2048: one RK4 step is 17 GFLOP, 0.4-1.2 s on two cores here. */
#define BIG_N 1024
#define BIG_B 2048

static eir_model *big;
static double step_s; /**< one step of the big run, unstopped, 2 threads */

static int setup(void **state)
{
    (void)state;
    big = build(BIG_N);
    eir_run_desc r;
    desc(&r, BIG_B, 1, 2);
    et_out o;
    double t0 = now_s();
    et_run_ok(big, &r, &o);
    step_s = now_s() - t0;
    et_out_free(&o);
    printf("one rk4 step, N = %d, B = %d, 2 threads: %.3f s\n", BIG_N, BIG_B, step_s);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    eir_model_free(big);
    return 0;
}

/**
 * The bound on the stop: half a second (scaled for slow sanitizers), and half the step, so that
 * a stop looked at only between steps (the request is made an eighth into the step: seven
 * eighths of it would go by) fails on any machine; no step may be done either.
 */
static double bound(void)
{
    double b = eir_scaled(0.5);
    return b < step_s / 2 ? b : step_s / 2;
}

/**
 * When the stop is requested: an eighth of the way into the first step (the machine's load
 * may change the step's length between the measurement and the test).
 */
static double request_after(void)
{
    return step_s / 8;
}

/**
 * The run @p o was stopped an eighth into its first step and eir_run() returned @p latency
 * seconds after the stop was wanted: cancelled inside that step (no step done: a stop looked
 * at between steps only would complete it), within bound() + @p slack.
 */
static void check_stopped(const et_out *o, double latency, double slack, const char *how)
{
    printf("%s: eir_run returned %.3f s after the request (bound %.3f s), %lld steps done\n", how,
           latency, bound() + slack, (long long)o->res.steps_done);
    assert_int_equal(o->status, EIR_ECANCELLED);
    assert_int_equal(o->res.steps_done, 0);
    assert_true(latency < bound() + slack);
    for (int b = 0; b < BIG_B; b++) /* rows not reached are NaN */
        for (int64_t row = o->res.rows_written; row < o->rows; row++)
            for (int u = 0; u < BIG_N; u++) {
                assert_true(isnan(et_at(o, EIR_VAR_V, b, row, u)));
                assert_true(isnan(et_at(o, EIR_VAR_R, b, row, u)));
            }
}

/** eir_stop_request() from another thread an eighth into a 3-step run, 2 threads. */
static void test_stop_flag_mid_step(void **state)
{
    (void)state;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    assert_int_equal(eir_stop_requested(stop), 0);
    eir_run_desc r;
    desc(&r, BIG_B, 3, 2);
    r.stop = stop;
    stopper s = {.stop = stop, .after = request_after()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper_main, &s), 0);
    et_out o;
    et_run(big, &r, &o);
    double end = now_s();
    pthread_join(th, NULL);
    assert_int_equal(eir_stop_requested(stop), 1);
    check_stopped(&o, end - s.at, 0, "eir_stop_request, 2 threads");
    et_out_free(&o);
    eir_stop_free(stop);
}

/** The same with one thread (the caller's), where no barrier passes the decision on. */
static void test_stop_flag_one_thread(void **state)
{
    (void)state;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    eir_run_desc r;
    desc(&r, BIG_B, 3, 1);
    r.stop = stop;
    stopper s = {.stop = stop, .after = request_after()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper_main, &s), 0);
    et_out o;
    et_run(big, &r, &o);
    double end = now_s();
    pthread_join(th, NULL);
    check_stopped(&o, end - s.at, 0, "eir_stop_request, 1 thread");
    et_out_free(&o);
    eir_stop_free(stop);
}

/**
 * The progress callback, polled inside the step, asks to stop an eighth into it (it is called
 * from the caller's thread only, so it needs no lock).
 */
static void test_progress_mid_step(void **state)
{
    (void)state;
    eir_run_desc r;
    desc(&r, BIG_B, 3, 2);
    asker a = {.t0 = now_s(), .after = request_after()};
    r.progress = ask_stop;
    r.progress_ctx = &a;
    et_out o;
    et_run(big, &r, &o);
    double end = now_s();
    assert_true(a.at > 0);
    /* from when the stop was wanted; the callback is polled every EIR_PROGRESS_POLL_SECONDS */
    check_stopped(&o, end - (a.t0 + a.after), EIR_PROGRESS_POLL_SECONDS,
                  "progress callback, 2 threads");
    et_out_free(&o);
}

/** Outputs of two runs are the same bytes. */
static void assert_same(const et_out *a, const et_out *b)
{
    for (int v = 0; v < EIR_NVARS; v++) {
        assert_int_equal(a->len[v], b->len[v]);
        if (a->buf[v]) assert_memory_equal(a->buf[v], b->buf[v], a->len[v] * sizeof(double));
    }
    assert_int_equal(a->res.steps_done, b->res.steps_done);
    assert_memory_equal(&a->res.mean_rate_e, &b->res.mean_rate_e, sizeof(double));
    assert_memory_equal(&a->res.mean_rate_i, &b->res.mean_rate_i, sizeof(double));
    assert_memory_equal(&a->res.max_z_dt, &b->res.max_z_dt, sizeof(double));
}

static int never(void *ctx, int64_t done, int64_t total)
{
    (void)done;
    (void)total;
    ((asker *)ctx)->calls++;
    return 0;
}

/**
 * Not stopping changes no byte: a run with a stop flag never requested and a progress callback
 * that is polled inside its (long) steps and never stops, at 1 and 2 threads, against the same
 * run without either.
 */
static void test_not_stopped_same_bytes(void **state)
{
    (void)state;
    eir_model *m = build(600); /* 3 cell blocks x 2 trial blocks, ~0.1 GFLOP a step */
    et_out ref, o;
    eir_run_desc r;
    desc(&r, 100, 4, 1);
    et_run_ok(m, &r, &ref);
    for (int threads = 1; threads <= 2; threads++) {
        eir_stop *stop = eir_stop_new();
        assert_non_null(stop);
        asker a = {0};
        desc(&r, 100, 4, threads);
        r.stop = stop;
        r.progress = never;
        r.progress_ctx = &a;
        et_run_ok(m, &r, &o);
        assert_true(a.calls >= 4);
        assert_same(&ref, &o);
        et_out_free(&o);
        eir_stop_free(stop);
    }
    /* a stop requested before the run: nothing is integrated */
    eir_stop *stop = eir_stop_new();
    eir_stop_request(stop);
    desc(&r, 100, 4, 2);
    r.stop = stop;
    assert_int_equal(et_run(m, &r, &o), EIR_ECANCELLED);
    assert_int_equal(o.res.steps_done, 0);
    assert_int_equal(o.res.rows_written, 0);
    et_out_free(&o);
    eir_stop_free(stop);
    et_out_free(&ref);
    eir_model_free(m);
}

/** The estimate counts what the run allocates and grows as the run does. */
static void test_memory_estimate(void **state)
{
    (void)state;
    eir_run_desc r;
    desc(&r, BIG_B, 10, 1);
    r.integrator = EIR_INTEG_EXP_EULER;
    const size_t es = sizeof(double), bn = (size_t)BIG_B * BIG_N * es;
    size_t euler = eir_run_memory_bytes(big, &r);
    /* V, R, I, Z, S, U1, U2 (B x N each) and V, r over 10 rows */
    assert_true(euler >= 7 * bn + 2 * 10 * bn);
    r.integrator = EIR_INTEG_RK4;
    size_t rk4 = eir_run_memory_bytes(big, &r);
    assert_true(rk4 >= euler + 2 * bn); /* the stage state and the weighted sum */
    r.precision = EIR_F32;
    size_t f32 = eir_run_memory_bytes(big, &r);
    assert_true(f32 >= rk4 / 2 + (size_t)BIG_N * BIG_N * sizeof(float)); /* the float copy */
    assert_true(f32 < rk4);
    r.precision = EIR_F64;
    r.T = 20;
    assert_true(eir_run_memory_bytes(big, &r) >= rk4 + 2 * 10 * bn);
    r.threads = 2;
    assert_true(eir_run_memory_bytes(big, &r) >= rk4 + 2 * 10 * bn + EIR_RUN_BLAS_BYTES_PER_THREAD);
    /* the bound from the model's dimensions alone (a model not built yet) is never below */
    eir_model_dims dims = {eir_model_n(big), eir_model_n_e(big), eir_model_n_in(big),
                           eir_model_n_out(big), eir_model_class(big)};
    for (int k = 0; k < 4; k++) {
        r.integrator = k & 1 ? EIR_INTEG_RK4 : EIR_INTEG_EXP_EULER;
        r.precision = k & 2 ? EIR_F32 : EIR_F64;
        const size_t exact = eir_run_memory_bytes(big, &r), bound = eir_run_memory_bound(&dims, &r);
        assert_true(bound >= exact);
        assert_true(bound <= 2 * exact + ((size_t)64 << 20)); /* and not absurdly above */
    }
    r.integrator = EIR_INTEG_RK4;
    r.precision = EIR_F64;
    r.T = (int64_t)1 << 40; /* no wrap-around */
    r.B = 1 << 30;
    assert_true(eir_run_memory_bytes(big, &r) > ((size_t)1 << 50));
    assert_true(eir_run_memory_bound(&dims, &r) > ((size_t)1 << 50));
}

/** A field of /proc/self/status in kB, or -1. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) v = atol(line + strlen(key));
    fclose(f);
    return v;
}

/** Reset the peak resident size to the current one; 0 on success. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int bad = fputs("5", f) < 0;
    return fclose(f) || bad ? -1 : 0;
}

/**
 * The estimate against what a run really makes resident: the peak resident size during an RK4
 * float64 run (outputs allocated and touched before) rises by at most the estimate less the
 * outputs, and by at least that less the per-thread allowance and 10 %. Not in sanitizer
 * builds or under valgrind (their own memory), nor where /proc/self/clear_refs is refused.
 */
static void test_memory_estimate_vs_rss(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip();
#endif
    if (eir_time_scale() != 1.0 || reset_peak() != 0) skip();
    for (int threads = 1; threads <= 2; threads++) {
        eir_run_desc r;
        desc(&r, BIG_B, 4, threads);
        size_t out_bytes = 0;
        void *out[EIR_NVARS] = {0};
        for (int v = 0; v < EIR_NVARS; v++) {
            if (!(r.record_mask & (1u << v))) continue;
            size_t bytes = eir_run_out_len(big, &r, (eir_var)v) * sizeof(double);
            out[v] = r.out[v] = malloc(bytes);
            assert_non_null(out[v]);
            memset(out[v], 0, bytes);
            out_bytes += bytes;
        }
        /* the final state is caller-allocated too, and counted by the estimate */
        const size_t fv_bytes = (size_t)r.B * (size_t)eir_model_n(big) * sizeof(double);
        void *fv = r.final_V = malloc(fv_bytes);
        assert_non_null(fv);
        memset(fv, 0, fv_bytes);
        out_bytes += fv_bytes;
        const size_t est = eir_run_memory_bytes(big, &r);
        assert_int_equal(reset_peak(), 0);
        const long before = status_kb("VmHWM:");
        eir_run_result res;
        eir_error err;
        assert_int_equal(eir_run(big, &r, &res, &err), EIR_OK);
        const double grew = (double)(status_kb("VmHWM:") - before) * 1024.0;
        const double engine = (double)(est - out_bytes);
        printf("threads %d: the peak grew by %.1f MiB; estimate %.1f MiB (outputs %.1f MiB)\n",
               threads, grew / 1048576.0, (double)est / 1048576.0, (double)out_bytes / 1048576.0);
        assert_true(grew <= engine);
        assert_true(grew >= 0.9 * (engine - (double)threads * EIR_RUN_BLAS_BYTES_PER_THREAD));
        for (int v = 0; v < EIR_NVARS; v++)
            free(out[v]);
        free(fv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_stopped_same_bytes),
        cmocka_unit_test(test_stop_flag_mid_step),
        cmocka_unit_test(test_stop_flag_one_thread),
        cmocka_unit_test(test_progress_mid_step),
        cmocka_unit_test(test_memory_estimate),
        cmocka_unit_test(test_memory_estimate_vs_rss),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
