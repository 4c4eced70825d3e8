/**
 * @file sim.c
 * @brief eir_run(): run validation, precision conversion, the split of trials between
 *        threads, and the run's outcome. The integrators themselves are in sim_impl.h.
 */
#include <math.h>
#include <pthread.h>
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
    return EIR_OK;
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
 * Point @p x->a at the model's arrays in the run's precision. For float32 they are converted
 * into one allocation returned in *owned (caller frees); for float64 nothing is copied.
 */
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
    if (x->r->B != 1 || n > SIM_COLUMN_KERNEL_MAX_N) return EIR_OK;
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

static eir_status setup_arrays(sim_ctx *x, eir_precision prec, float **owned)
{
    const eir_model *m = x->m;
    const size_t n = (size_t)m->n, nn = (size_t)m->n_pad * n;
    const double *mat = m->gate == EIR_GATE_NONE ? m->W : m->gate == EIR_GATE_SPLIT ? m->S : m->WM;
    const size_t matlen = m->gate == EIR_GATE_FUSED ? 2 * nn : nn;
    const size_t pin = (size_t)m->n_pad * (size_t)m->n_in;
    const size_t wout = (size_t)m->n_out_pad * (size_t)m->n_read;
    *owned = NULL;
    if (prec == EIR_F64) {
        x->a = (sim_arrays){.mat = mat,
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
    size_t total = matlen + 2 * pin + wout + (size_t)m->n_out + 6 * n;
    float *buf = malloc(total * sizeof *buf);
    if (!buf) return EIR_ENOMEM;
    float *cur = buf;
    x->a.mat = to_f32(mat, matlen, &cur);
    x->a.P = to_f32(m->P, pin, &cur);
    x->a.M_in = to_f32(m->M_in, pin, &cur);
    x->a.W_out = to_f32(m->W_out, wout, &cur);
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

static void *chunk_thread(void *arg)
{
    sim_chunk *c = arg;
    if (c->ctx->r->precision == EIR_F32)
        sim_chunk_run_f32(c);
    else
        sim_chunk_run_f64(c);
    return NULL;
}

/** Steps between progress callbacks: about 10 ms of work at ~5 GFLOP/s. */
static int64_t auto_progress_every(const sim_ctx *x)
{
    double flops = 2.0 * x->n * (double)x->n * x->r->B + 50.0 * x->n * (double)x->r->B;
    if (x->r->integrator == EIR_INTEG_RK4) flops *= 4;
    int64_t every = (int64_t)(5e7 / flops);
    return every < 1 ? 1 : every > 100000 ? 100000 : every;
}

/** Run chunks on nt threads; the caller's thread reports progress while they run. */
static eir_status run_threads(sim_ctx *x, sim_chunk *ch, int nt)
{
    pthread_t *tid = calloc((size_t)nt, sizeof *tid);
    if (!tid) return EIR_ENOMEM;
    int started = 0;
    for (; started < nt; started++)
        if (pthread_create(&tid[started], NULL, chunk_thread, &ch[started])) break;
    if (started < nt) {
        atomic_store(&x->cancel, 1);
        for (int t = 0; t < started; t++)
            pthread_join(tid[t], NULL);
        free(tid);
        return EIR_ENOMEM;
    }
    /* monitor: poll progress every 20 ms until every chunk is done */
    const eir_run_desc *r = x->r;
    for (;;) {
        int64_t lo = INT64_MAX;
        int all_done = 1;
        for (int t = 0; t < nt; t++) {
            int64_t d = atomic_load(&ch[t].steps_done);
            lo = d < lo ? d : lo;
        }
        for (int t = 0; t < nt; t++) {
            int64_t d = atomic_load(&ch[t].steps_done);
            if (d < x->T && d < atomic_load(&x->stop_step) && !atomic_load(&x->cancel) &&
                ch[t].div_step < 0)
                all_done = 0;
        }
        if (all_done) break;
        if (r->progress && r->progress(r->progress_ctx, lo, x->T)) atomic_store(&x->cancel, 1);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int t = 0; t < nt; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    return EIR_OK;
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
    x->m = m;
    x->r = r;
    x->n = m->n;
    x->n_e = m->n_e;
    x->n_in = m->n_in;
    x->n_out = m->n_out;
    x->n_read = m->n_read;
    x->T = r->T;
    x->every = r->record_every;
    x->rows = eir_recorded_rows(r->T, r->record_every);
    x->use_gemv = r->B == 1;
    x->n_rec = r->neurons ? r->n_neurons : m->n;
    atomic_init(&x->cancel, 0);
    atomic_init(&x->stop_step, INT64_MAX);
    x->progress_every = r->progress_every > 0 ? r->progress_every : auto_progress_every(x);

    const int nblocks = (r->B + EIR_TRIAL_BLOCK - 1) / EIR_TRIAL_BLOCK;
    const int nt = r->threads < nblocks ? r->threads : nblocks;
    x->monitored = nt > 1;
    /* the projection block depends on B, never on the thread count (same BLAS calls) */
    size_t per_step = (size_t)r->B * (size_t)m->n_pad;
    x->Tc = (int64_t)(PROJECT_BLOCK_ELEMS / (per_step ? per_step : 1));
    if (x->Tc < 1) x->Tc = 1;
    if (x->Tc > r->T) x->Tc = r->T;

    float *owned = NULL;
    void *owned_cols = NULL;
    sim_chunk *ch = calloc((size_t)nt, sizeof *ch);
    x->rate_e = calloc((size_t)r->B, sizeof(double));
    x->rate_i = calloc((size_t)r->B, sizeof(double));
    x->trial_steps = calloc((size_t)r->B, sizeof(int64_t));
    if (!ch || !x->rate_e || !x->rate_i || !x->trial_steps ||
        setup_arrays(x, r->precision, &owned) || setup_columns(x, r->precision, &owned_cols)) {
        s = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory starting the run");
        goto done;
    }
    (void)prec_size;

    /* trials split into nt contiguous chunks of whole blocks (EIR_TRIAL_BLOCK), the first ones
       one block larger */
    for (int t = 0, b = 0; t < nt; t++) {
        int nbl = nblocks / nt + (t < nblocks % nt);
        int nb = nbl * EIR_TRIAL_BLOCK < r->B - b ? nbl * EIR_TRIAL_BLOCK : r->B - b;
        ch[t].ctx = x;
        ch[t].b0 = b;
        ch[t].nb = nb;
        atomic_init(&ch[t].steps_done, 0);
        b += nb;
    }
    if (nt == 1) {
        chunk_thread(&ch[0]);
    } else if (run_threads(x, ch, nt)) {
        s = eir_error_set(err, EIR_ENOMEM, NULL, "could not start %d simulation threads", nt);
        goto done;
    }

    /* outcome: the lowest diverged step wins; every trial's rows from there on are NaN */
    int64_t steps = r->T;
    for (int t = 0; t < nt; t++) {
        if (ch[t].status == EIR_ENOMEM) {
            s = eir_error_set(err, EIR_ENOMEM, NULL,
                              "out of memory allocating the run's workspace (N = %d, B = %d)", m->n,
                              r->B);
            goto done;
        }
        if (ch[t].div_step >= 0 &&
            (res->diverged_step < 0 || ch[t].div_step < res->diverged_step ||
             (ch[t].div_step == res->diverged_step && ch[t].div_trial < res->diverged_trial))) {
            res->diverged_step = ch[t].div_step;
            res->diverged_trial = ch[t].div_trial;
        }
        int64_t d = atomic_load(&ch[t].steps_done);
        steps = d < steps ? d : steps;
        res->max_z_dt = ch[t].max_zdt > res->max_z_dt ? ch[t].max_zdt : res->max_z_dt;
    }
    if (res->diverged_step >= 0) {
        res->diverged = 1;
        steps = res->diverged_step;
        sim_nan_fill(x, 0, r->B, steps / x->every);
    }
    res->steps_done = steps;
    res->rows_written = steps / x->every;
    res->unstable = r->integrator == EIR_INTEG_EULER && res->max_z_dt > 2.0;
    double se = 0, si = 0, cnt = 0;
    for (int b = 0; b < r->B; b++) {
        se += x->rate_e[b];
        si += x->rate_i[b];
        cnt += (double)x->trial_steps[b];
    }
    if (m->n_e > 0 && cnt > 0) res->mean_rate_e = se / (cnt * m->n_e);
    if (m->n_i > 0 && cnt > 0) res->mean_rate_i = si / (cnt * m->n_i);
    if (atomic_load(&x->cancel) && !res->diverged && steps < r->T) {
        sim_nan_fill(x, 0, r->B, steps / x->every);
        s = eir_error_set(err, EIR_ECANCELLED, NULL,
                          "the run was cancelled after %lld of %lld steps", (long long)steps,
                          (long long)r->T);
    } else if (r->progress && !res->diverged) {
        r->progress(r->progress_ctx, steps, r->T);
    }
done:
    free(owned);
    free(owned_cols);
    free(ch);
    free(x->rate_e);
    free(x->rate_i);
    free(x->trial_steps);
    free(x);
    return s;
}
