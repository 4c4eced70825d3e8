/**
 * @file model_matrix.c
 * @brief The matrices of a built model by name, shape and row blocks (eir_analysis.h), for
 *        GET /v1/models/{id}/matrices and `eirnn model export`.
 *
 * Numerics: none; values are copied as the engine integrates with them. W and M rows come from
 * eir_model_dense_row() (dense, sparse compressed rows, every shape of A: a row costs N plus its
 * nonzeros), K of the conductance form is M (K = M there), G_b and bias are the model's
 * expanded N-vectors, P, M_in, W_out and b_out the stored arrays (their padding rows are never
 * read). Failure: EIR_EINVAL for a matrix the model does not have or rows out of range.
 */
#include <string.h>

#include "eir_analysis.h"
#include "model_internal.h"

static const char *const matrix_names[EIR_NMATRICES] = {"W",   "M",    "K",     "P",    "M_in",
                                                        "G_b", "bias", "W_out", "b_out"};

const char *eir_matrix_name(eir_matrix k)
{
    return (unsigned)k < EIR_NMATRICES ? matrix_names[k] : "unknown";
}

int eir_matrix_parse(const char *name)
{
    if (!name) return -1;
    for (int k = 0; k < EIR_NMATRICES; k++)
        if (strcmp(name, matrix_names[k]) == 0) return k;
    return -1;
}

int eir_model_matrix_shape(const eir_model *m, eir_matrix k, int64_t shape[2])
{
    const int n = m->n;
    const int gated = m->gate != EIR_GATE_NONE;
    switch (k) {
    case EIR_MAT_W:
        shape[0] = shape[1] = n;
        return 2;
    case EIR_MAT_M:
        if (!gated || m->form != EIR_FORM_REDUCED) return 0;
        shape[0] = shape[1] = n;
        return 2;
    case EIR_MAT_K:
        /* K is kept only as the gate of a gated conductance-form model (rnn and dale keep
         * W = K E_type(j) alone, which loses K where E_I = 0) */
        if (!gated || m->form != EIR_FORM_CONDUCTANCE) return 0;
        shape[0] = shape[1] = n;
        return 2;
    case EIR_MAT_P:
        if (m->n_in <= 0) return 0;
        shape[0] = n, shape[1] = m->n_in;
        return 2;
    case EIR_MAT_M_IN:
        if (m->n_in <= 0 || !m->M_in) return 0;
        shape[0] = n, shape[1] = m->n_in;
        return 2;
    case EIR_MAT_G_B:
    case EIR_MAT_BIAS:
        shape[0] = n;
        return 1;
    case EIR_MAT_W_OUT:
        if (m->n_out <= 0) return 0;
        shape[0] = m->n_out, shape[1] = m->n_read;
        return 2;
    case EIR_MAT_B_OUT:
        if (m->n_out <= 0) return 0;
        shape[0] = m->n_out;
        return 1;
    }
    return 0;
}

eir_status eir_model_matrix_rows(const eir_model *m, eir_matrix k, int64_t row0, int64_t nrows,
                                 double *out, eir_error *err)
{
    int64_t shape[2];
    const int ndim = eir_model_matrix_shape(m, k, shape);
    if (ndim == 0)
        return eir_error_set(err, EIR_EINVAL, NULL, "the model has no matrix '%s'",
                             eir_matrix_name(k));
    const int64_t rows = ndim == 1 ? 1 : shape[0];
    const int64_t cols = ndim == 1 ? shape[0] : shape[1];
    if (row0 < 0 || nrows < 0 || row0 > rows || nrows > rows - row0)
        return eir_error_set(err, EIR_EINVAL, NULL,
                             "rows [%lld, %lld) of '%s' are out of range: it has %lld row%s",
                             (long long)row0, (long long)(row0 + nrows), eir_matrix_name(k),
                             (long long)rows, rows == 1 ? "" : "s");
    const size_t width = (size_t)cols * sizeof *out;
    for (int64_t q = 0; q < nrows; q++) {
        const int i = (int)(row0 + q);
        double *dst = out + (size_t)q * (size_t)cols;
        switch (k) {
        case EIR_MAT_W:
            eir_model_dense_row(m, 0, i, dst);
            break;
        case EIR_MAT_M:
        case EIR_MAT_K:
            eir_model_dense_row(m, 1, i, dst);
            break;
        case EIR_MAT_P:
            memcpy(dst, m->P + (size_t)i * m->n_in, width);
            break;
        case EIR_MAT_M_IN:
            memcpy(dst, m->M_in + (size_t)i * m->n_in, width);
            break;
        case EIR_MAT_G_B:
            memcpy(dst, m->leak, width);
            break;
        case EIR_MAT_BIAS:
            memcpy(dst, m->bias, width);
            break;
        case EIR_MAT_W_OUT:
            memcpy(dst, m->W_out + (size_t)i * m->n_read, width);
            break;
        case EIR_MAT_B_OUT:
            memcpy(dst, m->b_out, width);
            break;
        }
    }
    return EIR_OK;
}
