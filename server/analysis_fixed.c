/**
 * @file analysis_fixed.c
 * @brief The fixed_points kind: Newton's method with a line search from seeded random states
 *        and from states of runs (eir_fixed_points()), deduplicated, each point with its
 *        Jacobian eigenvalues; slow points when asked (docs/ANALYSIS.md). Progress counts
 *        starts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

/** Points listed in the summary (all of them are in the arrays). */
#define SUMMARY_POINTS 100

static json_t *summary_of(const eir_fp_result *res)
{
    json_t *o = json_object(), *pts = json_array();
    if (!o || !pts) {
        json_decref(o);
        json_decref(pts);
        return NULL;
    }
    int slow = 0, stable = 0;
    for (int k = 0; k < res->count; k++) {
        slow += res->slow[k] != 0;
        stable += !res->slow[k] && res->stable[k];
        if (k >= SUMMARY_POINTS) continue;
        double mx = 0;
        for (int i = 0; i < res->n; i++)
            mx = fmax(mx, fabs(res->V[(size_t)k * res->n + i]));
        json_array_append_new(pts, json_pack("{s:i, s:b, s:i, s:o, s:b, s:i, s:o}", "index", k,
                                             "stable", res->stable[k] != 0, "n_unstable",
                                             res->n_unstable[k], "residual",
                                             an_num(res->residual[k]), "slow", res->slow[k] != 0,
                                             "hits", res->hits[k], "max_abs_V", an_num(mx)));
    }
    json_object_set_new(o, "count", json_integer(res->count));
    json_object_set_new(o, "fixed_points", json_integer(res->count - slow));
    json_object_set_new(o, "slow_points", json_integer(slow));
    json_object_set_new(o, "stable", json_integer(stable));
    json_object_set_new(o, "starts", json_integer(res->starts));
    json_object_set_new(o, "converged", json_integer(res->converged));
    json_object_set_new(o, "failed", json_integer(res->failed));
    json_object_set_new(o, "points", pts);
    return o;
}

/* Move the arrays of res into out (res keeps nothing of them). */
static eir_status keep(an_job *j, eir_fp_result *res, srv_analysis_outcome *out)
{
    size_t K = (size_t)res->count, n = (size_t)res->n;
    int64_t kn[2] = {(int64_t)K, (int64_t)n}, k1[1] = {(int64_t)K};
    struct {
        const char *name, *dtype;
        int ndim;
        void **data;
        size_t bytes;
    } a[] = {
        {"V", "float64", 2, (void **)&res->V, 8 * K * n},
        {"r", "float64", 2, (void **)&res->r, 8 * K * n},
        {"residual", "float64", 1, (void **)&res->residual, 8 * K},
        {"q", "float64", 1, (void **)&res->q, 8 * K},
        {"eigenvalues", "complex128", 2, (void **)&res->eigvals, 16 * K * n},
        {"n_unstable", "int32", 1, (void **)&res->n_unstable, 4 * K},
        {"stable", "int32", 1, (void **)&res->stable, 4 * K},
        {"slow", "int32", 1, (void **)&res->slow, 4 * K},
        {"hits", "int32", 1, (void **)&res->hits, 4 * K},
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        void *d = *a[i].data;
        *a[i].data = NULL;
        eir_status es = an_out_add(out, a[i].name, a[i].dtype, a[i].ndim, a[i].ndim == 2 ? kn : k1,
                                   d, a[i].bytes, j->err);
        if (es != EIR_OK) return es;
    }
    return EIR_OK;
}

eir_status an_exec_fixed(an_job *j, srv_analysis_outcome *out)
{
    const eir_an_request *r = j->req;
    size_t n = (size_t)j->n;
    double *x = calloc((size_t)j->n_in + 1, sizeof *x);
    double *starts = r->n_run_starts ? malloc((size_t)r->n_run_starts * n * sizeof *starts) : NULL;
    eir_fp_result res;
    memset(&res, 0, sizeof res);
    eir_status es = EIR_OK;
    if (!x || (r->n_run_starts && !starts))
        es = eir_error_set(j->err, EIR_ENOMEM, "/starts", "out of memory for the starts");
    if (es == EIR_OK) an_job_x(j, x);
    for (int i = 0; es == EIR_OK && i < r->n_run_starts; i++)
        es = an_job_state(j, &r->run_starts[i], starts + (size_t)i * n, NULL);
    if (es == EIR_OK) {
        eir_fp_desc d;
        eir_fp_desc_init(&d);
        d.x = j->n_in ? x : NULL;
        d.starts = starts;
        d.n_starts = r->n_run_starts;
        d.n_random = r->random_count;
        d.random_scale = r->random_scale;
        d.seed = r->random_seed;
        d.max_iter = r->max_iter;
        d.tol = r->tol;
        d.dedupe_tol = r->dedupe_tol;
        d.slow_points = r->slow_points;
        d.slow_tol = r->slow_tol;
        d.progress = j->progress;
        d.progress_ctx = j->progress_ctx;
        d.stop = j->stop;
        /* the request's threads, else the daemon's per run (the same bytes whatever it is) */
        d.threads = r->threads > 0
                        ? r->threads
                        : (j->s->cfg.threads_per_run > 0 ? j->s->cfg.threads_per_run : 1);
        es = eir_fixed_points(j->m, &d, &res, j->err);
    }
    if (es == EIR_OK && !(out->summary = summary_of(&res)))
        es = eir_error_set(j->err, EIR_ENOMEM, NULL, "out of memory writing the summary");
    if (es == EIR_OK) es = keep(j, &res, out);
    if (es == EIR_OK && j->n_in > 0) { /* the input, for a spectrum "at" one of the points */
        int64_t sh[1] = {j->n_in};
        es = an_out_add(out, "x", "float64", 1, sh, x, 8 * (size_t)j->n_in, j->err);
        x = NULL;
    }
    eir_fp_result_free(&res);
    free(x);
    free(starts);
    return es;
}
