/**
 * @file eigen.c
 * @brief Eigenvalues and right eigenvectors of a general real matrix (eir_analysis.h).
 *
 * Numerics: LAPACK dgeev (balancing, Hessenberg reduction, shifted QR; backward stable: the
 * computed eigenvalues are exact for A + E with |E| ~ 1e-16 |A|, so a well-conditioned
 * eigenvalue is good to about that, a defective one to its square root). The row-major input is
 * transposed into dgeev's column-major copy (dgeev would otherwise see A^T and return left
 * eigenvectors). dgeev returns a complex pair (wi[j] > 0, wi[j+1] < 0) as two real columns
 * vr[:, j] +- i vr[:, j+1]; they are expanded to two complex vectors, each of unit 2-norm with
 * its largest component real (dgeev's normalisation, which numpy.linalg.eig returns too).
 * Sorting: by real part descending, ties by imaginary part descending, equal values in dgeev's
 * order (a stable sort by index). Cost: dgeev's O(N^3) plus O(N^2) copies. Failure: EIR_EINVAL
 * for n < 1 or a non-finite entry ("/matrix"), EIR_ENOMEM, EIR_ENUMERIC when dgeev's QR does not
 * converge (info > 0), EIR_ECANCELLED when the stop flag is set before or while dgeev runs:
 * from N = EIR_STOPPABLE_MIN_N on, dgeev runs on a thread of its own on a copy it owns
 * (stoppable.h), the caller looks at the flag every 20 ms and, when it is requested, returns at
 * once and abandons the solver (which ends on its own, its result discarded).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eir_analysis.h"
#include "stop.h"
#include "stoppable.h"

/* LAPACK's Fortran entry point; the trailing size_t are the hidden CHARACTER lengths. */
extern void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
                   double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
                   double *work, const int *lwork, int *info, size_t len_jobvl, size_t len_jobvr);

/** -1 when value a sorts before value b (real part descending, then imaginary descending). */
static inline int eig_cmp(double ar, double ai, double br, double bi)
{
    if (ar != br) return ar > br ? -1 : 1;
    if (ai != bi) return ai > bi ? -1 : 1;
    return 0;
}

void eir_eig_sort(double *vals, double *vecs, int n)
{
    /* Stable insertion sort: no allocation; O(n^2) comparisons at worst, and with vecs each
     * move of a value moves its column (eir_eigen sorts by index instead and does not use it). */
    for (int k = 1; k < n; k++) {
        double re = vals[2 * k], im = vals[2 * k + 1];
        int p = k;
        while (p > 0 && eig_cmp(re, im, vals[2 * (p - 1)], vals[2 * (p - 1) + 1]) < 0)
            p--;
        if (p == k) continue;
        memmove(vals + 2 * p + 2, vals + 2 * p, (size_t)(k - p) * 2 * sizeof *vals);
        vals[2 * p] = re;
        vals[2 * p + 1] = im;
        if (!vecs) continue;
        for (int i = 0; i < n; i++) {
            double *row = vecs + 2 * (size_t)i * n;
            double vr = row[2 * k], vi = row[2 * k + 1];
            memmove(row + 2 * p + 2, row + 2 * p, (size_t)(k - p) * 2 * sizeof *row);
            row[2 * p] = vr;
            row[2 * p + 1] = vi;
        }
    }
}

void eir_eig_summarise(const double *vals, int n, eir_eig_summary *out)
{
    out->radius = 0.0;
    out->abscissa = n > 0 ? -INFINITY : NAN;
    out->n_positive = 0;
    for (int k = 0; k < n; k++) {
        double re = vals[2 * k], im = vals[2 * k + 1];
        double mod = hypot(re, im);
        if (mod > out->radius || isnan(mod)) out->radius = mod;
        if (re > out->abscissa || isnan(re)) out->abscissa = re;
        out->n_positive += re > 0;
    }
}

/** What qsort compares: an eigenvalue and its index in dgeev's order (for stability). */
typedef struct eig_key {
    double re, im;
    int idx;
} eig_key;

static int key_cmp(const void *pa, const void *pb)
{
    const eig_key *a = pa, *b = pb;
    int c = eig_cmp(a->re, a->im, b->re, b->im);
    if (c) return c;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/** Column k of the complex eigenvectors (dgeev's vr, column-major) as a complex column
 *  @p dst of the row-major n x n complex output. */
static void put_vector(const double *vr, const double *wi, int n, int k, double *vecs, int dst)
{
    const double *c = vr + (size_t)k * n;
    if (wi[k] == 0.0) {
        for (int i = 0; i < n; i++) {
            vecs[2 * ((size_t)i * n + dst)] = c[i];
            vecs[2 * ((size_t)i * n + dst) + 1] = 0.0;
        }
        return;
    }
    /* pair (j, j+1) with wi[j] > 0: v_j = vr[:, j] + i vr[:, j+1], v_{j+1} its conjugate */
    const int first = wi[k] > 0.0;
    const double *re = first ? c : c - n, *im = first ? c + n : c;
    const double sign = first ? 1.0 : -1.0;
    for (int i = 0; i < n; i++) {
        vecs[2 * ((size_t)i * n + dst)] = re[i];
        vecs[2 * ((size_t)i * n + dst) + 1] = sign * im[i];
    }
}

/** One dgeev call that owns its data (stoppable.h): the column-major copy of the matrix (which
 *  dgeev destroys), the eigenvalues (wr, then wi) and the right eigenvectors when wanted. */
typedef struct eig_call {
    int n, want;
    int info;  /**< dgeev's */
    int nomem; /**< 1 when its workspace could not be allocated (dgeev not called) */
    double *at, *wr, *vr;
} eig_call;

static void eig_call_free(void *p)
{
    eig_call *c = p;
    free(c->at);
    free(c->wr);
    free(c->vr);
    free(c);
}

/** The workspace query, the workspace and the dgeev call itself (the O(N^3) part). */
static void eig_call_run(void *p)
{
    eig_call *c = p;
    const int n = c->n, want = c->want;
    double *wi = c->wr + n;
    const char jobvl = 'N', jobvr = want ? 'V' : 'N';
    const int one = 1, ldvr = want ? n : 1;
    int lwork = -1, info = 0;
    double wq = 0.0, dummy = 0.0;
    dgeev_(&jobvl, &jobvr, &n, c->at, &n, c->wr, wi, &dummy, &one, want ? c->vr : &dummy, &ldvr,
           &wq, &lwork, &info, 1, 1);
    lwork = info == 0 && wq >= 1 ? (int)wq : (want ? 4 * n : 3 * n);
    if (lwork < (want ? 4 * n : 3 * n)) lwork = want ? 4 * n : 3 * n;
    double *work = malloc((size_t)lwork * sizeof *work);
    if (!work) {
        c->nomem = 1;
        return;
    }
    dgeev_(&jobvl, &jobvr, &n, c->at, &n, c->wr, wi, &dummy, &one, want ? c->vr : &dummy, &ldvr,
           work, &lwork, &info, 1, 1);
    c->info = info;
    free(work);
}

eir_status eir_eigen(const double *a, int n, double *vals, double *vecs, const eir_stop *stop,
                     eir_error *err)
{
    if (n < 1)
        return eir_error_set(err, EIR_EINVAL, "/matrix",
                             "the matrix must be at least 1 x 1, got n = %d", n);
    const size_t nn = (size_t)n * n;
    for (size_t k = 0; k < nn; k++)
        if (!isfinite(a[k]))
            return eir_error_set(err, EIR_EINVAL, "/matrix",
                                 "the matrix must be finite; entry (%zu, %zu) is %g", k / n, k % n,
                                 a[k]);
    if (eir_stop_now(stop))
        return eir_error_set(err, EIR_ECANCELLED, NULL, "the eigenvalue computation was stopped");
    const int want = vecs != NULL;
    eig_call *c = calloc(1, sizeof *c);
    eig_key *keys = malloc((size_t)n * sizeof *keys);
    if (!c || !keys) {
        free(c);
        free(keys);
        return eir_error_set(err, EIR_ENOMEM, NULL,
                             "out of memory for the eigenvalues of a %d x %d matrix", n, n);
    }
    c->n = n;
    c->want = want;
    c->at = malloc(nn * sizeof *c->at);
    c->wr = malloc(2 * (size_t)n * sizeof *c->wr);
    c->vr = want ? malloc(nn * sizeof *c->vr) : NULL;
    eir_status s = EIR_OK;
    if (!c->at || !c->wr || (want && !c->vr)) goto nomem;
    for (int i = 0; i < n; i++) /* column-major copy: at[j n + i] = a[i][j] */
        for (int j = 0; j < n; j++)
            c->at[(size_t)j * n + i] = a[(size_t)i * n + j];
    if (n >= EIR_STOPPABLE_MIN_N) {
        if (eir_stoppable_run(eig_call_run, c, eig_call_free, stop) != EIR_OK) {
            free(keys); /* c belongs to the abandoned solver now */
            return eir_error_set(err, EIR_ECANCELLED, NULL,
                                 "the eigenvalue computation of a %d x %d matrix was stopped", n,
                                 n);
        }
    } else {
        eig_call_run(c);
    }
    if (c->nomem) goto nomem;
    if (c->info != 0) {
        s = eir_error_set(err, EIR_ENUMERIC, "/matrix",
                          "LAPACK dgeev failed (info %d): the QR algorithm did not converge for "
                          "this %d x %d matrix",
                          c->info, n, n);
        goto out;
    }
    const double *wr = c->wr, *wi = c->wr + n;
    for (int k = 0; k < n; k++)
        keys[k] = (eig_key){wr[k], wi[k], k};
    qsort(keys, (size_t)n, sizeof *keys, key_cmp);
    for (int k = 0; k < n; k++) {
        vals[2 * k] = keys[k].re;
        vals[2 * k + 1] = keys[k].im;
        if (want) put_vector(c->vr, wi, n, keys[k].idx, vecs, k);
    }
    goto out;
nomem:
    s = eir_error_set(err, EIR_ENOMEM, NULL,
                      "out of memory for the eigenvalues of a %d x %d matrix", n, n);
out:
    eig_call_free(c);
    free(keys);
    return s;
}
