/**
 * @file analysis_activity.c
 * @brief The activity kind: statistics of a finished run's recorded r (or V) over a window of
 *        rows (eir_activity(), docs/ANALYSIS.md): per-population mean and variance, PCA and
 *        participation ratio, mean pairwise correlation, and the E/I balance index per cell.
 *        Progress counts three stages: reading, computing, the outputs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

/* Read rows [t0, t1) of every trial of run @p id's variable @p var (B x rows x units) into
 * @p out (B x (t1 - t0) x units doubles). */
static eir_status read_window(an_job *j, const an_run *run, const char *var, int64_t rows,
                              int64_t units, int64_t t0, int64_t t1, double *out)
{
    store_result_info info;
    const char *id = run->row.id;
    store_status s = store_result_info_get(j->c, id, var, &info);
    size_t item = s == STORE_OK && strcmp(info.dtype, "float32") == 0 ? 4 : 8;
    size_t per = (size_t)(t1 - t0) * (size_t)units;
    float *f = s == STORE_OK && item == 4 ? malloc(per * 4) : NULL;
    if (s == STORE_OK && item == 4 && !f)
        return eir_error_set(j->err, EIR_ENOMEM, "/window", "out of memory reading %s", var);
    for (int b = 0; s == STORE_OK && b < run->B; b++) {
        double *dst = out + (size_t)b * per;
        uint64_t off = ((uint64_t)b * (uint64_t)rows + (uint64_t)t0) * (uint64_t)units * item;
        s = store_result_read(j->c, id, var, off, item == 4 ? (void *)f : (void *)dst, per * item);
        for (size_t i = 0; s == STORE_OK && item == 4 && i < per; i++)
            dst[i] = f[i];
    }
    free(f);
    if (s == STORE_NOT_FOUND)
        return eir_error_set(j->err, EIR_EINVAL, "/run_id", "run %s has no result %s (deleted?)",
                             id, var);
    if (s != STORE_OK) {
        *j->st = s;
        return eir_error_set(j->err, EIR_ENOMEM, NULL, "the store failed reading %s of %s: %s", var,
                             id, store_errmsg(j->c));
    }
    return EIR_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean and median of the finite values of v[0 .. n-1] (NaN when none). */
static void mean_median(const double *v, int n, double *mean, double *median)
{
    double *c = malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    int m = 0;
    double sum = 0;
    for (int i = 0; c && i < n; i++)
        if (isfinite(v[i])) {
            c[m++] = v[i];
            sum += v[i];
        }
    *mean = *median = NAN;
    if (c && m > 0) {
        qsort(c, (size_t)m, sizeof *c, cmp_double);
        *mean = sum / m;
        *median = m % 2 ? c[m / 2] : 0.5 * (c[m / 2 - 1] + c[m / 2]);
    }
    free(c);
}

/* Recorded units that are excitatory cells. */
static int e_units(const int *cells, int n_units, int n_e)
{
    if (!cells) return n_units < n_e ? n_units : n_e;
    int k = 0;
    for (int i = 0; i < n_units; i++)
        k += cells[i] < n_e;
    return k;
}

static json_t *summary_of(const an_job *j, const eir_activity_result *res, int n_units, int e_cells,
                          int64_t t0, int64_t t1)
{
    json_t *o = json_object(), *pops = json_object();
    if (!o || !pops) {
        json_decref(o);
        json_decref(pops);
        return NULL;
    }
    json_object_set_new(o, "var", json_string(eir_var_name((eir_var)j->req->var)));
    json_object_set_new(o, "window",
                        json_pack("{s:I, s:I}", "from", (json_int_t)t0, "to", (json_int_t)t1));
    json_object_set_new(pops, "E",
                        json_pack("{s:o, s:o, s:i}", "mean", an_num(res->mean[0]), "var",
                                  an_num(res->var[0]), "cells", e_cells));
    json_object_set_new(pops, "I",
                        json_pack("{s:o, s:o, s:i}", "mean", an_num(res->mean[1]), "var",
                                  an_num(res->var[1]), "cells", n_units - e_cells));
    json_object_set_new(o, "populations", pops);
    json_object_set_new(o, "participation_ratio", an_num(res->participation));
    json_object_set_new(o, "mean_correlation", an_num(res->mean_corr));
    json_object_set_new(o, "correlated_units", json_integer(res->corr_units));
    if (res->balance) {
        double mean, median;
        mean_median(res->balance, j->n, &mean, &median);
        json_object_set_new(
            o, "balance", json_pack("{s:o, s:o}", "mean", an_num(mean), "median", an_num(median)));
    } else {
        json_object_set_new(o, "balance", json_null());
    }
    return o;
}

static eir_status keep(an_job *j, eir_activity_result *res, srv_analysis_outcome *out)
{
    int64_t nu[1] = {res->n}, nn[1] = {j->n};
    struct {
        const char *name;
        double **data;
        int64_t *shape;
    } a[] = {{"unit_mean", &res->unit_mean, nu},  {"unit_var", &res->unit_var, nu},
             {"pca_variance", &res->pca_var, nu}, {"pca_ratio", &res->pca_ratio, nu},
             {"balance", &res->balance, nn},      {"drive_e", &res->drive_e, nn},
             {"drive_i", &res->drive_i, nn}};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        double *d = *a[i].data;
        if (!d) continue;
        *a[i].data = NULL;
        eir_status es = an_out_add(out, a[i].name, "float64", 1, a[i].shape, d,
                                   8 * (size_t)a[i].shape[0], j->err);
        if (es != EIR_OK) return es;
    }
    return EIR_OK;
}

eir_status an_exec_activity(an_job *j, srv_analysis_outcome *out)
{
    const eir_an_request *r = j->req;
    an_run run;
    eir_activity_result res;
    memset(&res, 0, sizeof res);
    double *data = NULL;
    eir_status es = an_run_load(j->c, r->run_id, "", &run, j->st, j->err);
    int64_t rows = run.rows[r->var], units = run.units[r->var];
    int r_all = run.rows[EIR_VAR_R] >= 0 && run.all_cells && run.units[EIR_VAR_R] == run.n;
    /* left out, the index is computed when it can be: r of every cell, a stored model */
    int balance =
        r->balance_given ? r->balance : (r_all && r->var == EIR_VAR_R && run.row.model_id[0]);
    int64_t t0 = r->window_from, t1 = r->window_to < 0 ? rows : r->window_to;
    if (es == EIR_OK && (rows < 0 || t0 >= rows || t1 > rows))
        es = eir_error_set(j->err, EIR_EINVAL, rows < 0 ? "/var" : "/window",
                           "run %s recorded %lld rows of %s; the window [%lld, %lld) is not in "
                           "them",
                           r->run_id, (long long)rows, eir_var_name((eir_var)r->var), (long long)t0,
                           (long long)t1);
    eir_run_spec *spec = NULL; /* for the recorded cells (record.neurons) */
    if (es == EIR_OK) es = an_run_spec(j->c, &j->s->limits, &run, "", &spec, j->st, j->err);
    const int *cells = es == EIR_OK ? spec->desc.neurons : NULL;
    int in_order = 1;
    for (int i = 0; cells && i < spec->desc.n_neurons; i++)
        in_order &= cells[i] == i;
    if (in_order) cells = NULL;
    if (es == EIR_OK && balance && cells)
        es = eir_error_set(j->err, EIR_EINVAL, "/balance",
                           "run %s recorded the cells in another order (record.neurons); the "
                           "E/I balance index needs r of every cell in index order",
                           r->run_id);
    if (es == EIR_OK && balance && (r->var != EIR_VAR_R || !r_all))
        es = eir_error_set(j->err, EIR_EINVAL, "/balance",
                           "the E/I balance index is computed from the rates r of all cells: "
                           "ask for var \"r\" of a run recording them, or set \"balance\": false");
    if (es == EIR_OK) es = an_job_progress(j, 0, 3);
    if (es == EIR_OK && balance) es = an_job_model(j);
    if (es == EIR_OK && balance)
        es = an_same_model(&j->mi, j->hash, run.row.model_id, run.hash, "the run", "/run_id",
                           j->err);
    size_t count = (size_t)run.B * (size_t)(t1 - t0) * (size_t)(units > 0 ? units : 1);
    if (es == EIR_OK && !(data = malloc(count * sizeof *data)))
        es = eir_error_set(j->err, EIR_ENOMEM, "/window", "out of memory for %zu values", count);
    if (es == EIR_OK)
        es = read_window(j, &run, eir_var_name((eir_var)r->var), rows, units, t0, t1, data);
    if (es == EIR_OK) es = an_job_progress(j, 1, 3);
    if (es == EIR_OK) {
        eir_activity_desc d;
        memset(&d, 0, sizeof d);
        d.data = data;
        d.B = run.B;
        d.T = t1 - t0;
        d.n = (int)units;
        d.n_e = run.n_e;
        d.units = cells;
        d.t0 = 0;
        d.t1 = t1 - t0;
        d.model = balance ? j->m : NULL;
        d.stop = j->stop;
        es = eir_activity(&d, &res, j->err);
    }
    if (es == EIR_OK) es = an_job_progress(j, 2, 3);
    if (es == EIR_OK && !(out->summary = summary_of(j, &res, (int)units,
                                                    e_units(cells, (int)units, run.n_e), t0, t1)))
        es = eir_error_set(j->err, EIR_ENOMEM, NULL, "out of memory writing the summary");
    if (es == EIR_OK) es = keep(j, &res, out);
    if (es == EIR_OK) es = an_job_progress(j, 3, 3);
    eir_activity_result_free(&res);
    eir_run_spec_free(spec);
    free(data);
    an_run_clear(&run);
    return es;
}
