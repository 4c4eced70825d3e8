/**
 * @file model_sparse.c
 * @brief Compressed-row storage of a model's recurrent matrices, and the dense-equivalent rows
 *        of W and M for either storage (MODEL.md "Sparse storage").
 *
 * A sparse model keeps, per nonzero entry of its product matrix, the column (int), the value
 * the products use (W, or K in conductance form) and, for a full-matrix A, the gate value
 * M = A |W| computed in the same pass. Everything that reads W or M as a whole (the hash, the
 * linearisation, eir_model_W_dense(), eir_model_M()) goes through eir_model_dense_row(), so a
 * sparse model is indistinguishable from its dense equivalent there.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "eir.h"
#include "model_internal.h"
#include "stop.h"

/** Arrays from this size on are aligned to and advised for transparent huge pages. */
#define BIG_ARRAY_BYTES ((size_t)4 << 20)
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

void *eir_alloc_big(size_t bytes)
{
    if (bytes < BIG_ARRAY_BYTES) return malloc(bytes ? bytes : 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE_BYTES, bytes)) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* streamed once per step: huge pages spare the TLB misses (about 15 % of a sparse step
     * where transparent huge pages are "madvise"); failure only loses that */
    (void)madvise(p, (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES,
                  MADV_HUGEPAGE);
#endif
    return p;
}

/**
 * Entry k = (i, j) of the product matrix of validated @p d for @p m's gate: K (SPLIT in
 * conductance form), W = K E_type(j) (NONE in conductance form) or W; 0 for an entry that
 * breaks Dale's law when @p drop_dale. Computed exactly as the dense build does (model.c).
 */
static inline double product_value(const eir_model *m, const eir_model_desc *d, int drop_dale,
                                   size_t k, int j)
{
    if (d->form == EIR_FORM_CONDUCTANCE) {
        const double kv = d->K[k];
        if (m->gate == EIR_GATE_SPLIT) return kv;
        return kv * (j < d->n_e ? d->e_rev_e : d->e_rev_i);
    }
    const double w = d->W[k];
    if (drop_dale && (j < d->n_e ? w < 0 : w > 0)) return 0.0;
    return w;
}

/** Panels of @p count columns from @p c0 appended to pc at *q. */
static void add_panels(int *pc, int *q, int c0, int count)
{
    for (int c = 0; c < count; c += EIR_SPARSE_PANEL)
        pc[(*q)++] = c0 + c;
}

/**
 * Count the nonzero entries of every (panel, row) and turn the counts into the offsets rp
 * (panel-major, see eir_model); returns the total, or 0 with *@p stopped set when d->stop was
 * requested.
 */
static size_t count_entries(const eir_model *m, const eir_model_desc *d, int drop_dale,
                            int *stopped)
{
    const int n = m->n;
    const size_t stride = (size_t)n + 1;
    for (int q = 0; q < m->n_panels; q++)
        for (int i = 0; i < n; i++) {
            if (i % EIR_STOP_ROWS == 0 && eir_stop_now(d->stop)) {
                *stopped = 1;
                return 0;
            }
            size_t c = 0;
            const size_t row = (size_t)i * n;
            for (int j = m->pc[q]; j < m->pc[q + 1]; j++)
                c += product_value(m, d, drop_dale, row + j, j) != 0;
            m->rp[q * stride + i + 1] = c;
        }
    size_t run = 0;
    for (int q = 0; q < m->n_panels; q++) {
        m->rp[q * stride] = run;
        for (int i = 0; i < n; i++) {
            run += m->rp[q * stride + i + 1];
            m->rp[q * stride + i + 1] = run;
        }
    }
    return run;
}

/** Lay out the panels of @p m (n_panels, n_panel_e, pc, rp allocated); -1 when out of memory. */
static int make_panels(eir_model *m)
{
    const int n = m->n, ne = m->n_e, ni = n - ne;
    const int pe = (ne + EIR_SPARSE_PANEL - 1) / EIR_SPARSE_PANEL;
    const int pi = (ni + EIR_SPARSE_PANEL - 1) / EIR_SPARSE_PANEL;
    m->n_panels = pe + pi;
    m->n_panel_e = pe;
    m->pc = malloc(((size_t)m->n_panels + 1) * sizeof *m->pc);
    m->rp = eir_alloc_big((size_t)m->n_panels * ((size_t)n + 1) * sizeof *m->rp);
    if (!m->pc || !m->rp) return -1;
    int q = 0;
    add_panels(m->pc, &q, 0, ne);
    add_panels(m->pc, &q, ne, ni);
    m->pc[q] = n;
    return 0;
}

int eir_model_build_sparse(eir_model *m, const eir_model_desc *d)
{
    const int n = m->n;
    if (d->storage == EIR_STORAGE_DENSE ||
        (d->storage != EIR_STORAGE_SPARSE && n < EIR_SPARSE_MIN_N))
        return 0;
    const int drop_dale = d->form == EIR_FORM_REDUCED && d->cls != EIR_CLASS_RNN;
    const int fused = m->gate == EIR_GATE_FUSED;
    if (make_panels(m)) {
        eir_model_free_sparse(m);
        return -1;
    }
    int stopped = 0;
    const size_t nnz = count_entries(m, d, drop_dale, &stopped);
    if (stopped) {
        eir_model_free_sparse(m);
        return EIR_SPARSE_STOPPED;
    }
    if (d->storage != EIR_STORAGE_SPARSE &&
        (double)nnz > EIR_SPARSE_MAX_DENSITY * (double)n * (double)n) {
        eir_model_free_sparse(m);
        return 0;
    }
    m->nnz = nnz;
    m->ci = eir_alloc_big(nnz * sizeof *m->ci);
    m->sv = eir_alloc_big(nnz * (fused ? 2 : 1) * sizeof *m->sv);
    if (!m->ci || !m->sv) {
        eir_model_free_sparse(m);
        return -1;
    }
    m->mv = fused ? m->sv + nnz : NULL;
    m->sparse = 1;
    /* one pass over the structure: column, product value and (full A) gate value together */
    const size_t stride = (size_t)n + 1;
    for (int q = 0; q < m->n_panels; q++)
        for (int i = 0; i < n; i++) {
            if (i % EIR_STOP_ROWS == 0 && eir_stop_now(d->stop)) {
                eir_model_free_sparse(m);
                return EIR_SPARSE_STOPPED;
            }
            size_t k = m->rp[q * stride + i];
            const size_t row = (size_t)i * n;
            for (int j = m->pc[q]; j < m->pc[q + 1]; j++) {
                const double v = product_value(m, d, drop_dale, row + j, j);
                if (v == 0) continue;
                m->ci[k] = j;
                m->sv[k] = v;
                if (fused) m->mv[k] = d->A[row + j] * fabs(v);
                k++;
            }
        }
    return 1;
}

void eir_model_free_sparse(eir_model *m)
{
    free(m->pc);
    free(m->rp);
    free(m->ci);
    free(m->sv);
    m->pc = NULL;
    m->rp = NULL;
    m->ci = NULL;
    m->sv = m->mv = NULL;
    m->sparse = 0;
    m->nnz = 0;
    m->n_panels = m->n_panel_e = 0;
}

/** Dense-equivalent row @p i of W (@p which 0) or M (1) of a dense model. */
static void dense_row_of_dense(const eir_model *m, int which, int i, double *row)
{
    const int n = m->n;
    const size_t off = (size_t)i * n;
    if (which == 0) {
        memcpy(row, m->W + off, (size_t)n * sizeof *row);
        return;
    }
    switch (m->gate) {
    case EIR_GATE_NONE:
        memset(row, 0, (size_t)n * sizeof *row);
        break;
    case EIR_GATE_FUSED:
        memcpy(row, m->WM + (size_t)m->n_pad * n + off, (size_t)n * sizeof *row);
        break;
    case EIR_GATE_SPLIT:
        for (int j = 0; j < n; j++) {
            double s = m->S[off + j];
            /* gE*S >= 0 for E columns; gI*S >= 0 for I columns (both forms) */
            row[j] = j < m->n_e ? m->gE[i] * s : m->gI[i] * s;
        }
        break;
    }
}

void eir_model_dense_row(const eir_model *m, int which, int i, double *row)
{
    if (!m->sparse) {
        dense_row_of_dense(m, which, i, row);
        return;
    }
    memset(row, 0, (size_t)m->n * sizeof *row);
    if (which == 1 && m->gate == EIR_GATE_NONE) return;
    const int k_is_s = m->gate == EIR_GATE_SPLIT && m->form == EIR_FORM_CONDUCTANCE;
    const size_t stride = (size_t)m->n + 1;
    for (int q = 0; q < m->n_panels; q++)
        for (size_t k = m->rp[q * stride + i]; k < m->rp[q * stride + i + 1]; k++) {
            const int j = m->ci[k];
            const double s = m->sv[k];
            if (which == 0)
                row[j] = k_is_s ? s * (j < m->n_e ? m->e_rev_e : m->e_rev_i) : s;
            else if (m->gate == EIR_GATE_FUSED)
                row[j] = m->mv[k];
            else
                row[j] = j < m->n_e ? m->gE[i] * s : m->gI[i] * s;
        }
}
