/**
 * @file model.c
 * @brief Validation of a model description and construction of the integrators' view of it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"
#include "model_internal.h"
#include "stop.h"

/** How many violating (i, j) a Dale error names. */
#define DALE_EXAMPLES 5

void eir_model_desc_init(eir_model_desc *d)
{
    memset(d, 0, sizeof *d);
    d->cls = EIR_CLASS_GATED;
    d->act.kind = EIR_ACT_RELU;
    d->act.k = 1.0;
    d->act.n = 2.0;
    d->act.r_max = INFINITY;
    d->form = EIR_FORM_REDUCED;
    d->a_kind = EIR_A_SCALAR;
    d->dale = EIR_DALE_REJECT;
    d->readout_from = EIR_READOUT_ALL;
}

const char *eir_act_name(eir_act_kind k)
{
    static const char *const names[] = {"relu",  "tanh_rect", "sigmoid", "softplus",
                                        "power", "linear",    "tanh"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

const char *eir_class_name(eir_class c)
{
    static const char *const names[] = {"rnn", "dale", "gated"};
    return (unsigned)c < 3 ? names[c] : "unknown";
}

int eir_act_nonnegative(eir_act_kind k)
{
    return k != EIR_ACT_LINEAR && k != EIR_ACT_TANH;
}

/**
 * Check that @p n values of @p a are finite (and >= @p lo when @p check_lo). Names the element
 * as "<field>/<i>" (vectors, @p cols == 0) or "<field>/<i>/<j>" (matrices with @p cols
 * columns); a single broadcast value is named "<field>". Returns EIR_EINVAL on failure.
 */
static eir_status check_values(const double *a, size_t n, size_t cols, int check_lo, double lo,
                               const char *field, const char *what, eir_error *err)
{
    for (size_t k = 0; k < n; k++) {
        double v = a[k];
        int bad_finite = !isfinite(v);
        if (!bad_finite && !(check_lo && v < lo)) continue;
        char f[EIR_FIELD_MAX];
        if (n == 1)
            snprintf(f, sizeof f, "%s", field);
        else if (cols == 0)
            snprintf(f, sizeof f, "%s/%zu", field, k);
        else
            snprintf(f, sizeof f, "%s/%zu/%zu", field, k / cols, k % cols);
        if (bad_finite)
            return eir_error_set(err, EIR_EINVAL, f, "%s must be finite, got %g", what, v);
        return eir_error_set(err, EIR_EINVAL, f, "%s must be >= %g, got %.17g", what, lo, v);
    }
    return EIR_OK;
}

/** Validate the activation's parameters and its compatibility with the class. */
static eir_status check_activation(const eir_model_desc *d, eir_error *err)
{
    const eir_activation *a = &d->act;
    if ((unsigned)a->kind > EIR_ACT_TANH)
        return eir_error_set(err, EIR_EINVAL, "/activation/name", "unknown activation %d",
                             (int)a->kind);
    if (a->kind == EIR_ACT_POWER) {
        if (!(isfinite(a->k) && a->k > 0))
            return eir_error_set(err, EIR_EINVAL, "/activation/k",
                                 "power activation needs a gain k > 0, got %g", a->k);
        if (!(isfinite(a->n) && a->n > 0))
            return eir_error_set(err, EIR_EINVAL, "/activation/n",
                                 "power activation needs an exponent n > 0, got %g", a->n);
    }
    if (isnan(a->r_max) || a->r_max <= 0)
        return eir_error_set(err, EIR_EINVAL, "/activation/r_max",
                             "r_max must be > 0 (omit it for no clamp), got %g", a->r_max);
    if (d->cls == EIR_CLASS_GATED && !eir_act_nonnegative(a->kind))
        return eir_error_set(err, EIR_EINVAL, "/activation",
                             "a gated model needs non-negative rates, but activation '%s' can "
                             "go negative; use relu, tanh_rect, sigmoid, softplus or power, or "
                             "class 'rnn'/'dale'",
                             eir_act_name(a->kind));
    return EIR_OK;
}

/** EIR_ECANCELLED (no field): the build's stop flag (eir_model_desc.stop) was requested. */
static eir_status build_stopped(eir_error *err)
{
    return eir_error_set(err, EIR_ECANCELLED, NULL, "the model build was stopped");
}

/** Whether entry w of column j breaks Dale's law (E columns >= 0, I columns <= 0). */
static inline int breaks_dale(double w, int j, int n_e)
{
    return j < n_e ? w < 0 : w > 0;
}

/**
 * Dale's law on W (N*N, not changed): column j must be >= 0 for j < n_e and <= 0 otherwise.
 * With @p project, violating entries are counted in *projected (the build leaves them out);
 * otherwise the first violation count and examples are reported as EIR_EINVAL on
 * "/recurrent/W". EIR_ECANCELLED when @p stop (may be NULL) was requested.
 */
static eir_status check_dale(const double *W, int n, int n_e, int project, size_t *projected,
                             const eir_stop *stop, eir_error *err)
{
    size_t count = 0;
    char examples[512] = "";
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (i % EIR_STOP_ROWS == 0 && eir_stop_now(stop)) return build_stopped(err);
        for (int j = 0; j < n; j++) {
            double w = W[(size_t)i * n + j];
            if (!breaks_dale(w, j, n_e)) continue;
            if (!project && count < DALE_EXAMPLES && used < sizeof examples) {
                used += snprintf(examples + used, sizeof examples - used, "%s(%d, %d) = %g in %s",
                                 count ? "; " : "", i, j, w,
                                 j < n_e ? "an excitatory column (must be >= 0)"
                                         : "an inhibitory column (must be <= 0)");
            }
            count++;
        }
    }
    if (project) {
        *projected = count;
        return EIR_OK;
    }
    if (count)
        return eir_error_set(err, EIR_EINVAL, "/recurrent/W",
                             "W breaks Dale's law in %zu entr%s (columns 0..%d are excitatory, "
                             "the rest inhibitory): %s%s; fix the signs, set \"dale\": "
                             "\"project\" to clip them to 0, or use class \"rnn\"",
                             count, count == 1 ? "y" : "ies", n_e - 1, examples,
                             count > DALE_EXAMPLES ? "; ..." : "");
    return EIR_OK;
}

/** Expand a broadcastable vector (len 1 or n) into a fresh array of n values. */
static double *expand(const double *src, int len, int n, double fill)
{
    double *out = malloc((size_t)n * sizeof *out);
    if (!out) return NULL;
    for (int i = 0; i < n; i++)
        out[i] = src ? (len == 1 ? src[0] : src[i]) : fill;
    return out;
}

/**
 * An array of @p cap doubles (eir_alloc_big(): huge pages when large) whose values from
 * @p from on are 0 (the caller writes the first @p from), or NULL.
 */
static double *big_zero_tail(size_t cap, size_t from)
{
    double *out = eir_alloc_big((cap ? cap : 1) * sizeof *out);
    if (out && cap > from) memset(out + from, 0, (cap - from) * sizeof *out);
    return out;
}

/** Copy @p n values of @p src into a zeroed array of @p cap >= n values. */
static double *dup_padded(const double *src, size_t n, size_t cap)
{
    double *out = big_zero_tail(cap, n);
    if (out && n) memcpy(out, src, n * sizeof *out);
    return out;
}

void eir_model_free(eir_model *m)
{
    if (!m) return;
    eir_model_free_sparse(m);
    if (m->S != m->W) free(m->S);
    free(m->W);
    free(m->cE);
    free(m->cI);
    free(m->gE);
    free(m->gI);
    free(m->WM);
    free(m->leak);
    free(m->bias);
    free(m->P);
    free(m->M_in);
    free(m->W_out);
    free(m->b_out);
    free(m);
}

/** Sizes, class, leak and noise of @p d (the fields every other check relies on). */
static eir_status check_sizes_leak_noise(const eir_model_desc *d, eir_error *err)
{
    if (d->n_e < 0)
        return eir_error_set(err, EIR_EINVAL, "/populations/E", "E must be >= 0, got %d", d->n_e);
    if (d->n_i < 0)
        return eir_error_set(err, EIR_EINVAL, "/populations/I", "I must be >= 0, got %d", d->n_i);
    if ((long long)d->n_e + d->n_i < 1)
        return eir_error_set(err, EIR_EINVAL, "/populations",
                             "a model needs at least one cell (E + I >= 1), got E = %d, I = %d",
                             d->n_e, d->n_i);
    if ((long long)d->n_e + d->n_i > 1000000)
        return eir_error_set(err, EIR_EINVAL, "/populations", "E + I = %lld is too large",
                             (long long)d->n_e + d->n_i);
    if (d->n_in < 0)
        return eir_error_set(err, EIR_EINVAL, "/n_inputs", "n_inputs must be >= 0, got %d",
                             d->n_in);
    if ((unsigned)d->cls > EIR_CLASS_GATED)
        return eir_error_set(err, EIR_EINVAL, "/class", "unknown class %d", (int)d->cls);
    const int n = d->n_e + d->n_i;
    if (!d->leak || (d->leak_len != 1 && d->leak_len != n))
        return eir_error_set(err, EIR_EINVAL, "/leak",
                             "leak must be a scalar or a vector of N = %d values, got %d values", n,
                             d->leak ? d->leak_len : 0);
    eir_status s = check_values(d->leak, (size_t)d->leak_len, 0, 0, 0, "/leak", "leak", err);
    if (s) return s;
    for (int i = 0; i < d->leak_len; i++) {
        if (d->leak[i] <= 0) {
            char f[64];
            if (d->leak_len == 1)
                snprintf(f, sizeof f, "/leak");
            else
                snprintf(f, sizeof f, "/leak/%d", i);
            return eir_error_set(err, EIR_EINVAL, f, "leak (G_b = 1/tau_m) must be > 0, got %.17g",
                                 d->leak[i]);
        }
    }
    if (!(isfinite(d->sigma) && d->sigma >= 0))
        return eir_error_set(err, EIR_EINVAL, "/noise/sigma",
                             "noise sigma must be finite and >= 0, got %g", d->sigma);
    return EIR_OK;
}

/** The gate scale A of a gated model in reduced form (present, of its kind's size, >= 0). */
static eir_status check_gate_scale(const eir_model_desc *d, int n, eir_error *err)
{
    const size_t nn = (size_t)n * n;
    size_t alen = d->a_kind == EIR_A_SCALAR     ? 1
                  : d->a_kind == EIR_A_PER_TYPE ? 2
                  : d->a_kind == EIR_A_PER_ROW  ? 2 * (size_t)n
                  : d->a_kind == EIR_A_MATRIX   ? nn
                                                : 0;
    if (!alen)
        return eir_error_set(err, EIR_EINVAL, "/recurrent/A", "unknown A kind %d", (int)d->a_kind);
    if (!d->A)
        return eir_error_set(err, EIR_EINVAL, "/recurrent/A",
                             "a gated model in reduced form needs A >= 0 (scalar, "
                             "{\"E\", \"I\"} or N x N)");
    if (d->a_kind == EIR_A_PER_TYPE || d->a_kind == EIR_A_PER_ROW) {
        /* named as in the JSON: {"E": .., "I": ..}, each a scalar or N values */
        size_t half = alen / 2;
        eir_status s = check_values(d->A, half, 0, 1, 0.0, "/recurrent/A/E", "A_E", err);
        if (s) return s;
        return check_values(d->A + half, half, 0, 1, 0.0, "/recurrent/A/I", "A_I", err);
    }
    return check_values(d->A, alen, d->a_kind == EIR_A_MATRIX ? (size_t)n : 0, 1, 0.0,
                        "/recurrent/A", "A", err);
}

/** The recurrent connectivity: W (and A, dale) in reduced form, or K and E_rev. */
static eir_status check_recurrent(const eir_model_desc *d, int n, eir_error *err)
{
    const size_t nn = (size_t)n * n;
    eir_status s;
    if (d->form == EIR_FORM_REDUCED) {
        if (!d->W) return eir_error_set(err, EIR_EINVAL, "/recurrent/W", "W (N x N) is required");
        s = check_values(d->W, nn, (size_t)n, 0, 0, "/recurrent/W", "W", err);
        if (s) return s;
        if (d->cls == EIR_CLASS_GATED && (s = check_gate_scale(d, n, err)) != EIR_OK) return s;
        if (d->dale != EIR_DALE_REJECT && d->dale != EIR_DALE_PROJECT)
            return eir_error_set(err, EIR_EINVAL, "/recurrent/dale",
                                 "dale must be \"reject\" or \"project\"");
        return EIR_OK;
    }
    if (d->form != EIR_FORM_CONDUCTANCE)
        return eir_error_set(err, EIR_EINVAL, "/recurrent", "unknown form %d", (int)d->form);
    if (!d->K) return eir_error_set(err, EIR_EINVAL, "/recurrent/K", "K (N x N) is required");
    s = check_values(d->K, nn, (size_t)n, 1, 0.0, "/recurrent/K", "K", err);
    if (s) return s;
    if (!(isfinite(d->e_rev_e) && d->e_rev_e > 0))
        return eir_error_set(err, EIR_EINVAL, "/recurrent/E_rev/E",
                             "the excitatory reversal potential E_E (relative to rest) must "
                             "be > 0, got %g",
                             d->e_rev_e);
    if (!(isfinite(d->e_rev_i) && d->e_rev_i <= 0))
        return eir_error_set(err, EIR_EINVAL, "/recurrent/E_rev/I",
                             "the inhibitory reversal potential E_I (relative to rest) must "
                             "be <= 0, got %g",
                             d->e_rev_i);
    return EIR_OK;
}

/** The input weights P (and conductances M_in) and the bias. */
static eir_status check_input_bias(const eir_model_desc *d, int n, eir_error *err)
{
    eir_status s;
    if (d->n_in > 0) {
        if (!d->P)
            return eir_error_set(err, EIR_EINVAL, "/input/P",
                                 "P (N x n_inputs = %d x %d) is required when n_inputs > 0", n,
                                 d->n_in);
        s = check_values(d->P, (size_t)n * d->n_in, (size_t)d->n_in, 0, 0, "/input/P", "P", err);
        if (s) return s;
        if (d->M_in) {
            s = check_values(d->M_in, (size_t)n * d->n_in, (size_t)d->n_in, 1, 0.0, "/input/M_in",
                             "M_in", err);
            if (s) return s;
        }
    }
    if (d->bias) {
        if (d->bias_len != 1 && d->bias_len != n)
            return eir_error_set(err, EIR_EINVAL, "/bias",
                                 "bias must be a scalar or N = %d values, got %d", n, d->bias_len);
        s = check_values(d->bias, (size_t)d->bias_len, 0, 0, 0, "/bias", "bias", err);
        if (s) return s;
    }
    return EIR_OK;
}

/** The readout W_out, b_out and the cells it reads. */
static eir_status check_readout(const eir_model_desc *d, int n, eir_error *err)
{
    if (d->n_out < 0) return eir_error_set(err, EIR_EINVAL, "/readout/W_out", "n_out must be >= 0");
    if (d->n_out == 0) return EIR_OK;
    int n_read = d->readout_from == EIR_READOUT_E ? d->n_e : n;
    if (d->readout_from == EIR_READOUT_E && d->n_e == 0)
        return eir_error_set(err, EIR_EINVAL, "/readout/from",
                             "readout from \"E\" needs excitatory cells, but E = 0");
    if (!d->W_out) return eir_error_set(err, EIR_EINVAL, "/readout/W_out", "W_out is required");
    eir_status s = check_values(d->W_out, (size_t)d->n_out * n_read, (size_t)n_read, 0, 0,
                                "/readout/W_out", "W_out", err);
    if (s) return s;
    if (d->b_out)
        return check_values(d->b_out, (size_t)d->n_out, 0, 0, 0, "/readout/b_out", "b_out", err);
    return EIR_OK;
}

/**
 * Validate sizes and the plain per-field constraints of @p d, in the order of the document
 * (populations, leak, noise, activation, recurrent, input, bias, readout): the first problem
 * is reported, with its field.
 */
static eir_status check_desc(const eir_model_desc *d, eir_error *err)
{
    eir_status s = check_sizes_leak_noise(d, err);
    if (s) return s;
    if ((unsigned)d->storage > EIR_STORAGE_SPARSE)
        return eir_error_set(err, EIR_EINVAL, "/storage", "unknown storage %d", (int)d->storage);
    if ((s = check_activation(d, err)) != EIR_OK) return s;
    const int n = d->n_e + d->n_i;
    if ((s = check_recurrent(d, n, err)) != EIR_OK) return s;
    if ((s = check_input_bias(d, n, err)) != EIR_OK) return s;
    return check_readout(d, n, err);
}

/** How the gate of validated @p d is computed (see ::eir_gate_kind). */
static eir_gate_kind gate_kind(const eir_model_desc *d)
{
    if (d->cls != EIR_CLASS_GATED) return EIR_GATE_NONE;
    if (d->form == EIR_FORM_REDUCED && d->a_kind == EIR_A_MATRIX) return EIR_GATE_FUSED;
    return EIR_GATE_SPLIT;
}

/**
 * Build the gate representation of a gated model (m->gate SPLIT or FUSED) from validated @p d:
 * the per-row coefficients, and for a dense model S or [W; M] (a sparse model has them in its
 * compressed rows). EIR_ENOMEM on allocation failure.
 */
static eir_status build_gate(eir_model *m, const eir_model_desc *d)
{
    const int n = m->n;
    const size_t nn = (size_t)n * n;
    if (m->gate == EIR_GATE_NONE) return EIR_OK;
    if (m->gate == EIR_GATE_FUSED) {
        if (m->sparse) return EIR_OK;
        const size_t off = (size_t)m->n_pad * n;  /* M starts at row n_pad */
        m->WM = big_zero_tail(2 * off, off + nn); /* W's pad rows: m->W's zeros */
        if (!m->WM) return EIR_ENOMEM;
        memcpy(m->WM, m->W, off * sizeof *m->WM);
        for (size_t k = 0; k < nn; k++)
            m->WM[off + k] = d->A[k] * fabs(m->W[k]);
        return EIR_OK;
    }
    m->cE = malloc((size_t)n * sizeof(double));
    m->cI = malloc((size_t)n * sizeof(double));
    m->gE = malloc((size_t)n * sizeof(double));
    m->gI = malloc((size_t)n * sizeof(double));
    if (!m->cE || !m->cI || !m->gE || !m->gI) return EIR_ENOMEM;
    if (d->form == EIR_FORM_CONDUCTANCE) {
        if (!m->sparse) {
            m->S = dup_padded(d->K, nn, (size_t)m->n_pad * n);
            if (!m->S) return EIR_ENOMEM;
        }
        for (int i = 0; i < n; i++) {
            m->cE[i] = d->e_rev_e;
            m->cI[i] = d->e_rev_i;
            m->gE[i] = 1.0;
            m->gI[i] = 1.0;
        }
        return EIR_OK;
    }
    m->S = m->W;
    for (int i = 0; i < n; i++) {
        double ae, ai;
        switch (d->a_kind) {
        case EIR_A_SCALAR:
            ae = ai = d->A[0];
            break;
        case EIR_A_PER_TYPE:
            ae = d->A[0], ai = d->A[1];
            break;
        default:
            ae = d->A[i], ai = d->A[n + i];
            break;
        }
        m->cE[i] = 1.0;
        m->cI[i] = 1.0;
        m->gE[i] = ae;  /* uE >= 0 */
        m->gI[i] = -ai; /* uI <= 0, so -A_I uI = A_I |W_I| r_I >= 0 */
    }
    return EIR_OK;
}

/**
 * The dense effective W of validated @p d (reduced: W with Dale-violating entries cleared
 * under "project"; conductance: K E_type(j)), padded to n_pad rows. EIR_ENOMEM on failure.
 */
static eir_status build_dense_w(eir_model *m, const eir_model_desc *d)
{
    const int n = m->n;
    m->W = big_zero_tail((size_t)m->n_pad * n, (size_t)n * n);
    if (!m->W) return EIR_ENOMEM;
    if (d->form == EIR_FORM_REDUCED) {
        memcpy(m->W, d->W, (size_t)n * n * sizeof *m->W);
        if (d->cls != EIR_CLASS_RNN && m->projected)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (breaks_dale(m->W[(size_t)i * n + j], j, d->n_e))
                        m->W[(size_t)i * n + j] = 0.0;
        return EIR_OK;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            m->W[(size_t)i * n + j] =
                d->K[(size_t)i * n + j] * (j < d->n_e ? d->e_rev_e : d->e_rev_i);
    return EIR_OK;
}

eir_status eir_model_build(const eir_model_desc *d, eir_model **out, eir_error *err)
{
    *out = NULL;
    eir_status s = check_desc(d, err);
    if (s) return s;
    if (eir_stop_now(d->stop)) return build_stopped(err);
    eir_model *m = calloc(1, sizeof *m);
    if (!m) return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory building the model");
    const int n = d->n_e + d->n_i;
    m->n = n;
    m->n_pad = eir_pad(n);
    m->n_out_pad = eir_pad(d->n_out > 0 ? d->n_out : 0);
    m->n_e = d->n_e;
    m->n_i = d->n_i;
    m->n_in = d->n_in;
    m->cls = d->cls;
    m->form = d->form;
    m->act = d->act;
    m->sigma = d->sigma;
    m->e_rev_e = d->e_rev_e;
    m->e_rev_i = d->e_rev_i;
    m->gate = gate_kind(d);

    if (d->form == EIR_FORM_REDUCED && d->cls != EIR_CLASS_RNN) {
        s = check_dale(d->W, n, d->n_e, d->dale == EIR_DALE_PROJECT, &m->projected, d->stop, err);
        if (s) goto fail;
    }
    const int sparse = eir_model_build_sparse(m, d);
    if (sparse == EIR_SPARSE_STOPPED) goto stopped;
    if (sparse < 0) goto nomem;
    /* sparse: W, S and WM stay NULL, the products and every dense view use compressed rows */
    if (!sparse && build_dense_w(m, d)) goto nomem;
    if (eir_stop_now(d->stop)) goto stopped;
    if (build_gate(m, d)) goto nomem;
    if (eir_stop_now(d->stop)) goto stopped;
    m->leak = expand(d->leak, d->leak_len, n, 0.0);
    m->bias = expand(d->bias, d->bias_len, n, 0.0);
    if (!m->leak || !m->bias) goto nomem;
    m->has_bias = d->bias != NULL;
    if (d->n_in > 0) {
        const size_t cap = (size_t)m->n_pad * d->n_in;
        m->P = dup_padded(d->P, (size_t)n * d->n_in, cap);
        if (!m->P) goto nomem;
        if (d->M_in) {
            m->M_in = dup_padded(d->M_in, (size_t)n * d->n_in, cap);
            if (!m->M_in) goto nomem;
        }
    }
    if (d->n_out > 0) {
        m->n_out = d->n_out;
        m->n_read = d->readout_from == EIR_READOUT_E ? d->n_e : n;
        m->W_out =
            dup_padded(d->W_out, (size_t)d->n_out * m->n_read, (size_t)m->n_out_pad * m->n_read);
        m->b_out = calloc((size_t)d->n_out, sizeof *m->b_out);
        if (!m->W_out || !m->b_out) goto nomem;
        if (d->b_out) memcpy(m->b_out, d->b_out, (size_t)d->n_out * sizeof *m->b_out);
    }
    *out = m;
    return EIR_OK;
nomem:
    s = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory building a model of N = %d", n);
    goto fail;
stopped:
    s = build_stopped(err);
fail:
    eir_model_free(m);
    return s;
}

int eir_model_n(const eir_model *m)
{
    return m->n;
}
int eir_model_n_e(const eir_model *m)
{
    return m->n_e;
}
int eir_model_n_i(const eir_model *m)
{
    return m->n_i;
}
int eir_model_n_in(const eir_model *m)
{
    return m->n_in;
}
int eir_model_n_out(const eir_model *m)
{
    return m->n_out;
}
eir_class eir_model_class(const eir_model *m)
{
    return m->cls;
}
size_t eir_model_projected(const eir_model *m)
{
    return m->projected;
}
const double *eir_model_W(const eir_model *m)
{
    return m->W;
}
const double *eir_model_leak(const eir_model *m)
{
    return m->leak;
}

void eir_model_M(const eir_model *m, double *out)
{
    for (int i = 0; i < m->n; i++)
        eir_model_dense_row(m, 1, i, out + (size_t)i * m->n);
}

void eir_model_W_dense(const eir_model *m, double *out)
{
    for (int i = 0; i < m->n; i++)
        eir_model_dense_row(m, 0, i, out + (size_t)i * m->n);
}

int eir_model_sparse(const eir_model *m)
{
    return m->sparse;
}

size_t eir_model_nnz(const eir_model *m)
{
    return m->sparse ? m->nnz : (size_t)m->n * (size_t)m->n;
}

/* eir_model_bytes(): what the model holds, dense or sparse (the model cache counts it). */
size_t eir_model_bytes(const eir_model *m)
{
    if (!m) return 0;
    const size_t n = (size_t)m->n, d = sizeof(double), np = (size_t)m->n_pad;
    size_t b = sizeof *m;
    if (m->W) b += np * n * d;
    if (m->S && m->S != m->W) b += np * n * d;
    if (m->WM) b += 2 * np * n * d;
    if (m->sparse)
        b += (size_t)m->n_panels * (n + 1) * sizeof(size_t) +
             ((size_t)m->n_panels + 1) * sizeof(int) + m->nnz * sizeof(int) +
             m->nnz * (m->mv ? 2 : 1) * d;
    b += (size_t)(!!m->cE + !!m->cI + !!m->gE + !!m->gI + !!m->leak + !!m->bias) * n * d;
    if (m->P) b += np * (size_t)m->n_in * d;
    if (m->M_in) b += np * (size_t)m->n_in * d;
    if (m->W_out) b += (size_t)m->n_out_pad * (size_t)m->n_read * d;
    if (m->b_out) b += (size_t)m->n_out * d;
    return b;
}
