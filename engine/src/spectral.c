/**
 * @file spectral.c
 * @brief Spectral radius of a dense matrix: the eigenvalue of largest modulus by implicitly
 *        restarted Arnoldi (ARPACK) for large matrices, every eigenvalue by LAPACK dgeev for
 *        small ones and when Arnoldi fails.
 *
 * Why both: dgeev costs O(N^3) (39 s at N = 4096) for a number that Arnoldi finds with a few
 * hundred matrix-vector products; below EIR_RADIUS_ARNOLDI_MIN_N dgeev is cheap and Arnoldi's
 * basis would be most of the matrix. Determinism: Arnoldi starts from a fixed vector drawn from
 * Philox, multiplies with a plain loop of fixed summation order (not OpenBLAS's dgemv, whose
 * bits depend on how its threads split the rows), and its result is refused when ARPACK drew a
 * random vector of its own. ARPACK's internal BLAS calls are OpenBLAS's, single-threaded in
 * eirnnd and eirnn (eir_blas_single_threaded), as dgeev's are.
 */
#include "eir.h"

#include <arpack/arpack.h>
#include <arpack/stat_c.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "stop.h"

/*
 * LAPACK's Fortran entry point (reference LAPACK as shipped in OpenBLAS's liblapack; there is no
 * LAPACKE in that library). The two trailing size_t arguments are the hidden lengths of the
 * CHARACTER arguments that gfortran-compiled code expects.
 */
extern void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
                   double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
                   double *work, const int *lwork, int *info, size_t len_jobvl, size_t len_jobvr);

/* Arnoldi's parameters. One wanted eigenvalue (ARPACK keeps a complex pair together); a basis of
 * 100 vectors, which finds the edge of a random matrix's disc of eigenvalues (with 60 one such
 * matrix of N = 1000 stagnated for 11,000 products, with 20 another settled on a smaller
 * eigenvalue); the relative residual; and a budget of implicit restarts, each at most
 * NCV - NEV products: about 1,500 products, which cost about what dgeev does at N = 1000 to
 * 4096 on one core (a product is memory-bound, O(N^2); dgeev is O(N^3) at a higher rate). A
 * matrix with a dominant eigenvalue needs one restart; the disc of a balanced random matrix a
 * few hundred to a thousand products. */
enum { ARNOLDI_NEV = 1, ARNOLDI_NCV = 100, ARNOLDI_MAX_RESTARTS = 15 };
static const double ARNOLDI_TOL = 1e-13;

/* ARPACK keeps its state between reverse-communication calls in Fortran SAVE variables (and
 * its counters in a COMMON block): one Arnoldi at a time in the process. The only mutable
 * global of the engine, forced by the library. */
static pthread_mutex_t arpack_lock = PTHREAD_MUTEX_INITIALIZER;

/* y = A x for the row-major n x n matrix A; a fixed summation order (4 partial sums per row). */
static void matvec(const double *a, int n, const double *x, double *y)
{
    for (int i = 0; i < n; i++) {
        const double *row = a + (size_t)i * (size_t)n;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        int j = 0;
        for (; j + 3 < n; j += 4) {
            s0 += row[j] * x[j];
            s1 += row[j + 1] * x[j + 1];
            s2 += row[j + 2] * x[j + 2];
            s3 += row[j + 3] * x[j + 3];
        }
        for (; j < n; j++)
            s0 += row[j] * x[j];
        y[i] = (s0 + s1) + (s2 + s3);
    }
}

/* The fixed start vector: uniform in (-1, 1) from Philox (key 0, stream EIR_STREAM_SPECTRAL).
 * Not a constant vector: balanced rows make A 1 = 0. */
static void start_vector(double *v, int n)
{
    for (int i = 0; i < n; i += 2) {
        eir_philox4 c = {{(uint32_t)(i / 2), 0u, 0u, EIR_STREAM_SPECTRAL}};
        eir_philox4 r = eir_philox4x32(c, 0);
        v[i] = 2.0 * eir_u01(r.v[0], r.v[1]) - 1.0;
        if (i + 1 < n) v[i + 1] = 2.0 * eir_u01(r.v[2], r.v[3]) - 1.0;
    }
}

/* Work arrays of one Arnoldi run. */
typedef struct arnoldi_work {
    double *resid, *v, *workd, *workl, *dr, *di, *workev;
    a_int *select;
} arnoldi_work;

static void arnoldi_free(arnoldi_work *w)
{
    free(w->resid);
    free(w->v);
    free(w->workd);
    free(w->workl);
    free(w->dr);
    free(w->di);
    free(w->workev);
    free(w->select);
}

/*
 * The radius by ARPACK (which = "LM"). Returns EIR_OK with *radius set, EIR_ENOMEM,
 * EIR_ECANCELLED when @p stop (may be NULL) was requested (checked after every product; the
 * next dnaupd call with ido = 0 starts afresh), or EIR_ENUMERIC with info->arnoldi_note saying
 * why the result cannot be used. Takes arpack_lock.
 */
static eir_status radius_arnoldi(const double *a, int n, const eir_stop *stop, double *radius,
                                 eir_radius_info *info)
{
    const a_int nev = ARNOLDI_NEV, ncv = n - 1 < ARNOLDI_NCV ? n - 1 : ARNOLDI_NCV;
    const a_int lworkl = 3 * ncv * ncv + 6 * ncv;
    info->arnoldi_tried = 1;
    if (ncv < nev + 2) {
        snprintf(info->arnoldi_note, sizeof info->arnoldi_note, "Arnoldi needs N >= %d (got %d)",
                 nev + 3, n);
        return EIR_ENUMERIC;
    }
    arnoldi_work w = {0};
    w.resid = malloc((size_t)n * sizeof *w.resid);
    w.v = malloc((size_t)n * (size_t)ncv * sizeof *w.v);
    w.workd = malloc(3 * (size_t)n * sizeof *w.workd);
    w.workl = malloc((size_t)lworkl * sizeof *w.workl);
    w.dr = malloc((size_t)(nev + 1) * sizeof *w.dr);
    w.di = malloc((size_t)(nev + 1) * sizeof *w.di);
    w.workev = malloc(3 * (size_t)ncv * sizeof *w.workev);
    w.select = calloc((size_t)ncv, sizeof *w.select);
    if (!w.resid || !w.v || !w.workd || !w.workl || !w.dr || !w.di || !w.workev || !w.select) {
        arnoldi_free(&w);
        return EIR_ENOMEM;
    }
    start_vector(w.resid, n);

    a_int iparam[11] = {0}, ipntr[14] = {0}, ido = 0, status = 1; /* 1: use resid as start */
    iparam[0] = 1;                                                /* exact shifts */
    iparam[2] = ARNOLDI_MAX_RESTARTS;
    iparam[6] = 1; /* mode 1: A x = lambda x */
    eir_status st = EIR_OK;
    pthread_mutex_lock(&arpack_lock);
    for (;;) {
        dnaupd_c(&ido, "I", n, "LM", nev, ARNOLDI_TOL, w.resid, ncv, w.v, n, iparam, ipntr, w.workd,
                 w.workl, lworkl, &status);
        if (ido != -1 && ido != 1) break;
        matvec(a, n, w.workd + ipntr[0] - 1, w.workd + ipntr[1] - 1);
        info->matvecs++;
        if (eir_stop_now(stop)) {
            st = EIR_ECANCELLED;
            break;
        }
    }
    if (st == EIR_ECANCELLED) {
        pthread_mutex_unlock(&arpack_lock);
        arnoldi_free(&w);
        return st;
    }
    info->restarts = iparam[2];
    /* ARPACK's counters: nrstrt counts the restarts of the Arnoldi process from a random
     * vector (dgetv0 with its own seed, kept across calls) after an invariant subspace. */
    a_int nopx, nbx, nrorth, nitref, nrstrt;
    float t[26];
    stat_c(&nopx, &nbx, &nrorth, &nitref, &nrstrt, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6],
           &t[7], &t[8], &t[9], &t[10], &t[11], &t[12], &t[13], &t[14], &t[15], &t[16], &t[17],
           &t[18], &t[19], &t[20], &t[21], &t[22], &t[23], &t[24], &t[25]);
    if (status == 1) {
        snprintf(info->arnoldi_note, sizeof info->arnoldi_note,
                 "Arnoldi did not converge in %d restarts (%d of %d eigenvalues converged, "
                 "%d products)",
                 (int)ARNOLDI_MAX_RESTARTS, (int)iparam[4], (int)nev, info->matvecs);
        st = EIR_ENUMERIC;
    } else if (status != 0) {
        snprintf(info->arnoldi_note, sizeof info->arnoldi_note, "ARPACK dnaupd failed (info %d%s)",
                 (int)status, status == 3 ? ": no shifts could be applied" : "");
        st = EIR_ENUMERIC;
    } else if (nrstrt > 0) {
        snprintf(info->arnoldi_note, sizeof info->arnoldi_note,
                 "the Krylov space became invariant and ARPACK restarted from a random vector "
                 "(%d times): not reproducible",
                 (int)nrstrt);
        st = EIR_ENUMERIC;
    } else {
        a_int ierr = 0;
        dneupd_c(0, "A", w.select, w.dr, w.di, w.v, n, 0.0, 0.0, w.workev, "I", n, "LM", nev,
                 ARNOLDI_TOL, w.resid, ncv, w.v, n, iparam, ipntr, w.workd, w.workl, lworkl, &ierr);
        if (ierr != 0 || iparam[4] < 1) {
            snprintf(info->arnoldi_note, sizeof info->arnoldi_note,
                     "ARPACK dneupd failed (info %d, %d eigenvalues converged)", (int)ierr,
                     (int)iparam[4]);
            st = EIR_ENUMERIC;
        } else {
            double r = 0.0;
            for (a_int k = 0; k < iparam[4] && k < nev + 1; k++) {
                double m = hypot(w.dr[k], w.di[k]);
                if (m > r) r = m;
            }
            *radius = r;
        }
    }
    pthread_mutex_unlock(&arpack_lock);
    arnoldi_free(&w);
    return st;
}

/*
 * The radius by dgeev (every eigenvalue). Returns EIR_OK, EIR_ENOMEM or EIR_ENUMERIC, with
 * the message in @p err.
 */
static eir_status radius_dense(const double *a, int n, double *radius, eir_error *err)
{
    size_t nn = (size_t)n * (size_t)n;
    double *copy = malloc(nn * sizeof *copy);
    double *wr = malloc((size_t)n * sizeof *wr);
    double *wi = malloc((size_t)n * sizeof *wi);
    double *work = NULL;
    eir_status st = EIR_OK;
    if (copy == NULL || wr == NULL || wi == NULL) {
        st = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for a %d x %d matrix", n, n);
        goto done;
    }
    memcpy(copy, a, nn * sizeof *copy);

    const char no = 'N';
    int lda = n, ldv = 1, info = 0, lwork = -1;
    double dummy_v = 0.0, query = 0.0;
    /* Workspace query. */
    dgeev_(&no, &no, &n, copy, &lda, wr, wi, &dummy_v, &ldv, &dummy_v, &ldv, &query, &lwork, &info,
           1, 1);
    if (info != 0) {
        st = eir_error_set(err, EIR_ENUMERIC, NULL, "LAPACK dgeev workspace query failed (info %d)",
                           info);
        goto done;
    }
    lwork = (int)query;
    if (lwork < 3 * n) lwork = 3 * n; /* dgeev's documented minimum without eigenvectors */
    work = malloc((size_t)lwork * sizeof *work);
    if (work == NULL) {
        st = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory for the LAPACK workspace");
        goto done;
    }
    dgeev_(&no, &no, &n, copy, &lda, wr, wi, &dummy_v, &ldv, &dummy_v, &ldv, work, &lwork, &info, 1,
           1);
    if (info < 0) {
        st = eir_error_set(err, EIR_ENUMERIC, NULL, "LAPACK dgeev rejected argument %d", -info);
        goto done;
    }
    if (info > 0) {
        st = eir_error_set(err, EIR_ENUMERIC, NULL,
                           "LAPACK dgeev did not converge (QR algorithm "
                           "failed at eigenvalue %d of %d)",
                           info, n);
        goto done;
    }
    double r = 0.0;
    for (int k = 0; k < n; k++) {
        double m = hypot(wr[k], wi[k]);
        if (m > r) r = m;
    }
    *radius = r;

done:
    free(work);
    free(wi);
    free(wr);
    free(copy);
    return st;
}

eir_status eir_spectral_radius(const double *a, int n, double *radius, eir_error *err)
{
    return eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, radius, NULL, err);
}

/*
 * On failure *radius is NaN and: EIR_EINVAL for a NULL pointer, n < 0, an unknown method,
 * n * n overflowing size_t or a non-finite entry (the message names the first one);
 * EIR_ENOMEM when memory runs out; EIR_ENUMERIC when the method(s) fail (the message says what
 * Arnoldi and dgeev did). Nothing is leaked on any path. The row-major array is handed to
 * LAPACK as is (LAPACK sees the transpose, which has the same eigenvalues); @p a is not
 * modified.
 */
eir_status eir_spectral_radius_ex(const double *a, int n, eir_radius_method method, double *radius,
                                  eir_radius_info *info, eir_error *err)
{
    return eir_spectral_radius_stop(a, n, method, NULL, radius, info, err);
}

/* eir_spectral_radius_ex() with a stop flag; EIR_ECANCELLED (no field) when it stopped. */
eir_status eir_spectral_radius_stop(const double *a, int n, eir_radius_method method,
                                    const eir_stop *stop, double *radius, eir_radius_info *info,
                                    eir_error *err)
{
    eir_radius_info scratch;
    if (info == NULL) info = &scratch;
    memset(info, 0, sizeof *info);
    info->used = EIR_RADIUS_DENSE;
    if (radius == NULL)
        return eir_error_set(err, EIR_EINVAL, NULL, "spectral radius: no output given");
    *radius = NAN;
    if (method != EIR_RADIUS_AUTO && method != EIR_RADIUS_DENSE && method != EIR_RADIUS_ARNOLDI)
        return eir_error_set(err, EIR_EINVAL, NULL, "spectral radius: unknown method %d",
                             (int)method);
    if (n < 0)
        return eir_error_set(err, EIR_EINVAL, NULL,
                             "spectral radius: matrix size must be >= 0 (got %d)", n);
    if (n == 0) {
        *radius = 0.0;
        return EIR_OK;
    }
    if (a == NULL) return eir_error_set(err, EIR_EINVAL, NULL, "spectral radius: no matrix given");
    size_t nn = (size_t)n * (size_t)n;
    if (nn / (size_t)n != (size_t)n || nn > SIZE_MAX / sizeof(double))
        return eir_error_set(err, EIR_EINVAL, NULL,
                             "spectral radius: a %d x %d matrix is too large", n, n);
    for (size_t k = 0; k < nn; k++) {
        if (!isfinite(a[k]))
            return eir_error_set(err, EIR_EINVAL, NULL,
                                 "spectral radius: entry (%zu, %zu) is not finite; the "
                                 "eigenvalues of such a matrix are undefined",
                                 k / (size_t)n, k % (size_t)n);
    }

    if (method == EIR_RADIUS_ARNOLDI ||
        (method == EIR_RADIUS_AUTO && n >= EIR_RADIUS_ARNOLDI_MIN_N)) {
        double r = NAN;
        eir_status st = radius_arnoldi(a, n, stop, &r, info);
        if (st == EIR_ECANCELLED)
            return eir_error_set(err, st, NULL,
                                 "spectral radius: stopped after %d matrix-vector products",
                                 info->matvecs);
        if (st == EIR_OK) {
            info->used = EIR_RADIUS_ARNOLDI;
            info->arnoldi_ok = 1;
            *radius = r;
            return EIR_OK;
        }
        if (st == EIR_ENOMEM)
            return eir_error_set(err, EIR_ENOMEM, NULL,
                                 "spectral radius: out of memory for Arnoldi's basis (N = %d)", n);
        if (method == EIR_RADIUS_ARNOLDI)
            return eir_error_set(err, EIR_ENUMERIC, NULL, "spectral radius: %s",
                                 info->arnoldi_note);
    }
    info->used = EIR_RADIUS_DENSE;
    if (eir_stop_now(stop))
        return eir_error_set(err, EIR_ECANCELLED, NULL, "spectral radius: stopped");
    eir_error dense_err;
    eir_status st = radius_dense(a, n, radius, &dense_err);
    if (st == EIR_OK) return EIR_OK;
    if (info->arnoldi_tried && st == EIR_ENUMERIC)
        return eir_error_set(err, st, NULL, "spectral radius: %s; then %s", info->arnoldi_note,
                             dense_err.message);
    return eir_error_set(err, st, NULL, "spectral radius: %s", dense_err.message);
}
