/**
 * @file task_rng.h
 * @brief The generator of the tasks' trials (docs/TASKS.md "Random numbers"): SplitMix64 in
 * counter mode, 53-bit uniforms, Box-Muller normals, all in double. Written so that a few lines
 * of Python reproduce every number bit for bit (math.log, math.cos and math.sqrt call the same
 * C library functions as this file).
 *
 * Trial b of a batch drawn from key k has its own stream: SplitMix64 seeded with the (b+1)-th
 * output of SplitMix64 seeded with k. A stream is a plain value; no global state.
 */
#ifndef EIR_TASK_RNG_H
#define EIR_TASK_RNG_H

#include <stdint.h>

/** One stream: SplitMix64's state. */
typedef struct task_rng {
    uint64_t state;
} task_rng;

#define TASK_RNG_GAMMA 0x9e3779b97f4a7c15ULL

/** SplitMix64's output function (Steele, Lea and Flood 2014). */
uint64_t task_rng_mix(uint64_t z);
/** The stream of trial @p b (0-based) of a batch drawn with @p key. */
task_rng task_rng_trial(uint64_t key, int64_t b);
/** Next 64-bit output: state += gamma; return mix(state). */
uint64_t task_rng_next(task_rng *r);
/** Uniform in [0, 1): (next >> 11) * 2^-53. */
double task_rng_uniform(task_rng *r);
/** Uniform index in 0..n-1: (int)(uniform * n). */
int task_rng_index(task_rng *r, int n);
/** Standard normal from two uniforms u1, u2 (in that order):
 *  sqrt(-2 log(1 - u1)) * cos(2 pi u2). */
double task_rng_normal(task_rng *r);

#endif
