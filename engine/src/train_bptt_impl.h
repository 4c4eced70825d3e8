/**
 * @file train_bptt_impl.h
 * @brief One chunk of a training batch: forward pass with stored states, loss, and
 *        backpropagation through time, written once and compiled per precision
 *        (engine-private; see train_internal.h for the layout).
 *
 * Included by train_bptt_f64.c and train_bptt_f32.c with REAL, SFX(name), GEMM and DECAY_GAIN
 * defined, as sim_impl.h is. The forward step is the engine's (sim_impl.h): the same drive and
 * gate sums, the same exp_euler and euler updates with the same decay/gain polynomial, the same
 * noise (Philox keyed by the call's noise key, counter (cell pair, step, trial, 0)) added after
 * the update, the same activation and the same readout. Only the recurrent products are summed
 * in another order (one GEMM per step over the chunk's trials and [W; M]).
 *
 * Backward, per step t from T-1 down to 0, with dv = d loss / d V_{t+1}:
 *   exp_euler  V' = V e + I g / z + s xi,  e = e^{-z dt}, g = 1 - e,
 *              s = sigma sqrt(g (2 - g) / (2 z)):
 *     dI = dv g / z,  d(direct) V = dv e,
 *     dz = dv (-dt V e + (I / z)(dt e - g / z) + (s xi) / (2 z) (2 z dt e^2 / (g (2 - g)) - 1))
 *   euler      V' = V + dt (-z V + I) + s xi:  dI = dt dv, dz = -dt V dv, direct dv (1 - dt z)
 * and then d loss / d r_t = dI W + dz M (+ readout and rate penalty terms), dv_t = that
 * f'(V_t) + the direct term. Nothing is allocated here.
 */

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "philox.h"
#include "train_internal.h"
#include "vmath.h"

#if defined(__SANITIZE_THREAD__)
#define HOT
#else
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

#define TA(p) ((REAL *)(p))

#define ACT_FN SFX(tr_activate) /* the run's own activation, named apart (act_impl.h) */
#include "act_impl.h"

/**
 * D[i] *= f'(V[i]) from V and r = f(V) (0 where the clamp holds r at r_max): relu 1 (V > 0),
 * tanh_rect and tanh 1 - r^2, sigmoid r (1 - r), softplus 1 - e^{-r}, power k n V^{n-1},
 * linear 1.
 */
HOT static void SFX(tr_gain)(const eir_activation *a, int n, const REAL *restrict V,
                             const REAL *restrict R, REAL *restrict D)
{
    switch (a->kind) {
    case EIR_ACT_RELU:
        for (int i = 0; i < n; i++)
            D[i] = V[i] > 0 ? D[i] : (REAL)0;
        break;
    case EIR_ACT_TANH_RECT:
        for (int i = 0; i < n; i++)
            D[i] = V[i] > 0 ? D[i] * (1 - R[i] * R[i]) : (REAL)0;
        break;
    case EIR_ACT_SIGMOID:
        for (int i = 0; i < n; i++)
            D[i] *= R[i] * (1 - R[i]);
        break;
    case EIR_ACT_SOFTPLUS:
        for (int i = 0; i < n; i++)
            D[i] *= (REAL)(-expm1(-(double)R[i]));
        break;
    case EIR_ACT_POWER:
        if (a->n == 2.0) {
            const REAL k2 = (REAL)(2 * a->k);
            for (int i = 0; i < n; i++)
                D[i] = V[i] > 0 ? D[i] * k2 * V[i] : (REAL)0;
        } else {
            for (int i = 0; i < n; i++)
                D[i] =
                    V[i] > 0 ? (REAL)(D[i] * a->k * a->n * pow((double)V[i], a->n - 1)) : (REAL)0;
        }
        break;
    case EIR_ACT_LINEAR:
        break;
    case EIR_ACT_TANH:
        for (int i = 0; i < n; i++)
            D[i] *= 1 - R[i] * R[i];
        break;
    }
    if (a->r_max < INFINITY) {
        const REAL cap = (REAL)a->r_max;
        for (int i = 0; i < n; i++)
            D[i] = R[i] < cap ? D[i] : (REAL)0;
    }
}

/**
 * Drive and gate of one trial row (sim_impl.h's drive_*), in place: on entry Id holds P x and z
 * M_in |x| (when @p mx_in), on return I = u + b + P x and z = G_b (+ g) (+ M_in |x|), summed in
 * the engine's order.
 */
HOT static void SFX(tr_drive)(int n, const REAL *restrict u, const REAL *restrict gm,
                              const REAL *restrict bias, const REAL *restrict leak, int mx_in,
                              REAL *restrict Id, REAL *restrict z)
{
    for (int i = 0; i < n; i++)
        Id[i] = u[i] + bias[i] + Id[i];
    if (gm && mx_in)
        for (int i = 0; i < n; i++)
            z[i] = leak[i] + gm[i] + z[i];
    else if (gm)
        for (int i = 0; i < n; i++)
            z[i] = leak[i] + gm[i];
    else if (mx_in)
        for (int i = 0; i < n; i++)
            z[i] = leak[i] + z[i];
    else
        for (int i = 0; i < n; i++)
            z[i] = leak[i];
}

/** Column-split drive and gate (sim_impl.h's drive_split), in place as tr_drive(). */
HOT static void SFX(tr_drive_split)(int n, const REAL *restrict uE, const REAL *restrict uI,
                                    const REAL *restrict coef, const REAL *restrict bias,
                                    const REAL *restrict leak, int mx_in, REAL *restrict Id,
                                    REAL *restrict z)
{
    const REAL *cE = coef, *cI = coef + n, *gE = coef + 2 * n, *gI = coef + 3 * n;
    for (int i = 0; i < n; i++)
        Id[i] = cE[i] * uE[i] + cI[i] * uI[i] + bias[i] + Id[i];
    if (mx_in)
        for (int i = 0; i < n; i++)
            z[i] = leak[i] + gE[i] * uE[i] + gI[i] * uI[i] + z[i];
    else
        for (int i = 0; i < n; i++)
            z[i] = leak[i] + gE[i] * uE[i] + gI[i] * uI[i];
}

/** Column split, backward: du_E = cE dI + gE dz, du_I = cI dI + gI dz (du: 2N). */
HOT static void SFX(tr_du_split)(int n, const REAL *restrict coef, const REAL *restrict dI,
                                 const REAL *restrict dz, REAL *restrict du)
{
    const REAL *cE = coef, *cI = coef + n, *gE = coef + 2 * n, *gI = coef + 3 * n;
    for (int i = 0; i < n; i++) {
        du[i] = cE[i] * dI[i] + gE[i] * dz[i];
        du[n + i] = cI[i] * dI[i] + gI[i] * dz[i];
    }
}

/**
 * C (m x n_out, ldc) = A (m x k, lda) B^T or A B (B: rows of the product matrix) with beta 0;
 * k == 0 or an empty output writes zeros / nothing (BLAS may leave C untouched for k = 0).
 */
static void SFX(tr_gemm)(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int nn, int k,
                         const REAL *A, int lda, const REAL *Bm, int ldb, REAL *C, int ldc)
{
    if (m <= 0 || nn <= 0) return;
    if (k <= 0) {
        for (int r = 0; r < m; r++)
            memset(C + (size_t)r * ldc, 0, (size_t)nn * sizeof *C);
        return;
    }
    GEMM(CblasRowMajor, ta, tb, m, nn, k, 1, A, lda, Bm, ldb, 0, C, ldc);
}

/** sim_impl.h's step_exp_euler(): V from Vo and, when s is not NULL, the noise scale. */
HOT static void SFX(tr_exp_euler)(int n, double dt, double sigma, const REAL *restrict Id,
                                  const REAL *restrict z, const REAL *restrict Vo, REAL *restrict V,
                                  REAL *restrict s)
{
    const REAL h = (REAL)dt;
    for (int i = 0; i < n; i++) {
        REAL zi = z[i];
        REAL x = zi * h;
        REAL e, g;
        DECAY_GAIN(x, &e, &g);
        V[i] = Vo[i] * e + Id[i] * (g / zi);
    }
    if (s) {
        const REAL sg = (REAL)sigma;
        for (int i = 0; i < n; i++) {
            REAL zi = z[i];
            REAL x = zi * h, e, g;
            DECAY_GAIN(x, &e, &g);
            s[i] = sg * (REAL)sqrt((double)(g * (2 - g) / (2 * zi)));
        }
    }
}

/** sim_impl.h's step_euler(), from @p Vo into @p V. */
HOT static void SFX(tr_euler)(int n, double dt, const REAL *restrict Id, const REAL *restrict z,
                              const REAL *restrict Vo, REAL *restrict V)
{
    const REAL h = (REAL)dt;
    for (int i = 0; i < n; i++)
        V[i] = Vo[i] + h * (-z[i] * Vo[i] + Id[i]);
}

/** Noise of trial @p b at step @p k (sim_impl.h's add_noise()): NZ = s xi, V += NZ. */
static void SFX(tr_noise)(int n, uint64_t key, int b, int64_t k, const REAL *s, REAL *NZ, REAL *V)
{
    for (int i = 0; i < n; i += 2) {
        double n0, n1;
        eir_normal2(key, (uint32_t)(i >> 1), (uint32_t)k, (uint32_t)b,
                    EIR_STREAM_NOISE | ((uint32_t)((uint64_t)k >> 32) << 8), &n0, &n1);
        NZ[i] = (REAL)(s[i] * n0);
        V[i] += NZ[i];
        if (i + 1 < n) {
            NZ[i + 1] = (REAL)(s[i + 1] * n1);
            V[i + 1] += NZ[i + 1];
        }
    }
}

/**
 * Backward through one exponential-Euler step of one trial row: from dv = d loss / d V_{t+1}
 * (in @p dv) writes dI, dz and the direct term dv e (into @p dv, in place).
 */
HOT static void SFX(tr_back_exp)(int n, double dt, int noisy, const REAL *restrict z,
                                 const REAL *restrict Vt, const REAL *restrict Id,
                                 const REAL *restrict nz, REAL *restrict dv, REAL *restrict dI,
                                 REAL *restrict dz)
{
    const REAL h = (REAL)dt;
    for (int i = 0; i < n; i++) {
        REAL zi = z[i], x = zi * h, e, g;
        DECAY_GAIN(x, &e, &g);
        const REAL d = dv[i], iz = 1 / zi;
        REAL gz = -h * Vt[i] * e + Id[i] * iz * (h * e - g * iz);
        if (noisy) gz += nz[i] * (iz / 2) * (2 * x * e * e / (g * (2 - g)) - 1);
        dI[i] = d * g * iz;
        dz[i] = d * gz;
        dv[i] = d * e;
    }
}

/**
 * The factors of tr_exp_euler() and tr_back_exp() for a gate that is the same at every step and
 * trial (z = G_b: no recurrent gate, no input gating), once per chunk into @p K (TR_EK x N):
 * e, g / z, the noise scale s (with @p sigma > 0), g, 1 / z, h e - g / z, (1 / z) / 2 and
 * 2 x e^2 / (g (2 - g)) - 1 (with noise), each the expression those functions evaluate per
 * step, so the results are the same bytes.
 */
static void SFX(tr_exp_consts)(int n, double dt, double sigma, const REAL *restrict z,
                               REAL *restrict K)
{
    const REAL h = (REAL)dt, sg = (REAL)sigma;
    REAL *ke = K, *kgi = K + n, *ks = K + 2 * n, *kg = K + 3 * n, *kiz = K + 4 * n;
    REAL *kc1 = K + 5 * n, *kc2 = K + 6 * n, *kc3 = K + 7 * n;
    for (int i = 0; i < n; i++) {
        REAL zi = z[i], x = zi * h, e, g;
        DECAY_GAIN(x, &e, &g);
        const REAL iz = 1 / zi;
        ke[i] = e;
        kgi[i] = g / zi;
        ks[i] = sigma > 0 ? sg * (REAL)sqrt((double)(g * (2 - g) / (2 * zi))) : 0;
        kg[i] = g;
        kiz[i] = iz;
        kc1[i] = h * e - g * iz;
        kc2[i] = iz / 2;
        kc3[i] = sigma > 0 ? 2 * x * e * e / (g * (2 - g)) - 1 : 0;
    }
}

/** tr_exp_euler() with the factors of tr_exp_consts(): V from Vo. */
HOT static void SFX(tr_exp_euler_k)(int n, const REAL *restrict K, const REAL *restrict Id,
                                    const REAL *restrict Vo, REAL *restrict V)
{
    const REAL *ke = K, *kgi = K + n;
    for (int i = 0; i < n; i++)
        V[i] = Vo[i] * ke[i] + Id[i] * kgi[i];
}

/** tr_back_exp() with the factors of tr_exp_consts() (same operations in the same order). */
HOT static void SFX(tr_back_exp_k)(int n, double dt, int noisy, const REAL *restrict K,
                                   const REAL *restrict Vt, const REAL *restrict Id,
                                   const REAL *restrict nz, REAL *restrict dv, REAL *restrict dI,
                                   REAL *restrict dz)
{
    const REAL h = (REAL)dt;
    const REAL *ke = K, *kg = K + 3 * n, *kiz = K + 4 * n, *kc1 = K + 5 * n;
    const REAL *kc2 = K + 6 * n, *kc3 = K + 7 * n;
    if (noisy) {
        for (int i = 0; i < n; i++) {
            const REAL d = dv[i], e = ke[i], iz = kiz[i];
            REAL gz = -h * Vt[i] * e + Id[i] * iz * kc1[i];
            gz += nz[i] * kc2[i] * kc3[i];
            dI[i] = d * kg[i] * iz;
            dz[i] = d * gz;
            dv[i] = d * e;
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        const REAL d = dv[i], e = ke[i], iz = kiz[i];
        const REAL gz = -h * Vt[i] * e + Id[i] * iz * kc1[i];
        dI[i] = d * kg[i] * iz;
        dz[i] = d * gz;
        dv[i] = d * e;
    }
}

/** Backward through one Euler step: dI = dt dv, dz = -dt V dv, direct dv (1 - dt z). */
HOT static void SFX(tr_back_euler)(int n, double dt, const REAL *restrict z,
                                   const REAL *restrict Vt, REAL *restrict dv, REAL *restrict dI,
                                   REAL *restrict dz)
{
    const REAL h = (REAL)dt;
    for (int i = 0; i < n; i++) {
        const REAL d = dv[i];
        dI[i] = h * d;
        dz[i] = -h * Vt[i] * d;
        dv[i] = d * (1 - h * z[i]);
    }
}

/** The loss of the chunk's readout into a->task (not yet normalised) and, with @p grad, DY. */
static void SFX(tr_loss)(const train_call *c, int b0, int cb, const REAL *Y, REAL *DY, int grad,
                         train_acc *a)
{
    const eir_batch *bt = c->batch;
    const int T = bt->T, no = bt->n_out;
    const int ce = c->net->spec.loss == EIR_LOSS_CE;
    double sum = 0.0;
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < cb; bb++) {
            const int b = b0 + bb;
            const size_t row = (size_t)t * cb + bb, bt_row = (size_t)b * T + t;
            const REAL *y = Y + row * no;
            REAL *dy = DY ? DY + row * no : NULL;
            const int valid = !bt->len || t < bt->len[b];
            if (!valid) {
                if (grad) memset(dy, 0, (size_t)no * sizeof *dy);
                continue;
            }
            if (ce) {
                const double m = bt->mask ? bt->mask[bt_row] : 1.0;
                const int lab = bt->label[bt_row];
                double mx = y[0];
                for (int o = 1; o < no; o++)
                    mx = y[o] > mx ? y[o] : mx;
                double se = 0.0;
                for (int o = 0; o < no; o++)
                    se += exp((double)y[o] - mx);
                const double lse = mx + log(se);
                sum += m * (lse - (double)y[lab]);
                if (grad) {
                    const double k = m * c->inv_mask;
                    for (int o = 0; o < no; o++)
                        dy[o] = (REAL)(k * (exp((double)y[o] - lse) - (o == lab)));
                }
            } else {
                const double *tg = bt->target + bt_row * no;
                const double *mk = bt->mask ? bt->mask + bt_row * no : NULL;
                for (int o = 0; o < no; o++) {
                    const double m = mk ? mk[o] : 1.0, d = (double)y[o] - tg[o];
                    sum += m * d * d;
                    if (grad) dy[o] = (REAL)(2 * m * d * c->inv_mask);
                }
            }
        }
    a->task = sum;
}

/** Forward pass of the chunk: inputs, states, readout (into Y and c->y_out), bad step. */
static void SFX(tr_forward)(const train_call *c, int b0, int cb, train_ws *w, train_acc *a)
{
    const eir_net *nt = c->net;
    const eir_batch *bt = c->batch;
    const int n = nt->n, nin = nt->n_in, gwn = nt->gw * n, T = bt->T;
    const size_t rows = (size_t)T * cb, sz = (size_t)cb * n;
    const train_params *p = &c->p;
    const int expe = nt->spec.integrator == EIR_INTEG_EXP_EULER;
    const double dt = nt->spec.dt, sigma = nt->sigma;
    REAL *X = TA(w->X), *V = TA(w->V), *R = TA(w->R);
    REAL *Z = TA(w->Z), *Ib = TA(w->Ib), *NZ = TA(w->NZ), *U = TA(w->U), *Y = TA(w->Y);
    const int mx_in = nin > 0 && p->M_in;
    const int split = nt->mode == TRAIN_SPLIT, ne = nt->n_e;
    if (nin > 0) {
        for (int t = 0; t < T; t++)
            for (int bb = 0; bb < cb; bb++) {
                const double *xs = bt->x + ((size_t)(b0 + bb) * T + t) * nin;
                REAL *xd = X + ((size_t)t * cb + bb) * nin;
                for (int q = 0; q < nin; q++)
                    xd[q] = (REAL)xs[q];
            }
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, n, nin, 1, X, nin, TA(p->P), nin,
             0, Ib, n);
        if (p->M_in) {
            REAL *XA = TA(w->XA);
            for (size_t q = 0; q < rows * nin; q++)
                XA[q] = (REAL)fabs((double)X[q]);
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, n, nin, 1, XA, nin,
                 TA(p->M_in), nin, 0, Z, n);
        }
    } else {
        memset(Ib, 0, rows * n * sizeof *Ib);
    }
    memset(V, 0, sz * sizeof *V);
    for (int bb = 0; bb < cb; bb++)
        SFX(tr_activate)(&nt->act, n, V + (size_t)bb * n, R + (size_t)bb * n);
    const REAL noise_s = (REAL)(sigma * sqrt(dt));
    /* z = G_b at every step and trial: exp_euler's factors once (tr_exp_consts) */
    const int kz = expe && nt->gw == 1 && !split && !mx_in;
    REAL *EK = kz ? TA(w->EK) : NULL;
    if (kz) SFX(tr_exp_consts)(n, dt, sigma, TA(p->leak), EK);
    a->bad_step = -1;
    for (int t = 0; t < T; t++) {
        const REAL *Rt = R + (size_t)t * sz;
        if (split) { /* u_E = S_E r_E, u_I = S_I r_I (the engine's two calls) */
            SFX(tr_gemm)(CblasNoTrans, CblasTrans, cb, n, ne, Rt, n, TA(p->WM), n, U, gwn);
            SFX(tr_gemm)
            (CblasNoTrans, CblasTrans, cb, n, n - ne, Rt + ne, n, TA(p->WM) + ne, n, U + n, gwn);
        } else {
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, cb, gwn, n, 1, Rt, n, TA(p->WM), n, 0, U,
                 gwn);
        }
        for (int bb = 0; bb < cb; bb++) {
            const size_t o = (size_t)t * sz + (size_t)bb * n;
            const REAL *u = U + (size_t)bb * gwn;
            REAL *Id = Ib + o, *z = Z + o, *Vn = V + o + sz, *Rn = R + o + sz;
            REAL *nz = sigma > 0 ? NZ + o : NULL;
            if (split) {
                SFX(tr_drive_split)
                (n, u, u + n, TA(p->coef), TA(p->bias), TA(p->leak), mx_in, Id, z);
            } else {
                SFX(tr_drive)
                (n, u, nt->gw == 2 ? u + n : NULL, TA(p->bias), TA(p->leak), mx_in, Id, z);
            }
            if (kz) {
                SFX(tr_exp_euler_k)(n, EK, Id, V + o, Vn);
                if (sigma > 0) SFX(tr_noise)(n, c->noise_key, b0 + bb, t, EK + 2 * n, nz, Vn);
            } else if (expe) {
                SFX(tr_exp_euler)(n, dt, sigma, Id, z, V + o, Vn, sigma > 0 ? nz : NULL);
                if (sigma > 0) SFX(tr_noise)(n, c->noise_key, b0 + bb, t, nz, nz, Vn);
            } else {
                SFX(tr_euler)(n, dt, Id, z, V + o, Vn);
                if (sigma > 0) {
                    for (int i = 0; i < n; i++)
                        nz[i] = noise_s;
                    SFX(tr_noise)(n, c->noise_key, b0 + bb, t, nz, nz, Vn);
                }
            }
            SFX(tr_activate)(&nt->act, n, Vn, Rn);
            if (a->bad_step < 0) {
                int bad = 0;
                for (int i = 0; i < n; i++)
                    bad |= !((Vn[i] - Vn[i]) == 0);
                if (bad) a->bad_step = t;
            }
        }
    }
    /* readout y_{t+1} = W_out r_{t+1} + b_out (r's first n_read cells) */
    const int no = nt->n_out;
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, no, nt->n_read, 1, R + sz, n,
         TA(p->W_out), nt->n_read, 0, Y, no);
    const REAL *bo = TA(p->b_out);
    for (size_t q = 0; q < rows; q++)
        for (int o = 0; o < no; o++)
            Y[q * no + o] += bo[o];
    if (c->y_out)
        for (int t = 0; t < T; t++)
            for (int bb = 0; bb < cb; bb++) {
                double *yd = c->y_out + ((size_t)(b0 + bb) * T + t) * no;
                const REAL *ys = Y + ((size_t)t * cb + bb) * no;
                for (int o = 0; o < no; o++)
                    yd[o] = (double)ys[o];
            }
}

/** Sum of r^2 over the chunk's valid steps (r_{t+1}, t < len). */
static double SFX(tr_rates)(const train_call *c, int b0, int cb, const REAL *R)
{
    const eir_batch *bt = c->batch;
    const int n = c->net->n, T = bt->T;
    double sum = 0.0;
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < cb; bb++) {
            if (bt->len && t >= bt->len[b0 + bb]) continue;
            const REAL *r = R + ((size_t)(t + 1) * cb + bb) * n;
            double s = 0.0;
            for (int i = 0; i < n; i++)
                s += (double)r[i] * r[i];
            sum += s;
        }
    return sum;
}

/**
 * d loss / d r_{t+1} into @p dr (cb x N; on entry the recurrent term of step t + 1, or
 * anything when @p first): + DY_t W_out (readout of y_{t+1}) + 2 rate_scale r_{t+1} on the
 * valid rows.
 */
static void SFX(tr_dr_explicit)(const train_call *c, int b0, int cb, int t, int first,
                                const REAL *DYt, const REAL *Rt1, REAL *dr)
{
    const eir_net *nt = c->net;
    const int n = nt->n, nr = nt->n_read, no = nt->n_out;
    if (first) memset(dr, 0, (size_t)cb * n * sizeof *dr);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, cb, nr, no, 1, DYt, no, TA(c->p.W_out), nr, 1,
         dr, n);
    if (c->rate_scale == 0) return;
    const REAL k = (REAL)(2 * c->rate_scale);
    for (int bb = 0; bb < cb; bb++) {
        if (c->batch->len && t >= c->batch->len[b0 + bb]) continue;
        const REAL *r = Rt1 + (size_t)bb * n;
        REAL *d = dr + (size_t)bb * n;
        for (int i = 0; i < n; i++)
            d[i] += k * r[i];
    }
}

/**
 * Backward pass of the chunk (after tr_forward and tr_loss with DY): fills the accumulator.
 * d loss / d r lives in two cb x N buffers (DR: step t + 1's, and step t's being summed).
 */
static void SFX(tr_backward)(const train_call *c, int b0, int cb, train_ws *w, train_acc *a)
{
    const eir_net *nt = c->net;
    const int n = nt->n, nin = nt->n_in, gwn = nt->gw * n, T = c->batch->T, no = nt->n_out;
    const int nr = nt->n_read;
    const size_t rows = (size_t)T * cb, sz = (size_t)cb * n;
    const train_params *p = &c->p;
    const int expe = nt->spec.integrator == EIR_INTEG_EXP_EULER, noisy = nt->sigma > 0;
    const double dt = nt->spec.dt;
    REAL *V = TA(w->V), *R = TA(w->R), *Z = TA(w->Z), *Ib = TA(w->Ib), *NZ = TA(w->NZ);
    REAL *DY = TA(w->DY), *DIZ = TA(w->DIZ), *dv = TA(w->carry);
    REAL *DR[2] = {TA(w->DR), TA(w->DR) + sz};
    const int split = nt->mode == TRAIN_SPLIT, ne = nt->n_e;
    REAL *DU = split ? TA(w->DU) : NULL;
    /* tr_forward's exp_euler factors of a constant gate (tr_exp_consts) */
    const int kz = expe && nt->gw == 1 && !split && !(nin > 0 && p->M_in);
    const REAL *EK = kz ? TA(w->EK) : NULL;
    /* readout: dW_out = DY^T R_{1..T}, db_out = sum DY */
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, no, nr, (int)rows, 1, DY, no, R + sz, n, 0,
         TA(a->dWout), nr);
    REAL *dbo = TA(a->dbout);
    memset(dbo, 0, (size_t)no * sizeof *dbo);
    for (size_t q = 0; q < rows; q++)
        for (int o = 0; o < no; o++)
            dbo[o] += DY[q * no + o];
    REAL *dG = TA(a->dG);
    memset(dG, 0, (size_t)n * sizeof *dG);
    memset(dv, 0, sz * sizeof *dv);
    for (int t = T - 1; t >= 0; t--) {
        REAL *drn = DR[t & 1], *drt = DR[(t + 1) & 1];
        SFX(tr_dr_explicit)
        (c, b0, cb, t, t == T - 1, DY + (size_t)t * cb * no, R + (size_t)(t + 1) * sz, drn);
        for (int bb = 0; bb < cb; bb++) {
            const size_t o = (size_t)t * sz + (size_t)bb * n; /* row (t, bb) */
            REAL *d = dv + (size_t)bb * n, *dr = drn + (size_t)bb * n;
            SFX(tr_gain)(&nt->act, n, V + o + sz, R + o + sz, dr);
            for (int i = 0; i < n; i++)
                d[i] += dr[i];
            REAL *dI = DIZ + ((size_t)t * cb + bb) * gwn;
            REAL *dz = nt->gw == 2 ? dI + n : TA(w->U);
            if (kz) SFX(tr_back_exp_k)
            (n, dt, noisy, EK, V + o, Ib + o, noisy ? NZ + o : NULL, d, dI, dz);
            else if (expe) SFX(tr_back_exp)(n, dt, noisy, Z + o, V + o, Ib + o,
                                            noisy ? NZ + o : NULL, d, dI, dz);
            else SFX(tr_back_euler)(n, dt, Z + o, V + o, d, dI, dz);
            if (nt->gw == 1)
                for (int i = 0; i < n; i++)
                    dG[i] += dz[i];
            if (split) SFX(tr_du_split)(n, TA(p->coef), dI, dz, DU + ((size_t)t * cb + bb) * gwn);
        }
        if (t == 0) continue;
        if (split) { /* dr_E = du_E S_E, dr_I = du_I S_I */
            const REAL *du = DU + (size_t)t * cb * gwn;
            SFX(tr_gemm)(CblasNoTrans, CblasNoTrans, cb, ne, n, du, gwn, TA(p->WM), n, drt, n);
            SFX(tr_gemm)
            (CblasNoTrans, CblasNoTrans, cb, n - ne, n, du + n, gwn, TA(p->WM) + ne, n, drt + ne,
             n);
        } else {
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, cb, n, gwn, 1,
                 DIZ + (size_t)t * cb * gwn, gwn, TA(p->WM), n, 0, drt, n);
        }
    }
    /* weights: d[W; M] = DIZ^T R_{0..T-1}; dP = dI^T X; db, dG = column sums */
    if (split) { /* dS_E = du_E^T r_E, dS_I = du_I^T r_I */
        SFX(tr_gemm)(CblasTrans, CblasNoTrans, n, ne, (int)rows, DU, gwn, R, n, TA(a->dWM), n);
        SFX(tr_gemm)
        (CblasTrans, CblasNoTrans, n, n - ne, (int)rows, DU + n, gwn, R + ne, n, TA(a->dWM) + ne,
         n);
    } else {
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, gwn, n, (int)rows, 1, DIZ, gwn, R, n, 0,
             TA(a->dWM), n);
    }
    if (nin > 0)
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n, nin, (int)rows, 1, DIZ, gwn, TA(w->X), nin,
             0, TA(a->dP), nin);
    REAL *db = TA(a->db);
    memset(db, 0, (size_t)n * sizeof *db);
    for (size_t q = 0; q < rows; q++) {
        const REAL *row = DIZ + q * gwn;
        for (int i = 0; i < n; i++)
            db[i] += row[i];
        if (nt->gw == 2)
            for (int i = 0; i < n; i++)
                dG[i] += row[n + i];
    }
}

void SFX(train_chunk)(const train_call *c, int chunk, train_ws *w, train_acc *a)
{
    const int b0 = chunk * TRAIN_CHUNK, cb = train_chunk_trials(c->batch->B, chunk);
    SFX(tr_forward)(c, b0, cb, w, a);
    a->rate = c->rate_scale != 0 ? SFX(tr_rates)(c, b0, cb, TA(w->R)) : 0.0;
    if (a->bad_step >= 0) {
        a->task = NAN;
        return;
    }
    SFX(tr_loss)(c, b0, cb, TA(w->Y), c->grad ? TA(w->DY) : NULL, c->grad, a);
    if (c->grad) SFX(tr_backward)(c, b0, cb, w, a);
}

#undef TA
#undef HOT
