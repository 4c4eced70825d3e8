/**
 * @file sim_internal.h
 * @brief Shared state of one eir_run() call, seen by every trial chunk (engine-private).
 */
#ifndef EIR_SIM_INTERNAL_H
#define EIR_SIM_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "eir.h"
#include "model_internal.h"

/** Model arrays in the run's precision (float copies for float32, the model's own for f64). */
typedef struct sim_arrays {
    const void *mat; /**< product matrix: W (NONE), S (SPLIT), [W; M] (FUSED) */
    /**
     * Single-trial runs of small N: the product matrix transposed, column j of it contiguous
     * (mt_ld values: N, or 2 n_pad for FUSED with M at offset n_pad), or NULL. The products
     * are then column sums over the active (r_j != 0) cells, without BLAS call overhead.
     */
    const void *mt;
    int mt_ld;
    const void *P;                               /**< N*n_in or NULL */
    const void *M_in;                            /**< N*n_in or NULL */
    const void *W_out;                           /**< n_out*n_read or NULL */
    const void *b_out;                           /**< n_out or NULL */
    const void *leak, *bias, *cE, *cI, *gE, *gI; /**< N each (c/g only for SPLIT) */
} sim_arrays;

/** One eir_run() call. Read-only during the run except for the atomics. */
typedef struct sim_ctx {
    const eir_model *m;
    const eir_run_desc *r;
    sim_arrays a;
    int n, n_e, n_in, n_out, n_read;
    int64_t T, rows;
    int every;
    int use_gemv; /**< B == 1: matrix-vector products */
    int n_rec;    /**< recorded units for V, r, z */
    int64_t Tc;   /**< steps of inputs projected per product */
    int64_t progress_every;
    int monitored;             /**< threads > 1: the caller's thread reports progress */
    atomic_int cancel;         /**< set when the callback asked to stop */
    _Atomic int64_t stop_step; /**< lowest diverged step so far (INT64_MAX if none) */
    double *rate_e, *rate_i;   /**< per-trial sums of r over E / I cells and steps */
    int64_t *trial_steps;      /**< per-trial steps done */
} sim_ctx;

/** A contiguous range of trials integrated by one thread. */
typedef struct sim_chunk {
    sim_ctx *ctx;
    int b0, nb;
    _Atomic int64_t steps_done;
    _Atomic int64_t div_step; /**< first non-finite step of this chunk, -1 if none (read by the
                                  monitor while the chunk runs) */
    int div_trial;
    double max_zdt;
    eir_status status;
} sim_chunk;

/** Largest N for which single-trial runs use the transposed column kernel. */
#define SIM_COLUMN_KERNEL_MAX_N 512

void sim_chunk_run_f64(sim_chunk *c);
void sim_chunk_run_f32(sim_chunk *c);

/** Fill recorded rows [row0, rows) of trials [b0, b0+nb) with NaN in every output. */
void sim_nan_fill(const sim_ctx *x, int b0, int nb, int64_t row0);

#endif /* EIR_SIM_INTERNAL_H */
