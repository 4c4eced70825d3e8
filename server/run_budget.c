/** @file run_budget.c @brief A submitted run's memory against --max-run-memory-bytes. */
#include "run_budget.h"

#include <stdint.h>

/** Bytes of the recorded outputs of @p p (saturating). */
static double output_bytes(const eir_pipe *p)
{
    const eir_run_desc *d = p->run;
    const double es = d->precision == EIR_F32 ? 4.0 : 8.0;
    const double rows = (double)eir_recorded_rows(d->T, d->record_every);
    double total = 0;
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d->record_mask & (1u << v))) continue;
        double units = v == EIR_VAR_Y ? (double)eir_model_n_out(p->model)
                       : d->neurons   ? (double)d->n_neurons
                                      : (double)eir_model_n(p->model);
        total += (double)d->B * rows * units * es;
    }
    return total;
}

/** The run field that drives the size of @p p, estimated at @p est bytes. */
static const char *driving_field(const json_t *body, const eir_pipe *p, double est)
{
    if (output_bytes(p) * 2 >= est) return "/record";
    if (p->run->B > 1) {
        const json_t *in = json_object_get(body, "inputs");
        return json_is_object(in) && json_object_get(in, "trials") ? "/inputs/trials" : "/inputs";
    }
    return json_object_get(body, "model_id") ? "/model_id" : "/model";
}

int srv_run_over_budget(srv_req *r, const json_t *body, const eir_pipe *p, enum MHD_Result *ret)
{
    const uint64_t budget = r->s->cfg.max_run_memory;
    const size_t est = eir_run_memory_bytes(p->model, p->run);
    if (budget == 0 || est <= budget) return 0;
    const eir_run_desc *d = p->run;
    const double mib = 1024.0 * 1024.0;
    *ret = srv_problem(
        r, SRV_P_INVALID, 422, driving_field(body, p, (double)est),
        "the run would need about %.0f MiB (N = %d, B = %d, %s in %s, %.0f MiB of recorded "
        "values, %d thread(s)), over the daemon's limit of %.0f MiB per run "
        "(--max-run-memory-bytes); use fewer trials or record fewer values (split the run), "
        "or float32",
        (double)est / mib, eir_model_n(p->model), d->B, eir_integrator_name(d->integrator),
        eir_precision_name(d->precision), output_bytes(p) / mib, d->threads, (double)budget / mib);
    return 1;
}
