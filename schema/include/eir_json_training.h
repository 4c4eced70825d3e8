/**
 * @file eir_json_training.h
 * @brief FORMAT.md "Trainings": the training document (POST /v1/trainings) -> engine
 *        structures (eir_task.h, eir_train.h), its check against the initial model, the trained
 *        model document, and the curve and final evaluation as JSON and CSV.
 *
 * Errors name the offending field as a JSON pointer relative to the training document
 * ("/optimizer/lr", "/task/timing/stimulus", "/trainable/2", "/model/readout") and say what was
 * expected and what was given. Unknown fields are refused. Size limits are checked before any
 * memory proportional to a claimed size is allocated. Nothing here keeps global state; all
 * functions are thread-safe on distinct outputs, and return EIR_ENOMEM (nothing leaked) when an
 * allocation fails.
 */
#ifndef EIR_JSON_TRAINING_H
#define EIR_JSON_TRAINING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "eir.h"
#include "eir_json.h"
#include "eir_task.h"
#include "eir_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most trials per iteration ("batch"; also at most the limits' max_trials). */
#define EIR_TRAINING_MAX_BATCH 4096
/** Most iterations of a training, and most of "evaluate.every" and "checkpoint_every". */
#define EIR_TRAINING_MAX_ITERATIONS 10000000
/** Most trials of "evaluate.trials" and "test.trials". */
#define EIR_TRAINING_MAX_EVAL_TRIALS 100000
/** Most trials of a custom task ("task.inputs"' first dimension). */
#define EIR_TRAINING_MAX_CUSTOM_TRIALS 100000
/** Most steps of one trial (the longest trial a built-in task's timing can draw, or T). */
#define EIR_TRAINING_MAX_STEPS 100000
/** Most attempts ("max_attempts"). */
#define EIR_TRAINING_MAX_ATTEMPTS 100
/** Largest absolute "priority". */
#define EIR_TRAINING_MAX_PRIORITY 1000

/**
 * A parsed training document, defaults filled in. Owns everything it points to (custom arrays,
 * a reference to the inline model and to the labels); free with eir_training_req_free(). Not
 * thread-safe to modify; read-only use from several threads is fine.
 */
typedef struct eir_training_req {
    char model_id[32]; /**< "model" as a stored model's id ("m_" + 24 hex), or "" */
    json_t *model;     /**< "model" inline (a reference the request holds), or NULL */

    /** The task: kind, dt (= "dt"), sigma, timing, coherences; a custom task's arrays point
     *  into the request's storage. custom.n_out is the width of "targets", or for "labels" the
     *  largest label + 1 until eir_training_check_model() sets it to the model's n_out. */
    eir_task_spec task;
    /** The held-out test task: "task" with "test.timing" and "test.coherences" applied. */
    eir_task_spec test_task;
    /** dt, integrator, precision, trainable, loss, L2, Adam, clip, seed; threads 1 (the
     *  caller sets its own). */
    eir_train_spec train;
    int has_seed; /**< "seed" was given (else train.seed is 0) */
    /** Index of each parameter in the document's "trainable" list, -1 when not listed (or
     *  when the list was not given: the default set). */
    int trainable_pos[EIR_NPARAMS];

    int batch;                /**< trials per iteration, 1 .. EIR_TRAINING_MAX_BATCH [32] */
    int64_t iterations;       /**< 1 .. EIR_TRAINING_MAX_ITERATIONS [2000] */
    int64_t eval_every;       /**< "evaluate.every", >= 1 [100] */
    int eval_trials;          /**< "evaluate.trials", 0 (no evaluation) .. [256] */
    int test_trials;          /**< "test.trials", 0 (no final test) .. [1000] */
    int64_t checkpoint_every; /**< >= 1 [100] */
    int64_t max_steps;        /**< the longest trial the task can draw, in steps of dt */

    char name[128];    /**< "name" of the trained model, or "" (the caller picks one) */
    json_t *labels;    /**< "labels" (a reference the request holds), or NULL */
    int64_t priority;  /**< -1000 .. 1000 [0] */
    double time_limit; /**< seconds, 0 = none [0] */
    int max_attempts;  /**< 1 .. EIR_TRAINING_MAX_ATTEMPTS, 0 = not given (the service's) */
    void *storage;     /**< owned arrays (implementation detail) */
} eir_training_req;

/**
 * Parse training document @p j (FORMAT.md "Trainings"). Everything is checked that can be
 * without the model: types, ranges, enums, unknown fields, timing specs against the task's
 * periods (eir_task_period_name()), the custom arrays' shapes against each other, and the task
 * as eir_task_check() sees it. The inline model is only checked to be an object (parse it with
 * eir_json_parse_model(..., "/model", ...)), then eir_training_check_model().
 *
 * Memory: batch (and lim->max_trials), trial length (EIR_TRAINING_MAX_STEPS), trials x longest
 * trial x (n_in + n_out + 1) values of the batch, the evaluation and the test, and the values of
 * the custom arrays together are bounded by @p lim (max_input_values; NULL =
 * eir_json_limits_default()) before allocating.
 * On failure *out is NULL and @p err names the field.
 */
eir_status eir_json_parse_training(const json_t *j, const eir_json_limits *lim,
                                   eir_training_req **out, eir_error *err);

/** Free a parsed request; NULL is a no-op. */
void eir_training_req_free(eir_training_req *r);

/**
 * Check the initial model @p d (the description it was parsed or built from: sizes, class,
 * form, readout) against request @p r: n_in equal to the task's inputs ("/model/n_inputs"), a
 * readout ("/model/readout") with the task's outputs (a custom task with labels: more outputs
 * than its largest label; sets r->task.custom.n_out and r->test_task.custom.n_out to the
 * model's n_out), "A" trainable only for class gated in the reduced form ("/trainable/k"), and
 * the memory of the backward pass: batch x longest trial x N <= lim->max_recorded_values
 * ("/batch"). @p lim NULL = eir_json_limits_default(). EIR_EINVAL naming the field; nothing
 * changes on failure.
 */
eir_status eir_training_check_model(eir_training_req *r, const eir_model_desc *d,
                                    const eir_json_limits *lim, eir_error *err);

/**
 * The trained model document: a copy of the initial model document @p initial (FORMAT.md
 * "Model", as given: inline or stored) with the arrays of @p trained (eir_net_model_desc())
 * written as {"dtype": "float64", "shape": [..], "base64": ..} arrays of exactly those doubles:
 * the recurrent W (with A for class gated, in the description's shape: eir_net_model_desc()
 * gives the full N x N matrix) or K (with E_rev) replacing any `generate` recipe, leak (N), bias
 * (N, when @p trained has one), input P (replacing an input recipe; M_in kept), readout W_out and
 * b_out. Every other member (name, description, class, populations, activation, dale policy, E_rev,
 * noise, labels, readout "from") is kept; "name" is replaced by @p name when it is not NULL or "".
 * Parsing the result and building it gives a model whose eir_model_hash() equals that of the model
 * built from @p trained. New reference; NULL with @p err set (EIR_EINVAL when @p trained does not
 * fit @p initial's shape, EIR_ENOMEM).
 */
json_t *eir_json_trained_model(const json_t *initial, const eir_model_desc *trained,
                               const char *name, eir_error *err);

/** One row of a training's curve (FORMAT.md "Trainings", "Curve"); NaN = none. */
typedef struct eir_curve_row {
    int64_t iteration;    /**< updates done, 1-based */
    double loss;          /**< total loss of the iteration's batch */
    double task_loss;     /**< its MSE or cross-entropy part */
    double l2_weights;    /**< its weight penalty */
    double l2_rates;      /**< its rate penalty */
    double grad_norm;     /**< gradient 2-norm before clipping */
    double accuracy;      /**< on the iteration's training trials */
    double eval_accuracy; /**< on "evaluate.trials" held-out trials, at evaluation iterations */
} eir_curve_row;

/** Columns of the curve, in order (JSON member names and CSV header). */
#define EIR_CURVE_COLUMNS                                                                          \
    "iteration,loss,task_loss,l2_weights,l2_rates,grad_norm,accuracy,eval_accuracy"

/** The row of eir_task_train()'s callback, with eval_accuracy NaN. Cannot fail. */
void eir_curve_row_from_train(const eir_train_row *in, eir_curve_row *out);

/**
 * A curve row as a JSON object {"iteration": .., "loss": .., ...} (EIR_CURVE_COLUMNS, in that
 * order), NaN and infinities as null. New reference; NULL when out of memory.
 */
json_t *eir_json_curve_row(const eir_curve_row *r);

/**
 * A curve row as one CSV line (EIR_CURVE_COLUMNS order, "\n" ended, NaN and infinities as empty
 * fields, numbers in 15 significant digits, or 17 when 15 do not read back exactly) into
 * @p buf of @p cap bytes (EIR_CURVE_CSV_MAX is enough). Returns the length written (without
 * the NUL), or 0 when @p cap is too small (buf then holds "").
 */
#define EIR_CURVE_CSV_MAX 256
size_t eir_csv_curve_row(const eir_curve_row *r, char *buf, size_t cap);

/** The CSV header line of the curve: EIR_CURVE_COLUMNS "\n". */
const char *eir_csv_curve_header(void);

/**
 * The final evaluation (eir_task_evaluate() on the test trials) as JSON: {"trials", "correct",
 * "accuracy", "ideal", "loss": {"total", "task", "l2_weights", "l2_rates"}, "psychometric":
 * [{"coherence", "n", "p_choice2"}, ...]} (NaN as null; "psychometric" is [] when the task
 * has none). New reference; NULL when out of memory.
 */
json_t *eir_json_task_eval(const eir_task_eval *e);

#ifdef __cplusplus
}
#endif
#endif /* EIR_JSON_TRAINING_H */
