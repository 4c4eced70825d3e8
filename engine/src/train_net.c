/**
 * @file train_net.c
 * @brief The trainable network: theta from a model description, the effective model of theta,
 *        and the batch loss and gradient (chunks, threads, the sum in chunk order, the chain
 *        rule from the effective arrays back to theta). The per-chunk numerics are in
 *        train_bptt_impl.h.
 *
 * Chain rule (eir_train.h's parameterisation; E(j) = +1 for E columns, -1 for I columns,
 * s = sign(theta_W) with sign(0) = +1, mk = mask):
 *   rnn          W = theta mk                   dtheta = dW mk
 *   dale, gated  W = |theta| E(j) mk            dtheta = s mk (E(j) dW + A dM)  (A dM: gated)
 *                M = A |theta| mk               dA = |theta| mk dM
 *   conductance  K = |theta| mk, W = K E_rev(j) dtheta = s mk (E_rev(j) dW + dM)  (dM: gated)
 *                M = K (gated)
 * Failure: every function that can fail fills an eir_error naming the field; see eir_train.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "team.h"
#include "train_internal.h"

static const char *const param_names[EIR_NPARAMS] = {"W",     "P", "bias", "W_out",
                                                     "b_out", "A", "G_b"};

const char *eir_param_name(eir_param p)
{
    return (unsigned)p < EIR_NPARAMS ? param_names[p] : "unknown";
}

void eir_train_spec_init(eir_train_spec *s)
{
    memset(s, 0, sizeof *s);
    s->dt = 1.0;
    s->integrator = EIR_INTEG_EXP_EULER;
    s->precision = EIR_F64;
    s->trainable = (1u << EIR_PARAM_W) | (1u << EIR_PARAM_P) | (1u << EIR_PARAM_BIAS) |
                   (1u << EIR_PARAM_W_OUT) | (1u << EIR_PARAM_B_OUT);
    s->loss = EIR_LOSS_CE;
    s->lr = 1e-3;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->eps = 1e-8;
    s->clip_norm = 1.0;
    s->threads = 1;
}

/** splitmix64's output function for state @p x: x += golden gamma, then the finaliser. */
static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* key = mix(mix(mix(seed) ^ iteration) ^ stream), mix = splitmix64() above, in uint64
 * arithmetic (iteration as its two's-complement 64 bits). */
uint64_t eir_train_stream(uint64_t seed, int64_t iteration, unsigned stream)
{
    return splitmix64(splitmix64(splitmix64(seed) ^ (uint64_t)iteration) ^ (uint64_t)stream);
}

/* ---- construction ------------------------------------------------------------------------ */

static eir_status check_spec(const eir_train_spec *s, eir_error *err)
{
    if (!(isfinite(s->dt) && s->dt > 0))
        return eir_error_set(err, EIR_EINVAL, "/dt", "dt must be a finite number > 0 (got %g)",
                             s->dt);
    if (s->integrator == EIR_INTEG_RK4)
        return eir_error_set(err, EIR_EINVAL, "/integrator",
                             "training supports the integrators exp_euler and euler, not rk4");
    if (s->integrator != EIR_INTEG_EXP_EULER && s->integrator != EIR_INTEG_EULER)
        return eir_error_set(err, EIR_EINVAL, "/integrator", "unknown integrator");
    if (s->precision != EIR_F64 && s->precision != EIR_F32)
        return eir_error_set(err, EIR_EINVAL, "/precision", "unknown precision");
    if (s->trainable >> EIR_NPARAMS)
        return eir_error_set(err, EIR_EINVAL, "/trainable", "unknown trainable parameter bit");
    if (s->loss != EIR_LOSS_MSE && s->loss != EIR_LOSS_CE)
        return eir_error_set(err, EIR_EINVAL, "/loss/name", "unknown loss");
    if (!(isfinite(s->l2_weights) && s->l2_weights >= 0))
        return eir_error_set(err, EIR_EINVAL, "/loss/l2_weights",
                             "l2_weights must be a finite number >= 0");
    if (!(isfinite(s->l2_rates) && s->l2_rates >= 0))
        return eir_error_set(err, EIR_EINVAL, "/loss/l2_rates",
                             "l2_rates must be a finite number >= 0");
    if (!(isfinite(s->lr) && s->lr > 0))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/lr", "lr must be a finite number > 0");
    if (!(s->beta1 >= 0 && s->beta1 < 1))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/beta1", "beta1 must be in [0, 1)");
    if (!(s->beta2 >= 0 && s->beta2 < 1))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/beta2", "beta2 must be in [0, 1)");
    if (!(isfinite(s->eps) && s->eps > 0))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/eps", "eps must be a finite number > 0");
    if (!(s->clip_norm == s->clip_norm) || isinf(s->clip_norm))
        return eir_error_set(err, EIR_EINVAL, "/optimizer/clip_norm",
                             "clip_norm must be a finite number");
    if (s->threads < 1) return eir_error_set(err, EIR_EINVAL, "/threads", "threads must be >= 1");
    return EIR_OK;
}

/** Prefix the model's field (relative to the model document) with "/model". */
static eir_status model_error(eir_status st, eir_error *err)
{
    if (err && err->field[0] == '/') {
        char f[EIR_FIELD_MAX];
        const size_t len = strnlen(err->field, EIR_FIELD_MAX - 7);
        memcpy(f, "/model", 6);
        memcpy(f + 6, err->field, len);
        f[6 + len] = '\0';
        memcpy(err->field, f, sizeof f);
    }
    return st;
}

/** A[i][j] of the reduced form's gate scale in the description's shape. */
static double a_entry(const eir_model_desc *d, int n, int i, int j)
{
    const int e = j < d->n_e;
    switch (d->a_kind) {
    case EIR_A_SCALAR:
        return d->A[0];
    case EIR_A_PER_TYPE:
        return e ? d->A[0] : d->A[1];
    case EIR_A_PER_ROW:
        return e ? d->A[i] : d->A[n + i];
    case EIR_A_MATRIX:
        return d->A[(size_t)i * n + j];
    }
    return 0.0;
}

/** Lay out theta: every applicable parameter gets a slice (frozen ones too). */
static void layout(eir_net *nt)
{
    const size_t n = (size_t)nt->n;
    size_t len[EIR_NPARAMS] = {0};
    len[EIR_PARAM_W] = n * n;
    len[EIR_PARAM_P] = n * (size_t)nt->n_in;
    len[EIR_PARAM_BIAS] = n;
    len[EIR_PARAM_W_OUT] = (size_t)nt->n_out * nt->n_read;
    len[EIR_PARAM_B_OUT] = (size_t)nt->n_out;
    len[EIR_PARAM_A] = nt->cls == EIR_CLASS_GATED && nt->form == EIR_FORM_REDUCED ? n * n : 0;
    len[EIR_PARAM_G_B] = n;
    size_t off = 0;
    for (int p = 0; p < EIR_NPARAMS; p++) {
        nt->off[p] = off;
        nt->len[p] = len[p];
        off += len[p];
    }
    nt->theta_len = off;
}

static void *align_up(unsigned char **cursor, size_t bytes)
{
    void *p = *cursor;
    *cursor += (bytes + 63) / 64 * 64;
    return p;
}

/** theta and the fixed arrays from the built initial model @p m and its description @p d. */
static void init_theta(eir_net *nt, const eir_model *m, const eir_model_desc *d)
{
    const int n = nt->n;
    const size_t nn = (size_t)n * n;
    double *th = nt->theta;
    double *W = th + nt->off[EIR_PARAM_W];
    if (nt->form == EIR_FORM_CONDUCTANCE) {
        for (size_t q = 0; q < nn; q++)
            W[q] = d->K[q];
    } else {
        eir_model_W_dense(m, W);
        if (nt->cls != EIR_CLASS_RNN)
            for (size_t q = 0; q < nn; q++)
                W[q] = fabs(W[q]);
    }
    for (size_t q = 0; q < nn; q++)
        nt->mask[q] = W[q] != 0;
    if (nt->len[EIR_PARAM_A])
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                th[nt->off[EIR_PARAM_A] + (size_t)i * n + j] = a_entry(d, n, i, j);
    memcpy(th + nt->off[EIR_PARAM_P], m->P ? m->P : th, nt->len[EIR_PARAM_P] * sizeof *th);
    memcpy(th + nt->off[EIR_PARAM_BIAS], m->bias, (size_t)n * sizeof *th);
    memcpy(th + nt->off[EIR_PARAM_W_OUT], m->W_out, nt->len[EIR_PARAM_W_OUT] * sizeof *th);
    memcpy(th + nt->off[EIR_PARAM_B_OUT], m->b_out, (size_t)nt->n_out * sizeof *th);
    memcpy(th + nt->off[EIR_PARAM_G_B], m->leak, (size_t)n * sizeof *th);
    if (m->M_in) memcpy(nt->M_in, m->M_in, (size_t)n * nt->n_in * sizeof *th);
}

/**
 * TRAIN_SPLIT for a gated model whose gate is a per-row multiple of its product matrix for
 * every call (conductance form; reduced form with a frozen A constant over each row's E
 * columns and over its I columns), TRAIN_FUSED for other gated models, else TRAIN_NONE.
 */
static int pick_mode(const eir_net *nt)
{
    if (nt->gw == 1) return TRAIN_NONE;
    if (nt->form == EIR_FORM_CONDUCTANCE) return TRAIN_SPLIT;
    if (nt->spec.trainable & (1u << EIR_PARAM_A)) return TRAIN_FUSED;
    const int n = nt->n, ne = nt->n_e;
    const double *A = nt->theta + nt->off[EIR_PARAM_A];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const double first = A[(size_t)i * n + (j < ne ? 0 : ne)];
            if (A[(size_t)i * n + j] != first) return TRAIN_FUSED;
        }
    return TRAIN_SPLIT;
}

eir_status eir_net_new(const eir_model_desc *d, const eir_train_spec *s, eir_net **out,
                       eir_error *err)
{
    *out = NULL;
    eir_status st = check_spec(s, err);
    if (st != EIR_OK) return st;
    if (d->n_out <= 0)
        return eir_error_set(err, EIR_EINVAL, "/model/readout",
                             "training needs a model with a readout (readout.W_out)");
    const int gated_reduced = d->cls == EIR_CLASS_GATED && d->form == EIR_FORM_REDUCED;
    if ((s->trainable & (1u << EIR_PARAM_A)) && !gated_reduced)
        return eir_error_set(err, EIR_EINVAL, "/trainable",
                             "A is trainable only in a gated model of the reduced form (W, A)");
    eir_model_desc dd = *d;
    dd.storage = EIR_STORAGE_DENSE;
    dd.stop = NULL;
    eir_model *m = NULL;
    st = eir_model_build(&dd, &m, err);
    if (st != EIR_OK) return model_error(st, err);
    eir_net *nt = calloc(1, sizeof *nt);
    if (!nt) {
        eir_model_free(m);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory creating the network");
    }
    nt->n = m->n;
    nt->n_e = m->n_e;
    nt->n_in = m->n_in;
    nt->n_out = m->n_out;
    nt->n_read = m->n_read;
    nt->cls = d->cls;
    nt->form = d->form;
    nt->gw = d->cls == EIR_CLASS_GATED ? 2 : 1;
    nt->act = m->act;
    nt->readout_from = d->readout_from;
    nt->e_rev_e = d->e_rev_e;
    nt->e_rev_i = d->e_rev_i;
    nt->sigma = d->sigma;
    nt->storage = d->storage;
    nt->spec = *s;
    layout(nt);
    const size_t n = (size_t)nt->n, nn = n * n, nin = (size_t)nt->n_in;
    const size_t fl =
        (size_t)nt->gw * nn + 6 * n + 2 * n * nin + nt->len[EIR_PARAM_W_OUT] + (size_t)nt->n_out;
    nt->theta = malloc((nt->theta_len ? nt->theta_len : 1) * sizeof *nt->theta);
    nt->mask = malloc(nn ? nn : 1);
    nt->Wd = malloc((nn ? nn : 1) * sizeof *nt->Wd);
    nt->WMd = malloc(((size_t)nt->gw * nn + 1) * sizeof *nt->WMd);
    nt->dWMd = malloc(((size_t)nt->gw * nn + 1) * sizeof *nt->dWMd);
    nt->coefd = malloc((4 * n + 1) * sizeof *nt->coefd);
    nt->M_in = m->M_in ? malloc(n * nin * sizeof *nt->M_in) : NULL;
    nt->f32_params = malloc((fl + 1) * sizeof *nt->f32_params);
    if (!nt->theta || !nt->mask || !nt->Wd || !nt->WMd || !nt->dWMd || !nt->coefd ||
        (m->M_in && !nt->M_in) || !nt->f32_params) {
        eir_model_free(m);
        eir_net_free(nt);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory creating the network");
    }
    init_theta(nt, m, d);
    eir_model_free(m);
    *out = nt;
    return EIR_OK;
}

void eir_net_free(eir_net *n)
{
    if (!n) return;
    free(n->theta);
    free(n->mask);
    free(n->Wd);
    free(n->WMd);
    free(n->dWMd);
    free(n->coefd);
    free(n->M_in);
    free(n->f32_params);
    free(n->ws_mem);
    free(n->acc_mem);
    free(n->ws);
    free(n->acc);
    free(n);
}

size_t eir_net_theta_len(const eir_net *n)
{
    return n->theta_len;
}

void eir_net_layout(const eir_net *n, size_t offset[EIR_NPARAMS], size_t len[EIR_NPARAMS])
{
    for (int p = 0; p < EIR_NPARAMS; p++) {
        offset[p] = n->off[p];
        len[p] = n->len[p];
    }
}

double *eir_net_theta(eir_net *n)
{
    return n->theta;
}

const double *eir_net_theta_const(const eir_net *n)
{
    return n->theta;
}

/* ---- the effective model of theta -------------------------------------------------------- */

/** Wd (the document's W or K) and WMd ([W; M] the engine integrates) from theta. */
static void effective(eir_net *nt)
{
    const int n = nt->n, ne = nt->n_e;
    const size_t nn = (size_t)n * n;
    const double *th = nt->theta + nt->off[EIR_PARAM_W];
    const double *A = nt->len[EIR_PARAM_A] ? nt->theta + nt->off[EIR_PARAM_A] : NULL;
    double *W = nt->WMd, *M = nt->gw == 2 ? nt->WMd + nn : NULL;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const size_t q = (size_t)i * n + j;
            const int mk = nt->mask[q];
            const double a = mk ? fabs(th[q]) : 0.0;
            if (nt->form == EIR_FORM_CONDUCTANCE) {
                nt->Wd[q] = a;
                W[q] = a * (j < ne ? nt->e_rev_e : nt->e_rev_i);
                if (M) M[q] = a;
            } else if (nt->cls == EIR_CLASS_RNN) {
                nt->Wd[q] = W[q] = mk ? th[q] : 0.0;
            } else {
                nt->Wd[q] = W[q] = j < ne ? a : -a;
                if (M) M[q] = A[q] * fabs(W[q]);
            }
        }
    if (nt->mode != TRAIN_SPLIT) return;
    double *cE = nt->coefd, *cI = cE + n, *gE = cI + n, *gI = gE + n;
    for (int i = 0; i < n; i++) {
        if (nt->form == EIR_FORM_CONDUCTANCE) {
            cE[i] = nt->e_rev_e, cI[i] = nt->e_rev_i, gE[i] = gI[i] = 1.0;
        } else { /* the engine's reduced split: gE = A_E, gI = -A_I */
            cE[i] = cI[i] = 1.0;
            gE[i] = ne > 0 ? A[(size_t)i * n] : 0.0;
            gI[i] = ne < n ? -A[(size_t)i * n + ne] : 0.0;
        }
    }
}

void eir_net_model_desc(eir_net *n, eir_model_desc *out)
{
    effective(n);
    eir_model_desc_init(out);
    const double *th = n->theta;
    out->n_e = n->n_e;
    out->n_i = n->n - n->n_e;
    out->n_in = n->n_in;
    out->cls = n->cls;
    out->act = n->act;
    out->leak = th + n->off[EIR_PARAM_G_B];
    out->leak_len = n->n;
    out->form = n->form;
    if (n->form == EIR_FORM_CONDUCTANCE) {
        out->K = n->Wd;
        out->e_rev_e = n->e_rev_e;
        out->e_rev_i = n->e_rev_i;
    } else {
        out->W = n->Wd;
        if (n->len[EIR_PARAM_A]) {
            out->a_kind = EIR_A_MATRIX;
            out->A = th + n->off[EIR_PARAM_A];
        }
        out->dale = EIR_DALE_REJECT;
    }
    out->P = n->n_in > 0 ? th + n->off[EIR_PARAM_P] : NULL;
    out->M_in = n->M_in;
    out->bias = th + n->off[EIR_PARAM_BIAS];
    out->bias_len = n->n;
    out->n_out = n->n_out;
    out->W_out = th + n->off[EIR_PARAM_W_OUT];
    out->b_out = th + n->off[EIR_PARAM_B_OUT];
    out->readout_from = n->readout_from;
    out->sigma = n->sigma;
    out->storage = n->storage;
}

/* ---- workspace ---------------------------------------------------------------------------- */

/** Element size of the call's precision. */
static size_t real_size(const eir_net *nt)
{
    return nt->spec.precision == EIR_F32 ? sizeof(float) : sizeof(double);
}

/** Carve one thread's workspace (or, with @p mem NULL, measure it). */
static size_t carve_ws(const eir_net *nt, int T, int cb, unsigned char *mem, train_ws *w)
{
    const size_t es = real_size(nt), n = (size_t)nt->n, rows = (size_t)T * cb;
    const size_t gwn = (size_t)nt->gw * n, nin = (size_t)nt->n_in, no = (size_t)nt->n_out;
    unsigned char base = 0, *cur = mem ? mem : &base;
    unsigned char *start = cur;
    train_ws tmp, *o = w ? w : &tmp;
    o->X = align_up(&cur, rows * nin * es);
    o->XA = align_up(&cur, nt->M_in ? rows * nin * es : 0);
    o->V = align_up(&cur, (rows + cb) * n * es);
    o->R = align_up(&cur, (rows + cb) * n * es);
    o->Z = align_up(&cur, rows * n * es);
    o->Ib = align_up(&cur, rows * n * es);
    o->NZ = align_up(&cur, nt->sigma > 0 ? rows * n * es : 0);
    o->U = align_up(&cur, (size_t)cb * gwn * es);
    o->Y = align_up(&cur, rows * no * es);
    o->DY = align_up(&cur, rows * no * es);
    o->DR = align_up(&cur, 2 * (size_t)cb * n * es);
    o->DIZ = align_up(&cur, rows * gwn * es);
    o->DU = align_up(&cur, nt->gw == 2 ? rows * gwn * es : 0); /* SPLIT (any gated call) */
    o->carry = align_up(&cur, (size_t)cb * n * es);
    o->EK = align_up(&cur, nt->gw == 1 ? TR_EK * n * es : 0);
    return (size_t)(cur - start) + 64;
}

static size_t carve_acc(const eir_net *nt, unsigned char *mem, train_acc *a)
{
    const size_t es = real_size(nt), n = (size_t)nt->n;
    unsigned char base = 0, *cur = mem ? mem : &base;
    unsigned char *start = cur;
    train_acc tmp, *o = a ? a : &tmp;
    o->dWM = align_up(&cur, (size_t)nt->gw * n * n * es);
    o->dP = align_up(&cur, n * nt->n_in * es);
    o->db = align_up(&cur, n * es);
    o->dG = align_up(&cur, n * es);
    o->dWout = align_up(&cur, nt->len[EIR_PARAM_W_OUT] * es);
    o->dbout = align_up(&cur, (size_t)nt->n_out * es);
    return (size_t)(cur - start);
}

/**
 * Workspaces for @p threads threads and the accumulators of a batch of B x T: reallocated only
 * when one of them grows; otherwise the same memory is carved for this call's shape.
 */
static eir_status ensure_ws(eir_net *nt, int B, int T, int threads, eir_error *err)
{
    if (!nt->ws_mem || B > nt->ws_B || T > nt->ws_T || threads > nt->ws_threads) {
        const int nb = B > nt->ws_B ? B : nt->ws_B, nT = T > nt->ws_T ? T : nt->ws_T;
        const int nth = threads > nt->ws_threads ? threads : nt->ws_threads;
        const int cbmax = nb < TRAIN_CHUNK ? nb : TRAIN_CHUNK;
        const int nchunks = (nb + TRAIN_CHUNK - 1) / TRAIN_CHUNK;
        const size_t wsz = carve_ws(nt, nT, cbmax, NULL, NULL);
        const size_t asz = carve_acc(nt, NULL, NULL) + 64;
        free(nt->ws_mem);
        free(nt->acc_mem);
        free(nt->ws);
        free(nt->acc);
        nt->ws_mem = eir_alloc_big(wsz * (size_t)nth);
        nt->acc_mem = eir_alloc_big(asz * (size_t)nchunks);
        nt->ws = calloc((size_t)nth, sizeof *nt->ws);
        nt->acc = calloc((size_t)nchunks, sizeof *nt->acc);
        if (!nt->ws_mem || !nt->acc_mem || !nt->ws || !nt->acc) {
            free(nt->ws_mem);
            free(nt->acc_mem);
            free(nt->ws);
            free(nt->acc);
            nt->ws_mem = nt->acc_mem = NULL;
            nt->ws = NULL;
            nt->acc = NULL;
            nt->ws_B = nt->ws_T = nt->ws_threads = 0;
            return eir_error_set(err, EIR_ENOMEM, NULL,
                                 "out of memory for the training workspace (batch %d, %d steps)", B,
                                 T);
        }
        nt->ws_B = nb;
        nt->ws_T = nT;
        nt->ws_threads = nth;
        nt->ws_stride = wsz;
        nt->acc_stride = asz;
        for (int q = 0; q < nchunks; q++)
            carve_acc(nt, nt->acc_mem + (size_t)q * asz, &nt->acc[q]);
    }
    /* a smaller shape fits in the same memory: every array's size grows with T and cb */
    const int cb = B < TRAIN_CHUNK ? B : TRAIN_CHUNK;
    for (int t = 0; t < nt->ws_threads; t++)
        carve_ws(nt, T, cb, nt->ws_mem + (size_t)t * nt->ws_stride, &nt->ws[t]);
    return EIR_OK;
}

/* ---- a call ------------------------------------------------------------------------------ */

typedef struct team_arg {
    const train_call *c;
    eir_net *nt;
    int nchunks;
} team_arg;

static void team_fn(void *arg, int tid, int nt)
{
    team_arg *a = arg;
    const int f32 = a->nt->spec.precision == EIR_F32;
    for (int q = tid; q < a->nchunks; q += nt) {
        if (f32)
            train_chunk_f32(a->c, q, &a->nt->ws[tid], &a->nt->acc[q]);
        else
            train_chunk_f64(a->c, q, &a->nt->ws[tid], &a->nt->acc[q]);
    }
}

/** The call's effective arrays in its precision (float32: converted once into f32_params). */
static void call_params(eir_net *nt, train_params *p)
{
    effective(nt);
    const double *th = nt->theta;
    const size_t n = (size_t)nt->n, nin = (size_t)nt->n_in;
    const int split = nt->mode == TRAIN_SPLIT;
    const double *src[8] = {split && nt->form == EIR_FORM_CONDUCTANCE ? nt->Wd : nt->WMd,
                            th + nt->off[EIR_PARAM_G_B],
                            th + nt->off[EIR_PARAM_BIAS],
                            nin ? th + nt->off[EIR_PARAM_P] : NULL,
                            nin ? nt->M_in : NULL,
                            th + nt->off[EIR_PARAM_W_OUT],
                            th + nt->off[EIR_PARAM_B_OUT],
                            split ? nt->coefd : NULL};
    const size_t cnt[8] = {(split ? 1 : (size_t)nt->gw) * n * n,
                           n,
                           n,
                           n * nin,
                           n * nin,
                           nt->len[EIR_PARAM_W_OUT],
                           (size_t)nt->n_out,
                           4 * n};
    void *dst[8];
    if (nt->spec.precision == EIR_F64) {
        for (int k = 0; k < 8; k++)
            dst[k] = (void *)src[k];
    } else {
        float *f = nt->f32_params;
        for (int k = 0; k < 8; k++) {
            if (!src[k]) {
                dst[k] = NULL;
                continue;
            }
            dst[k] = f;
            for (size_t q = 0; q < cnt[k]; q++)
                f[q] = (float)src[k][q];
            f += cnt[k];
        }
    }
    p->WM = dst[0];
    p->leak = dst[1];
    p->bias = dst[2];
    p->P = dst[3];
    p->M_in = dst[4];
    p->W_out = dst[5];
    p->b_out = dst[6];
    p->coef = dst[7];
}

/** d += chunk accumulator @p src (count values of the call's precision). */
static void add_acc(const eir_net *nt, double *d, const void *src, size_t count)
{
    if (nt->spec.precision == EIR_F32) {
        const float *s = src;
        for (size_t q = 0; q < count; q++)
            d[q] += (double)s[q];
    } else {
        const double *s = src;
        for (size_t q = 0; q < count; q++)
            d[q] += s[q];
    }
}

/**
 * The gradient with respect to theta from the chunk accumulators (summed in chunk order into
 * grad's slices and, for W and A, into WMd's scratch) plus the weight penalty.
 */
static void assemble_grad(eir_net *nt, int nchunks, double lw, double *grad)
{
    const size_t n = (size_t)nt->n, nn = n * n, nin = (size_t)nt->n_in;
    const int split = nt->mode == TRAIN_SPLIT, ne = nt->n_e;
    const size_t gwnn = (split ? 1 : (size_t)nt->gw) * nn;
    const unsigned tr = nt->spec.trainable;
    double *dWM = nt->dWMd;
    memset(dWM, 0, gwnn * sizeof *dWM);
    memset(grad, 0, nt->theta_len * sizeof *grad);
    double *gP = grad + nt->off[EIR_PARAM_P], *gb = grad + nt->off[EIR_PARAM_BIAS];
    double *gWo = grad + nt->off[EIR_PARAM_W_OUT], *gbo = grad + nt->off[EIR_PARAM_B_OUT];
    double *gG = grad + nt->off[EIR_PARAM_G_B];
    for (int q = 0; q < nchunks; q++) {
        const train_acc *a = &nt->acc[q];
        add_acc(nt, dWM, a->dWM, gwnn);
        add_acc(nt, gP, a->dP, n * nin);
        add_acc(nt, gb, a->db, n);
        add_acc(nt, gG, a->dG, n);
        add_acc(nt, gWo, a->dWout, nt->len[EIR_PARAM_W_OUT]);
        add_acc(nt, gbo, a->dbout, (size_t)nt->n_out);
    }
    const double *th = nt->theta;
    if (lw > 0) {
        const double kw = 2 * lw / (double)nn, kp = nin ? 2 * lw / (double)(n * nin) : 0;
        const double ko = 2 * lw / (double)nt->len[EIR_PARAM_W_OUT];
        /* SPLIT in the conductance form: dWM is d / dK, and dW/dK = E_rev(j) */
        const int dk = split && nt->form == EIR_FORM_CONDUCTANCE;
        for (size_t q = 0; q < nn; q++)
            dWM[q] +=
                kw * nt->WMd[q] * (dk ? ((int)(q % n) < ne ? nt->e_rev_e : nt->e_rev_i) : 1.0);
        for (size_t q = 0; q < n * nin; q++)
            gP[q] += kp * th[nt->off[EIR_PARAM_P] + q];
        for (size_t q = 0; q < nt->len[EIR_PARAM_W_OUT]; q++)
            gWo[q] += ko * th[nt->off[EIR_PARAM_W_OUT] + q];
    }
    /* chain rule to theta_W and A (file comment); SPLIT's dS already holds the gate's path:
     * conductance d/dK, reduced dW + E(j) A dM */
    const double *tW = th + nt->off[EIR_PARAM_W];
    const double *A = nt->len[EIR_PARAM_A] ? th + nt->off[EIR_PARAM_A] : NULL;
    double *gW = grad + nt->off[EIR_PARAM_W];
    double *gA = nt->len[EIR_PARAM_A] ? grad + nt->off[EIR_PARAM_A] : NULL;
    const double *dM = nt->gw == 2 && !split ? dWM + nn : NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            const size_t q = i * n + j;
            if (!nt->mask[q]) continue;
            const double s = tW[q] >= 0 ? 1.0 : -1.0, ej = (int)j < ne ? 1.0 : -1.0;
            if (split) {
                gW[q] = nt->form == EIR_FORM_CONDUCTANCE ? s * dWM[q] : s * ej * dWM[q];
            } else if (nt->form == EIR_FORM_CONDUCTANCE) {
                const double er = (int)j < ne ? nt->e_rev_e : nt->e_rev_i;
                gW[q] = s * (er * dWM[q] + (dM ? dM[q] : 0.0));
            } else if (nt->cls == EIR_CLASS_RNN) {
                gW[q] = dWM[q];
            } else {
                gW[q] = s * (ej * dWM[q] + (dM ? A[q] * dM[q] : 0.0));
                if (gA) gA[q] = fabs(tW[q]) * dM[q];
            }
        }
    for (int p = 0; p < EIR_NPARAMS; p++)
        if (!(tr & (1u << p))) memset(grad + nt->off[p], 0, nt->len[p] * sizeof *grad);
}

static eir_status net_call(eir_net *nt, const eir_batch *batch, uint64_t noise_key,
                           eir_loss_parts *loss, double *grad, double *y_out, eir_error *err)
{
    eir_status st = train_check_batch(nt, batch, err);
    if (st != EIR_OK) return st;
    const int nchunks = (batch->B + TRAIN_CHUNK - 1) / TRAIN_CHUNK;
    const int threads = nt->spec.threads < nchunks ? nt->spec.threads : nchunks;
    st = ensure_ws(nt, batch->B, batch->T, threads, err);
    if (st != EIR_OK) return st;
    train_call c;
    memset(&c, 0, sizeof c);
    c.net = nt;
    c.batch = batch;
    c.noise_key = noise_key;
    c.grad = grad != NULL;
    c.y_out = y_out;
    train_normalisers(nt, batch, &c.inv_mask, &c.rate_scale);
    nt->mode = pick_mode(nt); /* a frozen A that someone changed may no longer split */
    call_params(nt, &c.p);
    team_arg ta = {&c, nt, nchunks};
    sim_barrier bar;
    sim_team_run(threads, &bar, NULL, team_fn, &ta);
    double task = 0.0, rate = 0.0;
    int64_t bad = -1;
    for (int q = 0; q < nchunks; q++) {
        const train_acc *a = &nt->acc[q];
        if (a->bad_step >= 0 && (bad < 0 || a->bad_step < bad)) bad = a->bad_step;
        task += a->task;
        rate += a->rate;
    }
    if (bad >= 0)
        return eir_error_set(err, EIR_ENUMERIC, NULL,
                             "the forward pass stopped being finite at step %lld (lower the "
                             "learning rate, dt or the weights)",
                             (long long)bad);
    const double lw = nt->spec.l2_weights;
    const double l2w = lw > 0 ? lw * train_l2_weights(nt) : 0.0;
    if (loss) {
        loss->task = task * c.inv_mask;
        loss->l2_weights = l2w;
        loss->l2_rates = rate * c.rate_scale;
        loss->total = loss->task + loss->l2_weights + loss->l2_rates;
    }
    if (grad) assemble_grad(nt, nchunks, lw, grad);
    return EIR_OK;
}

eir_status eir_net_loss_grad(eir_net *n, const eir_batch *batch, uint64_t noise_key,
                             eir_loss_parts *loss, double *grad, double *y_out, eir_error *err)
{
    if (!grad) return eir_error_set(err, EIR_EINVAL, NULL, "no gradient buffer");
    return net_call(n, batch, noise_key, loss, grad, y_out, err);
}

eir_status eir_net_forward(eir_net *n, const eir_batch *batch, uint64_t noise_key,
                           eir_loss_parts *loss, double *y_out, eir_error *err)
{
    return net_call(n, batch, noise_key, loss, NULL, y_out, err);
}
