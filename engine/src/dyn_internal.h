/**
 * @file dyn_internal.h
 * @brief The deterministic dynamics F(V) = dV/dt and its Jacobian J(V) for the analyses
 *        (engine-private): the activation and its gain, and a workspace set up once per model
 *        and input so that evaluating F and J allocates nothing.
 *
 * Numerics: F_i = -z_i V_i + (sum_j W_ij r_j + c_i), z_i = (G_b,i + sum_j M_ij r_j) + zin_i,
 * c = P x + b, zin = M_in |x| (MODEL.md section 2); J = -diag(z) + (W - diag(V) M) diag(f'(V))
 * (section 11). Each row's sums run over j in a fixed order (four interleaved partial sums
 * added (s0 + s1) + (s2 + s3), then the tail), never through BLAS: the bits of F and J depend
 * only on V, x and the model, not on threads or on the workspace's mode. No failure once the
 * workspace is set up.
 *
 * Ownership and threads: an ::eir_dyn borrows its model (which must outlive it) and owns its
 * arrays (eir_dyn_free()). After eir_dyn_init() and eir_dyn_set_input() it is read-only:
 * any number of threads may call eir_dyn_eval() on it at once, each with its own work buffer.
 */
#ifndef EIR_DYN_INTERNAL_H
#define EIR_DYN_INTERNAL_H

#include <math.h>

#include "eir.h"
#include "model_internal.h"

/** f(v) and f'(v) for one cell, with the r_max clamp (f' = 0 where clamped). */
static inline void eir_act_and_gain(const eir_activation *a, double v, double *f, double *g)
{
    double r, d;
    switch (a->kind) {
    case EIR_ACT_RELU:
        r = v > 0 ? v : 0, d = v > 0 ? 1 : 0;
        break;
    case EIR_ACT_TANH_RECT: {
        double t = tanh(v);
        r = v > 0 ? t : 0, d = v > 0 ? 1 - t * t : 0;
        break;
    }
    case EIR_ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-v));
        r = s, d = s * (1 - s);
        break;
    }
    case EIR_ACT_SOFTPLUS:
        r = (v > 0 ? v : 0) + log1p(exp(-fabs(v)));
        d = 1.0 / (1.0 + exp(-v));
        break;
    case EIR_ACT_POWER:
        r = v > 0 ? a->k * pow(v, a->n) : 0;
        d = v > 0 ? a->k * a->n * pow(v, a->n - 1) : 0;
        break;
    case EIR_ACT_LINEAR:
        r = v, d = 1;
        break;
    case EIR_ACT_TANH: {
        double t = tanh(v);
        r = t, d = 1 - t * t;
        break;
    }
    default:
        r = d = NAN;
        break;
    }
    if (r > a->r_max) r = a->r_max, d = 0;
    *f = r;
    *g = d;
}

/** The dynamics of one model under one constant input. Fields are read-only to users. */
typedef struct eir_dyn {
    const eir_model *m; /**< borrowed */
    int n;              /**< N */
    int gated;          /**< 1 when the model has a recurrent gate (M not zero) */
    int dense;          /**< 1: W and M below hold the dense matrices; 0: rows are fetched */
    double *W;          /**< dense N x N effective W (dense mode), else NULL */
    double *M;          /**< dense N x N M (dense mode, gated), else NULL */
    double *c;          /**< N: P x + b */
    double *zin;        /**< N: M_in |x| (zeros without input gating) */
} eir_dyn;

/** Doubles of the work buffer eir_dyn_eval() needs for N cells: r, f', and two rows. */
static inline size_t eir_dyn_work_len(int n)
{
    return 4 * (size_t)n;
}

/**
 * Set up @p d for model @p m with zero input. @p dense 1 copies W and M once (2 N^2 doubles,
 * the mode for repeated evaluations: each then costs two passes over those matrices); 0 keeps
 * O(N) memory and fetches each row of W and M from the model on every evaluation (one-shot
 * eir_dynamics and eir_linearize; a sparse model's row costs its nonzeros plus N). Same bits
 * either way. EIR_ENOMEM (nothing to free) on failure.
 */
eir_status eir_dyn_init(eir_dyn *d, const eir_model *m, int dense, eir_error *err);

/**
 * Hold input @p x (n_in values; NULL = zeros) constant: c = P x + b, zin = M_in |x|.
 * EIR_EINVAL naming @p field ("/x" when NULL) and the channel when a value is not finite; the
 * input then stays what it was.
 */
eir_status eir_dyn_set_input(eir_dyn *d, const double *x, const char *field, eir_error *err);

/**
 * At state @p V (N finite values): r = f(V) into work[0..N), f'(V) into work[N..2N), and, when
 * not NULL, F = dV/dt into @p F (N), J into @p J (N x N row-major) and the gate z into @p z (N).
 * @p work holds eir_dyn_work_len(N) doubles. Allocates nothing; cannot fail (a non-finite V
 * gives non-finite outputs).
 */
void eir_dyn_eval(const eir_dyn *d, const double *V, double *work, double *F, double *J, double *z);

/** EIR_EINVAL naming "/V" when one of the @p n values of @p V is not finite. */
eir_status eir_dyn_check_state(const double *V, int n, eir_error *err);

/**
 * One evaluation of model @p m at state @p V with input @p x (NULL: zeros) into @p dVdt and/or
 * @p J (either may be NULL), with a workspace of its own: eir_dynamics() and eir_linearize().
 * @p what names the work in the out-of-memory message ("linearising": "out of memory
 * linearising N = 5"). On failure (a non-finite V, a bad x, out of memory) fills @p err and
 * returns its status; @p dVdt and @p J are then unspecified.
 */
eir_status eir_dyn_eval_once(const eir_model *m, const double *V, const double *x, double *dVdt,
                             double *J, const char *what, eir_error *err);

/** Free the arrays of @p d and zero it; NULL or a zeroed one is a no-op. */
void eir_dyn_free(eir_dyn *d);

#endif /* EIR_DYN_INTERNAL_H */
