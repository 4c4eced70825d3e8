/**
 * @file analysis_check.c
 * @brief srv_analysis_check(): an analysis request validated in full on the HTTP thread, as far
 *        as metadata tells (analysis.h): the fields (eir_json_parse_analysis()), the model's
 *        shape, vector lengths against N and n_in, and the runs and analyses it refers to.
 *        Cheap: linear in the request, no model build, no array read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

/* Progress units of the kinds without a natural count (stages). */
#define SPECTRUM_STAGES 3
#define ACTIVITY_STAGES 3

/* A vector's length against the model's: EIR_EINVAL at ptr. */
static eir_status check_len(const char *ptr, int64_t len, int want, const char *what,
                            eir_error *err)
{
    if (len == want) return EIR_OK;
    if (want == 0)
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "the model has no inputs (n_inputs = 0): give no %s", what);
    return eir_error_set(err, EIR_EINVAL, ptr, "expected %d values (%s), got %lld", want, what,
                         (long long)len);
}

/* A run state (at, or a start) of the request's model, recording V for all cells. */
static eir_status check_run_state(store_conn *c, const an_model_info *mi, const eir_an_state *s,
                                  store_status *st, eir_error *err)
{
    an_run run;
    char f[EIR_FIELD_MAX];
    an_ptr(f, s->ptr, "run_id");
    eir_status es = an_run_load(c, s->id, s->ptr, &run, st, err);
    if (es == EIR_OK) es = an_same_model(mi, NULL, run.row.model_id, run.hash, "the run", f, err);
    int64_t row, step;
    if (es == EIR_OK) es = an_run_state_row(&run, s, EIR_VAR_V, &row, &step, err);
    an_run_clear(&run);
    return es;
}

/* "at": a given V, a run's state or a fixed point of another analysis. */
static eir_status check_state(store_conn *c, const an_model_info *mi, const eir_an_state *s,
                              const eir_an_request *r, store_status *st, eir_error *err)
{
    char f[EIR_FIELD_MAX];
    switch (s->src) {
    case EIR_AN_STATE_V:
        an_ptr(f, s->ptr, "V");
        return check_len(f, s->V_len, mi->shape.n, "one per cell, N", err);
    case EIR_AN_STATE_RUN:
        return check_run_state(c, mi, s, st, err);
    case EIR_AN_STATE_ANALYSIS: {
        an_points p;
        eir_status es = an_points_load(c, s, &p, st, err);
        an_ptr(f, s->ptr, "analysis_id");
        if (es == EIR_OK)
            es = an_same_model(mi, NULL, p.row.model_id, p.hash, "the analysis", f, err);
        if (es == EIR_OK && p.n != mi->shape.n)
            es = eir_error_set(err, EIR_EINVAL, f, "analysis %s has points of %lld cells, not %d",
                               s->id, (long long)p.n, mi->shape.n);
        if (es == EIR_OK && !r->x && p.n_in != mi->shape.n_in)
            es = eir_error_set(err, EIR_EINVAL, "/x",
                               "analysis %s has no input x of %d values to take; give \"x\"", s->id,
                               mi->shape.n_in);
        an_points_clear(&p);
        return es;
    }
    case EIR_AN_STATE_NONE:
    default:
        return EIR_OK;
    }
}

static eir_status check_spectrum(store_conn *c, const an_model_info *mi, const eir_an_request *r,
                                 store_status *st, eir_error *err)
{
    if (r->of == 1 && mi->shape.cls != EIR_CLASS_GATED)
        return eir_error_set(err, EIR_EINVAL, "/of",
                             "the model (class %s) has no gate matrix M: ask for \"W\" or "
                             "\"jacobian\"",
                             eir_class_name(mi->shape.cls));
    return check_state(c, mi, &r->at, r, st, err);
}

static eir_status check_fixed(store_conn *c, const an_model_info *mi, const eir_an_request *r,
                              store_status *st, eir_error *err)
{
    for (int i = 0; i < r->n_run_starts; i++) {
        eir_status es = check_run_state(c, mi, &r->run_starts[i], st, err);
        if (es != EIR_OK) return es;
    }
    return EIR_OK;
}

static eir_status check_lyapunov(const an_model_info *mi, const eir_an_request *r, eir_error *err)
{
    if (r->k > mi->shape.n)
        return eir_error_set(err, EIR_EINVAL, "/k",
                             "expected at most N = %d exponents (the model's cells), got %d",
                             mi->shape.n, r->k);
    if (r->V0) return check_len("/V0", r->V0_len, mi->shape.n, "one per cell, N", err);
    return EIR_OK;
}

/* activity: the run, its variable, the window and the memory reading it takes. */
static eir_status check_activity(srv *s, store_conn *c, const eir_an_request *r,
                                 srv_analysis_plan *plan, store_status *st, eir_error *err)
{
    an_run run;
    eir_status es = an_run_load(c, r->run_id, "", &run, st, err);
    if (es != EIR_OK) {
        an_run_clear(&run);
        return es;
    }
    snprintf(plan->model_id, sizeof plan->model_id, "%s", run.row.model_id);
    const char *vn = eir_var_name((eir_var)r->var);
    int64_t rows = run.rows[r->var];
    int r_all = run.rows[EIR_VAR_R] >= 0 && run.all_cells && run.units[EIR_VAR_R] == run.n;
    if (r->model_id && strcmp(r->model_id, run.row.model_id) != 0)
        es = eir_error_set(err, EIR_EINVAL, "/model_id",
                           "run %s is of model %s, not %s: an activity analysis takes its "
                           "run's model (leave model_id out)",
                           r->run_id, run.row.model_id[0] ? run.row.model_id : "(inline)",
                           r->model_id);
    else if (rows < 0)
        es = eir_error_set(err, EIR_EINVAL, "/var",
                           "run %s did not record %s (record.vars); ask for the variable it "
                           "recorded, or run it again recording %s",
                           r->run_id, vn, vn);
    else if (r->window_from >= rows)
        es = eir_error_set(err, EIR_EINVAL, "/window/from",
                           "run %s kept %lld recorded rows (0 .. %lld); the window cannot start "
                           "at row %lld",
                           r->run_id, (long long)rows, (long long)rows - 1,
                           (long long)r->window_from);
    else if (r->window_to > rows)
        es = eir_error_set(err, EIR_EINVAL, "/window/to",
                           "run %s kept %lld recorded rows; the window must end at row %lld or "
                           "before, not %lld",
                           r->run_id, (long long)rows, (long long)rows, (long long)r->window_to);
    else if (r->balance_given && r->balance && r->var != EIR_VAR_R)
        es = eir_error_set(err, EIR_EINVAL, "/balance",
                           "the E/I balance index is computed from the rates r: ask for var "
                           "\"r\", or set \"balance\": false");
    else if (r->balance_given && r->balance && !r_all)
        es = eir_error_set(err, EIR_EINVAL, "/balance",
                           "the E/I balance index needs the rates r of all %d cells, and run %s "
                           "recorded %s; set \"balance\": false, or run it again recording r of "
                           "every cell",
                           run.n, r->run_id,
                           run.rows[EIR_VAR_R] < 0 ? "no r" : "r of a subset of them");
    else if (r->balance_given && r->balance && !run.row.model_id[0])
        es = eir_error_set(err, EIR_EINVAL, "/balance",
                           "run %s holds its model inline, which is not kept: the E/I balance "
                           "index needs the model; set \"balance\": false",
                           r->run_id);
    if (es == EIR_OK) {
        int64_t to = r->window_to < 0 ? rows : r->window_to;
        int balance =
            r->balance_given ? r->balance : r_all && r->var == EIR_VAR_R && run.row.model_id[0];
        double values = (double)run.B * (double)(to - r->window_from) * (double)run.units[r->var];
        double units = (double)run.units[r->var];
        /* the window as doubles, the covariance and its eigensolver (n x n each), W for the
         * balance index */
        double bytes = values * 8.0 + 16.0 * units * units + (balance ? 8.0 * run.n * run.n : 0);
        uint64_t bound = s->cfg.max_run_memory;
        if (bound > 0 && bytes > (double)bound)
            es = eir_error_set(
                err, EIR_EINVAL, "/window",
                "analysing %.0f recorded values (trials x rows x units) takes "
                "about %.0f MiB, more than this daemon's bound of %.0f MiB for one "
                "job (--max-run-memory-bytes); choose a shorter window (and \"balance\": "
                "false for a large network)",
                values, bytes / 1048576.0, (double)bound / 1048576.0);
    }
    an_run_clear(&run);
    return es;
}

/* The N x N matrices a kind holds at once against the daemon's bound of one job's memory. */
static eir_status check_memory(srv *s, const an_model_info *mi, const eir_an_request *r,
                               eir_error *err)
{
    double n2 = (double)mi->shape.n * (double)mi->shape.n, bytes;
    const char *field = "/model_id";
    switch (r->kind) {
    case EIR_AN_SPECTRUM: /* the matrix, dgeev's copy and workspace; vectors: real and complex */
        bytes = 24.0 * n2 + (r->eigenvectors ? 24.0 * n2 : 0);
        field = r->eigenvectors ? "/eigenvectors" : "/of";
        break;
    case EIR_AN_FIXED_POINTS: /* Jacobian, LU, eigenproblem; points x N complex eigenvalues */
        bytes = 32.0 * n2 + 40.0 * mi->shape.n * ((double)r->random_count + r->n_run_starts);
        field = "/starts";
        break;
    default: /* lyapunov: the Jacobian and k tangent vectors */
        bytes = 16.0 * n2 + 16.0 * mi->shape.n * r->k;
        field = "/k";
        break;
    }
    uint64_t bound = s->cfg.max_run_memory;
    if (bound == 0 || bytes <= (double)bound) return EIR_OK;
    return eir_error_set(err, EIR_EINVAL, field,
                         "this analysis of a model of N = %d cells takes about %.0f MiB, more than "
                         "this daemon's bound of %.0f MiB for one job (--max-run-memory-bytes)",
                         mi->shape.n, bytes / 1048576.0, (double)bound / 1048576.0);
}

eir_status srv_analysis_check(srv *s, store_conn *c, const json_t *req, srv_analysis_plan *plan,
                              store_status *st, eir_error *err)
{
    memset(plan, 0, sizeof *plan);
    *st = STORE_OK;
    eir_an_request *r = NULL;
    eir_status es = eir_json_parse_analysis(req, &s->limits, &r, err);
    if (es != EIR_OK) return es;
    snprintf(plan->kind, sizeof plan->kind, "%s", eir_an_kind_name(r->kind));
    if (r->kind == EIR_AN_ACTIVITY) {
        if (r->model)
            es = eir_error_set(err, EIR_EINVAL, "/model",
                               "an activity analysis takes its run's model: give no model");
        if (es == EIR_OK) es = check_activity(s, c, r, plan, st, err);
        plan->progress_total = ACTIVITY_STAGES;
        eir_an_request_free(r);
        return es;
    }
    an_model_info mi;
    es = an_model_info_get(s, c, r, &mi, st, err);
    if (es == EIR_OK) snprintf(plan->model_id, sizeof plan->model_id, "%s", mi.id);
    if (es == EIR_OK && r->x)
        es = check_len("/x", r->x_len, mi.shape.n_in, "one per input channel, n_inputs", err);
    if (es == EIR_OK) es = check_memory(s, &mi, r, err);
    if (es == EIR_OK) {
        switch (r->kind) {
        case EIR_AN_SPECTRUM:
            es = check_spectrum(c, &mi, r, st, err);
            plan->progress_total = SPECTRUM_STAGES;
            break;
        case EIR_AN_FIXED_POINTS:
            es = check_fixed(c, &mi, r, st, err);
            plan->progress_total = (int64_t)r->random_count + r->n_run_starts;
            break;
        case EIR_AN_LYAPUNOV:
            es = check_lyapunov(&mi, r, err);
            plan->progress_total = r->transient + r->steps;
            break;
        case EIR_AN_ACTIVITY:
            break;
        }
    }
    eir_an_request_free(r);
    return es;
}
