/**
 * @file eir_json.h
 * @brief FORMAT.md's model and run JSON -> engine structures. Shared by the daemon and the
 *        command-line tool so that every entry point accepts exactly the same documents.
 *
 * Errors name the offending field as a JSON pointer relative to the document parsed (for a
 * run with an inline model, model fields are under "/model"), and say what was expected and
 * what was given (value, type or shape). Unknown fields are rejected. Size limits are checked
 * before any memory proportional to the claimed size is allocated.
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
} eir_json_limits;

/** Defaults: N 20000, inputs 4096, outputs 4096, T 10^7, B 4096, 2^28 input and recorded
 *  values, depth 64. */
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
 * Parse a model object (FORMAT.md "Model"), generating any `generate` matrices.
 * @param ptr_prefix  prefix for field pointers in errors ("" for a model document,
 *                    "/model" for a run's inline model)
 * On failure *out is NULL and @p err names the field.
 */
eir_status eir_json_parse_model(const json_t *j, const eir_json_limits *lim,
                                const char *ptr_prefix, eir_model_spec **out, eir_error *err);

/** Free a spec; NULL is a no-op. */
void eir_model_spec_free(eir_model_spec *s);

/**
 * Parse and build in one go: eir_json_parse_model() then eir_model_build(), with engine
 * errors' fields prefixed by @p ptr_prefix. @p spec_out may be NULL.
 */
eir_status eir_json_build_model(const json_t *j, const eir_json_limits *lim,
                                const char *ptr_prefix, eir_model **model_out,
                                eir_model_spec **spec_out, eir_error *err);

/**
 * The model reference of a run object: exactly one of "model_id" (string) and "model"
 * (object) must be present. Sets *model_id (borrowed from @p run) or *model_inline.
 */
eir_status eir_json_run_model_ref(const json_t *run, const char **model_id,
                                  const json_t **model_inline, eir_error *err);

/** A parsed run: the engine description plus owned inputs, V0 and neuron list. */
typedef struct eir_run_spec {
    eir_run_desc desc; /**< out[] buffers are left NULL for the caller */
    int has_seed;      /**< "seed" was given (else desc.seed is 0 and the caller picks one) */
    double time_limit; /**< "time_limit" in seconds, or 0 when not given */
    void *storage;     /**< owned arrays (implementation detail) */
} eir_run_spec;

/**
 * Parse a run object (FORMAT.md "Run") against the built model @p m: dt, integrator,
 * precision, inputs (T x n_in, B x T x n_in, or {"steps", "trials"}), V0, record
 * (vars, every, neurons), seed, time_limit. "model_id"/"model" are accepted and ignored here
 * (see eir_json_run_model_ref()). Checks recorded-value limits.
 */
eir_status eir_json_parse_run(const json_t *run, const eir_model *m, const eir_json_limits *lim,
                              eir_run_spec **out, eir_error *err);

/** Free a run spec; NULL is a no-op. */
void eir_run_spec_free(eir_run_spec *s);

/**
 * Decode an array field in either form (nested lists, or {"dtype","shape","base64"}) into
 * doubles. @p expect_shape / @p expect_ndim give the wanted shape; -1 in a dimension means
 * "any" (the found size is written back). A scalar is accepted and broadcast when
 * @p allow_scalar. Non-finite values are rejected. *out is malloc'ed (caller frees).
 */
eir_status eir_json_array(const json_t *j, const char *ptr, int expect_ndim,
                          int64_t *expect_shape, int allow_scalar, int64_t max_values,
                          double **out, eir_error *err);

/** Encode @p n little-endian bytes of @p data as base64 (malloc'ed, NUL-terminated). */
char *eir_base64_encode(const void *data, size_t n);

/** Decode base64 (RFC 4648, padding required, no whitespace). Returns 0 on success. */
int eir_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* EIR_JSON_H */
