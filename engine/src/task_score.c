/**
 * @file task_score.c
 * @brief Scoring of readouts on a batch of task trials, the psychometric curve and the ideal
 * observer of perceptual decision making (docs/TASKS.md "Scoring").
 */
#include <math.h>

#include "task_internal.h"

/* First index of the largest of y[0..n-1]. */
static int argmax(const double *y, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (y[i] > y[best]) best = i;
    return best;
}

void eir_task_score_batch(const eir_task_batch *tb, const double *y, int32_t *choice,
                          eir_task_score *out)
{
    out->trials = out->correct = 0;
    out->accuracy = NAN;
    int T = tb->T, n_out = tb->n_out;
    for (int b = 0; b < tb->B; b++) {
        int end = tb->decision_end ? tb->decision_end[b] : (tb->len ? tb->len[b] : T) - 1;
        int c = argmax(y + ((size_t)b * T + end) * n_out, n_out);
        if (choice) choice[b] = c;
    }
    if (tb->kind != EIR_TASK_CUSTOM) {
        for (int b = 0; b < tb->B; b++) {
            int end = tb->decision_end[b];
            int c = argmax(y + ((size_t)b * T + end) * n_out, n_out);
            out->correct += c == tb->gt[b];
        }
        out->trials = tb->B;
    } else if (tb->label) {
        /* custom label sets: every masked valid step is scored */
        for (int b = 0; b < tb->B; b++) {
            int len = tb->len ? tb->len[b] : T;
            for (int s = 0; s < len; s++) {
                size_t i = (size_t)b * T + s;
                if (!(tb->mask[i] > 0)) continue;
                out->trials++;
                out->correct += argmax(y + i * n_out, n_out) == tb->label[i];
            }
        }
    } else {
        out->trials = tb->B;
        return; /* custom targets (MSE): no accuracy */
    }
    if (out->trials > 0) out->accuracy = (double)out->correct / (double)out->trials;
}

void eir_task_psychometric(const eir_task_batch *tb, const int32_t *choice, eir_psy_point *pts,
                           int max, int *n)
{
    *n = 0;
    if (tb->kind != EIR_TASK_PERCEPTUAL_DM && tb->kind != EIR_TASK_CONTEXT_DM) return;
    if (max < 1) return;
    int m = 0;
    for (int b = 0; b < tb->B; b++) {
        double c = tb->coherence[b];
        int i = 0;
        while (i < m && pts[i].coherence < c)
            i++;
        if (i == m || pts[i].coherence != c) {
            if (m == max) {
                /* more coherences than points: keep the max smallest */
                if (i == m) continue;
                m--;
            }
            for (int k = m; k > i; k--)
                pts[k] = pts[k - 1];
            pts[i].coherence = c;
            pts[i].n = 0;
            pts[i].p_choice2 = 0;
            m++;
        }
        pts[i].n++;
        pts[i].p_choice2 += choice[b] == 2;
    }
    for (int i = 0; i < m; i++)
        pts[i].p_choice2 /= (double)pts[i].n;
    *n = m;
}

double eir_task_ideal_observer(const eir_task_batch *tb)
{
    if (tb->kind != EIR_TASK_PERCEPTUAL_DM || !tb->evidence || tb->B < 1) return NAN;
    int64_t correct = 0;
    for (int b = 0; b < tb->B; b++) {
        int c = tb->evidence[b] > 0 ? 2 : 1;
        correct += c == tb->gt[b];
    }
    return (double)correct / (double)tb->B;
}
