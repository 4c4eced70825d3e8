/**
 * @file eir_train.h
 * @brief Training: backpropagation through time through the engine's own step, Adam with
 * gradient-norm clipping, and the trainable parameterisation that keeps Dale's law
 * (docs/TRAINING.md, docs/MODEL.md).
 *
 * The engine knows no JSON and does no I/O. Every function that can fail returns an
 * ::eir_status and fills an ::eir_error (may be NULL) naming the offending field as a JSON
 * pointer relative to the training document of docs/FORMAT.md ("/batch", "/trainable/3", ...).
 *
 * Parameterisation (TRAINING.md "What is trained"). Every trainable array is a slice of one
 * flat vector theta (double). From theta the network is:
 *
 *   recurrent matrix (reduced form: W; conductance form: K), with mask[i][j] = (initial != 0):
 *     class rnn            W = theta_W (.) mask
 *     classes dale, gated  W = |theta_W| (.) D,   D[i][j] = mask[i][j] * (+1 E column, -1 I column)
 *     conductance form     K = |theta_W| (.) mask, W = K E_type(j), M = K (gated), 0 otherwise
 *   gate (reduced form, gated):  M = A (.) |W|  (A kept >= 0; stored full N x N in theta)
 *   leak G_b (N values, kept >= EIR_TRAIN_LEAK_MIN), bias b (N), P (N x n_in, signed),
 *   W_out (n_out x N, or n_out x n_e with readout from E; signed), b_out (n_out).
 *
 * Initial theta reproduces the initial model exactly (theta_W = |W| or W for rnn). M_in, sigma,
 * activation, readout_from and the populations are never trained.
 */
#ifndef EIR_TRAIN_H
#define EIR_TRAIN_H

#include "eir.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Lowest leak a trained G_b is projected to after each update (1/time unit of dt). */
#define EIR_TRAIN_LEAK_MIN 1e-6

/** Trainable parameters. The order is the order of the slices in theta. */
typedef enum eir_param {
    EIR_PARAM_W = 0,     /**< recurrent matrix theta (W, or K in the conductance form), N*N */
    EIR_PARAM_P = 1,     /**< input weights, N*n_in */
    EIR_PARAM_BIAS = 2,  /**< bias, N */
    EIR_PARAM_W_OUT = 3, /**< readout weights, n_out*(N or n_e) */
    EIR_PARAM_B_OUT = 4, /**< readout bias, n_out */
    EIR_PARAM_A = 5,     /**< gate scale A >= 0, N*N (reduced form, class gated only) */
    EIR_PARAM_G_B = 6    /**< leak G_b > 0, N */
} eir_param;
#define EIR_NPARAMS 7

/** JSON name of a parameter ("W", "P", "bias", "W_out", "b_out", "A", "G_b"). */
const char *eir_param_name(eir_param p);

/** Losses over the readout y (TRAINING.md "Losses"). */
typedef enum eir_loss_kind {
    EIR_LOSS_MSE = 0, /**< sum m (y - target)^2 / sum m, m per trial, step and output */
    EIR_LOSS_CE = 1   /**< cross-entropy of softmax(y) against an integer label, per trial and
                           step, weighted by m: sum m * (-log softmax(y)[label]) / sum m */
} eir_loss_kind;

/**
 * A batch of B trials of T steps (row-major, trial-major: element (b, t, c) at
 * (b*T + t)*width + c). Borrowed by the functions that take it. Steps t >= len[b] are still
 * integrated (with the inputs given there) but count in no loss and no penalty.
 */
typedef struct eir_batch {
    int B, T;
    int n_in;             /**< input channels (== the model's n_in) */
    int n_out;            /**< readout outputs (== the model's n_out) */
    const double *x;      /**< B*T*n_in inputs */
    const double *target; /**< MSE: B*T*n_out targets; NULL for CE */
    const int32_t *label; /**< CE: B*T labels in [0, n_out); NULL for MSE */
    const double *mask;   /**< loss weights >= 0: B*T*n_out (MSE) or B*T (CE); NULL = all 1 */
    const int32_t *len;   /**< B trial lengths in 1..T; NULL = all T */
} eir_batch;

/** What a training does besides the model (TRAINING.md; FORMAT.md "Trainings"). */
typedef struct eir_train_spec {
    double dt;                 /**< step, > 0, same time unit as 1/G_b */
    eir_integrator integrator; /**< exp_euler or euler (rk4 is refused: "/integrator") */
    eir_precision precision;   /**< forward and backward in float64 or float32; theta and Adam's
                                    moments are float64 either way */
    unsigned trainable;        /**< bit (1u << eir_param) per trained parameter; default W, P,
                                    bias, W_out, b_out */
    eir_loss_kind loss;
    double l2_weights;   /**< lambda_w >= 0: + lambda_w * (mean W^2 + mean P^2 + mean W_out^2)
                              over the effective matrices (trainable or not) */
    double l2_rates;     /**< lambda_r >= 0: + lambda_r * mean r^2 over trials, valid steps
                              (t < len[b]) and cells, r = r_{t+1} */
    double lr;           /**< Adam step size > 0 (default 1e-3) */
    double beta1, beta2; /**< in [0, 1) (defaults 0.9, 0.999) */
    double eps;          /**< > 0 (default 1e-8) */
    double clip_norm;    /**< clip the gradient's 2-norm to this; <= 0 = no clipping */
    uint64_t seed;       /**< noise of iteration i uses eir_train_stream(seed, i, 0) */
    int threads;         /**< >= 1; results are the same bytes for any value */
} eir_train_spec;

/** Defaults: exp_euler, float64, dt 1, trainable W|P|bias|W_out|b_out, CE, no L2, Adam
 *  1e-3/0.9/0.999/1e-8, clip 1.0, seed 0, threads 1. */
void eir_train_spec_init(eir_train_spec *s);

/**
 * The 64-bit key of random stream @p stream (0 = recurrent noise, 1 = the task's trials, 2 =
 * held-out evaluation trials) of iteration @p iteration: splitmix64 mixing, documented in
 * TRAINING.md so that NumPy can reproduce it. Pure function.
 */
uint64_t eir_train_stream(uint64_t seed, int64_t iteration, unsigned stream);

/** A trainable network: theta plus the fixed parts. Not thread-safe; one per training. */
typedef struct eir_net eir_net;

/**
 * Build a trainable network from the initial model description @p d (as for eir_model_build():
 * same checks; the model must have a readout) for training by @p s. EIR_EINVAL naming the field
 * for: no readout ("/model/readout"), rk4, a trainable A without class gated in the reduced
 * form ("/trainable"), bad spec values. EIR_ENOMEM. *out NULL on failure.
 */
eir_status eir_net_new(const eir_model_desc *d, const eir_train_spec *s, eir_net **out,
                       eir_error *err);
void eir_net_free(eir_net *n);

/** Length of theta and the offset and length of each parameter's slice (0 when absent). */
size_t eir_net_theta_len(const eir_net *n);
void eir_net_layout(const eir_net *n, size_t offset[EIR_NPARAMS], size_t len[EIR_NPARAMS]);
/** theta (read-write: the optimiser updates it in place). */
double *eir_net_theta(eir_net *n);
const double *eir_net_theta_const(const eir_net *n);

/** Loss and its parts for one batch. */
typedef struct eir_loss_parts {
    double total;      /**< task + l2 terms */
    double task;       /**< MSE or CE */
    double l2_weights; /**< lambda_w * ... (0 when lambda_w = 0) */
    double l2_rates;   /**< lambda_r * ... */
} eir_loss_parts;

/**
 * Loss of @p batch at the current theta and its gradient d loss / d theta (eir_net_theta_len()
 * values into @p grad; entries of frozen parameters are 0). Forward pass in the spec's
 * precision from V_0 = 0 with the recurrent noise of stream key @p noise_key (the run
 * generator of MODEL.md section 6 keyed by it; sigma 0: none), then backpropagation through
 * time. @p y_out (may be NULL) gets the readout B*T*n_out, y_{t+1} for t = 0..T-1. The same
 * bytes for any spec threads value. EIR_EINVAL for a batch whose sizes disagree with the
 * network; EIR_ENUMERIC when the forward pass is not finite (the message gives the step);
 * EIR_ENOMEM.
 */
eir_status eir_net_loss_grad(eir_net *n, const eir_batch *batch, uint64_t noise_key,
                             eir_loss_parts *loss, double *grad, double *y_out, eir_error *err);

/** eir_net_loss_grad() without the gradient (evaluation): loss and readout only. */
eir_status eir_net_forward(eir_net *n, const eir_batch *batch, uint64_t noise_key,
                           eir_loss_parts *loss, double *y_out, eir_error *err);

/**
 * The effective model of the current theta as a description whose arrays point into @p n
 * (valid until the next change of theta or eir_net_free()): the same populations, class,
 * activation, form, M_in, sigma and readout_from as the initial model, with W (or K), A (full
 * matrix), leak (N), bias (N), P, W_out and b_out from theta. Building it gives the network
 * eir_net_loss_grad() integrates. Cannot fail.
 */
void eir_net_model_desc(eir_net *n, eir_model_desc *out);

/** Adam with gradient-norm clipping over theta. */
typedef struct eir_adam eir_adam;

/** Adam state for @p n's theta (moments 0, step 0). EIR_EINVAL naming "/optimizer/lr",
 *  "/optimizer/beta1", ... for a bad setting; EIR_ENOMEM. *out NULL on failure. */
eir_status eir_adam_new(const eir_net *n, const eir_train_spec *s, eir_adam **out, eir_error *err);
void eir_adam_free(eir_adam *a);

/**
 * One update: clip @p grad to the spec's norm (in place; *grad_norm gets the norm before
 * clipping), Adam step with bias correction, then project (A >= 0, G_b >= EIR_TRAIN_LEAK_MIN).
 * Frozen slices never change. A gradient whose norm is not finite changes nothing (not even
 * the step count); *grad_norm then says so. Cannot fail.
 */
void eir_adam_step(eir_adam *a, eir_net *n, double *grad, double *grad_norm);

/** Bytes of a checkpoint: theta, both moments and the step count, with a header. */
size_t eir_train_state_size(const eir_net *n);
/** Write the checkpoint of (@p n, @p a) to @p buf (eir_train_state_size() bytes). */
void eir_train_state_save(const eir_net *n, const eir_adam *a, int64_t iteration, void *buf);
/**
 * Restore a checkpoint written by eir_train_state_save() for the same network shape: theta,
 * moments, step; *iteration gets the iteration it was taken after. EIR_EINVAL (field "") when
 * the bytes are not such a checkpoint (size, magic, layout). Nothing changes on failure.
 */
eir_status eir_train_state_load(eir_net *n, eir_adam *a, const void *buf, size_t len,
                                int64_t *iteration, eir_error *err);

#ifdef __cplusplus
}
#endif

#endif
