/**
 * @file eir_analysis.h
 * @brief What a theorist asks of a built network (docs/ANALYSIS.md): its matrices, the
 *        dynamics and its Jacobian, eigenvalues, fixed points and slow points, Lyapunov
 *        exponents, and statistics of recorded activity. Numerics only: no I/O, no JSON.
 *
 * Conventions (as eir.h): matrices are row-major doubles; every function that can fail returns
 * an ::eir_status and fills @p err (field named as a JSON pointer relative to the analysis
 * request, e.g. "/x"); outputs are owned by the caller unless a *_free function is named. Long
 * computations take an optional ::eir_stop (NULL = never) and progress callback (NULL = none)
 * and then return EIR_ECANCELLED with nothing useful in their outputs. Results never depend on
 * thread counts: the same inputs give the same bytes.
 *
 * Eigenvalues are always returned sorted by real part descending, ties by imaginary part
 * descending (eir_eig_sort()); complex numbers are stored interleaved (re, im), which is
 * NumPy's complex128 layout.
 */
#ifndef EIR_ANALYSIS_H
#define EIR_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "eir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Matrices of a built model (GET /v1/models/{id}/matrices, `eirnn model export`)             */
/* ------------------------------------------------------------------------------------------ */

/** The matrices a model can hand back. */
typedef enum eir_matrix {
    EIR_MAT_W = 0,     /**< effective signed W, N x N */
    EIR_MAT_M = 1,     /**< effective gate matrix M (A (.) |W|, reduced form), N x N */
    EIR_MAT_K = 2,     /**< conductances K (conductance form only; equals M), N x N */
    EIR_MAT_P = 3,     /**< input weights, N x n_in (only when n_in > 0) */
    EIR_MAT_M_IN = 4,  /**< input conductances, N x n_in (only when input gating is on) */
    EIR_MAT_G_B = 5,   /**< leak G_b, length N (broadcast values expanded) */
    EIR_MAT_BIAS = 6,  /**< bias b, length N (broadcast, or zeros) */
    EIR_MAT_W_OUT = 7, /**< readout, n_out x (N or N_E) (only with a readout) */
    EIR_MAT_B_OUT = 8  /**< readout bias, length n_out (only with a readout) */
} eir_matrix;
#define EIR_NMATRICES 9

/** Name of a matrix ("W", "M", "K", "P", "M_in", "G_b", "bias", "W_out", "b_out"). */
const char *eir_matrix_name(eir_matrix k);

/** Parse a matrix name; -1 when unknown. */
int eir_matrix_parse(const char *name);

/**
 * Whether model @p m has matrix @p k and its shape: returns the number of dimensions (1 or 2)
 * and fills shape[0..ndim-1], or 0 when the model has no such matrix (M of a model without a
 * recurrent gate (classes rnn and dale), K of a reduced-form model, M of a conductance-form
 * model (ask for K), P without inputs, M_in without input gating, W_out and b_out without a
 * readout). Cannot fail.
 */
int eir_model_matrix_shape(const eir_model *m, eir_matrix k, int64_t shape[2]);

/**
 * Copy rows [@p row0, @p row0 + @p nrows) of matrix @p k (a vector counts as one row of
 * length N or n_out) into @p out (nrows * columns doubles), exactly the values the engine
 * integrates with (a generated matrix as generated, a sparse model's zeros as zeros). Costs
 * O(nrows * columns) whatever the storage, so a server streams an N x N matrix row block by row
 * block without holding it whole. EIR_EINVAL when the model has no such matrix or the rows are
 * out of range.
 */
eir_status eir_model_matrix_rows(const eir_model *m, eir_matrix k, int64_t row0, int64_t nrows,
                                 double *out, eir_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Dynamics                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/**
 * dV/dt = -z (.) V + W r + P x + b, z = G_b + M r + M_in |x| (MODEL.md section 2), noise off,
 * at state @p V (N values) under input @p x (n_in values, NULL = zeros), into @p dVdt (N
 * values). EIR_EINVAL ("/V") when V has a non-finite value; EIR_ENOMEM.
 */
eir_status eir_dynamics(const eir_model *m, const double *V, const double *x, double *dVdt,
                        eir_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Eigenvalues                                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * Eigenvalues (and, when @p vecs is not NULL, right eigenvectors) of the general real n x n
 * matrix @p a (not modified), by LAPACK's dgeev. Eigenvalues go to @p vals (2n doubles,
 * interleaved re, im) sorted by real part descending, ties by imaginary part descending;
 * eigenvector k (unit 2-norm, complex) is column k of @p vecs (n x n complex, interleaved:
 * vecs[2 * (i * n + k)] is the real part of component i of vector k), in the same order as the
 * eigenvalues, as numpy.linalg.eig returns them. The stop flag is looked at before the LAPACK
 * call and, from n = 256 on, every 20 ms while it runs (dgeev runs on a thread of its own on a
 * copy; a stop returns at once and abandons it: it keeps a core busy until it ends on its own,
 * its result discarded). EIR_EINVAL for n < 1 or a non-finite entry ("/matrix"), EIR_ENOMEM,
 * EIR_ENUMERIC when dgeev does not converge, EIR_ECANCELLED.
 */
eir_status eir_eigen(const double *a, int n, double *vals, double *vecs, const eir_stop *stop,
                     eir_error *err);

/**
 * Number of eigensolver calls abandoned by a stop (see eir_eigen) that are still running on
 * their own threads in this process. A program must not run its exit-time teardown while one
 * runs (OpenBLAS frees its buffers at exit, under the solver's feet): eirnnd ends with _exit()
 * when this is not 0 after its orderly shutdown. Any thread; cannot fail.
 */
int eir_abandoned_solvers(void);

/** Sort @p n interleaved complex values by real part descending, ties by imaginary part
 *  descending, applying the same permutation to the columns of @p vecs (n x n complex) when
 *  not NULL. Stable; cannot fail (allocates nothing). */
void eir_eig_sort(double *vals, double *vecs, int n);

/** Summary of a spectrum. */
typedef struct eir_eig_summary {
    double radius;   /**< max |lambda| */
    double abscissa; /**< max Re lambda */
    int n_positive;  /**< eigenvalues with Re lambda > 0 */
} eir_eig_summary;

/** Summarise @p n interleaved complex eigenvalues. Cannot fail. */
void eir_eig_summarise(const double *vals, int n, eir_eig_summary *out);

/* ------------------------------------------------------------------------------------------ */
/* Fixed points and slow points                                                               */
/* ------------------------------------------------------------------------------------------ */

/** What eir_fixed_points() does. eir_fp_desc_init() gives the defaults in brackets. */
typedef struct eir_fp_desc {
    const double *x;      /**< constant input, n_in values; NULL = zeros */
    const double *starts; /**< n_starts x N given initial states (e.g. from a run), or NULL */
    int n_starts;         /**< [0] */
    int n_random;         /**< random initial states V ~ N(0, random_scale^2) per cell [0] */
    double random_scale;  /**< [1.0] */
    uint64_t seed;        /**< seed of the random starts (eir_random.h, keyed by start and cell) */
    int max_iter;         /**< Newton iterations per start [100] */
    double tol;           /**< converged when the 2-norm of dV/dt is <= tol [1e-10] */
    double dedupe_tol;    /**< two points are one when max |V_a - V_b| <= dedupe_tol (1 + max|V|)
                               [1e-6] */
    int slow_points;      /**< 1: a start that does not converge reports the minimum of
                               q = |dV/dt|^2 / 2 it reaches, marked slow [0] */
    int max_slow_iter;    /**< iterations of the q minimisation (Levenberg-Marquardt on
                               dV/dt, or the documented method) [200] */
    double slow_tol;      /**< a slow point is kept when q <= slow_tol [1e-4] */
    eir_progress_fn progress; /**< called with (starts done, starts in all); non-zero stops */
    void *progress_ctx;
    const eir_stop *stop; /**< NULL = never */
    int threads;          /**< starts solved at once by up to this many threads, >= 1 [1];
                               results do not depend on it */
} eir_fp_desc;

/** Defaults; see ::eir_fp_desc. */
void eir_fp_desc_init(eir_fp_desc *d);

/**
 * Points found, deduplicated, fixed points first (by ascending number of unstable directions,
 * then by ascending |V|), then slow points (ascending q). All arrays malloc'ed, freed by
 * eir_fp_result_free(); K = count.
 */
typedef struct eir_fp_result {
    int n;                /**< N */
    int count;            /**< K */
    double *V;            /**< K x N states */
    double *r;            /**< K x N rates f(V) */
    double *residual;     /**< K: 2-norm of dV/dt at the point */
    double *q;            /**< K: |dV/dt|^2 / 2 */
    double *eigvals;      /**< K x N complex (interleaved): Jacobian eigenvalues, sorted */
    int32_t *n_unstable;  /**< K: eigenvalues with Re > 0 */
    int32_t *stable;      /**< K: 1 when every eigenvalue has Re < 0 */
    int32_t *slow;        /**< K: 1 for a slow point (not a fixed point) */
    int32_t *hits;        /**< K: starts that ended at this point */
    int32_t *first_start; /**< K: index of the first start that found it (given starts first,
                               then random ones) */
    int starts;           /**< starts tried */
    int converged;        /**< starts that reached a fixed point */
    int slow_found;       /**< starts that ended at a kept slow point */
    int failed;           /**< starts that ended nowhere */
} eir_fp_result;

/**
 * Find fixed points of dV/dt = 0 for a constant input by Newton's method with the analytic
 * Jacobian (eir_linearize) and LU solves (LAPACK dgesv), with a backtracking line search on
 * |dV/dt|, from every start; then deduplicate, and compute each point's Jacobian eigenvalues.
 * EIR_EINVAL naming the field ("/x", "/starts", "/random/count", "/tol", ...), EIR_ENOMEM,
 * EIR_ECANCELLED (nothing in @p out). @p out is zeroed first, filled on EIR_OK.
 */
eir_status eir_fixed_points(const eir_model *m, const eir_fp_desc *d, eir_fp_result *out,
                            eir_error *err);

/** Free the arrays of @p r and zero it. NULL is a no-op. */
void eir_fp_result_free(eir_fp_result *r);

/* ------------------------------------------------------------------------------------------ */
/* Lyapunov exponents                                                                         */
/* ------------------------------------------------------------------------------------------ */

/** What eir_lyapunov() does; eir_lyap_desc_init() gives the defaults in brackets. */
typedef struct eir_lyap_desc {
    int k;                    /**< exponents wanted, 1 .. N [1] */
    double dt;                /**< integration step > 0 [0.01, in units of 1/G_b] */
    int64_t steps;            /**< steps over which exponents are averaged >= 1 [10000] */
    int64_t transient;        /**< steps integrated first and discarded >= 0 [1000] */
    int reortho_every;        /**< steps between QR re-orthonormalisations >= 1 [1] */
    const double *x;          /**< constant input, n_in values; NULL = zeros */
    const double *V0;         /**< initial state (N values), NULL = random N(0, 1) from seed */
    uint64_t seed;            /**< seeds V0 (when NULL) and the initial tangent basis */
    int trace_points;         /**< rows of the convergence trace [100] (<= steps / reortho_every) */
    eir_progress_fn progress; /**< (steps done, transient + steps) */
    void *progress_ctx;
    const eir_stop *stop;
} eir_lyap_desc;

/** Defaults; see ::eir_lyap_desc. */
void eir_lyap_desc_init(eir_lyap_desc *d);

/** Outcome of eir_lyapunov(). Arrays malloc'ed, freed by eir_lyap_result_free(). */
typedef struct eir_lyap_result {
    int k;
    double *exponents;   /**< k, descending (per unit time) */
    int trace_rows;      /**< rows of the trace */
    double *trace;       /**< trace_rows x k: running estimates */
    double *trace_time;  /**< trace_rows: time (steps * dt after the transient) of each row */
    double mean_trace_J; /**< time average of tr J along the same trajectory */
    int diverged;        /**< 1 when the trajectory stopped being finite (exponents NaN) */
} eir_lyap_result;

/**
 * The k largest Lyapunov exponents of the deterministic dynamics (noise off) along the
 * trajectory from V0 under constant input x: the trajectory and k tangent vectors are integrated
 * together (the method, its integrator and its accuracy are stated in docs/ANALYSIS.md) and
 * re-orthonormalised by QR (LAPACK dgeqrf) every reortho_every steps; the exponents are the time
 * averages of log |R_ii|. EIR_EINVAL naming the field ("/k", "/dt", "/steps", "/transient",
 * "/x", "/V0"), EIR_ENOMEM, EIR_ECANCELLED.
 */
eir_status eir_lyapunov(const eir_model *m, const eir_lyap_desc *d, eir_lyap_result *out,
                        eir_error *err);

/** Free the arrays of @p r and zero it. NULL is a no-op. */
void eir_lyap_result_free(eir_lyap_result *r);

/* ------------------------------------------------------------------------------------------ */
/* Statistics of recorded activity                                                            */
/* ------------------------------------------------------------------------------------------ */

/** Recorded activity and what to compute from it. */
typedef struct eir_activity_desc {
    const double *data; /**< B x T x n recorded values (r or V), trial-major as runs record */
    int B;              /**< trials >= 1 */
    int64_t T;          /**< recorded rows >= 1 */
    int n;              /**< recorded units >= 1 */
    const int *units;   /**< cell index of each recorded unit (n values), NULL = 0 .. n-1 */
    int n_e;            /**< cells with index < n_e are excitatory */
    int64_t t0, t1;     /**< window of rows [t0, t1), 0 <= t0 < t1 <= T */
    /** For the E/I balance index: the model and the recorded rates of ALL N cells (units NULL
     *  and n == N, data being r); NULL skips the index. */
    const eir_model *model;
    const eir_stop *stop;
} eir_activity_desc;

/** Outcome of eir_activity(). Arrays malloc'ed, freed by eir_activity_result_free(). */
typedef struct eir_activity_result {
    double mean[2], var[2]; /**< per population (0 = E, 1 = I) over units, rows, trials; NaN
                               for an empty population */
    int n;                  /**< units */
    double *unit_mean;      /**< n: per unit over rows and trials */
    double *unit_var;       /**< n */
    double *pca_var;        /**< n: covariance eigenvalues, descending */
    double *pca_ratio;      /**< n: explained variance ratio, descending */
    double participation;   /**< (sum lambda)^2 / sum lambda^2; NaN when all variances are 0 */
    double mean_corr;       /**< mean Pearson correlation over pairs of units with variance > 0 */
    int corr_units;         /**< units with variance > 0 */
    double *balance;        /**< N: E/I balance index per cell (docs/ANALYSIS.md), or NULL */
    double *drive_e;        /**< N: mean E part of the recurrent input, or NULL */
    double *drive_i;        /**< N: mean I part, or NULL */
} eir_activity_result;

/**
 * Per-population mean and variance, PCA (covariance over rows x trials of the window, LAPACK
 * dsyevd), participation ratio, mean pairwise correlation and (with a model) the E/I balance
 * index per cell. EIR_EINVAL naming the field ("/window", "/var"), EIR_ENOMEM, EIR_ECANCELLED.
 */
eir_status eir_activity(const eir_activity_desc *d, eir_activity_result *out, eir_error *err);

/** Free the arrays of @p r and zero it. NULL is a no-op. */
void eir_activity_result_free(eir_activity_result *r);

#ifdef __cplusplus
}
#endif
#endif /* EIR_ANALYSIS_H */
