/**
 * @file lease.h
 * @brief The lease thread: keeps this daemon's claims alive and gives back the runs of daemons
 *        that stopped keeping theirs (docs/STORE.md, "Leases").
 *
 * A claim holds a lease of store_config::lease_s seconds (--lease-seconds). One thread per
 * daemon, with its own store connection:
 *  - every lease/4 it renews the leases of the runs this daemon's workers hold (the pool's
 *    srv_pool_held(), passed to store_lease_renew(); no query when none is held), so a run keeps
 *    its claim while its worker computes a long step that writes no progress; a run claimed
 *    in the store whose claim answer never reached a worker (the connection dropped during the
 *    commit) is not renewed and is rescued after its lease like a crashed daemon's; a renewal
 *    that fails is logged and tried again at the next period, with three more chances before
 *    the lease can expire;
 *  - every lease/2, shifted by a random +-25 % so that daemons started together do not rescue
 *    in step, it rescues expired leases of any daemon (store_rescue_expired()): such runs go back
 *    to the queue (or fail at the attempt limit, or end cancelled when asked), and when one was
 *    requeued the worker pool is woken to take it.
 * Both stores run it: on SQLite, where one daemon simulates, the rescue only matters when a
 * second process (another daemon on the same file) stopped; on PostgreSQL it is how a killed
 * daemon's runs come back.
 */
#ifndef EIRNN_LEASE_H
#define EIRNN_LEASE_H

#include "srv.h"

/**
 * Start the lease thread of @p s (s->store and s->pool must stay valid until srv_lease_stop();
 * s->pool may be NULL). NULL when the thread cannot start or out of memory (logged by the
 * caller); nothing is left running then.
 */
struct srv_lease *srv_lease_start(srv *s);

/** Stop the thread (at most one store call later) and free it. NULL is a no-op. */
void srv_lease_stop(struct srv_lease *l);

#endif /* EIRNN_LEASE_H */
