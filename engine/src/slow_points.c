/**
 * @file slow_points.c
 * @brief Slow points (Sussillo & Barak 2013): local minima of q(V) = |F(V)|^2 / 2, found by
 *        Levenberg-Marquardt on the residual F from the state where Newton stopped.
 *
 * Numerics: each iteration forms C = J^T J (BLAS dsyrk) and g = J^T F (the gradient of q), and
 * tries the step (C + mu D) dx = -g with Marquardt's scaling D = diag(C) (floored at 1e-12 of
 * its largest entry), by Cholesky (LAPACK dpotrf/dpotrs); a step that lowers q is taken and mu
 * divided by 3, otherwise mu is multiplied by 4 and the step tried again (each trial counts as
 * an iteration of max_slow_iter). It ends at a fixed point (|F| <= tol), when q stops decreasing
 * (relative change below 1e-14 in a step or 1e-6 over 10 iterations, a step below
 * 1e-12 (1 + max |V|), or mu above 1e16), or when the iterations run out; the end state is a slow
 * point when q <= slow_tol. Near a minimum with q > 0 the convergence is linear (Gauss-Newton's); V
 * is then good to about sqrt(eps) of its scale, which is all q's flatness allows. Allocates nothing
 * (fp_scratch); cannot fail other than by not finding a point.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "fp_internal.h"

/** Stagnation: q fell by less than a relative 1e-6 over 10 iterations. */
#define SLOW_STALL_ITERS 10
#define SLOW_STALL_DROP 1e-6

extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info,
                    size_t len_uplo);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
                    const int *lda, double *b, const int *ldb, int *info, size_t len_uplo);

int fp_slow_point(const fp_solver *s, fp_scratch *w, double *V, double *fnorm)
{
    const int n = s->n, one = 1;
    const size_t nn = (size_t)n * n;
    eir_dyn_eval(s->dyn, V, w->work, w->F, NULL, NULL);
    double f = fp_norm(w->F, n);
    *fnorm = f;
    if (!isfinite(f)) return FP_FAILED;
    double q = 0.5 * f * f, mu = 1e-3;
    int it = 0, need_jacobian = 1, next_check = SLOW_STALL_ITERS;
    double q_back = q;
    while (it < s->max_slow_iter) {
        if (fp_stopped(s)) return FP_STOPPED;
        if (f <= s->tol) return FP_CONVERGED;
        if (it >= next_check) { /* q has settled: a minimum, however slowly approached */
            if (q > (1.0 - SLOW_STALL_DROP) * q_back) break;
            q_back = q;
            next_check = it + SLOW_STALL_ITERS;
        }
        if (need_jacobian) {
            /* J row-major is J^T column-major (call it B): C = B B^T = J^T J, g = B F */
            eir_dyn_eval(s->dyn, V, w->work, NULL, w->J, NULL);
            cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, n, n, 1.0, w->J, n, 0.0, w->C, n);
            cblas_dgemv(CblasColMajor, CblasNoTrans, n, n, 1.0, w->J, n, w->F, 1, 0.0, w->g, 1);
            need_jacobian = 0;
        }
        double dmax = 0.0;
        for (int i = 0; i < n; i++)
            dmax = fmax(dmax, w->C[(size_t)i * n + i]);
        if (!(dmax > 0.0)) break; /* J = 0: q is flat here */
        it++;
        memcpy(w->Cf, w->C, nn * sizeof *w->Cf);
        for (int i = 0; i < n; i++) {
            double *c = &w->Cf[(size_t)i * n + i];
            *c += mu * fmax(*c, 1e-12 * dmax);
        }
        int info = 0;
        dpotrf_("U", &n, w->Cf, &n, &info, 1);
        if (info != 0) {
            mu *= 4.0;
            if (mu > 1e16) break;
            continue;
        }
        for (int i = 0; i < n; i++)
            w->dx[i] = -w->g[i];
        dpotrs_("U", &n, &one, w->Cf, &n, w->dx, &n, &info, 1);
        double vmax = 0.0, smax = 0.0;
        for (int i = 0; i < n; i++) {
            w->Vt[i] = V[i] + w->dx[i];
            vmax = fmax(vmax, fabs(V[i]));
            smax = fmax(smax, fabs(w->dx[i]));
        }
        eir_dyn_eval(s->dyn, w->Vt, w->work, w->Ft, NULL, NULL);
        const double ft = fp_norm(w->Ft, n), qt = 0.5 * ft * ft;
        if (isfinite(qt) && qt < q) {
            const double drop = (q - qt) / q;
            memcpy(V, w->Vt, (size_t)n * sizeof *V);
            memcpy(w->F, w->Ft, (size_t)n * sizeof *w->F);
            f = ft, q = qt;
            mu = fmax(mu / 3.0, 1e-15);
            need_jacobian = 1;
            if (drop < 1e-14 || smax <= 1e-12 * (1.0 + vmax)) break;
        } else {
            if (smax <= 1e-12 * (1.0 + vmax)) break;
            mu *= 4.0;
            if (mu > 1e16) break;
        }
    }
    *fnorm = f;
    if (f <= s->tol) return FP_CONVERGED;
    return q <= s->slow_tol ? FP_SLOW : FP_FAILED;
}
