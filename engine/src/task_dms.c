/**
 * @file task_dms.c
 * @brief Delayed match-to-sample (neurogym DelayMatchSample, dim_ring 2; docs/TASKS.md):
 * a sample direction, a delay, a test direction; choice 1 = match, choice 2 = non-match.
 * Inputs: 0 fixation, 1 and 2 the two directions.
 */
#include <math.h>

#include "task_internal.h"

enum { DMS_FIXATION = 0, DMS_SAMPLE = 1, DMS_DELAY = 2, DMS_TEST = 3, DMS_DECISION = 4 };

void task_dms_draw(const eir_task_spec *s, task_trial *t)
{
    (void)s;
    /* neurogym: ground_truth = choice([1, 2]) (1 match), then sample_theta = choice(theta) */
    t->gt = 1 + task_rng_index(&t->rng, 2);
    t->sample = task_rng_index(&t->rng, 2);
    t->signed_coh = 0;
}

/* Add the direction @p dir (0/1) plus noise to channels 1..2 over steps [s0, s1). The stimulus
 * cos(theta - theta_dir) * 0.5 + 0.5 over theta = (0, pi) is exactly 1 on the direction's
 * channel and 0 on the other. */
static void add_stimulus(double *x, int n_in, int s0, int s1, int dir, double sigma_dt,
                         task_rng *rng)
{
    for (int k = s0; k < s1; k++) {
        double *row = x + (size_t)k * n_in;
        for (int c = 0; c < 2; c++)
            row[1 + c] = (c == dir ? 1.0 : 0.0) + task_rng_normal(rng) * sigma_dt;
    }
}

void task_dms_fill(const eir_task_spec *s, task_trial *t, double *x, int n_in)
{
    double sigma_dt = s->sigma / sqrt(s->dt);
    for (int k = 0; k < t->start[DMS_DECISION]; k++)
        x[(size_t)k * n_in] = 1.0;
    int test_dir = t->gt == 1 ? t->sample : 1 - t->sample;
    add_stimulus(x, n_in, t->start[DMS_SAMPLE], t->start[DMS_SAMPLE] + t->steps[DMS_SAMPLE],
                 t->sample, sigma_dt, &t->rng);
    add_stimulus(x, n_in, t->start[DMS_TEST], t->start[DMS_TEST] + t->steps[DMS_TEST], test_dir,
                 sigma_dt, &t->rng);
}
