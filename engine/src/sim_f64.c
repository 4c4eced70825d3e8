/** @file sim_f64.c @brief The integrators in double precision (see sim_impl.h). */
#include "sim_internal.h"
#define REAL double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#define DECAY_GAIN eir_vdecay_gain
#include "sim_impl.h"
