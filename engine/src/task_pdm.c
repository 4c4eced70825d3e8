/**
 * @file task_pdm.c
 * @brief Perceptual decision making (neurogym PerceptualDecisionMaking, dim_ring 2;
 * docs/TASKS.md): fixation cue, two noisy stimulus channels, choose the stronger.
 * Inputs: 0 fixation, 1 stimulus of choice 1, 2 stimulus of choice 2.
 */
#include <math.h>

#include "task_internal.h"

enum { PDM_FIXATION = 0, PDM_STIMULUS = 1, PDM_DELAY = 2, PDM_DECISION = 3 };

void task_pdm_draw(const eir_task_spec *s, task_trial *t)
{
    /* neurogym: ground_truth = choice([0, 1]), then coh = choice(cohs) */
    t->gt = 1 + task_rng_index(&t->rng, 2);
    t->coh[0] = s->coherences[task_rng_index(&t->rng, s->n_coherences)];
    t->signed_coh = t->coh[0] == 0 ? 0.0 : (t->gt == 2 ? t->coh[0] : -t->coh[0]);
}

void task_pdm_fill(const eir_task_spec *s, task_trial *t, double *x, int n_in, double *evidence)
{
    /* stim = cos(theta - theta_gt) * (coh / 200) + 0.5 over theta = (0, pi): the chosen
     * channel gets 0.5 + coh/200, the other 0.5 - coh/200 (cos(0) = 1, cos(+-pi) = -1 exactly) */
    double half = t->coh[0] / 200;
    double stim[2];
    stim[0] = (t->gt == 1 ? 1.0 : -1.0) * half + 0.5;
    stim[1] = (t->gt == 2 ? 1.0 : -1.0) * half + 0.5;
    double sigma_dt = s->sigma / sqrt(s->dt);
    int fix_end = t->start[PDM_DECISION];
    for (int k = 0; k < fix_end; k++)
        x[(size_t)k * n_in] = 1.0;
    int s0 = t->start[PDM_STIMULUS], s1 = s0 + t->steps[PDM_STIMULUS];
    double ev = 0;
    for (int k = s0; k < s1; k++) {
        double *row = x + (size_t)k * n_in;
        for (int c = 0; c < 2; c++)
            row[1 + c] = stim[c] + task_rng_normal(&t->rng) * sigma_dt;
        ev += row[2] - row[1];
    }
    *evidence = ev;
}
