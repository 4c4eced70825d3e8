/*
 * exp_euler is exact for a network without recurrence (W = 0) under input that is constant
 * over each step (MODEL.md "Time stepping"): with z and I frozen, the solution of
 * dV/dt = -z V + I is V(t) = V_inf + (V0 - V_inf) e^{-z t}, V_inf = I / z, and exp_euler's
 * update V_{k+1} = V_k e^{-z dt} + I (1 - e^{-z dt}) / z is that solution sampled at dt.
 * Here I = P x + b and z = G_b (+ M_in |x| with input gating). Output row k is the state
 * after step k, at time (k+1) dt; with record every e, row j is step (j+1) e - 1.
 *
 * Tolerance: 1e-13 relative to the solution's magnitude max(|V0|, |V_inf|) per neuron (the
 * exact value may cross zero, where a pointwise relative error is meaningless). A run of T
 * steps accumulates about T rounding errors of size 2^-53 ~ 1.1e-16, far below 1e-13.
 */
#include "eir_test_util.h"

#define NE 3
#define NI 2
#define N (NE + NI)
#define NIN 2
#define B 2

static const double P[N * NIN] = {0.8, -0.3, 1.1, 0.4, -0.6, 0.9, 0.2, 1.5, -1.0, -0.7};
static const double BIAS[N] = {0.1, -0.2, 0.3, 0.05, -0.15};
static const double MIN[N * NIN] = {0.5, 0.0, 1.2, 0.3, 0.0, 0.8, 2.0, 0.1, 0.4, 0.4};
static const double LEAKV[N] = {1.0, 0.5, 2.0, 1.3, 0.8};
static const double ONE = 1.0;
static const double A_TYPE[2] = {0.7, 1.3};
static const double W0[N * N] = {0};
/* Per trial: constant input and V0. */
static const double X[B][NIN] = {{0.7, -0.4}, {-1.2, 0.5}};
static const double V0[B * N] = {0.5, -1.0, 2.0, 0.0, 0.3, -0.4, 1.5, 0.2, -2.0, 0.9};

typedef struct setup {
    eir_class cls;
    eir_act_kind act;
    int vector_leak;
    int gating; /* input gating (M_in) on */
} setup;

static void make_desc(eir_model_desc *d, const setup *s)
{
    et_desc_reduced(d, s->cls, s->act, NE, NI, W0, s->vector_leak ? LEAKV : &ONE,
                    s->vector_leak ? N : 1);
    d->n_in = NIN;
    d->P = P;
    d->bias = BIAS;
    d->bias_len = N;
    if (s->cls == EIR_CLASS_GATED) {
        d->a_kind = EIR_A_PER_TYPE;
        d->A = A_TYPE;
    }
    d->M_in = s->gating ? MIN : NULL;
}

/* z and V_inf for trial b, by hand. */
static void frozen(const setup *s, const double *x, double *z, double *vinf)
{
    for (int i = 0; i < N; i++) {
        double I = BIAS[i], zi = s->vector_leak ? LEAKV[i] : 1.0;
        for (int c = 0; c < NIN; c++) {
            I += P[i * NIN + c] * x[c];
            if (s->gating) zi += MIN[i * NIN + c] * fabs(x[c]);
        }
        z[i] = zi;
        vinf[i] = I / zi;
    }
}

static void check_exact(const setup *s)
{
    static const double dts[] = {0.01, 0.1, 1.0, 10.0, 50.0};
    const int64_t T = 40;
    eir_model_desc d;
    make_desc(&d, s);
    eir_model *m = et_build(&d);
    double inputs[B * T * NIN];
    for (int b = 0; b < B; b++)
        for (int64_t k = 0; k < T; k++)
            for (int c = 0; c < NIN; c++)
                inputs[(b * T + k) * NIN + c] = X[b][c];

    for (size_t q = 0; q < sizeof dts / sizeof dts[0]; q++) {
        double dt = dts[q];
        eir_run_desc r;
        et_rdesc(&r, dt, T, B, ET_V | ET_Z);
        r.inputs = inputs;
        r.V0 = V0;
        r.V0_len = B * N;
        et_out o;
        et_run_ok(m, &r, &o);
        assert_int_equal(o.res.diverged, 0);
        assert_int_equal(o.res.steps_done, T);
        assert_int_equal(o.res.rows_written, T);
        for (int b = 0; b < B; b++) {
            double z[N], vinf[N];
            frozen(s, X[b], z, vinf);
            for (int64_t k = 0; k < T; k++) {
                double t = (double)(k + 1) * dt;
                for (int i = 0; i < N; i++) {
                    double v0 = V0[b * N + i];
                    double want = vinf[i] + (v0 - vinf[i]) * exp(-z[i] * t);
                    double scale = fmax(fabs(v0), fabs(vinf[i]));
                    ET_CHECK(et_rel(et_at(&o, EIR_VAR_V, b, k, i), want, scale) <= 1e-13,
                             "dt %g trial %d row %lld neuron %d: V %.17g, exact %.17g", dt, b,
                             (long long)k, i, et_at(&o, EIR_VAR_V, b, k, i), want);
                    ET_CHECK(et_rel(et_at(&o, EIR_VAR_Z, b, k, i), z[i], 0) <= 1e-15,
                             "dt %g trial %d row %lld neuron %d: z %.17g, expected %.17g", dt, b,
                             (long long)k, i, et_at(&o, EIR_VAR_Z, b, k, i), z[i]);
                }
            }
        }
        et_out_free(&o);
    }
    eir_model_free(m);
}

static void test_rnn_linear(void **state)
{
    (void)state;
    setup s = {EIR_CLASS_RNN, EIR_ACT_LINEAR, 0, 0};
    check_exact(&s);
    s.vector_leak = 1;
    check_exact(&s);
}

static void test_gated_no_recurrence(void **state)
{
    (void)state;
    setup s = {EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 1, 0};
    check_exact(&s);
    s.act = EIR_ACT_RELU;
    s.vector_leak = 0;
    check_exact(&s);
}

static void test_input_gating(void **state)
{
    (void)state;
    /* z = G_b + M_in |x|: the inputs include negative channels, so |x| matters. */
    setup s = {EIR_CLASS_GATED, EIR_ACT_SIGMOID, 1, 1};
    check_exact(&s);
    s.vector_leak = 0;
    check_exact(&s);
}

/* Input row k drives the step from V_k to V_{k+1}: a switch of input at step ks shows up first
 * in output row ks, and the solution is piecewise exact. */
static void test_piecewise_input(void **state)
{
    (void)state;
    setup s = {EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 1, 1};
    const int64_t T = 12, ks = 5;
    const double dt = 0.3;
    eir_model_desc d;
    make_desc(&d, &s);
    eir_model *m = et_build(&d);
    double inputs[T * NIN];
    for (int64_t k = 0; k < T; k++)
        for (int c = 0; c < NIN; c++)
            inputs[k * NIN + c] = k < ks ? X[0][c] : X[1][c];
    eir_run_desc r;
    et_rdesc(&r, dt, T, 1, ET_V | ET_Z);
    r.inputs = inputs;
    r.V0 = V0;
    r.V0_len = N;
    et_out o;
    et_run_ok(m, &r, &o);
    double z0[N], vi0[N], z1[N], vi1[N];
    frozen(&s, X[0], z0, vi0);
    frozen(&s, X[1], z1, vi1);
    for (int i = 0; i < N; i++) {
        double v = V0[i];
        for (int64_t k = 0; k < T; k++) {
            const double *z = k < ks ? z0 : z1, *vi = k < ks ? vi0 : vi1;
            v = vi[i] + (v - vi[i]) * exp(-z[i] * dt);
            double scale = fmax(fabs(V0[i]), fmax(fabs(vi0[i]), fabs(vi1[i])));
            ET_CHECK(et_rel(et_at(&o, EIR_VAR_V, 0, k, i), v, scale) <= 1e-13,
                     "row %lld neuron %d: V %.17g, exact %.17g", (long long)k, i,
                     et_at(&o, EIR_VAR_V, 0, k, i), v);
            ET_CHECK(et_rel(et_at(&o, EIR_VAR_Z, 0, k, i), z[i], 0) <= 1e-15,
                     "row %lld neuron %d: z %.17g, expected %.17g", (long long)k, i,
                     et_at(&o, EIR_VAR_Z, 0, k, i), z[i]);
        }
    }
    et_out_free(&o);
    eir_model_free(m);
}

/*
 * Small z dt: MODEL.md asks for 1 - e^{-z dt} as -expm1(-z dt); 1 - exp(-z dt) loses about
 * log10(1 / (z dt)) digits. From V_0 = 0 the state V_k = V_inf (1 - e^{-z t}) is a sum of
 * same-signed terms, so its relative error is visible directly: 1e-13 relative to |V_k|
 * itself (not to max(|V_0|, |V_inf|) as above) at dt down to 1e-9.
 */
static void test_small_dt(void **state)
{
    (void)state;
    static const double dts[] = {1e-3, 1e-6, 1e-9};
    setup s = {EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 1, 1};
    const int64_t T = 5;
    eir_model_desc d;
    make_desc(&d, &s);
    eir_model *m = et_build(&d);
    double inputs[B * 5 * NIN];
    for (int b = 0; b < B; b++)
        for (int64_t k = 0; k < T; k++)
            for (int c = 0; c < NIN; c++)
                inputs[(b * T + k) * NIN + c] = X[b][c];
    for (size_t q = 0; q < sizeof dts / sizeof dts[0]; q++) {
        eir_run_desc r;
        et_rdesc(&r, dts[q], T, B, ET_V);
        r.inputs = inputs;
        et_out o;
        et_run_ok(m, &r, &o);
        for (int b = 0; b < B; b++) {
            double z[N], vinf[N];
            frozen(&s, X[b], z, vinf);
            for (int64_t k = 0; k < T; k++)
                for (int i = 0; i < N; i++) {
                    double want = vinf[i] * -expm1(-z[i] * (double)(k + 1) * dts[q]);
                    ET_CHECK(et_rel(et_at(&o, EIR_VAR_V, b, k, i), want, 0) <= 1e-13,
                             "dt %g trial %d row %lld neuron %d: V %.17g, exact %.17g", dts[q], b,
                             (long long)k, i, et_at(&o, EIR_VAR_V, b, k, i), want);
                }
        }
        et_out_free(&o);
    }
    eir_model_free(m);
}

/* record every e keeps rows with (k+1) % e == 0: row j is step (j+1) e - 1, time (j+1) e dt. */
static void test_stride(void **state)
{
    (void)state;
    setup s = {EIR_CLASS_GATED, EIR_ACT_SOFTPLUS, 1, 1};
    eir_model_desc d;
    make_desc(&d, &s);
    eir_model *m = et_build(&d);
    static const struct {
        int64_t T;
        int every;
        int64_t rows;
    } cases[] = {{10, 3, 3}, {12, 4, 3}, {7, 1, 7}, {9, 9, 1}, {30, 7, 4}};
    const double dt = 0.7;
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        int64_t T = cases[q].T;
        int e = cases[q].every;
        assert_int_equal(eir_recorded_rows(T, e), cases[q].rows);
        double *inputs = malloc((size_t)(B * T * NIN) * sizeof *inputs);
        assert_non_null(inputs);
        for (int b = 0; b < B; b++)
            for (int64_t k = 0; k < T; k++)
                for (int c = 0; c < NIN; c++)
                    inputs[(b * T + k) * NIN + c] = X[b][c];
        eir_run_desc r;
        et_rdesc(&r, dt, T, B, ET_V | ET_Z);
        r.inputs = inputs;
        r.V0 = V0;
        r.V0_len = B * N;
        r.record_every = e;
        assert_int_equal(eir_run_out_len(m, &r, EIR_VAR_V), (size_t)(B * cases[q].rows * N));
        et_out o;
        et_run_ok(m, &r, &o);
        assert_int_equal(o.res.rows_written, cases[q].rows);
        assert_int_equal(o.res.steps_done, T);
        for (int b = 0; b < B; b++) {
            double z[N], vinf[N];
            frozen(&s, X[b], z, vinf);
            for (int64_t j = 0; j < cases[q].rows; j++) {
                double t = (double)((j + 1) * e) * dt;
                for (int i = 0; i < N; i++) {
                    double v0 = V0[b * N + i];
                    double want = vinf[i] + (v0 - vinf[i]) * exp(-z[i] * t);
                    ET_CHECK(et_rel(et_at(&o, EIR_VAR_V, b, j, i), want,
                                    fmax(fabs(v0), fabs(vinf[i]))) <= 1e-13,
                             "T %lld every %d trial %d row %lld neuron %d: V %.17g, exact %.17g",
                             (long long)T, e, b, (long long)j, i, et_at(&o, EIR_VAR_V, b, j, i),
                             want);
                }
            }
        }
        et_out_free(&o);
        free(inputs);
    }
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_linear),   cmocka_unit_test(test_gated_no_recurrence),
        cmocka_unit_test(test_input_gating), cmocka_unit_test(test_piecewise_input),
        cmocka_unit_test(test_stride),       cmocka_unit_test(test_small_dt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
