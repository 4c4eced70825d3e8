/**
 * @file json_metrics.c
 * @brief eir_json_metrics(): a run's statistics (eir_stats) as the "metrics" object of its
 *        metadata (FORMAT.md "Metrics"). NaN (no sample) is written as null.
 */
#include "eir_json.h"

#include <math.h>

/* Builder that remembers whether any allocation failed, so callers check once. */
typedef struct mb {
    int failed;
} mb;

static json_t *chk(mb *b, json_t *v)
{
    if (!v) b->failed = 1;
    return v;
}

static json_t *num(mb *b, double x)
{
    return chk(b, isfinite(x) ? json_real(x) : json_null());
}

static void put(mb *b, json_t *o, const char *key, json_t *v)
{
    if (!o || !v || json_object_set_new(o, key, v) != 0) {
        b->failed = 1;
        if (!o) json_decref(v);
    }
}

static void append(mb *b, json_t *a, json_t *v)
{
    if (!a || !v || json_array_append_new(a, v) != 0) {
        b->failed = 1;
        if (!a) json_decref(v);
    }
}

/* {"E": x[0], "I": x[1]} */
static json_t *pops(mb *b, const double x[2])
{
    json_t *o = chk(b, json_object());
    put(b, o, "E", num(b, x[0]));
    put(b, o, "I", num(b, x[1]));
    return o;
}

/* {"E": [x[b][0] for each trial b], "I": [x[b][1] ...]}, x laid out [trial][p]. */
static json_t *pops_trials(mb *b, const double *x, int B)
{
    json_t *o = chk(b, json_object());
    for (int p = 0; p < 2; p++) {
        json_t *a = chk(b, json_array());
        for (int t = 0; t < B; t++)
            append(b, a, num(b, x[(size_t)t * 2 + (size_t)p]));
        put(b, o, p == 0 ? "E" : "I", a);
    }
    return o;
}

static json_t *window(mb *b, const eir_run_spec *spec, const eir_stats *st, int w)
{
    const eir_stat_window *win = &spec->metrics.windows[w];
    size_t per = (size_t)st->B * 2;
    json_t *o = chk(b, json_object());
    put(b, o, "var", chk(b, json_string(eir_var_name(win->var))));
    put(b, o, "from", chk(b, json_integer((json_int_t)win->from)));
    put(b, o, "to", chk(b, json_integer((json_int_t)win->to)));
    put(b, o, "mean", pops(b, &st->mean_all[(size_t)w * 2]));
    put(b, o, "std", pops(b, &st->std_all[(size_t)w * 2]));
    json_t *tr = chk(b, json_object());
    put(b, tr, "mean", pops_trials(b, &st->mean[(size_t)w * per], st->B));
    put(b, tr, "std", pops_trials(b, &st->std[(size_t)w * per], st->B));
    put(b, o, "trials", tr);
    return o;
}

static json_t *final_state(mb *b, const eir_stats *st)
{
    json_t *o = chk(b, json_object());
    put(b, o, "V", pops(b, st->final_V_all));
    put(b, o, "r", pops(b, st->final_r_all));
    json_t *tr = chk(b, json_object());
    put(b, tr, "V", pops_trials(b, st->final_V, st->B));
    put(b, tr, "r", pops_trials(b, st->final_r, st->B));
    put(b, o, "trials", tr);
    return o;
}

/* A run settled when its largest |dV/dt| is known and at most tol (NaN: not settled). */
static int settled(double max_dvdt, double tol)
{
    return isfinite(max_dvdt) && max_dvdt <= tol;
}

static json_t *settle(mb *b, const eir_run_spec *spec, const eir_stats *st)
{
    json_t *o = chk(b, json_object());
    put(b, o, "steps", chk(b, json_integer((json_int_t)spec->metrics.settle_steps)));
    put(b, o, "tol", num(b, spec->settle_tol));
    put(b, o, "max_dVdt", num(b, st->max_dvdt_all));
    put(b, o, "settled", chk(b, json_boolean(settled(st->max_dvdt_all, spec->settle_tol))));
    json_t *tr = chk(b, json_object()), *m = chk(b, json_array()), *s = chk(b, json_array());
    for (int t = 0; t < st->B; t++) {
        append(b, m, num(b, st->max_dvdt[t]));
        append(b, s, chk(b, json_boolean(settled(st->max_dvdt[t], spec->settle_tol))));
    }
    put(b, tr, "max_dVdt", m);
    put(b, tr, "settled", s);
    put(b, o, "trials", tr);
    return o;
}

json_t *eir_json_metrics(const eir_run_spec *spec, const eir_stats *st, const eir_run_result *res,
                         double dt)
{
    (void)dt; /* every field is in steps or per unit of time already */
    if (!spec || !st || !res) return NULL;
    mb b = {0};
    json_t *o = chk(&b, json_object());
    json_t *ws = chk(&b, json_object());
    for (int w = 0; w < st->n_windows && w < spec->metrics.n_windows; w++)
        put(&b, ws, spec->metric_names[w], window(&b, spec, st, w));
    put(&b, o, "windows", ws);
    put(&b, o, "final", final_state(&b, st));
    put(&b, o, "max_z_dt", num(&b, res->max_z_dt));
    put(&b, o, "diverged", chk(&b, json_boolean(res->diverged)));
    put(&b, o, "diverged_step",
        res->diverged && res->diverged_step >= 0
            ? chk(&b, json_integer((json_int_t)res->diverged_step))
            : chk(&b, json_null()));
    if (spec->metrics.settle_steps > 0) put(&b, o, "settle", settle(&b, spec, st));
    if (b.failed) {
        json_decref(o);
        return NULL;
    }
    return o;
}
