/**
 * @file dynamics.c
 * @brief F(V) = dV/dt and its Jacobian for the analyses (dyn_internal.h), and eir_dynamics().
 *
 * Numerics: see dyn_internal.h. Per row i: wr = sum_j W_ij r_j and mr = sum_j M_ij r_j in a
 * fixed order (rowdot()), z_i = (G_b,i + mr) + zin_i, F_i = -z_i V_i + (wr + c_i), and the row
 * of J = (W_ij - V_i M_ij) f'_j with -z_i added on the diagonal. Cost: two reads of W and M per
 * evaluation (dense mode), one write of J; nothing is allocated after eir_dyn_init(). Failure:
 * only allocation (init) and non-finite inputs (set_input, eir_dynamics's V), reported with the
 * field.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dyn_internal.h"
#include "eir_analysis.h"

void eir_dyn_free(eir_dyn *d)
{
    if (!d) return;
    free(d->W);
    free(d->M);
    free(d->c);
    free(d->zin);
    memset(d, 0, sizeof *d);
}

eir_status eir_dyn_init(eir_dyn *d, const eir_model *m, int dense, eir_error *err)
{
    memset(d, 0, sizeof *d);
    const int n = m->n;
    const size_t nn = (size_t)n * n;
    d->m = m;
    d->n = n;
    d->gated = m->gate != EIR_GATE_NONE;
    d->dense = dense;
    d->c = malloc((size_t)n * sizeof *d->c);
    d->zin = calloc((size_t)n, sizeof *d->zin);
    if (!d->c || !d->zin) goto nomem;
    if (dense) {
        d->W = eir_alloc_big(nn * sizeof *d->W);
        if (!d->W) goto nomem;
        eir_model_W_dense(m, d->W);
        if (d->gated) {
            d->M = eir_alloc_big(nn * sizeof *d->M);
            if (!d->M) goto nomem;
            eir_model_M(m, d->M);
        }
    }
    memcpy(d->c, m->bias, (size_t)n * sizeof *d->c);
    return EIR_OK;
nomem:
    eir_dyn_free(d);
    return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the dynamics of N = %d", n);
}

eir_status eir_dyn_set_input(eir_dyn *d, const double *x, const char *field, eir_error *err)
{
    const eir_model *m = d->m;
    const int n = d->n, n_in = m->n_in;
    if (x)
        for (int c = 0; c < n_in; c++)
            if (!isfinite(x[c]))
                return eir_error_set(err, EIR_EINVAL, field ? field : "/x",
                                     "the input must be finite; x[%d] is %g", c, x[c]);
    for (int i = 0; i < n; i++) {
        double c = m->bias[i], g = 0.0;
        if (x && n_in > 0) {
            const double *p = m->P + (size_t)i * n_in;
            double px = 0.0;
            for (int k = 0; k < n_in; k++)
                px += p[k] * x[k];
            c = px + m->bias[i];
            if (m->M_in) {
                const double *q = m->M_in + (size_t)i * n_in;
                for (int k = 0; k < n_in; k++)
                    g += q[k] * fabs(x[k]);
            }
        }
        d->c[i] = c;
        d->zin[i] = g;
    }
    return EIR_OK;
}

/** sum_j a_j r_j over n values in the fixed order of dyn_internal.h. */
static inline double rowdot(const double *restrict a, const double *restrict r, int n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int j = 0;
    for (; j + 3 < n; j += 4) {
        s0 += a[j] * r[j];
        s1 += a[j + 1] * r[j + 1];
        s2 += a[j + 2] * r[j + 2];
        s3 += a[j + 3] * r[j + 3];
    }
    for (; j < n; j++)
        s0 += a[j] * r[j];
    return (s0 + s1) + (s2 + s3);
}

void eir_dyn_eval(const eir_dyn *d, const double *V, double *work, double *F, double *J, double *z)
{
    const eir_model *m = d->m;
    const int n = d->n;
    double *r = work, *gain = work + n, *wbuf = work + 2 * (size_t)n, *mbuf = work + 3 * (size_t)n;
    for (int i = 0; i < n; i++)
        eir_act_and_gain(&m->act, V[i], &r[i], &gain[i]);
    for (int i = 0; i < n; i++) {
        const double *w, *mr = NULL;
        if (d->dense) {
            w = d->W + (size_t)i * n;
            if (d->gated) mr = d->M + (size_t)i * n;
        } else {
            eir_model_dense_row(m, 0, i, wbuf);
            w = wbuf;
            if (d->gated) {
                eir_model_dense_row(m, 1, i, mbuf);
                mr = mbuf;
            }
        }
        const double zi = (m->leak[i] + (mr ? rowdot(mr, r, n) : 0.0)) + d->zin[i];
        if (F) F[i] = -zi * V[i] + (rowdot(w, r, n) + d->c[i]);
        if (z) z[i] = zi;
        if (J) {
            double *restrict row = J + (size_t)i * n;
            if (mr) {
                const double vi = V[i];
                for (int j = 0; j < n; j++)
                    row[j] = (w[j] - vi * mr[j]) * gain[j];
            } else {
                for (int j = 0; j < n; j++)
                    row[j] = w[j] * gain[j];
            }
            row[i] -= zi;
        }
    }
}

eir_status eir_dyn_check_state(const double *V, int n, eir_error *err)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(V[i]))
            return eir_error_set(err, EIR_EINVAL, "/V", "V must be finite; V[%d] is %g", i, V[i]);
    return EIR_OK;
}

eir_status eir_dyn_eval_once(const eir_model *m, const double *V, const double *x, double *dVdt,
                             double *J, const char *what, eir_error *err)
{
    eir_status s = eir_dyn_check_state(V, m->n, err);
    if (s) return s;
    eir_dyn d;
    if ((s = eir_dyn_init(&d, m, 0, err)) != EIR_OK) return s;
    double *work = malloc(eir_dyn_work_len(m->n) * sizeof *work);
    if (!work) {
        eir_dyn_free(&d);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory %s N = %d", what, m->n);
    }
    s = eir_dyn_set_input(&d, x, "/x", err);
    if (s == EIR_OK) eir_dyn_eval(&d, V, work, dVdt, J, NULL);
    free(work);
    eir_dyn_free(&d);
    return s;
}

eir_status eir_dynamics(const eir_model *m, const double *V, const double *x, double *dVdt,
                        eir_error *err)
{
    return eir_dyn_eval_once(m, V, x, dVdt, NULL, "for the dynamics of", err);
}
