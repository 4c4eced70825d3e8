/**
 * @file sim_impl.h
 * @brief The integrators, written once and compiled per precision (engine-private).
 *
 * Included by sim_f64.c and sim_f32.c with REAL (double/float), SFX(name) (name suffix),
 * GEMM and GEMV (cblas_dgemm/sgemm, cblas_dgemv/sgemv) defined.
 *
 * State is trial-major: V[b][i] for the trials of one chunk. One step is: the recurrent
 * products for all trials (one BLAS call per column block, trials as the rows of the right
 * operand), then per trial row four short passes that compilers vectorise: drive and gate
 * (gate-specific), the integrator update, noise, and the activation with its statistics.
 * Nothing is allocated inside the step loop.
 */

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "vmath.h"

/* Hot passes get AVX-512 and AVX2 clones, picked at load time on any CPU that has the
 * features (an "arch=<cpu>" clone would only be picked on that exact CPU model). */
#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer crashes in ifunc resolvers, which run before it is initialised */
#define HOT
#else
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

/* ---- per-row passes ---------------------------------------------------------------------- */

/** Drive I and gate z without recurrent gating: I = u + b + px, z = G_b + mx. */
HOT static void SFX(drive_none)(int n, const REAL *restrict u, const REAL *restrict bias,
                                const REAL *restrict px, const REAL *restrict leak,
                                const REAL *restrict mx, REAL *restrict Id, REAL *restrict z)
{
    for (int i = 0; i < n; i++) {
        Id[i] = u[i] + bias[i] + px[i];
        z[i] = leak[i] + mx[i];
    }
}

/** Column-split gate: I = cE uE + cI uI + b + px, z = G_b + gE uE + gI uI + mx. */
HOT static void SFX(drive_split)(int n, const REAL *restrict uE, const REAL *restrict uI,
                                 const REAL *restrict cE, const REAL *restrict cI,
                                 const REAL *restrict gE, const REAL *restrict gI,
                                 const REAL *restrict bias, const REAL *restrict px,
                                 const REAL *restrict leak, const REAL *restrict mx,
                                 REAL *restrict Id, REAL *restrict z)
{
    for (int i = 0; i < n; i++) {
        Id[i] = cE[i] * uE[i] + cI[i] * uI[i] + bias[i] + px[i];
        z[i] = leak[i] + gE[i] * uE[i] + gI[i] * uI[i] + mx[i];
    }
}

/** Fused [W; M] product (u = W r, g = M r): I = u + b + px, z = G_b + g + mx. */
HOT static void SFX(drive_fused)(int n, const REAL *restrict u, const REAL *restrict g,
                                 const REAL *restrict bias, const REAL *restrict px,
                                 const REAL *restrict leak, const REAL *restrict mx,
                                 REAL *restrict Id, REAL *restrict z)
{
    for (int i = 0; i < n; i++) {
        Id[i] = u[i] + bias[i] + px[i];
        z[i] = leak[i] + g[i] + mx[i];
    }
}

/**
 * Exponential Euler: V <- V e^{-z dt} + I (1 - e^{-z dt}) / z, in the run's precision. When
 * @p s is not NULL, writes the exact OU noise scale sigma sqrt((1 - e^{-2 z dt}) / (2 z)) per
 * cell. Returns max z dt.
 */
HOT static double SFX(step_exp_euler)(int n, double dt, double sigma, const REAL *restrict Id,
                                      const REAL *restrict z, REAL *restrict V, REAL *restrict s)
{
    const REAL h = (REAL)dt;
    REAL zmax = 0;
#pragma omp simd reduction(max : zmax)
    for (int i = 0; i < n; i++) {
        REAL zi = z[i];
        REAL x = zi * h;
        REAL e, g;
        DECAY_GAIN(x, &e, &g);
        V[i] = V[i] * e + Id[i] * (g / zi);
        zmax = x > zmax ? x : zmax;
    }
    if (s) {
        const REAL sg = (REAL)sigma;
        for (int i = 0; i < n; i++) {
            REAL zi = z[i];
            REAL x = zi * h, e, g;
            DECAY_GAIN(x, &e, &g);
            /* 1 - e^{-2x} = g (2 - g) */
            s[i] = sg * (REAL)sqrt((double)(g * (2 - g) / (2 * zi)));
        }
    }
    return (double)zmax;
}

/** Forward Euler: V <- V + dt (-z V + I). Returns max z dt. */
HOT static double SFX(step_euler)(int n, double dt, const REAL *restrict Id, const REAL *restrict z,
                                  REAL *restrict V)
{
    double zmax = 0.0;
    const REAL h = (REAL)dt;
#pragma omp simd reduction(max : zmax)
    for (int i = 0; i < n; i++) {
        V[i] = V[i] + h * (-z[i] * V[i] + Id[i]);
        double x = (double)z[i] * dt;
        zmax = x > zmax ? x : zmax;
    }
    return zmax;
}

/** RK4 stage: k = -z Vs + I; acc += w k; Vs_next = V + h k (when @p vnext). */
HOT static void SFX(rk4_stage)(int n, const REAL *restrict Id, const REAL *restrict z,
                               const REAL *Vs, const REAL *restrict V, REAL *restrict acc, REAL w,
                               int first, REAL h, REAL *vnext)
{
    for (int i = 0; i < n; i++) {
        REAL k = -z[i] * Vs[i] + Id[i];
        acc[i] = first ? k : acc[i] + w * k;
        if (vnext) vnext[i] = V[i] + h * k;
    }
}

/** Rates r = f(V) for one row, with the r_max clamp. */
HOT static void SFX(activate)(const eir_activation *a, int n, const REAL *restrict V,
                              REAL *restrict R)
{
    switch (a->kind) {
    case EIR_ACT_RELU:
        for (int i = 0; i < n; i++)
            R[i] = V[i] > 0 ? V[i] : (REAL)0;
        break;
    case EIR_ACT_TANH_RECT:
        for (int i = 0; i < n; i++)
            R[i] = V[i] > 0 ? (REAL)tanh((double)V[i]) : (REAL)0;
        break;
    case EIR_ACT_SIGMOID:
        for (int i = 0; i < n; i++)
            R[i] = (REAL)(1.0 / (1.0 + eir_vexp(-(double)V[i])));
        break;
    case EIR_ACT_SOFTPLUS:
        for (int i = 0; i < n; i++) {
            double v = V[i];
            /* log(1 + e^v) = max(v, 0) + log1p(e^{-|v|}) */
            R[i] = (REAL)((v > 0 ? v : 0.0) + log1p(exp(-fabs(v))));
        }
        break;
    case EIR_ACT_POWER:
        if (a->n == 2.0) {
            for (int i = 0; i < n; i++) {
                double v = V[i] > 0 ? (double)V[i] : 0.0;
                R[i] = (REAL)(a->k * v * v);
            }
        } else {
            for (int i = 0; i < n; i++)
                R[i] = V[i] > 0 ? (REAL)(a->k * pow((double)V[i], a->n)) : (REAL)0;
        }
        break;
    case EIR_ACT_LINEAR:
        memcpy(R, V, (size_t)n * sizeof *R);
        break;
    case EIR_ACT_TANH:
        for (int i = 0; i < n; i++)
            R[i] = (REAL)tanh((double)V[i]);
        break;
    }
    if (a->r_max < INFINITY) {
        const REAL cap = (REAL)a->r_max;
        for (int i = 0; i < n; i++)
            R[i] = R[i] < cap ? R[i] : cap;
    }
}

/**
 * Sums of r over cells [0, n_e) and [n_e, n) into *se, *si; returns non-zero when any V is
 * not finite.
 */
HOT static int SFX(row_stats)(int n, int n_e, const REAL *restrict V, const REAL *restrict R,
                              double *se, double *si)
{
    int bad = 0;
    double a = 0.0, b = 0.0;
#pragma omp simd reduction(| : bad)
    for (int i = 0; i < n; i++)
        bad |= !((V[i] - V[i]) == 0);
#pragma omp simd reduction(+ : a)
    for (int i = 0; i < n_e; i++)
        a += R[i];
#pragma omp simd reduction(+ : b)
    for (int i = n_e; i < n; i++)
        b += R[i];
    *se += a;
    *si += b;
    return bad;
}

/* ---- products ---------------------------------------------------------------------------- */

/**
 * u[0..len) = sum over active cells j in [j0, j1) of r_j col_j, where col_j = Mt + j ld is
 * column j of the product matrix (columns zero-padded to ld >= len). Active cells (r_j != 0)
 * are gathered into @p act first, so silent cells cost nothing; four columns are added per
 * pass over u. Deterministic: the order of additions depends only on the rates.
 */
HOT static void SFX(colacc)(int len, int j0, int j1, const REAL *restrict Mt, int ld,
                            const REAL *restrict r, int *restrict act, REAL *restrict u)
{
    int na = 0;
    for (int j = j0; j < j1; j++) {
        act[na] = j;
        na += r[j] != 0;
    }
    memset(u, 0, (size_t)len * sizeof *u);
    int q = 0;
    for (; q + 4 <= na; q += 4) {
        const REAL r0 = r[act[q]], r1 = r[act[q + 1]], r2 = r[act[q + 2]], r3 = r[act[q + 3]];
        const REAL *c0 = Mt + (size_t)act[q] * ld, *c1 = Mt + (size_t)act[q + 1] * ld;
        const REAL *c2 = Mt + (size_t)act[q + 2] * ld, *c3 = Mt + (size_t)act[q + 3] * ld;
        for (int i = 0; i < len; i++)
            u[i] += (r0 * c0[i] + r1 * c1[i]) + (r2 * c2[i] + r3 * c3[i]);
    }
    for (; q < na; q++) {
        const REAL rj = r[act[q]];
        const REAL *c = Mt + (size_t)act[q] * ld;
        for (int i = 0; i < len; i++)
            u[i] += rj * c[i];
    }
}

/** products() for the @p nb trial rows of one block (no column kernel). */
static void SFX(products_block)(const sim_ctx *x, int nb, const REAL *R, REAL *U1, REAL *U2)
{
    const int n = x->n, np = x->m->n_pad, ne = x->n_e, ni = n - ne;
    const REAL *mat = x->a.mat;
    switch (x->m->gate) {
    case EIR_GATE_NONE:
        if (x->use_gemv)
            GEMV(CblasRowMajor, CblasNoTrans, np, n, 1, mat, n, R, 1, 0, U1, 1);
        else
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nb, np, n, 1, R, n, mat, n, 0, U1, np);
        break;
    case EIR_GATE_SPLIT:
        if (ne == 0) {
            memset(U1, 0, (size_t)nb * np * sizeof *U1);
        } else if (x->use_gemv) {
            GEMV(CblasRowMajor, CblasNoTrans, np, ne, 1, mat, n, R, 1, 0, U1, 1);
        } else {
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nb, np, ne, 1, R, n, mat, n, 0, U1, np);
        }
        if (ni == 0) {
            memset(U2, 0, (size_t)nb * np * sizeof *U2);
        } else if (x->use_gemv) {
            GEMV(CblasRowMajor, CblasNoTrans, np, ni, 1, mat + ne, n, R + ne, 1, 0, U2, 1);
        } else {
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nb, np, ni, 1, R + ne, n, mat + ne, n, 0,
                 U2, np);
        }
        break;
    case EIR_GATE_FUSED:
        if (x->use_gemv)
            GEMV(CblasRowMajor, CblasNoTrans, 2 * np, n, 1, mat, n, R, 1, 0, U2, 1);
        else
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nb, 2 * np, n, 1, R, n, mat, n, 0, U2,
                 2 * np);
        break;
    }
}

/**
 * Recurrent products for nb trial rows of rates @p R (nb x N), each output row n_pad long
 * (see EIR_PAD). NONE: U1 = R W^T. SPLIT: U1 = R_E S_E^T, U2 = R_I S_I^T.
 * FUSED: U2 = R [W; M]^T (nb x 2 n_pad).
 */
static void SFX(products)(const sim_ctx *x, int nb, const REAL *R, REAL *U1, REAL *U2, int *act)
{
    const int n = x->n, np = x->m->n_pad, ne = x->n_e;
    if (x->a.mt) { /* single trial, small N: column sums over active cells */
        const REAL *mt = x->a.mt;
        const int ld = x->a.mt_ld;
        switch (x->m->gate) {
        case EIR_GATE_NONE:
            SFX(colacc)(np, 0, n, mt, ld, R, act, U1);
            break;
        case EIR_GATE_SPLIT:
            SFX(colacc)(np, 0, ne, mt, ld, R, act, U1);
            SFX(colacc)(np, ne, n, mt, ld, R, act, U2);
            break;
        case EIR_GATE_FUSED:
            SFX(colacc)(ld, 0, n, mt, ld, R, act, U2);
            break;
        }
        return;
    }
    /* One BLAS call per block of EIR_TRIAL_BLOCK trials (chunks start on block boundaries):
       each trial's product is computed by the same call whatever the thread count, so its bits
       are too (OpenBLAS's results for a row depend on the rows of the call). */
    const size_t ld2 = x->m->gate == EIR_GATE_FUSED ? 2 * (size_t)np : (size_t)np;
    for (int o = 0; o < nb; o += EIR_TRIAL_BLOCK) {
        const int m = nb - o < EIR_TRIAL_BLOCK ? nb - o : EIR_TRIAL_BLOCK;
        SFX(products_block)
        (x, m, R + (size_t)o * n, U1 ? U1 + (size_t)o * np : NULL,
         U2 ? U2 + (size_t)o * ld2 : NULL);
    }
}

/** Drive and gate of trial row @p bb from the products, into Id and z. */
static void SFX(drive_row)(const sim_ctx *x, int bb, const REAL *U1, const REAL *U2, const REAL *px,
                           const REAL *mx, REAL *Id, REAL *z)
{
    const int n = x->n;
    const size_t np = (size_t)x->m->n_pad;
    const sim_arrays *a = &x->a;
    switch (x->m->gate) {
    case EIR_GATE_NONE:
        SFX(drive_none)(n, U1 + bb * np, a->bias, px, a->leak, mx, Id, z);
        break;
    case EIR_GATE_SPLIT:
        SFX(drive_split)
        (n, U1 + bb * np, U2 + bb * np, a->cE, a->cI, a->gE, a->gI, a->bias, px, a->leak, mx, Id,
         z);
        break;
    case EIR_GATE_FUSED:
        SFX(drive_fused)
        (n, U2 + bb * 2 * np, U2 + bb * 2 * np + np, a->bias, px, a->leak, mx, Id, z);
        break;
    }
}

/**
 * Project inputs of steps [t0, t0 + tc) for the chunk's trials: PX[t][bb] = P x, and
 * MX[t][bb] = M_in |x| when input gating is on (rows n_pad long). @p Xs is scratch of
 * tc*nb*n_in.
 */
static void SFX(project_inputs)(const sim_ctx *x, int b0, int nb, int64_t t0, int64_t tc, REAL *PX,
                                REAL *MX, REAL *Xs)
{
    const int np = x->m->n_pad, nin = x->n_in;
    const double *X = x->r->inputs;
    for (int bb = 0; bb < nb; bb++) {
        const double *xs = X + ((size_t)(b0 + bb) * x->T + t0) * nin;
        const size_t cnt = (size_t)tc * nin;
        REAL *xb = Xs + (size_t)bb * cnt;
        for (size_t k = 0; k < cnt; k++)
            xb[k] = (REAL)xs[k];
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tc, np, nin, 1, xb, nin, x->a.P, nin, 0,
             PX + (size_t)bb * np, nb * np);
        if (MX) {
            for (size_t k = 0; k < cnt; k++)
                xb[k] = (REAL)fabs(xs[k]);
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tc, np, nin, 1, xb, nin, x->a.M_in,
                 nin, 0, MX + (size_t)bb * np, nb * np);
        }
    }
}

/** Noise for trial @p b (global index) at step @p k: V[i] += s[i] xi(seed, b, k, i). */
static void SFX(add_noise)(int n, uint64_t seed, int b, int64_t k, const REAL *s, REAL *V)
{
    for (int i = 0; i < n; i += 2) {
        double n0, n1;
        eir_normal2(seed, (uint32_t)(i >> 1), (uint32_t)k, (uint32_t)b,
                    EIR_STREAM_NOISE | ((uint32_t)((uint64_t)k >> 32) << 8), &n0, &n1);
        V[i] += (REAL)(s[i] * n0);
        if (i + 1 < n) V[i + 1] += (REAL)(s[i + 1] * n1);
    }
}

/** Copy one row of trial-major state (all N or the subset) into an output buffer row. */
static void SFX(record_row)(const sim_ctx *x, const REAL *src, REAL *dst)
{
    if (!x->r->neurons) {
        memcpy(dst, src, (size_t)x->n * sizeof *dst);
    } else {
        const int *idx = x->r->neurons;
        for (int k = 0; k < x->n_rec; k++)
            dst[k] = src[idx[k]];
    }
}

/**
 * Record row @p row for the chunk's trials: V, r from V/R, z from Z, and y = W_out r + b_out
 * through the scratch @p Yb (nb x n_out_pad).
 */
static void SFX(record)(const sim_ctx *x, int b0, int nb, int64_t row, const REAL *V, const REAL *R,
                        const REAL *Z, REAL *Yb)
{
    const eir_run_desc *r = x->r;
    const int n = x->n;
    const size_t nrec = (size_t)x->n_rec;
    for (int bb = 0; bb < nb; bb++) {
        size_t off = ((size_t)(b0 + bb) * x->rows + row) * nrec;
        if (r->out[EIR_VAR_V]) SFX(record_row)(x, V + (size_t)bb * n, (REAL *)r->out[0] + off);
        if (r->out[EIR_VAR_R]) SFX(record_row)(x, R + (size_t)bb * n, (REAL *)r->out[1] + off);
        if (r->out[EIR_VAR_Z]) SFX(record_row)(x, Z + (size_t)bb * n, (REAL *)r->out[2] + off);
    }
    if (r->out[EIR_VAR_Y]) {
        const int no = x->n_out, nop = x->m->n_out_pad;
        const size_t ld = (size_t)x->rows * no;
        REAL *Y = (REAL *)r->out[EIR_VAR_Y] + (size_t)b0 * ld + (size_t)row * no;
        const REAL *bo = x->a.b_out;
        for (int o = 0; o < nb; o += EIR_TRIAL_BLOCK) /* per block, as in products() */
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans,
                 nb - o < EIR_TRIAL_BLOCK ? nb - o : EIR_TRIAL_BLOCK, nop, x->n_read, 1,
                 R + (size_t)o * n, n, x->a.W_out, x->n_read, 0, Yb + (size_t)o * nop, nop);
        for (int bb = 0; bb < nb; bb++)
            for (int o = 0; o < no; o++)
                Y[bb * ld + o] = Yb[(size_t)bb * nop + o] + bo[o];
    }
}

/** Integrate the trials of chunk @p c from step 0 to T (or divergence / cancellation). */
void SFX(sim_chunk_run)(sim_chunk *c)
{
    sim_ctx *x = c->ctx;
    const eir_run_desc *r = x->r;
    const eir_model *m = x->m;
    const int n = x->n, nb = c->nb, b0 = c->b0, nin = x->n_in;
    const size_t nbn = (size_t)nb * n;
    const size_t nbp = (size_t)nb * m->n_pad; /* rows of products and projections */
    const double dt = r->dt, sigma = m->sigma;
    const int has_inputs = r->inputs && nin > 0;
    const int gated_inputs = has_inputs && m->M_in;
    const int64_t tcap = has_inputs ? x->Tc : 0;
    const size_t u2len = m->gate == EIR_GATE_FUSED ? 2 * nbp : nbp;
    const size_t ylen = (size_t)nb * m->n_out_pad;

    /* one allocation for the whole workspace */
    size_t len = nbn * 5 /* V R I Z S */ + nbp /* U1 */ + u2len + ylen + (size_t)n /* zeros */;
    if (r->integrator == EIR_INTEG_RK4) len += 2 * nbn; /* Vs, acc */
    if (has_inputs) len += (size_t)tcap * nbp * (gated_inputs ? 2 : 1) + (size_t)tcap * nb * nin;
    REAL *ws = calloc(len, sizeof *ws);
    int *act = malloc(((size_t)n + 1) * sizeof *act); /* active cells of the column kernel */
    c->div_step = -1;
    c->div_trial = -1;
    c->max_zdt = 0.0;
    if (!ws || !act) {
        free(ws);
        free(act);
        c->status = EIR_ENOMEM;
        return;
    }
    REAL *V = ws, *R = V + nbn, *Ib = R + nbn, *Zb = Ib + nbn, *Sn = Zb + nbn, *U1 = Sn + nbn;
    REAL *U2 = U1 + nbp, *Yb = U2 + u2len, *zero = Yb + ylen, *tail = zero + n;
    REAL *Vs = NULL, *Acc = NULL;
    if (r->integrator == EIR_INTEG_RK4) {
        Vs = tail;
        Acc = Vs + nbn;
        tail = Acc + nbn;
    }
    REAL *PX = NULL, *MX = NULL, *Xs = NULL;
    if (has_inputs) {
        PX = tail;
        tail += (size_t)tcap * nbp;
        if (gated_inputs) {
            MX = tail;
            tail += (size_t)tcap * nbp;
        }
        Xs = tail;
    }

    /* initial state */
    for (int bb = 0; bb < nb; bb++) {
        REAL *v = V + (size_t)bb * n;
        for (int i = 0; i < n; i++) {
            double v0 = 0.0;
            if (r->V0_len == 1)
                v0 = r->V0[0];
            else if (r->V0_len == n)
                v0 = r->V0[i];
            else if (r->V0_len > n)
                v0 = r->V0[(size_t)(b0 + bb) * n + i];
            v[i] = (REAL)v0;
        }
        SFX(activate)(&m->act, n, v, R + (size_t)bb * n);
    }

    const int rk4 = r->integrator == EIR_INTEG_RK4;
    double *rate_e = x->rate_e + b0, *rate_i = x->rate_i + b0;
    int64_t chunk_t0 = 0, chunk_t1 = 0; /* projected input window [t0, t1) */
    int64_t k = 0;
    c->status = EIR_OK;
    for (k = 0; k < x->T; k++) {
        if (atomic_load_explicit(&x->cancel, memory_order_relaxed)) {
            c->status = EIR_ECANCELLED;
            break;
        }
        /* a step equal to the lowest diverged step is still computed: a lower trial of this
         * chunk may diverge at the same step and must be the one reported */
        if (k > atomic_load_explicit(&x->stop_step, memory_order_relaxed)) break;
        if (has_inputs && k >= chunk_t1) {
            chunk_t0 = k;
            chunk_t1 = k + tcap < x->T ? k + tcap : x->T;
            SFX(project_inputs)(x, b0, nb, chunk_t0, chunk_t1 - chunk_t0, PX, MX, Xs);
        }
        const size_t poff = (size_t)(k - chunk_t0) * nbp;
        const size_t np = (size_t)m->n_pad;
        const int recording = (k + 1) % x->every == 0;

        /* stage 1 (every integrator): products at r_k, drive and gate z_k */
        SFX(products)(x, nb, R, U1, U2, act);
        double zmax = 0.0;
        for (int bb = 0; bb < nb; bb++) {
            const size_t o = (size_t)bb * n;
            const REAL *px = has_inputs ? PX + poff + bb * np : zero;
            const REAL *mx = gated_inputs ? MX + poff + bb * np : zero;
            SFX(drive_row)(x, bb, U1, U2, px, mx, Ib + o, Zb + o);
            double zr = 0.0;
            switch (r->integrator) {
            case EIR_INTEG_EXP_EULER:
                zr = SFX(step_exp_euler)(n, dt, sigma, Ib + o, Zb + o, V + o,
                                         sigma > 0 ? Sn + o : NULL);
                break;
            case EIR_INTEG_EULER:
                zr = SFX(step_euler)(n, dt, Ib + o, Zb + o, V + o);
                break;
            case EIR_INTEG_RK4:
                for (int i = 0; i < n; i++)
                    zr = Zb[o + i] * dt > zr ? Zb[o + i] * dt : zr;
                SFX(rk4_stage)
                (n, Ib + o, Zb + o, V + o, V + o, Acc + o, 1, 1, (REAL)(dt / 2), Vs + o);
                break;
            }
            zmax = zr > zmax ? zr : zmax;
        }
        if (rk4) {
            /* stages 2-4 re-evaluate rates, products, drive and gate at the stage state */
            static const double wts[3] = {2.0, 2.0, 1.0};
            static const double next_h[3] = {0.5, 1.0, 0.0};
            for (int st = 0; st < 3; st++) {
                for (int bb = 0; bb < nb; bb++)
                    SFX(activate)(&m->act, n, Vs + (size_t)bb * n, R + (size_t)bb * n);
                SFX(products)(x, nb, R, U1, U2, act);
                for (int bb = 0; bb < nb; bb++) {
                    const size_t o = (size_t)bb * n;
                    const REAL *px = has_inputs ? PX + poff + bb * np : zero;
                    const REAL *mx = gated_inputs ? MX + poff + bb * np : zero;
                    /* stage drive in Ib, stage gate in Sn: Zb keeps z_k for recording */
                    REAL *Is = Ib + o, *zs = Sn + o;
                    SFX(drive_row)(x, bb, U1, U2, px, mx, Is, zs);
                    SFX(rk4_stage)
                    (n, Is, zs, Vs + o, V + o, Acc + o, (REAL)wts[st], 0, (REAL)(next_h[st] * dt),
                     st < 2 ? Vs + o : NULL);
                }
            }
            const REAL h6 = (REAL)(dt / 6.0);
            for (size_t q = 0; q < nbn; q++)
                V[q] += h6 * Acc[q];
            if (sigma > 0) {
                const REAL s = (REAL)(sigma * sqrt(dt));
                for (size_t q = 0; q < (size_t)n; q++)
                    Sn[q] = s;
            }
        } else if (r->integrator == EIR_INTEG_EULER && sigma > 0) {
            const REAL s = (REAL)(sigma * sqrt(dt));
            for (size_t q = 0; q < (size_t)n; q++)
                Sn[q] = s;
        }
        c->max_zdt = zmax > c->max_zdt ? zmax : c->max_zdt;

        /* noise, rates, statistics, divergence */
        int diverged_row = -1;
        for (int bb = 0; bb < nb; bb++) {
            const size_t o = (size_t)bb * n;
            if (sigma > 0) {
                const REAL *s = r->integrator == EIR_INTEG_EXP_EULER ? Sn + o : Sn;
                SFX(add_noise)(n, r->seed, b0 + bb, k, s, V + o);
            }
            SFX(activate)(&m->act, n, V + o, R + o);
            double se = 0.0, si = 0.0;
            if (SFX(row_stats)(n, x->n_e, V + o, R + o, &se, &si) && diverged_row < 0)
                diverged_row = bb;
            rate_e[bb] += se;
            rate_i[bb] += si;
        }
        if (diverged_row >= 0) {
            c->div_step = k;
            c->div_trial = b0 + diverged_row;
            int64_t cur = atomic_load(&x->stop_step);
            while (k < cur && !atomic_compare_exchange_weak(&x->stop_step, &cur, k)) {
            }
            break;
        }
        if (recording) SFX(record)(x, b0, nb, (k + 1) / x->every - 1, V, R, Zb, Yb);
        atomic_store_explicit(&c->steps_done, k + 1, memory_order_relaxed);
        if (!x->monitored && r->progress && (k + 1) % x->progress_every == 0 && k + 1 < x->T) {
            if (r->progress(r->progress_ctx, k + 1, x->T)) atomic_store(&x->cancel, 1);
        }
    }
    /* rows of steps not completed are NaN */
    int64_t done = atomic_load(&c->steps_done);
    for (int bb = 0; bb < nb; bb++)
        x->trial_steps[b0 + bb] = done;
    sim_nan_fill(x, b0, nb, done / x->every);
    free(ws);
    free(act);
}

#undef HOT
