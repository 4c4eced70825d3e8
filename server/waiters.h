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

/** What a suspended request waits for (srv_waiter::kind). */
typedef enum srv_wait_kind {
    SRV_WAIT_END = 0,  /**< the job (or sweep) run_id reaching a final state: ?wait=S */
    SRV_WAIT_PROGRESS, /**< that, or the job's progress written: ?wait=S&progress=D */
    SRV_WAIT_CHANGES   /**< the daemon's change counter moving (changes.h); run_id unused */
} srv_wait_kind;

/** One suspended request; embedded in the request context (no allocation). */
typedef struct srv_waiter {
    struct srv_waiter *prev, *next;
    char run_id[STORE_ID_MAX];
    struct MHD_Connection *con;
    double deadline;    /**< srv_now() seconds */
    int linked;         /**< in the registry (guarded by the registry lock) */
    srv_wait_kind kind; /**< what wakes it besides its deadline and shutdown */
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

/**
 * srv_waiters_suspend() for a waiter of kind @p kind: SRV_WAIT_PROGRESS is also woken by
 * srv_waiters_wake_progress(@p run_id); SRV_WAIT_CHANGES only by srv_waiters_wake_changes()
 * (@p run_id is ignored, and the store watcher never sees it). Same return values.
 */
int srv_waiters_suspend_kind(struct srv_waiters *ws, srv_waiter *w, struct MHD_Connection *con,
                             const char *run_id, double deadline, srv_wait_kind kind);

/** Resume the SRV_WAIT_PROGRESS waiters of @p run_id (its progress or status was written; this
 *  counts as a wake for srv_waiters_wakes()). NULL @p ws is a no-op. */
void srv_waiters_wake_progress(struct srv_waiters *ws, const char *run_id);

/** Resume every SRV_WAIT_CHANGES waiter (the change counter moved). NULL @p ws is a no-op. */
void srv_waiters_wake_changes(struct srv_waiters *ws);

/** Resume @p w if it is still registered (e.g. the run ended before the suspend). */
void srv_waiters_resume(struct srv_waiters *ws, srv_waiter *w);

/** Unlink @p w without resuming (its connection is being closed). */
void srv_waiters_forget(struct srv_waiters *ws, srv_waiter *w);

/** Resume every waiter of @p run_id (the run reached a final state), of any kind but
 *  SRV_WAIT_CHANGES. */
void srv_waiters_wake(struct srv_waiters *ws, const char *run_id);

/** The number of srv_waiters_wake() and srv_waiters_snapshot() calls so far (0 for NULL): a
 *  long poll notes it before reading its run, and after registering reads the run again only if
 *  a wake or a watcher's look came meanwhile (a look that began before the registration cannot
 *  have included it). */
uint64_t srv_waiters_wakes(struct srv_waiters *ws);

/**
 * Block while no waiter of a run (of kind SRV_WAIT_END or SRV_WAIT_PROGRESS) is registered (the
 * store watcher sleeps here, costing nothing when nobody waits). @return 1 when there are waiters,
 * 0 once the registry is shut down.
 */
int srv_waiters_await(struct srv_waiters *ws);

/**
 * Copy the run id of every registered waiter (but SRV_WAIT_CHANGES ones) into @p ids (room for @p
 * cap; a run waited for twice appears twice) and count the call as a wake (srv_waiters_wakes()),
 * under the lock: a waiter registered after it sees the count moved and reads its run again.
 * @return the number copied, or, when more than @p cap such waiters are registered, their number
 * with nothing copied (grow and call again).
 */
size_t srv_waiters_snapshot(struct srv_waiters *ws, char (*ids)[STORE_ID_MAX], size_t cap);

/** Resume every waiter and refuse new ones (shutdown). Safe to call twice. */
void srv_waiters_shutdown(struct srv_waiters *ws);

/** Stop the timer thread and free the registry (after srv_waiters_shutdown). NULL is a no-op. */
void srv_waiters_free(struct srv_waiters *ws);

#endif /* EIRNN_WAITERS_H */
