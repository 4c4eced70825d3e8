/**
 * @file json_recurrent.c
 * @brief The model's "recurrent" (reduced form W/A, conductance form K/E_rev, or a generate
 *        recipe) and "input" (P or a recipe, M_in) fields.
 */
#include "json_gen.h"
#include "json_model.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const keys_w[] = {"W", "A", "dale", NULL};
static const char *const keys_k[] = {"K", "E_rev", NULL};
static const char *const keys_g[] = {"generate", "A", "E_rev", NULL};
static const char *const keys_ei[] = {"E", "I", NULL};

static eir_status read_matrix(mctx *c, const json_t *v, const char *ptr, int64_t cols, double **out,
                              ja_info *info)
{
    int64_t shape[2] = {c->N, cols};
    return ja_read(v, ptr, 2, shape, 0, (int64_t)c->N * cols, out, info, c->err);
}

static double *alloc_doubles(mctx *c, size_t n, const char *ptr)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) ju_enomem(c->err, ptr);
    return p;
}

/* Probe one of A's E/I entries: a number or a length-N vector. */
static eir_status probe_a_part(mctx *c, const json_t *v, const char *ptr, ja_info *info)
{
    int64_t shape[1] = {c->N};
    if (ja_probe(v, ptr, INT64_MAX, info, c->err)) return EIR_EINVAL;
    if ((info->ndim == 0 && !info->binary) || ja_shape_matches(info, 1, shape)) return EIR_OK;
    return ja_shape_error(info, ptr, 1, shape, c->err);
}

/* Write one of A's E/I entries to dst (1 value when per type, else N). */
static eir_status fill_a_part(mctx *c, const json_t *v, const char *ptr, const ja_info *info,
                              double *dst, size_t n)
{
    if (info->ndim == 1) {
        if (ja_fill(v, ptr, info, dst, c->err)) return EIR_EINVAL;
    } else {
        if (ju_number(v, ptr, &dst[0], c->err)) return EIR_EINVAL;
        for (size_t i = 1; i < n; i++)
            dst[i] = dst[0];
    }
    return ja_check_sign(dst, n, info, ptr, 0, c->err);
}

static eir_status parse_a_per_type(mctx *c, const json_t *v, const char *ptr)
{
    char sub[2][EIR_FIELD_MAX];
    const json_t *m[2];
    ja_info info[2];
    if (ju_check_keys(v, ptr, keys_ei, c->err)) return EIR_EINVAL;
    for (int k = 0; k < 2; k++) {
        if (!(m[k] = ju_member(v, ptr, keys_ei[k], sub[k])))
            return ju_missing(ptr, keys_ei[k],
                              "A for this presynaptic type: a number or a "
                              "length-N vector",
                              c->err);
        if (probe_a_part(c, m[k], sub[k], &info[k])) return EIR_EINVAL;
    }
    int per_type = info[0].ndim == 0 && info[1].ndim == 0;
    size_t n = per_type ? 1 : (size_t)c->N;
    if (!(c->st->A = alloc_doubles(c, 2 * n, ptr))) return EIR_ENOMEM;
    for (int k = 0; k < 2; k++)
        if (fill_a_part(c, m[k], sub[k], &info[k], c->st->A + k * n, n)) return EIR_EINVAL;
    c->spec->desc.a_kind = per_type ? EIR_A_PER_TYPE : EIR_A_PER_ROW;
    return EIR_OK;
}

static eir_status parse_a(mctx *c, const json_t *v, const char *ptr)
{
    ja_info info;
    eir_model_desc *d = &c->spec->desc;
    if (json_is_object(v) && !ja_is_binary(v)) {
        if (parse_a_per_type(c, v, ptr)) return EIR_EINVAL;
    } else if (json_is_number(v)) {
        if (!(c->st->A = alloc_doubles(c, 1, ptr)) || ju_number(v, ptr, c->st->A, c->err) ||
            ja_check_sign(c->st->A, 1, NULL, ptr, 0, c->err))
            return EIR_EINVAL;
        d->a_kind = EIR_A_SCALAR;
    } else {
        if (read_matrix(c, v, ptr, c->N, &c->st->A, &info) ||
            ja_check_sign(c->st->A, (size_t)c->N * c->N, &info, ptr, 0, c->err))
            return EIR_EINVAL;
        d->a_kind = EIR_A_MATRIX;
    }
    d->A = c->st->A;
    return EIR_OK;
}

/*
 * "A" of the reduced form: required for class gated, refused for classes rnn and dale, which
 * have no gate for it to scale (the engine would ignore it).
 */
static eir_status member_a(mctx *c, const json_t *rec, const char *rptr)
{
    char ptr[EIR_FIELD_MAX];
    const json_t *v = ju_member(rec, rptr, "A", ptr);
    int gated = c->spec->desc.cls == EIR_CLASS_GATED;
    if (v && !gated)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "class %s has no conductance gating: A applies only to class gated "
                             "(remove A, or use class \"gated\")",
                             eir_class_name(c->spec->desc.cls));
    if (v) return parse_a(c, v, ptr);
    if (!gated) return EIR_OK;
    return ju_missing(rptr, "A",
                      "class gated in the reduced form needs A >= 0, M = A |W|: a number, "
                      "{\"E\": a_E, \"I\": a_I} or an N x N matrix",
                      c->err);
}

static eir_status reversal(mctx *c, const json_t *v, const char *ptr, int excitatory, double *out)
{
    char num[40];
    if (ju_number(v, ptr, out, c->err)) return EIR_EINVAL;
    if (excitatory ? *out > 0 : *out <= 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, *out);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         excitatory ? "expected an excitatory reversal potential > 0, got %s"
                                    : "expected an inhibitory reversal potential <= 0, got %s",
                         num);
}

static eir_status parse_e_rev(mctx *c, const json_t *rec, const char *rptr)
{
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    double *dst[2] = {&c->spec->desc.e_rev_e, &c->spec->desc.e_rev_i};
    const json_t *v = ju_member(rec, rptr, "E_rev", ptr), *m;
    if (!v)
        return ju_missing(rptr, "E_rev",
                          "reversal potentials relative to rest, {\"E\": E_E > 0, \"I\": E_I <= 0}",
                          c->err);
    if (ju_expect_object(v, ptr, "an object {\"E\": E_E, \"I\": E_I}", c->err) ||
        ju_check_keys(v, ptr, keys_ei, c->err))
        return EIR_EINVAL;
    for (int k = 0; k < 2; k++) {
        if (!(m = ju_member(v, ptr, keys_ei[k], sub)))
            return ju_missing(ptr, keys_ei[k], "a reversal potential relative to rest", c->err);
        if (reversal(c, m, sub, k == 0, dst[k])) return EIR_EINVAL;
    }
    c->spec->desc.form = EIR_FORM_CONDUCTANCE;
    return EIR_OK;
}

static eir_status parse_reduced(mctx *c, const json_t *rec, const char *rptr)
{
    static const char *const policies[] = {"reject", "project", NULL};
    char ptr[EIR_FIELD_MAX];
    int dale;
    ja_info info;
    const json_t *v = ju_member(rec, rptr, "W", ptr);
    if (ju_check_keys(rec, rptr, keys_w, c->err) || read_matrix(c, v, ptr, c->N, &c->st->W, &info))
        return EIR_EINVAL;
    c->spec->desc.form = EIR_FORM_REDUCED;
    c->spec->desc.W = c->st->W;
    if ((v = ju_member(rec, rptr, "dale", ptr))) {
        if (c->spec->desc.cls == EIR_CLASS_RNN)
            return eir_error_set(c->err, EIR_EINVAL, ptr,
                                 "class rnn does not enforce Dale's law: dale applies only to "
                                 "classes dale and gated (remove dale, or use class \"dale\")");
        if (ju_enum(v, ptr, policies, &dale, c->err)) return EIR_EINVAL;
        c->spec->desc.dale = (eir_dale_policy)dale;
    }
    return member_a(c, rec, rptr);
}

static eir_status parse_conductance(mctx *c, const json_t *rec, const char *rptr)
{
    char ptr[EIR_FIELD_MAX];
    ja_info info;
    const json_t *v = ju_member(rec, rptr, "K", ptr);
    if (ju_check_keys(rec, rptr, keys_k, c->err) ||
        read_matrix(c, v, ptr, c->N, &c->st->K, &info) ||
        ja_check_sign(c->st->K, (size_t)c->N * c->N, &info, ptr, 0, c->err))
        return EIR_EINVAL;
    c->spec->desc.K = c->st->K;
    return parse_e_rev(c, rec, rptr);
}

static eir_status parse_generated(mctx *c, const json_t *rec, const char *rptr)
{
    eir_model_desc *d = &c->spec->desc;
    char gptr[EIR_FIELD_MAX], ptr[EIR_FIELD_MAX];
    eir_error sub;
    const json_t *g = ju_member(rec, rptr, "generate", gptr);
    if (ju_check_keys(rec, rptr, keys_g, c->err)) return EIR_EINVAL;
    int conductance = ju_member(rec, rptr, "E_rev", ptr) != NULL;
    if (conductance && ju_member(rec, rptr, "A", ptr))
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected either A (reduced form) or E_rev (conductance form) "
                             "with generate, got both");
    if (conductance ? parse_e_rev(c, rec, rptr) : member_a(c, rec, rptr)) return EIR_EINVAL;
    if (jg_parse_recurrent(g, gptr, &c->spec->gen, c->err)) return EIR_EINVAL;
    c->spec->generated = 1;
    if (c->shape_only) return EIR_OK; /* the N x N matrix is the build's (and the pool's) work */
    double *m = alloc_doubles(c, (size_t)c->N * c->N, gptr);
    if (!m) return EIR_ENOMEM;
    *(conductance ? &c->st->K : &c->st->W) = m;
    *(conductance ? &d->K : &d->W) = m;
    eir_error_clear(&sub);
    eir_gen_spec gen = c->spec->gen; /* with the caller's stop flag, which the spec must not keep */
    gen.stop = c->lim->stop;
    eir_status st =
        eir_generate_recurrent(&gen, d->n_e, d->n_i, d->form, d->e_rev_e, d->e_rev_i, m, &sub);
    if (st == EIR_ECANCELLED) return eir_error_set(c->err, st, NULL, "%s", sub.message);
    if (st) return ju_prefix_error(c->err, gptr, &sub);
    return EIR_OK;
}

eir_status jm_parse_recurrent(mctx *c, const json_t *model)
{
    char ptr[EIR_FIELD_MAX];
    const json_t *rec = ju_member(model, c->base, "recurrent", ptr);
    if (!rec)
        return ju_missing(c->base, "recurrent",
                          "one of {\"W\", \"A\"}, {\"K\", \"E_rev\"} or {\"generate\", ...}",
                          c->err);
    if (ju_expect_object(rec, ptr, "an object with W, K or generate", c->err)) return EIR_EINVAL;
    int has_w = json_object_get(rec, "W") != NULL;
    int has_k = json_object_get(rec, "K") != NULL;
    int has_g = json_object_get(rec, "generate") != NULL;
    if (has_w + has_k + has_g != 1)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected exactly one of W (reduced form), K (conductance form) or "
                             "generate, got %s",
                             has_w + has_k + has_g ? "more than one" : "none");
    if (has_w) return parse_reduced(c, rec, ptr);
    if (has_k) return parse_conductance(c, rec, ptr);
    return parse_generated(c, rec, ptr);
}

/* ---------------------------------------------------------------------------------------- */
/* Input                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static eir_status generate_input(mctx *c, const json_t *g, const char *gptr)
{
    eir_model_desc *d = &c->spec->desc;
    eir_error sub;
    if (jg_parse_input(g, gptr, &c->spec->input_gen, c->err)) return EIR_EINVAL;
    c->spec->input_generated = 1;
    if (c->shape_only) return EIR_OK;
    if (!(c->st->P = alloc_doubles(c, (size_t)c->N * d->n_in, gptr))) return EIR_ENOMEM;
    d->P = c->st->P;
    eir_error_clear(&sub);
    eir_gen_spec gen = c->spec->input_gen; /* with the caller's stop flag (not kept) */
    gen.stop = c->lim->stop;
    eir_status st = eir_generate_input(&gen, d->n_e, d->n_i, d->n_in, c->st->P, &sub);
    if (st == EIR_ECANCELLED) return eir_error_set(c->err, st, NULL, "%s", sub.message);
    if (st) return ju_prefix_error(c->err, gptr, &sub);
    return EIR_OK;
}

int eir_json_model_has_recipe(const json_t *j)
{
    const json_t *rec = json_object_get(j, "recurrent");
    const json_t *in = json_object_get(j, "input");
    const json_t *p = json_object_get(in, "P");
    return json_object_get(rec, "generate") || json_object_get(in, "generate") ||
           (json_is_object(p) && json_object_get(p, "generate"));
}

/* "P": a matrix, or {"generate": G_in}; "generate" directly under input is accepted too. */
static eir_status parse_p(mctx *c, const json_t *in, const char *iptr)
{
    static const char *const keys_p[] = {"generate", NULL};
    char pptr[EIR_FIELD_MAX], gptr[EIR_FIELD_MAX], what[96];
    const json_t *p = ju_member(in, iptr, "P", pptr);
    const json_t *g = ju_member(in, iptr, "generate", gptr);
    if (p && g)
        return eir_error_set(c->err, EIR_EINVAL, gptr, "expected either P or generate, got both");
    if (p && json_is_object(p) && !ja_is_binary(p)) {
        if (ju_check_keys(p, pptr, keys_p, c->err)) return EIR_EINVAL;
        if (!(g = ju_member(p, pptr, "generate", gptr)))
            return ju_missing(pptr, "generate", "an input recipe, or give P as a matrix", c->err);
    }
    if (g) return generate_input(c, g, gptr);
    if (p) {
        if (read_matrix(c, p, pptr, c->spec->desc.n_in, &c->st->P, NULL)) return EIR_EINVAL;
        c->spec->desc.P = c->st->P;
        return EIR_OK;
    }
    if (c->spec->desc.n_in == 0) return EIR_OK;
    snprintf(what, sizeof what, "n_inputs is %d, so an N x %d matrix or {\"generate\": ...}",
             c->spec->desc.n_in, c->spec->desc.n_in);
    return ju_missing(iptr, "P", what, c->err);
}

eir_status jm_parse_input(mctx *c, const json_t *model)
{
    static const char *const keys_in[] = {"P", "M_in", "generate", NULL};
    char iptr[EIR_FIELD_MAX], ptr[EIR_FIELD_MAX], what[96];
    ja_info info;
    int n_in = c->spec->desc.n_in;
    const json_t *in = ju_member(model, c->base, "input", iptr), *m;
    if (!in) {
        if (n_in == 0) return EIR_OK;
        snprintf(what, sizeof what, "n_inputs is %d, so {\"P\": an N x %d matrix} is needed", n_in,
                 n_in);
        return ju_missing(c->base, "input", what, c->err);
    }
    if (ju_expect_object(in, iptr, "an object {\"P\": ...}", c->err) ||
        ju_check_keys(in, iptr, keys_in, c->err) || parse_p(c, in, iptr))
        return EIR_EINVAL;
    if (!(m = ju_member(in, iptr, "M_in", ptr))) return EIR_OK;
    if (read_matrix(c, m, ptr, n_in, &c->st->M_in, &info) ||
        ja_check_sign(c->st->M_in, (size_t)c->N * n_in, &info, ptr, 0, c->err))
        return EIR_EINVAL;
    c->spec->desc.M_in = c->st->M_in;
    return EIR_OK;
}
