/**
 * @file fixed_points.c
 * @brief Fixed points of the deterministic dynamics under a constant input (eir_analysis.h):
 *        Newton from many starts, on a few threads, then deduplication, then each distinct
 *        point's Jacobian eigenvalues.
 *
 * Numerics. Newton (fp_newton): at V, J(V) from the analytic Jacobian (dynamics workspace, dense
 * W and M copied once), LU by LAPACK dgetrf, the step dx = -J^-1 F by dgetrs; a backtracking
 * line search on |F|_2 halves the step (at most 12 times) until |F(V + a dx)| <= (1 - 1e-4 a)
 * |F(V)| (Armijo); a step that gives a non-finite F counts as no decrease. After a full step
 * that lowered |F| tenfold, chord steps (the same LU, O(N^2) each) follow while each does so;
 * each counts as an iteration. A converged point is polished by up to 8 more chord steps, taken
 * while each halves |F|: |F| goes from about tol to near rounding level for O(N^2) each. A
 * start converges when |F|_2 <= tol; it fails when max_iter iterations pass, the LU finds J
 * singular, or neither Newton's direction nor the fallback (steepest descent on q = |F|^2 / 2, with
 * the cells on a rectified activation's kink held if need be: descent_step()) decreases |F|, or |F|
 * fell by less than 25 % over 10 iterations and the fallback with held kinks gives no decrease
 * either (a minimum of |F| that is not a zero: then, when asked, the slow-point search of
 * slow_points.c takes over). Near a regular zero the convergence is quadratic: a converged V is
 * good to about tol / sigma_min(J).
 *
 * Determinism: random starts are V_i = random_scale N(0, 1) drawn from Philox keyed by (seed,
 * start, cell) (stream EIR_STREAM_FIXED_POINTS); each start's solve depends on its start only
 * (F and J in a fixed summation order, OpenBLAS single-threaded in the engine's programs), so
 * which thread solves it changes no bit. Starts are taken in chunks of FP_CHUNK; after each
 * chunk one thread deduplicates its results in start order (a point joins the first kept point
 * within dedupe_tol (1 + max |V|) in max norm, otherwise it is kept with this start's V), so the
 * output is the same bytes at any thread count. Eigenvalues (eir_eigen, dgeev) are computed
 * once per kept point, not per start, with the stop flag (from N = 256 a stop ends the wait for
 * a point's dgeev at once: stoppable.h).
 *
 * Memory: W and M dense once (2 N^2 doubles, whatever the model's storage), per thread a
 * Jacobian (N^2; 3 N^2 with slow points), FP_CHUNK end states, the kept points and their
 * eigenvalues (K x 2N). Nothing is allocated inside the iteration loops.
 *
 * Failure: bad arguments are EIR_EINVAL naming the request field; EIR_ENOMEM; EIR_ENUMERIC when
 * dgeev fails on a point's Jacobian; EIR_ECANCELLED when the stop flag is set or the progress
 * callback returns non-zero (checked every Newton and Levenberg-Marquardt iteration and between
 * starts). On any failure @p out is left zeroed.
 */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_analysis.h"
#include "fp_internal.h"
#include "philox.h"
#include "team.h"

/** Starts solved between two deduplications (bounds the memory of end states). */
#define FP_CHUNK 128
/** Line search: halvings of the Newton step before the fallback (descent_step()), halvings of
 *  the fallback's step before giving up, and Armijo's constant. */
#define FP_NEWTON_HALVINGS 12
#define FP_DESCENT_HALVINGS 30
/** Chord steps are taken while each one lowers |F| tenfold (the LU is then from near the
 *  point, and the steps converge almost as Newton's do). */
#define FP_CHORD_RATIO 0.1
/** Chord steps that polish a converged point, at most. */
#define FP_POLISH_STEPS 8
#define FP_ARMIJO 1e-4
/** Stagnation: when |F| fell by less than 25 % over 10 iterations, a start tries a descent
 *  step with the cells on a kink held (descent_step()) and gives up if that fails. */
#define FP_STALL_ITERS 10
#define FP_STALL_RATIO 0.75

extern void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
extern void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a,
                    const int *lda, const int *ipiv, double *b, const int *ldb, int *info,
                    size_t len_trans);

void eir_fp_desc_init(eir_fp_desc *d)
{
    memset(d, 0, sizeof *d);
    d->random_scale = 1.0;
    d->max_iter = 100;
    d->tol = 1e-10;
    d->dedupe_tol = 1e-6;
    d->max_slow_iter = 200;
    d->slow_tol = 1e-4;
    d->threads = 1;
}

void eir_fp_result_free(eir_fp_result *r)
{
    if (!r) return;
    free(r->V);
    free(r->r);
    free(r->residual);
    free(r->q);
    free(r->eigvals);
    free(r->n_unstable);
    free(r->stable);
    free(r->slow);
    free(r->hits);
    free(r->first_start);
    memset(r, 0, sizeof *r);
}

/** Line search along w->dx from V (Armijo on q, see descent_step()). */
static int descent_search(const fp_solver *s, fp_scratch *w, const double *V, double f, double *ft)
{
    const int n = s->n;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, w->J, n, w->dx, 1, 0.0, w->Ft, 1);
    const double dd = fp_norm(w->dx, n), jd = fp_norm(w->Ft, n);
    if (!(dd > 0.0 && jd > 0.0 && isfinite(dd) && isfinite(jd))) return 0;
    double a = (dd / jd) * (dd / jd);
    for (int h = 0; h <= FP_DESCENT_HALVINGS; h++, a *= 0.5) {
        for (int i = 0; i < n; i++)
            w->Vt[i] = V[i] + a * w->dx[i];
        eir_dyn_eval(s->dyn, w->Vt, w->work, w->Ft, NULL, NULL);
        *ft = fp_norm(w->Ft, n);
        if (isfinite(*ft) && *ft * *ft <= f * f - 2.0 * FP_ARMIJO * a * dd * dd) return 1;
    }
    return 0;
}

/** Whether the activation has a kink at V = 0 (rectified kinds). */
static int kink_at_zero(eir_act_kind k)
{
    return k == EIR_ACT_RELU || k == EIR_ACT_TANH_RECT || k == EIR_ACT_POWER;
}

/**
 * The fallback when Newton's direction gives no decrease or progress stalls (a kink of a
 * threshold activation, a nearly singular J): steepest descent on q = |F|^2 / 2, d = -J^T F,
 * from the step that minimises the linearised |F + a J d| (a = |d|^2 / |J d|^2), halved until
 * Armijo's test on q (q drops by at least 1e-4 a |d|^2) passes. J is one-sided at a kink, and
 * Newton then tends to hop across it, so (or when @p kinks_only) d is also tried with the cells
 * that sit at a rectified activation's kink (|V_i| <= 1e-3 (1 + max |V|)) held. Leaves the trial
 * state in w->Vt, w->Ft and its norm in *@p ft; 1 when accepted.
 */
static int descent_step(const fp_solver *s, fp_scratch *w, const double *V, double f, double *ft,
                        int kinks_only)
{
    const int n = s->n;
    eir_dyn_eval(s->dyn, V, w->work, NULL, w->J, NULL);
    cblas_dgemv(CblasRowMajor, CblasTrans, n, n, -1.0, w->J, n, w->F, 1, 0.0, w->dx, 1);
    if (!kinks_only && descent_search(s, w, V, f, ft)) return 1;
    if (!kink_at_zero(s->dyn->m->act.kind)) return 0;
    double vmax = 0.0;
    for (int i = 0; i < n; i++)
        vmax = fmax(vmax, fabs(V[i]));
    int held = 0;
    cblas_dgemv(CblasRowMajor, CblasTrans, n, n, -1.0, w->J, n, w->F, 1, 0.0, w->dx, 1);
    for (int i = 0; i < n; i++)
        if (fabs(V[i]) <= 1e-3 * (1.0 + vmax)) w->dx[i] = 0.0, held++;
    return held > 0 && descent_search(s, w, V, f, ft);
}

/** Take the trial state w->Vt, w->Ft (norm @p ft) as the current one. */
static void take_trial(fp_scratch *w, double *V, int n, double *f, double ft)
{
    memcpy(V, w->Vt, (size_t)n * sizeof *V);
    memcpy(w->F, w->Ft, (size_t)n * sizeof *w->F);
    *f = ft;
}

/**
 * One chord step: dx = -J_k^-1 F with the LU of the last Jacobian (O(N^2) instead of a new
 * O(N^3) factorisation), into w->Vt, w->Ft; returns |F| there (inf when not finite).
 */
static double chord_trial(const fp_solver *s, fp_scratch *w, const double *V)
{
    const int n = s->n, one = 1;
    int info = 0;
    for (int i = 0; i < n; i++)
        w->dx[i] = -w->F[i];
    dgetrs_("T", &n, &one, w->J, &n, w->ipiv, w->dx, &n, &info, 1);
    for (int i = 0; i < n; i++)
        w->Vt[i] = V[i] + w->dx[i];
    eir_dyn_eval(s->dyn, w->Vt, w->work, w->Ft, NULL, NULL);
    const double ft = fp_norm(w->Ft, n);
    return isfinite(ft) ? ft : INFINITY;
}

int fp_newton(const fp_solver *s, fp_scratch *w, double *V, double *fnorm)
{
    const int n = s->n;
    eir_dyn_eval(s->dyn, V, w->work, w->F, NULL, NULL);
    double f = fp_norm(w->F, n);
    *fnorm = f;
    if (!isfinite(f)) return FP_FAILED;
    double f_back = f; /* |F| at the last stagnation check */
    int next_check = FP_STALL_ITERS, lu_ok = 0;
    for (int it = 0; it < s->max_iter; it++) {
        if (fp_stopped(s)) return FP_STOPPED;
        if (f <= s->tol) break;
        if (it >= next_check) {
            next_check = it + FP_STALL_ITERS;
            if (f > FP_STALL_RATIO * f_back) {
                /* creeping: hopping across a kink, or towards a minimum of |F| */
                double ft;
                lu_ok = 0;
                if (!descent_step(s, w, V, f, &ft, 1)) break;
                take_trial(w, V, n, &f, ft);
            }
            f_back = f;
        }
        /* J row-major is J^T column-major: factor that, and solve with its transpose */
        eir_dyn_eval(s->dyn, V, w->work, NULL, w->J, NULL);
        int info = 0;
        dgetrf_(&n, &n, w->J, &n, w->ipiv, &info);
        lu_ok = info == 0;
        if (!lu_ok) break;                         /* singular Jacobian */
        double ft = chord_trial(s, w, V), a = 1.0; /* the full Newton step */
        if (ft <= (1.0 - FP_ARMIJO) * f && ft <= FP_CHORD_RATIO * f) {
            /* a full step that lowered |F| tenfold: chord steps while each does so too */
            do {
                take_trial(w, V, n, &f, ft);
            } while (f > s->tol && ++it < s->max_iter && !fp_stopped(s) &&
                     (ft = chord_trial(s, w, V)) <= FP_CHORD_RATIO * f);
            continue;
        }
        int accepted = ft <= (1.0 - FP_ARMIJO) * f;
        for (int h = 1; h <= FP_NEWTON_HALVINGS && !accepted; h++) {
            a *= 0.5; /* w->dx still holds the Newton step */
            for (int i = 0; i < n; i++)
                w->Vt[i] = V[i] + a * w->dx[i];
            eir_dyn_eval(s->dyn, w->Vt, w->work, w->Ft, NULL, NULL);
            ft = fp_norm(w->Ft, n);
            accepted = isfinite(ft) && ft <= (1.0 - FP_ARMIJO * a) * f;
        }
        if (!accepted) {
            lu_ok = 0;
            accepted = descent_step(s, w, V, f, &ft, 0);
        }
        if (!accepted) break; /* no decrease along Newton's direction nor q's gradient */
        take_trial(w, V, n, &f, ft);
    }
    /* polish a converged point: chord steps while they halve |F| (at most FP_POLISH_STEPS) */
    for (int p = 0; f <= s->tol && lu_ok && f > 0 && p < FP_POLISH_STEPS; p++) {
        const double ft = chord_trial(s, w, V);
        if (!(ft <= 0.5 * f)) break;
        take_trial(w, V, n, &f, ft);
    }
    *fnorm = f;
    return f <= s->tol ? FP_CONVERGED : FP_FAILED;
}

/** A point kept after deduplication. */
typedef struct fp_kept {
    int slow;        /**< 0 fixed point, 1 slow point */
    int hits;        /**< starts that ended here */
    int first_start; /**< the first of them (its end state is V) */
} fp_kept;

/** The whole search: set-up, per-chunk outcomes, kept points. */
typedef struct fp_search {
    const eir_model *m;
    const eir_fp_desc *d;
    fp_solver solver;
    eir_dyn dyn;
    atomic_int cancel;
    int n, total, slow_points;
    int nt_alloc;        /**< scratch sets allocated */
    fp_scratch *scratch; /**< one per thread */
    sim_barrier bar;
    /* the current chunk: starts [c0, c0 + cn) */
    int c0, cn;
    atomic_int next;
    double *cV;  /**< FP_CHUNK x N end states */
    int *cstate; /**< FP_CHUNK outcomes */
    atomic_int done;
    /* kept points */
    int count, cap;
    double *kV; /**< cap x N */
    fp_kept *kept;
    int converged, slow_found, failed;
    /* eigenvalue phase */
    double *eig;         /**< count x 2N */
    double *resid;       /**< count */
    eir_status *estatus; /**< count */
    eir_error eerr;      /**< the first failing point's error */
    atomic_int eig_failed;
    eir_status status; /**< ENOMEM during deduplication */
} fp_search;

/** Start @p k (given starts first, then random ones) into @p V. */
static void start_state(const fp_search *S, int k, double *V)
{
    const int n = S->n;
    if (k < S->d->n_starts) {
        memcpy(V, S->d->starts + (size_t)k * n, (size_t)n * sizeof *V);
        return;
    }
    const uint32_t q = (uint32_t)(k - S->d->n_starts);
    const double sc = S->d->random_scale;
    for (int i = 0; i < n; i += 2) {
        double a, b;
        eir_normal2(S->d->seed, q, (uint32_t)(i / 2), 0u, EIR_STREAM_FIXED_POINTS, &a, &b);
        V[i] = sc * a;
        if (i + 1 < n) V[i + 1] = sc * b;
    }
}

/** Solve the starts of the current chunk that this thread takes. */
static void solve_chunk(fp_search *S, int tid)
{
    const int n = S->n;
    fp_scratch *w = &S->scratch[tid];
    for (;;) {
        const int k = atomic_fetch_add(&S->next, 1);
        if (k >= S->cn || atomic_load(&S->cancel)) break;
        double *V = S->cV + (size_t)k * n, fnorm;
        start_state(S, S->c0 + k, V);
        int st = fp_newton(&S->solver, w, V, &fnorm);
        if (st == FP_FAILED && S->slow_points) st = fp_slow_point(&S->solver, w, V, &fnorm);
        S->cstate[k] = st;
        const int done = atomic_fetch_add(&S->done, 1) + 1;
        if (tid == 0 && S->d->progress && S->d->progress(S->d->progress_ctx, done, S->total))
            atomic_store(&S->cancel, 1);
    }
}

/** Whether states @p a and @p b are one point (dedupe_tol (1 + max |V|), max norm). */
static int same_point(const double *a, const double *b, int n, double tol)
{
    double vmax = 0.0, dmax = 0.0;
    for (int i = 0; i < n; i++) {
        vmax = fmax(vmax, fmax(fabs(a[i]), fabs(b[i])));
        dmax = fmax(dmax, fabs(a[i] - b[i]));
    }
    return dmax <= tol * (1.0 + vmax);
}

/** Fold the current chunk's outcomes into the kept points, in start order. EIR_ENOMEM. */
static eir_status dedupe_chunk(fp_search *S)
{
    const int n = S->n;
    for (int k = 0; k < S->cn; k++) {
        const int st = S->cstate[k];
        if (st != FP_CONVERGED && st != FP_SLOW) {
            S->failed++;
            continue;
        }
        const int slow = st == FP_SLOW;
        const double *V = S->cV + (size_t)k * n;
        if (slow)
            S->slow_found++;
        else
            S->converged++;
        int j = 0;
        for (; j < S->count; j++)
            if (S->kept[j].slow == slow &&
                same_point(S->kV + (size_t)j * n, V, n, S->d->dedupe_tol))
                break;
        if (j < S->count) {
            S->kept[j].hits++;
            continue;
        }
        if (S->count == S->cap) {
            const int cap = S->cap ? 2 * S->cap : 16;
            double *kv = realloc(S->kV, (size_t)cap * n * sizeof *kv);
            if (!kv) return EIR_ENOMEM;
            S->kV = kv;
            fp_kept *kp = realloc(S->kept, (size_t)cap * sizeof *kp);
            if (!kp) return EIR_ENOMEM;
            S->kept = kp;
            S->cap = cap;
        }
        memcpy(S->kV + (size_t)S->count * n, V, (size_t)n * sizeof *V);
        S->kept[S->count++] = (fp_kept){slow, 1, S->c0 + k};
    }
    return EIR_OK;
}

/** Residual and Jacobian eigenvalues of the kept points this thread takes. */
static void eigen_points(fp_search *S, int tid)
{
    const int n = S->n;
    fp_scratch *w = &S->scratch[tid];
    for (;;) {
        const int k = atomic_fetch_add(&S->next, 1);
        if (k >= S->count) break;
        if (atomic_load(&S->cancel) || eir_stop_now(S->d->stop)) {
            atomic_store(&S->cancel, 1);
            break;
        }
        const double *V = S->kV + (size_t)k * n;
        eir_dyn_eval(&S->dyn, V, w->work, w->F, w->J, NULL);
        S->resid[k] = fp_norm(w->F, n);
        eir_error err;
        /* the stop flag reaches dgeev: a large point's eigenvalues stop while they run */
        S->estatus[k] = eir_eigen(w->J, n, S->eig + 2 * (size_t)k * n, NULL, S->d->stop, &err);
        if (S->estatus[k] == EIR_ECANCELLED) {
            atomic_store(&S->cancel, 1);
            break;
        }
        if (S->estatus[k] != EIR_OK && atomic_exchange(&S->eig_failed, 1) == 0) S->eerr = err;
    }
}

/** The team's work: every chunk (solve, barrier, deduplicate, barrier), then eigenvalues. */
static void search_team(void *arg, int tid, int nt)
{
    (void)nt;
    fp_search *S = arg;
    for (int c0 = 0; c0 < S->total; c0 += FP_CHUNK) {
        if (tid == 0) {
            S->c0 = c0;
            S->cn = S->total - c0 < FP_CHUNK ? S->total - c0 : FP_CHUNK;
            atomic_store(&S->next, 0);
        }
        if (sim_barrier_wait(&S->bar)) return;
        solve_chunk(S, tid);
        if (sim_barrier_wait(&S->bar)) return;
        if (tid == 0 && dedupe_chunk(S) != EIR_OK) {
            S->status = EIR_ENOMEM;
            atomic_store(&S->cancel, 1);
        }
    }
    if (tid == 0) {
        atomic_store(&S->next, 0);
        S->eig = malloc(2 * (size_t)(S->count ? S->count : 1) * S->n * sizeof *S->eig);
        S->resid = malloc((size_t)(S->count ? S->count : 1) * sizeof *S->resid);
        S->estatus = calloc((size_t)(S->count ? S->count : 1), sizeof *S->estatus);
        if (!S->eig || !S->resid || !S->estatus) {
            S->status = EIR_ENOMEM;
            atomic_store(&S->cancel, 1);
        }
    }
    if (sim_barrier_wait(&S->bar)) return;
    eigen_points(S, tid);
}

/** EIR_EINVAL naming the field of the first bad value of @p d for a model of N cells. */
static eir_status check_desc(const eir_fp_desc *d, int n, int n_in, eir_error *err)
{
    if (d->x)
        for (int c = 0; c < n_in; c++)
            if (!isfinite(d->x[c]))
                return eir_error_set(err, EIR_EINVAL, "/x", "x must be finite; x[%d] is %g", c,
                                     d->x[c]);
    if (d->n_starts < 0 || (d->n_starts > 0 && !d->starts))
        return eir_error_set(err, EIR_EINVAL, "/starts/runs", "given starts: %d states, %s",
                             d->n_starts, d->n_starts < 0 ? "must be >= 0" : "but no array");
    if (d->n_random < 0)
        return eir_error_set(err, EIR_EINVAL, "/starts/random/count",
                             "the number of random starts must be >= 0, got %d", d->n_random);
    if ((int64_t)d->n_starts + d->n_random < 1)
        return eir_error_set(err, EIR_EINVAL, "/starts",
                             "at least one start is needed (random and/or from runs)");
    if ((int64_t)d->n_starts + d->n_random > INT32_MAX / 2)
        return eir_error_set(err, EIR_EINVAL, "/starts", "too many starts (%lld)",
                             (long long)d->n_starts + d->n_random);
    for (int k = 0; k < d->n_starts; k++)
        for (int i = 0; i < n; i++)
            if (!isfinite(d->starts[(size_t)k * n + i])) {
                char f[64];
                snprintf(f, sizeof f, "/starts/runs/%d", k);
                return eir_error_set(err, EIR_EINVAL, f, "start %d must be finite; its V[%d] is %g",
                                     k, i, d->starts[(size_t)k * n + i]);
            }
    if (d->n_random > 0 && !(isfinite(d->random_scale) && d->random_scale > 0))
        return eir_error_set(err, EIR_EINVAL, "/starts/random/scale",
                             "the scale of random starts must be finite and > 0, got %g",
                             d->random_scale);
    if (d->max_iter < 1)
        return eir_error_set(err, EIR_EINVAL, "/max_iter", "max_iter must be >= 1, got %d",
                             d->max_iter);
    if (!(isfinite(d->tol) && d->tol > 0))
        return eir_error_set(err, EIR_EINVAL, "/tol", "tol must be finite and > 0, got %g", d->tol);
    if (!(isfinite(d->dedupe_tol) && d->dedupe_tol >= 0))
        return eir_error_set(err, EIR_EINVAL, "/dedupe_tol",
                             "dedupe_tol must be finite and >= 0, got %g", d->dedupe_tol);
    if (d->slow_points) {
        if (d->max_slow_iter < 1)
            return eir_error_set(err, EIR_EINVAL, "/max_slow_iter",
                                 "max_slow_iter must be >= 1, got %d", d->max_slow_iter);
        if (!(isfinite(d->slow_tol) && d->slow_tol > 0))
            return eir_error_set(err, EIR_EINVAL, "/slow_tol",
                                 "slow_tol must be finite and > 0, got %g", d->slow_tol);
    }
    if (d->threads < 0)
        return eir_error_set(err, EIR_EINVAL, "/threads", "threads must be >= 1, got %d",
                             d->threads);
    return EIR_OK;
}

static void free_scratch(fp_scratch *w)
{
    free(w->J);
    free(w->C);
    free(w->Cf);
    free(w->ipiv);
    free(w->Vt);
    free(w->F);
    free(w->Ft);
    free(w->dx);
    free(w->g);
    free(w->work);
}

static int alloc_scratch(fp_scratch *w, int n, int slow)
{
    const size_t nn = (size_t)n * n, v = (size_t)n * sizeof(double);
    memset(w, 0, sizeof *w);
    w->J = eir_alloc_big(nn * sizeof *w->J);
    if (slow) {
        w->C = eir_alloc_big(nn * sizeof *w->C);
        w->Cf = eir_alloc_big(nn * sizeof *w->Cf);
    }
    w->ipiv = malloc((size_t)n * sizeof *w->ipiv);
    w->Vt = malloc(v), w->F = malloc(v), w->Ft = malloc(v), w->dx = malloc(v), w->g = malloc(v);
    w->work = malloc(eir_dyn_work_len(n) * sizeof *w->work);
    return w->J && (!slow || (w->C && w->Cf)) && w->ipiv && w->Vt && w->F && w->Ft && w->dx &&
           w->g && w->work;
}

static void search_free(fp_search *S)
{
    if (S->scratch)
        for (int t = 0; t < S->nt_alloc; t++)
            free_scratch(&S->scratch[t]);
    free(S->scratch);
    free(S->cV);
    free(S->cstate);
    free(S->kV);
    free(S->kept);
    free(S->eig);
    free(S->resid);
    free(S->estatus);
    eir_dyn_free(&S->dyn);
}

/** Order of the output: fixed points by unstable directions then |V|, then slow points by q;
 *  ties by the first start. */
typedef struct fp_order {
    int k, slow, n_unstable, first;
    double key;
} fp_order;

static int order_cmp(const void *pa, const void *pb)
{
    const fp_order *a = pa, *b = pb;
    if (a->slow != b->slow) return a->slow - b->slow;
    if (!a->slow && a->n_unstable != b->n_unstable) return a->n_unstable - b->n_unstable;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->first - b->first;
}

/** Fill @p out from the kept points of @p S. EIR_ENOMEM. */
static eir_status fill_result(fp_search *S, eir_fp_result *out)
{
    const int n = S->n, K = S->count;
    const size_t kk = (size_t)(K ? K : 1), kn = kk * n;
    fp_order *ord = malloc(kk * sizeof *ord);
    out->V = malloc(kn * sizeof *out->V);
    out->r = malloc(kn * sizeof *out->r);
    out->residual = malloc(kk * sizeof *out->residual);
    out->q = malloc(kk * sizeof *out->q);
    out->eigvals = malloc(2 * kn * sizeof *out->eigvals);
    out->n_unstable = malloc(kk * sizeof(int32_t));
    out->stable = malloc(kk * sizeof(int32_t));
    out->slow = malloc(kk * sizeof(int32_t));
    out->hits = malloc(kk * sizeof(int32_t));
    out->first_start = malloc(kk * sizeof(int32_t));
    if (!ord || !out->V || !out->r || !out->residual || !out->q || !out->eigvals ||
        !out->n_unstable || !out->stable || !out->slow || !out->hits || !out->first_start) {
        free(ord);
        eir_fp_result_free(out);
        return EIR_ENOMEM;
    }
    for (int k = 0; k < K; k++) {
        eir_eig_summary es;
        eir_eig_summarise(S->eig + 2 * (size_t)k * n, n, &es);
        const double *V = S->kV + (size_t)k * n;
        ord[k] = (fp_order){k, S->kept[k].slow, es.n_positive, S->kept[k].first_start,
                            S->kept[k].slow ? 0.5 * S->resid[k] * S->resid[k] : fp_norm(V, n)};
    }
    qsort(ord, (size_t)K, sizeof *ord, order_cmp);
    for (int p = 0; p < K; p++) {
        const int k = ord[p].k;
        const double *V = S->kV + (size_t)k * n, *ev = S->eig + 2 * (size_t)k * n;
        memcpy(out->V + (size_t)p * n, V, (size_t)n * sizeof *V);
        for (int i = 0; i < n; i++) {
            double g;
            eir_act_and_gain(&S->m->act, V[i], &out->r[(size_t)p * n + i], &g);
        }
        memcpy(out->eigvals + 2 * (size_t)p * n, ev, 2 * (size_t)n * sizeof *ev);
        eir_eig_summary es;
        eir_eig_summarise(ev, n, &es);
        out->residual[p] = S->resid[k];
        out->q[p] = 0.5 * S->resid[k] * S->resid[k];
        out->n_unstable[p] = es.n_positive;
        out->stable[p] = es.abscissa < 0.0;
        out->slow[p] = S->kept[k].slow;
        out->hits[p] = S->kept[k].hits;
        out->first_start[p] = S->kept[k].first_start;
    }
    free(ord);
    out->n = n;
    out->count = K;
    out->starts = S->total;
    out->converged = S->converged;
    out->slow_found = S->slow_found;
    out->failed = S->failed;
    return EIR_OK;
}

eir_status eir_fixed_points(const eir_model *m, const eir_fp_desc *d, eir_fp_result *out,
                            eir_error *err)
{
    memset(out, 0, sizeof *out);
    const int n = m->n;
    eir_status s = check_desc(d, n, m->n_in, err);
    if (s) return s;
    fp_search *S = calloc(1, sizeof *S);
    if (!S) return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the fixed points");
    S->m = m;
    S->d = d;
    S->n = n;
    S->total = d->n_starts + d->n_random;
    S->slow_points = d->slow_points != 0;
    atomic_init(&S->cancel, 0);
    atomic_init(&S->next, 0);
    atomic_init(&S->done, 0);
    atomic_init(&S->eig_failed, 0);
    if ((s = eir_dyn_init(&S->dyn, m, 1, err)) != EIR_OK) goto out;
    if ((s = eir_dyn_set_input(&S->dyn, d->x, "/x", err)) != EIR_OK) goto out;
    int want = d->threads > 1 ? d->threads : 1;
    if (want > S->total) want = S->total;
    S->scratch = calloc((size_t)want, sizeof *S->scratch);
    const int chunk = S->total < FP_CHUNK ? S->total : FP_CHUNK;
    S->cV = malloc((size_t)chunk * n * sizeof *S->cV);
    S->cstate = malloc((size_t)chunk * sizeof *S->cstate);
    if (!S->scratch || !S->cV || !S->cstate) goto nomem;
    for (; S->nt_alloc < want; S->nt_alloc++)
        if (!alloc_scratch(&S->scratch[S->nt_alloc], n, S->slow_points)) {
            S->nt_alloc++;
            goto nomem;
        }
    S->solver = (fp_solver){.dyn = &S->dyn,
                            .n = n,
                            .max_iter = d->max_iter,
                            .tol = d->tol,
                            .max_slow_iter = d->max_slow_iter,
                            .slow_tol = d->slow_tol,
                            .stop = d->stop,
                            .cancel = &S->cancel};
    sim_team_run(want, &S->bar, &S->cancel, search_team, S);
    if (S->status == EIR_ENOMEM) goto nomem;
    if (atomic_load(&S->cancel) || eir_stop_now(d->stop)) {
        s = eir_error_set(err, EIR_ECANCELLED, NULL, "the fixed-point search was stopped");
        goto out;
    }
    if (atomic_load(&S->eig_failed)) {
        s = eir_error_set(err, S->eerr.status, NULL, "eigenvalues of a point's Jacobian: %s",
                          S->eerr.message);
        goto out;
    }
    if (d->progress) d->progress(d->progress_ctx, S->total, S->total);
    if (fill_result(S, out) != EIR_OK) goto nomem;
    s = EIR_OK;
    goto out;
nomem:
    s = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the fixed points of N = %d", n);
out:
    search_free(S);
    free(S);
    return s;
}
