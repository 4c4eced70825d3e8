/**
 * @file stoppable.h
 * @brief Engine-internal: run a long call that cannot be interrupted (a LAPACK eigensolver) so
 *        that its caller can still stop at once when a stop flag (eir.h eir_stop) is requested.
 *
 * eir_stoppable_run() runs @p fn(@p ctx) on a thread of its own while the calling thread waits
 * on a condition variable, waking every EIR_STOPPABLE_POLL_MS to look at the stop flag. When the
 * call ends first, the caller gets EIR_OK and keeps @p ctx (its results). When the stop flag is
 * requested first, the caller gets EIR_ECANCELLED at once and the call is ABANDONED: the thread
 * (detached) runs @p fn to its end, then frees @p ctx with @p free_ctx. The price, stated in
 * docs/RELIABILITY.md: an abandoned solver keeps one core busy until it ends on its own (at most
 * the time the uninterrupted call would have taken) and its memory held until then; its result
 * is discarded.
 *
 * Ownership: @p ctx must own everything @p fn reads and writes (inputs copied, workspace and
 * outputs allocated for it): nothing of the caller's (its stack, its buffers) may be reachable
 * from it, since an abandoned call outlives the caller's frame. The helper's own bookkeeping is
 * reference counted between the caller and the thread: whichever ends last frees it.
 *
 * Results are those of @p fn(@p ctx) whichever thread runs it (the same LAPACK call on the same
 * data: the same bytes). Without a stop flag, or when the thread cannot be started, @p fn runs
 * on the calling thread (uninterruptible, as a direct call).
 */
#ifndef EIR_STOPPABLE_H
#define EIR_STOPPABLE_H

#include "eir.h"

/** Milliseconds between the caller's looks at the stop flag while the call runs. */
#define EIR_STOPPABLE_POLL_MS 20

/** Matrix order from which the eigensolvers run their LAPACK call on its own thread (below it
 *  the call takes milliseconds and is made directly). */
#define EIR_STOPPABLE_MIN_N 256

/**
 * Run @p fn(@p ctx) and wait for it while watching @p stop (may be NULL: a direct call).
 * Returns EIR_OK when @p fn ended (the caller owns @p ctx and frees it), or EIR_ECANCELLED when
 * @p stop was requested before (checked first, too: @p fn is then not run at all) — then the
 * caller must not touch @p ctx again: it is freed by @p free_ctx, at once when @p fn never ran,
 * else on the solver's thread when @p fn ends. Cannot fail otherwise (without memory or a
 * thread, @p fn runs on the calling thread). Fills no error: the caller words the cancel.
 */
eir_status eir_stoppable_run(void (*fn)(void *ctx), void *ctx, void (*free_ctx)(void *ctx),
                             const eir_stop *stop);

#endif /* EIR_STOPPABLE_H */
