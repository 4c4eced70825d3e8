/**
 * @file daemon.h
 * @brief eirnnd's life cycle: start everything a configured ::srv needs, shut it down
 *        gracefully, free it. main() uses it with signals; the HTTP fuzz harness
 *        (fuzz/fuzz_http.c) uses it to run the daemon in-process.
 */
#ifndef EIRNN_DAEMON_H
#define EIRNN_DAEMON_H

#include <signal.h>

#include "srv.h"

/**
 * Start the daemon described by @p s->cfg: derive the limits, open the store, requeue orphaned
 * runs, start the workers and the HTTP server (listening on cfg.listen_host:cfg.port; the bound
 * port is in @p s->port). @p s must be zeroed but for its configuration, and srv_json_init()
 * must have been called. Does not log "listening".
 *
 * @return 0 when serving. On failure -1, after logging an "error" line that says what failed
 *         (database, address, threads, memory); call srv_daemon_free() then.
 */
int srv_daemon_start(srv *s);

/**
 * Graceful shutdown: stop accepting connections, refuse new runs (503), answer pending long
 * polls, let running runs finish for up to cfg.shutdown_grace seconds, give the rest back to the
 * queue, then stop HTTP (answers in progress get up to 2 s). A signal of @p set arriving during
 * the grace cuts it short (@p set may be NULL: no signal is waited for). @p sig is the signal
 * that asked for the shutdown, for the log (0: none). Never fails.
 */
void srv_daemon_shutdown(srv *s, const sigset_t *set, int sig);

/**
 * Release what srv_daemon_start() made, after srv_daemon_shutdown() or a failed start (stopping
 * whatever still runs, without grace). Leaves @p s->cfg to the caller. Never fails.
 */
void srv_daemon_free(srv *s);

#endif /* EIRNN_DAEMON_H */
