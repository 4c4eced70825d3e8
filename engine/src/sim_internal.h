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
#include "stop.h"
#include "team.h"

/** Model arrays in the run's precision (float copies for float32, the model's own for f64). */
typedef struct sim_arrays {
    const void *mat; /**< product matrix: W (NONE), S (SPLIT), [W; M] (FUSED); NULL if sparse */
    /** Sparse models: the compressed rows (eir_model's rp, ci), sv and mv in the run's
     *  precision (mv only for FUSED); sv NULL for a dense model. */
    const size_t *rp;
    const int *ci;
    const void *sv, *mv;
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

/**
 * Postsynaptic cells per work item: a step's products and updates are cut into blocks of
 * EIR_TRIAL_BLOCK trials x SIM_NEURON_BLOCK cells (a multiple of EIR_PAD). The sizes never
 * depend on the thread count, so the same BLAS calls with the same shapes happen whatever
 * the number of threads; only which thread makes them changes, and so do no bits.
 */
#define SIM_NEURON_BLOCK 256

/** Products' work (2 N n_pad B flops) per thread below which more threads do not pay. */
#define SIM_MIN_FLOPS_PER_THREAD (1 << 18)

/**
 * The run's workspace, one allocation (sim_ws_alloc()), in the run's precision where typed
 * void. State is trial-major: V[b][i] for all B trials.
 */
typedef struct sim_ws {
    void *V, *R, *Ib, *Z, *S; /**< B x N each: state, rates, drive, gate, noise scale / RK4 gate */
    void *U1, *U2;            /**< products, B x n_pad (U2: 2 n_pad for FUSED) */
    void *Yb;                 /**< B x n_out_pad readout products */
    void *zero;               /**< N zeros (no inputs) */
    void *noise_s;            /**< N copies of sigma sqrt(dt) (euler, rk4) */
    void *Vs, *Acc;           /**< RK4: stage state and weighted sum, B x N each */
    void *PX, *MX;            /**< projected inputs of a window of Tc steps, [t][b][n_pad] */
    void *Xs;                 /**< B x Tc x n_in input conversion scratch */
    double *Xd;               /**< described inputs: B x Tc x n_in expanded values (double) */
    double *st_blk;           /**< statistics: per (parity, trial, neuron block, var, p) */
    double *st_win;           /**< statistics: per (window, trial, p) (count, mean, M2) */
    double *st_settle;        /**< statistics: per (trial, neuron block) max |dV/dt| */
    double *sum_e, *sum_i;    /**< per (trial, neuron block): sums of r over steps */
    unsigned char *bad;       /**< per (trial, neuron block): non-finite V at the last step */
    int *act;                 /**< per thread: N + 1 active-cell indices (column kernel) */
    void *rt; /**< sparse, B > 1: per thread, rates of a trial block cell-major, N x EIR_TRIAL_BLOCK
               */
    double *zmax; /**< per thread (SIM_PAD_DOUBLES apart): max z dt */
    void *block;  /**< the allocation */
} sim_ws;

/** Doubles between two threads' zmax slots (a cache line). */
#define SIM_PAD_DOUBLES 8

/** Most boundaries of the statistics' intervals: every window's from and to, 0 and T. */
#define SIM_STATS_MAX_BOUNDS (2 * EIR_STATS_MAX_WINDOWS + 2)

/**
 * How a run computes its statistics (stats.c). Time is cut into intervals at every window's
 * from and to: each interval lies inside or outside each window. Per interval, each work item
 * accumulates the samples of its (trial, neuron block) and population into a slot (count, mean,
 * M2: Chan's combination of each step's two-pass row statistics); at the interval's end the
 * slots of a trial are combined in block order and added to every window covering the interval.
 * Intervals alternate between two sets of slots, so that one interval's slots are combined (at
 * the next step's start) while the items already fill the next one's. All of it in a fixed order,
 * so the same bits whatever the thread count.
 */
typedef struct sim_stats_plan {
    const eir_stats_req *q; /**< NULL: no statistics */
    int nv;                 /**< variables with a window: slots per (trial, block, p) */
    int slot[3];            /**< slot of V, r, z among them, or -1 */
    int var[3];             /**< the variable of each slot */
    int nbnd;               /**< boundaries bnd[0] = 0 < ... < bnd[nbnd - 1] = T */
    int64_t bnd[SIM_STATS_MAX_BOUNDS];
    unsigned imask[SIM_STATS_MAX_BOUNDS]; /**< per interval: bit v when a window of v covers it */
    int64_t settle_from;                  /**< first step of the settle window, INT64_MAX: none */
} sim_stats_plan;

/** One eir_run() call. Read-only during the run except for the workspace and the atomics. */
typedef struct sim_ctx {
    const eir_model *m;
    const eir_run_desc *r;
    sim_arrays a;
    int n, n_e, n_in, n_out, n_read, B;
    int64_t T, rows;
    int every;
    int use_gemv; /**< B == 1: matrix-vector products */
    int n_rec;    /**< recorded units for V, r, z */
    int64_t Tc;   /**< steps of inputs projected per product */
    int64_t progress_every;
    int n_tb, n_nb;        /**< trial blocks, neuron blocks (work items: n_tb x n_nb) */
    const double *mat_src; /**< float32 runs: the model's product matrix (or sparse values), */
    size_t mat_len;        /**< its mat_len values, converted by the team */
    sim_ws w;
    sim_stats_plan st;
    sim_barrier bar;
    /**
     * Set (never cleared) when the run must stop: by thread 0 when the progress callback
     * asked for it, by any thread that saw r->stop requested. Threads skip their remaining
     * work items once they see it; the barrier (which watches it) tells all of them together.
     */
    atomic_int cancel;
    atomic_int any_bad; /**< some V became non-finite at the current step */
    int poll_in_step;   /**< steps are long: thread 0 calls progress between its items too */
    double last_poll;   /**< thread 0: monotonic time of the last progress call */
    int64_t poll_k;     /**< thread 0: the step it waits in (sim_step_barrier()) */
    int64_t end_step;   /**< the step the team stopped at (T when every step was done) */
    int diverged;       /**< the team stopped on a non-finite V at end_step */
    eir_status status;
} sim_ctx;

/** Thread 0: call the progress callback with @p k steps done; a non-zero return sets cancel. */
void sim_progress(sim_ctx *x, int64_t k);

/**
 * Thread 0 inside a long step: call the progress callback (with @p k steps done) when
 * EIR_PROGRESS_POLL_SECONDS have passed since its last call; a non-zero return sets x->cancel.
 */
void sim_poll(sim_ctx *x, int64_t k);

/** sim_poll() for a waiting barrier (sim_barrier_wait_polling()): @p ctx is the sim_ctx. */
void sim_poll_waiting(void *ctx);

/**
 * A barrier of step @p k: thread 0 of a long-stepped run keeps polling the progress callback
 * while it waits for the others (a slower or descheduled peer must not delay a stop).
 */
static inline int sim_step_barrier(sim_ctx *x, int tid, int64_t k)
{
    if (tid != 0 || !x->poll_in_step) return sim_barrier_wait(&x->bar);
    x->poll_k = k;
    return sim_barrier_wait_polling(&x->bar, sim_poll_waiting, x, EIR_PROGRESS_POLL_SECONDS);
}

/**
 * Before each work item: 1 when thread @p tid must skip the rest of its items in this phase
 * (the run is stopping). Two relaxed loads, and for thread 0 of a long-stepped run a clock
 * read; no allocation.
 */
static inline int sim_stopping(sim_ctx *x, int tid, int64_t k)
{
    if (tid == 0 && x->poll_in_step) sim_poll(x, k);
    if (atomic_load_explicit(&x->cancel, memory_order_relaxed)) return 1;
    if (x->r->stop && atomic_load_explicit(&x->r->stop->flag, memory_order_relaxed)) {
        atomic_store(&x->cancel, 1);
        return 1;
    }
    return 0;
}

/** One work item: trials [b0, b0 + nb), cells [i0, i1), product rows [i0, p1) (p1 <= n_pad). */
typedef struct sim_item {
    int b0, nb;
    int i0, i1, p1;
} sim_item;

/** Work item @p q: trial block q / n_nb, neuron block q % n_nb. */
static inline sim_item sim_item_of(const sim_ctx *x, int q)
{
    sim_item it;
    it.b0 = q / x->n_nb * EIR_TRIAL_BLOCK;
    it.nb = x->B - it.b0 < EIR_TRIAL_BLOCK ? x->B - it.b0 : EIR_TRIAL_BLOCK;
    it.i0 = q % x->n_nb * SIM_NEURON_BLOCK;
    it.p1 = it.i0 + SIM_NEURON_BLOCK < x->m->n_pad ? it.i0 + SIM_NEURON_BLOCK : x->m->n_pad;
    it.i1 = it.p1 < x->n ? it.p1 : x->n;
    return it;
}

/** The team's work for one thread: integrate all trials, the items of thread @p tid. */
void sim_run_f64(sim_ctx *x, int tid, int nt);
void sim_run_f32(sim_ctx *x, int tid, int nt);

/** Record y for the last step (T - 1) of every trial: the one step the team leaves. */
void sim_record_last_y_f64(sim_ctx *x);
void sim_record_last_y_f32(sim_ctx *x);

/** Fill recorded rows [row0, rows) of trials [b0, b0+nb) with NaN in every output. */
void sim_nan_fill(const sim_ctx *x, int b0, int nb, int64_t row0);

/* ---- statistics (stats.c) ------------------------------------------------------------------ */

/** Check r->stats_req and r->stats; EIR_EINVAL naming "/metrics/..." on failure. */
eir_status sim_stats_check(const eir_run_desc *r, eir_error *err);

/** Fill x->st from x->r (no allocation; a bad request gives no statistics). */
void sim_stats_plan_init(sim_ctx *x);

/** Doubles of the workspace's statistics parts st_blk, st_win and st_settle (in that order). */
void sim_stats_ws_sizes(const sim_ctx *x, size_t sizes[3]);

/** The interval of step @p k (0 <= k < T): the largest i with bnd[i] <= k. */
int sim_stats_interval(const sim_ctx *x, int64_t k);

/** The 6 doubles (p = 0, 1: count, mean, M2) of slot (parity, trial, block, var slot). */
static inline double *sim_stats_slot(const sim_ctx *x, int par, int b, int j, int s)
{
    return x->w.st_blk +
           ((((size_t)par * x->B + (size_t)b) * x->n_nb + (size_t)j) * x->st.nv + (size_t)s) * 6;
}

/** Add the samples (count @p n, mean @p mean, sum of squared deviations @p m2) to @p acc. */
static inline void sim_chan(double *acc, double n, double mean, double m2)
{
    if (n == 0) return;
    if (acc[0] == 0) {
        acc[0] = n;
        acc[1] = mean;
        acc[2] = m2;
        return;
    }
    const double na = acc[0], nt = na + n, d = mean - acc[1];
    acc[1] += d * (n / nt);
    acc[2] += m2 + d * d * (na * n / nt);
    acc[0] = nt;
}

/**
 * Start of step @p k (all threads, trials [lo, hi) each): when k ends an interval, combine its
 * slots of those trials into the windows and clear them.
 */
void sim_stats_step_start(sim_ctx *x, int64_t k, int lo, int hi);

/**
 * After the team (one thread): the last interval when every step was done, then r->stats from
 * the windows, the final state (NaN when @p cancelled) and the settle window.
 */
void sim_stats_finish(sim_ctx *x, int cancelled);

/** Largest N for which single-trial runs use the transposed column kernel. */
#define SIM_COLUMN_KERNEL_MAX_N 512

#endif /* EIR_SIM_INTERNAL_H */
