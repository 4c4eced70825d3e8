/** @file train_bptt_f32.c @brief A training chunk in single precision (see train_bptt_impl.h). */
#define REAL float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#define DECAY_GAIN eir_vdecay_gainf
#include "train_bptt_impl.h"
