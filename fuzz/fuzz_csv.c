/**
 * @file fuzz_csv.c
 * @brief libFuzzer harness: eir_csv_parse() on arbitrary bytes (the CSV reader of
 *        `eirnn simulate --inputs x.csv`). A matrix that parses holds finite values only; it is
 *        printed again ("%.17g", commas, CRLF or LF) and parsed back to the same values.
 */
#include "fuzz_common.h"
#include "eir_csv.h"
#include "eir_npy.h"

#include <math.h>

#define MAXV (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t rows = -7, cols = -7;
    double *x = (double *)1;
    eir_npy_error e;
    eir_npy_status rc = eir_csv_parse((const char *)data, size, MAXV, &rows, &cols, &x, &e);
    if (rc != EIR_NPY_OK) {
        FUZZ_CHECK(rc == EIR_NPY_EFORMAT);
        FUZZ_CHECK(e.status == rc && memchr(e.message, 0, sizeof e.message) && e.message[0]);
        FUZZ_CHECK(x == NULL);
        return 0;
    }
    FUZZ_CHECK(x != NULL && rows >= 1 && cols >= 1);
    FUZZ_CHECK((uint64_t)rows * (uint64_t)cols <= MAXV);
    size_t c = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < c; i++)
        FUZZ_CHECK(isfinite(x[i]));

    /* Print and parse again. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f);
    const char *eol = size % 2 ? "\r\n" : "\n";
    if (size % 3 == 0) fprintf(f, "# written again\n");
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++)
            fprintf(f, "%.17g%s", x[r * cols + k], k + 1 < cols ? ", " : eol);
    FUZZ_CHECK(fclose(f) == 0);
    int64_t r2, c2;
    double *y;
    rc = eir_csv_parse(buf, len, MAXV, &r2, &c2, &y, &e);
    if (rc != EIR_NPY_OK) {
        fprintf(stderr, "re-printed CSV rejected: %s\n", e.message);
        abort();
    }
    FUZZ_CHECK(r2 == rows && c2 == cols);
    for (size_t i = 0; i < c; i++)
        FUZZ_CHECK(x[i] == y[i]);
    free(y);
    free(buf);
    free(x);
    return 0;
}
