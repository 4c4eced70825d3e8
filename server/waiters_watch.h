/**
 * @file waiters_watch.h
 * @brief The store watcher: wakes the long polls of this daemon whose run was ended by another
 *        connection of the store — another daemon on the same database (an HTTP-only one beside
 *        a simulating one, docs/OPERATIONS.md), or a cancel of a queued run.
 *
 * A store that notifies (store_notifies(): PostgreSQL LISTEN/NOTIFY) is watched for the
 * daemon's whole life: each notification of changes_wait() acts at once (a queued job wakes
 * the idle workers, a claim or progress wakes ?progress= long polls, an ended job wakes its
 * ?wait= long polls; each bumps the change feed), and the runs waited for are looked at as
 * below when a change came without a notification (first wait, reconnect) and at least once a
 * second while anyone waits, as the fallback (notifications are not durable).
 *
 * Otherwise (SQLite) one thread with its own store connection. While no long poll waits it
 * sleeps in
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

#include "srv.h"
#include "store.h"
#include "waiters.h"

/** Shortest time between two looks of the watcher at the store, in seconds. */
#define SRV_WATCH_MIN_GAP 0.05

struct srv_watch;

/**
 * Start watching s->store for the waiters of s->waiters, waking s->pool (may be NULL) and the
 * change feed of @p s for a store that notifies; all must outlive the watcher. NULL when the
 * thread cannot start or out of memory (nothing is left running).
 */
struct srv_watch *srv_watch_start(srv *s);

/**
 * Stop and free the watcher: shuts the registry down (srv_waiters_shutdown(), which resumes
 * every waiter) and joins the thread, which takes at most one wait slice (0.1 s) and one look.
 * NULL is a no-op.
 */
void srv_watch_stop(struct srv_watch *w);

#endif /* EIRNN_WAITERS_WATCH_H */
