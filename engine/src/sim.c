/**
 * @file sim.c
 * @brief eir_run(): run validation, precision conversion, the split of trials between
 *        threads, and the run's outcome. The integrators themselves are in sim_impl.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir.h"
#include "model_internal.h"
#include "sim_internal.h"

/** Elements of input projection kept at once (per chunk): bounds memory for long runs. */
#define PROJECT_BLOCK_ELEMS (1u << 20)

void eir_run_desc_init(eir_run_desc *r)
{
    memset(r, 0, sizeof *r);
    r->dt = 0.1;
    r->integrator = EIR_INTEG_EXP_EULER;
    r->precision = EIR_F64;
    r->T = 1;
    r->B = 1;
    r->record_mask = 1u << EIR_VAR_V;
    r->record_every = 1;
    r->threads = 1;
}

const char *eir_var_name(eir_var v)
{
    static const char *const names[] = {"V", "r", "z", "y"};
    return (unsigned)v < EIR_NVARS ? names[v] : "?";
}

const char *eir_integrator_name(eir_integrator i)
{
    static const char *const names[] = {"exp_euler", "euler", "rk4"};
    return (unsigned)i < 3 ? names[i] : "?";
}

const char *eir_precision_name(eir_precision p)
{
    return p == EIR_F32 ? "float32" : p == EIR_F64 ? "float64" : "?";
}

int64_t eir_recorded_rows(int64_t T, int every)
{
    return every >= 1 && T >= 0 ? T / every : 0;
}

size_t eir_run_out_len(const eir_model *m, const eir_run_desc *r, eir_var var)
{
    if (r->B < 1 || r->T < 1 || r->record_every < 1) return 0;
    size_t units;
    if (var == EIR_VAR_Y)
        units = (size_t)m->n_out;
    else
        units = r->neurons ? (size_t)r->n_neurons : (size_t)m->n;
    return (size_t)r->B * (size_t)eir_recorded_rows(r->T, r->record_every) * units;
}

eir_stop *eir_stop_new(void)
{
    eir_stop *s = malloc(sizeof *s);
    if (s) atomic_init(&s->flag, 0);
    return s;
}

void eir_stop_free(eir_stop *s)
{
    free(s);
}

void eir_stop_request(eir_stop *s)
{
    atomic_store(&s->flag, 1);
}

int eir_stop_requested(const eir_stop *s)
{
    return atomic_load(&s->flag) != 0;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sim_progress(sim_ctx *x, int64_t k)
{
    const eir_run_desc *r = x->r;
    if (x->poll_in_step) x->last_poll = mono_now();
    if (r->progress(r->progress_ctx, k, x->T)) atomic_store(&x->cancel, 1);
}

void sim_poll(sim_ctx *x, int64_t k)
{
    if (mono_now() - x->last_poll >= EIR_PROGRESS_POLL_SECONDS) sim_progress(x, k);
}

void sim_poll_waiting(void *ctx)
{
    sim_ctx *x = ctx;
    sim_poll(x, x->poll_k);
}

static size_t prec_size(eir_precision p)
{
    return p == EIR_F32 ? sizeof(float) : sizeof(double);
}

void sim_nan_fill(const sim_ctx *x, int b0, int nb, int64_t row0)
{
    const eir_run_desc *r = x->r;
    if (row0 >= x->rows) return;
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!r->out[v]) continue;
        size_t units = v == EIR_VAR_Y ? (size_t)x->n_out : (size_t)x->n_rec;
        for (int b = b0; b < b0 + nb; b++) {
            size_t from = ((size_t)b * x->rows + row0) * units;
            size_t cnt = (size_t)(x->rows - row0) * units;
            if (r->precision == EIR_F32) {
                float *o = (float *)r->out[v] + from;
                for (size_t q = 0; q < cnt; q++)
                    o[q] = NAN;
            } else {
                double *o = (double *)r->out[v] + from;
                for (size_t q = 0; q < cnt; q++)
                    o[q] = NAN;
            }
        }
    }
}

/** Check @p r against @p m; EIR_EINVAL naming the run field on failure. */
static eir_status check_run(const eir_model *m, const eir_run_desc *r, eir_error *err)
{
    const int n = m->n;
    if (!(isfinite(r->dt) && r->dt > 0))
        return eir_error_set(err, EIR_EINVAL, "/dt", "dt must be a finite number > 0, got %g",
                             r->dt);
    if ((unsigned)r->integrator > EIR_INTEG_RK4)
        return eir_error_set(err, EIR_EINVAL, "/integrator", "unknown integrator %d",
                             (int)r->integrator);
    if (r->precision != EIR_F64 && r->precision != EIR_F32)
        return eir_error_set(err, EIR_EINVAL, "/precision", "unknown precision %d",
                             (int)r->precision);
    if (r->T < 1 || r->T > (int64_t)UINT32_MAX)
        return eir_error_set(err, EIR_EINVAL, "/T",
                             "the number of steps must be in [1, %u], got %lld", UINT32_MAX,
                             (long long)r->T);
    if (r->B < 1)
        return eir_error_set(err, EIR_EINVAL, "/B", "the number of trials must be >= 1, got %d",
                             r->B);
    if (r->threads < 1)
        return eir_error_set(err, EIR_EINVAL, "/threads", "threads must be >= 1, got %d",
                             r->threads);
    if (r->record_every < 1)
        return eir_error_set(err, EIR_EINVAL, "/record/every", "record.every must be >= 1, got %d",
                             r->record_every);
    if (r->V0 && r->V0_len != 1 && r->V0_len != n && r->V0_len != r->B * n)
        return eir_error_set(err, EIR_EINVAL, "/V0",
                             "V0 must be a scalar, N = %d values or B x N = %d x %d values, got "
                             "%d values",
                             n, r->B, n, r->V0_len);
    if (r->V0) {
        for (int k = 0; k < r->V0_len; k++)
            if (!isfinite(r->V0[k]))
                return eir_error_set(err, EIR_EINVAL, "/V0", "V0 must be finite; value %d is %g", k,
                                     r->V0[k]);
    }
    if (r->neurons || r->n_neurons) {
        if (!r->neurons || r->n_neurons < 1)
            return eir_error_set(err, EIR_EINVAL, "/record/neurons",
                                 "record.neurons must list at least one cell");
        for (int k = 0; k < r->n_neurons; k++) {
            if (r->neurons[k] < 0 || r->neurons[k] >= n) {
                char f[64];
                snprintf(f, sizeof f, "/record/neurons/%d", k);
                return eir_error_set(err, EIR_EINVAL, f, "neuron index %d is out of range [0, %d)",
                                     r->neurons[k], n);
            }
        }
    }
    if (r->record_mask & ~((1u << EIR_NVARS) - 1))
        return eir_error_set(err, EIR_EINVAL, "/record/vars", "unknown recorded variable");
    if ((r->record_mask & (1u << EIR_VAR_Y)) && m->n_out == 0)
        return eir_error_set(err, EIR_EINVAL, "/record/vars",
                             "\"y\" is recorded but the model has no readout");
    for (int v = 0; v < EIR_NVARS; v++) {
        int want = (r->record_mask >> v) & 1;
        if (want && !r->out[v] && eir_recorded_rows(r->T, r->record_every) > 0)
            return eir_error_set(err, EIR_EINVAL, "/record/vars",
                                 "no output buffer was given for recorded variable %s",
                                 eir_var_name((eir_var)v));
    }
    if (r->inputs && m->n_in > 0) {
        size_t cnt = (size_t)r->B * (size_t)r->T * (size_t)m->n_in;
        for (size_t q = 0; q < cnt; q++)
            if (!isfinite(r->inputs[q]))
                return eir_error_set(
                    err, EIR_EINVAL, "/inputs",
                    "inputs must be finite; trial %zu, step %zu, channel %zu is %g",
                    q / ((size_t)r->T * m->n_in), q / m->n_in % (size_t)r->T, q % m->n_in,
                    r->inputs[q]);
    }
    if (r->inputs && r->input_desc)
        return eir_error_set(err, EIR_EINVAL, "/inputs",
                             "give the inputs either as values or described, not both");
    if (r->input_desc) {
        eir_error e;
        eir_error_clear(&e);
        if (eir_input_check(r->input_desc, r->T, r->B, m->n_in, &e)) {
            char f[EIR_FIELD_MAX + 8]; /* eir_error_set() keeps what fits */
            snprintf(f, sizeof f, "/inputs%s", e.field);
            return eir_error_set(err, e.status, f, "%s", e.message);
        }
    }
    return sim_stats_check(r, err);
}

/** float copy of @p n doubles appended to the run's conversion buffer at *cursor. */
static const void *to_f32(const double *src, size_t n, float **cursor)
{
    if (!src) return NULL;
    float *dst = *cursor;
    for (size_t k = 0; k < n; k++)
        dst[k] = (float)src[k];
    *cursor += n;
    return dst;
}

/**
 * For single-trial runs of small N, the transposed product matrix in the run's precision
 * (see sim_arrays::mt; zero-padded columns of n_pad or 2 n_pad values), written to a fresh
 * allocation returned in *owned (caller frees). Leaves x->a.mt NULL when the kernel does not apply.
 * EIR_ENOMEM on allocation failure.
 */
static eir_status setup_columns(sim_ctx *x, eir_precision prec, void **owned)
{
    const eir_model *m = x->m;
    const int n = m->n, np = m->n_pad;
    *owned = NULL;
    if (x->r->B != 1 || n > SIM_COLUMN_KERNEL_MAX_N || m->sparse) return EIR_OK;
    const int fused = m->gate == EIR_GATE_FUSED;
    const int ld = fused ? 2 * np : np; /* columns padded to n_pad (a multiple of EIR_PAD) */
    const double *mat = m->gate == EIR_GATE_NONE ? m->W : m->gate == EIR_GATE_SPLIT ? m->S : m->WM;
    const size_t es = prec == EIR_F32 ? sizeof(float) : sizeof(double);
    void *buf = calloc((size_t)n * ld, es);
    if (!buf) return EIR_ENOMEM;
    const int rows = fused ? 2 * np : n; /* rows of mat to copy (FUSED: W, pad, M, pad) */
    for (int j = 0; j < n; j++)
        for (int i = 0; i < rows; i++) {
            double v = mat[(size_t)i * n + j];
            if (prec == EIR_F32)
                ((float *)buf)[(size_t)j * ld + i] = (float)v;
            else
                ((double *)buf)[(size_t)j * ld + i] = v;
        }
    x->a.mt = buf;
    x->a.mt_ld = ld;
    *owned = buf;
    return EIR_OK;
}

/** Bytes of the float32 copies of @p m's arrays that a float32 run makes (setup_arrays()). */
static size_t f32_copy_bytes(const eir_model *m)
{
    const size_t n = (size_t)m->n, nn = (size_t)m->n_pad * n;
    const size_t per = m->gate == EIR_GATE_FUSED ? 2 : 1; /* FUSED: W and M values */
    const size_t matlen = m->sparse ? per * m->nnz : per * nn;
    const size_t pin = (size_t)m->n_pad * (size_t)m->n_in;
    const size_t wout = (size_t)m->n_out_pad * (size_t)m->n_read;
    return (matlen + 2 * pin + wout + (size_t)m->n_out + 6 * n) * sizeof(float);
}

/** Bytes of the transposed matrix setup_columns() makes for run @p r (0 when it makes none). */
static size_t columns_bytes(const eir_model *m, const eir_run_desc *r)
{
    if (r->B != 1 || m->n > SIM_COLUMN_KERNEL_MAX_N || m->sparse) return 0;
    const size_t ld = m->gate == EIR_GATE_FUSED ? 2 * (size_t)m->n_pad : (size_t)m->n_pad;
    return (size_t)m->n * ld * prec_size(r->precision);
}

/**
 * Point @p x->a at the model's arrays in the run's precision. For float32 they are converted
 * into one allocation returned in *owned (caller frees), except the product matrix, for which
 * space is reserved there and which the run's team converts (convert_share()); for float64
 * nothing is copied. EIR_ENOMEM on allocation failure.
 */
static eir_status setup_arrays(sim_ctx *x, eir_precision prec, float **owned)
{
    const eir_model *m = x->m;
    const size_t n = (size_t)m->n, nn = (size_t)m->n_pad * n;
    const double *mat = m->sparse                   ? m->sv
                        : m->gate == EIR_GATE_NONE  ? m->W
                        : m->gate == EIR_GATE_SPLIT ? m->S
                                                    : m->WM;
    const size_t per = m->gate == EIR_GATE_FUSED ? 2 : 1; /* FUSED: W and M values */
    const size_t matlen = m->sparse ? per * m->nnz : per * nn;
    const size_t pin = (size_t)m->n_pad * (size_t)m->n_in;
    *owned = NULL;
    if (m->sparse) {
        x->a.rp = m->rp;
        x->a.ci = m->ci;
    }
    if (prec == EIR_F64) {
        x->a = (sim_arrays){.mat = m->sparse ? NULL : mat,
                            .rp = x->a.rp,
                            .ci = x->a.ci,
                            .sv = m->sparse ? m->sv : NULL,
                            .mv = m->sparse ? m->mv : NULL,
                            .P = m->P,
                            .M_in = m->M_in,
                            .W_out = m->W_out,
                            .b_out = m->b_out,
                            .leak = m->leak,
                            .bias = m->bias,
                            .cE = m->cE,
                            .cI = m->cI,
                            .gE = m->gE,
                            .gI = m->gI};
        return EIR_OK;
    }
    float *buf = eir_alloc_big(f32_copy_bytes(m));
    if (!buf) return EIR_ENOMEM;
    float *cur = buf;
    /* the product matrix is converted by the run's team (convert_share()), in parallel */
    if (m->sparse) {
        x->a.sv = cur;
        x->a.mv = m->mv ? cur + m->nnz : NULL;
    } else {
        x->a.mat = cur;
    }
    x->mat_src = mat;
    x->mat_len = matlen;
    cur += matlen;
    x->a.P = to_f32(m->P, pin, &cur);
    x->a.M_in = to_f32(m->M_in, pin, &cur);
    x->a.W_out = to_f32(m->W_out, (size_t)m->n_out_pad * (size_t)m->n_read, &cur);
    x->a.b_out = to_f32(m->b_out, (size_t)m->n_out, &cur);
    x->a.leak = to_f32(m->leak, n, &cur);
    x->a.bias = to_f32(m->bias, n, &cur);
    x->a.cE = to_f32(m->cE, n, &cur);
    x->a.cI = to_f32(m->cI, n, &cur);
    x->a.gE = to_f32(m->gE, n, &cur);
    x->a.gI = to_f32(m->gI, n, &cur);
    *owned = buf;
    return EIR_OK;
}

/** Flops of one step's recurrent products (all trials): dense N x n_pad, or the nonzeros. */
static double product_flops(const sim_ctx *x)
{
    const eir_model *m = x->m;
    const double entries = m->sparse ? (double)m->nnz : (double)x->n * (double)m->n_pad;
    return 2.0 * entries * x->r->B * (m->gate == EIR_GATE_FUSED ? 2 : 1);
}

/** Work of one step, in flops (products and the element-wise passes), for the progress rate. */
static double step_flops(const sim_ctx *x)
{
    double flops = product_flops(x) + 50.0 * x->n * (double)x->r->B;
    return x->r->integrator == EIR_INTEG_RK4 ? 4 * flops : flops;
}

/** About 10 ms of work at ~5 GFLOP/s: a step of more than this is long. */
#define SIM_PROGRESS_FLOPS 5e7

/** Steps between progress callbacks: about 10 ms of work. */
static int64_t auto_progress_every(const sim_ctx *x)
{
    int64_t every = (int64_t)(SIM_PROGRESS_FLOPS / step_flops(x));
    return every < 1 ? 1 : every > 100000 ? 100000 : every;
}

/** Reserve @p bytes at *cursor (64-byte aligned); returns the offset. */
static size_t carve(size_t *cursor, size_t bytes)
{
    size_t at = (*cursor + 63) & ~(size_t)63;
    *cursor = at + bytes;
    return at;
}

/** Number of offsets sim_ws_layout() fills. */
#define SIM_WS_PARTS 25

/**
 * The layout of the run's workspace for up to @p nt threads: offsets of its parts in o[] (see
 * sim_ws_alloc()); returns its size in bytes. No allocation.
 */
static size_t sim_ws_layout(const sim_ctx *x, int nt, size_t o[SIM_WS_PARTS])
{
    const eir_run_desc *r = x->r;
    const eir_model *m = x->m;
    const size_t es = prec_size(r->precision), n = (size_t)x->n, B = (size_t)x->B;
    const size_t bn = B * n * es, bp = B * (size_t)m->n_pad * es;
    const size_t cells = B * (size_t)x->n_nb;
    const int has_inputs = (r->inputs || r->input_desc) && x->n_in > 0;
    size_t at = 0;
    o[0] = carve(&at, bn); /* V */
    o[1] = carve(&at, bn); /* R */
    o[2] = carve(&at, bn); /* I */
    o[3] = carve(&at, bn); /* Z */
    o[4] = carve(&at, bn); /* S */
    o[5] = carve(&at, bp);
    o[6] = carve(&at, m->gate == EIR_GATE_FUSED ? 2 * bp : bp);
    o[7] = carve(&at, B * (size_t)m->n_out_pad * es);
    o[8] = carve(&at, n * es);
    o[9] = carve(&at, n * es);
    const int rk4 = r->integrator == EIR_INTEG_RK4;
    o[10] = carve(&at, rk4 ? bn : 0);
    o[11] = carve(&at, rk4 ? bn : 0);
    const size_t win = has_inputs ? (size_t)x->Tc * bp : 0;
    o[12] = carve(&at, win);
    o[13] = carve(&at, has_inputs && m->M_in ? win : 0);
    o[14] = carve(&at, has_inputs ? B * (size_t)x->Tc * (size_t)x->n_in * es : 0);
    o[15] = carve(&at, cells * sizeof(double));
    o[16] = carve(&at, cells * sizeof(double));
    o[17] = carve(&at, (size_t)nt * SIM_PAD_DOUBLES * sizeof(double));
    o[18] = carve(&at, (size_t)nt * (n + 1) * sizeof(int));
    const int rt = m->sparse && x->B > 1; /* a trial block's rates, per thread (sparse) */
    o[19] = carve(&at, rt ? (size_t)nt * n * EIR_TRIAL_BLOCK * es : 0);
    o[20] = carve(&at, cells); /* bad */
    const size_t win_in = has_inputs ? B * (size_t)x->Tc * (size_t)x->n_in : 0;
    o[21] = carve(&at, r->input_desc ? win_in * sizeof(double) : 0); /* Xd */
    size_t st[3];
    sim_stats_ws_sizes(x, st);
    o[22] = carve(&at, st[0] * sizeof(double));
    o[23] = carve(&at, st[1] * sizeof(double));
    o[24] = carve(&at, st[2] * sizeof(double));
    return at;
}

/**
 * Allocate the run's workspace (sim_ws) for up to @p nt threads, zeroed, in one block owned by
 * x->w.block (caller frees). EIR_ENOMEM on allocation failure.
 */
static eir_status sim_ws_alloc(sim_ctx *x, int nt)
{
    const eir_run_desc *r = x->r;
    const eir_model *m = x->m;
    const int has_inputs = (r->inputs || r->input_desc) && x->n_in > 0;
    const int rk4 = r->integrator == EIR_INTEG_RK4;
    const int rt = m->sparse && x->B > 1;
    size_t o[SIM_WS_PARTS];
    char *blk = calloc(1, sim_ws_layout(x, nt, o));
    if (!blk) return EIR_ENOMEM;
    sim_ws *w = &x->w;
    w->block = blk;
    w->V = blk + o[0];
    w->R = blk + o[1];
    w->Ib = blk + o[2];
    w->Z = blk + o[3];
    w->S = blk + o[4];
    w->U1 = blk + o[5];
    w->U2 = blk + o[6];
    w->Yb = blk + o[7];
    w->zero = blk + o[8];
    w->noise_s = blk + o[9];
    w->Vs = rk4 ? blk + o[10] : NULL;
    w->Acc = rk4 ? blk + o[11] : NULL;
    w->PX = has_inputs ? blk + o[12] : NULL;
    w->MX = has_inputs && m->M_in ? blk + o[13] : NULL;
    w->Xs = has_inputs ? blk + o[14] : NULL;
    w->sum_e = (double *)(blk + o[15]);
    w->sum_i = (double *)(blk + o[16]);
    w->zmax = (double *)(blk + o[17]);
    w->act = (int *)(blk + o[18]);
    w->rt = rt ? blk + o[19] : NULL;
    w->bad = (unsigned char *)blk + o[20];
    w->Xd = has_inputs && r->input_desc ? (double *)(blk + o[21]) : NULL;
    w->st_blk = (double *)(blk + o[22]);
    w->st_win = (double *)(blk + o[23]);
    w->st_settle = (double *)(blk + o[24]);
    return EIR_OK;
}

/**
 * Threads for the run: at most r->threads, at most one per work item, and no more than the
 * products' work per step pays for (SIM_MIN_FLOPS_PER_THREAD each). Results do not depend on it.
 */
static int team_size(const sim_ctx *x)
{
    double flops = product_flops(x);
    double by_work = flops / SIM_MIN_FLOPS_PER_THREAD;
    int nt = x->r->threads, items = x->n_tb * x->n_nb;
    if (nt > items) nt = items;
    if (by_work < nt) nt = by_work < 1 ? 1 : (int)by_work;
    return nt;
}

/** Thread @p tid's share of the float32 conversion of the product matrix (or sparse values). */
static void convert_share(sim_ctx *x, int tid, int nt)
{
    if (!x->mat_src) return;
    const size_t q0 = x->mat_len * (size_t)tid / (size_t)nt;
    const size_t q1 = x->mat_len * (size_t)(tid + 1) / (size_t)nt;
    float *dst = (float *)(x->a.sv ? x->a.sv : x->a.mat);
    for (size_t q = q0; q < q1; q++)
        dst[q] = (float)x->mat_src[q];
}

static void team_member(void *arg, int tid, int nt)
{
    sim_ctx *x = arg;
    convert_share(x, tid, nt); /* read after the barrier that ends the initial state */
    if (x->r->precision == EIR_F32)
        sim_run_f32(x, tid, nt);
    else
        sim_run_f64(x, tid, nt);
}

/** Fill @p x for the run (no allocation). */
static void ctx_init(sim_ctx *x, const eir_model *m, const eir_run_desc *r)
{
    x->m = m;
    x->r = r;
    x->n = m->n;
    x->n_e = m->n_e;
    x->n_in = m->n_in;
    x->n_out = m->n_out;
    x->n_read = m->n_read;
    x->B = r->B;
    x->T = r->T;
    x->every = r->record_every;
    x->rows = eir_recorded_rows(r->T, r->record_every);
    x->use_gemv = r->B == 1;
    x->n_rec = r->neurons ? r->n_neurons : m->n;
    x->n_tb = (r->B + EIR_TRIAL_BLOCK - 1) / EIR_TRIAL_BLOCK;
    x->n_nb = (m->n_pad + SIM_NEURON_BLOCK - 1) / SIM_NEURON_BLOCK;
    atomic_init(&x->cancel, 0);
    atomic_init(&x->any_bad, 0);
    x->progress_every = r->progress_every > 0 ? r->progress_every : auto_progress_every(x);
    x->poll_in_step = r->progress && step_flops(x) >= SIM_PROGRESS_FLOPS;
    x->last_poll = x->poll_in_step ? mono_now() : 0;
    /* the projection window depends on B, never on the thread count (same BLAS calls) */
    size_t per_step = (size_t)r->B * (size_t)m->n_pad;
    x->Tc = (int64_t)(PROJECT_BLOCK_ELEMS / (per_step ? per_step : 1));
    if (x->Tc < 1) x->Tc = 1;
    if (x->Tc > r->T) x->Tc = r->T;
    sim_stats_plan_init(x);
}

/**
 * The run's outcome from the team's end state: divergence (lowest trial at the step), steps,
 * rates, max z dt, the last step's y, NaN rows, cancellation. Returns EIR_OK or
 * EIR_ECANCELLED (with @p err filled).
 */
static eir_status outcome(sim_ctx *x, int nt, eir_run_result *res, eir_error *err)
{
    const eir_run_desc *r = x->r;
    const eir_model *m = x->m;
    const int64_t steps = x->end_step;
    if (x->diverged) {
        res->diverged = 1;
        res->diverged_step = steps;
        for (size_t c = 0; c < (size_t)x->B * x->n_nb; c++)
            if (x->w.bad[c]) {
                res->diverged_trial = (int)(c / (size_t)x->n_nb);
                break;
            }
    } else if (steps == x->T && x->T % x->every == 0 && r->out[EIR_VAR_Y]) {
        if (r->precision == EIR_F32)
            sim_record_last_y_f32(x);
        else
            sim_record_last_y_f64(x);
    }
    sim_nan_fill(x, 0, x->B, steps / x->every);
    res->steps_done = steps;
    res->rows_written = steps / x->every;
    for (int t = 0; t < nt; t++) {
        double z = x->w.zmax[(size_t)t * SIM_PAD_DOUBLES];
        res->max_z_dt = z > res->max_z_dt ? z : res->max_z_dt;
    }
    res->unstable = r->integrator == EIR_INTEG_EULER && res->max_z_dt > 2.0;
    double se = 0, si = 0;
    for (int b = 0; b < x->B; b++) { /* per trial, blocks in order: a fixed order of sums */
        double te = 0, ti = 0;
        for (int j = 0; j < x->n_nb; j++) {
            te += x->w.sum_e[(size_t)b * x->n_nb + j];
            ti += x->w.sum_i[(size_t)b * x->n_nb + j];
        }
        se += te;
        si += ti;
    }
    const double cnt = (double)steps * x->B;
    if (m->n_e > 0 && cnt > 0) res->mean_rate_e = se / (cnt * m->n_e);
    if (m->n_i > 0 && cnt > 0) res->mean_rate_i = si / (cnt * m->n_i);
    const int cancelled = atomic_load(&x->cancel) && !res->diverged && steps < r->T;
    sim_stats_finish(x, cancelled);
    if (!cancelled && r->final_V)
        memcpy(r->final_V, x->w.V, (size_t)x->B * (size_t)x->n * prec_size(r->precision));
    if (cancelled)
        return eir_error_set(err, EIR_ECANCELLED, NULL,
                             "the run was cancelled after %lld of %lld steps", (long long)steps,
                             (long long)r->T);
    if (r->progress && !res->diverged) r->progress(r->progress_ctx, steps, r->T);
    return EIR_OK;
}

/** a * b * c saturated at SIZE_MAX. */
static size_t mul3_sat(size_t a, size_t b, size_t c)
{
    if (a && b > SIZE_MAX / a) return SIZE_MAX;
    size_t ab = a * b;
    return ab && c > SIZE_MAX / ab ? SIZE_MAX : ab * c;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t eir_run_memory_bytes(const eir_model *m, const eir_run_desc *r)
{
    if (!m || !r) return 0;
    eir_run_desc d = *r; /* the engine's checks, where sizes would not mean anything */
    if (d.B < 1) d.B = 1;
    if (d.T < 1) d.T = 1;
    if (d.record_every < 1) d.record_every = 1;
    if (d.threads < 1) d.threads = 1;
    if (d.neurons && d.n_neurons < 1) d.neurons = NULL;
    sim_ctx x;
    memset(&x, 0, sizeof x);
    ctx_init(&x, m, &d);
    const int nt = team_size(&x);
    size_t o[SIM_WS_PARTS];
    size_t total = sizeof x + sim_ws_layout(&x, nt, o) + columns_bytes(m, &d);
    if (d.precision == EIR_F32) total = add_sat(total, f32_copy_bytes(m));
    total = add_sat(total, mul3_sat((size_t)nt, EIR_RUN_BLAS_BYTES_PER_THREAD, 1));
    /* caller-allocated like the outputs: the final state (B x N of the run's precision), counted
     * whether or not r->final_V is set yet (every run that keeps results keeps it), and the
     * statistics of a run that asks for them (eir_stats_new()) */
    total = add_sat(total, mul3_sat((size_t)d.B, (size_t)m->n, prec_size(d.precision)));
    if (x.st.q) {
        const size_t nw = (size_t)x.st.q->n_windows <= EIR_STATS_MAX_WINDOWS
                              ? (size_t)x.st.q->n_windows
                              : EIR_STATS_MAX_WINDOWS;
        total =
            add_sat(total, sizeof(eir_stats) +
                               (4 * nw * (size_t)d.B + 4 * nw + 5 * (size_t)d.B) * sizeof(double));
    }
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d.record_mask & (1u << v))) continue;
        const size_t units = v == EIR_VAR_Y ? (size_t)m->n_out : (size_t)x.n_rec;
        total = add_sat(total, mul3_sat(mul3_sat((size_t)d.B, (size_t)x.rows, 1), units,
                                        prec_size(d.precision)));
    }
    return total;
}

size_t eir_run_memory_bound(const eir_model_dims *d, const eir_run_desc *r)
{
    if (!d || !r || d->n < 1) return 0;
    /* A model without arrays, with the sizes and the storage that need the most: dense, and for
     * a gated class the fused [W; M] product (full A) and gated inputs. Only sizes and which
     * arrays exist are read by eir_run_memory_bytes(); nothing is dereferenced. */
    double present = 0; /* M_in only has to exist */
    eir_model m;
    memset(&m, 0, sizeof m);
    m.n = d->n;
    m.n_e = d->n_e;
    m.n_i = d->n - d->n_e;
    m.n_in = d->n_in;
    m.n_out = d->n_out;
    m.n_pad = eir_pad(d->n);
    m.n_out_pad = eir_pad(d->n_out);
    m.n_read = d->n;
    m.cls = d->cls;
    m.gate = d->cls == EIR_CLASS_GATED ? EIR_GATE_FUSED : EIR_GATE_NONE;
    if (d->cls == EIR_CLASS_GATED && d->n_in > 0) m.M_in = &present;
    return eir_run_memory_bytes(&m, r);
}

eir_status eir_run(const eir_model *m, const eir_run_desc *r, eir_run_result *res, eir_error *err)
{
    memset(res, 0, sizeof *res);
    res->diverged_step = -1;
    res->diverged_trial = -1;
    res->mean_rate_e = res->mean_rate_i = NAN;
    eir_status s = check_run(m, r, err);
    if (s) return s;

    sim_ctx *x = calloc(1, sizeof *x);
    if (!x) return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory starting the run");
    ctx_init(x, m, r);
    const int want = team_size(x);
    float *owned = NULL;
    void *owned_cols = NULL;
    if (setup_arrays(x, r->precision, &owned) || setup_columns(x, r->precision, &owned_cols)) {
        s = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory starting the run");
        goto done;
    }
    if (sim_ws_alloc(x, want)) {
        s = eir_error_set(err, EIR_ENOMEM, NULL,
                          "out of memory allocating the run's workspace (N = %d, B = %d)", m->n,
                          r->B);
        goto done;
    }
    const int nt = sim_team_run(want, &x->bar, &x->cancel, team_member, x);
    s = outcome(x, nt, res, err);
done:
    free(owned);
    free(owned_cols);
    free(x->w.block);
    free(x);
    return s;
}
