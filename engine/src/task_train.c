/**
 * @file task_train.c
 * @brief The training loop over a task (eir_task_train) and the evaluation on held-out trials
 * (eir_task_evaluate), docs/TRAINING.md "The training loop" and "Evaluation".
 *
 * Iteration i (0-based) of a training draws its trials from eir_train_stream(seed, i, 1) and its
 * recurrent noise from eir_train_stream(seed, i, 0), and nothing else: the state after
 * iteration i is a function of the checkpoint taken after iteration i - 1 alone, which is why a
 * resumed training ends with the same bytes as an uninterrupted one.
 *
 * An evaluation runs its trials in chunks of EIR_EVAL_CHUNK (a constant, so the trials and
 * results do not depend on memory or threads): chunk c holds trials c*EIR_EVAL_CHUNK ... of
 * the evaluation, drawn from eir_train_stream(key, c, 1) with the model's noise from
 * eir_train_stream(key, c, 0). Memory is that of one chunk whatever the number of trials.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_task.h"
#include "train_adam_internal.h"

#define EIR_EVAL_CHUNK EIR_TASK_EVAL_CHUNK

/** Put @p pre in front of the string @p s (capacity @p cap), truncating its end if need be. */
static void prefix(char *s, size_t cap, const char *pre)
{
    size_t p = strlen(pre), n = strlen(s);
    if (p >= cap) return;
    if (n > cap - 1 - p) n = cap - 1 - p;
    memmove(s + p, s, n);
    memcpy(s, pre, p);
    s[p + n] = '\0';
}

/** Prefix @p err's field with "/task" (task functions name fields relative to the task). */
static eir_status task_field(eir_error *err, eir_status st)
{
    if (err && st == EIR_EINVAL) prefix(err->field, sizeof err->field, "/task");
    return st;
}

/** Prefix @p err's message with the iteration it happened at. */
static eir_status at_iteration(eir_error *err, eir_status st, int64_t i)
{
    if (err) {
        char pre[48];
        snprintf(pre, sizeof pre, "iteration %lld: ", (long long)(i + 1));
        prefix(err->message, sizeof err->message, pre);
    }
    return st;
}

/** Grow *buf to hold @p n doubles. */
static int reserve(double **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 1;
    double *p = realloc(*buf, n * sizeof *p);
    if (!p) return 0;
    *buf = p;
    *cap = n;
    return 1;
}

/** EIR_EINVAL unless the network's inputs and readout fit the task's. */
static eir_status check_fit(eir_net *n, const eir_task_spec *t, eir_error *err)
{
    eir_model_desc d;
    eir_net_model_desc(n, &d);
    int n_in = eir_task_n_in(t), n_out = eir_task_n_out(t);
    if (d.n_in != n_in)
        return eir_error_set(err, EIR_EINVAL, "/model/n_inputs",
                             "the task has %d input channels; the model takes %d", n_in, d.n_in);
    if (d.n_out != n_out)
        return eir_error_set(err, EIR_EINVAL, "/model/readout",
                             "the task has %d outputs; the model's readout has %d", n_out, d.n_out);
    return EIR_OK;
}

eir_status eir_task_train(eir_net *n, eir_adam *a, const eir_task_spec *t, const eir_train_spec *s,
                          int batch, int64_t from, int64_t iterations, eir_train_row_fn cb,
                          void *ctx, eir_error *err)
{
    if (batch < 1)
        return eir_error_set(err, EIR_EINVAL, "/batch", "batch must be >= 1 (got %d)", batch);
    if (iterations < 0)
        return eir_error_set(err, EIR_EINVAL, "/iterations", "iterations must be >= 0 (got %lld)",
                             (long long)iterations);
    if (from < 0 || from > iterations)
        return eir_error_set(err, EIR_EINVAL, "/iterations",
                             "cannot resume after iteration %lld of a training of %lld iterations",
                             (long long)from, (long long)iterations);
    eir_status st = check_fit(n, t, err);
    if (st != EIR_OK) return st;
    size_t L = eir_net_theta_len(n);
    if (a->len != L)
        return eir_error_set(err, EIR_EINVAL, "",
                             "the optimiser was made for another network (%zu parameters, not %zu)",
                             a->len, L);
    double *grad = malloc((L ? L : 1) * sizeof *grad);
    double *y = NULL;
    size_t y_cap = 0;
    if (!grad) return eir_error_set(err, EIR_ENOMEM, "", "out of memory for the gradient");
    for (int64_t i = from; i < iterations && st == EIR_OK; i++) {
        eir_task_batch tb;
        st = eir_task_generate(t, eir_train_stream(s->seed, i, 1), batch, &tb, err);
        if (st != EIR_OK) {
            st = at_iteration(err, task_field(err, st), i);
            break;
        }
        eir_batch view;
        eir_task_batch_view(&tb, s->loss, &view);
        eir_train_row row;
        memset(&row, 0, sizeof row);
        row.iteration = i + 1;
        if (!reserve(&y, &y_cap, (size_t)tb.B * (size_t)tb.T * (size_t)tb.n_out)) {
            st = eir_error_set(err, EIR_ENOMEM, "", "out of memory for the readout of a batch");
        } else {
            st = eir_net_loss_grad(n, &view, eir_train_stream(s->seed, i, 0), &row.loss, grad, y,
                                   err);
            if (st != EIR_OK) st = at_iteration(err, st, i);
        }
        if (st == EIR_OK) {
            eir_task_score score;
            eir_task_score_batch(&tb, y, NULL, &score);
            row.accuracy = score.accuracy;
            eir_adam_step(a, n, grad, &row.grad_norm);
            if (!isfinite(row.grad_norm))
                st = eir_error_set(err, EIR_ENUMERIC, "",
                                   "iteration %lld: the gradient is not finite (loss %g); lower "
                                   "the learning rate or clip_norm",
                                   (long long)(i + 1), row.loss.total);
        }
        eir_task_batch_free(&tb);
        if (st == EIR_OK && cb && cb(ctx, &row, n, a))
            st = eir_error_set(err, EIR_ECANCELLED, "", "training stopped after iteration %lld",
                               (long long)(i + 1));
    }
    free(grad);
    free(y);
    return st;
}

/** Loss weight of a chunk (sum of the mask over valid steps) and its valid trial-steps. */
static void chunk_weights(const eir_batch *b, eir_loss_kind loss, double *w, double *steps)
{
    int per = loss == EIR_LOSS_MSE ? b->n_out : 1;
    double sw = 0, ss = 0;
    for (int i = 0; i < b->B; i++) {
        int len = b->len ? b->len[i] : b->T;
        ss += len;
        for (int t = 0; t < len; t++)
            for (int c = 0; c < per; c++)
                sw += b->mask ? b->mask[((size_t)i * b->T + t) * per + c] : 1.0;
    }
    *w = sw;
    *steps = ss;
}

/** Add the points @p pts of a chunk to the psychometric curve of @p out (sorted by coherence). */
static void merge_psy(eir_task_eval *out, const eir_psy_point *pts, int np, double *count2)
{
    const int max = (int)(sizeof out->psy / sizeof out->psy[0]);
    for (int k = 0; k < np; k++) {
        int j = 0;
        while (j < out->n_psy && out->psy[j].coherence < pts[k].coherence)
            j++;
        if (j == out->n_psy || out->psy[j].coherence != pts[k].coherence) {
            if (out->n_psy == max) continue; /* cannot happen: coherences are bounded */
            memmove(&out->psy[j + 1], &out->psy[j], (size_t)(out->n_psy - j) * sizeof out->psy[0]);
            memmove(&count2[j + 1], &count2[j], (size_t)(out->n_psy - j) * sizeof count2[0]);
            out->psy[j].coherence = pts[k].coherence;
            out->psy[j].n = 0;
            count2[j] = 0;
            out->n_psy++;
        }
        out->psy[j].n += pts[k].n;
        count2[j] += nearbyint(pts[k].p_choice2 * (double)pts[k].n);
    }
}

/** Sums over chunks that make the evaluation's figures. */
typedef struct eval_sums {
    double task_w, task, rate_w, rates, l2_weights;
    double ideal_correct;
    int ideal_nan;
    double count2[2 * EIR_TASK_MAX_COHERENCES + 1];
} eval_sums;

/** Evaluate one chunk @p tb into @p out / @p sums; @p y and @p choice are big enough. */
static eir_status eval_chunk(eir_net *n, const eir_task_spec *t, const eir_train_spec *s,
                             const eir_task_batch *tb, uint64_t noise_key, double *y,
                             int32_t *choice, eir_task_eval *out, eval_sums *sums, eir_error *err)
{
    eir_batch view;
    eir_task_batch_view(tb, s->loss, &view);
    eir_loss_parts lp;
    eir_status st = eir_net_forward(n, &view, noise_key, &lp, y, err);
    if (st != EIR_OK) return st;
    double w, steps;
    chunk_weights(&view, s->loss, &w, &steps);
    if (w > 0) sums->task_w += w, sums->task += w * lp.task;
    sums->rate_w += steps;
    sums->rates += steps * lp.l2_rates;
    sums->l2_weights = lp.l2_weights;

    eir_task_score sc;
    eir_task_score_batch(tb, y, choice, &sc);
    out->score.trials += sc.trials;
    out->score.correct += sc.correct;
    if (isnan(sc.accuracy)) out->score.accuracy = NAN;

    double ideal = eir_task_ideal_observer(tb);
    if (isnan(ideal))
        sums->ideal_nan = 1;
    else
        sums->ideal_correct += nearbyint(ideal * (double)tb->B);

    if (tb->coherence && (t->kind == EIR_TASK_PERCEPTUAL_DM || t->kind == EIR_TASK_CONTEXT_DM)) {
        eir_psy_point pts[2 * EIR_TASK_MAX_COHERENCES + 1];
        int np = 0;
        eir_task_psychometric(tb, choice, pts, (int)(sizeof pts / sizeof pts[0]), &np);
        merge_psy(out, pts, np, sums->count2);
    }
    return EIR_OK;
}

eir_status eir_task_evaluate(eir_net *n, const eir_task_spec *t, const eir_train_spec *s,
                             uint64_t key, int trials, eir_task_eval *out, eir_error *err)
{
    memset(out, 0, sizeof *out);
    out->ideal = NAN;
    out->score.accuracy = 0;
    if (trials < 1)
        return eir_error_set(err, EIR_EINVAL, "", "an evaluation needs >= 1 trials (got %d)",
                             trials);
    eir_status st = check_fit(n, t, err);
    if (st != EIR_OK) return st;
    eval_sums sums;
    memset(&sums, 0, sizeof sums);
    double *y = NULL;
    size_t y_cap = 0;
    int32_t *choice = malloc(EIR_EVAL_CHUNK * sizeof *choice);
    if (!choice) st = eir_error_set(err, EIR_ENOMEM, "", "out of memory");
    int nchunks = (trials + EIR_EVAL_CHUNK - 1) / EIR_EVAL_CHUNK;
    for (int c = 0; c < nchunks && st == EIR_OK; c++) {
        int B = trials - c * EIR_EVAL_CHUNK < EIR_EVAL_CHUNK ? trials - c * EIR_EVAL_CHUNK
                                                             : EIR_EVAL_CHUNK;
        eir_task_batch tb;
        st = eir_task_generate(t, eir_train_stream(key, c, 1), B, &tb, err);
        if (st != EIR_OK) {
            st = task_field(err, st);
            break;
        }
        if (!reserve(&y, &y_cap, (size_t)tb.B * (size_t)tb.T * (size_t)tb.n_out))
            st = eir_error_set(err, EIR_ENOMEM, "", "out of memory for the readout of %d trials",
                               tb.B);
        else
            st = eval_chunk(n, t, s, &tb, eir_train_stream(key, c, 0), y, choice, out, &sums, err);
        eir_task_batch_free(&tb);
    }
    free(y);
    free(choice);
    if (st != EIR_OK) {
        memset(out, 0, sizeof *out);
        out->ideal = NAN;
        return st;
    }
    if (!isnan(out->score.accuracy))
        out->score.accuracy = (double)out->score.correct / (double)out->score.trials;
    out->ideal = sums.ideal_nan ? NAN : sums.ideal_correct / (double)out->score.trials;
    for (int k = 0; k < out->n_psy; k++)
        out->psy[k].p_choice2 = out->psy[k].n ? sums.count2[k] / (double)out->psy[k].n : NAN;
    out->loss.task = sums.task_w > 0 ? sums.task / sums.task_w : NAN;
    out->loss.l2_rates = sums.rate_w > 0 ? sums.rates / sums.rate_w : 0;
    out->loss.l2_weights = sums.l2_weights;
    out->loss.total = out->loss.task + out->loss.l2_weights + out->loss.l2_rates;
    return EIR_OK;
}
