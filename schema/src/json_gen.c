/**
 * @file json_gen.c
 * @brief `generate` recipes (FORMAT.md) -> ::eir_gen_spec, for the recurrent matrix (blocks
 *        EE, EI, IE, II) and the input matrix (blocks E, I).
 */
#include "json_gen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const rec_keys[] = {
    "seed", "p", "dist", "mean", "cv", "balance", "spectral_radius", "self_connections", NULL};
static const char *const in_keys[] = {"seed", "p", "dist", "mean", "cv", NULL};
static const char *const rec_blocks[] = {"EE", "EI", "IE", "II", NULL};
static const char *const in_blocks[] = {"E", "I", NULL};
static const char *const dists[] = {"lognormal", "gamma", "halfnormal", "constant", NULL};

/* One probability (hi = 1) or mean magnitude (hi = INFINITY) in [0, hi]. */
static eir_status block_value(const json_t *v, const char *ptr, double hi, double *out,
                              eir_error *err)
{
    char num[40];
    if (ju_number(v, ptr, out, err)) return EIR_EINVAL;
    if (*out >= 0 && *out <= hi) return EIR_OK;
    ju_fmt_num(num, sizeof num, *out);
    if (hi == 1)
        return eir_error_set(err, EIR_EINVAL, ptr, "expected a probability in [0, 1], got %s", num);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected a mean magnitude >= 0, got %s", num);
}

/* A scalar for every block, or an object with every block key. */
static eir_status parse_blocks(const json_t *v, const char *ptr, const char *const *blocks,
                               double hi, double *out, eir_error *err)
{
    char sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    if (json_is_number(v)) {
        if (block_value(v, ptr, hi, &out[0], err)) return EIR_EINVAL;
        for (int b = 1; b < 4; b++)
            out[b] = out[0];
        return EIR_OK;
    }
    if (!json_is_object(v)) {
        ju_describe(v, got);
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected a number or an object with one value per block (%s), "
                             "got %s",
                             blocks[2] ? "EE, EI, IE, II" : "E, I", got);
    }
    if (ju_check_keys(v, ptr, blocks, err)) return EIR_EINVAL;
    for (int b = 0; blocks[b]; b++) {
        const json_t *m = ju_member(v, ptr, blocks[b], sub);
        if (!m) return ju_missing(ptr, blocks[b], "every block needs a value", err);
        if (block_value(m, sub, hi, &out[b], err)) return EIR_EINVAL;
    }
    return EIR_OK;
}

static eir_status parse_cv(const json_t *g, const char *ptr, eir_gen_spec *out, eir_error *err)
{
    char sub[EIR_FIELD_MAX], num[40];
    const json_t *m = ju_member(g, ptr, "cv", sub);
    if (!m) return EIR_OK;
    if (out->dist != EIR_DIST_LOGNORMAL && out->dist != EIR_DIST_GAMMA)
        return eir_error_set(err, EIR_EINVAL, sub,
                             "cv applies only to dist lognormal and gamma, got dist \"%s\"",
                             dists[out->dist]);
    if (ju_number(m, sub, &out->cv, err)) return EIR_EINVAL;
    if (out->cv > 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, out->cv);
    return eir_error_set(err, EIR_EINVAL, sub, "expected a coefficient of variation > 0, got %s",
                         num);
}

/* seed, p, dist, mean, cv: shared by both recipes. */
static eir_status parse_common(const json_t *g, const char *ptr, const char *const *blocks,
                               eir_gen_spec *out, eir_error *err)
{
    char sub[EIR_FIELD_MAX];
    const json_t *m;
    int dist;
    if (!(m = ju_member(g, ptr, "seed", sub)))
        return ju_missing(ptr, "seed",
                          "an integer from 0 to 2^63-1; the same seed gives the same "
                          "matrix",
                          err);
    if (ju_seed(m, sub, &out->seed, err)) return EIR_EINVAL;
    if ((m = ju_member(g, ptr, "dist", sub))) {
        if (ju_enum(m, sub, dists, &dist, err)) return EIR_EINVAL;
        out->dist = (eir_dist)dist;
    }
    if ((m = ju_member(g, ptr, "p", sub)) && parse_blocks(m, sub, blocks, 1, out->p, err))
        return EIR_EINVAL;
    if ((m = ju_member(g, ptr, "mean", sub)) &&
        parse_blocks(m, sub, blocks, INFINITY, out->mean, err))
        return EIR_EINVAL;
    return parse_cv(g, ptr, out, err);
}

static eir_status parse_radius(const json_t *m, const char *ptr, double *out, eir_error *err)
{
    char num[40];
    if (json_is_null(m)) {
        *out = 0;
        return EIR_OK;
    }
    if (ju_number(m, ptr, out, err)) return EIR_EINVAL;
    if (*out > 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, *out);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected a spectral radius > 0 or null, got %s",
                         num);
}

eir_status jg_parse_recurrent(const json_t *g, const char *ptr, eir_gen_spec *out, eir_error *err)
{
    char sub[EIR_FIELD_MAX];
    const json_t *m;
    eir_gen_spec_init(out);
    if (ju_expect_object(g, ptr, "a generate recipe object", err) ||
        ju_check_keys(g, ptr, rec_keys, err) || parse_common(g, ptr, rec_blocks, out, err))
        return EIR_EINVAL;
    if ((m = ju_member(g, ptr, "balance", sub)) && ju_bool(m, sub, &out->balance, err))
        return EIR_EINVAL;
    if ((m = ju_member(g, ptr, "spectral_radius", sub)) &&
        parse_radius(m, sub, &out->spectral_radius, err))
        return EIR_EINVAL;
    if ((m = ju_member(g, ptr, "self_connections", sub)) &&
        ju_bool(m, sub, &out->self_connections, err))
        return EIR_EINVAL;
    return EIR_OK;
}

eir_status jg_parse_input(const json_t *g, const char *ptr, eir_gen_spec *out, eir_error *err)
{
    eir_gen_spec_init(out);
    if (ju_expect_object(g, ptr, "a generate recipe object", err) ||
        ju_check_keys(g, ptr, in_keys, err) || parse_common(g, ptr, in_blocks, out, err))
        return EIR_EINVAL;
    return EIR_OK;
}
