/**
 * @file task_internal.h
 * @brief Shared between the task files (task_*.c): one trial's drawn variables and period
 * layout, and the per-task draw and fill functions. Internal to the engine.
 */
#ifndef EIR_TASK_INTERNAL_H
#define EIR_TASK_INTERNAL_H

#include "eir_task.h"
#include "task_rng.h"

/** Longest trial a built-in task may have, in steps (bounds memory; eir_task_check()). */
#define TASK_MAX_STEPS 100000

/** One trial of a built-in task: what was drawn, where its periods lie, and its stream
 *  (positioned after the draws of the conditions and the durations: the noise follows). */
typedef struct task_trial {
    int32_t gt;        /**< correct choice, 1..n_out-1 */
    int32_t context;   /**< CDM: relevant modality 0/1 */
    int32_t other;     /**< CDM: the irrelevant modality's choice, 1/2 */
    int32_t sample;    /**< DMS: sample direction, 0/1 */
    double coh[2];     /**< unsigned coherences drawn (PDM: coh[0]; CDM: per modality) */
    double signed_coh; /**< coherence of the relevant evidence, + toward choice 2 */
    int32_t start[EIR_TASK_MAX_PERIODS];
    int32_t steps[EIR_TASK_MAX_PERIODS];
    int32_t len; /**< total steps */
    task_rng rng;
} task_trial;

/** Steps of a duration of @p ms at @p dt: floor(ms / dt) (TASKS.md "Rounding"). */
int32_t task_steps(double ms, double dt);
/** Draw a period's duration in ms (no draw for a constant, nor for min >= max of a truncated
 *  exponential). */
double task_draw_duration(const eir_duration *d, task_rng *r);
/** Shortest and longest duration in ms that @p d can give. */
void task_duration_range(const eir_duration *d, double *lo, double *hi);

/** Per task: draw the conditions (before the durations), then fill one trial's inputs
 *  (@p x: T*n_in, zero on entry) with its noise from t->rng. */
void task_pdm_draw(const eir_task_spec *s, task_trial *t);
void task_pdm_fill(const eir_task_spec *s, task_trial *t, double *x, int n_in, double *evidence);
void task_dms_draw(const eir_task_spec *s, task_trial *t);
void task_dms_fill(const eir_task_spec *s, task_trial *t, double *x, int n_in);
void task_cdm_draw(const eir_task_spec *s, task_trial *t);
void task_cdm_fill(const eir_task_spec *s, task_trial *t, double *x, int n_in);

/** Period index by name in a built-in task (-1 when absent). */
int task_period_index(eir_task_kind k, const char *name);

/** Custom sets (task_custom.c). */
eir_status task_custom_check(const eir_task_custom *c, eir_error *err);
eir_status task_custom_generate(const eir_task_custom *c, uint64_t key, int B, eir_task_batch *out,
                                eir_error *err);

#endif
