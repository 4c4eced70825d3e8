/**
 * @file waiters_watch.h
 * @brief The store watcher: wakes the long polls of this daemon whose run was ended by another
 *        connection of the store — another daemon on the same database (an HTTP-only one beside
 *        a simulating one, docs/OPERATIONS.md), or a cancel of a queued run.
 *
 * One thread with its own store connection. While no long poll waits it sleeps in
 * srv_waiters_await() and costs nothing; while some wait, it waits for a change of the store
 * (store_changes_wait(): SQLite polls PRAGMA data_version every 50 ms), and on a change takes
 * the ids of every waited-for run (srv_waiters_snapshot()), asks the store which are settled in
 * one query (store_runs_settled()) and wakes those (srv_waiters_wake()). Looks are at least
 * ::SRV_WATCH_MIN_GAP apart, so a store that changes all the time (progress updates) costs at
 * most one query per gap, whatever the number of waiters. A failed look is logged once per
 * streak of failures and tried again a gap later.
 */
#ifndef EIRNN_WAITERS_WATCH_H
#define EIRNN_WAITERS_WATCH_H

#include "store.h"
#include "waiters.h"

/** Shortest time between two looks of the watcher at the store, in seconds. */
#define SRV_WATCH_MIN_GAP 0.05

struct srv_watch;

/**
 * Start watching @p st for the waiters of @p ws (both must outlive the watcher). NULL when the
 * thread cannot start or out of memory (nothing is left running).
 */
struct srv_watch *srv_watch_start(struct srv_waiters *ws, store *st);

/**
 * Stop and free the watcher: shuts the registry down (srv_waiters_shutdown(), which resumes
 * every waiter) and joins the thread, which takes at most one wait slice (0.1 s) and one look.
 * NULL is a no-op.
 */
void srv_watch_stop(struct srv_watch *w);

#endif /* EIRNN_WAITERS_WATCH_H */
