/**
 * @file pool.h
 * @brief The simulation workers: N threads, each with its own store connection, claiming runs
 *        from the durable queue and executing them (exec.c).
 *
 * Idle workers sleep on a condition variable signalled by POST /v1/runs (srv_pool_notify) and
 * re-check the queue every second anyway, so runs queued by another process are found too.
 * Shutdown is in three steps: srv_pool_drain() (claim nothing new), srv_pool_release() (running
 * runs stop within a few steps and go back to the queue) and srv_pool_join().
 */
#ifndef EIRNN_POOL_H
#define EIRNN_POOL_H

#include <stdatomic.h>

#include "srv.h"

struct srv_pool;

/**
 * Start @p workers threads (0 is allowed: then nothing is simulated here). Call
 * eir_blas_single_threaded() and store_requeue_orphans() before. NULL when a thread cannot be
 * started or memory runs out (the threads already started are stopped).
 */
struct srv_pool *srv_pool_start(srv *s, int workers);

/** Tell an idle worker that a run was queued. NULL is a no-op. */
void srv_pool_notify(struct srv_pool *p);

/** Wake every idle worker (many runs were queued at once: a rescue, another daemon's sweep).
 *  NULL is a no-op. */
void srv_pool_notify_all(struct srv_pool *p);

/** Most cache-warming requests (srv_pool_warm()) waiting at once. */
#define SRV_POOL_WARM_MAX 16

/**
 * Ask a worker to build stored model @p id into the model cache (srv_modcache_build(): nothing
 * to do when it is cached or being built), before it claims its next run: GET
 * /v1/models/{id}/matrices of a generated model that is not cached (h_matrices.c). An id already
 * waiting is not added twice. @return 0 when asked (or already waiting), -1 when the pool has no
 * workers, drains, or already holds ::SRV_POOL_WARM_MAX requests. NULL pool: -1.
 */
int srv_pool_warm(struct srv_pool *p, const char *id);

/** Most claims the workers of @p p can hold at once (srv_pool_held()); 0 for NULL. */
size_t srv_pool_held_max(struct srv_pool *p);

/**
 * The claims the workers hold right now, for the lease thread to renew (store_lease_renew()):
 * the run each executes and the run a finish claimed for it next, as ids and attempt numbers
 * (the fence) into @p ids and @p attempts, at most @p cap of them. Takes the pool's lock
 * briefly. A run claimed by a store call whose answer never came is in no worker's hands, so
 * it is not here, not renewed, and rescued once its lease expires. @return the number written
 * (0 for a NULL pool).
 */
size_t srv_pool_held(struct srv_pool *p, char (*ids)[STORE_ID_MAX], int *attempts, size_t cap);

/** Number of workers executing a run right now. */
int srv_pool_busy(struct srv_pool *p);

/** Stop claiming runs; idle workers exit, busy ones finish their run first. NULL is a no-op. */
void srv_pool_drain(struct srv_pool *p);

/** Make running runs stop at their next progress check and return to the queue. */
void srv_pool_release(struct srv_pool *p);

/**
 * Wait for every worker to exit (after srv_pool_drain or srv_pool_release) without freeing the
 * pool, so that srv_pool_busy() stays valid for HTTP threads still answering. Idempotent.
 * NULL is a no-op.
 */
void srv_pool_wait(struct srv_pool *p);

/** srv_pool_wait(), then free the pool. NULL is a no-op. */
void srv_pool_join(struct srv_pool *p);

/**
 * Execute the claimed run @p run on the calling thread with connection @p c: parse its request
 * (the same eir_json code as the handlers), simulate it single-threaded, store its results and
 * final status, and wake its long polls. When @p release becomes non-zero the run stops and is
 * given back to the queue instead. Never fails visibly: problems end as a failed run (with an
 * error object) or, if even that cannot be stored, leave the run for the next start's requeue.
 * With @p next (not NULL, zeroed by the caller) the transaction that stores the final status
 * also claims the next queued run into *@p next (left zeroed when the queue is empty, the daemon
 * stops or the run ended without a finish): the caller runs it, or releases it.
 */
void srv_exec_run(srv *s, store_conn *c, store_run *run, const atomic_int *release,
                  store_run *next);

/**
 * srv_exec_run() for a claimed job of kind "analysis" (exec_analysis.c): its request goes to
 * srv_analysis_execute() (analysis.h) with the same progress, cancel, wall-clock limit, release
 * and finish as a run's; its arrays become the job's results and its summary the "summary" of
 * the stored metadata ({"summary", "tool", "attempt"}). A store failure reading what the analysis
 * needs gives the job back to the queue for a later attempt; so does the shutdown.
 */
void srv_exec_analysis(srv *s, store_conn *c, store_run *job, const atomic_int *release,
                       store_run *next);

#endif /* EIRNN_POOL_H */
