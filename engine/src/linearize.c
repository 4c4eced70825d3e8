/**
 * @file linearize.c
 * @brief Jacobian of the deterministic dynamics around a state (MODEL.md "Linearisation"),
 *        through the dynamics workspace (dynamics.c) in its O(N)-memory row mode.
 */
#include <stdlib.h>

#include "dyn_internal.h"
#include "eir.h"

eir_status eir_linearize(const eir_model *m, const double *V, const double *x, double *J,
                         eir_error *err)
{
    eir_status s = eir_dyn_check_state(V, m->n, err);
    if (s) return s;
    eir_dyn d;
    if ((s = eir_dyn_init(&d, m, 0, err)) != EIR_OK) return s;
    double *work = malloc(eir_dyn_work_len(m->n) * sizeof *work);
    if (!work) {
        eir_dyn_free(&d);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory linearising N = %d", m->n);
    }
    s = eir_dyn_set_input(&d, x, "/x", err);
    if (s == EIR_OK) eir_dyn_eval(&d, V, work, NULL, J, NULL);
    free(work);
    eir_dyn_free(&d);
    return s;
}
