/**
 * @file json_training_curve.c
 * @brief A training's curve rows as JSON and CSV, and its final evaluation as JSON
 *        (FORMAT.md "Trainings").
 */
#include "json_training.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eir_curve_row_from_train(const eir_train_row *in, eir_curve_row *out)
{
    out->iteration = in->iteration;
    out->loss = in->loss.total;
    out->task_loss = in->loss.task;
    out->l2_weights = in->loss.l2_weights;
    out->l2_rates = in->loss.l2_rates;
    out->grad_norm = in->grad_norm;
    out->accuracy = in->accuracy;
    out->eval_accuracy = NAN;
}

/* The row's doubles in EIR_CURVE_COLUMNS order (after "iteration"). */
static void row_values(const eir_curve_row *r, double v[7])
{
    v[0] = r->loss;
    v[1] = r->task_loss;
    v[2] = r->l2_weights;
    v[3] = r->l2_rates;
    v[4] = r->grad_norm;
    v[5] = r->accuracy;
    v[6] = r->eval_accuracy;
}

static const char *const value_names[7] = {"loss",      "task_loss", "l2_weights",   "l2_rates",
                                           "grad_norm", "accuracy",  "eval_accuracy"};

/* obj[key] = v (reference taken over); returns nonzero on failure. */
static int set(json_t *obj, const char *key, json_t *v)
{
    return !v || json_object_set_new(obj, key, v) != 0;
}

static json_t *finite_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *eir_json_curve_row(const eir_curve_row *r)
{
    double v[7];
    json_t *o = json_object();
    if (!o) return NULL;
    row_values(r, v);
    int bad = set(o, "iteration", json_integer(r->iteration));
    for (int i = 0; i < 7 && !bad; i++)
        bad = set(o, value_names[i], finite_or_null(v[i]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

const char *eir_csv_curve_header(void)
{
    return EIR_CURVE_COLUMNS "\n";
}

size_t eir_csv_curve_row(const eir_curve_row *r, char *buf, size_t cap)
{
    double v[7];
    char num[40];
    row_values(r, v);
    if (cap == 0) return 0;
    int n = snprintf(buf, cap, "%lld", (long long)r->iteration);
    for (int i = 0; i < 7 && n >= 0 && (size_t)n < cap; i++) {
        num[0] = '\0';
        if (isfinite(v[i])) ju_fmt_num(num, sizeof num, v[i]);
        n += snprintf(buf + n, cap - (size_t)n, ",%s", num);
    }
    if (n >= 0 && (size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, "\n");
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

static json_t *loss_json(const eir_loss_parts *l)
{
    json_t *o = json_object();
    if (!o) return NULL;
    if (set(o, "total", finite_or_null(l->total)) || set(o, "task", finite_or_null(l->task)) ||
        set(o, "l2_weights", finite_or_null(l->l2_weights)) ||
        set(o, "l2_rates", finite_or_null(l->l2_rates))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *psychometric_json(const eir_task_eval *e)
{
    json_t *a = json_array();
    for (int i = 0; a && i < e->n_psy; i++) {
        const eir_psy_point *p = &e->psy[i];
        json_t *o = json_object();
        if (!o || set(o, "coherence", finite_or_null(p->coherence)) ||
            set(o, "n", json_integer(p->n)) || set(o, "p_choice2", finite_or_null(p->p_choice2))) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
        if (json_array_append_new(a, o) != 0) { /* o was dropped by jansson */
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *eir_json_task_eval(const eir_task_eval *e)
{
    json_t *o = json_object();
    if (!o) return NULL;
    if (set(o, "trials", json_integer(e->score.trials)) ||
        set(o, "correct", json_integer(e->score.correct)) ||
        set(o, "accuracy", finite_or_null(e->score.accuracy)) ||
        set(o, "ideal", finite_or_null(e->ideal)) || set(o, "loss", loss_json(&e->loss)) ||
        set(o, "psychometric", psychometric_json(e))) {
        json_decref(o);
        return NULL;
    }
    return o;
}
