/*
 * Stationary noise statistics with W = 0 (MODEL.md "Noise"). Each neuron is then an
 * independent linear AR(1) process V_{k+1} = a V_k + s xi_k with xi ~ N(0, 1), so
 *   exp_euler: a = e^{-z dt}, s^2 = sigma^2 (1 - e^{-2 z dt}) / (2 z)  ->  Var V = sigma^2 / (2 z)
 *              for any dt (the exact Ornstein-Uhlenbeck step);
 *   euler:     a = 1 - z dt,  s^2 = sigma^2 dt  ->  Var V = sigma^2 / (z (2 - z dt));
 *   rk4:       a = 1 - h + h^2/2 - h^3/6 + h^4/24 (h = z dt), s^2 = sigma^2 dt
 *              ->  Var V = sigma^2 dt / (1 - a^2).
 *
 * Estimator: V_0 = 0 and no drive, so the mean is 0 and the variance is estimated by the mean
 * of V^2 over neurons of a group (same z), trials and recorded rows after a burn-in long enough
 * that a^{2 k} < 1e-8 (the start-up bias is below 1e-8 relative). Samples are taken every s
 * steps (record every s); V is Gaussian, so Var(V^2) = 2 Var(V)^2 and successive samples of V^2
 * have correlation c = a^{2 s}. For n samples of such a series the standard error of the mean
 * is sqrt(2 Var(V)^2 / n * (1 + c) / (1 - c)) (the AR(1) variance inflation); neurons and trials
 * are independent. The test bound is 5 standard errors (a false failure has probability ~6e-7;
 * the run is seeded, so the outcome is deterministic anyway). The mean of V is checked the same
 * way, with correlation a^s. A wrong noise scaling (e.g. sigma sqrt(dt) in exp_euler) is off by
 * 20% or more in every case below, against 5 standard errors of under 3%.
 */
#include "eir_test_util.h"

#define NG 2   /* groups of neurons with different leak */
#define PER 50 /* neurons per group */
#define N (NG * PER)
#define B 8
#define NSAMP 250 /* recorded samples per neuron and trial after burn-in */

static const double ZG[NG] = {2.0, 0.5};
static const double SIGMA = 0.6;

static double ar_coef(eir_integrator integ, double h)
{
    switch (integ) {
    case EIR_INTEG_EXP_EULER:
        return exp(-h);
    case EIR_INTEG_EULER:
        return 1 - h;
    default:
        return 1 - h + h * h / 2 - h * h * h / 6 + h * h * h * h / 24;
    }
}

static double stationary_var(eir_integrator integ, double z, double dt)
{
    double s2 = SIGMA * SIGMA;
    switch (integ) {
    case EIR_INTEG_EXP_EULER:
        return s2 / (2 * z);
    case EIR_INTEG_EULER:
        return s2 / (z * (2 - z * dt));
    default: {
        double a = ar_coef(integ, z * dt);
        return s2 * dt / (1 - a * a);
    }
    }
}

static void check_variance(eir_integrator integ, double dt, int stride)
{
    double leak[N];
    for (int i = 0; i < N; i++)
        leak[i] = ZG[i / PER];
    static const double W[N * N] = {0};
    eir_model_desc d;
    et_desc_reduced(&d, EIR_CLASS_RNN, EIR_ACT_LINEAR, N, 0, W, leak, N);
    d.sigma = SIGMA;
    eir_model *m = et_build(&d);

    /* burn-in: a^{2 k} < 1e-8 for every group */
    int64_t burn = 0;
    for (int g = 0; g < NG; g++) {
        double a = fabs(ar_coef(integ, ZG[g] * dt));
        int64_t k = a > 0 ? (int64_t)ceil(log(1e-8) / (2 * log(a))) : 1;
        if (k > burn) burn = k;
    }
    int64_t burn_rows = (burn + stride - 1) / stride; /* rows j >= this hold V_k, k > burn */
    int64_t T = (burn_rows + NSAMP) * stride;
    eir_run_desc r;
    et_rdesc(&r, dt, T, B, ET_V);
    r.integrator = integ;
    r.seed = 20240601;
    r.record_every = stride;
    r.threads = 2;
    et_out o;
    et_run_ok(m, &r, &o);
    assert_int_equal(o.rows, burn_rows + NSAMP);
    assert_int_equal(o.res.diverged, 0);
    ET_CHECK(isnan(o.res.mean_rate_i), "no I cells: mean_rate_i must be NaN, got %g",
             o.res.mean_rate_i);

    for (int g = 0; g < NG; g++) {
        double sum = 0, sum2 = 0;
        size_t n = 0;
        for (int b = 0; b < B; b++)
            for (int64_t j = burn_rows; j < o.rows; j++)
                for (int i = g * PER; i < (g + 1) * PER; i++) {
                    double v = et_at(&o, EIR_VAR_V, b, j, i);
                    sum += v;
                    sum2 += v * v;
                    n++;
                }
        double z = ZG[g], var = stationary_var(integ, z, dt);
        double a_s = pow(ar_coef(integ, z * dt), stride), c = a_s * a_s;
        double est = sum2 / (double)n, mean = sum / (double)n;
        double se = sqrt(2 * var * var / (double)n * (1 + c) / (1 - c));
        double se_mean = sqrt(var / (double)n * (1 + a_s) / (1 - a_s));
        print_message("%-9s dt %-4g z %-3g: Var %.5f, theory %.5f (%.2f SE); mean %.5f (%.2f SE)\n",
                      eir_integrator_name(integ), dt, z, est, var, (est - var) / se, mean,
                      mean / se_mean);
        ET_CHECK(fabs(est - var) <= 5 * se,
                 "%s dt %g z %g: variance %.6f, theory %.6f, |diff| = %.2f standard errors",
                 eir_integrator_name(integ), dt, z, est, var, fabs(est - var) / se);
        ET_CHECK(fabs(mean) <= 5 * se_mean, "%s dt %g z %g: mean %.6f, %.2f standard errors",
                 eir_integrator_name(integ), dt, z, mean, fabs(mean) / se_mean);
    }
    et_out_free(&o);
    eir_model_free(m);
}

static void test_exp_euler(void **state)
{
    (void)state;
    check_variance(EIR_INTEG_EXP_EULER, 0.1, 10);
    check_variance(EIR_INTEG_EXP_EULER, 1.0, 2);
}

static void test_euler_maruyama(void **state)
{
    (void)state;
    check_variance(EIR_INTEG_EULER, 0.1, 10);
    check_variance(EIR_INTEG_EULER, 0.75, 2); /* z dt = 1.5 for z = 2: a = -0.5 */
}

static void test_rk4(void **state)
{
    (void)state;
    check_variance(EIR_INTEG_RK4, 0.5, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_euler),
        cmocka_unit_test(test_euler_maruyama),
        cmocka_unit_test(test_rk4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
