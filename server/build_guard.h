/**
 * @file build_guard.h
 * @brief A watcher for one model build (or a run's wait for one): a thread that requests the
 *        build's stop flag (eir.h eir_stop, handed to the build in eir_json_limits.stop) when
 *        the daemon begins to stop, when the build's time limit passes, or when a cancel
 *        callback says so, so that the build ends within a block of rows (engine) instead of
 *        running to its end.
 *
 * The stopping flag and the deadline are looked at every 50 ms, the cancel callback every
 * 0.25 s (as exec.c looks at a running run's cancel). The guard's thread sleeps on a condition
 * variable, so srv_build_guard_end() returns at once. One thread owns a guard.
 */
#ifndef EIRNN_BUILD_GUARD_H
#define EIRNN_BUILD_GUARD_H

#include <pthread.h>
#include <stdatomic.h>

#include "eir.h"

/** Why a guard requested its stop flag. */
typedef enum srv_guard_why {
    SRV_GUARD_NONE = 0,     /**< not requested: the build ended by itself */
    SRV_GUARD_SHUTDOWN = 1, /**< the daemon began to stop */
    SRV_GUARD_TIME = 2,     /**< the time limit passed */
    SRV_GUARD_CANCEL = 3    /**< the cancel callback asked for it */
} srv_guard_why;

/** Polled on the guard's thread every 0.25 s; non-zero asks to stop. */
typedef int (*srv_guard_cancel_fn)(void *ctx);

typedef struct srv_build_guard {
    eir_stop *stop; /**< the flag to hand to the build; NULL when the guard could not start */
    const atomic_int *stopping;
    double deadline; /**< srv_now() past which the build stops; 0 = none */
    srv_guard_cancel_fn cancel;
    void *cancel_ctx;
    atomic_int why; /**< srv_guard_why, set before the flag is requested */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done; /**< guarded by lock: the guard's thread is to return */
    int started;
    pthread_t tid;
} srv_build_guard;

/**
 * Start guarding: a new stop flag in g->stop and a thread that requests it when *@p stopping
 * becomes non-zero, after @p limit_s seconds (0 = never) or when @p cancel (may be NULL) returns
 * non-zero. Returns 0; -1 when the flag or the thread cannot be made (out of memory): then
 * g->stop is NULL (an unguarded build) and srv_build_guard_end() still must be called.
 */
int srv_build_guard_begin(srv_build_guard *g, const atomic_int *stopping, double limit_s,
                          srv_guard_cancel_fn cancel, void *cancel_ctx);

/** Why the flag was requested so far (SRV_GUARD_NONE if not); any thread. */
srv_guard_why srv_build_guard_why(srv_build_guard *g);

/**
 * Stop guarding: end the thread, free the flag. Returns why the flag was requested
 * (SRV_GUARD_NONE when it was not). Cannot fail.
 */
srv_guard_why srv_build_guard_end(srv_build_guard *g);

#endif /* EIRNN_BUILD_GUARD_H */
