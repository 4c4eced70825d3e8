/**
 * @file linearize.c
 * @brief Jacobian of the deterministic dynamics around a state (MODEL.md "Linearisation").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"
#include "model_internal.h"

/** f(v) and f'(v) for one cell, with the r_max clamp (f' = 0 where clamped). */
static void act_and_gain(const eir_activation *a, double v, double *f, double *g)
{
    double r, d;
    switch (a->kind) {
    case EIR_ACT_RELU:
        r = v > 0 ? v : 0, d = v > 0 ? 1 : 0;
        break;
    case EIR_ACT_TANH_RECT: {
        double t = tanh(v);
        r = v > 0 ? t : 0, d = v > 0 ? 1 - t * t : 0;
        break;
    }
    case EIR_ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-v));
        r = s, d = s * (1 - s);
        break;
    }
    case EIR_ACT_SOFTPLUS:
        r = (v > 0 ? v : 0) + log1p(exp(-fabs(v)));
        d = 1.0 / (1.0 + exp(-v));
        break;
    case EIR_ACT_POWER:
        r = v > 0 ? a->k * pow(v, a->n) : 0;
        d = v > 0 ? a->k * a->n * pow(v, a->n - 1) : 0;
        break;
    case EIR_ACT_LINEAR:
        r = v, d = 1;
        break;
    case EIR_ACT_TANH: {
        double t = tanh(v);
        r = t, d = 1 - t * t;
        break;
    }
    default:
        r = d = NAN;
        break;
    }
    if (r > a->r_max) r = a->r_max, d = 0;
    *f = r;
    *g = d;
}

eir_status eir_linearize(const eir_model *m, const double *V, const double *x, double *J,
                         eir_error *err)
{
    const int n = m->n;
    const size_t nn = (size_t)n * n;
    for (int i = 0; i < n; i++)
        if (!isfinite(V[i]))
            return eir_error_set(err, EIR_EINVAL, "/V", "V must be finite; V[%d] is %g", i, V[i]);
    double *r = malloc(2 * (size_t)n * sizeof *r);
    double *M = malloc(nn * sizeof *M);
    if (!r || !M) {
        free(r);
        free(M);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory linearising N = %d", n);
    }
    double *gain = r + n;
    for (int i = 0; i < n; i++)
        act_and_gain(&m->act, V[i], &r[i], &gain[i]);
    eir_model_M(m, M);
    eir_model_W_dense(m, J); /* W in J, overwritten row by row below */
    for (int i = 0; i < n; i++) {
        /* z_i = G_b + sum_j M_ij r_j (+ M_in |x|) */
        double z = m->leak[i];
        for (int j = 0; j < n; j++)
            z += M[(size_t)i * n + j] * r[j];
        if (m->M_in && x)
            for (int c = 0; c < m->n_in; c++)
                z += m->M_in[(size_t)i * m->n_in + c] * fabs(x[c]);
        for (int j = 0; j < n; j++) {
            size_t k = (size_t)i * n + j;
            J[k] = (J[k] - V[i] * M[k]) * gain[j];
        }
        J[(size_t)i * n + i] -= z;
    }
    free(r);
    free(M);
    return EIR_OK;
}
