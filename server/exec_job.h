/**
 * @file exec_job.h
 * @brief The machinery every kind of job shares on a worker (exec.c runs, exec_analysis.c
 *        analyses): progress writes that read cancels, the wall-clock limit and the shutdown's
 *        release; the error object of a failed job; and the finish that stores a job's arrays
 *        (any dtype the store keeps, 1 to 3 dimensions), status, metadata and error.
 *
 * Threads: everything here runs on the job's worker thread, with that worker's connection.
 */
#ifndef EIRNN_EXEC_JOB_H
#define EIRNN_EXEC_JOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/** Why the progress callback stopped a job. */
enum { SRV_STOP_NONE = 0, SRV_STOP_CANCEL, SRV_STOP_TIME, SRV_STOP_RELEASE, SRV_STOP_LOST };

/** The state of srv_exec_progress() for one job. */
typedef struct srv_exec_ctx {
    srv *s;
    store_conn *c;
    const char *job_id;
    int attempt;     /**< the claim's attempt number: the fence of every write (store.h) */
    double last;     /**< time of the last progress write */
    double deadline; /**< srv_now() deadline of the wall-clock limit, 0 = none */
    const atomic_int *release;
    int stop; /**< SRV_STOP_* */
} srv_exec_ctx;

/**
 * The engine's progress callback (eir.h; @p ctx a ::srv_exec_ctx): writes progress every
 * quarter second (fenced by ctx->attempt; it also renews the lease), which also reads whether a
 * cancel was asked for. Returns non-zero, with ctx->stop saying why, to stop the job: for a
 * shutdown (release), past the wall-clock limit, for a cancel (a cancel asked for before the
 * limit struck wins over it), or when the claim was lost (::SRV_STOP_LOST: the store answered
 * ::STORE_CONFLICT, the run was rescued by another daemon after its lease expired; the worker
 * then writes nothing more, srv_exec_lease_lost()). Any other store failure writing progress is
 * ignored (the job carries on).
 */
int srv_exec_progress(void *ctx, int64_t done, int64_t total);

/** The cancel check of a job whose work runs under a build guard (build_guard.h), on the
 *  guard's thread, with a store connection of its own (opened at the first look; the caller
 *  closes it with store_disconnect() after srv_build_guard_end()). */
typedef struct srv_exec_cancel_ctx {
    store *store;
    store_conn *c; /**< NULL until the first look */
    const char *job_id;
} srv_exec_cancel_ctx;

/** srv_guard_cancel_fn of a ::srv_exec_cancel_ctx: 1 when a cancel of the job was asked for
 *  (0 also when the store cannot be read). */
int srv_exec_cancelled(void *ctx);

/** One array to store as a result of a job (a view: the caller keeps the bytes). */
typedef struct srv_exec_array {
    const char *name;
    const char *dtype;    /**< a dtype the store keeps ("float64", "complex128", ...) */
    int ndim;             /**< 1 .. 3 */
    const int64_t *shape; /**< ndim entries */
    const void *data;     /**< little-endian, row-major */
    size_t bytes;
} srv_exec_array;

/** The error object of a failed job (a problem object without "instance", JSON text, malloc'ed;
 *  @p field a JSON pointer or NULL). NULL when out of memory. */
char *srv_exec_error_text(const char *field, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The stored request of job @p job as a JSON object (the caller owns it). NULL with *@p error
 *  the error text of the job (malloc'ed, NULL when out of memory) when it cannot be read: out of
 *  memory, or not a JSON object. */
json_t *srv_exec_request(const store_run *job, char **error);

/**
 * Store the final state of claimed job @p job (@p status, the @p narr arrays @p arr, metadata
 * text @p meta and error text @p error, either NULL), count it, log it and wake its long polls.
 * When the store cannot take it (disk full, database locked), keep trying: with the arrays for a
 * minute, then recording the failure without them. The job is never left running while the
 * daemon goes on; only when it stops (@p release) is it left to the restart, which queues it
 * again. With @p next (not NULL) and no release asked, the finish also claims the worker's next
 * job into *@p next (store_finish_commit_claim()). @p steps_done and @p t0 (srv_now() at the
 * claim) are for the log.
 */
void srv_exec_finish(srv *s, store_conn *c, const store_run *job, store_run_status status,
                     const srv_exec_array *arr, int narr, const char *meta, const char *error,
                     int64_t steps_done, double t0, const atomic_int *release, store_run *next);

/**
 * The kind's own writes inside a job's finish transaction (between store_finish_begin() and the
 * commit, after the arrays): a training's model (store_finish_model()). @p fn may replace the
 * metadata text to store (*meta, which it keeps alive until the next call or the finish's end).
 * Called again when the finish is retried; a status other than STORE_OK aborts that try.
 */
typedef struct srv_exec_hook {
    store_status (*fn)(void *ctx, store_conn *c, const char **meta);
    void *ctx;
} srv_exec_hook;

/** srv_exec_finish() with @p hook (may be NULL) called in the finish transaction. When the
 *  arrays are given up (the store could not take them for a minute), the hook is too. */
void srv_exec_finish_hooked(srv *s, store_conn *c, const store_run *job, store_run_status status,
                            const srv_exec_array *arr, int narr, const char *meta,
                            const char *error, const srv_exec_hook *hook, int64_t steps_done,
                            double t0, const atomic_int *release, store_run *next);

/**
 * The job's claim is lost (a fenced write answered ::STORE_CONFLICT: its lease expired and
 * another daemon requeued, failed or took the run): log "lease_lost" with @p where and the
 * store's message @p why, count it, and write nothing more. Cannot fail.
 */
void srv_exec_lease_lost(srv *s, const store_run *job, const char *where, const char *why,
                         double t0);

/**
 * Give running job @p job back to the queue (the daemon stops, or the store could not give the
 * job what it needs now): queued again with the attempt not counted, or cancelled if a cancel
 * was asked for. Logged with @p reason, counted in runs_released when @p shutdown; wakes its long
 * polls when it ended cancelled. A failure of the store is logged: the job then stays running until
 * the next start's requeue.
 */
void srv_exec_release(srv *s, store_conn *c, const store_run *job, const char *reason, int shutdown,
                      int64_t steps_done, double t0);

#endif /* EIRNN_EXEC_JOB_H */
