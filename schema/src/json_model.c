/**
 * @file json_model.c
 * @brief FORMAT.md "Model" -> ::eir_model_spec: top-level fields, populations, activation,
 *        leak, bias, readout and noise; recurrent and input live in json_recurrent.c.
 */
#include "json_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const model_keys[] = {
    "name",      "description", "class", "populations", "n_inputs", "activation", "leak",
    "recurrent", "input",       "bias",  "readout",     "noise",    "labels",     NULL};

void eir_json_limits_default(eir_json_limits *l)
{
    l->max_neurons = 20000;
    l->max_inputs = 4096;
    l->max_outputs = 4096;
    l->max_steps = 10000000;
    l->max_trials = 4096;
    l->max_input_values = (int64_t)1 << 28;
    l->max_recorded_values = (int64_t)1 << 28;
    l->max_depth = 64;
    l->stop = NULL;
}

static eir_status parse_name(mctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], got[JU_DESC_MAX];
    const json_t *v = ju_member(j, c->base, "name", ptr);
    if (v && (!json_is_string(v) || json_string_length(v) >= sizeof c->spec->name)) {
        ju_describe(v, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a string of at most %zu bytes, got %s",
                             sizeof c->spec->name - 1, json_is_string(v) ? "a longer string" : got);
    }
    if (v) snprintf(c->spec->name, sizeof c->spec->name, "%s", json_string_value(v));
    v = ju_member(j, c->base, "description", ptr);
    if (v && !json_is_string(v)) {
        ju_describe(v, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a string, got %s", got);
    }
    return EIR_OK;
}

static eir_status parse_class(mctx *c, const json_t *j)
{
    static const char *const classes[] = {"rnn", "dale", "gated", NULL};
    char ptr[EIR_FIELD_MAX];
    int cls;
    const json_t *v = ju_member(j, c->base, "class", ptr);
    if (!v) return EIR_OK;
    if (ju_enum(v, ptr, classes, &cls, c->err)) return EIR_EINVAL;
    c->spec->desc.cls = (eir_class)cls;
    return EIR_OK;
}

static eir_status parse_populations(mctx *c, const json_t *j)
{
    static const char *const keys[] = {"E", "I", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    int64_t n[2];
    const json_t *v = ju_member(j, c->base, "populations", ptr);
    if (!v) return ju_missing(c->base, "populations", "{\"E\": n_E, \"I\": n_I}", c->err);
    if (ju_expect_object(v, ptr, "an object {\"E\": n_E, \"I\": n_I}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    for (int k = 0; k < 2; k++) {
        const json_t *m = ju_member(v, ptr, keys[k], sub);
        if (!m) return ju_missing(ptr, keys[k], "a number of cells >= 0", c->err);
        if (ju_int(m, sub, 0, c->lim->max_neurons, &n[k], c->err)) return EIR_EINVAL;
    }
    if (n[0] + n[1] < 1)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected at least one neuron (E + I >= 1), got E = 0 and I = 0");
    if (n[0] + n[1] > c->lim->max_neurons)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected at most %d neurons in all, got E + I = %lld",
                             c->lim->max_neurons, (long long)(n[0] + n[1]));
    c->spec->desc.n_e = (int)n[0];
    c->spec->desc.n_i = (int)n[1];
    c->N = (int)(n[0] + n[1]);
    return EIR_OK;
}

static eir_status parse_n_inputs(mctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    int64_t n = 0;
    const json_t *v = ju_member(j, c->base, "n_inputs", ptr);
    if (v && ju_int(v, ptr, 0, c->lim->max_inputs, &n, c->err)) return EIR_EINVAL;
    c->spec->desc.n_in = (int)n;
    return EIR_OK;
}

/* A finite number > 0 at member key of obj (if present). */
static eir_status positive_member(const json_t *obj, const char *base, const char *key, double *out,
                                  eir_error *err)
{
    char ptr[EIR_FIELD_MAX], num[40];
    const json_t *v = ju_member(obj, base, key, ptr);
    if (!v) return EIR_OK;
    if (ju_number(v, ptr, out, err)) return EIR_EINVAL;
    if (*out > 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, *out);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected a number > 0, got %s", num);
}

static eir_status parse_activation(mctx *c, const json_t *j)
{
    static const char *const keys[] = {"name", "k", "n", "r_max", NULL};
    static const char *const names[] = {"relu",  "tanh_rect", "sigmoid", "softplus",
                                        "power", "linear",    "tanh",    NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    eir_activation *a = &c->spec->desc.act;
    int kind;
    const json_t *v = ju_member(j, c->base, "activation", ptr), *m;
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"name\": ...}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    if (!(m = ju_member(v, ptr, "name", sub)))
        return ju_missing(ptr, "name", "relu, tanh_rect, sigmoid, softplus, power, linear or tanh",
                          c->err);
    if (ju_enum(m, sub, names, &kind, c->err)) return EIR_EINVAL;
    a->kind = (eir_act_kind)kind;
    a->k = 1;
    a->n = 2;
    for (int p = 1; p <= 2 && a->kind != EIR_ACT_POWER; p++)
        if (ju_member(v, ptr, keys[p], sub))
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "%s applies only to activation \"power\", got activation "
                                 "\"%s\"",
                                 keys[p], names[kind]);
    if (positive_member(v, ptr, "k", &a->k, c->err) || positive_member(v, ptr, "n", &a->n, c->err))
        return EIR_EINVAL;
    m = ju_member(v, ptr, "r_max", sub);
    if (m && json_is_null(m)) return EIR_OK;
    return positive_member(v, ptr, "r_max", &a->r_max, c->err);
}

/* Optional scalar-or-length-N field; the result is always N values. */
static eir_status vector_n(mctx *c, const json_t *j, const char *key, double **out, ja_info *info,
                           char ptr[EIR_FIELD_MAX])
{
    int64_t shape[1] = {c->N};
    const json_t *v = ju_member(j, c->base, key, ptr);
    if (!v) return EIR_OK;
    return ja_read(v, ptr, 1, shape, 1, c->N, out, info, c->err);
}

static eir_status parse_leak_bias(mctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    ja_info info;
    if (vector_n(c, j, "leak", &c->st->leak, &info, ptr)) return EIR_EINVAL;
    if (!c->st->leak)
        return ju_missing(c->base, "leak", "G_b > 0, a scalar or a length-N vector", c->err);
    if (ja_check_sign(c->st->leak, (size_t)c->N, &info, ptr, 1, c->err)) return EIR_EINVAL;
    c->spec->desc.leak = c->st->leak;
    c->spec->desc.leak_len = c->N;
    if (vector_n(c, j, "bias", &c->st->bias, &info, ptr)) return EIR_EINVAL;
    c->spec->desc.bias = c->st->bias;
    c->spec->desc.bias_len = c->st->bias ? c->N : 0;
    return EIR_OK;
}

static eir_status parse_w_out(mctx *c, const json_t *v, const char *ptr)
{
    eir_model_desc *d = &c->spec->desc;
    char sub[EIR_FIELD_MAX];
    int64_t cols = d->readout_from == EIR_READOUT_E ? d->n_e : c->N;
    int64_t shape[2] = {-1, cols};
    const json_t *m = ju_member(v, ptr, "W_out", sub);
    if (!m)
        return ju_missing(ptr, "W_out", "an n_out x N matrix, or n_out x N_E with from \"E\"",
                          c->err);
    int64_t max = (int64_t)c->lim->max_outputs * (cols ? cols : 1);
    if (ja_read(m, sub, 2, shape, 0, max, &c->st->W_out, NULL, c->err)) return EIR_EINVAL;
    if (shape[0] < 1 || shape[0] > c->lim->max_outputs)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected between 1 and %d output rows, got %lld", c->lim->max_outputs,
                             (long long)shape[0]);
    d->W_out = c->st->W_out;
    d->n_out = (int)shape[0];
    return EIR_OK;
}

static eir_status parse_readout(mctx *c, const json_t *j)
{
    static const char *const keys[] = {"W_out", "b_out", "from", NULL};
    static const char *const froms[] = {"all", "E", NULL};
    eir_model_desc *d = &c->spec->desc;
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    int from = 0;
    const json_t *v = ju_member(j, c->base, "readout", ptr), *m;
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"W_out\": ...}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "from", sub)) && ju_enum(m, sub, froms, &from, c->err))
        return EIR_EINVAL;
    if (from == EIR_READOUT_E && d->n_e == 0)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected \"all\" for a model without E cells, got \"E\"");
    d->readout_from = (eir_readout_from)from;
    if (parse_w_out(c, v, ptr)) return EIR_EINVAL;
    if (!(m = ju_member(v, ptr, "b_out", sub))) return EIR_OK;
    int64_t shape[1] = {d->n_out};
    if (ja_read(m, sub, 1, shape, 1, d->n_out, &c->st->b_out, NULL, c->err)) return EIR_EINVAL;
    d->b_out = c->st->b_out;
    return EIR_OK;
}

static eir_status parse_noise(mctx *c, const json_t *j)
{
    static const char *const keys[] = {"sigma", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX], num[40];
    const json_t *v = ju_member(j, c->base, "noise", ptr), *m;
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"sigma\": ...}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    if (!(m = ju_member(v, ptr, "sigma", sub))) return EIR_OK;
    if (ju_number(m, sub, &c->spec->desc.sigma, c->err)) return EIR_EINVAL;
    if (c->spec->desc.sigma >= 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, c->spec->desc.sigma);
    return eir_error_set(c->err, EIR_EINVAL, sub, "expected a noise intensity >= 0, got %s", num);
}

static eir_status parse_all(mctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    if (ju_expect_object(j, c->base, "a model object", c->err) ||
        ju_check_depth(j, c->base, c->lim->max_depth, c->err) ||
        ju_check_keys(j, c->base, model_keys, c->err))
        return EIR_EINVAL;
    /* "labels" changes no numerics: checked, then ignored */
    const json_t *labels = ju_member(j, c->base, "labels", ptr);
    if (eir_json_check_labels(labels, ptr, c->err)) return EIR_EINVAL;
    if (parse_name(c, j) || parse_class(c, j) || parse_populations(c, j) || parse_n_inputs(c, j) ||
        parse_activation(c, j) || parse_leak_bias(c, j))
        return EIR_EINVAL;
    if (jm_parse_recurrent(c, j) || jm_parse_input(c, j) || parse_readout(c, j) ||
        parse_noise(c, j))
        return EIR_EINVAL;
    return EIR_OK;
}

/* eir_json_parse_model(), or with @p shape_only its cheap part (no recipe generated). */
static eir_status parse_model(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                              int shape_only, eir_model_spec **out, eir_error *err)
{
    eir_json_limits def;
    eir_error local;
    *out = NULL;
    if (!lim) {
        eir_json_limits_default(&def);
        lim = &def;
    }
    eir_model_spec *s = calloc(1, sizeof *s);
    model_store *st = calloc(1, sizeof *st);
    if (!s || !st) {
        free(s);
        free(st);
        return ju_enomem(err, ptr_prefix ? ptr_prefix : "");
    }
    s->storage = st;
    eir_model_desc_init(&s->desc);
    s->desc.act.r_max = INFINITY;
    mctx c = {.lim = lim,
              .base = ptr_prefix ? ptr_prefix : "",
              .spec = s,
              .st = st,
              .err = err ? err : &local,
              .shape_only = shape_only};
    if (parse_all(&c, j)) {
        /* helpers return nonzero on failure; the error holds the real status */
        eir_model_spec_free(s);
        return c.err->status;
    }
    *out = s;
    return EIR_OK;
}

eir_status eir_json_parse_model(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                                eir_model_spec **out, eir_error *err)
{
    return parse_model(j, lim, ptr_prefix, 0, out, err);
}

eir_status eir_json_model_shape(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                                eir_model_shape *out, eir_error *err)
{
    eir_model_spec *s = NULL;
    memset(out, 0, sizeof *out);
    eir_status st = parse_model(j, lim, ptr_prefix, 1, &s, err);
    if (st != EIR_OK) return st;
    out->n_e = s->desc.n_e;
    out->n_i = s->desc.n_i;
    out->n = s->desc.n_e + s->desc.n_i;
    out->n_in = s->desc.n_in;
    out->n_out = s->desc.n_out;
    out->cls = s->desc.cls;
    out->generated = s->generated || s->input_generated;
    out->sigma = s->desc.sigma;
    snprintf(out->name, sizeof out->name, "%s", s->name);
    eir_model_spec_free(s);
    return EIR_OK;
}

void eir_model_spec_drop_arrays(eir_model_spec *s)
{
    if (!s || !s->storage) return;
    model_store *st = s->storage;
    double **arrays[] = {&st->leak, &st->W,    &st->A,     &st->K,    &st->P,
                         &st->M_in, &st->bias, &st->W_out, &st->b_out};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        free(*arrays[i]);
        *arrays[i] = NULL;
    }
    eir_model_desc *d = &s->desc;
    d->leak = d->W = d->A = d->K = d->P = d->M_in = d->bias = d->W_out = d->b_out = NULL;
}

void eir_model_spec_free(eir_model_spec *s)
{
    if (!s) return;
    model_store *st = s->storage;
    if (st) {
        free(st->leak);
        free(st->W);
        free(st->A);
        free(st->K);
        free(st->P);
        free(st->M_in);
        free(st->bias);
        free(st->W_out);
        free(st->b_out);
        free(st);
    }
    free(s);
}

eir_status eir_json_build_model(const json_t *j, const eir_json_limits *lim, const char *ptr_prefix,
                                eir_model **model_out, eir_model_spec **spec_out, eir_error *err)
{
    eir_model_spec *spec;
    eir_error sub;
    *model_out = NULL;
    if (spec_out) *spec_out = NULL;
    eir_status rc = eir_json_parse_model(j, lim, ptr_prefix, &spec, err);
    if (rc) return rc;
    eir_error_clear(&sub);
    spec->desc.stop = lim ? lim->stop : NULL;
    rc = eir_model_build(&spec->desc, model_out, &sub);
    spec->desc.stop = NULL; /* the spec may outlive the flag */
    if (rc == EIR_ECANCELLED) {
        eir_model_spec_free(spec);
        *model_out = NULL;
        return eir_error_set(err, rc, NULL, "%s", sub.message);
    }
    if (rc) {
        eir_model_spec_free(spec);
        *model_out = NULL;
        return ju_prefix_error(err, ptr_prefix ? ptr_prefix : "", &sub);
    }
    if (spec_out)
        *spec_out = spec;
    else
        eir_model_spec_free(spec);
    return EIR_OK;
}
