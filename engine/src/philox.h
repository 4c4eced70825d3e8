/**
 * @file philox.h
 * @brief Philox4x32-10 counter-based generator (Salmon et al., SC'11) and the derived
 *        uniform and normal draws the engine uses. Pure functions: the same (key, counter)
 *        always gives the same numbers, on every thread and in every order.
 */
#ifndef EIR_PHILOX_H
#define EIR_PHILOX_H

#include <math.h>
#include <stdint.h>

/** Streams: the fourth counter word says what a draw is for, so uses never overlap. */
enum {
    EIR_STREAM_NOISE = 0,        /**< (trial, step, neuron pair) -> two N(0,1) */
    EIR_STREAM_GEN_REC = 1,      /**< recurrent matrix generation */
    EIR_STREAM_GEN_INPUT = 2,    /**< input matrix generation */
    EIR_STREAM_SPECTRAL = 3,     /**< the fixed start vector of the spectral radius's Arnoldi */
    EIR_STREAM_FIXED_POINTS = 4, /**< (start, cell pair) -> two N(0,1): fixed points' starts */
    EIR_STREAM_INPUT_NOISE = 5,  /**< (trial, step, channel pair) -> two N(0,1): input noise */
};

typedef struct eir_philox4 {
    uint32_t v[4];
} eir_philox4;

/** One Philox4x32-10 block: counter @p c under the 64-bit key @p key. */
static inline eir_philox4 eir_philox4x32(eir_philox4 c, uint64_t key)
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c.v[0];
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c.v[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        eir_philox4 n;
        n.v[0] = hi1 ^ c.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k1;
        n.v[3] = lo0;
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/** Uniform double in (0, 1) from two 32-bit words (53 random bits, never 0 or 1). */
static inline double eir_u01(uint32_t hi, uint32_t lo)
{
    uint64_t bits = (((uint64_t)hi << 32) | lo) >> 11; /* 53 bits */
    return ((double)bits + 0.5) * (1.0 / 9007199254740992.0);
}

/**
 * Two independent N(0,1) draws for counter (a, b, c, stream) under @p key, by Box-Muller on
 * two 53-bit uniforms.
 */
static inline void eir_normal2(uint64_t key, uint32_t a, uint32_t b, uint32_t c, uint32_t stream,
                               double *n0, double *n1)
{
    eir_philox4 ctr = {{a, b, c, stream}};
    eir_philox4 x = eir_philox4x32(ctr, key);
    double u1 = eir_u01(x.v[0], x.v[1]);
    double u2 = eir_u01(x.v[2], x.v[3]);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586476925286766559 * u2;
    *n0 = rad * cos(ang);
    *n1 = rad * sin(ang);
}

#endif /* EIR_PHILOX_H */
