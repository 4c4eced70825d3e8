/**
 * @file fuzz_model_json.c
 * @brief libFuzzer harness: bytes -> json_loadb(JSON_REJECT_DUPLICATES) -> eir_json_build_model()
 *        with tight limits -> (when it builds) hash, linearise and a tiny eir_run().
 *
 * This is the path of a model document through the daemon (POST /v1/models) and through
 * `eirnn simulate`. Any crash, leak, sanitizer report or broken invariant (a failure without
 * a message, a success without a model, a run of a valid model that fails) is a finding.
 */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_blas();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j) return 0;

    eir_json_limits lim;
    fuzz_limits(&lim);
    uint32_t h = fuzz_hash(data, size);
    /* The same document as a run's inline model: errors must carry the "/model" prefix. */
    const char *prefix = (h & 1) ? "/model" : "";
    eir_model *m = (eir_model *)1;
    eir_model_spec *spec = (eir_model_spec *)1;
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_json_build_model(j, &lim, prefix, &m, &spec, &e);
    if (rc != EIR_OK) {
        FUZZ_CHECK(m == NULL && spec == NULL);
        fuzz_check_error(rc, &e);
        if (prefix[0] && e.field[0]) FUZZ_CHECK(strncmp(e.field, "/model", 6) == 0);
        json_decref(j);
        return 0;
    }
    FUZZ_CHECK(m && spec);
    int N = eir_model_n(m);
    FUZZ_CHECK(N >= 1 && N <= lim.max_neurons);
    FUZZ_CHECK(eir_model_n_e(m) + eir_model_n_i(m) == N);
    FUZZ_CHECK(eir_model_n_in(m) >= 0 && eir_model_n_in(m) <= lim.max_inputs);
    FUZZ_CHECK(eir_model_n_out(m) >= 0 && eir_model_n_out(m) <= lim.max_outputs);

    char hex[65];
    eir_model_hash(m, hex);
    FUZZ_CHECK(strlen(hex) == 64);

    /* Jacobian at V = 0.1 with unit input. */
    double *V = malloc((size_t)N * sizeof *V);
    double *x = malloc((size_t)(eir_model_n_in(m) ? eir_model_n_in(m) : 1) * sizeof *x);
    double *J = malloc((size_t)N * (size_t)N * sizeof *J);
    FUZZ_CHECK(V && x && J);
    for (int i = 0; i < N; i++)
        V[i] = 0.1;
    for (int i = 0; i < eir_model_n_in(m); i++)
        x[i] = 1.0;
    eir_status lr = eir_linearize(m, V, x, J, &e);
    if (lr != EIR_OK) fuzz_check_error(lr, &e);

    /* A few steps of two trials, recording everything the model has. */
    eir_run_desc d;
    eir_run_desc_init(&d);
    d.dt = 0.05;
    d.T = 4;
    d.B = 2;
    d.integrator = (eir_integrator)((h >> 1) % 3);
    d.precision = (h >> 3) & 1 ? EIR_F32 : EIR_F64;
    d.threads = (h >> 4) % 4 == 0 ? 2 : 1;
    d.seed = h;
    d.V0 = V;
    d.V0_len = N;
    d.record_mask = (1u << EIR_VAR_V) | (1u << EIR_VAR_R) | (1u << EIR_VAR_Z);
    if (eir_model_n_out(m) > 0) d.record_mask |= 1u << EIR_VAR_Y;
    d.record_every = (h >> 6) & 1 ? 2 : 1;
    double *in = NULL;
    if (eir_model_n_in(m) > 0) {
        size_t n = (size_t)d.B * (size_t)d.T * (size_t)eir_model_n_in(m);
        in = malloc(n * sizeof *in);
        FUZZ_CHECK(in);
        for (size_t i = 0; i < n; i++)
            in[i] = (double)(i % 3) * 0.5;
        d.inputs = in;
    }
    fuzz_simulate(m, spec, &d, NULL, 1);

    free(in);
    free(V);
    free(x);
    free(J);
    eir_model_free(m);
    eir_model_spec_free(spec);
    json_decref(j);
    return 0;
}
