/**
 * @file metrics.h
 * @brief eirnnd's in-process counters and histograms, rendered in Prometheus text format.
 *
 * Everything here is lock-free (C11 atomics) so that recording a request costs a few atomic
 * additions on any thread. Gauges that live in the database (runs by status, queue depth) are
 * read at scrape time.
 */
#ifndef EIRNN_METRICS_H
#define EIRNN_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define SRV_HIST_MAX_BUCKETS 20

/** A cumulative histogram with fixed upper bounds (seconds). */
typedef struct srv_hist {
    int nb;                                                /**< number of finite bounds */
    double bounds[SRV_HIST_MAX_BUCKETS];                   /**< increasing upper bounds */
    atomic_uint_fast64_t counts[SRV_HIST_MAX_BUCKETS + 1]; /**< per bucket (not cumulative) */
    atomic_uint_fast64_t sum_us;                           /**< sum of observations, microseconds */
} srv_hist;

/** All of the daemon's metrics. */
typedef struct srv_metrics {
    atomic_uint_fast64_t http_by_code[600]; /**< finished requests by status code */
    srv_hist http_duration;                 /**< request durations (long polls included) */
    srv_hist run_duration;                  /**< wall-clock seconds from claim to finish */
    atomic_uint_fast64_t runs_finished[STORE_RUN_NSTATUS]; /**< by final status, this process */
    atomic_uint_fast64_t runs_claimed;                     /**< claims by this process's workers */
    atomic_uint_fast64_t runs_released;     /**< runs given back to the queue at shutdown */
    atomic_uint_fast64_t leases_lost;       /**< claims of this process fenced off (lease.c) */
    atomic_uint_fast64_t runs_rescued;      /**< expired leases this process's rescues ended */
    atomic_uint_fast64_t runs_submitted;    /**< runs accepted (202) by this process */
    atomic_uint_fast64_t sweeps_submitted;  /**< sweeps accepted (202) by this process */
    atomic_uint_fast64_t model_builds;      /**< models built by this process (stored, inline) */
    atomic_int_fast64_t model_cache_bytes;  /**< bytes of the model cache, set at each scrape */
    atomic_uint_fast64_t body_buffer_bytes; /**< srv::body_buffered, set at each scrape */
    atomic_int in_flight;                   /**< requests being handled */
    atomic_int workers_busy;                /**< workers simulating or writing results */
    atomic_int long_polls;                  /**< suspended long polls */
    atomic_int offload_waiting;             /**< requests waiting for the offload thread */
    /** Trainings of this process (exec_training.c, h_trainings.c): finished by final status,
     *  accepted (202), optimiser steps taken, checkpoints stored. */
    atomic_uint_fast64_t trainings_finished[STORE_RUN_NSTATUS];
    atomic_uint_fast64_t trainings_submitted;
    atomic_uint_fast64_t training_iterations;
    atomic_uint_fast64_t training_checkpoints;
} srv_metrics;

/** Zero @p m and set the histogram bounds. */
void srv_metrics_init(srv_metrics *m);

/** Record one observation of @p seconds in @p h. */
void srv_hist_observe(srv_hist *h, double seconds);

/** Record a finished request: its status code and duration. */
void srv_metrics_request(srv_metrics *m, unsigned status, double seconds);

/**
 * Render the Prometheus text exposition: the in-process metrics plus @p counts and @p depth
 * from the store (either may be NULL when the store could not be read; those series are then
 * left out and eirnn_store_up is 0). @p workers is the pool size, @p uptime in seconds.
 * @return a malloc'ed NUL-terminated text with its length in *@p len, or NULL when out of
 *         memory.
 */
char *srv_metrics_render(srv_metrics *m, const store_counts *counts, const int64_t *depth,
                         int workers, double uptime, size_t *len);

#endif /* EIRNN_METRICS_H */
