/**
 * @file eir_meta.h
 * @brief The metadata record of a run (meta.json of `eirnn simulate`, and the server's run
 *        record): what ran, with which engine and parameters, how long it took and how it ended.
 *
 * Layout (keys of the returned object):
 * - "engine": {"version", "rng"}
 * - "model": {"hash", "name", "class", "activation", "sizes": {"N", "E", "I", "n_in", "n_out"},
 *   "sigma", "dale_projected", "generate": {"recurrent_seed", "input_seed"} (null when nothing
 *   was generated; a seed is null when its matrix was given)}
 * - "run": {"dt", "integrator", "precision", "T", "B", "inputs" (only for inputs described by
 *   an object, FORMAT.md "Described inputs": that object as sent), "record": {"vars", "every",
 *   "neurons"}, "seed", "noise_generator", "threads"}
 * - "timings": {"parse_s", "build_s", "simulate_s"}
 * - "summary": {"steps_done", "rows_written", "truncated", "mean_rate_E", "mean_rate_I",
 *   "max_z_dt", "unstable", "diverged", "diverged_step", "diverged_trial"}; "truncated" is true
 *   when the outputs keep only the rows computed (a stopped run: shape[1] = rows_written, fewer
 *   than floor(T / every))
 * - "status": "succeeded" | "diverged" | "cancelled" | "failed"
 * - "outputs": {"<var>": {"shape": [B, T', n], "dtype": "float64" | "float32"}} per recorded
 *   variable (T' = the rows kept), and "V_final": {"shape": [B, N], "dtype"} when the run kept
 *   its final state (eir_meta_input.final_V)
 * - "metrics": the run's metrics (eir_json_metrics()), only when given (eir_meta_input.metrics)
 *
 * Seeds are JSON integers (they are below 2^63 when they come from JSON); a seed of 2^63 or
 * more is written as a decimal string. No NaN or infinity is ever emitted: such numbers (and
 * unknown timings) are null.
 */
#ifndef EIR_META_H
#define EIR_META_H

#include <jansson.h>

#include "eir.h"
#include "eir_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What eir_run_meta() describes. Pointers are borrowed. */
typedef struct eir_meta_input {
    const eir_model *model;       /**< the built model (required) */
    const eir_model_spec *spec;   /**< its parsed spec: name, sigma, generation seeds; or NULL */
    const eir_run_desc *run;      /**< the run as integrated (required) */
    int seed_used;                /**< run->seed was given or picked (else "seed" is null) */
    const eir_run_result *result; /**< outcome, or NULL when the run did not start */
    eir_status run_status;        /**< what eir_run() returned */
    double parse_s;               /**< seconds parsing JSON; < 0 = unknown (null) */
    double build_s;               /**< seconds building the model; < 0 = unknown */
    double simulate_s;            /**< seconds in eir_run(); < 0 = unknown */
    /** eir_model_hash() of @c model when the caller already has it (64 hex characters and a
     *  NUL; a daemon keeps it per cached model), or NULL to have it computed here. It must be
     *  the hash of @c model: it is copied into "model.hash" unchecked. */
    const char *model_hash;
    /** Rows kept in each output when the outputs were cut to the rows computed (a stopped
     *  run, eir_runner.h), or -1 for all floor(T / every) rows. */
    int64_t rows_kept;
    /** The run's "inputs" object as sent when the inputs were described (not spelled out as
     *  an array), or NULL: shown as "run.inputs" (shared with the record, not copied). */
    const json_t *inputs;
    /** The run's metrics (eir_json_metrics()), or NULL: shown as "metrics" (shared). */
    const json_t *metrics;
    /** The run kept its final state V (B x N, the run's precision): listed in "outputs" as
     *  "V_final". */
    int final_V;
    /** The run started from another run's final state ("V0": {"run_id", "trial"}): its id,
     *  shown as "run.V0" with the trial (null for all trials); NULL otherwise. */
    const char *V0_run_id;
    int64_t V0_trial; /**< the trial, or -1 for all of them */
} eir_meta_input;

/** Fill @p in with "nothing known": NULL pointers (model_hash, inputs, metrics, V0_run_id too),
 *  EIR_OK, timings and rows_kept -1, final_V 0. */
void eir_meta_input_init(eir_meta_input *in);

/**
 * Status word of a run: "cancelled" for EIR_ECANCELLED, "failed" for any other error,
 * "diverged" when @p res says so, else "succeeded" (also when @p res is NULL and @p st is OK).
 */
const char *eir_meta_status(eir_status st, const eir_run_result *res);

/** dtype name of a precision as NumPy spells it: "float64" or "float32". */
const char *eir_meta_dtype(eir_precision p);

/**
 * Number of units n of the recorded variable @p v: n_out for y, else the number of recorded
 * neurons (N when the run records all).
 */
int eir_meta_var_units(const eir_model *m, const eir_run_desc *r, eir_var v);

/**
 * Build the metadata object described above (see the file comment).
 * @return a new reference, or NULL when @p in lacks the model or the run or allocation fails.
 */
json_t *eir_run_meta(const eir_meta_input *in);

#ifdef __cplusplus
}
#endif
#endif /* EIR_META_H */
