/**
 * @file train_internal.h
 * @brief The trainable network (struct eir_net) and the per-chunk forward and backward passes
 *        shared by train_net.c and train_bptt_f64.c / train_bptt_f32.c (engine-private).
 *
 * A batch is cut into chunks of TRAIN_CHUNK trials (the last one shorter), a number that never
 * depends on the thread count. Each chunk is integrated and backpropagated on its own with the
 * workspace of the thread that takes it, and writes its gradient into an accumulator of its own
 * (train_acc); the accumulators are summed in chunk order afterwards, so the gradient is the
 * same bytes whatever the number of threads.
 *
 * Within a chunk every array is step-major: row (t, b) of an array of width w starts at
 * (t * cb + b) * w, where cb is the chunk's trial count. The recurrent products are one GEMM
 * per step against the fused matrix WM = [W; M] (gw N rows: W's N rows, then M's when the
 * model is gated); the weight gradients one GEMM over all steps of the chunk.
 *
 * Column split (TRAIN_SPLIT, the engine's EIR_GATE_SPLIT): when every column's gate is a
 * per-row multiple of the same product (conductance form: M = K; reduced form with a frozen A
 * that is constant over each row's E columns and over its I columns: M = A |W| = a_type(j)[i]
 * E(j) W), one N x N product S serves drive and gate: u_E = S_E r_E, u_I = S_I r_I,
 * I = cE u_E + cI u_I + b + P x, z = G_b + gE u_E + gI u_I + M_in |x|. That halves the
 * products: the backward pass carries du_E = cE dI + gE dz and du_I = cI dI + gI dz instead.
 */
#ifndef EIR_TRAIN_INTERNAL_H
#define EIR_TRAIN_INTERNAL_H

#include <stdint.h>

#include "eir_train.h"

/** How the products are made (see the file comment). */
enum { TRAIN_NONE = 0, TRAIN_FUSED = 1, TRAIN_SPLIT = 2 };

/**
 * Trials per chunk: the unit of work of a thread and of gradient accumulation. 64 rows per
 * step product amortise the packing of the N x N weights that every BLAS call does (at
 * N = 512, 16 rows spent a quarter of the time packing); the usual batches (16 to 64) are
 * one chunk, so threads help from 65 trials on.
 */
#define TRAIN_CHUNK 64

/**
 * The effective model of one call, in the call's precision (double arrays for float64, float
 * arrays for float32): built from theta once per call.
 */
typedef struct train_params {
    void *WM;    /**< NONE: W; FUSED: [W; M] (2N x N); SPLIT: S (N x N) */
    void *coef;  /**< SPLIT: cE, cI, gE, gI (4 x N), else NULL */
    void *leak;  /**< N */
    void *bias;  /**< N */
    void *P;     /**< N x n_in (NULL when n_in == 0) */
    void *M_in;  /**< N x n_in, or NULL (no input gating) */
    void *W_out; /**< n_out x n_read */
    void *b_out; /**< n_out */
} train_params;

/** One thread's workspace for one chunk (element type REAL of the call; sizes in train_net.c). */
typedef struct train_ws {
    void *X;     /**< T*cb x n_in inputs, step-major */
    void *XA;    /**< T*cb x n_in |inputs| (input gating) */
    void *V;     /**< (T+1)*cb x N: V_0 .. V_T */
    void *R;     /**< (T+1)*cb x N: r_0 .. r_T */
    void *Z;     /**< T*cb x N: z_0 .. z_{T-1} (first M_in |x|) */
    void *Ib;    /**< T*cb x N: drive I_0 .. I_{T-1} (first P x) */
    void *NZ;    /**< T*cb x N: noise increments s_t xi_t (with noise) */
    void *U;     /**< cb x gw*N: products of one step */
    void *Y;     /**< T*cb x n_out: y_1 .. y_T */
    void *DY;    /**< T*cb x n_out: d loss / d y */
    void *DR;    /**< 2 x cb x N: d loss / d r of two consecutive steps */
    void *DIZ;   /**< T*cb x gw*N: d loss / d I and d loss / d z per step */
    void *DU;    /**< SPLIT: T*cb x 2N: du_E, du_I per step */
    void *carry; /**< cb x N: d loss / d V_{t+1} through V_{t+1}'s own update */
    void *EK;    /**< gw 1: TR_EK x N exp_euler factors of the constant gate z = G_b */
} train_ws;

/** Rows of train_ws.EK (train_bptt_impl.h's tr_exp_consts()). */
#define TR_EK 8

/** The gradient of one chunk with respect to the effective arrays, and its loss sums. */
typedef struct train_acc {
    void *dWM;        /**< gw*N x N (SPLIT: dS in the first N x N) */
    void *dP;         /**< N x n_in */
    void *db;         /**< N */
    void *dG;         /**< N (d / d G_b) */
    void *dWout;      /**< n_out x n_read */
    void *dbout;      /**< n_out */
    double task;      /**< sum over the chunk of m * loss term (not yet divided) */
    double rate;      /**< sum over the chunk's valid steps of r^2 (not yet scaled) */
    int64_t bad_step; /**< first step whose V is not finite, or -1 */
} train_acc;

/** What every chunk of one call shares (read-only during the call). */
typedef struct train_call {
    const eir_net *net;
    const eir_batch *batch;
    uint64_t noise_key;
    int grad;          /**< 1: backward pass too */
    double inv_mask;   /**< 1 / sum of the loss weights (0 when the sum is 0) */
    double rate_scale; /**< lambda_r / (N * valid steps) (0 without the penalty) */
    train_params p;
    double *y_out; /**< B*T*n_out or NULL */
} train_call;

struct eir_net {
    /* the fixed model */
    int n, n_e, n_in, n_out, n_read;
    int gw;   /**< 2 when the class is gated (M exists), else 1 */
    int mode; /**< TRAIN_NONE, TRAIN_FUSED or TRAIN_SPLIT */
    eir_class cls;
    eir_form form;
    eir_activation act;
    eir_readout_from readout_from;
    double e_rev_e, e_rev_i, sigma;
    eir_storage storage;
    eir_train_spec spec;
    double *M_in;        /**< N*n_in, or NULL */
    unsigned char *mask; /**< N*N: initial recurrent entry != 0 */
    /* theta */
    size_t theta_len, off[EIR_NPARAMS], len[EIR_NPARAMS];
    double *theta;
    /* effective arrays in double (eir_net_model_desc and each call) */
    double *Wd;    /**< N*N: W (reduced) or K (conductance) as the model document holds it */
    double *WMd;   /**< gw*N x N: effective W, then M */
    double *dWMd;  /**< gw*N x N: the call's gradient with respect to WMd (SPLIT: S) */
    double *coefd; /**< SPLIT: cE, cI, gE, gI (4 x N) */
    /* float32 copies of the effective arrays (float32 calls) */
    float *f32_params;
    /* workspace: per thread, and per chunk accumulators */
    int ws_B, ws_T, ws_threads;
    size_t ws_stride;  /**< bytes of one thread's workspace */
    size_t acc_stride; /**< bytes of one chunk's accumulator arrays */
    unsigned char *ws_mem;
    unsigned char *acc_mem;
    train_ws *ws;   /**< ws_threads */
    train_acc *acc; /**< chunks of ws_B */
};

/**
 * EIR_EINVAL naming the field ("/batch", "/task/inputs", "/task/labels", "/task/targets",
 * "/task/mask", "/task/lengths", "/model/readout") when @p b does not fit @p nt or holds a
 * value that is not allowed (train_loss.c).
 */
eir_status train_check_batch(const eir_net *nt, const eir_batch *b, eir_error *err);

/** 1 / (sum of the loss weights over valid entries) (0 for a sum of 0), and
 *  lambda_r / (N * valid steps) (0 without the rate penalty). Cannot fail. */
void train_normalisers(const eir_net *nt, const eir_batch *batch, double *inv_mask,
                       double *rate_scale);

/** mean W^2 + mean P^2 + mean W_out^2 of the effective matrices (WMd must be current). */
double train_l2_weights(const eir_net *nt);

/** One chunk's forward (and with c->grad, backward) pass, per precision. */
void train_chunk_f64(const train_call *c, int chunk, train_ws *w, train_acc *a);
void train_chunk_f32(const train_call *c, int chunk, train_ws *w, train_acc *a);

/** Trials of chunk @p chunk of a batch of @p B. */
static inline int train_chunk_trials(int B, int chunk)
{
    const int left = B - chunk * TRAIN_CHUNK;
    return left < TRAIN_CHUNK ? left : TRAIN_CHUNK;
}

#endif /* EIR_TRAIN_INTERNAL_H */
