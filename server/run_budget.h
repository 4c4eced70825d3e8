/**
 * @file run_budget.h
 * @brief The memory a submitted run will need, against --max-run-memory-bytes (issue 10,
 *        item 8): checked when the run is submitted, before it is queued.
 */
#ifndef SRV_RUN_BUDGET_H
#define SRV_RUN_BUDGET_H

#include <jansson.h>

#include "eir_runner.h"
#include "http.h"

/**
 * Whether prepared run @p p (of request @p body) fits the daemon's memory budget for one run
 * (cfg.max_run_memory; eir_run_memory_bytes() of its model and run, or eir_run_memory_bound()
 * of its shape when the model was not built at submission, which count the final state V_final
 * and the statistics of "metrics"; plus a "V0" read from another run; the model itself not
 * counted).
 * Returns 1 when it does not, with a 422 queued into *@p ret naming the field that
 * drives the size ("/record" when the recorded values are most of it, else the trials:
 * "/inputs/trials" or "/inputs", else the model: "/model_id" or "/model") and giving the
 * estimate and the budget; 0 when it fits (nothing queued). Cannot fail otherwise.
 */
int srv_run_over_budget(srv_req *r, const json_t *body, const eir_pipe *p, enum MHD_Result *ret);

#endif /* SRV_RUN_BUDGET_H */
