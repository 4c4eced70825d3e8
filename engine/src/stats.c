/**
 * @file stats.c
 * @brief Run statistics (eir.h "Run statistics"): their request's check, the plan of a run's
 *        intervals, the combination of the work items' slots into windows, and the results.
 *        The per-step accumulation itself is in sim_impl.h (finish_item, settle_item).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

eir_stats *eir_stats_new(const eir_stats_req *q, int B)
{
    const int nw = q && q->n_windows > 0 ? q->n_windows : 0;
    if (B < 1 || nw > EIR_STATS_MAX_WINDOWS) return NULL;
    eir_stats *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    const size_t per_w = (size_t)nw * (size_t)B * 2;
    const size_t total = 2 * per_w + 4 * (size_t)nw + 5 * (size_t)B;
    double *a = malloc((total ? total : 1) * sizeof *a);
    if (!a) {
        free(s);
        return NULL;
    }
    for (size_t k = 0; k < total; k++)
        a[k] = NAN;
    s->n_windows = nw;
    s->B = B;
    s->mean = a;
    s->std = a + per_w;
    s->mean_all = a + 2 * per_w;
    s->std_all = s->mean_all + 2 * (size_t)nw;
    s->final_V = s->std_all + 2 * (size_t)nw;
    s->final_r = s->final_V + 2 * (size_t)B;
    s->max_dvdt = s->final_r + 2 * (size_t)B;
    s->final_V_all[0] = s->final_V_all[1] = s->final_r_all[0] = s->final_r_all[1] = NAN;
    s->max_dvdt_all = NAN;
    return s;
}

void eir_stats_free(eir_stats *s)
{
    if (!s) return;
    free(s->mean);
    free(s);
}

eir_status sim_stats_check(const eir_run_desc *r, eir_error *err)
{
    const eir_stats_req *q = r->stats_req;
    if (!q && !r->stats) return EIR_OK;
    if (!q || !r->stats)
        return eir_error_set(err, EIR_EINVAL, "/metrics",
                             "statistics need both a request (stats_req) and their place (stats)");
    if (q->n_windows < 0 || q->n_windows > EIR_STATS_MAX_WINDOWS)
        return eir_error_set(err, EIR_EINVAL, "/metrics/windows",
                             "at most %d windows are allowed, got %d", EIR_STATS_MAX_WINDOWS,
                             q->n_windows);
    if (q->n_windows > 0 && !q->windows)
        return eir_error_set(err, EIR_EINVAL, "/metrics/windows", "the windows are missing");
    for (int w = 0; w < q->n_windows; w++) {
        const eir_stat_window *g = &q->windows[w];
        char f[64];
        if (g->var != EIR_VAR_V && g->var != EIR_VAR_R && g->var != EIR_VAR_Z) {
            snprintf(f, sizeof f, "/metrics/windows/%d/var", w);
            return eir_error_set(err, EIR_EINVAL, f, "a window's var must be V, r or z");
        }
        if (g->from < 0 || g->from >= r->T) {
            snprintf(f, sizeof f, "/metrics/windows/%d/from", w);
            return eir_error_set(err, EIR_EINVAL, f, "from (%lld) must be in [0, T = %lld)",
                                 (long long)g->from, (long long)r->T);
        }
        if (g->to <= g->from || g->to > r->T) {
            snprintf(f, sizeof f, "/metrics/windows/%d/to", w);
            return eir_error_set(err, EIR_EINVAL, f, "to (%lld) must be in (from = %lld, T = %lld]",
                                 (long long)g->to, (long long)g->from, (long long)r->T);
        }
    }
    if (q->settle_steps < 0 || q->settle_steps > r->T)
        return eir_error_set(err, EIR_EINVAL, "/metrics/settle/steps",
                             "settle steps must be in [1, T = %lld], got %lld", (long long)r->T,
                             (long long)q->settle_steps);
    if (r->stats->n_windows != q->n_windows || r->stats->B != r->B)
        return eir_error_set(err, EIR_EINVAL, "/metrics",
                             "the statistics were made for %d windows and %d trials, the run has "
                             "%d and %d (eir_stats_new())",
                             r->stats->n_windows, r->stats->B, q->n_windows, r->B);
    return EIR_OK;
}

/** Whether window @p g is usable for the plan (a checked run's windows all are). */
static int window_ok(const eir_stat_window *g, int64_t T)
{
    return (g->var == EIR_VAR_V || g->var == EIR_VAR_R || g->var == EIR_VAR_Z) && g->from >= 0 &&
           g->from < g->to && g->to <= T;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void sim_stats_plan_init(sim_ctx *x)
{
    sim_stats_plan *p = &x->st;
    const eir_run_desc *r = x->r;
    memset(p, 0, sizeof *p);
    p->settle_from = INT64_MAX;
    p->slot[0] = p->slot[1] = p->slot[2] = -1;
    const eir_stats_req *q = r->stats_req;
    if (!q) return; /* planned from the request alone: eir_run_memory_bytes() has no stats */
    p->q = q;
    const int nw =
        q->windows && q->n_windows > 0 && q->n_windows <= EIR_STATS_MAX_WINDOWS ? q->n_windows : 0;
    int n = 0;
    p->bnd[n++] = 0;
    p->bnd[n++] = x->T;
    for (int w = 0; w < nw; w++) {
        const eir_stat_window *g = &q->windows[w];
        if (!window_ok(g, x->T)) continue;
        if (p->slot[g->var] < 0) {
            p->var[p->nv] = (int)g->var;
            p->slot[g->var] = p->nv++;
        }
        p->bnd[n++] = g->from;
        p->bnd[n++] = g->to;
    }
    qsort(p->bnd, (size_t)n, sizeof p->bnd[0], cmp_i64);
    int u = 0;
    for (int k = 0; k < n; k++)
        if (u == 0 || p->bnd[k] != p->bnd[u - 1]) p->bnd[u++] = p->bnd[k];
    p->nbnd = u;
    for (int i = 0; i + 1 < u; i++)
        for (int w = 0; w < nw; w++) {
            const eir_stat_window *g = &q->windows[w];
            if (window_ok(g, x->T) && g->from <= p->bnd[i] && p->bnd[i + 1] <= g->to)
                p->imask[i] |= 1u << g->var;
        }
    if (q->settle_steps > 0 && q->settle_steps <= x->T) p->settle_from = x->T - q->settle_steps;
}

void sim_stats_ws_sizes(const sim_ctx *x, size_t sizes[3])
{
    const sim_stats_plan *p = &x->st;
    const size_t B = (size_t)x->B, nb = (size_t)x->n_nb;
    sizes[0] = sizes[1] = sizes[2] = 0;
    if (!p->q) return;
    sizes[0] = 2 * B * nb * (size_t)p->nv * 6;
    if (p->nv > 0) sizes[1] = (size_t)p->q->n_windows * B * 6;
    if (p->settle_from != INT64_MAX) sizes[2] = B * nb;
}

int sim_stats_interval(const sim_ctx *x, int64_t k)
{
    int lo = 0, hi = x->st.nbnd - 1; /* bnd[lo] <= k < bnd[hi] */
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (x->st.bnd[mid] <= k)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/**
 * Interval @p iv of trial @p b is over: combine its slots in block order per variable and
 * population, add the result to every window that covers the interval, clear the slots.
 */
static void flush(sim_ctx *x, int iv, int b)
{
    const sim_stats_plan *p = &x->st;
    const int par = iv & 1;
    for (int s = 0; s < p->nv; s++) {
        const int var = p->var[s];
        if (!((p->imask[iv] >> var) & 1)) continue;
        for (int pop = 0; pop < 2; pop++) {
            double acc[3] = {0, 0, 0};
            for (int j = 0; j < x->n_nb; j++) {
                const double *c = sim_stats_slot(x, par, b, j, s) + 3 * pop;
                sim_chan(acc, c[0], c[1], c[2]);
            }
            for (int w = 0; w < p->q->n_windows; w++) {
                const eir_stat_window *g = &p->q->windows[w];
                if ((int)g->var != var || g->from > p->bnd[iv] || p->bnd[iv + 1] > g->to) continue;
                double *o = x->w.st_win + (((size_t)w * x->B + (size_t)b) * 2 + (size_t)pop) * 3;
                sim_chan(o, acc[0], acc[1], acc[2]);
            }
        }
    }
    if (p->nv > 0)
        memset(sim_stats_slot(x, par, b, 0, 0), 0,
               (size_t)x->n_nb * (size_t)p->nv * 6 * sizeof(double));
}

void sim_stats_step_start(sim_ctx *x, int64_t k, int lo, int hi)
{
    if (!x->st.q || x->st.nv == 0 || k == 0) return;
    const int iv = sim_stats_interval(x, k);
    if (x->st.bnd[iv] != k) return;
    for (int b = lo; b < hi; b++)
        flush(x, iv - 1, b);
}

/** Population means of trial @p b's row of B x N state @p st (the run's precision) into m[2]. */
static void pop_means(const sim_ctx *x, const void *st, int b, double m[2])
{
    const size_t o = (size_t)b * (size_t)x->n;
    double sum[2] = {0, 0};
    for (int i = 0; i < x->n; i++) {
        const double v = x->r->precision == EIR_F32 ? (double)((const float *)st)[o + i]
                                                    : ((const double *)st)[o + i];
        sum[i >= x->n_e] += v;
    }
    m[0] = x->n_e > 0 ? sum[0] / x->n_e : NAN;
    m[1] = x->n > x->n_e ? sum[1] / (x->n - x->n_e) : NAN;
}

/** Windows' results: per trial, and pooled over trials in trial order. */
static void finish_windows(sim_ctx *x, eir_stats *s, int64_t end)
{
    const eir_stats_req *q = x->st.q;
    for (int w = 0; w < q->n_windows; w++) {
        const int done = q->windows[w].to <= end;
        for (int pop = 0; pop < 2; pop++) {
            double all[3] = {0, 0, 0};
            for (int b = 0; b < x->B; b++) {
                const double *a = x->w.st_win + (((size_t)w * x->B + (size_t)b) * 2 + pop) * 3;
                const size_t o = ((size_t)w * x->B + (size_t)b) * 2 + (size_t)pop;
                const int ok = done && a[0] > 0;
                s->mean[o] = ok ? a[1] : NAN;
                s->std[o] = ok ? sqrt(a[2] / a[0]) : NAN;
                if (ok) sim_chan(all, a[0], a[1], a[2]);
            }
            const int ok = done && all[0] > 0;
            s->mean_all[w * 2 + pop] = ok ? all[1] : NAN;
            s->std_all[w * 2 + pop] = ok ? sqrt(all[2] / all[0]) : NAN;
        }
    }
}

void sim_stats_finish(sim_ctx *x, int cancelled)
{
    const sim_stats_plan *p = &x->st;
    if (!p->q) return;
    eir_stats *s = x->r->stats;
    const int64_t end = x->end_step;
    if (p->nv > 0 && end == x->T)
        for (int b = 0; b < x->B; b++)
            flush(x, p->nbnd - 2, b);
    finish_windows(x, s, end);
    double fv[2] = {0, 0}, fr[2] = {0, 0};
    for (int b = 0; b < x->B; b++) {
        double *v = s->final_V + 2 * (size_t)b, *r = s->final_r + 2 * (size_t)b;
        if (cancelled) {
            v[0] = v[1] = r[0] = r[1] = NAN;
            continue;
        }
        pop_means(x, x->w.V, b, v);
        pop_means(x, x->w.R, b, r);
        for (int pop = 0; pop < 2; pop++) {
            fv[pop] += v[pop];
            fr[pop] += r[pop];
        }
    }
    for (int pop = 0; pop < 2; pop++) {
        s->final_V_all[pop] = cancelled ? NAN : fv[pop] / x->B;
        s->final_r_all[pop] = cancelled ? NAN : fr[pop] / x->B;
    }
    const int settled = p->settle_from != INT64_MAX && end == x->T;
    double all = 0;
    for (int b = 0; b < x->B; b++) {
        double m = settled ? 0 : NAN;
        for (int j = 0; settled && j < x->n_nb; j++) {
            const double d = x->w.st_settle[(size_t)b * x->n_nb + j];
            m = d > m || d != d ? d : m;
        }
        s->max_dvdt[b] = m;
        all = m > all || m != m ? m : all;
    }
    s->max_dvdt_all = settled ? all : NAN;
    s->steps = end;
}
