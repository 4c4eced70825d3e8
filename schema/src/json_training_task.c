/**
 * @file json_training_task.c
 * @brief The training document's "task" (FORMAT.md "Trainings"): a built-in task's name,
 *        timing (neurogym's duration specs, checked against the task's periods), coherences
 *        and sigma, or a custom task's arrays; and the "test" overrides of timing and coherences.
 */
#include "json_training.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Longest duration of one period, in ms (a day: far beyond any trial the step limit allows). */
#define TR_MAX_DURATION 86400000.0

static const char *const builtin_keys[] = {"name", "timing", "coherences", "sigma", NULL};
static const char *const custom_keys[] = {"name", "inputs",  "labels", "targets",
                                          "mask", "lengths", NULL};
static const char *const dur_kinds[] = {"uniform", "choice", "truncated_exponential", NULL};

/* A duration in ms: finite, >= 0 (> 0 when @p positive), at most TR_MAX_DURATION. */
static eir_status duration_value(tctx *c, const json_t *v, const char *ptr, int positive,
                                 double *out)
{
    char num[40];
    if (ju_number(v, ptr, out, c->err)) return EIR_EINVAL;
    if ((positive ? *out > 0 : *out >= 0) && *out <= TR_MAX_DURATION) return EIR_OK;
    ju_fmt_num(num, sizeof num, *out);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected a duration in ms %s and at most %.0f, got %s",
                         positive ? "> 0" : ">= 0", TR_MAX_DURATION, num);
}

/* The list of a duration spec: n values, n in [lo, hi], read into vals. */
static eir_status duration_list(tctx *c, const json_t *v, const char *ptr, size_t lo, size_t hi,
                                const char *what, double *vals, size_t *n)
{
    char got[JU_DESC_MAX], sub[EIR_FIELD_MAX];
    size_t len = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || len < lo || len > hi) {
        ju_describe(v, got);
        if (json_is_array(v)) snprintf(got, sizeof got, "a list of %zu", len);
        return eir_error_set(c->err, EIR_EINVAL, ptr, "expected %s, got %s", what, got);
    }
    for (size_t i = 0; i < len; i++) {
        ju_ptr_idx(sub, ptr, i);
        /* the mean of a truncated exponential must be > 0; every other value >= 0 */
        int positive = lo == 3 && i == 0;
        if (duration_value(c, json_array_get(v, i), sub, positive, &vals[i])) return EIR_EINVAL;
    }
    *n = len;
    return EIR_OK;
}

/* {"uniform": [a, b]}, {"choice": [...]} or {"truncated_exponential": [mean, min, max]}. */
static eir_status duration_object(tctx *c, const json_t *v, const char *ptr, eir_duration *d)
{
    char sub[EIR_FIELD_MAX], num[2][40];
    double vals[EIR_TASK_MAX_CHOICES];
    size_t n = 0;
    int kind = -1;
    if (json_object_size(v) != 1)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a duration in ms or an object with exactly one of "
                             "uniform, choice, truncated_exponential, got %zu members",
                             json_object_size(v));
    if (ju_check_keys(v, ptr, dur_kinds, c->err)) return EIR_EINVAL;
    for (int k = 0; dur_kinds[k]; k++)
        if (json_object_get(v, dur_kinds[k])) kind = k;
    const json_t *m = ju_member(v, ptr, dur_kinds[kind], sub);
    memset(d, 0, sizeof *d);
    if (kind == 0) {
        if (duration_list(c, m, sub, 2, 2, "[min, max] in ms", vals, &n)) return EIR_EINVAL;
        if (vals[0] > vals[1]) {
            ju_fmt_num(num[0], sizeof num[0], vals[0]);
            ju_fmt_num(num[1], sizeof num[1], vals[1]);
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected [min, max] with min <= max, got [%s, %s]", num[0],
                                 num[1]);
        }
        d->kind = EIR_DUR_UNIFORM;
        d->a = vals[0];
        d->b = vals[1];
        return EIR_OK;
    }
    if (kind == 1) {
        char what[64];
        snprintf(what, sizeof what, "a list of 1 to %d durations in ms", EIR_TASK_MAX_CHOICES);
        if (duration_list(c, m, sub, 1, EIR_TASK_MAX_CHOICES, what, vals, &n)) return EIR_EINVAL;
        d->kind = EIR_DUR_CHOICE;
        memcpy(d->choices, vals, n * sizeof vals[0]);
        d->n_choices = (int)n;
        return EIR_OK;
    }
    if (duration_list(c, m, sub, 3, 3, "[mean, min, max] in ms", vals, &n)) return EIR_EINVAL;
    if (vals[1] > vals[2]) {
        ju_fmt_num(num[0], sizeof num[0], vals[1]);
        ju_fmt_num(num[1], sizeof num[1], vals[2]);
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected [mean, min, max] with min <= max, got min %s and max %s",
                             num[0], num[1]);
    }
    d->kind = EIR_DUR_TRUNC_EXP;
    d->a = vals[0];
    d->b = vals[1];
    d->c = vals[2];
    return EIR_OK;
}

static eir_status parse_duration(tctx *c, const json_t *v, const char *ptr, eir_duration *d)
{
    char got[JU_DESC_MAX];
    if (json_is_number(v)) {
        memset(d, 0, sizeof *d);
        d->kind = EIR_DUR_CONSTANT;
        return duration_value(c, v, ptr, 0, &d->a);
    }
    if (json_is_object(v)) return duration_object(c, v, ptr, d);
    ju_describe(v, got);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected a duration in ms, {\"uniform\": [min, max]}, {\"choice\": "
                         "[...]} or {\"truncated_exponential\": [mean, min, max]}, got %s",
                         got);
}

/* The periods of task kind k as "fixation, stimulus, ..." for messages. */
static void period_list(eir_task_kind k, char *dst, size_t cap)
{
    size_t used = 0;
    dst[0] = '\0';
    for (int i = 0; i < eir_task_n_periods(k) && used < cap; i++)
        used += (size_t)snprintf(dst + used, cap - used, "%s%s", i ? ", " : "",
                                 eir_task_period_name(k, i));
}

static int period_index(eir_task_kind k, const char *name)
{
    for (int i = 0; i < eir_task_n_periods(k) && i < EIR_TASK_MAX_PERIODS; i++)
        if (strcmp(eir_task_period_name(k, i), name) == 0) return i;
    return -1;
}

/* "timing" at ptr: {period: duration spec, ...} into t->timing. */
static eir_status parse_timing(tctx *c, const json_t *v, const char *ptr, eir_task_spec *t)
{
    char sub[EIR_FIELD_MAX], list[256];
    const char *key;
    json_t *val;
    if (ju_expect_object(v, ptr, "an object {period: duration, ...}", c->err)) return EIR_EINVAL;
    json_object_foreach((json_t *)v, key, val)
    {
        int p = period_index(t->kind, key);
        ju_ptr_key(sub, ptr, key);
        if (p < 0) {
            period_list(t->kind, list, sizeof list);
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "unknown period \"%.64s\"; the periods of %s are: %s", key,
                                 eir_task_name(t->kind), list);
        }
        if (parse_duration(c, val, sub, &t->timing[p])) return EIR_EINVAL;
    }
    return EIR_OK;
}

static eir_status parse_coherences(tctx *c, const json_t *v, const char *ptr, eir_task_spec *t)
{
    char got[JU_DESC_MAX], sub[EIR_FIELD_MAX];
    if (t->n_coherences == 0)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "%s has no coherences (they apply to perceptual_decision_making and "
                             "context_decision_making)",
                             eir_task_name(t->kind));
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > EIR_TASK_MAX_COHERENCES) {
        ju_describe(v, got);
        if (json_is_array(v)) snprintf(got, sizeof got, "a list of %zu", n);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a list of 1 to %d coherences (percent, 0 to 100), got %s",
                             EIR_TASK_MAX_COHERENCES, got);
    }
    for (size_t i = 0; i < n; i++) {
        char num[40];
        ju_ptr_idx(sub, ptr, i);
        if (ju_number(json_array_get(v, i), sub, &t->coherences[i], c->err)) return EIR_EINVAL;
        if (t->coherences[i] < 0 || t->coherences[i] > 100) {
            ju_fmt_num(num, sizeof num, t->coherences[i]);
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected a coherence in percent from 0 to 100 (the sign is "
                                 "drawn per trial), got %s",
                                 num);
        }
    }
    t->n_coherences = (int)n;
    return EIR_OK;
}

int64_t jt_max_steps(const eir_task_spec *t)
{
    if (t->kind == EIR_TASK_CUSTOM) return t->custom.T;
    double steps = 0;
    for (int i = 0; i < eir_task_n_periods(t->kind) && i < EIR_TASK_MAX_PERIODS; i++) {
        const eir_duration *d = &t->timing[i];
        double mx = d->kind == EIR_DUR_UNIFORM ? d->b : d->kind == EIR_DUR_TRUNC_EXP ? d->c : d->a;
        for (int k = 0; d->kind == EIR_DUR_CHOICE && k < d->n_choices; k++)
            if (k == 0 || d->choices[k] > mx) mx = d->choices[k];
        steps += floor(mx / t->dt); /* a period lasts floor(duration / dt) steps (TASKS.md) */
    }
    return steps > 1e15 ? (int64_t)1e15 : (int64_t)steps;
}

static eir_status parse_builtin(tctx *c, const json_t *v, const char *ptr)
{
    char sub[EIR_FIELD_MAX], num[40];
    eir_task_spec *t = &c->r->task;
    if (ju_check_keys(v, ptr, builtin_keys, c->err)) return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "timing", sub);
    if (m && parse_timing(c, m, sub, t)) return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "coherences", sub)) && parse_coherences(c, m, sub, t))
        return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "sigma", sub))) {
        if (ju_number(m, sub, &t->sigma, c->err)) return EIR_EINVAL;
        if (t->sigma < 0) {
            ju_fmt_num(num, sizeof num, t->sigma);
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected an input noise sigma >= 0, got %s", num);
        }
    }
    c->r->max_steps = jt_max_steps(t);
    if (c->r->max_steps > EIR_TRAINING_MAX_STEPS)
        return eir_error_set(c->err, EIR_EINVAL,
                             json_object_get(v, "timing") ? "/task/timing" : "/dt",
                             "expected trials of at most %d steps, but the longest trial this "
                             "timing can draw has up to %lld steps of dt",
                             EIR_TRAINING_MAX_STEPS, (long long)c->r->max_steps);
    return EIR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Custom tasks                                                                              */
/* ---------------------------------------------------------------------------------------- */

/* Values still allowed under the input value limit. */
static int64_t budget(tctx *c, int64_t used)
{
    return c->lim->max_input_values - used;
}

static eir_status budget_error(tctx *c, const char *ptr, int64_t used, int64_t count)
{
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected at most %lld values in all of the custom task's arrays "
                         "(inputs, labels or targets, mask, lengths), got %lld with these %lld",
                         (long long)c->lim->max_input_values, (long long)(used + count),
                         (long long)count);
}

/* An array of exactly ndim dimensions whose known sizes match, read into *out. */
static eir_status custom_array(tctx *c, const json_t *v, const char *ptr, int ndim, int64_t *shape,
                               int64_t *used, double **out)
{
    ja_info info;
    if (ja_probe(v, ptr, INT64_MAX, &info, c->err)) return EIR_EINVAL;
    if (!ja_shape_matches(&info, ndim, shape))
        return ja_shape_error(&info, ptr, ndim, shape, c->err);
    if ((int64_t)info.count > budget(c, *used))
        return budget_error(c, ptr, *used, (int64_t)info.count);
    if (ja_read(v, ptr, ndim, shape, 0, budget(c, *used), out, NULL, c->err)) return EIR_EINVAL;
    *used += (int64_t)info.count;
    return EIR_OK;
}

/* "inputs": n_trials x T x n_in, sizes within bounds. */
static eir_status custom_inputs(tctx *c, const json_t *v, const char *ptr, int64_t *used)
{
    eir_task_custom *cu = &c->r->task.custom;
    int64_t shape[3] = {-1, -1, -1};
    ja_info info;
    if (ja_probe(v, ptr, INT64_MAX, &info, c->err)) return EIR_EINVAL;
    if (info.ndim != 3) return ja_shape_error(&info, ptr, 3, shape, c->err);
    const char *what[3] = {"trials", "steps T", "input channels"};
    int64_t hi[3] = {EIR_TRAINING_MAX_CUSTOM_TRIALS, EIR_TRAINING_MAX_STEPS, c->lim->max_inputs};
    for (int d = 0; d < 3; d++)
        if (info.shape[d] < 1 || info.shape[d] > hi[d])
            return eir_error_set(c->err, EIR_EINVAL, ptr,
                                 "expected shape [n_trials, T, n_in] with 1 to %lld %s, got %lld",
                                 (long long)hi[d], what[d], (long long)info.shape[d]);
    if (custom_array(c, v, ptr, 3, shape, used, &c->st->x)) return EIR_EINVAL;
    cu->n_trials = (int)shape[0];
    cu->T = (int)shape[1];
    cu->n_in = (int)shape[2];
    cu->x = c->st->x;
    return EIR_OK;
}

/* Integers in [lo, hi] from n doubles; the error names element i as ptr/(i / cols)/(i % cols)
 * (or ptr/i when cols is 0). */
static eir_status to_int32(tctx *c, const double *x, size_t n, const char *ptr, int64_t cols,
                           int64_t lo, int64_t hi, const char *what, int32_t **out)
{
    char field[EIR_FIELD_MAX], num[40];
    int32_t *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return ju_enomem(c->err, ptr);
    for (size_t i = 0; i < n; i++) {
        if (x[i] == floor(x[i]) && x[i] >= (double)lo && x[i] <= (double)hi) {
            o[i] = (int32_t)x[i];
            continue;
        }
        free(o);
        if (cols > 0) {
            ju_ptr_idx(field, ptr, i / (size_t)cols);
            ju_ptr_idx(field, field, i % (size_t)cols);
        } else {
            ju_ptr_idx(field, ptr, i);
        }
        ju_fmt_num(num, sizeof num, x[i]);
        return eir_error_set(c->err, EIR_EINVAL, field,
                             "expected %s (an integer in [%lld, %lld]), got %s", what,
                             (long long)lo, (long long)hi, num);
    }
    *out = o;
    return EIR_OK;
}

static eir_status custom_labels(tctx *c, const json_t *v, const char *ptr, int64_t *used)
{
    eir_task_custom *cu = &c->r->task.custom;
    int64_t shape[2] = {cu->n_trials, cu->T};
    double *tmp = NULL;
    if (custom_array(c, v, ptr, 2, shape, used, &tmp)) return EIR_EINVAL;
    size_t n = (size_t)cu->n_trials * (size_t)cu->T;
    eir_status st =
        to_int32(c, tmp, n, ptr, cu->T, 0, c->lim->max_outputs - 1, "a class label", &c->st->label);
    free(tmp);
    if (st) return EIR_EINVAL;
    int32_t top = 0;
    for (size_t i = 0; i < n; i++)
        if (c->st->label[i] > top) top = c->st->label[i];
    cu->label = c->st->label;
    cu->n_out = top + 1; /* the model's n_out replaces it (eir_training_check_model()) */
    return EIR_OK;
}

static eir_status custom_targets(tctx *c, const json_t *v, const char *ptr, int64_t *used)
{
    eir_task_custom *cu = &c->r->task.custom;
    int64_t shape[3] = {cu->n_trials, cu->T, -1};
    ja_info info;
    if (ja_probe(v, ptr, INT64_MAX, &info, c->err)) return EIR_EINVAL;
    if (info.ndim == 3 && (info.shape[2] < 1 || info.shape[2] > c->lim->max_outputs))
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected shape [n_trials, T, n_out] with 1 to %d outputs, got %lld",
                             c->lim->max_outputs, (long long)info.shape[2]);
    if (custom_array(c, v, ptr, 3, shape, used, &c->st->target)) return EIR_EINVAL;
    cu->target = c->st->target;
    cu->n_out = (int)shape[2];
    return EIR_OK;
}

static eir_status custom_mask(tctx *c, const json_t *v, const char *ptr, int64_t *used)
{
    eir_task_custom *cu = &c->r->task.custom;
    int64_t shape[3] = {cu->n_trials, cu->T, cu->n_out};
    ja_info info;
    int ndim = c->labels_given ? 2 : 3;
    if (custom_array(c, v, ptr, ndim, shape, used, &c->st->mask)) return EIR_EINVAL;
    if (ja_probe(v, ptr, INT64_MAX, &info, c->err) ||
        ja_check_sign(c->st->mask, (size_t)cu->n_trials * cu->T * (ndim == 3 ? cu->n_out : 1),
                      &info, ptr, 0, c->err))
        return EIR_EINVAL;
    cu->mask = c->st->mask;
    return EIR_OK;
}

static eir_status custom_lengths(tctx *c, const json_t *v, const char *ptr, int64_t *used)
{
    eir_task_custom *cu = &c->r->task.custom;
    int64_t shape[1] = {cu->n_trials};
    double *tmp = NULL;
    if (custom_array(c, v, ptr, 1, shape, used, &tmp)) return EIR_EINVAL;
    eir_status st = to_int32(c, tmp, (size_t)cu->n_trials, ptr, 0, 1, cu->T,
                             "a trial length in steps", &c->st->len);
    free(tmp);
    if (st) return EIR_EINVAL;
    cu->len = c->st->len;
    return EIR_OK;
}

static eir_status parse_custom(tctx *c, const json_t *v, const char *ptr)
{
    char sub[EIR_FIELD_MAX], lsub[EIR_FIELD_MAX];
    int64_t used = 0;
    if (ju_check_keys(v, ptr, custom_keys, c->err)) return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "inputs", sub);
    if (!m) return ju_missing(ptr, "inputs", "an n_trials x T x n_in array", c->err);
    if (custom_inputs(c, m, sub, &used)) return EIR_EINVAL;
    const json_t *lab = ju_member(v, ptr, "labels", lsub);
    const json_t *tgt = ju_member(v, ptr, "targets", sub);
    if (lab && tgt)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected either labels (cross_entropy) or targets (mse), got both");
    if (!lab && !tgt)
        return eir_error_set(c->err, EIR_EINVAL, lsub,
                             "missing required field \"labels\" (an n_trials x T array of "
                             "integer classes, for cross_entropy) or \"targets\" (an n_trials "
                             "x T x n_out array, for mse)");
    c->labels_given = lab != NULL;
    if (lab ? custom_labels(c, lab, lsub, &used) : custom_targets(c, tgt, sub, &used))
        return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "mask", sub)) && custom_mask(c, m, sub, &used)) return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "lengths", sub)) && custom_lengths(c, m, sub, &used))
        return EIR_EINVAL;
    c->r->max_steps = c->r->task.custom.T;
    return EIR_OK;
}

eir_status jt_parse_task(tctx *c, const json_t *doc)
{
    static const char *const names[] = {"perceptual_decision_making", "delay_match_sample",
                                        "context_decision_making", "custom", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    int kind;
    const json_t *v = ju_member(doc, "", "task", ptr);
    if (!v)
        return ju_missing("", "task",
                          "{\"name\": \"perceptual_decision_making\", ...}, or a custom task "
                          "{\"name\": \"custom\", \"inputs\": ..., \"labels\" or \"targets\": "
                          "...}",
                          c->err);
    if (ju_expect_object(v, ptr, "a task object {\"name\": ...}", c->err)) return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "name", sub);
    if (!m)
        return ju_missing(ptr, "name",
                          "perceptual_decision_making, delay_match_sample, "
                          "context_decision_making or custom",
                          c->err);
    if (ju_enum(m, sub, names, &kind, c->err)) return EIR_EINVAL;
    /* the names above are eir_task_name()'s, in eir_task_kind order */
    eir_task_spec_init(&c->r->task, (eir_task_kind)kind, c->r->train.dt);
    c->r->task.kind = (eir_task_kind)kind;
    c->r->task.dt = c->r->train.dt;
    if (kind == EIR_TASK_CUSTOM) return parse_custom(c, v, ptr);
    return parse_builtin(c, v, ptr);
}

eir_status jt_parse_test_task(tctx *c, const json_t *timing, const char *tptr, const json_t *cohs,
                              const char *cptr)
{
    eir_task_spec *t = &c->r->test_task;
    *t = c->r->task;
    if (t->kind == EIR_TASK_CUSTOM && (timing || cohs))
        return eir_error_set(c->err, EIR_EINVAL, timing ? tptr : cptr,
                             "a custom task has no %s to override (its test trials are drawn "
                             "from its arrays)",
                             timing ? "timing" : "coherences");
    if (timing && parse_timing(c, timing, tptr, t)) return EIR_EINVAL;
    if (cohs && parse_coherences(c, cohs, cptr, t)) return EIR_EINVAL;
    int64_t steps = jt_max_steps(t);
    if (steps > EIR_TRAINING_MAX_STEPS)
        return eir_error_set(c->err, EIR_EINVAL, timing ? tptr : "/task/timing",
                             "expected test trials of at most %d steps, but the longest trial "
                             "this timing can draw has up to %lld steps of dt",
                             EIR_TRAINING_MAX_STEPS, (long long)steps);
    if (steps > c->r->max_steps) c->r->max_steps = steps;
    return EIR_OK;
}

/* The document's pointer for engine field @p f of a task object (eir_task_check()). */
static void map_task_field(const char *f, const json_t *test_timing, const json_t *test_cohs,
                           char out[EIR_FIELD_MAX])
{
    static const char *const custom_map[][2] = {{"x", "inputs"},
                                                {"target", "targets"},
                                                {"label", "labels"},
                                                {"mask", "mask"},
                                                {"len", "lengths"}};
    if (strcmp(f, "/dt") == 0) {
        snprintf(out, EIR_FIELD_MAX, "/dt");
        return;
    }
    if (strncmp(f, "/custom/", 8) == 0) {
        const char *tok = f + 8, *rest = strchr(tok, '/');
        size_t n = rest ? (size_t)(rest - tok) : strlen(tok);
        for (size_t i = 0; i < sizeof custom_map / sizeof custom_map[0]; i++)
            if (strlen(custom_map[i][0]) == n && strncmp(tok, custom_map[i][0], n) == 0) {
                snprintf(out, EIR_FIELD_MAX, "/task/%s%.200s", custom_map[i][1], rest ? rest : "");
                return;
            }
        snprintf(out, EIR_FIELD_MAX, "/task/%.200s", tok);
        return;
    }
    int from_test = 0;
    if (test_timing && strncmp(f, "/timing/", 8) == 0) {
        const char *p = f + 8, *rest = strchr(p, '/');
        char period[64];
        snprintf(period, sizeof period, "%.*s", rest ? (int)(rest - p) : (int)strlen(p), p);
        from_test = json_object_get(test_timing, period) != NULL;
    }
    if (test_cohs && strncmp(f, "/coherences", 11) == 0) from_test = 1;
    snprintf(out, EIR_FIELD_MAX, "%s%.240s", from_test ? "/test" : "/task", f);
}

eir_status jt_check_task(tctx *c, const eir_task_spec *t, const json_t *test_timing,
                         const json_t *test_cohs)
{
    eir_error sub;
    char field[EIR_FIELD_MAX];
    eir_error_clear(&sub);
    eir_status st = eir_task_check(t, &sub);
    if (st == EIR_OK) return EIR_OK;
    map_task_field(sub.field, test_timing, test_cohs, field);
    return eir_error_set(c->err, st, field, "%s", sub.message);
}
