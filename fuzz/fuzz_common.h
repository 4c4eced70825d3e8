/**
 * @file fuzz_common.h
 * @brief Shared by the libFuzzer harnesses: the tight limits they parse with, a check that
 *        aborts (so libFuzzer records the input as a crash) and a tiny simulation of a built
 *        model.
 *
 * The limits keep every input cheap (N <= 64, T <= 64, B <= 4), so a fuzzed document can
 * reach every branch of the parsers and the engine, limit errors included, without
 * allocating or computing much.
 */
#ifndef EIR_FUZZ_COMMON_H
#define EIR_FUZZ_COMMON_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"
#include "eir_json.h"
#include "eir_meta.h"

/** An invariant of the API was broken: print it and abort (libFuzzer saves the input). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static inline void fuzz_limits(eir_json_limits *l)
{
    eir_json_limits_default(l);
    l->max_neurons = 64;
    l->max_inputs = 16;
    l->max_outputs = 16;
    l->max_steps = 64;
    l->max_trials = 4;
    /* below what the limits above allow (B T n_in <= 4096, B T N 4 vars <= 65536), so that
     * these two checks can fail too */
    l->max_input_values = 1024;
    l->max_recorded_values = 8192;
    l->max_depth = 32;
}

/** A failed call must say why: status set, a message, a field that is "" or a JSON pointer. */
static inline void fuzz_check_error(eir_status rc, const eir_error *e)
{
    FUZZ_CHECK(rc != EIR_OK);
    FUZZ_CHECK(e->status == rc);
    FUZZ_CHECK(memchr(e->field, 0, sizeof e->field) && memchr(e->message, 0, sizeof e->message));
    FUZZ_CHECK(e->message[0] != '\0');
    FUZZ_CHECK(e->field[0] == '\0' || e->field[0] == '/');
}

/**
 * Simulate @p d on @p m into freshly allocated buffers, then describe the run with
 * eir_run_meta() and serialise that (which must work: the record never holds NaN).
 * @p spec may be NULL. The run must not fail for any reason but a diverging state (which is
 * not an error) when @p must_succeed. @p run, the parsed run of @p d (or NULL), gives a run with
 * "metrics" its metrics (eir_json_metrics()), which must serialise and go into the record.
 */
static inline void fuzz_simulate(const eir_model *m, const eir_model_spec *spec, eir_run_desc *d,
                                 const eir_run_spec *run, int must_succeed)
{
    size_t item = d->precision == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++) {
        d->out[v] = NULL;
        if (!(d->record_mask & (1u << v))) continue;
        size_t n = eir_run_out_len(m, d, (eir_var)v);
        FUZZ_CHECK(n <= (size_t)1 << 20);
        d->out[v] = malloc((n ? n : 1) * item);
        FUZZ_CHECK(d->out[v]);
    }
    eir_stats *st = NULL; /* a run with "metrics" (stats_req) needs their place */
    if (d->stats_req) {
        st = eir_stats_new(d->stats_req, d->B);
        FUZZ_CHECK(st);
        d->stats = st;
    }
    eir_run_result res;
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_run(m, d, &res, &e);
    if (rc != EIR_OK) {
        fuzz_check_error(rc, &e);
        if (must_succeed) {
            fprintf(stderr, "eir_run failed: %s: field \"%s\": %s\n", eir_status_name(rc), e.field,
                    e.message);
            abort();
        }
    } else {
        FUZZ_CHECK(res.steps_done >= 0 && res.steps_done <= d->T);
        FUZZ_CHECK(res.diverged || res.steps_done == d->T);
        FUZZ_CHECK(res.rows_written >= 0 &&
                   res.rows_written <= eir_recorded_rows(d->T, d->record_every));
    }
    eir_meta_input mi;
    eir_meta_input_init(&mi);
    mi.model = m;
    mi.spec = spec;
    mi.run = d;
    mi.seed_used = 1;
    mi.result = rc == EIR_OK ? &res : NULL;
    mi.run_status = rc;
    json_t *metrics = NULL;
    if (run && run->has_metrics && rc == EIR_OK) {
        metrics = eir_json_metrics(run, st, &res, d->dt);
        FUZZ_CHECK(metrics && json_is_object(metrics));
        FUZZ_CHECK(json_object_get(metrics, "windows"));
        FUZZ_CHECK(!json_object_get(metrics, "settle") == !run->metrics.settle_steps);
        mi.metrics = metrics;
    }
    mi.parse_s = 0.001;
    mi.build_s = -1;
    mi.simulate_s = 0.002;
    json_t *meta = eir_run_meta(&mi);
    FUZZ_CHECK(meta);
    char *s = json_dumps(meta, JSON_COMPACT);
    FUZZ_CHECK(s);
    free(s);
    json_decref(meta);
    json_decref(metrics);
    for (int v = 0; v < EIR_NVARS; v++) {
        free(d->out[v]);
        d->out[v] = NULL;
    }
    eir_stats_free(st);
    d->stats = NULL;
}

/** FNV-1a of the input: picks integrator, precision and threads deterministically. */
static inline uint32_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

/** Quiet OpenBLAS: one thread (the harnesses are single-threaded like the daemon's workers). */
static inline void fuzz_init_blas(void)
{
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    eir_blas_single_threaded();
}

#endif /* EIR_FUZZ_COMMON_H */
