/**
 * @file json_gen.h
 * @brief Internal: `generate` recipes -> ::eir_gen_spec.
 */
#ifndef EIR_JSON_GEN_H
#define EIR_JSON_GEN_H

#include "json_util.h"

/**
 * Parse a recurrent recipe (blocks EE, EI, IE, II; balance, spectral_radius,
 * self_connections) at @p ptr into @p out (initialised with eir_gen_spec_init() first).
 */
eir_status jg_parse_recurrent(const json_t *g, const char *ptr, eir_gen_spec *out, eir_error *err);

/** Parse an input recipe (blocks E, I; p[0]/mean[0] for E rows, p[1]/mean[1] for I rows). */
eir_status jg_parse_input(const json_t *g, const char *ptr, eir_gen_spec *out, eir_error *err);

#endif /* EIR_JSON_GEN_H */
