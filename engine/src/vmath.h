/**
 * @file vmath.h
 * @brief Branch-free exp and expm1 that compilers vectorise (engine-private).
 *
 * glibc's exp/expm1 are scalar calls; in the integrator's element-wise pass they would cost as
 * much as the matrix product. These inline versions are written so that GCC turns a loop over
 * them into SIMD code. Accuracy (checked in tests/engine/test_vmath.c against glibc): a few
 * ulp over the ranges the engine uses.
 */
#ifndef EIR_VMATH_H
#define EIR_VMATH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t eir_asu64(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double eir_asf64(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/**
 * e^x for x in [-708, 709] (inputs outside are clamped to those bounds, so e^-inf gives
 * about 3e-308 rather than 0; NaN stays NaN). Cody–Waite reduction x = k ln2 + r, |r| <= ln2/2,
 * then a degree-13 Taylor polynomial (truncation < 5e-18 relative).
 */
static inline __attribute__((always_inline)) double eir_vexp(double x)
{
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01; /* low 32 bits zero */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    double kd = x * log2e + shift;
    uint64_t ki = eir_asu64(kd);
    kd -= shift;
    double r = (x - kd * ln2_hi) - kd * ln2_lo;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double scale = eir_asf64((ki + 1023u) << 52);
    return p * scale;
}

/**
 * For x = z dt >= 0: *decay = e^-x and *gain = 1 - e^-x = -expm1(-x), both from one
 * polynomial. With -x = k ln2 + r (|r| <= ln2/2, k <= 0) and q = expm1(r) (degree-13 Taylor in
 * nested form, truncation < 5e-18 relative), e^-x = 2^k (1 + q) and 1 - e^-x = (1 - 2^k) - 2^k q,
 * where 1 - 2^k is exact: no cancellation for any x, and for k = 0 (x <= ln2/2) the gain is -q
 * itself, accurate to a few ulp relative. x above 708 is clamped (decay ~3e-308, gain 1).
 */
static inline __attribute__((always_inline)) void eir_vdecay_gain(double x, double *decay,
                                                                  double *gain)
{
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01; /* low 32 bits zero */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    double y = -x;
    y = y < -708.0 ? -708.0 : y;
    double kd = y * log2e + shift;
    uint64_t ki = eir_asu64(kd);
    kd -= shift;
    double r = (y - kd * ln2_hi) - kd * ln2_lo;
    double p = 1.0;
#pragma GCC unroll 16
    for (int k = 13; k >= 2; k--)
        p = 1.0 + p * r * (1.0 / k);
    double q = r * p;
    double scale = eir_asf64((ki + 1023u) << 52);
    *decay = scale + scale * q;
    *gain = (1.0 - scale) - scale * q;
}

/** Bits of a float, and back. */
static inline uint32_t eir_asu32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float eir_asf32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/**
 * Single-precision eir_vdecay_gain() for float32 runs: same reduction, degree-7 polynomial
 * (truncation < 2e-8 relative), a few float ulp. x above 87 is clamped (decay ~1.6e-38).
 */
static inline __attribute__((always_inline)) void eir_vdecay_gainf(float x, float *decay,
                                                                   float *gain)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145751953125f; /* low 12 bits zero */
    const float ln2_lo = 1.428606765330187045e-06f;
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    float y = -x;
    y = y < -87.0f ? -87.0f : y;
    float kd = y * log2e + shift;
    uint32_t ki = eir_asu32(kd);
    kd -= shift;
    float r = (y - kd * ln2_hi) - kd * ln2_lo;
    float p = 1.0f;
#pragma GCC unroll 8
    for (int k = 7; k >= 2; k--)
        p = 1.0f + p * r * (1.0f / (float)k);
    float q = r * p;
    float scale = eir_asf32((ki + 127u) << 23);
    *decay = scale + scale * q;
    *gain = (1.0f - scale) - scale * q;
}

#endif /* EIR_VMATH_H */
