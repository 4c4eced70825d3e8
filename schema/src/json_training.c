/**
 * @file json_training.c
 * @brief FORMAT.md "Trainings" -> ::eir_training_req: the model reference, dt, integrator,
 *        precision, loss, optimizer, batch, iterations, trainable, seed, evaluate, test,
 *        checkpoints and the job's fields; and the check of the initial model against it.
 *        The task lives in json_training_task.c.
 */
#include "json_training.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const doc_keys[] = {
    "model", "task",       "dt",        "integrator", "precision",    "loss", "optimizer",
    "batch", "iterations", "trainable", "seed",       "evaluate",     "test", "checkpoint_every",
    "name",  "labels",     "priority",  "time_limit", "max_attempts", NULL};

/* JSON names of the trainable parameters, in eir_param order (eir_param_name()'s). */
static const char *const param_names[] = {"W", "P", "bias", "W_out", "b_out", "A", "G_b", NULL};

/* A finite number at member key of obj (absent: *out unchanged) that is > lo (strict) or
 * >= lo, and < hi when hi_open (the message says what range). */
static eir_status number_in(tctx *c, const json_t *obj, const char *base, const char *key,
                            double lo, int strict, double hi, double *out)
{
    char ptr[EIR_FIELD_MAX], num[40], lo_s[40], hi_s[40];
    const json_t *v = ju_member(obj, base, key, ptr);
    double d;
    if (!v) return EIR_OK;
    if (ju_number(v, ptr, &d, c->err)) return EIR_EINVAL;
    if ((strict ? d > lo : d >= lo) && (hi == 0 || d < hi)) {
        *out = d;
        return EIR_OK;
    }
    ju_fmt_num(num, sizeof num, d);
    ju_fmt_num(lo_s, sizeof lo_s, lo);
    ju_fmt_num(hi_s, sizeof hi_s, hi);
    if (hi != 0)
        return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a number in [%s, %s), got %s", lo_s,
                             hi_s, num);
    return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a number %s %s, got %s",
                         strict ? ">" : ">=", lo_s, num);
}

/* An integer in [lo, hi] at member key of obj (absent: *out unchanged). */
static eir_status integer(tctx *c, const json_t *obj, const char *base, const char *key, int64_t lo,
                          int64_t hi, int64_t *out)
{
    char ptr[EIR_FIELD_MAX];
    const json_t *v = ju_member(obj, base, key, ptr);
    return v ? ju_int(v, ptr, lo, hi, out, c->err) : EIR_OK;
}

static eir_status parse_model_ref(tctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], got[JU_DESC_MAX];
    const json_t *v = ju_member(j, "", "model", ptr);
    if (!v)
        return ju_missing("", "model",
                          "the initial model: a stored model's id \"m_...\" or a model document",
                          c->err);
    if (json_is_object(v)) {
        c->r->model = json_incref((json_t *)v);
        return EIR_OK;
    }
    const char *s = json_string_value(v);
    int ok = s && json_string_length(v) == 26 && strncmp(s, "m_", 2) == 0;
    for (int i = 2; ok && i < 26; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok) {
        ju_describe(v, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a stored model's id (\"m_\" followed by 24 hex digits) or "
                             "a model document (an object), got %s",
                             got);
    }
    memcpy(c->r->model_id, s, 27);
    return EIR_OK;
}

static eir_status parse_dt_modes(tctx *c, const json_t *j)
{
    static const char *const integrators[] = {"exp_euler", "euler", "rk4", NULL};
    static const char *const precisions[] = {"float64", "float32", NULL};
    char ptr[EIR_FIELD_MAX], num[40];
    eir_train_spec *s = &c->r->train;
    int k;
    const json_t *v = ju_member(j, "", "dt", ptr);
    if (!v)
        return ju_missing("", "dt",
                          "the step > 0: in ms for a built-in task, and in the unit of 1/leak "
                          "for the model",
                          c->err);
    if (ju_number(v, ptr, &s->dt, c->err)) return EIR_EINVAL;
    if (!(s->dt > 0)) {
        ju_fmt_num(num, sizeof num, s->dt);
        return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a step dt > 0, got %s", num);
    }
    if ((v = ju_member(j, "", "integrator", ptr))) {
        if (ju_enum(v, ptr, integrators, &k, c->err)) return EIR_EINVAL;
        if (k == EIR_INTEG_RK4)
            return eir_error_set(c->err, EIR_EINVAL, ptr,
                                 "expected exp_euler or euler (training differentiates through "
                                 "the step; rk4 is for runs only), got \"rk4\"");
        s->integrator = (eir_integrator)k;
    }
    if ((v = ju_member(j, "", "precision", ptr))) {
        if (ju_enum(v, ptr, precisions, &k, c->err)) return EIR_EINVAL;
        s->precision = (eir_precision)k;
    }
    return EIR_OK;
}

/* "loss": {"name", "l2_weights", "l2_rates"}; the default name follows the task. */
static eir_status parse_loss(tctx *c, const json_t *j)
{
    static const char *const keys[] = {"name", "l2_weights", "l2_rates", NULL};
    static const char *const names[] = {"mse", "cross_entropy", NULL}; /* eir_loss_kind order */
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    eir_train_spec *s = &c->r->train;
    int custom = c->r->task.kind == EIR_TASK_CUSTOM, k;
    s->loss = custom && !c->labels_given ? EIR_LOSS_MSE : EIR_LOSS_CE;
    const json_t *v = ju_member(j, "", "loss", ptr), *m;
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"name\": \"cross_entropy\" or \"mse\", ...}",
                         c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "name", sub))) {
        if (ju_enum(m, sub, names, &k, c->err)) return EIR_EINVAL;
        if (custom && k == EIR_LOSS_CE && !c->labels_given)
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "a custom task with targets trains with mse (cross_entropy needs "
                                 "labels), got \"cross_entropy\"");
        s->loss = (eir_loss_kind)k;
    }
    if (number_in(c, v, ptr, "l2_weights", 0, 0, 0, &s->l2_weights) ||
        number_in(c, v, ptr, "l2_rates", 0, 0, 0, &s->l2_rates))
        return EIR_EINVAL;
    return EIR_OK;
}

static eir_status parse_optimizer(tctx *c, const json_t *j)
{
    static const char *const keys[] = {"name", "lr", "beta1", "beta2", "eps", "clip_norm", NULL};
    static const char *const names[] = {"adam", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    eir_train_spec *s = &c->r->train;
    int k;
    const json_t *v = ju_member(j, "", "optimizer", ptr), *m;
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"name\": \"adam\", \"lr\": ...}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "name", sub)) && ju_enum(m, sub, names, &k, c->err))
        return EIR_EINVAL;
    if (number_in(c, v, ptr, "lr", 0, 1, 0, &s->lr) ||
        number_in(c, v, ptr, "beta1", 0, 0, 1, &s->beta1) ||
        number_in(c, v, ptr, "beta2", 0, 0, 1, &s->beta2) ||
        number_in(c, v, ptr, "eps", 0, 1, 0, &s->eps) ||
        number_in(c, v, ptr, "clip_norm", 0, 0, 0, &s->clip_norm))
        return EIR_EINVAL;
    return EIR_OK;
}

static eir_status parse_trainable(tctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    unsigned mask = 0;
    int k;
    const json_t *v = ju_member(j, "", "trainable", ptr);
    if (!v) return EIR_OK;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > EIR_NPARAMS) {
        ju_describe(v, got);
        if (json_is_array(v)) snprintf(got, sizeof got, "a list of %zu", n);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a list of 1 to %d distinct parameters among W, P, bias, "
                             "W_out, b_out, A, G_b, got %s",
                             EIR_NPARAMS, got);
    }
    for (size_t i = 0; i < n; i++) {
        ju_ptr_idx(sub, ptr, i);
        if (ju_enum(json_array_get(v, i), sub, param_names, &k, c->err)) return EIR_EINVAL;
        if (mask & (1u << k))
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected each parameter once, got \"%s\" twice", param_names[k]);
        mask |= 1u << k;
        c->r->trainable_pos[k] = (int)i;
    }
    c->r->train.trainable = mask;
    return EIR_OK;
}

static eir_status parse_sizes(tctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    int64_t batch = c->r->batch, max_batch = EIR_TRAINING_MAX_BATCH;
    if (c->lim->max_trials < max_batch) max_batch = c->lim->max_trials;
    if (integer(c, j, "", "batch", 1, max_batch, &batch) ||
        integer(c, j, "", "iterations", 1, EIR_TRAINING_MAX_ITERATIONS, &c->r->iterations) ||
        integer(c, j, "", "checkpoint_every", 1, EIR_TRAINING_MAX_ITERATIONS,
                &c->r->checkpoint_every))
        return EIR_EINVAL;
    if (batch > max_batch) batch = max_batch; /* the default, past a smaller trial limit */
    c->r->batch = (int)batch;
    const json_t *v = ju_member(j, "", "seed", ptr);
    if (v) {
        if (ju_seed(v, ptr, &c->r->train.seed, c->err)) return EIR_EINVAL;
        c->r->has_seed = 1;
    }
    return EIR_OK;
}

static eir_status parse_evaluate(tctx *c, const json_t *j)
{
    static const char *const keys[] = {"every", "trials", NULL};
    char ptr[EIR_FIELD_MAX];
    int64_t trials = c->r->eval_trials;
    const json_t *v = ju_member(j, "", "evaluate", ptr);
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"every\": k, \"trials\": n}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err) ||
        integer(c, v, ptr, "every", 1, EIR_TRAINING_MAX_ITERATIONS, &c->r->eval_every) ||
        integer(c, v, ptr, "trials", 0, EIR_TRAINING_MAX_EVAL_TRIALS, &trials))
        return EIR_EINVAL;
    c->r->eval_trials = (int)trials;
    return EIR_OK;
}

static eir_status parse_test(tctx *c, const json_t *j)
{
    static const char *const keys[] = {"trials", "timing", "coherences", NULL};
    char ptr[EIR_FIELD_MAX], tptr[EIR_FIELD_MAX], cptr[EIR_FIELD_MAX];
    int64_t trials = c->r->test_trials;
    const json_t *v = ju_member(j, "", "test", ptr);
    const json_t *timing = NULL, *cohs = NULL;
    if (v) {
        if (ju_expect_object(v, ptr, "an object {\"trials\": n, \"timing\": {...}}", c->err) ||
            ju_check_keys(v, ptr, keys, c->err) ||
            integer(c, v, ptr, "trials", 0, EIR_TRAINING_MAX_EVAL_TRIALS, &trials))
            return EIR_EINVAL;
        c->r->test_trials = (int)trials;
        timing = ju_member(v, ptr, "timing", tptr);
        cohs = ju_member(v, ptr, "coherences", cptr);
    }
    if (jt_parse_test_task(c, timing, tptr, cohs, cptr) ||
        jt_check_task(c, &c->r->task, NULL, NULL) ||
        jt_check_task(c, &c->r->test_task, timing, cohs))
        return EIR_EINVAL;
    return EIR_OK;
}

static eir_status parse_job(tctx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], got[JU_DESC_MAX];
    int64_t attempts = 0;
    const json_t *v = ju_member(j, "", "name", ptr);
    if (v && (!json_is_string(v) || json_string_length(v) >= sizeof c->r->name)) {
        ju_describe(v, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a string of at most %zu bytes, got %s",
                             sizeof c->r->name - 1, json_is_string(v) ? "a longer string" : got);
    }
    if (v) snprintf(c->r->name, sizeof c->r->name, "%s", json_string_value(v));
    if ((v = ju_member(j, "", "labels", ptr))) {
        if (eir_json_check_labels(v, ptr, c->err)) return EIR_EINVAL;
        c->r->labels = json_incref((json_t *)v);
    }
    if (integer(c, j, "", "priority", -EIR_TRAINING_MAX_PRIORITY, EIR_TRAINING_MAX_PRIORITY,
                &c->r->priority) ||
        number_in(c, j, "", "time_limit", 0, 0, 0, &c->r->time_limit) ||
        integer(c, j, "", "max_attempts", 1, EIR_TRAINING_MAX_ATTEMPTS, &attempts))
        return EIR_EINVAL;
    c->r->max_attempts = (int)attempts;
    return EIR_OK;
}

/* trials x longest trial x (n_in + n_out) values against the input value limit; an
 * evaluation or a test holds at most EIR_TASK_EVAL_CHUNK trials at a time (@p chunked). */
static eir_status check_values(tctx *c, int64_t trials, int chunked, const char *ptr,
                               const char *what)
{
    const eir_task_spec *t = &c->r->task;
    if (chunked && trials > EIR_TASK_EVAL_CHUNK) trials = EIR_TASK_EVAL_CHUNK;
    int64_t width = (int64_t)eir_task_n_in(t) + eir_task_n_out(t) + 1, values;
    if (__builtin_mul_overflow(trials, c->r->max_steps, &values) ||
        __builtin_mul_overflow(values, width, &values))
        values = INT64_MAX;
    if (values <= c->lim->max_input_values) return EIR_OK;
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected at most %lld values of %s trials (trials x longest trial "
                         "%lld steps x %lld inputs, outputs and label), got %lld",
                         (long long)c->lim->max_input_values, what, (long long)c->r->max_steps,
                         (long long)width, (long long)values);
}

static eir_status parse_all(tctx *c, const json_t *j)
{
    if (ju_expect_object(j, "", "a training object", c->err) ||
        ju_check_depth(j, "", c->lim->max_depth, c->err) || ju_check_keys(j, "", doc_keys, c->err))
        return EIR_EINVAL;
    if (parse_model_ref(c, j) || parse_dt_modes(c, j) || jt_parse_task(c, j) || parse_loss(c, j) ||
        parse_optimizer(c, j) || parse_trainable(c, j) || parse_sizes(c, j) ||
        parse_evaluate(c, j) || parse_test(c, j) || parse_job(c, j))
        return EIR_EINVAL;
    if (check_values(c, c->r->batch, 0, "/batch", "a batch's") ||
        check_values(c, c->r->eval_trials, 1, "/evaluate/trials", "a chunk of the evaluation's") ||
        check_values(c, c->r->test_trials, 1, "/test/trials", "a chunk of the test's"))
        return EIR_EINVAL;
    return EIR_OK;
}

eir_status eir_json_parse_training(const json_t *j, const eir_json_limits *lim,
                                   eir_training_req **out, eir_error *err)
{
    eir_json_limits def;
    eir_error local;
    *out = NULL;
    if (!lim) {
        eir_json_limits_default(&def);
        lim = &def;
    }
    eir_training_req *r = calloc(1, sizeof *r);
    tr_store *st = calloc(1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        return ju_enomem(err, "");
    }
    r->storage = st;
    eir_train_spec_init(&r->train);
    r->train.threads = 1;
    r->batch = 32;
    r->iterations = 2000;
    r->eval_every = 100;
    r->eval_trials = 256;
    r->test_trials = 1000;
    r->checkpoint_every = 100;
    for (int p = 0; p < EIR_NPARAMS; p++)
        r->trainable_pos[p] = -1;
    tctx c = {.lim = lim, .r = r, .st = st, .err = err ? err : &local};
    if (parse_all(&c, j)) {
        /* helpers return nonzero on failure; the error holds the real status */
        eir_training_req_free(r);
        return c.err->status;
    }
    *out = r;
    return EIR_OK;
}

void eir_training_req_free(eir_training_req *r)
{
    if (!r) return;
    tr_store *st = r->storage;
    if (st) {
        free(st->x);
        free(st->target);
        free(st->mask);
        free(st->label);
        free(st->len);
        free(st);
    }
    json_decref(r->model);
    json_decref(r->labels);
    free(r);
}

/* ---------------------------------------------------------------------------------------- */
/* The initial model against the request                                                     */
/* ---------------------------------------------------------------------------------------- */

eir_status eir_training_check_model(eir_training_req *r, const eir_model_desc *d,
                                    const eir_json_limits *lim, eir_error *err)
{
    eir_json_limits def;
    if (!lim) {
        eir_json_limits_default(&def);
        lim = &def;
    }
    const eir_task_spec *t = &r->task;
    int custom_labels = t->kind == EIR_TASK_CUSTOM && t->custom.label;
    int n_in = eir_task_n_in(t), n_out = eir_task_n_out(t), N = d->n_e + d->n_i;
    if (d->n_in != n_in)
        return eir_error_set(err, EIR_EINVAL, "/model/n_inputs",
                             "expected the model to have the task's %d input channels (%s), got "
                             "n_inputs %d",
                             n_in, eir_task_name(t->kind), d->n_in);
    if (d->n_out == 0)
        return eir_error_set(err, EIR_EINVAL, "/model/readout",
                             "expected a readout with %s%d outputs for %s, got a model without "
                             "readout",
                             custom_labels ? "at least " : "", n_out, eir_task_name(t->kind));
    if (custom_labels ? d->n_out < n_out : d->n_out != n_out)
        return eir_error_set(err, EIR_EINVAL, "/model/readout",
                             custom_labels
                                 ? "expected a readout with at least %d outputs (the largest "
                                   "label + 1) for the custom task, got %d"
                                 : "expected a readout with the task's %d outputs, got %d",
                             n_out, d->n_out);
    int gated_reduced = d->cls == EIR_CLASS_GATED && d->form == EIR_FORM_REDUCED;
    if ((r->train.trainable & (1u << EIR_PARAM_A)) && !gated_reduced) {
        char field[EIR_FIELD_MAX];
        ju_ptr_idx(field, "/trainable", (size_t)r->trainable_pos[EIR_PARAM_A]);
        return eir_error_set(err, EIR_EINVAL, field,
                             "A is trainable only in a class gated model in the reduced form "
                             "(M = A |W|), got class %s in the %s form",
                             eir_class_name(d->cls),
                             d->form == EIR_FORM_REDUCED ? "reduced" : "conductance");
    }
    int64_t values;
    if (__builtin_mul_overflow((int64_t)r->batch, r->max_steps, &values) ||
        __builtin_mul_overflow(values, (int64_t)N, &values))
        values = INT64_MAX;
    if (values > lim->max_recorded_values)
        return eir_error_set(err, EIR_EINVAL, "/batch",
                             "expected at most %lld stored states for backpropagation (batch x "
                             "longest trial x N = %d x %lld x %d = %lld); use a smaller batch or "
                             "shorter trials",
                             (long long)lim->max_recorded_values, r->batch, (long long)r->max_steps,
                             N, (long long)values);
    if (custom_labels) {
        r->task.custom.n_out = d->n_out;
        r->test_task.custom.n_out = d->n_out;
    }
    return EIR_OK;
}
