/**
 * @file eir_task.h
 * @brief Tasks to train on (docs/TASKS.md): neurogym's perceptual decision making, delayed
 * match-to-sample and context-dependent decision making (Mante et al. 2013), custom trial sets,
 * their accuracy and psychometric functions, and the training loop over a task.
 *
 * No I/O, no global state. Times are in milliseconds; a task is sampled at the training's dt.
 * Every random number comes from a 64-bit key (eir_train_stream()), through the generator
 * written down in TASKS.md, so that NumPy can regenerate the same trials bit for bit.
 */
#ifndef EIR_TASK_H
#define EIR_TASK_H

#include "eir_train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eir_task_kind {
    EIR_TASK_PERCEPTUAL_DM = 0, /**< "perceptual_decision_making" */
    EIR_TASK_DELAY_MATCH = 1,   /**< "delay_match_sample" */
    EIR_TASK_CONTEXT_DM = 2,    /**< "context_decision_making" */
    EIR_TASK_CUSTOM = 3         /**< trials given as arrays */
} eir_task_kind;

/** JSON name of a task kind, and the kind of a name (-1 when unknown). */
const char *eir_task_name(eir_task_kind k);
int eir_task_from_name(const char *name);

/** How a period's duration is drawn (neurogym's timing specs), in ms; rounded as TASKS.md says. */
typedef enum eir_dur_kind {
    EIR_DUR_CONSTANT = 0, /**< a */
    EIR_DUR_UNIFORM = 1,  /**< uniform in [a, b] */
    EIR_DUR_CHOICE = 2,   /**< one of choices[0..n_choices-1], uniformly */
    EIR_DUR_TRUNC_EXP = 3 /**< exponential of mean a truncated to [b, c] */
} eir_dur_kind;

#define EIR_TASK_MAX_PERIODS 6
#define EIR_TASK_MAX_CHOICES 16
#define EIR_TASK_MAX_COHERENCES 32

typedef struct eir_duration {
    eir_dur_kind kind;
    double a, b, c;
    double choices[EIR_TASK_MAX_CHOICES];
    int n_choices;
} eir_duration;

/** A custom trial set (borrowed): n_trials trials of T steps, as eir_batch's arrays. */
typedef struct eir_task_custom {
    int n_trials, T, n_in, n_out;
    const double *x;      /**< n_trials*T*n_in */
    const double *target; /**< n_trials*T*n_out (MSE) or NULL */
    const int32_t *label; /**< n_trials*T (CE) or NULL */
    const double *mask;   /**< as eir_batch, or NULL = all 1 */
    const int32_t *len;   /**< n_trials lengths, or NULL = all T */
} eir_task_custom;

/** A task and its parameters. Fill with eir_task_spec_init() (neurogym's defaults). */
typedef struct eir_task_spec {
    eir_task_kind kind;
    double dt;                                  /**< ms, > 0 */
    double sigma;                               /**< input noise (neurogym's sigma, >= 0) */
    eir_duration timing[EIR_TASK_MAX_PERIODS];  /**< per period, see eir_task_period_name() */
    double coherences[EIR_TASK_MAX_COHERENCES]; /**< decision tasks; neurogym's defaults */
    int n_coherences;
    eir_task_custom custom; /**< EIR_TASK_CUSTOM only */
} eir_task_spec;

/** neurogym's defaults for @p k at @p dt ms (TASKS.md gives them). */
void eir_task_spec_init(eir_task_spec *t, eir_task_kind k, double dt);
/** Periods of a built-in task, in order ("fixation", "stimulus", "delay", "decision", ...);
 *  NULL past the last. */
const char *eir_task_period_name(eir_task_kind k, int i);
int eir_task_n_periods(eir_task_kind k);
/** Inputs and outputs of a built-in task (custom: from its arrays). */
int eir_task_n_in(const eir_task_spec *t);
int eir_task_n_out(const eir_task_spec *t);

/**
 * Check @p t: EIR_EINVAL naming the field relative to the task object ("/timing/stimulus",
 * "/coherences/2", "/dt", "/custom/labels/3/7": custom arrays as
 * "/custom/<inputs|labels|targets|mask|lengths>/<trial>/<step>[/<channel>]") for a bad value.
 */
eir_status eir_task_check(const eir_task_spec *t, eir_error *err);

/** B generated trials, owned (free with eir_task_batch_free()). Arrays as eir_batch. */
typedef struct eir_task_batch {
    eir_task_kind kind; /**< the task the trials come from */
    int B, T, n_in, n_out;
    double *x;        /**< B*T*n_in */
    double *target;   /**< B*T*n_out: one-hot of label (built-in), or the custom targets */
    int32_t *label;   /**< B*T: 0 = fixate, 1.. = choices (built-in), or custom labels; may be
                           NULL for a custom MSE set */
    double *mask;     /**< B*T (CE) or B*T*n_out (custom MSE) */
    double *mask_out; /**< custom label sets: mask repeated over the n_out outputs (B*T*n_out),
                           the MSE view's mask; NULL otherwise */
    int32_t *len;     /**< B */
    /* per trial, built-in tasks (NULL for custom): */
    int32_t *gt;           /**< the correct choice, 1..n_out-1 */
    double *coherence;     /**< signed coherence (PDM: + toward choice 2; CDM: of the relevant
                                modality), 0 for DMS */
    int32_t *context;      /**< CDM: relevant modality 0/1; else 0 */
    int32_t *decision_end; /**< step index of the last decision step (choice read there) */
    double *evidence;      /**< PDM: summed stimulus difference (ch2 - ch1) over the stimulus;
                                NULL for the other tasks */
} eir_task_batch;

/**
 * Draw @p B trials of @p t from random key @p key. Trials of different lengths are padded to
 * the longest (len[] says). Deterministic in (t, key, B). EIR_EINVAL, EIR_ENOMEM; *out zeroed
 * on failure.
 */
eir_status eir_task_generate(const eir_task_spec *t, uint64_t key, int B, eir_task_batch *out,
                             eir_error *err);
void eir_task_batch_free(eir_task_batch *b);
/** The eir_batch view of @p tb for @p loss (CE: labels and B*T mask; MSE: targets). */
void eir_task_batch_view(const eir_task_batch *tb, eir_loss_kind loss, eir_batch *out);

/** Accuracy of readouts @p y (B*T*n_out) on @p tb (TASKS.md "Scoring"). */
typedef struct eir_task_score {
    int64_t trials;
    int64_t correct;
    double accuracy; /**< correct / trials; NaN when the task has no accuracy (custom MSE) */
} eir_task_score;

/** Score @p y; @p choice (may be NULL) gets each trial's choice (argmax at decision_end). */
void eir_task_score_batch(const eir_task_batch *tb, const double *y, int32_t *choice,
                          eir_task_score *out);

/** One point of a psychometric curve: trials of one signed coherence. */
typedef struct eir_psy_point {
    double coherence; /**< signed coherence (toward choice 2 positive) */
    int64_t n;        /**< trials */
    double p_choice2; /**< fraction that chose choice 2 */
} eir_psy_point;

/** Psychometric curve of choices (PDM, CDM), sorted by coherence; *n points (<= max: with more
 *  coherences than that, the max smallest). No points for the other tasks. Cannot fail. */
void eir_task_psychometric(const eir_task_batch *tb, const int32_t *choice, eir_psy_point *pts,
                           int max, int *n);

/** PDM: the ideal observer's accuracy on @p tb (sign of the summed evidence; ties and
 *  coherence 0 score by the same rule); NaN for other tasks. */
double eir_task_ideal_observer(const eir_task_batch *tb);

/** One iteration of training, for the curve. */
typedef struct eir_train_row {
    int64_t iteration; /**< updates done, 1-based */
    eir_loss_parts loss;
    double grad_norm; /**< before clipping */
    double accuracy;  /**< on this iteration's training trials; NaN when the task has none */
} eir_train_row;

/** Called after each update; return non-zero to stop (the loop then ends EIR_ECANCELLED). */
typedef int (*eir_train_row_fn)(void *ctx, const eir_train_row *row, const eir_net *n,
                                const eir_adam *a);

/**
 * Train @p n with @p a on task @p t: for i = @p from .. @p iterations - 1, draw @p batch trials
 * with key eir_train_stream(s->seed, i, 1), take the gradient with noise key
 * eir_train_stream(s->seed, i, 0), step Adam, call @p cb. Starting from a checkpoint taken
 * after iteration `from` gives the same bytes as an uninterrupted training. Fails as
 * eir_task_generate() (fields prefixed "/task") and eir_net_loss_grad() (the message names the
 * iteration); EIR_EINVAL for batch < 1 ("/batch"), from outside 0..iterations ("/iterations"),
 * a model whose inputs or readout do not fit the task ("/model/n_inputs", "/model/readout") or
 * an optimiser of another network; EIR_ENUMERIC when a gradient is not finite (theta is then
 * as after the last good update); EIR_ECANCELLED when @p cb asked.
 */
eir_status eir_task_train(eir_net *n, eir_adam *a, const eir_task_spec *t, const eir_train_spec *s,
                          int batch, int64_t from, int64_t iterations, eir_train_row_fn cb,
                          void *ctx, eir_error *err);

/** Trials per chunk of eir_task_evaluate() (TRAINING.md "Evaluation"; part of what the
 *  trials are): its memory is that of this many trials, however many it scores. */
#define EIR_TASK_EVAL_CHUNK 256

/** Evaluation on held-out trials. */
typedef struct eir_task_eval {
    eir_task_score score;
    double ideal; /**< eir_task_ideal_observer() of the same trials (PDM), else NaN */
    eir_psy_point psy[2 * EIR_TASK_MAX_COHERENCES + 1];
    int n_psy;
    eir_loss_parts loss;
} eir_task_eval;

/** Run @p trials trials of @p t (key @p key, evaluated in chunks) through @p n without noise
 *  of its own other than the model's (key stream 0 of @p key), and score them. Chunk c holds
 *  256 trials drawn with key eir_train_stream(key, c, 1), the model's noise keyed by
 *  eir_train_stream(key, c, 0) (TRAINING.md "Evaluation"). Fails as eir_task_generate() /
 *  eir_net_forward(), and as eir_task_train() for a model that does not fit; *out zeroed. */
eir_status eir_task_evaluate(eir_net *n, const eir_task_spec *t, const eir_train_spec *s,
                             uint64_t key, int trials, eir_task_eval *out, eir_error *err);

#ifdef __cplusplus
}
#endif

#endif
