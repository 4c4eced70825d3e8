/**
 * @file json_run_metrics.c
 * @brief A run's "metrics" request (FORMAT.md "Metrics") -> eir_run_spec.metrics: statistics
 *        windows (var, from, to, name) and the optional settle check.
 */
#include "json_run.h"

#include <stdio.h>
#include <string.h>

/** Longest window name (characters of [A-Za-z0-9_]). */
#define WINDOW_NAME_MAX 63

static int name_ok(const char *s, size_t n)
{
    if (n < 1 || n > WINDOW_NAME_MAX || strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* "name" of window @p k (default "<var>_<from>_<to>"), unique among the windows before it. */
static eir_status window_name(rctx *c, const json_t *w, const char *ptr, int k)
{
    char sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    char *name = c->spec->metric_names[k];
    const eir_stat_window *win = &c->st->windows[k];
    const json_t *v = ju_member(w, ptr, "name", sub);
    if (v) {
        if (!json_is_string(v) || !name_ok(json_string_value(v), json_string_length(v))) {
            ju_describe(v, got);
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected a name of 1 to %d characters from A-Z a-z 0-9 _, got "
                                 "%s",
                                 WINDOW_NAME_MAX, got);
        }
        snprintf(name, sizeof c->spec->metric_names[k], "%s", json_string_value(v));
    } else {
        snprintf(sub, sizeof sub, "%s", ptr);
        snprintf(name, sizeof c->spec->metric_names[k], "%s_%lld_%lld", eir_var_name(win->var),
                 (long long)win->from, (long long)win->to);
    }
    for (int i = 0; i < k; i++)
        if (strcmp(c->spec->metric_names[i], name) == 0)
            return eir_error_set(c->err, EIR_EINVAL, sub,
                                 "expected a unique window name, got \"%s\" again (window %d%s)",
                                 name, i, v ? "" : "; give each a \"name\"");
    return EIR_OK;
}

static eir_status parse_window(rctx *c, const json_t *w, const char *ptr, int k)
{
    static const char *const keys[] = {"name", "var", "from", "to", NULL};
    static const char *const vars[] = {"V", "r", "z", NULL};
    char sub[EIR_FIELD_MAX];
    int64_t T = c->spec->desc.T;
    int var;
    eir_stat_window *win = &c->st->windows[k];
    if (ju_expect_object(w, ptr,
                         "a window {\"var\": \"r\", \"from\": step, \"to\": step, \"name\": ...}",
                         c->err) ||
        ju_check_keys(w, ptr, keys, c->err))
        return EIR_EINVAL;
    const json_t *m = ju_member(w, ptr, "var", sub);
    if (!m) return ju_missing(ptr, "var", "the variable: V, r or z", c->err);
    if (ju_enum(m, sub, vars, &var, c->err)) return EIR_EINVAL;
    win->var = (eir_var)var;
    if (!(m = ju_member(w, ptr, "from", sub)))
        return ju_missing(ptr, "from", "the window's first step (0-based)", c->err);
    if (ju_int(m, sub, 0, INT64_MAX, &win->from, c->err)) return EIR_EINVAL;
    if (win->from >= T)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "from (%lld) is not before steps (%lld): the window would be empty",
                             (long long)win->from, (long long)T);
    if (!(m = ju_member(w, ptr, "to", sub)))
        return ju_missing(ptr, "to", "the step after the window's last", c->err);
    if (ju_int(m, sub, 0, INT64_MAX, &win->to, c->err)) return EIR_EINVAL;
    if (win->to > T)
        return eir_error_set(c->err, EIR_EINVAL, sub, "to (%lld) is past steps (%lld)",
                             (long long)win->to, (long long)T);
    if (win->to <= win->from)
        return eir_error_set(c->err, EIR_EINVAL, sub,
                             "expected to > from (%lld), got %lld: the window would be empty",
                             (long long)win->from, (long long)win->to);
    return window_name(c, w, ptr, k);
}

static eir_status parse_windows(rctx *c, const json_t *v, const char *ptr)
{
    char sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n < 1 || n > EIR_STATS_MAX_WINDOWS) {
        ju_describe(v, got);
        if (json_is_array(v)) snprintf(got, sizeof got, "a list of %zu", n);
        return eir_error_set(c->err, EIR_EINVAL, ptr,
                             "expected a list of 1 to %d windows {\"var\", \"from\", \"to\"}, "
                             "got %s",
                             EIR_STATS_MAX_WINDOWS, got);
    }
    for (size_t k = 0; k < n; k++) {
        ju_ptr_idx(sub, ptr, k);
        if (parse_window(c, json_array_get(v, k), sub, (int)k)) return EIR_EINVAL;
    }
    c->spec->metrics.n_windows = (int)n;
    return EIR_OK;
}

static eir_status parse_settle(rctx *c, const json_t *v, const char *ptr)
{
    static const char *const keys[] = {"steps", "tol", NULL};
    char sub[EIR_FIELD_MAX], num[40];
    if (ju_expect_object(v, ptr, "an object {\"steps\": k, \"tol\": x}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "steps", sub);
    if (!m) return ju_missing(ptr, "steps", "the last steps checked for |dV/dt| <= tol", c->err);
    if (ju_int(m, sub, 1, c->spec->desc.T, &c->spec->metrics.settle_steps, c->err))
        return EIR_EINVAL;
    if (!(m = ju_member(v, ptr, "tol", sub)))
        return ju_missing(ptr, "tol", "the largest |dV/dt| of a settled run (> 0)", c->err);
    if (ju_number(m, sub, &c->spec->settle_tol, c->err)) return EIR_EINVAL;
    if (c->spec->settle_tol > 0) return EIR_OK;
    ju_fmt_num(num, sizeof num, c->spec->settle_tol);
    return eir_error_set(c->err, EIR_EINVAL, sub, "expected a tolerance > 0, got %s", num);
}

eir_status jr_parse_metrics(rctx *c, const json_t *run)
{
    static const char *const keys[] = {"windows", "settle", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX];
    const json_t *v = ju_member(run, "", "metrics", ptr);
    if (!v) return EIR_OK;
    if (ju_expect_object(v, ptr, "an object {\"windows\": [...], \"settle\": {...}}", c->err) ||
        ju_check_keys(v, ptr, keys, c->err))
        return EIR_EINVAL;
    const json_t *m = ju_member(v, ptr, "windows", sub);
    if (!m)
        return ju_missing(ptr, "windows", "a list of {\"var\", \"from\", \"to\"} windows", c->err);
    if (parse_windows(c, m, sub)) return EIR_EINVAL;
    if ((m = ju_member(v, ptr, "settle", sub)) && parse_settle(c, m, sub)) return EIR_EINVAL;
    eir_run_spec *s = c->spec;
    s->metrics.windows = c->st->windows;
    s->has_metrics = 1;
    s->desc.stats_req = &s->metrics;
    return EIR_OK;
}
