/** @file train_bptt_f64.c @brief A training chunk in double precision (see train_bptt_impl.h). */
#define REAL double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#define DECAY_GAIN eir_vdecay_gain
#include "train_bptt_impl.h"
