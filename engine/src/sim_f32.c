/** @file sim_f32.c @brief The integrators in single precision (see sim_impl.h). */
#include "sim_internal.h"
#define REAL float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#define DECAY_GAIN eir_vdecay_gainf
#include "sim_impl.h"
