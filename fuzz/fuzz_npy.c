/**
 * @file fuzz_npy.c
 * @brief libFuzzer harness: eir_npy_parse() on arbitrary bytes (the .npy reader of
 *        `eirnn simulate --inputs x.npy` and of the result files). An array that parses is
 *        written again with eir_npy_write() and parsed back: same dtype, shape and values.
 */
#include "fuzz_common.h"
#include "eir_npy.h"

#include <math.h>

#define MAXV (1u << 16)

static int same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eir_npy_array a;
    eir_npy_error e;
    memset(&a, 0x5a, sizeof a);
    eir_npy_status rc = eir_npy_parse(data, size, MAXV, &a, &e);
    if (rc != EIR_NPY_OK) {
        FUZZ_CHECK(rc == EIR_NPY_EFORMAT);
        FUZZ_CHECK(e.status == rc && memchr(e.message, 0, sizeof e.message) && e.message[0]);
        FUZZ_CHECK(a.data == NULL && a.count == 0 && a.ndim == 0);
        return 0;
    }
    FUZZ_CHECK(a.data != NULL);
    FUZZ_CHECK(a.ndim >= 0 && a.ndim <= EIR_NPY_MAX_NDIM);
    FUZZ_CHECK(a.dtype == EIR_NPY_F8 || a.dtype == EIR_NPY_F4);
    size_t c = 1;
    for (int d = 0; d < a.ndim; d++) {
        FUZZ_CHECK(a.shape[d] >= 0);
        c *= (size_t)a.shape[d];
    }
    FUZZ_CHECK(c == a.count && c <= MAXV);
    FUZZ_CHECK(size >= c * eir_npy_itemsize(a.dtype));

    /* Write it back (in the dtype found) and read that. */
    void *host = malloc(c ? c * 8 : 1);
    FUZZ_CHECK(host);
    for (size_t i = 0; i < c; i++) {
        if (a.dtype == EIR_NPY_F4)
            ((float *)host)[i] = (float)a.data[i];
        else
            ((double *)host)[i] = a.data[i];
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f);
    FUZZ_CHECK(eir_npy_write(f, a.dtype, a.ndim, a.shape, host, &e) == EIR_NPY_OK);
    FUZZ_CHECK(fclose(f) == 0);
    eir_npy_array b;
    rc = eir_npy_parse(buf, len, MAXV, &b, &e);
    if (rc != EIR_NPY_OK) {
        fprintf(stderr, "re-written .npy rejected: %s\n", e.message);
        abort();
    }
    FUZZ_CHECK(b.dtype == a.dtype && b.ndim == a.ndim && b.count == a.count);
    FUZZ_CHECK(memcmp(b.shape, a.shape, (size_t)a.ndim * sizeof a.shape[0]) == 0);
    for (size_t i = 0; i < c; i++)
        FUZZ_CHECK(same_value(a.data[i], b.data[i]));
    eir_npy_array_free(&b);
    free(buf);
    free(host);
    eir_npy_array_free(&a);
    FUZZ_CHECK(a.data == NULL);
    return 0;
}
