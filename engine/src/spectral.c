/**
 * @file spectral.c
 * @brief Spectral radius of a dense matrix through LAPACK dgeev (eigenvalues only).
 */
#include "eir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * LAPACK's Fortran entry point (reference LAPACK as shipped in OpenBLAS's liblapack; there is no
 * LAPACKE in that library). The two trailing size_t arguments are the hidden lengths of the
 * CHARACTER arguments that gfortran-compiled code expects.
 */
extern void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
                   double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
                   double *work, const int *lwork, int *info, size_t len_jobvl, size_t len_jobvr);

/**
 * Spectral radius of the n x n row-major matrix @p a (max |eigenvalue|), via dgeev with
 * jobvl = jobvr = 'N'. The row-major array is handed to LAPACK as is: LAPACK then sees the
 * transpose, which has the same eigenvalues. @p a is not modified (dgeev works on a copy).
 *
 * n = 0 gives radius 0. On failure *radius is NaN and: EIR_EINVAL for a NULL pointer, n < 0,
 * n * n overflowing size_t or a non-finite entry (the message names the first one);
 * EIR_ENOMEM when the copy or the workspace cannot be allocated; EIR_ENUMERIC when dgeev
 * reports an error or does not converge. Nothing is leaked on any path.
 */
eir_status eir_spectral_radius(const double *a, int n, double *radius, eir_error *err)
{
    if (radius == NULL)
        return eir_error_set(err, EIR_EINVAL, NULL, "spectral radius: no output given");
    *radius = NAN;
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

    double *copy = malloc(nn * sizeof *copy);
    double *wr = malloc((size_t)n * sizeof *wr);
    double *wi = malloc((size_t)n * sizeof *wi);
    double *work = NULL;
    eir_status st = EIR_OK;
    if (copy == NULL || wr == NULL || wi == NULL) {
        st = eir_error_set(err, EIR_ENOMEM, NULL,
                           "spectral radius: out of memory for a %d x %d matrix", n, n);
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
        st = eir_error_set(err, EIR_ENUMERIC, NULL,
                           "spectral radius: LAPACK dgeev workspace query failed (info %d)", info);
        goto done;
    }
    lwork = (int)query;
    if (lwork < 3 * n) lwork = 3 * n; /* dgeev's documented minimum without eigenvectors */
    work = malloc((size_t)lwork * sizeof *work);
    if (work == NULL) {
        st = eir_error_set(err, EIR_ENOMEM, NULL,
                           "spectral radius: out of memory for the LAPACK workspace");
        goto done;
    }
    dgeev_(&no, &no, &n, copy, &lda, wr, wi, &dummy_v, &ldv, &dummy_v, &ldv, work, &lwork, &info, 1,
           1);
    if (info < 0) {
        st = eir_error_set(err, EIR_ENUMERIC, NULL,
                           "spectral radius: LAPACK dgeev rejected argument %d", -info);
        goto done;
    }
    if (info > 0) {
        st = eir_error_set(err, EIR_ENUMERIC, NULL,
                           "spectral radius: LAPACK dgeev did not converge (QR algorithm "
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
