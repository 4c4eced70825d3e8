/**
 * @file task_custom.c
 * @brief Custom trial sets (docs/TASKS.md "Custom tasks"): their check, naming the offending
 * element as "/custom/<array>/<trial>/<step>[/<channel>]", and batches drawn from them
 * uniformly with replacement.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_internal.h"

/** Largest custom set: trials x steps x channels values per array. */
#define TASK_CUSTOM_MAX_VALUES ((size_t)1 << 31)

static eir_status bad_value(eir_error *err, const char *array, size_t i, int T, int width,
                            const char *what)
{
    char f[EIR_FIELD_MAX];
    size_t per_trial = (size_t)T * (size_t)(width > 0 ? width : 1);
    size_t b = i / per_trial, r = i % per_trial;
    if (width > 0)
        snprintf(f, sizeof f, "/custom/%s/%zu/%zu/%zu", array, b, r / (size_t)width,
                 r % (size_t)width);
    else
        snprintf(f, sizeof f, "/custom/%s/%zu/%zu", array, b, r);
    return eir_error_set(err, EIR_EINVAL, f, "%s", what);
}

eir_status task_custom_check(const eir_task_custom *c, eir_error *err)
{
    if (c->n_trials < 1)
        return eir_error_set(err, EIR_EINVAL, "/custom/inputs", "give at least one trial");
    if (c->T < 1)
        return eir_error_set(err, EIR_EINVAL, "/custom/inputs", "a trial has at least one step");
    if (c->n_in < 1)
        return eir_error_set(err, EIR_EINVAL, "/custom/inputs",
                             "a step has at least one input channel");
    if (c->n_out < 1)
        return eir_error_set(err, EIR_EINVAL, c->label ? "/custom/labels" : "/custom/targets",
                             "the readout needs at least one output");
    size_t bt = (size_t)c->n_trials * (size_t)c->T;
    if (bt * (size_t)(c->n_in > c->n_out ? c->n_in : c->n_out) > TASK_CUSTOM_MAX_VALUES)
        return eir_error_set(err, EIR_EINVAL, "/custom/inputs",
                             "a custom set holds at most 2^31 values per array");
    if (!c->x) return eir_error_set(err, EIR_EINVAL, "/custom/inputs", "no inputs");
    if (!c->target == !c->label)
        return eir_error_set(err, EIR_EINVAL, c->label ? "/custom/targets" : "/custom/labels",
                             "give either labels (cross-entropy) or targets (mse), not both "
                             "and not neither");
    for (size_t i = 0; i < bt * (size_t)c->n_in; i++)
        if (!isfinite(c->x[i])) return bad_value(err, "inputs", i, c->T, c->n_in, "not finite");
    if (c->target)
        for (size_t i = 0; i < bt * (size_t)c->n_out; i++)
            if (!isfinite(c->target[i]))
                return bad_value(err, "targets", i, c->T, c->n_out, "not finite");
    if (c->label)
        for (size_t i = 0; i < bt; i++)
            if (c->label[i] < 0 || c->label[i] >= c->n_out) {
                char msg[96];
                snprintf(msg, sizeof msg, "a label is an output index in 0..%d", c->n_out - 1);
                return bad_value(err, "labels", i, c->T, 0, msg);
            }
    if (c->mask) {
        int w = c->label ? 0 : c->n_out;
        size_t n = bt * (size_t)(w ? w : 1);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(c->mask[i]) || c->mask[i] < 0)
                return bad_value(err, "mask", i, c->T, w, "a mask weight is a finite number >= 0");
    }
    if (c->len)
        for (int b = 0; b < c->n_trials; b++)
            if (c->len[b] < 1 || c->len[b] > c->T) {
                char f[64];
                snprintf(f, sizeof f, "/custom/lengths/%d", b);
                return eir_error_set(err, EIR_EINVAL, f, "a trial length is in 1..%d", c->T);
            }
    return EIR_OK;
}

eir_status task_custom_generate(const eir_task_custom *c, uint64_t key, int B, eir_task_batch *out,
                                eir_error *err)
{
    int T = c->T, n_in = c->n_in, n_out = c->n_out;
    size_t bt = (size_t)B * (size_t)T;
    out->kind = EIR_TASK_CUSTOM;
    out->B = B;
    out->T = T;
    out->n_in = n_in;
    out->n_out = n_out;
    out->x = malloc(bt * (size_t)n_in * sizeof *out->x);
    out->target = calloc(bt * (size_t)n_out, sizeof *out->target);
    out->len = malloc((size_t)B * sizeof *out->len);
    int ok = out->x && out->target && out->len;
    if (c->label) {
        out->label = malloc(bt * sizeof *out->label);
        out->mask = malloc(bt * sizeof *out->mask);
        out->mask_out = malloc(bt * (size_t)n_out * sizeof *out->mask_out);
        ok = ok && out->label && out->mask && out->mask_out;
    } else {
        out->mask = malloc(bt * (size_t)n_out * sizeof *out->mask);
        ok = ok && out->mask;
    }
    if (!ok) {
        eir_task_batch_free(out);
        return eir_error_set(err, EIR_ENOMEM, "", "out of memory for a batch of trials");
    }
    size_t mw = c->label ? 1 : (size_t)n_out; /* mask values per step */
    for (int b = 0; b < B; b++) {
        task_rng r = task_rng_trial(key, b);
        size_t j = (size_t)task_rng_index(&r, c->n_trials); /* the set's trial j */
        size_t dst = (size_t)b * T, src = j * (size_t)T;
        memcpy(out->x + dst * n_in, c->x + src * n_in, (size_t)T * n_in * sizeof *out->x);
        out->len[b] = c->len ? c->len[j] : T;
        if (c->mask)
            memcpy(out->mask + dst * mw, c->mask + src * mw, (size_t)T * mw * sizeof *out->mask);
        else
            for (size_t i = 0; i < (size_t)T * mw; i++)
                out->mask[dst * mw + i] = 1.0;
        if (c->label) {
            memcpy(out->label + dst, c->label + src, (size_t)T * sizeof *out->label);
            for (int s = 0; s < T; s++) {
                out->target[(dst + s) * n_out + out->label[dst + s]] = 1.0;
                for (int o = 0; o < n_out; o++)
                    out->mask_out[(dst + s) * n_out + o] = out->mask[dst + s];
            }
        } else {
            memcpy(out->target + dst * n_out, c->target + src * n_out,
                   (size_t)T * n_out * sizeof *out->target);
        }
    }
    return EIR_OK;
}
