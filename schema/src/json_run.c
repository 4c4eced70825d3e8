/**
 * @file json_run.c
 * @brief FORMAT.md "Run" -> ::eir_run_spec: dt, integrator, precision, inputs, V0, record,
 *        seed and time_limit, checked against a built model and the limits.
 */
#include "json_run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const run_keys[] = {"model_id", "model",  "dt",     "integrator", "precision",
                                       "inputs",   "V0",     "record", "seed",       "time_limit",
                                       "metrics",  "labels", NULL};

static eir_status parse_dt(rctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], num[40];
    const json_t *v = ju_member(j, "", "dt", ptr);
    if (!v) return ju_missing("", "dt", "the step size > 0, in the unit of 1/leak", c->err);
    if (ju_number(v, ptr, &c->spec->desc.dt, c->err)) return EIR_EINVAL;
    if (c->spec->desc.dt > 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, c->spec->desc.dt);
    return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a step dt > 0, got %s", num);
}

static eir_status parse_modes(rctx *c, const json_t *j)
{
    static const char *const integrators[] = {"exp_euler", "euler", "rk4", NULL};
    static const char *const precisions[] = {"float64", "float32", NULL};
    char ptr[EIR_FIELD_MAX];
    int k;
    const json_t *v = ju_member(j, "", "integrator", ptr);
    if (v) {
        if (ju_enum(v, ptr, integrators, &k, c->err)) return EIR_EINVAL;
        c->spec->desc.integrator = (eir_integrator)k;
    }
    if ((v = ju_member(j, "", "precision", ptr))) {
        if (ju_enum(v, ptr, precisions, &k, c->err)) return EIR_EINVAL;
        c->spec->desc.precision = (eir_precision)k;
    }
    return EIR_OK;
}

void jr_shape_text(const ja_info *info, char got[JA_SHAPE_STR])
{
    if (info->ndim == 0 && !info->binary)
        snprintf(got, JA_SHAPE_STR, "a number");
    else
        ju_fmt_shape(got, info->ndim, info->shape);
}

static eir_status inputs_shape_error(rctx *c, const ja_info *info, const char *ptr)
{
    char got[JA_SHAPE_STR];
    jr_shape_text(info, got);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected shape [T, %d] (one trial) or [B, T, %d] (B trials), got %s",
                         c->n_in, c->n_in, got);
}

/* T and B of a probed inputs array against the model and the limits. */
static eir_status inputs_dims(rctx *c, const ja_info *info, const char *ptr, int64_t *T, int64_t *B)
{
    if ((info->ndim != 2 && info->ndim != 3) || info->shape[info->ndim - 1] != c->n_in)
        return inputs_shape_error(c, info, ptr);
    *B = info->ndim == 3 ? info->shape[0] : 1;
    *T = info->shape[info->ndim - 2];
    if (*B < 1 || *B > c->lim->max_trials)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected between 1 and %d trials, got B = %lld", c->lim->max_trials,
                             (long long)*B);
    if (*T < 1 || *T > c->lim->max_steps)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected between 1 and %lld steps, got T = %lld",
                             (long long)c->lim->max_steps, (long long)*T);
    if ((int64_t)info->count > c->lim->max_input_values)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected at most %lld input values (B x T x n_inputs), got %zu",
                             (long long)c->lim->max_input_values, info->count);
    return EIR_OK;
}

static eir_status parse_inputs(rctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    ja_info info;
    int64_t T = 0, B = 0;
    const json_t *v = ju_member(j, "", "inputs", ptr);
    if (!v)
        return ju_missing("", "inputs",
                          "a T x n_inputs array, a B x T x n_inputs array, or described "
                          "inputs {\"steps\": T, \"trials\": B, \"segments\": [...]}",
                          c->err);
    if (json_is_object(v) && !ja_is_binary(v)) return jr_parse_described(c, v, ptr);
    if (ja_probe(v, ptr, INT64_MAX, &info, c->err) || inputs_dims(c, &info, ptr, &T, &B))
        return EIR_EINVAL;
    c->spec->desc.T = T;
    c->spec->desc.B = (int)B;
    if (info.count == 0) return EIR_OK;
    if (!(c->st->inputs = malloc(info.count * sizeof(double)))) return ju_enomem(c->err, ptr);
    if (ja_fill(v, ptr, &info, c->st->inputs, c->err)) return EIR_EINVAL;
    c->spec->desc.inputs = c->st->inputs;
    return EIR_OK;
}

static eir_status v0_shape_error(rctx *c, const ja_info *info, const char *ptr)
{
    char got[JA_SHAPE_STR];
    jr_shape_text(info, got);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected a number, shape [%d] (N) or [%d, %d] (B x N), got %s", c->N,
                         c->spec->desc.B, c->N, got);
}

/* "V0": {"run_id": "r_...", "trial": b}: the final state of another run, supplied later
 * (eir_run_spec_set_V0()). */
static eir_status parse_v0_ref(rctx *c, const json_t *v, const char *ptr)
{
    static const char *const keys[] = {"run_id", "trial", NULL};
    char sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    eir_run_spec *s = c->spec;
    if (ju_check_keys(v, ptr, keys, c->err)) return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "run_id", sub);
    if (!m) return ju_missing(ptr, "run_id", "the run whose final state V starts this one", c->err);
    const char *id = json_string_value(m);
    int ok = id && json_string_length(m) == 26 && strncmp(id, "r_", 2) == 0;
    for (int i = 2; ok && i < 26; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok) {
        ju_describe(m, got);
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected a run id (\"r_\" followed by 24 hex digits), got %s", got);
    }
    memcpy(s->V0_run_id, id, 27);
    s->V0_trial = -1;
    if ((m = ju_member(v, ptr, "trial", sub)) &&
        ju_int(m, sub, -1, c->lim->max_trials - 1, &s->V0_trial, c->err))
        return EIR_EINVAL;
    s->V0_from_run = 1;
    return EIR_OK;
}

static eir_status parse_v0(rctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    ja_info info;
    eir_run_desc *d = &c->spec->desc;
    const json_t *v = ju_member(j, "", "V0", ptr);
    if (!v) return EIR_OK;
    if (json_is_object(v) && !ja_is_binary(v)) return parse_v0_ref(c, v, ptr);
    if (ja_probe(v, ptr, INT64_MAX, &info, c->err)) return EIR_EINVAL;
    int scalar = info.ndim == 0 && !info.binary;
    int per_cell = info.ndim == 1 && info.shape[0] == c->N;
    int per_trial = info.ndim == 2 && info.shape[0] == d->B && info.shape[1] == c->N;
    if (!scalar && !per_cell && !per_trial) return v0_shape_error(c, &info, ptr);
    if (!(c->st->V0 = malloc(info.count * sizeof(double)))) return ju_enomem(c->err, ptr);
    if (ja_fill(v, ptr, &info, c->st->V0, c->err)) return EIR_EINVAL;
    d->V0 = c->st->V0;
    d->V0_len = (int)info.count;
    return EIR_OK;
}

static eir_status parse_one_var(rctx *c, const json_t *e, const char *ptr, unsigned *mask)
{
    static const char *const vars[] = {"V", "r", "z", "y", NULL};
    char got[JU_DESC_MAX];
    int k;
    if (ju_enum(e, ptr, vars, &k, c->err)) return EIR_EINVAL;
    if (k == EIR_VAR_Y && c->n_out == 0) {
        ju_describe(e, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected one of V, r, z (y needs a readout and the model has "
                             "none), got %s",
                             got);
    }
    if (*mask & (1u << k))
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected each variable once, got \"%s\" twice", vars[k]);
    *mask |= 1u << k;
    return EIR_OK;
}

static eir_status parse_vars(rctx *c, const json_t *rec, const char *rptr)
{
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    unsigned mask = 0;
    const json_t *v = ju_member(rec, rptr, "vars", ptr);
    if (!v) return EIR_OK;
    if (!json_is_array(v)) {
        ju_describe(v, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a list of variables among V, r, z, y, got %s", got);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        ju_ptr_idx(sub, ptr, i);
        if (parse_one_var(c, json_array_get(v, i), sub, &mask)) return EIR_EINVAL;
    }
    c->spec->desc.record_mask = mask;
    return EIR_OK;
}

static eir_status parse_every(rctx *c, const json_t *rec, const char *rptr)
{
    char ptr[EIR_FIELD_MAX];
    int64_t every;
    const json_t *v = ju_member(rec, rptr, "every", ptr);
    if (!v) return EIR_OK;
    if (ju_int(v, ptr, 1, INT_MAX, &every, c->err)) return EIR_EINVAL;
    if (every > c->spec->desc.T)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected every <= T = %lld steps (else no row is recorded), got "
                             "%lld",
                             (long long)c->spec->desc.T, (long long)every);
    c->spec->desc.record_every = (int)every;
    return EIR_OK;
}

/* Indices in [0, N), each once; first[] maps a neuron to the position it was first seen. */
static eir_status read_neurons(rctx *c, const json_t *v, const char *ptr, int *first)
{
    char sub[EIR_FIELD_MAX];
    int64_t k;
    for (size_t i = 0; i < json_array_size(v); i++) {
        ju_ptr_idx(sub, ptr, i);
        if (ju_int(json_array_get(v, i), sub, 0, c->N - 1, &k, c->err)) return EIR_EINVAL;
        if (first[k] >= 0)
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected distinct neuron indices, got %lld again (first at "
                                 "position %d)",
                                 (long long)k, first[k]);
        first[k] = (int)i;
        c->st->neurons[i] = (int)k;
    }
    return EIR_OK;
}

static eir_status parse_neurons(rctx *c, const json_t *rec, const char *rptr)
{
    char ptr[EIR_FIELD_MAX], got[JU_DESC_MAX];
    const json_t *v = ju_member(rec, rptr, "neurons", ptr);
    if (!v) return EIR_OK;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > (size_t)c->N) {
        ju_describe(v, got);
        if (json_is_array(v)) snprintf(got, sizeof got, "a list of %zu", n);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a list of 1 to %d distinct neuron indices, got %s", c->N,
                             got);
    }
    int *first = malloc((size_t)c->N * sizeof *first);
    c->st->neurons = malloc(n * sizeof *c->st->neurons);
    if (!first || !c->st->neurons) {
        free(first);
        return ju_enomem(c->err, ptr);
    }
    for (int i = 0; i < c->N; i++)
        first[i] = -1;
    eir_status rc = read_neurons(c, v, ptr, first);
    free(first);
    c->spec->desc.neurons = c->st->neurons;
    c->spec->desc.n_neurons = (int)n;
    return rc;
}

static eir_status parse_record(rctx *c, const json_t *j)
{
    static const char *const keys[] = {"vars", "every", "neurons", NULL};
    char ptr[EIR_FIELD_MAX];
    const json_t *v = ju_member(j, "", "record", ptr);
    c->spec->desc.record_mask = (1u << EIR_VAR_V) | (1u << EIR_VAR_R);
    c->spec->desc.record_every = 1;
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"vars\": [...], \"every\": k}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    if (parse_vars(c, v, ptr) || parse_every(c, v, ptr) || parse_neurons(c, v, ptr))
        return EIR_EINVAL;
    return EIR_OK;
}

static eir_status parse_seed_limit(rctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], num[40];
    const json_t *v = ju_member(j, "", "seed", ptr);
    if (v) {
        if (ju_seed(v, ptr, &c->spec->desc.seed, c->err)) return EIR_EINVAL;
        c->spec->has_seed = 1;
    }
    if (!(v = ju_member(j, "", "time_limit", ptr))) return EIR_OK;
    if (ju_number(v, ptr, &c->spec->time_limit, c->err)) return EIR_EINVAL;
    if (c->spec->time_limit > 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, c->spec->time_limit);
    return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a time limit > 0 seconds, got %s", num);
}

/* Sum over recorded variables of B * T' * n, against the limit (before any allocation). */
static eir_status check_recorded(rctx *c)
{
    const eir_run_desc *d = &c->spec->desc;
    int64_t rows = eir_recorded_rows(d->T, d->record_every), total = 0, per;
    int cells = d->n_neurons ? d->n_neurons : c->N;
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d->record_mask & (1u << v))) continue;
        int64_t n = v == EIR_VAR_Y ? c->n_out : cells;
        if (__builtin_mul_overflow(rows, (int64_t)d->B, &per) ||
            __builtin_mul_overflow(per, n, &per) || __builtin_add_overflow(total, per, &total))
            total = INT64_MAX;
        if (total == INT64_MAX) break;
    }
    if (total <= c->lim->max_recorded_values) return EIR_OK;
    return eir_error_set(c->err, EIR_EINVAL, "/record",
                         "expected at most %lld recorded values (B x T' x n summed over "
                         "variables), got %lld; record fewer variables or neurons, or raise "
                         "every",
                         (long long)c->lim->max_recorded_values, (long long)total);
}

static eir_status parse_all(rctx *c, const json_t *j)
{
    if (ju_expect_object(j, "", "a run object", c->err) ||
        ju_check_depth(j, "", c->lim->max_depth, c->err) || ju_check_keys(j, "", run_keys, c->err))
        return EIR_EINVAL;
    char ptr[EIR_FIELD_MAX]; /* "labels" changes no numerics: checked, then ignored */
    if (eir_json_check_labels(ju_member(j, "", "labels", ptr), ptr, c->err)) return EIR_EINVAL;
    if (parse_dt(c, j) || parse_modes(c, j) || parse_inputs(c, j) || parse_v0(c, j) ||
        parse_record(c, j) || parse_seed_limit(c, j) || jr_parse_metrics(c, j) || check_recorded(c))
        return EIR_EINVAL;
    return EIR_OK;
}

/* eir_json_parse_run() against a model of N cells, n_in inputs and n_out outputs. */
static eir_status parse_run(const json_t *run, int N, int n_in, int n_out,
                            const eir_json_limits *lim, eir_run_spec **out, eir_error *err)
{
    eir_json_limits def;
    eir_error local;
    *out = NULL;
    if (!lim) {
        eir_json_limits_default(&def);
        lim = &def;
    }
    eir_run_spec *s = calloc(1, sizeof *s);
    run_store *st = calloc(1, sizeof *st);
    if (!s || !st) {
        free(s);
        free(st);
        return ju_enomem(err, "");
    }
    s->storage = st;
    eir_run_desc_init(&s->desc);
    rctx c = {.lim = lim,
              .spec = s,
              .st = st,
              .err = err ? err : &local,
              .N = N,
              .n_in = n_in,
              .n_out = n_out};
    if (parse_all(&c, run)) {
        /* helpers return nonzero on failure; the error holds the real status */
        eir_run_spec_free(s);
        return c.err->status;
    }
    *out = s;
    return EIR_OK;
}

eir_status eir_json_parse_run(const json_t *run, const eir_model *m, const eir_json_limits *lim,
                              eir_run_spec **out, eir_error *err)
{
    *out = NULL;
    if (!m) return eir_error_set(err, EIR_EINVAL, "", "a run needs a built model");
    return parse_run(run, eir_model_n(m), eir_model_n_in(m), eir_model_n_out(m), lim, out, err);
}

eir_status eir_json_parse_run_shape(const json_t *run, const eir_model_shape *shape,
                                    const eir_json_limits *lim, eir_run_spec **out, eir_error *err)
{
    *out = NULL;
    if (!shape) return eir_error_set(err, EIR_EINVAL, "", "a run needs its model's shape");
    return parse_run(run, shape->n, shape->n_in, shape->n_out, lim, out, err);
}

void eir_run_spec_free(eir_run_spec *s)
{
    if (!s) return;
    run_store *st = s->storage;
    if (st) {
        free(st->inputs);
        free(st->V0);
        free(st->neurons);
        free(st->segments);
        free(st->segment_values);
        free(st);
    }
    free(s);
}

eir_status eir_run_spec_set_V0(eir_run_spec *s, const double *V, int64_t len, int n, eir_error *err)
{
    run_store *st = s->storage;
    int64_t B = s->desc.B;
    if (n < 1 || (len != n && len != B * (int64_t)n) || len > INT_MAX)
        return eir_error_set(err, EIR_EINVAL, "/V0",
                             "expected the starting state to have %d values (N) or %lld (B x N), "
                             "got %lld",
                             n, (long long)(B * (int64_t)n), (long long)len);
    double *copy = malloc((size_t)len * sizeof *copy);
    if (!copy) return ju_enomem(err, "/V0");
    memcpy(copy, V, (size_t)len * sizeof *copy);
    free(st->V0);
    st->V0 = copy;
    s->desc.V0 = copy;
    s->desc.V0_len = (int)len;
    return EIR_OK;
}

eir_status eir_json_run_model_ref(const json_t *run, const char **model_id,
                                  const json_t **model_inline, eir_error *err)
{
    char got[JU_DESC_MAX];
    *model_id = NULL;
    *model_inline = NULL;
    if (ju_expect_object(run, "", "a run object", err)) return EIR_EINVAL;
    const json_t *id = json_object_get(run, "model_id");
    const json_t *model = json_object_get(run, "model");
    if (id && model)
        return eir_error_set(err, EIR_EINVAL, "/model",
                             "expected exactly one of model_id and model, got both");
    if (!id && !model)
        return eir_error_set(err, EIR_EINVAL, "/model_id",
                             "missing required field \"model_id\" (a stored model's id), or "
                             "give the model inline as \"model\"");
    if (id && (!json_is_string(id) || json_string_length(id) == 0)) {
        ju_describe(id, got);
        return eir_error_set(err, EIR_EINVAL, "/model_id", "expected a non-empty string, got %s",
                             got);
    }
    if (model && ju_expect_object(model, "/model", "a model object", err)) return EIR_EINVAL;
    if (id)
        *model_id = json_string_value(id);
    else
        *model_inline = model;
    return EIR_OK;
}
