/** @file team.c @brief The run's team of threads and its barrier (see team.h). */
#include "team.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/** Spins of the barrier before a waiter sleeps: ~15 us at the ~50 ns of a pause on Zen 4. */
#define BARRIER_SPINS 300

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/** Sleep while *word == expect, at most @p timeout (NULL = no limit). */
static void futex_wait(atomic_uint *word, unsigned expect, const struct timespec *timeout)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expect, timeout, NULL, 0);
}

static void futex_wake_all(atomic_uint *word)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void sim_barrier_init(sim_barrier *b, unsigned n, const atomic_int *stop)
{
    atomic_init(&b->count, 0);
    atomic_init(&b->gen, 0);
    atomic_init(&b->sleepers, 0);
    atomic_init(&b->verdict, 0);
    b->n = n;
    b->stop = stop;
}

/** The flag now (acquire: after every arrival of this generation). */
static int stop_now(const sim_barrier *b)
{
    return b->stop && atomic_load_explicit(b->stop, memory_order_acquire);
}

/*
 * The verdict is written only by a generation's last arrival, before it publishes the new
 * generation, and read by the others after they see it: the next write needs every thread's
 * next arrival, so no thread can read a later generation's verdict.
 */
/** The barrier wait; a sleeping waiter calls @p poll every @p period (when @p poll is set). */
static int barrier_wait(sim_barrier *b, void (*poll)(void *), void *ctx, double period)
{
    if (b->n == 1) return stop_now(b);
    const unsigned g = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
        /* last arrival: reset the count before anyone can see the new generation */
        const int v = stop_now(b);
        atomic_store_explicit(&b->verdict, v, memory_order_relaxed);
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store(&b->gen, g + 1); /* seq_cst: ordered with the sleepers check below */
        if (atomic_load(&b->sleepers)) futex_wake_all(&b->gen);
        return v;
    }
    for (int s = 0; s < BARRIER_SPINS; s++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g)
            return atomic_load_explicit(&b->verdict, memory_order_relaxed);
        cpu_relax();
    }
    atomic_fetch_add(&b->sleepers, 1); /* seq_cst: the releaser sees it or we see its gen */
    const struct timespec tick = {(time_t)period, (long)((period - (double)(time_t)period) * 1e9)};
    while (atomic_load(&b->gen) == g) {
        futex_wait(&b->gen, g, poll ? &tick : NULL);
        if (poll && atomic_load(&b->gen) == g) poll(ctx);
    }
    atomic_fetch_sub(&b->sleepers, 1);
    return atomic_load_explicit(&b->verdict, memory_order_relaxed);
}

int sim_barrier_wait(sim_barrier *b)
{
    return barrier_wait(b, NULL, NULL, 0);
}

int sim_barrier_wait_polling(sim_barrier *b, void (*poll)(void *ctx), void *ctx, double period)
{
    return barrier_wait(b, poll, ctx, period);
}

/** What a started thread needs: the shared start gate and its own id. */
typedef struct team_member {
    struct team *team;
    int tid;
    pthread_t thread;
} team_member;

/** The team of one sim_team_run() call. */
typedef struct team {
    sim_team_fn fn;
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t go_cond;
    int go; /**< 0 while starting, then the team size (under lock) */
} team;

static void *member_main(void *p)
{
    team_member *me = p;
    team *t = me->team;
    pthread_mutex_lock(&t->lock);
    while (!t->go)
        pthread_cond_wait(&t->go_cond, &t->lock);
    int nt = t->go;
    pthread_mutex_unlock(&t->lock);
    if (me->tid < nt) t->fn(t->arg, me->tid, nt);
    return NULL;
}

int sim_team_run(int want, sim_barrier *bar, const atomic_int *stop, sim_team_fn fn, void *arg)
{
    team t = {.fn = fn, .arg = arg, .go = 0};
    team_member *mem = want > 1 ? calloc((size_t)want, sizeof *mem) : NULL;
    if (!mem) {
        sim_barrier_init(bar, 1, stop);
        fn(arg, 0, 1);
        return 1;
    }
    pthread_mutex_init(&t.lock, NULL);
    pthread_cond_init(&t.go_cond, NULL);
    int nt = 1; /* the caller is member 0 */
    for (int k = 1; k < want; k++) {
        mem[k].team = &t;
        mem[k].tid = k;
        if (pthread_create(&mem[k].thread, NULL, member_main, &mem[k])) break;
        nt++;
    }
    sim_barrier_init(bar, (unsigned)nt, stop);
    pthread_mutex_lock(&t.lock);
    t.go = nt;
    pthread_cond_broadcast(&t.go_cond);
    pthread_mutex_unlock(&t.lock);
    fn(arg, 0, nt);
    for (int k = 1; k < nt; k++)
        pthread_join(mem[k].thread, NULL);
    pthread_cond_destroy(&t.go_cond);
    pthread_mutex_destroy(&t.lock);
    free(mem);
    return nt;
}
