/**
 * @file changes.h
 * @brief The change feed: a counter of this daemon's changes to jobs (created, claimed,
 *        progress written, ended, cancelled, deleted), models (stored, built, deleted) and
 *        sweeps (created, cancelled, deleted), and GET /v1/changes?after=SEQ&wait=S, which
 *        answers {"seq": N} at once when N != SEQ, else when the counter moves, at the
 *        deadline or at shutdown (a long poll suspended in the waiters' registry, waiters.h).
 *
 * The counter lives in memory (srv::changes; the feed starts at 1 at each start) and is only
 * meant to be compared for inequality: a page reloads a list when it moves. Lock-free; the
 * wake takes the registry's lock.
 */
#ifndef EIRNN_CHANGES_H
#define EIRNN_CHANGES_H

#include <stdint.h>

#include "srv.h"

/** Count one change and resume the requests waiting on the feed. Never fails. */
void srv_changes_bump(srv *s);

/** The feed's current value (1 + the changes counted so far). */
uint64_t srv_changes_seq(srv *s);

#endif /* EIRNN_CHANGES_H */
