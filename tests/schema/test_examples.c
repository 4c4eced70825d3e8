/**
 * @file test_examples.c
 * @brief The example documents of schema/examples/ through the C parser, so that the JSON
 *        Schemas (checked against the same files by schema/validate.sh) and the parser agree.
 *
 * schema/examples/manifest.json lists every example: documents under requests/ must parse,
 * build and run; documents under invalid/ must be rejected with an error naming exactly the
 * field the manifest gives. A run that refers to a stored model by "model_id" is parsed against
 * the model file the manifest names. Pairs marked "same_as" must give the same model (hash) or
 * the same run (inputs, V0, record). A sweep request must parse (eir_json_parse_sweep()), and every
 * point's model (the base model patched along the model axes) must build and its run (the base
 * run patched along the run axes, with the sweep's metrics) parse and run against it. A training
 * document must parse (eir_json_parse_training()), and its model (inline, or the manifest's file
 * for a model id) must build and fit its task (eir_training_check_model()).
 * One cmocka test per example, named by its file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"
#include "eir_json.h"
#include "eir_json_training.h"

#define EXAMPLES "schema/examples"

/** One manifest entry (borrowed from the manifest, which lives for the whole program). */
typedef struct example {
    const char *file;    /**< relative to schema/examples */
    const char *kind;    /**< "model", "run", "sweep" or "training" */
    const char *model;   /**< runs, sweeps, trainings: the model file a model id stands for */
    const char *same_as; /**< a document that must parse to the same thing, or NULL */
    const char *field;   /**< invalid: the pointer the error must name */
    const char *verdict; /**< invalid: "reject" or "accept" (the schema's verdict) */
    int invalid;         /**< listed under "invalid" */
} example;

static json_t *g_manifest;

static json_t *load(const char *rel)
{
    char path[1024];
    json_error_t je;
    snprintf(path, sizeof path, "%s/%s/%s", EIR_SOURCE_DIR, EXAMPLES, rel);
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        print_error("cannot load %s: line %d: %s\n", path, je.line, je.text);
        fail();
    }
    return j;
}

/** Fail with the parser's message unless @p rc is EIR_OK. */
static void expect_ok(eir_status rc, const eir_error *e, const char *file, const char *what)
{
    if (rc == EIR_OK) return;
    print_error("%s: %s failed (status %d): field \"%s\": %s\n", file, what, (int)rc, e->field,
                e->message);
    fail();
}

/** Build the model of @p file (a model document). */
static eir_model *build_model_file(const char *file, eir_model_spec **spec)
{
    json_t *j = load(file);
    eir_model *m = NULL;
    eir_error e;
    eir_error_clear(&e);
    expect_ok(eir_json_build_model(j, NULL, "", &m, spec, &e), &e, file, "building the model");
    json_decref(j);
    return m;
}

/**
 * The model a run document refers to: its inline "model" (built with prefix "/model"), or the
 * manifest's model file for a "model_id". Returns the status of the first failing step with
 * @p e filled, EIR_OK with *out set otherwise.
 */
static eir_status run_model(const example *x, const json_t *run, eir_model **out, eir_error *e)
{
    const char *id = NULL;
    const json_t *inl = NULL;
    *out = NULL;
    eir_status rc = eir_json_run_model_ref(run, &id, &inl, e);
    if (rc) return rc;
    if (inl) return eir_json_build_model(inl, NULL, "/model", out, NULL, e);
    if (!x->model) {
        print_error("%s: the run names model_id \"%s\" but the manifest gives no \"model\" file\n",
                    x->file, id);
        fail();
    }
    eir_model_spec *spec = NULL;
    *out = build_model_file(x->model, &spec);
    eir_model_spec_free(spec);
    return EIR_OK;
}

/**
 * Parse training document @p j, build its model (inline under "/model", or the manifest's model
 * file for a model id) and check it against the task. Returns the first failing step's status
 * with @p e filled.
 */
static eir_status training_check(const example *x, const json_t *j, eir_error *e)
{
    eir_training_req *r = NULL;
    eir_model_spec *spec = NULL;
    eir_model *m = NULL;
    eir_status rc = eir_json_parse_training(j, NULL, &r, e);
    if (rc) return rc;
    if (r->model) {
        rc = eir_json_build_model(r->model, NULL, "/model", &m, &spec, e);
    } else if (!x->model) {
        print_error("%s: the training names model %s but the manifest gives no \"model\" file\n",
                    x->file, r->model_id);
        fail();
    } else {
        m = build_model_file(x->model, &spec);
    }
    if (rc == EIR_OK) rc = eir_training_check_model(r, &spec->desc, NULL, e);
    eir_model_free(m);
    eir_model_spec_free(spec);
    eir_training_req_free(r);
    return rc;
}

/** Run @p r on @p m into fresh buffers; the run must complete without diverging. */
static void simulate(const char *file, const eir_model *m, eir_run_spec *r)
{
    eir_run_desc *d = &r->desc;
    eir_run_result res;
    eir_error e;
    size_t item = d->precision == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++) {
        d->out[v] = NULL;
        if (!(d->record_mask & (1u << v))) continue;
        size_t n = eir_run_out_len(m, d, (eir_var)v);
        d->out[v] = malloc((n ? n : 1) * item);
        assert_non_null(d->out[v]);
    }
    eir_stats *st = NULL; /* a run with "metrics": the caller gives the statistics their place */
    if (d->stats_req) {
        st = eir_stats_new(d->stats_req, d->B);
        assert_non_null(st);
        d->stats = st;
    }
    eir_error_clear(&e);
    expect_ok(eir_run(m, d, &res, &e), &e, file, "simulating");
    if (st) assert_int_equal(st->steps, d->T);
    eir_stats_free(st);
    d->stats = NULL;
    if (res.diverged) {
        print_error("%s: diverged at step %lld: an example should not\n", file,
                    (long long)res.diverged_step);
        fail();
    }
    assert_int_equal(res.steps_done, d->T);
    for (int v = 0; v < EIR_NVARS; v++) {
        free(d->out[v]);
        d->out[v] = NULL;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Accepted documents                                                                        */
/* ---------------------------------------------------------------------------------------- */

static void same_model(const char *file, const char *other)
{
    eir_model_spec *sa = NULL, *sb = NULL;
    eir_model *a = build_model_file(file, &sa), *b = build_model_file(other, &sb);
    char ha[65], hb[65];
    eir_model_hash(a, ha);
    eir_model_hash(b, hb);
    if (strcmp(ha, hb) != 0) {
        print_error("%s and %s should build the same model: hashes %s and %s\n", file, other, ha,
                    hb);
        fail();
    }
    eir_model_free(a);
    eir_model_free(b);
    eir_model_spec_free(sa);
    eir_model_spec_free(sb);
}

static eir_run_spec *parse_run_file(const example *x, const char *file, eir_model **m)
{
    json_t *j = load(file);
    eir_run_spec *r = NULL;
    eir_error e;
    eir_error_clear(&e);
    expect_ok(run_model(x, j, m, &e), &e, file, "resolving the run's model");
    expect_ok(eir_json_parse_run(j, *m, NULL, &r, &e), &e, file, "parsing the run");
    json_decref(j);
    return r;
}

static void assert_doubles_equal(const char *what, const double *a, const double *b, size_t n)
{
    if ((a == NULL) != (b == NULL)) {
        print_error("%s: given in one document only\n", what);
        fail();
    }
    for (size_t i = 0; a && i < n; i++) {
        if (a[i] != b[i]) {
            print_error("%s differ at flat index %zu: %.17g and %.17g\n", what, i, a[i], b[i]);
            fail();
        }
    }
}

static void same_run(const example *x)
{
    eir_model *ma = NULL, *mb = NULL;
    eir_run_spec *a = parse_run_file(x, x->file, &ma);
    eir_run_spec *b = parse_run_file(x, x->same_as, &mb);
    const eir_run_desc *da = &a->desc, *db = &b->desc;
    assert_int_equal(da->B, db->B);
    assert_int_equal(da->T, db->T);
    assert_int_equal(da->integrator, db->integrator);
    assert_int_equal(da->precision, db->precision);
    assert_true(da->dt == db->dt);
    assert_int_equal(da->record_mask, db->record_mask);
    assert_int_equal(da->record_every, db->record_every);
    assert_int_equal(da->n_neurons, db->n_neurons);
    for (int i = 0; i < da->n_neurons; i++)
        assert_int_equal(da->neurons[i], db->neurons[i]);
    assert_int_equal(da->V0_len, db->V0_len);
    assert_int_equal(da->seed, db->seed);
    assert_doubles_equal("inputs", da->inputs, db->inputs,
                         (size_t)da->B * (size_t)da->T * (size_t)eir_model_n_in(ma));
    assert_doubles_equal("V0", da->V0, db->V0, (size_t)da->V0_len);
    eir_run_spec_free(a);
    eir_run_spec_free(b);
    eir_model_free(ma);
    eir_model_free(mb);
}

/* Point @p i of sweep @p s: its model (patched base @p model) built, its run parsed and run. */
static void sweep_point(const example *x, const eir_sweep_spec *s, const json_t *model, int64_t i)
{
    int64_t idx[EIR_SWEEP_MAX_AXES];
    eir_error e;
    eir_error_clear(&e);
    eir_sweep_point_index(s, i, idx);
    json_t *m = json_incref((json_t *)model), *r = json_incref((json_t *)s->run);
    for (int a = 0; a < s->n_axes; a++) {
        int on_model = strncmp(s->paths[a], "/model/", 7) == 0;
        json_t *doc = on_model ? m : r;
        json_t *v = json_array_get(s->values[a], (size_t)idx[a]);
        json_t *next = eir_json_patch_pointer(doc, s->paths[a] + (on_model ? 6 : 4), v, &e);
        if (!next) {
            print_error("%s: point %lld: %s\n", x->file, (long long)i, e.message);
            fail();
        }
        json_decref(doc);
        *(on_model ? &m : &r) = next;
    }
    if (s->metrics) {
        json_t *next = eir_json_patch_pointer(r, "/metrics", (json_t *)s->metrics, &e);
        assert_non_null(next);
        json_decref(r);
        r = next;
    }
    eir_model *built = NULL;
    eir_run_spec *rs = NULL;
    expect_ok(eir_json_build_model(m, NULL, "/model", &built, NULL, &e), &e, x->file,
              "building a point's model");
    expect_ok(eir_json_parse_run(r, built, NULL, &rs, &e), &e, x->file, "parsing a point's run");
    assert_int_equal(rs->has_metrics, s->metrics != NULL);
    simulate(x->file, built, rs);
    eir_run_spec_free(rs);
    eir_model_free(built);
    json_decref(m);
    json_decref(r);
}

static void accepted_sweep(const example *x)
{
    json_t *j = load(x->file);
    eir_sweep_spec s;
    eir_error e;
    eir_error_clear(&e);
    expect_ok(eir_json_parse_sweep(j, 0, &s, &e), &e, x->file, "parsing the sweep");
    json_t *model = s.model ? json_incref((json_t *)s.model) : NULL;
    if (!model) {
        if (!x->model) {
            print_error("%s: the sweep names model_id but the manifest gives no \"model\"\n",
                        x->file);
            fail();
        }
        model = load(x->model);
    }
    for (int64_t i = 0; i < s.points; i++)
        sweep_point(x, &s, model, i);
    json_decref(model);
    json_decref(j);
}

static void test_accepted(void **state)
{
    const example *x = *state;
    if (strcmp(x->kind, "sweep") == 0) {
        accepted_sweep(x);
        return;
    }
    if (strcmp(x->kind, "training") == 0) {
        eir_error e;
        json_t *j = load(x->file);
        eir_error_clear(&e);
        expect_ok(training_check(x, j, &e), &e, x->file, "checking the training");
        json_decref(j);
        return;
    }
    if (strcmp(x->kind, "model") == 0) {
        eir_model_spec *spec = NULL;
        eir_model *m = build_model_file(x->file, &spec);
        assert_non_null(m);
        eir_model_free(m);
        eir_model_spec_free(spec);
        if (x->same_as) same_model(x->file, x->same_as);
        return;
    }
    eir_model *m = NULL;
    eir_run_spec *r = parse_run_file(x, x->file, &m);
    simulate(x->file, m, r);
    eir_run_spec_free(r);
    eir_model_free(m);
    if (x->same_as) same_run(x);
}

/* ---------------------------------------------------------------------------------------- */
/* Rejected documents                                                                        */
/* ---------------------------------------------------------------------------------------- */

static void test_rejected(void **state)
{
    const example *x = *state;
    json_t *j = load(x->file);
    eir_error e;
    eir_status rc;
    eir_model *m = NULL;
    eir_error_clear(&e);
    if (strcmp(x->kind, "model") == 0) {
        rc = eir_json_build_model(j, NULL, "", &m, NULL, &e);
    } else if (strcmp(x->kind, "sweep") == 0) {
        eir_sweep_spec s;
        rc = eir_json_parse_sweep(j, 0, &s, &e);
    } else if (strcmp(x->kind, "training") == 0) {
        rc = training_check(x, j, &e);
    } else {
        rc = run_model(x, j, &m, &e);
        if (rc == EIR_OK) {
            eir_run_spec *r = NULL;
            rc = eir_json_parse_run(j, m, NULL, &r, &e);
            eir_run_spec_free(r);
        }
    }
    eir_model_free(m);
    json_decref(j);
    if (rc != EIR_EINVAL) {
        print_error("%s: expected the parser to reject it (EIR_EINVAL at %s), got status %d\n",
                    x->file, x->field, (int)rc);
        fail();
    }
    if (strcmp(e.field, x->field) != 0) {
        print_error("%s: expected the error to name %s, got \"%s\": %s\n", x->file, x->field,
                    e.field, e.message);
        fail();
    }
    if (e.message[0] == '\0') {
        print_error("%s: the error at %s has no message\n", x->file, x->field);
        fail();
    }
}

/* ---------------------------------------------------------------------------------------- */
/* What particular examples must show                                                         */
/* ---------------------------------------------------------------------------------------- */

/* E_I = 0: the I columns of W are zero while they still raise z (M = K). */
static void test_shunting_example(void **state)
{
    (void)state;
    eir_model_spec *spec = NULL;
    eir_model *m = build_model_file("requests/model_conductance_shunting.json", &spec);
    int n = eir_model_n(m), n_e = eir_model_n_e(m);
    const double *W = eir_model_W(m);
    double *M = malloc((size_t)n * n * sizeof *M);
    assert_non_null(M);
    eir_model_M(m, M);
    double i_cols_m = 0;
    for (int i = 0; i < n; i++) {
        for (int j = n_e; j < n; j++) {
            assert_true(W[i * n + j] == 0.0);
            i_cols_m += M[i * n + j];
        }
    }
    assert_true(i_cols_m > 0);
    free(M);
    eir_model_free(m);
    eir_model_spec_free(spec);
}

/* dale "project" clips the two violations of model_dale.json. */
static void test_dale_example(void **state)
{
    (void)state;
    eir_model_spec *spec = NULL;
    eir_model *m = build_model_file("requests/model_dale.json", &spec);
    assert_int_equal(eir_model_class(m), EIR_CLASS_DALE);
    assert_int_equal(eir_model_projected(m), 2);
    eir_model_free(m);
    eir_model_spec_free(spec);
}

/* The generated examples keep their recipes' seeds. */
static void test_generated_example(void **state)
{
    (void)state;
    eir_model_spec *spec = NULL;
    eir_model *m = build_model_file("requests/model_generated.json", &spec);
    assert_int_equal(eir_model_n(m), 400);
    assert_true(spec->generated);
    assert_int_equal(spec->gen.seed, 42);
    assert_true(spec->input_generated);
    assert_int_equal(spec->input_gen.seed, 43);
    eir_model_free(m);
    eir_model_spec_free(spec);
}

/* Every .json under requests/ and invalid/ is in the manifest (validate.sh checks it too). */
static void test_manifest_complete(void **state)
{
    (void)state;
    static const char *const dirs[] = {"requests", "invalid"};
    for (int d = 0; d < 2; d++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/%s", EIR_SOURCE_DIR, EXAMPLES, dirs[d]);
        DIR *dir = opendir(path);
        assert_non_null(dir);
        struct dirent *de;
        while ((de = readdir(dir))) {
            size_t len = strlen(de->d_name);
            if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
            char rel[600];
            snprintf(rel, sizeof rel, "%s/%s", dirs[d], de->d_name);
            int found = 0;
            for (int s = 0; s < 2 && !found; s++) {
                json_t *list = json_object_get(g_manifest, s ? "invalid" : "requests");
                size_t i;
                json_t *e;
                json_array_foreach(list, i, e)
                {
                    if (strcmp(json_string_value(json_object_get(e, "file")), rel) == 0) found = 1;
                }
            }
            if (!found) {
                print_error("%s/%s is not listed in manifest.json\n", EXAMPLES, rel);
                fail();
            }
        }
        closedir(dir);
    }
}

/* ---------------------------------------------------------------------------------------- */

static const char *str_member(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int main(void)
{
    json_error_t je;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/manifest.json", EIR_SOURCE_DIR, EXAMPLES);
    g_manifest = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!g_manifest) {
        fprintf(stderr, "cannot load %s: line %d: %s\n", path, je.line, je.text);
        return 1;
    }
    json_t *req = json_object_get(g_manifest, "requests");
    json_t *inv = json_object_get(g_manifest, "invalid");
    size_t n_req = json_array_size(req), n_inv = json_array_size(inv);
    size_t n = n_req + n_inv;
    example *xs = calloc(n ? n : 1, sizeof *xs);
    struct CMUnitTest *tests = calloc(n + 4, sizeof *tests);
    if (!xs || !tests || n == 0) {
        fprintf(stderr, "%s: no examples listed (or out of memory)\n", path);
        return 1;
    }
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        int invalid = i >= n_req;
        const json_t *e = json_array_get(invalid ? inv : req, invalid ? i - n_req : i);
        example *x = &xs[i];
        x->file = str_member(e, "file");
        x->kind = str_member(e, "kind");
        x->model = str_member(e, "model");
        x->same_as = str_member(e, "same_as");
        x->field = str_member(e, "field");
        x->verdict = str_member(e, "schema");
        x->invalid = invalid;
        if (!x->file || !x->kind ||
            (strcmp(x->kind, "model") && strcmp(x->kind, "run") && strcmp(x->kind, "sweep") &&
             strcmp(x->kind, "training")) ||
            (invalid && !x->field)) {
            fprintf(stderr, "%s: entry %zu lacks file, kind (model|run|sweep|training) or field\n",
                    path, i);
            return 1;
        }
        tests[t++] =
            (struct CMUnitTest){x->file, invalid ? test_rejected : test_accepted, NULL, NULL, x};
    }
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_shunting_example);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_dale_example);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_generated_example);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_manifest_complete);
    int rc = _cmocka_run_group_tests("schema_examples", tests, t, NULL, NULL);
    free(tests);
    free(xs);
    json_decref(g_manifest);
    return rc;
}
