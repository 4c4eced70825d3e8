/**
 * @file eir_json.h
 * @brief FORMAT.md's model and run JSON -> engine structures. Shared by the daemon and the
 *        command-line tool so that every entry point accepts exactly the same documents.
 *
 * Errors name the offending field as a JSON pointer relative to the document parsed (for a
 * run with an inline model, model fields are under "/model"), and say what was expected and
 * what was given (value, type or shape). Unknown fields are rejected. Size limits are checked
 * before any memory proportional to the claimed size is allocated.
 *
 * Callers parse documents with eir_json_loadb(..., JSON_REJECT_DUPLICATES, ...) (or jansson's
 * json_loads, which refuses integer literals beyond int64_t). Integer fields accept JSON
 * integers and reals with an integral value (3.0), as JSON Schema's "integer" does. Nothing here
 * keeps global state; all functions are thread-safe on distinct outputs. Every function returns
 * EIR_ENOMEM (with nothing leaked) when an allocation fails.
 */
#ifndef EIR_JSON_H
#define EIR_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "eir.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Limits enforced while parsing (a server sets its own; eir_json_limits_default() is lax). */
typedef struct eir_json_limits {
    int max_neurons;             /**< N = E + I */
    int max_inputs;              /**< n_inputs */
    int max_outputs;             /**< readout outputs */
    int64_t max_steps;           /**< T */
    int max_trials;              /**< B */
    int64_t max_input_values;    /**< B * T * n_inputs */
    int64_t max_recorded_values; /**< sum over recorded variables of B * T' * n */
    int max_depth;               /**< nesting depth of JSON values */
    /**
     * Not a limit on the document: a stop flag (eir.h) that ends the generation of `generate`
     * matrices and eir_json_build_model()'s build early with EIR_ECANCELLED once requested from
     * another thread (a daemon's shutdown, a build time limit, a cancel). NULL = never. Results
     * are the same bytes with or without it when it is not requested.
     */
    const eir_stop *stop;
} eir_json_limits;

/** Defaults: N 20000, inputs 4096, outputs 4096, T 10^7, B 4096, 2^28 input and recorded
 *  values, depth 64, no stop flag. */
void eir_json_limits_default(eir_json_limits *l);

/** A parsed model: the engine description plus the storage it points into. */
typedef struct eir_model_spec {
    eir_model_desc desc; /**< ready for eir_model_build(); arrays point into this spec */
    char name[128];      /**< "name", or "" */
    int generated;       /**< recurrent matrix came from a `generate` recipe */
    eir_gen_spec gen;    /**< that recipe (seed kept for the run record) */
    int input_generated; /**< input P came from a recipe */
    eir_gen_spec input_gen;
    void *storage; /**< owned arrays (implementation detail) */
} eir_model_spec;

/**
 * Parse a model object (FORMAT.md "Model"), generating any `generate` matrices (errors of the
 * generator are reported under ptr_prefix + "/recurrent/generate", "/input/P/generate" or
 * "/input/generate"). Value checks that need no engine are done here too (leak > 0, A >= 0,
 * K >= 0, M_in >= 0, reversal potentials, sigma >= 0, power k and n > 0, r_max > 0); Dale's
 * law and the class/activation rules are left to eir_model_build().
 * @param lim         limits, or NULL for eir_json_limits_default()
 * @param ptr_prefix  prefix for field pointers in errors ("" or NULL for a model document,
 *                    "/model" for a run's inline model)
 * On failure *out is NULL and @p err (may be NULL) names the field.
 */
eir_status eir_json_parse_model(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                                eir_model_spec **out, eir_error *err);

/**
 * Whether model document @p j has a `generate` recipe (recurrent, input, or input P), by the
 * keys the parser reads recipes from: building it then costs more than reading it (N x N
 * generation, a spectral radius). No validation (a malformed document may say 0 or 1; parsing
 * it names what is wrong). Never fails.
 */
int eir_json_model_has_recipe(const json_t *j);

/** What a run needs to know of its model to be checked against it (eir_json_model_shape()). */
typedef struct eir_model_shape {
    int n, n_e, n_i; /**< N and the populations */
    int n_in, n_out; /**< input channels, readout outputs (0 = none) */
    eir_class cls;   /**< the model's class */
    int generated;   /**< a part of it comes from a `generate` recipe (recurrent or input) */
    double sigma;    /**< noise intensity (a noisy run without a seed gets one) */
    char name[128];  /**< "name", or "" */
} eir_model_shape;

/**
 * The shape of a model document without building it: everything eir_json_parse_model() checks
 * except what a `generate` recipe would produce (the recipes themselves are parsed and
 * checked), so the cost is linear in the document's size. A document that passes may still
 * fail to build (Dale's law on explicit matrices, the engine's checks, generator errors); the
 * errors are the same as eir_json_parse_model()'s. On failure *out is zeroed.
 */
eir_status eir_json_model_shape(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                                eir_model_shape *out, eir_error *err);

/** Free a spec and the arrays it owns; NULL is a no-op. */
void eir_model_spec_free(eir_model_spec *s);

/**
 * Free the arrays of @p s once its model is built (the built model has its own copies): the
 * spec keeps its name, class, sizes, sigma and recipes, and desc's array pointers become NULL,
 * so it can no longer be built from. A cache keeping specs beside built models saves an N x N
 * matrix per model. NULL is a no-op.
 */
void eir_model_spec_drop_arrays(eir_model_spec *s);

/**
 * Parse and build in one go: eir_json_parse_model() then eir_model_build(), with engine
 * errors' fields prefixed by @p ptr_prefix. @p spec_out may be NULL (the spec is then freed;
 * the model does not need it). On failure *model_out (and *spec_out) are NULL; EIR_ECANCELLED
 * (no field) when lim->stop was requested before the model was built.
 */
eir_status eir_json_build_model(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                                eir_model **model_out, eir_model_spec **spec_out, eir_error *err);

/**
 * The model reference of a run object: exactly one of "model_id" (non-empty string) and
 * "model" (object) must be present. Sets *model_id (borrowed from @p run) or *model_inline
 * and leaves the other NULL. Errors name "/model_id" or "/model".
 */
eir_status eir_json_run_model_ref(const json_t *run, const char **model_id,
                                  const json_t **model_inline, eir_error *err);

/** A parsed run: the engine description plus owned inputs, V0 and neuron list. */
typedef struct eir_run_spec {
    eir_run_desc desc; /**< out[] buffers are left NULL for the caller */
    int has_seed;      /**< "seed" was given (else desc.seed is 0 and the caller picks one) */
    double time_limit; /**< "time_limit" in seconds, or 0 when not given */
    /** "V0": {"run_id": ..., "trial": b}: the initial state is another run's final V, which the
     *  caller supplies (eir_run_spec_set_V0()) before the run; desc.V0 is NULL until then. */
    int V0_from_run;
    char V0_run_id[32]; /**< the run's id ("r_" + 24 hex) */
    int64_t V0_trial;   /**< its trial, or -1 for "all trials" (its B must equal this run's) */
    /** "metrics" was given: desc.stats_req points at the parsed request (owned here), and
     *  desc.stats is NULL (the caller allocates it with eir_stats_new()). */
    int has_metrics;
    eir_stats_req metrics;                        /**< the request (windows point into storage) */
    char metric_names[EIR_STATS_MAX_WINDOWS][64]; /**< each window's "name" (default below) */
    double settle_tol; /**< "settle.tol" (> 0), or 0 without a settle window */
    void *storage;     /**< owned arrays (implementation detail) */
} eir_run_spec;

/**
 * Parse a run object (FORMAT.md "Run") against the built model @p m: dt, integrator,
 * precision, inputs (T x n_in, B x T x n_in, or {"steps", "trials"} with optional
 * "segments" and "noise": FORMAT.md "Described inputs", owned by the spec and pointed at by
 * desc.input_desc when a segment or noise is described), V0 (numbers, or {"run_id", "trial"}:
 * V0_from_run), record (vars, every, neurons), seed, time_limit, metrics (FORMAT.md "Metrics":
 * has_metrics, metrics, metric_names, settle_tol, desc.stats_req) and labels (checked with
 * eir_json_check_labels(), otherwise ignored). "model_id"/"model" are accepted and ignored here
 * (see eir_json_run_model_ref()). A caller running desc with stats_req set must give it
 * desc.stats (eir_stats_new()).
 *
 * A nested-list inputs array is one trial or B trials by its depth (2 or 3). V0 is a number
 * (V0_len 1), N values or B x N values. record defaults to vars ["V", "r"], every 1, all
 * neurons; "y" needs a readout, every must be <= T, neurons are distinct indices in [0, N).
 * T, B, B * T * n_in (described: B * segments * n_in, at most EIR_MAX_INPUT_SEGMENTS
 * segments) and the recorded values (sum over vars of B * T' * n) are checked against @p lim
 * (NULL for defaults) before anything proportional to them is allocated.
 * On failure *out is NULL and @p err names the field.
 */
eir_status eir_json_parse_run(const json_t *run, const eir_model *m, const eir_json_limits *lim,
                              eir_run_spec **out, eir_error *err);

/**
 * eir_json_parse_run() against a model's shape (eir_json_model_shape()) instead of a built
 * model: the same checks and errors, for a run whose model is not built yet.
 */
eir_status eir_json_parse_run_shape(const json_t *run, const eir_model_shape *shape,
                                    const eir_json_limits *lim, eir_run_spec **out, eir_error *err);

/** Free a run spec; NULL is a no-op. */
void eir_run_spec_free(eir_run_spec *s);

/**
 * Give a run whose "V0" names another run (V0_from_run) its initial state: @p len doubles
 * (N: every trial starts there, or B*N), copied into the spec, desc.V0 set. EIR_EINVAL naming
 * "/V0" when @p len is neither; EIR_ENOMEM.
 */
eir_status eir_run_spec_set_V0(eir_run_spec *s, const double *V, int64_t len, int n,
                               eir_error *err);

/**
 * The metrics of a finished run as JSON (FORMAT.md "Metrics"): @p st from the run, @p res its
 * outcome, names and tolerance from @p spec. NaN values are null; "settled" is false when
 * max_dVdt is NaN. @p dt is not used (every value is in steps or per unit of time already).
 * New reference; NULL when out of memory or when @p spec, @p st or @p res is NULL.
 */
json_t *eir_json_metrics(const eir_run_spec *spec, const eir_stats *st, const eir_run_result *res,
                         double dt);

/**
 * Check "labels" (FORMAT.md "Labels") of a model, run or sweep document at @p ptr ("/labels"):
 * an object of at most 64 members, keys of 1-63 characters from [A-Za-z0-9_.-], string values
 * of at most 255 bytes without control characters. NULL (absent) is accepted. EIR_EINVAL naming
 * the member ("/labels/project").
 */
eir_status eir_json_check_labels(const json_t *labels, const char *ptr, eir_error *err);

/**
 * A copy of @p doc with the value at JSON pointer @p pointer (RFC 6901, relative to @p doc)
 * replaced by @p value, sharing every subtree that is not on the path (only the containers on
 * the path are copied, shallowly: O(depth x their widths), not O(document)). The last token may
 * name a member missing from its object (it is added) but not an index past an array's end.
 * @p value is borrowed (a reference is taken). On failure NULL and @p err names @p pointer and
 * says which token is missing or of which type the value there is.
 */
json_t *eir_json_patch_pointer(const json_t *doc, const char *pointer, json_t *value,
                               eir_error *err);

/** Most points of a sweep (a daemon may set a lower limit). */
#define EIR_SWEEP_MAX_POINTS 1000000
/** Most axes of a sweep. */
#define EIR_SWEEP_MAX_AXES 16

/** How a sweep's axes combine. */
typedef enum eir_sweep_mode { EIR_SWEEP_GRID = 0, EIR_SWEEP_ZIP = 1 } eir_sweep_mode;

/** A parsed sweep request (docs/SWEEPS.md). JSON values are borrowed from the request. */
typedef struct eir_sweep_spec {
    const char *model_id;                  /**< "model_id", or NULL */
    const json_t *model;                   /**< "model" (inline), or NULL; exactly one of the two */
    const json_t *run;                     /**< "run" (object, without model fields) */
    int n_axes;                            /**< 1 .. EIR_SWEEP_MAX_AXES */
    const char *paths[EIR_SWEEP_MAX_AXES]; /**< each axis's "path", under /model or /run */
    const json_t *values[EIR_SWEEP_MAX_AXES]; /**< each axis's "values" (non-empty arrays) */
    int model_axes;                           /**< number of axes whose path is under /model */
    eir_sweep_mode mode;                      /**< "mode": "grid" (default) or "zip" */
    int64_t points;        /**< grid: product of lengths; zip: the common length */
    const json_t *metrics; /**< "metrics" (copied into every point's run), or NULL */
    const json_t *labels;  /**< "labels", or NULL */
    const char *name;      /**< "name", or NULL */
} eir_sweep_spec;

/**
 * Parse a sweep request (shape only: points are checked by the caller). Unknown fields, a path
 * not starting with "/model/" or "/run/" (or equal to them), "/run/model", "/run/model_id",
 * duplicate paths, zip axes of different lengths, more than @p max_points points (naming
 * "/axes") are refused with EIR_EINVAL naming the field. A "model" axis with a "model_id" base is
 * allowed (the caller patches the stored document).
 */
eir_status eir_json_parse_sweep(const json_t *j, int64_t max_points, eir_sweep_spec *out,
                                eir_error *err);

/**
 * Indices of point @p i along each axis: grid order is row-major (the last axis varies
 * fastest), zip gives i on every axis. Cannot fail for 0 <= i < points.
 */
void eir_sweep_point_index(const eir_sweep_spec *s, int64_t i, int64_t idx[EIR_SWEEP_MAX_AXES]);

/**
 * Decode an array field in either form (nested lists, or {"dtype","shape","base64"}) into
 * doubles. @p expect_shape / @p expect_ndim (0..8) give the wanted shape; -1 in a dimension
 * means "any" (the found size is written back on success). A number is accepted and
 * broadcast to the whole shape when @p allow_scalar (and no dimension is -1). Ragged lists,
 * non-numbers (named by their element pointer below @p ptr), bad base64, a byte count other
 * than shape x itemsize and non-finite values (by flat index) are rejected. More than
 * @p max_values values are rejected from the claimed shape, before allocating.
 * *out is malloc'ed (caller frees; at least one element, so never NULL on success) and NULL
 * on failure.
 */
eir_status eir_json_array(const json_t *j, const char *ptr, int expect_ndim, int64_t *expect_shape,
                          int allow_scalar, int64_t max_values, double **out, eir_error *err);

/**
 * Encode the @p n bytes at @p data as base64 (RFC 4648 standard alphabet, = padding).
 * @return a malloc'ed NUL-terminated string, or NULL when allocation fails.
 */
char *eir_base64_encode(const void *data, size_t n);

/**
 * Decode @p len characters of base64 (RFC 4648 standard alphabet, padding required, no
 * whitespace) into a malloc'ed buffer *out of *out_len bytes (non-NULL even when empty).
 * @return 0 on success, -1 for invalid base64, -2 when allocation fails; on failure *out is
 *         NULL and *out_len 0.
 */
int eir_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);

/**
 * json_loadb() that also reads integer literals outside int64_t (such as a seed of 2^63),
 * which jansson refuses as a syntax error: they are read as reals instead, so that the parsers
 * above reject them naming their field ("/seed": "expected an integer from 0 to 2^63-1 ...")
 * and accept them where any number is allowed. @p flags and @p error as for json_loadb().
 * On failure (NULL) *error describes the first problem of the text as written; when the copy
 * the retry needs cannot be allocated, the first error is returned as is (through jansson's
 * allocator, so an out-of-memory hook sees the failure). Thread-safe.
 */
json_t *eir_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error);

/* ------------------------------------------------------------------------------------------ */
/* Analysis requests (docs/ANALYSIS.md)                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Kinds of analysis. */
typedef enum eir_an_kind {
    EIR_AN_SPECTRUM = 0,
    EIR_AN_FIXED_POINTS = 1,
    EIR_AN_LYAPUNOV = 2,
    EIR_AN_ACTIVITY = 3
} eir_an_kind;

/** Name of a kind ("spectrum", "fixed_points", "lyapunov", "activity"). */
const char *eir_an_kind_name(eir_an_kind k);

/** Most random starts of a fixed_points analysis, and most run states given as starts. */
#define EIR_AN_MAX_RANDOM_STARTS 10000
#define EIR_AN_MAX_RUN_STARTS 1000
/** Most rows of a lyapunov convergence trace. */
#define EIR_AN_MAX_TRACE_POINTS 100000

/** Where a state comes from: nowhere, given V, a run's recorded state, a fixed_points point. */
typedef enum eir_an_state_src {
    EIR_AN_STATE_NONE = 0,
    EIR_AN_STATE_V = 1,
    EIR_AN_STATE_RUN = 2,
    EIR_AN_STATE_ANALYSIS = 3
} eir_an_state_src;

/** A state an analysis refers to ("at" of spectrum, a run start of fixed_points). */
typedef struct eir_an_state {
    eir_an_state_src src;
    char ptr[EIR_FIELD_MAX]; /**< JSON pointer of the object ("/at", "/starts/runs/3") */
    const double *V;         /**< STATE_V: V_len values (owned by the request) */
    int64_t V_len;
    char id[32];   /**< STATE_RUN: "r_..."; STATE_ANALYSIS: "a_..." */
    int64_t trial; /**< STATE_RUN [0] */
    int64_t step;  /**< STATE_RUN: 1..T, or < 0 from the end [-1] */
    int64_t index; /**< STATE_ANALYSIS [0] */
} eir_an_state;

/**
 * A parsed analysis request (FORMAT of docs/ANALYSIS.md): the common fields and each kind's
 * options, defaults filled in. Vector lengths are not checked against the model here (the
 * model is not known); the caller does. Strings and objects are borrowed from the JSON.
 */
typedef struct eir_an_request {
    eir_an_kind kind;
    const char *model_id; /**< borrowed, or NULL */
    const json_t *model;  /**< inline model (borrowed), or NULL */
    double time_limit;    /**< 0 = none */
    int64_t priority;     /**< -1000 .. 1000 [0] */
    int threads;          /**< 0 = not given */
    const double *x;      /**< "x" (x_len values), NULL = not given */
    int64_t x_len;
    /* spectrum */
    int of;           /**< 0 "W", 1 "M", 2 "jacobian" [2] */
    int eigenvectors; /**< [0] */
    eir_an_state at;  /**< required for of = jacobian, refused otherwise */
    /* fixed_points */
    int random_count;         /**< [0]; 100 when "starts" is absent */
    uint64_t random_seed;     /**< [1] */
    double random_scale;      /**< > 0 [1.0] */
    eir_an_state *run_starts; /**< n_run_starts (owned) */
    int n_run_starts;
    int max_iter;      /**< 1 .. 10000 [100] */
    double tol;        /**< > 0 [1e-10] */
    double dedupe_tol; /**< > 0 [1e-6] */
    int slow_points;   /**< [0] */
    double slow_tol;   /**< > 0 [1e-4] */
    /* lyapunov */
    int k;             /**< >= 1 [1] (<= N checked by the caller) */
    double dt;         /**< > 0 [0.01] */
    int64_t steps;     /**< 1 .. max_steps [10000] */
    int64_t transient; /**< 0 .. max_steps [1000] */
    int reortho_every; /**< 1 .. steps [1] */
    const double *V0;  /**< V0_len values or NULL */
    int64_t V0_len;
    uint64_t seed;    /**< [0] */
    int trace_points; /**< 1 .. min(EIR_AN_MAX_TRACE_POINTS, steps / reortho_every) [100,
                           capped at steps / reortho_every when not given] */
    /* activity */
    const char *run_id;  /**< borrowed */
    int var;             /**< EIR_VAR_R [default] or EIR_VAR_V */
    int64_t window_from; /**< recorded rows [0] */
    int64_t window_to;   /**< -1 = all rows */
    int balance;         /**< [1 with var r, 0 with var V] */
    int balance_given;
    void *storage; /**< owned arrays */
} eir_an_request;

/**
 * Parse analysis request @p j: "kind", the model reference ("model_id" or "model", not checked
 * beyond their types; activity takes its model from its run, so both are optional there),
 * "priority", "time_limit", "threads", "x" and the options of the kind, each checked for type
 * and range with the field named as a JSON pointer; unknown fields are refused (also the
 * options of another kind). Vectors are bounded by @p lim (max_neurons, max_inputs). On
 * failure *out is NULL. Free with eir_an_request_free().
 */
eir_status eir_json_parse_analysis(const json_t *j, const eir_json_limits *lim,
                                   eir_an_request **out, eir_error *err);

/** Free a parsed analysis request; NULL is a no-op. */
void eir_an_request_free(eir_an_request *r);

#ifdef __cplusplus
}
#endif
#endif /* EIR_JSON_H */
