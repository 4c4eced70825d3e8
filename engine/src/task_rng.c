/**
 * @file task_rng.c
 * @brief The tasks' generator (task_rng.h, docs/TASKS.md "Random numbers"). Compiled without
 * floating-point contraction (engine/CMakeLists.txt) so that NumPy reproduces it exactly.
 */
#include <math.h>

#include "task_rng.h"

uint64_t task_rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

task_rng task_rng_trial(uint64_t key, int64_t b)
{
    task_rng r = {task_rng_mix(key + (uint64_t)(b + 1) * TASK_RNG_GAMMA)};
    return r;
}

uint64_t task_rng_next(task_rng *r)
{
    r->state += TASK_RNG_GAMMA;
    return task_rng_mix(r->state);
}

double task_rng_uniform(task_rng *r)
{
    return (double)(task_rng_next(r) >> 11) * 0x1p-53;
}

int task_rng_index(task_rng *r, int n)
{
    int i = (int)(task_rng_uniform(r) * n);
    return i < n ? i : n - 1; /* cannot happen for n < 2^53; kept for safety */
}

double task_rng_normal(task_rng *r)
{
    double u1 = task_rng_uniform(r);
    double u2 = task_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}
