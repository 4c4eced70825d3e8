/*
 * Every rejection path of eir_model_build and eir_run: EIR_EINVAL, *out NULL for models, the
 * JSON pointer of the offending field (FORMAT.md's model and run objects; eir.h names the run
 * fields) and a message that mentions what is wrong. Each case starts from a valid description
 * and breaks one thing, so a rejection cannot come from elsewhere. The valid descriptions are
 * checked to build and run first.
 *
 * Field pointers: model fields follow FORMAT.md ("/leak", "/recurrent/W", "/recurrent/A",
 * "/recurrent/K", "/recurrent/E_rev/E", "/recurrent/E_rev/I", "/activation/k", "/activation/n",
 * "/activation/r_max", "/noise/sigma", "/input/P", "/bias", "/readout/W_out", "/n_inputs"); sizes
 * are
 * "/populations" or below it; M_in is not in FORMAT.md, so anything under "/input/" is
 * accepted. Run fields are the ones eir.h lists; B < 1 is "/inputs" or below it (B is the
 * inputs' trial count in FORMAT.md).
 */
#include "eir_test_util.h"

#define NE 2
#define NI 1
#define N (NE + NI)

#define NONNEG "negative|>= 0|>=0|non-negative|nonnegative|\xe2\x89\xa5"
#define FINITE "finite|nan|inf"

static double W[N * N] = {0.0, 0.5, -0.4, 0.3, 0.0, -0.6, 0.8, 0.2, 0.0};
static double K[N * N] = {0.0, 0.5, 0.4, 0.3, 0.0, 0.6, 0.8, 0.2, 0.0};
static double LEAK[N] = {1.0, 1.0, 1.0};
static double A[2] = {1.0, 0.5};
static double P[N] = {1.0, 0.5, -0.2};
static double MIN[N] = {0.1, 0.0, 0.3};
static double BIAS[N] = {0.0, 0.1, 0.2};
static double WOUT[2 * N] = {1.0, 0.0, -1.0, 0.5, 0.5, 0.5};

static void base(eir_model_desc *d)
{
    et_desc_reduced(d, EIR_CLASS_GATED, EIR_ACT_RELU, NE, NI, W, LEAK, N);
    d->a_kind = EIR_A_PER_TYPE;
    d->A = A;
    d->n_in = 1;
    d->P = P;
    d->M_in = MIN;
    d->bias = BIAS;
    d->bias_len = N;
}

static void base_conductance(eir_model_desc *d)
{
    base(d);
    d->form = EIR_FORM_CONDUCTANCE;
    d->W = NULL;
    d->A = NULL;
    d->K = K;
    d->e_rev_e = 2.0;
    d->e_rev_i = -0.5;
}

static void base_power(eir_model_desc *d)
{
    base(d);
    d->act.kind = EIR_ACT_POWER;
    d->act.k = 0.3;
    d->act.n = 2.0;
}

static void expect_ok(const eir_model_desc *d)
{
    eir_model *m = et_build(d);
    eir_model_free(m);
}

/* Also: a NULL error pointer is allowed and the status is the same. */
static void expect_reject(const eir_model_desc *d, const char *field, const char *w)
{
    et_expect_reject(d, field, w, NULL);
    eir_model *m = NULL;
    assert_int_equal(eir_model_build(d, &m, NULL), EIR_EINVAL);
    assert_null(m);
}

static void test_valid_bases(void **state)
{
    (void)state;
    eir_model_desc d;
    base(&d);
    expect_ok(&d);
    base_conductance(&d);
    expect_ok(&d);
    base_power(&d);
    expect_ok(&d);
    base_conductance(&d);
    d.e_rev_i = 0.0; /* shunting inhibition is valid */
    expect_ok(&d);
}

static void test_leak(void **state)
{
    (void)state;
    const double bad[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
    for (size_t q = 0; q < sizeof bad / sizeof bad[0]; q++) {
        eir_model_desc d;
        double leak[N] = {1.0, bad[q], 1.0};
        base(&d);
        d.leak = leak;
        expect_reject(&d, "/leak|/leak/1", "leak");
        /* broadcast form */
        d.leak = &leak[1];
        d.leak_len = 1;
        expect_reject(&d, "/leak|/leak/0", "leak");
    }
    eir_model_desc d;
    base(&d);
    d.leak_len = 2; /* neither 1 nor N */
    expect_reject(&d, "/leak", "leak");
    d.leak_len = 0;
    expect_reject(&d, "/leak", "leak");
}

static void test_A_and_K(void **state)
{
    (void)state;
    eir_model_desc d;
    double a_bad[2] = {1.0, -0.5};
    base(&d);
    d.A = a_bad;
    expect_reject(&d, "/recurrent/A|/recurrent/A/I|/recurrent/A/1", NONNEG);
    double a_scalar = -1.0;
    base(&d);
    d.a_kind = EIR_A_SCALAR;
    d.A = &a_scalar;
    expect_reject(&d, "/recurrent/A|/recurrent/A/0", NONNEG);
    double a_mat[N * N];
    for (int k = 0; k < N * N; k++)
        a_mat[k] = k == 5 ? -0.1 : 1.0;
    base(&d);
    d.a_kind = EIR_A_MATRIX;
    d.A = a_mat;
    expect_reject(&d, "/recurrent/A|/recurrent/A/1/2", NONNEG);
    a_mat[5] = NAN;
    expect_reject(&d, "/recurrent/A|/recurrent/A/1/2", NONNEG "|" FINITE);

    double k_bad[N * N];
    memcpy(k_bad, K, sizeof K);
    k_bad[3] = -0.3;
    base_conductance(&d);
    d.K = k_bad;
    expect_reject(&d, "/recurrent/K|/recurrent/K/1/0", NONNEG);
    k_bad[3] = NAN;
    expect_reject(&d, "/recurrent/K|/recurrent/K/1/0", NONNEG "|" FINITE);
}

static void test_reversal_potentials(void **state)
{
    (void)state;
    eir_model_desc d;
    const double bad_e[] = {0.0, -1.0, NAN};
    for (size_t q = 0; q < sizeof bad_e / sizeof bad_e[0]; q++) {
        base_conductance(&d);
        d.e_rev_e = bad_e[q];
        expect_reject(&d, "/recurrent/E_rev/E", "E_E|E_rev|revers|excit");
    }
    const double bad_i[] = {0.5, 1e-300, NAN};
    for (size_t q = 0; q < sizeof bad_i / sizeof bad_i[0]; q++) {
        base_conductance(&d);
        d.e_rev_i = bad_i[q];
        expect_reject(&d, "/recurrent/E_rev/I", "E_I|E_rev|revers|inhib");
    }
}

static void test_sizes(void **state)
{
    (void)state;
    eir_model_desc d;
    base(&d);
    d.n_e = 0;
    d.n_i = 0;
    d.leak_len = 1;
    expect_reject(&d, "/populations*", "population|neuron|cell|size|at least");
    base(&d);
    d.n_e = -1;
    expect_reject(&d, "/populations|/populations/E", ">= 0|>=0|negative");
    base(&d);
    d.n_in = -1;
    expect_reject(&d, "/n_inputs", "input");
}

static void test_activation(void **state)
{
    (void)state;
    eir_model_desc d;
    const double bad[] = {0.0, -1.0, NAN};
    for (size_t q = 0; q < sizeof bad / sizeof bad[0]; q++) {
        base_power(&d);
        d.act.k = bad[q];
        expect_reject(&d, "/activation/k", "power|k");
        base_power(&d);
        d.act.n = bad[q];
        expect_reject(&d, "/activation/n", "power|n");
        base(&d);
        d.act.r_max = bad[q];
        expect_reject(&d, "/activation/r_max", "r_max");
    }
}

static void test_sigma_min_nonfinite(void **state)
{
    (void)state;
    eir_model_desc d;
    base(&d);
    d.sigma = -0.1;
    expect_reject(&d, "/noise/sigma", "sigma|noise");
    d.sigma = NAN;
    expect_reject(&d, "/noise/sigma", "sigma|noise");

    double min_bad[N] = {0.1, -0.2, 0.3};
    base(&d);
    d.M_in = min_bad;
    expect_reject(&d, "/input/M_in|/input/M_in/1/0", NONNEG);

    double w_bad[N * N];
    memcpy(w_bad, W, sizeof W);
    w_bad[1] = NAN;
    base(&d);
    d.W = w_bad;
    expect_reject(&d, "/recurrent/W|/recurrent/W/0/1", FINITE);
    d.cls = EIR_CLASS_RNN;
    expect_reject(&d, "/recurrent/W|/recurrent/W/0/1", FINITE);
    w_bad[1] = INFINITY;
    expect_reject(&d, "/recurrent/W|/recurrent/W/0/1", FINITE);

    double p_bad[N] = {1.0, INFINITY, 0.0};
    base(&d);
    d.P = p_bad;
    expect_reject(&d, "/input/P|/input/P/1/0", FINITE);

    double b_bad[N] = {0.0, 0.0, NAN};
    base(&d);
    d.bias = b_bad;
    expect_reject(&d, "/bias|/bias/2", FINITE);

    double wout_bad[2 * N];
    memcpy(wout_bad, WOUT, sizeof WOUT);
    wout_bad[4] = NAN;
    base(&d);
    d.n_out = 2;
    d.W_out = wout_bad;
    expect_reject(&d, "/readout/W_out|/readout/W_out/1/1", FINITE);
}

/* ---- runs ---- */

#define TMAX 8
#define BMAX 3
static double bufs[EIR_NVARS][BMAX * TMAX * N * 2];

static void run_base(eir_run_desc *r)
{
    et_rdesc(r, 0.1, TMAX, 2, ET_V | ET_R | ET_Z);
    for (int v = 0; v < EIR_NVARS; v++)
        r->out[v] = (r->record_mask & (1u << v)) ? bufs[v] : NULL;
}

static void expect_run_reject(const eir_model *m, eir_run_desc *r, const char *field,
                              const char *words)
{
    for (int v = 0; v < EIR_NVARS; v++)
        r->out[v] = (r->record_mask & (1u << v)) ? bufs[v] : NULL;
    eir_run_result res;
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_run(m, r, &res, &err);
    ET_CHECK(st == EIR_EINVAL, "expected EIR_EINVAL for %s, got %d (%s)", field, (int)st,
             err.message);
    et_check_error(&err, field, words);
    assert_int_equal(eir_run(m, r, &res, NULL), EIR_EINVAL);
}

static void test_run_rejects(void **state)
{
    (void)state;
    eir_model_desc d;
    base(&d);
    eir_model *m = et_build(&d); /* no readout */
    eir_run_desc r;

    run_base(&r);
    eir_run_result res;
    eir_error err;
    ET_CHECK(eir_run(m, &r, &res, &err) == EIR_OK, "the base run fails: %s", err.message);

    const double bad_dt[] = {0.0, -0.1, NAN, INFINITY};
    for (size_t q = 0; q < sizeof bad_dt / sizeof bad_dt[0]; q++) {
        run_base(&r);
        r.dt = bad_dt[q];
        expect_run_reject(m, &r, "/dt", "dt|step");
    }
    run_base(&r);
    r.T = 0;
    expect_run_reject(m, &r, "/T", "step|T ");
    r.T = -3;
    expect_run_reject(m, &r, "/T", "step|T ");

    run_base(&r);
    r.B = 0;
    expect_run_reject(m, &r, "/B|/inputs*", "trial|B ");

    const int bad_idx[][2] = {{0, N}, {-1, 1}, {0, 1000}};
    const char *bad_field[] = {"/record/neurons|/record/neurons/1",
                               "/record/neurons|/record/neurons/0",
                               "/record/neurons|/record/neurons/1"};
    for (int q = 0; q < 3; q++) {
        run_base(&r);
        r.neurons = bad_idx[q];
        r.n_neurons = 2;
        expect_run_reject(m, &r, bad_field[q], "neuron|index");
    }

    run_base(&r);
    r.record_every = 0;
    expect_run_reject(m, &r, "/record/every", "every|stride");
    r.record_every = -2;
    expect_run_reject(m, &r, "/record/every", "every|stride");

    const double v0[2 * N] = {0};
    const int bad_len[] = {2, N + 1, 3 * N, -1};
    for (int q = 0; q < 4; q++) {
        run_base(&r);
        r.V0 = v0;
        r.V0_len = bad_len[q];
        expect_run_reject(m, &r, "/V0", "V0|initial");
    }

    run_base(&r);
    r.record_mask |= ET_Y;
    expect_run_reject(m, &r, "/record/vars", "readout|output");

    run_base(&r);
    r.threads = 0;
    expect_run_reject(m, &r, "/threads", "thread");
    r.threads = -1;
    expect_run_reject(m, &r, "/threads", "thread");
    eir_model_free(m);

    /* With a readout, y is recordable. */
    base(&d);
    d.n_out = 2;
    d.W_out = WOUT;
    m = et_build(&d);
    run_base(&r);
    r.record_mask |= ET_Y;
    r.out[EIR_VAR_Y] = bufs[EIR_VAR_Y];
    ET_CHECK(eir_run(m, &r, &res, &err) == EIR_OK, "y with a readout fails: %s", err.message);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bases),
        cmocka_unit_test(test_leak),
        cmocka_unit_test(test_A_and_K),
        cmocka_unit_test(test_reversal_potentials),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_activation),
        cmocka_unit_test(test_sigma_min_nonfinite),
        cmocka_unit_test(test_run_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
