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
static inline double eir_vexp(double x)
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
 * e^x - 1 for x in [-ln2, ln2] by a degree-17 Taylor polynomial in nested form
 * x (1 + x/2 (1 + x/3 (...))), accurate to a few ulp relative (no cancellation).
 */
static inline double eir_vexpm1_small(double x)
{
    double p = 1.0;
    for (int k = 17; k >= 2; k--)
        p = 1.0 + p * x * (1.0 / k);
    return x * p;
}

/**
 * For x = z dt >= 0: *decay = e^-x and *gain = 1 - e^-x = -expm1(-x), each accurate to a few
 * ulp relative (gain by the series where it would cancel, x <= ln2).
 */
static inline void eir_vdecay_gain(double x, double *decay, double *gain)
{
    double e = eir_vexp(-x);
    double small = -eir_vexpm1_small(-x);
    *decay = e;
    *gain = x <= 0.6931471805599453 ? small : 1.0 - e;
}

#endif /* EIR_VMATH_H */
