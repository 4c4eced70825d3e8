/**
 * @file test_pipeline.c
 * @brief The run pipeline (runner/include/eir_runner.h) on its own: inline models, a model
 *        given beside the run, "model_id" through the caller's resolver (released at the end,
 *        its hash used), errors naming the stage and the field, seeds picked for noisy runs
 *        only, the threads option, outputs and metadata, and a stopped run keeping only the
 *        rows it computed (the same bytes as a complete run of that many steps, per trial).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_meta.h"
#include "eir_runner.h"

/** A small noisy gated model: 16 E, 4 I, one input, a readout. */
static const char *const noisy_model =
    "{\"class\": \"gated\", \"populations\": {\"E\": 16, \"I\": 4}, \"n_inputs\": 1, "
    "\"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, \"bias\": 0.2, "
    "\"recurrent\": {\"generate\": {\"seed\": 3, \"p\": 0.5, \"dist\": \"lognormal\", "
    "\"mean\": 0.05, \"cv\": 0.5}, \"A\": 1}, "
    "\"input\": {\"P\": {\"generate\": {\"seed\": 4, \"p\": 1, \"dist\": \"constant\", "
    "\"mean\": 0.5}}}, \"readout\": {\"W_out\": [[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, "
    "0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]], \"from\": \"E\"}, \"noise\": {\"sigma\": 0.2}}";

/** The same without noise. */
static const char *const quiet_model =
    "{\"class\": \"gated\", \"populations\": {\"E\": 8, \"I\": 2}, \"n_inputs\": 0, "
    "\"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, \"bias\": 0.2, "
    "\"recurrent\": {\"generate\": {\"seed\": 3, \"p\": 0.5, \"dist\": \"lognormal\", "
    "\"mean\": 0.05, \"cv\": 0.5}, \"A\": 1}}";

static json_t *load(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *load(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &je);
    if (!j) fail_msg("bad test JSON: %s\n%s", je.text, buf);
    return j;
}

static void config(eir_pipe_config *cfg, eir_json_limits *lim)
{
    eir_json_limits_default(lim);
    memset(cfg, 0, sizeof *cfg);
    cfg->limits = lim;
    cfg->threads = 1;
}

/** Prepare @p run with @p cfg, failing the test on error. */
static eir_pipe *prepare_ok(const json_t *run, const eir_pipe_config *cfg)
{
    eir_pipe *p = NULL;
    eir_pipe_stage at;
    eir_error err;
    eir_error_clear(&err);
    if (eir_pipe_prepare(run, cfg, &p, &at, &err) != EIR_OK)
        fail_msg("prepare failed at stage %d: %s: %s", (int)at, err.field, err.message);
    assert_non_null(p);
    return p;
}

/** Prepare @p run expecting failure at @p stage with @p field and @p status. */
static void prepare_fails(const json_t *run, const eir_pipe_config *cfg, eir_pipe_stage stage,
                          eir_status status, const char *field, const char *needle)
{
    eir_pipe *p = (eir_pipe *)1;
    eir_pipe_stage at;
    eir_error err;
    eir_error_clear(&err);
    assert_int_equal(eir_pipe_prepare(run, cfg, &p, &at, &err), status);
    assert_null(p);
    assert_int_equal(at, stage);
    assert_int_equal(err.status, status);
    assert_string_equal(err.field, field);
    if (needle && !strstr(err.message, needle))
        fail_msg("'%s' not in the message '%s'", needle, err.message);
}

static json_t *mget(json_t *j, const char *a, const char *b)
{
    json_t *x = json_object_get(j, a);
    return b ? json_object_get(x, b) : x;
}

static void test_inline_run_outputs_and_meta(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 20, \"trials\": 3}, "
                       "\"record\": {\"vars\": [\"V\", \"y\"], \"every\": 3}, \"seed\": 5}",
                       noisy_model);
    eir_pipe *p = prepare_ok(run, &cfg);
    assert_null(p->model_id);
    assert_int_equal(p->seed_used, 1);
    assert_int_equal(p->seed_picked, 0);
    assert_int_equal(p->run->seed, 5);
    assert_int_equal(p->run->threads, 1);
    assert_null(eir_pipe_meta(p)); /* nothing ran yet */
    eir_error err;
    assert_int_equal(eir_pipe_run(p, NULL, NULL, &err), EIR_OK);
    assert_int_equal(p->ran, 1);
    assert_int_equal(p->truncated, 0);
    assert_int_equal(p->nout, 2);
    assert_string_equal(p->out[0].name, "V");
    assert_string_equal(p->out[1].name, "y");
    assert_int_equal(p->out[0].shape[0], 3);
    assert_int_equal(p->out[0].shape[1], 6); /* floor(20 / 3) */
    assert_int_equal(p->out[0].shape[2], 20);
    assert_int_equal(p->out[1].shape[2], 1);
    assert_int_equal(p->out[0].bytes, 3 * 6 * 20 * sizeof(double));
    assert_string_equal(p->out[0].dtype, "float64");
    const double *v = p->out[0].data;
    for (int i = 0; i < 3 * 6 * 20; i++)
        assert_true(isfinite(v[i]));
    json_t *meta = eir_pipe_meta(p);
    assert_non_null(meta);
    assert_string_equal(json_string_value(json_object_get(meta, "status")), "succeeded");
    assert_int_equal(json_integer_value(mget(meta, "run", "threads")), 1);
    assert_int_equal(json_integer_value(mget(meta, "run", "seed")), 5);
    assert_int_equal(json_integer_value(mget(meta, "summary", "steps_done")), 20);
    assert_true(json_is_false(mget(meta, "summary", "truncated")));
    json_t *shape = mget(mget(meta, "outputs", "V"), "shape", NULL);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), 6);
    assert_true(json_real_value(mget(meta, "timings", "simulate_s")) >= 0);
    json_decref(meta);
    eir_pipe_free(p);
    json_decref(run);
}

/* ---- a resolver for "model_id" ---------------------------------------------------------- */

typedef struct fake_store {
    eir_model *model;
    eir_model_spec *spec;
    int lent, released, calls;
    const char *known_id;
} fake_store;

static eir_status fake_resolve(void *ctx, const char *id, eir_pipe_model *out, eir_error *err)
{
    fake_store *fs = ctx;
    fs->calls++;
    if (strcmp(id, fs->known_id) != 0)
        return eir_error_set(err, EIR_EINVAL, "/model_id", "model %s does not exist", id);
    out->model = fs->model;
    out->spec = fs->spec;
    out->hash = "0000000000000000000000000000000000000000000000000000000000000042";
    out->handle = fs;
    fs->lent++;
    return EIR_OK;
}

static void fake_release(void *ctx, void *handle)
{
    fake_store *fs = ctx;
    assert_ptr_equal(handle, fs);
    fs->released++;
}

static void test_model_id_through_the_resolver(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    fake_store fs = {.known_id = "m_1"};
    json_t *mj = load("%s", quiet_model);
    eir_error err;
    assert_int_equal(eir_json_build_model(mj, &lim, "", &fs.model, &fs.spec, &err), EIR_OK);
    cfg.resolve = fake_resolve;
    cfg.release = fake_release;
    cfg.resolve_ctx = &fs;

    json_t *run = load("{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": {\"steps\": 4, "
                       "\"trials\": 1}}");
    eir_pipe *p = prepare_ok(run, &cfg);
    assert_string_equal(p->model_id, "m_1");
    assert_ptr_equal(p->model, fs.model);
    assert_int_equal(p->seed_picked, 0); /* sigma = 0: no seed needed */
    assert_int_equal(p->seed_used, 0);
    assert_int_equal(eir_pipe_run(p, NULL, NULL, &err), EIR_OK);
    json_t *meta = eir_pipe_meta(p);
    assert_string_equal(json_string_value(mget(meta, "model", "hash")),
                        "0000000000000000000000000000000000000000000000000000000000000042");
    assert_true(json_is_null(mget(meta, "run", "seed")));
    json_decref(meta);
    assert_int_equal(fs.released, 0);
    eir_pipe_free(p);
    assert_int_equal(fs.lent, 1);
    assert_int_equal(fs.released, 1);
    json_decref(run);

    /* An unknown id: the resolver's error, at the model stage; nothing lent stays lent. */
    run = load("{\"model_id\": \"m_2\", \"dt\": 0.1, \"inputs\": {\"steps\": 4, \"trials\": 1}}");
    prepare_fails(run, &cfg, EIR_PIPE_MODEL, EIR_EINVAL, "/model_id", "m_2 does not exist");
    /* A run that does not parse against the resolved model: released again. */
    json_decref(run);
    run = load("{\"model_id\": \"m_1\", \"dt\": -1, \"inputs\": {\"steps\": 4, \"trials\": 1}}");
    prepare_fails(run, &cfg, EIR_PIPE_RUN, EIR_EINVAL, "/dt", NULL);
    assert_int_equal(fs.lent, 2);
    assert_int_equal(fs.released, 2);
    /* No resolver: model_id is refused, naming the field. */
    cfg.resolve = NULL;
    prepare_fails(run, &cfg, EIR_PIPE_MODEL, EIR_EINVAL, "/model_id", "give the model itself");
    json_decref(run);
    json_decref(mj);
    eir_model_free(fs.model);
    eir_model_spec_free(fs.spec);
}

/* ---- inline models through the caller's cache -------------------------------------------- */

typedef struct fake_cache {
    eir_model *model; /**< kept by keep_inline (owned) */
    eir_model_spec *spec;
    const json_t *last_doc; /**< the inline model the hooks were last given */
    int lookups, keeps, lent, released;
    int refuse_keep; /**< keep_inline leaves the model to the pipeline */
    int fail_lookup; /**< resolve_inline fails */
} fake_cache;

static eir_status cache_lookup(void *ctx, const json_t *model, eir_pipe_model *out, eir_error *err)
{
    fake_cache *fc = ctx;
    fc->lookups++;
    fc->last_doc = model;
    if (fc->fail_lookup) return eir_error_set(err, EIR_ENOMEM, NULL, "the cache failed");
    if (!fc->model) return EIR_OK; /* not known: build it */
    out->model = fc->model;
    out->spec = fc->spec;
    out->hash = "00000000000000000000000000000000000000000000000000000000000000aa";
    out->handle = fc;
    fc->lent++;
    return EIR_OK;
}

static int cache_keep(void *ctx, const json_t *model, eir_model *built, eir_model_spec *spec,
                      eir_pipe_model *out)
{
    fake_cache *fc = ctx;
    fc->keeps++;
    fc->last_doc = model;
    if (fc->refuse_keep) return 0;
    assert_null(fc->model);
    fc->model = built;
    fc->spec = spec;
    out->model = built;
    out->spec = spec;
    out->handle = fc;
    fc->lent++;
    return 1;
}

static void cache_release(void *ctx, void *handle)
{
    fake_cache *fc = ctx;
    assert_ptr_equal(handle, fc);
    fc->released++;
}

static void test_inline_model_through_the_cache(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    fake_cache fc = {0};
    cfg.resolve_inline = cache_lookup;
    cfg.keep_inline = cache_keep;
    cfg.release = cache_release;
    cfg.resolve_ctx = &fc;
    json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 4, "
                       "\"trials\": 1}, \"seed\": 2}",
                       noisy_model);
    const json_t *inl = json_object_get(run, "model");

    /* Unknown: built by the pipeline, offered, taken, and used from the cache from then on. */
    eir_pipe *p = prepare_ok(run, &cfg);
    assert_int_equal(fc.lookups, 1);
    assert_int_equal(fc.keeps, 1);
    assert_ptr_equal(fc.last_doc, inl);
    assert_non_null(fc.model);
    assert_ptr_equal(p->model, fc.model);
    assert_ptr_equal(p->spec, fc.spec);
    eir_error err;
    assert_int_equal(eir_pipe_run(p, NULL, NULL, &err), EIR_OK);
    size_t bytes = p->out[0].bytes;
    void *first = malloc(bytes);
    assert_non_null(first);
    memcpy(first, p->out[0].data, bytes);
    eir_pipe_free(p);
    assert_int_equal(fc.released, 1);

    /* Known: lent by the cache, not built, not offered; its hash goes to the metadata; the
     * same bytes. */
    p = prepare_ok(run, &cfg);
    assert_int_equal(fc.lookups, 2);
    assert_int_equal(fc.keeps, 1);
    assert_ptr_equal(p->model, fc.model);
    assert_int_equal(eir_pipe_run(p, NULL, NULL, &err), EIR_OK);
    assert_int_equal(p->out[0].bytes, bytes);
    assert_memory_equal(p->out[0].data, first, bytes);
    json_t *meta = eir_pipe_meta(p);
    assert_string_equal(json_string_value(mget(meta, "model", "hash")),
                        "00000000000000000000000000000000000000000000000000000000000000aa");
    json_decref(meta);
    eir_pipe_free(p);
    assert_int_equal(fc.lent, 2);
    assert_int_equal(fc.released, 2);

    /* A run that fails after the lookup gives the model back too. */
    json_t *bad = load("{\"model\": %s, \"dt\": -1, \"inputs\": {\"steps\": 4, "
                       "\"trials\": 1}}",
                       noisy_model);
    prepare_fails(bad, &cfg, EIR_PIPE_RUN, EIR_EINVAL, "/dt", NULL);
    assert_int_equal(fc.lent, 3);
    assert_int_equal(fc.released, 3);
    json_decref(bad);

    /* The cache does not take it: the pipeline keeps (and frees) its own build. */
    eir_model *kept = fc.model;
    eir_model_spec *kept_spec = fc.spec;
    fc.model = NULL;
    fc.spec = NULL;
    fc.refuse_keep = 1;
    p = prepare_ok(run, &cfg);
    assert_int_equal(fc.keeps, 2);
    assert_non_null(p->model);
    assert_ptr_not_equal(p->model, kept);
    eir_pipe_free(p);
    assert_int_equal(fc.released, 3); /* nothing lent */

    /* The lookup fails: so does the preparation, at the model stage, with its error. */
    fc.fail_lookup = 1;
    prepare_fails(run, &cfg, EIR_PIPE_MODEL, EIR_ENOMEM, "", "the cache failed");
    fc.fail_lookup = 0;

    /* A model beside the run, or a model_id, never goes through these hooks. */
    int lookups = fc.lookups, keeps = fc.keeps;
    json_t *mj = load("%s", quiet_model);
    cfg.model = mj;
    json_t *plain = load("{\"dt\": 0.1, \"inputs\": {\"steps\": 4, \"trials\": 1}}");
    p = prepare_ok(plain, &cfg);
    eir_pipe_free(p);
    assert_int_equal(fc.lookups, lookups);
    assert_int_equal(fc.keeps, keeps);
    json_decref(plain);
    json_decref(mj);

    free(first);
    json_decref(run);
    eir_model_free(kept);
    eir_model_spec_free(kept_spec);
}

static void test_model_beside_the_run(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    json_t *mj = load("%s", quiet_model);
    cfg.model = mj;
    /* The run names no model: the one beside it is used (and a model_id is not looked at). */
    json_t *run = load("{\"model_id\": \"ignored\", \"dt\": 0.1, \"inputs\": {\"steps\": 4, "
                       "\"trials\": 1}}");
    eir_pipe *p = prepare_ok(run, &cfg);
    assert_int_equal(eir_model_n(p->model), 10);
    eir_pipe_free(p);
    json_decref(run);
    /* Its errors point into the model document (no "/model" prefix). */
    json_t *bad = load("{\"class\": \"gated\", \"populations\": {\"E\": 8, \"I\": 2}, "
                       "\"n_inputs\": 0, \"activation\": {\"name\": \"relu\"}, \"leak\": -1, "
                       "\"recurrent\": {\"W\": 0, \"A\": 1}}");
    cfg.model = bad;
    run = load("{\"dt\": 0.1, \"inputs\": {\"steps\": 4, \"trials\": 1}}");
    prepare_fails(run, &cfg, EIR_PIPE_MODEL, EIR_EINVAL, "/leak", NULL);
    json_decref(run);
    /* A model inline too is refused. */
    cfg.model = mj;
    run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 4, \"trials\": 1}}",
               quiet_model);
    prepare_fails(run, &cfg, EIR_PIPE_REFERENCE, EIR_EINVAL, "/model", "give one");
    json_decref(run);
    json_decref(bad);
    json_decref(mj);
}

static void test_reference_and_model_errors(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    json_t *run = load("{\"dt\": 0.1, \"inputs\": {\"steps\": 4, \"trials\": 1}}");
    prepare_fails(run, &cfg, EIR_PIPE_REFERENCE, EIR_EINVAL, "/model_id", "missing");
    json_decref(run);
    run = load("{\"model\": {\"class\": \"gated\"}, \"dt\": 0.1, \"inputs\": {\"steps\": 4, "
               "\"trials\": 1}}");
    eir_pipe *p = (eir_pipe *)1;
    eir_pipe_stage at;
    eir_error err;
    assert_int_equal(eir_pipe_prepare(run, &cfg, &p, &at, &err), EIR_EINVAL);
    assert_null(p);
    assert_int_equal(at, EIR_PIPE_MODEL);
    assert_true(strncmp(err.field, "/model/", 7) == 0);
    json_decref(run);
}

static void test_seed_and_threads(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    /* A noisy run without a seed gets one (below 2^63); two runs get different ones. */
    json_t *run = load("{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 4, \"trials\": 1}}",
                       noisy_model);
    eir_pipe *p = prepare_ok(run, &cfg), *q = prepare_ok(run, &cfg);
    assert_int_equal(p->seed_picked, 1);
    assert_int_equal(p->seed_used, 1);
    assert_true(p->run->seed <= (uint64_t)INT64_MAX);
    assert_true(p->run->seed != q->run->seed);
    eir_pipe_free(p);
    eir_pipe_free(q);
    /* Threads: as configured, or the default (at most one per trial), or refused. */
    cfg.threads = 3;
    p = prepare_ok(run, &cfg);
    assert_int_equal(p->run->threads, 3);
    eir_pipe_free(p);
    cfg.threads = 0;
    p = prepare_ok(run, &cfg);
    assert_int_equal(p->run->threads, eir_pipe_default_threads(1));
    assert_int_equal(p->run->threads, 1); /* one trial */
    eir_pipe_free(p);
    assert_true(eir_pipe_default_threads(1000) >= 1);
    assert_true(eir_pipe_default_threads(1000) <= EIR_PIPE_MAX_THREADS);
    cfg.threads = EIR_PIPE_MAX_THREADS + 1;
    prepare_fails(run, &cfg, EIR_PIPE_REFERENCE, EIR_EINVAL, "/threads", "1 to 256");
    json_decref(run);
}

/* ---- stopped runs ------------------------------------------------------------------------ */

typedef struct stopper {
    int64_t at; /**< stop once this many steps are done */
    int calls;
} stopper;

static int stop_at(void *ctx, int64_t done, int64_t total)
{
    stopper *s = ctx;
    (void)total;
    s->calls++;
    return done >= s->at;
}

/** Run @p text to the end and return its V output (malloc'ed copy, @p bytes set). */
static void *complete_run(const json_t *run, const eir_pipe_config *cfg, size_t *bytes)
{
    eir_pipe *p = prepare_ok(run, cfg);
    eir_error err;
    assert_int_equal(eir_pipe_run(p, NULL, NULL, &err), EIR_OK);
    assert_int_equal(p->truncated, 0);
    *bytes = p->out[0].bytes;
    void *copy = malloc(*bytes ? *bytes : 1);
    assert_non_null(copy);
    memcpy(copy, p->out[0].data, *bytes);
    eir_pipe_free(p);
    return copy;
}

static void check_stop(const char *precision, int threads)
{
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    cfg.threads = threads;
    json_t *run = load("{\"model\": %s, \"dt\": 0.01, \"precision\": \"%s\", \"inputs\": "
                       "{\"steps\": 2000000, \"trials\": 3}, \"record\": {\"vars\": [\"V\"], "
                       "\"every\": 7, \"neurons\": [0, 5, 19]}, \"seed\": 9}",
                       noisy_model, precision);
    eir_pipe *p = prepare_ok(run, &cfg);
    stopper s = {.at = 5000};
    eir_error err;
    assert_int_equal(eir_pipe_run(p, stop_at, &s, &err), EIR_ECANCELLED);
    assert_true(s.calls > 0);
    int64_t done = p->result.steps_done, rows = done / 7;
    assert_true(done >= 5000 && done < 2000000);
    assert_int_equal(p->result.rows_written, rows);
    assert_int_equal(p->truncated, 1);
    assert_int_equal(p->nout, 1);
    assert_int_equal(p->out[0].shape[0], 3);
    assert_int_equal(p->out[0].shape[1], rows);
    assert_int_equal(p->out[0].shape[2], 3);
    size_t el = strcmp(precision, "float32") == 0 ? 4 : 8;
    assert_int_equal(p->out[0].bytes, (size_t)(3 * rows * 3) * el);
    json_t *meta = eir_pipe_meta(p);
    assert_string_equal(json_string_value(json_object_get(meta, "status")), "cancelled");
    assert_true(json_is_true(mget(meta, "summary", "truncated")));
    assert_int_equal(json_integer_value(mget(meta, "summary", "rows_written")), rows);
    json_t *shape = mget(mget(meta, "outputs", "V"), "shape", NULL);
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), 3);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), rows);
    assert_int_equal(json_integer_value(json_array_get(shape, 2)), 3);
    json_decref(meta);

    /* The rows kept, trial by trial, are those of a complete run of rows * every steps. */
    json_t *full = json_deep_copy(run);
    json_object_set_new(json_object_get(full, "inputs"), "steps", json_integer(rows * 7));
    size_t want_bytes;
    void *want = complete_run(full, &cfg, &want_bytes);
    assert_int_equal(want_bytes, p->out[0].bytes);
    assert_memory_equal(want, p->out[0].data, want_bytes);
    free(want);
    json_decref(full);
    eir_pipe_free(p);
    json_decref(run);
}

static void test_stopped_run_keeps_rows_done(void **state)
{
    (void)state;
    check_stop("float64", 1);
    check_stop("float32", 1);
    check_stop("float64", 2);
}

static void test_diverged_run_keeps_its_shape(void **state)
{
    (void)state;
    eir_json_limits lim;
    eir_pipe_config cfg;
    config(&cfg, &lim);
    json_t *run = load("{\"model\": {\"class\": \"rnn\", \"populations\": {\"E\": 2, \"I\": 0}, "
                       "\"n_inputs\": 0, \"activation\": {\"name\": \"linear\"}, \"leak\": 1, "
                       "\"bias\": 1, \"recurrent\": {\"W\": [[0, 10], [10, 0]]}}, \"dt\": 0.1, "
                       "\"inputs\": {\"steps\": 20000, \"trials\": 1}}");
    eir_pipe *p = prepare_ok(run, &cfg);
    eir_error err;
    assert_int_equal(eir_pipe_run(p, NULL, NULL, &err), EIR_OK);
    assert_int_equal(p->result.diverged, 1);
    assert_int_equal(p->truncated, 0);
    assert_int_equal(p->out[0].shape[1], 20000);
    const double *v = p->out[0].data;
    assert_true(isnan(v[2 * 20000 - 1]));
    json_t *meta = eir_pipe_meta(p);
    assert_string_equal(json_string_value(json_object_get(meta, "status")), "diverged");
    assert_true(json_is_false(mget(meta, "summary", "truncated")));
    json_decref(meta);
    eir_pipe_free(p);
    json_decref(run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_run_outputs_and_meta),
        cmocka_unit_test(test_model_id_through_the_resolver),
        cmocka_unit_test(test_model_beside_the_run),
        cmocka_unit_test(test_inline_model_through_the_cache),
        cmocka_unit_test(test_reference_and_model_errors),
        cmocka_unit_test(test_seed_and_threads),
        cmocka_unit_test(test_stopped_run_keeps_rows_done),
        cmocka_unit_test(test_diverged_run_keeps_its_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
