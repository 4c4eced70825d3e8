/**
 * @file task_cdm.c
 * @brief Context-dependent decision making (Mante et al. 2013; neurogym ContextDecisionMaking
 * with explicit context, dim_ring 2; docs/TASKS.md). Inputs: 0 fixation, 1-2 modality 1
 * (choice 1, choice 2), 3-4 modality 2, 5-6 context (modality 1 relevant, modality 2 relevant).
 */
#include <math.h>

#include "task_internal.h"

enum { CDM_FIXATION = 0, CDM_STIMULUS = 1, CDM_DELAY = 2, CDM_DECISION = 3 };

void task_cdm_draw(const eir_task_spec *s, task_trial *t)
{
    /* neurogym: ground_truth, other_choice = choice([1, 2]); context = choice([0, 1]);
     * coh_1, coh_2 = choice(cohs) */
    t->gt = 1 + task_rng_index(&t->rng, 2);
    t->other = 1 + task_rng_index(&t->rng, 2);
    t->context = task_rng_index(&t->rng, 2);
    t->coh[0] = s->coherences[task_rng_index(&t->rng, s->n_coherences)];
    t->coh[1] = s->coherences[task_rng_index(&t->rng, s->n_coherences)];
    double c = t->coh[t->context];
    t->signed_coh = c == 0 ? 0.0 : (t->gt == 2 ? c : -c);
}

void task_cdm_fill(const eir_task_spec *s, task_trial *t, double *x, int n_in)
{
    int choice[2] = {t->gt, t->other}; /* per modality */
    if (t->context == 1) {
        choice[0] = t->other;
        choice[1] = t->gt;
    }
    double sigma_dt = s->sigma / sqrt(s->dt);
    for (int k = 0; k < t->start[CDM_DECISION]; k++)
        x[(size_t)k * n_in] = 1.0;
    for (int k = 0; k < t->len; k++)
        x[(size_t)k * n_in + 5 + t->context] = 1.0;
    int s0 = t->start[CDM_STIMULUS], s1 = s0 + t->steps[CDM_STIMULUS];
    /* neurogym's order: for ring index i, modality 1's channel over the whole stimulus period,
     * then modality 2's; each value cos(theta_i - theta_choice) * (coh / 200) + 0.5 + noise */
    for (int i = 0; i < 2; i++)
        for (int m = 0; m < 2; m++) {
            double v = (choice[m] == i + 1 ? 1.0 : -1.0) * (t->coh[m] / 200) + 0.5;
            int ch = 1 + 2 * m + i;
            for (int k = s0; k < s1; k++)
                x[(size_t)k * n_in + ch] = v + task_rng_normal(&t->rng) * sigma_dt;
        }
}
