/**
 * @file eir_clock.h
 * @brief Clock readings and absolute deadlines, written once for the daemon, the clients, the
 *        tests and the benchmarks.
 *
 * None of these can fail on Linux (the clocks used always exist); should clock_gettime() ever
 * fail, the reading is 0. No state; every function is reentrant.
 */
#ifndef EIR_CLOCK_H
#define EIR_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Seconds on CLOCK_MONOTONIC (for intervals and timeouts). */
double eir_clock_mono(void);

/** Seconds of CPU time used by the whole process (CLOCK_PROCESS_CPUTIME_ID). */
double eir_clock_cpu(void);

/** Milliseconds since the Unix epoch (CLOCK_REALTIME), for timestamps. */
int64_t eir_clock_epoch_ms(void);

/** @p ts advanced by @p seconds (may be negative), with tv_nsec kept in [0, 1e9). */
struct timespec eir_timespec_add(struct timespec ts, double seconds);

/**
 * The absolute time @p seconds from now on @p clock (CLOCK_MONOTONIC for a condition variable
 * set up with pthread_condattr_setclock, CLOCK_REALTIME for the default one), for the
 * *_timedwait() calls. A negative @p seconds counts as 0.
 */
struct timespec eir_clock_deadline(clockid_t clock, double seconds);

/** Sleep @p seconds (<= 0: return at once), resuming after a signal handler interrupted it. */
void eir_clock_sleep(double seconds);

#ifdef __cplusplus
}
#endif
#endif /* EIR_CLOCK_H */
