/**
 * @file npy_io.h
 * @brief Private to schema/src: the error and whole-file helpers that the .npy reader (npy.c)
 *        and the CSV reader (csv.c) share. Defined in npy.c. No state; thread-safe.
 */
#ifndef EIR_NPY_IO_H
#define EIR_NPY_IO_H

#include <stddef.h>

#include "eir_npy.h"

/**
 * Fill @p err (when not NULL) with status @p st and the printf-formatted message.
 * @return @p st, so that a caller can `return eir_npy_fail(...)`.
 */
eir_npy_status eir_npy_fail(eir_npy_error *err, eir_npy_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Set @p err (when not NULL) to EIR_NPY_OK with an empty message. */
void eir_npy_ok(eir_npy_error *err);

/**
 * When @p st is a failure, prefix err's message with "path: " (keeping as much of the message
 * as fits). @return @p st.
 */
eir_npy_status eir_npy_prefix_path(eir_npy_error *err, eir_npy_status st, const char *path);

/**
 * Read the whole file @p path of at most @p cap bytes (0 = no limit) into *out (malloc'ed,
 * NUL-terminated for convenience; the NUL is not counted in *out_len).
 * @return EIR_NPY_OK; EIR_NPY_EIO when it cannot be opened or read (or is a directory);
 *         EIR_NPY_EFORMAT when it is larger than @p cap; EIR_NPY_ENOMEM. Messages name the
 *         path; on failure *out is NULL and nothing is allocated.
 */
eir_npy_status eir_npy_read_all(const char *path, size_t cap, char **out, size_t *out_len,
                                eir_npy_error *err);

#endif /* EIR_NPY_IO_H */
