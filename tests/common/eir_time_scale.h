/**
 * @file eir_time_scale.h
 * @brief EIRNN_TEST_TIME_SCALE: the factor by which the tests multiply their waits, deadlines
 *        and upper time bounds (default 1). scripts/sanitize.sh sets it for ThreadSanitizer
 *        and valgrind, which make the daemon and the engine many times slower
 *        (docs/RELIABILITY.md, "Sanitizers"). Lower bounds ("it took at least x seconds") and
 *        durations the tests ask of the daemon as such (a ?wait=, a run's time_limit) are never
 *        scaled. Header-only.
 */
#ifndef EIR_TIME_SCALE_H
#define EIR_TIME_SCALE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/**
 * The scale: EIRNN_TEST_TIME_SCALE as a positive number, 1 when unset or empty. Anything else
 * ends the test process (exit 2) with a message: a typo must not silently leave the bounds
 * unscaled. Read on every call (no cache, so that threads may call it without a data race).
 */
static inline double eir_time_scale(void)
{
    const char *s = getenv("EIRNN_TEST_TIME_SCALE");
    if (!s || !*s) return 1.0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v <= 0) {
        fprintf(stderr, "EIRNN_TEST_TIME_SCALE=%s: not a positive number\n", s);
        exit(2);
    }
    return v;
}

/** @p seconds times the scale: for waits, deadlines and upper bounds only. */
static inline double eir_scaled(double seconds)
{
    return seconds * eir_time_scale();
}

#endif /* EIR_TIME_SCALE_H */
