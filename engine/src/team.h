/**
 * @file team.h
 * @brief A run's team of threads and the barrier that separates the phases of a step
 *        (engine-private).
 *
 * A run starts its team once (sim_team_run()); every step then costs two or more barrier
 * waits and no allocation or thread creation. The barrier spins briefly (a step of a large
 * network is short) and then sleeps on a futex, so a run on a busy machine does not burn the
 * cores its peers need.
 */
#ifndef EIR_TEAM_H
#define EIR_TEAM_H

#include <stdatomic.h>

/** A reusable barrier for a fixed number of threads. No resources to free. */
typedef struct sim_barrier {
    atomic_uint count;      /**< threads arrived in the current generation */
    atomic_uint gen;        /**< generation; bumped by the last arrival (futex word) */
    atomic_uint sleepers;   /**< threads asleep on gen */
    atomic_int verdict;     /**< *stop as the last arrival of the last generation saw it */
    unsigned n;             /**< threads that must arrive */
    const atomic_int *stop; /**< a stop flag sampled once per generation, or NULL */
} sim_barrier;

/**
 * Make @p b a barrier for @p n >= 1 threads. @p stop (may be NULL) is a flag that, once set,
 * stays set; sim_barrier_wait() reports it so that every thread takes the same decision.
 */
void sim_barrier_init(sim_barrier *b, unsigned n, const atomic_int *stop);

/**
 * Wait until all n threads have called this for the current generation. Everything a thread
 * wrote before its call is visible to every thread after theirs returns. Cannot fail.
 * @return the stop flag as the generation's last arrival read it (after every thread had
 *         arrived): the same value for every thread of the generation, and 1 whenever some
 *         thread saw the flag set before arriving. 0 when the barrier has no flag.
 */
int sim_barrier_wait(sim_barrier *b);

/**
 * sim_barrier_wait() for a thread that must keep doing something while it waits: when the
 * wait lasts, @p poll(@p ctx) is called about every @p period seconds until the barrier opens.
 * @p poll may set the barrier's stop flag (the verdict of this generation or of the next one
 * reports it). Returns what sim_barrier_wait() returns.
 */
int sim_barrier_wait_polling(sim_barrier *b, void (*poll)(void *ctx), void *ctx, double period);

/** The work of one team member: @p tid in [0, nt). */
typedef void (*sim_team_fn)(void *arg, int tid, int nt);

/**
 * Run @p fn on up to @p want threads: tid 0 on the caller's thread, the others on threads
 * started here and joined before returning. @p bar is made a barrier for the team, watching
 * @p stop (may be NULL; see sim_barrier_init()), before any member starts. If a thread cannot be
 * started, the team is the threads that could (never fewer than the caller's); @p fn is told the
 * team size, which it must not let change any result. Returns the team size.
 */
int sim_team_run(int want, sim_barrier *bar, const atomic_int *stop, sim_team_fn fn, void *arg);

#endif /* EIR_TEAM_H */
