/**
 * @file stop.h
 * @brief The stop flag of eir.h (engine-private layout) and its check in hot loops.
 */
#ifndef EIR_STOP_H
#define EIR_STOP_H

#include <stdatomic.h>

#include "eir.h"

struct eir_stop {
    atomic_int flag;
};

/** Rows between two checks of a stop flag in the builds' loops (a few ms even at N = 10,000). */
#define EIR_STOP_ROWS 64

/** 1 when @p s (may be NULL: never) was requested: one relaxed load, no allocation. */
static inline int eir_stop_now(const eir_stop *s)
{
    return s != NULL && atomic_load_explicit(&s->flag, memory_order_relaxed) != 0;
}

#endif /* EIR_STOP_H */
