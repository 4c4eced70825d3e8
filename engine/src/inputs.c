/**
 * @file inputs.c
 * @brief Described inputs (eir.h "Described inputs"): the check of a description and its
 *        expansion, window by window, into the values a run integrates with.
 *
 * Compiled with -ffp-contract=off (engine/CMakeLists.txt): the ramp and the noise are evaluated
 * exactly as eir.h writes them, with no fused multiply-add, so that NumPy (which never fuses)
 * reproduces them to the bit, noise excepted.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eir.h"
#include "philox.h"

/** Check one value block of a segment: row count and finite, bounded values. */
static eir_status check_rows(const double *v, int rows, int B, int n_in, int s, const char *name,
                             eir_error *err)
{
    char f[64];
    snprintf(f, sizeof f, "/segments/%d/%s", s, name);
    if (rows != 1 && rows != B)
        return eir_error_set(err, EIR_EINVAL, f,
                             "expected 1 row of n_inputs = %d values (every trial) or B = %d rows "
                             "(one per trial), got %d rows",
                             n_in, B, rows);
    if (!v && n_in > 0) return eir_error_set(err, EIR_EINVAL, f, "segment %d has no %s", s, name);
    const size_t cnt = (size_t)rows * (size_t)n_in;
    for (size_t q = 0; q < cnt; q++)
        if (!(fabs(v[q]) <= EIR_INPUT_VALUE_MAX))
            return eir_error_set(err, EIR_EINVAL, f,
                                 "%s [%zu][%zu] is %g: values must be finite and at most %g in "
                                 "magnitude",
                                 name, q / (size_t)n_in, q % (size_t)n_in, v[q],
                                 EIR_INPUT_VALUE_MAX);
    return EIR_OK;
}

eir_status eir_input_check(const eir_input_desc *d, int64_t T, int B, int n_in, eir_error *err)
{
    if (!d) return eir_error_set(err, EIR_EINVAL, "", "no input description");
    if (d->n_segments < 0 || d->n_segments > EIR_MAX_INPUT_SEGMENTS)
        return eir_error_set(err, EIR_EINVAL, "/segments",
                             "at most %d segments are allowed, got %d", EIR_MAX_INPUT_SEGMENTS,
                             d->n_segments);
    if (d->n_segments > 0 && !d->segments)
        return eir_error_set(err, EIR_EINVAL, "/segments", "the segments are missing");
    for (int s = 0; s < d->n_segments; s++) {
        const eir_input_segment *g = &d->segments[s];
        char f[64];
        if (g->from < 0 || g->from >= T) {
            snprintf(f, sizeof f, "/segments/%d/from", s);
            return eir_error_set(err, EIR_EINVAL, f, "from (%lld) must be in [0, steps = %lld)",
                                 (long long)g->from, (long long)T);
        }
        snprintf(f, sizeof f, "/segments/%d/to", s);
        if (g->to > T)
            return eir_error_set(err, EIR_EINVAL, f, "to (%lld) is past steps (%lld)",
                                 (long long)g->to, (long long)T);
        if (g->to <= g->from)
            return eir_error_set(err, EIR_EINVAL, f, "to (%lld) must be greater than from (%lld)",
                                 (long long)g->to, (long long)g->from);
        eir_status st = check_rows(g->value, g->value_rows, B, n_in, s, "value", err);
        if (st) return st;
        if (g->to_value) {
            st = check_rows(g->to_value, g->to_value_rows, B, n_in, s, "to_value", err);
            if (st) return st;
        }
    }
    if (!(d->noise_sigma >= 0 && d->noise_sigma <= EIR_INPUT_VALUE_MAX))
        return eir_error_set(err, EIR_EINVAL, "/noise/sigma",
                             "sigma must be a finite number >= 0 and at most %g, got %g",
                             EIR_INPUT_VALUE_MAX, d->noise_sigma);
    return EIR_OK;
}

/** Row @p b of a value block of @p rows rows (row 0 when it has one). */
static const double *row_of(const double *v, int rows, int b, int n_in)
{
    return v + (rows == 1 ? 0 : (size_t)b * (size_t)n_in);
}

void eir_input_expand(const eir_input_desc *d, int n_in, int b, int64_t t0, int64_t tc, double *out)
{
    if (n_in < 1 || tc < 1) return;
    memset(out, 0, (size_t)tc * (size_t)n_in * sizeof *out);
    const int64_t t1 = t0 + tc;
    for (int s = 0; s < d->n_segments; s++) {
        const eir_input_segment *g = &d->segments[s];
        const int64_t a = g->from > t0 ? g->from : t0, e = g->to < t1 ? g->to : t1;
        if (a >= e) continue;
        const double *v = row_of(g->value, g->value_rows, b, n_in);
        if (!g->to_value) {
            for (int64_t t = a; t < e; t++) {
                double *x = out + (size_t)(t - t0) * (size_t)n_in;
                for (int c = 0; c < n_in; c++)
                    x[c] += v[c];
            }
            continue;
        }
        const double *w = row_of(g->to_value, g->to_value_rows, b, n_in);
        const double len = (double)(g->to - g->from);
        for (int64_t t = a; t < e; t++) {
            double *x = out + (size_t)(t - t0) * (size_t)n_in;
            const double frac_num = (double)(t - g->from);
            for (int c = 0; c < n_in; c++)
                x[c] += v[c] + (w[c] - v[c]) * frac_num / len;
        }
    }
    if (d->noise_sigma > 0) {
        const double sg = d->noise_sigma;
        for (int64_t t = t0; t < t1; t++) {
            double *x = out + (size_t)(t - t0) * (size_t)n_in;
            const uint32_t stream = EIR_STREAM_INPUT_NOISE | (uint32_t)((uint64_t)t >> 32) << 8;
            for (int c = 0; c < n_in; c += 2) {
                double n0, n1;
                eir_normal2(d->noise_seed, (uint32_t)(c >> 1), (uint32_t)t, (uint32_t)b, stream,
                            &n0, &n1);
                x[c] += sg * n0;
                if (c + 1 < n_in) x[c + 1] += sg * n1;
            }
        }
    }
}
