/**
 * @file waiters.h
 * @brief The long-poll registry: connections suspended on GET /v1/runs/{id}?wait=S, by run id,
 *        with deadlines. They are resumed by the worker that finishes the run (srv_waiters_wake),
 *        by the store watcher when another connection or daemon ended it (waiters_watch.h,
 *        through srv_waiters_await and srv_waiters_snapshot), by a timer thread at their
 *        deadline, and all at once at shutdown.
 *
 * Every resume happens under the registry's lock right after the waiter is unlinked, so each
 * suspended connection is resumed exactly once; registration and MHD_suspend_connection()
 * happen under the same lock, so a resume never precedes its suspend. libmicrohttpd then calls
 * the access handler again with the same request context, which answers with the run's state.
 */
#ifndef EIRNN_WAITERS_H
#define EIRNN_WAITERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct MHD_Connection;
struct srv_waiters;

/** One suspended request; embedded in the request context (no allocation). */
typedef struct srv_waiter {
    struct srv_waiter *prev, *next;
    char run_id[STORE_ID_MAX];
    struct MHD_Connection *con;
    double deadline; /**< srv_now() seconds */
    int linked;      /**< in the registry (guarded by the registry lock) */
} srv_waiter;

/**
 * Create the registry and start its timer thread. @p gauge (may be NULL) counts suspended
 * connections. NULL when out of memory or the thread cannot start.
 */
struct srv_waiters *srv_waiters_new(atomic_int *gauge);

/**
 * Register @p w for @p run_id until @p deadline and suspend @p con, atomically with respect to
 * wakes. @return 0 when suspended; -1 when the registry is shut down (nothing done: answer now).
 */
int srv_waiters_suspend(struct srv_waiters *ws, srv_waiter *w, struct MHD_Connection *con,
                        const char *run_id, double deadline);

/** Resume @p w if it is still registered (e.g. the run ended before the suspend). */
void srv_waiters_resume(struct srv_waiters *ws, srv_waiter *w);

/** Unlink @p w without resuming (its connection is being closed). */
void srv_waiters_forget(struct srv_waiters *ws, srv_waiter *w);

/** Resume every waiter of @p run_id (the run reached a final state). */
void srv_waiters_wake(struct srv_waiters *ws, const char *run_id);

/** The number of srv_waiters_wake() and srv_waiters_snapshot() calls so far (0 for NULL): a
 *  long poll notes it before reading its run, and after registering reads the run again only if
 *  a wake or a watcher's look came meanwhile (a look that began before the registration cannot
 *  have included it). */
uint64_t srv_waiters_wakes(struct srv_waiters *ws);

/**
 * Block while no waiter is registered (the store watcher sleeps here, costing nothing when
 * nobody waits). @return 1 when there are waiters, 0 once the registry is shut down.
 */
int srv_waiters_await(struct srv_waiters *ws);

/**
 * Copy the run id of every registered waiter into @p ids (room for @p cap; a run waited for
 * twice appears twice) and count the call as a wake (srv_waiters_wakes()), under the lock: a
 * waiter registered after it sees the count moved and reads its run again. @return the number
 * copied, or, when more than @p cap are registered, their number with nothing copied (grow and
 * call again).
 */
size_t srv_waiters_snapshot(struct srv_waiters *ws, char (*ids)[STORE_ID_MAX], size_t cap);

/** Resume every waiter and refuse new ones (shutdown). Safe to call twice. */
void srv_waiters_shutdown(struct srv_waiters *ws);

/** Stop the timer thread and free the registry (after srv_waiters_shutdown). NULL is a no-op. */
void srv_waiters_free(struct srv_waiters *ws);

#endif /* EIRNN_WAITERS_H */
