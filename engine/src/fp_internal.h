/**
 * @file fp_internal.h
 * @brief The per-start solvers of eir_fixed_points() (engine-private): Newton with a line
 *        search (fixed_points.c) and the Levenberg-Marquardt minimisation of q = |F|^2 / 2 for
 *        slow points (slow_points.c), sharing a read-only set-up and a per-thread scratch.
 *
 * Ownership and threads: an ::fp_solver is read-only while solvers run (any number of threads);
 * each thread has its own ::fp_scratch, allocated once before any start is solved, so the
 * solvers allocate nothing.
 */
#ifndef EIR_FP_INTERNAL_H
#define EIR_FP_INTERNAL_H

#include <stdatomic.h>

#include "dyn_internal.h"
#include "stop.h"

/** What the solvers share (read-only while they run, but for the cancel flag). */
typedef struct fp_solver {
    const eir_dyn *dyn; /**< F and J, input set */
    int n;              /**< N */
    int max_iter;       /**< Newton iterations */
    double tol;         /**< converged when |F|_2 <= tol */
    int max_slow_iter;  /**< Levenberg-Marquardt iterations (trial steps) */
    double slow_tol;    /**< a slow point is kept when q <= slow_tol */
    const eir_stop *stop;
    atomic_int *cancel; /**< set to stop every thread (progress callback, user stop) */
} fp_solver;

/** One thread's buffers. C and Cf exist only when slow points are asked for. */
typedef struct fp_scratch {
    double *J;                    /**< N x N: the Jacobian, then its LU factors */
    double *C, *Cf;               /**< N x N: J^T J, and its damped copy's Cholesky factor */
    int *ipiv;                    /**< N */
    double *Vt, *F, *Ft, *dx, *g; /**< N each */
    double *work;                 /**< eir_dyn_work_len(N) */
} fp_scratch;

/** How a start ended. */
enum { FP_FAILED = 0, FP_CONVERGED = 1, FP_SLOW = 2, FP_STOPPED = 3 };

/** 1 when the search must stop (user stop flag or cancel); sets cancel on the user's stop. */
static inline int fp_stopped(const fp_solver *s)
{
    if (atomic_load_explicit(s->cancel, memory_order_relaxed)) return 1;
    if (eir_stop_now(s->stop)) {
        atomic_store(s->cancel, 1);
        return 1;
    }
    return 0;
}

/** 2-norm of @p n values (plain sum of squares: an overflow gives inf, read as "no good"). */
static inline double fp_norm(const double *x, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

/**
 * Newton from @p V (N values, overwritten with the end state): FP_CONVERGED when |F| <= tol,
 * FP_FAILED when the iterations run out, the Jacobian is singular or the line search finds no
 * decrease, FP_STOPPED when fp_stopped(). *@p fnorm = |F| at the end state.
 */
int fp_newton(const fp_solver *s, fp_scratch *w, double *V, double *fnorm);

/**
 * Levenberg-Marquardt on q = |F|^2 / 2 from @p V (overwritten with the end state): FP_CONVERGED
 * when it reaches |F| <= tol (a fixed point after all), FP_SLOW when it ends (a local minimum,
 * no further decrease, or iterations out) with q <= slow_tol, FP_FAILED otherwise, FP_STOPPED.
 * *@p fnorm = |F| at the end state.
 */
int fp_slow_point(const fp_solver *s, fp_scratch *w, double *V, double *fnorm);

#endif /* EIR_FP_INTERNAL_H */
