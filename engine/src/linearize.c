/**
 * @file linearize.c
 * @brief Jacobian of the deterministic dynamics around a state (MODEL.md "Linearisation"),
 *        through the dynamics workspace (dynamics.c) in its O(N)-memory row mode.
 */
#include "dyn_internal.h"
#include "eir.h"

eir_status eir_linearize(const eir_model *m, const double *V, const double *x, double *J,
                         eir_error *err)
{
    return eir_dyn_eval_once(m, V, x, NULL, J, "linearising", err);
}
