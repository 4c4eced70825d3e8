/* The run metadata record (eir_meta.h). */
#include "eir_meta.h"

#include <math.h>
#include <stdio.h>

void eir_meta_input_init(eir_meta_input *in)
{
    in->model = NULL;
    in->spec = NULL;
    in->run = NULL;
    in->seed_used = 0;
    in->result = NULL;
    in->run_status = EIR_OK;
    in->parse_s = -1;
    in->build_s = -1;
    in->simulate_s = -1;
    in->model_hash = NULL;
    in->rows_kept = -1;
    in->inputs = NULL;
    in->metrics = NULL;
    in->V0_run_id = NULL;
    in->V0_trial = -1;
    in->final_V = 0;
}

/* Rows of each output: all floor(T / every), or the rows kept of a stopped run. */
static int64_t rows_kept(const eir_meta_input *in)
{
    int64_t all = eir_recorded_rows(in->run->T, in->run->record_every);
    return in->rows_kept >= 0 && in->rows_kept < all ? in->rows_kept : all;
}

const char *eir_meta_status(eir_status st, const eir_run_result *res)
{
    if (st == EIR_ECANCELLED) return "cancelled";
    if (st != EIR_OK) return "failed";
    if (res && res->diverged) return "diverged";
    return "succeeded";
}

const char *eir_meta_dtype(eir_precision p)
{
    return p == EIR_F32 ? "float32" : "float64";
}

int eir_meta_var_units(const eir_model *m, const eir_run_desc *r, eir_var v)
{
    if (v == EIR_VAR_Y) return eir_model_n_out(m);
    return r->neurons && r->n_neurons > 0 ? r->n_neurons : eir_model_n(m);
}

/* Builder that remembers whether any allocation failed, so callers check once. */
typedef struct builder {
    int failed;
} builder;

static json_t *num(builder *b, double x)
{
    json_t *v = isfinite(x) ? json_real(x) : json_null();
    if (!v) b->failed = 1;
    return v;
}

static json_t *integer(builder *b, long long x)
{
    json_t *v = json_integer(x);
    if (!v) b->failed = 1;
    return v;
}

static json_t *str(builder *b, const char *s)
{
    json_t *v = s ? json_string(s) : json_null();
    if (!v) b->failed = 1;
    return v;
}

static json_t *boolean(builder *b, int x)
{
    json_t *v = json_boolean(x);
    if (!v) b->failed = 1;
    return v;
}

static json_t *null(builder *b)
{
    json_t *v = json_null();
    if (!v) b->failed = 1;
    return v;
}

static json_t *seconds(builder *b, double s)
{
    return s >= 0 ? num(b, s) : null(b);
}

static json_t *seed(builder *b, uint64_t s)
{
    if (s <= (uint64_t)INT64_MAX) return integer(b, (long long)s);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)s);
    return str(b, buf);
}

/* Set o[key] = v (stealing v); on NULL o or v, or failure, mark the builder failed. */
static void put(builder *b, json_t *o, const char *key, json_t *v)
{
    if (!o || !v || json_object_set_new(o, key, v) != 0) {
        b->failed = 1;
        if (o == NULL) json_decref(v);
    }
}

static json_t *object(builder *b)
{
    json_t *o = json_object();
    if (!o) b->failed = 1;
    return o;
}

static json_t *model_meta(builder *b, const eir_meta_input *in)
{
    const eir_model *m = in->model;
    const eir_model_spec *sp = in->spec;
    json_t *o = object(b);
    char hex[65];
    if (in->model_hash) /* precomputed by the caller: hashing N x N matrices twice is not free */
        snprintf(hex, sizeof hex, "%s", in->model_hash);
    else
        eir_model_hash(m, hex);
    put(b, o, "hash", str(b, hex));
    put(b, o, "name", sp && sp->name[0] ? str(b, sp->name) : null(b));
    put(b, o, "class", str(b, eir_class_name(eir_model_class(m))));
    put(b, o, "activation", sp ? str(b, eir_act_name(sp->desc.act.kind)) : null(b));
    json_t *sizes = object(b);
    put(b, sizes, "N", integer(b, eir_model_n(m)));
    put(b, sizes, "E", integer(b, eir_model_n_e(m)));
    put(b, sizes, "I", integer(b, eir_model_n_i(m)));
    put(b, sizes, "n_in", integer(b, eir_model_n_in(m)));
    put(b, sizes, "n_out", integer(b, eir_model_n_out(m)));
    put(b, o, "sizes", sizes);
    put(b, o, "sigma", sp ? num(b, sp->desc.sigma) : null(b));
    put(b, o, "dale_projected", integer(b, (long long)eir_model_projected(m)));
    if (sp && (sp->generated || sp->input_generated)) {
        json_t *g = object(b);
        put(b, g, "recurrent_seed", sp->generated ? seed(b, sp->gen.seed) : null(b));
        put(b, g, "input_seed", sp->input_generated ? seed(b, sp->input_gen.seed) : null(b));
        put(b, o, "generate", g);
    } else {
        put(b, o, "generate", null(b));
    }
    return o;
}

static json_t *run_meta(builder *b, const eir_meta_input *in)
{
    const eir_run_desc *r = in->run;
    json_t *o = object(b);
    put(b, o, "dt", num(b, r->dt));
    put(b, o, "integrator", str(b, eir_integrator_name(r->integrator)));
    put(b, o, "precision", str(b, eir_meta_dtype(r->precision)));
    put(b, o, "T", integer(b, (long long)r->T));
    put(b, o, "B", integer(b, r->B));
    if (in->inputs) put(b, o, "inputs", json_incref((json_t *)in->inputs));
    if (in->V0_run_id) {
        json_t *v0 = object(b);
        put(b, v0, "run_id", str(b, in->V0_run_id));
        put(b, v0, "trial", in->V0_trial >= 0 ? integer(b, (long long)in->V0_trial) : null(b));
        put(b, o, "V0", v0);
    }
    json_t *rec = object(b);
    json_t *vars = json_array();
    if (!vars) b->failed = 1;
    for (int v = 0; v < EIR_NVARS; v++)
        if (vars && (r->record_mask & (1u << v)) &&
            json_array_append_new(vars, str(b, eir_var_name((eir_var)v))) != 0)
            b->failed = 1;
    put(b, rec, "vars", vars);
    put(b, rec, "every", integer(b, r->record_every));
    put(b, rec, "neurons", integer(b, eir_meta_var_units(in->model, r, EIR_VAR_V)));
    put(b, o, "record", rec);
    put(b, o, "seed", in->seed_used ? seed(b, r->seed) : null(b));
    put(b, o, "noise_generator", str(b, EIR_RNG_NAME));
    put(b, o, "threads", integer(b, r->threads));
    return o;
}

static json_t *summary_meta(builder *b, const eir_meta_input *in)
{
    const eir_run_result *res = in->result;
    json_t *o = object(b);
    put(b, o, "steps_done", integer(b, (long long)res->steps_done));
    put(b, o, "rows_written", integer(b, (long long)res->rows_written));
    put(b, o, "truncated",
        boolean(b, rows_kept(in) < eir_recorded_rows(in->run->T, in->run->record_every)));
    put(b, o, "mean_rate_E", num(b, res->mean_rate_e));
    put(b, o, "mean_rate_I", num(b, res->mean_rate_i));
    put(b, o, "max_z_dt", num(b, res->max_z_dt));
    put(b, o, "unstable", boolean(b, res->unstable));
    put(b, o, "diverged", boolean(b, res->diverged));
    put(b, o, "diverged_step",
        res->diverged && res->diverged_step >= 0 ? integer(b, (long long)res->diverged_step)
                                                 : null(b));
    put(b, o, "diverged_trial",
        res->diverged && res->diverged_trial >= 0 ? integer(b, res->diverged_trial) : null(b));
    return o;
}

static json_t *outputs_meta(builder *b, const eir_meta_input *in)
{
    const eir_run_desc *r = in->run;
    json_t *o = object(b);
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(r->record_mask & (1u << v))) continue;
        json_t *e = object(b);
        json_t *shape = json_array();
        if (!shape || json_array_append_new(shape, integer(b, r->B)) != 0 ||
            json_array_append_new(shape, integer(b, (long long)rows_kept(in))) != 0 ||
            json_array_append_new(shape,
                                  integer(b, eir_meta_var_units(in->model, r, (eir_var)v))) != 0)
            b->failed = 1;
        put(b, e, "shape", shape);
        put(b, e, "dtype", str(b, eir_meta_dtype(r->precision)));
        put(b, o, eir_var_name((eir_var)v), e);
    }
    if (in->final_V) {
        json_t *e = object(b);
        json_t *shape = json_pack("[I, I]", (json_int_t)r->B, (json_int_t)eir_model_n(in->model));
        if (!shape) b->failed = 1;
        put(b, e, "shape", shape);
        put(b, e, "dtype", str(b, eir_meta_dtype(r->precision)));
        put(b, o, "V_final", e);
    }
    return o;
}

json_t *eir_run_meta(const eir_meta_input *in)
{
    if (!in || !in->model || !in->run) return NULL;
    builder b = {0};
    json_t *o = object(&b);
    json_t *eng = object(&b);
    put(&b, eng, "version", str(&b, EIR_ENGINE_VERSION));
    put(&b, eng, "rng", str(&b, EIR_RNG_NAME));
    put(&b, o, "engine", eng);
    put(&b, o, "model", model_meta(&b, in));
    put(&b, o, "run", run_meta(&b, in));
    json_t *t = object(&b);
    put(&b, t, "parse_s", seconds(&b, in->parse_s));
    put(&b, t, "build_s", seconds(&b, in->build_s));
    put(&b, t, "simulate_s", seconds(&b, in->simulate_s));
    put(&b, o, "timings", t);
    put(&b, o, "summary", in->result ? summary_meta(&b, in) : null(&b));
    put(&b, o, "status", str(&b, eir_meta_status(in->run_status, in->result)));
    put(&b, o, "outputs", outputs_meta(&b, in));
    if (in->metrics) put(&b, o, "metrics", json_incref((json_t *)in->metrics));
    if (b.failed) {
        json_decref(o);
        return NULL;
    }
    return o;
}
