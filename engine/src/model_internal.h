/**
 * @file model_internal.h
 * @brief The built model as the integrators see it (engine-private).
 */
#ifndef EIR_MODEL_INTERNAL_H
#define EIR_MODEL_INTERNAL_H

#include <stddef.h>

#include "eir.h"

/** How the gate z is obtained from the recurrent products. */
typedef enum eir_gate_kind {
    /** No recurrent gate (classes rnn, dale): one product u = W r; drive u, gate G_b. */
    EIR_GATE_NONE = 0,
    /**
     * Column split (Dale fixes each column's sign): uE = S_E r_E, uI = S_I r_I;
     * drive = cE uE + cI uI, gate = G_b + gE uE + gI uI (per-row coefficients).
     * Reduced form: S = W, cE = cI = 1, gE = A_E, gI = -A_I.
     * Conductance form: S = K, cE = E_E, cI = E_I, gE = gI = 1.
     */
    EIR_GATE_SPLIT = 1,
    /** Full-matrix A: one fused product with [W; M] (2N x N): drive u, gate G_b + m. */
    EIR_GATE_FUSED = 2
} eir_gate_kind;

/**
 * Products write n_pad (N rounded up to EIR_PAD) outputs per trial: the matrices below carry
 * zero rows past N. With the output dimension a multiple of the BLAS kernels' unroll, every
 * output element is summed the same way whatever the number of trials in a call, so splitting
 * trials between threads changes no bit of the result.
 */
#define EIR_PAD 32

/**
 * Trials per BLAS call: a run's trials are cut into blocks of this many (the last one shorter),
 * and every product is one call per block (and per block of cells, SIM_NEURON_BLOCK). OpenBLAS's
 * bits for a row depend on how many rows the call has (edge tiles, small-matrix kernels: on AVX2
 * kernels most shapes differ), so this keeps the bytes of a run independent of the thread count.
 */
#define EIR_TRIAL_BLOCK 64

/** Columns per panel of a sparse model's compressed rows: 16 KiB of double rates. */
#define EIR_SPARSE_PANEL 2048

static inline int eir_pad(int n)
{
    return (n + EIR_PAD - 1) / EIR_PAD * EIR_PAD;
}

struct eir_model {
    int n, n_e, n_i, n_in, n_out;
    int n_pad;     /**< N rounded up to EIR_PAD */
    int n_out_pad; /**< n_out rounded up to EIR_PAD */
    eir_class cls;
    eir_form form;
    eir_activation act;
    eir_gate_kind gate;
    double *W; /**< effective signed W, N*N (NULL when sparse) */
    double *S; /**< SPLIT: product matrix (aliases W in reduced form, else K copy) */
    double *cE, *cI, *gE, *gI; /**< SPLIT: per-row coefficients, N each */
    double *WM;                /**< FUSED: [W; M], 2N*N */
    double *leak;              /**< N */
    double *bias;              /**< N (zeros when none) */
    int has_bias;
    double *P;     /**< N*n_in, or NULL when n_in == 0 */
    double *M_in;  /**< N*n_in, or NULL (no input gating) */
    double *W_out; /**< n_out*n_read */
    double *b_out; /**< n_out */
    int n_read;    /**< N or n_e */
    double sigma;
    size_t projected;
    double e_rev_e, e_rev_i;
    /**
     * Compressed rows (sparse storage; W, S and WM are then NULL), cut into column panels of
     * at most EIR_SPARSE_PANEL columns that never straddle E and I: the E columns [0, n_e)
     * make panels [0, n_panel_e), the I columns the rest; panel q holds columns
     * [pc[q], pc[q+1]). Entries are stored panel by panel, row by row, columns ascending:
     * those of panel q, row i are [rp[q (N+1) + i], rp[q (N+1) + i + 1]). ci holds their
     * columns; sv the product matrix's values (NONE: W; SPLIT: S, i.e. W in reduced form and K
     * in conductance form; FUSED: W), and for FUSED mv = sv + nnz holds M's (M = A |W|) at the
     * same entries (one allocation with sv). A panel's rates stay in the L1 cache while the
     * products run through its rows.
     */
    int sparse;
    int n_panels, n_panel_e;
    int *pc; /**< n_panels + 1 column boundaries */
    size_t nnz;
    size_t *rp; /**< n_panels (N + 1) offsets */
    int *ci;
    double *sv, *mv;
};

/**
 * Build the compressed rows of @p m (gate, n, n_e, form, e_rev set) from validated @p d:
 * returns 1 and fills them when @p d asks for sparse storage or (auto) the product matrix is
 * sparse enough (EIR_SPARSE_MIN_N, EIR_SPARSE_MAX_DENSITY); returns 0 and leaves @p m dense
 * otherwise. Entries breaking Dale's law (classes dale and gated) are left out (the caller has
 * checked them under "reject"). Returns -1 when allocation fails and EIR_SPARSE_STOPPED when
 * d->stop was requested (checked every EIR_STOP_ROWS rows; nothing kept either way).
 */
int eir_model_build_sparse(eir_model *m, const eir_model_desc *d);

/** eir_model_build_sparse(): the build's stop flag was requested. */
#define EIR_SPARSE_STOPPED (-2)

/** Row @p i of the dense-equivalent W (@p which 0) or M (@p which 1) into @p row (N values). */
void eir_model_dense_row(const eir_model *m, int which, int i, double *row);

/**
 * malloc() for arrays streamed every step: from 4 MiB on, aligned to 2 MiB and advised for
 * transparent huge pages (Linux). Free with free(); NULL when out of memory.
 */
void *eir_alloc_big(size_t bytes);

/** Free the compressed rows of @p m (any of them may be NULL). */
void eir_model_free_sparse(eir_model *m);

#endif /* EIR_MODEL_INTERNAL_H */
