/**
 * @file json_run.h
 * @brief Internal: the state shared by the run parser's files (json_run.c: the run object;
 *        json_inputs.c: described inputs; json_run_metrics.c: the "metrics" request).
 */
#ifndef EIR_JSON_RUN_H
#define EIR_JSON_RUN_H

#include "eir_json.h"
#include "json_util.h"

/** Arrays owned by an ::eir_run_spec (its `storage`). */
typedef struct run_store {
    double *inputs;
    double *V0;
    int *neurons;
    /* described inputs (json_inputs.c): segments' values in one buffer */
    eir_input_segment *segments;
    double *segment_values;
    eir_input_desc input_desc;
    /* "metrics" (json_run_metrics.c) */
    eir_stat_window windows[EIR_STATS_MAX_WINDOWS];
} run_store;

/** Parsing context of one run object. */
typedef struct rctx {
    const eir_json_limits *lim;
    eir_run_spec *spec;
    run_store *st;
    int N, n_in, n_out;
    eir_error *err;
} rctx;

/** What a probed value is, for "got ..." in a shape error: "a number" or "[2, 3]". */
void jr_shape_text(const ja_info *info, char got[JA_SHAPE_STR]);

/**
 * Parse described inputs @p v (an object with "steps", and "trials", "segments", "noise") at
 * @p ptr: sets desc.T and desc.B, and desc.input_desc when a segment or noise is described.
 */
eir_status jr_parse_described(rctx *c, const json_t *v, const char *ptr);

/** Parse the run's "metrics" (after T is known) into spec->metrics; absent: nothing. */
eir_status jr_parse_metrics(rctx *c, const json_t *run);

#endif /* EIR_JSON_RUN_H */
