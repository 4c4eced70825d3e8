/**
 * @file train_adam.c
 * @brief Adam with gradient-norm clipping over a network's theta (docs/TRAINING.md "Adam").
 *
 * One update (eir_adam_step()):
 *   1. g_k = 0 on frozen slices; norm = ||g||_2 over the whole vector;
 *   2. clipping as torch.nn.utils.clip_grad_norm_: c = clip_norm / (norm + 1e-6), g *= c when
 *      c < 1 (clip_norm <= 0: never);
 *   3. Adam (Kingma & Ba 2015, Algorithm 1; torch.optim.Adam's defaults: no amsgrad, no weight
 *      decay), on the trained slices only, with t the 1-based step:
 *        m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2,
 *        theta -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps);
 *   4. projection: A = max(A, 0), G_b = max(G_b, EIR_TRAIN_LEAK_MIN).
 * Every sum runs in index order, so the result does not depend on any thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eir_train.h"
#include "train_adam_internal.h"

/** torch.nn.utils.clip_grad_norm_'s guard against dividing by a zero norm. */
#define CLIP_EPS 1e-6

/** Check the optimiser's fields of @p s; EIR_EINVAL naming the field of the document. */
static eir_status check_spec(const eir_train_spec *s, eir_error *err)
{
    if (!(s->lr > 0) || !isfinite(s->lr))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/lr",
                             "the learning rate must be a finite number > 0 (got %g)", s->lr);
    if (!(s->beta1 >= 0 && s->beta1 < 1))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/beta1",
                             "beta1 must be in [0, 1) (got %g)", s->beta1);
    if (!(s->beta2 >= 0 && s->beta2 < 1))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/beta2",
                             "beta2 must be in [0, 1) (got %g)", s->beta2);
    if (!(s->eps > 0) || !isfinite(s->eps))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/eps",
                             "eps must be a finite number > 0 (got %g)", s->eps);
    if (isnan(s->clip_norm) || isinf(s->clip_norm))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/clip_norm",
                             "clip_norm must be a finite number (<= 0 turns clipping off)");
    return EIR_OK;
}

eir_status eir_adam_new(const eir_net *n, const eir_train_spec *s, eir_adam **out, eir_error *err)
{
    *out = NULL;
    eir_status st = check_spec(s, err);
    if (st != EIR_OK) return st;
    eir_adam *a = calloc(1, sizeof *a);
    if (!a) return eir_error_set(err, EIR_ENOMEM, "", "out of memory for the optimiser");
    a->len = eir_net_theta_len(n);
    eir_net_layout(n, a->off, a->plen);
    for (int p = 0; p < EIR_NPARAMS; p++)
        if ((s->trainable >> p) & 1u && a->plen[p] > 0) a->trainable |= 1u << p;
    a->lr = s->lr;
    a->beta1 = s->beta1;
    a->beta2 = s->beta2;
    a->eps = s->eps;
    a->clip_norm = s->clip_norm;
    size_t bytes = (a->len ? a->len : 1) * sizeof(double);
    a->m = calloc(1, bytes);
    a->v = calloc(1, bytes);
    if (!a->m || !a->v) {
        eir_adam_free(a);
        return eir_error_set(err, EIR_ENOMEM, "",
                             "out of memory for the optimiser's moments (%zu values)", a->len);
    }
    *out = a;
    return EIR_OK;
}

void eir_adam_free(eir_adam *a)
{
    if (!a) return;
    free(a->m);
    free(a->v);
    free(a);
}

/** Whether slice @p p is trained. */
static int trained(const eir_adam *a, int p)
{
    return (a->trainable >> p) & 1u;
}

/**
 * 2-norm of the trained slices of @p g, scaled by the largest magnitude so that gradients
 * beyond 1e154 do not overflow. NaN or infinity when an entry is not finite.
 */
static double grad_norm_of(const eir_adam *a, const double *g)
{
    double big = 0;
    for (int p = 0; p < EIR_NPARAMS; p++) {
        if (!trained(a, p)) continue;
        const double *gp = g + a->off[p];
        for (size_t k = 0; k < a->plen[p]; k++) {
            double m = fabs(gp[k]);
            if (!(m <= big)) big = m; /* NaN propagates */
        }
    }
    if (big == 0 || !isfinite(big)) return big;
    double sum = 0;
    for (int p = 0; p < EIR_NPARAMS; p++) {
        if (!trained(a, p)) continue;
        const double *gp = g + a->off[p];
        for (size_t k = 0; k < a->plen[p]; k++) {
            double q = gp[k] / big;
            sum += q * q;
        }
    }
    return big * sqrt(sum);
}

void eir_adam_step(eir_adam *a, eir_net *n, double *grad, double *grad_norm)
{
    double *theta = eir_net_theta(n);
    /* Frozen slices take no part: their gradient is 0 (the network already says so). */
    for (int p = 0; p < EIR_NPARAMS; p++)
        if (!trained(a, p) && a->plen[p] > 0)
            memset(grad + a->off[p], 0, a->plen[p] * sizeof *grad);
    double norm = grad_norm_of(a, grad);
    if (grad_norm) *grad_norm = norm;
    /* A gradient that is not finite would poison the moments for good: no update (the
     * training loop reports it, TRAINING.md "Limits"). */
    if (!isfinite(norm)) return;
    if (a->clip_norm > 0) {
        double c = a->clip_norm / (norm + CLIP_EPS);
        if (c < 1)
            for (size_t k = 0; k < a->len; k++)
                grad[k] *= c;
    }
    a->step++;
    double t = (double)a->step;
    double bc1 = 1.0 - pow(a->beta1, t);
    double bc2_sqrt = sqrt(1.0 - pow(a->beta2, t));
    double step_size = a->lr / bc1;
    double b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    for (int p = 0; p < EIR_NPARAMS; p++) {
        if (!trained(a, p)) continue;
        size_t o = a->off[p], e = o + a->plen[p];
        double *m = a->m, *v = a->v;
        for (size_t k = o; k < e; k++) {
            double g = grad[k];
            m[k] = b1 * m[k] + (1.0 - b1) * g;
            v[k] = b2 * v[k] + (1.0 - b2) * g * g;
            theta[k] -= step_size * m[k] / (sqrt(v[k]) / bc2_sqrt + eps);
        }
    }
    if (trained(a, EIR_PARAM_A)) {
        double *th = theta + a->off[EIR_PARAM_A];
        for (size_t k = 0; k < a->plen[EIR_PARAM_A]; k++)
            if (!(th[k] >= 0)) th[k] = 0;
    }
    if (trained(a, EIR_PARAM_G_B)) {
        double *th = theta + a->off[EIR_PARAM_G_B];
        for (size_t k = 0; k < a->plen[EIR_PARAM_G_B]; k++)
            if (!(th[k] >= EIR_TRAIN_LEAK_MIN)) th[k] = EIR_TRAIN_LEAK_MIN;
    }
}
