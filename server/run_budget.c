/** @file run_budget.c @brief A submitted run's memory against --max-run-memory-bytes. */
#include "run_budget.h"

#include <stddef.h>
#include <stdint.h>

/** N and readout outputs of @p p's model: the built model's, or (eir_pipe_check()) its shape's. */
static int model_n(const eir_pipe *p)
{
    return p->model ? eir_model_n(p->model) : p->shape.n;
}

static int model_n_out(const eir_pipe *p)
{
    return p->model ? eir_model_n_out(p->model) : p->shape.n_out;
}

/** Bytes of the recorded outputs of @p p (saturating). */
static double output_bytes(const eir_pipe *p)
{
    const eir_run_desc *d = p->run;
    const double es = d->precision == EIR_F32 ? 4.0 : 8.0;
    const double rows = (double)eir_recorded_rows(d->T, d->record_every);
    double total = 0;
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d->record_mask & (1u << v))) continue;
        double units = v == EIR_VAR_Y ? (double)model_n_out(p)
                       : d->neurons   ? (double)d->n_neurons
                                      : (double)model_n(p);
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
    /* A model not built here (a model_id, or a recipe: the worker builds it) is counted by its
     * shape, as the largest storage a model of that shape can have. */
    eir_model_dims dims = {p->shape.n, p->shape.n_e, p->shape.n_in, p->shape.n_out, p->shape.cls};
    size_t est =
        p->model ? eir_run_memory_bytes(p->model, p->run) : eir_run_memory_bound(&dims, p->run);
    /* The engine counts the final state V_final (B x N) and the statistics of "metrics"; a "V0"
     * naming a run adds the state read from the store and the spec's copy (doubles, B x N at
     * most). */
    if (p->spec_run && p->spec_run->V0_from_run) {
        const double v0 = 2.0 * (double)p->run->B * (double)model_n(p) * sizeof(double);
        est = (double)est + v0 >= (double)SIZE_MAX ? SIZE_MAX : est + (size_t)v0;
    }
    if (budget == 0 || est <= budget) return 0;
    const eir_run_desc *d = p->run;
    const double mib = 1024.0 * 1024.0;
    *ret = srv_problem(
        r, SRV_P_INVALID, 422, driving_field(body, p, (double)est),
        "the run would need about %.0f MiB (N = %d, B = %d, %s in %s, %.0f MiB of recorded "
        "values, %d thread(s)), over the daemon's limit of %.0f MiB per run "
        "(--max-run-memory-bytes); use fewer trials or record fewer values (split the run), "
        "or float32",
        (double)est / mib, model_n(p), d->B, eir_integrator_name(d->integrator),
        eir_precision_name(d->precision), output_bytes(p) / mib, d->threads, (double)budget / mib);
    return 1;
}
