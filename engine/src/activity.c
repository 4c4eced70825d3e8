/**
 * @file activity.c
 * @brief Statistics of recorded activity (eir_activity): per-population and per-unit moments,
 *        PCA and participation ratio, mean pairwise correlation, E/I balance index per cell.
 *
 * Numerics. The window holds S = B (t1 - t0) samples (rows x trials) of n units. Every moment
 * divides by S (population moments, not S - 1), so one sample gives variance 0, not NaN.
 * Two passes over the data, block by block (BLOCK_ROWS rows of one trial at a time):
 *  1. per-unit means (plain sums in trial, row order), minimum and maximum, and a finiteness
 *     check (a non-finite value, e.g. a row after a run diverged, is refused naming /window);
 *  2. the covariance C = X_c^T X_c / S of the centred block copies X_c (BLAS dsyrk). Centring
 *     before the product keeps full accuracy when |mean| >> std (the shortcut E[x x] - mu mu
 *     would cancel). A unit whose values in the window are all equal gets its value itself as
 *     its mean, so its centred values, variance, covariance row and column are exactly 0.
 * unit_var is the diagonal of C. Per population: the pooled mean and variance over its units'
 * values, mean_p = avg_u mean_u, var_p = avg_u (var_u + (mean_u - mean_p)^2).
 * PCA: eigenvalues of C by LAPACK dsyevd (values only), sorted descending, rounding negatives
 * (|l| ~ 1e-16 trace) clamped to 0; pca_ratio = l / trace(C). The participation ratio
 * (sum l)^2 / sum l^2 is taken as trace(C)^2 / |C|_F^2, which is the same number without the
 * eigensolver's rounding (exact isotropic data give exactly d up to summation rounding).
 * Correlation: rho_ij = C_ij / sqrt(C_ii C_jj), averaged over pairs i < j of units with
 * variance > 0 (corr_units of them; NaN when fewer than two). Units with zero variance (exactly
 * constant, see above) are left out: their correlation is undefined.
 * Balance (with a model; data are the rates r of all N cells): e_i(t) = sum_{j < N_E} W_ij r_j,
 * i_i(t) = sum_{j >= N_E} W_ij r_j with the effective signed W (dgemm per block),
 * balance_i = mean(e_i + i_i) / mean(|e_i| + |i_i|) over rows and trials, in [-1, 1]; NaN for
 * a cell with no recurrent input in the window (denominator 0). drive_e / drive_i are the means
 * of e_i and i_i. Results do not depend on thread counts given a single-threaded BLAS (as the
 * engine's programs set it, eir_blas_single_threaded).
 * Memory: O(n^2 + N BLOCK_ROWS) (C, W and the block buffers). The stop flag is looked at
 * between blocks and, from n = EIR_STOPPABLE_MIN_N on, every 20 ms while dsyevd runs (on a
 * thread of its own that owns C: a stop abandons it, stoppable.h); EIR_ECANCELLED then leaves
 * @p out empty. Failures free everything.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"
#include "eir_analysis.h"
#include "stop.h"
#include "stoppable.h"

extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t len_jobz, size_t len_uplo);

/** Rows of one trial handled per block (the block buffers are BLOCK_ROWS x n doubles). */
enum { BLOCK_ROWS = 256 };

static eir_status check_desc(const eir_activity_desc *d, eir_error *err)
{
    if (!d->data || d->B < 1 || d->T < 1 || d->n < 1)
        return eir_error_set(err, EIR_EINVAL, "/data",
                             "no recorded activity to analyse (trials %d, rows %lld, units %d)",
                             d->B, (long long)d->T, d->n);
    if (d->t0 < 0 || d->t1 > d->T || d->t0 >= d->t1)
        return eir_error_set(err, EIR_EINVAL, "/window",
                             "window [%lld, %lld) must satisfy 0 <= from < to <= %lld (the "
                             "recorded rows)",
                             (long long)d->t0, (long long)d->t1, (long long)d->T);
    if (d->units)
        for (int u = 0; u < d->n; u++)
            if (d->units[u] < 0)
                return eir_error_set(err, EIR_EINVAL, "/units", "unit %d has cell index %d < 0", u,
                                     d->units[u]);
    if (d->model) {
        int N = eir_model_n(d->model);
        if (d->units || d->n != N)
            return eir_error_set(err, EIR_EINVAL, "/balance",
                                 "the balance index needs the rates of all %d cells; %d are "
                                 "recorded",
                                 N, d->n);
    }
    if ((double)d->B * (double)(d->t1 - d->t0) > 9e15)
        return eir_error_set(err, EIR_EINVAL, "/window", "too many samples in the window");
    return EIR_OK;
}

static const double *block_at(const eir_activity_desc *d, int b, int64_t t)
{
    return d->data + ((size_t)b * (size_t)d->T + (size_t)t) * (size_t)d->n;
}

/* Pass 1: means into mean[n] (constant units get their value), finiteness. lo/hi: n each. */
static eir_status pass_means(const eir_activity_desc *d, double *mean, double *lo, double *hi,
                             eir_error *err)
{
    const int n = d->n;
    for (int u = 0; u < n; u++)
        mean[u] = 0.0, lo[u] = INFINITY, hi[u] = -INFINITY;
    for (int b = 0; b < d->B; b++)
        for (int64_t t = d->t0; t < d->t1; t++) {
            if ((t - d->t0) % BLOCK_ROWS == 0 && eir_stop_now(d->stop))
                return eir_error_set(err, EIR_ECANCELLED, NULL, "activity statistics stopped");
            const double *row = block_at(d, b, t);
            for (int u = 0; u < n; u++) {
                double v = row[u];
                if (!isfinite(v))
                    return eir_error_set(err, EIR_EINVAL, "/window",
                                         "the window holds a non-finite value (trial %d, row "
                                         "%lld, unit %d): choose rows before the run diverged",
                                         b, (long long)t, u);
                mean[u] += v;
                if (v < lo[u]) lo[u] = v;
                if (v > hi[u]) hi[u] = v;
            }
        }
    const double S = (double)d->B * (double)(d->t1 - d->t0);
    for (int u = 0; u < n; u++)
        mean[u] = lo[u] == hi[u] ? lo[u] : mean[u] / S;
    return EIR_OK;
}

/* Pass 2: C (n x n, full, row-major) = centred X^T X / S. buf: BLOCK_ROWS x n. */
static eir_status pass_cov(const eir_activity_desc *d, const double *mean, double *C, double *buf,
                           eir_error *err)
{
    const int n = d->n;
    memset(C, 0, (size_t)n * (size_t)n * sizeof *C);
    for (int b = 0; b < d->B; b++)
        for (int64_t t = d->t0; t < d->t1; t += BLOCK_ROWS) {
            if (eir_stop_now(d->stop))
                return eir_error_set(err, EIR_ECANCELLED, NULL, "activity statistics stopped");
            int rows = (int)(d->t1 - t < BLOCK_ROWS ? d->t1 - t : BLOCK_ROWS);
            const double *src = block_at(d, b, t);
            for (int r = 0; r < rows; r++)
                for (int u = 0; u < n; u++)
                    buf[(size_t)r * n + u] = src[(size_t)r * n + u] - mean[u];
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, rows, 1.0, buf, n, 1.0, C, n);
        }
    const double S = (double)d->B * (double)(d->t1 - d->t0);
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double c = C[(size_t)i * n + j] / S;
            C[(size_t)i * n + j] = c;
            C[(size_t)j * n + i] = c;
        }
    return EIR_OK;
}

/* Population moments, correlation and participation ratio from the means and C. */
static void summarise(const eir_activity_desc *d, const double *C, eir_activity_result *out)
{
    const int n = d->n;
    for (int p = 0; p < 2; p++) {
        double s = 0.0, v = 0.0;
        int cnt = 0;
        for (int u = 0; u < n; u++) {
            int cell = d->units ? d->units[u] : u;
            if ((cell < d->n_e ? 0 : 1) != p) continue;
            s += out->unit_mean[u];
            cnt++;
        }
        double mp = cnt ? s / cnt : NAN;
        for (int u = 0; u < n && cnt; u++) {
            int cell = d->units ? d->units[u] : u;
            if ((cell < d->n_e ? 0 : 1) != p) continue;
            double dm = out->unit_mean[u] - mp;
            v += out->unit_var[u] + dm * dm;
        }
        out->mean[p] = mp;
        out->var[p] = cnt ? v / cnt : NAN;
    }
    double trace = 0.0, frob = 0.0, rsum = 0.0;
    long long pairs = 0;
    int live = 0;
    for (int i = 0; i < n; i++) {
        double cii = C[(size_t)i * n + i];
        trace += cii;
        if (cii > 0) live++;
        for (int j = 0; j < n; j++) {
            double c = C[(size_t)i * n + j];
            frob += c * c;
            if (j > i && cii > 0 && C[(size_t)j * n + j] > 0) {
                double rho = c / sqrt(cii * C[(size_t)j * n + j]);
                rsum += rho > 1 ? 1 : rho < -1 ? -1 : rho;
                pairs++;
            }
        }
    }
    out->participation = frob > 0 ? trace * trace / frob : NAN;
    out->corr_units = live;
    out->mean_corr = pairs ? rsum / (double)pairs : NAN;
}

/** One dsyevd call that owns its data (stoppable.h): the covariance (destroyed) and w (the n
 *  eigenvalues, then dsyevd's workspace). */
typedef struct pca_call {
    int n, info;
    double *C, *w;
} pca_call;

static void pca_call_free(void *p)
{
    pca_call *c = p;
    free(c->C);
    free(c->w);
    free(c);
}

static void pca_call_run(void *p)
{
    pca_call *c = p;
    int lwork = 2 * c->n + 1, liwork = 1;
    /* Row-major upper triangle = the column-major lower triangle LAPACK sees. */
    dsyevd_("N", "L", &c->n, c->C, &c->n, c->w, c->w + c->n, &lwork, &liwork, &liwork, &c->info, 1,
            1);
}

/* Eigenvalues of *Cp (taken: *Cp is NULL on return) into out->pca_var (descending) and ratios.
 * From n = EIR_STOPPABLE_MIN_N on, dsyevd runs on a thread of its own and a stop abandons it. */
static eir_status pca(int n, double **Cp, const eir_stop *stop, eir_activity_result *out,
                      eir_error *err)
{
    double trace = 0.0;
    for (int i = 0; i < n; i++)
        trace += (*Cp)[(size_t)i * n + i];
    pca_call *c = calloc(1, sizeof *c);
    double *w = malloc((size_t)(n + 2 * n + 1) * sizeof *w);
    if (!c || !w) {
        free(c);
        free(w);
        free(*Cp);
        *Cp = NULL;
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the PCA (n = %d)", n);
    }
    *c = (pca_call){.n = n, .C = *Cp, .w = w};
    *Cp = NULL;
    if (n >= EIR_STOPPABLE_MIN_N) {
        if (eir_stoppable_run(pca_call_run, c, pca_call_free, stop) != EIR_OK)
            return eir_error_set(err, EIR_ECANCELLED, NULL,
                                 "activity statistics stopped (in the PCA of %d units)", n);
    } else {
        pca_call_run(c);
    }
    if (c->info != 0) {
        const int info = c->info;
        pca_call_free(c);
        return eir_error_set(err, EIR_ENUMERIC, NULL,
                             "LAPACK dsyevd failed on the covariance matrix (info %d)", info);
    }
    for (int k = 0; k < n; k++) {
        double l = c->w[n - 1 - k];
        out->pca_var[k] = l > 0 ? l : 0.0;
        out->pca_ratio[k] = trace > 0 ? out->pca_var[k] / trace : NAN;
    }
    pca_call_free(c);
    return EIR_OK;
}

/* E/I balance index per cell (see the Numerics comment). bufs: 2 x BLOCK_ROWS x N. */
static eir_status balance(const eir_activity_desc *d, eir_activity_result *out, eir_error *err)
{
    const int N = d->n, ne = eir_model_n_e(d->model), ni = N - ne;
    double *W = malloc((size_t)N * (size_t)N * sizeof *W);
    double *E = malloc(2 * (size_t)BLOCK_ROWS * (size_t)N * sizeof *E);
    double *acc = calloc(2 * (size_t)N, sizeof *acc); /* sum(e + i), sum(|e| + |i|) */
    out->balance = malloc((size_t)N * sizeof(double));
    out->drive_e = calloc((size_t)N, sizeof(double));
    out->drive_i = calloc((size_t)N, sizeof(double));
    eir_status st = EIR_OK;
    if (!W || !E || !acc || !out->balance || !out->drive_e || !out->drive_i) {
        st =
            eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the balance index (N = %d)", N);
        goto done;
    }
    double *Ib = E + (size_t)BLOCK_ROWS * N;
    eir_model_W_dense(d->model, W);
    for (int b = 0; b < d->B && st == EIR_OK; b++)
        for (int64_t t = d->t0; t < d->t1; t += BLOCK_ROWS) {
            if (eir_stop_now(d->stop)) {
                st = eir_error_set(err, EIR_ECANCELLED, NULL, "activity statistics stopped");
                break;
            }
            int rows = (int)(d->t1 - t < BLOCK_ROWS ? d->t1 - t : BLOCK_ROWS);
            const double *R = block_at(d, b, t);
            /* E[r][i] = sum_{j < ne} R[r][j] W[i][j]; Ib likewise over the I columns. */
            if (ne > 0)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, ne, 1.0, R, N, W, N,
                            0.0, E, N);
            else
                memset(E, 0, (size_t)rows * N * sizeof *E);
            if (ni > 0)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, ni, 1.0, R + ne, N,
                            W + ne, N, 0.0, Ib, N);
            else
                memset(Ib, 0, (size_t)rows * N * sizeof *Ib);
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < N; i++) {
                    double e = E[(size_t)r * N + i], h = Ib[(size_t)r * N + i];
                    out->drive_e[i] += e;
                    out->drive_i[i] += h;
                    acc[i] += e + h;
                    acc[N + i] += fabs(e) + fabs(h);
                }
        }
    if (st == EIR_OK) {
        const double S = (double)d->B * (double)(d->t1 - d->t0);
        for (int i = 0; i < N; i++) {
            out->drive_e[i] /= S;
            out->drive_i[i] /= S;
            double bal = acc[N + i] > 0 ? acc[i] / acc[N + i] : NAN;
            out->balance[i] = bal > 1 ? 1 : bal < -1 ? -1 : bal;
        }
    }
done:
    free(W);
    free(E);
    free(acc);
    return st;
}

eir_status eir_activity(const eir_activity_desc *d, eir_activity_result *out, eir_error *err)
{
    memset(out, 0, sizeof *out);
    eir_status st = check_desc(d, err);
    if (st != EIR_OK) return st;
    const int n = d->n;
    const size_t nn = (size_t)n * (size_t)n;
    out->n = n;
    out->unit_mean = malloc((size_t)n * sizeof(double));
    out->unit_var = malloc((size_t)n * sizeof(double));
    out->pca_var = malloc((size_t)n * sizeof(double));
    out->pca_ratio = malloc((size_t)n * sizeof(double));
    double *C = malloc(nn * sizeof *C);
    double *buf = malloc(((size_t)BLOCK_ROWS + 2) * (size_t)n * sizeof *buf);
    if (!out->unit_mean || !out->unit_var || !out->pca_var || !out->pca_ratio || !C || !buf) {
        st =
            eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the statistics of %d units", n);
        goto done;
    }
    st = pass_means(d, out->unit_mean, buf, buf + n, err);
    if (st == EIR_OK) st = pass_cov(d, out->unit_mean, C, buf, err);
    if (st != EIR_OK) goto done;
    for (int u = 0; u < n; u++)
        out->unit_var[u] = C[(size_t)u * n + u];
    summarise(d, C, out);
    st = pca(n, &C, d->stop, out, err); /* takes C */
    if (st == EIR_OK && d->model) st = balance(d, out, err);
done:
    free(C);
    free(buf);
    if (st != EIR_OK) eir_activity_result_free(out);
    return st;
}

void eir_activity_result_free(eir_activity_result *r)
{
    if (!r) return;
    free(r->unit_mean);
    free(r->unit_var);
    free(r->pca_var);
    free(r->pca_ratio);
    free(r->balance);
    free(r->drive_e);
    free(r->drive_i);
    memset(r, 0, sizeof *r);
}
