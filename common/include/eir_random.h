/**
 * @file eir_random.h
 * @brief Random bytes from the kernel (getrandom), and the ids and seeds made from them.
 *
 * Written once for the store's model and run ids, the daemon's and the CLI's seeds for noisy
 * runs submitted without one. Every function returns 0 on success, or -1 with errno set when
 * the kernel gives no randomness (getrandom failed for a reason other than EINTR, which is
 * retried); the outputs are then untouched. No state; reentrant.
 */
#ifndef EIR_RANDOM_H
#define EIR_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Fill @p buf with @p n random bytes. */
int eir_random_bytes(void *buf, size_t n);

/** A random seed in 0 .. 2^63 - 1 (the range every seed of the run and model documents has). */
int eir_random_seed63(uint64_t *out);

/**
 * A fresh id: @p prefix followed by 2 * @p nbytes lower-case hex characters from @p nbytes
 * random bytes, NUL-terminated, into @p out of @p cap bytes. Fails with EINVAL (nothing
 * written) when it does not fit or @p nbytes is 0.
 */
int eir_random_id(char *out, size_t cap, const char *prefix, size_t nbytes);

#ifdef __cplusplus
}
#endif
#endif /* EIR_RANDOM_H */
