/**
 * @file eir_csv.h
 * @brief A small CSV reader for numeric matrices (the inputs of `eirnn simulate` and
 *        `eirnn runs submit --inputs FILE.csv`). It reports with the status and error types of
 *        eir_npy.h. No state; thread-safe.
 */
#ifndef EIR_CSV_H
#define EIR_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "eir_npy.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Parse a CSV numeric matrix from @p buf (@p len bytes): rows of comma-separated numbers, the
 * same number in every row. Blank lines and lines whose first non-blank character is '#' are
 * skipped; the first remaining line is skipped as a header when it does not parse as numbers.
 * Spaces and tabs around fields and CRLF line ends are accepted. Every value must be a finite
 * number. On success *rows, *cols and *out (malloc'ed rows * cols doubles, row-major, never
 * NULL) are set. Rejects (EIR_NPY_EFORMAT, naming line and column) a non-numeric or empty
 * field, a row with a different number of fields, an input with no data row, and more than
 * @p max_values values (0 = no limit); EIR_NPY_ENOMEM on allocation failure. On failure
 * *out is NULL.
 */
eir_npy_status eir_csv_parse(const char *buf, size_t len, size_t max_values, int64_t *rows,
                             int64_t *cols, double **out, eir_npy_error *err);

/**
 * Read the CSV file @p path and parse it as eir_csv_parse() does. EIR_NPY_EIO when the file
 * cannot be read; messages name the path.
 */
eir_npy_status eir_csv_read(const char *path, size_t max_values, int64_t *rows, int64_t *cols,
                            double **out, eir_npy_error *err);

#ifdef __cplusplus
}
#endif
#endif /* EIR_CSV_H */
