/**
 * @file analysis_lyap.c
 * @brief The lyapunov kind: the k largest Lyapunov exponents along a trajectory by QR
 *        re-orthonormalisation (eir_lyapunov(), docs/ANALYSIS.md), with the convergence trace.
 *        Progress counts steps (transient + steps).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

static json_t *summary_of(const eir_lyap_result *res)
{
    json_t *o = json_object(), *ex = json_array();
    if (!o || !ex) {
        json_decref(o);
        json_decref(ex);
        return NULL;
    }
    double sum = 0;
    for (int i = 0; i < res->k; i++) {
        json_array_append_new(ex, an_num(res->exponents[i]));
        sum += res->exponents[i];
    }
    json_object_set_new(o, "k", json_integer(res->k));
    json_object_set_new(o, "exponents", ex);
    json_object_set_new(o, "max_exponent", an_num(res->k > 0 ? res->exponents[0] : 0.0));
    json_object_set_new(o, "sum", an_num(sum));
    json_object_set_new(o, "mean_trace_J", an_num(res->mean_trace_J));
    json_object_set_new(o, "diverged", json_boolean(res->diverged));
    return o;
}

eir_status an_exec_lyapunov(an_job *j, srv_analysis_outcome *out)
{
    const eir_an_request *r = j->req;
    double *x = calloc((size_t)j->n_in + 1, sizeof *x);
    eir_lyap_result res;
    memset(&res, 0, sizeof res);
    if (!x) return eir_error_set(j->err, EIR_ENOMEM, NULL, "out of memory");
    an_job_x(j, x);
    eir_lyap_desc d;
    eir_lyap_desc_init(&d);
    d.k = r->k;
    d.dt = r->dt;
    d.steps = r->steps;
    d.transient = r->transient;
    d.reortho_every = r->reortho_every;
    d.x = j->n_in ? x : NULL;
    d.V0 = r->V0;
    d.seed = r->seed;
    d.trace_points = r->trace_points;
    d.progress = j->progress;
    d.progress_ctx = j->progress_ctx;
    d.stop = j->stop;
    eir_status es = eir_lyapunov(j->m, &d, &res, j->err);
    free(x);
    if (es == EIR_OK && !(out->summary = summary_of(&res)))
        es = eir_error_set(j->err, EIR_ENOMEM, NULL, "out of memory writing the summary");
    if (es == EIR_OK) {
        int64_t sk[1] = {res.k}, st[2] = {res.trace_rows, res.k}, sr[1] = {res.trace_rows};
        es = an_out_add(out, "exponents", "float64", 1, sk, res.exponents, 8 * (size_t)res.k,
                        j->err);
        res.exponents = NULL;
        if (es == EIR_OK) {
            es = an_out_add(out, "trace", "float64", 2, st, res.trace,
                            8 * (size_t)res.trace_rows * (size_t)res.k, j->err);
            res.trace = NULL;
        }
        if (es == EIR_OK) {
            es = an_out_add(out, "trace_time", "float64", 1, sr, res.trace_time,
                            8 * (size_t)res.trace_rows, j->err);
            res.trace_time = NULL;
        }
    }
    eir_lyap_result_free(&res);
    return es;
}
