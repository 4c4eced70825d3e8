/**
 * @file fuzz_run_json.c
 * @brief libFuzzer harness: a run document -> eir_json_run_model_ref() -> the fixed model of
 *        schema/examples/requests/model_gated_explicit.json (for a "model_id") or the inline
 *        "model" built with tight limits -> eir_json_parse_run() -> eir_run() -> eir_run_meta().
 *
 * This is the path of POST /v1/runs and of `eirnn simulate`. A run that parses must simulate
 * (a diverging state is not an error); any crash, leak, sanitizer report or broken invariant
 * is a finding.
 */
#include "fuzz_common.h"

/* 4 E and 2 I cells, two inputs, one readout from E (model_gated_explicit.json). */
static const char fixed_model_json[] =
    "{\"class\": \"gated\", \"populations\": {\"E\": 4, \"I\": 2}, \"n_inputs\": 2,"
    " \"activation\": {\"name\": \"relu\", \"r_max\": 50.0}, \"leak\": 1.0,"
    " \"recurrent\": {\"W\": ["
    "  [0.0, 0.3, 0.2, 0.0, -0.5, -0.25], [0.25, 0.0, 0.0, 0.15, -0.5, 0.0],"
    "  [0.2, 0.1, 0.0, 0.3, 0.0, -0.75], [0.0, 0.35, 0.25, 0.0, -0.25, -0.5],"
    "  [0.5, 0.5, 0.25, 0.25, 0.0, -0.5], [0.25, 0.5, 0.5, 0.25, -0.25, 0.0]],"
    "  \"A\": {\"E\": 1.0, \"I\": 0.5}, \"dale\": \"reject\"},"
    " \"input\": {\"P\": [[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.0, 0.5], [0.25, 0.25],"
    "  [0.25, 0.25]]},"
    " \"bias\": 0.1,"
    " \"readout\": {\"W_out\": [[0.25, 0.25, 0.25, 0.25]], \"b_out\": [0.0], \"from\": \"E\"},"
    " \"noise\": {\"sigma\": 0.1}}";

static eir_model *fixed_model;
static eir_model_spec *fixed_spec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_blas();
    json_error_t je;
    json_t *j = json_loads(fixed_model_json, JSON_REJECT_DUPLICATES, &je);
    eir_error e;
    if (!j || eir_json_build_model(j, NULL, "", &fixed_model, &fixed_spec, &e) != EIR_OK) {
        fprintf(stderr, "fuzz_run_json: the fixed model does not build\n");
        abort();
    }
    json_decref(j);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j) return 0;

    eir_json_limits lim;
    fuzz_limits(&lim);
    eir_error e;
    eir_error_clear(&e);
    const char *id = NULL;
    const json_t *inl = NULL;
    eir_model *m = fixed_model, *own = NULL;
    eir_model_spec *spec = fixed_spec, *own_spec = NULL;
    eir_status rc = eir_json_run_model_ref(j, &id, &inl, &e);
    if (rc != EIR_OK) {
        fuzz_check_error(rc, &e);
        /* The daemon stops here; the command-line tool, given a model file, does not. */
    } else {
        FUZZ_CHECK((id != NULL) != (inl != NULL));
        if (id) FUZZ_CHECK(id[0] != '\0');
        if (inl) {
            rc = eir_json_build_model(inl, &lim, "/model", &own, &own_spec, &e);
            if (rc != EIR_OK) {
                fuzz_check_error(rc, &e);
                FUZZ_CHECK(!own && !own_spec);
                FUZZ_CHECK(e.field[0] == '\0' || strncmp(e.field, "/model", 6) == 0);
                json_decref(j);
                return 0;
            }
            m = own;
            spec = own_spec;
        }
    }

    eir_run_spec *r = (eir_run_spec *)1;
    eir_error_clear(&e);
    rc = eir_json_parse_run(j, m, &lim, &r, &e);
    if (rc != EIR_OK) {
        FUZZ_CHECK(r == NULL);
        fuzz_check_error(rc, &e);
    } else {
        FUZZ_CHECK(r);
        eir_run_desc *d = &r->desc;
        FUZZ_CHECK(d->T >= 1 && d->T <= lim.max_steps);
        FUZZ_CHECK(d->B >= 1 && d->B <= lim.max_trials);
        FUZZ_CHECK(d->dt > 0);
        FUZZ_CHECK(d->record_every >= 1 && d->record_every <= d->T);
        FUZZ_CHECK(d->n_neurons >= 0 && d->n_neurons <= eir_model_n(m));
        FUZZ_CHECK(r->time_limit >= 0);
        if (!r->has_seed) d->seed = 7;
        if (d->threads < 1 || d->threads > 2) d->threads = 1;
        fuzz_simulate(m, spec, d, r, 1);
        eir_run_spec_free(r);
    }
    eir_model_free(own);
    eir_model_spec_free(own_spec);
    json_decref(j);
    return 0;
}
