/**
 * @file eir_runner.h
 * @brief One run pipeline for every front end: parse a run document → resolve its model → build
 *        → parse the run against the model → pick a seed → allocate the outputs → run → the run's
 *        metadata. `eirnnd` (server/exec.c, and server/h_runs.c for the first steps) and `eirnn
 *        simulate` (clients/cli/simulate.c) both go through it, so the same document gives the
 *        same bytes and the same metadata in both.
 *
 * Layering: engine (eir.h) <- schema (eir_json.h, eir_meta.h) <- runner (this) <- server and
 * clients. The runner knows no HTTP, no store and no files: a run's "model_id" is resolved by a
 * callback of the caller (the daemon looks in its model cache and store; the CLI refuses it or
 * answers with the model file it was given), and progress and cancellation go through the
 * engine's progress callback, which the caller supplies.
 *
 * Use:
 * @code
 *   eir_pipe *p; eir_pipe_stage at; eir_error err;
 *   if (eir_pipe_prepare(request, &cfg, &p, &at, &err) != EIR_OK) ... report err (at says where)
 *   eir_status st = eir_pipe_run(p, on_progress, ctx, &err);   // EIR_OK, EIR_ECANCELLED, ...
 *   json_t *meta = eir_pipe_meta(p);                            // after a run that ran
 *   ... write p->out[0 .. p->nout - 1] ...
 *   eir_pipe_free(p);
 * @endcode
 *
 * Threads: an ::eir_pipe belongs to one thread at a time; eir_pipe_run() runs the engine on
 * p->run->threads threads of its own and calls the progress callback from one of them.
 */
#ifndef EIR_RUNNER_H
#define EIR_RUNNER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "eir.h"
#include "eir_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most threads a run is given (eirnnd's --threads-per-run, eirnn simulate's --threads). */
#define EIR_PIPE_MAX_THREADS 256

/** The step of the pipeline that failed: tells a caller which input to blame. */
typedef enum eir_pipe_stage {
    EIR_PIPE_REFERENCE = 0, /**< the run's model reference ("model_id" / "model") */
    EIR_PIPE_MODEL,         /**< resolving (the callback) or building the model */
    EIR_PIPE_RUN,           /**< the run's fields, parsed against the model */
    EIR_PIPE_SEED,          /**< picking a random seed (err names the system error) */
    EIR_PIPE_OUTPUTS,       /**< allocating the recorded outputs */
    EIR_PIPE_SIMULATE       /**< eir_run() itself */
} eir_pipe_stage;

/** A model handed over by a resolver. Pointers are borrowed until the release callback. */
typedef struct eir_pipe_model {
    const eir_model *model;     /**< the built model (required) */
    const eir_model_spec *spec; /**< its parsed spec (required: sigma, name, seeds) */
    const char *hash;           /**< eir_model_hash() as 64 hex digits, or NULL to compute it */
    void *handle;               /**< given back to the release callback */
} eir_pipe_model;

/**
 * Resolve @p model_id for a run. Fill @p out and return EIR_OK, or return an error with @p err
 * filled (field "/model_id" for an unknown id); the caller's @p ctx may remember more (a store
 * error that should be retried later).
 */
typedef eir_status (*eir_pipe_resolve_fn)(void *ctx, const char *model_id, eir_pipe_model *out,
                                          eir_error *err);

/**
 * The shape of model @p model_id (eir_json_model_shape()) without building it, for
 * eir_pipe_check(). Errors as ::eir_pipe_resolve_fn.
 */
typedef eir_status (*eir_pipe_shape_fn)(void *ctx, const char *model_id, eir_model_shape *out,
                                        eir_error *err);

/** Give back a model that eir_pipe_resolve_fn handed over (its @c handle). */
typedef void (*eir_pipe_release_fn)(void *ctx, void *handle);

/**
 * Look up the run's inline model @p model (the run's "model" object) among models the caller
 * built before, by content. EIR_OK with @p out filled: use it (given back through the release
 * callback). EIR_OK with out->model NULL: not known, the pipeline builds it (and then offers it
 * through ::eir_pipe_keep_fn). Another status: fail the run's preparation with @p err.
 */
typedef eir_status (*eir_pipe_inline_fn)(void *ctx, const json_t *model, eir_pipe_model *out,
                                         eir_error *err);

/**
 * Offer the caller the model the pipeline just built from the run's inline model @p model
 * (@p built and @p spec, its arrays still there). Return 1 after taking both (then @p out lends
 * the model back, given back through the release callback; the caller may drop the spec's
 * arrays), or 0 leaving them to the pipeline (which frees them). Cannot fail otherwise.
 */
typedef int (*eir_pipe_keep_fn)(void *ctx, const json_t *model, eir_model *built,
                                eir_model_spec *spec, eir_pipe_model *out);

/**
 * The final state V of finished run @p run_id for a run whose "V0" names it (eir_run_spec
 * V0_from_run): @p trial (>= 0: N values) or all its trials (-1: B_ref x N values), as doubles
 * in *@p V (malloc'ed, the pipeline frees it), *@p len values. The pipeline checks the length
 * against N and B (errors name "/V0/run_id" or "/V0/trial"). Errors: EIR_EINVAL naming
 * "/V0/run_id" (no such run, not succeeded, no final state) or "/V0/trial"; another status for
 * a failure of the caller's storage (the caller's ctx remembers it).
 */
typedef eir_status (*eir_pipe_state_fn)(void *ctx, const char *run_id, int64_t trial, double **V,
                                        int64_t *len, eir_error *err);

/** How a pipeline resolves models and runs. Pointers are borrowed for the pipeline's life. */
typedef struct eir_pipe_config {
    const eir_json_limits *limits; /**< parsing limits (required) */
    /** A model document given beside the run (`eirnn simulate MODEL.json RUN.json`), built with
     *  field pointers from its root; the run's "model_id" is then not looked at, and a "model"
     *  inline in the run is refused. NULL: the run names its model itself. */
    const json_t *model;
    eir_pipe_resolve_fn resolve; /**< for a run with "model_id"; NULL refuses model_id */
    eir_pipe_release_fn release; /**< NULL when resolved models need no release */
    void *resolve_ctx;           /**< passed to every callback below */
    eir_pipe_shape_fn shape;     /**< for eir_pipe_check() of a run with "model_id" */
    /** For a run with its model inline (not cfg->model): looked up before it is built (NULL:
     *  always built), and offered once built (NULL: the pipeline keeps it). A daemon shares
     *  one build between the runs of identical inline models this way. */
    eir_pipe_inline_fn resolve_inline;
    eir_pipe_keep_fn keep_inline;
    /** For a run whose "V0" names another run (NULL refuses it: "/V0/run_id", "needs a
     *  server that keeps runs"); called by eir_pipe_prepare(), never by eir_pipe_check(). */
    eir_pipe_state_fn state;
    /** Threads of one run, 1..EIR_PIPE_MAX_THREADS; 0 = one per online CPU, at most one per
     *  trial. Results are the same bytes whatever it is (eir.h). */
    int threads;
} eir_pipe_config;

/** One recorded variable after a run: shape B x T' x n, C order, the run's precision. */
typedef struct eir_pipe_output {
    eir_var var;
    const char *name;  /**< "V", "r", "z" or "y" */
    const char *dtype; /**< "float64" or "float32" */
    int64_t shape[3];  /**< B, rows kept, units */
    const void *data;  /**< shape[0] * shape[1] * shape[2] values, owned by the pipeline */
    size_t bytes;      /**< size of data in bytes */
} eir_pipe_output;

/**
 * A run going through the pipeline. Callers read the fields; they may change only
 * @c parse_s (to add the time they spent reading the documents).
 */
typedef struct eir_pipe {
    /* ---- set by eir_pipe_prepare() */
    const eir_model *model;     /**< the built model */
    const eir_model_spec *spec; /**< its spec */
    const char *model_hash;     /**< from the resolver, or NULL (computed for the metadata) */
    const char *model_id;       /**< the run's "model_id" (borrowed from the request), or NULL */
    eir_run_spec *spec_run;     /**< the parsed run (owned) */
    eir_run_desc *run;          /**< &spec_run->desc: the run as it will be integrated */
    int seed_used;              /**< the run has a seed (given, or picked here) */
    int seed_picked;            /**< the seed was picked here (a noisy run without "seed") */
    eir_model_shape shape; /**< eir_pipe_check() only: the model's shape (the model is not built) */
    double parse_s, build_s; /**< seconds parsing the documents and building the model */
    /* ---- set by eir_pipe_run() */
    int ran;               /**< eir_run() was called (a run that did not start has no meta) */
    eir_status status;     /**< what eir_run() returned */
    eir_run_result result; /**< its outcome */
    double simulate_s;     /**< seconds in eir_run(), -1 before */
    int truncated;         /**< the outputs keep only the rows computed (stopped run) */
    eir_pipe_output out[EIR_NVARS]; /**< recorded variables, in eir_var order */
    int nout;                       /**< outputs kept: 0 unless status is EIR_OK or ECANCELLED */
    /** The final state "V_final" (B x N, the run's precision; shape[2] is 0, 2-D): data is set
     *  (owned by the pipeline) when eir_run() returned EIR_OK (diverged runs included), else
     *  NULL. Every run keeps it so that another run can start where it ended. */
    eir_pipe_output final;
    eir_stats *stats; /**< the run's statistics when its request has "metrics", else NULL */
    /* ---- private */
    const eir_pipe_config *cfg;
    eir_model *own_model;
    eir_model_spec *own_spec;
    void *handle;          /**< the resolver's handle, released by eir_pipe_free() */
    int resolved;          /**< handle came from cfg->resolve, resolve_inline or keep_inline */
    void *bufs[EIR_NVARS]; /**< output buffers (owned) */
    void *final_buf;       /**< the final state's buffer (owned) */
    json_t *inputs_sent;   /**< the run's described "inputs" as sent (a copy), or NULL */
} eir_pipe;

/**
 * Parse @p request (a run object), resolve or build its model, parse the run against it, give a
 * run whose "V0" names another run that run's final state (cfg->state; its length checked
 * against N and B: EIR_EINVAL naming "/V0/run_id" or "/V0/trial"; refused naming "/V0/run_id"
 * without cfg->state), pick a random seed for a noisy run without one (p->seed_picked; a caller
 * that stores the request should store the seed with it) and set the run's threads from @p cfg.
 *
 * Ownership: the pipeline keeps @p cfg (and so its resolve_ctx) by pointer and uses it again in
 * eir_pipe_free() to release a resolved model: both must outlive the pipeline.
 *
 * @return EIR_OK with a new pipeline in *@p out; on failure *@p out is NULL, nothing is kept,
 *         @p err says what is wrong (status EIR_EINVAL for bad input with a JSON pointer
 *         field, EIR_ENOMEM, or the resolver's status) and *@p stage which step failed.
 */
eir_status eir_pipe_prepare(const json_t *request, const eir_pipe_config *cfg, eir_pipe **out,
                            eir_pipe_stage *stage, eir_error *err);

/**
 * Check @p request against its model's shape without building the model: what
 * eir_pipe_prepare() checks, except what only the built model can tell (a run is parsed
 * against N, n_in and n_out alone). The model comes from cfg->model, the run's inline "model"
 * (eir_json_model_shape(), its recipes not generated) or cfg->shape for "model_id". A noisy run
 * without a seed gets one, as in eir_pipe_prepare().
 *
 * @return EIR_OK with a new pipeline in *@p out whose model, spec and outputs are NULL: only
 *         model_id, spec_run, run, seed_used and seed_picked are set; eir_pipe_run() and
 *         eir_pipe_meta() must not be called on it (free it with eir_pipe_free()). On failure
 *         as eir_pipe_prepare().
 */
eir_status eir_pipe_check(const json_t *request, const eir_pipe_config *cfg, eir_pipe **out,
                          eir_pipe_stage *stage, eir_error *err);

/**
 * Allocate the outputs (and the final state, and the statistics of a run with "metrics"),
 * then integrate with @p progress (may be NULL) called with @p ctx as eir.h says; a non-zero return
 * stops the run. A stopped run (EIR_ECANCELLED) keeps only the rows computed: each output's time
 * axis shrinks to result.rows_written (= steps done rounded down to record.every) and p->truncated
 * says so. A diverged run keeps its full shape, the rows from the divergence on NaN.
 *
 * @return what eir_run() returned (EIR_OK also for a diverged run), or EIR_ENOMEM with
 *         @p err naming the output when the outputs cannot be allocated (p->ran is then 0).
 *         p->out[0 .. p->nout - 1] are filled for EIR_OK and EIR_ECANCELLED. Call once.
 */
eir_status eir_pipe_run(eir_pipe *p, eir_progress_fn progress, void *ctx, eir_error *err);

/**
 * The run's metadata record (eir_meta.h), with outputs' shapes as kept and
 * summary.truncated, outputs.V_final when p->final is set, run.inputs for inputs described by
 * an object, and "metrics" (eir_json_metrics()) for a run with metrics. Callers add their own
 * keys ("tool", "created", per-output locations).
 * @return a new reference, or NULL when out of memory or before a run that ran.
 */
json_t *eir_pipe_meta(const eir_pipe *p);

/** Free @p p, its outputs and its model (or give the model back to the resolver). NULL: no-op. */
void eir_pipe_free(eir_pipe *p);

/** Fill @p seed with a random noise seed below 2^63 (getrandom). @return 0, or -1 with errno. */
int eir_pipe_random_seed(uint64_t *seed);

/** The default threads of a run of @p B trials: online CPUs, at most B, at most the maximum. */
int eir_pipe_default_threads(int B);

#ifdef __cplusplus
}
#endif
#endif /* EIR_RUNNER_H */
