/**
 * @file offload.h
 * @brief The request-offload worker: one thread that runs the work of requests too heavy for an
 *        HTTP thread (work that grows faster than the request's size, e.g. checking every point
 *        of a sweep), while their connections are suspended.
 *
 * A handler calls srv_offload_submit() on its first call: the connection is suspended and the
 * request queued (at most SRV_OFFLOAD_MAX_WAITING wait; more are refused and the handler
 * answers 503 itself). The thread runs the request's function with the request's answer
 * captured (http.h, srv_req::capture: srv_reply() keeps the response instead of queueing it,
 * since libmicrohttpd queues answers only from the connection's own thread), with its own store
 * connection (srv_thread_conn()) and the store deadline counted from the start of the work,
 * then resumes the connection. libmicrohttpd calls the handler again with the same request
 * context and r->poll_state == SRV_POLL_OFFLOADED; the handler queues the captured answer with
 * srv_reply_captured().
 *
 * Locking: the queue is under the offload lock; suspend and enqueue happen under it together,
 * so a resume never precedes its suspend. A request is touched by one thread at a time: the
 * HTTP thread until it is queued, the offload thread (or the shutdown) until it is resumed, the
 * HTTP thread again after. Nothing touches it after MHD_resume_connection() but libmicrohttpd's
 * thread. A client that hangs up meanwhile is only noticed after the resume: the work is done
 * anyway and the captured answer freed with the request (srv_reply_captured_free()).
 */
#ifndef EIRNN_OFFLOAD_H
#define EIRNN_OFFLOAD_H

#include <stdatomic.h>

#include "http.h"

/** Requests that may wait for the offload thread (the one it runs is not counted). */
#define SRV_OFFLOAD_MAX_WAITING 8

/** srv_req::poll_state of a request handed to the offload thread. */
#define SRV_POLL_OFFLOADED 2

struct srv_offload;

/** The work of an offloaded request: answers @p r with srv_reply() (or a helper built on it),
 *  as a handler does; runs on the offload thread with the answer captured. */
typedef void (*srv_offload_fn)(srv_req *r);

/** What srv_offload_submit() did. */
typedef enum srv_offload_result {
    SRV_OFFLOAD_QUEUED, /**< suspended and queued: return MHD_YES, answer on the next call */
    SRV_OFFLOAD_FULL,   /**< SRV_OFFLOAD_MAX_WAITING wait already: nothing done, answer 503 */
    SRV_OFFLOAD_CLOSED  /**< the daemon is stopping: nothing done, answer 503 */
} srv_offload_result;

/**
 * Start the offload thread of daemon @p s; @p gauge (may be NULL) counts the requests waiting.
 * NULL (after nothing was started) when out of memory or the thread cannot start.
 */
struct srv_offload *srv_offload_start(srv *s, atomic_int *gauge);

/**
 * Hand request @p r (its body complete; it stays valid while suspended) to the offload thread,
 * which will run @p fn(r): suspends r->con and queues @p r under the offload lock and sets
 * r->poll_state to SRV_POLL_OFFLOADED. Call from the access handler only. On FULL or CLOSED
 * nothing is done and the caller answers.
 */
srv_offload_result srv_offload_submit(struct srv_offload *o, srv_req *r, srv_offload_fn fn);

/**
 * Refuse new requests, answer every waiting one with a captured 503 (Retry-After: 1, "the
 * daemon is stopping") and resume it, wait for the one in progress to finish and be resumed,
 * and stop the thread. Call before srv_http_stop() (which needs every connection resumed).
 * Safe to call twice; NULL is a no-op.
 */
void srv_offload_shutdown(struct srv_offload *o);

/** Shut down (as srv_offload_shutdown()) and free @p o. NULL is a no-op. */
void srv_offload_free(struct srv_offload *o);

#endif /* EIRNN_OFFLOAD_H */
