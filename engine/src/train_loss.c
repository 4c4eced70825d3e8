/**
 * @file train_loss.c
 * @brief What a training call checks of its batch, the normalisers of its loss and the weight
 *        penalty (eir_train.h "Losses"; the per-step loss and its gradient are in
 *        train_bptt_impl.h).
 *
 * task loss  MSE: sum over trials, valid steps t < len[b] and outputs of m (y - target)^2,
 *            CE: sum over trials and valid steps of m (logsumexp(y) - y[label]),
 *            both divided by the sum of m over the same entries (m = 1 without a mask; a
 *            batch whose weights sum to 0 has loss 0 and gradient 0);
 * l2_rates   lambda_r sum of r_{t+1}^2 over trials, valid steps and cells / (N valid steps);
 * l2_weights lambda_w (mean W^2 + mean P^2 + mean W_out^2) over the effective matrices (W
 *            as the engine integrates it: K E_rev(j) in the conductance form).
 */
#include <math.h>

#include "train_internal.h"

eir_status train_check_batch(const eir_net *nt, const eir_batch *b, eir_error *err)
{
    if (!b) return eir_error_set(err, EIR_EINVAL, "/batch", "no batch");
    if (b->B < 1) return eir_error_set(err, EIR_EINVAL, "/batch", "batch must be >= 1");
    if (b->T < 1) return eir_error_set(err, EIR_EINVAL, "/task/T", "trials need >= 1 step");
    if (b->n_in != nt->n_in)
        return eir_error_set(err, EIR_EINVAL, "/task/inputs",
                             "the inputs have %d channels but the model has n_in = %d", b->n_in,
                             nt->n_in);
    if (b->n_out != nt->n_out)
        return eir_error_set(err, EIR_EINVAL, "/model/readout",
                             "the task has %d outputs but the model's readout has %d", b->n_out,
                             nt->n_out);
    const size_t bt = (size_t)b->B * b->T;
    if (nt->n_in > 0) {
        if (!b->x) return eir_error_set(err, EIR_EINVAL, "/task/inputs", "inputs are missing");
        for (size_t q = 0; q < bt * nt->n_in; q++)
            if (!isfinite(b->x[q]))
                return eir_error_set(err, EIR_EINVAL, "/task/inputs",
                                     "input %zu (trial %zu, step %zu) is not finite", q % nt->n_in,
                                     q / nt->n_in / b->T, q / nt->n_in % b->T);
    }
    if (b->len)
        for (int q = 0; q < b->B; q++)
            if (b->len[q] < 1 || b->len[q] > b->T)
                return eir_error_set(err, EIR_EINVAL, "/task/lengths",
                                     "length %d of trial %d is outside 1..T = %d", b->len[q], q,
                                     b->T);
    const size_t mlen = nt->spec.loss == EIR_LOSS_CE ? bt : bt * nt->n_out;
    if (b->mask)
        for (size_t q = 0; q < mlen; q++)
            if (!(isfinite(b->mask[q]) && b->mask[q] >= 0))
                return eir_error_set(err, EIR_EINVAL, "/task/mask",
                                     "mask value %zu is not a finite number >= 0", q);
    if (nt->spec.loss == EIR_LOSS_CE) {
        if (!b->label)
            return eir_error_set(err, EIR_EINVAL, "/task/labels",
                                 "the cross-entropy loss needs labels");
        for (size_t q = 0; q < bt; q++)
            if (b->label[q] < 0 || b->label[q] >= nt->n_out)
                return eir_error_set(err, EIR_EINVAL, "/task/labels",
                                     "label %d (trial %zu, step %zu) is outside 0..%d",
                                     (int)b->label[q], q / b->T, q % b->T, nt->n_out - 1);
    } else {
        if (!b->target)
            return eir_error_set(err, EIR_EINVAL, "/task/targets", "the mse loss needs targets");
        for (size_t q = 0; q < bt * nt->n_out; q++)
            if (!isfinite(b->target[q]))
                return eir_error_set(err, EIR_EINVAL, "/task/targets", "target %zu is not finite",
                                     q);
    }
    return EIR_OK;
}

void train_normalisers(const eir_net *nt, const eir_batch *batch, double *inv_mask,
                       double *rate_scale)
{
    const int T = batch->T, no = nt->n_out, ce = nt->spec.loss == EIR_LOSS_CE;
    double msum = 0.0, valid = 0.0;
    for (int b = 0; b < batch->B; b++) {
        const int L = batch->len ? batch->len[b] : T;
        valid += L;
        for (int t = 0; t < L; t++) {
            const size_t row = (size_t)b * T + t;
            if (!batch->mask)
                msum += ce ? 1.0 : no;
            else if (ce)
                msum += batch->mask[row];
            else
                for (int o = 0; o < no; o++)
                    msum += batch->mask[row * no + o];
        }
    }
    *inv_mask = msum > 0 ? 1.0 / msum : 0.0;
    *rate_scale = nt->spec.l2_rates > 0 ? nt->spec.l2_rates / ((double)nt->n * valid) : 0.0;
}

static double sumsq(const double *a, size_t n)
{
    double s = 0.0;
    for (size_t q = 0; q < n; q++)
        s += a[q] * a[q];
    return s;
}

double train_l2_weights(const eir_net *nt)
{
    const size_t n = (size_t)nt->n, nin = (size_t)nt->n_in;
    double l2 = sumsq(nt->WMd, n * n) / (double)(n * n);
    if (nin) l2 += sumsq(nt->theta + nt->off[EIR_PARAM_P], n * nin) / (double)(n * nin);
    l2 += sumsq(nt->theta + nt->off[EIR_PARAM_W_OUT], nt->len[EIR_PARAM_W_OUT]) /
          (double)nt->len[EIR_PARAM_W_OUT];
    return l2;
}
