/**
 * @file analysis_spectrum.c
 * @brief The spectrum kind: eigenvalues (and eigenvectors when asked) of W, of the gate matrix
 *        M (K for a conductance-form model), or of the Jacobian at a state (docs/ANALYSIS.md).
 *        Progress counts three stages: the matrix, the eigenproblem, the outputs.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"

static const char *const of_names[] = {"W", "M", "jacobian"};

/* The matrix asked for into a (N x N): W, M (or K), or the Jacobian at the state. The state and
 * input used go to V and x (jacobian only). */
static eir_status the_matrix(an_job *j, double *a, double *V, double *x)
{
    int64_t shape[2];
    const eir_an_request *r = j->req;
    if (r->of == 2) {
        eir_status es = an_job_state(j, &r->at, V, x);
        if (es != EIR_OK) return es;
        return eir_linearize(j->m, V, j->n_in ? x : NULL, a, j->err);
    }
    eir_matrix k = r->of == 0 ? EIR_MAT_W : EIR_MAT_M;
    if (k == EIR_MAT_M && !eir_model_matrix_shape(j->m, k, shape)) k = EIR_MAT_K;
    if (!eir_model_matrix_shape(j->m, k, shape))
        return eir_error_set(j->err, EIR_EINVAL, "/of",
                             "the model has no gate matrix M (class %s): ask for \"W\" or "
                             "\"jacobian\"",
                             eir_class_name(eir_model_class(j->m)));
    return eir_model_matrix_rows(j->m, k, 0, j->n, a, j->err);
}

/* The leak G_b's smallest and largest values (the Jacobian's diagonal shift without input). */
static void leak_range(const eir_model *m, int n, double *lo, double *hi, eir_error *err)
{
    double *g = malloc((size_t)n * sizeof *g);
    *lo = *hi = 0;
    if (g && eir_model_matrix_rows(m, EIR_MAT_G_B, 0, 1, g, err) == EIR_OK) {
        *lo = *hi = g[0];
        for (int i = 1; i < n; i++) {
            if (g[i] < *lo) *lo = g[i];
            if (g[i] > *hi) *hi = g[i];
        }
    }
    free(g);
}

static json_t *summary_of(an_job *j, const double *vals)
{
    eir_eig_summary es;
    eir_eig_summarise(vals, j->n, &es);
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "of", json_string(of_names[j->req->of]));
    json_object_set_new(o, "n", json_integer(j->n));
    json_object_set_new(o, "spectral_radius", an_num(es.radius));
    json_object_set_new(o, "spectral_abscissa", an_num(es.abscissa));
    json_object_set_new(o, "n_positive_real", json_integer(es.n_positive));
    if (j->req->of == 2) {
        double lo, hi;
        eir_error e2;
        eir_error_clear(&e2);
        leak_range(j->m, j->n, &lo, &hi, &e2);
        json_object_set_new(o, "min_leak", an_num(lo));
        json_object_set_new(o, "max_leak", an_num(hi));
    }
    return o;
}

eir_status an_exec_spectrum(an_job *j, srv_analysis_outcome *out)
{
    const eir_an_request *r = j->req;
    size_t n = (size_t)j->n;
    int jac = r->of == 2;
    double *a = malloc(n * n * sizeof *a);
    double *vals = malloc(2 * n * sizeof *vals);
    double *vecs = r->eigenvectors ? malloc(2 * n * n * sizeof *vecs) : NULL;
    double *V = jac ? malloc(n * sizeof *V) : NULL;
    double *x = jac ? calloc((size_t)j->n_in + 1, sizeof *x) : NULL;
    eir_status es = EIR_OK;
    if (!a || !vals || (r->eigenvectors && !vecs) || (jac && (!V || !x)))
        es = eir_error_set(j->err, EIR_ENOMEM, "/of",
                           "out of memory for the %zu x %zu matrix and its eigenproblem", n, n);
    if (es == EIR_OK) es = an_job_progress(j, 0, 3);
    if (es == EIR_OK) es = the_matrix(j, a, V, x);
    if (es == EIR_OK) es = an_job_progress(j, 1, 3);
    if (es == EIR_OK) es = eir_eigen(a, j->n, vals, vecs, j->stop, j->err);
    if (es == EIR_OK) es = an_job_progress(j, 2, 3);
    int64_t sh1[1] = {j->n}, sh2[2] = {j->n, j->n}, shx[1] = {j->n_in};
    if (es == EIR_OK) out->summary = summary_of(j, vals);
    if (es == EIR_OK) {
        es = an_out_add(out, "eigenvalues", "complex128", 1, sh1, vals, 16 * n, j->err);
        vals = NULL;
    }
    if (es == EIR_OK && vecs) {
        es = an_out_add(out, "eigenvectors", "complex128", 2, sh2, vecs, 16 * n * n, j->err);
        vecs = NULL;
    }
    if (es == EIR_OK && jac) {
        es = an_out_add(out, "jacobian", "float64", 2, sh2, a, 8 * n * n, j->err);
        a = NULL;
        if (es == EIR_OK) {
            es = an_out_add(out, "V", "float64", 1, sh1, V, 8 * n, j->err);
            V = NULL;
        }
        if (es == EIR_OK && j->n_in > 0) {
            es = an_out_add(out, "x", "float64", 1, shx, x, 8 * (size_t)j->n_in, j->err);
            x = NULL;
        }
    }
    if (es == EIR_OK) es = an_job_progress(j, 3, 3);
    free(a);
    free(vals);
    free(vecs);
    free(V);
    free(x);
    return es;
}
