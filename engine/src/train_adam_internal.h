/**
 * @file train_adam_internal.h
 * @brief The Adam state shared by train_adam.c (the update) and train_state.c (checkpoints).
 * Engine-private.
 */
#ifndef EIR_TRAIN_ADAM_INTERNAL_H
#define EIR_TRAIN_ADAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "eir_train.h"

/** Adam over one network's theta. Owned by the caller of eir_adam_new(); not thread-safe. */
struct eir_adam {
    size_t len;               /**< theta length of the network it was made for */
    size_t off[EIR_NPARAMS];  /**< slice offsets (eir_net_layout()) */
    size_t plen[EIR_NPARAMS]; /**< slice lengths, 0 when absent */
    unsigned trainable;       /**< bit (1u << eir_param) per trained slice */
    double lr, beta1, beta2, eps;
    double clip_norm; /**< <= 0: no clipping */
    int64_t step;     /**< updates made (t of Kingma & Ba) */
    double *m;        /**< first moments, len values (0 on frozen slices) */
    double *v;        /**< second moments, len values (0 on frozen slices) */
};

#endif
