/**
 * @file metrics.c
 * @brief Counters and histograms of eirnnd and their Prometheus text rendering.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double http_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,   0.5,   1,      2.5,   5,    10,    60};
static const double run_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,  1,
                                    5,     10,    30,   60,   300, 1800, 3600};

static void hist_init(srv_hist *h, const double *b, int nb)
{
    h->nb = nb;
    for (int i = 0; i < nb; i++)
        h->bounds[i] = b[i];
    for (int i = 0; i <= nb; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum_us, 0);
}

void srv_metrics_init(srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < 600; i++)
        atomic_init(&m->http_by_code[i], 0);
    hist_init(&m->http_duration, http_bounds, (int)(sizeof http_bounds / sizeof *http_bounds));
    hist_init(&m->run_duration, run_bounds, (int)(sizeof run_bounds / sizeof *run_bounds));
    for (int i = 0; i < STORE_RUN_NSTATUS; i++) {
        atomic_init(&m->runs_finished[i], 0);
        atomic_init(&m->trainings_finished[i], 0);
    }
    atomic_init(&m->trainings_submitted, 0);
    atomic_init(&m->training_iterations, 0);
    atomic_init(&m->training_checkpoints, 0);
    atomic_init(&m->runs_claimed, 0);
    atomic_init(&m->runs_released, 0);
    atomic_init(&m->leases_lost, 0);
    atomic_init(&m->runs_rescued, 0);
    atomic_init(&m->runs_submitted, 0);
    atomic_init(&m->sweeps_submitted, 0);
    atomic_init(&m->model_builds, 0);
    atomic_init(&m->model_cache_bytes, 0);
    atomic_init(&m->body_buffer_bytes, 0);
    atomic_init(&m->in_flight, 0);
    atomic_init(&m->workers_busy, 0);
    atomic_init(&m->long_polls, 0);
    atomic_init(&m->offload_waiting, 0);
}

void srv_hist_observe(srv_hist *h, double seconds)
{
    if (!(seconds >= 0)) seconds = 0;
    int i = 0;
    while (i < h->nb && seconds > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)(seconds * 1e6 + 0.5),
                              memory_order_relaxed);
}

void srv_metrics_request(srv_metrics *m, unsigned status, double seconds)
{
    if (status < 600) atomic_fetch_add_explicit(&m->http_by_code[status], 1, memory_order_relaxed);
    srv_hist_observe(&m->http_duration, seconds);
}

/** A growing text buffer; on allocation failure it stays failed and render returns NULL. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
    int failed;
} tbuf;

static void put(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(tbuf *b, const char *fmt, ...)
{
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void put_hist(tbuf *b, const char *name, const char *help, srv_hist *h)
{
    put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i <= h->nb; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->nb)
            put(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
        else
            put(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    double sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
    put(b, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
}

char *srv_metrics_render(srv_metrics *m, const store_counts *counts, const int64_t *depth,
                         int workers, double uptime, size_t *len)
{
    tbuf b = {.cap = 8192};
    b.p = malloc(b.cap);
    if (!b.p) return NULL;
    b.p[0] = '\0';

    put(&b, "# HELP eirnn_up 1 while the daemon runs.\n# TYPE eirnn_up gauge\neirnn_up 1\n");
    put(&b,
        "# HELP eirnn_uptime_seconds Seconds since the daemon started.\n"
        "# TYPE eirnn_uptime_seconds gauge\neirnn_uptime_seconds %.3f\n",
        uptime);
    put(&b,
        "# HELP eirnn_store_up 1 when the store answered this scrape.\n"
        "# TYPE eirnn_store_up gauge\neirnn_store_up %d\n",
        counts && depth ? 1 : 0);
    if (depth)
        put(&b,
            "# HELP eirnn_queue_depth Jobs (runs, analyses, trainings) waiting in the queue.\n"
            "# TYPE eirnn_queue_depth gauge\neirnn_queue_depth %lld\n",
            (long long)*depth);
    if (counts) {
        put(&b, "# HELP eirnn_runs Runs in the store by status.\n# TYPE eirnn_runs gauge\n");
        for (int i = 0; i < STORE_RUN_NSTATUS; i++)
            put(&b, "eirnn_runs{status=\"%s\"} %lld\n", store_run_status_name((store_run_status)i),
                (long long)counts->by_status[i]);
        put(&b, "# HELP eirnn_analyses Analyses in the store by status.\n"
                "# TYPE eirnn_analyses gauge\n");
        for (int i = 0; i < STORE_RUN_NSTATUS; i++)
            put(&b, "eirnn_analyses{status=\"%s\"} %lld\n",
                store_run_status_name((store_run_status)i),
                (long long)counts->analyses_by_status[i]);
        put(&b, "# HELP eirnn_trainings Trainings in the store by status.\n"
                "# TYPE eirnn_trainings gauge\n");
        for (int i = 0; i < STORE_RUN_NSTATUS; i++)
            put(&b, "eirnn_trainings{status=\"%s\"} %lld\n",
                store_run_status_name((store_run_status)i),
                (long long)counts->trainings_by_status[i]);
        put(&b,
            "# HELP eirnn_models Models in the store.\n# TYPE eirnn_models gauge\n"
            "eirnn_models %lld\n",
            (long long)counts->models);
    }
    put(&b,
        "# HELP eirnn_workers Simulation worker threads.\n# TYPE eirnn_workers gauge\n"
        "eirnn_workers %d\n",
        workers);
    put(&b,
        "# HELP eirnn_workers_busy Workers running a simulation.\n"
        "# TYPE eirnn_workers_busy gauge\neirnn_workers_busy %d\n",
        atomic_load(&m->workers_busy));
    put(&b,
        "# HELP eirnn_runs_submitted_total Runs accepted by this process.\n"
        "# TYPE eirnn_runs_submitted_total counter\neirnn_runs_submitted_total %llu\n",
        (unsigned long long)atomic_load(&m->runs_submitted));
    put(&b,
        "# HELP eirnn_sweeps_submitted_total Sweeps accepted by this process (their runs count "
        "in eirnn_runs_submitted_total).\n"
        "# TYPE eirnn_sweeps_submitted_total counter\neirnn_sweeps_submitted_total %llu\n",
        (unsigned long long)atomic_load(&m->sweeps_submitted));
    put(&b,
        "# HELP eirnn_model_builds_total Models built by this process: stored models (at "
        "creation, or by a worker for a pending model or a run) and runs' inline models (when "
        "not in the model cache).\n"
        "# TYPE eirnn_model_builds_total counter\neirnn_model_builds_total %llu\n",
        (unsigned long long)atomic_load(&m->model_builds));
    put(&b,
        "# HELP eirnn_model_cache_bytes Bytes held by the built models of the model cache (in "
        "use or not).\n"
        "# TYPE eirnn_model_cache_bytes gauge\neirnn_model_cache_bytes %lld\n",
        (long long)atomic_load(&m->model_cache_bytes));
    put(&b,
        "# HELP eirnn_runs_claimed_total Runs claimed by this process's workers.\n"
        "# TYPE eirnn_runs_claimed_total counter\neirnn_runs_claimed_total %llu\n",
        (unsigned long long)atomic_load(&m->runs_claimed));
    put(&b,
        "# HELP eirnn_runs_released_total Runs given back to the queue at shutdown.\n"
        "# TYPE eirnn_runs_released_total counter\neirnn_runs_released_total %llu\n",
        (unsigned long long)atomic_load(&m->runs_released));
    put(&b,
        "# HELP eirnn_leases_lost_total Claims of this process's workers lost: the lease expired "
        "and the run was rescued, so the worker wrote nothing more.\n"
        "# TYPE eirnn_leases_lost_total counter\neirnn_leases_lost_total %llu\n",
        (unsigned long long)atomic_load(&m->leases_lost));
    put(&b,
        "# HELP eirnn_runs_rescued_total Running runs whose lease had expired that this "
        "process's rescues requeued, failed or cancelled.\n"
        "# TYPE eirnn_runs_rescued_total counter\neirnn_runs_rescued_total %llu\n",
        (unsigned long long)atomic_load(&m->runs_rescued));
    put(&b, "# HELP eirnn_runs_finished_total Runs finished by this process, by status.\n"
            "# TYPE eirnn_runs_finished_total counter\n");
    for (int i = STORE_RUN_SUCCEEDED; i < STORE_RUN_NSTATUS; i++)
        put(&b, "eirnn_runs_finished_total{status=\"%s\"} %llu\n",
            store_run_status_name((store_run_status)i),
            (unsigned long long)atomic_load(&m->runs_finished[i]));
    put(&b, "# HELP eirnn_trainings_finished_total Trainings finished by this process, by "
            "status.\n"
            "# TYPE eirnn_trainings_finished_total counter\n");
    for (int i = STORE_RUN_SUCCEEDED; i < STORE_RUN_NSTATUS; i++)
        put(&b, "eirnn_trainings_finished_total{status=\"%s\"} %llu\n",
            store_run_status_name((store_run_status)i),
            (unsigned long long)atomic_load(&m->trainings_finished[i]));
    put(&b,
        "# HELP eirnn_trainings_submitted_total Trainings accepted (202) by this process.\n"
        "# TYPE eirnn_trainings_submitted_total counter\neirnn_trainings_submitted_total %llu\n"
        "# HELP eirnn_training_iterations_total Optimiser steps of trainings taken by this "
        "process.\n"
        "# TYPE eirnn_training_iterations_total counter\neirnn_training_iterations_total %llu\n"
        "# HELP eirnn_training_checkpoints_total Training checkpoints this process stored.\n"
        "# TYPE eirnn_training_checkpoints_total counter\neirnn_training_checkpoints_total %llu\n",
        (unsigned long long)atomic_load(&m->trainings_submitted),
        (unsigned long long)atomic_load(&m->training_iterations),
        (unsigned long long)atomic_load(&m->training_checkpoints));
    put_hist(&b, "eirnn_run_duration_seconds",
             "Wall-clock seconds from claim to finish of runs of this process.", &m->run_duration);
    put(&b,
        "# HELP eirnn_http_requests_in_flight Requests being handled.\n"
        "# TYPE eirnn_http_requests_in_flight gauge\neirnn_http_requests_in_flight %d\n",
        atomic_load(&m->in_flight));
    put(&b,
        "# HELP eirnn_http_body_buffer_bytes Bytes of request bodies being received that are "
        "held in the daemon's buffer (at most --max-body-buffer-bytes).\n"
        "# TYPE eirnn_http_body_buffer_bytes gauge\neirnn_http_body_buffer_bytes %llu\n",
        (unsigned long long)atomic_load(&m->body_buffer_bytes));
    put(&b,
        "# HELP eirnn_http_long_polls Long polls waiting for a run.\n"
        "# TYPE eirnn_http_long_polls gauge\neirnn_http_long_polls %d\n",
        atomic_load(&m->long_polls));
    put(&b,
        "# HELP eirnn_offload_waiting Requests (sweeps being created) waiting for the "
        "request-offload "
        "thread.\n"
        "# TYPE eirnn_offload_waiting gauge\neirnn_offload_waiting %d\n",
        atomic_load(&m->offload_waiting));
    put(&b, "# HELP eirnn_http_requests_total Finished HTTP requests by status code.\n"
            "# TYPE eirnn_http_requests_total counter\n");
    for (int c = 100; c < 600; c++) {
        uint64_t n = atomic_load_explicit(&m->http_by_code[c], memory_order_relaxed);
        if (n) put(&b, "eirnn_http_requests_total{code=\"%d\"} %llu\n", c, (unsigned long long)n);
    }
    put_hist(&b, "eirnn_http_request_duration_seconds",
             "Seconds from the request's headers to the end of its response.", &m->http_duration);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
