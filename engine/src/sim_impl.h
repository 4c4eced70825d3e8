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

#define ACT_FN SFX(activate)
#include "act_impl.h"

/**
 * Sums of r over the E cells and the I cells of [i0, i1) (E cells are [0, n_e)) into *se,
 * *si; returns non-zero when any V in [i0, i1) is not finite. @p V and @p R are whole rows.
 */
HOT static int SFX(row_stats)(int i0, int i1, int n_e, const REAL *restrict V,
                              const REAL *restrict R, double *se, double *si)
{
    int bad = 0;
    double a = 0.0, b = 0.0;
    const int e1 = i1 < n_e ? i1 : n_e, l0 = i0 > n_e ? i0 : n_e;
#pragma omp simd reduction(| : bad)
    for (int i = i0; i < i1; i++)
        bad |= !((V[i] - V[i]) == 0);
#pragma omp simd reduction(+ : a)
    for (int i = i0; i < e1; i++)
        a += R[i];
#pragma omp simd reduction(+ : b)
    for (int i = l0; i < i1; i++)
        b += R[i];
    *se += a;
    *si += b;
    return bad;
}

/* ---- work items: EIR_TRIAL_BLOCK trials x SIM_NEURON_BLOCK cells --------------------------- */

#define TYPED(field) ((REAL *)x->w.field)

/** Gather into @p act the cells j in [j0, j1) with r_j != 0; returns how many. */
static int SFX(gather_active)(int j0, int j1, const REAL *restrict r, int *restrict act)
{
    int na = 0;
    for (int j = j0; j < j1; j++) {
        act[na] = j;
        na += r[j] != 0;
    }
    return na;
}

/**
 * u[0..len) = sum over the @p na active cells j of r_j col_j, where col_j = Mt + j ld is
 * column j of the product matrix from the item's first row on (columns zero-padded to the
 * matrix's n_pad rows). Four columns are added per pass over u. Deterministic: the order of
 * additions for an element depends only on the rates, not on the rows of the item.
 */
HOT static void SFX(colacc)(int len, const REAL *restrict Mt, int ld, const REAL *restrict r,
                            const int *restrict act, int na, REAL *restrict u)
{
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

/**
 * U[b][0..len) = sum over j < k of R[b][j] A[i][j] for the @p nb trial rows of R and the
 * @p len rows of A (row strides N), into rows of U strided @p ldu: one BLAS call.
 */
static void SFX(gemm_rows)(const sim_ctx *x, int nb, int len, int k, const REAL *R, const REAL *A,
                           REAL *U, size_t ldu)
{
    if (k == 0) {
        for (int b = 0; b < nb; b++)
            memset(U + (size_t)b * ldu, 0, (size_t)len * sizeof *U);
    } else if (x->use_gemv) {
        GEMV(CblasRowMajor, CblasNoTrans, len, k, 1, A, x->n, R, 1, 0, U, 1);
    } else {
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nb, len, k, 1, R, x->n, A, x->n, 0, U,
             (int)ldu);
    }
}

/** Single-trial column kernel for the item's rows: see sim_arrays::mt. */
static void SFX(products_columns)(const sim_ctx *x, const sim_item *it, REAL *U1, REAL *U2,
                                  int *act)
{
    const int n = x->n, np = x->m->n_pad, ne = x->n_e, len = it->p1 - it->i0, ld = x->a.mt_ld;
    const REAL *mt = (const REAL *)x->a.mt + it->i0, *R = TYPED(R);
    int na;
    switch (x->m->gate) {
    case EIR_GATE_NONE:
        na = SFX(gather_active)(0, n, R, act);
        SFX(colacc)(len, mt, ld, R, act, na, U1);
        break;
    case EIR_GATE_SPLIT:
        na = SFX(gather_active)(0, ne, R, act);
        SFX(colacc)(len, mt, ld, R, act, na, U1);
        na = SFX(gather_active)(ne, n, R, act);
        SFX(colacc)(len, mt, ld, R, act, na, U2);
        break;
    case EIR_GATE_FUSED:
        na = SFX(gather_active)(0, n, R, act);
        SFX(colacc)(len, mt, ld, R, act, na, U2);
        SFX(colacc)(len, mt + np, ld, R, act, na, U2 + np);
        break;
    }
}

/**
 * Sum over the nonzeros k in [k0, k1) of v[k] r[c[k]]: four partial sums over consecutive
 * groups of four, added as (s0 + s1) + (s2 + s3), then the rest in order. The order depends
 * only on the row, never on the item or the thread.
 */
HOT static REAL SFX(row_dot)(const REAL *restrict v, const int *restrict c, size_t k0, size_t k1,
                             const REAL *restrict r)
{
    REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t k = k0;
    for (; k + 4 <= k1; k += 4) {
        s0 += v[k] * r[c[k]];
        s1 += v[k + 1] * r[c[k + 1]];
        s2 += v[k + 2] * r[c[k + 2]];
        s3 += v[k + 3] * r[c[k + 3]];
    }
    REAL s = (s0 + s1) + (s2 + s3);
    for (; k < k1; k++)
        s += v[k] * r[c[k]];
    return s;
}

/**
 * row_dot() for @p nb trials at once: out[b] = sum of v[k] rt[c[k]][b], rt cell-major with
 * EIR_TRIAL_BLOCK trials per cell; the same order of additions as row_dot() per trial.
 */
HOT static void SFX(row_dot_block)(int nb, const REAL *restrict v, const int *restrict c, size_t k0,
                                   size_t k1, const REAL *restrict rt, REAL *restrict out)
{
    REAL s[4][EIR_TRIAL_BLOCK];
    memset(s, 0, sizeof s);
    size_t k = k0;
    for (; k + 4 <= k1; k += 4)
        for (int q = 0; q < 4; q++) {
            const REAL w = v[k + q];
            const REAL *restrict x = rt + (size_t)c[k + q] * EIR_TRIAL_BLOCK;
            for (int b = 0; b < nb; b++)
                s[q][b] += w * x[b];
        }
    for (int b = 0; b < nb; b++)
        out[b] = (s[0][b] + s[1][b]) + (s[2][b] + s[3][b]);
    for (; k < k1; k++) {
        const REAL w = v[k];
        const REAL *restrict x = rt + (size_t)c[k] * EIR_TRIAL_BLOCK;
        for (int b = 0; b < nb; b++)
            out[b] += w * x[b];
    }
}

/**
 * The products of item @p it from the compressed rows: row i of U is the sum over the panels,
 * in order, of the row_dot() of row i's nonzeros in the panel (NONE: W into U1; SPLIT: S's E
 * panels into U1, its I panels into U2; FUSED: W and M into U2's two halves); rows past N are
 * 0. The panels are the outer loop, so a panel's rates stay in the L1 cache over the item's
 * rows. With several trials their rates are first copied cell-major into @p rt (this thread's
 * scratch) so that one pass over a row's nonzeros serves the whole trial block, in the same
 * order of additions per trial as with one.
 */
static void SFX(products_sparse)(const sim_ctx *x, const sim_item *it, REAL *U1, REAL *U2,
                                 size_t ld2, REAL *rt)
{
    const eir_model *m = x->m;
    const int n = x->n, np = m->n_pad, nb = it->nb, i0 = it->i0, i1 = it->i1, len = it->p1 - i0;
    const size_t stride = (size_t)n + 1;
    const int *ci = x->a.ci;
    const REAL *sv = (const REAL *)x->a.sv, *mv = (const REAL *)x->a.mv;
    const REAL *R = TYPED(R) + (size_t)it->b0 * n;
    const eir_gate_kind gate = m->gate;
    const int fused = gate == EIR_GATE_FUSED;
    REAL o1[EIR_TRIAL_BLOCK], o2[EIR_TRIAL_BLOCK];
    if (nb > 1)
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < n; j++)
                rt[(size_t)j * EIR_TRIAL_BLOCK + b] = R[(size_t)b * n + j];
    for (int b = 0; b < nb; b++) {
        memset(U1 + (size_t)b * np, 0, (size_t)len * sizeof *U1);
        memset(U2 + (size_t)b * ld2, 0, (size_t)len * sizeof *U2);
        if (fused) memset(U2 + (size_t)b * ld2 + np, 0, (size_t)len * sizeof *U2);
    }
    for (int q = 0; q < m->n_panels; q++) {
        const size_t *rp = x->a.rp + (size_t)q * stride;
        /* where this panel's sums go: U1 (NONE, SPLIT's E panels) or U2 */
        REAL *D = fused || (gate == EIR_GATE_SPLIT && q >= m->n_panel_e) ? U2 : U1;
        const size_t ldd = D == U2 ? ld2 : (size_t)np;
        for (int i = i0; i < i1; i++) {
            const size_t a = rp[i], e = rp[i + 1];
            if (a == e) continue;
            if (nb == 1) {
                o1[0] = SFX(row_dot)(sv, ci, a, e, R);
                if (fused) o2[0] = SFX(row_dot)(mv, ci, a, e, R);
            } else {
                SFX(row_dot_block)(nb, sv, ci, a, e, rt, o1);
                if (fused) SFX(row_dot_block)(nb, mv, ci, a, e, rt, o2);
            }
            for (int b = 0; b < nb; b++) {
                D[(size_t)b * ldd + (i - i0)] += o1[b];
                if (fused) U2[(size_t)b * ld2 + np + (i - i0)] += o2[b];
            }
        }
    }
}

/**
 * Recurrent products of item @p it (its trials, its rows [i0, p1) of the n_pad outputs).
 * NONE: U1 = R W^T. SPLIT: U1 = R_E S_E^T, U2 = R_I S_I^T. FUSED: U2 = R [W; M]^T, rows
 * 2 n_pad long (W's outputs, then M's). Always the same calls for the same item.
 */
static void SFX(products_item)(const sim_ctx *x, const sim_item *it, int *act)
{
    const int n = x->n, np = x->m->n_pad, ne = x->n_e, len = it->p1 - it->i0, nb = it->nb;
    const size_t ld2 = x->m->gate == EIR_GATE_FUSED ? 2 * (size_t)np : (size_t)np;
    REAL *U1 = TYPED(U1) + (size_t)it->b0 * np + it->i0;
    REAL *U2 = TYPED(U2) + (size_t)it->b0 * ld2 + it->i0;
    if (x->a.mt) {
        SFX(products_columns)(x, it, U1, U2, act);
        return;
    }
    if (x->a.sv) {
        /* this thread's rate scratch: threads' act arrays are N + 1 apart (sim_ws) */
        const size_t tid = (size_t)(act - x->w.act) / (size_t)(n + 1);
        REAL *rt = x->w.rt ? TYPED(rt) + tid * (size_t)n * EIR_TRIAL_BLOCK : NULL;
        SFX(products_sparse)(x, it, U1, U2, ld2, rt);
        return;
    }
    const REAL *R = TYPED(R) + (size_t)it->b0 * n;
    const REAL *A = (const REAL *)x->a.mat + (size_t)it->i0 * n; /* the item's first row */
    switch (x->m->gate) {
    case EIR_GATE_NONE:
        SFX(gemm_rows)(x, nb, len, n, R, A, U1, (size_t)np);
        break;
    case EIR_GATE_SPLIT:
        SFX(gemm_rows)(x, nb, len, ne, R, A, U1, (size_t)np);
        SFX(gemm_rows)(x, nb, len, n - ne, R + ne, A + ne, U2, (size_t)np);
        break;
    case EIR_GATE_FUSED:
        SFX(gemm_rows)(x, nb, len, n, R, A, U2, ld2);
        SFX(gemm_rows)(x, nb, len, n, R, A + (size_t)np * n, U2 + np, ld2);
        break;
    }
}

/**
 * Drive and gate of trial @p b, cells [i0, i0 + len), at step @p k from the products and the
 * projected inputs, into Id and z (both pointing at cell i0).
 */
static void SFX(drive_at)(const sim_ctx *x, int b, int i0, int len, int64_t k, REAL *Id, REAL *z)
{
    const size_t np = (size_t)x->m->n_pad;
    const sim_arrays *a = &x->a;
    const REAL *px = TYPED(zero), *mx = TYPED(zero);
    if (x->w.PX) {
        const size_t off = ((size_t)(k % x->Tc) * x->B + b) * np + i0;
        px = TYPED(PX) + off;
        if (x->w.MX) mx = TYPED(MX) + off;
    }
    const REAL *bias = (const REAL *)a->bias + i0, *leak = (const REAL *)a->leak + i0;
    switch (x->m->gate) {
    case EIR_GATE_NONE:
        SFX(drive_none)(len, TYPED(U1) + b * np + i0, bias, px, leak, mx, Id, z);
        break;
    case EIR_GATE_SPLIT:
        SFX(drive_split)
        (len, TYPED(U1) + b * np + i0, TYPED(U2) + b * np + i0, (const REAL *)a->cE + i0,
         (const REAL *)a->cI + i0, (const REAL *)a->gE + i0, (const REAL *)a->gI + i0, bias, px,
         leak, mx, Id, z);
        break;
    case EIR_GATE_FUSED:
        SFX(drive_fused)
        (len, TYPED(U2) + b * 2 * np + i0, TYPED(U2) + b * 2 * np + np + i0, bias, px, leak, mx, Id,
         z);
        break;
    }
}

/**
 * Project the inputs of steps [t0, t0 + tc) of trial @p b: PX[t][b] = P x, and MX[t][b] =
 * M_in |x| when input gating is on (rows n_pad long). One call per trial and window. Described
 * inputs are first expanded into the trial's double scratch (Xd), then projected exactly as the
 * same values sent as an array.
 */
static void SFX(project_trial)(sim_ctx *x, int b, int64_t t0, int64_t tc)
{
    const int np = x->m->n_pad, nin = x->n_in;
    const double *xs;
    if (x->r->input_desc) {
        double *xd = x->w.Xd + (size_t)b * x->Tc * nin;
        eir_input_expand(x->r->input_desc, nin, b, t0, tc, xd);
        xs = xd;
    } else {
        xs = x->r->inputs + ((size_t)b * x->T + t0) * nin;
    }
    const size_t cnt = (size_t)tc * nin;
    REAL *xb = TYPED(Xs) + (size_t)b * x->Tc * nin;
    for (size_t q = 0; q < cnt; q++)
        xb[q] = (REAL)xs[q];
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tc, np, nin, 1, xb, nin, x->a.P, nin, 0,
         TYPED(PX) + (size_t)b * np, x->B * np);
    if (x->w.MX) {
        for (size_t q = 0; q < cnt; q++)
            xb[q] = (REAL)fabs(xs[q]);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tc, np, nin, 1, xb, nin, x->a.M_in, nin,
             0, TYPED(MX) + (size_t)b * np, x->B * np);
    }
}

/** Noise for trial @p b at step @p k, cells [i0, i1) (i0 even): V[i] += s[i] xi(seed, b, k, i). */
static void SFX(add_noise)(int i0, int i1, uint64_t seed, int b, int64_t k, const REAL *s, REAL *V)
{
    for (int i = i0; i < i1; i += 2) {
        double n0, n1;
        eir_normal2(seed, (uint32_t)(i >> 1), (uint32_t)k, (uint32_t)b,
                    EIR_STREAM_NOISE | ((uint32_t)((uint64_t)k >> 32) << 8), &n0, &n1);
        V[i] += (REAL)(s[i] * n0);
        if (i + 1 < i1) V[i + 1] += (REAL)(s[i + 1] * n1);
    }
}

/** Copy cells [i0, i1) of a state row (all N, or those of the recorded subset) to @p dst. */
static void SFX(record_range)(const sim_ctx *x, int i0, int i1, const REAL *src, REAL *dst)
{
    if (!x->r->neurons) {
        memcpy(dst + i0, src + i0, (size_t)(i1 - i0) * sizeof *dst);
        return;
    }
    const int *idx = x->r->neurons;
    for (int q = 0; q < x->n_rec; q++)
        if (idx[q] >= i0 && idx[q] < i1) dst[q] = src[idx[q]];
}

/** y = W_out r + b_out of trial block @p tb into recorded row @p row (one call per block). */
static void SFX(record_y_block)(sim_ctx *x, int tb, int64_t row)
{
    const int n = x->n, no = x->n_out, nop = x->m->n_out_pad;
    const int b0 = tb * EIR_TRIAL_BLOCK;
    const int nb = x->B - b0 < EIR_TRIAL_BLOCK ? x->B - b0 : EIR_TRIAL_BLOCK;
    const size_t ld = (size_t)x->rows * no;
    REAL *Y = (REAL *)x->r->out[EIR_VAR_Y] + (size_t)b0 * ld + (size_t)row * no;
    REAL *Yb = TYPED(Yb) + (size_t)b0 * nop;
    const REAL *bo = x->a.b_out;
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, nb, nop, x->n_read, 1, TYPED(R) + (size_t)b0 * n,
         n, x->a.W_out, x->n_read, 0, Yb, nop);
    for (int bb = 0; bb < nb; bb++)
        for (int o = 0; o < no; o++)
            Y[bb * ld + o] = Yb[(size_t)bb * nop + o] + bo[o];
}

void SFX(sim_record_last_y)(sim_ctx *x)
{
    for (int tb = 0; tb < x->n_tb; tb++)
        SFX(record_y_block)(x, tb, x->T / x->every - 1);
}

/** Initial V and r of the item's cells; the constant noise scale of its cells (first block). */
static void SFX(init_item)(sim_ctx *x, const sim_item *it)
{
    const eir_run_desc *r = x->r;
    const int n = x->n;
    for (int b = it->b0; b < it->b0 + it->nb; b++) {
        REAL *v = TYPED(V) + (size_t)b * n;
        for (int i = it->i0; i < it->i1; i++) {
            double v0 = 0.0;
            if (r->V0_len == 1)
                v0 = r->V0[0];
            else if (r->V0_len == n)
                v0 = r->V0[i];
            else if (r->V0_len > n)
                v0 = r->V0[(size_t)b * n + i];
            v[i] = (REAL)v0;
        }
        SFX(activate)(&x->m->act, it->i1 - it->i0, v + it->i0, TYPED(R) + (size_t)b * n + it->i0);
    }
    if (it->b0 == 0)
        for (int i = it->i0; i < it->i1; i++)
            TYPED(noise_s)[i] = (REAL)(x->m->sigma * sqrt(r->dt));
}

#include "sim_stats_impl.h" /* stats_item(), settle_item() */

/**
 * End of step @p k for the item: noise, rates, statistics, divergence flag, and the recorded
 * V, r, z when step k is kept.
 */
static void SFX(finish_item)(sim_ctx *x, const sim_item *it, int64_t k)
{
    const eir_run_desc *r = x->r;
    const int n = x->n, i0 = it->i0, i1 = it->i1;
    const int recording = (k + 1) % x->every == 0;
    const int64_t row = (k + 1) / x->every - 1;
    for (int b = it->b0; b < it->b0 + it->nb; b++) {
        const size_t o = (size_t)b * n;
        REAL *V = TYPED(V) + o, *R = TYPED(R) + o;
        if (x->m->sigma > 0) {
            const REAL *s = r->integrator == EIR_INTEG_EXP_EULER ? TYPED(S) + o : TYPED(noise_s);
            SFX(add_noise)(i0, i1, r->seed, b, k, s, V);
        }
        SFX(activate)(&x->m->act, i1 - i0, V + i0, R + i0);
        const size_t cell = (size_t)b * x->n_nb + (size_t)(i0 / SIM_NEURON_BLOCK);
        if (SFX(row_stats)(i0, i1, x->n_e, V, R, &x->w.sum_e[cell], &x->w.sum_i[cell])) {
            x->w.bad[cell] = 1;
            atomic_store_explicit(&x->any_bad, 1, memory_order_relaxed);
        }
        if (x->st.nv > 0) SFX(stats_item)(x, b, i0, i1, k);
        if (!recording) continue;
        const size_t off = ((size_t)b * x->rows + row) * (size_t)x->n_rec;
        if (r->out[EIR_VAR_V]) SFX(record_range)(x, i0, i1, V, (REAL *)r->out[EIR_VAR_V] + off);
        if (r->out[EIR_VAR_R]) SFX(record_range)(x, i0, i1, R, (REAL *)r->out[EIR_VAR_R] + off);
        if (r->out[EIR_VAR_Z])
            SFX(record_range)(x, i0, i1, TYPED(Z) + o, (REAL *)r->out[EIR_VAR_Z] + off);
    }
}

/** Step @p k of the item with exp_euler or euler, then finish_item(). */
static void SFX(update_item)(sim_ctx *x, const sim_item *it, int64_t k, double *zmax)
{
    const int n = x->n, i0 = it->i0, len = it->i1 - it->i0;
    const double dt = x->r->dt, sigma = x->m->sigma;
    for (int b = it->b0; b < it->b0 + it->nb; b++) {
        const size_t o = (size_t)b * n + i0;
        REAL *Id = TYPED(Ib) + o, *z = TYPED(Z) + o, *V = TYPED(V) + o;
        SFX(drive_at)(x, b, i0, len, k, Id, z);
        if (k >= x->st.settle_from) SFX(settle_item)(x, b, i0 / SIM_NEURON_BLOCK, len, Id, z, V);
        double zr =
            x->r->integrator == EIR_INTEG_EXP_EULER
                ? SFX(step_exp_euler)(len, dt, sigma, Id, z, V, sigma > 0 ? TYPED(S) + o : NULL)
                : SFX(step_euler)(len, dt, Id, z, V);
        *zmax = zr > *zmax ? zr : *zmax;
    }
    SFX(finish_item)(x, it, k);
}

/** RK4 stage 1 of the item: drive and gate z_k (kept in Z), k1, Vs = V + dt/2 k1, r(Vs). */
static void SFX(rk4_first_item)(sim_ctx *x, const sim_item *it, int64_t k, double *zmax)
{
    const int n = x->n, i0 = it->i0, len = it->i1 - it->i0;
    const double dt = x->r->dt;
    for (int b = it->b0; b < it->b0 + it->nb; b++) {
        const size_t o = (size_t)b * n + i0;
        REAL *Id = TYPED(Ib) + o, *z = TYPED(Z) + o, *Vs = TYPED(Vs) + o;
        SFX(drive_at)(x, b, i0, len, k, Id, z);
        if (k >= x->st.settle_from)
            SFX(settle_item)(x, b, i0 / SIM_NEURON_BLOCK, len, Id, z, TYPED(V) + o);
        double zr = 0.0;
        for (int i = 0; i < len; i++)
            zr = z[i] * dt > zr ? z[i] * dt : zr;
        *zmax = zr > *zmax ? zr : *zmax;
        SFX(rk4_stage)
        (len, Id, z, TYPED(V) + o, TYPED(V) + o, TYPED(Acc) + o, 1, 1, (REAL)(dt / 2), Vs);
        SFX(activate)(&x->m->act, len, Vs, TYPED(R) + o);
    }
}

/**
 * RK4 stage @p st + 2 of the item at the stage state: drive in I, gate in S (Z keeps z_k).
 * Stages 2 and 3 set the next stage state and its rates; stage 4 completes V and finishes.
 */
static void SFX(rk4_next_item)(sim_ctx *x, const sim_item *it, int64_t k, int st)
{
    static const double wts[3] = {2.0, 2.0, 1.0};
    static const double next_h[3] = {0.5, 1.0, 0.0};
    const int n = x->n, i0 = it->i0, len = it->i1 - it->i0;
    const double dt = x->r->dt;
    for (int b = it->b0; b < it->b0 + it->nb; b++) {
        const size_t o = (size_t)b * n + i0;
        REAL *Is = TYPED(Ib) + o, *zs = TYPED(S) + o, *Vs = TYPED(Vs) + o, *V = TYPED(V) + o;
        REAL *Acc = TYPED(Acc) + o;
        SFX(drive_at)(x, b, i0, len, k, Is, zs);
        SFX(rk4_stage)
        (len, Is, zs, Vs, V, Acc, (REAL)wts[st], 0, (REAL)(next_h[st] * dt), st < 2 ? Vs : NULL);
        if (st < 2) {
            SFX(activate)(&x->m->act, len, Vs, TYPED(R) + o);
        } else {
            const REAL h6 = (REAL)(dt / 6.0);
            for (int i = 0; i < len; i++)
                V[i] += h6 * Acc[i];
        }
    }
    if (st == 2) SFX(finish_item)(x, it, k);
}

/* ---- the team's step loop ------------------------------------------------------------------ */

/** A thread's share [*lo, *hi) of @p count things, the same for every step. */
static void SFX(share)(int count, int tid, int nt, int *lo, int *hi)
{
    *lo = (int)((int64_t)count * tid / nt);
    *hi = (int)((int64_t)count * (tid + 1) / nt);
}

/**
 * Before the products of step @p k: thread 0 reports progress (a stop it asks for sets
 * x->cancel, which the next barrier reports to all); every thread ends a statistics interval
 * (sim_stats_step_start()) for its share of trials, projects its share of
 * trials' inputs at a window start and records y of step k - 1 for its share of trial blocks
 * (also when the run stops at step k: that row is kept).
 */
static void SFX(step_prepare)(sim_ctx *x, int tid, int nt, int64_t k)
{
    const eir_run_desc *r = x->r;
    int lo, hi;
    if (tid == 0 && k > 0 && r->progress && k % x->progress_every == 0) sim_progress(x, k);
    if (x->st.nv > 0) {
        SFX(share)(x->B, tid, nt, &lo, &hi);
        sim_stats_step_start(x, k, lo, hi);
    }
    if (x->w.PX && k % x->Tc == 0) {
        const int64_t tc = x->T - k < x->Tc ? x->T - k : x->Tc;
        SFX(share)(x->B, tid, nt, &lo, &hi);
        for (int b = lo; b < hi; b++)
            SFX(project_trial)(x, b, k, tc);
    }
    if (k > 0 && k % x->every == 0 && r->out[EIR_VAR_Y]) {
        SFX(share)(x->n_tb, tid, nt, &lo, &hi);
        for (int tb = lo; tb < hi; tb++)
            SFX(record_y_block)(x, tb, k / x->every - 1);
    }
}

/**
 * Phase B of an RK4 step for items [q0, q1): four stages, three more products. Returns 1 when
 * a barrier between them reported a stop (every thread returns at the same barrier).
 */
static int SFX(rk4_items)(sim_ctx *x, int tid, int q0, int q1, int64_t k, int *act, double *zmax)
{
    for (int q = q0; q < q1 && !sim_stopping(x, tid, k); q++) {
        sim_item it = sim_item_of(x, q);
        SFX(rk4_first_item)(x, &it, k, zmax);
    }
    for (int st = 0; st < 3; st++) {
        if (sim_step_barrier(x, tid, k)) return 1;
        for (int q = q0; q < q1 && !sim_stopping(x, tid, k); q++) {
            sim_item it = sim_item_of(x, q);
            SFX(products_item)(x, &it, act);
        }
        if (sim_step_barrier(x, tid, k)) return 1;
        for (int q = q0; q < q1 && !sim_stopping(x, tid, k); q++) {
            sim_item it = sim_item_of(x, q);
            SFX(rk4_next_item)(x, &it, k, st);
        }
    }
    return 0;
}

/**
 * Thread @p tid of a team of @p nt integrates its work items (a fixed share of the trial x
 * neuron blocks) in lockstep with the others: per step, products (phase A), barrier, updates
 * (phase B), barrier. Stops at T, after a step where some V became non-finite, or when the
 * run is stopping (x->cancel: the progress callback or r->stop): then each thread skips its
 * remaining items and all leave at the next barrier, the step under way not counted. Thread 0
 * records where (x->end_step, x->diverged).
 */
void SFX(sim_run)(sim_ctx *x, int tid, int nt)
{
    int q0, q1;
    SFX(share)(x->n_tb * x->n_nb, tid, nt, &q0, &q1);
    int *act = x->w.act + (size_t)tid * (x->n + 1);
    double *zmax = x->w.zmax + (size_t)tid * SIM_PAD_DOUBLES;
    const int rk4 = x->r->integrator == EIR_INTEG_RK4;
    for (int q = q0; q < q1; q++) {
        sim_item it = sim_item_of(x, q);
        SFX(init_item)(x, &it);
    }
    (void)sim_barrier_wait(&x->bar); /* a stop is seen at the first item */
    int64_t k;
    for (k = 0; k < x->T; k++) {
        SFX(step_prepare)(x, tid, nt, k);
        for (int q = q0; q < q1 && !sim_stopping(x, tid, k); q++) {
            sim_item it = sim_item_of(x, q);
            SFX(products_item)(x, &it, act);
        }
        if (sim_step_barrier(x, tid, k)) break;
        if (rk4) {
            if (SFX(rk4_items)(x, tid, q0, q1, k, act, zmax)) break;
        } else {
            for (int q = q0; q < q1 && !sim_stopping(x, tid, k); q++) {
                sim_item it = sim_item_of(x, q);
                SFX(update_item)(x, &it, k, zmax);
            }
        }
        if (sim_step_barrier(x, tid, k)) break;
        if (atomic_load_explicit(&x->any_bad, memory_order_relaxed)) break;
    }
    if (tid == 0) {
        x->end_step = k;
        x->diverged = k < x->T && atomic_load(&x->any_bad);
    }
}

#undef TYPED
#undef HOT
