/**
 * @file task_batch.c
 * @brief eir_task_generate(): draws a batch of trials of a built-in task (the per-task files
 * fill the inputs), lays out labels, targets and masks; eir_task_batch_view() and _free().
 * docs/TASKS.md says what every number is.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task_internal.h"

/** Largest batch eir_task_generate() accepts. */
#define TASK_MAX_BATCH (1 << 20)

void eir_task_batch_free(eir_task_batch *b)
{
    if (!b) return;
    free(b->x);
    free(b->target);
    free(b->label);
    free(b->mask);
    free(b->mask_out);
    free(b->len);
    free(b->gt);
    free(b->coherence);
    free(b->context);
    free(b->decision_end);
    free(b->evidence);
    memset(b, 0, sizeof *b);
}

void eir_task_batch_view(const eir_task_batch *tb, eir_loss_kind loss, eir_batch *out)
{
    memset(out, 0, sizeof *out);
    out->B = tb->B;
    out->T = tb->T;
    out->n_in = tb->n_in;
    out->n_out = tb->n_out;
    out->x = tb->x;
    out->len = tb->len;
    if (loss == EIR_LOSS_CE) {
        out->label = tb->label;
        out->mask = tb->label ? tb->mask : NULL;
    } else {
        out->target = tb->target;
        /* built-in: every valid step weighs 1 (len masks the padding); custom label sets: the
         * mask repeated per output; custom target sets: their own B*T*n_out mask */
        if (tb->kind != EIR_TASK_CUSTOM)
            out->mask = NULL;
        else
            out->mask = tb->label ? tb->mask_out : tb->mask;
    }
}

/* Draw trial b's conditions and period layout (TASKS.md "Order of the draws"). */
static void draw_trial(const eir_task_spec *t, uint64_t key, int b, task_trial *tr)
{
    memset(tr, 0, sizeof *tr);
    tr->rng = task_rng_trial(key, b);
    switch (t->kind) {
    case EIR_TASK_PERCEPTUAL_DM:
        task_pdm_draw(t, tr);
        break;
    case EIR_TASK_DELAY_MATCH:
        task_dms_draw(t, tr);
        break;
    case EIR_TASK_CONTEXT_DM:
        task_cdm_draw(t, tr);
        break;
    case EIR_TASK_CUSTOM:
        break;
    }
    int np = eir_task_n_periods(t->kind), start = 0;
    for (int p = 0; p < np; p++) {
        double ms = task_draw_duration(&t->timing[p], &tr->rng);
        tr->start[p] = start;
        tr->steps[p] = task_steps(ms, t->dt);
        start += tr->steps[p];
    }
    tr->len = start;
}

static eir_status alloc_batch(eir_task_batch *o, int builtin, eir_error *err)
{
    size_t bt = (size_t)o->B * (size_t)o->T;
    o->x = calloc(bt * (size_t)o->n_in, sizeof *o->x);
    o->target = calloc(bt * (size_t)o->n_out, sizeof *o->target);
    o->label = calloc(bt, sizeof *o->label);
    o->mask = calloc(bt, sizeof *o->mask);
    o->len = calloc((size_t)o->B, sizeof *o->len);
    int ok = o->x && o->target && o->label && o->mask && o->len;
    if (builtin) {
        o->gt = calloc((size_t)o->B, sizeof *o->gt);
        o->coherence = calloc((size_t)o->B, sizeof *o->coherence);
        o->context = calloc((size_t)o->B, sizeof *o->context);
        o->decision_end = calloc((size_t)o->B, sizeof *o->decision_end);
        ok = ok && o->gt && o->coherence && o->context && o->decision_end;
        if (o->kind == EIR_TASK_PERCEPTUAL_DM) {
            o->evidence = calloc((size_t)o->B, sizeof *o->evidence);
            ok = ok && o->evidence;
        }
    }
    if (!ok) {
        eir_task_batch_free(o);
        return eir_error_set(err, EIR_ENOMEM, "", "out of memory for a batch of trials");
    }
    return EIR_OK;
}

eir_status eir_task_generate(const eir_task_spec *t, uint64_t key, int B, eir_task_batch *out,
                             eir_error *err)
{
    memset(out, 0, sizeof *out);
    eir_status st = eir_task_check(t, err);
    if (st != EIR_OK) return st;
    if (B < 1 || B > TASK_MAX_BATCH)
        return eir_error_set(err, EIR_EINVAL, "/batch", "a batch has 1 to %d trials",
                             TASK_MAX_BATCH);
    if (t->kind == EIR_TASK_CUSTOM) return task_custom_generate(&t->custom, key, B, out, err);

    task_trial *tr = calloc((size_t)B, sizeof *tr);
    if (!tr) return eir_error_set(err, EIR_ENOMEM, "", "out of memory for a batch of trials");
    int T = 1;
    for (int b = 0; b < B; b++) {
        draw_trial(t, key, b, &tr[b]);
        if (tr[b].len > T) T = tr[b].len;
    }
    out->kind = t->kind;
    out->B = B;
    out->T = T;
    out->n_in = eir_task_n_in(t);
    out->n_out = eir_task_n_out(t);
    st = alloc_batch(out, 1, err);
    if (st != EIR_OK) {
        free(tr);
        return st;
    }
    int dec = eir_task_n_periods(t->kind) - 1; /* the decision is the last period */
    for (int b = 0; b < B; b++) {
        task_trial *r = &tr[b];
        double *x = out->x + (size_t)b * T * out->n_in;
        switch (t->kind) {
        case EIR_TASK_PERCEPTUAL_DM:
            task_pdm_fill(t, r, x, out->n_in, &out->evidence[b]);
            break;
        case EIR_TASK_DELAY_MATCH:
            task_dms_fill(t, r, x, out->n_in);
            break;
        case EIR_TASK_CONTEXT_DM:
            task_cdm_fill(t, r, x, out->n_in);
            break;
        case EIR_TASK_CUSTOM:
            break;
        }
        out->len[b] = r->len;
        out->gt[b] = r->gt;
        out->coherence[b] = r->signed_coh;
        out->context[b] = r->context;
        out->decision_end[b] = r->start[dec] + r->steps[dec] - 1;
        for (int s = 0; s < r->len; s++) {
            size_t i = (size_t)b * T + s;
            int in_decision = s >= r->start[dec];
            out->label[i] = in_decision ? r->gt : 0;
            out->mask[i] = 1.0;
            out->target[i * out->n_out + out->label[i]] = 1.0;
        }
    }
    free(tr);
    return EIR_OK;
}
