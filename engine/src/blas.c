/** @file blas.c @brief The one process-wide BLAS setting a program may want. */
#include <cblas.h>

#include "eir.h"

int eir_blas_single_threaded(void)
{
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return prev;
}
