/**
 * @file json_analysis.c
 * @brief An analysis request (docs/ANALYSIS.md) -> ::eir_an_request: the common fields, and
 *        each kind's options with their defaults, types and ranges, errors naming the field.
 *        Nothing here knows the model: lengths against N and n_in are the caller's to check.
 */
#include "eir_json.h"
#include "json_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Most threads an analysis may ask for (as a run: eir_runner.h's EIR_PIPE_MAX_THREADS). */
#define AN_MAX_THREADS 256
/** Most Newton iterations per start. */
#define AN_MAX_ITER 10000

static const char *const kind_names[] = {"spectrum", "fixed_points", "lyapunov", "activity", NULL};

const char *eir_an_kind_name(eir_an_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "?";
}

/** Keys of every kind, then the kind's own (NULL-terminated lists). */
#define COMMON_KEYS "kind", "model_id", "model", "priority", "time_limit", "threads", "x", "labels"
static const char *const spectrum_keys[] = {COMMON_KEYS, "of", "eigenvectors", "at", NULL};
static const char *const fixed_keys[] = {COMMON_KEYS,  "starts",      "max_iter", "tol",
                                         "dedupe_tol", "slow_points", "slow_tol", NULL};
static const char *const lyap_keys[] = {COMMON_KEYS,     "k",  "dt",   "steps",        "transient",
                                        "reortho_every", "V0", "seed", "trace_points", NULL};
static const char *const activity_keys[] = {COMMON_KEYS, "run_id",  "var",
                                            "window",    "balance", NULL};

/** Arrays owned by a request. */
typedef struct an_store {
    double *x, *V0, *at_V;
    eir_an_state *run_starts;
} an_store;

typedef struct actx {
    const eir_json_limits *lim;
    eir_an_request *r;
    an_store *st;
    eir_error *err;
} actx;

/* A 1-D array of numbers of any length in 1 .. max at ptr. */
static eir_status read_vector(actx *c, const json_t *v, const char *ptr, int64_t max, double **out,
                              int64_t *len)
{
    int64_t shape[1] = {-1};
    eir_status st = ja_read(v, ptr, 1, shape, 0, max, out, NULL, c->err);
    if (st != EIR_OK) return st;
    *len = shape[0];
    if (*len < 1) {
        free(*out);
        *out = NULL;
        return eir_error_set(c->err, EIR_EINVAL, ptr, "expected at least one value, got none");
    }
    return EIR_OK;
}

/* A positive finite number at member key of obj (absent: *out unchanged). */
static eir_status positive(actx *c, const json_t *obj, const char *base, const char *key,
                           double *out)
{
    char ptr[EIR_FIELD_MAX], num[40];
    const json_t *v = ju_member(obj, base, key, ptr);
    if (!v) return EIR_OK;
    double d;
    if (ju_number(v, ptr, &d, c->err)) return c->err->status;
    if (!(d > 0)) {
        ju_fmt_num(num, sizeof num, d);
        return eir_error_set(c->err, EIR_EINVAL, ptr, "expected a number > 0, got %s", num);
    }
    *out = d;
    return EIR_OK;
}

/* An integer in [lo, hi] at member key of obj (absent: *out unchanged). */
static eir_status integer(actx *c, const json_t *obj, const char *base, const char *key, int64_t lo,
                          int64_t hi, int64_t *out)
{
    char ptr[EIR_FIELD_MAX];
    const json_t *v = ju_member(obj, base, key, ptr);
    return v ? ju_int(v, ptr, lo, hi, out, c->err) : EIR_OK;
}

static eir_status boolean(actx *c, const json_t *obj, const char *base, const char *key, int *out)
{
    char ptr[EIR_FIELD_MAX];
    const json_t *v = ju_member(obj, base, key, ptr);
    return v ? ju_bool(v, ptr, out, c->err) : EIR_OK;
}

/* A job id: prefix + 24 lower-case hex digits, copied into out[32]. */
static eir_status job_id(actx *c, const json_t *v, const char *ptr, const char *prefix,
                         const char *what, char out[32])
{
    char got[JU_DESC_MAX];
    const char *s = json_string_value(v);
    int ok = s && strlen(s) == 26 && strncmp(s, prefix, 2) == 0;
    for (int i = 2; ok && i < 26; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok) {
        ju_describe(v, got);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected %s id (\"%s\" followed by 24 hex digits), got %s", what,
                             prefix, got);
    }
    memcpy(out, s, 27);
    return EIR_OK;
}

/**
 * A state object at @p ptr: {"V": [...]}, {"run_id", "trial", "step"} or (when
 * @p allow_analysis) {"analysis_id", "index"}. *V of the first form goes to *owned.
 */
static eir_status parse_state(actx *c, const json_t *v, const char *ptr, int allow_analysis,
                              eir_an_state *s, double **owned)
{
    static const char *const v_keys[] = {"V", NULL};
    static const char *const run_keys[] = {"run_id", "trial", "step", NULL};
    static const char *const an_keys[] = {"analysis_id", "index", NULL};
    char sub[EIR_FIELD_MAX];
    memset(s, 0, sizeof *s);
    snprintf(s->ptr, sizeof s->ptr, "%s", ptr);
    const char *what = allow_analysis ? "a state object ({\"V\": [...]}, {\"run_id\", \"trial\", "
                                        "\"step\"} or {\"analysis_id\", \"index\"})"
                                      : "a run state object ({\"run_id\", \"trial\", \"step\"})";
    if (ju_expect_object(v, ptr, what, c->err)) return c->err->status;
    const json_t *m;
    if (allow_analysis && (m = ju_member(v, ptr, "V", sub))) {
        if (ju_check_keys(v, ptr, v_keys, c->err)) return c->err->status;
        s->src = EIR_AN_STATE_V;
        if (read_vector(c, m, sub, c->lim->max_neurons, owned, &s->V_len)) return c->err->status;
        s->V = *owned;
        return EIR_OK;
    }
    if ((m = ju_member(v, ptr, "run_id", sub))) {
        if (ju_check_keys(v, ptr, run_keys, c->err)) return c->err->status;
        s->src = EIR_AN_STATE_RUN;
        if (job_id(c, m, sub, "r_", "a run", s->id)) return c->err->status;
        s->step = -1;
        if (integer(c, v, ptr, "trial", 0, c->lim->max_trials - 1, &s->trial) ||
            integer(c, v, ptr, "step", -c->lim->max_steps, c->lim->max_steps, &s->step))
            return c->err->status;
        if (s->step == 0) {
            ju_ptr_key(sub, ptr, "step");
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected a step from 1 to T (the state after that many steps) "
                                 "or a negative count from the end (-1 = the last recorded "
                                 "row), got 0 (the initial state is not recorded)");
        }
        return EIR_OK;
    }
    if (allow_analysis && (m = ju_member(v, ptr, "analysis_id", sub))) {
        if (ju_check_keys(v, ptr, an_keys, c->err)) return c->err->status;
        s->src = EIR_AN_STATE_ANALYSIS;
        if (job_id(c, m, sub, "a_", "an analysis", s->id)) return c->err->status;
        return integer(c, v, ptr, "index", 0, INT_MAX, &s->index);
    }
    if (!allow_analysis)
        return ju_missing(ptr, "run_id", "the run whose state to start from", c->err);
    return eir_error_set(c->err, EIR_EINVAL, ptr,
                         "expected %s; none of \"V\", \"run_id\" or \"analysis_id\" is there",
                         what);
}

static eir_status parse_spectrum(actx *c, const json_t *j)
{
    static const char *const ofs[] = {"W", "M", "jacobian", NULL};
    char ptr[EIR_FIELD_MAX];
    eir_an_request *r = c->r;
    r->of = 2;
    const json_t *v = ju_member(j, "", "of", ptr);
    if (v && ju_enum(v, ptr, ofs, &r->of, c->err)) return c->err->status;
    if (boolean(c, j, "", "eigenvectors", &r->eigenvectors)) return c->err->status;
    v = ju_member(j, "", "at", ptr);
    if (r->of == 2 && !v)
        return ju_missing("", "at",
                          "the state of the Jacobian: {\"V\": [N values]}, a run's state "
                          "{\"run_id\", \"trial\", \"step\"} or a fixed point "
                          "{\"analysis_id\", \"index\"}",
                          c->err);
    if (r->of != 2 && v)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "\"at\" is for the Jacobian (of = \"jacobian\"); the spectrum of "
                             "%s does not depend on a state",
                             ofs[r->of]);
    if (r->of != 2 && c->r->x)
        return eir_error_set(c->err, EIR_EINVAL, "/x",
                             "\"x\" is for the Jacobian (of = \"jacobian\"); the spectrum of %s "
                             "does not depend on the input",
                             ofs[r->of]);
    if (v && parse_state(c, v, ptr, 1, &r->at, &c->st->at_V)) return c->err->status;
    return EIR_OK;
}

static eir_status parse_random(actx *c, const json_t *v, const char *ptr)
{
    static const char *const keys[] = {"count", "seed", "scale", NULL};
    char sub[EIR_FIELD_MAX];
    int64_t count = 100;
    if (ju_expect_object(v, ptr, "an object {\"count\", \"seed\", \"scale\"}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err) ||
        integer(c, v, ptr, "count", 0, EIR_AN_MAX_RANDOM_STARTS, &count))
        return c->err->status;
    c->r->random_count = (int)count;
    const json_t *m = ju_member(v, ptr, "seed", sub);
    if (m && ju_seed(m, sub, &c->r->random_seed, c->err)) return c->err->status;
    return positive(c, v, ptr, "scale", &c->r->random_scale);
}

static eir_status parse_starts(actx *c, const json_t *j)
{
    static const char *const keys[] = {"random", "runs", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX], el[EIR_FIELD_MAX];
    eir_an_request *r = c->r;
    const json_t *v = ju_member(j, "", "starts", ptr);
    if (!v) {
        r->random_count = 100;
        return EIR_OK;
    }
    if (ju_expect_object(v, ptr, "an object {\"random\": {...}, \"runs\": [...]}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return c->err->status;
    const json_t *m = ju_member(v, ptr, "random", sub);
    if (m && parse_random(c, m, sub)) return c->err->status;
    if ((m = ju_member(v, ptr, "runs", sub))) {
        char got[JU_DESC_MAX];
        if (!json_is_array(m)) {
            ju_describe(m, got);
            return eir_error_set(c->err, EIR_EINVAL, sub, "expected an array of run states, got %s",
                                 got);
        }
        size_t n = json_array_size(m);
        if (n > EIR_AN_MAX_RUN_STARTS)
            return eir_error_set(c->err, EIR_EINVAL, sub, "expected at most %d run states, got %zu",
                                 EIR_AN_MAX_RUN_STARTS, n);
        if (n) {
            c->st->run_starts = calloc(n, sizeof *c->st->run_starts);
            if (!c->st->run_starts) return ju_enomem(c->err, sub);
        }
        r->run_starts = c->st->run_starts;
        for (size_t i = 0; i < n; i++) {
            ju_ptr_idx(el, sub, i);
            if (parse_state(c, json_array_get(m, i), el, 0, &r->run_starts[i], NULL))
                return c->err->status;
            r->n_run_starts++;
        }
    }
    if (r->random_count + r->n_run_starts < 1)
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected at least one start: random.count >= 1 or a run state "
                             "in runs");
    return EIR_OK;
}

static eir_status parse_fixed(actx *c, const json_t *j)
{
    eir_an_request *r = c->r;
    int64_t it = r->max_iter;
    if (parse_starts(c, j) || integer(c, j, "", "max_iter", 1, AN_MAX_ITER, &it) ||
        positive(c, j, "", "tol", &r->tol) || positive(c, j, "", "dedupe_tol", &r->dedupe_tol) ||
        boolean(c, j, "", "slow_points", &r->slow_points) ||
        positive(c, j, "", "slow_tol", &r->slow_tol))
        return c->err->status;
    r->max_iter = (int)it;
    return EIR_OK;
}

static eir_status parse_lyap(actx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX];
    eir_an_request *r = c->r;
    int64_t k = 1, reo = 1, tp = -1;
    if (integer(c, j, "", "k", 1, c->lim->max_neurons, &k) || positive(c, j, "", "dt", &r->dt) ||
        integer(c, j, "", "steps", 1, c->lim->max_steps, &r->steps) ||
        integer(c, j, "", "transient", 0, c->lim->max_steps, &r->transient) ||
        integer(c, j, "", "reortho_every", 1, r->steps, &reo))
        return c->err->status;
    r->k = (int)k;
    r->reortho_every = (int)reo;
    int64_t rows = r->steps / reo;
    if (rows > EIR_AN_MAX_TRACE_POINTS) rows = EIR_AN_MAX_TRACE_POINTS;
    if (integer(c, j, "", "trace_points", 1, rows, &tp)) return c->err->status;
    r->trace_points = (int)(tp > 0 ? tp : (rows < 100 ? rows : 100));
    const json_t *v = ju_member(j, "", "seed", ptr);
    if (v && ju_seed(v, ptr, &r->seed, c->err)) return c->err->status;
    if ((v = ju_member(j, "", "V0", ptr))) {
        if (read_vector(c, v, ptr, c->lim->max_neurons, &c->st->V0, &r->V0_len))
            return c->err->status;
        r->V0 = c->st->V0;
    }
    return EIR_OK;
}

static eir_status parse_activity(actx *c, const json_t *j)
{
    static const char *const vars[] = {"V", "r", NULL}; /* indices are EIR_VAR_V, EIR_VAR_R */
    static const char *const win_keys[] = {"from", "to", NULL};
    char ptr[EIR_FIELD_MAX];
    eir_an_request *r = c->r;
    const json_t *v = ju_member(j, "", "run_id", ptr);
    char id[32];
    if (!v)
        return ju_missing("", "run_id", "the finished run whose recorded activity to analyse",
                          c->err);
    if (job_id(c, v, ptr, "r_", "a run", id)) return c->err->status;
    r->run_id = json_string_value(v);
    if ((v = ju_member(j, "", "var", ptr)) && ju_enum(v, ptr, vars, &r->var, c->err))
        return c->err->status;
    if ((v = ju_member(j, "", "window", ptr))) {
        if (ju_expect_object(v, ptr, "an object {\"from\", \"to\"} of recorded rows", c->err) ||
            ju_check_keys(v, ptr, win_keys, c->err) ||
            integer(c, v, ptr, "from", 0, c->lim->max_steps - 1, &r->window_from) ||
            integer(c, v, ptr, "to", 1, c->lim->max_steps, &r->window_to))
            return c->err->status;
        if (r->window_to >= 0 && r->window_to <= r->window_from) {
            char sub[EIR_FIELD_MAX];
            ju_ptr_key(sub, ptr, "to");
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected a window end after its start (rows [from, to)), got "
                                 "from = %lld, to = %lld",
                                 (long long)r->window_from, (long long)r->window_to);
        }
    }
    if ((v = ju_member(j, "", "balance", ptr))) {
        if (ju_bool(v, ptr, &r->balance, c->err)) return c->err->status;
        r->balance_given = 1;
    }
    return EIR_OK;
}

/* "kind", the model reference, priority, time_limit, threads and x. */
static eir_status parse_common(actx *c, const json_t *j)
{
    char ptr[EIR_FIELD_MAX], num[40];
    eir_an_request *r = c->r;
    int kind;
    const json_t *v = ju_member(j, "", "kind", ptr);
    if (!v)
        return ju_missing("", "kind",
                          "the analysis: \"spectrum\", \"fixed_points\", \"lyapunov\" or "
                          "\"activity\"",
                          c->err);
    if (ju_enum(v, ptr, kind_names, &kind, c->err)) return c->err->status;
    r->kind = (eir_an_kind)kind;
    if (r->kind == EIR_AN_ACTIVITY && !json_object_get(j, "model_id") &&
        !json_object_get(j, "model")) {
        /* activity's model is its run's */
    } else {
        const char *id = NULL;
        const json_t *inl = NULL;
        if (eir_json_run_model_ref(j, &id, &inl, c->err)) return c->err->status;
        r->model_id = id;
        r->model = inl;
    }
    int64_t prio = 0, threads = 0;
    if (integer(c, j, "", "priority", -1000, 1000, &prio) ||
        integer(c, j, "", "threads", 1, AN_MAX_THREADS, &threads))
        return c->err->status;
    r->priority = prio;
    r->threads = (int)threads;
    /* "labels" changes nothing computed: checked, then ignored */
    if (eir_json_check_labels(ju_member(j, "", "labels", ptr), ptr, c->err)) return c->err->status;
    if ((v = ju_member(j, "", "time_limit", ptr))) {
        if (ju_number(v, ptr, &r->time_limit, c->err)) return c->err->status;
        if (!(r->time_limit > 0)) {
            ju_fmt_num(num, sizeof num, r->time_limit);
            return eir_error_set(c->err, EIR_EINVAL, ptr,
                                 "expected a wall-clock limit > 0 in seconds, got %s", num);
        }
    }
    if ((v = ju_member(j, "", "x", ptr))) {
        if (r->kind == EIR_AN_ACTIVITY)
            return eir_error_set(c->err, EIR_EINVAL, ptr,
                                 "an activity analysis takes no input \"x\": it reads what its "
                                 "run recorded");
        if (read_vector(c, v, ptr, c->lim->max_inputs, &c->st->x, &r->x_len)) return c->err->status;
        r->x = c->st->x;
    }
    return EIR_OK;
}

static void defaults(eir_an_request *r)
{
    memset(r, 0, sizeof *r);
    r->of = 2;
    r->random_seed = 1;
    r->random_scale = 1.0;
    r->max_iter = 100;
    r->tol = 1e-10;
    r->dedupe_tol = 1e-6;
    r->slow_tol = 1e-4;
    r->k = 1;
    r->dt = 0.01;
    r->steps = 10000;
    r->transient = 1000;
    r->reortho_every = 1;
    r->trace_points = 100;
    r->var = EIR_VAR_R;
    r->window_to = -1;
    r->balance = 1;
}

eir_status eir_json_parse_analysis(const json_t *j, const eir_json_limits *lim,
                                   eir_an_request **out, eir_error *err)
{
    eir_json_limits dl;
    if (!lim) {
        eir_json_limits_default(&dl);
        lim = &dl;
    }
    eir_error local;
    if (!err) err = &local; /* the status of a failure is read back from it */
    *out = NULL;
    if (ju_expect_object(j, "", "an analysis object", err) ||
        ju_check_depth(j, "", lim->max_depth, err))
        return EIR_EINVAL;
    eir_an_request *r = malloc(sizeof *r);
    an_store *st = calloc(1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        return ju_enomem(err, NULL);
    }
    defaults(r);
    r->storage = st;
    actx c = {.lim = lim, .r = r, .st = st, .err = err};
    eir_status s = parse_common(&c, j);
    if (s == EIR_OK) {
        static const char *const *const keys[] = {spectrum_keys, fixed_keys, lyap_keys,
                                                  activity_keys};
        s = ju_check_keys(j, "", keys[r->kind], err);
    }
    if (s == EIR_OK) {
        switch (r->kind) {
        case EIR_AN_SPECTRUM:
            s = parse_spectrum(&c, j);
            break;
        case EIR_AN_FIXED_POINTS:
            s = parse_fixed(&c, j);
            break;
        case EIR_AN_LYAPUNOV:
            s = parse_lyap(&c, j);
            break;
        case EIR_AN_ACTIVITY:
            s = parse_activity(&c, j);
            break;
        }
    }
    if (s != EIR_OK) {
        eir_an_request_free(r);
        return s;
    }
    *out = r;
    return EIR_OK;
}

void eir_an_request_free(eir_an_request *r)
{
    if (!r) return;
    an_store *st = r->storage;
    if (st) {
        free(st->x);
        free(st->V0);
        free(st->at_V);
        free(st->run_starts);
        free(st);
    }
    free(r);
}
