/**
 * @file json_inputs.c
 * @brief FORMAT.md "Described inputs": a run's "inputs" given as {"steps", "trials",
 *        "segments", "noise"} -> ::eir_input_desc (engine semantics in eir.h). Everything the
 *        engine's eir_input_check() checks is checked here too, with errors naming the field
 *        under /inputs, and the values are counted against the limits before any allocation.
 */
#include "json_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One segment's value or to_value, probed: rows (1 or B) x n_in values. */
typedef struct seg_value {
    const json_t *v;
    char ptr[EIR_FIELD_MAX];
    ja_info info;
    int rows; /* 0 = absent */
} seg_value;

/* Probe value/to_value @p v at @p ptr: a number, n_in values or B x n_in. */
static eir_status probe_value(rctx *c, const json_t *v, const char *ptr, seg_value *out)
{
    char got[JA_SHAPE_STR];
    int B = c->spec->desc.B;
    out->v = v;
    snprintf(out->ptr, sizeof out->ptr, "%s", ptr);
    if (ja_probe(v, ptr, INT64_MAX, &out->info, c->err)) return EIR_EINVAL;
    const ja_info *in = &out->info;
    if (in->ndim == 0 || (in->ndim == 1 && in->shape[0] == c->n_in) ||
        (in->ndim == 2 && in->shape[0] == 1 && in->shape[1] == c->n_in)) {
        out->rows = 1;
        return EIR_OK;
    }
    if (in->ndim == 2 && in->shape[0] == B && in->shape[1] == c->n_in) {
        out->rows = B;
        return EIR_OK;
    }
    if (in->ndim == 1)
        snprintf(got, sizeof got, "%lld", (long long)in->shape[0]);
    else
        jr_shape_text(in, got);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected a number, %d values (n_inputs) or %d x %d (trials x "
                         "n_inputs), got %s",
                         c->n_in, B, c->n_in, got);
}

/* Read a probed value into @p dst (rows x n_in doubles; a number fills every channel). */
static eir_status fill_value(rctx *c, const seg_value *sv, double *dst)
{
    if (sv->info.ndim > 0) return ja_fill(sv->v, sv->ptr, &sv->info, dst, c->err);
    double x;
    if (ja_fill(sv->v, sv->ptr, &sv->info, &x, c->err)) return EIR_EINVAL;
    for (int k = 0; k < c->n_in; k++)
        dst[k] = x;
    return EIR_OK;
}

/* from and to of segment @p s at @p ptr: 0 <= from < to <= T. */
static eir_status parse_bounds(rctx *c, const json_t *s, const char *ptr, eir_input_segment *seg)
{
    char sub[EIR_FIELD_MAX];
    int64_t T = c->spec->desc.T;
    const json_t *m = ju_member(s, ptr, "from", sub);
    if (!m) return ju_missing(ptr, "from", "the first step of the segment (0-based)", c->err);
    if (ju_int(m, sub, 0, INT64_MAX, &seg->from, c->err)) return EIR_EINVAL;
    if (seg->from >= T)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "from (%lld) is not before steps (%lld): the segment would be empty",
                             (long long)seg->from, (long long)T);
    if (!(m = ju_member(s, ptr, "to", sub)))
        return ju_missing(ptr, "to", "the step after the segment's last", c->err);
    if (ju_int(m, sub, 0, INT64_MAX, &seg->to, c->err)) return EIR_EINVAL;
    if (seg->to > T)
        return eir_error_set(c->err, EIR_EINVAL, sub, "to (%lld) is past steps (%lld)",
                             (long long)seg->to, (long long)T);
    if (seg->to <= seg->from)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected to > from (%lld), got %lld: the segment would be empty",
                             (long long)seg->from, (long long)seg->to);
    return EIR_OK;
}

/* Check segment @p k and probe its values into @p vals[2] (value, to_value). */
static eir_status probe_segment(rctx *c, const json_t *s, const char *ptr, eir_input_segment *seg,
                                seg_value vals[2])
{
    static const char *const keys[] = {"from", "to", "value", "to_value", NULL};
    char sub[EIR_FIELD_MAX];
    if (ju_expect_object(s, ptr,
                         "a segment {\"from\": step, \"to\": step, \"value\": ..., "
                         "\"to_value\": ...}",
                         c->err) ||
        ju_check_keys(s, ptr, keys, c->err) || parse_bounds(c, s, ptr, seg))
        return EIR_EINVAL;
    const json_t *v = ju_member(s, ptr, "value", sub);
    if (!v)
        return ju_missing(ptr, "value",
                          "a number, n_inputs values or trials x n_inputs (the segment's input)",
                          c->err);
    if (probe_value(c, v, sub, &vals[0])) return EIR_EINVAL;
    vals[1].rows = 0;
    if ((v = ju_member(s, ptr, "to_value", sub)) && probe_value(c, v, sub, &vals[1]))
        return EIR_EINVAL;
    return EIR_OK;
}

/* Trials x segments x n_inputs against max_input_values, before anything is allocated. */
static eir_status check_count(rctx *c, size_t n, const char *ptr)
{
    int64_t total;
    if (__builtin_mul_overflow((int64_t)c->spec->desc.B, (int64_t)n, &total) ||
        __builtin_mul_overflow(total, (int64_t)c->n_in, &total))
        total = INT64_MAX;
    if (total <= c->lim->max_input_values) return EIR_OK;
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected at most %lld described input values (trials x segments x "
                         "n_inputs), got %lld; use fewer segments or trials",
                         (long long)c->lim->max_input_values, (long long)total);
}

/* Probe every segment (bounds and shapes), then allocate and read their values. */
static eir_status parse_segments(rctx *c, const json_t *v, const char *ptr)
{
    char sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || n > EIR_MAX_INPUT_SEGMENTS) {
        ju_describe(v, got);
        if (json_is_array(v)) snprintf(got, sizeof got, "a list of %zu", n);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a list of at most %d segments, got %s",
                             EIR_MAX_INPUT_SEGMENTS, got);
    }
    if (n == 0 || check_count(c, n, ptr)) return n == 0 ? EIR_OK : EIR_EINVAL;
    run_store *st = c->st;
    seg_value *vals = calloc(2 * n, sizeof *vals);
    st->segments = calloc(n, sizeof *st->segments);
    if (!vals || !st->segments) {
        free(vals);
        return ju_enomem(c->err, ptr);
    }
    eir_status rc = EIR_OK;
    size_t count = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        ju_ptr_idx(sub, ptr, k);
        rc = probe_segment(c, json_array_get(v, k), sub, &st->segments[k], &vals[2 * k]);
        count += (size_t)(vals[2 * k].rows + vals[2 * k + 1].rows) * (size_t)c->n_in;
    }
    if (!rc && !(st->segment_values = malloc((count ? count : 1) * sizeof(double))))
        rc = ju_enomem(c->err, ptr);
    double *dst = st->segment_values;
    for (size_t k = 0; k < n && !rc; k++) {
        eir_input_segment *seg = &st->segments[k];
        seg->value = dst;
        seg->value_rows = vals[2 * k].rows;
        rc = fill_value(c, &vals[2 * k], dst);
        dst += (size_t)seg->value_rows * (size_t)c->n_in;
        if (rc || !vals[2 * k + 1].rows) continue;
        seg->to_value = dst;
        seg->to_value_rows = vals[2 * k + 1].rows;
        rc = fill_value(c, &vals[2 * k + 1], dst);
        dst += (size_t)seg->to_value_rows * (size_t)c->n_in;
    }
    free(vals);
    if (rc) return rc;
    st->input_desc.segments = st->segments;
    st->input_desc.n_segments = (int)n;
    return EIR_OK;
}

/* "noise": {"sigma": s >= 0, "seed": k} (seed required when sigma > 0). */
static eir_status parse_noise(rctx *c, const json_t *v, const char *ptr)
{
    static const char *const keys[] = {"sigma", "seed", NULL};
    char sub[EIR_FIELD_MAX], num[40];
    eir_input_desc *d = &c->st->input_desc;
    if (ju_expect_object(v, ptr, "an object {\"sigma\": s, \"seed\": k}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "sigma", sub);
    if (!m) return ju_missing(ptr, "sigma", "the input noise's standard deviation >= 0", c->err);
    if (ju_number(m, sub, &d->noise_sigma, c->err)) return EIR_EINVAL;
    if (d->noise_sigma < 0) {
        ju_fmt_num(num, sizeof num, d->noise_sigma);
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected an input noise intensity >= 0, got %s", num);
    }
    if ((m = ju_member(v, ptr, "seed", sub))) return ju_seed(m, sub, &d->noise_seed, c->err);
    if (d->noise_sigma > 0)
        return ju_missing(ptr, "seed",
                          "the input noise's seed, an integer from 0 to 2^63-1 (required when "
                          "sigma > 0, so that the run can be repeated)",
                          c->err);
    return EIR_OK;
}

eir_status jr_parse_described(rctx *c, const json_t *v, const char *ptr)
{
    static const char *const keys[] = {"steps", "trials", "segments", "noise", NULL};
    char sub[EIR_FIELD_MAX];
    int64_t T, B = 1;
    const json_t *m;
    if (ju_check_keys(v, ptr, keys, c->err)) return EIR_EINVAL;
    if (!(m = ju_member(v, ptr, "steps", sub)))
        return ju_missing(ptr, "steps", "the number of steps T >= 1", c->err);
    if (ju_int(m, sub, 1, c->lim->max_steps, &T, c->err)) return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "trials", sub)) && ju_int(m, sub, 1, c->lim->max_trials, &B, c->err))
        return EIR_EINVAL;
    c->spec->desc.T = T;
    c->spec->desc.B = (int)B;
    if ((m = ju_member(v, ptr, "segments", sub)) && parse_segments(c, m, sub)) return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "noise", sub)) && parse_noise(c, m, sub)) return EIR_EINVAL;
    const eir_input_desc *d = &c->st->input_desc;
    if (d->n_segments > 0 || d->noise_sigma > 0) c->spec->desc.input_desc = d;
    return EIR_OK;
}
