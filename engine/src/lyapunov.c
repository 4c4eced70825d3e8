/**
 * @file lyapunov.c
 * @brief The k largest Lyapunov exponents of the deterministic dynamics (eir_lyapunov).
 *
 * Numerics. The standard method (Benettin, Galgani, Giorgilli & Strelcyn 1980; Shimada &
 * Nagashima 1979): the trajectory V(t) and k tangent vectors Q (N x k) are integrated together,
 *     dV/dt = F(V),    dQ/dt = J(V(t)) Q,
 * and Q is re-orthonormalised by QR (LAPACK dgeqrf + dorgqr, signs fixed so that R_ii > 0)
 * every reortho_every steps and at the last step; exponent i is sum log R_ii over the steps
 * after the transient divided by their time, steps * dt. F and J come from the engine's
 * dynamics workspace (dyn_internal.h: J formed per stage, J Q by one dgemm).
 * Integrator: classic RK4 on the joint system (V, Q), all four stages re-evaluating F and J at
 * the stage state. So the tangent map of a step is the RK4 propagator of the variational
 * equation along the RK4 trajectory, accurate to O(dt^5) per step; an Euler tangent map would
 * only be first order. mean_trace_J is the time average of tr J(V(t)) along the same
 * trajectory with the same quadrature (weights dt/6 (1, 2, 2, 1) on the four stages), so with
 * k = N the sum of the exponents (log |det| of the product of the tangent maps, exactly what
 * the QR factors multiply to) equals mean_trace_J up to O(dt^4) (Liouville's formula); the
 * tests see agreement to about 1e-9 relative at dt = 0.01. The estimates themselves converge
 * like 1 / (steps dt) (finite-time fluctuations), which the trace shows.
 * During the transient the tangent vectors are integrated and re-orthonormalised too (their
 * logs discarded), so they have turned towards the leading directions when averaging starts.
 * Random V0 (when NULL: N(0, 1) per cell) and the initial tangent basis (N(0, 1) entries, then
 * QR) are Philox draws keyed by the seed (philox.h), so results depend on the inputs only
 * (given a single-threaded BLAS, as the engine's programs set it).
 * Failure: a non-finite state or tangent vector (RK4 unstable for this dt, or a network that
 * blows up) ends the integration with diverged = 1 and NaN exponents and mean_trace_J; the
 * trace keeps the rows written before. That is an outcome (EIR_OK), not an error.
 * Cost per step: 4 evaluations of F and J (reads of W and M, a write of J) and 4 dgemms
 * of N x N x k, plus a QR of N x k every reortho_every steps; memory N^2 (J) + 2 N^2 (the
 * workspace's W and M) + 4 N k. The hot loop allocates nothing; the stop flag is looked at
 * every step and the progress callback called at most every PROGRESS_SECONDS.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dyn_internal.h"
#include "eir_analysis.h"
#include "philox.h"
#include "stop.h"

extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau,
                    double *work, const int *lwork, int *info);
extern void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda,
                    const double *tau, double *work, const int *lwork, int *info);

/** Philox stream of this file's draws: far from philox.h's small enumerated streams. */
#define LYAP_STREAM 0x4C594150u /* "LYAP" */

/** Seconds between two progress callbacks. */
static const double PROGRESS_SECONDS = 0.05;

void eir_lyap_desc_init(eir_lyap_desc *d)
{
    memset(d, 0, sizeof *d);
    d->k = 1;
    d->dt = 0.01;
    d->steps = 10000;
    d->transient = 1000;
    d->reortho_every = 1;
    d->trace_points = 100;
}

void eir_lyap_result_free(eir_lyap_result *r)
{
    if (!r) return;
    free(r->exponents);
    free(r->trace);
    free(r->trace_time);
    memset(r, 0, sizeof *r);
}

/** Everything the integration touches, allocated once. Tangent vectors are the columns of the
 *  column-major N x k matrices Q, Qs, Qacc, K (vector j at [j N, (j + 1) N)). */
typedef struct lyap_ws {
    eir_dyn dyn;
    int n, k, lwork;
    double dt;
    double *V, *Vs, *Vacc, *F; /* N each */
    double *Q, *Qs, *Qacc, *K; /* N k each */
    double *J;                 /* N N */
    double *work;              /* eir_dyn_work_len(N) */
    double *tau, *qrwork;      /* k, lwork */
    double *logs;              /* k: log R_ii of the last QR */
    double *sign;              /* k: sign of R_ii of the last QR */
} lyap_ws;

static void ws_free(lyap_ws *w)
{
    eir_dyn_free(&w->dyn);
    free(w->V);
    free(w->Q);
    free(w->J);
    free(w->tau);
}

static eir_status ws_init(lyap_ws *w, const eir_model *m, const eir_lyap_desc *d, eir_error *err)
{
    memset(w, 0, sizeof *w);
    const int n = eir_model_n(m), k = d->k;
    w->n = n;
    w->k = k;
    w->dt = d->dt;
    eir_status st = eir_dyn_init(&w->dyn, m, 1, err);
    if (st != EIR_OK) return st;
    const size_t nk = (size_t)n * (size_t)k;
    w->V = malloc((4 * (size_t)n + eir_dyn_work_len(n)) * sizeof(double));
    w->Q = malloc(4 * nk * sizeof(double));
    w->J = eir_alloc_big((size_t)n * (size_t)n * sizeof(double));
    /* workspace query: the larger of dgeqrf's and dorgqr's optimal sizes */
    double q1 = 0, q2 = 0;
    int query = -1, info = 0;
    if (w->Q) {
        dgeqrf_(&n, &k, w->Q, &n, &q1, &q1, &query, &info);
        dorgqr_(&n, &k, &k, w->Q, &n, &q2, &q2, &query, &info);
    }
    w->lwork = (int)fmax(fmax(q1, q2), (double)n);
    w->tau = malloc((3 * (size_t)k + (size_t)w->lwork) * sizeof(double));
    if (!w->V || !w->Q || !w->J || !w->tau) {
        ws_free(w);
        return eir_error_set(err, EIR_ENOMEM, NULL,
                             "out of memory for Lyapunov exponents of N = %d, k = %d", n, k);
    }
    w->Vs = w->V + n, w->Vacc = w->Vs + n, w->F = w->Vacc + n, w->work = w->F + n;
    w->Qs = w->Q + nk, w->Qacc = w->Qs + nk, w->K = w->Qacc + nk;
    w->logs = w->tau + k, w->sign = w->logs + k, w->qrwork = w->sign + k;
    return EIR_OK;
}

/** One RK4 stage at (Vin, Qin): F into w->F, J Qin into w->K; returns tr J. */
static double stage(lyap_ws *w, const double *Vin, const double *Qin)
{
    const int n = w->n;
    eir_dyn_eval(&w->dyn, Vin, w->work, w->F, w->J, NULL);
    double tr = 0.0;
    for (int i = 0; i < n; i++)
        tr += w->J[(size_t)i * n + i];
    /* K (col-major N x k) = J Qin, i.e. row-major k x N: K^T = Qin^T J^T. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, w->k, n, n, 1.0, Qin, n, w->J, n, 0.0,
                w->K, n);
    return tr;
}

/** acc = c_acc acc + c_new new, or with @p c_acc 0 acc = c_new new (acc not read: at a step's
 *  first stage it holds the last step's sum, or on the first step whatever malloc gave, and
 *  0 * NaN would be NaN); s = base + c_s new (length len). */
static void combine(double *acc, double c_acc, const double *nw, double c_new, double *s,
                    const double *base, double c_s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        acc[i] = c_acc == 0.0 ? c_new * nw[i] : c_acc * acc[i] + c_new * nw[i];
        if (s) s[i] = base[i] + c_s * nw[i];
    }
}

/** One RK4 step of (V, Q); returns the quadrature of the integral of tr J over the step. */
static double rk4_step(lyap_ws *w)
{
    const size_t n = (size_t)w->n, nk = n * (size_t)w->k;
    const double h = w->dt;
    double t1 = stage(w, w->V, w->Q);
    combine(w->Vacc, 0.0, w->F, 1.0, w->Vs, w->V, 0.5 * h, n);
    combine(w->Qacc, 0.0, w->K, 1.0, w->Qs, w->Q, 0.5 * h, nk);
    double t2 = stage(w, w->Vs, w->Qs);
    combine(w->Vacc, 1.0, w->F, 2.0, w->Vs, w->V, 0.5 * h, n);
    combine(w->Qacc, 1.0, w->K, 2.0, w->Qs, w->Q, 0.5 * h, nk);
    double t3 = stage(w, w->Vs, w->Qs);
    combine(w->Vacc, 1.0, w->F, 2.0, w->Vs, w->V, h, n);
    combine(w->Qacc, 1.0, w->K, 2.0, w->Qs, w->Q, h, nk);
    double t4 = stage(w, w->Vs, w->Qs);
    combine(w->Vacc, 1.0, w->F, 1.0, NULL, NULL, 0.0, n);
    combine(w->Qacc, 1.0, w->K, 1.0, NULL, NULL, 0.0, nk);
    for (size_t i = 0; i < n; i++)
        w->V[i] += h / 6.0 * w->Vacc[i];
    for (size_t i = 0; i < nk; i++)
        w->Q[i] += h / 6.0 * w->Qacc[i];
    return h / 6.0 * (t1 + 2.0 * t2 + 2.0 * t3 + t4);
}

/** QR of Q in place (Q becomes orthonormal, R_ii > 0), log R_ii into w->logs. Returns 0, or -1
 *  when Q or an R_ii is not finite or an R_ii is 0 (the tangent vectors collapsed). */
static int orthonormalise(lyap_ws *w)
{
    const int n = w->n, k = w->k;
    const size_t nk = (size_t)n * (size_t)k;
    for (size_t i = 0; i < nk; i++)
        if (!isfinite(w->Q[i])) return -1;
    int info = 0;
    dgeqrf_(&n, &k, w->Q, &n, w->tau, w->qrwork, &w->lwork, &info);
    if (info != 0) return -1;
    for (int j = 0; j < k; j++) {
        double r = w->Q[(size_t)j * n + j];
        if (!isfinite(r) || r == 0.0) return -1;
        w->sign[j] = r > 0 ? 1.0 : -1.0;
        w->logs[j] = log(fabs(r));
    }
    dorgqr_(&n, &k, &k, w->Q, &n, w->tau, w->qrwork, &w->lwork, &info);
    if (info != 0) return -1;
    for (int j = 0; j < k; j++)
        if (w->sign[j] < 0)
            for (int i = 0; i < n; i++)
                w->Q[(size_t)j * n + i] = -w->Q[(size_t)j * n + i];
    return 0;
}

static eir_status check_desc(const eir_model *m, const eir_lyap_desc *d, eir_error *err)
{
    const int n = eir_model_n(m);
    if (d->k < 1 || d->k > n)
        return eir_error_set(err, EIR_EINVAL, "/k", "k must be 1 .. N = %d; it is %d", n, d->k);
    if (!(d->dt > 0) || !isfinite(d->dt))
        return eir_error_set(err, EIR_EINVAL, "/dt", "dt must be a finite number > 0; it is %g",
                             d->dt);
    if (d->steps < 1)
        return eir_error_set(err, EIR_EINVAL, "/steps", "steps must be >= 1; it is %lld",
                             (long long)d->steps);
    if (d->transient < 0)
        return eir_error_set(err, EIR_EINVAL, "/transient", "transient must be >= 0; it is %lld",
                             (long long)d->transient);
    if (d->steps > INT64_MAX / 2 - d->transient)
        return eir_error_set(err, EIR_EINVAL, "/steps", "steps + transient is too large");
    if (d->reortho_every < 1)
        return eir_error_set(err, EIR_EINVAL, "/reortho_every",
                             "reortho_every must be >= 1; it is %d", d->reortho_every);
    if (d->trace_points < 0)
        return eir_error_set(err, EIR_EINVAL, "/trace_points",
                             "trace_points must be >= 0; it is %d", d->trace_points);
    if (d->V0)
        for (int i = 0; i < n; i++)
            if (!isfinite(d->V0[i]))
                return eir_error_set(err, EIR_EINVAL, "/V0",
                                     "the initial state must be finite; V0[%d] is %g", i, d->V0[i]);
    return EIR_OK;
}

/** V0 (given or N(0, 1) draws) and a random orthonormal tangent basis. */
static int initial_state(lyap_ws *w, const eir_lyap_desc *d)
{
    const int n = w->n;
    double a, b;
    for (int i = 0; i < n; i += 2) {
        eir_normal2(d->seed, (uint32_t)(i / 2), 0, 0, LYAP_STREAM, &a, &b);
        w->V[i] = d->V0 ? d->V0[i] : a;
        if (i + 1 < n) w->V[i + 1] = d->V0 ? d->V0[i + 1] : b;
    }
    for (int j = 0; j < w->k; j++)
        for (int i = 0; i < n; i += 2) {
            eir_normal2(d->seed, (uint32_t)(i / 2), (uint32_t)j + 1u, 0, LYAP_STREAM, &a, &b);
            w->Q[(size_t)j * n + i] = a;
            if (i + 1 < n) w->Q[(size_t)j * n + i + 1] = b;
        }
    return orthonormalise(w);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** Running state of the averaging. */
typedef struct lyap_run {
    double *sums;     /* k: sum of log R_ii after the transient */
    double tr_sum;    /* integral of tr J after the transient */
    int64_t n_qr;     /* QRs after the transient, all of them: n_qr_all */
    int64_t n_qr_all; /* ceil(steps / reortho_every) */
    int row;          /* trace rows written */
} lyap_run;

/** After a QR in the averaging phase at @p local steps: accumulate and maybe write a row. */
static void record(const lyap_ws *w, lyap_run *run, eir_lyap_result *out, int64_t local)
{
    for (int j = 0; j < w->k; j++)
        run->sums[j] += w->logs[j];
    run->n_qr++;
    if (run->row >= out->trace_rows) return;
    int64_t due = (int64_t)(run->row + 1) * run->n_qr_all / out->trace_rows;
    if (run->n_qr < due) return;
    double t = (double)local * w->dt;
    for (int j = 0; j < w->k; j++)
        out->trace[(size_t)run->row * w->k + j] = run->sums[j] / t;
    out->trace_time[run->row] = t;
    run->row++;
}

/**
 * The integration proper: transient, then steps, QR on schedule. Returns EIR_OK (with
 * out->diverged possibly set) or EIR_ECANCELLED. Longer than most functions here because the
 * step loop keeps the schedule (transient, re-orthonormalisation, trace, progress) in one place.
 */
static eir_status integrate(lyap_ws *w, const eir_lyap_desc *d, lyap_run *run, eir_lyap_result *out,
                            eir_error *err)
{
    const int64_t total = d->transient + d->steps;
    double last = now_seconds();
    for (int64_t s = 0; s < total; s++) {
        if (eir_stop_now(d->stop))
            return eir_error_set(err, EIR_ECANCELLED, NULL, "Lyapunov exponents stopped");
        double tr = rk4_step(w);
        int bad = 0;
        for (int i = 0; i < w->n; i++)
            if (!isfinite(w->V[i])) bad = 1;
        const int64_t local = s + 1 - d->transient; /* averaging steps done, <= 0 before */
        if (!bad && local <= 0) {
            if (local == 0 || (s + 1) % d->reortho_every == 0) bad = orthonormalise(w) != 0;
        } else if (!bad) {
            run->tr_sum += tr;
            if (local % d->reortho_every == 0 || local == d->steps) {
                bad = orthonormalise(w) != 0;
                if (!bad) record(w, run, out, local);
            }
        }
        if (bad || !isfinite(run->tr_sum)) {
            out->diverged = 1;
            return EIR_OK;
        }
        if (d->progress && now_seconds() - last >= PROGRESS_SECONDS) {
            last = now_seconds();
            if (d->progress(d->progress_ctx, s + 1, total))
                return eir_error_set(err, EIR_ECANCELLED, NULL, "Lyapunov exponents stopped");
        }
    }
    if (d->progress && d->progress(d->progress_ctx, total, total))
        return eir_error_set(err, EIR_ECANCELLED, NULL, "Lyapunov exponents stopped");
    return EIR_OK;
}

/** Exponents descending; the trace's columns follow the same order. */
static void sort_exponents(eir_lyap_result *out)
{
    const int k = out->k;
    for (int a = 1; a < k; a++)
        for (int b = a; b > 0 && out->exponents[b] > out->exponents[b - 1]; b--) {
            double t = out->exponents[b];
            out->exponents[b] = out->exponents[b - 1];
            out->exponents[b - 1] = t;
            for (int r = 0; r < out->trace_rows; r++) {
                double *row = out->trace + (size_t)r * k;
                t = row[b], row[b] = row[b - 1], row[b - 1] = t;
            }
        }
}

eir_status eir_lyapunov(const eir_model *m, const eir_lyap_desc *d, eir_lyap_result *out,
                        eir_error *err)
{
    memset(out, 0, sizeof *out);
    eir_status st = check_desc(m, d, err);
    if (st != EIR_OK) return st;
    lyap_ws w;
    st = ws_init(&w, m, d, err);
    if (st != EIR_OK) return st;
    st = eir_dyn_set_input(&w.dyn, d->x, "/x", err);
    if (st != EIR_OK) {
        ws_free(&w);
        return st;
    }
    const int k = d->k;
    lyap_run run = {0};
    run.n_qr_all = (d->steps + d->reortho_every - 1) / d->reortho_every;
    out->k = k;
    out->trace_rows = (int)(d->trace_points < run.n_qr_all ? d->trace_points : run.n_qr_all);
    out->exponents = malloc((size_t)k * sizeof(double));
    out->trace = malloc(((size_t)out->trace_rows * k + 1) * sizeof(double));
    out->trace_time = malloc(((size_t)out->trace_rows + 1) * sizeof(double));
    run.sums = calloc((size_t)k, sizeof(double));
    if (!out->exponents || !out->trace || !out->trace_time || !run.sums) {
        st = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the Lyapunov results");
    } else if (initial_state(&w, d) != 0) {
        out->diverged = 1;
    } else {
        st = integrate(&w, d, &run, out, err);
    }
    if (st == EIR_OK) {
        const double time = (double)d->steps * d->dt;
        for (int j = 0; j < k; j++)
            out->exponents[j] = out->diverged ? NAN : run.sums[j] / time;
        out->mean_trace_J = out->diverged ? NAN : run.tr_sum / time;
        if (out->diverged) out->trace_rows = run.row;
        sort_exponents(out);
    }
    free(run.sums);
    ws_free(&w);
    if (st != EIR_OK) eir_lyap_result_free(out);
    return st;
}
