/**
 * @file json_model.h
 * @brief Internal: the state shared by the model parser's files.
 */
#ifndef EIR_JSON_MODEL_H
#define EIR_JSON_MODEL_H

#include "eir_json.h"
#include "json_util.h"

/** Arrays owned by an ::eir_model_spec (its `storage`). */
typedef struct model_store {
    double *leak, *W, *A, *K, *P, *M_in, *bias, *W_out, *b_out;
} model_store;

/** Parsing context of one model object. */
typedef struct mctx {
    const eir_json_limits *lim;
    const char *base; /**< pointer of the model object ("" or e.g. "/model") */
    eir_model_spec *spec;
    model_store *st;
    int N;
    eir_error *err;
    int shape_only; /**< parse `generate` recipes without generating (eir_json_model_shape()) */
} mctx;

/** Parse "recurrent" (W/A/dale, K/E_rev or generate) into the spec. */
eir_status jm_parse_recurrent(mctx *c, const json_t *model);

/** Parse "input" (P or a recipe, M_in) into the spec. */
eir_status jm_parse_input(mctx *c, const json_t *model);

#endif /* EIR_JSON_MODEL_H */
