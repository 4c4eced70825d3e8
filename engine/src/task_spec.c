/**
 * @file task_spec.c
 * @brief The built-in tasks' names, periods, defaults (neurogym's), input and output counts,
 * duration draws and the check of a task spec (docs/TASKS.md).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "task_internal.h"

static const char *const TASK_NAMES[] = {"perceptual_decision_making", "delay_match_sample",
                                         "context_decision_making", "custom"};

static const char *const PDM_PERIODS[] = {"fixation", "stimulus", "delay", "decision", NULL};
static const char *const DMS_PERIODS[] = {"fixation", "sample", "delay", "test", "decision", NULL};
static const char *const CDM_PERIODS[] = {"fixation", "stimulus", "delay", "decision", NULL};

static const char *const *task_periods(eir_task_kind k)
{
    switch (k) {
    case EIR_TASK_PERCEPTUAL_DM:
        return PDM_PERIODS;
    case EIR_TASK_DELAY_MATCH:
        return DMS_PERIODS;
    case EIR_TASK_CONTEXT_DM:
        return CDM_PERIODS;
    default:
        return NULL;
    }
}

const char *eir_task_name(eir_task_kind k)
{
    if ((int)k < 0 || (int)k > EIR_TASK_CUSTOM) return NULL;
    return TASK_NAMES[k];
}

int eir_task_from_name(const char *name)
{
    if (!name) return -1;
    for (int k = 0; k <= EIR_TASK_CUSTOM; k++)
        if (strcmp(name, TASK_NAMES[k]) == 0) return k;
    return -1;
}

int eir_task_n_periods(eir_task_kind k)
{
    const char *const *p = task_periods(k);
    int n = 0;
    while (p && p[n])
        n++;
    return n;
}

const char *eir_task_period_name(eir_task_kind k, int i)
{
    if (i < 0 || i >= eir_task_n_periods(k)) return NULL;
    return task_periods(k)[i];
}

int task_period_index(eir_task_kind k, const char *name)
{
    for (int i = 0; i < eir_task_n_periods(k); i++)
        if (strcmp(task_periods(k)[i], name) == 0) return i;
    return -1;
}

static eir_duration dur_constant(double ms)
{
    eir_duration d;
    memset(&d, 0, sizeof d);
    d.kind = EIR_DUR_CONSTANT;
    d.a = ms;
    return d;
}

void eir_task_spec_init(eir_task_spec *t, eir_task_kind k, double dt)
{
    memset(t, 0, sizeof *t);
    t->kind = k;
    t->dt = dt;
    t->sigma = 1.0;
    switch (k) {
    case EIR_TASK_PERCEPTUAL_DM: {
        /* neurogym PerceptualDecisionMaking: timing, cohs, sigma = 1 */
        static const double coh[] = {0, 6.4, 12.8, 25.6, 51.2};
        t->timing[0] = dur_constant(100);
        t->timing[1] = dur_constant(2000);
        t->timing[2] = dur_constant(0);
        t->timing[3] = dur_constant(100);
        t->n_coherences = 5;
        memcpy(t->coherences, coh, sizeof coh);
        break;
    }
    case EIR_TASK_DELAY_MATCH:
        t->timing[0] = dur_constant(300);
        t->timing[1] = dur_constant(500);
        t->timing[2] = dur_constant(1000);
        t->timing[3] = dur_constant(500);
        t->timing[4] = dur_constant(900);
        break;
    case EIR_TASK_CONTEXT_DM: {
        static const double coh[] = {5, 15, 50};
        t->timing[0] = dur_constant(300);
        t->timing[1] = dur_constant(750);
        t->timing[2].kind = EIR_DUR_TRUNC_EXP;
        t->timing[2].a = 600;
        t->timing[2].b = 300;
        t->timing[2].c = 3000;
        t->timing[3] = dur_constant(100);
        t->n_coherences = 3;
        memcpy(t->coherences, coh, sizeof coh);
        break;
    }
    case EIR_TASK_CUSTOM:
        t->sigma = 0;
        break;
    }
}

int eir_task_n_in(const eir_task_spec *t)
{
    switch (t->kind) {
    case EIR_TASK_PERCEPTUAL_DM:
    case EIR_TASK_DELAY_MATCH:
        return 3; /* fixation, two stimulus channels */
    case EIR_TASK_CONTEXT_DM:
        return 7; /* fixation, 2 x 2 stimulus channels, 2 context channels */
    case EIR_TASK_CUSTOM:
        return t->custom.n_in;
    }
    return 0;
}

int eir_task_n_out(const eir_task_spec *t)
{
    if (t->kind == EIR_TASK_CUSTOM) return t->custom.n_out;
    return 3; /* fixate, choice 1, choice 2 */
}

int32_t task_steps(double ms, double dt)
{
    return (int32_t)floor(ms / dt);
}

double task_draw_duration(const eir_duration *d, task_rng *r)
{
    switch (d->kind) {
    case EIR_DUR_CONSTANT:
        return d->a;
    case EIR_DUR_UNIFORM:
        return d->a + (d->b - d->a) * task_rng_uniform(r);
    case EIR_DUR_CHOICE:
        return d->choices[task_rng_index(r, d->n_choices)];
    case EIR_DUR_TRUNC_EXP: {
        /* Exponential of mean a conditioned on [b, c), by inverting its distribution function
         * (one uniform; neurogym draws until one falls inside: the same distribution). */
        if (d->b >= d->c) return d->c;
        double u = task_rng_uniform(r);
        return d->b - d->a * log(1.0 - u * (1.0 - exp(-(d->c - d->b) / d->a)));
    }
    }
    return 0;
}

void task_duration_range(const eir_duration *d, double *lo, double *hi)
{
    switch (d->kind) {
    case EIR_DUR_CONSTANT:
        *lo = *hi = d->a;
        return;
    case EIR_DUR_UNIFORM:
        *lo = d->a;
        *hi = d->b;
        return;
    case EIR_DUR_CHOICE:
        *lo = *hi = d->choices[0];
        for (int i = 1; i < d->n_choices; i++) {
            if (d->choices[i] < *lo) *lo = d->choices[i];
            if (d->choices[i] > *hi) *hi = d->choices[i];
        }
        return;
    case EIR_DUR_TRUNC_EXP:
        *lo = d->b < d->c ? d->b : d->c;
        *hi = d->c;
        return;
    }
    *lo = *hi = 0;
}

/* Check one period's duration spec; field "/timing/<name>". */
static eir_status check_duration(const eir_duration *d, const char *name, eir_error *err)
{
    char f[EIR_FIELD_MAX];
    snprintf(f, sizeof f, "/timing/%s", name);
    switch (d->kind) {
    case EIR_DUR_CONSTANT:
        if (!isfinite(d->a) || d->a < 0)
            return eir_error_set(err, EIR_EINVAL, f,
                                 "the %s duration must be a finite number >= 0 ms", name);
        return EIR_OK;
    case EIR_DUR_UNIFORM:
        if (!isfinite(d->a) || !isfinite(d->b) || d->a < 0 || d->b < d->a)
            return eir_error_set(err, EIR_EINVAL, f,
                                 "a uniform %s duration needs finite bounds 0 <= min <= max ms",
                                 name);
        return EIR_OK;
    case EIR_DUR_CHOICE:
        if (d->n_choices < 1 || d->n_choices > EIR_TASK_MAX_CHOICES)
            return eir_error_set(err, EIR_EINVAL, f,
                                 "a choice of %s durations needs 1 to %d values", name,
                                 EIR_TASK_MAX_CHOICES);
        for (int i = 0; i < d->n_choices; i++)
            if (!isfinite(d->choices[i]) || d->choices[i] < 0) {
                snprintf(f, sizeof f, "/timing/%s/%d", name, i);
                return eir_error_set(err, EIR_EINVAL, f,
                                     "each %s duration must be a finite number >= 0 ms", name);
            }
        return EIR_OK;
    case EIR_DUR_TRUNC_EXP:
        if (!isfinite(d->a) || d->a <= 0 || !isfinite(d->b) || !isfinite(d->c) || d->b < 0 ||
            d->c < d->b)
            return eir_error_set(err, EIR_EINVAL, f,
                                 "a truncated exponential %s duration needs [mean > 0, min >= 0, "
                                 "max >= min], all finite ms",
                                 name);
        return EIR_OK;
    }
    return eir_error_set(err, EIR_EINVAL, f, "unknown kind of %s duration", name);
}

eir_status eir_task_check(const eir_task_spec *t, eir_error *err)
{
    if (!t) return eir_error_set(err, EIR_EINVAL, "", "no task");
    if ((int)t->kind < 0 || (int)t->kind > EIR_TASK_CUSTOM)
        return eir_error_set(err, EIR_EINVAL, "/name", "unknown task");
    if (t->kind == EIR_TASK_CUSTOM) return task_custom_check(&t->custom, err);
    if (!isfinite(t->dt) || t->dt <= 0)
        return eir_error_set(err, EIR_EINVAL, "/dt", "dt must be a finite number > 0 ms");
    if (!isfinite(t->sigma) || t->sigma < 0)
        return eir_error_set(err, EIR_EINVAL, "/sigma", "sigma must be a finite number >= 0");
    if (t->kind != EIR_TASK_DELAY_MATCH) {
        if (t->n_coherences < 1 || t->n_coherences > EIR_TASK_MAX_COHERENCES)
            return eir_error_set(err, EIR_EINVAL, "/coherences",
                                 "give 1 to %d coherences (percent)", EIR_TASK_MAX_COHERENCES);
        for (int i = 0; i < t->n_coherences; i++)
            if (!isfinite(t->coherences[i]) || t->coherences[i] < 0 || t->coherences[i] > 100) {
                char f[64];
                snprintf(f, sizeof f, "/coherences/%d", i);
                return eir_error_set(err, EIR_EINVAL, f, "a coherence is a percentage in [0, 100]");
            }
    }
    int np = eir_task_n_periods(t->kind);
    double total = 0;
    for (int i = 0; i < np; i++) {
        const char *name = eir_task_period_name(t->kind, i);
        eir_status st = check_duration(&t->timing[i], name, err);
        if (st != EIR_OK) return st;
        double lo, hi;
        task_duration_range(&t->timing[i], &lo, &hi);
        if (i == np - 1 && task_steps(lo, t->dt) < 1) {
            char f[64];
            snprintf(f, sizeof f, "/timing/%s", name);
            return eir_error_set(err, EIR_EINVAL, f,
                                 "the %s period must last at least one step (dt = %g ms) in "
                                 "every trial",
                                 name, t->dt);
        }
        total += floor(hi / t->dt);
    }
    if (total > TASK_MAX_STEPS)
        return eir_error_set(err, EIR_EINVAL, "/timing",
                             "a trial may last up to %.0f steps of dt = %g ms, more than the %d "
                             "allowed: shorten the periods or raise dt",
                             total, t->dt, TASK_MAX_STEPS);
    return EIR_OK;
}
